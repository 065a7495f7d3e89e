"""float64 closed forms and quadrature against the mpmath references (and sympy against mpmath).

References: :mod:`rmt_idinit.precise` at 50 digits (closed forms) or ~20 digits (quadrature over u
of the iterated scalar map, still ~1e-17), and :mod:`rmt_idinit.symbolic` evaluated with evalf(50).
Relative error is measured where the reference is a normal double (> 1e-300); below that the
float64 code must give 0 or carry the value in logs.
"""
from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

import rmt_idinit as ri
from rmt_idinit import precise as P
from rmt_idinit import symbolic as sy

SIGMAS = [0.5, 0.9, 0.999, 1.0, 1.0001, 1.02, 1.5, 3.0]
DEPTHS = [1, 2, 10, 100, 1000, 10_000, 100_000]
Q0S = [1e-8, 1e-4, 1e-2, 1.0, 1e2]
PIECEWISE = [("hardtanh", {}), ("relu", {}), ("leaky_relu", {"negative_slope": 0.2}), ("linear", {})]
TOL = 1e-12
TINY = mpmath.mpf("1e-300")
HUGE = mpmath.mpf("1e300")


def rel_err(value, ref) -> float:
    ref = mpmath.mpf(ref)
    if ref == 0:
        return 0.0 if value == 0 else math.inf
    return float(abs((mpmath.mpf(float(value)) - ref) / ref))


def _grid():
    return np.meshgrid(SIGMAS, Q0S, DEPTHS, indexing="ij")


@pytest.mark.parametrize("act, kw", PIECEWISE, ids=[a for a, _ in PIECEWISE])
def test_closed_forms_vs_precise(act, kw):
    S, Q, D = _grid()
    alpha = ri.alpha(S, Q, D, act, **kw)
    comp = ri.alpha_complement(S, Q, D, act, **kw)
    law = ri.jjt_law(S, Q, D, act, **kw)
    mean, var, logm = law.mean(), law.var(), law.log_moment(1.0)
    worst = {}
    for idx in np.ndindex(S.shape):
        s, q, d = float(S[idx]), float(Q[idx]), int(D[idx])
        a_ref, c_ref = P.alpha(s, q, d, act, **kw), P.alpha_complement(s, q, d, act, **kw)
        la_ref, w_ref = P.log_atoms(s, q, d, act, **kw), P.weights(s, q, d, act, **kw)
        checks = [("alpha", alpha[idx], a_ref), ("alpha_complement", comp[idx], c_ref)]
        for i, (la, w) in enumerate(zip(la_ref, w_ref)):
            if la == mpmath.ninf:
                assert law.log_atoms[idx][i] == -np.inf
            else:  # finite logs even where sigma^(2L) overflows double (e.g. 3^(2e5))
                checks.append(("log_atoms", law.log_atoms[idx][i], la))
            checks.append(("weights", law.weights[idx][i], w))
        if a_ref > TINY:  # alpha below double range: see test_log_moment_where_alpha_underflows
            m_ref, v_ref = P.mean(s, q, d, act, **kw), P.var(s, q, d, act, **kw)
            checks += [("mean", mean[idx], m_ref), ("var", var[idx], v_ref)]
            checks.append(("log_moment", logm[idx], P.log_moment(s, q, d, act, k=1, **kw)))
        for name, got, ref in checks:
            if abs(ref) > HUGE:
                assert got == np.inf, (name, s, q, d)
            elif 0 < abs(ref) < TINY:
                assert abs(got) < 1e-290, (name, s, q, d)
            else:
                # logs: absolute error where |log| < 1 (log alpha ~ 0 and log_atoms = 0 at sigma = 1)
                e = rel_err(got, ref) if not name.startswith("log") else float(
                    abs(mpmath.mpf(float(got)) - ref) / max(1, abs(ref)))
                worst[name] = max(worst.get(name, 0.0), e)
                assert e <= TOL, (name, act, s, q, d, e)
    print(act, {k: f"{v:.2g}" for k, v in worst.items()})


def test_log_moment_where_alpha_underflows():
    # alpha = erf(1.02^-1e5 / ...) ~ 1e-856 underflows double; the law carries log weights
    ref = P.log_moment(1.02, 1e-8, 100_000, k=1)
    got = ri.jjt_law(1.02, 1e-8, 100_000).log_moment(1.0)
    assert float(abs(got - ref) / abs(ref)) <= TOL


