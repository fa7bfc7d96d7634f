"""Properties of the engine: the accounting identity every bar, and batching that changes nothing."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pmsim.simulator.allocator import Allocator, MurCap
from pmsim.simulator.engine.engine import Costs, simulate
from pmsim.simulator.engine.policies import policy_for
from pmsim.simulator.margin import make_regime
from pmsim.simulator.market.handmade import handmade_market

from tests.kit import Scripted

SYMBOLS = ("BTCUSDT", "ETHUSDT", "BTCUSDT_240105")


@st.composite
def scenarios(draw, max_books: int = 3):
    n_bars = draw(st.integers(4, 24))
    n_books = draw(st.integers(1, max_books))
    steps = draw(st.lists(st.floats(-0.15, 0.15), min_size=n_bars * 3, max_size=n_bars * 3))
    paths = 100 * np.exp(np.cumsum(np.array(steps).reshape(n_bars, 3), axis=0))
    wick = draw(st.floats(0.0, 0.3))
    targets = draw(st.lists(st.floats(-30, 30), min_size=n_bars * n_books * 3, max_size=n_bars * n_books * 3))
    funding = draw(st.floats(-0.003, 0.003))
    return paths, wick, np.array(targets).reshape(n_bars, n_books, 3), funding


REGIMES = [
    ("cross", "full"),
    ("cross", "partial"),
    ("isolated", "full"),
    ("portfolio", "full"),
    ("portfolio", "partial"),
]


def run(paths, wick, targets, funding, regime_name="cross", mode="full"):
    n_bars = paths.shape[0]
    close = {s: paths[:, k] for k, s in enumerate(SYMBOLS)}
    # the quarterly delivers at 2024-01-05 08:00: 4h bars from 2024-01-04 00:00 list it for 8 bars
    close["BTCUSDT_240105"] = np.where(np.arange(n_bars) < 8, close["BTCUSDT_240105"], np.nan)
    market = handmade_market(
        close,
        start="2024-01-04T00:00",
        bar_hours=4,
        mark_low={s: v * (1 - wick) for s, v in close.items()},
        funding={"BTCUSDT": funding, "ETHUSDT": -funding},
    )
    params = {"leverage": 10} if regime_name != "portfolio" else {}
    regime = make_regime(regime_name, market.instruments, **params)
    return simulate(
        market,
        regime,
        Scripted(targets),
        Allocator((MurCap(0.9),)),
        1_000.0,
        Costs(0.0005, 0.01),
        policy=policy_for(regime, mode),
    )


@pytest.mark.parametrize(("regime", "mode"), REGIMES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenarios())
def test_accounting_identity_every_bar(case, regime, mode):
    sim = run(*case, regime, mode)
    s = sim.series
    identity = s.deposits + s.realised - s.fees - s.funding + s.bankruptcy_loss
    np.testing.assert_allclose(s.wallet, identity, rtol=0, atol=1e-6 * s.deposits.max())
    np.testing.assert_allclose(s.equity, s.wallet + s.upnl, rtol=0, atol=1e-9 * s.deposits.max())
    assert (s.groupby("config").bankruptcy_loss.diff().fillna(0) >= 0).all()
    flat = (s.filter(like="notional:") == 0).all(axis=1)
    assert (s.wallet[flat] >= -1e-9).all()  # a flat account with a negative wallet is bankrupt, not in debt


@pytest.mark.parametrize(
    ("regime", "mode"), [("cross", "full"), ("isolated", "full"), ("portfolio", "partial")]
)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenarios(max_books=4))
def test_batch_equals_separate_runs(case, regime, mode):
    paths, wick, targets, funding = case
    together = run(paths, wick, targets, funding, regime, mode)
    for book in range(targets.shape[1]):
        alone = run(paths, wick, targets[:, book : book + 1], funding, regime, mode)
        mine = together.series[together.series.config == book].drop(columns="config").reset_index(drop=True)
        np.testing.assert_array_equal(
            mine.to_numpy(float), alone.series.drop(columns="config").to_numpy(float)
        )
        events = together.events[together.events.config == book].drop(columns="config").reset_index(drop=True)
        assert events.equals(alone.events.drop(columns="config"))
