"""How one EPCIS 2.0 event becomes OCEL 2.0 rows.

An EPCIS event says *what happened* (the business step), *to what* (EPCs, lots, the pallet and
its cases, the inputs and outputs of a transformation), *where* (read point, business location),
*why* (business transactions: the PO, the despatch advice) and *between whom* (source and
destination parties). In OCEL 2.0 the *what* becomes the event type (activity) and everything
the event touches becomes an object, related to the event with a qualifier naming its role.

The full table of choices, with a worked example, is in ``docs/formats/epcis.md``. In short:

* activity: the CBV business step's short name (``shipping``); a company's own bizStep URI as
  written; without a bizStep ``<EventType> <action>`` (``ObjectEvent OBSERVE``);
* objects: every GS1 key in its canonical Digital Link form (see
  :mod:`keiretsu.io.epcis.identifiers`), so the pallet one partner writes as an SSCC URN and the
  other as a Digital Link is one object; types in practitioner words (``trade item``,
  ``logistic unit``, ``product lot``, ``location``, ``party``, ``po``…);
* qualifiers: ``epc``, ``parent``, ``child``, ``input``, ``output``, ``readPoint``,
  ``bizLocation``, ``bizTransaction``, ``source:<type>``, ``destination:<type>``,
  ``transformationID``, ``sensor``; class-level amounts go in the relation's ``quantity``/``uom``;
* object-to-object: a pallet ``contains`` its children (aggregation ADD), a parent is
  ``associated with`` its children (association ADD), an output is ``derived from`` each input;
* ILMD (lot master data) becomes attributes of the objects the event created, from eventTime on;
* everything else is an event attribute named after its EPCIS field; user extensions keep their
  ``prefix:local`` name, and the namespace of each prefix travels as ``xmlns:<prefix>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

import orjson

from keiretsu.io.epcis._types import DocumentHeader, RawEvent
from keiretsu.io.epcis.identifiers import (
    ITEM,
    LOCATION,
    PARTY,
    PRODUCT_CLASS,
    identify,
)
from keiretsu.model.errors import DocumentError
from keiretsu.model.ocel import OcelBuilder, format_time, parse_time

SOURCE_FORMAT = "epcis-json"
"""The ``format`` of the kept source events: the EPCIS 2.0 JSON binding form."""

STANDARD_PREFIXES: dict[str, str] = {
    "epcis": "https://ref.gs1.org/epcis/",
    "cbv": "https://ref.gs1.org/cbv/",
    "cbvmda": "urn:epcglobal:cbv:mda:",
    "gs1": "https://gs1.org/voc/",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "dcterms": "http://purl.org/dc/terms/",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "xml": "http://www.w3.org/XML/1998/namespace",
}
"""Prefixes the EPCIS 2.0 standard itself defines (its JSON-LD context). Their meaning is fixed
by the standard, so they are not repeated on every event."""

TRANSFORMATION = "transformation"
"""Object type of a transformationID: the events sharing it form one transformation."""
BUSINESS_TRANSACTION = "business transaction"
"""Object type of a bizTransaction written without a type."""

# CBV values arrive as bare words (JSON), as EPCglobal URNs (XML, EPCIS 1.x) or as GS1 Web
# vocabulary URIs / CURIEs; all three mean the same thing and map to the bare word.
_BIZSTEP = ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-", "cbv:BizStep-")
_DISP = ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-", "cbv:Disp-")
_BTT = ("urn:epcglobal:cbv:btt:", "https://ref.gs1.org/cbv/BTT-", "cbv:BTT-")
_SDT = ("urn:epcglobal:cbv:sdt:", "https://ref.gs1.org/cbv/SDT-", "cbv:SDT-")
_ER = ("urn:epcglobal:cbv:er:", "https://ref.gs1.org/cbv/ER-", "cbv:ER-")

# Fields this module maps explicitly; any other key of an event is a user extension.
_KNOWN = frozenset(
    {
        "type",
        "eventID",
        "eventTime",
        "eventTimeZoneOffset",
        "recordTime",
        "action",
        "bizStep",
        "disposition",
        "persistentDisposition",
        "readPoint",
        "bizLocation",
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "epcList",
        "quantityList",
        "parentID",
        "childEPCs",
        "childQuantityList",
        "inputEPCList",
        "inputQuantityList",
        "outputEPCList",
        "outputQuantityList",
        "transformationID",
        "ilmd",
        "sensorElementList",
        "certificationInfo",
        "errorDeclaration",
        "@context",
    }
)

_SORTED = orjson.OPT_SORT_KEYS


def short_name(value: str, prefixes: tuple[str, ...]) -> str:
    """A CBV value's bare word (``shipping``), whichever of its spellings was used; a company's
    own URI is returned as written."""
    for p in prefixes:
        if value.startswith(p):
            return value[len(p) :]
    return value


def _json(value: Any) -> str:
    return orjson.dumps(value, option=_SORTED).decode()


def _text(value: Any) -> str | None:
    """An extension value as text: strings as written, nested values as JSON (sorted keys, so
    the JSON and XML spellings of one event give the same text)."""
    if value is None or isinstance(value, str):
        return value
    return _json(value)


def _time(text: Any) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"not a date-time: {text!r}")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = parse_time(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


_SENSOR_TYPE = ("gs1:", "https://gs1.org/voc/")


def _sensor_times(part: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    out = dict(part)
    for k in keys:
        v = out.get(k)
        if isinstance(v, str):
            out[k] = format_time(_time(v))
    return out


def _sensors(elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sensor data in one spelling whatever the syntax: times in UTC, measurement types by
    their bare GS1 name (``Temperature``), numbers as doubles, so JSON and XML documents give
    the same text."""
    out = []
    for element in elements:
        element = dict(element)
        meta = element.get("sensorMetadata")
        if isinstance(meta, dict):
            element["sensorMetadata"] = _sensor_times(meta, ("time", "startTime", "endTime"))
        reports = element.get("sensorReport")
        if isinstance(reports, list):
            fixed = []
            for report in reports:
                report = _sensor_times(report, ("time",))
                for k, v in report.items():
                    if type(v) is int:  # sensor values are xsd:double: 50 and 50.0 alike
                        report[k] = float(v)
                kind = report.get("type")
                if isinstance(kind, str):
                    report["type"] = short_name(kind, _SENSOR_TYPE)
                fixed.append(report)
            element["sensorReport"] = fixed
        out.append(element)
    return out


