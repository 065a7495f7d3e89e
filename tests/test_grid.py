"""Moments on (sigma, q0) grids (rmt_idinit.grid) against closed forms and mpmath quadrature.

The references share no code with the grid: the linear law is sigma^(2Lk) exactly, the hard-tanh
law is an atom sigma^(2L) with weight erf(m / sqrt(2 q0)) (m = sigma^-L above 1, 1/sigma below),
and the smooth ones are mpmath integrals of the gain of the network iterated at 30 digits.
"""
import math

import mpmath
import numpy as np
import pytest

import rmt_idinit as ri
from rmt_idinit.grid import log_moment_grid, moment_grid

S = np.array([0.8, 0.95, 1.0, 1.02, 1.1, 1.5])
Q = np.array([1e-3, 0.1, 1.0, 10.0])


def test_linear_moments_are_exact_powers():
    for k in (0.5, 1.0, 3.0):
        g = log_moment_grid(S, Q, 40, "linear", k=k)
        np.testing.assert_allclose(g, np.broadcast_to(80 * k * np.log(S)[:, None], g.shape), rtol=1e-13, atol=1e-13)


def test_moment_grid_is_the_exponential_and_overflows_to_inf():
    g = log_moment_grid([1.5], [1.0], 2000, "linear")
    assert g[0, 0] == pytest.approx(4000 * math.log(1.5), rel=1e-13)   # 1.6e3: far beyond double
    assert moment_grid([1.5], [1.0], 2000, "linear")[0, 0] == np.inf
    m = moment_grid(S, Q, 30, "tanh")
    np.testing.assert_allclose(m, np.exp(log_moment_grid(S, Q, 30, "tanh")), rtol=1e-15)


def _mp_log_moment(act, sigma, q0, depth, k=1, bias=0.0):
    # log E[g_L(u)^(2k)], u ~ N(0, q0), with the unit iterated in mpmath; the integrand is split at
    # 0 and at the scale sigma^-L of the gain peak, where tanh-sinh quadrature needs an endpoint
    phi, dphi = {
        "tanh": (mpmath.tanh, lambda h: 1 / mpmath.cosh(h) ** 2),
        "erf": (mpmath.erf, lambda h: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-h * h)),
        "gelu": (lambda h: h * mpmath.ncdf(h), lambda h: mpmath.ncdf(h) + h * mpmath.npdf(h)),
    }[act]
    with mpmath.workdps(30):
        s, q = mpmath.mpf(sigma), mpmath.mpf(q0)

        def f(u):
            h, g = s * u, mpmath.mpf(1)
            for _ in range(depth):
                g *= s * dphi(h)
                h = s * phi(h) + bias
            return mpmath.npdf(u, 0, mpmath.sqrt(q)) * g ** (2 * k)

        w = min(mpmath.mpf(1), s ** -depth) * mpmath.sqrt(q)
        pts = sorted({mpmath.mpf(0), *(c * w for c in (0.25, 1, 4, 16)), *(c * mpmath.sqrt(q) for c in (1, 4, 12))})
        right = mpmath.quad(f, pts + [mpmath.inf])
        left = mpmath.quad(f, [-mpmath.inf] + [-p for p in reversed(pts)]) if (act == "gelu" or bias) else right
        return float(mpmath.log(left + right))


@pytest.mark.parametrize("act, sigma, q0, depth", [("tanh", 1.02, 0.5, 40), ("tanh", 1.5, 0.1, 40),
                                                   ("erf", 0.95, 1.0, 40), ("tanh", 0.8, 10.0, 25)])
def test_smooth_odd_activations_on_the_shared_grid_vs_mpmath(act, sigma, q0, depth):
    # one grid of several sigma and q0, then the cell of interest: the grid shares the recursion
    g = log_moment_grid([0.9, sigma, 1.3], [q0, 2 * q0], depth, act)
    assert abs(g[1, 0] - _mp_log_moment(act, sigma, q0, depth)) < 1e-11


def test_other_activations_take_the_adaptive_law_and_agree_with_mpmath():
    # gelu's gain is not even in u: the grid hands the cell to the adaptive law
    g = log_moment_grid([1.1], [1.0], 10, "gelu")
    assert abs(g[0, 0] - _mp_log_moment("gelu", 1.1, 1.0, 10)) < 1e-11
    law = ri.jjt_law(np.array([1.1]), np.array([1.0]), 10, "gelu")
    assert g[0, 0] == pytest.approx(float(law.log_moment(1.0)[0]), rel=1e-14)


def _hardtanh_log_moment(sigma, q0, depth, k):
    m = mpmath.mpf(sigma) ** -depth if sigma > 1 else 1 / mpmath.mpf(sigma)
    return float(2 * depth * k * mpmath.log(sigma) + mpmath.log(mpmath.erf(m / mpmath.sqrt(2 * q0))))


def test_the_hardtanh_closed_form_is_the_exact_law():
    # the reference of the next test, checked against the law's exact atoms
    law = ri.jjt_law(S[:, None], Q[None, :], 40)
    ref = np.array([[_hardtanh_log_moment(s, q, 40, 1.0) for q in Q] for s in S])
    np.testing.assert_allclose(np.asarray(law.log_moment(1.0)), ref, rtol=1e-13, atol=1e-13)


def test_hardtanh_on_the_shared_grid_matches_its_closed_form():
    g = log_moment_grid(S, Q, 40, "hardtanh", k=1.0)
    ref = np.array([[_hardtanh_log_moment(s, q, 40, 1.0) for q in Q] for s in S])
    np.testing.assert_allclose(g, ref, rtol=1e-10, atol=1e-10)


def test_the_default_activation_is_hardtanh_and_old_calls_warn():
    # one default in the package (grid used to default to tanh), and k/bias are keyword-only
    with pytest.warns(DeprecationWarning, match="default activation is 'hardtanh'"):
        g = log_moment_grid(S, Q, 40)
    np.testing.assert_array_equal(g, log_moment_grid(S, Q, 40, "hardtanh"))
    with pytest.warns(DeprecationWarning, match="by position"):
        g2 = log_moment_grid(S, Q, 40, "tanh", 2.0)
    np.testing.assert_array_equal(g2, log_moment_grid(S, Q, 40, "tanh", k=2.0))
