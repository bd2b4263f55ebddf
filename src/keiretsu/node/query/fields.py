"""The field families of a SimpleEventQuery: sensor data, extension fields, ILMD, the user
fields of error declarations, places and sensor elements, amounts in a unit.

EPCIS 2.0 (section 8.2.7.1) lets a caller filter on much more than the event's fixed fields:

* **sensor data** — ``GE_time``/``LT_time``, ``GE_startTime``… ``EQ_type``, ``EQ_deviceID``,
  ``EQ_value_<uom>``/``GE_``/``LT_``, ``GE_minValue_<uom>``… ``EQ_stringValue``,
  ``EQ_booleanValue``, ``GE_percRank``… All the sensor conditions of one query must hold
  for **one** sensor report of the event (with its element's metadata): ``EQ_type=Temperature``
  with ``GE_value_KEL=290`` asks for a temperature reading of at least 290 K, not for some
  temperature reading and some other reading of 290 or more. A field GS1 lets sit in
  ``sensorMetadata`` or in the ``sensorReport`` (``deviceID``, ``time``, ``rawData``,
  ``dataProcessingMethod``, ``deviceMetadata``) is read from the report, else from the
  metadata. A bound in one Rec 20 unit meets values captured in any unit of the same
  dimension (:mod:`keiretsu.model.units`): 20 ``CEL`` is at least 290 ``KEL``.
* **extension fields** — ``EQ_<field>``, ``GT_``/``GE_``/``LT_``/``LE_<field>``,
  ``EXISTS_<field>`` on a top-level user extension; ``…_INNER_<field>`` anywhere inside one;
  ``…_ILMD_<field>`` / ``…_INNER_ILMD_<field>`` on the ILMD of the objects an event made;
  ``…_ERROR_DECLARATION_<field>`` on the error declaration's extensions;
  ``EQ_readPoint_<field>`` / ``EQ_bizLocation_<field>`` on the place's extensions;
  ``…_SENSORELEMENT_`` / ``…_SENSORMETADATA_`` / ``…_SENSORREPORT_<field>`` on the user fields
  of sensor data. A ``<field>`` is ``prefix:local``, the prefix declared in the request's
  ``GS1-Extensions`` header (``example=https://ns.example.com/epcis/``) or the named query's
  ``@context``, or the standard's ``<namespace URI>#<local>``. A declared prefix matches the
  field under whatever prefix the capturing document gave that namespace; an undeclared one
  matches the prefix as the capturing document wrote it.
* **amounts in a unit** — ``EQ_quantity_<uom>``/``GT_``… on quantity elements, converted.

Each parameter is read into one :class:`FieldTest` (:func:`read_field`); :func:`field_sql` turns
the tests of a query into conditions on ``ocel_event e``, on the same unqualified tables as the
rest of the query (so a partner's question is answered on its projected view).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keiretsu.model import units
from keiretsu.model.cbv import MEASUREMENT_TYPES, short_name
from keiretsu.model.ocel import parse_time
from keiretsu.node.epcis_render import plain_id
from keiretsu.node.query.errors import QueryError
from keiretsu.node.query.keyed import keyed as _keyed

__all__ = [
    "FieldTest",
    "Resolver",
    "field_sql",
    "is_field_parameter",
    "order_key",
    "qualified_name",
    "read_field",
]

Resolver = Callable[[str], Sequence[str]]
"""namespace URI → the prefixes the store's events give it (asked of the caller's view)."""

_OPS = ("EQ", "GT", "GE", "LT", "LE", "EXISTS")
_SQL_OP = {"GT": ">", "GE": ">=", "LT": "<", "LE": "<="}
_TIME_EXPECTED = "an RFC 3339 date-time with a time zone offset, e.g. 2024-03-04T09:00:00Z"

# standard sensor parameters: name → (op, where the field is read, field, kind of value)
# where: "report", "meta", "either" (the report's, else the metadata's)
_SENSOR: dict[str, tuple[str, str, str, str]] = {}
for _op in ("GE", "LT", "EQ"):
    _SENSOR[f"{_op}_time"] = (_op, "either", "time", "time")
for _op in ("GE", "LT"):
    _SENSOR[f"{_op}_startTime"] = (_op, "meta", "startTime", "time")
    _SENSOR[f"{_op}_endTime"] = (_op, "meta", "endTime", "time")
for _op in ("GT", "GE", "LT", "LE"):
    _SENSOR[f"{_op}_percRank"] = (_op, "report", "percRank", "number")
    # the conformance test case writes sDev and percValue without a unit
    _SENSOR[f"{_op}_sDev"] = (_op, "report", "sDev", "number")
    _SENSOR[f"{_op}_percValue"] = (_op, "report", "percValue", "number")
_SENSOR.update(
    {
        "EQ_type": ("EQ", "report", "type", "type"),
        "EQ_deviceID": ("EQ", "either", "deviceID", "uri"),
        "EQ_dataProcessingMethod": ("EQ", "either", "dataProcessingMethod", "uri"),
        "EQ_deviceMetadata": ("EQ", "either", "deviceMetadata", "uri"),
        "EQ_deviceMetaData": ("EQ", "either", "deviceMetadata", "uri"),
        "EQ_rawData": ("EQ", "either", "rawData", "uri"),
        "EQ_bizRules": ("EQ", "meta", "bizRules", "uri"),
        "EQ_microorganism": ("EQ", "report", "microorganism", "uri"),
        "EQ_chemicalSubstance": ("EQ", "report", "chemicalSubstance", "uri"),
        "EQ_coordinateReferenceSystem": ("EQ", "report", "coordinateReferenceSystem", "uri"),
        "EQ_component": ("EQ", "report", "component", "text"),
        "EQ_exception": ("EQ", "report", "exception", "text"),
        "EQ_stringValue": ("EQ", "report", "stringValue", "text"),
        "EQ_booleanValue": ("EQ", "report", "booleanValue", "boolean"),
        "EQ_hexBinaryValue": ("EQ", "report", "hexBinaryValue", "hex"),
        "EQ_uriValue": ("EQ", "report", "uriValue", "uri"),
    }
)
_SENSOR_UOM = re.compile(
    r"(EQ|GT|GE|LT|LE)_(value|minValue|maxValue|meanValue|sDev|percValue|quantity)_([A-Z0-9]{2,4})"
)
_SCOPES = {
    "": "event",
    "ILMD_": "ilmd",
    "ERROR_DECLARATION_": "error",
    "SENSORELEMENT_": "sensorElement",
    "SENSORMETADATA_": "sensorMetadata",
    "SENSORREPORT_": "sensorReport",
    "readPoint_": "readPoint",
    "bizLocation_": "bizLocation",
}
_FAMILY = re.compile(
    r"(?P<op>EQ|GT|GE|LT|LE|EXISTS)_(?P<inner>INNER_)?"
    r"(?P<scope>ILMD_|ERROR_DECLARATION_|SENSORELEMENT_|SENSORMETADATA_|SENSORREPORT_"
    r"|readPoint_|bizLocation_)?(?P<field>.+)"
)
_PREFIXED = re.compile(r"(?P<prefix>[A-Za-z_][A-Za-z0-9_.-]*):(?P<local>[A-Za-z_][\w.-]*)")
_URI_HASH = re.compile(r"(?P<ns>[A-Za-z][A-Za-z0-9+.-]*:[^#\s]+)#(?P<local>[A-Za-z_][\w.-]*)")


@dataclass(frozen=True)
class FieldTest:
    """One condition of a field family, read from one parameter.

    ``scope`` says where the field lives: ``sensor`` (a standard sensor field, ``where`` the
    report, the metadata or ``either``), ``quantity`` (quantity elements), or a user field:
    ``event``, ``ilmd``, ``error``, ``readPoint``, ``bizLocation``, ``sensorElement``,
    ``sensorMetadata``, ``sensorReport`` (``inner``: anywhere inside those). ``values`` are the
    alternatives of an ``EQ`` (texts, each also compared as a number or instant where it reads
    as one) or the one bound of ``GT``…``LE``; ``units`` the bound(s) in every Rec 20 code of
    the parameter's dimension, for unit-bearing fields."""

    parameter: str
    op: str
    scope: str
    field: str
    where: str = ""
    kind: str = "text"
    inner: bool = False
    prefix: str | None = None
    namespace: str | None = None
    values: tuple[Any, ...] = ()
    units: tuple[tuple[str, tuple[float, ...]], ...] = ()

    @property
    def sensor(self) -> bool:
        """Whether the test is read on one sensor report (with its element and metadata)."""
        return self.scope in ("sensor", "sensorElement", "sensorMetadata", "sensorReport")


