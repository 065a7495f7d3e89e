"""Argument checks and small helpers shared by the selection modules (private)."""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .._core import checks as _checks
from ..activations import Activation, get_activation

DEFAULT_EPS = 0.05
DEFAULT_KAPPA = 10.0


def check_eps(eps: Any) -> np.ndarray:
    return _checks.check_probability("eps", eps)


def check_kappa(kappa: Any) -> np.ndarray:
    k = _checks.as_float_array("kappa", kappa)
    bad = ~(np.isfinite(k) & (k > 1))
    if bad.any():
        raise ValueError(f"kappa must be a finite number > 1, got {float(k[bad].flat[0]) if k.ndim else float(k)!r}")
    return k


def activation_of(activation: str | Activation, params: Mapping[str, float]) -> Activation:
    return get_activation(activation, **params)


def is_hardtanh(act: Activation) -> bool:
    return act.is_unit_clip


def scalar(a: np.ndarray):
    """0-d arrays back to numpy scalars, so scalar calls return scalars."""
    a = np.asarray(a)
    return a[()] if a.ndim == 0 else a


def sigma_q0_depth(sigma, q0, depth):
    s = _checks.check_positive("sigma", sigma)
    q = _checks.check_positive("q0", q0)
    d = _checks.check_depth(depth)
    return _checks.broadcast(sigma=s, q0=q, depth=d)
