"""The compiled bar loop: the six steps of ``simulator.engine.engine`` for one book, bars inside.

Books are independent, so ``run_books`` spreads them over cores (``prange``) and each book's state
(a few arrays of length N) stays in cache for the whole history. Every step is a line-by-line port of
the reference (fills.py, account.py, policies.py, liquidation.py, engine.py); the comments name the
reference function each block follows. Sums over instruments use numpy's own orders (``sums.py``), so
a book lands on the same side of a liquidation boundary as in the reference.

Events are written to a per-book buffer as rows ``(bar, key, kind, column, qty, price, amount, note)``;
``key`` orders them within a bar the way the reference appends them (step, then chunk), so sorting by
(bar, key, book, column) gives the reference's table. A book that overflows its buffer keeps counting;
the caller runs it again with room for every event (books are deterministic).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from pmsim.simulator.engine.fills import FIT_STEPS, MIN_ORDER
from pmsim.simulator.engine.liquidation import CROSSING_STEPS
from pmsim.simulator.kernel.jit import borrowing
from pmsim.simulator.kernel.margin import requirements_row
from pmsim.simulator.kernel.sums import einsum_sum, npsum
from pmsim.simulator.results import EVENT_KINDS
from pmsim.strategies.kernels import decide_row

KIND = {kind: code for code, kind in enumerate(EVENT_KINDS)}
FILL, FUNDING, LIQUIDATION, BANKRUPTCY = (
    KIND["fill"],
    KIND["funding"],
    KIND["liquidation"],
    KIND["bankruptcy"],
)
EXPIRY, CUT, REJECTION, STOP = KIND["expiry"], KIND["cut"], KIND["rejection"], KIND["stop"]
STAGE_KIND = KIND["stage"]

# note codes (``run.NOTES`` holds their text); stop notes follow from STOP_NOTE on
NO_NOTE, DEFERRED_NOTE, IM_CHECK_NOTE, BANKRUPTCY_NOTE, EXPIRY_NOTE = 0, 1, 2, 3, 4
BUFFER_FLOOR_NOTE, MUR_CAP_NOTE, STAGES_NOTE, STOP_DRAWDOWN_NOTE = 5, 6, 7, 8
LIQUIDATION_NOTE = 9  # + 3 x per_position + (0 gapped through, 1 where equity met MM, 2 at the extreme)
STOP_NOTE = 15

# order of the reference's chunks within a bar: step x 10,000 + chunk
KEY_DEFERRED, KEY_CUT, KEY_REJECTED, KEY_FILL, KEY_FUNDING = 10_000, 20_000, 20_001, 20_002, 30_000
KEY_LIQUIDATION, KEY_BANKRUPTCY, KEY_EXPIRY, KEY_STOP, KEY_RULE = 40_000, 50_000, 60_000, 70_000, 80_000
# allocator rules (``simulator.allocator``), applied in the config's order
BAND, BUFFER_FLOOR, MUR_NEW_RISK, MUR_HOLD_AT, STAGES, DRAWDOWN_STOP = 0, 1, 2, 3, 4, 5
STAGE, SINCE, STAGE_PEAK, STOP_PEAK, STOPPED = range(5)  # slots of a book's rule state (``deployment.py``)
EVENT_FIELDS = 8
SERIES = 14  # SERIES_COLUMNS, shock_distance last
WALLET, DEPOSITS, REALISED, FEES, FUNDED, BANKRUPT = range(6)  # slots of a book's ``acc`` array


class MarketArrays(NamedTuple):
    """What every book reads: marks as the reference replays them (``gaps.Marks``) and the bar facts."""

    open: np.ndarray  # [T, N] traded open, NaN as 0
    close: np.ndarray  # [T, N] traded close (NaN kept: the strategies read it)
    mark_open: np.ndarray
    mark_low: np.ndarray
    mark_high: np.ndarray
    mark_close: np.ndarray
    raw_mark_close: np.ndarray  # [T, N] the market's own mark close, NaN as 0 (what the allocator sees)
    gap: np.ndarray  # [T, N] bool
    listed: np.ndarray  # [T, N] bool
    funding_due: np.ndarray  # [T, N] bool
    funding_rate: np.ndarray  # [T, N], NaN as 0
    tradable_next: np.ndarray  # [T, N] bool: listed or gapped at t + 1
    taker_fee: np.ndarray  # [N]
    underlying: np.ndarray  # [N] int64
    n_underlyings: int
    expiring: np.ndarray  # [T] bool: some dated future settles at the end of bar t
    expiry_bar: np.ndarray  # [N] int64, -1 for perpetuals
    settlement: np.ndarray  # [N] settlement price (the market's mark close at expiry where none is known)
    slot_open: np.ndarray  # [T] margin table slot at each bar's open
    slot_close: np.ndarray  # [T] ... and at its close


class Probe(NamedTuple):
    """``stress.shock_distance``'s inputs: the joint move ``direction[N]`` and the scan grid ``[G]``."""

    direction: np.ndarray
    grid: np.ndarray  # np.linspace(0, 1, SCAN_POINTS)
    bisections: int
    max_up_scale: float


