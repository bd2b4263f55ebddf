"""The network model: the worked examples read, a model file round-trips, and a bad file is
refused whole with every problem named (file, entry, key, what was expected)."""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path

import pytest

import keiretsu
from _data import data
from keiretsu.sim.model import (
    BaseStock,
    EchelonBaseStock,
    ModelError,
    Network,
)
from keiretsu.sim.policy_level import simulate

EXAMPLES = Path(keiretsu.__file__).parent / "examples" / "sim"


def test_worked_examples_read_with_their_shape() -> None:
    serial = Network.load(EXAMPLES / "serial-4.toml")
    assert serial.shape == "serial"
    assert serial.chain() == ["retailer", "wholesaler", "distributor", "factory"]
    brew = serial.steps_of("factory")[0]
    assert (brew.capacity, brew.batch_size, brew.yield_) == (80, 20, 0.98)
    distribution = Network.load(EXAMPLES / "distribution-5.toml")
    assert distribution.shape == "distribution"
    assert len(distribution.companies) == 5
    assert [x.target for x in distribution.links_out_of("central-dc")] == [
        "store-north",
        "store-south",
        "store-east",
    ]
    assert distribution.unmet == "lost_sale"


def test_a_model_written_out_reads_back_the_same(tmp_path: Path) -> None:
    model = Network.load(EXAMPLES / "distribution-5.toml")
    path = tmp_path / "copy.toml"
    path.write_text(model.to_toml())
    again = Network.load(path)
    assert again.model_copy(update={"source": None}) == model.model_copy(update={"source": None})


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "network.toml"
    path.write_text(text)
    return path


HEAD = """
[network]
name = "t"
"""
DC = """
[[company]]
name = "dc"
  [[company.buffer]]
  name = "dc"
  policy = { kind = "base_stock", level = 50 }
"""
SHOP = """
[[company]]
name = "shop"
  [[company.buffer]]
  name = "shop"
  policy = { kind = "base_stock", level = 20 }
"""
LINKS = """
[[link]]
to = "dc"
lead_time = { kind = "constant", value = 2 }
[[link]]
from = "dc"
to = "shop"
lead_time = { kind = "constant", value = 1 }
"""
DEMAND = """
[[demand]]
at = "shop"
distribution = { kind = "poisson", mean = 4 }
backorder_cost = 5
"""


def _problems(path: Path) -> list[str]:
    with pytest.raises(ModelError) as caught:
        Network.load(path)
    for p in caught.value.problems:
        assert p.document == str(path)
    return [str(p) for p in caught.value.problems]


def test_a_good_small_file_reads(tmp_path: Path) -> None:
    net = Network.load(_write(tmp_path, HEAD + DC + SHOP + LINKS + DEMAND))
    assert net.chain() == ["shop", "dc"]


def test_every_problem_of_a_bad_file_is_named_at_once(tmp_path: Path) -> None:
    bad = (
        HEAD.replace('name = "t"', 'name = "t"\nunmet = "maybe"')
        + DC.replace("level = 50", "levl = 50")
        + SHOP.replace('kind = "base_stock", level = 20', 'kind = "magic"')
        + LINKS
        + DEMAND.replace("backorder_cost = 5", "backorder_cost = -5")
    )
    problems = _problems(_write(tmp_path, bad))
    text = "\n".join(problems)
    assert len(problems) == 5, text
    assert "/network/unmet" in text and "'backorder' or 'lost_sale'" in text
    assert "company[0] (dc).buffer[0] (dc).policy: unknown key 'levl'" in text
    assert "expected one of kind, level" in text
    assert "key 'level' is missing" in text
    assert "company[1] (shop).buffer[0] (shop): key 'policy'" in text and "'magic'" in text
    assert "/demand/0/backorder_cost" in text and "greater than or equal to 0" in text


