"""Bad inputs in the engine's settings: one line, exit 2, nothing written."""

import pytest

from tests.reliability.harness import GOOD_CONFIG, Case, check

RUN = ("run", "c.toml", "--out", "o")
ISOLATED = '[regime]\nname = "isolated"\n'


def cfg(extra: str) -> dict[str, str]:
    return {"c.toml": GOOD_CONFIG + extra}


CASES = [
    Case("liquidation-price-unknown", RUN, "liquidation_price", cfg('[account]\nliquidation_price = "x"\n')),
    Case("isolated-partial", RUN, "in full", cfg(ISOLATED + '[account]\nliquidation = "partial"\n')),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_engine_input(case, tmp_path):
    check(case, tmp_path)
