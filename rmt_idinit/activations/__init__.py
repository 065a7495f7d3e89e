"""Elementwise activations, one record each.

Every layer of the package (float64 laws, numba kernels, mean-field closed forms, free
probability, mpmath references, sympy forms, torch modules) reads what it needs from one
:class:`Activation` record; adding an activation is writing one record (and, to name it,
:func:`register_activation`). The built-ins are grouped by kind:

* :mod:`~rmt_idinit.activations.piecewise_linear`: hard-tanh, relu, leaky relu, linear;
* :mod:`~rmt_idinit.activations.saturating`: tanh, erf, sigmoid;
* :mod:`~rmt_idinit.activations.smooth_rectifiers`: gelu, silu, softplus.

Examples
--------
>>> from rmt_idinit.activations import get_activation
>>> get_activation("leaky_relu", negative_slope=0.2)
Activation('leaky_relu', negative_slope=0.2)
"""
from __future__ import annotations

from .record import Activation, GaussianForms, Pieces
from .registry import ACTIVATIONS, get_activation, register_activation

__all__ = ["Activation", "Pieces", "GaussianForms", "get_activation", "register_activation", "ACTIVATIONS"]
