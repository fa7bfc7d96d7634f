"""Read one Binance data file (archive zip or CSV, or the tidy CSV layout) into a numeric frame.

Readers only parse: they detect a header row (rule: a header iff the first field of line 1 is not
an integer), accept ms or µs timestamps (per file: a value above 1e14 is µs), map COIN-M's
mislabelled volume columns by position and floor funding ``calc_time`` jitter to the hour. Any
malformed row raises a one-line ``DataError`` naming the file and the row (line number in the file).
Content checks (order, gaps, OHLC sanity) live in ``validate.py``.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
from pmsim.simulator.errors import DataError

ARCHIVE_KLINE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
# Base-asset volume positions: COIN-M's column 7/10 hold base volume whatever the header says.
_VOLUME_POSITIONS = {"um": (5, 9), "spot": (5, 9), "cm": (7, 10)}
_FUNDING_TIME = ("calc_time", "funding_time", "fundingTime")
_FUNDING_RATE = ("last_funding_rate", "funding_rate", "fundingRate")
MICROSECONDS_ABOVE = 10**14
HOUR_MS = 3_600_000
# Cap on the inflated size of one zip member. The largest file the archive layout here can name, a
# monthly 1m kline file, inflates to about 6 MB; 64 MiB leaves a tenfold margin and stops a zip bomb
# (a few kB that inflate to gigabytes) before it fills memory or disk. See ``inflate``.
MAX_MEMBER_BYTES = 64 * 2**20
_CHUNK = 2**20


def read_text(path: str | Path, label: object = None) -> str:
    """The CSV text of a ``.csv`` file or of the single CSV inside an archive ``.zip``.

    ``label`` names the file in errors when ``path`` is a temporary (a download being checked).
    """
    path = Path(path)
    where = path if label is None else label
    try:
        if path.suffix != ".zip":
            return path.read_text(encoding="utf-8")
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            check_member_names(names, where)
            csvs = [n for n in names if n.endswith(".csv")]
            if len(csvs) != 1:
                raise DataError(f"expected one CSV inside the zip, found {len(csvs)}: {names}", file=where)
            return b"".join(inflate(archive, csvs[0], where)).decode("utf-8")
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise DataError(f"truncated or corrupt zip ({exc})", file=where) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"not a UTF-8 text file ({exc.reason} at byte {exc.start})", file=where) from exc
    except OSError as exc:
        raise DataError(f"cannot read ({exc.strerror or exc})", file=where) from exc


def inflate(archive: zipfile.ZipFile, name: str, where: object) -> Iterator[bytes]:
    """Yield member ``name`` in chunks, refusing it if it inflates beyond ``MAX_MEMBER_BYTES``.

    The size a member's header claims is a hard limit: ``zipfile`` never inflates past it, and a
    member whose content runs longer fails its CRC check (a corrupt zip). So checking the claim
    before reading caps what is inflated.
    """
    claimed = archive.getinfo(name).file_size
    if claimed > MAX_MEMBER_BYTES:
        raise DataError(
            f"zip member {name} inflates to {claimed} bytes, over the {MAX_MEMBER_BYTES / 2**20:g} MiB cap "
            "per zip member (readers.MAX_MEMBER_BYTES); refusing it",
            file=where,
        )
    with archive.open(name) as member:
        while chunk := member.read(_CHUNK):
            yield chunk


def check_member_names(names: list[str], path: object) -> None:
    """Reject zip members with absolute paths or ``..`` parts (they could escape the cache)."""
    for name in names:
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
            raise DataError(f"zip member {name!r} has an absolute or '..' path; refusing it", file=path)


def _is_integer(field: str) -> bool:
    return field.strip().lstrip("-").isdigit()


def _split_header(text: str) -> tuple[list[str] | None, str, int]:
    """(header names or None, body text, file line number of the first body row)."""
    first_line, _, rest = text.partition("\n")
    first_field = first_line.split(",", 1)[0]
    if _is_integer(first_field):
        return None, text, 1
    return [name.strip() for name in first_line.strip().split(",")], rest, 2


def _diagnose(body: str, ncols: int, positions: dict[str, int], file: object, line0: int) -> DataError:
    """Find the first bad row of ``body`` and describe it in one line."""
    for k, fields in enumerate(csv.reader(io.StringIO(body))):
        row = line0 + k
        if not fields:
            return DataError("empty line inside the data", file=file, row=row)
        if len(fields) != ncols:
            return DataError(f"has {len(fields)} fields, expected {ncols}", file=file, row=row)
        if not _is_integer(fields[0]):
            if not fields[0].strip().replace(".", "", 1).isdigit():
                return DataError(
                    f"a header or text row in the middle of the data ({fields[0]!r})", file=file, row=row
                )
            return DataError(f"timestamp {fields[0]!r} is not an integer", file=file, row=row)
        for name, pos in positions.items():
            try:
                value = float(fields[pos])
            except ValueError:
                return DataError(f"{name} is {fields[pos]!r}, not a number", file=file, row=row)
            if np.isnan(value):
                return DataError(f"{name} is NaN", file=file, row=row)
    return DataError("unreadable CSV", file=file)


def _numeric(text: str, file: object, positions: dict[str, int], names: list[str] | None) -> pd.DataFrame:
    """Parse the numeric columns at ``positions`` of every row; one-line error on the first bad row."""
    header, body, line0 = _split_header(text)
    ncols = len(header) if header else len(names or [])
    if not body.strip():
        raise DataError("no data rows", file=file)
    rows = body.count("\n") + (0 if body.endswith("\n") else 1)
    try:
        frame = pd.read_csv(
            io.StringIO(body),
            header=None,
            usecols=sorted(positions.values()),
            dtype=np.float64,
            skip_blank_lines=False,
            engine="c",
        )
        ok = (
            len(frame) == rows and body.count(",") == rows * (ncols - 1) and not frame.isna().to_numpy().any()
        )
    except (ValueError, pd.errors.ParserError):
        ok = False
    if not ok:
        raise _diagnose(body, ncols, positions, file, line0)
    out = pd.DataFrame({name: frame[pos].to_numpy() for name, pos in positions.items()})
    out.attrs.update(file=str(file), line0=line0)
    return out


def _times_ms(values: np.ndarray, file: object, line0: int) -> np.ndarray:
    """Integer ms from ms or µs stamps (unit inferred per file)."""
    whole = np.floor(values) == values
    if not whole.all():
        raise DataError("timestamp is not an integer", file=file, row=line0 + int(np.argmin(whole)))
    stamps = values.astype(np.int64)
    return stamps // 1000 if stamps.max() > MICROSECONDS_ABOVE else stamps


def _header_positions(header: list[str], wanted: dict[str, tuple[str, ...]], file: object) -> dict[str, int]:
    positions = {}
    for name, aliases in wanted.items():
        found = [header.index(a) for a in aliases if a in header]
        if not found:
            raise DataError(f"header {','.join(header)} has no column {'/'.join(aliases)}", file=file, row=1)
        positions[name] = found[0]
    return positions


def read_bars(path: str | Path, venue: str = "um", label: object = None) -> pd.DataFrame:
    """Kline-type bars: ``open_time`` (int64 ms), ``open, high, low, close`` and ``volume`` (base asset).

    Archive files (12 columns, with or without header) are mapped by position; tidy CSVs
    (``open_time,open,high,low,close[,volume]``) by header name. ``volume`` is NaN-free; it is 0
    where the file has none (mark, index and premium klines carry no meaningful volume).
    """
    text = read_text(path, label)
    where = path if label is None else label  # errors name the label
    header, _, _ = _split_header(text)
    if header is None or len(header) == len(ARCHIVE_KLINE_COLUMNS):
        ncols = len(text.partition("\n")[0].split(",")) if header is None else len(header)
        if ncols != len(ARCHIVE_KLINE_COLUMNS):
            raise DataError(
                f"has {ncols} fields, expected 12 (archive klines) or a header", file=where, row=1
            )
        volume, _ = _VOLUME_POSITIONS[venue]
        positions = {"open_time": 0, "open": 1, "high": 2, "low": 3, "close": 4, "volume": volume}
        names = list(ARCHIVE_KLINE_COLUMNS)
    else:
        wanted = {c: (c,) for c in ("open_time", "open", "high", "low", "close")}
        if "volume" in header:
            wanted["volume"] = ("volume",)
        positions = _header_positions(header, wanted, where)
        names = header
    frame = _numeric(text, where, positions, names)
    frame["open_time"] = _times_ms(frame["open_time"].to_numpy(), where, frame.attrs["line0"])
    if "volume" not in frame:
        frame["volume"] = 0.0
    return frame


def read_funding(path: str | Path, label: object = None) -> pd.DataFrame:
    """Funding events: ``funding_time`` (int64 ms, floored to the hour) and ``funding_rate``.

    Accepts the archive ``calc_time,funding_interval_hours,last_funding_rate`` (headered or not),
    the tidy layout (plus a ``source`` column) and ``funding_time,funding_rate``.
    """
    text = read_text(path, label)
    where = path if label is None else label  # errors name the label
    header, _, _ = _split_header(text)
    if header is None:
        names = ["calc_time", "funding_interval_hours", "last_funding_rate"]
        positions = {"funding_time": 0, "funding_rate": 2}
    else:
        names = header
        positions = _header_positions(
            header, {"funding_time": _FUNDING_TIME, "funding_rate": _FUNDING_RATE}, where
        )
    frame = _numeric(text, where, positions, names)
    stamps = _times_ms(frame["funding_time"].to_numpy(), where, frame.attrs["line0"])
    frame["funding_time"] = stamps // HOUR_MS * HOUR_MS
    return frame
