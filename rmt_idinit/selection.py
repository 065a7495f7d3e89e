r"""Choosing ``(sigma, q0)`` for an identity-initialized network of depth L (docs/theory/selection.md).

Isometry needs the nonzero eigenvalues of J Jᵀ near 1 and almost no dead units. Two tolerances
make this precise:

* ``eps`` on the **dead fraction** ``D(sigma, q0, L)``;
* ``kappa`` on the **gradient scale** ``S(sigma, q0, L)``: ``1/kappa <= S <= kappa``.

Definitions (the choices this module makes, and why):

* hard-tanh: ``D = 1 - alpha`` (the exact mass of the eigenvalue 0) and ``S = sigma^(2L)`` (the
  nonzero atom). Closed forms, with ``c = erfinv(1 - eps) = erfcinv(eps)``::

      sigma > 1 :  D <= eps  <=>  q0 <= sigma^(-2L) / (2 c^2)
      sigma <= 1:  D <= eps  <=>  q0 <= 1 / (2 sigma^2 c^2)
      S in [1/kappa, kappa]  <=>  sigma in [kappa^(-1/(2L)), kappa^(1/(2L))]

* other piecewise-linear activations (relu, leaky relu, linear): ``D`` = mass of the exact zero
  eigenvalue, ``S`` = the median of the law (relu's half-dead law is never feasible for eps < 1/2).
* smooth activations (tanh, erf, gelu, ...): no eigenvalue is exactly 0, so a unit counts as dead
  when its eigenvalue lies below the lower end of the gradient window: ``D = P(lambda < 1/kappa)``.
  This is the hard-tanh definition wherever the hard-tanh window holds (there the only eigenvalue
  below ``1/kappa`` is 0), needs no activation-specific "maximal gain", and makes ``D`` depend on
  ``kappa``. ``S`` is the **median** of the law (for hard-tanh with eps < 1/2 the median *is*
  ``sigma^(2L)``); the window ``1/kappa <= median <= kappa`` is evaluated as
  ``P(lambda < 1/kappa) <= 1/2`` and ``P(lambda > kappa) <= 1/2``.

Numerics for smooth activations: ``{u : g_L(u)^2 < t}`` does not depend on ``q0``. Its boundary
points are bracketed on a log-spaced u-grid (plus u = 0) by one numba pass of the layer map, then
bisected to round-off; ``D`` for every ``q0`` is then a sum of Gaussian interval masses
(erfc in the tails, so tiny dead fractions keep their relative accuracy). Boundaries in ``q0``,
``sigma`` and ``L`` are found with :func:`scipy.optimize.brentq` on log scales.

The **best sigma** minimizes the isometry loss ``E[(lambda - 1)^2] = (m1 - 1)^2 + var``, over the
feasible sigma interval when ``eps``/``kappa`` are given. Hard-tanh: ``alpha (sigma^(2L) - 1)^2 +
1 - alpha``.

Examples
--------
>>> from rmt_idinit import selection as sel
>>> q = sel.max_q0(1.001, 100, 0.05)
>>> round(float(q), 6)
0.213151
>>> import rmt_idinit as ri
>>> round(float(ri.alpha_complement(1.001, q, 100)), 12)  # the boundary sits exactly at eps
0.05
"""
from __future__ import annotations

import math
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy import optimize, special

from ._core import checks as _checks
from .activations import Activation, get_activation
from .identity import alpha_complement, jjt_law

__all__ = [
    "DEFAULT_EPS",
    "DEFAULT_KAPPA",
    "dead_fraction",
    "log_gradient_scale",
    "gradient_scale",
    "isometry_loss",
    "is_feasible",
    "sigma_window",
    "feasible_sigma_interval",
    "max_q0",
    "max_q0_derivation",
    "max_depth",
    "best_sigma",
    "FeasibleRegion",
    "feasible_region",
    "sweep",
]

DEFAULT_EPS = 0.05
DEFAULT_KAPPA = 10.0
_PER_DECADE = 24          # u-grid density for bracketing level crossings
_Q0_SEARCH = (1e-30, 1e12)


# --- checks ---------------------------------------------------------------------------------

def _eps(eps: Any) -> np.ndarray:
    return _checks.check_probability("eps", eps)


def _kappa(kappa: Any) -> np.ndarray:
    k = _checks.as_float_array("kappa", kappa)
    bad = ~(np.isfinite(k) & (k > 1))
    if bad.any():
        raise ValueError(f"kappa must be a finite number > 1, got {float(k[bad].flat[0]) if k.ndim else float(k)!r}")
    return k


def _act(activation: str | Activation, params: Mapping[str, float]) -> Activation:
    return get_activation(activation, **params)


def _is_hardtanh(act: Activation) -> bool:
    return act.is_unit_clip


def _scalar(a: np.ndarray):
    a = np.asarray(a)
    return a[()] if a.ndim == 0 else a


# --- Gaussian masses of fixed u-sets ---------------------------------------------------------

