"""The adaptive quadrature behind the smooth J Jᵀ laws (rmt_idinit._core.quadrature, used by rmt_idinit.identity).

References are independent of the code under test: the normal law's total mass (the quadrature
weights must integrate 1), closed-form Gaussian integrals and lower bounds proved from elementary
inequalities (derived in the comments next to each test). log(1 - alpha) is in test_identity.py.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import special

import rmt_idinit as ri
from rmt_idinit._core import quadrature
from rmt_idinit.errors import AccuracyWarning


# --- the panel cap ------------------------------------------------------------------------------

_ZJ = np.arange(1, 41) * 0.25   # 40 narrow gain peaks, all refined at once
_EPS = 0.02


def _peaks_logg(z, t):
    # log g with g^2 = sum_j exp(-(z - z_j)^2 / (2 eps^2))
    return 0.5 * special.logsumexp(-0.5 * ((z[:, None] - _ZJ[None, :]) / _EPS) ** 2, axis=1)[None, :]


def _peaks_reference():
    # int phi(z) exp(-(z - a)^2 / (2 eps^2)) dz = eps / sqrt(v) exp(-a^2 / (2 v)), v = 1 + eps^2 (the
    # peaks sit far inside [0, 38.5], so the half line is the whole line to 1e-80)
    v = 1.0 + _EPS ** 2
    return float(np.sum(_EPS / math.sqrt(v) * np.exp(-_ZJ ** 2 / (2.0 * v))))


@pytest.mark.parametrize("cap, worst", [(40, 1e-3), (80, 1e-8)])
def test_panel_cap_children_replace_parents_and_warn(cap, worst):
    edges = np.linspace(0.0, 38.5, 40)
    n = edges.size - 1
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        z, lw, lg = quadrature.adaptive_nodes(_peaks_logg, edges[:-1], edges[1:], np.zeros(n, int), np.ones(n),
                                             max_panels=cap)
    caught = [r.message for r in rec if isinstance(r.message, AccuracyWarning)]
    assert len(caught) == 1, [str(r.message) for r in rec]
    est = caught[0].error_estimate
    assert est is not None and math.isfinite(est) and 0 < est < worst
    w = np.exp(lw)
    # the weights include the normal density: over [0, 38.5] they must integrate 1/2 to round-off
    # (a parent kept next to its children counted its mass twice: 1.112 at a cap of 50)
    assert abs(w.sum() - 0.5) < 1e-15, w.sum()
    assert np.all(np.diff(z) > 0)  # a partition: no node twice
    err = abs(np.sum(w * np.exp(2.0 * lg[0])) / _peaks_reference() - 1.0)
    assert err <= est, (err, est)   # parent vs halves: an upper bound on what the halves miss


def test_uncapped_peaks_reach_round_off():
    edges = np.linspace(0.0, 38.5, 40)
    n = edges.size - 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", AccuracyWarning)
        z, lw, lg = quadrature.adaptive_nodes(_peaks_logg, edges[:-1], edges[1:], np.zeros(n, int), np.ones(n))
    assert abs(np.sum(np.exp(lw + 2.0 * lg[0])) / _peaks_reference() - 1.0) < 1e-13


def test_panel_cap_in_a_smooth_law(monkeypatch):
    # the same path through jjt_law: the law's weights stay a partition of the normal law's mass
    ref = [float(ri.jjt_law(2.5, 1.0, 50, "gelu").moment(k)) for k in (1, 2)]
    monkeypatch.setattr(quadrature, "MAX_PANELS", 4)
    law = ri.jjt_law(2.5, 1.0, 50, "gelu")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        m = [float(law.moment(k)) for k in (1, 2)]
    caught = [r.message for r in rec if isinstance(r.message, AccuracyWarning)]
    assert len(caught) == 1 and math.isfinite(caught[0].error_estimate)
    assert abs(np.exp(law.continuous.log_nodes(0)[1]).sum() - 1.0) < 1e-13
    for a, b in zip(m, ref):
        assert abs(a / b - 1.0) <= max(caught[0].error_estimate, 1e-14)


# --- a broadcast batch: weights per q0, gains per sigma ---------------------------------------

def _mp_tanh_moment(sigma, q0, depth, k):
    """E[g^(2k)] of the depth-``depth`` tanh network at u ~ N(0, q0), by mpmath quadrature in z = u/sqrt(q0)."""
    import mpmath as mp

    with mp.workdps(30):
        s, q = mp.mpf(sigma), mp.mpf(q0)

        def f(z):
            h, g = s * mp.sqrt(q) * z, mp.mpf(1)
            for _ in range(depth):
                t = mp.tanh(h)
                g *= s * (1 - t * t)
                h = s * t
            return g ** (2 * k) * mp.npdf(z)

        # breakpoints down to the gain peak of sigma = 1.3 (width ~ 1.3^-10 in u)
        return 2 * mp.quad(f, [0, 1e-3, 1e-2, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 12, 20, 40])


def test_broadcast_grid_moments_against_mpmath():
    # a 2 x 2 broadcast call: the two q0 share one weight row each across both sigmas, the two
    # sigmas one gain row each across both q0 (the factored panel sums and moments)
    S, Q = np.array([[0.7], [1.3]]), np.array([[0.05, 2.0]])
    law = ri.jjt_law(S, Q, 10, "tanh")
    m1, m2, var = law.mean(), law.moment(2.0), law.var()
    assert m1.shape == var.shape == (2, 2)
    for i in range(2):
        for j in range(2):
            ref1, ref2 = (_mp_tanh_moment(S[i, 0], Q[0, j], 10, k) for k in (1, 2))
            for m, ref in ((m1, ref1), (m2, ref2), (var, ref2 - ref1 ** 2)):   # 30 digits: no cancellation
                assert abs(m[i, j] / float(ref) - 1.0) < 1e-14, (i, j, m[i, j], ref)
