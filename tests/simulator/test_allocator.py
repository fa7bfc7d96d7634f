"""Allocator rules on a fake view and a linear regime, with the numbers worked by hand."""

from dataclasses import dataclass

import numpy as np
import pytest
from pmsim.simulator.allocator import Allocator, BufferFloor, MurCap, RebalanceBand
from pmsim.simulator.deployment import DrawdownStop, StagedDeployment
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.margin.base import Requirements
from pmsim.strategies.base import BarView

PRICE = np.array([100.0, 50.0])


@dataclass
class Linear:
    """IM = 10 % and MM = 5 % of gross notional: easy to check by hand."""

    name: str = "linear"

    def requirements(self, qty, mark, when):
        gross = (np.abs(qty) * mark).sum(axis=-1)
        return Requirements(im=0.10 * gross, mm=0.05 * gross)

    def describe(self):
        return {"name": self.name}


def view(equity, qty=None, t=5):
    equity = np.atleast_1d(np.asarray(equity, dtype=float))
    qty = np.zeros((len(equity), 2)) if qty is None else np.asarray(qty, dtype=float)
    return BarView(
        t,
        np.datetime64("2024-01-01", "ms"),
        np.tile(PRICE, (t + 1, 1)),
        np.tile(PRICE, (t + 1, 1)),
        np.array([True, True]),
        equity,
        qty,
    )


def test_mur_cap_scales_the_whole_book():
    # target 100 x 100 + 100 x 50 = 15,000 notional -> IM 1,500; equity 1,000 at a 0.7 cap allows IM 700
    log = EventLog()
    out = MurCap(0.7).apply(np.array([[100.0, 100.0]]), view(1_000.0), Linear(), 5, log)
    assert out[0].tolist() == pytest.approx([100 * 700 / 1500, 100 * 700 / 1500])
    assert log.count("cut") == 1


def test_buffer_floor_refuses_new_risk_but_keeps_old():
    # equity 600, floor 1.2 -> MM at most 500 = 5 % of 10,000 notional
    log = EventLog()
    new = BufferFloor(1.2).apply(np.array([[100.0, 100.0]]), view(600.0), Linear(), 5, log)
    assert (np.abs(new) * PRICE).sum() == pytest.approx(10_000)
    # a book already at MM 750 (notional 15,000) is not forced down by the floor
    held = np.array([[100.0, 100.0]])
    kept = BufferFloor(1.2).apply(held * 1.5, view(600.0, held), Linear(), 5, log)
    assert kept[0].tolist() == pytest.approx(held[0].tolist())


def test_rebalance_band_ignores_small_resizes_but_not_flips():
    held = np.array([[10.0, -10.0]])
    out = RebalanceBand(0.1).apply(np.array([[10.5, 10.0]]), view(1_000.0, held), Linear(), 5, EventLog())
    assert out.tolist() == [[10.0, 10.0]]  # +5 % kept as is; the short flips to the long target


def test_staged_deployment_advances_after_a_calm_window_and_falls_back_on_a_drawdown():
    rule, log = StagedDeployment((0.25, 0.5, 1.0), window=3, max_drawdown=0.05), EventLog()
    target = np.array([[8.0, 0.0]])
    shares = []
    # equity: calm for 3 bars -> 50 %; calm 3 more -> 100 %; a 10 % drop -> back to 50 %
    for bar, equity in enumerate([100, 100, 101, 102, 102, 103, 104, 93.0]):
        shares.append(rule.apply(target, view(equity, t=bar), Linear(), bar, log)[0, 0] / 8)
    assert shares == [0.25, 0.25, 0.25, 0.5, 0.5, 0.5, 1.0, 0.5]
    assert log.count("stage") == 3


def test_drawdown_stop_closes_for_good():
    rule, log = DrawdownStop(0.2), EventLog()
    target = np.array([[1.0, 1.0], [1.0, 1.0]])
    out = [
        rule.apply(target, view(equity, t=bar), Linear(), bar, log)
        for bar, equity in enumerate([[100, 100], [120, 90], [95, 85], [130, 130]])
    ]
    # book 0: peak 120, 95 < 96 -> stopped at bar 2 and stays flat; book 1: 85 > 80, never stopped
    assert [o[0, 0] for o in out] == [1.0, 1.0, 0.0, 0.0]
    assert [o[1, 0] for o in out] == [1.0, 1.0, 1.0, 1.0]
    assert log.count("stop") == 1


def test_rules_compose_in_order():
    allocator = Allocator((RebalanceBand(0.1), MurCap(0.5)))
    out = allocator.allocate(np.array([[100.0, 0.0]]), view(1_000.0), Linear(), 5, EventLog())
    assert out[0, 0] == pytest.approx(50.0)  # IM 1,000 > 500 -> halved
    assert allocator.describe() == {"rebalance_band": 0.1, "mur_cap": 0.5}
