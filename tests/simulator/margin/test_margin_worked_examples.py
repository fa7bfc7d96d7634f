"""Published worked examples (research/margin-rules.md §11), with the hand arithmetic beside each assertion."""

from __future__ import annotations

import numpy as np
import pytest
from pmsim.simulator.errors import RegimeError
from pmsim.simulator.margin import cross_liquidation_prices, isolated_liquidation_price, make_regime
from pmsim.simulator.margin.brackets import BracketTable
from pmsim.simulator.margin.portfolio import PmParams, PortfolioRegime
from pmsim.simulator.margin.presets import Preset, load_preset
from pmsim.simulator.margin.scenarios import price_block
from pmsim.simulator.market.instruments import instrument_for

WHEN_2021 = np.datetime64("2021-06-01", "ms")
TV1_QTY = np.array([[109.488, 3683.979]])
TV1_ENTRY = np.array([[32481.98, 1456.84]])
TV1_MARK = np.array([31967.27, 1335.18])
TV1_WALLET = 1_535_443.01
BTC, ETH = instrument_for("BTCUSDT"), instrument_for("ETHUSDT")


@pytest.fixture
def tiers_2021(brackets_2021):
    return brackets_2021.arrays((BTC, ETH), WHEN_2021)


def test_tv1_binance_cross_example(tiers_2021):
    # BTC: 109.488 x 31,967.27 = 3,500,032.46 in tier 1M-5M: x 2.5 % - 16,300 = 71,200.81
    # ETH: 3,683.979 x 1,335.18 = 4,918,775.08 in tier 2M-5M: x 10 % - 135,365 = 356,512.51
    mm = tiers_2021.maintenance(np.abs(TV1_QTY) * TV1_MARK)[0]
    np.testing.assert_allclose(mm, [71_200.81, 356_512.51], atol=0.005)
    # margin balance = 1,535,443.01 - 56,354.57 - 448,192.89 = 1,030,895.55; ratio 427,713.32 / that = 41.49 %
    upnl = TV1_QTY[0] * (TV1_MARK - TV1_ENTRY[0])
    np.testing.assert_allclose(upnl, [-56_354.57, -448_192.89], atol=0.01)
    assert round(mm.sum() / (TV1_WALLET + upnl.sum()), 4) == 0.4149
    # LP_BTC = (WB - TMM1 + UPNL1 + cum - Q EP) / (Q MMR - Q), TMM1/UPNL1 = ETH's: 26,316.89 published
    liq = cross_liquidation_prices(TV1_QTY, TV1_ENTRY, np.array([TV1_WALLET]), TV1_MARK, tiers_2021)[0]
    np.testing.assert_allclose(liq, [26_316.89, 1_153.26], atol=0.005)


def test_tv1_isolated_vectors(tiers_2021):
    # freqtrade's isolated vectors: same inputs, WB as each position's isolated wallet:
    # BTC (3,556,142.28 - 1,535,443.01 - 16,300) / (109.488 x 0.975) = 18,778.73
    liq = isolated_liquidation_price(TV1_QTY, TV1_ENTRY, np.full((1, 2), TV1_WALLET), tiers_2021)[0]
    np.testing.assert_allclose(liq, [18_778.73, 1_114.78], atol=0.005)


def test_liquidation_bracket_taken_at_the_liquidation_notional(tiers_2021):
    # 40 BTC long @ 32,481.98 (notional 1,299,279 -> tier 1M-5M at entry), isolated wallet 400,000.
    # With the tier-3 rate (1 %, cum 1,300): LP = (1,299,279.2 - 400,000 - 1,300) / (40 x 0.99) = 22,676.2,
    # notional 907,048 lies in [250k, 1M): that tier is the one Binance uses, not the entry tier.
    qty, entry = np.array([[40.0, 0.0]]), np.array([[32_481.98, 0.0]])
    liq = isolated_liquidation_price(qty, entry, np.array([[400_000.0, 0.0]]), tiers_2021)[0, 0]
    assert liq == pytest.approx((40 * 32_481.98 - 400_000 - 1_300) / (40 * 0.99), abs=1e-6)


