"""The eight wastes: hand-computed small logs for each waste (the arithmetic is written out),
the two-company demo chain, the synthetic EPCIS chain, real XES logs against an independent
pandas count, invariants with hypothesis, and the same results on DuckDB and Spark."""

from __future__ import annotations

import itertools
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from _data import DATA
from keiretsu.analytics import Log, View
from keiretsu.analytics.rates import Rates
from keiretsu.analytics.waste import WASTES, never_used, pareto, waste_evidence, wastes
from keiretsu.io.epcis.synth import synthetic_events, write_synthetic_epcis_json
from keiretsu.io.xes import read_xes
from keiretsu.model import Ocel, OcelBuilder
from keiretsu.model.errors import DocumentError
from keiretsu.store import Store

LOGS = DATA / "logs"
EXAMPLE = (
    Path(__file__).resolve().parents[2] / "src" / "keiretsu" / "examples" / "two-company-chain"
)
T0 = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)
GTIN = "https://id.gs1.org/01/04012345111118"


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def row(view: View, waste: str) -> dict[str, Any]:
    rows = [r for r in view.to_pylist() if r["waste"] == waste]
    assert len(rows) == 1
    return rows[0]


class Chain:
    """A tiny log written event by event: ``event(id, activity, hours, objects, **attrs)``
    where ``objects`` maps object id → (type, qualifier) or (type, qualifier, quantity)."""

    def __init__(self) -> None:
        self.b = OcelBuilder()
        self.built: list[Ocel] = []

    def event(
        self,
        event_id: str,
        activity: str,
        hours: float,
        objects: dict[str, tuple[Any, ...]],
        **attributes: str,
    ) -> Chain:
        self.b.add_event(event_id, activity, h(hours), attributes or None)
        for oid, spec in objects.items():
            self.b.add_object(oid, spec[0])
            quantity = spec[2] if len(spec) > 2 else None
            self.b.relate(event_id, oid, spec[1], quantity, "KGM" if quantity else None)
        return self

    def log(self) -> Log:
        self.built.append(self.b.build())  # the builder gives the rows since its last build
        return Log.from_ocel(Ocel.concat(self.built))


# --- Rates --------------------------------------------------------------------------------------


def test_rates_from_toml_reads_every_kind_of_rate(tmp_path: Path) -> None:
    path = tmp_path / "node.toml"
    path.write_text(
        'name = "plant"\n[rates]\ncurrency = "JPY"\nwaiting_per_hour = 1500\n'
        "defect_cost = 2500.5\n"
        '[rates.waiting_per_hour_by_type]\n"trade item" = 20\n'
        f'[rates.unit_values]\n"{GTIN}" = 350\n'
    )
    rates = Rates.from_toml(path, table="rates")
    assert rates.currency == "JPY"
    assert rates.waiting_rate("trade item") == 20.0
    assert rates.waiting_rate("logistic unit") == 1500.0  # falls back to the node's rate
    assert rates.value_of(GTIN) == 350.0
    assert rates.value_of("https://id.gs1.org/01/09999999999999") == 1.0  # default
    assert rates.defect_cost == 2500.5
    assert rates.holding_per_year == Rates().holding_per_year  # left out: default kept


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("waiting_per_hour = -3\n", "waiting_per_hour"),
        ('defect_cost = "a lot"\n', "defect_cost"),
        ("defect_cost = true\n", "defect_cost"),
        ("defect_kost = 3\n", "defect_kost"),
        ("currency = 3\n", "currency"),
        ('[unit_values]\n"x" = "cheap"\n', "unit_values.x"),
        ("unit_values = 3\n", "unit_values"),
        ("transport_per_hour = nan\n", "transport_per_hour"),
    ],
)
def test_a_bad_rate_is_refused_naming_the_file_and_the_key(
    tmp_path: Path, text: str, field: str
) -> None:
    path = tmp_path / "rates.toml"
    path.write_text(text)
    with pytest.raises(DocumentError) as caught:
        Rates.from_toml(path)
    problem = caught.value.problems[0]
    assert problem.document == str(path)
    assert problem.field == field
    assert field in str(caught.value) and str(path) in str(caught.value)


