"""The bullwhip effect: does an echelon's ordering swing more than the demand it receives?

For each echelon (a site or a party of the chain) the orders it places and the demand it
receives are totalled per window of ``window_days`` days, over the whole log; the bullwhip
ratio is the variance of the order totals over the variance of the demand totals. Above 1 the
echelon amplifies demand variability upstream (batching, forecast updates, shortage gaming,
price promotions); 1 passes it on unchanged; below 1 it smooths it.

Where the orders and the demand come from, by default (GS1 EPCIS): each purchase order
(an object of type ``po``, named by events' ``bizTransactionList``) is one order, placed when it
first appears, by the buyer (``destination:location``, else ``destination:owning_party``, else
the receiving event's ``bizLocation``) on the supplier (``source:location``, else
``source:owning_party``, else the shipping event's ``bizLocation``). The supplier receives it as
demand, and so does a location that sells (disposition ``retail_sold``/``dispensed`` or
business step ``retail_selling``). Any other log: name the activities that are orders and the
ones that are demand, and the object type that identifies the echelon (``echelon_type``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from keiretsu.analytics.inventory import event_facts, movements
from keiretsu.analytics.log import Log
from keiretsu.analytics.traces import seconds_between
from keiretsu.analytics.view import View

__all__ = ["ALL", "bullwhip"]

ALL = "(all)"
"""The echelon name when the log does not tell echelons apart: the whole log is one."""

PURCHASE_ORDER = "po"
SELLING_DISPOSITIONS = ("retail_sold", "dispensed")
SELLING_STEPS = ("retail_selling",)

_SCHEMA = pa.schema(
    [
        ("echelon", pa.string()),
        ("windows", pa.int64()),
        ("orders_total", pa.float64()),
        ("orders_mean", pa.float64()),
        ("orders_variance", pa.float64()),
        ("demand_total", pa.float64()),
        ("demand_mean", pa.float64()),
        ("demand_variance", pa.float64()),
        ("bullwhip", pa.float64()),
    ]
)


def bullwhip(
    log: Log,
    window_days: float = 7,
    *,
    orders: Sequence[str] | None = None,
    demand: Sequence[str] | None = None,
    echelon_type: str | None = None,
    quantity_attribute: str = "quantity",
) -> View:
    """The bullwhip ratio per echelon: variance of orders placed over variance of demand
    received, both as totals per window of ``window_days`` days.

    ``orders`` / ``demand``: the activities that are orders placed / demand received (e.g.
    ``["place order"]``, ``["Sales Order"]``); by default purchase orders and sales as read
    from EPCIS events (see the module docstring). ``echelon_type``: the object type whose
    objects are the echelons (``"plant"``, ``"distributor"``); by default the EPCIS
    source/destination or business location, else the whole log is one echelon ``(all)``.
    Quantities: the numeric event attribute ``quantity_attribute`` when present, else the
    pieces or class quantities the event moves (the stock ledger), else 1 per order.

    Columns: ``echelon``, ``windows`` (number of windows, the same for every echelon: from the
    log's first event to its last), ``orders_total``, ``orders_mean``, ``orders_variance``,
    ``demand_total``, ``demand_mean``, ``demand_variance`` (per window, sample variance) and
    ``bullwhip`` (null where the echelon has no orders, no demand, or demand that never
    varies)."""
    log.require("activity", orders, where="orders")
    log.require("activity", demand, where="demand")
    log.require("object type", echelon_type, where="echelon_type")
    if not window_days > 0:
        raise ValueError(f"window_days must be a positive number of days, not {window_days!r}")
    e = log.events
    span = log.execute(e.aggregate(first=e.time.min(), last=e.time.max()))
    first, last = span.column("first")[0].as_py(), span.column("last")[0].as_py()
    meta: dict[str, Any] = {"window_days": float(window_days)}
    if first is None:
        return _empty(("no events in the log, so no order events",), meta)
    first, last = _utc(first), _utc(last)
    step = float(window_days) * 86_400.0
    n_windows = int((_utc(last) - _utc(first)).total_seconds() // step) + 1
    meta.update(start=first, windows=n_windows)

    info = _event_info(log, quantity_attribute)
    notes: list[str] = []
    if orders is None:
        order_rows, demand_from_orders = _purchase_orders(log, info)
        order_source = "purchase orders (EPCIS bizTransaction of type po), placed when first seen"
    else:
        order_rows = _activity_rows(log, info, list(orders), echelon_type, side="buyer")
        demand_from_orders = None
        order_source = "events of activity " + ", ".join(repr(a) for a in orders)
    if demand is None:
        if demand_from_orders is None:
            _, demand_from_orders = _purchase_orders(log, info)
        demand_rows = demand_from_orders.union(_sales(info))
        demand_source = (
            "purchase orders received as supplier, and sales (retail_sold, dispensed, "
            "retail_selling) at a location"
        )
    else:
        demand_rows = _activity_rows(log, info, list(demand), echelon_type, side="supplier")
        demand_source = "events of activity " + ", ".join(repr(a) for a in demand)
    notes += [
        f"orders: {order_source}",
        f"demand: {demand_source}",
        f"totals per {window_days:g}-day window from {first.isoformat()} ({n_windows} windows, "
        "windows without orders or demand count as zero); variances are sample variances",
    ]

    rows = order_rows.mutate(side=ibis.literal("orders")).union(
        demand_rows.mutate(side=ibis.literal("demand"))
    )
    since = seconds_between(ibis.literal(first), rows.time)
    rows = rows.mutate(window=(since / step).floor().cast("int64"))
    per = rows.group_by(["echelon", "side", "window"]).agg(
        total=rows.quantity.sum(), counted=rows.counted.sum()
    )
    table = log.execute(per)
    if not any(side == "orders" for side in table.column("side").to_pylist()):
        return _empty(
            (
                f"no order events ({order_source}): the bullwhip ratio needs the orders each "
                "echelon places; name the activities that are orders (keiretsu analyze --orders "
                "ACTIVITY; in Python bullwhip(log, orders=[...]))",
            ),
            meta,
        )
    out, counted = _ratios(table, n_windows)
    if counted:
        notes.append(
            f"{counted} order or demand events carry no quantity: each counted as 1 "
            f"(give a numeric event attribute {quantity_attribute!r})"
        )
    if echelon_type is not None:
        notes.append(f"echelons: objects of type {echelon_type!r}")
    return View("bullwhip", out, tuple(notes), meta)


# --- what each event says -----------------------------------------------------------------------


def _event_info(log: Log, quantity_attribute: str) -> ir.Table:
    """Per event: time, activity, disposition, the places and parties it names, and the
    quantity it carries (attribute, else what it moves; null when neither)."""
    facts = event_facts(log)
    r = log.relations
    roles = ("destination:location", "destination:owning_party", "source:owning_party")
    r = r.filter(r.qualifier.isin(roles))
    parties = r.group_by("event_id").agg(
        **{
            name: r.object_id.max(where=r.qualifier == role)
            for name, role in zip(("dest_loc", "dest_party", "src_party"), roles, strict=True)
        }
    )
    a = log.event_attributes
    a = a.filter((a.name == quantity_attribute) & a.value_type.isin(["integer", "float"]))
    stated = a.group_by("event_id").agg(stated=a.value.cast("float64").sum())
    m = movements(log)
    moved = m.group_by("event_id").agg(
        q_in=m.delta.sum(where=m.delta > 0), q_out=(-m.delta).sum(where=m.delta < 0)
    )
    moved = moved.select(
        "event_id",
        moved_q=ibis.greatest(moved.q_in.fill_null(0.0), moved.q_out.fill_null(0.0)),
    )
    f = facts
    t = f.left_join(parties, f.event_id == parties.event_id).select(
        f, parties.dest_loc, parties.dest_party, parties.src_party
    )
    t = t.left_join(stated, t.event_id == stated.event_id).select(t, stated.stated)
    t = t.left_join(moved, t.event_id == moved.event_id).select(t, moved.moved_q)
    shipped = t.disposition == "in_transit"
    return t.select(
        "event_id",
        "activity",
        "time",
        "disposition",
        dest_loc=t.dest_loc,
        dest_party=t.dest_party,
        receiving_place=shipped.ifelse(ibis.null("string"), t.biz_location),
        src_loc=t.source_location,
        src_party=t.src_party,
        shipping_place=shipped.ifelse(t.biz_location, ibis.null("string")),
        biz_location=t.biz_location,
        quantity=t.stated.fill_null(t.moved_q),
        shipped=shipped,
    )


def _counted(quantity: ir.FloatingValue) -> dict[str, Any]:
    """An order without a known quantity counts as one order."""
    return {
        "quantity": quantity.fill_null(1.0),
        "counted": quantity.isnull().ifelse(1, 0).cast("int64"),
    }


def _purchase_orders(log: Log, info: ir.Table) -> tuple[ir.Table, ir.Table]:
    """Purchase orders as (buyer's orders placed, supplier's demand received): one row per PO
    with ``echelon, time, quantity, counted``."""
    r = log.relations
    o = log.objects
    pos = o.filter(o.object_type == PURCHASE_ORDER).select("object_id")
    named = (
        r.filter(r.qualifier == "bizTransaction")
        .join(pos, "object_id")
        .select("event_id", po=r.object_id)
        .distinct()
    )
    p = named.join(info, "event_id")
    per = p.group_by("po").agg(
        time=p.time.min(),
        shipped_q=p.quantity.sum(where=p.shipped),
        other_q=p.quantity.sum(where=~p.shipped),
        buyer=ibis.coalesce(p.dest_loc.max(), p.dest_party.max(), p.receiving_place.max()),
        supplier=ibis.coalesce(p.src_loc.max(), p.src_party.max(), p.shipping_place.max()),
    )
    # the PO's quantity: what was despatched against it, or what was received if larger
    quantity = ibis.greatest(per.shipped_q.fill_null(0.0), per.other_q.fill_null(0.0))
    quantity = (per.shipped_q.isnull() & per.other_q.isnull()).ifelse(
        ibis.null("float64"), quantity
    )
    placed = per.filter(per.buyer.notnull()).select(
        echelon=per.buyer, time=per.time, **_counted(quantity)
    )
    received = per.filter(per.supplier.notnull()).select(
        echelon=per.supplier, time=per.time, **_counted(quantity)
    )
    return placed, received


def _sales(info: ir.Table) -> ir.Table:
    i = info
    selling = i.disposition.isin(SELLING_DISPOSITIONS) | i.activity.isin(SELLING_STEPS)
    where = ibis.coalesce(i.biz_location, i.src_loc)
    sold = i.filter(selling & where.notnull())
    return sold.select(
        echelon=ibis.coalesce(sold.biz_location, sold.src_loc),
        time=sold.time,
        **_counted(sold.quantity),
    )


def _activity_rows(
    log: Log, info: ir.Table, activities: list[str], echelon_type: str | None, *, side: str
) -> ir.Table:
    """Events of the given activities with their echelon: an object of ``echelon_type``, else
    the buyer (for orders) or supplier (for demand) the event names, else ``(all)``."""
    i = info.filter(info.activity.isin(activities))
    if echelon_type is not None:
        r = log.relations
        o = log.objects
        kind = o.filter(o.object_type == echelon_type).select("object_id")
        related = r.join(kind, "object_id").select("event_id", echelon=r.object_id).distinct()
        j = i.join(related, "event_id")
        return j.select(echelon=j.echelon, time=j.time, **_counted(j.quantity))
    if side == "buyer":
        who = ibis.coalesce(i.dest_loc, i.dest_party, i.receiving_place)
    else:
        who = ibis.coalesce(i.src_loc, i.src_party, i.shipping_place)
    return i.select(echelon=who.fill_null(ALL), time=i.time, **_counted(i.quantity))


# --- the ratio ----------------------------------------------------------------------------------


def _ratios(table: pa.Table, n_windows: int) -> tuple[pa.Table, int]:
    """Per echelon, the order and demand totals per window (zero where nothing happened),
    their means and sample variances, and the ratio."""
    echelons = table.column("echelon").to_pylist()
    sides = table.column("side").to_pylist()
    windows = table.column("window").to_pylist()
    totals = table.column("total").to_pylist()
    counted = sum(int(c or 0) for c in table.column("counted").to_pylist())
    series: dict[tuple[str, str], np.ndarray[Any, Any]] = {}
    for ech, side, w, total in zip(echelons, sides, windows, totals, strict=True):
        key = (str(ech), str(side))
        if key not in series:
            series[key] = np.zeros(n_windows)
        if 0 <= int(w) < n_windows:
            series[key][int(w)] += float(total or 0.0)
    rows = []
    for ech in sorted({k[0] for k in series}):
        placed = series.get((ech, "orders"))
        received = series.get((ech, "demand"))
        o_mean, o_var = _moments(placed)
        d_mean, d_var = _moments(received)
        ratio = None
        if o_var is not None and d_var is not None and d_var > 0:
            ratio = o_var / d_var
        rows.append(
            {
                "echelon": ech,
                "windows": n_windows,
                "orders_total": None if placed is None else float(placed.sum()),
                "orders_mean": o_mean,
                "orders_variance": o_var,
                "demand_total": None if received is None else float(received.sum()),
                "demand_mean": d_mean,
                "demand_variance": d_var,
                "bullwhip": ratio,
            }
        )
    return pa.Table.from_pylist(rows, schema=_SCHEMA), counted


def _moments(x: np.ndarray[Any, Any] | None) -> tuple[float | None, float | None]:
    if x is None:
        return None, None
    mean = float(x.mean())
    var = float(x.var(ddof=1)) if len(x) > 1 else None
    return mean, var


def _empty(notes: tuple[str, ...], meta: dict[str, Any]) -> View:
    return View("bullwhip", pa.Table.from_pylist([], schema=_SCHEMA), notes, meta)


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
