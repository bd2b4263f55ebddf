"""The demo network a newcomer watches improve: five companies, each a real keiretsu node.

:func:`run_demo` starts one ``keiretsu node serve`` process per company of the shipped demo
model (``examples/demo/demo-5.toml``: resin supplier → parts maker → assembler → distributor →
retailer, end-customer demand fitted to real daily sales), each with its own store, identity,
sharing policy and obeya, under a state directory. The flow-level world plays the physical
chain in accelerated time and captures each company's EPCIS events through its node's
``POST /capture``. The story, told with numbers:

1. **isolated** — no sharing policy (nothing leaves a node); each company orders up to a
   moving-average forecast of its customer's orders: the bullwhip, stock, waiting;
2. **connected** — each node shares its events with its neighbours (a sharing policy installed
   in each home), every company sees end-customer demand and orders up to the network-optimal
   echelon levels (``keiretsu.optimize``), applied to the world (``World.change``);
3. **kaizen** — cycles over the nodes' HTTP APIs: every company's twin simulates its
   suggestions (in its own process, all at once); the one predicted to remove the most
   unit-hours of stock becomes an experiment on its node → simulated → started, and the same
   step is made on the world's floor (``World.change``) → the world runs on → checked on that
   node's events → adopted only when the check detects the effect the way the target wants
   (else abandoned, saying why); the waste curve per cycle.

The figures of each phase are measured from the events the twins captured (the same EPCIS
documents, tallied as they are sent): units on hand per company (a serialised unit is in stock
from ``stock_taking``/``storing`` until ``packing``/``retail_selling``/``destroying``), the
hours a unit waits in stock, and the bullwhip (variance of weekly units each company ships over
the variance of weekly units the end customers buy). Every started process is stopped on the
way out, on Ctrl-C (SIGINT) and on SIGTERM.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import statistics
import sys
import threading
import time
import tomllib
import webbrowser
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import tomli_w

from keiretsu.network.config import NetworkError, NetworkFile
from keiretsu.network.runner import down, up
from keiretsu.network.state import NetworkState

__all__ = [
    "DEMO_MODEL",
    "CycleFigures",
    "DemoOptions",
    "DemoReport",
    "Ledger",
    "PhaseFigures",
    "display_available",
    "run_demo",
]

DEMO_MODEL = Path(__file__).resolve().parent.parent / "examples" / "demo" / "demo-5.toml"
"""The demo's value network (five companies; demand fitted to SupplyGraph's daily sales)."""

OWNER = "demo"
Say = Callable[[str], None]


def _quiet(message: str) -> None:
    pass


@dataclass(frozen=True)
class DemoOptions:
    """How the demo runs. Times in seconds of wall clock, periods in simulated days."""

    dir: Path
    """The state directory: one folder per node (store, home, log), the network file."""
    duration: float = 300.0
    """Wall-clock seconds the story may take: kaizen cycles start while time is left (at least
    one runs)."""
    phase_days: int = 56
    """Simulated days of the isolated phase and of the connected phase (after its settling
    days). The connected phase's days are the kaizen check's days before a change: 56 give it
    the power to tell the first cut (about 8 units of stock) from noise — 28 do not (see
    ``docs/demo.md``)."""
    settle_days: int = 14
    """Simulated days the connected phase runs before its figures are taken: the new levels
    drain the stock the isolated phase left (its figures, and the kaizen check's days before
    a change, are then of the connected network settled)."""
    cycle_days: int = 56
    """Simulated days the world runs after each kaizen change before it is checked (the
    check compares as many days before the change)."""
    cycles: int | None = None
    """At most this many kaizen cycles (None: as many as ``duration`` allows)."""
    seconds_per_day: float = 0.0
    """Wall-clock seconds per simulated day (0: as fast as the nodes take the events)."""
    post_every: int = 1
    """Days of events sent to the nodes in one capture per company."""
    seed: int = 1
    base_port: int = 8780
    host: str = "127.0.0.1"
    replications: int = 16
    """Paired replications of the twin's simulations (suggestions, predictions)."""
    periods: int = 80
    """Simulated days per replication of the twin's simulations."""
    optimizer_replications: int = 16
    stop_after: str | None = None
    """``first-page``: stop once every obeya answers; ``first-kaizen``: once one is adopted."""
    open_browser: bool = False
    model: Path = DEMO_MODEL
    timeout: float = 120.0
    """Seconds each node may take to start."""


@dataclass
class CompanyFigures:
    """One company over a window of days, measured from its events."""

    company: str
    on_hand: float | None
    """Mean units on hand at the end of a day."""
    waiting_hours: float | None
    """Mean hours a unit that left stock in the window had waited in it."""
    bullwhip: float | None
    """Variance of weekly units shipped / variance of weekly units the end customers bought."""
    shipped: int
    sold: int