def test_a_file_that_is_not_toml_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "rates.toml"
    path.write_text("currency = 'EUR'\nwaiting_per_hour = = 3\n")
    with pytest.raises(DocumentError) as caught:
        Rates.from_toml(path)
    assert caught.value.problems[0].line == 2
    with pytest.raises(DocumentError):
        Rates.from_toml(tmp_path / "missing.toml")


def test_rates_in_code_are_checked_too() -> None:
    with pytest.raises(ValueError, match="transport_per_move"):
        Rates(transport_per_move=-1)


# --- the table's shape --------------------------------------------------------------------------


def test_all_eight_wastes_always_in_order_and_skills_never_a_zero() -> None:
    log = Chain().event("e1", "register", 0, {"c1": ("case", "case")}).log()
    view = wastes(log)
    assert view.table.column("waste").to_pylist() == list(WASTES)
    skills = row(view, "skills")
    assert skills["measurable"] is False
    assert skills["hours"] is None and skills["money"] is None and skills["count"] is None
    assert "not measurable" in skills["evidence"]
    # nothing located: transport and motion say what they need instead of printing zeros
    for waste in ("transport", "motion", "inventory", "overproduction"):
        r = row(view, waste)
        assert r["measurable"] is False and r["money"] is None, waste
        assert "needs" in r["evidence"], waste
    assert waste_evidence(log, "skills").num_rows == 0
    with pytest.raises(ValueError, match="unknown waste"):
        waste_evidence(log, "muri")


# --- Transport ----------------------------------------------------------------------------------


def transport_log() -> Chain:
    c = Chain()
    pallet = ("logistic unit", "parent")
    items = {"I1": ("trade item", "child"), "I2": ("trade item", "child")}
    c.event("pack", "packing", 0, {"P": pallet, **items, "A": ("location", "bizLocation")})
    c.event("ship", "shipping", 2, {"P": ("logistic unit", "epc"), "D": ("location", "readPoint")})
    c.event(
        "recv", "receiving", 8, {"P": ("logistic unit", "epc"), "B": ("location", "bizLocation")}
    )
    c.event("unpack", "unpacking", 9, {"P": pallet, **items, "B": ("location", "bizLocation")})
    c.event("i3a", "storing", 0, {"I3": ("trade item", "epc"), "A": ("location", "bizLocation")})
    c.event("i3c", "receiving", 5, {"I3": ("trade item", "epc"), "C": ("location", "bizLocation")})
    c.b.link("P", "I1", "contains")
    c.b.link("P", "I2", "contains")
    return c


def test_transport_counts_moves_between_locations_once_per_container() -> None:
    log = transport_log().log()
    rates = Rates(transport_per_move=100, transport_per_hour=20)
    # pallet P: A (packing, 0 h) -> shipping (2 h, no business location) -> B (8 h):
    #   one move A -> B, in transit from the shipping at 2 h to the arrival at 8 h = 6 h
    # items I1, I2: A (0 h) -> B (9 h) inside P, which made the same move meanwhile: not again
    # item I3: A (0 h) -> C (5 h): one move, 5 h
    # moves = 2, hours = 11, money = 2 x 100 + 11 x 20 = 420
    r = row(wastes(log, rates), "transport")
    assert r["measurable"] is True
    assert r["count"] == 2
    assert r["hours"] == pytest.approx(11.0)
    assert r["money"] == pytest.approx(420.0)
    detail = waste_evidence(log, "transport", rates).to_pylist()
    assert {(d["object_id"], d["from_location"], d["to_location"]) for d in detail} == {
        ("P", "A", "B"),
        ("I3", "A", "C"),
    }
    assert sum(d["money"] for d in detail) == pytest.approx(420.0)
    # only trade items: I3's move; I1 and I2 still travelled on their pallet
    items = row(wastes(log, rates, object_type="trade item"), "transport")
    assert (items["count"], items["hours"]) == (1, pytest.approx(5.0))


