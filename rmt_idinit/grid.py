"""Moments of the identity-init law on large (sigma, q0) grids, sharing work across q0.

At identity init the input scale enters only through the input measure: the per-unit map
``u -> g_L(u)`` depends on sigma, depth and bias, not on q0. So for each sigma the layer recursion
runs once on a u-grid that serves every q0, and each q0 only re-weights the same nodes::

    E_q0[lambda^k] = sum_j w_j N(u_j; 0, q0) g_L(u_j)^(2k).

The nodes are composite 16-point Gauss-Legendre panels on a geometric grid in ``|u|`` (several
panels per octave), which resolves both the input Gaussians of every scale and the changes of the
gain at ``|u| ~ sigma^(-l)``. This shared grid is used for odd smooth activations with decreasing phi' (tanh, erf) and no bias,
whose gain decreases in ``|u|``; piecewise-linear ones take their exact law; other activations can
have gain peaks near unstable fixed points that only per-law adaptive panels resolve, so for them
this function evaluates ``jjt_law(...).log_moment`` over the grid instead.
"""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ._core import checks as _checks
from ._core import deprecation as _deprecation
from ._core import gauss
from ._core.logsum import logsumexp
from .activations import Activation, get_activation
from ._core.gaussian import Z_MAX
from .recursion import run_layers

__all__ = ["log_moment_grid", "moment_grid"]



def _u_nodes(u_lo: float, u_hi: float, per_octave: int, symmetric: bool) -> tuple[np.ndarray, np.ndarray]:
    n_oct = max(1, int(math.ceil(math.log2(u_hi / u_lo) * per_octave)))
    edges = np.concatenate([[0.0], u_lo * np.exp2(np.arange(n_oct + 1) / per_octave)])
    x, w = gauss.legendre(16)
    a, b = edges[:-1, None], edges[1:, None]
    u = (0.5 * (b - a) * x + 0.5 * (a + b)).ravel()
    wu = (0.5 * (b - a) * w).ravel()
    if symmetric:
        return u, 2.0 * wu
    return np.concatenate([-u[::-1], u]), np.concatenate([wu[::-1], wu])


