"""The SQL of a SimpleEventQuery: one parameterised statement over the log's tables.

Every parameter of an :class:`~keiretsu.node.query.parameters.EventQuery` becomes one
condition on ``ocel_event e`` (:func:`conditions`), its values bound as parameters, never
pasted in; :func:`selection` wraps them into the ``SELECT`` of event ids with their sort key,
which :func:`~keiretsu.node.query.select.select_events` pages through.

The table names are **unqualified** on purpose (``ocel_event``, ``ocel_event_attribute``,
``ocel_event_object``, ``ocel_object``, ``ocel_source_event``, ``ingest_log``): a partner's
cursor has its view's DuckDB schema first on the search path
(:mod:`keiretsu.store.partner_view`, :func:`keiretsu.node.sharing.log_cursor`), so the one
statement answers a local user from the whole log and a partner from its view alone. Never
qualify them (``main.ocel_event`` would read the node's own log for a partner).

Events that did not come as EPCIS (OCEL, XES, CSV imports) have no ``eventType`` nor
``action``: they answer as ``ObjectEvent`` / ``OBSERVE``, and their relations under a
qualifier of their own count as the event's ``epcList``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from keiretsu.io.epcis.mapping import SOURCE_FORMAT
from keiretsu.model.cbv import BIZ_TRANSACTION_TYPES
from keiretsu.node.epcis_render import CLASS_TYPES, STANDARD_QUALIFIERS
from keiretsu.node.query.fields import Resolver, field_sql
from keiretsu.node.query.keyed import keyed
from keiretsu.node.query.master import master_sql, within_sql
from keiretsu.node.query.parameters import EventQuery
from keiretsu.node.query.patterns import identifier, matchers

__all__ = ["RECORD_TIME", "Sql", "conditions", "keyed", "selection"]

_BTT = BIZ_TRANSACTION_TYPES.spellings

_ATTR = "SELECT ocel_id FROM ocel_event_attribute WHERE ocel_name = ?"
_EVENT_TYPE_ATTR = "eventType"
RECORD_TIME = "coalesce(k_rt.t, k_il.finished_at)"


_IN = "e.ocel_id IN ("


def _subquery(clause: str) -> str | None:
    """The subquery of a clause written ``e.ocel_id IN (<subquery>)``, else None."""
    if not (clause.startswith(_IN) and clause.endswith(")")):
        return None
    inner = clause[len(_IN) : -1]
    depth = 0
    for char in inner:  # the parenthesis opened must be the one that closes the clause
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return None
    return inner if depth == 0 else None


@dataclass
class Clause:
    """One condition on ``ocel_event e`` with its parameters; ``driver``, when the condition
    is ``e.ocel_id IN (<driver>)``, its subquery; ``keyed`` when that subquery reads the
    store's indexes (a likely few events)."""

    text: str
    params: list[Any]
    driver: str | None = None
    keyed: bool = False


class Sql:
    """The WHERE clause being built, with its parameters in order.

    A condition written ``e.ocel_id IN (<subquery>)`` is also a *driver*: its subquery
    yields the ids of the events that meet it — for an event id, an EPC, a place, a lot or a
    sensor reading, a few, read through the store's indexes.
    :func:`~keiretsu.node.query.select.select_events` runs a driver first and, when it finds
    few events, reads only those rows of ``ocel_event`` by key (the condition then holds by
    construction and is left out) instead of scanning the events."""

    def __init__(self) -> None:
        self.clauses: list[Clause] = []

    @property
    def where(self) -> list[str]:
        return [c.text for c in self.clauses]

    @property
    def params(self) -> list[Any]:
        return [p for c in self.clauses for p in c.params]

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(Clause(clause, list(params), _subquery(clause)))

    def add_keyed(self, ids_sql: str, *params: Any) -> None:
        """Events whose id ``ids_sql`` yields, read through the indexes: a condition, and
        the first drivers tried."""
        self.clauses.append(Clause(f"{_IN}{ids_sql})", list(params), ids_sql, keyed=True))

    def drivers(self) -> list[tuple[int, Clause]]:
        """The clauses that are drivers, the keyed first."""
        found = [(i, c) for i, c in enumerate(self.clauses) if c.driver is not None]
        return sorted(found, key=lambda ic: not ic[1].keyed)

    def without(self, index: int) -> Sql:
        """The same conditions less one."""
        rest = Sql()
        rest.clauses = [c for i, c in enumerate(self.clauses) if i != index]
        return rest


