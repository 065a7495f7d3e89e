"""The cdf/sf of a symmetric smooth law (tanh, erf without bias) through the radius of
{lambda <= x} = {|u| >= r}, held against a 40-digit mpmath root of the depth-L map and erfc.

The tolerance follows from the conditioning: a root of the float64 map is determined to about
(round-off of log g) / |d log g / du|, and the cdf moves by twice the Gaussian density at r times that.
"""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

import rmt_idinit as ri


def _mp_log_gain(act, sigma, u, depth):
    h, lg = sigma * u, mp.mpf(0)
    for _ in range(depth):
        if act == "tanh":
            t = mp.tanh(h)
            lg += mp.log(sigma * (1 - t * t))
            h = sigma * t
        else:  # erf(h)
            lg += mp.log(sigma * 2 / mp.sqrt(mp.pi) * mp.exp(-h * h))
            h = sigma * mp.erf(h)
    return lg


def _mp_cdf(act, sigma, q0, depth, x):
    """(cdf, sf, |d log g/du| at the root, root) at 40 digits."""
    with mp.workdps(40):
        s, q, level = mp.mpf(sigma), mp.mpf(q0), mp.log(mp.mpf(x)) / 2

        def f(u):
            return _mp_log_gain(act, s, u, depth) - level

        if f(mp.mpf(0)) <= 0:
            return 1.0, 0.0, math.inf, 0.0
        hi = 40 * mp.sqrt(q)
        if f(hi) > 0:
            return 0.0, 1.0, math.inf, math.inf
        lo = mp.mpf(0)
        for _ in range(140):  # f falls in u: plain bisection, 2^-140 of the bracket
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if f(mid) > 0 else (lo, mid)
        r = (lo + hi) / 2
        z = r / mp.sqrt(2 * q)
        return float(mp.erfc(z)), float(mp.erf(z)), float(abs(mp.diff(f, r))), float(r)


CASES = [  # (activation, sigma, q0, depth, x as a multiple of the mean)
    ("tanh", 0.5, 0.01, 100, 1.0),      # a flat gain: the root is ill-conditioned
    ("tanh", 0.8, 1.0, 100, 1.0),
    ("tanh", 1.0, 10.0, 100, 1e-3),
    ("tanh", 0.9, 2.0, 100, 1e-40),     # deep in the tail: cdf ~ 1e-6
    ("tanh", 1.05, 0.5, 300, 0.3),      # the narrow peak of sigma > 1
    ("erf", 1.2, 0.3, 40, 1e-20),
]


@pytest.mark.parametrize("act, sigma, q0, depth, mult", CASES)
def test_symmetric_cdf_and_sf_against_mpmath(act, sigma, q0, depth, mult):
    law = ri.jjt_law(sigma, q0, depth, act)
    x = float(law.mean()) * mult
    cdf, sf, slope, r = _mp_cdf(act, sigma, q0, depth, x)
    # the map's round-off (~depth ulps of log g) moved through the slope, plus ulps of r
    dr = 1e-16 * depth / slope + 4e-16 * r
    dens = 2 * math.exp(-0.5 * r * r / q0) / math.sqrt(2 * math.pi * q0)
    tol = dens * dr + 4e-16
    assert abs(float(ri.jjt_law(sigma, q0, depth, act).cdf(x)) - cdf) <= tol + 1e-14 * cdf
    assert abs(float(ri.jjt_law(sigma, q0, depth, act).sf(x)) - sf) <= tol + 1e-14 * sf


def test_symmetric_cdf_ends():
    law = ri.jjt_law(0.9, 0.5, 50, "tanh")
    g0 = float(np.exp(2 * ri.jjt_law(0.9, 0.5, 50, "tanh").log_moment(1)))  # below the peak g(0)^2
    peak = math.exp(2 * float(_mp_log_gain("tanh", mp.mpf(0.9), mp.mpf(0), 50)))
    assert float(law.cdf(peak * 1.0001)) == 1.0 and float(law.sf(peak * 1.0001)) == 0.0
    assert 0.0 < float(law.cdf(g0)) < 1.0
    # a level the gain reaches only beyond 40 standard deviations: erfc there is below the
    # smallest double, so cdf 0 and sf 1 exactly
    tiny = 1e-300
    assert _mp_cdf("tanh", 0.9, 0.5, 50, tiny)[3] > 38.6 * math.sqrt(0.5)
    assert float(law.cdf(tiny)) == 0.0 and float(law.sf(tiny)) == 1.0


def test_broadcast_cdf_matches_elementwise():
    S, Q = np.meshgrid([0.6, 0.95, 1.02], [0.05, 1.0, 4.0], indexing="ij")
    law = ri.jjt_law(S, Q, 80, "tanh")
    x = np.asarray(law.mean()) * 0.5
    got = np.asarray(ri.jjt_law(S, Q, 80, "tanh").cdf(x))
    for i in range(3):
        for j in range(3):
            assert got[i, j] == float(ri.jjt_law(S[i, j], Q[i, j], 80, "tanh").cdf(x[i, j]))
