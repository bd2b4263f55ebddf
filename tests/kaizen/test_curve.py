"""The improvement curve on a tiny log whose waste is counted by hand.

Three weeks (from Monday 2 November 2026, UTC) of pallets moved between two sites: the node's
own moves each week and, in the third, one move a partner shared (its events kept under
``urn:keiretsu:from:dc:``). Transport is the only waste the log shows: a move costs 50 and
10 an hour in transit (the default rates), so by hand

==========  ========================  ===========  ===================
week        node's own moves          node         network (+ partner)
==========  ========================  ===========  ===================
2 Nov       6 h and 24 h              30 h, 400    30 h, 400
9 Nov       3 h                       3 h, 80      3 h, 80
16 Nov      2 h (partner: 10 h)       2 h, 70      12 h, 220
==========  ========================  ===========  ===================

A kaizen adopted on Tuesday 10 November leaves the first two weeks before it: the baseline is
(400 + 80) / 2 = 240 a week and the third week gains 240 − 220 = 20 (network).

Each week's figures are also recomputed by calling ``wastes`` on a log built here from that
week's events alone (the slicing written independently of the curve's).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from keiretsu.analytics.log import Log
from keiretsu.analytics.view import View
from keiretsu.analytics.waste import WASTES, wastes
from keiretsu.kaizen import Target, move, new_experiment
from keiretsu.kaizen.curve import Adoption, adoptions, improvement_curve, render_svg
from keiretsu.model import OcelBuilder
from keiretsu.sim.scenario import Variant
from keiretsu.store import Store

T0 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
PARTNER = "urn:keiretsu:from:dc:"
# (pallet, from, to, hours after T0 shipped, hours after T0 received, recorded by a partner?)
MOVES = [
    ("P1", "A", "B", 10, 16, False),
    ("P2", "A", "B", 36, 60, False),
    ("P3", "A", "B", 8 * 24 + 8, 8 * 24 + 11, False),
    ("P4", "C", "D", 15 * 24, 15 * 24 + 10, True),
    ("P5", "A", "B", 16 * 24, 16 * 24 + 2, False),
]
ADOPTED = T0 + timedelta(days=8)  # Tuesday 10 November, 00:00 UTC


def build(moves: Sequence[tuple[str, str, str, float, float, bool]]) -> Log:
    b = OcelBuilder()
    for pallet, origin, dest, shipped, received, partner in moves:
        prefix = PARTNER if partner else ""
        for eid, step, hours, site in (
            (f"{prefix}{pallet}-ship", "shipping", shipped, origin),
            (f"{prefix}{pallet}-recv", "receiving", received, dest),
        ):
            b.add_event(eid, step, T0 + timedelta(hours=hours), None)
            b.add_object(pallet, "logistic unit")
            b.relate(eid, pallet, "epc", None, None)
            b.add_object(site, "location")
            b.relate(eid, site, "bizLocation", None, None)
    return Log.from_ocel(b.build())


@pytest.fixture(scope="module")
def network_curve() -> View:
    return improvement_curve(
        build(MOVES),
        scope="network",
        adopted=[Adoption("kz-less-transit", ADOPTED, "Milk run A to B")],
    )


def test_each_week_is_the_waste_counted_by_hand(network_curve: View) -> None:
    rows = network_curve.to_pylist()
    assert [r["period_start"] for r in rows] == [T0 + timedelta(weeks=k) for k in range(3)]
    assert [r["period_end"] - r["period_start"] for r in rows] == [timedelta(weeks=1)] * 3
    assert [r["events"] for r in rows] == [4, 2, 4]
    assert [r["transport_hours"] for r in rows] == pytest.approx([30.0, 3.0, 12.0])
    assert [r["transport_money"] for r in rows] == pytest.approx([400.0, 80.0, 220.0])
    # nothing else wastes money in these moves: the totals are Transport's
    assert [r["hours"] for r in rows] == pytest.approx([30.0, 3.0, 12.0])
    assert [r["money"] for r in rows] == pytest.approx([400.0, 80.0, 220.0])


def test_a_week_is_wastes_on_that_weeks_events_alone(network_curve: View) -> None:
    # the third week: the node's own move and the partner's (one week only: each wastes call
    # takes a few seconds)
    row = network_curve.to_pylist()[2]
    lo, hi = 24 * 7 * 2, 24 * 7 * 3
    week = [m for m in MOVES if lo <= m[3] < hi and lo <= m[4] < hi]
    assert {m[0] for m in week} == {"P4", "P5"}
    expected = {r["waste"]: r for r in wastes(build(week)).to_pylist()}
    for w in WASTES:
        e = expected[w]
        assert row[f"{w}_hours"] == (pytest.approx(e["hours"]) if e["measurable"] else None)
        assert row[f"{w}_money"] == (pytest.approx(e["money"]) if e["measurable"] else None)


def test_the_adoption_is_marked_and_the_gain_is_the_baseline_less_each_later_week(
    network_curve: View,
) -> None:
    view = network_curve
    rows = view.to_pylist()
    assert [r["adopted"] for r in rows] == [[], ["kz-less-transit"], []]
    meta = view.meta
    assert meta["baseline_money"] == pytest.approx((400 + 80) / 2)
    assert meta["baseline_hours"] == pytest.approx((30 + 3) / 2)
    assert [r["gain_money"] for r in rows] == [None, None, pytest.approx(240 - 220)]
    assert [r["gain_hours"] for r in rows] == [None, None, pytest.approx(16.5 - 12)]
    assert rows[-1]["cumulative_gain_money"] == pytest.approx(20.0)
    (a,) = meta["adoptions"]
    assert a["period_start"] == T0 + timedelta(weeks=1)
    assert (a["periods_before"], a["periods_after"]) == (2, 1)
    # one adoption: the change of the rate at it is the baseline less the stretch after it
    assert a["rate_change_money"] == pytest.approx(240 - 220)


def test_the_node_scope_leaves_out_what_partners_shared() -> None:
    week3 = T0 + timedelta(weeks=2)
    (row,) = improvement_curve(
        build(MOVES), scope="node", start=week3, end=week3 + timedelta(weeks=1)
    ).to_pylist()
    assert row["events"] == 2  # the partner's two events are not the node's
    assert row["transport_hours"] == pytest.approx(2.0)
    assert row["money"] == pytest.approx(50 + 2 * 10)
    assert row["gain_money"] is None  # nothing adopted


def test_adoptions_are_read_from_the_experiments_status_history(tmp_path: Path) -> None:
    with Store(tmp_path / "node.duckdb") as store:
        for eid, moves in (
            ("kz-kept", ["simulated", "running", "checked", "adopted"]),
            ("kz-dropped", ["simulated", "abandoned"]),
            ("kz-open", ["simulated", "running"]),
        ):
            new_experiment(
                store,
                title=eid,
                problem="pallets wait in transit",
                hypothesis="a milk run cuts the hours",
                countermeasure=Variant(eid, {"link.0.lead_time.value": 1}),
                target=Target(metric="cost"),
                owner="logistics",
                waste="transport",
                experiment_id=eid,
                at=T0,
            )
            for day, status in enumerate(moves, start=1):
                move(store, eid, status, at=T0 + timedelta(days=day))
        found = adoptions(store)
        assert [(a.experiment_id, a.adopted_at, a.waste) for a in found] == [
            ("kz-kept", T0 + timedelta(days=4), "transport")
        ]
        assert found[0].measured is None
        # a store without events: no periods, and it says so
        empty = improvement_curve(store)
        assert empty.num_rows == 0
        assert "no events: no periods" in empty.notes
        assert [a["experiment_id"] for a in empty.meta["adoptions"]] == ["kz-kept"]


def test_the_svg_draws_every_bar_the_adoption_the_baseline_and_the_gain(
    network_curve: View,
) -> None:
    svg = render_svg(network_curve)
    root = ET.fromstring(svg)  # well-formed XML
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    assert not list(root.iter(f"{ns}script"))  # nothing to run
    bars = [r for r in root.iter(f"{ns}rect") if r.get("class") == "bar"]
    assert len(bars) == 3  # one Transport segment a week: nothing else wastes money
    heights = [float(b.get("height", "0")) for b in bars]
    # bar heights in proportion to the money (400, 80, 220)
    assert heights[1] / heights[0] == pytest.approx(80 / 400, rel=0.02)
    assert heights[2] / heights[0] == pytest.approx(220 / 400, rel=0.02)
    groups = [g for g in root.iter(f"{ns}g") if g.get("class") == "adoption"]
    assert len(groups) == 1 and "kz-less-transit" in ET.tostring(groups[0], encoding="unicode")
    assert [x for x in root.iter(f"{ns}line") if x.get("class") == "baseline"]
    assert [x for x in root.iter(f"{ns}polyline") if x.get("class") == "gain"]


def test_bad_input_is_refused_saying_what_was_wrong() -> None:
    log = build(MOVES[:1])
    with pytest.raises(ValueError, match="scope 'everyone'"):
        improvement_curve(log, scope="everyone")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time zone"):
        improvement_curve(log, start=datetime(2026, 11, 2))
    with pytest.raises(ValueError, match="freq"):
        improvement_curve(log, freq="fortnightly-ish")
    with pytest.raises(ValueError, match="at most 1000"):  # a second at a time: 21,601 periods
        improvement_curve(log, freq="1s")
    with pytest.raises(ValueError, match="measure"):
        render_svg(improvement_curve(Log.from_ocel(OcelBuilder().build())), measure="euros")  # type: ignore[arg-type]
