"""Selection results plugged back into the law: every boundary sits exactly at eps / kappa (rmt_idinit.select)."""
import math
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial

import numpy as np
import pytest
from scipy import special

import rmt_idinit as ri
from rmt_idinit import select as sel

L = 100


@pytest.mark.parametrize("sigma", [0.9, 0.99, 1.0, 1.001, 1.01])
@pytest.mark.parametrize("eps", [1e-12, 1e-3, 0.05, 0.4])
def test_hardtanh_max_q0_sits_at_eps(sigma, eps):
    q = sel.max_q0(sigma, L, eps=eps)
    assert abs(float(ri.alpha(sigma, q, L)) - (1 - eps)) < 1e-10
    assert float(ri.alpha_complement(sigma, q, L)) == pytest.approx(eps, rel=1e-10)
    law = ri.jjt_law(sigma, q, L)
    assert float(law.weights[1]) == pytest.approx(eps, rel=1e-10)  # the atom at 0
    # both branches of docs/theory/selection.md in their own words
    c = special.erfinv(1 - eps) if eps > 1e-6 else special.erfcinv(eps)
    expect = sigma ** (-2 * L) / (2 * c * c) if sigma > 1 else 1 / (2 * sigma ** 2 * c * c)
    assert q == pytest.approx(expect, rel=1e-9)
    assert float(ri.alpha_complement(sigma, q * (1 + 1e-6), L)) > eps > float(ri.alpha_complement(sigma, q * (1 - 1e-6), L))


def test_hardtanh_sigma_window_and_interval():
    kappa = 10.0
    lo, hi = sel.sigma_window(L, kappa=kappa)
    assert float(lo) ** (2 * L) == pytest.approx(1 / kappa, rel=1e-12)
    assert float(hi) ** (2 * L) == pytest.approx(kappa, rel=1e-12)
    for q0 in (1e-3, 0.2, 0.25):
        a, b = sel.feasible_sigma_interval(q0, L, eps=0.05, kappa=kappa)
        assert bool(sel.is_feasible(a * (1 + 1e-9), q0, L)) and bool(sel.is_feasible(b * (1 - 1e-9), q0, L))
        assert not bool(sel.is_feasible(a * (1 - 1e-9), q0, L))
        assert not bool(sel.is_feasible(b * (1 + 1e-9), q0, L))
    # q0 above the sigma<=1 bound at sigma = lo: empty
    assert np.isnan(sel.feasible_sigma_interval(5.0, L, eps=0.05, kappa=kappa)[0])


@pytest.mark.parametrize("sigma,q0", [(1.001, 0.2), (1.0005, 0.01), (0.999, 0.2), (0.995, 1e-3), (1.0, 0.2), (1.0, 0.3)])
def test_hardtanh_max_depth(sigma, q0):
    eps, kappa = 0.05, 10.0
    d = float(sel.max_depth(sigma, q0, eps=eps, kappa=kappa))
    if d == math.inf:
        assert sigma == 1.0 and bool(sel.is_feasible(1.0, q0, 10 ** 6, eps=eps, kappa=kappa))
        return
    if d == 0:
        assert not bool(sel.is_feasible(sigma, q0, 1, eps=eps, kappa=kappa))
        return
    d = int(d)
    assert bool(np.all(sel.is_feasible(sigma, q0, np.arange(1, d + 1), eps=eps, kappa=kappa)))
    assert not bool(sel.is_feasible(sigma, q0, d + 1, eps=eps, kappa=kappa))


