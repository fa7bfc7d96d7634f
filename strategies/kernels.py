"""Compiled strategies for the bar kernel: the signal part precomputed once, the sizing part per book and bar.

``compile_strategy`` runs after ``prepare`` and keeps what prepare computed (ta's ADX lines per distinct
window, the last close): the signal part, causal and computed for all bars. ``decide_row`` is the
state-dependent part for one book at one close, in numba, so the compiled engine calls it inside its bar
loop. It equals the strategy's ``decide`` for that book (tests/strategies/test_kernels.py) and writes the
stops ``drain_events`` would report for it, in the same order. One data type and one state type serve
every kind, so the engine's kernel compiles once for all of them.

Hold's ``sized_`` flag is shared by the books in Python but set at the same bar for all of them, so a
per-book state is the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from pmsim.simulator.kernel.errors import NotCompiled
from pmsim.simulator.kernel.jit import borrowing
from pmsim.simulator.market.arrays import Market
from pmsim.strategies.adx import AdxTrend
from pmsim.strategies.base import Strategy
from pmsim.strategies.hold import Hold

jit = borrowing()
HOLD, ADX = 0, 1  # StrategyData.kind
STOP_NOTES = ("stop_loss", "trailing_stop")  # stop code c of decide_row's rows


class StrategyData(NamedTuple):
    """The inputs of ``decide_row``, read-only views; the fields of the other kinds are empty arrays."""

    kind: int
    # Hold
    book: np.ndarray  # [S, N] the books: quantities, or leverages (notional / budget) sized at size_at
    size_at: np.ndarray  # int64 [N] the bar whose close sizes a leverage book's column (-1: never)
    size_price: np.ndarray  # [N] the close at size_at
    # ADX: signals
    columns: np.ndarray  # int64 [J] traded instrument columns
    adx: np.ndarray  # [W, T, J] ta's ADX per distinct window
    plus_di: np.ndarray  # [W, T, J]
    minus_di: np.ndarray  # [W, T, J]
    price: np.ndarray  # [T, J] last close (a gap carries it)
    # ADX: parameters per book
    window: np.ndarray  # int64 [S] index into W
    entry: np.ndarray  # [S]
    exit: np.ndarray  # [S]
    full_at: np.ndarray  # [S]
    min_size: np.ndarray  # [S]
    fraction: np.ndarray  # [S]
    leverage: np.ndarray  # [S]
    stop_loss: np.ndarray  # [S]
    trailing_stop: np.ndarray  # [S]


class StrategyState(NamedTuple):
    """What ``decide_row`` carries from one close to the next, one row per book."""

    qty: np.ndarray  # Hold [S, N] the targets held
    side: np.ndarray  # ADX [S, J] the side held (+1 / -1 / 0)
    blocked: np.ndarray  # [S, J] a stopped side, not re-entered until the signal resets (0: none)
    entry_price: np.ndarray  # [S, J] the close that decided the entry
    best: np.ndarray  # [S, J] the best close since


@dataclass(frozen=True)
class CompiledStrategy:
    """``stop_notes[c * n_traded + j]`` is the note of stop code c on traded column j."""

    data: StrategyData
    state: StrategyState
    stop_notes: tuple[str, ...]
    n_traded: int


def compile_strategy(strategy: Strategy, market: Market) -> CompiledStrategy:
    """The compiled form of a prepared strategy; ``NotCompiled`` for one that has none."""
    return check_compiled(strategy)(strategy, market)


def check_compiled(strategy: Strategy) -> Callable[[Any, Market], CompiledStrategy]:
    """The builder of ``strategy``'s compiled form, or ``NotCompiled``: callable before ``prepare``, so a
    run that falls back to the reference engine never prepares twice."""
    for cls, methods, build in _FORMS:
        if isinstance(strategy, cls) and all(getattr(type(strategy), m) is getattr(cls, m) for m in methods):
            return build
    raise NotCompiled(f"strategy '{strategy.name}' has no compiled form")


PARAMS = ("entry", "exit", "full_at", "min_size", "fraction", "leverage", "stop_loss", "trailing_stop")
_INTS = ("size_at", "columns", "window")
_NDIM = {"book": 2, "adx": 3, "plus_di": 3, "minus_di": 3, "price": 2}  # the other arrays: 1


def _data(kind: int, **given: np.ndarray) -> StrategyData:
    """The given fields, the others empty; each a read-only C-contiguous view (copied only to convert), so
    every kind has the same numba type."""

    def frozen(name: str) -> np.ndarray:
        value = given.get(name, np.zeros((0,) * _NDIM.get(name, 1)))
        out = np.ascontiguousarray(value, dtype=np.int64 if name in _INTS else np.float64).view()
        out.flags.writeable = False
        return out

    return StrategyData(kind, *(frozen(name) for name in StrategyData._fields[1:]))


def _state(n_books: int, **given: np.ndarray) -> StrategyState:
    """Fresh copies of the given fields, the others ``[S, 0]``."""
    return StrategyState(
        *(
            np.array(given.get(name, np.zeros((n_books, 0))), dtype=np.float64, order="C")
            for name in StrategyState._fields
        )
    )


def _hold(strategy: Hold, market: Market) -> CompiledStrategy:
    due = market.listed & ~strategy.sized_
    size_at = np.where(due.any(axis=0), due.argmax(axis=0), -1)
    size_price = market.close[np.maximum(size_at, 0), np.arange(len(size_at))]  # read only at size_at
    data = _data(HOLD, book=strategy.book_, size_at=size_at, size_price=size_price)
    return CompiledStrategy(data, _state(strategy.n_configs, qty=strategy.targets_), (), 0)


def _adx(strategy: AdxTrend, market: Market) -> CompiledStrategy:
    data = _data(
        ADX,
        columns=strategy.columns_,
        adx=strategy.adx_,
        plus_di=strategy.plus_di_,
        minus_di=strategy.minus_di_,
        price=strategy.price_,
        window=strategy.window_index_,
        **{name: getattr(strategy, f"{name}_") for name in PARAMS},
    )
    state = _state(
        strategy.n_configs,
        side=strategy.side_,
        blocked=strategy.blocked_,
        entry_price=strategy.entry_price_,
        best=strategy.best_,
    )
    notes = tuple(f"{note} {symbol}" for note in STOP_NOTES for symbol in strategy.symbols_)
    return CompiledStrategy(data, state, notes, len(strategy.symbols_))


# a class's compiled form, valid while a subclass keeps the methods its decisions run through
_FORMS = (
    (Hold, ("decide",), _hold),
    (AdxTrend, ("decide", "lines", "conviction", "_stops", "_log"), _adx),
)


@borrowing(inline="always")  # inlined into the bar loop: no arguments pushed
def decide_row(data, state, s, t, budget, out, stops):  # noqa: ANN001, ANN201 - numba types
    """Targets of book ``s`` at the close of bar ``t`` into ``out[N]``; state row ``s`` updated; the stops
    decided at this close as rows ``(code, traded column, amount)`` of ``stops[2J, 3]``, returns how many."""
    if data.kind == HOLD:
        _hold_row(data, state, s, t, budget, out)
        return 0
    return _adx_row(data, state, s, t, budget, out, stops)


@jit
def _hold_row(data, state, s, t, budget, out):  # noqa: ANN001, ANN202
    """``Hold.decide``: a leverage column is sized once, at the close of its first listed bar."""
    held = state.qty[s]
    for n in range(out.size):
        if data.size_at[n] == t:
            qty = data.book[s, n] * _floor0(budget) / data.size_price[n]
            held[n] = qty if np.isfinite(qty) else 0.0
        out[n] = held[n]


@jit
def _adx_row(data, state, s, t, budget, out, stops):  # noqa: ANN001, ANN202
    """``AdxTrend.decide`` and ``_stops`` for one book, column by column (the same operations in the same
    order, so the floats are the reference's); stop-loss rows first, then trailing stops (``_log``)."""
    n_traded = data.columns.size
    w = data.window[s]
    entry, exit_, limit, trail = data.entry[s], data.exit[s], data.stop_loss[s], data.trailing_stop[s]
    span = data.full_at[s] - entry
    min_size = data.min_size[s]
    size = data.fraction[s] * _floor0(budget) * data.leverage[s]
    side_, blocked_, entry_price, best_ = state.side[s], state.blocked[s], state.entry_price[s], state.best[s]
    out[:] = 0.0
    n_loss, n_trail = 0, 0
    for j in range(n_traded):
        adx = data.adx[w, t, j]
        side = _sign(data.plus_di[w, t, j] - data.minus_di[w, t, j])
        price = data.price[t, j]
        # _stops
        held = side_[j]
        best = _fmax(best_[j], price) if held > 0 else _fmin(best_[j], price)
        best_[j] = best
        loss = held * (entry_price[j] - price) / entry_price[j]
        retrace = held * (best - price) / best
        stop = held != 0 and limit > 0 and loss >= limit
        trailing = held != 0 and not stop and trail > 0 and retrace >= trail
        if stop:
            stops[n_loss, 0], stops[n_loss, 1], stops[n_loss, 2] = 0.0, j, loss
            n_loss += 1
        elif trailing:  # parked after the stop-loss rows' room, moved up below
            row = n_traded + n_trail
            stops[row, 0], stops[row, 1], stops[row, 2] = 1.0, j, retrace
            n_trail += 1
        if stop or trailing:
            blocked_[j] = held
            held = 0.0
        # decide
        blocked = 0.0 if adx <= exit_ or side != blocked_[j] else blocked_[j]
        blocked_[j] = blocked
        stay = held != 0 and side == held and adx > exit_  # params.hysteresis
        new = held if stay else (side if adx > entry else 0.0)
        if held == 0 and new == blocked:
            new = 0.0
        ramp = _clip01((adx - entry) / span) if span > 0 else 1.0
        qty = new * (min_size + (1.0 - min_size) * ramp) * size / price
        if np.isnan(qty):
            qty = 0.0
        if qty == 0:
            new = 0.0
        if new != 0 and new != held:
            entry_price[j] = price
            best_[j] = price
        side_[j] = new
        out[data.columns[j]] = qty
    for k in range(n_trail):
        for c in range(3):
            stops[n_loss + k, c] = stops[n_traded + k, c]
    return n_loss + n_trail


@jit
def _floor0(x):  # noqa: ANN001, ANN202
    """``np.maximum(x, 0.0)``: NaN stays NaN."""
    return 0.0 if x < 0.0 else x


@jit
def _sign(x):  # noqa: ANN001, ANN202
    """``np.sign``: NaN stays NaN."""
    if x > 0:
        return 1.0
    if x < 0:
        return -1.0
    return x * 0.0  # 0 for 0, NaN for NaN


@jit
def _fmax(a, b):  # noqa: ANN001, ANN202
    """``np.fmax``: a NaN side loses."""
    if np.isnan(a) or b > a:
        return b
    return a


@jit
def _fmin(a, b):  # noqa: ANN001, ANN202
    """``np.fmin``: a NaN side loses."""
    if np.isnan(a) or b < a:
        return b
    return a


@jit
def _clip01(x):  # noqa: ANN001, ANN202
    """``np.clip(x, 0, 1)``: NaN stays NaN."""
    if x < 0.0:
        return 0.0
    if x > 1.0:
        return 1.0
    return x
