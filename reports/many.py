"""The many-book report: one row per book, read as a table, heatmaps, a frontier and the top-k paths.

Above :data:`MANY_BOOKS` books a chart with a line per book is a hairball and its legend swamps it, so a
run folder with many books (or a sweep's table of points, see :mod:`reports.sweep`) is drawn from a
:class:`Results`: a frame with one row per book (its label, the axes it varies over and its metrics)
plus the bars of its top-k books only. Every chart keeps its legend to :data:`LEGEND_CAP` entries; the
table sorts and filters in the page (plain JS, offline); heatmap cells are computed here, in Python.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from markupsafe import Markup
from pmsim.reports.frames import ConfigView, RunView, with_utc_time
from pmsim.reports.render import figure_html, render, section_html
from pmsim.reports.sections import equity_figure, mur_figure
from pmsim.simulator import metrics
from pmsim.simulator.errors import RunError
from pmsim.simulator.metrics import ConfigBars

MANY_BOOKS = 12  # above this many books a report switches to the many-book sections
LEGEND_CAP = 12  # no chart of the many-book report names more than this many traces in its legend
TOP_K = 10  # full paths drawn for at most this many books
TABLE_LIMIT = 500  # rows drawn at once in the results table (sorting and filtering use them all)
MAX_LEVELS = 24  # an axis with more distinct values than this is cut into BINS equal-width bins
BINS = 12
AGGREGATES = ("mean", "max")


@dataclass(frozen=True)
class Column:
    """A metric column: its key in the rows, title, how to print it, and which way is better (+1 higher,
    -1 lower, 0 neither)."""

    key: str
    title: str
    kind: str
    better: int


METRIC_COLUMNS: tuple[Column, ...] = (
    Column("roe", "ROE", "percent", 1),
    Column("rom", "ROM", "percent", 1),
    Column("rom_annualised", "ROM ann.", "percent", 1),
    Column("ruined", "Ruined", "bool", -1),
    Column("max_mur", "Max MUR", "percent", -1),
    Column("min_buffer", "Min buffer", "times", 1),
    Column("liquidations", "Liquidations", "count", -1),
    Column("net_pnl", "Net PnL", "money", 1),
    Column("final_equity", "Final equity", "money", 1),
    Column("in_market", "In market", "percent", 0),
    Column("bars_above_mur_70", "Bars MUR > 70%", "count", -1),
    Column("bars_above_mur_80", "Bars MUR > 80%", "count", -1),
    Column("cuts", "Cuts", "count", 0),
    Column("rejections", "Rejections", "count", 0),
    Column("stops", "Stops", "count", 0),
    Column("fees", "Fees", "money", -1),
    Column("funding", "Funding", "money", -1),
)
BY_KEY = {column.key: column for column in METRIC_COLUMNS}
HEAT_METRICS = ("roe", "rom", "max_mur", "min_buffer", "ruined", "liquidations")


@dataclass(frozen=True)
class Results:
    """Many books as rows.

    rows: one row per book, indexed by a point id; a ``book`` column (its label), one column per axis and
    metric columns named as in :data:`simulator.metrics.METRICS` (missing ones are left out);
    axes: the columns the books vary over; series: the bars (``time, equity, im, mm, deposits``) of the
    top books by ``rank_by``, keyed by row index; bar_seconds: their bar length.
    """

    rows: pd.DataFrame
    axes: tuple[str, ...]
    series: Mapping[Hashable, pd.DataFrame]
    rank_by: str = "roe"
    bar_seconds: float = float("nan")

    @property
    def metrics(self) -> list[Column]:
        return [column for column in METRIC_COLUMNS if column.key in self.rows]


def is_many(runs: Sequence[RunView]) -> bool:
    """Whether ``runs`` hold more books than the few-book charts can draw legibly."""
    return (
        sum(len(run.folder.labels) or len(run.folder.summary.get("configs", [])) for run in runs) > MANY_BOOKS
    )


# ------------------------------------------------------------------------------------- the rows


def varying_axes(summary: Mapping[str, Any], books: int) -> dict[str, list]:
    """The parameters that differ across a run's ``books``: strategy lists (``window``), allocator rule
    parameters (``mur_cap.cap``) and regime parameters (``regime.leverage``) with one value per book;
    when these give fewer than two, also the ``key=value`` words of the book labels."""
    found: dict[str, list] = {}

    def visit(prefix: str, params: Mapping[str, Any]) -> None:
        for key, value in params.items():
            flat = isinstance(value, list | tuple) and all(not isinstance(v, list | dict) for v in value)
            if flat and len(value) == books > 1 and len({json.dumps(v) for v in value}) > 1:
                found[f"{prefix}{key}"] = list(value)

    visit("", summary.get("strategy") or {})
    rules = summary.get("allocator") or []
    for rule in rules if isinstance(rules, list) else [rules]:
        if isinstance(rule, dict):
            visit(f"{rule.get('rule', 'allocator')}.", rule)
    visit("regime.", summary.get("regime") or {})
    if len(found) < 2:  # a strategy that does not describe its books as lists: its labels' key=value words
        words = [dict(LABEL_WORD.findall(str(label))) for label in summary.get("labels") or []]
        if len(words) == books:
            for key in dict.fromkeys(k for w in words for k in w):
                values = [_number(w.get(key)) for w in words]
                if key not in found and None not in values and len(set(values)) > 1:
                    found[key] = values
    return found


LABEL_WORD = re.compile(r"([A-Za-z_][\w.]*)=([^\s,;]+)")


def _number(text: str | None) -> object:
    """A label's value as a number when it reads as one (``24``, ``0.5``), else the text."""
    if text is None:
        return None
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text


