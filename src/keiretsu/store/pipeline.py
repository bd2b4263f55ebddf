"""Read documents in a second process while this one writes the store.

Parsing, validating and mapping a document is pure-Python work; writing it into DuckDB is the
other half of an ingest. On a machine with two or more cores the two halves overlap: a reader
process turns documents into :class:`~keiretsu.model.Ocel` batches and hands them through a
pipe to the store's process, which writes them. Nothing about the guarantees changes: a
document is still stored in one transaction that commits only after its reader has finished
without a refusal, and a refusal found by the reader reaches the writer whole (the same
:class:`~keiretsu.model.DocumentError`, the same problems).

One mechanism, :class:`ReaderProcess`, serves both uses:

* a large file given to :meth:`Store.ingest_file <keiretsu.store.Store.ingest_file>` is read by
  a process of its own, batch by batch, with a few batches read ahead at most
  (:func:`read_in_subprocess`: memory stays bounded however large the file);
* a node keeps one reader process for its captures (:class:`keiretsu.node.runtime.CaptureReader`)
  and hands it document after document (:meth:`ReaderProcess.submit`), so it parses the next
  captures while the writer stores the last ones.

Either way, if the writing process dies (even by SIGKILL), the reader notices within a second
that its parent is gone and exits; if the reader dies, the writer gets an error and rolls back.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import importlib.abc
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, InvalidStateError
from pathlib import Path
from typing import IO, Any

from keiretsu.model import DocumentError, Ocel

__all__ = [
    "PARALLEL_MIN_BYTES",
    "ReaderProcess",
    "parallel_worthwhile",
    "read_in_subprocess",
]

PARALLEL_MIN_BYTES = 8 * 2**20
"""Files under 8 MiB are read in-process: starting a reader costs more than it saves."""

_HEADER = struct.Struct("<Q")
_READ_AHEAD = 3
"""Batches read ahead of the writer (each a few MB)."""
_GC_YOUNG = 100_000
"""The reader process's first garbage-collector threshold (Python's default: 700 objects)."""

Read = Callable[..., Iterable[Ocel]]
"""What reads one document: a module-level function (it is sent to the reader process by
name) called with the job's arguments, yielding the document's batches."""


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


def _portable(exc: Exception) -> Exception:
    """``exc`` if it survives the pipe, else a RuntimeError that says what it was."""
    try:
        pickle.loads(pickle.dumps(exc, protocol=5))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _watch_parent(parent: int) -> None:
    """End this process as soon as the process that started it is gone (killed with
    SIGKILL, say), even in the middle of a document: no reader outlives its writer."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="keiretsu-parent-watch", daemon=True).start()


class _NoPandas(importlib.abc.MetaPathFinder):
    """An import finder for the reader process: ``import pandas`` fails there, as if it were
    not installed (see :func:`reader_main`)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> None:
        if fullname == "pandas" or fullname.startswith("pandas."):
            raise ModuleNotFoundError(f"no {fullname} in the reader process", name=fullname)


def reader_main() -> None:
    """The reader process (``python -m keiretsu.store.pipeline``): read jobs from stdin, one
    after the other — ``(read, args)`` — and stream each one's batches to the pipe, ending
    with ``("done",)``, ``("refused", error)`` or ``("failed", error)``. It ends when stdin
    closes (the writer is done with it, or died), when a write finds the pipe closed, or when
    its parent is gone."""
    _watch_parent(os.getppid())
    # Nothing this process does needs pandas, but Arrow imports it (when installed) on the
    # first list it converts, to ask whether the list is a pandas object: 0.25-0.9 s at every
    # reader's start. Told it is absent, Arrow never imports it here.
    if "pandas" not in sys.modules:
        sys.meta_path.insert(0, _NoPandas())
    # The pipe is this process's own: anything printed by a library goes to stderr instead.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    jobs = sys.stdin.buffer
    # This process only reads. What is loaded by now (the modules) lives as long as it does, and
    # what reading makes is freed by reference counting: the cyclic collector need not walk the
    # modules, nor the batch being built (lists of millions of rows) every few hundred events.
    gc.freeze()
    gc.set_threshold(_GC_YOUNG, 50, 1000)
    try:
        while True:
            try:
                job = _receive(jobs)
            except Exception:  # an unreadable job: the writer is gone or broken
                return
            if job is None:
                return
            read, args = job
            try:
                for batch in read(*args):
                    _send(out, ("batch", batch))
                _send(out, ("done",))
            except DocumentError as exc:
                _send(out, ("refused", exc))
            except BrokenPipeError:
                return
            except Exception as exc:  # a bug or an I/O error: report it, the writer rolls back
                _send(out, ("failed", _portable(exc)))
    except BrokenPipeError:
        return


class _Job:
    """Where one job's batches go as they arrive: a bounded queue (streamed) or a list
    (collected whole, then the future is set)."""

    def __init__(self, *, stream: bool) -> None:
        self.queue: queue.Queue[Any] | None = queue.Queue(maxsize=_READ_AHEAD) if stream else None
        self.batches: list[Ocel] = []
        self.future: Future[list[Ocel]] = Future()
        self.future.set_running_or_notify_cancel()

    def put(self, item: Any, stop: threading.Event) -> None:
        """Hand on ``item`` (a message, or None: the reader ended); waits while a streamed
        job's read-ahead is full, which holds the reader back through the pipe."""
        if self.queue is not None:
            while not stop.is_set():
                try:
                    self.queue.put(item, timeout=0.2)
                    return
                except queue.Full:
                    continue
            return
        if item is not None and item[0] == "batch":
            self.batches.append(item[1])
        elif item is not None and item[0] == "done":
            self.settle(result=self.batches)
        elif item is not None:
            self.settle(error=item[1])

    def settle(
        self, *, result: list[Ocel] | None = None, error: BaseException | None = None
    ) -> None:
        """Set the future (once: the first of the reader's answer and :meth:`close` wins)."""
        with contextlib.suppress(InvalidStateError):
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result or [])


