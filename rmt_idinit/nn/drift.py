"""Weight drift of the hidden layers away from their initialization (docs/theory/interpretation.md)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from .._core import checks as _checks

__all__ = ["weight_drift"]


def weight_drift(
    model: nn.Module,
    sigma: float | None = None,
    reference: Sequence[torch.Tensor] | None = None,
    *,
    spectral: bool = True,
) -> dict[str, np.ndarray]:
    r"""Relative drift of every hidden weight matrix from its reference.

    .. math::
        d_F^l = \frac{\|W^l - W^l_0\|_F}{\|W^l_0\|_F}, \qquad
        d_2^l = \frac{\|W^l - W^l_0\|_2}{\|W^l_0\|_2},

    with :math:`W^l_0 = \sigma I` (so :math:`\|W_0\|_F = \sigma\sqrt{N}`, :math:`\|W_0\|_2 = \sigma`)
    for identity init, or the stored initial weights of a random init.

    Parameters
    ----------
    model : IdentityMLP or compatible
        Anything with ``layers`` (``nn.Linear``).
    sigma : float, optional
        Identity scale of the reference :math:`\sigma I`. Default: ``reference`` if given, else
        ``model.initial_weights()`` for random inits, else ``model.sigma``.
    reference : sequence of torch.Tensor, optional
        Explicit reference matrices, one per layer (takes precedence over ``sigma``).
    spectral : bool
        Also compute the spectral-norm version (one SVD per layer).

    Returns
    -------
    dict
        ``"frobenius"`` and (if ``spectral``) ``"spectral"``: float64 arrays of shape ``(depth,)``.

    Examples
    --------
    >>> import torch
    >>> from rmt_idinit.nn import IdentityMLP
    >>> m = IdentityMLP(width=4, depth=2, sigma=2.0)
    >>> with torch.no_grad():
    ...     m.layers[1].weight[0, 0] += 1.0
    >>> d = weight_drift(m, sigma=2.0)
    >>> d["frobenius"].tolist(), d["spectral"].tolist()
    ([0.0, 0.25], [0.0, 0.5])
    """
    if not isinstance(getattr(model, "layers", None), (list, tuple, nn.ModuleList, nn.Sequential)):
        raise TypeError(f"model must have `layers` (a sequence of nn.Linear), like IdentityMLP; "
                        f"got {type(model).__name__}")
    layers = list(model.layers)
    if reference is not None:
        refs = list(reference)
        if len(refs) != len(layers):
            raise ValueError(f"reference must have one matrix per layer ({len(layers)}), got {len(refs)}")
    elif sigma is None and getattr(model, "initial_weights", None) is not None and model.initial_weights() is not None:
        refs = model.initial_weights()
    else:
        if sigma is None:
            sigma = getattr(model, "sigma", None)
            if sigma is None:
                raise ValueError("sigma must be given for a model without a stored initialization")
        sigma = _checks.check_scalar("sigma", sigma, _checks.check_positive)
        refs = [None] * len(layers)
    fro = np.empty(len(layers))
    spec = np.empty(len(layers))
    with torch.no_grad():
        for l, (lin, ref) in enumerate(zip(layers, refs)):
            w = lin.weight.detach().to(torch.float64)
            if ref is None:
                ref = sigma * torch.eye(w.shape[0], dtype=torch.float64, device=w.device)
            ref = ref.detach().to(device=w.device, dtype=torch.float64)
            if ref.shape != w.shape:
                raise ValueError(f"reference {l} has shape {tuple(ref.shape)}, layer has {tuple(w.shape)}")
            diff = w - ref
            fro[l] = float(torch.linalg.matrix_norm(diff) / torch.linalg.matrix_norm(ref))
            if spectral:
                spec[l] = float(torch.linalg.matrix_norm(diff, ord=2) / torch.linalg.matrix_norm(ref, ord=2))
    out = {"frobenius": fro}
    if spectral:
        out["spectral"] = spec
    return out
