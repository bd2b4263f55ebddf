"""The customer: exits, finished objects, customer demand and takt — on the demo chain's raw
EPCIS documents and the OCEL 2.0 logistics log, each figure recounted from the files themselves."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from _data import DATA
from keiretsu.analytics import Log
from keiretsu.analytics.calendar import Calendar
from keiretsu.analytics.customer import customer_demand, exits, finished_objects
from keiretsu.model import OcelBuilder
from keiretsu.store import Store

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "src" / "keiretsu" / "examples" / "two-company-chain"
)
LOGISTICS = DATA / "ocel" / "logistics.sqlite"
NS = "{urn:epcglobal:epcis:xsd:2}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Log:
    path = tmp_path_factory.mktemp("demo") / "node.duckdb"
    with Store(path) as store:
        for f in sorted(EXAMPLE.iterdir()):
            assert store.ingest_file(f).status == "accepted"
    return Log.open(path)


def _raw_demo() -> tuple[list[dict[str, object]], set[str]]:
    """Every event of the demo documents as (time, step, destinations, epcs), read with json
    and lxml, and every business location any of them names."""
    events: list[dict[str, object]] = []
    places: set[str] = set()
    for f in sorted(EXAMPLE.iterdir()):
        if f.suffix == ".xml":
            root = etree.parse(str(f)).getroot()
            for ev in root.iter("ObjectEvent", "AggregationEvent", "TransformationEvent"):
                loc = ev.findtext("bizLocation/id")
                if loc:
                    places.add(loc)
                events.append(
                    {
                        "time": datetime.fromisoformat(ev.findtext("eventTime") or ""),
                        "step": (ev.findtext("bizStep") or "").rsplit(":", 1)[-1],
                        "dest": [d.text for d in ev.iter("destination")],
                        "epcs": [e.text for e in ev.iter("epc")],
                    }
                )
        else:
            doc = json.loads(f.read_text())
            for ev in doc["epcisBody"]["eventList"]:
                if "bizLocation" in ev:
                    places.add(ev["bizLocation"]["id"])
                events.append(
                    {
                        "time": datetime.fromisoformat(ev["eventTime"]),
                        "step": ev.get("bizStep", "").rsplit(":", 1)[-1],
                        "dest": [d["destination"] for d in ev.get("destinationList", [])],
                        "epcs": ev.get("epcList", []),
                    }
                )
    return events, places


def test_the_demo_customers_took_the_bottles_the_distributor_shipped_to_the_retailer(
    demo: Log,
) -> None:
    """The plant's shipments go to the distributor, whose receiving the log holds: moves inside
    the network. The distributor's shipments go to a retailer that records nothing: demand."""
    events, places = _raw_demo()
    sgln = [p for p in places if p.startswith("urn:epc:id:sgln:")]
    out = [
        e
        for e in events
        if e["step"] == "shipping" and e["dest"] and not any(d in sgln for d in e["dest"])  # type: ignore[union-attr]
    ]
    bottles = sum(len(e["epcs"]) for e in out)  # type: ignore[arg-type, misc]
    first = min(e["time"] for e in events)  # type: ignore[type-var]
    last = max(e["time"] for e in events)  # type: ignore[type-var]
    span = (last - first).total_seconds()  # type: ignore[operator]
    assert bottles == 24 and len(out) == 4

    view = customer_demand(demo)
    (row,) = view.to_pylist()
    assert row["family"] == "https://id.gs1.org/01/04012345111118"
    assert (row["unit"], row["quantity"], row["exits"]) == ("pieces", bottles, len(out))
    assert row["per_day"] == pytest.approx(bottles / (span / 86_400))
    assert row["takt_seconds"] == pytest.approx(span / bottles)  # 24/7: about 10 h a bottle
    assert "24/7" in view.notes[0] and view.meta["calendar"] == view.notes[0]

    finished = demo.execute(finished_objects(demo, "trade item"))
    shipped_out = {e for ev in out for e in ev["epcs"]}  # type: ignore[attr-defined]
    assert finished.num_rows == len(shipped_out) == 24


