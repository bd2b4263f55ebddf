"""A kaizen experiment (PDCA), kept in the node's store.

An experiment starts from a problem the twin found — a waste of
:func:`keiretsu.analytics.waste.wastes`, with the steps, objects and events its evidence view
lists (:func:`evidence_from`) — and a hypothesis: *if we make this change, the target metric
moves this way*. The change is written as the twin's model would make it, a
:class:`keiretsu.sim.scenario.Variant` (a base-stock level, a policy, information shared with a
partner), so the twin can predict its effect before anyone touches the floor
(:func:`keiretsu.kaizen.predict.predict`).

Its status moves plan → simulated → running → checked → adopted, or to abandoned from any
status not yet final; every move is a new dated row, nothing is overwritten, and a move the
machine does not allow is refused (:class:`keiretsu.store.kaizen.KaizenError`).

```python
from keiretsu.kaizen import Target, move, new_experiment
from keiretsu.sim.scenario import Variant
from keiretsu.store import Store

with Store("node.duckdb") as store:
    exp = new_experiment(
        store,
        title="Less stock at the shop",
        problem="Goods wait 3 days at the shop",
        waste="inventory",
        hypothesis="A base-stock level of 30 keeps the fill rate above 95% with less on hand",
        countermeasure=Variant("shop-30", {"buffer.shop.policy.level": 30}),
        kind="parameter",
        target=Target(metric="on_hand", scope="shop", direction="decrease", unit="units"),
        owner="shop manager",
    )
    move(store, exp.experiment_id, "abandoned", note="not this quarter")
```
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa

from keiretsu.analytics.view import View
from keiretsu.sim.scenario import Variant
from keiretsu.store import Store
from keiretsu.store import kaizen as tables
from keiretsu.store.kaizen import FINAL, MOVES, SECTIONS, STATUSES, KaizenError

__all__ = [
    "FINAL",
    "KINDS",
    "MOVES",
    "SECTIONS",
    "STATUSES",
    "Evidence",
    "Experiment",
    "KaizenError",
    "Target",
    "evidence_from",
    "experiments",
    "load",
    "move",
    "new_experiment",
    "write",
]

KINDS = ("parameter", "policy", "information")
"""What a countermeasure changes in the twin's model: a parameter (a level, a batch size, a
lead time), a policy (another kind of inventory policy), information shared with a partner
(what a company sees)."""

Direction = Literal["decrease", "increase"]

EVENT_COLUMNS = ("event_id",)
OBJECT_COLUMNS = ("object_id", "resource")
STEP_COLUMNS = ("step", "activity", "from_step", "to_step", "next_activity")
LOCATION_COLUMNS = ("location", "from_location", "to_location")


@dataclass(frozen=True)
class Evidence:
    """The steps (activities), objects, events and locations (sites) a problem rests on, by
    id."""

    steps: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()

    def refs(self) -> list[tuple[str, str]]:
        """``(kind, id)`` pairs as the store keeps them (kind: step, object, event,
        location)."""
        return [
            *(("step", s) for s in self.steps),
            *(("object", o) for o in self.objects),
            *(("event", e) for e in self.events),
            *(("location", x) for x in self.locations),
        ]


def _distinct(values: Iterable[Any], limit: int | None) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for v in values:
        if v is None:
            continue
        seen.setdefault(str(v), None)
        if limit is not None and len(seen) >= limit:
            break
    return tuple(seen)


def evidence_from(view: View, *, limit: int | None = 50) -> Evidence:
    """The ids a :func:`keiretsu.analytics.waste.waste_evidence` view lists (its first rows:
    the order the view gives them), at most ``limit`` of each kind: events (``event_id``),
    objects (``object_id``, ``resource``), steps (``step``, ``activity`` …), locations
    (``location``, ``from_location``, ``to_location``: where Inventory and Transport are)."""
    t: pa.Table = view.table

    def column(names: Sequence[str]) -> tuple[str, ...]:
        values: list[Any] = []
        for name in names:
            if name in t.column_names:
                values.extend(t.column(name).to_pylist())
        return _distinct(values, limit)

    return Evidence(
        steps=column(STEP_COLUMNS),
        objects=column(OBJECT_COLUMNS),
        events=column(EVENT_COLUMNS),
        locations=column(LOCATION_COLUMNS),
    )


@dataclass(frozen=True)
class Target:
    """The metric the experiment means to move: ``metric`` (a KPI the twin simulates —
    ``cost``, ``fill_rate``, ``on_hand``, ``backorders``, ``bullwhip`` … — or a measured one),
    ``scope`` (``network`` or a buffer), ``direction`` (``decrease`` or ``increase``),
    ``value`` (the level aimed at, in ``unit``; optional)."""

    metric: str
    scope: str = "network"
    direction: Direction = "decrease"
    value: float | None = None
    unit: str | None = None


@dataclass(frozen=True)
class Experiment:
    """An experiment as the store holds it: what was written at its start, where it stands
    (``status``, ``status_at``), its evidence, its status ``history`` (a table: seq, status,
    moved_at, moved_by, note), its A3 ``notes`` (every note; :attr:`sections` the newest of
    each) and its ``predictions`` (one row per prediction made)."""

    experiment_id: str
    title: str
    problem: str
    waste: str | None
    hypothesis: str
    kind: str
    countermeasure: Variant
    target: Target
    owner: str
    created_at: datetime
    created_by: str
    status: str
    status_at: datetime
    evidence: Evidence
    history: pa.Table
    notes: pa.Table
    predictions: pa.Table
    sections: Mapping[str, str] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        """Whether the experiment is adopted or abandoned (it moves no more)."""
        return self.status in FINAL

    @property
    def next_moves(self) -> list[str]:
        """Where it may move next."""
        return tables.allowed_moves(self.status)


def new_experiment(
    store: Store,
    *,
    title: str,
    problem: str,
    hypothesis: str,
    countermeasure: Variant,
    target: Target,
    owner: str,
    kind: str = "parameter",
    waste: str | None = None,
    evidence: Evidence | None = None,
    by: str = "local",
    experiment_id: str | None = None,
    at: datetime | None = None,
) -> Experiment:
    """Write a new experiment in ``plan`` (dated ``at``, now by default) and return it.

    ``waste``: which of the eight wastes the problem is (``transport`` … ``skills``);
    ``evidence``: the ids behind it (:func:`evidence_from`); ``kind``: what the countermeasure
    changes (``KINDS``); ``by``: who wrote it. ``experiment_id`` defaults to a fresh
    ``kz-<12 hex>``; an id already used is refused."""
    # the list of wastes lives with their views, which import Ibis (most of a second that
    # listing or moving an experiment should not pay): imported when an experiment is made
    from keiretsu.analytics.waste import WASTES

    if waste is not None and waste not in WASTES:
        raise KaizenError(f"unknown waste {waste!r}: expected one of {', '.join(WASTES)}")
    if kind not in KINDS:
        raise KaizenError(f"unknown countermeasure kind {kind!r}: expected one of {KINDS}")
    if target.direction not in ("decrease", "increase"):
        raise KaizenError(
            f"target direction {target.direction!r}: expected 'decrease' or 'increase'"
        )
    for name, text in (("title", title), ("problem", problem), ("hypothesis", hypothesis)):
        if not text.strip():
            raise KaizenError(f"an experiment needs its {name}")
    if not owner.strip():
        raise KaizenError("an experiment needs the owner of its target metric")
    eid = experiment_id or f"kz-{uuid.uuid4().hex[:12]}"
    tables.insert_experiment(
        store.con,
        experiment_id=eid,
        title=title,
        problem=problem,
        waste=waste,
        hypothesis=hypothesis,
        countermeasure_kind=kind,
        variant_name=countermeasure.name,
        variant_changes=countermeasure.changes,
        target_metric=target.metric,
        target_scope=target.scope,
        target_direction=target.direction,
        target_value=target.value,
        target_unit=target.unit,
        owner=owner,
        by=by,
        evidence_refs=(evidence or Evidence()).refs(),
        at=at,
    )
    return load(store, eid)


def load(store: Store, experiment_id: str) -> Experiment:
    """The experiment ``experiment_id`` as the store holds it now."""
    con = store.con
    row = tables.experiment_row(con, experiment_id)
    ev: dict[str, list[str]] = {"step": [], "object": [], "event": [], "location": []}
    for r in tables.evidence(con, experiment_id).to_pylist():
        ev.setdefault(r["kind"], []).append(r["ref"])
    notes = tables.notes(con, experiment_id)
    sections: dict[str, str] = {}
    for n in notes.to_pylist():  # in order: the newest of each section wins
        sections[n["section"]] = n["text"]
    return Experiment(
        experiment_id=row["experiment_id"],
        title=row["title"],
        problem=row["problem"],
        waste=row["waste"],
        hypothesis=row["hypothesis"],
        kind=row["countermeasure_kind"],
        countermeasure=Variant(row["variant_name"], row["variant_changes"]),
        target=Target(
            metric=row["target_metric"],
            scope=row["target_scope"],
            direction=row["target_direction"],
            value=row["target_value"],
            unit=row["target_unit"],
        ),
        owner=row["owner"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        status=row["status"],
        status_at=row["status_at"],
        evidence=Evidence(
            steps=tuple(ev["step"]),
            objects=tuple(ev["object"]),
            events=tuple(ev["event"]),
            locations=tuple(ev["location"]),
        ),
        history=tables.history(con, experiment_id),
        notes=notes,
        predictions=tables.predictions(con, experiment_id),
        sections=sections,
    )


def move(
    store: Store,
    experiment_id: str,
    status: str,
    *,
    by: str = "local",
    note: str | None = None,
    at: datetime | None = None,
) -> Experiment:
    """Move the experiment to ``status`` (dated ``at``, now by default; ``note``: why) and
    return it. A move the machine does not allow is refused with
    :class:`~keiretsu.store.kaizen.KaizenError` saying where it may go."""
    tables.move(store.con, experiment_id, status, by=by, note=note, at=at)
    return load(store, experiment_id)


def write(
    store: Store,
    experiment_id: str,
    section: str,
    text: str,
    *,
    by: str = "local",
    at: datetime | None = None,
) -> Experiment:
    """Write one of the A3's sections (``background``, ``root_cause``, ``plan``, ``results``,
    ``standardize``); the earlier text of the section is kept in the notes."""
    tables.add_note(store.con, experiment_id, section, text, by=by, at=at)
    return load(store, experiment_id)


def experiments(store: Store) -> View:
    """Every experiment of the node, oldest first: id, title, waste, countermeasure kind,
    target metric and scope, owner, created, status and since when."""
    return View(
        "kaizen_experiments",
        tables.experiments(store.con),
        ("status: plan → simulated → running → checked → adopted | abandoned",),
        {},
    )
