"""Run a simulation on the compiled kernel: check it is covered, pack the inputs, unpack a ``Simulation``.

``simulate_compiled`` takes the reference ``simulate``'s arguments and returns the same ``Simulation``
(series, events, final account, notes). Covered: one sleeve whose budget is the equity; every allocator
rule (band, buffer floor, MUR cap, staged deployment, drawdown stop); the compiled strategies
(``strategies.kernels``) and regimes (``kernel.margin``); both liquidation policies in full mode at
either price rule. Anything else raises ``NotCompiled`` with what the kernel lacks.

Memory: the series are ``S x T x (13 + N)`` floats (``record=False`` keeps one bar per book, for sweeps);
events are written into buffers of at most ``EVENT_BUDGET`` bytes at a time, books in groups.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pmsim.simulator.allocator import Allocator, BufferFloor, MurCap, RebalanceBand
from pmsim.simulator.deployment import DrawdownStop, StagedDeployment
from pmsim.simulator.engine.account import Account
from pmsim.simulator.engine.engine import Costs, ShockProbe, Simulation
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.engine.gaps import DEFERRED, Marks
from pmsim.simulator.engine.policies import AccountWide, LiquidationPolicy, PerPosition, policy_for
from pmsim.simulator.engine.recorder import Recorder
from pmsim.simulator.engine.sleeves import Sleeves
from pmsim.simulator.kernel import loop
from pmsim.simulator.kernel.errors import NotCompiled
from pmsim.simulator.kernel.margin import compile_margin
from pmsim.simulator.margin import stress
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.numeric import zero_nan
from pmsim.simulator.results import SERIES_COLUMNS
from pmsim.strategies.base import Strategy
from pmsim.strategies.kernels import check_compiled

WHERE = (
    "at the open (gapped through)",
    "where equity met MM",
    "at the bar's mark extreme",
)  # policies._where
EVENT_BUDGET = 256 * 2**20  # bytes of event buffers alive at once
NOTES = (
    "",
    DEFERRED,
    "initial margin check",
    "loss beyond the margin, covered by the insurance fund",
    "delivery settlement",
    "buffer_floor",
    "mur_cap",
    "stages",
    "stop_drawdown",
    *(f"full liquidation {where}: equity below MM at a mark corner" for where in WHERE),
    *(f"isolated position below its maintenance margin, closed {where}" for where in WHERE),
)


def simulate_compiled(
    market: Market,
    regime: Regime,
    strategy: Strategy | Sleeves,
    allocator: object,
    wallet: float | np.ndarray,
    costs: Costs | None = None,
    progress: Callable[[int], None] | None = None,
    policy: LiquidationPolicy | None = None,
    probe: ShockProbe | None = None,
    *,
    record: bool = True,
) -> Simulation:
    """``engine.simulate`` on the kernel (same arguments, same result); ``NotCompiled`` if not covered."""
    policy = policy if policy is not None else policy_for(regime)
    costs = costs if costs is not None else Costs()
    sleeve_name, strategy = _single_sleeve(strategy)
    _check_covered(policy)
    rules = _rules(allocator, strategy.n_configs)
    n_bars, n_inst = market.n_bars, len(market.instruments)
    bar_length = np.timedelta64(int(market.bar_seconds * 1000), "ms")
    times = np.asarray(market.times, dtype="datetime64[ms]")
    build = check_compiled(strategy)  # before prepare: a fallback must not prepare twice
    margin = compile_margin(regime, np.concatenate([times, times + bar_length]))
    strategy.prepare(market)
    compiled = build(strategy, market)
    marks = Marks.of(market)
    arrays = _market_arrays(market, marks, margin.slot[:n_bars], margin.slot[n_bars:])
    n_books = strategy.n_configs
    every = probe.every if probe is not None else 0
    settings = loop.Settings(
        float(costs.slippage),
        float(costs.clearance_fee),
        isinstance(policy, PerPosition),
        policy.price == "extreme",
        int(every),
        bool(record),
        int(margin.work_size),
        int(compiled.n_traded),
    )
    wallets = np.ascontiguousarray(np.broadcast_to(np.asarray(wallet, dtype=float), (n_books,)))
    rows = n_bars if record else 1
    series = np.full((n_books, rows, loop.SERIES), np.nan)
    notional = np.zeros((n_books, rows, n_inst))
    shock = loop.Probe(
        np.asarray(probe.direction if probe is not None else np.zeros(n_inst), dtype=float),
        np.linspace(0.0, 1.0, stress.SCAN_POINTS),
        stress.BISECTION_STEPS,
        stress.MAX_UP_SCALE,
    )
    final = np.zeros((n_books, 3, n_inst))
    final_acc = np.zeros((n_books, 6))
    kernel = (
        arrays,
        margin.tables,
        settings,
        rules,
        compiled.data,
        compiled.state,
        wallets,
        series,
        notional,
    )
    probes = (shock, final, final_acc)
    events = _run_in_groups(kernel, probes, n_books, _first_capacity(n_bars, n_inst))
    if progress is not None:
        progress(n_bars)
    account = _account(final, final_acc)
    recorder = _recorder(series, notional, n_bars, n_inst, record)
    notes = _notes(compiled.stop_notes, sleeve_name)
    table = _events(events, notes, sleeve_name, n_books).table(market.times, market.symbols)
    return Simulation(
        recorder.series(market.times if record else market.times[-1:], market.symbols),
        table,
        account,
        (*marks.notes, policy.describe()),
    )


def _say_if_compiling() -> None:
    """One line on a terminal before the first run compiles the kernel (nothing is cached yet)."""
    cache = getattr(getattr(loop.run_books, "_cache", None), "_cache_path", "")  # numba's chosen folder
    if sys.stderr.isatty() and not any(Path(cache or ".").glob("loop.run_books-*.nbi")):
        print(
            "pmsim: compiling the engine's numba kernel, once per install (1-2 minutes; later runs load it)",
            file=sys.stderr,
        )


def _single_sleeve(strategy: Strategy | Sleeves) -> tuple[str, Strategy]:
    if not isinstance(strategy, Sleeves):
        return strategy.name, strategy
    if len(strategy.sleeves) != 1:
        raise NotCompiled(f"{len(strategy.sleeves)} sleeves (the kernel runs one)")
    sleeve = strategy.sleeves[0]
    budget = sleeve.budget
    if budget.kind != "equity" or budget.stages is not None or np.any(np.asarray(budget.fraction) != 1.0):
        raise NotCompiled(f"sleeve {sleeve.name!r} has a budget other than the whole equity")
    return sleeve.name, sleeve.strategy


def _check_covered(policy: LiquidationPolicy) -> None:
    if isinstance(policy, AccountWide) and policy.mode != "full":
        raise NotCompiled(f"{policy.mode} liquidation")
    if not isinstance(policy, AccountWide | PerPosition):
        raise NotCompiled(f"liquidation policy {type(policy).__name__}")


def _rules(allocator: object, n_books: int) -> loop.Rules:
    """The allocator's rules as codes and per-book values (and the one stage table, if any)."""
    if not isinstance(allocator, Allocator):
        raise NotCompiled(f"allocator {type(allocator).__name__}")
    if sum(isinstance(rule, StagedDeployment) for rule in allocator.rules) > 1:
        raise NotCompiled("more than one allocator rule 'stages'")
    kinds, values = [], []
    shares, counts, windows = np.ones((1, 1)), np.ones(n_books), np.ones(n_books)
    for rule in allocator.rules:
        if isinstance(rule, RebalanceBand):
            kind, value = loop.BAND, rule.band
        elif isinstance(rule, BufferFloor):
            kind, value = loop.BUFFER_FLOOR, rule.floor
        elif isinstance(rule, MurCap):
            kind, value = (loop.MUR_HOLD_AT if rule.mode == "hold_at" else loop.MUR_NEW_RISK), rule.cap
        elif isinstance(rule, DrawdownStop):
            kind, value = loop.DRAWDOWN_STOP, rule.max_drawdown
        elif isinstance(rule, StagedDeployment):
            machine = rule.machine_
            kind, value = loop.STAGES, machine.drawdown
            shares, counts, windows = machine.table_, machine.count_, np.asarray(machine.window)
        else:
            raise NotCompiled(f"allocator rule {rule.describe()['rule']!r}")
        kinds.append(kind)
        values.append(np.broadcast_to(np.asarray(value, dtype=float), (n_books,)))
    return loop.Rules(
        np.array(kinds, dtype=np.int64),
        np.array(values, dtype=float).reshape(len(kinds), n_books),
        np.ascontiguousarray(shares, dtype=float),
        np.broadcast_to(counts, (n_books,)).astype(np.int64),
        np.broadcast_to(windows, (n_books,)).astype(np.int64),
    )


