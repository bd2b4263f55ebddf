"""A process killed with SIGKILL in the middle of an ingest leaves only whole documents behind."""

from __future__ import annotations

import contextlib
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from keiretsu.store import Store, StoreError

HERE = Path(__file__).parent
N = 3000  # events per document, as in ingest_forever.py


def check_whole_documents(path: Path) -> int:
    """Every document is there entirely or not at all; returns how many are there."""
    with Store(path) as store:
        con = store.con
        per_doc = con.execute(
            "SELECT split_part(ocel_id, '-', 1) AS doc, count(*) FROM event GROUP BY 1"
        ).fetchall()
        for doc, count in per_doc:
            assert count == N, f"{doc} is partly stored: {count} of {N} events"
        accepted = con.execute(
            "SELECT ingest_id, events_new FROM ingest_log WHERE status = 'accepted'"
        ).fetchall()
        by_ingest = dict(con.execute("SELECT ingest_id, count(*) FROM event GROUP BY 1").fetchall())
        assert by_ingest == {i: n for i, n in accepted if n}, "events without their log line"
        interrupted = con.execute(
            "SELECT count(*) FROM ingest_log WHERE status = 'pending'"
        ).fetchall()[0][0]
        assert interrupted == 0, "an interrupted ingest was not cleaned up on reopening"
        attrs = con.execute("SELECT count(*) FROM event_attribute").fetchall()[0][0]
        e2o = con.execute("SELECT count(*) FROM event_object").fetchall()[0][0]
        assert attrs == 2 * N * len(per_doc)
        assert e2o == N * len(per_doc)
        return len(per_doc)


def test_a_store_whose_creation_never_committed_is_no_store_yet(tmp_path: Path) -> None:
    # what a process killed while creating the store leaves: a database file without the
    # store's tables (their creation is one transaction)
    path = tmp_path / "new.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(StoreError, match="no store here yet"):
        Store(path, read_only=True)
    with Store(path) as writer:  # opened for writing, it is created whole
        assert writer.summary().events == 0
    with Store(path, read_only=True) as reader:
        assert reader.summary().events == 0


def test_sigkill_mid_ingest_leaves_only_whole_documents(tmp_path: Path) -> None:
    path = tmp_path / "node.duckdb"
    rng = random.Random(20261123)
    committed_before = 0
    kills_mid_document = 0
    # how many commits each round waits to see reported before it kills: some rounds none (a
    # kill while the store opens or mid first document), others after one or more documents.
    # Waiting on the process's own report, not on a clock, keeps this true on a loaded machine.
    waits = [1, 0, 2, 0, 1, 3]
    rng.shuffle(waits)
    for round_, wait in enumerate(waits):
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "ingest_forever.py"), str(path), str(round_ * 1000)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        reader_thread = threading.Thread(
            target=lambda out=proc.stdout, q=lines: [q.put(line) for line in out], daemon=True
        )
        reader_thread.start()
        deadline = time.monotonic() + 120
        seen = 0
        while seen < wait and time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(queue.Empty):
                seen += "committed" in lines.get(timeout=0.1)
        assert seen >= wait, f"round {round_}: {seen} of {wait} commits reported in 120 s"
        # then kill somewhere in the next document (a 3,000-event document takes about a second)
        time.sleep(rng.uniform(0.05, 0.8))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        reader_thread.join(timeout=30)
        err = proc.stderr.read() if proc.stderr else ""
        out = "".join(lines.queue)
        out = "committed\n" * seen + out
        assert proc.returncode == -signal.SIGKILL, err
        # a reader opening the crashed store (before any writer cleaned it up) sees whole
        # documents only
        try:
            reader = Store(path, read_only=True)
        except StoreError as exc:  # killed while creating the store: nothing committed yet
            assert "no store here yet" in str(exc), exc
            assert committed_before == 0 and "committed" not in out
            continue
        with reader:
            visible = reader.summary().events
            assert visible % N == 0, f"a reader sees {visible} events: a partial document"
            assert reader.table("event_objects").num_rows == visible
        committed_now = check_whole_documents(path)
        # everything the process reported as committed is still there after the crash
        assert committed_now >= committed_before + out.count("committed")
        if committed_now == committed_before + out.count("committed"):
            kills_mid_document += 1
        committed_before = committed_now
    assert committed_before > 0, "no document was ever committed: the test proved nothing"
    assert kills_mid_document > 0