# --- Defects and Overprocessing ------------------------------------------------------------------


def defects_log() -> Chain:
    c = Chain()
    x = {"X": ("case", "case")}
    # X: A(0) B(1) A(3) C(4) A(6): A again after B (loop 0 -> 3 h) and after C (3 -> 6 h)
    for i, (act, t) in enumerate([("A", 0), ("B", 1), ("A", 3), ("C", 4), ("A", 6)]):
        c.event(f"x{i}", act, t, x)
    y = {"Y": ("case", "case")}
    # Y: A A inspecting B inspecting: A twice in a row is not a loop; the inspection done
    # again after B is overprocessing, not rework
    for i, (act, t) in enumerate(
        [("A", 0), ("A", 1), ("inspecting", 2), ("B", 3), ("inspecting", 4)]
    ):
        c.event(f"y{i}", act, t, y)
    # two items found damaged in one event (the location is not a defect)
    c.event(
        "dmg",
        "inspecting",
        7,
        {"I1": ("trade item", "epc"), "I2": ("trade item", "epc"), "L": ("location", "readPoint")},
        disposition="damaged",
    )
    # an event its sender declared wrong
    c.event(
        "err",
        "receiving",
        8,
        {"I1": ("trade item", "epc")},
        **{"errorDeclaration.reason": "incorrect_data"},
    )
    c.event("fail", "failed delivery", 9, {"Z": ("case", "case")})
    return c


def test_defects_hand_computed() -> None:
    log = defects_log().log()
    # rework: X's A at 3 h (after B; loop 3 h) and at 6 h (after C; loop 3 h) = 2, 6 h
    # non-conforming: I1 and I2 damaged = 2; error declaration: 1; failed delivery: 1
    # Y's A A is a repeat in a row, not a loop; Y's second inspecting is overprocessing
    # defects = 2 + 2 + 1 + 1 = 6; money = 6 x 25 = 150
    r = row(wastes(log), "defects")
    assert r["count"] == 6
    assert r["hours"] == pytest.approx(6.0)
    assert r["money"] == pytest.approx(150.0)
    detail = waste_evidence(log, "defects").to_pylist()
    kinds = sorted((d["kind"], d["object_id"] or "") for d in detail)
    assert kinds == [
        ("defect step", "Z"),
        ("error declaration", ""),
        ("non-conforming", "I1"),
        ("non-conforming", "I2"),
        ("rework", "X"),
        ("rework", "X"),
    ]
    # overprocessing: one repeated inspection (Y) x 0.25 h standard time x 40 = 10
    op = row(wastes(log), "overprocessing")
    assert (op["count"], op["hours"], op["money"]) == (1, pytest.approx(0.25), pytest.approx(10))


def test_start_and_complete_of_one_step_is_one_pass_not_a_loop() -> None:
    c = Chain()
    w = {"W": ("case", "case")}
    steps = [
        ("A", "start"),
        ("A", "complete"),
        ("B", "complete"),
        ("A", "start"),
        ("A", "complete"),
    ]
    for i, (act, life) in enumerate(steps):
        c.event(f"w{i}", act, i, w, **{"lifecycle:transition": life})
    # completions only: A(1) B(2) A(4): one loop, from 1 h to 4 h
    r = row(wastes(c.log()), "defects")
    assert (r["count"], r["hours"]) == (1, pytest.approx(3.0))


