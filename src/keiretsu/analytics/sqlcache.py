"""Compiled SQL kept for the views, so a view built again costs its query, not Ibis compiling it.

On small and medium logs almost all the time a view takes is Ibis turning the expression into
SQL (0.05–0.5 s per query, a report runs about 150 queries), not DuckDB running it. The same
view over the same store builds the same expression again — in the next ``keiretsu analyze``,
in the node's pages recomputed after each document, in the kaizen curve's periods — so the SQL
Ibis compiled for it is kept:

* in this process, keyed by the expression itself (Ibis compares expressions by structure);
* on disk, keyed by a fingerprint of the expression's structure (every operation, column,
  literal and table name; tables held in memory by their position and columns, since their
  generated names differ per run), so another process finds it. The directory is
  ``$KEIRETSU_SQL_CACHE`` if set, else ``$XDG_CACHE_HOME/keiretsu/sql`` (``~/.cache/…``);
  ``KEIRETSU_SQL_CACHE=off`` keeps the cache in the process only. Files are written whole
  (temporary file, then rename), so processes sharing it never read half a query; the
  oldest are removed beyond :data:`DISK_MAX` files.

The SQL is exactly what Ibis would compile for that expression (the key holds the versions of
Ibis and sqlglot and Ibis's SQL options), so results are unchanged: an expression whose
structure cannot be fingerprinted (it holds a Python object without a stable text form) is
simply compiled each time.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import decimal
import enum
import hashlib
import os
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot
from ibis.common.graph import Node
from ibis.expr.datashape import DataShape
from ibis.expr.operations.udf import InputType

MEMORY_MAX = 4096
"""Compiled queries kept in this process (cleared when full)."""

DISK_MAX = 20_000
"""Files kept in the disk cache; beyond it the oldest half is removed."""

_memory: dict[Any, tuple[str, tuple[str, ...]]] = {}
_lock = threading.Lock()
_counts = {"hits": 0, "disk_hits": 0, "compiled": 0, "uncacheable": 0, "queries": 0}
_seconds = {"compile": 0.0, "query": 0.0}
_PLACEHOLDER = "__keiretsu_memtable_{}__"
_SQLGLOT = str(getattr(sqlglot, "__version__", "?"))


def stats() -> dict[str, float]:
    """How many queries this process ran (``queries``), took from the cache (``hits`` in
    memory, ``disk_hits``), compiled (``compiled``) or could not key (``uncacheable``), and
    the seconds spent compiling (``compile_seconds``: Ibis, including keying and reading the
    cache) and running them (``query_seconds``: DuckDB, to Arrow)."""
    out: dict[str, float] = dict(_counts)
    out["compile_seconds"] = _seconds["compile"]
    out["query_seconds"] = _seconds["query"]
    return out


def clear_memory() -> None:
    """Forget the queries kept in this process (the disk cache stays)."""
    with _lock:
        _memory.clear()


def cache_dir() -> Path | None:
    """The disk cache's directory, or None when it is off (``KEIRETSU_SQL_CACHE=off``)."""
    setting = os.environ.get("KEIRETSU_SQL_CACHE", "").strip()
    if setting.lower() in ("off", "0", "no", "false", "none"):
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError):  # no home directory: the process's cache only
            return None
    return Path(base) / "keiretsu" / "sql"


def compile_sql(backend: Any, expr: ir.Table) -> str:
    """The SQL of the table expression ``expr`` on ``backend`` (an Ibis SQL backend), from the
    cache when this expression (or one of the same structure) was compiled before."""
    op = expr.op()
    try:
        hit = _memory.get(op)
    except TypeError:  # an unhashable argument somewhere: compile
        hit = None
    if hit is not None:
        _counts["hits"] += 1
        return _fill(hit, op)
    shape = _fingerprint(op, getattr(backend, "name", type(backend).__name__))
    if shape is None:
        _counts["uncacheable"] += 1
        return str(backend.compile(expr))
    key, names = shape
    folder = cache_dir()
    path = _file(folder, key) if folder is not None else None
    template: str | None = None
    if path is not None:
        try:
            template = path.read_text(encoding="utf-8")
            _counts["disk_hits"] += 1
        except OSError:
            template = None
    if template is None:
        sql = str(backend.compile(expr))
        _counts["compiled"] += 1
        if any(name not in sql for name in names):  # a table written into the SQL: no reuse
            return sql
        template = sql
        for i, name in enumerate(names):
            template = template.replace(name, _PLACEHOLDER.format(i))
        if path is not None:
            _write(path, template)
    entry = (template, names)
    with _lock:
        if len(_memory) >= MEMORY_MAX:
            _memory.clear()
        with contextlib.suppress(TypeError):
            _memory[op] = entry
    return _fill(entry, op)


