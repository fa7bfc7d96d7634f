"""`pmsim demo` end to end: the files it writes, determinism by seed, and the report's sections."""

import hashlib
import json

import pandas as pd
import pytest
from pmsim.simulator.cli import main

BARS = "600"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--bars", BARS]) == 0
    return out


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_writes_run_folders_and_report(demo, capsys):
    for run in ("adx", "hold"):
        assert sorted(p.name for p in (demo / run).iterdir()) == [
            ".pmsim-run.json",
            "config.json",
            "events.parquet",
            "prices.parquet",
            "series.parquet",
            "summary.json",
        ]
        series = pd.read_parquet(demo / run / "series.parquet")
        assert len(series) == int(BARS) * 3  # three books per run
    summary = json.loads((demo / "adx" / "summary.json").read_text())
    assert summary["market"]["source"].startswith("synthetic (seed 7")
    assert len(summary["configs"]) == len(summary["labels"]) == 3
    for key in (
        "final_equity",
        "net_pnl",
        "rom",
        "max_mur",
        "min_buffer",
        "liquidations",
        "bankruptcy_loss",
        "fees",
        "funding",
    ):
        assert key in summary["configs"][0]


def test_report_has_the_sections(demo):
    html = (demo / "report.html").read_text()
    for text in ("Equity", "MUR", "70%", "80%", "ROM", "liquidation", "synthetic", "return on margin"):
        assert text.lower() in html.lower(), text
    assert "<script src=" not in html


def test_same_seed_same_files(demo, tmp_path):
    again = tmp_path / "again"
    assert main(["demo", "--out", str(again), "--bars", BARS]) == 0
    for run in ("adx", "hold"):
        assert digest(demo / run) == digest(again / run)


def test_other_seed_other_market(demo, tmp_path):
    other = tmp_path / "other"
    assert main(["demo", "--out", str(other), "--bars", BARS, "--seed", "8"]) == 0
    assert digest(demo / "hold")["prices.parquet"] != digest(other / "hold")["prices.parquet"]


@pytest.mark.parametrize(
    "argv", [["demo", "--bars", "0"], ["demo", "--seed", "-1"], ["demo", "--nope"], ["frobnicate"]]
)
def test_bad_options_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 2 and err[-1].startswith("pmsim: error:")


def test_too_short_a_market_for_the_adx_window(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--bars", "150"]) == 2
    assert "adx window 96 needs more than 192 bars" in capsys.readouterr().err


def test_unwritable_output_is_one_line_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["demo", "--out", str(blocker / "sub"), "--bars", "300"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pmsim: error:")
    assert blocker.read_text() == "not a folder"