def is_field_parameter(name: str) -> bool:
    """Whether ``name`` belongs to one of the families of this module."""
    if name in _SENSOR or _SENSOR_UOM.fullmatch(name):
        return True
    found = _FAMILY.fullmatch(name)
    return found is not None and _qualified(found["field"]) is not None


def _qualified(text: str) -> tuple[str | None, str | None, str] | None:
    """(prefix, namespace, local) of ``prefix:local`` or ``<namespace>#<local>``."""
    found = _URI_HASH.fullmatch(text)
    if found is not None:
        return None, found["ns"], found["local"]
    found = _PREFIXED.fullmatch(text)
    if found is not None and not text.startswith(("http:", "https:", "urn:")):
        return found["prefix"], None, found["local"]
    return None


def qualified_name(
    parameter: str, text: str, namespaces: Mapping[str, str]
) -> tuple[str | None, str | None, str]:
    """(prefix, namespace URI, local name) of an extension field as a query writes it; the
    namespace of a prefix from ``namespaces`` (the ``GS1-Extensions`` header, the query's
    ``@context``). Raises :class:`QueryError` for a name that is neither form."""
    found = _qualified(text)
    if found is None:
        raise QueryError(
            parameter,
            f"{text!r} is not the name of an extension field",
            expected="prefix:localName (the prefix declared in the GS1-Extensions header) or "
            "<namespace URI>#localName",
        )
    prefix, namespace, local = found
    if prefix is not None:
        namespace = namespaces.get(prefix)
    return prefix, namespace, local


