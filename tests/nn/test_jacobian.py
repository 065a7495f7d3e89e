"""Fast per-sample Jacobians against torch autograd references (float64, 1e-12)."""
import numpy as np
import pytest
import torch

from rmt_idinit.nn import IdentityMLP, hidden_jacobian, jacobian_spectra, linearize

pytestmark = pytest.mark.torch

ACTS = [("hardtanh", {}), ("relu", {}), ("leaky_relu", {"negative_slope": 0.1}), ("linear", {}),
        ("tanh", {}), ("erf", {}), ("sigmoid", {}), ("gelu", {}), ("silu", {}), ("softplus", {})]


def _random_net(act, params, init="gaussian", width=7, depth=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    m = IdentityMLP(width, depth, act, init=init, sigma_w=1.4, sigma_b=0.3, generator=g, **params)
    return m.double()


@pytest.mark.parametrize("act, params", ACTS)
def test_fast_path_equals_autograd_functional_and_jacrev(act, params):
    m = _random_net(act, params)
    x = torch.randn(5, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    fast = hidden_jacobian(m, x, chunk_size=2)
    ref_af = torch.stack([torch.autograd.functional.jacobian(m.hidden, xi) for xi in x])
    ref_func = torch.func.vmap(torch.func.jacrev(m.hidden))(x)
    scale = ref_af.abs().max()
    assert torch.allclose(fast, ref_af, rtol=0, atol=1e-12 * scale)
    assert torch.allclose(fast, ref_func, rtol=0, atol=1e-12 * scale)


def test_chunking_does_not_change_result():
    m = _random_net("tanh", {}, depth=3)
    x = torch.randn(7, 7, dtype=torch.float64)
    full = hidden_jacobian(m, x)
    # batched matmul may pick a different kernel per batch size: round-off only
    for c in (1, 3, 7, 100):
        assert torch.allclose(hidden_jacobian(m, x, chunk_size=c), full, rtol=1e-14, atol=1e-15)


def test_float32_model_promoted_to_float64_by_default():
    m = _random_net("tanh", {}).float()
    x = torch.randn(2, 7)
    assert hidden_jacobian(m, x).dtype == torch.float64
    assert hidden_jacobian(m, x, dtype=None).dtype == torch.float32


def test_identity_hardtanh_spectrum_equals_independent_scalar_recursion():
    # Independent reference (docs/theory/closed_forms.md): g_L(u) = sigma^L if |sigma^l u| < 1 for all
    # l <= L (sigma > 1), so eig(J J^T) = sigma^(2L) * 1[|u| < sigma^-L], else 0.
    sigma, depth, n = 1.03, 20, 300
    m = IdentityMLP(n, depth, sigma=sigma).double()
    m.reset_parameters()
    u = torch.randn(3, n, dtype=torch.float64, generator=torch.Generator().manual_seed(4)) * 0.6
    lam = jacobian_spectra(m, u)
    ref = np.where(np.abs(u.numpy()) < sigma ** (-depth), sigma ** (2 * depth), 0.0)
    assert np.array_equal(lam.numpy() == 0, np.sort(ref, axis=1) == 0)
    np.testing.assert_allclose(lam.numpy(), np.sort(ref, axis=1), rtol=1e-13, atol=0)


def test_spectra_methods_agree_with_numpy():
    m = _random_net("gelu", {}, init="orthogonal")
    x = torch.randn(3, 7, dtype=torch.float64)
    J = hidden_jacobian(m, x).numpy()
    ref = np.stack([np.linalg.eigvalsh(j @ j.T) for j in J])
    for method in ("eigvalsh", "svd"):
        got = jacobian_spectra(m, x, method=method, chunk_size=2).numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12 * ref.max())
    with pytest.raises(ValueError, match="method must be one of 'eigvalsh', 'svd', got"):
        jacobian_spectra(m, x, method="qr")


@pytest.mark.parametrize("act", ["hardtanh", "relu", "leaky_relu"])
def test_linearization_reproduces_forward(act):
    m = _random_net(act, {"negative_slope": 0.2} if act == "leaky_relu" else {}, depth=6)
    x = torch.randn(4, 7, dtype=torch.float64)
    wx, bx = linearize(m, x)
    recon = torch.einsum("bcn,bn->bc", wx, x) + bx
    assert torch.allclose(recon, m(x), rtol=0, atol=1e-12)
    # a small move inside the same linear region is predicted exactly by the same W_x, b_x
    dx = 1e-9 * torch.randn_like(x)
    assert torch.allclose(torch.einsum("bcn,bn->bc", wx, x + dx) + bx, m(x + dx), rtol=0, atol=1e-12)


def test_input_errors():
    m = _random_net("tanh", {})
    with pytest.raises(ValueError, match=r"x must have 7 features per sample, got shape \(2, 5\)"):
        hidden_jacobian(m, torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match="chunk_size must be an integer >= 1"):
        hidden_jacobian(m, torch.zeros(2, 7, dtype=torch.float64), chunk_size=0)
    with pytest.raises(TypeError, match="model must have `layers`"):
        hidden_jacobian(torch.nn.Linear(7, 7), torch.zeros(2, 7))
    assert hidden_jacobian(m, torch.zeros(7, dtype=torch.float64)).shape == (1, 7, 7)
