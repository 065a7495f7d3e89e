"""Scalar numba kernels of the activations, ``f(h, p)`` with parameters packed in ``p``.

Kept apart from :mod:`rmt_idinit.activations` so that numba is imported only when a recursion runs.
"""
from __future__ import annotations

import math

from numba import njit

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRTPI = 2.0 / math.sqrt(math.pi)


@njit(cache=True, inline="always")
def _expit(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(cache=True)
def phi(code, h, p):
    if code == 0:
        return min(1.0, max(-1.0, h))
    if code == 1:
        return h if h > 0.0 else 0.0
    if code == 2:
        return h if h > 0.0 else p[0] * h
    if code == 3:
        return h
    if code == 4:
        return math.tanh(h)
    if code == 5:
        return math.erf(p[0] * h)
    if code == 6:
        return _expit(h)
    if code == 7:
        return h * 0.5 * math.erfc(-h * _INV_SQRT2)
    if code == 8:
        return h * _expit(h)
    # softplus, stable for large |beta h|
    bh = p[0] * h
    return (max(bh, 0.0) + math.log1p(math.exp(-abs(bh)))) / p[0]


@njit(cache=True)
def dphi(code, h, p):
    if code == 0:
        return 1.0 if abs(h) < 1.0 else 0.0
    if code == 1:
        return 1.0 if h > 0.0 else 0.0
    if code == 2:
        return 1.0 if h > 0.0 else p[0]
    if code == 3:
        return 1.0
    if code == 4:
        c = math.cosh(h)
        return 1.0 / (c * c) if abs(h) < 350.0 else 0.0
    if code == 5:
        a = p[0]
        return _TWO_OVER_SQRTPI * a * math.exp(-(a * h) * (a * h))
    if code == 6:
        return _expit(h) * _expit(-h)
    if code == 7:
        return 0.5 * math.erfc(-h * _INV_SQRT2) + h * _INV_SQRT2PI * math.exp(-0.5 * h * h)
    if code == 8:
        s = _expit(h)
        return s * (1.0 + h * (1.0 - s))
    return _expit(p[0] * h)


@njit(cache=True)
def d2phi(code, h, p):
    if code <= 3:
        return 0.0
    if code == 4:
        c = math.cosh(h)
        return -2.0 * math.tanh(h) / (c * c) if abs(h) < 350.0 else 0.0
    if code == 5:
        a = p[0]
        return -2.0 * a * a * h * _TWO_OVER_SQRTPI * a * math.exp(-(a * h) * (a * h))
    if code == 6:
        s = _expit(h)
        return s * (1.0 - s) * (1.0 - 2.0 * s)
    if code == 7:
        return (2.0 - h * h) * _INV_SQRT2PI * math.exp(-0.5 * h * h)
    if code == 8:
        s = _expit(h)
        return s * (1.0 - s) * (2.0 + h * (1.0 - 2.0 * s))
    b = p[0]
    return b * _expit(b * h) * _expit(-b * h)


@njit(cache=True)
def phi_dphi(code, h, p):
    """``(phi(h), phi'(h))`` sharing the transcendental: one tanh, exp or erfc per layer."""
    if code == 4:
        # tanh and its derivative from one exponential (libm tanh costs 2.5x an exp), with no
        # cancellation: expm1 near 0, and E = exp(-2|h|) < 0.37 beyond, where 1 - E is safe and
        # phi' = 4E/(1+E)^2 keeps full relative accuracy even when it underflows towards 0.
        a = abs(h)
        if a <= 0.5:
            m = math.expm1(-2.0 * a)
            t = -m / (2.0 + m)
            d = (1.0 - t) * (1.0 + t)
        else:
            e = math.exp(-2.0 * a)
            t = (1.0 - e) / (1.0 + e)
            d = 4.0 * e / ((1.0 + e) * (1.0 + e))
        return math.copysign(t, h), d
    if code == 6:
        s = _expit(h)
        return s, s * _expit(-h)
    if code == 8:
        s = _expit(h)
        return h * s, s * (1.0 + h * (1.0 - s))
    if code == 5:
        a = p[0]
        return math.erf(a * h), _TWO_OVER_SQRTPI * a * math.exp(-(a * h) * (a * h))
    return phi(code, h, p), dphi(code, h, p)


def builtin(code: int) -> tuple:
    """Kernels ``(phi, dphi, d2phi, code, phi_dphi)`` for a built-in; the code selects the branch."""
    return phi, dphi, d2phi, code, phi_dphi


def user(act) -> tuple:
    """Kernels for a user activation: its functions compiled by numba, or a clear error."""
    try:
        f = njit(act.phi)
        df = njit(act.dphi)
        f(0.5), df(0.5)  # compile now so a failure is reported here, not deep in a kernel
    except Exception as exc:
        raise TypeError(
            f"activation {act.name!r}: phi and dphi must be numba-compilable scalar functions "
            f"(plain math/numpy on one float); numba said: {str(exc).splitlines()[0]}"
        ) from None
    if act.d2phi is not None:
        d2f = njit(act.d2phi)
    else:
        @njit
        def d2f(h):
            step = 1e-5 * max(1.0, abs(h))
            return (df(h + step) - df(h - step)) / (2.0 * step)

    @njit
    def uphi(code, h, p):
        return f(h)

    @njit
    def udphi(code, h, p):
        return df(h)

    @njit
    def ud2phi(code, h, p):
        return d2f(h)

    @njit
    def uboth(code, h, p):
        return f(h), df(h)

    return uphi, udphi, ud2phi, -1, uboth
