"""Calibration: a twin builds its own model of the network from the events in its store.

The twin never reads the world's parameters: it reads its store (EPCIS events, as a node
records them) and fits a :class:`~keiretsu.sim.model.Network` — the model the simulations run —
from what the events show:

* **sites and companies** — every business location where goods are recorded is a buffer
  (a stock point), owned by the party that ships from or receives at it;
* **transport times per link** (periods) — each pallet's ``shipping`` event to its
  ``receiving`` event, grouped by (source location, receiving location);
* **processing time per step** (hours per batch) — at a site that makes goods, a batch starts
  when its serial numbers are commissioned and ends at the step's event (set-up and processing
  together: the events do not tell them apart); at a later step, from the batch's last item
  arriving (its previous event) to the step's event (queue for the machine included);
* **batch size** per step — items per step event (the most common size);
* **yield and rework** per step — items found ``non_conformant`` after the step over the items
  through it; ``repairing`` over ``non_conformant``;
* **end-customer demand** per selling site (units per period) — what the customers took
  (:func:`keiretsu.analytics.customer.exits`: sold, or shipped outside the network), counted
  per period, periods without sales counted as zero;
* **inventory policy** per buffer — an order-up-to (base-stock) level: the median of the
  inventory position the events show at each period start (on hand and in the site's steps,
  plus goods in transit to it, plus raw material arriving within the outside lead time).

Each distribution is fitted with scipy (maximum likelihood) over candidate families — gamma,
normal and uniform for times; Poisson, normal and gamma for demand counts (the continuous ones
discretised as the simulation rounds them) — and the family with the lowest **AIC** is chosen;
the Kolmogorov–Smirnov distance to the fitted distribution and its p-value are kept beside it
(:attr:`CalibratedModel.fits`). What the events cannot show is said in the notes and set to a
stated default: outside suppliers' lead times (no order events), capacities, costs and what
each company sees.

:func:`validate` plays the calibrated model with the flow-level world
(:class:`keiretsu.sim.world.World`) for as long as the store spans, measures the simulated
goods' lead times with the same analytics, and compares them with the store's by a two-sample
test (``scipy.stats.ks_2samp`` and ``anderson_ksamp``). :func:`calibrate_store` does both for
the command line: the model file's text, the fits and the validation.

How each figure is computed, and its reference, is in ``docs/sim/calibrate.md``.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from scipy import stats  # type: ignore[import-untyped]

from keiretsu.analytics.customer import exits
from keiretsu.analytics.flow import object_times
from keiretsu.analytics.inventory import ARRIVING_STEPS, event_facts, movements, product_of
from keiretsu.analytics.log import Log
from keiretsu.analytics.traces import steps
from keiretsu.analytics.view import View
from keiretsu.model.gs1 import LOGISTIC_UNIT, TRADE_ITEM
from keiretsu.sim.model import (
    BaseStock,
    Buffer,
    Company,
    Constant,
    Demand,
    Distribution,
    Gamma,
    Link,
    Network,
    Normal,
    Poisson,
    Step,
    Uniform,
)
from keiretsu.sim.world import HOURS_PER_PERIOD, World

__all__ = [
    "CalibratedModel",
    "Fit",
    "calibrate",
    "calibrate_store",
    "compare_lead_times",
    "finished_lead_hours",
    "fit_counts",
    "fit_times",
    "last_shift",
    "regime_start",
    "simulate_lead_times",
    "validate",
    "world_lead_hours",
]

FloatArray = npt.NDArray[np.float64]

CUSTOM_STEP = "urn:keiretsu:bizstep:"
"""How a company's own business step is written (a step name that is not a CBV word)."""

LOGISTICS_STEPS = frozenset(
    {
        "receiving",
        "arriving",
        "shipping",
        "departing",
        "packing",
        "unpacking",
        "storing",
        "stock_taking",
        "commissioning",
        "inspecting",
        "repairing",
        "destroying",
        "retail_selling",
        "loading",
        "picking",
        "decommissioning",
    }
)
"""Business steps that move, count, check or sell goods: not a process step of the model."""

# Monday 1970-01-05 UTC: periods are counted from here (a day starts at midnight UTC, a week on
# Monday), as the analytics bucket days and weeks
_ORIGIN = datetime(1970, 1, 5, tzinfo=UTC)
_CONSTANT_SPREAD = 1e-6
"""A sample whose range is below this share of its mean (or 1 ms) is a constant."""
_FIT_COLUMNS = pa.schema(
    [
        ("quantity", pa.string()),
        ("subject", pa.string()),
        ("unit", pa.string()),
        ("n", pa.int64()),
        ("family", pa.string()),
        ("parameters", pa.string()),
        ("mean", pa.float64()),
        ("sd", pa.float64()),
        ("aic", pa.float64()),
        ("ks_distance", pa.float64()),
        ("ks_pvalue", pa.float64()),
        ("candidates", pa.string()),
        ("note", pa.string()),
    ]
)


