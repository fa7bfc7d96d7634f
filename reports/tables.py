"""The report's tables: the summary, the allocator's decisions and the return statistics.

Each is a section function ``section(runs) -> HTML fragment``. Values come from
:mod:`simulator.metrics` (our metrics, the ruin, the ROM flag) and vectorbt's returns accessor (standard
return statistics), computed from the run folders.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from markupsafe import Markup
from pmsim.reports.frames import ConfigView, RunView
from pmsim.reports.render import render, section_html
from pmsim.reports.text import count, money, percent, ratio, times
from pmsim.simulator import metrics

Cell = Callable[[Mapping[str, object]], str]
YEAR = "365 days"
FLAG = "⚑"


def _show(key: str, fmt: Callable[[object], str]) -> Cell:
    return lambda values: fmt(values[key])


def _flagged(key: str) -> Cell:
    """ROM with the flag mark when :func:`simulator.metrics.rom_flag` gives a reason."""

    def cell(values: Mapping[str, object]) -> str:
        text = percent(values[key])
        return f"{text} {FLAG}" if values["rom_flag"] and text != "n/a" else text

    return cell


def _utc(iso: object) -> str:
    """An ISO time as ``YYYY-MM-DD HH:MM`` in UTC (a time without offset is taken as UTC)."""
    time = pd.Timestamp(str(iso))
    return (time.tz_localize("UTC") if time.tzinfo is None else time.tz_convert("UTC")).strftime(
        "%Y-%m-%d %H:%M"
    )


def _ruin(values: Mapping[str, object]) -> str:
    return f"ruined {_utc(values['ruin_time'])}" if values["ruined"] else "no"


SUMMARY_COLUMNS: tuple[tuple[str, str, Cell], ...] = (
    ("final_equity", "Final equity", _show("final_equity", money)),
    ("net_pnl", "Net PnL", _show("net_pnl", money)),
    ("roe", "ROE", _show("roe", percent)),
    ("ruined", "Ruined", _ruin),
    ("liquidations", "Liquidations", _show("liquidations", count)),
    ("rom", "ROM", _flagged("rom")),
    ("rom_annualised", "ROM ann.", _flagged("rom_annualised")),
    ("in_market", "In market", _show("in_market", percent)),
    ("max_mur", "Max MUR", _show("max_mur", percent)),
    ("min_buffer", "Min buffer", _show("min_buffer", times)),
    ("cuts", "Cuts", _show("cuts", count)),
    ("rejections", "Rejections", _show("rejections", count)),
    ("stage_changes", "Stage changes", _show("stage_changes", count)),
    ("stops", "Stops", _show("stops", count)),
    ("bankruptcy_loss", "Bankruptcy loss", _show("bankruptcy_loss", money)),
    ("fees", "Fees", _show("fees", money)),
    ("funding", "Funding", _show("funding", money)),
    ("bars_above_mur_70", "Bars MUR > 70%", _show("bars_above_mur_70", count)),
    ("bars_above_mur_80", "Bars MUR > 80%", _show("bars_above_mur_80", count)),
)


def summary_table(runs: Sequence[RunView]) -> str:
    """One row per run x config with every metric of :data:`simulator.metrics.METRICS`; flagged ROMs
    and ruins are explained under the table."""
    rows, flags = [], []
    for run in runs:
        for view in run.configs:
            values = {name: metric(view.bars) for name, metric in metrics.METRICS.items()}
            rows.append(
                [run.name, view.label, run.regime_name] + [cell(values) for _, _, cell in SUMMARY_COLUMNS]
            )
            if values["rom_flag"]:
                flags.append((f"{FLAG} {view.name}", f"ROM flagged: {values['rom_flag']}"))
    footnotes = [(title, metrics.definition(key)) for key, title, _ in SUMMARY_COLUMNS]
    footnotes.append((f"ROM {FLAG}", metrics.definition("rom_flag")))
    body = render(
        "table.j2",
        columns=["Run", "Config", "Regime"] + [t for _, t, _ in SUMMARY_COLUMNS],
        rows=rows,
        text_columns=3,
        footnotes=flags + footnotes,
    )
    note = (
        "Amounts in the quote currency (USDT), times in UTC. A ruined book (equity at or below "
        f"{metrics.RUIN_FLOOR:.0%} of deposits) counts as a total loss in ROE and ROM, whatever its "
        f"liquidation count; ROM marked {FLAG} rests on too little exposure to rank. Definitions below."
    )
    return section_html("summary", "Summary", body, note)


def decisions_table(runs: Sequence[RunView]) -> str:
    """Cuts, rejections, stage changes and stops per book, by the rule that made them."""
    rows = [
        [run.name, view.label, kind, rule, count(n)]
        for run in runs
        for view in run.configs
        for kind, by_rule in metrics.decisions(view.bars).items()
        for rule, n in by_rule.items()
    ]
    if rows:
        body = render(
            "table.j2",
            columns=["Run", "Config", "Kind", "Rule", "Events"],
            rows=rows,
            text_columns=4,
            footnotes=[],
        )
    else:
        body = Markup("<p>No cuts, rejections, stage changes or stops: every target was traded as given.</p>")
    note = (
        "Every allocator decision (and every cut or rejection by the fill-time initial-margin check) is an "
        "event naming its rule; the rules that ran are listed under What ran."
    )
    return section_html("decisions", "Allocator decisions", body, note)


def _returns(view: ConfigView) -> pd.Series:
    """Per-bar returns of equity net of new deposits: (equity_t - equity_t-1 - deposited_t) / equity_t-1.

    A bar cannot lose more than all equity (-100%; the rest is bankruptcy loss). A ruined book's returns
    end at its ruin bar, which loses everything (-100%): nothing after a ruin counts.
    """
    series = view.bars.series
    equity, deposits = series["equity"].astype(float), series["deposits"].astype(float)
    previous = equity.shift(1).fillna(deposits.iloc[0])
    flows = deposits.diff().fillna(0.0)
    returns = ((equity - previous - flows) / previous).where(previous > 0).clip(lower=-1.0)
    ruin = view.bars.ruin
    if ruin is not None:
        returns = returns.iloc[: ruin + 1].copy()
        returns.iloc[ruin] = -1.0
    time = _naive_index(series["time"].iloc[: len(returns)])
    return pd.Series(returns.to_numpy(), index=time, name=view.name)


def _naive_index(time: pd.Series) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(time.dt.tz_convert(None))


@dataclass(frozen=True)
class Stat:
    """One return statistic: ``compute(acc)`` on vectorbt's returns accessor, printed with ``fmt``.

    survives_ruin: still meaningful for a ruined book (else printed "ruined"); arithmetic: built on the
    arithmetic mean of per-bar returns, so its sign can disagree with the compound return.
    """

    name: str
    compute: Callable[..., float]
    fmt: Callable[[object], str]
    survives_ruin: bool = False
    arithmetic: bool = False


RETURN_STATS: tuple[Stat, ...] = (
    Stat("Total return", lambda acc: acc.total(), percent, survives_ruin=True),
    Stat("Annualised return", lambda acc: acc.annualized(), percent, survives_ruin=True),
    Stat("Annualised volatility", lambda acc: acc.annualized_volatility(), percent),
    Stat("Sharpe", lambda acc: acc.sharpe_ratio(), ratio, arithmetic=True),
    Stat("Sortino", lambda acc: acc.sortino_ratio(), ratio, arithmetic=True),
    Stat("Max drawdown", lambda acc: acc.max_drawdown(), percent, survives_ruin=True),
    Stat("Calmar", lambda acc: acc.calmar_ratio(), ratio),
)
DRAG = "†"


def _stat_cells(view: ConfigView, bar_seconds: float) -> list[str]:
    """The statistics of one config: "ruined" where a ratio would rank a total loss, and a mark where
    an arithmetic-mean ratio's sign disagrees with the compound (total) return."""
    acc = _returns(view).vbt.returns(freq=pd.Timedelta(seconds=bar_seconds), year_freq=YEAR)
    ruined, total = view.bars.ruin is not None, float(acc.total())
    cells = []
    for stat in RETURN_STATS:
        if ruined and not stat.survives_ruin:
            cells.append("ruined")
            continue
        value = float(stat.compute(acc))
        drag = stat.arithmetic and value * total < 0
        cells.append(f"{stat.fmt(value)} {DRAG}" if drag else stat.fmt(value))
    return cells


