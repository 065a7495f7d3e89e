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


def _mp_jacobian(m, x, dps=40):
    """J = D^L W^L ... D^1 W^1 of a tanh net in mpmath arithmetic (independent of torch)."""
    import mpmath as mp

    with mp.workdps(dps):
        xv = mp.matrix([mp.mpf(float(v)) for v in x])
        jac = mp.eye(len(x))
        for lin in m.layers:
            w = mp.matrix(lin.weight.detach().double().tolist())
            b = mp.matrix([mp.mpf(float(v)) for v in lin.bias.detach().double()])
            h = w * xv + b
            xv = mp.matrix([mp.tanh(v) for v in h])
            d = mp.diag([1 - mp.tanh(v) ** 2 for v in h])
            jac = d * w * jac
        lam = sorted(mp.eigsy(jac * jac.T, eigvals_only=True))
        return (np.array(jac.tolist(), dtype=float), np.array([float(v) for v in lam]))


def test_jacobian_and_spectra_match_mpmath():
    m = _random_net("tanh", {}, width=6, depth=5)
    x = torch.randn(2, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    jac = hidden_jacobian(m, x).numpy()
    for i in range(2):
        ref_j, ref_lam = _mp_jacobian(m, x[i].tolist())
        np.testing.assert_allclose(jac[i], ref_j, rtol=0, atol=1e-14 * np.abs(ref_j).max())
        for method in ("eigvalsh", "svd"):
            lam = jacobian_spectra(m, x[i : i + 1], method=method).numpy()[0]
            np.testing.assert_allclose(lam, ref_lam, rtol=0, atol=1e-14 * ref_lam.max())


def _half_dead_hardtanh_net(width=9, depth=6, seed=5):
    # big biases push many units outside (-1, 1): rows of J vanish, and the active sets change
    # from layer to layer, which is what the compact product has to get right
    g = torch.Generator().manual_seed(seed)
    return IdentityMLP(width, depth, "hardtanh", init="gaussian", sigma_w=1.3, sigma_b=1.2, generator=g).double()


def test_zero_rows_skipped_exactly_against_jacrev():
    m = _half_dead_hardtanh_net()
    x = torch.randn(6, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    ref = torch.func.vmap(torch.func.jacrev(m.hidden))(x).detach()
    dead_rows = (ref.abs().sum(-1) == 0).sum().item()
    assert 0 < dead_rows < ref.shape[0] * ref.shape[1]  # the test exercises the compaction
    for c in (1, 4):
        fast = hidden_jacobian(m, x, chunk_size=c)
        assert torch.allclose(fast, ref, rtol=0, atol=1e-13 * float(ref.abs().max()))
        assert torch.equal(fast.abs().sum(-1) == 0, ref.abs().sum(-1) == 0)
    lam = jacobian_spectra(m, x, chunk_size=2).numpy()
    dense = np.stack([np.linalg.eigvalsh(j @ j.T) for j in ref.numpy()])
    np.testing.assert_allclose(lam, dense, rtol=0, atol=1e-12 * dense.max())
    assert np.all(np.diff(lam, axis=1) >= 0)


def test_all_units_dead_gives_zero_jacobian():
    m = IdentityMLP(5, 3, "relu", init="gaussian", sigma_w=1.0, sigma_b=0.0).double()
    with torch.no_grad():
        m.layers[1].bias.fill_(-1e3)  # layer 2 is dead for every input
    x = torch.randn(3, 5, dtype=torch.float64)
    assert torch.equal(hidden_jacobian(m, x), torch.zeros(3, 5, 5, dtype=torch.float64))
    assert torch.equal(jacobian_spectra(m, x), torch.zeros(3, 5, dtype=torch.float64))


def test_diagonal_weights_fast_path_against_jacrev():
    m = _random_net("tanh", {}, width=6, depth=4)
    with torch.no_grad():
        for lin in m.layers:
            lin.weight.copy_(torch.diag(torch.linspace(-1.5, 1.5, 6, dtype=torch.float64)))
    x = torch.randn(3, 6, dtype=torch.float64)
    ref = torch.func.vmap(torch.func.jacrev(m.hidden))(x).detach()
    assert torch.allclose(hidden_jacobian(m, x), ref, rtol=0, atol=1e-15 * float(ref.abs().max()))
    lam = jacobian_spectra(m, x).numpy()
    np.testing.assert_allclose(lam, np.sort(np.diagonal(ref.numpy(), axis1=1, axis2=2) ** 2, axis=1),
                               rtol=1e-15, atol=0)


def test_memory_refused_up_front(monkeypatch):
    m = _random_net("tanh", {}, width=7, depth=4)
    x = torch.randn(50, 7, dtype=torch.float64)
    # chunk 50: 50 * 7 * 7 * 8 bytes of output alone; chunk 1 fits the same limit
    monkeypatch.setenv("RMT_IDINIT_MAX_BYTES", str(8 * (6 * 49 + 7 * 4 + 49 + 10)))
    with pytest.raises(ValueError, match=r"chunk_size=50 .*RMT_IDINIT_MAX_BYTES"):
        jacobian_spectra(m, x, chunk_size=50)
    assert jacobian_spectra(m, x, chunk_size=1).shape == (50, 7)
    with pytest.raises(ValueError, match="RMT_IDINIT_MAX_BYTES"):
        hidden_jacobian(m, x, chunk_size=1)  # the (50, 7, 7) result itself does not fit


def test_iter_hidden_jacobians_yields_the_chunks_of_hidden_jacobian():
    from rmt_idinit.nn.jacobian import iter_hidden_jacobians

    m = _half_dead_hardtanh_net()
    x = torch.randn(5, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    chunks = list(iter_hidden_jacobians(m, x, chunk_size=2))
    assert [c.shape for c in chunks] == [(2, 9, 9), (2, 9, 9), (1, 9, 9)]
    assert torch.equal(torch.cat(chunks), hidden_jacobian(m, x, chunk_size=2))
