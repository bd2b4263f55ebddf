"""Is this EPCIS event what the standard says an event is? Two layers of checks.

Layer 1 — structure, per the EPCIS 2.0 standard and its JSON schema: the five event types,
the fields each may carry and those it must carry (``eventTime`` with a time zone,
``eventTimeZoneOffset``, ``action``, the ``parentID`` of an aggregation, at least one list of
what was seen), the JSON type of every field (a quantity is a number, a list is a list), and
no field the standard does not know unless it is a user extension ``prefix:name`` whose prefix
the document declares — inside ``ilmd`` too.

Layer 2 — what the schema cannot say: business steps, dispositions, transaction and
source/destination types, sensor measurement types and error reasons from the CBV 2.0 lists
(see :mod:`keiretsu.model.cbv`), EPC and GS1 Digital Link syntax with check digits (see
:mod:`keiretsu.model.gs1`), an ``eventTime`` that is not absurd (before 1970 or more than a
day ahead), no negative quantities, a ``minValue`` not above the ``maxValue``.

Both functions return a list of :class:`Problem` (empty when all is well) with the event
index, the JSON pointer of the field (an XPath for XML documents) and what was expected. They
are written by hand, field by field, so that checking a typical event costs a few
microseconds; the GS1 JSON schema is used only in the tests, to hold these checks to it.

Deliberate differences from the GS1 JSON schema (held in the tests):

* CBV words are checked (the schema lets any string through where a URI is expected, unless
  format checking is on) and GS1 web URIs must name a real CBV term;
* a ``sensorReport`` without ``type`` is accepted (EPCIS 2.0 §7.3.7.3 makes it optional; an
  alarm report carries only ``exception``), the schema requires it;
* ``parentID`` is required for an AggregationEvent with action ADD or DELETE (EPCIS 2.0
  §7.4.3), which the schema does not say;
* ``persistentDisposition`` is accepted on every event type, as in the EPCIS 2.0 XML schema
  and the openepcis reference documents (the JSON schema names it only for ObjectEvent and
  TransformationEvent);
* only the five standard event types are accepted (the schema lets any URI type through);
* inside ``readPoint``, ``bizLocation``, ``sensorMetadata``… a field that is neither standard
  nor ``prefix:name`` is refused (the schema allows anything in the first two).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from keiretsu.io.epcis._types import DocumentHeader, RawEvent
from keiretsu.io.epcis.json_reader import context_namespaces
from keiretsu.model.cbv import (
    BIZ_STEPS,
    BIZ_TRANSACTION_TYPES,
    CBV_URN,
    COMPONENTS,
    DISPOSITIONS,
    ERROR_REASONS,
    EVENT_TYPES,
    MEASUREMENT_TYPES,
    SENSOR_ALERTS,
    SOURCE_DEST_TYPES,
    Vocabulary,
    is_absolute_uri,
    term_problem,
)
from keiretsu.model.cbv import PLAIN_URI as _PLAIN_URI
from keiretsu.model.errors import Problem
from keiretsu.model.gs1 import _GOOD_HEADS, identifier_problem

__all__ = ["EVENT_TYPES", "validate_event", "validate_header"]

_TIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
)
_OFFSETS = frozenset(
    f"{sign}{h:02d}:{m:02d}" for sign in "+-" for h in range(14) for m in range(60)
) | {"+14:00", "-14:00"}
_UOM = re.compile(r"[A-Z0-9]{2,3}")
_HEX = re.compile(r"[A-Fa-f0-9]+")
_VERSION = re.compile(r"\d+(\.\d+)*")
_EARLIEST_TS = 0.0  # 1970-01-01T00:00:00Z
_THIS_YEAR = time.gmtime().tm_year

_TIME_EXPECTED = (
    "an RFC 3339 date-time with a time zone, e.g. '2024-03-01T08:15:00.000+01:00' or "
    "'2024-03-01T07:15:00Z'"
)


class _Ctx:
    """Where we are while checking one event, and the problems found so far."""

    __slots__ = ("base", "document", "index", "namespaces", "problems", "xml")

    def __init__(
        self,
        base: str,
        index: int | None,
        document: str | None,
        namespaces: dict[str, str],
        xml: bool,
    ) -> None:
        self.base = base
        self.index = index
        self.document = document
        self.namespaces = namespaces
        self.problems: list[Problem] = []
        self.xml = xml

    def add(self, rel: str, title: str, detail: str, expected: str | None = None) -> None:
        field = self.base + (_xml_path(rel) if self.xml else rel)
        self.problems.append(
            Problem(
                title=title,
                detail=detail,
                document=self.document,
                event_index=self.index,
                field=field,
                expected=expected,
            )
        )


# XML element names of list items, for turning "/epcList/2" into "/epcList/epc[3]"
_XML_ITEM = {
    "epcList": "epc",
    "childEPCs": "epc",
    "inputEPCList": "epc",
    "outputEPCList": "epc",
    "quantityList": "quantityElement",
    "childQuantityList": "quantityElement",
    "inputQuantityList": "quantityElement",
    "outputQuantityList": "quantityElement",
    "bizTransactionList": "bizTransaction",
    "sourceList": "source",
    "destinationList": "destination",
    "sensorElementList": "sensorElement",
    "correctiveEventIDs": "correctiveEventID",
    "set": "persistentDisposition",
    "unset": "persistentDisposition",
}
_XML_ATTRIBUTE_PARENTS = {"sensorMetadata", "sensorReport"}


def _xml_path(rel: str) -> str:
    """Best-effort XPath of a relative JSON pointer inside an XML event."""
    out: list[str] = []
    parent = ""
    for seg in rel.split("/")[1:]:
        if seg.isdigit():
            item = _XML_ITEM.get(parent)
            if item is None:
                out[-1] = f"{out[-1]}[{int(seg) + 1}]"
            else:
                out.append(f"{item}[{int(seg) + 1}]")
        elif parent in _XML_ATTRIBUTE_PARENTS and ":" not in seg:
            out.append("@" + seg)
        else:
            out.append(seg)
        parent = seg if not seg.isdigit() else parent
    return "/" + "/".join(out) if out else ""


# --------------------------------------------------------------------------------------------
# value checks


def _type_name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "an object"


def _wrong_type(ctx: _Ctx, rel: str, v: Any, expected: str) -> None:
    ctx.add(rel, "Wrong type", f"{rel[1:]} is {_type_name(v)}", expected)


def _time(ctx: _Ctx, rel: str, v: Any, *, event_time: bool = False) -> None:
    if type(v) is not str:
        _wrong_type(ctx, rel, v, _TIME_EXPECTED)
        return
    # RFC 3339 layout at fixed places, then the calendar check by fromisoformat (both fast);
    # the regular expression only on the rare odd shapes.
    if not (
        len(v) >= 20
        and v[4] == "-"
        and v[7] == "-"
        and v[10] in "Tt"
        and v[13] == ":"
        and v[16] == ":"
        and (v[-1] in "Zz" or (v[-3] == ":" and v[-6] in "+-"))
        and "," not in v
    ):
        if re.fullmatch(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?", v):
            ctx.add(rel, "Time without time zone", f"'{v}' has no time zone", _TIME_EXPECTED)
        else:
            ctx.add(rel, "Invalid date-time", f"'{v}' is not an RFC 3339 date-time", _TIME_EXPECTED)
        return
    try:
        when = datetime.fromisoformat(v)
    except ValueError:
        try:
            when = datetime.fromisoformat(v.upper().replace("Z", "+00:00"))
        except ValueError:
            ctx.add(rel, "Invalid date-time", f"'{v}' is not a calendar date-time", _TIME_EXPECTED)
            return
    # only the edge years need the exact comparison
    if (
        event_time
        and not 1970 < when.year < _THIS_YEAR
        and not _EARLIEST_TS <= when.timestamp() <= time.time() + 86_400
    ):
        ctx.add(
            rel,
            "Implausible time",
            f"'{v}' is before 1970 or more than a day in the future",
            "the time the event took place",
        )


# Identifiers that passed, so that an EPC seen at packing, shipping and receiving is checked once.
_GOOD_IDS: dict[str, None] = {}
_GOOD_IDS_MAX = 200_000


def _uri(ctx: _Ctx, rel: str, v: Any, *, identifier: bool = False) -> None:
    if type(v) is not str:
        _wrong_type(ctx, rel, v, "a URI (string)")
        return
    if v in _GOOD_IDS:
        return
    if identifier and (v.startswith("urn:epc:") or v.startswith("http")):
        problem = identifier_problem(v)
        if problem is not None:
            ctx.add(rel, "Invalid identifier", problem, "an EPC URN or GS1 Digital Link URI")
            return
    if not v.startswith("urn:epc:") and not is_absolute_uri(v):
        ctx.add(
            rel,
            "Not a URI",
            f"'{v}' is not an absolute URI",
            "a URI such as 'urn:…' or 'https://…'",
        )
        return
    if identifier:
        if len(_GOOD_IDS) >= _GOOD_IDS_MAX:
            _GOOD_IDS.clear()
        _GOOD_IDS[v] = None


def _term(ctx: _Ctx, rel: str, v: Any, vocab: Vocabulary) -> None:
    if type(v) is not str:
        _wrong_type(ctx, rel, v, f"a {vocab.label} (string)")
        return
    if v in vocab.terms:
        return
    problem = term_problem(vocab, v, ctx.namespaces)
    if problem is not None:
        ctx.add(rel, f"Unknown {vocab.label}", problem[0], problem[1])


def _number(ctx: _Ctx, rel: str, v: Any) -> bool:
    t = type(v)
    if t is int or t is float:
        return True
    _wrong_type(ctx, rel, v, "a number")
    return False


def _string(ctx: _Ctx, rel: str, v: Any) -> None:
    if type(v) is not str:
        _wrong_type(ctx, rel, v, "a string")


def _extension_key(ctx: _Ctx, key: str) -> bool:
    """A user extension ``prefix:name`` with a declared prefix, or a full IRI."""
    prefix, colon, local = key.partition(":")
    if not colon or not local:
        return False
    if local.startswith("//"):
        return prefix in ("http", "https")
    return prefix == "urn" or prefix in ctx.namespaces


def _unknown_field(ctx: _Ctx, rel: str, key: str, where: str) -> None:
    prefix, colon, _ = key.partition(":")
    if colon:
        ctx.add(
            rel,
            "Undeclared namespace prefix",
            f"the prefix '{prefix}' of '{key}' is not declared in the @context",
            f'an @context entry such as {{"{prefix}": "https://example.com/ns/"}}',
        )
    else:
        ctx.add(
            rel,
            "Unknown field",
            f"'{key}' is not a field of {where} in EPCIS 2.0",
            "a standard field, or a user extension named 'prefix:name' with the prefix "
            "declared in the @context",
        )


def _object(
    ctx: _Ctx,
    rel: str,
    v: Any,
    fields: dict[str, Callable[[_Ctx, str, Any], None]],
    where: str,
    *,
    required: tuple[str, ...] = (),
    extensions: bool = True,
) -> bool:
    """Check an object's members against ``fields``; extensions allowed unless told not."""
    if type(v) is not dict:
        _wrong_type(ctx, rel, v, f"{where} (an object)")
        return False
    for key, value in v.items():
        check = fields.get(key)
        if check is not None:
            check(ctx, f"{rel}/{key}", value)
        elif not (extensions and _extension_key(ctx, key)):
            _unknown_field(ctx, f"{rel}/{key}", key, where)
    for key in required:
        if key not in v:
            ctx.add(f"{rel}/{key}", "Missing field", f"{where} has no '{key}'", f"'{key}'")
    return True


