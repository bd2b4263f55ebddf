"""GS1 EPCIS 2.0 in: a partner's EPCIS document (JSON/JSON-LD or XML) as OCEL 2.0 batches.

:func:`read_epcis` is the one entry point: it reads the document as a stream, checks every event
against the EPCIS 2.0 standard and the CBV, names each event (its ``eventID``, or else its
CBV event hash ID, so the same business event gets the same id whoever sends it), and maps it
onto the OCEL 2.0 tables (:func:`map_event`, written down in ``docs/formats/epcis.md``).

A document is taken whole or not at all: when anything in it is wrong, a
:class:`~keiretsu.model.DocumentError` lists up to 50 problems, each with the event and field.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from keiretsu.io.epcis._types import DocumentHeader, RawEvent
from keiretsu.io.epcis.mapping import SOURCE_FORMAT, map_event
from keiretsu.io.epcis.masterdata import read_master_data, with_master_data
from keiretsu.model.errors import DocumentError, Problem
from keiretsu.model.gs1 import canonical_id, identify
from keiretsu.model.ocel import OcelBuilder

if TYPE_CHECKING:
    from keiretsu.model.ocel import Ocel

__all__ = [
    "MAX_PROBLEMS",
    "SOURCE_FORMAT",
    "DocumentHeader",
    "RawEvent",
    "canonical_id",
    "identify",
    "map_event",
    "read_epcis",
    "sniff_syntax",
]

MAX_PROBLEMS = 50
"""A refused document reports at most this many problems (the rest is more of the same)."""

_SNIFF_BYTES = 4096


class _Prefixed(io.RawIOBase):
    """A non-seekable stream with the bytes already read for sniffing put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(view))
        if not data:
            return 0
        view[: len(data)] = data
        return len(data)


def _syntax_of(head: bytes, document: str | None) -> str:
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    if text[:1] in (b"{", b"["):
        return "json"
    if text[:1] == b"<":
        return "xml"
    shown = text[:20].decode("utf-8", "replace") or "an empty document"
    raise DocumentError.single(
        "Not an EPCIS document",
        f"the document starts with {shown!r}",
        document=document,
        line=1,
        expected="an EPCIS 2.0 document in JSON ('{') or XML ('<')",
    )


def sniff_syntax(
    source: str | Path | bytes | BinaryIO, *, document: str | None = None
) -> tuple[str, str | Path | bytes | BinaryIO]:
    """Whether ``source`` is EPCIS JSON or XML, from its first non-blank byte; returns the
    syntax (``"json"``/``"xml"``) and the source to read from (a stream that could not be
    rewound comes back with the sniffed bytes put in front)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return _syntax_of(bytes(source[:_SNIFF_BYTES]), document), source
    if isinstance(source, str | Path):
        with open(source, "rb") as f:
            head = f.read(_SNIFF_BYTES)
        return _syntax_of(head, document), source
    if source.seekable():
        start = source.tell()
        head = source.read(_SNIFF_BYTES)
        source.seek(start)
        return _syntax_of(head, document), source
    head = source.read(_SNIFF_BYTES)
    wrapped: BinaryIO = io.BufferedReader(_Prefixed(head, source))
    return _syntax_of(head, document), wrapped


def _name(source: object, document: str | None) -> str | None:
    if document is not None:
        return document
    if isinstance(source, str | Path):
        return Path(source).name
    return None


def read_epcis(
    source: str | Path | bytes | BinaryIO,
    *,
    document: str | None = None,
    syntax: str | None = None,
    batch_size: int = 5000,
    strict: bool = True,
) -> Iterator[Ocel]:
    """Read an EPCIS 2.0 document (JSON/JSON-LD or XML) as OCEL 2.0 batches of ``batch_size``
    events.

    ``source`` is a path, the document's bytes or a binary stream; ``syntax`` is ``"json"``,
    ``"xml"`` or ``None`` to tell from the first bytes. ``document`` names the document in
    problem reports (the file name by default). ``strict=False`` forgives XML elements out of the
    order the EPCIS 2.0 XSD fixes (some producers shuffle them); everything else is still checked.

    Every event is checked against the standard; after the first problem nothing more is
    mapped, the rest of the document is still checked, and a :class:`DocumentError` with up to
    :data:`MAX_PROBLEMS` problems (event, field, what was expected) ends the iteration. The
    batches already yielded must then be thrown away: the store does so by taking a document
    in one transaction.
    """
    # The readers, validation and hash are imported here so this package imports even on a
    # checkout where one of them is being reworked.
    from keiretsu.io.epcis.hash import event_hash_id
    from keiretsu.io.epcis.validate import validate_event, validate_header

    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    name = _name(source, document)
    if syntax is None:
        syntax, source = sniff_syntax(source, document=name)
    if syntax not in ("json", "xml"):
        raise ValueError(f"syntax must be 'json', 'xml' or None, not {syntax!r}")

    try:
        if syntax == "xml":
            from keiretsu.io.epcis.xml_reader import read_xml_document

            header, events = read_xml_document(source, document=name, strict=strict)
        else:
            from keiretsu.io.epcis.json_reader import read_json_document

            header, events = read_json_document(source, document=name)
        problems: list[Problem] = list(validate_header(header, document=name))
        builder = OcelBuilder()
        for raw in events:
            if len(problems) >= MAX_PROBLEMS:
                break
            found = validate_event(raw, header, document=name)
            if found:
                problems.extend(found)
                continue
            if problems:
                continue  # keep checking, stop mapping: the document will be refused
            data = raw.data
            event_id = data.get("eventID")
            if not event_id:
                namespaces = header.namespaces
                if "@context" in data:
                    namespaces = {**namespaces, **_local_context(data["@context"])}
                event_id = event_hash_id(data, namespaces, syntax=header.syntax)  # type: ignore[arg-type]
            map_event(builder, event_id, raw, header)
            if len(builder) >= batch_size:
                yield builder.build()
        # the header's master data: read once the whole header is known (a JSON header may
        # follow the body), handed on with the last batch, which comes only when nothing
        # in the document is wrong
        master, master_problems = read_master_data(header, document=name)
        problems.extend(master_problems)
        if problems:
            raise DocumentError(problems[:MAX_PROBLEMS])
        if len(builder) or builder.ob_id or master:
            yield with_master_data(builder.build(), master)
    except DocumentError as exc:
        if name is not None:
            exc.with_document(name)
        raise


def _local_context(context: Any) -> dict[str, str]:
    """Prefixes an event declares in its own JSON-LD ``@context``."""
    out: dict[str, str] = {}
    for item in context if isinstance(context, list) else [context]:
        if isinstance(item, dict):
            for prefix, uri in item.items():
                if isinstance(uri, str) and not prefix.startswith("@"):
                    out[prefix] = uri
    return out
