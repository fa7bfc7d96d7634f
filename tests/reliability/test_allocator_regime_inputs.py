"""Bad allocator and portfolio-covariance settings in a run config: one line, exit 2, nothing written."""
# ruff: noqa: E501  (one case per line)

import pytest

from tests.reliability.harness import GOOD_CONFIG, Case, check

RUN = ("run", "cfg.toml", "--out", "out")
PM = '[regime]\nname = "portfolio"\nparams = { cross_underlying = "correlated", '


def cfg(text: str) -> dict[str, str]:
    return {"cfg.toml": GOOD_CONFIG + text}


# fmt: off
CASES = [
    Case("mur-mode-without-cap", RUN, "allocator.mur_mode is given but allocator.mur_cap is not", cfg('[allocator]\nmur_mode = "hold_at"\n')),
    Case("mur-mode-unknown", RUN, "unknown allocator.mur_mode 'shrink'", cfg('[allocator]\nmur_cap = 0.7\nmur_mode = "shrink"\n')),
    Case("mur-cap-out-of-range", RUN, "allocator.mur_cap must be in (0, 1]", cfg("[allocator]\nmur_cap = 1.5\n")),
    Case("rule-true", RUN, "allocator.buffer_floor = true needs a value", cfg("[allocator]\nbuffer_floor = true\n")),
    Case("stage-window-without-stages", RUN, "allocator.stage_window is given but allocator.stages is not", cfg("[allocator]\nstage_window = 24\n")),
    Case("stages-falling", RUN, "allocator.stages must rise within (0, 1]", cfg("[allocator]\nstages = [0.5, 0.25]\n")),
    Case("covariance-unknown", RUN, "unknown regime.covariance 'garch'", cfg(PM + 'covariance = "garch" }\n')),
    Case("halflife-without-ewma", RUN, "regime.halflife_days needs regime.covariance = 'ewma'", cfg(PM + 'covariance = "fixed", halflife_days = 5 }\n')),
    Case("halflife-zero", RUN, "regime.halflife_days must be positive", cfg(PM + 'covariance = "ewma", halflife_days = 0 }\n')),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case, tmp_path):
    check(case, tmp_path)
