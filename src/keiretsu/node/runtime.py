"""A running node: its store, one writer, its capture jobs, and what it knows of its partners.

DuckDB lets one process write a file; inside that process every write here goes through one
thread (:class:`Writer`), in the order it was asked for, so a capture, a partner's push and the
outbox's bookkeeping never interleave inside a transaction. Reads (queries, views) run on their
own cursors beside it and see only committed, whole documents.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import io
import os
import queue
import secrets
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from keiretsu.model.errors import DocumentError
from keiretsu.model.ocel import Ocel
from keiretsu.node import stages
from keiretsu.node.auth import AuditLog, TokenStore, Verifier
from keiretsu.node.home import NodeHome
from keiretsu.node.identity import Identity, PartnerKey
from keiretsu.node.policy import Policy, PolicyError
from keiretsu.node.projection import PartnerViews
from keiretsu.store import IngestReport, Store
from keiretsu.store.node_store import ReadDocument
from keiretsu.store.pipeline import ReaderProcess

T = TypeVar("T")

CAPTURE_EVENT_LIMIT = 100_000
"""Most events one capture document may hold (``GS1-EPCIS-Capture-Limit``)."""

CHECKPOINT_THRESHOLD = "512MB"
"""WAL size at which the node's store checkpoints (DuckDB's default is 16 MiB)."""

CAPTURE_GROUP = 50
"""Most captures stored in one transaction when they queue up."""

CAPTURE_SIZE_LIMIT = 64 * 1024 * 1024
"""Largest capture document in bytes (``GS1-EPCIS-Capture-File-Size-Limit``)."""

PUSH_GROUP = 50
"""Most partners' pushes stored in one transaction when they queue up."""


class Writer:
    """One thread that does every write to the store, in order; ``submit`` returns a future."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._jobs: queue.Queue[
            tuple[Callable[[Store], Any], concurrent.futures.Future[Any]] | None
        ]
        self._jobs = queue.Queue()
        self._running = False
        self._thread = threading.Thread(target=self._run, name="keiretsu-writer", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[Store], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._jobs.put((job, future))
        return future

    async def run(self, job: Callable[[Store], T]) -> T:
        """Do ``job`` on the writer thread and wait for it without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(job))

    def backlog(self) -> int:
        return self._jobs.qsize()

    def busy(self) -> bool:
        """A job running or waiting (no lock taken but the queue's own)."""
        return self._running or not self._jobs.empty()

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            self._running = True
            try:
                future.set_result(job(self.store))
            except BaseException as exc:  # handed to whoever waits on it
                future.set_exception(exc)
            finally:
                self._running = False

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join()


class CaptureReader:
    """Reads and checks capture documents in a second process (started on first use), so a
    node on two cores parses the next documents while its writer stores the last ones — the
    store's :class:`~keiretsu.store.pipeline.ReaderProcess`, kept for the node's life. If that
    process cannot be had, documents are read in this one."""

    def __init__(self) -> None:
        self._process = ReaderProcess("captures")
        self._inline = os.environ.get("KEIRETSU_CAPTURE_READER") == "inline"

    def submit(self, path: Path, document: str) -> Future[list[Ocel]]:
        if not self._inline:
            try:
                return self._process.submit(read_capture, str(path), document)
            except (RuntimeError, OSError):  # no second process here: read in this one
                self._inline = True
        done: Future[list[Ocel]] = Future()
        try:
            done.set_result(read_capture(str(path), document))
        except Exception as exc:
            done.set_exception(exc)
        return done

    def close(self) -> None:
        self._process.close()


def read_capture(path: str, document: str) -> list[Ocel]:
    """A capture document read whole into OCEL batches; raises :class:`DocumentError`.
    (Runs in the reader process: its stage line says when the read began and ended.)"""
    from keiretsu.io.epcis import read_epcis

    begun = stages.now()
    with open(path, "rb") as fh:
        batches = list(_limited(read_epcis(fh, document=document), document))
    if stages.enabled():
        stages.record("read", document=document, begun=begun, read=stages.now())
    return batches