def test_a_step_done_once_per_item_is_not_rework_of_the_order() -> None:
    c = Chain()
    order = {"O": ("orders", "order")}
    c.event("p", "place order", 0, order)
    c.event("k1", "pick item", 1, {**order, "I1": ("items", "item")})
    c.event("c", "confirm order", 2, order)
    c.event("k2", "pick item", 3, {**order, "I2": ("items", "item")})
    c.event("k3", "pick item", 4, {**order, "I1": ("items", "item")})
    # the order's "pick item" at 3 h is for another item (I2): the step's multiplicity.
    # I1 picked again at 4 h after "pick item" of I2 for the same order: I1's trace is
    # pick(1) pick(4), a repeat in a row - not a loop either. The order's pick at 4 h follows
    # the pick of I2 (same step): not a loop. No rework at all.
    assert row(wastes(c.log()), "defects")["count"] == 0
    c.event("k4", "confirm order", 5, order)
    c.event("k5", "pick item", 6, {**order, "I1": ("items", "item")})
    # the order is confirmed again at 5 h (after picks): a loop of the order; and I1 is
    # picked for it again at 6 h after that confirmation: the order's "pick item" at 6 h
    # is for the same item as its previous pick (4 h), so not multiplicity: a loop of the
    # order. I1's own trace is pick(1) pick(4) pick(6), in a row: no loop of I1.
    detail = waste_evidence(c.log(), "defects").to_pylist()
    assert sorted((d["object_id"], d["step"]) for d in detail) == [
        ("O", "confirm order"),
        ("O", "pick item"),
    ]


# --- Overproduction ------------------------------------------------------------------------------


def test_overproduction_objects_made_and_never_used() -> None:
    c = Chain()
    site = {"S": ("location", "bizLocation")}
    made = {f"{GTIN}/21/{k}": ("trade item", "epc") for k in (1, 2, 3)}
    c.event("mk", "commissioning", 0, {**made, **site}, eventType="ObjectEvent", action="ADD")
    lot = "https://id.gs1.org/01/04012345555554/10/R7"
    c.event(
        "tf",
        "TransformationEvent",
        0.5,
        {lot: ("product lot", "output", 5.0), **site},
        eventType="TransformationEvent",
    )
    c.event(
        "pk",
        "packing",
        1,
        {f"{GTIN}/21/1": ("trade item", "child"), f"{GTIN}/21/2": ("trade item", "child")},
        eventType="AggregationEvent",
        action="ADD",
    )
    c.event("ins", "inspecting", 2, {f"{GTIN}/21/3": ("trade item", "epc")})
    late = {f"{GTIN}/21/4": ("trade item", "epc")}
    c.event("mk2", "commissioning", 3, late, eventType="ObjectEvent", action="ADD")
    rates = Rates(unit_values={GTIN: 7.5})
    # item 3: made at 0 h, only inspected since (no use); 5 kg of lot R7 made at 0.5 h, never
    # used; item 4 made at 3 h, after the last use of anything (packing at 1 h): too soon.
    # units = 1 + 5 = 6; money = 1 x 7.5 + 5 x 1.0 (default) = 12.5
    r = row(wastes(c.log(), rates), "overproduction")
    assert (r["count"], r["money"], r["hours"]) == (6, pytest.approx(12.5), None)
    detail = never_used(c.log(), rates).to_pylist()
    assert sorted(d["object_id"] for d in detail) == sorted([f"{GTIN}/21/3", lot])
    assert sum(d["money"] for d in detail) == pytest.approx(12.5)
    # nothing left for a customer here (no sale, no shipment outside): the units beyond
    # demand cannot be told, and the evidence says what it needs
    assert "not measurable — needs where goods leave to the customer" in r["evidence"]
    families = waste_evidence(c.log(), "overproduction", rates).to_pylist()
    assert {f["family"]: f["never_used"] for f in families} == {GTIN: 1.0, lot[:36]: 5.0}
    assert all(f["over_demand"] is None and f["days_of_demand"] is None for f in families)


# --- Motion --------------------------------------------------------------------------------------


