"""The comparison folder: ``<label>/`` run folders, ``comparison.parquet``, ``report.html`` and a marker.

It is written whole and crash-safely (``simulator.atomic.atomic_dir``) and follows the run folder's
rules: pmsim replaces only a comparison folder it wrote (the marker) holding nothing else, only with
``--force``, and never writes one inside a run folder or another comparison folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pmsim.simulator.errors import RunError
from pmsim.simulator.results import REPORT, inside_run, is_run_folder

MARKER = ".pmsim-compare.json"
TABLE = "comparison.parquet"


def is_compare_folder(path: Path) -> bool:
    """Whether pmsim wrote the comparison folder ``path`` (its marker says so)."""
    if path.is_symlink() or not path.is_dir():
        return False
    try:
        return json.loads((path / MARKER).read_text(encoding="utf-8")).get("kind") == "compare"
    except (OSError, ValueError, AttributeError):
        return False


def check_compare_target(path: Path, force: bool = False) -> None:
    """Refuse ``--out`` unless it is new, or a comparison folder pmsim wrote and ``force`` is on."""
    run = inside_run(path)
    outer = next((p for p in Path(path).resolve().parents if is_compare_folder(p)), None)
    if run is not None or outer is not None:
        raise RunError(f"{path} is inside the pmsim folder {run or outer}; choose an --out outside it")
    if not os.path.lexists(path):
        return
    if not is_compare_folder(path):
        raise RunError(
            f"{path} exists and is not a pmsim comparison folder; pmsim replaces only what it wrote: "
            "choose another --out"
        )
    foreign = sorted(
        name
        for name in os.listdir(path)
        if name not in (MARKER, TABLE, REPORT) and not is_run_folder(path / name)
    )
    if foreign:
        raise RunError(f"{path} holds files pmsim did not write ({', '.join(foreign)}); move them out first")
    if not force:
        raise RunError(f"{path} already holds a pmsim comparison; pass --force to replace it")
