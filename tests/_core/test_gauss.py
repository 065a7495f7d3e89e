"""rmt_idinit._core.gauss: the one builder of Gauss rules, against exact integrals and mpmath."""
import math

import mpmath
import numpy as np
import pytest

from rmt_idinit._core import gauss


@pytest.mark.parametrize("order", [1, 4, 8, 16])
def test_legendre_is_exact_to_degree_2n_minus_1(order):
    x, w = gauss.legendre(order)
    for k in range(2 * order):
        exact = 2.0 / (k + 1) if k % 2 == 0 else 0.0
        assert float(w @ x ** k) == pytest.approx(exact, abs=2e-15)
    # and not beyond: degree 2n is integrated with an error (a rule of the right order, not more)
    assert abs(float(w @ x ** (2 * order)) - 2.0 / (2 * order + 1)) > 1e-12


def test_legendre_is_cached_and_read_only():
    x, w = gauss.legendre(16)
    assert gauss.legendre(16)[0] is x
    with pytest.raises(ValueError):
        x[0] = 0.0
    with pytest.raises(ValueError):
        w *= 2


def test_panels_integrate_a_smooth_function_against_mpmath():
    edges = np.geomspace(1e-3, 10.0, 25)
    z, w = gauss.legendre_panels(edges, 8)
    assert z.shape == w.shape == (24, 8)
    assert np.all((z > edges[:-1, None]) & (z < edges[1:, None]))
    f = lambda t: np.sin(t) * np.exp(-t) / (1 + t)  # noqa: E731
    ref = mpmath.quad(lambda t: mpmath.sin(t) * mpmath.exp(-t) / (1 + t), [1e-3, 1, 10])
    assert float(np.sum(w * f(z))) == pytest.approx(float(ref), rel=1e-14)


def test_normal_rules_give_gaussian_moments():
    zh, wh = gauss.normal_half_rule()
    z, w = gauss.normal_rule()
    assert np.all(zh > 0) and np.all(np.diff(z) > 0) and z.size == 2 * zh.size
    for k in range(0, 13, 2):  # E z^k = (k-1)!!
        ref = float(mpmath.fac2(k - 1)) if k else 1.0
        assert float(np.sum(wh * zh ** k)) == pytest.approx(ref, rel=1e-13)
        assert float(np.sum(w * z ** k)) == pytest.approx(ref, rel=1e-13)
    assert float(np.sum(w * z ** 3)) == pytest.approx(0.0, abs=1e-15)
    # graded towards 0: E[phi(sqrt(q) z)] resolved for huge q (tanh: 1 - E|tanh| ~ sqrt(2/(pi q)) ...)
    q = 1e12
    got = float(np.sum(w * np.tanh(math.sqrt(q) * z) ** 2))
    mp = mpmath.mp.clone()
    mp.dps = 30
    ref = 1 - 2 * mp.quad(lambda t: (1 - mp.tanh(mp.sqrt(q) * t) ** 2) * mp.npdf(t), [0, 1e-6, 1e-3, 1, mp.inf])
    assert got == pytest.approx(float(ref), rel=1e-12)


def test_hermite_normal_weights_sum_to_one_and_match_moments():
    z, w = gauss.hermite_normal(20)
    assert float(np.sum(w)) == pytest.approx(1.0, rel=1e-14)
    assert float(np.sum(w * z ** 8)) == pytest.approx(105.0, rel=1e-12)
    assert float(np.sum(w * np.cos(z))) == pytest.approx(math.exp(-0.5), rel=1e-14)


def test_laguerre_integrates_the_exponential_weight():
    y, w = gauss.laguerre(16)
    assert float(np.sum(w * y ** 5)) == pytest.approx(120.0, rel=1e-13)
    assert float(np.sum(w / (1 + y))) == pytest.approx(float(mpmath.quad(lambda t: mpmath.exp(-t) / (1 + t), [0, mpmath.inf])), rel=1e-5)


def test_no_other_module_builds_a_rule():
    import pathlib

    pkg = pathlib.Path(gauss.__file__).resolve().parents[1]
    builders = [str(p.relative_to(pkg)) for p in pkg.rglob("*.py")
                if any(f"{kind}gauss(" in p.read_text() for kind in ("leg", "herme", "lag"))]
    assert builders == ["_core/gauss.py"]