class Rules(NamedTuple):
    """The allocator's rules in order: a code (BAND ...) and its value per book (band, floor, cap or
    drawdown); staged deployment (at most one such rule) also reads its stage table."""

    kind: np.ndarray  # [R] int64
    value: np.ndarray  # [R, S]
    stage_shares: np.ndarray  # [S, K] each book's shares, padded with its last
    stage_count: np.ndarray  # [S] int64
    stage_window: np.ndarray  # [S] int64


class Settings(NamedTuple):
    slippage: float
    clearance_fee: float
    per_position: bool  # isolated margin (``PerPosition``) rather than account-wide
    extreme: bool  # liquidation_price = "extreme" rather than "threshold"
    probe_every: int  # price the shock probe every this many bars (0: never)
    record: bool  # write every bar's series; False keeps only the last bar (sweeps)
    work_size: int  # the margin kernel's scratch length
    n_traded: int  # J, the instruments the strategy trades (stop notes are indexed by code x J + column)


class Scratch(NamedTuple):
    """Per-book work arrays, allocated once per book (nothing is allocated per bar)."""

    im_pos: np.ndarray  # [N] per-position requirements written by ``requirements_row``
    mm_pos: np.ndarray
    work: np.ndarray  # the margin kernel's scratch
    r: np.ndarray  # [16, N] rows the steps below use as named temporaries
    stops: np.ndarray  # [2 J, 3] the strategy's stop events of one close


jit = borrowing(error_model="numpy")
inlined = borrowing(error_model="numpy", inline="always")  # called once a bar: no arguments pushed


@jit
def sign(x: float) -> float:
    if x > 0:
        return 1.0
    if x < 0:
        return -1.0
    return x  # 0.0 (or NaN), as np.sign


@jit
def zero_nan(x: float) -> float:
    return 0.0 if np.isnan(x) else x


@jit
def copy_to(out, values) -> None:
    """``out[:] = values`` without the temporary copy numba allocates in case the two overlap."""
    for n in range(out.shape[0]):
        out[n] = values[n]


@jit
def event(ev, count, bar, key, kind, column, qty, price, amount, note) -> int:
    if count < ev.shape[0]:
        row = ev[count]
        row[0], row[1], row[2], row[3] = bar, key, kind, column
        row[4], row[5], row[6], row[7] = qty, price, amount, note
    return count + 1


# ----------------------------------------------------------------------------- account (account.py)


@jit
def apply_trades(qty, entry, acc, dq, price, realised) -> None:
    """``account.apply_trades``: average-entry accounting; ``realised[N]`` receives each position's PnL."""
    for n in range(qty.shape[0]):
        q, d, p = qty[n], dq[n], price[n]
        new = q + d
        reducing = q != 0 and sign(d) == -sign(q)
        closed = sign(q) * min(abs(d), abs(q)) if reducing else 0.0
        realised[n] = closed * (zero_nan(p) - entry[n])
        same_side = sign(new) == sign(q) and q != 0
        growing = same_side and abs(new) > abs(q)
        if new == 0:
            e = 0.0
        elif same_side:
            e = (q * entry[n] + d * p) / new if growing else entry[n]
        else:
            e = p
        qty[n] = new
        entry[n] = zero_nan(e)
    pnl = npsum(realised)
    acc[REALISED] += pnl
    acc[WALLET] += pnl


@jit
def apply_fees(acc, fee: float) -> None:
    acc[FEES] += fee
    acc[WALLET] -= fee


@jit
def apply_insurance(qty, acc) -> float:
    """``account.apply_insurance``: a flat account's negative wallet is covered (bankruptcy loss)."""
    for n in range(qty.shape[0]):
        if qty[n] != 0:
            return 0.0
    covered = -acc[WALLET] if acc[WALLET] < 0 else 0.0
    acc[BANKRUPT] += covered
    acc[WALLET] += covered
    return covered


@jit
def upnl(qty, entry, mark, out) -> float:
    for n in range(qty.shape[0]):
        out[n] = qty[n] * (zero_nan(mark[n]) - entry[n])
    return npsum(out)


# ---------------------------------------------------------------------------------- fills (fills.py)


@jit
def margin_of(per_position, mg, slot, book, price, mark, sc) -> float:
    """``BacksMargin.margin_of``: IM at the mark (account-wide) or at the fill price (isolated)."""
    at = price if per_position else mark
    return requirements_row(mg, slot, book, at, sc.im_pos, sc.mm_pos, sc.work)[0]


