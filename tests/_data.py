"""The third-party data the tests read (``../shared/data``), reached through one door.

CI always has the data. Under CI (``CI`` set in the environment, e.g. ``CI=true``) a missing
file or folder, or a pattern that matches nothing, therefore **fails** the run: a test that
silently has nothing to check proves nothing. Locally, without the data, the tests that need it
are skipped, with the reason.

- :data:`DATA` — where the data lives;
- :func:`data` — one file or folder under it (at import time too: the module is then skipped
  locally, and its collection fails under CI);
- :func:`files` — the files a folder holds matching a pattern, sorted, for ``parametrize``;
- :func:`refuse_empty_parameters` — called by ``tests/conftest.py`` for every test function:
  under CI an empty ``parametrize`` list (a glob that matched nothing, wherever it came from)
  is a collection error, not a skip.
"""

from __future__ import annotations

import os
from collections.abc import Sized
from pathlib import Path
from typing import NoReturn

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
"""``../shared/data`` beside the repository."""

_NOT_CI = {"", "0", "false", "no", "off"}


def under_ci() -> bool:
    """Whether the tests run under CI (``CI`` set to anything but empty/0/false/no/off)."""
    return os.environ.get("CI", "").strip().lower() not in _NOT_CI


def missing(what: str) -> NoReturn:
    """Fail (under CI) or skip (locally) because ``what`` is not there."""
    if under_ci():
        pytest.fail(f"{what} — test data missing; CI always has ../shared/data", pytrace=False)
    pytest.skip(f"{what} — test data missing (../shared/data not here)", allow_module_level=True)


def data(*parts: str | Path, root: Path | None = None) -> Path:
    """``DATA / parts``, which must exist (see :func:`missing`). ``root`` replaces
    :data:`DATA` (for the helper's own tests)."""
    path = (DATA if root is None else root).joinpath(*parts)
    if not path.exists():
        missing(f"{path}: no such file or folder")
    return path


def files(folder: Path, pattern: str, *, recursive: bool = False) -> list[Path]:
    """The files in ``folder`` matching ``pattern`` (``rglob`` if ``recursive``), sorted.

    Under CI a missing folder or no match fails; locally it gives ``[]`` (a test parametrised
    over it is then skipped, pytest saying the parameter set is empty)."""
    if not folder.is_dir():
        if under_ci():
            missing(f"{folder}: no such folder")
        return []
    found = sorted(folder.rglob(pattern) if recursive else folder.glob(pattern))
    if not found and under_ci():
        missing(f"{folder}: nothing matches {pattern!r}")
    return found


def refuse_empty_parameters(metafunc: pytest.Metafunc) -> None:
    """Under CI, fail the collection of a test parametrised over an empty list."""
    if not under_ci():
        return
    for marker in metafunc.definition.iter_markers(name="parametrize"):
        values = marker.kwargs.get("argvalues", marker.args[1] if len(marker.args) > 1 else None)
        if isinstance(values, Sized) and len(values) == 0:
            names = marker.kwargs.get("argnames", marker.args[0] if marker.args else "?")
            pytest.fail(
                f"{metafunc.definition.nodeid}: parametrised over nothing ({names!r}) — "
                "under CI the data it globs must be there",
                pytrace=False,
            )
