"""``pmsim margin`` and ``pmsim stress``: the what-if calculator on a TOML book file.

Only the standard library is imported here; handlers call ``pmsim.whatif`` (the Python API) when they run.
"""

from __future__ import annotations

import argparse
import json
import re

REGIME_HELP = "margin regime: isolated, cross, portfolio, standard (default: the book's, else cross)"
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d*)?")
_MOVE = re.compile(rf"({_NUMBER.pattern})\s*%")

MARGIN_EXAMPLES = """examples:
  pmsim margin examples/books/binance_cross_example.toml
  pmsim margin examples/books/btc_basis_hedge.toml --regime portfolio --preset okx --json
  pmsim margin examples/books/btc_eth_long.toml --regime portfolio --cross-underlying correlated
"""
STRESS_EXAMPLES = """examples:
  pmsim stress examples/books/btc_eth_long.toml --shock BTC=-30% --shock ETH=-35%
  pmsim stress examples/books/btc_basis_hedge.toml --shock BTC=-20% --basis-widen 2% --regime portfolio
  pmsim stress examples/books/btc_eth_long.toml --shock BTC=-10% --shock ETH=10% \\
      --regime portfolio --cross-underlying correlated --corr 0 --json
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    margin = subparsers.add_parser(
        "margin",
        help="what-if margin of a book (equity, IM, MM, liquidation prices)",
        description="Value a TOML book under a margin regime: equity, IM, MM, and per position MM and "
        "liquidation price (cross/isolated: Binance's formulas; others: searched numerically).",
        epilog=MARGIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(margin)
    margin.set_defaults(handler=run_margin)
    stress = subparsers.add_parser(
        "stress",
        help="shock a book: does it survive, and which joint move liquidates it",
        description="Apply joint underlying shocks (and a basis widening of dated futures) to a book, "
        "report equity and MM after the shock, survival, and the smallest scale of the "
        "shock direction that liquidates the book.",
        epilog=STRESS_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(stress)
    stress.add_argument(
        "--shock",
        action="append",
        type=_shock,
        required=True,
        metavar="UNDERLYING=MOVE",
        help="relative move of an underlying, e.g. BTC=-30%% (repeat per underlying)",
    )
    stress.add_argument(
        "--basis-widen",
        type=_percent,
        default=0.0,
        metavar="MOVE",
        help="extra move of every dated future against its perpetual, e.g. 2%%",
    )
    stress.add_argument(
        "--corr",
        type=_fraction_in(-1.0, 1.0, "a correlation"),
        default=None,
        help="stress overlay: force BTC/ETH correlation (portfolio regime only)",
    )
    stress.set_defaults(handler=run_stress)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("book", help="TOML book file ([account] and [[positions]])")
    parser.add_argument("--regime", default=None, help=REGIME_HELP)
    parser.add_argument(
        "--preset", default=None, help="preset of portfolio (deribit, okx, bybit, cme) or standard"
    )
    parser.add_argument(
        "--cross-underlying",
        default=None,
        choices=("per_underlying", "correlated", "span"),
        help="portfolio: how underlyings combine (default per_underlying)",
    )
    parser.add_argument(
        "--credit-rate",
        type=_fraction_in(0.0, 1.0, "a credit rate, 0.3 = 30 %"),
        default=None,
        help="portfolio span mode: inter-commodity credit rate (required there)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _percent(text: str) -> float:
    """A relative move written with its percent sign (-30% is -0.3); a move to a price <= 0 is refused.

    A bare number is refused rather than guessed: ``-30`` could mean -30 % or -3000 %.
    """
    match = _MOVE.fullmatch(text.strip())
    if not match:
        hint = (
            " needs a percent sign, e.g. -30%"
            if _NUMBER.fullmatch(text.strip())
            else " is not a move such as -30%"
        )
        raise argparse.ArgumentTypeError(f"{text!r}{hint}")
    move = float(match.group(1)) / 100
    if move <= -1:
        raise argparse.ArgumentTypeError(f"{text!r} takes the price to zero or below; a move is above -100%")
    return move


def _shock(text: str) -> tuple[str, float]:
    underlying, equals, move = text.strip().partition("=")
    if not equals or not re.fullmatch(r"[A-Za-z]+", underlying):
        raise argparse.ArgumentTypeError(f"{text!r} is not UNDERLYING=MOVE such as BTC=-30%")
    try:
        value = _percent(move)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    if value == 0:  # no direction to search along: "survives" would be vacuous
        raise argparse.ArgumentTypeError(f"{text!r} is no move; a shock is non-zero, e.g. {underlying}=-30%")
    return underlying.upper(), value


def _fraction_in(low: float, high: float, what: str):  # noqa: ANN202
    """An argparse ``type`` for a finite number in [low, high]."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number ({what})") from None
        if not low <= value <= high:  # also refuses nan
            raise argparse.ArgumentTypeError(f"{text!r} is outside [{low:g}, {high:g}] ({what})")
        return value

    return parse


def _shocks(pairs: list[tuple[str, float]]) -> dict[str, float]:
    seen = [u for u, _ in pairs]
    twice = sorted({u for u in seen if seen.count(u) > 1})
    if twice:
        from pmsim.simulator.errors import ConfigError

        raise ConfigError(f"--shock {twice[0]} is given twice; give one move per underlying")
    return dict(pairs)


def run_margin(args: argparse.Namespace) -> int:
    from pmsim.whatif import margin

    report = margin(
        args.book,
        args.regime,
        args.preset,
        cross_underlying=args.cross_underlying,
        credit_rate=args.credit_rate,
    )
    print(json.dumps(report.to_dict(), indent=1) if args.json else report)
    return 0


def run_stress(args: argparse.Namespace) -> int:
    from pmsim.whatif import stress

    report = stress(
        args.book,
        _shocks(args.shock),
        basis_widen=args.basis_widen,
        corr=args.corr,
        regime=args.regime,
        preset=args.preset,
        cross_underlying=args.cross_underlying,
        credit_rate=args.credit_rate,
    )
    print(json.dumps(report.to_dict(), indent=1) if args.json else report)
    return 0
