"""Archive-format files built by hand for the data tests (imported as a plain module)."""

from __future__ import annotations

import zipfile
from pathlib import Path

HOUR_MS = 3_600_000
T0_MS = 1_577_836_800_000  # 2020-01-01 00:00 UTC
ARCHIVE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)


def kline_rows(n: int = 4, start_ms: int = T0_MS, step_ms: int = HOUR_MS, micro: bool = False) -> list[str]:
    """``n`` archive kline rows: open 100+i, high +2, low -1, close +1, volume 10+i, col 7 = 1000+i."""
    scale = 1000 if micro else 1
    rows = []
    for i in range(n):
        t = start_ms + i * step_ms
        rows.append(
            f"{t * scale},{100 + i},{102 + i},{99 + i},{101 + i},{10 + i},{(t + step_ms - 1) * scale},"
            f"{1000 + i},{5 + i},{4 + i},{400 + i},0"
        )
    return rows


def write_csv(path: Path, rows: list[str], header: str | None = ARCHIVE_HEADER) -> Path:
    path.write_text("\n".join(([header] if header else []) + rows) + "\n", encoding="utf-8")
    return path


def write_zip(path: Path, rows: list[str], header: str | None = None, member: str | None = None) -> Path:
    text = "\n".join(([header] if header else []) + rows) + "\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member or path.with_suffix(".csv").name, text)
    return path


TIDY_HEADER = "open_time,open,high,low,close,volume"
DELIVERY_240329_MS = 1_711_699_200_000  # BTCUSDT_240329 delivers 2024-03-29 08:00 UTC
DAY0_MS = DELIVERY_240329_MS - 32 * HOUR_MS  # 2024-03-28 00:00


def tidy_rows(closes: list[float], start_ms: int = DAY0_MS) -> list[str]:
    """Tidy-layout bars with the given closes: open = close, high = close + 1, low = close - 1."""
    return [f"{start_ms + i * HOUR_MS},{c},{c + 1},{c - 1},{c},1" for i, c in enumerate(closes)]


def write_tidy(root: Path, series: dict[str, list[str]], contracts: bool = True) -> Path:
    """A tidy folder: ``series`` maps a path below ``root`` (e.g. ``binance-um/klines/1h/BTCUSDT.csv``)
    to its rows (header added); ``contracts`` adds ``contracts.csv`` for BTCUSDT_240329."""
    for rel, rows in series.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        header = "calc_time,funding_interval_hours,last_funding_rate" if "fundingRate" in rel else TIDY_HEADER
        write_csv(path, rows, header)
    if contracts:
        path = root / "binance-um" / "quarterly" / "contracts.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"symbol,onboard_time,delivery_time\nBTCUSDT_240329,{DAY0_MS},{DELIVERY_240329_MS}\n",
            encoding="utf-8",
        )
    return root
