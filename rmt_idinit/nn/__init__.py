"""PyTorch layer of rmt_idinit: identity initialization, MLPs, per-sample Jacobians, weight drift.

torch is an optional extra: ``import rmt_idinit`` never imports it, only ``import rmt_idinit.nn``
does. Install it with ``pip install rmt_idinit[torch]``.

Examples
--------
>>> import torch
>>> from rmt_idinit.nn import IdentityMLP, jacobian_spectra
>>> model = IdentityMLP(width=4, depth=3, sigma=1.0).double()
>>> jacobian_spectra(model, torch.full((1, 4), 0.1, dtype=torch.float64))
tensor([[1., 1., 1., 1.]], dtype=torch.float64)
"""
from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "rmt_idinit.nn needs PyTorch, which is an optional extra: "
        "install it with `pip install rmt_idinit[torch]`"
    ) from exc

from .activations import ACTIVATIONS, make_activation
from .drift import weight_drift
from .init import identity_
from .jacobian import hidden_jacobian, jacobian_spectra, linearize
from .models import IdentityMLP

__all__ = [
    "ACTIVATIONS",
    "IdentityMLP",
    "hidden_jacobian",
    "identity_",
    "jacobian_spectra",
    "linearize",
    "make_activation",
    "weight_drift",
]
