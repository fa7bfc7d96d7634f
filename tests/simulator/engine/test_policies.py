"""Isolated and partial liquidation in the engine, on hand-built bars with the arithmetic written out."""

import numpy as np
import pytest
from pmsim.simulator.allocator import Allocator, MurCap
from pmsim.simulator.engine.engine import Costs, simulate
from pmsim.simulator.engine.policies import policy_for
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin import make_regime
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies import Hold

from tests.kit import Scripted


def run(regime_name, mode, lows, positions, wallet, leverage=10.0, fee=0.0, clearance=0.0, rule="threshold"):
    closes = {"BTCUSDT": [100.0] * len(lows), "ETHUSDT": [100.0] * len(lows)}
    market = handmade_market(closes, mark_low={"BTCUSDT": lows}, taker_fee=fee)
    params = {"leverage": leverage} if regime_name != "portfolio" else {}
    regime = make_regime(regime_name, market.instruments, **params)
    return simulate(
        market,
        regime,
        Hold(positions),
        Allocator((MurCap(1.0),)),
        wallet,
        Costs(slippage=0.0, clearance_fee=clearance),
        policy=policy_for(regime, mode, rule),
    )


@pytest.mark.parametrize(
    ("rule", "price", "bankrupt"),
    # threshold: closed at its LP, 900 / 9.96 = 90.3614, with 10 x 90.3614 x 0.4 % = 3.6145 of margin left;
    # extreme: closed at the bar-3 low of 80, losing 200 against a 100 wallet: 100 is bankruptcy loss
    [("threshold", 900 / 9.96, 0.0), ("extreme", 80.0, 100.0)],
)
def test_isolated_liquidates_one_position_and_its_loss_stops_at_its_wallet(rule, price, bankrupt):
    # Long 10 BTC and 10 ETH at 100, leverage 10: each position's isolated wallet is its IM, 100.
    # BTC's LP: 100 + 10 (p - 100) = 10 p x 0.4 %  =>  p = 900 / 9.96 = 90.3614. The bar-3 low is 80.
    lows = [100, 100, 100, 80, 100]
    sim = run("isolated", "full", lows, {"BTCUSDT": 10, "ETHUSDT": 10}, 1_000.0, rule=rule)
    liq = sim.events[sim.events.kind == "liquidation"]
    assert liq.symbol.tolist() == ["BTCUSDT"]
    assert liq.price.tolist() == pytest.approx([price], rel=1e-12)
    s = sim.series
    assert s["notional:ETHUSDT"].iloc[-1] == pytest.approx(1_000.0)  # ETH untouched
    assert s.bankruptcy_loss.iloc[3] == pytest.approx(bankrupt)
    # the account lost what BTC's position lost, never more than its wallet
    assert s.wallet.iloc[3] == pytest.approx(1_000.0 - min(10 * (100 - price), 100.0))
    # the hold book buys BTC back at the next open: a fresh isolated wallet equal to its IM
    assert sim.account.iso_wallet[0].tolist() == pytest.approx([100.0, 100.0])


def test_cross_would_have_survived_the_same_move():
    # Cross: equity at 80 = 1000 - 200 = 800 > MM = 10 x 80 x 0.4 % + 10 x 100 x 0.4 % = 7.2
    sim = run("cross", "full", [100, 100, 100, 80, 100], {"BTCUSDT": 10, "ETHUSDT": 10}, 1_000.0)
    assert not (sim.events.kind == "liquidation").any()


P_CROSS = 98_450 / 995  # 1500 - 1000 (100 - p) = 1000 p x 0.5 % - 50: equity meets MM at 98.94472