@jit
def extra(per_position, mg, slot, reduced, increase, scale, price, mark, committed, sc) -> float:
    book = sc.r[7]
    for n in range(book.shape[0]):
        book[n] = reduced[n] + scale * increase[n]
    return margin_of(per_position, mg, slot, book, price, mark, sc) - committed


@jit
def largest_fit(per_position, mg, slot, reduced, increase, price, mark, committed, room, sc) -> float:
    """``fills._largest_fit`` for one book."""
    full = extra(per_position, mg, slot, reduced, increase, 1.0, price, mark, committed, sc)
    if full <= room:
        return 1.0
    scale = room / full
    if np.isnan(scale):
        return scale
    scale = min(max(scale, 0.0), 1.0)
    if (
        0 < scale < 1
        and extra(per_position, mg, slot, reduced, increase, scale, price, mark, committed, sc) > room
    ):
        low, high = 0.0, scale
        for _ in range(FIT_STEPS):
            mid = (low + high) / 2
            if extra(per_position, mg, slot, reduced, increase, mid, price, mark, committed, sc) <= room:
                low = mid
            else:
                high = mid
        scale = low
    return scale


@inlined
def apply_fills(t, m, mg, cs, qty, entry, iso, acc, target, sc, ev, count) -> int:
    """``fills.apply_fills`` then the policy's ``on_fill``; returns the event count."""
    n_inst = qty.shape[0]
    dq, reduce, increase, price, fee = sc.r[0], sc.r[1], sc.r[2], sc.r[3], sc.r[4]
    any_order = False
    for n in range(n_inst):
        d = target[n] - qty[n] if m.listed[t, n] else 0.0
        if abs(d) < MIN_ORDER:
            d = 0.0
        dq[n] = d
        any_order = any_order or d != 0
    if not any_order:
        return count
    before = sc.r[5]
    wants_more = False
    for n in range(n_inst):
        before[n] = qty[n]
        if sign(dq[n]) == -sign(qty[n]):
            reduce[n] = sign(dq[n]) * min(abs(dq[n]), abs(qty[n]))
        else:
            reduce[n] = 0.0
        increase[n] = dq[n] - reduce[n]
        wants_more = wants_more or increase[n] != 0
    slot, mark = m.slot_open[t], m.mark_open[t]
    if wants_more:
        reduced = sc.r[6]
        for n in range(n_inst):
            price[n] = m.open[t, n] * (1 + cs.slippage * sign(dq[n]))
            fee[n] = m.taker_fee[n] * abs(dq[n]) * price[n]
            reduced[n] = qty[n] + reduce[n]
        fee_full = npsum(fee)
        committed = margin_of(cs.per_position, mg, slot, reduced, price, mark, sc)
        room = (
            free_margin(cs.per_position, mg, slot, qty, entry, iso, acc, reduced, price, mark, sc) - fee_full
        )
        scale = largest_fit(cs.per_position, mg, slot, reduced, increase, price, mark, committed, room, sc)
        if 0 < scale < 1:
            count = event(ev, count, t, KEY_CUT, CUT, -1, np.nan, np.nan, scale, IM_CHECK_NOTE)
        elif scale <= 0:
            count = event(ev, count, t, KEY_REJECTED, REJECTION, -1, np.nan, np.nan, 0.0, IM_CHECK_NOTE)
        for n in range(n_inst):
            dq[n] = reduce[n] + scale * increase[n]
    for n in range(n_inst):
        price[n] = m.open[t, n] * (1 + cs.slippage * sign(dq[n]))
        fee[n] = m.taker_fee[n] * abs(dq[n]) * price[n]
    apply_trades(qty, entry, acc, dq, price, sc.r[8])
    apply_fees(acc, npsum(fee))
    for n in range(n_inst):
        if dq[n] != 0:
            count = event(ev, count, t, KEY_FILL, FILL, n, dq[n], price[n], fee[n], NO_NOTE)
    if cs.per_position:
        isolated_on_fill(mg, m.slot_open[t], before, qty, iso, price, fee, sc)
    return count


@jit
def free_margin(per_position, mg, slot, qty, entry, iso, acc, reduced, price, mark, sc) -> float:
    """``BacksMargin.free_margin``: equity - IM kept (account-wide) or the wallet no position holds."""
    if not per_position:
        equity = acc[WALLET] + upnl(qty, entry, mark, sc.r[8])
        return equity - margin_of(False, mg, slot, reduced, price, mark, sc)
    realised, assigned = sc.r[8], sc.r[9]
    for n in range(qty.shape[0]):
        kept = abs(reduced[n]) / abs(qty[n]) if qty[n] != 0 else 0.0
        realised[n] = (qty[n] - reduced[n]) * (zero_nan(price[n]) - entry[n])
        assigned[n] = iso[n] * kept
    return acc[WALLET] + einsum_sum(realised) - einsum_sum(assigned)


