"""Where a basis book's net PnL came from: basis captured, funding, fees and roll cost.

Read from a run folder's series and events only (never the engine):

* **roll trades** are the fills that carry out a ``roll`` event (note ``... roll A -> B ...``): the same
  book's fills of contracts A and B at the first bar after the decision;
* **roll cost** = their taker fees + their slippage, ``qty x (fill price - price before slippage)`` with
  the price before slippage ``fill / (1 + slippage x sign(qty))`` (the engine's fill rule);
* **fees** = every other fee (entries, exits, liquidations);
* **funding** = funding received (negative: paid), part of the carry;
* **basis captured** = the legs' price PnL (realised + unrealised) at prices before roll slippage;
* **insurance** = the bankruptcy loss the insurance fund covered (0 for a sane book).

Costs are negative, so the parts sum to the net PnL (equity - deposits) exactly, by the wallet identity
``wallet = deposits + realised - fees - funding + bankruptcy_loss``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

PARTS = ("basis", "funding", "fees", "roll_cost", "insurance")
ROLL = re.compile(r"roll (\S+) -> (\S+)")


def roll_fills(events: pd.DataFrame) -> pd.DataFrame:
    """The fill rows that carry out each ``roll`` event (see the module docstring)."""
    fills = events[events["kind"] == "fill"]
    picked = []
    for row in events[events["kind"] == "roll"].itertuples():
        match = ROLL.search(str(row.note))
        if match is None:
            continue
        legs = fills[(fills["config"] == row.config) & fills["symbol"].isin(match.groups())]
        legs = legs[legs["time"] > row.time]
        if not legs.empty:
            picked.append(legs[legs["time"] == legs["time"].min()])
    return pd.concat(picked) if picked else fills.iloc[:0]


def basis_attribution(series: pd.DataFrame, events: pd.DataFrame, slippage: float) -> pd.DataFrame:
    """One row per config: ``net`` and the :data:`PARTS` that sum to it (USDT, at the last bar)."""
    last = series.sort_values("time", kind="stable").groupby("config").last()
    rolls = roll_fills(events)
    price = rolls["price"].to_numpy(dtype=float)
    qty = rolls["qty"].to_numpy(dtype=float)
    slip = qty * (price - price / (1.0 + slippage * np.sign(qty)))
    by_config = pd.DataFrame({"config": rolls["config"], "fee": rolls["amount"], "slip": slip})
    roll = by_config.groupby("config")[["fee", "slip"]].sum().reindex(last.index, fill_value=0.0)
    out = pd.DataFrame(index=last.index)
    out["net"] = last["equity"] - last["deposits"]
    out["basis"] = last["realised"] + last["upnl"] + roll["slip"]
    out["funding"] = -last["funding"]
    out["fees"] = -(last["fees"] - roll["fee"])
    out["roll_cost"] = -(roll["fee"] + roll["slip"])
    out["insurance"] = last["bankruptcy_loss"]
    return out
