"""rmt_idinit: exact Jacobian spectra of identity-initialized deep networks.

Identity initialization (W = sigma*I) makes the input-output Jacobian diagonal, so the eigenvalues
of J Jᵀ are exactly ``g_L(u_i)^2`` for a scalar per-unit map; this package gives that law in
closed form (piecewise-linear activations), by quadrature (any elementwise activation), symbolically
and at arbitrary precision, with random-init baselines and torch tools for real networks.

The top level holds the core results (about twenty names, :data:`__all__`); everything else lives
in a named submodule: ``ri.selection`` (choosing sigma and q0), ``ri.random_init`` (mean field,
free probability, comparison), ``ri.precise`` (mpmath) and ``ri.symbolic`` (sympy) with the same
names and signatures as the float64 functions, ``ri.finite``, ``ri.grid``, ``ri.laws``,
``ri.activations``, ``ri.errors``, ``ri.nn``, ``ri.data`` and ``ri.plotting``. Names that used to
sit at the top level still resolve for one release, with a DeprecationWarning naming their home.

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

from ._core.errors import AccuracyWarning, RmtIdinitWarning
from .activations import Activation, get_activation, register_activation
from .identity import (
    alpha,
    alpha_complement,
    forward_moments,
    jjt_eigenvalues,
    jjt_law,
    layer_alphas,
    log_alpha_complement,
)
from .laws import SpectralLaw

# Heavier layers load on first use, so `import rmt_idinit` stays quick (no numba, scipy.optimize,
# sympy, mpmath, torch or matplotlib at import time).
_LAZY = {
    # the one argument order (sigma, q0, depth, activation, *, options); rmt_idinit.selection keeps
    # the old positional orders for one release
    **{name: ("select", name) for name in (
        "dead_fraction", "is_feasible", "is_trainable", "feasible_sigma_interval", "max_q0", "max_depth",
        "best_sigma")},
    "compare": ("random_init.compare", "compare"),
    "random_jjt_law": ("random_init.freeprob", "random_jjt_law"),
}

# Former top-level names: (module, attribute) of their one home; they warn for one release.
_MOVED = {
    "ACTIVATIONS": ("activations", "ACTIVATIONS"),
    "GridDensity": ("laws", "GridDensity"),
    **{name: ("select", name) for name in (
        "feasible_region", "FeasibleRegion", "gradient_scale", "isometry_loss", "sweep")},
    **{name: ("grid", name) for name in ("log_moment_grid", "moment_grid")},
    **{name: ("random_init.meanfield", name) for name in (
        "q_map", "q_star", "q_layers", "c_map", "c_star", "chi1", "depth_scales", "critical_line")},
    "fuss_catalan_law": ("random_init.freeprob", "fuss_catalan_law"),
    "random_jjt_moments": ("random_init.freeprob", "jjt_moments"),
    "random_jjt_edge": ("random_init.freeprob", "jjt_edge"),
    "random_jjt_density": ("random_init.freeprob", "jjt_density"),
    "plot_compare": ("plotting", "plot_compare"),
    **{name: ("finite", name) for name in ("count_law", "dkw_band", "dkw_epsilon", "goodness_of_fit", "ks_distance")},
}

_SUBMODULES = ("activations", "laws", "identity", "piecewise", "recursion", "grid", "finite", "precise",
               "symbolic", "selection", "select", "plotting", "random_init", "errors", "nn", "data", "cli",
               "report")


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{mod}", __name__), attr)
        globals()[name] = value
        return value
    if name in _MOVED:
        import warnings

        mod, attr = _MOVED[name]
        warnings.warn(f"rmt_idinit.{name} left the top level in 0.2 and goes in 0.3; use rmt_idinit.{mod}.{attr}",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(f".{mod}", __name__), attr)
    if name in _SUBMODULES:
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module 'rmt_idinit' has no attribute {name!r}")


def __dir__():
    return sorted(set(__all__) | set(_SUBMODULES) | {"__version__", "__citation__"})


__all__ = [
    # the law of J Jᵀ at identity initialization (float64)
    "jjt_law",
    "jjt_eigenvalues",
    "SpectralLaw",
    "alpha",
    "alpha_complement",
    "log_alpha_complement",
    "layer_alphas",
    "forward_moments",
    # activations
    "Activation",
    "get_activation",
    "register_activation",
    # choosing sigma and q0
    "dead_fraction",
    "is_feasible",
    "feasible_sigma_interval",
    "max_q0",
    "max_depth",
    "best_sigma",
    "is_trainable",
    # random-init baselines
    "compare",
    "random_jjt_law",
    # the package's warnings
    "RmtIdinitWarning",
    "AccuracyWarning",
]
