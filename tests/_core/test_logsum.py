"""rmt_idinit._core.logsum: the NaN-safe log-sum-exp against mpmath."""
import math

import mpmath
import numpy as np
import pytest

from rmt_idinit._core.logsum import logsumexp


def test_against_mpmath_beyond_double_range():
    rng = np.random.default_rng(0)
    a = rng.uniform(-2000, 2000, size=(5, 40))
    b = rng.uniform(0, 3, size=(5, 40))
    got = logsumexp(a, b, axis=-1)
    for i in range(5):
        ref = mpmath.log(mpmath.fsum(mpmath.mpf(float(bb)) * mpmath.exp(mpmath.mpf(float(aa))) for aa, bb in zip(a[i], b[i])))
        assert got[i] == pytest.approx(float(ref), rel=1e-15, abs=1e-12)


def test_zero_and_empty_sums_are_minus_infinity_not_nan():
    with np.errstate(all="raise"):  # and no floating-point warning leaks out
        out = logsumexp(np.array([[-np.inf, -np.inf], [0.0, -np.inf], [1.0, 2.0]]), np.array([1.0, 1.0]))
        assert out[0] == -np.inf and out[1] == 0.0
        assert out[2] == pytest.approx(math.log(math.e + math.e ** 2), rel=1e-15)
        assert logsumexp(np.array([1.0, 2.0]), np.zeros(2)) == -np.inf
        assert logsumexp(np.zeros((3, 0)), axis=-1).tolist() == [-np.inf] * 3
