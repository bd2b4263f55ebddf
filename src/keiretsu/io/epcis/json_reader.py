"""Read an EPCIS 2.0 JSON / JSON-LD document as a stream of events.

A trading partner's EPCIS file can hold a million events (about 600 MB), so the reader never
holds more than a few MiB of it: the text is decoded in chunks and each event is parsed on its
own with the C scanner of the standard :mod:`json` module (``raw_decode``), which also tells
where the event ends. On this machine that is about twice as fast as ``ijson.items`` with the
yajl2_c backend, and it gives each event its line number in the file.

The document's own members (``@context``, ``type``, ``schemaVersion``, ``creationDate``…) make
the :class:`DocumentHeader`; the JSON-LD ``@context`` gives the namespace prefixes of user
extensions. JSON does not fix the order of members: when the body comes before the header
members, the reader skips through the body once to read them, then reads the events.

Accepted shapes: an ``EPCISDocument`` (events under ``epcisBody.eventList``), an
``EPCISQueryDocument`` (under ``epcisBody.queryResults.resultsBody.eventList``) and a bare event
object, as posted to ``/events`` in the REST binding (header ``kind`` ``"Event"``).

Anything the reader cannot read — not UTF-8, not JSON, cut short, nested deeper than
:data:`MAX_DEPTH`, a number beyond a 64-bit integer or a double, a string longer than
:data:`MAX_STRING` characters — is refused with a :class:`DocumentError` naming the line.
"""

from __future__ import annotations

import codecs
import io
import json
import math
import re
import tempfile
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, NoReturn

from keiretsu.io.epcis._types import DocumentHeader, RawEvent
from keiretsu.model.cbv import CONTEXT_PREFIXES
from keiretsu.model.errors import DocumentError, Problem

__all__ = [
    "GS1_CONTEXT_PREFIXES",
    "MAX_DEPTH",
    "MAX_STRING",
    "context_namespaces",
    "event_namespaces",
    "read_json_document",
]

MAX_DEPTH = 64
"""Deepest nesting of objects and arrays accepted inside a document."""
MAX_STRING = 1 << 20
"""Longest string (characters) accepted in any field or key."""
MAX_VALUE_CHARS = 64 << 20
"""Largest single event (characters) the reader will hold in memory."""

_CHUNK = 4 << 20  # bytes read at a time
_SPOOL = 64 << 20  # a non-seekable stream is copied to memory up to this size, then to disk
_INT_MIN, _INT_MAX = -(1 << 63), (1 << 63) - 1

GS1_CONTEXT_PREFIXES = CONTEXT_PREFIXES
"""The prefixes the GS1 EPCIS 2.0 JSON-LD context defines (:data:`keiretsu.model.cbv.
CONTEXT_PREFIXES`); a document that references that context may use them without declaring
them."""

DOCUMENT_KINDS = frozenset({"EPCISDocument", "EPCISQueryDocument"})
_HEADER_KEYS = ("@context", "type", "schemaVersion", "creationDate")
_WS = re.compile(r"[ \t\n\r]*")
_NEXT = re.compile(r"[ \t\n\r]*,[ \t\n\r]*(?=[^ \t\n\r])")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _is_gs1_context(url: str) -> bool:
    return url.endswith("epcis-context.jsonld") and ("gs1.org/" in url or "gs1.github.io/" in url)


def context_namespaces(context: Any) -> dict[str, str]:
    """The prefix → namespace URI pairs a JSON-LD ``@context`` declares.

    ``context`` is a URL, an object, or a list of both. A reference to the GS1 EPCIS context
    brings its prefixes (``gs1``, ``cbv``…); an object maps a prefix to a namespace URI (or to a
    term definition with an ``@id``). Later entries win, as in JSON-LD. Shapes that are not
    a context are ignored here; :func:`keiretsu.io.epcis.validate.validate_header` reports them.
    """
    out: dict[str, str] = {}
    items = context if isinstance(context, list) else [context]
    for item in items:
        if isinstance(item, str):
            if _is_gs1_context(item):
                out.update(GS1_CONTEXT_PREFIXES)
        elif isinstance(item, dict):
            for prefix, target in item.items():
                if prefix.startswith("@"):
                    continue
                if isinstance(target, str):
                    out[prefix] = target
                elif isinstance(target, dict) and isinstance(target.get("@id"), str):
                    out[prefix] = target["@id"]
    return out