def _list(
    ctx: _Ctx,
    rel: str,
    v: Any,
    item: Callable[[_Ctx, str, Any], None],
    what: str,
    *,
    min_items: int = 0,
    unique: bool = False,
) -> None:
    if type(v) is not list:
        _wrong_type(ctx, rel, v, f"an array of {what}")
        return
    if len(v) < min_items:
        ctx.add(rel, "Empty list", f"{rel[1:]} is empty", f"at least {min_items} {what}")
    # an EPC already found good needs no second look; in a list of anything else (business
    # transactions, dispositions…) a good EPC string is still the wrong thing
    epcs = item is _epc
    for i, x in enumerate(v):
        if epcs and type(x) is str and x in _GOOD_IDS:
            continue
        item(ctx, f"{rel}/{i}", x)
    # uniqueItems is the JSON schema's rule; the XML schema has none (openepcis' valid
    # epcisDocWithAllGS1Keys.xml repeats an SSCC), so XML lists may repeat an item.
    if unique and not ctx.xml and len(v) > 1:
        try:
            distinct = len(set(v))
        except TypeError:
            return
        if distinct != len(v):
            ctx.add(
                rel, "Repeated item", f"{rel[1:]} lists the same item twice", f"distinct {what}"
            )


# --------------------------------------------------------------------------------------------
# field checkers (ctx, relative pointer, value)


def _epc(ctx: _Ctx, rel: str, v: Any) -> None:
    _uri(ctx, rel, v, identifier=True)


def _epc_list(ctx: _Ctx, rel: str, v: Any) -> None:
    _list(ctx, rel, v, _epc, "EPC URIs", unique=True)


def _quantity_element(ctx: _Ctx, rel: str, v: Any) -> None:
    if not _object(
        ctx,
        rel,
        v,
        _QUANTITY_FIELDS,
        "a quantity element",
        required=("epcClass",),
        extensions=False,
    ):
        return
    q = v.get("quantity")
    if "uom" in v and q is None:
        ctx.add(
            f"{rel}/quantity", "Missing field", "a uom is given without a quantity", "'quantity'"
        )
    if type(q) in (int, float) and q < 0:
        ctx.add(
            f"{rel}/quantity",
            "Negative quantity",
            f"quantity {q} is below zero",
            "a quantity of 0 or more",
        )


