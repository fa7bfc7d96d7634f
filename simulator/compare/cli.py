"""``pmsim compare CONFIG --regimes ...``: one book under several regimes, in one comparison folder."""

from __future__ import annotations

import argparse
from pathlib import Path

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
    from pmsim.simulator.commands import _default_out

    from pmsim.api import compare, config_of

    config = config_of(args.config, data=args.data, start=args.start, end=args.end)
    out = args.out or _default_out(f"{config.name}-compare")
    result = compare(config, args.regimes, mode=args.mode, out=out, force=args.force)
    print(result.path)
    print(result.path / "report.html")
    return 0
