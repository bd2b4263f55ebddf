"""The parameters of a SimpleEventQuery, read and checked: what a caller asks for.

EPCIS 2.0 (section 8.2.7.1) names the parameters of its one standard query — ``eventType``,
``GE_eventTime``, ``EQ_bizStep``, ``MATCH_epc``, ``EQ_bizTransaction_po``… — and its REST
binding writes them in a URL (``GET /events?EQ_bizStep=shipping&MATCH_epc=…``, values of a
list separated by ``|``) or as the JSON ``query`` of a named query. Both are read here into
one :class:`EventQuery`: lists as alternatives, CBV values as bare words in any of their
spellings, identifiers as the store names things (canonical GS1 Digital Links), times as
RFC 3339 instants. An unknown parameter, a bad value or an impossible combination is refused
with a :class:`QueryError` that names the parameter and what was expected.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import orjson

from keiretsu.model.cbv import (
    BIZ_STEPS,
    BIZ_TRANSACTION_TYPES,
    DISPOSITIONS,
    ERROR_REASONS,
    SOURCE_DEST_TYPES,
    short_name,
)
from keiretsu.model.ocel import parse_time
from keiretsu.node.epcis_render import plain_id, vocabulary_word
from keiretsu.node.query.errors import QueryError
from keiretsu.node.query.fields import (
    FieldTest,
    check_units,
    is_field_parameter,
    qualified_name,
    read_field,
)
from keiretsu.node.query.master import MasterTest, is_master_parameter, read_master
from keiretsu.node.query.patterns import identifier

__all__ = [
    "MAX_PER_PAGE",
    "PARAMETERS",
    "EventQuery",
    "QueryError",
    "extension_namespaces",
    "parse_query",
    "query_from_json",
]

MAX_PER_PAGE = 10_000
"""The most events one page may hold (``perPage``)."""


@dataclass(frozen=True)
class EventQuery:
    """The parameters of one SimpleEventQuery, read and checked.

    Lists are alternatives (an event matches if it matches any value); different parameters
    must all hold. Identifiers are held as the store names things (canonical GS1 Digital
    Links); CBV values as bare words. ``None`` / empty means "not asked".
    """

    event_types: tuple[str, ...] = ()
    ge_event_time: datetime | None = None
    lt_event_time: datetime | None = None
    ge_record_time: datetime | None = None
    lt_record_time: datetime | None = None
    actions: tuple[str, ...] = ()
    biz_steps: tuple[str, ...] = ()
    dispositions: tuple[str, ...] = ()
    persistent_disposition_set: tuple[str, ...] = ()
    persistent_disposition_unset: tuple[str, ...] = ()
    read_points: tuple[str, ...] = ()
    biz_locations: tuple[str, ...] = ()
    wd_read_points: tuple[str, ...] = ()
    """``WD_readPoint``: these locations or any below them in the master data; likewise
    ``wd_biz_locations``."""
    wd_biz_locations: tuple[str, ...] = ()
    transformation_ids: tuple[str, ...] = ()
    match_epc: tuple[str, ...] = ()
    match_parent_id: tuple[str, ...] = ()
    match_input_epc: tuple[str, ...] = ()
    match_output_epc: tuple[str, ...] = ()
    match_any_epc: tuple[str, ...] = ()
    match_epc_class: tuple[str, ...] = ()
    match_input_epc_class: tuple[str, ...] = ()
    match_output_epc_class: tuple[str, ...] = ()
    match_any_epc_class: tuple[str, ...] = ()
    biz_transactions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(transaction type, identifiers as written) per ``EQ_bizTransaction_<type>``; likewise
    ``sources`` and ``destinations`` per ``EQ_source_<type>`` / ``EQ_destination_<type>``."""
    sources: tuple[tuple[str, tuple[str, ...]], ...] = ()
    destinations: tuple[tuple[str, tuple[str, ...]], ...] = ()
    event_ids: tuple[str, ...] = ()
    exists_error_declaration: bool = False
    ge_error_declaration_time: datetime | None = None
    lt_error_declaration_time: datetime | None = None
    error_reasons: tuple[str, ...] = ()
    corrective_event_ids: tuple[str, ...] = ()
    eq_quantity: tuple[float, ...] = ()
    gt_quantity: float | None = None
    ge_quantity: float | None = None
    lt_quantity: float | None = None
    le_quantity: float | None = None
    exists_sensor_element_list: bool = False
    fields: tuple[FieldTest, ...] = ()
    """Sensor data, extension fields, ILMD, amounts in a unit (see
    :mod:`~keiretsu.node.query.fields`)."""
    master: tuple[MasterTest, ...] = ()
    """``HASATTR_`` / ``EQATTR_`` / ``EQ_ATTR_`` (see :mod:`~keiretsu.node.query.master`)."""
    order_by: str | None = None
    """``eventTime``, ``recordTime`` or an extension field; without it events come oldest first."""
    order_field: FieldTest | None = None
    """The extension field of ``orderBy``, read."""
    order_direction: str = "DESC"
    event_count_limit: int | None = None
    max_event_count: int | None = None
    per_page: int | None = None
    next_page_token: str | None = None

    def fingerprint(self) -> str:
        """What the query selects, as a digest (paging parameters left out): a page token
        carries it so that it is refused by any other query."""
        data = asdict(self)
        data.pop("per_page")
        data.pop("next_page_token")
        text = orjson.dumps(data, default=str, option=orjson.OPT_SORT_KEYS)
        return hashlib.sha256(text).hexdigest()


