"""Jinja2 templates (autoescaped) and plotly figures rendered to HTML fragments.

Figures never carry plotly.js themselves: the page embeds it once (see ``html.py``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2
import plotly.graph_objects as go
from markupsafe import Markup

PLOT_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


@cache
def environment() -> jinja2.Environment:
    """The template environment: package templates, autoescape on, undefined names are errors."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("pmsim.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **context: Any) -> Markup:
    """Render ``templates/{template}`` with ``context``; the result is safe HTML."""
    return Markup(environment().get_template(template).render(**context))


def section_html(id_: str, heading: str, body: Markup, note: str = "") -> str:
    """One ``<section>`` of the page: heading, an optional note line, then ``body``."""
    return str(render("section.j2", id=id_, heading=heading, body=body, note=note))


def figure_html(fig: go.Figure) -> Markup:
    """A figure as a ``<div>`` plus its ``Plotly.newPlot`` script, without plotly.js."""
    return Markup(fig.to_html(full_html=False, include_plotlyjs=False, config=PLOT_CONFIG))


def base_figure(y_title: str, height: int = 380) -> go.Figure:
    """An empty time-axis figure in the report's house style."""
    fig = go.Figure()
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
        hovermode="x unified",
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 0},
        font={"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12},
        yaxis_title=y_title,
        xaxis_title="time (UTC)",
    )
    return fig
