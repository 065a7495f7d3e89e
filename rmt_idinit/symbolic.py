"""Symbolic (sympy) forms of the hard-tanh identity-initialization results.

The third precision of docs/design.md ("One result, three precisions"): the closed forms of
docs/theory/closed_forms.md and docs/theory/selection.md as sympy expressions, for display (:func:`latex`), exact manipulation, and evaluation
to any precision (``expr.evalf(50)``) or as fast functions (:func:`lambdify`).

Every function takes optional values; a parameter left as ``None`` stays the default symbol
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
from typing import Any, Iterable

import numpy as np
import sympy as sp

from ._core import checks as _checks

__all__ = [
    "SIGMA",
    "Q0",
    "DEPTH",
    "LAYER",
    "EPS",
    "KAPPA",
    "alpha",
    "alpha_complement",
    "layer_alpha",
    "jjt_law_atoms",
    "moment",
    "mean",
    "variance",
    "relative_variance",
    "hardtanh_second_moment",
    "derive_hardtanh_second_moment",
    "forward_moment",
    "q0_max",
    "sigma_range",
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


def _regimes(big: sp.Basic, small: sp.Basic, sigma: sp.Basic) -> sp.Basic:
    """``big`` for sigma > 1, ``small`` for sigma <= 1 (a Piecewise while sigma is symbolic)."""
    return sp.Piecewise((big, sigma > 1), (small, True))


def _ht_arg(sigma, q0, depth) -> sp.Basic:
    return _regimes(sigma ** (-depth) / sp.sqrt(2 * q0), 1 / (sigma * sp.sqrt(2 * q0)), sigma)


def alpha(sigma: Any = None, q0: Any = None, depth: Any = None) -> sp.Basic:
    """Hard-tanh ``alpha^L = P(lambda_L > 0)`` (docs/theory/closed_forms.md).

    ::

        alpha = erf(sigma^(-L) / sqrt(2 q0))   (sigma > 1),
        alpha = erf(1 / (sigma sqrt(2 q0)))    (sigma <= 1).

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.alpha(1, 2, sy.DEPTH)
    erf(1/2)
    """
    s, q, d = _args(sigma, q0, depth)
    return _regimes(sp.erf(s ** (-d) / sp.sqrt(2 * q)), sp.erf(1 / (s * sp.sqrt(2 * q))), s)


def alpha_complement(sigma: Any = None, q0: Any = None, depth: Any = None) -> sp.Basic:
    """``1 - alpha`` written with ``erfc`` (its evalf keeps full relative accuracy when tiny).

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.alpha_complement(1, "1/200", 1)
    erfc(10)
    """
    s, q, d = _args(sigma, q0, depth)
    return _regimes(sp.erfc(s ** (-d) / sp.sqrt(2 * q)), sp.erfc(1 / (s * sp.sqrt(2 * q))), s)


def layer_alpha(sigma: Any = None, q0: Any = None, layer: Any = None) -> sp.Basic:
    """``alpha^l`` of layer ``l`` (the symbol ``l`` by default): :func:`alpha` at depth ``l``.

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.layer_alpha(2, "1/2", 2)
    erf(1/4)
    """
    s, q, l = _args(sigma, q0, layer, "layer")
    return alpha(s, q, l)


def jjt_law_atoms(sigma: Any = None, q0: Any = None, depth: Any = None,
                  activation: str = "hardtanh", negative_slope: Any = None) -> tuple[list, list]:
    """``(atoms, weights)`` of the J Jᵀ law, in the order of ``rmt_idinit.jjt_law``.

    hard-tanh ``[sigma^(2L), 0]``, ``[alpha, 1 - alpha]``; relu ``[sigma^(2L), 0]``, ``[1/2, 1/2]``;
    leaky relu ``[sigma^(2L), (s sigma)^(2L)]``, ``[1/2, 1/2]``; linear ``[sigma^(2L)]``, ``[1]``.

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.jjt_law_atoms(activation="relu")
    ([sigma**(2*L), 0], [1/2, 1/2])
    """
    from .activations import ACTIVATIONS, get_activation

    s, q, d = _args(sigma, q0, depth)
    slope = _val(negative_slope, sp.Symbol("s", nonnegative=True), "negative_slope", "finite")
    act = get_activation(activation)
    if act.is_unit_clip:
        return [s ** (2 * d), sp.Integer(0)], [alpha(s, q, d), alpha_complement(s, q, d)]
    if act.half_lines is None or act.sympy_phi is None:
        exact = [n for n in ACTIVATIONS if get_activation(n).is_unit_clip or get_activation(n).half_lines is not None]
        raise ValueError(f"activation must be one of {', '.join(exact)}, got {activation!r}")
    # the slopes, read off the record's sympy form so that a parameter may stay a symbol
    h = sp.Symbol("h", real=True)
    phi = act.sympy_expr(h, **({"negative_slope": slope} if "negative_slope" in act.params else {}))
    slopes = [phi.subs(h, 1), -phi.subs(h, -1)][:len(act.half_lines)]
    masses = [sp.nsimplify(m) for _, m in act.half_lines]
    return [(sl * s) ** (2 * d) for sl in slopes], masses


def moment(k: Any = None, sigma: Any = None, q0: Any = None, depth: Any = None) -> sp.Basic:
    """Hard-tanh ``m_k = E[lambda^k] = alpha sigma^(2Lk)`` (k > 0; the atom at 0 adds nothing).

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.moment(2, 1, 2, 5)
    erf(1/2)
    """
    kk = _val(k, _K, "k", "positive")
    s, q, d = _args(sigma, q0, depth)
    return alpha(s, q, d) * s ** (2 * d * kk)


def mean(sigma: Any = None, q0: Any = None, depth: Any = None) -> sp.Basic:
    """Hard-tanh ``m_1 = alpha sigma^(2L)``."""
    return moment(1, sigma, q0, depth)


def variance(sigma: Any = None, q0: Any = None, depth: Any = None) -> sp.Basic:
    """Hard-tanh ``Var = m_2 - m_1^2 = alpha (1 - alpha) sigma^(4L)``, with ``1 - alpha`` as erfc.

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.variance(1, 2, 3)
    erf(1/2)*erfc(1/2)
    """
    s, q, d = _args(sigma, q0, depth)
    return alpha(s, q, d) * alpha_complement(s, q, d) * s ** (4 * d)


def relative_variance(sigma: Any = None, q0: Any = None, depth: Any = None) -> sp.Basic:
    """``Var / m_1^2 = 1/alpha - 1``, derived here by simplifying the ratio (sigma^(4L) cancels).

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.relative_variance(2, 1, 3)
    -1 + 1/erf(sqrt(2)/16)
    """
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


def forward_moment(sigma: Any = None, q0: Any = None, depth: Any = None) -> sp.Basic:
    """Hard-tanh forward second moment ``q^L = E[(x^L)^2]`` (docs/theory/closed_forms.md).

    ::

        q^L = E_ht(sigma^(2L) q0)                  (sigma > 1),
        q^L = sigma^(2(L-1)) E_ht(sigma^2 q0)      (sigma <= 1).

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.forward_moment(1, 1, 4)
    -sqrt(2)*exp(-1/2)/sqrt(pi) + 1
    """
    s, q, d = _args(sigma, q0, depth)
    return _regimes(hardtanh_second_moment(s ** (2 * d) * q),
                    s ** (2 * (d - 1)) * hardtanh_second_moment(s ** 2 * q), s)


def q0_max(sigma: Any = None, depth: Any = None, eps: Any = None) -> sp.Basic:
    """Largest input variance with dead fraction ``1 - alpha <= eps`` (docs/theory/selection.md)::

        q0 <= sigma^(-2L) / (2 erfinv(1 - eps)^2)     (sigma > 1),
        q0 <= 1 / (2 sigma^2 erfinv(1 - eps)^2)       (sigma <= 1).

    :func:`derive_q0_boundary` solves ``alpha = 1 - eps`` for this.

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.q0_max(1, 10, sy.EPS)
    1/(2*erfinv(1 - eps)**2)
    """
    s, d = _val(sigma, SIGMA, "sigma", "positive"), _val(depth, DEPTH, "depth", "depth")
    e = _val(eps, EPS, "eps", "probability")
    x = sp.erfinv(1 - e)
    return _regimes(s ** (-2 * d) / (2 * x ** 2), 1 / (2 * s ** 2 * x ** 2), s)


def sigma_range(depth: Any = None, kappa: Any = None) -> tuple[sp.Basic, sp.Basic]:
    """Gradient-scale window ``1/kappa <= sigma^(2L) <= kappa``, i.e.
    ``kappa^(-1/(2L)) <= sigma <= kappa^(1/(2L))``.

    Examples
    --------
    >>> from rmt_idinit import symbolic as sy
    >>> sy.sigma_range(5, 1024)
    (1/2, 2)
    """
    d, k = _val(depth, DEPTH, "depth", "depth"), _val(kappa, KAPPA, "kappa", "kappa")
    return k ** (-1 / (2 * d)), k ** (1 / (2 * d))


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
    >>> sy.latex(sy.sigma_range()[1])
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
