"""The bullwhip effect of a moving-average forecast, against Chen, Drezner, Ryan and
Simchi-Levi (2000).

F. Chen, Z. Drezner, J. K. Ryan and D. Simchi-Levi, "Quantifying the bullwhip effect in a
simple supply chain: the impact of forecasting, lead times, and information", Management
Science 46(3):436-443, 2000. A stage that orders up to L periods of a p-period moving average
of the demand it sees (i.i.d. demand) places orders whose variance is, relative to the demand's,

    Var(q) / Var(D) = 1 + 2L/p + 2L²/p²

(their lower bound, reached when the safety stock does not move). With end-customer demand
shared (centralised), stage k of a serial chain forecasting the customers' demand has
1 + 2·ΣL/p + 2·(ΣL)²/p² over the lead times ΣL up to it; without (decentralised) it is at least
the product of the stages' single-stage factors.
"""

from __future__ import annotations

import pytest

from keiretsu.sim.model import Buffer, Company, Constant, Demand, Forecast, Link, Network, Normal
from keiretsu.sim.policy_level import simulate

# (L, p) -> 1 + 2L/p + 2L²/p², the published expression's values
SINGLE_STAGE = {
    (1, 5): 1.48,
    (2, 4): 2.5,
    (3, 10): 1.78,
    (2, 10): 1.48,
}


def _chain(leads: list[int], p: int, shared: bool) -> Network:
    """Stage 1 sells; stage k buys from stage k+1; the last buys from outside."""
    names = [f"stage-{k + 1}" for k in range(len(leads))]
    sees = ("orders", "end_customer_demand") if shared else ("orders",)
    companies = tuple(
        Company(
            name=name,
            sees=sees,
            buffers=(Buffer(name=name, policy=Forecast(periods=p, safety_stock=50.0)),),
        )
        for name in names
    )
    links = tuple(
        Link(
            source=names[k + 1] if k + 1 < len(names) else None,
            target=names[k],
            lead_time=Constant(value=leads[k]),
        )
        for k in range(len(leads))
    )
    # demand far from zero: orders never come out negative, as the paper's model allows
    demand = Demand(at=names[0], distribution=Normal(mean=100.0, sd=10.0), backorder_cost=1.0)
    return Network(name="chen", companies=companies, links=links, demand=(demand,))


def _two_digits(value: float, reference: float) -> bool:
    """``value`` rounds to ``reference`` at two significant digits."""
    return f"{value:.2g}" == f"{reference:.2g}"


@pytest.mark.parametrize(("lead", "p"), sorted(SINGLE_STAGE))
def test_one_stage_matches_the_published_amplification(lead: int, p: int) -> None:
    """One stage, lead time L, p-period moving average: order variance over demand variance
    is 1 + 2L/p + 2L²/p² to two significant digits."""
    result = simulate(_chain([lead], p, shared=False), periods=400, replications=600, seed=7)
    ratio = result.stages["stage-1"]["bullwhip"]
    assert _two_digits(ratio.mean, SINGLE_STAGE[(lead, p)]), (ratio, SINGLE_STAGE[(lead, p)])


def test_shared_demand_gives_the_centralised_amplification() -> None:
    """Two stages with lead time 1 each, p = 5. Shared end-customer demand: the wholesaler's
    orders vary 1 + 2·2/5 + 2·4/25 = 2.12 times the customers' demand (centralised); on the
    retailer's orders alone at least 1.48 × 1.48 = 2.19 times (decentralised), more than shared."""
    shared = simulate(_chain([1, 1], 5, shared=True), periods=400, replications=600, seed=3)
    alone = simulate(_chain([1, 1], 5, shared=False), periods=400, replications=600, seed=3)
    centralised = shared.stages["stage-2"]["amplification"]
    decentralised = alone.stages["stage-2"]["amplification"]
    assert _two_digits(centralised.mean, 2.12), centralised
    assert decentralised.low >= 1.48 * 1.48 * 0.99, decentralised
    assert decentralised.low > centralised.high
    # the retailer is the same in both: it forecasts what it sells
    assert _two_digits(shared.stages["stage-1"]["amplification"].mean, 1.48)
    assert _two_digits(alone.stages["stage-1"]["amplification"].mean, 1.48)
