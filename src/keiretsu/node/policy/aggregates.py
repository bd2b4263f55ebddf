"""Aggregates: what an aggregate rule shares instead of events — daily totals.

A rule with ``share = "aggregate"`` lets none of the events it matches leave; they leave only
as one OCEL event per product (and location) and UTC day, with the quantity in its unit:
``daily demand`` or ``net stock change``. The figures are not worked out here: they are the
twin's own views, :func:`keiretsu.analytics.inventory.daily_demand` (summed over the
locations) and :func:`keiretsu.analytics.inventory.net_stock_change`, over the events the rule
lets count — so a partner receives the number the sending twin shows its own users, counted the
same way (the stock ledger: a serialised item one piece, a pallet what is packed on it, a lot
its quantity; product = its GTIN). The ledger is read over the log handed to the policy and the
``history`` given with it (the node's events of the same goods: where an item was, what a
pallet held); only the movements of the events the rule matches are counted.

Each aggregate's id is a keyed digest of the partner, the group and the ids of the events
counted, so the same events always give the same id (a re-delivered aggregate is de-duplicated
like any event) and disjoint events give different ids (the receiver adds the contributions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.model.ocel import EVENT_TYPES, OBJECT_TYPES, TIME, Ocel
from keiretsu.node.policy.matching import LogColumns, any_of, ids_mask
from keiretsu.node.policy.rules import MEASURES, Rule
from keiretsu.node.policy.shaping import merge

if TYPE_CHECKING:
    from keiretsu.node.policy.pseudonyms import Keyed

__all__ = ["AGGREGATE_EVENT_TYPES", "AGGREGATE_PREFIX", "aggregate"]

AGGREGATE_PREFIX = "urn:keiretsu:aggregate:"
AGGREGATE_EVENT_TYPES = {"daily_demand": "daily demand", "net_stock_change": "net stock change"}


def aggregate(
    log: LogColumns,
    rules: list[tuple[Rule, pa.Array]],
    *,
    key: Keyed,
    history: Ocel | None = None,
) -> Ocel:
    """Daily totals per product (and location) over the events the aggregate rules match
    (each rule with its mask over ``log``'s events), read from the stock ledger of ``log``
    and ``history``."""
    chosen = {}
    for measure in MEASURES:
        masks = [m for r, m in rules if r.measure == measure]
        if masks:
            chosen[measure] = log.ev_id.filter(any_of(masks, log.n))
    if not any(len(ids) for ids in chosen.values()):
        return Ocel()
    # the views are imported here, when a rule asks for aggregates: Ibis costs a node most of
    # a second at start, and most policies never aggregate
    from keiretsu.analytics.inventory import daily_demand, net_stock_change
    from keiretsu.analytics.log import Log

    ledger = Log.from_ocel(_with_history(log.ocel, history))
    out = Ocel()
    try:
        for measure, ids in chosen.items():
            if measure == "daily_demand":
                view = daily_demand(ledger, by_location=False, events=ids, with_events=True)
            else:
                view = net_stock_change(ledger, events=ids, with_events=True)
            if view.num_rows:
                out = merge(out, _aggregate_events(measure, view.table, key))
    finally:
        ledger.backend.disconnect()
    return out


def _with_history(ocel: Ocel, history: Ocel | None) -> Ocel:
    """The log the stock ledger reads: ``history`` (in its order, which breaks ties between
    events of one instant) and whatever of ``ocel`` it does not hold, after it."""
    if history is None or history.num_events == 0:
        return ocel
    known = history.events.column("ocel_id")
    new = pc.invert(ids_mask(ocel.events.column("ocel_id"), known))
    if not pc.any(new).as_py():
        return history
    events = ocel.events.filter(new)
    ids = events.column("ocel_id")
    attributes = ocel.event_attributes
    relations = ocel.event_objects
    objects = ocel.objects
    extra = Ocel(
        events=events,
        event_attributes=attributes.filter(ids_mask(attributes.column("ocel_id"), ids)),
        event_objects=relations.filter(ids_mask(relations.column("ocel_event_id"), ids)),
        objects=objects.filter(
            pc.invert(ids_mask(objects.column("ocel_id"), history.objects.column("ocel_id")))
        ),
    )
    return Ocel.concat([history, extra])


def _aggregate_events(measure: str, groups: pa.Table, key: Keyed) -> Ocel:
    """One aggregate event per row of a daily view (product, uom, day, quantity, event_ids;
    a location for the net stock change), its id keyed by the partner."""
    event_type = AGGREGATE_EVENT_TYPES[measure]
    ev_id, ev_time = [], []
    ea_id, ea_name, ea_value, ea_type = [], [], [], []
    eo_event, eo_object, eo_qualifier = [], [], []
    ob_id, ob_type = [], []
    locations = groups.column("location").to_pylist() if "location" in groups.column_names else None
    for i, (product, uom, day, quantity, events) in enumerate(
        zip(
            groups.column("product").to_pylist(),
            groups.column("uom").to_pylist(),
            groups.column("day").to_pylist(),
            groups.column("quantity").to_pylist(),
            groups.column("event_ids").to_pylist(),
            strict=True,
        )
    ):
        location = locations[i] if locations is not None else None
        basis = "\x1f".join(
            [measure, product, uom or "", location or "", day.isoformat(), *sorted(events)]
        )
        agg_id = f"{AGGREGATE_PREFIX}{measure}:{key.digest(basis)}"
        ev_id.append(agg_id)
        ev_time.append(day)
        for name, value, vtype in (
            ("quantity", repr(float(quantity)), "float"),
            ("uom", uom, "string"),
            ("period", "P1D", "string"),
        ):
            if value is not None:
                ea_id.append(agg_id)
                ea_name.append(name)
                ea_value.append(value)
                ea_type.append(vtype)
        eo_event.append(agg_id)
        eo_object.append(product)
        eo_qualifier.append("product")
        ob_id.append(product)
        ob_type.append("product class")
        if location is not None:
            eo_event.append(agg_id)
            eo_object.append(location)
            eo_qualifier.append("bizLocation")
            ob_id.append(location)
            ob_type.append("location")
    objects = (
        pa.table({"ocel_id": ob_id, "ocel_type": ob_type})
        .group_by(["ocel_id", "ocel_type"], use_threads=False)
        .aggregate([])
    )
    attributes = [{"name": "quantity", "type": "float"}, {"name": "period", "type": "string"}]
    if any(n == "uom" for n in ea_name):
        attributes.insert(1, {"name": "uom", "type": "string"})
    return Ocel(
        events=pa.table(
            {
                "ocel_id": ev_id,
                "ocel_type": [event_type] * len(ev_id),
                "ocel_time": pa.array(ev_time, TIME),
            }
        ),
        event_attributes=pa.table(
            {
                "ocel_id": ea_id,
                "ocel_name": ea_name,
                "ocel_value": ea_value,
                "ocel_value_type": ea_type,
            }
        ),
        event_objects=pa.table(
            {"ocel_event_id": eo_event, "ocel_object_id": eo_object, "ocel_qualifier": eo_qualifier}
        ),
        objects=objects,
        event_types=pa.table(
            {"ocel_type": [event_type], "attributes": [attributes]}, schema=EVENT_TYPES
        ),
        object_types=pa.table(
            {
                "ocel_type": sorted(set(ob_type)),
                "attributes": [[] for _ in set(ob_type)],
            },
            schema=OBJECT_TYPES,
        ),
    )
