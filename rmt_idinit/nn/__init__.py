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
from .jacobian import hidden_jacobian, jacobian_spectra
from .models import IdentityMLP

__all__ = [
    "ACTIVATIONS",
    "IdentityMLP",
    "hidden_jacobian",
    "identity_",
    "jacobian_spectra",
    "make_activation",
    "weight_drift",
]

# Interpretation tools (docs/theory/interpretation.md).
from .feature_subsets import (
    class_feature_subsets,
    dropped_feature_accuracy,
    layer_features,
    subspace_decomposition,
)
from .interpretable import (
    InterpretableMLP,
    class_likelihoods,
    contribution_maps,
    interpretable_loss,
    layer_accuracy,
    layer_scores,
)
from .linearization import attribution_maps, linearize
from .conv import IdentityCNN, InterpretableCNN, conv_features
from .graph_linearize import LinearizedOperator, linearize_operator

__all__ += [
    "IdentityCNN",
    "InterpretableCNN",
    "InterpretableMLP",
    "LinearizedOperator",
    "attribution_maps",
    "conv_features",
    "linearize_operator",
    "class_feature_subsets",
    "class_likelihoods",
    "contribution_maps",
    "dropped_feature_accuracy",
    "interpretable_loss",
    "layer_accuracy",
    "layer_features",
    "layer_scores",
    "linearize",
    "subspace_decomposition",
]
