"""GS1's conformance test case TCR-53 (SensorElement) and the extension-field, ILMD and
error-declaration families of SimpleEventQuery, against one real node.

The test steps follow GS1's text of TCR-53 (gs1/EPCIS, "Conformance Requirements/2 Test Case
Requirements/TCR53_SensorElement.md"): set1 covers every SensorElement attribute, user
extensions at the element, metadata and report levels, one event without sensor data, and a
temperature in CEL; set2 puts the inline attributes once in sensorMetadata and once in the
sensorReport; set3 has them in both. Every expected set is worked out here from the documents
by the standard's rule (a small evaluator over the JSON below, with its own unit arithmetic),
never from the node's answers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _nodes import NodeProcess, make_node

NS = "https://ns.example.com/epcis/"
HEADER = {"GS1-Extensions": f"ex={NS}"}


def _event(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        "eventTime": f"2024-03-0{n % 9 + 1}T10:00:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": [f"urn:epc:id:sgtin:4012345.011111.{n}"],
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
        **fields,
    }


SET1 = [
    _event(
        1,
        sensorElementList=[
            {
                "sensorMetadata": {
                    "time": "2024-03-02T09:00:00Z",
                    "startTime": "2024-03-02T08:00:00Z",
                    "endTime": "2024-03-02T09:00:00Z",
                    "deviceID": "urn:epc:id:giai:4000001.111",
                    "deviceMetadata": "https://id.gs1.org/8004/4000001111",
                    "rawData": "https://example.org/raw/1",
                    "dataProcessingMethod": "https://example.org/method/avg",
                    "bizRules": "https://example.org/rules/cold",
                    "ex:calibrated": "2024-01-01",
                },
                "sensorReport": [
                    {
                        "type": "gs1:Temperature",
                        "value": 20,
                        "uom": "CEL",
                        "minValue": 18.5,
                        "maxValue": 22,
                        "meanValue": 20.2,
                        "sDev": 0.4,
                        "percRank": 50,
                        "percValue": 20.1,
                        "ex:quality": 7,
                    },
                    {"type": "gs1:RelativeHumidity", "value": 60, "uom": "P1"},
                ],
                "ex:batch": "B-1",
            }
        ],
    ),
    _event(
        2,
        sensorElementList=[
            {
                "sensorMetadata": {
                    "time": "2024-03-03T12:00:00Z",
                    "startTime": "2024-03-03T11:00:00Z",
                    "endTime": "2024-03-03T12:30:00Z",
                    "deviceID": "urn:epc:id:giai:4000001.222",
                },
                "sensorReport": [
                    {"type": "gs1:Temperature", "value": 77, "uom": "FAH", "ex:quality": 3},
                    {"stringValue": "fresh", "type": "ex:Odour"},
                    {"booleanValue": True, "type": "ex:DoorOpen"},
                    {"hexBinaryValue": "F0A1", "type": "ex:Code"},
                    {"uriValue": "https://example.org/state/ok", "type": "ex:State"},
                    {
                        "type": "gs1:MassConcentration",
                        "microorganism": "https://www.ncbi.nlm.nih.gov/taxonomy/1126011",
                        "value": 0.05,
                        "uom": "GL",
                    },
                    {
                        "type": "gs1:MassConcentration",
                        "chemicalSubstance": "https://identifiers.org/inchikey:CZMRCDWAGMRECN",
                        "value": 0.2,
                        "uom": "GL",
                    },
                ],
            }
        ],
    ),
    _event(
        3,
        sensorElementList=[
            {
                "sensorMetadata": {"deviceID": "urn:epc:id:giai:4000001.333"},
                "sensorReport": [
                    {"type": "gs1:Temperature", "value": 280.15, "uom": "KEL", "sDev": 1.5},
                    {"type": "gs1:Mass", "value": 2, "uom": "KGM", "percRank": 90},
                ],
            }
        ],
    ),
    _event(4),  # no sensor data
]

# set2 (step 27): the inline attributes once in the metadata, once in the report
SET2 = [
    _event(
        11,
        sensorElementList=[
            {
                "sensorMetadata": {
                    "deviceID": "urn:epc:id:giai:4000001.811",
                    "deviceMetadata": "https://example.org/device/811",
                    "rawData": "https://example.org/raw/811",
                    "dataProcessingMethod": "https://example.org/method/811",
                    "time": "2024-04-01T10:00:00Z",
                },
                "sensorReport": [{"type": "gs1:Temperature", "value": 5, "uom": "CEL"}],
            }
        ],
    ),
    _event(
        12,
        sensorElementList=[
            {
                "sensorReport": [
                    {
                        "type": "gs1:Temperature",
                        "value": 6,
                        "uom": "CEL",
                        "deviceID": "urn:epc:id:giai:4000001.812",
                        "deviceMetadata": "https://example.org/device/812",
                        "rawData": "https://example.org/raw/812",
                        "dataProcessingMethod": "https://example.org/method/812",
                        "time": "2024-04-02T10:00:00Z",
                    }
                ],
            }
        ],
    ),
]

# set3 (step 29): deviceID and time both in the metadata and in the report
SET3 = [
    _event(
        21,
        sensorElementList=[
            {
                "sensorMetadata": {
                    "deviceID": "urn:epc:id:giai:4000001.921",
                    "time": "2024-05-01T10:00:00Z",
                },
                "sensorReport": [
                    {
                        "type": "gs1:Temperature",
                        "value": 4,
                        "uom": "CEL",
                        "deviceID": "urn:epc:id:giai:4000001.922",
                        "time": "2024-05-01T11:00:00Z",
                    }
                ],
            }
        ],
    )
]

# extension fields, ILMD and error declarations
EXT = [
    {
        **_event(31, action="ADD"),
        "ex:grade": "A",
        "ex:temp": 12,
        "ex:info": {"ex:inner": "deep", "ex:level": 4},
        "ilmd": {"ex:bestBefore": "2026-01-01T00:00:00Z", "ex:size": 3},
        "errorDeclaration": {"declarationTime": "2024-03-05T00:00:00Z", "ex:note": "typo"},
    },
    {
        **_event(32, action="ADD"),
        "ex:grade": "B",
        "ex:temp": 30,
        "ilmd": {"ex:bestBefore": "2027-06-01T00:00:00Z", "ex:size": 7},
    },
    {**_event(33), "ex:temp": 21.5},
]


def _document(events: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {
            "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld", {"ex": NS}],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2024-03-01T00:00:00Z",
            "epcisBody": {"eventList": events},
        }
    ).encode()


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    made = make_node(tmp_path_factory.mktemp("tcr53"), "plant").start(timeout=120)
    try:
        # set1 (step 1), set2 (step 27) and the extension events in one capture
        job = made.capture(_document([*SET1, *SET2, *EXT]))
        assert job["success"], job
        yield made
    finally:
        made.kill()


def _poll(node: NodeProcess, params: dict[str, str], headers: dict[str, str] | None = None) -> Any:
    with node.client() as c:
        return c.get("/events", params={**params, "perPage": "1000"}, headers=headers or {})


def _ids(
    node: NodeProcess, params: dict[str, str], headers: dict[str, str] | None = None
) -> set[str]:
    r = _poll(node, params, headers)
    assert r.status_code == 200, r.text
    return {e["eventID"] for e in r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]}


# --- the standard's rule, by hand ---------------------------------------------------------

ALL = [*SET1, *SET2, *EXT]
INLINE = ("deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "time")


def _kelvin(value: float, uom: str) -> float | None:
    """A temperature in kelvin, by the textbook formulas."""
    return {
        "CEL": lambda v: v + 273.15,
        "KEL": lambda v: v,
        "FAH": lambda v: (v - 32) * 5 / 9 + 273.15,
    }.get(uom, lambda v: None)(value)


def _rows(event: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    for element in event.get("sensorElementList", []):
        meta = element.get("sensorMetadata", {})
        for report in element.get("sensorReport", []):
            yield element, meta, report


def _inline(meta: dict[str, Any], report: dict[str, Any], key: str) -> Any:
    return report.get(key, meta.get(key))


def _with_report(
    test: Callable[[dict[str, Any], dict[str, Any], dict[str, Any]], bool],
) -> set[str]:
    return {e["eventID"] for e in ALL if any(test(*row) for row in _rows(e))}


def _stamp(text: str) -> str:
    return text.replace("Z", "+00:00")


# (step, parameters, the events the standard selects)
STEPS: list[tuple[str, dict[str, str], set[str]]] = [
    ("3", {"EXISTS_sensorElement": ""}, {e["eventID"] for e in ALL if "sensorElementList" in e}),
    (
        "4",
        {"GE_time": "2024-03-02T00:00:00Z", "LT_time": "2024-03-03T00:00:00Z"},
        _with_report(
            lambda el, m, r: "2024-03-02" <= (_inline(m, r, "time") or "")[:10] < "2024-03-03"
        ),
    ),
    (
        "5",
        {"GE_startTime": "2024-03-03T00:00:00Z", "LT_endTime": "2024-03-04T00:00:00Z"},
        _with_report(
            lambda el, m, r: (
                m.get("startTime", "") >= "2024-03-03" and "" < m.get("endTime", "") < "2024-03-04"
            )
        ),
    ),
    (
        "6",
        {"EQ_type": "Temperature"},
        _with_report(lambda el, m, r: r.get("type") == "gs1:Temperature"),
    ),
    (
        "7",
        {"EQ_deviceID": "urn:epc:id:giai:4000001.333"},
        _with_report(lambda el, m, r: _inline(m, r, "deviceID") == "urn:epc:id:giai:4000001.333"),
    ),
    (
        "8",
        {"EQ_dataProcessingMethod": "https://example.org/method/avg"},
        {SET1[0]["eventID"]},
    ),
    (
        "9",
        {"EQ_microorganism": "https://www.ncbi.nlm.nih.gov/taxonomy/1126011"},
        _with_report(lambda el, m, r: "microorganism" in r),
    ),
    (
        "10",
        {"EQ_chemicalSubstance": "https://identifiers.org/inchikey:CZMRCDWAGMRECN"},
        _with_report(lambda el, m, r: "chemicalSubstance" in r),
    ),
    ("11", {"EQ_bizRules": "https://example.org/rules/cold"}, {SET1[0]["eventID"]}),
    # 25 °C (77 °F) is 298.15 K; 20 °C is 293.15 K; 7 °C is 280.15 K
    (
        "12",
        {"EQ_type": "Temperature", "GE_value_CEL": "19.5", "LT_value_CEL": "26"},
        _with_report(
            lambda el, m, r: (
                r.get("type") == "gs1:Temperature"
                and 19.5 + 273.15 <= (_kelvin(r["value"], r["uom"]) or 0) < 26 + 273.15
            )
        ),
    ),
    ("12-EQ", {"EQ_value_FAH": "68"}, {SET1[0]["eventID"]}),  # 20 °C = 68 °F
    ("13", {"GE_minValue_CEL": "18", "LT_minValue_CEL": "19"}, {SET1[0]["eventID"]}),
    ("14", {"GE_maxValue_KEL": "295"}, {SET1[0]["eventID"]}),  # 22 °C = 295.15 K
    ("15", {"LT_meanValue_FAH": "68"}, set()),  # 20.2 °C = 68.36 °F
    ("16", {"EQ_stringValue": "fresh"}, {SET1[1]["eventID"]}),
    ("17", {"EQ_booleanValue": "true"}, {SET1[1]["eventID"]}),
    ("18", {"EQ_hexBinaryValue": "f0a1"}, {SET1[1]["eventID"]}),
    ("19", {"EQ_uriValue": "https://example.org/state/ok"}, {SET1[1]["eventID"]}),
    ("20", {"EQ_SENSORELEMENT_ex:batch": "B-1"}, {SET1[0]["eventID"]}),
    ("20-EXISTS", {"EXISTS_SENSORELEMENT_ex:batch": ""}, {SET1[0]["eventID"]}),
    ("21", {"GE_SENSORMETADATA_ex:calibrated": "2023-12-31T00:00:00Z"}, {SET1[0]["eventID"]}),
    (
        "22",
        {"GT_SENSORREPORT_ex:quality": "2"},
        _with_report(lambda el, m, r: float(r.get("ex:quality", 0)) > 2),
    ),
    ("22-LE", {"LE_SENSORREPORT_ex:quality": "3"}, {SET1[1]["eventID"]}),
    ("23", {"GE_sDev": "1"}, _with_report(lambda el, m, r: r.get("sDev", 0) >= 1)),
    ("24", {"GE_percRank": "60"}, _with_report(lambda el, m, r: r.get("percRank", 0) >= 60)),
    ("25", {"LT_percValue": "21"}, _with_report(lambda el, m, r: 0 < r.get("percValue", 99) < 21)),
    (
        "26",
        {"EQ_type": "gs1:Temperature", "GE_value_KEL": "290"},
        _with_report(
            lambda el, m, r: (
                r.get("type") == "gs1:Temperature" and (_kelvin(r["value"], r["uom"]) or 0) >= 290
            )
        ),
    ),
    # all sensor conditions hold for one report: event 2 has a temperature and a string
    ("one report", {"EQ_type": "Temperature", "EQ_stringValue": "fresh"}, set()),
]


@pytest.mark.parametrize("step, params, expected", STEPS, ids=[s[0] for s in STEPS])
def test_tcr53_sensor_steps(
    node: NodeProcess, step: str, params: dict[str, str], expected: set[str]
) -> None:
    assert _ids(node, params, HEADER) == expected


def test_tcr53_steps_1_2_everything_captured_comes_back(node: NodeProcess) -> None:
    assert _ids(node, {"GE_recordTime": "2000-01-01T00:00:00Z"}) == {e["eventID"] for e in ALL}
    # every SensorElement attribute came back as captured
    r = _poll(node, {"EQ_eventID": SET1[0]["eventID"]})
    back = r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]
    sent = SET1[0]["sensorElementList"][0]
    got = back["sensorElementList"][0]
    assert got["ex:batch"] == "B-1"
    assert got["sensorMetadata"]["bizRules"] == sent["sensorMetadata"]["bizRules"]
    assert {k for k in sent["sensorReport"][0]} <= set(got["sensorReport"][0])


@pytest.mark.parametrize("field", INLINE)
def test_tcr53_step28_inline_attributes_at_either_level(node: NodeProcess, field: str) -> None:
    name = {"deviceMetadata": "EQ_deviceMetaData"}.get(field, f"EQ_{field}")
    for event in SET2:
        element = event["sensorElementList"][0]
        value = element.get("sensorMetadata", {}).get(field) or element["sensorReport"][0][field]
        assert _ids(node, {name: value}) == {event["eventID"]}


def test_tcr53_step29_both_levels_is_accepted_the_report_governs(node: NodeProcess) -> None:
    """Our decision (docs/node/epcis-query.md): accepted, against TCR-53 step 29 — the schemas,
    GS1's own example documents and gs1/EPCIS#250 allow both; the report's value holds for
    that report, the metadata's for the element's other reports."""
    job = node.capture(_document(SET3))
    assert job["success"], job
    eid = SET3[0]["eventID"]
    assert eid in _ids(node, {"EQ_deviceID": "urn:epc:id:giai:4000001.922"})
    assert eid not in _ids(node, {"EQ_deviceID": "urn:epc:id:giai:4000001.921"})
    assert eid in _ids(node, {"EQ_time": "2024-05-01T11:00:00Z"})


def test_a_bound_in_another_dimension_is_a_query_parameter_exception(node: NodeProcess) -> None:
    r = _poll(node, {"EQ_type": "Temperature", "GE_value_KGM": "1"})
    assert r.status_code == 400
    problem = r.json()
    assert problem["type"].endswith("QueryParameterException")
    assert "GE_value_KGM" in problem["detail"]


def _top(test: Callable[[dict[str, Any]], bool]) -> set[str]:
    return {e["eventID"] for e in ALL if test(e)}


EXT_STEPS: list[tuple[str, dict[str, str], set[str]]] = [
    ("EQ", {"EQ_ex:grade": "A|C"}, _top(lambda e: e.get("ex:grade") in ("A", "C"))),
    ("GT", {"GT_ex:temp": "12"}, _top(lambda e: e.get("ex:temp", -1e9) > 12)),
    ("LE", {"LE_ex:temp": "21.5"}, _top(lambda e: "ex:temp" in e and e["ex:temp"] <= 21.5)),
    ("EXISTS", {"EXISTS_ex:grade": ""}, _top(lambda e: "ex:grade" in e)),
    ("URI form", {f"EQ_{NS}#grade": "B"}, _top(lambda e: e.get("ex:grade") == "B")),
    ("INNER", {"EQ_INNER_ex:inner": "deep"}, {EXT[0]["eventID"]}),
    ("INNER GE", {"GE_INNER_ex:level": "4"}, {EXT[0]["eventID"]}),
    ("EXISTS_INNER", {"EXISTS_INNER_ex:level": ""}, {EXT[0]["eventID"]}),
    ("ILMD EQ", {"EQ_ILMD_ex:size": "7"}, {EXT[1]["eventID"]}),
    ("ILMD LT", {"LT_ILMD_ex:bestBefore": "2026-06-01T00:00:00Z"}, {EXT[0]["eventID"]}),
    ("ILMD EXISTS", {"EXISTS_ILMD_ex:size": ""}, _top(lambda e: "ex:size" in e.get("ilmd", {}))),
    ("ERROR EQ", {"EQ_ERROR_DECLARATION_ex:note": "typo"}, {EXT[0]["eventID"]}),
    ("ERROR EXISTS", {"EXISTS_ERROR_DECLARATION_ex:note": ""}, {EXT[0]["eventID"]}),
    ("undeclared", {"EQ_zz:grade": "A"}, set()),
]


@pytest.mark.parametrize("step, params, expected", EXT_STEPS, ids=[s[0] for s in EXT_STEPS])
def test_extension_fields(
    node: NodeProcess, step: str, params: dict[str, str], expected: set[str]
) -> None:
    assert _ids(node, params, HEADER) == expected


def test_an_undeclared_prefix_matches_as_the_document_wrote_it(node: NodeProcess) -> None:
    assert _ids(node, {"EQ_ex:grade": "A"}) == {EXT[0]["eventID"]}


def test_order_by_an_extension_field_with_paging(node: NodeProcess) -> None:
    with_temp = sorted((e for e in ALL if "ex:temp" in e), key=lambda e: e["ex:temp"])
    expected = [e["eventID"] for e in reversed(with_temp)]
    seen: list[str] = []
    params = {"orderBy": "ex:temp", "orderDirection": "DESC", "EXISTS_ex:temp": "", "perPage": "2"}
    with node.client() as c:
        r = c.get("/events", params=params, headers=HEADER)
        while True:
            assert r.status_code == 200, r.text
            body = r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            seen += [e["eventID"] for e in body]
            token = r.headers.get("GS1-Next-Page-Token")
            if not token:
                break
            r = c.get("/events", params={**params, "nextPageToken": token}, headers=HEADER)
    assert seen == expected


def test_named_query_keeps_the_declared_prefixes(node: NodeProcess) -> None:
    with node.client() as c:
        r = c.post(
            "/queries",
            json={"name": "grade-b", "query": {"EQ_ex:grade": ["B"]}},
            headers=HEADER,
        )
        assert r.status_code == 201, r.text
        r = c.get("/queries/grade-b/events")
        assert r.status_code == 200, r.text
        got = {
            e["eventID"] for e in r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        }
    assert got == {EXT[1]["eventID"]}


def test_quantity_in_another_unit(tmp_path: Path) -> None:
    # 150 KGM is 150 000 GRM: the quantity parameters with a unit compare across units
    from keiretsu.node.query.fields import read_field

    test = read_field("GE_quantity_GRM", ["149000"], split=True, namespaces={})
    bounds = dict(test.units)
    assert bounds["KGM"] == pytest.approx((149.0,))
    assert bounds["GRM"] == (149000.0,)
