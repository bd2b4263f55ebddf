"""OCEL 2.0 JSON (``.jsonocel``): read it in a stream, write it valid against the standard's schema.

A JSON-OCEL file is one object with four arrays, in any order: ``objectTypes`` and
``eventTypes`` (the declared types with their attribute names and types), ``objects`` (with
attribute values stamped with the time they took effect, and object-to-object relationships)
and ``events`` (with attribute values and event-to-object relationships).

The reader makes a short first pass for the type declarations and then streams ``objects`` and
``events`` with ijson, so the events array is never held in memory at once.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import ijson
import orjson

from keiretsu.io.ocel._shared import (
    DEFAULT_BATCH_SIZE,
    Relation,
    TypeDecl,
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

_TYPE_KEYS = ("objectTypes", "eventTypes")
_INFERRED = {bool: "boolean", int: "integer", float: "float", str: "string"}


def read_ocel_json(
    source: str | Path | IO[bytes],
    *,
    document: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> Iterator[Ocel]:
    """Read an OCEL 2.0 JSON file as :class:`Ocel` batches of about ``batch_size`` events.

    Objects come first (in their own batches), then events with their relations. Raises
    :class:`DocumentError` naming the file, the event or object index and a JSON pointer on the
    first thing that is not OCEL 2.0: an undeclared event or object type, a time that is not a
    time, a value that is not of its declared type, a duplicate id. Relations to objects the file
    never declares are dropped with a :class:`DanglingRelationWarning`.
    """
    doc = document_name(source, document)
    f, close = open_binary(source)
    try:
        if not f.seekable():
            f = io.BytesIO(f.read())
        yield from _Reader(f, doc, batch_size).run()
    finally:
        if close:
            f.close()


class _Reader:
    def __init__(self, f: IO[bytes], doc: str, batch_size: int) -> None:
        self.f = f
        self.doc = doc
        self.batch_size = max(1, batch_size)
        self.b = OcelBuilder()
        self.event_types: dict[str, dict[str, str]] = {}
        self.object_types: dict[str, dict[str, str]] = {}
        self.object_ids: set[str] = set()

    # -- helpers --------------------------------------------------------------------------

    def _err(
        self, detail: str, field: str, expected: str | None = None, index: int | None = None
    ) -> DocumentError:
        return refuse(self.doc, detail, field=field, expected=expected, event_index=index)

    def _items(self, prefix: str) -> Iterator[Any]:
        self.f.seek(0)
        try:
            yield from ijson.items(self.f, prefix, use_float=True)
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            raise refuse(
                self.doc,
                f"not well-formed JSON: {exc}",
                title="Malformed JSON",
                expected="a JSON document",
            ) from None

    def _str(self, value: Any, field: str, what: str, index: int | None = None) -> str:
        if not isinstance(value, str):
            raise self._err(f"{what} is {_show(value)}", field, "a string", index)
        return value

    def _list(self, value: Any, field: str, index: int | None = None) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._err(f"found {_show(value)}", field, "an array", index)
        return value

    def _dict(self, value: Any, field: str, index: int | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self._err(f"found {_show(value)}", field, "an object", index)
        return value

    # -- passes ---------------------------------------------------------------------------

    def run(self) -> Iterator[Ocel]:
        declared = self._declarations()
        for key, target, declare in (
            ("objectTypes", self.object_types, self.b.declare_object_type),
            ("eventTypes", self.event_types, self.b.declare_event_type),
        ):
            for i, raw in enumerate(self._list(declared[key], f"/{key}")):
                where = f"/{key}/{i}"
                item = self._dict(raw, where)
                name = self._str(item.get("name"), f"{where}/name", "the type name")
                attrs: dict[str, str] = {}
                for j, a in enumerate(self._list(item.get("attributes"), f"{where}/attributes")):
                    a = self._dict(a, f"{where}/attributes/{j}")
                    aname = self._str(a.get("name"), f"{where}/attributes/{j}/name", "the name")
                    atype = self._str(a.get("type"), f"{where}/attributes/{j}/type", "the type")
                    try:
                        attrs[aname] = check_type_name(atype)
                    except ValueError as exc:
                        raise self._err(
                            f"attribute type {atype!r}", f"{where}/attributes/{j}/type", str(exc)
                        ) from None
                if name in target:
                    raise self._err(f"type {name!r} is declared twice", f"{where}/name")
                target[name] = attrs
                # the E2O quantity extension is not a declared attribute of ours
                declare(name, strip_extension_declarations(attrs) if key == "eventTypes" else attrs)
        yield from self._objects()
        yield from self._events()
        yield self.b.build()

    def _declarations(self) -> dict[str, Any]:
        """``objectTypes`` and ``eventTypes``: read from the head of the file when they come
        first (as writers put them), else found with a scan of the whole file."""
        found: dict[str, Any] = {}
        self.f.seek(0)
        current: str | None = None
        builder: Any = None
        try:
            for n, (prefix, event, value) in enumerate(ijson.parse(self.f, use_float=True)):
                if n == 0 and event != "start_map":
                    raise refuse(
                        self.doc,
                        f"the document starts with a JSON {event.replace('start_', '')}",
                        field="",
                        expected="a JSON object with objectTypes, eventTypes, objects, events",
                    )
                if current is not None:
                    builder.event(event, value)
                    if (
                        prefix == current
                        and event not in ("map_key",)
                        and (event in ("end_array", "end_map") or not event.startswith("start"))
                    ):
                        found[current] = builder.value
                        current = None
                        if len(found) == len(_TYPE_KEYS):
                            break
                    continue
                if prefix == "" and event == "map_key":
                    if value in _TYPE_KEYS and value not in found:
                        current = value
                        builder = ijson.ObjectBuilder()
                    else:
                        break  # events/objects come first: look for the declarations by scan
        except (ijson.JSONError, UnicodeDecodeError) as exc:
            raise refuse(self.doc, f"not well-formed JSON: {exc}", title="Malformed JSON") from None
        for key in _TYPE_KEYS:
            if key not in found:
                for value in self._items(key):
                    found[key] = value
                    break
            if key not in found:
                raise self._err(
                    f"the document has no {key}",
                    f"/{key}",
                    "the declared types, as the OCEL 2.0 JSON schema requires",
                )
        return found

    def _objects(self) -> Iterator[Ocel]:
        b = self.b
        links: list[tuple[int, str, str, str]] = []
        for i, raw in enumerate(self._items("objects.item")):
            where = f"/objects/{i}"
            item = self._dict(raw, where)
            oid = self._str(item.get("id"), f"{where}/id", "the object id")
            otype = self._str(item.get("type"), f"{where}/type", "the object type")
            declared = self.object_types.get(otype)
            if declared is None:
                raise self._err(
                    f"object {oid!r} has type {otype!r}, which objectTypes does not declare",
                    f"{where}/type",
                    "a type declared in objectTypes",
                )
            if oid in self.object_ids:
                raise self._err(f"object id {oid!r} appears twice", f"{where}/id", "unique ids")
            self.object_ids.add(oid)
            b.add_object(oid, otype)
            for j, a in enumerate(self._list(item.get("attributes"), f"{where}/attributes")):
                at = f"{where}/attributes/{j}"
                a = self._dict(a, at)
                name = self._str(a.get("name"), f"{at}/name", "the attribute name")
                vtype = declared.get(name) or _infer(a.get("value"))
                text = self._value(a.get("value"), vtype, f"{at}/value")
                if text is None:
                    continue
                raw_time = a.get("time")
                time = EPOCH if raw_time is None else self._time(raw_time, f"{at}/time")
                if name not in declared:
                    declared[name] = vtype
                    b.declare_object_type(otype, {name: vtype})
                b.add_object_attribute(oid, name, text, time, vtype)
            for j, r in enumerate(self._list(item.get("relationships"), f"{where}/relationships")):
                at = f"{where}/relationships/{j}"
                r = self._dict(r, at)
                target = self._str(r.get("objectId"), f"{at}/objectId", "the related object id")
                qualifier = r.get("qualifier", "")
                qualifier = self._str(qualifier, f"{at}/qualifier", "the qualifier")
                links.append((i, oid, target, qualifier))
            if len(b.ob_id) >= self.batch_size:
                yield b.build()
        dangling = [x for x in links if x[2] not in self.object_ids]
        for _, source, target, qualifier in links:
            if target in self.object_ids:
                b.link(source, target, qualifier)
        if dangling:
            warn_dangling(self.doc, "object-to-object relations", len(dangling), dangling[0][2])

    def _events(self) -> Iterator[Ocel]:
        b = self.b
        seen: set[str] = set()
        dangling = 0
        example = ""
        for i, raw in enumerate(self._items("events.item")):
            where = f"/events/{i}"
            item = self._dict(raw, where, i)
            eid = self._str(item.get("id"), f"{where}/id", "the event id", i)
            etype = self._str(item.get("type"), f"{where}/type", "the event type", i)
            declared = self.event_types.get(etype)
            if declared is None:
                raise self._err(
                    f"event {eid!r} has type {etype!r}, which eventTypes does not declare",
                    f"{where}/type",
                    "a type declared in eventTypes",
                    i,
                )
            if eid in seen:
                raise self._err(f"event id {eid!r} appears twice", f"{where}/id", "unique ids", i)
            seen.add(eid)
            time = self._time(item.get("time"), f"{where}/time", i)
            attrs: list[tuple[str, str, str]] = []
            for j, a in enumerate(self._list(item.get("attributes"), f"{where}/attributes", i)):
                at = f"{where}/attributes/{j}"
                a = self._dict(a, at, i)
                name = self._str(a.get("name"), f"{at}/name", "the attribute name", i)
                vtype = declared.get(name) or _infer(a.get("value"))
                text = self._value(a.get("value"), vtype, f"{at}/value", i)
                if text is None:
                    continue
                if name not in declared:
                    declared[name] = vtype
                    b.declare_event_type(etype, {name: vtype})
                attrs.append((name, text, vtype))
            rels: list[Relation] = []
            for j, r in enumerate(
                self._list(item.get("relationships"), f"{where}/relationships", i)
            ):
                at = f"{where}/relationships/{j}"
                r = self._dict(r, at, i)
                oid = self._str(r.get("objectId"), f"{at}/objectId", "the object id", i)
                qualifier = self._str(r.get("qualifier", ""), f"{at}/qualifier", "the qualifier", i)
                if oid not in self.object_ids:
                    dangling += 1
                    example = example or oid
                    continue
                rels.append(Relation(oid, qualifier))
            attrs = restore_extension(attrs, rels)
            b.add_event(eid, etype, time)
            for name, text, vtype in attrs:
                b.add_event_attribute(eid, name, text, vtype)
            for rel in rels:
                b.relate(eid, rel.object_id, rel.qualifier, rel.quantity, rel.uom)
            if len(b) >= self.batch_size:
                yield b.build()
        warn_dangling(self.doc, "event-to-object relations", dangling, example)

    def _time(self, value: Any, field: str, index: int | None = None) -> datetime:
        try:
            return to_time(value)
        except ValueError as exc:
            raise self._err(f"time {_show(value)}", field, str(exc), index) from None

    def _value(self, value: Any, vtype: str, field: str, index: int | None = None) -> str | None:
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            raise self._err(f"found {_show(value)}", field, f"a {vtype} value", index)
        try:
            return canonical(value, vtype)
        except ValueError as exc:
            raise self._err(
                f"value {_show(value)} of declared type {vtype}", field, str(exc), index
            ) from None


def _infer(value: Any) -> str:
    """The OCEL type of an undeclared attribute, from its JSON type."""
    return _INFERRED.get(type(value), "string")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- writing -------------------------------------------------------------------------------


def write_ocel_json(ocel: Ocel, path: str | Path | IO[bytes]) -> None:
    """Write ``ocel`` as an OCEL 2.0 JSON file, valid against the standard's JSON schema.

    ``path`` may also be a binary stream (a node pushing events to a partner writes to memory).
    Attribute values are written as the JSON strings the schema asks for (their canonical
    text); times in UTC with a ``Z``. E2O quantities and units go into event attributes
    ``quantity[<object id>]`` / ``uom[<object id>]``; ``source_events`` are not written.
    """
    p = prepare(ocel)
    with (
        contextlib.nullcontext(path)
        if not isinstance(path, str | Path)
        else open(path, "wb") as out
    ):
        out.write(b'{"objectTypes":')
        out.write(orjson.dumps([_decl(d) for d in p.object_types]))
        out.write(b',"eventTypes":')
        out.write(orjson.dumps([_decl(d) for d in p.event_types]))
        out.write(b',"objects":[')
        for n, ob in enumerate(p.objects):
            if n:
                out.write(b",")
            body: dict[str, Any] = {"id": ob.id, "type": ob.type}
            if ob.attributes:
                body["attributes"] = [
                    {"name": name, "value": text, "time": format_time(time)}
                    for name, time, text, _ in ob.attributes
                ]
            if ob.relations:
                body["relationships"] = [
                    {"objectId": target, "qualifier": q} for target, q in ob.relations
                ]
            out.write(orjson.dumps(body))
        out.write(b'],"events":[')
        for n, ev in enumerate(p.events):
            if n:
                out.write(b",\n")
            out.write(
                orjson.dumps(
                    {
                        "id": ev.id,
                        "type": ev.type,
                        "time": format_time(ev.time),
                        "attributes": [
                            {"name": name, "value": text} for name, text, _ in ev.attributes
                        ],
                        "relationships": [
                            {"objectId": oid, "qualifier": q} for oid, q in ev.relations
                        ],
                    }
                )
            )
        out.write(b"]}\n")


def _decl(d: TypeDecl) -> dict[str, Any]:
    return {"name": d.name, "attributes": [{"name": k, "type": v} for k, v in d.attributes.items()]}
