"""The demo's two books, sized from the market they run on: an ADX sweep and a leveraged hold."""

from __future__ import annotations

from pmsim.simulator.build import first_price
from pmsim.simulator.config import (
    AccountConfig,
    AllocatorConfig,
    MarketConfig,
    RegimeConfig,
    RunConfig,
    StrategyConfig,
)
from pmsim.simulator.market.arrays import Market

WALLET = 100_000.0
HOLD_LEVERAGES = (2.0, 5.0, 10.0)


def demo_configs(market: Market, market_config: MarketConfig) -> list[RunConfig]:
    """ADX over 1, 2 and 4 days of hourly bars in lockstep (entered above ADX 25 / 22 / 18, held down to
    20 / 18 / 15, full size from 40: a longer window smooths ADX); BTC+ETH longs at 2x, 5x and 10x (half
    each).

    ADX re-sizes to equity every bar, so it names a 10 % rebalance band (no fee churn); the hold books
    name no allocator rule: they are never resized.
    """
    regime = RegimeConfig(name="cross", params={"leverage": 20.0})
    adx = StrategyConfig(
        name="adx",
        params={
            "window": [24, 48, 96],
            "entry": [25.0, 22.0, 18.0],
            "exit": [20.0, 18.0, 15.0],
            "full_at": 40.0,
            "fraction": [0.5, 0.5, 0.5],
            "leverage": [3.0, 3.0, 3.0],
            "symbols": ("BTCUSDT", "ETHUSDT"),
        },
    )
    btc, eth = first_price(market, "BTCUSDT"), first_price(market, "ETHUSDT")
    books = [
        {"BTCUSDT": round(lev * WALLET / 2 / btc, 6), "ETHUSDT": round(lev * WALLET / 2 / eth, 6)}
        for lev in HOLD_LEVERAGES
    ]
    hold = StrategyConfig(name="hold", params={"positions": books})
    account = AccountConfig(wallet=WALLET)
    band = AllocatorConfig(rebalance_band=0.1)
    return [
        RunConfig(
            name="adx", market=market_config, regime=regime, strategy=adx, allocator=band, account=account
        ),
        RunConfig(name="hold", market=market_config, regime=regime, strategy=hold, account=account),
    ]
