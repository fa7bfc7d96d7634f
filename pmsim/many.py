"""Results of many runs: ``Comparison`` (one book under several regimes) and ``SweepResult`` (a grid).

Both hold what their folder holds (the capital table and its run folders; the sweep's rows and top
series) and render the page the command writes.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pmsim.result import Result

if TYPE_CHECKING:
    import pandas as pd

    from pmsim.simulator.compare.run import Outcome
    from pmsim.simulator.sweep.plan import Plan


@dataclass(frozen=True)
class Comparison:
    """``pmsim compare``'s outcome: ``table`` (``comparison.parquet``: one row per regime x book) and
    ``runs`` (regime label -> its :class:`Result`); ``path`` is None when kept in memory.

    >>> import pmsim
    >>> book = {"market": {"bars": 100},
    ...         "strategy": {"name": "hold", "params": {"leverage": {"BTCUSDT": 2.0}}}}
    >>> comparison = pmsim.compare(book, "cross,portfolio:okx")
    >>> list(comparison.runs), comparison.table.shape[0]  # one row per regime x book
    (['cross', 'portfolio-okx'], 2)
    """

    table: pd.DataFrame
    runs: dict[str, Result]
    mode: str
    title: str
    path: Path | None = None

    @classmethod
    def of(cls, outcomes: Sequence[Outcome], mode: str, title: str) -> Comparison:
        """In memory: each regime's run (its folder named by its label) and their capital table."""
        from pmsim.simulator.compare.capital import capital_table

        folders = {
            o.choice.label: dataclasses.replace(o.run.record(o.simulation), path=Path(o.choice.label))
            for o in outcomes
        }
        table = capital_table(list(folders.values()), mode)
        return cls(table, {label: Result(folder) for label, folder in folders.items()}, mode, title)

    @classmethod
    def read(cls, path: Path, mode: str, title: str) -> Comparison:
        """The comparison folder ``path``: its table and, in table order, its run folders."""
        import pandas as pd

        from pmsim.api import load
        from pmsim.simulator.compare.folder import TABLE

        table = pd.read_parquet(path / TABLE)
        labels = dict.fromkeys(table["regime"])
        return cls(table, {label: load(path / label) for label in labels}, mode, title, path)

    def report(self, path: str | Path) -> Path:
        """Write the comparison's page (the ``report.html`` ``pmsim compare`` writes) to ``path``."""
        from pmsim.reports.compare import write_compare_report

        folders = [result.folder for result in self.runs.values()]
        return write_compare_report(folders, self.table, Path(path), self.title)

    def _repr_html_(self) -> str:
        table = self.table.to_html(index=False, float_format=lambda v: f"{v:,.4g}", na_rep="-")
        return f"<p><b>{html.escape(self.title)}</b></p>{table}"


@dataclass(frozen=True)
class SweepResult:
    """``pmsim sweep``'s outcome: ``rows`` (indexed by point: its axis values, every metric, its batch),
    ``top`` (``top.parquet``: the full series of the top and kept points); ``path`` is the sweep folder,
    None when it ran in a temporary one.

    >>> import pmsim
    >>> grid = {"base": {"market": {"bars": 100}}, "axes": {"allocator.mur_cap": [0.5, 0.8]}}
    >>> result = pmsim.sweep(grid, by="rom")
    >>> result.rows["allocator.mur_cap"].tolist(), result.path
    ([0.5, 0.8], None)
    """

    plan: Plan
    rows: pd.DataFrame
    top: pd.DataFrame
    path: Path | None = None

    @classmethod
    def read(cls, planned: Plan, folder: Path, path: Path | None) -> SweepResult:
        import pandas as pd

        from pmsim.simulator.sweep import store

        rows = store.read_rows(folder, [b.key for b in planned.batches]).set_index("point")
        return cls(planned, rows, pd.read_parquet(folder / store.TOP), path)

    def report(self, path: str | Path) -> Path:
        """Write the sweep's many-book page (the ``report.html`` ``pmsim sweep`` writes) to ``path``."""
        from pmsim.reports.html import check_report_target
        from pmsim.simulator.sweep.plan import write_report

        check_report_target(Path(path))
        return write_report(Path(path), self.plan, self.rows.reset_index(), self.top)

    def best(self, k: int | None = None) -> pd.DataFrame:
        """The rows ranked by the sweep's ``by`` metric, largest first (the first ``k``)."""
        by = self.plan.ranking.by
        ranked = self.rows.sort_values(by, ascending=False, kind="stable")
        return ranked if k is None else ranked.head(k)

    def _repr_html_(self) -> str:
        name, by = self.plan.grid.name, self.plan.ranking.by
        head = f"<p><b>sweep {html.escape(name)}</b>: {len(self.rows)} points, best by {html.escape(by)}</p>"
        return head + self.best(10).to_html(float_format=lambda v: f"{v:,.4g}", na_rep="-")
