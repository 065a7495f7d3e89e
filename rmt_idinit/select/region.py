r"""Where the isometry rule holds: sigma windows, the feasible sigma interval, the largest q0 and
depth, the best sigma, and the feasible ``(sigma, q0)`` region at one depth.

Hard-tanh closed forms, with ``c = erfinv(1 - eps) = erfcinv(eps)``::

    sigma > 1 :  D <= eps  <=>  q0 <= sigma^(-2L) / (2 c^2)
    sigma <= 1:  D <= eps  <=>  q0 <= 1 / (2 sigma^2 c^2)
    S in [1/kappa, kappa]  <=>  sigma in [kappa^(-1/(2L)), kappa^(1/(2L))]

Other activations: boundaries in ``q0``, ``sigma`` and ``L`` by bracketing and bisection on log
scales (:mod:`rmt_idinit.select.levelsets`).

The **best sigma** minimizes the isometry loss ``E[(lambda - 1)^2] = (m1 - 1)^2 + var``, over the
feasible sigma interval when ``eps``/``kappa`` are given. Hard-tanh: ``alpha (sigma^(2L) - 1)^2 +
1 - alpha``.

Every function takes ``(sigma, q0, depth, activation)`` in that order (those it needs), then
keyword-only options.
"""
from __future__ import annotations

import math
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from scipy import optimize, special

from .._core import checks as _checks
from . import levelsets as _ls
from ..activations import Activation
from ..identity import alpha_complement
from ._args import (
    DEFAULT_EPS,
    DEFAULT_KAPPA,
    activation_of,
    check_eps,
    check_kappa,
    is_hardtanh,
    scalar,
)
from .criteria import dead_fraction, is_feasible, isometry_loss, log_gradient_scale, smooth_masses

__all__ = [
    "sigma_window",
    "feasible_sigma_interval",
    "max_q0",
    "max_q0_derivation",
    "max_depth",
    "best_sigma",
    "FeasibleRegion",
    "feasible_region",
]


def sigma_window(depth: Any, *, kappa: Any = DEFAULT_KAPPA) -> tuple[np.ndarray, np.ndarray]:
    """``[kappa^(-1/(2L)), kappa^(1/(2L))]``: the sigmas with ``1/kappa <= sigma^(2L) <= kappa``.

    Examples
    --------
    >>> [round(float(x), 6) for x in sigma_window(100, kappa=10.0)]
    [0.988553, 1.011579]
    """
    d = _checks.check_depth(depth)
    k = check_kappa(kappa)
    d, k = _checks.broadcast(depth=d, kappa=k)
    t = np.log(k) / (2.0 * d)
    return scalar(np.exp(-t)), scalar(np.exp(t))


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


def feasible_sigma_interval(q0: Any, depth: Any, activation: str | Activation = "hardtanh", *,
                            eps: Any = DEFAULT_EPS, kappa: Any = DEFAULT_KAPPA,
                            **activation_params: float) -> tuple[np.ndarray, np.ndarray]:
    """The feasible sigmas at ``(q0, depth)`` as an interval ``(lo, hi)``; NaN where empty.

    Hard-tanh (closed form): ``lo = kappa^(-1/(2L))`` and ``hi = min(kappa^(1/(2L)), s_eps)`` with
    ``s_eps = (c sqrt(2 q0))^(-1/L)`` if ``c sqrt(2 q0) <= 1`` else ``1/(c sqrt(2 q0))``,
    ``c = erfcinv(eps)``. Smooth activations: the edges of the feasible set on a sigma scan,
    refined by brentq on ``log sigma`` (assumes the feasible sigmas form one interval).

    Examples
    --------
    >>> [round(float(x), 6) for x in feasible_sigma_interval(0.2, 100)]
    [0.988553, 1.001319]
    """
    act = activation_of(activation, activation_params)
    e, k = check_eps(eps), check_kappa(kappa)
    q = _checks.check_positive("q0", q0)
    d = _checks.check_depth(depth)
    q, d, e, k = _checks.broadcast(q0=q, depth=d, eps=e, kappa=k)
    if is_hardtanh(act):
        lo, hi = sigma_window(d, kappa=k)
        hi = np.minimum(hi, _ht_sigma_eps(q, d, e))
        empty = hi < lo
        return scalar(np.where(empty, np.nan, lo)), scalar(np.where(empty, np.nan, hi))
    lo, hi = np.full(d.shape, np.nan), np.full(d.shape, np.nan)
    for i in np.ndindex(d.shape):
        lo[i], hi[i] = _numeric_sigma_interval(act, int(d[i]), float(q[i]), float(e[i]), float(k[i]))
    return scalar(lo), scalar(hi)


