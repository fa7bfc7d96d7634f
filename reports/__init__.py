"""Reports: pure functions of run folders (read via ``simulator.results``) to one offline HTML page."""

from reports.html import build_report, render_report
from reports.sections import SECTIONS

__all__ = ["SECTIONS", "build_report", "render_report"]