def test_tv5_cum_recursion():
    # cum_3 = 250,000 x (1 % - 0.5 %) + 50 = 1,300 (Binance FAQ); a table breaking it is refused
    tiers = np.array([[0, 5e4, 125, 0.004, 0], [5e4, 2.5e5, 100, 0.005, 50], [2.5e5, 1e6, 50, 0.01, 1300]])
    good = BracketTable("X", WHEN_2021, *tiers.T, "t")
    good.check()
    bad = BracketTable("X", WHEN_2021, *np.where(tiers == 1300, 1250, tiers).T, "t")
    with pytest.raises(RegimeError, match="tier 3 cum is 1250, the recursion gives 1300"):
        bad.check()


def test_tv9_deribit_standard_margin():
    # 25 BTC @ 100,000: IM rate 2 % + 25 x 0.005 % = 2.125 % -> 53,125; MM 1 % + 0.125 % -> 28,125
    # 350 BTC: IM 2 % + 1.75 % = 3.75 % of 35,000,000 = 1,312,500 (MM 2.75 % -> 962,500, derived)
    regime = make_regime("standard", (BTC,))
    req = regime.requirements(
        np.array([[25.0], [-350.0]]), np.array([100_000.0]), np.datetime64("2024-06-01")
    )
    np.testing.assert_allclose(req.im, [53_125.0, 1_312_500.0])
    np.testing.assert_allclose(req.mm, [28_125.0, 962_500.0])


def test_tv10_deribit_risk_vector_shape():
    # Deribit's BTC-PERPETUAL risk vector (coin PnL of an inverse long) is c m / (1 + m), c = 0.314538364.
    # Our linear long of c BTC loses/gains c P0 m USDT; in coin at the shocked price that is c m / (1 + m).
    regime = make_regime("portfolio", (BTC,), preset="deribit")
    p0, c = 65_000.0, 0.314538364
    core = regime.scenarios(np.datetime64("2024-06-17")).price[0, 0, :9]  # the 9 full-weight points
    np.testing.assert_allclose(core, np.arange(-0.16, 0.161, 0.04), atol=1e-12)
    coin = c * p0 * core / (p0 * (1 + core))
    published = [
        -0.05991206933333334,
        -0.04289159509090909,
        -0.027351162086956524,
        -0.013105765166666668,
        0.0,
        0.012097629384615385,
    ]
    np.testing.assert_allclose(coin[:6], published, rtol=1e-9)
    assert coin[6] == pytest.approx(0.023299138, abs=1e-9)


def test_tv11_okx_minimum_charge_scaling():
    # MR7_raw 30,000 -> 10,000 x 1 + (30,000 - 10,000) x 2 = 50,000; MMR = max(40,000, 50,000) = 50,000
    params = PmParams.from_json(load_preset("portfolio", "okx").versions[-1], "okx")
    gross = 30_000 / params.charge_rate
    assert params.minimum_charge(np.array(gross)) == pytest.approx(50_000.0)
    assert max(40_000.0, float(params.minimum_charge(np.array(gross)))) == pytest.approx(50_000.0)
    # further up: 200,000 raw = 10k x1 + 60k x2 + 100k x4 + 30k x6 = 710,000
    assert params.minimum_charge(np.array(200_000 / params.charge_rate)) == pytest.approx(710_000.0)


def test_tv14_span_scenario_pnl():
    # one long future with PSR 10,000: P&L 0, +-3,333, +-6,667, +-10,000, extremes +-2 PSR at 35 % = +-7,000
    regime = make_regime("portfolio", (BTC,), preset="cme")
    psr = 0.43  # CME preset: price scan range as a fraction of notional
    notional = 10_000.0 / psr
    pnl = notional * regime.scenarios(np.datetime64("2024-01-01")).price[0, 0]
    np.testing.assert_allclose(
        sorted(pnl), [-10_000, -7_000, -6_666.67, -3_333.33, 0, 3_333.33, 6_666.67, 7_000, 10_000], atol=0.01
    )
    assert regime.requirements(
        np.array([[notional / 60_000]]), np.array([60_000.0]), np.datetime64("2024-01-01")
    ).mm[0] == pytest.approx(10_000.0)


