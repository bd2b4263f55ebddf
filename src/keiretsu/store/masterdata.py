"""EPCIS master data kept with its history: what a location, a business step or a product
class *is* (its name, its address, the site it belongs to, its sub-locations).

An EPCIS 2.0 document may carry master data in its header
(``epcisHeader.epcisMasterData.vocabularyList``, XML ``EPCISHeader/extension/EPCISMasterData``):
vocabularies of a type (``urn:epcglobal:epcis:vtype:BusinessLocation``…), each a list of
elements, each with an ``id``, ``attributes`` (``id`` → value) and ``children`` (the ids of the
elements directly below it: a site's docks, a warehouse's rooms). The readers hand it on with
the document's last batch (``batch.master_data``, a list of :class:`MasterElement`), and
:func:`write_master_data` stores it in the transaction that writes that batch, so a refused
document leaves none of it (its rows, should a batch have been committed, are never read:
every read goes through the accepted documents only, and the next write clears them).

**History.** Nothing is overwritten. Every attribute value is kept with the document
(``ingest_id``) and the time (``recorded_at``, UTC) it arrived in; an element's current value
of an attribute is the one sent by the latest accepted document that sent that attribute
(documents are ordered by ``ingest_id``, the order the node accepted them). An element that
arrives without an attribute keeps the value sent before; a document that gives an element
``children`` states all of them (the list replaces the one sent before, and ``[]`` says it has
none); one that gives no ``children`` leaves them as they were.

**Hierarchies.** A location's descendants are its children, their children and so on — the
``children`` lists, and a sub-site's ``urn:epcglobal:cbv:mda:site`` attribute, which names the
site it belongs to (the CBV's sub-site master data, with ``sst`` its type and ``ssa`` its
attributes). :func:`descendants_sql` is the recursive statement ``WD_readPoint`` /
``WD_bizLocation`` use.

Ids are held as the store names things: GS1 keys as canonical Digital Links (the reader
canonicalises them as it does an event's locations), anything else as written; attribute ids
as full URIs (``cbvmda:sst`` → ``urn:epcglobal:cbv:mda:sst``). Values are text: strings as
sent, numbers and booleans in their JSON spelling, structured values as JSON.

Every name here is read unqualified, so a partner's view (:mod:`keiretsu.store.partner_view`)
shadows it: a partner sees the master data its policy projects into its view, none by default.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import duckdb

from keiretsu.model.cbv import MDA_SITE

__all__ = [
    "MASTERDATA_DDL",
    "SITE_ATTRIBUTE",
    "MasterElement",
    "StoredElement",
    "attach",
    "attribute_history",
    "current_attributes",
    "current_elements",
    "descendants",
    "descendants_sql",
    "elements",
    "write_master_data",
    "write_view_master_data",
]

SITE_ATTRIBUTE = MDA_SITE
"""The CBV master data attribute of a sub-site naming the site it belongs to (its parent)."""

ACCEPTED = "SELECT ingest_id FROM ingest_log WHERE status = 'accepted'"
"""The documents whose master data counts (a pending or refused one's never does)."""

MASTERDATA_DDL = [
    """
    -- Each time a document described a vocabulary element (EPCIS master data): which
    -- document, when, and whether it stated the element's children.
    CREATE TABLE IF NOT EXISTS masterdata_element (
        vocabulary_type VARCHAR NOT NULL,
        element_id VARCHAR NOT NULL,
        children_given BOOLEAN NOT NULL,
        ingest_id BIGINT NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL
    )
    """,
    """
    -- Every attribute value ever sent for an element, with the document it came in: the
    -- current value is the latest accepted document's (masterdata_attribute_now).
    CREATE TABLE IF NOT EXISTS masterdata_attribute (
        vocabulary_type VARCHAR NOT NULL,
        element_id VARCHAR NOT NULL,
        attribute_id VARCHAR NOT NULL,
        value VARCHAR,
        ingest_id BIGINT NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL
    )
    """,
    """
    -- The children an element was given, per document that stated them.
    CREATE TABLE IF NOT EXISTS masterdata_child (
        vocabulary_type VARCHAR NOT NULL,
        parent_id VARCHAR NOT NULL,
        child_id VARCHAR NOT NULL,
        ingest_id BIGINT NOT NULL
    )
    """,
    f"""
    -- Each element's attributes as they stand: per attribute, the latest accepted value.
    CREATE OR REPLACE VIEW masterdata_attribute_now AS
    SELECT vocabulary_type, element_id, attribute_id, value, ingest_id, recorded_at
    FROM masterdata_attribute WHERE ingest_id IN ({ACCEPTED})
    QUALIFY row_number() OVER (
        PARTITION BY element_id, attribute_id ORDER BY ingest_id DESC) = 1
    """,
    f"""
    -- Parent → child as they stand: the children of the latest accepted document that
    -- stated them, and each sub-site under the site its current 'site' attribute names.
    CREATE OR REPLACE VIEW masterdata_child_now AS
    WITH stated AS (
        SELECT element_id, max(ingest_id) AS ingest_id FROM masterdata_element
        WHERE children_given AND ingest_id IN ({ACCEPTED}) GROUP BY element_id
    )
    SELECT c.parent_id, c.child_id FROM masterdata_child c
    JOIN stated s ON s.element_id = c.parent_id AND s.ingest_id = c.ingest_id
    UNION
    SELECT value AS parent_id, element_id AS child_id FROM masterdata_attribute_now
    WHERE attribute_id = '{SITE_ATTRIBUTE}' AND value IS NOT NULL AND value <> element_id
    """,
]
"""The master-data tables and views (part of :data:`keiretsu.store.schema.DDL`)."""


class MasterElement(Protocol):
    """One vocabulary element as a document described it (what the EPCIS reader hands on:
    :class:`keiretsu.io.epcis.masterdata.VocabularyElement`)."""

    @property
    def vocabulary_type(self) -> str: ...
    @property
    def element_id(self) -> str: ...
    @property
    def attributes(self) -> Sequence[tuple[str, str | None]]:
        """(attribute id as a full URI, value as text) in the order sent."""
        ...

    @property
    def children(self) -> Sequence[str] | None:
        """The element's children, or ``None`` when the document did not state them."""
        ...


@dataclass(frozen=True)
class StoredElement:
    """A vocabulary element as the store holds it now (a :class:`MasterElement`)."""

    vocabulary_type: str
    element_id: str
    attributes: tuple[tuple[str, str | None], ...] = ()
    children: tuple[str, ...] | None = None


def attach(ocel: Any, master: Sequence[MasterElement]) -> Any:
    """``ocel`` (an OCEL log or batch) carrying ``master`` as its ``master_data``: how master
    data travels with events — from a reader to the store, from the store through the sharing
    policy into a partner's view. Returns ``ocel`` itself."""
    object.__setattr__(ocel, "master_data", tuple(master))  # the log is a frozen dataclass
    return ocel


@dataclass
class _Rows:
    elements: list[list[Any]] = field(default_factory=list)
    attributes: list[list[Any]] = field(default_factory=list)
    children: list[list[Any]] = field(default_factory=list)


def write_master_data(con: duckdb.DuckDBPyConnection, batch: object, ingest_id: int) -> int:
    """Store the master data a batch carries (``batch.master_data``; none for most batches
    and for every format but EPCIS) as sent by document ``ingest_id``, inside the caller's
    transaction. Returns the number of elements written."""
    found: Sequence[MasterElement] | None = getattr(batch, "master_data", None)
    if not found:
        return 0
    now = datetime.now(UTC)
    rows = _Rows()
    for el in found:
        rows.elements.append(
            [el.vocabulary_type, el.element_id, el.children is not None, ingest_id, now]
        )
        rows.attributes += [
            [el.vocabulary_type, el.element_id, name, value, ingest_id, now]
            for name, value in el.attributes
        ]
        rows.children += [
            [el.vocabulary_type, el.element_id, child, ingest_id]
            for child in dict.fromkeys(el.children or ())
        ]
    # rows of documents refused after a batch of theirs was committed are never read; clear
    # them now so that the tables hold accepted documents' master data only
    for table in ("masterdata_element", "masterdata_attribute", "masterdata_child"):
        con.execute(
            f"DELETE FROM {table} WHERE ingest_id IN (SELECT ingest_id FROM ingest_log"
            " WHERE status NOT IN ('accepted', 'pending'))"
        )
    con.executemany("INSERT INTO masterdata_element VALUES (?, ?, ?, ?, ?)", rows.elements)
    if rows.attributes:
        con.executemany(
            "INSERT INTO masterdata_attribute VALUES (?, ?, ?, ?, ?, ?)", rows.attributes
        )
    if rows.children:
        con.executemany("INSERT INTO masterdata_child VALUES (?, ?, ?, ?)", rows.children)
    return len(found)


def descendants_sql(values_param: str = "?") -> str:
    """A statement of the ids ``values_param`` (a ``VARCHAR[]``) names and all their
    descendants, direct or not (column ``id``); cycles in the master data end the walk."""
    return (
        "WITH RECURSIVE k_tree(id) AS ("
        f" SELECT unnest({values_param}::VARCHAR[])"
        " UNION SELECT c.child_id FROM masterdata_child_now c JOIN k_tree t ON c.parent_id = t.id"
        ") SELECT id FROM k_tree"
    )


def descendants(con: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> set[str]:
    """The given element ids and every element below them (the twin's own master data, or a
    partner's view of it when ``con`` reads one)."""
    return {str(r[0]) for r in con.execute(descendants_sql(), [list(ids)]).fetchall()}


def current_attributes(con: duckdb.DuckDBPyConnection, element_id: str) -> dict[str, str | None]:
    """An element's attributes as they stand (attribute id → value)."""
    rows = con.execute(
        "SELECT attribute_id, value FROM masterdata_attribute_now WHERE element_id = ?"
        " ORDER BY attribute_id",
        [element_id],
    ).fetchall()
    return {str(r[0]): r[1] for r in rows}


def attribute_history(
    con: duckdb.DuckDBPyConnection, element_id: str
) -> list[tuple[str, str | None, int, datetime]]:
    """Every value an element's attributes had, oldest first: (attribute id, value, the
    document's ``ingest_id``, when it arrived)."""
    rows = con.execute(
        "SELECT attribute_id, value, ingest_id, recorded_at FROM masterdata_attribute"
        f" WHERE element_id = ? AND ingest_id IN ({ACCEPTED})"
        " ORDER BY ingest_id, attribute_id",
        [element_id],
    ).fetchall()
    return [(str(r[0]), r[1], int(r[2]), r[3]) for r in rows]


def elements(
    con: duckdb.DuckDBPyConnection, vocabulary_type: str | None = None
) -> list[dict[str, Any]]:
    """The vocabulary elements as they stand, in the JSON binding's shape (``type``,
    ``vocabularyElementList`` of ``id``, ``attributes``, ``children``), one vocabulary per
    type; only those of ``vocabulary_type`` if given."""
    where = f"ingest_id IN ({ACCEPTED})"
    params: list[Any] = []
    if vocabulary_type is not None:
        where += " AND vocabulary_type = ?"
        params.append(vocabulary_type)
    known = con.execute(
        "SELECT vocabulary_type, element_id FROM masterdata_element"
        f" WHERE {where} GROUP BY ALL ORDER BY vocabulary_type, element_id",
        params,
    ).fetchall()
    attrs: dict[str, list[dict[str, Any]]] = {}
    for element_id, attribute_id, value in con.execute(
        "SELECT element_id, attribute_id, value FROM masterdata_attribute_now"
        " ORDER BY element_id, attribute_id"
    ).fetchall():
        attrs.setdefault(str(element_id), []).append({"id": attribute_id, "attribute": value})
    kids: dict[str, list[str]] = {}
    for parent, child in con.execute(
        "SELECT parent_id, child_id FROM masterdata_child_now ORDER BY parent_id, child_id"
    ).fetchall():
        kids.setdefault(str(parent), []).append(str(child))
    out: dict[str, list[dict[str, Any]]] = {}
    for vtype, element_id in known:
        item: dict[str, Any] = {"id": element_id}
        if str(element_id) in attrs:
            item["attributes"] = attrs[str(element_id)]
        if str(element_id) in kids:
            item["children"] = kids[str(element_id)]
        out.setdefault(str(vtype), []).append(item)
    return [{"type": t, "vocabularyElementList": items} for t, items in out.items()]


def current_elements(con: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> list[StoredElement]:
    """The elements among ``ids`` that have master data, as they stand: their current
    attributes, and their children as last stated (``None`` if never stated; a sub-site's link
    to its site is its ``site`` attribute)."""
    wanted = sorted(set(ids))
    if not wanted:
        return []
    kinds = dict(
        con.execute(
            "SELECT element_id, arg_max(vocabulary_type, ingest_id) FROM masterdata_element"
            f" WHERE list_contains(?::VARCHAR[], element_id) AND ingest_id IN ({ACCEPTED})"
            " GROUP BY element_id",
            [wanted],
        ).fetchall()
    )
    if not kinds:
        return []
    attrs: dict[str, list[tuple[str, str | None]]] = {}
    for element_id, attribute_id, value in con.execute(
        "SELECT element_id, attribute_id, value FROM masterdata_attribute_now"
        " WHERE list_contains(?::VARCHAR[], element_id) ORDER BY element_id, attribute_id",
        [wanted],
    ).fetchall():
        attrs.setdefault(str(element_id), []).append((str(attribute_id), value))
    kids: dict[str, list[str]] = {}
    # the children as last stated (a sub-site's link to its site travels as its attribute)
    for parent, child in con.execute(
        "WITH stated AS (SELECT element_id, max(ingest_id) AS ingest_id FROM masterdata_element"
        f" WHERE children_given AND ingest_id IN ({ACCEPTED})"
        " AND list_contains(?::VARCHAR[], element_id) GROUP BY element_id)"
        " SELECT c.parent_id, c.child_id FROM masterdata_child c"
        " JOIN stated s ON s.element_id = c.parent_id AND s.ingest_id = c.ingest_id"
        " ORDER BY c.parent_id, c.child_id",
        [wanted],
    ).fetchall():
        kids.setdefault(str(parent), []).append(str(child))
    stated = {
        str(r[0])
        for r in con.execute(
            "SELECT DISTINCT element_id FROM masterdata_element WHERE children_given"
            f" AND ingest_id IN ({ACCEPTED}) AND list_contains(?::VARCHAR[], element_id)",
            [wanted],
        ).fetchall()
    }
    return [
        StoredElement(
            str(kinds[i]),
            i,
            tuple(attrs.get(i, ())),
            tuple(kids.get(i, ())) if i in stated else None,
        )
        for i in sorted(kinds)
    ]


def write_view_master_data(
    con: duckdb.DuckDBPyConnection, schema: str, master: Sequence[MasterElement]
) -> None:
    """Put the master data a partner may see into its view ``schema`` (whose
    ``masterdata_attribute_now`` and ``masterdata_child_now`` are tables of their own): each
    element's attributes replace those the view held, its links to children are added (between
    two rebuilds of a view its hierarchy only grows, like its objects). Inside the caller's
    transaction."""
    if not master:
        return
    now = datetime.now(UTC)
    ids = sorted({el.element_id for el in master})
    con.execute(
        f"DELETE FROM {schema}.masterdata_attribute_now"
        " WHERE list_contains(?::VARCHAR[], element_id)",
        [ids],
    )
    attributes = [
        [el.vocabulary_type, el.element_id, name, value, 0, now]
        for el in master
        for name, value in el.attributes
    ]
    if attributes:
        con.executemany(
            f"INSERT INTO {schema}.masterdata_attribute_now VALUES (?, ?, ?, ?, ?, ?)",
            attributes,
        )
    pairs = {(el.element_id, child) for el in master for child in el.children or ()}
    pairs |= {
        (value, el.element_id)
        for el in master
        for name, value in el.attributes
        if name == SITE_ATTRIBUTE and value and value != el.element_id
    }
    if pairs:
        con.executemany(
            f"INSERT INTO {schema}.masterdata_child_now SELECT ?, ? WHERE NOT EXISTS"
            f" (SELECT 1 FROM {schema}.masterdata_child_now WHERE parent_id = ? AND child_id = ?)",
            [[p, c, p, c] for p, c in sorted(pairs)],
        )
