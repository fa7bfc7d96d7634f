"""The Python API: results kept in memory equal the folders written, errors are the CLI's lines, and
``Result`` shows what the run folder holds (checked against the files themselves)."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pandas as pd
import pytest
from pmsim.simulator.cli import main

import pmsim
from tests.test_api_parity import EXAMPLES, files

SLEEVES = {
    "market": {"bars": 300},
    "sleeves": [
        {"name": "core", "strategy": "hold", "params": {"positions": [{"BTCUSDT": 1.0}, {"BTCUSDT": 2.0}]}},
        {"name": "trend", "strategy": "adx", "params": {"window": [24, 48]}},
    ],
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The sleeves book run in memory, and written then loaded back."""
    folder = tmp_path_factory.mktemp("api") / "run"
    return pmsim.run(SLEEVES), pmsim.load(pmsim.run(SLEEVES, out=folder).path)


def test_a_run_kept_in_memory_equals_the_run_written_and_loaded(written):
    memory, loaded = written
    assert memory.path is None and loaded.path is not None
    for frame in ("series", "events", "prices", "summary"):
        pd.testing.assert_frame_equal(getattr(memory, frame), getattr(loaded, frame))
    assert memory.config == loaded.config and memory.notes == loaded.notes
    assert memory.summary.attrs == loaded.summary.attrs


def test_result_tables_are_the_folders_files_indexed_by_book(written):
    _, result = written
    summary = json.loads((result.path / "summary.json").read_text())
    series = pd.read_parquet(result.path / "series.parquet")
    assert result.books == summary["labels"] and len(result.books) == 2
    assert result.series.index.names == ["time", "book"]
    first = result.series.xs(result.books[1], level="book")
    assert first["equity"].tolist() == series.loc[series.config == 1, "equity"].tolist()
    assert {"pnl@core", "pnl@trend", "im@trend"} <= set(result.series.columns)
    assert result.summary.loc[result.books[0], "roe"] == summary["configs"][0]["roe"]
    assert result.summary.loc[result.books[1], "pnl@core"] == summary["configs"][1]["sleeves"]["core"]["pnl"]
    assert result.summary.attrs["definitions"]["rom"].startswith("ROM (return on margin)")
    assert result.config == json.loads((result.path / "config.json").read_text())
    assert result.notes == summary["market"]["notes"]
    events = pd.read_parquet(result.path / "events.parquet")
    assert len(result.events) == len(events) and "book" in result.events and "config" not in result.events


def test_report_plot_and_notebook_view(written, tmp_path):
    memory, loaded = written
    own = pmsim.run(SLEEVES, out=tmp_path / "own", report=True)
    page = memory.report(tmp_path / "page.html")
    masked = files(tmp_path)
    assert masked["page.html"] == masked["own/report.html"]  # the page `pmsim run --report` writes
    assert own.path / "report.html" != page
    figure = loaded.plot("pnl@trend")
    assert [trace.name.split(" · ")[1] for trace in figure.data] == loaded.books
    assert len(loaded.plot("equity").data) >= 2 and loaded.plot("mur").data
    with pytest.raises(pmsim.ConfigError, match="unknown series column 'equty'; did you mean 'equity'"):
        loaded.plot("equty")
    view = loaded._repr_html_()
    assert "<table" in view and loaded.books[0] in view and "notes" in view


def test_run_in_memory_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pmsim.run({"market": {"bars": 50}})
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "text",
    [
        "[market]\nsed = 3\n",
        "[allocator]\nmur_cap = 1.5\n[market]\nbars = 300\n",
        "[regime]\nname = 'crosss'\n[market]\nbars = 300\n",
        "[market\n",
    ],
)
def test_a_bad_config_raises_the_line_the_cli_prints(tmp_path, capsys, text):
    config = tmp_path / "bad.toml"
    config.write_text("name = 'bad'\n" + text)
    assert main(["run", str(config), "--out", str(tmp_path / "out")]) == 2
    line = capsys.readouterr().err.strip()
    with pytest.raises(pmsim.PmsimError) as raised:
        pmsim.run(config, out=tmp_path / "out")
    assert line == f"pmsim: error: {raised.value}" and "\n" not in line
    with pytest.raises(type(raised.value)) as inline:  # the same config as text: the line without the path
        pmsim.run(config.read_text())
    assert str(raised.value).replace(f"{config}: ", "") == str(inline.value).replace("TOML text: ", "")


