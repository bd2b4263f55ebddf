"""keiretsu: a twin for every company of a value network.

The common names are here: :class:`Twin` (a node's twin, for notebooks and scripts),
:class:`Store` (its durable DuckDB store), :class:`Ocel` (the OCEL 2.0 event model as Arrow
tables) and :class:`DocumentError` (why a document was refused).
"""

from keiretsu.model import DocumentError, Ocel, OcelBuilder, Problem
from keiretsu.store import IngestReport, Store, StoreError, StoreSummary
from keiretsu.twin import Twin

__version__ = "0.1.0"

__all__ = [
    "DocumentError",
    "IngestReport",
    "Ocel",
    "OcelBuilder",
    "Problem",
    "Store",
    "StoreError",
    "StoreSummary",
    "Twin",
    "__version__",
]
