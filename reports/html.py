"""Build the self-contained HTML report from run folders.

Run folders are read only through :func:`simulator.results.read_run`; the page embeds plotly.js once,
inline, so it works offline (no CDN, no external fonts), and is written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from markupsafe import Markup
from plotly.offline import get_plotlyjs, get_plotlyjs_version
from pmsim.reports.frames import RunView
from pmsim.reports.render import render
from pmsim.reports.sections import SECTIONS, Section
from pmsim.simulator.atomic import write_text
from pmsim.simulator.errors import RunError
from pmsim.simulator.results import read_run


def render_report(
    runs: Sequence[RunView], title: str = "pmsim report", sections: Sequence[Section] = SECTIONS
) -> str:
    """The whole page for ``runs`` as one HTML string."""
    names = ", ".join(run.name for run in runs)
    return render(
        "page.j2",
        title=title,
        subtitle=f"{len(runs)} run(s): {names}",
        sections=[Markup(section(runs)) for section in sections],
        plotly_js=Markup(get_plotlyjs()),
        plotly_version=get_plotlyjs_version(),
    )


def build_report(run_dirs: Sequence[Path], out: Path, title: str = "pmsim report") -> Path:
    """Read the run folders ``run_dirs`` and write one self-contained HTML report to ``out``.

    Raises RunError when no run is given, a folder is not a complete run, or ``out`` cannot be written
    (nothing is left at ``out`` then).
    """
    if not run_dirs:
        raise RunError("no run folders given; pass at least one folder written by a pmsim run")
    runs = [RunView(read_run(path)) for path in run_dirs]
    html = render_report(runs, title)
    try:
        return write_text(out, html)
    except OSError as exc:
        raise RunError(f"cannot write report {out}: {exc.strerror or exc}") from exc
