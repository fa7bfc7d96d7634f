"""Build the self-contained HTML report from run folders.

Run folders are read only through :func:`simulator.results.read_run`; the page embeds plotly.js once,
inline, so it works offline (no CDN, no external fonts), and is written atomically. Its head carries
pmsim's generator tag, which is how pmsim knows a file at ``--out`` is a report it may replace.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

from markupsafe import Markup
from plotly.offline import get_plotlyjs, get_plotlyjs_version
from pmsim.reports.frames import RunView
from pmsim.reports.many import is_many, many_sections, results_of_runs
from pmsim.reports.render import render
from pmsim.reports.sections import SECTIONS, Section, definitions, header
from pmsim.simulator.atomic import write_text
from pmsim.simulator.errors import RunError
from pmsim.simulator.results import RunFolder, inside_run, read_run

GENERATOR = b'<meta name="generator" content="pmsim'


def render_page(title: str, subtitle: str, fragments: Sequence[str]) -> str:
    """The page around ``fragments`` (HTML sections), with plotly.js embedded once."""
    return render(
        "page.j2",
        title=title,
        subtitle=subtitle,
        sections=[Markup(fragment) for fragment in fragments],
        plotly_js=Markup(get_plotlyjs()),
        plotly_version=get_plotlyjs_version(),
    )


def render_report(
    runs: Sequence[RunView], title: str = "pmsim report", sections: Sequence[Section] | None = None
) -> str:
    """The whole page for ``runs`` as one HTML string.

    Without ``sections``, up to ``many.MANY_BOOKS`` books get every section of ``SECTIONS``; more get the
    many-book sections (results table, frontier, heatmaps, top-k paths) between the header and the
    definitions.
    """
    names = ", ".join(run.name for run in runs)
    if sections is None and is_many(runs):
        fragments = [header(runs), *many_sections(results_of_runs(runs)), definitions(runs)]
    else:
        fragments = [section(runs) for section in (SECTIONS if sections is None else sections)]
    return render_page(title, f"{len(runs)} run(s): {names}", fragments)


def is_report(path: Path) -> bool:
    """Whether pmsim wrote the file ``path``: its first bytes carry pmsim's generator tag."""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        with path.open("rb") as file:
            return GENERATOR in file.read(2048)
    except OSError:
        return False


def check_report_target(out: Path) -> None:
    """Refuse a report target inside a run folder, or one that exists and is not a pmsim report."""
    run = inside_run(out)
    if run is not None:
        raise RunError(f"{out} is inside the run folder {run}; write the report outside it")
    if os.path.lexists(out) and not is_report(out):
        raise RunError(
            f"{out} exists and is not a pmsim report; pmsim replaces only what it wrote: choose another --out"
        )


def build_report(
    run_dirs: Sequence[Path], out: Path, title: str = "pmsim report", *, own_run: bool = False
) -> Path:
    """Read the run folders ``run_dirs`` and write one self-contained HTML report to ``out``.

    ``out`` may replace a report pmsim wrote, never another file, and may not sit inside a run folder;
    ``own_run`` lifts that for a run's own report, written into its folder before the folder is swapped in.
    Raises RunError when no run is given, a folder is not a complete run, or ``out`` is refused or cannot
    be written (``out`` is unchanged then).
    """
    if not run_dirs:
        raise RunError("no run folders given; pass at least one folder written by a pmsim run")
    if not own_run:
        check_report_target(Path(out))  # before reading and rendering; the writer checks again under its lock
    folders = [read_run(path) for path in run_dirs]
    if own_run:  # read from the writer's temporary folder, which vanishes: the run is the report's own folder
        folders = [dataclasses.replace(folder, path=Path(".")) for folder in folders]
    return write_report(folders, out, title, own_run=own_run)


def write_report(
    folders: Sequence[RunFolder], out: Path, title: str = "pmsim report", *, own_run: bool = False
) -> Path:
    """Render runs already read (or kept in memory) and write the page to ``out`` (as ``build_report``)."""
    check = None if own_run else check_report_target
    if check is not None:
        check(Path(out))
    runs = [RunView(folder) for folder in folders]
    return write_text(out, render_report(runs, title), check=check)