_TIME_EXPECTED = "an RFC 3339 date-time with a time zone offset, e.g. 2024-03-04T09:00:00Z"
_URI_EXPECTED = "one or more URIs, separated by '|'"
_BIZ_STEP = BIZ_STEPS.spellings
_DISP = DISPOSITIONS.spellings
_ER = ERROR_REASONS.spellings
_BTT = BIZ_TRANSACTION_TYPES.spellings
_SDT = SOURCE_DEST_TYPES.spellings

# Parameter name → (EventQuery field, how its values are read).
_LISTS: dict[str, tuple[str, str]] = {
    "eventType": ("event_types", "event_type"),
    "EQ_action": ("actions", "action"),
    "EQ_bizStep": ("biz_steps", "biz_step"),
    "EQ_disposition": ("dispositions", "disposition"),
    "EQ_persistentDisposition_set": ("persistent_disposition_set", "disposition"),
    "EQ_persistentDisposition_unset": ("persistent_disposition_unset", "disposition"),
    "EQ_readPoint": ("read_points", "id"),
    "WD_readPoint": ("wd_read_points", "id"),
    "EQ_bizLocation": ("biz_locations", "id"),
    "WD_bizLocation": ("wd_biz_locations", "id"),
    "EQ_transformationID": ("transformation_ids", "id"),
    "MATCH_epc": ("match_epc", "pattern"),
    "MATCH_parentID": ("match_parent_id", "pattern"),
    "MATCH_inputEPC": ("match_input_epc", "pattern"),
    "MATCH_outputEPC": ("match_output_epc", "pattern"),
    "MATCH_anyEPC": ("match_any_epc", "pattern"),
    "MATCH_epcClass": ("match_epc_class", "pattern"),
    "MATCH_inputEPCClass": ("match_input_epc_class", "pattern"),
    "MATCH_outputEPCClass": ("match_output_epc_class", "pattern"),
    "MATCH_anyEPCClass": ("match_any_epc_class", "pattern"),
    "EQ_eventID": ("event_ids", "event_id"),
    "EQ_errorReason": ("error_reasons", "error_reason"),
    "EQ_correctiveEventID": ("corrective_event_ids", "event_id"),
    "EQ_quantity": ("eq_quantity", "number"),
}
_SCALARS: dict[str, tuple[str, str]] = {
    "GE_eventTime": ("ge_event_time", "time"),
    "LT_eventTime": ("lt_event_time", "time"),
    "GE_recordTime": ("ge_record_time", "time"),
    "LT_recordTime": ("lt_record_time", "time"),
    "GE_errorDeclarationTime": ("ge_error_declaration_time", "time"),
    "LT_errorDeclarationTime": ("lt_error_declaration_time", "time"),
    # the query schema's spelling of the same two
    "GE_errorDeclaration_Time": ("ge_error_declaration_time", "time"),
    "LT_errorDeclaration_Time": ("lt_error_declaration_time", "time"),
    "EXISTS_errorDeclaration": ("exists_error_declaration", "flag"),
    "EXISTS_sensorElementList": ("exists_sensor_element_list", "flag"),
    # the conformance test case TCR-53's spelling of the same
    "EXISTS_sensorElement": ("exists_sensor_element_list", "flag"),
    "GT_quantity": ("gt_quantity", "number"),
    "GE_quantity": ("ge_quantity", "number"),
    "LT_quantity": ("lt_quantity", "number"),
    "LE_quantity": ("le_quantity", "number"),
    "orderBy": ("order_by", "order_by"),
    "orderDirection": ("order_direction", "direction"),
    "eventCountLimit": ("event_count_limit", "count"),
    "maxEventCount": ("max_event_count", "count"),
    "perPage": ("per_page", "per_page"),
    "nextPageToken": ("next_page_token", "text"),
}
_TYPED_PREFIXES = {
    "EQ_bizTransaction_": "biz_transactions",
    "EQ_source_": "sources",
    "EQ_destination_": "destinations",
}
_TYPE_NAME = re.compile(r"[a-z][a-zA-Z0-9_]+")