def test_motion_of_a_resource_between_read_points_within_a_site() -> None:
    c = Chain()

    def at(rp: str, site: str) -> dict[str, tuple[str, str]]:
        return {
            "R": ("resource", "resource"),
            rp: ("location", "readPoint"),
            site: ("location", "bizLocation"),
            "X": ("case", "case"),
        }

    c.event("m1", "pick", 0, at("rp1", "S"))
    c.event("m2", "pack", 0.5, at("rp2", "S"))  # rp1 -> rp2 within S: 0.5 h
    c.event("m3", "label", 1, at("rp2", "S"))  # same read point: no motion
    c.event("m4", "load", 2, at("rp3", "S2"))  # another site: transport, not motion
    r = row(wastes(c.log(), Rates(motion_per_hour=40)), "motion")
    # one move, 0.5 h, money = 0.5 x 40 = 20
    assert (r["measurable"], r["count"], r["hours"], r["money"]) == (True, 1, 0.5, 20)


# --- Waiting -------------------------------------------------------------------------------------


def test_waiting_hours_priced_at_the_rate_of_the_object_type() -> None:
    c = Chain()
    x = {"X": ("case", "case")}
    for i, (act, life, t) in enumerate(
        [("A", "start", 0), ("A", "complete", 1), ("B", "start", 3), ("B", "complete", 4)]
    ):
        c.event(f"x{i}", act, t, x, **{"lifecycle:transition": life})
    # lead 4 h, processing (0-1) + (3-4) = 2 h, waiting 2 h; money = 2 x 3 = 6
    r = row(wastes(c.log(), Rates(waiting_per_hour_by_type={"case": 3.0})), "waiting")
    assert (r["count"], r["hours"], r["money"]) == (1, pytest.approx(2), pytest.approx(6))


# --- the demo chain and the synthetic EPCIS chain ------------------------------------------------


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "node.duckdb"
    with Store(path) as store:
        for f in sorted(EXAMPLE.iterdir()):
            assert store.ingest_file(f).status == "accepted"
    return path


def test_demo_chain(demo_store: Path) -> None:
    log = Log.open(demo_store)
    view = wastes(log, target_days=2)
    # the third batch's 12 bottles failed inspection (non_conformant) and the DC declared its
    # receiving of pallet 3 wrong (errorDeclaration): 12 + 1 defects
    defects = row(view, "defects")
    assert defects["count"] == 13 and "error declaration" in defects["evidence"]
    # four pallets plant -> DC, shipped and received (local times +09:00):
    # 11-03 08:00 -> 15:00 (7 h), 11-06 16:00 -> 11-07 15:00 (23 h),
    # 11-07 08:00 -> 15:00 (7 h), 11-09 08:00 -> 15:00 (7 h) = 44 h; the bottles rode along
    transport = row(view, "transport")
    assert (transport["count"], transport["hours"]) == (4, pytest.approx(44.0))
    # overproduction: every bottle made was packed (none made and never used), but the plant
    # made more than the customers took (recomputed from the raw documents below)
    raw = raw_demo()
    over = raw["made"] - raw["taken"]
    per_day = raw["taken"] / raw["span_days"]
    assert (raw["made"], raw["taken"], over) == (48, 24, 24)
    op = row(view, "overproduction")
    assert op["count"] == over and op["money"] == pytest.approx(over * 1.0)
    assert "made and never used downstream: 0.0 units" in op["evidence"]
    (family,) = view.meta["overproduction"]
    assert family["family"] == GTIN and family["unit"] == "pieces"
    assert (family["made"], family["taken"], family["over_demand"]) == (48, 24, 24)
    assert family["per_day"] == pytest.approx(per_day)
    assert family["days_of_demand"] == pytest.approx(over / per_day)
    assert round(family["days_of_demand"]) == 10 and round(family["per_day"], 1) == 2.4
    assert family["never_used"] == 0
    assert waste_evidence(log, "overproduction").to_pylist() == view.meta["overproduction"]
    # inventory: the holding cost of the stock above 2 days of supply over the log's span
    inventory = waste_evidence(log, "inventory", target_days=2)
    first = datetime(2026, 11, 1, 21, 0, tzinfo=UTC)  # 11-02 06:00 +09:00, the first event
    last = datetime(2026, 11, 12, 7, 0, tzinfo=UTC) - timedelta(hours=9)  # DC's last shipping
    span_days = (last - first).total_seconds() / 86400
    excess = sum(inventory.table.column("excess_units").to_pylist())
    assert excess > 0
    assert row(view, "inventory")["money"] == pytest.approx(excess * 1.0 * 0.25 * span_days / 365)
    assert pareto(view).table.column("cumulative_share")[-1].as_py() == 1.0


