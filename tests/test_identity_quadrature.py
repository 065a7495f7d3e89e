"""The adaptive quadrature behind the smooth J Jᵀ laws (rmt_idinit.identity).

References are independent of the code under test: the normal law's total mass (the quadrature
weights must integrate 1), mpmath at 50 digits, and lower bounds proved from elementary
inequalities (derived in the comments next to each test).
"""
from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest

import rmt_idinit as ri
from rmt_idinit import identity
from rmt_idinit.errors import AccuracyWarning


# --- the panel cap ------------------------------------------------------------------------------

@pytest.mark.parametrize("act, s, q0, d", [("gelu", 2.5, 1.0, 50), ("erf", 1.2, 1.0, 60), ("silu", 1.5, 1.0, 50)])
def test_panel_cap_keeps_weights_a_partition_and_warns(monkeypatch, act, s, q0, d):
    ref = [float(ri.jjt_law(s, q0, d, act).moment(k)) for k in (1, 2)]
    monkeypatch.setattr(identity, "_MAX_PANELS", 30)
    law = ri.jjt_law(s, q0, d, act)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        m = [float(law.moment(k)) for k in (1, 2)]
    caught = [r.message for r in rec if isinstance(r.message, AccuracyWarning)]
    assert len(caught) == 1, [str(r.message) for r in rec]
    est = caught[0].error_estimate
    assert est is not None and math.isfinite(est) and est > 0
    # the weights (which include the normal density) integrate N(0, 1) over |z| <= 38.5: exactly 1
    # to round-off; a parent panel kept next to its children counts its mass twice
    _, lw = law.continuous.log_nodes(0) if hasattr(law.continuous, "log_nodes") else (None, None)
    w = np.exp(lw) if lw is not None else law.continuous._wz
    assert abs(w.sum() - 1.0) < 1e-13, w.sum()
    # the estimate compares each unconverged panel with its halves, an upper bound in practice
    for a, b in zip(m, ref):
        assert abs(a / b - 1.0) <= est


# --- log(1 - alpha) ---------------------------------------------------------------------------

def _mp_log_erfc(x):
    # log erfc at 50 digits; log1p(-erf) where erfc is within 1e-50 of 1 (log(erfc) would be 0)
    return mpmath.log1p(-mpmath.erf(x)) if x < 1 else mpmath.log(mpmath.erfc(x))


_LOG_GRID = [(s, q0, d) for s in (0.5, 0.9, 1.0, 1.0001, 1.02, 1.5, 3.0)
             for q0 in (1e-8, 1e-4, 0.2, 1.0, 1e2) for d in (1, 10, 100, 1000, 100_000)]


def test_log_alpha_complement_vs_mpmath_near_0_and_1():
    # hard-tanh: 1 - alpha = erfc(x), x = sigma^(-m) / sqrt(2 q0) (m = L for sigma > 1, else 1); the
    # grid spans x from e^-109861 (alpha ~ 0, log(1 - alpha) ~ -1e-47712) to 7e3 (1 - alpha ~ e^-5e7)
    worst = 0.0
    with mpmath.workdps(50):
        for s, q0, d in _LOG_GRID:
            m = d if s > 1 else 1
            x = mpmath.mpf(s) ** (-m) / mpmath.sqrt(2 * mpmath.mpf(q0))
            ref = _mp_log_erfc(x)
            got = float(ri.log_alpha_complement(s, q0, d))
            if abs(ref) < mpmath.mpf("1e-300"):  # below double range: 0 (or a subnormal) is right
                assert abs(got) < 1e-300, (s, q0, d, got)
                continue
            err = float(abs(got - ref) / abs(ref))
            worst = max(worst, err)
            assert err <= 1e-12, (s, q0, d, got, ref)
    print(f"worst relative error of log_alpha_complement vs mpmath: {worst:.2g}")


def test_log_alpha_complement_small_is_not_rounded_to_zero():
    # 1 - alpha = erfc(1.5^-100 / sqrt(0.4)) = 1 - 4.39e-18: log_ndtr rounded it to exactly 0
    with mpmath.workdps(50):
        ref = _mp_log_erfc(mpmath.mpf(1.5) ** -100 / mpmath.sqrt(mpmath.mpf(0.4)))
    got = float(ri.log_alpha_complement(1.5, 0.2, 100))
    assert got < 0.0 and abs(got - float(ref)) <= 1e-15 * abs(float(ref)), (got, ref)