def test_tv15_dederi_futures_grid_and_contingency():
    # 10 ETH long, F0 = 2,243.3 e^(0.08 x 20/365) = 2,253.2; shocks -15..+15 % step 3 %: PnL 10 F0 shock = +-676/step
    f0 = 2_243.3 * np.exp(0.08 * 20 / 365)
    assert f0 == pytest.approx(2_253.2, abs=0.05)
    moves = np.arange(-0.15, 0.151, 0.03)
    pnl = 10 * f0 * price_block(moves, np.ones_like(moves), np.ones((1, 1)))[0, 0]
    np.testing.assert_allclose(
        np.round(pnl), [-3380, -2704, -2028, -1352, -676, 0, 676, 1352, 2028, 2704, 3380], atol=1
    )
    # contingency 0.006 x I0 x sum |Q| = 0.006 x 2,243.3 x 10 = 134.6 (an add-on of the portfolio regime)
    version = {
        "valid_from": "2024-01-01",
        "price_moves": [0.0],
        "price_weights": [1],
        "contingency_rate": 0.006,
        "anchor": "mm",
        "im_factor": 1,
    }
    preset = Preset("dederi", "Dederi wiki", np.array(["2024-01-01"], "datetime64[ms]"), (version,), "test")
    regime = PortfolioRegime((instrument_for("ETHUSDT"),), preset)
    req = regime.requirements(np.array([[10.0]]), np.array([2_243.3]), np.datetime64("2024-06-01"))
    assert req.mm[0] == pytest.approx(134.6, abs=0.01)


def test_deribit_perp_quarterly_hedge_by_hand(instruments, marks, when):
    # long 10 perp @ 60,000, short 10 Dec quarterly @ 61,500, as of 2024-09-27 08:00 (91 days to expiry):
    # price term: net delta -15,000 USDT, worst at +16 % (and +100 % x 0.16, +500 % x 0.032) -> 2,400
    # roll shock, leg by leg: perp 1 % (floor) of 600,000 = 6,000; quarterly 0.075 x 91/365.25 = 1.8686 %
    # of 615,000 = 11,491.79. Deribit anchors IM on the loss: IM = 19,891.79, MM = 0.8 x IM = 15,913.43
    regime = make_regime("portfolio", instruments, preset="deribit")
    req = regime.requirements(np.array([[10.0, -10.0, 0, 0]]), marks, when)
    assert req.im[0] == pytest.approx(2_400 + 6_000 + 0.075 * 91 / 365.25 * 615_000, abs=0.01)
    assert req.mm[0] == pytest.approx(0.8 * req.im[0])


# Deribit's private/pme/simulate response example (docs.deribit.com, model timestamp 1718619740501):
# position BTC-PERPETUAL 0.314538364, BTC-28JUN24 -0.001187534, index 65,666.19;
# worst_case 0.05968587238095239, roll_shock 0.00315725898, delta_shock 0 -> risk_matrix_margin
# 0.06284313098; maintenance_margin 0.050274504784; initial_margin 0.122861343 (adds mmp_margin 0.06 and
# open_orders_margin 0.000018212, which pmsim does not model). All in BTC.
DERIBIT_WHEN = np.datetime64(1718619740501, "ms")
DERIBIT_INDEX = 65_666.19