def test_alpha_complement_down_to_1e300():
    # sigma <= 1: 1 - alpha = erfc(1/(sigma sqrt(2 q0))); choose x so erfc(x) spans 1e-1 ... 1e-300
    targets = [10.0 ** -e for e in (1, 2, 5, 10, 20, 50, 100, 150, 200, 250, 300)]
    worst = 0.0
    for t in targets:
        with mpmath.workdps(30):
            x = mpmath.findroot(lambda x: mpmath.log(mpmath.erfc(x)) - mpmath.log(t), mpmath.sqrt(-mpmath.log(t)))
        for s in (1.0, 0.5, 0.999):
            q0 = float(1 / (2 * (s * x) ** 2))
            ref = P.alpha_complement(s, q0, 7)
            assert mpmath.mpf("1e-302") < ref < mpmath.mpf("0.2")
            e = rel_err(ri.alpha_complement(s, q0, 7), ref)
            worst = max(worst, e)
            assert e <= TOL, (t, s, e)
    print(f"alpha_complement (sigma <= 1) worst {worst:.2g}")


def _erfc_arg(t):
    with mpmath.workdps(30):
        return mpmath.findroot(lambda x: mpmath.log(mpmath.erfc(x)) - mpmath.log(t), mpmath.sqrt(-mpmath.log(t)))


# erfc amplifies the relative error of x = sigma^-L / sqrt(2 q0) by 2x^2 (~1400 at 1e-300): the
# float64 code forms x with pow(); the former exp-of-logs form measured 1.8e-12 at sigma = 3, L = 10.
@pytest.mark.parametrize("s, d", [(1.0001, 10_000), (1.02, 100), (3.0, 10)])
@pytest.mark.parametrize("e10", [1, 2, 5, 10, 20, 50, 100, 150, 200, 250, 300])
def test_alpha_complement_down_to_1e300_deep(s, d, e10):
    # sigma > 1 at depth L: choose q0 = sigma^(-2L) / (2 x^2) so that 1 - alpha = 10^-e10
    x = _erfc_arg(mpmath.mpf(10) ** -e10)
    q0 = float(mpmath.mpf(s) ** (-2 * d) / (2 * x * x))
    ref = P.alpha_complement(s, q0, d)
    assert mpmath.mpf("1e-302") < ref < mpmath.mpf("0.2")
    assert rel_err(ri.alpha_complement(s, q0, d), ref) <= TOL




@pytest.mark.parametrize("s, q0, d", [(1.0, 1e-4, 1), (0.5, 1e-6, 50), (0.9, 1e-8, 3), (1.0001, 1e-12, 10),
                                      (1.0, 1e-4, 100_000), (0.999, 2e-5, 7)])
def test_log_alpha_complement_where_complement_underflows(s, q0, d):
    ref = P.log_alpha_complement(s, q0, d)
    assert ref < -700  # exp(ref) underflows double
    assert ri.alpha_complement(s, q0, d) == 0.0
    assert rel_err(ri.log_alpha_complement(s, q0, d), ref) <= TOL


def _forward_ok(act, s, q0, l):
    """The regimes where the float64 forward moments are representable (no underflow to 0)."""
    if act != "hardtanh":
        return True
    if s > 1:
        return True
    return 2 * l * math.log(s) > -690  # sigma^(2l) must not underflow


@pytest.mark.parametrize("act, kw", PIECEWISE, ids=[a for a, _ in PIECEWISE])
def test_forward_moments_vs_precise(act, kw):
    worst, checked = 0.0, 0
    for s in SIGMAS:
        for q0 in Q0S:
            for d in (100, 1000, 100_000):
                layers = [l for l in (1, 2, 10, 55, 100, d) if l <= d and _forward_ok(act, s, q0, l)]
                if not layers or not _forward_ok(act, s, q0, d):
                    continue
                got = ri.forward_moments(s, q0, d, act, **kw)[np.array(layers) - 1]
                ref = P.forward_moments(s, q0, d, act, layers=layers, **kw)
                for g, r in zip(got, ref):
                    if r > HUGE:
                        assert g == np.inf
                    elif r < TINY:
                        assert abs(g) < 1e-290
                    else:
                        e = rel_err(g, r)
                        worst, checked = max(worst, e), checked + 1
                        assert e <= TOL, (act, s, q0, d, g, r, e)
    print(act, f"forward_moments worst {worst:.2g} over {checked}")