@jit
def isolated_on_fill(mg, slot, before, after, iso, price, fee, sc) -> None:
    """``PerPosition.on_fill``: release margin pro rata, top up to the new IM, pay the fees."""
    requirements_row(mg, slot, before, price, sc.im_pos, sc.mm_pos, sc.work)
    im_before = sc.r[9]
    copy_to(im_before, sc.im_pos)
    requirements_row(mg, slot, after, price, sc.im_pos, sc.mm_pos, sc.work)
    for n in range(after.shape[0]):
        same_side = sign(after[n]) == sign(before[n])
        kept = min(abs(after[n]) / abs(before[n]), 1.0) if same_side and before[n] != 0 else 0.0
        grown = max(sc.im_pos[n] - im_before[n], 0.0) if same_side else sc.im_pos[n]
        iso[n] = 0.0 if after[n] == 0 else iso[n] * kept + grown - fee[n]


# ----------------------------------------------------------------------- liquidation (policies.py)


@jit
def gap_account(mg, slot, qty, entry, wallet, begin, end, f, price, sc) -> float:
    """Equity - MM at ``f`` of the way from ``begin`` to ``end`` (``policies._account_threshold.gap``)."""
    diff = sc.r[8]
    for n in range(qty.shape[0]):
        price[n] = begin[n] + f * (end[n] - begin[n])
        diff[n] = qty[n] * (price[n] - entry[n])
    equity = wallet + einsum_sum(diff)
    return equity - requirements_row(mg, slot, qty, price, sc.im_pos, sc.mm_pos, sc.work)[1]


@jit
def crossing_step(lo, hi, g_lo, g_hi, side, g, f):
    """One Illinois step of ``liquidation.crossing`` given ``g = gap(f)``: the new bracket."""
    if g >= 0:
        return f, hi, g, g_hi / 2 if side < 0 else g_hi, -1
    return lo, f, g_lo / 2 if side > 0 else g_lo, g, 1


@jit
def crossing_fraction(lo, hi, g_lo, g_hi) -> float:
    span = g_lo - g_hi
    f = lo + (hi - lo) * (g_lo / span) if span > 0 else lo
    return min(max(f, lo), hi)


@inlined
def liquidate_account(t, m, mg, cs, qty, entry, iso, acc, sc, ev, count) -> tuple[int, bool]:
    """``AccountWide.liquidate`` (full mode) for one book; returns (event count, breached)."""
    n_inst = qty.shape[0]
    held = False
    for n in range(n_inst):
        held = held or qty[n] != 0
    if not held:
        return count, False
    slot = m.slot_open[t]
    corner, best = sc.r[0], sc.r[1]
    qe = sc.r[2]
    for n in range(n_inst):
        qe[n] = qty[n] * entry[n]
    cost = einsum_sum(qe)
    worst_gap = np.inf
    n_corners = 1 << m.n_underlyings
    for c in range(n_corners):
        for n in range(n_inst):
            bit = (c >> (m.n_underlyings - 1 - m.underlying[n])) & 1
            corner[n] = zero_nan(m.mark_high[t, n] if bit else m.mark_low[t, n])
            qe[n] = qty[n] * corner[n]
        equity = acc[WALLET] + (einsum_sum(qe) - cost)
        gap = equity - requirements_row(mg, slot, qty, corner, sc.im_pos, sc.mm_pos, sc.work)[1]
        if gap < worst_gap or c == 0:
            worst_gap = gap
            copy_to(best, corner)
    if not worst_gap < 0:
        return count, False
    price, start = sc.r[3], sc.r[4]
    for n in range(n_inst):
        start[n] = zero_nan(m.mark_open[t, n])
    rank = 2
    if cs.extreme:
        copy_to(price, best)
    else:
        wallet = acc[WALLET]
        at_start = gap_account(mg, slot, qty, entry, wallet, start, best, 0.0, price, sc)
        at_end = gap_account(mg, slot, qty, entry, wallet, start, best, 1.0, price, sc)
        fraction = 0.0
        rank = 0
        if not at_start < 0:
            rank = 1
            lo, hi, g_lo, g_hi, side = 0.0, 1.0, max(at_start, 0.0), min(at_end, 0.0), 0
            for _ in range(CROSSING_STEPS):
                f = crossing_fraction(lo, hi, g_lo, g_hi)
                g = gap_account(mg, slot, qty, entry, wallet, start, best, f, price, sc)
                lo, hi, g_lo, g_hi, side = crossing_step(lo, hi, g_lo, g_hi, side, g, f)
            fraction = lo
        for n in range(n_inst):
            price[n] = start[n] + fraction * (best[n] - start[n])
    closing = sc.r[5]
    for n in range(n_inst):
        closing[n] = -qty[n]
    count = close_at(t, cs, qty, entry, acc, closing, price, sc, ev, count, LIQUIDATION_NOTE + rank, rank)
    covered = apply_insurance(qty, acc)
    if covered > 0:
        count = event(ev, count, t, KEY_BANKRUPTCY, BANKRUPTCY, -1, np.nan, np.nan, covered, BANKRUPTCY_NOTE)
    return count, True


