"""Activations of the package as torch modules, read from the activation records.

Every :class:`rmt_idinit.activations.Activation` with a ``torch`` factory can be named here: the
built-ins ("hardtanh", "relu", "leaky_relu", "linear", "tanh", "erf", "sigmoid", "gelu", "silu",
"softplus") and any registered user record. Keyword parameters go to the torch module
(``negative_slope`` for leaky ReLU, ``beta``/``threshold`` for softplus, ``approximate`` for GELU).
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from .. import activations as _activations

__all__ = ["ACTIVATIONS", "Erf", "make_activation"]


class Erf(nn.Module):
    """Elementwise ``erf(h)`` (torch has no ``nn.Erf``)."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.erf(h)


#: The built-in activations' torch factories, by name.
ACTIVATIONS: dict[str, Callable[..., nn.Module]] = {
    name: _activations.get_activation(name).torch for name in _activations.ACTIVATIONS
}


def make_activation(activation: str | nn.Module, **params: Any) -> nn.Module:
    """Return the torch module for an activation name (or pass a module through).

    Parameters
    ----------
    activation : str or torch.nn.Module
        A built-in name (``ACTIVATIONS``), a registered activation with a torch form, or an
        elementwise module.
    **params
        Keyword arguments of the torch module, e.g. ``negative_slope=0.1`` for ``"leaky_relu"``.

    Examples
    --------
    >>> make_activation("leaky_relu", negative_slope=0.2)
    LeakyReLU(negative_slope=0.2)
    """
    if isinstance(activation, nn.Module):
        if params:
            raise ValueError("activation parameters can only be given with an activation name")
        return activation
    record = None
    if isinstance(activation, str):
        try:
            record = _activations.get_activation(activation)
        except ValueError:
            record = None
    if record is None or record.torch is None:
        known = sorted(n for n in _activations.registry.known_names()
                       if _activations.get_activation(n).torch is not None)
        raise ValueError(f"activation must be one of {known} or a torch.nn.Module, got {activation!r}")
    try:
        return record.torch(**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters {sorted(params)} for activation {activation!r}: {exc}") from None
