"""The node's durable store: one DuckDB file in OCEL 2.0 relational layout, with an ingest log.

A document is stored whole or not at all, and storing the same document twice stores its events
once.
"""

from keiretsu.store.node_store import IngestReport, Store, StoreError, StoreSummary

__all__ = ["IngestReport", "Store", "StoreError", "StoreSummary"]
