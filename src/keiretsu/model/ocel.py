"""OCEL 2.0, the one event model inside keiretsu.

Every format a company already has (EPCIS 2.0, OCEL 2.0 files, XES, ERP/MES/WMS tables) is mapped
at the edge onto the tables below; the store, the analytics and the simulator speak nothing else.

The tables follow the OCEL 2.0 relational layout (van der Aalst et al., *OCEL 2.0 specification*,
2023), with two deliberate choices:

* attributes are held *long* (one row per event attribute, one row per object attribute value
  change) rather than one table per type, so a twin can take a new event type without changing
  its schema; the OCEL 2.0 SQLite export rebuilds the per-type tables exactly;
* the event-to-object relation carries an optional ``quantity`` and ``uom`` (unit of measure), so
  that class-level EPCIS observations ("40 kg of lot L1") keep their amounts for the inventory
  views; OCEL files leave them null.

Attribute values are kept as their canonical text with their OCEL type beside them (``string``,
``integer``, ``float``, ``boolean``, ``time``), which is lossless for every OCEL 2.0 type.
Times are UTC instants with microsecond resolution.

``source_events`` keeps, per event, the event exactly as the source format carried it (for EPCIS
its JSON form), so the twin can serve it back through the EPCIS 2.0 query interface.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import pyarrow as pa

TIME = pa.timestamp("us", tz="UTC")
"""The one time type: UTC instant, microseconds."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""OCEL 2.0 convention: an object attribute's initial value is stamped at the Unix epoch."""

ATTRIBUTE_TYPES = ("string", "integer", "float", "boolean", "time")
"""The OCEL 2.0 attribute types."""

TYPE_ATTRIBUTE = pa.struct([("name", pa.string()), ("type", pa.string())])

