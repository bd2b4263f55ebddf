"""What goes with a permitted event — deny by default here too.

An event a permit rule lets out takes with it only what one of the rules that matched it
allows: the attributes a rule keeps (``keep_attributes`` less ``remove_attributes``), the
relations to — and the objects of — the object types a rule shares (``share_objects``), with
the object attributes a rule keeps, and object-to-object links only between two objects that
both leave. The type declarations list only the types that leave, with only the attribute names
that leave. Never the captured originals (``source_events``).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.model.ocel import EVENT_TYPES, Ocel
from keiretsu.node.policy.matching import LogColumns, any_of, ids_mask, in_set
from keiretsu.node.policy.rules import Rule

__all__ = ["merge", "share_events"]

_BOOL = pa.bool_()
_STR = pa.string()


def _allowed_names(names: pa.Array, keep: Any) -> pa.Array:
    """Row mask of the names ``keep`` (a predicate on one name) lets through, asking it once
    per distinct name."""
    distinct = pc.unique(names).to_pylist()
    return in_set(names, [n for n in distinct if n is not None and keep(n)])


def share_events(log: LogColumns, rules: list[tuple[Rule, pa.Array]]) -> Ocel:
    """The events the event rules permit (each with its mask), with what their rules let go
    with them; no pseudonyms yet."""
    ocel = log.ocel
    if not rules:
        return Ocel()
    permitted = any_of([m for _, m in rules], log.n)
    events = ocel.events.filter(permitted)

    ea_masks, eo_masks = [], []
    object_rules: list[tuple[Rule, pa.Array]] = []
    for rule, mask in rules:
        ea_masks.append(
            pc.and_(log.rows_of(log.ea_at, mask), _allowed_names(log.ea_name, rule.keeps_attribute))
        )
        types = pc.fill_null(
            _allowed_names(log.eo_type, rule.shares_object_type)
            if len(log.eo_type)
            else pa.array([], _BOOL),
            False,
        )
        rows = pc.and_(log.rows_of(log.eo_at, mask), types)
        eo_masks.append(rows)
        object_rules.append((rule, log.eo_object.filter(rows)))
    event_attributes = ocel.event_attributes.filter(any_of(ea_masks, len(log.ea_id)))
    event_objects = ocel.event_objects.filter(any_of(eo_masks, len(log.eo_event)))

    leaving = event_objects.column("ocel_object_id").combine_chunks()
    ob_ids = ocel.objects.column("ocel_id")
    objects = ocel.objects.filter(ids_mask(ob_ids, leaving))
    oa = ocel.object_attributes
    oa_ids = oa.column("ocel_id").combine_chunks()
    oa_names = oa.column("ocel_name").combine_chunks()
    oa_masks = [
        pc.and_(ids_mask(oa_ids, objs), _allowed_names(oa_names, rule.keeps_object_attribute))
        for rule, objs in object_rules
    ]
    object_attributes = oa.filter(any_of(oa_masks, len(oa_ids)))
    oo = ocel.object_objects
    object_objects = oo.filter(
        pc.and_(
            ids_mask(oo.column("ocel_source_id"), leaving),
            ids_mask(oo.column("ocel_target_id"), leaving),
        )
    )
    return Ocel(
        events=events,
        event_attributes=event_attributes,
        objects=objects,
        object_attributes=object_attributes,
        event_objects=event_objects,
        object_objects=object_objects,
        event_types=_types_left(ocel.event_types, events, event_attributes),
        object_types=_types_left(ocel.object_types, objects, object_attributes),
    )


def _types_left(declared: pa.Table, things: pa.Table, attributes: pa.Table) -> pa.Table:
    """The type declarations of what leaves, each with only the attribute names that leave."""
    if declared.num_rows == 0 or things.num_rows == 0:
        return declared.schema.empty_table()
    at = pc.index_in(attributes.column("ocel_id"), value_set=things.column("ocel_id"))
    pairs = (
        pa.table({"t": things.column("ocel_type").take(at), "n": attributes.column("ocel_name")})
        .group_by(["t", "n"], use_threads=False)
        .aggregate([])
    )
    names: dict[str, set[str]] = {}
    for t, n in zip(pairs.column("t").to_pylist(), pairs.column("n").to_pylist(), strict=True):
        names.setdefault(t, set()).add(n)
    present = set(pc.unique(things.column("ocel_type")).to_pylist())
    rows_type, rows_attrs = [], []
    for t, attrs in zip(
        declared.column("ocel_type").to_pylist(),
        declared.column("attributes").to_pylist(),
        strict=True,
    ):
        if t in present:
            rows_type.append(t)
            rows_attrs.append([a for a in attrs if a["name"] in names.get(t, ())])
    return pa.Table.from_arrays(
        [pa.array(rows_type, _STR), pa.array(rows_attrs, EVENT_TYPES.field("attributes").type)],
        schema=EVENT_TYPES,
    )


def merge(shared: Ocel, aggregates: Ocel) -> Ocel:
    """The shared events and the aggregates as one log; an object or type both carry is
    listed once (the shared events' row kept)."""
    if aggregates.num_events == 0:
        return shared
    if shared.num_events == 0:
        return aggregates
    # (also joins the two measures' aggregates)
    new_objects = aggregates.objects.filter(
        pc.invert(ids_mask(aggregates.objects.column("ocel_id"), shared.objects.column("ocel_id")))
    )
    tables = {}
    for name in Ocel.table_names():
        a, b = getattr(shared, name), getattr(aggregates, name)
        if name == "objects":
            b = new_objects
        elif name in ("event_types", "object_types"):
            b = b.filter(pc.invert(ids_mask(b.column("ocel_type"), a.column("ocel_type"))))
        tables[name] = pa.concat_tables([a, b]).combine_chunks()
    return Ocel(**tables)
