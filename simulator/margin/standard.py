"""Deribit-style standard margin: a rate that grows with position size, applied to the whole position.

``rate = base + slope x |qty|`` (size in coin), ``im_pos = notional x rate_im``, ``mm_pos = notional x
rate_mm``; requirements are summed over positions (Deribit support "11 January 2022"; docs/margin-regimes.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pmsim.simulator.errors import RegimeError
from pmsim.simulator.margin.base import Requirements
from pmsim.simulator.margin.presets import Preset
from pmsim.simulator.margin.reduction import ProRataReduction
from pmsim.simulator.market.instruments import Instrument
from pmsim.simulator.numeric import zero_nan


@dataclass(eq=False)
class SizeRateRegime(ProRataReduction):
    """Standard margin with size-dependent rates, one set per underlying and preset version."""

    instruments: tuple[Instrument, ...]
    preset: Preset
    name: str = "standard"

    def __post_init__(self) -> None:
        self.rates_ = tuple(self._rates(v) for v in self.preset.versions)

    def _rates(self, version: dict) -> np.ndarray:
        """``[4, N]``: im base, im slope, mm base, mm slope of each instrument."""
        table = version["underlyings"]
        missing = sorted({i.underlying for i in self.instruments} - set(table))
        if missing:
            raise RegimeError(
                f"{self.preset.path}: no standard-margin rates for {missing[0]} (has: {', '.join(table)})"
            )
        return np.array(
            [[*table[i.underlying]["im"], *table[i.underlying]["mm"]] for i in self.instruments]
        ).T

    def requirements(self, qty: np.ndarray, mark: np.ndarray, when: np.datetime64) -> Requirements:
        im_base, im_slope, mm_base, mm_slope = self.rates_[self.preset.version_at(when)]
        size = np.abs(qty)
        notional = size * zero_nan(mark)
        im_pos = notional * (im_base + im_slope * size)
        mm_pos = notional * (mm_base + mm_slope * size)
        return Requirements(im=im_pos.sum(axis=-1), mm=mm_pos.sum(axis=-1), im_pos=im_pos, mm_pos=mm_pos)

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "preset": self.preset.name, "preset_source": self.preset.source}
