"""Deep MLPs with identity (or random critical) initialization."""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .._core import checks as _checks

from .activations import make_activation
from .init import identity_

__all__ = ["IdentityMLP"]

_INITS = ("identity", "orthogonal", "gaussian")


def _check_pos(name: str, value: Any, allow_zero: bool = False) -> float:
    return _checks.check_scalar(name, value, _checks.check_nonnegative if allow_zero else _checks.check_positive)


def _check_count(name: str, value: Any) -> int:
    return _checks.check_scalar_int(name, value, minimum=1)


class IdentityMLP(nn.Module):
    r"""``depth`` square layers :math:`x^l = \phi(W^l x^{l-1} + b^l)` and a linear readout.

    Parameters
    ----------
    width : int
        Width N of the input and of every hidden layer.
    depth : int
        Number L of hidden layers.
    activation : str or torch.nn.Module
        Activation name (see :data:`rmt_idinit.nn.ACTIVATIONS`) or elementwise module.
    sigma : float
        Identity scale: :math:`W^l = \sigma I`, :math:`b^l = 0` when ``init="identity"``.
    bias : bool
        Whether the hidden layers have a bias.
    n_classes : int
        Output size of the readout ``Linear(width, n_classes)`` (PyTorch default init).
    init : {"identity", "orthogonal", "gaussian"}
        ``"orthogonal"``: :math:`W = \sigma_w Q` with Q Haar-orthogonal; ``"gaussian"``:
        :math:`W_{ij} \sim N(0, \sigma_w^2 / N)`; both with :math:`b_i \sim N(0, \sigma_b^2)`.
        The initial hidden weights of random inits are kept as buffers ``initial_weight_<l>``
        (saved in the state dict) so that :func:`rmt_idinit.nn.weight_drift` can measure drift.
    sigma_w, sigma_b : float
        Scales of the random inits (ignored by ``"identity"``). The critical hard-tanh point
        with :math:`q^*=1/2` is ``sigma_w = sqrt(1.18666)``, ``sigma_b = sqrt(0.059635)``.
    generator : torch.Generator, optional
        Source of randomness of the random inits and of the readout.
    **activation_params
        Passed to the activation, e.g. ``negative_slope=0.1``.

    Examples
    --------
    >>> import torch
    >>> m = IdentityMLP(width=5, depth=10, sigma=1.0)
    >>> x = torch.full((2, 5), 0.3)
    >>> torch.equal(m.hidden(x), x)   # hard-tanh with sigma = 1 is the identity on (-1, 1)
    True
    >>> m(x).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        width: int,
        depth: int,
        activation: str | nn.Module = "hardtanh",
        sigma: float = 1.0,
        bias: bool = True,
        n_classes: int = 10,
        init: str = "identity",
        sigma_w: float = 1.0,
        sigma_b: float = 0.0,
        generator: torch.Generator | None = None,
        **activation_params: Any,
    ) -> None:
        super().__init__()
        self.width = _check_count("width", width)
        self.depth = _check_count("depth", depth)
        self.n_classes = _check_count("n_classes", n_classes)
        self.init = _checks.check_choice("init", init, _INITS)
        # float32 weights (plus a stored copy for random inits) and ~2 KB of module per layer:
        # refuse sizes that cannot fit
        copies = 1 if init == "identity" else 2
        _checks.check_memory((4.0 * copies * (self.width * self.width + self.width) + 2048) * self.depth,
                             f"IdentityMLP(width={self.width}, depth={self.depth})")
        self.sigma = _check_pos("sigma", sigma)
        self.sigma_w = _check_pos("sigma_w", sigma_w)
        self.sigma_b = _check_pos("sigma_b", sigma_b, allow_zero=True)
        self.activation_name = activation if isinstance(activation, str) else type(activation).__name__
        self.activation_params = dict(activation_params)
        self.act = make_activation(activation, **activation_params)
        self.layers = nn.ModuleList(nn.Linear(self.width, self.width, bias=bias) for _ in range(self.depth))
        self.readout = nn.Linear(self.width, self.n_classes)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """(Re)initialize every layer as described by ``init``; the readout gets PyTorch's default."""
        n = self.width
        with torch.no_grad():
            for l, lin in enumerate(self.layers):
                if self.init == "identity":
                    identity_(lin.weight, self.sigma)
                    if lin.bias is not None:
                        lin.bias.zero_()
                    continue
                if self.init == "orthogonal":
                    a = torch.randn(n, n, generator=generator, dtype=torch.float64)
                    q, r = torch.linalg.qr(a)
                    # sign fix makes Q Haar-distributed (Mezzadri 2007)
                    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)
                    lin.weight.copy_(self.sigma_w * q)
                else:
                    w = torch.randn(n, n, generator=generator, dtype=torch.float64)
                    lin.weight.copy_(w * (self.sigma_w / math.sqrt(n)))
                if lin.bias is not None:
                    b = torch.randn(n, generator=generator, dtype=torch.float64)
                    lin.bias.copy_(b * self.sigma_b)
                name = f"initial_weight_{l}"
                if hasattr(self, name):
                    getattr(self, name).copy_(lin.weight)
                else:
                    self.register_buffer(name, lin.weight.detach().clone())
            # explicit uniform init (PyTorch's default bound) so the generator controls it too
            bound = 1.0 / math.sqrt(n)
            self.readout.weight.copy_(
                torch.rand(self.readout.weight.shape, generator=generator, dtype=torch.float64) * 2 * bound - bound
            )
            self.readout.bias.copy_(
                torch.rand(self.readout.bias.shape, generator=generator, dtype=torch.float64) * 2 * bound - bound
            )

    def _apply(self, fn, *args, **kwargs):
        # .double() / .to(dtype) cast sigma I from float32, keeping sigma rounded to 24 bits
        # (4e-7 relative error in J Jᵀ at depth 5 for sigma = 1.1): an identity-init layer that
        # still holds its init is rebuilt in the new dtype, so its weight is sigma I exactly
        # there. Trained layers are cast as they are.
        pristine = [self._holds_identity_init(lin) for lin in getattr(self, "layers", ())]
        dtypes = [lin.weight.dtype for lin in getattr(self, "layers", ())]
        out = super()._apply(fn, *args, **kwargs)
        with torch.no_grad():
            for lin, keep, dt in zip(self.layers if pristine else (), pristine, dtypes):
                if keep and lin.weight.dtype != dt and lin.weight.dtype.is_floating_point:
                    identity_(lin.weight, self.sigma)
        return out

    def _holds_identity_init(self, lin: nn.Linear) -> bool:
        if self.init != "identity" or not lin.weight.dtype.is_floating_point:
            return False
        with torch.no_grad():
            ref = identity_(torch.empty_like(lin.weight), self.sigma)
            return bool(torch.equal(lin.weight, ref)) and (lin.bias is None or not bool(lin.bias.any()))

    def initial_weights(self) -> list[torch.Tensor] | None:
        """Initial hidden weights of a random init (``None`` for identity init)."""
        if self.init == "identity":
            return None
        return [getattr(self, f"initial_weight_{l}") for l in range(self.depth)]

    def hidden(self, x: torch.Tensor, *, all_layers: bool = False) -> torch.Tensor | list[torch.Tensor]:
        """Output :math:`x^L` of the hidden stack (or the list ``[x^1, ..., x^L]``)."""
        outs = []
        for lin in self.layers:
            x = self.act(lin(x))
            if all_layers:
                outs.append(x)
        return outs if all_layers else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``readout(hidden(x))``."""
        return self.readout(self.hidden(x))

    def extra_repr(self) -> str:
        return (
            f"width={self.width}, depth={self.depth}, activation={self.activation_name!r}, "
            f"init={self.init!r}, sigma={self.sigma}, sigma_w={self.sigma_w}, sigma_b={self.sigma_b}"
        )
