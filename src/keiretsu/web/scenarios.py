"""The scenarios page: a pinned baseline and its variants side by side — each KPI's baseline,
each variant's value, the difference and its interval — from the node's scenario files.

A scenario file is a model file with ``[variants.<name>]`` tables (docs/sim/scenarios.md);
the obeya offers the ones in the node home's ``scenarios/`` folder. A comparison runs
:func:`keiretsu.sim.scenario.compare` on the file's own model, or on the twin's model
calibrated from the node's events (:func:`keiretsu.kaizen.predict.twin_model`) with the
file's variants applied to it, in a background thread of the node. Every figure shown is a
cell of the comparison's own table (``Comparison.to_json()``): this module only lays the rows
out side by side and hands the differences and their intervals to the chart.

Comparisons are kept in the node home (``obeya/scenario-runs/<id>.json``); one of them may be
**pinned** as the baseline the page opens with (``obeya/pinned-scenario.json``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keiretsu.web.pages import plain

BASELINES = {
    "file": "the scenario file's own model",
    "twin": "the twin's model, calibrated from this node's events",
}
"""What a comparison's baseline can be."""

LIMITS = {"replications": (2, 4096), "periods": (2, 3650), "seed": (0, 2**31 - 1)}
"""The form's numbers and their bounds (inclusive)."""

_RUN_ID = re.compile(r"^sc-[0-9a-f]{12}$")


class ScenarioFormError(ValueError):
    """A comparison asked for with something wrong in the form; the message says what."""


@dataclass(frozen=True)
class Request:
    """One comparison asked for: which file, which of its variants, on which baseline, how
    many replications of how many periods, which seed."""

    file: str
    variants: tuple[str, ...]
    baseline: str = "file"
    replications: int = 256
    periods: int = 200
    seed: int = 0


