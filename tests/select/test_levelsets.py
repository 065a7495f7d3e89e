"""Level sets of an even gain (rmt_idinit.select.levelsets): the half-line path against the
full-grid path, mpmath roots of the depth-L map, a dense scan of the first crossing in q0, and
the block kernels against run_layers."""
import math
import warnings

import mpmath as mp
import numpy as np
import pytest
from scipy import special

from rmt_idinit.activations import Activation, get_activation
from rmt_idinit.errors import AccuracyWarning
from rmt_idinit.recursion import log_gain_units, refine_roots_units, run_layers
from rmt_idinit.select import levelsets as ls

LEVELS = np.array([-0.5 * math.log(10.0), 0.5 * math.log(10.0)])


def _limits(sig, L, q0_range):
    # the u range level_sets brackets on (its own rule, restated)
    u_lo = 1e-3 * math.sqrt(q0_range[0])
    if sig.max() > 1.0:
        u_lo = min(u_lo, 1e-2 * math.exp(-min(L * math.log(sig.max()), 690.0)))
    return u_lo, 40.0 * math.sqrt(q0_range[1])


def _full_grid(act, sig, L, levels, q0_range):
    """The general path: every crossing on the fine grid of the whole line, scalar refinement."""
    return ls._crossings(act, sig, np.array([L]), np.asarray(levels), ls.u_grid(*_limits(sig, L, q0_range)), False)


@pytest.mark.parametrize("name,L", [("tanh", 100), ("tanh", 7), ("erf", 30)])
def test_even_path_matches_full_grid(name, L):
    act = get_activation(name)
    sig = np.exp(np.linspace(-6.0, 6.0, 41) / L)
    span = (1e-6, 1.0)
    even = ls.level_sets(act, sig, np.array([L]), LEVELS, span)
    full = _full_grid(act, sig, L, LEVELS, span)
    assert even.bounds.shape[-1] in (2, 4)              # took the half-line path
    np.testing.assert_array_equal(even.state0, full.state0)
    fb = full.bounds[..., 1:-1]
    n_roots = np.sum(np.isfinite(fb), axis=-1)
    assert set(np.unique(n_roots)) <= {0, 2} and np.any(n_roots == 2)
    two = n_roots == 2
    np.testing.assert_allclose(even.bounds[two][:, 1:3], fb[two][:, :2], rtol=1e-13)
    assert np.all(np.isinf(even.bounds[~two][:, 1:]))
    # the masses of both forms for q0 across the range, tails included
    sd = np.sqrt(np.logspace(-6, 0, 13))[:, None]
    for k in range(2):
        np.testing.assert_allclose(even.mass(sd, k, 0), full.mass(sd, k, 0), rtol=1e-11, atol=1e-300)


def _mp_log_gain(sigma, L, u):
    s = mp.mpf(sigma)
    h, lg = s * u, mp.mpf(0)
    for _ in range(L):
        lg += mp.log(s / mp.cosh(h) ** 2)
        h = s * mp.tanh(h)
    return lg


def test_even_roots_match_mpmath():
    """Each root against a 30-digit root of the 100-layer tanh map: float64 evaluates log|g| to
    ~1e-15 absolute, so a root is determined to that over the slope of log|g| in log u."""
    act, L = get_activation("tanh"), 100
    sig = np.array([0.97, 0.995, 1.0, 1.004, 1.01, 1.02, 1.03, 1.05])   # 0.97: all dead, no root
    sets = ls.level_sets(act, sig, np.array([L]), LEVELS, (1e-6, 1.0))
    n = 0
    with mp.workdps(30):
        for k in range(2):
            for p in range(sig.size):
                r = sets.bounds[k, 0, p, 2]
                if not np.isfinite(r):
                    continue
                ref = mp.findroot(lambda u: _mp_log_gain(sig[p], L, u) - LEVELS[k], mp.mpf(r))
                slope = float(abs(mp.diff(lambda t: _mp_log_gain(sig[p], L, mp.exp(t)), mp.log(ref))))
                assert abs(float(r / ref - 1)) <= 2e-15 + 1e-14 / slope, (k, sig[p])
                assert sets.bounds[k, 0, p, 1] == -r
                n += 1
    assert n == 10


def _dense_first_crossing(dead, eps):
    """The first q0 with dead(q0) > eps by a dense log scan over the search range and bisection
    of the bracket to neighbouring doubles of log q0."""
    lq = np.linspace(math.log(ls.Q0_SEARCH[0]), math.log(ls.Q0_SEARCH[1]), 4001)
    over = np.array([dead(math.exp(x)) > eps for x in lq])
    if not over.any():
        return math.inf
    i = int(np.argmax(over))
    if i == 0:
        return 0.0
    lo, hi = lq[i - 1], lq[i]
    while True:
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            return math.exp(mid)
        if dead(math.exp(mid)) > eps:
            hi = mid
        else:
            lo = mid


@pytest.mark.parametrize("eps", [1e-200, 1e-6, 0.05, 0.6])
def test_first_crossings_closed_form_vs_dense_scan(eps):
    act, L = get_activation("tanh"), 100
    sig = np.exp(np.linspace(-8.0, 8.0, 9) / L)
    sets = ls.level_sets(act, sig, np.array([L]), LEVELS[:1], ls.Q0_SEARCH)
    got = ls.set_first_crossings(sets, eps)
    for p in range(sig.size):
        r = sets.bounds[0, 0, p, 2] if sets.bounds.shape[-1] == 4 else math.inf
        st = bool(sets.state0[0, 0, p])
        # the dead mass written out here: P(|u| > r) for u ~ N(0, q0), or 0 / 1 without a root
        dead = (lambda q, r=r: float(special.erfc(r / math.sqrt(2.0 * q)))) if np.isfinite(r) else \
            (lambda q, st=st: 1.0 if st else 0.0)
        want = _dense_first_crossing(dead, eps)
        if want in (0.0, math.inf):
            assert got[p] == want
        else:
            assert got[p] == pytest.approx(want, rel=1e-14)
    assert np.any(np.isfinite(got) & (got > 0))


