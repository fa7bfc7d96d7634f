"""Download archive files into the raw cache, verified against their published ``.CHECKSUM``.

Each monthly file is fetched with its ``<file>.zip.CHECKSUM`` (``<sha256 hex>  <file name>``); a file
already on disk whose sha256 matches the published one is skipped (resume, and re-download when the
archive replaced a file). A missing monthly kline file falls back to its daily files; what is still
missing is reported as a hole. Transient failures (5xx, dropped or truncated bodies, wrong checksum)
are retried with exponential back-off. Files land under ``{cache}/raw/`` mirroring the archive path,
written atomically; nothing is ever written outside the cache.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import logging
import re
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from pmsim.simulator.atomic import write_bytes, write_text
from pmsim.simulator.data.archive import ArchiveFile
from pmsim.simulator.data.readers import check_member_names
from pmsim.simulator.errors import ChecksumError, DataError

log = logging.getLogger(__name__)
RAW = "raw"
_CHECKSUM_LINE = re.compile(r"^([0-9a-fA-F]{64})\s+\*?(\S+)\s*$")


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


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_checksum(text: str, expected_name: str, url: str) -> str:
    """The hex digest from a ``.CHECKSUM`` file naming ``expected_name``."""
    match = _CHECKSUM_LINE.match(text.strip())
    if not match or Path(match.group(2)).name != expected_name:
        raise DataError(f"not a CHECKSUM line for {expected_name}: {text.strip()[:120]!r}", file=url)
    return match.group(1).lower()


def check_zip(data: bytes, where: str) -> None:
    """Raise unless ``data`` is a complete zip with safe member names."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_member_names(archive.namelist(), where)
            bad = archive.testzip()
    except zipfile.BadZipFile as exc:
        raise DataError(f"truncated or corrupt zip ({exc})", file=where) from exc
    if bad is not None:
        raise DataError(f"zip member {bad} fails its CRC check", file=where)


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
        self.raw_root = (Path(cache_root) / RAW).resolve()
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
            checksum_text = self._get(url + ".CHECKSUM")
            if checksum_text is None:
                return None
            digest = parse_checksum(checksum_text.decode("utf-8", "replace"), file.name, url + ".CHECKSUM")
            target = self.local_path(file)
            if target.exists() and sha256(target.read_bytes()) == digest:
                report.skipped.append(file.path)
                return True
            data = self._get(url, verify=lambda body: self._verify(body, digest, url))
            if data is None:
                return None
            write_bytes(target, data)
            write_text(target.with_name(target.name + ".CHECKSUM"), checksum_text.decode("utf-8"))
            report.downloaded.append(file.path)
        except Unreachable:
            raise
        except DataError as exc:
            report.failures.append(exc)
        return True

    @staticmethod
    def _verify(body: bytes, digest: str, url: str) -> None:
        if sha256(body) != digest:
            raise ChecksumError(
                f"sha256 {sha256(body)[:16]}… differs from the published {digest[:16]}…", file=url
            )
        check_zip(body, url)

    def _get(self, url: str, verify: Callable[[bytes], None] | None = None) -> bytes | None:
        """GET ``url`` with retries; None on 404. ``verify`` failures are retried like transport errors."""
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                with urllib.request.urlopen(url, timeout=self.timeout_s) as response:
                    body = response.read()
                if verify is not None:
                    verify(body)
                return body
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
            except (http.client.IncompleteRead, ConnectionError, TimeoutError) as exc:
                last = exc
            except DataError as exc:
                last = exc
            log.info("retrying %s after %s", url, last)
        if isinstance(last, DataError):
            raise last
        if isinstance(last, http.client.IncompleteRead):
            raise DataError(
                f"truncated body after {self.retries + 1} tries ({len(last.partial)} bytes read)", file=url
            )
        raise DataError(f"failed after {self.retries + 1} tries ({last})", file=url)