@jit
def close_at(t, cs, qty, entry, acc, closing, price, sc, ev, count, note, rank) -> int:
    """``policies._close_at``: trade ``closing`` at ``price``, charge the clearance fee, log."""
    fee = sc.r[10]
    apply_trades(qty, entry, acc, closing, price, sc.r[8])
    for n in range(qty.shape[0]):
        fee[n] = cs.clearance_fee * abs(closing[n]) * price[n]
    apply_fees(acc, npsum(fee))
    for n in range(qty.shape[0]):
        if closing[n] != 0:
            count = event(
                ev, count, t, KEY_LIQUIDATION + rank, LIQUIDATION, n, closing[n], price[n], fee[n], note
            )
    return count


@jit
def gap_positions(mg, slot, qty, entry, iso, price, out, sc) -> None:
    """[N] isolated wallet + PnL - MM of each position at ``price`` (``PerPosition.liquidate.gap``)."""
    requirements_row(mg, slot, qty, price, sc.im_pos, sc.mm_pos, sc.work)
    for n in range(qty.shape[0]):
        out[n] = iso[n] + qty[n] * (price[n] - entry[n]) - sc.mm_pos[n]


@inlined
def liquidate_positions(t, m, mg, cs, qty, entry, iso, acc, sc, ev, count) -> tuple[int, bool]:
    """``PerPosition.liquidate`` for one book; returns (event count, any position breached)."""
    n_inst = qty.shape[0]
    slot = m.slot_open[t]
    adverse, at_end, breach = sc.r[0], sc.r[1], sc.r[2]
    for n in range(n_inst):
        adverse[n] = zero_nan(m.mark_low[t, n] if qty[n] > 0 else m.mark_high[t, n])
    gap_positions(mg, slot, qty, entry, iso, adverse, at_end, sc)
    any_breach = False
    for n in range(n_inst):
        breach[n] = 1.0 if qty[n] != 0 and at_end[n] < 0 else 0.0
        any_breach = any_breach or breach[n] > 0
    if not any_breach:
        return count, False
    price, rank = sc.r[4], sc.r[3]
    if cs.extreme:
        copy_to(price, adverse)
        rank[:] = 2
    else:
        start, at_start = sc.r[5], sc.r[6]
        for n in range(n_inst):
            start[n] = zero_nan(m.mark_open[t, n])
        gap_positions(mg, slot, qty, entry, iso, start, at_start, sc)
        lo, hi, g_lo, g_hi, side = sc.r[7], sc.r[9], sc.r[11], sc.r[12], sc.r[13]
        for n in range(n_inst):
            lo[n], hi[n], side[n] = 0.0, 1.0, 0.0
            g_lo[n] = max(at_start[n], 0.0) if breach[n] > 0 else 0.0
            g_hi[n] = min(at_end[n] if breach[n] > 0 else -1.0, 0.0)
        trial, g, f = sc.r[14], sc.r[15], sc.r[8]
        for _ in range(CROSSING_STEPS):
            for n in range(n_inst):
                f[n] = crossing_fraction(lo[n], hi[n], g_lo[n], g_hi[n])
                trial[n] = start[n] + f[n] * (adverse[n] - start[n])
            gap_positions(mg, slot, qty, entry, iso, trial, g, sc)
            for n in range(n_inst):
                lo[n], hi[n], g_lo[n], g_hi[n], side[n] = crossing_step(
                    lo[n], hi[n], g_lo[n], g_hi[n], side[n], g[n], f[n]
                )
        for n in range(n_inst):
            gapped = breach[n] > 0 and at_start[n] < 0
            rank[n] = 0 if gapped else 1
            price[n] = start[n] if gapped else start[n] + lo[n] * (adverse[n] - start[n])
    beyond = sc.r[8]  # what each position loses beyond its isolated wallet
    for n in range(n_inst):
        beyond[n] = 0.0
        if breach[n] > 0:
            left = iso[n] + qty[n] * (price[n] - entry[n]) - cs.clearance_fee * abs(qty[n]) * price[n]
            beyond[n] = max(-left, 0.0)
    covered = npsum(beyond)
    closing = sc.r[14]
    for group in range(3):
        hit = False
        for n in range(n_inst):
            closing[n] = -qty[n] if breach[n] > 0 and rank[n] == group else 0.0
            hit = hit or closing[n] != 0
        if hit:
            count = close_at(
                t, cs, qty, entry, acc, closing, price, sc, ev, count, LIQUIDATION_NOTE + 3 + group, group
            )
    for n in range(n_inst):
        if breach[n] > 0:
            iso[n] = 0.0
    acc[WALLET] += covered
    acc[BANKRUPT] += covered
    covered += apply_insurance(qty, acc)
    if covered > 0:
        count = event(ev, count, t, KEY_BANKRUPTCY, BANKRUPTCY, -1, np.nan, np.nan, covered, BANKRUPTCY_NOTE)
    return count, True


