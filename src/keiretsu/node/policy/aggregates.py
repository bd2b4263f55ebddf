"""Aggregates: what an aggregate rule shares instead of events — daily totals.

A rule with ``share = "aggregate"`` lets none of the events it matches leave; they leave only
as one OCEL event per product (and location) and UTC day, with the quantity in its unit:
``daily demand`` or ``net stock change``. Each aggregate's id is a keyed digest of the partner,
the group and the ids of the events counted, so the same events always give the same id (a
re-delivered aggregate is de-duplicated like any event) and disjoint events give different ids
(the receiver adds the contributions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.model.cbv import GOODS_ROLES
from keiretsu.model.ocel import EVENT_TYPES, OBJECT_TYPES, TIME, Ocel
from keiretsu.node.policy.matching import LogColumns, any_of, ids_mask, in_set
from keiretsu.node.policy.rules import MEASURES, STOCK_IN, STOCK_OUT, Rule
from keiretsu.node.policy.shaping import merge

if TYPE_CHECKING:
    from keiretsu.node.policy.pseudonyms import Keyed

__all__ = ["AGGREGATE_EVENT_TYPES", "AGGREGATE_PREFIX", "PRODUCT_QUALIFIERS", "aggregate"]

AGGREGATE_PREFIX = "urn:keiretsu:aggregate:"
AGGREGATE_EVENT_TYPES = {"daily_demand": "daily demand", "net_stock_change": "net stock change"}
PRODUCT_QUALIFIERS = GOODS_ROLES
"""Relations whose objects are counted as goods in an aggregate."""

_GTIN_PRODUCT = r"^(?P<product>https://id\.gs1\.org/01/\d{14})(?:/.*)?$"
_SERIAL = r"^https://id\.gs1\.org/01/\d{14}/21/"
_STR = pa.string()


def _products(object_ids: pa.Array, object_types: pa.Array) -> pa.Array:
    """The product (GTIN class) an object is of: a ``product class`` is its own product; a GS1
    Digital Link with a GTIN (a serialised item, a lot) belongs to ``https://id.gs1.org/01/<GTIN>``;
    anything else (a pallet, a location…) is no product (null)."""
    if len(object_ids) == 0:
        return pa.array([], _STR)
    found = pc.struct_field(pc.extract_regex(object_ids, pattern=_GTIN_PRODUCT), [0])
    own = pc.fill_null(pc.equal(object_types, "product class"), False)
    return pc.if_else(own, object_ids, found)


def aggregate(log: LogColumns, rules: list[tuple[Rule, pa.Array]], *, key: Keyed) -> Ocel:
    """Daily totals per product (and location) over the events the aggregate rules match."""
    parts = []
    for measure in MEASURES:
        masks = [m for r, m in rules if r.measure == measure]
        if masks:
            parts.append(_measure(log, measure, any_of(masks, log.n), key))
    if not parts:
        return Ocel()
    if len(parts) == 1:
        return parts[0]
    first, second = parts
    return merge(first, second)


def _measure(log: LogColumns, measure: str, events: pa.Array, key: Keyed) -> Ocel:
    sign_of = {**{s: 1.0 for s in STOCK_IN}, **{s: -1.0 for s in STOCK_OUT}}
    # every event of the log: its day, and its sign (0 = not counted by this measure)
    steps = list(sign_of)
    at = pc.index_in(log.ev_type, value_set=pa.array(steps, _STR))
    if measure == "daily_demand":  # every event the rules match leaves to a customer
        sign = pc.if_else(events, 1.0, 0.0)
    else:
        by_step = pa.array([sign_of[s] for s in steps], pa.float64()).take(at)
        sign = pc.if_else(events, pc.fill_null(by_step, 0.0), 0.0)
    day = pc.floor_temporal(log.ev_time, unit="day")

    eo = log.ocel.event_objects
    rows = pc.and_(log.rows_of(log.eo_at, events), in_set(log.eo_qualifier, PRODUCT_QUALIFIERS))
    goods = eo.filter(rows)
    goods_type = log.eo_type.filter(rows) if len(log.eo_type) else pa.array([], _STR)
    product = _products(goods.column("ocel_object_id").combine_chunks(), goods_type)
    direct = pa.table(
        {
            "event": goods.column("ocel_event_id").combine_chunks(),
            "product": product,
            "quantity": pc.fill_null(goods.column("quantity").combine_chunks(), 1.0),
            "uom": goods.column("uom").combine_chunks(),
            "qualifier": goods.column("ocel_qualifier").combine_chunks(),
        }
    )
    counted = direct.filter(pc.is_valid(product))
    # an event that lists only pallets counts what they contain (instance level only: a
    # link carries no quantity), when the log holds the packing links
    containers = goods.filter(pc.is_null(product)).select(["ocel_event_id", "ocel_object_id"])
    containers = containers.filter(
        pc.invert(ids_mask(containers.column("ocel_event_id"), counted.column("event")))
    )
    contents = _contents(log.ocel, containers)
    table = pa.concat_tables([counted, contents]) if contents.num_rows else counted
    if table.num_rows == 0:
        return Ocel()
    at = pc.index_in(table.column("event"), value_set=log.ev_id)
    table = table.append_column("day", day.take(at))
    factor = sign.take(at)
    if measure == "net_stock_change":  # what a transformation consumes leaves the stock
        used = pc.equal(table.column("qualifier"), "input")
        factor = pc.if_else(used, pc.negate(factor), factor)
    table = table.set_column(2, "quantity", pc.multiply(table.column("quantity"), factor))
    table = table.drop_columns(["qualifier"])
    table = table.filter(pc.not_equal(sign.take(at), 0.0))
    keys = ["product", "uom", "day"]
    if measure == "net_stock_change":
        table = table.append_column(
            "location", _event_locations(log).take(at).filter(pc.not_equal(sign.take(at), 0.0))
        )
        keys.append("location")
    if table.num_rows == 0:
        return Ocel()
    groups = table.group_by(keys, use_threads=False).aggregate(
        [("quantity", "sum"), ("event", "distinct")]
    )
    groups = groups.sort_by([(k, "ascending") for k in keys])
    return _aggregate_events(measure, groups, key)


def _contents(ocel: Ocel, containers: pa.Table, depth: int = 3) -> pa.Table:
    """(event, product, 1 piece) for each serialised item packed (``contains``, up to
    ``depth`` levels) in the containers an event lists."""
    out = []
    links = ocel.object_objects.filter(
        pc.equal(ocel.object_objects.column("ocel_qualifier"), "contains")
    )
    level = containers.rename_columns(["event", "object"])
    for _ in range(depth):
        if level.num_rows == 0 or links.num_rows == 0:
            break
        inside = (
            level.join(
                links.select(["ocel_source_id", "ocel_target_id"]),
                keys="object",
                right_keys="ocel_source_id",
                join_type="inner",
            )
            .select(["event", "ocel_target_id"])
            .rename_columns(["event", "object"])
        )
        objects = inside.column("object").combine_chunks()
        serial = pc.match_substring_regex(objects, pattern=_SERIAL)
        product = pc.struct_field(pc.extract_regex(objects, pattern=_GTIN_PRODUCT), [0])
        items = inside.filter(serial)
        out.append(
            pa.table(
                {
                    "event": items.column("event").combine_chunks(),
                    "product": product.filter(serial),
                    "quantity": pa.repeat(pa.scalar(1.0), items.num_rows),
                    "uom": pa.nulls(items.num_rows, _STR),
                    "qualifier": pa.repeat(pa.scalar("contains"), items.num_rows),
                }
            )
        )
        level = inside.filter(pc.is_null(product))
    if not out:
        return pa.table(
            {
                "event": pa.array([], _STR),
                "product": pa.array([], _STR),
                "quantity": pa.array([], pa.float64()),
                "uom": pa.array([], _STR),
                "qualifier": pa.array([], _STR),
            }
        )
    return pa.concat_tables(out)


def _event_locations(log: LogColumns) -> pa.Array:
    """Per event: its bizLocation, else its readPoint, else null."""
    found = pa.nulls(log.n, _STR)
    for qualifier in ("readPoint", "bizLocation"):  # bizLocation last: it wins
        rows = pc.fill_null(pc.equal(log.eo_qualifier, qualifier), False)
        events = log.eo_event.filter(rows)
        places = log.eo_object.filter(rows)
        at = pc.index_in(log.ev_id, value_set=events)
        found = pc.coalesce(places.take(at), found)
    return found


def _aggregate_events(measure: str, groups: pa.Table, key: Keyed) -> Ocel:
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
            groups.column("quantity_sum").to_pylist(),
            groups.column("event_distinct").to_pylist(),
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
