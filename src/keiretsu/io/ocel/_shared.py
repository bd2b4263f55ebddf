"""What the three OCEL 2.0 file formats share: attribute values, type declarations, the E2O
quantity extension, and the rule for relations that name objects a file does not declare.

Kept private: the public names are in :mod:`keiretsu.io.ocel`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from keiretsu.model.errors import DocumentError
from keiretsu.model.ocel import ATTRIBUTE_TYPES, Ocel, format_time, parse_time

DEFAULT_BATCH_SIZE = 50_000

QUANTITY_PREFIX = "quantity["
UOM_PREFIX = "uom["


class DanglingRelationWarning(UserWarning):
    """A file relates an event or object to an object it never declares; the relation was
    dropped (the event or object itself is kept)."""


def document_name(source: str | Path | IO[bytes], document: str | None) -> str:
    """The name a refusal carries: the caller's, else the file name."""
    if document is not None:
        return document
    if isinstance(source, (str, Path)):
        return str(source)
    name = getattr(source, "name", None)
    return str(name) if name else "<stream>"


def refuse(
    doc: str,
    detail: str,
    *,
    field: str | None = None,
    expected: str | None = None,
    event_index: int | None = None,
    line: int | None = None,
    title: str = "Invalid OCEL 2.0 document",
) -> DocumentError:
    """A :class:`DocumentError` with one problem, located in ``doc``."""
    return DocumentError.single(
        title,
        detail,
        document=doc,
        field=field,
        expected=expected,
        event_index=event_index,
        line=line,
    )


# --- attribute values ----------------------------------------------------------------------


def canonical(value: Any, vtype: str) -> str:
    """A value as the file carried it → the model's canonical text for the OCEL type ``vtype``.

    Raises ``ValueError`` (with the expectation in words) when the value is not of that type.
    """
    if vtype == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return repr(value)
        return str(value)
    if vtype == "integer":
        if isinstance(value, bool):
            raise ValueError("an integer")
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if value.is_integer():
                return str(int(value))
            raise ValueError("an integer")
        text = str(value).strip()
        try:
            return str(int(text))
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise ValueError("an integer") from None
            if math.isfinite(number) and number.is_integer():
                return str(int(number))
            raise ValueError("an integer") from None
    if vtype == "float":
        if isinstance(value, bool):
            raise ValueError("a number")
        try:
            return repr(float(value))
        except (TypeError, ValueError, OverflowError):
            raise ValueError("a number") from None
    if vtype == "boolean":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)) and value in (0, 1):
            return "true" if value else "false"
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return "true"
        if text in ("false", "0"):
            return "false"
        raise ValueError("true or false")
    if vtype == "time":
        if isinstance(value, datetime):
            return format_time(value)
        return format_time(to_time(value))
    raise ValueError(f"one of the OCEL attribute types {', '.join(ATTRIBUTE_TYPES)}")


def to_time(value: Any) -> datetime:
    """A file's time text → a UTC instant; text without an offset is taken as UTC.

    Raises ``ValueError`` when it is not an ISO 8601 date-time.
    """
    if not isinstance(value, str):
        raise ValueError("an ISO 8601 date-time")
    try:
        return parse_time(value)
    except (ValueError, OverflowError, TypeError):
        raise ValueError("an ISO 8601 date-time, e.g. 2023-04-03T12:08:18Z") from None


def check_type_name(vtype: str) -> str:
    """An attribute type as declared → one of :data:`ATTRIBUTE_TYPES` (lower-cased)."""
    t = vtype.strip().lower()
    if t not in ATTRIBUTE_TYPES:
        raise ValueError(f"one of {', '.join(ATTRIBUTE_TYPES)}")
    return t


# --- declared types ------------------------------------------------------------------------


@dataclass
class TypeDecl:
    """One event or object type with its attributes (name → OCEL type), in declared order."""

    name: str
    attributes: dict[str, str] = field(default_factory=dict)


