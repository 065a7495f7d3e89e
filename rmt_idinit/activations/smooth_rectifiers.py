"""Smooth rectifiers: gelu (``h Phi(h)``), silu (``h sigmoid(h)``), softplus (``log(1 + e^(beta h)) / beta``).

No closed-form Gaussian expectations: mean-field theory integrates them by quadrature.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special

from .._core import kernel_ids
from ._common import positive_param, torch_module
from .record import Activation
from .saturating import sigmoid_parts_mp

__all__ = ["gelu", "silu", "softplus", "RECORDS"]

_SQRT2PI = math.sqrt(2.0 * math.pi)


def _mp_gelu():
    import mpmath

    inv_sqrt2 = 1 / mpmath.sqrt(2)
    inv_sqrt2pi = 1 / mpmath.sqrt(2 * mpmath.pi)

    def gelu_step(h):
        cdf = mpmath.erfc(-h * inv_sqrt2) / 2
        return h * cdf, cdf + h * inv_sqrt2pi * mpmath.exp(-h * h / 2)
    return gelu_step


def _sympy_gelu(h):
    import sympy as sp

    return h * (1 + sp.erf(h / sp.sqrt(2))) / 2


def gelu() -> Activation:
    """``h Phi(h)`` with the standard normal CDF ``Phi`` (PyTorch's exact GELU)."""
    def pdf(h):
        return np.exp(-0.5 * np.asarray(h) ** 2) / _SQRT2PI

    return Activation(
        "gelu",
        lambda h: np.asarray(h) * special.ndtr(h),
        lambda h: special.ndtr(h) + np.asarray(h) * pdf(h),
        lambda h: (2.0 - np.asarray(h) ** 2) * pdf(h),
        kernel=kernel_ids.GELU,
        mp_step=_mp_gelu,
        sympy_phi=_sympy_gelu,
        torch=torch_module("GELU"),
    )


def _mp_silu():
    def step(h):
        s_pos, s_neg = sigmoid_parts_mp(h)
        return h * s_pos, s_pos * (1 + h * s_neg)
    return step


def _sympy_silu(h):
    import sympy as sp

    return h / (1 + sp.exp(-h))


def silu() -> Activation:
    """``h sigmoid(h)`` (swish with beta = 1)."""
    def d(h):
        s = special.expit(h)
        return s * (1.0 + np.asarray(h) * (1.0 - s))

    def d2(h):
        s = special.expit(h)
        return s * (1.0 - s) * (2.0 + np.asarray(h) * (1.0 - 2.0 * s))

    return Activation("silu", lambda h: np.asarray(h) * special.expit(h), d, d2, kernel=kernel_ids.SILU,
                      mp_step=_mp_silu, sympy_phi=_sympy_silu, torch=torch_module("SiLU"))


def _sympy_softplus(h, beta):
    import sympy as sp

    return sp.log(1 + sp.exp(beta * h)) / beta


def softplus(beta: float = 1.0) -> Activation:
    """``log(1 + exp(beta h)) / beta``."""
    b = positive_param("beta", beta)

    def mp_step():
        import mpmath

        bm, zero = mpmath.mpf(b), mpmath.mpf(0)

        def softplus_step(h):
            e = mpmath.exp(-abs(bm * h))  # softplus(x) = max(x, 0) + log1p(exp(-|x|))
            sp_ = (max(bm * h, zero) + mpmath.log1p(e)) / bm
            return sp_, (1 / (1 + e) if h >= 0 else e / (1 + e))
        return softplus_step

    return Activation(
        "softplus",
        lambda h: np.logaddexp(0.0, b * np.asarray(h)) / b,
        lambda h: special.expit(b * np.asarray(h)),
        lambda h: b * special.expit(b * np.asarray(h)) * special.expit(-b * np.asarray(h)),
        params={"beta": b},
        kernel=kernel_ids.SOFTPLUS,
        mp_step=mp_step,
        sympy_phi=_sympy_softplus,
        torch=torch_module("Softplus"),
    )


RECORDS = {"gelu": gelu, "silu": silu, "softplus": softplus}