def _quantity(ctx: _Ctx, rel: str, v: Any) -> None:
    _number(ctx, rel, v)


def _uom(ctx: _Ctx, rel: str, v: Any) -> None:
    if type(v) is not str:
        _wrong_type(ctx, rel, v, "a UN/CEFACT unit code (string)")
    elif _UOM.fullmatch(v) is None:
        ctx.add(
            rel,
            "Invalid unit",
            f"'{v}' is not a UN/CEFACT Rec. 20 unit code",
            "2 or 3 capitals or digits, e.g. 'KGM'",
        )


_QUANTITY_FIELDS: dict[str, Callable[[_Ctx, str, Any], None]] = {
    "epcClass": _epc,
    "quantity": _quantity,
    "uom": _uom,
}


def _quantity_list(ctx: _Ctx, rel: str, v: Any) -> None:
    _list(ctx, rel, v, _quantity_element, "quantity elements")


def _action(ctx: _Ctx, rel: str, v: Any) -> None:
    if v not in ("ADD", "OBSERVE", "DELETE"):
        shown = f"'{v}'" if isinstance(v, str) else _type_name(v)
        ctx.add(
            rel,
            "Invalid action",
            f"action {shown} is not an EPCIS action",
            "'ADD', 'OBSERVE' or 'DELETE'",
        )


def _biz_step(ctx: _Ctx, rel: str, v: Any) -> None:
    _term(ctx, rel, v, BIZ_STEPS)


def _disposition(ctx: _Ctx, rel: str, v: Any) -> None:
    _term(ctx, rel, v, DISPOSITIONS)


def _disposition_list(ctx: _Ctx, rel: str, v: Any) -> None:
    _list(ctx, rel, v, _disposition, "dispositions", min_items=1, unique=True)


_PERSISTENT_FIELDS: dict[str, Callable[[_Ctx, str, Any], None]] = {
    "set": _disposition_list,
    "unset": _disposition_list,
}


def _persistent_disposition(ctx: _Ctx, rel: str, v: Any) -> None:
    if _object(ctx, rel, v, _PERSISTENT_FIELDS, "persistentDisposition", extensions=False) and not (
        "set" in v or "unset" in v
    ):
        ctx.add(
            rel,
            "Missing field",
            "persistentDisposition has neither 'set' nor 'unset'",
            "'set' or 'unset'",
        )


def _plain_uri(ctx: _Ctx, rel: str, v: Any) -> None:
    _uri(ctx, rel, v)


_LOCATION_FIELDS: dict[str, Callable[[_Ctx, str, Any], None]] = {"id": _epc}


def _location(ctx: _Ctx, rel: str, v: Any) -> None:
    if type(v) is dict and len(v) == 1 and type(v.get("id")) is str and v["id"] in _GOOD_IDS:
        return  # the same readPoint / bizLocation as before
    _object(ctx, rel, v, _LOCATION_FIELDS, rel[1:], required=("id",))


def _btt(ctx: _Ctx, rel: str, v: Any) -> None:
    _term(ctx, rel, v, BIZ_TRANSACTION_TYPES)


_BIZ_TRANSACTION_FIELDS: dict[str, Callable[[_Ctx, str, Any], None]] = {
    "type": _btt,
    "bizTransaction": _plain_uri,
}


def _biz_transaction(ctx: _Ctx, rel: str, v: Any) -> None:
    _object(
        ctx,
        rel,
        v,
        _BIZ_TRANSACTION_FIELDS,
        "a business transaction",
        required=("bizTransaction",),
        extensions=False,
    )


def _biz_transaction_list(ctx: _Ctx, rel: str, v: Any) -> None:
    _list(ctx, rel, v, _biz_transaction, "business transactions")


def _sdt(ctx: _Ctx, rel: str, v: Any) -> None:
    _term(ctx, rel, v, SOURCE_DEST_TYPES)


_SOURCE_FIELDS: dict[str, Callable[[_Ctx, str, Any], None]] = {"type": _sdt, "source": _epc}
_DESTINATION_FIELDS: dict[str, Callable[[_Ctx, str, Any], None]] = {
    "type": _sdt,
    "destination": _epc,
}


def _source(ctx: _Ctx, rel: str, v: Any) -> None:
    _object(ctx, rel, v, _SOURCE_FIELDS, "a source", required=("type", "source"), extensions=False)


def _destination(ctx: _Ctx, rel: str, v: Any) -> None:
    _object(
        ctx,
        rel,
        v,
        _DESTINATION_FIELDS,
        "a destination",
        required=("type", "destination"),
        extensions=False,
    )


def _source_list(ctx: _Ctx, rel: str, v: Any) -> None:
    _list(ctx, rel, v, _source, "sources")


def _destination_list(ctx: _Ctx, rel: str, v: Any) -> None:
    _list(ctx, rel, v, _destination, "destinations")


def _plain_time(ctx: _Ctx, rel: str, v: Any) -> None:
    _time(ctx, rel, v)


def _event_time(ctx: _Ctx, rel: str, v: Any) -> None:
    _time(ctx, rel, v, event_time=True)


def _number_field(ctx: _Ctx, rel: str, v: Any) -> None:
    _number(ctx, rel, v)


def _boolean(ctx: _Ctx, rel: str, v: Any) -> None:
    if type(v) is not bool:
        _wrong_type(ctx, rel, v, "true or false")


def _hex(ctx: _Ctx, rel: str, v: Any) -> None:
    if type(v) is not str:
        _wrong_type(ctx, rel, v, "hexadecimal digits (string)")
    elif _HEX.fullmatch(v) is None:
        ctx.add(rel, "Invalid hexBinary", f"'{v[:40]}' is not hexadecimal", "hexadecimal digits")


_SENSOR_METADATA_FIELDS: dict[str, Callable[[_Ctx, str, Any], None]] = {
    "time": _plain_time,
    "startTime": _plain_time,
    "endTime": _plain_time,
    "deviceID": _plain_uri,
    "deviceMetadata": _plain_uri,
    "rawData": _plain_uri,
    "dataProcessingMethod": _plain_uri,
    "bizRules": _plain_uri,
}


def _sensor_metadata(ctx: _Ctx, rel: str, v: Any) -> None:
    _object(ctx, rel, v, _SENSOR_METADATA_FIELDS, "sensorMetadata")


