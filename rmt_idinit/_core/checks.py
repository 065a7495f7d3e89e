"""Every parameter check of the package, in one place.

Each check returns a float64 (or int64) numpy array and raises ``ValueError`` or ``TypeError``
with a message that names the parameter and its allowed range, e.g.
``"sigma must be a finite number > 0, got -1.0"``. Nothing downstream ever sees a NaN that the
user did not ask for.
"""
from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

__all__ = [
    "as_float_array",
    "check_positive",
    "check_nonnegative",
    "check_finite",
    "check_not_nan",
    "check_probability",
    "check_greater",
    "check_interval",
    "check_depth",
    "check_int",
    "check_scalar_int",
    "check_scalar",
    "check_choice",
    "check_bool",
    "check_memory",
    "memory_limit",
    "broadcast",
    "check_rng",
    "check_path",
    "check_instance",
]


def _describe(value: Any) -> str:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return repr(arr.item()) if arr.dtype.kind in "fciub" else repr(value)
    return f"array of shape {arr.shape}"


def _to_float(v: numbers.Real) -> float:
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def as_float_array(name: str, value: Any) -> np.ndarray:
    """Convert ``value`` to a float64 array or raise TypeError naming ``name``."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a real number or array of real numbers, got {value!r}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be a real number or array of real numbers") from exc
    if arr.dtype == object and arr.size and all(
            isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in arr.flat):
        # Python ints beyond 64 bits (e.g. 10**30) are real numbers: convert (inf beyond double range)
        arr = np.array([_to_float(v) for v in arr.flat], dtype=np.float64).reshape(arr.shape)
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


def check_not_nan(name: str, value: Any) -> np.ndarray:
    """Real numbers, infinities allowed (points where a law or density is evaluated), NaN refused."""
    arr = as_float_array(name, value)
    if np.isnan(arr).any():
        raise ValueError(f"{name} must not contain NaN")
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


def check_greater(name: str, value: Any, bound: float) -> np.ndarray:
    """Finite real numbers > ``bound`` (e.g. a condition-number bound ``kappa > 1``)."""
    arr = as_float_array(name, value)
    bad = ~(np.isfinite(arr) & (arr > bound))
    if bad.any():
        raise ValueError(f"{name} must be a finite number > {bound:g}, got {_first_bad(arr, bad)}")
    return arr


def check_interval(name: str, value: Any, lo: float, hi: float) -> np.ndarray:
    """Real numbers in the closed interval ``[lo, hi]`` (NaN refused)."""
    arr = as_float_array(name, value)
    bad = ~((arr >= lo) & (arr <= hi))
    if bad.any():
        raise ValueError(f"{name} must lie in [{lo:g}, {hi:g}], got {_first_bad(arr, bad)}")
    return arr


#: The largest integer the float64/int64 API can hold (``2**63 - 1``); larger counts are refused
#: by name instead of wrapping around (``np.int64(2**63)`` is ``-2**63``).
INT_MAX = int(np.iinfo(np.int64).max)


def _int_range(minimum: int, maximum: int | None) -> str:
    if maximum is None:
        return f">= {minimum}"
    return f"in [{minimum}, {maximum}]" if maximum != INT_MAX else f"in [{minimum}, 2**63 - 1]"


def check_int(name: str, value: Any, minimum: int = 1, maximum: int | None = None, *,
              reason: str = "") -> np.ndarray:
    """Integers >= ``minimum`` (and <= ``maximum``), as int64.

    Python and numpy integers, 0-d arrays and floats that are whole numbers are accepted. Values
    beyond int64 (``2**63``, ``10**30``, ``1e300``) raise a ValueError that states the limit
    ``2**63 - 1`` rather than wrapping around. ``reason`` (why the range is what it is) is
    appended to the message of a value out of range.
    """
    try:
        return _check_int(name, value, minimum, maximum)
    except ValueError as exc:
        if not reason:
            raise
        raise ValueError(f"{exc} ({reason})") from None


def _check_int(name: str, value: Any, minimum: int, maximum: int | None) -> np.ndarray:
    if isinstance(value, (str, bytes)) or value is None or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer {_int_range(minimum, maximum)}, got {value!r}")
    try:
        arr = np.asarray(value)
    except Exception:  # ragged lists and the like
        raise TypeError(f"{name} must be an integer or array of integers, got {type(value).__name__}") from None
    if arr.dtype == object and arr.size and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in arr.flat):
        # Python ints beyond 64 bits: numpy keeps them as objects
        big = [int(v) for v in arr.flat if not (minimum <= int(v) <= INT_MAX)]
        raise ValueError(f"{name} must be an integer {_int_range(minimum, INT_MAX if maximum is None else maximum)}"
                         f", got {big[0] if big else arr.flat[0]}")
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be an integer {_int_range(minimum, maximum)}, got {_describe(value)}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            raise ValueError(f"{name} must be an integer {_int_range(minimum, maximum)}, got {_first_bad(arr, bad)}")
        bad = np.abs(arr) >= 2.0 ** 63
        if bad.any():
            raise ValueError(f"{name} must be an integer {_int_range(minimum, INT_MAX if maximum is None else maximum)}"
                             f", got {_first_bad(arr, bad)}")
    elif arr.dtype.kind == "u":
        bad = arr > INT_MAX
        if bad.any():
            raise ValueError(f"{name} must be an integer {_int_range(minimum, INT_MAX if maximum is None else maximum)}"
                             f", got {int(arr[bad].flat[0]) if arr.ndim else int(arr)}")
    iarr = arr.astype(np.int64)
    bad = iarr < minimum
    if maximum is not None:
        bad = bad | (iarr > maximum)
    if bad.any():
        raise ValueError(f"{name} must be an integer {_int_range(minimum, maximum)}, "
                         f"got {int(iarr[bad].flat[0]) if iarr.ndim else int(iarr)}")
    return iarr


def check_scalar_int(name: str, value: Any, minimum: int = 1, maximum: int | None = None, *,
                     reason: str = "") -> int:
    """One integer (Python or numpy integer, 0-d array, whole float) in range, as a Python int."""
    arr = check_int(name, value, minimum, maximum, reason=reason)
    if arr.ndim != 0:
        raise TypeError(f"{name} must be a single integer, got an array of shape {arr.shape}")
    return int(arr)


def check_scalar(name: str, value: Any, check: Callable[[str, Any], np.ndarray] | None = None) -> float:
    """One real number (Python or numpy scalar, 0-d array), checked by ``check``, as a float."""
    arr = (check or check_finite)(name, value)
    if arr.ndim != 0:
        raise TypeError(f"{name} must be a single number, got an array of shape {arr.shape}")
    return float(arr)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """One of the strings ``choices``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {', '.join(map(repr, choices))}, got {_describe(value)}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """``True`` or ``False`` (numpy booleans too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def check_instance(name: str, value: Any, cls: type, hint: str = "") -> Any:
    """An instance of ``cls`` (TypeError naming ``name``, the type and ``hint`` otherwise).

    The checks module imports nothing from the package: a module that owns a type wraps this
    (``laws.check_law`` for a SpectralLaw).
    """
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__name__}{f' ({hint})' if hint else ''}, got {type(value).__name__}")
    return value


def check_path(name: str, value: Any) -> Path:
    """A filesystem path (``str`` or ``os.PathLike``), as a :class:`pathlib.Path`; existence is not checked."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {type(value).__name__}")
    return Path(value)


