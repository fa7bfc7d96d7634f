"""ADX trend: the direction follows the trend, and the indicators are the ``ta`` package's own.

A strong hand-made uptrend must give a long target and a downtrend a short one; +DI, -DI and ADX must be
exactly what ``ta.trend.ADXIndicator`` computes on the same bars, so an inverted or swapped direction fails.
"""

import numpy as np
import pandas as pd
import pytest
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies import AdxTrend
from pmsim.strategies.base import BarView
from ta.trend import ADXIndicator

BARS = 120
WALLET = 1000.0


def trend(start: float, step: float, seed: int) -> np.ndarray:
    """A trend with noise much smaller than the step: every few bars it retraces a little."""
    noise = np.random.default_rng(seed).normal(0.0, abs(step) * 0.3, BARS)
    return start + step * np.arange(BARS) + noise


@pytest.fixture
def up_and_down():
    """BTC climbs 100 -> ~337 while ETH falls 400 -> ~162, on one bar clock."""
    return handmade_market({"BTCUSDT": trend(100.0, 2.0, 1), "ETHUSDT": trend(400.0, -2.0, 2)})


def targets_at(strategy: AdxTrend, market, t: int) -> np.ndarray:
    n = strategy.n_configs
    view = BarView.at(market, t, np.full(n, WALLET), np.zeros((n, len(market.instruments))))
    return strategy.decide(view)


def test_uptrend_is_long_and_downtrend_is_short(up_and_down):
    strategy = AdxTrend(window=10, entry=25.0, fraction=0.5, leverage=2.0)
    strategy.prepare(up_and_down)
    t = BARS - 1
    target = targets_at(strategy, up_and_down, t)[0]
    btc, eth = up_and_down.close[t]
    # notional = fraction x equity x leverage = 0.5 x 1000 x 2 = 1000 USDT per instrument
    assert target[0] == pytest.approx(1000.0 / btc)
    assert target[1] == pytest.approx(-1000.0 / eth)


def test_direction_holds_through_the_trend_once_adx_is_warm(up_and_down):
    strategy = AdxTrend(window=10, entry=25.0)
    strategy.prepare(up_and_down)
    # after 3 windows ADX of a clean trend is far above 25
    signs = np.array([np.sign(targets_at(strategy, up_and_down, t)[0]) for t in range(30, BARS)])
    assert (signs[:, 0] == 1).all()
    assert (signs[:, 1] == -1).all()


def test_below_the_threshold_the_book_is_flat(up_and_down):
    strategy = AdxTrend(window=10, entry=100.0)  # ADX never exceeds 100
    strategy.prepare(up_and_down)
    assert not targets_at(strategy, up_and_down, BARS - 1).any()


def test_indicators_and_signal_equal_ta_on_a_random_walk():
    rng = np.random.default_rng(7)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 400)))
    market = handmade_market({"BTCUSDT": close})
    strategy = AdxTrend(window=[7, 14, 7], entry=[20.0, 25.0, 30.0])
    strategy.prepare(market)
    sides = []  # the side each book takes at each close (exit = entry: no hysteresis, no stops)
    for t in range(market.n_bars):
        strategy.decide(BarView.at(market, t, np.full(3, 1000.0), np.zeros((3, 1))))
        sides.append(strategy.side_.copy())
    sides = np.array(sides)
    frame = pd.DataFrame({"high": market.high[:, 0], "low": market.low[:, 0], "close": market.close[:, 0]})
    seen = {1, -1}
    for s, (window, threshold) in enumerate([(7, 20.0), (14, 25.0), (7, 30.0)]):
        ind = ADXIndicator(frame["high"], frame["low"], frame["close"], window=window, fillna=True)
        adx, plus, minus = ind.adx().to_numpy(), ind.adx_pos().to_numpy(), ind.adx_neg().to_numpy()
        w = strategy.window_index_[s]
        np.testing.assert_array_equal(strategy.adx_[w, :, 0], adx)
        np.testing.assert_array_equal(strategy.plus_di_[w, :, 0], plus)
        np.testing.assert_array_equal(strategy.minus_di_[w, :, 0], minus)
        expected = np.where(adx > threshold, np.sign(plus - minus), 0.0)
        got = sides[:, s, 0]
        np.testing.assert_array_equal(got, expected)
        seen -= set(np.unique(expected).tolist())
    assert not seen, "the random walk must trend both ways for this test to mean anything"


def test_parameters_are_checked():
    with pytest.raises(ConfigError, match="one length"):
        AdxTrend(window=[7, 14], entry=[20.0, 25.0, 30.0])
    with pytest.raises(ConfigError, match="window must be >= 2"):
        AdxTrend(window=1)
    market = handmade_market({"BTCUSDT": trend(100.0, 1.0, 3)[:20]})
    with pytest.raises(ConfigError, match="needs more than 20 bars"):
        AdxTrend(window=10).prepare(market)


def test_a_full_at_a_hair_above_entry_gives_full_size_without_an_overflow():
    """full_at - entry = 2e-311 (found by hypothesis): the ramp's division overflows to inf, clipped to 1."""
    strategy = AdxTrend(entry=0.0, full_at=2.2e-311, min_size=0.25)
    assert strategy.full_at_[0] > strategy.entry_[0]
    np.testing.assert_array_equal(strategy.conviction(np.array([[30.0]])), [[1.0]])
