"""One result, three precisions: every float64 result against its mpmath twin and its sympy form.

One table (:data:`ROWS`): the name of a result, which is the same in :mod:`rmt_idinit.identity` /
:mod:`rmt_idinit.select` / the methods of ``jjt_law(...)`` (float64), :mod:`rmt_idinit.precise`
(mpmath, 50 digits here) and :mod:`rmt_idinit.symbolic` (sympy), a parameter grid (including the
extreme tails and the large depths where the float64 path claims accuracy) and the tolerance of
float64 against mpmath, each stated with the test that first claimed it. One loop
(:func:`test_float64_mpmath_sympy_agree`) calls the three with the same arguments and compares:

* float64 vs mpmath: relative error <= the row's tolerance where the reference is a normal double;
  beyond double range the float64 value must be inf (> 1e300) or below 1e-290 (< 1e-300); results
  that are logarithms are compared in absolute error relative to ``max(1, |ref|)`` (a log near 0,
  e.g. ``log sigma^(2L)`` at sigma = 1, has no relative accuracy to claim);
* sympy vs mpmath: the expression, built with its default symbols and evaluated by
  ``sympy.lambdify(..., "mpmath")`` at 50 digits and more (doubling until two evaluations agree
  to 1e-50: ``E_ht(q)`` at q = 1e300 cancels 150 digits), within 1e-40 relative of the mpmath
  value (the closed forms are the same formula, so only rounding separates them);
* sympy vs float64: the same tolerance as float64 vs mpmath.

The names and the argument order are compared too (:func:`test_same_signatures`).
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable

import mpmath
import numpy as np
import pytest
import sympy as sp

import rmt_idinit as ri
from rmt_idinit import identity, precise, select, symbolic

DPS = 50
SYMPY_TOL = mpmath.mpf("1e-40")
TINY, HUGE = mpmath.mpf("1e-300"), mpmath.mpf("1e300")
PIECEWISE = [("hardtanh", {}), ("relu", {}), ("leaky_relu", {"negative_slope": 0.2}), ("linear", {})]


@dataclass
class Row:
    """One result at three precisions.

    ``f64(*args, **kw)``, ``mp(*args, **kw)`` and ``sym(*args, **kw)`` take the same arguments;
    ``sym`` returns a sympy expression (or a list of them) in the default symbols, into which the
    loop substitutes the numeric arguments named in ``sym_values``.
    """

    name: str
    f64: Callable[..., Any]
    mp: Callable[..., Any]
    sym: Callable[..., Any] | None
    cases: list[tuple[tuple, dict]]
    tol: float
    why: str
    log: bool = False
    sym_values: Callable[..., dict] | None = None


def _law_method(method: str, *margs):
    def f(sigma, q0, depth, activation="hardtanh", **kw):
        k = kw.pop("k", None)
        law = ri.jjt_law(sigma, q0, depth, activation, **kw)
        attr = getattr(law, method)
        if not callable(attr):
            return list(np.asarray(attr))
        return attr(k) if k is not None else attr(*margs)
    f.__name__ = f"jjt_law(...).{method}"
    return f


def _sqd_values(sigma, q0, depth, activation="hardtanh", **kw):
    vals = {"sigma": sigma, "q0": q0, "L": depth}
    if "negative_slope" in kw:
        vals["s"] = kw["negative_slope"]
    if "k" in kw:
        vals["k"] = kw["k"]
    return vals


def _sym_sqd(fn):
    """The symbolic function with sigma, q0 and depth left as symbols (numbers go in afterwards)."""
    def build(sigma, q0, depth, activation="hardtanh", **kw):
        kw = {k: v for k, v in kw.items() if k not in ("k", "negative_slope")}
        if "k" in inspect.signature(fn).parameters:
            kw["k"] = None  # the symbol k (a call without k= is read in the deprecated k-first order)
        return fn(sigma=None, q0=None, depth=None, activation=activation, **kw)
    return build


def _sym_per_layer(fn):
    """Per-layer lists need a numeric depth (the number of entries); sigma and q0 stay symbols."""
    def build(sigma, q0, depth, activation="hardtanh", **kw):
        kw = {k: v for k, v in kw.items() if k != "negative_slope"}
        return fn(sigma=None, q0=None, depth=depth, activation=activation, **kw)
    return build


def _grid(sigmas, q0s, depths, acts=PIECEWISE, **extra):
    return [((s, q, d, a), {**kw, **extra}) for a, kw in acts for s in sigmas for q in q0s for d in depths]


def _erfc_q0(sigma: float, depth: int, target: float) -> float:
    """The q0 at which hard-tanh's ``1 - alpha = target`` (to put the grid on the far tail)."""
    with mpmath.workdps(30):
        x = mpmath.findroot(lambda x: mpmath.log(mpmath.erfc(x)) - mpmath.log(target),
                            mpmath.sqrt(-mpmath.log(target)))
        m = depth if sigma > 1 else 1
        return float(mpmath.mpf(sigma) ** (-2 * m) / (2 * x * x))


