"""Reports: pure functions of run folders (read via ``simulator.results``) to one offline HTML page;
``sweep_page`` draws a sweep's table of points the same way (the many-book report)."""

from pmsim.reports.html import build_report, render_report
from pmsim.reports.sections import SECTIONS
from pmsim.reports.sweep import sweep_page

__all__ = ["SECTIONS", "build_report", "render_report", "sweep_page"]
