"""The fill-time initial-margin check: new risk beyond the collateral is cut or rejected, with an event.

Numbers by hand, on a cross regime at leverage 10 with the 2020/21 BTCUSDT brackets (tier 1: notional below
50k, max leverage 125, so IM = notional / 10), a taker fee of 0.05 % and no slippage.
"""

import numpy as np
import pytest
from pmsim.simulator.allocator import Allocator
from pmsim.simulator.engine.account import Account
from pmsim.simulator.engine.engine import Costs, simulate
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.engine.fills import apply_fills
from pmsim.simulator.margin.brackets import BracketBook
from pmsim.simulator.margin.cross import CrossRegime
from pmsim.simulator.market.handmade import handmade_market
from pmsim.simulator.market.instruments import instrument_for
from pmsim.strategies import Hold

FEE = 0.0005
WHEN = np.datetime64("2024-01-01T00:00", "ms")
PRICE = np.array([100.0])


@pytest.fixture
def regime(brackets_2021: BracketBook) -> CrossRegime:
    return CrossRegime((instrument_for("BTCUSDT", taker_fee=FEE),), brackets_2021, leverage=10.0)


def fill(regime, account, target, collateral):
    log = EventLog()
    apply_fills(
        account,
        np.array([[target]]),
        PRICE,
        PRICE,
        np.array([True]),
        np.array([FEE]),
        0.0,
        regime,
        WHEN,
        0,
        log,
        np.array([collateral]),
    )
    return log.table(np.array([WHEN]), ("BTCUSDT",))


def test_order_beyond_collateral_is_cut_to_what_fits(regime):
    account = Account.open(np.array([1000.0]), 1)
    events = fill(regime, account, 200.0, collateral=1000.0)
    # the full order: IM 200 * 100 / 10 = 2000 > 1000 - fee 0.0005 * 200 * 100 = 990 of room,
    # so the order is scaled by 990 / 2000 = 0.495 -> 99 contracts
    assert account.qty[0, 0] == pytest.approx(99.0)
    cut = events[events.kind == "cut"]
    assert len(cut) == 1 and cut.amount.iloc[0] == pytest.approx(0.495)
    assert cut.note.iloc[0] == "initial margin check"
    # what was filled fits: IM 990 <= equity 1000 - fee 4.95
    assert account.wallet[0] >= 99 * 100 / 10
    assert account.wallet[0] == pytest.approx(1000 - FEE * 99 * 100)


def test_order_within_collateral_fills_in_full_without_event(regime):
    account = Account.open(np.array([1000.0]), 1)
    events = fill(regime, account, 50.0, collateral=1000.0)  # IM 500, fee 2.5
    assert account.qty[0, 0] == 50.0
    assert set(events.kind) == {"fill"}


def test_new_risk_without_room_is_rejected_and_reducing_still_fills(regime):
    account = Account.open(np.array([1000.0]), 1)
    account.qty[:] = 95.0
    account.entry[:] = 100.0
    # IM held 950; collateral 900 leaves no room: the increase to 120 is rejected, nothing trades
    events = fill(regime, account, 120.0, collateral=900.0)
    assert account.qty[0, 0] == 95.0
    assert list(events.kind) == ["rejection"]
    # a reduction is always allowed, whatever the collateral
    events = fill(regime, account, 40.0, collateral=0.0)
    assert account.qty[0, 0] == 40.0
    assert list(events.kind) == ["fill"]


def test_engine_applies_the_check_with_no_allocator_rule(brackets_2021):
    # a hold book of 200 BTC at 100 on a 1000 USDT wallet, and no allocator rule: only the fill-time
    # check stands between the order and a 20x book on a 10x setting
    market = handmade_market({"BTCUSDT": [100.0, 100.0, 100.0]}, taker_fee=FEE)
    regime = CrossRegime(market.instruments, brackets_2021, leverage=10.0)
    sim = simulate(market, regime, Hold({"BTCUSDT": 200.0}), Allocator(()), 1000.0, Costs(slippage=0.0))
    cuts = sim.events[sim.events.kind == "cut"]
    assert len(cuts) >= 1 and cuts.amount.iloc[0] == pytest.approx(0.495)
    assert sim.series.im.max() <= 1000.0
    assert sim.series["notional:BTCUSDT"].iloc[1] == pytest.approx(99 * 100)