@_deprecation.keyword_only("log_moment_grid", ("k", "bias"), 4)
def log_moment_grid(sigma: Any, q0: Any, depth: int, activation: str | Activation | None = None, *,
                    k: float = 1.0, bias: float = 0.0, per_octave: int = 4,
                    **activation_params: float) -> np.ndarray:
    """``log E[lambda_L^k]`` on the outer grid ``sigma x q0``, shape ``(len(sigma), len(q0))``.

    Parameters
    ----------
    sigma, q0 : 1-D array_like
        Grid axes (finite, > 0).
    depth : int
    activation : str or Activation
        Default ``"hardtanh"`` as everywhere in the package (it was ``"tanh"`` before 0.2: a call
        without it warns until 0.3). Piecewise-linear activations take their exact law.
    k : float
        Moment order (keyword-only).
    bias : float
        Constant bias (keyword-only).
    per_octave : int
        Gauss-Legendre panels per octave of ``|u|``.

    Examples
    --------
    >>> import numpy as np, rmt_idinit as ri
    >>> from rmt_idinit.grid import log_moment_grid
    >>> g = log_moment_grid([1.0, 1.05], [0.5, 1.0], 30, "tanh")
    >>> bool(np.allclose(np.exp(g[1, 0]), ri.jjt_law(1.05, 0.5, 30, "tanh").mean(), rtol=1e-8))
    True
    """
    if activation is None:
        warnings.warn("log_moment_grid's default activation is 'hardtanh' since 0.2 (it was 'tanh'); "
                      "pass activation= explicitly (this warning goes in 0.3)", DeprecationWarning, stacklevel=2)
        activation = "hardtanh"
    act = get_activation(activation, **activation_params)
    s = np.atleast_1d(_checks.check_positive("sigma", sigma))
    q = np.atleast_1d(_checks.check_positive("q0", q0))
    if s.ndim != 1 or q.ndim != 1:
        raise ValueError("sigma and q0 must be 1-D grid axes")
    if not s.size or not q.size:
        raise ValueError(f"sigma and q0 must be non-empty grid axes, got sizes sigma {s.size}, q0 {q.size}")
    d = _checks.check_scalar_int("depth", depth)
    b = _checks.check_scalar("bias", bias)
    kk = _checks.check_scalar("k", k)
    per_octave = _checks.check_scalar_int("per_octave", per_octave, minimum=1)
    symmetric = act.even_decreasing_gain and b == 0.0
    # the gain peak at u = 0 has width ~ mu^-L, mu = sigma*phi'(0) (not sigma: erf has phi'(0) > 1)
    mu_max = max(float(s.max()) * abs(float(np.asarray(act.dphi(np.float64(0.0))))), 1.0)
    if act.pieces is not None or not symmetric or d * math.log(mu_max) > 600.0:
        # Piecewise-linear gains jump (hard-tanh at |u| = sigma^(-l)) inside the shared panels, and
        # their laws are exact atoms anyway. Non-monotone gains (gelu, silu, bias...) can peak sharply near unstable fixed points,
        # which a q0-independent grid cannot resolve, and a peak at u = 0 narrower than ~1e-260
        # is below its smallest node: use the adaptive law, batched over the grid.
        from .identity import jjt_law

        return np.asarray(jjt_law(s[:, None], q[None, :], d, act, bias=b).log_moment(kk))
    # the gain changes at |u| ~ sigma^(-depth) for sigma > 1: start the octaves well below that
    with np.errstate(under="ignore"):
        u_lo = float(np.clip(1e-3 * math.exp(-d * math.log(mu_max)), 1e-300, 1e-6))
        u_lo = min(u_lo, 1e-6 * math.sqrt(float(q.min())))
    u_hi = Z_MAX * math.sqrt(float(q.max()))
    u, wu = _u_nodes(u_lo, u_hi, per_octave, symmetric)
    # the log weights and weighted terms are (q0, nodes) per sigma: bound them before allocating
    _checks.check_memory(8.0 * 4 * q.size * u.size,
                         f"q0 (an array of {q.size} values: the weighted terms of one sigma on the q0 x node grid)")
    # log weights per q0: log(w_j) + log N(u_j; 0, q0)
    with np.errstate(divide="ignore"):
        logw = np.log(wu)[None, :] - 0.5 * u[None, :] ** 2 / q[:, None] - 0.5 * np.log(2 * math.pi * q)[:, None]
    out = np.empty((s.size, q.size))
    chunk = max(1, int(4e6 // (u.size * q.size)))
    for start in range(0, s.size, chunk):
        ss = s[start:start + chunk]
        lg, _ = run_layers(act, ss, np.full(ss.size, b), np.broadcast_to(u, (ss.size, u.size)), np.array([d]))
        terms = 2.0 * kk * lg[0][:, None, :] + logw[None, :, :]
        out[start:start + chunk] = logsumexp(terms, axis=-1)
    return out


@_deprecation.keyword_only("moment_grid", ("k", "bias"), 4)
def moment_grid(sigma: Any, q0: Any, depth: int, activation: str | Activation | None = None, *,
                k: float = 1.0, bias: float = 0.0, **kwargs: Any) -> np.ndarray:
    """``E[lambda_L^k]`` on the grid (``inf`` beyond double range; see :func:`log_moment_grid`)."""
    if activation is None:
        warnings.warn("moment_grid's default activation is 'hardtanh' since 0.2 (it was 'tanh'); "
                      "pass activation= explicitly (this warning goes in 0.3)", DeprecationWarning, stacklevel=2)
        activation = "hardtanh"
    with np.errstate(over="ignore"):
        return np.exp(log_moment_grid(sigma, q0, depth, activation, k=k, bias=bias, **kwargs))
