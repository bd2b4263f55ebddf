"""The model file: a value network in TOML, read and checked whole.

```toml
[network]
name = "four-stage-serial"
period = "week"
unmet = "backorder"            # or "lost_sale"

[[company]]
name = "retailer"
sees = ["orders", "end_customer_demand"]
  [[company.buffer]]
  name = "retailer"
  policy = { kind = "base_stock", level = 40 }
  holding_cost = 1.0           # per unit per period
  [[company.step]]
  name = "shelf-fill"
  capacity = 120               # units per period

[[link]]
from = "wholesaler"            # omit for an outside supplier
to = "retailer"
lead_time = { kind = "constant", value = 2 }   # periods

[[demand]]
at = "retailer"
distribution = { kind = "normal", mean = 10, sd = 3 }   # units per period
backorder_cost = 9.0           # per unit per period
```

Every problem in the file is reported at once (:class:`~keiretsu.sim.model.errors.ModelError`),
each naming the file, the entry (``company[0] (retailer).buffer[0] (retailer)``), the key and
what was expected; unknown keys are refused, so a misspelt key never silently falls back to a
default.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ValidationError

from keiretsu.model.errors import Problem
from keiretsu.sim.model.demand import Demand, Series
from keiretsu.sim.model.distributions import Constant, Empirical, Gamma, Normal, Poisson, Uniform
from keiretsu.sim.model.errors import ModelError, model_problem
from keiretsu.sim.model.network import Buffer, Company, Link, Network, Step
from keiretsu.sim.model.policies import RQ, SS, BaseStock, EchelonBaseStock, Forecast, Kanban

__all__ = ["load_network", "network_from_dict", "network_to_toml"]

_TOP = ("network", "company", "link", "demand")
_TABLES: dict[str, type[BaseModel]] = {
    "network": Network,
    "company": Company,
    "buffer": Buffer,
    "step": Step,
    "link": Link,
    "demand": Demand,
    "series": Series,
}
_KINDS: dict[str, type[BaseModel]] = {
    "constant": Constant,
    "normal": Normal,
    "poisson": Poisson,
    "gamma": Gamma,
    "uniform": Uniform,
    "empirical": Empirical,
    "base_stock": BaseStock,
    "echelon_base_stock": EchelonBaseStock,
    "s_S": SS,
    "R_Q": RQ,
    "kanban": Kanban,
    "forecast": Forecast,
}


def load_network(path: str | Path) -> Network:
    """Read and check a model file; :class:`ModelError` names every problem in it."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ModelError.single(
            "Cannot read the network model", exc.strerror or str(exc), document=str(path)
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelError.single(
            "Not a TOML file", str(exc), document=str(path), expected="TOML (see docs/sim.md)"
        ) from None
    return network_from_dict(data, source=path)


def network_from_dict(data: Mapping[str, Any], *, source: str | Path | None = None) -> Network:
    """A model from its parsed TOML form (``[network]``, ``[[company]]``, ``[[link]]``,
    ``[[demand]]``); series files are relative to ``source``'s folder."""
    document = str(source) if source is not None else None
    problems: list[Problem] = []
    for key in data:
        if key not in _TOP:
            problems.append(
                model_problem(
                    "top level",
                    f"/{key}",
                    f"unknown table or key {key!r}",
                    "[network], [[company]], [[link]] and [[demand]]",
                )
            )
    head = data.get("network")
    if not isinstance(head, Mapping):
        problems.append(
            model_problem(
                "top level",
                "/network",
                "missing the [network] table",
                "[network] with name (and period, unmet)",
            )
        )
        head = {}
    if problems:
        raise ModelError(problems).with_document(document or "<model>")
    flat: dict[str, Any] = dict(head)
    for key in ("company", "link", "demand"):
        if key in data:
            flat[key] = data[key]
    base = Path(source).resolve().parent if source is not None else Path.cwd()
    flat["demand"] = _resolve_series(flat.get("demand"), base)
    if source is not None:
        flat["source"] = Path(source)
    try:
        return Network.model_validate(flat)
    except ValidationError as exc:
        raise ModelError(_problems(exc, flat)).with_document(document or "<model>") from None
    except ModelError as exc:
        raise exc.with_document(document or "<model>") from None