def raw_demo() -> dict[str, float]:
    """The demo's made, taken and span read straight from its EPCIS documents (json, lxml):
    made = the EPCs a transformation outputs or an ObjectEvent ADD commissions; taken = the
    EPCs shipped to a location where no document records an event (the retailers); span =
    first to last event time, in days."""
    events: list[dict[str, Any]] = []
    for path in sorted(EXAMPLE.glob("*.jsonld")):
        events += json.loads(path.read_text())["epcisBody"]["eventList"]
    xml = etree.parse(str(EXAMPLE / "2-umeda-distribution-dc.xml"))
    for node in xml.iterfind(".//EventList/*"):
        events.append(
            {
                "type": node.tag,
                "eventTime": node.findtext("eventTime"),
                "epcList": [e.text for e in node.iterfind("epcList/epc")],
                "bizStep": (node.findtext("bizStep") or "").rsplit(":", 1)[-1],
                "bizLocation": {"id": node.findtext("bizLocation/id")},
                "readPoint": {"id": node.findtext("readPoint/id")},
                "destinationList": [
                    {"type": d.get("type").rsplit(":", 1)[-1], "destination": d.text}
                    for d in node.iterfind("destinationList/destination")
                ],
            }
        )
    made: set[str] = set()
    for e in events:
        made.update(e.get("outputEPCList", []))
        if e["type"] == "ObjectEvent" and e.get("action") == "ADD":
            made.update(e.get("epcList", []))
    places = {
        e[key]["id"].rsplit(".", 1)[0]  # the site: the sgln without its extension
        for e in events
        for key in ("bizLocation", "readPoint")
        if e.get(key) and e[key]["id"]
    }
    taken: set[str] = set()
    for e in events:
        to = [d["destination"] for d in e.get("destinationList", []) if d["type"] == "location"]
        if (
            e.get("bizStep") == "shipping"
            and to
            and all(t.rsplit(".", 1)[0] not in places for t in to)
        ):
            taken.update(e.get("epcList", []))
    times = [datetime.fromisoformat(e["eventTime"]) for e in events]
    span = (max(times) - min(times)).total_seconds() / 86400
    return {"made": len(made), "taken": len(taken), "span_days": span}


def test_synthetic_chain_transport_matches_the_generator(tmp_path: Path) -> None:
    n = 150
    path = tmp_path / "chain.json"
    write_synthetic_epcis_json(path, n, seed=3)
    store = tmp_path / "node.duckdb"
    with Store(store) as s:
        assert s.ingest_file(path).status == "accepted"
    # independently: each pallet's DC receiving time minus its shipping time, from the events
    shipped: dict[str, datetime] = {}
    transit = 0.0
    moves = 0
    for event in synthetic_events(n, seed=3):
        if event.get("bizStep") == "shipping":
            shipped[event["epcList"][0]] = datetime.fromisoformat(event["eventTime"])
        elif event.get("bizStep") == "receiving" and "epcList" in event:
            at = datetime.fromisoformat(event["eventTime"])
            transit += (at - shipped[event["epcList"][0]]).total_seconds() / 3600
            moves += 1
    r = row(wastes(Log.open(store)), "transport")
    assert (r["count"], r["hours"]) == (moves, pytest.approx(transit))
    assert moves == n // 5


# --- real XES logs against an independent count ---------------------------------------------------


