"""Identity initialization in the style of :mod:`torch.nn.init`, for linear and convolution weights."""
from __future__ import annotations

import math

import torch

__all__ = ["identity_"]


def identity_(weight: torch.Tensor, sigma: float = 1.0, *, groups: int = 1) -> torch.Tensor:
    r"""Fill a weight in place with :math:`\sigma I`: the identity matrix or the Dirac kernel.

    - 2-D ``(N, N)`` (``nn.Linear(N, N).weight``): :math:`W = \sigma I`. Every layer Jacobian
      :math:`D^l W^l` is diagonal, so the input-output Jacobian of an MLP is diagonal with entries
      :math:`g_L(u_i) = \prod_l \sigma \phi'(h^l(u_i))`.
    - 3-D/4-D/5-D ``(C_out, C_in / groups, *kernel)`` (``Conv1d/2d/3d``): the Dirac kernel,
      :math:`W[c, c \bmod (C_{in}/g), k_c] = \sigma` at the centre tap :math:`k_c = (k-1)/2` and 0
      elsewhere, so a stride-1 convolution with same padding maps every (channel, position)
      coordinate to :math:`\sigma` times itself (the padding is never read: only the centre tap is
      non-zero), and the CNN Jacobian is again diagonal over (channel, position). See docs/theory/identity.md.

    Parameters
    ----------
    weight : torch.Tensor
        ``linear.weight`` (square) or ``conv.weight``; ``requires_grad`` is kept.
    sigma : float
        Scale, a finite number > 0.
    groups : int
        ``conv.groups`` of a convolution weight (1 for linear weights). The identity exists only when
        every group has as many output as input channels (``C_out / groups == C_in / groups``).

    Returns
    -------
    torch.Tensor
        ``weight`` itself, like the functions of :mod:`torch.nn.init`.

    Raises
    ------
    ValueError
        If no identity of that shape exists (non-square matrix, ``C_out != C_in`` per group, an even
        kernel size: no centre tap) or ``sigma`` is not a finite number > 0.

    Examples
    --------
    >>> import torch
    >>> w = torch.empty(3, 3, requires_grad=True)
    >>> identity_(w, sigma=2.0).diagonal().tolist(), w.requires_grad
    ([2.0, 2.0, 2.0], True)
    >>> conv = torch.nn.Conv1d(2, 2, 3, padding=1, bias=False)
    >>> identity_(conv.weight, 0.5)[:, :, 1].tolist()     # the centre taps; the others are 0
    [[0.5, 0.0], [0.0, 0.5]]
    """
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not (
        math.isfinite(sigma) and sigma > 0
    ):
        raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be an integer >= 1, got {groups!r}")
    shape = tuple(weight.shape)
    if weight.dim() == 2:
        if groups != 1 or shape[0] != shape[1]:
            raise ValueError(f"weight must be a square 2-D tensor, got shape {shape} (groups={groups}, must be 1)")
        with torch.no_grad():  # no_grad lets us write into a leaf that requires grad, as torch.nn.init does
            weight.zero_()
            weight.diagonal().fill_(float(sigma))
        return weight
    if weight.dim() not in (3, 4, 5):
        raise ValueError(
            f"weight must be a square 2-D tensor, got shape {shape}; or a 3-D/4-D/5-D Conv1d/2d/3d weight"
        )
    c_out, c_in_g, kernel = shape[0], shape[1], shape[2:]
    if c_out % groups:
        raise ValueError(f"out_channels={c_out} is not divisible by groups={groups}")
    if c_out // groups != c_in_g:
        raise ValueError(
            f"no identity exists for a convolution weight of shape {shape} with groups={groups}: each group maps "
            f"{c_in_g} input to {c_out // groups} output channels; an identity needs in_channels == out_channels "
            "(per group)"
        )
    if any(k % 2 == 0 for k in kernel):
        raise ValueError(
            f"no identity exists for kernel size {kernel}: an even kernel has no centre tap "
            "(same padding would shift the image by half a pixel); use odd kernel sizes"
        )
    centre = tuple(k // 2 for k in kernel)
    with torch.no_grad():
        weight.zero_()
        c = torch.arange(c_out)
        weight[(c, c % c_in_g) + centre] = float(sigma)
    return weight
