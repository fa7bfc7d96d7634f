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