def independent_rework(ocel: Ocel) -> int:
    """Rework as the doc defines it, counted with pandas straight from the reader's tables:
    per case, completions in time order (ties as listed), an activity again after another."""
    ev = ocel.events.to_pandas().reset_index(names="order")
    rel = ocel.event_objects.to_pandas()
    rel = rel[rel.ocel_qualifier == "case"][["ocel_event_id", "ocel_object_id"]]
    attrs = ocel.event_attributes.to_pandas()
    life = attrs[attrs.ocel_name == "lifecycle:transition"][["ocel_id", "ocel_value"]]
    df = ev.merge(rel, left_on="ocel_id", right_on="ocel_event_id")
    df = df.merge(life, on="ocel_id", how="left")
    df = df[df.ocel_value.isna() | (df.ocel_value.str.lower() == "complete")]
    count = 0
    for _, trace in df.sort_values(["ocel_object_id", "ocel_time", "order"]).groupby(
        "ocel_object_id"
    ):
        seen: set[str] = set()
        previous = None
        for activity in trace.ocel_type:
            if activity in seen and activity != previous:
                count += 1
            seen.add(activity)
            previous = activity
    return count


@pytest.mark.parametrize(
    ("name", "fixture"),
    [("running-example.xes", "running_example_xes"), ("receipt.xes.gz", "receipt_store")],
)
def test_rework_on_real_logs_matches_an_independent_count(
    name: str, fixture: str, request: pytest.FixtureRequest
) -> None:
    ocel = Ocel.concat(read_xes(LOGS / name))
    expected = independent_rework(ocel)
    assert expected > 0
    log = Log.open(request.getfixturevalue(fixture))
    # no inspecting steps named: every repeated step after another is rework
    view = wastes(log, inspection_steps=())
    r = row(view, "defects")
    named_failures = [
        d
        for d in waste_evidence(log, "defects", inspection_steps=()).to_pylist()
        if d["kind"] != "rework"
    ]
    assert named_failures == []  # neither log has failure steps or dispositions
    assert r["count"] == expected
    assert r["money"] == pytest.approx(expected * Rates().defect_cost)


# --- invariants ----------------------------------------------------------------------------------

money_values = st.one_of(st.none(), st.floats(0, 1e9, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), money_values, money_values), min_size=8, max_size=8))
def test_pareto_shares_sum_to_one_and_never_increase(rows: list[tuple[Any, ...]]) -> None:
    table = pa.table(
        {
            "waste": list(WASTES),
            "measurable": [m for m, _, _ in rows],
            "hours": [hh for _, _, hh in rows],
            "money": [mo for _, mo, _ in rows],
            "count": [1.0] * 8,
            "evidence": [""] * 8,
        }
    )
    ranked = pareto(View("wastes", table)).to_pylist()
    kept = [w for (m, mo, _), w in zip(rows, WASTES, strict=True) if m and mo is not None]
    assert sorted(r["waste"] for r in ranked) == sorted(kept)
    money = [r["money"] for r in ranked]
    assert money == sorted(money, reverse=True)
    if sum(money) > 0:
        shares = [r["share"] for r in ranked]
        assert math.fsum(shares) == pytest.approx(1.0)
        assert all(a >= b for a, b in itertools.pairwise(shares))
        assert ranked[-1]["cumulative_share"] == 1.0
        cumulative = [r["cumulative_share"] for r in ranked]
        assert cumulative == sorted(cumulative)
    else:
        assert all(r["share"] is None for r in ranked)


rate = st.floats(0, 1e4, allow_nan=False)


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rate, rate, rate, rate, rate)
def test_money_follows_the_rates(
    per_move: float, per_hour: float, motion: float, overprocessing: float, waiting: float
) -> None:
    rates = Rates(
        transport_per_move=per_move,
        transport_per_hour=per_hour,
        motion_per_hour=motion,
        overprocessing_per_hour=overprocessing,
        waiting_per_hour=waiting,
    )
    view = wastes(_RATED_LOG, rates, value_adding=["B", "receiving"])
    t = row(view, "transport")
    assert t["money"] == pytest.approx(t["count"] * per_move + t["hours"] * per_hour)
    for waste, per in (("overprocessing", overprocessing), ("waiting", waiting)):
        r = row(view, waste)
        assert r["measurable"] and r["hours"] > 0, waste
        assert r["money"] == pytest.approx(r["hours"] * per), waste
    d = row(view, "defects")
    assert d["money"] == pytest.approx(d["count"] * rates.defect_cost)


