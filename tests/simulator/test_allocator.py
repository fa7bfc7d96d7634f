"""Allocator rules on a fake view and a linear regime, and the built allocator on hand-made markets.

Every number is worked by hand beside its assertion.
"""

import json
from dataclasses import dataclass

import numpy as np
import pytest
from pmsim.simulator.allocator import Allocator, BufferFloor, MurCap, RebalanceBand
from pmsim.simulator.build import build_allocator, build_run
from pmsim.simulator.config import (
    AccountConfig,
    AllocatorConfig,
    RegimeConfig,
    RunConfig,
    StrategyConfig,
    StressConfig,
)
from pmsim.simulator.deployment import DrawdownStop, StagedDeployment
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin.base import Requirements
from pmsim.simulator.market.handmade import handmade_market
from pmsim.strategies.base import BarView

PRICE = np.array([100.0, 50.0])


@dataclass
class Linear:
    """IM = 10 % and MM = 5 % of gross notional: easy to check by hand."""

    name: str = "linear"

    def requirements(self, qty, mark, when):
        gross = (np.abs(qty) * mark).sum(axis=-1)
        return Requirements(im=0.10 * gross, mm=0.05 * gross)

    def describe(self):
        return {"name": self.name}


def view(equity, qty=None, t=5):
    equity = np.atleast_1d(np.asarray(equity, dtype=float))
    qty = np.zeros((len(equity), 2)) if qty is None else np.asarray(qty, dtype=float)
    return BarView(
        t,
        np.datetime64("2024-01-01", "ms"),
        np.tile(PRICE, (t + 1, 1)),
        np.tile(PRICE, (t + 1, 1)),
        np.array([True, True]),
        equity,
        qty,
    )


def events(log, kind):
    table = log.table(np.array(["2024-01-01"] * 10, "datetime64[ms]"), ("BTCUSDT", "ETHUSDT"))
    return table[table.kind == kind]


# --- the MUR cap -------------------------------------------------------------------------------------


def test_mur_cap_new_risk_cuts_an_entry_to_the_cap():
    # flat book, target 100 x 100 + 100 x 50 = 15,000 notional -> IM 1,500; equity 1,000 at cap 0.7
    # allows IM 700: 700 / 1,500 of the new risk is kept
    log = EventLog()
    out = MurCap(0.7).apply(np.array([[100.0, 100.0]]), view(1_000.0), Linear(), 5, log)
    assert out[0].tolist() == pytest.approx([100 * 700 / 1500, 100 * 700 / 1500])
    cut = events(log, "cut")
    assert cut.note.tolist() == ["mur_cap"]
    assert cut.qty.tolist() == pytest.approx([700 / 1500])  # share of the new risk kept
    assert cut.amount.tolist() == pytest.approx([1.5])  # MUR of the target: 1,500 / 1,000


def test_mur_cap_new_risk_refuses_more_but_keeps_what_is_held():
    # held 60 BTC: IM 600 on equity 800 -> MUR 0.75 above the cap 0.7 (limit 560)
    held = np.array([[60.0, 0.0]])
    log = EventLog()
    more = MurCap(0.7).apply(np.array([[80.0, 0.0]]), view(800.0, held), Linear(), 5, log)
    assert more.tolist() == held.tolist()  # the 20 more are refused, the 60 held stay
    rejection = events(log, "rejection")
    assert rejection.note.tolist() == ["mur_cap"]
    assert rejection.amount.tolist() == pytest.approx([800 / 800])  # MUR of the refused target
    same = MurCap(0.7).apply(held.copy(), view(800.0, held), Linear(), 5, log)
    assert same.tolist() == held.tolist()  # holding is not new risk: no cut
    assert log.count("cut") == 0 and log.count("rejection") == 1


def test_mur_cap_new_risk_lets_reductions_through_and_cuts_only_the_increase():
    # held 60 BTC (IM 600), equity 1,000, cap 0.5 (limit 500). Target: 40 BTC, 40 ETH.
    # after the reduction alone: 40 BTC -> IM 400; full target: 4,000 + 2,000 -> IM 600.
    # kept share of the ETH increase = (500 - 400) / (600 - 400) = 0.5 -> 20 ETH
    log = EventLog()
    out = MurCap(0.5).apply(np.array([[40.0, 40.0]]), view(1_000.0, [[60.0, 0.0]]), Linear(), 5, log)
    assert out[0].tolist() == pytest.approx([40.0, 20.0])


