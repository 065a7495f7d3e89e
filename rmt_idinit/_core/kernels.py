"""Scalar numba kernels of the activations, ``f(h, p)`` with parameters packed in ``p``.

Kept apart from :mod:`rmt_idinit.activations` so that numba is imported only when a recursion runs.

The layer recursion calls ``phi_dphi`` and the block form :func:`act_block` in its inner loop. Those
use the branch-free elementary functions below (:func:`vexp`, :func:`vexpm1_parts`,
:func:`vlog1p`) instead of libm: pip's llvmlite has no vector math library, so a call to libm
``exp`` or ``tanh`` keeps LLVM from vectorizing the loop, whereas a range reduction and a
polynomial made of multiplies, adds and bit operations become SIMD code. Accuracy (held against
mpmath in tests/_core/test_kernels.py): a few ulp over the whole double range, subnormal results included.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRTPI = 2.0 / math.sqrt(math.pi)

# --- vectorizable elementary functions ------------------------------------------------------

_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453
_LN2_HI = 0.6931471803691238     # ln 2 rounded to 32 bits: k * _LN2_HI is exact for |k| < 2^21
_LN2_LO = 1.9082149292705877e-10  # ln 2 - _LN2_HI
_SHIFTER = 6755399441055744.0     # 1.5 * 2^52: adding it rounds to an integer held in the low bits
_SQRT2 = 1.4142135623730951
# expm1(r) = r + r^2 q(r) on |r| <= ln2/2, q(r) = 1/2 + c1 r + ... + c10 r^10: c0 = 1/2 exact and
# c1..c10 interpolating at Chebyshev points (tools/expm1_poly.py, which prints these): relative
# error 2.5e-18 with the rounded coefficients (degree 12, where the Taylor series needs 13 for 2e-17)
_Q1, _Q2, _Q3 = 0.16666666666666669, 0.041666666666666664, 0.008333333333330065
_Q4, _Q5, _Q6 = 0.0013888888888886554, 0.00019841269863040545, 2.4801587317135164e-05
_Q7, _Q8, _Q9, _Q10 = 2.7557268480310024e-06, 2.755728298405588e-07, 2.5100375832561234e-08, 2.091122972975856e-09
_K_OFF = int(np.array(_SHIFTER).view(np.int64)) - 1535  # f2i(t) - _K_OFF = k + 512 + 1023 (biased)
_M2LOG2E = -2.0 * _LOG2E
_TWO_M512 = 2.0 ** -512
# 2 atanh(f) = log((1+f)/(1-f)) = 2 (f + f^3/3 + f^5/5 + ...); |f| <= 0.1716, terms to f^21
_L = tuple(1.0 / (2 * n + 1) for n in range(11))


@intrinsic
def _f2i(typingctx, x):
    """Reinterpret a float64's bits as an int64 (a register move; vectorizes)."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _i2f(typingctx, n):
    """Reinterpret an int64's bits as a float64."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def wide_simd(typingctx):
    """Let LLVM vectorize the calling function with 512-bit registers (8 doubles a lane group).

    LLVM tunes AVX-512 server cores to prefer 256-bit vectors (a guard against the clock drop of
    older parts); these loops are FMA-bound and run up to twice as fast at full width. The
    ``prefer-vector-width`` function attribute lifts that preference for the one function (the
    one numba is generating, into which inline="always" callers are merged); on a machine
    without AVX-512 it changes nothing. llvmlite accepts only a fixed list of attribute names,
    so the string attribute is added to the set directly.
    """
    def codegen(context, builder, sig, args):
        set.add(builder.function.attributes, '"prefer-vector-width"="512"')
        return context.get_dummy_value()
    return types.none(), codegen


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def _expm1_reduced(r):
    """``expm1(r)`` for ``|r| <= ln2/2``: the polynomial above in Estrin's scheme.

    The kernels are bound by the latency of their dependency chains (each loop iteration is
    one long chain, and only a couple fit in the out-of-order window), not by the FMA count:
    Estrin's pairs ``c_i + c_(i+1) r`` and powers ``r^2, r^4`` take 4 FMA latencies where
    Horner's rule takes 11.
    """
    r2 = r * r
    r4 = r2 * r2
    a0 = _Q1 * r + 0.5
    a1 = _Q3 * r + _Q2
    a2 = _Q5 * r + _Q4
    a3 = _Q7 * r + _Q6
    a4 = _Q9 * r + _Q8
    b0 = a1 * r2 + a0
    b1 = a3 * r2 + a2
    b2 = _Q10 * r2 + a4
    q = (b2 * r4 + b1) * r4 + b0
    return r + r2 * q


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def vexpm1_parts(x):
    """``(p, s1, s2)`` with ``exp(x) = (1 + p) * s1 * s2`` and ``p = expm1(r)``, ``|r| <= ln2/2``.

    ``x = k ln2 + r`` (Cody-Waite with a 32-bit ln2 head); ``2^k = s1 * s2`` is split in two
    normal powers of two so that results down to the subnormals are rounded once, at the end.
    Arguments are clamped to [-746, 710], beyond which exp is 0 or inf anyway (NaN goes to 710,
    so that exp(NaN) is NaN).
    """
    wide_simd()
    xc = x if x < 710.0 else 710.0
    xc = xc if xc > -746.0 else -746.0
    t = xc * _LOG2E + _SHIFTER
    k = _f2i(t) - _f2i(_SHIFTER)
    kf = t - _SHIFTER
    r = (xc - kf * _LN2_HI) - kf * _LN2_LO
    p = _expm1_reduced(r)
    k1 = k >> 1
    k2 = k - k1
    s1 = _i2f((k1 + 1023) << 52)
    s2 = _i2f((k2 + 1023) << 52)
    return p, s1, s2


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def vexp(x):
    """``exp(x)`` without libm: a few ulp, correct overflow to inf and gradual underflow."""
    p, s1, s2 = vexpm1_parts(x)
    y = (p * s1 + s1) * s2   # (1 + p) s1 rounded once (s1 >= 2^-538: exact scaling of 1 + p)
    return y if x == x else x


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def vlog1p(y):
    """``log(1 + y)`` for ``0 <= y <= 1`` without libm (what softplus needs)."""
    w = 1.0 + y
    c = (y - (w - 1.0)) / w          # the part of y that 1 + y rounded away
    big = w > _SQRT2
    wm = 0.5 * w if big else w
    kf = 1.0 if big else 0.0
    f = (wm - 1.0) / (wm + 1.0)
    f2 = f * f
    s = _L[10]
    s = s * f2 + _L[9]
    s = s * f2 + _L[8]
    s = s * f2 + _L[7]
    s = s * f2 + _L[6]
    s = s * f2 + _L[5]
    s = s * f2 + _L[4]
    s = s * f2 + _L[3]
    s = s * f2 + _L[2]
    s = s * f2 + _L[1]
    lw = kf * _LN2_HI + (2.0 * f + (2.0 * f * f2 * s + (kf * _LN2_LO + c)))
    return lw


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def vexp_m2abs_parts(h):
    """``(p, sc)`` with ``exp(-2|h|) = (1 + p) * sc * 2^-512``, ``p = expm1(r)``: the reduction
    of :func:`vexpm1_parts` shortened for the tanh kernel, whose argument is never positive.

    One clamp (``|h| >= 373`` gives ``exp = 0``, exactly as ``|h| = inf``; NaN passes through),
    ``-2 log2(e)`` folded into the constant (``-2a`` is exact, so ``t`` rounds as before), and
    ``2^k = 2^(k+512) 2^-512`` with ``sc = 2^(k+512)`` normal for every ``k >= -1076``, so a
    subnormal result is still rounded once.
    """
    wide_simd()
    a = abs(h)
    ac = 373.0 if a > 373.0 else a
    t0 = ac * _M2LOG2E + _SHIFTER
    kf = t0 - _SHIFTER
    r = (-2.0 * ac - kf * _LN2_HI) - kf * _LN2_LO
    p = _expm1_reduced(r)
    sc = _i2f((_f2i(t0) - _K_OFF) << 52)
    return p, sc


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def vexp_m2abs(h):
    """``exp(-2|h|)`` as the tanh kernel computes it (a few ulp, down to the subnormals)."""
    p, sc = vexp_m2abs_parts(h)
    return (p * sc + sc) * _TWO_M512


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def vtanh_both(h):
    """``(tanh h, 1 - tanh^2 h)`` from one reduction of ``exp(-2|h|)``.

    ``e = exp(-2a)`` and ``m = expm1(-2a) = 2^k p + (2^k - 1)`` come from the same ``(p, 2^k)``
    (:func:`vexp_m2abs_parts`), so ``tanh = -m / (1 + e)`` has no cancellation near 0 and
    ``4e / (1+e)^2`` keeps full relative accuracy in the saturated tails, down to the subnormals.
    Two divisions: the divider runs beside the FMA ports, and an FMA Newton reciprocal measured
    slower (a longer dependency chain and more uops).
    """
    p, sc = vexp_m2abs_parts(h)
    e = (p * sc + sc) * _TWO_M512
    tk = sc * _TWO_M512
    m = tk * p + (tk - 1.0)
    ope = 1.0 + e
    t = -m / ope
    d = (4.0 * e) / (ope * ope)
    return (t if h >= 0.0 else -t), d


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def vsigmoid_parts(h):
    """``(sigmoid h, sigmoid -h)``, each to a few ulp (no 1 - s cancellation)."""
    p, s1, s2 = vexpm1_parts(-abs(h))
    e = (p * s1 + s1) * s2
    sp = 1.0 / (1.0 + e)
    se = e * sp
    pos = h >= 0.0
    return (sp if pos else se), (se if pos else sp)


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def vsoftplus_both(h, beta):
    bh = beta * h
    p, s1, s2 = vexpm1_parts(-abs(bh))
    e = (p * s1 + s1) * s2
    sp = 1.0 / (1.0 + e)
    y = (bh if bh > 0.0 else 0.0) + vlog1p(e)
    return y / beta, (sp if bh >= 0.0 else e * sp)


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def _expit(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(cache=True)
def phi(code, h, p):
    if code == 0:
        return min(1.0, max(-1.0, h))
    if code == 1:
        return h if h > 0.0 else 0.0
    if code == 2:
        return h if h > 0.0 else p[0] * h
    if code == 3:
        return h
    if code == 4:
        return math.tanh(h)
    if code == 5:
        return math.erf(p[0] * h)
    if code == 6:
        return _expit(h)
    if code == 7:
        return h * 0.5 * math.erfc(-h * _INV_SQRT2)
    if code == 8:
        return h * _expit(h)
    # softplus, stable for large |beta h|
    bh = p[0] * h
    return (max(bh, 0.0) + math.log1p(math.exp(-abs(bh)))) / p[0]


@njit(cache=True)
def dphi(code, h, p):
    if code == 0:
        return 1.0 if abs(h) < 1.0 else 0.0
    if code == 1:
        return 1.0 if h > 0.0 else 0.0
    if code == 2:
        return 1.0 if h > 0.0 else p[0]
    if code == 3:
        return 1.0
    if code == 4:
        c = math.cosh(h)
        return 1.0 / (c * c) if abs(h) < 350.0 else 0.0
    if code == 5:
        a = p[0]
        return _TWO_OVER_SQRTPI * a * math.exp(-(a * h) * (a * h))
    if code == 6:
        return _expit(h) * _expit(-h)
    if code == 7:
        return 0.5 * math.erfc(-h * _INV_SQRT2) + h * _INV_SQRT2PI * math.exp(-0.5 * h * h)
    if code == 8:
        s = _expit(h)
        return s * (1.0 + h * (1.0 - s))
    return _expit(p[0] * h)


@njit(cache=True)
def d2phi(code, h, p):
    if code <= 3:
        return 0.0
    if code == 4:
        c = math.cosh(h)
        return -2.0 * math.tanh(h) / (c * c) if abs(h) < 350.0 else 0.0
    if code == 5:
        a = p[0]
        return -2.0 * a * a * h * _TWO_OVER_SQRTPI * a * math.exp(-(a * h) * (a * h))
    if code == 6:
        s = _expit(h)
        return s * (1.0 - s) * (1.0 - 2.0 * s)
    if code == 7:
        return (2.0 - h * h) * _INV_SQRT2PI * math.exp(-0.5 * h * h)
    if code == 8:
        s = _expit(h)
        return s * (1.0 - s) * (2.0 + h * (1.0 - 2.0 * s))
    b = p[0]
    return b * _expit(b * h) * _expit(-b * h)


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def phi_dphi(code, h, p):
    """``(phi(h), phi'(h))`` sharing the transcendental, with the vectorizable forms above."""
    if code == 4:
        return vtanh_both(h)
    if code == 6:
        s, sm = vsigmoid_parts(h)
        return s, s * sm
    if code == 8:
        s, sm = vsigmoid_parts(h)
        hsm = h * sm if abs(h) < 800.0 else 0.0  # h * sigmoid(-h) -> 0, also at h = inf
        return h * s, s * (1.0 + hsm)
    if code == 9:
        return vsoftplus_both(h, p[0])
    if code == 5:
        a = p[0]
        ah = a * h
        return math.erf(ah), _TWO_OVER_SQRTPI * a * vexp(-ah * ah)
    if code == 7:
        cdf = 0.5 * math.erfc(-h * _INV_SQRT2)
        hpdf = h * _INV_SQRT2PI * vexp(-0.5 * h * h) if abs(h) < 40.0 else 0.0  # also at h = inf
        return h * cdf, cdf + hpdf
    return phi(code, h, p), dphi(code, h, p)


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def act_block(code, p, h, x, d, n):
    """``x[t], d[t] = phi(h[t]), phi'(h[t])`` for ``t < n``: one loop per activation, so that the
    branch on ``code`` sits outside the loop and each loop body is branch-free and vectorizes
    (results are stored one by one: numba's tuple-target store ``x[t], d[t] = ...`` does not)."""
    if code == 4:
        for t in range(n):
            xt, dt = vtanh_both(h[t])
            x[t] = xt
            d[t] = dt
    elif code == 6:
        for t in range(n):
            s, sm = vsigmoid_parts(h[t])
            x[t] = s
            d[t] = s * sm
    elif code == 8:
        for t in range(n):
            ht = h[t]
            s, sm = vsigmoid_parts(ht)
            x[t] = ht * s
            d[t] = s * (1.0 + (ht * sm if abs(ht) < 800.0 else 0.0))
    elif code == 9:
        beta = p[0]
        for t in range(n):
            xt, dt = vsoftplus_both(h[t], beta)
            x[t] = xt
            d[t] = dt
    elif code == 0:
        for t in range(n):
            ht = h[t]
            c = ht if ht < 1.0 else 1.0
            x[t] = c if c > -1.0 else -1.0
            d[t] = 1.0 if abs(ht) < 1.0 else 0.0
    elif code == 1:
        for t in range(n):
            ht = h[t]
            x[t] = ht if ht > 0.0 else 0.0
            d[t] = 1.0 if ht > 0.0 else 0.0
    elif code == 2:
        slope = p[0]
        for t in range(n):
            ht = h[t]
            x[t] = ht if ht > 0.0 else slope * ht
            d[t] = 1.0 if ht > 0.0 else slope
    elif code == 3:
        for t in range(n):
            x[t] = h[t]
            d[t] = 1.0
    else:
        for t in range(n):
            xt, dt = phi_dphi(code, h[t], p)
            x[t] = xt
            d[t] = dt


def builtin(code: int) -> tuple:
    """Kernels ``(phi, dphi, d2phi, code, phi_dphi)`` for a built-in; the code selects the branch."""
    return phi, dphi, d2phi, code, phi_dphi


def user(act) -> tuple:
    """Kernels for a user activation: its functions compiled by numba, or a clear error."""
    try:
        f = njit(act.phi)
        df = njit(act.dphi)
        f(0.5), df(0.5)  # compile now so a failure is reported here, not deep in a kernel
    except Exception as exc:
        raise TypeError(
            f"activation {act.name!r}: phi and dphi must be numba-compilable scalar functions "
            f"(plain math/numpy on one float); numba said: {str(exc).splitlines()[0]}"
        ) from None
    if act.d2phi is not None:
        d2f = njit(act.d2phi)
    else:
        @njit
        def d2f(h):
            step = 1e-5 * max(1.0, abs(h))
            return (df(h + step) - df(h - step)) / (2.0 * step)

    @njit
    def uphi(code, h, p):
        return f(h)

    @njit
    def udphi(code, h, p):
        return df(h)

    @njit
    def ud2phi(code, h, p):
        return d2f(h)

    @njit
    def uboth(code, h, p):
        return f(h), df(h)

    return uphi, udphi, ud2phi, -1, uboth


def user_block(both):
    """The block form of a user activation's ``(phi, phi')`` kernel (compiled in each process)."""

    @njit
    def ublock(code, p, h, x, d, n):
        wide_simd()
        for t in range(n):
            xt, dt = both(code, h[t], p)
            x[t] = xt
            d[t] = dt

    return ublock


# --- panel sums of the adaptive quadrature (rmt_idinit._core.quadrature) -----------------------
# Each kernel has a threaded and a serial driver around one per-law body: waking numba's thread
# pool costs milliseconds on a busy machine, more than the sums of a few laws.
#
# A law b weighs the nodes of its gain row r = lrow[b] with the weight row q = wrow[b] (its q0):
# the terms exp(2k lg[r] + lw[q]) of a panel factor as A_k[r] * E[q] once each factor is scaled by
# its own maximum over the panel, so the exps are taken once per row and once per weight row
# (panel_factors) and each law's panel sum is a 16-term dot product. Where the two factors peak
# at opposite ends of a panel the scaled dot product can underflow; such panels (dot below
# _FACTOR_MIN) are summed term by term as before, so no term is lost that the direct sum keeps.

_FACTOR_MIN = 1e-290   # a scaled dot product above this is exact to ~1e-30 despite subnormal terms


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _gain_factors(lg, amax, aarg, a_fac, bad, hi, lo):
    """Per gain row r and panel i: the largest finite 2 lg (amax, also hi; at node aarg, -1 if
    none), the smallest (lo), A[r, i, j] = exp(2 lg - amax) (0 for NaN or -inf) and whether some
    lg is +inf (bad)."""
    for r in range(lg.shape[0]):
        for i in range(lg.shape[1]):
            h_hi = -np.inf
            h_lo = np.inf
            at = -1
            inf_seen = False
            for j in range(lg.shape[2]):
                g2 = 2.0 * lg[r, i, j]
                if g2 - g2 == 0.0:
                    if g2 > h_hi:
                        h_hi = g2
                        at = j
                    h_lo = min(h_lo, g2)
                elif g2 > 0.0:
                    inf_seen = True
            amax[r, i] = h_hi
            aarg[r, i] = at
            hi[r, i] = h_hi
            lo[r, i] = h_lo
            bad[r, i] = inf_seen
            for j in range(lg.shape[2]):
                x = 2.0 * lg[r, i, j] - h_hi
                a_fac[r, i, j] = vexp(x) if (x == x and h_hi > -np.inf) else 0.0


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _weight_factors(lw, emax, earg, e_fac, log_mass):
    """Per weight row q and panel i: the largest log weight (emax, at node earg), E = exp(lw -
    emax) (0 for NaN) and the log of the panel's normal mass ``log sum_j exp(lw)``."""
    for q in range(lw.shape[0]):
        for i in range(lw.shape[1]):
            top_w = -np.inf
            at = 0
            for j in range(lw.shape[2]):
                if lw[q, i, j] > top_w:
                    top_w = lw[q, i, j]
                    at = j
            earg[q, i] = at
            acc = 0.0
            for j in range(lw.shape[2]):
                x = lw[q, i, j] - top_w
                v = vexp(x) if (x == x and top_w > -np.inf) else 0.0
                e_fac[q, i, j] = v
                acc += v
            emax[q, i] = top_w
            log_mass[q, i] = math.log(acc) + top_w if acc > 0.0 else -np.inf


def panel_factors(lg, lw):
    """The per-row and per-weight-row factors of the panel sums of ``lg`` (rows, n, m) and ``lw``
    (weight rows, n, m), shared by :func:`panel_top` and :func:`panel_stats` of the same panels:
    ``(amax, A, bad, hi, lo, emax, E, log_mass, aarg, earg)`` (see :func:`_gain_factors`,
    :func:`_weight_factors`)."""
    lg, lw = np.ascontiguousarray(lg), np.ascontiguousarray(lw)
    n_r, n, m = lg.shape
    amax, hi, lo = np.empty((n_r, n)), np.empty((n_r, n)), np.empty((n_r, n))
    a_fac, bad = np.empty((n_r, n, m)), np.empty((n_r, n), dtype=np.bool_)
    aarg, earg = np.empty((n_r, n), dtype=np.int64), np.empty((lw.shape[0], n), dtype=np.int64)
    _gain_factors(lg, amax, aarg, a_fac, bad, hi, lo)
    emax, log_mass, e_fac = np.empty((lw.shape[0], n)), np.empty((lw.shape[0], n)), np.empty(lw.shape)
    _weight_factors(lw, emax, earg, e_fac, log_mass)
    return amax, a_fac, bad, hi, lo, emax, e_fac, log_mass, aarg, earg


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def _panel_top_law(b, lg, lw, lrow, wrow, amax, emax, aarg, earg, out):
    r = lrow[b]
    q = wrow[b]
    t1 = -np.inf
    t2 = -np.inf
    # start from the terms at each panel's gain peak and weight peak (where the panel's maximum
    # usually is), so that the scan below visits few panels
    for i in range(lg.shape[1]):
        for j in (aarg[r, i], earg[q, i]):
            if j >= 0:
                g = lg[r, i, j]
                w = lw[q, i, j]
                a1 = 2.0 * g + w
                a2 = 4.0 * g + w
                if a1 - a1 == 0.0 and a1 > t1:
                    t1 = a1
                if a2 - a2 == 0.0 and a2 > t2:
                    t2 = a2
    for i in range(lg.shape[1]):
        # a panel whose bound amax + emax (2 amax + emax for k = 2) cannot beat the running
        # maximum is skipped: the maximum is the same as a full scan's
        ub = amax[r, i] + emax[q, i]
        ub2 = 2.0 * amax[r, i] + emax[q, i]
        if not (ub > t1 or ub2 > t2 or ub != ub or ub2 != ub2):
            continue
        for j in range(lg.shape[2]):
            g = lg[r, i, j]
            w = lw[q, i, j]
            a1 = 2.0 * g + w
            a2 = 4.0 * g + w
            if a1 - a1 == 0.0 and a1 > t1:   # finite
                t1 = a1
            if a2 - a2 == 0.0 and a2 > t2:
                t2 = a2
    out[0, b] = t1
    out[1, b] = t2


@njit(cache=True, parallel=True, fastmath={"contract"}, error_model="numpy")
def _panel_top_threads(lg, lw, lrow, wrow, amax, emax, aarg, earg, out):
    for b in prange(lrow.shape[0]):
        _panel_top_law(b, lg, lw, lrow, wrow, amax, emax, aarg, earg, out)


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _panel_top_serial(lg, lw, lrow, wrow, amax, emax, aarg, earg, out):
    for b in range(lrow.shape[0]):
        _panel_top_law(b, lg, lw, lrow, wrow, amax, emax, aarg, earg, out)


def panel_top(lg, lw, lrow, wrow, out, factors=None):
    """``out[k-1, b] = max`` over the finite terms ``2k lg[lrow[b]] + lw[wrow[b]]`` (k = 1, 2) of all panels.

    ``lg`` (rows, n, m) log-gains, one row per distinct unit map and depth, ``lrow`` the row of each
    of the B laws, ``lw`` (weight rows, n, m) log weights, ``wrow`` the weight row of each law;
    NaN terms are left out. ``factors``: :func:`panel_factors` of ``(lg, lw)`` if already known."""
    lg, lw = np.ascontiguousarray(lg), np.ascontiguousarray(lw)
    f = panel_factors(lg, lw) if factors is None else factors
    big = lrow.shape[0] * lg.shape[1] * lg.shape[2] >= _THREADS_FROM
    (_panel_top_threads if big else _panel_top_serial)(lg, lw, lrow, wrow, f[0], f[5], f[8], f[9], out)


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def _direct_sum(r, q, i, kk, lg, lw, s):
    """``sum_j exp(2 kk lg[r, i, j] + lw[q, i, j] - s)``, NaN terms 0: the term-by-term sum."""
    e = 0.0
    for j in range(lg.shape[2]):
        a = 2.0 * kk * lg[r, i, j] + lw[q, i, j] - s
        e += vexp(a) if a == a else 0.0
    return e


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def _panel_stats_law(b, lg, lw, lrow, wrow, top, amax, a_fac, bad, hi_r, lo_r, emax, e_fac,
                     sums, hi, lo, n_direct):
    r = lrow[b]
    q = wrow[b]
    s1 = top[0, b]
    s2 = top[1, b]
    direct = 0
    for i in range(lg.shape[1]):
        hi[b, i] = hi_r[r, i]
        lo[b, i] = lo_r[r, i]
        am = amax[r, i]
        em = emax[q, i]
        if bad[r, i]:
            sums[0, b, i] = _direct_sum(r, q, i, 1.0, lg, lw, s1)
            sums[1, b, i] = _direct_sum(r, q, i, 2.0, lg, lw, s2)
            direct += 2
            continue
        if not (am > -np.inf and em > -np.inf):   # no finite term: the direct sum is 0 too
            sums[0, b, i] = 0.0
            sums[1, b, i] = 0.0
            continue
        x1 = am + em - s1          # every term of the panel is at most exp(x1) (k = 1)
        x2 = 2.0 * am + em - s2
        d1 = 0.0
        d2 = 0.0
        for j in range(lg.shape[2]):
            ae = a_fac[r, i, j] * e_fac[q, i, j]
            d1 += ae
            d2 += ae * a_fac[r, i, j]
        if x1 < -746.0:            # every term underflows in the direct sum as well
            sums[0, b, i] = 0.0
        elif d1 > _FACTOR_MIN:
            sums[0, b, i] = d1 * vexp(x1)
        else:
            sums[0, b, i] = _direct_sum(r, q, i, 1.0, lg, lw, s1)
            direct += 1
        if x2 < -746.0:
            sums[1, b, i] = 0.0
        elif d2 > _FACTOR_MIN:
            sums[1, b, i] = d2 * vexp(x2)
        else:
            sums[1, b, i] = _direct_sum(r, q, i, 2.0, lg, lw, s2)
            direct += 1
    n_direct[b] = direct


@njit(cache=True, parallel=True, fastmath={"contract"}, error_model="numpy")
def _panel_stats_threads(lg, lw, lrow, wrow, top, amax, a_fac, bad, hi_r, lo_r, emax, e_fac,
                         sums, hi, lo, n_direct):
    for b in prange(lrow.shape[0]):
        _panel_stats_law(b, lg, lw, lrow, wrow, top, amax, a_fac, bad, hi_r, lo_r, emax, e_fac,
                         sums, hi, lo, n_direct)


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _panel_stats_serial(lg, lw, lrow, wrow, top, amax, a_fac, bad, hi_r, lo_r, emax, e_fac,
                        sums, hi, lo, n_direct):
    for b in range(lrow.shape[0]):
        _panel_stats_law(b, lg, lw, lrow, wrow, top, amax, a_fac, bad, hi_r, lo_r, emax, e_fac,
                         sums, hi, lo, n_direct)


def panel_stats(lg, lw, lrow, wrow, top, sums, hi, lo, log_mass, factors=None):
    """Per panel ``i`` of law ``b`` (log-gains ``lg[lrow[b]]``, weights ``lw[wrow[b]]``, see
    :func:`panel_top`): ``sums[k-1, b, i] = sum_j exp(2k lg + lw - top[k-1, b])`` (NaN terms
    count 0), ``hi``/``lo`` the largest/smallest finite ``2 lg`` (-inf/+inf if none), and per
    weight row ``log_mass[q, i] = log sum_j exp(lw[q, i])`` (what the panel carries at gain 1).

    The sums are factored (see the section comment); returns how many (law, panel, k) sums fell
    back to the term-by-term sum because the factored one underflowed."""
    lg, lw = np.ascontiguousarray(lg), np.ascontiguousarray(lw)
    amax, a_fac, bad, hi_r, lo_r, emax, e_fac, lm = (panel_factors(lg, lw) if factors is None else factors)[:8]
    log_mass[...] = lm
    n_direct = np.zeros(lrow.shape[0], dtype=np.int64)
    big = lrow.shape[0] * lg.shape[1] * lg.shape[2] >= _THREADS_FROM
    (_panel_stats_threads if big else _panel_stats_serial)(
        lg, lw, lrow, wrow, np.ascontiguousarray(top), amax, a_fac, bad, hi_r, lo_r, emax, e_fac,
        sums, hi, lo, n_direct)
    return int(n_direct.sum())


_BLOCK = 16   # nodes per block of the factored log moments (any partition is exact; 16 is one panel)


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _moment_gain_factors(k, la, amax, a_fac, bad):
    """Per gain row and block of nodes: the largest finite ``k la`` (amax), A = exp(k la - amax)
    (0 for NaN or -inf) and whether a term ``k la`` is +inf (bad). ``k = 0`` takes ``k la = 0``."""
    n = la.shape[1]
    for r in range(la.shape[0]):
        for c in range(amax.shape[1]):
            j0 = c * _BLOCK
            j1 = min(n, j0 + _BLOCK)
            top = -np.inf
            inf_seen = False
            for j in range(j0, j1):
                t = k * la[r, j] if k != 0.0 else 0.0
                if t - t == 0.0:
                    top = max(top, t)
                elif t > 0.0:
                    inf_seen = True
            amax[r, c] = top
            bad[r, c] = inf_seen
            for j in range(j0, j1):
                t = (k * la[r, j] if k != 0.0 else 0.0) - top
                a_fac[r, j] = vexp(t) if (t == t and top > -np.inf) else 0.0


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _moment_weight_factors(lw, emax, e_fac):
    """Per weight row and block: the largest finite log weight and E = exp(lw - emax); a
    non-finite log weight is no node (E = 0)."""
    n = lw.shape[1]
    for q in range(lw.shape[0]):
        for c in range(emax.shape[1]):
            j0 = c * _BLOCK
            j1 = min(n, j0 + _BLOCK)
            top = -np.inf
            for j in range(j0, j1):
                w = lw[q, j]
                if w - w == 0.0:
                    top = max(top, w)
            emax[q, c] = top
            for j in range(j0, j1):
                w = lw[q, j]
                e_fac[q, j] = vexp(w - top) if (w - w == 0.0) else 0.0


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def _log_moment_law(b, k, la, lw, lrow, wrow, amax, a_fac, bad, emax, e_fac, out):
    r = lrow[b]
    q = wrow[b]
    n = la.shape[1]
    big = -np.inf     # running scale (log) of acc
    acc = 0.0
    for c in range(amax.shape[1]):
        j0 = c * _BLOCK
        j1 = min(n, j0 + _BLOCK)
        am = amax[r, c]
        em = emax[q, c]
        if not bad[r, c]:
            if not (am > -np.inf and em > -np.inf):
                continue
            d = 0.0
            for j in range(j0, j1):
                d += a_fac[r, j] * e_fac[q, j]
            bound = am + em
        if bad[r, c] or d <= _FACTOR_MIN:
            # term by term: the block's own maximum and its scaled sum in [1, 16]
            bound = -np.inf
            for j in range(j0, j1):
                w = lw[q, j]
                if w - w == 0.0:
                    t = (k * la[r, j] if k != 0.0 else 0.0) + w
                    if t > bound:
                        bound = t
            if bound == np.inf:
                out[b] = np.inf
                return
            if not (bound > -np.inf):
                continue
            d = 0.0
            for j in range(j0, j1):
                w = lw[q, j]
                if w - w == 0.0:
                    t = (k * la[r, j] if k != 0.0 else 0.0) + w - bound
                    d += vexp(t) if t == t else 0.0
        # acc exp(big) += d exp(bound); a block far below the running scale underflows to nothing,
        # as its terms would in a direct sum scaled by the largest term
        if bound > big:
            acc = acc * vexp(big - bound) + d if big > -np.inf else d
            big = bound
        else:
            acc += d * vexp(bound - big)
    out[b] = math.log(acc) + big if acc > 0.0 else -np.inf


@njit(cache=True, parallel=True, fastmath={"contract"}, error_model="numpy")
def _log_moments_threads(k, la, lw, lrow, wrow, amax, a_fac, bad, emax, e_fac, out):
    for b in prange(lrow.shape[0]):
        _log_moment_law(b, k, la, lw, lrow, wrow, amax, a_fac, bad, emax, e_fac, out)


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _log_moments_serial(k, la, lw, lrow, wrow, amax, a_fac, bad, emax, e_fac, out):
    for b in range(lrow.shape[0]):
        _log_moment_law(b, k, la, lw, lrow, wrow, amax, a_fac, bad, emax, e_fac, out)


def log_moments(k, la, lw, lrow, wrow):
    """``log sum_j exp(k la[lrow[b], j] + lw[wrow[b], j])`` for each law ``b``: the log moments of
    laws whose nodes ``la`` (log lambda, rows, n) and log weights ``lw`` (weight rows, n) are
    shared by rows, without building (laws, nodes) arrays. Nodes whose log weight is not finite
    are no term (so ``0 * inf`` is no NaN), NaN terms count 0; ``-inf`` for an empty sum, ``+inf``
    if a term is infinite.

    Factored by blocks of nodes as the panel sums are (section comment): the exps are taken once
    per row and weight row, each law's block sum is a dot product, and a block whose scaled dot
    product underflows is summed term by term."""
    la, lw = np.ascontiguousarray(la, dtype=np.float64), np.ascontiguousarray(lw, dtype=np.float64)
    lrow = np.ascontiguousarray(lrow, dtype=np.int64)
    wrow = np.ascontiguousarray(wrow, dtype=np.int64)
    k = float(k)
    n_blk = -(-la.shape[1] // _BLOCK)
    amax, a_fac, bad = np.empty((la.shape[0], n_blk)), np.empty(la.shape), np.empty((la.shape[0], n_blk), dtype=np.bool_)
    _moment_gain_factors(k, la, amax, a_fac, bad)
    emax, e_fac = np.empty((lw.shape[0], n_blk)), np.empty(lw.shape)
    _moment_weight_factors(lw, emax, e_fac)
    out = np.empty(lrow.shape[0])
    big = lrow.shape[0] * la.shape[1] >= _THREADS_FROM
    (_log_moments_threads if big else _log_moments_serial)(k, la, lw, lrow, wrow, amax, a_fac, bad, emax, e_fac, out)
    return out


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def _var_top_law(b, la, lw, lrow, wrow, out):
    r = lrow[b]
    q = wrow[b]
    top = -np.inf
    for j in range(la.shape[1]):
        w = lw[q, j]
        if w - w == 0.0 and la[r, j] > top:
            top = la[r, j]
    out[b] = top if top - top == 0.0 else 0.0


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def _log_var_law(b, la, lw, lrow, wrow, top, log_m, emax, e_fac, out):
    r = lrow[b]
    q = wrow[b]
    n = la.shape[1]
    tb = top[b]
    m = vexp(log_m[b])
    big = -np.inf
    acc = 0.0
    for c in range(emax.shape[1]):
        j0 = c * _BLOCK
        j1 = min(n, j0 + _BLOCK)
        em = emax[q, c]
        if not (em > -np.inf):
            continue
        d = 0.0
        for j in range(j0, j1):
            dev = abs(vexp(la[r, j] - tb) - m)
            d += e_fac[q, j] * (dev * dev)
        bound = em
        if not (d > _FACTOR_MIN):
            # term by term in logs: weights and deviations that underflow keep their logs
            bound = -np.inf
            for j in range(j0, j1):
                w = lw[q, j]
                dev = abs(vexp(la[r, j] - tb) - m)
                if w - w == 0.0 and dev > 0.0:
                    t = w + 2.0 * math.log(dev)
                    if t > bound:
                        bound = t
            if not (bound > -np.inf):
                continue
            d = 0.0
            for j in range(j0, j1):
                w = lw[q, j]
                dev = abs(vexp(la[r, j] - tb) - m)
                if w - w == 0.0 and dev > 0.0:
                    d += vexp(w + 2.0 * math.log(dev) - bound)
        if bound > big:
            acc = acc * vexp(big - bound) + d if big > -np.inf else d
            big = bound
        else:
            acc += d * vexp(bound - big)
    out[b] = math.log(acc) + big + 2.0 * tb if acc > 0.0 else -np.inf


@njit(cache=True, parallel=True, fastmath={"contract"}, error_model="numpy")
def _var_top_threads(la, lw, lrow, wrow, out):
    for b in prange(lrow.shape[0]):
        _var_top_law(b, la, lw, lrow, wrow, out)


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _var_top_serial(la, lw, lrow, wrow, out):
    for b in range(lrow.shape[0]):
        _var_top_law(b, la, lw, lrow, wrow, out)


@njit(cache=True, parallel=True, fastmath={"contract"}, error_model="numpy")
def _log_vars_threads(la, lw, lrow, wrow, top, log_m, emax, e_fac, out):
    for b in prange(lrow.shape[0]):
        _log_var_law(b, la, lw, lrow, wrow, top, log_m, emax, e_fac, out)


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _log_vars_serial(la, lw, lrow, wrow, top, log_m, emax, e_fac, out):
    for b in range(lrow.shape[0]):
        _log_var_law(b, la, lw, lrow, wrow, top, log_m, emax, e_fac, out)


def log_vars(la, lw, lrow, wrow):
    """``log Var`` of each law ``b`` with nodes ``la[lrow[b]]`` (log lambda) and log weights
    ``lw[wrow[b]]`` (shared rows as in :func:`log_moments`): ``sum_j w_j (lambda_j - m)^2`` with
    lambda scaled by the law's largest node of finite weight, so there is no cancellation and
    nothing overflows. Factored by blocks: ``exp(lw - block max)`` once per weight row times the
    law's squared deviations; a block whose scaled sum underflows is summed in logs term by term."""
    la, lw = np.ascontiguousarray(la, dtype=np.float64), np.ascontiguousarray(lw, dtype=np.float64)
    lrow = np.ascontiguousarray(lrow, dtype=np.int64)
    wrow = np.ascontiguousarray(wrow, dtype=np.int64)
    big = lrow.shape[0] * la.shape[1] >= _THREADS_FROM
    top = np.empty(lrow.shape[0])
    (_var_top_threads if big else _var_top_serial)(la, lw, lrow, wrow, top)
    # log of the mean in units of the top: one factored pass of the moments
    log_m = log_moments(1.0, la, lw, lrow, wrow) - top
    n_blk = -(-la.shape[1] // _BLOCK)
    emax, e_fac = np.empty((lw.shape[0], n_blk)), np.empty(lw.shape)
    _moment_weight_factors(lw, emax, e_fac)
    out = np.empty(lrow.shape[0])
    (_log_vars_threads if big else _log_vars_serial)(la, lw, lrow, wrow, top, log_m, emax, e_fac, out)
    return out


_THREADS_FROM = 200_000   # terms from which the panel sums use numba's threads
