"""Every figure the project draws is rendered and checked for overlapping text and missing labels.

The check (:func:`rmt_idinit.plotting.figure_problems`) draws the figure and compares the
renderer's bounding boxes of all visible texts. Validation figures are rebuilt from the committed
results (validation/results/), so no training runs here.
"""
import json
from pathlib import Path

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from rmt_idinit import select as sel  # noqa: E402
from rmt_idinit.plotting import figure_problems  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "validation" / "results"


def _check(figs):
    try:
        for name, fig in figs.items():
            assert figure_problems(fig) == [], name
    finally:
        for fig in figs.values():
            plt.close(fig)


def test_checker_catches_overlaps_and_missing_labels():
    # the old train_drift spectrum panel: three long x labels side by side in a narrow figure
    fig, axes = plt.subplots(1, 3, figsize=(9, 3))
    for ax in axes:
        ax.plot([0, 1], [0, 1])
        ax.set(xlabel="log10 eigenvalue of J J^T (1e-30 floor; < ~1e-13 x max is round-off)", ylabel="count")
    probs = figure_problems(fig)
    assert any("overlapping text" in p and "xlabel" in p for p in probs)
    plt.close(fig)
    fig, ax = plt.subplots()
    ax.plot([0, 1], label="a")
    ax.plot([1, 0], label="b")
    ax.set_xlabel("x")
    assert figure_problems(fig) == ["axes 0: no y label", "axes 0: 2 labelled artists but no legend"]
    plt.close(fig)


def test_report_figures():
    from rmt_idinit.report import report_figures

    depth, q0 = 100, 0.2064
    region = sel.feasible_region(depth, eps=0.05, kappa=10.0, sigma=np.exp(np.linspace(-4, 4, 41) / depth),
                                 q0=np.logspace(-4, 1, 41))
    settings = {"recommended": 1.0, "best": 0.999998}
    titles = {"recommended": "recommended", "best": "loss optimum"}
    _check(report_figures(depth, q0, "hardtanh", region, settings, titles, eps=0.05, kappa=10.0))


def test_smooth_law_figures():
    import rmt_idinit as ri
    from rmt_idinit.plotting import plot_law, plot_layer_alphas

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5), constrained_layout=True)
    law = ri.jjt_law(1.0, 0.2, 8, "tanh")
    sample = law.rvs(500, rng=0)
    plot_law(law, ax=axes[0], sample=sample, title="tanh, L = 8, sigma = 1, q0 = 0.2")
    plot_law(law, ax=axes[1], sample=sample, cdf=True, title="tanh, L = 8, sigma = 1, q0 = 0.2: CDF")
    plot_layer_alphas([(1.0, 0.2), (1.05, 0.2)], 8, "tanh", ax=axes[2])
    _check({"smooth": fig})


def test_validation_figures_from_committed_results():
    from validation import init_spectrum, train_drift

    rep = json.loads((RESULTS / "train_drift_paper" / "train_drift.json").read_text())
    _check(train_drift.figures(rep))
    r = json.loads((RESULTS / "init_spectrum_paper" / "init_spectrum.json").read_text())
    res = {k: {**v, "_plot": r["sorted_eigenvalues_sample0"][k]} for k, v in r["cases"].items()}
    _check({"sorted_eigenvalues.png": init_spectrum.figure(res)})


def test_interpretation_figures_from_committed_results():
    from validation import interpret

    out = RESULTS / "interpret_paper"
    report = json.loads((out / "interpret.json").read_text())
    maps = json.loads((out / "maps.json").read_text())
    # three samples are enough to find a layout defect and keep the test short
    c, lin = maps["contribution"], maps["linearization"]
    for key in ("delta", "raw", "labels"):
        c[key] = c[key][:3]
    for key in ("attribution", "weight_true_class"):
        if key in lin:
            lin[key] = lin[key][:3]
    cfg = interpret.Config(**{k: v for k, v in report["config"].items() if k in interpret.Config.__dataclass_fields__})
    figs = interpret.figures(cfg, report, maps)
    assert "$" in figs["contribution_delta.png"]._suptitle.get_text()    # mathtext, not raw LaTeX
    _check(figs)
