"""The comparison report (``pmsim compare``): it opens on the capital table, then small multiples.

The capital table is ``comparison.parquet`` (``simulator.compare.capital``) printed one row per regime
x book. The small multiples put IM, MUR, free capital and buffer in one panel each, one colour and one
dash style per regime (the legend names the preset), so two regimes with identical series still show
as two lines; a note names every pair of regimes whose series are identical. The usual sections follow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from markupsafe import Markup
from plotly.subplots import make_subplots
from pmsim.reports.frames import RunView, downsample
from pmsim.reports.html import check_report_target, render_report
from pmsim.reports.render import figure_html, render, section_html
from pmsim.reports.sections import COLORS, SECTIONS
from pmsim.reports.text import count, money, percent, times
from pmsim.simulator import metrics
from pmsim.simulator.atomic import write_text
from pmsim.simulator.compare.capital import choice_of
from pmsim.simulator.results import RunFolder

DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
PANELS = (
    ("im", "IM (USDT)", lambda s: s["im"]),
    ("mur", "MUR (%)", lambda s: metrics.mur_path(s) * 100),
    ("free", "free capital (USDT)", lambda s: s["free"]),
    ("buffer", "buffer (equity / MM)", lambda s: metrics.buffer_path(s)),
)
CAPITAL = (
    ("mean_im", "Mean IM", money),
    ("p95_im", "p95 IM", money),
    ("mean_free", "Mean free capital", money),
    ("freed_vs_isolated", "Freed vs isolated", money),
    ("freed_vs_isolated_pct", "Freed vs isolated %", percent),
    ("max_mur", "Max MUR", percent),
    ("bars_above_mur_70", "Bars MUR > 70%", count),
    ("bars_above_mur_80", "Bars MUR > 80%", count),
    ("min_buffer", "Min buffer", times),
    ("liquidations", "Liquidations", count),
    ("min_shock_distance", "Min stress distance", times),
    ("ruined", "Ruined", lambda v: "yes" if v else "no"),
    ("roe", "ROE", percent),
    ("rom", "ROM", percent),
    ("max_drawdown", "Max drawdown", percent),
)


def capital_section(table: pd.DataFrame, runs: Sequence[RunView]) -> str:
    """The capital table, one row per regime x book."""
    positions = (table["mode"] == "positions").all()
    rows = [
        [row["legend"], row["book"]] + [fmt(row[key]) for key, _, fmt in CAPITAL]
        for _, row in table.iterrows()
    ]
    liquidations = (
        "would-be liquidations (events of kind would_liquidate: the first bar of each breach, not taken)"
        if positions
        else "liquidations taken"
    )
    mode = (
        "positions mode: every regime holds the same positions, fills and PnL (one run under the first "
        "regime listed, liquidation not taken), so equity, ROE and ruin are the same and the margin columns "
        "show what each regime asks of that book"
        if positions
        else "rules mode: the same sizing rules ran under each regime, so each regime's margin changed "
        "the positions; freed capital then mixes the regime's rate with the different book"
    )
    footnotes = [
        (
            "Freed vs isolated",
            "mean IM of the isolated run of the same book - mean IM of this regime "
            "(and as a share of the isolated mean IM); n/a when isolated was not compared",
        ),
        ("Liquidations", liquidations),
        (
            "Min stress distance",
            "the smallest multiple of the configured stress move (under [stress]) that would liquidate the "
            "book at a probed bar's close; ∞: no such move, or the probe is off",
        ),
        ("Max drawdown", "the deepest fall of equity below its running peak (-100 % at a ruin)"),
        ("MUR, buffer, ROE, ROM", "as defined under Definitions; all over the bars up to a ruin"),
    ]
    body = render(
        "table.j2",
        columns=["Regime", "Book"] + [title for _, title, _ in CAPITAL],
        rows=rows,
        text_columns=2,
        footnotes=footnotes,
    )
    return section_html(
        "capital", "Capital by regime", body, f"{mode[0].upper()}{mode[1:]}. Amounts in USDT."
    )


def _values(series: pd.DataFrame, path: Callable[[pd.DataFrame], pd.Series]) -> pd.Series:
    """``path(series)`` stopped at a ruin, infinities (MUR or buffer with nothing behind them) as gaps."""
    values = metrics.stop_at_ruin(path(series), series)
    return values.replace([np.inf, -np.inf], np.nan)


def _book_figure(
    runs: Sequence[RunView], config: int, legends: Sequence[str]
) -> tuple[go.Figure, dict[tuple[str, str], list[str]]]:
    """The four panels of one book, and the panels in which two regimes' series are identical."""
    fig = make_subplots(
        rows=2, cols=2, subplot_titles=[title for _, title, _ in PANELS], vertical_spacing=0.12
    )
    identical: dict[tuple[str, str], list[str]] = {}
    for p, (key, _, path) in enumerate(PANELS):
        lines = []
        for i, run in enumerate(runs):
            series = run.configs[config].bars.series
            values = _values(series, path)
            lines.append(values.to_numpy(dtype=float))
            shown = downsample(values)
            fig.add_scatter(
                x=series["time"].loc[shown.index].dt.tz_convert(None),
                y=shown.to_numpy(),
                name=legends[i],
                legendgroup=legends[i],
                showlegend=p == 0,
                mode="lines",
                line={"color": COLORS[i % len(COLORS)], "dash": DASHES[i % len(DASHES)], "width": 1.6},
                row=p // 2 + 1,
                col=p % 2 + 1,
            )
        for a, b in combinations(range(len(runs)), 2):
            if np.array_equal(lines[a], lines[b], equal_nan=True):
                identical.setdefault((legends[a], legends[b]), []).append(key)
    fig.update_layout(
        template="plotly_white",
        height=620,
        hovermode="x unified",
        margin={"l": 60, "r": 20, "t": 60, "b": 40},
        legend={"orientation": "h", "y": 1.08, "yanchor": "bottom", "x": 0},
    )
    return fig, identical


def small_multiples(runs: Sequence[RunView]) -> str:
    """Per book: IM, MUR, free capital and buffer panels, one colour and dash per regime."""
    legends = [choice_of(run.folder).legend for run in runs]
    figures, identical = [], {}
    for config, view in enumerate(runs[0].configs):
        fig, same = _book_figure(runs, config, legends)
        figures.append(Markup("<h3>{}</h3>{}").format(view.label, figure_html(fig)))
        for pair, keys in same.items():
            identical.setdefault(pair, []).append(f"{view.label}: {', '.join(keys)}")
    lines = [f"{a} and {b} are identical in {'; '.join(where)}" for (a, b), where in identical.items()]
    note = "One colour and dash style per regime; the legend names each regime's preset. " + (
        "Drawn over each other, told apart by their dashes: " + ". ".join(lines) + "."
        if lines
        else "No two regimes' series are identical."
    )
    return section_html("capital-paths", "Margin paths by regime", Markup("").join(figures), note)


def write_compare_report(folders: Sequence[RunFolder], table: pd.DataFrame, out: Path, title: str) -> Path:
    """Render the comparison report for ``folders`` (one per regime) and write it to ``out``."""
    check_report_target(out)
    runs = [RunView(folder) for folder in folders]
    sections = (partial(capital_section, table), small_multiples, *SECTIONS)
    return write_text(out, render_report(runs, title, sections), check=check_report_target)
