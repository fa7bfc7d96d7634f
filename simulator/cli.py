"""The ``pmsim`` command line: parse, call the composition root, show progress, print one-line errors.

Only the standard library is imported at module level so that ``pmsim --help`` answers at once;
each command imports what it needs when it runs. Command groups live beside the code they drive
and expose ``register(subparsers)``; a handler takes the parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sys
import traceback
from collections.abc import Sequence

# Modules that add sub-commands: each has ``register(subparsers)`` and imports nothing heavy at top level.
COMMAND_MODULES = (
    "pmsim.simulator.commands",
    "pmsim.simulator.compare.cli",
    "pmsim.simulator.data.cli",
    "pmsim.simulator.margin.cli",
    "pmsim.simulator.sweep.cli",
)

EXIT_USAGE = 2
EXIT_BUG = 1
VERBOSE = "log progress details, and show the traceback of an error"


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
        epilog="Start with `pmsim demo`: it runs two books on the bundled synthetic market "
        "and writes an HTML report.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    for command in subparsers.choices.values():  # `pmsim run CFG -v` as well as `pmsim -v run CFG`
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("pmsim: interrupted; nothing half-written was left behind", file=sys.stderr)
        return 130
    except Exception as exc:
        message = user_error(exc)
        if args.verbose or message is None:
            traceback.print_exc()
        if message is None:
            print(
                f"pmsim: internal error ({type(exc).__name__}); this is a bug in pmsim, not in your input: "
                "please report it with the traceback above",
                file=sys.stderr,
            )
            return EXIT_BUG
        print(f"pmsim: error: {message}", file=sys.stderr)
        return EXIT_USAGE


def user_error(exc: BaseException) -> str | None:
    """One line for a failure the user or their machine caused; None for a bug in pmsim.

    pmsim's own errors are user errors by definition. So are failures of the machine or the files a user
    pointed at, whichever code met them: operating-system errors (a read-only folder, a full disk, a file
    over the size limit, a missing path), text that is not UTF-8, input nested too deep for the parser,
    and running out of memory. Anything else (``TypeError``, ``KeyError``, ...) is a bug: it keeps its
    traceback, because hiding it as a one-liner would hide the place to fix.
    """
    from pmsim.simulator.errors import PmsimError

    if isinstance(exc, PmsimError):
        return " ".join(str(exc).split())
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        reason = exc.strerror or str(exc) or type(exc).__name__
        hint = _OS_HINTS.get(exc.errno or 0, "")
        return " ".join(f"{reason}{where}{hint}".split())
    if isinstance(exc, UnicodeDecodeError):
        return f"an input file is not UTF-8 text ({exc.reason} at byte {exc.start}); is it a binary file?"
    if isinstance(exc, RecursionError):
        return "an input is nested too deeply to be read"
    if isinstance(exc, MemoryError):
        return "out of memory; use fewer bars (market.bars or a shorter window) or fewer books"
    return None


_OS_HINTS = {
    errno.ENOSPC: " (the disk is full: free space or choose another --out)",
    errno.EDQUOT: " (the disk quota is used up: free space or choose another --out)",
    errno.EFBIG: " (a file grew past this system's file-size limit: see `ulimit -f`)",
    errno.EROFS: " (the file system is read-only: choose another --out)",
    errno.EACCES: " (check the permissions, or choose another --out)",
    errno.EPERM: " (check the permissions, or choose another --out)",
}


if __name__ == "__main__":
    sys.exit(main())
