"""Liquidation fires in the bar whose mark low crosses the liquidation price, not a bar earlier or later."""

import numpy as np
import pytest
from pmsim.simulator.allocator import Allocator, MurCap
from pmsim.simulator.engine.engine import Costs, simulate
from pmsim.simulator.margin import make_regime
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies import Hold


def run_with_lows(lows: list[float], clearance_fee: float = 0.01):
    closes = [100.0] * len(lows)
    market = handmade_market({"BTCUSDT": closes}, mark_low={"BTCUSDT": lows})
    regime = make_regime("cross", market.instruments, leverage=20)
    return simulate(
        market,
        regime,
        Hold({"BTCUSDT": 10.0}),
        Allocator((MurCap(1.0),)),
        100.0,
        Costs(slippage=0.0, clearance_fee=clearance_fee),
    )


# Long 10 at 100 with a 100 USDT wallet: after the 0.5 USDT entry fee, equity at price p is
# 99.5 + 10 (p - 100) and MM is 10 p x 0.4%. Equity < MM  <=>  9.96 p < 900.5  <=>  p < 90.41164.
LIQUIDATION_PRICE = 900.5 / 9.96


def test_liquidation_price_by_hand():
    assert pytest.approx(90.41164, abs=1e-5) == LIQUIDATION_PRICE


def test_fires_exactly_in_the_crossing_bar():
    lows = [100, 100, 95, 90.5, 90.42, 90.40, 100, 100]
    sim = run_with_lows(lows, clearance_fee=0.001)
    liquidations = sim.events[sim.events.kind == "liquidation"]
    assert len(liquidations) == 1
    assert liquidations.time.iloc[0] == sim.series.time.iloc[5]
    assert liquidations.price.iloc[0] == 90.40
    assert liquidations.amount.iloc[0] == pytest.approx(0.001 * 10 * 90.40)
    # after the liquidation the book is flat; wallet = 99.5 + 10 (90.40 - 100) - clearance fee
    assert sim.series.wallet.iloc[5] == pytest.approx(99.5 - 96.0 - 0.904)
    assert sim.series.bankruptcy_loss.iloc[-1] == 0.0


def test_loss_beyond_equity_is_bankruptcy_loss():
    sim = run_with_lows([100, 100, 80, 100])
    # liquidated at 80: 99.5 - 200 - 8 (clearance) = -108.5, covered by the insurance fund
    assert sim.series.bankruptcy_loss.iloc[2] == pytest.approx(108.5)
    assert sim.series.wallet.iloc[2] == 0.0
    assert (sim.events.kind == "bankruptcy").sum() == 1


def test_no_liquidation_above_the_price():
    sim = run_with_lows([100, 100, 90.42, 90.42, 91])
    assert not (sim.events.kind == "liquidation").any()
    assert np.isinf(sim.series.buffer.iloc[0])  # no position yet: MM = 0
    assert np.isfinite(sim.series.buffer.iloc[1:]).all()