@dataclass
class PhaseFigures:
    """A phase (or kaizen cycle) of the story: its window and each company's figures."""

    name: str
    start: datetime
    end: datetime
    companies: list[CompanyFigures]
    holding_per_day: float
    """Money per day of the stock on hand at the model's holding costs."""

    @property
    def on_hand(self) -> float:
        return sum(c.on_hand or 0.0 for c in self.companies)

    @property
    def waiting_hours(self) -> float | None:
        values = [c.waiting_hours for c in self.companies if c.waiting_hours is not None]
        return sum(values) if values else None


@dataclass
class CycleFigures:
    """One kaizen cycle: what was tried, predicted, measured and decided."""

    cycle: int
    experiment_id: str | None
    candidate: str | None
    changes: dict[str, Any]
    predicted: float | None
    measured: float | None
    measured_low: float | None
    measured_high: float | None
    decision: str
    """``adopted``, ``abandoned: <why>`` or ``nothing to improve``."""
    figures: PhaseFigures | None = None


@dataclass
class DemoReport:
    """What the demo measured, and when its milestones came (seconds from its start)."""

    nodes: dict[str, str] = field(default_factory=dict)
    """Company → its obeya's URL."""
    events: dict[str, int] = field(default_factory=dict)
    """Company → events its node holds at the end (its own and its partners')."""
    phases: list[PhaseFigures] = field(default_factory=list)
    cycles: list[CycleFigures] = field(default_factory=list)
    optimal_levels: dict[str, float] = field(default_factory=dict)
    first_page: float | None = None
    first_kaizen: float | None = None
    seconds: float = 0.0


# --- the figures, from the events the twins captured -------------------------------------------


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Ledger:
    """Each company's serialised units in and out of stock, from its EPCIS events.

    A unit enters stock with ``stock_taking`` or ``storing`` (its ``epcList``), leaves with
    ``packing`` (an aggregation's ``childEPCs``), ``retail_selling`` or ``destroying``. Units
    sold (``retail_selling``) are the end customers' purchases."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.entered: dict[str, dict[str, datetime]] = defaultdict(dict)
        self.moves: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
        self.waits: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
        self.shipped: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
        self.sold: list[tuple[datetime, int]] = []

    def add(self, company: str, events: list[dict[str, Any]]) -> None:
        """Tally one company's events (in any order within a call; time order across calls)."""
        for e in sorted(events, key=lambda e: _instant(e["eventTime"])):
            step = str(e.get("bizStep", "")).rsplit("/", 1)[-1].rsplit(":", 1)[-1]
            when = _instant(e["eventTime"])
            if step in ("stock_taking", "storing"):
                for epc in e.get("epcList", []):
                    if epc not in self.entered[company]:
                        self.entered[company][epc] = when
                        self.moves[company].append((when, 1))
            elif step in ("packing", "retail_selling", "destroying"):
                units = e.get("childEPCs", []) if step == "packing" else e.get("epcList", [])
                for epc in units:
                    came = self.entered[company].pop(epc, None)
                    if came is None:
                        continue
                    self.moves[company].append((when, -1))
                    self.waits[company].append((when, (when - came).total_seconds() / 3600))
                if step == "packing":
                    self.shipped[company].append((when, len(units)))
                elif step == "retail_selling":
                    self.sold.append((when, len(units)))

    def _weekly(
        self, rows: list[tuple[datetime, int]], start: datetime, end: datetime
    ) -> list[int]:
        weeks = max(1, int((end - start) / timedelta(days=7)))
        totals = [0] * weeks
        for when, n in rows:
            k = int((when - start) / timedelta(days=7))
            if start <= when < end and k < weeks:
                totals[k] += n
        return totals

    def figures(
        self, name: str, start: datetime, end: datetime, holding: Mapping[str, float]
    ) -> PhaseFigures:
        """Each company's figures over ``[start, end)`` (``holding``: money per unit-day)."""
        days = max(1, round((end - start) / timedelta(days=1)))
        sold_weekly = self._weekly(self.sold, start, end)
        sold_var = statistics.variance(sold_weekly) if len(sold_weekly) > 1 else 0.0
        rows: list[CompanyFigures] = []
        money = 0.0
        for company in holding:
            level = 0
            ends: list[float] = []
            moves = sorted(self.moves[company])
            i = 0
            for d in range(days):
                close = start + timedelta(days=d + 1)
                while i < len(moves) and moves[i][0] < close:
                    level += moves[i][1]
                    i += 1
                ends.append(float(level))
            on_hand = statistics.fmean(ends) if ends else None
            waits = [h for when, h in self.waits[company] if start <= when < end]
            shipped_weekly = self._weekly(self.shipped[company], start, end)
            bullwhip = None
            if self.shipped[company] and sold_var > 0 and len(shipped_weekly) > 1:
                bullwhip = statistics.variance(shipped_weekly) / sold_var
            rows.append(
                CompanyFigures(
                    company=company,
                    on_hand=on_hand,
                    waiting_hours=statistics.fmean(waits) if waits else None,
                    bullwhip=bullwhip,
                    shipped=sum(shipped_weekly),
                    sold=sum(n for when, n in self.sold if start <= when < end)
                    if company == list(holding)[-1]
                    else 0,
                )
            )
            money += (on_hand or 0.0) * holding[company]
        return PhaseFigures(name, start, end, rows, money)


