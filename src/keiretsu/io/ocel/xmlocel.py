"""OCEL 2.0 XML (``.xmlocel``): read it in a stream, write it valid against the standard's XSD.

A ``<log>`` holds, in this order, ``<object-types>``, ``<event-types>``, ``<objects>`` and
``<events>``. The reader walks the file with lxml's ``iterparse`` and forgets each object and
event once it is in the batch, so memory stays flat however long the log. It never loads a DTD,
never expands entities and never touches the network.

Relationships: the published XSD wants them as ``<object object-id=".." qualifier=".."
type=".."/>`` inside an ``<objects>`` element, while pm4py and the standard's example file write
``<relationship object-id=".." qualifier=".."/>``. The reader takes both; the writer writes the
XSD's form (pm4py reads it too).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from lxml import etree

from keiretsu.io.ocel._shared import (
    DEFAULT_BATCH_SIZE,
    Relation,
    canonical,
    check_type_name,
    document_name,
    open_binary,
    prepare,
    refuse,
    restore_extension,
    strip_extension_declarations,
    to_time,
    warn_dangling,
)
from keiretsu.model.errors import DocumentError
from keiretsu.model.ocel import EPOCH, Ocel, OcelBuilder, format_time

_TAGS = ("object-type", "event-type", "object", "event")
_SECTION = {
    "object-type": "object-types",
    "event-type": "event-types",
    "object": "objects",
    "event": "events",
}
_ORDER = {"object-types": 0, "event-types": 1, "objects": 2, "events": 3}


def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def read_ocel_xml(
    source: str | Path | IO[bytes],
    *,
    document: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[Ocel]:
    """Read an OCEL 2.0 XML file as :class:`Ocel` batches of about ``batch_size`` events.

    Raises :class:`DocumentError` naming the file, the line, the event index and an XPath on the
    first thing that is not OCEL 2.0 (malformed XML, an undeclared type, a time that is not a
    time, a value not of its declared type, a duplicate id, sections out of the XSD's order).
    Relations to objects the file never declares are dropped with a
    :class:`DanglingRelationWarning`.
    """
    doc = document_name(source, document)
    f, close = open_binary(source)
    try:
        yield from _Reader(doc, batch_size).run(f)
    finally:
        if close:
            f.close()


class _Reader:
    def __init__(self, doc: str, batch_size: int) -> None:
        self.doc = doc
        self.batch_size = max(1, batch_size)
        self.b = OcelBuilder()
        self.event_types: dict[str, dict[str, str]] = {}
        self.object_types: dict[str, dict[str, str]] = {}
        self.object_ids: set[str] = set()
        self.event_ids: set[str] = set()
        self.counts = {"object-type": 0, "event-type": 0, "object": 0, "event": 0}
        self.section = -1
        self.links: list[tuple[str, str, str]] = []
        self.dangling = 0
        self.example = ""

    def _err(
        self,
        detail: str,
        field: str,
        expected: str | None = None,
        el: Any = None,
        index: int | None = None,
    ) -> DocumentError:
        line = getattr(el, "sourceline", None)
        return refuse(
            self.doc, detail, field=field, expected=expected, event_index=index, line=line
        )

    def run(self, f: IO[bytes]) -> Iterator[Ocel]:
        parser = etree.iterparse(
            f,
            events=("end",),
            tag=tuple("{*}" + t for t in _TAGS),
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
        try:
            for _, el in parser:
                tag = _local(el.tag)
                parent = el.getparent()
                grand = parent.getparent() if parent is not None else None
                if parent is None or grand is None or _local(grand.tag) != "log":
                    continue  # a relationship <object> nested in an object or event
                if _local(parent.tag) != _SECTION[tag]:
                    raise self._err(
                        f"<{tag}> inside <{_local(parent.tag)}>",
                        f"/log/{_local(parent.tag)}/{tag}",
                        f"<{tag}> inside <{_SECTION[tag]}>",
                        el,
                    )
                order = _ORDER[_SECTION[tag]]
                if order < self.section:
                    raise self._err(
                        f"<{_SECTION[tag]}> comes after a later section",
                        f"/log/{_SECTION[tag]}",
                        "object-types, event-types, objects, events in this order",
                        el,
                    )
                if order > self.section:
                    if self.section == 2:
                        self._flush_links()
                    self.section = order
                i = self.counts[tag]
                self.counts[tag] = i + 1
                if tag == "event":
                    self._event(el, i)
                elif tag == "object":
                    self._object(el, i)
                else:
                    self._type(el, tag, i)
                # forget what has been read
                el.clear()
                while el.getprevious() is not None:
                    del parent[0]
                if len(self.b) >= self.batch_size or len(self.b.ob_id) >= self.batch_size:
                    yield self.b.build()
            root = parser.root
        except etree.XMLSyntaxError as exc:
            raise refuse(
                self.doc,
                f"not well-formed XML: {exc.msg}",
                title="Malformed XML",
                line=exc.lineno or None,
                expected="a well-formed XML document",
            ) from None
        if root is None or _local(root.tag) != "log":
            raise refuse(
                self.doc,
                f"the root element is <{_local(getattr(root, 'tag', '')) or '?'}>",
                field="/",
                expected="an OCEL 2.0 <log> element",
            )
        if self.section <= 2:
            self._flush_links()
        warn_dangling(self.doc, "event-to-object relations", self.dangling, self.example)
        yield self.b.build()

    # -- elements -------------------------------------------------------------------------

    def _attr(self, el: Any, name: str, where: str, index: int | None = None) -> str:
        value = el.get(name)
        if value is None:
            raise self._err(
                f"<{_local(el.tag)}> has no {name}",
                f"{where}/@{name}",
                f"a {name} attribute",
                el,
                index,
            )
        return str(value)

    def _children(self, el: Any, name: str) -> list[Any]:
        out: list[Any] = []
        for child in el:
            if _local(child.tag) == name:
                out.extend(c for c in child if isinstance(c.tag, str))
        return out

    def _type(self, el: Any, tag: str, i: int) -> None:
        where = f"/log/{_SECTION[tag]}/{tag}[{i + 1}]"
        name = self._attr(el, "name", where)
        attrs: dict[str, str] = {}
        for j, a in enumerate(self._children(el, "attributes")):
            at = f"{where}/attributes/attribute[{j + 1}]"
            aname = self._attr(a, "name", at)
            atype = a.get("type") or "string"
            try:
                attrs[aname] = check_type_name(atype)
            except ValueError as exc:
                raise self._err(f"attribute type {atype!r}", f"{at}/@type", str(exc), a) from None
        target = self.object_types if tag == "object-type" else self.event_types
        if name in target:
            raise self._err(f"type {name!r} is declared twice", f"{where}/@name", None, el)
        target[name] = attrs
        if tag == "object-type":
            self.b.declare_object_type(name, attrs)
        else:
            self.b.declare_event_type(name, strip_extension_declarations(attrs))

    def _object(self, el: Any, i: int) -> None:
        b = self.b
        where = f"/log/objects/object[{i + 1}]"
        oid = self._attr(el, "id", where)
        otype = self._attr(el, "type", where)
        declared = self.object_types.get(otype)
        if declared is None:
            raise self._err(
                f"object {oid!r} has type {otype!r}, which <object-types> does not declare",
                f"{where}/@type",
                "a declared object type",
                el,
            )
        if oid in self.object_ids:
            raise self._err(f"object id {oid!r} appears twice", f"{where}/@id", "unique ids", el)
        self.object_ids.add(oid)
        b.add_object(oid, otype)
        for j, a in enumerate(self._children(el, "attributes")):
            at = f"{where}/attributes/attribute[{j + 1}]"
            name = self._attr(a, "name", at)
            vtype = declared.get(name) or "string"
            text = self._value(a, vtype, at)
            raw_time = a.get("time")
            time = EPOCH if raw_time is None else self._time(raw_time, f"{at}/@time", a)
            if name not in declared:
                declared[name] = vtype
                b.declare_object_type(otype, {name: vtype})
            b.add_object_attribute(oid, name, text, time, vtype)
        for j, r in enumerate(self._children(el, "objects")):
            at = f"{where}/objects/*[{j + 1}]"
            target = self._attr(r, "object-id", at)
            self.links.append((oid, target, r.get("qualifier") or ""))

    def _flush_links(self) -> None:
        dangling = [x for x in self.links if x[1] not in self.object_ids]
        for source, target, qualifier in self.links:
            if target in self.object_ids:
                self.b.link(source, target, qualifier)
        if dangling:
            warn_dangling(self.doc, "object-to-object relations", len(dangling), dangling[0][1])
        self.links = []

    def _event(self, el: Any, i: int) -> None:
        b = self.b
        where = f"/log/events/event[{i + 1}]"
        eid = self._attr(el, "id", where, i)
        etype = self._attr(el, "type", where, i)
        declared = self.event_types.get(etype)
        if declared is None:
            raise self._err(
                f"event {eid!r} has type {etype!r}, which <event-types> does not declare",
                f"{where}/@type",
                "a declared event type",
                el,
                i,
            )
        if eid in self.event_ids:
            raise self._err(f"event id {eid!r} appears twice", f"{where}/@id", "unique ids", el, i)
        self.event_ids.add(eid)
        time = self._time(self._attr(el, "time", where, i), f"{where}/@time", el, i)
        attrs: list[tuple[str, str, str]] = []
        for j, a in enumerate(self._children(el, "attributes")):
            at = f"{where}/attributes/attribute[{j + 1}]"
            name = self._attr(a, "name", at, i)
            vtype = declared.get(name) or "string"
            text = self._value(a, vtype, at, i)
            if name not in declared:
                declared[name] = vtype
                b.declare_event_type(etype, {name: vtype})
            attrs.append((name, text, vtype))
        rels: list[Relation] = []
        for j, r in enumerate(self._children(el, "objects")):
            oid = self._attr(r, "object-id", f"{where}/objects/*[{j + 1}]", i)
            if oid not in self.object_ids:
                self.dangling += 1
                self.example = self.example or oid
                continue
            rels.append(Relation(oid, r.get("qualifier") or ""))
        attrs = restore_extension(attrs, rels)
        b.add_event(eid, etype, time)
        for name, text, vtype in attrs:
            b.add_event_attribute(eid, name, text, vtype)
        for rel in rels:
            b.relate(eid, rel.object_id, rel.qualifier, rel.quantity, rel.uom)

    def _time(self, value: str, field: str, el: Any, index: int | None = None) -> datetime:
        try:
            return to_time(value)
        except ValueError as exc:
            raise self._err(f"time {value!r}", field, str(exc), el, index) from None

    def _value(self, a: Any, vtype: str, where: str, index: int | None = None) -> str:
        if len(a):
            # entity references stay unexpanded (they are never resolved): refuse, do not
            # silently read the value as empty
            raise self._err(
                "the value holds markup or an entity reference", where, "plain text", a, index
            )
        raw = a.text or ""
        try:
            return canonical(raw, vtype)
        except ValueError as exc:
            shown = raw if len(raw) <= 80 else raw[:77] + "..."
            raise self._err(
                f"value {shown!r} of declared type {vtype}", where, str(exc), a, index
            ) from None


# --- writing -------------------------------------------------------------------------------


def write_ocel_xml(ocel: Ocel, path: str | Path) -> None:
    """Write ``ocel`` as an OCEL 2.0 XML file, valid against the standard's XSD.

    Times are written in UTC with a ``Z``; relationships as ``<object object-id qualifier
    type>``; E2O quantities and units as event attributes ``quantity[<object id>]`` /
    ``uom[<object id>]``; ``source_events`` are not written.
    """
    p = prepare(ocel)
    type_of = {ob.id: ob.type for ob in p.objects}
    E = etree.Element
    S = etree.SubElement
    with etree.xmlfile(str(path), encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element("log"):
            for section, tag, decls in (
                ("object-types", "object-type", p.object_types),
                ("event-types", "event-type", p.event_types),
            ):
                with xf.element(section):
                    for d in decls:
                        el = E(tag, name=d.name)
                        attrs = S(el, "attributes")
                        for k, v in d.attributes.items():
                            S(attrs, "attribute", name=k, type=v)
                        xf.write(el)
            with xf.element("objects"):
                for ob in p.objects:
                    el = E("object", id=ob.id, type=ob.type)
                    attrs = S(el, "attributes")
                    for name, time, text, _ in ob.attributes:
                        S(attrs, "attribute", name=name, time=format_time(time)).text = text
                    if ob.relations:
                        rels = S(el, "objects")
                        for target, qualifier in ob.relations:
                            S(
                                rels,
                                "object",
                                {"object-id": target, "qualifier": qualifier},
                                type=type_of.get(target, ""),
                            )
                    xf.write(el)
            with xf.element("events"):
                for ev in p.events:
                    el = E("event", id=ev.id, type=ev.type, time=format_time(ev.time))
                    attrs = S(el, "attributes")
                    for name, text, _ in ev.attributes:
                        S(attrs, "attribute", name=name).text = text
                    rels = S(el, "objects")
                    for oid, qualifier in ev.relations:
                        S(
                            rels,
                            "object",
                            {"object-id": oid, "qualifier": qualifier},
                            type=type_of.get(oid, ""),
                        )
                    xf.write(el)
