"""The sweep report: a table of points (one row per point) drawn as the many-book report.

``pmsim sweep`` calls :func:`sweep_page` with its rows; nothing here reads a run folder. The header
states what every point shares (market, data notes, regime, preset and its assumptions, allocator rules)
from ``about``, a ``summary.json``-shaped description of the base config.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from pmsim.reports.html import check_report_target, render_page
from pmsim.reports.many import Results, many_sections
from pmsim.reports.render import render, section_html
from pmsim.reports.sections import definitions, regime_fields
from pmsim.reports.text import duration, note_lines, rule_lines
from pmsim.simulator.atomic import write_text
from pmsim.simulator.errors import RunError


def _when(value: object) -> str:
    if not value:
        return "?"
    time = pd.Timestamp(str(value))
    return (time.tz_localize("UTC") if time.tzinfo is None else time.tz_convert("UTC")).strftime(
        "%Y-%m-%d %H:%M"
    )


def about_section(about: Mapping[str, Any], name: str, points: int, axes: Sequence[str]) -> str:
    """The header card of a sweep: what every point shares, and the axes it varies."""
    market = dict(about.get("market") or {})
    regime = dict(about.get("regime") or {"name": "unknown"})
    bars = market.get("bars")
    span = (
        (pd.Timestamp(str(market["end"])) - pd.Timestamp(str(market["start"]))).total_seconds() / (bars - 1)
        if isinstance(bars, int) and bars > 1 and market.get("start") and market.get("end")
        else float("nan")
    )
    card = {
        "name": name,
        "source": str(market.get("source", "unknown market")),
        "symbols": [str(s) for s in market.get("symbols", [])],
        **regime_fields(regime, regime.get("preset")),
        "rules": rule_lines(about.get("allocator")),
        "notes": note_lines(market["notes"]) if "notes" in market else ["not given with this sweep's rows"],
        "start": _when(market.get("start")),
        "end": _when(market.get("end")),
        "bars": bars if bars is not None else "?",
        "bar": duration(span),
        "labels": [f"{points:,d} points over {', '.join(axes) or 'no axes'}"],
        "path": str(about.get("path", "")),
    }
    synthetic = "synthetic" in card["source"].lower()
    return section_html("what-ran", "What ran", render("header.j2", runs=[card], synthetic=synthetic))


def sweep_page(
    rows: pd.DataFrame,
    axes: Sequence[str],
    out: Path,
    *,
    top_series: Mapping[Hashable, pd.DataFrame] | None = None,
    rank_by: str = "roe",
    about: Mapping[str, Any] | None = None,
    title: str = "pmsim sweep",
    bar_seconds: float = float("nan"),
) -> Path:
    """Write the many-book report of a sweep to ``out`` (atomically; a pmsim report may be replaced).

    rows: one row per point, any unique index; the ``axes`` columns (its parameter values), metric
    columns named as ``simulator.metrics.METRICS`` (``roe``, ``max_mur``, ``min_buffer``, ``ruined``, ...;
    missing ones are left out) and optionally ``book`` (a label; else one is built from the axes).
    top_series: the bars of the top points, keyed by row index (columns ``time, equity, im, mm,
    deposits``; at most 10 are drawn, ranked by ``rank_by``). about: a ``summary.json``-shaped description
    of the base config (``market`` with source, symbols, start, end, bars, notes; ``regime``;
    ``allocator``) printed in the header. Raises RunError for an axis or ``rank_by`` the rows lack.
    """
    missing = [a for a in axes if a not in rows]
    if missing:
        raise RunError(f"sweep report: no column {missing[0]!r} in the rows; axes must be columns of them")
    if rank_by not in rows:
        raise RunError(f"sweep report: cannot rank by {rank_by!r}: the rows have no such column")
    check_report_target(Path(out))
    table = rows.copy()
    if "book" not in table:
        table["book"] = [
            " ".join(f"{a}={v}" for a, v in zip(axes, values, strict=True))
            for values in table[list(axes)].itertuples(index=False, name=None)
        ]
    results = Results(table, tuple(axes), dict(top_series or {}), rank_by, bar_seconds)
    fragments = [
        about_section(about or {}, title, len(table), axes),
        *many_sections(results),
        definitions([]),
    ]
    page = render_page(title, f"{len(table):,d} points over {', '.join(axes)}", fragments)
    return write_text(Path(out), page, check=check_report_target)
