"""Where a node's time goes, document by document: stage time stamps for the benches.

With ``KEIRETSU_STAGES`` naming a file, a node appends one JSON line per step it takes of a
capture (spooled, read, committed, partners told), of a push to a partner (woken, outbox read,
events read back, policy applied, encoded, signed, answered), of a push received (handler
entered, parsed, committed) and of a subscription notified (messages sent). Every line holds
wall-clock seconds (``time.time()``), so the lines of two nodes on one machine fall on one time
line: ``bench/node.py`` joins them into the stage breakdown of capture at A → visible at B.

Unset (the default), :func:`record` does nothing and costs one attribute test.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import orjson

__all__ = ["ENV", "enabled", "now", "record"]

ENV = "KEIRETSU_STAGES"
"""The environment variable naming the file stage lines are appended to."""

_path = os.environ.get(ENV) or None
_lock = threading.Lock()


def enabled() -> bool:
    """Whether stage lines are written (``KEIRETSU_STAGES`` set when the node started)."""
    return _path is not None


def now() -> float:
    """Wall-clock seconds since the epoch (one clock for every process on the machine)."""
    return time.time()


def record(kind: str, **fields: Any) -> None:
    """Append one line ``{"kind": kind, **fields}``; a no-op unless :func:`enabled`."""
    if _path is None:
        return
    line = orjson.dumps({"kind": kind, "pid": os.getpid(), **fields}) + b"\n"
    with _lock, open(_path, "ab") as out:  # a line per write: lines of threads never mix
        out.write(line)
