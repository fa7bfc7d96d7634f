"""ADX trend: ta's lines, conviction sizing, hysteresis between exit and entry, stops as events."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies import AdxTrend
from ta.trend import ADXIndicator

from tests.strategies.replay import replay


@dataclass(eq=False)
class GivenLines(AdxTrend):
    """ADX with the lines written in the test (ADX, +DI, -DI per bar) instead of computed by ta."""

    given: tuple = ()

    def prepare(self, market):
        super().prepare(market)
        adx, plus, minus = (np.asarray(v, dtype=float)[None, :, None] for v in self.given)
        self.adx_[:], self.plus_di_[:], self.minus_di_[:] = adx, plus, minus


NAN = float("nan")


def flat_market(closes):
    return handmade_market({"BTCUSDT": closes})


def test_lines_equal_ta_on_a_hand_made_series():
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(np.r_[np.full(30, 0.01), np.full(30, -0.012), rng.normal(0, 0.01, 30)]))
    high, low = close * 1.004, close * 0.995
    market = handmade_market({"BTCUSDT": close}, high={"BTCUSDT": high}, low={"BTCUSDT": low})
    strategy = AdxTrend(window=[7, 14, 7], entry=20.0)
    strategy.prepare(market)
    for w, window in enumerate((7, 14)):
        ref = ADXIndicator(pd.Series(high), pd.Series(low), pd.Series(close), window=window, fillna=True)
        np.testing.assert_array_equal(strategy.adx_[w, :, 0], ref.adx().to_numpy())
        np.testing.assert_array_equal(strategy.plus_di_[w, :, 0], ref.adx_pos().to_numpy())
        np.testing.assert_array_equal(strategy.minus_di_[w, :, 0], ref.adx_neg().to_numpy())
    # the rising leg's end is a long, the falling leg's end a short, in every book
    targets, _ = replay(AdxTrend(window=[7, 14, 7], entry=20.0), market)
    ref = ADXIndicator(pd.Series(high), pd.Series(low), pd.Series(close), window=7, fillna=True)
    side = np.where(ref.adx() > 20, np.sign(ref.adx_pos() - ref.adx_neg()), 0)
    np.testing.assert_array_equal(np.sign(targets[:, 0, 0]), side)
    assert side[29] == 1 and side[59] == -1


def test_an_instrument_listed_late_gets_ta_lines_from_its_first_bar():
    """Before its first listed bar there is no signal (0); from it on, ta's lines on the listed stretch."""
    rng = np.random.default_rng(5)
    btc = 100 * np.exp(np.cumsum(rng.normal(0.002, 0.01, 60)))
    eth = np.r_[np.full(10, np.nan), 50 * np.exp(np.cumsum(rng.normal(-0.003, 0.01, 50)))]
    strategy = AdxTrend(window=7)
    market = handmade_market({"BTCUSDT": btc, "ETHUSDT": eth})
    strategy.prepare(market)
    high, low, close = (pd.Series(x[10:, 1]) for x in (market.high, market.low, market.close))
    ref = ADXIndicator(high, low, close, window=7, fillna=True)
    np.testing.assert_array_equal(strategy.adx_[0, :10, 1], 0.0)
    np.testing.assert_array_equal(strategy.adx_[0, 10:, 1], ref.adx().to_numpy())
    np.testing.assert_array_equal(strategy.plus_di_[0, 10:, 1], ref.adx_pos().to_numpy())


def test_conviction_by_hand():
    """entry 25, full at 45, min_size 0.25, fraction 0.5 x leverage 2 x budget 10,000 at price 100:
    ADX 30 -> c = 0.25 + 0.75 x (30 - 25) / 20 = 0.4375 -> 43.75 contracts; ADX 45 and 60 -> c = 1 -> 100;
    ADX 26 -> 0.25 + 0.75 x 0.05 = 0.2875 -> 28.75."""
    lines = ([26.0, 30.0, 45.0, 60.0, 60.0], [30.0] * 5, [10.0] * 5)
    strategy = GivenLines(
        window=2, entry=25.0, full_at=45.0, min_size=0.25, fraction=0.5, leverage=2.0, given=lines
    )
    targets, _ = replay(strategy, flat_market([100.0] * 5))
    np.testing.assert_allclose(targets[:, 0, 0], [28.75, 43.75, 100.0, 100.0, 100.0])