def _attr_in(sql: Sql, name: str, values: Sequence[str]) -> None:
    sql.add(f"e.ocel_id IN ({_ATTR} AND list_contains(?::VARCHAR[], ocel_value))", name, values)


def _relation(
    sql: Sql,
    qualifiers: Sequence[str],
    values: Sequence[str],
    *,
    level: str | None,
    ocel_born: bool = False,
) -> None:
    """Events related, in one of ``qualifiers``, to an object matching one of ``values``;
    ``level`` "instance" / "class" keeps only EPCs / only quantity elements. With
    ``ocel_born``, relations of events that did not come as EPCIS (no ``eventType``) under a
    qualifier of their own also count: they are the event's ``epcList`` through EPCIS.

    Exact identifiers are looked up through the index on ``ocel_object_id`` (the events of
    an EPC found without reading the other relations); a pattern or a product, which match
    by regular expression, read every relation once."""
    exact, regex = matchers(values)
    columns = "ocel_event_id, ocel_object_id, ocel_qualifier, quantity, uom"
    if regex is None:
        hits = keyed("ocel_event_object", "ocel_object_id", columns)
        hit_params: list[Any] = [exact]
    else:
        hits = (
            f"(SELECT {columns} FROM ocel_event_object WHERE"
            " list_contains(?::VARCHAR[], ocel_object_id) OR regexp_full_match(ocel_object_id, ?))"
        )
        hit_params = [exact, regex]
    roles = "list_contains(?::VARCHAR[], eo.ocel_qualifier)"
    role_params: list[Any] = [list(qualifiers)]
    if ocel_born:
        # only the events of the relations found are looked up for their eventType
        typed = keyed(
            "ocel_event_attribute", "ocel_id", "ocel_id, ocel_name", "SELECT ocel_event_id FROM eo"
        )
        roles = (
            f"({roles} OR (NOT list_contains(?::VARCHAR[], eo.ocel_qualifier)"
            " AND NOT starts_with(eo.ocel_qualifier, 'source:')"
            " AND NOT starts_with(eo.ocel_qualifier, 'destination:')"
            f" AND eo.ocel_event_id NOT IN (SELECT ocel_id FROM {typed} WHERE ocel_name = ?)))"
        )
        role_params += [sorted(STANDARD_QUALIFIERS), _EVENT_TYPE_ATTR]
    where_level = ""
    level_params: list[Any] = []
    if level is not None:
        # class or instance: an amount on the relation, or an object typed as a class (the
        # objects found are looked up, not every object read)
        objects = keyed(
            "ocel_object", "ocel_id", "ocel_id, ocel_type", "SELECT ocel_object_id FROM eo"
        )
        is_class = (
            "(eo.quantity IS NOT NULL OR eo.uom IS NOT NULL OR eo.ocel_object_id IN"
            f" (SELECT ocel_id FROM {objects} WHERE list_contains(?::VARCHAR[], ocel_type)))"
        )
        where_level = f" AND {'NOT ' if level == 'instance' else ''}{is_class}"
        level_params.append(sorted(CLASS_TYPES))
    ids = (
        f"WITH eo AS MATERIALIZED (SELECT * FROM {hits})"
        f" SELECT eo.ocel_event_id FROM eo WHERE {roles}{where_level}"
    )
    params = [*hit_params, *role_params, *level_params]
    if regex is None:
        sql.add_keyed(ids, *params)
    else:
        sql.add(f"e.ocel_id IN ({ids})", *params)


def _unpack(found: tuple[str, list[Any]]) -> tuple[Any, ...]:
    return (found[0], *found[1])


def _no_prefixes(namespace: str) -> list[str]:
    return []


