"""The fault-injection harness: one ``Case`` per kind of bad input or fault, run through the real CLI.

Every case asserts the same contract (issue 7): exit status 2, exactly one line on stderr that names
the problem, no traceback, and nothing on disk changed. Adding a case is one line in a table module
(``test_*.py`` beside this file); ``files`` are laid out in a fresh folder that is the working
directory of the call, and ``{dir}`` in an argument or file text stands for that folder.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

GOOD_CONFIG = """\
name = "ok"
[market]
bars = 48
[strategy]
name = "hold"
params = { positions = { BTCUSDT = 0.1 } }
"""


@dataclass(frozen=True)
class Case:
    """One bad input or fault: ``argv`` for ``pmsim``, the ``files`` it finds, a phrase its error must hold."""

    id: str
    argv: tuple[str, ...]
    expect: str
    files: Mapping[str, str | bytes] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    preexec: Callable[[], None] | None = None  # runs in the child before pmsim starts (e.g. resource limits)

    def __str__(self) -> str:
        return self.id


def pmsim_command(*argv: str) -> list[str]:
    """The ``pmsim`` command line that runs this checkout's code (not whichever copy is installed)."""
    return [sys.executable, "-m", "pmsim.simulator.cli", *argv]


def pmsim_env() -> dict[str, str]:
    """The environment for ``pmsim_command``: this checkout first on the import path, one BLAS thread."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    return env


def snapshot(root: Path) -> dict[str, str]:
    """Every path below ``root`` with a digest of its content (folders as 'dir'), to compare before/after."""
    tree: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            tree[rel] = "link:" + os.readlink(path)
        elif path.is_dir():
            tree[rel] = "dir"
        else:
            try:
                tree[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                tree[rel] = "unreadable"
    return tree


def lay_out(case: Case, root: Path) -> None:
    for name, content in case.files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content.replace("{dir}", str(root)), encoding="utf-8")
        else:
            path.write_bytes(content)
    if case.setup is not None:
        case.setup(root)


def check(case: Case, root: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``case`` in ``root`` and assert the contract; returns the finished process for extra checks."""
    lay_out(case, root)
    before = snapshot(root)
    argv = [arg.replace("{dir}", str(root)) for arg in case.argv]
    done = subprocess.run(
        pmsim_command(*argv),
        cwd=root,
        env=pmsim_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=case.preexec,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert len(lines) == 1, done.stderr
    assert case.expect.lower() in lines[0].lower(), (case.expect, lines[0])
    assert snapshot(root) == before, "the failed command changed files on disk"
    return done
