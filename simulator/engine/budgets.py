"""Sleeve budgets: the USDT a sleeve's strategy may size against, decided at each bar's close.

``budget = fraction x stage share x base`` per book ``[S]``, where the base is
- ``equity``: the account's equity;
- ``free_capital``: what the sleeves named in ``after`` leave free,
  ``equity - max(IM(after), floor x MM(after))``, at least 0. ``IM``/``MM`` are the regime's requirements
  of the summed targets those sleeves decided at this bar (they decide first), so a core that is about
  to grow does not lend the same collateral twice. The ``max`` is the buffer reserve: besides its IM,
  the core alone must keep equity >= floor x MM (the account's buffer floor); where floor x MM exceeds
  IM the difference is held back too (``reserve = max(floor x MM - IM, 0)``). The sleeve's own MM is
  guarded by the account-wide buffer floor on the summed targets, so it is not reserved twice.
Staged deployment (``simulator.deployment.Stages``) watches the whole book: the account's equity and
the account's guards (cut, rejection, stop, liquidation, bankruptcy events since the last decision).
Every stage change is a ``stage`` event with the sleeve's name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pmsim.simulator.deployment import Stages
from pmsim.simulator.engine.events import EventLog
from pmsim.simulator.margin.base import Regime

KINDS = ("equity", "free_capital")


@dataclass(eq=False)
class Budget:
    """How much one sleeve may size against (``after`` holds the indices of earlier sleeves)."""

    kind: str = "equity"
    fraction: float | np.ndarray = 1.0
    after: tuple[int, ...] = ()
    floor: float | np.ndarray = 1.0
    stages: Stages | None = None

    def size(
        self,
        equity: np.ndarray,
        earlier: np.ndarray,
        regime: Regime,
        mark: np.ndarray,
        when: np.datetime64,
        guard: np.ndarray,
        bar: int,
        log: EventLog,
        sleeve: str,
    ) -> np.ndarray:
        """[S] budget at ``bar``; ``earlier[G', S, N]`` are the targets of the sleeves decided before."""
        base = equity
        if self.kind == "free_capital":
            core = earlier[list(self.after)].sum(axis=0)
            req = regime.requirements(core, mark, when)
            base = np.maximum(equity - np.maximum(req.im, self.floor * req.mm), 0.0)
        share = 1.0
        if self.stages is not None:
            move, drawdown = self.stages.step(equity, guard, bar)
            self.stages.log(log, bar, move, drawdown, f"{sleeve}: stages", sleeve)
            share = self.stages.share
        return self.fraction * share * base

    def describe(self, names: tuple[str, ...]) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind, "fraction": np.asarray(self.fraction).tolist()}
        if self.kind == "free_capital":
            out |= {"after": [names[h] for h in self.after], "buffer": np.asarray(self.floor).tolist()}
        if self.stages is not None:
            out["stages"] = self.stages.describe()
        return out
