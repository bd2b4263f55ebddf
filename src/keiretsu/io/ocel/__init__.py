"""OCEL 2.0 files in the standard's three formats: JSON, XML and SQLite.

Every reader streams :class:`~keiretsu.model.Ocel` batches and refuses what is not OCEL 2.0 with
a :class:`~keiretsu.model.DocumentError`; every writer produces a file that the standard's
schema (JSON), XSD (XML) or relational layout (SQLite) accepts. ``read_ocel`` / ``write_ocel``
pick the format from the file's extension. How the formats map onto keiretsu's tables is
written down in ``docs/formats/ocel.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from keiretsu.io.ocel._shared import DEFAULT_BATCH_SIZE, DanglingRelationWarning
from keiretsu.io.ocel.jsonocel import read_ocel_json, write_ocel_json
from keiretsu.io.ocel.sqlite import read_ocel_sqlite, write_ocel_sqlite
from keiretsu.io.ocel.xmlocel import read_ocel_xml, write_ocel_xml
from keiretsu.model.errors import DocumentError
from keiretsu.model.ocel import Ocel

__all__ = [
    "DanglingRelationWarning",
    "ocel_format",
    "read_ocel",
    "read_ocel_json",
    "read_ocel_sqlite",
    "read_ocel_xml",
    "write_ocel",
    "write_ocel_json",
    "write_ocel_sqlite",
    "write_ocel_xml",
]

_EXTENSIONS = {
    ".jsonocel": "json",
    ".json": "json",
    ".xmlocel": "xml",
    ".xml": "xml",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
    ".db": "sqlite",
}


def ocel_format(path: str | Path) -> str:
    """``json``, ``xml`` or ``sqlite`` from the file's extension (case-insensitive).

    Raises ``ValueError`` for any other extension.
    """
    suffix = Path(path).suffix.lower()
    try:
        return _EXTENSIONS[suffix]
    except KeyError:
        known = ", ".join(_EXTENSIONS)
        raise ValueError(
            f"{path}: cannot tell the OCEL format from {suffix or 'no extension'!r} "
            f"(known: {known})"
        ) from None


def read_ocel(
    path: str | Path,
    *,
    document: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[Ocel]:
    """Read an OCEL 2.0 file in whichever of the three formats its extension names.

    An unknown extension is refused with a :class:`DocumentError`.
    """
    try:
        fmt = ocel_format(path)
    except ValueError as exc:
        raise DocumentError.single(
            "Unknown OCEL format",
            str(exc),
            document=document or str(path),
            expected="a .jsonocel, .xmlocel or .sqlite file",
        ) from None
    if fmt == "json":
        return read_ocel_json(path, document=document, batch_size=batch_size)
    if fmt == "xml":
        return read_ocel_xml(path, document=document, batch_size=batch_size)
    return read_ocel_sqlite(path, document=document, batch_size=batch_size)


def write_ocel(ocel: Ocel, path: str | Path) -> None:
    """Write ``ocel`` in the OCEL 2.0 format its extension names (``ValueError`` if none)."""
    fmt = ocel_format(path)
    if fmt == "json":
        write_ocel_json(ocel, path)
    elif fmt == "xml":
        write_ocel_xml(ocel, path)
    else:
        write_ocel_sqlite(ocel, path)
