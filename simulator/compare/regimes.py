"""The ``--regimes`` list: ``name`` or ``name:preset`` items, checked against the registry before any run.

A choice carries its folder label (``portfolio-deribit``), its legend (``portfolio (deribit)``, the
preset always named) and the ``RegimeConfig`` a run of it uses. The config's own ``[regime]`` params
(e.g. a cross ``leverage``) go to the regime of the same name only; the others run on their preset.
"""

from __future__ import annotations

from dataclasses import dataclass

from pmsim.simulator.config import RegimeConfig
from pmsim.simulator.errors import ConfigError
from pmsim.simulator.margin.presets import preset_names
from pmsim.simulator.margin.registry import DEFAULT_PM_PRESET, REGIMES

PRESET_KIND = {"portfolio": "portfolio", "standard": "standard"}  # regimes whose numbers come from presets
DEFAULT_PRESET = {"portfolio": DEFAULT_PM_PRESET, "standard": "deribit"}
BRACKETS = "Binance brackets"


@dataclass(frozen=True)
class RegimeChoice:
    """One regime of a comparison: ``name`` in the registry and its ``preset`` (None: bracket regimes)."""

    name: str
    preset: str | None = None

    @property
    def label(self) -> str:
        """Folder name and ``comparison.parquet`` key: ``cross``, ``portfolio-deribit``."""
        return self.name if self.preset is None else f"{self.name}-{self.preset}"

    @property
    def legend(self) -> str:
        """What charts and tables print: the regime with its preset (or its bracket source)."""
        return f"{self.name} ({self.preset or BRACKETS})"

    def config(self, base: RegimeConfig) -> RegimeConfig:
        params = dict(base.params) if base.name == self.name else {}
        return RegimeConfig(name=self.name, preset=self.preset, params=params)


def options() -> list[str]:
    """Every accepted item: bracket regimes by name, preset regimes as ``name:preset``."""
    items = []
    for name in sorted(REGIMES):
        kind = PRESET_KIND.get(name)
        items += [name] if kind is None else [f"{name}:{preset}" for preset in preset_names(kind)]
    return items


def parse_regimes(text: str) -> tuple[RegimeChoice, ...]:
    """``isolated,cross,portfolio:deribit`` -> choices; an unknown, empty or repeated item is one line."""
    items = [item.strip() for item in text.split(",")]
    if not any(items):
        raise ConfigError(f"--regimes is empty; give a comma-separated list of: {', '.join(options())}")
    choices = []
    for item in items:
        name, _, preset = item.partition(":")
        kind = PRESET_KIND.get(name)
        if (
            name not in REGIMES
            or (kind is None and preset)
            or (kind and preset and preset not in preset_names(kind))
        ):
            raise ConfigError.unknown("--regimes item", item, options())
        choice = RegimeChoice(name, (preset or DEFAULT_PRESET[name]) if kind else None)
        if choice in choices:
            raise ConfigError(f"--regimes names {choice.legend} twice; list each regime once")
        choices.append(choice)
    if len(choices) < 2:
        raise ConfigError("--regimes needs at least two regimes to compare, e.g. isolated,cross")
    return tuple(choices)
