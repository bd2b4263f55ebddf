"""Inventory: how much of each product sits at each location, over time, and how many days of
demand it covers.

Stock is read from GS1 EPCIS events as keiretsu records them (see ``docs/formats/epcis.md``),
as a stock ledger: every event that brings goods to a location, takes them away, makes or uses
them up is a *movement* (``+`` or ``-`` so many of a product at a location), and the stock of a
product at a location is the running sum of its movements. The rules, in short (the full text
is in ``docs/analytics/inventory.md``):

* **Serialised trade items** (SGTIN) count one piece each of their product (the GTIN). An item
  is at the business location (``bizLocation``) of its latest event that names one; it leaves
  when a later event puts it elsewhere, ships it (disposition ``in_transit``), sells it
  (``retail_sold``, ``dispensed``), writes it off (``destroyed``, ``disposed``, ``stolen``, or an
  ``ObjectEvent`` ``DELETE``) or consumes it (an input of a ``TransformationEvent``).
* **Aggregation**: what is packed on a pallet (``AggregationEvent`` ``ADD``) moves with the
  pallet until it is unpacked (``DELETE``): a pallet's shipping and receiving move its contents.
* **Class-level quantities** (``quantityList``: so many kilograms of a lot) are movements as
  written: ``+`` when commissioned (``ADD``), produced (transformation output) or received
  (``receiving``/``arriving``); ``-`` when consumed (transformation input), shipped, sold,
  written off or deleted.

The product of a GS1 key is its GTIN as a Digital Link, ``https://id.gs1.org/01/<gtin>``
(lots and serials rolled up); any other class identifier is its own product.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.analytics.durations import parse_freq
from keiretsu.analytics.log import Log
from keiretsu.analytics.traces import seconds_between
from keiretsu.analytics.view import View
from keiretsu.model.cbv import GOODS_ROLES
from keiretsu.model.gs1 import PRODUCT_ID_LENGTH, PRODUCT_PREFIX, TRADE_ITEM

__all__ = [
    "ARRIVING_STEPS",
    "DEMAND_KINDS",
    "LEAVING_DISPOSITIONS",
    "daily_demand",
    "days_of_supply",
    "event_facts",
    "is_demand",
    "movements",
    "net_stock_change",
    "stock_levels",
]

LEAVING_DISPOSITIONS: dict[str, str] = {
    "in_transit": "shipped",
    "retail_sold": "sold",
    "dispensed": "sold",
    "destroyed": "removed",
    "disposed": "removed",
    "stolen": "removed",
}
"""CBV dispositions after which goods are no longer stock at their location, and the kind of
movement each one is."""

ARRIVING_STEPS: tuple[str, ...] = ("receiving", "arriving")
"""Business steps at which a class-level quantity observed at a location is an arrival."""

DEMAND_KINDS: tuple[str, ...] = ("shipped", "sold", "consumed", "transferred")
"""Movements that count as demand on a location: goods shipped out, sold, consumed by
production, or moved straight to another location."""

_ITEM_ROLES = GOODS_ROLES
_CONTAINER_ROLES = GOODS_ROLES
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY = 86_400.0


# --- the ledger ---------------------------------------------------------------------------------


def event_facts(log: Log) -> ir.Table:
    """One row per event with what the inventory rules read: ``event_id, activity, time, seq,
    event_type, action, disposition, biz_location, source_location`` (nulls where the event
    does not say)."""
    a = log.event_attributes
    a = a.filter(a.name.isin(["eventType", "action", "disposition"]))
    facts = a.group_by("event_id").agg(
        event_type=a.value.max(where=a.name == "eventType"),
        action=a.value.max(where=a.name == "action"),
        disposition=a.value.max(where=a.name == "disposition"),
    )
    r = log.relations
    r = r.filter(r.qualifier.isin(["bizLocation", "source:location"]))
    places = r.group_by("event_id").agg(
        biz_location=r.object_id.max(where=r.qualifier == "bizLocation"),
        source_location=r.object_id.max(where=r.qualifier == "source:location"),
    )
    e = log.events
    with_facts = e.left_join(facts, e.event_id == facts.event_id).select(
        e.event_id, e.activity, e.time, e.seq, facts.event_type, facts.action, facts.disposition
    )
    return with_facts.left_join(places, with_facts.event_id == places.event_id).select(
        with_facts.event_id,
        with_facts.activity,
        with_facts.time,
        with_facts.seq,
        with_facts.event_type,
        with_facts.action,
        with_facts.disposition,
        places.biz_location,
        places.source_location,
    )


def product_of(object_id: ir.StringValue) -> ir.StringValue:
    """The product an identifier belongs to: its GTIN (``https://id.gs1.org/01/<gtin>``,
    :data:`keiretsu.model.gs1.PRODUCT_PREFIX`) for a GS1 trade item, lot or class; the
    identifier itself otherwise. The one definition of a product: the stock ledger, the
    wastes and the sharing policy's aggregates all count by it."""
    gtin = object_id.startswith(PRODUCT_PREFIX)
    return gtin.ifelse(object_id.substr(0, PRODUCT_ID_LENGTH), object_id)


