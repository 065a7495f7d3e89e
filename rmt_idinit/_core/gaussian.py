"""Gaussian masses of intervals, accurate in both tails, and the standard-normal range cutoff.

The mass of an interval, ``P(a < sd z < b)`` for ``z ~ N(0, 1)``, is written three ways, each used
where it keeps relative accuracy::

    a >= 0:   (erfc(a/s) - erfc(b/s)) / 2      (right tail: no 1 - 1 + tiny),
    b <= 0:   (erfc(-b/s) - erfc(-a/s)) / 2    (left tail, by symmetry),
    else:     (erf(b/s) - erf(a/s)) / 2        (across 0: tiny central cells keep their digits),

with ``s = sqrt(2) sd``. What is left is the conditioning of the ends (a tail mass carries the
``(a/sd)^2`` ulp of rounding ``a/s``) and, for a narrow interval far in a tail, the subtraction
(relative error ``~ eps P(z > a) / P(a < z < b)``). The piecewise-linear laws (cell masses), the selection's level sets and
the hard-tanh c-map all take their Gaussian masses from here.
"""
from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["Z_MAX", "interval_mass"]

#: ``|z|`` beyond which the standard-normal mass (< 1e-323) is below double precision.
Z_MAX = 38.5


def interval_mass(a: np.ndarray, b: np.ndarray, sd: np.ndarray | float = 1.0) -> np.ndarray:
    """``P(a < sd z < b)`` for ``z ~ N(0, 1)``, broadcast over ``a``, ``b``, ``sd`` (0 where ``b <= a``).

    Arrays, no checks: ``sd > 0``; ``a`` and ``b`` may be infinite.

    Examples
    --------
    >>> float(interval_mass(-np.inf, 0.0, 2.0))
    0.5
    >>> float(interval_mass(30.0, np.inf))  # the tail itself, not 1 - 1
    4.906713927148745e-198
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    s = np.sqrt(2.0) * np.asarray(sd, dtype=np.float64)
    # A difference of tails only where both ends are in one tail (erfc there is small and exact),
    # the left tail by symmetry; near 0 erf is the accurate one (a cell like (1e-300, 2e-300)
    # would cancel to 0 in erfc). Four special-function calls, whatever the mix of cells.
    with np.errstate(invalid="ignore"):
        xa, xb = a / s, b / s
        left = xb <= -0.5
        ta, tb = np.where(left, -xb, xa), np.where(left, -xa, xb)
        tail = 0.5 * (special.erfc(ta) - special.erfc(tb))
        centre = 0.5 * (special.erf(xb) - special.erf(xa))
    out = np.where(ta >= 0.5, tail, centre)
    return np.where(b > a, out, 0.0)