def test_strong_trend_gets_a_bigger_position_than_a_weak_one():
    rng = np.random.default_rng(11)
    steps = rng.normal(0, 1, 80)
    strong = 100 * np.exp(np.cumsum(0.004 + 0.006 * steps))  # ADX 90.9 at the last bar
    weak = 100 * np.exp(np.cumsum(0.002 + 0.010 * steps))  # ADX 59.5
    market = handmade_market({"BTCUSDT": strong, "ETHUSDT": weak})
    strategy = AdxTrend(window=14, entry=20.0, full_at=100.0, min_size=0.2, fraction=1.0, leverage=1.0)
    targets, _ = replay(strategy, market)
    adx = strategy.adx_[0, -1]
    assert adx[0] > adx[1] > 20.0
    notional = targets[-1, 0] * market.close[-1]
    assert notional[0] > notional[1] > 0
    # both sized by the formula: c = 0.2 + 0.8 x (ADX - 20) / 80 of budget 10,000
    np.testing.assert_allclose(adx, [90.9, 59.5], atol=0.05)
    np.testing.assert_allclose(notional, 10_000 * (0.2 + 0.8 * (adx - 20) / 80))


def test_adx_between_exit_and_entry_holds_the_position():
    """entry 25, exit 20: ADX 22 does not enter, 30 enters, 22 and 21 hold (min size), 19 exits, 22 stays
    out."""
    adx = [22.0, 30.0, 22.0, 21.0, 19.0, 22.0]
    lines = (adx, [30.0] * 6, [10.0] * 6)
    strategy = GivenLines(window=2, entry=25.0, exit=20.0, full_at=35.0, min_size=0.5, given=lines)
    targets, _ = replay(strategy, flat_market([100.0] * 6))
    # full = 0.5 x 2 x 10,000 / 100 = 100; ADX 30 -> c = 0.5 + 0.5 x 5 / 10 = 0.75; ADX <= 25 -> c = 0.5
    np.testing.assert_allclose(targets[:, 0, 0], [0.0, 75.0, 50.0, 50.0, 0.0, 0.0])
    # without hysteresis (exit = entry) the same ADX path is out from bar 2 on
    plain, _ = replay(GivenLines(window=2, entry=25.0, given=lines), flat_market([100.0] * 6))
    np.testing.assert_allclose(plain[:, 0, 0], [0.0, 100.0, 0.0, 0.0, 0.0, 0.0])


def test_di_flip_reverses_above_entry_and_exits_below():
    adx = [30.0, 30.0, 22.0, 30.0, 30.0]
    plus, minus = [30.0, 10.0, 10.0, 30.0, 10.0], [10.0, 30.0, 30.0, 10.0, 10.0]
    strategy = GivenLines(window=2, entry=25.0, exit=20.0, given=(adx, plus, minus))
    targets, _ = replay(strategy, flat_market([100.0] * 5))
    # long; flip above entry -> short; held at 22 (same side); flip -> long; +DI = -DI -> flat
    np.testing.assert_allclose(np.sign(targets[:, 0, 0]), [1, -1, -1, 1, 0])


