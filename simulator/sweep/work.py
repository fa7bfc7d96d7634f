"""A batch as a Dask task: simulate its points in lockstep and return one row per point plus the series
of its own top-k and named points. Pure: the caller commits the result (``store.commit``)."""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
from pmsim.simulator.sweep.batches import Batch, batch_run
from pmsim.simulator.sweep.grid import Point, lookup


@dataclass(frozen=True)
class Ranking:
    """Which full series to keep: the ``top`` points by metric ``by`` (largest first) and ``keep``."""

    top: int
    by: str
    keep: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchResult:
    key: str
    rows: pa.Table
    series: pa.Table


@functools.lru_cache(maxsize=2)
def _market(config: Any):  # noqa: ANN202  (a worker reuses the market of its previous batch)
    from pmsim.simulator.build import build_market

    return build_market(config)


def metric_types() -> dict[str, pa.DataType]:
    """Arrow type of every metric, from its return hint (a column stays typed in an all-None partition)."""
    from pmsim.simulator.metrics import METRICS

    kinds = {float: pa.float64(), int: pa.int64(), bool: pa.bool_()}  # str and str | None: text
    return {
        name: kinds.get(typing.get_type_hints(fn).get("return"), pa.string()) for name, fn in METRICS.items()
    }


def axis_type(values: Sequence[Any]) -> pa.DataType:
    """One Arrow type for an axis over all points: bool, int, float, or text (JSON for lists/tables)."""
    if all(isinstance(v, bool) for v in values):
        return pa.bool_()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pa.int64()
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return pa.float64()
    return pa.string()


def axis_value(value: Any, kind: pa.DataType) -> Any:
    if value is None or kind != pa.string() or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def setting(point: Point, axis: str) -> Any:
    """The point's value on ``axis``: its own, else its resolved config's (None where the config has none)."""
    return point.values[axis] if axis in point.values else lookup(point.config, axis)


def rows_schema(axes: dict[str, pa.DataType]) -> pa.Schema:
    return pa.schema([("point", pa.string()), *axes.items(), *metric_types().items()])


def ranked(rows: pd.DataFrame, ranking: Ranking) -> list[str]:
    """Point ids to keep series for: the top ``ranking.top`` by ``ranking.by`` (ties: by point id), kept."""
    order = rows.assign(_v=rows[ranking.by].astype(float)).sort_values(
        ["_v", "point"], ascending=[False, True], na_position="last", kind="stable"
    )
    top = list(order["point"].head(ranking.top))
    return top + [p for p in ranking.keep if p in set(rows["point"]) and p not in top]


def run_batch(batch: Batch, axes: dict[str, pa.DataType], ranking: Ranking) -> BatchResult:
    from pmsim.simulator.checked import build
    from pmsim.simulator.config import MarketConfig
    from pmsim.simulator.metrics import METRICS, summarise

    points: tuple[Point, ...] = batch.points
    market = _market(build(MarketConfig, points[0].config["market"], "market"))
    run = batch_run(batch, market)
    simulation = run.execute()
    summary = summarise(simulation.series, simulation.events, market.bar_seconds)
    records = [
        {
            "point": point.id,
            **{a: axis_value(setting(point, a), kind) for a, kind in axes.items()},
            **{m: row[m] for m in METRICS},
        }
        for point, row in zip(points, summary, strict=True)
    ]
    rows = pa.Table.from_pylist(records, schema=rows_schema(axes))
    keep = ranked(rows.to_pandas(), ranking)
    ids = {i: p.id for i, p in enumerate(points)}
    series = simulation.series[simulation.series["config"].map(ids).isin(keep)]
    series = series.assign(config=series["config"].map(ids)).rename(columns={"config": "point"})
    return BatchResult(batch.key, rows, pa.Table.from_pandas(series, preserve_index=False))
