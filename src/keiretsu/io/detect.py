"""Which format is this file? Sniffed from its first bytes, with the file name as a hint.

Formats: ``epcis-json``, ``epcis-xml``, ``ocel-json``, ``ocel-xml``, ``ocel-sqlite``, ``xes``,
``csv``, ``parquet``. A user can always say the format outright (``--format``).
"""

from __future__ import annotations

import functools
import gzip
import importlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from keiretsu.model import DocumentError, Ocel

FORMATS: dict[str, tuple[str, str]] = {
    "epcis-json": ("keiretsu.io.epcis", "read_epcis"),
    "epcis-xml": ("keiretsu.io.epcis", "read_epcis"),
    "ocel-json": ("keiretsu.io.ocel", "read_ocel_json"),
    "ocel-xml": ("keiretsu.io.ocel", "read_ocel_xml"),
    "ocel-sqlite": ("keiretsu.io.ocel", "read_ocel_sqlite"),
    "xes": ("keiretsu.io.xes", "read_xes"),
    "csv": ("keiretsu.io.tabular", "read_table"),
    "parquet": ("keiretsu.io.tabular", "read_table"),
}
"""Format name → (module, reader function)."""

_SNIFF_BYTES = 64 * 1024


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as gz:
                return b"gzip:" + gz.read(_SNIFF_BYTES)
        except OSError:
            return head
    return head


def detect_format(path: str | Path) -> str:
    """The format of ``path``, from its content (and extension for CSV).

    Raises :class:`DocumentError` when the content matches no format keiretsu reads.
    """
    path = Path(path)
    if not path.exists():
        raise DocumentError.single(
            "File not found", f"{path} does not exist", document=str(path), type="not-found"
        )
    head = _head(path)
    gz = head.startswith(b"gzip:")
    if gz:
        head = head[5:]
    if head.startswith(b"SQLite format 3\x00"):
        return "ocel-sqlite"
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        low = text[:8192].lower()
        if re.search(rb"<([a-z0-9_]+:)?epcis(query)?document\b", low) or re.search(
            rb"<([a-z0-9_]+:)?(objectevent|aggregationevent|transactionevent|associationevent|transformationevent)\b",
            low,
        ):
            return "epcis-xml"
        if b"xes.version" in low or b"<trace" in low or b"openxes" in low:
            return "xes"
        if b"<object-types" in low or b"<event-types" in low or b"<objects" in low:
            return "ocel-xml"
        if b"<log" in low:
            return "xes"
    if text.startswith((b"{", b"[")):
        sample = text[:_SNIFF_BYTES]
        if (
            b'"epcisBody"' in sample
            or b"epcis-context" in sample
            or b'"EPCISDocument"' in sample
            or b'"EPCISQueryDocument"' in sample
            or re.search(
                rb'"type"\s*:\s*"(Object|Aggregation|Transaction|Transformation|Association)Event"',
                sample,
            )
        ):
            return "epcis-json"
        if b'"objectTypes"' in sample or b'"eventTypes"' in sample or b'"objects"' in sample:
            return "ocel-json"
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith((".csv", ".csv.gz", ".tsv")):
        return "csv"
    if suffixes.endswith(".xes") or suffixes.endswith(".xes.gz"):
        return "xes"
    raise DocumentError.single(
        "Unknown format",
        "the file is none of EPCIS 2.0 (JSON/XML), OCEL 2.0 (JSON/XML/SQLite), XES, CSV or Parquet",
        document=str(path),
        expected="one of: " + ", ".join(FORMATS) + " (or say it with --format)",
        type="unknown-format",
    )


def reader_for(fmt: str) -> Callable[..., Iterator[Ocel]]:
    """The reader function of a format name (see :data:`FORMATS`)."""
    try:
        module_name, func_name = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}") from None
    module = importlib.import_module(module_name)
    reader: Callable[..., Iterator[Ocel]] = getattr(module, func_name)
    if fmt.startswith("epcis-"):
        return functools.partial(reader, syntax=fmt.removeprefix("epcis-"))
    return reader


def read_any(path: str | Path, *, format: str | None = None, **options: Any) -> Iterator[Ocel]:
    """Read any supported file into OCEL batches, detecting its format unless given."""
    fmt = format or detect_format(path)
    return reader_for(fmt)(Path(path), document=str(path), **options)
