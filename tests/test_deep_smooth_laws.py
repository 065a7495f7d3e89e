"""Deep smooth laws with sigma*phi'(0) > 1, where the gain peak at u = 0 (width ~ mu^-L) falls below
double range, held against references independent of the package:

* lower bounds proved from elementary inequalities (derivation at ``_log_lower_bound``);
* mpmath at 18 digits: its own layer recursion and its own quadrature in s = -log u, with a
  rigorous bound on the parts of the line it leaves out (``_mp_log_moments``);
* the exact per-layer growth: log E[lambda_(L+1)] - log E[lambda_L] -> log(mu), mu = sigma*phi'(0).
"""
from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest

import rmt_idinit as ri
from rmt_idinit.errors import AccuracyWarning, RangeWarning

_D0 = {"tanh": mpmath.mpf(1), "erf": 2 / mpmath.sqrt(mpmath.pi)}  # phi'(0)


def _mp_step(name):
    if name == "tanh":
        return lambda h: (mpmath.tanh(h), 1 - mpmath.tanh(h) ** 2)
    c = 2 / mpmath.sqrt(mpmath.pi)
    return lambda h: (mpmath.erf(h), c * mpmath.exp(-h * h))


def _mp_log_gain(name, sigma, u, depth):
    step = _mp_step(name)
    s = mpmath.mpf(sigma)
    h, lg = s * u, mpmath.mpf(0)
    for _ in range(depth):
        x, d = step(h)
        lg += mpmath.log(s * d)
        h = s * x
    return lg


def _log_lower_bound(name, sigma, q0, depth):
    """A proven lower bound on log E[lambda] for tanh and erf with mu = sigma*phi'(0) > 1.

    Both satisfy |phi(h)| <= phi'(0)|h| and phi'(h) >= phi'(0)(1 - h^2) (tanh' = 1 - tanh^2 >= 1 - h^2,
    erf' = phi'(0) exp(-h^2) >= phi'(0)(1 - h^2)). For |u| <= r = c mu^(1-L)/sigma the unit obeys
    |h^l| <= sigma mu^(l-1) |u| <= c mu^(l-L), so g_L(u) = prod sigma phi'(h^l) >= mu^L prod_l
    (1 - c^2 mu^(2(l-L))) >= mu^L (1 - a c^2) with a = 1/(1 - mu^-2) (prod(1 - x_j) >= 1 - sum x_j).
    Hence E[lambda] >= P(|u| <= r) mu^(2L) (1 - a c^2)^2, largest at c^2 = 1/(5a).
    """
    with mpmath.workdps(30):
        mu = mpmath.mpf(sigma) * _D0[name]
        a = 1 / (1 - mu ** -2)
        c = mpmath.sqrt(1 / (5 * a))
        r = c * mu ** (1 - depth) / mpmath.mpf(sigma)
        return float(mpmath.log(mpmath.erf(r / mpmath.sqrt(2 * mpmath.mpf(q0)))) + 2 * depth * mpmath.log(mu)
                     + 2 * mpmath.log(1 - a * c * c))


_GLX, _GLW = np.polynomial.legendre.leggauss(20)


def _mp_log_moments(name, sigma, q0, depth, ks=(1, 2), left=6):
    """log E[lambda^k] by mpmath: Gauss-Legendre (20 nodes, width 1, then 5) in s = -log u over
    [s_esc - left, s_esc + 50], s_esc = log(sigma) + (L-1) log(mu) the depth at which a unit
    leaves the linear regime in the last layer; and a bound on what is left out: g <= mu^L on
    |u| < e^-(s_esc+50) (sigma phi' <= mu), and beyond e^-(s_esc-left) g decreases in |u|, so each unit
    step in s is bounded by its largest gain times its normal mass. Returns the logs and the
    left-out fraction bound."""
    with mpmath.workdps(18):
        s, q = mpmath.mpf(sigma), mpmath.mpf(q0)
        mu = s * _D0[name]
        s_esc = mpmath.log(s) + (depth - 1) * mpmath.log(mu)
        a0 = mpmath.floor(s_esc) - left
        edges = [a0 + i for i in range(left + 6)] + [a0 + left + 5 + 5 * i for i in range(1, 10)]
        xs, ws = [mpmath.mpf(float(x)) for x in _GLX], [mpmath.mpf(float(w)) for w in _GLW]
        norm = 1 / mpmath.sqrt(2 * mpmath.pi * q)
        tot = [mpmath.mpf(0)] * len(ks)
        for lo, hi in zip(edges[:-1], edges[1:]):
            half, mid = (hi - lo) / 2, (hi + lo) / 2
            for x, w in zip(xs, ws):
                u = mpmath.exp(-(mid + half * x))
                g2 = mpmath.exp(2 * _mp_log_gain(name, sigma, u, depth))
                base = 2 * half * w * norm * mpmath.exp(-u * u / (2 * q)) * u  # both signs of u
                tot = [t + base * g2 ** k for t, k in zip(tot, ks)]
        left_out = [2 * mu ** (2 * k * depth) * norm * mpmath.exp(-edges[-1]) for k in ks]
        sj = edges[0]
        while True:
            g2 = mpmath.exp(2 * _mp_log_gain(name, sigma, mpmath.exp(-sj), depth))
            last = all(g2 ** k < mpmath.mpf(10) ** -30 * t for k, t in zip(ks, tot))
            mass = 1 if last else 2 * norm * (mpmath.exp(1 - sj) - mpmath.exp(-sj))
            left_out = [lo_ + g2 ** k * mass for lo_, k in zip(left_out, ks)]
            if last:
                break
            sj -= 1
        return [float(mpmath.log(t)) for t in tot], [float(lo_ / t) for lo_, t in zip(left_out, tot)]


