"""The Basis PnL section on a written run folder: one row per book, parts summing to the net PnL."""

from __future__ import annotations

import pytest
from pmsim.reports.basis import basis_pnl
from pmsim.reports.frames import RunView
from pmsim.reports.sections import SECTIONS
from pmsim.simulator.attribution import PARTS, basis_attribution
from pmsim.simulator.build import build_run
from pmsim.simulator.config import RunConfig
from pmsim.simulator.results import read_run

CONFIG = {
    "name": "carry",
    "market": {"kind": "synthetic", "seed": 7, "start": "2024-03-01", "bars": 900},
    "regime": {"name": "portfolio", "preset": "deribit"},
    "strategy": {"name": "basis", "params": {"entry": 0.05, "exit": 0.0, "leverage": [1.0, 2.0]}},
    "account": {"wallet": 100_000.0, "slippage": 0.0005},
}


@pytest.fixture(scope="module")
def carry_run(tmp_path_factory) -> RunView:
    """A basis run through the March roll (the engine logs the strategy's roll events)."""
    run = build_run(RunConfig.from_dict(CONFIG))
    path = run.write(run.execute(), tmp_path_factory.mktemp("runs") / "carry")
    return RunView(read_run(path))


def test_section_lists_every_book_and_parts_sum(carry_run):
    assert basis_pnl in SECTIONS
    html = basis_pnl([carry_run])
    assert "Basis PnL" in html and html.count("<tr>") == 1 + 2  # header + two books
    split = basis_attribution(carry_run.series, carry_run.events, CONFIG["account"]["slippage"])
    assert (split["roll_cost"] < 0).all()  # both books rolled out of March: fees and slippage
    assert split[list(PARTS)].sum(axis=1).to_numpy() == pytest.approx(split["net"].to_numpy())
    assert f"{split.loc[1, 'roll_cost']:,.2f}" in html


def test_no_section_without_a_basis_book(tmp_path):
    config = {**CONFIG, "strategy": {"name": "hold", "params": {"positions": {"BTCUSDT": 1.0}}}}
    run = build_run(RunConfig.from_dict(config))
    path = run.write(run.execute(), tmp_path / "hold")
    html = basis_pnl([RunView(read_run(path))])
    assert "No book in these runs holds a basis strategy" in html and "<table>" not in html
