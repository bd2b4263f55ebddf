"""Test-wide settings.

Under CI (``CI`` set, as `.ci/run` is run), hypothesis draws the same examples every run, so a
submission's result does not depend on luck; locally it explores new examples each run (and
keeps any failure it finds in `.hypothesis/` to replay).
"""

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
