"""The customer: where goods leave the value stream, how much the customers take, and takt.

Every lean figure is measured against the customer (Rother & Shook, *Learning to See*: "start
with the customer"): takt, days of demand on the map, overproduction, the finished-goods queue.
This module is the one definition of three things the other views read:

* **An exit** (:func:`exits`): an event at which an object leaves the value stream to its
  customer. By the first rule the data allows:

  1. *declared end steps* (``end_steps``): every event of one of those activities;
  2. *EPCIS events*: goods **sold** (disposition ``retail_sold`` or ``dispensed``, business step
     ``retail_selling``) or **shipped outside the network** — a shipment (disposition
     ``in_transit`` or business step ``shipping``) whose every destination is a place or party
     where the log records nothing: not the business location or read point of any event (a
     read point's site counts: ``…/414/<gln>/254/1`` is at ``…/414/<gln>``), and no party that
     ships anything itself. A plant's shipment to a distributor whose events the log holds is a
     move *inside* the network; the distributor's shipment to a retailer that records nothing is
     an exit;
  3. *other logs* (XES, OCEL without EPCIS semantics): an object's last event, when the object
     is finished — its last step is a **terminal** step (one that ends at least 95% of the paths
     that reach it); where the paths have no terminal step, when the log stayed silent about the
     object afterwards for longer than 95% of the gaps between consecutive events of an object.
     The other objects may still be in the process: they are *open* (right-censored), not exits.

* **Finished objects** (:func:`finished_objects`): the objects with an exit, and when.
* **Customer demand** (:func:`customer_demand`): per product family, what the customers took —
  for EPCIS logs in the stock ledger's units (a serialised item one piece, a lot its quantity),
  per product (GTIN); otherwise the finished objects of the followed type — over the log's span,
  per day, and **takt** = available time ÷ demand on the node's :class:`Calendar` (24/7 unless
  one is given; the view says which).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.analytics.calendar import Calendar
from keiretsu.analytics.inventory import is_demand, movements
from keiretsu.analytics.log import Log
from keiretsu.analytics.traces import object_events, seconds_between, steps, stored_passes
from keiretsu.analytics.view import View
from keiretsu.model.cbv import BIZ_LOCATION, DESTINATION, READ_POINT, SOURCE, WHAT_ROLES

__all__ = [
    "SOLD_DISPOSITIONS",
    "TERMINAL_SHARE",
    "customer_demand",
    "exits",
    "finished_objects",
    "has_epcis_semantics",
]

SOLD_DISPOSITIONS = ("retail_sold", "dispensed")
"""CBV dispositions that say the goods went to the end customer."""

SELLING_STEPS = ("retail_selling",)
SHIPPING_STEPS = ("shipping",)
SHIPPED_DISPOSITIONS = ("in_transit",)

TERMINAL_SHARE = 0.95
"""A step is terminal when at least this share of the objects that reach it end their path
there (plain logs)."""

QUIET_QUANTILE = 0.95
"""An object whose last event was followed by silence longer than this quantile of the gaps
between consecutive events of an object has finished (plain logs)."""

_EXIT_COLUMNS = ["object_id", "object_type", "event_id", "activity", "time", "rule"]


def has_epcis_semantics(log: Log) -> bool:
    """Whether the log's events carry EPCIS facts (an ``eventType`` attribute): then exits are
    read from dispositions, business steps and destinations."""
    a = log.event_attributes
    return log.memo(
        ("customer.epcis",),
        lambda: bool(log.scalar(a.filter(a.name == "eventType").count()) or 0),
    )


def _site(place: ir.StringValue) -> ir.StringValue:
    """The site of a GS1 location: a sub-location (``…/414/<gln>/254/<ext>``) is at its GLN."""
    return place.re_replace(r"/254/.*$", "")


def _epcis_exit_events(log: Log) -> ir.Table:
    """``event_id, rule`` of the EPCIS events at which goods leave the network."""
    a = log.event_attributes
    disp = a.filter(a.name == "disposition").select("event_id", disposition=a.value)
    e = log.events.left_join(disp, "event_id")
    e = e.select(e.event_id, e.activity, e.disposition)
    sold = e.filter(e.disposition.isin(SOLD_DISPOSITIONS) | e.activity.isin(SELLING_STEPS))
    shipped = e.filter(e.disposition.isin(SHIPPED_DISPOSITIONS) | e.activity.isin(SHIPPING_STEPS))

    r = log.relations
    sites = r.filter(r.qualifier.isin([BIZ_LOCATION, READ_POINT])).select(place=_site(r.object_id))
    senders = r.filter(r.qualifier.startswith(SOURCE)).select(place=r.object_id.cast("string"))
    inside = sites.union(senders).distinct()
    dest = r.filter(r.qualifier.startswith(DESTINATION)).select(
        "event_id", place=_site(r.object_id)
    )
    dest = dest.left_join(inside, dest.place == inside.place).select(
        dest.event_id, known=inside.place.notnull()
    )
    per_event = dest.group_by("event_id").agg(
        destinations=dest.count(), inside=dest.known.cast("int64").sum()
    )
    outside = per_event.filter((per_event.destinations > 0) & (per_event.inside == 0))
    shipped_out = shipped.join(outside, "event_id").select(shipped.event_id)
    return sold.select("event_id", rule=ibis.literal("sold")).union(
        shipped_out.select("event_id", rule=ibis.literal("shipped outside the network"))
    )


def _handled(log: Log, events: ir.Table) -> ir.Table:
    """``object_id, event_id`` of the goods an event handles: named in it (EPC, parent, child,
    input, output) or packed on a container it handles (the stock ledger's items)."""
    r = log.relations
    direct = r.filter(r.qualifier.isin(WHAT_ROLES))
    direct = direct.select(
        object_id=direct.object_id.cast("string"), event_id=direct.event_id.cast("string")
    )
    m = movements(log)
    inherited = m.select(object_id=m.object_id.cast("string"), event_id=m.event_id.cast("string"))
    both = direct.union(inherited).distinct()
    return both.join(events, "event_id").select(both.object_id, both.event_id, events.rule)


def _plain_exits(log: Log, object_type: str | None) -> ir.Table:
    """Exits of a log without EPCIS semantics: the last event of each finished object."""
    # each object's trace with each event's successor: the store keeps it (no window)
    stored = stored_passes(log)
    oe = steps(log, object_type).select(
        "object_id",
        "object_type",
        "event_id",
        "activity",
        "time",
        "seq",
        "next_time",
        *(["pass_index"] if stored else []),
    )
    gaps = oe.filter(oe.next_time.notnull())
    gap = seconds_between(gaps.time, gaps.next_time)
    quiet = log.scalar(gap.quantile(QUIET_QUANTILE))
    end = log.scalar(log.events.time.max())
    last = oe.filter(oe.next_time.isnull())
    reached = oe.group_by(["object_type", "activity"]).agg(
        # an object's first pass of a step counts it once: a sum, not a distinct count of
        # millions of text ids
        objects=(oe.pass_index == 0).cast("int64").sum() if stored else oe.object_id.nunique()
    )
    ended = last.group_by(["object_type", "activity"]).agg(ends=last.count())
    shares = reached.join(ended, ["object_type", "activity"])
    terminal = shares.filter(shares.ends >= TERMINAL_SHARE * shares.objects).select(
        "object_type", "activity", terminal=ibis.literal(True)
    )
    last = last.left_join(terminal, ["object_type", "activity"]).select(
        last.object_id, last.object_type, last.event_id, last.activity, last.time, "terminal"
    )
    silence = seconds_between(last.time, ibis.literal(end))
    is_terminal = last.terminal.fill_null(False)
    if log.scalar(terminal.count()):
        # the paths have a clear end: only it finishes an object (the others are still open)
        finished = last.filter(is_terminal)
    elif quiet is not None:
        finished = last.filter(silence > float(quiet))
    else:
        finished = last.filter(ibis.literal(False))
    return finished.select(
        "object_id",
        "object_type",
        "event_id",
        "activity",
        "time",
        rule=is_terminal.ifelse("terminal step", "quiet since").name("rule"),
    )


def exits(
    log: Log, object_type: str | None = None, *, end_steps: Collection[str] | None = None
) -> ir.Table:
    """The events at which objects leave the value stream to their customer (see the module
    docstring for the rules): one row per object and exit event, ``object_id, object_type,
    event_id, activity, time, rule`` (``rule`` says which rule found it). ``object_type``
    keeps the objects of that type (all types when ``None``).

    Computed once per log and options (:meth:`Log.memo`) and handed back as a table of its
    rows, so the views that read it do not build and compile it again."""
    ends = tuple(sorted(end_steps or ()))
    if end_steps or has_epcis_semantics(log):
        # an exit of one type is an exit of all types kept to that type: computed once
        rows = log.memo(
            ("customer.exits", None, ends), lambda: log.execute(_exits(log, None, ends))
        )
        if object_type is not None:
            rows = rows.filter(pc.equal(rows["object_type"], object_type))
    else:
        # finished objects of plain logs are judged per type (its terminal steps, its gaps)
        key = ("customer.exits", object_type, ends)
        rows = log.memo(key, lambda: log.execute(_exits(log, object_type, None)))
    return ibis.memtable(rows)


def _exits(log: Log, object_type: str | None, end_steps: Collection[str] | None) -> ir.Table:
    if end_steps:
        oe = object_events(log, object_type)
        out = oe.filter(oe.activity.isin(list(end_steps)))
        return out.select(*_EXIT_COLUMNS[:-1], rule=ibis.literal("declared end step"))
    if not has_epcis_semantics(log):
        return _plain_exits(log, object_type)
    handled = _handled(log, _epcis_exit_events(log))
    o = log.objects
    if object_type is not None:
        o = o.filter(o.object_type == object_type)
    e = log.events
    j = handled.join(o, "object_id").join(e, "event_id")
    return j.select(j.object_id, j.object_type, j.event_id, j.activity, j.time, j.rule).distinct()


def finished_objects(
    log: Log, object_type: str, *, end_steps: Collection[str] | None = None
) -> ir.Table:
    """The objects of ``object_type`` whose path reached the customer: ``object_id,
    finished_at`` (the time of their first exit). Objects not listed are still in the process
    when the log ends (open, right-censored)."""
    x = exits(log, object_type, end_steps=end_steps)
    return x.group_by("object_id").agg(finished_at=x.time.min())


def customer_demand(
    log: Log,
    *,
    object_type: str | None = None,
    end_steps: Collection[str] | None = None,
    calendar: Calendar | None = None,
) -> View:
    """What the customers took, per product family, and the takt it sets.

    Columns: ``family`` (a product's GTIN Digital Link for EPCIS goods, else the object type),
    ``unit`` (``pieces``, a unit of measure such as ``KGM``, or the object type's name),
    ``quantity`` (what the customers took over the log's span, in ``unit``), ``exits`` (the
    exit events it came from), ``days`` (the log's span, first to last event, in days),
    ``per_day`` (quantity per calendar day), ``available_seconds`` (working time over the span on
    the calendar) and ``takt_seconds`` (available time ÷ quantity: how often the customers take
    one unit). ``meta["calendar"]`` and the notes say which calendar (24/7 by default)."""
    log.require("object type", object_type, where="object_type")
    cal = calendar or Calendar.always()
    key = ("customer.demand", object_type, tuple(sorted(end_steps or ())), cal)
    return log.memo(key, lambda: _demand(log, object_type, end_steps, cal))


def _demand(
    log: Log, object_type: str | None, end_steps: Collection[str] | None, cal: Calendar
) -> View:
    span = log.execute(
        log.events.aggregate(first=log.events.time.min(), last=log.events.time.max())
    )
    first, last = span.column("first")[0].as_py(), span.column("last")[0].as_py()
    schema = pa.schema(
        [
            ("family", pa.string()),
            ("unit", pa.string()),
            ("quantity", pa.float64()),
            ("exits", pa.int64()),
            ("days", pa.float64()),
            ("per_day", pa.float64()),
            ("available_seconds", pa.float64()),
            ("takt_seconds", pa.float64()),
        ]
    )
    notes = [cal.label()]
    if first is None:
        return View(
            "customer_demand", schema.empty_table(), tuple(notes), {"calendar": cal.label()}
        )
    first, last = _utc(first), _utc(last)
    days = (last - first).total_seconds() / 86_400.0
    available = cal.available_seconds(first, last)

    rows: list[dict[str, object]] = []
    if end_steps or not has_epcis_semantics(log):
        if object_type is None:
            raise ValueError("name the object type whose finished objects are the demand")
        x = exits(log, object_type, end_steps=end_steps)
        got = log.execute(x.aggregate(objects=x.object_id.nunique(), events=x.event_id.nunique()))
        n = int(got.column("objects")[0].as_py() or 0)
        ev = int(got.column("events")[0].as_py() or 0)
        if n:
            rows.append(
                {"family": object_type, "unit": object_type, "quantity": float(n), "exits": ev}
            )
        rule = (
            f"demand = objects of type {object_type!r} reaching a declared end step "
            f"({', '.join(sorted(end_steps))})"
            if end_steps
            else f"demand = finished objects of type {object_type!r}: their last step is "
            f"terminal (ends at least {TERMINAL_SHARE:.0%} of the paths that reach it) or, where "
            "no step is, the log is silent about them for longer than 95% of the gaps between "
            "an object's events; objects still open are not demand"
        )
        notes.append(rule)
    else:
        ev = _epcis_exit_events(log)
        m = movements(log)
        m = m.filter(is_demand(m)).join(ev, "event_id")
        per = m.group_by(["product", "uom"]).agg(
            quantity=(-m.delta).sum(), exits=m.event_id.nunique()
        )
        for r in log.execute(per.order_by([ibis.desc("quantity"), "product"])).to_pylist():
            rows.append(
                {
                    "family": r["product"],
                    "unit": r["uom"] or "pieces",
                    "quantity": float(r["quantity"]),
                    "exits": int(r["exits"]),
                }
            )
        notes.append(
            "demand = goods sold (retail_sold, dispensed) or shipped outside the network (to "
            "a place or party where the log records no event), in the stock ledger's units, "
            "per product (GTIN)"
        )
    for r in rows:
        q = float(r["quantity"])  # type: ignore[arg-type]
        r["days"] = days
        r["per_day"] = q / days if days > 0 else None
        r["available_seconds"] = available
        r["takt_seconds"] = available / q if q > 0 and available > 0 else None
    notes.append("takt = available time over the log's span ÷ the quantity the customers took")
    table = pa.Table.from_pylist(rows, schema)
    return View("customer_demand", table, tuple(notes), {"calendar": cal.label()})


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
