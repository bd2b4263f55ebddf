"""OCEL 2.0 SQLite: the standard's relational layout, read and written with Python's sqlite3.

The file has ``event`` (id, type) and ``object`` (id, type), the relations ``event_object`` and
``object_object``, and one table per type: ``event_<Type>`` (id, time, one column per
attribute) and ``object_<Type>`` (id, time, ``ocel_changed_field``, one column per attribute).
``event_map_type`` / ``object_map_type`` map each type name to its table suffix.

Object attribute history: a row whose ``ocel_changed_field`` is null gives the object's values
at ``ocel_time`` (its initial state, usually stamped at the epoch); a row naming a field gives
that one field's new value at ``ocel_time``.

Column types give attribute types: ``INTEGER`` → integer, ``REAL``/``FLOAT``/``DOUBLE`` → float,
``BOOLEAN`` → boolean, ``TIMESTAMP``/``DATETIME``/``DATE`` → time, anything else → string.

Times are stored as text without an offset (``2023-04-03 12:08:18``). This reader takes them as
UTC, and the writer writes UTC. Some files written by pm4py hold *local* wall-clock times
instead (``ocel20_example.sqlite`` stamps the epoch as ``1970-01-01 01:00:00``); the file does
not say which zone, so they are read as UTC, not guessed.

DuckDB's sqlite scanner would need an extension download, which a node may not be allowed to
make, so the standard library's sqlite3 is used.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from keiretsu.io.ocel._shared import (
    DEFAULT_BATCH_SIZE,
    Relation,
    canonical,
    document_name,
    prepare,
    refuse,
    restore_extension,
    strip_extension_declarations,
    to_time,
    warn_dangling,
)
from keiretsu.model.errors import DocumentError
from keiretsu.model.ocel import EPOCH, Ocel, OcelBuilder

_FIXED_EVENT = ("ocel_id", "ocel_time")
_FIXED_OBJECT = ("ocel_id", "ocel_time", "ocel_changed_field")
_SQL_TYPE = {
    "string": "TEXT",
    "integer": "INTEGER",
    "float": "REAL",
    "boolean": "BOOLEAN",
    "time": "TIMESTAMP",
}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column_type(declared: str) -> str:
    """A SQLite column's declared type → the OCEL attribute type."""
    d = (declared or "").upper()
    if "BOOL" in d:
        return "boolean"
    if "INT" in d:
        return "integer"
    if any(k in d for k in ("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL")):
        return "float"
    if any(k in d for k in ("TIME", "DATE")):
        return "time"
    return "string"