def test_hardtanh_best_sigma_is_a_minimum():
    for q0 in (0.01, 0.2064):
        s = float(sel.best_sigma(q0, L))
        f = lambda x: float(sel.isometry_loss(x, q0, L))  # noqa: E731
        for h in (1e-5, 1e-4, 1e-3):
            # the loss rises by ~f''(s) (s h)^2 >> its round-off (1e-13 relative) for these h
            assert f(s) <= f(s * (1 + h)) * (1 + 1e-13) and f(s) <= f(s * (1 - h)) * (1 + 1e-13)
        # the loss is the law's E[(lambda - 1)^2]
        law = ri.jjt_law(s, q0, L)
        assert f(s) == pytest.approx(float(law.moment(2) - 2 * law.mean() + 1), rel=1e-9, abs=1e-15)
    sc = float(sel.best_sigma(0.2, L, eps=0.05, kappa=10.0))
    lo, hi = sel.feasible_sigma_interval(0.2, L, eps=0.05, kappa=10.0)
    assert lo <= sc <= hi


def test_hardtanh_region_matches_pointwise():
    sig = np.exp(np.linspace(-3, 3, 41) / L)
    q = np.logspace(-4, 1, 37)
    r = sel.feasible_region(L, eps=0.05, kappa=10.0, sigma=sig, q0=q)
    S, Q = np.meshgrid(sig, q)
    np.testing.assert_array_equal(r.mask, sel.is_feasible(S, Q, L, eps=0.05, kappa=10.0))
    np.testing.assert_allclose(r.alive, ri.alpha(S, Q, L), rtol=1e-14)
    np.testing.assert_allclose(ri.alpha_complement(sig, r.q0_max, L), 0.05, rtol=1e-10)


# --- tanh ---------------------------------------------------------------------------------

@pytest.mark.parametrize("sigma", [0.995, 1.0, 1.003, 1.02])
def test_tanh_max_q0_sits_at_eps(sigma):
    eps, kappa = 0.05, 10.0
    q = float(sel.max_q0(sigma, L, "tanh", eps=eps, kappa=kappa))
    assert 0 < q < 1
    law = ri.jjt_law(sigma, q, L, "tanh")
    # dead = P(lambda < 1/kappa), straight from the law's cdf
    assert float(law.cdf(1 / kappa)) == pytest.approx(eps, rel=1e-10)
    assert float(ri.jjt_law(sigma, q * 1.001, L, "tanh").cdf(1 / kappa)) > eps
    assert float(sel.dead_fraction(sigma, q, L, "tanh", kappa=kappa)) == pytest.approx(eps, rel=1e-10)


def test_tanh_dead_fraction_matches_law_and_simulation():
    sig = np.array([0.99, 1.0, 1.01])
    d = sel.dead_fraction(sig, 1e-3, 50, "tanh", kappa=4.0)
    np.testing.assert_allclose(d, ri.jjt_law(sig, 1e-3, 50, "tanh").cdf(0.25), rtol=1e-9, atol=1e-300)
    # Monte Carlo: the real scalar maps on Gaussian inputs
    rng = np.random.default_rng(1)
    u = rng.standard_normal(200_000) * math.sqrt(0.02)
    lam = ri.jjt_eigenvalues(u, 1.0, 50, "tanh")
    p = float(sel.dead_fraction(1.0, 0.02, 50, "tanh", kappa=4.0))
    assert abs(np.mean(lam < 0.25) - p) < 5 * math.sqrt(p * (1 - p) / u.size) + 1e-12


def test_tanh_max_depth_and_interval():
    eps, kappa = 0.05, 10.0
    for sigma, q0 in [(1.0, 1e-3), (0.999, 1e-3)]:
        d = int(sel.max_depth(sigma, q0, "tanh", eps=eps, kappa=kappa, depth_limit=2000))
        assert bool(sel.is_feasible(sigma, q0, d, "tanh", eps=eps, kappa=kappa))
        assert not bool(sel.is_feasible(sigma, q0, d + 1, "tanh", eps=eps, kappa=kappa))
    lo, hi = sel.feasible_sigma_interval(1e-3, L, "tanh", eps=eps, kappa=kappa)
    assert lo < 1 < hi
    law_lo = ri.jjt_law(float(lo), 1e-3, L, "tanh")
    # the lower sigma edge is the median hitting 1/kappa (dead fraction for eps < 1/2 is looser... or eps)
    edge = min(abs(float(law_lo.cdf(1 / kappa)) - eps), abs(float(law_lo.ppf(0.5)) - 1 / kappa))
    assert edge < 1e-8
    law_hi = ri.jjt_law(float(hi), 1e-3, L, "tanh")
    edge = min(abs(float(law_hi.cdf(1 / kappa)) - eps), abs(float(law_hi.ppf(0.5)) - kappa))
    assert edge < 1e-8