def _rated_log() -> Log:
    c = transport_log()
    for i, (act, life, t) in enumerate(
        [("inspecting", "complete", 10), ("B", "complete", 11), ("inspecting", "complete", 12)]
    ):
        c.event(f"q{i}", act, t, {"I3": ("trade item", "epc")}, **{"lifecycle:transition": life})
    return c.log()


_RATED_LOG = _rated_log()


# --- the same on Spark ---------------------------------------------------------------------------


def same_tables(a: pa.Table, b: pa.Table) -> None:
    assert a.column_names == b.column_names
    assert a.num_rows == b.num_rows
    for name in a.column_names:
        left, right = a.column(name).to_pylist(), b.column(name).to_pylist()
        for x, y in zip(left, right, strict=True):
            if isinstance(x, float) and y is not None:
                assert x == pytest.approx(y, rel=1e-9), name
            else:
                assert x == y, name


def test_same_wastes_on_spark(demo_store: Path, both_engines: Any) -> None:
    duck, spark = both_engines(demo_store)
    # one object type keeps the Spark queries few (Spark pays about a second per query)
    kw: dict[str, Any] = {"object_type": "logistic unit", "target_days": 2}
    on_duck = wastes(duck, **kw).table
    assert row(View("w", on_duck), "transport")["count"] == 4
    same_tables(on_duck, wastes(spark, **kw).table)
    same_tables(
        waste_evidence(duck, "transport", **kw).table,
        waste_evidence(spark, "transport", **kw).table,
    )


# --- Which object types are handled ---------------------------------------------------------------


def test_handled_types_leave_out_types_only_named_as_context() -> None:
    """A type counts as handled when some event handles one of its objects (not only names it
    as a resource, a place, a source or destination, a business transaction); a type
    that is context by nature (location, party…) never does."""
    from keiretsu.analytics.waste import _Scope

    c = Chain()
    c.event("e1", "pick", 0, {"O1": ("order", "order"), "T1": ("truck", "resource")})
    c.event("e2", "ship", 1, {"O1": ("order", "order"), "S": ("location", "bizLocation")})
    # a forklift named as a resource here, and handled (moved) there: handled
    c.event("e3", "move", 2, {"F1": ("forklift", "resource")})
    c.event("e4", "repair", 3, {"F2": ("forklift", "forklift")})
    # a party's object is context whatever role it has
    c.event("e5", "bill", 4, {"O1": ("order", "order"), "P": ("party", "customer")})
    scope = _Scope(c.log(), Rates(), None, None, None, None)
    assert scope.types() == ["forklift", "order"]


@given(
    minutes=st.lists(st.integers(0, 600), min_size=2, max_size=40),
    order=st.randoms(use_true_random=False),
)
def test_a_total_of_hours_reads_the_same_whatever_order_it_was_summed_in(
    minutes: list[int], order: Any
) -> None:
    """The notes print totals (hours in transit, waiting…) that engines sum in their own
    order: the store's traces and the windows over the same moves printed 0.4 h and 0.3 h
    for 21 minutes (0.35 h, summed to 0.35000000000000003 one way and 0.34999999999999998
    the other)."""
    from keiretsu.analytics.waste import _fmt

    hours = [m / 60 for m in minutes]
    shuffled = list(hours)
    order.shuffle(shuffled)
    assert _fmt(sum(hours)) == _fmt(sum(shuffled))
    assert _fmt(sum(hours)) == _fmt(sum(minutes) / 60)
