"""The identity-init laws against the actual network: dense W = sigma*I, eig(J Jᵀ) computed directly.

Tolerances follow from the width: the count of eigenvalues at an atom is Binomial(N, w) exactly,
so a two-sided binomial test at level 1e-6 is used; for continuous laws the KS distance of N
eigenvalues must lie within the DKW half-width at confidence 1 - 1e-6,
e = sqrt(log(2e6) / (2N)) = 0.121 at N = 500.
"""
import math

import numpy as np
import pytest
from scipy import stats

import rmt_idinit as ri
from rmt_idinit.activations import get_activation
from rmt_idinit.finite import dkw_epsilon, ks_distance

N = 500
LEVEL = 1e-6


def dense_network_jjt(u, sigma, depth, activation, bias=0.0, jacobian=True, **params):
    """eig(J Jᵀ) of the real dense network h^(l+1) = W x^l + b with W = sigma*I (N x N)."""
    act = get_activation(activation, **params)
    n = u.size
    W = sigma * np.eye(n)
    x = u.copy()
    J = np.eye(n)
    for _ in range(depth):
        h = W @ x + bias
        if jacobian:
            J = act.dphi(h)[:, None] * (W @ J)  # D^l W^l J with D^l diagonal
        x = act.phi(h)
    return (np.sort(np.linalg.eigvalsh(J @ J.T)) if jacobian else None), x


def binomial_pvalue(k, n, p):
    d = stats.binom(n, p)
    return min(1.0, 2 * min(d.cdf(k), d.sf(k - 1)))


@pytest.mark.parametrize(
    "sigma,q0,depth,activation,params",
    [
        (1.02, 0.1, 30, "hardtanh", {}),
        (0.9, 1.0, 30, "hardtanh", {}),
        (1.0, 1.0, 20, "hardtanh", {}),
        (1.1, 1.0, 15, "relu", {}),
        (1.05, 2.0, 20, "leaky_relu", {"negative_slope": 0.3}),
    ],
)
def test_atom_laws_match_dense_network(sigma, q0, depth, activation, params, rng):
    u = rng.normal(0.0, math.sqrt(q0), N)
    eig, _ = dense_network_jjt(u, sigma, depth, activation, **params)
    law = ri.jjt_law(sigma, q0, depth, activation, **params)
    atoms = law.atoms
    # every eigenvalue sits on an atom, to round-off
    nearest = np.min(np.abs(eig[:, None] - atoms[None, :]) / np.maximum(atoms[None, :], 1.0), axis=1)
    assert nearest.max() < 1e-10
    # the count on each atom is Binomial(N, weight)
    for i in range(atoms.size):
        k = int(np.sum(np.isclose(eig, atoms[i], rtol=1e-10, atol=1e-300)))
        assert binomial_pvalue(k, N, law.weights[i]) > LEVEL, (i, k, law.weights[i])


@pytest.mark.parametrize(
    "sigma,q0,depth,activation",
    [(1.0, 1.0, 10, "tanh"), (1.05, 0.5, 30, "tanh"), (1.1, 1.0, 10, "gelu"), (0.95, 1.0, 20, "erf"),
     (1.2, 1.0, 8, "silu"), (1.3, 0.7, 12, "softplus"), (1.5, 1.0, 6, "sigmoid")],
)
def test_continuous_laws_match_dense_network(sigma, q0, depth, activation, rng):
    u = rng.normal(0.0, math.sqrt(q0), N)
    eig, _ = dense_network_jjt(u, sigma, depth, activation)
    law = ri.jjt_law(sigma, q0, depth, activation)
    d = ks_distance(np.clip(eig, 0.0, None), law)
    assert d < dkw_epsilon(N, 1 - LEVEL), d
    # and the exact per-sample prediction reproduces the spectrum to round-off
    pred = np.sort(ri.jjt_eigenvalues(u, sigma, depth, activation))
    np.testing.assert_allclose(eig, pred, rtol=1e-9, atol=1e-12 * pred.max())


def test_bias_law_matches_network(rng):
    sigma, q0, depth, b = 1.1, 1.0, 12, 0.05
    u = rng.normal(0.0, math.sqrt(q0), N)
    eig, _ = dense_network_jjt(u, sigma, depth, "hardtanh", bias=b)
    law = ri.jjt_law(sigma, q0, depth, "hardtanh", bias=b)
    for i in range(law.atoms.size):
        k = int(np.sum(np.isclose(eig, law.atoms[i], rtol=1e-10, atol=1e-300)))
        assert binomial_pvalue(k, N, law.weights[i]) > LEVEL


def test_empirical_input_law_is_exact(rng):
    u = rng.standard_t(df=3, size=N) * 0.3  # a non-Gaussian "real data" law
    eig, _ = dense_network_jjt(u, 1.03, 25, "tanh")
    law = ri.jjt_law(1.03, None, 25, "tanh", inputs=u)
    np.testing.assert_allclose(np.sort(law.atoms), eig, rtol=1e-9, atol=1e-14)
    assert law.weights.sum() == pytest.approx(1.0)


def test_forward_moments_match_network_average(rng):
    # q^l is the mean of x^l^2 over units; average several independent inputs to shrink the error
    sigma, q0, depth = 1.05, 0.8, 6
    for activation in ("hardtanh", "tanh", "relu"):
        xs = []
        for _ in range(8):
            u = rng.normal(0.0, math.sqrt(q0), N)
            _, x = dense_network_jjt(u, sigma, depth, activation, jacobian=False)
            xs.append(x)
        x2 = np.concatenate(xs) ** 2
        pred = ri.forward_moments(sigma, q0, depth, activation)[-1]
        se = x2.std() / math.sqrt(x2.size)
        assert abs(x2.mean() - pred) < 5 * se, (activation, x2.mean(), pred)


def test_every_layer_in_one_pass(rng):
    u = rng.normal(0.0, 1.0, 64)
    all_l = ri.jjt_eigenvalues(u, 1.07, 12, "tanh", all_layers=True)
    for layer in (1, 5, 12):
        np.testing.assert_allclose(all_l[layer - 1], ri.jjt_eigenvalues(u, 1.07, layer, "tanh"), rtol=1e-14)
    laws = ri.jjt_law(1.07, 1.0, np.arange(1, 13), "tanh")
    single = ri.jjt_law(1.07, 1.0, 7, "tanh")
    assert laws.batch_shape == (12,)
    assert laws.mean()[6] == pytest.approx(float(single.mean()), rel=1e-12)