def rank(rows: pd.DataFrame, metric: str, k: int = TOP_K) -> list[Hashable]:
    """The index of the best ``k`` rows by ``metric`` (higher first unless lower is better; NaN last,
    ties in row order)."""
    if metric not in rows:
        raise RunError(f"cannot rank by {metric!r}: the rows have no such column")
    values = pd.to_numeric(rows[metric], errors="coerce").astype(float)
    key = values if BY_KEY.get(metric, Column(metric, metric, "number", 1)).better < 0 else -values
    return list(key.sort_values(kind="stable", na_position="last").index[: min(k, TOP_K)])


def results_of_runs(runs: Sequence[RunView], rank_by: str = "roe") -> Results:
    """One row per run x book from each ``summary.json`` (its metrics and varying parameters); the bars
    of the top books only."""
    frames, bar, axes = [], [], {}
    for r, run in enumerate(runs):
        summary = run.folder.summary
        labels = run.folder.labels
        stats = pd.DataFrame(summary.get("configs") or [])
        if stats.empty:
            raise RunError(f"{run.folder.path}: summary.json holds no per-book metrics; run it again")
        frame = stats.drop(columns=["decisions"], errors="ignore").assign(
            _run=r,
            run=run.name,
            book=[labels[c] if c < len(labels) else f"config {c}" for c in stats["config"]],
        )
        for axis, values in varying_axes(summary, len(stats)).items():
            frame[axis] = [values[c] for c in stats["config"]]
            axes[axis] = None
        frames.append(frame)
        bar.append(run.bar_seconds)
    rows = pd.concat(frames, ignore_index=True)
    if len(runs) > 1:
        rows["book"] = rows["run"] + " · " + rows["book"]
    series = {}
    for key in rank(rows, rank_by):
        folder, config = runs[int(rows.at[key, "_run"])].folder, int(rows.at[key, "config"])
        series[key] = folder.series[folder.series["config"] == config]
    return Results(rows, tuple(axes), series, rank_by, float(np.nanmedian(bar)))


# ------------------------------------------------------------------------------------ heatmaps