def test_tanh_best_sigma_local_minimum():
    s = float(sel.best_sigma(1e-2, 20, "tanh"))
    f = lambda x: float(sel.isometry_loss(x, 1e-2, 20, "tanh"))  # noqa: E731
    assert f(s) <= f(s * 1.001) + 1e-12 and f(s) <= f(s * 0.999) + 1e-12


def test_tanh_region_chunked_executors_agree():
    sig = np.exp(np.linspace(-2, 2, 12) / 30)
    q = np.logspace(-5, 0, 9)
    base = sel.feasible_region(30, "tanh", eps=0.05, kappa=10.0, sigma=sig, q0=q, progress=False)
    with ThreadPoolExecutor(2) as ex:
        thr = sel.feasible_region(30, "tanh", eps=0.05, kappa=10.0, sigma=sig, q0=q, executor=ex, chunk_size=5,
                                  progress=False)
    np.testing.assert_array_equal(base.mask, thr.mask)
    np.testing.assert_allclose(base.alive, thr.alive, rtol=1e-13)
    S, Q = np.meshgrid(sig, q)
    np.testing.assert_array_equal(base.mask, sel.is_feasible(S, Q, 30, "tanh", eps=0.05, kappa=10.0))


# --- sweep --------------------------------------------------------------------------------

def _alpha50(sigma, q0):
    return ri.alpha(sigma, q0, 50)


def test_sweep_executors():
    grid = {"sigma": np.linspace(0.9, 1.1, 7), "q0": np.logspace(-3, 0, 5)}
    ref = ri.alpha(grid["sigma"][:, None], grid["q0"][None, :], 50)
    np.testing.assert_allclose(sel.sweep(_alpha50, grid, chunk_size=4, progress=False), ref)
    with ThreadPoolExecutor(2) as ex:
        np.testing.assert_allclose(sel.sweep(_alpha50, grid, chunk_size=3, executor=ex, progress=False), ref)
    with ProcessPoolExecutor(2) as ex:
        np.testing.assert_allclose(sel.sweep(partial(ri.alpha, depth=50), grid, chunk_size=6, executor=ex), ref)
    out = sel.sweep(lambda sigma, q0: {"a": sigma * q0, "b": (sigma, q0)}, grid, progress=False)
    assert out["a"].shape == (7, 5) and out["b"][0].shape == (7, 5)


