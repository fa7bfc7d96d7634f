"""Small numeric helpers shared by the hot paths."""

from __future__ import annotations

import numpy as np


def zero_nan(values: np.ndarray | float) -> np.ndarray:
    """``values`` with NaN replaced by 0 (a price of an unlisted instrument, held in zero quantity).

    Unlike ``np.nan_to_num`` it leaves infinities alone and costs a fraction of its call overhead,
    which matters when it runs several times per bar.
    """
    values = np.asarray(values, dtype=float)
    return np.where(np.isnan(values), 0.0, values)


def rows_at(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a[..., N] @ b[N, K]`` computed row by row in a fixed order.

    BLAS picks kernels by matrix shape, so ``a @ b`` can differ in the last bit between a batch of S
    books and the same book alone; ``einsum`` without path optimisation sums each row the same way
    whatever S is, which keeps a batched run bit-identical to separate runs (about 3x slower than
    BLAS at S = 4096, N = 6, K = 40: measured 0.6 ms against 0.18 ms).
    """
    return np.einsum("...n,nk->...k", a, b)
