"""The quick preset of every validation script, end to end (real Fashion-MNIST)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rmt_idinit.data import DEFAULT_FASHION_MNIST_DIR

pytestmark = [
    pytest.mark.torch,
    pytest.mark.skipif(not DEFAULT_FASHION_MNIST_DIR.is_dir(), reason="dataset-fashion-mnist not installed"),
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    from validation import all as vall

    out = tmp_path_factory.mktemp("quick")
    summary = vall.run("quick", str(out), threads=1, progress=False)
    return out, summary


@pytest.mark.slow
def test_init_spectrum_matches_exact_prediction(quick_report):
    out, summary = quick_report
    rep = json.loads((out / "init_spectrum" / "init_spectrum.json").read_text())
    assert (out / "init_spectrum" / "sorted_eigenvalues.png").stat().st_size > 1000
    assert rep["versions"]["torch"].startswith("2.") and rep["config"]["preset"] == "quick"
    acts = {c["activation"] for c in rep["cases"].values()}
    assert acts == {"hardtanh", "relu", "leaky_relu", "linear", "tanh", "erf", "sigmoid", "gelu", "silu", "softplus"}
    for key, case in rep["cases"].items():
        for inp in ("fashion_mnist", "gaussian"):
            r = case[inp]
            assert r["n_samples_excluded_kink"] == 0, key
            assert r["max_relative_error"] <= 1e-10, (key, inp, r["max_relative_error"])
            assert r["max_abs_error_at_zero"] <= 1e-10, (key, inp)
        g = case["gaussian"]
        # statistical check against the law (fixed seed): within 1.5x the 99% DKW band
        assert g["ks_distance_to_law"] <= 1.5 * g["dkw_99_band"], (key, g["ks_distance_to_law"])
    assert rep["all_passed"] and rep["worst_relative_error"] <= 1e-10
    assert summary["init_spectrum"]["all_passed"]
    # some cases really have zero eigenvalues (saturated hard-tanh units), so both branches are tested
    assert rep["cases"]["hardtanh(sigma=0.9,q0=1.0,L=8)"]["fashion_mnist"]["n_predicted_zero"] > 0
    assert rep["cases"]["hardtanh(sigma=1.05,q0=0.1,L=8)"]["gaussian"]["n_predicted_zero"] > 0


@pytest.mark.slow
def test_train_drift_quick_is_sane_and_recorded(quick_report):
    out, summary = quick_report
    d = out / "train_drift"
    rep = json.loads((d / "train_drift.json").read_text())
    assert (d / "accuracy_drift.png").exists() and (d / "spectrum.png").exists()
    assert set(rep["models"]) == {"identity", "orthogonal", "gaussian"}
    for init, m in rep["models"].items():
        h = m["history"]
        assert h["epoch"] == list(range(m["epochs_trained"] + 1))
        assert m["final_test_accuracy"] > 0.5, init  # chance is 0.1
        drift = np.asarray(h["drift_frobenius"][-1])
        assert drift.shape == (rep["config"]["depth"],)
        assert np.all(np.isfinite(drift)) and np.all(drift > 0) and np.all(drift < 1.0), init
        assert np.array_equal(h["drift_frobenius"][0], np.zeros_like(drift))  # zero at init
        assert np.all(np.isfinite(h["train_loss"][1:]))
        assert len(h["spectrum"][0]) == rep["config"]["probe_size"]
    pred = rep["models"]["identity"]["init_prediction"]
    assert pred["available"] and pred["max_relative_error_nonzero"] <= 1e-10 and pred["max_abs_error_at_zero"] <= 1e-10
    assert summary["train_drift"]["models"]["identity"]["final_test_accuracy"] == rep["models"]["identity"]["final_test_accuracy"]


@pytest.mark.slow
def test_all_runs_the_quick_atlas(quick_report):
    out, summary = quick_report
    rep = json.loads((out / "atlas" / "atlas.json").read_text())
    assert rep["config"]["preset"] == "quick" and rep["complete"] and not rep["failed"]
    assert summary["atlas"]["n_done"] == rep["n_done"] == rep["n_total"] > 0
    crit = rep["agreement"]["criteria"]
    assert crit["signal"]["n"] == crit["isometry"]["n"] == sum(c["init"] == "identity" for c in rep["cells"])
    for c in rep["cells"]:
        if c["init"] == "identity":
            assert c["theory"]["is_trainable"] == (c["theory"]["log_signal_scale"] >= -5.5)


def test_scripts_run_as_files_and_modules():
    for args in (["validation/train_drift.py", "--help"], ["-m", "validation.init_spectrum", "--help"],
                 ["-m", "validation.all", "--help"]):
        r = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and "--preset" in r.stdout, r.stderr


@pytest.mark.slow
def test_every_validation_json_is_strict(quick_report):
    out, _ = quick_report

    def refuse(name):
        raise AssertionError(f"strict parsers reject the constant {name}")

    files = sorted(out.rglob("*.json"))
    assert len(files) >= 3
    for path in files:
        json.loads(path.read_text(), parse_constant=refuse)