def sigma_scan(depth: int) -> np.ndarray:
    """The sigmas the numeric searches scan: in the linear regime lambda scales like sigma^(2L),
    so ``log sigma`` on the scale ``1/L``."""
    return np.exp(np.linspace(-15.0, 15.0, 241) / depth)


def _numeric_sigma_interval(act, depth, q0, eps, kappa):
    sig = sigma_scan(depth)

    def margin(s):
        # > 0 inside: smallest slack of the three conditions
        lk = math.log(kappa)
        s = np.atleast_1d(s)
        low, high = smooth_masses(act, s, np.full(s.shape, q0), np.full(s.shape, depth), [-0.5 * lk, 0.5 * lk])
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


def max_q0(sigma: Any, depth: Any, activation: str | Activation = "hardtanh", *, eps: Any = DEFAULT_EPS,
           kappa: Any = DEFAULT_KAPPA, **activation_params: float) -> np.ndarray:
    """Largest input variance ``q0`` with dead fraction ``<= eps`` (the input scale a target needs).

    Hard-tanh (closed form, ``c = erfcinv(eps) = erfinv(1 - eps)``)::

        q0_max = sigma^(-2L) / (2 c^2)    (sigma > 1)
        q0_max = 1 / (2 sigma^2 c^2)      (sigma <= 1)

    Smooth activations: the first crossing of ``P(lambda < 1/kappa) = eps`` as ``q0`` grows, by
    a log scan and bisection on ``log q0``; where the dead set is ``|u| > r`` (tanh, erf) that
    crossing is the closed form ``q0_max = r^2 / (2 c^2)``. ``0`` where even ``q0 -> 0`` is
    infeasible (e.g. tanh with ``sigma^(2L) < 1/kappa``), ``inf`` where no ``q0 <= 1e12`` reaches
    ``eps``.

    Examples
    --------
    >>> round(float(max_q0(0.9, 100, eps=0.05)), 6)
    0.32138
    >>> import rmt_idinit as ri
    >>> round(float(ri.alpha(0.9, max_q0(0.9, 100, eps=0.05), 100)), 12)
    0.95
    """
    act = activation_of(activation, activation_params)
    e = check_eps(eps)
    k = check_kappa(kappa)
    s = _checks.check_positive("sigma", sigma)
    d = _checks.check_depth(depth)
    s, d, e = _checks.broadcast(sigma=s, depth=d, eps=e)
    if is_hardtanh(act):
        return scalar(_ht_max_q0(s, d, e))
    if act.pieces is not None:
        # piecewise laws: dead mass is not monotone in q0 in general; scan then brentq on log q0
        out = np.empty(s.shape)
        for i in np.ndindex(s.shape):
            out[i] = _ls.first_crossing(lambda qq, i=i: np.asarray(alpha_complement(s[i], qq, d[i], act)),
                                        float(e[i]))
        return scalar(out)
    if k.ndim:
        raise ValueError("kappa must be a single number for smooth activations")
    level = -0.5 * math.log(float(k))
    out = np.empty(s.shape)
    for depth_ in np.unique(d):
        in_d = d == depth_
        sig = np.unique(s[in_d])
        sets = _ls.level_sets(act, sig, np.array([depth_]), [level], _ls.Q0_SEARCH)
        for eps_ in np.unique(e[in_d]):
            at = in_d & (e == eps_)
            out[at] = _ls.set_first_crossings(sets, float(eps_))[np.searchsorted(sig, s[at])]
    return scalar(out)


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
    from .. import symbolic

    return symbolic.derive_q0_boundary(regime)


