"""Cell propagation for piecewise-linear activations (rmt_idinit.piecewise).

References: the network itself, unit by unit in numpy (the gain of each input coordinate), a Monte
Carlo count of the atoms, and mpmath at 400 digits for the Gaussian masses of the cells.
"""
import math

import mpmath
import numpy as np
import pytest
from scipy import stats

import rmt_idinit as ri
from rmt_idinit.activations import Activation, Pieces, get_activation
from rmt_idinit.piecewise import cells, gaussian_interval_mass, piecewise_law


def _bent(h):
    # hard-tanh with a kink: slope 1 on (-1, 0.5), 0.3 on (0.5, 2), flat outside
    h = np.asarray(h, dtype=np.float64)
    return np.where(h < -1, -1.0, np.where(h < 0.5, h, np.where(h < 2.0, 0.3 * h + 0.35, 0.95)))


def _bent_slope(h):
    h = np.asarray(h, dtype=np.float64)
    return np.where((h > -1) & (h < 0.5), 1.0, np.where((h > 0.5) & (h < 2.0), 0.3, 0.0))


BENT = Activation("bent", _bent, _bent_slope,
                  pieces=Pieces((-1.0, 0.5, 2.0), (0.0, 1.0, 0.3, 0.0), (-1.0, 0.0, 0.35, 0.95)))
ACTS = {"hardtanh": get_activation("hardtanh"), "relu": get_activation("relu"),
        "leaky_relu": get_activation("leaky_relu", negative_slope=0.2), "bent": BENT}


def _network_log_gain(act, sigma, bias, depth, u):
    # the unit of an identity-initialized net: h^1 = sigma u, h^(l+1) = sigma phi(h^l) + bias,
    # gain = prod_l sigma phi'(h^l)
    h, g = sigma * u, np.zeros_like(u)
    with np.errstate(divide="ignore"):
        for _ in range(depth):
            g = g + np.log(np.abs(sigma * act.dphi(h)))
            h = sigma * act.phi(h) + bias
    return g


@pytest.mark.parametrize("name", sorted(ACTS))
@pytest.mark.parametrize("sigma, bias, depth", [(0.9, 0.0, 7), (1.1, 0.0, 30), (1.1, 0.3, 5), (1.05, -0.2, 12)])
def test_cells_match_the_network_unit_by_unit(name, sigma, bias, depth):
    act = ACTS[name]
    edges, log_gain = cells(act.pieces, sigma, bias, depth)
    assert edges[0] == -np.inf and edges[-1] == np.inf and np.all(np.diff(edges) > 0)
    u = np.random.default_rng(5).normal(0.0, 2.0, 20000)
    want = _network_log_gain(act, sigma, bias, depth, u)
    got = log_gain[np.searchsorted(edges, u, side="right") - 1]
    dead = np.isneginf(want)
    assert np.array_equal(np.isneginf(got), dead)
    np.testing.assert_allclose(got[~dead], want[~dead], rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["hardtanh", "relu", "leaky_relu"])
def test_builtin_activations_keep_three_cells_at_any_depth(name):
    for depth in (1, 50, 2000):
        edges, _ = cells(ACTS[name].pieces, 1.05, 0.0, depth)
        assert edges.size - 1 <= 3, (name, depth, edges)


def test_law_of_a_user_activation_against_monte_carlo():
    sigma, q0, depth, bias = 1.1, 0.7, 6, 0.1
    la, w = piecewise_law(BENT.pieces, sigma, q0, depth, bias)
    assert np.all(np.diff(la) > 0) and abs(w.sum() - 1.0) < 1e-14
    # jjt_law takes the same exact path for a user activation with pieces
    law = ri.jjt_law(sigma, q0, depth, BENT, bias=bias)
    np.testing.assert_array_equal(law.log_atoms, la)
    np.testing.assert_allclose(law.weights, w, rtol=1e-15)
    n = 400_000
    u = np.random.default_rng(11).normal(0.0, math.sqrt(q0), n)
    lam = 2.0 * _network_log_gain(BENT, sigma, bias, depth, u)
    for a, p in zip(la, w):
        count = int(np.sum(np.abs(lam - a) < 1e-9) if np.isfinite(a) else np.sum(np.isneginf(lam)))
        lo, hi = stats.binom(n, p).interval(1 - 1e-6)
        assert lo <= count <= hi, (a, p, count / n)