def test_a_bad_window_names_the_key(tmp_path):
    with pytest.raises(pmsim.ConfigError, match="market.end applies to history"):
        pmsim.run({"market": {"bars": 50}}, end="2024-02-01")


def test_compare_in_memory_equals_the_folder(tmp_path):
    book = {"market": {"bars": 150}, "strategy": {"name": "hold", "params": {"positions": {"BTCUSDT": 2.0}}}}
    memory = pmsim.compare(book, "isolated,cross", mode="rules")
    written = pmsim.compare(book, ["isolated", "cross"], mode="rules", out=tmp_path / "cmp")
    pd.testing.assert_frame_equal(memory.table, written.table)
    pd.testing.assert_frame_equal(memory.table, pd.read_parquet(tmp_path / "cmp" / "comparison.parquet"))
    pd.testing.assert_frame_equal(memory.runs["cross"].series, written.runs["cross"].series)
    page = memory.report(tmp_path / "cmp.html")
    pages = files(tmp_path)  # the same page; the written one names its folders inside <out>/cmp
    assert pages["cmp.html"] == pages["cmp/report.html"].replace(b"<out>/cmp/", b"")
    with pytest.raises(pmsim.ConfigError, match="unknown compare mode 'rule'"):
        pmsim.compare(book, "isolated,cross", mode="rule")
    assert page.is_file()


def test_sweep_in_memory_equals_the_folder(tmp_path):
    grid = {
        "base": {"market": {"bars": 120}, "strategy": {"name": "adx"}},
        "axes": {"strategy.params.window": [24, 48], "allocator.mur_cap": [0.5, 0.8]},
    }
    memory = pmsim.sweep(grid, top=2, by="rom")
    written = pmsim.sweep(grid, top=2, by="rom", out=tmp_path / "sw")
    pd.testing.assert_frame_equal(memory.rows, written.rows)
    pd.testing.assert_frame_equal(memory.top, pd.read_parquet(tmp_path / "sw" / "top.parquet"))
    assert list(memory.best(2).index) == list(memory.rows.sort_values("rom", ascending=False).index[:2])
    memory.report(tmp_path / "sweep.html")
    assert files(tmp_path)["sweep.html"] == files(tmp_path)["sw/report.html"]


