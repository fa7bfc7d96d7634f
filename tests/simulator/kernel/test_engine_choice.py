"""``engine = "auto" | "compiled" | "reference"``: which engine ran is in the notes, and both agree."""

import pandas as pd
import pytest
from pmsim.simulator.errors import ConfigError

import pmsim


def book(engine: str, liquidation: str = "full", **allocator: object) -> dict:
    return {
        "engine": engine,
        "account": {"liquidation": liquidation},
        "market": {"bars": 300},
        "regime": {"name": "cross", "params": {"leverage": 20.0}},
        "strategy": {"name": "hold", "params": {"positions": {"BTCUSDT": 2.0, "ETHUSDT": -20.0}}},
        "allocator": allocator,
    }


def engine_note(result) -> str:
    (note,) = [n for n in result.notes if n.startswith("engine:")]
    return note


def test_auto_runs_a_covered_book_on_the_kernel_and_says_so():
    rules = {"mur_cap": 0.5, "stages": [0.25, 1.0], "stage_window": 24}
    compiled, reference = pmsim.run(book("auto", **rules)), pmsim.run(book("reference", **rules))
    assert engine_note(compiled) == "engine: compiled (numba kernel)"
    assert engine_note(reference) == "engine: reference (engine = 'reference')"
    pd.testing.assert_frame_equal(compiled.series, reference.series, check_exact=False, rtol=1e-12, atol=1e-9)
    pd.testing.assert_frame_equal(compiled.events, reference.events, check_exact=False, rtol=1e-12, atol=1e-9)


def test_auto_falls_back_to_the_reference_and_names_what_the_kernel_lacks():
    result = pmsim.run(book("auto", "partial"))
    assert engine_note(result) == "engine: reference (the compiled kernel does not cover partial liquidation)"


def test_compiled_refuses_a_run_it_does_not_cover_in_one_line():
    with pytest.raises(ConfigError) as caught:
        pmsim.run(book("compiled", "partial"))
    message = str(caught.value)
    assert "\n" not in message
    assert "engine = 'compiled' does not cover this run (partial liquidation)" in message


def test_an_unknown_engine_lists_the_choices():
    with pytest.raises(ConfigError, match="auto.*compiled.*reference"):
        pmsim.run(book("fast"))
