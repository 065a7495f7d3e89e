"""Smooth saturating built-ins: tanh, erf(a h), sigmoid.

erf has closed-form Gaussian expectations (the arcsine kernel of Williams 1997); tanh and sigmoid
go through the generic quadrature of mean-field theory.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import special

from .._core import kernel_ids
from ._common import positive_param, torch_module
from .record import Activation, GaussianForms

__all__ = ["tanh", "erf", "sigmoid", "RECORDS"]


def _mp_tanh():
    import mpmath

    def tanh_step(h):
        # sech^2 = 4e/(1+e)^2 with e = exp(-2|h|): no 1 - tanh^2 cancellation
        e = mpmath.exp(-2 * abs(h))
        t = (1 - e) / (1 + e)
        return (t if h >= 0 else -t), 4 * e / (1 + e) ** 2
    return tanh_step


def _sympy_tanh(h):
    import sympy as sp

    return sp.tanh(h)


def tanh() -> Activation:
    """``tanh(h)``."""
    return Activation(
        "tanh",
        np.tanh,
        lambda h: 1.0 / np.cosh(h) ** 2,
        lambda h: -2.0 * np.tanh(h) / np.cosh(h) ** 2,
        even_decreasing_gain=True,
        kernel=kernel_ids.TANH,
        mp_step=_mp_tanh,
        sympy_phi=_sympy_tanh,
        torch=torch_module("Tanh"),
    )


def _sympy_erf(h, scale):
    import sympy as sp

    return sp.erf(scale * h)


def erf(scale: float = 1.0) -> Activation:
    """``erf(scale * h)``."""
    a = positive_param("scale", scale)
    c = 2.0 * a / math.sqrt(math.pi)
    a2 = a ** 2

    def mp_step():
        import mpmath

        am = mpmath.mpf(a)
        cm = 2 * am / mpmath.sqrt(mpmath.pi)
        return lambda h: (mpmath.erf(am * h), cm * mpmath.exp(-(am * h) ** 2))

    return Activation(
        "erf",
        lambda h: special.erf(a * np.asarray(h)),
        lambda h: c * np.exp(-(a * np.asarray(h)) ** 2),
        lambda h: -2.0 * a * a * np.asarray(h) * c * np.exp(-(a * np.asarray(h)) ** 2),
        even_decreasing_gain=True,
        params={"scale": a},
        kernel=kernel_ids.ERF,
        gaussian=GaussianForms(
            second_moment=lambda q: (2.0 / math.pi) * np.arcsin(2.0 * a2 * q / (1.0 + 2.0 * a2 * q)),
            second_moment_slope=lambda q: (4.0 * a2 / math.pi) / ((1.0 + 2.0 * a2 * q) * np.sqrt(1.0 + 4.0 * a2 * q)),
            derivative_moment=lambda q, k: (2.0 * a / math.sqrt(math.pi)) ** (2.0 * k) / np.sqrt(1.0 + 4.0 * k * a * a * q),
            covariance=lambda q, cc: (2.0 / math.pi) * np.arcsin(
                np.clip(2.0 * a2 * cc * q / (1.0 + 2.0 * a2 * q), -1.0, 1.0)),
            derivative_covariance=lambda q, cc: (4.0 * a2 / math.pi) / np.sqrt(
                (1.0 + 2.0 * a2 * q) ** 2 - (2.0 * a2 * cc * q) ** 2),
        ),
        mp_step=mp_step,
        sympy_phi=_sympy_erf,
        torch=torch_module("Erf", module="rmt_idinit.nn.activations"),
    )


def sigmoid_parts_mp(h):
    """``(s(h), s(-h))`` in mpmath from ``e = exp(-|h|) <= 1``, both without cancellation."""
    import mpmath

    e = mpmath.exp(-abs(h))
    big, small = 1 / (1 + e), e / (1 + e)
    return (big, small) if h >= 0 else (small, big)


def _mp_sigmoid():
    def step(h):
        s_pos, s_neg = sigmoid_parts_mp(h)
        return s_pos, s_pos * s_neg
    return step


def _sympy_sigmoid(h):
    import sympy as sp

    return 1 / (1 + sp.exp(-h))


def sigmoid() -> Activation:
    """``1 / (1 + exp(-h))``."""
    return Activation(
        "sigmoid",
        special.expit,
        lambda h: special.expit(h) * special.expit(-np.asarray(h)),
        lambda h: special.expit(h) * special.expit(-np.asarray(h)) * (1.0 - 2.0 * special.expit(h)),
        kernel=kernel_ids.SIGMOID,
        mp_step=_mp_sigmoid,
        sympy_phi=_sympy_sigmoid,
        torch=torch_module("Sigmoid"),
    )


RECORDS = {"tanh": tanh, "erf": erf, "sigmoid": sigmoid}