@pytest.mark.parametrize(("rule", "price"), [("threshold", P_CROSS), ("extreme", 98.9)])
def test_partial_cross_liquidation_steps_down_a_tier_instead_of_closing(rule, price):
    # 1,000 BTC at 100 = 100,000 notional, tier 2 of the 2024-05-30 table (0.5 %, cum 50), wallet 1,500.
    # At a low of 98.9 equity is 1500 - 1,100 = 400 and MM 98,900 x 0.5 % - 50 = 444.5: breach.
    # Equity met MM at P_CROSS on the way down (threshold) or is settled at the low 98.9 (extreme).
    # Stepping down to the top of tier 1 (notional 50,000, MM 200) leaves 444.7 (400) >= 200, so the
    # position is cut to 50,000 / price BTC instead of closed. What is left holds at 98.9:
    # 444.72 - 505.33 x (98.9447 - 98.9) = 422.1 >= 505.33 x 98.9 x 0.4 % = 199.9.
    lows = [100, 100, 98.9, 100]
    sim = run("cross", "partial", lows, {"BTCUSDT": 1_000}, 1_500.0, leverage=100, rule=rule)
    liq = sim.events[sim.events.kind == "liquidation"]
    assert len(liq) == 1
    assert liq.price.iloc[0] == pytest.approx(price, rel=1e-12)
    assert liq.qty.iloc[0] == pytest.approx(-(1_000 - 50_000 / price))
    full = run("cross", "full", lows, {"BTCUSDT": 1_000}, 1_500.0, leverage=100, rule=rule)
    assert full.events[full.events.kind == "liquidation"].qty.iloc[0] == -1_000


def test_partial_portfolio_liquidation_at_the_extreme_keeps_part_of_the_book():
    # Deribit preset, BTC and ETH apart: IM = 16 % (worst loss) + 1 % (roll shock floor) of each leg's
    # notional, MM = 0.8 x IM. Long 10 + 10 at 100 with a 450 wallet (IM 340). At a BTC low of 60 equity is
    # 50 and MM 0.8 x 0.17 x (600 + 1000) = 217.6: breach. The book is scaled by the largest f with
    # 50 >= IM(f) = f x 0.17 x 1,600 = f x 272: f = 50 / 272.
    sim = run(
        "portfolio", "partial", [100, 100, 60, 100], {"BTCUSDT": 10, "ETHUSDT": 10}, 450.0, rule="extreme"
    )
    liq = sim.events[sim.events.kind == "liquidation"]
    assert liq.symbol.tolist() == ["BTCUSDT", "ETHUSDT"]  # both legs cut by the same fraction
    assert liq.qty.to_numpy() == pytest.approx([-10 * (1 - 50 / 272)] * 2, rel=1e-6)


def test_partial_portfolio_liquidation_at_the_threshold_keeps_mm_over_im():
    # Same book (MM = 0.8 x 0.17 = 13.6 % of notional), BTC low 75. Equity 450 + 10 (p - 100) meets
    # MM 0.136 (10 p + 1000) at p = 686 / 8.64 = 79.398, where equity = MM = 0.8 IM: the largest f with
    # equity >= IM(f) = f x IM is 0.8 (2 of each leg closed at p and at ETH's 100). The rest holds at 75:
    # 243.98 - 8 x 4.398 = 208.8 >= 0.136 x 8 x 175 = 190.4.
    sim = run("portfolio", "partial", [100, 100, 75, 100], {"BTCUSDT": 10, "ETHUSDT": 10}, 450.0)
    liq = sim.events[sim.events.kind == "liquidation"]
    assert liq.symbol.tolist() == ["BTCUSDT", "ETHUSDT"]
    assert liq.price.to_numpy() == pytest.approx([686 / 8.64, 100.0], rel=1e-9)
    assert liq.qty.to_numpy() == pytest.approx([-2.0, -2.0], rel=1e-6)


