"""The one NaN-safe log-sum-exp of the package.

``log(sum_i b_i exp(a_i))`` along ``axis`` where ``a`` may hold ``-inf`` (a zero term) and the
sum may be empty or all zero: scipy returns NaN (with a warning) for an all ``-inf`` slice, and
the moments of a law need ``-inf`` there (``log 0``). Terms beyond double range stay finite in
logs, which is what lets the laws carry atoms like ``sigma^(2L)`` with ``L log sigma > 354``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

__all__ = ["logsumexp"]


def logsumexp(a: Any, b: Any = None, axis: int = -1) -> np.ndarray:
    """``log(sum(b * exp(a), axis))`` for ``b >= 0``; ``-inf`` for an empty or all-zero sum, never NaN.

    Examples
    --------
    >>> import numpy as np
    >>> float(logsumexp(np.array([-np.inf, -np.inf])))
    -inf
    >>> abs(float(logsumexp(np.array([1000.0, 1000.0]))) - (1000 + float(np.log(2)))) < 1e-12  # exp(1000) overflows
    True

    ``b=None`` (all ones) takes a lean path, one max and one pass of exp: it is what the
    (laws x nodes) blocks of batched smooth laws spend their time on, and scipy's version makes
    several more passes.
    """
    if b is None:
        a = np.asarray(a, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            top = np.max(a, axis=axis, keepdims=True) if a.shape[axis] else np.full(
                a.shape[:axis % a.ndim] + (1,) + a.shape[axis % a.ndim + 1:], -np.inf)
            top = np.where(np.isfinite(top), top, 0.0)
            out = np.log(np.sum(np.exp(a - top), axis=axis)) + np.squeeze(top, axis=axis)
        return np.where(np.isnan(out), -np.inf, out)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = special.logsumexp(a, b=b, axis=axis)
    return np.where(np.isnan(out), -np.inf, out)
