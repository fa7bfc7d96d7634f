"""Bad ``pmsim sweep`` input (issue 10): one line naming the axis and value, exit 2, nothing run or written.

Every row also asserts no traceback and an unchanged disk (see ``harness.check``).
"""

from __future__ import annotations

import json

import pytest

from tests.reliability.harness import Case, check

BASE = """\
[base.market]
bars = 48
[base.strategy]
name = "adx"
params = { window = 24 }
"""
SWEEP_MARKER = json.dumps({"kind": "sweep", "grid": "0000000000000000", "complete": True})


def sweep(id: str, grid: str, expect: str, *flags: str, files: dict | None = None) -> Case:
    """``pmsim sweep g.toml --out out FLAGS`` with ``grid`` as the grid file."""
    return Case(
        id, ("sweep", "g.toml", "--out", "out", *flags), expect, files={"g.toml": grid, **(files or {})}
    )


SLEEVES = """\
[base.market]
bars = 48
[[base.sleeves]]
name = "core"
strategy = "adx"
[[base.sleeves]]
name = "trend"
strategy = "adx"
budget = { kind = "free_capital", after = ["core"] }
"""
AXES = BASE + '[axes]\n"strategy.params.entry" = [20.0, 25.0]\n'

CASES = [
    sweep(
        "axis-typo",
        BASE + '[axes]\n"strategy.params.windw" = [24]\n',
        "point p0 (strategy.params.windw=24): unknown key",
    ),
    sweep("axis-table-typo", BASE + '[axes]\n"regim.name" = ["cross"]\n', "did you mean 'regime'?"),
    sweep("bad-value", BASE + '[axes]\n"account.wallet" = [1e5, -1.0]\n', "account.wallet=-1.0"),
    sweep("wrong-type", BASE + '[axes]\n"market.bars" = [48, "many"]\n', "market.bars='many'"),
    sweep(
        "unknown-regime",
        BASE + '[axes]\n"regime.name" = ["cross", "portfolo"]\n',
        "did you mean 'portfolio'?",
    ),
    sweep(
        "value-under-value", BASE + '[axes]\n"market.bars.x" = [1]\n', "market.bars is a value, not a table"
    ),
    sweep(
        "regime-param",
        BASE + '[base.regime.params]\nleverage = 20.0\n[axes]\n"regime.name" = ["cross", "portfolio"]\n',
        "grid point p1 (regime.name='portfolio'): unknown setting for margin regime 'portfolio'",
    ),
    sweep(
        "sleeve-typo",
        SLEEVES + '[axes]\n"sleeves.trnd.params.entry" = [20.0]\n',
        "axis 'sleeves.trnd.params.entry': no sleeve named 'trnd' (sleeves: core, trend)",
    ),
    sweep("sleeve-unnamed", SLEEVES + '[axes]\n"sleeves.entry" = [20.0]\n', "name one of them"),
    sweep("empty-axis", BASE + '[axes]\n"strategy.params.entry" = []\n', "must be a non-empty list"),
    sweep("axes-and-points", AXES + '[[points]]\n"strategy.params.entry" = 20.0\n', "exactly one"),
    sweep("no-axes", BASE, "exactly one"),
    sweep("unknown-grid-key", "axis = 1\n" + AXES, "unknown grid key 'axis'; did you mean 'axes'?"),
    sweep("list-base", AXES.replace("window = 24", "window = [24, 48]"), "make the base's list"),
    sweep("keep-unknown", 'keep = ["p9"]\n' + AXES, "keep: 'p9' is not a point id"),
    sweep("missing-base", 'base = "nope.toml"\n' + AXES.replace(BASE, ""), "nope.toml"),
    sweep("bad-by", AXES, "unknown --by metric 'roi'", "--by", "roi"),
    sweep("out-foreign", AXES, "is not a pmsim sweep folder", files={"out/x.txt": "mine"}),
    sweep(
        "other-grid",
        AXES,
        "a sweep of another grid; pass --force",
        files={"out/.pmsim-sweep.json": SWEEP_MARKER},
    ),
    sweep(
        "force-foreign",
        AXES,
        "holds files pmsim did not write (notes.txt)",
        "--force",
        files={"out/.pmsim-sweep.json": SWEEP_MARKER, "out/notes.txt": "mine"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sweep_input_is_refused_in_one_line(case, tmp_path):
    check(case, tmp_path)