# --- the network of nodes ----------------------------------------------------------------------


def _free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _ports(host: str, base: int, n: int) -> int:
    """The first ``base`` at or above the one asked for with ``n`` free ports in a row."""
    for first in range(base, base + 200):
        if all(_free(host, first + i) for i in range(n)):
            return first
    raise NetworkError(f"no {n} free ports in a row from {base} on {host}; pass another --port")


def _policy(company: str, partners: list[str]) -> dict[str, Any]:
    """What a company shares once connected: its logistics events, with its neighbours."""
    return {
        "description": f"{company}: the demo's connected phase — shipments, receipts, stock "
        "and sales, for the neighbours in the chain",
        "rule": [
            {
                "id": "connected-chain",
                "description": "Neighbours see what moves between us and what the end "
                "customers buy, so each plans on real demand, not on guesses from orders.",
                "effect": "permit",
                "subjects": partners,
                "rights": ["read"],
                "share_objects": ["trade item", "logistic unit", "po", "location"],
                "keep_attributes": ["eventType", "action", "disposition", "eventTimeZoneOffset"],
                "keep_object_attributes": ["*"],
            }
        ],
    }


def _network_file(
    options: DemoOptions, companies: list[str], base_port: int
) -> tuple[NetworkFile, dict[str, Path]]:
    """The demo's ``network.toml`` (written into the state directory, for ``keiretsu network
    status``/``down``) and each company's connected-phase policy file."""
    folder = options.dir
    folder.mkdir(parents=True, exist_ok=True)
    policies: dict[str, Path] = {}
    nodes = []
    for i, company in enumerate(companies):
        partners = [c for c in (companies[i - 1 : i] + companies[i + 1 : i + 2]) if c]
        path = folder / "policies" / f"{company}.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(tomli_w.dumps(_policy(company, partners)), encoding="utf-8")
        policies[company] = path
        nodes.append({"name": company, "partners": companies[i + 1 : i + 2]})
    data = {
        "network": {
            "name": "keiretsu-demo",
            "base_port": base_port,
            "host": options.host,
            "dir": str(folder),
        },
        "node": nodes,
    }
    path = folder / "network.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return NetworkFile.load(path), policies


