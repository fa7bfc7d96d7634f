"""The local Parquet cache of real history, one file per venue / data type / symbol / interval.

Layout: ``{root}/binance-{venue}/{data_type}/{symbol}/{interval}.parquet`` (funding, which has no
interval, is ``.../fundingRate/{symbol}/events.parquet``) plus ``binance-um/contracts.parquet``,
the dated-contract catalog. Every write is atomic, so a failed import or fetch leaves the previous
file (or nothing) in place. The default root is ``datasets/cache`` (ignored by git).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pmsim.simulator.atomic import atomic_path
from pmsim.simulator.data.archive import DATA_TYPES, VENUES, check_choice, venue_dir
from pmsim.simulator.errors import DataError
from pmsim.simulator.paths import DATASETS

DEFAULT_CACHE = DATASETS / "cache"
EVENTS = "events"
CONTRACTS_FILE = "contracts.parquet"


@dataclass(frozen=True, slots=True, order=True)
class SeriesKey:
    """Names one series: e.g. ``SeriesKey("um", "klines", "BTCUSDT", "1h")``; funding has interval ``""``."""

    venue: str
    data_type: str
    symbol: str
    interval: str

    def __post_init__(self) -> None:
        check_choice("venue", self.venue, VENUES)
        check_choice("data type", self.data_type, DATA_TYPES)

    @property
    def is_funding(self) -> bool:
        return self.data_type == "fundingRate"

    def relpath(self) -> Path:
        return Path(venue_dir(self.venue), self.data_type, self.symbol, f"{self.interval or EVENTS}.parquet")

    def __str__(self) -> str:
        return "/".join(p for p in (self.venue, self.data_type, self.symbol, self.interval) if p)


class Cache:
    """Read and write series under ``root``."""

    def __init__(self, root: str | Path = DEFAULT_CACHE) -> None:
        self.root = Path(root)

    def path(self, key: SeriesKey) -> Path:
        return self.root / key.relpath()

    def write(self, key: SeriesKey, frame: pd.DataFrame) -> Path:
        """Replace the series ``key`` with ``frame`` atomically."""
        return self._write_table(self.path(key), frame)

    def read(self, key: SeriesKey) -> pd.DataFrame | None:
        """The series, or None if the cache does not hold it."""
        return self._read_table(self.path(key))

    def keys(self) -> list[SeriesKey]:
        """Every series held, sorted."""
        out = []
        for path in self.root.glob("binance-*/*/*/*.parquet"):
            venue = path.parts[-4].removeprefix("binance-")
            interval = "" if path.stem == EVENTS else path.stem
            if venue in VENUES and path.parts[-3] in DATA_TYPES:
                out.append(SeriesKey(venue, path.parts[-3], path.parts[-2], interval))
        return sorted(out)

    def write_contracts(self, frame: pd.DataFrame) -> Path:
        return self._write_table(self.root / venue_dir("um") / CONTRACTS_FILE, frame)

    def contracts(self) -> pd.DataFrame | None:
        """Dated-contract catalog: ``symbol``, ``onboard_ms``, ``delivery_ms`` (None if absent)."""
        return self._read_table(self.root / venue_dir("um") / CONTRACTS_FILE)

    @staticmethod
    def _write_table(path: Path, frame: pd.DataFrame) -> Path:
        table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
        return path

    @staticmethod
    def _read_table(path: Path) -> pd.DataFrame | None:
        if not path.exists():
            return None
        try:
            frame = pq.read_table(path).to_pandas()
        except (OSError, pa.ArrowException) as exc:
            raise DataError(f"unreadable Parquet ({exc})", file=path) from exc
        frame.attrs.update(file=str(path), line0=1)
        return frame
