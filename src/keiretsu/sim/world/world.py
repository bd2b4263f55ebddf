"""The flow-level world: orders, lots and shipments through every step of a network, as events.

A :class:`World` plays a :class:`~keiretsu.sim.model.Network` forward in simulated time and
writes down what each company's systems would record, as EPCIS 2.0 events (the JSON binding
form), one list per company. It is the *world* of issue 11, not a twin: it holds the true
parameters (step times, lead times, demand) and never shows them to anyone reading its events;
:meth:`World.truth` hands them to tests only.

One simulated period (``[network] period``: an hour, a shift, a day, a week, a month), in hours:

* **Review** at the start of the period, customers before suppliers: each buffer reads its
  inventory position (on hand + on order − what it owes) and orders by its policy
  (base-stock, echelon base-stock, (s, S), (R, Q), kanban, moving-average forecast — as
  :mod:`keiretsu.sim.model.policies` defines them). An order is a purchase order; its
  supplier serves it from stock at once, what it lacks later, first come first served.
* **Shipping**: the supplier packs the goods onto a pallet (SSCC) and ships it; the lead time is
  drawn from the link's distribution (periods, continuous here, not rounded); at the
  customer the pallet is received and unpacked. An outside supplier delivers a lot of raw
  material (a class-level quantity) after the lead time.
* **Steps**: goods received by a buffer go through its company's steps that feed it, in order,
  before they are stored: each step is one machine working batches of ``batch_size`` units
  (a smaller batch only when nothing more is on its way), each batch taking ``setup_time`` +
  a draw of ``processing_time`` hours, and at least ``batch / capacity`` periods where a
  capacity is set. A buffer that makes something commissions its product's serial numbers at
  the start of its first step's batch, consuming the inputs. A step with a yield below one
  inspects each batch: bad units are ``non_conformant``; of those, ``rework`` share are
  repaired (taking their share of a processing time) and go on, the rest are destroyed.
* **Demand**: the period's end-customer demand is drawn from the model (distribution,
  seasonal index or real series); at a buffer that supplies no other, each unit is a customer
  arriving at a uniformly random moment of the period and buying one item (retail selling); at
  a buffer that also supplies others, the period's demand is one end-customer order, shipped
  to the end customer. What is not on hand is backordered or lost (``[network] unmet``).

Everything random comes from streams keyed by (seed, what it is for), so the same seed gives
the same world, event for event.
"""

from __future__ import annotations

import math
import random
import zlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np

from keiretsu.model.cbv import BIZ_STEPS, BT_URN
from keiretsu.model.gs1 import check_digit
from keiretsu.sim.model import (
    RQ,
    SS,
    BaseStock,
    Distribution,
    EchelonBaseStock,
    Forecast,
    Kanban,
    Link,
    Network,
    Step,
)
from keiretsu.sim.scenario import Variant, apply_variant
from keiretsu.sim.world.identity import (
    END_CUSTOMER_PARTY,
    END_CUSTOMER_SITE,
    OUTSIDE_PARTY,
    OUTSIDE_PREFIX,
    company_prefix,
    gln,
    party,
    sgln,
)
from keiretsu.sim.world.kernel import Clock, Kernel

__all__ = ["HOURS_PER_PERIOD", "World"]

HOURS_PER_PERIOD: dict[str, float] = {
    "hour": 1.0,
    "shift": 8.0,
    "day": 24.0,
    "week": 168.0,
    "month": 730.0,
}
"""Hours in one period, by the model's ``[network] period``."""

DEFAULT_START = datetime(2025, 1, 6, tzinfo=UTC)
"""When a world starts unless told (a Monday, midnight UTC)."""

# time zones of the companies, in the model's order (a chain spans continents)
_ZONES = (9, 1, 0, -5, 8, 2, -3, 5)

_DOCK, _STORE, _POS, _QC = "1", "2", "3", "4"
_EPOCH = datetime(1970, 1, 1)
_UUID_MASK = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_BITS = (0x4000 << 64) | (0x8000 << 48)


class _Stream:
    """Draws of one distribution from one random stream, fetched 256 at a time."""

    __slots__ = ("_buf", "_dist", "_i", "_rng", "_scale")

    def __init__(self, dist: Distribution, rng: np.random.Generator, scale: float = 1.0) -> None:
        self._dist = dist
        self._rng = rng
        self._scale = scale
        self._buf: list[float] = []
        self._i = 0

    def next(self) -> float:
        if self._i >= len(self._buf):
            self._buf = (self._dist.sample(self._rng, 256) * self._scale).tolist()
            self._i = 0
        v = self._buf[self._i]
        self._i += 1
        return float(v)


@dataclass(eq=False)
class _Order:
    """An open order at a supplier: who asked, how many units are still owed, the paper."""

    customer: _Buffer | None  # None: an end customer
    remaining: int
    po: str | None
    retail: bool = False