PARAMETERS: dict[str, str] = {
    "eventType": "events of these types (ObjectEvent, AggregationEvent, TransactionEvent, "
    "TransformationEvent, AssociationEvent); events that did not come as EPCIS are ObjectEvents",
    "GE_eventTime": "events at or after this time (RFC 3339, with a time zone)",
    "LT_eventTime": "events before this time (RFC 3339, with a time zone)",
    "GE_recordTime": "events recorded at or after this time (recordTime as sent, else when "
    "the twin accepted the document)",
    "LT_recordTime": "events recorded before this time",
    "EQ_action": "events with this action: ADD, OBSERVE or DELETE",
    "EQ_bizStep": "events of this business step, in any CBV spelling (shipping, its URN or "
    "web URI) or a company URI",
    "EQ_disposition": "events with this disposition, in any CBV spelling",
    "EQ_persistentDisposition_set": "events whose persistent disposition sets one of these",
    "EQ_persistentDisposition_unset": "events whose persistent disposition unsets one of these",
    "EQ_readPoint": "events at this read point (any spelling of the GS1 key)",
    "WD_readPoint": "events at this read point or any location below it in the master data "
    "(children, sub-sites), directly or not",
    "EQ_bizLocation": "events at this business location (any spelling of the GS1 key)",
    "WD_bizLocation": "events at this business location or any location below it in the "
    "master data",
    "EQ_transformationID": "events of this transformation",
    "MATCH_epc": "events whose epcList or childEPCs holds a matching EPC (URN, Digital Link "
    "or EPC pattern)",
    "MATCH_parentID": "events whose parentID matches",
    "MATCH_inputEPC": "events whose inputEPCList holds a match",
    "MATCH_outputEPC": "events whose outputEPCList holds a match",
    "MATCH_anyEPC": "events with a matching EPC in any of those",
    "MATCH_epcClass": "events whose quantityList or childQuantityList holds a matching class",
    "MATCH_inputEPCClass": "events whose inputQuantityList holds a matching class",
    "MATCH_outputEPCClass": "events whose outputQuantityList holds a matching class",
    "MATCH_anyEPCClass": "events with a matching class in any quantity list",
    "EQ_eventID": "the events with these ids (an eventID, or the CBV event hash)",
    "EXISTS_errorDeclaration": "events that carry an error declaration",
    "GE_errorDeclarationTime": "events declared in error at or after this time",
    "LT_errorDeclarationTime": "events declared in error before this time",
    "GE_errorDeclaration_Time": "as GE_errorDeclarationTime (the query schema's spelling)",
    "LT_errorDeclaration_Time": "as LT_errorDeclarationTime (the query schema's spelling)",
    "EQ_errorReason": "events whose error declaration gives this reason",
    "EQ_correctiveEventID": "events whose error declaration names this corrective event",
    "EQ_quantity": "events with a quantity element of this amount",
    "GT_quantity": "events with a quantity element of more than this amount",
    "GE_quantity": "events with a quantity element of at least this amount",
    "LT_quantity": "events with a quantity element of less than this amount",
    "LE_quantity": "events with a quantity element of at most this amount",
    "EXISTS_sensorElementList": "events that carry sensor data",
    "GE_time": "events with a sensor report at or after this time (the report's, else its "
    "metadata's); every sensor parameter holds for one report",
    "LT_time": "events with a sensor report before this time",
    "GE_startTime": "events whose sensor metadata starts at or after this time",
    "LT_startTime": "events whose sensor metadata starts before this time",
    "GE_endTime": "events whose sensor metadata ends at or after this time",
    "LT_endTime": "events whose sensor metadata ends before this time",
    "EQ_type": "events with a sensor report of this measurement type (Temperature…)",
    "EQ_deviceID": "events with a sensor report from this device",
    "EQ_dataProcessingMethod": "events with a sensor report of this processing method",
    "EQ_bizRules": "events whose sensor metadata names these business rules",
    "EQ_microorganism": "events with a sensor report on this microorganism",
    "EQ_chemicalSubstance": "events with a sensor report on this chemical substance",
    "EQ_stringValue": "events with a sensor report of this string value",
    "EQ_booleanValue": "events with a sensor report of this boolean value",
    "EQ_hexBinaryValue": "events with a sensor report of this hex value",
    "EQ_uriValue": "events with a sensor report of this URI value",
    "GE_percRank": "events with a sensor report of at least this percentile rank",
    "LT_percRank": "events with a sensor report of less than this percentile rank",
    "orderBy": "eventTime, recordTime or an extension field; without it events come oldest first",
    "orderDirection": "ASC or DESC (with orderBy; DESC by default)",
    "eventCountLimit": "only the first N events in that order (needs orderBy)",
    "maxEventCount": "refuse with QueryTooLargeException if more than N events match",
    "perPage": f"events per page, 1 to {MAX_PER_PAGE:,} (100 by default)",
    "nextPageToken": "the nextPageToken of the previous page",
}
"""Every SimpleEventQuery parameter this twin answers, with what it selects — written once,
for the node's OpenAPI description. Besides these, ``EQ_bizTransaction_<type>``,
``EQ_source_<type>`` and ``EQ_destination_<type>`` name a type in the parameter itself, and the
families of :mod:`~keiretsu.node.query.fields` (``GE_value_<uom>``, ``EQ_<prefix>:<field>``,
``EQ_ILMD_…``, ``EQ_SENSORREPORT_…``…) a unit or a field, and the master-data families of
:mod:`~keiretsu.node.query.master` (``HASATTR_<field>``, ``EQATTR_<field>_<attribute>``,
``EQ_ATTR_<field>_<attribute>``) a field and an attribute."""
_FIELD_LIKE = re.compile(r"(EQ|GT|GE|LT|LE|EXISTS)_.+")