def axis_levels(values: pd.Series) -> pd.Categorical:
    """An axis as ordered categories: its distinct values, or equal-width bins when there are too many."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all() and numeric.nunique() > MAX_LEVELS:
        return pd.cut(numeric, BINS, precision=3).array
    if numeric.notna().all():
        order = sorted(numeric.unique())
        return pd.Categorical(numeric.map(_level), categories=[_level(v) for v in order], ordered=True)
    text = values.astype(str)
    return pd.Categorical(text, categories=sorted(text.unique()), ordered=True)


def _level(value: float) -> str:
    return f"{value:g}"


def heatmap_cells(
    rows: pd.DataFrame, x: str, y: str, metric: str, agg: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``agg`` (mean or max) of ``metric`` over the rows in each (y, x) cell, and each cell's row count.

    Infinite values (a max MUR with no equity behind it, a min buffer with nothing to maintain) are left
    out of the cell's value but counted; a boolean metric (ruined) averages to the share of rows.
    """
    values = pd.to_numeric(rows[metric], errors="coerce").astype(float).replace([np.inf, -np.inf], np.nan)
    frame = pd.DataFrame({"x": axis_levels(rows[x]), "y": axis_levels(rows[y]), "v": values.to_numpy()})
    groups = frame.groupby(["y", "x"], observed=True)["v"]
    z = groups.agg(agg).unstack("x")
    n = groups.size().unstack("x").reindex_like(z).fillna(0).astype(int)
    return z, n


def _grids(res: Results) -> dict[str, dict]:
    grids = {}
    axes = res.axes[:8]
    for i, x in enumerate(axes):
        for y in axes[i + 1 :]:
            for metric in (m for m in HEAT_METRICS if m in res.rows):
                for agg in AGGREGATES:
                    z, n = heatmap_cells(res.rows, x, y, metric, agg)
                    grids[f"{x}|{y}|{metric}|{agg}"] = {
                        "x": [str(c) for c in z.columns],
                        "y": [str(i) for i in z.index],
                        "z": z.to_numpy(dtype=float).tolist(),
                        "n": n.to_numpy().tolist(),
                    }
                    grids[f"{y}|{x}|{metric}|{agg}"] = {
                        "x": grids[f"{x}|{y}|{metric}|{agg}"]["y"],
                        "y": grids[f"{x}|{y}|{metric}|{agg}"]["x"],
                        "z": z.T.to_numpy(dtype=float).tolist(),
                        "n": n.T.to_numpy().tolist(),
                    }
    return grids


# ------------------------------------------------------------------------------ page fragments


