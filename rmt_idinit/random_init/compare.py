"""Identity versus random (orthogonal, Gaussian) initialization at matched settings.

(This module is ``rmt_idinit.random_init.compare``; ``rmt_idinit.compare`` is the function, whatever
was imported first.) The random inits are taken at criticality with fixed point ``q* = q0`` (so that both networks see
inputs of the same variance) unless ``sigma_w``/``sigma_b`` are given; identity init uses
``sigma`` (default 1). Pure numerics; the plot is :func:`rmt_idinit.plotting.plot_compare`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._core import checks as _checks
from ..activations import Activation, get_activation
from ..identity import jjt_law
from ..laws import SpectralLaw
from .freeprob import check_depth, random_jjt_law
from .law import RandomInitLaw

__all__ = ["Comparison", "compare"]


@dataclass
class Comparison:
    """Laws and summary numbers of identity / orthogonal / Gaussian initialization.

    ``summary[name]`` holds ``mean``, ``var``, ``edge`` (largest point of the support) and
    ``dead`` (mass of the atom at 0: the fraction of directions with zero gradient).
    """

    depth: int
    activation: str
    q0: float
    sigma: float
    laws: dict[str, SpectralLaw] = field(default_factory=dict)
    summary: dict[str, dict[str, float]] = field(default_factory=dict)


def _summary(law: SpectralLaw) -> dict[str, float]:
    la, w = law.log_atoms.reshape(-1), law.weights.reshape(-1)
    dead = float(w[np.isneginf(la)].sum())
    pos = w > 0
    edge = float(np.exp(la[pos].max())) if pos.any() else 0.0
    if isinstance(law, RandomInitLaw):
        edge = max(edge, law.lambda_max)
    return {"mean": float(law.mean()), "var": float(law.var()), "edge": edge, "dead": dead}


def compare(depth: int, activation: str | Activation = "hardtanh", q0: float = 0.5, sigma: float = 1.0,
            *, weights: tuple[str, ...] = ("orthogonal", "gaussian"), sigma_w: float | None = None,
            sigma_b: float | None = None, n_grid: int = 1024, **activation_params: float) -> Comparison:
    """Identity init (``W = sigma I``, inputs ``N(0, q0)``) against critical random inits with ``q* = q0``.

    Examples
    --------
    >>> r = compare(10, "hardtanh", q0=0.5)
    >>> sorted(r.laws), round(r.summary["orthogonal"]["var"], 6)  # L (1 - p)/p
    (['gaussian', 'identity', 'orthogonal'], 1.866608)
    """
    act = get_activation(activation, **activation_params)
    depth = check_depth(depth)
    q0 = _checks.check_scalar("q0", q0, _checks.check_positive)
    sigma = _checks.check_scalar("sigma", sigma, _checks.check_positive)
    if isinstance(weights, str) or not all(isinstance(w, str) for w in weights):
        raise TypeError(f"weights must be a tuple of 'orthogonal'/'gaussian', got {weights!r}")
    res = Comparison(depth, act.name, q0, sigma)
    res.laws["identity"] = jjt_law(sigma, q0, depth, act)
    for kind in weights:
        if sigma_w is None and sigma_b is None:
            law = random_jjt_law(depth, act, kind, q_star=q0, n_grid=n_grid)
        else:
            law = random_jjt_law(depth, act, kind, sigma_w=sigma_w, sigma_b=sigma_b, n_grid=n_grid)
        res.laws[kind] = law
    res.summary = {k: _summary(v) for k, v in res.laws.items()}
    return res


def __getattr__(name: str):
    # plot_compare moved to rmt_idinit.plotting.random_init (the numerics never import matplotlib)
    if name == "plot_compare":
        import warnings

        from ..plotting.random_init import plot_compare

        warnings.warn("rmt_idinit.random_init.compare.plot_compare moved to rmt_idinit.plotting.plot_compare; "
                      "the old name goes in 0.3", DeprecationWarning, stacklevel=2)
        return plot_compare
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
