"""The compiled strategies equal the Python ones: every bar's targets and stop events, book by book.

``decide_row`` runs book by book (all bars of book 0, then book 1, ...) with budgets that vary per bar
and per book, zero and negative included; the reference is ``decide`` on all books at once (``replay``).
"""

from collections.abc import Callable
from dataclasses import dataclass

import numba
import numpy as np
import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st
from pmsim.simulator.kernel.errors import NotCompiled
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies import AdxTrend, BasisCarry, Hold, Strategy
from pmsim.strategies.kernels import CompiledStrategy, compile_strategy, decide_row

from tests.strategies.replay import replay
from tests.strategies.test_adx_trend import GivenLines, flat_market
from tests.strategies.test_no_lookahead import Peeking

SYMBOLS = ("BTCUSDT", "BTCUSDT_240329", "ETHUSDT", "SOLUSDT")  # a dated column among the perpetuals
NAN = float("nan")


@dataclass(frozen=True)
class Bars:
    """Random bars: BTC and the quarterly from bar 0, ETH listed at ``late``, SOL with missing bars."""

    close: dict[str, np.ndarray]
    high: dict[str, np.ndarray]
    low: dict[str, np.ndarray]

    @classmethod
    def draw(cls, seed: int, n_bars: int, late: int) -> "Bars":
        rng = np.random.default_rng(seed)
        drift = np.repeat(rng.normal(0, 0.01, (n_bars // 8 + 1, len(SYMBOLS))), 8, axis=0)[:n_bars]
        close = 100 * np.exp(np.cumsum(drift + rng.normal(0, 0.01, drift.shape), axis=0))
        close[:late, 2] = NAN
        close[rng.random(n_bars) < 0.1, 3] = NAN
        close[0, 3] = 100.0
        up, down = np.abs(rng.normal(0, 0.006, (2, *close.shape)))
        return cls(
            *(
                {s: a[:, k] for k, s in enumerate(SYMBOLS)}
                for a in (close, close * (1 + up), close * (1 - down))
            )
        )

    def market(self, bars: int | None = None) -> Market:
        """The market of the first ``bars`` bars (all by default)."""
        cut = slice(None, bars)
        return handmade_market(
            {s: c[cut] for s, c in self.close.items()},
            high={s: c[cut] for s, c in self.high.items()},
            low={s: c[cut] for s, c in self.low.items()},
        )


def budgets(seed: int, n_bars: int, n_books: int) -> np.ndarray:
    """``[T, S]`` budgets around 10,000, with zeros and negatives (the strategies size against max(b, 0))."""
    rng = np.random.default_rng(seed)
    out = 10_000 * np.exp(rng.normal(0, 0.3, (n_bars, n_books)))
    draw = rng.random((n_bars, n_books))
    return np.where(draw < 0.1, 0.0, np.where(draw < 0.2, -out, out))


def run(compiled: CompiledStrategy, budget: np.ndarray, n_instruments: int, bars: int):
    """``decide_row`` for book 0 over all bars, then book 1, ...: targets ``[bars, S, N]`` and, per bar and
    book, the stops as ``(note, amount)``."""
    n_books, n_traded = budget.shape[1], compiled.n_traded
    targets = np.full((bars, n_books, n_instruments), NAN)
    events = [[[] for _ in range(n_books)] for _ in range(bars)]
    stops = np.full((2 * n_traded, 3), NAN)
    for s in range(n_books):
        for t in range(bars):
            k = decide_row(compiled.data, compiled.state, s, t, budget[t, s], targets[t, s], stops)
            notes = [compiled.stop_notes[int(c) * n_traded + int(j)] for c, j in stops[:k, :2]]
            events[t][s] = [
                (note, round(amount, 12)) for note, amount in zip(notes, stops[:k, 2], strict=True)
            ]
    return targets, events


def per_book(events: list, n_books: int) -> list:
    """``replay``'s events as ``(note, amount)`` per bar and book, in the order they were logged."""
    out = [[[] for _ in range(n_books)] for _ in events]
    for t, drained in enumerate(events):
        for _, books, amounts, note in drained:
            for book, amount in zip(books, np.broadcast_to(amounts, len(books)), strict=True):
                out[t][book].append((note, amount))
    return out


def compiled_for(factory: Callable[[], Strategy], market: Market) -> CompiledStrategy:
    strategy = factory()
    strategy.prepare(market)
    return compile_strategy(strategy, market)


def assert_same_as_reference(factory: Callable[[], Strategy], market: Market, budget: np.ndarray) -> int:
    """Compiled against Python on every bar; returns how many stops the run had (tests ask for some)."""
    targets, events = replay(factory(), market, budget)
    mine, my_events = run(compiled_for(factory, market), budget, len(market.instruments), market.n_bars)
    np.testing.assert_allclose(mine, targets, rtol=1e-12, atol=0.0)
    np.testing.assert_array_equal(mine == 0, targets == 0)
    assert my_events == per_book(events, budget.shape[1])
    return sum(map(len, events))


def adx_factory(params: dict) -> Callable[[], AdxTrend]:
    return lambda: AdxTrend(**params)


@st.composite
def adx_params(draw: st.DrawFn) -> dict:
    """Parameter sets over 1-3 books, stops and hysteresis included, traded symbols perhaps chosen."""
    n = draw(st.integers(1, 3))

    def per_book(values: st.SearchStrategy) -> list:
        return draw(st.lists(values, min_size=n, max_size=n))

    entry = per_book(st.floats(0.0, 60.0))
    stop = st.just(0.0) | st.floats(0.001, 0.05)
    return {
        "window": per_book(st.integers(2, 6)),
        "entry": entry,
        "exit": [max(e - d, 0.0) for e, d in zip(entry, per_book(st.floats(0.0, 20.0)), strict=True)],
        "full_at": [e + d for e, d in zip(entry, per_book(st.floats(0.0, 40.0)), strict=True)],
        "min_size": per_book(st.floats(0.0, 1.0)),
        "fraction": per_book(st.floats(0.0, 1.5)),
        "leverage": per_book(st.floats(0.1, 3.0)),
        "stop_loss": per_book(stop),
        "trailing_stop": per_book(stop),
        "symbols": draw(
            st.none() | st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=4, unique=True).map(tuple)
        ),
    }


@st.composite
def hold_factory(draw: st.DrawFn) -> Callable[[], Hold]:
    """Position or leverage books over 1-3 books (the leverage ones size the late ETH and gappy SOL)."""
    books = draw(
        st.lists(
            st.dictionaries(st.sampled_from(SYMBOLS), st.floats(-3.0, 3.0), min_size=1, max_size=4),
            min_size=1,
            max_size=3,
        )
    )
    key = draw(st.sampled_from(["positions", "leverage"]))
    return lambda: Hold(**{key: books})


@settings(max_examples=40, deadline=None)
@given(
    params=adx_params(),
    seed=st.integers(0, 2**32 - 1),
    n_bars=st.integers(30, 80),
    late=st.integers(0, 40),
)
def test_adx_equals_the_reference_on_every_bar(params, seed, n_bars, late):
    market = Bars.draw(seed, n_bars, late).market()
    budget = budgets(seed, n_bars, len(params["entry"]))
    event(f"stops: {min(assert_same_as_reference(adx_factory(params), market, budget), 3)}")


@settings(max_examples=25, deadline=None)
@given(
    factory=hold_factory(), seed=st.integers(0, 2**32 - 1), n_bars=st.integers(5, 40), late=st.integers(0, 30)
)
def test_hold_equals_the_reference_on_every_bar(factory, seed, n_bars, late):
    market = Bars.draw(seed, n_bars, late).market()
    assert_same_as_reference(factory, market, budgets(seed, n_bars, factory().n_configs))


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n_bars=st.integers(5, 30), seed=st.integers(0, 2**32 - 1))
def test_adx_with_ties_equals_the_reference(data, n_bars, seed):
    """Lines, levels and closes on coarse grids, so ADX meets entry and exit exactly, +DI meets -DI, and a
    loss meets its stop level ((100 - 95) / 100 = 0.05): the comparisons' boundaries are exercised."""

    def series(values: list[float]) -> list[float]:
        return data.draw(st.lists(st.sampled_from(values), min_size=n_bars, max_size=n_bars))

    n = data.draw(st.integers(1, 3), label="books")

    def per_book(values: list[float]) -> list[float]:
        return data.draw(st.lists(st.sampled_from(values), min_size=n, max_size=n))

    lines = (series([0.0, 10.0, 20.0, 25.0, 30.0, 40.0]), series([10.0, 20.0]), series([10.0, 20.0]))
    closes = {s: series([90.0, 95.0, 100.0, 105.0, 110.0]) for s in ("BTCUSDT", "ETHUSDT")}
    entry = per_book([10.0, 20.0, 25.0])
    params = {
        "entry": entry,
        "exit": [e - d for e, d in zip(entry, per_book([0.0, 5.0, 10.0]), strict=True)],
        "full_at": [e + d for e, d in zip(entry, per_book([0.0, 5.0, 20.0]), strict=True)],
        "stop_loss": per_book([0.0, 0.05, 0.1]),
        "trailing_stop": per_book([0.0, 0.05, 0.1]),
    }
    factory = lambda: GivenLines(window=2, given=lines, **params)  # noqa: E731
    assert_same_as_reference(factory, handmade_market(closes), budgets(seed, n_bars, n))


def test_stops_fire_in_the_random_runs():
    """The random comparison does meet stops of both kinds, several at one close among them."""
    params = {"window": [3, 5], "entry": 10.0, "exit": 5.0, "stop_loss": [0.01, 0.0], "trailing_stop": 0.01}
    market = Bars.draw(7, 80, 10).market()
    budget = budgets(7, 80, 2)
    assert assert_same_as_reference(adx_factory(params), market, budget) > 5
    _, events = run(compiled_for(adx_factory(params), market), budget, len(market.instruments), 80)
    notes = {note.split()[0] for bar in events for book in bar for note, _ in book}
    assert notes == {"stop_loss", "trailing_stop"}
    assert max(len(book) for bar in events for book in bar) > 1


def test_a_hold_leverage_book_listed_late_by_hand():
    """Budgets per bar and book. Book 0: BTC 2x at bar 0 = 2 x 10,000 / 100 = 200; ETH -1x at its first
    listed bar 2 = -12,000 / 50 = -240. Book 1: BTC 0.5x at budget -5,000 -> 0 (max(b, 0)), ETH 3x at
    budget 8,000 = 480 contracts. Later budgets resize nothing."""
    market = handmade_market({"BTCUSDT": [100.0, 102.0, 104.0, 106.0], "ETHUSDT": [NAN, NAN, 50.0, 55.0]})
    budget = np.array([[10_000.0, -5_000.0], [11_000.0, 1.0], [12_000.0, 8_000.0], [13_000.0, 9_000.0]])
    factory = lambda: Hold(leverage=[{"BTCUSDT": 2.0, "ETHUSDT": -1.0}, {"BTCUSDT": 0.5, "ETHUSDT": 3.0}])  # noqa: E731
    targets, _ = run(compiled_for(factory, market), budget, 2, 4)
    np.testing.assert_allclose(targets[:, 0], [[200, 0], [200, 0], [200, -240], [200, -240]])
    np.testing.assert_allclose(targets[:, 1], [[0, 0], [0, 0], [0, 480], [0, 480]])
    assert_same_as_reference(factory, market, budget)


def test_conviction_ramp_and_di_side_by_hand():
    """entry 25, full at 45, min_size 0.25, fraction 0.5 x leverage 2 x budget 10,000 at price 100, ADX
    26, 30, 45, 60: c = 0.25 + 0.75 x (ADX - 25) / 20 = 0.2875, 0.4375, 1, 1 -> 28.75, 43.75, 100, 100
    contracts, long while +DI > -DI (book 0), short while -DI > +DI (book 1, the same lines swapped)."""
    adx = [26.0, 30.0, 45.0, 60.0, 60.0]
    ramp = [28.75, 43.75, 100.0, 100.0, 100.0]
    for plus, minus, side in (([30.0] * 5, [10.0] * 5, 1.0), ([10.0] * 5, [30.0] * 5, -1.0)):
        factory = lambda p=plus, m=minus: GivenLines(  # noqa: E731
            window=2, entry=25.0, full_at=45.0, min_size=0.25, given=(adx, p, m)
        )
        targets, events = run(compiled_for(factory, flat_market([100.0] * 5)), np.full((5, 1), 1e4), 1, 5)
        np.testing.assert_allclose(targets[:, 0, 0], side * np.array(ramp), rtol=1e-15)
        assert not any(map(any, events))


def test_stop_rows_by_hand():
    """Two traded columns stopped at one close: stop-losses are logged first, then trailing stops, each in
    column order. Both long from 100. Bar 2: BTC 108 is 8 % above its entry but (120 - 108) / 120 = 10 %
    off its best (trailing 8 %); ETH 94 is 6 % under its entry (stop-loss 5 %). Rows: ETH's stop-loss,
    then BTC's trailing stop."""
    market = handmade_market(
        {"BTCUSDT": [100.0, 120.0, 108.0, 108.0, 108.0], "ETHUSDT": [100.0, 99.0, 94.0, 94.0, 94.0]}
    )
    factory = lambda: GivenLines(  # noqa: E731
        window=2, entry=25.0, stop_loss=0.05, trailing_stop=0.08, given=([40.0] * 5, [30.0] * 5, [10.0] * 5)
    )
    compiled = compiled_for(factory, market)
    assert compiled.stop_notes == (
        "stop_loss BTCUSDT",
        "stop_loss ETHUSDT",
        "trailing_stop BTCUSDT",
        "trailing_stop ETHUSDT",
    )
    _, events = run(compiled, np.full((5, 1), 1e4), 2, 5)
    assert events[2] == [[("stop_loss ETHUSDT", 0.06), ("trailing_stop BTCUSDT", 0.1)]]
    assert not any(map(any, events[:2] + events[3:]))  # blocked: the signal never resets
    assert assert_same_as_reference(factory, market, np.full((5, 1), 1e4)) == 2


def assert_causal(factory: Callable[[], Strategy], bars: Bars, cut: int, budget: np.ndarray) -> None:
    whole, cut_off = bars.market(), bars.market(cut + 1)
    n_inst = len(whole.instruments)
    targets, events = run(compiled_for(factory, whole), budget, n_inst, cut + 1)
    alone, alone_events = run(compiled_for(factory, cut_off), budget[: cut + 1], n_inst, cut + 1)
    np.testing.assert_array_equal(targets, alone)
    assert events == alone_events


@settings(max_examples=25, deadline=None)
@given(params=adx_params(), seed=st.integers(0, 2**32 - 1), late=st.integers(0, 40), data=st.data())
def test_decisions_up_to_c_ignore_the_bars_after_c(params, seed, late, data):
    """Compiled on the market cut after bar c, the decisions at bars 0..c are those of the whole market.

    One bar is left out: an instrument listed ``2 x window`` bars before the end of the cut market has no
    ADX there at all (``adx_lines`` needs more bars), while the whole market has its first ADX at that
    bar, the cut's last; the reference's ``prepare`` does the same.
    """
    longest, n_bars = max(params["window"]), 60
    cut = data.draw(st.integers(2 * longest, n_bars - 2), label="cut")
    assume(all(cut + 1 - late != 2 * w for w in params["window"]))
    assert_causal(
        adx_factory(params), Bars.draw(seed, n_bars, late), cut, budgets(seed, n_bars, len(params["entry"]))
    )


@settings(max_examples=10, deadline=None)
@given(
    factory=hold_factory(), seed=st.integers(0, 2**32 - 1), late=st.integers(0, 30), cut=st.integers(0, 38)
)
def test_hold_decisions_up_to_c_ignore_the_bars_after_c(factory, seed, late, cut):
    assert_causal(factory, Bars.draw(seed, 40, late), cut, budgets(seed, 40, factory().n_configs))


def test_a_strategy_that_peeks_is_caught():
    """The causality check has teeth: an ADX whose lines are one bar ahead fails it for some cut."""
    bars, budget = Bars.draw(3, 60, 0), budgets(3, 60, 1)
    with pytest.raises(AssertionError):
        for cut in range(12, 58, 3):
            assert_causal(lambda: Peeking(window=5, entry=20.0, exit=15.0), bars, cut, budget)


@dataclass(eq=False)
class Contrarian(AdxTrend):
    """Decides its own way: its compiled form would be AdxTrend's, so it has none."""

    def decide(self, view):
        return -super().decide(view)


def test_strategies_without_a_compiled_form_are_refused():
    market = Bars.draw(1, 40, 0).market()
    for strategy, name in ((BasisCarry(underlyings=("BTC",)), "basis"), (Contrarian(window=3), "adx")):
        strategy.prepare(market)
        with pytest.raises(NotCompiled, match=f"strategy '{name}' has no compiled form"):
            compile_strategy(strategy, market)


def test_signals_are_prepare_s_and_state_is_fresh_per_call():
    """The lines are prepare's arrays (not recomputed, O(W x T x J)); each compile starts its own state;
    Hold and ADX data share one numba type (the engine's kernel compiles once for both)."""
    market = Bars.draw(2, 40, 0).market()
    strategy = AdxTrend(window=[3, 5, 3], entry=20.0)
    strategy.prepare(market)
    first, second = compile_strategy(strategy, market), compile_strategy(strategy, market)
    assert np.shares_memory(first.data.adx, strategy.adx_) and first.data.adx.shape == (2, 40, 3)
    assert first.n_traded == 3 and first.data.columns.tolist() == [0, 2, 3]
    assert all(a.shape == (3, 3) for a in first.state[1:]) and first.state.qty.shape == (3, 0)
    run(first, np.full((40, 3), 1e4), len(market.instruments), 40)
    assert (second.state.side == 0).all() and not np.shares_memory(first.state.side, strategy.side_)
    hold = compiled_for(lambda: Hold(leverage={"ETHUSDT": 1.0}), market)
    assert numba.typeof(hold.data) == numba.typeof(first.data)
    assert numba.typeof(hold.state) == numba.typeof(first.state)
