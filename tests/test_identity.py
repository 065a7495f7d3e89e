"""The identity-init module's own contract (rmt_idinit.identity): the exact eigenvalues of J Jᵀ for
given inputs, against the network iterated unit by unit in numpy, and log(1 - alpha) against mpmath.

(The laws against mpmath are in test_accuracy.py, against dense networks in test_identity_network.py,
the adaptive quadrature in test_identity_quadrature.py.)
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import rmt_idinit as ri
from rmt_idinit.activations import ACTIVATIONS, get_activation


def _network_log_eigenvalues(act, sigma, bias, depth, u):
    # J = prod_l diag(sigma phi'(h^l)) for W = sigma I, h^1 = sigma u, h^(l+1) = sigma phi(h^l) + b:
    # the eigenvalues of J Jᵀ are the squared per-coordinate gains
    h, g = sigma * u, np.zeros_like(u)
    out = []
    with np.errstate(divide="ignore", over="ignore"):
        for _ in range(depth):
            g = g + np.log(np.abs(sigma * act.dphi(h)))
            h = sigma * act.phi(h) + bias
            out.append(2.0 * g)
    return np.array(out)


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("bias", [0.0, 0.1])
def test_eigenvalues_are_the_squared_gains_of_the_network(name, bias):
    act = get_activation(name, **({"negative_slope": 0.2} if name == "leaky_relu" else {}))
    u = np.random.default_rng(3).normal(0.0, 1.0, (3, 40))
    sigma, depth = 1.05, 20
    want = _network_log_eigenvalues(act, sigma, bias, depth, u)
    got = ri.jjt_eigenvalues(u, sigma, depth, act, bias, all_layers=True, log=True)
    assert got.shape == (depth,) + u.shape
    dead = np.isneginf(want)
    assert np.array_equal(np.isneginf(got), dead)
    # the numba kernels and numpy round differently; over 20 layers the logs agree to ~1e-13
    np.testing.assert_allclose(got[~dead], want[~dead], rtol=0, atol=1e-11)
    last = ri.jjt_eigenvalues(u, sigma, depth, act, bias)
    np.testing.assert_allclose(last, np.exp(got[-1]), rtol=1e-14)


def test_log_eigenvalues_stay_finite_where_lambda_overflows():
    u = np.array([-0.3, 0.0, 2.0])
    lg = ri.jjt_eigenvalues(u, 1.5, 2000, "linear", log=True)
    np.testing.assert_allclose(lg, 4000 * math.log(1.5), rtol=1e-14)
    assert np.all(ri.jjt_eigenvalues(u, 1.5, 2000, "linear") == np.inf)


def test_empirical_law_is_the_law_of_these_eigenvalues():
    u = np.linspace(-2.0, 2.0, 41)
    law = ri.jjt_law(1.03, None, 10, "tanh", inputs=u)
    lg = ri.jjt_eigenvalues(u, 1.03, 10, "tanh", log=True)
    np.testing.assert_allclose(np.sort(law.log_atoms), np.sort(lg), rtol=1e-14)
    np.testing.assert_allclose(law.weights, 1.0 / u.size, rtol=1e-15)


# --- log(1 - alpha) ---------------------------------------------------------------------------

def _mp_log_erfc(x):
    # log erfc at 50 digits; log1p(-erf) where erfc is within 1e-50 of 1 (log(erfc) would be 0)
    return mpmath.log1p(-mpmath.erf(x)) if x < 1 else mpmath.log(mpmath.erfc(x))


_LOG_GRID = [(s, q0, d) for s in (0.5, 0.9, 1.0, 1.0001, 1.02, 1.5, 3.0)
             for q0 in (1e-8, 1e-4, 0.2, 1.0, 1e2) for d in (1, 10, 100, 1000, 100_000)]


def test_log_alpha_complement_vs_mpmath_near_0_and_1():
    # hard-tanh: 1 - alpha = erfc(x), x = sigma^(-m) / sqrt(2 q0) (m = L for sigma > 1, else 1); the
    # grid spans x from e^-109861 (alpha ~ 0, log(1 - alpha) ~ -1e-47712) to 7e3 (1 - alpha ~ e^-5e7)
    worst = 0.0
    with mpmath.workdps(50):
        for s, q0, d in _LOG_GRID:
            m = d if s > 1 else 1
            x = mpmath.mpf(s) ** (-m) / mpmath.sqrt(2 * mpmath.mpf(q0))
            ref = _mp_log_erfc(x)
            got = float(ri.log_alpha_complement(s, q0, d))
            if abs(ref) < mpmath.mpf("1e-300"):  # below double range: 0 (or a subnormal) is right
                assert abs(got) < 1e-300, (s, q0, d, got)
                continue
            err = float(abs(got - ref) / abs(ref))
            worst = max(worst, err)
            assert err <= 1e-12, (s, q0, d, got, ref)
    print(f"worst relative error of log_alpha_complement vs mpmath: {worst:.2g}")


def test_log_alpha_complement_small_is_not_rounded_to_zero():
    # 1 - alpha = erfc(1.5^-100 / sqrt(0.4)) = 1 - 4.39e-18: log_ndtr rounded it to exactly 0
    with mpmath.workdps(50):
        ref = _mp_log_erfc(mpmath.mpf(1.5) ** -100 / mpmath.sqrt(mpmath.mpf(0.4)))
    got = float(ri.log_alpha_complement(1.5, 0.2, 100))
    assert got < 0.0 and abs(got - float(ref)) <= 1e-15 * abs(float(ref)), (got, ref)
