"""The fill-time initial-margin check: new risk beyond the collateral is cut or rejected, with an event.

Numbers by hand, on a cross regime at leverage 10 with the 2020/21 BTCUSDT and ETHUSDT brackets (first
tiers up to 50k and 10k USDT, max leverage 125 and 100, then 100x/75x/50x...: every notional here stays
below 1M, so IM = notional / 10), a taker fee of 0.05 % and no slippage unless a test says so.
"""

import numpy as np
import pytest
from pmsim.simulator.allocator import Allocator
from pmsim.simulator.engine.account import Account
from pmsim.simulator.engine.engine import Costs, simulate
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.engine.fills import apply_fills
from pmsim.simulator.margin.brackets import BracketBook, BracketTable
from pmsim.simulator.margin.cross import CrossRegime
from pmsim.simulator.market.handmade import handmade_market
from pmsim.simulator.market.instruments import instrument_for
from pmsim.strategies import Hold

FEE = 0.0005
WHEN = np.datetime64("2024-01-01T00:00", "ms")
SYMBOLS = ("BTCUSDT", "ETHUSDT")


@pytest.fixture
def regime(brackets_2021: BracketBook) -> CrossRegime:
    instruments = tuple(instrument_for(s, taker_fee=FEE) for s in SYMBOLS)
    return CrossRegime(instruments, brackets_2021, leverage=10.0)


def book(*wallets: float, qty: tuple[float, float] = (0.0, 0.0)) -> Account:
    account = Account.open(np.array(wallets), len(SYMBOLS))
    account.qty[:] = qty
    account.entry[:] = np.where(np.array(qty) != 0, 100.0, 0.0)
    return account


def fill(regime, account, target, collateral, slippage=0.0, listed=(True, True)):
    """Apply one bar's fills at price 100 for every instrument; returns the event table."""
    log = EventLog()
    price = np.full(len(SYMBOLS), 100.0)
    apply_fills(
        account,
        np.broadcast_to(np.asarray(target, dtype=float), account.qty.shape).copy(),
        price,
        price,
        np.array(listed),
        np.full(len(SYMBOLS), FEE),
        slippage,
        regime,
        WHEN,
        0,
        log,
        np.broadcast_to(np.asarray(collateral, dtype=float), account.wallet.shape).copy(),
    )
    return log.table(np.array([WHEN]), SYMBOLS)


def test_order_beyond_collateral_is_cut_to_what_fits(regime):
    account = book(1000.0)
    events = fill(regime, account, [200.0, 0.0], collateral=1000.0)
    # the full order: IM 200 * 100 / 10 = 2000 > 1000 - fee 0.0005 * 200 * 100 = 990 of room,
    # so the order is scaled by 990 / 2000 = 0.495 -> 99 contracts
    assert account.qty[0].tolist() == pytest.approx([99.0, 0.0])
    cut = events[events.kind == "cut"]
    assert len(cut) == 1 and cut.amount.iloc[0] == pytest.approx(0.495)
    assert cut.note.iloc[0] == "initial margin check" and cut.symbol.iloc[0] == ""
    fills = events[events.kind == "fill"]
    assert fills[["symbol", "qty", "price"]].values.tolist() == [["BTCUSDT", pytest.approx(99.0), 100.0]]
    assert fills.amount.iloc[0] == pytest.approx(FEE * 99 * 100)
    # what was filled fits: IM 990 <= equity 1000 - fee 4.95
    assert account.wallet[0] == pytest.approx(1000 - FEE * 99 * 100)
    assert account.wallet[0] >= 99 * 100 / 10


def test_order_within_collateral_fills_in_full_without_event(regime):
    account = book(1000.0)
    events = fill(regime, account, [50.0, 0.0], collateral=1000.0)  # IM 500, fee 2.5
    assert account.qty[0, 0] == 50.0
    assert set(events.kind) == {"fill"}


def test_order_whose_fee_tips_it_over_is_cut(regime):
    # IM 999 <= equity 1000, but not once the fee 0.0005 * 99.9 * 100 = 4.995 is paid:
    # room 995.005 -> scale 995.005 / 999
    account = book(1000.0)
    events = fill(regime, account, [99.9, 0.0], collateral=1000.0)
    assert account.qty[0, 0] == pytest.approx(99.9 * 995.005 / 999)
    assert events[events.kind == "cut"].amount.iloc[0] == pytest.approx(995.005 / 999)


def test_an_order_under_one_contract_is_checked_too(regime):
    # 0.5 BTC: IM 5 on a collateral of 1, fee 0.025 -> scale (1 - 0.025) / 5 = 0.195
    account = book(1.0)
    events = fill(regime, account, [0.5, 0.0], collateral=1.0)
    assert account.qty[0, 0] == pytest.approx(0.5 * 0.195)
    assert events[events.kind == "cut"].amount.tolist() == pytest.approx([0.195])


