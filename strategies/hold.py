"""Hold fixed target quantities: the tool for regime comparisons and tests.

``positions`` maps symbols to signed quantities; a list of such maps gives one parameter set each.
A target on an instrument that is not listed is ignored (expired contracts settle, they are not re-bought).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.market.arrays import Market
from pmsim.strategies.base import BarView


@dataclass(eq=False)
class Hold:
    positions: dict[str, float] | list[dict[str, float]]
    name: str = "hold"

    def __post_init__(self) -> None:
        self.books_ = [self.positions] if isinstance(self.positions, dict) else list(self.positions)
        if not self.books_:
            raise ConfigError("strategy.params.positions must name at least one book")

    @property
    def n_configs(self) -> int:
        return len(self.books_)

    def prepare(self, market: Market) -> None:
        self.targets_ = np.zeros((self.n_configs, len(market.instruments)))
        for s, book in enumerate(self.books_):
            where = "strategy.params.positions" + (f"[{s}]" if isinstance(self.positions, list) else "")
            for symbol, qty in book.items():
                try:
                    column = market.column(symbol)
                except ConfigError as exc:
                    raise ConfigError(f"{where}.{symbol}: {exc}") from None
                self.targets_[s, column] = float(qty)

    def decide(self, view: BarView) -> np.ndarray:
        return self.targets_

    def labels(self) -> list[str]:
        return [" ".join(f"{sym} {qty:+g}" for sym, qty in book.items()) for book in self.books_]

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "positions": self.books_}
