"""OCEL 2.0 rows back out as EPCIS 2.0 events: what a partner sees through the EPCIS interface.

A twin's events do not all come from EPCIS: a plant's MES export (CSV), its process-mining log
(OCEL 2.0, XES) and the simulator write events too. And what a partner may see of an EPCIS
event is what the sharing policy left of its OCEL rows (objects dropped, identifiers
pseudonymised), not the document the twin once received. :func:`epcis_from_ocel` writes such
rows as EPCIS 2.0 JSON events, using nothing but the :class:`~keiretsu.model.ocel.Ocel` it is
given — the inverse of the mapping in ``docs/formats/epcis.md``:

* the event type (activity) is the ``bizStep``: a CBV word as the bare word (``shipping``), a
  URI as written, any other name as a keiretsu vocabulary URI
  (``https://keiretsu.dev/ns#BizStep-Pick%20order``);
* the attributes ``eventType`` and ``action`` give the EPCIS event type and action (else an
  ``ObjectEvent`` that ``OBSERVE``\\s); ``disposition``, ``recordTime``, ``eventTimeZoneOffset``,
  ``persistentDisposition.*``, ``errorDeclaration.*``, ``certificationInfo``,
  ``sensorElementList`` come back as the fields they were;
* the related objects go where their qualifier says (``epc``, ``parent``, ``child``, ``input``,
  ``output``, ``readPoint``, ``bizLocation``, ``bizTransaction``, ``source:<type>``,
  ``destination:<type>``, ``transformationID``); a relation with an amount, or to an object of
  a class type (``product class``, ``product lot``… :data:`keiretsu.model.gs1.CLASS_TYPES`), is
  a quantity element; objects related with any
  other qualifier (an OCEL file's ``order``, ``item``…) are what the event was about: they go
  into ``epcList`` (``childEPCs`` for an aggregation) and are listed with their type and
  qualifier in the extension member ``keiretsu:objects``;
* every other attribute becomes an extension member ``keiretsu:<name>`` under the keiretsu
  namespace :data:`KEIRETSU_NS`, with its OCEL type kept as the JSON type; an attribute that is
  already ``prefix:local`` with its namespace known (``xmlns:<prefix>``) keeps its name.

EPCIS wants URIs where OCEL allows any text: an identifier that is not one (``o1``, an order
number) is written ``urn:keiretsu:id:<the id, percent-encoded>``, an event id
``urn:keiretsu:event:<…>``; :func:`plain_id` reads both back.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, unquote

import orjson

from keiretsu.io.epcis.mapping import BUSINESS_TRANSACTION
from keiretsu.model import cbv
from keiretsu.model.cbv import (
    BIZ_STEPS,
    BIZ_TRANSACTION_TYPES,
    DISPOSITIONS,
    ERROR_REASONS,
    SOURCE_DEST_TYPES,
    STANDARD_PREFIXES,
    STANDARD_QUALIFIERS,
    is_absolute_uri,
)
from keiretsu.model.gs1 import CLASS_TYPES, identifier_problem
from keiretsu.model.ocel import Ocel

__all__ = [
    "CLASS_TYPES",
    "EPCIS_CONTEXT",
    "EVENT_TYPES",
    "KEIRETSU_NS",
    "KEIRETSU_PREFIX",
    "STANDARD_QUALIFIERS",
    "epcis_from_ocel",
    "event_uri",
    "object_uri",
    "plain_id",
    "vocabulary_uri",
]

KEIRETSU_NS = "https://keiretsu.dev/ns#"
"""The namespace of keiretsu's own EPCIS extension members (``keiretsu:objects``,
``keiretsu:price``…) and vocabulary terms (``https://keiretsu.dev/ns#BizStep-Pick%20order``)."""
KEIRETSU_PREFIX = "keiretsu"
"""The JSON-LD prefix bound to :data:`KEIRETSU_NS` in the ``@context`` of every event that
uses it."""
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
"""The standard JSON-LD context of EPCIS 2.0 documents."""

EVENT_TYPES = frozenset(cbv.EVENT_TYPES)
"""The five EPCIS 2.0 event types."""
ACTIONS = frozenset(cbv.ACTIONS)

ID_URN = "urn:keiretsu:id:"
EVENT_URN = "urn:keiretsu:event:"

# Event attributes the mapping writes for EPCIS fields; any other is an extension member.
_FIELD_ATTRIBUTES = frozenset(
    {
        "eventType",
        "action",
        "disposition",
        "eventTimeZoneOffset",
        "recordTime",
        "certificationInfo",
        "sensorElementList",
        "persistentDisposition.set",
        "persistentDisposition.unset",
    }
)


def _is_uri(text: str) -> bool:
    return is_absolute_uri(text) and identifier_problem(text) is None


def object_uri(object_id: str) -> str:
    """An object id as EPCIS writes identifiers: itself if it is a URI (a GS1 Digital Link, an
    EPC URN, a company URI), else ``urn:keiretsu:id:<percent-encoded id>``."""
    return object_id if _is_uri(object_id) else ID_URN + quote(object_id, safe="")


def event_uri(event_id: str) -> str:
    """An event id as an EPCIS ``eventID``: itself if it is a URI, else
    ``urn:keiretsu:event:<percent-encoded id>``."""
    return event_id if _is_uri(event_id) else EVENT_URN + quote(event_id, safe="")


def plain_id(uri: str) -> str:
    """The OCEL id behind an identifier written by :func:`object_uri` / :func:`event_uri`
    (anything else is returned as given)."""
    for prefix in (ID_URN, EVENT_URN):
        if uri.startswith(prefix):
            return unquote(uri[len(prefix) :])
    return uri


_VOCAB_MARK = {
    "bizStep": ("BizStep-", BIZ_STEPS.terms),
    "disposition": ("Disp-", DISPOSITIONS.terms),
    "bizTransactionType": ("BTT-", BIZ_TRANSACTION_TYPES.terms),
    "sourceDestType": ("SDT-", SOURCE_DEST_TYPES.terms),
    "errorReason": ("ER-", ERROR_REASONS.terms),
}


def vocabulary_uri(kind: str, value: str) -> str:
    """A business step, disposition, transaction type (``bizTransactionType``), source or
    destination type (``sourceDestType``) or error reason as EPCIS writes it: a CBV word bare, a
    URI as written, any other word as a keiretsu term (``https://keiretsu.dev/ns#Disp-hold``)."""
    mark, terms = _VOCAB_MARK[kind]
    if value in terms or _is_uri(value):
        return value
    return f"{KEIRETSU_NS}{mark}{quote(value, safe='')}"


def vocabulary_word(kind: str, value: str) -> str:
    """The inverse of :func:`vocabulary_uri` for keiretsu terms: the word as the twin holds it."""
    prefix = KEIRETSU_NS + _VOCAB_MARK[kind][0]
    return unquote(value[len(prefix) :]) if value.startswith(prefix) else value


def _event_time(time: datetime, offset: str) -> str:
    """The event time as RFC 3339 in the event's own time zone offset (``+01:00``)."""
    tz = UTC
    if len(offset) == 6 and offset[0] in "+-" and offset[3] == ":":
        try:
            minutes = int(offset[1:3]) * 60 + int(offset[4:6])
            tz = timezone(timedelta(minutes=-minutes if offset[0] == "-" else minutes))
        except ValueError:
            tz = UTC
    local = time.astimezone(tz)
    spec = "milliseconds" if local.microsecond % 1000 == 0 else "microseconds"
    return local.isoformat(timespec=spec)


def _typed(text: str | None, value_type: str) -> Any:
    """An attribute value as its JSON type (integers and booleans as numbers and booleans,
    a float that JSON cannot hold — NaN, infinity — as text)."""
    if text is None:
        return None
    try:
        if value_type == "integer":
            return int(text)
        if value_type == "float":
            value = float(text)
            return value if value == value and value not in (float("inf"), float("-inf")) else text
        if value_type == "boolean":
            return text.lower() in ("true", "1")
    except ValueError:
        return text
    return text


def _json_or_text(text: str | None) -> Any:
    if text is None:
        return None
    if text[:1] in ("[", "{"):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return text
    return text


@dataclass
class _Row:
    """One event's rows, gathered from the tables of an Ocel."""

    event_id: str
    activity: str
    time: datetime
    attributes: list[tuple[str, str | None, str]] = field(default_factory=list)
    relations: list[tuple[str, str, float | None, str | None]] = field(default_factory=list)


def epcis_from_ocel(ocel: Ocel) -> list[dict[str, Any]]:
    """EPCIS 2.0 JSON events (the JSON binding form) for the events of ``ocel``, in its row
    order. Uses only what ``ocel`` holds — after a sharing policy that is all a partner may
    see."""
    return [event for _, event in render_ocel(ocel)]


def render_ocel(ocel: Ocel) -> list[tuple[str, dict[str, Any]]]:
    """(OCEL event id, EPCIS event) for each event of ``ocel``, in its row order."""
    events = ocel.events.to_pydict()
    rows: dict[str, _Row] = {}
    for eid, activity, time in zip(
        events["ocel_id"], events["ocel_type"], events["ocel_time"], strict=True
    ):
        rows.setdefault(eid, _Row(eid, activity, time))
    attrs = ocel.event_attributes.to_pydict()
    for eid, name, value, vtype in zip(
        attrs["ocel_id"],
        attrs["ocel_name"],
        attrs["ocel_value"],
        attrs["ocel_value_type"],
        strict=True,
    ):
        row = rows.get(eid)
        if row is not None:
            row.attributes.append((name, value, vtype))
    rel = ocel.event_objects.to_pydict()
    for eid, oid, qualifier, quantity, uom in zip(
        rel["ocel_event_id"],
        rel["ocel_object_id"],
        rel["ocel_qualifier"],
        rel["quantity"],
        rel["uom"],
        strict=True,
    ):
        row = rows.get(eid)
        if row is not None:
            row.relations.append((oid, qualifier, quantity, uom))
    objects = ocel.objects.to_pydict()
    types = dict(zip(objects["ocel_id"], objects["ocel_type"], strict=True))
    return [(eid, _event(row, types)) for eid, row in rows.items()]


def _quantity(oid: str, quantity: float | None, uom: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {"epcClass": object_uri(oid)}
    if quantity is not None:
        element["quantity"] = quantity
    if uom is not None:
        element["uom"] = uom
    return element


def _event(row: _Row, types: dict[str, str]) -> dict[str, Any]:
    values: dict[str, tuple[str | None, str]] = {}
    for name, value, vtype in row.attributes:
        values.setdefault(name, (value, vtype))

    def text(name: str) -> str | None:
        found = values.get(name)
        return found[0] if found else None

    etype = text("eventType")
    etype = etype if etype in EVENT_TYPES else "ObjectEvent"
    action = text("action")
    action = action if action in ACTIONS else "OBSERVE"
    offset = text("eventTimeZoneOffset") or "+00:00"

    # Who is related how: EPCs and classes by role, the rest in order met.
    epcs: dict[str, list[str]] = defaultdict(list)
    classes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    single: dict[str, str] = {}
    transactions: list[dict[str, str]] = []
    sources: list[dict[str, str]] = []
    destinations: list[dict[str, str]] = []
    others: list[dict[str, str]] = []
    for oid, qualifier, quantity, uom in row.relations:
        otype = types.get(oid, "")
        if qualifier in ("epc", "child", "input", "output"):
            if quantity is not None or uom is not None or otype in CLASS_TYPES:
                classes[qualifier].append(_quantity(oid, quantity, uom))
            else:
                epcs[qualifier].append(object_uri(oid))
        elif qualifier in ("parent", "readPoint", "bizLocation", "transformationID"):
            single.setdefault(qualifier, object_uri(oid))
        elif qualifier == "bizTransaction":
            bt: dict[str, str] = {}
            if otype and otype != BUSINESS_TRANSACTION:
                bt["type"] = vocabulary_uri("bizTransactionType", otype)
            bt["bizTransaction"] = object_uri(oid)
            transactions.append(bt)
        elif qualifier.startswith(("source:", "destination:")) and len(qualifier) > 12:
            side, _, sdtype = qualifier.partition(":")
            entry = {"type": vocabulary_uri("sourceDestType", sdtype), side: object_uri(oid)}
            (sources if side == "source" else destinations).append(entry)
        elif qualifier == "sensor":
            continue  # the devices are inside sensorElementList
        else:
            others.append({"id": object_uri(oid), "type": otype, "qualifier": qualifier})

    # Types that need what the filtered rows may no longer have fall back to an ObjectEvent.
    if (
        etype in ("AggregationEvent", "AssociationEvent")
        and action != "OBSERVE"
        and "parent" not in single
    ):
        etype = "ObjectEvent"
    if etype == "TransactionEvent" and not transactions:
        etype = "ObjectEvent"

    ev: dict[str, Any] = {"type": etype, "eventID": event_uri(row.event_id)}
    ev["eventTime"] = _event_time(row.time, offset)
    ev["eventTimeZoneOffset"] = offset if ev["eventTime"].endswith(offset) else "+00:00"
    record = text("recordTime")
    if record is not None:
        ev["recordTime"] = record

    extra = [o["id"] for o in others]
    if etype == "TransformationEvent":
        for role, key in (("input", "inputEPCList"), ("output", "outputEPCList")):
            if epcs[role]:
                ev[key] = epcs[role]
        for role, key in (("input", "inputQuantityList"), ("output", "outputQuantityList")):
            if classes[role]:
                ev[key] = classes[role]
        if extra:
            ev.setdefault("inputEPCList", []).extend(extra)
        if "transformationID" in single:
            ev["transformationID"] = single["transformationID"]
    elif etype in ("AggregationEvent", "AssociationEvent"):
        if "parent" in single:
            ev["parentID"] = single["parent"]
        ev["childEPCs"] = epcs["child"] + epcs["epc"] + extra
        if classes["child"] or classes["epc"]:
            ev["childQuantityList"] = classes["child"] + classes["epc"]
        ev["action"] = action
    else:
        if etype == "TransactionEvent" and "parent" in single:
            ev["parentID"] = single["parent"]
        ev["epcList"] = epcs["epc"] + epcs["child"] + epcs["input"] + epcs["output"] + extra
        quantities = classes["epc"] + classes["child"] + classes["input"] + classes["output"]
        if quantities:
            ev["quantityList"] = quantities
        ev["action"] = action

    bizstep = _biz_step(row.activity, text("eventType"), text("action"))
    if bizstep is not None:
        ev["bizStep"] = bizstep
    disposition = text("disposition")
    if disposition:
        ev["disposition"] = vocabulary_uri("disposition", disposition)
    persistent: dict[str, list[str]] = {}
    for part in ("set", "unset"):
        listed = _json_or_text(text(f"persistentDisposition.{part}"))
        if isinstance(listed, list) and listed:
            persistent[part] = [vocabulary_uri("disposition", str(x)) for x in listed]
    if persistent:
        ev["persistentDisposition"] = persistent

    namespaces: dict[str, str] = {}
    for name, (value, _) in values.items():
        if name.startswith("xmlns:") and value:
            namespaces[name[6:]] = value
    used: dict[str, str] = {}

    def member(name: str) -> str:
        """The JSON member name of an attribute: ``prefix:local`` if its namespace is known,
        else ``keiretsu:<name>``."""
        prefix, colon, local = name.partition(":")
        if colon and local and prefix in STANDARD_PREFIXES:
            return name
        if colon and local and prefix in namespaces:
            used[prefix] = namespaces[prefix]
            return name
        used[KEIRETSU_PREFIX] = KEIRETSU_NS
        return f"{KEIRETSU_PREFIX}:{name}"

    for key in ("readPoint", "bizLocation"):
        if key in single:
            place: dict[str, Any] = {"id": single[key]}
            for name, (value, _) in values.items():
                if name.startswith(f"{key}."):
                    place[member(name[len(key) + 1 :])] = _json_or_text(value)
            ev[key] = place
    if transactions:
        ev["bizTransactionList"] = transactions
    if sources:
        ev["sourceList"] = sources
    if destinations:
        ev["destinationList"] = destinations

    sensors = _json_or_text(text("sensorElementList"))
    if isinstance(sensors, list) and sensors:
        ev["sensorElementList"] = sensors
    cert = text("certificationInfo")
    if cert is not None:
        ev["certificationInfo"] = _json_or_text(cert)

    declared = text("errorDeclaration.declarationTime")
    if declared is not None:
        declaration: dict[str, Any] = {"declarationTime": declared}
        for name, (value, _) in values.items():
            if not name.startswith("errorDeclaration.") or name.endswith(".declarationTime"):
                continue
            local = name[len("errorDeclaration.") :]
            if local == "reason" and value:
                declaration["reason"] = vocabulary_uri("errorReason", value)
            elif local == "correctiveEventIDs":
                listed = _json_or_text(value)
                if isinstance(listed, list):
                    declaration["correctiveEventIDs"] = [event_uri(str(x)) for x in listed]
            else:
                declaration[member(local)] = _json_or_text(value)
        ev["errorDeclaration"] = declaration

    if others:
        used[KEIRETSU_PREFIX] = KEIRETSU_NS
        ev[f"{KEIRETSU_PREFIX}:objects"] = others
    for name, (value, vtype) in values.items():
        if (
            name in _FIELD_ATTRIBUTES
            or name.startswith(("xmlns:", "errorDeclaration.", "readPoint.", "bizLocation."))
            or value is None
        ):
            continue
        key = member(name)
        if key in ev:
            continue
        if key.startswith(f"{KEIRETSU_PREFIX}:"):
            ev[key] = _typed(value, vtype)
        else:
            ev[key] = _json_or_text(value)  # a partner's extension, kept as it came
    if used:
        ev = {"@context": [dict(sorted(used.items()))], **ev}
    return ev


def _biz_step(activity: str, etype: str | None, action: str | None) -> str | None:
    """The bizStep an activity stands for; None for the names the EPCIS mapping gives events
    that had none (``ObjectEvent OBSERVE``, ``TransformationEvent``)."""
    if etype is not None and activity in (etype, f"{etype} {action}"):
        return None
    return vocabulary_uri("bizStep", activity)