def _gauss_interval(a: np.ndarray, b: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """P(a < u < b), u ~ N(0, sd^2), with the tail that keeps relative accuracy."""
    s = np.sqrt(2.0) * sd
    with np.errstate(invalid="ignore"):
        right = 0.5 * (special.erfc(a / s) - special.erfc(b / s))
        left = 0.5 * (special.erfc(-b / s) - special.erfc(-a / s))
        centre = 0.5 * (special.erf(b / s) - special.erf(a / s))
    out = np.where(a >= 0, right, np.where(b <= 0, left, centre))
    return np.where(b > a, out, 0.0)


@dataclass
class _LevelSets:
    """Sets ``{u : log|g_l(u)| < level_k}`` for layers ``record`` and sigmas ``sigma``.

    ``bounds[k, r, p, :]`` = ``[-inf, roots..., +inf, +inf...]``; segment i is inside the set
    iff ``state0 XOR (i odd)``.
    """

    sigma: np.ndarray
    record: np.ndarray
    levels: np.ndarray
    state0: np.ndarray      # (K, R, P) bool: is the leftmost segment inside
    bounds: np.ndarray      # (K, R, P, M + 2)

    def mass(self, sd: np.ndarray, k: int, r: Any = slice(None), p: Any = slice(None)) -> np.ndarray:
        """Gaussian mass for std ``sd`` broadcast against the selected ``(r, p)`` block."""
        b = self.bounds[k][r, p]                           # (..., M + 2)
        st = self.state0[k][r, p]
        nseg = b.shape[-1] - 1
        inside = st[..., None] ^ (np.arange(nseg) % 2 == 1)
        sd = np.asarray(sd, dtype=np.float64)[..., None]
        m = _gauss_interval(b[..., :-1], b[..., 1:], sd)
        return np.sum(np.where(inside, m, 0.0), axis=-1)


def _u_grid(u_lo: float, u_hi: float) -> np.ndarray:
    u_lo = max(u_lo, 1e-300)
    n = max(16, int(math.ceil(math.log10(u_hi / u_lo) * _PER_DECADE)) + 1)
    pos = np.geomspace(u_lo, u_hi, n)
    return np.concatenate([-pos[::-1], [0.0], pos])


def _level_sets(act: Activation, sigma: np.ndarray, record: np.ndarray, levels: Sequence[float],
                q0_range: tuple[float, float]) -> _LevelSets:
    """Bracket on a u-grid and bisect (numba) every crossing of ``log|g_l(u)|`` with each level."""
    from .recursion import refine_roots, run_layers

    sigma = np.atleast_1d(np.asarray(sigma, dtype=np.float64))
    record = np.atleast_1d(np.asarray(record, dtype=np.int64))
    levels = np.asarray(levels, dtype=np.float64)
    L = int(record.max())
    u_lo = 1e-3 * math.sqrt(q0_range[0])
    smax = float(sigma.max())
    if smax > 1.0:  # sigma > 1 amplifies |u| ~ sigma^(-L) into the nonlinearity
        u_lo = min(u_lo, 1e-2 * math.exp(-min(L * math.log(smax), 690.0)))
    u = _u_grid(u_lo, 40.0 * math.sqrt(q0_range[1]))
    P, R, K = sigma.size, record.size, levels.size
    lg, _ = run_layers(act, sigma, np.zeros(P), np.broadcast_to(u, (P, u.size)), record)  # (R, P, U)
    state0 = np.empty((K, R, P), dtype=bool)
    per_k = []
    for k, level in enumerate(levels):
        below = lg < level
        state0[k] = below[..., 0]
        r_i, p_i, j = np.nonzero(below[..., 1:] != below[..., :-1])
        roots = refine_roots(act, sigma[p_i], np.zeros(p_i.size), record[r_i], u[j], u[j + 1],
                             lg[r_i, p_i, j] - level, np.full(p_i.size, level)) if p_i.size else np.empty(0)
        per_k.append((r_i, p_i, roots))
    M = max([int(np.max(np.bincount(r_i * P + p_i), initial=0)) if r_i.size else 0
             for r_i, p_i, _ in per_k] + [0])
    bounds = np.full((K, R, P, M + 2), np.inf)
    bounds[..., 0] = -np.inf
    for k, (r_i, p_i, roots) in enumerate(per_k):
        if not r_i.size:
            continue
        flat = r_i * P + p_i                     # nonzero() yields them sorted by (r, p, j)
        start = np.searchsorted(flat, flat, side="left")
        slot = np.arange(flat.size) - start + 1
        bounds[k, r_i, p_i, slot] = roots
    return _LevelSets(sigma, record, levels, state0, bounds)


def _q0_span(q0: np.ndarray) -> tuple[float, float]:
    return float(np.min(q0)), float(np.max(q0))


# --- the two criteria -----------------------------------------------------------------------

def _params(sigma, q0, depth):
    s = _checks.check_positive("sigma", sigma)
    q = _checks.check_positive("q0", q0)
    d = _checks.check_depth(depth)
    return _checks.broadcast(sigma=s, q0=q, depth=d)


def _smooth_masses(act, s, q, d, levels, executor=None) -> list[np.ndarray]:
    """Gaussian masses of ``{log|g| < level}`` for each level, per broadcast element."""
    out = [np.empty(s.shape) for _ in levels]
    span = _q0_span(q) if q.size else (1.0, 1.0)
    for depth in np.unique(d):
        in_d = d == depth
        sig = np.unique(s[in_d])
        sets = _level_sets(act, sig, np.array([depth]), levels, span)
        p_of = np.searchsorted(sig, s[in_d])
        for k in range(len(levels)):
            out[k][in_d] = sets.mass(np.sqrt(q[in_d]), k, 0, p_of)
    return out


def dead_fraction(sigma: Any, q0: Any, depth: Any, activation: str | Activation = "hardtanh", *,
                  kappa: Any = DEFAULT_KAPPA, **activation_params: float) -> np.ndarray:
    """The dead fraction ``D`` of the J Jᵀ law.

    Piecewise-linear activations: ``D = P(lambda = 0)`` (hard-tanh: ``erfc(sigma^(-m)/sqrt(2 q0))``,
    m = L for sigma > 1 and 1 otherwise). Smooth activations: ``D = P(lambda < 1/kappa)``.

    Parameters
    ----------
    sigma, q0, depth : array_like
        Broadcast together.
    activation : str or Activation
    kappa : float
        Gradient-scale tolerance (> 1); only smooth activations use it here.

    Examples
    --------
    >>> round(float(dead_fraction(1.0, 0.2, 100)), 6)
    0.025347
    >>> round(float(dead_fraction(1.0, 1e-4, 10, "tanh", kappa=10)), 6)
    0.0
    """
    act = _act(activation, activation_params)
    k = _kappa(kappa)
    s, q, d = _params(sigma, q0, depth)
    if act.pieces is not None:
        return _scalar(np.asarray(alpha_complement(s, q, d, act)))
    if k.ndim:
        raise ValueError("kappa must be a single number for smooth activations")
    return _scalar(_smooth_masses(act, s, q, d, [-0.5 * math.log(float(k))])[0])


def log_gradient_scale(sigma: Any, q0: Any, depth: Any, activation: str | Activation = "hardtanh",
                       **activation_params: float) -> np.ndarray:
    """``log S``: ``2 L log(sigma)`` for hard-tanh, else the log of the law's median.

    Carried in logs because ``sigma^(2L)`` overflows for ``L log(sigma) > 354``.

    Examples
    --------
    >>> round(float(log_gradient_scale(1.01, 0.1, 100)), 6)
    1.990066
    """
    act = _act(activation, activation_params)
    s, q, d = _params(sigma, q0, depth)
    if _is_hardtanh(act):
        return _scalar(2.0 * d * np.log(s))
    law = jjt_law(s, q, d, act)
    if act.pieces is not None:
        # the median of an atomic law from its own atoms, in logs (atoms may overflow)
        la, w = np.asarray(law.log_atoms), np.asarray(law.weights)
        order = np.argsort(la, axis=-1)
        cum = np.cumsum(np.take_along_axis(w, order, -1), axis=-1)
        i = np.argmax(cum >= 0.5 - 1e-15, axis=-1)
        return _scalar(np.take_along_axis(np.take_along_axis(la, order, -1), i[..., None], -1)[..., 0])
    # in logs: deep medians lie far outside double range (tanh, sigma = 1.05, depth 1e4: ~e^-1982)
    return _scalar(np.asarray(law.ppf(np.full(s.shape, 0.5), log=True)))


def gradient_scale(sigma: Any, q0: Any, depth: Any, activation: str | Activation = "hardtanh",
                   **activation_params: float) -> np.ndarray:
    """``S = exp(log_gradient_scale(...))`` (``inf`` where it overflows).

    Examples
    --------
    >>> round(float(gradient_scale(1.01, 0.1, 100)), 6)
    7.316018
    """
    with np.errstate(over="ignore"):
        return _scalar(np.exp(log_gradient_scale(sigma, q0, depth, activation, **activation_params)))


def isometry_loss(sigma: Any, q0: Any, depth: Any, activation: str | Activation = "hardtanh",
                  **activation_params: float) -> np.ndarray:
    """``E[(lambda - 1)^2] = E[lambda^2] - 2 E[lambda] + 1``; 0 only for perfect isometry.

    Hard-tanh: ``alpha (sigma^(2L) - 1)^2 + 1 - alpha``.

    Examples
    --------
    >>> round(float(isometry_loss(1.0, 0.2, 100)), 6)
    0.025347
    """
    act = _act(activation, activation_params)
    s, q, d = _params(sigma, q0, depth)
    if _is_hardtanh(act):
        dead = np.asarray(alpha_complement(s, q, d))
        with np.errstate(over="ignore"):
            dev = np.expm1(2.0 * d * np.log(s))
        return _scalar((1.0 - dead) * dev * dev + dead)
    law = jjt_law(s, q, d, act)
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(law.moment(2)) - 2.0 * np.asarray(law.mean()) + 1.0
    return _scalar(np.maximum(out, 0.0))


def is_feasible(sigma: Any, q0: Any, depth: Any, eps: Any = DEFAULT_EPS, kappa: Any = DEFAULT_KAPPA,
                activation: str | Activation = "hardtanh", **activation_params: float) -> np.ndarray:
    """``D <= eps`` and ``1/kappa <= S <= kappa`` (see the module docstring for D and S).

    Examples
    --------
    >>> bool(is_feasible(1.0, 0.2, 100)), bool(is_feasible(1.05, 0.2, 100))
    (True, False)
    """
    act = _act(activation, activation_params)
    e, k = _eps(eps), _kappa(kappa)
    s, q, d = _params(sigma, q0, depth)
    if act.pieces is not None:
        ok_dead = np.asarray(dead_fraction(s, q, d, act)) <= e
        ls = np.asarray(log_gradient_scale(s, q, d, act))
        return _scalar(ok_dead & (np.abs(ls) <= np.log(k)))
    if k.ndim:
        raise ValueError("kappa must be a single number for smooth activations")
    lk = math.log(float(k))
    low, high = _smooth_masses(act, s, q, d, [-0.5 * lk, 0.5 * lk])
    # P(lambda > kappa) = 1 - P(lambda < kappa) (no atoms)
    return _scalar((low <= e) & (low <= 0.5) & (1.0 - high <= 0.5))


# --- closed forms (hard-tanh) --------------------------------------------------------------

def sigma_window(depth: Any, kappa: Any = DEFAULT_KAPPA) -> tuple[np.ndarray, np.ndarray]:
    """``[kappa^(-1/(2L)), kappa^(1/(2L))]``: the sigmas with ``1/kappa <= sigma^(2L) <= kappa``.

    Examples
    --------
    >>> [round(float(x), 6) for x in sigma_window(100, 10.0)]
    [0.988553, 1.011579]
    """
    d = _checks.check_depth(depth)
    k = _kappa(kappa)
    d, k = _checks.broadcast(depth=d, kappa=k)
    t = np.log(k) / (2.0 * d)
    return _scalar(np.exp(-t)), _scalar(np.exp(t))


def _ht_max_q0(s, d, e):
    c = special.erfcinv(e)
    m = np.where(s > 1.0, d, 1).astype(np.float64)
    with np.errstate(over="ignore", under="ignore"):
        return np.exp(-2.0 * m * np.log(s)) / (2.0 * c * c)


def _ht_sigma_eps(q, d, e):
    """Largest sigma with dead fraction <= eps (hard-tanh D increases with sigma)."""
    c = special.erfcinv(e)
    x = c * np.sqrt(2.0 * q)          # need sigma^(-m) >= x
    return np.where(x <= 1.0, np.exp(-np.log(x) / d), 1.0 / x)


def feasible_sigma_interval(depth: Any, q0: Any, eps: Any = DEFAULT_EPS, kappa: Any = DEFAULT_KAPPA,
                            activation: str | Activation = "hardtanh",
                            **activation_params: float) -> tuple[np.ndarray, np.ndarray]:
    """The feasible sigmas at ``(depth, q0)`` as an interval ``(lo, hi)``; NaN where empty.

    Hard-tanh (closed form): ``lo = kappa^(-1/(2L))`` and ``hi = min(kappa^(1/(2L)), s_eps)`` with
    ``s_eps = (c sqrt(2 q0))^(-1/L)`` if ``c sqrt(2 q0) <= 1`` else ``1/(c sqrt(2 q0))``,
    ``c = erfcinv(eps)``. Smooth activations: the edges of the feasible set on a sigma scan,
    refined by brentq on ``log sigma`` (assumes the feasible sigmas form one interval).

    Examples
    --------
    >>> [round(float(x), 6) for x in feasible_sigma_interval(100, 0.2)]
    [0.988553, 1.001319]
    """
    act = _act(activation, activation_params)
    e, k = _eps(eps), _kappa(kappa)
    d = _checks.check_depth(depth)
    q = _checks.check_positive("q0", q0)
    d, q, e, k = _checks.broadcast(depth=d, q0=q, eps=e, kappa=k)
    if _is_hardtanh(act):
        lo, hi = sigma_window(d, k)
        hi = np.minimum(hi, _ht_sigma_eps(q, d, e))
        empty = hi < lo
        return _scalar(np.where(empty, np.nan, lo)), _scalar(np.where(empty, np.nan, hi))
    lo, hi = np.full(d.shape, np.nan), np.full(d.shape, np.nan)
    for i in np.ndindex(d.shape):
        lo[i], hi[i] = _numeric_sigma_interval(act, int(d[i]), float(q[i]), float(e[i]), float(k[i]))
    return _scalar(lo), _scalar(hi)


def _sigma_scan(depth: int) -> np.ndarray:
    # lambda in the linear regime scales like sigma^(2L): scan log sigma on the scale 1/L
    return np.exp(np.linspace(-15.0, 15.0, 241) / depth)


def _numeric_sigma_interval(act, depth, q0, eps, kappa):
    sig = _sigma_scan(depth)

    def margin(s):
        # > 0 inside: smallest slack of the three conditions
        lk = math.log(kappa)
        low, high = _smooth_masses(act, np.atleast_1d(s), np.full(np.shape(np.atleast_1d(s)), q0),
                                   np.full(np.shape(np.atleast_1d(s)), depth), [-0.5 * lk, 0.5 * lk])
        return np.minimum(np.minimum(eps - low, 0.5 - low), 0.5 - (1.0 - high))

    m = margin(sig)
    ok = np.nonzero(m >= 0)[0]
    if not ok.size:
        return np.nan, np.nan
    f = lambda x: float(margin(np.array([math.exp(x)]))[0])  # noqa: E731
    i0, i1 = ok[0], ok[-1]
    lo = sig[i0] if i0 == 0 else math.exp(optimize.brentq(f, math.log(sig[i0 - 1]), math.log(sig[i0]), xtol=1e-15, rtol=1e-14))
    hi = sig[i1] if i1 == sig.size - 1 else math.exp(optimize.brentq(f, math.log(sig[i1]), math.log(sig[i1 + 1]), xtol=1e-15, rtol=1e-14))
    return lo, hi


# --- max_q0 -----------------------------------------------------------------------------------

def max_q0(sigma: Any, depth: Any, eps: Any = DEFAULT_EPS, activation: str | Activation = "hardtanh", *,
           kappa: Any = DEFAULT_KAPPA, **activation_params: float) -> np.ndarray:
    """Largest input variance ``q0`` with dead fraction ``<= eps`` (the input scale a target needs).

    Hard-tanh (closed form, ``c = erfcinv(eps) = erfinv(1 - eps)``)::

        q0_max = sigma^(-2L) / (2 c^2)    (sigma > 1)
        q0_max = 1 / (2 sigma^2 c^2)      (sigma <= 1)

    Smooth activations: the first crossing of ``P(lambda < 1/kappa) = eps`` as ``q0`` grows, by
    brentq on ``log q0`` (for tanh/erf the dead set is ``|u| > r``, so
    ``q0_max = r^2 / (2 c^2)``). ``0`` where even ``q0 -> 0`` is infeasible (e.g. tanh with
    ``sigma^(2L) < 1/kappa``), ``inf`` where no ``q0 <= 1e12`` reaches ``eps``.

    Examples
    --------
    >>> round(float(max_q0(0.9, 100, 0.05)), 6)
    0.32138
    >>> import rmt_idinit as ri
    >>> round(float(ri.alpha(0.9, max_q0(0.9, 100, 0.05), 100)), 12)
    0.95
    """
    act = _act(activation, activation_params)
    e = _eps(eps)
    k = _kappa(kappa)
    s = _checks.check_positive("sigma", sigma)
    d = _checks.check_depth(depth)
    s, d, e = _checks.broadcast(sigma=s, depth=d, eps=e)
    if _is_hardtanh(act):
        return _scalar(_ht_max_q0(s, d, e))
    if act.pieces is not None:
        # piecewise laws: dead mass is not monotone in general; scan then brentq on log q0
        return _scalar(_scan_q0(lambda qq, i: np.asarray(alpha_complement(s[i], qq, d[i], act)), s, e))
    if k.ndim:
        raise ValueError("kappa must be a single number for smooth activations")
    level = -0.5 * math.log(float(k))
    out = np.empty(s.shape)
    for depth_ in np.unique(d):
        in_d = d == depth_
        sig = np.unique(s[in_d])
        sets = _level_sets(act, sig, np.array([depth_]), [level], _Q0_SEARCH)
        for pos in np.ndindex(s.shape):
            if not in_d[pos]:
                continue
            p = int(np.searchsorted(sig, s[pos]))
            out[pos] = _first_crossing(lambda qq: sets.mass(np.sqrt(qq), 0, 0, p), float(e[pos]))
    return _scalar(out)


def max_q0_derivation(regime: str = "sigma > 1") -> dict:
    """The sympy derivation of the hard-tanh ``max_q0`` boundary (:mod:`rmt_idinit.symbolic`).

    Imported lazily so that the numerics never import sympy's solvers. Returns
    :func:`rmt_idinit.symbolic.derive_q0_boundary` (``equation``, ``x_solution``, ``boundary``,
    ``monotone``, ``inequality``); ``boundary`` evaluates to :func:`max_q0`.

    Examples
    --------
    >>> max_q0_derivation("sigma <= 1")["boundary"]
    1/(2*sigma**2*erfinv(1 - eps)**2)
    """
    from . import symbolic

    return symbolic.derive_q0_boundary(regime)


def _scan_q0(fn, s, e):
    out = np.empty(s.shape)
    for i in np.ndindex(s.shape):
        out[i] = _first_crossing(lambda qq: fn(qq, i), float(e[i]))
    return out


def _first_crossing(dead_of_q0: Callable[[np.ndarray], np.ndarray], eps: float) -> float:
    """sup{q0: dead(q') <= eps for all q' <= q0} by a log scan and brentq on log q0."""
    lq = np.linspace(math.log(_Q0_SEARCH[0]), math.log(_Q0_SEARCH[1]), 400)
    dead = np.asarray(dead_of_q0(np.exp(lq)), dtype=np.float64)
    over = np.nonzero(dead > eps)[0]
    if not over.size:
        return math.inf
    i = int(over[0])
    if i == 0:
        return 0.0
    # log-ratio target keeps the relative accuracy of tiny eps
    f = lambda x: math.log(max(float(np.asarray(dead_of_q0(np.array(math.exp(x))))), 1e-320)) - math.log(eps)  # noqa: E731
    return math.exp(optimize.brentq(f, lq[i - 1], lq[i], xtol=1e-14, rtol=1e-15, maxiter=200))


# --- max_depth ------------------------------------------------------------------------------

def max_depth(sigma: Any, q0: Any, eps: Any = DEFAULT_EPS, kappa: Any = DEFAULT_KAPPA,
              activation: str | Activation = "hardtanh", *, depth_limit: int = 10_000,
              **activation_params: float) -> np.ndarray:
    """Largest depth L such that every depth ``1..L`` is feasible (float; ``inf`` if unbounded).

    Hard-tanh (closed form, ``c = erfcinv(eps)``, ``x = c sqrt(2 q0)``):

    * sigma > 1: ``L <= min(-log(x) / log(sigma), log(kappa) / (2 log sigma))``;
    * sigma < 1: ``0`` if ``x > 1/sigma`` (the first layer already kills more than eps), else
      ``L <= log(kappa) / (2 log(1/sigma))``;
    * sigma = 1: ``inf`` if ``x <= 1`` else 0.

    Other activations: every layer's law from one pass of the layer map (up to ``depth_limit``);
    ``inf`` means feasible through ``depth_limit``. Returns 0 where depth 1 already fails.

    Examples
    --------
    >>> float(max_depth(1.001, 0.2, 0.05, 10.0))
    131.0
    >>> bool(is_feasible(1.001, 0.2, 131)), bool(is_feasible(1.001, 0.2, 132))
    (True, False)
    """
    act = _act(activation, activation_params)
    e, k = _eps(eps), _kappa(kappa)
    s = _checks.check_positive("sigma", sigma)
    q = _checks.check_positive("q0", q0)
    lim = _checks.check_scalar_int("depth_limit", depth_limit)
    s, q, e, k = _checks.broadcast(sigma=s, q0=q, eps=e, kappa=k)
    if _is_hardtanh(act):
        x = special.erfcinv(e) * np.sqrt(2.0 * q)
        ls = np.log(s)
        lk = np.log(k)
        with np.errstate(divide="ignore", invalid="ignore"):
            up = np.minimum(-np.log(x) / ls, lk / (2.0 * ls))
            down = np.where(x * s > 1.0, 0.0, lk / (-2.0 * ls))
            one = np.where(x <= 1.0, np.inf, 0.0)
        raw = np.where(s > 1.0, up, np.where(s < 1.0, down, one))
        # floor with a relative guard: a boundary that is an integer up to round-off counts
        out = np.where(np.isfinite(raw), np.floor(raw * (1 + 1e-13) + 1e-12), raw)
        return _scalar(np.maximum(out, 0.0))
    out = np.empty(s.shape)
    for i in np.ndindex(s.shape):
        out[i] = _numeric_max_depth(act, float(s[i]), float(q[i]), float(e[i]), float(k[i]), lim)
    return _scalar(out)


def _numeric_max_depth(act, sigma, q0, eps, kappa, limit):
    record = np.arange(1, limit + 1)
    if act.pieces is not None:
        ok = np.asarray(is_feasible(sigma, q0, record, eps, kappa, act))
        bad = np.nonzero(~ok)[0]
        return float(bad[0]) if bad.size else math.inf
    # Bisecting every layer's roots costs O(depth) per step, so the all-layer pass locates the
    # first failing depth with roots interpolated between grid nodes, and exact checks at single
    # depths then move that guess to the true boundary.
    from .recursion import run_layers

    lk = math.log(kappa)
    u = _u_grid(1e-4 * math.sqrt(q0), 40.0 * math.sqrt(q0))
    lg, _ = run_layers(act, np.array([sigma]), np.zeros(1), u[None, :], record)
    lg = lg[:, 0, :]
    sd = math.sqrt(q0)
    w = _gauss_interval(np.concatenate([[-np.inf], 0.5 * (u[1:] + u[:-1])]),
                        np.concatenate([0.5 * (u[1:] + u[:-1]), [np.inf]]), np.array(sd))
    low = (lg < -0.5 * lk) @ w
    high_above = (lg > 0.5 * lk) @ w
    ok = (low <= eps) & (low <= 0.5) & (high_above <= 0.5)
    bad = np.nonzero(~ok)[0]
    guess = int(bad[0]) + 1 if bad.size else limit + 1     # first failing depth (approx.)

    def exact_ok(depth):
        return bool(is_feasible(sigma, q0, depth, eps, kappa, act))

    L = min(guess, limit + 1)
    while L <= limit and exact_ok(L):
        L += 1
    while L > 1 and not exact_ok(L - 1):
        L -= 1
    return math.inf if L > limit else float(L - 1)


# --- best sigma -----------------------------------------------------------------------------

def best_sigma(depth: Any, q0: Any, activation: str | Activation = "hardtanh", *, eps: Any = None,
               kappa: Any = None, **activation_params: float) -> np.ndarray:
    """The sigma minimizing the isometry loss ``E[(lambda - 1)^2]`` at ``(depth, q0)``.

    With ``eps`` and ``kappa`` the search is restricted to :func:`feasible_sigma_interval`
    (NaN where it is empty); without them it is unconstrained. Hard-tanh loss:
    ``alpha (sigma^(2L) - 1)^2 + 1 - alpha`` (a scan of ``log sigma`` on the scale ``1/L``, then
    bounded Brent). The optimum sits slightly below 1: lowering sigma revives units faster than
    it shrinks ``sigma^(2L)`` near 1.

    Examples
    --------
    >>> s = best_sigma(100, 0.2)
    >>> round(float(s), 6)
    0.999...
    >>> bool(isometry_loss(s, 0.2, 100) <= isometry_loss(1.0, 0.2, 100))
    True
    """
    act = _act(activation, activation_params)
    d = _checks.check_depth(depth)
    q = _checks.check_positive("q0", q0)
    if (eps is None) != (kappa is None):
        raise ValueError("eps and kappa must be given together (or neither, for the unconstrained optimum)")
    if eps is not None:
        e, k = _eps(eps), _kappa(kappa)
        d, q, e, k = _checks.broadcast(depth=d, q0=q, eps=e, kappa=k)
        lo, hi = (np.asarray(a) for a in feasible_sigma_interval(d, q, e, k, act))
    else:
        d, q = _checks.broadcast(depth=d, q0=q)
        lo = np.exp(-15.0 / d)
        hi = np.exp(15.0 / d)
    out = np.full(d.shape, np.nan)
    for i in np.ndindex(d.shape):
        if not (np.isfinite(lo[i]) and np.isfinite(hi[i])):
            continue
        out[i] = _minimize_loss(act, int(d[i]), float(q[i]), float(lo[i]), float(hi[i]))
    return _scalar(out)


def _minimize_loss(act, depth, q0, lo, hi):
    if hi <= lo:
        return lo
    xs = np.linspace(math.log(lo), math.log(hi), 121 if _is_hardtanh(act) else 41)
    vals = np.asarray(isometry_loss(np.exp(xs), q0, depth, act))
    j = int(np.argmin(vals))
    a, b = xs[max(j - 1, 0)], xs[min(j + 1, xs.size - 1)]
    if a == b:
        return float(np.exp(xs[j]))
    res = optimize.minimize_scalar(lambda x: float(isometry_loss(math.exp(x), q0, depth, act)),
                                   bounds=(a, b), method="bounded",
                                   options={"xatol": 1e-12 * max(1.0, abs(a))})
    best = res.x if res.fun <= vals[j] else xs[j]
    return float(math.exp(best))


# --- the feasible region --------------------------------------------------------------------

@dataclass
class FeasibleRegion:
    """Result of :func:`feasible_region`; arrays are indexed ``[i_q0, i_sigma]`` (image layout).

    Attributes
    ----------
    sigma, q0 : 1-D grids.
    mask : bool, feasible points.
    alive : 1 - dead fraction (the nonzero-atom weight for hard-tanh).
    log_scale : log of the gradient scale (hard-tanh ``2 L log sigma``; smooth: NaN, the median
        constraint enters through ``mask``).
    q0_max : per sigma, the largest feasible-for-eps ``q0`` (the dead-fraction boundary curve).
    sigma_bounds : the kappa window ``(lo, hi)`` (hard-tanh; for smooth activations the edges of
        the mask at each q0, shape (2, n_q0)).
    """

    depth: int
    eps: float
    kappa: float
    activation: str
    sigma: np.ndarray
    q0: np.ndarray
    mask: np.ndarray
    alive: np.ndarray
    log_scale: np.ndarray
    q0_max: np.ndarray
    sigma_bounds: Any
    info: dict = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        """Fraction of grid points that are feasible."""
        return float(np.mean(self.mask))


def _smooth_region_chunk(sigma: np.ndarray, *, act, depth, q0, eps, kappa):
    lk = math.log(kappa)
    sets = _level_sets(act, sigma, np.array([depth]), [-0.5 * lk, 0.5 * lk], _q0_span(q0))
    sd = np.sqrt(q0)[:, None]
    P = sigma.size
    low = sets.mass(sd, 0, 0, slice(None))             # (n_q0, P)
    high = sets.mass(sd, 1, 0, slice(None))
    ok = (low <= eps) & (low <= 0.5) & (1.0 - high <= 0.5)
    qmax = np.array([_first_crossing(lambda qq, p=p: sets.mass(np.sqrt(qq), 0, 0, p), eps) for p in range(P)])
    return low.T, ok.T, qmax                            # per-sigma leading axis for sweep()


def feasible_region(depth: int, eps: float = DEFAULT_EPS, kappa: float = DEFAULT_KAPPA,
                    activation: str | Activation = "hardtanh", *, sigma: Any = None, q0: Any = None,
                    executor: Executor | None = None, chunk_size: int | None = None,
                    progress: bool = True, **activation_params: float) -> FeasibleRegion:
    """The feasible ``(sigma, q0)`` set at one depth, on a grid.

    Hard-tanh: closed form, vectorized (a 1000 x 1000 grid takes well under a second).
    Smooth activations: per sigma, the level sets ``{g_L^2 < 1/kappa}`` and ``{g_L^2 < kappa}``
    (one numba pass each chunk of sigmas), then Gaussian masses for every ``q0`` at once; chunks
    of sigmas go through :func:`sweep` (so any ``concurrent.futures.Executor`` works).

    Parameters
    ----------
    depth : int
    eps, kappa : float
        Tolerances: ``D <= eps`` and ``1/kappa <= S <= kappa``.
    sigma, q0 : 1-D array_like, optional
        Grids (default: ``sigma = exp(linspace(-3, 3, 201) / depth)``, ``q0 = logspace(-4, 1, 201)``).

    Examples
    --------
    >>> r = feasible_region(100, 0.05, 10.0, sigma=[0.99, 1.0, 1.01], q0=[0.01, 0.2, 0.5])
    >>> r.mask.astype(int).tolist()
    [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    """
    act = _act(activation, activation_params)
    e = _checks.check_scalar("eps", eps, lambda _, v: _eps(v))
    k = _checks.check_scalar("kappa", kappa, lambda _, v: _kappa(v))
    d = _checks.check_scalar_int("depth", depth)
    if chunk_size is not None:
        chunk_size = _checks.check_scalar_int("chunk_size", chunk_size)
    sig = np.exp(np.linspace(-3.0, 3.0, 201) / d) if sigma is None else _checks.check_positive("sigma", sigma)
    qq = np.logspace(-4, 1, 201) if q0 is None else _checks.check_positive("q0", q0)
    if sig.ndim != 1 or qq.ndim != 1 or not sig.size or not qq.size:
        raise ValueError("sigma and q0 must be non-empty 1-D grids")
    t0 = time.perf_counter()
    if _is_hardtanh(act):
        S, Q = np.meshgrid(sig, qq)
        dead = np.asarray(alpha_complement(S, Q, d))
        log_scale = 2.0 * d * np.log(S)
        win = sigma_window(d, k)
        mask = (dead <= e) & (np.abs(log_scale) <= math.log(k))
        q0_max = _ht_max_q0(sig, d, e)
        bounds: Any = (float(win[0]), float(win[1]))
    elif act.pieces is not None:
        S, Q = np.meshgrid(sig, qq)
        dead = np.asarray(dead_fraction(S, Q, d, act))
        log_scale = np.asarray(log_gradient_scale(S, Q, d, act))
        mask = (dead <= e) & (np.abs(log_scale) <= math.log(k))
        q0_max = np.asarray(max_q0(sig, d, e, act))
        bounds = _mask_edges(mask, sig)
    else:
        fn = partial(_smooth_region_chunk, act=act, depth=d, q0=qq, eps=e, kappa=k)
        low, ok, q0_max = sweep(fn, sig, chunk_size=chunk_size or 16, executor=executor,
                                progress=progress, desc=f"feasible region ({act.name})")
        dead, mask = low.T, ok.T
        log_scale = np.full(dead.shape, np.nan)
        bounds = _mask_edges(mask, sig)
    return FeasibleRegion(d, e, k, act.name, sig, qq, mask, 1.0 - dead, log_scale, np.asarray(q0_max),
                          bounds, {"seconds": time.perf_counter() - t0})


def _mask_edges(mask: np.ndarray, sig: np.ndarray) -> np.ndarray:
    lo = np.full(mask.shape[0], np.nan)
    hi = np.full(mask.shape[0], np.nan)
    for i, row in enumerate(mask):
        idx = np.nonzero(row)[0]
        if idx.size:
            lo[i], hi[i] = sig[idx[0]], sig[idx[-1]]
    return np.stack([lo, hi])


# --- sweeps ------------------------------------------------------------------------------

def _grid_axis(name: str, values: Any) -> np.ndarray:
    try:
        return np.asarray(values)
    except ValueError:  # ragged nested lists
        raise TypeError(f"{name} must be an array (not a ragged nested list)") from None


def _call_chunk(fn, kwargs):
    return fn(**kwargs) if isinstance(kwargs, dict) else fn(kwargs)


def sweep(fn: Callable[..., Any], grid: Any, *, chunk_size: int | None = None,
          executor: Executor | None = None, progress: bool = True, desc: str = "sweep") -> Any:
    """Evaluate a vectorized ``fn`` over a large grid in chunks, optionally on an executor.

    Parameters
    ----------
    fn : callable
        Vectorized: called as ``fn(**{name: 1-D chunk})`` for a mapping grid or ``fn(chunk)`` for
        an array grid; returns an array (or tuple / dict of arrays) whose leading axis has one
        entry per point of the chunk. Must be picklable for process pools (use
        :func:`functools.partial` rather than a lambda).
    grid : mapping of name -> 1-D array, or array
        A mapping is expanded to its full mesh (``indexing="ij"``) and the results are reshaped
        to ``(len(a), len(b), ...) + trailing``; an array is split along its first axis.
    chunk_size : int, optional
        Points per task (default: about 64 tasks, at least 1 point each).
    executor : concurrent.futures.Executor, optional
        ThreadPoolExecutor, ProcessPoolExecutor or ``dask.distributed.Client.get_executor()``;
        None runs in this process.
    progress : bool
        tqdm bar, shown only once the sweep has run for more than a second.

    Examples
    --------
    >>> from functools import partial
    >>> import rmt_idinit as ri
    >>> out = sweep(partial(ri.alpha, depth=50), {"sigma": [1.0, 1.02], "q0": [0.1, 1.0]}, progress=False)
    >>> out.round(4).tolist()
    [[0.9984, 0.6827], [0.76, 0.2898]]
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    if isinstance(grid, Mapping):
        if not grid:
            raise ValueError("grid must name at least one parameter")
        axes = {name: _grid_axis(f"grid[{name!r}]", v) for name, v in grid.items()}
        for name, v in axes.items():
            if v.ndim != 1 or v.size == 0:
                raise ValueError(f"grid[{name!r}] must be a non-empty 1-D array, got shape {v.shape}")
        shape = tuple(v.size for v in axes.values())
        mesh = np.meshgrid(*axes.values(), indexing="ij")
        flat = {name: m.ravel() for name, m in zip(axes, mesh)}
        n = int(np.prod(shape))
    else:
        arr = _grid_axis("grid", grid)
        if arr.ndim == 0 or arr.shape[0] == 0:
            raise ValueError("grid must be a mapping of 1-D arrays or a non-empty array")
        shape, flat, n = (arr.shape[0],), arr, arr.shape[0]
    if chunk_size is None:
        chunk_size = max(1, -(-n // 64))
    cs = _checks.check_scalar_int("chunk_size", chunk_size)
    starts = list(range(0, n, cs))
    tasks = [{k: v[a:a + cs] for k, v in flat.items()} if isinstance(flat, dict) else flat[a:a + cs]
             for a in starts]
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm
            bar = tqdm(total=n, desc=desc, delay=1.0, leave=False)
        except ImportError:  # tqdm is a dependency, but progress is only a nicety
            bar = None
    results: list[Any] = [None] * len(tasks)
    try:
        if executor is None:
            for i, t in enumerate(tasks):
                results[i] = _call_chunk(fn, t)
                if bar is not None:
                    bar.update(len(t[next(iter(t))]) if isinstance(t, dict) else len(t))
        else:
            from concurrent.futures import as_completed

            futs = {executor.submit(_call_chunk, fn, t): i for i, t in enumerate(tasks)}
            for fut in as_completed(futs):
                i = futs[fut]
                results[i] = fut.result()
                if bar is not None:
                    t = tasks[i]
                    bar.update(len(t[next(iter(t))]) if isinstance(t, dict) else len(t))
    finally:
        if bar is not None:
            bar.close()
    return _assemble(results, shape)


def _assemble(results: list[Any], shape: tuple[int, ...]) -> Any:
    first = results[0]
    if isinstance(first, dict):
        return {k: _assemble([r[k] for r in results], shape) for k in first}
    if isinstance(first, tuple):
        return tuple(_assemble([r[j] for r in results], shape) for j in range(len(first)))
    cat = np.concatenate([np.atleast_1d(np.asarray(r)) for r in results], axis=0)
    return cat.reshape(shape + cat.shape[1:])
