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
