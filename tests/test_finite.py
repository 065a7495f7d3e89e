"""Finite-width statistics (rmt_idinit.finite) against scipy, hand-computed cases and simulation."""
import math

import numpy as np
import pytest
from scipy import stats

import rmt_idinit as ri
from rmt_idinit.finite import count_law, dkw_band, dkw_epsilon, goodness_of_fit, ks_distance
from rmt_idinit.laws import SpectralLaw
from rmt_idinit.random_init.freeprob import fuss_catalan_law

TWO_ATOMS = SpectralLaw([0.0, math.log(4.0)], [0.5, 0.5])     # lambda = 1 or 4, equally likely


def test_ks_distance_handles_atoms_exactly():
    # F jumps at the atoms: the supremum sits at or just before a sample point
    assert ks_distance([1.0, 1.0, 1.0, 4.0], TWO_ATOMS) == pytest.approx(0.25, abs=1e-15)
    assert ks_distance([0.5, 4.0], TWO_ATOMS) == pytest.approx(0.5, abs=1e-15)    # F(0.5) = 0, F_n = 1/2
    assert ks_distance([1.0, 4.0], TWO_ATOMS) == pytest.approx(0.0, abs=1e-15)
    assert ks_distance([4.0, 4.0, 4.0, 4.0], TWO_ATOMS) == pytest.approx(0.5, abs=1e-15)  # just before 4


def test_ks_distance_and_pvalue_equal_scipy_for_a_continuous_law():
    law = fuss_catalan_law(2)
    x = law.rvs(500, rng=4)
    ref = stats.kstest(x, law.cdf, method="exact")
    assert ks_distance(x, law) == pytest.approx(ref.statistic, abs=1e-12)
    fit = goodness_of_fit(x, law, confidence=0.99)
    assert fit.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert fit.pvalue == pytest.approx(ref.pvalue, rel=1e-6)
    assert fit.n == 500 and fit.dkw_epsilon == dkw_epsilon(500, 0.99)


def test_dkw_band_covers_the_empirical_cdf_as_often_as_promised():
    # P(sup |F_n - F| > e) <= 2 exp(-2 n e^2) = 1 - confidence (Massart): over 400 samples of 100
    # eigenvalues, at confidence 0.9 at most 10% miss, plus 3.3 binomial standard errors
    law, n, reps = fuss_catalan_law(2), 100, 400
    e = dkw_epsilon(n, 0.9)
    assert e == pytest.approx(math.sqrt(math.log(20.0) / (2 * n)), rel=1e-15)
    rng = np.random.default_rng(8)
    misses = sum(ks_distance(law.rvs(n, rng=rng), law) > e for _ in range(reps))
    assert misses <= reps * 0.1 + 3.3 * math.sqrt(reps * 0.1 * 0.9)
    # and the band is that half-width around F, clipped to [0, 1]
    x = np.array([0.0, 0.5, 1.0, 3.0, 100.0])
    lo, hi = dkw_band(law, x, n, 0.9)
    np.testing.assert_allclose(lo, np.clip(law.cdf(x) - e, 0, 1), rtol=1e-15)
    np.testing.assert_allclose(hi, np.clip(law.cdf(x) + e, 0, 1), rtol=1e-15)


def test_count_law_is_the_binomial_of_the_atom():
    law = ri.jjt_law(1.02, 0.1, 50)
    for atom in (0, 1):
        cl = count_law(law, 1000, atom)
        w = float(law.weights[atom])
        ref = stats.binom(1000, w)
        k = np.arange(0, 1001, 50)
        np.testing.assert_allclose(cl.pmf(k), ref.pmf(k), rtol=1e-12)
        assert cl.mean() == pytest.approx(1000 * w, rel=1e-14)


def test_goodness_of_fit_rejects_the_wrong_law():
    right = ri.jjt_law(1.05, 0.5, 30, "tanh")
    wrong = ri.jjt_law(1.05, 0.6, 30, "tanh")
    x = right.rvs(4000, rng=3)
    assert goodness_of_fit(x, right).pvalue > 1e-4
    assert goodness_of_fit(x, wrong).statistic > dkw_epsilon(4000, 0.999)


def test_ks_distance_needs_one_law_and_a_sample():
    with pytest.raises(ValueError, match="single law"):
        ks_distance([1.0], ri.jjt_law(np.array([1.0, 1.1]), 0.5, 3))
    with pytest.raises(ValueError, match="at least one value"):
        ks_distance([], TWO_ATOMS)
