"""An activation is one record: a new one, declared here and registered, works in every layer.

The record is softsign, ``phi(h) = h / (1 + |h|)``, with its numpy, mpmath, sympy and torch forms;
no module of the package is edited for it. Each layer is held against a reference that does not
share its code path: the float64 quadrature law against the mpmath quadrature of ``precise`` at 30
digits, mean-field ``q*`` / ``chi1`` against an mpmath root and quadrature written here, the sympy
form against numpy, the torch module against numpy. The last test holds every built-in record's
closed-form Gaussian expectations against mpmath quadrature of the record's own mpmath phi.
"""

import mpmath
import numpy as np
import pytest

import rmt_idinit as ri
from rmt_idinit import precise
from rmt_idinit.activations import ACTIVATIONS, Activation, get_activation, register_activation
from rmt_idinit.random_init import meanfield as mf

NAME = "softsign_record"


def _phi(h):
    return h / (1.0 + np.abs(h))


def _dphi(h):
    return 1.0 / (1.0 + np.abs(h)) ** 2


def _d2phi(h):
    return -2.0 * np.sign(h) / (1.0 + np.abs(h)) ** 3


def _mp_step():
    one = mpmath.mpf(1)

    def step(h):
        d = one / (1 + abs(h))
        return h * d, d * d
    return step


def _sympy_phi(h):
    import sympy as sp

    return h / (1 + sp.Abs(h))


def _torch_softsign(**kwargs):
    from torch import nn

    return nn.Softsign(**kwargs)


SOFTSIGN = register_activation(Activation(
    NAME, _phi, _dphi, _d2phi, even_decreasing_gain=True,
    mp_step=_mp_step, sympy_phi=_sympy_phi, torch=_torch_softsign))


def _gauss_mean(f, kinks=()):
    """``E[f(z)]``, z ~ N(0, 1), by mpmath.quad split at 0 and at the given kinks."""
    pts = sorted({mpmath.ninf, mpmath.mpf(0), mpmath.inf, *(mpmath.mpf(k) for k in kinks)})
    return mpmath.quad(lambda z: f(z) * mpmath.npdf(z), pts)


def test_record_is_found_by_name_and_takes_the_generic_paths():
    act = get_activation(NAME)
    assert act is SOFTSIGN and repr(act) == f"Activation({NAME!r})"
    assert act.kernel is None and act.gaussian.second_moment is None and act.pieces is None


@pytest.mark.parametrize("sigma, q0, depth", [(1.1, 0.7, 4), (0.9, 1.3, 6), (1.5, 0.5, 3)])
def test_law_by_quadrature_matches_precise_at_30_digits(sigma, q0, depth):
    law = ri.jjt_law(sigma, q0, depth, NAME)
    ref = precise.jjt_moments([1, 2], sigma, q0, depth, NAME, dps=30)
    for k, r in zip((1, 2), ref):
        assert float(law.moment(k)) == pytest.approx(float(r), rel=1e-12)
    # the per-unit gain: numba recursion against the mpmath iteration
    from rmt_idinit.recursion import log_gain_scalar

    for u in (-1.7, 0.37, 2.5):
        assert log_gain_scalar(SOFTSIGN, sigma, 0.0, u, depth) == pytest.approx(
            float(precise.log_gain(u, sigma, depth, NAME, dps=30)), rel=1e-13)
    assert float(ri.alpha(sigma, q0, depth, NAME)) == 1.0 == float(precise.alpha(sigma, q0, depth, NAME))


def _mp_q_star(sw, sb, step):
    def e2(q):
        sq = mpmath.sqrt(q)
        return _gauss_mean(lambda z: step(sq * z)[0] ** 2)

    return mpmath.findroot(lambda q: sw * sw * e2(q) + sb * sb - q, mpmath.mpf(0.5))


@pytest.mark.parametrize("sigma_w, sigma_b", [(1.3, 0.2), (2.0, 0.5), (0.8, 0.4)])
def test_meanfield_quadrature_fallback_matches_mpmath(sigma_w, sigma_b):
    with mpmath.workdps(25):
        step = _mp_step()
        sw, sb = mpmath.mpf(sigma_w), mpmath.mpf(sigma_b)
        qs = _mp_q_star(sw, sb, step)
        sq = mpmath.sqrt(qs)
        chi = sw * sw * _gauss_mean(lambda z: step(sq * z)[1] ** 2)
    assert float(mf.q_star(sigma_w, sigma_b, NAME)) == pytest.approx(float(qs), rel=1e-12)
    assert float(mf.chi1(sigma_w, sigma_b, NAME)) == pytest.approx(float(chi), rel=1e-12)
    assert float(mf.q_map(float(qs), sigma_w, sigma_b, NAME)) == pytest.approx(float(qs), rel=1e-12)