def test_margin_and_stress_take_a_file_a_dict_or_a_dataframe(capsys):
    path = EXAMPLES / "books" / "btc_eth_long.toml"
    assert main(["stress", str(path), "--shock", "BTC=-30%", "--shock", "ETH=-35%", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    report = pmsim.stress(path, {"BTC": -0.30, "ETH": -0.35})
    assert report.to_dict() == printed
    tables = {
        "account": {"wallet": 40000.0, "as_of": "2024-09-27T08:00:00Z", "regime": "portfolio"},
        "positions": [
            {"symbol": "BTCUSDT", "qty": 2.0, "entry": 60000.0, "mark": 60000.0},
            {"symbol": "ETHUSDT", "qty": 30.0, "entry": 2500.0, "mark": 2500.0},
        ],
    }
    frame = pd.DataFrame(tables["positions"])
    from_file, from_dict = pmsim.margin(path), pmsim.margin(tables)
    from_frame = pmsim.margin(frame, regime="portfolio", wallet=40000.0, as_of="2024-09-27T08:00:00Z")
    for other in (from_dict, from_frame):
        assert {**other.to_dict(), "book": ""} == {**from_file.to_dict(), "book": ""}
    assert main(["margin", str(path)]) == 0
    assert capsys.readouterr().out == f"{from_file}\n"
    with pytest.raises(pmsim.ConfigError, match=re.escape("account.wallet: a DataFrame of positions needs")):
        pmsim.margin(frame)
    with pytest.raises(pmsim.ConfigError, match="positions\\[0\\].qty"):
        pmsim.margin({**tables, "positions": [{**tables["positions"][0], "qty": "two"}]})
    with pytest.raises(pmsim.ConfigError, match="BTC: a move is a non-zero fraction"):
        pmsim.stress(tables, {"BTC": -1.5})


def test_a_shock_spelled_as_the_command_spells_it_says_how_to_write_it():
    book = {
        "account": {"wallet": 40000.0},
        "positions": [{"symbol": "BTCUSDT", "qty": 2.0, "entry": 6e4, "mark": 6e4}],
    }
    with pytest.raises(pmsim.ConfigError, match=re.escape("BTC: a move is a fraction such as -0.30")):
        pmsim.stress(book, {"BTC": "-30%"})
    assert pmsim.stress(book, {"BTC": np.int64(-1) / 2}).shock == {"BTC": -0.5}  # numpy numbers pass


def test_the_margin_table_keeps_columns_apart_for_a_book_far_past_its_margin():
    frame = pd.DataFrame({"symbol": ["BTCUSDT"], "qty": [1e6], "entry": [6e4], "mark": [6e4]})
    row = str(pmsim.margin(frame, regime="cross", wallet=40000.0)).splitlines()[-1]
    mm = pmsim.margin(frame, regime="cross", wallet=40000.0).positions["mm"].iloc[0]
    assert row.split()[5:7] == [f"{mm:,.2f}", f"{mm:,.2f}"]  # mm, mm alone: two cells, not one run-on


def test_a_sweep_keeping_no_series_has_rows_and_an_empty_top_with_the_series_columns():
    base = {"market": {"bars": 100}, "strategy": {"name": "hold", "params": {"positions": {"BTCUSDT": 1.0}}}}
    grid = {"base": base, "axes": {"account.wallet": [50000.0, 100000.0]}}
    nothing, one = pmsim.sweep(grid, top=0), pmsim.sweep(grid, top=1)
    assert list(nothing.rows.index) == ["p0", "p1"] and nothing.top.empty
    assert list(nothing.top.columns) == list(one.top.columns) and "time" in one.top.columns


def test_loading_a_folder_that_holds_no_run_says_which_folders_load(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(pmsim.PmsimError) as caught:
        pmsim.load(tmp_path)
    assert "missing series.parquet" in str(caught.value) and "pmsim.run(out=...)" in str(caught.value)
    assert "pmsim demo` first" not in str(caught.value)  # running the demo does not make this folder load


def test_a_config_path_holding_an_equals_sign_is_read_as_a_file_not_as_toml(tmp_path):
    folder = tmp_path / "batch=1"  # sweeps write such folders
    folder.mkdir()
    (folder / "run.toml").write_text("[market]\nbars = 60\n")
    assert pmsim.run(str(folder / "run.toml")).bars == 60
    assert pmsim.run("market = { bars = 50 }  # " + "x" * 300).bars == 50  # one long line of TOML stays TOML


def test_a_run_is_not_written_inside_a_comparison_or_sweep_folder_that_force_would_replace(tmp_path):
    book = {"market": {"bars": 100}, "strategy": {"name": "hold", "params": {"positions": {"BTCUSDT": 1.0}}}}
    pmsim.compare(book, "cross,isolated", out=tmp_path / "cmp")
    pmsim.sweep({"base": book, "axes": {"account.wallet": [5e4, 1e5]}}, top=1, out=tmp_path / "sw")
    for inside, kind in (
        (tmp_path / "cmp" / "mine", "comparison"),
        (tmp_path / "sw" / "results" / "mine", "sweep"),
    ):
        with pytest.raises(pmsim.PmsimError, match=f"is inside the {kind} folder"):
            pmsim.run(book, out=inside)
        assert not inside.exists()
    pmsim.compare(book, "cross,isolated", out=tmp_path / "cmp", force=True)  # its own runs still replace