@pytest.mark.parametrize("processes", [False, True])
def test_sweep_dask(processes):
    distributed = pytest.importorskip("distributed")
    grid = {"sigma": np.linspace(0.95, 1.05, 6), "q0": np.logspace(-2, 0, 4)}
    ref = ri.alpha(grid["sigma"][:, None], grid["q0"][None, :], 50)
    with distributed.LocalCluster(n_workers=2, processes=processes, threads_per_worker=1,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        out = sel.sweep(partial(ri.alpha, depth=50), grid, chunk_size=5, executor=client.get_executor())
    np.testing.assert_allclose(out, ref)


# --- errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("call,match", [
    (lambda: sel.max_q0(1.0, 100, eps=0.0), "eps"),
    (lambda: sel.max_q0(1.0, 100, eps=1.5), "eps"),
    (lambda: sel.max_q0(-1.0, 100, eps=0.05), "sigma"),
    (lambda: sel.max_q0(1.0, 0, eps=0.05), "depth"),
    (lambda: sel.max_depth(1.0, 0.1, eps=0.05, kappa=1.0), "kappa"),
    (lambda: sel.max_depth(1.0, -0.1, eps=0.05, kappa=10.0), "q0"),
    (lambda: sel.max_depth(1.0, 0.1, "tanh", eps=0.05, kappa=10.0, depth_limit=0), "depth_limit"),
    (lambda: sel.best_sigma(0.1, 100, eps=0.05), "kappa"),
    (lambda: sel.best_sigma(0.0, 100), "q0"),
    (lambda: sel.feasible_region(100, eps=0.05, kappa=0.5), "kappa"),
    (lambda: sel.feasible_region(100, eps=0.05, kappa=10, sigma=[[1.0]]), "sigma"),
    (lambda: sel.feasible_sigma_interval(0.1, 2.5), "depth"),
    (lambda: sel.is_feasible(1.0, 0.1, 10, eps=float("nan")), "eps"),
    (lambda: sel.dead_fraction(1.0, 0.1, 10, "tanh", kappa=np.inf), "kappa"),
    (lambda: sel.max_q0(1.0, 10, "nope", eps=0.05), "activation"),
    (lambda: sel.sweep(_alpha50, {"sigma": []}), "grid"),
    (lambda: sel.sweep(_alpha50, {"sigma": [1.0], "q0": [1.0]}, chunk_size=0), "chunk_size"),
])
def test_errors_name_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_symbolic_derivation_agrees_with_closed_form():
    sp = pytest.importorskip("sympy")
    from rmt_idinit import symbolic as sy

    for regime, sigma in (("sigma > 1", 1.003), ("sigma <= 1", 0.97)):
        b = sel.max_q0_derivation(regime)["boundary"]
        val = float(b.subs({sy.SIGMA: sp.Float(sigma, 30), sy.DEPTH: L, sy.EPS: sp.Rational(1, 20)}).evalf(30))
        assert float(sel.max_q0(sigma, L, eps=0.05)) == pytest.approx(val, rel=1e-12)


# --- piecewise-linear max_depth: bisection against a plain scan of every depth ---------------

@pytest.mark.parametrize("act,sigma,q0,eps,kappa", [
    ("linear", 1.003, 0.2, 0.05, 10.0), ("linear", 0.995, 0.2, 0.05, 10.0), ("linear", 1.0, 0.2, 0.05, 10.0),
    ("relu", 1.0, 0.2, 0.05, 10.0), ("relu", 1.003, 0.2, 0.6, 10.0), ("leaky_relu", 1.002, 0.2, 0.05, 1e3),
    ("leaky_relu", 0.999, 0.5, 0.6, 30.0),
])
def test_piecewise_max_depth_matches_a_scan(act, sigma, q0, eps, kappa):
    limit = 700
    d = float(sel.max_depth(sigma, q0, act, eps=eps, kappa=kappa, depth_limit=limit))
    ok = np.array([bool(sel.is_feasible(sigma, q0, n, act, eps=eps, kappa=kappa)) for n in range(1, limit + 1)])
    bad = np.nonzero(~ok)[0]
    expect = math.inf if not bad.size else float(bad[0])   # the depths 1..bad[0] are all feasible
    assert d == expect
    if act == "linear" and sigma != 1.0:
        # closed form: every eigenvalue is sigma^(2L), feasible while 2 L |log sigma| <= log kappa
        assert d == math.floor(math.log(kappa) / (2 * abs(math.log(sigma))))


def test_piecewise_max_depth_large_limit_is_cheap():
    # a scan would evaluate the law at all 10^7 depths; bisection needs ~50 evaluations
    import time

    t = time.perf_counter()
    assert float(sel.max_depth(1.0, 0.2, "linear", eps=0.05, kappa=10.0, depth_limit=10**7)) == math.inf
    assert float(sel.max_depth(1.00001, 0.2, "linear", eps=0.05, kappa=10.0, depth_limit=10**7)) == math.floor(
        math.log(10.0) / (2 * math.log(1.00001)))
    assert time.perf_counter() - t < 30.0


