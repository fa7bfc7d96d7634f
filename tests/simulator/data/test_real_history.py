"""On the staged real history: full validation, import + load_market round trip, the 2020-03-12 crash."""

from __future__ import annotations

import numpy as np
import pytest
from pmsim.simulator.data.assemble import load_market
from pmsim.simulator.data.cache import Cache, SeriesKey
from pmsim.simulator.data.importer import TidyFolder, import_folder, read_validated
from pmsim.simulator.margin.brackets import BracketBook


def test_the_staged_history_validates(real_data):
    reports = {str(i.key): i.report for i, _ in read_validated(TidyFolder(real_data))}
    assert len(reports) == 31
    gappy = {k: (len(r.gaps), r.missing) for k, r in reports.items() if r.gaps}
    # PROVENANCE.md: 27 genuine spot outages totalling 122 h; everything else is gap-free.
    assert gappy == {"spot/klines/BTCUSDT/1h": (27, 122), "spot/klines/ETHUSDT/1h": (27, 122)}
    assert reports["um/klines/BTCUSDT/1h"].rows == 58_623


def test_import_then_load_market_round_trip(real_data, tmp_path):
    cache = Cache(tmp_path / "cache")
    imported = import_folder(real_data, cache)
    assert len(cache.keys()) == len(imported) == 31
    from_cache = load_market(cache.root, start="2023-06-01", end="2024-06-30")
    from_csv = load_market(real_data, start="2023-06-01", end="2024-06-30")
    assert from_cache.symbols == from_csv.symbols
    for name in ("mark_low", "close", "funding_rate", "listed", "settlement", "expiry_bar"):
        np.testing.assert_array_equal(getattr(from_cache, name), getattr(from_csv, name))
    market = from_cache
    assert market.source == "historical (Binance)"
    btc, q = market.column("BTCUSDT"), market.column("BTCUSDT_231229")
    # funding every 8h on the perp only (395 days, plus 2024-06-30 00:00, the last bar); the quarterly
    # is listed from its first bar to delivery.
    assert market.funding_due[:, btc].sum() == 3 * 395 + 1 and not market.funding_due[:, q].any()
    delivery_bar = int(np.searchsorted(market.times, np.datetime64("2023-12-29T07:00", "ms")))
    assert market.expiry_bar[q] == delivery_bar and market.listed[delivery_bar, q]
    assert not market.listed[delivery_bar + 1 :, q].any()
    # settlement at the index proxy: the spot close of the bar ending at delivery (08:00)
    spot = cache.read(SeriesKey("spot", "klines", "BTCUSDT", "1h"))
    at = spot["open_time"] == int(np.datetime64("2023-12-29T07:00", "ms").astype(np.int64))
    assert market.settlement[q] == spot.loc[at, "close"].item()
    assert any("BTCUSDT_231229: settles at" in n and "the spot close" in n for n in market.notes)
    assert any("BTCUSDT_231229: no mark-price bars" in n for n in market.notes)


def test_btcusdt_240329_settles_at_the_spot_close_within_2_bp_of_perp_over_premium(real_data):
    market = load_market(real_data, symbols=("BTCUSDT",), start="2024-03-28", end="2024-03-30")
    q = market.column("BTCUSDT_240329")
    # Delivery 2024-03-29 08:00 UTC; the 1h bars opening at 07:00 close at delivery:
    #   spot BTCUSDT close            69794.0
    #   perp BTCUSDT close            69855.6, premium index close 0.0010468
    #     -> perp / (1 + premium)   = 69855.6 / 1.0010468 = 69782.55  (-1.6 bp vs spot)
    #   perp mark close               69853.14957447                   (+8.4 bp vs spot, the old proxy)
    # Binance's published delivery price is not in the staged files (contracts.csv and the
    # exchangeInfo snapshot carry no settlement price), so the spot close is the reference.
    assert market.times[market.expiry_bar[q]] == np.datetime64("2024-03-29T07:00", "ms")
    assert market.settlement[q] == 69794.0
    assert any("BTCUSDT_240329: settles at 69794, the spot close" in n for n in market.notes)
    by_premium = 69855.6 / (1 + 0.0010468)
    assert by_premium == pytest.approx(69782.55, abs=0.01)
    assert (by_premium / 69794.0 - 1) * 1e4 == pytest.approx(-1.6, abs=0.05)
    mark = market.mark_close[market.expiry_bar[q], market.column("BTCUSDT")]
    assert mark == 69853.14957447
    assert (mark / market.settlement[q] - 1) * 1e4 == pytest.approx(8.47, abs=0.05)
    assert (
        not market.gap.any()
        and market.notes[-1] == "gap bars (missing inside an instrument's listed life): 0"
    )