def _compact(value: Any) -> Any:
    """JSON-ready and short: floats to 6 significant digits, NaN as null, infinities as "inf"/"-inf"."""
    if isinstance(value, dict):
        return {str(k): _compact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_compact(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return float(f"{value:.6g}")
    return value


def json_block(id_: str, value: Any) -> Markup:
    """``value`` as a ``<script type="application/json">`` block that no string in it can close."""
    text = json.dumps(_compact(value), allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup('<script type="application/json" id="{}">').format(id_) + Markup(text) + Markup("</script>")


def _cell(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def results_table(res: Results) -> str:
    """Every book with its axes and metrics: sortable (click a header) and filterable in the page."""
    kinds = {a: "number" if pd.api.types.is_numeric_dtype(res.rows[a]) else "text" for a in res.axes}
    columns = [{"key": "book", "title": "Book", "kind": "text"}]
    columns += [{"key": a, "title": a, "kind": kinds[a]} for a in res.axes]
    columns += [
        {"key": c.key, "title": c.title, "kind": c.kind, "help": metrics.definition(c.key)}
        for c in res.metrics
    ]
    if "rom_flag" in res.rows:
        columns.append(
            {"key": "rom_flag", "title": "ROM flag", "kind": "text", "help": metrics.definition("rom_flag")}
        )
    keys = [c["key"] for c in columns]
    table = res.rows[keys].astype(object).where(res.rows[keys].notna(), None)
    rows = [[_cell(v) for v in row] for row in table.itertuples(index=False, name=None)]
    data = {"columns": columns, "rows": rows, "limit": TABLE_LIMIT}
    body = Markup(
        '<div class="results" data-source="results-data">'
        '<p><label>Filter <input class="filter" type="search" size="48" '
        'placeholder="roe>0  max_mur<=70%  window=48  or any text"></label> <span class="status"></span></p>'
        '<div class="table-wrap"></div><noscript>The results table needs JavaScript.</noscript></div>'
    ) + json_block("results-data", data)
    note = (
        f"{len(rows):,d} books. Click a header to sort (again to reverse); filter by words, or by "
        "column comparisons such as roe>0, max_mur<=70% or window=48 (all must hold). Hover a metric's "
        "header for its definition. A ruined book counts as a total loss in ROE and ROM."
    )
    return section_html("results", "Results", body, note)


def _options(name: str, values: Sequence[tuple[str, str]], chosen: str) -> Markup:
    options = Markup("").join(
        Markup('<option value="{}"{}>{}</option>').format(v, Markup(" selected") if v == chosen else "", t)
        for v, t in values
    )
    return Markup('<select name="{}">{}</select>').format(name, options)


def heatmaps(res: Results) -> str:
    """A metric (mean or max per cell) over any two axes, picked in the page from grids computed here."""
    if len(res.axes) < 2:
        said = ", ".join(res.axes) or "nothing"
        body = Markup("<p>Heatmaps need two parameters that vary; these books vary over {}.</p>").format(said)
        return section_html("heatmaps", "Heatmaps", body)
    axes = res.axes[:8]
    heat = [c for c in res.metrics if c.key in HEAT_METRICS]
    data = {
        "grids": _grids(res),
        "metrics": {c.key: {"title": c.title, "kind": c.kind, "better": c.better} for c in heat},
    }
    pickers = Markup(" ").join(
        Markup("<label>{} {}</label>").format(label, select)
        for label, select in (
            ("x", _options("x", [(a, a) for a in axes], axes[0])),
            ("y", _options("y", [(a, a) for a in axes], axes[1])),
            ("metric", _options("metric", [(c.key, c.title) for c in heat], heat[0].key)),
            ("cell", _options("agg", [(a, a) for a in AGGREGATES], AGGREGATES[0])),
        )
    )
    body = Markup(
        '<div class="heatmap" data-source="heatmap-data">'
        '<p class="pickers">{} <span class="status"></span></p>'
        '<div class="plotly-graph-div" style="height:460px"></div></div>'
    ).format(pickers) + json_block("heatmap-data", data)
    binned = [a for a in axes if res.rows[a].nunique() > MAX_LEVELS]
    note = (
        "Each cell is the mean (or max) of the metric over the books at that pair of axis values; hover a "
        "cell for its value and how many books it holds. A ruined book counts -100 % in ROE and ROM; "
        "ruined averages to the share of books ruined; infinite values (max MUR with no equity, min "
        "buffer with nothing to maintain) are left out of a cell."
        + (f" Cut into {BINS} equal bins: {', '.join(binned)}." if binned else "")
        + (f" Only the first 8 of {len(res.axes)} axes are offered." if len(res.axes) > 8 else "")
    )
    return section_html("heatmaps", "Heatmaps", body, note)


def frontier_figure(res: Results) -> go.Figure:
    """ROE against max MUR (or, by a button, min buffer): survivors and ruined books as two legend
    entries. One panel is drawn at a time; thousands of points in two SVG panels load twice as slowly."""
    rows = res.rows
    roe = pd.to_numeric(rows["roe"], errors="coerce").astype(float) * 100
    ruined = rows["ruined"].fillna(False).astype(bool) if "ruined" in rows else pd.Series(False, rows.index)
    panels = [
        (k, t, s)
        for k, t, s in (("max_mur", "max MUR (%)", 100.0), ("min_buffer", "min buffer (×)", 1.0))
        if k in rows
    ]
    fig = go.Figure()
    for p, (key, title, scale) in enumerate(panels):
        x = pd.to_numeric(rows[key], errors="coerce").astype(float) * scale
        for dead, name, marker in (
            (False, "survived", {"symbol": "circle", "size": 6, "color": "#2f6fba", "opacity": 0.6}),
            (True, "ruined", {"symbol": "x", "size": 8, "color": "#d92d20"}),
        ):
            keep = (ruined == dead) & np.isfinite(x) & np.isfinite(roe)
            fig.add_scatter(
                x=x[keep].to_numpy(dtype=np.float32),
                y=roe[keep].to_numpy(dtype=np.float32),
                text=rows.loc[keep, "book"].astype(str).tolist(),
                mode="markers",
                name=name,
                visible=p == 0,
                marker=marker,
                hovertemplate="%{text}<br>ROE %{y:.2f}%<br>" + title + " %{x:.3g}<extra></extra>",
            )
    buttons = [
        {
            "label": f"ROE vs {title.split(' (')[0]}",
            "method": "update",
            "args": [
                {"visible": [q == p for q in range(len(panels)) for _ in range(2)]},
                {"xaxis.title.text": title},
            ],
        }
        for p, (_, title, _) in enumerate(panels)
    ]
    fig.update_layout(
        template="plotly_white",
        height=440,
        hovermode="closest",
        margin={"l": 60, "r": 20, "t": 70, "b": 50},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        xaxis_title=panels[0][1] if panels else "",
        yaxis_title="ROE (%)",
        updatemenus=[
            {
                "type": "buttons",
                "direction": "right",
                "x": 1,
                "xanchor": "right",
                "y": 1.2,
                "buttons": buttons,
            }
        ],
    )
    return fig


def frontier(res: Results) -> str:
    """The risk-return frontier: what each book earned (ROE) for the margin it used (max MUR, min buffer)."""
    if "roe" not in res.rows:
        return section_html("frontier", "Frontier", Markup("<p>No ROE in these rows.</p>"))
    hidden = {
        key: int((~np.isfinite(pd.to_numeric(res.rows[key], errors="coerce").astype(float))).sum())
        for key in ("max_mur", "min_buffer")
        if key in res.rows
    }
    note = (
        "One point per book; ruined books are marked × in red (their ROE is -100 %). The buttons switch "
        "between max MUR (up and to the left is better: more return for less margin) and min buffer (up "
        "and to the right is better). Left out where the value is infinite or undefined: "
        + ", ".join(f"{key} {n}" for key, n in hidden.items())
        + "."
    )
    return section_html(
        "frontier", "Frontier: ROE against margin used", figure_html(frontier_figure(res)), note
    )


def top_views(res: Results) -> list[ConfigView]:
    """The top books' bars as :class:`ConfigView` objects, best first, named by rank and label."""
    views = []
    for place, key in enumerate(k for k in rank(res.rows, res.rank_by) if k in res.series):
        bars = with_utc_time(res.series[key]).sort_values("time", kind="stable").reset_index(drop=True)
        label = str(res.rows.at[key, "book"]) if "book" in res.rows else str(key)
        views.append(
            ConfigView(f"#{place + 1}", label, ConfigBars(bars, pd.DataFrame({"kind": []}), res.bar_seconds))
        )
    return views


def top_paths(res: Results) -> str:
    """Equity and MUR of the top-k books by the stated metric (the only books drawn as lines)."""
    views = top_views(res)
    title = BY_KEY[res.rank_by].title if res.rank_by in BY_KEY else res.rank_by
    heading = f"Top {len(views)} books by {title}: equity and MUR"
    if not views:
        body = Markup("<p>No full series were kept for the top books.</p>")
        return section_html("top-paths", heading, body)
    equity = equity_figure(views)
    equity.for_each_trace(lambda trace: trace.update(showlegend=False), selector={"mode": "markers+text"})
    body = figure_html(equity) + figure_html(mur_figure(views))
    note = (
        f"Only the best {len(views)} of {len(res.rows):,d} books by {title} are drawn as lines (#1 is the "
        "best); every book is in the results table and on the frontier. A ruined book's line stops at "
        "its ruin. MUR = IM / equity; 70-80 % is the danger zone."
    )
    return section_html("top-paths", heading, body, note)


def many_sections(res: Results) -> list[str]:
    """The many-book sections in page order, ending with the script that drives the table and heatmaps."""
    return [results_table(res), frontier(res), heatmaps(res), top_paths(res), str(render("many_script.j2"))]
