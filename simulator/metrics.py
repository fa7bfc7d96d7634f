"""pmsim's own run metrics: small named functions over one config's bars, in a read-only registry.

Each metric takes a :class:`ConfigBars` (one config's rows of ``series.parquet``, in time order, its
events and the bar length) and returns one value. The first paragraph of each docstring is the
definition the report prints, so change both together. Standard return statistics (Sharpe, drawdown)
are not here: reports take them from vectorbt's returns accessor.

Three rules keep the numbers rankable:
- **one MUR and one buffer**: :func:`mur_of` and :func:`buffer_of` are the only definitions; the engine
  records them in ``series.parquet`` and the paths and the report use the same two functions;
- **ruin**: a book whose equity falls to ``RUIN_FLOOR`` of its deposits or below can no longer margin a
  position worth the name. Path metrics stop at the ruin bar and return metrics count the ruin as a
  total loss, so a ruined book never looks better than -100 %;
- **ROM over committed margin**: net PnL over the mean IM of the bars that held margin, flagged when the
  book was in the market on fewer than ``ROM_MIN_IN_MARKET`` of its bars or its time-average IM was
  below ``ROM_MIN_MARGIN`` of its deposits; ROE (net PnL / deposits) sits beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType

import numpy as np
import pandas as pd

SECONDS_PER_YEAR = 365 * 24 * 3600.0  # crypto trades every day; same year as vectorbt's "365 days"
MUR_DANGER_LOW = 0.70
MUR_DANGER_HIGH = 0.80
RUIN_FLOOR = 0.01  # equity <= 1 % of deposits: ruined
ROM_MIN_IN_MARKET = 0.10  # ROM flagged below 10 % of bars with margin held
ROM_MIN_MARGIN = 0.01  # ... or a time-average IM below 1 % of deposits
DECISION_KINDS = ("cut", "rejection", "stage", "stop")  # events that change what a book may hold
THRESHOLDS: Mapping[str, float] = MappingProxyType(
    {
        "ruin_floor": RUIN_FLOOR,
        "rom_min_in_market": ROM_MIN_IN_MARKET,
        "rom_min_margin": ROM_MIN_MARGIN,
        "mur_danger_low": MUR_DANGER_LOW,
        "mur_danger_high": MUR_DANGER_HIGH,
    }
)
"""The stated thresholds, echoed into ``summary.json`` and printed on the report."""


# ------------------------------------------------------------------------------- the two ratios


def mur_of(im: np.ndarray, equity: np.ndarray) -> np.ndarray:
    """MUR (margin utilisation ratio) = IM / equity: 0 where no IM is used; +inf where IM > 0 but
    equity <= 0 (margin that no equity backs). Never NaN for finite inputs."""
    im, equity = np.asarray(im, dtype=float), np.asarray(equity, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(im > 0, np.where(equity > 0, im / equity, np.inf), 0.0)


def buffer_of(equity: np.ndarray, mm: np.ndarray) -> np.ndarray:
    """Buffer = equity / MM: how many times over equity covers maintenance; +inf where MM = 0
    (nothing to maintain, nothing can be liquidated). Below 1 the book is liquidated."""
    equity, mm = np.asarray(equity, dtype=float), np.asarray(mm, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mm > 0, equity / mm, np.inf)


# ------------------------------------------------------------------------------------ one config


def ruin_bar(series: pd.DataFrame) -> int | None:
    """Position of the first bar whose equity is at or below ``RUIN_FLOOR`` x deposits (None: never)."""
    equity = series["equity"].to_numpy(dtype=float)
    hit = np.flatnonzero(equity <= RUIN_FLOOR * series["deposits"].to_numpy(dtype=float))
    return int(hit[0]) if hit.size else None


def stop_at_ruin(values: pd.Series, series: pd.DataFrame) -> pd.Series:
    """``values`` (indexed like ``series``, positions 0..n-1) with NaN after the ruin bar: dead books stop."""
    ruin = ruin_bar(series)
    return values if ruin is None else values.where(values.index <= ruin)


@dataclass(frozen=True)
class ConfigBars:
    """One config of a run.

    series: its rows of ``series.parquet`` sorted by time (index 0..n-1); events: its rows of
    ``events.parquet``; bar_seconds: the bar length in seconds.
    """

    series: pd.DataFrame
    events: pd.DataFrame
    bar_seconds: float

    @cached_property
    def ruin(self) -> int | None:
        """Position of the ruin bar, or None."""
        return ruin_bar(self.series)

    @cached_property
    def lived(self) -> pd.DataFrame:
        """The bars up to and including the ruin bar (all bars if the book was never ruined)."""
        return self.series if self.ruin is None else self.series.iloc[: self.ruin + 1]

    @cached_property
    def lived_events(self) -> pd.DataFrame:
        """The events up to and including the ruin bar: a dead book's refused re-entries are not decisions."""
        if self.ruin is None:
            return self.events
        return self.events[self.events["time"] <= self.series["time"].iloc[self.ruin]]


