"""The kernels' numba decorator: compiled without reference counting, so a call costs a plain call.

numba counts references to every array a function receives (NRT): entering a function that takes a
NamedTuple of arrays increments and leaving it decrements each array's count, with atomic operations
on counts shared by every book on every core. Through the 33 margin tables that was ~160 ns a call,
measured against ~22 ns without it, and the bar loop calls the margin ~10 times per bar. A function
made by ``borrowing`` only reads and writes the arrays it is given (the caller keeps them alive) and
returns scalars; numba refuses to compile an allocation in it, so that rule cannot be broken silently.
``run_book``, which allocates each book's state, keeps numba's default.

The other cost of a call is its arguments: numba passes a NamedTuple array by array, word by word
(~300 words for the margin tables, ~180 for the market). So the bar loop's steps and the margin
dispatch are inlined (``inline="always"``, numba IR) and the rows behind it take only their slot's arrays.
"""

from __future__ import annotations

from collections.abc import Callable

import numba


def borrowing(**options: object) -> Callable:
    """``numba.njit`` (cached, without the GIL) with reference counting off, plus ``options``."""
    return numba.njit(cache=True, nogil=True, _nrt=False, **options)
