"""The per-unit start and stop of the layer recursion (``run_layers(h1=, stop=)``, the tail of deep
smooth laws) against the unit iterated in numpy, layer by layer, with no closed-form shortcut."""
import math

import numpy as np
import pytest

from rmt_idinit.activations import Activation, get_activation
from rmt_idinit.recursion import run_layers


def log_gains_from(act, sigma, bias, h0, n):
    """log|prod of n[k] layers from pre-activation h0[k]| per unit, through the one recursion."""
    n = np.asarray(n, dtype=np.int64)
    top = max(int(n.max()), 1)
    lg, _ = run_layers(act, sigma, bias, np.zeros((h0.size, 1)), np.array([top]),
                       h1=np.asarray(h0, dtype=np.float64)[:, None], stop=n[:, None])
    return lg[-1, :, 0]


def _direct(act, sigma, bias, h0, n):
    out = np.empty(h0.size)
    with np.errstate(divide="ignore"):
        for k in range(h0.size):
            h, g = h0[k], 0.0
            for _ in range(int(n[k])):
                g += math.log(abs(sigma[k] * float(act.dphi(np.float64(h)))))
                h = sigma[k] * float(act.phi(np.float64(h))) + bias[k]
            out[k] = g
    return out


@pytest.mark.parametrize("name", ["tanh", "erf", "gelu", "silu", "softplus", "sigmoid"])
def test_gains_from_a_start_match_the_iterated_unit(name):
    act = get_activation(name)
    rng = np.random.default_rng(2)
    m = 24
    sigma = rng.uniform(0.7, 1.4, m)
    bias = np.where(np.arange(m) % 3 == 0, 0.1, 0.0)
    h0 = rng.normal(0.0, 1.5, m)
    n = rng.integers(0, 300, m)
    n[0] = 0                                   # no layers: log-gain 0
    got = log_gains_from(act, sigma, bias, h0, n)
    assert got[0] == 0.0
    # ~1e-16 relative per layer, 300 layers: 1e-12 in the log is generous
    np.testing.assert_allclose(got, _direct(act, sigma, bias, h0, n), rtol=1e-12, atol=1e-12)


def test_the_fixed_point_tail_equals_iterating_every_layer():
    # tanh at sigma 0.5 contracts to h* = 0 within ~1100 layers (h underflows to a fixed point of
    # the float map); the kernel takes the remaining layers as one power, numpy iterates all 20000
    act = get_activation("tanh")
    sigma, bias = np.full(3, 0.5), np.zeros(3)
    h0, n = np.array([0.3, -2.0, 5.0]), np.full(3, 20000)
    got = log_gains_from(act, sigma, bias, h0, n)
    np.testing.assert_allclose(got, _direct(act, sigma, bias, h0, n), rtol=1e-12)
    # and a nonzero fixed point: sigmoid with a bias settles on h* = 1.2 sigmoid(h*) - 0.3
    act = get_activation("sigmoid")
    sigma, bias = np.full(2, 1.2), np.full(2, -0.3)
    h0, n = np.array([0.0, 3.0]), np.full(2, 5000)
    np.testing.assert_allclose(log_gains_from(act, sigma, bias, h0, n), _direct(act, sigma, bias, h0, n), rtol=1e-12)


def test_a_user_activation_runs_through_its_own_kernel():
    soft = Activation("softsign", lambda h: h / (1 + np.abs(h)), lambda h: 1 / (1 + np.abs(h)) ** 2)
    sigma, bias = np.array([1.3, 0.9]), np.array([0.0, 0.05])
    h0, n = np.array([0.2, -1.0]), np.array([50, 400])
    got = log_gains_from(soft, sigma, bias, h0, n)
    np.testing.assert_allclose(got, _direct(soft, sigma, bias, h0, n), rtol=1e-12, atol=1e-12)
