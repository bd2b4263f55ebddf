"""Events a partner pushed are kept under that partner's name, apart from the node's own.

A partner's push must never touch the node's own events: an id it sends must not collide with
a local event (or be taken before the node captures its own event under that id), a
correction it sends must not mark a local event as corrected, and the answer to its push must
not tell it which ids the node already holds. So each event a partner pushes is stored under
an id of that partner's own namespace, ``urn:keiretsu:from:<partner>:<the id as sent>``:

* de-duplication happens within the partner's namespace (a retried push is "known"; the same
  id from another partner, or from the node's own capture, is another event);
* a partner's correction (an error declaration on an event id it sent before) finds and marks
  only that partner's own event;
* a document of the node's own may not use the namespace (:func:`check_own_ids` refuses it),
  so nothing of its own can ever be taken for a partner's event, or the other way round.

Objects are shared across companies by their identifiers (a pallet's SSCC is the same pallet
at the plant and at the distribution centre), so object ids are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

from keiretsu.model.errors import DocumentError, Problem
from keiretsu.model.ocel import Ocel

__all__ = ["RECEIVED_PREFIX", "check_own_ids", "from_partner", "received_id"]

RECEIVED_PREFIX = "urn:keiretsu:from:"
"""The start of every id of an event a partner pushed (reserved: refused in own documents)."""


def received_id(partner: str, event_id: str) -> str:
    """The id the node keeps ``partner``'s event ``event_id`` under."""
    return f"{RECEIVED_PREFIX}{partner}:{event_id}"


def _prefixed(column: pa.ChunkedArray | pa.Array, prefix: str) -> pa.Array:
    return pc.binary_join_element_wise(pa.scalar(prefix), column, "")


def from_partner(batches: Iterable[Ocel], partner: str) -> Iterator[Ocel]:
    """``batches`` of a partner's push with every event id moved into the partner's
    namespace (events, their attributes and relations)."""
    prefix = f"{RECEIVED_PREFIX}{partner}:"
    for batch in batches:
        events = batch.events.set_column(
            0, "ocel_id", _prefixed(batch.events.column("ocel_id"), prefix)
        )
        attributes = batch.event_attributes
        attributes = attributes.set_column(
            0, "ocel_id", _prefixed(attributes.column("ocel_id"), prefix)
        )
        relations = batch.event_objects
        relations = relations.set_column(
            0, "ocel_event_id", _prefixed(relations.column("ocel_event_id"), prefix)
        )
        sources = batch.source_events
        sources = sources.set_column(0, "ocel_id", _prefixed(sources.column("ocel_id"), prefix))
        yield Ocel(
            events=events,
            event_attributes=attributes,
            objects=batch.objects,
            object_attributes=batch.object_attributes,
            event_objects=relations,
            object_objects=batch.object_objects,
            event_types=batch.event_types,
            object_types=batch.object_types,
            source_events=sources,
        )


def check_own_ids(batch: Ocel, document: str) -> None:
    """Refuse a document of the node's own that names an event in a partner's namespace."""
    ids = batch.events.column("ocel_id")
    taken = pc.starts_with(ids, RECEIVED_PREFIX)
    if pc.any(taken).as_py():
        index = int(pc.index(taken, True).as_py())
        raise DocumentError(
            [
                Problem(
                    title="Reserved event id",
                    detail=(
                        f"event id {ids[index].as_py()!r} starts with {RECEIVED_PREFIX!r}, which "
                        "this node keeps for events its partners pushed"
                    ),
                    type="validation",
                    document=document,
                    event_index=index,
                    field="/eventID",
                    expected=f"an event id not starting with {RECEIVED_PREFIX}",
                )
            ]
        )
