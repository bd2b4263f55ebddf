"""Copies of a log for the benchmarks: the same events and objects with ids made distinct per
copy (a suffix on every event and object id; nothing else changed)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.model import Ocel

ID_COLUMNS = {
    "events": ["ocel_id"],
    "event_attributes": ["ocel_id"],
    "objects": ["ocel_id"],
    "object_attributes": ["ocel_id"],
    "event_objects": ["ocel_event_id", "ocel_object_id"],
    "object_objects": ["ocel_source_id", "ocel_target_id"],
    "source_events": ["ocel_id"],
}
"""Per table of :class:`Ocel`, the columns that hold an event or object id."""


def suffixed(ocel: Ocel, suffix: str) -> Ocel:
    """The same batch with every event and object id ending in ``suffix``."""
    tables = {}
    for name, table in ocel.tables().items():
        for column in ID_COLUMNS.get(name, []):
            i = table.column_names.index(column)
            ids = pc.binary_join_element_wise(table.column(column), pa.scalar(suffix), "")
            table = table.set_column(i, table.field(i), ids)
        tables[name] = table
    return Ocel(**tables)
