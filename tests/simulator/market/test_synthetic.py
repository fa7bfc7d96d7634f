"""The synthetic market: determinism, bar consistency, the quarterly calendar, funding instants, and
statistics of a long sample against the calibration it was generated from."""

import copy

import numpy as np
import pandas as pd
import pytest
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.market.arrays import PRICE_FIELDS
from pmsim.simulator.market.calibration import Jumps, robust_sigma
from pmsim.simulator.market.instruments import parse_symbol
from pmsim.simulator.market.synthetic import generate_market, load_calibration

ARRAY_FIELDS = (*PRICE_FIELDS, "funding_rate", "funding_due", "listed", "settlement", "expiry_bar")
LONG_YEARS = 10


@pytest.fixture(scope="module")
def market():
    return generate_market()


@pytest.fixture(scope="module")
def long_market():
    return generate_market(seed=11, bars=LONG_YEARS * 8760)


@pytest.fixture(scope="module")
def cal():
    return load_calibration()


def _value(cal, *keys):
    node = cal
    for key in keys:
        node = node[key]
    return node["value"]


def _perp_returns(m) -> pd.DataFrame:
    return pd.DataFrame(np.diff(np.log(m.close[:, :2]), axis=0), columns=["BTC", "ETH"])


# ---------------------------------------------------------------- determinism and shape


def test_same_seed_gives_identical_arrays(market) -> None:
    again = generate_market()
    for name in ARRAY_FIELDS:
        assert np.array_equal(getattr(market, name), getattr(again, name), equal_nan=True), name
    assert market.symbols == again.symbols and np.array_equal(market.times, again.times)


def test_different_seeds_differ(market) -> None:
    other = generate_market(seed=8)
    assert not np.array_equal(market.close[:, :2], other.close[:, :2])
    assert not np.array_equal(market.funding_rate, other.funding_rate)


def test_one_year_default_layout(market) -> None:
    assert market.n_bars == 8760 and market.bar_seconds == 3600.0
    assert market.times[0] == np.datetime64("2024-01-01T00:00", "ms")
    assert market.symbols[:2] == ("BTCUSDT", "ETHUSDT")
    assert market.underlyings == ("BTC", "ETH")
    assert market.source == "synthetic (seed 7, calibrated to Binance history)"
    assert {s[-6:] for s in market.symbols[2:]} == {
        "240329",
        "240628",
        "240927",
        "241227",
        "250328",
        "250627",
    }


def test_a_single_bar_is_a_valid_market() -> None:
    m = generate_market(bars=1, start="2024-03-29T07:00")
    assert m.n_bars == 1 and m.listed.sum() == 6  # 2 perps + 2 quarterlies each; 240329 expires in this bar


# ---------------------------------------------------------------- bars


@pytest.mark.parametrize("prefix", ["", "mark_"])
def test_high_and_low_bracket_open_and_close(market, prefix: str) -> None:
    o, high, low, c = (getattr(market, prefix + f)[market.listed] for f in ("open", "high", "low", "close"))
    assert np.all(high >= np.maximum(o, c)) and np.all(low <= np.minimum(o, c)) and np.all(low > 0)


def test_prices_are_nan_exactly_where_not_listed(market) -> None:
    for name in PRICE_FIELDS:
        assert np.array_equal(np.isnan(getattr(market, name)), ~market.listed), name


def test_open_is_previous_close(market) -> None:
    both = market.listed[1:] & market.listed[:-1]
    assert np.array_equal(market.open[1:][both], market.close[:-1][both])


def test_last_trade_wicks_usually_exceed_mark_wicks(market) -> None:
    perp = slice(0, 2)
    share = np.mean(market.high[:, perp] >= market.mark_high[:, perp])
    assert 0.6 < share < 1.0  # the data: 87% (BTC) and 93% (ETH) of hours


# ---------------------------------------------------------------- calendar


def test_two_quarterlies_per_underlying_listed_at_every_bar(market) -> None:
    for u in market.underlyings:
        cols = [k for k, i in enumerate(market.instruments) if i.is_dated and i.underlying == u]
        assert np.all(market.listed[:, cols].sum(axis=1) == 2), u


def test_quarterlies_list_at_a_delivery_and_never_trade_after_their_own(market) -> None:
    deliveries = {i.expiry for i in market.instruments if i.is_dated}
    for k, inst in enumerate(market.instruments):
        if not inst.is_dated:
            continue
        open_times = market.times[market.listed[:, k]]
        assert open_times[-1] < inst.expiry
        assert open_times[0] == market.times[0] or open_times[0] in deliveries
        assert inst.expiry == parse_symbol(inst.symbol)[2]


def test_basis_converges_to_zero_at_delivery(market) -> None:
    expiring = [k for k in range(len(market.instruments)) if market.expiry_bar[k] >= 0]
    assert len(expiring) == 8  # 4 deliveries in 2024 x 2 underlyings
    for k in expiring:
        t, u = market.expiry_bar[k], market.underlying_index[k]
        assert market.times[t] + np.timedelta64(1, "h") == market.instruments[k].expiry
        assert abs(market.close[t, k] / market.close[t, u] - 1.0) < 1e-12
        assert (
            market.settlement[k]
            == market.mark_close[t, u]
            == pytest.approx(market.mark_close[t, k], rel=1e-12)
        )
    assert np.all(np.isnan(market.settlement[market.expiry_bar < 0]))


