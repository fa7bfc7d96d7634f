"""``pmsim margin`` / ``pmsim stress`` on the example books, and one-line errors for bad books."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pmsim.simulator.cli import main

BOOKS = Path(__file__).resolve().parents[3] / "examples" / "books"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_margin_json_reproduces_binance_example(capsys):
    code, out, _ = run(capsys, "margin", str(BOOKS / "binance_cross_example.toml"), "--json")
    report = json.loads(out)
    assert code == 0 and report["regime"] == "cross"
    assert {"regime", "equity", "im", "mm", "positions"} <= set(report)
    assert [p["symbol"] for p in report["positions"]] == ["BTCUSDT", "ETHUSDT"]
    assert [round(p["mm"], 2) for p in report["positions"]] == [71_200.81, 356_512.51]
    assert [round(p["liquidation_price"], 2) for p in report["positions"]] == [26_316.89, 1_153.26]
    assert report["equity"] == pytest.approx(1_030_895.55, abs=0.01)


@pytest.mark.parametrize("book", sorted(p.name for p in BOOKS.glob("*.toml")))
@pytest.mark.parametrize("regime", ["cross", "isolated", "portfolio"])
def test_every_example_book_runs(capsys, book, regime):
    code, out, _ = run(capsys, "margin", str(BOOKS / book), "--regime", regime)
    assert code == 0 and "equity" in out and "MM" in out


def test_stress_pm_minimum_book_does_not_survive(capsys):
    code, out, _ = run(
        capsys,
        "stress",
        str(BOOKS / "btc_eth_long.toml"),
        "--shock",
        "BTC=-30%",
        "--shock",
        "ETH=-35%",
        "--json",
    )
    report = json.loads(out)
    assert code == 0 and report["regime"] == "portfolio"
    assert report["survives"] is False
    assert 0 < report["liquidating_scale"] < 1
    assert report["equity_after"] == pytest.approx(40_000 - 2 * 60_000 * 0.30 - 30 * 2_500 * 0.35)


def test_stress_correlation_overlay_and_basis(capsys):
    book = str(BOOKS / "btc_basis_hedge.toml")
    code, out, _ = run(
        capsys, "stress", book, "--shock", "BTC=-20%", "--basis-widen", "2%", "--regime", "portfolio"
    )
    assert code == 0 and "survives" in out
    code, _, err = run(capsys, "stress", book, "--shock", "BTC=-20%", "--corr", "1", "--regime", "cross")
    assert code == 2 and "takes no corr" in err


def test_bad_book_is_one_line_naming_the_key(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[account]\nwallet = 1000\n[[positions]]\nsymbol = "BTCUSDT"\nqty = "ten"\nentry = 1\nmark = 1\n'
    )
    code, out, err = run(capsys, "margin", str(bad))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "positions[0].qty" in err
    bad.write_text(
        '[account]\nwallet = 1000\n[[positions]]\nsymbol = "BTCUSDT_241227"\nqty = 1\nentry = 1\nmark = 1\n'
    )
    code, _, err = run(capsys, "margin", str(bad))
    assert code == 2 and "account.as_of is required" in err


def test_span_needs_a_credit_rate(capsys):
    code, _, err = run(capsys, "margin", str(BOOKS / "btc_eth_long.toml"), "--cross-underlying", "span")
    assert code == 2 and "credit_rate is required" in err and err.count("\n") == 1
