"""Property-based checks (hypothesis) of the float64 laws: ranges, identities, monotonicity, shapes."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import rmt_idinit as ri

sigmas = st.floats(0.05, 20.0)
q0s = st.floats(1e-10, 1e4)
depths = st.integers(1, 100_000)
pw = st.sampled_from(["hardtanh", "relu", "leaky_relu", "linear"])
FAST = settings(max_examples=60, deadline=None)
ULPS = 8 * np.finfo(float).eps  # rounding allowance of erf/erfc and of sigma**(-L)


@FAST
@given(sigmas, q0s, depths, pw)
def test_alpha_in_unit_interval_and_complement(s, q, d, act):
    a, c = float(ri.alpha(s, q, d, act)), float(ri.alpha_complement(s, q, d, act))
    assert 0.0 <= a <= 1.0 and 0.0 <= c <= 1.0
    assert abs(a + c - 1.0) <= 1e-15


@FAST
@given(sigmas, q0s, q0s, depths)
def test_alpha_non_increasing_in_q0(s, q1, q2, d):
    lo, hi = min(q1, q2), max(q1, q2)
    # weakly monotone up to the few ulps of erf/erfc's own rounding (ties are allowed, flips are not)
    assert ri.alpha(s, lo, d) >= ri.alpha(s, hi, d) * (1 - ULPS)
    assert ri.alpha_complement(s, lo, d) <= ri.alpha_complement(s, hi, d) * (1 + ULPS)


@FAST
@given(sigmas, q0s, depths, depths)
def test_alpha_non_increasing_in_depth(s, q, d1, d2):
    lo, hi = min(d1, d2), max(d1, d2)
    assert ri.alpha(s, q, lo) >= ri.alpha(s, q, hi) * (1 - ULPS)


@FAST
@given(sigmas, q0s, st.integers(1, 300))
def test_layer_alphas_monotone_and_consistent(s, q, d):
    la = ri.layer_alphas(s, q, d)
    assert la.shape == (d,)
    assert np.all(np.diff(la) <= ULPS * la[1:])
    # the same erf through two code paths (per-layer array vs one depth): equal to a few ulps
    assert abs(la[-1] - ri.alpha(s, q, d)) <= ULPS * la[-1]
    if s <= 1:  # a unit unsaturated at layer 1 never saturates
        assert np.all(la == la[0])


@FAST
@given(hnp.array_shapes(max_dims=3, max_side=4), hnp.array_shapes(max_dims=3, max_side=4), st.data())
def test_broadcasting_follows_numpy(shape_s, shape_q, data):
    try:
        expected = np.broadcast_shapes(shape_s, shape_q)
    except ValueError:
        expected = None
    s = data.draw(hnp.arrays(np.float64, shape_s, elements=st.floats(0.5, 2.0)))
    q = data.draw(hnp.arrays(np.float64, shape_q, elements=st.floats(1e-3, 10.0)))
    if expected is None:
        try:
            ri.alpha(s, q, 3)
        except ValueError as exc:
            assert "shapes cannot be broadcast together" in str(exc)
        else:
            raise AssertionError("mismatched shapes must raise")
        return
    assert np.shape(ri.alpha(s, q, 3)) == expected
    law = ri.jjt_law(s, q, 3)
    assert law.batch_shape == expected
    assert law.weights.shape == expected + (2,)
    assert ri.layer_alphas(s, q, 4).shape == expected + (4,)
    assert ri.forward_moments(s, q, 4).shape == expected + (4,)


@FAST
@given(sigmas, q0s, st.integers(1, 2000), pw, st.floats(0.0, 1.0))
def test_law_weights_mean_cdf(s, q, d, act, slope):
    kw = {"negative_slope": slope} if act == "leaky_relu" else {}
    law = ri.jjt_law(s, q, d, act, **kw)
    assert abs(law.weights.sum() - 1.0) <= 1e-15
    atoms = law.atoms
    if np.all(np.isfinite(atoms)):
        m = float(np.sum(atoms * law.weights))
        assert np.isclose(float(law.mean()), m, rtol=1e-13, atol=0)
    x = np.sort(np.concatenate([[0.0, 1e-300], np.exp(np.linspace(-50, 50, 41)), atoms[np.isfinite(atoms)]]))
    F = law.cdf(x)
    assert np.all((F >= 0) & (F <= 1))
    assert np.all(np.diff(F) >= 0)
    assert np.allclose(F + law.sf(x), 1.0, atol=1e-15)


@settings(max_examples=4, deadline=None)
@given(st.floats(0.5, 1.5), st.floats(0.1, 2.0), st.integers(1, 10), st.sampled_from(["tanh", "gelu", "softplus"]))
def test_smooth_cdf_monotone(s, q, d, act):
    law = ri.jjt_law(s, q, d, act)
    m = float(law.mean())
    x = m * np.exp(np.linspace(-8, 4, 25))
    F = law.cdf(x)
    assert np.all((F >= 0) & (F <= 1))
    assert np.all(np.diff(F) >= -1e-12)
