"""Elementwise activations: phi, phi', phi'', piecewise-linear structure and numba kernels.

An :class:`Activation` bundles what the theory needs of an elementwise nonlinearity:

* ``phi``, ``dphi`` (and ``d2phi`` when known): numpy-vectorized callables;
* ``pieces``: for piecewise-linear activations, the breakpoints and the (slope, intercept) of each
  piece, which unlock the exact closed-form laws;
* ``even_decreasing_gain``: True when phi is odd and phi' non-increasing in ``|h|`` (tanh, erf,
  hard-tanh, linear), so that the unit gain g_L(u) decreases in ``|u|`` and the CDF of lambda has the
  one-root form of docs/theory/closed_forms.md;
* scalar numba kernels ``phi(h, p)``, ``dphi(h, p)``, ``d2phi(h, p)`` compiled on first use, with the
  activation's parameters packed in the float array ``p``.

Built-ins are looked up by name with :func:`get_activation`; a user-defined activation is
``Activation("mine", phi, dphi)`` with plain Python/numpy functions of one variable.

Derivative conventions follow PyTorch's autograd: hard-tanh' = 0 at ``|h| = 1`` and relu'(0) = 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
from scipy import special

__all__ = ["Activation", "Pieces", "get_activation", "register_activation", "ACTIVATIONS"]

_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Pieces:
    """Piecewise-linear structure: ``phi(h) = slopes[i] * h + intercepts[i]`` on piece ``i``.

    Piece ``i`` is ``breakpoints[i-1] < h < breakpoints[i]`` (with -inf/+inf at the ends), so there
    is one more piece than breakpoints.
    """

    breakpoints: tuple[float, ...]
    slopes: tuple[float, ...]
    intercepts: tuple[float, ...]

    def __post_init__(self) -> None:
        from ._core.checks import check_finite

        for name in ("breakpoints", "slopes", "intercepts"):
            arr = check_finite(name, getattr(self, name))
            if arr.ndim != 1:
                raise TypeError(f"{name} must be a 1-D sequence of numbers, got shape {arr.shape}")
            object.__setattr__(self, name, tuple(float(v) for v in arr))
        if len(self.slopes) != len(self.breakpoints) + 1 or len(self.intercepts) != len(self.slopes):
            raise ValueError("pieces need len(slopes) == len(intercepts) == len(breakpoints) + 1")
        if any(b2 <= b1 for b1, b2 in zip(self.breakpoints, self.breakpoints[1:])):
            raise ValueError("pieces breakpoints must be strictly increasing")


@dataclass(frozen=True, eq=False)
class Activation:
    """An elementwise activation and what the theory needs to know about it.

    Parameters
    ----------
    name : str
        Display name.
    phi, dphi : callable
        The activation and its derivative, numpy-vectorized functions of one array argument.
    d2phi : callable, optional
        Second derivative; used for densities of the smooth laws (finite differences of ``dphi``
        when omitted).
    pieces : Pieces, optional
        Piecewise-linear structure; enables the exact closed-form laws.
    even_decreasing_gain : bool
        phi is odd and phi' is non-increasing in ``|h|``; then (with no bias) every layer's gain
        g_l(u) is even and non-increasing in ``|u|``, and the CDF of lambda has a one-root form.
    params : mapping
        Parameters the built-in kernels read (e.g. ``negative_slope``).

    Examples
    --------
    >>> import numpy as np
    >>> from rmt_idinit.activations import Activation
    >>> cube = Activation("softsign", lambda h: h / (1 + abs(h)), lambda h: 1 / (1 + abs(h)) ** 2)
    >>> float(cube.dphi(np.float64(0.0)))
    1.0
    """

    name: str
    phi: Callable[[np.ndarray], np.ndarray]
    dphi: Callable[[np.ndarray], np.ndarray]
    d2phi: Callable[[np.ndarray], np.ndarray] | None = None
    pieces: Pieces | None = None
    even_decreasing_gain: bool = False
    params: Mapping[str, float] = field(default_factory=dict)
    _code: int = -1  # index of the built-in numba branch; -1 for user activations
    _kernel_cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError("Activation name must be a non-empty string")
        for label in ("phi", "dphi"):
            if not callable(getattr(self, label)):
                raise TypeError(f"Activation {label} must be callable, got {getattr(self, label)!r}")
        if self.d2phi is not None and not callable(self.d2phi):
            raise TypeError(f"Activation d2phi must be callable or None, got {self.d2phi!r}")

    @property
    def is_piecewise_linear(self) -> bool:
        return self.pieces is not None

    @property
    def param_array(self) -> np.ndarray:
        return np.array(list(self.params.values()) or [0.0], dtype=np.float64)

    def kernels(self) -> tuple:
        """Scalar numba functions ``(phi, dphi, d2phi)`` of ``(h, p)``, compiled on first use."""
        if "k" not in self._kernel_cache:
            self._kernel_cache["k"] = _make_kernels(self)
        return self._kernel_cache["k"]

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Activation({self.name!r}{extra})"

    def __reduce__(self):
        # Built-ins pickle by name (their lambdas do not pickle); used by process-pool sweeps.
        if self._code >= 0:
            return (get_activation, (self.name,), None, None, None) if not self.params else (
                _rebuild, (self.name, dict(self.params)))
        return (Activation, (self.name, self.phi, self.dphi, self.d2phi, self.pieces,
                             self.even_decreasing_gain, dict(self.params)))


def _rebuild(name: str, params: dict) -> Activation:
    return get_activation(name, **params)


# --- built-ins -------------------------------------------------------------------------------

def _sigmoid(h):
    return special.expit(h)


def _hardtanh() -> Activation:
    return Activation(
        "hardtanh",
        lambda h: np.clip(h, -1.0, 1.0),
        lambda h: (np.abs(h) < 1.0).astype(np.float64),
        lambda h: np.zeros_like(np.asarray(h, dtype=np.float64)),
        pieces=Pieces((-1.0, 1.0), (0.0, 1.0, 0.0), (-1.0, 0.0, 1.0)),
        even_decreasing_gain=True,
        _code=0,
    )


def _relu() -> Activation:
    return Activation(
        "relu",
        lambda h: np.maximum(h, 0.0),
        lambda h: (np.asarray(h) > 0.0).astype(np.float64),
        lambda h: np.zeros_like(np.asarray(h, dtype=np.float64)),
        pieces=Pieces((0.0,), (0.0, 1.0), (0.0, 0.0)),
        _code=1,
    )


def _leaky_relu(negative_slope: float = 0.01) -> Activation:
    s = _positive_param("negative_slope", negative_slope, allow_zero=True)
    return Activation(
        "leaky_relu",
        lambda h: np.where(np.asarray(h) > 0.0, h, s * np.asarray(h)),
        lambda h: np.where(np.asarray(h) > 0.0, 1.0, s),
        lambda h: np.zeros_like(np.asarray(h, dtype=np.float64)),
        pieces=Pieces((0.0,), (s, 1.0), (0.0, 0.0)),
        params={"negative_slope": s},
        _code=2,
    )


def _linear() -> Activation:
    return Activation(
        "linear",
        lambda h: np.asarray(h, dtype=np.float64) * 1.0,
        lambda h: np.ones_like(np.asarray(h, dtype=np.float64)),
        lambda h: np.zeros_like(np.asarray(h, dtype=np.float64)),
        pieces=Pieces((), (1.0,), (0.0,)),
        even_decreasing_gain=True,
        _code=3,
    )


def _tanh() -> Activation:
    return Activation(
        "tanh",
        np.tanh,
        lambda h: 1.0 / np.cosh(h) ** 2,
        lambda h: -2.0 * np.tanh(h) / np.cosh(h) ** 2,
        even_decreasing_gain=True,
        _code=4,
    )


def _erf(scale: float = 1.0) -> Activation:
    a = _positive_param("scale", scale)
    c = 2.0 * a / math.sqrt(math.pi)
    return Activation(
        "erf",
        lambda h: special.erf(a * np.asarray(h)),
        lambda h: c * np.exp(-(a * np.asarray(h)) ** 2),
        lambda h: -2.0 * a * a * np.asarray(h) * c * np.exp(-(a * np.asarray(h)) ** 2),
        even_decreasing_gain=True,
        params={"scale": a},
        _code=5,
    )


def _sigmoid_act() -> Activation:
    return Activation(
        "sigmoid",
        _sigmoid,
        lambda h: _sigmoid(h) * _sigmoid(-np.asarray(h)),
        lambda h: _sigmoid(h) * _sigmoid(-np.asarray(h)) * (1.0 - 2.0 * _sigmoid(h)),
        _code=6,
    )


def _gelu() -> Activation:
    def pdf(h):
        return np.exp(-0.5 * np.asarray(h) ** 2) / _SQRT2PI

    return Activation(
        "gelu",
        lambda h: np.asarray(h) * special.ndtr(h),
        lambda h: special.ndtr(h) + np.asarray(h) * pdf(h),
        lambda h: (2.0 - np.asarray(h) ** 2) * pdf(h),
        _code=7,
    )


def _silu() -> Activation:
    def d(h):
        s = _sigmoid(h)
        return s * (1.0 + np.asarray(h) * (1.0 - s))

    def d2(h):
        s = _sigmoid(h)
        return s * (1.0 - s) * (2.0 + np.asarray(h) * (1.0 - 2.0 * s))

    return Activation("silu", lambda h: np.asarray(h) * _sigmoid(h), d, d2, _code=8)


def _softplus(beta: float = 1.0) -> Activation:
    b = _positive_param("beta", beta)
    return Activation(
        "softplus",
        lambda h: np.logaddexp(0.0, b * np.asarray(h)) / b,
        lambda h: _sigmoid(b * np.asarray(h)),
        lambda h: b * _sigmoid(b * np.asarray(h)) * _sigmoid(-b * np.asarray(h)),
        params={"beta": b},
        _code=9,
    )


def _positive_param(name: str, value: float, allow_zero: bool = False) -> float:
    """One number (Python or numpy scalar, 0-d array) > 0 (or >= 0), through the shared checks."""
    from ._core import checks as _checks

    return _checks.check_scalar(name, value, _checks.check_nonnegative if allow_zero else _checks.check_positive)


_FACTORIES: dict[str, Callable[..., Activation]] = {
    "hardtanh": _hardtanh,
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "linear": _linear,
    "tanh": _tanh,
    "erf": _erf,
    "sigmoid": _sigmoid_act,
    "gelu": _gelu,
    "silu": _silu,
    "softplus": _softplus,
}
ACTIVATIONS: tuple[str, ...] = tuple(_FACTORIES)
_USER: dict[str, Activation] = {}


def register_activation(activation: Activation) -> Activation:
    """Register a user :class:`Activation` so that it can be named in every function."""
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
        import inspect

        allowed = list(inspect.signature(_FACTORIES[key]).parameters)
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise TypeError(f"activation {key!r} takes parameters {allowed or 'none'}, got {unknown}")
        return _FACTORIES[key](**params)
    if activation in _USER:
        if params:
            raise TypeError(f"unexpected activation parameters {sorted(params)} for {activation!r}")
        return _USER[activation]
    known = ", ".join(list(_FACTORIES) + list(_USER))
    raise ValueError(f"activation must be one of {known} or an Activation, got {activation!r}")


# --- numba kernels ---------------------------------------------------------------------------

def _make_kernels(act: Activation) -> tuple:
    from ._core import kernels as _kernels

    if act._code >= 0:
        return _kernels.builtin(act._code)
    return _kernels.user(act)
