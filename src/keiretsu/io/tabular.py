"""CSV and Parquet exports of ERP, MES and WMS tables → OCEL 2.0.

A table export is one row per thing that happened: an order line released, a lot moved, a
pallet picked. A :class:`ColumnMapping` says which column holds the activity, which the time,
and which columns name the objects the row touched (an order, a material, a machine). One
object column gives a case-centric log; two or more give an object-centric one — the same
reader does both. The mapping is written down in ``docs/formats/tabular.md``.

The reader is columnar: it reads the file in blocks (CSV) or row groups (Parquet) with Arrow
and builds every OCEL table with Arrow compute, never a Python object per row, so a file of
millions of rows streams in bounded memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from keiretsu.model.errors import DocumentError
from keiretsu.model.ocel import (
    EVENT_ATTRIBUTES,
    EVENT_OBJECTS,
    EVENT_TYPES,
    EVENTS,
    OBJECTS,
    TIME,
    TYPE_ATTRIBUTE,
    Ocel,
    format_time,
    parse_time,
)

__all__ = ["ColumnMapping", "read_table"]


@dataclass(frozen=True)
class ColumnMapping:
    """Which column of an export means what.

    ``activity``: the step that happened (e.g. ``"step"``: *Release order*, *Pick*, *Ship*).
    ``time``: when it happened (or when it completed, with ``start_time``); ISO 8601 text,
    a Parquet timestamp, or text in ``time_format`` (``strptime`` codes, e.g.
    ``"%d.%m.%Y %H:%M"``). Times without an offset are taken as UTC.
    ``event_id``: a column with unique event ids; without it the id is
    ``<document>#<row>`` (1-based data row), so re-importing the same file gives the same ids.
    ``objects``: column → object type, e.g. ``{"order_id": "order", "material": "material"}``.
    ``qualifiers``: column → qualifier of the event-to-object relation (default: the type).
    ``resource``: column naming who or what did the work: an object of type ``resource``
    (qualifier ``resource``) and the event attribute ``org:resource``, as in XES.
    ``attributes``: columns kept as event attributes (``None``: every column not used above).
    ``start_time``: when the step started; a row then gives two events, a start and a
    complete one, with ``lifecycle:transition`` ``start`` / ``complete``.
    """

    activity: str
    time: str
    time_format: str | None = None
    event_id: str | None = None
    objects: Mapping[str, str] = field(default_factory=dict)
    qualifiers: Mapping[str, str] = field(default_factory=dict)
    resource: str | None = None
    attributes: tuple[str, ...] | None = None
    start_time: str | None = None

    @classmethod
    def parse(cls, text: str) -> ColumnMapping:
        """The CLI form: comma-separated ``key=value`` items.

        ``activity=COL``, ``time=COL``, ``time_format=FMT``, ``event_id=COL``,
        ``object:TYPE=COL`` (repeatable), ``qualifier:COL=QUALIFIER``, ``resource=COL``,
        ``attributes=COL|COL|...`` (empty: none), ``start_time=COL``. Example:
        ``activity=step,time=ts,object:order=order_id,object:material=matnr,resource=user``.
        """
        values: dict[str, str] = {}
        objects: dict[str, str] = {}
        qualifiers: dict[str, str] = {}
        attributes: tuple[str, ...] | None = None
        for raw in text.split(","):
            item = raw.strip()
            if not item:
                continue
            key, sep, value = item.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not key:
                raise ValueError(f"mapping item {item!r}: expected key=value")
            if key.startswith("object:"):
                objects[value] = key[len("object:") :]
            elif key.startswith("qualifier:"):
                qualifiers[key[len("qualifier:") :]] = value
            elif key == "attributes":
                attributes = tuple(c for c in (v.strip() for v in value.split("|")) if c)
            elif key in ("activity", "time", "time_format", "event_id", "resource", "start_time"):
                values[key] = value
            else:
                raise ValueError(
                    f"mapping key {key!r} unknown: use activity, time, time_format, event_id, "
                    "object:TYPE, qualifier:COLUMN, resource, attributes, start_time"
                )
        for needed in ("activity", "time"):
            if needed not in values:
                raise ValueError(f"mapping needs {needed}=COLUMN")
        return cls(
            activity=values["activity"],
            time=values["time"],
            time_format=values.get("time_format"),
            event_id=values.get("event_id"),
            objects=objects,
            qualifiers=qualifiers,
            resource=values.get("resource"),
            attributes=attributes,
            start_time=values.get("start_time"),
        )

    def used_columns(self) -> list[str]:
        """The columns the mapping gives a role other than plain attribute."""
        cols = [self.activity, self.time, *self.objects]
        cols += [c for c in (self.event_id, self.resource, self.start_time) if c]
        return cols


def _value_type(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "float"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "time"
    return "string"


def _as_text(col: pa.Array, vtype: str) -> pa.Array:
    """A column as OCEL canonical text for its type."""
    if vtype == "time":
        times = _to_utc(col)
        return pa.array(
            [None if t is None else format_time(t) for t in times.to_pylist()], pa.string()
        )
    if vtype == "float":
        return pa.array(
            [None if v is None else repr(float(v)) for v in col.to_pylist()], pa.string()
        )
    return pc.cast(col, pa.string())


def _to_utc(col: pa.Array) -> pa.Array:
    if pa.types.is_date(col.type):
        col = pc.cast(col, pa.timestamp("us"))
    if col.type.tz is None:
        col = pc.assume_timezone(pc.cast(col, pa.timestamp("us")), "UTC")
    return pc.cast(col, TIME)


class _Reader:
    def __init__(self, mapping: ColumnMapping, document: str, header_lines: int) -> None:
        self.m = mapping
        self.document = document
        self.header_lines = header_lines  # CSV: the header is line 1; Parquet: 0
        self.objects: dict[str, str] = {}
        self.types: dict[str, dict[str, str]] = {}  # activity → attribute name → OCEL type
        self.object_types: set[str] = set()

    def fail(self, row: int, column: str, detail: str, expected: str) -> DocumentError:
        unit = "line" if self.header_lines else "row"
        number = row + self.header_lines + 1
        return DocumentError.single(
            "Bad row",
            f"{unit} {number}, column {column!r}: {detail}",
            document=self.document,
            event_index=row,
            field=f"{unit} {number}/{column}",
            expected=expected,
            line=number if self.header_lines else None,
        )

    def _column(self, batch: pa.RecordBatch, name: str) -> pa.Array:
        idx = batch.schema.get_field_index(name)
        if idx < 0:
            raise DocumentError.single(
                "Missing column",
                f"the mapping names column {name!r}, which the file does not have "
                f"(columns: {', '.join(batch.schema.names)})",
                document=self.document,
                field=name,
                expected=f"a column {name!r}",
            )
        return batch.column(idx)

    def times(self, col: pa.Array, name: str, first_row: int) -> pa.Array:
        expected = (
            f"a time in the format {self.m.time_format!r}"
            if self.m.time_format
            else "an ISO 8601 time such as 2024-03-01T08:00:00+01:00"
        )
        if col.null_count:
            row = first_row + pc.index(pc.is_null(col), True).as_py()
            raise self.fail(row, name, "no time", expected)
        if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
            return _to_utc(col)
        text = pc.cast(col, pa.string())
        if self.m.time_format:
            fmt = self.m.time_format
            parsed = pc.strptime(text, format=fmt, unit="us", error_is_null=True)
            if parsed.null_count:
                row = pc.index(pc.is_null(parsed), True).as_py()
                raise self.fail(first_row + row, name, f"{text[row].as_py()!r}", expected)
            return _to_utc(parsed)
        try:
            return pc.cast(text, TIME)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        values: list[datetime] = []
        for i, t in enumerate(text.to_pylist()):
            try:
                values.append(parse_time(t))
            except (ValueError, TypeError):
                raise self.fail(first_row + i, name, f"{t!r}", expected) from None
        return pa.array(values, TIME)

    def batch(self, batch: pa.RecordBatch, first_row: int) -> Ocel:
        m = self.m
        n = batch.num_rows
        activity = pc.cast(self._column(batch, m.activity), pa.string())
        bad = pc.or_kleene(pc.is_null(activity), pc.equal(activity, ""))
        if pc.any(bad).as_py():
            row = first_row + pc.index(bad, True).as_py()
            raise self.fail(row, m.activity, "no activity", "the name of the step")
        end = self.times(self._column(batch, m.time), m.time, first_row)
        if m.event_id:
            ids = pc.cast(self._column(batch, m.event_id), pa.string())
            if ids.null_count:
                row = first_row + pc.index(pc.is_null(ids), True).as_py()
                raise self.fail(row, m.event_id, "no event id", "a unique event id")
        else:
            rows = pa.array(range(first_row + 1, first_row + n + 1), pa.int64())
            ids = pc.binary_join_element_wise(
                pa.scalar(self.document), pc.cast(rows, pa.string()), "#"
            )
        # (event ids, times, lifecycle) per emitted event set; one set, or start + complete
        sets: list[tuple[pa.Array, pa.Array, str | None]]
        if m.start_time:
            start = self.times(self._column(batch, m.start_time), m.start_time, first_row)
            start_ids = pc.binary_join_element_wise(ids, pa.scalar("start"), "/")
            sets = [(start_ids, start, "start"), (ids, end, "complete")]
        else:
            sets = [(ids, end, None)]

        used = set(m.used_columns())
        names = (
            list(m.attributes)
            if m.attributes is not None
            else [c for c in batch.schema.names if c not in used]
        )
        attr_cols = [(c, self._column(batch, c)) for c in names]
        if m.resource:
            attr_cols.append(
                ("org:resource", pc.cast(self._column(batch, m.resource), pa.string()))
            )

        ev_parts, ea_parts, eo_parts = [], [], []
        new_types: set[str] = set()
        for set_ids, set_times, lifecycle in sets:
            ev_parts.append(pa.Table.from_arrays([set_ids, activity, set_times], schema=EVENTS))
            columns = list(attr_cols)
            if lifecycle:
                columns.append(("lifecycle:transition", pa.array([lifecycle] * n, pa.string())))
            for cname, col in columns:
                vtype = _value_type(col.type)
                valid = pc.is_valid(col)
                text = _as_text(col, vtype)
                ea_parts.append(
                    pa.Table.from_arrays(
                        [
                            pc.filter(set_ids, valid),
                            pa.array([cname] * n, pa.string()).filter(valid),
                            pc.filter(text, valid),
                            pa.array([vtype] * n, pa.string()).filter(valid),
                        ],
                        schema=EVENT_ATTRIBUTES,
                    )
                )
                for act in pc.unique(pc.filter(activity, valid)).to_pylist():
                    known = self.types.setdefault(act, {})
                    if cname not in known:
                        known[cname] = vtype
                        new_types.add(act)
            object_cols = list(m.objects.items())
            if m.resource:
                object_cols.append((m.resource, "resource"))
            for cname, otype in object_cols:
                col = pc.cast(self._column(batch, cname), pa.string())
                valid = pc.and_(pc.is_valid(col), pc.not_equal(col, ""))
                qualifier = m.qualifiers.get(cname, otype)
                targets = pc.filter(col, valid)
                eo_parts.append(
                    pa.Table.from_arrays(
                        [
                            pc.filter(set_ids, valid),
                            targets,
                            pa.array([qualifier] * len(targets), pa.string()),
                        ],
                        names=["ocel_event_id", "ocel_object_id", "ocel_qualifier"],
                    )
                )
        for act in pc.unique(activity).to_pylist():
            if act not in self.types:
                self.types[act] = {}
                new_types.add(act)

        ob_id: list[str] = []
        ob_type: list[str] = []
        object_cols = list(m.objects.items())
        if m.resource:
            object_cols.append((m.resource, "resource"))
        for cname, otype in object_cols:
            col = pc.cast(self._column(batch, cname), pa.string())
            for oid in pc.unique(pc.drop_null(col)).to_pylist():
                if oid == "":
                    continue
                seen = self.objects.get(oid)
                if seen is None:
                    self.objects[oid] = otype
                    ob_id.append(oid)
                    ob_type.append(otype)
                elif seen != otype:
                    row = first_row + pc.index(col, oid).as_py()
                    raise self.fail(
                        row,
                        cname,
                        f"object id {oid!r} is both a {seen} and a {otype}",
                        "object ids unique across object types (OCEL 2.0)",
                    )
        new_object_types = sorted(set(ob_type) - self.object_types)
        self.object_types.update(new_object_types)
        ordered = sorted(new_types)
        return Ocel(
            events=pa.concat_tables(ev_parts),
            event_attributes=pa.concat_tables(ea_parts)
            if ea_parts
            else EVENT_ATTRIBUTES.empty_table(),
            objects=pa.Table.from_arrays(
                [pa.array(ob_id, pa.string()), pa.array(ob_type, pa.string())], schema=OBJECTS
            ),
            event_objects=pa.concat_tables(eo_parts) if eo_parts else EVENT_OBJECTS.empty_table(),
            event_types=pa.Table.from_arrays(
                [
                    pa.array(ordered, pa.string()),
                    pa.array(
                        [
                            [{"name": k, "type": v} for k, v in self.types[a].items()]
                            for a in ordered
                        ],
                        pa.list_(TYPE_ATTRIBUTE),
                    ),
                ],
                schema=EVENT_TYPES,
            ),
            object_types=pa.Table.from_arrays(
                [
                    pa.array(new_object_types, pa.string()),
                    pa.array([[] for _ in new_object_types], pa.list_(TYPE_ATTRIBUTE)),
                ],
                schema=EVENT_TYPES,
            ),
        )


def read_table(
    source: str | Path,
    mapping: ColumnMapping,
    *,
    document: str | None = None,
    batch_size: int = 100_000,
) -> Iterator[Ocel]:
    """Read a CSV or Parquet export as OCEL 2.0 batches of about ``batch_size`` rows.

    Parquet is recognised by its magic bytes (``PAR1``), anything else is read as CSV with a
    header line. Raises :class:`DocumentError` naming the file, the row (for CSV the line, the
    header being line 1), the column and what was expected, on the first row it cannot take.
    """
    path = os.fspath(source)
    name = document if document is not None else path
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise DocumentError.single("Cannot read file", str(exc), document=name) from exc
    is_parquet = magic == b"PAR1"
    reader = _Reader(mapping, name, 0 if is_parquet else 1)
    first_row = 0
    try:
        if is_parquet:
            batches: Iterator[pa.RecordBatch] = pq.ParquetFile(path).iter_batches(
                batch_size=batch_size
            )
        else:
            text_cols = [
                c
                for c in (
                    mapping.activity,
                    mapping.time,
                    mapping.start_time,
                    mapping.event_id,
                    mapping.resource,
                    *mapping.objects,
                )
                if c
            ]
            batches = iter(
                pcsv.open_csv(
                    path,
                    read_options=pcsv.ReadOptions(block_size=max(1 << 20, batch_size * 64)),
                    convert_options=pcsv.ConvertOptions(
                        column_types={c: pa.string() for c in text_cols},
                        strings_can_be_null=True,
                    ),
                )
            )
        while True:
            try:
                rb = next(batches)
            except StopIteration:
                break
            if rb.num_rows == 0:
                continue
            yield reader.batch(rb, first_row)
            first_row += rb.num_rows
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise DocumentError.single(
            "Unreadable table",
            f"after row {first_row}: {exc}",
            document=name,
            expected="a CSV file with a header line, or a Parquet file",
        ) from exc
