"""The mpmath references against themselves and against first principles (no float64 code)."""
from __future__ import annotations

import mpmath
import pytest

from rmt_idinit import precise as P


def close(a, b, tol="1e-45"):
    with mpmath.workdps(60):
        return abs(a - b) <= mpmath.mpf(tol) * max(abs(b), mpmath.mpf("1e-300"))


def test_global_precision_untouched():
    before = mpmath.mp.dps
    P.alpha(1.5, 0.1, 3, dps=80)
    P.jjt_moment(1.0, 1.0, 2, "tanh", dps=30, k=1)
    assert mpmath.mp.dps == before


def test_dps_controls_precision():
    a30 = P.alpha(1.02, 0.1, 50, dps=30)
    a60 = P.alpha(1.02, 0.1, 50, dps=60)
    assert isinstance(a30, mpmath.mpf)
    assert close(a30, a60, "1e-29") and not close(a30, a60, "1e-40")


def test_mpf_inputs_keep_their_digits():
    with mpmath.workdps(50):
        s = mpmath.mpf("1.02000000000000000000000000001")
    assert P.alpha(s, 0.1, 50) != P.alpha(1.02, 0.1, 50)


def test_alpha_and_complement_sum_to_one():
    for s, q, d in [(0.5, 1e-2, 3), (1.0, 1.0, 1), (1.5, 1e-8, 40), (3.0, 1e2, 2)]:
        with mpmath.workdps(60):
            assert close(P.alpha(s, q, d) + P.alpha_complement(s, q, d), mpmath.mpf(1))


def test_hardtanh_atom_weight_by_quadrature_of_the_gain():
    # alpha^L = P(g_L(u) != 0): integrate the indicator of the iterated map independently
    s, q, d = 1.3, 0.2, 4
    with mpmath.workdps(30):
        edge = mpmath.mpf(s) ** -d
        mass = mpmath.quad(lambda u: mpmath.npdf(u, 0, mpmath.sqrt(q)) if P.log_gain(u, s, d, dps=30) > -mpmath.inf else 0,
                           [-edge, 0, edge])
        assert close(mass, P.alpha(s, q, d, dps=30), "1e-25")


def test_log_gain_matches_direct_product():
    # tanh, 3 layers, by hand
    with mpmath.workdps(40):
        s, u = mpmath.mpf(1.2), mpmath.mpf(0.3)
        h, g = s * u, mpmath.mpf(1)
        for _ in range(3):
            g *= s * (1 - mpmath.tanh(h) ** 2)
            h = s * mpmath.tanh(h)
        assert close(P.log_gain(u, 1.2, 3, "tanh", dps=40), mpmath.log(g), "1e-35")
    assert P.log_gain(2.0, 1.1, 3) == mpmath.ninf  # saturated hard-tanh unit
    with mpmath.workdps(60):
        assert close(P.log_gain(0.1, 1.1, 3), 3 * mpmath.log(mpmath.mpf(1.1)))


def test_jjt_moment_hardtanh_quadrature_equals_closed_form():
    for s, q, d in [(1.5, 0.1, 5), (0.8, 2.0, 3)]:
        m_quad = P.jjt_moment(s, q, d, "hardtanh", dps=25, k=2)
        m_closed = P.moment(s, q, d, dps=25, k=2)
        assert close(m_quad, m_closed, "1e-20")


def test_jjt_moment_linear_and_relu():
    with mpmath.workdps(40):
        assert close(P.jjt_moment(1.1, 0.3, 4, "linear", dps=25, k=1), mpmath.mpf(1.1) ** 8, "1e-20")
        assert close(P.jjt_moment(1.1, 0.3, 4, "relu", dps=25, k=1), mpmath.mpf(1.1) ** 8 / 2, "1e-20")


def test_jjt_moment_quadrature_methods_agree():
    # two different quadrature rules on the gelu map with an unstable fixed point
    a = P.jjt_moment(1.5, 1.0, 12, "gelu", dps=18, k=1)
    b = P.jjt_moment(1.5, 1.0, 12, "gelu", dps=18, method="tanh-sinh", k=1)
    assert close(a, b, "1e-14")


def test_hardtanh_second_moment_branches_and_definition():
    # series branch (q > 1) against the closed form at many more digits, and a direct integral
    for q in ["1.5", "10", "1e6"]:
        with mpmath.workdps(120):
            qq = mpmath.mpf(q)
            x = 1 / mpmath.sqrt(2 * qq)
            closed = (qq - 1) * mpmath.erf(x) - mpmath.sqrt(2 * qq / mpmath.pi) * mpmath.exp(-x * x) + 1
            assert close(P.hardtanh_second_moment(qq), closed)
    with mpmath.workdps(30):
        direct = mpmath.quad(lambda z: min(mpmath.mpf("0.3") * z * z, 1) * mpmath.npdf(z),
                             [-mpmath.inf, -1 / mpmath.sqrt(0.3), 0, 1 / mpmath.sqrt(0.3), mpmath.inf])
        assert close(P.hardtanh_second_moment(mpmath.mpf("0.3"), dps=30), direct, "1e-25")
    with mpmath.workdps(50):
        # 1 - E_ht(q) = (2/3) sqrt(2/pi) q^(-1/2) (1 + O(1/q)): no cancellation at q = 1e60
        huge = P.hardtanh_second_moment(mpmath.mpf(10) ** 60)
        assert close(1 - huge, mpmath.mpf(2) / 3 * mpmath.sqrt(2 / mpmath.pi) * mpmath.mpf(10) ** -30, "1e-18")


