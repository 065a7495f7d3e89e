"""Mean-field maps: closed forms, docs/theory/random_init.md references, Monte Carlo of random networks."""
import math

import numpy as np
import pytest

from rmt_idinit.random_init import meanfield as mf
from rmt_idinit.activations import Activation, get_activation


@pytest.mark.parametrize("q, p, sw2, sb2", [(0.5, 0.842701, 1.18666, 0.059635), (1.0, 0.682689, 1.46479, 0.244080)])
def test_hardtanh_reference_critical_points(q, p, sw2, sb2):
    cp = mf.critical_line(q, "hardtanh")
    assert abs(float(mf.derivative_moment(q, 1, "hardtanh")) - p) < 1e-6
    assert abs(float(cp.sigma_w) ** 2 - sw2) < 1e-5  # the reference is given to 6 significant digits
    assert abs(float(cp.sigma_b) ** 2 - sb2) < 1e-6
    # the critical point is a fixed point with chi1 = 1
    assert abs(float(mf.q_star(cp.sigma_w, cp.sigma_b)) - q) < 1e-10
    assert abs(float(mf.chi1(cp.sigma_w, cp.sigma_b)) - 1.0) < 1e-10
    back = mf.critical_line(activation="hardtanh", sigma_b=cp.sigma_b)
    assert abs(float(back.q_star) - q) < 1e-9


def test_closed_forms_from_theory():
    q = np.array([0.1, 1.0, 7.0])
    assert np.allclose(mf.q_map(q, 1.3, 0.2, "relu"), 1.69 * q / 2 + 0.04, rtol=0, atol=1e-15)
    assert np.allclose(mf.chi1(1.3, activation="relu", q=q), 1.69 / 2)
    a = 0.7
    expect = 1.69 * (4 * a * a / math.pi) / np.sqrt(1 + 4 * a * a * q)
    assert np.allclose(mf.chi1(1.3, activation=get_activation("erf", scale=a), q=q), expect, rtol=1e-14)
    assert np.allclose(mf.chi1(1.3, activation="hardtanh", q=q), 1.69 * np.vectorize(math.erf)(1 / np.sqrt(2 * q)))


def test_erf_closed_forms_match_generic_quadrature():
    """The erf closed forms against the generic path (same phi, dphi as a user Activation)."""
    act = get_activation("erf")
    user = Activation("erf_user", act.phi, act.dphi)
    for q in (0.2, 1.0, 5.0):
        assert abs(mf.q_map(q, 1.2, 0.3, act) - mf.q_map(q, 1.2, 0.3, user)) < 1e-12
        assert abs(mf.chi1(1.2, activation=act, q=q) - mf.chi1(1.2, activation=user, q=q)) < 1e-12
        assert abs(mf.q_map_slope(q, 1.2, act) - mf.q_map_slope(q, 1.2, user)) < 1e-12
        for c in (-0.4, 0.5, 0.95):
            # 120 x 120 Gauss-Hermite product rule for the generic c-map: ~1e-9 at q = 5
            assert abs(mf.c_map(c, 1.2, 0.3, act, q=q) - mf.c_map(c, 1.2, 0.3, user, q=q)) < 1e-8
            assert abs(mf.c_map_slope(c, 1.2, 0.3, act, q=q) - mf.c_map_slope(c, 1.2, 0.3, user, q=q)) < 1e-6


def test_hardtanh_closed_forms_match_adaptive_quadrature():
    """Hard-tanh has kinks, so the reference is scipy's adaptive quad split at h = +-1."""
    from scipy import integrate

    for q in (0.2, 1.0, 5.0):
        s = math.sqrt(q)
        dens = lambda h: math.exp(-h * h / (2 * q)) / math.sqrt(2 * math.pi * q)
        e2 = sum(integrate.quad(lambda h: min(max(h, -1), 1) ** 2 * dens(h), a, b, epsabs=1e-14)[0]
                 for a, b in [(-40 * s, -1), (-1, 1), (1, 40 * s)])
        assert abs(float(mf.phi_second_moment(q, "hardtanh")) - e2) < 1e-12
        # slope dE/dq by a central difference of the closed form
        d = (mf.phi_second_moment(q + 1e-6) - mf.phi_second_moment(q - 1e-6)) / 2e-6
        assert abs(float(mf.q_map_slope(q, 1.0)) - d) < 1e-7
        # c-map (inner integral in closed form) against the 2-D average with dblquad at c = 0.3
        c = 0.3
        ref = integrate.dblquad(
            lambda z2, z1: min(max(s * z1, -1), 1) * min(max(s * (c * z1 + math.sqrt(1 - c * c) * z2), -1), 1)
            * math.exp(-(z1 * z1 + z2 * z2) / 2) / (2 * math.pi), -9, 9, -9, 9, epsabs=1e-10)[0]
        assert abs(float(mf.c_map(c, 1.0, 0.0, q=q)) * q - ref) < 1e-7


