"""The conformance suite: every registered regime (and every portfolio preset and mode) passes these.

Properties are generated with hypothesis over books of the four instruments BTC/ETH perp + quarterly.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin import REGIMES, make_regime
from pmsim.simulator.margin.presets import preset_names

VARIANTS = [
    ("cross", {}),
    ("isolated", {}),
    ("standard", {}),
    *[("portfolio", {"preset": p}) for p in preset_names("portfolio")],
    ("portfolio", {"cross_underlying": "correlated"}),
    ("portfolio", {"cross_underlying": "correlated", "corr": 1.0}),
    ("portfolio", {"cross_underlying": "span", "credit_rate": 0.5, "preset": "cme"}),
]
IDS = ["-".join([name, *map(str, params.values())]) for name, params in VARIANTS]
QTY = arrays(np.float64, (3, 4), elements=st.floats(-50, 50, allow_subnormal=False))
SCALE = st.floats(1.0, 4.0)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(params=VARIANTS, ids=IDS)
def regime(request, instruments):
    name, params = request.param
    return make_regime(name, instruments, **params)


def test_variants_cover_the_registry():
    assert {name for name, _ in VARIANTS} == set(REGIMES)


def test_unknown_name_lists_the_options(instruments):
    with pytest.raises(ConfigError, match="options are: cross, isolated, portfolio, standard"):
        make_regime("portfolo", instruments)
    with pytest.raises(ConfigError, match="did you mean 'deribit'"):
        make_regime("portfolio", instruments, preset="deribt")


@FAST
@given(qty=QTY)
def test_shapes_follow_inputs(regime, marks, when, qty):
    req = regime.requirements(qty, marks, when)
    assert req.im.shape == req.mm.shape == (3,)
    for per_position in (req.im_pos, req.mm_pos):
        assert per_position is None or per_position.shape == (3, 4)
    batch = regime.requirements(qty, np.broadcast_to(marks, qty.shape), when)  # mark [S, N] as well as [N]
    np.testing.assert_allclose(batch.mm, req.mm, rtol=1e-12)


def test_empty_book_needs_zero(regime, marks, when):
    req = regime.requirements(np.zeros((2, 4)), marks, when)
    assert np.all(req.im == 0) and np.all(req.mm == 0)


@FAST
@given(qty=QTY)
def test_mm_at_most_im_and_nonnegative(regime, marks, when, qty):
    req = regime.requirements(qty, marks, when)
    assert np.all(req.mm >= 0)
    assert np.all(req.mm <= req.im * (1 + 1e-12) + 1e-9)


@FAST
@given(qty=QTY, scale=SCALE)
def test_monotone_in_size(regime, marks, when, qty, scale):
    small, large = regime.requirements(qty, marks, when), regime.requirements(qty * scale, marks, when)
    assert np.all(large.mm >= small.mm * (1 - 1e-12) - 1e-9)
    assert np.all(large.im >= small.im * (1 - 1e-12) - 1e-9)


@FAST
@given(qty=QTY)
def test_sign_flip_symmetry(regime, marks, when, qty):
    if not getattr(regime, "symmetric", True):
        pytest.skip("asymmetric scenario grid (e.g. Deribit's extended moves)")
    np.testing.assert_allclose(
        regime.requirements(-qty, marks, when).mm,
        regime.requirements(qty, marks, when).mm,
        rtol=1e-9,
        atol=1e-9,
    )


@FAST
@given(size=st.floats(-500, 500), column=st.integers(0, 3))
def test_one_position_cross_equals_isolated(instruments, marks, when, size, column):
    qty = np.zeros((1, 4))
    qty[0, column] = size
    cross, isolated = (
        make_regime(n, instruments).requirements(qty, marks, when) for n in ("cross", "isolated")
    )
    np.testing.assert_allclose(cross.mm, isolated.mm)
    np.testing.assert_allclose(cross.im, isolated.im)


@FAST
@given(qty=arrays(np.float64, (3, 2), elements=st.floats(-50, 50)))
def test_one_underlying_span_equals_per_underlying(instruments, marks, when, qty):
    book = np.concatenate([qty, np.zeros((3, 2))], axis=1)  # BTC only: no inter-commodity spread
    plain = make_regime("portfolio", instruments, preset="cme").requirements(book, marks, when)
    span = make_regime("portfolio", instruments, preset="cme", cross_underlying="span", credit_rate=0.7)
    np.testing.assert_allclose(span.requirements(book, marks, when).mm, plain.mm)
