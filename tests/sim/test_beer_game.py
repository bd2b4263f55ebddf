"""The beer game (Sterman 1989): the bullwhip with local information, much less with shared
end-customer demand, least under network-optimal base-stock levels.

J. D. Sterman, "Modeling managerial behavior: misperceptions of feedback in a dynamic decision
making experiment", Management Science 35(3):321-339, 1989. The standard set-up: four
stages, 2-week order (mailing) and shipping delays (the factory: 1-week brewing request,
2-week brewing), 12 cases on hand and 4 in every slot, holding 0.50 and backlog 1.00 per case
per week, demand 4 then 8 from week 5, 36 weeks; the anchoring-and-adjustment rule with the
mean of his estimates, theta 0.36, alpha_S 0.26, beta 0.34, S' 17.
"""

from __future__ import annotations

import numpy as np
import pytest

from keiretsu.optimize.gain import gain_of_connecting
from keiretsu.optimize.simopt import minimize_levels
from keiretsu.sim.beer_game import STAGES, BaseStockRule, BeerGame, Sterman, play

THETA, ALPHA, BETA, S_PRIME = 0.36, 0.26, 0.34, 17.0


def _board_game(shared: bool, levels: list[float] | None = None) -> dict[str, list[list[float]]]:
    """The board game played by hand, one week and one stage at a time, plain Python: the
    oracle the vectorized game is checked against. Slots hold the cases (or order slips) on
    the board, nearest first."""
    n = 4
    ship = [[4.0, 4.0] for _ in range(n)]  # to stage i; the factory's: brewing
    mail = [[4.0, 4.0] for _ in range(3)] + [[4.0]]  # stage i's orders; factory: request
    inv, back, expected = [12.0] * n, [0.0] * n, [4.0] * n
    on_order = [sum(ship[i]) + sum(mail[i]) for i in range(n)]
    out: dict[str, list[list[float]]] = {"orders": [], "inventory": [], "backlog": []}
    for week in range(1, 37):
        demand = 4.0 if week < 5 else 8.0
        for i in range(n):  # step 1: beer arrives
            got = ship[i].pop(0)
            ship[i].append(0.0)
            inv[i] += got
            on_order[i] -= got
        incoming = [demand]
        for i in range(n):  # step 2: order slips arrive
            slip = mail[i].pop(0)
            mail[i].append(0.0)
            if i < 3:
                incoming.append(slip)
            else:
                ship[3][-1] += slip  # brewing starts
        for i in range(n):  # step 3: ship, backlog first
            owed = back[i] + incoming[i]
            sent = min(inv[i], owed)
            inv[i] -= sent
            back[i] = owed - sent
            if i > 0:
                ship[i - 1][-1] += sent
        week_orders = []
        for i in range(n):  # step 5: order
            if levels is None:
                signal = demand if shared else incoming[i]
                expected[i] = THETA * signal + (1 - THETA) * expected[i]
                gap = S_PRIME - (inv[i] - back[i]) - BETA * on_order[i]
                order = max(0.0, expected[i] + ALPHA * gap)
            else:
                order = max(0.0, levels[i] - (inv[i] - back[i] + on_order[i]))
            mail[i][-1] += order
            on_order[i] += order
            week_orders.append(order)
        out["orders"].append(week_orders)
        out["inventory"].append(list(inv))
        out["backlog"].append(list(back))
    return out


@pytest.mark.parametrize("shared", [False, True])
def test_the_game_is_the_board_game(shared: bool) -> None:
    """Week by week, every stage's orders, stock and backlog are the board game's."""
    run = play(information="shared" if shared else "local")
    board = _board_game(shared)
    for key, ours in (
        ("orders", run.orders[0]),
        ("inventory", run.inventory[0]),
        ("backlog", run.backlog[0]),
    ):
        assert np.allclose(ours.T, np.array(board[key]), atol=1e-9), key


def test_first_week_by_hand() -> None:
    """Week 1: every stage receives 4, ships 4, holds 12 (cost 6.00). The retailer's supply
    line is 12 (4 + 4 slips in the mail, 4 in shipping after receiving 4): it orders
    4 + 0.26·(17 − 12 − 0.34·12) = 4.2392; the factory's supply line is 8 (one brewing slot
    and one request): 4 + 0.26·(17 − 12 − 0.34·8) = 4.5928."""
    run = play()
    assert run.orders[0, 0, 0] == pytest.approx(4 + 0.26 * (17 - 12 - 0.34 * 12))
    assert run.orders[0, 3, 0] == pytest.approx(4 + 0.26 * (17 - 12 - 0.34 * 8))
    assert list(run.inventory[0, :, 0]) == [12.0] * 4
    weekly = 0.5 * run.inventory[0] + 1.0 * run.backlog[0]
    assert list(weekly[:, 0]) == [6.0] * 4


