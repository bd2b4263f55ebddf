"""The EPCIS 2.0 query interface over a twin's store: which events a SimpleEventQuery selects.

A partner (or the twin's own user) asks the twin "every shipping event of these pallets since
Monday" in the words of the EPCIS 2.0 standard (section 8.2.7.1, SimpleEventQuery) and its REST
binding (``GET /events?EQ_bizStep=shipping&MATCH_epc=…``, or a named query's JSON ``query``).
This module turns those parameters into one parameterised SQL query over the store's ``ocel_*``
views, pages through the answer with an opaque ``nextPageToken``, and writes the selected events
as EPCIS 2.0 JSON:

* :func:`parse_query` / :func:`query_from_json` read the parameters into an :class:`EventQuery`,
  refusing an unknown parameter or a bad value with a :class:`QueryError` that names it;
* :func:`select_events` gives one :class:`Page` of event ids in the query's order;
* :func:`render_events` gives those events back as EPCIS: as the partner sent them when they
  came as EPCIS, else written from their OCEL rows (:func:`epcis_from_ocel`);
* :func:`event_ocel` gives the OCEL rows of events, for a sharing policy to filter before
  :func:`epcis_from_ocel` writes what a partner may see;
* :func:`query_document` wraps events as the ``EPCISQueryDocument`` the binding returns.

Identifiers in parameters are matched in every spelling the store knows the thing by: an EPC URN,
a GS1 Digital Link on any domain, an EPC pattern (``urn:epc:idpat:sgtin:0614141.107346.*``).
The supported parameters and their meaning are listed in ``docs/node/epcis-query.md``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from keiretsu.io.epcis.mapping import SOURCE_FORMAT
from keiretsu.model.cbv import (
    BIZ_STEPS,
    BIZ_TRANSACTION_TYPES,
    DISPOSITIONS,
    ERROR_REASONS,
    EVENT_TYPES,
    SOURCE_DEST_TYPES,
    short_name,
)
from keiretsu.model.gs1 import CANONICAL_DOMAIN, canonical_id, check_digit
from keiretsu.model.ocel import SCHEMAS, Ocel, format_time, parse_time
from keiretsu.node.epcis_render import (
    CLASS_TYPES,
    EPCIS_CONTEXT,
    KEIRETSU_NS,
    KEIRETSU_PREFIX,
    STANDARD_QUALIFIERS,
    epcis_from_ocel,
    plain_id,
    render_ocel,
    vocabulary_word,
)
from keiretsu.store.arrow import arrow_table

__all__ = [
    "MAX_PER_PAGE",
    "EventQuery",
    "Page",
    "QueryError",
    "epcis_from_ocel",
    "event_ocel",
    "parse_query",
    "query_document",
    "query_from_json",
    "render_events",
    "select_events",
]

MAX_PER_PAGE = 10_000
"""The most events one page may hold (``perPage``)."""

EVENT_TYPE_NAMES = EVENT_TYPES


class QueryError(ValueError):
    """A query the twin cannot answer, naming the parameter at fault.

    ``kind`` is ``"parameter"`` (the standard's ``QueryParameterException``: an unknown
    parameter, a bad value — the HTTP binding answers 400) or ``"too_large"``
    (``QueryTooLargeException``: more events than ``maxEventCount`` allows — 413).
    """

    def __init__(
        self, parameter: str, detail: str, *, expected: str | None = None, kind: str = "parameter"
    ) -> None:
        super().__init__(f"{parameter}: {detail}")
        self.parameter = parameter
        self.detail = detail
        self.expected = expected
        self.kind = kind

    @property
    def exception(self) -> str:
        """The EPCIS exception name: ``QueryParameterException`` or ``QueryTooLargeException``."""
        return "QueryTooLargeException" if self.kind == "too_large" else "QueryParameterException"


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
    order_by: str | None = None
    """``eventTime`` or ``recordTime``; without it events come oldest first."""
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


@dataclass(frozen=True)
class Page:
    """One page of a query's answer: event ids in the query's order, and the token for the
    next page (``None`` on the last)."""

    event_ids: list[str] = field(default_factory=list)
    next_token: str | None = None


# --- reading parameters ----------------------------------------------------------------------

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
    "WD_readPoint": ("read_points", "id"),
    "EQ_bizLocation": ("biz_locations", "id"),
    "WD_bizLocation": ("biz_locations", "id"),
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
# Standard parameters this twin does not answer (sensor data, extension fields, ILMD…).
_UNSUPPORTED = re.compile(
    r"(EQ|GT|GE|LT|LE|EXISTS|HASATTR)_.*|GE_time|LT_time|GE_startTime|LT_startTime|"
    r"GE_endTime|LT_endTime|EQ_type|EQ_deviceID"
)


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


def _identifier(text: str) -> str:
    return canonical_id(plain_id(text))


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
        return _identifier(value)
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
                expected="eventTime or recordTime (extension fields are not supported)",
            )
        return value
    if kind == "direction":
        if value not in ("ASC", "DESC"):
            raise QueryError(name, f"{value!r} is not a direction", expected="ASC or DESC")
        return value
    if not isinstance(value, str) or not value:
        raise QueryError(name, "an empty value", expected="the token of the previous page")
    return value


def _build(pairs: Mapping[str, list[Any]], *, split: bool) -> EventQuery:
    """An EventQuery from parameter name → raw values (already grouped)."""
    fields: dict[str, Any] = {}
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
            fields[target] = _scalar_value(name, kind, raw[0])
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
        if _UNSUPPORTED.fullmatch(name):
            raise QueryError(
                name,
                "this query parameter is not supported by this twin",
                expected="one of the parameters listed in docs/node/epcis-query.md",
            )
        raise QueryError(
            name,
            "unknown query parameter",
            expected="a SimpleEventQuery parameter of EPCIS 2.0 (see docs/node/epcis-query.md)",
        )
    for target, by_type in typed.items():
        if by_type:
            fields[target] = tuple((k, tuple(dict.fromkeys(v))) for k, v in sorted(by_type.items()))
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


def parse_query(
    params: Mapping[str, Sequence[str] | str] | Sequence[tuple[str, str]],
) -> EventQuery:
    """Read the query parameters of ``GET /events`` (or of a query's URL) as the EPCIS 2.0 REST
    binding writes them: a list parameter's values separated by ``|`` or given by repeating the
    parameter; times in RFC 3339.

    ``params`` is a mapping of name to values (a ``str`` value is one value) or the list of
    (name, value) pairs of a URL query string. Raises :class:`QueryError` naming the first
    parameter that is unknown or wrong.
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
    return _build(grouped, split=True)


def query_from_json(body: Mapping[str, Any]) -> EventQuery:
    """Read the JSON ``query`` object of a named query (EPCIS 2.0 REST binding, the query
    schema ``query-schema.json``): lists as JSON arrays, times as RFC 3339 strings, limits as
    numbers. Raises :class:`QueryError` naming the first member that is unknown or wrong."""
    if not isinstance(body, Mapping):
        raise QueryError("query", "not a JSON object", expected="a JSON object of parameters")
    grouped: dict[str, list[Any]] = {}
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
    return _build(grouped, split=False)


# --- identifiers and patterns ----------------------------------------------------------------

_DL = CANONICAL_DOMAIN
_GTIN_ONLY = re.compile(r"https://id\.gs1\.org/01/\d{14}")


def _idpat_regexes(pattern: str) -> list[str] | None:
    """Regular expressions (over stored, canonical ids) for an EPC pure-identity pattern with
    ``*`` fields, or None if ``pattern`` is no such pattern."""
    if not pattern.startswith("urn:epc:idpat:"):
        return None
    scheme, _, body = pattern[len("urn:epc:idpat:") :].partition(":")
    fields = body.split(".")
    if not scheme or not body or "*" not in fields:
        return None
    star = [f == "*" for f in fields]
    # once a field is '*' every later field must be (TDS 8.2: patterns narrow from the left)
    if any(star[i] and not star[i + 1] for i in range(len(star) - 1)):
        return None
    out: list[str] = []
    # the URN as written (identifiers kept as written: other schemes, odd digit counts)
    urn = re.escape(f"urn:epc:id:{scheme}:") + r"\.".join(
        "[^.]+" if s else re.escape(f) for f, s in zip(fields, star, strict=True)
    )
    if star[-1]:
        urn = urn[: -len("[^.]+")] + ".+"
    out.append(urn)
    cp = fields[0]
    known = cp.isdigit()
    n = len(cp)
    d = re.escape(_DL)
    if scheme == "sgtin" and len(fields) == 3:
        if star[0]:
            out.append(d + r"/01/\d{14}/.+")
        elif known and star[1] and n <= 12:
            out.append(d + rf"/01/\d{re.escape(cp)}\d{{{12 - n}}}\d/.+")
        elif known and fields[1].isdigit() and n + len(fields[1]) == 13:
            g = fields[1][0] + cp + fields[1][1:]
            out.append(d + "/01/" + g + check_digit(g) + "/.+")
    elif scheme == "sscc" and len(fields) == 2:
        if star[0]:
            out.append(d + r"/00/\d{18}")
        elif known and n <= 16:
            out.append(d + rf"/00/\d{re.escape(cp)}\d{{{16 - n}}}\d")
    elif scheme == "sgln" and len(fields) == 3:
        if star[0]:
            out.append(d + r"/414/\d{13}(/254/.+)?")
        elif known and star[1] and n <= 12:
            out.append(d + rf"/414/{re.escape(cp)}\d{{{12 - n}}}\d(/254/.+)?")
        elif known and fields[1].isdigit() and n + len(fields[1]) == 12:
            g = cp + fields[1]
            out.append(d + "/414/" + g + check_digit(g) + "(/254/.+)?")
    elif scheme == "grai" and len(fields) == 3:
        if star[0]:
            out.append(d + r"/8003/0\d{13}.*")
        elif known and star[1] and n <= 12:
            out.append(d + rf"/8003/0{re.escape(cp)}\d{{{12 - n}}}\d.*")
        elif known and fields[1].isdigit() and n + len(fields[1]) == 12:
            g = cp + fields[1]
            out.append(d + "/8003/0" + g + check_digit(g) + ".*")
    elif scheme == "giai" and len(fields) == 2:
        out.append(d + (r"/8004/\d.*" if star[0] else "/8004/" + re.escape(cp) + ".+"))
    return out


def _matchers(values: Sequence[str]) -> tuple[list[str], str | None]:
    """Exact ids and one regular expression (or None) for MATCH_ values: URIs are matched
    in their canonical form; a product (GTIN) or an SGTIN pattern ``cp.item.*`` also matches
    every serial and lot of that product; ``*`` patterns match by field."""
    exact: list[str] = []
    regexes: list[str] = []
    for value in values:
        found = _idpat_regexes(value)
        if found is not None:
            regexes += found
            exact.append(_identifier(value))  # the pattern as a class of its own
            continue
        canonical = _identifier(value)
        exact.append(canonical)
        if _GTIN_ONLY.fullmatch(canonical):
            regexes.append(re.escape(canonical) + "/.+")
    return exact, ("|".join(f"(?:{r})" for r in regexes) if regexes else None)


# --- the SQL ---------------------------------------------------------------------------------

_ATTR = "SELECT ocel_id FROM ocel_event_attribute WHERE ocel_name = ?"
_EVENT_TYPE_ATTR = "eventType"
_RECORD_TIME = "coalesce(k_rt.t, k_il.finished_at)"


class _Sql:
    """The WHERE clause being built, with its parameters in order."""

    def __init__(self) -> None:
        self.where: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> None:
        self.where.append(clause)
        self.params.extend(params)


def _attr_in(sql: _Sql, name: str, values: Sequence[str]) -> None:
    sql.add(f"e.ocel_id IN ({_ATTR} AND list_contains(?::VARCHAR[], ocel_value))", name, values)


def _relation(
    sql: _Sql,
    qualifiers: Sequence[str],
    values: Sequence[str],
    *,
    level: str | None,
    ocel_born: bool = False,
) -> None:
    """Events related, in one of ``qualifiers``, to an object matching one of ``values``;
    ``level`` "instance" / "class" keeps only EPCs / only quantity elements. With
    ``ocel_born``, relations of events that did not come as EPCIS (no ``eventType``) under a
    qualifier of their own also count: they are the event's ``epcList`` through EPCIS."""
    exact, regex = _matchers(values)
    match = "list_contains(?::VARCHAR[], eo.ocel_object_id)"
    params: list[Any] = [exact]
    if regex is not None:
        match = f"({match} OR regexp_full_match(eo.ocel_object_id, ?))"
        params.append(regex)
    roles = "list_contains(?::VARCHAR[], eo.ocel_qualifier)"
    role_params: list[Any] = [list(qualifiers)]
    if ocel_born:
        roles = (
            f"({roles} OR (NOT list_contains(?::VARCHAR[], eo.ocel_qualifier)"
            " AND NOT starts_with(eo.ocel_qualifier, 'source:')"
            " AND NOT starts_with(eo.ocel_qualifier, 'destination:')"
            f" AND eo.ocel_event_id NOT IN ({_ATTR})))"
        )
        role_params += [sorted(STANDARD_QUALIFIERS), _EVENT_TYPE_ATTR]
    where_level = ""
    if level is not None:
        # class or instance: an amount on the relation, or an object typed as a class (the
        # few class objects are looked up, not every object joined)
        is_class = (
            "(eo.quantity IS NOT NULL OR eo.uom IS NOT NULL OR eo.ocel_object_id IN"
            " (SELECT ocel_id FROM ocel_object WHERE list_contains(?::VARCHAR[], ocel_type)))"
        )
        where_level = f" AND {'NOT ' if level == 'instance' else ''}{is_class}"
        params.append(sorted(CLASS_TYPES))
    sql.add(
        "e.ocel_id IN (SELECT eo.ocel_event_id FROM ocel_event_object eo"
        f" WHERE {roles} AND {match}{where_level})",
        *role_params,
        *params,
    )


def _where(query: EventQuery) -> tuple[_Sql, bool]:
    """The conditions of ``query`` on ``ocel_event e``; and whether the record time is used."""
    sql = _Sql()
    record = query.order_by == "recordTime"
    if query.event_types:
        clause = f"e.ocel_id IN ({_ATTR} AND list_contains(?::VARCHAR[], ocel_value))"
        params: list[Any] = [_EVENT_TYPE_ATTR, list(query.event_types)]
        if "ObjectEvent" in query.event_types:  # events that did not come as EPCIS
            clause = f"({clause} OR e.ocel_id NOT IN ({_ATTR}))"
            params.append(_EVENT_TYPE_ATTR)
        sql.add(clause, *params)
    if query.ge_event_time is not None:
        sql.add("e.ocel_time >= ?", query.ge_event_time)
    if query.lt_event_time is not None:
        sql.add("e.ocel_time < ?", query.lt_event_time)
    if query.ge_record_time is not None:
        sql.add(f"{_RECORD_TIME} >= ?", query.ge_record_time)
        record = True
    if query.lt_record_time is not None:
        sql.add(f"{_RECORD_TIME} < ?", query.lt_record_time)
        record = True
    if query.actions:
        clause = f"e.ocel_id IN ({_ATTR} AND list_contains(?::VARCHAR[], ocel_value))"
        params = ["action", list(query.actions)]
        if "OBSERVE" in query.actions:  # what events from other formats are
            clause = f"({clause} OR (e.ocel_id NOT IN ({_ATTR}) AND e.ocel_id NOT IN ({_ATTR})))"
            params += [_EVENT_TYPE_ATTR, "action"]
        sql.add(clause, *params)
    if query.biz_steps:
        sql.add("list_contains(?::VARCHAR[], e.ocel_type)", list(query.biz_steps))
    if query.dispositions:
        _attr_in(sql, "disposition", query.dispositions)
    for part, wanted in (
        ("set", query.persistent_disposition_set),
        ("unset", query.persistent_disposition_unset),
    ):
        if wanted:
            sql.add(
                f"e.ocel_id IN ({_ATTR} AND list_has_any("
                "from_json(ocel_value, '[\"VARCHAR\"]'), ?::VARCHAR[]))",
                f"persistentDisposition.{part}",
                list(wanted),
            )
    if query.read_points:
        _relation(sql, ["readPoint"], query.read_points, level=None)
    if query.biz_locations:
        _relation(sql, ["bizLocation"], query.biz_locations, level=None)
    if query.transformation_ids:
        _relation(sql, ["transformationID"], query.transformation_ids, level=None)
    for values, roles, level, ocel_born in (
        (query.match_epc, ["epc", "child"], "instance", True),
        (query.match_parent_id, ["parent"], None, False),
        (query.match_input_epc, ["input"], "instance", False),
        (query.match_output_epc, ["output"], "instance", False),
        (query.match_any_epc, ["epc", "child", "parent", "input", "output"], "instance", True),
        (query.match_epc_class, ["epc", "child"], "class", False),
        (query.match_input_epc_class, ["input"], "class", False),
        (query.match_output_epc_class, ["output"], "class", False),
        (query.match_any_epc_class, ["epc", "child", "input", "output"], "class", False),
    ):
        if values:
            _relation(sql, roles, values, level=level, ocel_born=ocel_born)
    for kind, written in query.biz_transactions:
        # The store types a transaction object by the type it was first sent with, but one
        # document may call a number a PO and the next a despatch advice: for events that came
        # as EPCIS the type is read from the event as sent, paired with the transaction (in
        # the spelling the query used, else any transaction of that type in the event).
        kinds = [kind, *(p + kind for p in _BTT)]
        spellings = sorted({*written, *map(_identifier, written)})
        pairs = (
            "from_json(json_extract(s.body, '$.bizTransactionList'),"
            ' \'[{"type":"VARCHAR","bizTransaction":"VARCHAR"}]\')'
        )
        sql.add(
            "e.ocel_id IN (SELECT eo.ocel_event_id FROM ocel_event_object eo"
            " JOIN ocel_object o ON o.ocel_id = eo.ocel_object_id"
            " LEFT JOIN ocel_source_event s ON s.ocel_id = eo.ocel_event_id AND s.format = ?"
            " WHERE eo.ocel_qualifier = 'bizTransaction'"
            " AND list_contains(?::VARCHAR[], eo.ocel_object_id)"
            " AND CASE WHEN s.body IS NULL THEN o.ocel_type = ? ELSE"
            f" len(list_filter({pairs}, lambda x: list_contains(?::VARCHAR[], x.type)"
            "  AND list_contains(?::VARCHAR[], x.bizTransaction))) > 0"
            f" OR (len(list_filter({pairs},"
            "   lambda x: list_contains(?::VARCHAR[], x.bizTransaction))) = 0"
            f"  AND len(list_filter({pairs}, lambda x: list_contains(?::VARCHAR[], x.type))) > 0)"
            " END)",
            SOURCE_FORMAT,
            sorted(map(_identifier, written)),
            kind,
            kinds,
            spellings,
            spellings,
            kinds,
        )
    for side, typed in (("source", query.sources), ("destination", query.destinations)):
        for kind, values in typed:
            sql.add(
                "e.ocel_id IN (SELECT ocel_event_id FROM ocel_event_object"
                " WHERE ocel_qualifier = ? AND list_contains(?::VARCHAR[], ocel_object_id))",
                f"{side}:{kind}",
                sorted(map(_identifier, values)),
            )
    if query.event_ids:
        sql.add("e.ocel_id IN (SELECT unnest(?::VARCHAR[]))", list(query.event_ids))
    if query.exists_error_declaration:
        sql.add(f"e.ocel_id IN ({_ATTR})", "errorDeclaration.declarationTime")
    for op, bound in (
        (">=", query.ge_error_declaration_time),
        ("<", query.lt_error_declaration_time),
    ):
        if bound is not None:
            sql.add(
                f"e.ocel_id IN ({_ATTR} AND TRY_CAST(ocel_value AS TIMESTAMPTZ) {op} ?)",
                "errorDeclaration.declarationTime",
                bound,
            )
    if query.error_reasons:
        _attr_in(sql, "errorDeclaration.reason", query.error_reasons)
    if query.corrective_event_ids:
        sql.add(
            f"e.ocel_id IN ({_ATTR} AND list_has_any("
            "from_json(ocel_value, '[\"VARCHAR\"]'), ?::VARCHAR[]))",
            "errorDeclaration.correctiveEventIDs",
            list(query.corrective_event_ids),
        )
    amounts: list[str] = []
    amount_params: list[Any] = []
    if query.eq_quantity:
        amounts.append("list_contains(?::DOUBLE[], quantity)")
        amount_params.append(list(query.eq_quantity))
    for op, amount in (
        (">", query.gt_quantity),
        (">=", query.ge_quantity),
        ("<", query.lt_quantity),
        ("<=", query.le_quantity),
    ):
        if amount is not None:
            amounts.append(f"quantity {op} ?")
            amount_params.append(amount)
    if amounts:
        sql.add(
            "e.ocel_id IN (SELECT ocel_event_id FROM ocel_event_object WHERE "
            + " AND ".join(amounts)
            + ")",
            *amount_params,
        )
    if query.exists_sensor_element_list:
        sql.add(f"e.ocel_id IN ({_ATTR})", "sensorElementList")
    return sql, record


def _source(sql: _Sql, record: bool, key: str) -> str:
    """The FROM … WHERE … of the selection, with the sort key ``k`` (microseconds)."""
    joins = ""
    if record:
        joins = (
            " LEFT JOIN (SELECT ocel_id, max(TRY_CAST(ocel_value AS TIMESTAMPTZ)) AS t"
            " FROM ocel_event_attribute WHERE ocel_name = 'recordTime' GROUP BY ocel_id) k_rt"
            " ON k_rt.ocel_id = e.ocel_id"
            " LEFT JOIN ingest_log k_il ON k_il.ingest_id = e.ingest_id"
        )
    where = " AND ".join(sql.where) if sql.where else "true"
    return (
        f"SELECT e.ocel_id AS id, epoch_us({key}) AS k, coalesce(e.ocel_seq, 0) AS s"
        f" FROM ocel_event e{joins} WHERE {where}"
    )


# --- page tokens -----------------------------------------------------------------------------

_TOKEN_SALT = b"keiretsu epcis page token v1\n"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scope(query: EventQuery, ingest_id: int | None, event_ids: Sequence[str] | None) -> bytes:
    restrict = orjson.dumps([ingest_id, sorted(event_ids) if event_ids is not None else None])
    return query.fingerprint().encode() + hashlib.sha256(restrict).digest()


def _seal(payload: bytes, scope: bytes) -> str:
    digest = hashlib.sha256(_TOKEN_SALT + scope + payload).digest()[:16]
    return f"{_b64(payload)}.{_b64(digest)}"


def _open(token: str, scope: bytes) -> tuple[int, int, str, int]:
    """(sort key, sequence, id, events served so far) from a token of this query."""
    refused = QueryError(
        "nextPageToken",
        "not a page token of this query (altered, or from another query)",
        expected="the nextPageToken of the previous page of the same query",
    )
    body, dot, sealed = token.partition(".")
    if not dot or len(token) > 4096:
        raise refused
    try:
        payload = _unb64(body)
        digest = _unb64(sealed)
    except (ValueError, TypeError):
        raise refused from None
    expected = hashlib.sha256(_TOKEN_SALT + scope + payload).digest()[:16]
    if not hmac.compare_digest(digest, expected):
        raise refused
    try:
        k, s, i, n = orjson.loads(payload)
    except (orjson.JSONDecodeError, ValueError, TypeError):
        raise refused from None
    if not (type(k) is int and type(s) is int and type(i) is str and type(n) is int):
        raise refused
    return k, s, i, n


def select_events(
    con: duckdb.DuckDBPyConnection,
    query: EventQuery,
    *,
    limit: int,
    after: str | None = None,
    ingest_id: int | None = None,
    event_ids: Sequence[str] | None = None,
) -> Page:
    """One page of the events ``query`` selects: at most ``limit`` event ids, in the query's
    order (``orderBy``/``orderDirection``; without them oldest first), after the position
    ``after`` (the ``nextPageToken`` of the previous page).

    ``ingest_id`` keeps only the events of one accepted document (a subscription told of a
    capture); ``event_ids`` only the given events. Raises :class:`QueryError` for a token not
    of this query (``nextPageToken``) and, on the first page, when more events match than
    ``maxEventCount`` allows (``kind == "too_large"``).
    """
    if limit < 1:
        raise QueryError("perPage", f"{limit} is out of range", expected="a whole number ≥ 1")
    sql, record = _where(query)
    if ingest_id is not None:
        sql.add("e.ingest_id = ?", ingest_id)
    if event_ids is not None:
        sql.add("e.ocel_id IN (SELECT unnest(?::VARCHAR[]))", list(event_ids))
    key = _RECORD_TIME if query.order_by == "recordTime" else "e.ocel_time"
    source = _source(sql, record, key)
    descending = query.order_by is not None and query.order_direction == "DESC"
    scope = _scope(query, ingest_id, event_ids)
    served = 0
    params = list(sql.params)
    position = ""
    if after is not None:
        k, s, i, served = _open(after, scope)
        position = f" WHERE (k, s, id) {'<' if descending else '>'} (?, ?, ?)"
        params += [k, s, i]
    elif query.max_event_count is not None:
        total = con.execute(f"SELECT count(*) FROM ({source})", sql.params).fetchone()
        count = int(total[0]) if total else 0
        if count > query.max_event_count:
            raise QueryError(
                "maxEventCount",
                f"{count} events match, more than the {query.max_event_count} allowed",
                expected="a narrower query, or a larger maxEventCount",
                kind="too_large",
            )
    room = limit
    if query.event_count_limit is not None:
        room = min(limit, query.event_count_limit - served)
        if room <= 0:
            return Page([], None)
    direction = "DESC" if descending else "ASC"
    rows = con.execute(
        f"SELECT id, k, s FROM ({source}){position}"
        f" ORDER BY k {direction}, s {direction}, id {direction} LIMIT ?",
        [*params, room + 1],
    ).fetchall()
    more = len(rows) > room
    rows = rows[:room]
    served += len(rows)
    if query.event_count_limit is not None and served >= query.event_count_limit:
        more = False
    token = None
    if more and rows:
        i, k, s = rows[-1]
        token = _seal(orjson.dumps([int(k), int(s), str(i), served]), scope)
    return Page([str(r[0]) for r in rows], token)


# --- writing events --------------------------------------------------------------------------


def _register_ids(con: duckdb.DuckDBPyConnection, event_ids: Sequence[str]) -> str:
    name = f"k_epcis_ids_{secrets.token_hex(6)}"  # several requests may share a connection
    con.register(name, pa.table({"ocel_id": pa.array(list(event_ids), pa.string())}))
    return name


def event_ocel(con: duckdb.DuckDBPyConnection, event_ids: Sequence[str]) -> Ocel:
    """The OCEL rows of the given events: the events, their attributes and relations, the
    objects they touch with those objects' attributes, the object-to-object links among those
    objects, and the declared types — not the source events. What a sharing policy filters
    before :func:`epcis_from_ocel` writes it for a partner."""
    ids = _register_ids(con, event_ids)
    objects_of = f"{ids}_objects"
    types_of = f"{ids}_types"
    try:

        def arrow(sql: str) -> pa.Table:
            return arrow_table(con, sql)

        events = arrow(
            f"SELECT e.ocel_id, e.ocel_type, e.ocel_time FROM ocel_event e"
            f" SEMI JOIN {ids} USING (ocel_id) ORDER BY e.ocel_time, e.ocel_seq, e.ocel_id"
        )
        attributes = arrow(
            f"SELECT a.ocel_id, a.ocel_name, a.ocel_value, a.ocel_value_type"
            f" FROM ocel_event_attribute a SEMI JOIN {ids} USING (ocel_id)"
        )
        relations = arrow(
            f"SELECT r.ocel_event_id, r.ocel_object_id, r.ocel_qualifier, r.quantity, r.uom"
            f" FROM ocel_event_object r SEMI JOIN {ids} i ON i.ocel_id = r.ocel_event_id"
        )
        con.register(objects_of, relations.select(["ocel_object_id"]))
        objects = arrow(
            "SELECT DISTINCT ON (o.ocel_id) o.ocel_id, o.ocel_type FROM ocel_object o"
            f" SEMI JOIN {objects_of} r ON r.ocel_object_id = o.ocel_id"
        )
        object_attributes = arrow(
            "SELECT a.ocel_id, a.ocel_name, a.ocel_time, a.ocel_value, a.ocel_value_type"
            " FROM ocel_object_attribute a"
            f" SEMI JOIN {objects_of} r ON r.ocel_object_id = a.ocel_id"
        )
        links = arrow(
            "SELECT l.ocel_source_id, l.ocel_target_id, l.ocel_qualifier"
            " FROM ocel_object_object l"
            f" SEMI JOIN {objects_of} s ON s.ocel_object_id = l.ocel_source_id"
            f" SEMI JOIN {objects_of} t ON t.ocel_object_id = l.ocel_target_id"
        )
        con.unregister(objects_of)
        con.register(types_of, events.select(["ocel_type"]))
        event_types = arrow(
            "SELECT ocel_type, attributes FROM ocel_event_type"
            f" SEMI JOIN {types_of} USING (ocel_type)"
        )
        con.unregister(types_of)
        con.register(types_of, objects.select(["ocel_type"]))
        object_types = arrow(
            "SELECT ocel_type, attributes FROM ocel_object_type"
            f" SEMI JOIN {types_of} USING (ocel_type)"
        )
        con.unregister(types_of)
    finally:
        con.unregister(ids)
    return Ocel(
        events=events,
        event_attributes=attributes,
        objects=objects,
        object_attributes=object_attributes,
        event_objects=relations,
        object_objects=links,
        event_types=event_types if event_types.num_rows else SCHEMAS["event_types"].empty_table(),
        object_types=object_types
        if object_types.num_rows
        else SCHEMAS["object_types"].empty_table(),
    )


def render_events(con: duckdb.DuckDBPyConnection, event_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The given events as EPCIS 2.0 JSON events, in the order given: an event that came as
    EPCIS exactly as the partner sent it (with an error declaration received later added),
    any other written from its OCEL rows by :func:`epcis_from_ocel`. Ids not in the store
    are left out."""
    if not event_ids:
        return []
    ids = _register_ids(con, event_ids)
    try:
        sources = dict(
            con.execute(
                f"SELECT s.ocel_id, s.body FROM ocel_source_event s SEMI JOIN {ids} USING (ocel_id)"
                " WHERE s.format = ?",
                [SOURCE_FORMAT],
            ).fetchall()
        )
        declared = con.execute(
            f"SELECT a.ocel_id, a.ocel_name, a.ocel_value FROM ocel_event_attribute a"
            f" SEMI JOIN {ids} USING (ocel_id) WHERE starts_with(a.ocel_name, 'errorDeclaration.')"
        ).fetchall()
    finally:
        con.unregister(ids)
    out: dict[str, dict[str, Any]] = {}
    for eid, body in sources.items():
        out[eid] = orjson.loads(body)
    corrections: dict[str, dict[str, str | None]] = {}
    for eid, name, value in declared:
        if eid in out and "errorDeclaration" not in out[eid]:
            corrections.setdefault(eid, {})[name[len("errorDeclaration.") :]] = value
    for eid, parts in corrections.items():
        out[eid]["errorDeclaration"] = _declaration(parts)
    rest = [eid for eid in dict.fromkeys(event_ids) if eid not in out]
    if rest:
        for eid, event in render_ocel(event_ocel(con, rest)):
            out[eid] = event
    return [out[eid] for eid in event_ids if eid in out]


def _declaration(parts: Mapping[str, str | None]) -> dict[str, Any]:
    """An error declaration received after the event, from its attributes."""
    declaration: dict[str, Any] = {"declarationTime": parts.get("declarationTime")}
    for name, value in parts.items():
        if name == "declarationTime" or value is None:
            continue
        if name == "correctiveEventIDs":
            try:
                declaration[name] = orjson.loads(value)
            except orjson.JSONDecodeError:
                declaration[name] = [value]
        else:
            declaration[name] = value
    return declaration


def query_document(
    events: list[dict[str, Any]],
    *,
    query_name: str = "SimpleEventQuery",
    subscription_id: str | None = None,
) -> dict[str, Any]:
    """The ``EPCISQueryDocument`` the REST binding answers a query with (one page of it)."""
    results: dict[str, Any] = {"queryName": query_name}
    if subscription_id is not None:
        results["subscriptionID"] = subscription_id
    results["resultsBody"] = {"eventList": events}
    return {
        "@context": [EPCIS_CONTEXT, {KEIRETSU_PREFIX: KEIRETSU_NS}],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": format_time(datetime.now(UTC).replace(microsecond=0)),
        "epcisBody": {"queryResults": results},
    }
