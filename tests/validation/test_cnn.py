"""validation/cnn.py on the quick preset: strict JSON, the figures, and the numbers it must get right."""
import json
import math

import pytest

from rmt_idinit.data import DEFAULT_FASHION_MNIST_DIR

pytestmark = [
    pytest.mark.torch,
    pytest.mark.skipif(not DEFAULT_FASHION_MNIST_DIR.is_dir(), reason="dataset-fashion-mnist not installed"),
]


def _strict(text):
    def bad(name):
        raise ValueError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=bad)


def test_quick_preset_report(tmp_path):
    from rmt_idinit.nn import conv_features
    from validation import cnn

    cfg = cnn.make_config("quick", out=str(tmp_path), progress=False, threads=1, n_linearize=30,
                          dirac_activations=("relu", "softplus"), tsne_steps=5, tsne_batch=60, steps=20)
    data = cnn.load_data(cfg)
    rep = cnn.run(cfg, data)
    assert "errors" not in rep, rep.get("errors")
    on_disk = _strict((tmp_path / "cnn.json").read_text())
    assert on_disk["experiment"] == "cnn" and on_disk["versions"]["torch"]

    d = on_disk["dirac"]
    assert d["all_diagonal"] and d["n_cases"] == 2 * 2 * 1 * 4 and d["worst_relative_error"] <= 1e-12
    assert set(d["max_offdiagonal_by_padding_mode"]) == {"zeros", "reflect", "replicate", "circular"}
    for name in ("maxpool", "residual", "batchnorm"):
        assert on_disk["linearize"][name]["worst_relative_error"] <= 1e-10
    cap = on_disk["captum"]
    if "skipped" not in cap:
        assert cap["bias_free_max_relative_difference"] <= 1e-12 and cap["bias_free_bias_is_zero"]
        assert cap["with_bias"]["linearize_gap_relative_max"] <= 1e-12

    fs = on_disk["feature_subsets"]
    assert fs["depths"] == [1, 2]
    for row in fs["per_depth"].values():
        assert row["linearize_worst_relative_error"] <= 1e-10
        assert row["test_accuracy"] > 0.3  # chance is 0.1; 20 Adam steps on 7x7 images
        assert all(0 < a <= b <= row["n_features"] for a, b in zip(row["sizes_50"], row["sizes_90"]))
        dec = row["decomposition_90"]
        assert dec["multiply_adds_decomposed"] == sum(row["sizes_90"]) < dec["multiply_adds_full"]
        c = row["drop_curves"]
        assert len(c["margin"]) == len(c["counts"]) and all(m > 0 for m in c["margin"])
    t = on_disk["tsne"]
    assert t["linearize_worst_relative_error"] <= 1e-10 and math.isfinite(t["kl_last"])
    for png in ("feature_subsets_vs_depth.png", "drop_curves.png", "attribution.png", "tsne.png"):
        assert (tmp_path / png).stat().st_size > 5000, png
    # a rerun reuses the trained model (checkpoint loaded with weights_only=True), bit for bit
    model, _, cached = cnn._train_cnn(cfg, 2, data, tmp_path)
    f, w, b = conv_features(model, data["xte"])
    assert cached and float(((f @ w.T + b).argmax(1) == data["yte"].numpy()).mean()) == fs["per_depth"]["2"]["test_accuracy"]
