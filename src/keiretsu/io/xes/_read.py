"""Reading a XES document: the stream, the two readers and the hand-over between them.

The document is decompressed and read in chunks. libxml2 parses every byte — the *reference*
reader's callbacks (:mod:`keiretsu.io.xes._reference`) for the log header, or a bare
well-formedness pass with no Python callback at all for the traces — and runs of whole traces
in the usual OpenXES layout are read by the scanner (:mod:`keiretsu.io.xes._scan`). The first
run the scanner declines, and everything after it, goes to the reference reader: the two never
disagree about what has been read, because the reference reader sees exactly the text the
scanner did not take, cut only between whole traces.
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

from lxml import etree

from keiretsu.io.xes._reference import _Builder, _Fail, _Target
from keiretsu.io.xes._scan import scan
from keiretsu.model.errors import DocumentError, Problem
from keiretsu.model.ocel import Ocel

__all__ = ["read_xes"]

_CHUNK = 1 << 20  # bytes read at a time while the scanner reads (runs are cut to the batch size)
_REFERENCE_CHUNK = 1 << 18  # with the reference reader: a batch overshoots by one chunk's events
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_PENDING = 1 << 26  # text held for one trace before the scanner gives up on it (64 MiB)

# In the log header, a <trace> inside these is not a trace.
_SKIPPED = (("<!--", "-->"), ("<?", "?>"), ("<![CDATA[", "]]>"))
_DECLARED = re.compile(rb"^(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)")

_HEAD_MODE, _FAST_MODE, _REFERENCE_MODE = range(3)
_PREDEFINED_ONLY: Any = "internal"  # lxml ≥ 5; its type stubs only know True/False


class _Malformed(Exception):
    """libxml2's well-formedness pass refused the document (alongside the scanner)."""

    def __init__(self, error: etree.XMLSyntaxError) -> None:
        super().__init__(str(error))
        self.error = error


class _NoCallbacks:
    """A parser target with no element callbacks: libxml2 parses without calling Python."""

    def close(self) -> None:
        return None


def _parser(target: object) -> etree.XMLParser:
    return etree.XMLParser(
        target=cast(Any, target),
        # "internal": the five predefined entities and character references are decoded
        # (with False, libxml2 hands "&amp;" in a value over as "&#38;"); no DTD is ever
        # read (a DOCTYPE is refused), so no other entity can exist, and nothing external
        resolve_entities=_PREDEFINED_ONLY,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )


class _Feeder:
    """Takes the document chunk by chunk and gives each piece of text to the right reader.

    Head mode: everything up to the first ``<trace>`` goes to the reference reader (root
    check, DTD refusal, log-level declarations). Fast mode: runs of whole traces go to the
    scanner while libxml2 checks well-formedness alongside. Reference mode (for good, once the
    scanner declines a run or the document is not UTF-8): everything goes to the reference
    reader.
    """

    def __init__(self, target: _Target, fast: bool, batch_size: int) -> None:
        self.target = target
        self.batch_size = max(1, batch_size)
        self.reference = _parser(target)
        self.mode = _HEAD_MODE if fast else _REFERENCE_MODE
        self.checker: etree.XMLParser | None = None
        self.decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.pending = ""
        self.started = False

    def feed(self, chunk: bytes) -> None:
        if self.mode == _REFERENCE_MODE:
            self.reference.feed(chunk)
            return
        if not self.started:
            self.started = True
            if not _utf8(chunk):
                self._hand_over(chunk)
                return
            self.checker = _parser(_NoCallbacks())
        self.pending += self.decoder.decode(chunk)
        if self.mode == _HEAD_MODE:
            self._head()
            if self.mode == _REFERENCE_MODE:
                return  # the pending text and the rest of the chunk went to the reference
        self._check(chunk)
        if self.mode == _FAST_MODE:
            self._runs()

    def _check(self, chunk: bytes) -> None:
        assert self.checker is not None
        try:
            self.checker.feed(chunk)
        except etree.XMLSyntaxError as exc:
            raise _Malformed(exc) from None

    def _hand_over(self, chunk: bytes = b"") -> None:
        """Reference mode from here on: the pending text first, then the undecoded bytes."""
        self.mode = _REFERENCE_MODE
        rest = self.decoder.getstate()[0]
        data = self.pending.encode("utf-8", "surrogateescape") + rest + chunk
        self.pending = ""
        if data:
            self.reference.feed(data)

    def _feed_reference(self, text: str) -> None:
        if text:
            self.reference.feed(text.encode("utf-8", "surrogateescape"))

    def _head(self) -> None:
        text = self.pending
        pos = 0
        keep = -1
        while keep < 0:
            found = [i for i in (text.find(m, pos) for m in ("<trace>", "<!", "<?")) if i >= 0]
            if not found:
                keep = max(pos, len(text) - 16)  # a tag may be cut at the chunk's end
                break
            at = min(found)
            if text.startswith("<trace>", at):
                self._feed_reference(text[:at])
                self.pending = text[at:]
                target = self.target
                if target.depth == 1 and target.seen_root:
                    self.mode = _FAST_MODE
                else:  # a <trace> where a trace cannot be: let the reference reader judge
                    self._hand_over()
                return
            # comments, processing instructions, CDATA: a <trace> inside them is no trace
            for opener, closer in _SKIPPED:
                if text.startswith(opener, at):
                    end = text.find(closer, at + len(opener))
                    if end < 0:
                        keep = at  # still open: wait for more text
                    else:
                        pos = end + len(closer)
                    break
            else:
                if len(text) - at < len("<![CDATA["):
                    keep = at  # an opener cut at the chunk's end
                else:  # a DTD or another declaration: the reference reader judges (refuses)
                    self._hand_over()
                    return
        self._feed_reference(text[:keep])
        self.pending = text[keep:]
        if len(self.pending) > _MAX_PENDING:
            self._hand_over()

    def more(self) -> None:
        """Go on with the text already read, once the last full batch has been handed out."""
        if self.mode == _FAST_MODE:
            self._runs()

    def _runs(self) -> None:
        """Scan runs of whole traces until the text or the batch runs out."""
        while self.mode == _FAST_MODE:
            text = self.pending
            end = text.rfind("</trace>")
            if end < 0:
                if len(text) > _MAX_PENDING:
                    self._hand_over()
                return
            room = self.batch_size - len(self.target.b)
            if room <= 0:
                return
            end = _cut(text, end + len("</trace>"), room)
            if scan(text[:end], self.target):
                self.pending = text[end:]
            else:
                self._hand_over()

    def close(self) -> None:
        if self.mode != _REFERENCE_MODE and self.started:
            self.pending += self.decoder.decode(b"", final=True)
            if self.mode == _HEAD_MODE:
                self._head()
            if self.checker is not None and self.mode == _FAST_MODE:
                try:
                    self.checker.close()
                except etree.XMLSyntaxError as exc:
                    raise _Malformed(exc) from None
                self._runs()
            self._hand_over()
        self.reference.close()


