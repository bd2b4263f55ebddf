"""Storing, hashing, querying and rendering agree on every EPC scheme.

A partner may write one thing as an EPC URI, another partner as a GS1 Digital Link (on its own
domain, escaped its own way). For every scheme of the GS1 EPC Tag Data Standard, an event
naming a random EPC is sent in each spelling, and:

* **storing** (the EPCIS → OCEL mapping) gives the object the one canonical Digital Link, the
  same for both spellings and equal to the one ``tests/_gs1.py`` computes on its own;
* **hashing** (the CBV 2.0 event hash) gives both spellings of the event the same id, so the
  second is recognised as the same event and stored once;
* **querying** (``MATCH_epc`` / ``MATCH_anyEPC``, or the class forms for a class) in either
  spelling finds the event;
* **rendering** the stored rows back to EPCIS gives an identifier that reads back to the same
  canonical form, in ``epcList`` for a thing and in ``quantityList`` for a class.
"""

from __future__ import annotations

import io
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _gs1 import SCHEMES, epcs
from keiretsu.io.epcis import read_epcis
from keiretsu.io.epcis.hash import event_hash_id
from keiretsu.model.gs1 import canonical_id
from keiretsu.node.epcis_query import epcis_from_ocel, event_ocel, parse_query, select_events
from keiretsu.store import Store

_START = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)
_COUNTER = itertools.count()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return Store(tmp_path_factory.mktemp("gs1") / "twin.duckdb")


def _event(identifier: str, is_class: bool, when: datetime) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": when.isoformat(timespec="milliseconds"),
        "eventTimeZoneOffset": "+00:00",
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
    }
    if is_class:
        event["quantityList"] = [{"epcClass": identifier, "quantity": 2.0, "uom": "EA"}]
    else:
        event["epcList"] = [identifier]
    return event


def _document(event: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2024-03-04T10:00:00Z",
            "epcisBody": {"eventList": [event]},
        }
    )


def _store(store: Store, event: dict[str, Any], name: str) -> tuple[str, list[str]]:
    """Store a one-event document; (the event's id, the ids of the objects its EPCs or
    classes became)."""
    batches = list(read_epcis(io.BytesIO(_document(event)), document=name))
    rows = [r for b in batches for r in b.event_objects.to_pylist()]
    store.ingest(iter(batches), document=name)
    (event_id,) = {r["ocel_event_id"] for r in rows}
    return event_id, [r["ocel_object_id"] for r in rows if r["ocel_qualifier"] == "epc"]


def _found(store: Store, params: dict[str, str]) -> list[str]:
    return select_events(store.con, parse_query(params), limit=100).event_ids


@pytest.mark.parametrize("scheme", SCHEMES)
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_storing_hashing_querying_and_rendering_agree(
    store: Store, scheme: str, data: st.DataObject
) -> None:
    epc = data.draw(epcs((scheme,)), label="epc")
    when = _START + timedelta(seconds=next(_COUNTER))
    as_urn = _event(epc.urn, epc.is_class, when)
    as_link = _event(epc.link, epc.is_class, when)

    # hashing: one event, however the partner spelled its EPC
    assert event_hash_id(as_urn, {}) == event_hash_id(as_link, {})

    # storing: one canonical object, the event stored once
    urn_event, urn_objects = _store(store, as_urn, f"urn-{when.timestamp()}.json")
    link_event, link_objects = _store(store, as_link, f"link-{when.timestamp()}.json")
    assert urn_event == link_event == event_hash_id(as_urn, {})
    assert urn_objects == link_objects == [epc.canonical]
    stored = store.con.execute(
        "SELECT count(*) FROM ocel_event WHERE ocel_id = ?", [urn_event]
    ).fetchone()
    assert stored == (1,)

    # querying, in either spelling
    match, match_any = (
        ("MATCH_epcClass", "MATCH_anyEPCClass") if epc.is_class else ("MATCH_epc", "MATCH_anyEPC")
    )
    for spelling in (epc.urn, epc.link, epc.canonical):
        for parameter in (match, match_any):
            assert urn_event in _found(store, {parameter: spelling}), (parameter, spelling)

    # rendering the stored rows (what a partner gets): an id that reads back the same
    (rendered,) = epcis_from_ocel(event_ocel(store.con, [urn_event]))
    if epc.is_class:
        named = [q["epcClass"] for q in rendered["quantityList"]]
        assert "epcList" not in rendered or not rendered["epcList"]
    else:
        named = rendered["epcList"]
    assert [canonical_id(n) for n in named] == [epc.canonical]