def _id(value: Any) -> str:
    """An id as pandas may have stored it (an integer, or a float such as 880001.0) → text."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_ocel_sqlite(
    path: str | Path,
    *,
    document: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[Ocel]:
    """Read an OCEL 2.0 SQLite file as :class:`Ocel` batches of about ``batch_size`` events.

    Objects and their attribute history come first, then events type by type, then the
    event-to-object relations. Raises :class:`DocumentError` naming the file, the table and
    column, and the row on anything that is not OCEL 2.0: a missing table, an event whose type
    has no table or no row in it, a time that is not a time, a value not of its column's type.
    Relations to objects the file never declares are dropped with a
    :class:`DanglingRelationWarning` (``logistics.sqlite`` relates 2,540 events to handling units
    it never lists).
    """
    doc = document_name(path, document)
    if not os.path.isfile(path):
        raise refuse(doc, "no such file", expected="an OCEL 2.0 SQLite file")
    uri = Path(path).absolute().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise refuse(doc, f"cannot open as SQLite: {exc}", title="Not a SQLite file") from None
    try:
        yield from _Reader(conn, doc, max(1, batch_size)).run()
    except sqlite3.DatabaseError as exc:
        raise refuse(
            doc,
            f"SQLite refused the file: {exc}",
            title="Not an OCEL 2.0 SQLite file",
            expected="an SQLite database in the OCEL 2.0 relational layout",
        ) from None
    finally:
        conn.close()


class _Reader:
    def __init__(self, conn: sqlite3.Connection, doc: str, batch_size: int) -> None:
        self.c = conn
        self.doc = doc
        self.batch_size = batch_size
        self.b = OcelBuilder()

    def _err(
        self, detail: str, field: str, expected: str | None = None, index: int | None = None
    ) -> DocumentError:
        return refuse(self.doc, detail, field=field, expected=expected, event_index=index)

    def _columns(self, table: str) -> list[tuple[str, str]]:
        rows = self.c.execute(f"PRAGMA table_info({_q(table)})").fetchall()
        return [(str(r[1]), str(r[2] or "")) for r in rows]

    def _need(self, tables: set[str], table: str, columns: tuple[str, ...]) -> None:
        if table not in tables:
            raise self._err(f"there is no table {table!r}", table, "the OCEL 2.0 SQLite layout")
        have = {name for name, _ in self._columns(table)}
        for col in columns:
            if col not in have:
                raise self._err(
                    f"table {table!r} has no column {col!r}", f"{table}.{col}", "column " + col
                )

    def _map(self, tables: set[str], table: str) -> dict[str, str]:
        self._need(tables, table, ("ocel_type", "ocel_type_map"))
        out: dict[str, str] = {}
        for otype, suffix in self.c.execute(f"SELECT ocel_type, ocel_type_map FROM {table}"):
            if otype is None or suffix is None:
                raise self._err("a type or its table name is null", table, "both filled")
            out[str(otype)] = str(suffix)
        return out

    def run(self) -> Iterator[Ocel]:
        c, b = self.c, self.b
        tables = {str(r[0]) for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for table, needed in (
            ("event", ("ocel_id", "ocel_type")),
            ("object", ("ocel_id", "ocel_type")),
            ("event_object", ("ocel_event_id", "ocel_object_id", "ocel_qualifier")),
            ("object_object", ("ocel_source_id", "ocel_target_id", "ocel_qualifier")),
        ):
            self._need(tables, table, needed)
        event_map = self._map(tables, "event_map_type")
        object_map = self._map(tables, "object_map_type")

        # declarations: the per-type tables' columns
        object_cols: dict[str, list[tuple[str, str]]] = {}
        for otype, suffix in object_map.items():
            table = "object_" + suffix
            self._need(tables, table, ("ocel_id",))
            cols = [
                (name, column_type(decl))
                for name, decl in self._columns(table)
                if name not in _FIXED_OBJECT
            ]
            object_cols[otype] = cols
            b.declare_object_type(otype, dict(cols))
        event_cols: dict[str, list[tuple[str, str]]] = {}
        for etype, suffix in event_map.items():
            table = "event_" + suffix
            self._need(tables, table, _FIXED_EVENT)
            cols = [
                (name, column_type(decl))
                for name, decl in self._columns(table)
                if name not in _FIXED_EVENT
            ]
            event_cols[etype] = cols
            b.declare_event_type(etype, strip_extension_declarations(dict(cols)))

        object_type: dict[str, str] = {}
        for n, (oid, otype) in enumerate(c.execute("SELECT ocel_id, ocel_type FROM object")):
            if oid is None:
                raise self._err(f"row {n + 1} has no id", "object.ocel_id", "an object id")
            oid = _id(oid)
            if otype not in object_map:
                raise self._err(
                    f"object {oid!r} has type {otype!r}, which object_map_type does not list",
                    "object.ocel_type",
                    "a type listed in object_map_type",
                )
            if oid in object_type:
                raise self._err(f"object id {oid!r} appears twice", "object.ocel_id", "unique ids")
            object_type[oid] = otype
            b.add_object(oid, otype)
            if len(b.ob_id) >= self.batch_size:
                yield b.build()
        yield from self._object_attributes(object_map, object_cols, object_type)

        dangling: list[str] = []
        for source, target, qualifier in c.execute(
            "SELECT ocel_source_id, ocel_target_id, ocel_qualifier FROM object_object"
        ):
            source, target = _id(source), _id(target)
            if source not in object_type or target not in object_type:
                dangling.append(target if source in object_type else source)
                continue
            b.link(source, target, "" if qualifier is None else str(qualifier))
        if dangling:
            warn_dangling(self.doc, "object-to-object relations", len(dangling), dangling[0])

        relations = self._relations(object_type)
        yield from self._events(event_map, event_cols, relations)
        if relations:
            warn_dangling(
                self.doc,
                "event-to-object relations (to events the file does not list)",
                sum(len(r) for r in relations.values()),
                next(iter(relations)),
            )
        yield b.build()

    def _object_attributes(
        self,
        object_map: dict[str, str],
        object_cols: dict[str, list[tuple[str, str]]],
        object_type: dict[str, str],
    ) -> Iterator[Ocel]:
        b = self.b
        for otype, suffix in object_map.items():
            table = "object_" + suffix
            cols = object_cols[otype]
            have = {name for name, _ in self._columns(table)}
            time_sql = "ocel_time" if "ocel_time" in have else "NULL"
            changed_sql = "ocel_changed_field" if "ocel_changed_field" in have else "NULL"
            select = ", ".join([time_sql, changed_sql, "ocel_id"] + [_q(n) for n, _ in cols])
            positions = {name: k for k, (name, _) in enumerate(cols)}
            for n, row in enumerate(self.c.execute(f"SELECT {select} FROM {_q(table)}")):
                oid = _id(row[2])
                if object_type.get(oid) != otype:
                    raise self._err(
                        f"row {n + 1} is for object {oid!r}, which the object table "
                        + ("does not list" if oid not in object_type else "types differently"),
                        f"{table}.ocel_id",
                        f"an object of type {otype!r} listed in the object table",
                    )
                raw_time = row[0]
                time = EPOCH if raw_time is None else self._time(raw_time, f"{table}.ocel_time")
                changed = row[1]
                if changed is None:
                    picks = range(len(cols))
                else:
                    k = positions.get(str(changed))
                    if k is None:
                        raise self._err(
                            f"row {n + 1} changes {changed!r}, which is not a column of {table}",
                            f"{table}.ocel_changed_field",
                            "the name of an attribute column",
                        )
                    picks = range(k, k + 1)
                for k in picks:
                    value = row[3 + k]
                    if value is None:
                        continue
                    name, vtype = cols[k]
                    text = self._value(value, vtype, f"{table}.{name}", n)
                    b.add_object_attribute(oid, name, text, time, vtype)
                if len(b.oa_id) >= self.batch_size:
                    yield b.build()

    def _events(
        self,
        event_map: dict[str, str],
        event_cols: dict[str, list[tuple[str, str]]],
        relations: dict[str, list[Relation]],
    ) -> Iterator[Ocel]:
        c, b = self.c, self.b
        dup = c.execute(
            "SELECT ocel_id FROM event GROUP BY ocel_id HAVING count(*) > 1 LIMIT 1"
        ).fetchone()
        if dup is not None:
            raise self._err(
                f"event id {_id(dup[0])!r} appears twice", "event.ocel_id", "unique ids"
            )
        unknown = c.execute(
            "SELECT ocel_id, ocel_type FROM event WHERE ocel_type IS NULL OR ocel_type NOT IN "
            "(SELECT ocel_type FROM event_map_type) LIMIT 1"
        ).fetchone()
        if unknown is not None:
            raise self._err(
                f"event {_id(unknown[0])!r} has type {unknown[1]!r}, which event_map_type "
                "does not list",
                "event.ocel_type",
                "a type listed in event_map_type",
            )
        total = 0
        index = 0
        for etype, suffix in event_map.items():
            table = "event_" + suffix
            cols = event_cols[etype]
            select = ", ".join(
                ["t.ocel_id", "t.ocel_time", "e.ocel_type"] + [f"t.{_q(n)}" for n, _ in cols]
            )
            query = f"SELECT {select} FROM {_q(table)} t LEFT JOIN event e ON e.ocel_id = t.ocel_id"
            for n, row in enumerate(c.execute(query)):
                eid = _id(row[0])
                if row[2] != etype:
                    raise self._err(
                        f"row {n + 1} is for event {eid!r}, which the event table "
                        + ("does not list" if row[2] is None else f"types as {row[2]!r}"),
                        f"{table}.ocel_id",
                        f"an event of type {etype!r} listed in the event table",
                        index,
                    )
                time = self._time(row[1], f"{table}.ocel_time", index)
                attrs: list[tuple[str, str, str]] = []
                for k, (name, vtype) in enumerate(cols):
                    value = row[3 + k]
                    if value is not None:
                        text = self._value(value, vtype, f"{table}.{name}", index)
                        attrs.append((name, text, vtype))
                rels = relations.pop(eid, [])
                attrs = restore_extension(attrs, rels)
                b.add_event(eid, etype, time)
                for name, text, vtype in attrs:
                    b.add_event_attribute(eid, name, text, vtype)
                for rel in rels:
                    b.relate(eid, rel.object_id, rel.qualifier, rel.quantity, rel.uom)
                index += 1
                total += 1
                if len(b) >= self.batch_size:
                    yield b.build()
        listed = c.execute("SELECT count(*) FROM event").fetchone()[0]
        if listed != total:
            missing = c.execute(
                "SELECT ocel_id, ocel_type FROM event e WHERE NOT EXISTS "
                "(SELECT 1 FROM event_map_type m WHERE m.ocel_type = e.ocel_type) LIMIT 1"
            ).fetchone()
            raise self._err(
                f"the event table lists {listed:,} events but the per-type tables hold "
                f"{total:,} rows" + (f" (e.g. event {_id(missing[0])!r})" if missing else ""),
                "event.ocel_id",
                "one row per event in its type's event_<Type> table, with its time",
            )

    def _relations(self, object_type: dict[str, str]) -> dict[str, list[Relation]]:
        """Event id → its relations to declared objects, in file order."""
        dangling = 0
        example = ""
        out: dict[str, list[Relation]] = {}
        for event_id, object_id, qualifier in self.c.execute(
            "SELECT ocel_event_id, ocel_object_id, ocel_qualifier FROM event_object"
        ):
            oid = _id(object_id)
            if oid not in object_type:
                dangling += 1
                example = example or oid
                continue
            rel = Relation(oid, "" if qualifier is None else str(qualifier))
            out.setdefault(_id(event_id), []).append(rel)
        warn_dangling(self.doc, "event-to-object relations", dangling, example)
        return out

    def _time(self, value: Any, field: str, index: int | None = None) -> datetime:
        try:
            return to_time(value)
        except ValueError as exc:
            raise self._err(f"time {value!r}", field, str(exc), index) from None

    def _value(self, value: Any, vtype: str, field: str, index: int | None = None) -> str:
        if isinstance(value, bytes):
            raise self._err("a binary value", field, f"a {vtype} value", index)
        try:
            return canonical(value, vtype)
        except ValueError as exc:
            raise self._err(
                f"value {value!r} of column type {vtype}", field, str(exc), index
            ) from None


# --- writing -------------------------------------------------------------------------------


def _suffixes(names: list[str]) -> dict[str, str]:
    """Type name → table suffix: letters and digits only, as pm4py names them, made unique."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        base = "".join(ch for ch in name if ch.isalnum()) or "type"
        suffix, n = base, 1
        while suffix.lower() in used:
            n += 1
            suffix = f"{base}{n}"
        used.add(suffix.lower())
        out[name] = suffix
    return out


