"""Activation names of the package mapped to torch modules.

The names are those of :mod:`rmt_idinit.activations` ("hardtanh", "relu", "leaky_relu", "linear",
"tanh", "erf", "sigmoid", "gelu", "silu", "softplus"); keyword parameters go to the torch module
(``negative_slope`` for leaky ReLU, ``beta``/``threshold`` for softplus, ``approximate`` for GELU).
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

__all__ = ["ACTIVATIONS", "Erf", "make_activation"]


class Erf(nn.Module):
    """Elementwise ``erf(h)`` (torch has no ``nn.Erf``)."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.erf(h)


ACTIVATIONS: dict[str, Callable[..., nn.Module]] = {
    "hardtanh": nn.Hardtanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "linear": nn.Identity,
    "tanh": nn.Tanh,
    "erf": Erf,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
}


def make_activation(activation: str | nn.Module, **params: Any) -> nn.Module:
    """Return the torch module for an activation name (or pass a module through).

    Parameters
    ----------
    activation : str or torch.nn.Module
        One of ``ACTIVATIONS`` or an elementwise module.
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
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)} or a torch.nn.Module, got {activation!r}"
        )
    if activation == "linear" and params:
        raise ValueError(f"activation 'linear' takes no parameters, got {sorted(params)}")
    try:
        return ACTIVATIONS[activation](**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters {sorted(params)} for activation {activation!r}: {exc}") from None
