"""Piecewise-linear built-ins: hard-tanh, relu, leaky relu, linear.

Their Gaussian expectations are closed forms (arc-cosine kernels for the rectifiers; for hard-tanh
the incomplete-gamma forms of :mod:`rmt_idinit._core.hardtanh` and, for the correlation map, the
inner Gaussian integral in closed form).
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special

from .._core import gauss, gaussian, kernel_ids
from ._common import positive_param, torch_module
from .record import Activation, GaussianForms, Pieces

__all__ = ["hardtanh", "relu", "leaky_relu", "linear", "RECORDS"]


def _zeros(h):
    return np.zeros_like(np.asarray(h, dtype=np.float64))


# --- hard-tanh ----------------------------------------------------------------------------------

def _ht_second_moment(q):
    # q P(3/2, 1/(2q)) + erfc(1/sqrt(2q)): two positive terms, exact for every q
    from .._core import hardtanh as _ht

    return _ht.second_moment(q)


def _ht_slope(q):
    # E[z^2; |z| < 1/sqrt(q)] = P(3/2, 1/(2q)); erf(x) - 2x e^(-x^2)/sqrt(pi) would cancel
    from .._core import hardtanh as _ht

    return _ht.slope(q)


def _ht_alive(q):
    """``P(|sqrt(q) z| < 1) = erf(1/sqrt(2q))`` (1 at q = 0)."""
    with np.errstate(divide="ignore"):
        return np.where(q > 0, special.erf(1.0 / np.sqrt(2.0 * np.where(q > 0, q, 1.0))), 1.0)


_S01, _W01 = (a.ravel() for a in gauss.legendre_panels(np.linspace(0.0, 1.0, 13), 16))


def _ht_conditional(q, c, which):
    """``E[clip(u1) clip(u2)]`` or ``E[1(|u1|<1) 1(|u2|<1)]`` with the inner z2-integral in closed form."""
    sq = np.sqrt(q)[..., None]
    cc = c[..., None]
    # The outer integrand is even in z1 with a kink at |z1| = 1/sqrt(q): panels split there.
    kink = np.minimum(1.0 / sq, 12.0)
    z1 = np.concatenate([kink * _S01, kink + (12.0 - kink) * _S01], axis=-1)
    wz = np.concatenate([kink * _W01, (12.0 - kink) * _W01], axis=-1) * 2.0 * np.exp(-0.5 * z1 * z1) / math.sqrt(2 * math.pi)
    u1 = sq * z1
    m = cc * u1
    s = np.maximum(sq * np.sqrt(np.maximum(1.0 - cc * cc, 0.0)), 1e-300)
    a, b = (-1.0 - m) / s, (1.0 - m) / s
    if which == "phi":
        pa, pb = special.ndtr(a), special.ndtr(b)
        inner = -pa + (1.0 - pb) + m * (pb - pa) + s * (np.exp(-0.5 * a * a) - np.exp(-0.5 * b * b)) / math.sqrt(2 * math.pi)
        outer = np.clip(u1, -1.0, 1.0)
    else:
        inner = gaussian.interval_mass(a, b)
        outer = (np.abs(u1) < 1.0).astype(np.float64)
    return np.sum(outer * inner * wz, axis=-1)


def _mp_hardtanh():
    import mpmath

    one, zero = mpmath.mpf(1), mpmath.mpf(0)
    return lambda h: (one, zero) if h >= 1 else ((-one, zero) if h <= -1 else (h, one))


def _sympy_hardtanh(h):
    import sympy as sp

    return sp.Piecewise((-1, h <= -1), (h, h < 1), (1, True))


def hardtanh() -> Activation:
    """``clip(h, -1, 1)``."""
    return Activation(
        "hardtanh",
        lambda h: np.clip(h, -1.0, 1.0),
        lambda h: (np.abs(h) < 1.0).astype(np.float64),
        _zeros,
        pieces=Pieces((-1.0, 1.0), (0.0, 1.0, 0.0), (-1.0, 0.0, 1.0)),
        even_decreasing_gain=True,
        kernel=kernel_ids.HARDTANH,
        gaussian=GaussianForms(
            second_moment=_ht_second_moment,
            second_moment_slope=_ht_slope,
            derivative_moment=lambda q, k: _ht_alive(q),  # D^2 is Bernoulli: every moment is P(alive)
            covariance=lambda q, c: np.where(c >= 1.0, _ht_second_moment(q), _ht_conditional(q, c, "phi")),
            derivative_covariance=lambda q, c: np.where(c >= 1.0, _ht_alive(q), _ht_conditional(q, c, "dphi")),
        ),
        mp_step=_mp_hardtanh,
        sympy_phi=_sympy_hardtanh,
        torch=torch_module("Hardtanh"),
    )


# --- rectifiers ---------------------------------------------------------------------------------

def _arccos_kernel(c):
    """``E[relu(z1) relu(z2)]`` at unit variances and correlation c (arc-cosine kernel of degree 1)."""
    return (np.sqrt(np.maximum(1.0 - c * c, 0.0)) + (math.pi - np.arccos(np.clip(c, -1.0, 1.0))) * c) / (2 * math.pi)


def _arccos_kernel0(c):
    """``P(z1 > 0, z2 > 0)`` at correlation c (arc-cosine kernel of degree 0)."""
    return (math.pi - np.arccos(np.clip(c, -1.0, 1.0))) / (2 * math.pi)


def _mp_relu():
    import mpmath

    one, zero = mpmath.mpf(1), mpmath.mpf(0)
    return lambda h: (h, one) if h > 0 else (zero, zero)


def _sympy_relu(h):
    import sympy as sp

    return sp.Piecewise((h, h > 0), (0, True))


def relu() -> Activation:
    """``max(h, 0)``."""
    return Activation(
        "relu",
        lambda h: np.maximum(h, 0.0),
        lambda h: (np.asarray(h) > 0.0).astype(np.float64),
        _zeros,
        pieces=Pieces((0.0,), (0.0, 1.0), (0.0, 0.0)),
        kernel=kernel_ids.RELU,
        gaussian=GaussianForms(
            second_moment=lambda q: q / 2.0,
            second_moment_slope=lambda q: np.full(q.shape, 0.5),
            derivative_moment=lambda q, k: np.full(q.shape, 0.5),
            covariance=lambda q, c: q * _arccos_kernel(c),
            derivative_covariance=lambda q, c: _arccos_kernel0(c),
        ),
        mp_step=_mp_relu,
        sympy_phi=_sympy_relu,
        torch=torch_module("ReLU"),
    )


def _sympy_leaky(h, negative_slope):
    import sympy as sp

    return sp.Piecewise((h, h > 0), (negative_slope * h, True))


def leaky_relu(negative_slope: float = 0.01) -> Activation:
    """``h`` for ``h > 0``, ``negative_slope * h`` otherwise."""
    s = positive_param("negative_slope", negative_slope, allow_zero=True)

    def mp_step():
        import mpmath

        one, sl = mpmath.mpf(1), mpmath.mpf(s)
        return lambda h: (h, one) if h > 0 else (sl * h, sl)

    def dcov(q, c):
        k = _arccos_kernel0(c)
        return (1.0 + s * s) * k + 2.0 * s * (0.5 - k)

    return Activation(
        "leaky_relu",
        lambda h: np.where(np.asarray(h) > 0.0, h, s * np.asarray(h)),
        lambda h: np.where(np.asarray(h) > 0.0, 1.0, s),
        _zeros,
        pieces=Pieces((0.0,), (s, 1.0), (0.0, 0.0)),
        params={"negative_slope": s},
        kernel=kernel_ids.LEAKY_RELU,
        gaussian=GaussianForms(
            second_moment=lambda q: q * (1.0 + s ** 2) / 2.0,
            second_moment_slope=lambda q: np.full(q.shape, (1.0 + s ** 2) / 2.0),
            derivative_moment=lambda q, k: (1.0 + s ** (2.0 * k)) / 2.0,
            covariance=lambda q, c: q * ((1.0 + s * s) * _arccos_kernel(c) - 2.0 * s * _arccos_kernel(-c)),
            derivative_covariance=dcov,
        ),
        mp_step=mp_step,
        sympy_phi=_sympy_leaky,
        torch=torch_module("LeakyReLU"),
    )


def _mp_linear():
    import mpmath

    one = mpmath.mpf(1)
    return lambda h: (h, one)


def linear() -> Activation:
    """The identity ``h``."""
    return Activation(
        "linear",
        lambda h: np.asarray(h, dtype=np.float64) * 1.0,
        lambda h: np.ones_like(np.asarray(h, dtype=np.float64)),
        _zeros,
        pieces=Pieces((), (1.0,), (0.0,)),
        even_decreasing_gain=True,
        kernel=kernel_ids.LINEAR,
        gaussian=GaussianForms(
            second_moment=lambda q: q * 1.0,
            second_moment_slope=lambda q: np.ones(q.shape),
            derivative_moment=lambda q, k: np.ones(q.shape),
            covariance=lambda q, c: q * c,
            derivative_covariance=lambda q, c: np.ones(np.broadcast(q, c).shape),
        ),
        mp_step=_mp_linear,
        sympy_phi=lambda h: h,
        torch=torch_module("Identity", takes_params=False),
    )


RECORDS = {"hardtanh": hardtanh, "relu": relu, "leaky_relu": leaky_relu, "linear": linear}
