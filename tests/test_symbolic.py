"""The sympy forms: structure, derivations, LaTeX and lambdify (numbers checked in test_accuracy)."""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from rmt_idinit import precise as P
from rmt_idinit import symbolic as sy


def test_default_symbols_and_piecewise_regimes():
    a = sy.alpha()
    assert isinstance(a, sp.Piecewise)
    assert a.free_symbols == {sy.SIGMA, sy.Q0, sy.DEPTH}
    # sigma <= 1 branch does not depend on L; both branches agree at sigma = 1
    assert sy.DEPTH not in a.args[1][0].free_symbols
    assert sp.simplify(a.args[0][0].subs(sy.SIGMA, 1) - a.args[1][0].subs(sy.SIGMA, 1)) == 0
    assert sy.alpha(2, sp.Rational(1, 2), 3) == sp.erf(sp.Rational(1, 8))
    assert sy.alpha(sp.Rational(1, 2), 2, 10) == sp.erf(1)


def test_complement_and_alpha_sum_to_one():
    expr = sy.alpha() + sy.alpha_complement()
    for s in (sp.Rational(1, 2), 1, 3):
        assert sp.simplify(expr.subs(sy.SIGMA, s).rewrite(sp.erf)) == 1


def test_relative_variance_is_one_over_alpha_minus_one():
    a = sy.alpha(2, 1, 3)
    assert sp.simplify(sy.relative_variance(2, 1, 3) - (1 / a - 1)) == 0
    # and it is the ratio of the variance to the squared mean
    assert sp.simplify((sy.var(2, 1, 3) / sy.mean(2, 1, 3) ** 2 - (1 / a - 1)).rewrite(sp.erf)) == 0


def test_moments_of_atoms():
    atoms, weights = sy.atoms(2, 1, 3), sy.weights(2, 1, 3)
    assert atoms == [64, 0]
    m2 = sum(w * x ** 2 for w, x in zip(weights, atoms))
    assert sp.simplify(m2 - sy.moment(2, 1, 3, k=2)) == 0
    assert (sy.atoms(activation="linear"), sy.weights(activation="linear")) == ([sy.SIGMA ** (2 * sy.DEPTH)], [1])
    assert sy.log_atoms(2, 1, 3) == [6 * sp.log(2), -sp.oo]
    for f in (sy.atoms, sy.weights, sy.alpha, sy.moment, sy.forward_moments):
        with pytest.raises(ValueError, match="activation must be one of"):
            f(activation="tanh")


@pytest.mark.parametrize("act, slope", [("relu", None), ("leaky_relu", sp.Rational(1, 5)), ("linear", None)])
def test_piecewise_moments_are_sums_over_atoms(act, slope):
    a, w = sy.atoms(activation=act, negative_slope=slope), sy.weights(activation=act, negative_slope=slope)
    k = sp.Rational(3, 2)
    ref = sum(wi * ai ** k for wi, ai in zip(w, a))
    assert sp.simplify(sy.moment(activation=act, k=k, negative_slope=slope) - ref) == 0
    m = sum(wi * ai for wi, ai in zip(w, a))
    v = sum(wi * (ai - m) ** 2 for wi, ai in zip(w, a))
    assert sp.simplify(sy.var(activation=act, negative_slope=slope) - v) == 0
    assert sp.simplify(sy.alpha(activation=act, negative_slope=slope) + sy.alpha_complement(
        activation=act, negative_slope=slope) - 1) == 0


def test_second_moment_derivation_matches_formula():
    assert sp.simplify(sy.derive_hardtanh_second_moment() - sy.hardtanh_second_moment()) == 0


def test_forward_moment_regimes():
    (fm,) = sy.forward_moments()  # a symbolic depth: the last layer only
    assert isinstance(fm, sp.Piecewise)
    assert sp.simplify(sy.forward_moments(1, 1, 5)[-1] - sy.hardtanh_second_moment(1)) == 0
    assert sy.forward_moments(2, 1, 3, layers=[sy.LAYER])[0].free_symbols == {sy.LAYER}
    assert len(sy.forward_moments(2, 1, 7)) == 7


@pytest.mark.parametrize("regime, m", [("sigma > 1", sy.DEPTH), ("sigma <= 1", 1)])
def test_derive_q0_boundary(regime, m):
    d = sy.derive_q0_boundary(regime)
    assert d["x_solution"] == sp.erfinv(1 - sy.EPS)
    expected = sy.SIGMA ** (-2 * m) / (2 * sp.erfinv(1 - sy.EPS) ** 2)
    assert sp.simplify(d["boundary"] - expected) == 0
    # at the boundary alpha = 1 - eps exactly, and alpha decreases in q0
    x = sp.Symbol("x", positive=True)  # erfinv(1 - eps) > 0 for 0 < eps < 1
    lhs = d["equation"].lhs.subs(sy.Q0, d["boundary"].subs(sp.erfinv(1 - sy.EPS), x))
    assert sp.simplify(lhs) == sp.erf(x)
    assert d["monotone"].subs({sy.SIGMA: 2, sy.Q0: 1, sy.DEPTH: 3}).evalf() < 0
    # and the stated q0_max is the same expression
    branch = 0 if regime == "sigma > 1" else 1
    assert sp.simplify(sy.max_q0().args[branch][0] - expected) == 0
    with pytest.raises(ValueError, match="regime must be"):
        sy.derive_q0_boundary("sigma < 1")