def _prefixes(obj: Any, out: set[str]) -> None:
    """Collect the namespace prefixes of every ``prefix:local`` key inside ``obj``."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if ":" in k:
                out.add(k.partition(":")[0])
            if isinstance(v, dict | list):
                _prefixes(v, out)
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, dict | list):
                _prefixes(v, out)


def _event_context(ev: dict[str, Any]) -> dict[str, str]:
    """Prefixes declared on the event itself (JSON-LD ``@context`` inside the event)."""
    ctx = ev.get("@context")
    out: dict[str, str] = {}
    items = ctx if isinstance(ctx, list) else [ctx]
    for item in items:
        if isinstance(item, dict):
            out.update({k: v for k, v in item.items() if isinstance(v, str)})
    return out


def _epcs(
    b: OcelBuilder,
    eid: str,
    items: Iterable[str],
    qualifier: str,
    keep: list[str],
    kinds: list[str] | None = None,
) -> None:
    start = len(keep)
    add = b.add_object
    for ident in items:
        oid, otype = identify(ident)
        otype = otype or ITEM
        add(oid, otype)
        keep.append(oid)
        if kinds is not None:
            kinds.append(otype)
    n = len(keep) - start
    if n:
        # A pallet of 48 cases is 48 relations of one kind: appended column by column.
        b.eo_event.extend([eid] * n)
        b.eo_object.extend(keep[start:])
        b.eo_qualifier.extend([qualifier] * n)
        b.eo_quantity.extend([None] * n)
        b.eo_uom.extend([None] * n)


def _quantities(
    b: OcelBuilder,
    eid: str,
    items: Iterable[dict[str, Any]],
    qualifier: str,
    keep: list[str],
    kinds: list[str] | None = None,
) -> None:
    for qe in items:
        oid, otype = identify(qe["epcClass"])
        otype = otype or PRODUCT_CLASS
        b.add_object(oid, otype)
        if kinds is not None:
            kinds.append(otype)
        q = qe.get("quantity")
        if q is not None:
            if isinstance(q, bool) or not isinstance(q, int | float):
                raise ValueError(f"quantity {q!r} is not a number")
            q = float(q)
        b.relate(eid, oid, qualifier, q, qe.get("uom"))
        keep.append(oid)


def _one(b: OcelBuilder, eid: str, ident: str, fallback: str, qualifier: str) -> str:
    oid, otype = identify(ident)
    b.add_object(oid, otype or fallback)
    b.relate(eid, oid, qualifier)
    return oid


def _merge_repeats(b: OcelBuilder, start: int) -> None:
    """One relation per object and role, even when a document names the same thing twice in
    one event (as a URN and as a Digital Link); a lot listed twice has its amounts added."""
    keys = list(zip(b.eo_object[start:], b.eo_qualifier[start:], strict=True))
    if len(set(keys)) == len(keys):
        return
    first: dict[tuple[str, str], int] = {}
    drop: list[int] = []
    for offset, key in enumerate(keys):
        row = start + offset
        if key not in first:
            first[key] = row
            continue
        kept = first[key]
        q = b.eo_quantity[row]
        if q is not None and b.eo_uom[kept] == b.eo_uom[row]:
            b.eo_quantity[kept] = (b.eo_quantity[kept] or 0.0) + q
        drop.append(row)
    for row in reversed(drop):
        for column in (b.eo_event, b.eo_object, b.eo_qualifier, b.eo_quantity, b.eo_uom):
            del column[row]


def _ilmd(
    b: OcelBuilder, ilmd: dict[str, Any], made: list[str], kinds: list[str], time: datetime
) -> None:
    """Each ILMD member as an attribute of every object made, from ``time`` on. The first
    object of each type goes through the builder (which declares the attribute for the type);
    the rest are appended column by column."""
    first: dict[str, str] = {}
    rest: list[str] = []
    for oid, kind in dict(zip(made, kinds, strict=True)).items():
        if kind in first:
            rest.append(oid)
        else:
            first[kind] = oid
    n = len(rest)
    for k, val in ilmd.items():
        text = _text(val)
        for oid in first.values():
            b.add_object_attribute(oid, k, text, time, "string")
        if n:
            b.oa_id.extend(rest)
            b.oa_name.extend([k] * n)
            b.oa_time.extend([time] * n)
            b.oa_value.extend([text] * n)
            b.oa_type.extend(["string"] * n)


# Event types and attribute names already declared to a builder (a builder lives for one
# document; the event types of a document are few).
_DECLARED: WeakKeyDictionary[OcelBuilder, set[tuple[str, tuple[str, ...]]]] = WeakKeyDictionary()


def _add_event(
    b: OcelBuilder, eid: str, activity: str, time: datetime, attrs: dict[str, Any]
) -> None:
    """``b.add_event`` with the attribute values already text: strings stay strings, times are
    written in UTC; each (event type, attribute names) shape is declared once per builder."""
    b.add_event(eid, activity, time)
    names = tuple(attrs)
    texts: list[str | None] = []
    types: list[str] = []
    for v in attrs.values():
        if isinstance(v, datetime):
            texts.append(format_time(v))
            types.append("time")
        else:
            texts.append(v)
            types.append("string")
    n = len(names)
    b.ea_id.extend([eid] * n)
    b.ea_name.extend(names)
    b.ea_value.extend(texts)
    b.ea_type.extend(types)
    seen = _DECLARED.get(b)
    if seen is None:
        seen = _DECLARED[b] = set()
    shape = (activity, names)
    if shape not in seen:
        seen.add(shape)
        b.declare_event_type(activity, dict(zip(names, types, strict=True)))


def map_event(builder: OcelBuilder, event_id: str, raw: RawEvent, header: DocumentHeader) -> None:
    """Add one EPCIS event (JSON binding form, already validated) to ``builder`` as OCEL rows:
    the event, the objects it touches with their roles, object-to-object links, ILMD as object
    attributes, and the event itself as JSON for serving it back.

    Raises :class:`DocumentError` naming the event and field if the event cannot be mapped
    (which validation should have caught first).
    """
    try:
        _map(builder, event_id, raw, header)
    except DocumentError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        field = raw.pointer
        if isinstance(exc, KeyError):
            field = f"{raw.pointer}/{exc.args[0]}"
            detail = f"the event has no {exc.args[0]!r}"
        else:
            detail = str(exc)
        raise DocumentError.single(
            "Event cannot be mapped",
            detail,
            event_index=raw.index,
            field=field,
            line=raw.line,
            expected="an EPCIS 2.0 event as the standard defines it",
        ) from exc


def _map(builder: OcelBuilder, eid: str, raw: RawEvent, header: DocumentHeader) -> None:
    ev = raw.data
    etype = ev["type"]
    action = ev.get("action")
    try:
        time = _time(ev["eventTime"])
    except ValueError as exc:
        raise DocumentError.single(
            "Invalid eventTime",
            str(exc),
            event_index=raw.index,
            field=f"{raw.pointer}/eventTime",
            line=raw.line,
            expected="an ISO 8601 date-time with a time zone offset",
        ) from exc

    biz = ev.get("bizStep")
    if biz:
        activity = short_name(biz, _BIZSTEP)
    elif action:
        activity = f"{etype} {action}"
    else:
        activity = etype

    attrs: dict[str, Any] = {"eventType": etype}
    if action:
        attrs["action"] = action
    v = ev.get("disposition")
    if v:
        attrs["disposition"] = short_name(v, _DISP)
    v = ev.get("eventTimeZoneOffset")
    if v is not None:
        attrs["eventTimeZoneOffset"] = v
    v = ev.get("recordTime")
    if v is not None:
        attrs["recordTime"] = _time(v)

    b = builder
    first_row = len(b.eo_event)
    made: list[str] = []  # what the event brought into being (gets the ILMD)
    kinds: list[str] | None = [] if "ilmd" in ev else None  # their object types

    # What the event is about, by event type.
    if etype == "TransformationEvent":
        inputs: list[str] = []
        _epcs(b, eid, ev.get("inputEPCList") or (), "input", inputs)
        _quantities(b, eid, ev.get("inputQuantityList") or (), "input", inputs)
        _epcs(b, eid, ev.get("outputEPCList") or (), "output", made, kinds)
        _quantities(b, eid, ev.get("outputQuantityList") or (), "output", made, kinds)
        inputs = list(dict.fromkeys(inputs))
        made = list(dict.fromkeys(made))
        for out in made:
            for inp in inputs:
                b.link(out, inp, "derived from")
        v = ev.get("transformationID")
        if v:
            _one(b, eid, v, TRANSFORMATION, "transformationID")
    elif etype in ("AggregationEvent", "AssociationEvent"):
        children: list[str] = []
        _epcs(b, eid, ev.get("childEPCs") or (), "child", children)
        _quantities(b, eid, ev.get("childQuantityList") or (), "child", children)
        parent = ev.get("parentID")
        if parent:
            pid = _one(b, eid, parent, ITEM, "parent")
            if action == "ADD":
                word = "contains" if etype == "AggregationEvent" else "associated with"
                for child in dict.fromkeys(children):
                    b.link(pid, child, word)
    else:
        _epcs(b, eid, ev.get("epcList") or (), "epc", made, kinds)
        _quantities(b, eid, ev.get("quantityList") or (), "epc", made, kinds)
        if action != "ADD":
            made = []
        parent = ev.get("parentID")
        if parent:
            _one(b, eid, parent, ITEM, "parent")

    # Where.
    for key in ("readPoint", "bizLocation"):
        place = ev.get(key)
        if place:
            _one(b, eid, place["id"], LOCATION, key)
            if len(place) > 1:
                for k, val in place.items():
                    if k != "id":
                        attrs[f"{key}.{k}"] = _text(val)

    # Why and between whom.
    for bt in ev.get("bizTransactionList") or ():
        btype = bt.get("type")
        oid, _ = identify(bt["bizTransaction"])
        builder.add_object(oid, short_name(btype, _BTT) if btype else BUSINESS_TRANSACTION)
        b.relate(eid, oid, "bizTransaction")
    for list_key, id_key in (("sourceList", "source"), ("destinationList", "destination")):
        for sd in ev.get(list_key) or ():
            sdtype = short_name(sd["type"], _SDT)
            kind = LOCATION if sdtype == "location" else PARTY
            _one(b, eid, sd[id_key], kind, f"{id_key}:{sdtype}")

    # Status and evidence.
    pd = ev.get("persistentDisposition")
    if pd:
        for k in ("set", "unset"):
            if pd.get(k):
                attrs[f"persistentDisposition.{k}"] = _json([short_name(x, _DISP) for x in pd[k]])
    v = ev.get("certificationInfo")
    if v is not None:
        attrs["certificationInfo"] = _text(v)
    sensors = ev.get("sensorElementList")
    if sensors:
        attrs["sensorElementList"] = _json(_sensors(sensors))
        devices: dict[str, None] = {}
        for element in sensors:
            meta = element.get("sensorMetadata") or {}
            if meta.get("deviceID"):
                devices[meta["deviceID"]] = None
            for report in element.get("sensorReport") or ():
                if report.get("deviceID"):
                    devices[report["deviceID"]] = None
        for device in devices:
            _one(b, eid, device, "sensor", "sensor")
    ed = ev.get("errorDeclaration")
    if ed:
        for k, val in ed.items():
            name = f"errorDeclaration.{k}"
            if k == "declarationTime":
                attrs[name] = _time(val)
            elif k == "reason":
                attrs[name] = short_name(val, _ER)
            elif k == "correctiveEventIDs":
                attrs[name] = _json(val)
            else:
                attrs[name] = _text(val)

    # User extensions: kept under their full prefix:local name.
    used: set[str] = set()
    for k, val in ev.items():
        if k not in _KNOWN:
            attrs[k] = _text(val)
            if ":" in k:
                used.add(k.partition(":")[0])
            if isinstance(val, dict | list):
                _prefixes(val, used)
    for key in ("ilmd", "errorDeclaration", "sensorElementList"):
        if key in ev:
            _prefixes(ev[key], used)
    for key in ("readPoint", "bizLocation"):
        place = ev.get(key)
        if place and len(place) > 1:
            _prefixes(place, used)

    body: dict[str, Any] = ev
    if used:
        local = _event_context(ev) if "@context" in ev else {}
        context: dict[str, str] = {}
        for prefix in sorted(used):
            if prefix in STANDARD_PREFIXES:
                continue
            uri = local.get(prefix) or header.namespaces.get(prefix)
            if uri is not None:
                context[prefix] = uri
                attrs[f"xmlns:{prefix}"] = uri
        if context:
            # The kept event carries its own namespaces, so it can be served back on its own.
            body = {"@context": [context], **{k: x for k, x in ev.items() if k != "@context"}}

    _add_event(b, eid, activity, time, attrs)

    # ILMD: master data of what this event brought into being, valid from eventTime on.
    if len(b.eo_event) - first_row > 1:
        _merge_repeats(b, first_row)
    ilmd = ev.get("ilmd")
    if ilmd and made and kinds is not None:
        _ilmd(b, ilmd, made, kinds, time)

    builder.add_source(eid, SOURCE_FORMAT, orjson.dumps(body).decode())
