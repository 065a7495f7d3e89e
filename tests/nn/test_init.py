"""identity_ and the optional-torch import contract."""
import math
import subprocess
import sys

import pytest
import torch

from rmt_idinit.nn import identity_

pytestmark = pytest.mark.torch


def test_identity_fills_sigma_eye_in_place_and_returns_tensor():
    w = torch.randn(5, 5, requires_grad=True)
    out = identity_(w, sigma=1.5)
    assert out is w
    assert w.requires_grad and w.is_leaf
    assert torch.equal(w.detach(), 1.5 * torch.eye(5))


def test_identity_works_under_no_grad_and_on_linear_weight():
    lin = torch.nn.Linear(4, 4)
    with torch.no_grad():
        identity_(lin.weight, 0.5)
    assert torch.equal(lin.weight.detach(), 0.5 * torch.eye(4))
    assert lin.weight.requires_grad
    x = torch.randn(3, 4)
    lin.bias.data.zero_()
    assert torch.allclose(lin(x), 0.5 * x)


def test_identity_default_sigma_and_float64():
    w = torch.empty(3, 3, dtype=torch.float64)
    identity_(w)
    assert torch.equal(w, torch.eye(3, dtype=torch.float64))


@pytest.mark.parametrize("shape", [(3, 4), (3,), (2, 2, 2, 2, 2, 2)])
def test_identity_rejects_non_square(shape):
    with pytest.raises(ValueError, match=r"weight must be a square 2-D tensor, got shape"):
        identity_(torch.empty(*shape))


def test_identity_rejects_even_conv_kernel():
    # (2, 2, 2) is a Conv1d weight now (Dirac init); with an even kernel it has no identity
    with pytest.raises(ValueError, match=r"even kernel"):
        identity_(torch.empty(2, 2, 2))


@pytest.mark.parametrize("sigma", [0.0, -1.0, math.nan, math.inf])
def test_identity_rejects_bad_sigma(sigma):
    with pytest.raises(ValueError, match=r"sigma must be a finite number > 0, got"):
        identity_(torch.empty(2, 2), sigma)


def test_identity_rejects_non_tensor():
    with pytest.raises(TypeError, match="weight must be a torch.Tensor"):
        identity_([[1.0, 0.0], [0.0, 1.0]])


def test_import_rmt_idinit_does_not_import_torch():
    code = "import sys, rmt_idinit, rmt_idinit.data; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_nn_without_torch_says_how_to_install():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "try:\n    import rmt_idinit.nn\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert "pip install rmt_idinit[torch]" in out
