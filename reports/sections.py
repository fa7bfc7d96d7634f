"""The report's sections: each a function ``section(runs) -> HTML fragment``, testable alone.

``SECTIONS`` lists them in page order. They read :class:`reports.frames.RunView` objects (run folders
with UTC times and labels) and our metrics from :mod:`simulator.metrics`; the tables live in
:mod:`reports.tables`. They never touch the engine. Every line of a ruined book stops at its ruin bar.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from markupsafe import Markup
from plotly.colors import qualitative
from plotly.subplots import make_subplots
from pmsim.reports.basis import basis_pnl
from pmsim.reports.frames import ConfigView, RunView, all_configs, downsample
from pmsim.reports.render import base_figure, figure_html, render, section_html
from pmsim.reports.sleeves import sleeve_attribution
from pmsim.reports.tables import decisions_table, return_stats, summary_table
from pmsim.reports.text import capped, duration, note_lines, plain, rule_lines
from pmsim.simulator import metrics
from pmsim.simulator.margin.presets import PRESET_DIR

Section = Callable[[Sequence[RunView]], str]
COLORS = qualitative.Plotly
MUR_AXIS_CAP = 200.0  # % : keeps the 70-80% band readable when one config spikes far above it


PathOf = Callable[[pd.DataFrame], pd.Series]


def _naive(time: pd.Series) -> pd.Series:
    """UTC-aware times as naive UTC (plotly prints them without an offset)."""
    return time.dt.tz_convert(None)


def _lived(view: ConfigView, path: PathOf) -> pd.Series:
    """``path(series)`` of one config, NaN after its ruin bar (a dead book's line stops)."""
    return metrics.stop_at_ruin(path(view.bars.series), view.bars.series)


def line_chart(configs: Sequence[ConfigView], path: PathOf, y_title: str) -> go.Figure:
    """One downsampled line per config of ``path(series)`` against time, stopping at a ruin."""
    fig = base_figure(y_title)
    for i, view in enumerate(configs):
        values = downsample(_lived(view, path))
        fig.add_scatter(
            x=_naive(view.time.loc[values.index]),
            y=values.to_numpy(),
            name=view.name,
            mode="lines",
            line={"color": COLORS[i % len(COLORS)], "width": 1.6},
        )
    return fig


# ------------------------------------------------------------------------------------------- sections


def preset_assumptions(regime: str, preset: object) -> list[str]:
    """The assumptions a margin preset states about itself (its file's venue and notes, and the dates
    its parameter versions take effect); empty when the regime has no preset file."""
    if not preset:
        return []
    path = next(
        (
            PRESET_DIR / f"{kind}_{preset}.json"
            for kind in (regime, "standard")
            if (PRESET_DIR / f"{kind}_{preset}.json").is_file()
        ),
        None,
    )
    if path is None:
        return []
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [f"preset file {path.name} could not be read"]
    versions = ", ".join(str(v.get("valid_from")) for v in doc.get("versions", []))
    return [
        str(doc.get("venue", "")),
        *(str(n) for n in doc.get("notes", [])),
        f"parameter versions from: {versions}",
    ]


def regime_fields(regime: dict, preset: object) -> dict[str, object]:
    """The margin assumptions of a header card: regime, preset, its source, the regime's parameters and
    the preset's own stated assumptions (from its file)."""
    return {
        "regime": str(regime.get("name", "unknown")),
        "preset": plain(preset or "none (no preset)"),
        "preset_source": plain(regime.get("preset_source", "")),
        "regime_params": [
            (k, plain(v)) for k, v in regime.items() if k not in ("name", "preset", "preset_source")
        ],
        "assumptions": preset_assumptions(str(regime.get("name", "")), preset),
    }


def header(runs: Sequence[RunView]) -> str:
    """What ran: market source, symbols, margin regime and preset, allocator rules, window, configs and
    the data notes (stand-ins, settlement proxies, gap bars)."""
    cards = [
        {
            "name": run.name,
            "source": run.market_source,
            "symbols": run.symbols,
            **regime_fields(run.regime, run.preset),
            "rules": rule_lines(run.allocator),
            "notes": note_lines(run.notes),
            "start": run.series["time"].min().strftime("%Y-%m-%d %H:%M"),
            "end": run.series["time"].max().strftime("%Y-%m-%d %H:%M"),
            "bars": run.series["time"].nunique(),
            "bar": duration(run.bar_seconds),
            "labels": capped([view.label for view in run.configs]),
            "path": str(run.folder.path),
        }
        for run in runs
    ]
    synthetic = any("synthetic" in run.market_source.lower() for run in runs)
    return section_html("what-ran", "What ran", render("header.j2", runs=cards, synthetic=synthetic))


def equity_figure(configs: Sequence[ConfigView]) -> go.Figure:
    """Equity per config over time, each ruin marked ×."""
    fig = line_chart(configs, lambda s: s["equity"], "equity (USDT)")
    for i, view in enumerate(configs):
        ruin = view.bars.ruin
        if ruin is not None:
            fig.add_scatter(
                x=_naive(view.time.iloc[[ruin]]),
                y=[float(view.bars.series["equity"].iloc[ruin])],
                mode="markers+text",
                text=["ruined"],
                textposition="top center",
                name=f"ruined · {view.name}",
                marker={"symbol": "x", "size": 12, "color": COLORS[i % len(COLORS)]},
            )
    return fig


def equity_chart(runs: Sequence[RunView]) -> str:
    """Equity (wallet + unrealised PnL at mark) per config over time."""
    fig = equity_figure(all_configs(runs))
    note = (
        "Equity = wallet balance + unrealised PnL at mark. A ruined book's line stops at its ruin "
        f"(equity at or below {metrics.RUIN_FLOOR:.0%} of deposits), marked ×."
    )
    return section_html("equity", "Equity", figure_html(fig), note)


def _mur_percent(series: pd.DataFrame) -> pd.Series:
    return (metrics.mur_path(series) * 100).replace([np.inf, -np.inf], np.nan)


def mur_figure(configs: Sequence[ConfigView]) -> go.Figure:
    """MUR path in percent per config with the 70% and 80% lines and the danger zone between them."""
    fig = line_chart(configs, _mur_percent, "MUR (IM / equity, %)")
    low, high = metrics.MUR_DANGER_LOW * 100, metrics.MUR_DANGER_HIGH * 100
    fig.add_hrect(
        y0=low,
        y1=high,
        fillcolor="#f79009",
        opacity=0.15,
        line_width=0,
        layer="below",
        annotation_text="danger zone",
        annotation_position="top left",
    )
    for level, color, where in ((low, "#f79009", "bottom right"), (high, "#d92d20", "top right")):
        fig.add_hline(
            y=level,
            line={"color": color, "dash": "dash", "width": 1.5},
            annotation_text=f"{level:.0f}%",
            annotation_position=where,
        )
    peak = max(
        (float(np.nanmax(v)) for v in (_lived(c, _mur_percent) for c in configs) if np.isfinite(v).any()),
        default=0.0,
    )
    fig.update_yaxes(range=[0, min(max(100.0, peak * 1.05), MUR_AXIS_CAP)])
    return fig


def mur_chart(runs: Sequence[RunView]) -> str:
    """MUR path in percent with the 70% and 80% lines and the danger zone between them shaded."""
    fig = mur_figure(all_configs(runs))
    note = (
        "MUR = IM / equity. The band between 70% and 80% is the danger zone. "
        "Gaps mark bars where equity was zero or below while margin was held (MUR infinite); a ruined "
        "book's line stops at its ruin. "
        f"The axis stops at {MUR_AXIS_CAP:.0f}%; zoom out or see Max MUR in the summary for higher peaks."
    )
    return section_html("mur", "Margin utilisation (MUR)", figure_html(fig), note)


def rom_chart(runs: Sequence[RunView]) -> str:
    """ROM path in percent: net PnL so far / mean IM of the bars so far that held margin."""
    fig = line_chart(all_configs(runs), lambda s: metrics.rom_path(s) * 100, "ROM (%)")
    fig.add_hline(y=0, line={"color": "#9aa5b1", "width": 1})
    return section_html(
        "rom", "Return on margin (ROM) path", figure_html(fig), metrics.definition(metrics.rom_path)
    )


def shock_distance_chart(runs: Sequence[RunView]) -> str:
    """Distance to liquidation: the multiple of the configured stress move that would liquidate the book."""

    def distance(series: pd.DataFrame) -> pd.Series:
        if "shock_distance" not in series:
            return pd.Series(dtype=float)
        probed = series["shock_distance"].dropna()  # bars the probe looked at (inf: no move liquidates)
        return probed.replace([np.inf, -np.inf], np.nan)  # a flat or unbreakable book breaks the line

    configs = all_configs(runs)
    fig = line_chart(configs, distance, "multiple of the stress move")
    fig.add_hline(
        y=1.0,
        line={"color": "#d92d20", "dash": "dash", "width": 1.5},
        annotation_text="the full stress move",
        annotation_position="top right",
    )
    shocks = sorted(
        {
            f"{u} {m:+.0%}"
            for run in runs
            for u, m in run.folder.config.get("stress", {}).get("shocks", {}).items()
        }
    )
    note = (
        f"Stress move: {', '.join(shocks) or 'none configured'}. Below 1.0 the book would not survive the "
        "full move at that bar's close; a gap means no such move liquidates it (or the bar was not probed)."
    )
    return section_html("shock", "Distance to liquidation under the stress move", figure_html(fig), note)


def _price_figure(group: Sequence[RunView], color: Callable[[ConfigView], str]) -> go.Figure:
    """Mark close per symbol (one row per pair: perp and its quarterlies) with liquidations marked."""
    prices = group[0].prices
    pairs = list(dict.fromkeys(symbol.split("_")[0] for symbol in group[0].symbols))
    fig = make_subplots(
        rows=len(pairs), cols=1, shared_xaxes=True, subplot_titles=pairs, vertical_spacing=0.08
    )
    for symbol in group[0].symbols:
        marks = downsample(prices[f"mark:{symbol}"])
        fig.add_scatter(
            x=_naive(prices["time"].loc[marks.index]),
            y=marks.to_numpy(),
            name=symbol,
            mode="lines",
            line={"width": 1.3},
            row=pairs.index(symbol.split("_")[0]) + 1,
            col=1,
        )
    for view in (c for run in group for c in run.configs):
        liq = view.bars.events[view.bars.events["kind"] == "liquidation"]
        for pair, rows in liq.groupby(liq["symbol"].str.split("_").str[0]):
            if pair not in pairs:
                continue
            fig.add_scatter(
                x=_naive(rows["time"]),
                y=rows["price"],
                mode="markers",
                name=f"liquidation · {view.name}",
                marker={
                    "symbol": "x",
                    "size": 11,
                    "color": color(view),
                    "line": {"width": 1.5, "color": "#1f2933"},
                },
                customdata=np.stack([rows["symbol"], rows["qty"], rows["amount"]], axis=-1),
                hovertemplate="%{customdata[0]} liquidated at %{y:,.2f}<br>qty %{customdata[1]:.4g}, "
                "amount %{customdata[2]:,.2f}",
                hoverlabel={"namelength": -1},
                row=pairs.index(pair) + 1,
                col=1,
            )
    fig.update_layout(
        template="plotly_white",
        height=120 + 260 * len(pairs),
        hovermode="closest",
        margin={"l": 60, "r": 20, "t": 70, "b": 40},
        legend={"orientation": "h", "y": 0.99, "yanchor": "top", "x": 0, "yref": "container"},
    )
    fig.update_yaxes(title_text="mark (USDT)")
    fig.update_xaxes(title_text="time (UTC)", row=len(pairs), col=1)
    return fig


def price_chart(runs: Sequence[RunView]) -> str:
    """Mark prices per market (runs on one market share a chart) with liquidation events marked."""
    groups: dict[str, list[RunView]] = {}
    for run in runs:
        groups.setdefault(run.market_source, []).append(run)
    position = {id(view): i for i, view in enumerate(all_configs(runs))}

    def color(view: ConfigView) -> str:
        return COLORS[position[id(view)] % len(COLORS)]

    body = Markup("").join(
        Markup("<h3>{}</h3>{}").format(source, figure_html(_price_figure(group, color)))
        for source, group in groups.items()
    )
    n_liq = sum(metrics.liquidations(view.bars) for view in all_configs(runs))
    note = f"Mark close per symbol. {n_liq} liquidation(s) marked × at their time and price."
    return section_html("prices", "Prices and liquidations", body, note)


def margin_by_regime(runs: Sequence[RunView]) -> str:
    """Mean and max IM per run x config (up to a ruin), to compare what each regime asks for the same book."""
    configs = all_configs(runs)
    names = [f"{view.name} ({run.regime_name})" for run in runs for view in run.configs]
    fig = base_figure("initial margin (USDT)")
    fig.update_layout(barmode="group", hovermode="closest", xaxis_title="")
    for stat, colour in (("mean", "#84caff"), ("max", "#1570ef")):
        fig.add_bar(
            x=names,
            y=[view.bars.lived["im"].agg(stat) for view in configs],
            name=f"{stat} IM",
            marker_color=colour,
        )
    regimes = list(dict.fromkeys(run.regime_name for run in runs))
    note = (
        f"Regimes compared: {', '.join(regimes)}."
        if len(regimes) > 1
        else f"Only one regime ran ({regimes[0]}); pass runs of several regimes to compare them."
    )
    return section_html("margin-by-regime", "Margin by regime", figure_html(fig), note)


def definitions(runs: Sequence[RunView]) -> str:
    """The words this report uses, in plain language."""
    words = {
        "mur": metrics.definition(metrics.mur_of),
        "buffer": metrics.definition(metrics.buffer_of),
        "rom": metrics.definition("rom"),
        "rom_flag": metrics.definition("rom_flag"),
        "roe": metrics.definition("roe"),
        "ruined": metrics.definition("ruined"),
    }
    return section_html("definitions", "Definitions", render("definitions.j2", words=words))


SECTIONS: tuple[Section, ...] = (
    header,
    summary_table,
    decisions_table,
    equity_chart,
    sleeve_attribution,
    mur_chart,
    rom_chart,
    shock_distance_chart,
    price_chart,
    margin_by_regime,
    basis_pnl,
    return_stats,
    definitions,
)
