"""The basis PnL split: by hand on a rolled trade, and summing to the net PnL on a synthetic run."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest
from pmsim.simulator.allocator import Allocator
from pmsim.simulator.attribution import PARTS, basis_attribution
from pmsim.simulator.engine.engine import Costs, simulate
from pmsim.simulator.margin import make_regime
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies.basis import BasisCarry

NAN = np.nan
PERP = [100, 100, 102, 104, 103, 101, 100, 99, 100, 100, 100, 101, 102, 103]
NEAR = [100.5, 101, 103, 104.8, 103.5, 101.2, 100.1, 99.05, 100.02, 100, 100, NAN, NAN, NAN]
FAR = [NAN] * 3 + [106, 105, 103, 101.8, 100.7, 101.5, 101.3, 101.2, 102, 102.8, 103.5]


@dataclass(eq=False)
class Recording:
    """A strategy that logs its drained events as event rows, as the engine will (bar of the decision)."""

    inner: BasisCarry
    rows: list[dict] = field(default_factory=list)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def decide(self, view):
        targets = self.inner.decide(view)
        for event in self.inner.drain_events():
            for book in event.books:
                self.rows.append(
                    {
                        "time": view.time,
                        "config": int(book),
                        "kind": event.kind,
                        "symbol": "",
                        "note": event.note,
                    }
                )
        return targets


def with_strategy_events(events: pd.DataFrame, rows: list[dict]) -> pd.DataFrame:
    extra = pd.DataFrame(rows).assign(qty=NAN, price=NAN, amount=NAN)
    extra["time"] = pd.to_datetime(extra["time"], utc=True)
    return pd.concat([events, extra.astype(events.dtypes.to_dict())], ignore_index=True)


def test_split_of_a_rolled_trade_by_hand():
    """Entry decided at bar 1 (fills at the bar-2 open), roll decided at bar 6 (fills at the bar-7 open:
    near 100.1, far 101.8), still open at the last close (perp 103, far 103.5); slippage 0.1 %."""
    market = handmade_market(
        {"BTCUSDT": PERP, "BTCUSDT_240112": NEAR, "BTCUSDT_240119": FAR},
        start="2024-01-01T08:00",
        bar_hours=24,
        funding={"BTCUSDT": 0.0001},
        settlement={"BTCUSDT_240112": 100.0},
    )
    strategy = Recording(
        BasisCarry(entry=0.2, exit=-0.5, exit_days=2, roll_days=4, underlyings=("BTC",), min_listed=2)
    )
    regime = make_regime("cross", market.instruments, leverage=20)
    sim = simulate(market, regime, strategy, Allocator(), 10_000.0, Costs(slippage=0.001))
    events = with_strategy_events(sim.events, strategy.rows)
    # basis seen: bar 1 (101 - 100) / 100 x 365 / 9 days; bar 6 (101.8 - 100) / 100 x 365 / 11 days
    assert [r["note"] for r in strategy.rows] == [
        "entry carry BTCUSDT_240112 at +40.56%",
        "roll BTCUSDT_240112 -> BTCUSDT_240119 at +59.73%",
    ]
    split = basis_attribution(sim.series, events, slippage=0.001).loc[0]

    size = 0.5 * 10_000 / 100  # 50 coins a leg
    roll_fees = 0.0005 * size * (100.1 * 1.001 + 101.8 * 0.999)
    roll_slippage = size * 100.1 * 0.001 + size * 101.8 * 0.001  # bought near above, sold far below
    entry_fees = 0.0005 * size * (100 * 1.001 + 101 * 0.999)
    funding = -size * 0.0001 * sum(PERP[1:13])  # paid at the opens of bars 2..13 (marks: closes 1..12)
    basis = (
        size * (103 - 100 * 1.001)  # perp: bought at 100.1, marked at 103
        + size * (101 * 0.999 - 100.1)  # near: sold at 100.899, bought back at 100.1 before slippage
        + size * (101.8 - 103.5)  # far: sold at 101.8 before slippage, marked at 103.5
    )
    assert split["roll_cost"] == pytest.approx(-(roll_fees + roll_slippage))
    assert split["fees"] == pytest.approx(-entry_fees)
    assert split["funding"] == pytest.approx(funding)
    assert split["basis"] == pytest.approx(basis)
    assert split["insurance"] == 0
    assert split["net"] == pytest.approx(basis + funding - entry_fees - roll_fees - roll_slippage)
    assert split[list(PARTS)].sum() == pytest.approx(split["net"])


def test_without_roll_events_rolls_cost_nothing_and_parts_still_sum():
    market = handmade_market({"BTCUSDT": PERP, "BTCUSDT_240119": FAR}, start="2024-01-01T08:00", bar_hours=24)
    regime = make_regime("cross", market.instruments, leverage=20)
    strategy = BasisCarry(entry=0.2, exit=-0.5, underlyings=("BTC",), min_listed=1)
    sim = simulate(market, regime, strategy, Allocator(), 10_000.0, Costs(slippage=0.001))
    split = basis_attribution(sim.series, sim.events, slippage=0.001).loc[0]
    assert split["roll_cost"] == 0 and split["fees"] < 0
    assert split[list(PARTS)].sum() == pytest.approx(split["net"])
