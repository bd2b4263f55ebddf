"""Moved: the CBV vocabulary lives in :mod:`keiretsu.model.cbv` (code lists, prefixes, event
types, the OCEL qualifiers of EPCIS relations, :func:`~keiretsu.model.cbv.term_problem`), the
identifier check in :func:`keiretsu.model.gs1.identifier_problem`.

The names are still importable from here; importing this module warns (``DeprecationWarning``).
"""

from __future__ import annotations

import warnings

from keiretsu.model.cbv import *  # noqa: F403
from keiretsu.model.gs1 import identifier_problem as identifier_problem

warnings.warn(
    "keiretsu.io.epcis.cbv has moved to keiretsu.model.cbv (identifier_problem to "
    "keiretsu.model.gs1)",
    DeprecationWarning,
    stacklevel=2,
)