def test_basis_is_wide_far_from_delivery(market) -> None:
    k = market.symbols.index("BTCUSDT_241227")
    first = np.flatnonzero(market.listed[:, k])[0]
    assert 0.0 < market.close[first, k] / market.close[first, 0] - 1.0 < 0.2


# ---------------------------------------------------------------- funding


def test_funding_only_on_perpetuals_at_00_08_16_utc(market) -> None:
    hours = ((market.times - market.times.astype("datetime64[D]")) // np.timedelta64(1, "h")).astype(int)
    due_rows = np.isin(hours, [0, 8, 16])
    perp = market.perpetual_columns()
    assert np.array_equal(market.funding_due[:, perp], np.repeat(due_rows[:, None], len(perp), axis=1))
    dated = np.setdiff1d(np.arange(len(market.instruments)), perp)
    assert not market.funding_due[:, dated].any()
    assert np.all(market.funding_rate[~market.funding_due] == 0.0)
    assert np.all(market.funding_rate[market.funding_due] != 0.0)
    assert market.funding_due[:, 0].sum() == 3 * 365  # 8760 hourly bars = 365 days


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("kwargs", [{"bars": 0}, {"start": "2024-01-01T00:30"}, {"start": "not a date"}])
def test_bad_arguments_raise_config_error(kwargs) -> None:
    with pytest.raises(ConfigError, match="synthetic market"):
        generate_market(**kwargs)


def test_incomplete_calibration_names_the_missing_key(cal) -> None:
    broken = copy.deepcopy(cal)
    del broken["basis"]["ETH"]["ar1_hourly"]
    with pytest.raises(ConfigError, match="basis.ETH.ar1_hourly"):
        generate_market(bars=10, calibration=broken)


# ---------------------------------------------------------------- statistics vs calibration
# Tolerances come from running seeds 0-3 over 10 years: seed-to-seed spread and the model's known bias
# are stated at each assertion. Heavy tails (t with nu ~ 3.7 has no fourth moment) make the plain
# standard deviation a poor test statistic, so volatility is compared through the robust sigma.


def test_robust_volatility_matches_calibration(long_market, cal) -> None:
    r = _perp_returns(long_market)
    for u in ("BTC", "ETH"):
        expected = _value(cal, "returns", u, "robust_sigma_1h")
        # seeds 0-3: BTC -2%..+1.5%, ETH -7%..-5% (the model's body is a little more peaked than ETH's)
        assert robust_sigma(r[u].to_numpy()) == pytest.approx(expected, rel=0.10), u


def test_ex_jump_correlation_matches_calibration(long_market, cal) -> None:
    r = _perp_returns(long_market)
    quiet = r[~Jumps.classify(r).jump.any(axis=1)]
    # seeds 0-3 give 0.79..0.82 against 0.826: one fitted simulation seed plus fat-tailed sampling noise
    assert quiet.corr().iloc[0, 1] == pytest.approx(
        _value(cal, "returns", "joint", "ex_jump_correlation"), abs=0.05
    )


def test_volatility_clusters(long_market) -> None:
    size = np.abs(_perp_returns(long_market)["BTC"].to_numpy())
    acf = [np.corrcoef(size[:-lag], size[lag:])[0, 1] for lag in (1, 6, 24)]
    assert all(a > 0.05 for a in acf)  # seed 11 gives 0.13, 0.12, 0.10; i.i.d. returns ~ +-0.003


def test_funding_mean_matches_calibration(long_market, cal) -> None:
    for k, u in enumerate(("BTC", "ETH")):
        rates = long_market.funding_rate[long_market.funding_due[:, k], k]
        phi, std = _value(cal, "funding", u, "ar1"), _value(cal, "funding", u, "std")
        # standard error of an AR(1) mean: std / sqrt(n) x sqrt((1 + phi) / (1 - phi)); allow 4 of them
        se = std / np.sqrt(rates.size) * np.sqrt((1 + phi) / (1 - phi))
        assert abs(rates.mean() - _value(cal, "funding", u, "mean")) < 4 * se, u


def test_basis_level_matches_calibration(long_market, cal) -> None:
    m = long_market
    for k, u in enumerate(("BTC", "ETH")):
        cols = [j for j, i in enumerate(m.instruments) if i.is_dated and i.underlying == u]
        expiry = np.array([m.instruments[j].expiry for j in cols])
        hours_left = (expiry[None, :] - (m.times[:, None] + np.timedelta64(1, "h"))) / np.timedelta64(1, "h")
        far = m.listed[:, cols] & (hours_left >= 14 * 24)
        basis = (m.close[:, cols][far] / np.broadcast_to(m.close[:, [k]], far.shape)[far] - 1.0) / (
            hours_left[far] / 8760
        )
        phi, std = _value(cal, "basis", u, "ar1_hourly"), _value(cal, "basis", u, "std_annual")
        # hourly AR(1) with half-life ~400 h: effective sample n (1 - phi) / (1 + phi) ~ 80 over 10 years
        se = std / np.sqrt(far.any(axis=1).sum() * (1 - phi) / (1 + phi))
        assert abs(basis.mean() - _value(cal, "basis", u, "mean_annual")) < 4 * se, u


def test_mark_spread_matches_calibration(long_market, cal) -> None:
    for k, u in enumerate(("BTC", "ETH")):
        spread = np.log(long_market.mark_close[:, k] / long_market.close[:, k])
        # Gaussian AR(1) at the measured robust size: the MAD of 87 600 hours is within ~1%
        assert robust_sigma(spread) == pytest.approx(_value(cal, "mark", u, "spread_sigma"), rel=0.05), u
