"""Deprecation shims for renamed functions and reordered arguments (added in 0.2, removed in 0.3).

Every shim warns with :class:`DeprecationWarning` naming the new spelling and then forwards, so old
code keeps its results while it is being updated. ``stacklevel`` points at the caller's line.
"""
from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

__all__ = ["warn_renamed", "renamed", "keyword_only", "leading_operand"]


def warn_renamed(old: str, new: str, stacklevel: int = 3) -> None:
    warnings.warn(f"{old} is deprecated since 0.2 and goes in 0.3; use {new}",
                  DeprecationWarning, stacklevel=stacklevel)


def renamed(old: str, new_spelling: str, target: Callable[..., Any],
            adapt: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """A function ``old`` that warns and calls ``target`` (through ``adapt(target, *args, **kw)``
    when the old calling convention differs)."""

    def shim(*args: Any, **kwargs: Any) -> Any:
        warn_renamed(old, new_spelling)
        if adapt is not None:
            return adapt(target, *args, **kwargs)
        return target(*args, **kwargs)

    short = old.rsplit(".", 1)[-1]
    shim.__name__ = shim.__qualname__ = short
    shim.__module__ = target.__module__
    shim.__doc__ = f"Deprecated alias: use ``{new_spelling}`` (this name warns for one release)."
    return shim


def keyword_only(where: str, names: tuple[str, ...], n_positional: int) -> Callable:
    """Decorator: parameters ``names`` used to follow the first ``n_positional`` ones positionally
    and are keyword-only now; a call that still passes them by position warns and forwards."""

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if len(args) > n_positional:
                extra = args[n_positional:]
                if len(extra) > len(names):
                    raise TypeError(f"{where}() takes at most {n_positional} positional arguments "
                                    f"({len(args)} given)")
                moved = names[:len(extra)]
                clash = [n for n in moved if n in kwargs]
                if clash:
                    raise TypeError(f"{where}() got multiple values for argument {clash[0]!r}")
                warn_renamed(f"passing {', '.join(moved)} of {where}() by position",
                             f"the keyword{'s' if len(moved) > 1 else ''} "
                             + ", ".join(f"{n}=" for n in moved))
                kwargs.update(zip(moved, extra))
                args = args[:n_positional]
            return fn(*args, **kwargs)

        return wrapper

    return deco


def leading_operand(where: str, name: str) -> Callable:
    """Decorator: the operand ``name`` (a moment order k, ks) used to come first and is a required
    keyword now, after ``(sigma, q0, depth, activation)``. A call without ``name=`` is therefore the
    old order: its first positional argument is ``name``; it warns and forwards."""

    def deco(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if name not in kwargs and args:
                warn_renamed(f"{where}({name}, sigma, q0, depth, ...) with {name} first",
                             f"{where}(sigma, q0, depth, activation, {name}=...)")
                kwargs[name] = args[0]
                args = args[1:]
            return fn(*args, **kwargs)

        return wrapper

    return deco
