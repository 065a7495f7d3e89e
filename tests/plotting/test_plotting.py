import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import rmt_idinit as ri  # noqa: E402
from rmt_idinit import plotting  # noqa: E402


def test_import_does_not_pull_matplotlib_or_torch():
    code = ("import sys, rmt_idinit, rmt_idinit.selection, rmt_idinit.cli; "
            "print('matplotlib' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_phase_diagram_labels_legend_region():
    fig, ax = plt.subplots()
    out = plotting.phase_diagram(50, n_sigma=60, n_q0=50, ax=ax, marks=[(1.0, 0.2, "sigma = 1")])
    assert out is ax
    assert "sigma" in ax.get_xlabel() and "q0" in ax.get_ylabel()
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "feasible region" in labels and "sigma = 1" in labels
    assert any(t.get_text() == "feasible" for t in ax.texts)
    plt.close(fig)


def test_phase_diagram_tanh_small():
    ax = plotting.phase_diagram(20, activation="tanh", n_sigma=12, n_q0=10)
    assert ax.get_title().startswith("tanh")
    plt.close(ax.figure)


def test_layer_alphas_and_law():
    ax = plotting.plot_layer_alphas([(1.0, 0.2), (1.02, 0.2)], 30)
    assert len(ax.get_lines()) == 2 and ax.get_legend() is not None
    plt.close(ax.figure)
    law = ri.jjt_law(1.02, 0.1, 50)
    ax = plotting.plot_law(law, sample=law.rvs(1000, rng=0))
    assert ax.get_xlabel().startswith("eigenvalue") and ax.get_legend() is not None
    plt.close(ax.figure)
    tl = ri.jjt_law(1.0, 0.01, 10, "tanh")
    ax = plotting.plot_law(tl, sample=tl.rvs(2000, rng=1), title="tanh, L = 10, sigma = 1, q0 = 0.01")
    # the law of log10 lambda: density of log10 lambda integrates to the continuous mass
    assert ax.get_xlabel().startswith("log10 lambda") and "q0 = 0.01" in ax.get_title()
    x, y = ax.get_lines()[0].get_data()
    # independent of the pdf: central differences of the cdf in log10 lambda (interior points;
    # the upper edge carries an integrable 1/sqrt spike); step 1e-4 decades -> error ~1e-8 relative
    xi, yi = x[50:-50:25], y[50:-50:25]
    h = 1e-4
    num = (np.asarray(tl.cdf(10 ** (xi + h))) - np.asarray(tl.cdf(10 ** (xi - h)))) / (2 * h)
    assert np.allclose(yi, num, rtol=1e-4, atol=1e-9)
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="batch_shape"):
        plotting.plot_law(ri.jjt_law(np.array([1.0, 1.1]), 0.1, 5))
