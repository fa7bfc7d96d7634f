"""Fault-injection rows for the data path: archives, caches, ``--data`` folders and data CLI flags.

Fetch rows download from a loopback HTTP server (started with this module) that serves files by
their absolute path, so ``--base-url http://127.0.0.1:PORT{dir}/archive/`` reaches the case's own
``archive/`` folder. Rows that need a good cache first build it in ``setup``; the harness then checks
that the failed command left every file (the good raw zip, its series, the manifest) untouched.
"""

from __future__ import annotations

import fcntl
import hashlib
import http.server
import io
import os
import threading
import zipfile
from pathlib import Path

import pytest
from pmsim.simulator.data.archive import ArchiveFile
from pmsim.simulator.data.cache import MANIFEST, Cache
from pmsim.simulator.data.fetch import Request, fetch_history
from pmsim.simulator.data.importer import import_folder

from tests.reliability.harness import GOOD_CONFIG, Case, check


class _ByAbsolutePath(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = Path(self.path)
        body = path.read_bytes() if path.is_file() else None
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        pass


_SERVER = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ByAbsolutePath)
threading.Thread(target=_SERVER.serve_forever, daemon=True).start()
BASE_URL = f"http://127.0.0.1:{_SERVER.server_address[1]}{{dir}}/archive/"

HOUR_MS, T0_MS = 3_600_000, 1_704_067_200_000  # 2024-01-01 00:00 UTC
JAN = ArchiveFile("um", "monthly", "klines", "BTCUSDT", "1h", "2024-01")
MONTHS = ("data", "fetch", "--symbols", "BTCUSDT", "--types", "klines", "--cache", "cache")
FETCH = (*MONTHS, "--start", "2024-01", "--end", "2024-01")
FETCH_HERE = (*FETCH, "--base-url", BASE_URL)
TIDY_HEADER = "open_time,open,high,low,close,volume"
LOCKS: list[int] = []  # descriptors held open by 'locked' setups for the rest of the session


def _rows(n: int = 48) -> list[str]:
    """Archive kline rows: open 100+i, high +2, low -1, close +1."""
    return [
        f"{t},{100 + i},{102 + i},{99 + i},{101 + i},1,{t + HOUR_MS - 1},1,1,1,1,0"
        for i, t in enumerate(range(T0_MS, T0_MS + n * HOUR_MS, HOUR_MS))
    ]


