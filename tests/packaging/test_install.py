"""Installing pmsim adds one top-level name, ``pmsim``, and ships its data and templates inside it.

The checkout's sources are copied to a temporary folder and built into a wheel once per session (pip
with build isolation: the installed setuptools may be older than the >= 77 that ``license = "MIT"``
needs; pip fetches a new one from the configured index). The wheel is then installed into a fresh venv
that sees the system site-packages but not the checkout.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "pmsim", "simulator", "strategies", "reports", "datasets")
SHIPPED_DATA = ("pmsim/datasets/brackets/binance_usdm.json", "pmsim/reports/templates/page.j2")


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One wheel of the checkout, built from a copy so the build leaves nothing in the repository."""
    src = tmp_path_factory.mktemp("src")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "cache")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)
    out = tmp_path_factory.mktemp("wheel")
    done = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)], src)
    assert done.returncode == 0, f"pip wheel failed:\n{done.stderr[-3000:]}"
    (built,) = out.glob("pmsim-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str], set[str]]:
    """A venv with the wheel installed: (its python, site-packages names before, after)."""
    root = tmp_path_factory.mktemp("venv")
    done = run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(root)], root)
    assert done.returncode == 0, done.stderr
    python = root / "bin" / "python"
    (site,) = root.glob("lib/python*/site-packages")
    before = {p.name for p in site.iterdir()}
    args = ["--python", str(python), "install", "-q", "--no-deps", "--no-index", "--force-reinstall"]
    done = run([sys.executable, "-m", "pip", *args, str(wheel)], root)
    assert done.returncode == 0, f"pip install failed:\n{done.stderr[-3000:]}"
    return python, before, {p.name for p in site.iterdir()}


def test_wheel_holds_only_the_pmsim_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    dist_info = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
    assert len(dist_info) == 1
    strays = [n for n in names if not n.startswith(("pmsim/", *(d + "/" for d in dist_info)))]
    assert strays == []
    top_level = f"{dist_info.pop()}/top_level.txt"
    if top_level in names:
        assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["pmsim"]


def test_wheel_ships_data_and_templates(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(SHIPPED_DATA) <= names
    # the data is data, not a package of its own
    assert not any(n.startswith(("datasets/", "simulator/", "reports/", "strategies/")) for n in names)
    brackets = json.loads(zipfile.ZipFile(wheel).read(SHIPPED_DATA[0]))
    assert brackets, "bracket tables must not be empty"


def test_install_adds_only_pmsim(venv: tuple[Path, set[str], set[str]]) -> None:
    _, before, after = venv
    added = after - before
    assert {n for n in added if not n.endswith(".dist-info")} == {"pmsim"}
    assert len(added) == 2


def test_installed_pmsim_finds_its_data_and_shadows_nothing(
    venv: tuple[Path, set[str], set[str]], tmp_path: Path
) -> None:
    python = venv[0]
    script = (
        "import importlib.util as u, json, pmsim, pmsim.simulator.paths as p\n"
        "spec = u.find_spec('datasets')\n"
        "where = None if spec is None else str(spec.origin or list(spec.submodule_search_locations))\n"
        "print(json.dumps({'pmsim': pmsim.__file__, 'data': str(p.DATASETS), 'datasets': where}))\n"
    )
    # run outside the checkout, so the current folder cannot supply a `pmsim` or `datasets`
    done = run([str(python), "-c", script], tmp_path)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    installed = Path(found["pmsim"]).parent
    assert installed.parent.name == "site-packages" and str(installed).startswith(str(python.parents[1]))
    data = Path(found["data"])
    assert data == installed / "datasets"
    assert (data / "brackets" / "binance_usdm.json").is_file()
    # `import datasets` is someone else's package or nothing, never pmsim's data folder
    assert found["datasets"] is None or "pmsim" not in found["datasets"]