def display_available() -> bool:
    """Whether a browser window can be shown here (a desktop session, not a server or CI)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the demo the way Ctrl-C does (every node stopped on the way out)."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


# --- the story ---------------------------------------------------------------------------------


class _Stop(Exception):
    """The milestone ``stop_after`` asked for is reached."""


class _Demo:
    def __init__(self, options: DemoOptions, say: Say) -> None:
        from keiretsu.sim.model import Network
        from keiretsu.sim.world import World

        self.o = options
        self.say = say
        self.began = time.monotonic()
        self.truth = Network.load(options.model)
        self.world = World(self.truth, seed=options.seed)
        self.companies = [c.name for c in self.truth.companies]
        self.company_of = {b.name: b.company_name for b in self.world.buffers.values()}
        self.holding = {
            self.company_of[name]: b.holding_cost for name, b in self.truth.buffers.items()
        }
        self.ledger = Ledger(self.world.now)
        self.report = DemoReport()
        self.http = httpx.Client(timeout=600.0, trust_env=False)
        self.targets: dict[str, Any] = {}
        self.found: dict[str, Any] = {}
        self.tokens: dict[str, str] = {}
        self.urls: dict[str, str] = {}

    def elapsed(self) -> float:
        return time.monotonic() - self.began

    # the world, live into the nodes
    def run_days(self, days: int) -> None:
        done = 0
        while done < days:
            step = min(self.o.post_every, days - done)
            began = time.monotonic()
            before = self.world.now
            self.world.run(step)
            new = self.world.take_new()
            for company, events in new.items():
                self.ledger.add(company, events)
            self._post(new, before)
            done += step
            rest = self.o.seconds_per_day * step - (time.monotonic() - began)
            if rest > 0:
                time.sleep(rest)

    def _post(self, new: Mapping[str, list[dict[str, Any]]], before: datetime) -> None:
        import orjson

        from keiretsu.sim.world.output import epcis_document

        created = self.world.now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for company, events in new.items():
            if not events:
                continue
            body = orjson.dumps(epcis_document(events, created))
            answer = self.http.post(
                self.urls[company] + "/capture",
                content=body,
                headers={
                    "Content-Type": "application/ld+json",
                    "Authorization": f"Bearer {self.tokens[company]}",
                    "GS1-EPCIS-Version": "2.0.0",
                },
            )
            if answer.status_code != 202:
                raise NetworkError(
                    f"node {company} refused the world's events of {before:%Y-%m-%d}: "
                    f"{answer.status_code} {answer.text[:300]}"
                )

    def call(self, company: str, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.http.request(
            method,
            self.urls[company] + path,
            headers={"Authorization": f"Bearer {self.tokens[company]}"},
            **kwargs,
        )
        if answer.status_code >= 400:
            raise NetworkError(
                f"node {company}: {method} {path} answered {answer.status_code}: "
                f"{answer.text[:400]}"
            )
        return answer.json()

    def delivered(self, companies: list[str] | None = None) -> None:
        """Wait until ``companies`` (default: all) owe their partners no document: a twin
        calibrates, and a check measures, on its partners' events too, which its neighbours'
        delivery workers send after the world's days were captured — checked before they
        all arrived, the control sites' last days are missing (seed 1, a cut measured −3.9
        at the node and −11.8 on the same store once every event had arrived)."""
        deadline = time.monotonic() + self.o.timeout
        for company in companies or self.companies:
            while True:
                rows = self.call(company, "GET", "/twin/partners")
                owed = sum(int(r.get("documents_owed") or 0) for r in rows)
                if owed == 0:
                    break
                if time.monotonic() > deadline:
                    self.say(f"  ({company} still owes its partners {owed} document(s))")
                    break
                time.sleep(0.2)

    def suggestions(self, company: str, *, wait: float | None = None) -> Any:
        """The node's ranked suggestions. They are simulated in the background: the node
        answers 202 (``computing``, ``Retry-After``) until they are ready — an answer without
        rows, which is not "nothing to improve" — so ask again until the 200."""
        deadline = time.monotonic() + self.o.timeout * 5
        while True:
            answer = self.http.get(
                self.urls[company] + "/twin/kaizen/suggestions",
                params={
                    "limit": 5,
                    "wait": 5 if wait is None else wait,
                    "replications": self.o.replications,
                    "periods": self.o.periods,
                    # the optimizer's levels change partners' sites too, which no company
                    # makes on its own (the demo tries only a company's own change)
                    "optimizer": False,
                },
                headers={"Authorization": f"Bearer {self.tokens[company]}"},
            )
            if answer.status_code == 200 or (wait is not None and answer.status_code == 202):
                return answer.json()  # (wait given: the computation started, or done)
            if answer.status_code != 202:
                raise NetworkError(
                    f"node {company}: its suggestions answered {answer.status_code}: "
                    f"{answer.text[:400]}"
                )
            if time.monotonic() > deadline:
                raise NetworkError(f"node {company}: its suggestions still computing")
            time.sleep(min(1.0, float(answer.headers.get("Retry-After", "1"))))

    def own_sites(self, company: str) -> set[str]:
        """The company's sites as its twin names them (``site-<GLN>``)."""
        from keiretsu.model.gs1 import canonical_id

        return {
            "site-" + canonical_id(b.site).rstrip("/").rsplit("/", 1)[-1]
            for b in self.world.buffers.values()
            if self.company_of[b.name] == company
        }

    def measure(self, name: str, start: datetime) -> PhaseFigures:
        figures = self.ledger.figures(name, start, self.world.now, self.holding)
        return figures

    # the phases
    def start_nodes(self) -> None:
        o = self.o
        base = _ports(o.host, o.base_port, len(self.companies))
        state = o.dir / "network.state.json"
        if state.exists():
            down(state)
        for company in self.companies:  # a fresh story: last run's stores go
            shutil.rmtree(o.dir / company, ignore_errors=True)
        net, self.policies = _network_file(o, self.companies, base)
        self.net = net
        self.say(f"starting {len(self.companies)} nodes under {o.dir} …")
        up(net, timeout=o.timeout)
        running = NetworkState.load(net.state_path)
        assert running is not None
        for n in running.nodes:
            self.urls[n.node] = n.url
            self.tokens[n.node] = n.token
            self.report.nodes[n.node] = f"{n.url}/obeya/"
        for company in self.companies:  # the obeya answers: the first page is served
            answer = self.http.get(self.urls[company] + "/obeya/login")
            if answer.status_code != 200:
                raise NetworkError(f"node {company}: its obeya answered {answer.status_code}")
        self.report.first_page = self.elapsed()
        self.say(f"every obeya answers ({self.report.first_page:.0f} s after the start):")
        for company in self.companies:
            self.say(f"  {company:<20} {self.report.nodes[company]}  token {self.tokens[company]}")
        self.say(
            f"log in with the company's token (kept in {o.dir}/<company>/twin.node/"
            "network.token); `keiretsu node token create NAME --store "
            f"{o.dir}/<company>/twin.duckdb` makes another"
        )
        if o.open_browser:
            webbrowser.open(self.report.nodes[self.companies[-1]])
        if o.stop_after == "first-page":
            raise _Stop

    def optimal_levels(self) -> dict[str, float]:
        """The network-optimal echelon base-stock levels when every company sees end-customer
        demand (``keiretsu.optimize.simopt.optimize_network``, the network's cost under a 95 %
        fill rate)."""
        from keiretsu.optimize.simopt import optimize_network
        from keiretsu.sim.model import Network

        data = tomllib.loads(self.truth.to_toml())
        start = _echelon_start(self.truth)
        for company in data["company"]:
            company["sees"] = ["orders", "end_customer_demand", "partner_inventory"]
            # the levels are sized as a planning system sizes them, one unit at a time: the
            # lumps the floor's production batches make are what the kaizen phase finds (with
            # the batches in, this short search ends with no stock upstream of the shop and
            # the shop holding twice as much: seed 1, holding 4.13 a day against 2.73)
            for step in company.get("step", []):
                step["batch_size"] = 1
            for buffer in company["buffer"]:
                level = start[buffer["name"]]
                buffer["policy"] = {"kind": "echelon_base_stock", "level": level}
        found = optimize_network(
            Network.from_dict(data),
            scope="network",
            fill_rate=0.95,
            periods=120,
            replications=self.o.optimizer_replications,
            seed=self.o.seed,
            max_rounds=2,
            max_evaluations=60,
            evaluation_replications=20,
        )
        return {b: float(getattr(p, "level", 0.0)) for b, p in found.policies.items()}

    def phase_isolated(self) -> PhaseFigures:
        self.say(
            f"phase 1 — isolated: no node shares anything; each company orders up to a "
            f"forecast of its customer's orders ({self.o.phase_days} days)"
        )
        start = self.world.now
        self.run_days(self.o.phase_days)
        figures = self.measure("isolated", start)
        self.report.phases.append(figures)
        return figures

    def phase_connected(self, levels: dict[str, float]) -> PhaseFigures:
        # each node now shares with its neighbours: its policy installed in its home
        for spec in self.net.nodes:
            target = spec.home / "policy.toml"
            tmp = target.with_suffix(".part")
            shutil.copyfile(self.policies[spec.name], tmp)
            os.replace(tmp, target)
        changes: dict[str, Any] = {
            "company.*.sees": ["orders", "end_customer_demand", "partner_inventory"]
        }
        for buffer, level in levels.items():
            changes[f"buffer.{buffer}.policy"] = {
                "kind": "echelon_base_stock",
                "level": level,
            }
        self.world.change(changes)
        self.report.optimal_levels = levels
        words = ", ".join(f"{b} {v:.0f}" for b, v in levels.items())
        self.say(
            "phase 2 — connected: each node shares with its neighbours, every company sees "
            "end-customer demand and the stock downstream; network-optimal echelon levels: "
            f"{words} ({self.o.settle_days} days to settle, then {self.o.phase_days} days)"
        )
        self.run_days(self.o.settle_days)
        start = self.world.now
        self.run_days(self.o.phase_days)
        figures = self.measure("connected", start)
        self.report.phases.append(figures)
        return figures

    def kaizen_cycle(self, n: int) -> CycleFigures:
        from keiretsu.model.gs1 import canonical_id

        o = self.o
        self.say(f"kaizen cycle {n}: every company's twin suggests countermeasures …")
        self.delivered()  # every twin sees its partners' events up to now
        # each node simulates its suggestions in its own process, all at once
        for company in self.companies:
            self.suggestions(company, wait=0)
        offers: list[tuple[str, dict[str, Any]]] = []
        for company in self.companies:
            view = self.suggestions(company)
            own = self.own_sites(company)
            # a company changes its own floor only (its sites' policies, the steps that feed
            # them), and checks it on its own site's stock
            offers += [
                (company, r)
                for r in view.get("rows", [])
                if not r.get("tried")
                and r.get("acts_on") in own
                and all(
                    _buffer_of(path) in own or path.startswith("step.")
                    for path in _json(r["changes"])
                )
            ]
        start = self.world.now
        if not offers:
            self.run_days(o.cycle_days)
            figures = self.measure(f"cycle {n}", start)
            cycle = CycleFigures(n, None, None, {}, None, None, None, None, "nothing to improve")
            cycle.figures = figures
            return cycle
        # the countermeasure predicted to remove the most unit-hours of stock a day
        company, best = max(offers, key=lambda x: float(x[1].get("hours_removed") or 0.0))
        when = self.world.now.isoformat()
        exp = self.call(
            company,
            "POST",
            "/twin/kaizen",
            json={"suggestion": best, "owner": OWNER, "at": when},
        )
        eid = exp["experiment_id"]
        self.call(
            company,
            "POST",
            f"/twin/kaizen/{eid}/simulate",
            json={"replications": o.replications, "periods": o.periods, "seed": n, "at": when},
        )
        self.call(company, "POST", f"/twin/kaizen/{eid}/start", json={"at": when})
        sites = {canonical_id(b.site): b.name for b in self.world.buffers.values()}
        changes = _json(best["changes"])
        floor = _on_the_floor(
            changes,
            _json(best.get("before") or "{}"),
            self.world,
            sites,
            acts_on=str(best.get("acts_on") or ""),
        )
        # what the floor had before: an abandoned countermeasure is taken back
        undo: dict[str, Any] = {
            f"buffer.{b}.policy": self.world.network.buffers[b].policy.model_dump()
            for b in {_buffer_of(path) for path in floor} - {None}
            if b in self.world.network.buffers
        }
        undo.update(_steps_before(floor, self.world))
        try:
            self.world.change(floor)
        except ValueError as exc:
            why = f"the change cannot be made on the floor: {exc}"
            self.call(company, "POST", f"/twin/kaizen/{eid}/abandon", json={"why": why})
            return CycleFigures(
                n,
                eid,
                f"{company}: {best['candidate_id']}",
                changes,
                best.get("difference"),
                None,
                None,
                None,
                f"abandoned: {why}",
            )
        words = ", ".join(f"{k} {_said(v)}" for k, v in floor.items())
        self.say(
            f"  {company}, experiment {eid}: {best['candidate_id']} — predicted on its twin "
            f"{_fmt(best.get('difference'), 1)} {best.get('unit') or ''} {best.get('kpi')}; "
            f"on the floor: {words}"
        )
        self.run_days(o.cycle_days)
        figures = self.measure(f"cycle {n}", start)
        measured = low = high = None
        # the twin calls its sites site-<GLN>; the events name them by their GS1 URI
        names = {site: "site-" + site.rstrip("/").rsplit("/", 1)[-1] for site in sites}
        # difference-in-differences against the neighbours' sites, which did not change (their
        # stock is in this node's events since the connection): what moves both — the
        # network's demand, the season — cancels; where they are not in its events, an
        # interrupted time series on the site alone
        i = self.companies.index(company)
        neighbours = self.companies[max(0, i - 1) : i] + self.companies[i + 1 : i + 2]
        control = sorted(s for c in neighbours for s in self.own_sites(c))
        self.delivered(neighbours)  # the control sites' events up to now
        try:
            body = {"at": self.world.now.isoformat(), "names": names, "control": control}
            try:
                checked = self.call(company, "POST", f"/twin/kaizen/{eid}/check", json=body)
            except NetworkError as exc:
                if "control" not in str(exc):
                    raise
                body.pop("control")
                checked = self.call(company, "POST", f"/twin/kaizen/{eid}/check", json=body)
            row = (checked.get("rows") or [{}])[0]
            measured, low, high = row.get("effect"), row.get("low"), row.get("high")
            # adopted on its measured impact only: the check detected the effect, the way the
            # target wants; not detected (or the wrong way) is abandoned, saying so
            if not row.get("in_direction"):
                why = str(row.get("verdict") or "no effect measured")
                self.call(
                    company,
                    "POST",
                    f"/twin/kaizen/{eid}/abandon",
                    json={"why": why, "at": self.world.now.isoformat()},
                )
                self.world.change(undo)  # the old standard back on the floor
                decision = f"abandoned: {why}"
            else:
                self.call(
                    company,
                    "POST",
                    f"/twin/kaizen/{eid}/adopt",
                    json={"at": self.world.now.isoformat()},
                )
                decision = "adopted"
        except NetworkError as exc:
            why = f"not measurable on the events: {str(exc)[-200:]}"
            self.call(
                company,
                "POST",
                f"/twin/kaizen/{eid}/abandon",
                json={"why": why, "at": self.world.now.isoformat()},
            )
            self.world.change(undo)
            decision = f"abandoned: {why}"
        cycle = CycleFigures(
            n,
            eid,
            f"{company}: {best['candidate_id']}",
            floor,
            best.get("difference"),
            measured,
            low,
            high,
            decision,
        )
        cycle.figures = figures
        return cycle

    def search_levels(self) -> None:
        """Start the network-optimal search in a thread (it needs only the model): it runs
        while the nodes start and phase 1 plays; phase 2 waits for it."""
        found = self.found = {}

        def search() -> None:
            try:
                found["levels"] = self.optimal_levels()
            except Exception as exc:  # reported when phase 2 needs it
                found["error"] = exc

        self.searching = threading.Thread(target=search, name="network-optimal", daemon=True)
        self.searching.start()

    def story(self) -> None:
        o = self.o
        if not hasattr(self, "searching"):
            self.search_levels()
        self.say(_phase_line(self.phase_isolated()))
        self.searching.join()
        found = self.found
        if "error" in found:
            raise NetworkError(f"the network-optimal search failed: {found['error']}")
        self.say(_phase_line(self.phase_connected(found["levels"])))
        self.say(
            f"phase 3 — kaizen: each cycle, every company's twin suggests; the countermeasure "
            f"predicted to remove the most stock is tried (cycles of {o.cycle_days} days)"
        )
        n = 0
        while True:
            n += 1
            last = self.report.cycles[-1] if self.report.cycles else None
            if last is not None and last.experiment_id and last.decision.startswith("abandoned"):
                # the old standard back on the floor runs a cycle before the next change: the
                # days the next twins calibrate on and the next check compares with (else the
                # "before" would be the abandoned experiment's days — a cut measured against a
                # cut, seed 2: −12.4 predicted, +3.7 measured)
                self.say(
                    f"  the standard back on the floor runs {o.cycle_days} days before the next "
                    "change"
                )
                self.run_days(o.cycle_days)
            cycle = self.kaizen_cycle(n)
            self.report.cycles.append(cycle)
            self.say(_cycle_line(cycle))
            if cycle.decision == "adopted" and self.report.first_kaizen is None:
                self.report.first_kaizen = self.elapsed()
                if o.stop_after == "first-kaizen":
                    raise _Stop
            if o.cycles is not None and n >= o.cycles:
                break
            if o.cycles is None and self.elapsed() >= o.duration:
                break
        for company in self.companies:
            self.report.events[company] = int(self.call(company, "GET", "/twin")["store"]["events"])