def test_mur_cap_hold_at_cuts_the_held_book_back_to_the_cap():
    # the same held 60 BTC at MUR 0.75: hold_at scales the book to IM 560 -> 56 BTC
    held = np.array([[60.0, 0.0]])
    log = EventLog()
    out = MurCap(0.7, "hold_at").apply(held.copy(), view(800.0, held), Linear(), 5, log)
    assert out[0].tolist() == pytest.approx([56.0, 0.0])
    cut = events(log, "cut")
    assert cut.note.tolist() == ["mur_cap"] and cut.qty.tolist() == pytest.approx([560 / 600])
    # with no equity left the book is closed: a cut to 0 of what was held, not a refused order
    log = EventLog()
    assert MurCap(0.7, "hold_at").apply(held.copy(), view(0.0, held), Linear(), 5, log).tolist() == [[0, 0]]
    assert (log.count("cut"), log.count("rejection")) == (1, 0)


# --- buffer floor, band, stages, stop -----------------------------------------------------------------


def test_buffer_floor_refuses_new_risk_but_keeps_old():
    # equity 600, floor 1.2 -> MM at most 500 = 5 % of 10,000 notional
    log = EventLog()
    new = BufferFloor(1.2).apply(np.array([[100.0, 100.0]]), view(600.0), Linear(), 5, log)
    assert (np.abs(new) * PRICE).sum() == pytest.approx(10_000)
    # a book already at MM 750 (notional 15,000) is not forced down by the floor, and gets no more
    held = np.array([[100.0, 100.0]])
    kept = BufferFloor(1.2).apply(held * 1.5, view(600.0, held), Linear(), 5, log)
    assert kept[0].tolist() == pytest.approx(held[0].tolist())
    assert log.count("cut") == 1 and log.count("rejection") == 1
    assert set(events(log, "rejection").note) == {"buffer_floor"}


def test_rebalance_band_ignores_small_resizes_but_not_flips():
    held = np.array([[10.0, -10.0]])
    out = RebalanceBand(0.1).apply(np.array([[10.5, 10.0]]), view(1_000.0, held), Linear(), 5, EventLog())
    assert out.tolist() == [[10.0, 10.0]]  # +5 % kept as is; the short flips to the long target


def test_staged_deployment_advances_after_a_calm_window_and_falls_back_on_a_drawdown():
    rule, log = StagedDeployment((0.25, 0.5, 1.0), window=3, max_drawdown=0.05), EventLog()
    target = np.array([[8.0, 0.0]])
    shares = []
    # equity: calm for 3 bars -> 50 %; calm 3 more -> 100 %; a 10 % drop -> back to 50 %
    for bar, equity in enumerate([100, 100, 101, 102, 102, 103, 104, 93.0]):
        shares.append(rule.apply(target, view(equity, t=bar), Linear(), bar, log)[0, 0] / 8)
    assert shares == [0.25, 0.25, 0.25, 0.5, 0.5, 0.5, 1.0, 0.5]
    stage = events(log, "stage")
    assert stage.qty.tolist() == [1.0, 1.0, -1.0] and stage.amount.tolist() == [0.5, 1.0, 0.5]
    assert set(stage.note) == {"stages"}


def test_drawdown_stop_closes_for_good():
    rule, log = DrawdownStop(0.2), EventLog()
    target = np.array([[1.0, 1.0], [1.0, 1.0]])
    out = [
        rule.apply(target, view(equity, t=bar), Linear(), bar, log)
        for bar, equity in enumerate([[100, 100], [120, 90], [95, 85], [130, 130]])
    ]
    # book 0: peak 120, 95 < 96 -> stopped at bar 2 and stays flat; book 1: 85 > 80, never stopped
    assert [o[0, 0] for o in out] == [1.0, 1.0, 0.0, 0.0]
    assert [o[1, 0] for o in out] == [1.0, 1.0, 1.0, 1.0]
    stop = events(log, "stop")
    assert stop.note.tolist() == ["stop_drawdown"]
    assert stop.amount.tolist() == pytest.approx([1 - 95 / 120])


