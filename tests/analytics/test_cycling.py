"""Object types that go round (trucks, forklifts, people): a hand-built log with the rounds
counted by hand, the OCEL 2.0 logistics log against plain sqlite3 reading of the raw file, and
the wastes that leave those rounds out of Defects."""

from __future__ import annotations

import collections
import itertools
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from _data import DATA
from keiretsu.analytics import Log, View
from keiretsu.analytics.cycling import (
    MIN_ROUNDS,
    completions,
    cycling_object_types,
    name_hints_a_resource,
    object_rounds,
)
from keiretsu.analytics.waste import waste_evidence, wastes
from keiretsu.model import OcelBuilder

LOGISTICS = DATA / "ocel" / "logistics.sqlite"
T0 = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)


def by_type(view: View) -> dict[str, dict[str, Any]]:
    return {r["object_type"]: r for r in view.to_pylist()}


# --- a hand-built log ---------------------------------------------------------------------------


def hand_log() -> Log:
    b = OcelBuilder()
    n = 0

    def event(activity: str, hour: float, objects: dict[str, str], **attrs: str) -> None:
        nonlocal n
        n += 1
        eid = f"e{n}"
        b.add_event(eid, activity, T0 + timedelta(hours=hour), attrs or None)
        for oid, otype in objects.items():
            b.add_object(oid, otype)
            b.relate(eid, oid, otype)

    # two trucks: load load drive | load drive | load drive  -> 3 rounds each (the two loads
    # in a row are one round: two things loaded at once)
    for t in ("T1", "T2"):
        for k, act in enumerate(["load", "load", "drive", "load", "drive", "load", "drive"]):
            event(act, k, {t: "Truck"})
    # orders flow once: register, pick, ship; O3 is picked again after shipping (a loop, but
    # its first step, register, never comes again): 1 round each
    for o in ("O1", "O2", "O3"):
        for k, act in enumerate(["register", "pick", "ship"]):
            event(act, k, {o: "order"})
    event("pick", 5, {"O3": "order"})
    # a clerk who only ever confirms: a one-step cycle, 4 passes = 4 rounds
    for k in range(4):
        event("confirm", k, {"C1": "clerk"})
    # containers with a resource-like name, each making one trip: never cycling on the name
    for c in ("K1", "K2"):
        for k, act in enumerate(["pick up", "fill", "fill", "return"]):
            event(act, k, {c: "Container"})
    # widgets (no hint): W1 goes round 3 times, W2 and W3 once: 1 of 3 = 33% < 50%
    # totes (hint): the same traces, 33% >= 25%: cycling
    for kind, prefix in (("widget", "W"), ("tote", "B")):
        for k, act in enumerate(["a", "b", "a", "b", "a", "b"]):
            event(act, k, {f"{prefix}1": kind})
        for i in (2, 3):
            for k, act in enumerate(["a", "b"]):
                event(act, k, {f"{prefix}{i}": kind})
    # an employee with start/complete events: start A, complete A, start B, complete B, ...
    # completions only: A B A B A -> 3 rounds
    for k, (act, life) in enumerate(
        [("A", "start"), ("A", "complete"), ("B", "start"), ("B", "complete")] * 2
        + [("A", "start"), ("A", "complete")]
    ):
        event(act, k, {"E1": "employee"}, **{"lifecycle:transition": life})
    return Log.from_ocel(b.build())


def test_rounds_counted_by_hand() -> None:
    log = hand_log()
    rounds = {r["object_id"]: r["rounds"] for r in log.execute(object_rounds(log)).to_pylist()}
    assert rounds == {
        "T1": 3,
        "T2": 3,
        "O1": 1,
        "O2": 1,
        "O3": 1,
        "C1": 4,
        "K1": 1,
        "K2": 1,
        "W1": 3,
        "W2": 1,
        "W3": 1,
        "B1": 3,
        "B2": 1,
        "B3": 1,
        "E1": 3,
    }


def test_which_types_cycle_by_hand() -> None:
    view = cycling_object_types(hand_log())
    rows = by_type(view)
    assert view.meta["cycling"] == ["Truck", "clerk", "employee", "tote"]
    # trucks: 2 of 2 objects with >= 3 rounds; rounds 3 + 3 over 2 objects = 3.0 each;
    # 14 events over 6 rounds
    truck = rows["Truck"]
    assert (truck["objects"], truck["cycling_objects"], truck["share"]) == (2, 2, 1.0)
    assert truck["mean_rounds"] == pytest.approx(3.0)
    assert truck["events_per_round"] == pytest.approx(14 / 6)
    assert truck["first_step"] == "load"
    # the name is a hint, never enough alone: containers making one trip each flow
    assert rows["Container"]["name_hint"] is True and rows["Container"]["cycling"] is False
    # the same 1-in-3 share: a widget flows (bar 50%), a tote cycles (bar 25% with a hint)
    assert rows["widget"]["share"] == pytest.approx(1 / 3) and not rows["widget"]["cycling"]
    assert rows["tote"]["share"] == pytest.approx(1 / 3) and rows["tote"]["cycling"]
    assert not rows["order"]["cycling"]
    # the cycling types come first
    assert [r["cycling"] for r in view.to_pylist()] == [True] * 4 + [False] * 3


def test_name_hints() -> None:
    assert name_hints_a_resource("Truck") and name_hints_a_resource("forklifts")
    assert name_hints_a_resource("employees") and name_hints_a_resource("Returnable Tote")
    # the thing named is the last word: a customer order is an order
    assert not name_hints_a_resource("Customer Order")
    assert not name_hints_a_resource("orders") and not name_hints_a_resource("case")


