"""Moved: GS1 identifiers live in :mod:`keiretsu.model.gs1` (keys, check digit, EPC URI ↔
GS1 Digital Link for every scheme of the EPC Tag Data Standard, the twin's canonical ids).

The names are still importable from here; importing this module warns (``DeprecationWarning``).
"""

from __future__ import annotations

import warnings

from keiretsu.model.gs1 import *  # noqa: F403

warnings.warn(
    "keiretsu.io.epcis.identifiers has moved to keiretsu.model.gs1",
    DeprecationWarning,
    stacklevel=2,
)
