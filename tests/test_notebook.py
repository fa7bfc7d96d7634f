"""examples/tutorial.ipynb runs top to bottom on the staged history (``PMSIM_DATA_DIR``): a cell that
raises fails the test. The notebook is committed without outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "examples" / "tutorial.ipynb"


def test_the_notebook_is_committed_without_outputs():
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    assert code and all(not cell["outputs"] and cell["execution_count"] is None for cell in code)


def test_the_tutorial_executes(tmp_path, monkeypatch):
    data = os.environ.get("PMSIM_DATA_DIR")
    if not data or not Path(data).is_dir():
        pytest.skip(f"no staged Binance history at PMSIM_DATA_DIR={data!r}; the tutorial replays it")
    import nbformat
    from nbclient import NotebookClient

    # the kernel imports pmsim from the checkout (like the tests) and writes nowhere but tmp_path
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    where = {"metadata": {"path": str(REPO)}}  # the kernel's working folder: examples/ are found from there
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources=where).execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    assert any("text/html" in out.get("data", {}) for out in outputs)  # Result and tables shown inline