SIGMAS = [0.5, 0.999, 1.0, 1.0001, 1.02, 3.0]
Q0S = [1e-8, 1e-2, 1.0, 1e2]
DEPTHS = [1, 10, 1000, 100_000]
# 1 - alpha from 1e-1 down to 1e-300 at shallow and deep settings (hard-tanh)
TAIL = [((s, _erfc_q0(s, d, 10.0 ** -e), d, "hardtanh"), {})
        for s, d in [(1.0, 7), (0.5, 7), (1.0001, 10_000), (1.02, 100), (3.0, 10)]
        for e in (1, 10, 100, 200, 300)]
# 1 - alpha below double range (carried in logs)
UNDERFLOW = [((s, q, d, "hardtanh"), {}) for s, q, d in
             [(1.0, 1e-4, 1), (0.5, 1e-6, 50), (0.9, 1e-8, 3), (1.0001, 1e-12, 10), (1.0, 1e-4, 100_000)]]
MOMENT_GRID = [c for c in _grid(SIGMAS, Q0S, [1, 10, 1000]) if float(precise.alpha(*c[0], dps=20, **c[1])) > 1e-300]
FORWARD = [((s, q, d, a), {**kw, "layers": [1, 2, 10, d]}) for a, kw in PIECEWISE
           for s in (0.999, 1.0, 1.02, 1.5) for q in (1e-8, 1e-2, 1.0) for d in (100, 1000)]


