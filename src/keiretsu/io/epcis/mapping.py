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
  :mod:`keiretsu.model.gs1`), so the pallet one partner writes as an SSCC URN and the
  other as a Digital Link is one object; types in practitioner words (``trade item``,
  ``logistic unit``, ``product lot``, ``location``, ``party``, ``po``…);
* qualifiers (:mod:`keiretsu.model.cbv`): ``epc``, ``parent``, ``child``, ``input``,
  ``output``, ``readPoint``, ``bizLocation``, ``bizTransaction``, ``source:<type>``,
  ``destination:<type>``, ``transformationID``, ``sensor``; class-level amounts go in the
  relation's ``quantity``/``uom``;
* object-to-object: a pallet ``contains`` its children (aggregation ADD), a parent is
  ``associated with`` its children (association ADD), an output is ``derived from`` each input;
* ILMD (lot master data) becomes attributes of the objects the event created, from eventTime on;
* everything else is an event attribute named after its EPCIS field; user extensions keep their
  ``prefix:local`` name, and the namespace of each prefix travels as ``xmlns:<prefix>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar, cast
from weakref import WeakKeyDictionary, ref

import orjson

from keiretsu.io.epcis._types import DocumentHeader, RawEvent
from keiretsu.model import cbv
from keiretsu.model.cbv import STANDARD_PREFIXES as STANDARD_PREFIXES  # re-exported
from keiretsu.model.cbv import short_name as short_name  # re-exported
from keiretsu.model.errors import DocumentError
from keiretsu.model.gs1 import (
    ITEM,
    LOCATION,
    PARTY,
    PRODUCT_CLASS,
    identify,
    identify_all,
    remembered,
)
from keiretsu.model.ocel import OcelBuilder, format_time, parse_time

SOURCE_FORMAT = "epcis-json"
"""The ``format`` of the kept source events: the EPCIS 2.0 JSON binding form."""

TRANSFORMATION = "transformation"
"""Object type of a transformationID: the events sharing it form one transformation."""
BUSINESS_TRANSACTION = "business transaction"
"""Object type of a bizTransaction written without a type."""

# CBV values arrive as bare words (JSON), as EPCglobal URNs (XML, EPCIS 1.x) or as GS1 Web
# vocabulary URIs / CURIEs; all three mean the same thing and map to the bare word.
_BIZSTEP = cbv.BIZ_STEPS.spellings
_DISP = cbv.DISPOSITIONS.spellings
_BTT = cbv.BIZ_TRANSACTION_TYPES.spellings
_SDT = cbv.SOURCE_DEST_TYPES.spellings
_ER = cbv.ERROR_REASONS.spellings
_SENSOR_TYPE = cbv.MEASUREMENT_TYPES.spellings

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


def _event_time(text: Any) -> datetime | str:
    """An eventTime for the builder: the usual RFC 3339 text with a time zone as written (the
    builder reads a whole batch of them in one Arrow step), anything else as a UTC ``datetime``.
    Either way it is read here, so a date that is no date is refused at its event."""
    if (
        type(text) is str
        and len(text) >= 20
        and text[10] == "T"
        and (text[-1] == "Z" or text[-6] in "+-")
    ):
        try:
            if datetime.fromisoformat(text).tzinfo is not None:
                return text
        except ValueError:
            pass  # refused by _time, in its words
    return _time(text)


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


def _cbv_name(value: str, prefixes: tuple[str, ...], names: dict[str, str]) -> str:
    """:func:`short_name`, remembered in ``names``: a document says ``shipping`` thousands of
    times, and one string object for all of them also keeps the Arrow columns cache-friendly."""
    name = names.get(value)
    if name is None:
        name = short_name(value, prefixes)
        if len(names) >= _NAMES_LIMIT:
            names.clear()
        names[value] = name
    return name


