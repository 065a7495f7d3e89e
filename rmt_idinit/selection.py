"""Deprecated alias of :mod:`rmt_idinit.select` with the old argument orders (moved in 0.2; removed in 0.3).

The functions whose positional order changed keep their old order here for one release, warn with
a :class:`DeprecationWarning` that names the new call, and forward to :mod:`rmt_idinit.select`:

* ``is_feasible(sigma, q0, depth, eps, kappa, activation)`` is now
  ``is_feasible(sigma, q0, depth, activation, *, eps, kappa)``;
* ``sigma_window(depth, kappa)`` is now ``sigma_window(depth, *, kappa)``;
* ``feasible_sigma_interval(depth, q0, eps, kappa, activation)`` is now
  ``feasible_sigma_interval(q0, depth, activation, *, eps, kappa)``;
* ``max_q0(sigma, depth, eps, activation, *, kappa)`` is now
  ``max_q0(sigma, depth, activation, *, eps, kappa)``;
* ``max_depth(sigma, q0, eps, kappa, activation)`` is now
  ``max_depth(sigma, q0, activation, *, eps, kappa)``;
* ``best_sigma(depth, q0, activation, *, eps, kappa)`` is now
  ``best_sigma(q0, depth, activation, *, eps, kappa)``;
* ``feasible_region(depth, eps, kappa, activation, ...)`` is now
  ``feasible_region(depth, activation, *, eps, kappa, ...)`` (and its ``progress`` defaults to False).

The others (``dead_fraction``, ``log_gradient_scale``, ``gradient_scale``, ``isometry_loss``,
``max_q0_derivation``, ``FeasibleRegion``, ``sweep``) are the :mod:`rmt_idinit.select` objects.
"""
from __future__ import annotations

import functools
import warnings
from typing import Any

from . import select as _new
from .select import (  # noqa: F401  (re-exported unchanged)
    DEFAULT_EPS,
    DEFAULT_KAPPA,
    FeasibleRegion,
    dead_fraction,
    gradient_scale,
    isometry_loss,
    log_gradient_scale,
    max_q0_derivation,
    sweep,
)

__all__ = [
    "DEFAULT_EPS",
    "DEFAULT_KAPPA",
    "dead_fraction",
    "log_gradient_scale",
    "gradient_scale",
    "isometry_loss",
    "is_feasible",
    "sigma_window",
    "feasible_sigma_interval",
    "max_q0",
    "max_q0_derivation",
    "max_depth",
    "best_sigma",
    "FeasibleRegion",
    "feasible_region",
    "sweep",
]


def _moved(new_call: str):
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            warnings.warn(f"rmt_idinit.selection.{fn.__name__} is deprecated (removed in 0.3): call "
                          f"rmt_idinit.select.{new_call}", DeprecationWarning, stacklevel=2)
            return fn(*args, **kwargs)
        return wrapper
    return deco


@_moved("is_feasible(sigma, q0, depth, activation, *, eps, kappa)")
def is_feasible(sigma: Any, q0: Any, depth: Any, eps: Any = DEFAULT_EPS, kappa: Any = DEFAULT_KAPPA,
                activation="hardtanh", **activation_params: float):
    return _new.is_feasible(sigma, q0, depth, activation, eps=eps, kappa=kappa, **activation_params)


@_moved("sigma_window(depth, *, kappa)")
def sigma_window(depth: Any, kappa: Any = DEFAULT_KAPPA):
    return _new.sigma_window(depth, kappa=kappa)


@_moved("feasible_sigma_interval(q0, depth, activation, *, eps, kappa)")
def feasible_sigma_interval(depth: Any, q0: Any, eps: Any = DEFAULT_EPS, kappa: Any = DEFAULT_KAPPA,
                            activation="hardtanh", **activation_params: float):
    return _new.feasible_sigma_interval(q0, depth, activation, eps=eps, kappa=kappa, **activation_params)


@_moved("max_q0(sigma, depth, activation, *, eps, kappa)")
def max_q0(sigma: Any, depth: Any, eps: Any = DEFAULT_EPS, activation="hardtanh", *, kappa: Any = DEFAULT_KAPPA,
           **activation_params: float):
    return _new.max_q0(sigma, depth, activation, eps=eps, kappa=kappa, **activation_params)


@_moved("max_depth(sigma, q0, activation, *, eps, kappa)")
def max_depth(sigma: Any, q0: Any, eps: Any = DEFAULT_EPS, kappa: Any = DEFAULT_KAPPA, activation="hardtanh", *,
              depth_limit: int = 10_000, **activation_params: float):
    return _new.max_depth(sigma, q0, activation, eps=eps, kappa=kappa, depth_limit=depth_limit,
                          **activation_params)


@_moved("best_sigma(q0, depth, activation, *, eps, kappa)")
def best_sigma(depth: Any, q0: Any, activation="hardtanh", *, eps: Any = None, kappa: Any = None,
               **activation_params: float):
    return _new.best_sigma(q0, depth, activation, eps=eps, kappa=kappa, **activation_params)


@_moved("feasible_region(depth, activation, *, eps, kappa, ...)")
def feasible_region(depth: int, eps: float = DEFAULT_EPS, kappa: float = DEFAULT_KAPPA, activation="hardtanh", *,
                    sigma: Any = None, q0: Any = None, executor=None, chunk_size: int | None = None,
                    progress: bool = True, **activation_params: float):
    # progress=True was this module's default; rmt_idinit.select defaults to False
    return _new.feasible_region(depth, activation, eps=eps, kappa=kappa, sigma=sigma, q0=q0, executor=executor,
                                chunk_size=chunk_size, progress=progress, **activation_params)
