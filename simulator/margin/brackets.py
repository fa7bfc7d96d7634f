"""Tiered leverage/maintenance brackets (Binance USDⓈ-M style), loaded from ``datasets/brackets``.

MM of one position = notional x MMR(tier) - cum(tier), where the tier is the band holding the
notional; ``cum`` follows ``cum_k = floor_k (MMR_k - MMR_{k-1}) + cum_{k-1}`` so MM is continuous in
notional (Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts"). Tables change
over time: each carries the date it came into force, and lookups pick the table in force at a bar.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from pmsim.simulator.errors import RegimeError
from pmsim.simulator.market.instruments import Instrument, parse_symbol
from pmsim.simulator.paths import DATASETS

DEFAULT_BRACKETS = DATASETS / "brackets" / "binance_usdm.json"
CUM_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class BracketTable:
    """One tier table: arrays of length B (floors ascending from 0)."""

    group: str
    valid_from: np.datetime64
    floor: np.ndarray
    cap: np.ndarray
    max_leverage: np.ndarray
    mmr: np.ndarray
    cum: np.ndarray
    source: str

    def check(self) -> None:
        """Raise if the table is malformed or its ``cum`` column breaks the recursion."""
        where = f"bracket table {self.group} from {self.valid_from}"
        if len(self.floor) == 0 or self.floor[0] != 0:
            raise RegimeError(f"{where}: the first tier must start at notional 0")
        if np.any(np.diff(self.floor) <= 0) or np.any(self.cap[:-1] != self.floor[1:]):
            raise RegimeError(f"{where}: tiers must be contiguous and ascending")
        if np.any(np.diff(self.mmr) < 0) or np.any(self.mmr <= 0) or np.any(self.max_leverage <= 0):
            raise RegimeError(f"{where}: MMR must be positive and rise with notional; leverage positive")
        expected = np.concatenate([[0.0], np.cumsum(self.floor[1:] * np.diff(self.mmr))])
        bad = np.flatnonzero(np.abs(expected - self.cum) > CUM_TOLERANCE * np.maximum(1.0, expected))
        if bad.size:
            k = int(bad[0])
            raise RegimeError(
                f"{where}: tier {k + 1} cum is {self.cum[k]:g}, the recursion gives {expected[k]:g}"
            )

    def maintenance(self, notional: float) -> float:
        """Scalar MM of one position (reference implementation for tests)."""
        k = int(np.searchsorted(self.floor, notional, side="right") - 1)
        return float(notional * self.mmr[k] - self.cum[k])


def group_of(instrument: Instrument) -> str:
    """The bracket group an instrument uses: ``BTCUSDT`` for the perp, ``BTCUSDT_QUARTERLY`` for dated."""
    pair = parse_symbol(instrument.symbol)[0]
    return f"{pair}_QUARTERLY" if instrument.is_dated else pair


class BracketBook:
    """All tables of a venue, by group and date; builds padded ``[N, B]`` arrays for N instruments."""

    def __init__(self, tables: list[BracketTable], source: str) -> None:
        for table in tables:
            table.check()
        self.tables = sorted(tables, key=lambda t: (t.group, t.valid_from))
        self.source = source

    @classmethod
    def load(cls, path: str | Path = DEFAULT_BRACKETS) -> BracketBook:
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            tables = [
                BracketTable(
                    group=entry["group"],
                    valid_from=np.datetime64(entry["valid_from"], "ms"),
                    floor=np.array([t[0] for t in entry["tiers"]], dtype=float),
                    cap=np.array([t[1] for t in entry["tiers"]], dtype=float),
                    max_leverage=np.array([t[2] for t in entry["tiers"]], dtype=float),
                    mmr=np.array([t[3] for t in entry["tiers"]], dtype=float),
                    cum=np.array([t[4] for t in entry["tiers"]], dtype=float),
                    source=entry.get("source", doc.get("source", "")),
                )
                for entry in doc["tables"]
            ]
        except (OSError, KeyError, ValueError, TypeError, IndexError) as exc:
            raise RegimeError(f"{path}: not a bracket file ({exc})") from exc
        return cls(tables, doc.get("source", ""))

    @cached_property
    def groups(self) -> tuple[str, ...]:
        return tuple(sorted({t.group for t in self.tables}))

    def table(self, group: str, when: np.datetime64) -> BracketTable:
        """The table of ``group`` in force at ``when`` (the earliest one before its date)."""
        candidates = [t for t in self.tables if t.group == group]
        if not candidates:
            raise RegimeError(f"no bracket table for {group} (tables exist for: {', '.join(self.groups)})")
        in_force = [t for t in candidates if t.valid_from <= when]
        return in_force[-1] if in_force else candidates[0]

    def change_instants(self) -> np.ndarray:
        """Sorted distinct ``valid_from`` instants: the tables in force can change only there."""
        return np.unique(np.array([t.valid_from for t in self.tables], dtype="datetime64[ms]"))

    def arrays(self, instruments: tuple[Instrument, ...], when: np.datetime64) -> BracketArrays:
        tables = [self.table(group_of(i), when) for i in instruments]
        width = max(len(t.floor) for t in tables)

        def pad(name: str, fill: float) -> np.ndarray:
            out = np.full((len(tables), width), fill)
            for n, t in enumerate(tables):
                values = getattr(t, name)
                out[n, : len(values)] = values
            return out

        return BracketArrays(
            floor=pad("floor", np.inf),
            mmr=pad("mmr", 1.0),
            cum=pad("cum", 0.0),
            max_leverage=pad("max_leverage", 1.0),
        )


@dataclass(frozen=True)
class BracketArrays:
    """Padded tier arrays ``[N, B]`` for vectorised lookup (padding floors are +inf).

    Lookups use one ``searchsorted`` over all instruments at once: instrument n's floors are shifted
    by ``n x spacing`` into one ascending array, so a notional finds its tier without a ``[..., N, B]``
    comparison (the shift keeps notional precise to about 1e-5 USDT).
    """

    floor: np.ndarray
    mmr: np.ndarray
    cum: np.ndarray
    max_leverage: np.ndarray

    def __post_init__(self) -> None:
        n, b = self.floor.shape
        finite = np.isfinite(self.floor)
        top = float(self.floor[finite].max()) if finite.any() else 1.0
        spacing = 10.0 ** np.ceil(np.log10(max(top, 1.0) * 4))
        rows, cols = np.nonzero(finite)
        object.__setattr__(self, "_spacing", spacing)
        object.__setattr__(self, "_offsets", np.arange(n) * spacing)
        object.__setattr__(self, "_keys", self.floor[rows, cols] + rows * spacing)
        object.__setattr__(self, "_flat", rows * b + cols)

    @property
    def spacing(self) -> float:
        """The shift between instruments' floors in the tier search keys (the compiled kernel repeats it)."""
        return self._spacing  # type: ignore[attr-defined]

    def tier(self, notional: np.ndarray) -> np.ndarray:
        """Flat index into the ``[N, B]`` arrays of the tier holding ``notional[..., N]``."""
        key = np.minimum(notional, self._spacing / 2) + self._offsets  # type: ignore[attr-defined]
        return self._flat[np.searchsorted(self._keys, key, side="right") - 1]  # type: ignore[attr-defined]

    def lookup(self, notional: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(MM ``[..., N]`` = notional x MMR - cum, max leverage of the tier) from one tier search."""
        k = self.tier(notional)
        mm = np.maximum(notional * self.mmr.ravel()[k] - self.cum.ravel()[k], 0.0)
        return mm, self.max_leverage.ravel()[k]

    def maintenance(self, notional: np.ndarray) -> np.ndarray:
        """MM per position ``[..., N]`` = notional x MMR - cum (zero for an empty position)."""
        return self.lookup(notional)[0]

    def max_leverage_at(self, notional: np.ndarray) -> np.ndarray:
        return self.max_leverage.ravel()[self.tier(notional)]

    @property
    def cap(self) -> np.ndarray:
        """``[N, B]`` upper notional bound of each tier (the next floor; +inf for the last)."""
        return np.concatenate([self.floor[:, 1:], np.full((len(self.floor), 1), np.inf)], axis=1)

    def with_flat_tier(self, n: int, mmr: float, cum: float) -> BracketArrays:
        """A copy where instrument ``n`` has one tier ``[0, inf)`` with the given (mmr, cum)."""
        floor, rate, amount = self.floor.copy(), self.mmr.copy(), self.cum.copy()
        floor[n], rate[n], amount[n] = np.inf, 1.0, 0.0
        floor[n, 0], rate[n, 0], amount[n, 0] = 0.0, mmr, cum
        return BracketArrays(floor=floor, mmr=rate, cum=amount, max_leverage=self.max_leverage)
