"""CME SPAN's inter-commodity spread credit, for the ``span`` cross-underlying mode of portfolio margin.

Spreads are formed between underlyings with opposite net deltas; each spread earns
``credit_rate x weighted futures price risk`` on both legs, where the weighted futures price risk of
an underlying is its scan risk per unit of net delta (CME "SPAN Methodology Overview"; see
docs/margin-regimes.md). Pairs are taken in underlying order and consume the deltas they use.
"""

from __future__ import annotations

import numpy as np


def intercommodity_credit(scan: np.ndarray, delta: np.ndarray, credit_rate: float) -> np.ndarray:
    """Credit ``[S]`` from scan risks ``scan[S, U]`` and net deltas ``delta[S, U]`` (USDT notional).

    The loop runs over pairs of underlyings (one pair for BTC/ETH), never over books or positions.
    """
    size = np.abs(delta)
    with np.errstate(divide="ignore", invalid="ignore"):
        risk_per_delta = np.where(size > 0, scan / size, 0.0)
    remaining = size.copy()
    credit = np.zeros(scan.shape[:-1])
    n_underlyings = scan.shape[-1]
    for i in range(n_underlyings):
        for j in range(i + 1, n_underlyings):
            opposite = np.sign(delta[..., i]) * np.sign(delta[..., j]) < 0
            spread = np.where(opposite, np.minimum(remaining[..., i], remaining[..., j]), 0.0)
            credit += credit_rate * (risk_per_delta[..., i] + risk_per_delta[..., j]) * spread
            remaining[..., i] -= spread
            remaining[..., j] -= spread
    return credit
