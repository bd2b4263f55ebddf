"""The reference XES reader: libxml2 (lxml) calls back into Python for every element.

It understands every layout the XES standard allows (nested lists and containers, meta-attributes,
comments, CDATA, any namespace prefix, any encoding). :mod:`keiretsu.io.xes._scan` takes over the
common OpenXES layout and hands anything else back to this reader, which therefore defines what
a XES log means in keiretsu: both must give the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa

from keiretsu.model.ocel import (
    EPOCH,
    EVENT_ATTRIBUTES,
    EVENT_OBJECTS,
    EVENTS,
    OBJECT_ATTRIBUTES,
    OBJECT_OBJECTS,
    OBJECTS,
    SOURCE_EVENTS,
    TIME,
    Ocel,
    OcelBuilder,
    format_time,
    parse_time,
)

# Attribute element kinds (XES §5): scalar kinds carry ``value``; list/container nest others.
_STRING, _DATE, _INT, _FLOAT, _BOOLEAN, _ID, _LIST, _CONTAINER = range(8)
_OTHER = -1  # global, extension, classifier, values, unknown tags
_EVENT, _TRACE, _LOG = 100, 101, 102
_LOCAL_KINDS = {
    "string": _STRING,
    "date": _DATE,
    "int": _INT,
    "float": _FLOAT,
    "boolean": _BOOLEAN,
    "id": _ID,
    "list": _LIST,
    "container": _CONTAINER,
    "event": _EVENT,
    "trace": _TRACE,
    "log": _LOG,
}
_VALUE_TYPES = {
    _STRING: "string",
    _DATE: "time",
    _INT: "integer",
    _FLOAT: "float",
    _BOOLEAN: "boolean",
    _ID: "string",
    _LIST: "string",
    _CONTAINER: "string",
}
_EXPECTED = {
    _DATE: "an xs:dateTime such as 2011-10-01T00:38:44.546+02:00",
    _INT: "an integer (xs:long)",
    _FLOAT: "a number (xs:double)",
    _BOOLEAN: "true or false",
}


def _time(text: str) -> datetime:
    """xs:dateTime → aware UTC datetime; fast path for the common forms (``fromisoformat`` in
    Python 3.11 reads ``+02:00`` and ``Z``), the general parser for the rest."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return parse_time(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _canonical(kind: int, text: str) -> str:
    """XES attribute value text → the OCEL canonical text for its type (raises ValueError)."""
    if kind == _INT:
        return str(int(text))
    if kind == _FLOAT:
        value = float(text)
        return repr(value)
    if kind == _BOOLEAN:
        low = text.strip().lower()
        if low in ("true", "1"):
            return "true"
        if low in ("false", "0"):
            return "false"
        raise ValueError(text)
    if kind == _DATE:
        return format_time(_time(text))
    return text


def _json_value(kind: int, text: str) -> Any:
    """A nested (list/container) member's value as a JSON value."""
    if kind == _INT:
        return int(text)
    if kind == _FLOAT:
        return float(text)
    if kind == _BOOLEAN:
        return text.strip().lower() in ("true", "1")
    if kind == _DATE:
        return format_time(_time(text))
    return text


class _Nested:
    """Collects the members of a ``list`` or ``container`` attribute into a JSON value."""

    __slots__ = ("items", "key", "kind", "parent")

    def __init__(self, kind: int, key: str, parent: _Nested | None) -> None:
        self.kind = kind
        self.key = key
        self.parent = parent
        self.items: list[tuple[str, Any]] = []

    def value(self) -> Any:
        if self.kind == _LIST:
            return [v for _, v in self.items]
        return dict(self.items)


class _Fail(Exception):
    """Raised inside the parser target; turned into a DocumentError with the line found later."""

    def __init__(
        self,
        title: str,
        detail: str,
        trace: int | None,
        event: int | None,
        field: str | None,
        expected: str | None,
    ) -> None:
        super().__init__(detail)
        self.title = title
        self.detail = detail
        self.trace = trace
        self.event = event
        self.field = field
        self.expected = expected
        self.doc_event: int | None = None  # 0-based index of the event in the whole document


