r"""Input normalization to a chosen per-coordinate second moment :math:`q_0`.

.. math::
    u = \sqrt{q_0}\,\frac{x - m}{s},

where m and s are the mean and standard deviation of all pixel values of the fitting set (one
scalar each, not per pixel, so that constant border pixels are not blown up). Then the average of
:math:`u_i^2` over coordinates i and fitting samples is exactly :math:`q_0` (and the mean is 0):
the input law of docs/theory/identity.md has second moment :math:`q_0`. Test data reuse the training
m and s.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._core import checks as _checks

__all__ = ["Normalizer", "normalize"]


@dataclass(frozen=True)
class Normalizer:
    """Fitted affine map ``u = sqrt(q0) * (x - mean) / std``; apply with ``norm(x)``."""

    mean: float
    std: float
    q0: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _checks.check_scalar("mean", self.mean))
        object.__setattr__(self, "std", _checks.check_scalar("std", self.std, _checks.check_positive))
        object.__setattr__(self, "q0", _checks.check_scalar("q0", self.q0, _checks.check_positive))

    @classmethod
    def fit(cls, x: np.ndarray, q0: float) -> "Normalizer":
        """Fit m and s on ``x`` (any shape; all entries pooled)."""
        return cls._fit(x, q0, "x")

    @classmethod
    def _fit(cls, x: np.ndarray, q0: float, name: str) -> "Normalizer":
        q0 = _checks.check_scalar("q0", q0, _checks.check_positive)
        xf = _checks.check_finite(name, x)
        if xf.size < 2:
            raise ValueError(f"{name} must hold at least two values to fit a normalization, got {xf.size}")
        std = float(xf.std())
        if not std > 0:
            raise ValueError(f"cannot normalize: {name} has zero standard deviation (all values equal)")
        return cls(mean=float(xf.mean()), std=std, q0=float(q0))

    def __call__(self, x: np.ndarray, *, flatten: bool = True, dtype=np.float64) -> np.ndarray:
        xf = _checks.as_float_array("x", x)
        if flatten and xf.ndim == 0:
            raise ValueError("x must have a leading sample axis to be flattened, got a 0-d value")
        u = (xf - self.mean) * (np.sqrt(self.q0) / self.std)
        if flatten:
            u = u.reshape(u.shape[0], -1)
        return u.astype(dtype, copy=False)


def normalize(x: np.ndarray, q0: float, *, reference: np.ndarray | None = None) -> np.ndarray:
    r"""Return ``sqrt(q0) * (x - m) / s`` flattened to ``(n, features)`` (float64).

    m, s are the pooled mean and standard deviation of ``reference`` (default ``x`` itself), so
    with the default :math:`\frac{1}{nN}\sum u^2 = q_0` exactly.

    Examples
    --------
    >>> x = np.arange(8.0).reshape(2, 4)
    >>> u = normalize(x, q0=0.5)
    >>> round(float((u ** 2).mean()), 12), round(float(u.mean()), 12)
    (0.5, 0.0)
    """
    if reference is None:
        return Normalizer.fit(x, q0)(x)
    return Normalizer._fit(reference, q0, "reference")(x)