def _cut(text: str, end: int, room: int) -> int:
    """Where to end a run of whole traces (``text[:end]`` holds whole traces) so that it holds
    about ``room`` events at most (at least one trace, however long)."""
    events = text.count("<event>", 0, end)
    while events > room:
        guess = end * room // events
        shorter = text.rfind("</trace>", 0, guess)
        if shorter < 0:
            return text.find("</trace>") + len("</trace>")
        end = shorter + len("</trace>")
        events = text.count("<event>", 0, end)
    return end


def _utf8(head: bytes) -> bool:
    """Whether the document is UTF-8 (the scanner reads UTF-8 only)."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or head[:1] == b"\x00" or head[1:2] == b"\x00":
        return False
    declared = _DECLARED.match(head)
    return declared is None or declared.group(1).lower() in (b"utf-8", b"utf8")


def _open(source: str | Path | bytes | IO[bytes]) -> tuple[IO[bytes], bool]:
    """A binary stream of the (decompressed) document, and whether we opened it ourselves."""
    if isinstance(source, bytes | bytearray | memoryview):
        raw: IO[bytes] = io.BytesIO(bytes(source))
        owned = True
    elif isinstance(source, str | os.PathLike):
        raw = open(source, "rb")  # noqa: SIM115 - closed by the caller via `owned`
        owned = True
    else:
        raw = source
        owned = False
    head = _peek(raw, 2)
    if head == _GZIP_MAGIC:
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")), True
    return raw, owned


def _peek(stream: IO[bytes], n: int) -> bytes:
    peek: Callable[[int], bytes] | None = getattr(stream, "peek", None)
    if peek is not None:
        return peek(n)[:n]
    if stream.seekable():
        pos = stream.tell()
        head = stream.read(n)
        stream.seek(pos)
        return head
    raise TypeError("read_xes needs a seekable or peekable binary stream (io.BufferedReader)")


def _document_name(source: object, document: str | None) -> str:
    if document is not None:
        return document
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<xes>"


def _locate(source: str | Path | bytes | IO[bytes], fail: _Fail) -> int | None:
    """Line of the failing event (or trace). Error path only: it re-reads the document."""
    if fail.doc_event is None and fail.trace is None:
        return None
    try:
        stream, owned = _open(source)
    except (OSError, TypeError):
        return None
    try:
        if not owned and stream.seekable():
            stream.seek(0)
        traces = events = -1
        for _, el in etree.iterparse(
            stream, events=("start",), resolve_entities=False, no_network=True, load_dtd=False
        ):
            local = el.tag.rpartition("}")[2] if isinstance(el.tag, str) else ""
            if local == "event":
                events += 1
                if events == fail.doc_event:
                    return int(el.sourceline)
            elif local == "trace":
                traces += 1
                if fail.doc_event is None and traces == fail.trace:
                    return int(el.sourceline)
    except (etree.LxmlError, OSError, EOFError):
        return None
    finally:
        if owned:
            stream.close()
    return None


def read_xes(
    source: str | Path | bytes | IO[bytes],
    *,
    document: str | None = None,
    batch_size: int = 50_000,
    case_type: str = "case",
    resource_type: str | None = "resource",
) -> Iterator[Ocel]:
    """Read a XES event log (plain or gzip-compressed) as OCEL 2.0 batches.

    Each trace becomes one object of type ``case_type`` (its id is the trace's
    ``concept:name``, its attributes become the object's attributes at the epoch); each event
    becomes an OCEL event whose type is the activity (``concept:name``) and whose time is
    ``time:timestamp`` in UTC, related to its case (qualifier ``case``) and, when it names
    one, to its resource (``org:resource``, an object of type ``resource_type``, qualifier
    ``resource``; ``None`` skips resource objects). Event ids are ``identity:id`` where the log
    has them, else ``<case id>/<position in trace>`` — the same log read twice gives the same
    ids, so re-importing it stores nothing new.

    ``source``: a path, the file's bytes, or an open binary stream. ``batch_size``: events per
    batch. Raises :class:`DocumentError` naming the trace, event, field and line on anything
    that is not a readable XES log.
    """
    return _read(source, document, batch_size, case_type, resource_type, fast=True)


def _read(
    source: str | Path | bytes | IO[bytes],
    document: str | None,
    batch_size: int,
    case_type: str,
    resource_type: str | None,
    *,
    fast: bool,
) -> Iterator[Ocel]:
    """:func:`read_xes`; ``fast=False`` reads every element through the reference reader."""
    name = _document_name(source, document)
    builder = _Builder()
    target = _Target(builder, case_type, resource_type)
    feeder = _Feeder(target, fast, batch_size)
    try:
        stream, owned = _open(source)
    except OSError as exc:
        raise DocumentError.single("Cannot read file", str(exc), document=name) from exc
    try:
        while True:
            try:
                chunk = stream.read(_REFERENCE_CHUNK if feeder.mode == _REFERENCE_MODE else _CHUNK)
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                raise DocumentError.single(
                    "Broken compressed file",
                    f"cannot decompress: {exc}",
                    document=name,
                    expected="a complete gzip file",
                ) from exc
            if not chunk:
                break
            feeder.feed(chunk)
            while len(builder) >= batch_size:
                yield builder.build()
                feeder.more()
        feeder.close()
        if not target.seen_root:
            raise DocumentError.single(
                "Not a XES log",
                "the document is empty",
                document=name,
                expected="<log> as the root element",
            )
        if len(builder) or builder.ob_id or builder.oa_id or target.event_total == 0:
            yield builder.build()
    except _Malformed as malformed:
        # The well-formedness pass ran ahead of the readers: a mistake earlier in the same
        # chunk would have been reported first by the reference reader. Ask it (error path
        # only: the document is read again) so that both paths refuse alike.
        if isinstance(source, str | os.PathLike | bytes | bytearray | memoryview):
            for _ in _read(source, document, batch_size, case_type, resource_type, fast=False):
                pass
        raise _syntax_error(malformed.error, name) from None
    except _Fail as fail:
        raise _problem(source, fail, name) from None
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, name) from None
    except etree.LxmlError as exc:
        raise DocumentError.single(
            "Not readable XML", str(exc), document=name, expected="a well-formed XES document"
        ) from None
    finally:
        if owned:
            stream.close()


def _syntax_error(exc: etree.XMLSyntaxError, name: str) -> DocumentError:
    return DocumentError.single(
        "Not well-formed XML",
        str(exc.msg or exc),
        document=name,
        line=exc.lineno if exc.lineno else None,
        expected="a well-formed XES document",
    )


def _problem(source: str | Path | bytes | IO[bytes], fail: _Fail, name: str) -> DocumentError:
    line = _locate(source, fail)
    where = []
    if fail.trace is not None:
        where.append(f"trace {fail.trace}")
    if fail.event is not None:
        where.append(f"event {fail.event}")
    detail = f"{', '.join(where)}: {fail.detail}" if where else fail.detail
    return DocumentError(
        [
            Problem(
                title=fail.title,
                detail=detail,
                document=name,
                event_index=fail.doc_event,
                field=_xpath(fail),
                expected=fail.expected,
                line=line,
            )
        ]
    )


def _xpath(fail: _Fail) -> str | None:
    path = "/log"
    if fail.trace is not None:
        path += f"/trace[{fail.trace + 1}]"
    if fail.event is not None:
        path += f"/event[{fail.event + 1}]"
    if fail.field is None:
        return path if path != "/log" else None
    if fail.field == "/":
        return "/"
    if fail.field.startswith("@"):
        return f"{path}/{fail.field}"
    return f"{path}/*[@key='{fail.field}']"
