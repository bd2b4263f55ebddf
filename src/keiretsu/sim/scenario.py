"""What if? A baseline and named variants of the network, run on the same demand, compared side
by side.

A **variant** is the baseline model with some values changed, each named by a dotted path in
the model file's own words (:data:`Variant.changes`):

- ``"buffer.central-dc.policy.level" = 60`` — a base-stock level moved;
- ``"buffer.store-east.policy" = {kind = "s_S", s = 20, S = 60}`` — another policy (writing a
  table's ``kind`` starts that table afresh, with the other keys the variant gives it);
- ``"company.central-dc.sees" = ["orders", "end_customer_demand"]`` — the stores share their
  sales with the distribution centre; ``"company.*.sees"`` changes every company at once;
- ``"link.plant-fg->central-dc.lead_time.value" = 1`` — a link named ``from->to`` (or by its
  ``to`` alone when one link goes there; ``->to`` for an outside supplier);
- ``"step.fill-and-cap.capacity"``, ``"demand.store-north.lost_sale_cost"``,
  ``"network.unmet"``; a path may also go through its company
  (``"company.plant.buffer.plant-fg.holding_cost"``).

The variant is the whole model checked again: a change that breaks it is refused with the
model's own reasons, naming the variant and the key.

**Common random numbers.** The policy-level simulation (:mod:`keiretsu.sim.policy_level`)
draws replication *i*'s demand and lead times from streams keyed by the seed, *i* and the
element's name, so every variant meets the baseline's demand, replication by replication and
period by period, and all run the same warm-up. A KPI's difference is therefore measured **per
replication** (variant minus baseline, paired); its mean and Student's t interval come from
scipy (``ttest_1samp`` on the differences), and the difference is **significant** when the
interval leaves out 0. A variant that changes nothing differs by exactly 0.

**Fan-out.** Replications are cut into chunks of whole groups of 256
(:func:`keiretsu.sim.fanout.chunks`) and the chunks run on local processes (default) or on
Apache Spark (``engine="spark"``); the numbers are identical whatever the engine and the number
of workers.

```python
from keiretsu.sim.scenario import Variant, compare, read_scenarios
network, variants = read_scenarios("src/keiretsu/examples/sim/forecast-3-scenarios.toml")
result = compare(network, list(variants.values()), periods=200, replications=256)
print(result.table.to_pandas())
```
"""

from __future__ import annotations

import copy
import html
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from keiretsu.analytics.view import View
from keiretsu.model.errors import Problem
from keiretsu.sim import policy_level as _policy
from keiretsu.sim.fanout import Engine, chunks, fan_out
from keiretsu.sim.kpis import KPI_UNITS, estimate
from keiretsu.sim.model import ModelError, Network
from keiretsu.sim.model.distributions import FloatArray
from keiretsu.sim.model.errors import model_problem
from keiretsu.sim.model.file import network_from_dict

__all__ = [
    "DEFAULT_KPIS",
    "Comparison",
    "Variant",
    "apply_variant",
    "compare",
    "read_scenarios",
]

DEFAULT_KPIS = ("cost", "fill_rate", "on_hand", "backorders", "bullwhip")
"""The KPIs compared unless asked otherwise: cost per period, fill rate, units on hand and
backordered on average (per buffer and for the network), the bullwhip ratio (per buffer)."""

PERCENT = "percent of the baseline"

