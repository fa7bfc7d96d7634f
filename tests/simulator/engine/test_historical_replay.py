"""Replay real Binance history: a 20x BTC long opened at 2020-03-12 00:00 is liquidated that day."""

import numpy as np
import pytest
from pmsim.simulator.allocator import Allocator, MurCap
from pmsim.simulator.data.assemble import load_market
from pmsim.simulator.engine.engine import Costs, simulate
from pmsim.simulator.engine.policies import policy_for
from pmsim.simulator.margin import make_regime
from pmsim.strategies import Hold


@pytest.mark.parametrize("rule", ["threshold", "extreme"])
def test_20x_long_liquidated_on_march_12_2020_in_the_bar_the_mark_low_crosses(data_dir, rule):
    market = load_market(
        data_dir, symbols=("BTCUSDT",), quarterlies=False, start="2020-03-11T23:00", end="2020-03-13T23:00"
    )
    assert market.source.startswith("historical (Binance)")
    regime = make_regime("isolated", market.instruments, leverage=20)
    # decided at the close of 23:00, filled at the 00:00 open; no fee or slippage so the hand formula holds
    sim = simulate(
        market,
        regime,
        Hold({"BTCUSDT": 0.1}),
        Allocator((MurCap(1.0),)),
        1_000.0,
        Costs(slippage=0.0, clearance_fee=0.0),
        policy=policy_for(regime, "full", rule),
    )

    opened = int(np.searchsorted(market.times, np.datetime64("2020-03-12T00:00", "ms")))
    entry = market.open[opened, 0]
    # isolated wallet = IM = 0.1 x entry / 20; tier 1 of the earliest table on file: MMR 0.4 %, cum 0.
    # wallet + q (P - entry) = q P x 0.4 %  =>  LP = entry (1 - 1/20) / (1 - 0.004)
    lp = entry * (1 - 1 / 20) / (1 - 0.004)
    by_hand = opened + int(np.argmax(market.mark_low[opened:, 0] < lp))

    liquidations = sim.events[sim.events.kind == "liquidation"]
    assert len(liquidations) >= 1
    first = liquidations.iloc[0]
    assert first.time == sim.series.time.iloc[by_hand]
    assert str(first.time.date()) == "2020-03-12"
    # closed at the liquidation price of the isolated wallet as it stands then (IM - taker fee - funding
    # paid up to and in that bar), or at the mark open if the bar opened below it; ``extreme``: the mark low
    paid = sim.events[(sim.events.kind.isin(["fill", "funding"])) & (sim.events.time <= first.time)].amount
    wallet = 0.1 * entry / 20 - paid.sum()
    at_threshold = min((0.1 * entry - wallet) / (0.1 * (1 - 0.004)), market.mark_open[by_hand, 0])
    assert first.price == pytest.approx(at_threshold if rule == "threshold" else market.mark_low[by_hand, 0])
    # before that bar no mark low reached the liquidation price
    assert (market.mark_low[opened:by_hand, 0] >= lp).all()