def _market_arrays(
    market: Market, marks: Marks, slot_open: np.ndarray, slot_close: np.ndarray
) -> loop.MarketArrays:
    n_bars = market.n_bars
    tradable_next = np.zeros_like(market.listed)
    tradable_next[:-1] = market.listed[1:] | marks.gap[1:]
    expiring = np.zeros(n_bars, dtype=bool)
    expiry_bar = np.asarray(market.expiry_bar, dtype=np.int64)
    expiring[expiry_bar[(expiry_bar >= 0) & (expiry_bar < n_bars)]] = True
    settlement = np.asarray(market.settlement, dtype=float).copy()
    for n in np.flatnonzero(np.isnan(settlement) & (expiry_bar >= 0) & (expiry_bar < n_bars)):
        settlement[n] = market.mark_close[expiry_bar[n], n]
    under = market.underlying_index.astype(np.int64)
    c = np.ascontiguousarray
    return loop.MarketArrays(
        c(zero_nan(market.open)),
        c(market.close, dtype=float),
        c(marks.open),
        c(marks.low),
        c(marks.high),
        c(marks.close),
        c(zero_nan(market.mark_close)),
        c(marks.gap),
        c(market.listed),
        c(market.funding_due),
        c(zero_nan(market.funding_rate)),
        tradable_next,
        np.array([i.taker_fee for i in market.instruments], dtype=float),
        under,
        int(under.max()) + 1 if under.size else 0,
        expiring,
        expiry_bar,
        settlement,
        np.asarray(slot_open, dtype=np.int64),
        np.asarray(slot_close, dtype=np.int64),
    )


