"""The what-if calculator behind ``pmsim margin`` and ``pmsim stress``: a book in, a JSON-ready dict out.

It builds the regime named by the CLI (or the book), values the book at its marks, and reports
equity, IM, MM and per-position MM and liquidation prices: Binance's formulas for ``cross`` and
``isolated``, a scan-and-bisect search for the others. No printing here; ``cli.py`` formats.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin import make_regime
from pmsim.simulator.margin.base import Regime
from pmsim.simulator.margin.book import Book
from pmsim.simulator.margin.cross import TieredRegime, cross_liquidation_prices
from pmsim.simulator.margin.isolated import isolated_liquidation_price
from pmsim.simulator.margin.stress import breached, liquidation_prices, shock_distance

DEFAULT_REGIME = "cross"
PRESET_REGIMES = ("portfolio", "standard")


def build_regime(book: Book, name: str | None, preset: str | None, **params: Any) -> tuple[str, Regime]:
    """The regime the command line (first) or the book names, with the book's bracket settings."""
    name = name or book.regime or DEFAULT_REGIME
    preset = preset or book.preset
    params = {k: v for k, v in params.items() if v is not None}
    if name in PRESET_REGIMES:
        if preset:
            params["preset"] = preset
    elif preset or params:
        given = ", ".join(["preset"] * bool(preset) + sorted(params))
        raise ConfigError(f"regime {name!r} takes no {given} (only {', '.join(PRESET_REGIMES)} do)")
    elif name in ("cross", "isolated"):
        params = {"leverage": book.leverage, "overrides": book.overrides}
    return name, make_regime(name, book.instruments, **params)


def margin_report(book: Book, name: str, regime: Regime) -> dict[str, Any]:
    """Equity, requirements and per-position MM / liquidation price of the book under ``regime``."""
    qty, entry, mark, when = book.qty, book.entry, book.mark[0], book.as_of
    wallet = np.array([book.wallet])
    req = regime.requirements(qty, mark, when)
    equity = float(book.wallet + (qty * (mark - entry)).sum())
    alone = regime.requirements(np.diag(qty[0]), mark, when).mm  # each position as a book of its own
    if isinstance(regime, TieredRegime) and name == "isolated":
        iso_wallet = np.where(
            np.isnan(book.isolated_wallet),
            regime.position_requirements(qty, entry, when)[0],
            book.isolated_wallet,
        )
        liq = isolated_liquidation_price(qty, entry, iso_wallet, regime.arrays_at(when))
    elif isinstance(regime, TieredRegime):
        liq = cross_liquidation_prices(qty, entry, wallet, mark, regime.arrays_at(when))
    else:
        liq = liquidation_prices(qty, entry, wallet, mark, regime, when)
    mm_pos = req.mm_pos[0] if req.mm_pos is not None else [None] * len(book.instruments)
    positions = [
        {
            "symbol": inst.symbol,
            "qty": float(qty[0, n]),
            "entry": float(entry[0, n]),
            "mark": float(mark[n]),
            "upnl": float(qty[0, n] * (mark[n] - entry[0, n])),
            "mm": None if mm_pos[n] is None else float(mm_pos[n]),
            "mm_alone": float(alone[n]),
            "liquidation_price": None if np.isnan(liq[0, n]) else float(liq[0, n]),
        }
        for n, inst in enumerate(book.instruments)
    ]
    mm, im = float(req.mm[0]), float(req.im[0])
    return {
        "book": str(book.path),
        "regime": name,
        "parameters": regime.describe(),
        "as_of": str(when),
        "wallet": book.wallet,
        "equity": equity,
        "im": im,
        "mm": mm,
        "margin_ratio": mm / equity if equity > 0 else None,
        "free_capital": equity - im,
        "positions": positions,
    }


def stress_report(
    book: Book, name: str, regime: Regime, shocks: dict[str, float], basis_widen: float
) -> dict[str, Any]:
    """The book after a joint shock: equity, MM, survival, and the smallest liquidating scale of it."""
    underlyings = {i.underlying for i in book.instruments}
    unknown = sorted(set(shocks) - underlyings)
    if unknown:
        raise ConfigError.unknown("--shock underlying", unknown[0], underlyings)
    direction = np.array([shocks.get(i.underlying, 0.0) + basis_widen * i.is_dated for i in book.instruments])
    qty, entry, when, wallet = book.qty, book.entry, book.as_of, np.array([book.wallet])
    shocked = book.mark * (1 + direction)
    equity = float(book.wallet + (qty * (shocked - entry)).sum())
    mm = float(regime.requirements(qty, shocked, when).mm[0])
    scale = float(shock_distance(qty, entry, wallet, book.mark, regime, when, direction)[0])
    return {
        "book": str(book.path),
        "regime": name,
        "parameters": regime.describe(),
        "as_of": str(when),
        "shock": {u: shocks.get(u, 0.0) for u in sorted(underlyings)},
        "basis_widen": basis_widen,
        "equity_before": float(book.wallet + (qty * (book.mark - entry)).sum()),
        "equity_after": equity,
        "mm_after": mm,
        "survives": bool(not breached(qty, entry, wallet, shocked, regime, when)[0]),
        "liquidating_scale": None if np.isinf(scale) else scale,
        "liquidating_move": None
        if np.isinf(scale)
        else {u: scale * shocks.get(u, 0.0) for u in sorted(underlyings)},
    }