def test_broadcasting_and_depth_scales():
    sw = np.array([[0.8], [1.0], [1.6]])
    sb = np.array([0.05, 0.3])
    qs = mf.q_star(sw, sb, "tanh")
    assert qs.shape == (3, 2)
    assert np.allclose(mf.q_map(qs, sw, sb, "tanh"), qs, rtol=1e-12)
    ds = mf.depth_scales(sw, sb, "tanh")
    assert ds.xi_c.shape == (3, 2)
    ordered = ds.chi1 < 1
    assert np.all(ds.c_star[ordered] == 1) and np.all(ds.c_star[~ordered] < 1)
    assert np.all(ds.xi_grad[ordered] > 0) and np.all(ds.xi_grad[~ordered] < 0)
    # at criticality the gradient and correlation depth scales diverge
    cp = mf.critical_line(0.5, "tanh")
    assert mf.depth_scales(cp.sigma_w, cp.sigma_b, "tanh").xi_grad > 1e6


def test_c_star_is_fixed_point_in_chaotic_phase():
    cs = float(mf.c_star(2.5, 0.1, "tanh"))
    assert 0 < cs < 1
    assert abs(float(mf.c_map(cs, 2.5, 0.1, "tanh")) - cs) < 1e-10


@pytest.mark.parametrize("activation", ["tanh", "hardtanh", "relu"])
def test_q_layers_and_chi1_against_monte_carlo(activation):
    """q^l of a width-2000 random network from q0 = 2 vs the q-map iterates, and chi1 vs the mean
    squared singular value of one layer Jacobian D W: agreement to a few 1/sqrt(N) standard errors."""
    rng = np.random.default_rng(1)
    act = get_activation(activation)
    N, L = 2000, 4
    sw, sb = (1.3, 0.3) if activation != "relu" else (1.2, 0.3)
    h = rng.normal(0, math.sqrt(2.0), N)
    q_emp = []
    for _ in range(L):
        W = rng.normal(0, sw / math.sqrt(N), (N, N))
        h = W @ act.phi(h) + rng.normal(0, sb, N)
        q_emp.append(np.mean(h * h))
    q_th = mf.q_layers(2.0, sw, sb, L, activation)
    assert np.allclose(q_emp, q_th, rtol=6 * math.sqrt(2 / N))
    # chi1: E over units of sigma_w^2 phi'(h)^2 at the fixed point = tr(J J^T)/N for one layer
    qs = float(mf.q_star(sw, sb, activation))
    hs = rng.normal(0, math.sqrt(qs), N)
    chi_emp = sw * sw * np.mean(act.dphi(hs) ** 2)
    c1 = float(mf.chi1(sw, sb, activation))
    assert abs(chi_emp - c1) < 6 * sw * sw * np.std(act.dphi(hs) ** 2) / math.sqrt(N) + 1e-12


def test_bad_input_names_parameter():
    with pytest.raises(ValueError, match="sigma_w"):
        mf.q_map(1.0, 0.0, 0.1)
    with pytest.raises(ValueError, match="sigma_w"):
        mf.q_star(-1.0, 0.1)
    with pytest.raises(ValueError, match="sigma_b"):
        mf.q_map(1.0, 1.0, -0.1)
    with pytest.raises(ValueError, match="q"):
        mf.q_map(-1.0, 1.0, 0.1)
    with pytest.raises(ValueError, match="sigma_w"):
        mf.q_star(1.5, 0.1, "relu")  # no finite fixed point
    with pytest.raises(ValueError, match="q_star"):
        mf.critical_line(0.0)
    with pytest.raises(ValueError, match="c must"):
        mf.c_map(1.5, 1.0, 0.1, q=1.0)
    with pytest.raises(ValueError, match="activation"):
        mf.q_map(1.0, 1.0, 0.1, "swishy")


