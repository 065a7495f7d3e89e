"""Per-unit layer recursion at identity initialization, compiled with numba.

With W = sigma*I every unit follows its own scalar map (docs/theory/identity.md)::

    h^1 = sigma*u,   h^(l+1) = sigma*phi(h^l) + b,   g_l(u) = prod_{k<=l} sigma*phi'(h^k),

and the eigenvalues of J_l J_l^T are g_l(u_i)^2. The kernels below run that map for many
parameter sets and many u at once, recording ``log|g_l|`` and ``x^l = phi(h^l)`` at any chosen
layers in a single pass. The gain is carried as mantissa * 2**exponent, so depths of 10^5 and
more neither overflow nor pay a logarithm per layer.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["run_layers", "log_gain_scalar", "refine_roots", "dlog_gain_du"]

_LN2 = math.log(2.0)
_BLOCK = 8  # units interleaved per inner loop


def _make_run(both):
    """Compile the all-layers kernel around one activation's ``(phi, phi')`` kernel.

    The activation is captured as a closure constant rather than passed as a first-class function
    argument: numba then calls it directly and LLVM inlines it, which is several times faster than
    the indirect call a function-typed argument costs on every unit and layer.
    """

    @njit(cache=True, parallel=True)
    def run(code, p, sigma, bias, u, record, want_x, out_logg, out_x):
        P, U = u.shape
        n_rec = record.shape[0]
        last = record[n_rec - 1]
        n_blocks = (U + _BLOCK - 1) // _BLOCK
        for k in prange(P * n_blocks):
            i = k // n_blocks
            j0 = (k - i * n_blocks) * _BLOCK
            n = min(_BLOCK, U - j0)
            s = sigma[i]
            b = bias[i]
            # Several independent units advance together: each unit's layer chain is serial
            # through one exp, and interleaving lets the CPU overlap them (2-2.5x per core).
            h = np.empty(_BLOCK)
            mant = np.ones(_BLOCK)
            expo = np.zeros(_BLOCK, dtype=np.int64)
            for t in range(n):
                h[t] = s * u[i, j0 + t]
            r = 0
            for layer in range(1, last + 1):
                renorm = layer & 15 == 0
                rec = layer == record[r]
                for t in range(n):
                    x, d = both(code, h[t], p)
                    m = mant[t] * (s * d)
                    # renormalize every 16 layers (|s*d| < 2^60 keeps 16 products in range)
                    if (renorm or m > 1e250 or m < 1e-250) and m != 0.0:
                        mm, e = math.frexp(m)
                        m = mm
                        expo[t] += e
                    mant[t] = m
                    if rec:
                        a = abs(m)
                        out_logg[r, i, j0 + t] = (math.log(a) + expo[t] * _LN2) if a > 0.0 else -np.inf
                        if want_x:
                            out_x[r, i, j0 + t] = x
                    h[t] = s * x + b
                if rec:
                    r += 1
                    if r == n_rec:
                        break

    return run


_RUNNERS: dict = {}


def _runner(act):
    both = act.kernels()[4]
    key = id(both)
    if key not in _RUNNERS:
        _RUNNERS[key] = (both, _make_run(both))  # keep `both` alive so its id stays unique
    return _RUNNERS[key][1]


def run_layers(act, sigma, bias, u, record, want_x=False):
    """Run the scalar layer map for parameter sets ``i`` and inputs ``u[i, j]``.

    Parameters
    ----------
    act : Activation
    sigma, bias : (P,) float arrays
    u : (P, U) float array
        Input coordinates for each parameter set.
    record : (R,) int array
        Strictly increasing layers (1-based) at which to record.
    want_x : bool
        Also record the post-activations ``x^l = phi(h^l)``.

    Returns
    -------
    log_gain : (R, P, U) array of ``log|g_l(u)|`` (``-inf`` where the gain is exactly 0)
    x : (R, P, U) array of post-activations, or None

    Examples
    --------
    >>> import numpy as np
    >>> from rmt_idinit.activations import get_activation
    >>> lg, _ = run_layers(get_activation("linear"), np.array([2.0]), np.array([0.0]),
    ...                    np.array([[0.3]]), np.array([1, 3]))
    >>> np.exp(lg[:, 0, 0]).round(12).tolist()
    [2.0, 8.0]
    """
    run = _runner(act)
    code = act.kernels()[3]
    sigma = np.ascontiguousarray(sigma, dtype=np.float64)
    bias = np.ascontiguousarray(bias, dtype=np.float64)
    u = np.ascontiguousarray(u, dtype=np.float64)
    record = np.ascontiguousarray(record, dtype=np.int64)
    R, (P, U) = record.shape[0], u.shape
    out_logg = np.empty((R, P, U))
    out_x = np.empty((R, P, U) if want_x else (1, 1, 1))
    run(code, act.param_array, sigma, bias, u, record, want_x, out_logg, out_x)
    return out_logg, (out_x if want_x else None)


@njit(cache=True)
def _log_gain_scalar(phi, dphi, code, p, s, b, u, depth):
    h = s * u
    mant = 1.0
    expo = 0
    for layer in range(1, depth + 1):
        mant *= s * dphi(code, h, p)
        if mant == 0.0:
            return -np.inf
        if layer & 15 == 0 or mant > 1e250 or mant < 1e-250:
            m, e = math.frexp(mant)
            mant = m
            expo += e
        h = s * phi(code, h, p) + b
    return math.log(abs(mant)) + expo * _LN2


@njit(cache=True)
def _dlog_gain_du(phi, dphi, d2phi, code, p, s, b, u, depth):
    # d/du log|g_L| = sum_l phi''(h^l)/phi'(h^l) * dh^l/du, with dh^1/du = sigma and
    # dh^(l+1)/du = sigma*phi'(h^l)*dh^l/du; dh/du is carried as mantissa*2**expo like the gain.
    h = s * u
    dh_m = s
    dh_e = 0
    total = 0.0
    for layer in range(1, depth + 1):
        d1 = dphi(code, h, p)
        d2 = d2phi(code, h, p)
        if d1 == 0.0:
            return np.nan
        total += d2 / d1 * math.ldexp(dh_m, dh_e) if dh_e < 1000 else d2 / d1 * dh_m * math.inf
        dh_m *= s * d1
        m, e = math.frexp(dh_m)
        dh_m = m
        dh_e += e
        h = s * phi(code, h, p) + b
    return total


@njit(cache=True)
def _bisect(phi, dphi, code, p, s, b, depth, lo, hi, f_lo, level):
    # Root of log|g(u)| - level on [lo, hi] where the sign changes; 100 halvings reach round-off.
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid == lo or mid == hi:
            break
        f_mid = _log_gain_scalar(phi, dphi, code, p, s, b, mid, depth) - level
        if (f_mid <= 0.0) == (f_lo <= 0.0):
            lo = mid
            f_lo = f_mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@njit(cache=True, parallel=True)
def _refine_roots(phi, dphi, code, p, s, b, depth, lo, hi, f_lo, level, out):
    for k in prange(lo.shape[0]):
        out[k] = _bisect(phi, dphi, code, p, s[k], b[k], depth[k], lo[k], hi[k], f_lo[k], level[k])


@njit(cache=True, parallel=True)
def _dlog_many(phi, dphi, d2phi, code, p, s, b, u, depth, out):
    for k in prange(u.shape[0]):
        out[k] = _dlog_gain_du(phi, dphi, d2phi, code, p, s[k], b[k], u[k], depth[k])


def refine_roots(act, sigma, bias, depth, lo, hi, f_lo, level):
    """Bisect ``log|g_depth(u)| = level`` on brackets ``[lo, hi]`` (all arrays of one length)."""
    f, df, _, code, _ = act.kernels()
    out = np.empty(np.shape(lo))
    arrs = [np.ascontiguousarray(a, dtype=np.float64) for a in (sigma, bias)]
    _refine_roots(f, df, code, act.param_array, arrs[0], arrs[1],
                  np.ascontiguousarray(depth, dtype=np.int64),
                  np.ascontiguousarray(lo, dtype=np.float64), np.ascontiguousarray(hi, dtype=np.float64),
                  np.ascontiguousarray(f_lo, dtype=np.float64),
                  np.ascontiguousarray(level, dtype=np.float64), out)
    return out


def dlog_gain_du(act, sigma, bias, depth, u):
    """``d log|g_depth(u)| / du`` for arrays of equal length (needs phi'')."""
    f, df, d2f, code, _ = act.kernels()
    out = np.empty(np.shape(u))
    _dlog_many(f, df, d2f, code, act.param_array,
               np.ascontiguousarray(sigma, dtype=np.float64), np.ascontiguousarray(bias, dtype=np.float64),
               np.ascontiguousarray(u, dtype=np.float64), np.ascontiguousarray(depth, dtype=np.int64), out)
    return out


def log_gain_scalar(act, sigma: float, bias: float, u: float, depth: int) -> float:
    """``log|g_depth(u)|`` for one unit (``-inf`` when a layer's phi' is 0)."""
    f, df, _, code, _ = act.kernels()
    return _log_gain_scalar(f, df, code, act.param_array, float(sigma), float(bias), float(u), int(depth))
