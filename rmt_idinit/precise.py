"""Arbitrary-precision references (mpmath) for the identity-initialization laws.

The float64 functions of :mod:`rmt_idinit.identity` have counterparts here that compute the same
quantities with mpmath at any number of digits (``dps=50`` by default), like mpmath's ``fp``/``mp``
contexts (docs/design.md, "One result, three precisions"). They are the independent references the
tests hold the float64 code against, so nothing here calls the float64 numerics: the closed forms
of docs/theory/closed_forms.md are re-evaluated in mpmath, and for any activation the scalar map of section
2 is iterated in mpmath and integrated against the Gaussian with :func:`mpmath.quad`.

Conventions
-----------
* Scalars in, ``mpmath.mpf`` out (lists of mpf for per-layer or per-atom results). Python ints,
  floats (taken exactly, bit for bit), numpy scalars and mpf are accepted; arrays are not.
* Names and signatures are those of the float64 API (docs/precisions.md has the table):
  ``(sigma, q0, depth, activation, *, options)``, with the moment order keyword-only
  (``moment(sigma, q0, depth, activation, k=2)``) and ``dps=`` as the one extra option.
* Every function takes ``dps`` and works inside a local ``mpmath.workdps(dps)``; the global
  ``mpmath.mp.dps`` is never changed. Results are mpf numbers rounded to ``dps`` digits.
* Bad parameters raise the same ``ValueError``/``TypeError`` (same messages) as the float64 API,
  through :mod:`rmt_idinit._core.checks`.
* Atoms at 0 have ``log_atom = -inf`` (``mpmath.ninf``), as in :class:`rmt_idinit.SpectralLaw`.

Examples
--------
>>> from rmt_idinit import precise
>>> import mpmath
>>> mpmath.nstr(precise.alpha(1.02, 0.1, 50, dps=30), 20)
'0.75995499980576942048'
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Sequence

import mpmath
import numpy as np

from ._core import checks as _checks
from ._core import deprecation as _deprecation
from .activations import ACTIVATIONS, Activation, get_activation

__all__ = [
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
    "hardtanh_second_moment",
    "forward_moments",
    "jjt_eigenvalues",
    "log_gain",
    "jjt_moment",
    "jjt_moments",
    "max_q0",
    "sigma_window",
]



def _has_exact_atoms(act: Activation) -> bool:
    """Identity-init laws with exact atoms: hard-tanh and the homogeneous rectifiers."""
    return act.is_unit_clip or act.half_lines is not None


def _exact_names() -> str:
    return ", ".join(n for n in ACTIVATIONS if _has_exact_atoms(get_activation(n)))


# --- parameter handling -----------------------------------------------------------------------

def _to_mpf(name: str, value: Any, check: Callable[[str, Any], np.ndarray]) -> mpmath.mpf:
    """Validate one scalar with the float64 API's check, then convert it exactly to mpf.

    mpf inputs keep all their digits (a float64 round trip would lose them); they are checked
    against the same rule and message.
    """
    if isinstance(value, mpmath.mpf):
        # an mpf may lie beyond double range: check a proxy with its sign, report the real value
        proxy = float(mpmath.sign(value)) if mpmath.isfinite(value) else float(value)
        try:
            check(name, proxy)
        except ValueError as exc:
            raise ValueError(f"{str(exc).rsplit(', got ', 1)[0]}, got {value}") from None
        return +value  # round to the working precision of the caller's context
    arr = check(name, value)
    if arr.ndim != 0:
        raise TypeError(f"{name} must be a scalar in rmt_idinit.precise, got an array of shape {arr.shape}")
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return mpmath.mpf(int(value))
    return mpmath.mpf(float(arr))  # a double converts exactly


def _depth(value: Any, name: str = "depth") -> int:
    return _checks.check_scalar_int(name, value, minimum=1)


#: Largest working precision accepted. An mpf of 10**5 digits is ~40 KB and one multiplication
#: of two already takes ~1 ms, so a single depth-100 quadrature would run for hours; beyond this
#: a request is a mistake (``dps=10**9`` would need gigabytes per number), refused up front.
MAX_DPS = 100_000

_METHODS = ("gauss-legendre", "tanh-sinh")


def _dps(dps: Any) -> int:
    return _checks.check_scalar_int("dps", dps, minimum=1, maximum=MAX_DPS)


def _activation(activation: str | Activation, params: dict) -> Activation:
    act = get_activation(activation, **params)
    if act.mp_step is None:
        raise TypeError(
            f"rmt_idinit.precise needs the mpmath form of the activation (Activation.mp_step); "
            f"the activation {act.name!r} has none")
    return act


# --- activations in mpmath --------------------------------------------------------------------

def _mp_step(act: Activation) -> Callable:
    """``h -> (phi(h), phi'(h))`` in mpmath, from the record (its constants at the caller's precision)."""
    return act.mp_step()


def _mp_activation(act: Activation) -> tuple[Callable, Callable]:
    """``(phi, dphi)`` as separate mpmath functions."""
    step = _mp_step(act)
    return (lambda h: step(h)[0]), (lambda h: step(h)[1])


# --- hard-tanh closed forms -------------------------------------------------------------------

def _ht_arg(sigma: mpmath.mpf, q0: mpmath.mpf, depth: int) -> mpmath.mpf:
    m = depth if sigma > 1 else 1
    return sigma ** (-m) / mpmath.sqrt(2 * q0)


def _alpha_pair(sigma, q0, depth, activation, params, dps):
    """(alpha, 1 - alpha) as mpf, each computed directly (erf / erfc), no subtraction."""
    act = _activation(activation, params)
    with mpmath.workdps(_dps(dps)):
        s = _to_mpf("sigma", sigma, _checks.check_positive)
        q = _to_mpf("q0", q0, _checks.check_positive)
        d = _depth(depth)
        if act.is_unit_clip:
            x = _ht_arg(s, q, d)
            return +mpmath.erf(x), +mpmath.erfc(x)
        if act.half_lines is not None:
            # a half-line with slope 0 dies in the first layer; the other ones never do
            dead = mpmath.fsum(mpmath.mpf(m) for slope, m in act.half_lines if slope == 0)
            return 1 - dead, dead
        if act.pieces is not None:
            raise ValueError(f"activation must be one of {_exact_names()} or smooth for the exact alpha, "
                             f"got the piecewise-linear {act.name!r}")
        # smooth: the gain vanishes on a null set at most
        return mpmath.mpf(1), mpmath.mpf(0)


def alpha(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh", *,
          dps: int = 50, **activation_params: float) -> mpmath.mpf:
    """``P(lambda_L > 0)``, the weight of the nonzero part of the J Jᵀ law, as an mpf.

    Hard-tanh (docs/theory/closed_forms.md)::

        alpha = erf(sigma^(-L) / sqrt(2 q0))   (sigma > 1),
        alpha = erf(sigma^(-1) / sqrt(2 q0))   (sigma <= 1).

    relu (and leaky relu with slope 0) give 1/2; leaky relu, linear and smooth activations give 1.

    Parameters
    ----------
    sigma, q0 : real scalar
        Identity scale and input variance, finite and > 0. Floats are taken exactly; pass an mpf
        (or a string through ``mpmath.mpf``) for a value that is not a double.
    depth : int
        Number of layers L >= 1.
    activation : str or Activation
        A built-in or any activation whose record has an mpmath form (``Activation.mp_step``).
    dps : int
        Decimal digits of the working precision.

    Returns
    -------
    mpmath.mpf

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> mpmath.nstr(precise.alpha(0.9, 1.0, 7), 15)  # sigma <= 1: alpha^1 at every depth
    '0.733479474194989'
    """
    return _alpha_pair(sigma, q0, depth, activation, activation_params, dps)[0]


def alpha_complement(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh", *,
                     dps: int = 50, **activation_params: float) -> mpmath.mpf:
    """``1 - alpha`` (mass of the atom at 0) as an mpf, from ``erfc`` directly.

    mpmath's exponent range is unbounded, so values far below 1e-308 are represented.

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> mpmath.nstr(precise.alpha_complement(1.0, 1e-4, 1), 10)
    '2.688358153e-2174'
    """
    return _alpha_pair(sigma, q0, depth, activation, activation_params, dps)[1]


def log_alpha_complement(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh", *,
                         dps: int = 50, **activation_params: float) -> mpmath.mpf:
    """``log(1 - alpha)`` as an mpf (``-inf`` where the complement is exactly 0).

    ``log(erfc(x))`` where alpha is large, ``log1p(-erf(x))`` where it is small: a complement
    within ``10^-dps`` of 1 (deep nets with sigma > 1, alpha ~ sigma^-L) would round to 1 and its
    log to 0, where the answer is ``-alpha``.

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> mpmath.nstr(precise.log_alpha_complement(1.0, 1e-4, 1), 12)
    '-5004.83106151'
    >>> mpmath.nstr(precise.log_alpha_complement(2.0, 1.0, 200), 12)  # -erf(2^-200 / sqrt 2)
    '-4.96524781185e-61'
    """
    a, c = _alpha_pair(sigma, q0, depth, activation, activation_params, dps)
    with mpmath.workdps(_dps(dps)):
        if c == 0:
            return mpmath.ninf
        return +mpmath.log1p(-a) if a < 0.5 else +mpmath.log(c)


def layer_alphas(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh", *,
                 dps: int = 50, **activation_params: float) -> list[mpmath.mpf]:
    """``[alpha^1, ..., alpha^depth]``: the nonzero weight of every layer's law, as mpf.

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> [mpmath.nstr(a, 4) for a in precise.layer_alphas(2.0, 1.0, 3, dps=15)]
    ['0.3829', '0.1974', '0.09948']
    """
    d = _depth(depth)
    return [alpha(sigma, q0, l, activation, dps=dps, **activation_params) for l in range(1, d + 1)]


def _law_atoms(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh", *,
               dps: int = 50, **activation_params: float) -> tuple[list[mpmath.mpf], list[mpmath.mpf]]:
    """Exact ``(log_atoms, weights)`` of the J Jᵀ law for hard-tanh and the homogeneous rectifiers
    (relu, leaky relu, linear, or any record with such pieces; no bias).

    In the order of ``rmt_idinit.jjt_law(...).log_atoms``/``weights``:

    * hard-tanh: ``[2L log sigma, -inf]``, ``[alpha, 1 - alpha]``;
    * relu: ``[2L log sigma, -inf]``, ``[1/2, 1/2]``;
    * leaky relu (slope s): ``[2L log sigma, 2L log(s sigma)]``, ``[1/2, 1/2]`` (``-inf`` if s = 0);
    * linear: ``[2L log sigma]``, ``[1]``.

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> la, w = precise._law_atoms(3.0, 1.0, 100000)
    >>> mpmath.nstr(la[0], 15), mpmath.nstr(w[0], 10)
    ('219722.457733622', '5.976791355e-47713')
    """
    act = _activation(activation, activation_params)
    if not _has_exact_atoms(act):
        raise ValueError(f"activation must be one of {_exact_names()} for exact atoms, got {act.name!r}")
    a, ac = _alpha_pair(sigma, q0, depth, act, {}, dps)
    with mpmath.workdps(_dps(dps)):
        s = _to_mpf("sigma", sigma, _checks.check_positive)
        d = _depth(depth)
        if act.is_unit_clip:
            return [2 * d * mpmath.log(s), mpmath.ninf], [a, ac]
        la, w = [], []
        for slope, mass in act.half_lines:
            sl = mpmath.mpf(slope)
            la.append(2 * d * mpmath.log(s * sl) if sl > 0 else mpmath.ninf)
            w.append(mpmath.mpf(mass))
        return la, w


def log_atoms(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh", *,
              dps: int = 50, **activation_params: float) -> list[mpmath.mpf]:
    """``log`` of the atoms of the J Jᵀ law (``jjt_law(...).log_atoms``) for the piecewise-linear
    built-ins without bias, in the order of the float64 law:

    * hard-tanh and relu: ``[2L log sigma, -inf]``;
    * leaky relu (slope s): ``[2L log sigma, 2L log(s sigma)]`` (``-inf`` if s = 0);
    * linear: ``[2L log sigma]``.

    Finite where ``sigma^(2L)`` overflows double.

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> mpmath.nstr(precise.log_atoms(1.5, 0.1, 2)[0], 10)
    '1.621860432'
    """
    return _law_atoms(sigma, q0, depth, activation, dps=dps, **activation_params)[0]


def atoms(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh", *,
          dps: int = 50, **activation_params: float) -> list[mpmath.mpf]:
    """The atoms of the J Jᵀ law (``jjt_law(...).atoms``): ``exp`` of :func:`log_atoms`, 0 for ``-inf``.

    mpf exponents are unbounded, so ``sigma^(2L)`` is represented at any depth.

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> [mpmath.nstr(a, 10) for a in precise.atoms(1.02, 0.1, 50)]
    ['7.244646118', '0.0']
    """
    la = log_atoms(sigma, q0, depth, activation, dps=dps, **activation_params)
    with mpmath.workdps(_dps(dps)):
        return [mpmath.mpf(0) if a == mpmath.ninf else +mpmath.exp(a) for a in la]


def weights(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh", *,
            dps: int = 50, **activation_params: float) -> list[mpmath.mpf]:
    """The weights of the atoms of the J Jᵀ law (``jjt_law(...).weights``), in the order of
    :func:`atoms`: hard-tanh ``[alpha, 1 - alpha]`` (each from erf/erfc directly), relu and leaky
    relu ``[1/2, 1/2]``, linear ``[1]``.

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> [mpmath.nstr(w, 10) for w in precise.weights(3.0, 1.0, 100000)]
    ['5.976791355e-47713', '1.0']
    """
    return _law_atoms(sigma, q0, depth, activation, dps=dps, **activation_params)[1]


def _jjt_law_atoms_old(target, *args, **kwargs):
    return _law_atoms(*args, **kwargs)


jjt_law_atoms = _deprecation.renamed("rmt_idinit.precise.jjt_law_atoms",
                                     "precise.log_atoms(...) and precise.weights(...)", log_atoms,
                                     adapt=_jjt_law_atoms_old)


@_deprecation.leading_operand("precise.log_moment", "k")
def log_moment(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh", *, k: Any,
               dps: int = 50, **activation_params: float) -> mpmath.mpf:
    """``log E[lambda^k]`` of the exact atoms (piecewise-linear built-ins), ``k > 0``.

    ``log sum_i w_i exp(k a_i)`` with atoms at 0 contributing nothing.

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> mpmath.nstr(precise.log_moment(3.0, 1.0, 100000, k=1), 15)  # E[lambda] ~ 10^47712
    '109861.003075458'
    """
    la, w = _law_atoms(sigma, q0, depth, activation, dps=dps, **activation_params)
    with mpmath.workdps(_dps(dps)):
        kk = _to_mpf("k", k, _checks.check_positive)
        terms = [mpmath.log(wi) + kk * ai for ai, wi in zip(la, w) if wi > 0 and ai != mpmath.ninf]
        if not terms:
            return mpmath.ninf
        top = max(terms)
        return +(top + mpmath.log(mpmath.fsum(mpmath.exp(t - top) for t in terms)))


@_deprecation.leading_operand("precise.moment", "k")
def moment(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh", *, k: Any,
           bias: Any = 0.0, dps: int = 50, **activation_params: float) -> mpmath.mpf:
    """``E[lambda^k]`` as an mpf, ``k > 0``.

    Piecewise-linear built-ins without bias: ``sum_i w_i a_i^k`` of the exact atoms (hard-tanh:
    ``alpha sigma^(2Lk)``). Any other case: the quadrature of :func:`jjt_moment`.

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> mpmath.nstr(precise.moment(1.02, 0.1, 50, k=2), 15)
    '39.8861601772425'
    """
    act = _activation(activation, activation_params)
    b = _to_mpf("bias", bias, _checks.check_finite)
    if _has_exact_atoms(act) and b == 0:
        with mpmath.workdps(_dps(dps) + 5):
            lm = log_moment(sigma, q0, depth, act, k=k, dps=_dps(dps) + 5)
        with mpmath.workdps(_dps(dps)):
            return +mpmath.exp(lm)
    return jjt_moment(sigma, q0, depth, act, k=k, bias=bias, dps=dps)


def mean(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh", *,
         dps: int = 50, **activation_params: float) -> mpmath.mpf:
    """``E[lambda]`` of the exact atoms; hard-tanh: ``alpha sigma^(2L)``.

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> mpmath.nstr(precise.mean(1.02, 0.1, 50), 15)
    '5.50560503938933'
    """
    return moment(sigma, q0, depth, activation, k=1, dps=dps, **activation_params)


def var(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh", *,
        dps: int = 50, **activation_params: float) -> mpmath.mpf:
    """``Var[lambda] = sum_i w_i (a_i - m)^2`` of the exact atoms; hard-tanh ``alpha(1-alpha) sigma^(4L)``.

    Computed as the weighted sum of squares (no cancellation of ``m2 - m1^2``).

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> mpmath.nstr(precise.var(1.02, 0.1, 50), 15)
    '9.57447332749328'
    """
    la, w = _law_atoms(sigma, q0, depth, activation, dps=_dps(dps) + 5, **activation_params)
    with mpmath.workdps(_dps(dps) + 5):
        atoms = [mpmath.mpf(0) if a == mpmath.ninf else mpmath.exp(a) for a in la]
        m = mpmath.fsum(wi * ai for wi, ai in zip(w, atoms))
        v = mpmath.fsum(wi * (ai - m) ** 2 for wi, ai in zip(w, atoms))
    with mpmath.workdps(_dps(dps)):
        return +v


# --- forward second moments -------------------------------------------------------------------

def _ht_second_moment(q: mpmath.mpf) -> mpmath.mpf:
    """E[clip(sqrt(q) z, -1, 1)^2] without cancellation at either end (works in the caller's dps).

    q <= 1: the closed form written with erfc, ``q - (q - 1) erfc(x) - sqrt(2q/pi) e^(-x^2)``,
    x = 1/sqrt(2q) (the tiny terms are not subtracted from each other's leading digits).
    q > 1: ``1 - int_{|z|<c} (1 - z^2/c^2) phi(z) dz`` with c = 1/sqrt(q) < 1, by its power series
    ``sqrt(2/pi) sum_n (-1/2)^n / n! * 2 c^(2n+1) / ((2n+1)(2n+3))``: the closed form would cancel
    two terms of size sqrt(q) when q = sigma^(2L) q0 is astronomically large.
    """
    if q <= 1:
        with mpmath.extradps(10):
            x = 1 / mpmath.sqrt(2 * q)
            val = q - (q - 1) * mpmath.erfc(x) - mpmath.sqrt(2 * q / mpmath.pi) * mpmath.exp(-x * x)
        return +val
    with mpmath.extradps(10):
        c2 = 1 / q
        c = mpmath.sqrt(c2)
        tol = mpmath.eps * c
        total = mpmath.mpf(0)
        term = c  # (-1/2)^n / n! * c^(2n+1)
        n = 0
        while True:
            inc = 2 * term / ((2 * n + 1) * (2 * n + 3))
            total += inc
            if abs(inc) < tol:
                break
            n += 1
            term *= -c2 / (2 * n)
        val = 1 - mpmath.sqrt(2 / mpmath.pi) * total
    return +val


def hardtanh_second_moment(q: Any, *, dps: int = 50) -> mpmath.mpf:
    """``E_ht(q) = E[clip(sqrt(q) z, -1, 1)^2]``, z ~ N(0, 1), as an mpf::

        E_ht(q) = (q - 1) erf(1/sqrt(2q)) - sqrt(2q/pi) exp(-1/(2q)) + 1,

    evaluated in forms free of cancellation (see the source), accurate for q from 1e-300 to
    1e100000.

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> mpmath.nstr(precise.hardtanh_second_moment(1.0), 15)  # 1 - sqrt(2/pi) e^(-1/2)
    '0.516058550961713'
    """
    with mpmath.workdps(_dps(dps)):
        qq = _to_mpf("q", q, _checks.check_positive)
        return _ht_second_moment(qq)


def forward_moments(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh", *,
                    layers: Sequence[int] | None = None, dps: int = 50,
                    **activation_params: float) -> list[mpmath.mpf]:
    """Second moments ``q^l = E[phi(h^l(u))^2]``, u ~ N(0, q0), for ``l = 1..depth`` (or ``layers``).

    Closed forms (docs/theory/closed_forms.md)::

        hard-tanh: q^l = E_ht(sigma^(2l) q0)                (sigma > 1)
                   q^l = sigma^(2(l-1)) E_ht(sigma^2 q0)     (sigma <= 1)
        relu: sigma^(2l) q0 / 2;  leaky relu: sigma^(2l) q0 (1 + s^2) / 2;  linear: sigma^(2l) q0.

    Smooth activations: :func:`mpmath.quad` of ``phi(h^l(u))^2 N(u; 0, q0)`` (slow: keep
    ``depth`` and ``dps`` small).

    Parameters
    ----------
    layers : sequence of int, optional
        Only these layers (each in 1..depth), e.g. ``[depth]`` for a deep network.

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> [mpmath.nstr(v, 6) for v in precise.forward_moments(1.0, 1.0, 2, dps=15)]
    ['0.516059', '0.516059']
    """
    act = _activation(activation, activation_params)
    d = _depth(depth)
    wanted = list(range(1, d + 1)) if layers is None else [_depth(l, "layers") for l in layers]
    if any(l > d for l in wanted):
        raise ValueError(f"layers must be integers in [1, {d}], got {max(wanted)}")
    with mpmath.workdps(_dps(dps)):
        s = _to_mpf("sigma", sigma, _checks.check_positive)
        q = _to_mpf("q0", q0, _checks.check_positive)
        if act.is_unit_clip:
            if s > 1:
                return [_ht_second_moment(s ** (2 * l) * q) for l in wanted]
            base = _ht_second_moment(s * s * q)
            return [+(s ** (2 * (l - 1)) * base) for l in wanted]
        if act.half_lines is not None:
            # x^l = (sigma slope)^l u on each half-line
            return [+(s ** (2 * l) * q * mpmath.fsum(mpmath.mpf(m) * mpmath.mpf(sl) ** (2 * l)
                                                     for sl, m in act.half_lines)) for l in wanted]
        phi, _ = _mp_activation(act)
        out = []
        for l in wanted:
            def f(u, l=l):
                h = s * u
                for _ in range(l - 1):
                    h = s * phi(h)
                return phi(h) ** 2 * mpmath.npdf(u, 0, mpmath.sqrt(q))
            out.append(+_rel_quad(f, _breakpoints(act, s, q, l, mpmath.mpf(0)), "gauss-legendre"))
        return out


# --- the scalar map for any activation --------------------------------------------------------

def _gain(step, s, b, u, depth):
    """``g_L(u)`` itself: mpf exponents are unbounded, so the product neither overflows nor
    underflows and needs no logarithm per layer."""
    h = s * u
    g = mpmath.mpf(1)
    for _ in range(depth):
        x, dp = step(h)
        if dp == 0:
            return mpmath.mpf(0)
        g *= s * dp
        h = s * x + b
    return g


@_deprecation.keyword_only("precise.log_gain", ("bias",), 4)
def log_gain(u: Any, sigma: Any, depth: int, activation: str | Activation = "hardtanh", *, bias: Any = 0.0,
             dps: int = 50, **activation_params: float) -> mpmath.mpf:
    """``log|g_L(u)|`` of the per-unit map (docs/theory/identity.md), iterated in mpmath::

        h^1 = sigma u,  h^(l+1) = sigma phi(h^l) + bias,  g_L(u) = prod_{l=1..L} sigma phi'(h^l).

    ``-inf`` where some ``phi'(h^l) = 0`` (e.g. a saturated hard-tanh unit). The eigenvalues of
    J Jᵀ for input u are ``exp(2 log_gain(u_i))``.

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> mpmath.nstr(mpmath.exp(2 * precise.log_gain(0.1, 1.1, 3)), 7)
    '1.771561'
    >>> print(precise.log_gain(2.0, 1.1, 3))
    -inf
    """
    act = _activation(activation, activation_params)
    with mpmath.workdps(_dps(dps)):
        uu = _to_mpf("u", u, _checks.check_finite)
        s = _to_mpf("sigma", sigma, _checks.check_positive)
        b = _to_mpf("bias", bias, _checks.check_finite)
        d = _depth(depth)
        g = _gain(_mp_step(act), s, b, uu, d)
        return mpmath.ninf if g == 0 else +mpmath.log(abs(g))


def _unstable_fixed_points(act: Activation, s, b) -> list[tuple[mpmath.mpf, mpmath.mpf]]:
    """Unstable fixed points ``h*`` of ``F(h) = s phi(h) + b`` with their rates ``|F'(h*)| > 1``.

    Units that start near one linger there for many layers while their gain grows like
    ``|F'|^l``: g_L(u) has structure of width ``|F'|^(-l)/s`` around ``u* = h*/s``.
    """
    phi, dphi = _mp_activation(act)

    def f(h):
        return s * phi(h) + b - h

    grid = [mpmath.mpf(x) / 8 for x in range(-400, 401)]
    found = []
    vals = [f(h) for h in grid]
    for h0, h1, v0, v1 in zip(grid[:-1], grid[1:], vals[:-1], vals[1:]):
        if v0 == 0:
            root = h0
        elif v0 * v1 < 0:
            try:
                root = mpmath.findroot(f, (h0, h1), solver="anderson")
            except (ValueError, ZeroDivisionError):
                root = mpmath.findroot(f, (h0, h1), solver="bisect")
        else:
            continue
        rate = abs(s * dphi(root))
        if rate > 1 and not any(abs(root - r) < mpmath.mpf(2) ** -40 for r, _ in found):
            found.append((root, rate))
    return found


def _breakpoints(act: Activation, s, q, depth: int, b) -> list[mpmath.mpf]:
    """Sub-interval ends for the Gaussian integrals over u (including -inf and +inf).

    * at 0, 0.5, 1, 1.5, 2, 3, ... standard deviations out to where the Gaussian is below
      10^-(dps+10);
    * around each unstable fixed point u* = h*/s, geometric offsets ``rate^(-l)/s`` (l = 0..L),
      thinned to at most a factor 2 apart: for sigma > 1 and tanh/erf (h* = 0, rate = sigma) these
      are the ``|u| ~ sigma^(-l)`` where the gain changes; for gelu/silu with 1 < sigma < 2 the
      unstable point h* > 0 separates units that die from units that grow like sigma^l;
    * the exact discontinuities of the gain for hard-tanh (``|u| = sigma^(-l)``) and relu (0).
    """
    sd = mpmath.sqrt(q)
    zmax = mpmath.sqrt(2 * (mpmath.mp.dps + 10) * mpmath.log(10))
    pts = {mpmath.mpf(0)}
    zs = [mpmath.mpf(z) for z in (0.5, 1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 15) if z < zmax] + [zmax]
    pts.update(sgn * sd * z for z in zs for sgn in (-1, 1))
    if act.is_unit_clip:
        if b == 0:
            m_max = depth if s > 1 else 1
            pts.update(sgn * s ** (-m) for m in range(1, m_max + 1) for sgn in (-1, 1))
    elif act.pieces is not None and act.pieces.is_homogeneous:
        pass
    else:
        for hstar, rate in _unstable_fixed_points(act, s, b):
            ustar = hstar / s
            pts.add(ustar)
            last = None
            for l in range(0, depth + 1):
                off = rate ** (-l) / s
                # Around u* = 0 no offset is too small (mpf has no underflow, and the peak of width
                # rate^-L carries rate^L of the moment however narrow); around u* != 0 offsets below
                # the working precision of u* would collapse onto it.
                if off < mpmath.mpf(10) ** (-(mpmath.mp.dps + 5)) * abs(ustar):
                    break
                if last is not None and last / off < 2 and l != depth:
                    continue
                last = off
                pts.update((ustar - off, ustar + off))
    lim = zmax * sd
    inner = sorted(p for p in pts if -lim <= p <= lim)
    return [mpmath.ninf] + inner + [mpmath.inf]


def _rel_quad(f: Callable, pts: list, method: str) -> mpmath.mpf:
    """``mpmath.quad`` to *relative* accuracy ~10^-dps.

    mpmath stops refining an interval when its error estimate drops below ``eps`` in absolute
    terms, so an integral of size 1e-56 would "converge" on its first nodes and one of size 1e26
    would never converge. The integrand is therefore rescaled by the current estimate of the
    integral until that estimate is stable (usually two passes; the gain cache makes the repeated
    nodes free).
    """
    mids = [(a + b) / 2 for a, b in zip(pts[1:-2], pts[2:-1])]
    samples = [abs(f(m)) for m in mids if mpmath.isfinite(m)]
    scale = max(samples, default=mpmath.mpf(0)) or mpmath.mpf(1)
    val = mpmath.mpf(0)
    for _ in range(4):
        sc = scale
        val = mpmath.quad(lambda u: f(u) / sc, pts, method=method) * sc
        if val == 0 or abs(val / scale - 1) < mpmath.mpf(10) ** -3:
            break
        scale = abs(val)
    return val


@_deprecation.leading_operand("precise.jjt_moments", "ks")
def jjt_moments(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh",
                *, ks: Sequence[Any], bias: Any = 0.0, dps: int = 50, method: str = "gauss-legendre",
                **activation_params: float) -> list[mpmath.mpf]:
    """``[E[lambda^k] for k in ks]`` by quadrature, sharing the gain evaluations between the ks.

    See :func:`jjt_moment`.

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> [mpmath.nstr(m, 10) for m in precise.jjt_moments(1.0, 1.0, 10, "tanh", ks=[1, 2], dps=15)]
    ['0.1764364492', '0.118063792']
    """
    act = _activation(activation, activation_params)
    _checks.check_choice("method", method, _METHODS)
    if isinstance(ks, (str, bytes)) or not isinstance(ks, Sequence) and not (
            isinstance(ks, np.ndarray) and ks.ndim == 1):
        raise TypeError(f"ks must be a sequence of numbers > 0 (e.g. [1, 2]), got {type(ks).__name__}")
    if len(ks) == 0:
        raise ValueError("ks must hold at least one moment order, got an empty sequence")
    with mpmath.workdps(_dps(dps)):
        kk = [_to_mpf("ks", k, _checks.check_positive) for k in ks]
        s = _to_mpf("sigma", sigma, _checks.check_positive)
        q = _to_mpf("q0", q0, _checks.check_positive)
        b = _to_mpf("bias", bias, _checks.check_finite)
        d = _depth(depth)
        step = _mp_step(act)
        norm = 1 / (mpmath.sqrt(2 * mpmath.pi * q))
        cache: dict = {}

        def gain2(u):
            key = u._mpf_ if isinstance(u, mpmath.mpf) else u  # exact value, sign included
            if key not in cache:
                cache[key] = _gain(step, s, b, u, d) ** 2
            return cache[key]

        pts = _breakpoints(act, s, q, d, b)
        out = []
        for k in kk:
            def f(u, k=k):
                g2 = gain2(u)
                return g2 ** k * mpmath.exp(-u * u / (2 * q)) * norm if g2 else g2
            out.append(+_rel_quad(f, pts, method))
        return out


@_deprecation.leading_operand("precise.jjt_moment", "k")
def jjt_moment(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh", *, k: Any,
               bias: Any = 0.0, dps: int = 50, method: str = "gauss-legendre",
               **activation_params: float) -> mpmath.mpf:
    """``E[lambda^k] = int g_L(u)^(2k) N(u; 0, q0) du`` by :func:`mpmath.quad`, for any activation.

    The gain is iterated in mpmath (:func:`log_gain`); the real line is split at half standard
    deviations, at geometric offsets ``rate^(-l)/sigma`` around every unstable fixed point of
    ``h -> sigma phi(h) + bias`` (where the gain changes on ever finer scales with depth) and at
    the exact discontinuities of hard-tanh/relu, and each piece is integrated by tanh-sinh.
    Cost grows with ``depth * dps``: at depth 100 use ``dps`` around 20 (still ~1e-18 accuracy).

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> mpmath.nstr(precise.jjt_moment(1.0, 1.0, 10, "tanh", k=1, dps=15), 10)
    '0.1764364492'
    """
    with mpmath.workdps(_dps(dps)):
        _to_mpf("k", k, _checks.check_positive)  # named as the caller wrote it
    return jjt_moments(sigma, q0, depth, activation, ks=[k], bias=bias, dps=dps, method=method,
                       **activation_params)[0]


@_deprecation.keyword_only("precise.jjt_eigenvalues", ("bias",), 4)
def jjt_eigenvalues(u: Any, sigma: Any, depth: int, activation: str | Activation = "hardtanh", *,
                    bias: Any = 0.0, log: bool = False, dps: int = 50,
                    **activation_params: float) -> mpmath.mpf | list[mpmath.mpf]:
    """The eigenvalues ``g_L(u_i)^2`` of J Jᵀ for the input coordinate(s) ``u``, in mpmath.

    ``exp(2 log_gain(u_i))`` (0 where a unit is dead); with ``log=True`` ``2 log_gain(u_i)``
    (``-inf`` for 0). A scalar ``u`` gives an mpf, a sequence a list.

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> [mpmath.nstr(x, 7) for x in precise.jjt_eigenvalues([0.1, 0.8, 2.0], 1.1, 3)]
    ['1.771561', '0.0', '0.0']
    """
    log = _checks.check_bool("log", log)
    if isinstance(u, np.ndarray):
        scalar, values = u.ndim == 0, list(u.ravel())
    elif isinstance(u, Sequence) and not isinstance(u, (str, bytes)):
        scalar, values = False, list(u)
    else:
        scalar, values = True, [u]
    if not values:
        raise ValueError("u must contain at least one value")
    out = []
    for ui in values:
        lg = log_gain(ui, sigma, depth, activation, bias=bias, dps=dps, **activation_params)
        with mpmath.workdps(_dps(dps)):
            out.append(2 * lg if log else (mpmath.mpf(0) if lg == mpmath.ninf else +mpmath.exp(2 * lg)))
    return out[0] if scalar else out


# --- the selection closed forms (hard-tanh) --------------------------------------------------

def _check_kappa(name: str, value: Any) -> np.ndarray:
    k = _checks.as_float_array(name, value)
    if k.ndim == 0 and not (np.isfinite(k) and k > 1):
        raise ValueError(f"{name} must be a finite number > 1, got {float(k)!r}")
    return k


def _bounded_mpf(name: str, value: Any, check: Callable, lo: int, hi: float, rule: str) -> mpmath.mpf:
    """An mpf checked against ``lo < value < hi`` itself (the sign proxy of :func:`_to_mpf` only
    serves checks of the sign); other inputs go through the float64 API's ``check``."""
    if isinstance(value, mpmath.mpf):
        if not (mpmath.isfinite(value) and lo < value < hi):
            raise ValueError(f"{name} must be {rule}, got {value}")
        return +value
    return _to_mpf(name, value, check)


def _erfc_inverse(eps: mpmath.mpf) -> mpmath.mpf:
    """``x`` with ``erfc(x) = eps``, by the root of ``log erfc(x) - log eps`` (``erfinv(1 - eps)``
    would lose every digit of ``1 - eps`` once eps is below the working precision)."""
    with mpmath.extradps(10):
        start = mpmath.sqrt(max(-mpmath.log(eps), mpmath.mpf("0.01")))
        x = mpmath.findroot(lambda x: mpmath.log(mpmath.erfc(x)) - mpmath.log(eps), start)
    return +x


def max_q0(sigma: Any, depth: int, activation: str | Activation = "hardtanh", *, eps: Any = 0.05,
           dps: int = 50, **activation_params: float) -> mpmath.mpf:
    """Largest input variance with dead fraction ``1 - alpha <= eps`` (hard-tanh), as an mpf::

        q0_max = sigma^(-2L) / (2 c^2)   (sigma > 1),
        q0_max = 1 / (2 sigma^2 c^2)     (sigma <= 1),      c = erfcinv(eps).

    The mpmath twin of :func:`rmt_idinit.selection.max_q0` (hard-tanh only: other activations
    have no closed form).

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> mpmath.nstr(precise.max_q0(1.001, 100, eps=0.05), 10)
    '0.2131514651'
    """
    act = _activation(activation, activation_params)
    if not act.is_unit_clip:
        raise ValueError(f"activation must be hardtanh for the closed-form max_q0, got {act.name!r}")
    with mpmath.workdps(_dps(dps)):
        s = _to_mpf("sigma", sigma, _checks.check_positive)
        d = _depth(depth)
        e = _bounded_mpf("eps", eps, _checks.check_probability, 0, 1, "a number in the open interval (0, 1)")
        c = _erfc_inverse(e)
        m = d if s > 1 else 1
        return +(s ** (-2 * m) / (2 * c * c))


def sigma_window(depth: int, *, kappa: Any = 10.0, dps: int = 50) -> tuple[mpmath.mpf, mpmath.mpf]:
    """``(kappa^(-1/(2L)), kappa^(1/(2L)))``: the sigmas with ``1/kappa <= sigma^(2L) <= kappa``.

    The mpmath twin of :func:`rmt_idinit.select.sigma_window`.

    Examples
    --------
    >>> import mpmath
    >>> from rmt_idinit import precise
    >>> [mpmath.nstr(x, 10) for x in precise.sigma_window(100, kappa=10.0)]
    ['0.9885530947', '1.011579454']
    """
    with mpmath.workdps(_dps(dps)):
        d = _depth(depth)
        k = _bounded_mpf("kappa", kappa, _check_kappa, 1, mpmath.inf, "a finite number > 1")
        t = mpmath.log(k) / (2 * d)
        return +mpmath.exp(-t), +mpmath.exp(t)
