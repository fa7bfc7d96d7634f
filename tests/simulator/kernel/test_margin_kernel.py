"""The compiled margin kernels equal the reference regimes, and agree with hand-worked numbers.

Books are generated with hypothesis over BTC/ETH perpetuals and quarterlies (zeros, both signs, sizes
from one contract to far up the bracket tables, unlisted marks as NaN or 0) at instants spanning
bracket-table changes, preset versions and expiries; every regime, preset and cross-underlying mode
is compiled once and compared with ``regime.requirements`` on the same book.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pmsim.simulator.kernel.errors import NotCompiled
from pmsim.simulator.kernel.margin import CompiledMargin, MarginTables, compile_margin, requirements_row
from pmsim.simulator.margin import make_regime
from pmsim.simulator.margin.brackets import BracketBook
from pmsim.simulator.margin.covariance import EwmaCovariance, matrix_root
from pmsim.simulator.margin.cross import CrossRegime
from pmsim.simulator.margin.portfolio import PortfolioRegime
from pmsim.simulator.margin.presets import load_preset, preset_names
from pmsim.simulator.margin.scenarios import years_to_expiry
from pmsim.simulator.market.handmade import handmade_market
from pmsim.simulator.market.instruments import instrument_for

SYMBOLS = ("BTCUSDT", "BTCUSDT_241227", "ETHUSDT", "ETHUSDT_241227", "BTCUSDT_250328", "ETHUSDT_250328")
INSTRUMENTS = tuple(instrument_for(s) for s in SYMBOLS)
MARKS = np.array([60_000.0, 61_500.0, 2_500.0, 2_560.0, 62_000.0, 2_600.0])
# every 12 hours from before the 2023-12-12 bracket change to after both 2025 preset changes,
# plus the change and expiry instants themselves
INSTANTS = np.unique(
    np.concatenate(
        [
            np.arange(
                np.datetime64("2023-11-20", "ms"), np.datetime64("2025-04-10", "ms"), np.timedelta64(12, "h")
            ),
            np.array(
                ["2023-12-12", "2024-02-03", "2024-05-30", "2024-06-17", "2025-01-06", "2025-01-10"],
                dtype="datetime64[ms]",
            ),
            np.array(["2024-12-27T08:00", "2025-03-28T08:00"], dtype="datetime64[ms]"),
        ]
    )
)
RTOL, ATOL = 1e-12, 1e-9


def ewma_covariance() -> EwmaCovariance:
    """A daily EWMA estimate over the test period: the fallback before 30 bars, then a new matrix a day."""
    rng = np.random.default_rng(7)
    days = len(np.arange(np.datetime64("2023-10-01"), np.datetime64("2025-04-12")))
    closes = {
        "BTCUSDT": (40_000 * np.exp(np.cumsum(rng.normal(0, 0.03, days)))).tolist(),
        "ETHUSDT": (2_000 * np.exp(np.cumsum(rng.normal(0, 0.04, days)))).tolist(),
    }
    market = handmade_market(closes, start="2023-10-01", bar_hours=24)
    return EwmaCovariance.from_market(market, halflife_days=5.0, min_bars=30)


LEVERAGE = np.array([125.0, 20.0, 50.0, 10.0, 75.0, 5.0])
OVERRIDES = {"BTCUSDT": (0.01, 0.0), "ETHUSDT_241227": (0.02, -5.0)}  # a negative cum: MM of an empty one
VARIANTS = {
    "cross": ("cross", {}),
    "cross-lev125": ("cross", {"leverage": 125.0}),
    "cross-overrides": ("cross", {"leverage": 100.0, "overrides": OVERRIDES}),
    "isolated-lev-per-instrument": ("isolated", {"leverage": LEVERAGE}),
    "standard": ("standard", {}),
    **{f"pm-{p}": ("portfolio", {"preset": p}) for p in preset_names("portfolio")},
    **{
        f"pm-{p}-correlated": ("portfolio", {"preset": p, "cross_underlying": "correlated"})
        for p in ("deribit", "okx", "cme")
    },
    "pm-correlated-corr1": ("portfolio", {"cross_underlying": "correlated", "corr": 1.0}),
    "pm-correlated-corr-neg": (
        "portfolio",
        {"cross_underlying": "correlated", "corr": -0.6, "preset": "bybit"},
    ),
    "pm-correlated-2d-995": (
        "portfolio",
        {"cross_underlying": "correlated", "horizon_days": 2.0, "confidence": 0.995},
    ),
    "pm-correlated-ewma": ("portfolio", {"cross_underlying": "correlated", "covariance": "ewma"}),
    "pm-correlated-ewma-corr": (
        "portfolio",
        {"cross_underlying": "correlated", "covariance": "ewma", "corr": 0.3, "preset": "okx"},
    ),
    "pm-span-cme": ("portfolio", {"cross_underlying": "span", "credit_rate": 0.5, "preset": "cme"}),
    "pm-span-okx": ("portfolio", {"cross_underlying": "span", "credit_rate": 0.8, "preset": "okx"}),
    "pm-span-deribit": ("portfolio", {"cross_underlying": "span", "credit_rate": 0.3, "preset": "deribit"}),
    "pm-span-no-credit": (
        "portfolio",
        {"cross_underlying": "span", "credit_rate": 0.5, "corr": 0.0, "preset": "cme"},
    ),
    "pm-per-underlying-corr": ("portfolio", {"corr": 0.5, "preset": "okx"}),
}


@dataclass(frozen=True)
class Case:
    regime: object
    compiled: CompiledMargin


_CASES: dict[str, Case] = {}


def case(name: str) -> Case:
    """The regime of ``VARIANTS[name]`` and its compiled tables (built once per session)."""
    if name not in _CASES:
        kind, params = VARIANTS[name]
        if params.get("covariance") == "ewma":
            params = {**params, "covariance": ewma_covariance()}
        regime = make_regime(kind, INSTRUMENTS, **params)
        _CASES[name] = Case(regime, compile_margin(regime, INSTANTS))
    return _CASES[name]


def compiled_row(c: CompiledMargin, i: int, qty: np.ndarray, mark: np.ndarray):
    n = len(qty)
    im_pos, mm_pos = np.full(n, np.nan), np.full(n, np.nan)
    im, mm = requirements_row(c.tables, c.slot[i], qty, mark, im_pos, mm_pos, np.full(c.work_size, np.nan))
    return im, mm, im_pos, mm_pos


# a size is sign x 10^e contracts: 1e-3 to 1e4 BTC spans every tier of the tables (up to 6e8 USDT)
SIZE = st.one_of(
    st.just(0.0),
    st.builds(
        lambda s, e: s * 10.0**e, st.sampled_from([-1.0, 1.0]), st.floats(-3, 4, allow_subnormal=False)
    ),
)
MARK = st.one_of(st.floats(0.3, 3.0), st.just(np.nan), st.just(0.0))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(VARIANTS)),
    i=st.integers(0, len(INSTANTS) - 1),
    qty=st.lists(SIZE, min_size=len(SYMBOLS), max_size=len(SYMBOLS)),
    scale=st.lists(MARK, min_size=len(SYMBOLS), max_size=len(SYMBOLS)),
)
def test_compiled_equals_reference(name, i, qty, scale):
    c = case(name)
    qty, mark = np.array(qty), MARKS * np.array(scale)
    ref = c.regime.requirements(qty[None], mark[None], INSTANTS[i])
    im, mm, im_pos, mm_pos = compiled_row(c.compiled, i, qty, mark)
    np.testing.assert_allclose([im, mm], [ref.im[0], ref.mm[0]], rtol=RTOL, atol=ATOL)
    assert c.compiled.per_position == (ref.im_pos is not None)
    if c.compiled.per_position:
        np.testing.assert_allclose(im_pos, ref.im_pos[0], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(mm_pos, ref.mm_pos[0], rtol=RTOL, atol=ATOL)
    else:
        assert np.all(im_pos == 0) and np.all(mm_pos == 0)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_on_a_fixed_grid(name):
    """Each variant at every 40th instant on a few fixed books (hypothesis picks variants at random)."""
    c, rng = case(name), np.random.default_rng(3)
    for i in range(0, len(INSTANTS), 40):
        qty = rng.choice([0.0, 1.0, -1.0], len(SYMBOLS)) * 10.0 ** rng.uniform(-3, 4, len(SYMBOLS))
        mark = np.where(rng.random(len(SYMBOLS)) < 0.15, np.nan, MARKS * rng.uniform(0.5, 2.0, len(SYMBOLS)))
        ref = c.regime.requirements(qty[None], mark[None], INSTANTS[i])
        im, mm, *_ = compiled_row(c.compiled, i, qty, mark)
        np.testing.assert_allclose([im, mm], [ref.im[0], ref.mm[0]], rtol=RTOL, atol=ATOL)


def test_notional_on_a_tier_floor_takes_the_upper_tier():
    # BTCUSDT from 2024-05-30: tier 2 is [50,000, 600,000) at 0.5 %, cum 50, 100x. One contract marked
    # at 50,000 sits on the floor: MM 50,000 x 0.5 % - 50 = 200, IM at leverage 125 capped to 100 = 500
    c = case("cross-lev125")
    i = int(np.searchsorted(INSTANTS, np.datetime64("2024-09-27T08:00", "ms")))
    _, _, im_pos, mm_pos = compiled_row(
        c.compiled, i, np.eye(len(SYMBOLS))[0], np.full(len(SYMBOLS), 50_000.0)
    )
    assert (im_pos[0], mm_pos[0]) == (500.0, 200.0)
    # and every floor of every table met equals the reference (the tier search keys are shifted floats)
    for i in np.unique(c.compiled.slot, return_index=True)[1]:
        floors = c.regime.arrays_at(INSTANTS[i]).floor
        for n, b in zip(*np.nonzero(np.isfinite(floors)), strict=True):
            for notional in (floors[n, b], np.nextafter(floors[n, b], 0.0)):
                qty, mark = np.eye(len(SYMBOLS))[n], np.full(len(SYMBOLS), notional)
                ref = c.regime.requirements(qty[None], mark, INSTANTS[i])
                _, _, im_pos, mm_pos = compiled_row(c.compiled, i, qty, mark)
                assert (im_pos[n], mm_pos[n]) == (ref.im_pos[0, n], ref.mm_pos[0, n])


QUARTERS = ("240329", "240628", "240927", "241227", "250328")
WIDE = tuple(instrument_for(f"{pair}_{q}") for pair in ("BTCUSDT", "ETHUSDT") for q in QUARTERS)
OTHER_SETS = {
    # SOL as a third underlying: credit pairs are taken in order and consume the deltas they use
    "three-underlyings": ((*INSTRUMENTS[:4], instrument_for("SOLUSDT")), np.append(MARKS[:4], 150.0)),
    # 12 instruments: numpy sums more than 8 terms pairwise, the kernel in order
    "twelve-instruments": (
        (*INSTRUMENTS[:4:2], *WIDE),
        np.repeat([60_000.0, 2_500.0], 6) * np.linspace(0.98, 1.03, 12),
    ),
}
OTHER_REGIMES = [
    ("cross", {"leverage": 50.0}),
    ("isolated", {}),
    ("standard", {}),
    ("portfolio", {"preset": "deribit"}),
    ("portfolio", {"preset": "okx", "cross_underlying": "span", "credit_rate": 0.4}),
    ("portfolio", {"preset": "cme", "cross_underlying": "span", "credit_rate": 0.7}),
]


OTHER_CASES = [
    (instrument_set, name, params)
    for instrument_set in sorted(OTHER_SETS)
    for name, params in OTHER_REGIMES
    if name == "portfolio" or instrument_set != "three-underlyings"  # no SOL brackets or standard rates
]


@pytest.mark.parametrize(
    ("instrument_set", "name", "params"),
    OTHER_CASES,
    ids=["-".join([c[0], c[1], *map(str, c[2].values())]) for c in OTHER_CASES],
)
def test_other_instrument_sets(instrument_set, name, params):
    instruments, marks = OTHER_SETS[instrument_set]
    regime = make_regime(name, instruments, **params)
    compiled, rng, n = compile_margin(regime, INSTANTS), np.random.default_rng(11), len(instruments)
    for i in rng.integers(0, len(INSTANTS), 200):
        qty = rng.choice([0.0, 1.0, -1.0], n) * 10.0 ** rng.uniform(-2, 3, n)
        ref = regime.requirements(qty[None], marks, INSTANTS[i])
        im, mm, im_pos, mm_pos = compiled_row(compiled, i, qty, marks)
        np.testing.assert_allclose([im, mm], [ref.im[0], ref.mm[0]], rtol=RTOL, atol=ATOL)
        if compiled.per_position:
            np.testing.assert_allclose(mm_pos, ref.mm_pos[0], rtol=RTOL, atol=ATOL)


def test_slots_are_deduplicated():
    cross, standard, pm = case("cross").compiled, case("standard").compiled, case("pm-okx").compiled
    assert (
        cross.tables.tier_key.shape[0] == len(np.unique(cross.slot)) == 4
    )  # 2023-08-01 tables, then 2023-12-12, 2024-02-03, 2024-05-30
    assert standard.tables.rates.shape[0] == 2
    assert pm.tables.pm_tau.shape == (len(INSTANTS), len(SYMBOLS))
    assert case("pm-correlated-corr1").compiled.tables.pm_root.shape[0] == 1  # a fixed covariance: one root


def test_slot_tables_match_the_reference_pieces():
    regime, t = case("pm-correlated-ewma").regime, case("pm-correlated-ewma").compiled
    for i in range(0, len(INSTANTS), 17):
        s = t.slot[i]
        assert t.tables.pm_version[s] == regime.preset.version_at(INSTANTS[i])
        np.testing.assert_array_equal(t.tables.pm_tau[s], years_to_expiry(INSTRUMENTS, INSTANTS[i]))
        cov = regime.covariance.at(INSTANTS[i], regime.underlyings_) * regime.horizon_days
        root = regime.radius_ * matrix_root(cov)
        np.testing.assert_array_equal(t.tables.pm_root[t.tables.pm_cov[s]], root)
    assert t.tables.pm_root.shape[0] > 100  # the estimate changes every day


def test_unsupported_setups_are_not_compiled(brackets_2021):
    class Custom(CrossRegime):
        pass

    with pytest.raises(NotCompiled, match="Custom"):
        compile_margin(Custom(INSTRUMENTS[:1], brackets_2021), INSTANTS)

    class Covariance:
        def at(self, when, underlyings):
            return np.eye(len(underlyings)) * 1e-3

    regime = PortfolioRegime(
        INSTRUMENTS,
        load_preset("portfolio", "deribit"),
        cross_underlying="correlated",
        covariance=Covariance(),
    )
    with pytest.raises(NotCompiled, match="covariance Covariance"):
        compile_margin(regime, INSTANTS)
    with pytest.raises(NotCompiled, match="leverage of shape"):
        compile_margin(CrossRegime(INSTRUMENTS, BracketBook.load(), leverage=np.full((3, 6), 10.0)), INSTANTS)
    with pytest.raises(NotCompiled, match="no instants"):
        compile_margin(case("cross").regime, INSTANTS[:0])


def test_tables_are_one_numba_type():
    """Every regime fills the same NamedTuple, so a caller's kernel compiles once for all of them."""
    import numba

    types = {
        numba.typeof(case(name).compiled.tables)
        for name in ("cross", "standard", "pm-okx", "pm-correlated-ewma")
    }
    assert len(types) == 1 and isinstance(case("cross").compiled.tables, MarginTables)