def test_sympy_form_evaluates_to_numpy():
    import sympy as sp

    expr = SOFTSIGN.sympy_expr()
    (h,) = expr.free_symbols
    f, df = sp.lambdify(h, expr, "numpy"), sp.lambdify(h, sp.diff(expr, h), "numpy")
    x = np.array([-7.5, -1.0, -0.2, 0.3, 1.0, 4.0])
    np.testing.assert_allclose(f(x), _phi(x), rtol=1e-15, atol=0)
    np.testing.assert_allclose(df(x), _dphi(x), rtol=1e-15, atol=0)


def test_torch_module_matches_numpy():
    torch = pytest.importorskip("torch")
    from rmt_idinit.nn import make_activation

    x = np.linspace(-6.0, 6.0, 25)
    with torch.no_grad():
        y = make_activation(NAME)(torch.tensor(x, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(y, _phi(x), rtol=1e-15, atol=0)


def test_records_pickle_by_name_or_by_value():
    import pickle

    act = get_activation("leaky_relu", negative_slope=0.3)
    back = pickle.loads(pickle.dumps(act))
    assert repr(back) == repr(act) and back.gaussian.second_moment is not None
    assert back.kernel == act.kernel
    user = Activation("plain_user", np.tanh, _dphi)
    back = pickle.loads(pickle.dumps(user))
    assert back.name == "plain_user" and back.phi is np.tanh and back.kernel is None


# --- every built-in record's closed forms against mpmath quadrature of its own phi -------------

def _mehler(step, sq, kinks, c, n_terms):
    """``(E[phi(u1) phi(u2)], E[phi'(u1) phi'(u2)])`` by Mehler's expansion
    ``sum_n c^n a_n^2 / n!`` with ``a_n = E[f(sqrt(q) z) He_n(z)]``; the terms are bounded by
    ``|c|^n E[f^2]``, so ``|c| = 0.3`` and 32 terms leave < 1e-16."""
    cache = {}

    def node(z):
        key = z._mpf_
        if key not in cache:
            x, d = step(sq * z)
            he = [mpmath.mpf(1), z]
            for n in range(1, n_terms):
                he.append(z * he[n] - n * he[n - 1])
            cache[key] = (x, d, he, mpmath.npdf(z))
        return cache[key]

    pts = sorted({mpmath.ninf, mpmath.mpf(0), mpmath.inf, *kinks})
    out = []
    for which in (0, 1):
        total, fact = mpmath.mpf(0), mpmath.mpf(1)
        for n in range(n_terms + 1):
            fact *= max(n, 1)
            a = mpmath.quad(lambda z: node(z)[which] * node(z)[2][n] * node(z)[3], pts)
            total += c ** n * a * a / fact
        out.append(total)
    return out


CLOSED = [n for n in ACTIVATIONS if get_activation(n).gaussian.second_moment is not None]


@pytest.mark.slow
@pytest.mark.parametrize("name", CLOSED)
def test_builtin_closed_forms_match_mpmath_quadrature_of_phi(name):
    act = get_activation(name, **({"negative_slope": 0.2} if name == "leaky_relu" else {}))
    g = act.gaussian
    for q, c in ((0.3, -0.3), (4.0, 0.3))[: 2 if name == "hardtanh" else 1]:
        with mpmath.workdps(20):
            step = act.mp_step()
            qm, cm = mpmath.mpf(q), mpmath.mpf(c)
            sq = mpmath.sqrt(qm)
            kinks = [] if act.pieces is None else [mpmath.mpf(b) / sq for b in act.pieces.breakpoints]
            e2 = _gauss_mean(lambda z: step(sq * z)[0] ** 2, kinks)
            # d/dq E[phi(sqrt(q) z)^2] = E[phi(u) phi'(u) u] / q (Stein), another integrand
            slope = _gauss_mean(lambda z: step(sq * z)[0] * step(sq * z)[1] * sq * z, kinks) / qm
            mu = [_gauss_mean(lambda z: abs(step(sq * z)[1]) ** (2 * k), kinks) for k in (1, 2)]
            cov, dcov = _mehler(step, sq, kinks, cm, 32)
        qa, ca = np.array(q), np.array(c)
        got = {"second_moment": g.second_moment(qa), "second_moment_slope": g.second_moment_slope(qa),
               "derivative_moment k=1": g.derivative_moment(qa, np.array(1.0)),
               "derivative_moment k=2": g.derivative_moment(qa, np.array(2.0)),
               "covariance": g.covariance(qa, ca), "derivative_covariance": g.derivative_covariance(qa, ca)}
        ref = dict(zip(got, (e2, slope, mu[0], mu[1], cov, dcov)))
        for key in got:
            assert float(got[key]) == pytest.approx(float(ref[key]), rel=1e-12, abs=1e-15), (name, key, q, c)


# --- closed forms selected by the pieces, not by the name ---------------------------------------

def test_half_line_forward_moments_follow_each_slope_per_layer():
    """Leaky relu at identity init: x^l = (sigma s)^l u on u < 0, so E[(x^l)^2] = sigma^(2l) q0
    (1 + s^(2l)) / 2 (the slope compounds layer by layer); against the generic quadrature path
    (a bias of 1e-300 turns the closed form off without changing the numbers) and precise."""
    s, sigma, q0, depth = 0.5, 1.1, 0.7, 4
    layers = np.arange(1, depth + 1)
    exact = sigma ** (2 * layers) * q0 * (1 + s ** (2 * layers)) / 2
    got = ri.forward_moments(sigma, q0, depth, "leaky_relu", negative_slope=s)
    np.testing.assert_allclose(got, exact, rtol=1e-14)
    generic = ri.forward_moments(sigma, q0, depth, "leaky_relu", bias=1e-300, negative_slope=s)
    np.testing.assert_allclose(generic, exact, rtol=1e-9)
    ref = precise.forward_moments(sigma, q0, depth, "leaky_relu", negative_slope=s, dps=30)
    np.testing.assert_allclose([float(v) for v in ref], exact, rtol=1e-14)


def test_user_record_with_rectifier_pieces_gets_the_closed_forms():
    """A user record with homogeneous pieces (2 relu) takes the closed forms everywhere; they agree
    with exact cell propagation and with mean-field quadrature of the same phi."""
    from rmt_idinit.activations import Pieces
    from rmt_idinit.piecewise import piecewise_law

    pieces = Pieces((0.0,), (0.0, 2.0), (0.0, 0.0))
    act = Activation("double_relu", lambda h: 2.0 * np.maximum(h, 0.0),
                     lambda h: 2.0 * (np.asarray(h) > 0.0), pieces=pieces)
    assert act.half_lines == ((2.0, 0.5), (0.0, 0.5))
    law = ri.jjt_law(0.9, 0.4, 7, act)
    la, w = piecewise_law(pieces, 0.9, 0.4, 7, 0.0)
    keep = w > 0
    np.testing.assert_allclose(np.sort(law.log_atoms[law.weights > 0]), np.sort(la[keep]), rtol=1e-14)
    assert float(ri.alpha(0.9, 0.4, 7, act)) == 0.5
    # q* = sigma_b^2 / (1 - 2 sigma_w^2) in closed form; chi1 = sigma_w^2 * 4 / 2 from the exact pieces
    assert float(mf.q_star(0.6, 0.3, act)) == pytest.approx(0.09 / (1 - 2 * 0.36), rel=1e-12)
    assert float(mf.chi1(0.6, 0.3, act)) == pytest.approx(0.36 * 2.0, rel=1e-15)


def test_no_layer_dispatches_on_activation_names_or_codes():
    """The layers read record fields; a chain on the name or on a private code would bring back
    the six places to edit per activation."""
    import re
    from pathlib import Path

    root = Path(ri.__file__).parent
    acts = "|".join(ACTIVATIONS)
    pattern = re.compile(r"\._code\b|\bcode == |\.name (?:==|!=|in|not in) |\bactivation == [\"']"
                         rf"|\bname (?:==|!=) [\"'](?:{acts})[\"']|\bname (?:in|not in) \(")
    layers = ["random_init/meanfield.py", "random_init/freeprob.py", "precise.py", "symbolic.py", "selection.py",
              "identity.py", "recursion.py", "nn/activations.py", "grid.py", "report.py", "cli.py",
              *(f"select/{p.name}" for p in (root / "select").glob("*.py")),
              *(f"plotting/{p.name}" for p in (root / "plotting").glob("*.py"))]
    hits = [f"{f}:{i}: {line.strip()}" for f in layers
            for i, line in enumerate((root / f).read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_builtin_record_forms_agree_with_its_numpy_phi(name):
    """Each built-in record's mpmath, sympy and torch forms compute the same phi (and the mpmath
    phi' the same derivative) as its numpy functions, away from kinks (1e-13: numpy's gelu tail
    h Phi(h) is itself good to a few ulp only)."""
    import sympy as sp

    act = get_activation(name, **({"negative_slope": 0.2} if name == "leaky_relu" else {}))
    x = np.array([-5.3, -1.7, -0.6, -0.01, 0.02, 0.45, 1.3, 3.9])
    with mpmath.workdps(30):
        step = act.mp_step()
        mp = [step(mpmath.mpf(float(v))) for v in x]
    np.testing.assert_allclose([float(p) for p, _ in mp], act.phi(x), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose([float(d) for _, d in mp], act.dphi(x), rtol=1e-13, atol=1e-300)
    h = sp.Symbol("h", real=True)
    expr = act.sympy_expr(h)
    np.testing.assert_allclose([float(expr.subs(h, sp.Float(float(v), 30)).evalf(30)) for v in x], act.phi(x),
                               rtol=1e-13, atol=1e-300)
    torch = pytest.importorskip("torch")
    default = get_activation(name)  # the torch modules' defaults are the records' default parameters
    with torch.no_grad():
        y = default.torch()(torch.tensor(x, dtype=torch.float64)).numpy()
    # torch's float64 gelu, 0.5 h (1 + erf(h/sqrt 2)), cancels in the left tail: absolute 1e-15 there
    np.testing.assert_allclose(y, default.phi(x), rtol=1e-13, atol=1e-15)
