"""The plotting package: one module per layer, ``ax=`` keyword-only, the Axes returned, no show(),
no matplotlib at import, and the old import paths forwarding with a DeprecationWarning."""
import importlib
import inspect
import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import rmt_idinit as ri  # noqa: E402
from rmt_idinit import plotting  # noqa: E402
from rmt_idinit.random_init.compare import compare  # noqa: E402

MODULES = ("theory", "random_init", "interpretation", "figure_check")


def test_every_helper_is_in_one_submodule_and_reexported():
    seen = {}
    for name in MODULES:
        mod = importlib.import_module(f"rmt_idinit.plotting.{name}")
        for fn in mod.__all__:
            assert fn not in seen, f"{fn} in both {seen.get(fn)} and {name}"
            seen[fn] = name
            assert getattr(plotting, fn) is getattr(mod, fn)
            assert getattr(mod, fn).__module__ == mod.__name__
    assert sorted(seen) == sorted(plotting.__all__)


def test_ax_is_keyword_only_everywhere():
    with_ax = []
    for name in plotting.__all__:
        params = inspect.signature(getattr(plotting, name)).parameters
        if "ax" in params:
            with_ax.append(name)
            assert params["ax"].kind is inspect.Parameter.KEYWORD_ONLY, name
            assert params["ax"].default is None, name
    # every single-panel helper draws on a given Axes
    assert set(with_ax) == set(plotting.__all__) - {"plot_map_grid", "figure_problems"}


def _calls():
    law = ri.jjt_law(1.02, 0.1, 20)
    d = {"counts": [0, 1, 2], "full_accuracy": 0.9, "drop_importance": [0.9, 0.5, 0.2],
         "drop_random_mean": [0.9, 0.85, 0.8], "drop_random_min": [0.9, 0.8, 0.7], "drop_random_max": [0.9, 0.9, 0.85]}
    return {
        "phase_diagram": lambda ax: plotting.phase_diagram(10, n_sigma=8, n_q0=8, ax=ax),
        "plot_layer_alphas": lambda ax: plotting.plot_layer_alphas([(1.0, 0.2)], 10, ax=ax),
        "plot_law": lambda ax: plotting.plot_law(law, ax=ax),
        "plot_compare": lambda ax: plotting.plot_compare(compare(3, "relu", q0=1.0, n_grid=64), ax=ax),
        "plot_layer_accuracy": lambda ax: plotting.plot_layer_accuracy([0.3, 0.6], ax=ax),
        "plot_map": lambda ax: plotting.plot_map(np.eye(3), ax=ax),
        "plot_subset_sizes": lambda ax: plotting.plot_subset_sizes([3, 5], ax=ax),
        "plot_drop_curves": lambda ax: plotting.plot_drop_curves(d, ax=ax),
    }


def test_helpers_draw_on_the_given_axes_and_never_show(monkeypatch):
    def no_show(*a, **k):
        raise AssertionError("plt.show() called")

    monkeypatch.setattr(plt, "show", no_show)
    calls = _calls()
    assert set(calls) == {n for n in plotting.__all__
                          if "ax" in inspect.signature(getattr(plotting, n)).parameters}
    for name, call in calls.items():
        fig, ax = plt.subplots()
        n_before = len(plt.get_fignums())
        out = call(ax)
        assert out is ax, name
        assert len(plt.get_fignums()) == n_before, f"{name} opened a figure of its own"
        assert ax.has_data() or ax.images, f"{name} drew nothing"
        plt.close("all")


def test_import_pulls_neither_matplotlib_nor_the_random_init_numerics():
    code = ("import sys, rmt_idinit.plotting; "
            "print('matplotlib' in sys.modules, 'numba' in sys.modules, 'rmt_idinit.random_init.freeprob' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "False"]


def test_old_plot_compare_name_forwards_with_a_warning():
    from rmt_idinit.random_init import compare as cmp

    with pytest.warns(DeprecationWarning, match="rmt_idinit.plotting"):
        old = cmp.plot_compare
    assert old is plotting.plot_compare
    with pytest.raises(AttributeError):
        cmp.no_such_name  # noqa: B018


def test_old_interpret_plots_module_forwards_with_a_warning():
    pytest.importorskip("torch")
    sys.modules.pop("rmt_idinit.nn.interpret_plots", None)
    with pytest.warns(DeprecationWarning, match="rmt_idinit.plotting.interpretation"):
        old = importlib.import_module("rmt_idinit.nn.interpret_plots")
    new = importlib.import_module("rmt_idinit.plotting.interpretation")
    assert old.__all__ == new.__all__
    assert all(getattr(old, n) is getattr(new, n) for n in new.__all__)