# ---- hand-worked examples: the compiled kernel against numbers computed on paper -------------------

BTC, ETH = instrument_for("BTCUSDT"), instrument_for("ETHUSDT")
WHEN_2021 = np.datetime64("2021-06-01", "ms")
WHEN_2024 = np.datetime64("2024-09-27T08:00", "ms")


def hand(regime, when, qty, mark):
    c = compile_margin(regime, np.array([when], dtype="datetime64[ms]"))
    return compiled_row(c, 0, np.array(qty, float), np.array(mark, float))


def test_binance_cross_example_by_hand(brackets_2021):
    # Binance's example (margin-rules.md §1.4): BTC 109.488 x 31,967.27 = 3,500,032.46 in tier 1M-5M
    # (2.5 %, cum 16,300, max 20x): MM 71,200.81; ETH 3,683.979 x 1,335.18 = 4,918,775.08 in tier 2M-5M
    # (10 %, cum 135,365, max 5x): MM 356,512.51. IM at leverage 20: 175,001.62 and 4,918,775.08 / 5.
    regime = CrossRegime((BTC, ETH), brackets_2021, leverage=20.0)
    im, mm, im_pos, mm_pos = hand(regime, WHEN_2021, [109.488, -3683.979], [31_967.27, 1_335.18])
    np.testing.assert_allclose(mm_pos, [71_200.81, 356_512.51], atol=0.005)
    np.testing.assert_allclose(im_pos, [175_001.62, 983_755.02], atol=0.005)
    assert mm == pytest.approx(427_713.32, abs=0.01) and im == pytest.approx(1_158_756.64, abs=0.01)