def _file(folder: Path, key: str) -> Path:
    return folder / key[:2] / f"{key}.sql"


def _path(op: Node, backend: Any) -> Path | None:
    """The disk cache's file for this expression (None: no disk cache, or no key)."""
    folder = cache_dir()
    shape = _fingerprint(op, getattr(backend, "name", type(backend).__name__))
    return None if folder is None or shape is None else _file(folder, shape[0])


def execute(backend: Any, expr: ir.Expr) -> Any:
    """``backend.to_pyarrow(expr)`` (DuckDB) with the SQL from :func:`compile_sql`: an Arrow
    table for a table expression, an array for a column, a scalar for a scalar."""
    from ibis.backends.duckdb.converter import DuckDBPyArrowData

    backend._run_pre_execute_hooks(expr)  # registers the tables held in memory
    table_expr = expr.as_table()
    disk_hits = _counts["disk_hits"]
    t0 = time.perf_counter()
    sql = compile_sql(backend, table_expr)
    t1 = time.perf_counter()
    _seconds["compile"] += t1 - t0
    _counts["queries"] += 1
    try:
        table: pa.Table = backend.con.sql(sql).to_arrow_table()
        _seconds["query"] += time.perf_counter() - t1
    except duckdb.Error:
        if _counts["disk_hits"] == disk_hits:
            raise
        # a cached file that no longer runs (edited, damaged): compile afresh, as Ibis would
        with _lock:
            _memory.pop(table_expr.op(), None)
        path = _path(table_expr.op(), backend)
        if path is not None:
            path.unlink(missing_ok=True)
        _counts["compiled"] += 1
        table = backend.con.sql(str(backend.compile(table_expr))).to_arrow_table()
    return expr.__pyarrow_result__(table, data_mapper=DuckDBPyArrowData)


def _fill(entry: tuple[str, tuple[str, ...]], op: Node) -> str:
    """The cached SQL with this expression's own names of its tables in memory."""
    template, names = entry
    if not names:
        return template
    current = _memtable_names(op)
    sql = template
    for i, name in enumerate(current):
        sql = sql.replace(_PLACEHOLDER.format(i), name)
    return sql


def _memtable_names(op: Node) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for node in _postorder(op):
        name = _run_name(node)
        if name is not None:
            seen.setdefault(name, None)
    return tuple(seen)


_RUN_TABLE = re.compile(r"^k_run_\w+_[0-9a-f]{12}$")
"""Temporary tables named afresh in each run (:meth:`keiretsu.analytics.log.Log.temporary`:
the report's shared intermediate results, a view's parts): keyed by position, like tables in
memory."""


def _run_name(node: Node) -> str | None:
    """The name of a table whose name changes from run to run (a table in memory, a run's
    temporary table), else None."""
    if isinstance(node, ops.InMemoryTable):
        return str(node.name)
    if isinstance(node, ops.DatabaseTable) and _RUN_TABLE.match(node.name):
        return str(node.name)
    return None


def _postorder(root: Node) -> list[Node]:
    """The nodes under ``root`` (itself included), children before parents, each once, in
    a deterministic order (the order of the arguments)."""
    order: list[Node] = []
    done: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in done:
            continue
        if expanded:
            done.add(id(node))
            order.append(node)
            continue
        stack.append((node, True))
        for child in reversed(_children(node)):
            if id(child) not in done:
                stack.append((child, False))
    return order


def _children(node: Node) -> list[Node]:
    out: list[Node] = []

    def walk(value: Any) -> None:
        if isinstance(value, Node):
            out.append(value)
        elif isinstance(value, tuple | list):
            for v in value:
                walk(v)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                walk(k)
                walk(v)

    for arg in node.__args__:
        walk(arg)
    return out


