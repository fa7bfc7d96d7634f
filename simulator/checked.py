"""One type-driven checker for everything users write: a dataclass's annotations are its schema.

``build(cls, raw, where)`` checks each key of a mapping against the field's type hint and returns the
dataclass, so a field added to a config class is checked without new code. Every error is one
``ConfigError`` that names the key path (``allocator.stages[2]``) and what is allowed there.

Understood hints: ``bool``, ``int`` (whole numbers only), ``float`` (finite: nan and inf refused),
``str``, ``Instant`` (a date, offsets applied), ``Literal[...]``, ``X | Y``, ``tuple[X, ...]`` and
``Sequence[X]`` (tuples), ``list[X]``, ``Mapping[str, X]``/``dict[str, X]``, nested dataclasses, and
``Any`` (any TOML value whose numbers are finite). Ranges are the classes' own business, in their
``__post_init__``. A hint it does not know is a ``TypeError``: a bug in pmsim, not in the input.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import types
import typing
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, NewType

from pmsim.simulator.errors import ConfigError
from pmsim.simulator.instants import parse_instant

Instant = NewType("Instant", str)
"""A field holding a UTC instant (ISO text): dates and date-times are parsed with their offsets."""

MAX_DEPTH = 32  # deeper values are refused rather than walked (a config is a few tables deep)


def build(cls: type, raw: object, where: str = "") -> Any:
    """``cls(**raw)`` with every key known and every value of its field's type (converted: list -> tuple)."""
    return cls(**fields_of(cls, raw, where))


def fields_of(cls: type, raw: object, where: str = "") -> dict[str, Any]:
    """The checked keyword arguments for dataclass ``cls`` from the mapping ``raw``."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where or 'config'}: expected a table, got {_shown(raw)}")
    hints = _hints(cls)
    for key in raw:
        if key not in hints:
            table = where or "top level"
            raise ConfigError.unknown(f"key in [{table}]:", str(key), hints)
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if f.init and required and f.name not in raw:
            raise ConfigError(f"{_join(where, f.name)}: required key is missing ({describe(hints[f.name])})")
    return {key: check(value, hints[key], _join(where, key)) for key, value in raw.items()}


def check(value: object, hint: Any, where: str, depth: int = 0) -> Any:
    """``value`` converted to ``hint``, or a ``ConfigError`` naming ``where`` and what is allowed."""
    if depth > MAX_DEPTH:
        raise ConfigError(f"{where}: nested more than {MAX_DEPTH} levels deep")
    if type(value).__module__ == "numpy":  # arrays and scalars from Python callers, as plain values
        value = value.tolist()  # type: ignore[attr-defined]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return _plain(value, where, depth)
    if hint is Instant:
        return parse_instant(value, where)
    if origin in (typing.Union, types.UnionType):
        return _union(value, args, where, depth)
    if origin is typing.Literal:
        if value in args and type(value) in {type(a) for a in args}:
            return value
        raise ConfigError(f"{where}: expected one of {', '.join(map(repr, args))}, got {_shown(value)}")
    if origin in (tuple, list, Sequence):
        if not isinstance(value, list | tuple):
            raise _wrong(value, hint, where)
        item = args[0] if args else Any
        items = [check(v, item, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise _wrong(value, hint, where)
        item = args[1] if args else Any
        return {str(k): check(v, item, _join(where, str(k)), depth + 1) for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ConfigError(f"{where}: expected a finite number, got {value}")
            return float(value)
        raise _wrong(value, hint, where)
    if hint is int and isinstance(value, bool):
        raise _wrong(value, hint, where)
    if hint in (int, str, bool, type(None)):
        if isinstance(value, hint):
            return value
        raise _wrong(value, hint, where)
    raise TypeError(f"{where}: the checker does not understand the type hint {hint!r}")


def describe(hint: Any) -> str:
    """Words for what ``hint`` allows, for error messages."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):  # None is a default, never written in TOML
        return " or ".join(describe(a) for a in args if a is not type(None))
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, args))
    if origin in (tuple, list, Sequence):
        return f"a list, each {describe(args[0])}" if args and args[0] is not Any else "a list"
    if origin in (dict, Mapping):
        return f"a table, each value {describe(args[1])}" if args[1] is not Any else "a table"
    if dataclasses.is_dataclass(hint):
        return "a table"
    words = {
        float: "a finite number",
        int: "a whole number",
        str: "a string",
        bool: "true or false",
        type(None): "nothing",
        Instant: "a date",
    }
    return words.get(hint, "a table" if hint in (dict, Mapping) else "any value")


def _union(value: object, options: tuple[Any, ...], where: str, depth: int) -> Any:
    errors = []
    for option in options:
        try:
            return check(value, option, where, depth)
        except ConfigError as exc:
            errors.append(exc)
    inner = [e for e in errors if not str(e).startswith(f"{where}: expected")]
    if len(inner) == 1:  # only one option had the right shape: its own, more precise error
        raise inner[0]
    allowed = " or ".join(describe(o) for o in options if o is not type(None))
    raise ConfigError(f"{where}: expected {allowed}, got {_shown(value)}")


def _plain(value: object, where: str, depth: int) -> Any:
    """A free-form value (``Any``): tables, lists, strings, booleans and finite numbers, checked inside."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number, got {value}")
    if isinstance(value, dt.date | dt.time):
        raise ConfigError(f"{where}: dates are not allowed here, got {value}; quote it if it is text")
    if isinstance(value, Mapping):
        return {str(k): check(v, Any, _join(where, str(k)), depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [check(v, Any, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    return value


def _wrong(value: object, hint: Any, where: str) -> ConfigError:
    return ConfigError(f"{where}: expected {describe(hint)}, got {_shown(value)}")


def _shown(value: object, width: int = 60) -> str:
    text = repr(value)
    if isinstance(value, list | tuple | Mapping) and len(text) > width:
        text = f"a {type(value).__name__} of {len(value)}"
    return text if len(text) <= width else text[: width - 3] + "..."


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


@cache
def _hints(cls: type) -> dict[str, Any]:
    """The type hints of ``cls``'s init fields (resolved from the string annotations)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}
