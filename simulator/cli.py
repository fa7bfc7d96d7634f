"""The ``pmsim`` command line: parse, call the composition root, show progress, print one-line errors.

Only the standard library is imported at module level so that ``pmsim --help`` answers at once;
each command imports what it needs when it runs. Command groups live beside the code they drive
and expose ``register(subparsers)``; a handler takes the parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# Modules that add sub-commands: each has ``register(subparsers)`` and imports nothing heavy at top level.
COMMAND_MODULES = (
    "pmsim.simulator.commands",
    "pmsim.simulator.data.cli",
    "pmsim.simulator.margin.cli",
)

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line (plus the usage hint) and exit with status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"pmsim: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pmsim",
        description=(
            "Replay BTC/ETH perpetual and quarterly futures under isolated, cross and portfolio margin, "
            "and see how much capital each regime frees and what a sizing rule does when the market turns."
        ),
        epilog="Start with `pmsim demo`: it runs two books on the bundled synthetic market and writes an HTML report.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    from pmsim.simulator.errors import PmsimError

    try:
        return int(handler(args) or 0)
    except PmsimError as exc:
        print(f"pmsim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("pmsim: interrupted; nothing half-written was left behind", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