def max_depth(sigma: Any, q0: Any, activation: str | Activation = "hardtanh", *, eps: Any = DEFAULT_EPS,
              kappa: Any = DEFAULT_KAPPA, depth_limit: int = 10_000, **activation_params: float) -> np.ndarray:
    """Largest depth L such that every depth ``1..L`` is feasible (float; ``inf`` if unbounded).

    Hard-tanh (closed form, ``c = erfcinv(eps)``, ``x = c sqrt(2 q0)``):

    * sigma > 1: ``L <= min(-log(x) / log(sigma), log(kappa) / (2 log sigma))``;
    * sigma < 1: ``0`` if ``x > 1/sigma`` (the first layer already kills more than eps), else
      ``L <= log(kappa) / (2 log(1/sigma))``;
    * sigma = 1: ``inf`` if ``x <= 1`` else 0.

    Other piecewise-linear activations (relu, leaky relu, linear): the dead mass never shrinks with
    depth (a zero slope stays a zero factor of g_L) and the law's atoms move monotonically away from
    1, so the feasible depths are ``1..L``: doubling, then bisection on the depth, O(log L) law
    evaluations. Smooth activations: every layer's law from one pass of the layer map (up to
    ``depth_limit``), then exact checks at single depths. ``inf`` means feasible through
    ``depth_limit``. Returns 0 where depth 1 already fails.

    Examples
    --------
    >>> float(max_depth(1.001, 0.2, eps=0.05, kappa=10.0))
    131.0
    >>> bool(is_feasible(1.001, 0.2, 131)), bool(is_feasible(1.001, 0.2, 132))
    (True, False)
    """
    act = activation_of(activation, activation_params)
    e, k = check_eps(eps), check_kappa(kappa)
    s = _checks.check_positive("sigma", sigma)
    q = _checks.check_positive("q0", q0)
    lim = _checks.check_scalar_int("depth_limit", depth_limit)
    s, q, e, k = _checks.broadcast(sigma=s, q0=q, eps=e, kappa=k)
    if is_hardtanh(act):
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
        return scalar(np.maximum(out, 0.0))
    out = np.empty(s.shape)
    for i in np.ndindex(s.shape):
        out[i] = _numeric_max_depth(act, float(s[i]), float(q[i]), float(e[i]), float(k[i]), lim)
    return scalar(out)


def _numeric_max_depth(act, sigma, q0, eps, kappa, limit):
    def exact_ok(depth):
        return bool(is_feasible(sigma, q0, depth, act, eps=eps, kappa=kappa))

    if act.pieces is not None:
        first_bad = _ls.first_failure(exact_ok, limit)
        return math.inf if first_bad is None else float(first_bad - 1)
    # Bisecting every layer's roots costs O(depth) per step, so the all-layer pass locates the
    # first failing depth with roots interpolated between grid nodes, and exact checks at single
    # depths then move that guess to the true boundary.
    from ..recursion import run_layers

    record = np.arange(1, limit + 1)
    lk = math.log(kappa)
    u = _ls.u_grid(1e-4 * math.sqrt(q0), 40.0 * math.sqrt(q0))
    lg, _ = run_layers(act, np.array([sigma]), np.zeros(1), u[None, :], record)
    lg = lg[:, 0, :]
    sd = math.sqrt(q0)
    w = _ls.gauss_interval(np.concatenate([[-np.inf], 0.5 * (u[1:] + u[:-1])]),
                           np.concatenate([0.5 * (u[1:] + u[:-1]), [np.inf]]), np.array(sd))
    low = (lg < -0.5 * lk) @ w
    high_above = (lg > 0.5 * lk) @ w
    ok = (low <= eps) & (low <= 0.5) & (high_above <= 0.5)
    bad = np.nonzero(~ok)[0]
    guess = int(bad[0]) + 1 if bad.size else limit + 1     # first failing depth (approx.)
    L = min(guess, limit + 1)
    while L <= limit and exact_ok(L):
        L += 1
    while L > 1 and not exact_ok(L - 1):
        L -= 1
    return math.inf if L > limit else float(L - 1)