def conditions(query: EventQuery, resolve: Resolver = _no_prefixes) -> tuple[Sql, bool]:
    """The conditions of ``query`` on ``ocel_event e``; and whether the record time is used.
    ``resolve`` gives the prefixes the store's events write a namespace with (for extension
    fields named by a declared prefix or a namespace URI)."""
    sql = Sql()
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
        sql.add(f"{RECORD_TIME} >= ?", query.ge_record_time)
        record = True
    if query.lt_record_time is not None:
        sql.add(f"{RECORD_TIME} < ?", query.lt_record_time)
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
    for qualifier, places in (
        ("readPoint", query.wd_read_points),
        ("bizLocation", query.wd_biz_locations),
    ):
        if places:
            sql.add(*_unpack(within_sql(qualifier, places)))
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
        spellings = sorted({*written, *map(identifier, written)})
        pairs = (
            "from_json(json_extract(s.body, '$.bizTransactionList'),"
            ' \'[{"type":"VARCHAR","bizTransaction":"VARCHAR"}]\')'
        )
        relations = keyed(
            "ocel_event_object",
            "ocel_object_id",
            "ocel_event_id, ocel_object_id, ocel_qualifier",
        )
        objects = keyed(
            "ocel_object", "ocel_id", "ocel_id, ocel_type", "SELECT ocel_object_id FROM eo"
        )
        sources = keyed(
            "ocel_source_event", "ocel_id", "ocel_id, format, body", "SELECT ocel_event_id FROM eo"
        )
        sql.add_keyed(
            f"WITH eo AS MATERIALIZED (SELECT * FROM {relations}"
            " WHERE ocel_qualifier = 'bizTransaction')"
            f" SELECT eo.ocel_event_id FROM eo JOIN {objects} o ON o.ocel_id = eo.ocel_object_id"
            f" LEFT JOIN {sources} s ON s.ocel_id = eo.ocel_event_id AND s.format = ?"
            " WHERE CASE WHEN s.body IS NULL THEN o.ocel_type = ? ELSE"
            f" len(list_filter({pairs}, lambda x: list_contains(?::VARCHAR[], x.type)"
            "  AND list_contains(?::VARCHAR[], x.bizTransaction))) > 0"
            f" OR (len(list_filter({pairs},"
            "   lambda x: list_contains(?::VARCHAR[], x.bizTransaction))) = 0"
            f"  AND len(list_filter({pairs}, lambda x: list_contains(?::VARCHAR[], x.type))) > 0)"
            " END",
            sorted(map(identifier, written)),
            SOURCE_FORMAT,
            kind,
            kinds,
            spellings,
            spellings,
            kinds,
        )
    for side, typed in (("source", query.sources), ("destination", query.destinations)):
        for kind, values in typed:
            relations = keyed(
                "ocel_event_object",
                "ocel_object_id",
                "ocel_event_id, ocel_qualifier",
            )
            sql.add_keyed(
                f"SELECT ocel_event_id FROM {relations} WHERE ocel_qualifier = ?",
                sorted(map(identifier, values)),
                f"{side}:{kind}",
            )
    if query.event_ids:
        sql.add_keyed("SELECT unnest(?::VARCHAR[])", list(query.event_ids))
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
    for clause, params in [*field_sql(query.fields, resolve), *master_sql(query.master, resolve)]:
        sql.add(clause, *params)
    return sql, record


def selection(
    sql: Sql, record: bool, key: str, *, numeric: bool = False, events: str = "ocel_event"
) -> str:
    """The FROM … WHERE … of the selection, with the sort key ``k`` (microseconds of
    ``key``; ``key`` itself when ``numeric``) and, for a time, ``t`` (``key`` as a time: the
    order of ``k``, on the column itself, so that DuckDB's top-N skips the row groups it no
    longer needs). ``events`` is where the events are read from (``ocel_event``, or a keyed
    read of a few of them)."""
    joins = ""
    if record:
        joins = (
            " LEFT JOIN (SELECT ocel_id, max(TRY_CAST(ocel_value AS TIMESTAMPTZ)) AS t"
            " FROM ocel_event_attribute WHERE ocel_name = 'recordTime' GROUP BY ocel_id) k_rt"
            " ON k_rt.ocel_id = e.ocel_id"
            " LEFT JOIN ingest_log k_il ON k_il.ingest_id = e.ingest_id"
        )
    where = " AND ".join(sql.where) if sql.where else "true"
    keys = f"{key} AS k" if numeric else f"epoch_us({key}) AS k, {key} AS t"
    return (
        f"SELECT e.ocel_id AS id, {keys}, coalesce(e.ocel_seq, 0) AS s"
        f" FROM {events} e{joins} WHERE {where}"
    )