# --- variants ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """A named change of the baseline model: dotted paths into the model file and their new
    values (``{"buffer.dc.policy.level": 60, "company.plant.sees": [...]}``)."""

    name: str
    changes: Mapping[str, Any] = field(default_factory=dict)


# where each top-level word of a path points in the model file's layout
_LISTS = {
    "company": ("company",),
    "companies": ("company",),
    "link": ("link",),
    "links": ("link",),
    "demand": ("demand",),
    "buffer": ("company", "buffer"),
    "buffers": ("company", "buffer"),
    "step": ("company", "step"),
    "steps": ("company", "step"),
}
_NESTED = {"buffer": "buffer", "buffers": "buffer", "step": "step", "steps": "step"}
_HEAD = ("name", "period", "unmet")

Pointer = tuple[str | int, ...]


def _file_form(network: Network) -> dict[str, Any]:
    """The model as the TOML file lays it out ([network], [[company]], [[link]], [[demand]])."""
    data = network.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.pop("source", None)
    out: dict[str, Any] = {"network": {k: data.pop(k) for k in _HEAD if k in data}}
    out.update(data)
    return out


def _entry_names(kind: str, entry: Mapping[str, Any], entries: Sequence[Any]) -> list[str]:
    """The names a path may call a list entry by."""
    if kind == "link":
        target = str(entry.get("to"))
        names = [f"{entry.get('from', '')}->{target}"]
        if sum(1 for e in entries if isinstance(e, Mapping) and e.get("to") == target) == 1:
            names.append(target)
        return names
    if kind == "demand":
        return [str(entry.get("at"))]
    return [str(entry.get("name"))]


class _PathError(ValueError):
    def __init__(self, detail: str, expected: str | None, key: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.expected = expected
        self.key = key


def _resolve(data: Mapping[str, Any], key: str) -> list[Pointer]:
    """Every place in the file form that the dotted ``key`` names (several with ``*``)."""
    parts = key.split(".")
    if len(parts) < 2 or not all(parts):
        raise _PathError(
            f"{key!r} is not a path into the model",
            "a dotted path such as buffer.<name>.policy.level",
        )
    head = parts[0]
    if head == "network":
        if len(parts) != 2 or parts[1] not in _HEAD:
            raise _PathError(
                f"no key {'.'.join(parts[1:])!r} in [network]", "one of " + ", ".join(_HEAD)
            )
        return [("network", parts[1])]
    if head not in _LISTS:
        raise _PathError(
            f"a path cannot start with {head!r}",
            "network, company, buffer, step, link or demand",
        )
    kind = _LISTS[head][-1]
    starts: list[tuple[Pointer, list[Any]]]
    if len(_LISTS[head]) == 1:
        starts = [((kind,), list(data.get(kind, [])))]
    else:  # buffers and steps are found in every company
        starts = [
            (("company", i, kind), list(c.get(kind, [])))
            for i, c in enumerate(data.get("company", []))
        ]
    return _walk_lists(starts, kind, parts[1:])


def _walk_lists(
    starts: list[tuple[Pointer, list[Any]]], kind: str, rest: list[str]
) -> list[Pointer]:
    """Match the next segments against the entries of one or more lists, then walk on."""
    found: list[tuple[Pointer, Mapping[str, Any], int]] = []  # entry pointer, entry, parts used
    known: list[str] = []
    wildcard = rest[0] == "*"
    for prefix, entries in starts:
        for j, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                continue
            names = _entry_names(kind, entry, entries)
            known.extend(names[:1])
            if wildcard:
                found.append(((*prefix, j), entry, 1))
                continue
            for used in range(len(rest), 0, -1):  # names may hold dots: the longest match
                if ".".join(rest[:used]) in names:
                    found.append(((*prefix, j), entry, used))
                    break
    if not found:
        raise _PathError(
            f"no {kind} {rest[0]!r}" if not wildcard else f"no {kind} in the model",
            f"one of {', '.join(known)}" if known else None,
        )
    if not wildcard and len(found) > 1:
        raise _PathError(
            f"several entries are called {'.'.join(rest[: found[0][2]])!r}",
            "a path through the company (company.<name>.buffer.<name>...)",
        )
    out: list[Pointer] = []
    for pointer, entry, used in found:
        tail = rest[used:]
        if not tail:
            raise _PathError(
                f"the path names the {kind} but none of its keys", "a key after the name"
            )
        out.extend(_walk_entry(pointer, entry, kind, tail))
    return out


def _walk_entry(
    pointer: Pointer, entry: Mapping[str, Any], kind: str, rest: list[str]
) -> list[Pointer]:
    """Inside one entry: keys, or a nested list (a company's buffers and steps)."""
    if kind == "company" and rest[0] in _NESTED and len(rest) > 1:
        nested = _NESTED[rest[0]]
        return _walk_lists([((*pointer, nested), list(entry.get(nested, [])))], nested, rest[1:])
    return [(*pointer, *rest)]


def _get(data: Any, pointer: Pointer, key: str) -> Any:
    """The value at ``pointer``; a path through a key the model does not have is the user's
    mistake, said as such."""
    for part in pointer:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            words = key.split(".")
            at = ".".join(words[: words.index(part)]) if part in words else "the model"
            raise _PathError(
                f"no table {part!r} in {at}",
                "a path through the tables the model file has (docs/sim.md)",
                key,
            ) from None
    return data


def _apply(
    data: dict[str, Any], changes: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """``changes`` written into a copy of the file form; also each written place's JSON pointer
    and the key that wrote it."""
    out = copy.deepcopy(data)
    placed: list[tuple[Pointer, str, Any]] = []
    for key, value in changes.items():
        for pointer in _resolve(out, key):
            placed.append((pointer, key, value))
    # a new table or a new kind first (it starts the table afresh), then the keys inside it
    placed.sort(key=lambda p: (len(p[0]), p[0][-1] != "kind" and not isinstance(p[2], Mapping)))
    where: dict[str, str] = {}
    for pointer, key, value in placed:
        parent = _get(out, pointer[:-1], key) if len(pointer) > 1 else out
        if not isinstance(parent, dict):
            words = key.split(".")
            raise _PathError(
                f"{'.'.join(words[:-1])} is a value, not a table",
                "a path that ends at a key of a table",
                key,
            )
        last = pointer[-1]
        assert isinstance(last, str)
        if last == "kind" and len(pointer) > 1:
            parent.clear()
        parent[last] = copy.deepcopy(dict(value)) if isinstance(value, Mapping) else value
        where["/" + "/".join(str(p) for p in pointer)] = key
    return out, where


def apply_variant(network: Network, variant: Variant) -> Network:
    """The baseline ``network`` with ``variant``'s changes, checked whole; :class:`ModelError`
    names the variant and the key of every problem."""
    return _variant_network(network, variant, document=_document(network))


def _document(network: Network) -> str:
    return str(network.source) if network.source is not None else "<model>"


def _variant_network(network: Network, variant: Variant, *, document: str) -> Network:
    where = f"variant {variant.name!r}"
    problems: list[Problem] = []
    data = _file_form(network)
    for key in variant.changes:
        try:
            _resolve(data, key)
        except _PathError as exc:
            problems.append(
                model_problem(
                    f"{where}, key {key!r}",
                    f"/variants/{variant.name}/{key}",
                    exc.detail,
                    exc.expected,
                )
            )
    if problems:
        raise ModelError(problems).with_document(document)
    try:
        changed, placed = _apply(data, variant.changes)
    except _PathError as exc:
        said = f"{where}, key {exc.key!r}" if exc.key else where
        pointer = f"/variants/{variant.name}" + (f"/{exc.key}" if exc.key else "")
        raise ModelError([model_problem(said, pointer, exc.detail, exc.expected)]).with_document(
            document
        ) from None
    try:
        return network_from_dict(changed, source=network.source)
    except ModelError as exc:
        raise ModelError([_blame(p, placed, variant.name) for p in exc.problems]).with_document(
            document
        ) from None


def _blame(problem: Problem, placed: Mapping[str, str], variant: str) -> Problem:
    """A problem of the changed model, told as the variant's: which key of it caused it."""
    field_ = problem.field or "/"
    key = next(
        (
            k
            for pointer, k in placed.items()
            if field_ == pointer
            or field_.startswith(pointer + "/")
            or pointer.startswith(field_ + "/")
        ),
        None,
    )
    detail = problem.detail.removeprefix(problem.title + ": ")
    if key is None:
        return model_problem(
            f"variant {variant!r}", f"/variants/{variant}", detail, problem.expected
        )
    return model_problem(
        f"variant {variant!r}, key {key!r}", f"/variants/{variant}/{key}", detail, problem.expected
    )


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A TOML table of changes as dotted keys (``buffer.dc.policy.level = 60`` is read by TOML
    as nested tables: the same change as the quoted ``"buffer.dc.policy.level" = 60``). A table
    with a ``kind`` (a policy, a distribution) stays whole: one change, the table replaced."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping) and "kind" not in value:
            out.update(_flatten(value, path))
        else:
            out[path] = value
    return out


def read_scenarios(path: str | Path) -> tuple[Network, dict[str, Variant]]:
    """A model file with its variants: the baseline is the file without its ``[variants.<name>]``
    tables, each of which holds one variant's changes (dotted keys). Every variant is checked
    against the model; :class:`ModelError` names the file, the variant and the key."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ModelError.single(
            "Cannot read the scenario file", exc.strerror or str(exc), document=str(path)
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelError.single(
            "Not a TOML file",
            str(exc),
            document=str(path),
            expected="TOML (see docs/sim/scenarios.md)",
        ) from None
    tables = data.pop("variants", {})
    network = network_from_dict(data, source=path)
    problems: list[Problem] = []
    if not isinstance(tables, Mapping):
        problems.append(
            model_problem(
                "variants", "/variants", "not a table", "[variants.<name>] tables of changes"
            )
        )
        tables = {}
    variants: dict[str, Variant] = {}
    for name, table in tables.items():
        if not isinstance(table, Mapping):
            problems.append(
                model_problem(
                    f"variant {name!r}",
                    f"/variants/{name}",
                    f"a value ({table!r}), not a table of changes",
                    f'[variants.{name}] with dotted keys, e.g. "buffer.<name>.policy.level" = 60',
                )
            )
            continue
        variant = Variant(name=name, changes=_flatten(table))
        try:
            _variant_network(network, variant, document=str(path))
        except ModelError as exc:
            problems.extend(exc.problems)
            continue
        variants[name] = variant
    if problems:
        raise ModelError(problems).with_document(str(path))
    return network, variants


# --- running them -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Chunk:
    networks: tuple[Network, ...]
    first: int
    count: int
    periods: int
    warmup: int
    seed: int


def _run_chunk(chunk: _Chunk) -> list[dict[tuple[str, str], FloatArray]]:
    """Replications ``first .. first + count - 1`` of every network: each KPI per replication,
    by (scope, KPI). A module-level function: it travels to worker processes and to Spark."""
    out = []
    for net in chunk.networks:
        plan = _policy._compile(net)
        totals = _policy._block(
            net, plan, chunk.seed, chunk.first, chunk.count, chunk.periods, chunk.warmup
        )
        out.append(_per_replication(plan.names, plan.demand, totals, chunk.periods))
    return out


def _per_replication(
    names: list[str], sells: Sequence[int | None], T: Any, n: int
) -> dict[tuple[str, str], FloatArray]:
    """Each KPI of each replication, as :func:`keiretsu.sim.policy_level.simulate` defines it
    (its means over replications are that function's estimates). ``sells``: per buffer, its
    end-customer demand if any — only there does the simulation count backorders (a buffer
    owing units to other buffers has its backorders left unmeasured, NaN, rather than 0)."""
    var = _policy._variance
    cost = (T.holding + T.shortage + T.ordering + T.transport) / n
    order_var = var(T.orders, T.orders_sq, n)
    received_var = var(T.received, T.received_sq, n)
    signal_var = var(T.signal, T.signal_sq, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        bullwhip = order_var / received_var
        amplification = order_var / signal_var
        fill = T.served / T.asked
        end_fill = T.end_served / T.end_asked
    out: dict[tuple[str, str], FloatArray] = {
        ("network", "cost"): cost.sum(axis=0),
        ("network", "holding_cost"): T.holding.sum(axis=0) / n,
        ("network", "shortage_cost"): T.shortage.sum(axis=0) / n,
        ("network", "ordering_cost"): T.ordering.sum(axis=0) / n,
        ("network", "transport_cost"): T.transport.sum(axis=0) / n,
        ("network", "on_hand"): T.on_hand.sum(axis=0) / n,
        ("network", "backorders"): T.backorders.sum(axis=0) / n,
        ("network", "fill_rate"): end_fill,
        ("network", "demand_mean"): T.end_demand / n,
        ("network", "demand_variance"): var(T.end_demand, T.end_demand_sq, n),
    }
    for i, name in enumerate(names):
        out[(name, "cost")] = cost[i]
        out[(name, "holding_cost")] = T.holding[i] / n
        out[(name, "shortage_cost")] = T.shortage[i] / n
        out[(name, "ordering_cost")] = T.ordering[i] / n
        out[(name, "transport_cost")] = T.transport[i] / n
        out[(name, "on_hand")] = T.on_hand[i] / n
        out[(name, "backorders")] = (
            T.backorders[i] / n if sells[i] is not None else np.full(T.backorders.shape[1], np.nan)
        )
        out[(name, "fill_rate")] = fill[i]
        out[(name, "demand_mean")] = T.received[i] / n
        out[(name, "orders_mean")] = T.orders[i] / n
        out[(name, "order_variance")] = order_var[i]
        out[(name, "demand_variance")] = received_var[i]
        out[(name, "bullwhip")] = bullwhip[i]
        out[(name, "amplification")] = amplification[i]
    return out


_NEEDS = {
    "fill_rate": "units asked for (demand reaching this buffer)",
    "backorders": "the units this buffer owes the buffers it supplies, which the policy-level "
    "simulation does not count (it counts end-customer backorders only)",
    "bullwhip": "demand received that varies from period to period",
    "amplification": "end-customer demand that varies from period to period",
}

_SCHEMA = pa.schema(
    [
        ("variant", pa.string()),
        ("kpi", pa.string()),
        ("scope", pa.string()),
        ("baseline", pa.float64()),
        ("value", pa.float64()),
        ("difference", pa.float64()),
        ("pct", pa.float64()),
        ("ci_low", pa.float64()),
        ("ci_high", pa.float64()),
        ("significant", pa.bool_()),
        ("unit", pa.string()),
        ("replications", pa.int64()),
        ("note", pa.string()),
    ]
)


@dataclass(frozen=True)
class Comparison:
    """Variants against the baseline, side by side.

    ``table``: one row per (variant, KPI, scope) — scope ``network`` or a buffer — with the
    baseline's and the variant's mean over replications, ``difference`` (variant minus
    baseline, in the KPI's ``unit``), ``pct`` (the difference in percent of the baseline),
    ``ci_low``/``ci_high`` (the paired ``confidence`` interval of the difference),
    ``significant`` (the interval leaves out 0), ``replications`` (the pairs it rests on) and a
    ``note`` where a figure is not measurable."""

    table: pa.Table
    network: str = ""
    period: str = ""
    periods: int = 0
    replications: int = 0
    warmup: int = 0
    seed: int = 0
    confidence: float = 0.95
    engine: str = "local"
    notes: tuple[str, ...] = ()

    def to_view(self) -> View:
        """The comparison as the analytics' :class:`~keiretsu.analytics.view.View`."""
        return View(
            name="scenarios",
            table=self.table,
            notes=self.notes,
            meta={
                "network": self.network,
                "period": self.period,
                "periods": self.periods,
                "replications": self.replications,
                "warmup": self.warmup,
                "seed": self.seed,
                "confidence": self.confidence,
                "engine": self.engine,
            },
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dictionary: notes, meta (network, periods, replications, seed, ...) and
        the rows (NaN as null)."""
        return self.to_view().to_json()

    def to_svg(self) -> str:
        """The differences with their intervals, one panel per KPI: a dot per (variant, scope)
        at the difference, its interval as a bar, 0 as a dashed line; significant differences
        in colour. A standalone SVG document."""
        return _svg(self)


def compare(
    network: Network,
    variants: Sequence[Variant],
    *,
    periods: int = 365,
    replications: int = 1000,
    seed: int = 0,
    engine: Engine = "local",
    workers: int | None = None,
    spark: Any = None,
    kpis: Sequence[str] = DEFAULT_KPIS,
    warmup: int | None = None,
    confidence: float = 0.95,
    chunk: int = 512,
) -> Comparison:
    """Run the baseline ``network`` and each variant ``replications`` times over ``periods``
    periods (after ``warmup`` periods not measured: by default the longest of the models'
    defaults, the same for all) on the same demand (common random numbers, ``seed``), and
    compare each KPI per replication.

    ``engine``: ``"local"`` processes (``workers``, default one per core) or ``"spark"``
    (``spark``: a SparkSession); ``chunk``: replications per piece of work (a multiple of 256).
    Same seed, same numbers, whatever the engine, the workers and the chunk size's runner."""
    if periods < 2:
        raise ValueError("periods: at least 2 measured periods are needed for a variance")
    unknown = [k for k in kpis if k not in KPI_UNITS]
    if unknown:
        raise ValueError(
            f"unknown KPI {', '.join(unknown)} (expected some of {', '.join(KPI_UNITS)})"
        )
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ValueError(f"variant names must differ: {names}")
    nets = (network, *(apply_variant(network, v) for v in variants))
    if warmup is None:
        warmup = max(max(20, 5 * _policy._longest_chain(n)) for n in nets)
    pieces = [
        _Chunk(nets, first, count, periods, warmup, seed)
        for first, count in chunks(replications, chunk)
    ]
    results = fan_out(_run_chunk, pieces, engine=engine, workers=workers, spark=spark)
    per_net = [
        {key: np.concatenate([r[k][key] for r in results]) for key in results[0][k]}
        for k in range(len(nets))
    ]
    base = per_net[0]
    scopes = ["network", *network.buffers]
    rows: list[dict[str, Any]] = []
    for variant, values in zip(variants, per_net[1:], strict=True):
        for kpi in kpis:
            for scope in scopes:
                if (scope, kpi) not in base or (scope, kpi) not in values:
                    continue
                rows.append(
                    _row(
                        variant.name,
                        kpi,
                        scope,
                        base[(scope, kpi)],
                        values[(scope, kpi)],
                        confidence,
                    )
                )
    notes = (
        f"{replications} replications of {periods} {network.period}s after a warm-up of {warmup}, "
        f"seed {seed}: every variant on the baseline's demand (common random numbers)",
        f"difference = variant − baseline per replication; {confidence:.0%} Student's t interval "
        "of the paired differences (scipy); significant when it leaves out 0 (each row on its "
        "own: with many rows, some will be significant by chance)",
    )
    return Comparison(
        table=pa.Table.from_pylist(rows, schema=_SCHEMA),
        network=network.name,
        period=network.period,
        periods=periods,
        replications=replications,
        warmup=warmup,
        seed=seed,
        confidence=confidence,
        engine=engine,
        notes=notes,
    )


def _row(
    variant: str, kpi: str, scope: str, base: FloatArray, value: FloatArray, confidence: float
) -> dict[str, Any]:
    ok = np.isfinite(base) & np.isfinite(value)
    pairs = int(ok.sum())
    row: dict[str, Any] = {
        "variant": variant,
        "kpi": kpi,
        "scope": scope,
        "baseline": None,
        "value": None,
        "difference": None,
        "pct": None,
        "ci_low": None,
        "ci_high": None,
        "significant": None,
        "unit": KPI_UNITS[kpi],
        "replications": pairs,
        "note": None,
    }
    if pairs == 0:
        needs = _NEEDS.get(kpi, "replications that measure it")
        row["note"] = f"not measurable — needs {needs}"
        return row
    b, v = base[ok], value[ok]
    d = v - b
    e = estimate(d, confidence)
    row["baseline"] = float(b.mean())
    row["value"] = float(v.mean())
    row["difference"] = e.mean
    notes = []
    if pairs < len(base):
        notes.append(f"{len(base) - pairs} replications do not measure it (left out)")
    if math.isnan(e.low):
        notes.append("interval not measurable — needs at least 2 replications")
    else:
        row["ci_low"], row["ci_high"] = e.low, e.high
        row["significant"] = bool(e.low > 0 or e.high < 0)
    if row["baseline"] != 0:
        row["pct"] = 100.0 * e.mean / row["baseline"]
    else:
        notes.append("% not measurable — needs a baseline other than 0")
    row["note"] = "; ".join(notes) or None
    return row


# --- the picture ------------------------------------------------------------------------------

_W = 720
_ROW = 22
_LABEL = 250
_PAD = 16


def _svg(comparison: Comparison) -> str:
    rows = [r for r in comparison.table.to_pylist()]
    kpis = list(dict.fromkeys(r["kpi"] for r in rows))
    parts: list[str] = []
    y = 58
    plot_l, plot_r = _LABEL + _PAD, _W - _PAD
    for kpi in kpis:
        mine = [r for r in rows if r["kpi"] == kpi]
        shown = [r for r in mine if r["difference"] is not None]
        lows = [r["ci_low"] if r["ci_low"] is not None else r["difference"] for r in shown]
        highs = [r["ci_high"] if r["ci_high"] is not None else r["difference"] for r in shown]
        lo = min([0.0, *lows])
        hi = max([0.0, *highs])
        if hi - lo <= 0:
            lo, hi = -1.0, 1.0
        span = hi - lo
        lo, hi = lo - 0.05 * span, hi + 0.05 * span

        def x(value: float, lo: float = lo, hi: float = hi) -> float:
            return plot_l + (value - lo) / (hi - lo) * (plot_r - plot_l)

        unit = mine[0]["unit"]
        parts.append(
            f'<text x="{_PAD}" y="{y}" font-weight="bold">{html.escape(kpi)}'
            f' <tspan font-weight="normal" fill="#555">— difference, {html.escape(unit)}'
            "</tspan></text>"
        )
        top = y + 10
        bottom = top + _ROW * len(mine)
        parts.append(
            f'<line x1="{x(0):.1f}" y1="{top}" x2="{x(0):.1f}" y2="{bottom}" '
            'stroke="#888" stroke-dasharray="4 3"/>'
        )
        for k, r in enumerate(mine):
            cy = top + _ROW * k + _ROW / 2
            label = f"{r['variant']} · {r['scope']}"
            parts.append(
                f'<text x="{_LABEL}" y="{cy + 4:.1f}" text-anchor="end">{html.escape(label)}</text>'
            )
            if r["difference"] is None:
                parts.append(
                    f'<text x="{plot_l}" y="{cy + 4:.1f}" fill="#888">—'
                    f"<title>{html.escape(r['note'] or '')}</title></text>"
                )
                continue
            colour = "#c0392b" if r["significant"] else "#555"
            if r["ci_low"] is not None:
                parts.append(
                    f'<line x1="{x(r["ci_low"]):.1f}" y1="{cy:.1f}" x2="{x(r["ci_high"]):.1f}" '
                    f'y2="{cy:.1f}" stroke="{colour}" stroke-width="2"/>'
                )
            pct = "" if r["pct"] is None else f" ({r['pct']:+.1f}%)"
            tip = f"{r['difference']:+.4g}{pct}"
            if r["ci_low"] is not None:
                tip += f", interval {r['ci_low']:.4g} … {r['ci_high']:.4g}"
            parts.append(
                f'<circle cx="{x(r["difference"]):.1f}" cy="{cy:.1f}" r="4" fill="{colour}">'
                f"<title>{html.escape(tip)}</title></circle>"
            )
        parts.append(
            f'<text x="{plot_l}" y="{bottom + 14}" fill="#555" font-size="10">{lo:.3g}</text>'
            f'<text x="{plot_r}" y="{bottom + 14}" fill="#555" font-size="10" '
            f'text-anchor="end">{hi:.3g}</text>'
            f'<text x="{x(0):.1f}" y="{bottom + 14}" fill="#555" font-size="10" '
            'text-anchor="middle">0</text>'
        )
        y = bottom + 40
    title = f"{comparison.network}: variants against the baseline"
    subtitle = (
        f"{comparison.replications} replications × {comparison.periods} {comparison.period}s, "
        f"same demand; {comparison.confidence:.0%} paired intervals; red: significant"
    )
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{y}" '
        f'viewBox="0 0 {_W} {y}" font-family="sans-serif" font-size="12">'
        f'<rect width="100%" height="100%" fill="white"/>'
        f'<text x="{_PAD}" y="20" font-size="14">{html.escape(title)}</text>'
        f'<text x="{_PAD}" y="36" fill="#555">{html.escape(subtitle)}</text>'
    )
    return head + "".join(parts) + "</svg>\n"
