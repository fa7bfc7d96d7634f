"""Output faults: pmsim never removes or replaces what it did not write, and its writers are locked and
crash-safe. One ``Case`` per kind of fault (one per line); then the faults that need two processes or a kill."""
# ruff: noqa: E501

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from pmsim.simulator.atomic import HOOK_ENV
from pmsim.simulator.results import FILES, MARKER, read_run

from tests.reliability.harness import GOOD_CONFIG, Case, check, pmsim_command, pmsim_env

CFG = {"cfg.toml": GOOD_CONFIG}
REPORT_HTML = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta name="generator" content="pmsim">\n</head></html>\n'
)


def run_folder(*names: str):
    """A setup that hand-writes marked run folders (cheap: a refusal never reads them)."""

    def make(root: Path) -> None:
        for name in names:
            (root / name).mkdir(parents=True, exist_ok=True)
            (root / name / MARKER).write_text(json.dumps({"kind": "run", "version": "0.1.0"}))
            for file in FILES:
                (root / name / file).write_text("{}")

    return make


def symlink(name: str, to: str, *, run: str | None = None):
    def make(root: Path) -> None:
        if run:
            run_folder(run)(root)
        (root / name).symlink_to(root / to)

    return make


def fsize_limit(size: int):
    """Children may write files of at most ``size`` bytes (Python ignores SIGXFSZ, so writes get EFBIG)."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def config_named(name: str) -> dict[str, str]:
    return {"cfg.toml": GOOD_CONFIG.replace('name = "ok"', f"name = {json.dumps(name)}")}


NOT_RUN, NOT_REPORT, INSIDE, FORCE = (
    "is not a pmsim run folder",
    "is not a pmsim report",
    "inside the run folder",
    "pass --force",
)
RUN = ("run", "cfg.toml", "--out")
DEMO = ("demo", "--bars", "300", "--out", "d")

CASES = [
    Case("run-out-over-a-file", (*RUN, "notes.txt"), NOT_RUN, files={**CFG, "notes.txt": "mine"}),
    Case("run-out-over-someones-folder", (*RUN, "work"), NOT_RUN, files={**CFG, "work/thesis.tex": "mine"}),
    Case("run-out-over-an-empty-folder", (*RUN, "empty"), NOT_RUN, files=CFG, setup=lambda d: (d / "empty").mkdir()),
    Case("run-out-over-all-runs", (*RUN, "runs", "--force"), NOT_RUN, files=CFG, setup=run_folder("runs/a", "runs/b")),
    Case("run-out-over-cwd", (*RUN, ".", "--force"), NOT_RUN, files=CFG),
    Case("run-out-over-a-link-to-a-run", (*RUN, "link", "--force"), NOT_RUN, files=CFG, setup=symlink("link", "old", run="old")),
    Case("run-over-a-run-without-force", (*RUN, "old"), FORCE, files=CFG, setup=run_folder("old")),
    Case("run-force-over-a-run-with-own-notes", (*RUN, "old", "--force"), "did not write (notes.txt)", files={**CFG, "old/notes.txt": "mine"}, setup=run_folder("old")),
    Case("run-out-over-a-report", (*RUN, "r.html", "--force"), NOT_RUN, files={**CFG, "r.html": REPORT_HTML}),
    Case("run-out-inside-a-run", (*RUN, "old/sub"), INSIDE, files=CFG, setup=run_folder("old")),
    Case("run-out-under-a-file", (*RUN, "notes.txt/sub"), "notes.txt is a file, not a folder", files={**CFG, "notes.txt": "mine"}),
    Case("run-name-climbs-out-of-runs", ("run", "cfg.toml"), "name", files=config_named("../escape")),
    Case("run-name-is-absolute", ("run", "cfg.toml"), "name", files=config_named("{dir}/abs")),
    Case("run-name-is-empty", ("run", "cfg.toml"), "name", files=config_named(""), setup=run_folder("runs/a")),
    Case("run-file-size-limit", (*RUN, "out"), "file too large", files=CFG, preexec=fsize_limit(3000)),
    Case("report-out-over-run-data", ("report", "old", "--out", "old/series.parquet"), INSIDE, setup=run_folder("old")),
    Case("report-out-new-file-in-a-run", ("report", "old", "--out", "old/x.html"), INSIDE, setup=run_folder("old")),
    Case("report-out-over-a-runs-own-report", ("report", "old", "--out", "old/report.html"), INSIDE, files={"old/report.html": REPORT_HTML}, setup=run_folder("old")),
    Case("report-out-deep-in-a-run", ("report", "old", "--out", "old/a/b.html"), INSIDE, setup=run_folder("old")),
    Case("report-out-over-a-non-report", ("report", "old", "--out", "page.html"), NOT_REPORT, files={"page.html": "<html>mine</html>"}, setup=run_folder("old")),
    Case("report-out-over-a-folder", ("report", "old", "--out", "work"), NOT_REPORT, files={"work/a.txt": "mine"}, setup=run_folder("old")),
    Case("report-out-over-the-run-itself", ("report", "old", "--out", "old"), NOT_REPORT, setup=run_folder("old")),
    Case("report-out-over-a-device", ("report", "old", "--out", "/dev/full"), NOT_REPORT, setup=run_folder("old")),
    Case("report-out-over-a-link-to-a-report", ("report", "old", "--out", "link.html"), NOT_REPORT, files={"r.html": REPORT_HTML}, setup=symlink("link.html", "r.html", run="old")),
    Case("demo-over-a-run-without-force", DEMO, FORCE, setup=run_folder("d/adx")),
    Case("demo-over-someones-folder", (*DEMO, "--force"), NOT_RUN, files={"d/hold/notes.txt": "mine"}),
    Case("demo-report-over-a-non-report", DEMO, NOT_REPORT, files={"d/report.html": "mine"}),
    Case("demo-out-inside-a-run", ("demo", "--bars", "300", "--out", "old"), INSIDE, setup=run_folder("old")),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=str)
def test_output_fault(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)


def run(root: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        pmsim_command(*argv), cwd=root, env=env or pmsim_env(), capture_output=True, text=True, timeout=300
    )


def seeded(seed: int) -> str:
    return GOOD_CONFIG.replace("bars = 48", f"bars = 48\nseed = {seed}")


@pytest.fixture(scope="module")
def old_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real 48-bar run (market seed 1) with its own report, written by the CLI."""
    root = tmp_path_factory.mktemp("old")
    (root / "cfg.toml").write_text(seeded(1))
    done = run(root, "run", "cfg.toml", "--out", "out", "--report")
    assert done.returncode == 0, done.stderr
    return root / "out"


