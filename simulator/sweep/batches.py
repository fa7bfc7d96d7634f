"""Pack points into batches of books that run in lockstep, and wire a batch into one run.

Points share a batch when their configs are equal except for parameters the engine takes as lists over
the batch axis S: the strategy's numeric parameters, and the numeric fields of allocator rules whose
type admits an array (``float | np.ndarray``). Regime, market, account or a different rule set start
another batch. The test is generic: a parameter added to a strategy or a rule batches without new code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pmsim.simulator.sweep.grid import Point

MAX_BATCH = 50  # books per batch: S x bars x 15 series columns stay small (50 x 8760 x 15 x 8 B = 53 MB)


@dataclass(frozen=True)
class Batch:
    """Points run as one lockstep simulation; ``key`` names its partition (a hash of what it runs)."""

    key: str
    points: tuple[Point, ...]


def _lockstep(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _array_fields(rule: object) -> set[str]:
    """The init fields of an allocator rule that accept an array over S (their hint names ndarray)."""
    return {f.name for f in dataclasses.fields(rule) if f.init and "ndarray" in str(f.type)}


def _rules(config: Mapping[str, Any]) -> tuple:
    from pmsim.simulator.build import build_allocator
    from pmsim.simulator.checked import build
    from pmsim.simulator.config import AllocatorConfig

    return build_allocator(build(AllocatorConfig, config["allocator"], "allocator")).rules


def group_key(config: Mapping[str, Any]) -> str:
    """What must be equal for two points to share a batch."""
    shared = {k: v for k, v in config.items() if k not in ("name", "allocator")}
    params = config["strategy"]["params"]
    shared["strategy"] = {
        "name": config["strategy"]["name"],
        "fixed": {k: v for k, v in params.items() if not _lockstep(v)},
        "lockstep": sorted(k for k, v in params.items() if _lockstep(v)),
    }
    rules = []
    for rule in _rules(config):
        varying = _array_fields(rule)
        fields = {f.name: getattr(rule, f.name) for f in dataclasses.fields(rule) if f.init}
        rules.append([type(rule).__name__, {k: v for k, v in fields.items() if k not in varying}])
    shared["rules"] = rules
    return json.dumps(shared, sort_keys=True, default=str)


def batch_key(points: Sequence[Point]) -> str:
    text = json.dumps([[p.id, p.config] for p in points], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pack(points: Sequence[Point], size: int = MAX_BATCH) -> list[Batch]:
    """Group lockstep-compatible points (grid order kept within a group), then cut groups to ``size``."""
    groups: dict[str, list[Point]] = {}
    for point in points:
        groups.setdefault(group_key(point.config), []).append(point)
    batches = []
    for members in groups.values():
        for start in range(0, len(members), size):
            chunk = tuple(members[start : start + size])
            batches.append(Batch(batch_key(chunk), chunk))
    return batches


def _merged(values: Sequence[Any]) -> Any:
    return values[0] if all(v == values[0] for v in values) else list(values)


def batch_run(batch: Batch, market: object):  # noqa: ANN201  (a build.Run; imported lazily)
    """One ``Run`` simulating every point of ``batch`` in lockstep on ``market``."""
    from pmsim.simulator.allocator import Allocator
    from pmsim.simulator.build import Run, build_regime, build_strategy
    from pmsim.simulator.config import RunConfig, StrategyConfig
    from pmsim.simulator.memory import require_memory

    configs = [p.config for p in batch.points]
    first = RunConfig.from_dict(configs[0])
    params = {
        k: _merged([c["strategy"]["params"][k] for c in configs]) for k in configs[0]["strategy"]["params"]
    }
    strategy = build_strategy(StrategyConfig(first.strategy.name, params))
    require_memory(market.n_bars, strategy.n_configs, len(market.instruments))
    per_point = [_rules(c) for c in configs]
    rules = []
    for i, rule in enumerate(per_point[0]):
        fields = {f.name: getattr(rule, f.name) for f in dataclasses.fields(rule) if f.init}
        for name in _array_fields(rule):
            values = [getattr(rs[i], name) for rs in per_point]
            fields[name] = values[0] if all(v == values[0] for v in values) else np.asarray(values, float)
        rules.append(type(rule)(**fields))
    return Run(first, market, build_regime(first.regime, market), strategy, Allocator(tuple(rules)))
