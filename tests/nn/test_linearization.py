"""linearize: F(x) = W_x x + b_x exactly for piecewise-linear networks, with b_x built from the biases."""
import pytest
import torch
from torch import nn

from rmt_idinit.nn import IdentityMLP
from rmt_idinit.nn.interpretable import InterpretableMLP, layer_scores
from rmt_idinit.nn.linearization import attribution_maps, linearize, piecewise_linear_parts

pytestmark = pytest.mark.torch

ACTS = [("hardtanh", {}), ("relu", {}), ("leaky_relu", {"negative_slope": 0.1})]


def _perturbed(model, scale_w=0.15, scale_b=0.3, seed=0):
    # "trained-ish": far enough from sigma*I that many units switch pieces, as after training
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            scale = scale_w / p.shape[-1] ** 0.5 * 4 if p.dim() == 2 else scale_b
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def _rel(a, b):
    return float(((a - b).abs().max(1).values / b.abs().max(1).values.clamp_min(1e-300)).max())


def _apply(lin, x):
    return torch.einsum("bkn,bn->bk", lin.weight, x) + lin.bias


@pytest.mark.parametrize("act,params", ACTS)
@pytest.mark.parametrize("readout", ["preact", "units"])
def test_interpretable_reproduces_forward_1000_inputs(act, params, readout):
    torch.manual_seed(1)
    m = _perturbed(InterpretableMLP(30, 4, depth=8, activation=act, readout=readout, logit_scale=2.0, **params).double())
    x = 1.5 * torch.randn(1000, 30, dtype=torch.float64)
    ref = layer_scores(m, x).detach()
    lin = linearize(m, x, chunk_size=256)
    assert lin.weight.shape == (1000, 4, 30) and lin.bias.shape == (1000, 4)
    assert _rel(_apply(lin, x), ref[-1]) <= 1e-10
    # per layer: the map up to layer 3
    lin3 = linearize(m, x, 3, chunk_size=256)
    assert _rel(_apply(lin3, x), ref[2]) <= 1e-10
    # the region is not trivial: some units are saturated / off, so b_x and D matter
    d, _ = piecewise_linear_parts(m.act, m.layers[0](m.pad(x)))
    assert 0.05 < float((d != 1).double().mean()) < 0.95


@pytest.mark.parametrize("act,params", ACTS)
def test_identity_mlp_and_sequential(act, params):
    torch.manual_seed(2)
    m = _perturbed(IdentityMLP(20, 6, act, n_classes=5, **params).double())
    x = torch.randn(1000, 20, dtype=torch.float64)
    assert _rel(_apply(linearize(m, x), x), m(x).detach()) <= 1e-10
    hid = m.hidden(x, all_layers=True)[2].detach()
    assert _rel(_apply(linearize(m, x, 3, output="hidden"), x), hid) <= 1e-10
    seq = nn.Sequential(nn.Linear(20, 16), nn.Hardtanh(), nn.Linear(16, 16), nn.LeakyReLU(0.2), nn.Linear(16, 3)).double()
    assert _rel(_apply(linearize(seq, x), x), seq(x).detach()) <= 1e-10
    # layer 2 of a Sequential: through the 2nd Linear and the activation after it
    assert _rel(_apply(linearize(seq, x, 2), x), seq[:4](x).detach()) <= 1e-10


def test_bias_is_propagated_not_a_residual():
    # Saturated hard-tanh units contribute their clip value to b_x even with all biases 0, and
    # b_x is the exact offset of the region: moving x inside the region keeps F(x') = W_x x' + b_x.
    m = InterpretableMLP(3, 2, depth=2).double()
    with torch.no_grad():
        m.layers[1].weight[3:] = torch.tensor([[1.0, 2.0, 3.0, 0, 0], [-1.0, 0.5, 0.0, 0, 0]], dtype=torch.float64)
    x = torch.tensor([[5.0, 0.2, -0.3]], dtype=torch.float64)
    lin = linearize(m, x)
    torch.testing.assert_close(lin.bias, torch.tensor([[1.0, -1.0]], dtype=torch.float64))  # from the clip at 1
    torch.testing.assert_close(lin.weight[0, :, 0], torch.zeros(2, dtype=torch.float64))
    x2 = x + torch.tensor([[0.5, 0.01, 0.02]], dtype=torch.float64)  # same pattern
    torch.testing.assert_close(_apply(lin, x2), m(x2).detach(), rtol=1e-12, atol=1e-12)


def test_modes_chunks_and_float32_agree():
    torch.manual_seed(3)
    m = _perturbed(InterpretableMLP(12, 3, depth=5).double())
    x = torch.randn(37, 12, dtype=torch.float64)
    a = linearize(m, x, chunk_size=None, mode="reverse")
    b = linearize(m, x, chunk_size=5, mode="forward")
    torch.testing.assert_close(a.weight, b.weight, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(a.bias, b.bias, rtol=1e-12, atol=1e-12)
    c = linearize(m.float(), x.float(), dtype=None)
    assert c.weight.dtype == torch.float32
    assert _rel(_apply(c, x.float()), m(x.float()).detach()) < 1e-4


def test_attribution_maps_sum_to_scores():
    torch.manual_seed(4)
    m = _perturbed(InterpretableMLP(16, 3, depth=4, image_shape=(4, 4)).double())
    x = torch.randn(9, 16, dtype=torch.float64)
    att = attribution_maps(m, x)
    assert att.maps.shape == (9, 3, 4, 4)
    torch.testing.assert_close(att.maps.flatten(2).sum(-1) + att.bias, m(x).detach(), rtol=1e-12, atol=1e-12)
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2])
    one = attribution_maps(m, x, classes=y)
    assert one.maps.shape == (9, 1, 4, 4)
    torch.testing.assert_close(one.maps[:, 0], att.maps[torch.arange(9), y])


@pytest.mark.parametrize("act", ["tanh", "gelu", "sigmoid"])
def test_smooth_activation_is_a_clear_error(act):
    m = InterpretableMLP(3, 2, depth=2, activation=act)
    with pytest.raises(ValueError, match="piecewise-linear.*got (Tanh|GELU|Sigmoid)"):
        linearize(m, torch.zeros(1, 3))
    with pytest.raises(ValueError, match="Tanh"):
        linearize(nn.Sequential(nn.Linear(3, 3), nn.Tanh()), torch.zeros(1, 3))


def test_bad_arguments():
    m = InterpretableMLP(3, 2, depth=2)
    with pytest.raises(ValueError, match="layer"):
        linearize(m, torch.zeros(1, 3), 3)
    with pytest.raises(ValueError, match="features"):
        linearize(m, torch.zeros(1, 4))
    with pytest.raises(ValueError, match="chunk_size"):
        linearize(m, torch.zeros(1, 3), chunk_size=0)
    with pytest.raises(ValueError, match="IdentityMLP has logits only"):
        linearize(IdentityMLP(3, 2), torch.zeros(1, 3), 1)
    with pytest.raises(TypeError, match="model must be"):
        linearize(nn.Linear(3, 3), torch.zeros(1, 3))


def test_package_linearize_is_the_exact_one():
    # one linearization in the package: the exact, bias-propagating one
    import rmt_idinit.nn.linearization  # noqa: F401
    from rmt_idinit.nn import linearize as fn

    assert fn is linearize