def _split(name: str, values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        parts = value.split("|")
        if name in ("eventType", "EQ_action"):  # enumerations: commas are safe separators too
            parts = [p for part in parts for p in part.split(",")]
        for part in parts:
            part = part.strip()
            if not part:
                raise QueryError(name, "an empty value", expected=_URI_EXPECTED)
            out.append(part)
    return out


def _list_value(name: str, kind: str, value: str) -> Any:
    if kind == "event_type":
        return value
    if kind == "action":
        if value not in ("ADD", "OBSERVE", "DELETE"):
            raise QueryError(name, f"{value!r} is not an action", expected="ADD, OBSERVE or DELETE")
        return value
    if kind == "biz_step":
        return vocabulary_word("bizStep", short_name(value, _BIZ_STEP))
    if kind == "disposition":
        return vocabulary_word("disposition", short_name(value, _DISP))
    if kind == "error_reason":
        return vocabulary_word("errorReason", short_name(value, _ER))
    if kind == "id":
        return identifier(value)
    if kind == "pattern":
        return value
    if kind == "event_id":
        return plain_id(value)
    if kind == "number":
        return _number(name, value)
    raise AssertionError(kind)  # pragma: no cover


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise QueryError(name, f"{value!r} is not a number", expected="a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise QueryError(name, f"{value!r} is not a number", expected="a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise QueryError(name, f"{value!r} is not a number", expected="a finite number")
    return number


def _count(name: str, value: Any, *, low: int = 0, high: int | None = None) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]{1,12}", text):
        raise QueryError(name, f"{value!r} is not a whole number", expected="a whole number ≥ 0")
    number = int(text)
    if number < low or (high is not None and number > high):
        expected = f"a whole number from {low} to {high}" if high else f"a whole number ≥ {low}"
        raise QueryError(name, f"{number} is out of range", expected=expected)
    return number


def _scalar_value(name: str, kind: str, value: Any) -> Any:
    if kind == "time":
        if not isinstance(value, str):
            raise QueryError(name, f"{value!r} is not a date-time", expected=_TIME_EXPECTED)
        text = value.strip()
        # RFC 3339 asks for a time zone; a '+' sent unencoded in a URL arrives as a blank
        if len(text) > 19 and text[-6] == " " and text[-5:-3].isdigit():
            text = text[:-6] + "+" + text[-5:]
        if not re.fullmatch(
            r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d:\d\d)", text
        ):
            raise QueryError(name, f"{value!r} is not a date-time", expected=_TIME_EXPECTED)
        try:
            return parse_time(text)
        except ValueError:
            raise QueryError(
                name, f"{value!r} is not a date-time", expected=_TIME_EXPECTED
            ) from None
    if kind == "flag":
        text = "" if value is None else str(value).strip().lower()
        if text in ("", "true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise QueryError(name, f"{value!r} is not a flag", expected="true or false (or no value)")
    if kind == "number":
        return _number(name, value)
    if kind == "count":
        return _count(name, value)
    if kind == "per_page":
        return _count(name, value, low=1, high=MAX_PER_PAGE)
    if kind == "order_by":
        if value not in ("eventTime", "recordTime"):
            raise QueryError(
                name,
                f"cannot order by {value!r}",
                expected="eventTime, recordTime or an extension field (prefix:localName)",
            )
        return value
    if kind == "direction":
        if value not in ("ASC", "DESC"):
            raise QueryError(name, f"{value!r} is not a direction", expected="ASC or DESC")
        return value
    if not isinstance(value, str) or not value:
        raise QueryError(name, "an empty value", expected="the token of the previous page")
    return value


def _build(
    pairs: Mapping[str, list[Any]], *, split: bool, namespaces: Mapping[str, str] | None = None
) -> EventQuery:
    """An EventQuery from parameter name → raw values (already grouped); ``namespaces`` the
    extension prefixes the caller declared (prefix → namespace URI)."""
    fields: dict[str, Any] = {}
    tests: list[FieldTest] = []
    masters: list[MasterTest] = []
    declared = dict(namespaces or {})
    typed: dict[str, dict[str, list[str]]] = {k: {} for k in _TYPED_PREFIXES.values()}
    for name, raw in pairs.items():
        if name in _LISTS:
            target, kind = _LISTS[name]
            values = _split(name, [str(v) for v in raw]) if split else raw
            if not values:
                raise QueryError(name, "no value given", expected=_URI_EXPECTED)
            read = []
            for v in values:
                if kind != "number" and (not isinstance(v, str) or not v.strip()):
                    raise QueryError(name, f"{v!r} is not text", expected=_URI_EXPECTED)
                read.append(_list_value(name, kind, v.strip() if isinstance(v, str) else v))
            fields[target] = tuple(dict.fromkeys([*fields.get(target, ()), *read]))
            continue
        if name in _SCALARS:
            target, kind = _SCALARS[name]
            if len(raw) != 1:
                raise QueryError(name, "given more than once", expected="a single value")
            if target in fields:
                raise QueryError(name, "given twice under two spellings", expected="one value")
            if kind == "order_by" and raw[0] not in ("eventTime", "recordTime"):
                prefix, namespace, local = qualified_name(name, str(raw[0]), declared)
                fields["order_field"] = FieldTest(
                    name, "ORDER", "event", local, prefix=prefix, namespace=namespace
                )
                fields[target] = str(raw[0])
                continue
            fields[target] = _scalar_value(name, kind, raw[0])
            continue
        if is_master_parameter(name):  # before the fields: EQ_ATTR_… reads like one
            masters.append(read_master(name, raw, split=split, namespaces=declared))
            continue
        if is_field_parameter(name):
            tests.append(read_field(name, raw, split=split, namespaces=declared))
            continue
        prefix = next((p for p in _TYPED_PREFIXES if name.startswith(p)), None)
        if prefix is not None:
            kind_name = name[len(prefix) :]
            if not _TYPE_NAME.fullmatch(kind_name):
                raise QueryError(
                    name,
                    f"{kind_name!r} is not a type name",
                    expected=f"{prefix}<type>, the type a bare word such as po or owning_party",
                )
            values = _split(name, [str(v) for v in raw]) if split else raw
            if not values or not all(isinstance(v, str) and v.strip() for v in values):
                raise QueryError(name, "no identifier given", expected=_URI_EXPECTED)
            words = _BTT if prefix == "EQ_bizTransaction_" else _SDT
            kind_word = short_name(kind_name, words)
            bucket = typed[_TYPED_PREFIXES[prefix]].setdefault(kind_word, [])
            bucket += [plain_id(v.strip()) for v in values]
            continue
        if _FIELD_LIKE.fullmatch(name):
            raise QueryError(
                name,
                "unknown query parameter (an extension field is named with its prefix)",
                expected="a SimpleEventQuery parameter of EPCIS 2.0, or EQ_prefix:localName "
                "with the prefix declared in the GS1-Extensions header",
            )
        raise QueryError(
            name,
            "unknown query parameter",
            expected="a SimpleEventQuery parameter of EPCIS 2.0 (see docs/node/epcis-query.md)",
        )
    for target, by_type in typed.items():
        if by_type:
            fields[target] = tuple((k, tuple(dict.fromkeys(v))) for k, v in sorted(by_type.items()))
    if tests:
        types = [
            str(v) for t in tests if t.field == "type" and t.scope == "sensor" for v in t.values
        ]
        check_units(tests, types)
        fields["fields"] = tuple(tests)
    if masters:
        fields["master"] = tuple(masters)
    query = EventQuery(**fields)
    if query.event_count_limit is not None and query.max_event_count is not None:
        raise QueryError(
            "eventCountLimit",
            "eventCountLimit and maxEventCount cannot be given together",
            expected="one of the two",
        )
    if query.event_count_limit is not None and query.order_by is None:
        raise QueryError(
            "eventCountLimit",
            "eventCountLimit needs orderBy (the first N events in which order?)",
            expected="orderBy=eventTime or orderBy=recordTime with it",
        )
    if "order_direction" in fields and query.order_by is None:
        raise QueryError("orderDirection", "given without orderBy", expected="orderBy with it")
    for low, high, name in (
        (query.ge_event_time, query.lt_event_time, "LT_eventTime"),
        (query.ge_record_time, query.lt_record_time, "LT_recordTime"),
    ):
        if low is not None and high is not None and high < low:
            raise QueryError(name, "ends before the GE_ bound starts", expected="a later time")
    return query


def extension_namespaces(header: str | None) -> dict[str, str]:
    """prefix → namespace URI from a ``GS1-Extensions`` header
    (``example=https://ns.example.com/epcis/, ex2=urn:example:ns``). Raises
    :class:`QueryError` for a member that is not ``prefix=URI``."""
    out: dict[str, str] = {}
    for part in (header or "").split(","):
        part = part.strip()
        if not part:
            continue
        prefix, eq, uri = part.partition("=")
        prefix, uri = prefix.strip(), uri.strip().strip('"<>')
        if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", prefix) or ":" not in uri:
            raise QueryError(
                "GS1-Extensions",
                f"{part!r} does not declare a prefix",
                expected="prefix=namespace URI, separated by commas",
            )
        out[prefix] = uri
    return out


def parse_query(
    params: Mapping[str, Sequence[str] | str] | Sequence[tuple[str, str]],
    *,
    namespaces: Mapping[str, str] | None = None,
) -> EventQuery:
    """Read the query parameters of ``GET /events`` (or of a query's URL) as the EPCIS 2.0 REST
    binding writes them: a list parameter's values separated by ``|`` or given by repeating the
    parameter; times in RFC 3339.

    ``params`` is a mapping of name to values (a ``str`` value is one value) or the list of
    (name, value) pairs of a URL query string; ``namespaces`` the prefixes of extension
    fields the caller declared (the ``GS1-Extensions`` header, read by
    :func:`extension_namespaces`). Raises :class:`QueryError` naming the first parameter
    that is unknown or wrong.
    """
    grouped: dict[str, list[str]] = {}
    if isinstance(params, Mapping):
        for name, values in params.items():
            items = [values] if isinstance(values, str) else list(values)
            grouped.setdefault(str(name), []).extend(str(v) for v in items)
    else:
        for pair in params:
            name, value = pair
            grouped.setdefault(str(name), []).append(str(value))
    return _build(grouped, split=True, namespaces=namespaces)


def query_from_json(
    body: Mapping[str, Any], *, namespaces: Mapping[str, str] | None = None
) -> EventQuery:
    """Read the JSON ``query`` object of a named query (EPCIS 2.0 REST binding, the query
    schema ``query-schema.json``): lists as JSON arrays, times as RFC 3339 strings, limits as
    numbers. Raises :class:`QueryError` naming the first member that is unknown or wrong."""
    if not isinstance(body, Mapping):
        raise QueryError("query", "not a JSON object", expected="a JSON object of parameters")
    grouped: dict[str, list[Any]] = {}
    declared = dict(namespaces or {})
    context = body.get("@context")
    for item in context if isinstance(context, list) else [context]:
        if isinstance(item, Mapping):
            declared.update({str(k): v for k, v in item.items() if isinstance(v, str)})
    for name, value in body.items():
        if name == "@context":
            continue
        if name in _LISTS or any(name.startswith(p) for p in _TYPED_PREFIXES):
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list):
                raise QueryError(name, "not a JSON array", expected="an array of values")
            grouped[name] = value
        else:
            grouped[name] = [value]
    return _build(grouped, split=False, namespaces=declared)