def _item_rows(log: Log, facts: ir.Table) -> ir.Table:
    """(trade item, event, role) for every event that touches a serialised item, directly or
    through the pallet it is packed on (one level of packing)."""
    r = log.relations
    o = log.objects
    items = o.filter(o.object_type == TRADE_ITEM).select("object_id")
    direct = (
        r.filter(r.qualifier.isin(_ITEM_ROLES) & r.quantity.isnull())
        .join(items, "object_id")
        .select("object_id", "event_id", "qualifier")
    )
    # Packing: each item's aggregation events in order; an ADD (or OBSERVE) puts it in the
    # parent from then until its next aggregation event (the unpacking DELETE, or a repack).
    agg_events = facts.filter(facts.event_type == "AggregationEvent").select(
        "event_id", "time", "seq", "action"
    )
    children = direct.filter(direct.qualifier == "child").join(agg_events, "event_id")
    parents = r.filter(r.qualifier == "parent").select("event_id", container=r.object_id)
    links = children.join(parents, "event_id")
    w = ibis.window(group_by=_by_object(links), order_by=["time", "seq"])
    links = links.mutate(end_time=links.time.lead().over(w), end_seq=links.seq.lead().over(w))
    inside = links.filter(links.action != "DELETE").select(
        "object_id", "container", "end_time", "end_seq", start_time="time", start_seq="seq"
    )
    cr = r.filter(r.qualifier.isin(_CONTAINER_ROLES)).select(
        "event_id", "qualifier", container=r.object_id
    )
    cr = cr.join(facts.select("event_id", "time", "seq"), "event_id")
    after_start = (cr.time > inside.start_time) | (
        (cr.time == inside.start_time) & (cr.seq > inside.start_seq)
    )
    before_end = (
        inside.end_time.isnull()
        | (cr.time < inside.end_time)
        | ((cr.time == inside.end_time) & (cr.seq < inside.end_seq))
    )
    inherited = cr.join(inside, [cr.container == inside.container, after_start, before_end]).select(
        inside.object_id, cr.event_id, cr.qualifier
    )
    # An item named both directly and through its pallet in one event gets two rows in the
    # same state: the second one moves nothing (see _item_movements).
    return direct.union(inherited)


def _by_object(t: ir.Table) -> list[ir.Value]:
    """Partition keys for one object's rows. Identifiers share long prefixes (a GS1 domain and
    company prefix), which makes sorting on them slow; a hash in front tells most of them apart
    at once, and the identifier itself keeps the partition exact."""
    return [t.object_id.hash(), t.object_id]


