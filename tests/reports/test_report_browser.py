"""Open the report in real headless Chromium (also with the network blocked): every figure must render.

Skipped only when Chromium is missing and ``CI`` is unset; in CI a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from pmsim import reports

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
NO_NETWORK = "--host-resolver-rules=MAP * ~NOTFOUND"
RENDERED_FIGURE = re.compile(r'<div\b[^>]*\bclass="[^"]*\bjs-plotly-plot\b')


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed but CI is set: install the Debian package `chromium`")
        pytest.skip("chromium not installed (apt-get install chromium); CI runs this test")
    return CHROMIUM


@pytest.fixture(scope="module")
def report(two_runs, tmp_path_factory) -> Path:
    return reports.build_report(two_runs, tmp_path_factory.mktemp("html") / "report.html")


def run_chromium(
    binary: str, page: Path, profile: Path, *extra: str, fragment: str = ""
) -> subprocess.CompletedProcess[str]:
    """Load ``page`` (with ``#fragment``) in headless Chromium; console messages go to stderr."""
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
        page.resolve().as_uri() + (f"#{fragment}" if fragment else ""),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def console(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The page's console messages (errors, warnings, logs) that Chromium printed to stderr."""
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


@pytest.mark.parametrize("network", [(), (NO_NETWORK,)], ids=["default", "network-blocked"])
def test_every_figure_renders(chromium, report, tmp_path, network):
    result = run_chromium(chromium, report, tmp_path / "profile", *network, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    assert console(result) == []
    figures = report.read_text(encoding="utf-8").count('class="plotly-graph-div"')
    assert figures == 6
    rendered = RENDERED_FIGURE.findall(result.stdout)  # plotly adds js-plotly-plot once it has drawn
    assert len(rendered) == figures
    assert result.stdout.count('<svg class="main-svg"') >= figures


def test_screenshot(chromium, report, tmp_path):
    shot = tmp_path / "report.png"
    result = run_chromium(
        chromium, report, tmp_path / "profile", NO_NETWORK, "--window-size=1300,5000", f"--screenshot={shot}"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