# ------------------------------------------------------------------------------ allocator (allocator.py)


@inlined
def limit_new_risk(mg, slot, qty, targets, mark, which, limit, sc) -> tuple[float, bool, float]:
    """``allocator.limit_new_risk`` for one book: scales ``targets`` in place; (kept, wanted, need)."""
    n_inst = qty.shape[0]
    reduce, increase, reduced = sc.r[0], sc.r[1], sc.r[2]
    wanted = False
    for n in range(n_inst):
        d = targets[n] - qty[n]
        reduce[n] = sign(d) * min(abs(d), abs(qty[n])) if sign(d) == -sign(qty[n]) else 0.0
        increase[n] = d - reduce[n]
        reduced[n] = qty[n] + reduce[n]
        wanted = wanted or increase[n] != 0
    need = requirements_row(mg, slot, targets, mark, sc.im_pos, sc.mm_pos, sc.work)[which]
    need_reduced = requirements_row(mg, slot, reduced, mark, sc.im_pos, sc.mm_pos, sc.work)[which]
    kept = 1.0
    if wanted and need > limit and need > need_reduced:
        kept = min(max((limit - need_reduced) / (need - need_reduced), 0.0), 1.0)
    for n in range(n_inst):
        targets[n] = qty[n] + reduce[n] + kept * increase[n]
    return kept, wanted, need


@inlined
def allocate(t, m, mg, rules, s, qty, equity, targets, state, sc, ev, count) -> int:
    """``Allocator.allocate``: each rule in order shapes ``targets`` in place; returns the event count."""
    slot, mark = m.slot_open[t], m.raw_mark_close[t]
    for r in range(rules.kind.shape[0]):
        kind, value = rules.kind[r], rules.value[r, s]
        if kind == STAGES:
            count = stage(t, rules, s, r, equity, targets, state, ev, count)
            continue
        if kind == DRAWDOWN_STOP:
            count = drawdown_stop(t, r, value, equity, targets, state, ev, count)
            continue
        if kind == BAND:
            for n in range(qty.shape[0]):
                if sign(targets[n]) == sign(qty[n]) and abs(targets[n] - qty[n]) <= value * abs(qty[n]):
                    targets[n] = qty[n]
            continue
        floor_at = max(equity, 0.0)
        if kind == MUR_HOLD_AT:
            limit = value * floor_at
            im = requirements_row(mg, slot, targets, mark, sc.im_pos, sc.mm_pos, sc.work)[0]
            kept = limit / im if im > limit else 1.0
            for n in range(qty.shape[0]):
                targets[n] = targets[n] * kept
            wanted, seen, note = False, (im / floor_at if im > 0 else 0.0), MUR_CAP_NOTE
        elif kind == MUR_NEW_RISK:
            kept, wanted, im = limit_new_risk(mg, slot, qty, targets, mark, 0, value * floor_at, sc)
            seen, note = (im / floor_at if im > 0 else 0.0), MUR_CAP_NOTE
        else:
            kept, wanted, mm = limit_new_risk(mg, slot, qty, targets, mark, 1, floor_at / value, sc)
            seen, note = (equity / mm if mm > 0 else np.inf), BUFFER_FLOOR_NOTE
        if wanted and kept <= 0:  # allocator.log_limited
            count = event(ev, count, t, KEY_RULE + 2 * r + 1, REJECTION, -1, 0.0, np.nan, seen, note)
        elif kept < 1:
            count = event(ev, count, t, KEY_RULE + 2 * r, CUT, -1, kept, np.nan, seen, note)
    return count


@jit
def stage(t, rules, s, r, equity, targets, state, ev, count) -> int:
    """``StagedDeployment.apply`` (``Stages.step`` without guards): scale by the book's stage share."""
    if t == 0:
        state[STAGE], state[SINCE], state[STAGE_PEAK] = 0.0, 0.0, equity
    state[STAGE_PEAK] = max(state[STAGE_PEAK], equity)
    peak = state[STAGE_PEAK]
    drawdown = 1 - equity / peak if peak > 0 else 0.0
    stressed = drawdown > rules.value[r, s]
    calm = not stressed and t - state[SINCE] >= rules.stage_window[s]
    up = calm and state[STAGE] < rules.stage_count[s] - 1
    down = stressed and state[STAGE] > 0
    state[STAGE] += (1.0 if up else 0.0) - (1.0 if down else 0.0)
    if up or stressed:
        state[SINCE], state[STAGE_PEAK] = t, equity
    share = rules.stage_shares[s if rules.stage_shares.shape[0] > 1 else 0, int(state[STAGE])]
    if up or down:
        count = event(
            ev, count, t, KEY_RULE + 2 * r, STAGE_KIND, -1, 1.0 if up else -1.0, drawdown, share, STAGES_NOTE
        )
    for n in range(targets.shape[0]):
        targets[n] = targets[n] * share
    return count


