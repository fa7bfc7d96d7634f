"""The harness itself can fail: a good command is not mistaken for a bad one, and vice versa."""

import subprocess

import pytest

from tests.reliability.harness import GOOD_CONFIG, Case, check, pmsim_command, pmsim_env


def test_a_good_config_fails_the_bad_input_contract(tmp_path):
    case = Case("good", ("run", "cfg.toml", "--out", "out"), "error", files={"cfg.toml": GOOD_CONFIG})
    with pytest.raises(AssertionError):
        check(case, tmp_path)


def test_the_command_runs_this_checkout(tmp_path):
    code = "import pmsim.simulator, pathlib; print(pathlib.Path(pmsim.simulator.__file__).parents[1])"
    argv = pmsim_command()[:1] + ["-c", code]
    out = subprocess.run(argv, cwd=tmp_path, env=pmsim_env(), capture_output=True, text=True, check=True)
    from tests.reliability.harness import REPO

    assert out.stdout.strip() == str(REPO)
