"""The cache: manifest written last, partial caches refused, one writer at a time, no silent skips."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess

import pytest
from archive_fixtures import tidy_rows, write_tidy
from pmsim.simulator.data.cache import MANIFEST, Cache, SeriesKey
from pmsim.simulator.data.importer import TidyFolder, import_folder
from pmsim.simulator.errors import DataError

SERIES = {
    "binance-um/klines/1h/BTCUSDT.csv": tidy_rows([100.0 + i for i in range(10)]),
    "binance-um/klines/1h/ETHUSDT.csv": tidy_rows([10.0 + i for i in range(10)]),
}
BTC = SeriesKey("um", "klines", "BTCUSDT", "1h")


@pytest.fixture
def cache(tmp_path) -> Cache:
    cache = Cache(tmp_path / "cache")
    import_folder(write_tidy(tmp_path / "tidy", SERIES, contracts=False), cache)
    return cache


def test_the_manifest_lists_every_table_with_size_and_sha256(cache):
    manifest = json.loads((cache.root / MANIFEST).read_text())
    assert sorted(manifest["tables"]) == [
        "binance-um/klines/BTCUSDT/1h.parquet",
        "binance-um/klines/ETHUSDT/1h.parquet",
    ]
    entry = manifest["tables"]["binance-um/klines/BTCUSDT/1h.parquet"]
    assert entry["bytes"] == cache.path(BTC).stat().st_size and len(entry["sha256"]) == 64
    with cache.reading():
        assert len(cache.read(BTC)) == 10


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda c: (c.root / MANIFEST).unlink(), "partial cache: no manifest.json"),
        (lambda c: c.path(BTC).unlink(), "1h.parquet is listed in but missing from manifest.json"),
        (lambda c: c.path(BTC).write_bytes(b"half a table"), "BTCUSDT/1h.parquet differs from manifest.json"),
        (
            lambda c: c.write(SeriesKey("um", "klines", "SOLUSDT", "1h"), c.read(BTC)),
            "SOLUSDT/1h.parquet is not in manifest.json",
        ),
        (lambda c: (c.root / MANIFEST).write_text("[]"), "not a pmsim-cache/1 manifest"),
    ],
    ids=["no manifest", "missing table", "changed table", "extra table", "foreign manifest"],
)
def test_a_partial_cache_is_detected_in_one_line(cache, damage, message):
    damage(cache)
    with pytest.raises(DataError) as exc, cache.reading():
        pass
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_a_disk_full_import_leaves_a_cache_that_is_refused_not_used(cache, tmp_path, monkeypatch):
    changed = {**SERIES, "binance-um/klines/1h/BTCUSDT.csv": tidy_rows([300.0 + i for i in range(10)])}
    source = write_tidy(tmp_path / "tidy2", changed, contracts=False)
    real_write = Cache._write_table
    writes = []

    def fill_up(path, frame):  # noqa: ANN001, ANN202
        writes.append(path)
        if len(writes) == 2:
            raise DataError(f"cannot write the cache ({os.strerror(errno.ENOSPC)})", file=path)
        return real_write(path, frame)

    monkeypatch.setattr(Cache, "_write_table", staticmethod(fill_up))
    with pytest.raises(DataError, match="No space left"):
        import_folder(source, cache)
    monkeypatch.undo()
    partial = r"partial cache: binance-um/klines/BTCUSDT/1h.parquet differs"
    with pytest.raises(DataError, match=partial), cache.reading():
        pass
    import_folder(source, cache)  # a re-run repairs it
    with cache.reading():
        assert cache.read(BTC)["close"].iloc[0] == 300.0


def test_a_second_writer_fails_at_once_with_locked_and_readers_wait_for_none(cache):
    with cache.writing():
        locked = r"cache is locked: another `pmsim data import` or `fetch`"
        with pytest.raises(DataError, match=locked), Cache(cache.root).writing():
            pass
        with pytest.raises(DataError, match="cache is locked"), Cache(cache.root).reading():
            pass
    with cache.reading(), Cache(cache.root).reading():  # readers share
        pass


def test_leftover_temporaries_are_cleared_by_the_next_writer(cache):
    leftover = cache.path(BTC).with_name(".1h.parquet.abc123.tmp")
    leftover.write_bytes(b"killed mid-write")
    with cache.reading():  # not a table: the cache is still whole
        pass
    with cache.writing():
        pass
    assert not leftover.exists()


def test_a_folder_pmsim_did_not_write_is_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(DataError, match="refusing to write a cache into a folder pmsim did not write"):
        import_folder(write_tidy(tmp_path / "tidy", SERIES, contracts=False), Cache(tmp_path / "mine"))
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["thesis.tex"]


def test_an_unreadable_subfolder_is_an_error_not_skipped(tmp_path, monkeypatch):
    tidy = write_tidy(tmp_path / "tidy", SERIES, contracts=False)
    locked = tidy / "binance-um" / "markPriceKlines"
    locked.mkdir()
    real_scandir = os.scandir

    def scandir(path):  # noqa: ANN001, ANN202  (chmod 000 does not stop root, so refuse as the kernel would)
        if os.fspath(path) == os.fspath(locked):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(DataError, match=r"markPriceKlines: cannot read folder \(Permission denied\)"):
        TidyFolder(tidy)


KILL_ON_SECOND_WRITE = """
import os, signal, sys
from pmsim.simulator.data.cache import Cache
from pmsim.simulator.data.importer import import_folder
real, writes = Cache._write_table, []
def write(path, frame):
    writes.append(path)
    if len(writes) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(path, frame)
Cache._write_table = staticmethod(write)
import_folder(sys.argv[1], Cache(sys.argv[2]))
"""


def test_an_import_killed_between_two_tables_is_reported_by_list_and_never_used(cache, tmp_path):
    from tests.reliability.harness import pmsim_command, pmsim_env

    changed = {**SERIES, "binance-um/klines/1h/BTCUSDT.csv": tidy_rows([300.0 + i for i in range(10)])}
    source = write_tidy(tmp_path / "tidy2", changed, contracts=False)
    python = pmsim_command()[0]
    argv = [python, "-c", KILL_ON_SECOND_WRITE, str(source), str(cache.root)]
    killed = subprocess.run(argv, env=pmsim_env(), capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    for command in (("data", "list", "--cache", str(cache.root)), ("data", "validate", str(cache.root))):
        done = subprocess.run(pmsim_command(*command), env=pmsim_env(), capture_output=True, text=True)
        assert done.returncode == 2 and done.stdout == "", (done.returncode, done.stdout)
        assert (
            done.stderr.count("\n") == 1
            and "partial cache: binance-um/klines/BTCUSDT/1h.parquet" in done.stderr
        )
