"""Identity vs random init comparison."""
import math
import sys

import pytest

from rmt_idinit.plotting import plot_compare
from rmt_idinit.random_init.compare import compare


def test_compare_summary_matches_theory():
    r = compare(8, "hardtanh", q0=0.5, sigma=1.0)
    p = math.erf(1.0)  # alpha^1 at sigma = 1, q0 = 1/2 equals p at q* = 1/2
    assert r.summary["identity"]["dead"] == pytest.approx(1 - p, abs=1e-12)
    assert r.summary["identity"]["edge"] == pytest.approx(1.0)
    for kind, var in (("orthogonal", 8 * (1 - p) / p), ("gaussian", 8 / p)):
        s = r.summary[kind]
        assert s["dead"] == pytest.approx(1 - p, abs=1e-12)
        assert s["mean"] == pytest.approx(1.0, rel=1e-9)
        assert s["var"] == pytest.approx(var, rel=1e-8)
    assert r.summary["gaussian"]["edge"] > r.summary["orthogonal"]["edge"] > 1.0


def test_plot_compare_returns_axes():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = compare(3, "relu", q0=1.0, n_grid=256)
    ax = plot_compare(r)
    assert ax.get_xscale() == "log" and len(ax.get_lines()) == 3
    plt.close(ax.figure)


def test_meanfield_import_is_light():
    import subprocess

    code = "import sys, rmt_idinit.random_init.meanfield; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_compare_is_one_name_one_thing():
    """``ri.compare`` is the function before and after importing the submodule (which used to
    share its name and replace the attribute)."""
    code = ("import rmt_idinit as ri; a = ri.compare; import rmt_idinit.random_init.compare; b = ri.compare; "
            "from rmt_idinit import compare as c; "
            "print(callable(a), a is b is c, type(ri.random_init.compare).__name__)")
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True", "module"]
    code2 = "import rmt_idinit.random_init.compare, rmt_idinit as ri; print(callable(ri.compare))"
    out2 = subprocess.run([sys.executable, "-c", code2], capture_output=True, text=True, check=True).stdout
    assert out2.split() == ["True"]


@pytest.mark.parametrize("kwargs, exc, word", [
    ({"depth": 10, "q0": None}, TypeError, "q0"),
    ({"depth": float("inf")}, ValueError, "depth"),
    ({"depth": 10 ** 9}, ValueError, "depth"),
    ({"depth": 2.5}, ValueError, "depth"),
    ({"depth": 3, "q0": -1.0}, ValueError, "q0"),
    ({"depth": 3, "sigma": float("nan")}, ValueError, "sigma"),
    ({"depth": 3, "weights": "gaussian"}, TypeError, "weights"),
])
def test_compare_bad_input(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        compare(**kwargs)