def copy_of(run_dir: Path, root: Path) -> Path:
    shutil.copytree(run_dir, root / "out", symlinks=True)
    (root / "cfg.toml").write_text(seeded(2))
    return root / "out"


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_a_run_writes_its_marker_and_its_own_report_inside_it(old_run: Path) -> None:
    assert json.loads((old_run / MARKER).read_text())["kind"] == "run"
    head = (old_run / "report.html").read_text()[:2048]
    assert '<meta name="generator" content="pmsim' in head
    assert sorted(p.name for p in old_run.parent.iterdir()) == ["cfg.toml", "out"]


def test_force_replaces_a_run_and_a_report_replaces_a_report(old_run: Path, tmp_path: Path) -> None:
    out = copy_of(old_run, tmp_path)
    (tmp_path / "r.html").write_text(REPORT_HTML)  # an older pmsim report
    done = run(tmp_path, "report", "out", "--out", "r.html")
    assert done.returncode == 0, done.stderr
    assert "Equity" in (tmp_path / "r.html").read_text()
    done = run(tmp_path, "run", "cfg.toml", "--out", "out", "--force")
    assert done.returncode == 0, done.stderr
    assert read_run(out).config["market"]["seed"] == 2
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, MARKER])  # the old report went with it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.toml", "out", "r.html"]


def test_two_writers_into_one_out_one_wins_the_other_is_locked(tmp_path: Path) -> None:
    (tmp_path / "cfg.toml").write_text(GOOD_CONFIG)
    env = pmsim_env() | {HOOK_ENV: "locked:STOP"}  # the first writer stops while it holds the lock
    first = subprocess.Popen(pmsim_command("run", "cfg.toml", "--out", "out"), cwd=tmp_path, env=env)
    try:
        _, status = os.waitpid(first.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status), status
        check(
            Case("second-writer", ("run", "cfg.toml", "--out", "out"), "locked by another pmsim writer"),
            tmp_path,
        )
    finally:
        first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=300) == 0
    assert read_run(tmp_path / "out").config["name"] == "ok"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.toml", "out"]


@pytest.mark.parametrize("hook", ["written", "swapped"])
def test_a_killed_run_leaves_the_old_or_the_new_run_whole_and_the_next_cleans_up(
    old_run: Path, tmp_path: Path, hook: str
) -> None:
    out = copy_of(old_run, tmp_path)
    killed = run(tmp_path, "run", "cfg.toml", "--out", "out", "--force", env=pmsim_env() | {HOOK_ENV: hook})
    assert killed.returncode == -signal.SIGKILL
    assert len(list(tmp_path.iterdir())) > 2  # a temporary folder and the lock file were left behind
    after_kill = digest(out)
    done = run(tmp_path, "run", "cfg.toml", "--out", "out", "--force")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cfg.toml", "out"]
    # every file is the old run's (killed before the swap) or the new run's (after it), byte for byte
    assert after_kill == (digest(old_run) if hook == "written" else digest(out))
    assert read_run(out).config["market"]["seed"] == 2 and digest(out) != digest(old_run)
