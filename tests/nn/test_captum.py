"""Peer check against Captum: for bias-free ReLU networks W_x[k] * x is exactly Captum's InputXGradient;
with biases, Integrated Gradients leaves a completeness gap that the exact decomposition does not."""
import pytest
import torch
from torch import nn

from rmt_idinit.nn import linearize

captum_attr = pytest.importorskip("captum.attr")
pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_thread")]



def _net(bias):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=bias), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3, padding=1, bias=bias), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
        nn.Linear(16, 5, bias=bias),
    ).double().eval()


def test_bias_free_relu_equals_input_x_gradient():
    net = _net(False)
    x = torch.randn(20, 1, 8, 8, dtype=torch.float64)
    lin = linearize(net, x)
    assert torch.equal(lin.bias, torch.zeros_like(lin.bias))  # b_x = 0 exactly without biases
    ixg = captum_attr.InputXGradient(net)
    for k in range(5):
        theirs = ixg.attribute(x.clone().requires_grad_(True), target=k).detach().reshape(20, -1)
        ours = lin.weight[:, k] * x.reshape(20, -1)
        torch.testing.assert_close(ours, theirs, rtol=1e-13, atol=1e-15)


def test_integrated_gradients_gap_vs_exact_decomposition():
    net = _net(True)
    x = torch.randn(10, 1, 8, 8, dtype=torch.float64)
    target = net(x).argmax(1)
    ig = captum_attr.IntegratedGradients(net)
    att, delta = ig.attribute(x, target=target, n_steps=50, return_convergence_delta=True)
    fx = net(x).detach()[torch.arange(10), target]
    f0 = net(torch.zeros_like(x)).detach()[0, target]
    gap = (att.detach().reshape(10, -1).sum(1) - (fx - f0)).abs()
    torch.testing.assert_close(gap, delta.detach().abs(), rtol=1e-9, atol=1e-12)  # our gap is Captum's delta
    lin = linearize(net, x)
    ours = (lin.weight[torch.arange(10), target] * x.reshape(10, -1)).sum(1) + lin.bias[torch.arange(10), target]
    exact_gap = (ours - fx).abs()
    # the exact decomposition closes to round-off; IG's 50-node path quadrature of a piecewise-constant
    # gradient does not (measured ~1e-3 here): a factor 1e4 between the bounds, no tie possible
    assert float(exact_gap.max()) <= 1e-12 * float(fx.abs().max())
    assert float(gap.max()) >= 1e-6
