"""Synthetic EPCIS 2.0 documents of a two-company supply chain, for benchmarks and load tests.

The chain: a manufacturer (GS1 Company Prefix 4012345) receives raw material at its plant by
weight (a class-level quantity: so many kilograms of a lot), commissions serialised trade items
under a production order (with lot master data as ILMD), packs them onto a pallet (SSCC) and
ships the pallet to a retailer's distribution centre (GCP 0614141) against a purchase order and
a despatch advice; the DC receives it. Each pallet cycle is five events::

    receiving (raw material, kg)  →  commissioning (items, ILMD)  →  packing (items → pallet)
        →  shipping (pallet, PO + DESADV, plant → DC)  →  receiving at the DC

Events are written one at a time, so a million-event document never sits in memory. The same
seed gives the same document, byte for byte, in JSON and (event for event) in XML.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import orjson

from keiretsu.io.epcis._xml_fields import BASE_FIELDS, EVENT_SEQUENCES
from keiretsu.model import cbv

__all__ = ["synthetic_events", "write_synthetic_epcis_json", "write_synthetic_epcis_xml"]

_PLANT_TZ = timezone(timedelta(hours=1))
_DC_TZ = timezone(timedelta(hours=2))
_PLANT = "urn:epc:id:sgln:4012345.00001.0"
_PLANT_DOCK = "urn:epc:id:sgln:4012345.00001.12"
_PLANT_LINE = "urn:epc:id:sgln:4012345.00001.3"
_DC = "urn:epc:id:sgln:0614141.00002.0"
_DC_DOCK = "urn:epc:id:sgln:0614141.00002.5"
_MAKER = "urn:epc:id:pgln:4012345.00000"
_RETAILER = "urn:epc:id:pgln:0614141.00000"
_PRODUCTS = ("011111", "022222", "033333", "044444")  # item references (indicator digit 0)
_RAW_MATERIAL = "4012345.055555"


def _time(at: datetime, tz: timezone) -> tuple[str, str]:
    local = at.astimezone(tz)
    offset = local.strftime("%z")
    return local.isoformat(timespec="milliseconds"), f"{offset[:3]}:{offset[3:]}"


def synthetic_events(
    n_events: int,
    *,
    seed: int = 0,
    with_event_ids: bool = True,
    items_per_pallet: int = 12,
    start: datetime | None = None,
) -> Iterator[dict[str, Any]]:
    """The chain's events in the EPCIS 2.0 JSON binding form, pallet cycle by pallet cycle
    (cycles overlap in time, as at a real plant). ``start`` is when the first cycle begins
    (default 2024-03-04 06:00 UTC): a stream of documents, each later than the one before,
    is what a node receives as the days go by."""
    rng = random.Random(seed)
    clock = start or datetime(2024, 3, 4, 6, 0, tzinfo=UTC)
    # a pallet cycle is ~15 events, one every 5-40 minutes; squeeze big documents so the whole
    # chain ends well before today (EPCIS refuses event times in the future)
    pace = min(1.0, 40_000 / max(1, n_events))
    serial = 100000
    made = 0

    def stamp(event: dict[str, Any], at: datetime, tz: timezone) -> dict[str, Any]:
        event["eventTime"], event["eventTimeZoneOffset"] = _time(at, tz)
        if with_event_ids:
            event["eventID"] = f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        return event

    cycle = 0
    while made < n_events:
        cycle += 1
        order = f"{cbv.BT_URN}4012345000009:PRD-{cycle // 4:07d}"
        po = f"{cbv.BT_URN}0614141000005:PO-{cycle // 2:07d}"
        desadv = f"{cbv.BT_URN}4012345000009:DA-{cycle:07d}"
        lot = f"L{cycle // 4:06d}"
        product = _PRODUCTS[cycle % len(_PRODUCTS)]
        sscc = f"urn:epc:id:sscc:4012345.0{cycle % 1_000_000_000:09d}"
        items = [
            f"urn:epc:id:sgtin:4012345.{product}.{serial + k}" for k in range(items_per_pallet)
        ]
        serial += items_per_pallet
        clock += timedelta(minutes=rng.randint(5, 40) * pace)
        kg = round(rng.uniform(200, 600), 1)
        cycle_events: list[tuple[dict[str, Any], datetime, timezone]] = [
            (
                {
                    "type": "ObjectEvent",
                    "action": "OBSERVE",
                    "bizStep": "receiving",
                    "disposition": "in_progress",
                    "readPoint": {"id": _PLANT_DOCK},
                    "bizLocation": {"id": _PLANT},
                    "quantityList": [
                        {
                            "epcClass": f"urn:epc:class:lgtin:{_RAW_MATERIAL}.R{cycle // 8:05d}",
                            "quantity": kg,
                            "uom": "KGM",
                        }
                    ],
                },
                clock,
                _PLANT_TZ,
            ),
            (
                {
                    "type": "ObjectEvent",
                    "epcList": items,
                    "action": "ADD",
                    "bizStep": "commissioning",
                    "disposition": "active",
                    "readPoint": {"id": _PLANT_LINE},
                    "bizLocation": {"id": _PLANT},
                    "bizTransactionList": [{"type": "prodorder", "bizTransaction": order}],
                    "ilmd": {
                        "cbvmda:lotNumber": lot,
                        "cbvmda:itemExpirationDate": (clock + timedelta(days=180)).strftime(
                            "%Y-%m-%d"
                        ),
                    },
                },
                clock + timedelta(minutes=rng.randint(30, 90)),
                _PLANT_TZ,
            ),
        ]
        packed = cycle_events[-1][1] + timedelta(minutes=rng.randint(5, 30))
        shipped = packed + timedelta(hours=rng.uniform(2, 48))
        received = shipped + timedelta(hours=rng.uniform(6, 30))
        route = {
            "sourceList": [
                {"type": "owning_party", "source": _MAKER},
                {"type": "location", "source": _PLANT},
            ],
            "destinationList": [
                {"type": "owning_party", "destination": _RETAILER},
                {"type": "location", "destination": _DC},
            ],
        }
        paperwork = [
            {"type": "po", "bizTransaction": po},
            {"type": "desadv", "bizTransaction": desadv},
        ]
        cycle_events += [
            (
                {
                    "type": "AggregationEvent",
                    "parentID": sscc,
                    "childEPCs": items,
                    "action": "ADD",
                    "bizStep": "packing",
                    "disposition": "in_progress",
                    "readPoint": {"id": _PLANT_LINE},
                    "bizLocation": {"id": _PLANT},
                },
                packed,
                _PLANT_TZ,
            ),
            (
                {
                    "type": "ObjectEvent",
                    "epcList": [sscc],
                    "action": "OBSERVE",
                    "bizStep": "shipping",
                    "disposition": "in_transit",
                    "readPoint": {"id": _PLANT_DOCK},
                    "bizTransactionList": paperwork,
                    **route,
                },
                shipped,
                _PLANT_TZ,
            ),
            (
                {
                    "type": "ObjectEvent",
                    "epcList": [sscc],
                    "action": "OBSERVE",
                    "bizStep": "receiving",
                    "disposition": "in_progress",
                    "readPoint": {"id": _DC_DOCK},
                    "bizLocation": {"id": _DC},
                    "bizTransactionList": paperwork,
                    **route,
                },
                received,
                _DC_TZ,
            ),
        ]
        for event, at, tz in cycle_events:
            if made >= n_events:
                return
            made += 1
            yield stamp(event, at, tz)


def _creation_date(seed: int) -> str:
    return (
        (datetime(2024, 3, 1, tzinfo=UTC) + timedelta(seconds=seed))
        .isoformat()
        .replace("+00:00", "Z")
    )


def write_synthetic_epcis_json(
    path: str | Path,
    n_events: int,
    *,
    seed: int = 0,
    with_event_ids: bool = True,
    start: datetime | None = None,
) -> Path:
    """Write an EPCIS 2.0 JSON-LD document of ``n_events`` events of the chain to ``path``."""
    path = Path(path)
    with path.open("wb") as f:
        f.write(
            b'{"@context":["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],'
            b'"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"'
            + _creation_date(seed).encode()
            + b'","epcisBody":{"eventList":[\n'
        )
        first = True
        for event in synthetic_events(
            n_events, seed=seed, with_event_ids=with_event_ids, start=start
        ):
            if not first:
                f.write(b",\n")
            first = False
            f.write(orjson.dumps(event))
        f.write(b"\n]}}\n")
    return path


# --- XML ---------------------------------------------------------------------------------------

# XML documents write CBV terms as their EPCglobal URNs.
_CBV = {"bizStep": cbv.BIZ_STEPS.urn, "disposition": cbv.DISPOSITIONS.urn}
_BTT = cbv.BIZ_TRANSACTION_TYPES.urn
_SDT = cbv.SOURCE_DEST_TYPES.urn


def _xml_event(event: dict[str, Any]) -> str:
    kind = event["type"]
    out = [f"<{kind}><eventTime>{event['eventTime']}</eventTime>"]
    out.append(f"<eventTimeZoneOffset>{event['eventTimeZoneOffset']}</eventTimeZoneOffset>")
    if "eventID" in event:
        out.append(f"<eventID>{escape(event['eventID'])}</eventID>")
    for key in EVENT_SEQUENCES[kind][len(BASE_FIELDS) :]:  # the XSD's order
        value = event.get(key)
        if value is None:
            continue
        if key in ("epcList", "childEPCs"):
            out.append(f"<{key}>" + "".join(f"<epc>{escape(e)}</epc>" for e in value) + f"</{key}>")
        elif key in ("quantityList", "childQuantityList"):
            out.append(f"<{key}>")
            for q in value:
                out.append(
                    f"<quantityElement><epcClass>{escape(q['epcClass'])}</epcClass>"
                    f"<quantity>{q['quantity']!r}</quantity><uom>{q['uom']}</uom>"
                    "</quantityElement>"
                )
            out.append(f"</{key}>")
        elif key in ("readPoint", "bizLocation"):
            out.append(f"<{key}><id>{escape(value['id'])}</id></{key}>")
        elif key == "bizTransactionList":
            out.append("<bizTransactionList>")
            for bt in value:
                t = quoteattr(_BTT + bt["type"])
                out.append(
                    f"<bizTransaction type={t}>{escape(bt['bizTransaction'])}</bizTransaction>"
                )
            out.append("</bizTransactionList>")
        elif key in ("sourceList", "destinationList"):
            tag = key[: -len("List")]
            out.append(f"<{key}>")
            for sd in value:
                out.append(f"<{tag} type={quoteattr(_SDT + sd['type'])}>{escape(sd[tag])}</{tag}>")
            out.append(f"</{key}>")
        elif key == "ilmd":
            out.append(
                "<ilmd>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in value.items()) + "</ilmd>"
            )
        elif key in _CBV:
            out.append(f"<{key}>{_CBV[key]}{value}</{key}>")
        else:
            out.append(f"<{key}>{escape(str(value))}</{key}>")
    out.append(f"</{kind}>\n")
    return "".join(out)


def write_synthetic_epcis_xml(
    path: str | Path, n_events: int, *, seed: int = 0, with_event_ids: bool = True
) -> Path:
    """Write the same chain as :func:`write_synthetic_epcis_json` as an EPCIS 2.0 XML document."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as f:
        f.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" '
            f'xmlns:cbvmda="{cbv.CBVMDA_URN.rstrip(":")}" schemaVersion="2.0" '
            f'creationDate="{_creation_date(seed)}">\n<EPCISBody><EventList>\n'
        )
        for event in synthetic_events(n_events, seed=seed, with_event_ids=with_event_ids):
            f.write(_xml_event(event))
        f.write("</EventList></EPCISBody>\n</epcis:EPCISDocument>\n")
    return path
