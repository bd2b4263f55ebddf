"""Reading a few rows of a large table by key, through the store's indexes: the store's
:func:`keiretsu.store.keyed.keyed`, which the queries' SQL is written with."""

from __future__ import annotations

from keiretsu.store.keyed import keyed

__all__ = ["keyed"]
