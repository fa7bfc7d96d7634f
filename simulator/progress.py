"""Progress bars on stderr for long runs (tqdm; off when stderr is not a terminal, as in notebooks)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pmsim.simulator.build import Run
    from pmsim.simulator.engine.engine import Simulation


def progress_bar(total: int, label: str, unit: str = "bar") -> Any:
    """A tqdm bar of ``total`` steps named ``label``; use it as a context manager and call ``update``."""
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit=unit, file=sys.stderr, leave=False, disable=None)


def execute(run: Run) -> Simulation:
    """Simulate ``run`` with a progress bar of its bars."""
    with progress_bar(run.market.n_bars, run.config.name) as bar:
        return run.execute(progress=bar.update)