@dataclass(frozen=True)
class FastRows:
    """Event rows the scanner produced for a run of traces, as Arrow columns."""

    ev_id: pa.Array
    ev_type: pa.Array
    stamps: pa.Array
    ea_id: pa.Array
    ea_name: pa.Array
    ea_value: pa.Array
    ea_type: pa.Array
    eo_event: pa.Array
    eo_object: pa.Array
    eo_qualifier: pa.Array


class _Builder(OcelBuilder):
    """An :class:`OcelBuilder` that keeps event times as the file's text and parses a whole
    batch at once in Arrow (ten times faster than making a ``datetime`` per event), and that
    also takes ready-made Arrow columns from the scanner (:class:`FastRows`)."""

    def __init__(self) -> None:
        super().__init__()
        self.first_event = 0  # document-level index of the batch's first event, for errors

    def _reset(self) -> None:
        super()._reset()
        self.stamps: list[str] = []
        self.fast: list[FastRows] = []
        self.fast_events = 0

    def __len__(self) -> int:
        return len(self.ev_id) + self.fast_events

    def add_fast(self, rows: FastRows) -> None:
        """Rows the scanner built; they come before any row added one by one since (the reader
        only ever hands over from the scanner to the reference reader, never back)."""
        self.fast.append(rows)
        self.fast_events += len(rows.ev_id)

    def build(self) -> Ocel:
        s = pa.string()

        def column(name: str, items: list[Any], kind: pa.DataType = s) -> pa.Array:
            arrays = [getattr(f, name) for f in self.fast]
            arrays.append(pa.array(items, kind))
            return pa.concat_arrays(arrays) if len(arrays) > 1 else arrays[0]

        texts = column("stamps", self.stamps)
        try:
            times = texts.cast(TIME)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            stamps = texts.to_pylist()
            times = pa.array([self._parse(stamps, i) for i in range(len(stamps))], TIME)
        n_eo = sum(len(f.eo_event) for f in self.fast) + len(self.eo_event)
        batch = Ocel(
            events=pa.Table.from_arrays(
                [column("ev_id", self.ev_id), column("ev_type", self.ev_type), times],
                schema=EVENTS,
            ),
            event_attributes=pa.Table.from_arrays(
                [
                    column("ea_id", self.ea_id),
                    column("ea_name", self.ea_name),
                    column("ea_value", self.ea_value),
                    column("ea_type", self.ea_type),
                ],
                schema=EVENT_ATTRIBUTES,
            ),
            objects=pa.Table.from_arrays(
                [pa.array(self.ob_id, s), pa.array(self.ob_type, s)], schema=OBJECTS
            ),
            object_attributes=pa.Table.from_arrays(
                [
                    pa.array(self.oa_id, s),
                    pa.array(self.oa_name, s),
                    pa.array(self.oa_time, TIME),
                    pa.array(self.oa_value, s),
                    pa.array(self.oa_type, s),
                ],
                schema=OBJECT_ATTRIBUTES,
            ),
            # the relation rows carry no quantity or unit
            event_objects=pa.Table.from_arrays(
                [
                    column("eo_event", self.eo_event),
                    column("eo_object", self.eo_object),
                    column("eo_qualifier", self.eo_qualifier),
                    pa.nulls(n_eo, pa.float64()),
                    pa.nulls(n_eo, s),
                ],
                schema=EVENT_OBJECTS,
            ),
            object_objects=OBJECT_OBJECTS.empty_table(),
            event_types=self._types_table(self._new_event_types, self._seen_event_types),
            object_types=self._types_table(self._new_object_types, self._seen_object_types),
            source_events=SOURCE_EVENTS.empty_table(),
        )
        self.first_event += batch.num_events
        self._reset()
        return batch

    def _parse(self, stamps: list[str], i: int) -> datetime:
        stamp = stamps[i]
        try:
            return _time(stamp)
        except ValueError:
            fail = _Fail(
                "Bad timestamp",
                f"time:timestamp={stamp!r}",
                None,
                None,
                "time:timestamp",
                _EXPECTED[_DATE],
            )
            fail.doc_event = self.first_event + i
            raise fail from None


