"""Finite-width statistics of the J Jᵀ spectrum at identity initialization.

At width N with i.i.d. input coordinates, the N eigenvalues are exactly N i.i.d. draws of the
limiting law (docs/theory/identity.md). Hence:

* the number of eigenvalues at an atom is ``Binomial(N, w)`` exactly (:func:`count_law`);
* the empirical CDF ``F_N`` satisfies the Dvoretzky-Kiefer-Wolfowitz inequality
  ``P(sup |F_N - F| > e) <= 2 exp(-2 N e^2)`` (:func:`dkw_band`);
* a measured spectrum can be tested against the law with the KS statistic (:func:`goodness_of_fit`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from ._core.checks import as_float_array, check_probability, check_scalar, check_scalar_int
from .laws import SpectralLaw, check_law

__all__ = ["count_law", "dkw_epsilon", "dkw_band", "ks_distance", "goodness_of_fit", "FitResult"]


def count_law(law: SpectralLaw, width: int, atom: int = 0):
    """``Binomial(width, weights[..., atom])``: the count of eigenvalues at one atom.

    Examples
    --------
    >>> import rmt_idinit as ri
    >>> from rmt_idinit.finite import count_law
    >>> round(float(count_law(ri.jjt_law(1.02, 0.1, 50), 400000).mean()), 1)
    303982.0
    """
    return check_law("law", law).count_law(width, atom)


def dkw_epsilon(n: int, confidence: float = 0.95) -> float:
    """Half-width ``e = sqrt(log(2 / (1 - confidence)) / (2 n))`` of the DKW band.

    Examples
    --------
    >>> round(dkw_epsilon(500, 0.95), 5)
    0.06074
    """
    n = check_scalar_int("n", n, minimum=1)
    c = check_scalar("confidence", confidence, check_probability)
    return math.sqrt(math.log(2.0 / (1.0 - c)) / (2.0 * n))


def dkw_band(law: SpectralLaw, x: Any, n: int, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper DKW bounds on the empirical CDF of ``n`` eigenvalues at ``x``."""
    check_law("law", law)
    e = dkw_epsilon(n, confidence)
    f = law.cdf(x)
    return np.clip(f - e, 0.0, 1.0), np.clip(f + e, 0.0, 1.0)


def ks_distance(sample: Any, law: SpectralLaw) -> float:
    """``sup_x |F_n(x) - F(x)|`` for a sample and a scalar law, exact for atoms and densities.

    The supremum is attained at a sample point, just before or at it; both sides are checked,
    so atoms (where F jumps) are handled exactly.
    """
    if check_law("law", law).batch_shape != ():
        raise ValueError(f"ks_distance needs a single law (batch shape ()), got {law.batch_shape}")
    x = np.sort(as_float_array("sample", sample).ravel())
    if x.size == 0:
        raise ValueError("sample must contain at least one value")
    n = x.size
    u, first = np.unique(x, return_index=True)
    last = np.append(first[1:], n)
    f_at = law.cdf(u)
    f_before = law.cdf(np.nextafter(u, -np.inf))
    emp_at = last / n
    emp_before = first / n
    return float(max(np.max(np.abs(emp_at - f_at)), np.max(np.abs(emp_before - f_before))))


@dataclass(frozen=True)
class FitResult:
    """Result of :func:`goodness_of_fit`: the KS statistic, its p-value and the DKW half-width."""

    statistic: float
    pvalue: float
    dkw_epsilon: float
    n: int


def goodness_of_fit(sample: Any, law: SpectralLaw, confidence: float = 0.95) -> FitResult:
    """Test a measured spectrum against the law.

    For laws with atoms the Kolmogorov distribution is conservative; the DKW half-width holds for
    any law and is the bound to compare ``statistic`` with.
    """
    x = as_float_array("sample", sample).ravel()
    check_scalar("confidence", confidence, check_probability)
    d = ks_distance(x, law)
    p = float(stats.kstwo.sf(d, x.size))
    return FitResult(d, p, dkw_epsilon(x.size, confidence), x.size)
