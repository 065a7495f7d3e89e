"""linearize for CNNs traced with torch.fx: F(x) = W_x x + b_x exactly, against the forward pass and
torch's own Jacobian of the real network; the linear-operator form; clear errors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rmt_idinit.nn import IdentityCNN, InterpretableCNN, linearize, linearize_operator
from rmt_idinit.nn.linearization import attribution_maps
from validation.cnn_models import reference_cnns

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("one_thread")]



def _rel(lin, x, ref):
    y = torch.einsum("bkn,bn->bk", lin.weight, x.reshape(len(x), -1)) + lin.bias
    return float(((y - ref).abs().max(1).values / ref.abs().max(1).values.clamp_min(1e-300)).max())


@pytest.mark.parametrize("name", ["maxpool", "residual", "batchnorm"])
def test_reference_cnns_reproduce_forward_on_1000_inputs(name):
    model, shape = reference_cnns(seed=1)[name]
    x = torch.randn((1000,) + shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    ref = model(x).detach()
    lin = linearize(model, x, chunk_size=500)
    assert lin.weight.shape == (1000, 10, int(np.prod(shape))) and lin.bias.shape == (1000, 10)
    assert lin.weight.dtype == torch.float64
    assert _rel(lin, x, ref) <= 1e-10
    # b_x is propagated, not F(x) - W_x x: it differs from sample to sample, and is not the output
    assert float(lin.bias.std(0).min()) > 1e-3 and float((lin.bias - ref).abs().max()) > 1e-2
    # W_x is torch's Jacobian of the real network (away from kinks, which random inputs avoid a.s.)
    J = torch.autograd.functional.jacobian(lambda z: model(z).sum(0), x[:4]).reshape(10, 4, -1).transpose(0, 1)
    torch.testing.assert_close(lin.weight[:4], J, rtol=1e-12, atol=1e-13)
    # forward (basis push) and reverse (transpose) modes give the same W_x; chunking changes nothing
    fwd = linearize(model, x[:20], mode="forward", chunk_size=7)
    torch.testing.assert_close(fwd.weight, lin.weight[:20], rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(fwd.bias, lin.bias[:20], rtol=1e-12, atol=1e-13)


def test_identity_and_interpretable_cnn():
    torch.manual_seed(3)
    for m in (IdentityCNN(1, 3, 4, (6, 6)), InterpretableCNN(1, 4, 3, (5, 5), activation="relu", logit_scale=2.0)):
        m = m.double()
        with torch.no_grad():  # far from the identity, so units switch pieces
            for p in m.parameters():
                p.add_(0.2 * torch.randn_like(p))
        x = torch.randn((300,) + (1,) + m.spatial_shape, dtype=torch.float64)
        assert _rel(linearize(m, x), x, m(x).detach()) <= 1e-10
        flat = linearize(m, x[:5].flatten(1))  # flattened inputs are taken in the model's image shape
        torch.testing.assert_close(flat.weight, linearize(m, x[:5]).weight)
    att = attribution_maps(m, x[:3])
    assert att.maps.shape == (3, 4, 1, 5, 5)
    torch.testing.assert_close(att.maps.sum((2, 3, 4)) + att.bias, m(x[:3]).detach())


def test_float32_model_is_linearized_in_float64_on_a_copy():
    model = IdentityCNN(1, 2, 2, (4, 4))
    x = torch.rand(3, 1, 4, 4)
    lin = linearize(model, x)
    assert lin.weight.dtype == torch.float64 and next(model.parameters()).dtype == torch.float32
    assert _rel(lin, x.double(), model.double()(x.double()).detach()) <= 1e-10


def test_linear_operator_matches_dense_and_scipy():
    from scipy.sparse.linalg import svds

    model, shape = reference_cnns(seed=4)["residual"]
    x = torch.randn((1,) + shape, dtype=torch.float64)
    W = linearize(model, x).weight[0]
    op = linearize_operator(model, x)
    assert op.shape == tuple(W.shape)
    v, u = torch.randn(W.shape[1], dtype=torch.float64), torch.randn(W.shape[0], dtype=torch.float64)
    torch.testing.assert_close(op.matvec(v), W @ v, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(op.rmatvec(u), W.T @ u, rtol=1e-12, atol=1e-14)
    V = np.random.default_rng(0).normal(size=(W.shape[1], 3))
    np.testing.assert_allclose(op.matmat(V), W.numpy() @ V, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(op.bias + op.matvec(x.flatten()), model(x)[0].detach(), rtol=1e-12, atol=1e-14)
    # scipy's iterative SVD through the operator vs LAPACK on the dense matrix
    s = svds(op.to_scipy(), k=2, return_singular_vectors=False, random_state=0)
    np.testing.assert_allclose(np.sort(s), np.sort(torch.linalg.svdvals(W).numpy()[:2]), rtol=1e-10)
    with pytest.raises(ValueError, match="one input"):
        linearize_operator(model, torch.randn((2,) + shape, dtype=torch.float64))


class _Tangle(nn.Module):
    def __init__(self, kind):
        super().__init__()
        self.kind, self.c = kind, nn.Conv1d(1, 2, 3, padding=1)

    def forward(self, x):
        h = self.c(x)
        if self.kind == "product":
            return (h * h).flatten(1)
        if self.kind == "batchmean":
            return h.mean(0, keepdim=True).expand_as(h).flatten(1)
        if self.kind == "softmax":
            return torch.softmax(h.flatten(1), 1)
        return F.gelu(h).flatten(1)


@pytest.mark.parametrize("model,match", [
    (nn.Sequential(nn.Conv1d(1, 2, 3), nn.Tanh(), nn.Flatten()), r"Tanh"),
    (nn.Sequential(nn.Conv1d(1, 2, 3), nn.GELU(), nn.Flatten()), r"GELU"),
    (nn.Sequential(nn.Conv1d(1, 2, 3), nn.Flatten(), nn.Softmax(1)), r"Softmax"),
    (nn.Sequential(nn.Conv1d(1, 2, 3), nn.BatchNorm1d(2), nn.Flatten()).train(), r"BatchNorm1d.*training"),
    (nn.Sequential(nn.Conv1d(1, 2, 3), nn.Dropout(0.5), nn.Flatten()).train(), r"Dropout.*training"),
    (_Tangle("product"), r"product of two input-dependent"),
    (_Tangle("batchmean"), r"batch axis"),
    (_Tangle("softmax"), r"softmax"),
    (_Tangle("gelu"), r"gelu"),
    (IdentityCNN(1, 2, 2, (5,), activation="tanh"), r"Tanh"),
])
def test_non_piecewise_linear_is_a_clear_error(model, match):
    with pytest.raises(ValueError, match=match):
        linearize(model, torch.randn(4, 1, 5))


def test_bad_arguments():
    m = IdentityCNN(1, 2, 2, (4, 4))
    with pytest.raises(ValueError, match="layer and output"):
        linearize(m, torch.zeros(1, 1, 4, 4), 1)
    with pytest.raises(ValueError, match="x must have shape"):
        linearize(m, torch.zeros(2, 1, 5, 5))
    with pytest.raises(ValueError, match="forward pass failed"):
        linearize(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), torch.zeros(2, 3, 5, 5))
    with pytest.raises(ValueError, match="chunk_size"):
        linearize(m, torch.zeros(1, 1, 4, 4), chunk_size=0)
    with pytest.raises(ValueError, match="non-empty"):
        linearize(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), torch.zeros(0, 1, 5, 5))


class _Zoo(nn.Module):
    """Every supported layer kind once: 1-d and 2-d pools (plain, adaptive), BatchNorm2d, ReLU6, Identity,
    cat with a constant, padding, slicing, transpose, mean/sum, scalar arithmetic."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(2, 3, 3, padding=1, padding_mode="circular")
        self.p1 = nn.MaxPool1d(2)
        self.p2 = nn.AdaptiveMaxPool1d(3)
        self.c2 = nn.Conv2d(1, 2, 3, padding=1, padding_mode="replicate")
        self.bn = nn.BatchNorm2d(2)
        self.act = nn.ReLU6()
        self.idt = nn.Identity()
        self.p3 = nn.AvgPool2d(2, ceil_mode=True)
        self.p4 = nn.AdaptiveAvgPool2d((2, 1))
        self.fc = nn.Linear(3 * 3 + 2 * 2 + 3 + 2, 4)

    def forward(self, x):  # x: (batch, 2, 12)
        a = self.p2(self.p1(F.hardtanh(self.c1(x), -0.5, 2.0)))                  # (b, 3, 3)
        img = torch.cat([x, torch.zeros_like(x)], 1).view(x.size(0), 1, 8, 6)   # constant channel block
        b = self.p4(self.p3(self.act(self.bn(self.c2(F.pad(img, (1, 1, 0, 0)))))))  # (b, 2, 2, 1)
        c = torch.flatten(a.transpose(1, 2), 1)
        d = self.idt(b).squeeze(-1).reshape(x.shape[0], -1) * 0.5 - 1.0
        e = x[:, :, 2:5].mean(2) + F.leaky_relu(x.sum(2), 0.3)                 # (b, 2)
        f = F.max_pool2d(b, (2, 1)).flatten(1)                                    # (b, 2)
        return self.fc(torch.cat([c, d, torch.relu(a[:, :, 0] - f.sum(1, keepdim=True)), e], 1))


