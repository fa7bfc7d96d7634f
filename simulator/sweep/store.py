"""The sweep folder on disk (layout in the package docstring): its marker, target rules and commits.

It follows ``pmsim run``'s rules: pmsim writes only a new folder or one it wrote (the marker), holding
nothing else. An unfinished sweep of the same grid is resumed; a finished one, or another grid's, is
replaced only with ``--force``. Each batch partition is committed whole by ``atomic_dir``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pmsim.simulator.atomic import atomic_dir, atomic_path, write_text
from pmsim.simulator.errors import RunError
from pmsim.simulator.results import dump_json, inside_run
from pmsim.simulator.sweep.work import BatchResult

MARKER = ".pmsim-sweep.json"
RESULTS = "results"
TOP = "top.parquet"
REPORT = "report.html"
ROWS, SERIES = "part.parquet", "_series.parquet"
_OURS = re.compile(
    rf"(?:{re.escape(MARKER)}|{RESULTS}|{re.escape(TOP)}|{re.escape(REPORT)})"
    rf"|\.(?:{re.escape(MARKER)}|{re.escape(TOP)}|{re.escape(REPORT)})\.pmsim-.*"
)
_PARTITION = re.compile(r"\.?batch=[0-9a-f]{16}(?:\.pmsim-.*)?")


def read_marker(path: Path) -> dict[str, Any] | None:
    """The marker of the sweep folder ``path``, or None if pmsim did not write a sweep there."""
    if path.is_symlink() or not path.is_dir():
        return None
    try:
        marker = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) and marker.get("kind") == "sweep" else None


def prepare(out: Path, marker: Mapping[str, Any], force: bool) -> bool:
    """Make ``out`` ready for the sweep ``marker`` describes; True when it resumes an unfinished one."""
    run = inside_run(out)
    outer = next((p for p in Path(out).resolve().parents if read_marker(p)), None)
    if run is not None or outer is not None:
        raise RunError(f"{out} is inside the pmsim folder {run or outer}; choose an --out outside it")
    if os.path.lexists(out):
        old = read_marker(out)
        if old is None:
            raise RunError(
                f"{out} exists and is not a pmsim sweep folder; pmsim replaces only what it wrote: "
                "choose another --out"
            )
        _refuse_foreign(out)
        same = old.get("grid") == marker["grid"]
        if same and not old.get("complete") and not force:
            return True
        if not force:
            what = "this finished sweep" if same else "a sweep of another grid"
            raise RunError(f"{out} already holds {what}; pass --force to replace it")
        (out / TOP).unlink(missing_ok=True)
        (out / REPORT).unlink(missing_ok=True)
    write_text(out / MARKER, dump_json({**marker, "complete": False}))
    shutil.rmtree(out / RESULTS, ignore_errors=True)
    return False


def _refuse_foreign(out: Path) -> None:
    foreign = [n for n in os.listdir(out) if not _OURS.fullmatch(n)]
    if (out / RESULTS).is_dir():
        foreign += [f"{RESULTS}/{n}" for n in os.listdir(out / RESULTS) if not _PARTITION.fullmatch(n)]
    if foreign:
        raise RunError(
            f"{out} holds files pmsim did not write ({', '.join(sorted(foreign))}); move them out first"
        )


def committed(out: Path) -> set[str]:
    """Keys of the batches whose partitions are complete."""
    folder = out / RESULTS
    if not folder.is_dir():
        return set()
    return {n.removeprefix("batch=") for n in os.listdir(folder) if n.startswith("batch=")}


def prune(out: Path, keys: Iterable[str]) -> None:
    """Remove committed partitions that are not batches of this grid (left by a replaced sweep)."""
    for key in committed(out) - set(keys):
        shutil.rmtree(out / RESULTS / f"batch={key}")


def commit(out: Path, result: BatchResult) -> None:
    """Write one batch's partition whole; a partition already committed is left as it is."""
    (out / RESULTS).mkdir(exist_ok=True)
    target = out / RESULTS / f"batch={result.key}"
    if target.exists():
        return
    with atomic_dir(target) as tmp:
        pq.write_table(result.rows, tmp / ROWS)
        pq.write_table(result.series, tmp / SERIES)


def read_rows(out: Path, keys: Iterable[str]) -> pd.DataFrame:
    """Every point's row with its ``batch`` key, in the order of ``keys`` then of the batch."""
    parts = [pq.read_table(out / RESULTS / f"batch={k}" / ROWS).to_pandas().assign(batch=k) for k in keys]
    return pd.concat(parts, ignore_index=True)


def finish(out: Path, marker: Mapping[str, Any], rows: pd.DataFrame, chosen: list[str]) -> None:
    """Write ``top.parquet`` (series of the chosen points, from their partitions), then mark complete."""
    keys = dict(zip(rows["point"], rows["batch"], strict=True))
    tables = []
    for key in dict.fromkeys(keys[p] for p in chosen):
        table = pq.read_table(out / RESULTS / f"batch={key}" / SERIES, filters=[("point", "in", chosen)])
        tables.append(table)
    if not tables:  # --top 0 and nothing kept: an empty table with the series' columns
        first = rows["batch"].iloc[0]
        tables.append(pq.read_schema(out / RESULTS / f"batch={first}" / SERIES).empty_table())
    series = pa.concat_tables(tables)
    order = {p: i for i, p in enumerate(chosen)}
    frame = series.to_pandas()
    frame = frame.sort_values(
        ["point", "time"], key=lambda c: c.map(order) if c.name == "point" else c, kind="stable"
    )
    with atomic_path(out / TOP) as tmp:
        frame.to_parquet(tmp, index=False)
    write_text(out / MARKER, dump_json({**marker, "complete": True, "top_points": chosen}))