def test_four_hour_market(real_data):
    market = load_market(real_data, symbols=("ETHUSDT",), start="2024-01-01", end="2024-01-31", interval="4h")
    # end is inclusive on bar open times: 30 full days plus the 2024-01-31 00:00 bar
    assert market.bar_seconds == 4 * 3600 and market.n_bars == 30 * 6 + 1


def test_a_20x_long_opened_on_2020_03_12_is_liquidated_that_day(real_data):
    market = load_market(
        real_data, symbols=("BTCUSDT",), quarterlies=False, start="2020-03-11", end="2020-03-13"
    )
    k = market.column("BTCUSDT")
    opened = int(np.searchsorted(market.times, np.datetime64("2020-03-12T00:00", "ms")))
    entry = market.mark_open[opened, k]  # 7933.8631158
    table = BracketBook.load().table("BTCUSDT", market.times[opened])
    # 0.1 BTC is ~793 USDT of notional: tier 1 (below 50 000), MMR 0.4 %, cum 0, in every table on file.
    mmr, cum = table.mmr[0], table.cum[0]
    assert (mmr, cum) == (0.004, 0.0)
    # Isolated long, wallet = initial margin = qty*entry/20. Liquidation when wallet + qty*(P - entry)
    # = qty*P*mmr - cum; with cum = 0:  LP = entry * (1 - 1/20) / (1 - mmr) = 7933.86 * 0.95 / 0.996.
    lp = entry * (1 - 1 / 20) / (1 - mmr)
    assert lp == pytest.approx(7567.4397, abs=1e-3)
    lows = market.mark_low[opened:, k]
    liquidated = opened + int(np.argmax(lows <= lp))
    # 04:00 comes within 1.85 USDT (mark low 7569.29); 06:00 breaks it (mark low 7458.49).
    assert market.times[liquidated] == np.datetime64("2020-03-12T06:00", "ms")
    assert market.mark_low[liquidated - 2, k] == pytest.approx(7569.29499366)
    assert market.mark_low[liquidated, k] == pytest.approx(7458.49021276)


def test_bracket_history_is_dated_and_cited():
    book = BracketBook.load()
    assert {t.group for t in book.tables} == {"BTCUSDT", "ETHUSDT", "BTCUSDT_QUARTERLY", "ETHUSDT_QUARTERLY"}
    assert all(t.source for t in book.tables)
    # 2022-11-25 .. 2023-02-17: BTC tier 3 allowed only 25x (Appendix A); 2026-05-07: tier 1 is 300k at 150x.
    assert book.table("BTCUSDT", np.datetime64("2023-01-01", "ms")).max_leverage[2] == 25
    assert book.table("BTCUSDT", np.datetime64("2023-03-01", "ms")).max_leverage[2] == 50
    latest = book.table("ETHUSDT", np.datetime64("2026-06-01", "ms"))
    assert (latest.cap[0], latest.max_leverage[0]) == (300_000, 150)
    assert book.table("BTCUSDT_QUARTERLY", np.datetime64("2023-06-01", "ms")).mmr[0] == 0.02
