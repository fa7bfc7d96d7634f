"""Liquidation fires in the bar whose mark low crosses the liquidation price, not a bar earlier or later,
and fills at that price (``threshold``), at the open when the bar gapped through it, or at the bar's
low (``extreme``, the older rule)."""

import numpy as np
import pytest
from pmsim.simulator.allocator import Allocator, MurCap
from pmsim.simulator.engine.engine import Costs, simulate
from pmsim.simulator.engine.policies import policy_for
from pmsim.simulator.margin import make_regime
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies import Hold


def run_with_lows(lows: list[float], clearance_fee: float = 0.01, rule: str = "threshold", opens=None):
    closes = [100.0] * len(lows)
    market = handmade_market(
        {"BTCUSDT": closes}, mark_low={"BTCUSDT": lows}, open={"BTCUSDT": opens} if opens else None
    )
    regime = make_regime("cross", market.instruments, leverage=20)
    return simulate(
        market,
        regime,
        Hold({"BTCUSDT": 10.0}),
        Allocator((MurCap(1.0),)),
        100.0,
        Costs(slippage=0.0, clearance_fee=clearance_fee),
        policy=policy_for(regime, "full", rule),
    )


# Long 10 at 100 with a 100 USDT wallet: after the 0.5 USDT entry fee, equity at price p is
# 99.5 + 10 (p - 100) and MM is 10 p x 0.4%. Equity < MM  <=>  9.96 p < 900.5  <=>  p < 90.41164.
LIQUIDATION_PRICE = 900.5 / 9.96


def test_liquidation_price_by_hand():
    assert pytest.approx(90.41164, abs=1e-5) == LIQUIDATION_PRICE


@pytest.mark.parametrize(("rule", "price"), [("threshold", LIQUIDATION_PRICE), ("extreme", 90.40)])
def test_fires_exactly_in_the_crossing_bar(rule, price):
    lows = [100, 100, 95, 90.5, 90.42, 90.40, 100, 100]
    sim = run_with_lows(lows, clearance_fee=0.001, rule=rule)
    liquidations = sim.events[sim.events.kind == "liquidation"]
    assert len(liquidations) == 1
    assert liquidations.time.iloc[0] == sim.series.time.iloc[5]
    # threshold: the bar opens at 100 and equity meets MM at 90.41164 on the way down to 90.40
    assert liquidations.price.iloc[0] == pytest.approx(price, rel=1e-12)
    assert liquidations.amount.iloc[0] == pytest.approx(0.001 * 10 * price)
    # after the liquidation the book is flat; wallet = 99.5 + 10 (price - 100) - clearance fee
    assert sim.series.wallet.iloc[5] == pytest.approx(99.5 + 10 * (price - 100) - 0.01 * price)
    assert sim.series.bankruptcy_loss.iloc[-1] == 0.0


def test_loss_beyond_equity_is_bankruptcy_loss():
    sim = run_with_lows([100, 100, 80, 100], rule="extreme")
    # liquidated at 80: 99.5 - 200 - 8 (clearance) = -108.5, covered by the insurance fund
    assert sim.series.bankruptcy_loss.iloc[2] == pytest.approx(108.5)
    assert sim.series.wallet.iloc[2] == 0.0
    assert (sim.events.kind == "bankruptcy").sum() == 1


def test_at_the_threshold_only_the_clearance_fee_beyond_mm_is_bankruptcy_loss():
    sim = run_with_lows([100, 100, 80, 100])
    # closed at p = 90.41164 where equity = MM = 0.4 % x 10 p; the 1 % clearance fee takes 10 p x 1 %:
    # the wallet ends at 10 p (0.4 % - 1 %) = -5.42470, covered by the insurance fund
    assert sim.events[sim.events.kind == "liquidation"].price.iloc[0] == pytest.approx(LIQUIDATION_PRICE)
    assert sim.series.bankruptcy_loss.iloc[2] == pytest.approx(0.06 * LIQUIDATION_PRICE)
    assert sim.series.wallet.iloc[2] == 0.0


def test_a_bar_that_gaps_through_fills_at_its_open():
    # bar 2 opens at 88, already below the 90.41164 liquidation price, and its low is 85: the account
    # is closed at the open, 88 (wallet 99.5 - 120 - 8.8 clearance: 29.3 of bankruptcy loss)
    sim = run_with_lows([100, 100, 85, 100], opens=[100, 100, 88, 100])
    liquidation = sim.events[sim.events.kind == "liquidation"]
    assert liquidation.price.tolist() == [88.0]
    assert liquidation.note.iloc[0].startswith("full liquidation at the open (gapped through)")
    assert sim.series.bankruptcy_loss.iloc[2] == pytest.approx(120 + 8.8 - 99.5)


def test_no_liquidation_above_the_price():
    sim = run_with_lows([100, 100, 90.42, 90.42, 91])
    assert not (sim.events.kind == "liquidation").any()
    assert np.isinf(sim.series.buffer.iloc[0])  # no position yet: MM = 0
    assert np.isfinite(sim.series.buffer.iloc[1:]).all()