def event_namespaces(raw: RawEvent, header: DocumentHeader) -> dict[str, str]:
    """The prefixes in force for one event: the document's, plus the event's own ``@context``."""
    local = raw.data.get("@context") if isinstance(raw.data, dict) else None
    if local is None:
        return header.namespaces
    merged = dict(header.namespaces)
    merged.update(context_namespaces(local))
    return merged


# --------------------------------------------------------------------------------------------
# numbers: refuse what a 64-bit integer or a double cannot hold, instead of failing later


class _BadNumber(ValueError):
    pass


def _parse_int(text: str) -> int:
    if len(text) > 20:
        raise _BadNumber(text)
    value = int(text)
    if not _INT_MIN <= value <= _INT_MAX:
        raise _BadNumber(text)
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _BadNumber(text)
    return value


def _parse_constant(text: str) -> NoReturn:
    raise _BadNumber(text)


_DECODER = json.JSONDecoder(
    parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
)


class _Limit(Exception):
    """A value inside the event breaks a size limit; ``where`` is a JSON pointer inside it."""

    def __init__(self, what: str, where: str) -> None:
        super().__init__(what)
        self.what = what
        self.where = where


def _check_str(s: str, where: str) -> None:
    if len(s) > MAX_STRING:
        raise _Limit(f"a string of {len(s):,} characters (more than {MAX_STRING:,})", where)
    if _SURROGATE.search(s):
        raise _Limit("a lone UTF-16 surrogate escape (\\ud800-\\udfff), not a character", where)


