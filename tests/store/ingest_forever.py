"""Run as a process: ingest documents into a store one after another until killed.

Document k holds N events ``d{k}-{i}``; it is written in many batches so that a SIGKILL lands in
the middle of a document's transaction most of the time.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from keiretsu.model import Ocel, OcelBuilder
from keiretsu.store import Store

N = 3000
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def document(k: int) -> Iterator[Ocel]:
    b = OcelBuilder()
    for i in range(N):
        eid = f"d{k}-{i}"
        b.add_event(eid, "packing", T0 + timedelta(seconds=i), {"doc": k, "seq": i})
        b.add_object(f"case-{k}-{i % 50}", "trade item")
        b.relate(eid, f"case-{k}-{i % 50}", "epc")
        if len(b) >= 150:
            yield b.build()
    yield b.build()


def main() -> None:
    path, start = sys.argv[1], int(sys.argv[2])
    with Store(path) as store:
        k = start
        while True:
            store.ingest(document(k), document=f"doc-{k}")
            print(f"committed doc-{k}", flush=True)
            k += 1


if __name__ == "__main__":
    main()