def best_sigma(q0: Any, depth: Any, activation: str | Activation = "hardtanh", *, eps: Any = None,
               kappa: Any = None, **activation_params: float) -> np.ndarray:
    """The sigma minimizing the isometry loss ``E[(lambda - 1)^2]`` at ``(q0, depth)``.

    With ``eps`` and ``kappa`` the search is restricted to :func:`feasible_sigma_interval`
    (NaN where it is empty); without them it is unconstrained. Hard-tanh loss:
    ``alpha (sigma^(2L) - 1)^2 + 1 - alpha`` (a scan of ``log sigma`` on the scale ``1/L``, then
    bounded Brent). The optimum sits slightly below 1: lowering sigma revives units faster than
    it shrinks ``sigma^(2L)`` near 1.

    Examples
    --------
    >>> s = best_sigma(0.2, 100)
    >>> round(float(s), 6)
    0.999...
    >>> bool(isometry_loss(s, 0.2, 100) <= isometry_loss(1.0, 0.2, 100))
    True
    """
    act = activation_of(activation, activation_params)
    q = _checks.check_positive("q0", q0)
    d = _checks.check_depth(depth)
    if (eps is None) != (kappa is None):
        raise ValueError("eps and kappa must be given together (or neither, for the unconstrained optimum)")
    if eps is not None:
        e, k = check_eps(eps), check_kappa(kappa)
        q, d, e, k = _checks.broadcast(q0=q, depth=d, eps=e, kappa=k)
        lo, hi = (np.asarray(a) for a in feasible_sigma_interval(q, d, act, eps=e, kappa=k))
    else:
        q, d = _checks.broadcast(q0=q, depth=d)
        lo = np.exp(-15.0 / d)
        hi = np.exp(15.0 / d)
    return scalar(best_sigma_in(act, q, d, lo, hi))


