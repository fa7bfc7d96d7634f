"""What PortfolioRegime reuses between calls (instants, recent results, held columns) changes no bit.

The references are regimes that cannot reuse anything: a fresh regime per call, books priced one at a
time (too small for the held-columns path), and a regime whose held-columns path is switched off.
"""

from __future__ import annotations

import numpy as np
import pytest
from pmsim.simulator.margin import make_regime
from pmsim.simulator.margin import portfolio as pm
from pmsim.simulator.margin.base import INSTANTS_KEPT
from pmsim.simulator.margin.presets import preset_names
from pmsim.simulator.market.instruments import instrument_for

MODES = [{"preset": p} for p in preset_names("portfolio")] + [
    {"cross_underlying": "correlated"},
    {"preset": "cme", "cross_underlying": "span", "credit_rate": 0.5},
]
SYMBOLS = ("BTCUSDT", "BTCUSDT_241227", "BTCUSDT_250328", "ETHUSDT", "ETHUSDT_241227", "ETHUSDT_250328")
INSTRUMENTS = tuple(instrument_for(s) for s in SYMBOLS)
MARKS = np.array([60_000.0, 61_500.0, 62_800.0, 2_500.0, 2_560.0, 2_610.0])
WHEN = np.datetime64("2024-09-27T08:00", "ms")
HOUR = np.timedelta64(3_600_000, "ms")


def bits(a: np.ndarray) -> bytes:
    """Every bit of ``a`` (equal floats can still differ: -0.0 and 0.0)."""
    return np.ascontiguousarray(a).tobytes()


def sparse_books(n_books: int, seed: int = 0) -> np.ndarray:
    """Books holding a few of the six instruments; one column never held, some zeros negative."""
    rng = np.random.default_rng(seed)
    qty = rng.normal(0, 3, (n_books, len(SYMBOLS))) * (rng.random((n_books, len(SYMBOLS))) < 0.4)
    qty[:, 2] = 0.0
    qty[: n_books // 2, 4] = -0.0
    return qty


@pytest.mark.parametrize("params", MODES, ids=lambda p: "-".join(str(v) for v in p.values()))
def test_batch_over_held_columns_equals_books_priced_alone(params):
    qty = sparse_books(512)  # 512 x 6 entries: the held-columns path runs
    marks = MARKS * np.exp(np.random.default_rng(1).normal(0, 0.01, qty.shape))
    marks[:, 5] = np.nan  # not listed: priced at 0 (zero_nan)
    batch = make_regime("portfolio", INSTRUMENTS, **params).requirements(qty, marks, WHEN)
    alone = make_regime("portfolio", INSTRUMENTS, **params)
    for s in range(0, len(qty), 37):
        one = alone.requirements(qty[s : s + 1], marks[s : s + 1], WHEN)
        assert bits(one.im) == bits(batch.im[s : s + 1]) and bits(one.mm) == bits(batch.mm[s : s + 1])


@pytest.mark.parametrize("params", MODES, ids=lambda p: "-".join(str(v) for v in p.values()))
def test_held_columns_path_equals_full_products(params, monkeypatch):
    qty = sparse_books(1024).reshape(4, 256, len(SYMBOLS))  # leading dims as the corner scan uses them
    fast = make_regime("portfolio", INSTRUMENTS, **params).requirements(qty, MARKS, WHEN)
    monkeypatch.setattr(pm, "HELD_MIN_ENTRIES", np.inf)
    full = make_regime("portfolio", INSTRUMENTS, **params).requirements(qty, MARKS, WHEN)
    assert bits(fast.im) == bits(full.im) and bits(fast.mm) == bits(full.mm)
    assert (full.mm > 0).sum() > 900  # most books hold something


@pytest.mark.parametrize("params", MODES, ids=lambda p: "-".join(str(v) for v in p.values()))
def test_instants_asked_again_give_what_a_fresh_regime_gives(params):
    regime = make_regime("portfolio", INSTRUMENTS, **params)
    qty = sparse_books(8)
    times = WHEN + np.arange(3 * INSTANTS_KEPT) * HOUR  # more instants than the regime keeps
    first = [regime.requirements(qty, MARKS, t).mm for t in times]
    for t, mm in zip(times[::-7], first[::-7], strict=True):
        again = regime.requirements(qty, MARKS, t).mm
        fresh = make_regime("portfolio", INSTRUMENTS, **params).requirements(qty, MARKS, t).mm
        assert bits(again) == bits(mm) and bits(fresh) == bits(mm)
    # the same instant in days, seconds or ms is one instant
    day = np.datetime64("2024-10-01")
    assert bits(regime.requirements(qty, MARKS, day).mm) == bits(
        make_regime("portfolio", INSTRUMENTS, **params)
        .requirements(qty, MARKS, day.astype("datetime64[s]"))
        .mm
    )


def test_basis_shrinks_with_years_to_expiry_by_hand():
    # OKX MR4: basis move = annualised_move x years to expiry, at least min_move (a [-b, 0, +b] group)
    regime = make_regime("portfolio", INSTRUMENTS, preset="okx")
    expiry = np.datetime64("2024-12-27T08:00", "ms")  # BTCUSDT_241227 settles at 08:00 UTC
    for days in (91.3125, 30.0, 1.0):
        when = expiry - np.timedelta64(int(days * 86_400_000), "ms")
        move, p = regime.scenarios(when).basis[1, 0, 2], regime.params_at(when)
        assert move == pytest.approx(max(p.annualised_move * days / 365.25, p.min_move), rel=1e-12)
        assert regime.scenarios(when).basis[0, 0, 2] == 0.0  # the perpetual does not move


def test_recent_results_follow_the_books_not_the_array_object():
    regime = make_regime("portfolio", INSTRUMENTS)
    qty, marks = sparse_books(4), MARKS.copy()
    before = regime.requirements(qty, marks, WHEN)
    assert regime.requirements(qty.copy(), marks.copy(), WHEN) is before  # the same books: reused
    qty[0, 0] += 1.0  # changed in place: a new result
    marks[3] *= 1.01
    after = regime.requirements(qty, marks, WHEN)
    fresh = make_regime("portfolio", INSTRUMENTS).requirements(qty, marks, WHEN)
    assert bits(after.mm) == bits(fresh.mm) and after.mm[0] != before.mm[0]
    with np.errstate(all="ignore"):  # the same bytes read as integers are other books
        assert regime.requirements(qty.view(np.int64), marks, WHEN) is not after
    with pytest.raises(ValueError):
        before.mm[0] = 0.0  # shared results are read-only