def merged_types(table: pa.Table) -> list[TypeDecl]:
    """A log's ``event_types`` / ``object_types`` rows, one declaration per type.

    Batches may repeat a type (it gained an attribute in a later batch): attributes are united
    in first-seen order.
    """
    out: dict[str, TypeDecl] = {}
    for row in table.to_pylist():
        decl = out.setdefault(row["ocel_type"], TypeDecl(row["ocel_type"]))
        for attr in row["attributes"] or []:
            decl.attributes.setdefault(attr["name"], attr["type"])
    return list(out.values())


# --- the E2O quantity extension ------------------------------------------------------------


def quantity_attribute(object_id: str) -> str:
    """The event attribute that carries an E2O quantity in OCEL files."""
    return f"{QUANTITY_PREFIX}{object_id}]"


def uom_attribute(object_id: str) -> str:
    """The event attribute that carries an E2O unit of measure in OCEL files."""
    return f"{UOM_PREFIX}{object_id}]"


def extension_target(name: str) -> tuple[str, str] | None:
    """``quantity[o1]`` → (``quantity``, ``o1``); ``uom[o1]`` → (``uom``, ``o1``); else None."""
    if not name.endswith("]"):
        return None
    if name.startswith(QUANTITY_PREFIX):
        return "quantity", name[len(QUANTITY_PREFIX) : -1]
    if name.startswith(UOM_PREFIX):
        return "uom", name[len(UOM_PREFIX) : -1]
    return None


@dataclass
class Relation:
    """One E2O relation of the event being read, before it goes into the builder."""

    object_id: str
    qualifier: str
    quantity: float | None = None
    uom: str | None = None


def restore_extension(
    attributes: list[tuple[str, str, str]], relations: list[Relation]
) -> list[tuple[str, str, str]]:
    """Move ``quantity[<object id>]`` / ``uom[<object id>]`` event attributes back onto the
    event's relations to that object. Returns the attributes that remain.

    An attribute of that shape naming an object the event does not relate to stays a plain
    attribute.
    """
    if not any(extension_target(name) for name, _, _ in attributes):
        return attributes
    by_object: dict[str, list[Relation]] = {}
    for rel in relations:
        by_object.setdefault(rel.object_id, []).append(rel)
    kept: list[tuple[str, str, str]] = []
    for name, text, vtype in attributes:
        target = extension_target(name)
        rels = by_object.get(target[1]) if target else None
        if target is None or not rels:
            kept.append((name, text, vtype))
            continue
        if target[0] == "quantity":
            try:
                amount = float(text)
            except ValueError:
                kept.append((name, text, vtype))
                continue
            for rel in rels:
                rel.quantity = amount
        else:
            for rel in rels:
                rel.uom = text
    return kept


def strip_extension_declarations(attributes: dict[str, str]) -> dict[str, str]:
    """A declared attribute list without the quantity/uom extension attributes."""
    return {k: v for k, v in attributes.items() if extension_target(k) is None}


def warn_dangling(doc: str, what: str, count: int, example: str) -> None:
    """Say, once per document and kind, that relations to undeclared objects were dropped."""
    if count:
        warnings.warn(
            f"{doc}: {count:,} {what} name objects the file does not declare "
            f"(e.g. {example!r}); they were dropped, the events and objects themselves were kept",
            DanglingRelationWarning,
            stacklevel=3,
        )


# --- writing -------------------------------------------------------------------------------


@dataclass
class EventRecord:
    """One event as the writers need it: id, type, time, attributes and relations."""

    id: str
    type: str
    time: datetime
    attributes: list[tuple[str, str, str]]  # (name, canonical text, OCEL type)
    relations: list[tuple[str, str]]  # (object id, qualifier)


@dataclass
class ObjectRecord:
    """One object as the writers need it."""

    id: str
    type: str
    attributes: list[tuple[str, datetime, str, str]]  # (name, time, canonical text, type)
    relations: list[tuple[str, str]]  # (target object id, qualifier)


