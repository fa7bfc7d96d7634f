"""The conformance suite: every registered regime (and every portfolio preset and mode) passes these.

The engine's liquidation policies use nothing else (``requirements``, ``liquidates``,
``partial_reduction``), so a regime that passes here runs in the engine, isolated included.

Properties are generated with hypothesis over books of the four instruments BTC/ETH perp + quarterly.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin import REGIMES, Regime, make_regime
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


def test_regime_follows_the_protocol(regime):
    assert isinstance(regime, Regime)
    assert regime.liquidates in ("account", "position")


@FAST
@given(qty=QTY)
def test_position_regimes_margin_each_position(regime, marks, when, qty):
    req = regime.requirements(qty, marks, when)
    if regime.liquidates == "position":
        assert req.im_pos is not None and req.mm_pos is not None
        np.testing.assert_allclose(req.mm_pos.sum(axis=-1), req.mm)


@FAST
@given(qty=QTY, share=st.floats(0.0, 1.0), fee_rate=st.sampled_from([0.0, 0.005]))
def test_partial_reduction_only_reduces_and_leaves_a_book_above_mm(regime, marks, when, qty, share, fee_rate):
    # a breaching book: equity a share of its MM; what is kept never grows or flips a position, and
    # unless everything is closed, equity after the clearance fee covers the kept book's MM
    qty = qty * 20
    equity = share * regime.requirements(qty, marks, when).mm
    kept = regime.partial_reduction(qty, marks, equity, when, fee_rate)
    assert kept.shape == qty.shape
    assert np.all(np.abs(kept) <= np.abs(qty) * (1 + 1e-12)) and np.all(kept * qty >= 0)
    fee = fee_rate * (np.abs(qty - kept) * marks).sum(axis=-1)
    after = regime.requirements(kept, marks, when).mm
    closed = ~kept.any(axis=-1)
    assert np.all(closed | (equity - fee >= after * (1 - 1e-9) - 1e-9))
