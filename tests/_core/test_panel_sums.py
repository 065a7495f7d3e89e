"""The factored panel sums of the smooth-law quadrature (rmt_idinit._core.kernels, bottom section).

A batch of laws shares its nodes; each law's terms exp(2k log g + log w) factor into a gain part
(one per unit map) and a weight part (one per q0), each scaled by its panel maximum. Where the two
peak at opposite ends of a panel their scaled product underflows and the kernels sum term by term.
References: closed-form Gaussian integrals of exp(c x) and mpmath sums of the same terms.
"""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from scipy import special

from rmt_idinit._core import kernels, quadrature

_EPS = 2.0 ** -52
_R = np.array([0.125, 0.5, 1.0, 1e-3])   # variances of the laws' normal weights, one law each
_C = 40.0                                 # log g = 40 x on the panel [0, 20]


def _logg(z, t):
    return _C * z[None, :]


def _log_gauss_exp(c, r, a=0.0, b=20.0):
    """log int_a^b exp(c x) phi_r(x) dx = c^2 r / 2 + log(Phi(beta) - Phi(alpha)), in closed form."""
    sr = math.sqrt(r)
    lo, hi = special.log_ndtr((a - c * r) / sr), special.log_ndtr((b - c * r) / sr)
    return 0.5 * c * c * r + hi + math.log1p(-math.exp(lo - hi))


def _one_panel():
    z, t, lw, _ = quadrature.log_panel_nodes(np.array([0.0]), np.array([20.0]), np.zeros(1, int), np.ones(1),
                                             np.log(_R))
    return _logg(z.ravel(), t.ravel()).reshape(1, 1, 16), lw


def _mp_log_sum(terms):
    return float(mp.log(mp.fsum(mp.exp(mp.mpf(float(v))) for v in terms)))


def test_underflowing_factors_fall_back_and_match_mpmath():
    lg, lw = _one_panel()
    # premise: for r = 1/8 the gain (peak at x = 20) and the weight (peak at 0) are both below
    # e^-700 at every node once scaled by their panel maxima, so their product underflows
    a_f = np.exp(2 * lg[0, 0] - np.max(2 * lg[0, 0]))
    e_f = np.exp(lw[0, 0] - np.max(lw[0, 0]))
    assert np.sum(a_f * e_f) < 1e-290
    lrow, wrow = np.zeros(_R.size, np.int64), np.arange(_R.size)
    top = np.empty((2, _R.size))
    kernels.panel_top(lg, lw, lrow, wrow, top)
    sums, hi, lo, log_mass = np.empty((2, _R.size, 1)), np.empty((_R.size, 1)), np.empty((_R.size, 1)), np.empty((_R.size, 1))
    n_direct = kernels.panel_stats(lg, lw, lrow, wrow, top, sums, hi, lo, log_mass)
    assert n_direct > 0
    for k in (1, 2):
        for b in range(_R.size):
            terms = 2 * k * lg[0, 0] + lw[b, 0]
            assert top[k - 1, b] == np.max(terms)
            ref = _mp_log_sum(terms)
            # each term's exponent is rounded once, to a few ulp of its size
            assert abs(math.log(sums[k - 1, b, 0]) + top[k - 1, b] - ref) <= 8 * _EPS * np.max(np.abs(terms)), (k, b)
        # log moments over the same 16 nodes as one block: the same fallback
        got = kernels.log_moments(k, 2 * lg[0], lw[:, 0], lrow, wrow)
        for b in range(_R.size):
            terms = 2 * k * lg[0, 0] + lw[b, 0]
            assert abs(got[b] - _mp_log_sum(terms)) <= 8 * _EPS * np.max(np.abs(terms)), (k, b)
    assert np.all(hi[:, 0] == np.max(2 * lg[0, 0])) and np.all(lo[:, 0] == np.min(2 * lg[0, 0]))
    for b in range(_R.size):
        assert abs(log_mass[b, 0] - _mp_log_sum(lw[b, 0])) <= 8 * _EPS * np.max(np.abs(lw[b, 0]))


def test_batched_variances_against_closed_form():
    # one gain row shared by four laws of different variance, refined from the panel whose
    # factored sums underflow: E[g^2], E[g^4] against the closed form, to the quadrature's
    # tolerance or the resolution of the logs (4 eps |log E|, quadrature.LOG_RESOLUTION_ULPS)
    x, lw, wrow, lg, lrow = quadrature.adaptive_nodes(_logg, np.array([0.0]), np.array([20.0]), np.zeros(1, int),
                                                      np.ones(1), log_var=np.log(_R), rows=np.zeros(_R.size, int),
                                                      compact=True)
    assert lw.shape[0] == _R.size and lg.shape[0] == 1 and np.all(np.diff(x) > 0)
    # the compact form is the per-law form
    x2, lw2, lg2 = quadrature.adaptive_nodes(_logg, np.array([0.0]), np.array([20.0]), np.zeros(1, int), np.ones(1),
                                             log_var=np.log(_R), rows=np.zeros(_R.size, int))
    assert np.array_equal(x, x2) and np.array_equal(lw[wrow], lw2) and np.array_equal(lg[lrow], lg2)
    for k in (1, 2):
        got = kernels.log_moments(k, 2 * lg, lw, lrow, wrow)
        for b, r in enumerate(_R):
            ref = _log_gauss_exp(2 * k * _C, r)
            assert abs(got[b] - ref) <= max(1e-13, 4 * _EPS * abs(ref)), (k, r, got[b], ref)


def test_log_moments_edge_terms():
    la = np.array([[0.0, -np.inf, 1.0, np.nan]])
    lw = np.array([[0.0, 0.0, -np.inf, 0.0], [np.log(0.5)] * 4])
    got = kernels.log_moments(1.0, la, lw, np.zeros(2, np.int64), np.arange(2))
    # law 0: exp(0) + exp(-inf) + (weight 0: no term) + (NaN: no term) = 1
    # law 1: 0.5 (1 + 0 + e + NaN -> 0)
    assert got[0] == 0.0 and abs(got[1] - math.log(0.5 * (1.0 + math.e))) < 1e-15
    assert kernels.log_moments(-1.0, la, lw, np.zeros(2, np.int64), np.arange(2))[0] == np.inf   # 0^-1
    assert kernels.log_moments(0.0, la[:, :2], lw[:1, :2], np.zeros(1, np.int64), np.zeros(1, np.int64))[0] == math.log(2.0)
    assert kernels.log_moments(1.0, la, np.full((1, 4), -np.inf), np.zeros(1, np.int64),
                               np.zeros(1, np.int64))[0] == -np.inf