def _word(value: Any) -> Any:
    """One string object per distinct short value (event type, action, time zone offset)."""
    found = _WORDS.get(value)
    if found is None:
        if len(_WORDS) >= _NAMES_LIMIT:
            _WORDS.clear()
        found = _WORDS[value] = value
    return found


# Remembered short names, by vocabulary; forgotten when one grows past the limit (only a
# document of made-up values gets there).
_NAMES_LIMIT = 4096
_STEP_NAMES: dict[str, str] = {}
_DISP_NAMES: dict[str, str] = {}
_BTT_NAMES: dict[str, str] = {}
_WORDS: dict[Any, Any] = {}
# The role of a source / destination, by its type as written: (object type, qualifier).
_SOURCE_ROLES: dict[str, tuple[str, str]] = {}
_DESTINATION_ROLES: dict[str, tuple[str, str]] = {}


def _role(sdtype: str, side: str, roles: dict[str, tuple[str, str]]) -> tuple[str, str]:
    role = roles.get(sdtype)
    if role is None:
        name = short_name(sdtype, _SDT)
        role = (LOCATION if name == "location" else PARTY, f"{side}{name}")
        if len(roles) >= _NAMES_LIMIT:
            roles.clear()
        roles[sdtype] = role
    return role


def _epcs(
    b: OcelBuilder,
    added: dict[str, str],
    items: Iterable[str],
    qualifier: str,
    objects: list[str],
    roles: list[str],
    kinds: list[str] | None = None,
) -> list[str]:
    """An EPC list: every identifier canonical, new objects added, one relation row each
    (kept in ``objects``/``roles``); returns the object ids, and adds their types to
    ``kinds`` if given."""
    met = list(map(added.get, items))
    oids: list[str]
    found: list[str | None]
    if all(met):  # all met before in this document
        oids = cast("list[str]", met)
        if kinds is not None:
            found = identify_all(items)[1]
            kinds += cast("list[str]", found) if None not in found else [k or ITEM for k in found]
    else:
        oids, found = identify_all(items)
        b.add_objects(oids, found, ITEM)
        if len(added) >= _ADDED_LIMIT:
            added.clear()
        added.update(zip(items, oids, strict=True))
        if kinds is not None:
            kinds += cast("list[str]", found) if None not in found else [k or ITEM for k in found]
    objects += oids
    roles += [qualifier] * len(oids)
    return oids


def _add(
    b: OcelBuilder, added: dict[str, str], ident: str, fallback: str, as_named: bool = True
) -> str:
    """The object an identifier names, added to the builder the first time it is met, with
    the type the identifier tells (else ``fallback``), or with ``fallback`` whatever the
    identifier tells when not ``as_named`` (a business transaction is typed by its role)."""
    found = remembered(ident) or identify(ident)
    oid = found[0]
    b.add_object(oid, (found[1] or fallback) if as_named else fallback)
    if len(added) >= _ADDED_LIMIT:
        added.clear()
    added[ident] = oid
    return oid


