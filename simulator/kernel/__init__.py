"""The compiled engine: numba kernels that replay the same six steps as ``simulator.engine`` faster.

The Python bar loop in ``simulator.engine.engine`` stays the reference; everything here must equal it
(tests/simulator/kernel). A setup the kernels do not cover raises ``NotCompiled`` and runs on the
reference engine, and the run's notes say which engine ran and why.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

KERNEL_MODULES = (
    "pmsim.simulator.kernel.jit",
    "pmsim.simulator.kernel.loop",
    "pmsim.simulator.kernel.margin",
    "pmsim.simulator.kernel.margin_portfolio",
    "pmsim.simulator.kernel.sums",
    "pmsim.strategies.kernels",
    "pmsim.strategies.wilder",
)


def _drop_stale_caches() -> None:
    """Delete the kernels' numba caches when any kernel source changed since they were written.

    numba keys a cached function on its own file only, so a type changed in another kernel module
    would be unpickled from a stale cache. The stamp is a hash of every kernel source together.
    """
    files = []
    for name in KERNEL_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            files.append(Path(spec.origin))
    stamp = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
    for folder in {f.parent / "__pycache__" for f in files}:
        mark = folder / "pmsim-kernel.stamp"
        try:
            if mark.exists() and mark.read_text() == stamp:
                continue
            for cached in (*folder.glob("*.nbi"), *folder.glob("*.nbc")):
                cached.unlink(missing_ok=True)
            folder.mkdir(exist_ok=True)
            mark.write_text(stamp)
        except OSError:  # a read-only install: numba then keeps its caches in the user's cache folder
            continue


_drop_stale_caches()
