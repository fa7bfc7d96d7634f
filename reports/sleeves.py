"""The per-sleeve attribution section: what each sleeve of an account made, paid and used.

Only runs with more than one sleeve have ``{column}@{sleeve}`` series columns (``simulator.results``);
otherwise the section says so in one line. PnL per sleeve is its realised + unrealised PnL - fees -
funding + its share of any bankruptcy loss, so the sleeves' PnL sums to the account's equity - deposits.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup
from pmsim.reports.frames import RunView
from pmsim.reports.render import base_figure, figure_html, render, section_html
from pmsim.reports.text import money

COLORS = ("#1570ef", "#f79009", "#12b76a", "#f04438", "#7a5af8")


def sleeves_of(columns: Sequence[str]) -> list[str]:
    """The sleeve names a series table has columns for (in their order)."""
    return [c.split("@", 1)[1] for c in columns if c.startswith("pnl@")]


def sleeve_attribution(runs: Sequence[RunView]) -> str:
    """Per run, config and sleeve: final PnL, fees, funding, mean and max IM, last budget; and a chart of
    each sleeve's PnL over time for the first config of each run."""
    rows, fig = [], base_figure("PnL per sleeve (USDT)")
    for run in runs:
        for i, view in enumerate(run.configs):
            series = view.bars.lived
            for k, sleeve in enumerate(sleeves_of(list(series.columns))):
                last = series.iloc[-1]
                rows.append(
                    [
                        run.name,
                        view.label,
                        sleeve,
                        money(last[f"pnl@{sleeve}"]),
                        money(last[f"fees@{sleeve}"]),
                        money(last[f"funding@{sleeve}"]),
                        money(series[f"im@{sleeve}"].mean()),
                        money(series[f"im@{sleeve}"].max()),
                        money(series[f"budget@{sleeve}"].ffill().iloc[-1]),
                    ]
                )
                if i == 0:
                    fig.add_scatter(
                        x=series["time"].dt.tz_convert(None),
                        y=series[f"pnl@{sleeve}"],
                        name=f"{run.name} · {sleeve}",
                        mode="lines",
                        line={"color": COLORS[k % len(COLORS)], "width": 1.6},
                    )
    if not rows:
        body = Markup("<p>Every run here has one sleeve: its PnL is the account's.</p>")
        return section_html("sleeves", "Sleeves", body)
    table = render(
        "table.j2",
        columns=["Run", "Config", "Sleeve", "PnL", "Fees", "Funding", "Mean IM", "Max IM", "Last budget"],
        rows=rows,
        text_columns=3,
        footnotes=[],
    )
    note = (
        "Each sleeve's PnL is its realised and unrealised PnL less its fees and funding (plus its share of "
        "any bankruptcy loss); the sleeves sum to the account. IM is the requirement of the sleeve's "
        "positions alone; the account's is less where sleeves offset. Orders of sleeves on opposite sides "
        "cross inside the account at the fill price, without fee."
    )
    return section_html("sleeves", "Sleeves", Markup(table) + figure_html(fig), note)
