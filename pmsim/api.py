"""pmsim from Python: the run commands as functions that return results instead of printing paths.

``run``, ``load``, ``compare`` and ``sweep`` take what ``pmsim run``, ``compare`` and ``sweep`` take and
check it the same way: a bad input raises the ``PmsimError`` (mostly ``ConfigError``) whose one line the
command prints. The commands are shells over these functions, so a folder written here and one written
by the command line are the same bytes. Heavy modules are imported when a function runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pmsim.many import Comparison, SweepResult
    from pmsim.result import Result
    from pmsim.simulator.config import RunConfig
    from pmsim.simulator.sweep.plan import Plan

PathLike = str | os.PathLike[str]
When = str | date  # a date or datetime (pandas Timestamps too), or text such as "2024-01-01T08:00+02:00"


def source_of(value: object, what: str) -> Path | dict[str, Any]:
    """A file's path, or the tables of a dict or of TOML text (a string holding ``=``, ``[`` or a line
    break is TOML text, unless it is one line naming an existing file: sweeps write ``batch=<key>``
    folders; any other string is a path)."""
    if isinstance(value, os.PathLike):
        return Path(value)
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        if "\n" not in value and _is_file(value):
            return Path(value)
        if any(mark in value for mark in "=[\n"):
            from pmsim.simulator.tomlfile import parse_toml

            return parse_toml(value, "TOML text", what)
        return Path(value)
    from pmsim.simulator.errors import ConfigError

    raise ConfigError(f"a {what} is a path, TOML text or a dict, not {type(value).__name__}")


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a long line of TOML is no file name
        return False


def _instant(value: When | None) -> str | None:
    return value.isoformat() if isinstance(value, date) else value


def config_of(
    config: PathLike | Mapping[str, Any] | RunConfig,
    *,
    data: PathLike | None = None,
    start: When | None = None,
    end: When | None = None,
) -> RunConfig:
    """The checked ``RunConfig`` of ``config`` (a path, TOML text, a dict or a ``RunConfig``), with
    ``data``/``start``/``end`` applied as ``--data``/``--start``/``--end`` would, its window resolved.

    >>> config_of("[market]\\nbars = 48").market.bars
    48
    >>> config_of({"market": {"sed": 3}})
    Traceback (most recent call last):
    ...
    pmsim.simulator.errors.ConfigError: unknown key in [market]: 'sed'; did you mean 'seed'? ...
    """
    from pmsim.simulator.config import RunConfig

    if not isinstance(config, RunConfig):
        source = source_of(config, "config")
        config = RunConfig.from_toml(source) if isinstance(source, Path) else RunConfig.from_dict(source)
    market = config.market.overridden(data, _instant(start), _instant(end))
    return replace(config, market=market)


def run(
    config: PathLike | Mapping[str, Any] | RunConfig,
    *,
    data: PathLike | None = None,
    start: When | None = None,
    end: When | None = None,
    out: PathLike | None = None,
    force: bool = False,
    report: bool = False,
) -> Result:
    """Run the book ``config`` describes, as ``pmsim run`` does; ``out=None`` keeps it in memory.

    ``data`` replays real history from that folder over the config's dates (``start``/``end`` override
    them). With ``out`` the run folder is written there (new, or a run pmsim wrote and ``force``), plus
    its ``report.html`` with ``report``.

    >>> import pmsim
    >>> book = {"market": {"bars": 200},
    ...         "strategy": {"name": "hold", "params": {"positions": {"BTCUSDT": 1.0}}}}
    >>> result = pmsim.run(book)
    >>> result.books
    ['BTCUSDT +1']
    >>> len(result.series), result.path
    (200, None)
    """
    from pmsim.result import Result
    from pmsim.simulator.build import build_run
    from pmsim.simulator.errors import ConfigError
    from pmsim.simulator.progress import execute
    from pmsim.simulator.results import REPORT, check_run_target

    config = config_of(config, data=data, start=start, end=end)
    if out is None:
        if report or force:
            raise ConfigError("report and force apply to a run written to out; call Result.report(path)")
        wired = build_run(config)
        return Result(wired.record(execute(wired)))
    out = Path(out)
    check_run_target(out, force)  # before the run; the writer checks again under its lock
    wired = build_run(config)
    folder = wired.record(execute(wired))

    def own_report(tmp: Path) -> Path:  # written with the folder, swapped in with it
        from pmsim.reports.html import write_report

        return write_report([folder], tmp / REPORT, config.name, own_run=True)

    folder.write(out, force, own_report if report else None)
    return Result(replace(folder, path=out), out)


def load(run_folder: PathLike) -> Result:
    """The run in the folder ``run_folder`` (written by ``pmsim run``, ``demo`` or ``run(out=...)``).

    >>> import pmsim
    >>> pmsim.load("no-such-run")
    Traceback (most recent call last):
    ...
    pmsim.simulator.errors.RunError: no-such-run is not a complete run folder (not a folder); ...
    """
    from pmsim.result import Result
    from pmsim.simulator.results import read_run

    return Result(read_run(run_folder), Path(run_folder))


def compare(
    config: PathLike | Mapping[str, Any] | RunConfig,
    regimes: str | Sequence[str],
    *,
    mode: str = "positions",
    data: PathLike | None = None,
    start: When | None = None,
    end: When | None = None,
    out: PathLike | None = None,
    force: bool = False,
) -> Comparison:
    """One book under several regimes (``"isolated,cross,portfolio:deribit"`` or a list), as
    ``pmsim compare``: ``positions`` mode judges every regime on one run's positions, ``rules`` mode runs
    the config under each. ``out=None`` keeps the runs and the capital table in memory.

    >>> import pmsim
    >>> book = {"market": {"bars": 100},
    ...         "strategy": {"name": "hold", "params": {"positions": {"BTCUSDT": 2.0}}}}
    >>> table = pmsim.compare(book, ["isolated", "cross"]).table
    >>> list(table["regime"])
    ['isolated', 'cross']
    >>> bool(table["mean_im"].iloc[1] <= table["mean_im"].iloc[0])
    True
    """
    from pmsim.many import Comparison
    from pmsim.simulator.build import build_market
    from pmsim.simulator.compare.folder import check_compare_target
    from pmsim.simulator.compare.regimes import parse_regimes
    from pmsim.simulator.compare.run import MODES, positions_mode, rules_mode, wire, write_comparison
    from pmsim.simulator.errors import ConfigError
    from pmsim.simulator.progress import progress_bar

    if mode not in MODES:
        raise ConfigError.unknown("compare mode", mode, MODES)
    choices = parse_regimes(regimes if isinstance(regimes, str) else ",".join(regimes))
    config = config_of(config, data=data, start=start, end=end)
    if out is not None:
        check_compare_target(Path(out), force)  # before the runs; the writer checks again under its lock
    runs = wire(config, choices, build_market(config.market))
    bars = []

    def progress(run: Any) -> Any:
        bars.append(progress_bar(run.market.n_bars, run.config.name))
        return bars[-1].update

    try:
        outcomes = (rules_mode if mode == "rules" else positions_mode)(choices, runs, progress)
    finally:
        for bar in bars:
            bar.close()
    title = f"pmsim compare: {config.name} ({mode} mode)"
    if out is None:
        return Comparison.of(outcomes, mode, title)
    return Comparison.read(write_comparison(Path(out), outcomes, mode, title, force), mode, title)


def plan_sweep(
    grid: PathLike | Mapping[str, Any], *, data: PathLike | None = None, top: int = 5, by: str = "roe"
) -> Plan:
    """Expand and check a grid (a path, TOML text or a dict) before anything runs: every point as
    ``pmsim run`` would check it, and the ranking metric ``by``."""
    from pmsim.simulator.sweep.plan import plan

    return plan(source_of(grid, "grid"), top, by, None if data is None else Path(data))


def sweep(
    grid: PathLike | Mapping[str, Any] | Plan,
    *,
    data: PathLike | None = None,
    top: int = 5,
    by: str = "roe",
    workers: int = 1,
    scheduler: str | None = None,
    out: PathLike | None = None,
    force: bool = False,
) -> SweepResult:
    """Run a grid of configs in lockstep batches on Dask, as ``pmsim sweep``: one row of metrics per
    point, the full series of the ``top`` points by ``by``. ``out`` is the (resumable) sweep folder;
    ``out=None`` runs in a temporary folder and keeps the results in memory. ``grid`` may also be a
    plan from :func:`plan_sweep` (the command checks the grid first to name its folder); its ``data``,
    ``top`` and ``by`` are then the plan's.

    >>> import pmsim
    >>> grid = {"base": {"market": {"bars": 100}, "strategy": {"name": "hold"}},
    ...         "axes": {"strategy.params.positions": [{"BTCUSDT": 1.0}, {"BTCUSDT": 3.0}]}}
    >>> result = pmsim.sweep(grid, top=1)
    >>> list(result.rows.index)
    ['p0', 'p1']
    """
    import tempfile

    from pmsim.many import SweepResult
    from pmsim.simulator.sweep.plan import Plan
    from pmsim.simulator.sweep.plan import sweep as run_sweep

    planned = grid if isinstance(grid, Plan) else plan_sweep(grid, data=data, top=top, by=by)
    if out is not None:
        run_sweep(planned, Path(out), scheduler, workers, force)
        return SweepResult.read(planned, Path(out), Path(out))
    with tempfile.TemporaryDirectory(prefix="pmsim-sweep-") as tmp:
        run_sweep(planned, Path(tmp) / "sweep", scheduler, workers, False)
        return SweepResult.read(planned, Path(tmp) / "sweep", None)
