"""Isolated and partial liquidation in the engine, on hand-built bars with the arithmetic written out."""

import pytest
from pmsim.simulator.allocator import Allocator, MurCap
from pmsim.simulator.engine.engine import Costs, simulate
from pmsim.simulator.engine.policies import policy_for
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin import make_regime
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies import Hold


def run(regime_name, mode, lows, positions, wallet, leverage=10.0, fee=0.0, clearance=0.0):
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
        policy=policy_for(regime, mode),
    )


def test_isolated_liquidates_one_position_and_its_loss_stops_at_its_wallet():
    # Long 10 BTC and 10 ETH at 100, leverage 10: each position's isolated wallet is its IM, 100.
    # BTC's LP: 100 + 10 (p - 100) = 10 p x 0.4 %  =>  p = 900 / 9.96 = 90.3614. The bar-3 low is 80:
    # the position is closed at 80, losing 200 against a 100 wallet: 100 is bankruptcy loss.
    sim = run("isolated", "full", [100, 100, 100, 80, 100], {"BTCUSDT": 10, "ETHUSDT": 10}, 1_000.0)
    liq = sim.events[sim.events.kind == "liquidation"]
    assert liq.symbol.tolist() == ["BTCUSDT"]
    assert liq.price.tolist() == [80.0]
    s = sim.series
    assert s["notional:ETHUSDT"].iloc[-1] == pytest.approx(1_000.0)  # ETH untouched
    assert s.bankruptcy_loss.iloc[3] == pytest.approx(100.0)
    assert s.wallet.iloc[3] == pytest.approx(1_000.0 - 100.0)  # the account lost exactly BTC's wallet
    # the hold book buys BTC back at the next open: a fresh isolated wallet equal to its IM
    assert sim.account.iso_wallet[0].tolist() == pytest.approx([100.0, 100.0])


def test_cross_would_have_survived_the_same_move():
    # Cross: equity at 80 = 1000 - 200 = 800 > MM = 10 x 80 x 0.4 % + 10 x 100 x 0.4 % = 7.2
    sim = run("cross", "full", [100, 100, 100, 80, 100], {"BTCUSDT": 10, "ETHUSDT": 10}, 1_000.0)
    assert not (sim.events.kind == "liquidation").any()


def test_partial_cross_liquidation_steps_down_a_tier_instead_of_closing():
    # 1,000 BTC at 100 = 100,000 notional, tier 2 of the 2024-05-30 table (0.5 %, cum 50), wallet 1,500.
    # At a low of 98.9 equity is 1500 - 1,100 = 400 and MM 98,900 x 0.5 % - 50 = 444.5: breach.
    # Stepping down to the top of tier 1 (notional 50,000, MM 200) leaves 400 >= 200, so the position
    # is cut to 50,000 / 98.9 BTC instead of closed.
    sim = run("cross", "partial", [100, 100, 98.9, 100], {"BTCUSDT": 1_000}, 1_500.0, leverage=100)
    liq = sim.events[sim.events.kind == "liquidation"]
    assert len(liq) == 1
    assert liq.qty.iloc[0] == pytest.approx(-(1_000 - 50_000 / 98.9))
    full = run("cross", "full", [100, 100, 98.9, 100], {"BTCUSDT": 1_000}, 1_500.0, leverage=100)
    assert full.events[full.events.kind == "liquidation"].qty.iloc[0] == -1_000


def test_partial_portfolio_liquidation_keeps_part_of_the_book():
    # Deribit preset, BTC and ETH apart: IM = 16 % (worst loss) + 1 % (roll shock floor) of each leg's
    # notional, MM = 0.8 x IM. Long 10 + 10 at 100 with a 450 wallet (IM 340). At a BTC low of 60 equity is
    # 50 and MM 0.8 x 0.17 x (600 + 1000) = 217.6: breach. The book is scaled by the largest f with
    # 50 >= IM(f) = f x 0.17 x 1,600 = f x 272: f = 50 / 272.
    sim = run("portfolio", "partial", [100, 100, 60, 100], {"BTCUSDT": 10, "ETHUSDT": 10}, 450.0)
    liq = sim.events[sim.events.kind == "liquidation"]
    assert liq.symbol.tolist() == ["BTCUSDT", "ETHUSDT"]  # both legs cut by the same fraction
    assert liq.qty.to_numpy() == pytest.approx([-10 * (1 - 50 / 272)] * 2, rel=1e-6)


def test_isolated_cannot_be_partial():
    market = handmade_market({"BTCUSDT": [100.0, 100.0]})
    with pytest.raises(ConfigError, match="isolated positions are liquidated in full"):
        policy_for(make_regime("isolated", market.instruments), "partial")
