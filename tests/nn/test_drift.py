"""weight_drift against numpy norms."""
import numpy as np
import pytest
import torch

from rmt_idinit.nn import IdentityMLP, weight_drift

pytestmark = pytest.mark.torch


def test_identity_drift_zero_at_init_and_matches_numpy_after_perturbation():
    m = IdentityMLP(6, 3, sigma=1.25)
    d0 = weight_drift(m, sigma=1.25)
    assert np.array_equal(d0["frobenius"], np.zeros(3)) and np.array_equal(d0["spectral"], np.zeros(3))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for lin in m.layers:
            lin.weight.add_(0.01 * torch.randn(6, 6, generator=g))
    d = weight_drift(m)  # defaults to model.sigma for identity init
    for l, lin in enumerate(m.layers):
        diff = lin.weight.detach().double().numpy() - 1.25 * np.eye(6)
        assert d["frobenius"][l] == pytest.approx(np.linalg.norm(diff) / (1.25 * np.sqrt(6)), rel=1e-12)
        assert d["spectral"][l] == pytest.approx(np.linalg.norm(diff, 2) / 1.25, rel=1e-12)


def test_random_init_drift_is_relative_to_stored_initial_weights():
    m = IdentityMLP(8, 2, init="orthogonal", sigma_w=1.1, generator=torch.Generator().manual_seed(1))
    assert np.array_equal(weight_drift(m)["frobenius"], np.zeros(2))
    w0 = m.layers[1].weight.detach().double().clone()
    with torch.no_grad():
        m.layers[1].weight.mul_(1.5)
    d = weight_drift(m, spectral=False)
    assert "spectral" not in d
    assert d["frobenius"][1] == pytest.approx(0.5, rel=1e-6)
    # an explicit reference wins
    ref = [l.weight.detach().clone() for l in m.layers]
    assert np.array_equal(weight_drift(m, reference=ref)["frobenius"], np.zeros(2))
    assert torch.equal(m.initial_weight_1.double(), w0)


def test_drift_errors():
    m = IdentityMLP(4, 2)
    with pytest.raises(ValueError, match="one matrix per layer"):
        weight_drift(m, reference=[torch.eye(4)])
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        weight_drift(m, sigma=-1.0)