def best_sigma_in(act: Activation, q0: np.ndarray, depth: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The isometry-loss optimum over ``[lo, hi]`` per element (NaN where the interval is empty);
    for callers that already hold the feasible interval (:func:`best_sigma` finds it first)."""
    q0, depth, lo, hi = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (q0, depth, lo, hi)))
    out = np.full(depth.shape, np.nan)
    for i in np.ndindex(depth.shape):
        if not (np.isfinite(lo[i]) and np.isfinite(hi[i])):
            continue
        out[i] = _minimize_loss(act, int(depth[i]), float(q0[i]), float(lo[i]), float(hi[i]))
    return out


def _minimize_loss(act, depth, q0, lo, hi):
    if hi <= lo:
        return lo
    xs = np.linspace(math.log(lo), math.log(hi), 121 if is_hardtanh(act) else 41)
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
    sets = _ls.level_sets(act, sigma, np.array([depth]), [-0.5 * lk, 0.5 * lk], _ls.q0_span(q0))
    sd = np.sqrt(q0)[:, None]
    low = sets.mass(sd, 0, 0, slice(None))             # (n_q0, P)
    high = sets.mass(sd, 1, 0, slice(None))
    ok = (low <= eps) & (low <= 0.5) & (1.0 - high <= 0.5)
    qmax = _ls.set_first_crossings(sets, eps)
    return low.T, ok.T, qmax                            # per-sigma leading axis for the sweep


def feasible_region(depth: int, activation: str | Activation = "hardtanh", *, eps: float = DEFAULT_EPS,
                    kappa: float = DEFAULT_KAPPA, sigma: Any = None, q0: Any = None,
                    executor: Executor | None = None, chunk_size: int | None = None,
                    progress: bool = False, **activation_params: float) -> FeasibleRegion:
    """The feasible ``(sigma, q0)`` set at one depth, on a grid.

    Hard-tanh: closed form, vectorized (a 1000 x 1000 grid takes well under a second).
    Smooth activations: per sigma, the level sets ``{g_L^2 < 1/kappa}`` and ``{g_L^2 < kappa}``
    (one numba pass each chunk of sigmas), then Gaussian masses for every ``q0`` at once; chunks
    of sigmas go through :func:`rmt_idinit.select.sweep` (so any ``concurrent.futures.Executor`` works).

    Parameters
    ----------
    depth : int
    activation : str or Activation
    eps, kappa : float
        Tolerances: ``D <= eps`` and ``1/kappa <= S <= kappa``.
    sigma, q0 : 1-D array_like, optional
        Grids (default: ``sigma = exp(linspace(-3, 3, 201) / depth)``, ``q0 = logspace(-4, 1, 201)``).
    progress : bool
        tqdm bar for the smooth sweep (off by default, like every progress bar of the library).

    Examples
    --------
    >>> r = feasible_region(100, eps=0.05, kappa=10.0, sigma=[0.99, 1.0, 1.01], q0=[0.01, 0.2, 0.5])
    >>> r.mask.astype(int).tolist()
    [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    """
    from .sweeps import sweep

    act = activation_of(activation, activation_params)
    e = _checks.check_scalar("eps", eps, lambda _, v: check_eps(v))
    k = _checks.check_scalar("kappa", kappa, lambda _, v: check_kappa(v))
    d = _checks.check_scalar_int("depth", depth)
    if chunk_size is not None:
        chunk_size = _checks.check_scalar_int("chunk_size", chunk_size)
    sig = np.exp(np.linspace(-3.0, 3.0, 201) / d) if sigma is None else _checks.check_positive("sigma", sigma)
    qq = np.logspace(-4, 1, 201) if q0 is None else _checks.check_positive("q0", q0)
    if sig.ndim != 1 or qq.ndim != 1 or not sig.size or not qq.size:
        raise ValueError("sigma and q0 must be non-empty 1-D grids")
    t0 = time.perf_counter()
    if is_hardtanh(act):
        S, Q = np.meshgrid(sig, qq)
        dead = np.asarray(alpha_complement(S, Q, d))
        log_scale = 2.0 * d * np.log(S)
        win = sigma_window(d, kappa=k)
        mask = (dead <= e) & (np.abs(log_scale) <= math.log(k))
        q0_max = _ht_max_q0(sig, d, e)
        bounds: Any = (float(win[0]), float(win[1]))
    elif act.pieces is not None:
        S, Q = np.meshgrid(sig, qq)
        dead = np.asarray(dead_fraction(S, Q, d, act))
        log_scale = np.asarray(log_gradient_scale(S, Q, d, act))
        mask = (dead <= e) & (np.abs(log_scale) <= math.log(k))
        q0_max = np.asarray(max_q0(sig, d, act, eps=e))
        bounds = _mask_edges(mask, sig)
    else:
        fn = partial(_smooth_region_chunk, act=act, depth=d, q0=qq, eps=e, kappa=k)
        # 32 sigmas a chunk: fewer, larger numba passes (16 measured 1.5x slower at 256 x 256); an
        # even monotone gain costs ~25 units a sigma instead of ~370, so chunks of 128 (32 was
        # 1.3x slower at 256 x 256, 256 no faster)
        default_chunk = 128 if act.even_decreasing_gain else 32
        low, ok, q0_max = sweep(fn, sig, chunk_size=chunk_size or default_chunk, executor=executor,
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
