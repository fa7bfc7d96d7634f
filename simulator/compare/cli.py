"""``pmsim compare CONFIG --regimes ...``: one book under several regimes, in one comparison folder."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pmsim.simulator.build import Run

EPILOG = """\
modes:
  positions  (default) the book runs once under the FIRST regime listed (its IM check shapes the fills),
             liquidation observed but never taken; every regime is judged on those identical positions:
             IM, MM, MUR, buffer, free capital, stress distance, and the liquidations it would have
             forced (events of kind would_liquidate)
  rules      the config runs once per regime, as `pmsim run` would with that [regime]: the same sizing
             rules, so each regime's margin changes the positions; compare ROE, ROM, drawdown,
             liquidations and ruin

what it writes (in --out, default runs/<config name>-compare):
  <regime>/           a run folder per regime (e.g. isolated/, cross/, portfolio-deribit/)
  comparison.parquet  the capital table: one row per regime x book
  report.html         the report, opening on the capital table

The config's [regime] params go to the regime of the same name only. --out follows `pmsim run`'s rules:
it must be new, or a comparison folder pmsim wrote (replaced only with --force).

examples:
  pmsim compare examples/compare_basis.toml --regimes isolated,cross,portfolio:deribit,portfolio:okx
  pmsim compare examples/compare_basis.toml --regimes cross,portfolio:deribit --mode rules --out cmp
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from pmsim.simulator.commands import _add_force_option, _add_history_options

    parser = subparsers.add_parser(
        "compare",
        help="run one book under several margin regimes and compare the capital each frees",
        description="Run the book a TOML config describes under several margin regimes and write their "
        "run folders, a capital table and a report.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("config", type=Path, help="TOML config file (as for `pmsim run`)")
    parser.add_argument(
        "--regimes",
        required=True,
        help="comma-separated regimes, name or name:preset, e.g. isolated,cross,portfolio:deribit",
    )
    parser.add_argument(
        "--mode", choices=("positions", "rules"), default="positions", help="(default: %(default)s)"
    )
    parser.add_argument("--out", type=Path, help="comparison folder (default: runs/<config name>-compare)")
    _add_force_option(parser)
    _add_history_options(parser)
    parser.set_defaults(handler=_compare)


def _compare(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from pmsim.simulator.build import build_market
    from pmsim.simulator.commands import _default_out, _market_config, _progress
    from pmsim.simulator.compare.folder import check_compare_target
    from pmsim.simulator.compare.regimes import parse_regimes
    from pmsim.simulator.compare.run import positions_mode, rules_mode, wire, write_comparison
    from pmsim.simulator.config import RunConfig

    choices = parse_regimes(args.regimes)
    config = RunConfig.from_toml(args.config)
    config = replace(config, market=_market_config(args, config.market))
    out = args.out or _default_out(f"{config.name}-compare")
    check_compare_target(out, args.force)  # before the runs; the writer checks again under its lock
    market = build_market(config.market)
    runs = wire(config, choices, market)
    bars = []

    def progress(run: Run) -> Callable[[int], object]:
        bar = _progress(run.market.n_bars, run.config.name)
        bars.append(bar)
        return bar.update

    try:
        mode = rules_mode if args.mode == "rules" else positions_mode
        outcomes = mode(choices, runs, progress)
    finally:
        for bar in bars:
            bar.close()
    folder = write_comparison(
        out, outcomes, args.mode, f"pmsim compare: {config.name} ({args.mode} mode)", args.force
    )
    print(folder)
    print(folder / "report.html")
    return 0
