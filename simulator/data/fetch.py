"""``pmsim data fetch``: plan the archive files of a request, download them, rebuild cache series.

Planning turns symbols, data types, an interval and a month range into monthly archive files;
quarterly contracts come from the delivery calendar and are asked for only in the months they live.
After downloading, each series is rebuilt from all its raw files (validated file by file, then as a
whole); all of them are built before the first is written to the Parquet cache. A fetch in which any
file failed writes no series (the verified downloads stay in ``raw/``, so a re-run resumes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pmsim.simulator.data.archive import (
    QUARTERLY_LIFE_DAYS,
    ArchiveFile,
    Period,
    Venue,
    monthly_files,
    quarterly_symbols,
)
from pmsim.simulator.data.cache import RAW, Cache, SeriesKey
from pmsim.simulator.data.download import Fetcher, FetchReport
from pmsim.simulator.data.readers import read_bars, read_funding
from pmsim.simulator.data.validate import SeriesReport, check_series
from pmsim.simulator.errors import DataError
from pmsim.simulator.market.instruments import parse_symbol

PERP_ONLY = ("fundingRate", "indexPriceKlines")


@dataclass(frozen=True, slots=True)
class Request:
    """What to fetch: perpetual ``symbols`` (+ their quarterlies), ``types``, ``interval``, months."""

    symbols: tuple[str, ...]
    types: tuple[str, ...]
    interval: str
    start: str
    end: str
    quarterlies: bool = False
    venue: Venue = "um"


def _life_months(symbol: str, start: str, end: str) -> tuple[str, str] | None:
    """The months of ``start``..``end`` in which ``symbol`` trades (all of them for a perpetual)."""
    delivery = parse_symbol(symbol)[2]
    if delivery is None:
        return start, end
    first = max(
        np.datetime64(start, "M"),
        (delivery - np.timedelta64(QUARTERLY_LIFE_DAYS, "D")).astype("datetime64[M]"),
    )
    last = min(np.datetime64(end, "M"), delivery.astype("datetime64[M]"))
    return (str(first), str(last)) if first <= last else None


def plan(request: Request) -> list[ArchiveFile]:
    """The monthly archive files that cover ``request``."""
    files: list[ArchiveFile] = []
    for pair in request.symbols:
        symbols = [pair]
        if request.quarterlies:
            symbols += quarterly_symbols(pair, request.start, request.end, request.venue)
        for symbol in symbols:
            span = _life_months(symbol, request.start, request.end)
            for data_type in request.types:
                if span is None or (symbol != pair and data_type in PERP_ONLY):
                    continue
                files += monthly_files(request.venue, data_type, symbol, request.interval, *span)
    return list(dict.fromkeys(files))


def series_of(file: ArchiveFile) -> SeriesKey:
    return SeriesKey(file.venue, file.data_type, file.symbol, file.interval or "")


def _date(path: Path) -> str:
    """``YYYY-MM`` or ``YYYY-MM-DD`` from ``{SYMBOL}-{interval}-{date}.zip``."""
    return path.stem.split("-", 2)[2]


def _series_files(raw_root: Path, file: ArchiveFile) -> list[Path]:
    """Raw files of the series ``file`` belongs to: monthly ones, plus daily ones of months without."""

    def folder(period: Period) -> Path:
        return (
            raw_root / ArchiveFile(file.venue, period, file.data_type, file.symbol, file.interval, "").path
        ).parent

    def zips(period: Period) -> list[Path]:
        return sorted(p for p in folder(period).glob("*.zip") if not p.name.startswith("."))

    monthly = zips("monthly")
    covered = {_date(p) for p in monthly}
    daily = [p for p in zips("daily") if _date(p)[:7] not in covered]
    return sorted(monthly + daily, key=_date)


def build_series(raw_root: Path, file: ArchiveFile) -> tuple[pd.DataFrame, SeriesReport] | None:
    """The series of ``file`` rebuilt from every raw file it has, validated; None if there are none."""
    key = series_of(file)
    frames: list[pd.DataFrame] = []
    column = "funding_time" if key.is_funding else "open_time"
    for path in _series_files(raw_root, file):
        frame = read_funding(path) if key.is_funding else read_bars(path, key.venue)
        check_series(key.data_type, key.interval, frame)
        if frames and frame[column].iloc[0] <= frames[-1][column].iloc[-1]:
            raise DataError("overlaps the previous file of its series", file=path, row=frame.attrs["line0"])
        frames.append(frame)
    if not frames:
        return None
    whole = pd.concat(frames, ignore_index=True)
    whole.attrs.update(file=str(key), line0=1)
    return whole, check_series(key.data_type, key.interval, whole)


class FetchFailed(DataError):
    """Some files failed to download or validate; ``report`` says what was done. No series was written."""

    def __init__(self, report: FetchReport) -> None:
        super().__init__(
            f"{len(report.failures)} file(s) failed, so no series was rebuilt (verified downloads are kept; "
            f"re-run to resume); first: {report.failures[0]}"
        )
        self.report = report


def fetch_history(
    request: Request, cache: Cache, base_url: str, *, workers: int = 4, progress: bool = True
) -> tuple[FetchReport, dict[SeriesKey, SeriesReport]]:
    """Download what ``request`` names into ``cache`` and rebuild the affected series.

    Raises ``FetchFailed`` (after downloading what it could) if any file failed.
    """
    files = plan(request)
    with cache.writing():
        report = Fetcher(base_url, cache.root, workers=workers, progress=progress).fetch(files)
        if report.failures:
            raise FetchFailed(report)
        raw_root = cache.root / RAW
        built = {}
        for file in {series_of(f): f for f in files}.values():
            series = build_series(raw_root, file)
            if series is not None:
                built[series_of(file)] = series
        for key, (frame, _) in built.items():
            cache.write(key, frame)
    return report, {key: series_report for key, (_, series_report) in built.items()}
