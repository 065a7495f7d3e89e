"""Identity initialization in the style of :mod:`torch.nn.init`."""
from __future__ import annotations

import math

import torch

__all__ = ["identity_"]


def identity_(weight: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    r"""Fill a square 2-D tensor in place with :math:`\sigma I` (identity initialization).

    With :math:`W^l = \sigma I` every layer Jacobian :math:`D^l W^l` is diagonal, so the
    input-output Jacobian of an MLP is diagonal with entries
    :math:`g_L(u_i) = \prod_l \sigma \phi'(h^l(u_i))` (docs/theory/identity.md).

    Parameters
    ----------
    weight : torch.Tensor
        Square 2-D tensor (e.g. ``linear.weight`` of ``nn.Linear(n, n)``); ``requires_grad`` is kept.
    sigma : float
        Scale, a finite number > 0.

    Returns
    -------
    torch.Tensor
        ``weight`` itself, like the functions of :mod:`torch.nn.init`.

    Raises
    ------
    ValueError
        If ``weight`` is not square 2-D or ``sigma`` is not a finite number > 0.

    Examples
    --------
    >>> import torch
    >>> w = torch.empty(3, 3, requires_grad=True)
    >>> identity_(w, sigma=2.0).diagonal().tolist(), w.requires_grad
    ([2.0, 2.0, 2.0], True)
    """
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    if weight.dim() != 2 or weight.shape[0] != weight.shape[1]:
        raise ValueError(f"weight must be a square 2-D tensor, got shape {tuple(weight.shape)}")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not (
        math.isfinite(sigma) and sigma > 0
    ):
        raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
    # no_grad lets us write into a leaf that requires grad, exactly as torch.nn.init does.
    with torch.no_grad():
        weight.zero_()
        weight.diagonal().fill_(float(sigma))
    return weight