def _time(parameter: str, value: Any) -> datetime:
    text = str(value).strip()
    if len(text) > 19 and text[-6] == " " and text[-5:-3].isdigit():
        text = text[:-6] + "+" + text[-5:]  # a '+' sent unencoded in a URL
    if not re.fullmatch(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d:\d\d)", text):
        raise QueryError(parameter, f"{value!r} is not a date-time", expected=_TIME_EXPECTED)
    try:
        return parse_time(text)
    except ValueError:
        raise QueryError(
            parameter, f"{value!r} is not a date-time", expected=_TIME_EXPECTED
        ) from None


def _number(parameter: str, value: Any) -> float:
    if isinstance(value, bool):
        raise QueryError(parameter, f"{value!r} is not a number", expected="a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise QueryError(parameter, f"{value!r} is not a number", expected="a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise QueryError(parameter, f"{value!r} is not a number", expected="a finite number")
    return number


def _alternatives(parameter: str, raw: Sequence[Any], split: bool) -> list[Any]:
    out: list[Any] = []
    for value in raw:
        if isinstance(value, list):
            out += _alternatives(parameter, value, split)
            continue
        if isinstance(value, str) and split:
            parts = [p.strip() for p in value.split("|")]
        else:
            parts = [value.strip() if isinstance(value, str) else value]
        for part in parts:
            if part == "" or part is None:
                raise QueryError(parameter, "an empty value", expected="one or more values")
            out.append(part)
    if not out:
        raise QueryError(parameter, "no value given", expected="one or more values")
    return out


def _one(parameter: str, raw: Sequence[Any]) -> Any:
    if len(raw) != 1 or isinstance(raw[0], list):
        raise QueryError(parameter, "given more than once", expected="a single value")
    return raw[0]


def _flag(parameter: str, raw: Sequence[Any]) -> None:
    value = _one(parameter, raw)
    text = "" if value is None else str(value).strip().lower()
    if text not in ("", "true", "1"):
        raise QueryError(parameter, f"{value!r} is not a flag", expected="no value (or true)")


def _bound(parameter: str, raw: Sequence[Any]) -> float | datetime:
    """One bound of GT_/GE_/LT_/LE_ on a user field: a number or an instant."""
    value = _one(parameter, raw)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number(parameter, value)
    text = str(value).strip()
    try:
        return _number(parameter, text)
    except QueryError:
        pass
    try:
        return _time(parameter, text)
    except QueryError:
        raise QueryError(
            parameter,
            f"{value!r} is neither a number nor a date-time",
            expected="a number or an RFC 3339 date-time to compare with",
        ) from None


def _in_units(
    parameter: str, code: str, bounds: Sequence[float]
) -> tuple[tuple[str, tuple[float, ...]], ...]:
    return tuple(
        (other, tuple(units.convert(b, code, other) for b in bounds))
        for other in units.same_dimension(code)
    )


def read_field(
    parameter: str, raw: Sequence[Any], *, split: bool, namespaces: Mapping[str, str]
) -> FieldTest:
    """The :class:`FieldTest` of one parameter of these families (see
    :func:`is_field_parameter`), its values as given (URL texts with ``|`` between
    alternatives when ``split``, else JSON values). Raises :class:`QueryError` for a bad value
    or name."""
    if parameter in _SENSOR:
        op, where, field, kind = _SENSOR[parameter]
        if kind == "time":
            if op == "EQ":
                values: tuple[Any, ...] = tuple(
                    _time(parameter, v) for v in _alternatives(parameter, raw, split)
                )
            else:
                values = (_time(parameter, _one(parameter, raw)),)
        elif kind == "number":
            values = (_number(parameter, _one(parameter, raw)),)
        elif kind == "boolean":
            value = _one(parameter, raw)
            text = str(value).strip().lower()
            if text not in ("true", "false"):
                raise QueryError(parameter, f"{value!r} is not a boolean", expected="true or false")
            values = (text,)
        else:
            texts = [str(v) for v in _alternatives(parameter, raw, split)]
            if kind == "type":
                texts = [short_name(plain_id(t), MEASUREMENT_TYPES.spellings) for t in texts]
            elif kind == "uri":
                texts = sorted({*texts, *(plain_id(t) for t in texts)})
            elif kind == "hex":
                texts = [t.upper() for t in texts]
            values = tuple(texts)
        return FieldTest(parameter, op, "sensor", field, where=where, kind=kind, values=values)
    found = _SENSOR_UOM.fullmatch(parameter)
    if found is not None:
        op, field, code = found.groups()
        if op == "EQ":
            bounds = [_number(parameter, v) for v in _alternatives(parameter, raw, split)]
        else:
            bounds = [_number(parameter, _one(parameter, raw))]
        try:
            converted = _in_units(parameter, code, bounds)
        except units.UnitError as exc:  # pragma: no cover - same_dimension holds one dimension
            raise QueryError(parameter, str(exc), expected="a Rec 20 unit code") from None
        scope = "quantity" if field == "quantity" else "sensor"
        return FieldTest(
            parameter,
            op,
            scope,
            field,
            where="report",
            kind="uom",
            values=(code,),
            units=converted,
        )
    family = _FAMILY.fullmatch(parameter)
    if family is None:  # pragma: no cover - guarded by is_field_parameter
        raise QueryError(parameter, "unknown query parameter")
    op = family["op"]
    scope = _SCOPES[family["scope"] or ""]
    prefix, namespace, local = qualified_name(parameter, family["field"], namespaces)
    if op == "EXISTS":
        _flag(parameter, raw)
        values = ()
    elif op == "EQ":
        values = tuple(
            v if isinstance(v, int | float) and not isinstance(v, bool) else str(v).strip()
            for v in _alternatives(parameter, raw, split)
        )
    else:
        values = (_bound(parameter, raw),)
    return FieldTest(
        parameter,
        op,
        scope,
        local,
        inner=family["inner"] is not None,
        prefix=prefix,
        namespace=namespace,
        values=values,
    )


def check_units(tests: Sequence[FieldTest], types: Sequence[str]) -> None:
    """Refuse a bound whose unit no reading of the asked measurement types can carry
    (``EQ_type=Temperature`` with ``GE_value_KGM``)."""
    dims = {units.dimension_of_type(t) for t in types}
    if not types or None in dims:
        return
    for test in tests:
        if test.kind == "uom" and test.scope == "sensor":
            code = str(test.values[0])
            dim = units.dimension(code)
            if dim is not None and dim not in dims:
                raise QueryError(
                    test.parameter,
                    f"{code} ({dim}) is not a unit of {', '.join(types)}",
                    expected="a Rec 20 unit of the same dimension as the measurement type",
                )


# --- SQL ----------------------------------------------------------------------------------


def _value_test(expr: str, test: FieldTest) -> tuple[str, list[Any]]:
    """A condition on the text ``expr`` for a user field's EQ / GT… test."""
    if test.op == "EQ":
        texts = [str(v) for v in test.values]
        numbers: list[float] = []
        times: list[datetime] = []
        for v in test.values:
            try:
                numbers.append(float(v))
            except (TypeError, ValueError):
                with contextlib.suppress(QueryError):
                    times.append(_time(test.parameter, v))
        parts = [f"list_contains(?::VARCHAR[], {expr})"]
        params: list[Any] = [texts]
        if numbers:
            parts.append(f"list_contains(?::DOUBLE[], TRY_CAST({expr} AS DOUBLE))")
            params.append(numbers)
        if times:
            parts.append(f"list_contains(?::TIMESTAMPTZ[], TRY_CAST({expr} AS TIMESTAMPTZ))")
            params.append(times)
        return "(" + " OR ".join(parts) + ")", params
    bound = test.values[0]
    cast = "TIMESTAMPTZ" if isinstance(bound, datetime) else "DOUBLE"
    return f"TRY_CAST({expr} AS {cast}) {_SQL_OP[test.op]} ?", [bound]


def _path(key: str, inner: bool) -> str:
    return f"$..{_quote(key)}" if inner else f"$.{_quote(key)}"


def _quote(key: str) -> str:
    return '"' + key.replace('"', "") + '"'


def _json_test(document: str, key: str, test: FieldTest) -> tuple[str, list[Any]]:
    """A condition on the member ``key`` of the JSON ``document`` (anywhere inside it when
    ``test.inner``)."""
    if test.inner:
        found = f"json_extract({document}, '{_path(key, True)}')"
        if test.op == "EXISTS":
            return f"coalesce(len({found}), 0) > 0", []
        clause, params = _value_test("x->>'$'", test)
        return f"len(list_filter({found}, lambda x: {clause})) > 0", params
    value = f"json_extract_string({document}, '{_path(key, False)}')"
    if test.op == "EXISTS":
        return f"json_exists({document}, '{_path(key, False)}')", []
    return _value_test(value, test)


def _prefixes(test: FieldTest, resolve: Resolver) -> list[tuple[str, str | None]]:
    """(prefix, namespace to check on the event) for each spelling of the field's name."""
    if test.namespace is None:
        return [(test.prefix or "", None)]
    found = list(resolve(test.namespace))
    return [(p, test.namespace) for p in found] or [("\x00none", None)]


_XMLNS = (
    "{id} IN (SELECT ocel_id FROM ocel_event_attribute WHERE ocel_name = ?"
    " AND rtrim(ocel_value, '/#') = rtrim(?, '/#'))"
)
_ATTR_NAME = {
    "event": "",
    "error": "errorDeclaration.",
    "readPoint": "readPoint.",
    "bizLocation": "bizLocation.",
}
_ILMD_ROLES = ["epc", "output"]


def _user_field(test: FieldTest, resolve: Resolver) -> tuple[str, list[Any]]:
    """The condition of a user field not inside sensor data."""
    alternatives: list[str] = []
    params: list[Any] = []
    for prefix, namespace in _prefixes(test, resolve):
        key = f"{prefix}:{test.field}"
        check, check_params = "", []
        if namespace is not None:
            owner = "eo.ocel_event_id" if test.scope == "ilmd" else "a.ocel_id"
            check = " AND " + _XMLNS.format(id=owner)
            check_params = [f"xmlns:{prefix}", namespace]
        if test.scope == "ilmd":
            if test.inner:
                cond, cond_params = _json_test("oa.ocel_value", key, test)
                name = "oa.ocel_name NOT LIKE 'xmlns:%' AND contains(oa.ocel_name, ':')"
                name_params: list[Any] = []
            else:
                name, name_params = "oa.ocel_name = ?", [key]
                cond, cond_params = (
                    ("true", []) if test.op == "EXISTS" else _value_test("oa.ocel_value", test)
                )
            # the objects with that ILMD first, then their relations and events by key (the
            # indexes on ocel_event_object.ocel_object_id and ocel_event.ocel_id): a lot
            # finds its few commissioning events without reading every relation
            relations = _keyed(
                "ocel_event_object",
                "ocel_object_id",
                "ocel_event_id, ocel_object_id, ocel_qualifier",
                "SELECT ocel_id FROM oa",
            )
            events = _keyed(
                "ocel_event", "ocel_id", "ocel_id, ocel_time", "SELECT ocel_event_id FROM eo"
            )
            alternatives.append(
                "e.ocel_id IN (WITH oa AS MATERIALIZED (SELECT oa.ocel_id, oa.ocel_time"
                f" FROM ocel_object_attribute oa WHERE {name} AND {cond}),"
                f" eo AS MATERIALIZED (SELECT * FROM {relations}"
                " WHERE list_contains(?::VARCHAR[], ocel_qualifier))"
                " SELECT eo.ocel_event_id FROM eo JOIN oa ON oa.ocel_id = eo.ocel_object_id"
                f" JOIN {events} ev ON ev.ocel_id = eo.ocel_event_id"
                " AND ev.ocel_time = oa.ocel_time"
                f" WHERE true{check})"
            )
            params += [*name_params, *cond_params, _ILMD_ROLES, *check_params]
            continue
        head = _ATTR_NAME[test.scope]
        if test.inner:
            # anywhere inside a user field of that place (the top-level extensions, the error
            # declaration's, the read point's): their values are JSON
            name = (
                "starts_with(a.ocel_name, ?) AND contains(substr(a.ocel_name, ?), ':')"
                " AND NOT starts_with(a.ocel_name, 'xmlns:')"
            )
            if not head:
                name += " AND NOT contains(a.ocel_name, '.')"
            name_params = [head, len(head) + 1]
            cond, cond_params = _json_test("TRY_CAST(a.ocel_value AS JSON)", key, test)
        else:
            name, name_params = "a.ocel_name = ?", [head + key]
            cond, cond_params = (
                ("true", []) if test.op == "EXISTS" else _value_test("a.ocel_value", test)
            )
        alternatives.append(
            "e.ocel_id IN (SELECT a.ocel_id FROM ocel_event_attribute a"
            f" WHERE {name} AND {cond}{check})"
        )
        params += [*name_params, *cond_params, *check_params]
    if len(alternatives) == 1:  # one spelling: ``e.ocel_id IN (…)``, a driver of the query
        return alternatives[0], params
    return "(" + " OR ".join(alternatives) + ")", params


_SENSOR_ROWS = (
    "SELECT s.ocel_id FROM (SELECT a.ocel_id, a.el, json_extract(a.el, '$.sensorMetadata') AS meta,"
    " unnest(coalesce(nullif(from_json(json_extract(a.el, '$.sensorReport'), '[\"JSON\"]'), []),"
    " [NULL::JSON])) AS rep"
    " FROM (SELECT ocel_id, unnest(from_json(ocel_value, '[\"JSON\"]')) AS el"
    " FROM ocel_event_attribute WHERE ocel_name = 'sensorElementList') a) s"
)


def _sensor_field(test: FieldTest) -> tuple[str, list[Any]]:
    """A standard sensor field's condition on one row (element, metadata, report)."""
    key = f"'$.{test.field}'"
    report = f"json_extract_string(s.rep, {key})"
    meta = f"json_extract_string(s.meta, {key})"
    value = {"report": report, "meta": meta, "either": f"coalesce({report}, {meta})"}[test.where]
    if test.kind == "uom":
        number = f"TRY_CAST({value} AS DOUBLE)"
        codes = [c for c, _ in test.units]
        slot = "list_position(?::VARCHAR[], json_extract_string(s.rep, '$.uom'))"
        if test.op == "EQ":
            parts = []
            params: list[Any] = []
            for i in range(len(test.units[0][1])):
                parts.append(
                    f"abs({number} - list_extract(?::DOUBLE[], {slot}))"
                    f" <= 1e-9 * greatest(1.0, abs({number}))"
                )
                params += [[b[i] for _, b in test.units], codes]
            return "(" + " OR ".join(parts) + ")", params
        bounds = [b[0] for _, b in test.units]
        return f"{number} {_SQL_OP[test.op]} list_extract(?::DOUBLE[], {slot})", [bounds, codes]
    if test.kind == "time":
        cast = f"TRY_CAST({value} AS TIMESTAMPTZ)"
        if test.op == "EQ":
            return f"list_contains(?::TIMESTAMPTZ[], {cast})", [list(test.values)]
        return f"{cast} {_SQL_OP[test.op]} ?", [test.values[0]]
    if test.kind == "number":
        return f"TRY_CAST({value} AS DOUBLE) {_SQL_OP[test.op]} ?", [test.values[0]]
    if test.kind == "boolean":
        return f"lower({value}) = ?", [test.values[0]]
    if test.kind == "hex":
        return f"list_contains(?::VARCHAR[], upper({value}))", [list(test.values)]
    return f"list_contains(?::VARCHAR[], {value})", [list(test.values)]


def _sensor_user_field(test: FieldTest, resolve: Resolver) -> tuple[str, list[Any]]:
    document = {"sensorElement": "s.el", "sensorMetadata": "s.meta", "sensorReport": "s.rep"}[
        test.scope
    ]
    alternatives: list[str] = []
    params: list[Any] = []
    for prefix, namespace in _prefixes(test, resolve):
        cond, cond_params = _json_test(document, f"{prefix}:{test.field}", test)
        if namespace is not None:
            cond += " AND " + _XMLNS.format(id="s.ocel_id")
            cond_params = [*cond_params, f"xmlns:{prefix}", namespace]
        alternatives.append(f"({cond})")
        params += cond_params
    return "(" + " OR ".join(alternatives) + ")", params


def field_sql(tests: Sequence[FieldTest], resolve: Resolver) -> list[tuple[str, list[Any]]]:
    """Conditions on ``ocel_event e`` for ``tests``: the sensor tests together as one (all
    on one report), each other test alone."""
    out: list[tuple[str, list[Any]]] = []
    sensor_where: list[str] = []
    sensor_params: list[Any] = []
    for test in tests:
        if test.sensor:
            clause, params = (
                _sensor_field(test) if test.scope == "sensor" else _sensor_user_field(test, resolve)
            )
            sensor_where.append(clause)
            sensor_params += params
        elif test.scope == "quantity":
            codes = [c for c, _ in test.units]
            slot = "list_position(?::VARCHAR[], uom)"
            if test.op == "EQ":
                parts = []
                params = []
                for i in range(len(test.units[0][1])):
                    parts.append(
                        f"abs(quantity - list_extract(?::DOUBLE[], {slot}))"
                        " <= 1e-9 * greatest(1.0, abs(quantity))"
                    )
                    params += [[b[i] for _, b in test.units], codes]
                cond = "(" + " OR ".join(parts) + ")"
            else:
                cond = f"quantity {_SQL_OP[test.op]} list_extract(?::DOUBLE[], {slot})"
                params = [[b[0] for _, b in test.units], codes]
            out.append(
                (f"e.ocel_id IN (SELECT ocel_event_id FROM ocel_event_object WHERE {cond})", params)
            )
        else:
            out.append(_user_field(test, resolve))
    if sensor_where:
        out.append(
            (f"e.ocel_id IN ({_SENSOR_ROWS} WHERE {' AND '.join(sensor_where)})", sensor_params)
        )
    return out


def order_key(test: FieldTest, resolve: Resolver, descending: bool) -> tuple[str, list[Any]]:
    """The sort key of ``orderBy=<extension field>``: the field's value as a number (an
    instant as seconds since 1970); events without it (or with a value that is neither) come
    after every event that has it, in either direction."""
    names = [f"{p}:{test.field}" for p, _ in _prefixes(test, resolve)]
    missing = "-1e300" if descending else "1e300"
    return (
        "coalesce((SELECT coalesce(TRY_CAST(k_a.ocel_value AS DOUBLE),"
        " epoch(TRY_CAST(k_a.ocel_value AS TIMESTAMPTZ))) FROM ocel_event_attribute k_a"
        " WHERE k_a.ocel_id = e.ocel_id AND list_contains(?::VARCHAR[], k_a.ocel_name)"
        f" LIMIT 1), {missing})",
        [names],
    )
