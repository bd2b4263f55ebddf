"""A partner's query costs what the partner can see, not what the node hides from it.

    .venv/bin/python bench/partner_view.py                    # 1,000,000 hidden events (~10 min)
    .venv/bin/python bench/partner_view.py --hidden 100000    # a quicker run

Two real node processes (``python -m keiretsu node serve``) on loopback, the same policy on both:
partner ``b`` may query the ``inspecting`` events, nothing else.

* **small** holds the 1,000 events ``b`` may see, and nothing else;
* **big** holds the same 1,000 and ``--hidden`` more (the synthetic two-company chain of
  :mod:`keiretsu.io.epcis.synth`: commissioning, packing, shipping, receiving… none of which
  ``b`` may see).

``b`` signs each request with its own key (EdDSA JWT, as a partner node does). The same questions
are asked of both nodes, interleaved, ``--repeat`` times each; the figure is the median time of
each question on each node and the ratio big / small (1.0 = the hidden events cost nothing):

1. the first page of everything ``b`` may see (``perPage=100``);
2. all of it, page by page (10 pages of 100);
3. a filter on a hidden business step, counted (``EQ_bizStep=storing&maxEventCount=0``);
4. one visible EPC's events (``MATCH_anyEPC``);
5. one event by id: one ``b`` may not see, and one that does not exist.

Also printed: the first question after the node started, which builds ``b``'s view (the policy
run over every own event once; the node answers from the previous view while it builds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from node import STARTED, Node, load, make_node  # bench/node.py

POLICY = """
[[rule]]
id = "inspections-for-b"
effect = "permit"
subjects = ["b"]
rights = ["query"]
biz_steps = ["inspecting"]
keep_attributes = ["*"]
share_objects = ["*"]
"""

VISIBLE = 1_000


def visible_document(path: Path) -> Path:
    """1,000 inspections of distinct serialised items, spread over the synthetic week."""
    start = datetime(2024, 3, 1, tzinfo=UTC)
    events = [
        {
            "type": "ObjectEvent",
            "eventID": f"urn:uuid:00000000-0000-4000-9000-{i:012d}",
            "eventTime": (start + timedelta(minutes=10 * i)).isoformat().replace("+00:00", "Z"),
            "eventTimeZoneOffset": "+00:00",
            "action": "OBSERVE",
            "bizStep": "inspecting",
            "disposition": "conformant",
            "epcList": [f"urn:epc:id:sgtin:4012345.099999.{i + 1}"],
            "readPoint": {"id": "urn:epc:id:sgln:4012345.00009.0"},
        }
        for i in range(VISIBLE)
    ]
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-03-01T00:00:00Z",
        "epcisBody": {"eventList": events},
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def fill(node: Node, visible: Path, hidden: int, root: Path) -> float:
    """Store the documents in the node's store (before it serves); returns seconds taken."""
    from keiretsu.io.epcis import read_epcis
    from keiretsu.io.epcis.synth import write_synthetic_epcis_json
    from keiretsu.store import Store

    t0 = time.perf_counter()
    store = Store(node.store)
    try:
        store.ingest(read_epcis(visible), document="visible")
        chunk = 100_000
        for i, start in enumerate(range(0, hidden, chunk)):
            n = min(chunk, hidden - start)
            path = write_synthetic_epcis_json(
                root / f"hidden-{i}.json",
                n,
                seed=100 + i,
                start=datetime(2024, 3, 1, tzinfo=UTC) + timedelta(days=7 * i),
            )
            store.ingest(read_epcis(path), document=f"hidden-{i}")
            path.unlink()
            print(f"  {node.name}: {start + n:,} hidden events stored", flush=True)
    finally:
        store.close()
    return time.perf_counter() - t0


class Partner:
    """Partner ``b``: signs each request to a node with its own key."""

    def __init__(self) -> None:
        from keiretsu.node.identity import Identity

        self.identity = Identity.create("b")

    def get(self, node: Node, path: str, params: list[tuple[str, str]] | None = None) -> Any:
        from keiretsu.node.auth import sign_request

        if params:
            path = f"{path}?{urlencode(params, quote_via=quote)}"
        token = sign_request(self.identity, audience=node.name, method="GET", path=path)
        with httpx.Client(base_url=node.url, timeout=600) as c:
            return c.get(path, headers={"Authorization": f"Bearer {token}"})