def test_stop_loss_fires_on_the_hand_computed_bar_and_blocks_reentry():
    """Long from the close of bar 0 (100). Loss from 100: bar 3 at 95.5 is 4.5 % (< 5 %), bar 4 at 94 is 6 %:
    the stop fires at bar 4 with amount 0.06. The DI side is still long, so bars 5-6 stay flat; ADX falls
    to the exit level at bar 7 (signal reset) and the trend is re-entered at bar 8 from its close 96."""
    closes = [100.0, 98.0, 96.0, 95.5, 94.0, 95.0, 96.0, 96.0, 96.0, 92.0]
    adx = [40.0] * 7 + [20.0, 40.0, 40.0]
    strategy = GivenLines(
        window=2, entry=25.0, exit=20.0, stop_loss=0.05, given=(adx, [30.0] * 10, [10.0] * 10)
    )
    targets, events = replay(strategy, flat_market(closes))
    side = np.sign(targets[:, 0, 0])
    np.testing.assert_array_equal(side, [1, 1, 1, 1, 0, 0, 0, 0, 1, 1])
    assert events[4] == [("stop", [0], [0.06], "stop_loss BTCUSDT")]
    assert all(not e for t, e in enumerate(events) if t != 4)  # 92 is 4.17 % below the new entry 96


def test_trailing_stop_fires_on_the_hand_computed_bar():
    """Short from 100; best close 80 at bar 2; retrace (close - best) / best: 86 -> 7.5 %, 88.5 -> 10.625 %
    >= 10 %: fires at bar 4. A second book without stops stays short; a third with a 20 % stop-loss too."""
    closes = [100.0, 90.0, 80.0, 86.0, 88.5, 88.0]
    lines = ([40.0] * 6, [10.0] * 6, [30.0] * 6)
    strategy = GivenLines(
        window=2, entry=25.0, trailing_stop=[0.1, 0.0, 0.0], stop_loss=[0.0, 0.0, 0.2], given=lines
    )
    targets, events = replay(strategy, flat_market(closes))
    np.testing.assert_array_equal(np.sign(targets[:, :, 0]).T, [[-1, -1, -1, -1, 0, 0], [-1] * 6, [-1] * 6])
    assert events[4] == [("stop", [0], [0.10625], "trailing_stop BTCUSDT")]
    assert sum(map(len, events)) == 1


def test_a_gap_keeps_the_position_at_the_last_close():
    """Bar 2 never traded (NaN inside BTC's life): the target stays 0.5 x 2 x 10,000 / 100 = 100."""
    strategy = GivenLines(window=2, entry=25.0, given=([40.0] * 5, [30.0] * 5, [10.0] * 5))
    targets, _ = replay(strategy, flat_market([100.0, 100.0, NAN, 100.0, 100.0]))
    np.testing.assert_allclose(targets[:, 0, 0], [100.0] * 5)


def test_no_budget_means_flat_and_no_stop():
    """Budget 0 on bars 1-3 sizes the side to nothing: flat, so the 15 % fall below the entry close 100 fires
    no stop; budget back at bar 4 re-enters from that close: 10,000 / 85 contracts."""
    strategy = GivenLines(window=2, entry=25.0, stop_loss=0.05, given=([40.0] * 5, [30.0] * 5, [10.0] * 5))
    budget = np.array([10_000.0, 0.0, 0.0, 0.0, 10_000.0])
    targets, events = replay(strategy, flat_market([100.0, 100.0, 90.0, 85.0, 85.0]), budget=budget)
    np.testing.assert_allclose(targets[:, 0, 0], [100.0, 0.0, 0.0, 0.0, 10_000 / 85])
    assert not any(events)
    assert strategy.entry_price_[0, 0] == 85.0


@pytest.mark.parametrize(
    "params",
    [
        {"exit": 30.0, "entry": 25.0},
        {"full_at": 20.0, "entry": 25.0},
        {"min_size": 1.5},
        {"trailing_stop": 1.0},
        {"stop_loss": -0.1},
        {"entry": [20.0, 25.0], "exit": [10.0, 15.0, 20.0]},
    ],
)
def test_bad_parameters_are_refused(params):
    with pytest.raises(ConfigError):
        AdxTrend(**params)
