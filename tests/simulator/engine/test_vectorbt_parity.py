"""Cross-check against vectorbt on what both can model: target positions, next-open fills, fees, slippage.

No funding, no margin limits (a wallet far larger than the book), marks equal to last-trade prices: then
pmsim's equity must equal vectorbt's portfolio value bar by bar.
"""

import numpy as np
import pandas as pd
import vectorbt as vbt  # imported here: importing it raises Python's recursion limit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pmsim.simulator.allocator import Allocator, MurCap
from pmsim.simulator.engine.engine import Costs, simulate
from pmsim.simulator.margin import make_regime
from pmsim.simulator.market.handmade import handmade_market

from tests.kit import Scripted

FEE, SLIPPAGE, WALLET = 0.0005, 0.0003, 1e9


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.floats(-0.08, 0.08), min_size=12, max_size=40),
    levels=st.lists(st.sampled_from([-3.0, -1.0, 0.0, 0.5, 2.0, 4.0]), min_size=40, max_size=40),
)
def test_equity_matches_vectorbt_value(steps, levels):
    close = 100 * np.exp(np.cumsum(steps))
    n = len(close)
    market = handmade_market({"BTCUSDT": close}, taker_fee=FEE)
    targets = np.array(levels[:n], dtype=float).reshape(n, 1, 1)
    regime = make_regime("cross", market.instruments, leverage=20)
    sim = simulate(
        market,
        regime,
        Scripted(targets),
        Allocator((MurCap(1.0),)),
        WALLET,
        Costs(slippage=SLIPPAGE, clearance_fee=0.0),
    )

    # vectorbt: the target decided at the close of bar t is an order at the open of bar t+1
    index = pd.date_range("2024-01-01", periods=n, freq="h")
    size = pd.Series(np.concatenate([[np.nan], targets[:-1, 0, 0]]), index=index)
    portfolio = vbt.Portfolio.from_orders(
        close=pd.Series(close, index=index),
        price=pd.Series(market.open[:, 0], index=index),
        size=size,
        size_type="targetamount",
        direction="both",
        fees=FEE,
        slippage=SLIPPAGE,
        init_cash=WALLET,
        freq="1h",
    )
    np.testing.assert_allclose(
        sim.series.equity.to_numpy(), portfolio.value().to_numpy(), rtol=1e-12, atol=1e-5
    )
    fills = sim.events[sim.events.kind == "fill"]
    assert len(fills) == len(portfolio.orders.records)
    np.testing.assert_allclose(fills.amount.sum(), portfolio.orders.records["fees"].sum(), rtol=1e-9)