_SENSOR_REPORT_FIELDS: dict[str, Callable[[_Ctx, str, Any], None]] = {
    "type": lambda c, r, v: _term(c, r, v, MEASUREMENT_TYPES),
    "exception": lambda c, r, v: _term(c, r, v, SENSOR_ALERTS),
    "component": lambda c, r, v: _term(c, r, v, COMPONENTS),
    "deviceID": _plain_uri,
    "deviceMetadata": _plain_uri,
    "rawData": _plain_uri,
    "dataProcessingMethod": _plain_uri,
    "bizRules": _plain_uri,
    "microorganism": _plain_uri,
    "chemicalSubstance": _plain_uri,
    "coordinateReferenceSystem": _plain_uri,
    "uriValue": _plain_uri,
    "time": _plain_time,
    "value": _number_field,
    "minValue": _number_field,
    "maxValue": _number_field,
    "meanValue": _number_field,
    "sDev": _number_field,
    "percRank": _number_field,
    "percValue": _number_field,
    "stringValue": _string,
    "booleanValue": _boolean,
    "hexBinaryValue": _hex,
    "uom": _string,
}


def _sensor_report(ctx: _Ctx, rel: str, v: Any) -> None:
    if not _object(ctx, rel, v, _SENSOR_REPORT_FIELDS, "a sensorReport"):
        return
    lo, hi = v.get("minValue"), v.get("maxValue")
    if type(lo) in (int, float) and type(hi) in (int, float) and lo > hi:
        ctx.add(
            f"{rel}/minValue",
            "Inconsistent range",
            f"minValue {lo} is above maxValue {hi}",
            "minValue ≤ maxValue",
        )
    sd = v.get("sDev")
    if type(sd) in (int, float) and sd < 0:
        ctx.add(
            f"{rel}/sDev",
            "Negative deviation",
            f"sDev {sd} is below zero",
            "a standard deviation of 0 or more",
        )


def _sensor_report_list(ctx: _Ctx, rel: str, v: Any) -> None:
    _list(ctx, rel, v, _sensor_report, "sensor reports", min_items=1)


_SENSOR_ELEMENT_FIELDS: dict[str, Callable[[_Ctx, str, Any], None]] = {
    "sensorMetadata": _sensor_metadata,
    "sensorReport": _sensor_report_list,
}


def _sensor_element(ctx: _Ctx, rel: str, v: Any) -> None:
    _object(ctx, rel, v, _SENSOR_ELEMENT_FIELDS, "a sensor element", required=("sensorReport",))


def _sensor_element_list(ctx: _Ctx, rel: str, v: Any) -> None:
    _list(ctx, rel, v, _sensor_element, "sensor elements")


def _ilmd(ctx: _Ctx, rel: str, v: Any) -> None:
    # ilmd holds only user extensions: master data of the lot or instance (expiry date…)
    _object(ctx, rel, v, {}, "ilmd")


def _certification_info(ctx: _Ctx, rel: str, v: Any) -> None:
    if type(v) is list:
        _list(ctx, rel, v, _plain_uri, "certificate URIs")
    else:
        _uri(ctx, rel, v)


def _reason(ctx: _Ctx, rel: str, v: Any) -> None:
    _term(ctx, rel, v, ERROR_REASONS)


def _event_id_list(ctx: _Ctx, rel: str, v: Any) -> None:
    _list(ctx, rel, v, _plain_uri, "event IDs")


_ERROR_FIELDS: dict[str, Callable[[_Ctx, str, Any], None]] = {
    "declarationTime": _event_time,
    "reason": _reason,
    "correctiveEventIDs": _event_id_list,
}


def _error_declaration(ctx: _Ctx, rel: str, v: Any) -> None:
    _object(ctx, rel, v, _ERROR_FIELDS, "errorDeclaration", required=("declarationTime",))


def _offset(ctx: _Ctx, rel: str, v: Any) -> None:
    if type(v) is not str or v not in _OFFSETS:
        shown = f"'{v}'" if isinstance(v, str) else _type_name(v)
        ctx.add(
            rel,
            "Invalid time zone offset",
            f"eventTimeZoneOffset {shown} is not an offset",
            "'+HH:MM' or '-HH:MM' between -14:00 and +14:00",
        )


def _context(ctx: _Ctx, rel: str, v: Any) -> None:
    items = v if type(v) is list else [v]
    seen: set[str] = set()
    for i, item in enumerate(items):
        at = f"{rel}/{i}" if type(v) is list else rel
        if type(item) is str:
            if not is_absolute_uri(item):
                ctx.add(at, "Invalid @context", f"'{item}' is not a URL", "a context URL")
            if item in seen:
                ctx.add(at, "Invalid @context", f"'{item}' is listed twice", "distinct entries")
            seen.add(item)
        elif type(item) is dict:
            for prefix, target in item.items():
                if type(target) is not str and not (
                    type(target) is dict and type(target.get("@id", "")) is str
                ):
                    ctx.add(
                        f"{at}/{prefix}",
                        "Invalid @context",
                        f"'{prefix}' maps to {_type_name(target)}",
                        "a namespace URI",
                    )
        else:
            _wrong_type(ctx, at, item, "a context URL or an object of prefix → namespace URI")


def _nothing(ctx: _Ctx, rel: str, v: Any) -> None:
    """``type`` is checked before the fields."""


def _parent_id(ctx: _Ctx, rel: str, v: Any) -> None:
    _uri(ctx, rel, v, identifier=True)


_COMMON: dict[str, Callable[[_Ctx, str, Any], None]] = {
    "@context": _context,
    "type": _nothing,
    "eventTime": _event_time,
    "recordTime": _plain_time,
    "eventTimeZoneOffset": _offset,
    "eventID": _plain_uri,
    "certificationInfo": _certification_info,
    "errorDeclaration": _error_declaration,
}
_WHAT_WHERE: dict[str, Callable[[_Ctx, str, Any], None]] = {
    "bizStep": _biz_step,
    "disposition": _disposition,
    "readPoint": _location,
    "bizLocation": _location,
    "bizTransactionList": _biz_transaction_list,
    "sourceList": _source_list,
    "destinationList": _destination_list,
    "sensorElementList": _sensor_element_list,
    "persistentDisposition": _persistent_disposition,
}


def _fields(
    **extra: Callable[[_Ctx, str, Any], None],
) -> dict[str, Callable[[_Ctx, str, Any], None]]:
    return {**_COMMON, **_WHAT_WHERE, **extra}


