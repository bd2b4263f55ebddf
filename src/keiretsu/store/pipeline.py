"""Read a large file in a second process while this one writes the store.

Parsing, validating and mapping a document is pure-Python work; writing it into DuckDB is the
other half of an ingest. On a machine with two or more cores the two halves overlap: a reader
process streams :class:`~keiretsu.model.Ocel` batches through a bounded queue (so memory stays
bounded) and the store's process writes them in its one transaction. Nothing about the guarantees
changes: the transaction still commits only after the reader has finished without a refusal.

If the writing process dies (even by SIGKILL), the reader notices within a second that its parent
is gone and exits; if the reader dies, the writer gets an error and rolls back.
"""

from __future__ import annotations

import gc
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from keiretsu.model import DocumentError, Ocel, Problem

PARALLEL_MIN_BYTES = 8 * 2**20
"""Files under 8 MiB are read in-process: starting a reader costs more than it saves."""

_HEADER = struct.Struct("<Q")
_READ_AHEAD = 3
"""Batches read ahead of the writer (each a few MB)."""
_GC_YOUNG = 100_000
"""The reader process's first garbage-collector threshold (Python's default: 700 objects)."""


def _send(out: IO[bytes], item: object) -> None:
    data = pickle.dumps(item, protocol=5)
    out.write(_HEADER.pack(len(data)))
    out.write(data)
    out.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


def reader_main() -> None:
    """The reader process (``python -m keiretsu.store.pipeline``): read the job from stdin,
    stream batches to stdout, end with ``("done",)`` or the refusal. A writer that died closes
    the pipe, so the next write fails and this process ends."""
    from keiretsu.io.detect import reader_for

    # This process only reads. What is loaded by now (the modules) lives as long as it does, and
    # what reading makes is freed by reference counting: the cyclic collector need not walk the
    # modules, nor the batch being built (lists of millions of rows) every few hundred events.
    gc.freeze()
    gc.set_threshold(_GC_YOUNG, 50, 1000)
    job = pickle.loads(sys.stdin.buffer.read())
    out = sys.stdout.buffer
    try:
        for batch in reader_for(job["format"])(
            Path(job["path"]), document=job["path"], **job["options"]
        ):
            _send(out, ("batch", batch))
        _send(out, ("done",))
    except DocumentError as exc:
        _send(out, ("refused", exc.problems))
    except BrokenPipeError:
        pass
    except Exception as exc:  # a bug or an I/O error: report it, the writer rolls back
        _send(out, ("failed", f"{type(exc).__name__}: {exc}"))


def read_in_subprocess(fmt: str, path: Path, options: dict[str, Any]) -> Iterator[Ocel]:
    """Batches of ``path`` read by ``fmt``'s reader in a separate process.

    Raises :class:`DocumentError` exactly as the reader would, and ``RuntimeError`` if the
    reader process fails or dies. The pipe between the two holds a few batches at most, so
    memory stays bounded.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "keiretsu.store.pipeline"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        bufsize=1 << 20,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdout = proc.stdout
    # A thread drains the pipe into a small queue, so the reader goes on parsing while this
    # process writes a batch (without it the two would take turns: a pipe holds 64 KiB).
    ahead: queue.Queue[Any] = queue.Queue(maxsize=_READ_AHEAD)
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            try:
                item = _receive(stdout)
            except (OSError, ValueError, pickle.UnpicklingError):
                item = None
            while not stop.is_set():
                try:
                    ahead.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if item is None or item[0] != "batch":
                return

    drainer = threading.Thread(target=drain, name=f"keiretsu-drain:{path.name}", daemon=True)
    try:
        proc.stdin.write(pickle.dumps({"format": fmt, "path": str(path), "options": options}))
        proc.stdin.close()
        drainer.start()
        while True:
            item = ahead.get()
            if item is None:
                code = proc.wait()
                raise RuntimeError(
                    f"the reader process for {path} ended without finishing (exit code {code})"
                )
            kind = item[0]
            if kind == "batch":
                yield item[1]
            elif kind == "done":
                return
            elif kind == "refused":
                problems: list[Problem] = item[1]
                raise DocumentError(problems)
            else:
                raise RuntimeError(f"reading {path} failed: {item[1]}")
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if drainer.is_alive():
            drainer.join(timeout=5)
        stdout.close()


def parallel_worthwhile(path: Path) -> bool:
    """Whether reading ``path`` in a second process pays off here (big file, several cores)."""
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return size >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) >= 2


if __name__ == "__main__":
    reader_main()
    sys.stdout.flush()
    # End without tearing the interpreter down: with the frozen heap, extension modules would
    # report their objects as leaked on stderr (nanobind), and there is nothing left to clean.
    os._exit(0)