def network_to_toml(network: Network) -> str:
    """The model as TOML text, in the layout :func:`load_network` reads."""
    data = network.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.pop("source", None)
    out: dict[str, Any] = {"network": {k: data.pop(k) for k in ("name", "period", "unmet")}}
    for key in ("company", "link", "demand"):
        out[key] = data[key]
    return tomli_w.dumps(out)


def _resolve_series(demand: Any, base: Path) -> Any:
    if not isinstance(demand, list):
        return demand
    resolved = []
    for entry in demand:
        series = entry.get("series") if isinstance(entry, dict) else None
        if isinstance(series, dict) and isinstance(series.get("file"), str):
            entry = {**entry, "series": {**series, "file": str(base / series["file"])}}
        resolved.append(entry)
    return resolved


def _problems(exc: ValidationError, data: Mapping[str, Any]) -> list[Problem]:
    out = []
    errors = exc.errors(include_url=False)
    for err in errors:
        if err["type"] == "too_short" and any(
            len(other["loc"]) > len(err["loc"]) and other["loc"][: len(err["loc"])] == err["loc"]
            for other in errors
        ):
            continue  # a list whose entries failed: the entries' problems say it
        where, pointer, parent, key = _locate(err["loc"], data)
        kind = err["type"]
        message = str(err["msg"])
        if kind == "missing":
            detail, expected = f"key {key!r} is missing", f"a value for {key!r}"
        elif kind == "extra_forbidden":
            allowed = _allowed(parent)
            detail = f"unknown key {key!r}"
            expected = f"one of {', '.join(allowed)}" if allowed else "no such key"
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            detail, expected = f"key {key!r}: {message}", None
        elif kind == "too_short":
            detail, expected = f"key {key!r}: nothing given", "at least one entry"
        else:
            detail = f"key {key!r}: {message}, got {err.get('input')!r}" if key else message
            expected = message.removeprefix("Input should be ").removeprefix("Value error, ")
        out.append(model_problem(where, pointer, detail, expected))
    return out


def _locate(loc: Sequence[int | str], data: Any) -> tuple[str, str, type[BaseModel] | None, str]:
    """Words for the entry (``company[0] (retailer).buffer[1]``), a JSON pointer into the
    file, the table type holding the key, and the key."""
    words: list[str] = []
    pointer: list[str] = []
    node: Any = data
    table: type[BaseModel] | None = Network
    key = ""
    top = True
    for part in loc:
        if isinstance(part, int):
            named = node[part] if isinstance(node, list) and part < len(node) else None
            label = f"[{part}]"
            if isinstance(named, dict) and isinstance(named.get("name"), str):
                label += f" ({named['name']})"
            if words:
                words[-1] += label
            pointer.append(str(part))
            node = named
            continue
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            table = _KINDS.get(part, table)  # the union's tag: not a key of the file
            continue
        if top and part not in ("company", "link", "demand"):
            pointer.append("network")
            words.append("[network]")
        top = False
        key = part
        pointer.append(part)
        if part in _TABLES:
            table = _TABLES[part]
            words.append(part)
        elif isinstance(node, dict) and isinstance(node.get(part), dict):
            kind = node[part].get("kind")
            table = _KINDS.get(kind) if isinstance(kind, str) else None
            words.append(part)
        node = node.get(part) if isinstance(node, dict) else None
    if words and words[-1] == key:
        words.pop()
    return ".".join(words), "/" + "/".join(pointer), table, key


def _allowed(table: type[BaseModel] | None) -> list[str]:
    if table is None:
        return []
    names = []
    for name, field in table.model_fields.items():
        if name == "source" and table is Network:
            continue
        names.append(field.alias or name)
    return names
