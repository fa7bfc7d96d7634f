"""Reports: pure functions of run folders (read via ``simulator.results``) to one offline HTML page."""

from pmsim.reports.html import build_report, render_report
from pmsim.reports.sections import SECTIONS

__all__ = ["SECTIONS", "build_report", "render_report"]