def test_min_rounds_must_mean_a_round_made_again() -> None:
    with pytest.raises(ValueError, match="min_rounds"):
        cycling_object_types(hand_log(), min_rounds=1)


def test_completions_keep_a_log_s_own_statuses() -> None:
    b = OcelBuilder()
    for k, status in enumerate(["In Progress", "Awaiting Assignment", "start", "complete"]):
        b.add_event(f"s{k}", "step", T0 + timedelta(hours=k), {"lifecycle:transition": status})
        b.add_object("X", "case")
        b.relate(f"s{k}", "X", "case")
    log = Log.from_ocel(b.build())
    kept = log.execute(completions(log)).column("event_id").to_pylist()
    # XES "start" is not a completion; a log's own statuses (BPI Challenge 2013) are passes
    assert sorted(kept) == ["s0", "s1", "s3"]


# --- the OCEL 2.0 logistics log, against plain sqlite3 -----------------------------------------


def raw_traces(path: Path) -> dict[str, tuple[str, list[str]]]:
    """Every object's steps in order, read with sqlite3 from the OCEL 2.0 tables: events by
    time, events at one instant in the order the file lists them (type table by type table, as
    ``event_map_type`` names them)."""
    con = sqlite3.connect(path)
    try:
        tables = [t for (t,) in con.execute("SELECT ocel_type_map FROM event_map_type")]
        time: dict[str, str] = {}
        order: dict[str, int] = {}
        for t in tables:
            for eid, at in con.execute(f'SELECT ocel_id, ocel_time FROM "event_{t}"'):
                time[eid] = at
                order[eid] = len(order)
        activity = dict(con.execute("SELECT ocel_id, ocel_type FROM event"))
        types = dict(con.execute("SELECT ocel_id, ocel_type FROM object"))
        events: dict[str, set[str]] = collections.defaultdict(set)
        for eid, oid in con.execute("SELECT ocel_event_id, ocel_object_id FROM event_object"):
            if oid in types:  # the file relates some objects it never declares
                events[oid].add(eid)
    finally:
        con.close()
    out = {}
    for oid, evs in events.items():
        ordered = sorted(evs, key=lambda e: (time[e], order[e]))
        out[oid] = (types[oid], [activity[e] for e in ordered])
    return out


def rounds_of(steps: list[str]) -> int:
    """Rounds as the module defines them: a one-step trace makes one per pass; otherwise one,
    plus one each time the first step comes again after a different step."""
    if len(set(steps)) == 1:
        return len(steps)
    return 1 + sum(
        1 for prev, step in itertools.pairwise(steps) if step == steps[0] and prev != step
    )


@pytest.fixture(scope="module")
def raw() -> dict[str, tuple[str, list[str]]]:
    return raw_traces(LOGISTICS)


def test_logistics_trucks_and_forklifts_go_round(
    logistics_store: Path, raw: dict[str, tuple[str, list[str]]]
) -> None:
    view = cycling_object_types(Log.open(logistics_store))
    rows = by_type(view)
    per_type: dict[str, list[int]] = collections.defaultdict(list)
    for object_type, steps in raw.values():
        per_type[object_type].append(rounds_of(steps))
    assert set(rows) == set(per_type)
    for object_type, rounds in per_type.items():
        row = rows[object_type]
        assert row["objects"] == len(rounds), object_type
        assert row["cycling_objects"] == sum(r >= MIN_ROUNDS for r in rounds), object_type
        assert row["mean_rounds"] == pytest.approx(sum(rounds) / len(rounds)), object_type
    # every truck comes back to loading after driving to the terminal, round after round
    trucks = [steps for t, steps in raw.values() if t == "Truck"]
    assert trucks and all(rounds_of(s) >= 10 for s in trucks)
    assert all(set(s) == {"Load Truck", "Drive to Terminal"} for s in trucks)
    assert view.meta["cycling"] == ["Forklift", "Truck"]
    # the containers are named like equipment but make one trip each: they flow
    assert rows["Container"]["cycling"] is False


def test_logistics_defects_have_no_truck_rework(
    logistics_store: Path, raw: dict[str, tuple[str, list[str]]]
) -> None:
    log = Log.open(logistics_store)
    trucks = {oid for oid, (t, _) in raw.items() if t == "Truck"}
    view = wastes(log)
    detail = waste_evidence(log, "defects").to_pylist()
    assert not any(d["object_id"] in trucks for d in detail)
    assert view.meta["cycling_types"] == ["Forklift", "Truck"]
    note = next(n for n in view.notes if n.startswith("defects: not counted"))
    assert "Truck" in note and "cycling_types=[]" in note
    # counted again on request: each truck "rework" is a pass of Load Truck after Drive to
    # Terminal - the truck's next round, as its raw trace shows
    everything = waste_evidence(log, "defects", cycling_types=[]).to_pylist()
    truck_rows = [d for d in everything if d["object_id"] in trucks]
    assert truck_rows and all(d["kind"] == "rework" for d in truck_rows)
    assert {d["step"] for d in truck_rows} == {"Load Truck"}
    # an explicit list overrides the detection
    only_forklifts = wastes(log, cycling_types=["Forklift"])
    assert only_forklifts.meta["cycling_types"] == ["Forklift"]
    defects = next(r for r in only_forklifts.to_pylist() if r["waste"] == "defects")
    assert defects["count"] == len([d for d in everything if d["object_type"] != "Forklift"])