def _quantities(
    b: OcelBuilder,
    items: Iterable[dict[str, Any]],
    qualifier: str,
    keep: list[str],
    kinds: list[str] | None,
    objects: list[str],
    roles: list[str],
    amounts: list[tuple[int, float | None, Any]],
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
        amounts.append((len(objects), q, qe.get("uom")))
        objects.append(oid)
        roles.append(qualifier)
        keep.append(oid)


def _merge_repeats(
    objects: list[str],
    roles: list[str],
    quantities: list[float | None],
    units: list[str | None],
) -> None:
    """One relation per object and role, even when a document names the same thing twice in
    one event (as a URN and as a Digital Link); a lot listed twice has its amounts added."""
    keys = list(zip(objects, roles, strict=True))
    if len(set(keys)) == len(keys):
        return
    first: dict[tuple[str, str], int] = {}
    drop: list[int] = []
    for row, key in enumerate(keys):
        if key not in first:
            first[key] = row
            continue
        kept = first[key]
        q = quantities[row]
        if q is not None and units[kept] == units[row]:
            quantities[kept] = (quantities[kept] or 0.0) + q
        drop.append(row)
    for row in reversed(drop):
        for column in (objects, roles, quantities, units):
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
            b.oa_type.extend([_STRING] * n)


_STRING = "string"
_TIME = "time"


class _Memory:
    """What the mapping remembers about one builder (one document): the (event type,
    attribute names) shapes already declared, and the identifiers already met, as written,
    with the object each names (so a case named again when packed and shipped costs one
    look-up, not a conversion and a de-duplication)."""

    __slots__ = ("added", "shapes")

    def __init__(self) -> None:
        self.shapes: set[tuple[str, tuple[str, ...]]] = set()
        self.added: dict[str, str] = {}


# Forgotten when it grows past this (tens of MB); then objects are only de-duplicated by the
# builder, as before.
_ADDED_LIMIT = 1 << 18
_MEMORY: WeakKeyDictionary[OcelBuilder, _Memory] = WeakKeyDictionary()


class _Last:
    """The last builder seen and its memory: a document's events all go to one builder."""

    builder: ClassVar[ref[OcelBuilder] | None] = None
    memory: ClassVar[_Memory] = _Memory()


def _memory(b: OcelBuilder) -> _Memory:
    memory = _MEMORY.get(b)
    if memory is None:
        memory = _MEMORY[b] = _Memory()
    _Last.builder = ref(b)
    _Last.memory = memory
    return memory


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


def _map(b: OcelBuilder, eid: str, raw: RawEvent, header: DocumentHeader) -> None:
    ev = raw.data
    etype = ev["type"]
    action = ev.get("action")
    written = ev["eventTime"]
    time: datetime | None = None  # eventTime in UTC, made only where needed (ILMD)
    stamp: datetime | str  # what the builder gets: the usual text as written, else the instant
    try:
        stamp = _event_time(written)
    except ValueError as exc:
        raise DocumentError.single(
            "Invalid eventTime",
            str(exc),
            event_index=raw.index,
            field=f"{raw.pointer}/eventTime",
            line=raw.line,
            expected="an ISO 8601 date-time with a time zone offset",
        ) from exc
    last = _Last.builder
    memory = _Last.memory if last is not None and last() is b else _memory(b)
    added = memory.added
    known = added.get

    biz = ev.get("bizStep")
    if biz:
        activity = _STEP_NAMES.get(biz) or _cbv_name(biz, _BIZSTEP, _STEP_NAMES)
    elif action:
        activity = f"{etype} {action}"
    else:
        activity = etype

    attrs: dict[str, Any] = {"eventType": _WORDS.get(etype) or _word(etype)}
    timed = False  # whether an attribute value is a datetime (typed "time")
    if action:
        attrs["action"] = _WORDS.get(action) or _word(action)
    v = ev.get("disposition")
    if v:
        attrs["disposition"] = _DISP_NAMES.get(v) or _cbv_name(v, _DISP, _DISP_NAMES)
    v = ev.get("eventTimeZoneOffset")
    if v is not None:
        attrs["eventTimeZoneOffset"] = _WORDS.get(v) or _word(v)
    v = ev.get("recordTime")
    if v is not None:
        attrs["recordTime"] = _time(v)
        timed = True

    # The event's relations are gathered here and appended to the builder at the end.
    objects: list[str] = []
    roles: list[str] = []
    amounts: list[tuple[int, float | None, Any]] = []  # (row, quantity, uom) of class rows
    made: list[str] = []  # what the event brought into being (gets the ILMD)
    kinds: list[str] | None = [] if "ilmd" in ev else None  # their object types

    # What the event is about, by event type.
    if etype == "TransformationEvent":
        inputs: list[str] = []
        v = ev.get("inputEPCList")
        if v:
            inputs += _epcs(b, added, v, cbv.INPUT, objects, roles)
        v = ev.get("inputQuantityList")
        if v:
            _quantities(b, v, cbv.INPUT, inputs, None, objects, roles, amounts)
        v = ev.get("outputEPCList")
        if v:
            made += _epcs(b, added, v, cbv.OUTPUT, objects, roles, kinds)
        v = ev.get("outputQuantityList")
        if v:
            _quantities(b, v, cbv.OUTPUT, made, kinds, objects, roles, amounts)
        inputs = list(dict.fromkeys(inputs))
        made = list(dict.fromkeys(made))
        n = len(inputs)
        if n:
            for out in made:
                b.oo_source.extend([out] * n)
                b.oo_target.extend(inputs)
                b.oo_qualifier.extend([cbv.DERIVED_FROM] * n)
        v = ev.get("transformationID")
        if v:
            objects.append(known(v) or _add(b, added, v, TRANSFORMATION))
            roles.append(cbv.TRANSFORMATION_ID)
    elif etype in ("AggregationEvent", "AssociationEvent"):
        children: list[str] = []
        v = ev.get("childEPCs")
        if v:
            children += _epcs(b, added, v, cbv.CHILD, objects, roles)
        v = ev.get("childQuantityList")
        if v:
            _quantities(b, v, cbv.CHILD, children, None, objects, roles, amounts)
        parent = ev.get("parentID")
        if parent:
            pid = known(parent) or _add(b, added, parent, ITEM)
            objects.append(pid)
            roles.append(cbv.PARENT)
            if action == "ADD":
                word = cbv.CONTAINS if etype == "AggregationEvent" else cbv.ASSOCIATED_WITH
                kids = list(dict.fromkeys(children))
                n = len(kids)
                b.oo_source.extend([pid] * n)
                b.oo_target.extend(kids)
                b.oo_qualifier.extend([word] * n)
    else:
        v = ev.get("epcList")
        if v:
            made += _epcs(b, added, v, cbv.EPC, objects, roles, kinds)
        v = ev.get("quantityList")
        if v:
            _quantities(b, v, cbv.EPC, made, kinds, objects, roles, amounts)
        if action != "ADD":
            made = []
        parent = ev.get("parentID")
        if parent:
            objects.append(known(parent) or _add(b, added, parent, ITEM))
            roles.append(cbv.PARENT)

    # Where.
    nested = False  # whether readPoint / bizLocation carry more than their id
    place = ev.get("readPoint")
    if place:
        v = place["id"]
        objects.append(known(v) or _add(b, added, v, LOCATION))
        roles.append(cbv.READ_POINT)
        if len(place) > 1:
            nested = True
            for k, val in place.items():
                if k != "id":
                    attrs[f"readPoint.{k}"] = _text(val)
    place = ev.get("bizLocation")
    if place:
        v = place["id"]
        objects.append(known(v) or _add(b, added, v, LOCATION))
        roles.append(cbv.BIZ_LOCATION)
        if len(place) > 1:
            nested = True
            for k, val in place.items():
                if k != "id":
                    attrs[f"bizLocation.{k}"] = _text(val)

    # Why and between whom.
    for bt in ev.get("bizTransactionList") or ():
        btype = bt.get("type")
        v = bt["bizTransaction"]
        oid = known(v)
        if oid is None:
            oid = _add(
                b,
                added,
                v,
                _cbv_name(btype, _BTT, _BTT_NAMES) if btype else BUSINESS_TRANSACTION,
                as_named=False,
            )
        objects.append(oid)
        roles.append(cbv.BIZ_TRANSACTION)
    for sd in ev.get("sourceList") or ():
        kind, qualifier = _SOURCE_ROLES.get(sd["type"]) or _role(
            sd["type"], cbv.SOURCE, _SOURCE_ROLES
        )
        v = sd["source"]
        objects.append(known(v) or _add(b, added, v, kind))
        roles.append(qualifier)
    for sd in ev.get("destinationList") or ():
        kind, qualifier = _DESTINATION_ROLES.get(sd["type"]) or _role(
            sd["type"], cbv.DESTINATION, _DESTINATION_ROLES
        )
        v = sd["destination"]
        objects.append(known(v) or _add(b, added, v, kind))
        roles.append(qualifier)

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
            objects.append(known(device) or _add(b, added, device, "sensor"))
            roles.append(cbv.SENSOR)
    ed = ev.get("errorDeclaration")
    if ed:
        for k, val in ed.items():
            name = f"errorDeclaration.{k}"
            if k == "declarationTime":
                attrs[name] = _time(val)
                timed = True
            elif k == "reason":
                attrs[name] = short_name(val, _ER)
            elif k == "correctiveEventIDs":
                attrs[name] = _json(val)
            else:
                attrs[name] = _text(val)

    # User extensions: kept under their full prefix:local name, with the namespace of every
    # prefix used anywhere in the event (extensions, ILMD, sensor data, nested fields).
    body: dict[str, Any] = ev
    extended = not _KNOWN.issuperset(ev)
    if extended or nested or "ilmd" in ev or "errorDeclaration" in ev or "sensorElementList" in ev:
        used: set[str] = set()
        if extended:
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
        if nested:
            for key in ("readPoint", "bizLocation"):
                place = ev.get(key)
                if place and len(place) > 1:
                    _prefixes(place, used)
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
                # The kept event carries its own namespaces, so it can be served back alone.
                body = {"@context": [context], **{k: x for k, x in ev.items() if k != "@context"}}

    # The event and its attributes; each (event type, attribute names) shape declared once.
    b.ev_id.append(eid)
    b.ev_type.append(activity)
    b.ev_time.append(stamp)
    names = tuple(attrs)
    n = len(names)
    if timed:
        texts: list[Any] = []
        types: list[str] = []
        for x in attrs.values():
            if isinstance(x, datetime):
                texts.append(format_time(x))
                types.append(_TIME)
            else:
                texts.append(x)
                types.append(_STRING)
    else:
        texts = list(attrs.values())
        types = [_STRING] * n
    b.ea_runs.append(n)
    b.ea_name.extend(names)
    b.ea_value.extend(texts)
    b.ea_type.extend(types)
    shape = (activity, names)
    shapes = memory.shapes
    if shape not in shapes:
        shapes.add(shape)
        b.declare_event_type(activity, dict(zip(names, types, strict=True)))

    # The relations, one per object and role; the amounts of class-level ones on the side.
    n = len(objects)
    if n:
        if amounts:
            quantities: list[float | None] = [None] * n
            units: list[Any] = [None] * n
            for row, q, uom in amounts:
                quantities[row] = q
                units[row] = uom
            if n > 1 and len(set(objects)) != n:
                _merge_repeats(objects, roles, quantities, units)
                n = len(objects)
            base = len(b.eo_object)
            b.eo_amounts += [
                (base + row, q, u)
                for row, (q, u) in enumerate(zip(quantities, units, strict=True))
                if q is not None or u is not None
            ]
        elif n > 1 and len(set(objects)) != n:
            _merge_repeats(objects, roles, [None] * n, [None] * n)
            n = len(objects)
        b.eo_object.extend(objects)
        b.eo_qualifier.extend(roles)
    b.eo_runs.append(n)

    # ILMD: master data of what this event brought into being, valid from eventTime on.
    if kinds is not None and made:
        ilmd = ev.get("ilmd")
        if ilmd:
            if time is None:
                time = stamp if isinstance(stamp, datetime) else _time(stamp)
            _ilmd(b, ilmd, made, kinds, time)

    b.se_id.append(eid)
    b.se_format.append(SOURCE_FORMAT)
    b.se_body.append(orjson.dumps(body).decode())