Metric = Callable[[ConfigBars], object]


def _documented(text: str) -> Callable[[Metric], Metric]:
    """Give a metric a definition built from the thresholds (Python keeps no f-string docstrings)."""

    def attach(metric: Metric) -> Metric:
        metric.__doc__ = text
        return metric

    return attach


def mur_path(series: pd.DataFrame) -> pd.Series:
    """MUR per bar (see :func:`mur_of`)."""
    return pd.Series(mur_of(series["im"], series["equity"]), index=series.index, name="mur")


def buffer_path(series: pd.DataFrame) -> pd.Series:
    """Buffer per bar (see :func:`buffer_of`)."""
    return pd.Series(buffer_of(series["equity"], series["mm"]), index=series.index, name="buffer")


def _pnl_path(series: pd.DataFrame) -> np.ndarray:
    """Net PnL per bar (equity - deposits), the ruin bar a total loss (-deposits), NaN after it."""
    deposits = series["deposits"].to_numpy(dtype=float)
    pnl = series["equity"].to_numpy(dtype=float) - deposits
    ruin = ruin_bar(series)
    if ruin is not None:
        pnl[ruin] = -deposits[ruin]
        pnl[ruin + 1 :] = np.nan
    return pnl


def rom_path(series: pd.DataFrame) -> pd.Series:
    """ROM path: net PnL up to bar t / mean IM over the bars up to t that held margin (NaN before the
    first such bar and after a ruin)."""
    im = series["im"].to_numpy(dtype=float)
    held = np.cumsum(im > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rom = np.where(held > 0, _pnl_path(series) / (np.cumsum(im) / held), np.nan)
    return pd.Series(rom, index=series.index, name="rom")


def final_equity(bars: ConfigBars) -> float:
    """Final equity: equity (wallet + unrealised PnL at mark) at the last bar, as the account holds it."""
    return float(bars.series["equity"].iloc[-1])


def net_pnl(bars: ConfigBars) -> float:
    """Net PnL: final equity - deposits (after fees, funding and liquidation losses), as the account
    holds it at the last bar."""
    return final_equity(bars) - float(bars.series["deposits"].iloc[-1])


def _return_pnl(bars: ConfigBars) -> float:
    """Net PnL for return metrics: at the last bar, or -deposits (a total loss) if the book was ruined."""
    return float(_pnl_path(bars.lived)[-1])


def roe(bars: ConfigBars) -> float:
    """ROE (return on equity): net PnL / deposits (the starting wallet); a ruined book counts as a total
    loss, -100 %."""
    return _return_pnl(bars) / float(bars.series["deposits"].iloc[-1])


def in_market(bars: ConfigBars) -> float:
    """In market: share of bars (up to a ruin) on which the book held margin (IM > 0)."""
    return float((bars.lived["im"] > 0).mean())


def rom(bars: ConfigBars) -> float:
    """ROM (return on margin): net PnL / mean IM over the bars that held margin (IM > 0), up to a ruin;
    a ruined book's net PnL is a total loss. NaN if the book never held margin."""
    im = bars.lived["im"]
    held = im[im > 0]
    return _return_pnl(bars) / float(held.mean()) if len(held) else float("nan")


def rom_annualised(bars: ConfigBars) -> float:
    """Annualised ROM: ROM x (365 days / window length), the window ending at a ruin."""
    window_seconds = len(bars.lived) * bars.bar_seconds
    return rom(bars) * SECONDS_PER_YEAR / window_seconds


@_documented(
    f'ROM flag: why ROM should not be ranked ("" when it can): the book held margin on fewer than '
    f"{ROM_MIN_IN_MARKET:.0%} of its bars, or its time-average IM was below {ROM_MIN_MARGIN:.0%} of its "
    "deposits (ROM then rests on a sliver of exposure)."
)
def rom_flag(bars: ConfigBars) -> str:
    share = in_market(bars)
    if share == 0:
        return "never in the market"
    reasons = []
    if share < ROM_MIN_IN_MARKET:
        reasons.append(f"in the market on {share:.1%} of bars (< {ROM_MIN_IN_MARKET:.0%})")
    margin = float(bars.lived["im"].mean()) / float(bars.series["deposits"].iloc[-1])
    if margin < ROM_MIN_MARGIN:
        reasons.append(f"mean IM {margin:.2%} of deposits (< {ROM_MIN_MARGIN:.0%})")
    return "; ".join(reasons)


def max_mur(bars: ConfigBars) -> float:
    """Max MUR: the largest IM / equity over the bars up to a ruin (+inf if IM was held with equity <= 0)."""
    return float(mur_path(bars.lived).max())


def min_buffer(bars: ConfigBars) -> float:
    """Min buffer: the smallest equity / MM over the bars up to a ruin (+inf if MM was always 0)."""
    return float(buffer_path(bars.lived).min())


@_documented(
    f"Ruined: equity fell to {RUIN_FLOOR:.0%} of deposits or below, by liquidation or by cuts; the book "
    "can no longer trade, its series stop at that bar and its return metrics count a total loss."
)
def ruined(bars: ConfigBars) -> bool:
    return bars.ruin is not None


def ruin_time(bars: ConfigBars) -> str | None:
    """Ruin time: the (UTC) time of the ruin bar, None if never ruined."""
    if bars.ruin is None:
        return None
    return pd.Timestamp(bars.series["time"].iloc[bars.ruin]).isoformat()


def _count(kind: str, meaning: str) -> Metric:
    def metric(bars: ConfigBars) -> int:
        return int((bars.lived_events["kind"] == kind).sum())

    return _documented(f"{meaning}: number of events of kind {kind!r}, up to a ruin.")(metric)


@_documented(
    "Liquidations: bars in which the book was liquidated (one account-wide liquidation of several legs, "
    "or of several isolated positions in one bar, counts once), up to a ruin."
)
def liquidations(bars: ConfigBars) -> int:
    events = bars.lived_events
    return int(events.loc[events["kind"] == "liquidation", "time"].nunique())


cuts = _count("cut", "Cuts (targets scaled down by an allocator rule or the fill-time IM check)")
rejections = _count("rejection", "Rejections (new risk refused whole)")
stage_changes = _count("stage", "Stage changes (staged deployment advanced or fell back)")
stops = _count("stop", "Stops (the drawdown stop closed the book)")


def bankruptcy_loss(bars: ConfigBars) -> float:
    """Bankruptcy loss: cumulative loss beyond the liquidated margin, at the last bar."""
    return float(bars.series["bankruptcy_loss"].iloc[-1])


def fees(bars: ConfigBars) -> float:
    """Fees: cumulative trading and liquidation-clearance fees paid, at the last bar."""
    return float(bars.series["fees"].iloc[-1])


def funding(bars: ConfigBars) -> float:
    """Funding: cumulative funding paid (negative = received), at the last bar."""
    return float(bars.series["funding"].iloc[-1])


def _bars_above(threshold: float) -> Metric:
    def metric(bars: ConfigBars) -> int:
        return int((mur_path(bars.lived) > threshold).sum())

    return _documented(
        f"Bars with MUR above {threshold:.0%}: count of bars (up to a ruin) with IM / equity > {threshold:g}."
    )(metric)


METRICS: Mapping[str, Metric] = MappingProxyType(
    {
        "final_equity": final_equity,
        "net_pnl": net_pnl,
        "roe": roe,
        "rom": rom,
        "rom_annualised": rom_annualised,
        "rom_flag": rom_flag,
        "in_market": in_market,
        "max_mur": max_mur,
        "min_buffer": min_buffer,
        "ruined": ruined,
        "ruin_time": ruin_time,
        "liquidations": liquidations,
        "cuts": cuts,
        "rejections": rejections,
        "stage_changes": stage_changes,
        "stops": stops,
        "bankruptcy_loss": bankruptcy_loss,
        "fees": fees,
        "funding": funding,
        "bars_above_mur_70": _bars_above(MUR_DANGER_LOW),
        "bars_above_mur_80": _bars_above(MUR_DANGER_HIGH),
    }
)
"""Read-only registry: metric name -> function of :class:`ConfigBars`, in summary-column order."""


def decisions(bars: ConfigBars) -> dict[str, dict[str, int]]:
    """Allocator and fill-check decisions (up to a ruin) by kind, then by the rule the event's note names."""
    rows = bars.lived_events[bars.lived_events["kind"].isin(DECISION_KINDS)]
    out: dict[str, dict[str, int]] = {}
    for (kind, note), group in rows.groupby(["kind", "note"], sort=True):
        out.setdefault(str(kind), {})[str(note) or "(no rule named)"] = len(group)
    return out


def definition(metric: str | Callable[..., object]) -> str:
    """The printed definition of a metric (registry name or function): its docstring's first paragraph."""
    doc = (METRICS[metric] if isinstance(metric, str) else metric).__doc__ or ""
    return " ".join(doc.split("\n\n")[0].split())


def split_configs(series: pd.DataFrame, events: pd.DataFrame, bar_seconds: float) -> dict[int, ConfigBars]:
    """Split a run's series and events by ``config`` (ascending), each series sorted by time."""
    return {
        int(config): ConfigBars(
            series=rows.sort_values("time", kind="stable").reset_index(drop=True),
            events=events[events["config"] == config],
            bar_seconds=bar_seconds,
        )
        for config, rows in series.groupby("config", sort=True)
    }


def summarise(series: pd.DataFrame, events: pd.DataFrame, bar_seconds: float) -> list[dict]:
    """Every metric for every config.

    Parameters
    ----------
    series: rows of ``series.parquet`` (all configs); events: rows of ``events.parquet``;
    bar_seconds: bar length in seconds (for the annualised ROM).

    Returns
    -------
    One dict per config in ascending order: ``{"config": int, <metric name>: value, ...,
    "decisions": {kind: {rule: count}}}``, plus ``"sleeves"`` (``sleeve_summary``) for runs with several.
    """
    return [
        {
            "config": config,
            **{name: metric(bars) for name, metric in METRICS.items()},
            "decisions": decisions(bars),
            **({"sleeves": sleeve_summary(bars.lived)} if "@" in "".join(bars.series.columns) else {}),
        }
        for config, bars in split_configs(series, events, bar_seconds).items()
    ]


def sleeve_summary(series: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per sleeve of one config (up to a ruin): final ``pnl``, ``fees``, ``funding`` and mean / max ``im``.

    The sleeves' ``pnl`` sums to the account's equity - deposits (``simulator.engine.sleeves``).
    """
    last = series.iloc[-1]
    names = [c.split("@", 1)[1] for c in series.columns if c.startswith("pnl@")]
    return {
        name: {
            "pnl": float(last[f"pnl@{name}"]),
            "fees": float(last[f"fees@{name}"]),
            "funding": float(last[f"funding@{name}"]),
            "im_mean": float(series[f"im@{name}"].mean()),
            "im_max": float(series[f"im@{name}"].max()),
        }
        for name in names
    }
