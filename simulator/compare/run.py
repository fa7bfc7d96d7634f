"""Rules and positions mode, end to end: one config, several regimes, one comparison folder.

- ``rules``: the config runs once per regime exactly as ``pmsim run`` would run it with that
  ``[regime]`` (same sizing rules, so each regime's margin changes the positions);
- ``positions``: the book runs once under the FIRST regime listed, with liquidation observed but never
  taken (``observe.py``); every regime is then judged on those identical positions (``evaluate.py``).
  Equity, fills, funding and PnL are the reference run's in every folder; IM, MM, MUR, buffer, free
  capital, the stress distance and the ``would_liquidate`` events are each regime's own.
Isolated positions are liquidated in full, so an isolated run uses ``account.liquidation = "full"``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pmsim.simulator.atomic import atomic_dir
from pmsim.simulator.build import Run, build_probe, build_run
from pmsim.simulator.compare.capital import capital_table
from pmsim.simulator.compare.evaluate import judge
from pmsim.simulator.compare.folder import MARKER, TABLE, check_compare_target
from pmsim.simulator.compare.observe import Observer
from pmsim.simulator.compare.regimes import RegimeChoice
from pmsim.simulator.config import RunConfig
from pmsim.simulator.engine.engine import Simulation
from pmsim.simulator.engine.policies import policy_for
from pmsim.simulator.market.arrays import Market
from pmsim.simulator.results import REPORT, dump_json, read_run

from pmsim import __version__

MODES = ("positions", "rules")
Progress = Callable[[Run], Callable[[int], None] | None]


@dataclass(frozen=True)
class Outcome:
    """One regime's wired run and what it simulated (or, in positions mode, was judged to need)."""

    choice: RegimeChoice
    run: Run
    simulation: Simulation


def regime_config(config: RunConfig, choice: RegimeChoice) -> RunConfig:
    """``config`` under ``choice``: its own name (``<name>-<label>``) and ``[regime]``."""
    account = config.account
    if choice.name == "isolated":
        account = dataclasses.replace(account, liquidation="full")
    return dataclasses.replace(
        config, name=f"{config.name}-{choice.label}", regime=choice.config(config.regime), account=account
    )


def wire(config: RunConfig, choices: Sequence[RegimeChoice], market: Market) -> list[Run]:
    """One wired run per regime, all on ``market`` (bad regime params fail here, before any bar runs)."""
    return [build_run(regime_config(config, choice), market) for choice in choices]


def rules_mode(choices: Sequence[RegimeChoice], runs: Sequence[Run], progress: Progress) -> list[Outcome]:
    return [
        Outcome(choice, run, run.execute(progress(run))) for choice, run in zip(choices, runs, strict=True)
    ]


def positions_mode(choices: Sequence[RegimeChoice], runs: Sequence[Run], progress: Progress) -> list[Outcome]:
    reference = runs[0]
    account = reference.config.account
    shadows = {
        c.label: r.regime for c, r in zip(choices, runs, strict=True) if r.regime.liquidates == "position"
    }
    observer = Observer(policy_for(reference.regime, account.liquidation, account.liquidation_price), shadows)
    simulation = reference.execute(progress(reference), policy=observer)
    probe = build_probe(reference.config.stress, reference.market)
    note = (
        f"positions mode: positions, fills and PnL are those of one run under {choices[0].legend} with "
        "liquidation not taken; margin columns and would_liquidate events are this regime's"
    )
    outcomes = []
    for choice, run in zip(choices, runs, strict=True):
        iso = choice.label if choice.label in shadows else None
        judged = judge(
            run.regime,
            choice.legend,
            iso,
            observer.states,
            run.market,
            simulation.series,
            probe,
            progress(run),
        )
        series = simulation.series.copy()
        for name, values in judged.columns.items():
            series[name] = values.reshape(-1)
        events = pd.concat([simulation.events, judged.events], ignore_index=True)
        events = events.sort_values("time", kind="stable").reset_index(drop=True)
        notes = (*simulation.notes, note)
        outcomes.append(Outcome(choice, run, Simulation(series, events, simulation.account, notes)))
    return outcomes


def write_comparison(out: Path, outcomes: Sequence[Outcome], mode: str, title: str, force: bool) -> Path:
    """Write every run folder, ``comparison.parquet`` and ``report.html`` as one folder, crash-safely."""
    from pmsim.reports.compare import write_compare_report

    with atomic_dir(out, check=lambda path: check_compare_target(path, force)) as tmp:
        folders = []
        for outcome in outcomes:
            outcome.run.write(outcome.simulation, tmp / outcome.choice.label)
            folder = read_run(tmp / outcome.choice.label)
            folders.append(dataclasses.replace(folder, path=Path(out) / outcome.choice.label))
        table = capital_table(folders, mode)
        table.to_parquet(tmp / TABLE, index=False)
        write_compare_report(folders, table, tmp / REPORT, title)
        (tmp / MARKER).write_text(dump_json({"kind": "compare", "mode": mode, "version": __version__}))
    return Path(out)
