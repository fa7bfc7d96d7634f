"""``pmsim sweep GRID.toml``: expand and check the grid, pack batches, run them on Dask, commit, rank."""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
a grid is TOML: the base config (base = "config.toml", relative to the grid, or an inline [base] table)
and either [axes] (dotted config keys -> value lists, run as a Cartesian product) or [[points]] (tables
of dotted keys; "name" names a point). keep = ["p03"] keeps the full series of named points.
A sleeve of a [[sleeves]] book is named in the key: "sleeves.trend.params.entry",
"sleeves.trend.budget.stages", "sleeves.core.params.leverage".
Every point is checked as `pmsim run` would check it before anything runs.

points differing only in numeric strategy params (of any sleeve), allocator numbers or a sleeve's budget
numbers and stage lists run in lockstep as one batch (at most 50 books); a different regime, market,
account, rule set or sleeve layout starts another batch.

what it writes (in --out, default runs/<grid name>-sweep):
  results/batch=<key>/part.parquet  one row per point: point, axis values, every summary metric
  top.parquet                       full series of the --top points by --by, plus the kept ones
A killed sweep re-run with the same grid resumes: committed batches are skipped. --out must be new, or
a sweep folder pmsim wrote (an unfinished sweep of the same grid is resumed, anything else needs --force).

examples:
  pmsim sweep examples/sweep_adx.toml
  pmsim sweep examples/sweep_adx.toml --workers 2 --top 10 --by rom
  pmsim sweep examples/sweep_seed_book.toml --workers 2   (set [base.market] data to the history folder)
  pmsim sweep examples/sweep_adx.toml --scheduler tcp://10.0.0.5:8786 --out runs/adx-grid
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from pmsim.simulator.commands import _add_force_option, _positive_int

    parser = subparsers.add_parser(
        "sweep",
        help="run a grid of one-book configs in lockstep batches on Dask, one result row per point",
        description="Expand a grid of configs, run its points in lockstep batches on Dask and write one "
        "row of summary metrics per point, resumably.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("grid", type=Path, help="grid TOML file")
    parser.add_argument(
        "--scheduler", metavar="ADDRESS", help="a dask.distributed scheduler, e.g. tcp://host:8786"
    )
    parser.add_argument(
        "--workers", type=_positive_int, default=1, help="local worker processes (default: %(default)s)"
    )
    parser.add_argument("--out", type=Path, help="sweep folder (default: runs/<grid name>-sweep)")
    parser.add_argument(
        "--top", type=_non_negative, default=5, help="points whose series are kept (default: 5)"
    )
    parser.add_argument(
        "--by", default="roe", help="metric ranking the --top points, largest first (default: roe)"
    )
    parser.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="replay real history from DIR (a pmsim cache or tidy CSV folder) over the base config's dates",
    )
    _add_force_option(parser)
    parser.set_defaults(handler=_sweep)


def _non_negative(text: str) -> int:
    from pmsim.simulator.commands import _non_negative_int

    return _non_negative_int(text)


def _sweep(args: argparse.Namespace) -> int:
    from pmsim.simulator.commands import _default_out

    from pmsim.api import plan_sweep, sweep

    planned = plan_sweep(args.grid, data=args.data, top=args.top, by=args.by)
    out = args.out or _default_out(f"{planned.grid.name}-sweep")
    sweep(planned, out=out, scheduler=args.scheduler, workers=args.workers, force=args.force)
    print(out)
    return 0