def _group(table: pa.Table, key: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        out.setdefault(row[key], []).append(row)
    return out


@dataclass
class Prepared:
    """A log laid out per event and per object, with declared types completed so that every
    attribute written is declared (the XSD insists) and the E2O extension encoded."""

    event_types: list[TypeDecl]
    object_types: list[TypeDecl]
    events: list[EventRecord]
    objects: list[ObjectRecord]


def prepare(ocel: Ocel) -> Prepared:
    """Lay out ``ocel`` for writing: events and objects with their attributes and relations.

    Null attribute values are left out (OCEL files have no null). E2O quantities and units are
    written as event attributes ``quantity[<object id>]`` (float) and ``uom[<object id>]``
    (string). Raises ``ValueError`` if one event relates the same object twice with different
    quantities or units, which that encoding cannot carry.
    """
    event_types = {d.name: d for d in merged_types(ocel.event_types)}
    object_types = {d.name: d for d in merged_types(ocel.object_types)}

    ev_attrs = _group(ocel.event_attributes, "ocel_id")
    ev_rels = _group(ocel.event_objects, "ocel_event_id")
    ob_attrs = _group(ocel.object_attributes, "ocel_id")
    ob_rels = _group(ocel.object_objects, "ocel_source_id")

    events: list[EventRecord] = []
    for ev in ocel.events.to_pylist():
        eid, etype = ev["ocel_id"], ev["ocel_type"]
        decl = event_types.setdefault(etype, TypeDecl(etype))
        attrs: list[tuple[str, str, str]] = []
        for a in ev_attrs.get(eid, ()):
            if a["ocel_value"] is None:
                continue
            attrs.append((a["ocel_name"], a["ocel_value"], a["ocel_value_type"]))
            decl.attributes.setdefault(a["ocel_name"], a["ocel_value_type"])
        rels: list[tuple[str, str]] = []
        extension: dict[str, tuple[str, str]] = {}
        for r in ev_rels.get(eid, ()):
            oid = r["ocel_object_id"]
            rels.append((oid, r["ocel_qualifier"]))
            for kind, value, vtype in (
                ("quantity", r["quantity"], "float"),
                ("uom", r["uom"], "string"),
            ):
                if value is None:
                    continue
                name = quantity_attribute(oid) if kind == "quantity" else uom_attribute(oid)
                text = repr(float(value)) if kind == "quantity" else str(value)
                if name in extension and extension[name][0] != text:
                    raise ValueError(
                        f"event {eid!r} relates object {oid!r} more than once with different "
                        f"{kind} values; OCEL files can carry one {kind} per event and object"
                    )
                extension[name] = (text, vtype)
        for name, (text, vtype) in extension.items():
            attrs.append((name, text, vtype))
            decl.attributes.setdefault(name, vtype)
        events.append(EventRecord(eid, etype, ev["ocel_time"], attrs, rels))

    objects: list[ObjectRecord] = []
    for ob in ocel.objects.to_pylist():
        oid, otype = ob["ocel_id"], ob["ocel_type"]
        decl = object_types.setdefault(otype, TypeDecl(otype))
        oattrs: list[tuple[str, datetime, str, str]] = []
        for a in ob_attrs.get(oid, ()):
            if a["ocel_value"] is None:
                continue
            oattrs.append((a["ocel_name"], a["ocel_time"], a["ocel_value"], a["ocel_value_type"]))
            decl.attributes.setdefault(a["ocel_name"], a["ocel_value_type"])
        oattrs.sort(key=lambda a: a[1])
        orels = [(r["ocel_target_id"], r["ocel_qualifier"]) for r in ob_rels.get(oid, ())]
        objects.append(ObjectRecord(oid, otype, oattrs, orels))

    return Prepared(list(event_types.values()), list(object_types.values()), events, objects)


def batches(builder_len: int, batch_size: int) -> bool:
    """Whether a builder holding ``builder_len`` rows should be flushed."""
    return builder_len >= batch_size


def open_binary(source: str | Path | IO[bytes]) -> tuple[IO[bytes], bool]:
    """A binary file object for ``source`` and whether we opened it (and must close it)."""
    if isinstance(source, (str, Path)):
        return open(source, "rb"), True
    return source, False


def iter_nonempty(parts: Iterator[Ocel]) -> Iterator[Ocel]:
    """Drop batches with no rows at all (but keep one if the log is empty)."""
    yielded = False
    last: Ocel | None = None
    for part in parts:
        last = part
        if any(t.num_rows for t in part.tables().values()):
            yielded = True
            yield part
    if not yielded:
        yield last if last is not None else Ocel()
