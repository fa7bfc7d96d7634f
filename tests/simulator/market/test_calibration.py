"""Calibration: the estimators on data with known answers, and the committed numbers against a fresh
measurement of the shared Binance history (skipped when that folder is absent)."""

import json

import numpy as np
import pandas as pd
import pytest
from pmsim.simulator.errors import DataError
from pmsim.simulator.market.calibration import (
    DEFAULT_OUT,
    Jumps,
    default_data_dir,
    fit_garch,
    fit_nu,
    measure,
    robust_sigma,
)


def _leaves(node, path=()):
    if isinstance(node, dict) and "value" in node:
        yield path, node
    elif isinstance(node, dict):
        for key, child in node.items():
            yield from _leaves(child, (*path, key))


def test_robust_sigma_of_a_normal_sample_is_its_sigma() -> None:
    x = np.random.default_rng(0).normal(0.0, 0.02, 200_000)
    assert robust_sigma(x) == pytest.approx(0.02, rel=0.01)


def test_fit_garch_recovers_known_parameters() -> None:
    rng = np.random.default_rng(1)
    alpha, beta, target, n = 0.08, 0.9, 1e-4, 40_000
    z, r, s2 = rng.standard_normal(n), np.empty(n), target
    for t in range(n):
        r[t] = np.sqrt(s2) * z[t]
        s2 = target * (1 - alpha - beta) + alpha * r[t] ** 2 + beta * s2
    a, b = fit_garch(r)
    assert a == pytest.approx(alpha, abs=0.015) and b == pytest.approx(beta, abs=0.02)


def test_fit_nu_recovers_student_t_tails() -> None:
    nu = 5.0
    z = np.random.default_rng(2).standard_t(nu, 100_000) * np.sqrt((nu - 2) / nu)
    assert fit_nu([z]) == pytest.approx(nu, abs=0.5)


def test_jump_classification_on_a_planted_common_jump() -> None:
    rng = np.random.default_rng(3)
    rets = pd.DataFrame(rng.normal(0, 0.01, (400, 2)), columns=["BTC", "ETH"])
    rets.iloc[300] = [-0.12, -0.06]  # BTC ~12 sigma, ETH ~6 sigma the same way: a common jump
    rets.iloc[350] = [0.0, 0.15]  # ETH alone
    jumps = Jumps.classify(rets)
    assert jumps.common[300] and jumps.jump.loc[300].all()
    assert jumps.own.loc[350, "ETH"] and not jumps.common[350] and not jumps.jump.loc[350, "BTC"]
    assert not jumps.tested.iloc[:168].any().any()  # no local sigma before a full week


def test_measure_names_a_missing_data_folder(tmp_path) -> None:
    with pytest.raises(DataError, match="calibration data folder not found"):
        measure(tmp_path / "nowhere")


def test_committed_file_has_how_span_and_source_for_every_number() -> None:
    committed = json.loads(DEFAULT_OUT.read_text(encoding="utf-8"))
    leaves = list(_leaves(committed))
    assert len(leaves) > 50
    for path, leaf in leaves:
        assert isinstance(leaf["value"], float) and np.isfinite(leaf["value"]), path
        assert leaf["how"] and " .. " in leaf["span"] and leaf["source"], path
        assert all(not s.startswith("/") for s in leaf["source"]), path


def test_committed_numbers_match_a_fresh_measurement() -> None:
    data = default_data_dir()
    if not (data / "binance-um" / "klines" / "1h" / "BTCUSDT.csv").is_file():
        pytest.skip(f"shared Binance history not found at {data} (set PMSIM_DATA_DIR to measure)")
    fresh = dict(_leaves(measure(data)))
    committed = dict(_leaves(json.loads(DEFAULT_OUT.read_text(encoding="utf-8"))))
    assert fresh.keys() == committed.keys()
    for path, leaf in committed.items():
        assert fresh[path]["value"] == pytest.approx(leaf["value"], rel=1e-5, abs=1e-12), path
        assert fresh[path]["span"] == leaf["span"], path
