"""The branch-free elementary functions of the numba kernels against mpmath, in ulp.

Each function is evaluated on a dense grid over its whole double range plus the edge values
(0, subnormals, the overflow and underflow thresholds of exp, the saturated tails of tanh and
sigmoid) and compared with mpmath at 40 digits, rounded once to double. The error is measured in
units of the last place of the true value (the spacing of doubles there, down to the smallest
subnormal), and the largest one is asserted.
"""
import math
import re

import mpmath as mp
import numpy as np
import pytest

from rmt_idinit._core import kernels as K

mp.mp.dps = 40
TINY = 5e-324


def ulp_error(got, exact):
    """|got - exact| in units of the spacing of doubles at ``exact`` (exact: mpf values)."""
    out = np.empty(len(got))
    for i, (g, e) in enumerate(zip(got, exact)):
        ef = float(e)
        if math.isinf(ef):
            out[i] = 0.0 if g == ef else np.inf
            continue
        spacing = max(float(np.spacing(abs(ef))), TINY) if ef != 0.0 else TINY
        out[i] = float(abs(mp.mpf(g) - e) / spacing)
    return out


def signed_grid(lo_exp, hi, n_geo, n_lin):
    geo = np.geomspace(10.0 ** lo_exp, hi, n_geo)
    lin = np.linspace(-hi, hi, n_lin)
    return np.unique(np.concatenate([-geo, geo, lin, [0.0, TINY, -TINY, 2.2250738585072014e-308]]))


def test_exp_ulp_over_the_whole_range():
    x = np.unique(np.concatenate([
        np.linspace(-745.2, 709.8, 6001),
        np.linspace(-1.0, 1.0, 2001),
        signed_grid(-300, 1.0, 300, 0),
        # reduction boundaries (|r| = ln2/2), gradual underflow, overflow thresholds
        [math.log(2) / 2 * k for k in range(-9, 10)],
        [-708.39641853226408, -708.4, -720.0, -740.0, -744.44007192138122, -745.13321910194110,
         -745.1332191019412, -745.2, 709.78271289338397, 709.782712893384, 709.79, 710.0, 800.0, -800.0],
    ]))
    got = np.array([K.vexp(v) for v in x])
    err = ulp_error(got, [mp.exp(mp.mpf(v)) for v in x])
    assert np.max(err) <= 1.5, f"max {np.max(err):.2f} ulp at x = {x[np.argmax(err)]!r}"
    assert K.vexp(np.inf) == np.inf and K.vexp(-np.inf) == 0.0 and math.isnan(K.vexp(np.nan))



def test_the_tanh_kernels_exp_ulp_down_to_the_subnormals():
    """exp(-2|h|) through the tanh kernel's own shortened reduction (vexp_m2abs)."""
    h = np.unique(np.concatenate([
        signed_grid(-300, 380.0, 1500, 4001),
        [math.log(2) / 4 * k for k in range(0, 40)],
        # exp(-2a) crosses into the subnormals at a ~ 354.0, underflows at a ~ 372.6
        np.linspace(353.0, 373.5, 2001), [372.56, 372.57, 373.0, 373.0000001, 400.0, 1e300],
    ]))
    got = np.array([K.vexp_m2abs(v) for v in h])
    err = ulp_error(got, [mp.exp(-2 * abs(mp.mpf(v))) for v in h])
    assert np.max(err) <= 1.5, f"max {np.max(err):.2f} ulp at h = {h[np.argmax(err)]!r}"
    assert K.vexp_m2abs(np.inf) == 0.0 and K.vexp_m2abs(-np.inf) == 0.0 and math.isnan(K.vexp_m2abs(np.nan))

def test_tanh_and_its_derivative_ulp_including_saturated_tails():
    x = signed_grid(-300, 380.0, 1500, 4001)
    got = np.array([K.vtanh_both(v) for v in x])
    t_err = ulp_error(got[:, 0], [mp.tanh(mp.mpf(v)) for v in x])
    d_err = ulp_error(got[:, 1], [mp.sech(mp.mpf(v)) ** 2 for v in x])
    assert np.max(t_err) <= 3.0, f"tanh: {np.max(t_err):.2f} ulp at {x[np.argmax(t_err)]!r}"
    # sech^2 keeps its relative accuracy down to the subnormals (|x| ~ 372); 1 - tanh^2 would not
    normal = np.abs(got[:, 1]) >= 2.2250738585072014e-308
    assert np.max(d_err[normal]) <= 4.0, f"sech^2: {np.max(d_err[normal]):.2f} ulp"
    assert np.max(d_err) <= 4.0  # in subnormal ulps where it underflows
    assert K.vtanh_both(np.inf) == (1.0, 0.0) and K.vtanh_both(-np.inf) == (-1.0, 0.0)
    assert K.vtanh_both(-0.0)[1] == 1.0


def test_sigmoid_pair_ulp():
    x = signed_grid(-300, 745.0, 1500, 4001)
    got = np.array([K.vsigmoid_parts(v) for v in x])
    s = [1 / (1 + mp.exp(-mp.mpf(v))) for v in x]
    sm = [1 / (1 + mp.exp(mp.mpf(v))) for v in x]
    e1, e2 = ulp_error(got[:, 0], s), ulp_error(got[:, 1], sm)
    assert max(np.max(e1), np.max(e2)) <= 3.0, (np.max(e1), np.max(e2))
    d = ulp_error(got[:, 0] * got[:, 1], [a * b for a, b in zip(s, sm)])
    assert np.max(d) <= 5.0, np.max(d)


