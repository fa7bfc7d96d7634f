"""Hold fixed books: the tool for regime comparisons and tests.

A book is given either as ``positions`` (symbol -> signed quantity) or as ``leverage`` (symbol -> signed
notional / budget, e.g. ``{ BTCUSDT = 2.0 }``). A leverage book is sized once per symbol, at the close of
the symbol's first listed bar: quantity = leverage x budget then (``view.equity``) / that close; it is held
from then on, never resized. A list of maps gives one book each.
A target on an instrument that is not listed is ignored (expired contracts settle, they are not re-bought).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.market.arrays import Market
from pmsim.strategies.base import BarView

Book = dict[str, float]


@dataclass(eq=False)
class Hold:
    positions: Book | list[Book] | None = None
    leverage: Book | list[Book] | None = None
    name: str = "hold"

    def __post_init__(self) -> None:
        if self.positions is None and self.leverage is None:
            raise ConfigError(
                "strategy.params.positions: required key is missing (quantities per symbol), "
                "or give leverage (notional / budget per symbol)"
            )
        if self.positions is not None and self.leverage is not None:
            raise ConfigError("strategy.params: give positions (quantities) or leverage, not both")
        self.key_ = "positions" if self.positions is not None else "leverage"
        given = self.positions if self.positions is not None else self.leverage
        self.listed_ = isinstance(given, list)
        self.books_ = [given] if isinstance(given, dict) else list(given or [])
        if not self.books_:
            raise ConfigError(f"strategy.params.{self.key_} must name at least one book")

    @property
    def n_configs(self) -> int:
        return len(self.books_)

    def prepare(self, market: Market) -> None:
        """The books as ``[S, N]`` arrays (quantities, or leverages still to be sized)."""
        self.book_ = np.zeros((self.n_configs, len(market.instruments)))
        for s, book in enumerate(self.books_):
            where = f"strategy.params.{self.key_}" + (f"[{s}]" if self.listed_ else "")
            for symbol, value in book.items():
                try:
                    column = market.column(symbol)
                except ConfigError as exc:
                    raise ConfigError(f"{where}.{symbol}: {exc}") from None
                self.book_[s, column] = float(value)
        self.targets_ = self.book_ if self.key_ == "positions" else np.zeros_like(self.book_)
        self.sized_ = np.full(len(market.instruments), self.key_ == "positions")  # quantities: sized

    def decide(self, view: BarView) -> np.ndarray:
        due = view.listed & ~self.sized_
        if due.any():
            with np.errstate(invalid="ignore", divide="ignore"):
                qty = self.book_[:, due] * np.maximum(view.equity, 0.0)[:, None] / view.close[-1, due]
            self.targets_[:, due] = np.where(np.isfinite(qty), qty, 0.0)
            self.sized_ = self.sized_ | due
        return self.targets_

    def labels(self) -> list[str]:
        unit = "" if self.key_ == "positions" else "x"
        return [" ".join(f"{sym} {v:+g}{unit}" for sym, v in book.items()) for book in self.books_]

    def describe(self) -> dict[str, object]:
        return {"name": self.name, self.key_: self.books_}
