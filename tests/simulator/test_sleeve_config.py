"""``[[sleeves]]`` configs: checked with key paths, resolved into config.json, per-book lists broadcast."""

import pytest
from pmsim.simulator.build import build_allocator, build_sleeves
from pmsim.simulator.config import RunConfig
from pmsim.simulator.errors import ConfigError

CORE = {"name": "core", "strategy": "hold", "params": {"positions": {"BTCUSDT": 1.0}}}
TREND = {"name": "trend", "strategy": "hold", "params": {"positions": {"BTCUSDT": -0.5}}}


def sleeves(*extra, trend=None):
    return {"sleeves": [CORE, {**TREND, **(trend or {})}, *extra]}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (sleeves(trend={"budget": {"stages": [0.5, "x"]}}), "sleeves[1].budget.stages[1]: expected a finite"),
        (sleeves(trend={"budget": {"kind": "free"}}), "sleeves[1].budget.kind: expected one of 'equity'"),
        (sleeves(trend={"budget": {"kind": "free_capital", "after": ["tail"]}}), "'tail' is not an earlier"),
        (sleeves(trend={"budget": {"kind": "free_capital"}}), "sleeves[1].budget.after: a free_capital"),
        (sleeves(trend={"budget": {"fraction": 1.5}}), "sleeves[1].budget.fraction must be in (0, 1]"),
        (sleeves(trend={"budget": {"stages": [[0.5, 1.0], 0.7]}}), "sleeves[1].budget.stages mixes"),
        (sleeves(trend={"budget": {"stages": [0.5, 0.2]}}), "sleeves[1].budget.stages must rise"),
        (sleeves(trend={"name": "core"}), "sleeves[1].name 'core' is used by an earlier sleeve"),
        (sleeves(trend={"name": "my trend"}), "sleeves[1].name 'my trend' is not a plain identifier"),
        (sleeves(trend={"strategy": "nope"}), "unknown sleeves[1].strategy"),
        ({**sleeves(), "strategy": {"name": "hold"}}, "give either [strategy] (one sleeve) or [[sleeves]]"),
        ({"sleeves": [{"name": "a"}]}, "sleeves[0].strategy: required key is missing"),
    ],
)
def test_a_bad_sleeve_is_one_line_naming_its_key(raw, message):
    with pytest.raises(ConfigError) as err:
        build_sleeves(RunConfig.from_dict(raw))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_strategy_alone_is_one_sleeve_named_after_it_with_the_whole_equity():
    config = RunConfig.from_dict({"strategy": {"name": "hold", "params": {"positions": {"BTCUSDT": 1.0}}}})
    (sleeve,) = build_sleeves(config).sleeves
    assert sleeve.name == "hold" and sleeve.budget.kind == "equity" and sleeve.budget.fraction == 1.0
    assert "sleeves" not in config.to_dict()  # an old config's dict is unchanged
    again = RunConfig.from_dict(sleeves())
    assert RunConfig.from_dict(again.to_dict()) == again and "strategy" not in again.to_dict()


def test_lists_over_books_broadcast_and_a_length_mismatch_names_the_key():
    two = {"positions": [{"BTCUSDT": 1.0}, {"BTCUSDT": 2.0}]}
    raw = {"sleeves": [{**CORE, "params": two}, {**TREND, "params": two}]}
    assert build_sleeves(RunConfig.from_dict(raw)).n_configs == 2
    bad = {"sleeves": [{**CORE, "params": two}, {**TREND, "params": two, "budget": {"fraction": [0.5] * 3}}]}
    with pytest.raises(ConfigError, match=r"sleeves\[1\]\.budget\.fraction has 3 values; expected 1 or 2"):
        build_sleeves(RunConfig.from_dict(bad))
    allocator = RunConfig.from_dict({"allocator": {"mur_cap": [0.5, 0.7, 0.9]}}).allocator
    with pytest.raises(ConfigError, match=r"allocator\.mur_cap has 3 values; expected 1 or 2"):
        build_allocator(allocator, 2)
    stages = RunConfig.from_dict({"allocator": {"stages": [[0.5, 1.0], [0.25, 1.0], [1.0]]}}).allocator
    with pytest.raises(ConfigError, match=r"allocator\.stages has 3 stage lists; expected 1 or 2"):
        build_allocator(stages, 2)
    with pytest.raises(ConfigError, match=r"allocator\.mur_cap must be in \(0, 1\]"):
        RunConfig.from_dict({"allocator": {"mur_cap": [0.5, 1.5]}})
    mixed = {**TREND, "params": {"positions": [{"BTCUSDT": 1.0}] * 3}}
    with pytest.raises(ConfigError, match="different numbers of books"):
        build_sleeves(RunConfig.from_dict({"sleeves": [{**CORE, "params": two}, mixed]}))
