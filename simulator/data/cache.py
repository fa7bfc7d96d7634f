"""The local Parquet cache of real history, one file per venue / data type / symbol / interval.

Layout: ``{root}/binance-{venue}/{data_type}/{symbol}/{interval}.parquet`` (funding, which has no
interval, is ``.../fundingRate/{symbol}/events.parquet``) plus ``binance-um/contracts.parquet``,
the dated-contract catalog, ``raw/`` (downloaded archive zips) and ``manifest.json``. The default
root is ``datasets/cache`` (ignored by git).

Consistency: each table is written atomically, and an import or fetch writes ``manifest.json``
(size and sha256 of every table) atomically and last. A cache whose tables do not match its
manifest, or that has none, is partial (a killed or disk-full import) and is refused, never read.
Writers take an exclusive lock on the cache folder, readers a shared one; neither waits: a second
writer fails at once with a one-line "locked" error. Failing fast is chosen over waiting because a
fetch can run for hours and a waiting import would then silently overwrite what it just fetched;
the user re-runs when the first has finished.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pmsim.simulator.atomic import atomic_path, write_text
from pmsim.simulator.data.archive import DATA_TYPES, VENUES, check_choice, venue_dir
from pmsim.simulator.errors import DataError
from pmsim.simulator.paths import DATASETS

DEFAULT_CACHE = DATASETS / "cache"
EVENTS = "events"
CONTRACTS_FILE = "contracts.parquet"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "pmsim-cache/1"
RAW = "raw"
RERUN = "re-run `pmsim data import` or `pmsim data fetch` into it"
# pmsim's own temporaries (atomic writes, downloads being checked); a killed writer leaves them.
TEMPORARY_SUFFIXES = (".tmp", ".part.zip")


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in chunks."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def walk_files(root: Path) -> Iterator[Path]:
    """Every file below ``root`` (sorted per folder); an unreadable folder or a broken link is an error,
    never skipped."""

    def refuse(exc: OSError) -> None:
        raise DataError(f"cannot read folder ({exc.strerror or exc})", file=exc.filename) from exc

    for folder, dirs, files in os.walk(root, onerror=refuse):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder, name)
            if path.is_symlink() and not path.exists():
                raise DataError("broken link: its target does not exist", file=path)
            yield path


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
    """Read and write series under ``root``; use ``reading()`` and ``writing()`` around whole operations."""

    def __init__(self, root: str | Path = DEFAULT_CACHE) -> None:
        self.root = Path(root)

    def tables(self) -> list[Path]:
        """Every table (series and contract catalog) held, as paths relative to the root."""
        if not self.root.is_dir():
            return []
        return [
            p.relative_to(self.root)
            for p in walk_files(self.root)
            if p.suffix == ".parquet" and not p.name.startswith(".") and p.parts[len(self.root.parts)] != RAW
        ]

    def holds_anything(self) -> bool:
        """True if the folder holds a manifest, a table or downloads: pmsim wrote here."""
        return (self.root / MANIFEST).exists() or (self.root / RAW).exists() or bool(self.tables())

    def check(self) -> None:
        """Raise a one-line DataError unless every table matches the manifest (see the module doc)."""
        manifest = self.root / MANIFEST
        if not manifest.exists():
            raise DataError(
                f"partial cache: no {MANIFEST} (an import or fetch was interrupted, or an older pmsim "
                f"wrote it); {RERUN}",
                file=self.root,
            )
        try:
            recorded = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"unreadable cache manifest ({exc}); {RERUN}", file=manifest) from exc
        recorded = recorded if isinstance(recorded, dict) else {}
        tables = recorded.get("tables")
        if recorded.get("format") != MANIFEST_FORMAT or not isinstance(tables, dict):
            raise DataError(f"not a {MANIFEST_FORMAT} manifest; {RERUN}", file=manifest)
        held = {str(p) for p in self.tables()}
        for name in sorted(held ^ set(tables)):
            state = "is not in" if name in held else "is listed in but missing from"
            raise DataError(
                f"partial cache: {name} {state} {MANIFEST} (an import or fetch was interrupted); {RERUN}",
                file=self.root,
            )
        for name, entry in sorted(tables.items()):
            if _fingerprint(self.root / name) != entry:
                raise DataError(
                    f"partial cache: {name} differs from {MANIFEST} (an import or fetch was "
                    f"interrupted); {RERUN}",
                    file=self.root,
                )

    def write_manifest(self) -> None:
        tables = {str(p): _fingerprint(self.root / p) for p in self.tables()}
        write_text(self.root / MANIFEST, json.dumps({"format": MANIFEST_FORMAT, "tables": tables}, indent=1))

    @contextlib.contextmanager
    def reading(self) -> Iterator[Cache]:
        """Hold a shared lock and check the manifest: the cache is whole while the block reads it."""
        with self._lock(fcntl.LOCK_SH):
            self.check()
            yield self

    @contextlib.contextmanager
    def writing(self) -> Iterator[Cache]:
        """Hold the exclusive lock; clear leftover temporaries; on success write the manifest, last."""
        if self.root.exists() and not self.root.is_dir():
            raise DataError("the cache is not a folder", file=self.root)
        if self.root.is_dir() and not self.holds_anything() and any(self.root.iterdir()):
            raise DataError(
                "refusing to write a cache into a folder pmsim did not write (it holds other "
                "files); choose an empty or new folder with --cache",
                file=self.root,
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(
                f"cannot create the cache folder ({exc.strerror or exc})", file=self.root
            ) from exc
        with self._lock(fcntl.LOCK_EX):
            for leftover in walk_files(self.root):
                if leftover.name.startswith(".") and leftover.name.endswith(TEMPORARY_SUFFIXES):
                    leftover.unlink(missing_ok=True)
            yield self
            self.write_manifest()

    @contextlib.contextmanager
    def _lock(self, kind: int) -> Iterator[None]:
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise DataError(f"cannot open the cache ({exc.strerror or exc})", file=self.root) from exc
        try:
            try:
                fcntl.flock(fd, kind | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DataError(
                    "cache is locked: another `pmsim data import` or `fetch` is writing it; "
                    "run again when it has finished",
                    file=self.root,
                ) from None
            yield
        finally:
            os.close(fd)

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
        for path in self.tables():
            if len(path.parts) != 4:
                continue  # the contract catalog
            venue = path.parts[0].removeprefix("binance-")
            interval = "" if path.stem == EVENTS else path.stem
            if venue in VENUES and path.parts[1] in DATA_TYPES:
                out.append(SeriesKey(venue, path.parts[1], path.parts[2], interval))
        return sorted(out)

    def write_contracts(self, frame: pd.DataFrame) -> Path:
        return self._write_table(self.root / venue_dir("um") / CONTRACTS_FILE, frame)

    def contracts(self) -> pd.DataFrame | None:
        """Dated-contract catalog: ``symbol``, ``onboard_ms``, ``delivery_ms`` (None if absent)."""
        return self._read_table(self.root / venue_dir("um") / CONTRACTS_FILE)

    @staticmethod
    def _write_table(path: Path, frame: pd.DataFrame) -> Path:
        table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
        try:
            with atomic_path(path) as tmp:
                pq.write_table(table, tmp)
        except (OSError, pa.ArrowException) as exc:
            raise DataError(
                f"cannot write the cache ({getattr(exc, 'strerror', None) or exc})", file=path
            ) from exc
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


def _fingerprint(path: Path) -> dict[str, object]:
    """Size and sha256 of a table, as the manifest records them (None if it is missing)."""
    if not path.exists():
        return {"bytes": None, "sha256": None}
    return {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
