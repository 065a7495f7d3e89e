"""rmt_idinit: exact Jacobian spectra of identity-initialized deep networks.

Identity initialization (W = sigma*I) makes the input-output Jacobian diagonal, so the eigenvalues
of J Jᵀ are exactly ``g_L(u_i)^2`` for a scalar per-unit map; this package gives that law in
closed form (piecewise-linear activations), by quadrature (any elementwise activation), symbolically
and at arbitrary precision, with random-init baselines and torch tools for real networks.

>>> import rmt_idinit as ri
>>> round(float(ri.alpha(1.02, 0.1, 50)), 6)
0.759955
"""
from __future__ import annotations

__version__ = "0.1.0"

__citation__ = (
    "S. Kubota, H. Hayashi, T. Hayase, S. Uchida, 'Layer-wise interpretation of deep neural "
    "networks using identity initialization', ICASSP 2021 (arXiv:2102.13333)."
)

from .activations import ACTIVATIONS, Activation, get_activation, register_activation
from .identity import (
    alpha,
    alpha_complement,
    forward_moments,
    jjt_eigenvalues,
    jjt_law,
    layer_alphas,
    log_alpha_complement,
)
from .laws import GridDensity, SpectralLaw

# Heavier layers load on first use, so `import rmt_idinit` stays quick (no numba, scipy.optimize,
# dask, torch or matplotlib at import time).
_LAZY = {
    **{name: "selection" for name in (
        "best_sigma", "dead_fraction", "feasible_region", "feasible_sigma_interval", "gradient_scale",
        "is_feasible", "isometry_loss", "max_depth", "max_q0", "sweep", "FeasibleRegion")},
    **{name: "grid" for name in ("log_moment_grid", "moment_grid")},
    **{name: "random_init.meanfield" for name in (
        "q_map", "q_star", "q_layers", "c_map", "c_star", "chi1", "depth_scales", "critical_line")},
    **{name: "random_init.freeprob" for name in ("random_jjt_law", "fuss_catalan_law")},
    **{name: "random_init.compare" for name in ("compare", "plot_compare")},
    **{name: "finite" for name in ("count_law", "dkw_band", "dkw_epsilon", "goodness_of_fit", "ks_distance")},
}
_SUBMODULES = ("activations", "laws", "identity", "piecewise", "recursion", "grid", "finite", "precise",
               "symbolic", "selection", "plotting", "random_init", "errors", "nn", "data", "cli")


# random-init names that would otherwise read as identity-init functions
_RENAMED = {"random_jjt_moments": ("random_init.freeprob", "jjt_moments"), "random_jjt_edge": ("random_init.freeprob", "jjt_edge"),
            "random_jjt_density": ("random_init.freeprob", "jjt_density")}


def __getattr__(name: str):
    import importlib

    if name in _RENAMED:
        mod, attr = _RENAMED[name]
        value = getattr(importlib.import_module(f".{mod}", __name__), attr)
        globals()[name] = value
        return value
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'rmt_idinit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_RENAMED) | set(_SUBMODULES))

__all__ = [
    "__version__",
    "__citation__",
    "ACTIVATIONS",
    "Activation",
    "get_activation",
    "register_activation",
    "alpha",
    "alpha_complement",
    "log_alpha_complement",
    "layer_alphas",
    "jjt_law",
    "jjt_eigenvalues",
    "forward_moments",
    "SpectralLaw",
    "GridDensity",
    *_LAZY,
    *_RENAMED,
]
