"""Pair hedge: the z-score side with hysteresis, dollar and beta neutrality by hand, beta from past bars."""

from dataclasses import dataclass

import numpy as np
import pytest
from pmsim.simulator.build import STRATEGIES
from pmsim.simulator.checked import build
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies import PairHedge

from tests.strategies.replay import replay


@dataclass(eq=False)
class GivenZ(PairHedge):
    """A pair hedge reading the z path written in the test."""

    given: tuple = ()

    def prepare(self, market):
        super().prepare(market)
        self.z_[:] = np.asarray(self.given, dtype=float)


def test_dollar_neutral_by_hand():
    """BTC 100, 101, 100, 101, 100, 110 against ETH at 50: over the last 5 log ratios the last one is far
    above the mean, so z > entry: short BTC, long ETH, 5,000 USDT each (G = 0.5 x 2 x 10,000)."""
    btc = [100.0, 101.0, 100.0, 101.0, 100.0, 110.0]
    market = handmade_market({"BTCUSDT": btc, "ETHUSDT": [50.0] * 6})
    ratio = np.log(np.array(btc[1:]) / 50.0)
    z = (ratio[-1] - ratio.mean()) / ratio.std(ddof=1)
    assert z == pytest.approx(1.7754, abs=1e-4)
    strategy = PairHedge(lookback=5, entry=1.5, exit=0.5)
    targets, _ = replay(strategy, market)
    assert strategy.z_[0, 5] == pytest.approx(z, rel=1e-9)
    np.testing.assert_allclose(targets[-1], [[-5000.0 / 110.0, 5000.0 / 50.0]])
    assert (targets[:-1] == 0).all()  # z is NaN before 5 ratios, and below 1.5 until the jump
    assert targets[-1, 0] @ market.close[-1] == pytest.approx(0.0, abs=1e-9)


def test_beta_neutral_by_hand_from_past_bars_only():
    """ETH log returns b; BTC's are 2 b up to bar 6 and 0.5 b after. With a 4-return window the OLS slope
    is exactly 2 at bar 6 (returns 3..6) and 0.5 at bar 10 (returns 7..10): N_BTC = G / (1 + beta),
    N_ETH = -beta x G / (1 + beta), so beta x N_BTC + N_ETH = 0."""
    b = np.array([0.0, 0.01, -0.02, 0.015, -0.005, 0.02, -0.01, 0.012, -0.018, 0.006, 0.01])
    a = np.where(np.arange(11) <= 6, 2 * b, 0.5 * b)
    btc, eth = 100 * np.exp(np.cumsum(a)), 50 * np.exp(np.cumsum(b))
    market = handmade_market({"BTCUSDT": btc, "ETHUSDT": eth})
    strategy = GivenZ(lookback=2, entry=1.0, exit=0.5, hedge="beta", beta_window=4, given=[-2.0] * 11)
    targets, _ = replay(strategy, market)
    assert strategy.hedge_ratio(6)[0] == pytest.approx(2.0, rel=1e-9)
    assert strategy.hedge_ratio(10)[0] == pytest.approx(0.5, rel=1e-9)
    assert np.isnan(strategy.hedge_ratio(3)[0])  # only 3 returns so far: no beta, no position
    assert (targets[:4] == 0).all()
    for t, beta in ((6, 2.0), (10, 0.5)):  # z = -2 < -entry: long BTC, short ETH
        notional = targets[t, 0] * market.close[t]
        np.testing.assert_allclose(notional, [10_000 / (1 + beta), -beta * 10_000 / (1 + beta)])
        assert beta * notional[0] + notional[1] == pytest.approx(0.0, abs=1e-9)


def test_hysteresis_on_z():
    """entry 2, exit 0.5: z 2.5 shorts the ratio, held at 1.0, out at 0.3; -2.5 longs it, held at -1."""
    market = handmade_market({"BTCUSDT": [100.0] * 6, "ETHUSDT": [50.0] * 6})
    strategy = GivenZ(lookback=2, entry=[2.0, 3.0], exit=0.5, given=[0.0, 2.5, 1.0, 0.3, -2.5, -1.0])
    targets, _ = replay(strategy, market)
    np.testing.assert_array_equal(np.sign(targets[:, 0, 0]), [0, -1, -1, 0, 1, 1])
    np.testing.assert_array_equal(targets[:, 1], 0.0)  # entry 3 is never reached
    np.testing.assert_array_equal(np.sign(targets[:, 0, 1]), -np.sign(targets[:, 0, 0]))


def test_a_gap_keeps_the_legs_at_the_last_close():
    """ETH has no bar 3: the legs stay sized at ETH's last close 50 (5,000 / 50 = 100), not closed."""
    market = handmade_market({"BTCUSDT": [100.0] * 5, "ETHUSDT": [50.0, 50.0, 50.0, float("nan"), 50.0]})
    targets, _ = replay(GivenZ(lookback=2, given=[3.0] * 5), market)
    np.testing.assert_allclose(targets[:, 0], [[-50.0, 100.0]] * 5)


def test_registered_and_checked_from_config():
    strategy = build(
        STRATEGIES["pair"], {"lookback": [24, 48], "hedge": ["dollar", "beta"]}, "strategy.params"
    )
    assert strategy.n_configs == 2 and strategy.describe()["hedge"] == ["dollar", "beta"]
    with pytest.raises(ConfigError, match="hedge"):
        build(STRATEGIES["pair"], {"hedge": "gamma"}, "strategy.params")
    with pytest.raises(ConfigError, match="exit <= entry"):
        PairHedge(entry=1.0, exit=2.0)