_EVENT_FIELDS: dict[str, dict[str, Callable[[_Ctx, str, Any], None]]] = {
    "ObjectEvent": _fields(
        action=_action,
        epcList=_epc_list,
        quantityList=_quantity_list,
        ilmd=_ilmd,
    ),
    "AggregationEvent": _fields(
        action=_action, parentID=_parent_id, childEPCs=_epc_list, childQuantityList=_quantity_list
    ),
    "TransactionEvent": _fields(
        action=_action, parentID=_parent_id, epcList=_epc_list, quantityList=_quantity_list
    ),
    "TransformationEvent": _fields(
        inputEPCList=_epc_list,
        inputQuantityList=_quantity_list,
        outputEPCList=_epc_list,
        outputQuantityList=_quantity_list,
        transformationID=_plain_uri,
        ilmd=_ilmd,
    ),
    "AssociationEvent": _fields(
        action=_action, parentID=_parent_id, childEPCs=_epc_list, childQuantityList=_quantity_list
    ),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "ObjectEvent": ("eventTime", "eventTimeZoneOffset", "action"),
    "AggregationEvent": ("eventTime", "eventTimeZoneOffset", "action"),
    "TransactionEvent": ("eventTime", "eventTimeZoneOffset", "action", "bizTransactionList"),
    "TransformationEvent": ("eventTime", "eventTimeZoneOffset"),
    "AssociationEvent": ("eventTime", "eventTimeZoneOffset", "action", "parentID"),
}
_REQUIRED_EXPECTED = {
    "eventTime": _TIME_EXPECTED,
    "eventTimeZoneOffset": "the offset of the local time zone, e.g. '+01:00'",
    "action": "'ADD', 'OBSERVE' or 'DELETE'",
    "bizTransactionList": "at least one business transaction",
    "parentID": "the URI of the parent (the container or the asset)",
}


def _non_empty(data: dict[str, Any], key: str) -> bool:
    v = data.get(key)
    return type(v) is list and len(v) > 0


def _what_rules(ctx: _Ctx, kind: str, data: dict[str, Any]) -> None:
    """At least one list of what the event is about, and the parentID rules."""
    action = data.get("action")
    if kind == "ObjectEvent":
        if not (
            "epcList" in data
            or _non_empty(data, "quantityList")
            or (_non_empty(data, "sensorElementList") and "readPoint" in data)
        ):
            ctx.add(
                "/epcList",
                "Nothing observed",
                "the ObjectEvent has no epcList, no quantityList and no sensor data at a readPoint",
                "an 'epcList' or a 'quantityList' (or a 'sensorElementList' with a 'readPoint')",
            )
        if "ilmd" in data and action in ("OBSERVE", "DELETE"):
            ctx.add(
                "/ilmd",
                "ilmd not allowed",
                f"ilmd (lot master data) is only allowed with action ADD, not {action}",
                "no ilmd, or action 'ADD'",
            )
    elif kind == "TransformationEvent":
        ins = _non_empty(data, "inputEPCList") or _non_empty(data, "inputQuantityList")
        outs = _non_empty(data, "outputEPCList") or _non_empty(data, "outputQuantityList")
        if not ((ins and outs) or ("transformationID" in data and (ins or outs))):
            ctx.add(
                "/inputEPCList",
                "Inputs or outputs missing",
                "a TransformationEvent needs inputs and outputs, or a transformationID with "
                "inputs or outputs",
                "'inputEPCList'/'inputQuantityList' and 'outputEPCList'/'outputQuantityList'",
            )
    else:
        if kind == "TransactionEvent" and data.get("bizTransactionList") == []:
            ctx.add(
                "/bizTransactionList",
                "Empty list",
                "a TransactionEvent needs at least one business transaction",
                _REQUIRED_EXPECTED["bizTransactionList"],
            )
        epcs, qty = (
            ("epcList", "quantityList")
            if kind == "TransactionEvent"
            else ("childEPCs", "childQuantityList")
        )
        has = (_non_empty(data, epcs) or (kind == "TransactionEvent" and epcs in data)) or (
            _non_empty(data, qty)
        )
        if not has and action != "DELETE":
            ctx.add(
                f"/{epcs}",
                "Nothing observed",
                f"the {kind} has no {epcs} and no {qty}",
                f"a non-empty '{epcs}' or '{qty}'",
            )
        if kind == "AggregationEvent" and action in ("ADD", "DELETE") and "parentID" not in data:
            ctx.add(
                "/parentID",
                "Missing field",
                f"an AggregationEvent with action {action} must name its parent",
                _REQUIRED_EXPECTED["parentID"],
            )


# --------------------------------------------------------------------------------------------
# the fast path
#
# A document of a million events repeats a few shapes: the same keys in the same order, the
# same business steps, readPoints and transaction types, the EPCs of one shipment seen at
# packing, shipping and receiving. The fast path recognises an event of a known shape that has
# nothing wrong with it, with one small check per field and without building a single pointer
# string, and remembers the values it found good. Whenever it sees anything it is not sure of,
# it gives up and the field-by-field checker above runs instead, so problems are always found
# and worded by that checker. It must never accept what that checker would refuse (held in the
# tests by running both on the corpus and on mutated events).


class _Rejected(Exception):
    """The fast path saw a problem."""


class _RejectCtx(_Ctx):
    """A context that gives up at the first problem instead of describing it."""

    __slots__ = ()

    def add(self, rel: str, title: str, detail: str, expected: str | None = None) -> None:
        raise _Rejected


_REJECT = _RejectCtx("", None, None, {}, False)

# values found good, bounded; only values whose verdict does not depend on the namespaces
_GOOD_URIS: dict[str, None] = {}
_GOOD_URIS_MAX = 50_000
_GOOD_TERMS_MAX = 10_000
_GOOD_STEPS: dict[str, None] = {}
_GOOD_DISPS: dict[str, None] = {}
_GOOD_BTTS: dict[str, None] = {}
_GOOD_SDTS: dict[str, None] = {}
_GOOD_UOMS: dict[str, None] = {}
_STEP_WORDS = BIZ_STEPS.terms
_DISP_WORDS = DISPOSITIONS.terms
_BTT_WORDS = BIZ_TRANSACTION_TYPES.terms
_SDT_WORDS = SOURCE_DEST_TYPES.terms
_QUANTITY_KEYS = frozenset(_QUANTITY_FIELDS)
_URI_MATCH = _PLAIN_URI.fullmatch  # a URI of the usual characters (is_absolute_uri's first try)
_TRANSACTION_KEYS = frozenset(_BIZ_TRANSACTION_FIELDS)


def _id_ok(v: str) -> bool:
    """``_uri(..., identifier=True)`` finds nothing wrong, for a string not yet known good."""
    head, _, serial = v.rpartition(".")
    limit = _GOOD_HEADS.get(head)
    if not (
        limit is not None and 0 < len(serial) <= limit and serial.isalnum() and serial.isascii()
    ):
        # not a new serial of an EPC head already checked: the whole check
        epc = v.startswith("urn:epc:")
        if (epc or v.startswith("http")) and identifier_problem(v) is not None:
            return False
        if not epc and not is_absolute_uri(v):
            return False
    if len(_GOOD_IDS) >= _GOOD_IDS_MAX:
        _GOOD_IDS.clear()
    _GOOD_IDS[v] = None
    return True


