"""The grid file: a base config plus axes (a Cartesian product) or explicit points, expanded and checked.

Every point's config goes through the same checks as ``pmsim run`` (``RunConfig.from_dict``, the strategy
and allocator builders, the regime registry) before anything runs; an error names the point and its axis
value. Axes are dotted key paths into the config's tables, so new config keys need no code here; a sleeve
is entered by its name (``sleeves.trend.params.entry``, ``sleeves.core.budget.fraction``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pmsim.simulator.config import RunConfig
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.tomlfile import read_toml

GRID_KEYS = ("name", "base", "axes", "points", "keep")


@dataclass(frozen=True)
class Point:
    """One book of the sweep: its id, its axis values and its checked config (as a plain dict)."""

    id: str
    values: Mapping[str, Any]
    config: Mapping[str, Any]


@dataclass(frozen=True)
class Grid:
    name: str
    axes: tuple[str, ...]
    points: tuple[Point, ...]
    keep: tuple[str, ...]


def read_grid(path: Path, data: Path | None = None) -> Grid:
    """Read, expand and check ``path`` (a one-line ``ConfigError`` for anything wrong).

    ``data`` (``--data``) replays real history: it becomes every point's ``market.data``.
    """
    raw = read_toml(path, "grid")
    try:
        return expand(raw, Path(path).parent, Path(path).stem, data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def expand(raw: Mapping[str, Any], folder: Path, default_name: str, data: Path | None = None) -> Grid:
    unknown = sorted(set(raw) - set(GRID_KEYS))
    if unknown:
        raise ConfigError.unknown("grid key", unknown[0], GRID_KEYS)
    base = _base(raw.get("base"), folder)
    if data is not None:
        set_path(base, "market.data", str(data))
    name = str(raw.get("name", base.get("name", default_name)))
    if ("axes" in raw) == ("points" in raw):
        raise ConfigError("a grid needs [axes] (a Cartesian product) or [[points]] (a list), exactly one")
    listed = _axes(raw["axes"]) if "axes" in raw else _points(raw["points"])
    axes = tuple(dict.fromkeys(key for values in listed for key in values if key != "name"))
    width = len(str(len(listed) - 1))
    points = []
    for i, values in enumerate(listed):
        point_id = str(values.get("name", f"p{i:0{width}d}"))
        settings = {k: v for k, v in values.items() if k != "name"}
        points.append(Point(point_id, settings, check_point(base, settings, f"{name}-{point_id}", point_id)))
    check_regimes(points)
    ids = [p.id for p in points]
    if len(set(ids)) != len(ids):
        twice = next(i for i in ids if ids.count(i) > 1)
        raise ConfigError(f"point name {twice!r} is used twice; give each [[points]] entry its own name")
    keep = raw.get("keep", [])
    if not isinstance(keep, list) or any(k not in ids for k in keep):
        missing = keep if not isinstance(keep, list) else next(k for k in keep if k not in ids)
        raise ConfigError(f"keep: {missing!r} is not a point id (ids are {ids[0]} .. {ids[-1]} or names)")
    return Grid(name, axes, tuple(points), tuple(str(k) for k in keep))


def _base(base: object, folder: Path) -> dict[str, Any]:
    if base is None:
        return {}
    if isinstance(base, str):
        return read_toml(folder / base, "base config")
    if isinstance(base, Mapping):
        return dict(base)
    raise ConfigError(f"base must be a config path (text) or a [base] table, got {type(base).__name__}")


def _axes(axes: object) -> list[dict[str, Any]]:
    if not isinstance(axes, Mapping) or not axes:
        raise ConfigError('[axes] must map dotted keys to lists, e.g. "strategy.params.window" = [24, 48]')
    for key, values in axes.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"axis {key!r} must be a non-empty list of values, got {values!r}")
    keys = list(axes)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*axes.values())]


def _points(points: object) -> list[dict[str, Any]]:
    if not isinstance(points, list) or not points or not all(isinstance(p, Mapping) for p in points):
        raise ConfigError('[[points]] must be a list of tables of dotted keys, e.g. "regime.name" = "cross"')
    return [dict(p) for p in points]


def _child(node: Any, part: str, key: str) -> Any:
    """``node[part]``; in a list of named tables (``sleeves``) the table whose ``name`` is ``part``."""
    if not isinstance(node, list):
        return node.setdefault(part, {}) if isinstance(node, dict) else None
    names = [t.get("name") for t in node if isinstance(t, dict)]
    if part not in names:
        raise ConfigError(f"axis {key!r}: no sleeve named {part!r} (sleeves: {', '.join(map(str, names))})")
    return node[names.index(part)]


def set_path(config: dict[str, Any], key: str, value: Any) -> None:
    """Set the dotted ``key`` in the nested ``config``, creating tables on the way (a list of named
    tables, ``sleeves``, is entered by name: ``sleeves.trend.budget.stages``)."""
    *tables, last = key.split(".")
    node: Any = config
    for i, part in enumerate(tables):
        node = _child(node, part, key)
        if not isinstance(node, dict | list):
            raise ConfigError(f"axis {key!r}: {'.'.join(tables[: i + 1])} is a value, not a table")
    if isinstance(node, list):
        raise ConfigError(f"axis {key!r}: {'.'.join(tables)} is a list of tables; name one of them")
    node[last] = value


def lookup(config: Mapping[str, Any], key: str) -> Any:
    """The value at the dotted ``key`` of a resolved config (None where it has none)."""
    node: Any = config
    for part in key.split("."):
        if isinstance(node, list):
            node = next((t for t in node if isinstance(t, dict) and t.get("name") == part), None)
        else:
            node = node.get(part) if isinstance(node, dict) else None
    return node


def check_point(base: Mapping[str, Any], values: Mapping[str, Any], name: str, point_id: str) -> dict:
    """The point's resolved config, checked as ``pmsim run`` would; errors name the point and its axes."""
    from pmsim.simulator.build import build_allocator, build_sleeves
    from pmsim.simulator.margin import REGIMES

    raw = json.loads(json.dumps(base))  # a deep copy of plain TOML values
    raw["name"] = name
    try:
        for key, value in values.items():
            if not isinstance(key, str) or not key:
                raise ConfigError(f"axis {key!r} is not a dotted key path")
            set_path(raw, key, value)
        config = RunConfig.from_dict(raw)
        if config.regime.name not in REGIMES:
            raise ConfigError.unknown("regime.name", config.regime.name, REGIMES)
        books = build_sleeves(config).n_configs
        if books != 1:
            raise ConfigError(
                f"the point runs {books} books; a sweep point is one book: make the base's list "
                "strategy params axes instead"
            )
        build_allocator(config.allocator)
    except ConfigError as exc:
        named = [k for k in values if _names(str(k), str(exc))] or list(values)
        shown = ", ".join(f"{k}={values[k]!r}" for k in named)
        raise ConfigError(f"grid point {point_id} ({shown}): {exc}") from None
    return config.to_dict()


def check_regimes(points: list[Point]) -> None:
    """Build each distinct regime once on a tiny synthetic market, so bad regime params fail up front."""
    from pmsim.simulator.build import build_regime
    from pmsim.simulator.checked import build
    from pmsim.simulator.config import RegimeConfig
    from pmsim.simulator.market.synthetic import generate_market

    seen: dict[str, Point] = {}
    for point in points:
        seen.setdefault(json.dumps(point.config["regime"], sort_keys=True), point)
    market = generate_market(seed=0, bars=48)
    for point in seen.values():
        try:
            build_regime(build(RegimeConfig, point.config["regime"], "regime"), market)
        except ConfigError as exc:
            regime_axes = [k for k in point.values if str(k).startswith("regime")] or list(point.values)
            shown = ", ".join(f"{k}={point.values[k]!r}" for k in regime_axes)
            raise ConfigError(f"grid point {point.id} ({shown}): {exc}") from None


def _names(axis: str, message: str) -> bool:
    """Whether an error message is about ``axis``: it names the path or quotes one of its keys."""
    return axis in message or any(repr(part) in message for part in axis.split("."))
