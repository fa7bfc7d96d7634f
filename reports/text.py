"""Numbers and run-folder values as the short text the report prints.

Every formatter takes whatever a summary or a metric holds (float, int, None, NaN, inf) and never
raises: undefined values print as "n/a", infinities as "∞".
"""

from __future__ import annotations

import math
from collections.abc import Callable


def _defined(fmt: Callable[[float], str]) -> Callable[[object], str]:
    def show(value: object) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        if isinstance(value, float) and math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return fmt(value)  # type: ignore[arg-type]

    return show


money = _defined(lambda v: f"{v:,.2f}")
percent = _defined(lambda v: f"{v:.2%}")
times = _defined(lambda v: f"{v:.2f}×")
ratio = _defined(lambda v: f"{v:.2f}")
count = _defined(lambda v: f"{int(v):,d}")


def duration(seconds: float) -> str:
    """A bar length as ``1h``, ``5min``, ``1d`` (or seconds when it is not a whole unit)."""
    if not math.isfinite(seconds):
        return "unknown length"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def plain(value: object) -> str:
    """A JSON value as one line: mappings as ``key: value; ...``, lists in brackets (at most ``CAP`` items
    and a count of the rest: one value per book of a many-book run would bury the line)."""
    if isinstance(value, dict):
        return "; ".join(f"{key}: {plain(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return "[" + ", ".join(plain(item) for item in capped(list(value))) + "]"
    return str(value)


CAP = 12


def capped(items: list, cap: int = CAP) -> list:
    """``items`` if there are at most ``cap``, else the first ``cap`` and a count of the rest."""
    return items if len(items) <= cap else [*items[:cap], f"… and {len(items) - cap:,d} more"]


NO_RULES = "none: targets are traded as the strategy gives them"
NAME_KEYS = ("rule", "name", "kind", "type")


def _rule(item: object) -> str:
    """One rule: ``name (param: value; ...)`` when it names itself, else its parameters."""
    if isinstance(item, dict):
        key = next((k for k in NAME_KEYS if k in item), None)
        if key is not None:
            rest = {k: v for k, v in item.items() if k != key}
            return f"{item[key]} ({plain(rest)})" if rest else str(item[key])
    return plain(item)


def rule_lines(rules: object) -> list[str]:
    """The resolved allocator rules (``allocator.describe()``), one line per rule, whatever the shape.

    A list gives one line per item; a mapping one line per key (a key holding a list of rules is
    unfolded); nothing recorded, or no rules, says so.
    """
    if rules is None:
        return ["not recorded in this run folder"]
    if isinstance(rules, list | tuple):
        lines = [_rule(item) for item in rules]
    elif isinstance(rules, dict):
        lines = []
        for key, value in rules.items():
            if isinstance(value, list | tuple) and all(isinstance(v, dict) for v in value) and value:
                lines += rule_lines(list(value))
            elif isinstance(value, dict):
                lines.append(f"{key} ({plain(value)})" if value else str(key))
            else:
                lines.append(f"{key}: {plain(value)}")
    else:
        lines = [str(rules)]
    return lines or [NO_RULES]


def note_lines(notes: object) -> list[str]:
    """Data notes (``summary.json`` market.notes) one per line: strings as they are, others flattened."""
    if notes is None:
        return []
    if isinstance(notes, str):
        return [notes]
    if isinstance(notes, dict):
        return [f"{key}: {plain(value)}" for key, value in notes.items()]
    return [item if isinstance(item, str) else plain(item) for item in notes]  # type: ignore[union-attr]
