"""Read the tidy CSV layout (one CSV per series, as staged for the tests) and import it into the Parquet cache.

Layout (mirrors archive naming): ``binance-{venue}/{data_type}/{interval}/{SYMBOL}.csv`` for
kline-type series, ``binance-{venue}/fundingRate/{SYMBOL}.csv`` for funding,
``binance-um/quarterly/{interval}/{SYMBOL_YYMMDD}.csv`` for dated contracts (last-trade klines) and
``binance-um/quarterly/contracts.csv`` for their listing and delivery times. Spot klines stand in
for the index. Everything is read and validated before the first cache write.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pmsim.simulator.data.archive import DATA_TYPES, KLINE_TYPES, VENUES, check_symbol
from pmsim.simulator.data.cache import Cache, SeriesKey, walk_files
from pmsim.simulator.data.readers import read_bars, read_funding
from pmsim.simulator.data.validate import SeriesReport, check_series
from pmsim.simulator.errors import ConfigError, DataError

IGNORED_FOLDERS = ("leverage_brackets",)
QUARTERLY = "quarterly"
CONTRACTS_CSV = Path("binance-um", QUARTERLY, "contracts.csv")


class TidyFolder:
    """A folder in the tidy layout, read in place (never copied)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError("not a folder", file=self.root)
        for _ in walk_files(self.root):  # an unreadable subfolder is an error, never skipped
            pass
        self._files = self._scan()

    def _scan(self) -> dict[SeriesKey, Path]:
        files: dict[SeriesKey, Path] = {}
        for venue_path in sorted(self.root.glob("binance-*")):
            venue = venue_path.name.removeprefix("binance-")
            if venue not in VENUES:
                raise DataError(
                    f"unknown venue folder (options are: {', '.join('binance-' + v for v in VENUES)})",
                    file=venue_path,
                )
            for folder in sorted(p for p in venue_path.iterdir() if p.is_dir()):
                if folder.name in IGNORED_FOLDERS:
                    continue
                if folder.name == "fundingRate":
                    pattern, data_type = "*.csv", "fundingRate"
                elif folder.name == QUARTERLY or folder.name in KLINE_TYPES:
                    pattern, data_type = "*/*.csv", "klines" if folder.name == QUARTERLY else folder.name
                else:
                    raise DataError(
                        f"unknown data type {folder.name!r} (options are: {', '.join(DATA_TYPES)})",
                        file=folder,
                    )
                for path in sorted(folder.glob(pattern)):
                    interval = "" if data_type == "fundingRate" else path.parent.name
                    try:
                        key = SeriesKey(venue, data_type, check_symbol(path.stem), interval)
                    except ConfigError as exc:
                        raise DataError(str(exc), file=path) from None
                    files[key] = path
        return files

    def keys(self) -> list[SeriesKey]:
        return sorted(self._files)

    def read(self, key: SeriesKey) -> pd.DataFrame | None:
        path = self._files.get(key)
        if path is None:
            return None
        return read_funding(path) if key.is_funding else read_bars(path, key.venue)

    def contracts(self) -> pd.DataFrame | None:
        """Dated-contract catalog from ``contracts.csv``: ``symbol``, ``onboard_ms``, ``delivery_ms``."""
        path = self.root / CONTRACTS_CSV
        if not path.exists():
            return None
        try:
            raw = pd.read_csv(path, usecols=["symbol", "onboard_time", "delivery_time"])
            frame = pd.DataFrame(
                {
                    "symbol": raw["symbol"].astype(str),
                    "onboard_ms": raw["onboard_time"].astype("int64"),
                    "delivery_ms": raw["delivery_time"].astype("int64"),
                }
            )
        except (ValueError, KeyError, pd.errors.ParserError) as exc:
            raise DataError(f"not a contracts table ({exc})", file=path) from exc
        frame.attrs.update(file=str(path), line0=2)
        return frame


def listing_times(contracts: pd.DataFrame | None) -> dict[str, int]:
    """symbol -> listing instant (ms) from a contracts catalog."""
    if contracts is None:
        return {}
    return dict(zip(contracts["symbol"], contracts["onboard_ms"].astype(int), strict=True))


@dataclass(frozen=True, slots=True)
class Imported:
    key: SeriesKey
    report: SeriesReport


def read_validated(source: TidyFolder | Cache) -> list[tuple[Imported, pd.DataFrame]]:
    """Read and validate every series of ``source``; the first bad row raises."""
    listing = listing_times(source.contracts())
    out = []
    keys = source.keys()
    for key in keys:
        frame = source.read(key)
        assert frame is not None
        report = check_series(key.data_type, key.interval, frame, listing_ms=listing.get(key.symbol))
        out.append((Imported(key, report), frame))
    return out


def import_folder(source: str | Path, cache: Cache) -> list[Imported]:
    """Validate every series of the tidy folder ``source``, then write them all into ``cache``.

    The cache's manifest is written last (``Cache.writing``): a killed import is detected as partial.
    """
    tidy = TidyFolder(source)
    validated = read_validated(tidy)
    if not validated:
        raise DataError("no series found in the tidy layout (see `pmsim data import --help`)", file=tidy.root)
    contracts = tidy.contracts()
    with cache.writing():
        for imported, frame in validated:
            cache.write(imported.key, frame)
        if contracts is not None:
            cache.write_contracts(contracts)
    return [imported for imported, _ in validated]
