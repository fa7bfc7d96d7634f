"""Properties of the engine: the accounting identity every bar, equity that never goes negative without a
liquidation (also for books that re-enter after one), and batching that changes nothing."""

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
    targets = np.array(targets).reshape(n_bars, n_books, 3)
    if draw(st.booleans()):  # hold one book throughout: a liquidated book re-enters at the next open
        targets = np.broadcast_to(targets[:1], targets.shape).copy()
    funding = draw(st.floats(-0.003, 0.003))
    return paths, wick, targets, funding


REGIMES = [
    ("cross", "full"),
    ("cross", "partial"),
    ("isolated", "full"),
    ("portfolio", "full"),
    ("portfolio", "partial"),
]


class AssignedWithinWallet:
    """Wraps a liquidation policy; after every fill and liquidation checks that isolated wallets never
    hold more than the account's wallet (the margin no position holds is never negative)."""

    def __init__(self, policy):
        self.policy, self.worst = policy, 0.0

    def __getattr__(self, name):
        return getattr(self.policy, name)

    def _check(self, account):
        over = account.iso_wallet.sum(axis=-1) - account.wallet
        self.worst = max(self.worst, float(over.max()))

    def on_fill(self, account, *args):
        self.policy.on_fill(account, *args)
        self._check(account)

    def liquidate(self, account, *args):
        hit = self.policy.liquidate(account, *args)
        self._check(account)
        return hit


def run(paths, wick, targets, funding, regime_name="cross", mode="full", rules=None, policy=None):
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
        Allocator((MurCap(0.9),) if rules is None else rules),
        1_000.0,
        Costs(0.0005, 0.01),
        policy=(policy or (lambda p: p))(policy_for(regime, mode)),
    )


@pytest.mark.parametrize(("regime", "mode"), REGIMES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=scenarios())
def test_accounting_identity_every_bar(case, regime, mode):
    checked = []

    def wrap(policy):
        checked.append(AssignedWithinWallet(policy))
        return checked[-1]

    # no allocator rule: the fill-time IM check alone sizes the books, right up to the collateral
    sim = run(*case, regime, mode, rules=(), policy=wrap)
    s = sim.series
    identity = s.deposits + s.realised - s.fees - s.funding + s.bankruptcy_loss
    np.testing.assert_allclose(s.wallet, identity, rtol=0, atol=1e-6 * s.deposits.max())
    np.testing.assert_allclose(s.equity, s.wallet + s.upnl, rtol=0, atol=1e-9 * s.deposits.max())
    assert (s.groupby("config").bankruptcy_loss.diff().fillna(0) >= 0).all()
    flat = (s.filter(like="notional:") == 0).all(axis=1)
    assert (s.wallet[flat] >= -1e-9).all()  # a flat account with a negative wallet is bankrupt, not in debt
    # equity below zero only in a bar with a liquidation (isolated margin is never counted twice)
    liquidated = sim.events[sim.events.kind == "liquidation"]
    in_bar = set(zip(liquidated.time, liquidated.config, strict=True))
    negative = s[s.equity < -1e-9 * s.deposits]
    assert all(key in in_bar for key in zip(negative.time, negative.config, strict=True))
    assert checked[0].worst <= 1e-9 * s.deposits.max()


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