def return_stats(runs: Sequence[RunView]) -> str:
    """Standard return statistics of equity per config, from vectorbt's returns accessor."""
    import vectorbt  # noqa: F401  (registers the .vbt accessor; slow to import, so only when needed)

    rows = [
        [run.name, view.label]
        + (
            _stat_cells(view, run.bar_seconds)
            if math.isfinite(run.bar_seconds)
            else ["n/a"] * len(RETURN_STATS)
        )
        for run in runs
        for view in run.configs
    ]
    drag = any(cell.endswith(DRAG) for row in rows for cell in row[2:])
    footnotes = [
        (
            DRAG,
            "Sharpe and Sortino average the per-bar returns arithmetically; here that mean has the "
            "opposite sign to the compound (total) return, as happens when volatility is high (volatility "
            "drag). Do not read such a ratio as a gain: rank these books by total return or ROE.",
        )
    ]
    body = render(
        "table.j2",
        columns=["Run", "Config"] + [stat.name for stat in RETURN_STATS],
        rows=rows,
        text_columns=2,
        footnotes=footnotes if drag else [],
    )
    note = (
        "Per-bar returns of equity net of deposits; computed by vectorbt's returns accessor "
        "(risk-free rate 0, a year of 365 days). A ruined book's returns stop at its ruin bar, which "
        "counts as -100%: its total and annualised return and its drawdown are -100%, and its volatility, "
        "Sharpe, Sortino and Calmar read 'ruined', since no ratio of a total loss ranks it above a book "
        f"that survived. {DRAG} marks a Sharpe or Sortino whose sign contradicts the total return."
    )
    return section_html("return-stats", "Return statistics", body, note)
