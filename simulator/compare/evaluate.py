"""One regime judged on the observed book: requirements bar by bar and the liquidations it would force.

Inputs are the reference run's series (equity and wallet are the same in every regime, since the book
is) and the ``RiskState`` of every bar (``observe.py``). Per bar, as the engine does it:
- **would-be liquidation** at the intrabar-risk step: account-wide regimes breach where equity < MM at
  the worst of the 2^U mark corners (``engine.liquidation.worst_corner``); isolated positions where
  their shadow isolated wallet + PnL < their MM at the adverse extreme. A ``would_liquidate`` event marks
  the first bar of each breach (a book or position that stays in breach counts once); ``breach`` marks
  every bar in breach;
- **requirements at the close**: IM, MM, MUR, buffer and free capital of the positions after expiry;
- **stress distance** on the probe's bars (``margin.stress.shock_distance``).
A regime's requirements take one instant (bracket tables and preset versions by date, the roll shock by
time to expiry), so bars are evaluated one at a time, all books of a bar in one call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
from pmsim.simulator.compare.observe import RiskState
from pmsim.simulator.engine.engine import ShockProbe
from pmsim.simulator.engine.gaps import Marks
from pmsim.simulator.engine.liquidation import corner_prices, worst_corner
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.margin.stress import shock_distance
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.metrics import buffer_of, mur_of
from pmsim.simulator.numeric import zero_nan

WOULD = "would_liquidate"
ACCOUNT_NOTE = "{legend} would liquidate the account: equity below MM at a mark corner (not taken)"
POSITION_NOTE = "{legend} would liquidate this isolated position: its margin below MM (not taken)"


@dataclass(frozen=True)
class Judged:
    """A regime's margin columns ``[T, S]`` (``im, mm, mur, buffer, free, shock_distance, breach``)
    and its ``would_liquidate`` events (the columns of ``events.parquet``)."""

    columns: dict[str, np.ndarray]
    events: pd.DataFrame


def judge(
    regime: Regime,
    legend: str,
    iso_label: str | None,
    states: list[RiskState],
    market: Market,
    series: pd.DataFrame,
    probe: ShockProbe | None,
    progress: Callable[[int], None] | None = None,
) -> Judged:
    """Evaluate ``regime`` on the observed ``states`` (``iso_label``: its shadow wallets, if isolated);
    ``progress(1)`` is called after each bar."""
    n_bars, n_configs = market.n_bars, states[0].qty.shape[0]
    equity = series["equity"].to_numpy(dtype=float).reshape(n_bars, n_configs)
    wallet = series["wallet"].to_numpy(dtype=float).reshape(n_bars, n_configs)
    marks, bar = Marks.of(market), np.timedelta64(int(market.bar_seconds * 1000), "ms")
    im, mm, distance = (np.full((n_bars, n_configs), np.nan) for _ in range(3))
    breach = np.zeros((n_bars, n_configs), dtype=bool)
    rows: list[dict[str, object]] = []
    previous: np.ndarray | None = None
    for state in states:
        t = state.bar
        opened, closed = market.times[t], market.times[t] + bar
        if iso_label is not None:
            hit, gap, price = _isolated(regime, state, state.iso_wallets[iso_label], marks, t, opened)
            note = POSITION_NOTE.format(legend=legend)
        else:
            hit, gap, price = _account(regime, state, marks, market.underlying_index, t, opened)
            note = ACCOUNT_NOTE.format(legend=legend)
        onset = hit if previous is None else hit & ~previous
        rows += _onsets(onset, state, gap, price, t, note, account=iso_label is None)
        previous, breach[t] = hit, hit.any(axis=-1)
        qty = np.where(market.expiry_bar == t, 0.0, state.qty)  # expiry settles before the close
        req = regime.requirements(qty, marks.close[t], closed)
        im[t], mm[t] = req.im, req.mm
        if probe is not None and probe.every and t % probe.every == 0:
            distance[t] = shock_distance(
                qty, state.entry, wallet[t], marks.close[t], regime, closed, probe.direction
            )
        if progress is not None:
            progress(1)
    columns = {
        "im": im,
        "mm": mm,
        "mur": mur_of(im, equity),
        "buffer": buffer_of(equity, mm),
        "free": equity - im,
        "shock_distance": distance,
        "breach": breach,
    }
    return Judged(columns, _events(rows, market))


def _account(
    regime: Regime, state: RiskState, marks: Marks, under: np.ndarray, t: int, when: np.datetime64
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(breach ``[S, 1]``, equity - MM at the worst corner ``[S, 1]``, that corner's prices ``[S, N]``)."""
    corners = zero_nan(corner_prices(marks.low[t], marks.high[t], under))
    book = SimpleNamespace(qty=state.qty, entry=state.entry, wallet=state.wallet)
    worst, gap = worst_corner(book, regime, corners, when)  # type: ignore[arg-type]
    hit = (state.qty != 0).any(axis=-1) & (gap < 0)
    return hit[:, None], gap[:, None], corners[worst]


def _isolated(
    regime: Regime, state: RiskState, iso_wallet: np.ndarray, marks: Marks, t: int, when: np.datetime64
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(breach, isolated wallet + PnL - MM, adverse price), all ``[S, N]``, as ``PerPosition`` tests it."""
    qty, entry = state.qty, state.entry
    adverse = zero_nan(np.where(qty > 0, marks.low[t], marks.high[t]))
    mm_pos = regime.requirements(qty, adverse, when).mm_pos
    assert mm_pos is not None, "an isolated regime returns per-position requirements"
    gap = iso_wallet + qty * (adverse - entry) - mm_pos
    return (qty != 0) & (gap < 0), gap, adverse


def _onsets(
    onset: np.ndarray,
    state: RiskState,
    gap: np.ndarray,
    price: np.ndarray,
    t: int,
    note: str,
    account: bool,
) -> list[dict[str, object]]:
    """One event per book (account-wide) or position (isolated) entering breach at bar ``t``."""
    out = []
    for s, n in zip(*np.nonzero(onset), strict=True):
        held = np.flatnonzero(state.qty[s]) if account else np.array([n])
        for column in held:  # what a liquidation would close, at the price it was judged at
            out.append(
                {
                    "bar": t,
                    "config": int(s),
                    "column": int(column),
                    "qty": -float(state.qty[s, column]),
                    "price": float(price[s, column]),
                    "amount": float(gap[s, n]),
                    "note": note,
                }
            )
    return out


def _events(rows: list[dict[str, object]], market: Market) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["bar", "config", "column", "qty", "price", "amount", "note"])
    return pd.DataFrame(
        {
            "time": pd.to_datetime(market.times[frame["bar"].to_numpy(dtype=np.int64)], utc=True),
            "config": frame["config"].astype(np.int64),
            "kind": WOULD,
            "symbol": np.array(market.symbols, dtype=object)[frame["column"].to_numpy(dtype=np.int64)],
            "qty": frame["qty"].astype(float),
            "price": frame["price"].astype(float),
            "amount": frame["amount"].astype(float),
            "note": frame["note"],
        }
    ).astype({"kind": "string", "symbol": "string", "note": "string"})