def test_standard_by_hand():
    # Deribit from 2022-01-11: BTC IM rate 2 % + 0.005 % x 10 BTC = 2.05 %, MM 1 % + 0.05 % = 1.05 %
    # of 10 x 60,000 = 600,000: IM 12,300, MM 6,300
    im, mm, im_pos, _ = hand(make_regime("standard", (BTC,)), WHEN_2024, [-10.0], [60_000.0])
    assert (im, mm) == pytest.approx((12_300.0, 6_300.0), rel=1e-12)
    assert im_pos[0] == pytest.approx(12_300.0, rel=1e-12)


def test_okx_portfolio_by_hand():
    # OKX 2024-05-11 version, 1 BTC long at 60,000: worst move -30 % -> 18,000; no dated leg, no basis;
    # minimum charge 0.45 % x 60,000 = 270 in the first band (x1) < 18,000. MM 18,000, IM x 1.25 = 22,500
    im, mm, *_ = hand(
        make_regime("portfolio", (BTC, ETH), preset="okx"), WHEN_2024, [1.0, 0.0], [60_000, 2_500]
    )
    assert (im, mm) == pytest.approx((22_500.0, 18_000.0), rel=1e-12)


def test_deribit_roll_shock_by_hand():
    # Deribit, 1 BTC perpetual long at 60,000: worst -16 % (x1) = 9,600 beats -66 % x 0.24 = 15.84 %;
    # roll shock at the 1 % floor = 600. IM 10,200 (anchor im), MM x 0.8 = 8,160
    im, mm, *_ = hand(make_regime("portfolio", (BTC,)), WHEN_2024, [1.0], [60_000.0])
    assert (im, mm) == pytest.approx((10_200.0, 8_160.0), rel=1e-12)


