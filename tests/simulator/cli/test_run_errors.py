"""`pmsim run` on bad config files: one line that says what and where, exit status 2, nothing written."""

import errno
import json

import pytest
from pmsim.simulator.cli import main


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[market]\nsed = 3\n", "unknown key in [market]: 'sed'; did you mean 'seed'?"),
        ("[allocator]\nmur_cap = 1.5\n", "allocator.mur_cap must be in (0, 1]"),
        ("[regime]\nname = 'crosss'\n", "unknown margin regime 'crosss'; did you mean 'cross'?"),
        (
            "[strategy]\nname = 'hold'\nparams = { positions = { DOGEUSDT = 1.0 } }\n",
            "unknown symbol 'DOGEUSDT'",
        ),
        ("[account]\nliquidation = 'sometimes'\n", "account.liquidation must be 'full' or 'partial'"),
        ("[stress]\nshocks = { SOL = -0.3 }\n", "unknown stress.shocks underlying 'SOL'"),
        ("[market\n", "not valid TOML"),
    ],
)
def test_bad_config_is_one_line(tmp_path, capsys, text, message):
    config = tmp_path / "bad.toml"
    config.write_text("name = 'bad'\n" + text + ("[market]\nbars = 300\n" if "[market]" not in text else ""))
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_missing_config_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read config" in capsys.readouterr().err


def _failing(monkeypatch, exc: BaseException) -> None:
    """Make `pmsim run` raise ``exc`` (the handler is looked up when the parser is built)."""
    from pmsim.simulator import commands

    def handler(args):
        raise exc

    monkeypatch.setattr(commands, "_run", handler)


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "runs/x/series.parquet"), "the disk is full"),
        (OSError(errno.EFBIG, "File too large"), "file-size limit"),
        (OSError(errno.EROFS, "Read-only file system", "runs"), "Read-only file system: runs"),
        (PermissionError(errno.EACCES, "Permission denied", "/ro"), "Permission denied: /ro (check the"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "not UTF-8 text"),
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
        (MemoryError(), "out of memory"),
    ],
)
def test_machine_and_file_failures_are_one_line(monkeypatch, capsys, exc, message):
    _failing(monkeypatch, exc)
    assert main(["run", "c.toml"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pmsim: error: ") and message in err[0], err


def test_a_bug_keeps_its_traceback_and_says_so(monkeypatch, capsys):
    _failing(monkeypatch, KeyError("qty"))
    assert main(["run", "c.toml"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'qty'" in err
    assert err.strip().splitlines()[-1].startswith("pmsim: internal error (KeyError); this is a bug in pmsim")


@pytest.mark.parametrize("argv", [["-v", "run", "c.toml"], ["run", "c.toml", "-v"]])
def test_verbose_shows_the_traceback_of_a_user_error(monkeypatch, capsys, argv):
    from pmsim.simulator.errors import ConfigError

    _failing(monkeypatch, ConfigError("market.bars must be at least 2, got 1"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert (
        "Traceback" in err
        and err.strip().splitlines()[-1] == "pmsim: error: market.bars must be at least 2, got 1"
    )


HOURS = 72
T0 = 1_704_067_200_000  # 2024-01-01T00:00Z


def _tidy(root):
    """A tidy data folder holding BTCUSDT hourly bars 2024-01-01 00:00 .. 2024-01-03 23:00 only."""
    path = root / "binance-um" / "klines" / "1h" / "BTCUSDT.csv"
    path.parent.mkdir(parents=True)
    rows = "".join(f"{T0 + h * 3_600_000},100,101,99,100,1\n" for h in range(HOURS))
    path.write_text("open_time,open,high,low,close,volume\n" + rows)
    return root


CONFIG = """\
name = "h"
[market]
symbols = ["BTCUSDT"]
start = "2024-01-01T12:00+02:00"
end = "2024-01-02T10:00"
[strategy]
name = "hold"
params = { positions = { BTCUSDT = 0.1 } }
[stress]
shocks = { BTC = -0.3 }
"""


def test_data_with_the_config_dates_is_a_historical_run_over_them(tmp_path, capsys):
    config, data, out = tmp_path / "c.toml", _tidy(tmp_path / "data"), tmp_path / "out"
    config.write_text(CONFIG)
    assert main(["run", str(config), "--data", str(data), "--out", str(out)]) == 0
    market = json.loads((out / "config.json").read_text())["market"]
    # 12:00 at +02:00 is 10:00 UTC; the window is the config's, not a default year
    assert (market["kind"], market["start"], market["end"]) == (
        "history",
        "2024-01-01T10:00:00",
        "2024-01-02T10:00:00",
    )
    summary = json.loads((out / "summary.json").read_text())["market"]
    assert summary["bars"] == 25 and summary["start"].startswith("2024-01-01T10:00")


def test_start_and_end_flags_override_the_config_dates(tmp_path, capsys):
    config, data, out = tmp_path / "c.toml", _tidy(tmp_path / "data"), tmp_path / "out"
    config.write_text(CONFIG)
    argv = [
        "run",
        str(config),
        "--data",
        str(data),
        "--out",
        str(out),
        "--start",
        "2024-01-03",
        "--end",
        "2024-01-03T05:00",
    ]
    assert main(argv) == 0
    assert json.loads((out / "summary.json").read_text())["market"]["bars"] == 6


def test_a_window_outside_the_data_names_the_range(tmp_path, capsys):
    config, data = tmp_path / "c.toml", _tidy(tmp_path / "data")
    config.write_text(
        CONFIG.replace("2024-01-01T12:00+02:00", "2021-01-01").replace("2024-01-02T10:00", "2021-12-31")
    )
    assert main(["run", str(config), "--data", str(data), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "the window 2021-01-01 .. 2021-12-31T23:00:00 is outside the data" in err
    assert "which covers 2024-01-01T00:00 .. 2024-01-03T23:00 for BTCUSDT" in err
    assert not (tmp_path / "out").exists()


def test_run_help_names_every_config_key_and_engine(capsys):
    """`pmsim run --help` is where a new user learns the config's keys: none may be missing."""
    import dataclasses

    from pmsim.simulator.config import ENGINES, RunConfig

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for key in (f.name for f in dataclasses.fields(RunConfig)):
        assert key in text.replace("[", " ").replace("]", " ").split(), key
    for engine in ENGINES:
        assert f'"{engine}"' in text, engine
