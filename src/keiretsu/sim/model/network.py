"""The value network as a model: companies, their steps and buffers, the links between them,
end-customer demand, costs, and what each company sees.

- A **company** runs **steps** (a press, a packing line: capacity in units per period,
  processing time per batch and set-up time in hours, batch size in units, yield as the share
  of good units) and holds stock in **buffers** (stock points: a plant's finished goods, a
  distribution centre, a store's shelf). Each buffer has an inventory **policy**
  (:mod:`~keiretsu.sim.model.policies`), a holding cost per unit per period (on hand, and in
  transit to its customers until they receive it) and an ordering cost per order placed.
- A **link** carries goods from one buffer to another (``from``, ``to``) or, without
  ``from``, from an outside supplier that always has stock. Its lead time is a distribution in
  periods; ``units`` says how many units of the supplier's item go into one unit of the
  customer's (a bill of materials: several links into one buffer make an assembly). Transport
  costs per unit and per shipment.
- **Demand** (:mod:`~keiretsu.sim.model.demand`) is end-customer demand at the buffers that
  serve end customers; what is not served is backordered or lost (``unmet``).
- What a company **sees** is what its node's sharing policy lets through from its partners:
  ``orders`` (only the orders it receives — always), ``end_customer_demand`` (the sales at the
  end of the chain, shared), ``partner_inventory`` (its downstream partners' inventory
  positions). A forecast policy forecasts from end-customer demand only where the company sees
  it; an echelon policy needs its downstream partners' inventory.

The network may be **serial** (each buffer one supplier and one customer), a **distribution**
tree (one to many), an **assembly** tree (many to one) or any acyclic mix.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from keiretsu.model.errors import Problem
from keiretsu.sim.model.demand import Demand
from keiretsu.sim.model.distributions import Distribution
from keiretsu.sim.model.errors import ModelError, model_problem
from keiretsu.sim.model.policies import EchelonBaseStock, Policy

__all__ = ["OUTSIDE", "Buffer", "Company", "Link", "Network", "Step"]

OUTSIDE = "(outside supplier)"
"""How a link without ``from`` names its supplier: outside the network, always in stock."""

Sight = Literal["orders", "end_customer_demand", "partner_inventory"]


class _Entry(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True
    )


class Step(_Entry):
    """A process step of a company: what it can make, how fast, in what batches."""

    name: str = Field(min_length=1)
    buffer: str | None = None
    """The buffer the step feeds (default: the company's only buffer)."""
    capacity: float | None = Field(default=None, gt=0)
    """Units per period the step can put out; none means not a constraint."""
    processing_time: Distribution | None = None
    """Hours per batch."""
    batch_size: int = Field(default=1, ge=1)
    """Units per batch."""
    setup_time: float = Field(default=0.0, ge=0)
    """Hours to set up before a batch."""
    yield_: float = Field(default=1.0, gt=0, le=1, alias="yield")
    """Share of units that come out good (the rest are scrapped)."""
    rework: float = Field(default=0.0, ge=0, le=1)
    """Share of the bad units that are reworked into good ones."""

    @property
    def good_share(self) -> float:
        """Good units per unit started, rework included."""
        return self.yield_ + (1 - self.yield_) * self.rework


class Buffer(_Entry):
    """A stock point with its inventory policy and its costs."""

    name: str = Field(min_length=1)
    policy: Policy
    holding_cost: float = Field(default=0.0, ge=0)
    """Cost per unit per period, on hand and in transit to its customers."""
    ordering_cost: float = Field(default=0.0, ge=0)
    """Cost per order placed."""
    initial: float | None = None
    """Units on hand at the start (default: the policy's order-up-to level)."""


class Company(_Entry):
    """A company of the network: its steps, its buffers, and what it sees of its partners."""

    name: str = Field(min_length=1)
    sees: tuple[Sight, ...] = ("orders",)
    steps: tuple[Step, ...] = Field(default=(), alias="step")
    buffers: tuple[Buffer, ...] = Field(min_length=1, alias="buffer")


class Link(_Entry):
    """Goods moving from a supplier's buffer (or from outside) to a customer's buffer."""

    source: str | None = Field(default=None, alias="from")
    """The supplying buffer; none: an outside supplier, always in stock."""
    target: str = Field(alias="to")
    lead_time: Distribution
    """Periods from the order to the goods' arrival (whole periods, at least one, in the
    policy-level simulation)."""
    units: float = Field(default=1.0, gt=0)
    """Units of the supplier's item in one unit of the customer's."""
    cost_per_unit: float = Field(default=0.0, ge=0)
    cost_per_shipment: float = Field(default=0.0, ge=0)

    @property
    def supplier(self) -> str:
        """The supplying buffer's name, or :data:`OUTSIDE`."""
        return OUTSIDE if self.source is None else self.source


class Network(_Entry):
    """A value network: load one from a file with :meth:`load`, or build it in Python."""

    name: str = Field(min_length=1)
    period: str = "day"
    """What one period is (a day, a week); every rate and cost per period is per this."""
    unmet: Literal["backorder", "lost_sale"] = "backorder"
    """What happens to end-customer demand not served from stock."""
    companies: tuple[Company, ...] = Field(min_length=1, alias="company")
    links: tuple[Link, ...] = Field(min_length=1, alias="link")
    demand: tuple[Demand, ...] = Field(min_length=1)
    source: Path | None = Field(default=None, exclude=True)
    """The file the model was read from, if any."""

    # --- reading and writing -----------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path) -> Network:
        """Read and check a model file (TOML); :class:`ModelError` lists every problem."""
        from keiretsu.sim.model.file import load_network

        return load_network(path)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str | Path | None = None) -> Network:
        """A model from its parsed TOML form; paths in it are relative to ``source``'s folder."""
        from keiretsu.sim.model.file import network_from_dict

        return network_from_dict(data, source=source)

    def to_toml(self) -> str:
        """The model as a TOML file's text (reads back to an equal model)."""
        from keiretsu.sim.model.file import network_to_toml

        return network_to_toml(self)

    def with_policies(self, policies: dict[str, Policy]) -> Network:
        """The same network with some buffers' policies replaced (buffer name -> policy)."""
        unknown = set(policies) - set(self.buffers)
        if unknown:
            raise ValueError(f"no buffer {', '.join(sorted(unknown))} in network {self.name!r}")
        companies = tuple(
            c.model_copy(
                update={
                    "buffers": tuple(
                        b.model_copy(update={"policy": policies[b.name]})
                        if b.name in policies
                        else b
                        for b in c.buffers
                    )
                }
            )
            for c in self.companies
        )
        return Network.model_validate(
            {**self.model_dump(by_alias=False), "companies": companies, "source": self.source}
        )

    # --- checks that span entries ------------------------------------------------------------

    @model_validator(mode="after")
    def _references(self) -> Network:
        problems = list(_check(self))
        if problems:
            raise ModelError(problems)
        return self

    # --- the topology ------------------------------------------------------------------------

    @cached_property
    def buffers(self) -> dict[str, Buffer]:
        """Every buffer by name, in file order."""
        return {b.name: b for c in self.companies for b in c.buffers}

    @cached_property
    def owner(self) -> dict[str, Company]:
        """The company holding each buffer."""
        return {b.name: c for c in self.companies for b in c.buffers}

    def links_into(self, buffer: str) -> tuple[Link, ...]:
        """The links supplying ``buffer``."""
        return tuple(link for link in self.links if link.target == buffer)

    def links_out_of(self, buffer: str) -> tuple[Link, ...]:
        """The links ``buffer`` supplies."""
        return tuple(link for link in self.links if link.source == buffer)

    def demand_at(self, buffer: str) -> Demand | None:
        """The end-customer demand ``buffer`` serves, if any."""
        return next((d for d in self.demand if d.at == buffer), None)

    def downstream(self, buffer: str) -> list[str]:
        """Every buffer ``buffer`` supplies, directly or through others (no repeats)."""
        seen: list[str] = []
        todo = [link.target for link in self.links_out_of(buffer)]
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.append(name)
                todo.extend(link.target for link in self.links_out_of(name))
        return seen

    def steps_of(self, buffer: str) -> tuple[Step, ...]:
        """The steps that feed ``buffer``."""
        company = self.owner[buffer]
        only = len(company.buffers) == 1
        return tuple(s for s in company.steps if s.buffer == buffer or (only and s.buffer is None))

    @property
    def shape(self) -> Literal["serial", "distribution", "assembly", "general"]:
        """Serial, distribution (one to many), assembly (many to one) or general."""
        fan_out = any(len(self.links_out_of(b)) > 1 for b in self.buffers)
        fan_in = any(len(self.links_into(b)) > 1 for b in self.buffers)
        if fan_out and fan_in:
            return "general"
        if fan_out:
            return "distribution"
        if fan_in:
            return "assembly"
        return "serial"

    def chain(self) -> list[str]:
        """A serial network's buffers from the one facing end customers up to the one supplied
        from outside; :class:`ValueError` if the network is not serial."""
        if self.shape != "serial" or len(self.demand) != 1:
            raise ValueError(f"network {self.name!r} is not serial ({self.shape})")
        order = [self.demand[0].at]
        while True:
            (link,) = self.links_into(order[-1])
            if link.source is None:
                return order
            order.append(link.source)

    def replenishment_lead_time(self, buffer: str) -> float:
        """Mean lead time (periods) of the slowest link supplying ``buffer``."""
        return max(link.lead_time.mean_value for link in self.links_into(buffer))

    def end_customer_mean(self, buffer: str) -> float:
        """Mean end-customer demand per period that ``buffer`` ultimately serves, in its units."""
        total = 0.0
        demand = self.demand_at(buffer)
        if demand is not None:
            total += demand.mean
        for link in self.links_out_of(buffer):
            total += link.units * self.end_customer_mean(link.target)
        return total