def test_silu_kernel_ulp():
    x = signed_grid(-300, 700.0, 1000, 4001)
    got = np.array([K.phi_dphi(8, v, np.zeros(1)) for v in x])
    sig = [1 / (1 + mp.exp(-mp.mpf(v))) for v in x]
    err = ulp_error(got[:, 0], [mp.mpf(v) * s for v, s in zip(x, sig)])
    assert np.max(err) <= 4.0, np.max(err)
    # silu' = s (1 + h (1 - s)) crosses 0 at h = -1.278...: measured against the size of its terms
    dex = [s * (1 + mp.mpf(v) * (1 - s)) for v, s in zip(x, sig)]
    scale = [abs(s) * (1 + abs(mp.mpf(v)) * (1 - s)) for v, s in zip(x, sig)]
    rel = np.array([float(abs(mp.mpf(g) - e) / sc) if sc > 0 else 0.0
                    for g, e, sc in zip(got[:, 1], dex, scale)])
    assert np.max(rel) <= 1e-15, np.max(rel)


@pytest.mark.parametrize("beta", [1.0, 0.3, 7.0])
def test_softplus_and_log1p_ulp(beta):
    x = signed_grid(-300, 700.0 / beta, 1000, 4001)
    got = np.array([K.vsoftplus_both(v, beta) for v in x])
    b = mp.mpf(beta)
    # beta*h is rounded once before anything else (exp then scales that rounding by |beta h|,
    # as in any float64 code): measured against the exact function of the rounded product
    bh = [mp.mpf(float(beta * v)) for v in x]
    exact = [mp.log1p(mp.exp(t)) / b for t in bh]
    err = ulp_error(got[:, 0], exact)
    assert np.max(err) <= 4.0, f"softplus: {np.max(err):.2f} ulp at {x[np.argmax(err)]!r}"
    d_err = ulp_error(got[:, 1], [1 / (1 + mp.exp(-t)) for t in bh])
    assert np.max(d_err) <= 3.0, np.max(d_err)
    y = np.concatenate([[0.0, TINY, 1e-300, 1e-17, 1.0], np.geomspace(1e-20, 1.0, 3001),
                        np.linspace(0.0, 1.0, 2001)])
    lerr = ulp_error([K.vlog1p(v) for v in y], [mp.log1p(mp.mpf(v)) for v in y])
    assert np.max(lerr) <= 2.0, np.max(lerr)


def test_gelu_and_erf_derivatives_use_the_vector_exp_accurately():
    x = np.linspace(-37.0, 37.0, 3001) + 1e-3
    # gelu' = Phi(h) + h pdf(h) cancels for h << 0: measured against the size of its terms
    for code, a, fn, size in (
            (5, 1.3, lambda v: 2 * mp.mpf(1.3) / mp.sqrt(mp.pi) * mp.exp(-(mp.mpf(1.3) * v) ** 2), None),
            (7, 0.0, lambda v: mp.ncdf(v) + v * mp.npdf(v), lambda v: mp.ncdf(v) + abs(v) * mp.npdf(v))):
        got = np.array([K.phi_dphi(code, v, np.array([a]))[1] for v in x])
        exact = np.array([float(fn(mp.mpf(v))) for v in x])
        scale = np.abs(exact) if size is None else np.array([float(size(mp.mpf(v))) for v in x])
        # the Gaussian's argument a^2 h^2 is rounded once: relative error <= (a h)^2 * 2^-52 or so
        tol = 4e-16 * (1.0 + (np.maximum(a, 1.0) * x) ** 2)
        rel = np.abs(got - exact) / np.maximum(scale, 1e-300)
        assert np.all((rel <= tol) | (np.abs(exact) < 1e-290)), np.max(rel / tol)


def test_the_recursion_loop_is_vectorized():
    """The inner loop of the kernel compiles to packed SIMD arithmetic with no libm calls."""
    from numba import njit

    from rmt_idinit.recursion import _run_chunk

    # a serial copy (quicker to compile; the same inner loops): cached code has no asm to inspect
    fresh = njit(fastmath={"contract"})(_run_chunk.py_func)
    P, U = 1, 100
    f = np.zeros((P, U))
    fresh(4, np.zeros(1), np.ones(P), np.zeros(P), np.ones((P, U)), np.ones((P, U)),
          np.zeros((P, U), np.int64), np.full((P, U), np.nan), np.full((P, U), np.nan), np.zeros((P, U), np.int64), f.copy(),
          f.copy(), f.copy(), 0, 3, np.array([3]), False, 2, np.zeros((1, P, U)), np.zeros((1, 1, 1)),
          np.zeros((1, 1), np.int64), False)
    asm = "\n".join(fresh.inspect_asm().values())
    packed = len(re.findall(r"\bv(fmadd|fnmadd|mul|add|div)\d*pd\s+[^\n]*%(ymm|zmm)", asm))
    assert packed >= 50, f"only {packed} packed double instructions"
    assert not re.search(r"\b(exp|tanh|expm1|log1p)\b@?", " ".join(re.findall(r"call\w*\s+\S+", asm)))
