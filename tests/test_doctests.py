"""The examples in the public API's docstrings run (``doctest``), so the documentation cannot rot."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "pmsim",
    "pmsim.api",
    "pmsim.result",
    "pmsim.many",
    "pmsim.whatif",
    "pmsim.simulator.config",
    "pmsim.simulator.errors",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write, write here
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(importlib.import_module(name), optionflags=flags, raise_on_error=False)
    assert result.attempted > 0 and result.failed == 0, result


def test_every_public_name_has_an_example():
    import pmsim

    public = [getattr(pmsim, name) for name in pmsim.__all__ if name != "__version__"]
    missing = [thing.__name__ for thing in public if ">>>" not in (thing.__doc__ or "")]
    assert missing == []