def _echelon_start(net: Any) -> dict[str, float]:
    """Where the network-optimal search starts: each buffer's echelon level covering the
    end-customer demand over its echelon's lead time (its supply's lead time and every lead
    time downstream of it, in periods) plus one review, with two standard deviations of
    safety. A search from one level everywhere ends, in its few rounds, with every echelon at
    about the same level: nothing stocked upstream, the shop waiting on the whole chain."""
    mean = sum(d.mean for d in net.demand)
    var = 0.0
    for d in net.demand:  # a day's spread: the distribution's, and the weekly season's
        season = list(d.seasonal or [1.0])
        var += float(d.distribution.variance) * statistics.fmean(x * x for x in season)
        var += d.mean**2 * statistics.pvariance(season)
    sd = math.sqrt(var)
    out: dict[str, float] = {}
    for name in net.buffers:
        lead = 0.0
        here: str | None = name
        first = True
        while here is not None:
            into = net.links_into(here)
            if first:
                lead += max((k.lead_time.mean_value for k in into), default=0.0)
                first = False
            after = [k for k in net.links if k.source == here]
            if not after:
                break
            lead += after[0].lead_time.mean_value
            here = after[0].target
        cover = lead + 1.0
        out[name] = float(math.ceil(mean * cover + 2.0 * sd * math.sqrt(cover)))
    return out


