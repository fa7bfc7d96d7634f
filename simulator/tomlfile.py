"""Read a user's TOML file (a run config or a book) into a dict, or fail with one line naming the file.

Every way a file can be unfit is caught here, before any value is looked at: unreadable, too large
for a config, not UTF-8 text (UTF-16 from some editors, binary), not TOML, or nested so deeply that
the parser runs out of stack.
"""

from __future__ import annotations

import codecs
import tomllib
from pathlib import Path
from typing import Any

from pmsim.simulator.errors import ConfigError

MAX_BYTES = 4 * 1024 * 1024  # a config or book is a few KB; a larger file is not one
_UTF16 = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """The parsed TOML document at ``path``; ``what`` ("config", "book file") names it in errors."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(f"{path}: {size:,} bytes is too large for a {what} (at most {MAX_BYTES:,})")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    if data.startswith(_UTF16):
        raise ConfigError(f"{path}: the {what} is UTF-16 text; save it as UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: the {what} is not UTF-8 text (byte {exc.start} is {data[exc.start]:#04x}); "
            "is it a binary file?"
        ) from exc
    return parse_toml(text, str(path), what)


def parse_toml(text: str, where: str, what: str) -> dict[str, Any]:
    """The TOML document ``text``; ``where`` (a path, "TOML text") starts every error."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from exc
    except RecursionError as exc:
        raise ConfigError(f"{where}: the {what} is nested too deeply to be a {what}") from exc
