"""Each package's ``__all__`` names exactly what it offers, and every name resolves."""

import importlib

import pytest


@pytest.mark.parametrize(
    "package", ["pmsim.simulator", "pmsim.simulator.margin", "pmsim.strategies", "pmsim.reports"]
)
def test_all_names_resolve(package):
    module = importlib.import_module(package)
    assert module.__all__ == sorted(module.__all__) or len(set(module.__all__)) == len(module.__all__)
    for name in module.__all__:
        assert getattr(module, name) is not None, name


@pytest.mark.parametrize("package", ["pmsim.strategies", "pmsim.reports"])
def test_all_is_complete(package):
    module = importlib.import_module(package)
    public = {n for n in vars(module) if not n.startswith("_")} - {"annotations"}
    submodules = {n for n in public if type(getattr(module, n)).__name__ == "module"}
    assert set(module.__all__) == public - submodules


def test_cli_import_stays_light():
    """`pmsim --help` imports the CLI; it must not drag in numpy or pandas."""
    import subprocess
    import sys

    code = (
        "import sys, pmsim.simulator.cli; pmsim.simulator.cli.build_parser(); "
        "print('pandas' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_pmsim_all_is_the_whole_public_surface():
    """``pmsim.__all__`` is the API notebooks use; a change to it is a change to this list."""
    import pmsim

    assert pmsim.__all__ == [
        "__version__",
        "Comparison",
        "ConfigError",
        "MarginReport",
        "PmsimError",
        "Result",
        "RunConfig",
        "StressReport",
        "SweepResult",
        "compare",
        "load",
        "margin",
        "run",
        "stress",
        "sweep",
    ]
    for name in pmsim.__all__:
        assert getattr(pmsim, name) is not None, name


def test_import_pmsim_stays_light():
    """``import pmsim`` loads no numpy, pandas, vectorbt or plotly, nor the engine, until a name is used."""
    import subprocess
    import sys

    heavy = ("numpy", "pandas", "vectorbt", "plotly", "pyarrow", "pmsim.simulator.build", "pmsim.api")
    code = f"import sys, pmsim; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
