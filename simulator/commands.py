"""The run commands: ``pmsim demo``, ``pmsim run`` and ``pmsim report``.

Only the standard library at module level; each handler imports the engine when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEMO_EPILOG = """\
what it writes (in --out, default ./pmsim-out):
  adx/          run folder of an ADX trend book (ADX windows of 1, 2 and 4 days, in lockstep)
  hold/         run folder of a leveraged BTC+ETH hold book at 2x, 5x and 10x
  report.html   one self-contained page comparing them (opens offline)

examples:
  pmsim demo
  pmsim demo --out /tmp/demo --seed 11
  pmsim demo --data ~/binance-data --start 2024-01-01 --end 2024-06-30   # real history instead
"""

RUN_EPILOG = """\
a config file is TOML with the keys name and engine and the tables [market] [regime] [strategy] (or
[[sleeves]]) [allocator] [account] [stress]; see examples/*.toml. Unknown keys are errors that list the
allowed ones. engine = "auto" (the default) runs the compiled kernel where it covers the run and the
reference engine otherwise; "compiled" refuses a run the kernel does not cover; "reference" never
compiles. The run's notes (summary.json market.notes) say which engine ran.

pmsim never replaces what it did not write: --out must be new or a run folder pmsim wrote (replaced only
with --force), and a report is never written inside a run folder (except the run's own, by --report).

history is one switch: with --data DIR (or market.data) the run replays real history from
market.start to market.end (or market.bars hourly bars); --start/--end override those dates, and a
window outside the data is an error naming the data's range. Dates may carry an offset (+02:00).

examples:
  pmsim run examples/adx_cross.toml --out runs/adx
  pmsim run examples/adx_cross.toml --data ~/binance-data --start 2021-01-01 --end 2021-06-30
  pmsim report runs/adx runs/hold --out runs/report.html
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="run two books on the bundled market and write an HTML report",
        description="Run an ADX trend book and a leveraged hold book under cross margin on the bundled "
        "synthetic market (calibrated to Binance history), write their run folders and a report.",
        epilog=DEMO_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--out", type=Path, default=Path("pmsim-out"), help="output folder (default: %(default)s)"
    )
    demo.add_argument(
        "--seed", type=_non_negative_int, default=7, help="synthetic market seed (default: %(default)s)"
    )
    demo.add_argument(
        "--bars", type=_positive_int, default=8760, help="hourly bars to simulate (default: one year)"
    )
    _add_force_option(demo)
    _add_history_options(demo)
    demo.set_defaults(handler=_demo)

    run = subparsers.add_parser(
        "run",
        help="run a book described by a TOML config file",
        description="Run the book a TOML config describes and write its run folder.",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("config", type=Path, help="TOML config file")
    run.add_argument("--out", type=Path, help="run folder (default: runs/<config name>)")
    run.add_argument("--report", action="store_true", help="also write <out>/report.html")
    _add_force_option(run)
    _add_history_options(run)
    run.set_defaults(handler=_run)

    report = subparsers.add_parser(
        "report",
        help="build one HTML report from run folders",
        description="Compare run folders side by side in one self-contained HTML page.",
    )
    report.add_argument(
        "runs", type=Path, nargs="+", help="run folders written by `pmsim run` or `pmsim demo`"
    )
    report.add_argument(
        "--out", type=Path, default=Path("report.html"), help="HTML file (default: %(default)s)"
    )
    report.set_defaults(handler=_report)


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text}")
    return value


def _add_force_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force", action="store_true", help="replace run folders pmsim wrote before (never anything else)"
    )


def _add_history_options(parser: argparse.ArgumentParser) -> None:
    from pmsim.simulator.data.cli import add_data_option

    add_data_option(parser)
    parser.add_argument(
        "--start",
        type=_instant("--start"),
        help="first bar, e.g. 2024-01-01 or 2024-01-01T08:00+02:00 (default: the config's, else 2024-01-01)",
    )
    parser.add_argument(
        "--end",
        type=_instant("--end"),
        help="with --data: last bar, inclusive (default: the config's, else a year of bars from --start)",
    )


def _instant(flag: str):  # noqa: ANN202
    """An argparse ``type`` reading a date with its offset; a bad one is a one-line usage error."""

    def parse(text: str) -> str:
        from pmsim.simulator.errors import ConfigError
        from pmsim.simulator.instants import parse_instant

        try:
            return parse_instant(text, flag)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{flag}: ")) from None

    return parse


def _default_out(name: str) -> Path:
    """``runs/<name>``; a name that is not one plain path component could point anywhere, so it is refused."""
    from pmsim.simulator.errors import RunError

    if name in ("", "..") or Path(name).name != name or "\0" in name:
        raise RunError(f"config name {name!r} is not a plain folder name; rename it or pass --out")
    return Path("runs") / name


def _demo(args: argparse.Namespace) -> int:
    from pmsim.reports import build_report
    from pmsim.reports.html import check_report_target
    from pmsim.simulator.build import build_market, build_run
    from pmsim.simulator.config import MarketConfig
    from pmsim.simulator.demo import demo_configs
    from pmsim.simulator.progress import execute
    from pmsim.simulator.results import check_run_target

    market_config = MarketConfig(seed=args.seed, bars=args.bars).overridden(args.data, args.start, args.end)
    market = build_market(market_config)
    runs = [build_run(config, market) for config in demo_configs(market, market_config)]
    for run in runs:  # refuse before minutes of work; the writers check again under their locks
        check_run_target(args.out / run.config.name, args.force)
    check_report_target(args.out / "report.html")
    folders = [run.write(execute(run), args.out / run.config.name, args.force) for run in runs]
    report = build_report(folders, args.out / "report.html", title="pmsim demo")
    print(report)
    return 0


def _run(args: argparse.Namespace) -> int:
    from pmsim.simulator.results import REPORT

    from pmsim.api import config_of, run

    config = config_of(args.config, data=args.data, start=args.start, end=args.end)
    result = run(config, out=args.out or _default_out(config.name), force=args.force, report=args.report)
    print(result.path)
    if args.report:
        print(result.path / REPORT)
    return 0


def _report(args: argparse.Namespace) -> int:
    from pmsim.reports import build_report
    from pmsim.simulator.errors import RunError

    seen = [Path(run).resolve() for run in args.runs]
    twice = next((run for run, key in zip(args.runs, seen, strict=True) if seen.count(key) > 1), None)
    if twice is not None:  # the page would show one run as two
        raise RunError(f"run folder {twice} is given twice; name each run once")
    print(build_report(args.runs, args.out))
    return 0
