"""The value stream end to end, as one node sees it: whose events it holds, and one object's
path across the companies of the chain.

A node's log holds its own events and the events its partners pushed to it, each under the
policy of the company that recorded it. A partner's events are kept under that partner's
namespace (``urn:keiretsu:from:<partner>:<event id>``, :mod:`keiretsu.store.received`), so the
company that *recorded* an event is read from the event itself: the partner named in its id, or
this node. That holds wherever the log goes — the node's DuckDB file, an OCEL export of it, a
Spark session.

Nothing has to be joined by hand: the same pallet, lot or purchase order has the same
identifier in every company's events (GS1 keys are stored in their one canonical Digital Link
form), so a pallet shipped by the plant and received by the distributor is *one* object in the
distributor's log, with both companies' steps on it.

* :func:`provenance` — per company: how many of the events this node sees it recorded, which
  steps, over what time span;
* :func:`steps_by_node` — per step and company: how many events (a ``shipping`` at the plant
  and one at the distributor are two rows);
* :func:`object_path` — the path of one object (a pallet's SSCC, a lot, a purchase order)
  through the chain: its events in time order, each with the company that recorded it;
* :func:`shared_objects` — the objects that more than one company's events touch: the
  stitches of the chain;
* :func:`resolve_object` — the identifier under which the log knows an object written as an
  EPC URN, a Digital Link or a bare purchase-order number.

Every view takes ``local``, the name this node goes by in the ``node`` column.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from keiretsu.analytics.flow import utc_times
from keiretsu.analytics.log import Log
from keiretsu.analytics.view import View
from keiretsu.model.cbv import (
    BIZ_LOCATION,
    CONTAINMENT_ROLES,
    DESTINATION,
    PLACE_ROLES,
    READ_POINT,
    SOURCE,
)
from keiretsu.model.gs1 import identify
from keiretsu.store.received import RECEIVED_PREFIX

__all__ = [
    "object_path",
    "provenance",
    "recorded_by",
    "resolve_object",
    "shared_objects",
    "steps_by_node",
]

_PARTNER = "^" + re.escape(RECEIVED_PREFIX) + "([^:]+):"

_WHO = (
    "company: the node that recorded the event — the partner named in the id of an event a "
    f"partner pushed ({RECEIVED_PREFIX}<partner>:…), else this node"
)

_TIME = pa.timestamp("us", tz="UTC")


def recorded_by(log: Log, *, local: str) -> ir.Table:
    """The events with the company that recorded each: ``event_id, activity, time, seq,
    node`` (``local`` for this node's own events)."""
    e = log.events
    pushed = e.event_id.startswith(RECEIVED_PREFIX)
    return e.mutate(node=ibis.ifelse(pushed, e.event_id.re_extract(_PARTNER, 1), local))


def _per_step(log: Log, local: str) -> pa.Table:
    """Per company and step: events, first and last event time (small: companies × steps)."""
    e = recorded_by(log, local=local)
    return log.execute(
        e.group_by(["node", "activity"]).agg(
            events=e.count(), first_event=e.time.min(), last_event=e.time.max()
        )
    )


def provenance(log: Log, *, local: str) -> View:
    """Per company (``node``; ``local`` names this node): the events of it this log holds
    (``events``), the number of distinct steps (``activities``), the steps, and the first and
    last event time (UTC). Rows in order of each company's first event: upstream first, in a
    chain."""
    per_node: dict[str, dict[str, Any]] = {}
    for row in _per_step(log, local).to_pylist():
        node = per_node.setdefault(
            row["node"],
            {"events": 0, "steps": [], "first_event": None, "last_event": None},
        )
        node["events"] += row["events"]
        node["steps"].append(row["activity"])
        first, last = row["first_event"], row["last_event"]
        if node["first_event"] is None or first < node["first_event"]:
            node["first_event"] = first
        if node["last_event"] is None or last > node["last_event"]:
            node["last_event"] = last
    order = sorted(per_node, key=lambda n: (per_node[n]["first_event"], n))
    table = pa.table(
        {
            "node": pa.array(order, pa.string()),
            "events": pa.array([per_node[n]["events"] for n in order], pa.int64()),
            "activities": pa.array([len(per_node[n]["steps"]) for n in order], pa.int64()),
            "steps": pa.array([sorted(per_node[n]["steps"]) for n in order], pa.list_(pa.string())),
            "first_event": pa.array([per_node[n]["first_event"] for n in order], _TIME),
            "last_event": pa.array([per_node[n]["last_event"] for n in order], _TIME),
        }
    )
    return View("provenance", table, (_WHO,))


def steps_by_node(log: Log, *, local: str) -> View:
    """Per step (``activity``) and company (``node``): how many events. The same step at two
    companies (a ``shipping`` at the plant and one at the distributor) is two rows; rows in
    order of each pair's first event."""
    rows = sorted(
        _per_step(log, local).to_pylist(),
        key=lambda r: (r["first_event"], r["activity"], r["node"]),
    )
    table = pa.table(
        {
            "activity": pa.array([r["activity"] for r in rows], pa.string()),
            "node": pa.array([r["node"] for r in rows], pa.string()),
            "events": pa.array([r["events"] for r in rows], pa.int64()),
        }
    )
    return View("steps_by_node", table, (_WHO,))


def _knows(log: Log, object_id: str) -> bool:
    r = log.relations
    found = log.execute(r.filter(r.object_id == object_id).select("object_id").limit(1))
    return bool(found.num_rows)


def resolve_object(log: Log, object_id: str) -> str | None:
    """The identifier under which this log knows ``object_id``: as written, or — for a GS1 key
    written as an EPC URN (``urn:epc:id:sscc:…``) or a Digital Link of another domain — its
    canonical Digital Link; then, for a purchase order or other business transaction number
    written bare (``PO-7001``), the one identifier ending with ``:`` and it. None if the log
    does not know it (or the bare number ends more than one identifier)."""
    canonical = identify(object_id)[0]
    for candidate in dict.fromkeys([object_id, canonical]):
        if _knows(log, candidate):
            return candidate
    r = log.relations
    found = log.execute(
        r.filter(r.object_id.endswith(":" + object_id)).select("object_id").distinct().limit(2)
    )
    if found.num_rows == 1:
        return str(found.column("object_id")[0].as_py())
    return None


def _packed_with(log: Log, object_id: str) -> list[str]:
    """The other side of ``object_id``'s aggregation events, one level: a pallet's cases, a
    case's pallet."""
    r = log.relations
    roles = list(CONTAINMENT_ROLES)
    me = r.filter((r.object_id == object_id) & r.qualifier.isin(roles)).select(
        "event_id", my_role=r.qualifier
    )
    other = r.filter(r.qualifier.isin(roles) & (r.object_id != object_id))
    joined = other.join(me, "event_id")
    found = log.execute(
        joined.filter(joined.qualifier != joined.my_role).select("object_id").distinct()
    )
    return sorted(str(v) for v in found.column("object_id").to_pylist())


def object_path(log: Log, object_id: str, *, local: str, contents: bool = False) -> View:
    """The path of one object through the chain: every event this log holds that touches it,
    in time order, with the company that recorded it (``node``), the step (``activity``), how
    the object took part (``qualifier``: ``epc``, ``parent``, ``child``, ``output``…; when
    only what it carries is named, how that took part), how many of the followed objects the
    event touches (``objects``), and where (``location``: the bizLocation, else the
    readPoint). ``contents=True`` also follows what was packed in it and what it was packed in
    (the other side of its aggregation events: a pallet's cases, a case's pallet), one level.

    ``object_id`` may be written as stored or as an EPC URN (see :func:`resolve_object`); an
    unknown object gives an empty table."""
    resolved = resolve_object(log, object_id) or object_id
    followed = [resolved, *(_packed_with(log, resolved) if contents else [])]
    r = log.relations
    touching = r.filter(r.object_id.isin(followed))
    touches = touching.group_by("event_id").agg(
        own=touching.qualifier.min(where=touching.object_id == resolved),
        carried=touching.qualifier.min(),
        objects=touching.object_id.nunique(),
    )
    places = r.filter(r.qualifier.isin(list(PLACE_ROLES)))
    places = places.semi_join(touches, "event_id")
    place = places.group_by("event_id").agg(
        biz_location=places.object_id.min(where=places.qualifier == BIZ_LOCATION),
        read_point=places.object_id.min(where=places.qualifier == READ_POINT),
    )
    events = recorded_by(log, local=local)
    path = touches.join(events, "event_id").left_join(place, "event_id")
    path = path.select(
        time=path.time,
        node=path.node,
        activity=path.activity,
        qualifier=path.own.coalesce(path.carried),
        objects=path.objects,
        location=path.biz_location.coalesce(path.read_point),
        event_id=path.event_id,
        seq=path.seq,
    ).order_by(["time", "seq"])
    table = utc_times(log.execute(path.drop("seq")))
    notes = [_WHO]
    if contents:
        notes.append(f"followed with what it carried or was carried in: {len(followed)} objects")
    return View("object_path", table, tuple(notes), {"object": resolved})


def shared_objects(log: Log, *, local: str) -> View:
    """The objects whose events come from more than one company — where the chain is stitched
    together: ``object_id``, ``object_type``, the companies (``nodes``, upstream first) and
    the number of events touching it (``events``). Locations, parties and places (readPoint,
    bizLocation, source, destination) are left out: every event names one; they stitch
    nothing."""
    r = log.relations
    goods = r.filter(
        ~r.qualifier.isin(list(PLACE_ROLES))
        & ~r.qualifier.startswith(SOURCE)
        & ~r.qualifier.startswith(DESTINATION)
    )
    events = recorded_by(log, local=local)
    touched = goods.join(events, "event_id")
    per_node = touched.group_by(["object_id", "node"]).agg(
        first_seen=touched.time.min(), events=touched.count()
    )
    stitches = per_node.group_by("object_id").agg(companies=per_node.node.nunique())
    stitches = stitches.filter(stitches.companies > 1)
    kept = per_node.semi_join(stitches, "object_id")
    o = log.objects
    kept = kept.left_join(o, kept.object_id == o.object_id).select(
        "object_id", "node", "first_seen", "events", "object_type"
    )
    grouped: dict[str, dict[str, Any]] = defaultdict(lambda: {"nodes": [], "events": 0})
    for row in log.execute(kept).to_pylist():
        item = grouped[row["object_id"]]
        item["object_type"] = row["object_type"]
        item["nodes"].append((row["first_seen"], row["node"]))
        item["events"] += row["events"]
    order = sorted(grouped, key=lambda oid: (min(grouped[oid]["nodes"])[0], oid))
    table = pa.table(
        {
            "object_id": pa.array(order, pa.string()),
            "object_type": pa.array([grouped[o]["object_type"] for o in order], pa.string()),
            "nodes": pa.array(
                [[n for _, n in sorted(grouped[o]["nodes"])] for o in order],
                pa.list_(pa.string()),
            ),
            "events": pa.array([grouped[o]["events"] for o in order], pa.int64()),
        }
    )
    return View("shared_objects", table, (_WHO,))