def _sql_value(text: str, vtype: str) -> Any:
    if vtype == "integer":
        number = int(text)
        return number if -(2**63) <= number < 2**63 else text
    if vtype == "float":
        return float(text)
    if vtype == "boolean":
        return 1 if text == "true" else 0
    if vtype == "time":
        return _sql_time(to_time(text))
    return text


def _sql_time(value: datetime) -> str:
    """A UTC instant as the OCEL SQLite files store it: ``YYYY-MM-DD HH:MM:SS[.ffffff]``."""
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text


def write_ocel_sqlite(ocel: Ocel, path: str | Path) -> None:
    """Write ``ocel`` as an OCEL 2.0 SQLite file (replacing any file at ``path``).

    Times are written in UTC without an offset, the way the standard's example files store
    them. Each object gets one row with ``ocel_changed_field`` null holding its earliest
    values, and one row per later change. E2O quantities and units go into event attributes
    ``quantity[<object id>]`` / ``uom[<object id>]``; ``source_events`` are not written.
    Raises ``ValueError`` if an attribute is named like a fixed column (``ocel_id``,
    ``ocel_time``, ``ocel_changed_field``).
    """
    p = prepare(ocel)
    for decls, fixed in ((p.event_types, _FIXED_EVENT), (p.object_types, _FIXED_OBJECT)):
        for d in decls:
            for name in d.attributes:
                if name in fixed:
                    raise ValueError(
                        f"type {d.name!r} has an attribute named {name!r}, which the OCEL 2.0 "
                        "SQLite layout keeps for its own column"
                    )
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
    conn = sqlite3.connect(str(path))
    try:
        c = conn.cursor()
        c.execute("PRAGMA journal_mode=OFF")
        c.execute("PRAGMA synchronous=OFF")
        c.execute("CREATE TABLE event_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT)")
        c.execute("CREATE TABLE object_map_type (ocel_type TEXT PRIMARY KEY, ocel_type_map TEXT)")
        c.execute("CREATE TABLE event (ocel_id TEXT PRIMARY KEY, ocel_type TEXT)")
        c.execute("CREATE TABLE object (ocel_id TEXT PRIMARY KEY, ocel_type TEXT)")
        c.execute(
            "CREATE TABLE event_object (ocel_event_id TEXT, ocel_object_id TEXT, "
            "ocel_qualifier TEXT)"
        )
        c.execute(
            "CREATE TABLE object_object (ocel_source_id TEXT, ocel_target_id TEXT, "
            "ocel_qualifier TEXT)"
        )
        ev_suffix = _suffixes([d.name for d in p.event_types])
        ob_suffix = _suffixes([d.name for d in p.object_types])
        c.executemany("INSERT INTO event_map_type VALUES (?, ?)", ev_suffix.items())
        c.executemany("INSERT INTO object_map_type VALUES (?, ?)", ob_suffix.items())

        ev_columns: dict[str, list[str]] = {}
        for d in p.event_types:
            cols = list(d.attributes)
            ev_columns[d.name] = cols
            defs = ", ".join(
                ["ocel_id TEXT PRIMARY KEY", "ocel_time TIMESTAMP"]
                + [f"{_q(k)} {_SQL_TYPE.get(d.attributes[k], 'TEXT')}" for k in cols]
            )
            c.execute(f"CREATE TABLE {_q('event_' + ev_suffix[d.name])} ({defs})")
        ob_columns: dict[str, list[str]] = {}
        for d in p.object_types:
            cols = list(d.attributes)
            ob_columns[d.name] = cols
            defs = ", ".join(
                ["ocel_id TEXT", "ocel_time TIMESTAMP", "ocel_changed_field TEXT"]
                + [f"{_q(k)} {_SQL_TYPE.get(d.attributes[k], 'TEXT')}" for k in cols]
            )
            c.execute(f"CREATE TABLE {_q('object_' + ob_suffix[d.name])} ({defs})")

        c.executemany("INSERT INTO object VALUES (?, ?)", ((o.id, o.type) for o in p.objects))
        c.executemany(
            "INSERT INTO object_object VALUES (?, ?, ?)",
            ((o.id, t, q) for o in p.objects for t, q in o.relations),
        )
        ob_rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in ob_columns}
        for o in p.objects:
            cols = ob_columns[o.type]
            position = {k: i for i, k in enumerate(cols)}
            t0 = o.attributes[0][1] if o.attributes else EPOCH
            initial: list[Any] = [None] * len(cols)
            changes: list[tuple[Any, ...]] = []
            for name, time, text, vtype in o.attributes:
                k = position[name]
                value = _sql_value(text, vtype)
                if time == t0 and initial[k] is None:
                    initial[k] = value
                else:
                    row: list[Any] = [None] * len(cols)
                    row[k] = value
                    changes.append((o.id, _sql_time(time), name, *row))
            ob_rows[o.type].append((o.id, _sql_time(t0), None, *initial))
            ob_rows[o.type].extend(changes)
        for name, rows in ob_rows.items():
            marks = ", ".join("?" * (3 + len(ob_columns[name])))
            c.executemany(f"INSERT INTO {_q('object_' + ob_suffix[name])} VALUES ({marks})", rows)

        c.executemany("INSERT INTO event VALUES (?, ?)", ((e.id, e.type) for e in p.events))
        c.executemany(
            "INSERT INTO event_object VALUES (?, ?, ?)",
            ((e.id, o, q) for e in p.events for o, q in e.relations),
        )
        ev_rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in ev_columns}
        for e in p.events:
            cols = ev_columns[e.type]
            values: list[Any] = [None] * len(cols)
            position = {k: i for i, k in enumerate(cols)}
            for name, text, vtype in e.attributes:
                values[position[name]] = _sql_value(text, vtype)
            ev_rows[e.type].append((e.id, _sql_time(e.time), *values))
        for name, rows in ev_rows.items():
            marks = ", ".join("?" * (2 + len(ev_columns[name])))
            c.executemany(f"INSERT INTO {_q('event_' + ev_suffix[name])} VALUES ({marks})", rows)
        conn.commit()
    finally:
        conn.close()