# --- fitting ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """One fitted quantity: the sample, the chosen distribution (as the model writes it), the
    fit's parameters in scipy's terms, its AIC, and its goodness of fit.

    ``aic`` = 2k − 2 ln L of the chosen family (k its parameters); ``candidates`` the AIC of
    every family tried (``inf`` where it cannot describe the sample); ``ks_distance`` and
    ``ks_pvalue``: ``scipy.stats.kstest`` of the sample against the fitted distribution (the
    p-value is optimistic: the parameters were estimated from the same sample)."""

    quantity: str
    subject: str
    unit: str
    sample: FloatArray
    family: str
    parameters: dict[str, float]
    distribution: Distribution
    aic: float | None
    ks_distance: float | None
    ks_pvalue: float | None
    candidates: dict[str, float] = field(default_factory=dict)
    note: str = ""

    @property
    def n(self) -> int:
        """Observations in the sample."""
        return len(self.sample)

    def row(self) -> dict[str, Any]:
        """The fit as a row of :attr:`CalibratedModel.fits`."""
        return {
            "quantity": self.quantity,
            "subject": self.subject,
            "unit": self.unit,
            "n": self.n,
            "family": self.family,
            "parameters": json.dumps(self.parameters),
            "mean": self.distribution.mean_value,
            "sd": math.sqrt(self.distribution.variance),
            "aic": self.aic,
            "ks_distance": self.ks_distance,
            "ks_pvalue": self.ks_pvalue,
            "candidates": json.dumps(
                {k: (None if not math.isfinite(v) else v) for k, v in self.candidates.items()}
            ),
            "note": self.note,
        }


def _aic(loglik: float, k: int) -> float:
    return 2 * k - 2 * loglik if math.isfinite(loglik) else math.inf


def _is_constant(x: FloatArray) -> bool:
    spread = float(x.max() - x.min())
    return spread <= max(_CONSTANT_SPREAD * abs(float(x.mean())), 1e-9)


def fit_times(values: Any, *, quantity: str, subject: str, unit: str) -> Fit:
    """Fit a positive duration (a transport time in periods, a processing time in hours) by
    maximum likelihood with scipy: gamma (location 0), normal and uniform; the lowest AIC wins.
    A sample whose values are all the same is a constant; an empty one raises ValueError."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        raise ValueError(f"{quantity} of {subject}: no observations to fit")
    if len(x) == 1 or _is_constant(x):
        value = float(x.mean())
        return Fit(
            quantity,
            subject,
            unit,
            x,
            "constant",
            {"value": value},
            Constant(value=max(value, 0.0)),
            None,
            None,
            None,
            {"constant": math.nan},
            "every observation the same",
        )
    fits: dict[str, tuple[float, dict[str, float], Distribution, Any]] = {}
    if x.min() > 0:
        a, _, scale = stats.gamma.fit(x, floc=0)
        frozen = stats.gamma(a, scale=scale)
        fits["gamma"] = (
            _aic(float(frozen.logpdf(x).sum()), 2),
            {"a": float(a), "scale": float(scale)},
            Gamma(mean=float(a * scale), sd=float(math.sqrt(a) * scale)),
            frozen,
        )
    mu, sd = stats.norm.fit(x)
    frozen = stats.norm(mu, sd)
    fits["normal"] = (
        _aic(float(frozen.logpdf(x).sum()), 2),
        {"loc": float(mu), "scale": float(sd)},
        Normal(mean=float(mu), sd=float(sd)),
        frozen,
    )
    lo, width = stats.uniform.fit(x)
    frozen = stats.uniform(lo, width)
    fits["uniform"] = (
        _aic(float(frozen.logpdf(x).sum()), 2),
        {"loc": float(lo), "scale": float(width)},
        Uniform(low=max(float(lo), 0.0), high=max(float(lo + width), 0.0)),
        frozen,
    )
    best = min(fits, key=lambda k: fits[k][0])
    aic, params, dist, frozen = fits[best]
    ks = stats.kstest(x, frozen.cdf)
    return Fit(
        quantity,
        subject,
        unit,
        x,
        best,
        params,
        dist,
        aic,
        float(ks.statistic),
        float(ks.pvalue),
        {k: v[0] for k, v in fits.items()},
    )


def _binned(frozen: Any, x: FloatArray) -> float:
    """Log-likelihood of whole counts under a continuous distribution rounded to the nearest
    whole number, below zero counted as zero (as the simulations draw demand)."""
    upper = frozen.cdf(x + 0.5)
    lower = np.where(x <= 0, 0.0, frozen.cdf(x - 0.5))
    p = np.clip(upper - lower, 1e-300, None)
    return float(np.log(p).sum())