def _zip(rows: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(JAN.name.replace(".zip", ".csv"), "\n".join(rows) + "\n")
    return buffer.getvalue()


def _serve(root: Path, data: bytes, digest: str | None = None) -> None:
    target = root / "archive" / JAN.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    digest = digest or hashlib.sha256(data).hexdigest()
    target.with_name(JAN.name + ".CHECKSUM").write_text(f"{digest}  {JAN.name}\n")


def _good_cache_then_serve(data: bytes, digest: str | None = None):  # noqa: ANN202
    """Setup: fetch a good January into ``cache``, then make the archive serve ``data`` instead."""

    def setup(root: Path) -> None:
        _serve(root, _zip(_rows()))
        url = BASE_URL.replace("{dir}", str(root))
        fetch_history(
            Request(("BTCUSDT",), ("klines",), "1h", "2024-01", "2024-01"), Cache(root / "cache"), url
        )
        _serve(root, data, digest)

    return setup


def _bomb(root: Path) -> None:
    """Serve a 300 kB zip whose member inflates to 300 MiB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("x.csv", "w") as out:
        for _ in range(300):
            out.write(b"0" * 2**20)
    _good_cache_then_serve(buffer.getvalue())(root)


def _hi_lo() -> bytes:
    rows = _rows()
    fields = rows[5].split(",")
    rows[5] = ",".join([fields[0], "105", "95", "99", *fields[4:]])
    return _zip(rows)


def _tidy(rows: list[str]) -> dict[str, str]:
    """A tidy folder ``tidy/`` whose BTCUSDT perp klines are ``rows`` (after the header)."""
    return {"tidy/binance-um/klines/1h/BTCUSDT.csv": "\n".join([TIDY_HEADER, *rows]) + "\n"}


GOOD_TIDY = [f"{T0_MS + i * HOUR_MS},{100 + i},{102 + i},{99 + i},{101 + i},1" for i in range(48)]


def _bad(k: int, row: str) -> list[str]:
    return [*GOOD_TIDY[:k], row, *GOOD_TIDY[k + 1 :]]


def _imported(damage):  # noqa: ANN001, ANN202
    """Setup: import ``tidy/`` into ``cache``, then ``damage(cache_root)`` (a killed import, say)."""

    def setup(root: Path) -> None:
        import_folder(root / "tidy", Cache(root / "cache"))
        damage(root / "cache")

    return setup


def _locked(root: Path) -> None:
    _imported(lambda cache: None)(root)
    fd = os.open(root / "cache", os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another import is writing it
    LOCKS.append(fd)


def _unreadable(root: Path) -> None:
    (root / "tidy" / "binance-um" / "markPriceKlines").mkdir()
    os.chmod(root / "tidy" / "binance-um" / "markPriceKlines", 0)


def _broken_link(root: Path) -> None:
    (root / "tidy" / "binance-um" / "markPriceKlines").symlink_to(root / "gone")


def _swap(a: int, b: int) -> list[str]:
    rows = list(GOOD_TIDY)
    rows[a], rows[b] = rows[b], rows[a]
    return rows


def _cut(root: Path) -> None:
    """A good import whose manifest never got written (killed before its last step)."""
    _imported(lambda cache: (cache / MANIFEST).unlink())(root)


def _half(root: Path) -> None:
    """A good import, then a table cut in half (a disk-full rewrite)."""

    def cut(cache: Path) -> None:
        table = cache / "binance-um" / "klines" / "BTCUSDT" / "1h.parquet"
        table.write_bytes(table.read_bytes()[: table.stat().st_size // 2])

    _imported(cut)(root)


RUN = ("run", "cfg.toml", "--out", "out")
DEMO = ("demo", "--out", "out", "--data")
IMPORT = ("data", "import", "tidy", "--cache", "cache")
GOOD, CONFIG = _tidy(GOOD_TIDY), {"cfg.toml": GOOD_CONFIG}
SERVE = _good_cache_then_serve
GOOD_ZIP, TRUNCATED = _zip(_rows()), _zip(_rows(400))[:900]
LIST, VALIDATE = ("data", "list", "--cache", "cache"), ("data", "validate")
SYMBOL = ("data", "fetch", "--start", "2024-01", "--end", "2024-01", "--cache", "cache", "--symbols")


def _row(k: int, ohlc: str) -> dict[str, str]:
    """A tidy folder whose bar ``k`` (file row k + 2) has the prices ``ohlc`` ("open,high,low,close")."""
    return _tidy(_bad(k, f"{T0_MS + k * HOUR_MS},{ohlc},1"))


def _mkdir(name: str):  # noqa: ANN202
    return lambda root: (root / name).mkdir()


# fmt: off
CASES = [
    # archives fetched from the loopback server: the good raw zip of a first fetch must survive
    Case("fetch bad checksum", FETCH_HERE, "differs from the published", setup=SERVE(GOOD_ZIP, "0" * 64)),
    Case("fetch good checksum, bad content", FETCH_HERE, "row 6: high 95.0 < low 99", setup=SERVE(_hi_lo())),
    Case("fetch zip bomb", FETCH_HERE, "over the 64 MiB cap per zip member", setup=_bomb),
    Case("fetch truncated zip", FETCH_HERE, "truncated or corrupt zip", setup=SERVE(TRUNCATED)),
    Case("fetch not a zip", FETCH_HERE, "truncated or corrupt zip", setup=SERVE(b"<html>busy</html>")),
    # partial or busy caches, and folders that are not pmsim's
    Case("list partial cache", LIST, "partial cache: no manifest", GOOD, _cut),
    Case("validate partial cache", (*VALIDATE, "cache"), "partial cache: no manifest", GOOD, _cut),
    Case("demo --data partial cache", (*DEMO, "cache"), "partial cache: no manifest", GOOD, _cut),
    Case("run --data half-written", (*RUN, "--data", "cache"), "differs from manifest", GOOD | CONFIG, _half),
    Case("import into a locked cache", IMPORT, "cache is locked", GOOD, _locked),
    Case("import into a foreign folder", (*IMPORT[:-1], "mine"), "refusing", GOOD | {"mine/a.txt": "mine"}),
    Case("import unreadable subfolder", IMPORT, "cannot read folder (Permission denied)", GOOD, _unreadable),
    Case("import broken-link subfolder", IMPORT, "markPriceKlines: broken link", GOOD, _broken_link),
    # bad rows in a --data folder or an import
    Case("demo --data duplicates", (*DEMO, "tidy"), "row 6: duplicate bar", _tidy(_bad(4, GOOD_TIDY[3]))),
    Case("run --data unordered", (*RUN, "--data", "tidy"), "row 5: unordered", _tidy(_swap(2, 3)) | CONFIG),
    Case("demo --data high < low", (*DEMO, "tidy"), "row 9: high 90.0 < low 99.0", _row(7, "100,90,99,100")),
    Case("import NaN", IMPORT, "row 3: close is NaN", _row(1, "100,102,99,nan")),
    Case("demo --data inf", (*DEMO, "tidy"), "row 4: high = inf is not finite", _row(2, "100,inf,99,100")),
    Case("price < 0", (*VALIDATE, "tidy"), "row 2: non-positive price: open = -1", _row(0, "-1,0,-2,1")),
    Case("--data folder missing", (*DEMO, "nowhere"), "nowhere: no such folder"),
    Case("--data folder empty", (*DEMO, "empty"), "holds no data", setup=_mkdir("empty")),
    Case("--data is a file", (*RUN, "--data", "cfg.toml"), "cfg.toml: not a folder", CONFIG),
    # data CLI values, refused before any network or disk work (no cache folder appears)
    Case("fetch --start 2024-13", (*MONTHS, "--start", "2024-13", "--end", "2024-12"), "'2024-13' is not a"),
    Case("fetch --end garbage", (*MONTHS, "--start", "2024-01", "--end", "soon"), "'soon' is not a month"),
    Case("fetch start after end", (*MONTHS, "--start", "2024-05", "--end", "2024-01"), "is before --start"),
    Case("fetch --workers 0", (*FETCH, "--workers", "0"), "--workers 0 is out of range"),
    Case("fetch --workers -3", (*FETCH, "--workers", "-3"), "--workers -3 is out of range"),
    Case("fetch unknown symbol", (*SYMBOL, "NOPE"), "unknown symbol 'NOPE'"),
    Case("fetch dated symbol", (*SYMBOL, "BTCUSDT_240329"), "add --quarterlies"),
    Case("fetch unknown type", (*FETCH, "--types", "trades"), "unknown data type 'trades'"),
    Case("fetch unknown interval", (*FETCH, "--interval", "7m"), "unknown interval '7m'"),
    Case("fetch ftp base url", (*FETCH, "--base-url", "ftp://example.org/"), "not an http:// or https://"),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=str)
def test_data_fault(case: Case, tmp_path: Path) -> None:
    if case.setup is _unreadable and os.geteuid() == 0:
        pytest.skip("chmod 000 does not stop root; tests/simulator/data/test_cache.py covers it in-process")
    check(case, tmp_path)