@dataclass(eq=False)
class _Input:
    """A buffer's input line from one link: what it holds, waiting for its first step."""

    link: Link
    items: deque[str] = field(default_factory=deque)
    lots: deque[list[Any]] = field(default_factory=deque)  # [epc class, quantity]
    quantity: float = 0.0
    expected: float = 0.0  # ordered on this link, not yet arrived (supplier's units)


@dataclass(eq=False)
class _Buffer:
    name: str
    company: int
    company_name: str
    prefix: str
    tz: timezone
    offset: str
    shift: float  # seconds east of UTC
    site_no: int
    site: str
    gln: str
    party: str
    steps: tuple[Step, ...]
    step_biz: list[str]
    step_rp: list[str]
    making: bool
    leaf: bool
    policy: Any
    dock: str = ""
    store: str = ""
    pos: str = ""
    qc: str = ""
    gtin_item: str = ""  # "<prefix>.<indicator+item ref>" of its product, for SGTINs
    on_hand: deque[str] = field(default_factory=deque)
    on_order: float = 0.0
    backlog: deque[_Order] = field(default_factory=deque)
    inputs: list[_Input] = field(default_factory=list)
    queues: list[deque[str]] = field(default_factory=list)
    busy: list[bool] = field(default_factory=list)
    in_rework: int = 0
    in_process: int = 0
    period_demand: float = 0.0
    period_end_demand: float = 0.0
    history: list[float] = field(default_factory=list)
    end_history: list[float] = field(default_factory=list)
    downstream: list[_Buffer] = field(default_factory=list)
    sees_end_demand: bool = False
    lead_periods: float = 1.0
    asked: int = 0
    sold: int = 0
    lost: int = 0
    scrapped: int = 0


def _slug(text: str) -> str:
    out = "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")
    return out or "step"


def _step_biz(step: Step) -> str:
    """The step's business step: its name if that is a CBV word, else the company's own URI."""
    if step.name in BIZ_STEPS.terms:
        return step.name
    return f"urn:keiretsu:bizstep:{_slug(step.name)}"