def _walk(value: Any, where: str, depth: int) -> None:
    """Check depth, string length and characters of one parsed value (rare, see ``value``)."""
    if depth > MAX_DEPTH:
        raise _Limit(f"nesting deeper than {MAX_DEPTH} levels", where)
    if isinstance(value, dict):
        for k, v in value.items():
            _check_str(k, where)
            sub = f"{where}/{k}"
            if isinstance(v, str):
                _check_str(v, sub)
            elif isinstance(v, dict | list):
                _walk(v, sub, depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            sub = f"{where}/{i}"
            if isinstance(v, str):
                _check_str(v, sub)
            elif isinstance(v, dict | list):
                _walk(v, sub, depth + 1)
    elif isinstance(value, str):
        _check_str(value, where)


def _may_break_limits(buf: str, start: int, end: int) -> bool:
    """Whether the text of a value could hide a breach of the limits: a long span, many
    brackets, or \\u escapes (a lone surrogate). Typical events pass these counts untouched,
    so the walk of the parsed value is rarely needed."""
    return (
        end - start > MAX_STRING
        or buf.count("{", start, end) + buf.count("[", start, end) > MAX_DEPTH
        # a backslash at all is rare; '\\u' is looked for only then
        or (buf.find("\\", start, end) >= 0 and buf.find("\\u", start, end) >= 0)
    )


class _Lines:
    """Line numbers in one chunk of text, counted on demand from the last position asked for
    (so asking for the lines of its events in order costs one pass over the chunk)."""

    __slots__ = ("buf", "line", "pos")

    def __init__(self, buf: str, line: int) -> None:
        self.buf = buf
        self.pos = 0
        self.line = line  # 1-based line of buf[0]

    def at(self, pos: int) -> int:
        if pos >= self.pos:
            self.line += self.buf.count("\n", self.pos, pos)
        else:
            self.line -= self.buf.count("\n", pos, self.pos)
        self.pos = pos
        return self.line


class _JsonEvent(RawEvent):
    """A :class:`RawEvent` whose line is counted only when asked for: almost never, only when
    a problem is reported. Until then it keeps the chunk of text it was read from."""

    _at: tuple[_Lines, int] | None = None

    def __init__(
        self,
        index: int,
        data: dict[str, Any],
        pointer: str,
        line: int | None = None,
        at: tuple[_Lines, int] | None = None,
    ) -> None:
        self.index = index
        self.data = data
        self.pointer = pointer
        self._at = at  # (chunk, position of the event in it)
        if line is not None:
            self.__dict__["_line"] = line

    @property
    def line(self) -> int | None:
        at = self._at
        if at is not None:
            self.__dict__["_line"] = at[0].at(at[1])
            self._at = None  # let the chunk go
        return self.__dict__.get("_line")

    @line.setter
    def line(self, value: int | None) -> None:
        self.__dict__["_line"] = value
        self._at = None


# --------------------------------------------------------------------------------------------
# the text cursor: decoded text in a sliding buffer, with line numbers


class _Text:
    def __init__(self, stream: IO[bytes], document: str | None) -> None:
        self.stream = stream
        self.document = document
        self.start = stream.tell()
        self._reset()

    def _reset(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.bytes_read = 0
        self.char_base = 0  # characters dropped before buf
        self.line_base = 0  # newlines dropped before buf
        self.line_mark = 0  # newlines in buf[:line_mark] are counted in line_at_mark
        self.line_at_mark = 0
        self.first = True
        self.lines = _Lines(self.buf, 1)

    def rewind(self) -> None:
        self.stream.seek(self.start)
        self._reset()

    # -- errors ---------------------------------------------------------------------------
    def where(self, pos: int) -> tuple[int, int | None]:
        """1-based line and column of buffer position ``pos`` (column unknown if cut off)."""
        if pos >= self.line_mark:
            line = self.line_at_mark + self.buf.count("\n", self.line_mark, pos)
        else:
            line = self.line_at_mark - self.buf.count("\n", pos, self.line_mark)
        nl = self.buf.rfind("\n", 0, pos)
        col = pos - nl if nl >= 0 else (pos + 1 if self.char_base == 0 else None)
        return self.line_base + line + 1, col

    def fail(self, title: str, detail: str, pos: int | None = None, **extra: Any) -> NoReturn:
        p = min(self.pos if pos is None else pos, len(self.buf))
        line, col = self.where(p)
        at = f"line {line}" + (f", column {col}" if col is not None else "")
        raise DocumentError(
            [
                Problem(
                    title=title,
                    detail=f"{detail} ({at}, character {self.char_base + p})",
                    document=self.document,
                    line=line,
                    **extra,
                )
            ]
        )

    # -- input ----------------------------------------------------------------------------
    def fill(self) -> bool:
        """Read more text; False at the end of the input."""
        if self.eof:
            return False
        raw = self.stream.read(_CHUNK)
        if self.first:
            self.first = False
            self._sniff(raw)
        final = not raw
        pending = len(self.decoder.getstate()[0])
        try:
            text = self.decoder.decode(raw, final)
        except UnicodeDecodeError as e:
            offset = self.bytes_read - pending + e.start
            self.fail(
                "Not UTF-8",
                f"byte {offset} (0x{e.object[e.start]:02x}) is not valid UTF-8; "
                "EPCIS JSON documents must be encoded in UTF-8",
                pos=len(self.buf),
                expected="UTF-8 text",
            )
        self.bytes_read += len(raw)
        if final:
            self.eof = True
        # drop what was consumed, keeping line numbers right
        if self.pos > 0:
            self.line_at_mark += self.buf.count("\n", self.line_mark, self.pos)
            self.line_base += self.line_at_mark
            self.line_at_mark = 0
            self.line_mark = 0
            self.char_base += self.pos
            self.buf = self.buf[self.pos :]
            self.pos = 0
        self.buf += text
        self.lines = _Lines(self.buf, self.line_base + 1)
        return bool(text) or not final

    def _sniff(self, head: bytes) -> None:
        if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head[:4]:
            raise DocumentError.single(
                "Not UTF-8",
                "the document looks UTF-16 or UTF-32 encoded (byte 0); "
                "EPCIS JSON documents must be encoded in UTF-8",
                document=self.document,
                line=1,
                expected="UTF-8 text",
            )

    def line_of(self, pos: int) -> int:
        """1-based line of ``pos``; positions asked for must not go backwards."""
        self.line_at_mark += self.buf.count("\n", self.line_mark, pos)
        self.line_mark = pos
        return self.line_base + self.line_at_mark + 1

    # -- tokens ---------------------------------------------------------------------------
    def peek(self) -> str:
        """The next non-blank character ('' at the end), without consuming it."""
        while True:
            m = _WS.match(self.buf, self.pos)
            assert m is not None
            self.pos = m.end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.fill():
                return ""

    def expect(self, char: str, what: str) -> None:
        c = self.peek()
        if c != char:
            found = f"'{c}'" if c else "the end of the document"
            self.fail("Invalid JSON", f"expected {what} but found {found}", expected=what)
        self.pos += 1

    def value(self, where: str = "") -> Any:
        """Parse the next JSON value whole."""
        if (self.pos >= len(self.buf) or self.buf[self.pos] in " \t\n\r") and not self.peek():
            self.fail("Truncated document", "the document ends where a value should be")
        while True:
            start = self.pos
            try:
                obj, end = _DECODER.raw_decode(self.buf, start)
            except json.JSONDecodeError as e:
                near_end = e.pos >= len(self.buf) - 16 or e.msg.startswith("Unterminated")
                if near_end and not self.eof and len(self.buf) - start < MAX_VALUE_CHARS:
                    self.fill()
                    continue
                if self.eof and near_end:
                    self.fail("Truncated document", f"the document ends early: {e.msg}", e.pos)
                self.fail("Invalid JSON", e.msg, e.pos)
            except _BadNumber as e:
                self.fail(
                    "Number out of range",
                    f"the number {str(e)[:40]!r} in {where or 'the document'} does not fit a "
                    "64-bit integer or a double",
                    start,
                    expected="a finite number within 64-bit range",
                )
            except RecursionError:
                self.fail("Too deeply nested", f"nesting deeper than {MAX_DEPTH} levels", start)
            if end == len(self.buf) and not self.eof:
                self.fill()  # a number may go on in the next chunk
                continue
            break
        if _may_break_limits(self.buf, start, end):
            self.check_limits(obj, start, where)
        self.pos = end
        return obj

    def check_limits(self, obj: Any, start: int, where: str) -> None:
        """Walk a parsed value for a breach of the limits (see :func:`_may_break_limits`)."""
        try:
            _walk(obj, where, 0)
        except _Limit as e:
            self.fail(
                "Value too large", f"{e.what} at {e.where or '/'}", start, field=e.where or None
            )

    def key(self) -> str:
        k = self.value()
        if not isinstance(k, str):
            self.fail("Invalid JSON", "expected a member name in double quotes")
        self.expect(":", "':' after a member name")
        return k


# --------------------------------------------------------------------------------------------
# the document


def _open(source: str | Path | bytes | BinaryIO) -> tuple[IO[bytes], bool]:
    """A seekable binary stream, and whether we opened it (and so must close it)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source)), True
    if isinstance(source, str | Path):
        return open(source, "rb"), True  # closed by the event iterator
    if source.seekable():
        return source, False
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL)  # noqa: SIM115
    while chunk := source.read(_CHUNK):
        spool.write(chunk)
    spool.seek(0)
    return spool, True


def _document_name(source: object, document: str | None) -> str | None:
    if document is not None:
        return document
    if isinstance(source, str | Path):
        return Path(source).name
    return None


def read_json_document(
    source: str | Path | bytes | BinaryIO, *, document: str | None = None
) -> tuple[DocumentHeader, Iterator[RawEvent]]:
    """Open an EPCIS JSON / JSON-LD document: its header now, its events as they are read.

    ``source`` is a path, the bytes of the document, or a binary stream. ``document`` names it
    in error messages (the file name by default). The header is complete when this returns;
    the events come lazily, each with its JSON pointer (``/epcisBody/eventList/3``) and line.
    Structure the reader cannot read raises :class:`DocumentError` — here for the document's
    opening, from the iterator for anything further on.
    """
    name = _document_name(source, document)
    stream, owned = _open(source)
    try:
        text = _Text(stream, name)
        members, body_first = _read_members(text, stop_at_body=True)
        if body_first and any(k not in members for k in _HEADER_KEYS):
            # The body came before (some of) the header: read on past it for the rest of the
            # header, then start again from the top for the events.
            _skip(text, 0)
            _read_members(text, stop_at_body=False, members=members)
            _expect_end(text)
            text.rewind()
            _read_members(text, stop_at_body=True, members={})
            body_first = True
        header = _header(members)
    except BaseException:
        if owned:
            stream.close()
        raise
    if not body_first:
        return header, _single_event(text, members, header, stream if owned else None)
    return header, _events(text, header, members, stream if owned else None)


def _read_members(
    text: _Text, *, stop_at_body: bool, members: dict[str, Any] | None = None
) -> tuple[dict[str, Any], bool]:
    """Read top-level members until ``epcisBody`` (left unread) or the closing brace.

    With ``stop_at_body`` the cursor is at the document's start; without, it is just after a
    member's value (so a ',' or the closing '}' comes next). Returns the members read and
    whether the cursor stopped at the value of ``epcisBody``.
    """
    out: dict[str, Any] = {} if members is None else members
    first = stop_at_body
    if stop_at_body:
        c = text.peek()
        if c == "":
            text.fail("Empty document", "the document is empty", expected="a JSON object")
        if c == "[":
            text.fail(
                "Not an EPCIS document",
                "the document is a JSON array; EPCIS JSON is an EPCISDocument object, an "
                "EPCISQueryDocument object or a single event object",
                expected="a JSON object",
            )
        text.expect("{", "'{' (an EPCIS document is a JSON object)")
    while True:
        c = text.peek()
        if c == "}":
            text.pos += 1
            return out, False
        if not first:
            text.expect(",", "',' or '}' between the document's members")
        first = False
        key = text.key()
        if key == "epcisBody":
            if stop_at_body:
                return out, True
            _skip(text, 0)  # second time round after the pre-pass: already read
            continue
        value = text.value("/" + key)
        if stop_at_body or key not in out:
            out[key] = value


def _skip(text: _Text, depth: int) -> None:
    """Skip a value, parsing containers down to the events one by one (bounded memory)."""
    c = text.peek()
    if depth >= 4 or c not in ("{", "["):
        text.value()
        return
    close = "}" if c == "{" else "]"
    text.pos += 1
    first = True
    while True:
        if text.peek() == close:
            text.pos += 1
            return
        if not first:
            text.expect(",", f"',' or '{close}'")
        first = False
        if c == "{":
            text.key()
        _skip(text, depth + 1)


def _expect_end(text: _Text) -> None:
    if text.peek() != "":
        text.fail("Invalid JSON", "unexpected data after the end of the document")


def _header(members: dict[str, Any]) -> DocumentHeader:
    kind = members.get("type")
    doc_kind = kind if isinstance(kind, str) and kind in DOCUMENT_KINDS else None
    sv = members.get("schemaVersion")
    cd = members.get("creationDate")
    attributes = {
        k: v for k, v in members.items() if k not in ("type", "schemaVersion", "creationDate")
    }
    if doc_kind is None and "epcisBody" not in members and isinstance(kind, str):
        return DocumentHeader(
            kind="Event",
            syntax="json",
            namespaces=context_namespaces(members.get("@context", [])),
            attributes={"@context": members["@context"]} if "@context" in members else {},
        )
    return DocumentHeader(
        kind=doc_kind or (kind if isinstance(kind, str) else ""),
        syntax="json",
        schema_version=sv if isinstance(sv, str) else None if sv is None else str(sv),
        creation_date=cd if isinstance(cd, str) else None if cd is None else str(cd),
        namespaces=context_namespaces(members.get("@context", [])),
        attributes=attributes,
    )


def _single_event(
    text: _Text, members: dict[str, Any], header: DocumentHeader, owned: IO[bytes] | None
) -> Iterator[RawEvent]:
    """No ``epcisBody``: a bare event is one event; a document without a body is refused."""
    try:
        _expect_end(text)
        if header.kind != "Event":
            what = header.kind or "a document without 'type'"
            text.fail(
                "Missing epcisBody",
                f"{what} has no 'epcisBody' holding its events",
                field="/epcisBody",
                expected="'epcisBody' with an 'eventList'",
            )
    finally:
        if owned is not None:
            owned.close()
    return iter([RawEvent(index=0, data=members, pointer="", line=1)])


def _events(
    text: _Text, header: DocumentHeader, members: dict[str, Any], owned: IO[bytes] | None
) -> Iterator[RawEvent]:
    try:
        # The events are yielded from this frame itself: a generator per level of the body
        # would cost a resumption per level and event.
        for base in _event_arrays(text, members, header):
            text.expect("[", f"a JSON array at {base}")
            if text.peek() == "]":
                text.pos += 1
                continue
            index = 0
            text.peek()
            while True:
                buf = text.buf
                start = text.pos
                lines = text.lines  # the chunk the event starts in, for its line
                # The usual event in one call of the C scanner. Anything else (an event cut by
                # the end of the chunk, bad JSON, not an object) is parsed again by ``value``,
                # which reads on, checks everything and words the refusal.
                try:
                    data, end = _SCAN(buf, start)
                except _SCAN_ERRORS:
                    end = -1
                if end >= 0 and type(data) is dict:
                    if _may_break_limits(buf, start, end):
                        text.check_limits(data, start, f"{base}/{index}")
                else:
                    data = text.value(f"{base}/{index}")
                    if type(data) is not dict:
                        text.fail(
                            "Event is not an object",
                            f"event {index} is a JSON {type(data).__name__}, not an object",
                            field=f"{base}/{index}",
                            event_index=index,
                            expected="a JSON object",
                        )
                    buf = text.buf  # read on: the chunk may have moved
                    end = text.pos
                yield _JsonEvent(index, data, f"{base}/{index}", None, (lines, start))
                index += 1
                # the common case in one step: blanks, ',', blanks, and the next event's '{'
                m = _NEXT.match(buf, end)
                if m is not None and m.end() < len(buf):
                    text.pos = m.end()
                    continue
                text.pos = end
                c = text.peek()
                if c == ",":
                    text.pos += 1
                    text.peek()
                elif c == "]":
                    text.pos += 1
                    break
                elif c == "":
                    text.fail("Truncated document", f"the document ends after event {index - 1}")
                else:
                    text.fail("Invalid JSON", f"expected ',' or ']' after event {index - 1}")
        late: dict[str, Any] = {}
        _read_members(text, stop_at_body=False, members=late)
        for k, v in late.items():
            header.attributes.setdefault(k, v)
        _expect_end(text)
    finally:
        if owned is not None:
            owned.close()


def _event_arrays(text: _Text, members: dict[str, Any], header: DocumentHeader) -> Iterator[str]:
    """Walk ``epcisBody`` down to the event list, wherever the document kind puts it: yields
    the event list's JSON pointer with the cursor at its '[' (the caller reads the events)."""
    kind = members.get("type")
    path: tuple[str, ...]
    if kind == "EPCISQueryDocument":
        path = ("epcisBody", "queryResults", "resultsBody", "eventList")
    else:
        path = ("epcisBody", "eventList")
    found = yield from _descend(text, path, 1, header)
    if not found:
        where = "/" + "/".join(path)
        text.fail(
            "Missing eventList",
            f"the document has no {where}",
            field=where,
            expected=f"an event list at {where}",
        )


def _descend(
    text: _Text, path: tuple[str, ...], depth: int, header: DocumentHeader
) -> Generator[str, None, bool]:
    """Walk the objects along ``path`` (the cursor is at the value of ``path[depth - 1]``)."""
    here = "/" + "/".join(path[:depth])
    text.expect("{", f"an object at {here}")
    found = False
    first = True
    while True:
        c = text.peek()
        if c == "}":
            text.pos += 1
            return found
        if not first:
            text.expect(",", f"',' or '}}' in {here}")
        first = False
        key = text.key()
        if key == path[depth] and depth + 1 == len(path):
            yield here + "/" + key
            found = True
        elif key == path[depth]:
            found = (yield from _descend(text, path, depth + 1, header)) or found
        else:
            value = text.value(f"{here}/{key}")
            header.attributes.setdefault(f"{here}/{key}", value)


# the C scanner behind raw_decode, without its Python frame
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_SCAN_ERRORS = (StopIteration, json.JSONDecodeError, _BadNumber, RecursionError)
