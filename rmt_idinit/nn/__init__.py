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

# Interpretation tools (THEORY.md section 6). The submodule ``linearize`` shares its name with the
# function ``linearize`` exported above: importing the submodule first and re-binding the name keeps
# ``from rmt_idinit.nn import linearize`` the function however the submodule is imported later
# (a first import of a submodule would otherwise overwrite the package attribute with the module).
import importlib as _importlib  # noqa: E402

# `from . import linearize` would return the function above; import_module loads the submodule
_linearize_module = _importlib.import_module(".linearize", __name__)
from .jacobian import linearize  # noqa: E402,F811
from .feature_subsets import (  # noqa: E402
    class_feature_subsets,
    dropped_feature_accuracy,
    layer_features,
    subspace_decomposition,
)
from .interpretable import (  # noqa: E402
    InterpretableMLP,
    class_likelihoods,
    contribution_maps,
    interpretable_loss,
    layer_accuracy,
    layer_scores,
)

attribution_maps = _linearize_module.attribution_maps
linearize_exact = _linearize_module.linearize

__all__ += [
    "InterpretableMLP",
    "attribution_maps",
    "class_feature_subsets",
    "class_likelihoods",
    "contribution_maps",
    "dropped_feature_accuracy",
    "interpretable_loss",
    "layer_accuracy",
    "layer_features",
    "layer_scores",
    "linearize_exact",
    "subspace_decomposition",
]