def test_first_crossings_general_sets_keep_the_scan():
    """Sets that are not {|u| > c} (sigmoid: no symmetry) go through first_crossings, curve by curve."""
    act, L = get_activation("sigmoid"), 20
    sig = np.exp(np.linspace(-6.0, 6.0, 7) / L) * 4.0
    sets = ls.level_sets(act, sig, np.array([L]), [-2.0], ls.Q0_SEARCH)
    got = ls.set_first_crossings(sets, 0.05)
    want = ls.first_crossings(lambda q: sets.mass(np.sqrt(q), 0, 0), 0.05, sig.size)
    np.testing.assert_array_equal(got, want)


def test_symmetric_mass_is_erfc_to_the_last_digits():
    act, L = get_activation("tanh"), 100
    sig = np.exp(np.linspace(-4.0, 4.0, 9) / L)
    sets = ls.level_sets(act, sig, np.array([L]), LEVELS[:1], (1e-6, 1.0))
    sd = np.sqrt(np.logspace(-6, 0, 7))
    m = sets.mass(sd[:, None], 0, 0)
    with mp.workdps(30):
        for p in range(sig.size):
            r = sets.bounds[0, 0, p, 2]
            for i, s in enumerate(sd):
                if not np.isfinite(r):
                    want = 1.0 if sets.state0[0, 0, p] else 0.0
                    assert m[i, p] == want
                    continue
                x = mp.mpf(r) / (mp.sqrt(2) * mp.mpf(s))
                # a tail mass carries 2 x^2 times the few-ulp rounding of x = r / (sqrt(2) sd)
                assert m[i, p] == pytest.approx(float(mp.erfc(x)), rel=1e-15 + 1e-15 * float(x) ** 2, abs=1e-320)


@pytest.mark.parametrize("name", ["tanh", "erf", "sigmoid", "gelu"])
def test_log_gain_units_is_run_layers(name):
    act = get_activation(name)
    sig = np.exp(np.linspace(-5.0, 5.0, 9) / 50)
    u = np.concatenate([[0.0], np.geomspace(1e-9, 30.0, 40), -np.geomspace(1e-3, 3.0, 5)])
    rec = np.array([3, 50, 120])
    lg, _ = run_layers(act, sig, np.zeros(sig.size), np.broadcast_to(u, (sig.size, u.size)), rec)
    R, S, U = np.meshgrid(rec, sig, u, indexing="ij")
    got = log_gain_units(act, S.ravel(), 0.0, U.ravel(), R.ravel()).reshape(R.shape)
    np.testing.assert_array_equal(got, lg)


def test_refine_roots_units_closes_the_bracket():
    act, L = get_activation("tanh"), 60
    sig = np.array([0.99, 1.0, 1.01])
    lo, hi = np.full(3, 1e-3), np.full(3, 10.0)
    level = np.full(3, -1.0)
    f_lo = log_gain_units(act, sig, 0.0, lo, L) - level
    f_hi = log_gain_units(act, sig, 0.0, hi, L) - level
    assert np.all(f_lo > 0) and np.all(f_hi < 0)
    r = refine_roots_units(act, sig, 0.0, L, lo, hi, f_lo, f_hi, level)
    left = log_gain_units(act, sig, 0.0, np.nextafter(r, 0.0), L) - level
    right = log_gain_units(act, sig, 0.0, np.nextafter(r, np.inf), L) - level
    assert np.all((left >= 0) | (right <= 0))          # a sign change within an ulp of r
    with mp.workdps(30):
        for s, x in zip(sig, r):
            ref = mp.findroot(lambda u: _mp_log_gain(s, L, u) + 1, mp.mpf(x))
            assert abs(float(x / ref - 1)) < 1e-13


def test_refine_roots_units_warns_at_the_cap():
    # a bracket whose end signs lie (no root inside; f_lo = inf: halvings only): every step moves
    # hi halfway to 0, and 40 -> 5e-324 takes ~1080 halvings, past the cap of 600
    act = get_activation("tanh")
    with pytest.warns(AccuracyWarning, match="cap"):
        r = refine_roots_units(act, np.array([1.0]), 0.0, 10, np.array([0.0]), np.array([40.0]),
                               np.array([np.inf]), np.array([-1.0]), np.array([5.0]))
    assert 0.0 < r[0] < 1e-100


def test_flagged_record_with_a_non_monotone_gain_takes_the_full_grid():
    """An odd phi whose phi' oscillates (a record flagged even_decreasing_gain that breaks the
    promise): the half-line grid sees a level crossed twice and level_sets takes the full grid."""
    act = Activation("wavy", lambda h: 0.5 * h + 0.5 * np.sin(h), lambda h: 0.5 + 0.5 * np.cos(h),
                     lambda h: -0.5 * np.sin(h), even_decreasing_gain=True)
    sig, L = np.array([1.0, 1.2]), 2
    span = (1e-2, 100.0)
    assert ls._crossings(act, sig, np.array([L]), np.array([-1.0]),
                         ls.half_grid(*_limits(sig, L, span), ls.PER_DECADE_MONOTONE), True) is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = ls.level_sets(act, sig, np.array([L]), [-1.0], span)
    want = _full_grid(act, sig, L, [-1.0], span)
    np.testing.assert_array_equal(got.bounds, want.bounds)
    np.testing.assert_array_equal(got.state0, want.state0)
    assert got.bounds.shape[-1] > 4
