"""Portfolio-margin properties: subadditivity, correlation monotonicity, and naive scalar references."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pmsim.simulator.margin import make_regime
from pmsim.simulator.margin.covariance import FixedCovariance, with_correlation
from pmsim.simulator.margin.presets import preset_names

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
BOOK = arrays(np.float64, (4,), elements=st.floats(-20, 20))
MODES = [{"preset": p} for p in preset_names("portfolio")] + [{"cross_underlying": "correlated"}]


@pytest.mark.parametrize("params", MODES, ids=lambda p: "-".join(p.values()))
@FAST
@given(a=BOOK, b=BOOK)
def test_scenario_part_is_subadditive(params, instruments, marks, when, a, b):
    regime = make_regime("portfolio", instruments, **params)
    together = regime.scenario_loss((a + b)[None], marks, when)
    apart = regime.scenario_loss(a[None], marks, when) + regime.scenario_loss(b[None], marks, when)
    assert together[0] <= apart[0] * (1 + 1e-12) + 1e-9


@pytest.mark.parametrize("preset", preset_names("portfolio"))
def test_perp_quarterly_hedge_strictly_cheaper_than_its_legs(preset, instruments, marks, when):
    regime = make_regime("portfolio", instruments, preset=preset)
    perp, quarterly = np.array([[5.0, 0, 0, 0]]), np.array([[0, -5.0, 0, 0]])
    hedge = regime.scenario_loss(perp + quarterly, marks, when)[0]
    assert (
        0
        < hedge
        < regime.scenario_loss(perp, marks, when)[0] + regime.scenario_loss(quarterly, marks, when)[0]
    )


def test_hedge_is_not_riskless(instruments, marks, when):
    # the basis shock keeps a perp/quarterly book from needing nothing
    req = make_regime("portfolio", instruments).requirements(
        np.array([[1.0, -60_000 / 61_500, 0, 0]]), marks, when
    )
    assert req.mm[0] > 0.01 * 60_000


@FAST
@given(btc=st.floats(0.1, 20), ratio=st.floats(0.25, 4), rho=st.floats(-0.9, 0.8), step=st.floats(0.05, 0.2))
def test_correlated_mode_monotone_in_correlation(instruments, marks, when, btc, ratio, rho, step):
    def mm(qty, corr):
        regime = make_regime("portfolio", instruments, cross_underlying="correlated", corr=corr)
        return regime.requirements(qty, marks, when).mm[0]

    eth = btc * ratio * 60_000 / 2_500  # ETH notional = ratio x BTC notional
    longs, pair = np.array([[btc, 0, eth, 0]]), np.array([[btc, 0, -eth, 0]])
    assert mm(longs, rho + step) > mm(longs, rho)  # diversification shrinks as correlation rises
    assert mm(pair, rho + step) < mm(pair, rho)  # and the long/short hedge improves


def test_correlation_overlays_bracket_the_estimate(instruments, marks, when):
    longs, pair = np.array([[2.0, 0, 30.0, 0]]), np.array([[2.0, 0, -30.0, 0]])

    def mm(qty, corr=None):
        return (
            make_regime("portfolio", instruments, cross_underlying="correlated", corr=corr)
            .requirements(qty, marks, when)
            .mm[0]
        )

    assert mm(longs, 0.0) < mm(longs) < mm(longs, 1.0)
    assert mm(pair, 1.0) < mm(pair) < mm(pair, 0.0) < mm(pair, -0.5)


def naive_per_underlying(regime, qty, mark, when):
    """Loops over books, underlyings, scenarios and instruments, straight from the preset's numbers."""
    p = regime.params_at(when)
    out = np.zeros(len(qty))
    for s in range(len(qty)):
        total = 0.0
        for underlying in regime.underlyings_:
            price_worst, basis_worst, gross, long, short = 0.0, 0.0, 0.0, 0.0, 0.0
            for move, weight in zip(p.price_moves, p.price_weights, strict=True):
                pnl = 0.0
                for n, inst in enumerate(regime.instruments):
                    if inst.underlying == underlying:
                        pnl += qty[s, n] * mark[n] * move * weight
                price_worst = max(price_worst, -pnl)
            for sign in (-1.0, 1.0):
                pnl, roll = 0.0, 0.0
                for n, inst in enumerate(regime.instruments):
                    if inst.underlying != underlying:
                        continue
                    years = (
                        (inst.expiry - when) / np.timedelta64(1, "ms") / 86_400_000 / 365.25
                        if inst.is_dated
                        else 0
                    )
                    size = max(p.annualised_move * max(years, 0), p.min_move)
                    roll += abs(qty[s, n] * mark[n]) * size  # Deribit: every leg, no netting
                    if inst.is_dated:
                        pnl += qty[s, n] * mark[n] * sign * size
                basis_worst = roll if p.gross_basis else max(basis_worst, -pnl)
            for n, inst in enumerate(regime.instruments):
                if inst.underlying == underlying:
                    value = qty[s, n] * mark[n]
                    gross += abs(value)
                    long, short = long + max(value, 0), short + max(-value, 0)
            raw, charge, floor = p.charge_rate * gross, 0.0, list(p.charge_floors) + [math.inf]
            for k, multiplier in enumerate(p.charge_multipliers):
                charge += multiplier * min(max(raw - floor[k], 0.0), floor[k + 1] - floor[k])
            unit = price_worst + basis_worst + p.contingency_rate * gross + p.calendar_rate * min(long, short)
            total += max(unit, charge)
        out[s] = total
    return out


@pytest.mark.parametrize("preset", preset_names("portfolio"))
@FAST
@given(qty=arrays(np.float64, (3, 4), elements=st.floats(-30, 30)))
def test_vectorised_matches_naive_reference(preset, instruments, marks, when, qty):
    regime = make_regime("portfolio", instruments, preset=preset)
    req = regime.requirements(qty, marks, when)
    loss = naive_per_underlying(regime, qty, marks, when)
    factor = {"deribit": 0.8, "okx": 1.25, "bybit": 1.25, "cme": 1.1}[preset]  # from each preset's source
    anchored, derived = (req.im, req.mm) if preset == "deribit" else (req.mm, req.im)
    np.testing.assert_allclose(anchored, loss, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(derived, factor * loss, rtol=1e-9, atol=1e-6)


@FAST
@given(qty=arrays(np.float64, (3, 4), elements=st.floats(-30, 30)), rho=st.floats(-0.95, 0.95))
def test_correlated_matches_closed_form(instruments, marks, when, qty, rho):
    # worst loss of a linear book on the ellipse z' inv(C) z = c^2 is c sqrt(a' C a) (a = net delta per underlying)
    regime = make_regime("portfolio", instruments, cross_underlying="correlated", corr=rho)
    cov = with_correlation(FixedCovariance.load().at(when, ("BTC", "ETH")), rho)
    c = NormalDist().inv_cdf(0.99)
    signed = qty * marks
    delta = np.stack([signed[:, 0] + signed[:, 1], signed[:, 2] + signed[:, 3]], axis=1)
    exact = c * np.sqrt(np.einsum("su,uv,sv->s", delta, cov, delta))
    joint = regime.scenarios(when).worst(signed)[0][:, 0]
    assert np.all(joint <= exact * (1 + 1e-9) + 1e-9)
    assert np.all(joint >= exact * (1 - 1e-4) - 1e-9)
