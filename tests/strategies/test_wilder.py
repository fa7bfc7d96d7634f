"""The compiled ADX equals ``ta.trend.ADXIndicator`` value for value, on drawn bars and on real history."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pmsim.strategies.wilder import adx_di
from ta.trend import ADXIndicator


def by_ta(high, low, close, window):
    ind = ADXIndicator(pd.Series(high), pd.Series(low), pd.Series(close), window=window, fillna=True)
    return np.stack([ind.adx().to_numpy(), ind.adx_pos().to_numpy(), ind.adx_neg().to_numpy()])


def bars(seed, n, flat_share=0.0):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    flat = rng.uniform(size=n) < flat_share
    flat[0] = False
    close[flat] = np.nan  # flat stretches: DM ties and zero ranges
    close = pd.Series(close).ffill().to_numpy()
    high = close * (1 + rng.uniform(0, 0.02, n))
    low = close * (1 - rng.uniform(0, 0.02, n))
    return high, low, close


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    window=st.integers(2, 60),
    extra=st.integers(1, 300),
    flat=st.sampled_from([0.0, 0.5]),
)
def test_compiled_adx_equals_ta_on_drawn_bars(seed, window, extra, flat):
    high, low, close = bars(seed, 2 * window + extra, flat)
    np.testing.assert_allclose(
        adx_di(high, low, close, window), by_ta(high, low, close, window), rtol=1e-12, atol=1e-12
    )


def test_compiled_adx_equals_ta_on_a_year_of_btc_history(data_dir):
    from pmsim.simulator.data.assemble import load_market

    market = load_market(
        data_dir, symbols=("BTCUSDT",), quarterlies=False, start="2021-01-01", end="2021-12-31"
    )
    high, low, close = market.high[:, 0], market.low[:, 0], market.close[:, 0]
    for window in (14, 48):
        np.testing.assert_array_equal(adx_di(high, low, close, window), by_ta(high, low, close, window))


def test_a_hand_counted_window_of_two():
    """Bars 1-3 by hand: TR 1.5, 1.5, 4.5 (the prior close widens each range); +DM 1, 1, 0; -DM 0, 0, 4."""
    high, low = np.array([10.0, 11, 12, 10, 9]), np.array([9.0, 10, 11, 7, 8])
    close = np.array([9.5, 10.5, 11.5, 8, 8.5])
    lines = adx_di(high, low, close, 2)
    np.testing.assert_allclose(lines, by_ta(high, low, close, 2), rtol=1e-12)
    # Wilder sums at bar 3: TR 3 - 3/2 + 4.5 = 6, +DM 2 - 2/2 + 0 = 1, -DM 0 - 0 + 4 = 4
    assert lines[1, 3] == pytest.approx(100 * 1 / 6)
    assert lines[2, 3] == pytest.approx(100 * 4 / 6)
