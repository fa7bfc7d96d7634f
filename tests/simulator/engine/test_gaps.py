"""A bar missing inside an instrument's history carries its last mark: it is never a price of 0."""

import dataclasses

import numpy as np
import pytest
from pmsim.simulator.allocator import Allocator, MurCap
from pmsim.simulator.engine.engine import Costs, simulate
from pmsim.simulator.engine.gaps import DEFERRED
from pmsim.simulator.engine.policies import policy_for
from pmsim.simulator.margin import make_regime
from pmsim.simulator.market.arrays import gap_mask
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies import Hold

from tests.kit import Scripted

NAN = float("nan")


def run(market, strategy, regime_name="cross", wallet=1_000.0):
    params = {"leverage": 10} if regime_name != "portfolio" else {}
    regime = make_regime(regime_name, market.instruments, **params)
    return simulate(
        market,
        regime,
        strategy,
        Allocator((MurCap(1.0),)),
        wallet,
        Costs(slippage=0.0, clearance_fee=0.005),
        policy=policy_for(regime),
    )


def test_gap_mask_marks_only_bars_inside_the_listed_life():
    listed = np.array([[False, True, False, True, False, False]]).T
    assert gap_mask(listed)[:, 0].tolist() == [False, False, True, False, False, False]


@pytest.mark.parametrize("regime", ["cross", "isolated", "portfolio"])
def test_a_gap_in_a_held_instrument_keeps_the_position_and_its_value(regime):
    # Long 10 BTC from the bar-1 open (100). Bar 2 is missing. Before the fix its price became 0 and the
    # position was liquidated there with a bankruptcy loss; now bar 2 carries the bar-1 mark (101).
    market = handmade_market({"BTCUSDT": [100, 101, NAN, 99, 100]}, taker_fee=0.0)
    sim = run(market, Hold({"BTCUSDT": 10.0}), regime, wallet=10_000.0)
    s = sim.series
    assert not (sim.events.kind == "liquidation").any()
    assert s.bankruptcy_loss.max() == 0.0
    assert s["notional:BTCUSDT"].tolist() == pytest.approx([0.0, 1_010.0, 1_010.0, 990.0, 1_000.0])
    # equity is continuous: the gap bar's change is its carried-mark PnL, 0
    assert s.equity.tolist() == pytest.approx([10_000.0, 10_010.0, 10_010.0, 9_990.0, 10_000.0])
    assert sim.notes[0].startswith("BTCUSDT: 1 gap bar inside its listed history; the last mark is carried")


def test_only_the_traded_instrument_moves_equity_in_a_gap_bar_and_funding_settles_at_the_carried_mark():
    # BTC (long 10) has no bar 2; ETH (short 5) falls from 50 to 40 in it. Funding at 0.1 % falls in
    # bar 2 for BTC: 10 x 101 (carried mark) x 0.001 = 1.01 paid. Equity change in bar 2:
    # ETH -5 x (40 - 50) = +50, BTC's carried-mark PnL 0, funding -1.01.
    market = handmade_market({"BTCUSDT": [100, 101, NAN, 99], "ETHUSDT": [50, 50, 40, 40]}, taker_fee=0.0)
    due = np.zeros_like(market.funding_due)
    due[2, 0] = True
    market = dataclasses.replace(market, funding_due=due, funding_rate=np.where(due, 0.001, 0.0))
    sim = run(market, Hold({"BTCUSDT": 10.0, "ETHUSDT": -5.0}))
    s = sim.series
    assert s.equity[2] - s.equity[1] == pytest.approx(50.0 - 1.01)
    funding = sim.events[sim.events.kind == "funding"]
    assert funding.price.tolist() == [101.0]
    assert funding.amount.tolist() == pytest.approx([1.01])


def test_an_order_in_a_gapped_instrument_waits_for_the_next_traded_bar():
    # Decided at the bar-1 close to buy 10 BTC: bar 2 is missing, so the order is recorded as deferred
    # and fills at the bar-3 open (its own close, 99, since the bar before it has no price).
    market = handmade_market({"BTCUSDT": [100, 101, NAN, 99, 100]}, taker_fee=0.0)
    targets = np.zeros((5, 1, 1))
    targets[1:] = 10.0
    sim = run(market, Scripted(targets))
    deferred = sim.events[sim.events.note == DEFERRED]
    assert deferred.kind.tolist() == ["rejection"]
    assert deferred.time.tolist() == [sim.series.time[2]]
    assert deferred.qty.tolist() == [10.0]
    fills = sim.events[sim.events.kind == "fill"]
    assert fills.time.tolist() == [sim.series.time[3]]
    assert fills.price.tolist() == [99.0]