def _leaving_kind(
    disposition: ir.StringValue, event_type: ir.StringValue, action: ir.StringValue
) -> ir.StringValue:
    cases: list[tuple[Any, Any]] = [
        ((event_type == "ObjectEvent") & (action == "DELETE"), "removed")
    ]
    cases += [(disposition == d, kind) for d, kind in LEAVING_DISPOSITIONS.items()]
    return ibis.cases(*cases, else_=ibis.null("string"))


def _item_movements(log: Log, facts: ir.Table) -> ir.Table:
    rows = _item_rows(log, facts).join(facts, "event_id")
    gone = ibis.cases(
        (rows.qualifier == "input", "consumed"),
        else_=_leaving_kind(rows.disposition, rows.event_type, rows.action),
    )
    rows = rows.mutate(gone=gone)
    rows = rows.mutate(after=rows.gone.isnull().ifelse(rows.biz_location, ibis.null("string")))
    # events that neither place the item nor take it away say nothing about its stock
    rows = rows.filter(rows.gone.notnull() | rows.after.notnull())
    # only what the movements need goes through the window: it sorts every item's rows (ten
    # million at a million events), and each column carried costs in that sort
    rows = rows.select(
        "object_id",
        "event_id",
        "time",
        "seq",
        "after",
        "gone",
        made=(rows.qualifier == "output")
        | ((rows.event_type == "ObjectEvent") & (rows.action == "ADD")),
    )
    w = ibis.window(group_by=_by_object(rows), order_by=["time", "seq"])
    rows = rows.mutate(before=rows.after.lag().over(w))
    made = rows.made
    leaving = rows.before.notnull() & (rows.after.isnull() | (rows.after != rows.before))
    arriving = rows.after.notnull() & (rows.before.isnull() | (rows.after != rows.before))
    product = product_of(rows.object_id)
    common = {
        "product": product,
        "uom": ibis.null("string"),
        "time": rows.time,
        "seq": rows.seq,
        "event_id": rows.event_id,
        "object_id": rows.object_id,
    }
    out = rows.filter(leaving).select(
        location=rows.before,
        delta=ibis.literal(-1.0),
        kind=rows.gone.fill_null("transferred"),
        **common,
    )
    into = rows.filter(arriving).select(
        location=rows.after,
        delta=ibis.literal(1.0),
        kind=made.ifelse("produced", "received"),
        **common,
    )
    return out.union(into)


def _class_movements(log: Log, facts: ir.Table) -> ir.Table:
    r = log.relations
    r = r.filter(r.quantity.notnull() & r.qualifier.isin(["epc", "input", "output"]))
    c = r.join(facts, "event_id")
    q = c.quantity.cast("float64")
    is_object = (c.qualifier == "epc") & (c.event_type == "ObjectEvent")
    leave = _leaving_kind(c.disposition, c.event_type, c.action)
    from_place = c.source_location.fill_null(c.biz_location)
    rules: list[tuple[Any, Any, Any, Any]] = [
        # (when, signed quantity, where, kind)
        (c.qualifier == "input", -q, c.biz_location.fill_null(c.source_location), "consumed"),
        (c.qualifier == "output", q, c.biz_location, "produced"),
        (is_object & (c.action == "ADD"), q, c.biz_location, "produced"),
        (is_object & (c.action == "DELETE"), -q, c.biz_location, "removed"),
        (is_object & leave.notnull(), -q, from_place, leave),
        (is_object & c.activity.isin(ARRIVING_STEPS), q, c.biz_location, "received"),
    ]
    delta = ibis.cases(*[(w, d) for w, d, _, _ in rules], else_=ibis.null("float64"))
    where = ibis.cases(*[(w, p) for w, _, p, _ in rules], else_=ibis.null("string"))
    kind = ibis.cases(*[(w, k) for w, _, _, k in rules], else_=ibis.null("string"))
    moved = c.select(
        location=where,
        product=product_of(c.object_id),
        uom=c.uom,
        time=c.time,
        seq=c.seq,
        event_id=c.event_id,
        object_id=c.object_id,
        delta=delta,
        kind=kind,
    )
    return moved.filter(moved.delta.notnull() & moved.location.notnull())


