"""Bad ``pmsim compare`` input (issue 10): one line naming the problem, exit 2, nothing written.

Every row also asserts no traceback and an unchanged disk (see ``harness.check``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.reliability.harness import GOOD_CONFIG, Case, check

RUN_MARKER = json.dumps({"kind": "run", "version": "0"})
COMPARE_MARKER = json.dumps({"kind": "compare", "mode": "rules", "version": "0"})
PM_WITH_LEVERAGE = GOOD_CONFIG + '[regime]\nname = "portfolio"\nparams = { leverage = 20.0 }\n'


def compare(id: str, regimes: str, expect: str, *flags: str, files: dict | None = None) -> Case:
    """``pmsim compare c.toml --regimes REGIMES --out out FLAGS`` with a good config unless ``files`` say."""
    laid = {"c.toml": GOOD_CONFIG, **(files or {})}
    return Case(id, ("compare", "c.toml", "--regimes", regimes, "--out", "out", *flags), expect, files=laid)


def _compare_folder_with_foreign_file(root: Path) -> None:
    (root / "out").mkdir()
    (root / "out" / ".pmsim-compare.json").write_text(COMPARE_MARKER)
    (root / "out" / "notes.txt").write_text("mine")


CASES = [
    compare("unknown-regime", "isolated,crosss", "unknown --regimes item 'crosss'; did you mean 'cross'?"),
    compare("unknown-preset", "cross,portfolio:ftx", "options are: cross, isolated, portfolio:bybit"),
    compare("preset-on-brackets", "cross:okx,isolated", "unknown --regimes item 'cross:okx'"),
    compare("duplicate", "cross,portfolio,portfolio:deribit", "names portfolio (deribit) twice"),
    compare("one-regime", "cross", "needs at least two regimes"),
    compare("empty-regimes", ",", "--regimes is empty"),
    compare("bad-mode", "cross,isolated", "invalid choice: 'both'", "--mode", "both"),
    compare(
        "param-for-other",
        "portfolio,cross",
        "unknown setting for margin regime",
        files={"c.toml": PM_WITH_LEVERAGE},
    ),
    compare("out-foreign", "cross,isolated", "is not a pmsim comparison folder", files={"out/x.txt": "mine"}),
    compare(
        "out-is-run", "cross,isolated", "is not a pmsim comparison", files={"out/.pmsim-run.json": RUN_MARKER}
    ),
    Case(
        "out-in-run",
        ("compare", "c.toml", "--regimes", "cross,isolated", "--out", "run/cmp"),
        "inside the pmsim folder",
        files={"c.toml": GOOD_CONFIG, "run/.pmsim-run.json": RUN_MARKER},
    ),
    compare("no-force", "cross,isolated", "pass --force", files={"out/.pmsim-compare.json": COMPARE_MARKER}),
    Case(
        "force-foreign",
        ("compare", "c.toml", "--regimes", "cross,isolated", "--out", "out", "--force"),
        "holds files pmsim did not write (notes.txt)",
        files={"c.toml": GOOD_CONFIG},
        setup=_compare_folder_with_foreign_file,
    ),
    compare(
        "bad-config", "cross,isolated", "markt", files={"c.toml": GOOD_CONFIG.replace("[market]", "[markt]")}
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_compare_input_is_refused_in_one_line(case, tmp_path):
    check(case, tmp_path)
