"""rmt_idinit: exact Jacobian spectra of identity-initialized deep networks.

Identity initialization (W = sigma*I) makes the input-output Jacobian diagonal, so the eigenvalues
of J Jᵀ are exactly ``g_L(u_i)^2`` for a scalar per-unit map; this package gives that law in
closed form (piecewise-linear activations), by quadrature (any elementwise activation), symbolically
and at arbitrary precision, with random-init baselines and torch tools for real networks.

>>> import rmt_idinit as ri
>>> round(float(ri.alpha(1.02, 0.1, 50)), 6)
0.759955
"""
from __future__ import annotations

__version__ = "0.1.0"

__citation__ = (
    "S. Kubota, H. Hayashi, T. Hayase, S. Uchida, 'Layer-wise interpretation of deep neural "
    "networks using identity initialization', ICASSP 2021 (arXiv:2102.13333)."
)

from .activations import ACTIVATIONS, Activation, get_activation, register_activation
from .identity import (
    alpha,
    alpha_complement,
    forward_moments,
    jjt_eigenvalues,
    jjt_law,
    layer_alphas,
    log_alpha_complement,
)
from .laws import GridDensity, SpectralLaw

__all__ = [
    "__version__",
    "__citation__",
    "ACTIVATIONS",
    "Activation",
    "get_activation",
    "register_activation",
    "alpha",
    "alpha_complement",
    "log_alpha_complement",
    "layer_alphas",
    "jjt_law",
    "jjt_eigenvalues",
    "forward_moments",
    "SpectralLaw",
    "GridDensity",
]
