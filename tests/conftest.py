"""Test-wide settings.

Under CI (``CI`` set, as `.ci/run` is run), hypothesis draws the same examples every run, so a
submission's result does not depend on luck; locally it explores new examples each run (and
keeps any failure it finds in `.hypothesis/` to replay).
"""

import json
import os
import resource
import time

import pytest
from hypothesis import settings

from _data import refuse_empty_parameters, under_ci

settings.register_profile("ci", derandomize=True, print_blob=True)
if under_ci():
    settings.load_profile("ci")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Under CI a test parametrised over nothing (a glob of ``../shared/data`` that matched
    nothing) is a collection error, not a skip (see ``tests/_data.py``)."""
    refuse_empty_parameters(metafunc)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    """With ``KEIRETSU_TEST_TIMES=FILE``, append each test's wall and CPU seconds (this
    process, and the child processes it waited for) to FILE as JSON lines — where the suite's
    time goes, per test and per file, without a quiet machine: CPU seconds hardly depend on
    what else runs."""
    path = os.environ.get("KEIRETSU_TEST_TIMES")
    if not path:
        yield
        return
    start = time.perf_counter()
    me0 = resource.getrusage(resource.RUSAGE_SELF)
    ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    yield
    me1 = resource.getrusage(resource.RUSAGE_SELF)
    ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    row = {
        "test": item.nodeid,
        "wall": round(time.perf_counter() - start, 3),
        "cpu": round(me1.ru_utime + me1.ru_stime - me0.ru_utime - me0.ru_stime, 3),
        "children": round(ch1.ru_utime + ch1.ru_stime - ch0.ru_utime - ch0.ru_stime, 3),
    }
    with open(path, "a") as out:
        out.write(json.dumps(row) + "\n")
