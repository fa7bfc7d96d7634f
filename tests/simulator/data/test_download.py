"""The downloader against a real HTTP server on 127.0.0.1 serving an archive tree built by the test."""

from __future__ import annotations

import hashlib
import http.server
import struct
import threading
import tracemalloc
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from archive_fixtures import T0_MS, kline_rows, write_zip
from pmsim.simulator.data.archive import ArchiveFile
from pmsim.simulator.data.cache import Cache, SeriesKey
from pmsim.simulator.data.download import Fetcher
from pmsim.simulator.data.fetch import FetchFailed, Request, fetch_history
from pmsim.simulator.errors import ChecksumError, DataError

MONTH = 31 * 24


class Archive:
    """Files served by path; ``faults[path]`` is a list of faults applied to successive requests."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, list[str]] = defaultdict(list)
        self.hits: dict[str, int] = defaultdict(int)

    def add(self, file: ArchiveFile, data: bytes, checksum: bytes | None = None) -> None:
        self.files["/" + file.path] = data
        digest = checksum or hashlib.sha256(data).hexdigest().encode()
        self.files["/" + file.path + ".CHECKSUM"] = digest + b"  " + file.name.encode() + b"\n"


@pytest.fixture
def archive() -> Iterator[tuple[Archive, str]]:
    served = Archive()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            served.hits[self.path] += 1
            fault = served.faults[self.path].pop(0) if served.faults[self.path] else None
            body = served.files.get(self.path)
            if fault == "500" or body is None:
                self.send_response(500 if fault == "500" else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if fault == "truncate" else body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _zip(tmp_path: Path, name: str, start_ms: int, n: int) -> bytes:
    return write_zip(tmp_path / name, kline_rows(n, start_ms=start_ms)).read_bytes()


def _monthly(month: str) -> ArchiveFile:
    return ArchiveFile("um", "monthly", "klines", "BTCUSDT", "1h", month)


def test_fetch_verifies_retries_falls_back_and_reports_holes(tmp_path, archive):
    served, url = archive
    jan, feb = _monthly("2020-01"), _monthly("2020-02")
    served.add(jan, _zip(tmp_path, jan.name, T0_MS, MONTH))
    served.faults["/" + jan.path] = ["500", "truncate"]  # a 500, then a truncated body, then success
    # February has no monthly file (404): daily files stand in, and 2020-02-02 is missing (a hole).
    feb_start = T0_MS + MONTH * 3_600_000
    for day in feb.daily()[:3]:
        if day.date != "2020-02-02":
            offset = int(day.date[-2:]) - 1
            served.add(day, _zip(tmp_path, day.name, feb_start + offset * 86_400_000, 24))
    cache = Cache(tmp_path / "cache")
    request = Request(("BTCUSDT",), ("klines",), "1h", "2020-01", "2020-02")
    report, built = fetch_history(request, cache, url, progress=False, workers=2)

    assert served.hits["/" + jan.path] == 3
    assert sorted(report.downloaded) == sorted([jan.path, feb.daily()[0].path, feb.daily()[2].path])
    assert report.holes == [d.path for d in feb.daily()[1:2] + feb.daily()[3:]]
    assert not report.failures
    series = built[SeriesKey("um", "klines", "BTCUSDT", "1h")]
    assert series.rows == MONTH + 48 and [(g.missing) for g in series.gaps] == [24]
    assert len(cache.read(SeriesKey("um", "klines", "BTCUSDT", "1h"))) == MONTH + 48

    again, _ = fetch_history(request, cache, url, progress=False)  # resume: verified files are skipped
    assert not again.downloaded and len(again.skipped) == 3


def test_wrong_checksum_is_a_one_line_failure_and_nothing_is_written(tmp_path, archive):
    served, url = archive
    jan = _monthly("2020-01")
    served.add(jan, _zip(tmp_path, jan.name, T0_MS, 24), checksum=b"0" * 64)
    fetcher = Fetcher(url, tmp_path / "cache", retries=1, backoff_s=0.01, progress=False)
    report = fetcher.fetch([jan])
    assert len(report.failures) == 1 and isinstance(report.failures[0], ChecksumError)
    message = str(report.failures[0])
    assert "\n" not in message and jan.name in message and "differs from the published" in message
    assert not fetcher.local_path(jan).exists()
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_unreachable_base_url(tmp_path):
    fetcher = Fetcher("http://127.0.0.1:9/", tmp_path / "cache", retries=1, backoff_s=0.01, progress=False)
    with pytest.raises(DataError, match=r"cannot reach http://127.0.0.1:9/") as exc:
        fetcher.fetch([_monthly("2020-01")])
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "cache").exists()


def _bars_zip(tmp_path: Path, file: ArchiveFile, rows: list[str]) -> bytes:
    return write_zip(tmp_path / file.name, rows).read_bytes()


def test_a_valid_checksum_with_bad_content_leaves_the_good_raw_file_in_place(tmp_path, archive):
    served, url = archive
    jan = _monthly("2020-01")
    served.add(jan, _bars_zip(tmp_path, jan, kline_rows(24)))
    cache = Cache(tmp_path / "cache")
    request = Request(("BTCUSDT",), ("klines",), "1h", "2020-01", "2020-01")
    fetch_history(request, cache, url, progress=False)
    before = {p: p.read_bytes() for p in cache.root.rglob("*") if p.is_file()}
    # The archive now serves a file whose published checksum matches it, but row 6 has high < low.
    rows = kline_rows(24)
    fields = rows[4].split(",")
    rows[4] = ",".join([fields[0], "104", "95", "99", *fields[4:]])
    served.add(jan, _bars_zip(tmp_path / "..", jan, rows))
    with pytest.raises(FetchFailed) as exc:
        fetch_history(request, cache, url, progress=False)
    message = str(exc.value)
    assert "\n" not in message and f"{url}{jan.path}, row 5: high 95.0 < low 99.0" in message
    assert len(exc.value.report.failures) == 1 and not exc.value.report.downloaded
    assert {p: p.read_bytes() for p in cache.root.rglob("*") if p.is_file()} == before
    with cache.reading():  # still whole, still the good series
        assert cache.read(SeriesKey("um", "klines", "BTCUSDT", "1h"))["high"].iloc[4] == 106


def _bomb(path: Path, member: str, size: int) -> Path:
    """A zip whose one member inflates to ``size`` bytes of zeros, written in chunks."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(member, "w") as out:
        chunk = b"0" * 2**20
        for _ in range(size // len(chunk)):
            out.write(chunk)
    return path


def test_a_zip_bomb_is_refused_in_one_line_without_inflating_it_in_memory(tmp_path, archive):
    served, url = archive
    jan = _monthly("2020-01")
    bomb = _bomb(tmp_path / jan.name, "BTCUSDT-1h-2020-01.csv", 300 * 2**20).read_bytes()
    assert len(bomb) < 2 * 2**20  # 300 MB of content in well under 2 MB
    served.add(jan, bomb)
    fetcher = Fetcher(url, tmp_path / "cache", retries=0, progress=False)
    tracemalloc.start()
    report = fetcher.fetch([jan])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(report.failures) == 1
    message = str(report.failures[0])
    assert (
        "\n" not in message and "inflates to 314572800 bytes, over the 64 MiB cap per zip member" in message
    )
    assert peak < 16 * 2**20, peak  # streamed: nowhere near the 300 MB it would inflate to
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_a_member_whose_header_understates_its_size_is_a_corrupt_zip(tmp_path):
    from pmsim.simulator.data.readers import read_bars

    path = _bomb(tmp_path / "BTCUSDT-1h-2020-01.zip", "BTCUSDT-1h-2020-01.csv", 8 * 2**20)
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 22, 1000)  # local header: uncompressed size
    struct.pack_into("<I", data, data.rfind(b"PK\x01\x02") + 24, 1000)  # central directory: the same
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"truncated or corrupt zip \(Bad CRC-32"):
        read_bars(path)


def test_a_truncated_zip_with_a_matching_checksum_is_refused(tmp_path, archive):
    served, url = archive
    jan = _monthly("2020-01")
    whole = _bars_zip(tmp_path, jan, kline_rows(500))
    served.add(jan, whole[: len(whole) // 2])
    report = Fetcher(url, tmp_path / "cache", retries=0, progress=False).fetch([jan])
    assert len(report.failures) == 1 and "truncated or corrupt zip" in str(report.failures[0])
