"""Inventory policies: when a buffer orders, and how much.

Every period, after the period's demand and shipments, each buffer looks at its **inventory
position** — stock on hand, plus what is on order from its suppliers (in transit or still owed
by them), minus what it owes its own customers — and orders by its policy:

- ``base_stock`` (``level``): order up to ``level``; an order replaces what was taken.
  *Installation* stock: the position counts this buffer only.
- ``echelon_base_stock`` (``level``): the same on the **echelon** position — this buffer and
  every buffer downstream of it, with the stock in transit between them, less the end
  customers' backorders. Clark and Scarf (1960) showed it optimal for a serial chain; it needs
  the company to see its downstream partners' inventory (``sees`` ``partner_inventory``).
- ``s_S`` (``s``, ``S``): when the position is at or below ``s``, order up to ``S``
  (a minimum order of ``S - s``, for a fixed ordering cost).
- ``R_Q`` (``R``, ``Q``): when the position is at or below ``R``, order as many lots of ``Q``
  as bring it above ``R``.
- ``kanban`` (``cards``, ``container``): a kanban loop of ``cards`` containers of
  ``container`` units; an empty container is a card sent back, i.e. full containers are
  ordered to keep the position at ``cards × container`` at most — an ``R_Q`` policy with
  ``R = (cards - 1) × container`` and ``Q = container``.
- ``forecast`` (``periods``, ``safety_stock``, ``cover``): order up to ``cover`` periods of
  forecast demand plus a safety stock, the forecast being the moving average of the last
  ``periods`` periods. What is forecast depends on what the company sees: the orders it
  receives, or the end-customer demand when it sees it (``sees`` ``end_customer_demand``). This
  is the policy of Chen, Drezner, Ryan and Simchi-Levi (2000) on the bullwhip effect.
  ``cover`` defaults to the buffer's replenishment lead time (periods).

Levels and quantities are in units.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["RQ", "SS", "BaseStock", "EchelonBaseStock", "Forecast", "Kanban", "Policy"]


class _Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def target(self) -> float | None:
        """The stock the buffer starts with (units): its order-up-to level, where it has one."""
        return None


class BaseStock(_Policy):
    """Order up to ``level`` on the buffer's own inventory position (installation stock)."""

    kind: Literal["base_stock"] = "base_stock"
    level: float

    @property
    def target(self) -> float:
        return self.level


class EchelonBaseStock(_Policy):
    """Order up to ``level`` on the echelon inventory position (this buffer and all downstream)."""

    kind: Literal["echelon_base_stock"] = "echelon_base_stock"
    level: float

    @property
    def target(self) -> float:
        return self.level


class SS(_Policy):
    """(s, S): at or below ``s``, order up to ``S``."""

    kind: Literal["s_S"] = "s_S"
    s: float
    S: float

    @model_validator(mode="after")
    def _ordered(self) -> SS:
        if self.s > self.S:
            raise ValueError(f"S ({self.S}) must be at least s ({self.s})")
        return self

    @property
    def target(self) -> float:
        return self.S


class RQ(_Policy):
    """(R, Q): at or below ``R``, order lots of ``Q`` until the position is above ``R``."""

    kind: Literal["R_Q"] = "R_Q"
    R: float
    Q: float = Field(gt=0)

    @property
    def target(self) -> float:
        return self.R + self.Q


class Kanban(_Policy):
    """A kanban loop: ``cards`` containers of ``container`` units each."""

    kind: Literal["kanban"] = "kanban"
    cards: int = Field(ge=1)
    container: float = Field(gt=0)

    @property
    def target(self) -> float:
        return self.cards * self.container


class Forecast(_Policy):
    """Order up to ``cover`` periods of moving-average forecast plus ``safety_stock`` units."""

    kind: Literal["forecast"] = "forecast"
    periods: int = Field(ge=1)
    """How many past periods the moving average spans (p)."""
    safety_stock: float = 0.0
    cover: float | None = Field(default=None, ge=0)
    """Periods of demand the level covers; default: the replenishment lead time."""


Policy = Annotated[
    BaseStock | EchelonBaseStock | SS | RQ | Kanban | Forecast, Field(discriminator="kind")
]
"""Any inventory policy, told apart by ``kind``."""
