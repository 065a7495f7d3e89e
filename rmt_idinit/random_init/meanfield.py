"""Mean-field signal propagation at random initialization (Poole et al. 2016, Schoenholz et al. 2017).

docs/theory/random_init.md. Random weights ``W_ij ~ N(0, sigma_w^2/N)`` (or scaled orthogonal), biases
``b_i ~ N(0, sigma_b^2)``; with ``z ~ N(0, 1)``:

* q-map: ``q^l = sigma_w^2 E[phi(sqrt(q^(l-1)) z)^2] + sigma_b^2`` (pre-activation variance), fixed
  point ``q*``;
* c-map: ``c^l = (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q*`` with ``(u1, u2)`` centred Gaussian,
  variances ``q*`` and correlation ``c^(l-1)``; fixed point ``c*``;
* ``chi1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]`` (ordered < 1 < chaotic), criticality ``chi1 = 1``;
* depth scales ``xi_q = -1/log(dq'/dq at q*)``, ``xi_c = -1/log(dc'/dc at c*)``,
  ``xi_grad = -1/log chi1`` (positive in the ordered phase, negative in the chaotic one:
  gradients grow like ``exp(-l/xi_grad)`` either way).

Closed forms come from the activation record (``Activation.gaussian``: relu, leaky relu, linear,
hard-tanh and erf among the built-ins); every other activation goes through a fixed composite Gauss-Legendre rule in ``z`` (768 nodes, graded towards ``z = 0`` so that
``phi(sqrt(q) z)`` stays resolved for ``q`` up to ~1e16) and, for the c-map of non-closed-form
activations, a 120 x 120 Gauss-Hermite product rule. Everything broadcasts over the parameters like numpy ufuncs.

This module imports neither torch nor matplotlib.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import numpy as np

from .._core import checks as _checks
from .._core import gauss
from ..activations import Activation, get_activation

__all__ = [
    "gaussian_expectation",
    "phi_second_moment",
    "derivative_moment",
    "q_map",
    "q_map_slope",
    "q_star",
    "q_layers",
    "c_map",
    "c_map_slope",
    "c_star",
    "chi1",
    "DepthScales",
    "depth_scales",
    "CriticalPoint",
    "critical_line",
]

# --- quadrature ---------------------------------------------------------------------------------

# one composite Gauss-Legendre rule in z over both signs, graded towards z = 0 (see _core.gauss)
_Z, _W = gauss.normal_rule()


def gaussian_expectation(f: Callable[[np.ndarray], np.ndarray], q: Any) -> np.ndarray:
    """``E[f(sqrt(q) z)]`` for ``z ~ N(0, 1)``, broadcast over ``q`` (composite Gauss-Legendre).

    Parameters
    ----------
    f : callable
        Numpy-vectorized function of ``h``.
    q : array_like
        Variance(s) ``q >= 0``.

    Examples
    --------
    >>> round(float(gaussian_expectation(lambda h: h ** 4, 2.0)), 12)
    12.0
    """
    if not callable(f):
        raise TypeError(f"f must be a callable of h (numpy-vectorized), got {type(f).__name__}")
    q = _checks.check_nonnegative("q", q)
    h = np.sqrt(q)[..., None] * _Z
    return np.sum(np.asarray(f(h), dtype=np.float64) * _W, axis=-1)


def _act(activation: str | Activation, params: dict) -> Activation:
    return get_activation(activation, **params)


def _is_homogeneous(act: Activation) -> bool:
    """``phi(c h) = c phi(h)`` (relu, leaky relu, linear): the q-map is linear in q."""
    return act.pieces is not None and act.pieces.is_homogeneous


def phi_second_moment(q: Any, activation: str | Activation = "hardtanh", **activation_params: float) -> np.ndarray:
    """``E[phi(sqrt(q) z)^2]``; closed forms for relu (q/2), leaky relu (q(1+s^2)/2), linear (q),
    hard-tanh (``(q-1) erf(1/sqrt(2q)) - sqrt(2q/pi) exp(-1/(2q)) + 1``) and erf(a h)
    (``(2/pi) arcsin(2 a^2 q / (1 + 2 a^2 q))``).

    Examples
    --------
    >>> round(float(phi_second_moment(1.0, "relu")), 12)
    0.5
    """
    act = _act(activation, activation_params)
    q = _checks.check_nonnegative("q", q)
    if act.gaussian.second_moment is not None:
        return act.gaussian.second_moment(q)
    return gaussian_expectation(lambda h: act.phi(h) ** 2, q)


def derivative_moment(q: Any, k: Any = 1, activation: str | Activation = "hardtanh",
                      **activation_params: float) -> np.ndarray:
    """``mu_k = E[phi'(sqrt(q) z)^(2k)]``, the k-th moment of the law of ``D^2``.

    Closed forms: relu 1/2, leaky relu ``(1 + s^(2k))/2``, linear 1, hard-tanh
    ``p = erf(1/sqrt(2q))`` (D^2 is Bernoulli), erf(a h) ``(2a/sqrt(pi))^(2k) / sqrt(1 + 4 k a^2 q)``.

    Examples
    --------
    >>> round(float(derivative_moment(0.5, 1, "hardtanh")), 6)
    0.842701
    """
    act = _act(activation, activation_params)
    q = _checks.check_nonnegative("q", q)
    k = _checks.check_positive("k", k)
    q, k = _checks.broadcast(q=q, k=k)
    if act.gaussian.derivative_moment is not None:
        return np.asarray(act.gaussian.derivative_moment(q, k), dtype=np.float64)[()]
    if act.pieces is not None:
        # phi' is constant on each piece: the moment is a finite sum, exact at every q > 0
        out = np.empty(np.broadcast(q, k).shape)
        slopes = np.abs(np.asarray(act.pieces.slopes))
        for idx in np.ndindex(out.shape):
            qi = float(q[idx])
            if qi > 0:
                out[idx] = float(np.sum(act.pieces.masses(qi) * slopes ** (2.0 * float(k[idx]))))
            else:
                out[idx] = float(np.abs(np.asarray(act.dphi(np.zeros(1)))[0]) ** (2.0 * float(k[idx])))
        return out[()]
    h = np.sqrt(q)[..., None] * _Z
    return np.sum(np.abs(act.dphi(h)) ** (2.0 * k[..., None]) * _W, axis=-1)[()]


def _e2_slope(act: Activation, q: np.ndarray) -> np.ndarray:
    """``d/dq E[phi(sqrt(q) z)^2] = E[phi'^2 + phi phi''] = E[phi(u) phi'(u) u] / q`` (Stein)."""
    if act.gaussian.second_moment_slope is not None:
        return act.gaussian.second_moment_slope(q)
    qs = np.where(q > 0, q, 1.0)
    h = np.sqrt(qs)[..., None] * _Z
    val = np.sum(act.phi(h) * act.dphi(h) * h * _W, axis=-1) / qs
    return np.where(q > 0, val, np.asarray(act.dphi(np.zeros(1)))[0] ** 2)


# --- the q-map ----------------------------------------------------------------------------------

_SQRT_MAX = math.sqrt(np.finfo(np.float64).max) / 2.0  # sigma^2 (times 4) stays finite below this


def _weights_params(sigma_w, sigma_b):
    sw = _checks.check_positive("sigma_w", sigma_w)
    sb = _checks.check_nonnegative("sigma_b", sigma_b)
    for name, v in (("sigma_w", sw), ("sigma_b", sb)):
        if np.any(v >= _SQRT_MAX):
            raise ValueError(f"{name} must be < {_SQRT_MAX:.4g} so that {name}^2 and q* stay finite in "
                             f"double precision, got {float(v[v >= _SQRT_MAX].flat[0])!r}")
    return sw, sb


def q_map(q: Any, sigma_w: Any, sigma_b: Any, activation: str | Activation = "hardtanh",
          **activation_params: float) -> np.ndarray:
    """One layer of the variance map.

    ::

        q' = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2.

    Parameters
    ----------
    q : array_like
        Pre-activation variance of the previous layer (>= 0).
    sigma_w : array_like
        Weight scale (> 0): ``W_ij ~ N(0, sigma_w^2 / N)``.
    sigma_b : array_like
        Bias scale (>= 0).
    activation : str or Activation

    Examples
    --------
    >>> round(float(q_map(1.0, 2 ** 0.5, 0.0, "relu")), 12)
    1.0
    """
    act = _act(activation, activation_params)
    q = _checks.check_nonnegative("q", q)
    sw, sb = _weights_params(sigma_w, sigma_b)
    q, sw, sb = _checks.broadcast(q=q, sigma_w=sw, sigma_b=sb)
    return (sw * sw * phi_second_moment(q, act) + sb * sb)[()]


def q_map_slope(q: Any, sigma_w: Any, activation: str | Activation = "hardtanh",
                **activation_params: float) -> np.ndarray:
    """``dq'/dq = sigma_w^2 E[phi'(u)^2 + phi(u) phi''(u)]`` at ``u ~ N(0, q)``.

    Examples
    --------
    >>> round(float(q_map_slope(1.0, 1.2, "relu")), 12)
    0.72
    """
    act = _act(activation, activation_params)
    q = _checks.check_nonnegative("q", q)
    sw = _checks.check_positive("sigma_w", sigma_w)
    q, sw = _checks.broadcast(q=q, sigma_w=sw)
    return (sw * sw * _e2_slope(act, q))[()]


def q_layers(q0: Any, sigma_w: Any, sigma_b: Any, depth: int, activation: str | Activation = "hardtanh",
             **activation_params: float) -> np.ndarray:
    """The iterates ``q^1, ..., q^depth`` of the q-map from ``q^0 = q0`` (last axis).

    Here ``q0`` is the variance fed to the first nonlinearity's argument recursion, i.e. the
    network input is ``x^0 = phi(h^0)`` with ``h^0 ~ N(0, q0)``; for raw inputs ``x^0`` of second
    moment ``m``, use ``q^1 = sigma_w^2 m + sigma_b^2`` directly.

    Examples
    --------
    >>> q_layers(1.0, 1.0, 0.0, 3, "linear").tolist()
    [1.0, 1.0, 1.0]
    """
    act = _act(activation, activation_params)
    d = _checks.check_scalar_int("depth", depth)
    q = _checks.check_nonnegative("q0", q0)
    sw, sb = _weights_params(sigma_w, sigma_b)
    q, sw, sb = _checks.broadcast(q0=q, sigma_w=sw, sigma_b=sb)
    # one float64 per layer and parameter set, plus the quadrature's working array per layer
    _checks.check_memory(8.0 * (q.size + 1) * d, f"depth={d} over {q.size} parameter sets")
    out = np.empty(q.shape + (d,))
    with np.errstate(over="ignore"):
        for l in range(d):
            q = sw * sw * phi_second_moment(np.minimum(q, 1e300), act) + sb * sb
            out[..., l] = q
    return out


def _vbisect(f: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray, iters: int = 200) -> np.ndarray:
    """Vectorized bisection for ``f(lo) >= 0 > f(hi)``; stops at double-precision resolution."""
    lo, hi = lo.copy(), hi.copy()
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        pos = f(mid) >= 0
        lo = np.where(pos, mid, lo)
        hi = np.where(pos, hi, mid)
        if np.all(hi - lo <= 4e-16 * np.abs(hi)):
            break
    return 0.5 * (lo + hi)


def q_star(sigma_w: Any, sigma_b: Any, activation: str | Activation = "hardtanh",
           **activation_params: float) -> np.ndarray:
    """Fixed point ``q* = sigma_w^2 E[phi(sqrt(q*) z)^2] + sigma_b^2`` of the q-map.

    Closed form for relu/leaky relu/linear (``q* = sigma_b^2 / (1 - sigma_w^2 c)``); otherwise the
    root of ``q_map(q) - q`` bracketed between 0 and the first ``q = 2^k`` where the map falls
    below the diagonal (for the bounded built-ins the map is increasing and concave, so this is
    the unique stable fixed point). With ``sigma_b = 0`` and ``phi(0) = 0``, ``q* = 0`` unless
    the map is expanding at 0.

    Raises
    ------
    ValueError
        When the q-map has no finite fixed point (e.g. relu with ``sigma_w^2 >= 2`` and
        ``sigma_b > 0``), naming ``sigma_w``.

    Examples
    --------
    >>> round(float(q_star(1.18666 ** 0.5, 0.059635 ** 0.5, "hardtanh")), 4)
    0.5
    >>> round(float(q_star(1.0, 1.0, "relu")), 12)
    2.0
    """
    act = _act(activation, activation_params)
    sw, sb = _weights_params(sigma_w, sigma_b)
    sw, sb = _checks.broadcast(sigma_w=sw, sigma_b=sb)
    sw2, sb2 = sw * sw, sb * sb
    if _is_homogeneous(act):
        c = float(_e2_slope(act, np.ones(())))
        rate = sw2 * c
        # sigma_w = sqrt(2) for relu squares to 2 (1 + 2^-52): a rate within round-off of 1 is
        # the critical point, not an expanding map
        marginal = np.abs(rate - 1.0) <= 4.0 * np.finfo(np.float64).eps
        bad = ((rate > 1.0) & ~marginal) | (marginal & (sb2 > 0))
        if np.any(bad):
            i = np.argmax(bad)
            raise ValueError(
                f"sigma_w must satisfy sigma_w^2 * {c:g} < 1 (or = 1 with sigma_b = 0) for a finite "
                f"stable fixed point q* of the {act.name} q-map, got sigma_w={float(sw.flat[i])!r}, "
                f"sigma_b={float(sb.flat[i])!r}")
        if np.any(marginal & (sb2 == 0)):
            raise ValueError(f"sigma_w={float(np.sqrt(1.0 / c))!r}, sigma_b=0: every q is a fixed point "
                             f"of the {act.name} q-map; q* is not determined (pass q_star explicitly)")
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(sb2 > 0, sb2 / (1.0 - rate), 0.0)[()]

    def g(q):
        return sw2 * phi_second_moment(q, act) + sb2 - q

    # double the bracket until the map falls below the diagonal (q* can be ~ sigma_w^2 ~ 1e300)
    hi = np.ones(sw.shape)
    last_pos = np.zeros(sw.shape)  # the largest q tried with g(q) >= 0
    for _ in range(1100):
        neg = g(hi) < 0
        if neg.all():
            break
        last_pos = np.where(neg, last_pos, hi)
        hi = np.where(neg, hi, hi * 2.0)
        if np.any(~np.isfinite(hi)):
            bad = ~np.isfinite(hi)
            raise ValueError(
                f"sigma_w={float(sw[bad].flat[0])!r} (sigma_b={float(sb[bad].flat[0])!r}): the {act.name} "
                "q-map has no fixed point q* within double precision")
    lo = last_pos
    # When q = 0 is itself a fixed point and the map contracts there, q* = 0.
    zero_fixed = (sb2 == 0) & (np.abs(np.asarray(act.phi(np.zeros(1)))[0]) == 0)
    slope0 = sw2 * float(np.asarray(act.dphi(np.zeros(1)))[0]) ** 2
    tiny = np.full(sw.shape, 1e-300)
    qs = _vbisect(g, np.where(zero_fixed & (lo == 0), tiny, lo), hi)
    # With q = 0 fixed and the map not expanding there (hard-tanh or tanh at sigma_w = 1), a
    # positive root is a fixed point only if the map rises above the diagonal below it by more
    # than round-off: hard-tanh's q_map(q) - q ~ -q e^(-1/(2q)) is 0 in double precision for
    # q < 0.02, and the bisection used to return that edge (0.014) as q*.
    roundoff = 64.0 * np.finfo(np.float64).eps
    above = np.zeros(sw.shape, dtype=bool)
    for frac in (0.9, 0.5, 0.25, 0.1, 0.01):
        qq = qs * frac
        above |= g(np.where(qq > 0, qq, 1.0)) > roundoff * (qq + sb2)
    return np.where(zero_fixed & (slope0 <= 1.0) & ~above, 0.0, qs)[()]


def chi1(sigma_w: Any, sigma_b: Any = None, activation: str | Activation = "hardtanh", *,
         q: Any = None, **activation_params: float) -> np.ndarray:
    """``chi1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]``, the mean squared singular value of one layer's
    Jacobian ``D W``; at ``q*`` unless ``q`` is given (then ``sigma_b`` is not needed).

    Examples
    --------
    >>> round(float(chi1(2 ** 0.5, 0.0, "relu", q=1.0)), 12)
    1.0
    >>> round(float(chi1(1.5, 0.1, "erf", q=0.5)), 10)  # sigma_w^2 (4/pi) / sqrt(1 + 4 q)
    1.6539866863
    """
    act = _act(activation, activation_params)
    if q is None:
        if sigma_b is None:
            raise ValueError("sigma_b must be given (or pass q=) to locate the fixed point q*")
        q = q_star(sigma_w, sigma_b, act)
    q = _checks.check_nonnegative("q", q)
    sw = _checks.check_positive("sigma_w", sigma_w)
    q, sw = _checks.broadcast(q=q, sigma_w=sw)
    return (sw * sw * derivative_moment(q, 1, act))[()]


# --- the c-map ----------------------------------------------------------------------------------

# 2-D product rule for smooth activations without a closed form: Gauss-Hermite of order 120 per
# axis (14400 nodes; exact to round-off for the smooth built-ins at q* = O(1), and 50x cheaper
# than the graded 1-D rule squared, which matters inside the c* bisection).
_ZC2, _WC2 = gauss.hermite_normal(120)


def _bivariate(f: Callable, g: Callable, q: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``E[f(u1) g(u2)]``, ``u1 = sqrt(q) z1``, ``u2 = sqrt(q)(c z1 + sqrt(1-c^2) z2)``, product rule."""
    sq = np.sqrt(q)[..., None, None]
    cc = c[..., None, None]
    z1 = _ZC2[:, None]
    z2 = _ZC2[None, :]
    u1 = sq * z1
    u2 = sq * (cc * z1 + np.sqrt(np.maximum(1.0 - cc * cc, 0.0)) * z2)
    w = _WC2[:, None] * _WC2[None, :]
    return np.sum(f(u1) * g(u2) * w, axis=(-2, -1))