def test_exponentially_many_cells_are_refused():
    # the tent map on [0, 1] doubles the cells every layer and never merges them
    tent = Activation("tent", lambda h: np.clip(1 - np.abs(2 * np.asarray(h) - 1), 0, None),
                      lambda h: np.where((h > 0) & (h < 0.5), 2.0, np.where((h > 0.5) & (h < 1), -2.0, 0.0)),
                      pieces=Pieces((0.0, 0.5, 1.0), (0.0, 2.0, -2.0, 0.0), (0.0, 0.0, 2.0, 0.0)))
    edges, _ = cells(tent.pieces, 1.0, 0.0, 8)
    assert edges.size - 1 > 2 ** 8
    with pytest.raises(ValueError, match="more than 100000 cells"):
        cells(tent.pieces, 1.0, 0.0, 25)


_MASS_CASES = [(-np.inf, np.inf, 1.0), (-np.inf, 0.0, 1.0), (0.0, np.inf, 3.0), (30.0, 31.0, 1.0),
               (-31.0, -30.0, 1.0), (-1e-20, 1e-20, 1.0), (-2e-300, 1e-300, 1e-3), (-2.0, 3.0, 0.5),
               (5.0, np.inf, 0.1), (-np.inf, -0.3, 1e-4), (0.999, 1.001, 1.0), (-1.0, 1.0, 1e8)]


def _mp_mass(a, b, q0):
    # P(a < u < b) = sf(a) - sf(b), sf(t) = erfc(t / sqrt(2 q0)) / 2, at 400 digits (no cancellation
    # left for any of these cases)
    with mpmath.workdps(400):
        s = mpmath.sqrt(2 * mpmath.mpf(q0))
        sf = lambda t: mpmath.mpf(1) if t == -np.inf else (mpmath.mpf(0) if t == np.inf else mpmath.erfc(mpmath.mpf(t) / s) / 2)  # noqa: E731
        return sf(a) - sf(b)


def _mass(a, b, q0):
    return float(gaussian_interval_mass(np.array([a]), np.array([b]), q0)[0])


def test_gaussian_interval_mass_against_mpmath():
    for a, b, q0 in _MASS_CASES:
        ref, got = _mp_mass(a, b, q0), _mass(a, b, q0)
        assert ref > 0
        # erfc(z) has condition number ~2 z^2 at large z: the rounding of z = a / sqrt(2 q0)
        # alone costs 2 z^2 ulp (900 ulp at a = 30), so that is the bound, times 8
        z = min(abs(a), abs(b)) / math.sqrt(2 * q0) if a * b > 0 else 0.0
        # and a difference of two tail masses cancels by (the nearer tail) / (the cell's mass)
        near = min(_mp_mass(a, np.inf, q0), _mp_mass(-np.inf, b, q0)) if a * b > 0 else ref
        bound = 8 * np.finfo(float).eps * (1 + 2 * z * z) * float(near / ref)
        assert float(abs(got - ref) / ref) <= bound, (a, b, q0, got, float(ref))


def test_gaussian_interval_mass_of_narrow_one_sided_cells_near_zero():
    for a, b, q0 in [(1e-300, 2e-300, 1e-3), (1e-10, 2e-10, 1.0), (-2e-10, -1e-10, 1.0)]:
        ref = _mp_mass(a, b, q0)
        assert float(abs(_mass(a, b, q0) - ref) / ref) <= 8 * np.finfo(float).eps, (a, b, q0)