def fit_counts(values: Any, *, quantity: str, subject: str, unit: str) -> Fit:
    """Fit whole counts per period (demand): Poisson, normal and gamma with scipy, the
    continuous families by the probability of each count once rounded (as the simulations round
    a draw), so the three likelihoods compare; the lowest AIC wins. All the same: a constant."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0:
        raise ValueError(f"{quantity} of {subject}: no observations to fit")
    if len(x) == 1 or _is_constant(x):
        value = float(x.mean())
        return Fit(
            quantity,
            subject,
            unit,
            x,
            "constant",
            {"value": value},
            Constant(value=value),
            None,
            None,
            None,
            {"constant": math.nan},
            "every period the same",
        )
    mean = float(x.mean())
    fits: dict[str, tuple[float, dict[str, float], Distribution, Any]] = {}
    pois = stats.poisson(mean)
    fits["poisson"] = (
        _aic(float(pois.logpmf(x).sum()), 1),
        {"mu": mean},
        Poisson(mean=mean),
        pois,
    )
    mu, sd = stats.norm.fit(x)
    norm = stats.norm(mu, sd)
    fits["normal"] = (
        _aic(_binned(norm, x), 2),
        {"loc": float(mu), "scale": float(sd)},
        Normal(mean=float(mu), sd=float(sd)),
        norm,
    )
    if mean > 0:
        var = float(x.var(ddof=1))
        a, scale = mean**2 / var, var / mean
        gam = stats.gamma(a, scale=scale)
        fits["gamma"] = (
            _aic(_binned(gam, x), 2),
            {"a": a, "scale": scale},
            Gamma(mean=mean, sd=math.sqrt(var)),
            gam,
        )
    best = min(fits, key=lambda k: fits[k][0])
    aic, params, dist, frozen = fits[best]
    ks = stats.kstest(x, frozen.cdf)
    return Fit(
        quantity,
        subject,
        unit,
        x,
        best,
        params,
        dist,
        aic,
        float(ks.statistic),
        float(ks.pvalue),
        {k: v[0] for k, v in fits.items()},
        "continuous families rounded to whole units for the likelihood; the KS p-value is "
        "conservative on counts",
    )


# --- what the events show -----------------------------------------------------------------------


@dataclass(frozen=True)
class CalibratedModel:
    """A model fitted from a store: ``network`` (run it, or write it with :meth:`to_toml`),
    ``fits`` (one row per fitted quantity: ``quantity, subject, unit, n, family, parameters``
    (JSON, scipy's names), ``mean, sd`` (in ``unit``), ``aic``, ``ks_distance``, ``ks_pvalue``,
    ``candidates`` (JSON: family → AIC), ``note``), ``notes`` (what was assumed, and why), the
    observed span (``origin``, ``periods``, ``hours_per_period``) and ``sites`` (buffer name →
    the GS1 site it was read from)."""

    network: Network
    fits: View
    notes: tuple[str, ...]
    origin: datetime
    periods: int
    hours_per_period: float
    sites: dict[str, str]
    samples: dict[tuple[str, str], Fit] = field(default_factory=dict)
    """Every fit by (quantity, subject), with its sample."""

    def to_toml(self) -> str:
        """The calibrated model as a model file (``docs/sim.md``), headed by comments saying
        where it came from and what was assumed."""
        head = [
            f"# calibrated from {self.periods} periods of events from {self.origin.isoformat()}",
            f"# ({self.hours_per_period:g} hours a period); fits and their goodness in the",
            "# calibration table. Assumed, not measured:",
            *(f"#  - {n}" for n in self.notes if n.startswith("not measurable")),
            "",
        ]
        return "\n".join(head) + self.network.to_toml()


def _log(source: Log | str | Path) -> Log:
    return source if isinstance(source, Log) else Log.open(source)


def _utc(t: Any) -> datetime:
    if not isinstance(t, datetime):
        raise TypeError(f"expected a time, got {t!r}")
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600.0


def _gln(identifier: str) -> str:
    """The digits of a GLN Digital Link (``https://id.gs1.org/414/<gln>`` or ``/417/``)."""
    return identifier.rstrip("/").rsplit("/", 1)[-1]


def _step_name(activity: str) -> str:
    return activity[len(CUSTOM_STEP) :] if activity.startswith(CUSTOM_STEP) else activity


def _rows(log: Log, expr: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = log.execute(expr).to_pylist()
    return rows


@dataclass
class _Trip:
    source: str
    target: str
    shipped: datetime
    received: datetime
    items: int


def _trips(log: Log, facts: Any) -> list[_Trip]:
    """Pallets shipped from one site and received at another: each ``shipping`` event of a
    logistic unit followed, in its trace, by a ``receiving`` event."""
    s = steps(log, LOGISTIC_UNIT)
    s = s.filter((s.activity == "shipping") & (s.next_activity == "receiving"))
    ship = facts.select("event_id", source="source_location")
    recv = facts.select(next_event_id=facts.event_id, target=facts.biz_location)
    r = log.relations
    kids = r.filter(r.qualifier == "child")
    children = kids.group_by("event_id").agg(items=kids.count())
    parents = r.filter(r.qualifier == "parent").select("event_id", pallet=r.object_id)
    packed = parents.join(children, "event_id")
    packed = packed.group_by("pallet").agg(items=packed["items"].max())
    t = s.join(ship, "event_id").join(recv, "next_event_id")
    t = t.left_join(packed, t.object_id == packed.pallet)
    t = t.select(t.source, t.target, shipped=t.time, received=t.next_time, items=t["items"])
    out = []
    for row in _rows(log, t):
        if row["source"] is None or row["target"] is None or row["source"] == row["target"]:
            continue
        out.append(
            _Trip(
                row["source"],
                row["target"],
                _utc(row["shipped"]),
                _utc(row["received"]),
                int(row["items"] or 0),
            )
        )
    return out


def _owners(log: Log) -> dict[str, str]:
    """Site → the party that ships from it or receives at it (source/destination lists)."""
    r = log.relations
    r = r.filter(
        r.qualifier.isin(["source:owning_party", "source:location"])
        | (r.qualifier.isin(["destination:owning_party", "destination:location"]))
    )
    per = r.group_by("event_id").agg(
        sp=r.object_id.max(where=r.qualifier == "source:owning_party"),
        sl=r.object_id.max(where=r.qualifier == "source:location"),
        dp=r.object_id.max(where=r.qualifier == "destination:owning_party"),
        dl=r.object_id.max(where=r.qualifier == "destination:location"),
    )
    pairs = per.select(party=per.sp, site=per.sl).union(per.select(party=per.dp, site=per.dl))
    pairs = pairs.filter(pairs.party.notnull() & pairs.site.notnull()).distinct()
    out: dict[str, str] = {}
    for row in sorted(_rows(log, pairs), key=lambda r: (r["site"], r["party"])):
        out.setdefault(row["site"], row["party"])
    return out


def _period_of(t: datetime, origin: datetime, hpp: float) -> int:
    return math.floor(_hours(origin, t) / hpp + 1e-9)


REGIME_MIN_PERIODS = 28
"""The fewest periods the twin calibrates on (four weeks of days: every weekday four times)."""


def regime_start(
    source: Log | str | Path,
    *,
    period: str = "day",
    changes: Sequence[datetime] = (),
    min_periods: int = REGIME_MIN_PERIODS,
    until: datetime | None = None,
) -> tuple[datetime | None, str]:
    """Where the current regime of a store's log starts, and why — the ``since`` the twin
    calibrates from (None: the whole log).

    Candidates, the latest kept that leaves at least ``min_periods`` periods of events after
    it: the day the last site of the log first appears (a partner's events arrive from the
    day it shares with this node: before, its site would look empty and its customers
    buying nothing) and ``changes``, times the node's own records show a change made on the
    floor (an experiment started or abandoned). A change more recent than ``min_periods``
    leaves too few days to fit on: the window then still starts ``min_periods`` before the
    end, and the levels come from the positions since the change (:func:`last_shift`).

    ``until``: the log as it was then (events and changes before it): a prediction dated in the
    past is fitted on what the twin knew at that date."""
    log = _log(source)
    hpp = float(HOURS_PER_PERIOD[period.strip().lower()])
    facts = event_facts(log)
    events = log.events
    if until is not None:
        facts = facts.filter(facts.time < until)
        events = events.filter(events.time < until)
        changes = [t for t in changes if _utc(t) < _utc(until)]
    sited = facts.filter(facts.biz_location.notnull())
    seen = _rows(log, sited.group_by("biz_location").agg(first=sited.time.min()))
    span = _rows(log, events.aggregate(first=events.time.min(), last=events.time.max()))
    if not span or span[0]["first"] is None or not seen:
        return None, "no events: the whole log"
    first, last = _utc(span[0]["first"]), _utc(span[0]["last"])
    latest_site = max(seen, key=lambda r: _utc(r["first"]))
    marks = [
        (_utc(t), "a change on the floor (the node's kaizen records)")
        for t in changes
        if _utc(t) > first
    ]
    # a site first seen in the log's first week is the start-up (goods reach it), not a join
    joined = _utc(latest_site["first"])
    if joined > first + timedelta(hours=hpp * SHIFT_MIN_PERIODS):
        marks.append((joined, f"site {latest_site['biz_location']} first seen"))
    if not marks:
        return None, "one regime: every site seen from the log's start, no change recorded"
    newest = max(marks)
    room = last - timedelta(hours=hpp * (min_periods - 1))
    if newest[0] <= room:
        return newest[0], newest[1]
    if room <= first:
        return None, f"{newest[1]}, but the log is shorter than {min_periods} periods after it"
    return room, f"{newest[1]} less than {min_periods} periods ago: the last {min_periods}"


def calibrate(
    source: Log | str | Path,
    *,
    period: str | None = "day",
    hours_per_period: float | None = None,
    names: Mapping[str, str] | None = None,
    outside_lead_time: float = 1.0,
    name: str = "calibrated",
    since: datetime | None = None,
    until: datetime | None = None,
) -> CalibratedModel:
    """Build the network model a node's store shows: buffers, links, steps, demand and
    base-stock levels, each distribution fitted with scipy (see the module docstring).

    ``source``: a :class:`~keiretsu.analytics.Log` or a store's path. ``period``: the planning
    period (``hour``, ``shift``, ``day``, ``week``, ``month``; ``hours_per_period`` overrides
    it), counted from midnight UTC (weeks from Monday). ``names``: readable names for sites
    and parties (their GS1 ids, any spelling the store uses, → a name); by default a site is
    ``site-<GLN>`` and a company ``company-<GLN>``. ``outside_lead_time``: periods from an order
    to an outside supplier's delivery, which the events cannot show (no order events).
    ``name``: the network's name in the model.

    ``since`` / ``until``: the window of the regime to model (times; ``since`` rounded up to a
    period start). Sites, links, steps, demand and levels are read from the events in it —
    a policy changed before ``since`` does not blur the levels (the median position of two
    regimes is neither), a partner's site whose events arrive only since a connection is not
    counted as selling nothing before it. Stock on hand at the window's start still counts
    the movements before it. :func:`current_regime` finds the start the events show."""
    log = _log(source)
    hpp = float(hours_per_period or HOURS_PER_PERIOD[(period or "day").strip().lower()])
    period_word = period if hours_per_period is None and period else "hour"
    if period_word == "hour" and hpp != 1.0:
        raise ValueError(
            f"{hpp} hours a period is not one of {', '.join(HOURS_PER_PERIOD)}: the model "
            "file names its period; pass period= instead"
        )
    named = dict(names or {})
    notes: list[str] = []
    fits: dict[tuple[str, str], Fit] = {}

    facts = event_facts(log)
    span = _rows(log, log.events.aggregate(first=log.events.time.min(), last=log.events.time.max()))
    if not span or span[0]["first"] is None:
        raise ValueError("the store holds no events: nothing to calibrate from")
    first, last = _utc(span[0]["first"]), _utc(span[0]["last"])
    if until is not None:
        last = min(last, _utc(until) - timedelta(microseconds=1))
    origin = _ORIGIN + timedelta(hours=hpp * _period_of(first, _ORIGIN, hpp))
    if since is not None and _utc(since) > origin:
        # the first whole period from ``since`` on (a start within 1 ms of a period's counts)
        k = math.ceil(_hours(_ORIGIN, _utc(since)) / hpp - 1e-6 / 3600 / hpp)
        origin = _ORIGIN + timedelta(hours=hpp * k)
    if last < origin:
        raise ValueError(
            f"no events between {origin.isoformat()} and {last.isoformat()}: nothing to "
            "calibrate from in that window"
        )
    periods = _period_of(last, origin, hpp) + 1
    end = origin + timedelta(hours=hpp * periods)

    def inside(t: Any) -> bool:
        return origin <= _utc(t) < end

    if since is not None or until is not None:
        notes.append(
            f"calibrated on the events from {origin.isoformat()} to {end.isoformat()} "
            f"({periods} periods: the regime modelled); earlier and later events left out, "
            "but for the stock already on hand at its start"
        )

    # --- sites (buffers) and their owners ----------------------------------------------------
    sited = facts.filter(facts.biz_location.notnull())
    sited = sited.filter((sited.time >= origin) & (sited.time < end))
    site_rows = _rows(
        log, sited.group_by("biz_location").agg(n=sited.count()).order_by("biz_location")
    )
    trips = _trips(log, facts)
    window_trips = [t for t in trips if inside(t.shipped)]
    exit_t = exits(log, TRADE_ITEM)
    ex = exit_t.join(facts, "event_id").select(
        site=ibis.coalesce(facts.source_location, facts.biz_location), time=exit_t.time
    )
    ex = ex.group_by(["site", "time"]).agg(units=ex.count())
    exit_rows = [r for r in _rows(log, ex) if inside(r["time"])]
    goods_sites = {r["biz_location"] for r in site_rows}
    selling = {r["site"] for r in exit_rows if r["site"] is not None}
    sites = sorted(goods_sites | {t.target for t in window_trips} | selling)
    owners = _owners(log)

    def site_name(site: str) -> str:
        return named.get(site) or f"site-{_gln(site)}"

    def party_name(p: str) -> str:
        return named.get(p) or f"company-{_gln(p)}"

    buffer_of = {s: site_name(s) for s in sites}

    # --- links: pallets between sites, lots from outside --------------------------------------
    link_samples: dict[tuple[str, str], list[float]] = defaultdict(list)
    for t in window_trips:
        if t.source in buffer_of and t.target in buffer_of:
            link_samples[(t.source, t.target)].append(_hours(t.shipped, t.received) / hpp)
    r = log.relations
    lots = r.filter(r.quantity.notnull() & (r.qualifier == "epc"))
    lots = lots.join(facts, "event_id")
    lots = lots.filter(lots.activity.isin(list(ARRIVING_STEPS)) & lots.biz_location.notnull())
    lots = lots.select(
        site=lots.biz_location,
        time=lots.time,
        quantity=lots.quantity.cast("float64"),
        product=product_of(lots.object_id),
    )
    lot_rows = _rows(log, lots)
    outside_sites = sorted({row["site"] for row in lot_rows if inside(row["time"])})

    # --- the bill of materials: inputs per unit made ------------------------------------------
    made = facts.filter(facts.event_type == "TransformationEvent")
    tr = r.join(made, "event_id").filter(r.qualifier.isin(["input", "output"]))
    tr = tr.select(
        site=tr.biz_location,
        qualifier=tr.qualifier,
        product=product_of(tr.object_id),
        amount=tr.quantity.cast("float64").fill_null(1.0),
    )
    bom_rows = _rows(log, tr.group_by(["site", "qualifier", "product"]).agg(amount=tr.amount.sum()))
    outputs: dict[str, float] = defaultdict(float)
    inputs: dict[str, dict[str, float]] = defaultdict(dict)
    for row in bom_rows:
        if row["qualifier"] == "output":
            outputs[row["site"]] += row["amount"]
        else:
            inputs[row["site"]][row["product"]] = row["amount"]
    making = {s for s in outputs if outputs[s] > 0}

    # products each link carries (items on its pallets), for the bill of materials
    carried = _carried(log, facts)

    links: list[Link] = []
    units_of: dict[tuple[str | None, str], float] = {}
    for (src, dst), sample in sorted(link_samples.items()):
        subject = f"{buffer_of[src]} -> {buffer_of[dst]}"
        fit = fit_times(sample, quantity="transport time", subject=subject, unit="periods")
        fits[(fit.quantity, subject)] = fit
        units = 1.0
        if dst in making and outputs[dst] > 0:
            used = sum(inputs[dst].get(p, 0.0) for p in carried.get((src, dst), ()))
            if used > 0:
                units = used / outputs[dst]
        units_of[(src, dst)] = units
        links.append(
            Link.model_validate(
                {
                    "from": buffer_of[src],
                    "to": buffer_of[dst],
                    "lead_time": fit.distribution,
                    "units": round(units, 6),
                }
            )
        )
    supplied = {dst for (_, dst) in link_samples}
    outside_lt = Constant(value=outside_lead_time)
    for s in sites:
        if s in outside_sites or s not in supplied:
            units = 1.0
            if s in making and outputs[s] > 0:
                lot_products = {row["product"] for row in lot_rows if row["site"] == s}
                used = sum(inputs[s].get(p, 0.0) for p in lot_products)
                if used > 0:
                    units = used / outputs[s]
            units_of[(None, s)] = units
            links.append(
                Link.model_validate(
                    {"to": buffer_of[s], "lead_time": outside_lt, "units": round(units, 6)}
                )
            )
    if any(link.source is None for link in links):
        notes.append(
            "not measurable — an outside supplier's lead time needs the orders' times (order "
            "events, or the ERP's purchase orders); the events show deliveries only: set to "
            f"{outside_lead_time:g} period(s)"
        )

    # --- steps: batch times, batch sizes, yield -----------------------------------------------
    step_list = _steps(log, facts, buffer_of, making, hpp, fits, (origin, end))

    # --- demand -------------------------------------------------------------------------------
    per_site: dict[str, FloatArray] = {}
    for row in exit_rows:
        s = row["site"]
        if s is None or s not in buffer_of:
            continue
        k = _period_of(_utc(row["time"]), origin, hpp)
        if s not in per_site:
            per_site[s] = np.zeros(periods)
        if 0 <= k < periods:
            per_site[s][k] += row["units"]
    demands: list[Demand] = []
    for s, series in sorted(per_site.items()):
        fit = fit_counts(series, quantity="demand", subject=buffer_of[s], unit="units per period")
        fits[(fit.quantity, buffer_of[s])] = fit
        demands.append(Demand(at=buffer_of[s], distribution=fit.distribution))
    if demands:
        notes.append(
            "demand: what the customers took per period (sold, or shipped outside the "
            "network); a sale lost to an empty shelf leaves no event, so where the shelf ran "
            "empty the demand is under-counted"
        )

    # --- policies: the order-up-to level the positions show -----------------------------------
    levels = _levels(
        log,
        sites,
        trips,
        lot_rows,
        origin,
        periods,
        hpp,
        outside_lead_time,
        making,
        units_of,
    )
    notes.append(
        "inventory policy: base-stock (order up to a level), the level being the median "
        "inventory position at the period starts (on hand and in the site's steps + in transit "
        "to it + raw material arriving within the outside lead time); the events do not say "
        "the policy's kind — set it in the file where it is known"
    )

    # --- companies ----------------------------------------------------------------------------
    by_company: dict[str, list[str]] = defaultdict(list)
    for s in sites:
        owner = owners.get(s)
        by_company[party_name(owner) if owner else f"company-of-{buffer_of[s]}"].append(s)
    companies = []
    for cname, csites in sorted(by_company.items()):
        cbuffers = tuple(
            Buffer(name=buffer_of[s], policy=BaseStock(level=levels.get(s, 0.0))) for s in csites
        )
        csteps = tuple(st for st in step_list if st.buffer in {buffer_of[s] for s in csites})
        companies.append(
            Company.model_validate({"name": cname, "buffer": cbuffers, "step": csteps})
        )
    notes.append(
        "not measurable — capacities, costs and what each company sees are not in the events: "
        "capacity none (not a constraint), costs 0, each company sees only its orders"
    )
    if step_list:
        notes.append(
            "processing time per batch includes the set-up (the events show a batch's start "
            "and end, not the set-up apart): setup_time 0"
        )
    period_key = next((k for k, v in HOURS_PER_PERIOD.items() if v == hpp), "hour")
    network = Network.model_validate(
        {
            "name": name,
            "period": period_key,
            "company": tuple(companies),
            "link": tuple(links),
            "demand": tuple(demands),
        }
    )
    table = pa.Table.from_pylist([f.row() for f in fits.values()], _FIT_COLUMNS)
    view = View(
        "calibration",
        table,
        tuple(notes),
        {"hours_per_period": hpp, "periods": periods, "origin": origin.isoformat()},
    )
    return CalibratedModel(
        network=network,
        fits=view,
        notes=tuple(notes),
        origin=origin,
        periods=periods,
        hours_per_period=hpp,
        sites={buffer_of[s]: s for s in sites},
        samples=fits,
    )


def _carried(log: Log, facts: Any) -> dict[tuple[str, str], set[str]]:
    """(source site, receiving site) → the products of the items packed on its pallets."""
    r = log.relations
    s = steps(log, LOGISTIC_UNIT)
    s = s.filter((s.activity == "shipping") & (s.next_activity == "receiving"))
    ship = facts.select("event_id", source="source_location")
    recv = facts.select(next_event_id=facts.event_id, target=facts.biz_location)
    t = s.join(ship, "event_id").join(recv, "next_event_id").select("object_id", "source", "target")
    kids = r.filter(r.qualifier == "child")
    parents = r.filter(r.qualifier == "parent").select("event_id", pallet=r.object_id)
    kids = kids.join(parents, "event_id").select("pallet", product=product_of(kids.object_id))
    j = t.join(kids, t.object_id == kids.pallet).select("source", "target", "product").distinct()
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in _rows(log, j):
        out[(row["source"], row["target"])].add(row["product"])
    return out


def _steps(
    log: Log,
    facts: Any,
    buffer_of: dict[str, str],
    making: set[str],
    hpp: float,
    fits: dict[tuple[str, str], Fit],
    window: tuple[datetime, datetime],
) -> list[Step]:
    """The process steps at each site, in order, with their batch times, sizes and yields
    (batches ending within ``window``)."""
    ev = facts.filter(
        (facts.event_type == "ObjectEvent")
        & facts.biz_location.notnull()
        & ~facts.activity.isin(sorted(LOGISTICS_STEPS))
        & (facts.disposition.isnull() | (facts.disposition != "retail_sold"))
    )
    ev = ev.select(step_event="event_id", site="biz_location", step="activity", end="time")
    s = steps(log, TRADE_ITEM)
    pred = s.join(ev, s.next_event_id == ev.step_event)
    per_batch = pred.group_by(["step_event", "site", "step", "end"]).agg(
        began=pred.time.max(),
        items=pred.object_id.nunique(),
        commissioned=(pred.activity == "commissioning").cast("int64").max(),
    )
    batches = [b for b in _rows(log, per_batch) if window[0] <= _utc(b["end"]) < window[1]]
    if not batches:
        return []
    # which steps come before which (an item's previous event at another step)
    other = pred.filter(pred.activity != pred.step)
    order = other.group_by(["site", "step", "activity"]).agg(n=other.count())
    before: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in _rows(log, order):
        before[(row["site"], row["step"])].add(row["activity"])
    # quality: non-conformant and repaired items after each step
    q = facts.filter(facts.activity.isin(["inspecting", "repairing"]))
    q = q.filter((q.disposition == "non_conformant") | (q.activity == "repairing"))
    q = q.filter((q.time >= window[0]) & (q.time < window[1]))
    qr = log.relations
    qr = qr.filter(qr.qualifier == "epc").join(q, "event_id")
    bad_rows = _rows(
        log,
        qr.group_by(site=qr.biz_location, kind=qr.activity).agg(items=qr.object_id.nunique()),
    )
    bad: dict[tuple[str, str], int] = {(b["site"], b["kind"]): int(b["items"]) for b in bad_rows}

    by_step: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for b in batches:
        if b["site"] in buffer_of:
            by_step[(b["site"], b["step"])].append(b)
    out: list[Step] = []
    per_site: dict[str, list[str]] = defaultdict(list)
    for site, step in sorted(by_step):
        per_site[site].append(step)
    for site, names in per_site.items():
        ordered = sorted(names, key=lambda n: (len(before[(site, n)] & set(names)), n))
        for k, step in enumerate(ordered):
            rows = by_step[(site, step)]
            durations = [_hours(_utc(b["began"]), _utc(b["end"])) for b in rows]
            durations = [d for d in durations if d > 0] or durations
            subject = f"{buffer_of[site]}/{_step_name(step)}"
            exact = site in making and k == 0
            fit = fit_times(durations, quantity="processing time", subject=subject, unit="hours")
            fit = Fit(
                fit.quantity,
                fit.subject,
                fit.unit,
                fit.sample,
                fit.family,
                fit.parameters,
                fit.distribution,
                fit.aic,
                fit.ks_distance,
                fit.ks_pvalue,
                fit.candidates,
                "set-up + processing: commissioning to the step's event"
                if exact
                else "from the batch's last item arriving to the step's event: the wait for "
                "the machine is included (one timestamp per step)",
            )
            fits[(fit.quantity, subject)] = fit
            sizes = Counter(int(b["items"]) for b in rows)
            batch, count = max(sizes.items(), key=lambda kv: (kv[1], kv[0]))
            size_sample = np.asarray([int(b["items"]) for b in rows], dtype=np.float64)
            fits[("batch size", subject)] = Fit(
                "batch size",
                subject,
                "units",
                size_sample,
                "constant",
                {"value": float(batch)},
                Constant(value=float(batch)),
                None,
                None,
                None,
                {},
                f"the most common size: {count} of {len(rows)} batches "
                "(a smaller batch runs when nothing more is coming)",
            )
            through = float(sum(int(b["items"]) for b in rows))
            yield_, rework = 1.0, 0.0
            if k == len(ordered) - 1 and through > 0:
                nonconforming = bad.get((site, "inspecting"), 0)
                repaired = bad.get((site, "repairing"), 0)
                yield_ = max(1.0 - nonconforming / through, 1e-6)
                rework = repaired / nonconforming if nonconforming else 0.0
            out.append(
                Step.model_validate(
                    {
                        "name": _step_name(step),
                        "buffer": buffer_of[site],
                        "processing_time": fit.distribution,
                        "batch_size": batch,
                        "yield": round(yield_, 6),
                        "rework": round(min(rework, 1.0), 6),
                    }
                )
            )
    return out


def _levels(
    log: Log,
    sites: list[str],
    trips: list[_Trip],
    lot_rows: list[dict[str, Any]],
    origin: datetime,
    periods: int,
    hpp: float,
    outside_lead_time: float,
    making: set[str],
    units_of: dict[tuple[str | None, str], float],
) -> dict[str, float]:
    """Each site's order-up-to level: the median inventory position at the period starts."""
    m = movements(log)
    m = m.filter(m.location.isin(sites))
    ledger = _rows(log, m.select("location", "time", "delta"))
    t0 = origin.timestamp()
    reviews = t0 + np.arange(periods) * hpp * 3600.0
    look = outside_lead_time * hpp * 3600.0
    levels: dict[str, float] = {}
    by_site: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in ledger:
        by_site[row["location"]].append((_utc(row["time"]).timestamp(), float(row["delta"])))
    for s in sites:
        # own stock plus raw material on site, in the site's own units
        moves = sorted(by_site.get(s, []))
        times = np.asarray([t for t, _ in moves])
        deltas = np.asarray([d for _, d in moves])
        cum = np.cumsum(deltas) if len(deltas) else np.zeros(0)
        idx = np.searchsorted(times, reviews, side="right")
        on_site = np.where(idx > 0, cum[np.maximum(idx - 1, 0)] if len(cum) else 0.0, 0.0)
        transit = np.zeros(periods)
        for t in trips:
            if t.target == s:
                a, b = t.shipped.timestamp(), t.received.timestamp()
                transit += ((reviews >= a) & (reviews < b)) * t.items
        arriving = np.zeros(periods)
        for row in lot_rows:
            if row["site"] == s:
                at = _utc(row["time"]).timestamp()
                arriving += ((reviews < at) & (reviews >= at - look - 1e-6)) * row["quantity"]
        units = units_of.get((None, s), 1.0)
        position = on_site + transit + arriving / (units if s in making else 1.0)
        # the last reviews cannot see deliveries arriving after the log ends
        usable = position[: max(1, periods - math.ceil(outside_lead_time))]
        # the level of the current regime: a policy changed within the window (a new level
        # put on the floor) shows as a shift of the positions; the median of two regimes is
        # neither level
        usable = usable[last_shift(usable) :]
        levels[s] = float(round(float(np.median(usable))))
    return levels


SHIFT_MIN_PERIODS = 7
"""The shortest regime :func:`last_shift` splits off (a week of daily reviews)."""


def last_shift(values: Any, *, min_periods: int = SHIFT_MIN_PERIODS) -> int:
    """Where the last regime of a series starts (an index; 0 when it has one regime).

    Binary segmentation from the right: the split of the series into two flat parts (each at
    least ``min_periods`` long) that leaves the smallest sum of squares is kept when it beats
    one flat part by the Bayesian information criterion — ``n·ln(SS₁/SS₂) > 3·ln n`` (a
    Gaussian likelihood with the variance unknown; three more parameters: the split and a
    second mean, plus one for safety) — and the shift of the medians is over five standard
    errors of the period-to-period noise (the best of many splits is the largest by chance);
    then the part after it is searched again. For an order-up-to policy the inventory
    position at the reviews is flat but for the demand since the last order: a new level
    shows as a step."""
    x = np.asarray(values, dtype=np.float64)
    start = 0
    while len(x) - start >= 2 * min_periods:
        seg = x[start:]
        n = len(seg)
        c1 = np.cumsum(seg)
        c2 = np.cumsum(seg * seg)
        k = np.arange(min_periods, n - min_periods + 1)
        left = c2[k - 1] - c1[k - 1] ** 2 / k
        right = (c2[-1] - c2[k - 1]) - (c1[-1] - c1[k - 1]) ** 2 / (n - k)
        split = left + right
        best = int(np.argmin(split))
        total = float(c2[-1] - c1[-1] ** 2 / n)
        ss = max(float(split[best]), 1e-9 * max(total, 1.0), 1e-12)
        cut = int(k[best])
        jump = abs(float(np.median(seg[cut:]) - np.median(seg[:cut])))
        # the noise from one period to the next (robust: the median absolute difference of
        # neighbours, as a standard deviation), and the shift's standard error under it
        sigma = float(np.median(np.abs(np.diff(seg)))) / (0.6745 * math.sqrt(2))
        se = sigma * math.sqrt(1 / cut + 1 / (n - cut))
        if total <= ss or n * math.log(total / ss) <= 3 * math.log(n) or jump <= 5 * se:
            break
        start += cut
    return start


# --- validation ---------------------------------------------------------------------------------


def finished_lead_hours(log: Log) -> FloatArray:
    """Lead times (hours) of the finished trade items: first event to the exit."""
    t = object_times(log, TRADE_ITEM).table
    finished = np.asarray(t.column("finished").to_pylist(), dtype=bool)
    lead = np.asarray(t.column("lead_seconds").to_numpy(zero_copy_only=False), dtype=np.float64)
    out: FloatArray = lead[finished & np.isfinite(lead)] / 3600.0
    return out


def world_lead_hours(world: World) -> FloatArray:
    """Lead times (hours) of the goods a simulated world finished, by the definition
    :func:`keiretsu.analytics.flow.object_times` applies to a store, read straight from the
    world's events (no store, no queries: a validation plays dozens of runs): a trade item's
    first event naming it to its last, for the items sold (``retail_sold``) or packed on a
    pallet shipped to a party that records nothing (the end customer). The tests hold this
    route equal to ``object_times`` on the same events."""
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    finished: set[str] = set()
    on_pallet: dict[str, list[str]] = {}
    recording = {_site_of(e) for es in world.events().values() for e in es} - {None}
    for events in world.events().values():
        for e in events:
            when = datetime.fromisoformat(e["eventTime"])
            named = [
                *e.get("epcList", ()),
                *e.get("childEPCs", ()),
                *e.get("inputEPCList", ()),
                *e.get("outputEPCList", ()),
            ]
            for epc in named:
                if not epc.startswith("urn:epc:id:sgtin:"):
                    continue
                if epc not in first or when < first[epc]:
                    first[epc] = when
                if epc not in last or when > last[epc]:
                    last[epc] = when
            if e.get("disposition") == "retail_sold":
                finished.update(e.get("epcList", ()))
            if e["type"] == "AggregationEvent" and e.get("action") == "ADD":
                on_pallet[e["parentID"]] = list(e.get("childEPCs", ()))
    for events in world.events().values():
        for e in events:
            if e.get("bizStep") != "shipping":
                continue
            places = [d["destination"] for d in e.get("destinationList", ())]
            if places and not any(p in recording for p in places):
                for sscc in e.get("epcList", ()):
                    finished.update(on_pallet.get(sscc, ()))
    out = np.asarray(
        [(last[x] - first[x]).total_seconds() / 3600.0 for x in sorted(finished) if x in first],
        dtype=np.float64,
    )
    return out


def _site_of(event: dict[str, Any]) -> str | None:
    where = event.get("bizLocation") or event.get("readPoint")
    return None if where is None else str(where["id"]).rsplit(".", 1)[0] + ".0"


def simulate_lead_times(
    model: CalibratedModel, *, replications: int = 99, seed: int = 0
) -> list[FloatArray]:
    """The calibrated model played by the flow-level world over the observed span, once per
    replication (seeds ``seed``, ``seed + 1``…): each run's finished goods' lead times (hours),
    by :func:`world_lead_hours`."""
    return [
        world_lead_hours(
            World(
                model.network,
                seed=seed + r,
                start=model.origin,
                hours_per_period=model.hours_per_period,
            ).run(model.periods)
        )
        for r in range(replications)
    ]


def _ks(a: FloatArray, b: FloatArray) -> tuple[float, float]:
    result = stats.ks_2samp(a, b)
    return float(result.statistic), float(result.pvalue)


def _ad(a: FloatArray, b: FloatArray) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns when its p-value is floored or capped
        result = stats.anderson_ksamp([a, b])
    return float(result.statistic), float(result.pvalue)


def validate(
    model: CalibratedModel,
    source: Log | str | Path,
    *,
    replications: int = 99,
    seed: int = 0,
) -> View:
    """Does the calibrated model reproduce the store's lead times? The model is played by the
    flow-level world for the observed span (``replications`` runs), and the store's finished
    goods' lead times are compared with the runs' pooled by two two-sample statistics:
    ``scipy.stats.ks_2samp`` (Kolmogorov-Smirnov) and ``scipy.stats.anderson_ksamp``
    (Anderson-Darling).

    Goods of one batch or pallet share most of their lead time, so the goods are not
    independent draws and the tests' own p-values (``p_value_independent``) reject even a true
    model (on a store of a few hundred goods, typically below 0.01). The p-value that decides,
    ``p_value``, is therefore a Monte Carlo test (Barnard 1963; Davison & Hinkley 1997, §4.2.5):
    each run, compared by the same statistic with the pool of the other runs, is one draw of
    the statistic under the model; ``p_value`` = (1 + runs at least as far from the pool as the
    store) ÷ (1 + runs). With 19 runs the smallest p-value is 0.05; with the default 99, 0.01.

    Columns, one row per statistic: ``test``, ``distance`` (the store against the pooled runs;
    KS: the largest gap between the two cumulative distributions, 0 to 1; AD: scipy's
    normalised statistic), ``p_value`` (Monte Carlo), ``p_value_independent`` (scipy's, as if
    the goods were independent; AD's floored at 0.001 and capped at 0.25 by scipy),
    ``null_median_distance`` (the runs' own distances, their median), ``observed_n``,
    ``simulated_n`` (goods), ``observed_mean_hours``, ``simulated_mean_hours``,
    ``observed_median_hours``, ``simulated_median_hours``, ``replications``,
    ``rejected_at_5pct`` (``p_value`` at most 0.05: under the model that happens in 5% of
    stores exactly, with 19 runs)."""
    if replications < 2:
        raise ValueError("the validation needs at least 2 replications (19 for a 5% test)")
    observed = finished_lead_hours(_log(source))
    runs = simulate_lead_times(model, replications=replications, seed=seed)
    view = compare_lead_times(observed, runs)
    notes = (
        view.notes[0],
        f"simulated: the calibrated model played by the flow-level world for {model.periods} "
        f"periods from {model.origin.isoformat()}, {replications} replications (seeds {seed} "
        f"to {seed + replications - 1})",
        *view.notes[1:],
    )
    return View(view.name, view.table, notes, view.meta)


def compare_lead_times(observed: Any, runs: list[FloatArray]) -> View:
    """The comparison :func:`validate` makes, on lead times at hand (hours): ``observed``
    against the simulated ``runs`` (one array per replication); the same columns."""
    observed = np.asarray(observed, dtype=np.float64)
    if len(runs) < 2:
        raise ValueError("the comparison needs at least 2 simulated runs (19 for a 5% test)")
    simulated = np.concatenate(runs)
    if len(observed) == 0 or any(len(run) == 0 for run in runs):
        raise ValueError(
            "not measurable — the validation needs finished goods (sold or shipped to the "
            f"customer) in the store ({len(observed)}) and in every simulated run "
            f"({', '.join(str(len(r)) for r in runs)})"
        )
    replications = len(runs)
    common = {
        "observed_n": len(observed),
        "simulated_n": len(simulated),
        "observed_mean_hours": float(observed.mean()),
        "simulated_mean_hours": float(simulated.mean()),
        "observed_median_hours": float(np.median(observed)),
        "simulated_median_hours": float(np.median(simulated)),
        "replications": replications,
    }
    rows = []
    for label, statistic in (
        ("Kolmogorov-Smirnov (ks_2samp)", _ks),
        ("Anderson-Darling k-sample (anderson_ksamp)", _ad),
    ):
        distance, p_independent = statistic(observed, simulated)
        null = [
            statistic(run, np.concatenate([x for j, x in enumerate(runs) if j != i]))[0]
            for i, run in enumerate(runs)
        ]
        p_value = (1 + sum(d >= distance for d in null)) / (1 + len(null))
        rows.append(
            {
                "test": label,
                "distance": distance,
                "p_value": p_value,
                "p_value_independent": p_independent,
                "null_median_distance": float(np.median(null)),
                **common,
                "rejected_at_5pct": bool(p_value <= 0.05),
            }
        )
    notes = (
        "lead time: a finished good's first event to its exit (sold or shipped to the customer), "
        "by keiretsu.analytics.flow.object_times, on the store and on each simulated run",
        "H0: the store's lead times come from the calibrated model. p_value: Monte Carlo — the "
        "share of simulated runs at least as far from the other runs as the store is from all "
        "of them, (1 + k) / (1 + runs); at 0.05 or below the model is rejected at 5%",
        "p_value_independent: scipy's p-value, which assumes independent goods; goods of one "
        "batch or pallet share most of their lead time, so it rejects even a true model",
    )
    return View("calibration_validation", pa.Table.from_pylist(rows), notes, dict(common))


def calibrate_store(
    store: str | Path,
    *,
    period: str = "day",
    names: Mapping[str, str] | None = None,
    outside_lead_time: float = 1.0,
    replications: int = 99,
    seed: int = 0,
    name: str = "calibrated",
) -> tuple[str, View, View]:
    """What ``keiretsu calibrate --store S`` prints and writes: the calibrated model file's
    text (TOML), the fits (:attr:`CalibratedModel.fits`) and the validation
    (:func:`validate`)."""
    log = Log.open(store)
    try:
        model = calibrate(
            log, period=period, names=names, outside_lead_time=outside_lead_time, name=name
        )
        check = validate(model, log, replications=replications, seed=seed)
    finally:
        log.backend.disconnect()
    return model.to_toml(), model.fits, check