def test_takt_on_a_two_shift_calendar_counts_only_working_time(demo: Log) -> None:
    cal = Calendar.from_mapping(
        {"timezone": "Asia/Tokyo", "shifts": {"mon-fri": ["06:00-14:00", "14:00-22:00"]}},
        source="plant.toml",
    )
    (row,) = customer_demand(demo, calendar=cal).to_pylist()
    # recount the working time by hand, hour by hour, in Tokyo's wall clock
    events, _ = _raw_demo()
    first = min(e["time"] for e in events)  # type: ignore[type-var]
    last = max(e["time"] for e in events)  # type: ignore[type-var]
    tokyo = timedelta(hours=9)
    t = first.astimezone(UTC)  # type: ignore[attr-defined]
    working = 0.0
    step = timedelta(minutes=1)
    while t < last:
        local = t + tokyo
        if local.weekday() < 5 and 6 <= local.hour < 22:
            working += 60
        t += step
    assert row["available_seconds"] == pytest.approx(working, abs=60)
    assert row["takt_seconds"] == pytest.approx(working / 24, abs=5)
    assert "80 h a week" in cal.label() and "plant.toml" in cal.label()


def test_logistics_containers_finish_when_loaded_and_the_ones_in_stock_stay_open(
    tmp_path: Path,
) -> None:
    """Every container that reaches 'Load to Vehicle' ends its path there: the step is terminal,
    and the containers whose last event is still 'Place in Stock' are open, not demand."""
    con = sqlite3.connect(LOGISTICS)
    rows = con.execute(
        """
        select eo.ocel_object_id, e.ocel_type, e.ocel_id
        from event_object eo join event e on e.ocel_id = eo.ocel_event_id
        join object o on o.ocel_id = eo.ocel_object_id
        where o.ocel_type = 'Container'
        """
    ).fetchall()
    times: dict[str, str] = {}
    for (table,) in con.execute("select ocel_type_map from event_map_type"):
        for eid, t in con.execute(f'select ocel_id, ocel_time from "event_{table}"'):
            times[eid] = t
    # an object's events at its latest time (several events may share that second)
    latest: dict[str, str] = {}
    for obj, _, eid in rows:
        latest[obj] = max(latest.get(obj, ""), times[eid])
    at_end: dict[str, set[str]] = {}
    for obj, activity, eid in rows:
        if times[eid] == latest[obj]:
            at_end.setdefault(obj, set()).add(activity)
    loaded = {o for o, acts in at_end.items() if "Load to Vehicle" in acts}

    path = tmp_path / "node.duckdb"
    with Store(path) as store:
        assert store.ingest_file(LOGISTICS).status == "accepted"
    log = Log.open(path)
    finished = set(log.execute(finished_objects(log, "Container")).column("object_id").to_pylist())
    assert finished == loaded and len(loaded) == 445
    (row,) = customer_demand(log, object_type="Container").to_pylist()
    assert (row["unit"], row["quantity"]) == ("Container", 445)


def _tiny() -> Log:
    """Three orders: two reach 'deliver', one is still at 'pack' when the log ends."""
    t0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
    b = OcelBuilder()
    plan = {
        "o1": ["order", "pack", "deliver"],
        "o2": ["order", "pack", "deliver"],
        "o3": ["order", "pack"],
    }
    for i, (order, steps) in enumerate(plan.items()):
        b.add_object(order, "order")
        for j, step in enumerate(steps):
            eid = f"{order}-{step}"
            b.add_event(eid, step, t0 + timedelta(hours=i + 4 * j))
            b.relate(eid, order, "order")
    return Log.from_ocel(b.build())


def test_declared_end_steps_and_terminal_steps_agree_on_a_hand_built_log() -> None:
    log = _tiny()
    # 'deliver' ends both paths that reach it: terminal; 'pack' ends one path of three
    got = log.execute(exits(log, "order").order_by("object_id")).to_pylist()
    assert [(r["object_id"], r["activity"], r["rule"]) for r in got] == [
        ("o1", "deliver", "terminal step"),
        ("o2", "deliver", "terminal step"),
    ]
    declared = customer_demand(log, object_type="order", end_steps=["pack"]).to_pylist()
    assert declared[0]["quantity"] == 3  # every order was packed
    (row,) = customer_demand(log, object_type="order").to_pylist()
    # span: o1's order at 08:00 to o2's deliver at 09:00 + 8 h = 17:00: 9 h for 2 orders
    assert row["quantity"] == 2 and row["takt_seconds"] == pytest.approx(9 * 3600 / 2)


def test_a_log_without_an_object_type_for_demand_is_told_so() -> None:
    with pytest.raises(ValueError, match="object type"):
        customer_demand(_tiny())
