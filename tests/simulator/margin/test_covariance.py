"""The EWMA covariance: worked by hand on a tiny series, blind to bars after t, selectable from a config."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pmsim.simulator.build import build_regime
from pmsim.simulator.config import RegimeConfig
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin.covariance import EwmaCovariance, FixedCovariance
from pmsim.simulator.market.handmade import handmade_market

BTC = [100.0, 110.0, 99.0, 99.0, 120.0, 80.0]
ETH = [10.0, 10.0, 11.0, 12.1, 9.0, 14.0]
DAY = np.timedelta64(1, "D")


def daily_market(btc=BTC, eth=ETH):
    return handmade_market({"BTCUSDT": btc, "ETHUSDT": eth}, start="2024-03-01", bar_hours=24)


def ewma(market, halflife_days=1.0, min_bars=1):
    return EwmaCovariance.from_market(market, halflife_days=halflife_days, min_bars=min_bars)


def test_ewma_by_hand_on_daily_bars():
    # half-life 1 day on daily bars: decay 0.5. At the close of bar 2 the returns r0 (bar 0 -> 1) and
    # r1 (1 -> 2) are known: BTC ln 1.1, ln 0.9; ETH 0, ln 1.1. Weights 0.5 (older) and 1, summing to 1.5;
    # returns are taken as zero-mean (RiskMetrics): var_BTC = (0.5 ln^2 1.1 + ln^2 0.9) / 1.5,
    # var_ETH = (0 + ln^2 1.1) / 1.5, cov = (0.5 x ln 1.1 x 0 + ln 0.9 x ln 1.1) / 1.5
    market = daily_market()
    cov = ewma(market).at(market.times[2] + DAY, ("BTC", "ETH"))
    a, b = math.log(1.1), math.log(0.9)
    expected = np.array([[0.5 * a * a + b * b, b * a], [b * a, a * a]]) / 1.5
    np.testing.assert_allclose(cov, expected, rtol=1e-12)
    # at the close of bar 1 only r0 is known (weight 1): var_BTC = ln^2 1.1, var_ETH = 0
    cov1 = ewma(market).at(market.times[1] + DAY, ("BTC", "ETH"))
    np.testing.assert_allclose(cov1, [[a * a, 0.0], [0.0, 0.0]], atol=1e-15)


def test_ewma_is_daily_whatever_the_bar():
    # the same moves on 12-hour bars: per-bar variance doubles when scaled to a day (x 24 / 12);
    # a half-life of 1 day is 2 bars: decay 0.5^(1/2) per bar
    market = handmade_market({"BTCUSDT": [100.0, 110.0], "ETHUSDT": [10.0, 11.0]}, bar_hours=12)
    estimate = ewma(market)
    assert estimate.lam == pytest.approx(0.5**0.5)
    cov = estimate.at(market.times[1] + np.timedelta64(12, "h"), ("BTC",))
    assert cov[0, 0] == pytest.approx(math.log(1.1) ** 2 * 2)


def test_ewma_never_looks_ahead():
    # changing every close after bar t leaves the covariance at bar t's close (and open) unchanged
    base = daily_market()
    for t in range(1, len(BTC) - 1):
        changed = daily_market(
            BTC[: t + 1] + [500.0] * (len(BTC) - t - 1), ETH[: t + 1] + [1.0] * (len(ETH) - t - 1)
        )
        for when in (base.times[t], base.times[t] + DAY):
            np.testing.assert_array_equal(
                ewma(base).at(when, ("BTC", "ETH")), ewma(changed).at(when, ("BTC", "ETH"))
            )
    # ... while the close of bar t itself does count at its close
    moved = daily_market(BTC[:2] + [50.0] + BTC[3:], ETH)
    assert not np.allclose(
        ewma(base).at(base.times[2] + DAY, ("BTC",)), ewma(moved).at(base.times[2] + DAY, ("BTC",))
    )


def test_ewma_falls_back_until_enough_returns_are_known():
    market = daily_market()
    fixed = FixedCovariance.load().at(market.times[0], ("BTC", "ETH"))
    estimate = ewma(market, min_bars=3)
    np.testing.assert_array_equal(estimate.at(market.times[2] + DAY, ("BTC", "ETH")), fixed)  # 2 known
    assert not np.array_equal(estimate.at(market.times[3] + DAY, ("BTC", "ETH")), fixed)  # 3 known


def test_ewma_is_selectable_from_the_regime_config():
    market = daily_market()
    config = RegimeConfig(
        name="portfolio",
        params={"cross_underlying": "correlated", "covariance": "ewma", "halflife_days": 1.0, "min_bars": 1},
    )
    regime = build_regime(config, market)
    assert regime.describe()["covariance"] == {"kind": "ewma", "decay_per_bar": 0.5, "min_bars": 1}
    # the joint scenarios follow the estimate: at bar 2's close the BTC-only book's worst price loss is
    # z(0.99) x sqrt(var_BTC) x notional (a one-underlying ellipse is a segment), plus the Deribit preset's
    # roll shock on the perpetual, 1 % x 99
    a, b = math.log(1.1), math.log(0.9)
    when = market.times[2] + DAY
    loss = regime.scenario_loss(np.array([[1.0, 0.0]]), np.array([99.0, 11.0]), when)[0]
    price = 2.3263478740 * math.sqrt((0.5 * a * a + b * b) / 1.5) * 99.0
    assert loss == pytest.approx(price + 0.01 * 99.0, rel=1e-4)  # 256 directions: within 0.01 %
    fixed = build_regime(RegimeConfig(name="portfolio", params={"cross_underlying": "correlated"}), market)
    assert fixed.describe()["covariance"]["kind"] == "fixed"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"covariance": "garch"}, "unknown regime.covariance 'garch'"),
        (
            {"covariance": "fixed", "halflife_days": 5},
            "regime.halflife_days needs regime.covariance = 'ewma'",
        ),
        ({"covariance": "ewma", "halflife_days": 0}, "regime.halflife_days must be positive"),
    ],
)
def test_bad_covariance_configs_say_what_to_fix(params, message):
    config = RegimeConfig(name="portfolio", params={"cross_underlying": "correlated", **params})
    with pytest.raises(ConfigError, match=message):
        build_regime(config, daily_market())