def test_every_supported_layer_kind():
    torch.manual_seed(5)
    m = _Zoo().double()
    with torch.no_grad():
        m.bn.running_mean.normal_()
        m.bn.running_var.uniform_(0.5, 2.0)
    m.eval()
    x = torch.randn(200, 2, 12, dtype=torch.float64)
    lin = linearize(m, x)
    assert _rel(lin, x, m(x).detach()) <= 1e-10
    J = torch.autograd.functional.jacobian(lambda z: m(z).sum(0), x[:3]).reshape(4, 3, -1).transpose(0, 1)
    torch.testing.assert_close(lin.weight[:3], J, rtol=1e-12, atol=1e-13)


def test_dense_size_is_bounded_up_front(monkeypatch):
    from rmt_idinit.nn import graph_linearize

    monkeypatch.setattr(graph_linearize, "_MAX_DENSE", 1000)
    m = IdentityCNN(1, 2, 1, (10, 10))
    with pytest.raises(ValueError, match="linearize_operator"):
        linearize(m, torch.zeros(2, 1, 10, 10))  # 2 * 10 * 100 = 2000 numbers
    assert linearize(m, torch.zeros(1, 1, 10, 10)).weight.shape == (1, 10, 100)


def test_batch_axis_must_survive():
    with pytest.raises(ValueError, match=r"module '1'.*batch axis"):
        linearize(nn.Sequential(nn.Conv1d(1, 2, 3), nn.Flatten(0)), torch.randn(3, 1, 5))
