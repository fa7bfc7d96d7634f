"""Download archive files into the raw cache, verified against their published ``.CHECKSUM``.

Each monthly file is fetched with its ``<file>.zip.CHECKSUM`` (``<sha256 hex>  <file name>``); a file
already on disk whose sha256 matches the published one is skipped (resume, and re-download when the
archive replaced a file). A missing monthly kline file falls back to its daily files; what is still
missing is reported as a hole. Transient failures (5xx, dropped or truncated bodies, wrong checksum)
are retried with exponential back-off.

A download is streamed into a temporary file in the cache root (never held in memory, at most
``MAX_DOWNLOAD_BYTES``), checked against the checksum, then opened, inflated in chunks under the
per-member cap (``readers.MAX_MEMBER_BYTES``), parsed and validated like any other file. Only then
does it replace the cached file, so a download with a valid checksum but bad content leaves the good
file in place. Files land under ``{cache}/raw/`` mirroring the archive path; nothing is ever
written outside the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import os
import re
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pmsim.simulator.atomic import write_text
from pmsim.simulator.data.archive import ArchiveFile
from pmsim.simulator.data.cache import RAW, file_sha256
from pmsim.simulator.data.readers import MAX_MEMBER_BYTES, read_bars, read_funding
from pmsim.simulator.data.validate import check_series
from pmsim.simulator.errors import ChecksumError, DataError

log = logging.getLogger(__name__)
_CHECKSUM_LINE = re.compile(r"^([0-9a-fA-F]{64})\s+\*?(\S+)\s*$")
# A compressed archive file is smaller than what it inflates to, so the member cap bounds it too.
MAX_DOWNLOAD_BYTES = MAX_MEMBER_BYTES
MAX_CHECKSUM_BYTES = 4096
_CHUNK = 2**20
T = TypeVar("T")


class Unreachable(DataError):
    """The base URL cannot be reached at all: fetching stops at once."""


@dataclass
class FetchReport:
    """What a fetch did: archive paths downloaded, skipped (already verified), missing, failed."""

    downloaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    holes: list[str] = field(default_factory=list)
    failures: list[DataError] = field(default_factory=list)

    def merge(self, other: FetchReport) -> None:
        for name in ("downloaded", "skipped", "holes", "failures"):
            getattr(self, name).extend(getattr(other, name))


def parse_checksum(text: str, expected_name: str, url: str) -> str:
    """The hex digest from a ``.CHECKSUM`` file naming ``expected_name``."""
    match = _CHECKSUM_LINE.match(text.strip())
    if not match or Path(match.group(2)).name != expected_name:
        raise DataError(f"not a CHECKSUM line for {expected_name}: {text.strip()[:120]!r}", file=url)
    return match.group(1).lower()


class Fetcher:
    """Fetch archive files from ``base_url`` into ``{cache}/raw`` with ``workers`` threads."""

    def __init__(
        self,
        base_url: str,
        cache_root: str | Path,
        *,
        workers: int = 4,
        retries: int = 3,
        backoff_s: float = 0.5,
        timeout_s: float = 30.0,
        progress: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.cache_root = Path(cache_root).resolve()
        self.raw_root = self.cache_root / RAW
        self.workers, self.retries, self.backoff_s = workers, retries, backoff_s
        self.timeout_s, self.progress = timeout_s, progress

    def local_path(self, file: ArchiveFile) -> Path:
        """Where ``file`` is kept; refuses any path that would leave the raw cache."""
        target = (self.raw_root / file.path).resolve()
        if not target.is_relative_to(self.raw_root):
            raise DataError("archive path leaves the cache; refusing it", file=file.path)
        return target

    def fetch(self, files: list[ArchiveFile]) -> FetchReport:
        """Fetch ``files`` in parallel; unreachable hosts raise, other failures are reported."""
        from tqdm import tqdm

        report = FetchReport()
        with (
            ThreadPoolExecutor(max_workers=self.workers) as pool,
            tqdm(total=len(files), unit="file", desc="fetch", disable=not self.progress) as bar,
        ):
            futures = [pool.submit(self._fetch_monthly, f) for f in files]
            try:
                for future in as_completed(futures):
                    report.merge(future.result())
                    bar.update()
            except Unreachable:
                for future in futures:
                    future.cancel()
                raise
        return report

    def _fetch_monthly(self, file: ArchiveFile) -> FetchReport:
        report = FetchReport()
        if self._fetch_file(file, report) is None:
            daily = file.daily()
            if not daily:
                report.holes.append(file.path)
            for day in daily:
                if self._fetch_file(day, report) is None:
                    report.holes.append(day.path)
        return report

    def _fetch_file(self, file: ArchiveFile, report: FetchReport) -> bool | None:
        """Fetch one file; None if the archive has no such file, else True (a failure is recorded)."""
        url = self.base_url + file.path
        try:
            checksum_bytes = self._get(url + ".CHECKSUM", _read_small)
            if checksum_bytes is None:
                return None
            checksum_text = checksum_bytes.decode("utf-8", "replace")
            digest = parse_checksum(checksum_text, file.name, url + ".CHECKSUM")
            target = self.local_path(file)
            if target.exists() and file_sha256(target) == digest:
                report.skipped.append(file.path)
                return True
            with _temporary(self.cache_root, target.name) as tmp:
                if self._get(url, lambda response: _stream(response, tmp, digest, url)) is None:
                    return None
                check_file(tmp, file, url)
                _replace(tmp, target)
            write_text(target.with_name(target.name + ".CHECKSUM"), checksum_text)
            report.downloaded.append(file.path)
        except Unreachable:
            raise
        except DataError as exc:
            report.failures.append(exc)
        return True

    def _get(self, url: str, consume: Callable[[http.client.HTTPResponse], T]) -> T | None:
        """GET ``url`` and ``consume`` the response, with retries; None on 404.

        A ``DataError`` from ``consume`` (wrong checksum, truncated body) is retried like a transport error.
        """
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                with urllib.request.urlopen(url, timeout=self.timeout_s) as response:
                    return consume(response)
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return None
                last = exc
                if exc.code < 500 and exc.code != 429:
                    break
            except urllib.error.URLError as exc:
                last = exc
                if attempt == self.retries:
                    raise Unreachable(f"cannot reach {self.base_url} ({exc.reason})", file=url) from exc
            except (http.client.HTTPException, ConnectionError, TimeoutError, DataError) as exc:
                last = exc
            log.info("retrying %s after %s", url, last)
        if isinstance(last, DataError):
            raise last
        raise DataError(f"failed after {self.retries + 1} tries ({last})", file=url)


def check_file(path: Path, file: ArchiveFile, label: str) -> None:
    """Parse and validate a downloaded archive file as its data type; errors name ``label`` (the URL)."""
    if file.data_type == "fundingRate":
        frame = read_funding(path, label)
    else:
        frame = read_bars(path, file.venue, label)
    check_series(file.data_type, file.interval or "", frame)


def _read_small(response: http.client.HTTPResponse) -> bytes:
    body = response.read(MAX_CHECKSUM_BYTES + 1)
    if len(body) > MAX_CHECKSUM_BYTES:
        raise DataError(f"a CHECKSUM file over {MAX_CHECKSUM_BYTES} bytes", file=response.geturl())
    return body


def _stream(response: http.client.HTTPResponse, tmp: Path, digest: str, url: str) -> bool:
    """Write the body into ``tmp`` in chunks, hashing it; raise on truncation, overflow or checksum."""
    expected = response.getheader("Content-Length")
    hasher, size = hashlib.sha256(), 0
    with tmp.open("wb") as out:
        while chunk := response.read(_CHUNK):
            size += len(chunk)
            if size > MAX_DOWNLOAD_BYTES:
                raise DataError(f"download exceeds {MAX_DOWNLOAD_BYTES / 2**20:g} MiB; refusing it", file=url)
            hasher.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if expected is not None and size < int(expected):
        raise DataError(f"truncated body ({size} of {expected} bytes)", file=url)
    if hasher.hexdigest() != digest:
        raise ChecksumError(
            f"sha256 {hasher.hexdigest()[:16]}… differs from the published {digest[:16]}…", file=url
        )
    return True


@contextlib.contextmanager
def _temporary(folder: Path, name: str) -> Iterator[Path]:
    """A temporary ``.zip`` in ``folder`` (readers know zips by suffix), removed unless moved away.

    It sits in the cache root, so no folder is created for a download that fails its checks.
    """
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part.zip", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _replace(tmp: Path, target: Path) -> None:
    """Move the checked ``tmp`` onto ``target`` and make the rename durable."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)
    folder = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
