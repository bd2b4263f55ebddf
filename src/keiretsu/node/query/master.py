"""The master-data parameters of a SimpleEventQuery: ``WD_``, ``HASATTR_``, ``EQATTR_``.

EPCIS 2.0 (section 8.2.7.1) lets a query reach through an event's fields to the master data
of their values (:mod:`keiretsu.store.masterdata`, sent in documents' headers):

* ``WD_readPoint`` / ``WD_bizLocation`` — events at one of the locations named **or any
  location below it**, direct or not ("with descendants"): the ``children`` the master data
  gives, and a sub-site's ``urn:epcglobal:cbv:mda:site``;
* ``HASATTR_<field>`` — events whose ``<field>`` value has master data with one of the
  attributes named (``HASATTR_bizLocation=urn:epcglobal:cbv:mda:sst``);
* ``EQATTR_<field>_<attribute>`` — events whose ``<field>`` value has that attribute with one of
  the values given (``EQATTR_bizLocation_urn:epcglobal:cbv:mda:sst=201``). GS1's query schema
  writes the same parameter ``EQ_ATTR_<field>_<attribute>``: both spellings are read.

``<field>`` is ``readPoint``, ``bizLocation``, ``bizStep``, ``disposition``, an EPC field
(``epc``, ``parentID``, ``inputEPC``, ``outputEPC``, ``epcClass``…) or a top-level extension
field ``prefix:local`` (its prefix declared as for the other extension parameters; the field
ends at the first ``_`` after its prefix). An attribute is a URI (``urn:epcglobal:cbv:mda:sst``)
or a CURIE of a standard or declared prefix (``cbvmda:sst``). Values are compared as text
(a location id in any spelling of its GS1 key).

Master data is always the current one (each attribute as the latest accepted document sent
it), read from the same unqualified names as the rest of the query: a partner's question is
answered on the master data its view holds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from keiretsu.model.cbv import STANDARD_PREFIXES
from keiretsu.node.query.errors import QueryError
from keiretsu.node.query.fields import Resolver, qualified_name
from keiretsu.node.query.keyed import keyed
from keiretsu.node.query.patterns import identifier
from keiretsu.store.masterdata import descendants_sql

__all__ = ["MasterTest", "is_master_parameter", "master_sql", "read_master", "within_sql"]

_PARAMETER = re.compile(r"(?P<op>HASATTR|EQATTR|EQ_ATTR)_(?P<rest>.+)")
_RELATIONS: dict[str, tuple[str, ...]] = {
    "readPoint": ("readPoint",),
    "bizLocation": ("bizLocation",),
    "epc": ("epc", "child"),
    "epcList": ("epc", "child"),
    "parentID": ("parent",),
    "inputEPC": ("input",),
    "outputEPC": ("output",),
    "epcClass": ("epc", "child", "input", "output"),
    "transformationID": ("transformationID",),
}
"""Fields whose values the store keeps as related objects: field → relation qualifiers."""
_WORD_FIELDS = ("bizStep", "disposition")
_STANDARD = (*_RELATIONS, *_WORD_FIELDS)
_EXPECTED_FIELD = (
    "readPoint, bizLocation, bizStep, disposition, epc, parentID, inputEPC, outputEPC, "
    "epcClass, transformationID or an extension field prefix:localName"
)


@dataclass(frozen=True)
class MasterTest:
    """One ``HASATTR_`` / ``EQATTR_`` condition: the event's ``field`` value must have master
    data with one of ``attributes`` (``HASATTR_``), or with ``attributes[0]`` equal to one of
    ``values`` (``EQATTR_``)."""

    parameter: str
    field: str
    attributes: tuple[str, ...]
    values: tuple[str, ...] | None = None
    prefix: str | None = None
    namespace: str | None = None
    """For an extension field: its prefix as written and its declared namespace."""


def is_master_parameter(name: str) -> bool:
    """Whether ``name`` is a ``HASATTR_`` / ``EQATTR_`` / ``EQ_ATTR_`` parameter."""
    return _PARAMETER.fullmatch(name) is not None


def _attribute(name: str, namespaces: Mapping[str, str]) -> str:
    """An attribute id as the store holds it: a CURIE of a known prefix made a full URI."""
    prefix, colon, local = name.partition(":")
    if colon and not local.startswith("//"):
        uri = STANDARD_PREFIXES.get(prefix) or namespaces.get(prefix)
        if uri is not None:
            return uri + local
    return name


def _field(parameter: str, rest: str, *, with_attribute: bool) -> tuple[str, str]:
    """(field, what follows it after '_') of ``rest``; for ``HASATTR_`` the second is ''."""
    for name in _STANDARD:
        if rest == name and not with_attribute:
            return name, ""
        if with_attribute and rest.startswith(name + "_") and len(rest) > len(name) + 1:
            return name, rest[len(name) + 1 :]
    prefix, colon, tail = rest.partition(":")
    if colon and prefix and tail:
        if not with_attribute:
            return rest, ""
        local, sep, attribute = tail.partition("_")
        if sep and local and attribute:
            return f"{prefix}:{local}", attribute
    shape = "<field>_<attribute>" if with_attribute else "<field>"
    raise QueryError(
        parameter,
        f"{rest!r} does not name a field{' and an attribute' if with_attribute else ''}",
        expected=f"{parameter.split('_')[0]}_{shape}, the field one of {_EXPECTED_FIELD}",
    )


def read_master(
    name: str, raw: Sequence[Any], *, split: bool, namespaces: Mapping[str, str]
) -> MasterTest:
    """Read one ``HASATTR_`` / ``EQATTR_`` / ``EQ_ATTR_`` parameter; raises
    :class:`QueryError` naming it when the field, the attribute or the values are wrong."""
    found = _PARAMETER.fullmatch(name)
    assert found is not None
    has = found["op"] == "HASATTR"
    field, attribute = _field(name, found["rest"], with_attribute=not has)
    values: list[str] = []
    # a named query's JSON writes the values as an array
    flat = [x for v in raw for x in (v if isinstance(v, list) else [v])]
    for v in flat:
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise QueryError(name, f"{v!r} is not a value", expected="text values")
        parts = str(v).split("|") if split else [str(v)]
        for part in parts:
            if not part.strip():
                raise QueryError(name, "an empty value", expected="one or more values, '|'")
            values.append(part.strip())
    if not values:
        raise QueryError(name, "no value given", expected="one or more values, '|'")
    prefix = namespace = None
    if field not in _STANDARD:
        prefix, namespace, local = qualified_name(name, field, namespaces)
        field = f"{prefix}:{local}" if prefix else local
    if has:
        attributes = tuple(dict.fromkeys(_attribute(v, namespaces) for v in values))
        return MasterTest(name, field, attributes, None, prefix, namespace)
    # a value may be a location or product written in any spelling of its GS1 key
    spelled = dict.fromkeys([*values, *(identifier(v) for v in values)])
    return MasterTest(
        name, field, (_attribute(attribute, namespaces),), tuple(spelled), prefix, namespace
    )


def _elements(test: MasterTest) -> tuple[str, list[Any]]:
    """The ids of the elements whose master data passes ``test`` (a subquery)."""
    if test.values is None:
        return (
            "SELECT element_id FROM masterdata_attribute_now"
            " WHERE list_contains(?::VARCHAR[], attribute_id)",
            [list(test.attributes)],
        )
    return (
        "SELECT element_id FROM masterdata_attribute_now WHERE attribute_id = ?"
        " AND list_contains(?::VARCHAR[], value)",
        [test.attributes[0], list(test.values)],
    )


def master_sql(tests: Sequence[MasterTest], resolve: Resolver) -> list[tuple[str, list[Any]]]:
    """Each test as a condition on ``ocel_event e``."""
    out: list[tuple[str, list[Any]]] = []
    for test in tests:
        elements, params = _elements(test)
        if test.field in _RELATIONS:
            relations = keyed(
                "ocel_event_object", "ocel_object_id", "ocel_event_id, ocel_qualifier", elements
            )
            out.append(
                (
                    f"e.ocel_id IN (SELECT ocel_event_id FROM {relations}"
                    " WHERE list_contains(?::VARCHAR[], ocel_qualifier))",
                    [*params, list(_RELATIONS[test.field])],
                )
            )
        elif test.field == "bizStep":
            out.append((f"e.ocel_type IN ({elements})", params))
        else:
            names = [test.field]
            if test.field == "disposition":
                names = ["disposition"]
            elif test.namespace is not None:
                local = test.field.partition(":")[2] or test.field
                names = [f"{p}:{local}" for p in resolve(test.namespace)] or [test.field]
            out.append(
                (
                    "e.ocel_id IN (SELECT ocel_id FROM ocel_event_attribute"
                    " WHERE list_contains(?::VARCHAR[], ocel_name)"
                    f" AND ocel_value IN ({elements}))",
                    [names, *params],
                )
            )
    return out


def within_sql(qualifier: str, locations: Sequence[str]) -> tuple[str, list[Any]]:
    """Events whose ``qualifier`` (``readPoint``/``bizLocation``) is one of ``locations`` or
    below one of them in the master data's hierarchy (``WD_``)."""
    # the few places first, then their relations through the index on ocel_object_id
    relations = keyed(
        "ocel_event_object", "ocel_object_id", "ocel_event_id, ocel_qualifier", descendants_sql()
    )
    return (
        f"e.ocel_id IN (SELECT ocel_event_id FROM {relations} WHERE ocel_qualifier = ?)",
        [list(locations), qualifier],
    )
