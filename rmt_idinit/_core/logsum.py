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
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = special.logsumexp(a, b=b, axis=axis)
    return np.where(np.isnan(out), -np.inf, out)
