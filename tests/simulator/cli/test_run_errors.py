"""`pmsim run` on bad config files: one line that says what and where, exit status 2, nothing written."""

import pytest
from pmsim.simulator.cli import main


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[market]\nsed = 3\n", "unknown key in [market]: 'sed'; did you mean 'seed'?"),
        ("[allocator]\nmur_cap = 1.5\n", "allocator.mur_cap must be in (0, 1]"),
        ("[regime]\nname = 'crosss'\n", "unknown margin regime 'crosss'; did you mean 'cross'?"),
        (
            "[strategy]\nname = 'hold'\nparams = { positions = { DOGEUSDT = 1.0 } }\n",
            "unknown symbol 'DOGEUSDT'",
        ),
        ("[account]\nliquidation = 'sometimes'\n", "account.liquidation must be 'full' or 'partial'"),
        ("[stress]\nshocks = { SOL = -0.3 }\n", "unknown stress.shocks underlying 'SOL'"),
        ("[market\n", "not valid TOML"),
    ],
)
def test_bad_config_is_one_line(tmp_path, capsys, text, message):
    config = tmp_path / "bad.toml"
    config.write_text("name = 'bad'\n" + text + ("[market]\nbars = 300\n" if "[market]" not in text else ""))
    out = tmp_path / "out"
    assert main(["run", str(config), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not out.exists()


def test_missing_config_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.toml")]) == 2
    assert "cannot read config" in capsys.readouterr().err