# formerly failing: the closed form cancelled terms of size sqrt(q) (-63 instead of 1 - 1.6e-9)
@pytest.mark.parametrize("s, q0, d", [(1.5, 1.0, 100), (1.02, 1.0, 1000), (3.0, 1e-4, 1000)])
def test_forward_moments_hardtanh_large_q(s, q0, d):
    assert rel_err(ri.forward_moments(s, q0, d)[-1], P.forward_moments(s, q0, d, layers=[d])[0]) <= TOL


def test_forward_moments_hardtanh_deep_contracting():
    # sigma < 1 deep: 0.25^999 underflows double, so the float64 value is exactly 0; at depth 500
    # (0.25^499 ~ 1e-300) it is still representable and must be accurate
    assert ri.forward_moments(0.5, 1.0, 1000)[-1] == 0.0
    ref = P.forward_moments(0.5, 1.0, 500, layers=[500])[0]
    assert rel_err(ri.forward_moments(0.5, 1.0, 500)[-1], ref) <= TOL


# --- smooth activations: quadrature vs mpmath quadrature ------------------------------------

SMOOTH_CASES = [
    ("tanh", 1.5, 0.5, 50),   # sigma > 1: a peak of width 1.5^-50 at u = 0 carries the moments
    ("tanh", 0.9, 2.0, 100),
    ("erf", 1.2, 1.0, 60),
    ("sigmoid", 1.5, 1.0, 50),
    ("gelu", 1.5, 1.0, 50),   # unstable fixed point h* = 0.43: units die or grow like 1.5^l
    ("gelu", 2.5, 1.0, 50),   # 0 unstable, rate 1.25
    ("silu", 1.5, 1.0, 50),
    ("silu", 1.1, 1.0, 100),
    ("softplus", 1.2, 0.5, 50),
]


@pytest.mark.parametrize("act, s, q0, d", SMOOTH_CASES)
def test_smooth_moments_vs_precise(act, s, q0, d):
    refs = P.jjt_moments(s, q0, d, act, dps=18, ks=[1, 2])  # ~1e-17: GL at 28 digits agrees
    law = ri.jjt_law(s, q0, d, act)
    errs = [rel_err(law.moment(k), r) for k, r in zip((1, 2), refs)]
    print(act, s, q0, d, [f"{e:.2g}" for e in errs])
    assert max(errs) <= 1e-8, errs


# --- sympy vs mpmath -------------------------------------------------------------------------

SYM_POINTS = [(0.5, 1e-2, 3), (0.9, 1.0, 10), (1.0, 0.5, 7), (1.02, 0.1, 50), (1.5, 1e-4, 20), (3.0, 1e2, 2)]


def _ev(expr, **vals):
    subs = {sy.SIGMA: sp.Float(vals["s"], 60), sy.Q0: sp.Float(vals["q"], 60), sy.DEPTH: vals["d"]}
    return mpmath.mpf(str(sp.N(expr.subs(subs), 50)))


def _close(a, b, tol=mpmath.mpf("1e-40")):
    with mpmath.workdps(60):
        return abs(a - b) <= tol * abs(b)


@pytest.mark.parametrize("s, q, d", SYM_POINTS)
def test_symbolic_vs_precise(s, q, d):
    with mpmath.workdps(50):
        assert _close(_ev(sy.alpha(), s=s, q=q, d=d), P.alpha(s, q, d))
        assert _close(_ev(sy.alpha_complement(), s=s, q=q, d=d), P.alpha_complement(s, q, d))
        assert _close(_ev(sy.mean(), s=s, q=q, d=d), P.mean(s, q, d))
        assert _close(_ev(sy.var(), s=s, q=q, d=d), P.var(s, q, d))
        assert _close(_ev(sy.moment(k=3), s=s, q=q, d=d), P.moment(s, q, d, k=3))
        assert _close(_ev(sy.relative_variance(), s=s, q=q, d=d),
                      P.var(s, q, d) / P.mean(s, q, d) ** 2)
        assert _close(_ev(sy.forward_moments()[0], s=s, q=q, d=d), P.forward_moments(s, q, d, layers=[d])[0])
        atoms, weights = sy.atoms(), sy.weights()
        la, w = P.log_atoms(s, q, d), P.weights(s, q, d)
        assert _close(mpmath.log(_ev(atoms[0], s=s, q=q, d=d)), la[0])
        assert _close(_ev(weights[1], s=s, q=q, d=d), w[1])
        for l, a in enumerate(P.layer_alphas(s, q, min(d, 5)), start=1):
            assert _close(_ev(sy.alpha(depth=l), s=s, q=q, d=d), a)