EVENTS = pa.schema(
    [
        pa.field("ocel_id", pa.string(), nullable=False),
        pa.field("ocel_type", pa.string(), nullable=False),
        pa.field("ocel_time", TIME, nullable=False),
    ]
)
EVENT_ATTRIBUTES = pa.schema(
    [
        pa.field("ocel_id", pa.string(), nullable=False),
        pa.field("ocel_name", pa.string(), nullable=False),
        pa.field("ocel_value", pa.string()),
        pa.field("ocel_value_type", pa.string(), nullable=False),
    ]
)
OBJECTS = pa.schema(
    [
        pa.field("ocel_id", pa.string(), nullable=False),
        pa.field("ocel_type", pa.string(), nullable=False),
    ]
)
OBJECT_ATTRIBUTES = pa.schema(
    [
        pa.field("ocel_id", pa.string(), nullable=False),
        pa.field("ocel_name", pa.string(), nullable=False),
        pa.field("ocel_time", TIME, nullable=False),
        pa.field("ocel_value", pa.string()),
        pa.field("ocel_value_type", pa.string(), nullable=False),
    ]
)
EVENT_OBJECTS = pa.schema(
    [
        pa.field("ocel_event_id", pa.string(), nullable=False),
        pa.field("ocel_object_id", pa.string(), nullable=False),
        pa.field("ocel_qualifier", pa.string(), nullable=False),
        pa.field("quantity", pa.float64()),
        pa.field("uom", pa.string()),
    ]
)
OBJECT_OBJECTS = pa.schema(
    [
        pa.field("ocel_source_id", pa.string(), nullable=False),
        pa.field("ocel_target_id", pa.string(), nullable=False),
        pa.field("ocel_qualifier", pa.string(), nullable=False),
    ]
)
EVENT_TYPES = pa.schema(
    [
        pa.field("ocel_type", pa.string(), nullable=False),
        pa.field("attributes", pa.list_(TYPE_ATTRIBUTE), nullable=False),
    ]
)
OBJECT_TYPES = EVENT_TYPES
SOURCE_EVENTS = pa.schema(
    [
        pa.field("ocel_id", pa.string(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("body", pa.string(), nullable=False),
    ]
)

SCHEMAS: dict[str, pa.Schema] = {
    "events": EVENTS,
    "event_attributes": EVENT_ATTRIBUTES,
    "objects": OBJECTS,
    "object_attributes": OBJECT_ATTRIBUTES,
    "event_objects": EVENT_OBJECTS,
    "object_objects": OBJECT_OBJECTS,
    "event_types": EVENT_TYPES,
    "object_types": OBJECT_TYPES,
    "source_events": SOURCE_EVENTS,
}
"""Table name → Arrow schema, for every table of an :class:`Ocel`."""


def _empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


@dataclass(frozen=True)
class Ocel:
    """An object-centric event log (or a batch of one) as Arrow tables.

    ``events``: one row per event (id, activity type, time).
    ``event_attributes``: one row per event attribute value.
    ``objects``: one row per object (id, object type).
    ``object_attributes``: one row per object attribute value, stamped with the time it took
    effect (the epoch for initial values).
    ``event_objects``: which objects each event touched, with the qualifier (role) and, for
    class-level observations, the quantity and unit.
    ``object_objects``: object-to-object relations with qualifiers (a pallet *contains* a case).
    ``event_types`` / ``object_types``: the declared types and their attribute names and types.
    ``source_events``: the events as the source format carried them (optional, may be empty).
    """

    events: pa.Table = field(default_factory=lambda: _empty(EVENTS))
    event_attributes: pa.Table = field(default_factory=lambda: _empty(EVENT_ATTRIBUTES))
    objects: pa.Table = field(default_factory=lambda: _empty(OBJECTS))
    object_attributes: pa.Table = field(default_factory=lambda: _empty(OBJECT_ATTRIBUTES))
    event_objects: pa.Table = field(default_factory=lambda: _empty(EVENT_OBJECTS))
    object_objects: pa.Table = field(default_factory=lambda: _empty(OBJECT_OBJECTS))
    event_types: pa.Table = field(default_factory=lambda: _empty(EVENT_TYPES))
    object_types: pa.Table = field(default_factory=lambda: _empty(OBJECT_TYPES))
    source_events: pa.Table = field(default_factory=lambda: _empty(SOURCE_EVENTS))

    def __post_init__(self) -> None:
        for f in fields(self):
            table = getattr(self, f.name)
            schema = SCHEMAS[f.name]
            if not table.schema.equals(schema):
                try:
                    object.__setattr__(self, f.name, conform(table, schema))
                except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError) as exc:
                    raise TypeError(
                        f"Ocel.{f.name}: expected columns {schema.names} of types "
                        f"{[str(t) for t in schema.types]}, got {table.schema}: {exc}"
                    ) from exc

    @staticmethod
    def table_names() -> tuple[str, ...]:
        """The table names, in a stable order."""
        return tuple(SCHEMAS)

    def tables(self) -> dict[str, pa.Table]:
        """Table name → Arrow table."""
        return {name: getattr(self, name) for name in SCHEMAS}

    @property
    def num_events(self) -> int:
        """How many events."""
        return int(self.events.num_rows)

    @property
    def num_objects(self) -> int:
        """How many objects."""
        return int(self.objects.num_rows)

    @classmethod
    def concat(cls, parts: Iterable[Ocel]) -> Ocel:
        """Join batches into one log (no de-duplication)."""
        parts = list(parts)
        if not parts:
            return cls()
        return cls(
            **{
                name: pa.concat_tables([getattr(p, name) for p in parts]).combine_chunks()
                for name in SCHEMAS
            }
        )

    def sorted(self) -> Ocel:
        """A copy with every table in a canonical row order: for comparing logs in tests and
        for deterministic exports."""
        keys: dict[str, list[str]] = {
            "events": ["ocel_id"],
            "event_attributes": ["ocel_id", "ocel_name"],
            "objects": ["ocel_id"],
            "object_attributes": ["ocel_id", "ocel_time", "ocel_name", "ocel_value"],
            "event_objects": ["ocel_event_id", "ocel_object_id", "ocel_qualifier"],
            "object_objects": ["ocel_source_id", "ocel_target_id", "ocel_qualifier"],
            "event_types": ["ocel_type"],
            "object_types": ["ocel_type"],
            "source_events": ["ocel_id"],
        }
        out: dict[str, pa.Table] = {}
        for name, table in self.tables().items():
            if table.num_rows:
                table = table.sort_by([(k, "ascending") for k in keys[name]])
            out[name] = table
        return Ocel(**out)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Select and cast ``table``'s columns to ``schema`` (missing nullable columns become null)."""
    columns = []
    for f in schema:
        if f.name in table.column_names:
            col = table.column(f.name)
            if not col.type.equals(f.type):
                col = col.cast(f.type)
            columns.append(col)
        elif f.nullable:
            columns.append(pa.nulls(table.num_rows, f.type))
        else:
            raise KeyError(f"missing column {f.name!r}")
    return pa.Table.from_arrays(columns, schema=schema)


# --- attribute values ------------------------------------------------------------------------


def format_time(value: datetime) -> str:
    """ISO 8601 text of a UTC instant, as OCEL and EPCIS write it (``2023-04-03T12:08:18Z``,
    fractional seconds only where present)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def encode_value(value: Any) -> tuple[str | None, str]:
    """A Python value → (canonical text, OCEL attribute type).

    ``bool`` → boolean, ``int`` → integer, ``float`` → float (``repr``, round-trips exactly),
    ``datetime`` → time (UTC ISO 8601), anything else → string (``str``); ``None`` stays null
    with type string.
    """
    if value is None:
        return None, "string"
    if isinstance(value, bool):
        return ("true" if value else "false"), "boolean"
    if isinstance(value, int):
        return str(value), "integer"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return repr(value), "float"
        return repr(value), "float"
    if isinstance(value, datetime):
        return format_time(value), "time"
    return str(value), "string"


def decode_value(text: str | None, value_type: str) -> Any:
    """Canonical text and OCEL type → the Python value (inverse of :func:`encode_value`)."""
    if text is None:
        return None
    if value_type == "integer":
        return int(text)
    if value_type == "float":
        return float(text)
    if value_type == "boolean":
        return text.lower() in ("true", "1")
    if value_type == "time":
        return parse_time(text)
    return text


def parse_time(text: str) -> datetime:
    """ISO 8601 / RFC 3339 text → an aware UTC datetime. Text without an offset is taken as UTC.

    Raises ``ValueError`` on anything that is not a date-time.
    """
    t = text.strip()
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    # Python < 3.11 fromisoformat is strict; 3.11 accepts most ISO forms. Trim sub-microsecond
    # digits (EPCIS allows nanoseconds) so they parse.
    if "." in t:
        head, _, rest = t.partition(".")
        digits = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            digits += rest[i]
            i += 1
        t = head + ("." + digits[:6] if digits else "") + rest[i:]
    value = datetime.fromisoformat(t)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# --- building tables fast ----------------------------------------------------------------------

_STRING = pa.string()


@functools.cache
def _empty_tables() -> dict[str, pa.Table]:
    # made on first use, not at import: pyarrow imports pandas to make a table (a second of
    # every command's start)
    return {name: schema.empty_table() for name, schema in SCHEMAS.items()}


def _strings(values: Sequence[str | None]) -> pa.Array:
    """A string column. A column of one repeated value (the format of every kept event, the
    type of every ILMD attribute) is made without converting each row."""
    n = len(values)
    if n > 1 and type(values) is list:
        first = values[0]
        if (
            (first is None or type(first) is str)
            and values[-1] is first
            and values[n >> 1] is first
            and values.count(first) == n
        ):
            return pa.repeat(pa.scalar(first, _STRING), n)
    return pa.array(values, _STRING)


def _times(values: Sequence[datetime | str], repeated: bool = False) -> pa.Array:
    """A time column. With ``repeated``, when the rows share few instants (object attributes
    stamped at the epoch or at the event that set them) each distinct one is converted once:
    a ``datetime`` costs Arrow a call of its ``utcoffset``.

    Rows may also be RFC 3339 text with a time zone (``2024-03-04T07:05:48.000+01:00``), as an
    EPCIS ``eventTime`` is written: Arrow reads a column of those in one step. Text Arrow does
    not read (more than six decimals, a lower-case ``t``…) is read by :func:`parse_time`."""
    n = len(values)
    if n and type(values) is list and type(values[0]) is str:
        try:
            return pa.array(values, _STRING).cast(TIME)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            values = [parse_time(v) if type(v) is str else v for v in values]
    if repeated and n > 1 and type(values) is list:
        try:
            distinct = dict.fromkeys(values)
        except TypeError:
            return _datetimes(values)
        if len(distinct) * 2 <= n:
            position = dict(zip(distinct, range(len(distinct)), strict=False))
            codes = pa.array(list(map(position.__getitem__, values)), pa.int32())
            return _datetimes(list(distinct)).take(codes)
    return _datetimes(values)


def _datetimes(values: Sequence[datetime | str]) -> pa.Array:
    try:
        return pa.array(values, TIME)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # text among datetimes (a batch that mixes the two)
        if not any(type(v) is str for v in values):
            raise
        return pa.array([parse_time(v) if type(v) is str else v for v in values], TIME)


def _per_event(ids: pa.Array, runs: list[int], rows: list[str], what: str) -> pa.Array:
    """An event id column given either row by row (``rows``) or as how many rows each event
    of ``ids`` has (``runs``): then the ids are repeated in one step."""
    if not runs:
        return _strings(rows)
    if rows or len(runs) != len(ids):
        raise ValueError(
            f"OcelBuilder: {what} given both row by row and per event, or not for every event "
            f"({len(runs)} counts for {len(ids)} events)"
        )
    return ids.take(pa.array(np.repeat(np.arange(len(runs), dtype=np.int32), runs)))


class OcelBuilder:
    """Collects rows in plain Python lists and turns them into an :class:`Ocel` batch.

    Adapters call the ``add_*`` methods per event (or append to the column lists directly) and
    :meth:`build` every few thousand events, so a large file streams in bounded memory. Type
    declarations are de-duplicated within the builder's lifetime; so are objects (an object seen
    in 10,000 events is one row), within a bounded memory of the objects seen *recently*: the
    last :attr:`OBJECT_MEMORY` to a little over twice that many distinct objects. An object not
    met again for that long is emitted once more when it reappears, in a later batch; the store
    keeps the first row of each object, so this only costs a row, never a wrong type.

    Shortcuts for adapters that add an event and then its attribute and relation rows
    (EPCIS): instead of repeating the event id in ``ea_id`` / ``eo_event`` row by row, append
    to ``ea_runs`` / ``eo_runs`` how many rows the event has (one number per event of
    ``ev_id``, 0 included) and :meth:`build` makes the id column at once. Instead of a
    quantity and a unit on every relation (``eo_quantity`` / ``eo_uom``, mostly null), list
    only the class-level ones in ``eo_amounts`` as (row of ``eo_object``, quantity, unit).
    A batch uses one way or the other for each table. And ``ev_time`` may hold the event's
    RFC 3339 time text as written (with its time zone) in the place of a ``datetime``.
    """

    OBJECT_MEMORY = 1 << 18
    """How many distinct objects are remembered for de-duplication, at least (about 40 MB)."""

    def __init__(self) -> None:
        self._seen_objects: dict[str, str] = {}
        self._old_objects: dict[str, str] = {}  # the previous generation of _seen_objects
        self._seen_event_types: dict[str, dict[str, str]] = {}
        self._seen_object_types: dict[str, dict[str, str]] = {}
        self._declared_event_types: set[str] = set()
        self._declared_object_types: set[str] = set()
        self._reset()

    def _reset(self) -> None:
        self.ev_id: list[str] = []
        self.ev_type: list[str] = []
        self.ev_time: list[datetime | str] = []
        self.ea_id: list[str] = []
        self.ea_runs: list[int] = []
        self.ea_name: list[str] = []
        self.ea_value: list[str | None] = []
        self.ea_type: list[str] = []
        self.ob_id: list[str] = []
        self.ob_type: list[str] = []
        self.oa_id: list[str] = []
        self.oa_name: list[str] = []
        self.oa_time: list[datetime] = []
        self.oa_value: list[str | None] = []
        self.oa_type: list[str] = []
        self.eo_event: list[str] = []
        self.eo_runs: list[int] = []
        self.eo_object: list[str] = []
        self.eo_qualifier: list[str] = []
        self.eo_quantity: list[float | None] = []
        self.eo_uom: list[str | None] = []
        self.eo_amounts: list[tuple[int, float | None, str | None]] = []
        self.oo_source: list[str] = []
        self.oo_target: list[str] = []
        self.oo_qualifier: list[str] = []
        self.se_id: list[str] = []
        self.se_format: list[str] = []
        self.se_body: list[str] = []
        self._new_event_types: set[str] = set()
        self._new_object_types: set[str] = set()

    def __len__(self) -> int:
        """Events collected since the last :meth:`build`."""
        return len(self.ev_id)

    def declare_event_type(self, name: str, attributes: Mapping[str, str] | None = None) -> None:
        """Declare an event type and its attributes (name → OCEL type), as OCEL files do."""
        attrs = self._seen_event_types.setdefault(name, {})
        for k, v in (attributes or {}).items():
            attrs.setdefault(k, v)
        self._declared_event_types.add(name)
        self._new_event_types.add(name)

    def declare_object_type(self, name: str, attributes: Mapping[str, str] | None = None) -> None:
        """Declare an object type and its attributes (name → OCEL type)."""
        attrs = self._seen_object_types.setdefault(name, {})
        for k, v in (attributes or {}).items():
            attrs.setdefault(k, v)
        self._declared_object_types.add(name)
        self._new_object_types.add(name)

    def add_event(
        self,
        event_id: str,
        event_type: str,
        time: datetime,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        """One event, with attribute values as Python values (see :func:`encode_value`)."""
        self.ev_id.append(event_id)
        self.ev_type.append(event_type)
        self.ev_time.append(time)
        known = self._seen_event_types.get(event_type)
        if known is None:
            known = self._seen_event_types[event_type] = {}
            self._new_event_types.add(event_type)
        if attributes:
            for name, value in attributes.items():
                text, vtype = encode_value(value)
                self.ea_id.append(event_id)
                self.ea_name.append(name)
                self.ea_value.append(text)
                self.ea_type.append(vtype)
                if name not in known:
                    known[name] = vtype
                    self._new_event_types.add(event_type)

    def add_event_attribute(self, event_id: str, name: str, text: str | None, vtype: str) -> None:
        """One event attribute given as canonical text and OCEL type (no conversion)."""
        self.ea_id.append(event_id)
        self.ea_name.append(name)
        self.ea_value.append(text)
        self.ea_type.append(vtype)

    def add_object(self, object_id: str, object_type: str) -> None:
        """An object; repeated calls for the same id are ignored (the first type wins)."""
        seen = self._seen_objects
        if object_id in seen:
            return
        earlier = self._old_objects.get(object_id)
        if earlier is not None:  # met a generation ago: remembered again, not emitted again
            seen[object_id] = earlier
            return
        if len(seen) >= self.OBJECT_MEMORY:
            self._old_objects = seen
            seen = self._seen_objects = {}
        seen[object_id] = object_type
        self.ob_id.append(object_id)
        self.ob_type.append(object_type)
        if object_type not in self._seen_object_types:
            self._seen_object_types[object_type] = {}
            self._new_object_types.add(object_type)

    def add_objects(
        self, object_ids: Sequence[str], object_types: Sequence[str | None], default_type: str
    ) -> None:
        """Many objects at once (the EPCs of an event), as :meth:`add_object` for each; an
        object whose type is ``None`` gets ``default_type``."""
        seen = self._seen_objects
        n = len(object_ids)
        if (
            len(seen) + n < self.OBJECT_MEMORY
            and seen.keys().isdisjoint(object_ids)
            and self._old_objects.keys().isdisjoint(object_ids)
            and len(set(object_ids)) == n
        ):
            # all new and distinct (a commissioning): added in whole-list steps
            types = cast(
                "Sequence[str]",
                object_types
                if None not in object_types
                else [t or default_type for t in object_types],
            )
            seen.update(zip(object_ids, types, strict=True))
            self.ob_id += object_ids
            self.ob_type += types
            for t in set(types).difference(self._seen_object_types):
                self._seen_object_types[t] = {}
                self._new_object_types.add(t)
            return
        for i in [i for i, oid in enumerate(object_ids) if oid not in seen]:
            self.add_object(object_ids[i], object_types[i] or default_type)

    def _object_type(self, object_id: str) -> str | None:
        found = self._seen_objects.get(object_id)
        return found if found is not None else self._old_objects.get(object_id)

    def add_object_attribute(
        self,
        object_id: str,
        name: str,
        value: Any,
        time: datetime = EPOCH,
        value_type: str | None = None,
    ) -> None:
        """An object attribute value taking effect at ``time`` (the epoch for initial values).

        With ``value_type`` given, ``value`` is taken as canonical text already.
        """
        if value_type is None:
            text, vtype = encode_value(value)
        else:
            text, vtype = value, value_type
        self.oa_id.append(object_id)
        self.oa_name.append(name)
        self.oa_time.append(time)
        self.oa_value.append(text)
        self.oa_type.append(vtype)
        otype = self._object_type(object_id)
        if otype is not None:
            known = self._seen_object_types.setdefault(otype, {})
            if name not in known:
                known[name] = vtype
                self._new_object_types.add(otype)

    def relate(
        self,
        event_id: str,
        object_id: str,
        qualifier: str,
        quantity: float | None = None,
        uom: str | None = None,
    ) -> None:
        """Event-to-object relation with its qualifier (and quantity/unit for class level)."""
        self.eo_event.append(event_id)
        self.eo_object.append(object_id)
        self.eo_qualifier.append(qualifier)
        self.eo_quantity.append(quantity)
        self.eo_uom.append(uom)

    def link(self, source_id: str, target_id: str, qualifier: str) -> None:
        """Object-to-object relation with its qualifier."""
        self.oo_source.append(source_id)
        self.oo_target.append(target_id)
        self.oo_qualifier.append(qualifier)

    def add_source(self, event_id: str, fmt: str, body: str) -> None:
        """Keep the event as the source format carried it (e.g. EPCIS JSON)."""
        self.se_id.append(event_id)
        self.se_format.append(fmt)
        self.se_body.append(body)

    def _types_table(self, names: set[str], seen: dict[str, dict[str, str]]) -> pa.Table:
        if not names:
            return _empty_tables()["event_types"]
        ordered = sorted(names)
        return pa.Table.from_arrays(
            [
                pa.array(ordered, pa.string()),
                pa.array(
                    [[{"name": k, "type": v} for k, v in seen[n].items()] for n in ordered],
                    pa.list_(TYPE_ATTRIBUTE),
                ),
            ],
            schema=EVENT_TYPES,
        )

    def _amounts(self) -> tuple[pa.Array, pa.Array]:
        """The quantity and unit columns of the relations: row by row, or (``eo_amounts``)
        null but for the rows listed."""
        n = len(self.eo_object)
        if self.eo_quantity or self.eo_uom or not n:
            return pa.array(self.eo_quantity, pa.float64()), _strings(self.eo_uom)
        if not self.eo_amounts:
            return pa.nulls(n, pa.float64()), pa.nulls(n, _STRING)
        rows, quantities, units = zip(*self.eo_amounts, strict=True)
        at = np.zeros(n, dtype=np.int32)
        at[list(rows)] = np.arange(len(rows), dtype=np.int32)
        unlisted = np.ones(n, dtype=bool)
        unlisted[list(rows)] = False
        where = pa.array(at, mask=unlisted)  # a null position takes a null
        return (
            pa.array(quantities, pa.float64()).take(where),
            pa.array(units, _STRING).take(where),
        )

    def build(self) -> Ocel:
        """The rows collected since the last call, as an :class:`Ocel` batch.

        ``event_types`` / ``object_types`` carry every type that is new or gained an attribute
        in this batch, with all attributes known so far.
        """
        s = _strings
        empty = _empty_tables()
        from_arrays = pa.Table.from_arrays
        has_events = bool(len(self.ev_id) or len(self.ev_type) or len(self.ev_time))
        ev_id = s(self.ev_id)
        batch = Ocel(
            events=from_arrays([ev_id, s(self.ev_type), _times(self.ev_time)], schema=EVENTS)
            if has_events
            else empty["events"],
            event_attributes=from_arrays(
                [
                    _per_event(ev_id, self.ea_runs, self.ea_id, "event attribute ids"),
                    s(self.ea_name),
                    s(self.ea_value),
                    s(self.ea_type),
                ],
                schema=EVENT_ATTRIBUTES,
            )
            if self.ea_id or self.ea_name or self.ea_value or self.ea_type or any(self.ea_runs)
            else empty["event_attributes"],
            objects=from_arrays([s(self.ob_id), s(self.ob_type)], schema=OBJECTS)
            if self.ob_id or self.ob_type
            else empty["objects"],
            object_attributes=from_arrays(
                [
                    s(self.oa_id),
                    s(self.oa_name),
                    _times(self.oa_time, repeated=True),
                    s(self.oa_value),
                    s(self.oa_type),
                ],
                schema=OBJECT_ATTRIBUTES,
            )
            if self.oa_id or self.oa_name or len(self.oa_time) or self.oa_value or self.oa_type
            else empty["object_attributes"],
            event_objects=from_arrays(
                [
                    _per_event(ev_id, self.eo_runs, self.eo_event, "relation event ids"),
                    s(self.eo_object),
                    s(self.eo_qualifier),
                    *self._amounts(),
                ],
                schema=EVENT_OBJECTS,
            )
            if self.eo_event
            or self.eo_object
            or self.eo_qualifier
            or self.eo_quantity
            or self.eo_uom
            or any(self.eo_runs)
            else empty["event_objects"],
            object_objects=from_arrays(
                [s(self.oo_source), s(self.oo_target), s(self.oo_qualifier)],
                schema=OBJECT_OBJECTS,
            )
            if self.oo_source or self.oo_target or self.oo_qualifier
            else empty["object_objects"],
            event_types=self._types_table(self._new_event_types, self._seen_event_types),
            object_types=self._types_table(self._new_object_types, self._seen_object_types),
            source_events=from_arrays(
                [s(self.se_id), s(self.se_format), s(self.se_body)], schema=SOURCE_EVENTS
            )
            if self.se_id or self.se_format or self.se_body
            else empty["source_events"],
        )
        self._reset()
        return batch