def test_references_between_entries_are_checked(tmp_path: Path) -> None:
    bad = HEAD + DC + SHOP + LINKS.replace('to = "shop"', 'to = "shopp"') + DEMAND
    text = "\n".join(_problems(_write(tmp_path, bad)))
    assert "link[1] (dc -> shopp): no buffer 'shopp' (expected one of dc, shop)" in text
    assert "no link supplies this buffer" in text  # the shop, now


def test_a_circle_of_links_is_refused(tmp_path: Path) -> None:
    circle = (
        LINKS + '[[link]]\nfrom = "shop"\nto = "dc"\nlead_time = { kind = "constant", value = 1 }\n'
    )
    text = "\n".join(_problems(_write(tmp_path, HEAD + DC + SHOP + circle + DEMAND)))
    assert "go round in a circle: dc -> shop -> dc" in text


def test_an_echelon_policy_needs_to_see_the_partners_stock(tmp_path: Path) -> None:
    """An echelon level counts the downstream partner's stock: the company must see it (its
    partners' sharing policies let it through), or the model is refused."""
    echelon = DC.replace("base_stock", "echelon_base_stock")
    text = "\n".join(_problems(_write(tmp_path, HEAD + echelon + SHOP + LINKS + DEMAND)))
    assert "company[0] (dc).buffer[0] (dc)" in text and "does not see" in text
    assert 'sees = [..., "partner_inventory"]' in text
    seeing = echelon.replace(
        'name = "dc"\n', 'name = "dc"\nsees = ["orders", "partner_inventory"]\n', 1
    )
    net = Network.load(_write(tmp_path, HEAD + seeing + SHOP + LINKS + DEMAND))
    assert isinstance(net.buffers["dc"].policy, EchelonBaseStock)


def test_not_toml_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "[network\nname=")
    with pytest.raises(ModelError, match=r"network\.toml"):
        Network.load(path)


def test_policies_can_be_swapped_for_a_variant() -> None:
    net = Network.load(EXAMPLES / "serial-4.toml")
    variant = net.with_policies({"retailer": BaseStock(level=25)})
    assert variant.buffers["retailer"].policy == BaseStock(level=25)
    assert net.buffers["retailer"].policy == EchelonBaseStock(level=30)
    with pytest.raises(ValueError, match="no buffer nowhere"):
        net.with_policies({"nowhere": BaseStock(level=1)})


def test_demand_can_be_a_real_daily_sales_series(tmp_path: Path) -> None:
    """SupplyGraph's daily sales orders of one product (221 days) drive the shop: replayed
    from a random day in each replication, the mean demand is the series' mean."""
    sales = data("supplygraph", "Temporal Data", "Unit", "Sales Order.csv")
    with open(sales, newline="") as fh:
        column = [float(row["SOS008L02P"]) for row in csv.DictReader(fh)]
    published_mean = sum(column) / len(column)
    series = (
        "[[demand]]\n"
        'at = "shop"\n'
        f'series = {{ file = "{sales}", column = "SOS008L02P" }}\n'
        "backorder_cost = 5\n"
    )
    net = Network.load(_write(tmp_path, HEAD + DC + SHOP + LINKS + series))
    assert net.demand[0].mean == pytest.approx(published_mean)
    result = simulate(net, periods=len(column), replications=50, seed=1)
    # every replication replays the whole series once (a whole number of cycles)
    assert result.totals["demand_mean"].mean == pytest.approx(published_mean)
    wrong = series.replace("SOS008L02P", "NO-SUCH-PRODUCT")
    text = "\n".join(_problems(_write(tmp_path, HEAD + DC + SHOP + LINKS + wrong)))
    assert "/demand/0/series" in text and "no column 'NO-SUCH-PRODUCT'" in text


def test_the_file_is_toml_with_the_documented_tables() -> None:
    raw = tomllib.loads((EXAMPLES / "serial-4.toml").read_text())
    assert set(raw) == {"network", "company", "link", "demand"}
