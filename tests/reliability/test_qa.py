"""Bad inputs found by trying pmsim as a new user would (QA pass after issues 7 and 8): one row each."""
# ruff: noqa: E501  (one case per line)

from pathlib import Path

import pytest
from pmsim.simulator.results import FILES

from tests.reliability.harness import Case, check

BOOK = '[account]\nwallet = 10000\nas_of = "2024-09-27T08:00"\n[[positions]]\nsymbol = "BTCUSDT"\nqty = 1\nentry = 60000\nmark = 60000\n'
RUN = ("run", "c.toml", "--out", "out")
KLINES = "open_time,open,high,low,close,volume\n1704067200000,1,1,1,1,{v}\n1704070800000,1,1,1,1,1\n"
ADX = 'name = "a"\n[market]\nbars = 400\n[strategy]\nname = "adx"\n'


def fake_run(folder: Path) -> None:
    """A folder with a run's files (contents never read: the refusals come first)."""
    folder.mkdir(parents=True)
    for name in FILES:
        (folder / name).write_text("{}")


# fmt: off
CASES = [
    Case("adx-window-empty-list", RUN, "strategy.params.window is an empty list", {"c.toml": ADX + "params = { window = [] }\n"}),
    Case("adx-symbols-empty-list", RUN, "strategy.params.symbols is empty", {"c.toml": ADX + "params = { symbols = [] }\n"}),
    Case("data-list-cache-missing", ("data", "list", "--cache", "nope"), "nope: --cache is not a folder"),
    Case("data-list-cache-is-a-file", ("data", "list", "--cache", "f"), "f: --cache is not a folder", {"f": "x"}),
    Case("data-import-negative-volume", ("data", "import", "d", "--cache", "c"), "row 2: volume = -1.0 is not a count", {"d/binance-um/klines/1h/BTCUSDT.csv": KLINES.format(v=-1)}),
    Case("data-import-inf-volume", ("data", "import", "d", "--cache", "c"), "row 2: volume = inf is not a count", {"d/binance-um/klines/1h/BTCUSDT.csv": KLINES.format(v="inf")}),
    Case("report-same-run-twice", ("report", "runs/a", "./runs/a/", "--out", "r.html"), "run folder runs/a is given twice", setup=lambda root: fake_run(root / "runs" / "a")),
    Case("report-of-the-runs-folder", ("report", "runs", "--out", "r.html"), "it holds run folders, name them: runs/a", setup=lambda root: fake_run(root / "runs" / "a")),
    Case("report-of-a-missing-folder", ("report", "nope", "--out", "r.html"), "nope is not a complete run folder (not a folder)"),
    Case("synthetic-symbols-lower-case", RUN, "market.symbols applies to history", {"c.toml": 'name = "a"\n[market]\nbars = 48\nsymbols = ["btcusdt"]\n'}),
    Case("synthetic-symbols-without-held-btc", RUN, "market.symbols applies to history", {"c.toml": 'name = "a"\n[market]\nbars = 48\nsymbols = ["ETHUSDT"]\n[strategy]\nname = "hold"\nparams = { positions = { BTCUSDT = 0.1 } }\n'}),
    Case("history-window-of-one-bar", (*RUN, "--data", "nodata", "--start", "2024-03-01T00:00", "--end", "2024-03-01T00:00"), "leaves one bar after market.start", {"c.toml": 'name = "a"\n[strategy]\nname = "hold"\nparams = { positions = { BTCUSDT = 1 } }\n'}),
    Case("adx-entry-negative", RUN, "must be in [0, 100]", {"c.toml": ADX + "params = { entry = -5, exit = -6 }\n"}),
    Case("adx-full-at-above-100", RUN, "must be in [0, 100]", {"c.toml": ADX + "params = { entry = 25, full_at = [40, 250] }\n"}),
    Case("stress-shock-zero", ("stress", "b.toml", "--shock", "BTC=0%"), "is no move; a shock is non-zero", {"b.toml": BOOK}),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case, tmp_path):
    check(case, tmp_path)


def test_adx_summary_names_the_symbols_it_traded():
    """Left out, ``symbols`` means every perpetual; the summary said ``[]`` while both were traded."""
    from pmsim.simulator.market.synthetic import generate_market
    from pmsim.strategies.adx import AdxTrend

    strategy = AdxTrend(window=5)
    strategy.prepare(generate_market(seed=7, bars=40))
    assert strategy.describe()["symbols"] == ["BTCUSDT", "ETHUSDT"]


def test_the_buffer_definition_claims_no_rule_the_run_did_not_name():
    """Allocator rules are opt-in (issue 8); the page said a floor of 1.2 always held."""
    from pmsim.reports.sections import definitions

    page = definitions([])
    assert "below 1.2" not in page and "buffer_floor" in page


def test_a_runs_own_report_names_no_temporary_folder(tmp_path):
    """``run --report`` renders inside the writer's temporary folder; the page showed that vanished path."""
    import re
    import subprocess

    from tests.reliability.harness import GOOD_CONFIG, pmsim_command, pmsim_env

    (tmp_path / "c.toml").write_text(GOOD_CONFIG)
    done = subprocess.run(
        pmsim_command("run", "c.toml", "--out", "out", "--report"), cwd=tmp_path, env=pmsim_env()
    )
    assert done.returncode == 0
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"pmsim-\w+\.tmp", page)
    assert "<code>.</code>" in page  # the run is the folder the report sits in
