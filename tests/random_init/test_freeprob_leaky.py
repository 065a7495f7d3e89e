"""Leaky-relu random-init laws (two atoms of D^2, none at 0) against their moments from the
S-transform as a power series.

The reference shares nothing with :mod:`rmt_idinit.random_init.freeprob` but the equation
``S_{JJᵀ} = (S_W S_{D^2})^L``: it builds ``nu`` (``D^2 / E[D^2]``, atoms ``s^2 / mu1`` and
``1 / mu1`` with mass 1/2 each, ``mu1 = (1 + s^2)/2``) by hand, inverts its moment series, raises
the S-transform to the L-th power and inverts back, all in truncated power series at 40 digits
(mpmath). The package tabulates the density by root continuation and integrates it; before the
fix it raised "root continuation failed" at every depth >= 2 (the lambda -> 0 tail lost 1 + M
to cancellation, and the orthogonal law was given a support down to lambda = 0 it does not have:
every eigenvalue is at least (s^2/mu1)^L).
Measured (n_grid = 2048): relative error of m1..m4 <= 3e-13 and |moment(0) - 1| <= 7e-14 at
depths 3..40 and for Gaussian weights; orthogonal depth 2 reaches 1.1e-11 and 1.2e-12 (both ends
of its support are where an atom of mass 1 - L/2 = 0 meets the continuous part).
"""
import mpmath
import numpy as np
import pytest

from rmt_idinit.random_init.freeprob import random_jjt_law

K = 5  # moments m1..m4 need the series to order 4; one more term as a margin


def _mul(a, b):
    return [mpmath.fsum(a[i] * b[n - i] for i in range(n + 1)) for n in range(K)]


def _pow(a, n):
    out = [mpmath.mpf(1)] + [mpmath.mpf(0)] * (K - 1)
    for _ in range(n):
        out = _mul(out, a)
    return out


def _compose(f, g):
    """f(g(z)) for f, g with no constant term (coefficient lists from z^0)."""
    out = [mpmath.mpf(0)] * K
    gk = [mpmath.mpf(1)] + [mpmath.mpf(0)] * (K - 1)
    for k in range(1, K):
        gk = _mul(gk, g)
        out = [o + f[k] * c for o, c in zip(out, gk)]
    return out


def _revert(f):
    """g with f(g(z)) = z, term by term."""
    g = [mpmath.mpf(0), 1 / f[1]] + [mpmath.mpf(0)] * (K - 2)
    for n in range(2, K):
        g[n] -= _compose(f, g)[n] / f[1]
    return g


def reference_moments(depth, slope, weights):
    with mpmath.workdps(40):
        s2 = mpmath.mpf(slope) ** 2
        mu1 = (1 + s2) / 2
        d = [s2 / mu1, 1 / mu1]
        psi = [mpmath.mpf(0)] + [sum(x ** k for x in d) / 2 for k in range(1, K)]
        chi = _revert(psi)
        a = chi[1:] + [mpmath.mpf(0)]                      # chi(z) / z
        s_nu = [a[0]] + [a[n] + a[n - 1] for n in range(1, K)]  # S = (1 + z) chi / z
        s_j = _pow(s_nu, depth)
        if weights == "gaussian":  # S of a Wishart with ratio 1: 1 / (1 + z)
            s_j = _mul(s_j, _pow([mpmath.mpf((-1) ** k) for k in range(K)], depth))
        over = _mul(s_j, [mpmath.mpf((-1) ** k) for k in range(K)])  # S / (1 + z)
        chi_j = [mpmath.mpf(0)] + over[:-1]                # z S / (1 + z)
        psi_j = _revert(chi_j)
        return [float(psi_j[k]) for k in range(1, K)]


@pytest.mark.parametrize("weights", ["orthogonal", "gaussian"])
@pytest.mark.parametrize("depth, slope", [(2, 0.01), (3, 0.2), (8, 0.01), (40, 0.2)])
def test_moments_match_the_s_transform_series(depth, slope, weights):
    law = random_jjt_law(depth, "leaky_relu", weights, q_star=0.5, negative_slope=slope)
    assert float(law.moment(0)) == pytest.approx(1.0, abs=1e-11 if depth == 2 else 1e-12)
    got = [float(law.moment(k)) for k in range(1, 5)]
    np.testing.assert_allclose(got, reference_moments(depth, slope, weights), rtol=1e-10)


def test_reference_reproduces_the_closed_form_variance():
    """The series reference itself: var = L (mu2/mu1^2 - 1 - s1) (s1 = 0 orthogonal, -1 Gaussian)."""
    s = 0.2
    ratio = (1 + s ** 4) / 2 / ((1 + s * s) / 2) ** 2
    for weights, s1 in (("orthogonal", 0.0), ("gaussian", -1.0)):
        m1, m2 = reference_moments(7, s, weights)[:2]
        assert m1 == pytest.approx(1.0, rel=1e-14)
        assert m2 - 1.0 == pytest.approx(7 * (ratio - 1 - s1), rel=1e-12)


def test_orthogonal_support_stays_above_the_smallest_product():
    """Orthogonal weights: J Jᵀ >= (s^2/mu1)^L, so no mass below it (nothing runs to 0)."""
    s, L = 0.2, 3
    law = random_jjt_law(L, "leaky_relu", "orthogonal", q_star=0.5, negative_slope=s)
    floor = (s * s / ((1 + s * s) / 2)) ** L
    assert float(law.cdf(floor * (1 - 1e-9))) == 0.0
    assert float(law.cdf(floor * 1.5)) > 0.0


@pytest.mark.parametrize("depth", [2, 3])
def test_gaussian_law_against_a_simulated_network(depth):
    """The whole CDF against eig(J Jᵀ) of one critical network at N = 1500 (seed 0). Measured KS
    0.0085 (L = 2), 0.018 (L = 3; 0.003 and 0.018 with seed 1): besides the rigid-bulk O(1/N) the
    finite net carries the binomial noise of each layer's share of slope-s units (std 0.013 here),
    which the limit cannot know. Tolerance 0.03, below the i.i.d. DKW scale 1.36/sqrt(N) = 0.035."""
    from .test_freeprob_simulation import ks_distance, simulate

    law = random_jjt_law(depth, "leaky_relu", "gaussian", q_star=0.5)
    lam, _ = simulate(depth, "leaky_relu", law.setting, np.random.default_rng(0))
    assert ks_distance(lam, law) < 0.03
