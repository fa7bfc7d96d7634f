"""``margin`` and ``stress``: the what-if calculator of ``pmsim margin`` and ``pmsim stress`` on a book
given as a file, its tables (a dict) or a DataFrame of positions, returning typed reports.

A report holds the numbers the command prints: ``str(report)`` is its table, ``report.to_dict()`` its
``--json``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from pmsim.simulator.margin.book import Book

CROSS_UNDERLYING = ("per_underlying", "correlated", "span")
BookSource = str | Path | Mapping[str, Any] | Any  # a path, the book's tables, or a DataFrame of positions


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with None for missing values (as the JSON report has them)."""
    rows = frame.to_dict("records")
    return [{k: None if v is None or v != v else v for k, v in row.items()} for row in rows]


@dataclass(frozen=True)
class MarginReport:
    """A book valued under a regime: equity, IM, MM and, per position (``positions``), its MM, its MM
    alone and its liquidation price (None: none).

    >>> import pmsim
    >>> book = {"account": {"wallet": 5000.0},
    ...         "positions": [{"symbol": "ETHUSDT", "qty": 10.0, "entry": 2500.0, "mark": 2400.0}]}
    >>> report = pmsim.margin(book)
    >>> report.equity, report.regime, report.to_dict()["positions"][0]["upnl"]
    (4000.0, 'cross', -1000.0)
    """

    book: str
    regime: str
    parameters: dict[str, Any]
    as_of: str
    wallet: float
    equity: float
    im: float
    mm: float
    margin_ratio: float | None
    free_capital: float
    positions: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """The report as ``pmsim margin --json`` prints it."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {**out, "positions": _records(self.positions)}

    def __str__(self) -> str:
        r = self.to_dict()
        head = (
            f"{'symbol':<16}{'qty':>14} {'entry':>14} {'mark':>14} {'upnl':>16} {'mm':>16} {'mm alone':>16} "
            f"{'liq price':>14}"
        )
        rows = [  # a space between cells: a number wider than its column still reads as two
            f"{p['symbol']:<16}{p['qty']:>14,.4f} {p['entry']:>14,.2f} {p['mark']:>14,.2f} "
            f"{_money(p['upnl']):>16} {_money(p['mm']):>16} {_money(p['mm_alone']):>16} "
            f"{_money(p['liquidation_price']):>14}"
            for p in r["positions"]
        ]
        ratio = "-" if r["margin_ratio"] is None else f"{100 * r['margin_ratio']:.2f} %"
        summary = [
            f"book {r['book']}  regime {r['regime']}  as of {r['as_of']}",
            f"wallet {_money(r['wallet'])}  equity {_money(r['equity'])}  IM {_money(r['im'])}  "
            f"MM {_money(r['mm'])}",
            f"margin ratio (MM / equity) {ratio}  free capital (equity - IM) {_money(r['free_capital'])}",
        ]
        return "\n".join([*summary, "", head, *rows])

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"


@dataclass(frozen=True)
class StressReport:
    """A book after a joint shock: equity before and after, MM after, survival, and the smallest scale
    of the shock (and the move it is) that liquidates the book (None: no such move).

    >>> import pmsim
    >>> book = {"account": {"wallet": 5000.0},
    ...         "positions": [{"symbol": "ETHUSDT", "qty": 10.0, "entry": 2500.0, "mark": 2500.0}]}
    >>> report = pmsim.stress(book, {"ETH": -0.10})
    >>> report.survives, report.equity_after
    (True, 2500.0)
    """

    book: str
    regime: str
    parameters: dict[str, Any]
    as_of: str
    shock: dict[str, float]
    basis_widen: float
    equity_before: float
    equity_after: float
    mm_after: float
    survives: bool
    liquidating_scale: float | None
    liquidating_move: dict[str, float] | None

    def to_dict(self) -> dict[str, Any]:
        """The report as ``pmsim stress --json`` prints it."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __str__(self) -> str:
        shock = ", ".join(f"{u} {100 * v:+.1f} %" for u, v in self.shock.items())
        move = self.liquidating_move
        where = (
            "no adverse move along this direction liquidates the book"
            if move is None
            else f"liquidated from {self.liquidating_scale:.3f} x the shock: "
            + ", ".join(f"{u} {100 * v:+.2f} %" for u, v in move.items())
        )
        return "\n".join(
            [
                f"book {self.book}  regime {self.regime}  as of {self.as_of}",
                f"shock {shock}; basis widening {100 * self.basis_widen:+.2f} %",
                f"equity {_money(self.equity_before)} -> {_money(self.equity_after)}; "
                f"MM after {_money(self.mm_after)}",
                f"survives: {'yes' if self.survives else 'NO'}",
                where,
            ]
        )

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"