ROWS = [
    Row("alpha", identity.alpha, precise.alpha, _sym_sqd(symbolic.alpha),
        _grid(SIGMAS, Q0S, DEPTHS) + TAIL, 1e-12, "test_accuracy.TOL (closed forms vs precise)",
        sym_values=_sqd_values),
    Row("alpha_complement", identity.alpha_complement, precise.alpha_complement, _sym_sqd(symbolic.alpha_complement),
        _grid(SIGMAS, Q0S, DEPTHS) + TAIL, 1e-12,
        "test_accuracy.TOL; erfc keeps it down to 1e-300 (test_alpha_complement_down_to_1e300_deep)",
        sym_values=_sqd_values),
    Row("log_alpha_complement", identity.log_alpha_complement, precise.log_alpha_complement,
        _sym_sqd(symbolic.log_alpha_complement), TAIL + UNDERFLOW, 1e-12,
        "test_accuracy.test_log_alpha_complement_where_complement_underflows", log=True,
        sym_values=_sqd_values),
    Row("layer_alphas", identity.layer_alphas, precise.layer_alphas, _sym_per_layer(symbolic.layer_alphas),
        _grid([0.5, 1.0, 1.02, 3.0], [1e-2, 1.0], [1, 7, 40]), 1e-12, "test_accuracy.TOL (alpha per layer)",
        sym_values=_sqd_values),
    Row("forward_moments", identity.forward_moments, precise.forward_moments, _sym_per_layer(symbolic.forward_moments),
        FORWARD, 1e-12, "test_accuracy.test_forward_moments_vs_precise", sym_values=_sqd_values),
    Row("hardtanh_second_moment", identity.hardtanh_second_moment, precise.hardtanh_second_moment,
        lambda q: symbolic.hardtanh_second_moment(),
        [((q,), {}) for q in (1e-300, 1e-30, 1e-3, 0.5, 1.0, 2.0, 1e3, 1e30, 1e300)], 1e-12,
        "test_accuracy.TOL through forward_moments (E_ht is q^L for hard-tanh with sigma > 1)",
        sym_values=lambda q: {"q": q}),
    Row("atoms", _law_method("atoms"), precise.atoms, _sym_sqd(symbolic.atoms),
        _grid(SIGMAS, [1e-2], DEPTHS), 1e-12, "test_accuracy.TOL (sigma^(2L); inf where it overflows)",
        sym_values=_sqd_values),
    Row("log_atoms", _law_method("log_atoms"), precise.log_atoms, _sym_sqd(symbolic.log_atoms),
        _grid(SIGMAS, [1e-2], DEPTHS), 1e-12, "test_accuracy.TOL (log_atoms, finite where sigma^(2L) overflows)",
        log=True, sym_values=_sqd_values),
    Row("weights", _law_method("weights"), precise.weights, _sym_sqd(symbolic.weights),
        _grid(SIGMAS, Q0S, DEPTHS), 1e-12, "test_accuracy.TOL (weights)", sym_values=_sqd_values),
    Row("mean", _law_method("mean"), precise.mean, _sym_sqd(symbolic.mean), MOMENT_GRID, 1e-12,
        "test_accuracy.TOL (mean where alpha > 1e-300)", sym_values=_sqd_values),
    Row("var", _law_method("var"), precise.var, _sym_sqd(symbolic.var), MOMENT_GRID, 1e-12,
        "test_accuracy.TOL (var where alpha > 1e-300)", sym_values=_sqd_values),
    Row("moment", _law_method("moment"), precise.moment, _sym_sqd(symbolic.moment),
        [(a, {**kw, "k": k}) for a, kw in MOMENT_GRID[::3] for k in (0.5, 2, 3)], 1e-12,
        "test_accuracy.TOL (the same atoms as mean)", sym_values=_sqd_values),
    Row("log_moment", _law_method("log_moment"), precise.log_moment, _sym_sqd(symbolic.log_moment),
        [(a, {**kw, "k": k}) for a, kw in _grid(SIGMAS, Q0S, DEPTHS) for k in (1, 2)]
        + [((1.02, 1e-8, 100_000, "hardtanh"), {"k": 1})], 1e-12,
        "test_accuracy.TOL (log_moment, also where alpha underflows: test_log_moment_where_alpha_underflows)",
        log=True, sym_values=_sqd_values),
    Row("max_q0", select.max_q0, precise.max_q0,
        lambda sigma, depth, activation="hardtanh", *, eps: symbolic.max_q0(None, None, activation),
        [((s, d), {"eps": e}) for s in (0.5, 0.9, 1.0, 1.001, 1.02, 3.0) for d in (1, 10, 100, 10_000)
         for e in (0.5, 0.05, 1e-6, 1e-100, 1e-300) if not (s > 1 and d * math.log(s) > 300)], 1e-12,
        "test_selection (max_q0 closed form, rel 1e-12)",
        sym_values=lambda sigma, depth, activation="hardtanh", *, eps: {"sigma": sigma, "L": depth, "eps": eps}),
    Row("sigma_window", select.sigma_window, precise.sigma_window,
        lambda depth, *, kappa=10.0: symbolic.sigma_window(),
        [((d,), {"kappa": k}) for d in (1, 3, 100, 10_000, 10 ** 6) for k in (1.0001, 2.0, 10.0, 1e10, 1e300)], 1e-12,
        "test_selection.test_hardtanh_sigma_window_and_interval (rel 1e-12)",
        sym_values=lambda depth, *, kappa=10.0: {"L": depth, "kappa": kappa}),
    Row("jjt_eigenvalues", identity.jjt_eigenvalues, precise.jjt_eigenvalues, None,
        [(([0.1, -0.3, 0.8, 1e-5], s, d, a), {}) for a in ("hardtanh", "relu", "tanh", "gelu", "softplus")
         for s, d in ((0.9, 3), (1.05, 20), (1.2, 10))]
        + [(([0.1, -0.3, 0.8], 1.0, 10, "tanh"), {"bias": 0.1})], 1e-12,
        "test_activations (jjt_eigenvalues against an independent map, rtol 1e-12)"),
    # smooth activations: the float64 quadrature of the pushforward against mpmath.quad of the
    # iterated map (slow at 50 digits, so shallow settings; the deep ones are in test_accuracy)
    Row("moment (smooth)", _law_method("moment"), precise.moment, None,
        [((s, q, d, a), {"k": k}) for a, s, q, d in (("tanh", 1.0, 1.0, 3), ("erf", 1.2, 0.5, 2),
                                                      ("sigmoid", 1.5, 1.0, 2))
         for k in (1, 2)], 1e-8, "test_accuracy.test_smooth_moments_vs_precise (1e-8)"),
]


