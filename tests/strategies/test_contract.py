"""The strategy contract: a view that ends at bar t, parameters broadcast over the books, ``hold`` books,
and the edges of ``adx``'s parameters and sizing."""

import warnings

import numpy as np
import pytest
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies import AdxTrend, Hold
from pmsim.strategies.base import BarView, as_param


@pytest.fixture
def market():
    closes = 100.0 + 2.0 * np.arange(40) + np.random.default_rng(5).normal(0.0, 0.5, 40)
    eth = np.r_[400.0 - 2.0 * np.arange(39), np.nan]  # ETHUSDT not listed in the last bar
    return handmade_market({"BTCUSDT": closes, "ETHUSDT": eth})


def test_view_ends_at_bar_t_and_cannot_change_the_account(market):
    equity, qty = np.array([1000.0]), np.zeros((1, 2))
    view = BarView.at(market, 10, equity, qty)
    assert view.close.shape == (11, 2) and view.mark_close.shape == (11, 2)
    np.testing.assert_array_equal(view.close[-1], market.close[10])
    np.testing.assert_array_equal(view.mark_close[-1], market.mark_close[10])
    assert view.time == market.times[10] and view.t == 10
    np.testing.assert_array_equal(view.listed, market.listed[10])
    with pytest.raises(ValueError, match="read-only"):
        view.qty[0, 0] = 1.0
    equity[0] = 0.0
    assert view.equity[0] == 1000.0


def test_parameters_broadcast_to_floats():
    assert as_param(3, 2, "x").tolist() == [3.0, 3.0]
    assert as_param([1, 2], 2, "x").dtype == float
    with pytest.raises(ConfigError, match="strategy parameter x has 3 values; expected 1 or 2"):
        as_param([1, 2, 3], 2, "x")


def test_hold_books(market):
    one = Hold({"BTCUSDT": 1.0})
    assert one.n_configs == 1
    two = Hold([{"BTCUSDT": 1.0, "ETHUSDT": -2.0}, {"ETHUSDT": 3.0}])
    two.prepare(market)
    assert two.n_configs == 2
    assert two.decide(BarView.at(market, 0, np.ones(2), np.zeros((2, 2)))).tolist() == [
        [1.0, -2.0],
        [0.0, 3.0],
    ]
    assert two.labels() == ["BTCUSDT +1 ETHUSDT -2", "ETHUSDT +3"]
    assert two.describe() == {
        "name": "hold",
        "positions": [{"BTCUSDT": 1.0, "ETHUSDT": -2.0}, {"ETHUSDT": 3.0}],
    }
    with pytest.raises(ConfigError, match="positions must name at least one book"):
        Hold([])


def test_adx_parameter_edges():
    assert AdxTrend().n_configs == 1
    assert AdxTrend(window=[5, 6, 7]).n_configs == 3
    AdxTrend(window=2, fraction=0.0, leverage=0.5)  # the smallest allowed values
    message = "adx: window must be >= 2, fraction >= 0 and leverage > 0"
    for bad in ({"window": 1}, {"fraction": -0.1}, {"leverage": 0.0}):
        with pytest.raises(ConfigError, match=message) as caught:
            AdxTrend(**bad)
        (key, value), *_ = bad.items()
        assert f"{key} = {value}" in str(caught.value)  # the error shows the value to fix


def test_adx_needs_just_over_two_windows_of_bars(market):
    AdxTrend(window=19, symbols=("BTCUSDT",)).prepare(market)  # 40 bars > 2 x 19
    with pytest.raises(ConfigError, match="needs more than 40 bars; the market has 40"):
        AdxTrend(window=20).prepare(market)


def test_adx_sizes_nothing_without_equity_or_price(market):
    strategy = AdxTrend(window=5, entry=10.0)
    strategy.prepare(market)
    view = BarView.at(market, 38, np.array([0.0]), np.zeros((1, 2)))
    assert not strategy.decide(view).any()
    view = BarView.at(market, 38, np.array([-50.0]), np.zeros((1, 2)))
    assert not strategy.decide(view).any()
    # ETHUSDT has no price in the last bar: it is sized at its last close (the engine trades only listed
    # instruments), with no floating-point warning and no NaN
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        target = strategy.decide(BarView.at(market, 39, np.array([1000.0]), np.zeros((1, 2))))
    assert np.isfinite(target).all() and target[0, 0] > 0


def test_adx_labels_and_description():
    strategy = AdxTrend(window=[5, 10], entry=20.0, fraction=0.25, leverage=[1.0, 3.0], symbols=("BTCUSDT",))
    assert strategy.labels() == [
        "adx w=5 in=20 out=20 full=20 frac=0.25 lev=1",
        "adx w=10 in=20 out=20 full=20 frac=0.25 lev=3",
    ]
    assert strategy.describe() == {
        "name": "adx",
        "window": [5, 10],
        "entry": [20.0, 20.0],
        "exit": [20.0, 20.0],
        "full_at": [20.0, 20.0],
        "min_size": [0.25, 0.25],
        "fraction": [0.25, 0.25],
        "leverage": [1.0, 3.0],
        "stop_loss": [0.0, 0.0],
        "trailing_stop": [0.0, 0.0],
        "symbols": ["BTCUSDT"],
    }