def test_partial_portfolio_liquidation_follows_the_price_down():
    # Same book, BTC low 60: after each cut (to 0.8 of the book) the price goes on falling and meets MM
    # again. With m = 0.136, cut k leaves q_k = 10 x 0.8^k of each leg with equity e_k = MM = m q_(k-1)
    # (p_k + 100); the next threshold solves e_k + q_k (p - p_k) = m q_k (p + 100). The thresholds are
    # 79.40, 72.34, 65.56 and then 59.05 < 60: after 3 cuts (5.12 of each leg left) the rest holds at 60.
    sim = run("portfolio", "partial", [100, 100, 60, 100], {"BTCUSDT": 10, "ETHUSDT": 10}, 450.0)
    liq = sim.events[sim.events.kind == "liquidation"]
    m, prices, equity, q, p = 0.136, [], 450.0, 10.0, 100.0
    for _ in range(
        3
    ):  # equity + q (p' - p) = m q (p' + 100)  =>  p' = (100 m q + q p - equity) / ((1 - m) q)
        p = (100 * m * q + q * p - equity) / ((1 - m) * q)
        equity, q = m * q * (p + 100), 0.8 * q  # equity = MM of the uncut book; the cut keeps it
        prices.append(p)
    assert (100 * m * q + q * p - equity) / ((1 - m) * q) < 60  # a fourth threshold lies below the low
    assert liq[liq.symbol == "BTCUSDT"].price.to_numpy() == pytest.approx(prices, rel=1e-9)
    assert liq[liq.symbol == "BTCUSDT"].qty.to_numpy() == pytest.approx([-2.0, -1.6, -1.28], rel=1e-6)
    assert sim.series.bankruptcy_loss.iloc[-1] == 0.0


def test_isolated_cannot_be_partial():
    market = handmade_market({"BTCUSDT": [100.0, 100.0]})
    with pytest.raises(ConfigError, match="isolated positions are liquidated in full"):
        policy_for(make_regime("isolated", market.instruments), "partial")


def test_isolated_re_entry_after_a_liquidation_has_exactly_the_collateral_left():
    # Isolated, leverage 10, no fees: long 10 BTC and 10 ETH at 100 take 100 of margin each from a
    # 1,000 wallet. ETH slips to 95 (its IM at mark is now 95, but its isolated wallet still holds 100).
    # BTC is liquidated in bar 3 at its LP 900 / 9.96: the wallet keeps 1000 - 10 (100 - 90.3614) = 903.614,
    # of which ETH holds 100: 803.614 is free. The book then asks for 100 BTC at 100 (IM 1,000): it gets
    # 80.3614 BTC, whose IM is exactly the 803.614 left. Counting ETH's margin at its IM (95) instead of
    # its wallet would hand out 5 USDT that the account does not have.
    market = handmade_market(
        {"BTCUSDT": [100.0] * 6, "ETHUSDT": [100, 100, 95, 95, 95, 95]},
        mark_low={"BTCUSDT": [100, 100, 100, 80, 100, 100]},
        taker_fee=0.0,
    )
    regime = make_regime("isolated", market.instruments, leverage=10.0)
    targets = np.array([[[10.0, 10.0]]] * 3 + [[[100.0, 10.0]]] * 3)
    sim = simulate(
        market,
        regime,
        Scripted(targets),
        Allocator(()),  # no allocator rule: the fill-time IM check alone sizes the re-entry
        1_000.0,
        Costs(0.0, 0.0),
        policy=policy_for(regime),
    )
    lp = 900 / 9.96
    free = 1_000 - 10 * (100 - lp) - 100
    assert sim.events[sim.events.kind == "liquidation"].price.tolist() == pytest.approx([lp])
    refill = sim.events[(sim.events.kind == "fill") & (sim.events.time == sim.series.time[4])]
    assert refill.qty.tolist() == pytest.approx([free / 10])
    assert sim.events[sim.events.kind == "cut"].amount.tolist() == pytest.approx([free / 1_000])
    assert sim.account.iso_wallet[0].tolist() == pytest.approx([free, 100.0])
    assert sim.account.iso_wallet.sum() == pytest.approx(sim.account.wallet[0])  # nothing left unassigned