# --- comparison ------------------------------------------------------------------------------

def _flat(x) -> list:
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flat(item)]
    if isinstance(x, np.ndarray):
        return [float(v) for v in x.ravel()]
    return [x]


def _err(got, ref, log: bool) -> float:
    """float64 ``got`` vs mpmath ``ref``; raises AssertionError where the range contract fails."""
    ref = mpmath.mpf(ref)
    got = float(got)
    if log:
        if ref == mpmath.ninf:
            assert got == -math.inf
            return 0.0
        return float(abs(mpmath.mpf(got) - ref) / max(1, abs(ref)))
    if abs(ref) > HUGE:
        assert got == math.inf * (1 if ref > 0 else -1)
        return 0.0
    if abs(ref) < TINY:
        assert abs(got) < 1e-290
        return 0.0
    return float(abs((mpmath.mpf(got) - ref) / ref))


def _sympy_values(expr, values: dict) -> list:
    """The expression(s) at ``values`` (by symbol name) in mpmath, to 50 correct digits."""
    exprs = _flat(expr)
    out = []
    for e in exprs:
        e = sp.sympify(e)
        if e in (sp.oo, -sp.oo):
            out.append(mpmath.inf if e == sp.oo else mpmath.ninf)
            continue
        syms = sorted(e.free_symbols, key=lambda s: s.name)
        missing = [s.name for s in syms if s.name not in values]
        assert not missing, f"no value for {missing}"
        f = sp.lambdify(syms, e, modules="mpmath")
        prev = None
        for dps in (60, 120, 240, 480, 960, 1920):
            with mpmath.workdps(dps):
                args = [mpmath.mpf(values[s.name]) for s in syms]
                v = f(*args) if syms else mpmath.mpf(sp.N(e, dps))
                v = mpmath.mpf(v) if not isinstance(v, mpmath.mpf) else +v
            # settled: two evaluations agree to 50 digits (a finite value; an ill-conditioned form
            # such as erfinv(1 - 1e-300) is inf until the working precision resolves 1 - eps)
            # (and nonzero: E_ht(1e-300) = (q - 1) + 1 - ... is 0 until the precision holds q)
            if prev is not None and mpmath.isfinite(v) and v != 0 and abs(v - prev) <= abs(v) * mpmath.mpf(10) ** -50:
                break
            prev = v
        out.append(v)
    return out


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_float64_mpmath_sympy_agree(row):
    worst = {"f64~mp": 0.0, "sym~mp": 0.0, "sym~f64": 0.0}
    for args, kw in row.cases:
        f64 = _flat(row.f64(*args, **kw))
        mp = _flat(row.mp(*args, dps=DPS, **kw))
        assert len(f64) == len(mp), (row.name, args, kw)
        for g, r in zip(f64, mp):
            e = _err(g, r, row.log)
            worst["f64~mp"] = max(worst["f64~mp"], e)
            assert e <= row.tol, (row.name, args, kw, g, r, e)
        if row.sym is None:
            continue
        sym = _sympy_values(row.sym(*args, **kw), row.sym_values(*args, **kw))
        assert len(sym) == len(mp), (row.name, args, kw)
        for sv, r, g in zip(sym, mp, f64):
            with mpmath.workdps(DPS + 10):
                if r in (mpmath.ninf, mpmath.inf) or r == 0:
                    assert sv == r, (row.name, args, kw, sv, r)
                else:
                    e = abs(sv - r) / (max(1, abs(r)) if row.log else abs(r))
                    worst["sym~mp"] = max(worst["sym~mp"], float(e))
                    assert e <= SYMPY_TOL, (row.name, args, kw, sv, r)
            e = _err(g, sv, row.log)
            worst["sym~f64"] = max(worst["sym~f64"], e)
            assert e <= row.tol, (row.name, args, kw, g, sv, e)
    if row.sym is None:
        del worst["sym~mp"], worst["sym~f64"]
    print(f"{row.name}: {len(row.cases)} cases, tol {row.tol:g} ({row.why}); worst "
          + ", ".join(f"{k} {v:.2g}" for k, v in worst.items()))