def _uri_ok(v: Any, remember: bool) -> bool:
    """``_uri(..., identifier=False)`` finds nothing wrong."""
    if type(v) is not str:
        return False
    if not remember:
        return v.startswith("urn:epc:") or is_absolute_uri(v)
    if v in _GOOD_URIS or v in _GOOD_IDS:
        return True
    if not v.startswith("urn:epc:") and not is_absolute_uri(v):
        return False
    if len(_GOOD_URIS) >= _GOOD_URIS_MAX:
        _GOOD_URIS.clear()
    _GOOD_URIS[v] = None
    return True


def _term_ok(v: Any, vocab: Vocabulary, good: dict[str, None], namespaces: dict[str, str]) -> bool:
    """``_term`` finds nothing wrong, for a value that is not a bare CBV word."""
    if type(v) is not str:
        return False
    if v in good:
        return True
    if term_problem(vocab, v, namespaces) is not None:
        return False
    # a compact URI (``cbv:…``, ``acme:…``) depends on the namespaces in force: not kept
    if v.startswith(CBV_URN) or v.partition(":")[2].startswith("//"):
        if len(good) >= _GOOD_TERMS_MAX:
            good.clear()
        good[v] = None
    return True


def _time_ok(v: Any, event_time: bool) -> bool:
    """``_time`` finds nothing wrong (the usual layout; anything else goes the slow way)."""
    if not (
        type(v) is str
        and len(v) >= 20
        and v[4:17:3] in ("--T::", "--t::")  # the '-', '-', 'T', ':', ':' of _time at once
        and (v[-1] in "Zz" or (v[-3] == ":" and v[-6] in "+-"))
        and "," not in v
    ):
        return False
    try:
        when = datetime.fromisoformat(v)
    except ValueError:
        return False
    return not (
        event_time
        and not 1970 < when.year < _THIS_YEAR
        and not _EARLIEST_TS <= when.timestamp() <= time.time() + 86_400
    )


def _extension_ok(key: str, namespaces: dict[str, str]) -> bool:
    """``_extension_key`` without a context."""
    prefix, colon, local = key.partition(":")
    if not colon or not local:
        return False
    if local.startswith("//"):
        return prefix in ("http", "https")
    return prefix == "urn" or prefix in namespaces


# Per field, a condition on its value ``{v}`` that holds only if the full checker would find
# nothing wrong with it (``ns``: the namespaces in force). The conditions of an event's fields
# are compiled into one function per shape (below), so that a typical event costs one call.

# a location seen before, inline (l{i}: a name of its own per field)
_LOCATION_OK = (
    "(type({v}) is dict and len({v}) == 1 and type(l{i} := {v}.get('id')) is str"
    " and l{i} in _GOOD_IDS) or _location_ok({v})"
)
_EPCS_OK = "(type({v}) is list and {v} == _LAST[3]) or _epcs_ok({v})"  # packing what was made
_FAST_COMMON: dict[str, str] = {
    "type": "",  # already known to be one of the five
    "eventTime": "_time_ok({v}, True)",
    "eventTimeZoneOffset": "type({v}) is str and {v} in _OFFSETS",
    # unique to the event: not worth remembering; the usual characters in one regex call
    "eventID": "type({v}) is str and (_URI_MATCH({v}) is not None or _uri_ok({v}, False))",
    "recordTime": "_time_ok({v}, False)",
    "bizStep": (
        "type({v}) is str and ({v} in _STEP_WORDS or _term_ok({v}, BIZ_STEPS, _GOOD_STEPS, ns))"
    ),
    "disposition": (
        "type({v}) is str and ({v} in _DISP_WORDS or _term_ok({v}, DISPOSITIONS, _GOOD_DISPS, ns))"
    ),
    "readPoint": _LOCATION_OK,
    "bizLocation": _LOCATION_OK,
    # the same list as the last good one (compared in C) needs no second look
    "bizTransactionList": "((type({v}) is list and {v} == _LAST[0]) or _transactions_ok({v}, ns))",
    "sourceList": "((type({v}) is list and {v} == _LAST[1]) or _parties_ok({v}, 'source', ns, 1))",
    "destinationList": (
        "((type({v}) is list and {v} == _LAST[2]) or _parties_ok({v}, 'destination', ns, 2))"
    ),
}
_ACTION_OK = "({v} == 'OBSERVE' or {v} == 'ADD' or {v} == 'DELETE')"
_ID_OK = "type({v}) is str and ({v} in _GOOD_IDS or _id_ok({v}))"
_FAST_FIELDS: dict[str, dict[str, str]] = {
    "ObjectEvent": {
        **_FAST_COMMON,
        "action": _ACTION_OK,
        "epcList": _EPCS_OK,
        "quantityList": "_quantities_ok({v})",
        "ilmd": "_ilmd_ok({v}, ns)",
    },
    "AggregationEvent": {
        **_FAST_COMMON,
        "action": _ACTION_OK,
        "parentID": _ID_OK,
        "childEPCs": _EPCS_OK,
        "childQuantityList": "_quantities_ok({v})",
    },
    "TransactionEvent": {
        **_FAST_COMMON,
        "action": _ACTION_OK,
        "parentID": _ID_OK,
        "epcList": _EPCS_OK,
        "quantityList": "_quantities_ok({v})",
    },
    "TransformationEvent": {
        **_FAST_COMMON,
        "inputEPCList": _EPCS_OK,
        "inputQuantityList": "_quantities_ok({v})",
        "outputEPCList": _EPCS_OK,
        "outputQuantityList": "_quantities_ok({v})",
        "transformationID": "_uri_ok({v}, True)",
        "ilmd": "_ilmd_ok({v}, ns)",
    },
    "AssociationEvent": {
        **_FAST_COMMON,
        "action": _ACTION_OK,
        "parentID": _ID_OK,
        "childEPCs": _EPCS_OK,
        "childQuantityList": "_quantities_ok({v})",
    },
}
for _kind, _known in _FAST_FIELDS.items():  # the fast path judges some of each type's fields
    assert _known.keys() <= _EVENT_FIELDS[_kind].keys(), _kind


def _location_ok(v: Any) -> bool:
    if type(v) is not dict or len(v) != 1:
        return False
    loc = v.get("id")
    return type(loc) is str and (loc in _GOOD_IDS or _id_ok(loc))