def events(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["epcisBody"]["queryResults"]["resultsBody"][
        "eventList"
    ]
    return found


def questions(b: Partner, hidden: str) -> dict[str, Any]:
    """Each question: a function of the node that asks it and checks the answer."""

    def first_page(node: Node) -> None:
        assert len(events(b.get(node, "/events", [("perPage", "100")]))) == 100

    def every_page(node: Node) -> None:
        seen = 0
        params = [("perPage", "100")]
        while True:
            r = b.get(node, "/events", params)
            seen += len(events(r))
            token = r.headers.get("GS1-Next-Page-Token")
            if token is None:
                break
            params = [("perPage", "100"), ("nextPageToken", token)]
        assert seen == VISIBLE, seen

    def hidden_step(node: Node) -> None:
        r = b.get(node, "/events", [("EQ_bizStep", "storing"), ("maxEventCount", "0")])
        assert events(r) == []

    def one_epc(node: Node) -> None:
        r = b.get(node, "/events", [("MATCH_anyEPC", "urn:epc:id:sgtin:4012345.099999.500")])
        assert len(events(r)) == 1

    def hidden_id(node: Node) -> None:
        assert b.get(node, "/events/" + quote(hidden, safe="")).status_code == 404

    def absent_id(node: Node) -> None:
        absent = "urn:uuid:00000000-0000-4000-8000-ffffffffffff"
        assert b.get(node, "/events/" + quote(absent, safe="")).status_code == 404

    return {
        "first page (perPage=100)": first_page,
        "every page (10 x 100)": every_page,
        "hidden step, counted": hidden_step,
        "one visible EPC": one_epc,
        "GET /events/{hidden id}": hidden_id,
        "GET /events/{absent id}": absent_id,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=1_000_000, help="events b may not see")
    parser.add_argument("--repeat", type=int, default=30, help="times each question is asked")
    args = parser.parse_args()
    b = Partner()
    with tempfile.TemporaryDirectory(prefix="keiretsu-bench-") as tmp:
        root = Path(tmp)
        try:
            visible = visible_document(root / "visible.json")
            nodes = {"small": make_node(root, "small"), "big": make_node(root, "big")}
            for node in nodes.values():
                node.home.add_partner("b", "http://127.0.0.1:9", b.identity.public_key_text)
                node.home.policy_path.write_text(POLICY, encoding="utf-8")
            filled = {
                "small": fill(nodes["small"], visible, 0, root),
                "big": fill(nodes["big"], visible, args.hidden, root),
            }
            for node in nodes.values():
                node.start()
            first: dict[str, float] = {}
            for name, node in nodes.items():
                t0 = time.perf_counter()
                r = b.get(node, "/events", [("perPage", "1")])
                first[name] = time.perf_counter() - t0
                assert len(events(r)) == 1
            with nodes["big"].client() as c:
                own = c.get("/events", params={"EQ_bizStep": "packing", "perPage": 1}).json()
            hidden_id = events_of_local(own)[0]["eventID"]  # an event b may not see
            asked = questions(b, hidden_id)
            times: dict[str, dict[str, list[float]]] = {q: {"small": [], "big": []} for q in asked}
            for _ in range(args.repeat):
                for q, ask in asked.items():
                    for name, node in nodes.items():
                        t0 = time.perf_counter()
                        ask(node)
                        times[q][name].append(time.perf_counter() - t0)
            print()
            print(
                f"partner b's questions: {VISIBLE:,} events it may see; big also holds "
                f"{args.hidden:,} it may not (median of {args.repeat}; load {load()})"
            )
            print(
                f"  stores filled in {filled['small']:.1f} s (small), {filled['big']:.1f} s (big)"
            )
            print(
                "  first question after start (builds b's view):"
                f" small {first['small'] * 1000:.0f} ms, big {first['big'] * 1000:.0f} ms"
            )
            print(f"  {'question':32} {'small ms':>9} {'big ms':>9} {'big/small':>10}")
            for q, by in times.items():
                small = statistics.median(by["small"]) * 1000
                big = statistics.median(by["big"]) * 1000
                print(f"  {q:32} {small:9.1f} {big:9.1f} {big / small:9.2f}x")
            h = statistics.median(times["GET /events/{hidden id}"]["big"])
            a = statistics.median(times["GET /events/{absent id}"]["big"])
            print(f"ratio hidden-id/absent-id on big: {h / a:.2f}x")
            total_small = sum(statistics.median(v["small"]) for v in times.values())
            total_big = sum(statistics.median(v["big"]) for v in times.values())
            print(f"ratio big/small (all questions): {total_big / total_small:.2f}x")
        finally:
            for node in STARTED:
                node.stop()


def events_of_local(body: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = body["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return found


if __name__ == "__main__":
    main()
