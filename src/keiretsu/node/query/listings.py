"""What the log knows, listed: its EPCs, locations, read points, business steps, dispositions.

The EPCIS 2.0 binding's top-level resources (``/epcs``, ``/bizLocations``, ``/readPoints``,
``/bizSteps``, ``/dispositions``) let a client browse what a repository knows before it asks
for events. Each listing here is read from the log's tables through the caller's cursor, with
**unqualified** table names like the rest of the query (:mod:`keiretsu.node.query.sql`): a
partner's cursor reads its view, so it lists only what it may see.

* an **EPC** is what ``MATCH_anyEPC`` looks at: an object related to an event as one of its
  EPCs (``epcList``, ``childEPCs``, ``parentID``, ``inputEPCList``, ``outputEPCList``) — or,
  for an event that did not come as EPCIS, under a qualifier of its own — and not as a class
  (a quantity element);
* a **business location** or **read point**: an object related to an event as its
  ``bizLocation`` / ``readPoint``;
* the **business steps** and **dispositions** the log's events use, as EPCIS writes them.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb

from keiretsu.model import cbv
from keiretsu.model.gs1 import CLASS_TYPES
from keiretsu.node.epcis_render import vocabulary_uri
from keiretsu.node.query.patterns import identifier

__all__ = [
    "OBJECT_ROLES",
    "biz_steps_used",
    "dispositions_used",
    "related_objects",
    "relates_object",
]

_EPC_WHERE = (
    "(list_contains(?::VARCHAR[], eo.ocel_qualifier)"
    " OR (NOT list_contains(?::VARCHAR[], eo.ocel_qualifier)"
    " AND NOT starts_with(eo.ocel_qualifier, 'source:')"
    " AND NOT starts_with(eo.ocel_qualifier, 'destination:')"
    " AND eo.ocel_event_id NOT IN"
    " (SELECT ocel_id FROM ocel_event_attribute WHERE ocel_name = 'eventType')))"
    " AND eo.quantity IS NULL AND eo.uom IS NULL"
    " AND eo.ocel_object_id NOT IN"
    " (SELECT ocel_id FROM ocel_object WHERE list_contains(?::VARCHAR[], ocel_type))"
)
_EPC_PARAMS: list[Any] = [
    list(cbv.WHAT_ROLES),
    sorted(cbv.STANDARD_QUALIFIERS),
    sorted(CLASS_TYPES),
]
_ROLES: dict[str, tuple[str, list[Any]]] = {
    "epc": (_EPC_WHERE, _EPC_PARAMS),
    cbv.BIZ_LOCATION: ("eo.ocel_qualifier = ?", [cbv.BIZ_LOCATION]),
    cbv.READ_POINT: ("eo.ocel_qualifier = ?", [cbv.READ_POINT]),
}
OBJECT_ROLES = tuple(_ROLES)
"""The roles an object can be listed by: ``epc``, ``bizLocation``, ``readPoint``."""


def related_objects(
    cur: duckdb.DuckDBPyConnection, role: str, *, after: str | None, limit: int
) -> list[str]:
    """Up to ``limit`` ids of objects the log relates to events in ``role``, after the id
    ``after`` (None: from the first), in order."""
    where, params = _ROLES[role]
    found = cur.execute(
        f"SELECT DISTINCT eo.ocel_object_id AS id FROM ocel_event_object eo WHERE {where}"
        " AND (?::VARCHAR IS NULL OR eo.ocel_object_id > ?) ORDER BY id LIMIT ?",
        [*params, after, after, limit],
    ).fetchall()
    return [str(r[0]) for r in found]


def relates_object(cur: duckdb.DuckDBPyConnection, role: str, value: str) -> bool:
    """Whether the log relates the object ``value`` (any spelling of it) to an event in
    ``role``."""
    where, params = _ROLES[role]
    found = cur.execute(
        f"SELECT 1 FROM ocel_event_object eo WHERE {where} AND eo.ocel_object_id = ? LIMIT 1",
        [*params, identifier(value)],
    ).fetchall()
    return bool(found)


_EVENT_TYPE_NAMES = "|".join(sorted(cbv.EVENT_TYPES))
_NO_STEP = f"^({_EVENT_TYPE_NAMES})( (ADD|OBSERVE|DELETE))?$"


def biz_steps_used(cur: duckdb.DuckDBPyConnection) -> set[str]:
    """The business steps of the log's events, as EPCIS writes them. An EPCIS event sent
    without a bizStep is named ``ObjectEvent OBSERVE`` (its type and action): that name is
    not a business step."""
    types = [str(r[0]) for r in cur.execute("SELECT DISTINCT ocel_type FROM ocel_event").fetchall()]
    candidates = [t for t in types if re.fullmatch(_NO_STEP, t)]
    steps = {t for t in types if t not in candidates}
    if candidates:
        found = cur.execute(
            "SELECT DISTINCT e.ocel_type FROM ocel_event e"
            " LEFT JOIN ocel_event_attribute t"
            " ON t.ocel_id = e.ocel_id AND t.ocel_name = 'eventType'"
            " LEFT JOIN ocel_event_attribute a ON a.ocel_id = e.ocel_id AND a.ocel_name = 'action'"
            " WHERE list_contains(?::VARCHAR[], e.ocel_type) AND (t.ocel_value IS NULL OR"
            " (e.ocel_type <> t.ocel_value"
            " AND e.ocel_type <> t.ocel_value || ' ' || coalesce(a.ocel_value, '')))",
            [candidates],
        ).fetchall()
        steps |= {str(r[0]) for r in found}
    return {vocabulary_uri("bizStep", s) for s in steps}


def dispositions_used(cur: duckdb.DuckDBPyConnection) -> set[str]:
    """The dispositions of the log's events, as EPCIS writes them."""
    found = cur.execute(
        "SELECT DISTINCT ocel_value FROM ocel_event_attribute"
        " WHERE ocel_name = 'disposition' AND ocel_value IS NOT NULL"
    ).fetchall()
    return {vocabulary_uri("disposition", str(r[0])) for r in found}
