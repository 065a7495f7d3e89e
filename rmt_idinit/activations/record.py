"""The activation record: everything each layer of the package needs to know about one phi.

An :class:`Activation` is the one place an elementwise nonlinearity is declared. Required:

* ``phi``, ``dphi`` (and ``d2phi`` when known): numpy-vectorized callables of one array.

Optional, each read by the layer that needs it; where a field is None that layer falls back to
its generic path (the one user activations take):

* ``pieces`` (:class:`Pieces`): breakpoints and (slope, intercept) of each piece of a
  piecewise-linear phi; unlocks the exact laws (cell propagation, the exact law of ``phi'^2``);
* ``even_decreasing_gain``: phi odd and phi' non-increasing in ``|h|`` (tanh, erf, hard-tanh,
  linear), so the unit gain g_L(u) decreases in ``|u|`` and the CDF of lambda has the one-root
  form of docs/theory/closed_forms.md;
* ``kernel``: the branch of the built-in numba kernels (:mod:`rmt_idinit._core.kernel_ids`);
  without it ``phi``/``dphi`` are compiled by numba on first use;
* ``gaussian`` (:class:`GaussianForms`): closed forms of the Gaussian expectations that mean-field
  theory and free probability need; without them, quadrature;
* ``mp_step``: the mpmath form used by :mod:`rmt_idinit.precise` (which refuses activations without);
* ``sympy_phi``: phi as a sympy expression (:mod:`rmt_idinit.symbolic`);
* ``torch``: a factory of the equivalent ``torch.nn.Module`` (:mod:`rmt_idinit.nn`); the factory
  imports torch itself, so declaring a record never does.

Derivative conventions follow PyTorch's autograd: hard-tanh' = 0 at ``|h| = 1`` and relu'(0) = 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping

import numpy as np

__all__ = ["Activation", "Pieces", "GaussianForms"]


@dataclass(frozen=True)
class Pieces:
    """Piecewise-linear structure: ``phi(h) = slopes[i] * h + intercepts[i]`` on piece ``i``.

    Piece ``i`` is ``breakpoints[i-1] < h < breakpoints[i]`` (with -inf/+inf at the ends), so there
    is one more piece than breakpoints.

    Examples
    --------
    >>> relu = Pieces((0.0,), (0.0, 1.0), (0.0, 0.0))
    >>> relu.is_homogeneous, relu.is_unit_clip
    (True, False)
    """

    breakpoints: tuple[float, ...]
    slopes: tuple[float, ...]
    intercepts: tuple[float, ...]

    def __post_init__(self) -> None:
        from .._core.checks import check_finite

        for name in ("breakpoints", "slopes", "intercepts"):
            arr = check_finite(name, getattr(self, name))
            if arr.ndim != 1:
                raise TypeError(f"{name} must be a 1-D sequence of numbers, got shape {arr.shape}")
            object.__setattr__(self, name, tuple(float(v) for v in arr))
        if len(self.slopes) != len(self.breakpoints) + 1 or len(self.intercepts) != len(self.slopes):
            raise ValueError("pieces need len(slopes) == len(intercepts) == len(breakpoints) + 1")
        if any(b2 <= b1 for b1, b2 in zip(self.breakpoints, self.breakpoints[1:])):
            raise ValueError("pieces breakpoints must be strictly increasing")

    # Structural facts that select closed forms. They are read off the pieces, never off a name,
    # so a user record with the same pieces gets the same exact results.

    @property
    def is_unit_clip(self) -> bool:
        """phi is hard-tanh, ``clip(h, -1, 1)``: the closed forms of docs/theory/closed_forms.md."""
        return (self.breakpoints == (-1.0, 1.0) and self.slopes == (0.0, 1.0, 0.0)
                and self.intercepts == (-1.0, 0.0, 1.0))

    @property
    def is_homogeneous(self) -> bool:
        """``phi(c h) = c phi(h)`` for ``c > 0`` (relu, leaky relu, linear): a kink at 0 at most and
        no intercepts, so ``E[phi(sqrt(q) z)^2]`` is linear in q."""
        return all(b == 0.0 for b in self.breakpoints) and all(c == 0.0 for c in self.intercepts)

    @property
    def is_nondecreasing(self) -> bool:
        """Every slope is >= 0 (with :attr:`is_homogeneous`: phi keeps the sign of h, so at identity
        init each half-line keeps its slope in every layer)."""
        return min(self.slopes) >= 0.0

    def half_line_slopes(self) -> tuple[tuple[float, float], ...]:
        """``((slope, mass), ...)`` of a homogeneous phi, right piece first: the slope on ``h > 0``
        and on ``h < 0`` with their Gaussian mass 1/2 each, or the one slope with mass 1.

        Examples
        --------
        >>> Pieces((0.0,), (0.2, 1.0), (0.0, 0.0)).half_line_slopes()
        ((1.0, 0.5), (0.2, 0.5))
        """
        if not self.is_homogeneous:
            raise ValueError("half_line_slopes needs homogeneous pieces (breakpoint 0 at most, no intercepts)")
        if len(self.slopes) == 1:
            return ((self.slopes[0], 1.0),)
        return ((self.slopes[1], 0.5), (self.slopes[0], 0.5))

    def masses(self, q: float) -> np.ndarray:
        """``P(h in piece i)`` for ``h ~ N(0, q)``, ``q > 0``, accurate in both tails."""
        from .._core.gaussian import interval_mass

        edges = np.concatenate([[-np.inf], self.breakpoints, [np.inf]])
        return np.asarray(interval_mass(edges[:-1], edges[1:], np.sqrt(q)), dtype=np.float64)


@dataclass(frozen=True)
class GaussianForms:
    """Closed forms of Gaussian expectations of an activation (every field optional).

    With ``z ~ N(0, 1)``, ``u1 = sqrt(q) z1`` and ``u2 = sqrt(q)(c z1 + sqrt(1 - c^2) z2)``
    (equal variances ``q``, correlation ``c``); arguments arrive checked and broadcast::

        second_moment(q)           = E[phi(sqrt(q) z)^2]
        second_moment_slope(q)     = d/dq E[phi(sqrt(q) z)^2]
        derivative_moment(q, k)    = E[phi'(sqrt(q) z)^(2k)]
        covariance(q, c)           = E[phi(u1) phi(u2)]
        derivative_covariance(q, c) = E[phi'(u1) phi'(u2)]

    Mean-field theory (:mod:`rmt_idinit.random_init.meanfield`) uses a form where present and
    quadrature where it is None.
    """

    second_moment: Callable[[np.ndarray], np.ndarray] | None = None
    second_moment_slope: Callable[[np.ndarray], np.ndarray] | None = None
    derivative_moment: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    covariance: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    derivative_covariance: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if v is not None and not callable(v):
                raise TypeError(f"GaussianForms {f.name} must be callable or None, got {v!r}")


_NO_FORMS = GaussianForms()


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
        Parameters of the activation (e.g. ``negative_slope``); the built-in kernels read them in
        this order.
    kernel : int, optional
        Branch of the built-in numba kernels (a constant of :mod:`rmt_idinit._core.kernel_ids`)
        that computes this phi; None (user activations): ``phi`` and ``dphi`` are compiled by numba.
    gaussian : GaussianForms, optional
        Closed-form Gaussian expectations for mean-field theory and free probability.
    mp_step : callable, optional
        ``mp_step()``, called inside the caller's ``mpmath.workdps``, returns ``h -> (phi(h),
        phi'(h))`` on mpf numbers (constants are built at that precision). Needed by
        :mod:`rmt_idinit.precise`.
    sympy_phi : callable, optional
        ``sympy_phi(h, **params)``: phi as a sympy expression in the symbol ``h``, with the
        parameters as sympy values (see :meth:`sympy_expr`).
    torch : callable, optional
        ``torch(**kwargs)`` returns a fresh ``torch.nn.Module`` computing phi; keyword arguments are
        the module's own. Imports torch when called, not before.

    Examples
    --------
    >>> import numpy as np
    >>> from rmt_idinit.activations import Activation
    >>> softsign = Activation("softsign", lambda h: h / (1 + abs(h)), lambda h: 1 / (1 + abs(h)) ** 2)
    >>> float(softsign.dphi(np.float64(0.0)))
    1.0
    """

    name: str
    phi: Callable[[np.ndarray], np.ndarray]
    dphi: Callable[[np.ndarray], np.ndarray]
    d2phi: Callable[[np.ndarray], np.ndarray] | None = None
    pieces: Pieces | None = None
    even_decreasing_gain: bool = False
    params: Mapping[str, float] = field(default_factory=dict)
    kernel: int | None = None
    gaussian: GaussianForms = _NO_FORMS
    mp_step: Callable[[], Callable[[Any], tuple[Any, Any]]] | None = None
    sympy_phi: Callable[..., Any] | None = None
    torch: Callable[..., Any] | None = None
    _kernel_cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError("Activation name must be a non-empty string")
        for label in ("phi", "dphi"):
            if not callable(getattr(self, label)):
                raise TypeError(f"Activation {label} must be callable, got {getattr(self, label)!r}")
        for label in ("d2phi", "mp_step", "sympy_phi", "torch"):
            v = getattr(self, label)
            if v is not None and not callable(v):
                raise TypeError(f"Activation {label} must be callable or None, got {v!r}")
        if self.pieces is not None and not isinstance(self.pieces, Pieces):
            raise TypeError(f"Activation pieces must be a Pieces or None, got {self.pieces!r}")
        if not isinstance(self.gaussian, GaussianForms):
            raise TypeError(f"Activation gaussian must be a GaussianForms, got {self.gaussian!r}")
        if self.kernel is not None and (isinstance(self.kernel, bool) or not isinstance(self.kernel, int)):
            raise TypeError(f"Activation kernel must be a built-in kernel id (int) or None, got {self.kernel!r}")

    @property
    def is_piecewise_linear(self) -> bool:
        return self.pieces is not None

    @property
    def is_unit_clip(self) -> bool:
        """phi is hard-tanh (by its pieces): the hard-tanh closed forms apply."""
        return self.pieces is not None and self.pieces.is_unit_clip

    @property
    def half_lines(self) -> tuple[tuple[float, float], ...] | None:
        """``((slope, mass), ...)`` when phi is homogeneous with slopes >= 0 (relu, leaky relu with
        slope >= 0, linear), else None. Then at identity init without bias each half-line of inputs
        keeps its slope in every layer, so the J Jᵀ law is the atoms ``(sigma slope)^(2L)``
        with these masses (right piece first) and ``E[phi(h^l)^2] = sigma^(2l) q0 sum mass slope^(2l)``.
        """
        p = self.pieces
        if p is None or not (p.is_homogeneous and p.is_nondecreasing):
            return None
        return p.half_line_slopes()

    @property
    def param_array(self) -> np.ndarray:
        return np.array(list(self.params.values()) or [0.0], dtype=np.float64)

    def kernels(self) -> tuple:
        """Scalar numba functions ``(phi, dphi, d2phi, code, phi_dphi)`` of ``(code, h, p)``,
        compiled on first use (numba is imported here, not when the record is made)."""
        if "k" not in self._kernel_cache:
            from .._core import kernels as _kernels

            self._kernel_cache["k"] = (_kernels.builtin(self.kernel) if self.kernel is not None
                                       else _kernels.user(self))
        return self._kernel_cache["k"]

    def sympy_expr(self, h: Any = None, **params: Any) -> Any:
        """phi as a sympy expression in ``h`` (default the symbol ``h``), with this record's
        parameters unless overridden (e.g. by symbols).

        Examples
        --------
        >>> from rmt_idinit.activations import get_activation
        >>> get_activation("tanh").sympy_expr()
        tanh(h)
        """
        if self.sympy_phi is None:
            raise ValueError(f"activation {self.name!r} has no sympy form (sympy_phi)")
        import sympy as sp

        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise TypeError(f"activation {self.name!r} takes parameters {list(self.params) or 'none'}, got {unknown}")
        values = {k: sp.sympify(params.get(k, v)) for k, v in self.params.items()}
        return self.sympy_phi(sp.Symbol("h", real=True) if h is None else h, **values)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Activation({self.name!r}{extra})"

    def __reduce__(self):
        # Built-ins pickle by name (their lambdas do not pickle); used by process-pool sweeps.
        from .registry import ACTIVATIONS, _rebuild, get_activation

        if self.kernel is not None and self.name in ACTIVATIONS:

            return (get_activation, (self.name,), None, None, None) if not self.params else (
                _rebuild, (self.name, dict(self.params)))
        return (_from_fields, ({f.name: getattr(self, f.name) for f in fields(self) if f.init
                                and f.name != "_kernel_cache"},))


def _from_fields(kwargs: dict) -> Activation:
    kwargs = dict(kwargs)
    kwargs["params"] = dict(kwargs.get("params", {}))
    return Activation(**kwargs)