@jit
def drawdown_stop(t, r, limit, equity, targets, state, ev, count) -> int:
    """``DrawdownStop.apply``: close the book for good once equity is ``limit`` below its running peak."""
    if t == 0:
        state[STOP_PEAK], state[STOPPED] = equity, 0.0
    state[STOP_PEAK] = max(state[STOP_PEAK], equity)
    if state[STOPPED] == 0 and equity < (1 - limit) * state[STOP_PEAK]:
        state[STOPPED] = 1.0
        drawn = 1 - equity / state[STOP_PEAK]
        count = event(ev, count, t, KEY_RULE + 2 * r, STOP, -1, np.nan, np.nan, drawn, STOP_DRAWDOWN_NOTE)
    if state[STOPPED] > 0:
        for n in range(targets.shape[0]):
            targets[n] = 0.0
    return count


# ------------------------------------------------------------------------------ stress probe (stress.py)


@jit
def breached_at(mg, slot, qty, entry, wallet, mark, direction, scale, sc) -> bool:
    """``stress.breached`` at marks ``mark (1 + scale direction)``."""
    moved, pnl = sc.r[0], sc.r[1]
    for n in range(qty.shape[0]):
        moved[n] = mark[n] * (1 + scale * direction[n])
        pnl[n] = qty[n] * (moved[n] - entry[n])
    equity = wallet + npsum(pnl)
    return equity < requirements_row(mg, slot, qty, moved, sc.im_pos, sc.mm_pos, sc.work)[1]


@jit
def shock_distance(mg, slot, qty, entry, wallet, mark, probe, sc) -> float:
    """``stress.shock_distance`` for one book: scan the grid, then bisect the first breaching step."""
    direction = probe.direction
    falls = -np.inf
    for n in range(direction.shape[0]):
        falls = max(falls, -direction[n])
    top = 0.999 / max(falls, 1e-12) if falls > 0 else probe.max_up_scale
    first = -1
    for g in range(probe.grid.shape[0]):
        if breached_at(mg, slot, qty, entry, wallet, mark, direction, probe.grid[g] * top, sc):
            first = g
            break
    if first < 0:
        return np.inf
    if first == 0:
        return 0.0
    low, high = probe.grid[first - 1] * top, probe.grid[first] * top
    for _ in range(probe.bisections):
        mid = (low + high) / 2
        if breached_at(mg, slot, qty, entry, wallet, mark, direction, mid, sc):
            high = mid
        else:
            low = mid
    return high


# ------------------------------------------------------------------------------- the book, bar by bar


@numba.njit(cache=True, nogil=True, error_model="numpy")
def run_book(s, m, mg, cs, rules, sd, ss, wallet0, series, notional, ev, probe, final, final_acc) -> int:
    """Replay every bar for book ``s``; returns the number of events it produced."""
    n_inst = m.open.shape[1]
    qty, entry, iso, target = np.zeros(n_inst), np.zeros(n_inst), np.zeros(n_inst), np.zeros(n_inst)
    acc, rule_state = np.zeros(6), np.zeros(5)
    acc[WALLET] = acc[DEPOSITS] = wallet0
    sc = Scratch(
        np.zeros(n_inst),
        np.zeros(n_inst),
        np.zeros(cs.work_size),
        np.zeros((16, n_inst)),
        np.zeros((2 * cs.n_traded, 3)),
    )
    book = (qty, entry, iso, target, acc, rule_state)
    count = run_bars(s, m, mg, cs, rules, sd, ss, book, sc, series, notional, ev, probe)
    final[s, 0] = qty
    final[s, 1] = entry
    final[s, 2] = iso
    final_acc[s] = acc
    return count


