"""Dirac (identity) initialization of convolutions, IdentityCNN/InterpretableCNN, and the exact theory
of J at init held against torch Jacobians of real conv stacks."""
import numpy as np
import pytest
import torch
from torch import nn

import rmt_idinit as ri
from rmt_idinit.nn import ACTIVATIONS, IdentityCNN, InterpretableCNN, conv_features, identity_, make_activation
from rmt_idinit.nn.interpretable import contribution_maps, layer_accuracy, layer_scores

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_thread")]


CONVS = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("groups", [1, 2, 6])
def test_dirac_conv_is_sigma_times_identity(dim, groups):
    conv = CONVS[dim](6, 6, 3, padding=1, groups=groups, bias=False).double()
    w = identity_(conv.weight, 1.7, groups=groups)
    assert w is conv.weight and conv.weight.requires_grad
    x = torch.randn(2, 6, *([5] * dim), dtype=torch.float64)
    # independent reference: the identity map itself
    assert torch.equal(conv(x), 1.7 * x)
    assert int((conv.weight != 0).sum()) == 6  # one tap per output channel


def test_dirac_matches_torch_dirac_times_sigma():
    # torch.nn.init.dirac_ is a second implementation (sigma = 1, groups handled the same way)
    for groups in (1, 3):
        a, b = torch.empty(6, 6 // groups, 5, 3), torch.empty(6, 6 // groups, 5, 3)
        identity_(a, 0.5, groups=groups)
        nn.init.dirac_(b, groups=groups)
        assert torch.equal(a, 0.5 * b)


@pytest.mark.parametrize("shape,groups,match", [
    ((4, 2, 3, 3), 1, "in_channels == out_channels"),
    ((4, 4, 2, 3), 1, "even kernel"),
    ((4, 4, 4), 1, "even kernel"),
    ((6, 3, 3), 3, "in_channels == out_channels"),
    ((5, 5, 3), 2, "divisible by groups"),
    ((3, 3), 2, "square 2-D"),
    ((2, 2, 2, 2, 2, 2), 1, "3-D/4-D/5-D"),
    ((3, 4), 1, "square 2-D"),
])
def test_no_identity_is_a_clear_error(shape, groups, match):
    with pytest.raises(ValueError, match=match):
        identity_(torch.empty(shape), 1.0, groups=groups)


def test_bad_sigma_and_groups():
    for bad in (0.0, -1.0, float("nan"), True, "1"):
        with pytest.raises(ValueError, match="sigma"):
            identity_(torch.empty(3, 3, 3), bad)
    with pytest.raises(ValueError, match="groups"):
        identity_(torch.empty(3, 3, 3), 1.0, groups=0)
    with pytest.raises(TypeError, match="weight"):
        identity_(np.zeros((3, 3)), 1.0)


def _stack(dim, channels, depth, k, act, sigma, bias, padding_mode):
    layers = []
    for _ in range(depth):
        conv = CONVS[dim](channels, channels, k, padding=k // 2, padding_mode=padding_mode).double()
        identity_(conv.weight, sigma)
        nn.init.constant_(conv.bias, bias)
        layers += [conv, make_activation(act)]
    return nn.Sequential(*layers)


def _theory_vs_torch(dim, k, act, padding_mode, sigma=1.05, bias=0.1, depth=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    shape = (2, 5) if dim == 1 else (2, 4, 3)
    x = 1.2 * torch.randn(shape, generator=g, dtype=torch.float64)
    net = _stack(dim, 2, depth, k, act, sigma, bias, padding_mode)
    J = torch.autograd.functional.jacobian(lambda z: net(z.unsqueeze(0))[0], x).reshape(x.numel(), x.numel())
    off = J - torch.diag(torch.diagonal(J))
    measured = torch.diagonal(J).numpy() ** 2  # eig(J J^T) of a diagonal J
    # the package's scalar map starts with h^1 = sigma*u and adds b from layer 2 on; a bias b in every
    # layer, the first included, is that map at the shifted input u + b/sigma (sigma*u + b = sigma*(u + b/sigma))
    predicted = ri.jjt_eigenvalues(x.numpy().ravel() + bias / sigma, sigma, depth, act, bias=bias)
    rel = np.abs(measured - predicted) / np.maximum(np.abs(predicted), 1e-300)
    return float(off.abs().max()), float(np.where(measured == predicted, 0.0, rel).max())


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_dirac_stack_jacobian_is_the_theory(act):
    # every activation, Conv1d and Conv2d, kernel sizes 1/3/5 and all four padding modes: J is exactly
    # diagonal at init (only the centre tap is non-zero, so padding is never read) and its squared
    # diagonal is jjt_eigenvalues to round-off (the closed forms are exact, so only rounding remains).
    # The full product of cases runs in validation/cnn.py; here Conv1d is checked at k = 3.
    worst = 0.0
    for dim, k in ((1, 3), (2, 1), (2, 3), (2, 5)):
        for mode in ("zeros", "reflect", "replicate", "circular"):
            off, rel = _theory_vs_torch(dim, k, act, mode, seed=dim * 10 + k)
            assert off == 0.0, (dim, k, mode)
            worst = max(worst, rel)
    assert worst <= 1e-12, worst


def test_perturbed_kernel_is_not_diagonal():
    # the diagonality check can fail: an off-centre tap couples neighbours
    net = _stack(2, 2, 2, 3, "tanh", 1.0, 0.0, "zeros")
    with torch.no_grad():
        net[0].weight[0, 1, 0, 0] = 0.3
    x = torch.randn(2, 4, 3, dtype=torch.float64)
    J = torch.autograd.functional.jacobian(lambda z: net(z.unsqueeze(0))[0], x).reshape(24, 24)
    assert float((J - torch.diag(torch.diagonal(J))).abs().max()) > 1e-3


def test_identity_cnn_theory_and_shapes():
    m = IdentityCNN(1, 3, depth=5, image_shape=(6, 6), activation="tanh", sigma=1.1).double()
    m.reset_parameters()  # sigma = 1.1 written in float64 (the float32 init rounds it at 6e-8)
    x = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    J = torch.autograd.functional.jacobian(lambda z: m.hidden(z)[0, 0], x[0]).reshape(36, 36)
    assert float((J - torch.diag(torch.diagonal(J))).abs().max()) == 0.0
    pred = ri.jjt_eigenvalues(x.numpy().ravel(), 1.1, 5, "tanh")
    np.testing.assert_allclose(torch.diagonal(J).numpy() ** 2, pred, rtol=1e-12)
    # extra channels start at 0 and stay 0 (tanh(0) = 0)
    assert float(m.hidden(x)[:, 1:].detach().abs().max()) == 0.0
    assert m(x).shape == (1, 10) and m(x.flatten(1)).shape == (1, 10)
    f, w, b = conv_features(m, x)
    assert f.shape == (1, 108) and w.shape == (10, 108)
    gap = IdentityCNN(2, 4, 2, (5,), readout="gap", n_classes=3)
    assert gap(torch.zeros(7, 2, 5)).shape == (7, 3) and gap.n_features == 4


@pytest.mark.parametrize("kw,match", [
    (dict(channels=0), "channels"), (dict(channels=1, in_channels=2), "channels must be >="),
    (dict(kernel_size=4), "odd"), (dict(padding_mode="wrap"), "padding_mode"), (dict(image_shape=()), "image_shape"),
    (dict(readout="max"), "readout"), (dict(sigma=-1.0), "sigma"), (dict(depth=0), "depth"),
])
def test_identity_cnn_bad_arguments(kw, match):
    args = dict(in_channels=1, channels=2, depth=2, image_shape=(4, 4))
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        IdentityCNN(**args)


def test_identity_cnn_bad_input():
    m = IdentityCNN(1, 2, 2, (4, 4))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 1, 4, 4\)"):
        m(torch.zeros(3, 2, 4, 4))
    with pytest.raises(TypeError, match="x must be"):
        m(np.zeros((3, 1, 4, 4)))


def test_interpretable_cnn_mirrors_the_mlp():
    torch.manual_seed(0)
    m = InterpretableCNN(1, 3, depth=3, image_shape=(5, 5), logit_scale=2.0).double()
    x = torch.rand(6, 1, 5, 5, dtype=torch.float64)
    assert float(m(x).detach().abs().max()) == 0.0
    assert torch.equal(contribution_maps(m, x, kind="raw")[:, -1], x)  # the image part is the input at init
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn_like(p))
    z = layer_scores(m, x)
    assert z.shape == (3, 6, 3)
    # independent reference: the scores of layer 2 computed by hand from the conv layers
    h = m.layers[1](m.act(m.layers[0](m.pad(x))))
    torch.testing.assert_close(z[1], 2.0 * h[:, 1:].mean((2, 3)), rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(z[-1], m(x))
    acc = layer_accuracy(m, (x, torch.zeros(6, dtype=torch.long)))
    assert acc.shape == (3,) and acc[-1] == float((m(x).argmax(1) == 0).double().mean())
    units = InterpretableCNN(2, 2, 1, (4,), readout="units", activation="relu")
    assert units(torch.zeros(1, 2, 4)).shape == (1, 2)
