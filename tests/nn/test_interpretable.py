"""InterpretableMLP: width N+C, identity init, per-layer scores, maps, likelihoods and accuracy."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from rmt_idinit.nn.interpretable import (
    InterpretableMLP,
    class_likelihoods,
    contribution_maps,
    interpretable_loss,
    layer_accuracy,
    layer_scores,
)

pytestmark = pytest.mark.torch


def test_architecture_and_identity_init():
    m = InterpretableMLP(6, 3, depth=4, sigma=1.0)
    assert m.width == 9 and len(m.layers) == 4
    for lin in m.layers:
        assert lin.weight.shape == (9, 9)
        torch.testing.assert_close(lin.weight.detach(), torch.eye(9))
        assert torch.all(lin.bias == 0)
    x = torch.linspace(-2, 2, 12).reshape(2, 6)
    xp = m.pad(x)
    assert xp.shape == (2, 9) and torch.all(xp[:, 6:] == 0)
    # identity init: the scores stay 0 and every layer holds clip(x)
    assert torch.all(m(x) == 0)
    raw = contribution_maps(m, x, kind="raw")
    assert raw.shape == (2, 4, 6)
    torch.testing.assert_close(raw, x.clamp(-1, 1).unsqueeze(1).expand(-1, 4, -1))
    torch.testing.assert_close(contribution_maps(m, x, [0, 2]), torch.stack([torch.zeros_like(x), x.clamp(-1, 1) - x], 1))


def test_sigma_above_one_and_image_shape():
    m = InterpretableMLP(4, 2, depth=3, sigma=1.5, image_shape=(2, 2))
    x = torch.tensor([[0.1, 0.2, -0.3, 0.05]])
    maps = contribution_maps(m, x, [1, 2, 3], kind="raw")
    assert maps.shape == (1, 3, 2, 2)
    xl = x
    for l in range(3):  # the scalar map of docs/theory/identity.md per unit: x^l = clip(sigma x^{l-1})
        xl = (1.5 * xl).clamp(-1, 1)
        torch.testing.assert_close(maps[0, l].reshape(-1), xl[0])


def _trained(readout="preact", depth=3, steps=60, seed=0):
    g = torch.Generator().manual_seed(seed)
    n, C = 8, 3
    centers = torch.randn(C, n, generator=g)
    y = torch.randint(0, C, (300,), generator=g)
    x = 0.5 * centers[y] + 0.3 * torch.randn(300, n, generator=g)
    m = InterpretableMLP(n, C, depth=depth, readout=readout)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        interpretable_loss(m, x, y).backward()
        opt.step()
    return m, x, y


@pytest.mark.parametrize("readout", ["preact", "units"])
def test_scores_likelihoods_and_last_layer_accuracy(readout):
    m, x, y = _trained(readout)
    with torch.no_grad():
        z = layer_scores(m, x)
        assert z.shape == (3, 300, 3)
        torch.testing.assert_close(z[-1], m(x))
        if readout == "units":
            assert float(z.abs().max()) <= 1.0  # hard-tanh clips the units
        p = class_likelihoods(m, x)
        torch.testing.assert_close(p.sum(-1), torch.ones(3, 300))
        model_acc = float((m(x).argmax(1) == y).double().mean())
    acc = layer_accuracy(m, (x, y), batch_size=64)
    assert acc.shape == (3,)
    assert acc[-1] == model_acc  # exactly: same scores, same argmax
    assert model_acc > 0.9
    acc0 = layer_accuracy(m, (x.numpy(), y.numpy()), include_input=True)
    assert acc0.shape == (4,) and acc0[0] == float((y == 0).double().mean())  # z^0 = 0 -> class 0
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=50)
    np.testing.assert_array_equal(layer_accuracy(m, loader), acc)


def test_logit_scale_and_deep_supervision():
    m = InterpretableMLP(5, 2, depth=3, logit_scale=4.0)
    x, y = torch.randn(20, 5), torch.randint(0, 2, (20,))
    with torch.no_grad():
        m.layers[1].weight[5:, :5] = 0.3
    torch.testing.assert_close(layer_scores(m, x)[-1], m(x))
    torch.testing.assert_close(layer_scores(m, x, scaled=False)[-1] * 4.0, m(x))
    deep = interpretable_loss(m, x, y, supervision="deep")
    w = interpretable_loss(m, x, y, supervision="deep", layer_weights=[0, 0, 1])
    torch.testing.assert_close(w, interpretable_loss(m, x, y))
    deep.backward()
    assert m.layers[0].weight.grad is not None and float(m.layers[0].weight.grad.abs().sum()) > 0
    with pytest.raises(ValueError, match="supervision"):
        interpretable_loss(m, x, y, supervision="all")
    with pytest.raises(ValueError, match="layer_weights"):
        interpretable_loss(m, x, y, supervision="deep", layer_weights=[1, 1])


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_inputs"):
        InterpretableMLP(0, 2, 3)
    with pytest.raises(ValueError, match="depth"):
        InterpretableMLP(3, 2, 0)
    with pytest.raises(ValueError, match="sigma"):
        InterpretableMLP(3, 2, 2, sigma=-1.0)
    with pytest.raises(ValueError, match="readout"):
        InterpretableMLP(3, 2, 2, readout="softmax")
    with pytest.raises(ValueError, match="image_shape"):
        InterpretableMLP(3, 2, 2, image_shape=(2, 2))
    m = InterpretableMLP(3, 2, 2)
    with pytest.raises(ValueError, match="3 features"):
        m(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="layers must lie"):
        contribution_maps(m, torch.zeros(1, 3), [3])
    with pytest.raises(ValueError, match="kind"):
        contribution_maps(m, torch.zeros(1, 3), kind="abs")
    with pytest.raises(ValueError, match="no samples"):
        layer_accuracy(m, (torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)))
    with pytest.raises(TypeError, match="InterpretableMLP"):
        layer_accuracy(torch.nn.Linear(3, 2), (torch.zeros(1, 3), torch.zeros(1)))


def test_import_rmt_idinit_does_not_import_torch():
    code = "import sys, rmt_idinit; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
