"""Read an EPCIS 2.0 XML document, one event at a time, into the JSON binding's form.

A trading partner's EPCIS repository often speaks XML: an ``EPCISDocument`` (a capture) or an
``EPCISQueryDocument`` (the answer to a query, events under ``QueryResults/resultsBody``), or a
single bare event element. This reader streams it with lxml's ``iterparse`` (each event is
converted and then dropped, so a million-event shipment history stays in bounded memory) and
hands each event on in the **EPCIS 2.0 JSON binding form** that validation, the event hash and
the OCEL mapping all work on.

Safety: the parser never expands entities, never loads a DTD, never touches the network, and
refuses any document that carries a ``<!DOCTYPE>`` at all (EPCIS has no DTD, so a DOCTYPE can
only be a trick: billion laughs, an external entity pointing at ``/etc/passwd``). libxml2's own
limits (depth, text size, entity amplification) stay on (``huge_tree=False``).

What only XML can get wrong is refused here, with the XPath of the element and its line:
elements out of the order the XSD fixes (``eventTime`` before ``action``…), elements the XSD does
not know in the EPCIS namespace or in no namespace, missing required elements (``eventTime``,
``eventTimeZoneOffset``, ``action``…), an ``action`` other than ADD/OBSERVE/DELETE, a time that
is not an ``epcis:DateTimeStamp`` (date, time *and* time zone), a quantity or sensor value that
is not a number. The CBV and the semantic rules are checked later, on the JSON form.

Conventions of the conversion (the JSON binding leaves XML-only details open):

* EPCIS 1.x wrappers are unwrapped: ``<baseExtension>`` (``eventID``, ``errorDeclaration``),
  the event's ``<extension>`` (``quantityList``, ``sourceList``, ``ilmd``… and nested
  ``<extension>``) and ``<EventList><extension><TransformationEvent>``.
* Elements of the EPCIS namespaces themselves (``<epcis:epcList>``, or a default namespace
  ``urn:epcglobal:epcis:xsd:2``) are read as their unqualified names.
* A user extension element becomes the key ``"prefix:local"`` with the prefix the document
  declared; every declaration met is recorded in :attr:`DocumentHeader.namespaces` (prefix →
  URI) before the event using it is handed on. An undeclared default namespace, or a prefix the
  document rebinds to another URI, gets an invented prefix ``ns1``, ``ns2``… recorded there too.
  Children without a namespace inside an extension keep their bare local name.
* Inside user extensions: a leaf element is its text (whitespace-trimmed, always a string);
  an element with children is an object; repeated siblings of one name become a list. XML
  attributes become members named like elements (``"prefix:local"``, bare ``local`` without
  namespace), *not* ``"@name"``: that is what openepcis' converter writes for the same document
  in JSON, so an event captured in either syntax has the same JSON form and the same event hash.
  An attribute and a child element of one name make a list. The element's own text, when it
  also has attributes or children, is the ``"#text"`` member. ``xsi:type``/``xsi:nil`` are
  dropped (they describe the XML, not the data; values stay strings).
* Quantities and the sensor values (``value``, ``minValue``, ``maxValue``, ``sDev``,
  ``meanValue``, ``percRank``, ``percValue``) become floats, ``booleanValue`` a bool; CBV values
  are passed on as written (URN, Web URI or bare word), as are times (not normalised to UTC).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeAlias, cast

from lxml import etree

from keiretsu.io.epcis._types import DocumentHeader, RawEvent
from keiretsu.io.epcis._xml_fields import (
    ACTIONS,
    DATE_TIME,
    DECIMAL,
    DOCUMENT_ROOTS,
    DOUBLE,
    EPC_LIST_FIELDS,
    EPCIS_NAMESPACES,
    EVENT_POSITIONS,
    EVENT_SEQUENCES,
    EVENT_TYPES,
    LEGACY_BASE_EXTENSION,
    LOCATION_FIELDS,
    QUANTITY_LIST_FIELDS,
    REQUIRED,
    SENSOR_BOOLEANS,
    SENSOR_DOUBLES,
    SENSOR_METADATA_TIMES,
    TEXT_FIELDS,
)
from keiretsu.model.errors import DocumentError, Problem

__all__ = ["read_xml_document"]

# lxml-stubs types every ``.tag`` as str (comments and entities have callables) and
# ``.sourceline`` wrongly; elements are handled as Any here.
_El: TypeAlias = Any
_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_CONTAINERS = ("EPCISHeader", "EPCISBody", "QueryResults", "resultsBody", "EventList", "extension")
# Only these names reach Python as start/end events; everything inside an event is read from
# the finished subtree, which keeps the per-element overhead in C.
_WATCHED = [f"{{*}}{name}" for name in (*DOCUMENT_ROOTS, *_CONTAINERS, *EVENT_TYPES)] + [
    "{*}QuantityEvent"
]
_PLAIN_EVENTS = frozenset(EVENT_TYPES)
REQUIRED_SETS = {etype: frozenset(names) for etype, names in REQUIRED.items()}
_LIFT = object()  # marks the 1.x wrappers <extension> and <baseExtension> in the reader table
_DRAIN_EVERY = 256  # read events are dropped from the tree in batches of this many
_DATE_TIME_WORDS = "a date and time with a time zone, e.g. 2024-03-01T08:15:00.000+01:00"


def read_xml_document(
    source: str | Path | bytes | BinaryIO, *, document: str | None = None, strict: bool = True
) -> tuple[DocumentHeader, Iterator[RawEvent]]:
    """Open an EPCIS XML document: its header now, its events as you iterate.

    ``source`` is a file path (``str`` or ``Path``), the document's bytes, or a binary file
    object. ``document`` names it in error reports (default: the file name).

    ``strict=False`` tolerates what some producers get wrong and the XSD refuses: standard
    elements out of the schema's order (also inside ``quantityElement``, ``sensorElement`` and
    ``persistentDisposition``), user extensions before standard elements, and a query document
    whose ``resultsBody`` sits directly under the root. Unknown, repeated or missing elements,
    bad values and unsafe XML are refused either way.

    Raises :class:`DocumentError` (with line and XPath) for malformed or unsafe XML and for a
    root that is not an EPCIS document, both here and while iterating the events.
    """
    if document is None and isinstance(source, str | Path):
        document = Path(source).name
    reader = _Reader(source, document, strict=strict)
    steps = reader.run()
    first = next(steps)
    assert isinstance(first, DocumentHeader)
    # After the header, the reader yields nothing but events.
    return first, cast(Iterator[RawEvent], steps)


class _Refusal(Exception):
    """Internal: one problem found while converting; becomes a DocumentError."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.problem = problem


