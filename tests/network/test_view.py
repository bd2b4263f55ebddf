"""The end-to-end view over one node's store: the distributor's own events plus what the plant
shared under its policy (stored as the node stores a partner's push: under the plant's
namespace, ``source`` = the plant's name)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from keiretsu.io.epcis import read_epcis
from keiretsu.network.view import (
    chain,
    end_to_end,
    open_store,
    provenance,
    resolve_object,
    shared_objects,
    steps_by_node,
)
from keiretsu.node.policy import Policy
from keiretsu.store import Store
from keiretsu.store.received import from_partner

EXAMPLES = Path(__file__).parents[2] / "src" / "keiretsu" / "examples"
CHAIN = EXAMPLES / "two-company-chain"
PLANT_DOC = CHAIN / "1-sakura-foods-plant.jsonld"
DC_DOC = CHAIN / "2-umeda-distribution-dc.xml"
PLANT_POLICY = EXAMPLES / "network" / "policies" / "sakura-plant.toml"
PALLET = "urn:epc:id:sscc:4012345.0000000001"


@pytest.fixture(scope="module")
def dc_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dc") / "twin.duckdb"
    policy = Policy.load(PLANT_POLICY)
    with Store(path) as store:
        store.ingest_file(DC_DOC)
        shared = [policy.apply(b, "umeda-dc", secret=b"s" * 32) for b in read_epcis(PLANT_DOC)]
        pushed = from_partner(shared, "sakura-plant")
        store.ingest(pushed, document="from/sakura-plant/1", source="sakura-plant")
    return path


def _plant_steps_shared() -> set[str]:
    """The plant's bizSteps the policy file permits, read from the raw documents."""
    events = json.loads(PLANT_DOC.read_text())["epcisBody"]["eventList"]
    return {e["bizStep"] for e in events} & {"commissioning", "packing", "shipping"}


def test_provenance_counts_each_companys_events(dc_store: Path) -> None:
    plant_events = json.loads(PLANT_DOC.read_text())["epcisBody"]["eventList"]
    shared = sum(e["bizStep"] in _plant_steps_shared() for e in plant_events)
    with open_store(dc_store) as con:
        rows = {r["node"]: r for r in provenance(con, local="umeda-dc").to_pylist()}
        total = con.execute("SELECT count(*) FROM ocel_event").fetchone()
    assert set(rows) == {"sakura-plant", "umeda-dc"}
    assert rows["sakura-plant"]["events"] == shared
    assert set(rows["sakura-plant"]["steps"]) == _plant_steps_shared()
    assert total is not None and rows["umeda-dc"]["events"] == total[0] - shared
    # the plant's first event (commissioning) precedes anything the DC recorded
    assert rows["sakura-plant"]["first_event"] < rows["umeda-dc"]["first_event"]


def test_a_pallet_is_followed_from_the_plant_into_the_dc(dc_store: Path) -> None:
    with open_store(dc_store) as con:
        path = chain(con, PALLET, local="umeda-dc").to_pylist()
        assert resolve_object(con, PALLET) == "https://id.gs1.org/00/040123450000000016"
    assert [(r["node"], r["activity"]) for r in path] == [
        ("sakura-plant", "packing"),
        ("sakura-plant", "shipping"),
        ("umeda-dc", "receiving"),
        ("umeda-dc", "unpacking"),
    ]
    times = [r["time"] for r in path]
    assert times == sorted(times)
    assert path[0]["qualifier"] == "parent" and path[1]["qualifier"] == "epc"


def test_contents_follow_the_cases_packed_on_the_pallet(dc_store: Path) -> None:
    with open_store(dc_store) as con:
        path = chain(con, PALLET, local="umeda-dc", contents=True).to_pylist()
    steps = [(r["node"], r["activity"]) for r in path]
    # the cases were commissioned at the plant, and stored and shipped on by the DC
    assert steps[0] == ("sakura-plant", "commissioning")
    assert ("umeda-dc", "storing") in steps
    assert ("sakura-plant", "inspecting") not in steps  # the plant's policy keeps QC at home


def test_a_purchase_order_is_found_by_its_number(dc_store: Path) -> None:
    with open_store(dc_store) as con:
        path = chain(con, "PO-7001", local="umeda-dc").to_pylist()
        unknown = chain(con, "PO-0000", local="umeda-dc")
    assert [(r["node"], r["activity"]) for r in path] == [
        ("sakura-plant", "shipping"),
        ("umeda-dc", "receiving"),
    ]
    assert unknown.num_rows == 0


def test_shared_objects_are_the_stitches_of_the_chain(dc_store: Path) -> None:
    with open_store(dc_store) as con:
        rows = shared_objects(con, local="umeda-dc").to_pylist()
        steps = steps_by_node(con, local="umeda-dc").to_pylist()
    by_id = {r["object_id"]: r for r in rows}
    pallet = by_id["https://id.gs1.org/00/040123450000000016"]
    assert pallet["nodes"] == ["sakura-plant", "umeda-dc"]
    assert pallet["object_type"] == "logistic unit"
    assert all(r["object_type"] != "location" for r in rows)
    assert {"logistic unit", "trade item", "po"} <= {r["object_type"] for r in rows}
    assert ("shipping", "sakura-plant") in {(s["activity"], s["node"]) for s in steps}
    assert ("shipping", "umeda-dc") in {(s["activity"], s["node"]) for s in steps}


def test_end_to_end_reads_several_stores(dc_store: Path, tmp_path: Path) -> None:
    plant = tmp_path / "plant.duckdb"
    with Store(plant) as store:
        store.ingest_file(PLANT_DOC)
    table = end_to_end({"sakura-plant": plant, "umeda-dc": dc_store}).to_pylist()
    seen = {(r["observer"], r["node"]) for r in table}
    assert seen == {
        ("sakura-plant", "sakura-plant"),
        ("umeda-dc", "sakura-plant"),
        ("umeda-dc", "umeda-dc"),
    }


def test_a_store_a_running_node_holds_says_so(tmp_path: Path) -> None:
    path = tmp_path / "busy.duckdb"
    Store(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with (
            pytest.raises(RuntimeError, match="in use by its node's server"),
            open_store(path),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()


HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(60)
"""