def test_correlated_single_underlying_by_hand():
    # one underlying: the ellipse is the two points +-z(0.99) x daily vol 3.19 %:
    # 2.3263478740 x 0.0319 x 60,000 = 4,452.63 loss + 600 roll shock = IM 5,052.63, MM 4,042.10
    regime = make_regime("portfolio", (BTC,), cross_underlying="correlated")
    im, mm, *_ = hand(regime, WHEN_2024, [1.0], [60_000.0])
    loss = 2.3263478740408408 * 0.0319 * 60_000 + 600
    assert (im, mm) == pytest.approx((loss, 0.8 * loss), rel=1e-12)
    assert im == pytest.approx(5_052.63, abs=0.01)


def test_span_credit_by_hand():
    # CME, long 1 BTC at 60,000 and short 20 ETH at 3,000: scan risk 43 % of 60,000 = 25,800 each;
    # opposite deltas of 60,000: credit 0.5 x (0.43 + 0.43) x 60,000 = 25,800. MM 25,800, IM x 1.1
    regime = make_regime("portfolio", (BTC, ETH), preset="cme", cross_underlying="span", credit_rate=0.5)
    im, mm, *_ = hand(regime, WHEN_2024, [1.0, -20.0], [60_000.0, 3_000.0])
    assert (im, mm) == pytest.approx((28_380.0, 25_800.0), rel=1e-12)


def test_zero_and_unlisted_marks_need_nothing():
    for name in ("cross", "standard", "pm-deribit", "pm-correlated-ewma", "pm-span-cme"):
        c = case(name).compiled
        im, mm, *_ = compiled_row(
            c, 5, np.array([1.0, 0.0, -3.0, 0.0, 2.0, 0.0]), np.array([np.nan, 0.0] * 3)
        )
        assert (im, mm) == (0.0, 0.0)
