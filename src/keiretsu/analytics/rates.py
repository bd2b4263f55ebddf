"""What an hour of waste costs at this node: the cost rates the waste view prices hours and
units with.

Every node has its own: a plant's hour of waiting is not a distributor's, and a pallet of
medicine is not a pallet of water. The defaults below are placeholders chosen so that money is
never silently zero; set your own in the node's TOML file and read it with
:meth:`Rates.from_toml`::

    currency = "EUR"
    waiting_per_hour = 2.0          # per object-hour of waiting
    holding_per_year = 0.25         # of the stock's value, per year
    unit_value = 1.0                # value of one unit of a product without its own
    transport_per_move = 50.0       # per move between two locations
    transport_per_hour = 10.0       # per hour in transit
    defect_cost = 25.0              # per defect, rework loop, return or error declaration
    overprocessing_per_hour = 40.0  # per hour of a repeated inspection
    inspection_hours = 0.25         # standard time of one inspection
    motion_per_hour = 40.0          # per hour of people or equipment moving between read points

    [waiting_per_hour_by_type]      # overrides per object type
    "trade item" = 0.5

    [unit_values]                   # per product (GTIN as a GS1 Digital Link), in currency
    "https://id.gs1.org/01/04012345111118" = 12.0

    [inspection_hours_by_step]      # standard time per inspecting step, hours
    inspecting = 0.5
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from keiretsu.model.errors import DocumentError

_PER_NAME = ("waiting_per_hour_by_type", "unit_values", "inspection_hours_by_step")


def _frozen(values: Mapping[str, float] | None = None) -> Mapping[str, float]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class Rates:
    """The node's cost rates (money in ``currency``; hours are clock hours).

    ``waiting_per_hour``: cost of one object waiting one hour (``waiting_per_hour_by_type``
    overrides it per object type). ``holding_per_year``: the yearly cost of holding stock as a
    fraction of its value (capital, space, insurance, obsolescence; 0.25 is a textbook
    figure). ``unit_value``: value of one unit of a product (``unit_values`` per product).
    ``transport_per_move`` and ``transport_per_hour``: cost of one move between locations and
    of each hour in transit. ``defect_cost``: cost of one defect (a rework loop, a return, a
    non-conforming disposition, an error declaration). ``overprocessing_per_hour``: cost of an
    hour spent on a step that added nothing (a repeated inspection); ``inspection_hours`` is
    the standard time of one inspection (``inspection_hours_by_step`` per step), used because
    most logs do not say how long an inspection took. ``motion_per_hour``: cost of an hour of
    people or equipment moving between read points within a site.
    """

    currency: str = "EUR"
    waiting_per_hour: float = 1.0
    waiting_per_hour_by_type: Mapping[str, float] = field(default_factory=_frozen)
    holding_per_year: float = 0.25
    unit_value: float = 1.0
    unit_values: Mapping[str, float] = field(default_factory=_frozen)
    transport_per_move: float = 50.0
    transport_per_hour: float = 10.0
    defect_cost: float = 25.0
    overprocessing_per_hour: float = 40.0
    inspection_hours: float = 0.25
    inspection_hours_by_step: Mapping[str, float] = field(default_factory=_frozen)
    motion_per_hour: float = 40.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "currency":
                if not isinstance(value, str) or not value.strip():
                    raise ValueError("Rates.currency: expected a currency code such as 'EUR'")
            elif f.name in _PER_NAME:
                for key, rate in dict(value).items():
                    _check_rate(f"{f.name}.{key}", rate)
                object.__setattr__(self, f.name, _frozen(value))
            else:
                _check_rate(f.name, value)

    def waiting_rate(self, object_type: str) -> float:
        """Money per hour of waiting for one object of ``object_type``."""
        return float(self.waiting_per_hour_by_type.get(object_type, self.waiting_per_hour))

    def value_of(self, product: str) -> float:
        """Value of one unit of ``product``."""
        return float(self.unit_values.get(product, self.unit_value))

    def inspection_hours_of(self, step: str) -> float:
        """Standard time, in hours, of one pass through the inspecting ``step``."""
        return float(self.inspection_hours_by_step.get(step, self.inspection_hours))

    @classmethod
    def from_toml(cls, path: str | Path, *, table: str | None = None) -> Rates:
        """The rates in the TOML file at ``path`` (keys as the field names above; per-type,
        per-product and per-step rates as sub-tables). ``table`` reads them from one table of
        a larger file (``table="rates"`` for a ``[rates]`` section). Keys left out keep their
        defaults. Raises :class:`~keiretsu.model.errors.DocumentError` naming the file and the
        key when the file cannot be read or a value is not a rate."""
        document = str(path)
        try:
            with open(path, "rb") as handle:
                data: dict[str, Any] = tomllib.load(handle)
        except OSError as exc:
            raise DocumentError.single(
                "Cannot read rates", str(exc), type="invalid-rates", document=document
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise DocumentError.single(
                "Rates file is not TOML",
                str(exc),
                type="invalid-rates",
                document=document,
                line=_line_of(exc),
            ) from exc
        if table is not None:
            section = data.get(table)
            if not isinstance(section, dict):
                raise _bad(document, table, "a table of rates", section)
            data = section
            prefix = f"{table}."
        else:
            prefix = ""
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            where = prefix + key
            if key not in known:
                raise _bad(document, where, f"one of {', '.join(sorted(known))}", value)
            if key == "currency":
                if not isinstance(value, str) or not value.strip():
                    raise _bad(document, where, "a currency code such as 'EUR'", value)
                values[key] = value
            elif key in _PER_NAME:
                if not isinstance(value, dict):
                    raise _bad(document, where, "a table of name = rate", value)
                for name, rate in value.items():
                    if not _is_rate(rate):
                        raise _bad(document, f"{where}.{name}", "a number >= 0", rate)
                values[key] = {str(k): float(v) for k, v in value.items()}
            else:
                if not _is_rate(value):
                    raise _bad(document, where, "a number >= 0", value)
                values[key] = float(value)
        return cls(**values)


def _line_of(exc: tomllib.TOMLDecodeError) -> int | None:
    """The line a TOML error is at (Python 3.11 only says it in the message)."""
    line = getattr(exc, "lineno", None)
    if isinstance(line, int):
        return line
    found = re.search(r"at line (\d+)", str(exc))
    return int(found.group(1)) if found else None


def _is_rate(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _check_rate(name: str, value: Any) -> None:
    if not _is_rate(value):
        raise ValueError(f"Rates.{name}: expected a number >= 0, got {value!r}")


def _bad(document: str, key: str, expected: str, value: Any) -> DocumentError:
    return DocumentError.single(
        "Bad rate",
        f"{key} = {value!r}",
        type="invalid-rates",
        document=document,
        field=key,
        expected=expected,
    )
