"""The report's sections: each a function ``section(runs) -> HTML fragment``, testable alone.

``SECTIONS`` lists them in page order. They read :class:`reports.frames.RunView` objects (run folders
with UTC times and labels), our metrics from :mod:`simulator.metrics` and standard return statistics
from vectorbt's returns accessor; they never touch the engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from markupsafe import Markup
from plotly.colors import qualitative
from plotly.subplots import make_subplots
from pmsim.reports.frames import ConfigView, RunView, all_configs, downsample
from pmsim.reports.render import base_figure, figure_html, render
from pmsim.simulator import metrics

Section = Callable[[Sequence[RunView]], str]
COLORS = qualitative.Plotly
YEAR = "365 days"
MUR_AXIS_CAP = 200.0  # % : keeps the 70-80% band readable when one config spikes far above it


# ----------------------------------------------------------------------------------------- formatting


def _finite_or_dash(fmt: Callable[[float], str]) -> Callable[[float], str]:
    def show(value: float) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "n/a"
        if isinstance(value, float) and math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return fmt(value)

    return show


money = _finite_or_dash(lambda v: f"{v:,.2f}")
percent = _finite_or_dash(lambda v: f"{v:.2%}")
times = _finite_or_dash(lambda v: f"{v:.2f}×")
ratio = _finite_or_dash(lambda v: f"{v:.2f}")
count = _finite_or_dash(lambda v: f"{int(v):,d}")

SUMMARY_COLUMNS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("final_equity", "Final equity", money),
    ("net_pnl", "Net PnL", money),
    ("rom", "ROM", percent),
    ("rom_annualised", "ROM ann.", percent),
    ("max_mur", "Max MUR", percent),
    ("min_buffer", "Min buffer", times),
    ("liquidations", "Liquidations", count),
    ("bankruptcy_loss", "Bankruptcy loss", money),
    ("fees", "Fees", money),
    ("funding", "Funding", money),
    ("bars_above_mur_70", "Bars MUR > 70%", count),
    ("bars_above_mur_80", "Bars MUR > 80%", count),
)


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unknown length"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _section(id_: str, heading: str, body: Markup, note: str = "") -> str:
    return str(render("section.j2", id=id_, heading=heading, body=body, note=note))


def _naive(time: pd.Series) -> pd.Series:
    """UTC-aware times as naive UTC (plotly prints them without an offset)."""
    return time.dt.tz_convert(None)


def _line_chart(
    configs: Sequence[ConfigView], path: Callable[[pd.DataFrame], pd.Series], y_title: str
) -> go.Figure:
    """One downsampled line per config of ``path(series)`` against time."""
    fig = base_figure(y_title)
    for i, view in enumerate(configs):
        values = downsample(path(view.bars.series))
        fig.add_scatter(
            x=_naive(view.time.loc[values.index]),
            y=values.to_numpy(),
            name=view.name,
            mode="lines",
            line={"color": COLORS[i % len(COLORS)], "width": 1.6},
        )
    return fig


# ------------------------------------------------------------------------------------------- sections


def header(runs: Sequence[RunView]) -> str:
    """What ran: market source (synthetic or historical), symbols, margin regime, window and configs."""
    cards = [
        {
            "name": run.name,
            "source": run.market_source,
            "symbols": run.symbols,
            "regime": run.regime_name,
            "regime_params": [(k, v) for k, v in run.regime.items() if k != "name"],
            "start": run.series["time"].min().strftime("%Y-%m-%d %H:%M"),
            "end": run.series["time"].max().strftime("%Y-%m-%d %H:%M"),
            "bars": run.series["time"].nunique(),
            "bar": _duration(run.bar_seconds),
            "labels": [view.label for view in run.configs],
            "path": str(run.folder.path),
        }
        for run in runs
    ]
    synthetic = any("synthetic" in run.market_source.lower() for run in runs)
    return _section("what-ran", "What ran", render("header.j2", runs=cards, synthetic=synthetic))


def summary_table(runs: Sequence[RunView]) -> str:
    """One row per run x config with every metric of :data:`simulator.metrics.METRICS`."""
    rows = []
    for run in runs:
        for view in run.configs:
            values = {name: metric(view.bars) for name, metric in metrics.METRICS.items()}
            rows.append(
                [run.name, view.label, run.regime_name]
                + [fmt(values[key]) for key, _, fmt in SUMMARY_COLUMNS]
            )
    footnotes = [(title, metrics.definition(key)) for key, title, _ in SUMMARY_COLUMNS]
    body = render(
        "table.j2",
        columns=["Run", "Config", "Regime"] + [t for _, t, _ in SUMMARY_COLUMNS],
        rows=rows,
        text_columns=3,
        footnotes=footnotes,
    )
    return _section(
        "summary", "Summary", body, "Amounts in the quote currency (USDT). Column definitions below."
    )


def equity_chart(runs: Sequence[RunView]) -> str:
    """Equity (wallet + unrealised PnL at mark) per config over time."""
    fig = _line_chart(all_configs(runs), lambda s: s["equity"], "equity (USDT)")
    return _section("equity", "Equity", figure_html(fig), "Equity = wallet balance + unrealised PnL at mark.")


def mur_chart(runs: Sequence[RunView]) -> str:
    """MUR path in percent with the 70% and 80% lines and the danger zone between them shaded."""

    def mur_percent(series: pd.DataFrame) -> pd.Series:
        return (metrics.mur_path(series) * 100).replace([np.inf, -np.inf], np.nan)

    configs = all_configs(runs)
    fig = _line_chart(configs, mur_percent, "MUR (IM / equity, %)")
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
        (float(np.nanmax(v)) for v in (mur_percent(c.bars.series) for c in configs) if np.isfinite(v).any()),
        default=0.0,
    )
    fig.update_yaxes(range=[0, min(max(100.0, peak * 1.05), MUR_AXIS_CAP)])
    note = (
        "MUR = IM / equity. The band between 70% and 80% is the danger zone. "
        "Gaps mark bars where equity was zero or below (MUR infinite). "
        f"The axis stops at {MUR_AXIS_CAP:.0f}%; zoom out or see Max MUR in the summary for higher peaks."
    )
    return _section("mur", "Margin utilisation (MUR)", figure_html(fig), note)


def rom_chart(runs: Sequence[RunView]) -> str:
    """ROM path in percent: net PnL so far / average IM so far."""
    fig = _line_chart(all_configs(runs), lambda s: metrics.rom_path(s) * 100, "ROM (%)")
    fig.add_hline(y=0, line={"color": "#9aa5b1", "width": 1})
    return _section(
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
    fig = _line_chart(configs, distance, "multiple of the stress move")
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
    return _section("shock", "Distance to liquidation under the stress move", figure_html(fig), note)


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
    return _section("prices", "Prices and liquidations", body, note)


def margin_by_regime(runs: Sequence[RunView]) -> str:
    """Mean and max IM per run x config, to compare what each margin regime asks for the same book."""
    configs = all_configs(runs)
    names = [f"{view.name} ({run.regime_name})" for run in runs for view in run.configs]
    fig = base_figure("initial margin (USDT)")
    fig.update_layout(barmode="group", hovermode="closest", xaxis_title="")
    for stat, colour in (("mean", "#84caff"), ("max", "#1570ef")):
        fig.add_bar(
            x=names,
            y=[view.bars.series["im"].agg(stat) for view in configs],
            name=f"{stat} IM",
            marker_color=colour,
        )
    regimes = list(dict.fromkeys(run.regime_name for run in runs))
    note = (
        f"Regimes compared: {', '.join(regimes)}."
        if len(regimes) > 1
        else f"Only one regime ran ({regimes[0]}); pass runs of several regimes to compare them."
    )
    return _section("margin-by-regime", "Margin by regime", figure_html(fig), note)


def _returns(view: ConfigView) -> pd.Series:
    """Per-bar returns of equity net of new deposits: (equity_t - equity_t-1 - deposited_t) / equity_t-1.

    A bar cannot lose more than all equity (-100%; the rest is bankruptcy loss); bars after equity
    reached 0 or below have no return (NaN).
    """
    series = view.bars.series
    equity, deposits = series["equity"].astype(float), series["deposits"].astype(float)
    previous = equity.shift(1).fillna(deposits.iloc[0])
    flows = deposits.diff().fillna(0.0)
    returns = ((equity - previous - flows) / previous).where(previous > 0).clip(lower=-1.0)
    return pd.Series(returns.to_numpy(), index=pd.DatetimeIndex(_naive(series["time"])), name=view.name)


RETURN_STATS: tuple[tuple[str, Callable, Callable[[float], str]], ...] = (
    ("Total return", lambda acc: acc.total(), percent),
    ("Annualised return", lambda acc: acc.annualized(), percent),
    ("Annualised volatility", lambda acc: acc.annualized_volatility(), percent),
    ("Sharpe", lambda acc: acc.sharpe_ratio(), ratio),
    ("Sortino", lambda acc: acc.sortino_ratio(), ratio),
    ("Max drawdown", lambda acc: acc.max_drawdown(), percent),
    ("Calmar", lambda acc: acc.calmar_ratio(), ratio),
)


def return_stats(runs: Sequence[RunView]) -> str:
    """Standard return statistics of equity per config, from vectorbt's returns accessor."""
    import vectorbt  # noqa: F401  (registers the .vbt accessor; slow to import, so only when needed)

    rows = []
    for run in runs:
        for view in run.configs:
            if math.isfinite(run.bar_seconds):
                acc = _returns(view).vbt.returns(freq=pd.Timedelta(seconds=run.bar_seconds), year_freq=YEAR)
                cells = [fmt(float(stat(acc))) for _, stat, fmt in RETURN_STATS]
            else:
                cells = ["n/a"] * len(RETURN_STATS)
            rows.append([run.name, view.label, *cells])
    body = render(
        "table.j2",
        columns=["Run", "Config"] + [name for name, _, _ in RETURN_STATS],
        rows=rows,
        text_columns=2,
        footnotes=[],
    )
    note = (
        "Per-bar returns of equity net of deposits; computed by vectorbt's returns accessor "
        "(risk-free rate 0, a year of 365 days)."
    )
    return _section("return-stats", "Return statistics", body, note)


def definitions(runs: Sequence[RunView]) -> str:
    """The words this report uses, in plain language."""
    return _section("definitions", "Definitions", render("definitions.j2"))


SECTIONS: tuple[Section, ...] = (
    header,
    summary_table,
    equity_chart,
    mur_chart,
    rom_chart,
    shock_distance_chart,
    price_chart,
    margin_by_regime,
    return_stats,
    definitions,
)
