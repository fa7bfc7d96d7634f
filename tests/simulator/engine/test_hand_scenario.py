"""A few bars priced by hand: fills with slippage and fees, funding, mark to market, expiry settlement."""

import numpy as np
import pytest
from pmsim.simulator.allocator import Allocator, MurCap
from pmsim.simulator.engine.engine import Costs, simulate
from pmsim.simulator.margin import make_regime
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies import Hold


@pytest.fixture
def run():
    # 8h bars: every bar opens at a funding instant; BTCUSDT_240105 delivers at 2024-01-05 08:00,
    # the end of bar 3.
    market = handmade_market(
        {"BTCUSDT": [100, 102, 104, 103], "BTCUSDT_240105": [101, 103, 104.5, 103.2]},
        start="2024-01-04T00:00",
        bar_hours=8,
        funding={"BTCUSDT": 0.0001},
        settlement={"BTCUSDT_240105": 103.0},
    )
    regime = make_regime("cross", market.instruments, leverage=20)
    strategy = Hold({"BTCUSDT": 2.0, "BTCUSDT_240105": -2.0})
    return market, simulate(
        market, regime, strategy, Allocator((MurCap(1.0),)), 10_000.0, Costs(slippage=0.001)
    )


def test_fills_fees_and_slippage(run):
    _, sim = run
    fills = sim.events[sim.events.kind == "fill"]
    assert list(fills.symbol) == ["BTCUSDT", "BTCUSDT_240105"]
    # bought 2 at the bar-1 open 100 plus 0.1% slippage; sold 2 at 101 minus 0.1%
    assert fills.price.tolist() == pytest.approx([100.1, 100.899])
    # taker fee 0.05% of traded notional
    assert fills.amount.tolist() == pytest.approx([0.0005 * 2 * 100.1, 0.0005 * 2 * 100.899])


def test_wallet_equity_and_margin_by_hand(run):
    _, sim = run
    s = sim.series
    fees = 0.0005 * 2 * 100.1 + 0.0005 * 2 * 100.899
    funding = [
        0.0,
        2 * 100 * 0.0001,
        2 * 100 * 0.0001 + 2 * 102 * 0.0001,
        2 * 100 * 0.0001 + 2 * 102 * 0.0001 + 2 * 104 * 0.0001,
    ]
    settle_pnl = -2 * (103.0 - 100.899)
    wallet = [
        10_000.0,
        10_000 - fees - funding[1],
        10_000 - fees - funding[2],
        10_000 - fees - funding[3] + settle_pnl,
    ]
    upnl = [
        0.0,
        2 * (102 - 100.1) - 2 * (103 - 100.899),
        2 * (104 - 100.1) - 2 * (104.5 - 100.899),
        2 * (103 - 100.1),
    ]
    assert s.wallet.tolist() == pytest.approx(wallet, abs=1e-9)
    assert s.upnl.tolist() == pytest.approx(upnl, abs=1e-9)
    assert s.equity.tolist() == pytest.approx(np.add(wallet, upnl).tolist(), abs=1e-9)
    assert s.funding.tolist() == pytest.approx(funding, abs=1e-12)
    # bar 1: perp IM 2*102/20, quarterly 2*103/20; MM perp 0.4% and quarterly 1% (tier 1 of each table)
    assert s.im[1] == pytest.approx(2 * 102 / 20 + 2 * 103 / 20)
    assert s.mm[1] == pytest.approx(2 * 102 * 0.004 + 2 * 103 * 0.01)
    # after delivery only the perp remains
    assert s.im[3] == pytest.approx(2 * 103 / 20)
    assert s["notional:BTCUSDT_240105"][3] == 0.0


def test_expiry_is_settled_once_at_the_settlement_price(run):
    _, sim = run
    expiry = sim.events[sim.events.kind == "expiry"]
    assert len(expiry) == 1
    assert expiry.price.iloc[0] == 103.0
    assert expiry.amount.iloc[0] == pytest.approx(-2 * (103.0 - 100.899))
    assert sim.account.qty.tolist() == [[2.0, 0.0]]