def _buffer_of(path: str) -> str | None:
    """The buffer a model path changes (``buffer.<name>.…``), or None."""
    parts = path.split(".")
    return parts[1] if parts[0] == "buffer" and len(parts) > 1 else None


def _json(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(value) if isinstance(value, str) else dict(value or {})
    return out


def _said(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} {v}" for k, v in value.items() if v is not None) + "}"
    return _fmt(value, 0) if isinstance(value, float) else str(value)


def _steps_before(floor: Mapping[str, Any], world: Any) -> dict[str, Any]:
    """Each step setting ``floor`` changes (``step.<name>.<field>``), as the world has it now."""
    out: dict[str, Any] = {}
    for path in floor:
        parts = path.split(".")
        if parts[0] != "step" or len(parts) != 3:
            continue
        for company in world.network.companies:
            for step in company.steps:
                if step.name == parts[1]:
                    out[path] = step.model_dump(by_alias=True)[parts[2]]
    return out


def _on_the_floor(
    changes: Mapping[str, Any],
    before: Mapping[str, Any],
    world: Any,
    sites: Mapping[str, str],
    *,
    acts_on: str = "",
) -> dict[str, Any]:
    """The twin's change made on the world's floor, as the same step.

    The twin names a site ``site-<GLN>``; the world, by its buffer. A whole new policy (a
    kanban in place of base stock) is put in as it is. A level the twin moves from ``before``
    to a new value moves the floor's own level by as much: the twin models each site as
    ordering up to the level it sees it keep (``before``), and the floor's setting may be
    spelled otherwise (an echelon level, which counts the stock downstream too) — "order up
    to 21 units less" is the same step on both. A step the twin names (``step.<name>.…``,
    its name read from the events' business step) is the world's step of that name feeding
    the buffer the change acts on (``acts_on``), or its first step that works in batches."""
    floor: dict[str, Any] = {}
    for path, value in changes.items():
        parts = path.split(".")
        if parts[0] == "buffer" and len(parts) > 1:
            parts[1] = _world_name(parts[1], sites)
        if parts[0] == "step" and len(parts) == 3:
            parts[1] = _world_step(parts[1], _world_name(acts_on, sites), world)
        was = before.get(path)
        if (
            len(parts) == 4
            and parts[0] == "buffer"
            and parts[2] == "policy"
            and parts[3] == "level"
            and isinstance(was, int | float)
            and isinstance(value, int | float)
            and parts[1] in world.buffers
        ):
            level = getattr(world.buffers[parts[1]].policy, "level", None)
            if isinstance(level, int | float):
                value = max(0.0, float(level) + float(value) - float(was))
        floor[".".join(parts)] = value
    return floor


