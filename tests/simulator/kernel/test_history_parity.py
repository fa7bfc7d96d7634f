"""On real Binance history the kernel liquidates in the same bar, at the same price, as the reference.

The hand-checked case is tests/simulator/engine/test_historical_replay.py's: a 20x BTC long opened at
2020-03-12 00:00, liquidated that day where the mark low crosses its isolated liquidation price. The
other runs replay the same crash under cross and portfolio margin and a long quiet stretch of 2024.
"""

import numpy as np
import pytest
from pmsim.simulator.allocator import Allocator, MurCap
from pmsim.simulator.data.assemble import load_market
from pmsim.simulator.engine.engine import Costs, ShockProbe, simulate
from pmsim.simulator.engine.policies import policy_for
from pmsim.simulator.kernel.run import simulate_compiled
from pmsim.simulator.margin import make_regime
from pmsim.strategies import AdxTrend, Hold

from tests.simulator.kernel.test_engine_parity import assert_same


def both(market, regime_name, make_strategy, rule="threshold", rules=(), probe=None, **params):
    out = []
    for engine in (simulate, simulate_compiled):
        regime = make_regime(regime_name, market.instruments, **params)
        out.append(
            engine(
                market,
                regime,
                make_strategy(),
                Allocator(rules),
                1_000.0,
                Costs(slippage=0.0, clearance_fee=0.0),
                policy=policy_for(regime, "full", rule),
                probe=probe,
            )
        )
    return out


@pytest.mark.parametrize("rule", ["threshold", "extreme"])
def test_the_march_2020_isolated_liquidation_lands_on_the_same_bar_and_price(data_dir, rule):
    market = load_market(
        data_dir, symbols=("BTCUSDT",), quarterlies=False, start="2020-03-11T23:00", end="2020-03-13T23:00"
    )
    reference, compiled = both(
        market, "isolated", lambda: Hold({"BTCUSDT": 0.1}), rule, (MurCap(1.0),), leverage=20
    )
    first = [sim.events[sim.events.kind == "liquidation"].iloc[0] for sim in (reference, compiled)]
    assert str(first[0].time.date()) == "2020-03-12"
    assert first[1].time == first[0].time
    assert first[1].price == pytest.approx(first[0].price, rel=1e-12)
    assert_same(reference, compiled)


@pytest.mark.parametrize("regime", ["cross", "portfolio"])
def test_the_march_2020_crash_under_account_wide_margin(data_dir, regime):
    market = load_market(data_dir, symbols=("BTCUSDT", "ETHUSDT"), start="2020-03-09", end="2020-03-16")
    books = [{"BTCUSDT": 0.2, "ETHUSDT": -2.0}, {"BTCUSDT": 0.4}, {"ETHUSDT": 8.0}]
    reference, compiled = both(market, regime, lambda: Hold(positions=books))
    assert (reference.events.kind == "liquidation").any()
    assert_same(reference, compiled)


def test_adx_books_over_two_months_of_2024_with_quarterlies_and_the_probe(data_dir):
    market = load_market(data_dir, symbols=("BTCUSDT", "ETHUSDT"), start="2024-02-01", end="2024-04-01")
    probe = ShockProbe(np.where(np.array(market.underlying_index) == 0, -0.30, -0.35), every=24)
    books = lambda: AdxTrend(window=[24, 48], entry=[20.0, 25.0], leverage=[3.0, 8.0], stop_loss=0.05)  # noqa: E731
    reference, compiled = both(market, "portfolio", books, rules=(MurCap(0.7),), probe=probe)
    assert (reference.events.kind == "fill").sum() > 10
    assert_same(reference, compiled)