def test_slippage_is_in_the_fee_the_check_reserves(regime):
    # buying at 100 * (1 + 1 %) = 101: fee 0.0005 * 200 * 101 = 10.1, room 989.9; IM is at mark: 2000
    account = book(1000.0)
    events = fill(regime, account, [200.0, 0.0], collateral=1000.0, slippage=0.01)
    assert events[events.kind == "cut"].amount.iloc[0] == pytest.approx(989.9 / 2000, rel=1e-12)
    assert events[events.kind == "fill"].price.iloc[0] == pytest.approx(101.0)


def test_new_risk_without_room_is_rejected_and_reducing_still_fills(regime):
    account = book(1000.0, qty=(95.0, 0.0))
    # IM held 950; collateral 900 leaves no room: the increase to 120 is rejected, nothing trades
    events = fill(regime, account, [120.0, 0.0], collateral=900.0)
    assert account.qty[0, 0] == 95.0
    assert events[["kind", "symbol", "amount", "note"]].values.tolist() == [
        ["rejection", "", 0.0, "initial margin check"]
    ]
    # a reduction is always allowed, whatever the collateral
    events = fill(regime, account, [40.0, 0.0], collateral=0.0)
    assert account.qty[0, 0] == 40.0
    assert list(events.kind) == ["fill"]


def test_a_reduction_fills_in_full_when_the_book_is_already_short_of_margin(regime):
    # IM held 950 against a collateral of 940: reducing to 40 adds no risk, so no cut
    account = book(1000.0, qty=(95.0, 0.0))
    events = fill(regime, account, [40.0, 0.0], collateral=940.0)
    assert account.qty[0, 0] == 40.0
    assert list(events.kind) == ["fill"]


def test_margin_freed_by_one_leg_backs_new_risk_in_another(regime):
    # hold 50 BTC; target 10 BTC and 150 ETH. Fee on 40 + 150 traded: 0.0005 * 190 * 100 = 9.5.
    # IM after the reduction alone: 10 BTC -> 100; with the full order: 100 + 150 ETH -> 1600.
    # room = 1000 - 9.5 - 100 = 890.5 for an extra 1500: the ETH buy is scaled by 890.5 / 1500
    account = book(1000.0, qty=(50.0, 0.0))
    events = fill(regime, account, [10.0, 150.0], collateral=1000.0)
    scale = 890.5 / 1500
    assert account.qty[0].tolist() == pytest.approx([10.0, 150.0 * scale])
    assert events[events.kind == "cut"].amount.tolist() == pytest.approx([scale])


def test_books_of_a_batch_are_checked_one_by_one(regime):
    # book 0 as in the first test (cut to 0.495); book 1 asks for 50 BTC, which fits
    account = book(1000.0, 1000.0)
    events = fill(regime, account, [[200.0, 0.0], [50.0, 0.0]], collateral=[1000.0, 1000.0])
    assert account.qty[:, 0].tolist() == pytest.approx([99.0, 50.0])
    assert account.wallet.tolist() == pytest.approx([1000 - FEE * 99 * 100, 1000 - FEE * 50 * 100])
    cut = events[events.kind == "cut"]
    assert cut.config.tolist() == [0] and cut.amount.tolist() == pytest.approx([0.495])


def test_a_book_that_only_reduces_is_never_rejected_beside_one_that_adds(regime):
    # book 0 buys 50 BTC (fits); book 1 cuts 95 BTC to 40 while its collateral (300) is below even the
    # reduced IM (400): the reduction fills, and neither book gets a cut or a rejection
    account = book(1000.0, 1000.0)
    account.qty[1, 0], account.entry[1, 0] = 95.0, 100.0
    events = fill(regime, account, [[50.0, 0.0], [40.0, 0.0]], collateral=[1000.0, 300.0])
    assert account.qty[:, 0].tolist() == [50.0, 40.0]
    assert list(events.kind) == ["fill", "fill"]


def test_an_unlisted_instrument_is_not_traded(regime):
    account = book(1000.0)
    events = fill(regime, account, [10.0, 10.0], collateral=1000.0, listed=(True, False))
    assert account.qty[0].tolist() == [10.0, 0.0]
    assert events.symbol.tolist() == ["BTCUSDT"]


def test_the_check_uses_the_brackets_in_force_at_the_fill(brackets_2021):
    # a later table (from 2030) allows only 5x: it must not apply to a fill in 2024
    later = BracketTable(
        "BTCUSDT",
        np.datetime64("2030-01-01", "ms"),
        np.array([0.0]),
        np.array([1e12]),
        np.array([5.0]),
        np.array([0.1]),
        np.array([0.0]),
        "test",
    )
    books = BracketBook([*brackets_2021.tables, later], "test")
    regime = CrossRegime(tuple(instrument_for(s, taker_fee=FEE) for s in SYMBOLS), books, leverage=10.0)
    # hold 10 BTC (IM 100 at 10x, 200 at 5x) and buy 190 more: fee 0.0005 * 190 * 100 = 9.5,
    # room = 1000 - 9.5 - 100 = 890.5 for an extra 2000 - 100 = 1900
    account = book(1000.0, qty=(10.0, 0.0))
    events = fill(regime, account, [200.0, 0.0], collateral=1000.0)
    assert events[events.kind == "cut"].amount.tolist() == pytest.approx([890.5 / 1900])


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
