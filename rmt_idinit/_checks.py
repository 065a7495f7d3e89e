"""Every parameter check of the package, in one place.

Each check returns a float64 (or int64) numpy array and raises ``ValueError`` or ``TypeError``
with a message that names the parameter and its allowed range, e.g.
``"sigma must be a finite number > 0, got -1.0"``. Nothing downstream ever sees a NaN that the
user did not ask for.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = [
    "as_float_array",
    "check_positive",
    "check_nonnegative",
    "check_finite",
    "check_probability",
    "check_depth",
    "check_int",
    "broadcast",
    "check_rng",
    "check_memory",
    "MEMORY_LIMIT_BYTES",
]


def _describe(value: Any) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(arr.item()) if arr.dtype.kind in "fciub" else repr(value)
    return f"array of shape {arr.shape}"


def as_float_array(name: str, value: Any) -> np.ndarray:
    """Convert ``value`` to a float64 array or raise TypeError naming ``name``."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a real number or array of real numbers, got {value!r}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be a real number or array of real numbers") from exc
    if arr.dtype.kind == "b":
        raise TypeError(f"{name} must be a real number, not a boolean")
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real, got a complex value")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real number or array of real numbers, got {_describe(value)}")
    return arr.astype(np.float64, copy=False)


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> str:
    return repr(float(arr[bad].flat[0])) if arr.ndim else repr(float(arr))


def check_finite(name: str, value: Any) -> np.ndarray:
    """Finite real numbers (any sign)."""
    arr = as_float_array(name, value)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"{name} must be a finite number, got {_first_bad(arr, bad)}")
    return arr


def check_positive(name: str, value: Any) -> np.ndarray:
    """Finite real numbers > 0."""
    arr = as_float_array(name, value)
    bad = ~(np.isfinite(arr) & (arr > 0))
    if bad.any():
        raise ValueError(f"{name} must be a finite number > 0, got {_first_bad(arr, bad)}")
    return arr


def check_nonnegative(name: str, value: Any) -> np.ndarray:
    """Finite real numbers >= 0."""
    arr = as_float_array(name, value)
    bad = ~(np.isfinite(arr) & (arr >= 0))
    if bad.any():
        raise ValueError(f"{name} must be a finite number >= 0, got {_first_bad(arr, bad)}")
    return arr


def check_probability(name: str, value: Any, *, open_interval: bool = True) -> np.ndarray:
    """Numbers in (0, 1) (or [0, 1] with ``open_interval=False``)."""
    arr = as_float_array(name, value)
    if open_interval:
        bad = ~((arr > 0) & (arr < 1))
        rng = "in the open interval (0, 1)"
    else:
        bad = ~((arr >= 0) & (arr <= 1))
        rng = "in [0, 1]"
    if bad.any():
        raise ValueError(f"{name} must be a number {rng}, got {_first_bad(arr, bad)}")
    return arr


def check_int(name: str, value: Any, minimum: int = 1) -> np.ndarray:
    """Integers >= ``minimum`` (floats that are whole numbers are accepted)."""
    if isinstance(value, (str, bytes)) or value is None or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    arr = np.asarray(value)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an integer >= {minimum}, got {_describe(value)}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            raise ValueError(f"{name} must be an integer >= {minimum}, got {_first_bad(arr, bad)}")
    iarr = arr.astype(np.int64)
    bad = iarr < minimum
    if bad.any():
        raise ValueError(f"{name} must be an integer >= {minimum}, got {int(iarr[bad].flat[0]) if iarr.ndim else int(iarr)}")
    return iarr


def check_depth(value: Any, name: str = "depth") -> np.ndarray:
    """Network depth: integers >= 1."""
    return check_int(name, value, minimum=1)


def broadcast(**arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Broadcast named arrays together; a shape mismatch names every parameter and its shape."""
    try:
        return tuple(np.broadcast_arrays(*arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in arrays.items())
        raise ValueError(f"shapes cannot be broadcast together: {shapes}") from None


def check_rng(rng: Any) -> np.random.Generator:
    """Normalize ``rng`` (None, int seed, SeedSequence or Generator) by ``numpy.random.default_rng``."""
    if rng is not None and not isinstance(
        rng, (numbers.Integral, np.random.SeedSequence, np.random.Generator, np.random.BitGenerator)
    ):
        raise TypeError(f"rng must be None, an int seed or a numpy Generator, got {type(rng).__name__}")
    return np.random.default_rng(rng)


# Largest working set one call may ask for. Arrays whose size grows with a parameter (layers
# recorded, batch x quadrature nodes) are sized before they are allocated and refused past this.
MEMORY_LIMIT_BYTES = 2 * 1024 ** 3


def check_memory(name: str, value: Any, nbytes: float, what: str) -> None:
    """Refuse a request whose arrays would exceed :data:`MEMORY_LIMIT_BYTES`.

    ``name``/``value`` are the parameter that drives the size, ``what`` says what would be stored.
    """
    if nbytes > MEMORY_LIMIT_BYTES:
        raise ValueError(
            f"{name}={value} would need {nbytes / 1024 ** 3:.3g} GiB for {what}; the limit is "
            f"{MEMORY_LIMIT_BYTES / 1024 ** 3:.3g} GiB (rmt_idinit._checks.MEMORY_LIMIT_BYTES): "
            f"ask for fewer layers or a smaller batch")