@dataclass
class CaptureJob:
    """An EPCIS capture job (the binding's ``CaptureJob``): queued, running or finished."""

    capture_id: str
    created_at: datetime
    running: bool = True
    success: bool = True
    finished_at: datetime | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None
    stages: dict[str, float] = field(default_factory=dict, repr=False)
    """When each stage ended (wall-clock seconds; kept only when stage lines are written)."""

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "captureID": self.capture_id,
            "createdAt": _iso(self.created_at),
            "running": self.running,
            "success": self.success,
            "captureErrorBehaviour": "rollback",
            "errors": self.errors,
        }
        if self.finished_at is not None:
            body["finishedAt"] = _iso(self.finished_at)
        if self.report is not None:
            body["keiretsu:report"] = self.report
        return body


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def new_id() -> str:
    """A sortable unique id: milliseconds since the epoch, then randomness."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(6)}"


class Node:
    """One node at run time. Open with the path of its store (``keiretsu node init`` first)."""

    def __init__(self, store: str | Path) -> None:
        self.home = NodeHome.open(store)
        self.config = self.home.config()
        self.name = self.config.name
        self.identity: Identity = self.home.identity()
        self.store = Store(store)
        # A node commits a capture every few milliseconds: at DuckDB's default 16 MiB of WAL
        # every second 1,000-event capture paid for a checkpoint (~0.3 s, growing with the
        # store). Checkpoint every 512 MiB instead; a restart after a crash replays that much
        # WAL at most.
        self.store.con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_THRESHOLD}'")
        self.writer = Writer(self.store)
        self.views = PartnerViews(self)
        self.audit = AuditLog(self.home.audit_path)
        self.tokens = TokenStore(self.home.tokens_path)
        self.verifier = Verifier(self.name, self._partner_keys, self.audit)
        self.secret = self.home.pseudonym_secret()
        self._partners_cache: tuple[float, dict[str, PartnerKey]] = (-1.0, {})
        self._policy_cache: tuple[float, Policy] = (-1.0, Policy.deny_all())
        self._cursor_lock = threading.Lock()
        self._local = threading.local()
        self.jobs: dict[str, CaptureJob] = {}
        self._captures: collections.deque[tuple[CaptureJob, Path, Future[list[Ocel]]]] = (
            collections.deque()
        )
        self._reader = CaptureReader()
        self._capture_lock = threading.Lock()
        self._drain_scheduled = False
        self._pushes: collections.deque[_QueuedPush] = collections.deque()
        self._push_drain_scheduled = False
        # called on the writer thread, as soon as the transaction that accepted a document
        # committed, with the ingest id and source of each accepted document that brought new
        # events (or corrections): delivery and subscriptions start from here, not from a poll
        self.on_accepted: list[Callable[[int, str], None]] = []
        self.sending = 0
        """Pushes to partners under way (the delivery worker counts them; :meth:`busy`)."""
        self.home.spool_dir.mkdir(exist_ok=True)
        self.started_at = datetime.now(UTC)

    # --- what the node knows ----------------------------------------------------------------

    def partners(self) -> dict[str, PartnerKey]:
        """Partners from ``partners.toml``, re-read when the file changes."""
        mtime = _mtime(self.home.partners_path)
        if mtime != self._partners_cache[0]:
            self._partners_cache = (mtime, self.home.partners())
        return self._partners_cache[1]

    def _partner_keys(self) -> dict[str, Any]:
        return {name: p.public_key for name, p in self.partners().items()}

    def policy(self) -> Policy:
        """The sharing policy from ``policy.toml``, re-read when the file changes. No file:
        nothing leaves. A file that no longer loads: nothing leaves until it is fixed (the
        error is in the audit log and on ``GET /twin/policy``)."""
        mtime = _mtime(self.home.policy_path)
        if mtime != self._policy_cache[0]:
            policy = Policy.deny_all()
            if mtime >= 0:
                try:
                    policy = Policy.load(self.home.policy_path)
                except PolicyError as exc:
                    self.audit.write(
                        "policy-load", "refused", reason="faulty-policy", detail=str(exc)
                    )
            self._policy_cache = (mtime, policy)
        return self._policy_cache[1]

    def policy_problem(self) -> str | None:
        if not self.home.policy_path.exists():
            return None
        try:
            Policy.load(self.home.policy_path)
        except PolicyError as exc:
            return str(exc)
        return None

    def share(
        self, ocel: Ocel, partner: str, right: str = "push", *, history: Ocel | None = None
    ) -> Ocel:
        """What of ``ocel`` may leave this node for ``partner`` by ``right`` (``push``,
        ``query``, ``subscribe``) under the current policy; ``history``: the node's events of
        the same goods, read for the daily totals of aggregate rules (``Policy.apply``)."""
        return self.policy().apply(ocel, partner, secret=self.secret, right=right, history=history)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A read cursor for the calling thread (sees committed data only)."""
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cur is None:
            with self._cursor_lock:
                cur = self.store.con.cursor()
            self._local.cursor = cur
        return cur

    # --- capture ------------------------------------------------------------------------------

    def spool(self, body: bytes) -> CaptureJob:
        """Keep a capture document on disk (fsync'd) and queue it; returns its job. A node
        killed before the document is stored stores it when it starts again."""
        received = stages.now()
        job = CaptureJob(capture_id=new_id(), created_at=datetime.now(UTC))
        if stages.enabled():
            job.stages["received"] = received
        path = self.home.spool_dir / f"{job.capture_id}.body"
        tmp = path.with_suffix(".part")
        with open(tmp, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        if stages.enabled():
            job.stages["spooled"] = stages.now()
        self.jobs[job.capture_id] = job
        self._queue_capture(job, path)
        return job

    def resume_spool(self) -> int:
        """Queue the capture documents a previous run received but did not store."""
        found = sorted(self.home.spool_dir.glob("*.body"))
        for path in found:
            capture_id = path.stem
            known = self._finished_job(capture_id)
            if (
                known is not None
                and known.report
                and known.report["status"]
                in (
                    "accepted",
                    "refused",
                )
            ):  # decided before the crash; only the spool file remained
                path.unlink(missing_ok=True)
                continue
            job = CaptureJob(
                capture_id=capture_id,
                created_at=datetime.fromtimestamp(path.stat().st_mtime, UTC),
            )
            self.jobs[capture_id] = job
            self._queue_capture(job, path)
        for part in self.home.spool_dir.glob("*.part"):
            part.unlink(missing_ok=True)
        return len(found)

    def _queue_capture(self, job: CaptureJob, path: Path) -> None:
        """Queue a spooled capture: a second process reads and checks it while the writer
        stores the ones before it, in groups (one transaction for the captures that arrived
        while it was busy)."""
        read = self._reader.submit(path, f"capture/{job.capture_id}")
        if stages.enabled():
            read.add_done_callback(lambda _: job.stages.setdefault("read", stages.now()))
        with self._capture_lock:
            self._captures.append((job, path, read))
            if self._drain_scheduled:
                return
            self._drain_scheduled = True
        self.writer.submit(self._drain_captures)

    def _drain_captures(self, store: Store) -> None:
        while True:
            with self._capture_lock:
                if not self._captures:
                    self._drain_scheduled = False
                    return
                group = [self._captures.popleft()]
            # the oldest first, then those already read behind it (a refusal is raised later,
            # when its job is finished)
            concurrent.futures.wait([group[0][2]])
            with self._capture_lock:
                while self._captures and len(group) < CAPTURE_GROUP and self._captures[0][2].done():
                    group.append(self._captures.popleft())
            try:
                accepted = self._store_captures(store, group)
            except Exception as exc:  # never leave a job running: say why it failed
                accepted = []
                for job, path, _ in group:
                    if job.running:
                        self._finish_job(job, path, None, exc)
            # committed: partners' views, then delivery and subscriptions, at once
            self._accepted_group(accepted)
            if stages.enabled():
                told = stages.now()
                for job, _, _ in group:
                    job.stages["told"] = told
                    stages.record(
                        "capture",
                        capture=job.capture_id,
                        ingest_id=(job.report or {}).get("ingest_id"),
                        events=(job.report or {}).get("events_new"),
                        group=len(group),
                        **job.stages,
                    )

    def _store_captures(
        self, store: Store, group: list[tuple[CaptureJob, Path, Future[list[Ocel]]]]
    ) -> list[tuple[int, str, dict[str, Any]]]:
        """Each capture as read (a refused one is logged with its reason), then the rest
        stored in one transaction — or one by one, should that fail. Returns the documents
        accepted (ingest id, source, report), for :meth:`_accepted_group`."""
        partners = sorted(self.partners())
        ready: list[tuple[CaptureJob, Path, ReadDocument]] = []
        accepted: list[tuple[int, str, dict[str, Any]]] = []
        for job, path, read in group:
            document = f"capture/{job.capture_id}"
            try:
                batches = read.result()
                ready.append(
                    (
                        job,
                        path,
                        ReadDocument(
                            batches=batches,
                            document=document,
                            format="epcis",
                            size_bytes=path.stat().st_size,
                            outbox=partners,
                        ),
                    )
                )
            except Exception as exc:  # refused: log it like any refused document
                self._store_one(store, job, path, _refusal(exc), document, partners, accepted)
        if not ready:
            return accepted
        if stages.enabled():
            begun = stages.now()
            for job, _, _ in ready:
                job.stages["store_begun"] = begun
        try:
            reports = store.ingest_group([doc for _, _, doc in ready])
        except Exception:  # the group failed as a whole: each on its own, to say which
            for job, path, doc in ready:
                self._store_one(
                    store, job, path, iter(doc.batches), doc.document, partners, accepted
                )
            return accepted
        committed = stages.now()
        for (job, path, _), report in zip(ready, reports, strict=True):
            job.stages["committed"] = committed
            self._finish_job(job, path, report, None, accepted)
        return accepted

    def _store_one(
        self,
        store: Store,
        job: CaptureJob,
        path: Path,
        batches: Any,
        document: str,
        partners: list[str],
        accepted: list[tuple[int, str, dict[str, Any]]],
    ) -> None:
        try:
            report = store.ingest(
                batches,
                document=document,
                format="epcis",
                source="local",
                size_bytes=path.stat().st_size if path.exists() else None,
                outbox=partners,
            )
            job.stages["committed"] = stages.now()
            self._finish_job(job, path, report, None, accepted)
        except Exception as exc:
            self._finish_job(job, path, None, exc, accepted)

    def _finish_job(
        self,
        job: CaptureJob,
        path: Path,
        report: IngestReport | None,
        error: Exception | None,
        accepted: list[tuple[int, str, dict[str, Any]]] | None = None,
    ) -> None:
        """Close the job with its report or its error; an accepted document is added to
        ``accepted`` (partners are told of it once its group is done), or told at once."""
        if isinstance(error, DocumentError):
            job.success = False
            job.errors = [error.to_dict()]
        elif error is not None:  # the job says why; the node goes on
            job.success = False
            job.errors = [
                {
                    "type": "epcisException:ImplementationException",
                    "title": "Capture failed",
                    "status": 500,
                    "detail": f"{type(error).__name__}: {error}",
                }
            ]
        elif report is not None:
            job.report = report.to_dict()
            job.success = True
        job.running = False
        job.finished_at = datetime.now(UTC)
        path.unlink(missing_ok=True)
        if job.success and job.report and job.report.get("ingest_id") is not None:
            done = (int(job.report["ingest_id"]), "local", job.report)
            if accepted is not None:
                accepted.append(done)
            else:
                self._accepted_group([done])

    def _accepted(self, ingest_id: int, source: str, report: dict[str, Any]) -> None:
        self._accepted_group([(ingest_id, source, report)])

    def _accepted_group(self, accepted: list[tuple[int, str, dict[str, Any]]]) -> None:
        """Documents just committed (on the writer thread): partners' views brought up to
        date once for all of them, then every ``on_accepted`` listener told of each — the
        delivery worker and the subscription hub are woken here, not by a poll."""
        told = [
            (ingest_id, source)
            for ingest_id, source, report in accepted
            if report.get("events_new") or report.get("events_corrected")
        ]
        if not told:
            return
        if any(source == "local" for _, source in told):
            # partners' views first: a subscriber is told on its view
            try:
                self.views.refresh_all(self.store)
            except Exception as exc:  # the view is rebuilt when next asked
                self.audit.write(
                    "partner-view", "failed", reason=type(exc).__name__, detail=str(exc)
                )
        for ingest_id, source in told:
            for callback in list(self.on_accepted):
                try:
                    callback(ingest_id, source)
                except Exception as exc:  # a listener must not stop the writer
                    self.audit.write("notify", "failed", reason=type(exc).__name__, detail=str(exc))

    def busy(self) -> bool:
        """Whether the node is storing something, has captures waiting to be, or is pushing
        documents to a partner (catching one up after an outage, say): the obeya's
        pages hold back then (:class:`keiretsu.web.cache.PageCache`). Takes no lock of the
        node's: a deque's length is read atomically."""
        return bool(self._captures) or self.sending > 0 or self.writer.busy()

    def captures_queued(self) -> int:
        """Captures received and spooled but not stored yet."""
        with self._capture_lock:
            return len(self._captures)

    def capture_job(self, capture_id: str) -> CaptureJob | None:
        """A capture job by id: from memory while this run knows it, else from the ingest log."""
        job = self.jobs.get(capture_id)
        if job is not None:
            return job
        return self._finished_job(capture_id)

    def _finished_job(self, capture_id: str) -> CaptureJob | None:
        rows = (
            self.cursor()
            .execute(
                "SELECT started_at, finished_at, status, problem, events_read, events_new, "
                "events_known, ingest_id FROM ingest_log WHERE document = ? "
                "ORDER BY ingest_id DESC LIMIT 1",
                [f"capture/{capture_id}"],
            )
            .fetchall()
        )
        if not rows:
            return None
        started, finished, status, problem, read, new, known, ingest_id = rows[0]
        import json

        return CaptureJob(
            capture_id=capture_id,
            created_at=started,
            running=status == "pending",
            success=status == "accepted",
            finished_at=finished if status != "pending" else None,
            errors=[json.loads(problem)] if problem else [],
            report={
                "ingest_id": ingest_id,
                "status": status,
                "events_read": read,
                "events_new": new,
                "events_known": known,
            },
        )

    # --- a partner's push ---------------------------------------------------------------------

    def receive(self, store: Store, partner: str, delivery: str, body: bytes) -> IngestReport:
        """Store what ``partner`` pushed (an OCEL 2.0 JSON document), whole or not at all.
        Events already known (a retried delivery) are counted, not stored twice. Runs on the
        writer thread (the inbox route uses :meth:`read_push` and :meth:`store_push`, which
        store pushes that queue up together)."""
        document = push_document(partner, delivery)
        try:
            batches = read_push(partner, delivery, body)
        except DocumentError as exc:  # logged as refused, like any refused document
            self.refuse_push(store, partner, delivery, len(body), exc)
            raise
        report = store.ingest(
            iter(batches),
            document=document,
            format="ocel-json",
            source=partner,
            size_bytes=len(body),
        )
        self._accepted(int(report.ingest_id or 0), partner, report.to_dict())
        return report

    def refuse_push(
        self, store: Store, partner: str, delivery: str, size: int, exc: Exception
    ) -> None:
        """Log a push found unreadable (:func:`read_push` raised ``exc``) as refused, like any
        refused document (nothing stored; on the writer thread)."""
        with contextlib.suppress(DocumentError):
            store.ingest(
                _refusal(exc),
                document=push_document(partner, delivery),
                format="ocel-json",
                source=partner,
                size_bytes=size,
            )

    def store_push(
        self, partner: str, delivery: str, batches: list[Ocel], size: int
    ) -> Future[IngestReport]:
        """Queue a push already read whole (:func:`read_push`) for the writer; the future
        holds its report once its transaction has committed. Pushes that queue while the
        writer is busy are stored together, in one transaction (each still its own ingest,
        with its own log line and report); subscribers are told as soon as it commits."""
        queued = _QueuedPush(
            ReadDocument(
                batches=batches,
                document=push_document(partner, delivery),
                format="ocel-json",
                source=partner,
                size_bytes=size,
            ),
            Future(),
            {"queued": stages.now()} if stages.enabled() else {},
        )
        with self._capture_lock:
            self._pushes.append(queued)
            if not self._push_drain_scheduled:
                self._push_drain_scheduled = True
                self.writer.submit(self._drain_pushes)
        return queued.done

    def _drain_pushes(self, store: Store) -> None:
        while True:
            with self._capture_lock:
                if not self._pushes:
                    self._push_drain_scheduled = False
                    return
                group = [self._pushes.popleft() for _ in range(min(PUSH_GROUP, len(self._pushes)))]
            begun = stages.now()
            try:
                reports: list[IngestReport | BaseException] = list(
                    store.ingest_group([p.document for p in group])
                )
            except Exception:  # the group failed as a whole: each on its own, to say which
                reports = []
                for push in group:
                    doc = push.document
                    try:
                        reports.append(
                            store.ingest(
                                iter(doc.batches),
                                document=doc.document,
                                format=doc.format,
                                source=doc.source,
                                size_bytes=doc.size_bytes,
                            )
                        )
                    except Exception as exc:
                        reports.append(exc)
            committed = stages.now()
            self._accepted_group(
                [
                    (int(r.ingest_id or 0), p.document.source, r.to_dict())
                    for p, r in zip(group, reports, strict=True)
                    if isinstance(r, IngestReport)
                ]
            )
            told = stages.now()
            for push, report in zip(group, reports, strict=True):
                if isinstance(report, IngestReport):
                    push.done.set_result(report)
                else:
                    push.done.set_exception(report)
                if stages.enabled():
                    stages.record(
                        "received",
                        document=push.document.document,
                        ingest_id=getattr(report, "ingest_id", None),
                        events=push.document.num_events,
                        group=len(group),
                        store_begun=begun,
                        committed=committed,
                        told=told,
                        **push.stages,
                    )

    def close(self) -> None:
        self.writer.close()
        self._reader.close()
        self.store.close()


@dataclass
class _QueuedPush:
    document: ReadDocument
    done: Future[IngestReport]
    stages: dict[str, float]


def push_document(partner: str, delivery: str) -> str:
    """The ingest log's name of a partner's push: ``from/<partner>/<delivery id>``."""
    return f"from/{partner}/{delivery}"


def read_push(partner: str, delivery: str, body: bytes) -> list[Ocel]:
    """A partner's push (OCEL 2.0 JSON) read whole, its event ids in the partner's namespace;
    raises :class:`DocumentError` saying what is wrong and where."""
    from keiretsu.io.ocel.jsonocel import read_ocel_json
    from keiretsu.store.received import from_partner

    document = push_document(partner, delivery)
    return list(from_partner(read_ocel_json(io.BytesIO(body), document=document), partner))


def tls_context(verify: bool | str) -> bool | ssl.SSLContext:
    """What httpx verifies partners' certificates with: the system's CAs (``True``), or a CA
    bundle file (a company's own CA, or a self-signed certificate's)."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return verify


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime_ns / 1e9
    except FileNotFoundError:
        return -1.0


def _limited(batches: Any, document: str) -> Any:
    """Refuse a capture document of more than :data:`CAPTURE_EVENT_LIMIT` events."""
    seen = 0
    for batch in batches:
        seen += batch.num_events
        if seen > CAPTURE_EVENT_LIMIT:
            from keiretsu.model.errors import Problem

            raise DocumentError(
                [
                    Problem(
                        title="Capture too large",
                        detail=f"the document holds more than {CAPTURE_EVENT_LIMIT} events "
                        "(GS1-EPCIS-Capture-Limit): split it into several captures",
                        type="epcisException:CaptureLimitExceededException",
                        document=document,
                        status=413,
                    )
                ]
            )
        yield batch


def _refusal(exc: Exception) -> Any:
    """Batches that refuse at once with ``exc``: how a document already found wanting is
    logged through :meth:`Store.ingest`, like any other refusal."""
    raise exc
    yield  # a generator