def test_rules_compose_in_order_and_describe_themselves():
    allocator = Allocator((RebalanceBand(0.1), MurCap(0.5)))
    out = allocator.allocate(np.array([[100.0, 0.0]]), view(1_000.0), Linear(), 5, EventLog())
    assert out[0, 0] == pytest.approx(50.0)  # IM 1,000 > 500 -> half the new risk
    assert allocator.describe() == [
        {"rule": "rebalance_band", "band": 0.1},
        {"rule": "mur_cap", "cap": 0.5, "mode": "new_risk"},
    ]


def test_rules_take_one_parameter_per_book():
    # two books, caps 0.5 and 1.0: equity 1,000, target IM 1,000 -> the first is halved, the second kept
    out = MurCap(np.array([0.5, 1.0])).apply(
        np.array([[100.0, 0.0], [100.0, 0.0]]), view([1_000.0, 1_000.0]), Linear(), 5, EventLog()
    )
    assert out[:, 0].tolist() == pytest.approx([50.0, 100.0])
    assert MurCap(np.array([0.5, 1.0])).describe()["cap"] == [0.5, 1.0]


# --- the built allocator: opt-in, each rule can be switched off ------------------------------------------

ALL_RULES = {
    "stop_drawdown": 0.3,
    "stages": [0.5, 1.0],
    "rebalance_band": 0.1,
    "buffer_floor": 1.2,
    "mur_cap": 0.7,
}


def test_no_rule_unless_the_config_names_one():
    assert build_allocator(AllocatorConfig()).describe() == []
    assert build_allocator(RunConfig.from_dict({}).allocator).rules == ()


def test_all_rules_resolve_in_order_with_their_defaults():
    described = build_allocator(RunConfig.from_dict({"allocator": ALL_RULES}).allocator).describe()
    assert described == [
        {"rule": "stop_drawdown", "drawdown": 0.3},
        {"rule": "stages", "shares": [0.5, 1.0], "window": 168, "drawdown": 0.05},
        {"rule": "rebalance_band", "band": 0.1},
        {"rule": "buffer_floor", "floor": 1.2},
        {"rule": "mur_cap", "cap": 0.7, "mode": "new_risk"},
    ]


