"""The report's tables: the summary, the allocator's decisions and the return statistics.

Each is a section function ``section(runs) -> HTML fragment``. Values come from
:mod:`simulator.metrics` (our metrics, the ruin, the ROM flag) and vectorbt's returns accessor (standard
return statistics), computed from the run folders.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

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
    return pd.Timestamp(str(iso)).tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")


def _ruin(values: Mapping[str, object]) -> str:
    return f"ruined at {_utc(values['ruin_time'])}" if values["ruined"] else "no"


SUMMARY_COLUMNS: tuple[tuple[str, str, Cell], ...] = (
    ("final_equity", "Final equity", _show("final_equity", money)),
    ("net_pnl", "Net PnL", _show("net_pnl", money)),
    ("roe", "ROE", _show("roe", percent)),
    ("rom", "ROM", _flagged("rom")),
    ("rom_annualised", "ROM ann.", _flagged("rom_annualised")),
    ("in_market", "In market", _show("in_market", percent)),
    ("max_mur", "Max MUR", _show("max_mur", percent)),
    ("min_buffer", "Min buffer", _show("min_buffer", times)),
    ("ruined", "Ruined", _ruin),
    ("liquidations", "Liquidations", _show("liquidations", count)),
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
        "Amounts in the quote currency (USDT). A ruined book (equity at or below "
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


# name, statistic, format, still meaningful for a ruined book (False: printed as "ruined")
RETURN_STATS: tuple[tuple[str, Callable, Callable[[object], str], bool], ...] = (
    ("Total return", lambda acc: acc.total(), percent, True),
    ("Annualised return", lambda acc: acc.annualized(), percent, True),
    ("Annualised volatility", lambda acc: acc.annualized_volatility(), percent, False),
    ("Sharpe", lambda acc: acc.sharpe_ratio(), ratio, False),
    ("Sortino", lambda acc: acc.sortino_ratio(), ratio, False),
    ("Max drawdown", lambda acc: acc.max_drawdown(), percent, True),
    ("Calmar", lambda acc: acc.calmar_ratio(), ratio, False),
)


def return_stats(runs: Sequence[RunView]) -> str:
    """Standard return statistics of equity per config, from vectorbt's returns accessor."""
    import vectorbt  # noqa: F401  (registers the .vbt accessor; slow to import, so only when needed)

    rows = []
    for run in runs:
        for view in run.configs:
            if not math.isfinite(run.bar_seconds):
                rows.append([run.name, view.label, *["n/a"] * len(RETURN_STATS)])
                continue
            acc = _returns(view).vbt.returns(freq=pd.Timedelta(seconds=run.bar_seconds), year_freq=YEAR)
            ruined = view.bars.ruin is not None
            cells = [
                fmt(float(stat(acc))) if keep or not ruined else "ruined"
                for _, stat, fmt, keep in RETURN_STATS
            ]
            rows.append([run.name, view.label, *cells])
    body = render(
        "table.j2",
        columns=["Run", "Config"] + [name for name, _, _, _ in RETURN_STATS],
        rows=rows,
        text_columns=2,
        footnotes=[],
    )
    note = (
        "Per-bar returns of equity net of deposits; computed by vectorbt's returns accessor "
        "(risk-free rate 0, a year of 365 days). A ruined book's returns stop at its ruin bar, which "
        "counts as -100%: its total and annualised return and its drawdown are -100%, and its volatility, "
        "Sharpe, Sortino and Calmar read 'ruined', since no ratio of a total loss ranks it above a book "
        "that survived."
    )
    return section_html("return-stats", "Return statistics", body, note)