class Scenarios:
    """The scenario files of a node (``home/scenarios/*.toml``) and the comparisons run on
    them (``home/obeya/scenario-runs``). ``store``: the node's store (for the twin's model)."""

    def __init__(self, home: Path, store: Any) -> None:
        self.folder = Path(home) / "scenarios"
        self.runs_dir = Path(home) / "obeya" / "scenario-runs"
        self.pinned_path = Path(home) / "obeya" / "pinned-scenario.json"
        self._store = store
        self._lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._files: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}

    # --- the files --------------------------------------------------------------------------

    def files(self) -> list[dict[str, Any]]:
        """Each scenario file: its name, its variants (or why it does not read)."""
        from keiretsu.sim.scenario import read_scenarios

        found = []
        for path in sorted(self.folder.glob("*.toml")) if self.folder.is_dir() else []:
            try:
                stamp = (path.stat().st_mtime_ns, path.stat().st_size)
            except OSError:
                continue
            known = self._files.get(path.name)
            if known is None or known[0] != stamp:  # read again only when the file changed
                try:
                    network, variants = read_scenarios(path)
                    entry = {"name": path.name, "network": network.name, "variants": list(variants)}
                except Exception as exc:  # shown beside the file: the model's own reasons
                    entry = {"name": path.name, "error": str(exc), "variants": []}
                known = self._files[path.name] = (stamp, entry)
            found.append(dict(known[1]))
        return found

    def check(self, form: dict[str, list[str]]) -> Request:
        """The comparison the form asks for, or :class:`ScenarioFormError` naming the field."""
        names = {f["name"]: f for f in self.files()}
        file = (form.get("file") or [""])[0]
        if file not in names:
            expected = ", ".join(names) or f"none: put scenario files in {self.folder}"
            raise ScenarioFormError(
                f"file: {file!r} is not a scenario file of this node (expected one of {expected})"
            )
        if "error" in names[file]:
            raise ScenarioFormError(f"file: {file} does not read: {names[file]['error']}")
        wanted = tuple(form.get("variant") or [])
        if not wanted:
            raise ScenarioFormError("variant: pick at least one variant to compare")
        unknown = [v for v in wanted if v not in names[file]["variants"]]
        if unknown:
            raise ScenarioFormError(
                f"variant: {file} has no variant {unknown[0]!r} (expected one of "
                f"{', '.join(names[file]['variants'])})"
            )
        baseline = (form.get("baseline") or ["file"])[0]
        if baseline not in BASELINES:
            raise ScenarioFormError(
                f"baseline: expected one of {', '.join(BASELINES)}, not {baseline!r}"
            )
        numbers: dict[str, int] = {}
        for key, (low, high) in LIMITS.items():
            text = (form.get(key) or [str(getattr(Request, key))])[0].strip()
            try:
                value = int(text)
            except ValueError:
                raise ScenarioFormError(f"{key}: expected a whole number, not {text!r}") from None
            if not low <= value <= high:
                raise ScenarioFormError(f"{key}: expected {low} to {high}, not {value}")
            numbers[key] = value
        return Request(file, tuple(dict.fromkeys(wanted)), baseline, **numbers)

    # --- running ----------------------------------------------------------------------------

    def start(self, request: Request, *, by: str) -> str:
        """Start the comparison in a background thread; returns its id (``sc-…``)."""
        run_id = "sc-" + secrets.token_hex(6)
        record: dict[str, Any] = {
            "id": run_id,
            "status": "running",
            "by": by,
            "started_at": _now(),
            "finished_at": None,
            "file": request.file,
            "variants": list(request.variants),
            "baseline": request.baseline,
            "replications": request.replications,
            "periods": request.periods,
            "seed": request.seed,
            "error": None,
            "comparison": None,
        }
        self._write(record)
        thread = threading.Thread(
            target=self._run, args=(record, request), name=f"obeya-{run_id}", daemon=True
        )
        with self._lock:
            self._threads[run_id] = thread
        thread.start()
        return run_id

    def _run(self, record: dict[str, Any], request: Request) -> None:
        from keiretsu.sim.scenario import compare, read_scenarios

        try:
            network, variants = read_scenarios(self.folder / request.file)
            if request.baseline == "twin":
                from keiretsu.kaizen.predict import twin_model

                reader: Any = _ReadStore(self._store.con.cursor())
                network = twin_model(reader).network
            result = compare(
                network,
                [variants[v] for v in request.variants],
                periods=request.periods,
                replications=request.replications,
                seed=request.seed,
                workers=1,
            )
            record["comparison"] = plain(result.to_json())
            record["status"] = "done"
        except Exception as exc:  # kept with the run, shown on the page
            record["status"] = "failed"
            record["error"] = f"{type(exc).__name__}: {exc}"
        record["finished_at"] = _now()
        self._write(record)
        with self._lock:
            self._threads.pop(record["id"], None)

    def wait(self, run_id: str, timeout: float | None = None) -> None:
        """Wait for the comparison ``run_id`` to finish (tests, the bench)."""
        with self._lock:
            thread = self._threads.get(run_id)
        if thread is not None:
            thread.join(timeout)

    # --- kept runs and the pin ----------------------------------------------------------------

    def run(self, run_id: str) -> dict[str, Any]:
        """The comparison ``run_id`` as kept; LookupError if there is none."""
        if not _RUN_ID.match(run_id):
            raise LookupError(f"no comparison {run_id!r} (ids look like sc-0123456789ab)")
        path = self.runs_dir / f"{run_id}.json"
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LookupError(f"no comparison {run_id!r} on this node") from None
        return data

    def runs(self) -> list[dict[str, Any]]:
        """Every comparison kept, newest first (without their tables)."""
        found = []
        for path in self.runs_dir.glob("sc-*.json") if self.runs_dir.is_dir() else []:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            data.pop("comparison", None)
            found.append(data)
        return sorted(found, key=lambda r: (r["started_at"], r["id"]), reverse=True)

    def pinned(self) -> str | None:
        """The id of the comparison pinned as the baseline, if any (and still kept)."""
        try:
            run_id = str(json.loads(self.pinned_path.read_text(encoding="utf-8"))["run"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return run_id if (self.runs_dir / f"{run_id}.json").exists() else None

    def pin(self, run_id: str, *, by: str) -> None:
        """Pin the finished comparison ``run_id`` as the baseline the page opens with."""
        record = self.run(run_id)
        if record["status"] != "done":
            raise ScenarioFormError(f"run: {run_id} is {record['status']}, not done: not pinned")
        _write_json(self.pinned_path, {"run": run_id, "by": by, "at": _now()})

    def _write(self, record: dict[str, Any]) -> None:
        _write_json(self.runs_dir / f"{record['id']}.json", record)


def side_by_side(record: dict[str, Any]) -> dict[str, Any]:
    """A finished comparison laid out for the page: per (KPI, scope) the baseline and, per
    variant, the value, difference, percent, interval and significance — the cells of
    ``compare``'s table, unchanged — and per KPI the chart's differences with intervals."""
    comparison = record["comparison"] or {}
    rows: list[dict[str, Any]] = comparison.get("rows", [])
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    lines: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        line = lines.setdefault(
            (r["kpi"], r["scope"]),
            {"kpi": r["kpi"], "scope": r["scope"], "unit": r["unit"], "cells": {}},
        )
        line.setdefault("baseline", r["baseline"])
        line["cells"][r["variant"]] = r
    charts: dict[str, dict[str, Any]] = {}
    for r in rows:
        chart = charts.setdefault(r["kpi"], {"kpi": r["kpi"], "unit": r["unit"], "rows": []})
        if r["difference"] is not None:
            chart["rows"].append(
                {
                    "label": f"{r['variant']} · {r['scope']}",
                    "difference": r["difference"],
                    "ci_low": r["ci_low"],
                    "ci_high": r["ci_high"],
                    "significant": r["significant"],
                }
            )
    return {
        "variants": variants,
        "lines": list(lines.values()),
        "charts": [c for c in charts.values() if c["rows"]],
        "notes": comparison.get("notes", []),
        "meta": comparison.get("meta", {}),
    }


@dataclass
class _ReadStore:
    """A store seen through one read cursor (what :func:`twin_model` reads: ``con``)."""

    con: Any


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Write beside and rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(temp, path)