# --- against mpmath where the peak is below double range (|u| ~ mu^-L < 1e-308) ---------------

@pytest.mark.parametrize("name, sigma, depth", [("tanh", math.exp(3.0), 250), ("erf", 6.0, 400)])
def test_deep_peak_vs_independent_mpmath(name, sigma, depth):
    q0 = 0.5
    mu = sigma * float(_D0[name])
    assert depth * math.log(mu) > 745  # the peak's width underflows double precision
    ref, left_out = _mp_log_moments(name, sigma, q0, depth)
    assert max(left_out) < 1e-18
    law = ri.jjt_law(sigma, q0, depth, name)
    got = [float(law.log_moment(k)) for k in (1, 2)]
    # log-moment error = relative moment error; the reference is good to ~1e-17
    assert max(abs(g - r) for g, r in zip(got, ref)) < 1e-11, (got, ref)


# --- the cases of the bug report: provable lower bounds and the exact growth rate ----------------

def test_tanh_deep_vs_lower_bound_and_growth():
    # 13000 layers were right before (the peak 1.05^-13000 ~ 1e-276 was still a double), 16000
    # gave 352.8 under a bound of 778.3
    depths = np.array([1000, 3000, 10000, 13000, 16000])
    lm = ri.jjt_law(1.05, 0.5, depths, "tanh").log_moment(1)
    for d, v in zip(depths, lm):
        assert v >= _log_lower_bound("tanh", 1.05, 0.5, d)
    # E[lambda_L] = C mu^L (1 + O(c^L)), c = 0.91 the rate at the stable fixed points: per layer the
    # log grows by log(mu) = log(1.05); an error of 1e-13 in each log moment (~700) moves the
    # quotients by < 1e-14
    incr = np.diff(lm) / np.diff(depths)
    assert np.all(np.abs(incr - math.log(1.05)) < 1e-12), incr - math.log(1.05)


def test_erf_per_layer_growth_tends_to_log_mu():
    # erf at sigma = 1.05: mu = 1.05 * 2/sqrt(pi) = 1.1848; the increment turned to -0.67 between
    # depths 200 and 400 and depth 10000 gave -4822 under a bound of 1694
    depths = np.array([200, 400, 1000, 3000, 10000])
    lm = ri.jjt_law(1.05, 0.5, depths, "erf").log_moment(1)
    log_mu = math.log(1.05 * 2 / math.sqrt(math.pi))
    incr = np.diff(lm) / np.diff(depths)
    assert np.all(np.abs(incr - log_mu) < 1e-11), incr - log_mu
    assert lm[-1] >= _log_lower_bound("erf", 1.05, 0.5, 10000)


def test_tanh_median_far_below_double_range():
    # the median of lambda is g_L(r)^2 at the r with P(|u| >= r) = 1/2 (g decreases in |u|)
    law = ri.jjt_law(1.05, 0.5, 10000, "tanh")
    with mpmath.workdps(30):
        r = mpmath.sqrt(2 * mpmath.mpf(0.5)) * mpmath.erfinv(mpmath.mpf(1) / 2)
        ref = float(2 * _mp_log_gain("tanh", 1.05, r, 10000))
    got = float(law.ppf(0.5, log=True))
    assert ref < -1900 and abs(got - ref) < 1e-9 * abs(ref), (got, ref)
    with pytest.warns(RangeWarning, match="log=True"):
        assert float(law.ppf(0.5)) == 0.0


# --- where double precision cannot follow the peak: a clear refusal, not a number ----------------

@pytest.mark.parametrize("sigma, depth, act, bias, limit", [
    (1.05, 1000, "tanh", 0.001, 539),      # unstable h* = -0.0201, rate 1.0496: peak 1e-21 wide at u* = -0.019
    (1.1, 110, "gelu", 0.0, 101),          # h* = 1.335, rate 1.240 beats the growth 1.1^2 of escaping units
    (5.0, 120, "sigmoid", -2.5, 95),       # F(0) = 5/2 - 5/2 = 0 only through cancellation
])
def test_unresolvable_peak_is_refused(sigma, depth, act, bias, limit):
    law = ri.jjt_law(sigma, 1.0, depth, act, bias=bias)
    with pytest.raises(ValueError, match=rf"depth must be <= {limit} "):
        law.mean()
    with warnings.catch_warnings():
        # just inside the limit the answer comes, with an AccuracyWarning of ~1e-6 (round-off)
        warnings.simplefilter("ignore", AccuracyWarning)
        assert math.isfinite(float(ri.jjt_law(sigma, 1.0, limit - 20, act, bias=bias).log_moment(1)))


def test_moment_grid_takes_the_deep_peak_too():
    # the shared-grid path started its nodes at 1e-3 sigma^-L clipped to 1e-300: erf's peak is at
    # mu^-L with mu = 1.18 sigma, and tanh's below 1e-300 beyond depth ~14000
    from rmt_idinit.grid import log_moment_grid

    g = log_moment_grid([1.05], [0.5], 400, "erf")
    assert abs(g[0, 0] - 200 * math.log(1.05 * 2 / math.sqrt(math.pi)) - float(log_moment_grid([1.05], [0.5], 200, "erf")[0, 0])) < 1e-10
    deep = log_moment_grid([1.05], [0.5], 16000, "tanh")[0, 0]
    assert deep >= _log_lower_bound("tanh", 1.05, 0.5, 16000)