# --- the signal scale and the trainability rule --------------------------------------------

@pytest.mark.parametrize("act,sigma,depth", [("hardtanh", 0.9, 50), ("hardtanh", 1.05, 40), ("tanh", 0.95, 30),
                                             ("tanh", 1.1, 20), ("relu", 0.98, 25)])
def test_log_signal_scale_matches_monte_carlo(act, sigma, depth):
    # the scalar layer map run in numpy on Gaussian inputs: an evaluation independent of the package
    q0, n = 0.2, 400_000
    u = np.random.default_rng(7).standard_normal(n) * math.sqrt(q0)
    phi = {"hardtanh": lambda h: np.clip(h, -1.0, 1.0), "tanh": np.tanh, "relu": lambda h: np.maximum(h, 0.0)}[act]
    h = sigma * u
    for _ in range(depth - 1):
        h = sigma * phi(h)
    x2 = phi(h) ** 2
    mc, se = x2.mean(), x2.std() / math.sqrt(n)
    got = float(sel.log_signal_scale(sigma, q0, depth, act))
    assert abs(math.exp(got) * q0 - mc) < 5 * se + 1e-12 * mc


def test_log_signal_scale_hardtanh_closed_form_and_broadcast():
    s = np.array([0.9, 0.99, 1.0, 1.02])
    d = np.array([[10], [100]])
    got = sel.log_signal_scale(s, 0.3, d)
    assert got.shape == (2, 4)
    for i, depth in enumerate((10, 100)):
        for j, sigma in enumerate(s):
            qL = float(ri.forward_moments(sigma, 0.3, depth)[-1])
            assert got[i, j] == pytest.approx(math.log(qL / 0.3), rel=1e-13, abs=1e-13)
    # sigma <= 1: q^L = sigma^(2(L-1)) E_ht(sigma^2 q0), so the log falls by 2 log sigma per layer
    assert sel.log_signal_scale(0.9, 0.3, 101) - sel.log_signal_scale(0.9, 0.3, 100) == pytest.approx(
        2 * math.log(0.9), rel=1e-12)


def test_is_trainable_rules():
    s = np.array([0.8, 0.9, 0.95, 1.0, 1.1, 1.2])
    d = np.array([[10], [50], [100]])
    sig = sel.is_trainable(s, 0.2, d)
    np.testing.assert_array_equal(sig, sel.log_signal_scale(s, 0.2, d) >= sel.MIN_LOG_SIGNAL)
    np.testing.assert_array_equal(sel.is_trainable(s, 0.2, d, criterion="isometry", eps=0.1, kappa=30.0),
                                  sel.is_feasible(s, 0.2, d, eps=0.1, kappa=30.0))
    # sigma > 1 keeps its signal at any depth (hard-tanh saturates), sigma < 1 loses it
    assert sig[:, 3:].all() and not sig[2, 0] and not sig[2, 1]
    assert bool(sel.is_trainable(0.9, 0.2, 100, min_log_signal=-30.0))
    with pytest.raises(ValueError, match="criterion"):
        sel.is_trainable(1.0, 0.2, 10, criterion="nope")
    with pytest.raises(ValueError, match="min_log_signal"):
        sel.is_trainable(1.0, 0.2, 10, min_log_signal=float("nan"))


# --- one summary --------------------------------------------------------------------------