class ReaderProcess:
    """A second Python process that reads documents for this one, one job after the other.

    Started on first use. :meth:`stream` yields one document's batches as they are read (a
    few ahead at most); :meth:`submit` hands a document over and returns a future of all its
    batches at once, so several documents can be queued while earlier ones are written.
    ``read`` must be a module-level function (it is sent to the reader by name). A refusal
    comes back as the reader raised it; a reader that dies fails every job still open with
    :class:`RuntimeError`, and so does every later one."""

    def __init__(self, name: str = "reader") -> None:
        self.name = name
        self._proc: subprocess.Popen[bytes] | None = None
        self._jobs: collections.deque[_Job] = collections.deque()
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._dead: str | None = None
        self._drainer: threading.Thread | None = None

    def _start(self) -> subprocess.Popen[bytes]:
        """The reader process, started if need be (under the lock)."""
        if self._dead is not None:
            raise RuntimeError(self._dead)
        if self._proc is None:
            proc = subprocess.Popen(
                [sys.executable, "-m", "keiretsu.store.pipeline"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                bufsize=1 << 20,
            )
            self._proc = proc
            # A thread drains the pipe into the jobs, so the reader goes on parsing while this
            # process writes (without it the two would take turns: a pipe holds 64 KiB).
            self._drainer = threading.Thread(
                target=self._drain, args=(proc,), name=f"keiretsu-drain:{self.name}", daemon=True
            )
            self._drainer.start()
        return self._proc

    def _drain(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        while not self._stop.is_set():
            try:
                item = _receive(proc.stdout)
            except (OSError, ValueError, pickle.UnpicklingError):
                item = None
            code = None
            if item is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    code = proc.wait(timeout=5)
            with self._lock:
                job = self._jobs[0] if self._jobs else None
                if item is None:
                    if self._dead is None:
                        self._dead = (
                            f"the reader process for {self.name} ended without finishing"
                            f" (exit code {code})"
                        )
                    ending = list(self._jobs)
                    self._jobs.clear()
                elif item[0] != "batch":
                    self._jobs.popleft()
            if item is None:
                for open_job in ending:
                    if open_job.queue is None:
                        open_job.settle(error=RuntimeError(self._dead))
                    else:
                        open_job.put(None, self._stop)
                return
            if job is not None:
                job.put(item, self._stop)

    def _enqueue(self, read: Read, args: tuple[Any, ...], *, stream: bool) -> _Job:
        job = _Job(stream=stream)
        # Jobs are sent in the order they are queued (the reader answers in that order), but
        # never under the lock the drain thread takes: a reader blocked on a full pipe must
        # always be drained, even while a job waits for room on the reader's stdin.
        with self._send_lock:
            with self._lock:
                proc = self._start()
                assert proc.stdin is not None
                self._jobs.append(job)
            try:
                _send(proc.stdin, (read, args))
            except (OSError, ValueError) as exc:
                with self._lock:
                    if job in self._jobs:
                        self._jobs.remove(job)
                    self._dead = f"the reader process for {self.name} cannot take jobs: {exc}"
                raise RuntimeError(self._dead) from exc
        return job

    def submit(self, read: Read, *args: Any) -> Future[list[Ocel]]:
        """Queue ``read(*args)`` in the reader; the future holds all its batches, or the
        refusal (:class:`DocumentError`) or failure it raised. Raises :class:`RuntimeError`
        (or :class:`OSError`) when no reader process can be had."""
        return self._enqueue(read, args, stream=False).future

    def stream(self, read: Read, *args: Any) -> Iterator[Ocel]:
        """The batches of ``read(*args)`` as the reader yields them. Raises what the reader
        raised (a :class:`DocumentError` exactly as it was found), or :class:`RuntimeError`
        if the reader fails or dies."""
        job = self._enqueue(read, args, stream=True)
        assert job.queue is not None
        while True:
            try:
                item = job.queue.get(timeout=0.5)
            except queue.Empty:
                if not self._stop.is_set():
                    continue
                item = None
            if item is None:
                raise RuntimeError(self._dead or f"the reader process for {self.name} ended")
            kind = item[0]
            if kind == "batch":
                yield item[1]
            elif kind == "done":
                return
            elif kind == "refused":
                raise item[1]
            else:
                error = item[1]
                raise RuntimeError(f"reading {self.name} failed: {type(error).__name__}: {error}")

    def close(self) -> None:
        """End the reader process (at once, whatever it is reading); jobs still open are
        cancelled."""
        with self._lock:
            self._stop.set()
            self._dead = self._dead or f"the reader process for {self.name} was closed"
            proc, self._proc = self._proc, None
            open_jobs = list(self._jobs)
            self._jobs.clear()
        for job in open_jobs:
            job.settle(error=RuntimeError(self._dead))
            if job.queue is not None:
                with contextlib.suppress(queue.Full):
                    job.queue.put_nowait(None)
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if self._drainer is not None and self._drainer.is_alive():
            self._drainer.join(timeout=5)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def __enter__(self) -> ReaderProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_file(fmt: str, path: str, options: dict[str, Any]) -> Iterator[Ocel]:
    """``path`` read by the reader of format ``fmt`` (in whichever process calls it)."""
    from keiretsu.io.detect import reader_for

    return reader_for(fmt)(Path(path), document=path, **options)


def read_in_subprocess(fmt: str, path: Path, options: dict[str, Any]) -> Iterator[Ocel]:
    """Batches of ``path`` read by ``fmt``'s reader in a process of its own.

    Raises :class:`DocumentError` exactly as the reader would, and ``RuntimeError`` if the
    reader process fails or dies. The pipe between the two holds a few batches at most, so
    memory stays bounded.
    """
    with ReaderProcess(str(path)) as reader:
        yield from reader.stream(read_file, fmt, str(path), options)


def _content_size(path: Path, size: int) -> int:
    """The bytes the reader will go through: for a gzip file, what it holds uncompressed
    (its trailer's ISIZE, the size modulo 4 GiB; the larger of that and the file's size)."""
    if size < 18 or not path.name.lower().endswith(".gz"):
        return size
    try:
        with path.open("rb") as fh:
            if fh.read(2) != b"\x1f\x8b":
                return size
            fh.seek(-4, os.SEEK_END)
            (isize,) = struct.unpack("<I", fh.read(4))
    except OSError:
        return size
    return max(size, int(isize))


def parallel_worthwhile(path: Path) -> bool:
    """Whether reading ``path`` in a second process pays off here (big file, several cores).
    A compressed file counts by its content: bpic2012.xes.gz is 3.3 MB on disk and 75 MB of
    XML to parse."""
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return _content_size(path, size) >= PARALLEL_MIN_BYTES and (os.cpu_count() or 1) >= 2


if __name__ == "__main__":
    reader_main()
    sys.stderr.flush()
    # End without tearing the interpreter down: with the frozen heap, extension modules would
    # report their objects as leaked on stderr (nanobind), and there is nothing left to clean.
    os._exit(0)