LEDGER_TABLE = "k_stock_ledger"
"""The temporary table a store's log keeps its stock ledger in (per connection)."""


def movements(log: Log) -> ir.Table:
    """The stock ledger: one row per movement, ``location, product, uom, time, seq, event_id,
    object_id, delta, kind``. ``delta`` is signed (``+`` in, ``-`` out), in ``uom`` (null:
    pieces); ``kind`` is one of ``produced``, ``received``, ``shipped``, ``sold``,
    ``consumed``, ``removed``, ``transferred`` (moved straight to another location).

    On a store's log (DuckDB) the ledger is computed once while the log holds the same events
    and kept in a temporary table that every view reading it shares — stock levels, days of
    supply, demand, bullwhip, the wastes: with a million EPCIS events it is ten million item
    rows sorted per item, tens of CPU-seconds each time. Elsewhere (a log in memory, whose
    compiled SQL is shared by every such log; Spark) it is the expression itself."""
    if log.engine != "duckdb" or log.in_memory:
        return _ledger(log)
    return log.memo(("inventory.movements",), lambda: _kept(log, _ledger(log), LEDGER_TABLE))


def _ledger(log: Log) -> ir.Table:
    facts = event_facts(log)
    columns = ["location", "product", "uom", "time", "seq", "event_id", "object_id", "delta"]
    items = _item_movements(log, facts).select(*columns, "kind")
    classes = _class_movements(log, facts).select(*columns, "kind")
    return items.union(classes)


