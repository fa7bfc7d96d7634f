"""The basis section: each basis book's net PnL split into basis captured, funding, fees and roll cost."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup
from pmsim.reports.frames import RunView
from pmsim.reports.render import render, section_html
from pmsim.reports.text import money
from pmsim.simulator.attribution import PARTS, basis_attribution

TITLES = ("Basis captured", "Funding", "Fees", "Roll cost", "Insurance")
FOOTNOTES = (
    ("Basis captured", "price PnL of both legs (realised + unrealised), before the slippage of roll trades"),
    ("Funding", "funding received on the perp leg (negative: paid)"),
    ("Fees", "taker fees of every trade except the rolls (entries, exits, liquidations)"),
    ("Roll cost", "taker fees + slippage of the trades that carried out a roll event"),
    ("Insurance", "bankruptcy loss covered by the insurance fund"),
)


def holds_basis(run: RunView) -> bool:
    """A run whose strategy is ``basis``, or whose events record a roll."""
    strategy = run.folder.summary.get("strategy") or {}
    return strategy.get("name") == "basis" or bool((run.events["kind"] == "roll").any())


def basis_pnl(runs: Sequence[RunView]) -> str:
    """One row per basis book: net PnL and its parts, which sum to it."""
    rows = []
    for run in (r for r in runs if holds_basis(r)):
        slippage = float((run.folder.config.get("account") or {}).get("slippage", 0.0))
        labels = run.folder.labels
        split = basis_attribution(run.series, run.events, slippage)
        for config, parts in split.iterrows():
            label = labels[config] if 0 <= config < len(labels) else f"config {config}"
            rows.append([run.name, label, money(parts["net"]), *(money(parts[p]) for p in PARTS)])
    if not rows:
        return section_html(
            "basis-pnl", "Basis PnL", Markup("<p>No book in these runs holds a basis strategy.</p>")
        )
    body = render(
        "table.j2",
        columns=["Run", "Config", "Net PnL", *TITLES],
        rows=rows,
        text_columns=2,
        footnotes=FOOTNOTES,
    )
    note = (
        "Where the carry's PnL came from (USDT, whole book at the last bar); the parts sum to the net PnL. "
        "Roll trades are the fills of the two contracts a roll event names, on the bar after the decision."
    )
    return section_html("basis-pnl", "Basis PnL", body, note)
