"""Liquidation helpers: isolated breach vs price, partial reductions, shock distance, numeric liquidation prices."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pmsim.simulator.margin import (
    cross_liquidation_prices,
    cross_partial_reduction,
    isolated_breach,
    isolated_liquidation_price,
    make_regime,
    pm_partial_reduction,
    shock_distance,
)
from pmsim.simulator.margin.stress import breached, liquidation_prices

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(size=st.floats(0.01, 200).flatmap(lambda x: st.sampled_from([x, -x])), leverage=st.floats(2, 50))
def test_isolated_breach_flips_at_the_liquidation_price(instruments, when, size, leverage):
    regime = make_regime("isolated", instruments)
    tiers = regime.arrays_at(when)
    qty, entry = np.array([[size, 0, 0, 0]]), np.array([[60_000.0, 1, 1, 1]])
    wallet = np.abs(qty) * entry / leverage
    lp = isolated_liquidation_price(qty, entry, wallet, tiers)[0, 0]
    side = np.sign(size)
    inside, beyond = lp * (1 + side * 1e-6), lp * (1 - side * 1e-6)
    assert not isolated_breach(qty, entry, wallet, np.full(4, inside), np.full(4, inside), tiers)[0, 0]
    assert isolated_breach(qty, entry, wallet, np.full(4, beyond), np.full(4, beyond), tiers)[0, 0]


def test_numeric_liquidation_prices_agree_with_binance_formula(instruments, marks, when):
    regime = make_regime("cross", instruments)
    qty = np.array([[3.0, -1.0, 40.0, 0.0], [-2.0, 0.0, 10.0, -5.0]])
    entry, wallet = marks * np.array([1.01, 0.99, 1.02, 1.0]), np.array([25_000.0, 15_000.0])
    formula = cross_liquidation_prices(qty, entry, wallet, marks, regime.arrays_at(when))
    numeric = liquidation_prices(qty, entry, wallet, marks, regime, when)
    np.testing.assert_allclose(numeric, formula, rtol=1e-6)


def test_cross_partial_reduction_steps_down_a_tier_first(instruments, marks, when):
    regime = make_regime("cross", instruments)
    tiers = regime.arrays_at(when)
    # 60 BTC perp = 3.6M notional (tier 3M-12M: 1 %, cum 11,450 -> MM 24,550); equity 22,000 breaches.
    # One tier down caps notional at 3,000,000 (50 BTC): MM 0.65 % x 3M - 950 = 18,550 <= 22,000 -> keep 50 BTC.
    qty = np.array([[60.0, 0, 0, 0], [1.0, 0, 0, 0]])
    after = cross_partial_reduction(qty, marks, np.array([22_000.0, 1_000.0]), tiers)
    np.testing.assert_allclose(after[0], [50.0, 0, 0, 0])
    np.testing.assert_allclose(after[1], qty[1])  # not in breach: untouched
    wiped = cross_partial_reduction(qty[:1], marks, np.array([100.0]), tiers)
    np.testing.assert_allclose(wiped, 0.0)


def test_pm_partial_reduction_restores_im(instruments, marks, when):
    regime = make_regime("portfolio", instruments)
    qty = np.array([[10.0, -10.0, 100.0, 0.0], [1.0, 0, 0, 0]])
    mm = regime.requirements(qty, marks, when).mm
    equity = np.array([mm[0] * 0.9, mm[1] * 3])
    after = pm_partial_reduction(qty, marks, equity, regime, when, fee_rate=0.0005)
    held = qty[0] != 0
    scale = after[0, held] / qty[0, held]
    assert np.allclose(scale, scale[0]) and 0 < scale[0] < 1  # pro rata: the hedge is kept
    assert np.all(after[0, ~held] == 0)
    gross = (np.abs(qty[0]) * marks).sum()
    assert (
        equity[0] - 0.0005 * (1 - scale[0]) * gross
        >= regime.requirements(after[:1], marks, when).im[0] - 1e-6
    )
    np.testing.assert_allclose(after[1], qty[1])


@pytest.mark.parametrize("name", ["cross", "portfolio"])
def test_shock_distance_is_the_first_breach(name, instruments, marks, when):
    regime = make_regime(name, instruments)
    qty = np.array([[2.0, 0, 30.0, 0], [2.0, -2.0, 0, 0], [0.5, 0, 0, 0]])
    entry, wallet = np.broadcast_to(marks, qty.shape), np.array([40_000.0, 30_000.0, 0.0])
    direction = np.array([-0.30, -0.30, -0.35, -0.35])
    scale = shock_distance(qty, entry, wallet, marks, regime, when, direction)
    assert np.isfinite(scale[0]) and 0 < scale[0] < 1
    for s in np.flatnonzero(np.isfinite(scale) & (scale > 0)):
        before, after = marks * (1 + scale[s] * 0.999 * direction), marks * (1 + scale[s] * 1.001 * direction)
        assert not breached(qty[s : s + 1], entry[s : s + 1], wallet[s : s + 1], before, regime, when)[0]
        assert breached(qty[s : s + 1], entry[s : s + 1], wallet[s : s + 1], after, regime, when)[0]
    assert scale[2] == 0.0  # no wallet at all: already in breach