@pytest.mark.parametrize("off", sorted(ALL_RULES))
@pytest.mark.parametrize("how", ["absent", "false"])
def test_each_rule_can_be_switched_off(off, how):
    raw = {k: v for k, v in ALL_RULES.items() if k != off}
    if how == "false":
        raw[off] = False
    names = [r["rule"] for r in build_allocator(RunConfig.from_dict({"allocator": raw}).allocator).describe()]
    assert names == [name for name in ALL_RULES if name != off]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"mur_mode": "hold_at"}, "allocator.mur_mode is given but allocator.mur_cap is not"),
        ({"stage_window": 24}, "allocator.stage_window is given but allocator.stages is not"),
        ({"mur_cap": 0.7, "mur_mode": "shrink"}, "allocator.mur_mode 'shrink'"),
        ({"buffer_floor": 0.9}, "allocator.buffer_floor must be >= 1"),
        ({"mur_cap": True}, "allocator.mur_cap = true needs a value"),
    ],
)
def test_bad_allocator_configs_say_what_to_fix(raw, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict({"allocator": raw})


# --- whole runs through build_run on hand-made markets --------------------------------------------------


def hold_run(closes, qty, allocator, wallet=1_000.0, leverage=10.0):
    """A BTCUSDT hold book under cross, no fees or slippage, wired the way the CLI wires a config."""
    market = handmade_market({"BTCUSDT": closes}, taker_fee=0.0)
    config = RunConfig(
        name="hand",
        regime=RegimeConfig(name="cross", params={"leverage": leverage}),
        strategy=StrategyConfig(name="hold", params={"positions": {"BTCUSDT": qty}}),
        allocator=allocator,
        account=AccountConfig(wallet=wallet, slippage=0.0),
        stress=StressConfig(shocks={"BTC": -0.3}),
    )
    run = build_run(config, market)
    return run, run.execute()


def test_a_hold_book_at_mur_075_is_never_traded_after_entry_by_default(tmp_path):
    # wallet 10,000, 750 BTC at 100 under 10x cross: IM 7,500 -> MUR 0.75 at entry; the price then dips
    # to 98 (equity 8,500, IM 7,350: MUR 0.86) and recovers. With no rule named nothing is resized.
    closes = [100, 99, 101, 98, 100, 102, 97, 100]
    run, sim = hold_run(closes, 750.0, AllocatorConfig(), wallet=10_000.0)
    ev = sim.events
    assert ev[ev.kind == "fill"].qty.tolist() == [750.0]  # the entry at bar 1's open, nothing after
    assert not ev.kind.isin(["cut", "rejection", "stage", "stop"]).any()
    mur = sim.series.mur.to_numpy()
    assert mur[3] == pytest.approx(7_350 / 8_500)  # above 0.7 and untouched
    # the same book under hold_at 0.7 is cut back at the first close (MUR 0.75 > 0.7)
    _, capped = hold_run(closes, 750.0, AllocatorConfig(mur_cap=0.7, mur_mode="hold_at"), wallet=10_000.0)
    assert (capped.events.kind == "cut").sum() > 1
    # config.json lists the resolved rules (none here)
    out = run.write(sim, tmp_path / "run")
    assert json.loads((out / "config.json").read_text())["resolved"]["allocator"] == []


def test_config_json_lists_the_resolved_rules(tmp_path):
    run, sim = hold_run([100, 100, 100], 1.0, AllocatorConfig(rebalance_band=0.1, mur_cap=0.5))
    resolved = json.loads((run.write(sim, tmp_path / "run") / "config.json").read_text())["resolved"]
    assert resolved["allocator"] == [
        {"rule": "rebalance_band", "band": 0.1},
        {"rule": "mur_cap", "cap": 0.5, "mode": "new_risk"},
    ]


def test_built_allocator_stages_floors_and_stops_on_the_bars_worked_by_hand():
    """Fails if staged deployment, the buffer floor or the drawdown stop drop out of ``build_allocator``.

    Wallet 1,000, hold target 80 BTC under 10x cross, BTC tier 1 MM = 0.4 % of notional, no fees.
    Stages [0.5, 1.0] every 2 calm bars; floor 50 (MM <= 1,000 / 50 = 20, i.e. notional <= 5,000);
    stop at a 20 % drawdown.
    bar 0: share 0.5 -> target 40 (MM 16 <= 20): bought at bar 1's open 100.
    bar 2: 2 calm bars -> share 1.0 (stage event); target 80 has MM 32 > 20, after no reduction MM 16:
           keep (20 - 16) / (32 - 16) = 0.25 of the 40 more -> 50 (buffer_floor cut, buffer seen 31.25).
    bar 3: 10 more bought at 100; close 95 -> equity 1,000 - 50 x 5 = 750, 25 % below the peak: stop.
    bar 4: the 50 are sold at the open 95.
    """
    allocator = RunConfig.from_dict(
        {
            "allocator": {
                "stop_drawdown": 0.2,
                "stages": [0.5, 1.0],
                "stage_window": 2,
                "stage_drawdown": 0.5,
                "buffer_floor": 50.0,
            }
        }
    ).allocator
    _, sim = hold_run([100, 100, 100, 95, 95, 95], 80.0, allocator)
    ev = sim.events
    bar = {t: i for i, t in enumerate(sim.series.time.unique())}
    decided = ev[ev.kind.isin(["stage", "cut", "rejection", "stop"])]
    assert [(bar[t], k, n) for t, k, n in zip(decided.time, decided.kind, decided.note, strict=True)] == [
        (2, "stage", "stages"),
        (2, "cut", "buffer_floor"),
        (3, "stop", "stop_drawdown"),
    ]
    assert decided.qty.tolist()[:2] == pytest.approx([1.0, 0.25])
    assert decided.amount.tolist() == pytest.approx([1.0, 1_000 / 32, 0.25])
    fills = ev[ev.kind == "fill"]
    assert [(bar[t], q, p) for t, q, p in zip(fills.time, fills.qty, fills.price, strict=True)] == [
        (1, 40.0, 100.0),
        (3, 10.0, 100.0),
        (4, -50.0, 95.0),
    ]
