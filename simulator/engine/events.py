"""The event log: fills, funding, liquidations, settlements, cuts and rejections as column arrays.

Steps append whole arrays (one entry per affected config and instrument); nothing is a Python object per
event until the log is turned into a table at the end of a run. Each event names the sleeve it concerns
(``sleeve``: "" for the account's own events: fills, funding, liquidations, allocator decisions).
The sleeve ledger reads the chunks appended since a cursor (``since``) to attribute what the account did.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from pmsim.simulator.results import EVENT_KINDS

KIND_CODE = {kind: code for code, kind in enumerate(EVENT_KINDS)}
ACCOUNT = -1  # column index for account-level events
GUARDS = ("cut", "rejection", "stop", "liquidation", "bankruptcy")  # kinds that say a guard fired


class Chunk(NamedTuple):
    """One ``add`` call: ``config``, ``column``, ``qty``, ``price``, ``amount`` arrays of one kind."""

    kind: str
    config: np.ndarray
    column: np.ndarray
    qty: np.ndarray
    price: np.ndarray
    amount: np.ndarray


class EventLog:
    """Append-only columns; ``table`` builds the ``events.parquet`` frame."""

    def __init__(self) -> None:
        self._chunks: list[tuple[np.ndarray, ...]] = []
        self._notes: list[str] = [""]

    def _note_code(self, note: str) -> int:
        if note not in self._notes:
            self._notes.append(note)
        return self._notes.index(note)

    @property
    def cursor(self) -> int:
        """Where the log ends now; ``since(cursor)`` returns what was added after."""
        return len(self._chunks)

    def since(self, cursor: int) -> list[Chunk]:
        return [
            Chunk(EVENT_KINDS[int(c[2][0])], c[1], c[3], c[4], c[5], c[6])
            for c in self._chunks[cursor:]
            if c[1].size
        ]

    def guarded(self, cursor: int, n_configs: int) -> np.ndarray:
        """[S] whether a guard (``GUARDS``) fired for each book since ``cursor``."""
        fired = np.zeros(n_configs, dtype=bool)
        for chunk in self.since(cursor):
            if chunk.kind in GUARDS:
                fired[chunk.config] = True
        return fired

    def add(
        self,
        kind: str,
        bar: int,
        config: np.ndarray,
        column: np.ndarray | int,
        qty: np.ndarray | float = np.nan,
        price: np.ndarray | float = np.nan,
        amount: np.ndarray | float = np.nan,
        note: str = "",
        sleeve: str = "",
    ) -> None:
        """Record one event per entry of ``config`` (arrays broadcast together)."""
        config = np.asarray(config, dtype=np.int64)
        if config.size == 0:
            return
        shape = config.shape
        self._chunks.append(
            (
                np.full(shape, bar, dtype=np.int64),
                config,
                np.full(shape, KIND_CODE[kind], dtype=np.int8),
                np.broadcast_to(np.asarray(column, dtype=np.int64), shape).copy(),
                np.broadcast_to(np.asarray(qty, dtype=float), shape).copy(),
                np.broadcast_to(np.asarray(price, dtype=float), shape).copy(),
                np.broadcast_to(np.asarray(amount, dtype=float), shape).copy(),
                np.full(shape, self._note_code(note), dtype=np.int32),
                np.full(shape, self._note_code(sleeve), dtype=np.int32),
            )
        )

    def extend(
        self,
        *,
        bar: np.ndarray,
        config: np.ndarray,
        kind: np.ndarray,
        column: np.ndarray,
        qty: np.ndarray,
        price: np.ndarray,
        amount: np.ndarray,
        note: np.ndarray,
        sleeve: np.ndarray,
    ) -> None:
        """Append events given as whole columns (``kind`` as codes, ``note``/``sleeve`` as text), in order."""
        if len(bar) == 0:
            return
        codes, texts = pd.factorize(np.concatenate([note, sleeve]))  # hashed: no sort of strings
        code_of = np.array([self._note_code(str(text)) for text in texts], dtype=np.int32)[codes]
        self._chunks.append(
            (
                np.asarray(bar, dtype=np.int64),
                np.asarray(config, dtype=np.int64),
                np.asarray(kind, dtype=np.int8),
                np.asarray(column, dtype=np.int64),
                np.asarray(qty, dtype=float),
                np.asarray(price, dtype=float),
                np.asarray(amount, dtype=float),
                code_of[: len(bar)],
                code_of[len(bar) :],
            )
        )

    def add_mask(
        self,
        kind: str,
        bar: int,
        mask: np.ndarray,
        qty: np.ndarray,
        price: np.ndarray,
        amount: np.ndarray,
        note: str = "",
    ) -> None:
        """Record an event for every True entry of ``mask[S, N]``; value arrays are ``[S, N]`` or ``[N]``."""
        s, n = np.nonzero(mask)
        if s.size == 0:
            return

        def pick(values: np.ndarray) -> np.ndarray:
            values = np.broadcast_to(np.asarray(values, dtype=float), mask.shape)
            return values[s, n]

        self.add(kind, bar, s, n, pick(qty), pick(price), pick(amount), note)

    def count(self, kind: str) -> int:
        code = KIND_CODE[kind]
        return int(sum((chunk[2] == code).sum() for chunk in self._chunks))

    def table(self, times: np.ndarray, symbols: tuple[str, ...]) -> pd.DataFrame:
        """Events sorted by bar (stable: within a bar, in the engine's step order)."""
        names = ("bar", "config", "kind", "column", "qty", "price", "amount", "note", "sleeve")
        if self._chunks:
            cols = {name: np.concatenate([c[i] for c in self._chunks]) for i, name in enumerate(names)}
        else:
            cols = {name: np.array([], dtype=float) for name in names}
        order = np.argsort(cols["bar"].astype(np.int64), kind="stable")
        bar = cols["bar"][order].astype(np.int64)
        column = cols["column"][order].astype(np.int64)
        symbol_table = np.array([*symbols, ""], dtype=object)
        return pd.DataFrame(
            {
                "time": pd.to_datetime(np.asarray(times)[bar], utc=True),
                "config": cols["config"][order].astype(np.int64),
                "kind": np.array(EVENT_KINDS, dtype=object)[cols["kind"][order].astype(np.int64)],
                "symbol": symbol_table[np.where(column < 0, len(symbols), column)],
                "qty": cols["qty"][order],
                "price": cols["price"][order],
                "amount": cols["amount"][order],
                "note": np.array(self._notes, dtype=object)[cols["note"][order].astype(np.int64)],
                "sleeve": np.array(self._notes, dtype=object)[cols["sleeve"][order].astype(np.int64)],
            }
        ).astype(
            {"kind": "string", "symbol": "string", "note": "string", "sleeve": "string"}
        )  # same dtypes when empty