@pytest.mark.parametrize("act,sigma", [("hardtanh", 1.0), ("hardtanh", 1.02), ("tanh", 1.0)])
def test_summary_is_the_individual_functions(act, sigma):
    q0, depth, eps, kappa = 0.01 if act == "tanh" else 0.2, 30, 0.05, 10.0
    s = sel.summarize(sigma, q0, depth, act, eps=eps, kappa=kappa)
    law = ri.jjt_law(sigma, q0, depth, act)
    assert s.dead_fraction == float(sel.dead_fraction(sigma, q0, depth, act, kappa=kappa))
    assert s.log_gradient_scale == float(sel.log_gradient_scale(sigma, q0, depth, act))
    assert s.isometry_loss == float(sel.isometry_loss(sigma, q0, depth, act))
    assert s.feasible == bool(sel.is_feasible(sigma, q0, depth, act, eps=eps, kappa=kappa))
    assert s.trainable == bool(sel.is_trainable(sigma, q0, depth, act))
    assert s.max_q0 == float(sel.max_q0(sigma, depth, act, eps=eps, kappa=kappa))
    assert s.max_depth == float(sel.max_depth(sigma, q0, act, eps=eps, kappa=kappa))
    assert (s.mean, s.var, s.alpha) == (float(law.mean()), float(law.var()), float(ri.alpha(sigma, q0, depth, act)))
    d = s.as_dict()
    assert d["sigma"] == sigma and "empirical_images" not in d


def test_recommend_best_sigma_is_best_sigma():
    # recommend finds the interval once and searches inside it: the same optimum as best_sigma
    for q0, depth in ((0.2064, 100), (0.01, 30)):
        r = sel.recommend(q0, depth, eps=0.05, kappa=10.0)
        assert r["best_sigma"] == float(sel.best_sigma(q0, depth, eps=0.05, kappa=10.0))
        assert r["feasible_sigma_interval"] == [float(v) for v in sel.feasible_sigma_interval(q0, depth)]


# --- the old module: old positional orders, a warning naming the new call, same results -------

@pytest.mark.parametrize("old,new,name", [
    (lambda m: m.is_feasible(1.001, 0.2, 100, 0.1, 30.0, "hardtanh"),
     lambda: sel.is_feasible(1.001, 0.2, 100, "hardtanh", eps=0.1, kappa=30.0), "is_feasible"),
    (lambda m: m.sigma_window(100, 30.0), lambda: sel.sigma_window(100, kappa=30.0), "sigma_window"),
    (lambda m: m.feasible_sigma_interval(100, 0.2, 0.1, 30.0), lambda: sel.feasible_sigma_interval(0.2, 100, eps=0.1, kappa=30.0),
     "feasible_sigma_interval"),
    (lambda m: m.max_q0(0.99, 100, 0.1, "hardtanh"), lambda: sel.max_q0(0.99, 100, "hardtanh", eps=0.1), "max_q0"),
    (lambda m: m.max_depth(1.001, 0.2, 0.1, 30.0), lambda: sel.max_depth(1.001, 0.2, eps=0.1, kappa=30.0), "max_depth"),
    (lambda m: m.best_sigma(100, 0.2, eps=0.1, kappa=30.0), lambda: sel.best_sigma(0.2, 100, eps=0.1, kappa=30.0),
     "best_sigma"),
    (lambda m: m.feasible_region(20, 0.1, 30.0, sigma=[0.99, 1.0], q0=[0.1, 0.3], progress=False).mask,
     lambda: sel.feasible_region(20, eps=0.1, kappa=30.0, sigma=[0.99, 1.0], q0=[0.1, 0.3]).mask, "feasible_region"),
])
def test_old_selection_module_forwards(old, new, name):
    from rmt_idinit import selection as old_mod

    with pytest.warns(DeprecationWarning, match=rf"selection\.{name} .*rmt_idinit\.select\.{name}\("):
        got = old(old_mod)
    np.testing.assert_array_equal(np.asarray(got, dtype=float), np.asarray(new(), dtype=float))


def test_old_selection_module_keeps_unchanged_names():
    from rmt_idinit import selection as old_mod

    for name in ("dead_fraction", "log_gradient_scale", "gradient_scale", "isometry_loss", "sweep",
                 "FeasibleRegion", "max_q0_derivation", "DEFAULT_EPS", "DEFAULT_KAPPA"):
        assert getattr(old_mod, name) is getattr(sel, name)
