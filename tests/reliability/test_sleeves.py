"""Bad ``[[sleeves]]`` configs through the real CLI: one line naming the key path, exit 2, nothing written."""

from __future__ import annotations

import pytest

from tests.reliability.harness import Case, check

CORE = '[[sleeves]]\nname = "core"\nstrategy = "hold"\nparams = { positions = { BTCUSDT = 0.1 } }\n'
TREND = '[[sleeves]]\nname = "trend"\nstrategy = "hold"\nparams = { positions = { BTCUSDT = -0.1 } }\n'
LATER = "budget = { kind = 'free_capital', after = ['trend'] }\n"  # core funded after a later sleeve
BAD_STAGE = "budget = { stages = [0.5, true] }\n"
LONG = "budget = { fraction = [0.5, 0.6] }\n"  # two values for a one-book run
HOLD = '[strategy]\nname = "hold"\nparams = { positions = { BTCUSDT = 0.1 } }\n'


def run(id: str, toml: str, expect: str) -> Case:
    text = 'name = "bad"\n[market]\nbars = 48\n' + toml
    return Case(id, ("run", "c.toml", "--out", "out"), expect, files={"c.toml": text})


CASES = [
    run("stage-item", CORE + TREND + BAD_STAGE, "sleeves[1].budget.stages[1]: expected"),
    run("after-later", CORE + LATER + TREND, "sleeves[0].budget.after[0]: 'trend' is not an earlier"),
    run("both", HOLD + CORE, "give either [strategy] (one sleeve) or [[sleeves]]"),
    run("fraction-len", CORE + TREND + LONG, "budget.fraction has 2 values"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_sleeve_config_is_one_line(case: Case, tmp_path) -> None:
    check(case, tmp_path)