def _first_capacity(n_bars: int, n_inst: int) -> int:
    """Events room per book: a fill and a funding payment per instrument per bar, and some to spare."""
    return n_bars * (n_inst + 2)


def _run_in_groups(kernel: tuple, probes: tuple, n_books: int, guess: int) -> list[tuple[int, np.ndarray]]:
    """Run every book, a group at a time within ``EVENT_BUDGET``; rerun a book whose events overflowed."""
    capacity = guess
    group = max(1, min(n_books, EVENT_BUDGET // (capacity * loop.EVENT_FIELDS * 8)))
    counts = np.zeros(n_books, dtype=np.int64)
    state = kernel[5]
    initial = tuple(np.array(a, copy=True) for a in state)
    out: list[tuple[int, np.ndarray]] = []
    for first in range(0, n_books, group):
        books = np.arange(first, min(first + group, n_books), dtype=np.int64)
        buffers = np.zeros((len(books), capacity, loop.EVENT_FIELDS))
        loop.run_books(books, *kernel, buffers, counts, *probes)
        for i, s in enumerate(books):
            if counts[s] > capacity:  # rerun alone with room for every event (books are deterministic)
                for now, before in zip(state, initial, strict=True):
                    now[s] = before[s]
                alone = np.zeros((1, counts[s], loop.EVENT_FIELDS))
                loop.run_books(books[i : i + 1], *kernel, alone, counts, *probes)
                out.append((int(s), alone[0]))
            else:
                out.append((int(s), buffers[i, : counts[s]].copy()))
    return out


def _account(final: np.ndarray, acc: np.ndarray) -> Account:
    return Account(
        qty=final[:, 0].copy(),
        entry=final[:, 1].copy(),
        wallet=acc[:, loop.WALLET].copy(),
        deposits=acc[:, loop.DEPOSITS].copy(),
        realised=acc[:, loop.REALISED].copy(),
        fees=acc[:, loop.FEES].copy(),
        funding=acc[:, loop.FUNDED].copy(),
        bankruptcy_loss=acc[:, loop.BANKRUPT].copy(),
        iso_wallet=final[:, 2].copy(),
    )


def _recorder(series: np.ndarray, notional: np.ndarray, n_bars: int, n_inst: int, record: bool) -> Recorder:
    rows = n_bars if record else 1
    recorder = Recorder(rows, series.shape[0], n_inst)
    for c, name in enumerate(SERIES_COLUMNS):
        recorder.columns[name][:] = series[:, :, c].T
    recorder.notional[:] = notional.transpose(1, 0, 2)
    return recorder


def _notes(stop_notes: tuple[str, ...], sleeve: str) -> tuple[str, ...]:
    return (*NOTES, *(f"{sleeve}: {note}" for note in stop_notes))


def _events(
    events: list[tuple[int, np.ndarray]], notes: tuple[str, ...], sleeve: str, n_books: int
) -> EventLog:
    """One log holding every book's events in the reference's order: bar, step and chunk, book, column."""
    rows = np.concatenate([e for _, e in events]) if events else np.zeros((0, loop.EVENT_FIELDS))
    book = (
        np.concatenate([np.full(len(e), s, dtype=np.int64) for s, e in events])
        if events
        else np.zeros(0, np.int64)
    )
    order = np.lexsort((rows[:, 3], book, rows[:, 1], rows[:, 0]))
    rows, book = rows[order], book[order]
    note = np.asarray(notes, dtype=object)[rows[:, 7].astype(np.int64)]
    kind = rows[:, 2].astype(np.int64)
    log = EventLog()
    log.extend(
        bar=rows[:, 0].astype(np.int64),
        config=book,
        kind=kind,
        column=rows[:, 3].astype(np.int64),
        qty=rows[:, 4],
        price=rows[:, 5],
        amount=rows[:, 6],
        note=note,
        sleeve=np.where(rows[:, 7] >= loop.STOP_NOTE, sleeve, "").astype(object),  # the strategy's stops
    )
    return log