def _kept(log: Log, expr: ir.Table, name: str) -> ir.Table:
    """``expr`` computed into the temporary table ``name`` of the log's connection (replacing
    what an older state of the log left there), read back as a table. The name is fixed, so
    the SQL compiled for the views that read it is the same from one run to the next
    (:mod:`keiretsu.analytics.sqlcache`)."""
    from keiretsu.analytics import sqlcache

    sql = sqlcache.compile_sql(log.backend, expr)
    log.backend.raw_sql(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {sql}')
    kept: ir.Table = log.backend.table(name)
    return kept


def is_demand(m: ir.Table) -> ir.BooleanValue:
    """Whether a ledger row (:func:`movements`) is **demand** on its location: goods that left
    it to meet a need downstream — shipped out, sold, consumed by production, or moved straight
    on to another location (:data:`DEMAND_KINDS`) — its quantity being ``-delta``. Write-offs
    (``removed``) are not demand. The one definition read by :func:`daily_demand`,
    :func:`days_of_supply` and the sharing policy's ``daily_demand`` aggregates."""
    return m.kind.isin(DEMAND_KINDS)


# --- demand and stock change per day ------------------------------------------------------------

_DAILY_KEYS = ["location", "product", "uom", "day"]


def daily_demand(
    log: Log,
    *,
    by_location: bool = True,
    events: Iterable[str] | pa.Array | None = None,
    with_events: bool = False,
) -> View:
    """Demand per location, product and UTC day: what each location's customers — the next
    step inside the company or the customer outside it — took from it (:func:`is_demand`:
    shipped, sold, consumed, moved on), counted in the stock ledger's units: a serialised item
    one piece, a pallet the items packed on it, a lot its quantity in its ``uom``.

    Columns: ``location`` (the location the goods left; not with ``by_location=False``, then
    the sum over the locations), ``product`` (GTIN Digital Link, or the class identifier),
    ``uom`` (null: pieces), ``day`` (the UTC midnight starting the day), ``quantity`` (in
    ``uom``), ``events`` (how many events it came from) and, with ``with_events``,
    ``event_ids`` (those events, sorted: the figure recounted by hand).

    ``events`` narrows the count to the movements of those events (event ids), the ledger
    still being read over the whole log — where goods were before them, what a pallet held.
    What a partner receives as ``daily demand`` is this view over the events its policy lets
    count (``keiretsu.node.policy``)."""
    keys = _DAILY_KEYS if by_location else _DAILY_KEYS[1:]

    def build(selected: ir.Table | None) -> ir.Table:
        m = _of_events(movements(log), selected)
        return _per_day(m.filter(is_demand(m)).mutate(quantity=-m.delta), keys, with_events)

    key = ("inventory.daily_demand", by_location, with_events)
    table = _day_table(log.run(key, build, events=_ids(events)), keys, with_events)
    notes = (
        "demand = quantity leaving a location: shipped (in_transit), sold (retail_sold, "
        "dispensed), consumed (transformation input) or moved straight to another location; "
        "write-offs are not demand",
        "per UTC day (day = the midnight starting it)"
        + ("" if by_location else "; summed over the locations"),
    )
    return View("daily_demand", table, notes, {})


def net_stock_change(
    log: Log,
    *,
    events: Iterable[str] | pa.Array | None = None,
    with_events: bool = False,
) -> View:
    """The net change of stock per location, product and UTC day: the stock ledger's
    movements (:func:`movements`: in ``+``, out ``-``) summed over the day — what
    :func:`stock_levels` with ``freq="1d"`` shows as ``change``, for the days with a movement.

    Columns: ``location``, ``product``, ``uom`` (null: pieces), ``day`` (the UTC midnight
    starting the day), ``quantity`` (signed, in ``uom``), ``events`` and, with
    ``with_events``, ``event_ids``. ``events`` narrows the sum to the movements of those
    events, the ledger still being read over the whole log (:func:`daily_demand`)."""

    def build(selected: ir.Table | None) -> ir.Table:
        m = _of_events(movements(log), selected)
        return _per_day(m.mutate(quantity=m.delta), _DAILY_KEYS, with_events)

    key = ("inventory.net_stock_change", with_events)
    table = _day_table(log.run(key, build, events=_ids(events)), _DAILY_KEYS, with_events)
    notes = (
        "stock change = the ledger's movements in (+) and out (-) of each location, per UTC "
        "day (day = the midnight starting it)",
    )
    return View("net_stock_change", table, notes, {})


def _ids(events: Iterable[str] | pa.Array | None) -> pa.Array | None:
    """Event ids as one Arrow array, each once."""
    if events is None:
        return None
    ids = events if isinstance(events, pa.Array) else pa.array(list(events), pa.string())
    return pc.unique(ids.cast(pa.string()))


def _of_events(m: ir.Table, selected: ir.Table | None) -> ir.Table:
    """The ledger rows of the events ``selected`` holds (all of them for ``None``)."""
    return m if selected is None else m.semi_join(selected, "event_id")


def _per_day(m: ir.Table, keys: list[str], with_events: bool) -> ir.Table:
    """Ledger rows (with a ``quantity``) summed per ``keys``, ``day`` being the UTC day's
    number since 1970-01-01."""
    day = (seconds_between(ibis.literal(_EPOCH), m.time) / _DAY).floor().cast("int64")
    m = m.mutate(day=day)
    totals: dict[str, ir.Value] = {"quantity": m.quantity.sum(), "events": m.event_id.nunique()}
    if with_events:
        totals["event_ids"] = m.event_id.collect(distinct=True)
    return m.group_by(keys).agg(**totals)


def _day_table(table: pa.Table, keys: list[str], with_events: bool) -> pa.Table:
    """The per-day totals with each day as the UTC midnight starting it, sorted."""
    columns: dict[str, pa.Array] = {
        k: table.column(k).cast(pa.string()) for k in keys if k != "day"
    }
    days = pc.multiply(table.column("day").cast(pa.int64()), 86_400_000_000)
    columns["day"] = days.cast(pa.timestamp("us", tz="UTC"))
    columns["quantity"] = table.column("quantity").cast(pa.float64())
    columns["events"] = table.column("events").cast(pa.int64())
    if with_events:
        ids = [sorted(v) for v in table.column("event_ids").to_pylist()]
        columns["event_ids"] = pa.array(ids, pa.list_(pa.string()))
    return pa.table(columns).sort_by([(k, "ascending") for k in keys])


# --- stock over time ----------------------------------------------------------------------------

_STOCK_SCHEMA = pa.schema(
    [
        ("location", pa.string()),
        ("product", pa.string()),
        ("uom", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("quantity", pa.float64()),
        ("change", pa.float64()),
    ]
)
_PAIR = ["location", "product", "uom"]


def stock_levels(log: Log, freq: str | None = None) -> View:
    """Stock on hand per location and product over time.

    Without ``freq``: one row after every instant at which the stock of a product at a location
    changed. With ``freq`` (``"1d"``, ``"8h"``, ``"1w"``…): one row per bucket from the first
    movement of that product at that location to the end of the log, ``time`` being the end of
    the bucket (midnight after the day, for ``"1d"``; buckets are counted from 1970-01-01 UTC).

    Columns: ``location``, ``product`` (GTIN Digital Link, or the class identifier), ``uom``
    (null: pieces), ``time`` (UTC), ``quantity`` (stock after that time, in ``uom``),
    ``change`` (net movement at that instant or in that bucket)."""
    m = movements(log)
    notes = list(_RULE_NOTES)
    if freq is None:
        per = m.group_by([*_PAIR, "time"]).agg(change=m.delta.sum())
        w = ibis.cumulative_window(group_by=_PAIR, order_by="time")
        expr = per.select(*_PAIR, "time", quantity=per.change.sum().over(w), change=per.change)
        table = log.execute(expr)
        table = _cast(table, _STOCK_SCHEMA)
    else:
        step = parse_freq(freq).total_seconds()
        bucket = (seconds_between(ibis.literal(_EPOCH), m.time) / step).floor().cast("int64")
        per = m.mutate(bucket=bucket)
        per = per.group_by([*_PAIR, "bucket"]).agg(change=per.delta.sum())
        w = ibis.cumulative_window(group_by=_PAIR, order_by="bucket")
        expr = per.select(*_PAIR, "bucket", quantity=per.change.sum().over(w), change=per.change)
        e = log.events
        last = log.scalar(e.time.max())
        last_bucket = None if last is None else math.floor(_seconds(last) / step)
        table = _fill_buckets(log.execute(expr), step, last_bucket)
        notes.append(f"stock at the end of each {freq} bucket (time = the bucket's end, UTC)")
    table = table.sort_by([(c, "ascending") for c in [*_PAIR, "time"]])
    negative = _count_negative(table)
    if negative:
        notes.append(
            f"{negative} location/product pairs go below zero at some point: goods shipped, "
            "sold or consumed with no receipt or production recorded before (the ledger is "
            "missing their arrival)"
        )
    return View("stock_levels", table, tuple(notes), {"freq": freq})


def _utc_or_none(t: datetime | None) -> datetime | None:
    """Spark hands back times without a zone (its session zone is UTC); DuckDB with one."""
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _seconds(t: datetime) -> float:
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return (t - _EPOCH).total_seconds()


def _fill_buckets(table: pa.Table, step: float, last_bucket: int | None) -> pa.Table:
    """Every bucket from each pair's first to the log's last, carrying the stock forward
    through buckets without movements (zero change)."""
    if table.num_rows == 0 or last_bucket is None:
        return pa.Table.from_pylist([], schema=_STOCK_SCHEMA)
    table = table.sort_by([(c, "ascending") for c in [*_PAIR, "bucket"]])
    keys = pa.Table.from_arrays([table.column(c) for c in _PAIR], names=_PAIR)
    bucket = table.column("bucket").to_numpy()
    qty = table.column("quantity").to_numpy(zero_copy_only=False).astype(float)
    change = table.column("change").to_numpy(zero_copy_only=False).astype(float)
    # where each pair starts in the sorted table
    ids = _pair_ids(keys)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    first = bucket[starts]
    span = np.maximum(last_bucket, bucket[ends - 1]) - first + 1
    pair_of_row = np.repeat(np.arange(len(starts)), span)
    offsets = np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span)
    dense = first[pair_of_row] + offsets
    # the latest stored bucket at or before each dense bucket, within its pair
    global_order = pair_of_row.astype(np.int64) * (1 << 40) + (dense - first.min())
    stored = ids.astype(np.int64) * (1 << 40) + (bucket - first.min())
    pos = np.searchsorted(stored, global_order, side="right") - 1
    exact = stored[pos] == global_order
    out_qty = qty[pos]
    out_change = np.where(exact, change[pos], 0.0)
    ends_us = ((dense + 1) * step * 1e6).round().astype(np.int64)
    take = pa.array(starts[pair_of_row])
    return pa.table(
        {
            "location": keys.column("location").take(take),
            "product": keys.column("product").take(take),
            "uom": keys.column("uom").take(take),
            "time": pa.array(ends_us, pa.timestamp("us", tz="UTC")),
            "quantity": pa.array(out_qty, pa.float64()),
            "change": pa.array(out_change, pa.float64()),
        },
        schema=_STOCK_SCHEMA,
    )


def _pair_ids(keys: pa.Table) -> np.ndarray[Any, Any]:
    """Consecutive integer ids for runs of equal (location, product, uom) in a sorted table."""
    n = keys.num_rows
    if n == 0:
        return np.zeros(0, np.int64)
    same = np.ones(n - 1, bool)
    for c in _PAIR:
        col = keys.column(c)
        a, b = col.slice(0, n - 1), col.slice(1)
        eq = pc.fill_null(pc.equal(a, b), False)
        both_null = pc.and_(pc.is_null(a), pc.is_null(b))
        same &= pc.or_(eq, both_null).to_numpy(zero_copy_only=False)
    ids: np.ndarray[Any, Any] = np.r_[0, np.cumsum(~same)].astype(np.int64)
    return ids


def _cast(table: pa.Table, schema: pa.Schema) -> pa.Table:
    return pa.table({f.name: table.column(f.name).cast(f.type) for f in schema}, schema=schema)


def _count_negative(table: pa.Table) -> int:
    if table.num_rows == 0:
        return 0
    low = table.filter(pc.less(table.column("quantity"), -1e-9))
    if low.num_rows == 0:
        return 0
    return int(low.group_by(_PAIR, use_threads=False).aggregate([]).num_rows)


_RULE_NOTES = (
    "stock from EPCIS events as a ledger: serialised trade items count 1 piece of their GTIN "
    "at the bizLocation of their latest event; class-level quantities count as written",
    "goods packed on a pallet move with it until unpacked (one level of packing followed)",
    "goods in transit (disposition in_transit) are not counted at any location",
)


# --- days of supply -----------------------------------------------------------------------------

_SUPPLY_SCHEMA = pa.schema(
    [
        ("location", pa.string()),
        ("product", pa.string()),
        ("uom", pa.string()),
        ("stock", pa.float64()),
        ("demand", pa.float64()),
        ("daily_demand", pa.float64()),
        ("days_of_supply", pa.float64()),
        ("target_days", pa.float64()),
        ("stock_above_target", pa.float64()),
    ]
)


def days_of_supply(
    log: Log,
    window_days: float = 28,
    *,
    targets: Mapping[str, float] | float | None = None,
) -> View:
    """How many days the stock on hand would last at the demand observed lately.

    Per location and product: ``stock`` (now: after the log's last event, in ``uom``),
    ``demand`` (quantity that left the location in the last ``window_days`` days: shipped out,
    sold, consumed by production, or moved to another location), ``daily_demand`` (``demand``
    per day over the window, or over the whole log when it is shorter), ``days_of_supply``
    (``stock / daily_demand``, days; null without demand or with stock below zero),
    ``target_days`` (from ``targets``: days by product, or one number for all; else null) and
    ``stock_above_target`` (stock beyond ``target_days`` of demand: what ties up money)."""
    if not window_days > 0:
        raise ValueError(f"window_days must be a positive number of days, not {window_days!r}")
    e = log.events
    span = log.execute(e.aggregate(first=e.time.min(), last=e.time.max()))
    first, last = span.column("first")[0].as_py(), span.column("last")[0].as_py()
    first, last = _utc_or_none(first), _utc_or_none(last)
    notes = [
        *_RULE_NOTES,
        "demand = quantity leaving the location: shipped (in_transit), sold (retail_sold, "
        "dispensed), consumed (transformation input) or moved straight to another location",
    ]
    if first is None or last is None:
        table = pa.Table.from_pylist([], schema=_SUPPLY_SCHEMA)
        return View("days_of_supply", table, (*notes, "the log holds no events"), {})
    observed_days = min(float(window_days), _seconds(last) / _DAY - _seconds(first) / _DAY)
    start = last - timedelta(days=float(window_days))
    m = movements(log)
    in_window = is_demand(m) & (m.time > ibis.literal(start))
    expr = m.group_by(_PAIR).agg(
        stock=m.delta.sum(), demand=(-m.delta).sum(where=in_window).fill_null(0.0)
    )
    table = log.execute(expr).sort_by([(c, "ascending") for c in _PAIR])
    stock = table.column("stock").to_numpy(zero_copy_only=False).astype(float)
    demand = table.column("demand").to_numpy(zero_copy_only=False).astype(float)
    if observed_days > 0:
        daily = demand / observed_days
        if observed_days < window_days:
            notes.append(
                f"the log spans only {observed_days:.2f} days: demand averaged over that span"
            )
    else:
        daily = np.full(len(demand), np.nan)
        notes.append("the log spans a single instant: no daily demand can be observed")
    with np.errstate(divide="ignore", invalid="ignore"):
        dos = np.where((daily > 0) & (stock >= 0), stock / daily, np.nan)
    target = _targets(table.column("product").to_pylist(), targets)
    above = np.where(
        np.isfinite(target) & np.isfinite(daily), np.maximum(0.0, stock - target * daily), np.nan
    )
    out = pa.table(
        {
            "location": table.column("location").cast(pa.string()),
            "product": table.column("product").cast(pa.string()),
            "uom": table.column("uom").cast(pa.string()),
            "stock": pa.array(stock, pa.float64()),
            "demand": pa.array(demand, pa.float64()),
            "daily_demand": pa.array(daily, pa.float64(), from_pandas=True),
            "days_of_supply": pa.array(dos, pa.float64(), from_pandas=True),
            "target_days": pa.array(target, pa.float64(), from_pandas=True),
            "stock_above_target": pa.array(above, pa.float64(), from_pandas=True),
        },
        schema=_SUPPLY_SCHEMA,
    )
    if targets is None:
        notes.append("no target days of supply given: target_days and stock_above_target null")
    meta = {
        "window_days": float(window_days),
        "observed_days": observed_days,
        "now": last,
        "window_start": max(start, first),
    }
    return View("days_of_supply", out, tuple(notes), meta)


def _targets(
    products: list[Any], targets: Mapping[str, float] | float | None
) -> np.ndarray[Any, Any]:
    if targets is None:
        return np.full(len(products), np.nan)
    if isinstance(targets, int | float):
        return np.full(len(products), float(targets))
    return np.array([float(targets.get(p, math.nan)) for p in products], dtype=float)
