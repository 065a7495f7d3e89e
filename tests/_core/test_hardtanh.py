"""The hard-tanh Gaussian moments shared by the identity-init laws and the mean-field maps
(rmt_idinit._core.hardtanh), against mpmath for every q in [1e-300, 1e300] and, from log q, beyond.
"""
import math

import mpmath
import numpy as np

from rmt_idinit._core import hardtanh
from rmt_idinit.random_init import meanfield as mf


# --- hard-tanh moments for every q, against mpmath at 50 digits ----------------------------------

def _mp_ht(q):
    import mpmath as mp

    with mp.workdps(50):
        q = mp.mpf(q)
        y = 1 / (2 * q)
        P = mp.gammainc(mp.mpf(1.5), 0, y, regularized=True)  # E[z^2; |z| < 1/sqrt(q)]
        tail = mp.erfc(mp.sqrt(y)) if y < 1e6 else mp.mpf(0)  # P(|z| > 1/sqrt(q))
        return float(q * P + tail), float(P)


def test_hardtanh_second_moment_exact_for_every_q():
    """E[clip(sqrt(q) z)^2] = q P(3/2, 1/(2q)) + erfc(1/sqrt(2q)) over q in [1e-300, 1e300].

    Before: rel. error 2e-8 at q = 1e16, and 2.0 (above the bound 1) at q = 1e32.
    Measured now: <= 2.2e-16 (q given), <= 5.7e-14 from log q (exp(log q) carries |log q| ulps).
    """
    from rmt_idinit import identity
    from rmt_idinit._core import hardtanh as _hardtanh

    q = np.concatenate([np.logspace(-300, 300, 241), [1e16, 1e32, 0.02, 4.0, 0.5]])
    ref = np.array([_mp_ht(v) for v in q])
    got = np.asarray(mf.phi_second_moment(q, "hardtanh"))
    assert np.max(np.abs(got / ref[:, 0] - 1)) < 1e-15
    assert np.all(got <= 1.0)
    from_log = identity._ht_second_moment_from_log(np.log(q))
    assert np.max(np.abs(from_log / ref[:, 0] - 1)) < 2e-13
    # one implementation, shared
    assert identity._ht_second_moment_from_log is _hardtanh.second_moment_from_log
    slope = np.asarray(mf.q_map_slope(q, 1.0, "hardtanh"))
    ok = ref[:, 1] > 1e-300
    assert np.max(np.abs(slope[ok] / ref[ok, 1] - 1)) < 1e-14


def _mp_by_parts(log_q):
    # E[clip(sqrt(q) z)^2] = q (erf(a/sqrt2) - 2 a phi(a)) + erfc(a/sqrt2), a = 1/sqrt(q): the
    # integral of z^2 phi over |z| < a by parts, not the incomplete gamma of the code. For large q
    # the bracket cancels to ~a^3, so the digits grow with |log q|.
    with mpmath.workdps(60 + int(abs(log_q))):
        q = mpmath.exp(mpmath.mpf(log_q))
        a = 1 / mpmath.sqrt(q)
        inner = mpmath.erf(a / mpmath.sqrt(2)) - 2 * a * mpmath.npdf(a)
        return q * inner + mpmath.erfc(a / mpmath.sqrt(2)), inner


def test_second_moment_and_slope_against_integration_by_parts():
    log_q = np.linspace(math.log(1e-300), math.log(1e300), 97)
    q = np.exp(log_q)
    ref = [_mp_by_parts(v) for v in log_q]
    e_ref = np.array([float(r[0]) for r in ref])
    s_ref = np.array([float(r[1]) for r in ref])
    # q given: a few ulp; from log q: exp(log q) carries |log q| ulps
    assert np.max(np.abs(hardtanh.second_moment(q) / e_ref - 1)) < 8 * np.finfo(float).eps
    ok = s_ref > 1e-300   # the slope ~ q^-1.5 / 3 leaves double range above q ~ 1e200
    assert np.max(np.abs(hardtanh.slope(q[ok]) / s_ref[ok] - 1)) < 8 * np.finfo(float).eps
    assert np.all(hardtanh.slope(q[~ok]) < 1e-290)
    from_log = hardtanh.second_moment_from_log(log_q)
    assert np.max(np.abs(from_log / e_ref - 1) / (1 + np.abs(log_q))) < 8 * np.finfo(float).eps


def test_second_moment_from_log_beyond_double_range():
    # q = e^-700: the clip never acts (its mass is ~exp(-e^700)), so E = q; q = e^800 and e^2000:
    # E = 1 - sqrt(2 / (pi q)) + ..., which is 1 in double precision
    for log_q in (-700.0, -650.0):
        got = float(hardtanh.second_moment_from_log(np.array([log_q]))[0])
        assert abs(got / float(mpmath.exp(log_q)) - 1) < 8 * np.finfo(float).eps * (1 + abs(log_q))
    for log_q in (800.0, 2000.0):
        assert float(hardtanh.second_moment_from_log(np.array([log_q]))[0]) == 1.0
    assert hardtanh.second_moment_from_log(np.array([-np.inf]))[0] == 0.0
    assert hardtanh.second_moment(np.array([0.0]))[0] == 0.0 and hardtanh.slope(np.array([0.0]))[0] == 1.0