def test_q_star_huge_sigma_against_mpmath():
    import mpmath as mp

    sw, sb = 1e100, 0.1
    got = float(mf.q_star(sw, sb, "hardtanh"))
    with mp.workdps(50):
        q = mp.mpf(sw) ** 2
        for _ in range(5):  # the map is contracting with slope ~ 1e-100 here
            y = 1 / (2 * q)
            q = mp.mpf(sw) ** 2 * (q * mp.gammainc(mp.mpf(1.5), 0, y, regularized=True) + mp.erfc(mp.sqrt(y))) + mp.mpf(sb) ** 2
    assert got == pytest.approx(float(q), rel=1e-14)  # was 7e31


def test_mean_field_refusals():
    with pytest.raises(ValueError, match="sigma_w"):
        mf.q_star(1e200, 0.1, "hardtanh")  # sigma_w^2 overflows
    with pytest.raises(ValueError, match=r"c must lie in \[-1, 1\]"):
        mf.c_map_slope(1.5, 1.0, 0.1, "hardtanh")  # was NaN
    with pytest.raises(ValueError, match=r"c must lie in \[-1, 1\]"):
        mf.c_map_slope(-1.01, 1.0, 0.1, "tanh")


def _hardtanh_q_map_mp(q, sw2):
    """``sw2 E[clip(sqrt(q) z)^2]`` in closed form at 50 digits (a = 1/sqrt(q)):
    ``q (erf(a/sqrt 2) - 2 a phi(a)) + erfc(a/sqrt 2)``."""
    import mpmath

    with mpmath.workdps(50):
        q = mpmath.mpf(q)
        a = 1 / mpmath.sqrt(q)
        phi = mpmath.exp(-a * a / 2) / mpmath.sqrt(2 * mpmath.pi)
        return sw2 * (q * (mpmath.erf(a / mpmath.sqrt(2)) - 2 * a * phi) + mpmath.erfc(a / mpmath.sqrt(2)))


def test_q_star_is_zero_where_the_map_does_not_expand_at_zero():
    """sigma_w = 1, sigma_b = 0: hard-tanh's q-map is below the diagonal for every q > 0
    (q - q_map(q) ~ q e^(-1/(2q)), 0 in double precision below q ~ 0.02), so q* = 0; the solver
    used to return 0.0142, where that difference first rounds to nonzero."""
    import mpmath

    for q in (0.005, 0.0142, 0.1, 1.0):  # the reference: strictly below the diagonal
        assert _hardtanh_q_map_mp(q, 1) < q
    assert float(mf.q_star(1.0, 0.0, "hardtanh")) == 0.0
    for act in ("tanh", "gelu", "silu"):  # phi'(0)^2 sigma_w^2 <= 1 and concave: q* = 0
        assert float(mf.q_star(1.0, 0.0, act)) == 0.0
    # just above criticality a positive q* exists and is still found, against mpmath
    sw = 1.0001
    with mpmath.workdps(50):
        ref = mpmath.findroot(lambda q: _hardtanh_q_map_mp(q, mpmath.mpf(sw) ** 2) - q, 0.066)
    assert float(mf.q_star(sw, 0.0, "hardtanh")) == pytest.approx(float(ref), rel=1e-9)
    # erf expands at 0 (phi'(0)^2 = 4/pi): its positive q* stays
    assert float(mf.q_star(1.0, 0.0, "erf")) == pytest.approx(0.1419237653, rel=1e-8)


def test_q_star_at_the_critical_point_of_homogeneous_maps():
    """relu at sigma_w^2 = 2 (sqrt(2) squares to 2 + 4e-16) and linear at 1, sigma_b = 0: every q
    is a fixed point, refused as undetermined (relu used to be told sigma_b > 0 was the problem)."""
    for act, sw in (("relu", math.sqrt(2.0)), ("linear", 1.0), ("leaky_relu", math.sqrt(2 / (1 + 0.01 ** 2)))):
        with pytest.raises(ValueError, match="every q is a fixed point"):
            mf.q_star(sw, 0.0, act)
    with pytest.raises(ValueError, match="sigma_w.*sigma_b=0.1"):
        mf.q_star(math.sqrt(2.0), 0.1, "relu")
    assert float(mf.q_star(1.0, 0.0, "relu")) == 0.0  # contracting: q* = 0