def test_deribit_published_pme_example_gives_im_and_mm_as_published():
    perp, future = instrument_for("BTCUSDT"), instrument_for("BTCUSDT_240628")
    regime = make_regime("portfolio", (perp, future), preset="deribit")
    qty = np.array([[0.314538364, -0.001187534]])
    mark = np.array([DERIBIT_INDEX, DERIBIT_INDEX])  # Deribit shocks the index; both legs at it
    price, roll = (part[0, 0] for part in regime.price_and_basis(qty * mark, DERIBIT_WHEN))
    # price: net 0.31335083 BTC loses 16 % of 65,666.19 = 3,292.90 USDT; Deribit counts coin at the
    # shocked index: 0.31335083 x 0.16 / 0.84 = 0.0596858723809 BTC (the published worst_case)
    assert price / (0.84 * DERIBIT_INDEX) == pytest.approx(0.05968587238095239, rel=1e-12)
    # roll: 10.9 days to expiry -> 0.075 x 0.0298 = 0.22 % < 1 % floor; the perp at the floor too:
    # 0.01 x (0.314538364 + 0.001187534) = 0.00315725898 BTC at the index (the published roll_shock)
    assert roll / DERIBIT_INDEX == pytest.approx(0.00315725898, rel=1e-12)
    # Deribit anchors IM on the loss and derives MM = 0.8 x IM
    req = regime.requirements(qty, mark, DERIBIT_WHEN)
    assert req.im[0] == pytest.approx(price + roll, rel=1e-12)
    assert req.mm[0] == pytest.approx(0.8 * (price + roll), rel=1e-12)
    risk_matrix_btc = price / (0.84 * DERIBIT_INDEX) + roll / DERIBIT_INDEX
    assert risk_matrix_btc == pytest.approx(0.06284313098, abs=1e-9)  # published (rounded in its output)
    assert 0.8 * risk_matrix_btc == pytest.approx(0.050274504784, abs=1e-9)  # published maintenance_margin
    risk_matrix, mmp, open_orders = 0.06284313098, 0.06, 0.000018212
    assert risk_matrix + mmp + open_orders == pytest.approx(0.122861343, abs=1e-9)  # the published IM


def test_cme_anchors_on_maintenance_initial_is_110_percent():
    # SPAN: the scan risk is the maintenance requirement; speculators' initial = 110 % of it
    # (CME advisory "1,760/1,600"). A long with PSR 10,000: MM 10,000, IM 11,000.
    regime = make_regime("portfolio", (BTC,), preset="cme")
    req = regime.requirements(np.array([[10_000 / 0.43 / 60_000]]), np.array([60_000.0]), WHEN_2021)
    assert (req.mm[0], req.im[0]) == pytest.approx((10_000.0, 11_000.0))
    speculator_initial, maintenance = 1_760, 1_600
    assert speculator_initial / maintenance == pytest.approx(1.1)


def test_okx_anchors_on_maintenance():
    # OKX: unit MMR = max(max(MR1, MR6) + MR4, MR7); IMR derived from it (factor 1.25 assumed, not published).
    # 1 BTC perp at 60,000 in 2025: max(MR1, MR6) = the +-24 % extreme = 14,400; no MR4 for a perp;
    # MR7 = 0.0045 x 60,000 = 270 (first tier, x 1); MMR = max(14,400, 270) = 14,400, IMR = 18,000
    regime = make_regime("portfolio", (BTC,), preset="okx")
    req = regime.requirements(np.array([[1.0]]), np.array([60_000.0]), np.datetime64("2025-02-01"))
    assert (req.mm[0], req.im[0]) == pytest.approx((14_400.0, 18_000.0))


def test_bybit_anchors_on_maintenance():
    # Bybit UTA: MM = maximum loss + contingencies, IM = MM x IM factor (1.25 assumed, not published).
    # 1 BTC perp at 60,000 in 2025: +-10 % grid -> 6,000; contingency 0.5 % x 60,000 = 300; MM 6,300
    regime = make_regime("portfolio", (BTC,), preset="bybit")
    req = regime.requirements(np.array([[1.0]]), np.array([60_000.0]), np.datetime64("2025-02-01"))
    assert (req.mm[0], req.im[0]) == pytest.approx((6_300.0, 7_875.0))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"anchor": "both"}, "anchor must be 'im' or 'mm'"),
        ({"im_factor": 1.25}, "derives the other requirement with mm_factor, not im_factor"),
        ({"mm_factor": 1.25}, "mm_factor 1.25 is out of range"),
    ],
)
def test_a_preset_must_say_how_it_anchors(change, message):
    version = dict(load_preset("portfolio", "deribit").versions[0]) | change
    with pytest.raises(RegimeError, match=message):
        PmParams.from_json(version, "test")