#: Default ceiling for one allocation whose size grows with a parameter (bytes); the environment
#: variable ``RMT_IDINIT_MAX_BYTES`` overrides it.
DEFAULT_MAX_BYTES = 2 * 2 ** 30


def memory_limit() -> int:
    """The allocation ceiling in bytes: ``$RMT_IDINIT_MAX_BYTES`` or :data:`DEFAULT_MAX_BYTES`."""
    raw = os.environ.get("RMT_IDINIT_MAX_BYTES")
    if raw is None:
        return DEFAULT_MAX_BYTES
    try:
        return max(int(float(raw)), 1)
    except ValueError:
        raise ValueError(f"RMT_IDINIT_MAX_BYTES must be a number of bytes, got {raw!r}") from None


def _gib(n: float) -> str:
    return f"{n / 2 ** 30:.3g} GiB"


def check_memory(nbytes: float, what: str, limit: float | None = None) -> None:
    """Refuse up front an allocation of ``nbytes`` above ``limit`` (default :func:`memory_limit`).

    ``what`` names the parameter(s) that set the size, e.g. ``"depth=1000000000 (layers=True)"``;
    the ValueError states the size, the limit and how to raise it.
    """
    lim = memory_limit() if limit is None else limit
    if not nbytes <= lim:
        raise ValueError(
            f"{what} would need {_gib(nbytes)} of memory, above the limit of {_gib(lim)}; "
            "reduce it, or raise the limit with the environment variable RMT_IDINIT_MAX_BYTES")


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
    ) or isinstance(rng, (bool, np.bool_)):
        raise TypeError(f"rng must be None, an int seed >= 0 or a numpy Generator, got {type(rng).__name__}")
    if isinstance(rng, numbers.Integral) and rng < 0:
        raise ValueError(f"rng must be None, an int seed >= 0 or a numpy Generator, got {rng}")
    return np.random.default_rng(rng)


def check_tensor(name: str, x: Any, *, features: int | None = None, flatten: bool = False) -> Any:
    """A non-empty floating-point torch tensor of shape ``(batch, features)`` (or ``(features,)``).

    ``flatten=True`` accepts ``(batch, *sample_shape)`` and flattens each sample (images). Raises
    TypeError for a non-tensor or an integer/boolean dtype, ValueError for an empty batch or a
    wrong number of features. torch is imported only here, so the numerical core never needs it.
    """
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a real floating-point tensor, got dtype {x.dtype} "
                        f"(convert with {name}.float() or {name}.double())")
    if x.dim() == 0:
        raise ValueError(f"{name} must have shape (batch, features) or (features,), got a 0-d tensor")
    if x.dim() == 1:
        x = x.unsqueeze(0)
    elif flatten:
        x = x.reshape(x.shape[0], -1) if x.shape[0] else x.reshape(0, int(np.prod(x.shape[1:])))
    if x.dim() != 2:
        raise ValueError(f"{name} must have shape (batch, features) or (features,), got {tuple(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got an empty batch of shape {tuple(x.shape)}")
    if features is not None and x.shape[1] != features:
        raise ValueError(f"{name} must have {features} features per sample, got shape {tuple(x.shape)}")
    return x
