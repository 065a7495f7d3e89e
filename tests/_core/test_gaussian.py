"""rmt_idinit._core.gaussian: interval masses against mpmath at 50 digits, in both tails and across 0."""
import mpmath
import numpy as np
import pytest

from rmt_idinit._core.gaussian import Z_MAX, interval_mass

mp = mpmath.mp.clone()
mp.dps = 50


def _ref(a, b, sd):
    s = mp.sqrt(2) * mp.mpf(sd)
    lo = -mp.inf if np.isneginf(a) else mp.mpf(a)
    hi = mp.inf if np.isposinf(b) else mp.mpf(b)
    # 50 digits do not save a difference of two tails that are both ~1 (erfc(1e-300) = 1 - 1e-300):
    # the tail form only where a tail is small, the erf form elsewhere
    if lo >= 1:
        return (mp.erfc(lo / s) - mp.erfc(hi / s)) / 2
    if hi <= -1:
        return (mp.erfc(-hi / s) - mp.erfc(-lo / s)) / 2
    return (mp.erf(hi / s) - mp.erf(lo / s)) / 2


CASES = [(-np.inf, np.inf, 1.0), (0.0, np.inf, 2.0), (30.0, np.inf, 1.0), (30.0, 31.0, 1.0),
         (-np.inf, -35.0, 1.0), (-37.0, -36.5, 1.0), (-1e-10, 2e-10, 1.0), (1e-300, 1e-290, 0.5),
         (-3.0, 2.0, 0.1), (0.7, 0.9, 3.0)]


@pytest.mark.parametrize("a,b,sd", CASES)
def test_interval_mass_is_accurate_to_the_conditioning_of_its_ends(a, b, sd):
    got = float(interval_mass(a, b, sd))
    ref = float(_ref(a, b, sd))
    # relative accuracy of a tail mass is bounded by the rounding of a/sd: ~ (a/sd)^2 ulp; 1 - 1 + tiny
    # (the formula these replace in the tails) would lose everything
    x = max(abs(v) for v in (a, b) if np.isfinite(v)) / sd if np.isfinite([a, b]).any() else 0.0
    assert got == pytest.approx(ref, rel=1e-15 * (10 + x * x), abs=0)


def test_a_narrow_interval_in_a_tail_loses_only_what_the_subtraction_costs():
    # erfc(a) - erfc(b) for b - a << 1 cancels: the relative error is ~ eps P(z > a) / P(a < z < b)
    a, b = 5.0, 5.0 + 1e-9
    ref = float(_ref(a, b, 1.0))
    bound = 4e-16 * float(_ref(a, np.inf, 1.0)) / ref
    assert float(interval_mass(a, b)) == pytest.approx(ref, rel=bound)


def test_broadcasting_and_empty_intervals():
    a = np.array([[0.0], [1.0]])
    b = np.array([1.0, 0.5, -np.inf])
    out = interval_mass(a, b, np.array([1.0, 2.0, 1.0]))
    assert out.shape == (2, 3)
    assert out[1, 1] == 0.0 and out[0, 2] == 0.0 and out[1, 2] == 0.0  # b <= a: no mass, never negative
    assert out[0, 0] == pytest.approx(float(_ref(0.0, 1.0, 1.0)), rel=1e-14)


def test_the_cells_of_a_partition_sum_to_one():
    edges = np.concatenate([[-np.inf], np.linspace(-8, 8, 1001), [np.inf]])
    assert float(np.sum(interval_mass(edges[:-1], edges[1:], 1.3))) == pytest.approx(1.0, rel=1e-14)


def test_z_max_is_where_the_normal_tail_leaves_double_precision():
    assert float(interval_mass(Z_MAX, np.inf)) < 1e-323
    assert float(interval_mass(Z_MAX - 1.0, np.inf)) > 0.0


def test_callers_share_the_one_formula():
    from rmt_idinit import piecewise
    from rmt_idinit.select import levelsets

    assert levelsets.gauss_interval is interval_mass
    a, b = np.array([-np.inf, -1.0, 2.0]), np.array([-1.0, 2.0, np.inf])
    assert np.array_equal(piecewise.gaussian_interval_mass(a, b, 0.25), interval_mass(a, b, 0.5))