class _Container:
    """An element whose children are events: where we are and how many siblings went by."""

    __slots__ = ("counts", "path", "read")

    def __init__(self, path: str) -> None:
        self.path = path
        self.counts: dict[str, int] = {}
        """element name → how many of that name were read (the XPath position of the last)"""
        self.read = 0


class _Reader:
    def __init__(
        self, source: str | Path | bytes | BinaryIO, document: str | None, *, strict: bool
    ) -> None:
        self.source = source
        self.strict = strict
        self.document = document
        self.namespaces: dict[str, str] = {}
        self.header = DocumentHeader(syntax="xml", namespaces=self.namespaces)
        self._uri_prefix: dict[str, str] = {}
        self._keys: dict[tuple[str | None, str], str] = {}
        self._invented = 0
        self.index = 0
        self._readers = self._make_readers()
        self._bare = False
        self._loose_results = False
        # the event being converted (for XPaths in problems)
        self._event_el: _El | None = None
        self._pointer = ""

    # ---- driving the parser -------------------------------------------------------------

    def run(self) -> Iterator[DocumentHeader | RawEvent]:
        src: Any = self.source
        if isinstance(src, bytes | bytearray | memoryview):
            src = io.BytesIO(bytes(src))
        elif isinstance(src, Path):
            src = str(src)
        # Only end events: the header is complete by the time the first event ends, and each
        # event is converted from its finished subtree.
        parser = etree.iterparse(
            src,
            events=("end", "start-ns"),
            tag=_WATCHED,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            attribute_defaults=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            remove_blank_text=True,
        )
        root: _El | None = None
        header_given = False
        containers: dict[_El, _Container | None] = {}
        plain_events = _PLAIN_EVENTS
        try:
            for action, el in parser:
                if action == "start-ns":
                    self._declare(el[0] or None, el[1])
                    continue
                tag = el.tag
                if root is None:
                    root = el.getroottree().getroot()
                    self._open_root(root)
                if tag in plain_events and el is not root:
                    # the hot path: an unqualified event element
                    parent = el.getparent()
                    try:
                        state = containers[parent]
                    except KeyError:
                        state = containers[parent] = self._container(parent, root, containers)
                    if state is None:
                        continue  # an event-named element inside something else: not ours
                    if not header_given:
                        header_given = True
                        yield self.header
                    counts = state.counts
                    n = counts[tag] = counts.get(tag, 0) + 1
                    yield self._convert(el, tag, f"{state.path}/{tag}[{n}]")
                    el.clear()
                    state.read += 1
                    if state.read % _DRAIN_EVERY == 0:
                        self._drain(parent, el, state)
                    continue
                for step in self._slow_end(el, root, containers):
                    if step is None:
                        if not header_given:
                            header_given = True
                            yield self.header
                    else:
                        yield step
            if root is None:
                # No watched element at all: let the root say what it is instead.
                found = getattr(parser, "root", None)
                if found is None:
                    raise self._malformed("no root element", None)
                self._open_root(found)
            if not header_given:
                yield self.header
        except _Refusal as refusal:
            raise DocumentError([refusal.problem]).with_document(self._doc_name()) from None
        except etree.XMLSyntaxError as exc:
            raise self._malformed(str(exc.msg), exc.lineno) from None
        except (etree.LxmlError, UnicodeError, ValueError, LookupError) as exc:
            raise self._malformed(str(exc), None) from None
        except RecursionError:
            raise self._malformed("elements nested too deeply", None) from None

    def _doc_name(self) -> str:
        return self.document or "<xml>"

    def _malformed(self, message: str, line: int | None) -> DocumentError:
        return DocumentError.single(
            "Malformed XML",
            message.strip() or "the XML parser refused the document",
            document=self.document,
            line=line,
            expected="a well-formed XML document",
        )

    def _slow_end(
        self, el: _El, root: _El, containers: dict[_El, _Container | None]
    ) -> Iterator[RawEvent | None]:
        """Everything but an unqualified event: the root, the containers, qualified events.

        Yields ``None`` where the header must be handed on before what follows."""
        ns, local = _split(el.tag)
        if el is root:
            if self._bare:
                yield None
                yield self._convert(el, local, f"/{_qname(el)}")
            else:
                self._close_root(el, containers)
            return
        if ns is not None and ns not in EPCIS_NAMESPACES:
            return  # a user extension element that happens to share a watched name
        parent = el.getparent()
        if local in EVENT_TYPES or local == "QuantityEvent":
            if parent not in containers:
                containers[parent] = self._container(parent, root, containers)
            state = containers[parent]
            if state is None:
                return
            if local == "QuantityEvent":
                raise self._stray(el, state.path, removed=True)
            n = state.counts[el.tag] = state.counts.get(el.tag, 0) + 1
            yield None
            yield self._convert(el, local, f"{state.path}/{_qname(el)}[{n}]")
            el.clear()
            return
        if local in ("EventList", "extension"):
            state = containers.get(el)
            if state is None and local == "EventList":
                state = self._container(el, root, containers)
            if state is not None:
                self._drain(el, None, state)
        elif local == "EPCISBody" and parent is root:
            self._check_body(el)
        elif local == "EPCISHeader" and parent is root:
            self.header.attributes["epcisHeader"] = self._header_value(el)

    def _container(
        self, el: _El | None, root: _El, containers: dict[_El, _Container | None]
    ) -> _Container | None:
        """The state of an element that holds events, or None if it is not an event list."""
        if el is None or self._bare:
            return None
        ns, local = _split(el.tag)
        if ns is not None and ns not in EPCIS_NAMESPACES:
            return None
        parent = el.getparent()
        if parent is None:
            return None
        p_ns, p_local = _split(parent.tag)
        if p_ns is not None and p_ns not in EPCIS_NAMESPACES:
            return None
        grand = parent.getparent()
        if local == "EventList":
            if p_local == "EPCISBody" and grand is root:
                return _Container(f"/{_qname(root)}/{_qname(parent)}/{_qname(el)}")
            if p_local == "resultsBody" and grand is not None:
                g_local = _split(grand.tag)[1]
                body = grand.getparent()
                if (
                    g_local == "QueryResults"
                    and body is not None
                    and _split(body.tag)[1] == "EPCISBody"
                    and body.getparent() is root
                ):
                    return _Container(
                        f"/{_qname(root)}/{_qname(body)}/{_qname(grand)}/{_qname(parent)}"
                        f"/{_qname(el)}"
                    )
                if grand is root and not self.strict:
                    # Seen in the wild: query results without EPCISBody/QueryResults around.
                    self._loose_results = True
                    return _Container(f"/{_qname(root)}/{_qname(parent)}/{_qname(el)}")
            return None
        if local == "extension" and p_local == "EventList":
            if parent not in containers:
                containers[parent] = self._container(parent, root, containers)
            outer = containers[parent]
            if outer is None:
                return None
            n = outer.counts[el.tag] = outer.counts.get(el.tag, 0) + 1
            return _Container(f"{outer.path}/{_qname(el)}[{n}]")
        return None

    def _open_root(self, root: _El) -> None:
        """Check the root and fill the header (``_bare`` when the root is a bare event)."""
        ns, local = _split(root.tag)
        info = root.getroottree().docinfo
        if info.doctype or info.internalDTD is not None:
            raise _Refusal(
                Problem(
                    title="DOCTYPE refused",
                    detail="the document declares a DOCTYPE; EPCIS XML has no DTD, and DTDs "
                    "can carry entity bombs or external entities",
                    document=self.document,
                    line=1,
                    expected="no <!DOCTYPE> declaration",
                )
            )
        for prefix, uri in root.nsmap.items():
            self._declare(prefix, uri)
        if local in EVENT_TYPES and (ns is None or ns in EPCIS_NAMESPACES):
            self.header.schema_version = root.get("schemaVersion")
            self.header.creation_date = root.get("creationDate")
            self._bare = True
            return
        if local not in DOCUMENT_ROOTS or ns not in EPCIS_NAMESPACES:
            raise _Refusal(
                Problem(
                    title="Not an EPCIS document",
                    detail=f"the root element is {tag_words(root)}",
                    document=self.document,
                    field=f"/{_qname(root)}",
                    line=root.sourceline,
                    expected="epcis:EPCISDocument (urn:epcglobal:epcis:xsd:2), "
                    "epcisq:EPCISQueryDocument (urn:epcglobal:epcis-query:xsd:2) or a bare event",
                )
            )
        self.header.kind = local
        for name, value in root.attrib.items():
            name = str(name)
            if name == "schemaVersion":
                self.header.schema_version = str(value)
            elif name == "creationDate":
                value = str(value)
                if not DATE_TIME.fullmatch(value):
                    raise _Refusal(
                        Problem(
                            title="Invalid date and time",
                            detail=f"creationDate {value!r} is not an epcis:DateTimeStamp",
                            document=self.document,
                            field=f"/{_qname(root)}/@creationDate",
                            line=root.sourceline,
                            expected=_DATE_TIME_WORDS,
                        )
                    )
                self.header.creation_date = value
            elif not name.startswith("{" + _XSI):
                self.header.attributes[self._attr_key(name)] = str(value)

    def _close_root(self, root: _El, containers: dict[_El, _Container | None]) -> None:
        seen_body = False
        for child in root:
            if self._loose_results:
                break  # strict=False and the results sit under the root: nothing more to check
            ns, local = _split(child.tag)
            if ns is not None and ns not in EPCIS_NAMESPACES:
                # User extensions of the document; producers put them before the body too.
                self.header.attributes[self._key(child)] = self._ext_value(child)
                continue
            if local == "EPCISBody" and not seen_body:
                seen_body = True
            elif not (
                (local == "EPCISHeader" and not seen_body)
                or (local == "extension" and seen_body)
                or (local in ("queryName", "subscriptionID", "resultsBody") and not self.strict)
            ):
                raise self._unexpected(
                    child,
                    f"/{_qname(root)}/{_qname(child)}",
                    "EPCISHeader, then EPCISBody, then extension or user extensions",
                )
        if not seen_body and not self._loose_results:
            raise _Refusal(
                Problem(
                    title="Missing element",
                    detail=f"{_qname(root)} has no EPCISBody",
                    document=self.document,
                    field=f"/{_qname(root)}/EPCISBody",
                    line=root.sourceline,
                    expected="an EPCISBody element holding the EventList",
                )
            )

    def _check_body(self, body: _El) -> None:
        path = f"/{_qname(body.getparent())}/{_qname(body)}"
        query = self.header.kind == "EPCISQueryDocument"
        allowed = (
            ("EventList", "extension", "QueryResults") if query else ("EventList", "extension")
        )
        for child in body:
            ns, local = _split(child.tag)
            if ns is not None and ns not in EPCIS_NAMESPACES:
                continue
            if local not in allowed:
                raise self._unexpected(child, f"{path}/{_qname(child)}", " or ".join(allowed))

    def _drain(self, parent: _El, upto: _El | None, state: _Container) -> None:
        """Drop the events already read before ``upto`` (all children when None) from the
        tree, refusing anything between them that is not an event."""
        for sib in parent:
            if sib is upto:
                break
            tag = sib.tag
            if tag in _PLAIN_EVENTS:
                continue
            if not isinstance(tag, str):
                continue
            ns, local = _split(tag)
            if (ns is None or ns in EPCIS_NAMESPACES) and local in (*EVENT_TYPES, "extension"):
                continue
            raise self._stray(sib, state.path, removed=local == "QuantityEvent")
        if upto is not None:
            del parent[: parent.index(upto)]

    def _stray(self, el: _El, path: str, *, removed: bool) -> _Refusal:
        parent = el.getparent()
        same = [s for s in parent if s.tag == el.tag] if parent is not None else [el]
        n = next(i for i, s in enumerate(same, 1) if s is el)
        if removed:
            return _Refusal(
                Problem(
                    title="Event type not in EPCIS 2.0",
                    detail="QuantityEvent was deprecated in EPCIS 1.1 and removed in 2.0",
                    document=self.document,
                    event_index=self.index,
                    field=f"{path}/{_qname(el)}[{n}]",
                    line=el.sourceline,
                    expected="an ObjectEvent with a quantityList instead",
                )
            )
        return self._unexpected(
            el,
            f"{path}/{_qname(el)}[{n}]",
            "an event: " + ", ".join(EVENT_TYPES),
        )

    def _unexpected(self, el: _El, field: str, expected: str) -> _Refusal:
        return _Refusal(
            Problem(
                title="Unknown element",
                detail=f"{tag_words(el)} is not allowed here",
                document=self.document,
                field=field,
                line=el.sourceline,
                expected=expected,
            )
        )

    # ---- namespaces -----------------------------------------------------------------------

    def _declare(self, prefix: str | None, uri: str) -> str:
        """Record a namespace declaration; return the prefix it is known by in the header."""
        if prefix:
            bound = self.namespaces.get(prefix)
            if bound is None:
                self.namespaces[prefix] = uri
                self._uri_prefix.setdefault(uri, prefix)
                return prefix
            if bound == uri:
                return prefix
        known = self._uri_prefix.get(uri)
        if known is not None:
            return known
        while True:
            self._invented += 1
            invented = f"ns{self._invented}"
            if invented not in self.namespaces:
                break
        self.namespaces[invented] = uri
        self._uri_prefix[uri] = invented
        return invented

    def _key(self, el: _El) -> str:
        """The JSON-form key of an element: ``prefix:local``, or ``local`` without namespace."""
        tag: str = el.tag
        written = el.prefix
        cache_key = (written, tag)
        key = self._keys.get(cache_key)
        if key is None:
            ns, local = _split(tag)
            if ns is None or ns in EPCIS_NAMESPACES:
                key = local
            else:
                key = f"{self._declare(written, ns)}:{local}"
            self._keys[cache_key] = key
        return key

    def _attr_key(self, name: str) -> str:
        ns, local = _split(name)
        if ns is None:
            return local
        written = None
        if ns == "http://www.w3.org/XML/1998/namespace":
            return f"xml:{local}"
        known = self._uri_prefix.get(ns)
        return f"{known or self._declare(written, ns)}:{local}"

    # ---- values ---------------------------------------------------------------------------

    def _ext_value(self, el: _El) -> Any:
        """A user extension element as JSON: text, or an object of attributes and children."""
        children = [c for c in el if isinstance(c.tag, str)]
        attrib = el.attrib
        text = (el.text or "").strip()
        if not children and not (attrib and _has_data_attributes(attrib)):
            return text
        out: dict[str, Any] = {}
        for name, value in attrib.items():
            name = str(name)
            if not name.startswith("{" + _XSI):  # xsi:type, xsi:nil describe the XML only
                _put(out, self._attr_key(name), str(value))
        for child in children:
            _put(out, self._key(child), self._ext_value(child))
        if text:
            out["#text"] = text
        return out

    def _header_value(self, el: _El) -> dict[str, Any]:
        """The EPCISHeader: SBDH as a user extension, master data in the JSON binding's shape."""
        out: dict[str, Any] = {}
        for child in el:
            if not isinstance(child.tag, str):
                continue
            ns, local = _split(child.tag)
            if local == "extension" and (ns is None or ns in EPCIS_NAMESPACES):
                for sub in child:
                    if isinstance(sub.tag, str) and _split(sub.tag)[1] == "EPCISMasterData":
                        out["epcisMasterData"] = self._master_data(sub)
                    elif isinstance(sub.tag, str):
                        out[self._key(sub)] = self._ext_value(sub)
            elif local == "EPCISMasterData":
                out["epcisMasterData"] = self._master_data(child)
            else:
                out[self._key(child)] = self._ext_value(child)
        return out

    def _master_data(self, el: _El) -> dict[str, Any]:
        vocabularies: list[dict[str, Any]] = []
        for voc in el.iter("VocabularyList", "{*}VocabularyList"):
            for v in voc:
                if not isinstance(v.tag, str) or _split(v.tag)[1] != "Vocabulary":
                    continue
                elements: list[dict[str, Any]] = []
                for ve in v.iter("VocabularyElement", "{*}VocabularyElement"):
                    item: dict[str, Any] = {"id": ve.get("id")}
                    attrs = []
                    for a in ve:
                        if not isinstance(a.tag, str):
                            continue
                        a_local = _split(a.tag)[1]
                        if a_local == "attribute":
                            value: Any = self._ext_value(a)
                            if isinstance(value, dict):
                                # the element's own id attribute is not part of its value
                                value.pop("@id", None)
                                value.pop("id", None)
                                value = value.get("#text", value) if len(value) == 1 else value
                            attrs.append({"id": a.get("id"), "attribute": value})
                        elif a_local == "children":
                            item["children"] = [(c.text or "").strip() for c in a]
                    if attrs:
                        item["attributes"] = attrs
                    elements.append(item)
                vocabularies.append({"type": v.get("type"), "vocabularyElementList": elements})
        return {"vocabularyList": vocabularies}

    # ---- events ---------------------------------------------------------------------------

    def _convert(self, ev: _El, etype: str, pointer: str) -> RawEvent:
        self._event_el = ev
        self._pointer = pointer
        line = ev.sourceline
        if ev.tag[0] == "{":
            _unqualify(ev)
        data: dict[str, Any] = {"type": etype}
        self._fields(ev, etype, data, legacy=False)
        if not REQUIRED_SETS[etype] <= data.keys():
            name = next(n for n in REQUIRED[etype] if n not in data)
            raise self._refuse(
                ev,
                "Missing element",
                f"{etype} has no {name}",
                f"{name} (required in every {etype})",
                child=name,
            )
        raw = RawEvent(index=self.index, data=data, pointer=pointer, line=line)
        self.index += 1
        return raw

    def _fields(self, parent: _El, etype: str, data: dict[str, Any], *, legacy: bool) -> None:
        """Read the standard fields of an event (or of a 1.x ``extension`` wrapper) in order."""
        positions = EVENT_POSITIONS[etype]
        readers = self._readers
        strict = self.strict
        check_twice = legacy or not strict
        last = -1
        first_user: _El | None = None
        for child in parent:
            tag = child.tag
            pos = positions.get(tag)
            if pos is None:
                if not isinstance(tag, str):
                    continue
                if tag[0] == "{":
                    ns, local = _split(tag)
                    if ns not in EPCIS_NAMESPACES:
                        _put(data, self._key(child), self._ext_value(child))
                        if first_user is None:
                            first_user = child
                        continue
                    _unqualify(child)
                    tag = local
                    pos = positions.get(tag)
                if pos is None:
                    raise self._refuse(
                        child,
                        "Unknown element",
                        f"<{tag}> is not an element of {etype} in EPCIS 2.0",
                        f"the elements of the {etype} sequence: "
                        + ", ".join(EVENT_SEQUENCES[etype]),
                    )
            if strict and (pos <= last or first_user is not None):
                raise self._order_problem(child, tag, pos, last, parent, first_user, etype)
            last = pos
            reader = readers[tag]
            if reader is None:
                text = child.text
                value: Any = text.strip() if text else ""
            elif reader is _LIFT:
                if tag == "extension":
                    # EPCIS 1.x put the newer standard fields here; 2.0 puts user extensions here.
                    self._fields(child, etype, data, legacy=True)
                else:
                    self._base_extension(child, data)
                continue
            else:
                value = reader(child)
            if check_twice and tag in data:
                raise self._refuse(
                    child, "Duplicate element", f"<{tag}> is given twice", f"one {tag}"
                )
            data[tag] = value

    def _order_problem(
        self,
        child: _El,
        tag: str,
        pos: int,
        last: int,
        parent: _El,
        first_user: _El | None,
        etype: str,
    ) -> _Refusal:
        if first_user is not None:
            return self._refuse(
                child,
                "Wrong element order",
                f"<{tag}> comes after the user extension {tag_words(first_user)}",
                "all standard EPCIS elements before any user extension element",
            )
        before = EVENT_SEQUENCES[etype][last]
        if pos == last:
            return self._refuse(
                child, "Duplicate element", f"<{tag}> appears more than once", f"one {tag}"
            )
        return self._refuse(
            child,
            "Wrong element order",
            f"<{tag}> comes after <{before}>",
            f"<{tag}> before <{before}>, in the order of the EPCIS 2.0 XSD",
        )

    def _base_extension(self, el: _El, data: dict[str, Any]) -> None:
        last = -1
        for child in el:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            ns, local = _split(tag)
            if ns is not None and ns not in EPCIS_NAMESPACES:
                _put(data, self._key(child), self._ext_value(child))
                continue
            if local == "extension":
                for sub in child:
                    if isinstance(sub.tag, str):
                        _put(data, self._key(sub), self._ext_value(sub))
                continue
            if local not in LEGACY_BASE_EXTENSION:
                raise self._refuse(
                    child,
                    "Unknown element",
                    f"<{local}> is not allowed in baseExtension",
                    "eventID, errorDeclaration or user extension elements",
                )
            pos = LEGACY_BASE_EXTENSION.index(local)
            if pos <= last or local in data:
                raise self._refuse(
                    child,
                    "Wrong element order",
                    f"<{local}> is out of order or given twice",
                    "eventID before errorDeclaration, each at most once",
                )
            last = pos
            data[local] = self._value(local, child)

    def _make_readers(self) -> dict[str, Any]:
        """Element name → how to read it (None: plain text; _LIFT: a 1.x wrapper to unwrap)."""
        readers: dict[str, Any] = {name: None for name in TEXT_FIELDS}
        readers["eventTime"] = readers["recordTime"] = self._time_text
        readers["action"] = self._action
        for name in EPC_LIST_FIELDS:
            readers[name] = self._epc_list
        for name in QUANTITY_LIST_FIELDS:
            readers[name] = self._quantity_list
        for name in LOCATION_FIELDS:
            readers[name] = self._location
        readers["bizTransactionList"] = self._biz_transactions
        readers["sourceList"] = self._sources
        readers["destinationList"] = self._destinations
        readers["sensorElementList"] = self._sensor_element_list
        readers["persistentDisposition"] = self._persistent_disposition
        readers["ilmd"] = self._ilmd
        readers["errorDeclaration"] = self._error_declaration
        readers["extension"] = readers["baseExtension"] = _LIFT
        return readers

    def _value(self, tag: str, el: _El) -> Any:
        reader = self._readers[tag]
        if reader is None:
            return (el.text or "").strip()
        return reader(el)

    def _time_text(self, el: _El) -> str:
        text = el.text
        text = text.strip() if text else ""
        if not DATE_TIME.fullmatch(text):
            self._check_time(el, text)
        return text

    def _action(self, el: _El) -> str:
        text = (el.text or "").strip()
        if text not in ACTIONS:
            raise self._refuse(
                el,
                "Invalid action",
                f"action {text!r} is not an EPCIS action",
                "ADD, OBSERVE or DELETE",
            )
        return text

    def _biz_transactions(self, el: _El) -> list[dict[str, str]]:
        return self._typed_list(el, "bizTransaction", type_required=False)

    def _sources(self, el: _El) -> list[dict[str, str]]:
        return self._typed_list(el, "source", type_required=True)

    def _destinations(self, el: _El) -> list[dict[str, str]]:
        return self._typed_list(el, "destination", type_required=True)

    def _check_time(self, el: _El, text: str, attr: str | None = None) -> None:
        if not DATE_TIME.fullmatch(text):
            what = f"@{attr}" if attr else _split(el.tag)[1]
            raise self._refuse(
                el,
                "Invalid date and time",
                f"{what} {text!r} is not an epcis:DateTimeStamp",
                _DATE_TIME_WORDS,
                attr=attr,
            )

    def _epc_list(self, el: _El) -> list[str]:
        out = []
        for epc in el:
            if epc.tag != "epc":
                if isinstance(epc.tag, str):
                    raise self._unknown_child(epc, "epc elements")
                continue
            out.append((epc.text or "").strip())
        return out

    def _quantity_list(self, el: _El) -> list[dict[str, Any]]:
        out = []
        for qe in el:
            if qe.tag != "quantityElement":
                if isinstance(qe.tag, str):
                    raise self._unknown_child(qe, "quantityElement elements")
                continue
            item: dict[str, Any] = {}
            stage = 0  # 0: want epcClass, 1: quantity or end, 2: uom or end, 3: end
            for f in qe:
                t = f.tag
                if not isinstance(t, str):
                    continue
                if not self.strict and t in ("epcClass", "quantity", "uom") and t not in item:
                    # any order, each once
                    stage = {"epcClass": 0, "quantity": 1, "uom": 2}[t]
                    if t == "quantity" and f.get(_XSI_NIL) in ("true", "1"):
                        item["quantity"] = None
                        continue
                if t == "epcClass" and stage == 0:
                    item["epcClass"] = (f.text or "").strip()
                    stage = 1
                elif t == "quantity" and stage == 1:
                    if f.get(_XSI_NIL) not in ("true", "1"):
                        item["quantity"] = self._decimal(f)
                    stage = 2
                elif t == "uom" and stage == 2:
                    item["uom"] = (f.text or "").strip()
                    stage = 3
                elif t in ("epcClass", "quantity", "uom"):
                    raise self._refuse(
                        f,
                        "Wrong element order",
                        f"<{t}> is out of place in quantityElement",
                        "epcClass, then optionally quantity, then optionally uom",
                    )
                else:
                    raise self._unknown_child(f, "epcClass, quantity and uom")
            if item.get("quantity", 0) is None:
                del item["quantity"]
            if "epcClass" not in item:
                raise self._refuse(
                    qe,
                    "Missing element",
                    "quantityElement has no epcClass",
                    "an epcClass element",
                    child="epcClass",
                )
            out.append(item)
        return out

    def _decimal(self, el: _El) -> float:
        text = (el.text or "").strip()
        if not DECIMAL.fullmatch(text):
            raise self._refuse(
                el,
                "Not a number",
                f"quantity {text!r} is not a decimal number",
                "a decimal number such as 5 or 12.5",
            )
        return float(text)

    def _location(self, el: _El) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in el:
            t = f.tag
            if not isinstance(t, str):
                continue
            if t == "id" and not out:
                out["id"] = (f.text or "").strip()
            elif t[0] == "{" and _split(t)[0] not in EPCIS_NAMESPACES:
                _put(out, self._key(f), self._ext_value(f))
            elif t == "extension" and "id" in out:
                for sub in f:
                    if isinstance(sub.tag, str):
                        _put(out, self._key(sub), self._ext_value(sub))
            else:
                raise self._unknown_child(f, "id first, then extension or user extensions")
        if "id" not in out:
            raise self._refuse(
                el, "Missing element", f"{_qname(el)} has no id", "an id element", child="id"
            )
        return out

    def _typed_list(self, el: _El, item: str, *, type_required: bool) -> list[dict[str, str]]:
        out = []
        for f in el:
            if f.tag != item:
                if isinstance(f.tag, str):
                    raise self._unknown_child(f, f"{item} elements")
                continue
            entry: dict[str, str] = {}
            kind = f.get("type")
            if kind is not None:
                entry["type"] = kind.strip()
            elif type_required:
                raise self._refuse(
                    f,
                    "Missing attribute",
                    f"{item} has no type attribute",
                    f"a type attribute (e.g. owning_party, location) on every {item}",
                    attr="type",
                )
            entry[item] = (f.text or "").strip()
            out.append(entry)
        if not out:
            raise self._refuse(
                el, "Missing element", f"{_qname(el)} is empty", f"at least one {item}", child=item
            )
        return out

    def _sensor_element_list(self, el: _El) -> list[dict[str, Any]]:
        out = []
        for se in el:
            t = se.tag
            if t == "sensorElement":
                out.append(self._sensor_element(se))
            elif t == "extension":
                continue
            elif isinstance(t, str):
                raise self._unknown_child(se, "sensorElement elements")
        if not out:
            raise self._refuse(
                el,
                "Missing element",
                "sensorElementList is empty",
                "at least one sensorElement",
                child="sensorElement",
            )
        return out

    def _sensor_element(self, el: _El) -> dict[str, Any]:
        out: dict[str, Any] = {}
        reports: list[dict[str, Any]] = []
        stage = 0  # 0: metadata or report, 1: reports, 2: extension/user
        for f in el:
            t = f.tag
            if not isinstance(t, str):
                continue
            if not self.strict and t in ("sensorMetadata", "sensorReport", "extension"):
                stage = 0 if t == "sensorMetadata" and "sensorMetadata" not in out else 1
            if t == "sensorMetadata" and stage == 0:
                out["sensorMetadata"] = self._sensor_attributes(f, report=False)
                stage = 1
            elif t == "sensorReport" and stage <= 1:
                reports.append(self._sensor_attributes(f, report=True))
                stage = 1
            elif t[0] == "{" and _split(t)[0] not in EPCIS_NAMESPACES:
                _put(out, self._key(f), self._ext_value(f))
                stage = 2
            elif t == "extension" and stage == 1:
                for sub in f:
                    if isinstance(sub.tag, str):
                        _put(out, self._key(sub), self._ext_value(sub))
                stage = 2
            elif t in ("sensorMetadata", "sensorReport"):
                raise self._refuse(
                    f,
                    "Wrong element order",
                    f"<{t}> is out of place in sensorElement",
                    "sensorMetadata (at most one), then sensorReport elements",
                )
            else:
                raise self._unknown_child(f, "sensorMetadata, sensorReport, user extensions")
        if not reports:
            raise self._refuse(
                el,
                "Missing element",
                "sensorElement has no sensorReport",
                "at least one sensorReport",
                child="sensorReport",
            )
        out["sensorReport"] = reports
        return out

    def _sensor_attributes(self, el: _El, *, report: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in el.attrib.items():
            name = str(name)
            value = str(value)
            if name[0] == "{":
                out[self._attr_key(name)] = value
            elif name in SENSOR_METADATA_TIMES:
                self._check_time(el, value, attr=name)
                out[name] = value
            elif report and name in SENSOR_DOUBLES:
                text = value.strip()
                if not DOUBLE.fullmatch(text) or not math.isfinite(float(text)):
                    raise self._refuse(
                        el,
                        "Not a number",
                        f"@{name} {value!r} is not a number",
                        "a finite decimal number such as 26.5 or 1.2E3",
                        attr=name,
                    )
                out[name] = float(text)
            elif report and name in SENSOR_BOOLEANS:
                text = value.strip()
                if text not in ("true", "false", "1", "0"):
                    raise self._refuse(
                        el,
                        "Not a boolean",
                        f"@{name} {value!r} is not a boolean",
                        "true or false",
                        attr=name,
                    )
                out[name] = text in ("true", "1")
            else:
                out[name] = value
        text = (el.text or "").strip()
        if text:
            out["#text"] = text
        return out

    def _persistent_disposition(self, el: _El) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        seen_set = False
        for f in el:
            t = f.tag
            if t == "unset" and (not seen_set or not self.strict):
                out.setdefault("unset", []).append((f.text or "").strip())
            elif t == "set":
                seen_set = True
                out.setdefault("set", []).append((f.text or "").strip())
            elif t == "unset":
                raise self._refuse(
                    f,
                    "Wrong element order",
                    "<unset> comes after <set>",
                    "all unset elements before the set elements",
                )
            elif isinstance(t, str):
                raise self._unknown_child(f, "set and unset elements")
        return out

    def _ilmd(self, el: _El) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in el:
            t = f.tag
            if not isinstance(t, str):
                continue
            if t[0] == "{" and _split(t)[0] not in EPCIS_NAMESPACES:
                _put(out, self._key(f), self._ext_value(f))
            elif t == "extension":
                for sub in f:
                    if isinstance(sub.tag, str):
                        _put(out, self._key(sub), self._ext_value(sub))
            else:
                raise self._unknown_child(
                    f, "elements in a namespace of their own (ilmd holds master data by URI)"
                )
        return out

    def _error_declaration(self, el: _El) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in el:
            t = f.tag
            if not isinstance(t, str):
                continue
            if t[0] == "{" and _split(t)[0] not in EPCIS_NAMESPACES:
                _put(out, self._key(f), self._ext_value(f))
                continue
            local = _split(t)[1]
            if local in out:
                raise self._refuse(
                    f, "Duplicate element", f"<{local}> is given twice", f"one {local}"
                )
            if local == "declarationTime":
                text = (f.text or "").strip()
                self._check_time(f, text)
                out[local] = text
            elif local == "reason":
                out[local] = (f.text or "").strip()
            elif local == "correctiveEventIDs":
                ids = []
                for c in f:
                    if c.tag == "correctiveEventID":
                        ids.append((c.text or "").strip())
                    elif isinstance(c.tag, str):
                        raise self._unknown_child(c, "correctiveEventID elements")
                out[local] = ids
            elif local == "extension":
                for sub in f:
                    if isinstance(sub.tag, str):
                        _put(out, self._key(sub), self._ext_value(sub))
            else:
                raise self._unknown_child(
                    f, "declarationTime, reason, correctiveEventIDs, user extensions"
                )
        return out

    # ---- problems -------------------------------------------------------------------------

    def _unknown_child(self, el: _El, expected: str) -> _Refusal:
        parent = el.getparent()
        where = _qname(parent) if parent is not None else "its parent"
        return self._refuse(
            el, "Unknown element", f"{tag_words(el)} is not allowed in {where}", expected
        )

    def _refuse(
        self,
        el: _El,
        title: str,
        detail: str,
        expected: str,
        *,
        attr: str | None = None,
        child: str | None = None,
    ) -> _Refusal:
        field = self._xpath(el)
        if child is not None:
            field += f"/{child}"
        if attr is not None:
            field += f"/@{attr}"
        return _Refusal(
            Problem(
                title=title,
                detail=detail,
                document=self.document,
                event_index=self.index,
                field=field,
                expected=expected,
                line=el.sourceline,
            )
        )

    def _xpath(self, el: _El) -> str:
        """XPath of an element inside the current event, positions as XPath counts them."""
        parts: list[str] = []
        node: _El | None = el
        while node is not None and node is not self._event_el:
            parent = node.getparent()
            name = _qname(node)
            if parent is not None:
                same = [s for s in parent if s.tag == node.tag]
                if len(same) > 1:
                    name += f"[{next(i for i, s in enumerate(same, 1) if s is node)}]"
            parts.append(name)
            node = parent
        if not parts:
            return self._pointer
        return self._pointer + "/" + "/".join(reversed(parts))


def _split(tag: str) -> tuple[str | None, str]:
    """``{ns}local`` → (ns, local); ``local`` → (None, local)."""
    if tag[:1] == "{":
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return None, tag


def _qname(el: _El) -> str:
    """The element's name as written in the document (with its prefix, if any)."""
    _ns, local = _split(el.tag)
    prefix = el.prefix
    return f"{prefix}:{local}" if prefix else local


def tag_words(el: _El) -> str:
    """An element's name for a person: ``<madeUpField>`` or ``<x:foo> (namespace http://…)``."""
    ns, local = _split(el.tag)
    if ns is None:
        return f"<{local}>"
    return f"<{_qname(el)}> (namespace {ns})"


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """Add a member; a repeated name turns into a list, in document order."""
    if key in out:
        existing = out[key]
        if isinstance(existing, list):
            existing.append(value)
        else:
            out[key] = [existing, value]
    else:
        out[key] = value


_EPCIS_WILDCARDS = [f"{{{ns}}}*" for ns in EPCIS_NAMESPACES]


def _unqualify(el: _El) -> None:
    """Read EPCIS-namespaced elements below ``el`` as the unqualified names the XSD expects."""
    for sub in el.iterdescendants(*_EPCIS_WILDCARDS):
        sub.tag = _split(sub.tag)[1]


def _has_data_attributes(attrib: Any) -> bool:
    return any(not str(name).startswith("{" + _XSI) for name in attrib)
