"""Hold books given as leverage: sized once per symbol at its first listed close, then never resized."""

import numpy as np
import pytest
from pmsim.simulator.allocator import Allocator
from pmsim.simulator.build import STRATEGIES
from pmsim.simulator.checked import build
from pmsim.simulator.engine.engine import Costs, simulate
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin import make_regime
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies import Hold

from tests.strategies.replay import replay

NAN = float("nan")


def market():
    return handmade_market({"BTCUSDT": [100.0, 102.0, 104.0, 106.0], "ETHUSDT": [NAN, NAN, 50.0, 55.0]})


def test_leverage_sizes_by_hand():
    """Budgets 10,000 / 11,000 / 12,000 / 13,000. Book 0: BTC 2x at bar 0 = 2 x 10,000 / 100 = 200; ETH -1x
    at its first listed bar 2 = -12,000 / 50 = -240. Book 1: BTC 0.5x = 50. Later budgets change nothing."""
    hold = Hold(leverage=[{"BTCUSDT": 2.0, "ETHUSDT": -1.0}, {"BTCUSDT": 0.5}])
    targets, _ = replay(hold, market(), budget=np.array([10_000.0, 11_000.0, 12_000.0, 13_000.0]))
    np.testing.assert_allclose(targets[:, 0], [[200, 0], [200, 0], [200, -240], [200, -240]])
    np.testing.assert_allclose(targets[:, 1], [[50, 0]] * 4)
    assert hold.labels() == ["BTCUSDT +2x ETHUSDT -1x", "BTCUSDT +0.5x"]


def test_leverage_book_is_held_in_the_engine():
    hold = Hold(leverage={"BTCUSDT": 2.0, "ETHUSDT": -1.0})
    regime = make_regime("cross", market().instruments, leverage=10)
    run = simulate(market(), regime, hold, Allocator(()), 10_000.0, Costs(slippage=0.0))
    # ETH sized from the equity at bar 2's close: 10,000 + 200 x (104 - 100) - taker fee 0.0005 x 200 x 100
    equity = 10_000 + 200 * 4 - 0.0005 * 200 * 100
    np.testing.assert_allclose(run.account.qty, [[200.0, -equity / 50]])


def test_a_config_gives_positions_or_leverage():
    assert build(STRATEGIES["hold"], {"leverage": [{"BTCUSDT": 2.0}, {"BTCUSDT": 3.0}]}, "s").n_configs == 2
    with pytest.raises(ConfigError, match="positions .quantities. or leverage, not both"):
        Hold(positions={"BTCUSDT": 1.0}, leverage={"BTCUSDT": 2.0})
    with pytest.raises(ConfigError, match="positions: required key is missing"):
        Hold()
