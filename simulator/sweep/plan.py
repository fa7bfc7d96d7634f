"""A sweep end to end: plan (grid, batches, schema, identity) up front, then run what is not committed."""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.sweep import store
from pmsim.simulator.sweep.batches import Batch, pack
from pmsim.simulator.sweep.execute import run_batches
from pmsim.simulator.sweep.grid import Grid, expand, read_grid
from pmsim.simulator.sweep.work import BatchResult, Ranking, axis_type, metric_types, ranked, setting

KILL_AT = "sweep-batch"  # PMSIM_TEST_SIGNAL_AT=sweep-batch: the process kills itself after a batch commits


@dataclass(frozen=True)
class Plan:
    grid: Grid
    batches: tuple[Batch, ...]
    axes: dict[str, pa.DataType]
    ranking: Ranking

    @property
    def marker(self) -> dict:
        """The sweep's identity (batch keys, ranking) and what a reader needs to know about its columns."""
        identity = json.dumps(
            [[b.key for b in self.batches], self.ranking.top, self.ranking.by, self.ranking.keep]
        )
        return {
            "kind": "sweep",
            "grid": hashlib.sha256(identity.encode()).hexdigest()[:16],
            "name": self.grid.name,
            "axes": list(self.axes),
            "metrics": list(metric_types()),
            "top": self.ranking.top,
            "by": self.ranking.by,
            "keep": list(self.ranking.keep),
            "points": len(self.grid.points),
            "batches": len(self.batches),
        }


def plan(source: Path | Mapping[str, Any], top: int, by: str, data: Path | None = None) -> Plan:
    """Everything checked before anything runs: the grid (a file, or its tables with a base config given
    inline or relative to the working folder), every point, the ranking metric."""
    numeric = [m for m, t in metric_types().items() if t in (pa.float64(), pa.int64())]
    if by not in numeric:
        raise ConfigError.unknown("--by metric", by, numeric)
    if isinstance(source, Mapping):
        grid = expand(source, Path.cwd(), "sweep", data)
    else:
        grid = read_grid(source, data)
    axes = {a: axis_type([setting(p, a) for p in grid.points]) for a in grid.axes}
    return Plan(grid, tuple(pack(grid.points)), axes, Ranking(top, by, grid.keep))


def sweep(planned: Plan, out: Path, scheduler: str | None, workers: int, force: bool) -> None:
    """Run the batches not yet committed in ``out``, then write the top series and mark it complete."""
    from pmsim.simulator.atomic import _hook
    from tqdm import tqdm

    marker = planned.marker
    store.prepare(out, marker, force)
    keys = [b.key for b in planned.batches]
    store.prune(out, keys)
    done = store.committed(out)
    todo = [b for b in planned.batches if b.key not in done]
    sizes = {b.key: len(b.points) for b in planned.batches}
    with tqdm(
        total=len(planned.grid.points),
        initial=sum(sizes[k] for k in done),
        desc=f"sweep {planned.grid.name} ({len(planned.batches)} batches)",
        unit="point",
        file=sys.stderr,
        disable=None,
    ) as bar:

        def commit(result: BatchResult) -> None:
            store.commit(out, result)
            bar.update(sizes[result.key])
            _hook(KILL_AT)

        run_batches(todo, planned.axes, planned.ranking, commit, scheduler, workers)
    rows = store.read_rows(out, keys)
    store.finish(out, marker, rows, ranked(rows, planned.ranking))
    write_report(out / store.REPORT, planned, rows, pd.read_parquet(out / store.TOP))


def write_report(file: Path, planned: Plan, rows: pd.DataFrame, top: pd.DataFrame) -> Path:
    """The many-book page (results table, heatmaps, frontier, top-k paths) of a sweep's ``rows`` and the
    series of its ``top`` points (``top.parquet``)."""
    from pmsim.reports import sweep_page

    series = dict(tuple(top.groupby("point", sort=False))) if len(top) else {}
    return sweep_page(
        rows.set_index("point"),
        list(planned.axes),
        file,
        top_series=series,
        rank_by=planned.ranking.by,
        about=_about(planned),
        title=f"pmsim sweep: {planned.grid.name}",
    )


def _about(planned: Plan) -> dict:
    """What the report's header says the points share: the first point's market and, unless an axis
    varies it, its regime."""
    config = planned.grid.points[0].config
    market, regime = dict(config.get("market", {})), dict(config.get("regime", {}))
    source = (
        f"historical ({market['data']})" if market.get("data") else f"synthetic (seed {market.get('seed')})"
    )
    varied = [a for a in planned.axes if a.startswith("regime.")]
    return {
        "market": {
            "source": source,
            "symbols": list(market.get("symbols", [])),
            "start": market.get("start"),
            "end": market.get("end"),
            "bars": market.get("bars"),
        },
        "regime": {"name": f"per point ({', '.join(varied)})"} if varied else regime,
    }
