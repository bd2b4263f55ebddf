"""Lessons: what an experiment may share, who may receive it, what a node keeps and asks.

The policy property draws random lesson rules and lessons and checks ``Policy.share_lessons``
against a plain reading of the rules written here (a permit lesson rule naming the partner
whose every written filter holds). The lesson property draws experiments with evidence ids of
every kind and checks that none of the object, event or location ids reaches the serialised
lesson, while the counts do.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keiretsu.analytics.waste import WASTES
from keiretsu.kaizen import KINDS, Evidence, Target, move, new_experiment, write
from keiretsu.kaizen.lessons import LessonError, ask, lesson_of, receive, validate_lesson
from keiretsu.node.policy import LESSON_PARTS, Policy, PolicyError
from keiretsu.sim.scenario import Variant
from keiretsu.store import Store
from keiretsu.store import kaizen as tables
from keiretsu.store.kaizen import STATUSES

T0 = datetime(2026, 5, 4, 7, 0, tzinfo=UTC)
PARTNERS = ["dc", "shop", "recycler"]
PATHS = {  # a legal walk of the status machine to each status
    "plan": [],
    "simulated": ["simulated"],
    "running": ["simulated", "running"],
    "checked": ["simulated", "running", "checked"],
    "adopted": ["simulated", "running", "checked", "adopted"],
    "abandoned": ["simulated", "abandoned"],
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with Store(tmp_path_factory.mktemp("lessons") / "node.duckdb") as s:
        yield s


_ids = itertools.count()


def experiment(
    store: Store,
    *,
    waste: str = "waiting",
    status: str = "plan",
    kind: str = "parameter",
    evidence: Evidence | None = None,
    title: str = "Dock slots at receiving",
) -> str:
    eid = f"kz-test-{next(_ids):05d}"
    new_experiment(
        store,
        title=title,
        problem="Trucks wait at receiving",
        waste=waste,
        evidence=evidence,
        hypothesis="Booked slots halve the wait",
        countermeasure=Variant("slots", {"buffer.dc.policy.level": 30}),
        kind=kind,
        target=Target(metric="on_hand", scope="dc", unit="units"),
        owner="receiving lead",
        experiment_id=eid,
        at=T0,
    )
    for i, s in enumerate(PATHS[status]):
        move(store, eid, s, at=T0 + timedelta(days=i + 1), note=f"move {i}")
    return eid


# --- a lesson holds aggregates only -------------------------------------------------------


def test_lesson_holds_the_a3s_aggregates_and_the_newest_figures(store: Store) -> None:
    eid = experiment(
        store,
        status="checked",
        evidence=Evidence(steps=("receiving", "put-away"), objects=("o-1", "o-2", "o-3")),
    )
    write(store, eid, "root_cause", "first thought", at=T0)
    write(store, eid, "root_cause", "carriers arrive in waves", at=T0 + timedelta(days=9))
    write(store, eid, "background", "stays home", at=T0)
    base = {
        "kpi": "on_hand",
        "scope": "dc",
        "unit": "units",
        "baseline": 40.0,
        "value": 30.0,
        "pct": -25.0,
        "ci_low": -10.5,
        "ci_high": -9.5,
        "confidence": 0.95,
        "significant": True,
        "replications": 64,
        "periods": 100,
        "warmup": 20,
        "seed": 7,
        "model": "model calibrated from node.duckdb (56 days of events)",
        "note": None,
    }
    tables.add_prediction(store.con, eid, {**base, "difference": -1.0}, at=T0)
    tables.add_prediction(store.con, eid, {**base, "difference": -10.0}, at=T0)
    lesson = lesson_of(store, eid, origin="plant")
    assert lesson["origin"] == "plant" and lesson["status"] == "checked"
    assert lesson["evidence"] == {
        "steps": ["put-away", "receiving"],
        "counts": {"steps": 2, "objects": 3, "events": 0, "locations": 0},
    }
    assert lesson["predicted"]["difference"] == -10.0  # the newest
    assert "seed" not in lesson["predicted"] and "model" not in lesson["predicted"]
    assert lesson["measured"] is None
    assert lesson["notes"] == {
        "root_cause": "carriers arrive in waves",
        "results": None,
        "standardize": None,
    }
    assert [h["status"] for h in lesson["history"]] == ["plan", "simulated", "running", "checked"]
    assert lesson["history"][1]["at"] == (T0 + timedelta(days=1)).isoformat()
    assert all("by" not in h and "moved_by" not in h for h in lesson["history"])
    text = json.dumps(lesson)
    for kept_home in ("o-1", "stays home", "receiving lead", "node.duckdb"):
        assert kept_home not in text
    assert set(LESSON_PARTS) <= set(lesson)  # what a rule may withhold is what a lesson has
    assert validate_lesson(lesson) == json.loads(text)


IDS = st.text(alphabet="0123456789abcdef", min_size=10, max_size=10)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(st.sampled_from(["receiving", "picking", "packing", "shipping"]), max_size=4),
    objects=st.lists(IDS.map(lambda h: f"urn:epc:id:sscc:{h}"), max_size=6),
    events=st.lists(IDS.map(lambda h: f"ni:///sha-256;{h}"), max_size=6),
    locations=st.lists(IDS.map(lambda h: f"urn:epc:id:sgln:{h}"), max_size=6),
    status=st.sampled_from(STATUSES),
)
def test_no_evidence_id_ever_leaves_in_a_lesson(
    store: Store,
    steps: list[str],
    objects: list[str],
    events: list[str],
    locations: list[str],
    status: str,
) -> None:
    ev = Evidence(tuple(steps), tuple(objects), tuple(events), tuple(locations))
    eid = experiment(store, status=status, evidence=ev)
    lesson = lesson_of(store, eid, origin="plant")
    text = json.dumps(lesson)
    for ref in [*objects, *events, *locations]:
        assert ref not in text
        assert ref.split(":")[-1].split(";")[-1] not in text
    assert lesson["evidence"]["steps"] == sorted(set(steps))
    assert lesson["evidence"]["counts"] == {
        "steps": len(set(steps)),
        "objects": len(set(objects)),
        "events": len(set(events)),
        "locations": len(set(locations)),
    }
    validate_lesson(lesson)


# --- the policy: a lesson leaves iff a permit lesson rule for the partner matches ------------


def _reference(rules: list[dict[str, Any]], lesson: dict[str, Any], partner: str) -> list[str]:
    """The ids of the permit rules that let ``lesson`` leave for ``partner``, read plainly."""
    out = []
    for r in rules:
        if r["effect"] != "permit" or r["rights"] != ["lessons"]:
            continue
        if partner not in r["subjects"] and "*" not in r["subjects"]:
            continue
        if "wastes" in r and lesson["waste"] not in r["wastes"]:
            continue
        if "statuses" in r and lesson["status"] not in r["statuses"]:
            continue
        if "kinds" in r and lesson["countermeasure"]["kind"] not in r["kinds"]:
            continue
        if "experiments" in r and not any(
            fnmatch.fnmatchcase(lesson["experiment_id"], p) for p in r["experiments"]
        ):
            continue
        out.append(r["id"])
    return out


@st.composite
def lesson_rules(draw: st.DrawFn) -> list[dict[str, Any]]:
    rules = []
    for i in range(draw(st.integers(0, 4))):
        effect = draw(st.sampled_from(["permit", "permit", "deny"]))
        rights = draw(st.sampled_from([["lessons"], ["lessons"], ["read"], ["query", "push"]]))
        rule: dict[str, Any] = {
            "id": f"r{i}",
            "effect": effect,
            "subjects": draw(st.lists(st.sampled_from([*PARTNERS, "*"]), min_size=1, max_size=2)),
            "rights": rights,
        }
        if rights == ["lessons"]:
            for key, words in (("wastes", WASTES), ("statuses", STATUSES), ("kinds", KINDS)):
                if draw(st.booleans()):
                    rule[key] = draw(st.lists(st.sampled_from(words), min_size=1, max_size=3))
            if draw(st.booleans()):
                rule["experiments"] = draw(
                    st.lists(st.sampled_from(["kz-a*", "kz-b1", "*", "kz-c"]), min_size=1)
                )
            if effect == "permit" and draw(st.booleans()):
                rule["withhold"] = draw(st.lists(st.sampled_from(LESSON_PARTS), max_size=4))
        rules.append(rule)
    return rules


LESSON = st.fixed_dictionaries(
    {
        "experiment_id": st.sampled_from(["kz-a1", "kz-a2", "kz-b1", "kz-c"]),
        "waste": st.sampled_from(WASTES),
        "status": st.sampled_from(STATUSES),
        "kind": st.sampled_from(KINDS),
    }
).map(
    lambda d: {
        "lesson": 1,
        "experiment_id": d["experiment_id"],
        "origin": "plant",
        "title": f"t {d['experiment_id']}",
        "status": d["status"],
        "waste": d["waste"],
        "countermeasure": {"kind": d["kind"], "variant": "v", "changes": {}},
        **{p: {"x": 1} for p in LESSON_PARTS if p != "countermeasure"},
        "withheld": [],
    }
)


@settings(max_examples=300, deadline=None)
@given(
    rules=lesson_rules(), lessons=st.lists(LESSON, max_size=5), partner=st.sampled_from(PARTNERS)
)
def test_a_lesson_leaves_iff_a_permit_lesson_rule_for_the_partner_matches(
    rules: list[dict[str, Any]], lessons: list[dict[str, Any]], partner: str
) -> None:
    policy = Policy.from_dict({"rule": rules})
    shared = policy.share_lessons(lessons, partner)
    expected = [x for x in lessons if _reference(rules, x, partner)]
    assert [x["experiment_id"] for x in shared] == [x["experiment_id"] for x in expected]
    by_rule = {r["id"]: r for r in rules}
    for out, lesson in zip(shared, expected, strict=True):
        matching = [by_rule[i] for i in _reference(rules, lesson, partner)]
        held = {p for p in LESSON_PARTS if all(p in r.get("withhold", []) for r in matching)}
        assert set(out["withheld"]) == held
        for part in LESSON_PARTS:
            assert out[part] == (None if part in held else lesson[part])
    decisions = policy.explain_lessons(lessons, partner)
    assert [d["leaves"] for d in decisions] == [
        bool(_reference(rules, x, partner)) for x in lessons
    ]
    assert all((d["reason"] is None) == d["leaves"] for d in decisions)


def test_read_grants_no_lesson_and_explain_says_why() -> None:
    lesson = {"experiment_id": "kz-1", "title": "t", "waste": "waiting", "status": "adopted"}
    lesson["countermeasure"] = {"kind": "parameter"}
    everything = Policy.from_dict(
        {"rule": [{"id": "all", "effect": "permit", "subjects": ["*"], "rights": ["read"]}]}
    )
    assert everything.share_lessons([lesson], "dc") == []
    [why] = everything.explain_lessons([lesson], "dc")
    assert why["reason"] == "no permit rule names partner 'dc' with right 'lessons'"
    finished = Policy.from_dict(
        {
            "rule": [
                {
                    "id": "finished",
                    "effect": "permit",
                    "subjects": ["dc"],
                    "rights": ["lessons"],
                    "statuses": ["adopted", "abandoned"],
                },
                {"id": "no-waiting", "effect": "deny", "subjects": ["*"], "rights": "lessons"},
            ]
        }
    )
    [why] = finished.explain_lessons([{**lesson, "status": "running"}], "dc")
    assert why == {
        "experiment_id": "kz-1",
        "title": "t",
        "waste": "waiting",
        "status": "running",
        "leaves": False,
        "rule": None,
        "withheld": None,
        "reason": "denied by rule 'no-waiting'; rule 'finished': status not in "
        "['adopted', 'abandoned']",
    }


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"rights": ["lessons"], "wastes": ["wating"]},
            "rule 0 (id 'l'): key 'wastes': expected wastes among transport, inventory",
        ),
        (
            {"rights": ["lessons", "read"]},
            "rule 0 (id 'l'): key 'rights': expected [\"lessons\"] alone",
        ),
        (
            {"rights": ["lessons"], "biz_steps": ["receiving"]},
            "rule 0 (id 'l'): key 'biz_steps': expected no such key in a lesson rule",
        ),
        (
            {"rights": ["read"], "statuses": ["adopted"]},
            "rule 0 (id 'l'): key 'statuses': expected no such key unless rights = [\"lessons\"]",
        ),
        (
            {"rights": ["lessons"], "statuses": ["done"]},
            "key 'statuses': expected statuses among plan, simulated",
        ),
        (
            {"rights": ["lessons"], "kinds": []},
            "key 'kinds': expected at least one countermeasure kind, got []",
        ),
        (
            {"rights": ["lessons"], "withhold": ["secrets"]},
            "key 'withhold': expected withhold among problem, evidence",
        ),
        (
            {"rights": ["lessons"], "effect": "deny", "withhold": ["notes"]},
            "key 'withhold': expected no such key in a deny rule",
        ),
    ],
)
def test_a_faulty_lesson_rule_is_refused_naming_file_rule_and_key(
    tmp_path: Path, rule: dict[str, Any], message: str
) -> None:
    entry = {"id": "l", "effect": "permit", "subjects": ["dc"], **rule}
    path = tmp_path / "policy.toml"
    path.write_text(tomli_w.dumps({"rule": [entry]}), encoding="utf-8")
    with pytest.raises(PolicyError) as err:
        Policy.load(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)


# --- what a node keeps, and asks -----------------------------------------------------------


def _shared(store: Store, origin: str, **kw: Any) -> dict[str, Any]:
    return lesson_of(store, experiment(store, **kw), origin=origin)


def test_received_lessons_are_checked_whole_and_kept_per_source(tmp_path: Path) -> None:
    with Store(tmp_path / "a.duckdb") as a, Store(tmp_path / "b.duckdb") as b:
        one = _shared(a, "plant", status="abandoned")
        two = _shared(a, "plant", status="adopted", waste="inventory")
        # a malformed second lesson: nothing of the push is kept
        bad = {**two, "status": "finished"}
        with pytest.raises(LessonError) as err:
            receive(b, "plant", [one, bad])
        assert err.value.field == "lessons[1].status"
        assert tables.lessons(b.con) == []
        # a partner may not pass on, or pose as, another source
        with pytest.raises(LessonError, match=r"lessons\[0\].origin: 'plant' is not the sender"):
            receive(b, "shop", [one])
        for broken, field in (
            ({**one, "extra": 1}, "lessons[0].extra"),
            ({**one, "evidence": {"steps": [], "counts": {"objects": -1}}}, "lessons[0].evidence"),
            ("not a lesson", "lessons[0]"),
        ):
            with pytest.raises(LessonError) as err:
                receive(b, "plant", [broken])
            assert err.value.field is not None and err.value.field.startswith(field)
        assert receive(b, "plant", [one, two]) == {"read": 2, "new": 2, "known": 0}
        assert receive(b, "plant", [one, two]) == {"read": 2, "new": 0, "known": 2}
        changed = {**one, "notes": {"root_cause": "later", "results": None, "standardize": None}}
        assert receive(b, "plant", [changed]) == {"read": 1, "new": 1, "known": 0}
        kept = tables.lessons(b.con, source="plant")
        assert sorted((k["experiment_id"], k["seq"]) for k in kept) == sorted(
            [(one["experiment_id"], 2), (two["experiment_id"], 1)]
        )
        rows = b.con.execute("SELECT count(*) FROM kaizen_lesson").fetchone()
        assert rows == (3,)  # the older copy stays


def test_ask_answers_from_own_experiments_and_partners_lessons_failures_included(
    tmp_path: Path,
) -> None:
    at_receiving = Evidence(steps=("receiving",))
    with Store(tmp_path / "a.duckdb") as a, Store(tmp_path / "b.duckdb") as b:
        failed = _shared(a, "plant", status="abandoned", evidence=at_receiving)
        tables.add_measurement(
            a.con,
            failed["experiment_id"],
            {
                "metric": "wait_hours",
                "scope": "receiving",
                "unit": "hours",
                "method": "did",
                "change_at": T0,
                "effect": 0.2,
                "ci_low": -0.4,
                "ci_high": 0.8,
                "p_value": 0.5,
                "detected": False,
                "mde": 0.9,
                "periods_before": 21,
                "periods_after": 21,
                "alpha": 0.05,
                "naive_effect": -0.7,
                "naive_p_value": 0.01,
                "control": "shop",
                "verdict": "no effect detected",
                "note": None,
            },
        )
        failed = lesson_of(a, failed["experiment_id"], origin="plant")
        elsewhere = _shared(a, "plant", status="adopted", evidence=Evidence(steps=("picking",)))
        receive(b, "plant", [failed, elsewhere])
        own = experiment(b, status="running", evidence=at_receiving, title="Cross-dock")
        experiment(b, waste="inventory", evidence=at_receiving)

        view = ask(b, waste="waiting", step="receiving")
        rows = view.table.to_pylist()
        assert [(r["source"], r["experiment_id"]) for r in rows] == [
            ("local", own),
            ("plant", failed["experiment_id"]),
        ]
        plant = rows[1]
        assert plant["status"] == "abandoned" and plant["verdict"] == "no effect detected"
        assert (plant["measured"], plant["measured_low"], plant["measured_high"]) == (
            0.2,
            -0.4,
            0.8,
        )
        assert plant["method"] == "did" and plant["result"] == "abandoned: no effect detected"
        assert "shop" not in json.dumps(failed)  # the control's name stays home
        assert rows[0]["result"] == "running: not measured"
        assert [r["experiment_id"] for r in ask(b, status=["adopted"]).table.to_pylist()] == [
            elsewhere["experiment_id"]
        ]
        assert ask(b, text="CROSS-DOCK").table.column("experiment_id").to_pylist() == [own]
        assert set(ask(b, source="plant").table.column("source").to_pylist()) == {"plant"}
        with pytest.raises(Exception, match="unknown status 'done'"):
            ask(b, status="done")