def test_q0_boundary_numerically_with_precise():
    # alpha(sigma, q0_max, L) = 1 - eps, checked at 50 digits in mpmath
    for s, L, eps in [(1.02, 50, "1e-3"), (0.9, 10, "1e-6"), (2.0, 3, "0.01")]:
        q = sy.max_q0(sp.Float(s, 60), L, eps=sp.Float(eps, 60)).evalf(55)
        with mpmath.workdps(50):
            c = P.alpha_complement(mpmath.mpf(str(sp.Float(s, 60))), mpmath.mpf(str(q)), L)
            assert abs(c - mpmath.mpf(eps)) <= mpmath.mpf("1e-40") * mpmath.mpf(eps)


def test_sigma_window():
    lo, hi = sy.sigma_window(5, kappa=1024)
    assert (lo, hi) == (sp.Rational(1, 2), 2)
    lo, hi = sy.sigma_window()
    assert sp.simplify(hi ** (2 * sy.DEPTH) - sy.KAPPA) == 0 and sp.simplify(lo * hi - 1) == 0


def test_latex_and_lambdify():
    tex = sy.latex(sy.max_q0())
    assert r"\operatorname{erfinv}" in tex and r"\varepsilon" in tex and r"\sigma" in tex
    f = sy.lambdify(sy.alpha(), [sy.SIGMA, sy.Q0, sy.DEPTH], modules="scipy")
    assert math.isclose(float(f(1.02, 0.1, 50)), 0.7599549998057694, rel_tol=1e-13)
    assert math.isclose(float(f(0.9, 1.0, 7)), 0.733479474194989, rel_tol=1e-13)
    g = sy.lambdify(sy.forward_moments()[0], modules="mpmath")  # args sorted by name: L, q0, sigma
    with mpmath.workdps(30):
        assert abs(g(3, mpmath.mpf(1), mpmath.mpf(1)) - P.hardtanh_second_moment(1, dps=30)) < mpmath.mpf("1e-28")
    h = sy.lambdify(sy.max_q0(), [sy.SIGMA, sy.DEPTH, sy.EPS], modules="scipy")
    assert np.all(np.isfinite(h(np.array([0.9, 1.5]), 10, 1e-3)))


# --- bad input: numbers are checked like the float64 API, symbols pass ------------------------

@pytest.mark.parametrize("call, match", [
    (lambda: sy.alpha(-1.0, 0.1, 50), r"^sigma must be a finite number > 0, got -1.0$"),
    (lambda: sy.alpha(1.0, -1, 50), r"^q0 must be a finite number > 0, got -1.0$"),
    (lambda: sy.alpha(1.0, 0.1, 2.5), r"^depth must be an integer >= 1, got 2.5$"),
    (lambda: sy.alpha(1.0, 0.1, "5/2"), r"^depth must be an integer >= 1, got 2.5$"),
    (lambda: sy.max_q0(1.0, 10, eps=1.5), r"^eps must be a number in the open interval \(0, 1\), got 1.5$"),
    (lambda: sy.sigma_window(10, kappa="1/2"), r"^kappa must be a finite number > 1, got 0.5$"),
    (lambda: sy.moment(1, 1, 1, k=0), r"^k must be a finite number > 0, got 0.0$"),
])
def test_numbers_are_checked(call, match):
    """Before: symbolic.alpha(-1.0, 0.1, 50) returned -0.998, q0 = -1 a complex erf, depth 2.5 was
    accepted."""
    with pytest.raises(ValueError, match=match):
        call()


def test_arrays_and_garbage_are_type_errors():
    with pytest.raises(TypeError, match="^sigma must be a single number or sympy expression"):
        sy.alpha(np.array([1.0, 2.0]), 0.1, 3)
    with pytest.raises(TypeError, match="^q0 must be a number or sympy expression"):
        sy.alpha(1.0, "1/", 3)
    with pytest.raises(TypeError, match="^q0 must be real"):
        sy.alpha(1.0, 1j, 3)


def test_numpy_scalars_and_symbols_pass():
    """0-d numpy arrays raised raw sympy errors before."""
    assert sy.alpha(np.float64(2.0), np.array(0.5), np.int64(3)) == sy.alpha(2.0, 0.5, 3)
    e = sy.alpha(sy.SIGMA, sp.Rational(1, 2), sy.DEPTH)
    assert e.free_symbols == {sy.SIGMA, sy.DEPTH}
    x = sp.Symbol("x")  # no assumptions: still passes, the user owns it
    assert sy.alpha(x, 0.1, 3).has(x)
