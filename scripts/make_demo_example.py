"""Write the demo's two-company EPCIS 2.0 example (run once; the output is committed).

A tea plant, *Sakura Foods* (GS1 company prefix 4012345), bottles green tea from leaf lots,
inspects, packs the bottles on pallets and ships them to a distributor, *Umeda Distribution*
(prefix 0614141), against the distributor's purchase orders. The distributor receives, unpacks,
stores and ships on to a retailer. The plant writes EPCIS JSON-LD, the distributor XML — as two
real companies would. Both prefixes are the ones GS1 uses in its own examples.

    python scripts/make_demo_example.py src/keiretsu/examples/two-company-chain
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from xml.sax.saxutils import escape

JST = timezone(timedelta(hours=9))
NS = uuid.UUID("6f1c2a52-3c1e-4c55-9d43-6b5f3a9e0001")
PLANT_PARTY = "urn:epc:id:pgln:4012345.00000"
PLANT_SITE = "urn:epc:id:sgln:4012345.00000.0"
PLANT_LINE = "urn:epc:id:sgln:4012345.00000.1"
PLANT_DOCK = "urn:epc:id:sgln:4012345.00000.2"
DC_PARTY = "urn:epc:id:pgln:0614141.00000"
DC_SITE = "urn:epc:id:sgln:0614141.00000.0"
DC_DOCK = "urn:epc:id:sgln:0614141.00000.1"
DC_RACK = "urn:epc:id:sgln:0614141.00000.7"
SHOP_PARTY = "urn:epc:id:pgln:0614141.55555"
SHOP_SITE = "urn:epc:id:sgln:0614141.55555.0"
BOTTLE = "4012345.011111"
LEAF = "4012345.099999"
SHIPMENTS = 4
BOTTLES = 12


def eid(*parts: object) -> str:
    return f"urn:uuid:{uuid.uuid5(NS, '/'.join(map(str, parts)))}"


def t(day: int, hour: int, minute: int = 0) -> str:
    return (datetime(2026, 11, 2, tzinfo=JST) + timedelta(days=day, hours=hour, minutes=minute)).isoformat()


def plant_events() -> list[dict]:
    events = []
    for s in range(SHIPMENTS):
        day = 2 * s
        lot = f"L{26110 + s}"
        bottles = [f"urn:epc:id:sgtin:{BOTTLE}.{s}{i:03d}" for i in range(BOTTLES)]
        pallet = f"urn:epc:id:sscc:4012345.{s + 1:010d}"
        po = f"urn:epcglobal:cbv:bt:0614141000005:PO-{7001 + s}"
        desadv = f"urn:epcglobal:cbv:bt:4012345000009:DESADV-{5001 + s}"
        events.append({
            "type": "TransformationEvent",
            "eventTime": t(day, 6),
            "eventTimeZoneOffset": "+09:00",
            "eventID": eid("bottling", s),
            "inputQuantityList": [{"epcClass": f"urn:epc:class:lgtin:{LEAF}.LEAF{s}", "quantity": 6.0, "uom": "KGM"}],
            "outputEPCList": bottles,
            "bizStep": "commissioning",
            "disposition": "active",
            "readPoint": {"id": PLANT_LINE},
            "bizLocation": {"id": PLANT_SITE},
            "ilmd": {"cbvmda:lotNumber": lot, "cbvmda:bestBeforeDate": (datetime(2027, 5, 1) + timedelta(days=2 * s)).date().isoformat()},
            "sakura:line": "bottling line 1",
        })
        # inspection: no eventID, so the twin derives the GS1 event hash ID
        events.append({
            "type": "ObjectEvent",
            "eventTime": t(day, 9, 30),
            "eventTimeZoneOffset": "+09:00",
            "epcList": bottles,
            "action": "OBSERVE",
            "bizStep": "inspecting",
            "disposition": "conformant" if s != 2 else "non_conformant",
            "readPoint": {"id": PLANT_LINE},
            "bizLocation": {"id": PLANT_SITE},
        })
        events.append({
            "type": "AggregationEvent",
            "eventTime": t(day, 14),
            "eventTimeZoneOffset": "+09:00",
            "eventID": eid("packing", s),
            "parentID": pallet,
            "childEPCs": bottles,
            "action": "ADD",
            "bizStep": "packing",
            "disposition": "in_progress",
            "readPoint": {"id": PLANT_LINE},
            "bizLocation": {"id": PLANT_SITE},
        })
        events.append({
            "type": "ObjectEvent",
            "eventTime": t(day + 1, 8) if s != 1 else t(day + 2, 16),  # shipment 1 waits at the dock
            "eventTimeZoneOffset": "+09:00",
            "eventID": eid("shipping", s),
            "epcList": [pallet],
            "action": "OBSERVE",
            "bizStep": "shipping",
            "disposition": "in_transit",
            "readPoint": {"id": PLANT_DOCK},
            "bizTransactionList": [{"type": "po", "bizTransaction": po}, {"type": "desadv", "bizTransaction": desadv}],
            "sourceList": [{"type": "owning_party", "source": PLANT_PARTY}, {"type": "location", "source": PLANT_SITE}],
            "destinationList": [{"type": "owning_party", "destination": DC_PARTY}, {"type": "location", "destination": DC_SITE}],
        })
    return events


def xml_event(e: dict) -> str:
    """The few fields the distributor uses, in EPCIS 2.0 XML element order."""
    out = [f"      <{e['type']}>", f"        <eventTime>{e['eventTime']}</eventTime>",
           f"        <eventTimeZoneOffset>{e['eventTimeZoneOffset']}</eventTimeZoneOffset>",
           f"        <eventID>{e['eventID']}</eventID>"]
    if "parentID" in e:
        out.append(f"        <parentID>{e['parentID']}</parentID>")
        out.append("        <childEPCs>" + "".join(f"<epc>{x}</epc>" for x in e["childEPCs"]) + "</childEPCs>")
    if "epcList" in e:
        out.append("        <epcList>" + "".join(f"<epc>{x}</epc>" for x in e["epcList"]) + "</epcList>")
    out.append(f"        <action>{e['action']}</action>")
    out.append(f"        <bizStep>urn:epcglobal:cbv:bizstep:{e['bizStep']}</bizStep>")
    out.append(f"        <disposition>urn:epcglobal:cbv:disp:{e['disposition']}</disposition>")
    out.append(f"        <readPoint><id>{e['readPoint']}</id></readPoint>")
    out.append(f"        <bizLocation><id>{e['bizLocation']}</id></bizLocation>")
    if "po" in e:
        out.append(f'        <bizTransactionList><bizTransaction type="urn:epcglobal:cbv:btt:po">{escape(e["po"])}</bizTransaction></bizTransactionList>')
    if "quantityList" in e:
        out.append("        <quantityList>" + "".join(
            f"<quantityElement><epcClass>{q['epcClass']}</epcClass><quantity>{q['quantity']}</quantity></quantityElement>"
            for q in e["quantityList"]) + "</quantityList>")
    if "destinationList" in e:
        out.append("        <destinationList>" + "".join(
            f'<destination type="urn:epcglobal:cbv:sdt:{d["type"]}">{d["destination"]}</destination>'
            for d in e["destinationList"]) + "</destinationList>")
    out.append(f"      </{e['type']}>")
    return "\n".join(out)


def distributor_events() -> list[dict]:
    events = []
    for s in range(SHIPMENTS):
        day = 2 * s + (3 if s == 1 else 1)
        bottles = [f"urn:epc:id:sgtin:{BOTTLE}.{s}{i:03d}" for i in range(BOTTLES)]
        pallet = f"urn:epc:id:sscc:4012345.{s + 1:010d}"
        po = f"urn:epcglobal:cbv:bt:0614141000005:PO-{7001 + s}"
        common = {"eventTimeZoneOffset": "+09:00", "bizLocation": DC_SITE}
        events.append({**common, "type": "ObjectEvent", "eventTime": t(day, 15), "eventID": eid("receiving", s),
                       "epcList": [pallet], "action": "OBSERVE", "bizStep": "receiving",
                       "disposition": "in_progress", "readPoint": DC_DOCK, "po": po})
        events.append({**common, "type": "AggregationEvent", "eventTime": t(day, 17), "eventID": eid("unpacking", s),
                       "parentID": pallet, "childEPCs": bottles, "action": "DELETE", "bizStep": "unpacking",
                       "disposition": "in_progress", "readPoint": DC_DOCK})
        events.append({**common, "type": "ObjectEvent", "eventTime": t(day + 1, 9), "eventID": eid("storing", s),
                       "epcList": bottles, "action": "OBSERVE", "bizStep": "storing",
                       "disposition": "sellable_accessible", "readPoint": DC_RACK})
        events.append({**common, "type": "ObjectEvent", "eventTime": t(day + 3, 7), "eventID": eid("shipping-retail", s),
                       "epcList": bottles[: BOTTLES // 2], "action": "OBSERVE", "bizStep": "shipping",
                       "disposition": "in_transit", "readPoint": DC_DOCK,
                       "destinationList": [{"type": "owning_party", "destination": SHOP_PARTY},
                                           {"type": "location", "destination": SHOP_SITE}]})
    return events


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    plant = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
                     {"sakura": "https://sakura-foods.example/epcis/"}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": t(8, 18),
        "epcisBody": {"eventList": plant_events()},
    }
    (out / "1-sakura-foods-plant.jsonld").write_text(json.dumps(plant, indent=2) + "\n")
    body = "\n".join(xml_event(e) for e in distributor_events())
    (out / "2-umeda-distribution-dc.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="{t(12, 18)}">\n'
        "  <EPCISBody>\n    <EventList>\n" + body + "\n    </EventList>\n  </EPCISBody>\n</epcis:EPCISDocument>\n"
    )
    # the distributor finds that receipt 2 was booked against the wrong dock and declares the error
    wrong = next(e for e in distributor_events() if e["eventID"] == eid("receiving", 2))
    correction = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": t(13, 9),
        "epcisBody": {"eventList": [{
            "type": "ObjectEvent",
            "eventTime": wrong["eventTime"],
            "eventTimeZoneOffset": "+09:00",
            "eventID": wrong["eventID"],
            "errorDeclaration": {"declarationTime": t(13, 9), "reason": "incorrect_data"},
            "epcList": wrong["epcList"],
            "action": "OBSERVE",
            "bizStep": "receiving",
            "disposition": "in_progress",
            "readPoint": {"id": DC_DOCK},
            "bizLocation": {"id": DC_SITE},
            "bizTransactionList": [{"type": "po", "bizTransaction": wrong["po"]}],
        }]},
    }
    (out / "3-umeda-distribution-correction.jsonld").write_text(json.dumps(correction, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
