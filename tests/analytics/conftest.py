"""Shared logs for the analytics tests: third-party logs ingested once per test session into real
node stores, and a local Spark session for the engine-parity tests."""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _data import DATA
from keiretsu.analytics import Log, local_spark
from keiretsu.store import Store

LOGS = DATA / "logs"
OCEL = DATA / "ocel"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _store(tmp_path_factory: pytest.TempPathFactory, source: Path, name: str) -> Path:
    """A store of ``source``, ingested once per test run: the first test process (of the
    ``pytest -n`` workers) to ask ingests it under a lock into a directory every worker sees;
    each worker then works on its own copy (a test may write to its store)."""
    shared = tmp_path_factory.getbasetemp().parent / "shared-stores"
    shared.mkdir(exist_ok=True)
    built = shared / f"{name}.duckdb"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            partial = shared / f"{name}.partial.duckdb"
            partial.unlink(missing_ok=True)
            with Store(partial) as store:
                report = store.ingest_file(source)
                assert report.status == "accepted", report.problem
            partial.rename(built)
    path = tmp_path_factory.mktemp(name) / "node.duckdb"
    shutil.copyfile(built, path)
    return path


@pytest.fixture(scope="session")
def running_example_xes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Store of the XES running example (6 cases, 42 events)."""
    return _store(tmp_path_factory, LOGS / "running-example.xes", "running_xes")


@pytest.fixture(scope="session")
def receipt_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Store of the WABO receipt log (8,577 events)."""
    return _store(tmp_path_factory, LOGS / "receipt.xes.gz", "receipt")


@pytest.fixture(scope="session")
def bpic2012_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Store of BPI Challenge 2012 (262,200 events)."""
    return _store(tmp_path_factory, LOGS / "bpic2012.xes.gz", "bpic2012")


@pytest.fixture(scope="session")
def ocel_running_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Store of the OCEL 2.0 running example (ocpa, 18,211 events in the file)."""
    return _store(tmp_path_factory, OCEL / "running-example.sqlite", "ocel_running")


@pytest.fixture(scope="session")
def logistics_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Store of the OCEL 2.0 logistics log (ocpa)."""
    return _store(tmp_path_factory, OCEL / "logistics.sqlite", "logistics")


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark session (2 cores) for every Spark test of a test process."""
    session = local_spark()
    # the tests' logs are tiny: compiling each query to Java (whole-stage code generation)
    # costs more than running it interpreted (about half the time of the Spark tests)
    session.conf.set("spark.sql.codegen.wholeStage", "false")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def both_engines(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``both_engines(store)``: the same store's log on DuckDB and on Spark — Spark reading
    the store's Parquet export (exported once per store and test process, the Spark log
    shared by every test that asks for that store)."""
    on_spark: dict[Path, Log] = {}

    def open_both(store: Path) -> tuple[Log, Log]:
        if store not in on_spark:
            exported = tmp_path_factory.mktemp("parquet")
            on_spark[store] = Log.on_spark(store, spark, parquet=exported)
        return Log.open(store), on_spark[store]

    return open_both
