"""``Result``: one run (kept in memory or read from its folder) as DataFrames, a report and charts.

Every number comes from the run folder's contents (``simulator.results.RunFolder``); nothing here
recomputes what the folder holds. Tables are indexed by ``book``, the books' labels (``summary.json``
``labels``; ``"{i}: {label}"`` when two books share a label), in the books' order.
"""

from __future__ import annotations

import html
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from pmsim.simulator.results import RunFolder


class Result:
    """The outcome of one run: ``series``, ``events``, ``summary``, ``config``, ``notes``, a report, charts.

    >>> import pmsim
    >>> book = {"market": {"bars": 200},
    ...         "strategy": {"name": "hold", "params": {"positions": {"BTCUSDT": 1.0}}}}
    >>> result = pmsim.run(book)
    >>> result.series.index.names
    FrozenList(['time', 'book'])
    >>> int(result.summary.loc["BTCUSDT +1", "liquidations"])
    0
    >>> result.path is None  # kept in memory: nothing written
    True
    """

    def __init__(self, folder: RunFolder, path: Path | None = None) -> None:
        self.folder = folder
        self.path = path
        """The run folder, or None for a run kept in memory."""

    def __repr__(self) -> str:
        where = "in memory" if self.path is None else str(self.path)
        return f"<pmsim.Result {self.name!r}: {len(self.books)} book(s), {self.bars} bars, {where}>"

    @property
    def name(self) -> str:
        """The config's name (the run folder's default name)."""
        return self.folder.name

    @property
    def config(self) -> dict[str, Any]:
        """The resolved config (``config.json``): every default filled in, plus its ``resolved`` block."""
        return self.folder.config

    @property
    def notes(self) -> list[str]:
        """The data caveats of the run (mark stand-ins, settlement proxies, gaps): ``market.notes``."""
        return list((self.folder.summary.get("market") or {}).get("notes") or [])

    @property
    def bars(self) -> int:
        return int((self.folder.summary.get("market") or {}).get("bars") or 0)

    @cached_property
    def books(self) -> list[str]:
        """The books' labels, in book order (the ``book`` index level of every table)."""
        labels = self.folder.labels
        if len(set(labels)) == len(labels):
            return labels
        return [f"{i}: {label}" for i, label in enumerate(labels)]

    def _with_book(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with its ``config`` column replaced by ``book`` (the label)."""
        books = dict(enumerate(self.books))
        out = frame.drop(columns="config")
        out.insert(1, "book", frame["config"].map(books))
        return out

    @cached_property
    def series(self) -> pd.DataFrame:
        """Per bar and book (index ``time, book``): equity, wallet, IM, MM, MUR, buffer, free capital,
        fees, funding, notional per instrument and, with sleeves, ``pnl@{sleeve}``, ``im@{sleeve}``, ...
        (``series.parquet``; see docs/run-folder.md)."""
        return self._with_book(self.folder.series).set_index(["time", "book"])

    @cached_property
    def events(self) -> pd.DataFrame:
        """One row per event (``events.parquet``), ``config`` replaced by ``book``."""
        return self._with_book(self.folder.events)

    @cached_property
    def prices(self) -> pd.DataFrame:
        """Mark close per instrument (``mark:{symbol}``) per bar, indexed by ``time``."""
        return self.folder.prices.set_index("time")

    @cached_property
    def summary(self) -> pd.DataFrame:
        """One row per book: every metric of ``summary.json`` and, with sleeves, ``pnl@{sleeve}``, ...

        ``summary.attrs["definitions"]`` (and :attr:`definitions`) say what each metric means.
        """
        import pandas as pd

        rows = []
        for entry in self.folder.summary.get("configs", []):
            row = {k: v for k, v in entry.items() if k not in ("config", "decisions", "sleeves")}
            for sleeve, values in (entry.get("sleeves") or {}).items():
                row.update({f"{key}@{sleeve}": value for key, value in values.items()})
            rows.append(row)
        table = pd.DataFrame(rows, index=pd.Index(self.books, name="book"))
        table.attrs["definitions"] = self.definitions.to_dict()
        return table

    @cached_property
    def definitions(self) -> pd.Series:
        """Metric name -> its definition (the text the report prints beside it)."""
        import pandas as pd

        from pmsim.simulator.metrics import METRICS, definition

        return pd.Series({name: definition(name) for name in METRICS}, name="definition")

    def report(self, path: str | Path, title: str | None = None) -> Path:
        """Write the run's HTML report to ``path``: the page ``pmsim run --report`` writes (title: the
        run's name). Like ``pmsim report``, it never replaces a file pmsim did not write."""
        from pmsim.reports.html import write_report

        return write_report([self.folder], Path(path), title or self.name)

    def plot(self, metric: str = "equity") -> go.Figure:
        """A plotly figure of one ``series`` column (or ``rom``) per book, each line stopping at a ruin.

        ``equity`` and ``mur`` are the report's own charts.
        """
        from pmsim.reports import sections
        from pmsim.reports.frames import RunView
        from pmsim.simulator.errors import ConfigError
        from pmsim.simulator.metrics import rom_path

        configs = RunView(self.folder).configs
        if metric == "equity":
            return sections.equity_figure(configs)
        if metric == "mur":
            return sections.mur_figure(configs)
        if metric == "rom":
            return sections.line_chart(configs, rom_path, "ROM")
        columns = [c for c in self.folder.series.columns if c not in ("time", "config")]
        if metric not in columns:
            raise ConfigError.unknown("series column", metric, [*columns, "rom"])
        return sections.line_chart(configs, lambda series: series[metric], metric)

    def _repr_html_(self) -> str:
        market = self.folder.summary.get("market") or {}
        regime = (self.folder.summary.get("regime") or {}).get("name", "?")
        head = (
            f"<p><b>{html.escape(self.name)}</b>: {html.escape(str(market.get('source', '')))}, "
            f"{html.escape(str(market.get('start', '')))} .. {html.escape(str(market.get('end', '')))} "
            f"({self.bars} bars), regime {html.escape(str(regime))}</p>"
        )
        table = self.summary.to_html(float_format=lambda v: f"{v:,.4g}", na_rep="-")
        notes = "".join(f"<li>{html.escape(note)}</li>" for note in self.notes)
        return head + table + (f"<p>Data notes:</p><ul>{notes}</ul>" if notes else "<p>No data notes.</p>")
