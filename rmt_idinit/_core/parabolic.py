"""Asymptotic layers at a parabolic fixed point: odd phi with ``sigma*phi'(0) = 1`` (+ a few ulp).

There ``f(h) = sigma*phi(h) = (1 + eps) h R(h^2)``, ``R(s) = 1 + r1 s + r2 s^2 + ...`` with
``r1 < 0`` (tanh: -1/3), and ``h_l -> 0`` only like ``l^(-1/2)``: direct iteration costs one step
per layer at any depth. In ``y = 1/h^2`` (``z = 1/y = h^2``) the map is, for ``eps = 0``,

    y' = y C(z),  C = 1/R^2 = 1 + c1 z + c2 z^2 + ...,   i.e.  y' = y + c1 + c2/y + ...,

and the layer factor ``l = log f'(h) = log1p(eps) + l0(z)``, ``l0(z) = log(R + 2 z R') =
q1 z + q2 z^2 + ...``. Two formal series solve the functional equations exactly, order by order
in ``z`` (docs/theory/parabolic.md):

* Abel (Fatou) coordinate ``A(y) = y/c1 + beta log y + sum_k gamma_k z^k``, ``A(y') = A(y) + 1``;
* the log-gain potential ``G(y) = (q1/c1) log y + sum_k g_k z^k``, ``G(y') - G(y) = l0(z')``.

so that after ``K`` more layers ``y_K = A^-1(A(y) + K)`` (Newton) and the sum of ``l0`` over
those layers is ``[G - l0](y_K) - [G - l0](y)``. The ``eps`` terms (first and second order in
``eps``, leading in ``y``) follow from ``dA/dy = 1/(c1 - 2 eps y)``; they are what a float64
parameter (``erf`` at ``sigma = sqrt(pi)/(2 a)``) leaves of ``sigma*phi'(0) - 1``.

Coefficients are computed once per activation and sigma in mpmath at 50 digits and kept as float64.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["Parabolic", "Switch", "candidates", "parabolic_for", "ORDER", "Y_SWITCH", "EPS_MAX"]

ORDER = 12          # terms gamma_1..gamma_N, g_1..g_N kept
Y_SWITCH = 50.0     # units switch to the expansion once y = 1/h^2 >= this (|h| <= 0.14)
EPS_MAX = 1e-13     # |sigma*phi'(0) - 1| up to which the point counts as parabolic (~450 ulp)
EPS_K_MAX = 0.5     # eps > 0: 2 eps K (growth of the linear factor over K layers) below this
_DPS = 50
_LAYERS_PER_SOLVE = 256


# --- power series in z (lists of mpf, index = power), truncated at n terms ----------------------

def _mul(a, b, n):
    out = [0] * n
    for i, ai in enumerate(a[:n]):
        if ai == 0:
            continue
        for j in range(min(len(b), n - i)):
            out[i + j] += ai * b[j]
    return out


def _inv(a, n):
    import mpmath as mp

    out = [mp.mpf(0)] * n
    out[0] = 1 / a[0]
    for k in range(1, n):
        acc = mp.mpf(0)
        for j in range(1, min(k, len(a) - 1) + 1):
            acc += a[j] * out[k - j]
        out[k] = -acc / a[0]
    return out


def _log(a, n):
    # log a with a[0] = 1: (log a)' = a'/a
    import mpmath as mp

    da = [(k + 1) * a[k + 1] for k in range(min(len(a) - 1, n))] + [mp.mpf(0)] * n
    q = _mul(da[:n], _inv(a, n), n)
    return [mp.mpf(0)] + [q[k - 1] / k for k in range(1, n)]


def _pow(a, k, n):
    import mpmath as mp

    out = [mp.mpf(1)] + [mp.mpf(0)] * (n - 1)
    for _ in range(k):
        out = _mul(out, a, n)
    return out


# --- Taylor coefficients of the built-ins ---------------------------------------------------------

def _tanh_ratio(n):
    """``tanh(h)/h`` in ``s = h^2``: sinh/cosh from their series (exact rationals)."""
    import mpmath as mp

    sh = [mp.mpf(1) / mp.factorial(2 * k + 1) for k in range(n)]
    ch = [mp.mpf(1) / mp.factorial(2 * k) for k in range(n)]
    return _mul(sh, _inv(ch, n), n), mp.mpf(1)


def _erf_ratio(a, n):
    """``erf(a h) / (h erf'(0))`` in ``s``, and ``erf'(0) = 2 a / sqrt(pi)``."""
    import mpmath as mp

    a = mp.mpf(a)
    return ([(-1) ** k * a ** (2 * k) / (mp.factorial(k) * (2 * k + 1)) for k in range(n)],
            2 * a / mp.sqrt(mp.pi))


def _sympy_ratio(act, n):
    """From ``sympy_phi``: the series of phi at 0, or None if phi is not odd with phi'(0) > 0."""
    import mpmath as mp
    import sympy as sp

    h = sp.Symbol("h", real=True)
    try:
        expr = act.sympy_expr(h)
        ser = sp.series(expr, h, 0, 2 * n + 1).removeO()
        poly = sp.Poly(sp.expand(ser), h)
    except Exception:  # no series at 0 (kinks, unknown functions): not for this path
        return None
    coeffs = {m[0]: c for m, c in zip(poly.monoms(), poly.coeffs())}
    if any(coeffs.get(m, 0) != 0 for m in range(0, 2 * n + 1, 2)):
        return None   # not odd (or phi(0) != 0)
    try:
        vals = [mp.mpf(sp.N(coeffs.get(2 * k + 1, 0), _DPS)) for k in range(n)]
    except (TypeError, ValueError):
        return None
    if not vals[0] > 0:
        return None
    d0 = vals[0]
    return [v / d0 for v in vals], d0


@dataclass(frozen=True)
class Parabolic:
    """Coefficients of the expansion for one (activation, sigma); see the module docstring."""

    eps: float            # sigma*phi'(0) - 1, exact for the float64 parameters
    c1: float
    beta: float
    gamma: np.ndarray     # gamma_1..gamma_N
    cg: float             # q1 / c1
    g: np.ndarray         # g_1..g_N
    q: np.ndarray         # q_1..q_N of l0(z)
    q1: float
    b_log: float = 0.0    # eps log y terms of A and G (the order below the leading eps terms)
    h_log: float = 0.0

    # the size of the last kept term at y = Y_SWITCH bounds the truncation error (the terms fall
    # geometrically there; checked against mpmath iteration in tests/test_marginal.py)
    def truncation_bound(self, y: float) -> float:
        n = self.gamma.size
        return float(abs(self.gamma[-1]) * y ** -n * abs(self.c1) * abs(self.cg) / y
                     + abs(self.g[-1]) * y ** -n)

    def advance(self, z0, K):
        """``(d, w, rho)`` after ``K`` layers from ``z0 = h^2`` (arrays): ``y_K - y_0 = d``,
        ``w = z0 d = y_K/y_0 - 1`` and ``rho = kappa d / (1 - kappa y_0)``, ``kappa = 2 eps / c1``
        (``log1p(-rho)`` is the log-ratio of the leading eps factors ``1 - kappa y``).
        ``z0 = 0`` (``h`` below 1e-154): only the linear factor ``1 + eps`` acts."""
        z0 = np.asarray(z0, dtype=np.float64)
        K = np.asarray(K, dtype=np.float64)
        c1, beta, gam, eps = self.c1, self.beta, self.gamma, self.eps
        kappa = 2.0 * eps / c1
        pos = z0 > 0.0
        z0 = np.where(pos, z0, 1.0)     # placeholders, masked out at the end
        y0 = 1.0 / z0
        den = 1.0 - kappa * y0          # > 0: eps <= 0, or far below the fixed point of eps > 0
        d = c1 * K * den
        zk = [z0 ** (k + 1) for k in range(gam.size)]
        for _ in range(12):
            w = z0 * d
            lw = np.log1p(w)
            rho = kappa * d / den
            with np.errstate(invalid="ignore", divide="ignore"):
                phi = np.where(rho == 0.0, 1.0, -np.log1p(-rho) / np.where(rho == 0.0, 1.0, rho))
            # leading part, resummed in eps y: the flow dy/dt = c1 - 2 eps y
            F = d * phi / (c1 * den) + beta * lw - K
            dF = 1.0 / (c1 * (den - kappa * d)) + beta * z0 / (1.0 + w)
            for k in range(gam.size):
                F = F + gam[k] * zk[k] * np.expm1(-(k + 1) * lw)
                dF = dF - (k + 1) * gam[k] * zk[k] * z0 * np.exp(-(k + 2) * lw)
            if eps != 0.0:
                # the first eps terms below the leading one (y and log y; docs/theory/parabolic.md)
                F = F + eps * ((4.0 * beta + 1.0) * d / c1 + self.b_log * lw)
                dF = dF + eps * ((4.0 * beta + 1.0) / c1 + self.b_log * z0 / (1.0 + w))
            step = F / dF
            d = d - step
            if np.all(np.abs(step) <= 4e-16 * np.abs(d)):
                break
        d = np.where(pos, d, 0.0)
        # h below 1e-154: the map is linear there, h_K = (1 + eps)^K h_0, y_K / y_0 = 1 + w
        w_lin = np.expm1(-2.0 * K * math.log1p(eps))
        return d, np.where(pos, z0 * d, w_lin), np.where(pos, kappa * d / den, -w_lin)

    def log_gain(self, z0, K):
        """``sum log f'(h^l)`` over the ``K`` layers starting with ``h^2 = z0``, and ``w`` with
        ``h^2`` after them ``= z0 / (1 + w)``."""
        z0 = np.asarray(z0, dtype=np.float64)
        K = np.asarray(K, dtype=np.float64)
        d, w, rho = self.advance(z0, K)
        lw = np.log1p(w)
        zK = z0 / (1.0 + w)
        # cg log(y_K/y_0) and the leading eps factor: 0 for h below 1e-154 (rho = -w there)
        S = self.cg * (lw - np.log1p(-rho))
        for k in range(self.g.size):
            S = S + self.g[k] * z0 ** (k + 1) * np.expm1(-(k + 1) * lw)
        # G counts l0 at the layer reached, the sum wants the one started from: G - l0
        S = S - (self._l0(zK) - self._l0(z0))
        if self.eps != 0.0:
            S = S + self.eps * self.h_log * lw + K * math.log1p(self.eps)
        return S, w

    def as_row(self) -> np.ndarray:
        """The coefficients as one float64 row for the scalar numba kernels
        (:func:`rmt_idinit.recursion._parabolic_tail`): ``[Y_SWITCH, eps, c1, beta, cg, b_log,
        h_log, N, gamma_1..N, g_1..N, q_1..N]``."""
        head = [Y_SWITCH, self.eps, self.c1, self.beta, self.cg, self.b_log, self.h_log, float(self.gamma.size)]
        return np.concatenate([head, self.gamma, self.g, self.q])

    def _l0(self, z):
        acc = np.zeros_like(z)
        for qk in self.q[::-1]:
            acc = (acc + qk) * z
        return acc


def _solve(ratio, eps, n):
    """The coefficients from ``R`` (list of mpf, ``R[0] = 1``) at ``n`` = ORDER."""
    import mpmath as mp

    m = n + 3
    R = ratio[:m] + [mp.mpf(0)] * max(0, m - len(ratio))
    C = _inv(_mul(R, R, m), m)                 # y'/y
    L = _log(C, m)                             # log(y'/y)
    dR = [(2 * k + 1) * R[k] for k in range(m)]   # R + 2 z R'
    l0 = _log(dR, m)
    c1 = C[1]
    R2 = [_pow(_mul(R, R, m), k, m) for k in range(m)]   # R^(2k) = (y/y')^k ... (z'/z)^k
    beta = -C[2] / c1 ** 2
    gamma = []
    for mm in range(2, n + 2):
        rest = C[mm + 1] / c1 + beta * L[mm]
        for k in range(1, mm - 1):
            rest += gamma[k - 1] * R2[k][mm - k]
        gamma.append(rest / ((mm - 1) * c1))
    cg = l0[1] / c1
    # right side: l0(z') with z' = z R^2
    rhs = [mp.mpf(0)] * m
    for j in range(1, m):
        term = R2[j]
        for i in range(m - j):
            rhs[i + j] += l0[j] * term[i]
    g = []
    for mm in range(2, n + 2):
        rest = cg * L[mm] - rhs[mm]
        for k in range(1, mm - 1):
            rest += g[k - 1] * R2[k][mm - k]
        g.append(rest / ((mm - 1) * c1))
    f = lambda v: float(v)  # noqa: E731
    return Parabolic(eps=float(eps), c1=f(c1), beta=f(beta), gamma=np.array([f(v) for v in gamma]),
                     cg=f(cg), g=np.array([f(v) for v in g]), q=np.array([f(v) for v in l0[1:n + 1]]),
                     q1=f(l0[1]), b_log=f(2 * beta ** 2 - 4 * gamma[0] / c1),
                     h_log=f(2 * l0[1] * beta / c1 + 2 * (l0[1] - g[0]) / c1))


@lru_cache(maxsize=64)
def _cached(key, sigma, n):
    import mpmath as mp

    name, params, act_ref = key
    with mp.workdps(_DPS):
        if name == "tanh":
            got = _tanh_ratio(n + 3)
        elif name == "erf":
            got = _erf_ratio(params[0], n + 3)
        else:
            got = _sympy_ratio(act_ref, n + 3)
        if got is None:
            return None
        ratio, d0 = got
        eps = mp.mpf(sigma) * d0 - 1
        if not abs(eps) <= EPS_MAX or not ratio[1] < 0:
            return None
        return _solve(ratio, eps, n)


def candidates(act, sigma, bias) -> np.ndarray:
    """Indices of the (sigma, bias) pairs that may be parabolic (``sigma*phi'(0) = 1`` to 1e-10, no
    bias): a cheap vectorized pre-test, so a large grid calls :func:`parabolic_for` only there."""
    sigma = np.atleast_1d(np.asarray(sigma, dtype=np.float64))
    bias = np.broadcast_to(np.asarray(bias, dtype=np.float64), sigma.shape)
    if act.pieces is not None:
        return np.zeros(0, dtype=np.int64)
    cache = act._kernel_cache
    if "dphi0" not in cache:
        try:
            cache["dphi0"] = float(np.asarray(act.dphi(np.zeros(1)), dtype=np.float64).ravel()[0])
        except Exception:
            cache["dphi0"] = math.nan
    with np.errstate(invalid="ignore", over="ignore"):
        near = (np.abs(sigma * cache["dphi0"] - 1.0) <= 1e-10) & (bias == 0.0)
    return np.nonzero(near)[0]


def parabolic_for(act, sigma: float, bias: float = 0.0, order: int = ORDER) -> Parabolic | None:
    """The expansion for ``act`` at ``sigma`` when ``h = 0`` is a parabolic attracting fixed point
    (odd phi, no bias, ``|sigma*phi'(0) - 1| <= EPS_MAX``, ``phi'''(0) < 0``); otherwise None.

    Built-in tanh and erf use their Taylor series; other smooth activations their ``sympy_phi``
    series, when odd; piecewise-linear ones never (no curvature at 0).
    """
    from .kernel_ids import ERF, TANH

    if bias != 0.0 or act.pieces is not None or not math.isfinite(sigma) or sigma <= 0.0:
        return None
    # a cheap float pre-test before any series: sigma*phi'(0) must be 1 to ~1e-13
    try:
        d0 = float(np.asarray(act.dphi(np.zeros(1)), dtype=np.float64).ravel()[0])
    except Exception:
        return None
    if not abs(sigma * d0 - 1.0) <= 1e-10:
        return None
    if act.kernel == TANH:
        key = ("tanh", (), None)
    elif act.kernel == ERF:
        key = ("erf", (float(act.params["scale"]),), None)
    elif act.kernel is None and act.sympy_phi is not None:
        key = (f"user:{id(act)}", tuple(act.params.values()), act)
    else:
        return None
    return _cached(key, float(sigma), int(order))


class Switch:
    """Hands units of :func:`rmt_idinit.recursion.run_layers` over to the expansion between chunks.

    A unit still iterated (``conv == 0``) whose next pre-activation has ``y = 1/h^2 >= Y_SWITCH``
    is marked settled with a per-layer factor of 1 (``logc = 0``), so the kernel writes its
    current log-gain into every later record and skips it; :meth:`finish` then adds the sum of
    the remaining layers' ``log f'`` (and their ``x``) to those records.
    """

    def __init__(self, plans, record, stop, want_x, sigma, y_switch=None):
        self.plans = plans            # {parameter-set index: Parabolic}
        self.record = record
        self.stop = stop
        self.want_x = want_x
        self.sigma = sigma
        self.y_switch = Y_SWITCH if y_switch is None else float(y_switch)
        self.events = []

    def mark(self, l0, h, mant, expo, conv, lgc, logc):
        """Take over the eligible units at layer ``l0`` (done layers); returns how many."""
        n = 0
        zs = 1.0 / self.y_switch
        # one Newton solve per unit and later record costs ~100 direct layers: hand over only
        # when the layers left pay for it (shallow maps and many recorded layers stay direct)
        if self.record[-1] - l0 < _LAYERS_PER_SOLVE * np.count_nonzero(self.record > l0):
            return 0
        for i, plan in self.plans.items():
            hi = h[i]
            with np.errstate(over="ignore", invalid="ignore"):
                z = hi * hi
            ok = (conv[i] == 0) & (z <= zs)   # NaN/inf h fail this
            if self.stop is not None:
                ok &= self.stop[i] > l0
            if plan.eps > 0.0 and 2.0 * plan.eps * (self.record[-1] - l0) > EPS_K_MAX:
                # h = 0 repels at rate 1 + eps; the resummed leading flow follows the unit to
                # the second fixed point y* = c1 / (2 eps) and past it, but only for depths
                # below ~1/eps (2e12 layers at eps = 1e-13)
                continue
            idx = np.nonzero(ok)[0]
            if idx.size == 0:
                continue
            a = np.abs(mant[i, idx])
            with np.errstate(divide="ignore"):
                lg = np.log(a) + expo[i, idx] * math.log(2.0)
            # conv only has to be non-zero: with logc = 0 the kernel repeats lgc
            conv[i, idx] = max(int(l0), 1)
            lgc[i, idx] = lg
            logc[i, idx] = 0.0
            self.events.append((i, idx, int(l0), z[idx], hi[idx]))
            n += idx.size
        return n

    def finish(self, out_logg, out_x):
        """Add the expansion's layers to every record after each unit's switch."""
        for i, idx, l0, z0, h0 in self.events:
            plan = self.plans[i]
            stop = None if self.stop is None else self.stop[i, idx]
            for r in np.nonzero(self.record > l0)[0]:
                last = self.record[r] if stop is None else np.minimum(self.record[r], stop)
                K = np.maximum(last - l0, 0).astype(np.float64)
                S, w = plan.log_gain(z0, K)
                out_logg[r, i, idx] += S
                if self.want_x:
                    # x^l = phi(h^l) = h^(l+1) / sigma (no bias): the pre-activation reached,
                    # from h0 itself, not z0 = h0^2 (which underflows below 1e-154)
                    out_x[r, i, idx] = h0 / np.sqrt(1.0 + w) / self.sigma[i]
