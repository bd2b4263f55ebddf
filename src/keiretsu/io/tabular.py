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
from dataclasses import dataclass, field, replace
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

__all__ = ["ColumnMapping", "read_table", "suggest_mapping", "table_columns"]


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

    **Aggregate rows** (so much of a product on a day, not one event per object):
    ``product``: the column naming the product (an object of type ``product``, related with
    qualifier ``epc`` as an EPCIS ``quantityList`` element); ``quantity``: the column with how
    much (kept on that relation, as OCEL's e2o quantity); ``uom``: its unit (text, e.g.
    ``"KGM"``; default pieces). ``kind``: what the row did to the stock — ``produced``,
    ``consumed``, ``shipped``, ``sold`` or ``removed`` — for every row, or per activity
    (``kinds``: activity → kind); ``location``: where (a column, or ``constants``). Such rows
    feed the stock ledger, demand, days of supply and bullwhip; they carry the event attribute
    ``aggregate`` = ``true``. ``wide``: the table has one column per product (its header the
    product, its cells the quantities): every column not named by the mapping is melted into
    (product, quantity) rows; empty and zero cells give no event.

    ``constants``: role → fixed text for roles no column holds, e.g. ``{"activity": "sales
    order", "location": "plant"}`` (in the CLI form a value in quotes).
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
    product: str | None = None
    quantity: str | None = None
    uom: str | None = None
    kind: str | None = None
    kinds: Mapping[str, str] = field(default_factory=dict)
    location: str | None = None
    wide: bool = False
    constants: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for k in (self.kind, *self.kinds.values()):
            if k is not None and k not in KINDS:
                raise ValueError(f"kind {k!r} unknown: use one of {', '.join(KINDS)}")
        for role in self.constants:
            if role not in CONSTANT_ROLES:
                raise ValueError(
                    f"{role}: a fixed text is allowed for {', '.join(CONSTANT_ROLES)} only"
                )
        if self.wide and self.product is not None:
            raise ValueError("a wide table's products are its column headers: drop product=")
        if (self.kind or self.kinds) and not (self.wide or self.product):
            raise ValueError("kind= needs product= and quantity= (or a wide table)")

    @property
    def aggregate(self) -> bool:
        """Whether rows are amounts of a product (aggregate data) rather than single events."""
        return self.wide or self.product is not None

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
        kinds: dict[str, str] = {}
        constants: dict[str, str] = {}
        attributes: tuple[str, ...] | None = None
        wide = False
        for raw in text.split(","):
            item = raw.strip()
            if not item:
                continue
            key, sep, value = item.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not key:
                raise ValueError(f"mapping item {item!r}: expected key=value")
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                constants[key] = value[1:-1]
                continue
            if key.startswith("object:"):
                objects[value] = key[len("object:") :]
            elif key.startswith("kind:"):
                kinds[key[len("kind:") :]] = value
            elif key.startswith("qualifier:"):
                qualifiers[key[len("qualifier:") :]] = value
            elif key == "attributes":
                attributes = tuple(c for c in (v.strip() for v in value.split("|")) if c)
            elif key == "wide":
                if value.lower() not in ("true", "yes", "1"):
                    raise ValueError(f"mapping item {item!r}: wide=true or leave it out")
                wide = True
            elif key in _PLAIN_KEYS:
                values[key] = value
            else:
                raise ValueError(
                    f"mapping key {key!r} unknown: use activity, time, time_format, event_id, "
                    "object:TYPE, qualifier:COLUMN, resource, attributes, start_time, product, "
                    "quantity, uom, kind, kind:ACTIVITY, location, wide"
                )
        for role, value in constants.items():
            if role in ("uom", "kind", "time_format") or role.startswith("kind:"):
                if role.startswith("kind:"):
                    kinds[role[len("kind:") :]] = value
                else:
                    values[role] = value
                continue
            if role not in CONSTANT_ROLES:
                raise ValueError(
                    f"{role}={value!r}: a fixed text (in quotes) is allowed for "
                    f"{', '.join(CONSTANT_ROLES)}, uom and kind only"
                )
        constants = {k: v for k, v in constants.items() if k in CONSTANT_ROLES}
        if "activity" not in values and "activity" not in constants and not wide:
            raise ValueError('mapping needs activity=COLUMN (or activity="TEXT")')
        if "time" not in values:
            raise ValueError("mapping needs time=COLUMN")
        return cls(
            activity=values.get("activity", ""),
            time=values["time"],
            time_format=values.get("time_format"),
            event_id=values.get("event_id"),
            objects=objects,
            qualifiers=qualifiers,
            resource=values.get("resource"),
            attributes=attributes,
            start_time=values.get("start_time"),
            product=values.get("product"),
            quantity=values.get("quantity"),
            uom=values.get("uom"),
            kind=values.get("kind"),
            kinds=kinds,
            location=values.get("location"),
            wide=wide,
            constants=constants,
        )

    def used_columns(self) -> list[str]:
        """The columns the mapping gives a role other than plain attribute."""
        cols = [self.time, *self.objects]
        cols += [
            c
            for role, c in (
                ("activity", self.activity),
                ("event_id", self.event_id),
                ("resource", self.resource),
                ("start_time", self.start_time),
                ("product", self.product),
                ("quantity", self.quantity),
                ("location", self.location),
            )
            if c and role not in self.constants
        ]
        return cols


KINDS: dict[str, tuple[str, str, str | None]] = {
    "produced": ("epc", "ADD", None),
    "consumed": ("input", "OBSERVE", None),
    "shipped": ("epc", "OBSERVE", "in_transit"),
    "sold": ("epc", "OBSERVE", "retail_sold"),
    "removed": ("epc", "DELETE", None),
}
"""What an aggregate row did to the stock → (qualifier of the product, EPCIS ``action``,
``disposition``): the facts the stock ledger (:mod:`keiretsu.analytics.inventory`) reads."""

CONSTANT_ROLES = ("activity", "location")
"""Roles a mapping may give as a fixed text instead of a column."""

AGGREGATE_ATTRIBUTE = "aggregate"
"""Event attribute (``"true"``) on every event read from an aggregate row."""

_PLAIN_KEYS = (
    "activity",
    "time",
    "time_format",
    "event_id",
    "resource",
    "start_time",
    "product",
    "quantity",
    "uom",
    "kind",
    "location",
)
_PRODUCT = "product"
_WIDE_PRODUCT = "__keiretsu_product"
_WIDE_QUANTITY = "__keiretsu_quantity"
_WIDE_ID = "__keiretsu_event_id"


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
        self.given = mapping
        if mapping.wide:
            # the melted table: its product, quantity and event id columns (see _melt)
            mapping = replace(
                mapping,
                wide=False,
                product=_WIDE_PRODUCT,
                quantity=_WIDE_QUANTITY,
                event_id=_WIDE_ID,
                constants={**mapping.constants},
            )
        if not mapping.activity and "activity" not in mapping.constants:
            # a wide table without an activity: the file's name says what it holds
            stem = Path(document).name.split(".")[0].strip() or "event"
            mapping = replace(mapping, constants={**mapping.constants, "activity": stem})
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

    def _melt(self, batch: pa.RecordBatch, first_row: int) -> pa.RecordBatch:
        """A wide table's block as long rows: one per (row, product column) with a quantity
        other than empty or zero; the columns the mapping names are kept."""
        used = set(self.given.used_columns())
        keep = [c for c in batch.schema.names if c in used]
        melt = [c for c in batch.schema.names if c not in used]
        if self.given.attributes is not None:
            melt = [c for c in melt if c not in self.given.attributes]
            keep += [c for c in self.given.attributes if c in batch.schema.names]
        if not melt:
            raise DocumentError.single(
                "No product columns",
                "a wide table has one column per product, but every column has a role in the "
                f"mapping (columns: {', '.join(batch.schema.names)})",
                document=self.document,
                expected="columns beside the time (and other mapped) columns, one per product",
            )
        rows = pa.array(range(first_row + 1, first_row + batch.num_rows + 1), pa.int64())
        base = (
            pc.cast(batch.column(batch.schema.get_field_index(self.given.event_id)), pa.string())
            if self.given.event_id
            else pc.binary_join_element_wise(
                pa.scalar(self.document), pc.cast(rows, pa.string()), "#"
            )
        )
        parts = []
        for name in melt:
            col = batch.column(batch.schema.get_field_index(name))
            try:
                q = pc.cast(col, pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                bad = next(
                    i
                    for i, v in enumerate(col.to_pylist())
                    if v not in (None, "") and not _is_number(v)
                )
                raise self.fail(
                    first_row + bad, name, f"{col[bad].as_py()!r} is not a quantity", "a number"
                ) from None
            mask = pc.and_(pc.is_valid(q), pc.not_equal(q, 0.0)).fill_null(False)
            k = pc.sum(mask.cast(pa.int64())).as_py() or 0
            if not k:
                continue
            arrays = [pc.filter(batch.column(batch.schema.get_field_index(c)), mask) for c in keep]
            arrays += [
                pa.array([name] * k, pa.string()),
                pc.filter(q, mask),
                pc.binary_join_element_wise(pc.filter(base, mask), pa.scalar(name), "/"),
            ]
            parts.append(
                pa.Table.from_arrays(arrays, names=[*keep, _WIDE_PRODUCT, _WIDE_QUANTITY, _WIDE_ID])
            )
        if not parts:
            fields = [batch.schema.field(c) for c in keep]
            fields += [
                pa.field(_WIDE_PRODUCT, pa.string()),
                pa.field(_WIDE_QUANTITY, pa.float64()),
                pa.field(_WIDE_ID, pa.string()),
            ]
            return pa.RecordBatch.from_pylist([], schema=pa.schema(fields))
        table = pa.concat_tables(parts)
        return table.combine_chunks().to_batches()[0]

    def _text(self, batch: pa.RecordBatch, role: str, column: str | None) -> pa.Array | None:
        """A role's values: its fixed text repeated, its column as text, or None."""
        if role in self.m.constants:
            return pa.array([self.m.constants[role]] * batch.num_rows, pa.string())
        if not column:
            return None
        return pc.cast(self._column(batch, column), pa.string())

    def batch(self, batch: pa.RecordBatch, first_row: int) -> Ocel | None:
        if self.given.wide:
            batch = self._melt(batch, first_row)
            if batch.num_rows == 0:
                return None
        m = self.m
        n = batch.num_rows
        activity = self._text(batch, "activity", m.activity)
        assert activity is not None
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

        # the objects each row touches: (ids, type, qualifier, quantity, uom)
        touched: list[tuple[pa.Array, str, str, pa.Array | None, str | None]] = []
        for cname, otype in m.objects.items():
            col = pc.cast(self._column(batch, cname), pa.string())
            touched.append((col, otype, m.qualifiers.get(cname, otype), None, None))
        if m.resource:
            col = pc.cast(self._column(batch, m.resource), pa.string())
            touched.append((col, "resource", m.qualifiers.get(m.resource, "resource"), None, None))
        if m.aggregate:
            attr_cols += self._aggregate(batch, activity, first_row, touched)

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
            for col, _otype, qualifier, quantity, uom in touched:
                valid = pc.and_(pc.is_valid(col), pc.not_equal(col, "")).fill_null(False)
                targets = pc.filter(col, valid)
                k = len(targets)
                eo_parts.append(
                    pa.Table.from_arrays(
                        [
                            pc.filter(set_ids, valid),
                            targets,
                            pa.array([qualifier] * k, pa.string()),
                            pc.filter(quantity, valid)
                            if quantity is not None
                            else pa.nulls(k, pa.float64()),
                            pa.array([uom] * k, pa.string()),
                        ],
                        schema=EVENT_OBJECTS,
                    )
                )
        for act in pc.unique(activity).to_pylist():
            if act not in self.types:
                self.types[act] = {}
                new_types.add(act)

        ob_id: list[str] = []
        ob_type: list[str] = []
        for col, otype, _q, _quantity, _uom in touched:
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
                        _column_of(m, otype),
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

    def _aggregate(
        self,
        batch: pa.RecordBatch,
        activity: pa.Array,
        first_row: int,
        touched: list[tuple[pa.Array, str, str, pa.Array | None, str | None]],
    ) -> list[tuple[str, pa.Array]]:
        """Aggregate rows: the product with its quantity, the location, and the EPCIS facts of
        the row's kind (the stock ledger's reading); returns the event attributes to add."""
        m = self.m
        n = batch.num_rows
        product = self._text(batch, "product", m.product)
        assert product is not None
        if m.quantity:
            qcol = self._column(batch, m.quantity)
            try:
                quantity = pc.cast(qcol, pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                values = qcol.to_pylist()
                bad = next(i for i, v in enumerate(values) if v is not None and not _is_number(v))
                raise self.fail(
                    first_row + bad, m.quantity, f"{values[bad]!r} is not a quantity", "a number"
                ) from None
        else:
            quantity = pa.nulls(n, pa.float64())
        acts = activity.to_pylist()
        kinds = [m.kinds.get(a, m.kind) for a in acts]
        missing = [a for a, k in zip(acts, kinds, strict=True) if k is None]
        if (m.kind or m.kinds) and missing:
            raise self.fail(
                first_row + acts.index(missing[0]),
                m.activity or "activity",
                f"no kind for activity {missing[0]!r} (kinds given for: "
                f"{', '.join(sorted(m.kinds)) or 'none'})",
                "kind:ACTIVITY=produced|consumed|shipped|sold|removed, or one kind= for all",
            )
        facts = [KINDS[k] if k else ("epc", None, None) for k in kinds]
        qualifiers = pa.array([f[0] for f in facts], pa.string())
        # one relation set per qualifier used (usually one)
        for qualifier in sorted(set(qualifiers.to_pylist())):
            mask = pc.equal(qualifiers, qualifier)
            ids = pc.if_else(mask, product, pa.nulls(n, pa.string()))
            touched.append((ids, _PRODUCT, qualifier, quantity, m.uom))
        location = self._text(batch, "location", m.location)
        if location is not None:
            touched.append((location, "location", "bizLocation", None, None))
        attrs: list[tuple[str, pa.Array]] = [
            (AGGREGATE_ATTRIBUTE, pa.array(["true"] * n, pa.string()))
        ]
        if m.kind or m.kinds:
            attrs += [
                ("eventType", pa.array(["ObjectEvent"] * n, pa.string())),
                ("action", pa.array([f[1] for f in facts], pa.string())),
                ("disposition", pa.array([f[2] for f in facts], pa.string())),
            ]
        return attrs


def _is_number(value: object) -> bool:
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def _column_of(m: ColumnMapping, otype: str) -> str:
    """The column whose objects are of ``otype`` (for a message)."""
    for cname, t in m.objects.items():
        if t == otype:
            return cname
    return {"product": m.product or "product", "location": m.location or "location"}.get(
        otype, m.resource or otype
    )


def read_table(
    source: str | Path,
    mapping: ColumnMapping | None = None,
    *,
    document: str | None = None,
    batch_size: int = 100_000,
) -> Iterator[Ocel]:
    """Read a CSV or Parquet export as OCEL 2.0 batches of about ``batch_size`` rows.

    Parquet is recognised by its magic bytes (``PAR1``), anything else is read as CSV with a
    header line. Raises :class:`DocumentError` naming the file, the row (for CSV the line, the
    header being line 1), the column and what was expected, on the first row it cannot take.
    Without a ``mapping`` it raises a :class:`DocumentError` naming the columns the file has
    and suggesting a mapping (:func:`suggest_mapping`).
    """
    path = os.fspath(source)
    name = document if document is not None else path
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise DocumentError.single("Cannot read file", str(exc), document=name) from exc
    is_parquet = magic == b"PAR1"
    if mapping is None:
        columns = table_columns(path)
        raise DocumentError.single(
            "No column mapping",
            "a table needs a mapping saying which column is the activity, which the time and "
            f"which name objects; this file's columns: {', '.join(columns) or 'none'}. "
            f"Try: --map '{suggest_mapping(columns, document=name)}'",
            document=name,
            expected="a mapping (--map 'activity=COLUMN,time=COLUMN,object:TYPE=COLUMN'; "
            "see docs/formats/tabular.md)",
            type="no-mapping",
        )
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
            ocel = reader.batch(rb, first_row)
            first_row += rb.num_rows
            if ocel is not None:
                yield ocel
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise DocumentError.single(
            "Unreadable table",
            f"after row {first_row}: {exc}",
            document=name,
            expected="a CSV file with a header line, or a Parquet file",
        ) from exc


def table_columns(source: str | Path) -> list[str]:
    """The column names of a CSV (its header line) or Parquet file."""
    path = os.fspath(source)
    with open(path, "rb") as fh:
        magic = fh.read(4)
    try:
        if magic == b"PAR1":
            return list(pq.ParquetFile(path).schema_arrow.names)
        reader = pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=1 << 16))
        return list(reader.schema.names)
    except (pa.ArrowInvalid, OSError):
        return []


_ACTIVITY_HINTS = ("activity", "step", "event", "action", "status", "task", "operation")
_TIME_HINTS = ("timestamp", "time", "date", "datetime", "ts", "when")


def suggest_mapping(columns: list[str], *, document: str = "") -> str:
    """A starting mapping for a table with these columns, guessed from their names: the
    activity (``step``, ``activity``…), the time (``timestamp``, ``date``…), and the id columns
    (``…_id``) as objects. A table with a date and many other columns is taken as wide (one
    column per product): ``time=<date>,kind=sold,location="…",wide=true``."""

    def find(hints: tuple[str, ...]) -> str | None:
        low = {c.lower().strip(): c for c in columns}
        for h in hints:
            if h in low:
                return low[h]
        for h in hints:
            for k, c in low.items():
                if h in k:
                    return c
        return None

    time = find(_TIME_HINTS) or "TIME_COLUMN"
    activity = find(_ACTIVITY_HINTS)
    ids = [
        c
        for c in columns
        if c not in (time, activity)
        and (c.lower().endswith(("_id", " id", "id")) or c.lower() in ("case", "order"))
    ]
    if activity is None and len(columns) > 3 and not ids:
        stem = Path(document).name.split(".")[0].strip() if document else "sales"
        return f'time={time},activity="{stem}",kind=sold,location="SITE",wide=true'
    parts = [f"activity={activity or 'ACTIVITY_COLUMN'}", f"time={time}"]
    for c in ids[:3]:
        otype = c.lower().removesuffix("_id").removesuffix(" id").removesuffix("id").strip("_ ")
        parts.append(f"object:{otype or 'object'}={c}")
    if not ids:
        parts.append("object:TYPE=ID_COLUMN")
    return ",".join(parts)
