"""Dates and date-times from users (configs, books, flags), read once with their UTC offsets applied.

pmsim's clock is UTC without a zone suffix (numpy ``datetime64``), so an input with an offset is
converted, never truncated: ``2024-01-01T00:00+02:00`` is ``2023-12-31T22:00``. A value without an
offset is taken as UTC. TOML's unquoted dates and date-times arrive as ``datetime`` objects and are
read the same way, so they fail (or pass) when the config is loaded, not after the simulation.
"""

from __future__ import annotations

import datetime as dt

from pmsim.simulator.errors import ConfigError

EXAMPLE = "e.g. 2024-01-01, 2024-01-01T08:00 or 2024-01-01T08:00+02:00"
_LONGEST = 40  # the longest ISO 8601 text worth parsing; anything longer is not a date


def parse_instant(value: object, where: str) -> str:
    """The UTC instant ``value`` names, as ISO text (``YYYY-MM-DD`` for a plain date).

    ``where`` (a key path or flag name) leads the one-line ``ConfigError`` on anything else.
    """
    if isinstance(value, dt.datetime):
        return _utc_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and len(value) <= _LONGEST:
        text = value.strip()
        try:
            if len(text) == 10:
                return dt.date.fromisoformat(text).isoformat()
            return _utc_text(dt.datetime.fromisoformat(text.replace(" ", "T", 1)))
        except ValueError:
            pass
    if isinstance(value, dt.time):
        raise ConfigError(f"{where}: a time of day without a date, got {value} ({EXAMPLE})")
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    raise ConfigError(f"{where}: not a date or date-time, got {shown} ({EXAMPLE})")


def _utc_text(moment: dt.datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.isoformat()
