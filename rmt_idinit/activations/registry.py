"""Names of activations: the built-in records and the ones users register."""
from __future__ import annotations

import inspect
from typing import Callable

from . import piecewise_linear, saturating, smooth_rectifiers
from .record import Activation

__all__ = ["ACTIVATIONS", "get_activation", "register_activation"]

# name -> factory of the record (the factory's keyword arguments are the activation's parameters)
_FACTORIES: dict[str, Callable[..., Activation]] = {
    **piecewise_linear.RECORDS,
    **saturating.RECORDS,
    **smooth_rectifiers.RECORDS,
}
ACTIVATIONS: tuple[str, ...] = tuple(_FACTORIES)
_USER: dict[str, Activation] = {}


def register_activation(activation: Activation) -> Activation:
    """Register a user :class:`Activation` so that it can be named in every function.

    Examples
    --------
    >>> import numpy as np
    >>> from rmt_idinit.activations import Activation, get_activation, register_activation
    >>> softsign = Activation("doc_softsign", lambda h: h / (1 + abs(h)), lambda h: 1 / (1 + abs(h)) ** 2)
    >>> get_activation(register_activation(softsign).name) is softsign
    True
    """
    if not isinstance(activation, Activation):
        raise TypeError(f"activation must be an Activation, got {type(activation).__name__}")
    if activation.name in _FACTORIES:
        raise ValueError(f"activation name {activation.name!r} is a built-in; choose another name")
    _USER[activation.name] = activation
    return activation


def get_activation(activation: str | Activation = "hardtanh", **params: float) -> Activation:
    """Look up an activation by name (with its parameters) or pass an :class:`Activation` through.

    Examples
    --------
    >>> get_activation("leaky_relu", negative_slope=0.2).params["negative_slope"]
    0.2
    """
    if isinstance(activation, Activation):
        if params:
            raise TypeError(f"unexpected activation parameters {sorted(params)} for a user Activation")
        return activation
    if not isinstance(activation, str):
        raise TypeError(f"activation must be a name or an Activation, got {type(activation).__name__}")
    key = activation.lower().replace("-", "_")
    if key in _FACTORIES:
        allowed = list(inspect.signature(_FACTORIES[key]).parameters)
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise TypeError(f"activation {key!r} takes parameters {allowed or 'none'}, got {unknown}")
        return _FACTORIES[key](**params)
    if activation in _USER:
        if params:
            raise TypeError(f"unexpected activation parameters {sorted(params)} for {activation!r}")
        return _USER[activation]
    known = ", ".join(known_names())
    raise ValueError(f"activation must be one of {known} or an Activation, got {activation!r}")


def known_names() -> tuple[str, ...]:
    """The names :func:`get_activation` accepts: the built-ins, then the registered ones."""
    return ACTIVATIONS + tuple(_USER)


def _rebuild(name: str, params: dict) -> Activation:
    return get_activation(name, **params)
