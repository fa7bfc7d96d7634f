"""Basis carry: the trade by hand, rolls on the right bar, hysteresis, exit before delivery, equal legs,
no look-ahead, a run across several quarterlies whose perp leg is never naked, and the PnL split."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pmsim.simulator.allocator import Allocator
from pmsim.simulator.attribution import PARTS, basis_attribution
from pmsim.simulator.build import STRATEGIES, build_run
from pmsim.simulator.config import RunConfig
from pmsim.simulator.engine.engine import Costs, simulate
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin import make_regime
from pmsim.simulator.market.handmade import handmade_market
from pmsim.simulator.market.synthetic import generate_market
from pmsim.simulator.metrics import mur_of
from pmsim.strategies.base import BarView
from pmsim.strategies.basis import BasisCarry

NAN = np.nan
# Daily bars opening at 08:00 UTC (a funding instant), so the close of bar t is 2024-01-{t+2} 08:00 and
# BTCUSDT_240112 (delivery 2024-01-12 08:00) is 10 - t days from delivery at that close; it settles at
# the end of bar 10. BTCUSDT_240119 delivers a week later: 17 - t days.
START = "2024-01-01T08:00"
PERP = [100, 100, 102, 104, 103, 101, 100, 99, 100, 100, 100, 101, 102, 103]
NEAR = [100.5, 101, 103, 104.8, 103.5, 101.2, 100.1, 99.05, 100.02, 100, 100, NAN, NAN, NAN]
FAR = [102, 102, 104.2, 106, 105, 103, 101.8, 100.7, 101.5, 101.3, 101.2, 102, 102.8, 103.5]


def daily_market(far_from: int | None = None, funding: float = 0.0001):
    """The perp, the near quarterly and (listed from bar ``far_from``) the far one."""
    close = {"BTCUSDT": PERP, "BTCUSDT_240112": NEAR}
    if far_from is not None:
        close["BTCUSDT_240119"] = [NAN] * far_from + FAR[far_from:]
    return handmade_market(
        close, start=START, bar_hours=24, funding={"BTCUSDT": funding}, settlement={"BTCUSDT_240112": 100.0}
    )


def decisions(strategy: BasisCarry, market, equity: float = 10_000.0, until: int | None = None):
    """``[T, S, N]`` targets and the events per bar from ``decide`` on every bar up to ``until``."""
    strategy.prepare(market)
    qty = np.zeros((strategy.n_configs, len(market.instruments)))
    wallet = np.full(strategy.n_configs, equity)
    out, events = [], []
    for t in range(market.n_bars if until is None else until + 1):
        out.append(strategy.decide(BarView.at(market, t, wallet, qty)))
        events.append(strategy.drain_events())
    return np.array(out), events


def test_registered():
    assert STRATEGIES["basis"] is BasisCarry


def test_annualised_basis_by_hand():
    strategy = BasisCarry(underlyings=("BTC",), min_listed=1)
    strategy.prepare(daily_market())
    near = 1
    # bar 1: (101 - 100) / 100 x 365 / 9 days; bar 3: (104.8 - 104) / 104 x 365 / 7
    assert strategy.basis_[1, near] == pytest.approx(0.01 * 365 / 9)
    assert strategy.basis_[3, near] == pytest.approx(0.8 / 104 * 365 / 7)
    assert strategy.days_[8, near] == pytest.approx(2.0)
    assert np.isnan(strategy.basis_[10, near])  # 0 days left at the delivery bar's close
    assert np.isnan(strategy.basis_[:, 0]).all()  # the perp has no basis


def test_basis_trade_pnl_by_hand():
    """Enter at the bar-1 close (40.6 %/yr > 20 %), exit at the bar-8 close (2 days to delivery).

    Basis by bar close: t=0 18.25 % (below entry), t=1 40.6 %, ... t=7 0.05/99 x 365/3 = 6.1 %,
    t=8 0.02/100 x 365/2 = 3.65 % (above the 3 % exit): the exit is for delivery, not the basis.
    """
    market = daily_market()
    strategy = BasisCarry(
        entry=0.2, exit=0.03, exit_days=2, roll_days=2, fraction=1.0, underlyings=("BTC",), min_listed=1
    )
    regime = make_regime("cross", market.instruments, leverage=20)
    sim = simulate(market, regime, strategy, Allocator(), 10_000.0, Costs(slippage=0.0))
    fills = sim.events[sim.events.kind == "fill"]
    # size = 1 x 10,000 x 1 / 100 = 100 coins; fills at the next open (= previous close)
    assert fills.qty.tolist() == [100.0, -100.0, -100.0, 100.0]
    assert fills.price.tolist() == [100.0, 101.0, 100.0, 100.02]
    assert (sim.events.kind == "expiry").sum() == 0  # nothing held into delivery
    basis_captured = 100 * (100 - 100) + 100 * (101 - 100.02)  # perp leg + quarterly leg = 98
    # the long perp pays 0.01 % of its mark at the opens of bars 2..8 (marks = closes of bars 1..7)
    funding = -100 * 0.0001 * (100 + 102 + 104 + 103 + 101 + 100 + 99)  # -7.09
    fees = 0.0005 * 100 * (100 + 101 + 100 + 100.02)  # 20.051
    last = sim.series[sim.series.config == 0].iloc[-1]
    assert last.equity - 10_000 == pytest.approx(basis_captured + funding - fees)
    assert -last.funding == pytest.approx(funding)
    assert last.fees == pytest.approx(fees)


@pytest.mark.parametrize(
    ("far_from", "roll_bar"),
    [
        (3, 6),  # liquid from bar 4 (2 bars listed): rolls when the near one is 4 days out (bar 6)
        (6, 7),  # liquid only at bar 7 (3 days out): rolls then, still before the 2-day exit
        (8, None),  # liquid at bar 9: too late, the trade exits at bar 8 (2 days out) and re-enters at 9
    ],
)
def test_roll_on_the_right_bar(far_from, roll_bar):
    market = daily_market(far_from)
    strategy = BasisCarry(entry=0.2, exit=-0.5, exit_days=2, roll_days=4, underlyings=("BTC",), min_listed=2)
    targets, events = decisions(strategy, market)
    kinds = [(t, e.kind, e.note.split(" at ")[0]) for t, bar in enumerate(events) for e in bar]
    perp, near, far = 0, 1, 2
    entry = (1, "entry", "entry carry BTCUSDT_240112")
    size = 0.5 * 10_000 / 100  # default fraction 0.5, leverage 1, perp close 100 at bar 1
    if roll_bar is None:
        # far basis at bar 9: (101.3 - 100) / 100 x 365 / 8 = 59 % > 20 %
        assert kinds == [
            entry,
            (8, "exit", "exit BTCUSDT_240112 (delivery)"),
            (9, "entry", "entry carry BTCUSDT_240119"),
        ]
        assert targets[8, 0].tolist() == [0.0, 0.0, 0.0] and targets[9, 0].tolist() == [size, 0.0, -size]
        return
    assert kinds == [entry, (roll_bar, "roll", "roll BTCUSDT_240112 -> BTCUSDT_240119")]
    assert targets[roll_bar - 1, 0].tolist() == [size, -size, 0.0]
    assert targets[roll_bar, 0].tolist() == [size, 0.0, -size]  # one decision: near bought back, far sold
    assert (targets[1:, 0, perp] == size).all()  # the perp leg never leaves
    assert (targets[roll_bar:, 0, near] == 0).all() and (targets[:roll_bar, 0, far] == 0).all()


def basis_market(path: list[float], days: float = 300.0):
    """Hourly bars with a far quarterly whose annualised basis at each close is ``path`` (perp at 100)."""
    hours = np.arange(len(path)) + 1
    left = days - hours / 24
    symbol = "BTCUSDT_" + str(np.datetime64("2024-01-01T08:00") + np.timedelta64(int(days * 24), "h"))[
        2:10
    ].replace("-", "")
    quarterly = 100 * (1 + np.asarray(path) * left / 365)
    return handmade_market({"BTCUSDT": [100.0] * len(path), symbol: quarterly}, start="2024-01-01T08:00")


def test_entry_exit_hysteresis_and_reverse():
    # entry 10 %, exit 4 %: 8 % holds a trade and does not open one; reverse below -12 %, out above -4 %
    path = [0.05, 0.12, 0.08, 0.03, 0.08, 0.11, -0.13, -0.08, -0.03, -0.13]
    strategy = BasisCarry(entry=0.10, exit=0.04, reverse=[0.0, 0.12], underlyings=("BTC",), min_listed=1)
    targets, _ = decisions(strategy, basis_market(path))
    side = np.sign(targets[:, :, 0])
    assert side[:, 0].tolist() == [0, 1, 1, 0, 0, 1, 0, 0, 0, 0]  # no reverse carry
    assert side[:, 1].tolist() == [0, 1, 1, 0, 0, 1, 0, 0, 0, -1]  # -13 % exits carry; next -13 % enters
    # -13 % at bar 6 exits the carry trade (below 4 %) but does not enter reverse on the same bar


def test_reverse_true_mirrors_entry():
    strategy = BasisCarry(entry=0.10, exit=0.04, reverse=True, underlyings=("BTC",), min_listed=1)
    targets, events = decisions(strategy, basis_market([0.0, -0.11, -0.05, -0.03]))
    assert np.sign(targets[:, 0, 0]).tolist() == [0, -1, -1, 0]
    assert targets[1, 0, 0] == -targets[1, 0, 1] == -0.5 * 10_000 / 100
    assert [e.note for e in events[1]] == ["entry reverse BTCUSDT_241027 at -11.00%"]


def test_sizes_are_budget_fraction_leverage_over_perp_and_equal_coin_legs():
    market = generate_market(seed=3, start="2024-03-01", bars=1500)
    strategy = BasisCarry(entry=0.0, exit=-0.5, fraction=[0.25, 0.5], leverage=[1.0, 3.0])
    targets, events = decisions(strategy, market, equity=40_000.0)
    for perp in (market.column("BTCUSDT"), market.column("ETHUSDT")):
        first = int(np.argmax(targets[:, 0, perp] != 0))
        assert first > 0 and (targets[first:, :, perp] == targets[first, :, perp]).all()  # fixed at entry
        expected = np.array([0.25 * 1.0, 0.5 * 3.0]) * 40_000 / market.close[first, perp]
        assert targets[first, :, perp] == pytest.approx(expected)
    under = market.underlying_index
    for u in range(2):
        dated = np.array([i.is_dated for i in market.instruments]) & (under == u)
        perp = ~np.array([i.is_dated for i in market.instruments]) & (under == u)
        np.testing.assert_allclose(targets[:, :, perp].sum(-1), -targets[:, :, dated].sum(-1))
        assert (np.count_nonzero(targets[:, :, dated], axis=-1) <= 1).all()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"entry": 0.02, "exit": 0.05}, "exit must lie below entry"),
        ({"reverse": 0.01, "exit": 0.02}, "reverse"),
        ({"exit_days": 5, "roll_days": 3}, "roll_days >= exit_days"),
        ({"entry": [0.1, 0.2], "fraction": [0.1, 0.2, 0.3]}, "one length"),
    ],
)
def test_bad_parameters(params, message):
    with pytest.raises(ConfigError, match=message):
        BasisCarry(**params)


@pytest.mark.parametrize(
    ("underlyings", "message"), [(("ETH",), "no perpetual ETHUSDT"), (("BTC",), "no quarterly of BTC")]
)
def test_underlyings_need_a_perp_and_quarterlies(underlyings, message):
    market = handmade_market({"BTCUSDT": PERP})
    with pytest.raises(ConfigError, match=message):
        BasisCarry(underlyings=underlyings).prepare(market)


MARKET = generate_market(seed=11, start="2024-03-01", bars=900)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(0, MARKET.n_bars - 2), factor=st.floats(0.8, 1.25), seed=st.integers(0, 2**16))
def test_no_look_ahead(cut, factor, seed):
    """Scaling every price after bar ``cut`` (quarterlies by a different random factor, so the basis
    changes too) leaves every decision up to ``cut`` unchanged."""
    rng = np.random.default_rng(seed)
    after = np.arange(MARKET.n_bars)[:, None] > cut
    scale = np.where(after, factor * rng.uniform(0.97, 1.03, len(MARKET.instruments)), 1.0)
    changed = dataclasses.replace(
        MARKET,
        **{
            f: getattr(MARKET, f) * scale
            for f in ("open", "high", "low", "close", "mark_open", "mark_high", "mark_low", "mark_close")
        },
    )
    params = {"entry": [0.02, 0.06], "exit": [-0.02, 0.03], "reverse": [0.05, 0.0], "roll_days": [7.0, 3.0]}
    base, base_events = decisions(BasisCarry(**params), MARKET, until=cut)
    moved, moved_events = decisions(BasisCarry(**params), changed, until=cut)
    np.testing.assert_array_equal(base, moved)
    assert [[(e.kind, e.note) for e in bar] for bar in base_events] == [
        [(e.kind, e.note) for e in bar] for bar in moved_events
    ]


def test_run_across_quarterlies_never_leaves_the_perp_naked():
    """Six months from 2024-02 under portfolio margin: rolls out of the March and June quarterlies, no
    position delivered, the coin quantities of both legs equal on every bar, max MUR small."""
    config = RunConfig.from_dict(
        {
            "market": {"kind": "synthetic", "seed": 7, "start": "2024-02-01", "bars": 4800},
            "regime": {"name": "portfolio", "preset": "deribit"},
            "strategy": {"name": "basis", "params": {"entry": 0.05, "exit": 0.0, "leverage": [1.0, 3.0]}},
            "account": {"wallet": 100_000.0},
        }
    )
    run = build_run(config)
    sim = run.execute()
    events = sim.events
    assert (events.kind == "expiry").sum() == 0
    fills = events[events.kind == "fill"]
    for book in (0, 1):
        mine = fills[fills.config == book]
        held = (
            mine.pivot_table(index="time", columns="symbol", values="qty", aggfunc="sum").fillna(0).cumsum()
        )
        for coin in ("BTC", "ETH"):
            legs = held[[c for c in held.columns if c.startswith(coin)]]
            perp, dated = legs[f"{coin}USDT"], legs.drop(columns=f"{coin}USDT")
            np.testing.assert_allclose(perp, -dated.sum(axis=1), atol=1e-9)
            assert ((perp != 0) <= (dated != 0).any(axis=1)).all()
            traded = mine[mine.symbol.str.startswith(coin)].groupby("time").symbol.agg(frozenset)
            rolls = sorted(sorted(bar) for bar in traded if len(bar) == 2 and f"{coin}USDT" not in bar)
            assert rolls == [
                [f"{coin}USDT_240329", f"{coin}USDT_240628"],
                [f"{coin}USDT_240628", f"{coin}USDT_240927"],
            ]
    series = sim.series
    max_mur = [float(mur_of(g.im, g.equity).max()) for _, g in series.groupby("config")]
    # measured: 0.045 at leverage 1 and 0.137 at leverage 3 (hold examples through delivery: 0.86-2.22)
    assert max_mur[0] < 0.1 and max_mur[1] < 0.25


def test_split_of_a_rolled_trade_by_hand():
    """Entry decided at bar 1 (fills at the bar-2 open), roll decided at bar 6 (fills at the bar-7 open:
    near 100.1, far 101.8), still open at the last close (perp 103, far 103.5); slippage 0.1 %."""
    market = daily_market(far_from=3)
    strategy = BasisCarry(entry=0.2, exit=-0.5, exit_days=2, roll_days=4, underlyings=("BTC",), min_listed=2)
    regime = make_regime("cross", market.instruments, leverage=20)
    sim = simulate(market, regime, strategy, Allocator(), 10_000.0, Costs(slippage=0.001))
    events = sim.events  # the engine logs the drained entry and roll at their decision bars
    # basis seen: bar 1 (101 - 100) / 100 x 365 / 9 days; bar 6 (101.8 - 100) / 100 x 365 / 11 days
    decided = events[events.kind.isin(["entry", "roll"])]
    assert decided.note.tolist() == [
        "basis: entry carry BTCUSDT_240112 at +40.56%",
        "basis: roll BTCUSDT_240112 -> BTCUSDT_240119 at +59.73%",
    ]
    days = sorted(sim.series.time.unique())
    assert [days.index(t) for t in decided.time] == [1, 6]
    split = basis_attribution(sim.series, events, slippage=0.001).loc[0]

    size = 0.5 * 10_000 / 100  # 50 coins a leg
    roll_fees = 0.0005 * size * (100.1 * 1.001 + 101.8 * 0.999)
    roll_slippage = size * 100.1 * 0.001 + size * 101.8 * 0.001  # bought near above, sold far below
    entry_fees = 0.0005 * size * (100 * 1.001 + 101 * 0.999)
    funding = -size * 0.0001 * sum(PERP[1:13])  # paid at the opens of bars 2..13 (marks: closes 1..12)
    basis = (
        size * (103 - 100 * 1.001)  # perp: bought at 100.1, marked at 103
        + size * (101 * 0.999 - 100.1)  # near: sold at 100.899, bought back at 100.1 before slippage
        + size * (101.8 - 103.5)  # far: sold at 101.8 before slippage, marked at 103.5
    )
    assert split["roll_cost"] == pytest.approx(-(roll_fees + roll_slippage))
    assert split["fees"] == pytest.approx(-entry_fees)
    assert split["funding"] == pytest.approx(funding)
    assert split["basis"] == pytest.approx(basis)
    assert split["insurance"] == 0
    assert split["net"] == pytest.approx(basis + funding - entry_fees - roll_fees - roll_slippage)
    assert split[list(PARTS)].sum() == pytest.approx(split["net"])


def test_without_roll_events_roll_trades_count_as_fees_and_parts_still_sum():
    market = daily_market(far_from=3)
    regime = make_regime("cross", market.instruments, leverage=20)
    strategy = BasisCarry(entry=0.2, exit=-0.5, roll_days=4, underlyings=("BTC",), min_listed=2)
    sim = simulate(market, regime, strategy, Allocator(), 10_000.0, Costs(slippage=0.001))
    without_rolls = sim.events[sim.events.kind != "roll"]
    split = basis_attribution(sim.series, without_rolls, slippage=0.001).loc[0]
    assert split["roll_cost"] == 0 and split["fees"] < 0
    assert split[list(PARTS)].sum() == pytest.approx(split["net"])


def test_no_budget_no_trade():
    """A book without budget (a sleeve given nothing) enters nothing and logs no phantom entry."""
    strategy = BasisCarry(entry=0.10, exit=0.04, underlyings=("BTC",), min_listed=1)
    targets, events = decisions(strategy, basis_market([0.2, 0.2, 0.02]), equity=0.0)
    assert not targets.any() and not any(events)