def _check(net: Network) -> Iterator[Problem]:
    """Every problem that spans entries (names, links, cycles, what a policy needs to see)."""
    buffers: dict[str, tuple[int, int]] = {}
    companies: set[str] = set()
    for i, company in enumerate(net.companies):
        where = f"company[{i}] ({company.name})"
        if company.name in companies:
            yield model_problem(
                where,
                f"/company/{i}/name",
                f"a second company called {company.name!r}",
                "a name no other company has",
            )
        companies.add(company.name)
        names = {b.name for b in company.buffers}
        for j, buffer in enumerate(company.buffers):
            if buffer.name in buffers:
                yield model_problem(
                    f"{where}.buffer[{j}]",
                    f"/company/{i}/buffer/{j}/name",
                    f"a second buffer called {buffer.name!r}",
                    "a name no other buffer has",
                )
            buffers.setdefault(buffer.name, (i, j))
        for k, step in enumerate(company.steps):
            if step.buffer is None and len(company.buffers) > 1:
                yield model_problem(
                    f"{where}.step[{k}] ({step.name})",
                    f"/company/{i}/step/{k}/buffer",
                    "the company has several buffers: say which one the step feeds",
                    f"one of {', '.join(sorted(names))}",
                )
            elif step.buffer is not None and step.buffer not in names:
                yield model_problem(
                    f"{where}.step[{k}] ({step.name})",
                    f"/company/{i}/step/{k}/buffer",
                    f"no buffer {step.buffer!r} in this company",
                    f"one of {', '.join(sorted(names))}",
                )
    known = ", ".join(buffers) or "none"

    pairs: set[tuple[str | None, str]] = set()
    supplied: set[str] = set()
    links_ok = True
    for n, link in enumerate(net.links):
        where = f"link[{n}] ({link.supplier} -> {link.target})"
        for key, name in (("from", link.source), ("to", link.target)):
            if name is not None and name not in buffers:
                links_ok = False
                yield model_problem(
                    where, f"/link/{n}/{key}", f"no buffer {name!r}", f"one of {known}"
                )
        if link.source is not None and link.source == link.target:
            links_ok = False
            yield model_problem(where, f"/link/{n}/from", "a buffer cannot supply itself")
        if (link.source, link.target) in pairs:
            yield model_problem(where, f"/link/{n}", "a second link between the same buffers")
        pairs.add((link.source, link.target))
        supplied.add(link.target)
        if link.lead_time.kind == "constant" and link.lead_time.value < 1:
            yield model_problem(
                where,
                f"/link/{n}/lead_time/value",
                f"a lead time of {link.lead_time.value} periods",
                "at least 1 period (an order placed at the end of a period arrives at the "
                "start of a later one)",
            )

    for name, (i, j) in buffers.items():
        if name not in supplied:
            yield model_problem(
                f"company[{i}].buffer[{j}] ({name})",
                f"/company/{i}/buffer/{j}",
                "no link supplies this buffer",
                f'a [[link]] with to = "{name}" (without "from" for an outside supplier)',
            )

    served: set[str] = set()
    for n, demand in enumerate(net.demand):
        if demand.at not in buffers:
            yield model_problem(
                f"demand[{n}]", f"/demand/{n}/at", f"no buffer {demand.at!r}", f"one of {known}"
            )
        elif demand.at in served:
            yield model_problem(
                f"demand[{n}] ({demand.at})",
                f"/demand/{n}/at",
                "a second demand at the same buffer",
                "one [[demand]] per buffer",
            )
        served.add(demand.at)

    if not links_ok:
        return
    edges = {b: [x.target for x in net.links if x.source == b] for b in buffers}
    cycle = _cycle(edges)
    if cycle:
        yield model_problem(
            "link",
            "/link",
            "the links go round in a circle: " + " -> ".join(cycle),
            "goods flowing one way, from suppliers to customers",
        )
        return
    for name, (i, j) in buffers.items():
        reach = {name, *net.downstream(name)}
        if not reach & served:
            yield model_problem(
                f"company[{i}].buffer[{j}] ({name})",
                f"/company/{i}/buffer/{j}",
                "no end-customer demand reaches this buffer (it supplies no one who sells)",
                "a [[link]] from it towards a buffer with a [[demand]], or a [[demand]] at it",
            )
        buffer = net.buffers[name]
        company = net.owner[name]
        if isinstance(buffer.policy, EchelonBaseStock):
            down = net.downstream(name)
            foreign = [b for b in down if net.owner[b].name != company.name]
            if foreign and "partner_inventory" not in company.sees:
                yield model_problem(
                    f"company[{i}] ({company.name}).buffer[{j}] ({name})",
                    f"/company/{i}/buffer/{j}/policy",
                    "an echelon base-stock policy counts the downstream partners' stock "
                    f"({', '.join(foreign)}), which this company does not see",
                    'sees = [..., "partner_inventory"], or an installation policy '
                    '(kind = "base_stock")',
                )
            if _paths(edges, name) != len(down) + 1:
                yield model_problem(
                    f"company[{i}] ({company.name}).buffer[{j}] ({name})",
                    f"/company/{i}/buffer/{j}/policy",
                    "an echelon policy needs one path to each downstream buffer",
                    "a tree below this buffer, or an installation policy",
                )


def _cycle(edges: dict[str, list[str]]) -> list[str]:
    """A cycle of buffer names, if the links have one (else [])."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in edges:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def _paths(edges: dict[str, list[str]], start: str) -> int:
    """How many paths start at ``start`` (itself included): one per buffer below in a tree."""
    return 1 + sum(_paths(edges, nxt) for nxt in edges.get(start, []))
