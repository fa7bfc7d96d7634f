"""A batch of S = 64 books over N = 14 instruments equals 64 separate runs bit for bit.

The books sit on liquidation boundaries (sizes found by bisection, then nudged by a few ulps either
side), where a last-bit difference between a batched and a single product would flip a liquidation.
Isolated positions fail at a move that does not depend on size, so there the leverage (8x: 12.5 %
margin against a 12 % move plus wicks) puts some positions just past their boundary and others not.
"""

import numpy as np
import pytest
from pmsim.simulator.allocator import Allocator
from pmsim.simulator.engine.engine import Costs, simulate
from pmsim.simulator.engine.policies import policy_for
from pmsim.simulator.margin import make_regime
from pmsim.simulator.market.handmade import handmade_market

from tests.kit import Scripted

DELIVERIES = ("240329", "240628", "240927", "241227", "250328", "250627")
SYMBOLS = ("BTCUSDT", "ETHUSDT", *(f"{p}_{d}" for p in ("BTCUSDT", "ETHUSDT") for d in DELIVERIES))
N_BARS, DIRECTIONS, NUDGES = 10, 8, (-1e-6, -1e-9, -1e-12, -1e-15, 0.0, 1e-15, 1e-12, 1e-9)


def market():
    rng = np.random.default_rng(11)
    steps = rng.normal(0.0, 0.02, (N_BARS, 2))
    steps[6] = (-0.12, 0.10)  # a bar with a large move: books fail here
    under = 100 * np.exp(np.cumsum(steps, axis=0))  # [T, 2]: BTC, ETH
    basis = 1 + rng.uniform(0.0, 0.03, len(SYMBOLS))
    basis[:2] = 1.0
    column = np.array([0, 1, *([0] * 6), *([1] * 6)])
    close = under[:, column] * basis
    wick = rng.uniform(0.0, 0.04, (N_BARS, 2))[:, column]
    return handmade_market(
        {s: close[:, k] for k, s in enumerate(SYMBOLS)},
        start="2024-01-04T00:00",
        bar_hours=4,
        mark_low={s: close[:, k] * (1 - wick[:, k]) for k, s in enumerate(SYMBOLS)},
        mark_high={s: close[:, k] * (1 + wick[:, k]) for k, s in enumerate(SYMBOLS)},
        funding={"BTCUSDT": 0.0003, "ETHUSDT": -0.0002},
    )


def run(mkt, regime_name, mode, books):
    """Hold ``books[S, N]`` from the first open; sizes are in units of 1,000 USDT of notional."""
    params = {"cross": {"leverage": 20}, "isolated": {"leverage": 8}}.get(regime_name, {})
    regime = make_regime(regime_name, mkt.instruments, **params)
    qty = books * 1_000 / mkt.close[0]
    targets = np.broadcast_to(qty, (N_BARS, *qty.shape)).copy()
    return simulate(
        mkt,
        regime,
        Scripted(targets),
        Allocator(()),
        1_000.0,
        Costs(0.0005, 0.005),
        policy=policy_for(regime, mode),
    )


def boundaries(mkt, regime_name, mode, directions):
    """Per direction, the smallest scale whose book is liquidated (bisection on the engine itself)."""
    low, high = np.zeros(len(directions)), np.full(len(directions), 40.0)
    for _ in range(60):
        mid = (low + high) / 2
        events = run(mkt, regime_name, mode, directions * mid[:, None]).events
        hit = np.isin(np.arange(len(directions)), events.config[events.kind == "liquidation"])
        low, high = np.where(hit, low, mid), np.where(hit, mid, high)
    return high


@pytest.mark.parametrize(
    ("regime", "mode"),
    [
        ("cross", "full"),
        ("cross", "partial"),
        ("isolated", "full"),
        ("portfolio", "partial"),
        ("standard", "full"),
    ],
)
def test_batch_of_64_books_on_liquidation_boundaries_equals_separate_runs(regime, mode):
    mkt = market()
    rng = np.random.default_rng(5)
    directions = rng.normal(0.0, 1.0, (DIRECTIONS, len(SYMBOLS)))
    directions[:, :2] += np.array([2.0, -1.0])  # mostly long BTC, short ETH: the big bar hurts both
    directions /= np.abs(directions).sum(axis=1, keepdims=True)
    edge = boundaries(mkt, regime, mode, directions) if regime != "isolated" else np.ones(DIRECTIONS)
    books = (directions[:, None, :] * (edge[:, None] * (1 + np.array(NUDGES)))[:, :, None]).reshape(
        -1, len(SYMBOLS)
    )
    assert books.shape == (64, 14)
    together = run(mkt, regime, mode, books)
    liquidations = together.events[together.events.kind == "liquidation"]
    assert 0 < len(liquidations) < np.count_nonzero(books)  # some positions fail, others hold
    if regime != "isolated":
        assert 0 < liquidations.config.nunique() < 64  # the nudges straddle the boundaries
    for book in range(len(books)):
        alone = run(mkt, regime, mode, books[book : book + 1])
        mine = together.series[together.series.config == book].drop(columns="config").reset_index(drop=True)
        np.testing.assert_array_equal(
            mine.to_numpy(float), alone.series.drop(columns="config").to_numpy(float)
        )
        events = together.events[together.events.config == book].drop(columns="config").reset_index(drop=True)
        assert events.equals(alone.events.drop(columns="config")), f"book {book}"
