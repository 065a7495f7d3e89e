"""Symbolic (sympy) forms of the identity-initialization results (hard-tanh and the piecewise-linear built-ins).

The third precision of docs/design.md ("One result, three precisions"): the closed forms of
docs/theory/closed_forms.md and docs/theory/selection.md as sympy expressions, for display (:func:`latex`), exact manipulation, and evaluation
to any precision (``expr.evalf(50)``) or as fast functions (:func:`lambdify`).

Names and signatures are those of the float64 API and of :mod:`rmt_idinit.precise`
(``alpha(sigma, q0, depth, activation)``, ``moment(sigma, q0, depth, activation, k=...)``, ...;
docs/precisions.md has the table). Every function takes optional values; a parameter left as
``None`` stays the default symbol
(``sigma``, ``q0``, ``L``, ``l``, ``eps``, ``kappa``, with the assumptions ``sigma, q0, kappa > 0``,
``L, l`` positive integers, ``0 < eps < 1``). Numbers may be ints, floats, numpy scalars or 0-d
arrays, sympy numbers or other expressions; they are kept exact (use ``sympy.Rational`` or strings
such as ``"1/2"`` for exact input). A number, or a constant expression, goes through the same
checks as the float64 API (``sigma=-1`` raises ``ValueError: sigma must be a finite number > 0``,
``depth=2.5`` is refused); an expression with free symbols passes unchanged.

Examples
--------
>>> from rmt_idinit import symbolic as sy
>>> sy.alpha()
Piecewise((erf(sqrt(2)/(2*sqrt(q0)*sigma**L)), sigma > 1), (erf(sqrt(2)/(2*sqrt(q0)*sigma)), True))
>>> sy.alpha(2, "1/2", 3)
erf(1/8)
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import numpy as np
import sympy as sp

from ._core import checks as _checks
from ._core import deprecation as _deprecation

__all__ = [
    "SIGMA",
    "Q0",
    "DEPTH",
    "LAYER",
    "EPS",
    "KAPPA",
    "alpha",
    "alpha_complement",
    "log_alpha_complement",
    "layer_alphas",
    "atoms",
    "log_atoms",
    "weights",
    "moment",
    "log_moment",
    "mean",
    "var",
    "relative_variance",
    "hardtanh_second_moment",
    "derive_hardtanh_second_moment",
    "forward_moments",
    "max_q0",
    "sigma_window",
    "derive_q0_boundary",
    "latex",
    "lambdify",
]

SIGMA = sp.Symbol("sigma", positive=True)
Q0 = sp.Symbol("q0", positive=True)
DEPTH = sp.Symbol("L", integer=True, positive=True)
LAYER = sp.Symbol("l", integer=True, positive=True)
EPS = sp.Symbol("eps", positive=True)
KAPPA = sp.Symbol("kappa", positive=True)
_Q = sp.Symbol("q", positive=True)
_K = sp.Symbol("k", positive=True)


def _val(value: Any, default: sp.Basic, name: str | None = None, kind: str = "any") -> sp.Basic:
    """``value`` as a sympy expression (``default`` for None), checked like the float64 API.

    A number (or a constant expression such as ``sqrt(2)`` or ``"1/2"``) must satisfy the same
    rule as in :mod:`rmt_idinit._core.checks` (``kind``: ``"positive"``, ``"depth"``, ``"probability"``,
    ``"finite"``, ``"kappa"``); an expression with free symbols passes unchanged. Arrays, lists,
    complex numbers and unparsable strings raise TypeError naming the parameter.
    """
    if value is None:
        return default
    label = name or "value"
    if isinstance(value, np.ndarray):
        if value.ndim != 0:
            raise TypeError(f"{label} must be a single number or sympy expression, got an array of shape {value.shape}")
        value = value.item()
    if isinstance(value, (list, tuple, dict, set)):
        raise TypeError(f"{label} must be a single number or sympy expression, got {type(value).__name__}")
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{label} must be a number or sympy expression, not a boolean")
    try:
        expr = sp.sympify(value)
    except (sp.SympifyError, TypeError, ValueError, SyntaxError) as exc:
        raise TypeError(f"{label} must be a number or sympy expression, got {value!r}") from exc
    if not isinstance(expr, sp.Expr) or isinstance(expr, sp.MatrixBase):
        raise TypeError(f"{label} must be a number or sympy expression, got {type(expr).__name__}")
    if kind == "any" or expr.free_symbols:
        return expr
    if expr.has(sp.nan, sp.zoo):
        raise ValueError(f"{label} must be a finite number, got {expr}")
    if expr.has(sp.oo, -sp.oo):
        num = float(expr) if expr.is_extended_real else complex(expr)
    else:
        try:
            num = complex(sp.N(expr, 30))
        except OverflowError:  # beyond double range: only the sign matters to the checks
            num = math.inf if sp.N(expr, 30) > 0 else -math.inf
    if isinstance(num, complex):
        if num.imag != 0:
            raise TypeError(f"{label} must be real, got {expr}")
        num = num.real
    if kind == "depth":
        _checks.check_int(label, num if expr.is_integer is not True else int(expr), minimum=1)
        return sp.Integer(int(expr)) if expr.is_integer else sp.Integer(int(num))
    checks = {"positive": _checks.check_positive, "finite": _checks.check_finite,
              "probability": _checks.check_probability, "kappa": _kappa}
    checks[kind](label, num)
    return expr


def _expr(expr: Any) -> sp.Basic:
    try:
        out = sp.sympify(expr)
    except (sp.SympifyError, TypeError, ValueError, SyntaxError) as exc:
        raise TypeError(f"expr must be a sympy expression, got {type(expr).__name__}") from exc
    if not isinstance(out, sp.Basic):
        raise TypeError(f"expr must be a sympy expression, got {type(expr).__name__}")
    return out


def _kappa(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 1):
        raise ValueError(f"{name} must be a finite number > 1, got {value!r}")


def _args(sigma, q0, depth, depth_name="depth"):
    return (_val(sigma, SIGMA, "sigma", "positive"), _val(q0, Q0, "q0", "positive"),
            _val(depth, DEPTH if depth_name == "depth" else LAYER, depth_name, "depth"))


def _regimes(big: Callable[[], sp.Basic], small: Callable[[], sp.Basic], sigma: sp.Basic) -> sp.Basic:
    """``big()`` for sigma > 1, ``small()`` for sigma <= 1 (a Piecewise while sigma is symbolic).

    Only the branch that applies is built when sigma is a number: the other one can be far outside
    any float range (``erfc(0.5^-100000)``), where sympy's automatic evaluation would overflow.
    """
    cond = sigma > 1
    if cond is sp.true:
        return big()
    if cond is sp.false:
        return small()
    return sp.Piecewise((big(), cond), (small(), True))


_SLOPE = sp.Symbol("s", nonnegative=True)


def _exact_names() -> list[str]:
    from .activations import ACTIVATIONS, get_activation

    return [n for n in ACTIVATIONS if get_activation(n).is_unit_clip or get_activation(n).half_lines is not None]


def _activation(activation: Any, negative_slope: Any) -> tuple[Any, sp.Basic]:
    """``(record, slope)`` of an activation with closed forms: the unit clip (hard-tanh) or a
    homogeneous nondecreasing piecewise-linear record (relu, leaky relu, linear, or a user record
    with such pieces). A ``negative_slope`` parameter defaults to the symbol ``s`` (or the record's
    own value)."""
    from .activations import Activation, get_activation

    name = getattr(activation, "name", activation)
    try:
        act = activation if isinstance(activation, Activation) else get_activation(name)
    except (TypeError, ValueError):
        act = None
    if act is None or not (act.is_unit_clip or (act.half_lines is not None and act.sympy_phi is not None)):
        raise ValueError(f"activation must be one of {', '.join(_exact_names())}, got {activation!r}")
    if negative_slope is None and isinstance(activation, Activation):
        negative_slope = activation.params.get("negative_slope")
    return act, _val(negative_slope, _SLOPE, "negative_slope", "finite")


def _half_lines(act: Any, slope: sp.Basic) -> list[tuple[sp.Basic, sp.Basic]]:
    """``[(slope, mass), ...]`` of a homogeneous record, the slopes read off its sympy form so that
    a parameter may stay a symbol."""
    h = sp.Symbol("h", real=True)
    phi = act.sympy_expr(h, **({"negative_slope": slope} if "negative_slope" in act.params else {}))
    slopes = [phi.subs(h, 1), -phi.subs(h, -1)][:len(act.half_lines)]
    return [(sl, sp.nsimplify(m)) for sl, (_, m) in zip(slopes, act.half_lines)]


def _law(sigma, q0, depth, activation, negative_slope) -> tuple[list, list, sp.Basic]:
    """``(atoms, weights, sigma)`` of the J Jᵀ law, in the order of ``rmt_idinit.jjt_law``."""
    act, slope = _activation(activation, negative_slope)
    s, q, d = _args(sigma, q0, depth)
    if act.is_unit_clip:
        return [s ** (2 * d), sp.Integer(0)], [_erf_regimes(s, q, d), _erfc_regimes(s, q, d)], s
    lines = _half_lines(act, slope)
    return [(sl * s) ** (2 * d) for sl, _ in lines], [m for _, m in lines], s


def _erf_regimes(s, q, d) -> sp.Basic:
    return _regimes(lambda: sp.erf(s ** (-d) / sp.sqrt(2 * q)), lambda: sp.erf(1 / (s * sp.sqrt(2 * q))), s)


def _erfc_regimes(s, q, d) -> sp.Basic:
    return _regimes(lambda: sp.erfc(s ** (-d) / sp.sqrt(2 * q)), lambda: sp.erfc(1 / (s * sp.sqrt(2 * q))), s)


def _layers(depth: sp.Basic, layers: Any) -> list[sp.Basic]:
    """Layers ``1..depth`` for an integer depth; ``[depth]`` for a symbolic one (it has no list)."""
    if layers is not None:
        if isinstance(layers, (str, bytes)) or not isinstance(layers, Iterable):
            raise TypeError(f"layers must be a sequence of integers >= 1, got {layers!r}")
        out = [_val(l, LAYER, "layers", "depth") for l in layers]
        if depth.is_Integer and any(l.is_Integer and l > depth for l in out):
            raise ValueError(f"layers must be integers in [1, {depth}], got {max(l for l in out if l.is_Integer)}")
        return out
    if depth.is_Integer:
        _checks.check_memory(200.0 * int(depth), f"depth={int(depth)} (one sympy expression per layer)")
        return [sp.Integer(l) for l in range(1, int(depth) + 1)]
    return [depth]


def alpha(sigma: Any = None, q0: Any = None, depth: Any = None, activation: str = "hardtanh", *,
          negative_slope: Any = None) -> sp.Basic:
    """``alpha^L = P(lambda_L > 0)``, the weight of the nonzero part of the law (docs/theory/closed_forms.md).

    ::

        hard-tanh: alpha = erf(sigma^(-L) / sqrt(2 q0))   (sigma > 1),
                   alpha = erf(1 / (sigma sqrt(2 q0)))    (sigma <= 1);
        relu 1/2, leaky relu 1/2 (slope 0) or 1, linear 1.

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.alpha(1, 2, sy.DEPTH)
    erf(1/2)
    >>> sy.alpha(activation="relu")
    1/2
    """
    act, slope = _activation(activation, negative_slope)
    s, q, d = _args(sigma, q0, depth)
    if act.is_unit_clip:
        return _erf_regimes(s, q, d)
    # the mass of the half-lines whose slope is not 0 (a symbolic slope may be 0)
    total = sp.Integer(0)
    for sl, m in _half_lines(act, slope):
        if sl.is_zero:
            continue
        total += m if sl.is_zero is False else sp.Piecewise((0, sp.Eq(sl, 0)), (m, True))
    return sp.piecewise_fold(total)


def alpha_complement(sigma: Any = None, q0: Any = None, depth: Any = None, activation: str = "hardtanh", *,
                     negative_slope: Any = None) -> sp.Basic:
    """``1 - alpha``, the mass of the atom at 0; hard-tanh written with ``erfc`` (its evalf keeps
    full relative accuracy when tiny).

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.alpha_complement(1, "1/200", 1)
    erfc(10)
    """
    act, _ = _activation(activation, negative_slope)
    s, q, d = _args(sigma, q0, depth)
    if act.is_unit_clip:
        return _erfc_regimes(s, q, d)
    return 1 - alpha(s, q, d, activation, negative_slope=negative_slope)


def log_alpha_complement(sigma: Any = None, q0: Any = None, depth: Any = None, activation: str = "hardtanh", *,
                         negative_slope: Any = None) -> sp.Basic:
    """``log(1 - alpha)`` (evalf is finite where ``1 - alpha`` underflows double).

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.log_alpha_complement(1, "1/200", 1)
    log(erfc(10))
    """
    return sp.log(alpha_complement(sigma, q0, depth, activation, negative_slope=negative_slope))


def layer_alphas(sigma: Any = None, q0: Any = None, depth: Any = None, activation: str = "hardtanh", *,
                 negative_slope: Any = None) -> list[sp.Basic]:
    """``[alpha^1, ..., alpha^depth]`` for an integer depth (``[alpha^L]`` for a symbolic one;
    ``alpha(sigma, q0, LAYER)`` is layer ``l`` as an expression).

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.layer_alphas(2, "1/2", 2)
    [erf(1/2), erf(1/4)]
    """
    s, q, d = _args(sigma, q0, depth)
    return [alpha(s, q, l, activation, negative_slope=negative_slope) for l in _layers(d, None)]


def atoms(sigma: Any = None, q0: Any = None, depth: Any = None, activation: str = "hardtanh", *,
          negative_slope: Any = None) -> list[sp.Basic]:
    """The atoms of the J Jᵀ law, in the order of ``rmt_idinit.jjt_law(...).atoms``.

    Hard-tanh and relu ``[sigma^(2L), 0]``; leaky relu ``[sigma^(2L), (s sigma)^(2L)]``; linear
    ``[sigma^(2L)]``.

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.atoms(activation="leaky_relu")
    [sigma**(2*L), (s*sigma)**(2*L)]
    """
    return _law(sigma, q0, depth, activation, negative_slope)[0]


def log_atoms(sigma: Any = None, q0: Any = None, depth: Any = None, activation: str = "hardtanh", *,
              negative_slope: Any = None) -> list[sp.Basic]:
    """``log`` of :func:`atoms` (``2 L log sigma``; ``-oo`` for an atom at 0).

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.log_atoms()
    [2*L*log(sigma), -oo]
    """
    out = []
    for a in _law(sigma, q0, depth, activation, negative_slope)[0]:
        out.append(-sp.oo if a == 0 else sp.expand_log(sp.log(a), force=True))
    return out


def weights(sigma: Any = None, q0: Any = None, depth: Any = None, activation: str = "hardtanh", *,
            negative_slope: Any = None) -> list[sp.Basic]:
    """The weights of :func:`atoms`: hard-tanh ``[alpha, 1 - alpha]`` (erf, erfc), relu and leaky
    relu ``[1/2, 1/2]``, linear ``[1]``.

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.weights(2, "1/2", 3)
    [erf(1/8), erfc(1/8)]
    """
    return _law(sigma, q0, depth, activation, negative_slope)[1]


@_deprecation.leading_operand("symbolic.moment", "k")
def moment(sigma: Any = None, q0: Any = None, depth: Any = None, activation: str = "hardtanh", *,
           k: Any = None, negative_slope: Any = None) -> sp.Basic:
    """``m_k = E[lambda^k] = sum_i w_i a_i^k`` (k > 0, the symbol ``k`` by default; the atom at 0
    adds nothing). Hard-tanh: ``alpha sigma^(2Lk)``.

    ``k`` is keyword-only; for one release a call with positional arguments and no ``k=`` is read
    in the old order ``moment(k, sigma, q0, depth)`` (with a DeprecationWarning).

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.moment(1, 2, 5, k=2)
    erf(1/2)
    """
    kk = _val(k, _K, "k", "positive")
    a, w, s = _law(sigma, q0, depth, activation, negative_slope)
    if getattr(activation, "name", activation) == "hardtanh":
        return w[0] * a[0] ** kk
    return sp.Add(*[wi * ai ** kk for ai, wi in zip(a, w) if ai != 0])


@_deprecation.leading_operand("symbolic.log_moment", "k")
def log_moment(sigma: Any = None, q0: Any = None, depth: Any = None, activation: str = "hardtanh", *,
               k: Any = None, negative_slope: Any = None) -> sp.Basic:
    """``log E[lambda^k]``; hard-tanh ``log(alpha) + 2 L k log(sigma)``.

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.log_moment(1, 2, 5, k=2)
    log(erf(1/2))
    """
    return sp.expand_log(sp.log(moment(sigma, q0, depth, activation, k=k, negative_slope=negative_slope)),
                         force=True)


def mean(sigma: Any = None, q0: Any = None, depth: Any = None, activation: str = "hardtanh", *,
         negative_slope: Any = None) -> sp.Basic:
    """``m_1 = E[lambda]``; hard-tanh ``alpha sigma^(2L)``.

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.mean(1, 2, 5, "relu")
    1/2
    """
    return moment(sigma, q0, depth, activation, k=1, negative_slope=negative_slope)


def var(sigma: Any = None, q0: Any = None, depth: Any = None, activation: str = "hardtanh", *,
        negative_slope: Any = None) -> sp.Basic:
    """``Var[lambda] = sum_i w_i (a_i - m_1)^2``; hard-tanh ``alpha (1 - alpha) sigma^(4L)``, with
    ``1 - alpha`` as erfc.

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.var(1, 2, 3)
    erf(1/2)*erfc(1/2)
    """
    a, w, s = _law(sigma, q0, depth, activation, negative_slope)
    if getattr(activation, "name", activation) == "hardtanh":
        return w[0] * w[1] * a[0] ** 2
    m = sp.Add(*[wi * ai for ai, wi in zip(a, w)])
    return sp.factor(sp.Add(*[wi * (ai - m) ** 2 for ai, wi in zip(a, w)]))


def relative_variance(sigma: Any = None, q0: Any = None, depth: Any = None, activation: str = "hardtanh", *,
                      negative_slope: Any = None) -> sp.Basic:
    """``Var / m_1^2``, derived here by simplifying the ratio; hard-tanh ``1/alpha - 1``
    (``sigma^(4L)`` cancels).

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.relative_variance(2, 1, 3)
    -1 + 1/erf(sqrt(2)/16)
    """
    act, _ = _activation(activation, negative_slope)
    if not act.is_unit_clip:
        ratio = var(sigma, q0, depth, activation, negative_slope=negative_slope) / mean(
            sigma, q0, depth, activation, negative_slope=negative_slope) ** 2
        return sp.simplify(ratio)
    s, q, d = _args(sigma, q0, depth)
    a = sp.Dummy("a", positive=True)
    ratio = sp.simplify((a * (1 - a) * s ** (4 * d)) / (a * s ** (2 * d)) ** 2)
    return sp.expand(ratio).subs(a, alpha(s, q, d))


def hardtanh_second_moment(q: Any = None) -> sp.Basic:
    """``E_ht(q) = E[clip(sqrt(q) z, -1, 1)^2] = (q - 1) erf(1/sqrt(2q)) - sqrt(2q/pi) exp(-1/(2q)) + 1``.

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.hardtanh_second_moment(1)
    -sqrt(2)*exp(-1/2)/sqrt(pi) + 1
    """
    qq = _val(q, _Q, "q", "positive")
    return (qq - 1) * sp.erf(1 / sp.sqrt(2 * qq)) - sp.sqrt(2 * qq / sp.pi) * sp.exp(-1 / (2 * qq)) + 1


def derive_hardtanh_second_moment() -> sp.Basic:
    """Derive ``E_ht(q)`` by integrating ``min(q z^2, 1) N(z; 0, 1)`` with sympy (a check of the form).

    ``2 int_0^c q z^2 phi(z) dz + 2 int_c^oo phi(z) dz`` with ``c = 1/sqrt(q)``.

    Examples
    --------
    >>> import sympy as sp
    >>> from rmt_idinit import symbolic as sy
    >>> sp.simplify(sy.derive_hardtanh_second_moment() - sy.hardtanh_second_moment()) == 0
    True
    """
    z = sp.Symbol("z", real=True)
    pdf = sp.exp(-z ** 2 / 2) / sp.sqrt(2 * sp.pi)
    c = 1 / sp.sqrt(_Q)
    inner = sp.integrate(_Q * z ** 2 * pdf, (z, 0, c))
    outer = sp.integrate(pdf, (z, c, sp.oo))
    return sp.simplify(2 * inner + 2 * outer)


def _forward_moment(act, slope, s, q, l) -> sp.Basic:
    if act.is_unit_clip:
        return _regimes(lambda: hardtanh_second_moment(s ** (2 * l) * q),
                        lambda: s ** (2 * (l - 1)) * hardtanh_second_moment(s ** 2 * q), s)
    # each half-line of inputs keeps its slope in every layer: sum of mass * slope^(2l)
    factor = sum((m * sl ** (2 * l) for sl, m in _half_lines(act, slope)), sp.Integer(0))
    return s ** (2 * l) * q * factor


def forward_moments(sigma: Any = None, q0: Any = None, depth: Any = None, activation: str = "hardtanh", *,
                    layers: Any = None, negative_slope: Any = None) -> list[sp.Basic]:
    """Forward second moments ``q^l = E[(x^l)^2]`` for ``l = 1..depth`` (or ``layers``) (docs/theory/closed_forms.md)::

        hard-tanh: q^l = E_ht(sigma^(2l) q0)                  (sigma > 1),
                   q^l = sigma^(2(l-1)) E_ht(sigma^2 q0)      (sigma <= 1);
        relu sigma^(2l) q0 / 2;  leaky relu sigma^(2l) q0 (1 + s^(2l))/2;  linear sigma^(2l) q0.

    A symbolic depth has no list of layers: the result is ``[q^L]`` (as with ``layers=[depth]``).

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.forward_moments(1, 1, 4, layers=[4])
    [-sqrt(2)*exp(-1/2)/sqrt(pi) + 1]
    >>> sy.forward_moments(2, 1, 2, "relu")
    [2, 8]
    """
    act, slope = _activation(activation, negative_slope)
    s, q, d = _args(sigma, q0, depth)
    return [_forward_moment(act, slope, s, q, l) for l in _layers(d, layers)]


def max_q0(sigma: Any = None, depth: Any = None, activation: str = "hardtanh", *, eps: Any = None) -> sp.Basic:
    """Largest input variance with dead fraction ``1 - alpha <= eps`` (hard-tanh, docs/theory/selection.md)::

        q0 <= sigma^(-2L) / (2 erfinv(1 - eps)^2)     (sigma > 1),
        q0 <= 1 / (2 sigma^2 erfinv(1 - eps)^2)       (sigma <= 1).

    :func:`derive_q0_boundary` solves ``alpha = 1 - eps`` for this.

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.max_q0(1, 10, eps=sy.EPS)
    1/(2*erfinv(1 - eps)**2)
    """
    act, _ = _activation(activation, None)
    if not act.is_unit_clip:
        raise ValueError(f"activation must be hardtanh for the closed-form max_q0, got {activation!r}")
    s, d = _val(sigma, SIGMA, "sigma", "positive"), _val(depth, DEPTH, "depth", "depth")
    e = _val(eps, EPS, "eps", "probability")
    x = sp.erfinv(1 - e)
    return _regimes(lambda: s ** (-2 * d) / (2 * x ** 2), lambda: 1 / (2 * s ** 2 * x ** 2), s)


def sigma_window(depth: Any = None, *, kappa: Any = None) -> tuple[sp.Basic, sp.Basic]:
    """Gradient-scale window ``1/kappa <= sigma^(2L) <= kappa``, i.e.
    ``kappa^(-1/(2L)) <= sigma <= kappa^(1/(2L))``.

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.sigma_window(5, kappa=1024)
    (1/2, 2)
    """
    d, k = _val(depth, DEPTH, "depth", "depth"), _val(kappa, KAPPA, "kappa", "kappa")
    return k ** (-1 / (2 * d)), k ** (1 / (2 * d))


# --- deprecated spellings (one release) -------------------------------------------------------

def _old_layer_alpha(target, sigma=None, q0=None, layer=None):
    s, q, l = _args(sigma, q0, layer, "layer")
    return target(s, q, l)


def _old_forward_moment(target, sigma=None, q0=None, depth=None):
    s, q, d = _args(sigma, q0, depth)
    return target(s, q, d, layers=[d])[0]


def _old_jjt_law_atoms(target, sigma=None, q0=None, depth=None, activation="hardtanh", negative_slope=None):
    a, w, _ = _law(sigma, q0, depth, activation, negative_slope)
    return a, w


layer_alpha = _deprecation.renamed("rmt_idinit.symbolic.layer_alpha", "symbolic.alpha(sigma, q0, layer)",
                                   alpha, adapt=_old_layer_alpha)
variance = _deprecation.renamed("rmt_idinit.symbolic.variance", "symbolic.var", var)
forward_moment = _deprecation.renamed("rmt_idinit.symbolic.forward_moment",
                                      "symbolic.forward_moments(sigma, q0, depth, layers=[depth])[0]",
                                      forward_moments, adapt=_old_forward_moment)
def _old_q0_max(target, sigma=None, depth=None, eps=None, activation="hardtanh"):
    return target(sigma, depth, activation, eps=eps)


def _old_sigma_range(target, depth=None, kappa=None):
    return target(depth, kappa=kappa)


q0_max = _deprecation.renamed("rmt_idinit.symbolic.q0_max", "symbolic.max_q0(sigma, depth, activation, *, eps)",
                              max_q0, adapt=_old_q0_max)
sigma_range = _deprecation.renamed("rmt_idinit.symbolic.sigma_range", "symbolic.sigma_window(depth, *, kappa)",
                                   sigma_window, adapt=_old_sigma_range)
jjt_law_atoms = _deprecation.renamed("rmt_idinit.symbolic.jjt_law_atoms",
                                     "symbolic.atoms(...) and symbolic.weights(...)", atoms,
                                     adapt=_old_jjt_law_atoms)


def derive_q0_boundary(regime: str = "sigma > 1") -> dict[str, Any]:
    """Solve ``alpha = 1 - eps`` for ``q0`` with sympy, exposing each step.

    Steps: ``erf(x) = 1 - eps`` is solved for ``x`` (``solveset`` over the reals gives
    ``erfinv(1 - eps)``); then ``x = sigma^(-m)/sqrt(2 q0)`` (m = L for sigma > 1, m = 1 for
    sigma <= 1) is solved for ``q0``. Since ``alpha`` decreases in ``q0``, ``alpha >= 1 - eps``
    holds exactly for ``q0 <= boundary``; ``monotone`` holds the sign of ``d alpha / d q0``.

    Parameters
    ----------
    regime : {"sigma > 1", "sigma <= 1"}

    Returns
    -------
    dict
        ``equation`` (alpha = 1 - eps), ``x_solution`` (the erf argument), ``boundary`` (q0),
        ``monotone`` (d alpha/d q0, negative), ``inequality`` (q0 <= boundary).

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> d = sy.derive_q0_boundary()
    >>> d["boundary"]
    1/(2*sigma**(2*L)*erfinv(1 - eps)**2)
    >>> sy.derive_q0_boundary("sigma <= 1")["boundary"]
    1/(2*sigma**2*erfinv(1 - eps)**2)
    """
    if regime not in ("sigma > 1", "sigma <= 1"):
        raise ValueError(f"regime must be 'sigma > 1' or 'sigma <= 1', got {regime!r}")
    m = DEPTH if regime == "sigma > 1" else sp.Integer(1)
    x = sp.Symbol("x", positive=True)
    alpha_of_x = sp.erf(x)
    equation = sp.Eq(alpha_of_x, 1 - EPS)
    sols = sp.solveset(equation, x, domain=sp.S.Reals)
    if isinstance(sols, sp.FiniteSet) and len(sols) == 1:
        x_solution = next(iter(sols))
    else:  # older sympy: fall back to solve, which knows erf's inverse
        x_solution = sp.solve(equation, x)[0]
    arg = SIGMA ** (-m) / sp.sqrt(2 * Q0)
    boundary = sp.solve(sp.Eq(arg, x_solution), Q0)
    if len(boundary) != 1:
        raise RuntimeError(f"expected one solution for q0, sympy found {boundary}")  # pragma: no cover
    boundary = sp.simplify(boundary[0])
    monotone = sp.simplify(sp.diff(sp.erf(arg), Q0))
    return {
        "equation": sp.Eq(sp.erf(arg), 1 - EPS),
        "x_solution": x_solution,
        "boundary": boundary,
        "monotone": monotone,
        "inequality": sp.Le(Q0, boundary),
    }


def latex(expr: Any, **options: Any) -> str:
    """LaTeX of an expression (``sympy.latex``, with ``sigma``, ``kappa``, ``eps`` as Greek letters).

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.latex(sy.sigma_window()[1])
    '\\\\kappa^{\\\\frac{1}{2 L}}'
    """
    names = {EPS: r"\varepsilon", Q0: "q_0"}
    names.update(options.pop("symbol_names", {}))
    return sp.latex(_expr(expr), symbol_names=names, **options)


def lambdify(expr: Any, args: Iterable[sp.Symbol] | None = None, modules: Any = "mpmath"):
    """``sympy.lambdify`` with the free symbols, sorted by name, as default arguments.

    ``modules="mpmath"`` (default) gives arbitrary precision; ``"scipy"``/``"numpy"`` vectorize.

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> f = sy.lambdify(sy.alpha(), [sy.SIGMA, sy.Q0, sy.DEPTH], modules="scipy")
    >>> round(float(f(1.02, 0.1, 50)), 6)
    0.759955
    """
    expr = _expr(expr)
    if args is None:
        args = sorted(expr.free_symbols, key=lambda s: s.name)
    elif isinstance(args, (str, bytes)) or not isinstance(args, Iterable) or not all(
            isinstance(a, sp.Symbol) for a in args):
        raise TypeError(f"args must be a sequence of sympy Symbols (e.g. [sy.SIGMA, sy.Q0]), got {args!r}")
    return sp.lambdify(list(args), expr, modules=modules)
