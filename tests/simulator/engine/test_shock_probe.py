"""The per-bar shock-to-liquidation distance recorded in runs, against a hand calculation."""

import numpy as np
import pytest
from pmsim.simulator.allocator import Allocator, MurCap
from pmsim.simulator.engine.engine import Costs, ShockProbe, simulate
from pmsim.simulator.margin import make_regime
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies import Hold


def test_distance_of_a_single_long_by_hand():
    # Long 10 BTC at 100 with a 200 wallet, no fees. Under a move of x times -30 %, price p = 100 (1 - 0.3 x)
    # and equity 200 - 10 x 30 x must stay >= MM = 10 p x 0.4 %:  200 - 300 x = 4 - 1.2 x
    # => x = 196 / 298.8 = 0.655957...
    market = handmade_market({"BTCUSDT": [100.0] * 6}, taker_fee=0.0)
    regime = make_regime("cross", market.instruments, leverage=20)
    probe = ShockProbe(np.array([-0.30]), every=2)
    sim = simulate(
        market,
        regime,
        Hold({"BTCUSDT": 10.0}),
        Allocator((MurCap(1.0),)),
        200.0,
        Costs(slippage=0.0),
        probe=probe,
    )
    distance = sim.series.shock_distance.to_numpy()
    assert np.isinf(distance[0])  # flat at bar 0: no move liquidates an empty book
    assert np.isnan(distance[[1, 3, 5]]).all()  # only every second bar is probed
    assert distance[2] == pytest.approx(196 / 298.8, rel=1e-6)
    assert distance[4] == pytest.approx(196 / 298.8, rel=1e-6)