@jit
def run_bars(s, m, mg, cs, rules, sd, ss, book, sc, series, notional, ev, probe) -> int:
    """The six steps at every bar for book ``s`` with its state ``book`` (allocated by ``run_book``)."""
    qty, entry, iso, target, acc, rule_state = book
    n_bars, n_inst = m.open.shape
    count = 0
    for t in range(n_bars):
        # 1. fills at the open (gapped instruments defer)
        for n in range(n_inst):
            d = target[n] - qty[n]
            if m.gap[t, n] and abs(d) >= MIN_ORDER:
                count = event(ev, count, t, KEY_DEFERRED, REJECTION, n, d, np.nan, 0.0, DEFERRED_NOTE)
        count = apply_fills(t, m, mg, cs, qty, entry, iso, acc, target, sc, ev, count)
        apply_insurance(qty, acc)
        # 2. funding at mark
        paid = sc.r[0]
        due = False
        for n in range(n_inst):
            paid[n] = 0.0
            if m.funding_due[t, n] and qty[n] != 0:
                due = True
                paid[n] = qty[n] * m.mark_open[t, n] * m.funding_rate[t, n]
        if due:
            total = npsum(paid)
            acc[FUNDED] += total
            acc[WALLET] -= total
            for n in range(n_inst):
                if m.funding_due[t, n] and qty[n] != 0:
                    if cs.per_position:
                        iso[n] -= paid[n]
                    count = event(
                        ev, count, t, KEY_FUNDING, FUNDING, n, qty[n], m.mark_open[t, n], paid[n], NO_NOTE
                    )
        # 3. intrabar risk at the mark corners
        if cs.per_position:
            count = liquidate_positions(t, m, mg, cs, qty, entry, iso, acc, sc, ev, count)[0]
        else:
            count = liquidate_account(t, m, mg, cs, qty, entry, iso, acc, sc, ev, count)[0]
        # 4. expiry settlement
        if m.expiring[t]:
            count = settle(t, m, qty, entry, iso, acc, sc, ev, count)
        # 5. mark to market
        mark = m.mark_close[t]
        unrealised = upnl(qty, entry, mark, sc.r[8])
        equity = acc[WALLET] + unrealised
        im, mm = requirements_row(mg, m.slot_close[t], qty, mark, sc.im_pos, sc.mm_pos, sc.work)
        row = t if cs.record else 0
        out = series[s, row]
        out[0], out[1], out[2], out[3], out[4] = equity, acc[WALLET], unrealised, im, mm
        out[5] = (im / equity if equity > 0 else np.inf) if im > 0 else 0.0
        out[6] = equity / mm if mm > 0 else np.inf
        out[7], out[8], out[9], out[10] = equity - im, acc[REALISED], acc[FEES], acc[FUNDED]
        out[11], out[12] = acc[BANKRUPT], acc[DEPOSITS]
        for n in range(n_inst):
            notional[s, row, n] = qty[n] * mark[n]
        out[13] = np.nan
        if cs.probe_every and t % cs.probe_every == 0:
            out[13] = shock_distance(mg, m.slot_close[t], qty, entry, acc[WALLET], mark, probe, sc)
        # 6. decide for the next open (one sleeve whose budget is the equity), then the allocator
        if t + 1 < n_bars:
            stops = decide_row(sd, ss, s, t, equity, target, sc.stops)
            for n in range(n_inst):
                if not m.tradable_next[t, n]:
                    target[n] = 0.0
            for k in range(stops):
                code, column = int(sc.stops[k, 0]), int(sc.stops[k, 1])
                which = code * cs.n_traded + column
                note = STOP_NOTE + which
                count = event(ev, count, t, KEY_STOP + which, STOP, -1, np.nan, np.nan, sc.stops[k, 2], note)
            count = allocate(t, m, mg, rules, s, qty, equity, target, rule_state, sc, ev, count)
    return count


@inlined
def settle(t, m, qty, entry, iso, acc, sc, ev, count) -> int:
    """``engine._settle``: dated futures whose last bar this is close at their settlement price."""
    n_inst = qty.shape[0]
    closing, price = sc.r[0], sc.r[1]
    held = False
    for n in range(n_inst):
        closing[n], price[n] = 0.0, 0.0
        if m.expiry_bar[n] == t:
            price[n] = m.settlement[n]
            closing[n] = -qty[n]
            held = held or closing[n] != 0
    if not held:
        return count
    realised = sc.r[2]
    apply_trades(qty, entry, acc, closing, price, realised)
    for n in range(n_inst):
        if m.expiry_bar[n] == t:
            iso[n] = 0.0
        if closing[n] != 0:
            count = event(ev, count, t, KEY_EXPIRY, EXPIRY, n, closing[n], price[n], realised[n], EXPIRY_NOTE)
    apply_insurance(qty, acc)
    return count


@numba.njit(cache=True, parallel=True)
def run_books(
    books, m, mg, cs, rules, sd, ss, wallet, series, notional, ev, counts, probe, final, final_acc
) -> None:
    """Run the books listed in ``books`` (one per core at a time); ``counts[s]`` gets each one's events."""
    for i in numba.prange(books.shape[0]):
        s = books[i]
        out = (series, notional, ev[i], probe, final, final_acc)
        counts[s] = run_book(s, m, mg, cs, rules, sd, ss, wallet[s], *out)
