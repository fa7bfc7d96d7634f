"""Binance's published cross-margin example (margin-rules.md §1.4 A), with the 2020/21 brackets."""

import numpy as np
import pytest
from pmsim.simulator.engine.account import Account
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.engine.policies import AccountWide
from pmsim.simulator.margin.cross import CrossRegime
from pmsim.simulator.market.instruments import instrument_for

WHEN = np.datetime64("2021-06-01", "ms")


QTY = np.array([[109.488, 3683.979]])
ENTRY = np.array([[32481.98, 1456.84]])
MARK = np.array([31967.27, 1335.18])
WALLET = 1_535_443.01


@pytest.fixture
def regime(brackets_2021):
    instruments = (instrument_for("BTCUSDT"), instrument_for("ETHUSDT"))
    return CrossRegime(instruments, brackets_2021, leverage=20)


def test_maintenance_margin_per_position(regime):
    req = regime.requirements(QTY, MARK, WHEN)
    # BTC: 109.488 x 31,967.27 = 3,500,032.458 in the 1M-5M tier: x 2.5% - 16,300
    # ETH: 3,683.979 x 1,335.18 = 4,918,775.081 in the 2M-5M tier: x 10% - 135,365
    assert req.mm_pos[0].tolist() == pytest.approx(
        [3_500_032.458 * 0.025 - 16_300, 4_918_775.081 * 0.10 - 135_365], abs=1e-2
    )
    assert req.mm_pos[0, 0] == pytest.approx(71_200.81144, abs=1e-3)
    assert req.mm_pos[0, 1] == pytest.approx(356_512.508, abs=1e-3)
    assert req.mm[0] == pytest.approx(427_713.32, abs=1e-2)


def test_margin_ratio(regime):
    account = Account.open(np.array([WALLET]), 2)
    account.qty, account.entry = QTY.copy(), ENTRY.copy()
    equity = account.equity(MARK)[0]
    # margin balance = 1,535,443.01 - 56,354.57 - 448,192.89
    assert equity == pytest.approx(1_030_895.56, abs=0.02)
    assert regime.requirements(QTY, MARK, WHEN).mm[0] / equity == pytest.approx(0.4149, abs=1e-4)


@pytest.mark.parametrize(("btc_low", "liquidated"), [(26_316.0, True), (26_318.0, False)])
def test_account_liquidates_below_the_published_btc_liquidation_price(regime, btc_low, liquidated):
    # Published BTC liquidation price with ETH at its mark: 26,316.89.
    account = Account.open(np.array([WALLET]), 2)
    account.qty, account.entry = QTY.copy(), ENTRY.copy()
    log = EventLog()
    low, high = np.array([btc_low, MARK[1]]), np.array([MARK[0], MARK[1]])
    hit = AccountWide().liquidate(account, regime, MARK, low, high, np.array([0, 1]), WHEN, 0.0, 0, log)
    assert bool(hit[0]) is liquidated
    assert log.count("liquidation") == (2 if liquidated else 0)


@pytest.mark.parametrize(("rule", "btc_price"), [("threshold", 26_316.89), ("extreme", 25_000.0)])
def test_the_liquidation_fills_at_the_published_price_or_at_the_extreme(regime, rule, btc_price):
    # From the mark (31,967.27) down to a low of 25,000 equity meets MM where BTC is at the published
    # liquidation price 26,316.89 (ETH held at its mark; BTC stays in its 1M-5M tier: 2.88M notional).
    # ``threshold`` closes both legs there; ``extreme`` at the low. ETH closes at its mark either way.
    account = Account.open(np.array([WALLET]), 2)
    account.qty, account.entry = QTY.copy(), ENTRY.copy()
    log = EventLog()
    low = np.array([25_000.0, MARK[1]])
    AccountWide(price=rule).liquidate(account, regime, MARK, low, MARK, np.array([0, 1]), WHEN, 0.0, 0, log)
    events = log.table(np.array([WHEN]), ("BTCUSDT", "ETHUSDT"))
    assert events.price.tolist() == pytest.approx([btc_price, MARK[1]], abs=0.01)
    # the wallet after closing: WB + 109.488 (P - 32,481.98) + 3,683.979 (1,335.18 - 1,456.84)
    assert account.wallet[0] == pytest.approx(
        WALLET + 109.488 * (btc_price - 32_481.98) + 3_683.979 * (1_335.18 - 1_456.84), abs=2.0
    )
