"""Activation registry, user-defined activations, and their kernels."""
import math
import pickle

import numpy as np
import pytest

import rmt_idinit as ri
from rmt_idinit.activations import ACTIVATIONS, Activation, Pieces, get_activation
from rmt_idinit.finite import dkw_epsilon, ks_distance
from rmt_idinit.recursion import log_gain_scalar, run_layers


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_kernels_match_numpy_forms(name):
    act = get_activation(name)
    phi, dphi, d2phi, code, both = act.kernels()
    p = act.param_array
    for h in np.linspace(-4.0, 4.0, 41) + 0.013:
        assert phi(code, h, p) == pytest.approx(float(act.phi(np.float64(h))), rel=1e-14, abs=1e-300)
        assert dphi(code, h, p) == pytest.approx(float(act.dphi(np.float64(h))), rel=1e-13, abs=1e-300)
        assert d2phi(code, h, p) == pytest.approx(float(act.d2phi(np.float64(h))), rel=1e-12, abs=1e-15)
        x, d = both(code, h, p)
        assert x == pytest.approx(phi(code, h, p), rel=2e-15, abs=1e-300)
        assert d == pytest.approx(dphi(code, h, p), rel=2e-15, abs=1e-300)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_derivatives_are_derivatives(name):
    act = get_activation(name)
    h = np.array([-2.3, -0.4, 0.3, 1.7])  # away from kinks
    eps = 1e-6
    np.testing.assert_allclose(act.dphi(h), (act.phi(h + eps) - act.phi(h - eps)) / (2 * eps), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(act.d2phi(h), (act.dphi(h + eps) - act.dphi(h - eps)) / (2 * eps), rtol=1e-6, atol=1e-8)


def test_user_smooth_activation_law_matches_network(rng):
    softsign = Activation("softsign", lambda h: h / (1.0 + abs(h)), lambda h: 1.0 / (1.0 + abs(h)) ** 2)
    n, sigma, depth = 500, 1.1, 12
    u = rng.normal(0.0, 1.0, n)
    # the actual network with W = sigma*I
    x, g = u.copy(), np.ones(n)
    for _ in range(depth):
        h = sigma * x
        g *= sigma * softsign.dphi(h)
        x = softsign.phi(h)
    eig = np.sort(g * g)
    np.testing.assert_allclose(np.sort(ri.jjt_eigenvalues(u, sigma, depth, softsign)), eig, rtol=1e-12)
    law = ri.jjt_law(sigma, 1.0, depth, softsign)
    assert ks_distance(eig, law) < dkw_epsilon(n, 1 - 1e-6)
    # the d2phi fallback (finite differences) still gives a density consistent with the cdf
    xq = law.ppf(np.array([0.3, 0.7]))
    num = (law.cdf(xq * (1 + 1e-5)) - law.cdf(xq * (1 - 1e-5))) / (2e-5 * xq)
    np.testing.assert_allclose(law.pdf(xq), num, rtol=1e-4)


def test_user_piecewise_activation_uses_exact_cells(rng):
    # "hard sigmoid"-like with three slopes; not a built-in: exact law by cell propagation
    pieces = Pieces((-1.0, 2.0), (0.2, 1.0, 0.5), (-0.8, 0.0, 1.0))
    bp = np.array(pieces.breakpoints)

    def phi(h):
        h = np.asarray(h, dtype=float)
        k = np.searchsorted(bp, h, side="right")
        return np.array(pieces.slopes)[k] * h + np.array(pieces.intercepts)[k]

    def dphi(h):
        return np.array(pieces.slopes)[np.searchsorted(bp, np.asarray(h, dtype=float), side="right")]

    act = Activation("three_slopes", phi, dphi, pieces=pieces)
    sigma, q0, depth, n = 1.08, 1.5, 15, 500
    law = ri.jjt_law(sigma, q0, depth, act)
    assert law.is_discrete and law.weights.sum() == pytest.approx(1.0, abs=1e-14)
    counts = np.zeros(law.atoms.size)
    trials = 0
    for _ in range(4):
        u = rng.normal(0.0, math.sqrt(q0), n)
        x, g = u.copy(), np.ones(n)
        for _ in range(depth):
            h = sigma * x
            g *= sigma * dphi(h)
            x = phi(h)
        lam = g * g
        idx = np.argmin(np.abs(np.log(lam)[:, None] - law.log_atoms[None, :]), axis=1)
        assert np.allclose(np.log(lam), law.log_atoms[idx], rtol=1e-12)
        counts += np.bincount(idx, minlength=law.atoms.size)
        trials += n
    # multinomial counts against the exact weights: chi-square-free check per atom, 5 sd
    sd = np.sqrt(trials * law.weights * (1 - law.weights))
    assert np.all(np.abs(counts - trials * law.weights) <= 5 * sd + 1)


def test_registry_and_errors():
    act = Activation("cube_root_like", lambda h: h / (1 + h * h) ** 0.25, lambda h: (1 + 0.5 * h * h) / (1 + h * h) ** 1.25)
    ri.register_activation(act)
    assert get_activation("cube_root_like") is act
    with pytest.raises(ValueError, match="built-in"):
        ri.register_activation(Activation("tanh", np.tanh, np.tanh))
    with pytest.raises(ValueError, match=r"activation must be one of .*hardtanh.*got 'swish2'"):
        get_activation("swish2")
    with pytest.raises(TypeError, match="activation must be a name or an Activation"):
        get_activation(3)
    with pytest.raises(TypeError, match=r"activation 'tanh' takes parameters none"):
        get_activation("tanh", scale=2.0)
    with pytest.raises(ValueError, match="negative_slope must be a finite number >= 0, got -0.1"):
        get_activation("leaky_relu", negative_slope=-0.1)
    with pytest.raises(TypeError, match="phi must be callable"):
        Activation("bad", 1.0, np.tanh)
    bad = Activation("not_numba", lambda h: float(np.float64(h).item().__class__(h)), lambda h: {"a": h}["a"])
    with pytest.raises(TypeError, match="numba-compilable"):
        ri.jjt_eigenvalues([0.1], 1.0, 2, bad)


def test_builtins_pickle_by_name():
    for name, params in [("tanh", {}), ("leaky_relu", {"negative_slope": 0.3}), ("softplus", {"beta": 2.0})]:
        act = get_activation(name, **params)
        back = pickle.loads(pickle.dumps(act))
        assert back.name == name and dict(back.params) == dict(act.params)


def test_deep_gains_do_not_overflow():
    # 1e5 layers of sigma = 1.01: sigma^(2L) = e^1990, far beyond double range; logs stay exact
    act = get_activation("linear")
    lg, _ = run_layers(act, np.array([1.01]), np.array([0.0]), np.array([[0.3]]), np.array([100_000]))
    assert lg[0, 0, 0] == pytest.approx(100_000 * math.log(1.01), rel=1e-13)
    assert log_gain_scalar(act, 0.99, 0.0, 0.3, 100_000) == pytest.approx(100_000 * math.log(0.99), rel=1e-13)