def _epcs_ok(v: Any) -> bool:
    if type(v) is not list:
        return False
    try:
        distinct = set(v)
    except TypeError:
        return False
    if len(distinct) != len(v):
        return False
    # The usual case, all seen before, in one C loop. Every key of _GOOD_IDS is a str, and only
    # a str equals a str: an item found there is a string (or a str subclass, as good).
    if _GOOD_IDS.keys() >= distinct:
        _LAST[3] = list(v)  # a copy: the caller may change its list later
        return True
    # New serials, usually of one product: the head check of _id_ok inlined, and the head of
    # the previous new serial tried first.
    good = _GOOD_IDS
    if len(good) + len(v) > _GOOD_IDS_MAX:
        good.clear()
    if _new_serials_ok(v):
        _LAST[3] = list(v)  # a copy: the caller may change its list later
        return True
    prefix = "\n"  # starts no identifier
    limit = 0
    for x in v:
        if x in good:
            continue
        if type(x) is not str:
            return False
        if x.startswith(prefix):
            serial = x[len(prefix) :]
        else:
            head, _, serial = x.rpartition(".")
            found = _GOOD_HEADS.get(head)
            if found is None:
                if not _id_ok(x):
                    return False
                continue
            prefix = head + "."
            limit = found
        # a new serial of a good head is not remembered: checking it again is as cheap as
        # looking it up in a cache grown by every serial of the document
        if not (0 < len(serial) <= limit and serial.isalnum() and serial.isascii()) and not _id_ok(
            x
        ):
            return False
    _LAST[3] = list(v)  # a copy: the caller may change its list later
    return True


def _new_serials_ok(v: list[Any]) -> bool:
    """The loop of :func:`_epcs_ok` in whole-list steps for its usual case, a commissioning:
    every item a new serial (plain ASCII letters and digits, not too long) of the first item's
    head, already checked. False only means: go through the loop."""
    first = v[0]
    if type(first) is not str:
        return False
    head, dot, _ = first.rpartition(".")
    limit = _GOOD_HEADS.get(head)
    if limit is None or not dot:
        return False
    cut = len(head) + 1
    try:
        # only a str equals a str: every item is text with that head
        if {x[:cut] for x in v} != {first[:cut]}:
            return False
    except TypeError:  # an item that is no text
        return False
    tails = [x[cut:] for x in v]
    lengths = list(map(len, tails))
    joined = "".join(tails)
    return min(lengths) > 0 and max(lengths) <= limit and joined.isalnum() and joined.isascii()


def _quantities_ok(v: Any) -> bool:
    if type(v) is not list:
        return False
    for q in v:
        if type(q) is not dict or not q.keys() <= _QUANTITY_KEYS:
            return False
        c = q.get("epcClass")
        if type(c) is not str or (c not in _GOOD_IDS and not _id_ok(c)):
            return False
        if "quantity" in q:
            n = q["quantity"]
            t = type(n)
            if (t is not int and t is not float) or n < 0:
                return False
        if "uom" in q:
            u = q["uom"]
            if "quantity" not in q or type(u) is not str:
                return False
            if u not in _GOOD_UOMS:
                if _UOM.fullmatch(u) is None:
                    return False
                if len(_GOOD_UOMS) < _GOOD_TERMS_MAX:
                    _GOOD_UOMS[u] = None
    return True


# The last good bizTransactionList, sourceList, destinationList and list of EPCs. Kept only
# when what makes it good does not depend on the namespaces (bare CBV words): then a list equal
# to it (its members equal strings, so strings) is as good. None until one is: the conditions
# compare only a list with it, so a null list is never taken for the last good one.
_LAST: list[Any] = [None, None, None, None]


def _transactions_ok(v: Any, ns: dict[str, str]) -> bool:
    if type(v) is not list:
        return False
    keep = True
    for bt in v:
        if type(bt) is not dict:
            return False
        value = bt.get("bizTransaction")
        if type(value) is not str:
            return False  # missing, or not a string
        if len(bt) == 2:
            t = bt.get("type")
            if type(t) is not str:
                return False  # another member than 'type' besides 'bizTransaction'
            if t not in _BTT_WORDS:
                if not _term_ok(t, BIZ_TRANSACTION_TYPES, _GOOD_BTTS, ns):
                    return False
                keep = False
        elif len(bt) != 1:
            return False
        if value not in _GOOD_URIS and not _uri_ok(value, True):
            return False
    if keep:
        _LAST[0] = [dict(bt) for bt in v]  # a copy, as the caller may change v
    return True


def _parties_ok(v: Any, which: str, ns: dict[str, str], last: int) -> bool:
    """A sourceList (``which`` = ``source``) or destinationList (``destination``)."""
    if type(v) is not list:
        return False
    keep = True
    for sd in v:
        if type(sd) is not dict or len(sd) != 2:
            return False
        t = sd.get("type")
        party = sd.get(which)
        if type(t) is not str or type(party) is not str:
            return False  # also when a key is missing and another stands in its place
        if t not in _SDT_WORDS:
            if not _term_ok(t, SOURCE_DEST_TYPES, _GOOD_SDTS, ns):
                return False
            keep = False
        if party not in _GOOD_IDS and not _id_ok(party):
            return False
    if keep:
        _LAST[last] = [dict(sd) for sd in v]  # a copy, as the caller may change v
    return True


def _ilmd_ok(v: Any, ns: dict[str, str]) -> bool:
    return type(v) is dict and all(_extension_ok(k, ns) for k in v)


# A shape: the event type and its keys in order → one function checking all the values, and
# the keys that are user extensions (their prefixes are checked on every event: namespaces
# differ between documents). None: a shape the fast path leaves to the full checker.
_ShapeCheck = Callable[[dict[str, Any], dict[str, str]], bool]
_Plan = tuple[_ShapeCheck, tuple[str, ...], bool]
_SHAPES: dict[str, dict[tuple[str, ...], _Plan | None]] = {k: {} for k in _FAST_FIELDS}
_SHAPES_MAX = 1_000
_UNSEEN: Any = object()


def _plan(kind: str, keys: tuple[str, ...]) -> _Plan | None:
    known = _FAST_FIELDS[kind]
    if any(k not in keys for k in _REQUIRED[kind]):
        return None
    names: list[str] = []
    conditions: list[str] = []
    extensions: list[str] = []
    for i, key in enumerate(keys):
        names.append(f"v{i}")
        condition = known.get(key)
        if condition is None:
            if key in _EVENT_FIELDS[kind] or ":" not in key:
                return None  # a field the fast path does not judge, or an unknown one
            extensions.append(key)  # its value is the user's business
        elif condition:
            conditions.append("(" + condition.format(v=f"v{i}", i=i) + ")")
    what = True  # whether _what_rules must still run on the values
    if kind == "ObjectEvent":
        # _what_rules of an ObjectEvent as conditions, once its values are known good (the
        # sensor case never takes the fast path)
        if "epcList" not in keys:
            if "quantityList" not in keys:
                return None
            conditions.append(f"len(v{keys.index('quantityList')}) > 0")
        if "ilmd" in keys:
            conditions.append(f"v{keys.index('action')} == 'ADD'")
        what = False
    # Only our own templates and variable numbers go into the source, never a key or a value.
    source = (
        "def check(data, ns):\n"
        f"    {', '.join(names)}, = data.values()\n"
        f"    return {' and '.join(conditions) or 'True'}\n"
    )
    scope: dict[str, Any] = {}
    exec(compile(source, f"<EPCIS {kind} shape check>", "exec"), globals(), scope)
    check: _ShapeCheck = scope["check"]
    return check, tuple(extensions), what


