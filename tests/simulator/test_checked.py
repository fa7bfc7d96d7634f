"""The type-driven checker and the date reader, on hand-made dataclasses and hand-computed instants."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pytest
from pmsim.simulator.checked import Instant, build, check
from pmsim.simulator.config import MarketConfig, RunConfig
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.instants import parse_instant


@dataclass(frozen=True)
class Inner:
    rate: float = 0.5


@dataclass(frozen=True)
class Outer:
    count: int
    mode: Literal["a", "b"] = "a"
    levels: tuple[float, ...] = (1.0,)
    cap: float | None = None
    weights: Mapping[str, float] = field(default_factory=dict)
    when: Instant = Instant("2024-01-01")
    inner: Inner = field(default_factory=Inner)


def test_values_are_converted_to_their_fields_types():
    got = build(Outer, {"count": 3, "levels": [1, 0.5], "cap": 2, "weights": {"x": 1}, "inner": {"rate": 1}})
    assert got == Outer(count=3, levels=(1.0, 0.5), cap=2.0, weights={"x": 1.0}, inner=Inner(rate=1.0))
    assert isinstance(got.levels, tuple) and isinstance(got.cap, float) and isinstance(got.inner.rate, float)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"count": "3"}, "top.count: expected a whole number, got '3'"),
        ({"count": 2.0}, "top.count: expected a whole number, got 2.0"),
        ({"count": True}, "top.count: expected a whole number, got True"),
        ({"count": 1, "mode": "c"}, "top.mode: expected one of 'a', 'b', got 'c'"),
        ({"count": 1, "levels": 5}, "top.levels: expected a list, each a finite number, got 5"),
        ({"count": 1, "levels": [1, float("nan")]}, "top.levels[1]: expected a finite number, got nan"),
        ({"count": 1, "cap": float("-inf")}, "top.cap: expected a finite number, got -inf"),
        ({"count": 1, "weights": {"x": "y"}}, "top.weights.x: expected a finite number, got 'y'"),
        ({"count": 1, "inner": {"rate": None}}, "top.inner.rate: expected a finite number, got None"),
        ({"count": 1, "inner": {"rat": 1}}, "unknown key in [top.inner]: 'rat'; did you mean 'rate'?"),
        ({"count": 1, "when": "2024-02-30"}, "top.when: not a date or date-time, got '2024-02-30'"),
        ({}, "top.count: required key is missing (a whole number)"),
        ("x", "top: expected a table, got 'x'"),
    ],
)
def test_a_wrong_value_names_its_key_path_and_what_is_allowed(raw, message):
    with pytest.raises(ConfigError) as caught:
        build(Outer, raw, "top")
    assert message in str(caught.value)


def test_free_form_values_must_be_finite_and_not_too_deep():
    assert check({"a": [1, "x", True]}, Any, "p") == {"a": [1, "x", True]}
    with pytest.raises(ConfigError, match=r"p\.a\[1\]: expected a finite number, got inf"):
        check({"a": [1, float("inf")]}, Any, "p")
    deep: list = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(ConfigError, match="nested more than 32 levels deep"):
        check(deep, Any, "p")


def test_a_hint_the_checker_does_not_know_is_a_bug_not_a_user_error():
    with pytest.raises(TypeError):
        check(1, complex, "p")


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        ("2024-01-01T00:00+02:00", "2023-12-31T22:00:00"),  # two hours east of UTC: the day before
        ("2024-01-01T00:00-05:30", "2024-01-01T05:30:00"),
        ("2024-01-01 08:00Z", "2024-01-01T08:00:00"),
        ("2024-01-01T08:00", "2024-01-01T08:00:00"),  # no offset: UTC
        ("2024-01-01", "2024-01-01"),
        (dt.datetime(2024, 3, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=3))), "2024-02-29T22:00:00"),
        (dt.date(2024, 3, 1), "2024-03-01"),
    ],
)
def test_offsets_are_applied_never_dropped(value, utc):
    assert parse_instant(value, "x") == utc


@pytest.mark.parametrize("value", ["garbage", "2024-13-01", "2024-01-01T25:00", "", 20240101, "2" * 200])
def test_a_non_date_is_refused(value):
    with pytest.raises(ConfigError, match="x: not a date or date-time"):
        parse_instant(value, "x")


def test_an_unquoted_toml_date_time_with_offset_is_read_at_load_time(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[market]\nstart = 2024-06-01T01:00:00+02:00\nbars = 48\n")
    assert RunConfig.from_toml(path).market.start == "2024-05-31T23:00:00"


def test_the_history_window_is_resolved_from_bars_and_the_synthetic_market_has_no_end():
    history = MarketConfig(data="d", start="2024-01-01", bars=48).resolved()
    assert (history.kind, history.start, history.end, history.bars) == (
        "history",
        "2024-01-01",
        "2024-01-02T23:00:00",  # 48 hourly bars: 00:00 + 47 h
        None,
    )
    assert MarketConfig(bars=48).resolved().kind == "synthetic"
    with pytest.raises(ConfigError, match="market.end applies to history"):
        MarketConfig(end="2024-02-01").resolved()
    with pytest.raises(ConfigError, match="contradicts market.data"):
        MarketConfig(kind="synthetic", data="d")


def test_a_run_config_round_trips_through_its_dict():
    config = RunConfig.from_dict({"market": {"start": "2024-01-01T00:00+01:00", "bars": 48}})
    assert RunConfig.from_dict(config.to_dict()) == config


def test_numpy_values_from_python_callers_are_plain_values():
    import numpy as np

    got = build(Outer, {"count": np.int64(2), "levels": np.array([0.5, 1.0])})
    assert got.count == 2 and type(got.count) is int and got.levels == (0.5, 1.0)


def test_a_book_as_of_with_an_offset_is_converted_to_utc(tmp_path):
    from pmsim.simulator.margin.book import load_book

    path = tmp_path / "b.toml"
    text = '[account]\nwallet = 1\nas_of = "2024-09-27T10:00+02:00"\n'
    path.write_text(text + '[[positions]]\nsymbol = "BTCUSDT_240927"\nqty = 1\nentry = 1\nmark = 1\n')
    # 10:00 two hours east of UTC is 08:00 UTC: the instant of delivery, not two hours after it
    assert load_book(path).as_of == np.datetime64("2024-09-27T08:00", "ms")


def test_a_date_alone_as_end_covers_that_whole_day():
    market = MarketConfig(data="d", start="2024-06-01", end="2024-06-30")
    assert market.resolved().end == "2024-06-30T23:00:00"  # the last hourly bar of June 30
    with pytest.raises(ConfigError, match="market.end 2024-05-31T23:00:00 is before market.start 2024-06-01"):
        MarketConfig(data="d", start="2024-06-01", end="2024-05-31")