# --- names and signatures --------------------------------------------------------------------

FLOAT64_FUNCTIONS = {  # name -> the float64 function (the rest are methods of jjt_law(...))
    "alpha": identity.alpha, "alpha_complement": identity.alpha_complement,
    "log_alpha_complement": identity.log_alpha_complement, "layer_alphas": identity.layer_alphas,
    "forward_moments": identity.forward_moments, "hardtanh_second_moment": identity.hardtanh_second_moment,
    "jjt_eigenvalues": identity.jjt_eigenvalues, "max_q0": select.max_q0, "sigma_window": select.sigma_window,
}
LAW_METHODS = ("atoms", "log_atoms", "weights", "mean", "var", "moment", "log_moment")


def _head(fn) -> list[str]:
    """The names of the positional-or-keyword parameters, in order."""
    return [p.name for p in inspect.signature(fn).parameters.values()
            if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]


@pytest.mark.parametrize("name", sorted(FLOAT64_FUNCTIONS) + list(LAW_METHODS))
def test_same_signatures(name):
    heads = {"precise": _head(getattr(precise, name))}
    if name != "jjt_eigenvalues":  # sympy has no per-input form
        heads["symbolic"] = _head(getattr(symbolic, name))
    if name in FLOAT64_FUNCTIONS:
        heads["float64"] = _head(FLOAT64_FUNCTIONS[name])
    else:  # a method of the law; the law itself is built from the four
        heads["float64"] = _head(identity.jjt_law)[:4]
    assert len({tuple(h) for h in heads.values()}) == 1, heads
    head = heads["precise"]
    if "sigma" in head and "q0" in head:
        assert head[:4] == ["sigma", "q0", "depth", "activation"], head
    for mod in (precise, symbolic):
        if hasattr(mod, name):
            params = inspect.signature(getattr(mod, name)).parameters
            for option in ("k", "ks", "bias", "layers", "dps"):
                if option in params:
                    assert params[option].kind is inspect.Parameter.KEYWORD_ONLY, (mod.__name__, name, option)
    assert name in precise.__all__ and (name == "jjt_eigenvalues" or name in symbolic.__all__)


def test_every_shared_name_is_in_the_table():
    """A result present at two precisions is in the table above (so the loop holds it)."""
    rows = {r.name for r in ROWS}
    shared = (set(precise.__all__) & (set(symbolic.__all__) | set(identity.__all__) | set(select.__all__)
                                      | set(LAW_METHODS)))
    assert shared <= rows, sorted(shared - rows)