def _world_step(name: str, buffer: str, world: Any) -> str:
    """The world's step behind the twin's name for it, among the steps feeding ``buffer``."""
    net = world.network
    if buffer not in net.buffers:
        return name
    steps = net.steps_of(buffer)
    if any(s.name == name for s in steps):
        return name
    batched = [s.name for s in steps if s.batch_size > 1]
    return batched[0] if batched else name


def _world_name(name: str, names: Mapping[str, str]) -> str:
    """The world's buffer behind the twin's name for it (``site-9520005000016`` → ``shop``)."""
    digits = name.removeprefix("site-")
    for site, buffer in names.items():
        if site.rstrip("/").endswith(digits) or buffer == name:
            return buffer
    return name


def _fmt(x: float | None, digits: int = 1) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _phase_line(p: PhaseFigures) -> str:
    lines = [
        f"  {p.name}: {p.start:%Y-%m-%d} .. {p.end:%Y-%m-%d} — network on hand "
        f"{p.on_hand:.0f} units, holding {p.holding_per_day:.2f}/day, waiting in stock "
        f"{_fmt(p.waiting_hours, 0)} h summed over the companies"
    ]
    for c in p.companies:
        lines.append(
            f"    {c.company:<20} on hand {_fmt(c.on_hand):>7}  "
            f"waiting {_fmt(c.waiting_hours):>7} h"
            f"  bullwhip {_fmt(c.bullwhip, 2):>6}"
        )
    return "\n".join(lines)


