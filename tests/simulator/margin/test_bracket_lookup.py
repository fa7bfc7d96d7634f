"""The vectorised tier lookup agrees with a scalar walk over each table, at and between tier floors."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pmsim.simulator.margin.brackets import BracketBook, group_of
from pmsim.simulator.market.instruments import instrument_for

BOOK = BracketBook.load()
INSTRUMENTS = tuple(instrument_for(s) for s in ("BTCUSDT", "ETHUSDT", "BTCUSDT_250328", "ETHUSDT_250328"))
WHEN = np.datetime64("2024-07-01", "ms")


def scalar_mm(table, notional: float) -> tuple[float, float]:
    """Walk the tiers one by one: the last tier whose floor is <= notional."""
    k = 0
    for i, floor in enumerate(table.floor):
        if notional >= floor:
            k = i
    return max(notional * table.mmr[k] - table.cum[k], 0.0), table.max_leverage[k]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 2e9, allow_nan=False), min_size=4, max_size=4))
def test_lookup_matches_scalar_walk(notional):
    arrays = BOOK.arrays(INSTRUMENTS, WHEN)
    mm, lev = arrays.lookup(np.array([notional]))
    for n, inst in enumerate(INSTRUMENTS):
        expected_mm, expected_lev = scalar_mm(BOOK.table(group_of(inst), WHEN), notional[n])
        assert abs(mm[0, n] - expected_mm) <= 1e-9 * max(1.0, expected_mm)
        assert lev[0, n] == expected_lev


def test_exact_tier_floors_take_the_upper_tier():
    arrays = BOOK.arrays(INSTRUMENTS[:1], WHEN)
    # 2024-05-30 BTCUSDT table: tier 2 starts at 50,000 (MMR 0.5 %, cum 50), tier 1 ends below it
    mm, lev = arrays.lookup(np.array([[49_999.99], [50_000.0]]))
    assert lev.ravel().tolist() == [125.0, 100.0]
    np.testing.assert_allclose(mm.ravel(), [49_999.99 * 0.004, 50_000 * 0.005 - 50], rtol=0, atol=1e-9)