def test_base_stock_at_the_starting_position_passes_orders_on() -> None:
    """Levels equal to the starting inventory position (12 + 4 slots of 4 = 28; the factory:
    12 + 3 slots = 24): every stage orders exactly what it was asked for that week."""
    run = play(rule=BaseStockRule((28.0, 28.0, 28.0, 24.0)))
    assert np.allclose(run.orders[0], run.incoming[0])
    board = _board_game(False, levels=[28.0, 28.0, 28.0, 24.0])
    assert np.allclose(run.orders[0].T, np.array(board["orders"]))


def _optimal_levels(game: BeerGame, replications: int) -> tuple[float, float, float, float]:
    found = minimize_levels(
        lambda x: float(
            play(game, BaseStockRule(tuple(x)), replications=replications, seed=0).team_cost.mean()  # type: ignore[arg-type]
        ),
        [28.0, 28.0, 28.0, 24.0],
    )
    a, b, c, d = found.x
    return (a, b, c, d)


def test_deterministic_game_bullwhip_ordering() -> None:
    """The deterministic game, exactly: each stage's order variance over the customers'
    (amplification) is largest with local information, several times smaller with shared
    demand, smallest under the team's optimal base-stock levels — and the team's cost
    falls in the same order. The optimal levels beat every neighbour one case away."""
    game = BeerGame()
    levels = _optimal_levels(game, 1)
    local = play(game, Sterman(), information="local")
    shared = play(game, Sterman(), information="shared")
    optimal = play(game, BaseStockRule(levels))
    a_local, a_shared, a_opt = (r.amplification()[0] for r in (local, shared, optimal))
    assert np.all(a_local > a_shared) and np.all(a_shared > a_opt), (a_local, a_shared, a_opt)
    assert np.all(a_local[1:] > 3 * a_shared[1:])  # much less: upstream, 3x and more
    assert a_local[-1] > 10 * a_shared[-1]
    costs = [r.team_cost[0] for r in (local, shared, optimal)]
    assert costs[0] > costs[1] > costs[2]
    # the base-stock team never lets a customer wait
    assert optimal.fill_rate()[0] == 1.0
    for k in range(4):
        for move in (-1.0, 1.0):
            other = list(levels)
            other[k] += move
            assert play(game, BaseStockRule(tuple(other))).team_cost[0] >= costs[2]  # type: ignore[arg-type]


def test_stochastic_game_bullwhip_ordering_with_intervals() -> None:
    """Poisson demand around 4-then-8, 1,000 replications on common random numbers: the 95%
    intervals of the amplification are apart — local above shared at every stage, shared
    above the optimal base-stock levels upstream of the retailer (the retailer's base-stock
    orders carry the first week's top-up to its level, about as much variance as the
    shared rule's)."""
    game = BeerGame(stochastic=True)
    levels = _optimal_levels(game, 200)
    runs = [
        play(game, Sterman(), information="local", replications=1000, seed=11),
        play(game, Sterman(), information="shared", replications=1000, seed=11),
        play(game, BaseStockRule(levels), replications=1000, seed=11),
    ]
    assert np.array_equal(runs[0].demand, runs[2].demand)  # the same customers
    local, shared, optimal = (r.kpis() for r in runs)
    for stage in STAGES:
        assert local[stage]["amplification"].low > shared[stage]["amplification"].high, stage
    for stage in STAGES[1:]:
        assert shared[stage]["amplification"].low > optimal[stage]["amplification"].high, stage
    assert local["factory"]["amplification"].mean > 5 * shared["factory"]["amplification"].mean


def test_gain_of_connecting_on_the_beer_game() -> None:
    """The team's cost per week and its waste: connected below isolated, network-optimal
    below connected, each difference's interval below zero; the figures are the game's
    (cost per week = the run's holding and backlog summed over stages and weeks / 36)."""
    gain = gain_of_connecting(BeerGame(stochastic=True), batches=10, batch_replications=50)
    for kpi in ("cost", "on_hand", "backorders"):
        assert gain.difference("connected", kpi).high < 0, kpi
        assert gain.difference("network-optimal", kpi, baseline="connected").high < 0, kpi
    iso = play(BeerGame(stochastic=True), Sterman(), replications=500, seed=1_000_003)
    weekly = 0.5 * iso.inventory + 1.0 * iso.backlog
    assert gain.arms["isolated"].kpis["cost"].mean == pytest.approx(
        weekly.sum(axis=(1, 2)).mean() / 36
    )
    table = gain.to_arrow()
    assert set(table.column("arm").to_pylist()) == {"isolated", "connected", "network-optimal"}