class _Target:
    """SAX-style parser target: turns start/end callbacks into rows of an OcelBuilder.

    Depths: 1 ``log``, 2 its children (trace, global, extension, log attributes), 3 a trace's
    attributes and events, 4 an event's attributes; deeper elements are nested attribute
    members (list/container values, meta-attributes).
    """

    def __init__(self, builder: _Builder, case_type: str, resource_type: str | None) -> None:
        self.b = builder
        self.case_type = case_type
        self.resource_type = resource_type
        self.kinds: dict[str, int] = {}
        self.depth = 0
        self.trace_index = -1  # 0-based index of the current trace
        self.event_total = 0  # events seen in the document so far
        self.in_trace = False
        self.in_event = False
        self.case_id: str | None = None
        self.case_attrs: list[tuple[str, str, str]] = []
        self.position = 0  # event position within the trace
        self.pending: list[
            tuple[int, str | None, str | None, str | None, str | None, list[tuple[str, str, str]]]
        ] = []
        # the event being read
        self.ev_name: str | None = None
        self.ev_time: str | None = None
        self.ev_ident: str | None = None
        self.ev_resource: str | None = None
        self.ev_attrs: list[tuple[str, str, str]] = []
        self.frames: list[_Nested] = []  # open elements inside a list/container attribute
        self.object_types: dict[str, str] = {}  # object id → type, to catch id clashes
        self.known_attrs: dict[str, set[str]] = {}  # activity → attribute names declared
        self.seen_root = False

    # -- helpers -------------------------------------------------------------------------------

    def _kind(self, tag: str) -> int:
        local = tag.rpartition("}")[2]
        kind = _LOCAL_KINDS.get(local, _OTHER)
        self.kinds[tag] = kind
        return kind

    def fail(
        self,
        title: str,
        detail: str,
        field: str | None = None,
        expected: str | None = None,
        event: bool = True,
    ) -> _Fail:
        failure = _Fail(
            title,
            detail,
            self.trace_index if self.in_trace else None,
            self.position if (event and self.in_event) else None,
            field,
            expected,
        )
        if event and self.in_event:
            failure.doc_event = self.event_total
        return failure

    def _object(self, object_id: str, object_type: str, field: str) -> None:
        known = self.object_types.get(object_id)
        if known is None:
            self.object_types[object_id] = object_type
            self.b.add_object(object_id, object_type)
        elif known != object_type:
            raise self.fail(
                "Object id used for two object types",
                f"{object_id!r} is both a {known} and a {object_type}; OCEL 2.0 object ids are "
                f"unique across types (read with resource_type=None to skip resource objects, "
                f"or rename one of them)",
                field,
                "object ids unique across object types",
            )

    # -- parser callbacks ---------------------------------------------------------------------

    def doctype(self, name: Any, pubid: Any, system: Any) -> None:
        raise _Fail(
            "DTD not allowed",
            "the document declares a DTD (<!DOCTYPE ...>); XES "
            "needs none and keiretsu refuses DTDs so no entity is ever expanded",
            None,
            None,
            "/",
            "no <!DOCTYPE> declaration",
        )

    def start(self, tag: str, attrib: Any) -> None:
        depth = self.depth = self.depth + 1
        kind = self.kinds.get(tag)
        if kind is None:
            kind = self._kind(tag)
        if depth == 4 and self.in_event and 0 <= kind < _LIST:
            # the hot path: a scalar attribute of an event
            key = attrib.get("key")
            value = attrib.get("value")
            if key is None or value is None:
                raise self.fail(
                    "Attribute without key or value",
                    f"a <{tag}> in an event lacks key or value",
                    key or "@key",
                    'key="..." and value="..."',
                )
            if key == "concept:name":
                self.ev_name = value
            elif key == "time:timestamp":
                if kind != _DATE:
                    raise self.fail(
                        "Timestamp is not a date",
                        f"time:timestamp is a <{tag}>",
                        key,
                        '<date key="time:timestamp" .../>',
                    )
                self.ev_time = value
            elif key == "identity:id":
                self.ev_ident = value
            else:
                if key == "org:resource":
                    self.ev_resource = value
                if kind != _STRING:
                    try:
                        value = _canonical(kind, value)
                    except ValueError:
                        raise self.fail(
                            "Bad attribute value", f"{key}={value!r}", key, _EXPECTED.get(kind)
                        ) from None
                self.ev_attrs.append((key, value, _VALUE_TYPES[kind]))
            return
        if self.frames:
            self._nested_start(kind, attrib)
            return
        if depth == 4:
            if self.in_event and kind in (_LIST, _CONTAINER):
                self._open_nested(kind, attrib, tag)
            return
        if depth == 3 and self.in_trace:
            if kind == _EVENT:
                self.in_event = True
                self.ev_name = self.ev_time = self.ev_ident = self.ev_resource = None
                self.ev_attrs = []
            elif kind in (_LIST, _CONTAINER):
                self._open_nested(kind, attrib, tag)
            elif 0 <= kind < _LIST:
                self._trace_attribute(kind, attrib, tag)
            return
        if depth == 2:
            if kind == _TRACE:
                self.in_trace = True
                self.trace_index += 1
                self.case_id = None
                self.case_attrs = []
                self.position = 0
                self.pending = []
            # extensions, globals, classifiers, log attributes: nothing an OCEL log keeps
            return
        if depth == 1:
            if kind != _LOG:
                raise _Fail(
                    "Not a XES log",
                    f"the root element is <{tag}>",
                    None,
                    None,
                    "/",
                    "<log> as the root element",
                )
            self.seen_root = True

    def _trace_attribute(self, kind: int, attrib: Any, tag: str) -> None:
        key = attrib.get("key")
        value = attrib.get("value")
        if key is None or value is None:
            raise self.fail(
                "Attribute without key or value",
                f"a <{tag}> in a trace lacks key or value",
                key or "@key",
                'key="..." and value="..."',
                event=False,
            )
        if key == "concept:name":
            self.case_id = value
            return
        try:
            text = _canonical(kind, value)
        except ValueError:
            raise self.fail(
                "Bad attribute value", f"{key}={value!r}", key, _EXPECTED.get(kind), event=False
            ) from None
        self.case_attrs.append((key, text, _VALUE_TYPES[kind]))

    def _open_nested(self, kind: int, attrib: Any, tag: str) -> None:
        key = attrib.get("key")
        if key is None:
            raise self.fail(
                "Attribute without key",
                f"a <{tag}> lacks its key",
                "@key",
                'key="..."',
                event=self.in_event,
            )
        self.frames = [_Nested(kind, key, None)]

    def _nested_start(self, kind: int, attrib: Any) -> None:
        """Inside a list or container: members become JSON; a scalar's meta-attributes and
        the OpenXES ``<values>`` wrapper are passed over."""
        collector: _Nested | None = None
        for frame in reversed(self.frames):
            if frame.kind == _LIST or frame.kind == _CONTAINER:
                collector = frame
                break
            if frame.kind != _OTHER:
                break  # parent is a scalar: this is one of its meta-attributes
        key = attrib.get("key") or ""
        frame = _Nested(kind, key, collector)
        self.frames.append(frame)
        if collector is None or kind == _OTHER or kind >= _LIST:
            return
        value = attrib.get("value")
        if value is None:
            raise self.fail(
                "Attribute without value",
                f"nested attribute {key!r} has no value",
                key,
                'value="..."',
                event=self.in_event,
            )
        try:
            parsed = _json_value(kind, value)
        except ValueError:
            raise self.fail(
                "Bad attribute value",
                f"{key}={value!r}",
                key,
                _EXPECTED.get(kind),
                event=self.in_event,
            ) from None
        collector.items.append((key, parsed))

    def end(self, tag: str) -> None:
        depth = self.depth
        self.depth = depth - 1
        if depth == 4:
            if not self.frames:
                return
        elif depth == 3:
            if self.in_event and not self.frames:
                self._end_event()
                self.in_event = False
                self.position += 1
                self.event_total += 1
                return
        elif depth == 2:
            if self.in_trace:
                self._end_trace()
                self.in_trace = False
            return
        frames = self.frames
        if not frames:
            return
        frame = frames.pop()
        if frame.kind != _LIST and frame.kind != _CONTAINER:
            return
        if frames:
            if frame.parent is not None:
                frame.parent.items.append((frame.key, frame.value()))
            return
        text = orjson.dumps(frame.value()).decode()
        if self.in_event:
            self.ev_attrs.append((frame.key, text, "string"))
        else:
            self.case_attrs.append((frame.key, text, "string"))

    def _end_event(self) -> None:
        if self.ev_name is None:
            raise self.fail(
                "Event without activity",
                "the event has no concept:name",
                "concept:name",
                '<string key="concept:name" value="..."/>',
            )
        if self.ev_time is None:
            raise self.fail(
                "Event without timestamp",
                "the event has no time:timestamp",
                "time:timestamp",
                '<date key="time:timestamp" value="..."/>',
            )
        if self.case_id is None:
            # concept:name of the trace may come after its events: hold them until the trace ends
            self.pending.append(
                (
                    self.position,
                    self.ev_name,
                    self.ev_time,
                    self.ev_ident,
                    self.ev_resource,
                    self.ev_attrs,
                )
            )
            return
        self._emit(
            self.position,
            self.ev_name,
            self.ev_time,
            self.ev_ident,
            self.ev_resource,
            self.ev_attrs,
        )

    def _emit(
        self,
        position: int,
        name: str | None,
        stamp: str | None,
        ident: str | None,
        resource: str | None,
        attrs: list[tuple[str, str, str]],
    ) -> None:
        b = self.b
        case_id = self.case_id
        assert case_id is not None and name is not None and stamp is not None
        event_id = ident if ident is not None else f"{case_id}/{position}"
        b.ev_id.append(event_id)
        b.ev_type.append(name)
        b.stamps.append(stamp)  # parsed per batch, in Arrow (see _Builder.build)
        known = self.known_attrs.get(name)
        if known is None:
            known = self.known_attrs[name] = set()
            b.declare_event_type(name)
        ea_id, ea_name, ea_value, ea_type = b.ea_id, b.ea_name, b.ea_value, b.ea_type
        for key, text, vtype in attrs:
            ea_id.append(event_id)
            ea_name.append(key)
            ea_value.append(text)
            ea_type.append(vtype)
            if key not in known:
                known.add(key)
                b.declare_event_type(name, {key: vtype})
        b.eo_event.append(event_id)
        b.eo_object.append(case_id)
        b.eo_qualifier.append("case")
        if resource is not None and self.resource_type is not None:
            if self.object_types.get(resource) != self.resource_type:
                self._object(resource, self.resource_type, "org:resource")
            b.eo_event.append(event_id)
            b.eo_object.append(resource)
            b.eo_qualifier.append("resource")

    def _end_trace(self) -> None:
        if self.case_id is None:
            raise self.fail(
                "Trace without case id",
                "the trace has no concept:name",
                "concept:name",
                '<string key="concept:name" value="..."/> in every trace',
                event=False,
            )
        case_id = self.case_id
        if case_id in self.object_types:
            raise self.fail(
                "Duplicate case id",
                f"case {case_id!r} appears in two traces "
                f"(or is already a {self.object_types[case_id]})",
                "concept:name",
                "a concept:name unique to each trace",
                event=False,
            )
        self._object(case_id, self.case_type, "concept:name")
        for key, text, vtype in self.case_attrs:
            self.b.add_object_attribute(case_id, key, text, EPOCH, vtype)
        if self.pending:
            # the object must exist before its events' resource objects are checked
            pending, self.pending = self.pending, []
            for item in pending:
                self._emit(*item)

    def close(self) -> int:
        return self.event_total