class World:
    """The simulated physical value chain of ``network``, emitting EPCIS 2.0 events.

    ``seed`` fixes every random draw; ``start`` is the simulated clock's origin (a UTC instant
    in the past: EPCIS refuses events more than a day ahead of the wall clock);
    ``hours_per_period`` overrides what ``[network] period`` says. ``clock`` is the kernel
    (default :class:`~keiretsu.sim.world.kernel.Kernel`; the bench passes a SimPy one).

    Run it with :meth:`run` (whole periods, accelerated: no wall clock is read), then read
    :meth:`events` (per company), :func:`~keiretsu.sim.world.output.write_epcis_files` or
    :func:`~keiretsu.sim.world.output.post_epcis`."""

    def __init__(
        self,
        network: Network,
        *,
        seed: int = 0,
        start: datetime = DEFAULT_START,
        hours_per_period: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        if hours_per_period is None:
            try:
                hours_per_period = HOURS_PER_PERIOD[network.period.strip().lower()]
            except KeyError:
                raise ValueError(
                    f"network {network.name!r}: period {network.period!r} is not one of "
                    f"{', '.join(HOURS_PER_PERIOD)}; pass hours_per_period"
                ) from None
        if hours_per_period <= 0:
            raise ValueError(f"hours_per_period must be above 0, not {hours_per_period}")
        if start.tzinfo is None:
            raise ValueError("start needs a time zone (e.g. datetime(..., tzinfo=UTC))")
        self.network = network
        self.seed = seed
        self.start = start.astimezone(UTC)
        self.hours_per_period = float(hours_per_period)
        self.clock: Clock = clock if clock is not None else Kernel()
        self.period = 0
        self._t0 = self.start.timestamp()
        self._ids = random.Random(seed)
        self._events: dict[str, list[dict[str, Any]]] = {c.name: [] for c in network.companies}
        self._taken: dict[str, int] = dict.fromkeys(self._events, 0)
        self._counter: dict[str, int] = {}
        self._serial: dict[str, int] = {}
        self._lot_no = 0
        self._dates: dict[int, str] = {}
        self._streams: dict[str, _Stream] = {}
        self._rngs: dict[str, np.random.Generator] = {}
        self._build()

    # --- set-up -------------------------------------------------------------------------------

    def _rng(self, key: str) -> np.random.Generator:
        rng = self._rngs.get(key)
        if rng is None:
            rng = np.random.default_rng([self.seed, zlib.crc32(key.encode())])
            self._rngs[key] = rng
        return rng

    def _stream(self, key: str, dist: Distribution, scale: float = 1.0) -> _Stream:
        s = self._streams.get(key)
        if s is None:
            s = _Stream(dist, self._rng(key), scale)
            self._streams[key] = s
        return s

    def _build(self) -> None:
        net = self.network
        self.buffers: dict[str, _Buffer] = {}
        for i, company in enumerate(net.companies):
            prefix = company_prefix(i)
            hours = _ZONES[i % len(_ZONES)]
            tz = timezone(timedelta(hours=hours))
            offset = f"{'+' if hours >= 0 else '-'}{abs(hours):02d}:00"
            for j, b in enumerate(company.buffers):
                steps = net.steps_of(b.name)
                links = net.links_into(b.name)
                making = (
                    any(link.source is None for link in links)
                    or len(links) > 1
                    or any(link.units != 1 for link in links)
                )
                site_no = j + 1
                buf = _Buffer(
                    name=b.name,
                    company=i,
                    company_name=company.name,
                    prefix=prefix,
                    tz=tz,
                    offset=offset,
                    shift=hours * 3600.0,
                    site_no=site_no,
                    site=sgln(prefix, site_no),
                    gln=gln(prefix, site_no),
                    party=party(prefix),
                    steps=steps,
                    step_biz=[_step_biz(s) for s in steps],
                    step_rp=[sgln(prefix, site_no, str(10 + k)) for k in range(len(steps))],
                    making=making,
                    leaf=not net.links_out_of(b.name),
                    policy=b.policy,
                    sees_end_demand="end_customer_demand" in company.sees,
                    lead_periods=net.replenishment_lead_time(b.name),
                )
                buf.dock, buf.store, buf.pos, buf.qc = (
                    sgln(prefix, site_no, ext) for ext in (_DOCK, _STORE, _POS, _QC)
                )
                buf.inputs = [_Input(link) for link in links]
                buf.queues = [deque() for _ in steps]
                buf.busy = [False for _ in steps]
                self.buffers[b.name] = buf
        for name, buf in self.buffers.items():
            buf.downstream = [self.buffers[d] for d in net.downstream(name)]
        # products: a making buffer has its own GTIN; the others stock their supplier's
        items: dict[str, int] = {}
        for buf in self.buffers.values():
            if buf.making:
                items[buf.prefix] = items.get(buf.prefix, 0) + 1
                buf.gtin_item = f"{buf.prefix}.0{items[buf.prefix]:05d}"
        for buf in self.buffers.values():
            maker = buf
            while not maker.making:
                (link,) = net.links_into(maker.name)
                assert link.source is not None
                maker = self.buffers[link.source]
            buf.gtin_item = maker.gtin_item
        # customers before suppliers: the review order
        depth: dict[str, int] = {}

        def level(name: str) -> int:
            if name not in depth:
                outs = net.links_out_of(name)
                depth[name] = 0 if not outs else 1 + max(level(x.target) for x in outs)
            return depth[name]

        self._review_order = sorted(self.buffers.values(), key=lambda b: level(b.name))
        self._opening_stock()
        self.clock.schedule(0.0, self._period_start)

    def _opening_stock(self) -> None:
        """Stock on hand when the world starts: the buffer's ``initial``, else its policy's
        target (an echelon level less its customers'), counted at hour 0."""
        net = self.network
        for buf in self.buffers.values():
            model = net.buffers[buf.name]
            n = model.initial
            if n is None:
                p = buf.policy
                if isinstance(p, EchelonBaseStock):
                    below = [
                        net.buffers[x.target].policy.target or 0.0
                        for x in net.links_out_of(buf.name)
                    ]
                    n = p.level - sum(below)
                elif isinstance(p, Forecast):
                    cover = buf.lead_periods if p.cover is None else p.cover
                    n = p.safety_stock + cover * net.end_customer_mean(buf.name)
                else:
                    n = p.target or 0.0
            count = max(0, round(n))
            if not count:
                continue
            items = self._new_items(buf, count)
            buf.on_hand.extend(items)
            self._emit(
                buf,
                {
                    "type": "ObjectEvent",
                    "action": "OBSERVE",
                    "epcList": items,
                    "bizStep": "stock_taking",
                    "disposition": "sellable_accessible",
                    "readPoint": {"id": buf.store},
                    "bizLocation": {"id": buf.site},
                },
            )

    # --- identities and events ----------------------------------------------------------------

    def _new_items(self, buf: _Buffer, n: int) -> list[str]:
        first = self._serial.get(buf.gtin_item, 0)
        self._serial[buf.gtin_item] = first + n
        head = f"urn:epc:id:sgtin:{buf.gtin_item}."
        return [f"{head}{first + k + 1}" for k in range(n)]

    def _paper(self, buf: _Buffer, kind: str) -> str:
        key = f"{buf.gln}:{kind}"
        n = self._counter.get(key, 0) + 1
        self._counter[key] = n
        return f"{BT_URN}{buf.gln}:{kind}-{n:07d}"

    def _sscc(self, buf: _Buffer) -> str:
        key = f"{buf.prefix}:sscc"
        n = self._counter.get(key, 0) + 1
        self._counter[key] = n
        return f"urn:epc:id:sscc:{buf.prefix}.0{n:09d}"

    def _emit(self, buf: _Buffer, event: dict[str, Any]) -> None:
        # local time written by hand (the date looked up once a day): datetime.isoformat and
        # uuid.UUID were half the world's time
        ms = round((self._t0 + self.clock.now * 3600.0 + buf.shift) * 1000.0)
        day, rest = divmod(ms, 86_400_000)
        date = self._dates.get(day)
        if date is None:
            date = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
            self._dates[day] = date
        sec, milli = divmod(rest, 1000)
        hour, sec = divmod(sec, 3600)
        minute, sec = divmod(sec, 60)
        event["eventTime"] = f"{date}{hour:02d}:{minute:02d}:{sec:02d}.{milli:03d}{buf.offset}"
        event["eventTimeZoneOffset"] = buf.offset
        # a version-4 UUID from the world's own random stream (as uuid.UUID(int=r, version=4))
        r = (self._ids.getrandbits(128) & _UUID_MASK) | _UUID_BITS
        h = f"{r:032x}"
        event["eventID"] = f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        self._events[buf.company_name].append(event)

    # --- the period ---------------------------------------------------------------------------

    def run(self, periods: int) -> World:
        """Simulate ``periods`` more periods (accelerated: simulated time only)."""
        if periods < 0:
            raise ValueError(f"periods must be 0 or more, not {periods}")
        self.period += periods
        self.clock.run(self.period * self.hours_per_period)
        return self

    def change(self, variant: Variant | Mapping[str, Any], *, name: str = "change") -> World:
        """Change the world's floor from now on, as a company changes its real one: the
        variant's dotted changes (``{"buffer.shop.policy.level": 30}``, the same paths as a
        :class:`~keiretsu.sim.scenario.Variant`) applied to the network, checked whole.

        Goods, orders and stock in the world stay where they are; the next review orders by
        the new policy, the next lot or shipment takes the new lead time, the next batch the
        new processing time, demand follows the new distribution. The random streams go on
        from where they were (the same seed gives the same world). Only what the network's
        layout keeps may change: companies, buffers, steps and links cannot be added, removed
        or renamed (a :class:`ValueError` says which)."""
        if not isinstance(variant, Variant):
            variant = Variant(name, dict(variant))
        new = apply_variant(self.network, variant)
        old = self.network

        def layout(net: Network) -> tuple[Any, ...]:
            return (
                [
                    (c.name, [b.name for b in c.buffers], [s.name for s in c.steps])
                    for c in net.companies
                ],
                [(x.source, x.target) for x in net.links],
                [d.at for d in net.demand],
            )

        if layout(new) != layout(old):
            raise ValueError(
                f"variant {variant.name!r} changes the network's layout (companies, buffers, "
                "steps, links or where demand arrives); a running world can change only "
                "policies, lead times, processing, sight and demand"
            )
        self.network = new
        sight = {b.name: c.sees for c in new.companies for b in c.buffers}
        for name_, buf in self.buffers.items():
            buf.policy = new.buffers[name_].policy
            buf.steps = new.steps_of(name_)
            buf.sees_end_demand = "end_customer_demand" in sight[name_]
            buf.lead_periods = new.replenishment_lead_time(name_)
            for line, link in zip(buf.inputs, new.links_into(name_), strict=True):
                line.link = link
        # draws already fetched belong to the old distributions; the generators go on
        self._streams.clear()
        return self

    def _period_start(self) -> None:
        hpp = self.hours_per_period
        k = round(self.clock.now / hpp)
        if k > 0:
            for buf in self._review_order:
                buf.history.append(buf.period_demand)
                buf.end_history.append(buf.period_end_demand)
                buf.period_demand = 0.0
                buf.period_end_demand = 0.0
            for buf in self._review_order:
                self._review(buf)
        for d in self.network.demand:
            buf = self.buffers[d.at]
            key = f"demand:{d.at}"
            rng = self._rng(key)
            if d.series is not None:
                amount = self._series(d, k)
            else:
                assert d.distribution is not None
                scale = None
                if d.seasonal is not None:
                    scale = np.array([d.seasonal[k % len(d.seasonal)]])
                amount = float(d.distribution.sample(rng, 1, scale)[0])
            units = max(0, round(amount))
            if not units:
                continue
            if buf.leaf:
                for at in sorted(rng.random(units).tolist()):
                    self.clock.schedule(at * hpp, self._customer, buf)
            else:
                self.clock.schedule(float(rng.random()) * hpp, self._end_order, buf, units)
        self.clock.schedule(hpp, self._period_start)

    def _series(self, demand: Any, k: int) -> float:
        data = demand.series.data()
        rng = self._rng(f"series:{demand.at}")
        if demand.series.sample == "bootstrap":
            return float(data[int(rng.integers(0, len(data)))])
        key = f"series-start:{demand.at}"
        if key not in self._counter:
            self._counter[key] = int(rng.integers(0, len(data)))
        return float(data[(self._counter[key] + k) % len(data)])

    # --- ordering -----------------------------------------------------------------------------

    def _owed(self, buf: _Buffer) -> float:
        return float(sum(o.remaining for o in buf.backlog))

    def _position(self, buf: _Buffer) -> float:
        return len(buf.on_hand) + buf.on_order - self._owed(buf)

    def _review(self, buf: _Buffer) -> None:
        p = buf.policy
        position = self._position(buf)
        q = 0.0
        if isinstance(p, BaseStock):
            q = p.level - position
        elif isinstance(p, EchelonBaseStock):
            q = p.level - position - sum(self._position(d) for d in buf.downstream)
        elif isinstance(p, SS):
            q = p.S - position if position <= p.s else 0.0
        elif isinstance(p, RQ | Kanban):
            r, lot = (p.R, p.Q) if isinstance(p, RQ) else ((p.cards - 1) * p.container, p.container)
            q = (math.floor((r - position) / lot) + 1) * lot if position <= r else 0.0
        elif isinstance(p, Forecast):
            if buf.sees_end_demand:
                series = [
                    sum(vals)
                    for vals in zip(
                        buf.end_history, *(d.end_history for d in buf.downstream), strict=True
                    )
                ]
            else:
                series = buf.history
            recent = series[-p.periods :]
            mean = sum(recent) / len(recent) if recent else 0.0
            cover = buf.lead_periods if p.cover is None else p.cover
            q = cover * mean + p.safety_stock - position
        units = math.ceil(q - 1e-9)
        if units > 0:
            self._order(buf, units)

    def _order(self, buf: _Buffer, units: int) -> None:
        po = self._paper(buf, "PO")
        buf.on_order += units
        for line in buf.inputs:
            link = line.link
            if link.source is None:
                qty = units * link.units
                line.expected += qty
                lead = self._stream(f"link:outside->{buf.name}", link.lead_time).next()
                self.clock.schedule(
                    max(lead, 0.0) * self.hours_per_period, self._lot_arrives, buf, line, qty, po
                )
            else:
                n = math.ceil(units * link.units - 1e-9)
                line.expected += n
                supplier = self.buffers[link.source]
                supplier.period_demand += n
                supplier.backlog.append(_Order(buf, n, po))
                self._serve(supplier)

    # --- serving ------------------------------------------------------------------------------

    def _customer(self, buf: _Buffer) -> None:
        buf.asked += 1
        buf.period_demand += 1
        buf.period_end_demand += 1
        if buf.on_hand and not buf.backlog:
            self._sell(buf, [buf.on_hand.popleft()])
        elif self.network.unmet == "backorder":
            buf.backlog.append(_Order(None, 1, None, retail=True))
            self._serve(buf)
        else:
            buf.lost += 1

    def _end_order(self, buf: _Buffer, units: int) -> None:
        buf.asked += units
        buf.period_demand += units
        buf.period_end_demand += units
        if self.network.unmet == "lost_sale":
            n = min(units, len(buf.on_hand))
            buf.lost += units - n
            if n:
                buf.sold += n
                self._ship(buf, None, [buf.on_hand.popleft() for _ in range(n)], None)
            return
        buf.backlog.append(_Order(None, units, self._paper(buf, "SO")))
        self._serve(buf)

    def _serve(self, buf: _Buffer) -> None:
        """Ship what is on hand to the open orders, first come first served."""
        backlog = buf.backlog
        on_hand = buf.on_hand
        while backlog and on_hand:
            order = backlog[0]
            n = min(order.remaining, len(on_hand))
            items = [on_hand.popleft() for _ in range(n)]
            order.remaining -= n
            if order.remaining <= 0:
                backlog.popleft()
            if order.retail:
                self._sell(buf, items)
            else:
                if order.customer is None:
                    buf.sold += n
                self._ship(buf, order.customer, items, order.po)

    def _sell(self, buf: _Buffer, items: list[str]) -> None:
        buf.sold += len(items)
        self._emit(
            buf,
            {
                "type": "ObjectEvent",
                "action": "OBSERVE",
                "epcList": items,
                "bizStep": "retail_selling",
                "disposition": "retail_sold",
                "readPoint": {"id": buf.pos},
                "bizLocation": {"id": buf.site},
            },
        )

    def _ship(
        self, buf: _Buffer, customer: _Buffer | None, items: list[str], po: str | None
    ) -> None:
        sscc = self._sscc(buf)
        desadv = self._paper(buf, "DA")
        dock = {"id": buf.dock}
        self._emit(
            buf,
            {
                "type": "AggregationEvent",
                "action": "ADD",
                "parentID": sscc,
                "childEPCs": items,
                "bizStep": "packing",
                "disposition": "in_progress",
                "readPoint": dock,
                "bizLocation": {"id": buf.site},
            },
        )
        papers = [{"type": "desadv", "bizTransaction": desadv}]
        if po is not None:
            papers.insert(0, {"type": "po", "bizTransaction": po})
        to_party, to_site = (
            (END_CUSTOMER_PARTY, END_CUSTOMER_SITE)
            if customer is None
            else (customer.party, customer.site)
        )
        route = {
            "sourceList": [
                {"type": "owning_party", "source": buf.party},
                {"type": "location", "source": buf.site},
            ],
            "destinationList": [
                {"type": "owning_party", "destination": to_party},
                {"type": "location", "destination": to_site},
            ],
        }
        self._emit(
            buf,
            {
                "type": "ObjectEvent",
                "action": "OBSERVE",
                "epcList": [sscc],
                "bizStep": "shipping",
                "disposition": "in_transit",
                "readPoint": dock,
                "bizTransactionList": papers,
                **route,
            },
        )
        if customer is None:
            return  # the end customer records nothing
        link = next(x for x in customer.inputs if x.link.source == buf.name).link
        lead = self._stream(f"link:{buf.name}->{customer.name}", link.lead_time).next()
        self.clock.schedule(
            max(lead, 0.0) * self.hours_per_period,
            self._pallet_arrives,
            customer,
            buf.name,
            sscc,
            items,
            papers,
            route,
        )

    # --- receiving ----------------------------------------------------------------------------

    def _pallet_arrives(
        self,
        buf: _Buffer,
        supplier: str,
        sscc: str,
        items: list[str],
        papers: list[dict[str, str]],
        route: dict[str, Any],
    ) -> None:
        dock = {"id": buf.dock}
        self._emit(
            buf,
            {
                "type": "ObjectEvent",
                "action": "OBSERVE",
                "epcList": [sscc],
                "bizStep": "receiving",
                "disposition": "in_progress",
                "readPoint": dock,
                "bizLocation": {"id": buf.site},
                "bizTransactionList": papers,
                **route,
            },
        )
        self._emit(
            buf,
            {
                "type": "AggregationEvent",
                "action": "DELETE",
                "parentID": sscc,
                "childEPCs": items,
                "bizStep": "unpacking",
                "disposition": "in_progress",
                "readPoint": dock,
                "bizLocation": {"id": buf.site},
            },
        )
        line = next(x for x in buf.inputs if x.link.source == supplier)
        line.expected -= len(items)
        if buf.making:
            line.items.extend(items)
            line.quantity += len(items)
            self._try_start(buf, 0)
        elif buf.steps:
            buf.queues[0].extend(items)
            self._try_start(buf, 0)
        else:
            self._store(buf, items)

    def _lot_arrives(self, buf: _Buffer, line: _Input, qty: float, po: str) -> None:
        self._lot_no += 1
        epc_class = f"urn:epc:class:lgtin:{OUTSIDE_PREFIX}.0{buf.gtin_item[-5:]}.L{self._lot_no}"
        self._emit(
            buf,
            {
                "type": "ObjectEvent",
                "action": "OBSERVE",
                "quantityList": [{"epcClass": epc_class, "quantity": qty}],
                "bizStep": "receiving",
                "disposition": "in_progress",
                "readPoint": {"id": buf.dock},
                "bizLocation": {"id": buf.site},
                "bizTransactionList": [{"type": "po", "bizTransaction": po}],
                "sourceList": [{"type": "owning_party", "source": OUTSIDE_PARTY}],
                "destinationList": [
                    {"type": "owning_party", "destination": buf.party},
                    {"type": "location", "destination": buf.site},
                ],
            },
        )
        line.expected -= qty
        line.lots.append([epc_class, qty])
        line.quantity += qty
        self._try_start(buf, 0)

    # --- steps --------------------------------------------------------------------------------

    def _more_coming(self, buf: _Buffer, k: int) -> bool:
        if any(line.expected > 1e-9 for line in buf.inputs):
            return True
        return any(buf.busy[j] or buf.queues[j] for j in range(k)) or (k > 0 and buf.in_rework > 0)

    def _try_start(self, buf: _Buffer, k: int) -> None:
        if not buf.steps:
            if buf.making:
                self._make_without_steps(buf)
            return
        if buf.busy[k]:
            return
        batch = buf.steps[k].batch_size
        if buf.making and k == 0:
            available = min(
                math.floor(line.quantity / line.link.units + 1e-9) for line in buf.inputs
            )
        else:
            available = len(buf.queues[k])
        if available <= 0:
            return
        if available < batch and self._more_coming(buf, k):
            return
        n = min(batch, available)
        if buf.making and k == 0:
            items = self._commission(buf, n, buf.step_rp[0])
        else:
            q = buf.queues[k]
            items = [q.popleft() for _ in range(n)]
        step = buf.steps[k]
        hours = step.setup_time
        if step.processing_time is not None:
            key = f"step:{buf.company_name}:{step.name}"
            hours += self._stream(key, step.processing_time).next()
        if step.capacity is not None:
            hours = max(hours, n / step.capacity * self.hours_per_period)
        buf.busy[k] = True
        buf.in_process += n
        self.clock.schedule(hours, self._batch_done, buf, k, items)

    def _consume(self, buf: _Buffer, n: int) -> tuple[list[str], list[dict[str, Any]]]:
        epcs: list[str] = []
        quantities: list[dict[str, Any]] = []
        for line in buf.inputs:
            need = n * line.link.units
            line.quantity -= need
            if line.link.source is not None:
                count = min(len(line.items), math.ceil(need - 1e-9))
                epcs.extend(line.items.popleft() for _ in range(count))
                continue
            while need > 1e-9 and line.lots:
                lot = line.lots[0]
                take = min(lot[1], need)
                quantities.append({"epcClass": lot[0], "quantity": take})
                lot[1] -= take
                need -= take
                if lot[1] <= 1e-9:
                    line.lots.popleft()
        return epcs, quantities

    def _commission(self, buf: _Buffer, n: int, read_point: str) -> list[str]:
        """Make ``n`` units: the inputs consumed, new serial numbers, one production order."""
        epcs, quantities = self._consume(buf, n)
        items = self._new_items(buf, n)
        order = self._paper(buf, "PRD")
        event: dict[str, Any] = {"type": "TransformationEvent"}
        if epcs:
            event["inputEPCList"] = epcs
        if quantities:
            event["inputQuantityList"] = quantities
        event.update(
            {
                "outputEPCList": items,
                "bizStep": "commissioning",
                "disposition": "active",
                "readPoint": {"id": read_point},
                "bizLocation": {"id": buf.site},
                "bizTransactionList": [{"type": "prodorder", "bizTransaction": order}],
                "ilmd": {"cbvmda:lotNumber": order.rsplit(":", 1)[-1]},
            }
        )
        self._emit(buf, event)
        return items

    def _make_without_steps(self, buf: _Buffer) -> None:
        while True:
            n = min(math.floor(line.quantity / line.link.units + 1e-9) for line in buf.inputs)
            if n <= 0:
                return
            items = self._commission(buf, n, buf.store)
            self._store(buf, items)

    def _batch_done(self, buf: _Buffer, k: int, items: list[str]) -> None:
        step = buf.steps[k]
        buf.in_process -= len(items)
        where = {"id": buf.site}
        self._emit(
            buf,
            {
                "type": "ObjectEvent",
                "action": "OBSERVE",
                "epcList": items,
                "bizStep": buf.step_biz[k],
                "disposition": "in_progress",
                "readPoint": {"id": buf.step_rp[k]},
                "bizLocation": where,
            },
        )
        good = items
        if step.yield_ < 1:
            rng = self._rng(f"yield:{buf.company_name}:{step.name}")
            bad_n = int(rng.binomial(len(items), 1 - step.yield_))
            if bad_n:
                good, bad = items[: len(items) - bad_n], items[len(items) - bad_n :]
                qc = {"id": buf.qc}
                for epcs, disposition in ((good, "conformant"), (bad, "non_conformant")):
                    if epcs:
                        self._emit(
                            buf,
                            {
                                "type": "ObjectEvent",
                                "action": "OBSERVE",
                                "epcList": epcs,
                                "bizStep": "inspecting",
                                "disposition": disposition,
                                "readPoint": qc,
                                "bizLocation": where,
                            },
                        )
                rework_n = int(rng.binomial(bad_n, step.rework)) if step.rework > 0 else 0
                fixed, scrap = bad[:rework_n], bad[rework_n:]
                if scrap:
                    buf.scrapped += len(scrap)
                    buf.on_order -= len(scrap)
                    self._emit(
                        buf,
                        {
                            "type": "ObjectEvent",
                            "action": "OBSERVE",
                            "epcList": scrap,
                            "bizStep": "destroying",
                            "disposition": "destroyed",
                            "readPoint": qc,
                            "bizLocation": where,
                        },
                    )
                if fixed:
                    hours = 0.0
                    if step.processing_time is not None:
                        key = f"rework:{buf.company_name}:{step.name}"
                        draw = self._stream(key, step.processing_time).next()
                        hours = draw * len(fixed) / len(items)
                    buf.in_rework += len(fixed)
                    self.clock.schedule(hours, self._reworked, buf, k, fixed)
        buf.busy[k] = False
        self._pass_on(buf, k, good)
        self._try_start(buf, k)

    def _reworked(self, buf: _Buffer, k: int, items: list[str]) -> None:
        buf.in_rework -= len(items)
        self._emit(
            buf,
            {
                "type": "ObjectEvent",
                "action": "OBSERVE",
                "epcList": items,
                "bizStep": "repairing",
                "disposition": "conformant",
                "readPoint": {"id": buf.qc},
                "bizLocation": {"id": buf.site},
            },
        )
        self._pass_on(buf, k, items)

    def _pass_on(self, buf: _Buffer, k: int, items: list[str]) -> None:
        if k + 1 < len(buf.steps):
            buf.queues[k + 1].extend(items)
            self._try_start(buf, k + 1)
        elif items:
            self._store(buf, items)
        else:
            for j in range(k + 1, len(buf.steps)):  # a batch all scrapped: later steps may go
                self._try_start(buf, j)

    def _store(self, buf: _Buffer, items: list[str]) -> None:
        self._emit(
            buf,
            {
                "type": "ObjectEvent",
                "action": "OBSERVE",
                "epcList": items,
                "bizStep": "storing",
                "disposition": "sellable_accessible",
                "readPoint": {"id": buf.store},
                "bizLocation": {"id": buf.site},
            },
        )
        buf.on_order -= len(items)
        buf.on_hand.extend(items)
        self._serve(buf)

    # --- what the world hands out -------------------------------------------------------------

    def events(self, company: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Every event emitted so far, per company (EPCIS 2.0 JSON binding form, in time
        order); one company's only with ``company``."""
        if company is not None:
            return {company: self._events[company]}
        return self._events

    def take_new(self) -> dict[str, list[dict[str, Any]]]:
        """The events emitted since the last call, per company (what a live feed sends)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for name, events in self._events.items():
            out[name] = events[self._taken[name] :]
            self._taken[name] = len(events)
        return out

    @property
    def now(self) -> datetime:
        """The simulated clock as a UTC instant."""
        return self.start + timedelta(hours=self.clock.now)

    def event_count(self) -> int:
        """How many events the world has emitted, all companies together."""
        return sum(len(v) for v in self._events.values())

    def truth(self) -> dict[str, Any]:
        """The world's true parameters and state — **for tests only**: a twin must not read
        this (it sees the events alone, as a real twin would).

        ``hours_per_period``; ``steps`` (``"company/step"``: mean and sd of the processing
        time, set-up, batch size, capacity, yield, rework, its business step and where it
        runs); ``links`` (``"from->to"``: lead time mean and sd in hours); ``demand``
        (buffer: mean per period, units asked, sold, lost, backordered at the end);
        ``stock`` (buffer: its site, product GTIN, units on hand, units held at the site
        in steps); ``scrapped`` (buffer: units destroyed); ``events`` (per company)."""
        hpp = self.hours_per_period
        steps: dict[str, Any] = {}
        for c in self.network.companies:
            for s in c.steps:
                pt = s.processing_time
                steps[f"{c.name}/{s.name}"] = {
                    "company": c.name,
                    "buffer": s.buffer or c.buffers[0].name,
                    "biz_step": _step_biz(s),
                    "mean_hours": 0.0 if pt is None else pt.mean_value,
                    "sd_hours": 0.0 if pt is None else math.sqrt(pt.variance),
                    "setup_hours": s.setup_time,
                    "batch_size": s.batch_size,
                    "capacity_per_period": s.capacity,
                    "yield": s.yield_,
                    "rework": s.rework,
                }
        links = {
            f"{link.supplier}->{link.target}": {
                "mean_hours": link.lead_time.mean_value * hpp,
                "sd_hours": math.sqrt(link.lead_time.variance) * hpp,
            }
            for link in self.network.links
        }
        demand = {
            d.at: {
                "mean_per_period": d.mean,
                "asked": self.buffers[d.at].asked,
                "sold": self.buffers[d.at].sold,
                "lost": self.buffers[d.at].lost,
                "backordered": sum(
                    o.remaining for o in self.buffers[d.at].backlog if o.customer is None
                ),
            }
            for d in self.network.demand
        }
        stock = {
            b.name: {
                "site": b.site,
                "gtin": _gtin_of(b.gtin_item),
                "on_hand": len(b.on_hand),
                "in_steps": sum(len(q) for q in b.queues) + b.in_process + b.in_rework,
            }
            for b in self.buffers.values()
        }
        return {
            "hours_per_period": hpp,
            "periods": self.period,
            "steps": steps,
            "links": links,
            "demand": demand,
            "stock": stock,
            "scrapped": {b.name: b.scrapped for b in self.buffers.values()},
            "events": {k: len(v) for k, v in self._events.items()},
        }


def _gtin_of(gtin_item: str) -> str:
    prefix, ref = gtin_item.split(".")
    digits = ref[0] + prefix + ref[1:]
    return digits + check_digit(digits)
