"""Helpers the built-in records share: parameter checks and lazy torch factories."""
from __future__ import annotations

from typing import Any, Callable


def positive_param(name: str, value: float, allow_zero: bool = False) -> float:
    """One number (Python or numpy scalar, 0-d array) > 0 (or >= 0), through the shared checks."""
    from .._core import checks as _checks

    return _checks.check_scalar(name, value, _checks.check_nonnegative if allow_zero else _checks.check_positive)


def torch_module(class_name: str, module: str = "torch.nn", takes_params: bool = True) -> Callable[..., Any]:
    """A factory ``(**kwargs) -> module.class_name(**kwargs)`` that imports torch only when called."""

    def make(**kwargs: Any) -> Any:
        import importlib

        if not takes_params and kwargs:
            # nn.Identity swallows any argument; refuse them so that typos are not ignored
            raise TypeError(f"{class_name} takes no parameters, got {sorted(kwargs)}")
        return getattr(importlib.import_module(module), class_name)(**kwargs)

    make.__qualname__ = make.__name__ = f"make_{class_name}"
    return make
