"""No look-ahead, for every strategy: changing the market after bar t leaves every decision up to t unchanged.

``prepare`` sees the whole market (indicators are computed once), so this is what keeps it honest. Each
strategy is one factory line in ``STRATEGIES``; the market has two perpetuals, an expiring quarterly and
the next one listed part-way, so carry and roll strategies have what they need.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies import AdxTrend, BasisCarry, Hold, PairHedge, Strategy

from tests.strategies.replay import replay

BARS = 240  # 2024-03-20 00:00 + 240 h: BTCUSDT_240329 delivers at bar 224; BTCUSDT_240628 lists at bar 100
NEXT_LISTED = 100

STRATEGIES: dict[str, Callable[[], Strategy]] = {
    "hold": lambda: Hold(positions=[{"BTCUSDT": 1.0, "BTCUSDT_240329": -1.0}, {"ETHUSDT": -3.0}]),
    "hold-leverage": lambda: Hold(leverage=[{"BTCUSDT": 2.0, "BTCUSDT_240628": -2.0}, {"ETHUSDT": -1.0}]),
    "adx": lambda: AdxTrend(
        window=[5, 10, 5],
        entry=[20.0, 25.0, 30.0],
        exit=15.0,
        full_at=40.0,
        stop_loss=0.02,
        trailing_stop=0.03,
    ),
    "basis": lambda: BasisCarry(
        entry=[0.05, 0.08],
        exit=[0.0, 0.02],
        reverse=[0.05, 0.0],
        roll_days=5.0,
        exit_days=1.0,
        underlyings=("BTC",),
    ),
    "pair": lambda: PairHedge(
        lookback=[10, 20], entry=1.0, exit=0.2, hedge=["dollar", "beta"], beta_window=12
    ),
}


def random_market(seed: int, cut: int | None = None, other: int = 0) -> Market:
    """A random market; with ``cut``, every price and funding rate after bar ``cut`` is drawn anew."""
    rng = np.random.default_rng(seed)
    draws = rng.normal(0, 0.01, (6, BARS))
    if cut is not None:
        draws[:, cut + 1 :] = np.random.default_rng([seed, other]).normal(0, 0.03, (6, BARS - cut - 1))
    btc, eth = 40_000 * np.exp(np.cumsum(draws[0])), 3_000 * np.exp(np.cumsum(draws[1]))
    days_left = np.maximum(224 - np.arange(BARS), 0) / 24
    near = np.where(np.arange(BARS) < 224, btc * (1 + 0.1 * days_left / 365 + 0.001 * draws[2]), np.nan)
    far = np.where(
        np.arange(BARS) >= NEXT_LISTED, btc * (1 + 0.1 * (days_left + 91) / 365 + 0.001 * draws[3]), np.nan
    )
    close = {"BTCUSDT": btc, "ETHUSDT": eth, "BTCUSDT_240329": near, "BTCUSDT_240628": far}
    return handmade_market(
        close,
        start="2024-03-20T00:00",
        high={s: c * (1 + np.abs(draws[4])) for s, c in close.items()},
        low={s: c * (1 - np.abs(draws[5])) for s, c in close.items()},
        funding={"BTCUSDT": 1e-4 + draws[4] / 100, "ETHUSDT": 1e-4 + draws[5] / 100},
    )


def budget() -> np.ndarray:
    return 10_000 * (1 + 0.2 * np.sin(np.arange(BARS) / 7))


def assert_same_up_to(factory: Callable[[], Strategy], seed: int, cut: int, other: int) -> None:
    before, after = random_market(seed), random_market(seed, cut, other)
    np.testing.assert_array_equal(before.close[: cut + 1], after.close[: cut + 1])
    assert not np.array_equal(before.close[cut + 1 :], after.close[cut + 1 :], equal_nan=True)
    targets, events = replay(factory(), before, budget(), bars=BARS - 1)
    changed, changed_events = replay(factory(), after, budget(), bars=BARS - 1)
    np.testing.assert_array_equal(targets[: cut + 1], changed[: cut + 1])
    assert events[: cut + 1] == changed_events[: cut + 1]


@pytest.mark.parametrize("name", STRATEGIES)
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cut=st.integers(0, BARS - 3), other=st.integers(1, 1000))
def test_decisions_up_to_t_ignore_the_data_after_t(name, seed, cut, other):
    assert_same_up_to(STRATEGIES[name], seed, cut, other)


def test_decisions_do_move_when_the_data_changes():
    """The check has teeth: decisions after the cut do change for a strategy that trades."""
    before, after = random_market(5), random_market(5, 60, 1)
    targets, _ = replay(STRATEGIES["pair"](), before, budget(), bars=BARS - 1)
    changed, _ = replay(STRATEGIES["pair"](), after, budget(), bars=BARS - 1)
    assert not np.array_equal(targets[61:], changed[61:])


@dataclass(eq=False)
class Peeking(AdxTrend):
    """An ADX that reads the next bar's lines: the look-ahead the test must catch."""

    def prepare(self, market):
        super().prepare(market)
        self.adx_ = np.roll(self.adx_, -1, axis=1)


def test_a_strategy_that_peeks_is_caught():
    with pytest.raises(AssertionError):
        for cut in (30, 60, 90, 120):
            assert_same_up_to(lambda: Peeking(window=5, entry=20.0, exit=15.0, full_at=40.0), 3, cut, 1)