def book_of(book: BookSource, wallet: float | None = None, as_of: Any = None) -> Book:
    """The checked book: a TOML book file (or its text), its tables (``account``, ``positions``), or a
    DataFrame of positions (columns ``symbol, qty, entry, mark`` and optional ones) with ``wallet`` (and
    ``as_of``)."""
    from pmsim.api import source_of
    from pmsim.simulator.errors import ConfigError
    from pmsim.simulator.margin.book import book_of as checked
    from pmsim.simulator.margin.book import load_book

    if isinstance(book, str | Path | Mapping):
        if wallet is not None or as_of is not None:
            raise ConfigError("wallet and as_of go with a DataFrame of positions; a book has its [account]")
        source = source_of(book, "book file")
        return load_book(source) if isinstance(source, Path) else checked(source, "<tables>")
    if not hasattr(book, "to_dict"):
        raise ConfigError(f"a book is a path, a dict or a DataFrame of positions, not {type(book).__name__}")
    if wallet is None:
        raise ConfigError("account.wallet: a DataFrame of positions needs wallet= (USDT)")
    account: dict[str, Any] = {"wallet": wallet}
    if as_of is not None:
        account["as_of"] = as_of.isoformat() if hasattr(as_of, "isoformat") else as_of
    return checked({"account": account, "positions": _present(book)}, "<DataFrame>")


def _present(frame: Any) -> list[dict[str, Any]]:
    """The frame's rows with missing optional values left out (a NaN ``leverage`` is no leverage)."""
    return [
        {k: v for k, v in row.items() if not (isinstance(v, float) and math.isnan(v))}
        for row in frame.to_dict("records")
    ]


def _regime(book: Book, regime: str | None, preset: str | None, **params: Any) -> tuple[str, Any]:
    from pmsim.simulator.errors import ConfigError
    from pmsim.simulator.margin.whatif import build_regime

    if params.get("cross_underlying") not in (None, *CROSS_UNDERLYING):
        raise ConfigError.unknown("cross_underlying", params["cross_underlying"], CROSS_UNDERLYING)
    for key, low, high in (("credit_rate", 0.0, 1.0), ("corr", -1.0, 1.0)):
        value = params.get(key)
        if value is not None and not low <= value <= high:  # also refuses nan
            raise ConfigError(f"{key} must be a number in [{low:g}, {high:g}], got {value}")
    return build_regime(book, regime, preset, **params)


def margin(
    book: BookSource,
    regime: str | None = None,
    preset: str | None = None,
    *,
    cross_underlying: str | None = None,
    credit_rate: float | None = None,
    wallet: float | None = None,
    as_of: Any = None,
) -> MarginReport:
    """Value ``book`` under ``regime`` (default: the book's, else cross), as ``pmsim margin``.

    >>> import pmsim
    >>> book = {"account": {"wallet": 10000.0},
    ...         "positions": [{"symbol": "BTCUSDT", "qty": 1.0, "entry": 60000.0, "mark": 60000.0}]}
    >>> report = pmsim.margin(book, regime="cross")
    >>> report.equity, report.positions["symbol"].tolist()
    (10000.0, ['BTCUSDT'])
    """
    import pandas as pd

    from pmsim.simulator.margin.whatif import margin_report

    checked = book_of(book, wallet, as_of)
    name, built = _regime(checked, regime, preset, cross_underlying=cross_underlying, credit_rate=credit_rate)
    report = margin_report(checked, name, built)
    return MarginReport(**{**report, "positions": pd.DataFrame(report["positions"])})


def _move(underlying: object, move: object) -> float:
    """A shock as a float; text such as ``"-30%"`` (the command's spelling) is refused with the fix."""
    from pmsim.simulator.errors import ConfigError

    if isinstance(move, bool) or not isinstance(move, Real):  # numpy numbers too
        raise ConfigError(
            f"{underlying}: a move is a fraction such as -0.30 (30 % down), "
            f"not {type(move).__name__} {move!r}"
        )
    return float(move)


def stress(
    book: BookSource,
    shocks: Mapping[str, float],
    *,
    basis_widen: float = 0.0,
    corr: float | None = None,
    regime: str | None = None,
    preset: str | None = None,
    cross_underlying: str | None = None,
    credit_rate: float | None = None,
    wallet: float | None = None,
    as_of: Any = None,
) -> StressReport:
    """Shock ``book`` (``{"BTC": -0.30}`` is BTC 30 % down; ``basis_widen`` moves every dated future
    against its perpetual; ``corr`` forces the BTC/ETH correlation, portfolio only), as ``pmsim stress``.

    >>> import pmsim
    >>> book = {"account": {"wallet": 10000.0},
    ...         "positions": [{"symbol": "BTCUSDT", "qty": 1.0, "entry": 60000.0, "mark": 60000.0}]}
    >>> report = pmsim.stress(book, {"BTC": -0.30})
    >>> report.survives, round(report.equity_after)
    (False, -8000)
    """
    from pmsim.simulator.errors import ConfigError
    from pmsim.simulator.margin.whatif import stress_report

    moves = {str(u).upper(): _move(u, m) for u, m in shocks.items()}
    if len(moves) != len(shocks):
        raise ConfigError("shocks name an underlying twice; give one move per underlying")
    if not moves:
        raise ConfigError("shocks is empty; give a move per underlying, e.g. {'BTC': -0.30}")
    for underlying, move in {**moves, "basis_widen": float(basis_widen)}.items():
        if not (-1 < move < math.inf) or (move == 0 and underlying != "basis_widen"):
            raise ConfigError(
                f"{underlying}: a move is a non-zero fraction above -1 (-0.3 is 30 % down), got {move}"
            )
    checked = book_of(book, wallet, as_of)
    name, built = _regime(
        checked, regime, preset, cross_underlying=cross_underlying, credit_rate=credit_rate, corr=corr
    )
    return StressReport(**stress_report(checked, name, built, moves, float(basis_widen)))