def _fast_ok(data: dict[str, Any], kind: str, ns: dict[str, str]) -> bool:
    """True if the event certainly has no problem; False if the full checker must look."""
    shapes = _SHAPES[kind]
    keys = tuple(data)
    plan = shapes.get(keys, _UNSEEN)
    if plan is _UNSEEN:
        if len(shapes) >= _SHAPES_MAX:
            shapes.clear()
        plan = shapes[keys] = _plan(kind, keys)
    if plan is None:
        return False
    check, extensions, what = plan
    for key in extensions:
        if not _extension_ok(key, ns):
            return False
    if not check(data, ns):
        return False
    if not what:
        return True
    try:
        _what_rules(_REJECT, kind, data)
    except _Rejected:
        return False
    return True


def validate_event(
    raw: RawEvent, header: DocumentHeader, *, document: str | None = None
) -> list[Problem]:
    """The problems of one event, per EPCIS 2.0 and CBV 2.0; an empty list if none.

    ``document`` names the file in the problems. User extensions are judged against the
    document's namespaces plus those of the event's own ``@context``.
    """
    data = raw.data
    if type(data) is dict and header.kind != "Event":
        kind = data.get("type")
        if type(kind) is str and kind in _SHAPES and _fast_ok(data, kind, header.namespaces):
            return []
    return _check_event(raw, header, document)


def _check_event(raw: RawEvent, header: DocumentHeader, document: str | None) -> list[Problem]:
    """The field-by-field checker: every problem of the event, each at its field."""
    data = raw.data
    xml = header.syntax == "xml"
    namespaces = header.namespaces
    if type(data) is dict and "@context" in data:
        namespaces = {**namespaces, **context_namespaces(data["@context"])}
    ctx = _Ctx(raw.pointer, raw.index, document, namespaces, xml)
    if type(data) is not dict:
        _wrong_type(ctx, "", data, "an event object")
        return ctx.problems
    kind = data.get("type")
    fields = _EVENT_FIELDS.get(kind) if type(kind) is str else None
    if fields is None:
        shown = f"'{kind}'" if isinstance(kind, str) else _type_name(kind)
        ctx.add(
            "/type",
            "Unknown event type" if "type" in data else "Missing event type",
            f"event type {shown} is not an EPCIS 2.0 event type"
            if "type" in data
            else "the event has no 'type'",
            "one of " + ", ".join(EVENT_TYPES),
        )
        return ctx.problems
    assert type(kind) is str
    for key, value in data.items():
        check = fields.get(key)
        if check is not None:
            check(ctx, "/" + key, value)
        elif not _extension_key(ctx, key):
            _unknown_field(ctx, "/" + key, key, f"an {kind}" if kind[0] in "AEIOU" else f"a {kind}")
    for key in _REQUIRED[kind]:
        if key not in data:
            ctx.add(
                "/" + key, "Missing field", f"the {kind} has no '{key}'", _REQUIRED_EXPECTED[key]
            )
    if header.kind == "Event" and "@context" not in data:
        ctx.add(
            "/@context",
            "Missing field",
            "an event sent on its own needs an '@context'",
            "the EPCIS context URL",
        )
    _what_rules(ctx, kind, data)
    return ctx.problems


# --------------------------------------------------------------------------------------------
# the document header


def validate_header(header: DocumentHeader, *, document: str | None = None) -> list[Problem]:
    """The problems of the document's own members (``@context``, ``type``, ``schemaVersion``,
    ``creationDate``…); an empty list if none. A bare event has no header to check."""
    xml = header.syntax == "xml"
    ctx = _Ctx("", None, document, header.namespaces, False)
    if header.kind == "Event":
        return []

    def at(name: str) -> str:
        return f"/epcis:{header.kind or 'EPCISDocument'}/@{name}" if xml else f"/{name}"

    if header.kind not in ("EPCISDocument", "EPCISQueryDocument"):
        ctx.add(
            at("type"),
            "Not an EPCIS document",
            f"document type '{header.kind}' is neither EPCISDocument nor EPCISQueryDocument",
            "'EPCISDocument' or 'EPCISQueryDocument'",
        )
        return ctx.problems
    capture = header.kind == "EPCISDocument"
    if not xml:
        if "@context" not in header.attributes:
            ctx.add(
                "/@context",
                "Missing @context",
                "the document has no JSON-LD @context",
                "'@context': ['https://ref.gs1.org/standards/epcis/epcis-context.jsonld', …]",
            )
        elif header.attributes["@context"] in ([], {}):
            ctx.add("/@context", "Empty @context", "the @context is empty", "the EPCIS context URL")
        else:
            _context(ctx, "/@context", header.attributes["@context"])
    sv = header.schema_version
    if sv is None:
        if capture:
            ctx.add(
                at("schemaVersion"), "Missing field", "the document has no schemaVersion", "'2.0'"
            )
    elif _VERSION.fullmatch(sv) is None or sv.split(".")[0] != "2":
        ctx.add(
            at("schemaVersion"),
            "Unsupported schemaVersion",
            f"schemaVersion '{sv}' is not EPCIS 2.x",
            "'2.0'",
        )
    cd = header.creation_date
    if cd is None:
        if capture:
            ctx.add(
                at("creationDate"),
                "Missing field",
                "the document has no creationDate",
                _TIME_EXPECTED,
            )
    else:
        _time(ctx, at("creationDate"), cd, event_time=True)
    if not xml:
        allowed = _HEADER_ALLOWED if capture else _QUERY_HEADER_ALLOWED
        for key, value in header.attributes.items():
            if key.startswith("/epcisBody"):
                leaf = key.rsplit("/", 1)[1]
                if not _extension_key(ctx, leaf) and leaf not in _BODY_ALLOWED:
                    _unknown_field(ctx, key, leaf, key.rsplit("/", 1)[0][1:])
            elif key in allowed:
                allowed[key](ctx, "/" + key, value)
            elif not _extension_key(ctx, key):
                _unknown_field(ctx, "/" + key, key, f"an {header.kind}")
    return ctx.problems


def _header_object(ctx: _Ctx, rel: str, v: Any) -> None:
    if type(v) is not dict:
        _wrong_type(ctx, rel, v, "an object")


_HEADER_ALLOWED: dict[str, Callable[[_Ctx, str, Any], None]] = {
    "@context": _nothing,
    "id": _plain_uri,
    "instanceIdentifier": _string,
    "sender": _string,
    "receiver": _string,
    "epcisHeader": _header_object,
}
_QUERY_HEADER_ALLOWED: dict[str, Callable[[_Ctx, str, Any], None]] = {
    "@context": _nothing,
    "id": _plain_uri,
}
_BODY_ALLOWED = frozenset({"queryName", "subscriptionID", "vocabularyList"})
