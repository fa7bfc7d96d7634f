"""The exception tree of pmsim; every user-facing failure is one of these, with a one-line message.

    PmsimError                 base: the CLI prints its message on one line and exits with status 2
    ├── ConfigError            impossible or unknown settings (carries the key path and allowed values)
    ├── DataError              bad market data (carries the file and row where known)
    │   └── ChecksumError      a downloaded file does not match its published sha256
    ├── RegimeError            unknown regime or preset, malformed margin tables
    └── RunError               a run or report could not be produced (unwritable folder, missing run)

Internal invariants use ``assert``; anything a user can cause raises one of these.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PmsimError(Exception):
    """Base of every error pmsim raises on purpose; its message is the one line the CLI prints.

    >>> import pmsim
    >>> try:
    ...     pmsim.load("no-such-folder")
    ... except pmsim.PmsimError as error:
    ...     print(type(error).__name__)
    RunError
    """


class ConfigError(PmsimError):
    """A setting is impossible or unknown.

    >>> import pmsim
    >>> pmsim.run({"market": {"bars": 50}, "regime": {"name": "crosss"}})
    Traceback (most recent call last):
    ...
    pmsim.simulator.errors.ConfigError: unknown margin regime 'crosss'; did you mean 'cross'? ...
    """

    @classmethod
    def unknown(cls, what: str, name: str, options: Iterable[str]) -> ConfigError:
        """An 'unknown X; did you mean Y? options are ...' error."""
        options = sorted(options)
        close = difflib.get_close_matches(name, options, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return cls(f"unknown {what} {name!r}{hint} (options are: {', '.join(options)})")


class DataError(PmsimError):
    """Market data is malformed; the message names the file and, where known, the row."""

    def __init__(self, message: str, *, file: object = None, row: int | None = None) -> None:
        where = ""
        if file is not None:
            where = f"{file}"
            if row is not None:
                where += f", row {row}"
            where += ": "
        super().__init__(where + message)
        self.file = file
        self.row = row


class ChecksumError(DataError):
    """A file's sha256 differs from the one the archive publishes."""


class RegimeError(PmsimError):
    """A margin regime, preset or margin table is unknown or malformed."""


class RunError(PmsimError):
    """A run folder or report could not be written or read."""
