"""Automatic kaizen on a simulated world: suggest → simulate → adopt the best → the world runs on
→ measure, N cycles on the five-company distribution network shipped with keiretsu.

The world (``keiretsu.sim.world.World`` on ``examples/sim/distribution-5.toml``) is the truth: a
plant, a central distribution centre and three stores emitting EPCIS events. The twin is a
store filled with those events only. Each cycle:

1. the twin calibrates its model from the store (demand, lead times, the network's shape);
   the companies' own settings — their replenishment policies, what each sees, whether an empty
   shelf loses the sale — are what they configured, not hidden parameters, and replace the
   calibration's base-stock guesses (the company knows its ERP);
2. ``keiretsu.kaizen.suggest`` proposes, simulates and ranks countermeasures (money at the
   model file's own holding costs, via ``Rates.unit_values``, and its lost-sale cost);
3. the best one not flagged as tried is adopted: the change is applied to the world (the floor);
4. the world runs ``--days`` more days; the effect on the candidate's KPI (mean units on hand at
   the end of a day, at its buffer or summed over the network) is measured on the events by an
   interrupted time series (``keiretsu.kaizen.measure.measure_impact``: trend, weekly season,
   AR(1) errors), the first days after the change (the buffer's supply lead time, rounded up)
   left out while stock drains to its new level;
5. *inside*: the measured 95% interval and the predicted 95% interval overlap (see
   docs/kaizen/suggest.md for why this definition).

    .venv/bin/python bench/kaizen_auto.py --cycles 6 --days 28
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

import keiretsu
from keiretsu.analytics.inventory import stock_levels
from keiretsu.analytics.log import Log
from keiretsu.analytics.rates import Rates
from keiretsu.kaizen.measure import measure_impact
from keiretsu.kaizen.suggest import suggest
from keiretsu.model.gs1 import canonical_id
from keiretsu.sim.calibrate import calibrate
from keiretsu.sim.model import Network
from keiretsu.sim.scenario import Variant
from keiretsu.sim.world import World
from keiretsu.sim.world.output import epcis_document
from keiretsu.store import Store

MODEL = Path(keiretsu.__file__).parent / "examples" / "sim" / "distribution-5.toml"


def names_of(world: World) -> dict[str, str]:
    """GS1 id → readable name for every site and party of the world (what the companies call
    their own sites: not a hidden parameter)."""
    out: dict[str, str] = {}
    for b in world.buffers.values():
        out[canonical_id(b.site)] = b.name
        out[canonical_id(b.party)] = b.company_name
    return out


def twin_network(store: Store, world: World, names: dict[str, str]) -> Network:
    """The twin's model: calibrated from the store, with the companies' own settings."""
    cal = calibrate(Log.from_connection(store.con), names=names)
    data = tomllib.loads(cal.network.to_toml())
    truth = world.network
    data["network"]["unmet"] = truth.unmet
    for company in data["company"]:
        if company["name"] in {c.name for c in truth.companies}:
            company["sees"] = list(
                next(c for c in truth.companies if c.name == company["name"]).sees
            )
        for buffer in company["buffer"]:
            if buffer["name"] in truth.buffers:
                buffer["policy"] = truth.buffers[buffer["name"]].policy.model_dump()
    return Network.from_dict(data)


def adopt(world: World, variant: Variant) -> None:
    """Make the change on the floor (the world is the truth: the bench may change it, as a
    company changes its real floor)."""
    world.change(variant)


def ingest_new(world: World, store: Store, folder: Path, cycle: int) -> int:
    created = world.now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    n = 0
    for company, events in world.take_new().items():
        if not events:
            continue
        path = folder / f"{cycle:02d}-{company}.jsonld"
        path.write_bytes(orjson.dumps(epcis_document(events, created)))
        assert store.ingest_file(path).status == "accepted"
        n += len(events)
    return n


def daily_on_hand(store: Store, weights: dict[str, float]) -> dict[Any, float]:
    """Units on hand at the end of each day at the sites (GS1 site id → weight), weighted and
    summed: weight 1 gives units, the holding cost per unit-day gives money per day."""
    t = stock_levels(Log.from_connection(store.con), freq="1d").table
    keep = {canonical_id(s): w for s, w in weights.items()}
    out: dict[Any, float] = {}
    for loc, when, qty in zip(
        t.column("location").to_pylist(),
        t.column("time").to_pylist(),
        t.column("quantity").to_pylist(),
        strict=True,
    ):
        w = keep.get(canonical_id(loc))
        if w is not None:
            day = when - timedelta(days=1)  # the bucket's end → the day it closes
            out[day] = out.get(day, 0.0) + w * float(qty)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cycles", type=int, default=6)
    ap.add_argument("--days", type=int, default=28, help="days the world runs per cycle")
    ap.add_argument("--warmup", type=int, default=28, help="days before the first cycle")
    ap.add_argument("--replications", type=int, default=64)
    ap.add_argument("--periods", type=int, default=100)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None, help="write the cycles here")
    args = ap.parse_args()
    began = time.perf_counter()
    truth = Network.load(MODEL)
    # money at the model file's own holding costs (per unit per day) and lost-sale cost
    rates = Rates(
        holding_per_year=0.25,
        unit_values={b: v.holding_cost * 365 / 0.25 for b, v in truth.buffers.items()},
    )
    shortage = truth.demand[0].lost_sale_cost
    hold = {b: v.holding_cost for b, v in truth.buffers.items()}
    world = World(truth, seed=args.seed).run(args.warmup)
    names = names_of(world)
    site = {b.name: b.site for b in world.buffers.values()}
    folder = Path(tempfile.mkdtemp(prefix="kaizen-auto-"))
    cycles: list[dict[str, Any]] = []
    print(
        f"automatic kaizen: {MODEL.name}, {args.cycles} cycles of {args.days} days, world seed "
        f"{args.seed}, twin {args.replications} replications x {args.periods} days"
    )
    print(
        "cycle | candidate | predicted Δ on hand (95%) | measured Δ (95%) | inside | "
        "predicted removed / day (h, money) | measured removed / day (h, money)"
    )
    with Store(folder / "twin.duckdb") as store:
        ingest_new(world, store, folder, 0)
        for cycle in range(1, args.cycles + 1):
            t0 = time.perf_counter()
            model = twin_network(store, world, names)
            view = suggest(
                store,
                model=model,
                rates=rates,
                shortage_cost=shortage,
                replications=args.replications,
                periods=args.periods,
                seed=cycle,
                limit=None,
            )
            rows = [r for r in view.table.to_pylist() if r["tried"] is None]
            if not rows:
                print(f"{cycle} | nothing to improve | — | — | — | — | —")
                for n in view.notes:
                    print("   ", n)
                world.run(args.days)
                ingest_new(world, store, folder, cycle)
                continue
            best = rows[0]
            changes = json.loads(best["changes"])
            scope = best["acts_on"]
            buffers = list(site) if scope == "network" else [scope]
            sites = [site[b] for b in buffers]
            change_at = world.now
            adopt(world, Variant(best["candidate_id"], changes))
            world.run(args.days)
            ingest_new(world, store, folder, cycle)
            series = daily_on_hand(store, dict.fromkeys(sites, 1.0))
            money_series = daily_on_hand(store, {site[b]: hold[b] for b in buffers})
            # the before window: the days since the previous change (at most --days)
            lead = (
                max(world.network.replenishment_lead_time(b) for b in world.network.buffers)
                if scope == "network"
                else world.network.replenishment_lead_time(scope)
            )
            # stock drains to its new level at the pace of demand: the lead time plus the units
            # cut over the demand per day (the twin's model), left out of the after window
            through = sum(model.end_customer_mean(b) for b in buffers)
            drain = abs(best["difference"] or 0.0) / through if through > 0 else 0.0
            settle = timedelta(days=min(args.days // 2, math.ceil(lead + drain)))
            start = change_at - timedelta(days=args.days)

            def window(
                s: dict[Any, float], start: Any = start, at: Any = change_at, settle: Any = settle
            ) -> dict[Any, float]:
                return {
                    d: v for d, v in s.items() if start <= d < at or at + settle <= d < world.now
                }

            impact = measure_impact(window(series), change_at, metric="on hand")
            money_impact = measure_impact(window(money_series), change_at, metric="holding")
            p_lo, p_hi = best["ci_low"], best["ci_high"]
            inside = (
                impact.low is not None
                and impact.high is not None
                and p_lo is not None
                and p_hi is not None
                and impact.low <= p_hi
                and p_lo <= impact.high
            )
            measured_units = -impact.effect if impact.effect is not None else None
            rec = {
                "cycle": cycle,
                "candidate": best["candidate_id"],
                "kind": best["kind"],
                "changes": changes,
                "rationale": best["rationale"],
                "predicted": best["difference"],
                "predicted_low": p_lo,
                "predicted_high": p_hi,
                "measured": impact.effect,
                "measured_low": impact.low,
                "measured_high": impact.high,
                "detected": impact.detected,
                "inside": inside,
                "predicted_hours": best["hours_removed"],
                "predicted_money": best["money_removed"],
                "measured_hours": None if measured_units is None else measured_units * 24.0,
                "measured_money": (None if money_impact.effect is None else -money_impact.effect),
                "fill_rate_difference": best["fill_rate_difference"],
                "seconds": time.perf_counter() - t0,
            }
            cycles.append(rec)
            print(
                f"{cycle} | {best['candidate_id']} ({best['kind']}: {changes}) | "
                f"{best['difference']:+.2f} [{p_lo:+.2f}, {p_hi:+.2f}] | "
                + (
                    f"{impact.effect:+.2f} [{impact.low:+.2f}, {impact.high:+.2f}]"
                    if impact.effect is not None
                    else impact.verdict
                )
                + f" | {'yes' if inside else 'no'} | "
                f"{best['hours_removed']:.0f} h, {best['money_removed']:.2f} | "
                + (
                    f"{rec['measured_hours']:.0f} h, {rec['measured_money']:.2f}"
                    if measured_units is not None
                    else "—"
                )
                + f"  ({rec['seconds']:.0f} s)"
            )
    done = [c for c in cycles if c["measured"] is not None]
    inside_n = sum(c["inside"] for c in done)
    total_ph = sum(c["predicted_hours"] for c in cycles)
    total_pm = sum(c["predicted_money"] for c in cycles)
    total_mh = sum(c["measured_hours"] for c in done)
    total_mm = sum(c["measured_money"] for c in done if c["measured_money"] is not None)
    print(
        f"total removed per day after {len(cycles)} adoptions: predicted {total_ph:.0f} "
        f"unit-hours, {total_pm:.2f} money; measured {total_mh:.0f} unit-hours, "
        f"{total_mm:.2f} money (holding on hand only)"
    )
    if done:
        print(
            f"inside (measured and predicted 95% intervals overlap): {inside_n}/{len(done)} = "
            f"{inside_n / len(done):.0%}"
        )
    print(f"wall time {time.perf_counter() - began:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(cycles, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