def _cycle_line(c: CycleFigures) -> str:
    head = f"  cycle {c.cycle}: "
    if c.experiment_id is None:
        head += "nothing to improve"
    else:
        head += (
            f"{c.candidate} — predicted {_fmt(c.predicted, 2)}, measured {_fmt(c.measured, 2)}"
            f" [{_fmt(c.measured_low, 2)}, {_fmt(c.measured_high, 2)}] → {c.decision}"
        )
    if c.figures is not None:
        f = c.figures
        head += (
            f"\n    network on hand {f.on_hand:.0f} units, holding {f.holding_per_day:.2f}/day, "
            f"waiting {_fmt(f.waiting_hours, 0)} h"
        )
    return head


def render_report(report: DemoReport) -> str:
    """The story in plain text: the three phases and the waste curve."""
    lines = ["", "keiretsu demo — the report", ""]
    if report.first_page is not None:
        lines.append(f"first obeya served {report.first_page:.1f} s after the start")
    if report.first_kaizen is not None:
        lines.append(f"first kaizen adopted {report.first_kaizen:.1f} s after the start")
    for p in report.phases:
        lines.append(_phase_line(p))
    for c in report.cycles:
        lines.append(_cycle_line(c))
    curve = [(p.name, p.on_hand, p.holding_per_day, p.waiting_hours) for p in report.phases]
    curve += [
        (f"cycle {c.cycle}", c.figures.on_hand, c.figures.holding_per_day, c.figures.waiting_hours)
        for c in report.cycles
        if c.figures is not None
    ]
    lines.append("")
    lines.append("the waste curve (network: units on hand, holding money per day, waiting h)")
    for name, on_hand, money, waiting in curve:
        bar = "#" * max(1, round(on_hand / max(1.0, max(x[1] for x in curve)) * 40))
        lines.append(f"  {name:<10} {on_hand:>7.0f} {money:>8.2f} {_fmt(waiting, 0):>7}  {bar}")
    if report.events:
        lines.append("")
        lines.append(
            "events held by each node: " + ", ".join(f"{k} {v}" for k, v in report.events.items())
        )
    lines.append(f"wall time {report.seconds:.0f} s")
    return "\n".join(lines)


def run_demo(options: DemoOptions, *, say: Say = _quiet) -> DemoReport:
    """Run the demo (see the module docstring) and stop every node it started, whatever
    happens (Ctrl-C included: the :class:`KeyboardInterrupt` is raised again once they are
    stopped). Returns what it measured."""
    demo = _Demo(options, say)
    state = options.dir / "network.state.json"
    try:
        with _sigterm_as_interrupt():
            try:
                if options.stop_after != "first-page":
                    demo.search_levels()  # meanwhile the nodes start
                demo.start_nodes()
                demo.story()
            except _Stop:
                pass
    finally:
        demo.http.close()
        if state.exists():
            say("stopping the nodes …")
            down(state, timeout=10.0)
        demo.report.seconds = demo.elapsed()
    return demo.report