class ProtocolOnly:
    """A regime seen only through the ``Regime`` protocol: no class the policies could recognise."""

    def __init__(self, inner):
        self.name, self.liquidates, self._inner = inner.name, inner.liquidates, inner

    def requirements(self, qty, mark, when):
        return self._inner.requirements(qty, mark, when)

    def partial_reduction(self, qty, mark, equity, when, fee_rate):
        return self._inner.partial_reduction(qty, mark, equity, when, fee_rate)

    def describe(self):
        return self._inner.describe()


@pytest.mark.parametrize(
    ("name", "mode"), [("isolated", "full"), ("cross", "partial"), ("portfolio", "partial")]
)
def test_policies_need_nothing_but_the_regime_protocol(name, mode):
    market = handmade_market(
        {"BTCUSDT": [100, 100, 100, 100, 100], "ETHUSDT": [100, 100, 95, 95, 95]},
        mark_low={"BTCUSDT": [100, 100, 100, 62, 100]},
    )
    regime = make_regime(name, market.instruments, **({} if name == "portfolio" else {"leverage": 10}))
    book = Hold({"BTCUSDT": 12, "ETHUSDT": -8})
    runs = [
        simulate(market, r, book, Allocator(()), 300.0, Costs(0.0, 0.005), policy=policy_for(r, mode))
        for r in (regime, ProtocolOnly(regime))
    ]
    assert (runs[0].events.kind == "liquidation").any()
    assert runs[0].series.equals(runs[1].series)
    assert runs[0].events.equals(runs[1].events)


@pytest.mark.parametrize(("name", "kept"), [("cross", 100.0), ("isolated", 100.0)])
def test_an_increase_is_cut_to_the_margin_left_beside_what_is_held(name, kept):
    # Leverage 10, no fees, price 100 throughout, wallet 1,000. Holding 50 BTC commits 500 of IM (cross:
    # equity 1,000 - IM 500 is free; isolated: the wallet minus BTC's 500 isolated wallet). Asking for
    # 200 BTC adds 1,500 of IM, so the increase is cut to 500 / 1,500 of it: 50 + 50 = 100 BTC.
    market = handmade_market({"BTCUSDT": [100.0] * 4}, taker_fee=0.0)
    regime = make_regime(name, market.instruments, leverage=10.0)
    targets = np.array([[[50.0]], [[200.0]], [[200.0]], [[200.0]]])
    sim = simulate(
        market, regime, Scripted(targets), Allocator(()), 1_000.0, Costs(0.0, 0.0), policy=policy_for(regime)
    )
    assert sim.events[sim.events.kind == "cut"].amount.tolist() == pytest.approx([500 / 1_500])
    assert sim.account.qty[0].tolist() == pytest.approx([kept])


def test_an_isolated_position_gapped_through_fills_at_the_open():
    # Long 10 BTC at 100, leverage 10, no fees: isolated wallet 100, LP 90.3614. Bar 3 opens at 85, below
    # the LP, and trades down to 80: the position closes at the open, 85, losing 150 against its 100 wallet
    # (50 of bankruptcy loss); at the threshold rule the low (80) is never used.
    market = handmade_market(
        {"BTCUSDT": [100, 100, 100, 100, 100]},
        open={"BTCUSDT": [100, 100, 100, 85, 100]},
        mark_low={"BTCUSDT": [100, 100, 100, 80, 100]},
        taker_fee=0.0,
    )
    regime = make_regime("isolated", market.instruments, leverage=10.0)
    sim = simulate(
        market,
        regime,
        Hold({"BTCUSDT": 10}),
        Allocator(()),
        1_000.0,
        Costs(0.0, 0.0),
        policy=policy_for(regime),
    )
    liq = sim.events[sim.events.kind == "liquidation"]
    assert liq.price.tolist() == [85.0]
    assert liq.note.iloc[0].endswith("closed at the open (gapped through)")
    assert sim.series.bankruptcy_loss.iloc[3] == pytest.approx(50.0)
    assert sim.series.wallet.iloc[3] == pytest.approx(900.0)
