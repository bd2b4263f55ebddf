"""``keiretsu kaizen …`` through the real CLI (Typer's runner) on a node store the flow-level
world filled with sixteen days of a distribution centre and a shop (from Monday 6 January
2025), the shop's base stock lowered from 40 to 30 on the floor on the ninth day.

One experiment goes the whole way — planned with its evidence, predicted, started, checked,
adopted — with dates inside the log, so the improvement curve shows it; others are written
from a TOML file, from a suggestion, and abandoned. What the commands print (``--json``) is
checked against the store's own tables read with plain SQL and, for the curve, against its
definition (baseline = the periods before the adoption, gain = baseline − a later period's
waste; its figures by hand are tests/kaizen/test_curve.py's).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from keiretsu.cli import app
from keiretsu.model.gs1 import canonical_id
from keiretsu.sim.model import (
    BaseStock,
    Buffer,
    Company,
    Constant,
    Demand,
    Gamma,
    Link,
    Network,
    Poisson,
)
from keiretsu.sim.world import World, write_epcis_files
from keiretsu.store import Store

runner = CliRunner()


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Path, dict[str, str]]]:
    truth = Network(
        name="dc-shop",
        period="day",
        companies=(
            Company(name="dc", buffers=(Buffer(name="dc", policy=BaseStock(level=50)),)),
            Company(name="shop", buffers=(Buffer(name="shop", policy=BaseStock(level=40)),)),
        ),
        links=(
            Link(target="dc", lead_time=Constant(value=1)),
            Link(source="dc", target="shop", lead_time=Gamma(mean=1.5, sd=0.4)),
        ),
        demand=(Demand(at="shop", distribution=Poisson(mean=10.0)),),
    )
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # eight days as they were, then the shop's base stock cut by 10 on the floor
        w = World(truth, seed=5).run(8)
        w.change({"buffer.shop.policy.level": 30})
        w.run(8)
        with Store(root / "node.duckdb") as store:
            for path in write_epcis_files(w, root / "epcis").values():
                assert store.ingest_file(path).status == "accepted"
        names = {canonical_id(v["site"]): k for k, v in w.truth()["stock"].items()}
        yield root / "node.duckdb", names


QUIET = {"new", "simulate", "check", "suggest", "curve"}
"""The commands with a spinner (turned off with -q)."""


def kz(store: Path, *args: str) -> Any:
    """Run ``keiretsu kaizen ARGS --store STORE --json`` and return the parsed JSON."""
    quiet = ["-q"] if args[0] in QUIET else []
    result = runner.invoke(app, ["kaizen", *args, "--store", str(store), "--json", *quiet])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def refused(store: Path, *args: str) -> str:
    """Run a command that must be refused: exit status 2 and one line, no traceback."""
    result = runner.invoke(app, ["kaizen", *args, "--store", str(store)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    text = result.stderr.strip() or result.output.strip()
    return text


def sql(store: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(store), read_only=True) as con:
        return con.execute(query, list(params)).fetchall()


def at(day: int, hour: int = 0) -> str:
    return datetime(2025, 1, day, hour, tzinfo=UTC).isoformat()


def test_one_experiment_from_plan_to_adopted_and_on_the_curve(
    world: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    store, names = world
    made = kz(
        store, "new", "--id", "kz-shop", "--title", "Less stock at the shop",
        "--problem", "The shop holds more than it sells", "--waste", "inventory",
        "--hypothesis", "Ten units less base stock cut what is on hand",
        "--change", "buffer.shop.policy.level=30", "--metric", "on_hand", "--scope", "shop",
        "--unit", "units", "--owner", "shop manager", "--at", at(6), "--target-days", "1",
    )  # fmt: skip
    assert (made["experiment_id"], made["status"]) == ("kz-shop", "plan")
    assert made["next_moves"] == ["simulated", "abandoned"]
    # the experiment as the store keeps it, read with plain SQL
    row = sql(
        store,
        "SELECT title, waste, variant_changes, target_metric, target_scope, owner"
        " FROM kaizen_experiment WHERE experiment_id = 'kz-shop'",
    )
    assert row[0][:2] == ("Less stock at the shop", "inventory")
    assert json.loads(row[0][2]) == {"buffer.shop.policy.level": 30}
    assert row[0][3:] == ("on_hand", "shop", "shop manager")
    # its evidence: sites where stock sits above a day of demand — sites the events name
    kept = {r[0] for r in sql(store, "SELECT ref FROM kaizen_evidence WHERE kind = 'location'")}
    sites = sql(
        store,
        "SELECT DISTINCT ocel_object_id FROM ocel_event_object WHERE ocel_qualifier IN"
        " ('bizLocation', 'readPoint')",
    )
    assert kept and kept <= {r[0] for r in sites}

    # the twin's prediction: kept, pointing down, and the experiment simulated
    name_args = [a for site, n in names.items() for a in ("--name", f"{site}={n}")]
    predicted = kz(store, "simulate", "kz-shop", "-r", "8", "-p", "30", "--at", at(7), *name_args)
    assert predicted["status"] == "simulated"
    assert predicted["kpi"] == "on_hand" and predicted["scope"] == "shop"
    assert predicted["difference"] < 0 and predicted["ci_high"] < 0
    kept_prediction = sql(
        store, "SELECT difference, replications FROM kaizen_prediction WHERE experiment_id = ?",
        "kz-shop",
    )  # fmt: skip
    assert kept_prediction == [(pytest.approx(predicted["difference"]), 8)]

    assert kz(store, "start", "kz-shop", "--at", at(14), "--note", "level lowered")["status"] == (
        "running"
    )
    # adopting a running experiment is refused, saying where it may go
    line = refused(store, "adopt", "kz-shop")
    assert "cannot move to adopted" in line and "checked, abandoned" in line
    assert len(line.splitlines()) == 1
    # check: the on-hand at the shop measured on the events, before and after the 14th
    shop = next(site for site, n in names.items() if n == "shop")
    checked = kz(store, "check", "kz-shop", "--name", f"{shop}=shop", "--at", at(20))
    assert checked["status"] == "checked"
    (m,) = checked["rows"]
    assert (m["metric"], m["scope"], m["periods_before"], m["periods_after"]) == (
        "on_hand", "shop", 8, 8,
    )  # fmt: skip
    # the plain before/after difference is the cut the world made (40 → 30 units)
    assert m["naive_effect"] == pytest.approx(-10, abs=3)
    kept_m = sql(
        store, "SELECT effect, verdict FROM kaizen_measurement WHERE experiment_id = 'kz-shop'"
    )
    assert kept_m == [(pytest.approx(m["effect"]), m["verdict"])]
    adopted = kz(store, "adopt", "kz-shop", "--at", at(20))
    assert (adopted["status"], adopted["next_moves"]) == ("adopted", [])
    statuses = sql(
        store, "SELECT status, moved_at, note FROM kaizen_status WHERE experiment_id = ?"
        " ORDER BY seq", "kz-shop",
    )  # fmt: skip
    assert [s[0] for s in statuses] == ["plan", "simulated", "running", "checked", "adopted"]
    assert statuses[2][2] == "level lowered"
    assert statuses[-1][1] == datetime(2025, 1, 20, tzinfo=UTC)

    # show: the A3 as JSON and as Markdown
    page = kz(store, "show", "kz-shop")
    assert page["status"] == "adopted"
    assert page["countermeasure"]["changes"] == {"buffer.shop.policy.level": 30}
    assert page["results"]["predicted"]["difference"] == pytest.approx(predicted["difference"])
    assert page["results"]["measured"]["effect"] == pytest.approx(m["effect"])
    shown = runner.invoke(app, ["kaizen", "show", "kz-shop", "--store", str(store)])
    assert shown.exit_code == 0 and "Less stock at the shop" in shown.stdout
    assert "Countermeasure" in shown.stdout

    # the curve: two-week periods from Monday 6 January (aligned with the Monday origin);
    # the adoption on the 20th starts the second, which comes after it
    svg = tmp_path / "curve.svg"
    curve = kz(store, "curve", "--freq", "2w", "--scope", "network", "--svg", str(svg))
    rows = curve["rows"]
    assert [r["period_start"][:10] for r in rows] == ["2025-01-06", "2025-01-20"]
    assert rows[0]["adopted"] == [] and rows[1]["adopted"] == ["kz-shop"]
    events = sql(
        store, "SELECT count(*) FROM ocel_event WHERE ocel_time < TIMESTAMPTZ '2025-01-20 00:00+00'"
    )
    assert rows[0]["events"] == events[0][0]
    base = rows[0]["money"]
    assert curve["meta"]["baseline_money"] == pytest.approx(base)
    assert rows[0]["gain_money"] is None
    assert rows[1]["gain_money"] == pytest.approx(base - rows[1]["money"])
    assert rows[1]["cumulative_gain_money"] == pytest.approx(base - rows[1]["money"])
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert "kz-shop" in svg.read_text()

    listed = kz(store, "list", "--status", "adopted")
    assert [r["experiment_id"] for r in listed["rows"]] == ["kz-shop"]


def test_an_experiment_from_a_toml_file_with_its_notes_and_one_abandoned(
    world: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    store, _ = world
    spec = tmp_path / "exp.toml"
    spec.write_text(
        'id = "kz-dc"\ntitle = "Share demand with the DC"\nproblem = "The DC orders blind"\n'
        'hypothesis = "Seeing the shop\'s sales damps its orders"\nkind = "information"\n'
        'owner = "dc planner"\nwaste = "inventory"\nevidence = false\n'
        '[countermeasure]\nname = "dc-sees-demand"\n'
        '[countermeasure.changes]\n"company.dc.sees" = ["orders", "end_customer_demand"]\n'
        '[target]\nmetric = "bullwhip"\nscope = "dc"\n'
        '[notes]\nroot_cause = "The DC forecasts from the shop\'s orders"\n',
        encoding="utf-8",
    )
    made = kz(store, "new", "--file", str(spec))
    assert (made["experiment_id"], made["kind"]) == ("kz-dc", "information")
    page = kz(store, "show", "kz-dc")
    assert page["root_cause"] == "The DC forecasts from the shop's orders"
    assert page["countermeasure"]["variant"] == "dc-sees-demand"
    assert page["countermeasure"]["changes"] == {
        "company.dc.sees": ["orders", "end_customer_demand"]
    }
    assert sql(store, "SELECT count(*) FROM kaizen_evidence WHERE experiment_id = 'kz-dc'") == [
        (0,)
    ]
    noted = kz(store, "note", "kz-dc", "plan", "Two weeks, from Monday")
    assert noted["status"] == "plan"
    assert kz(store, "show", "kz-dc")["plan"]["text"] == "Two weeks, from Monday"

    # abandon needs its why, and keeps it
    missing = runner.invoke(app, ["kaizen", "abandon", "kz-dc", "--store", str(store)])
    assert missing.exit_code == 2
    gone = kz(store, "abandon", "kz-dc", "--why", "the DC's ERP cannot take the feed")
    assert gone["status"] == "abandoned"
    assert sql(
        store,
        "SELECT note FROM kaizen_status WHERE experiment_id = 'kz-dc' ORDER BY seq DESC LIMIT 1",
    ) == [("the DC's ERP cannot take the feed",)]
    line = refused(store, "start", "kz-dc")
    assert "abandoned" in line and "nowhere (it is final)" in line

    # what was learnt: the node's own experiments, the failure included
    lessons = kz(store, "lessons", "--status", "abandoned")
    assert [(r["source"], r["experiment_id"]) for r in lessons["rows"]] == [("local", "kz-dc")]


def test_suggestions_and_an_experiment_from_one(
    world: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    store, _ = world
    out = tmp_path / "suggestions.json"
    found = kz(
        store, "suggest", "-r", "2", "-p", "10", "--limit", "2", "--no-optimizer",
        "--out", str(out),
    )  # fmt: skip
    rows = found["rows"]
    assert rows and [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert json.loads(out.read_text())["rows"] == rows
    made = kz(
        store, "new", "--from-suggestion", "1", "--suggestions", str(out),
        "--owner", "shop manager", "--id", "kz-suggested",
    )  # fmt: skip
    assert made["experiment_id"] == "kz-suggested"
    kept = sql(
        store,
        "SELECT variant_name, variant_changes, countermeasure_kind FROM kaizen_experiment"
        " WHERE experiment_id = 'kz-suggested'",
    )
    assert kept[0][0] == rows[0]["candidate_id"]
    assert json.loads(kept[0][1]) == json.loads(rows[0]["changes"])
    assert kept[0][2] == rows[0]["kind"]
    line = refused(store, "new", "--from-suggestion", "99", "--suggestions", str(out),
                   "--owner", "x")  # fmt: skip
    assert "no suggestion ranked 99" in line


def test_mistakes_are_one_clear_line(world: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    store, _ = world
    assert "no experiment 'kz-nope'" in refused(store, "show", "kz-nope")
    assert "no store here" in refused(tmp_path / "none.duckdb", "list")
    assert "PATH=VALUE" in refused(
        store, "new", "--title", "t", "--problem", "p", "--hypothesis", "h",
        "--metric", "cost", "--owner", "o", "--change", "level 30",
    )  # fmt: skip
    assert "--title" in refused(store, "new", "--change", "a=1")
    assert "--scope 'everyone'" in refused(store, "curve", "--scope", "everyone")
    assert "--at" in refused(store, "start", "kz-shop", "--at", "Tuesday")
    assert "--status 'done'" in refused(store, "list", "--status", "done")
