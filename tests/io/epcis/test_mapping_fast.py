"""The mapping's shortcuts (whole-list EPC conversion, per-document memory) give exactly what
the one-at-a-time way gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keiretsu.io.epcis import read_epcis
from keiretsu.io.epcis._types import DocumentHeader, RawEvent
from keiretsu.io.epcis.mapping import map_event
from keiretsu.io.epcis.synth import synthetic_events, write_synthetic_epcis_json
from keiretsu.model.errors import DocumentError
from keiretsu.model.gs1 import identify, identify_all
from keiretsu.model.ocel import Ocel, OcelBuilder, parse_time

HEADS = [
    "urn:epc:id:sgtin:4012345.011111",
    "urn:epc:id:sgtin:0614141.107346",
    "urn:epc:class:lgtin:4012345.022222",
    "https://id.gs1.org/01/04012345111118/21",
    "https://example.com/shop/01/09506000134352/10",
    "urn:epc:id:sscc:4012345",
    "urn:uuid",
]
SERIALS = st.text(alphabet="AZaz09.-%/é ", min_size=0, max_size=6)


@settings(max_examples=300, deadline=None)
@given(
    head=st.sampled_from(HEADS),
    tails=st.lists(SERIALS, min_size=1, max_size=8),
    sep=st.sampled_from([".", "/", ":"]),
    stray=st.none() | st.sampled_from(["urn:epc:id:sscc:0614141.1234567890", "x", ""]),
)
def test_a_list_converts_as_its_identifiers_one_by_one(
    head: str, tails: list[str], sep: str, stray: str | None
) -> None:
    identify(f"{head}{sep}100")  # make the head known, as the first EPC of a shipment does
    texts = [f"{head}{sep}{t}" for t in tails]
    if stray is not None:
        texts.insert(len(texts) // 2, stray)
    ids, kinds = identify_all(texts)
    assert list(zip(ids, kinds, strict=True)) == [identify(t) for t in texts]


def test_serials_of_one_product_become_digital_links_with_their_serial() -> None:
    texts = [f"urn:epc:id:sgtin:4012345.011111.{n}" for n in range(100, 110)]
    ids, kinds = identify_all(texts)
    assert ids[3] == "https://id.gs1.org/01/04012345111118/21/103"
    assert set(kinds) == {"trade item"}


def _tables(ocel: Ocel) -> dict[str, list[dict[str, object]]]:
    return {name: t.to_pylist() for name, t in ocel.sorted().tables().items()}


def test_two_builders_mapping_in_turn_each_get_every_object() -> None:
    events = list(synthetic_events(60, items_per_pallet=4))
    header = DocumentHeader()
    one, other, alone = OcelBuilder(), OcelBuilder(), OcelBuilder()
    for i, ev in enumerate(events):
        raw = RawEvent(i, ev, f"/e/{i}")
        map_event(one if i % 2 else other, ev["eventID"], raw, header)
        map_event(alone, ev["eventID"], raw, header)
    parts = [one.build(), other.build()]
    reference = alone.build()
    # what one document's memory knows must not stop the other builder emitting an object
    for part in parts:
        related = set(part.event_objects.column("ocel_object_id").to_pylist())
        assert related <= set(part.objects.column("ocel_id").to_pylist())
    together = Ocel.concat(parts)
    assert together.event_objects.num_rows == reference.event_objects.num_rows
    assert set(together.objects.column("ocel_id").to_pylist()) == set(
        reference.objects.column("ocel_id").to_pylist()
    )


def test_small_batches_add_up_to_one_big_batch(tmp_path: Path) -> None:
    path = write_synthetic_epcis_json(tmp_path / "chain.json", 300)
    whole = Ocel.concat(read_epcis(path, batch_size=10_000))
    pieces = Ocel.concat(read_epcis(path, batch_size=7))
    a, b = _tables(whole), _tables(pieces)
    for name in ("events", "event_attributes", "event_objects", "object_objects", "objects"):
        assert a[name] == b[name], name
    # ILMD: lot number and expiry date on every commissioned item
    oa = whole.object_attributes.to_pylist()
    items = {r["ocel_id"] for r in oa if r["ocel_name"] == "cbvmda:lotNumber"}
    assert len(items) == 12 * 60


# eventTime goes to the builder as written and is read by Arrow a batch at a time; the
# instants must be those Python reads, whatever the spelling (decimals, offsets, 'Z' or 'z')
TIMES = st.builds(
    lambda day, hms, digits, zone: (
        f"2024-03-{day:02d}T{hms[0]:02d}:{hms[1]:02d}:{hms[2]:02d}{digits}{zone}"
    ),
    st.integers(1, 31),
    st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(0, 59)),
    st.sampled_from(["", ".0", ".5", ".123", ".000001", ".999999", ".1234567", ".123456789"]),
    st.sampled_from(["Z", "z", "+00:00", "-00:00", "+01:00", "-13:59", "+14:00", "+05:30"]),
)


def _event(when: str, i: int) -> dict[str, object]:
    return {
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "eventTime": when,
        "eventTimeZoneOffset": "+01:00",
        "epcList": [f"urn:epc:id:sgtin:4012345.011111.{i}"],
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(TIMES, min_size=1, max_size=6))
def test_event_times_are_the_instants_written(times: list[str]) -> None:
    builder = OcelBuilder()
    for i, when in enumerate(times):
        map_event(builder, f"e{i}", RawEvent(i, _event(when, i), f"/e/{i}"), DocumentHeader())
    got = builder.build().events.column("ocel_time").to_pylist()
    assert got == [parse_time(t) for t in times]


def test_a_date_that_is_no_date_is_refused_at_its_event() -> None:
    raw = RawEvent(4, _event("2024-02-30T10:00:00Z", 4), "/epcisBody/eventList/4")
    with pytest.raises(DocumentError) as err:
        map_event(OcelBuilder(), "x", raw, DocumentHeader())
    p = err.value.problems[0]
    assert (p.title, p.event_index, p.field) == (
        "Invalid eventTime",
        4,
        "/epcisBody/eventList/4/eventTime",
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(st.sampled_from("abcdefghijklmn"), st.sampled_from([None, "lot", "case"])),
            max_size=7,
        ),
        max_size=12,
    )
)
def test_a_list_of_objects_is_added_as_its_objects_one_by_one(
    events: list[list[tuple[str, str | None]]],
) -> None:
    whole, single = OcelBuilder(), OcelBuilder()
    for objects in events:
        whole.add_objects([i for i, _ in objects], [t for _, t in objects], "item")
        for oid, kind in objects:
            single.add_object(oid, kind or "item")
    assert (whole.ob_id, whole.ob_type) == (single.ob_id, single.ob_type)
    built = whole.build().object_types.to_pylist()
    assert built == single.build().object_types.to_pylist()


def test_amounts_stay_on_their_relations_among_many_without() -> None:
    lot_urn = "urn:epc:class:lgtin:4012345.012345.998877"
    lot_link = "https://id.gs1.org/01/04012345123456/10/998877"
    other = "urn:epc:class:lgtin:4012345.012345.L2"
    events = [
        _event("2024-03-04T07:00:00Z", 1),
        {
            **_event("2024-03-04T07:05:00Z", 2),
            "quantityList": [
                {"epcClass": lot_urn, "quantity": 200, "uom": "KGM"},
                {"epcClass": other},
                {"epcClass": lot_link, "quantity": 50.5, "uom": "KGM"},  # the same lot again
            ],
            "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
        },
        _event("2024-03-04T07:10:00Z", 3),
        {**_event("2024-03-04T07:15:00Z", 4), "quantityList": [{"epcClass": other, "quantity": 3}]},
    ]
    builder = OcelBuilder()
    for i, ev in enumerate(events):
        map_event(builder, f"e{i}", RawEvent(i, ev, f"/e/{i}"), DocumentHeader())
    rows = builder.build().event_objects.to_pylist()
    amounts = {
        (r["ocel_event_id"], r["ocel_object_id"]): (r["quantity"], r["uom"])
        for r in rows
        if r["ocel_object_id"] in (lot_link, identify(other)[0])
    }
    assert amounts == {
        ("e1", lot_link): (250.5, "KGM"),
        ("e1", identify(other)[0]): (None, None),
        ("e3", identify(other)[0]): (3.0, None),
    }
    others = [r for r in rows if r["ocel_object_id"] not in (lot_link, identify(other)[0])]
    assert len(others) == 5 and all(r["quantity"] is None and r["uom"] is None for r in others)
