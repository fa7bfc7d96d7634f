"""Row sums in numpy's own orders, so compiled code rounds like the reference it ports.

``x.sum()`` is pairwise (eight accumulators from eight elements up); ``np.einsum('sn,sn->s')`` adds
two lanes. A sum in another order can differ in the last bit, enough to move a book across a
liquidation boundary.
"""

from __future__ import annotations

import numpy as np
from pmsim.simulator.kernel.jit import borrowing

jit = borrowing(error_model="numpy")


@jit
def npsum(x: np.ndarray) -> float:
    """``x.sum()`` in numpy's order: pairwise, eight accumulators from eight elements up."""
    n = x.shape[0]
    if n < 8:
        acc = 0.0
        for i in range(n):
            acc += x[i]
        return acc
    r0, r1, r2, r3, r4, r5, r6, r7 = x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]
    i = 8
    while i < n - n % 8:
        r0 += x[i]
        r1 += x[i + 1]
        r2 += x[i + 2]
        r3 += x[i + 3]
        r4 += x[i + 4]
        r5 += x[i + 5]
        r6 += x[i + 6]
        r7 += x[i + 7]
        i += 8
    acc = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        acc += x[i]
        i += 1
    return acc


@jit
def einsum_sum(x) -> float:
    """A row sum in ``np.einsum``'s order: two lanes, an odd last element into the first.

    Measured to match einsum bit for bit for rows shorter than 8; longer rows agree to rounding.
    """
    n = x.shape[0]
    a0, a1 = 0.0, 0.0
    i = 0
    while i + 2 <= n:
        a0 += x[i]
        a1 += x[i + 1]
        i += 2
    if i < n:
        a0 += x[i]
    return a0 + a1
