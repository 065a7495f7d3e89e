"""IdentityMLP construction, forward pass and random baselines."""

import pytest
import torch

from rmt_idinit.nn import ACTIVATIONS, IdentityMLP, make_activation

pytestmark = pytest.mark.torch


def test_structure_and_shapes():
    m = IdentityMLP(width=6, depth=4, n_classes=3)
    assert len(m.layers) == 4 and all(l.weight.shape == (6, 6) for l in m.layers)
    assert m.readout.weight.shape == (3, 6)
    x = torch.randn(2, 6)
    assert m(x).shape == (2, 3) and m.hidden(x).shape == (2, 6)
    assert len(m.hidden(x, all_layers=True)) == 4


def test_hidden_matches_manual_scalar_map_hardtanh():
    sigma, depth = 1.1, 5
    m = IdentityMLP(width=8, depth=depth, sigma=sigma).double()
    m.reset_parameters()
    u = torch.linspace(-1.2, 1.2, 8, dtype=torch.float64).unsqueeze(0)
    h = sigma * u
    for _ in range(depth - 1):
        h = sigma * h.clamp(-1, 1)
    assert torch.equal(m.hidden(u), h.clamp(-1, 1))


def test_no_bias_option():
    m = IdentityMLP(width=3, depth=2, bias=False)
    assert all(l.bias is None for l in m.layers)


def test_orthogonal_init_is_scaled_orthogonal_and_stored():
    g = torch.Generator().manual_seed(1)
    m = IdentityMLP(width=50, depth=3, init="orthogonal", sigma_w=1.3, sigma_b=0.2, generator=g)
    for l, lin in enumerate(m.layers):
        w = lin.weight.double()
        assert torch.allclose(w @ w.T, 1.69 * torch.eye(50, dtype=torch.float64), atol=1e-5)
        assert torch.equal(getattr(m, f"initial_weight_{l}"), lin.weight)
    assert "initial_weight_0" in m.state_dict()


def test_gaussian_init_variance():
    g = torch.Generator().manual_seed(2)
    n = 400
    m = IdentityMLP(width=n, depth=2, init="gaussian", sigma_w=1.2, sigma_b=0.5, generator=g)
    w = m.layers[0].weight.double()
    # var of n^2 = 160000 entries: relative standard error sqrt(2/160000) = 0.35%
    assert abs(w.var().item() * n / 1.44 - 1) < 0.02
    b = torch.cat([l.bias for l in m.layers]).double()
    assert abs(b.std().item() / 0.5 - 1) < 0.1


def test_generator_makes_init_reproducible():
    a = IdentityMLP(10, 2, init="gaussian", generator=torch.Generator().manual_seed(3))
    b = IdentityMLP(10, 2, init="gaussian", generator=torch.Generator().manual_seed(3))
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(width=0, depth=1), "width must be an integer >= 1"),
        (dict(width=3, depth=0), "depth must be an integer >= 1"),
        (dict(width=3, depth=1, sigma=-1.0), "sigma must be a finite number > 0"),
        (dict(width=3, depth=1, init="xavier"), "init must be one of"),
        (dict(width=3, depth=1, activation="swish"), "activation must be one of"),
        (dict(width=3, depth=1, init="gaussian", sigma_b=-0.1), "sigma_b must be a finite number >= 0"),
    ],
)
def test_bad_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg):
        IdentityMLP(**kw)


def test_activation_registry_matches_package_names():
    assert set(ACTIVATIONS) == {"hardtanh", "relu", "leaky_relu", "linear", "tanh", "erf", "sigmoid",
                                "gelu", "silu", "softplus"}
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    assert torch.equal(make_activation("erf")(x), torch.erf(x))
    assert torch.equal(make_activation("leaky_relu", negative_slope=0.2)(x), torch.where(x > 0, x, 0.2 * x))
    with pytest.raises(ValueError, match="bad parameters"):
        make_activation("tanh", negative_slope=0.1)


def test_double_rebuilds_the_identity_init_in_float64():
    """.double() used to cast sigma I from float32 (sigma = 1.1 -> 1.10000002384), so J Jᵀ of the
    double model was off by 4e-7 relative at depth 5; now it is sigma^(2L) to round-off."""
    from rmt_idinit.nn.jacobian import hidden_jacobian

    sigma, depth, width = 1.1, 5, 6
    m = IdentityMLP(width=width, depth=depth, sigma=sigma).double()
    for lin in m.layers:
        assert lin.weight.dtype == torch.float64
        assert torch.equal(lin.weight, sigma * torch.eye(width, dtype=torch.float64))
    x = torch.linspace(-0.3, 0.3, width, dtype=torch.float64).unsqueeze(0)  # inside hard-tanh's linear range
    J = hidden_jacobian(m, x)[0]
    jjt = J @ J.T
    ref = torch.eye(width, dtype=torch.float64) * sigma ** (2 * depth)  # float64 products
    assert torch.max(torch.abs(jjt - ref)).item() <= 1e-15 * sigma ** (2 * depth)
    # a layer that no longer holds its init is cast as it is, not reset
    m = IdentityMLP(width=width, depth=2, sigma=sigma)
    with torch.no_grad():
        m.layers[1].weight[0, 1] = 0.25
    trained = m.layers[1].weight.detach().clone()
    m = m.double()
    assert torch.equal(m.layers[1].weight, trained.double())
    assert torch.equal(m.layers[0].weight, sigma * torch.eye(width, dtype=torch.float64))
