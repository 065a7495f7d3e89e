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

__all__ = ["Normalizer", "normalize"]


@dataclass(frozen=True)
class Normalizer:
    """Fitted affine map ``u = sqrt(q0) * (x - mean) / std``; apply with ``norm(x)``."""

    mean: float
    std: float
    q0: float

    @classmethod
    def fit(cls, x: np.ndarray, q0: float) -> "Normalizer":
        """Fit m and s on ``x`` (any shape; all entries pooled)."""
        if not (np.isfinite(q0) and q0 > 0):
            raise ValueError(f"q0 must be a finite number > 0, got {q0!r}")
        xf = np.asarray(x, dtype=np.float64)
        std = float(xf.std())
        if not std > 0:
            raise ValueError("cannot normalize: the data have zero standard deviation")
        return cls(mean=float(xf.mean()), std=std, q0=float(q0))

    def __call__(self, x: np.ndarray, *, flatten: bool = True, dtype=np.float64) -> np.ndarray:
        u = (np.asarray(x, dtype=np.float64) - self.mean) * (np.sqrt(self.q0) / self.std)
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
    return Normalizer.fit(x if reference is None else reference, q0)(x)
