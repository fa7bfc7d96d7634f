"""Pack points into batches of books that run in lockstep, and wire a batch into one run.

Points share a batch when their resolved configs are equal except at leaves the config takes as lists
over the batch axis S: every numeric parameter of a strategy (``[strategy]`` or a ``[[sleeves]]``
entry), and every number of a config field whose type admits a tuple of numbers over the books (the
allocator's rules, a sleeve's budget: ``fraction``, ``buffer``, ``window``, ``drawdown``, ``stages``).
A batch's config is the first point's with each such leaf replaced by the list of the points' values.
Regime, market, account, a rule switched on in one point and off in another, or a sleeve's ``after``
start another batch. The test reads the config's type hints: a field or parameter added later batches
without new code here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pmsim.simulator.config import RunConfig, SleeveConfig, StrategyConfig
from pmsim.simulator.sweep.grid import Point

MAX_BATCH = 50  # books per batch: S x bars x 15 series columns stay small (50 x 8760 x 15 x 8 B = 53 MB)
STRATEGY_TABLES = (StrategyConfig, SleeveConfig)  # their ``params`` are strategy parameters
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Batch:
    """Points run as one lockstep simulation; ``key`` names its partition (a hash of what it runs)."""

    key: str
    points: tuple[Point, ...]


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _options(hint: object) -> tuple[object, ...]:
    return typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)


def _fits(value: object, hint: object) -> bool:
    """Whether one book's ``value`` is an element of ``hint``: a number, or a tuple of numbers."""
    if _number(value):
        return any(option in (int, float) for option in _options(hint))
    numbers = isinstance(value, list) and bool(value) and all(_number(v) for v in value)
    return numbers and any(
        typing.get_origin(o) is tuple and set(typing.get_args(o)) <= {int, float, Ellipsis}
        for o in _options(hint)
    )


def _per_book(value: object, hint: object) -> bool:
    """Whether the field typed ``hint`` takes a list over the books whose elements are like ``value``."""
    return any(
        typing.get_origin(o) is tuple
        and typing.get_args(o)[1:] == (Ellipsis,)
        and _fits(value, typing.get_args(o)[0])
        for o in _options(hint)
    )


def lockstep_leaves(config: Mapping[str, Any]) -> Iterator[Path]:
    """Paths of the leaves of a one-book ``config`` that may differ within a batch (see the docstring)."""
    yield from _walk(config, RunConfig, ())


def _walk(node: Mapping[str, Any], table: type, path: Path) -> Iterator[Path]:
    hints = typing.get_type_hints(table)
    for key, value in node.items():
        hint, here = hints.get(key), (*path, key)
        if table in STRATEGY_TABLES and key == "params":
            yield from ((*here, k) for k, v in value.items() if _number(v))
        elif dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
            yield from _walk(value, hint, here)
        elif isinstance(value, list) and any(dataclasses.is_dataclass(a) for a in typing.get_args(hint)):
            element = typing.get_args(hint)[0]
            for i, item in enumerate(value):
                yield from _walk(item, element, (*here, i))
        elif hint is not None and _per_book(value, hint):
            yield here


def _strategy_params(config: Mapping[str, Any]) -> list[Path]:
    tables = (
        [("sleeves", i) for i in range(len(config["sleeves"]))] if "sleeves" in config else [("strategy",)]
    )
    return [(*t, "params") for t in tables]


def _get(config: Any, path: Path) -> Any:
    for part in path:
        config = config[part]
    return config


def _set(config: Any, path: Path, value: Any) -> None:
    _get(config, path[:-1])[path[-1]] = value


def group_key(point: Point) -> str:
    """What must be equal for two points to share a batch: the config less its lockstep leaves.

    A strategy with no numeric parameter cannot be given S books, so its points run alone.
    """
    config = json.loads(json.dumps(point.config))
    config.pop("name")
    leaves = list(lockstep_leaves(point.config))
    for path in leaves:
        _set(config, path, "<per book>")
    if any(not any(leaf[: len(p)] == p for leaf in leaves) for p in _strategy_params(point.config)):
        config["alone"] = point.id
    return json.dumps(config, sort_keys=True, default=str)


def merged(configs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One config of S books: the first's, every lockstep leaf a list of the S configs' values."""
    out = json.loads(json.dumps(configs[0]))
    for path in lockstep_leaves(configs[0]):
        _set(out, path, [_get(c, path) for c in configs])
    return out


def batch_key(points: Sequence[Point]) -> str:
    text = json.dumps([[p.id, p.config] for p in points], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pack(points: Sequence[Point], size: int = MAX_BATCH) -> list[Batch]:
    """Group lockstep-compatible points (grid order kept within a group), then cut groups to ``size``."""
    groups: dict[str, list[Point]] = {}
    for point in points:
        groups.setdefault(group_key(point), []).append(point)
    batches = []
    for members in groups.values():
        for start in range(0, len(members), size):
            chunk = tuple(members[start : start + size])
            batches.append(Batch(batch_key(chunk), chunk))
    return batches


def batch_run(batch: Batch, market: object):  # noqa: ANN201  (a build.Run; imported lazily)
    """One ``Run`` simulating every point of ``batch`` in lockstep on ``market``."""
    from pmsim.simulator.build import build_run

    return build_run(RunConfig.from_dict(merged([p.config for p in batch.points])), market)