_PLAIN = (str, int, float, bool, type(None), bytes, decimal.Decimal, _dt.date, _dt.time)


def _fingerprint(root: Node, dialect: str) -> tuple[str, tuple[str, ...]] | None:
    """A sha256 of ``root``'s structure (and what else decides its SQL), and the names of its
    tables in memory in the order the placeholders number them; None when some argument
    has no stable text form."""
    ids: dict[int, int] = {}
    memtables: dict[str, int] = {}
    h = hashlib.sha256()
    h.update(
        f"ibis {ibis.__version__} sqlglot {_SQLGLOT} {dialect} {ibis.options.sql!r}\n".encode()
    )
    for node in _postorder(root):
        kind = _kind(node)
        if kind is None:
            return None
        parts: list[str] = [kind]
        run_name = _run_name(node)
        if run_name is not None:
            index = memtables.setdefault(run_name, len(memtables))
            parts.append(f"table of this run {index} {_text(node.schema, ids)}")
        else:
            for name, arg in zip(node.__argnames__, node.__args__, strict=True):
                if name == "source" and not isinstance(arg, Node):
                    text: str | None = type(arg).__module__  # the backend: only its kind
                else:
                    text = _text(arg, ids)
                if text is None:
                    return None
                parts.append(f"{name}={text}")
        ids[id(node)] = len(ids)
        h.update(("\x1f".join(parts) + "\x1e").encode("utf-8", "surrogatepass"))
    return h.hexdigest(), tuple(memtables)


def _kind(node: Node) -> str | None:
    """The operation's kind. A built-in UDF (a database function such as ``epoch_us``) gets a
    class of its own, numbered, each time it is declared: it is its function's name and types
    instead. Other UDFs (Python code run by the database) are not keyed."""
    if isinstance(node, ops.ScalarUDF | ops.AggUDF):
        if getattr(node, "__input_type__", None) != InputType.BUILTIN:
            return None
        return (
            f"udf {type(node).__mro__[1].__qualname__} {node.__func_name__!r} "
            f"{node.__udf_namespace__!r} {node.__config__!r} {node.dtype!r}"
        )
    return type(node).__module__ + "." + type(node).__qualname__


def _text(value: Any, ids: dict[int, int]) -> str | None:
    if isinstance(value, Node):
        ref = ids.get(id(value))
        return None if ref is None else f"#{ref}"
    if isinstance(value, _PLAIN):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, DataShape):  # Scalar, Columnar, Tabular: singletons
        return f"shape:{type(value).__qualname__}"
    if isinstance(value, enum.Enum):
        return f"{type(value).__qualname__}.{value.name}"
    if isinstance(value, tuple | list):
        items = [_text(v, ids) for v in value]
        return None if any(i is None for i in items) else "(" + ",".join(items) + ")"  # type: ignore[arg-type]
    if isinstance(value, Mapping):
        pairs = []
        for k, v in value.items():
            tk, tv = _text(k, ids), _text(v, ids)
            if tk is None or tv is None:
                return None
            pairs.append(f"{tk}:{tv}")
        return "{" + ",".join(pairs) + "}"
    # data types, schemas, namespaces…: Ibis's own text of them, unless it is an address
    text = repr(value)
    if " at 0x" in text or "object at" in text:
        return None
    return f"{type(value).__module__}.{type(value).__qualname__}:{text}"


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole (temporary file, then rename); never raise."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=uuid.uuid4().hex[:6])
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
        if int.from_bytes(bytes.fromhex(path.stem[:4]), "big") % 256 == 0:
            _prune(path.parent.parent)
    except OSError:
        return


def _prune(folder: Path) -> None:
    """Remove the oldest half of the cached queries when there are more than DISK_MAX."""
    files = [p for sub in folder.iterdir() if sub.is_dir() for p in sub.glob("*.sql")]
    if len(files) <= DISK_MAX:
        return
    files.sort(key=lambda p: p.stat().st_mtime)
    for p in files[: len(files) // 2]:
        p.unlink(missing_ok=True)