def _cov_phi(act: Activation, q: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``E[phi(u1) phi(u2)]`` at equal variances ``q`` and correlation ``c``."""
    if act.gaussian.covariance is not None:
        return act.gaussian.covariance(q, c)
    return _bivariate(act.phi, act.phi, q, c)


def _cov_dphi(act: Activation, q: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``E[phi'(u1) phi'(u2)]`` (the slope of the c-map over sigma_w^2, by Price's theorem)."""
    if act.gaussian.derivative_covariance is not None:
        return act.gaussian.derivative_covariance(q, c)
    return _bivariate(act.dphi, act.dphi, q, c)


def _fixed_q(sigma_w, sigma_b, q, act):
    if q is None:
        if sigma_b is None:
            raise ValueError("sigma_b must be given (or pass q=) to locate the fixed point q*")
        return q_star(sigma_w, sigma_b, act)
    return q


def c_map(c: Any, sigma_w: Any, sigma_b: Any, activation: str | Activation = "hardtanh", *,
          q: Any = None, **activation_params: float) -> np.ndarray:
    """One layer of the correlation map at the variance fixed point::

        c' = (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q*,
        u1 = sqrt(q*) z1, u2 = sqrt(q*) (c z1 + sqrt(1 - c^2) z2).

    Closed forms: relu/leaky relu (arc-cosine kernel), linear, erf; hard-tanh with the inner
    Gaussian integral in closed form; others by a 2-D product rule.

    Examples
    --------
    >>> round(float(c_map(1.0, 1.3, 0.2, "tanh")), 10)
    1.0
    """
    act = _act(activation, activation_params)
    c = _checks.check_interval("c", c, -1.0, 1.0)
    sw = _checks.check_positive("sigma_w", sigma_w)
    sb = _checks.check_nonnegative("sigma_b", 0.0 if sigma_b is None else sigma_b)
    q = _checks.check_positive("q", _fixed_q(sigma_w, sigma_b, q, act))
    c, sw, sb, q = _checks.broadcast(c=c, sigma_w=sw, sigma_b=sb, q=q)
    return ((sw * sw * _cov_phi(act, q, c) + sb * sb) / q)[()]


def c_map_slope(c: Any, sigma_w: Any, sigma_b: Any = None, activation: str | Activation = "hardtanh", *,
                q: Any = None, **activation_params: float) -> np.ndarray:
    """``dc'/dc = sigma_w^2 E[phi'(u1) phi'(u2)]`` (Price's theorem); equals ``chi1`` at ``c = 1``.

    Examples
    --------
    >>> round(float(c_map_slope(1.0, 2 ** 0.5, 0.0, "relu", q=1.0)), 12)
    1.0
    """
    act = _act(activation, activation_params)
    c = _checks.check_interval("c", c, -1.0, 1.0)
    sw = _checks.check_positive("sigma_w", sigma_w)
    q = _checks.check_positive("q", _fixed_q(sigma_w, sigma_b, q, act))
    c, sw, q = _checks.broadcast(c=c, sigma_w=sw, q=q)
    return (sw * sw * _cov_dphi(act, q, c))[()]


def c_star(sigma_w: Any, sigma_b: Any, activation: str | Activation = "hardtanh",
           **activation_params: float) -> np.ndarray:
    """Stable fixed point ``c*`` of the c-map: 1 in the ordered phase (``chi1 <= 1``), the root
    in ``[0, 1)`` of ``c_map(c) - c`` in the chaotic phase (``chi1 > 1``).

    Examples
    --------
    >>> float(c_star(1.0, 0.3, "tanh"))
    1.0
    >>> 0 < float(c_star(2.5, 0.1, "tanh")) < 1
    True
    """
    act = _act(activation, activation_params)
    sw, sb = _weights_params(sigma_w, sigma_b)
    sw, sb = _checks.broadcast(sigma_w=sw, sigma_b=sb)
    qs = np.asarray(q_star(sw, sb, act))
    ch = np.asarray(chi1(sw, sb, act, q=qs))
    out = np.ones(sw.shape)
    chaotic = (ch > 1.0) & (qs > 0)
    if np.any(chaotic):
        swc, sbc, qc = sw[chaotic], sb[chaotic], qs[chaotic]

        def g(c):
            return (swc * swc * _cov_phi(act, qc, c) + sbc * sbc) / qc - c

        # c = 1 is repelling here, so the map lies below the diagonal just under 1.
        lo = np.full(swc.shape, -1.0)
        hi = np.full(swc.shape, 1.0 - 1e-9)
        out[chaotic] = _vbisect(g, lo, hi, iters=80)
    return out[()]


# --- depth scales and criticality ---------------------------------------------------------------

class DepthScales(NamedTuple):
    """Depth scales (in layers) of signal propagation; ``inf`` exactly at criticality.

    ``xi_grad = -1/log chi1`` is negative in the chaotic phase (gradients explode like
    ``exp(|l|/|xi_grad|)``).
    """

    xi_q: np.ndarray
    xi_c: np.ndarray
    xi_grad: np.ndarray
    chi1: np.ndarray
    q_star: np.ndarray
    c_star: np.ndarray


def _xi(slope: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        ls = np.log(np.abs(slope))
        return np.where(ls == 0.0, np.inf, -1.0 / np.where(ls == 0.0, 1.0, ls))


def depth_scales(sigma_w: Any, sigma_b: Any, activation: str | Activation = "hardtanh",
                 **activation_params: float) -> DepthScales:
    """Schoenholz et al. depth scales at ``(sigma_w, sigma_b)``.

    ::

        xi_q^-1 = -log(sigma_w^2 E[phi'^2 + phi phi''])          (at q*),
        xi_c^-1 = -log(sigma_w^2 E[phi'(u1) phi'(u2)])           (at q*, c*),
        xi_grad^-1 = -log chi1.

    Examples
    --------
    >>> ds = depth_scales(1.0, 0.3, "tanh")
    >>> bool(ds.chi1 < 1 and ds.c_star == 1 and ds.xi_c == ds.xi_grad > 0)
    True
    """
    act = _act(activation, activation_params)
    sw, sb = _weights_params(sigma_w, sigma_b)
    sw, sb = _checks.broadcast(sigma_w=sw, sigma_b=sb)
    qs = np.asarray(q_star(sw, sb, act))
    ch = np.asarray(chi1(sw, sb, act, q=qs))
    cs = np.asarray(c_star(sw, sb, act))
    qsl = np.asarray(q_map_slope(qs, sw, act))
    csl = np.where(cs >= 1.0, ch, sw * sw * _cov_dphi(act, np.maximum(qs, 1e-300), cs))
    return DepthScales(_xi(qsl)[()], _xi(csl)[()], _xi(ch)[()], ch[()], qs[()], cs[()])


class CriticalPoint(NamedTuple):
    """A point ``(sigma_w, sigma_b)`` of the critical line ``chi1 = 1`` and its fixed point ``q*``."""

    sigma_w: np.ndarray
    sigma_b: np.ndarray
    q_star: np.ndarray


def _critical_from_q(act: Activation, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sw2 = 1.0 / derivative_moment(q, 1, act)
    sb2 = q - sw2 * phi_second_moment(q, act)
    return sw2, sb2


def critical_line(q_star: Any = None, activation: str | Activation = "hardtanh", *,
                  sigma_b: Any = None, **activation_params: float) -> CriticalPoint:
    """The critical line ``chi1 = 1`` parametrized by the fixed point ``q*`` (or by ``sigma_b``)::

        sigma_w^2 = 1 / E[phi'(sqrt(q*) z)^2],   sigma_b^2 = q* - sigma_w^2 E[phi(sqrt(q*) z)^2].

    Hard-tanh: ``sigma_w^2 = 1/p`` with ``p = erf(1/sqrt(2 q*))``. Relu/leaky relu/linear are
    critical only at ``sigma_b = 0`` (``sigma_w^2 = 2``, ``2/(1+s^2)``, 1) for every ``q*``.

    Parameters
    ----------
    q_star : array_like, optional
        Fixed-point variance(s) ``> 0``.
    activation : str or Activation
    sigma_b : array_like, optional
        Instead of ``q_star``: the bias scale; ``q*`` is found by bisection (``sigma_b^2`` is
        increasing in ``q*`` along the line for the bounded built-ins).

    Raises
    ------
    ValueError
        If both or neither of ``q_star``/``sigma_b`` are given, if ``q_star`` is not reachable at
        criticality (``sigma_b^2 < 0``), or if ``sigma_b`` has no critical point.

    Examples
    --------
    >>> cp = critical_line(0.5, "hardtanh")
    >>> round(float(cp.sigma_w ** 2), 5), round(float(cp.sigma_b ** 2), 6)
    (1.18666, 0.059635)
    """
    act = _act(activation, activation_params)
    if (q_star is None) == (sigma_b is None):
        raise ValueError("pass exactly one of q_star and sigma_b to critical_line")
    if q_star is not None:
        q = _checks.check_positive("q_star", q_star)
        sw2, sb2 = _critical_from_q(act, q)
        tol = 1e-12 * np.maximum(q, 1.0)
        bad = sb2 < -tol
        if np.any(bad):
            raise ValueError(
                f"q_star={float(q[bad].flat[0])!r} is not on the {act.name} critical line "
                f"(it would need sigma_b^2 = {float(sb2[bad].flat[0]):.6g} < 0)")
        return CriticalPoint(np.sqrt(sw2)[()], np.sqrt(np.maximum(sb2, 0.0))[()], q[()])
    sb = _checks.check_nonnegative("sigma_b", sigma_b)
    if _is_homogeneous(act):
        raise ValueError(f"sigma_b: the {act.name} critical point has sigma_b = 0 and any q*; "
                         "pass q_star instead")

    def g(q):
        return sb * sb - _critical_from_q(act, q)[1]

    lo = np.full(sb.shape, 1e-12)
    hi = np.ones(sb.shape)
    for _ in range(120):
        neg = g(hi) < 0
        if neg.all():
            break
        hi = np.where(neg, hi, hi * 2.0)
    else:
        raise ValueError(f"sigma_b={float(sb.max())!r} has no critical point for {act.name}")
    q = _vbisect(g, lo, hi)
    sw2, _ = _critical_from_q(act, q)
    return CriticalPoint(np.sqrt(sw2)[()], sb[()], q[()])