def test_forward_moments_smooth_by_quadrature_and_layers():
    full = P.forward_moments(1.2, 0.5, 3, "tanh", dps=20)
    assert len(full) == 3
    assert close(P.forward_moments(1.2, 0.5, 3, "tanh", layers=[3], dps=20)[0], full[2], "1e-18")
    # hard-tanh forward moments from the closed form equal the quadrature of the scalar map
    with mpmath.workdps(25):
        s, q = mpmath.mpf(1.5), mpmath.mpf(0.2)

        def x3(u):
            h = s * u
            for _ in range(2):
                h = s * max(-1, min(1, h))
            return max(-1, min(1, h)) ** 2 * mpmath.npdf(u, 0, mpmath.sqrt(q))
        edges = [-mpmath.inf] + [sg * s ** -k for k in (1, 2, 3) for sg in (-1, 1)] + [mpmath.inf]
        assert close(mpmath.quad(x3, sorted(edges, key=float)), P.forward_moments(1.5, 0.2, 3, dps=25)[2], "1e-20")


def test_atoms_and_moments_consistency():
    mpmath.mp.dps, old = 60, mpmath.mp.dps
    try:
        _atoms_and_moments()
    finally:
        mpmath.mp.dps = old


def _atoms_and_moments():
    la, w = P.log_atoms(1.7, 0.3, 6), P.weights(1.7, 0.3, 6)
    assert close(P.atoms(1.7, 0.3, 6)[0], mpmath.exp(la[0])) and P.atoms(1.7, 0.3, 6)[1] == 0
    assert close(P.mean(1.7, 0.3, 6), w[0] * mpmath.exp(la[0]))
    m1, m2 = P.moment(1.7, 0.3, 6, k=1), P.moment(1.7, 0.3, 6, k=2)
    assert close(P.var(1.7, 0.3, 6), m2 - m1 * m1, "1e-40")
    la = P.log_atoms(2.0, 1.0, 3, "leaky_relu", negative_slope=0.5)
    w = P.weights(2.0, 1.0, 3, "leaky_relu", negative_slope=0.5)
    assert close(la[1], 6 * mpmath.log(mpmath.mpf(1))) and w == [0.5, 0.5]
    assert P.layer_alphas(0.7, 0.4, 3)[0] == P.layer_alphas(0.7, 0.4, 3)[2]


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: P.alpha(-1, 1, 1), ValueError, r"^sigma must be a finite number > 0, got -1\.0$"),
    (lambda: P.alpha(1, float("nan"), 1), ValueError, r"^q0 must be a finite number > 0, got nan$"),
    (lambda: P.alpha(1, 1, 0), ValueError, r"^depth must be an integer >= 1, got 0$"),
    (lambda: P.alpha(1, 1, 2.5), ValueError, r"^depth must be an integer >= 1, got 2\.5$"),
    (lambda: P.alpha("1", 1, 1), TypeError, r"^sigma must be a real number or array of real numbers, got '1'$"),
    (lambda: P.alpha(True, 1, 1), TypeError, r"^sigma must be a real number, not a boolean$"),
    (lambda: P.alpha(1j, 1, 1), TypeError, r"^sigma must be real, got a complex value$"),
    (lambda: P.alpha([1.0, 2.0], 1, 1), TypeError, r"^sigma must be a scalar in rmt_idinit\.precise"),
    (lambda: P.alpha(mpmath.mpf(-2), 1, 1), ValueError, r"^sigma must be a finite number > 0, got -2\.0$"),
    (lambda: P.alpha(1, 1, 1, "swish"), ValueError, r"^activation must be one of hardtanh"),
    (lambda: P.log_atoms(1, 1, 1, "tanh"), ValueError, r"^activation must be one of hardtanh, relu, leaky_relu, linear"),
    (lambda: P.log_gain(float("inf"), 1, 1), ValueError, r"^u must be a finite number, got inf$"),
    (lambda: P.jjt_moment(1, 1, 1, "tanh", k=0), ValueError, r"^k must be a finite number > 0, got 0(\.0)?$"),
    (lambda: P.forward_moments(1, 1, 3, layers=[4]), ValueError, r"^layers must be integers in \[1, 3\], got 4$"),
    (lambda: P.hardtanh_second_moment(0.0), ValueError, r"^q must be a finite number > 0, got 0\.0$"),
])
def test_validation_messages(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


@pytest.mark.parametrize("sigma, q0, depth", [(2.0, 1.0, 200), (1.5, 0.5, 400), (1.0, 1e-4, 1), (0.5, 0.01, 3),
                                             (1.05, 0.5, 30)])
def test_log_alpha_complement_matches_log_erfc_at_higher_precision(sigma, q0, depth):
    """log(1 - alpha) against mpmath.log(mpmath.erfc(x)) at 400 digits. Deep nets with sigma > 1
    have alpha ~ sigma^-L: at dps = 50 the complement rounded to 1 and its log to 0 (2^-200:
    alpha = 5e-61), where the answer is -alpha."""
    import mpmath

    from rmt_idinit import precise as pr

    with mpmath.workdps(400):
        s, q = mpmath.mpf(sigma), mpmath.mpf(q0)
        x = s ** (-(depth if s > 1 else 1)) / mpmath.sqrt(2 * q)
        ref = mpmath.log(mpmath.erfc(x))
    got = pr.log_alpha_complement(sigma, q0, depth, dps=50)
    assert got != 0
    with mpmath.workdps(400):
        assert abs(got / ref - 1) < mpmath.mpf(10) ** -48
