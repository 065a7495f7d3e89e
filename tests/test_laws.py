"""One generic harness applied to every kind of SpectralLaw (scipy.stats style)."""
import math
import pickle

import numpy as np
import pytest

import rmt_idinit as ri
from rmt_idinit.activations import ACTIVATIONS
from rmt_idinit.finite import dkw_epsilon, ks_distance
from rmt_idinit.laws import GridDensity, SpectralLaw
from rmt_idinit.random_init.compare import compare
from rmt_idinit.random_init.freeprob import random_jjt_law

LAWS = {
    "hardtanh>1": lambda: ri.jjt_law(1.02, 0.1, 50),
    "hardtanh<1": lambda: ri.jjt_law(0.9, 1.0, 50),
    "relu": lambda: ri.jjt_law(1.1, 1.0, 20, "relu"),
    "leaky": lambda: ri.jjt_law(1.05, 1.0, 20, "leaky_relu", negative_slope=0.2),
    "linear": lambda: ri.jjt_law(0.99, 1.0, 7, "linear"),
    "hardtanh+bias": lambda: ri.jjt_law(1.1, 1.0, 12, bias=0.05),
    "tanh": lambda: ri.jjt_law(1.05, 0.5, 30, "tanh"),
    "gelu": lambda: ri.jjt_law(1.1, 1.0, 10, "gelu"),
    "sigmoid": lambda: ri.jjt_law(1.5, 1.0, 6, "sigmoid"),
    "empirical": lambda: ri.jjt_law(1.03, None, 10, "tanh", inputs=np.linspace(-2, 2, 41)),
    "random-orthogonal-hardtanh": lambda: ri.random_jjt_law(8, "hardtanh", "orthogonal", q_star=0.5),
    "random-orthogonal-atom": lambda: ri.random_jjt_law(3, "hardtanh", "orthogonal", q_star=0.5),
    "random-gaussian-relu": lambda: ri.random_jjt_law(5, "relu", "gaussian", q_star=1.0),
    "random-gaussian-tanh": lambda: ri.random_jjt_law(4, "tanh", "gaussian", q_star=0.5, n_grid=256),
    "fuss-catalan": lambda: ri.random_init.freeprob.fuss_catalan_law(6),
    "grid+atom": lambda: SpectralLaw(np.array([-np.inf]), np.array([0.3]),
                                     GridDensity(np.linspace(0.0, 2.0, 4001), 0.35 * np.linspace(0.0, 2.0, 4001))),
}

# Every built-in activation once more at identity init (the entries above cover the rest), the
# bias path of a smooth and of a piecewise law, and single laws taken out of a batch.
LAWS.update({
    "erf": lambda: ri.jjt_law(1.05, 0.5, 20, "erf"),
    "silu": lambda: ri.jjt_law(1.2, 1.0, 8, "silu"),
    "softplus": lambda: ri.jjt_law(1.1, 1.0, 6, "softplus"),
    "relu+bias": lambda: ri.jjt_law(1.05, 1.0, 10, "relu", bias=0.1),
    "tanh+bias": lambda: ri.jjt_law(1.05, 0.5, 10, "tanh", bias=0.05),
    "hardtanh-batch-element": lambda: ri.jjt_law(np.array([[0.9], [1.02]]), np.array([0.1, 1.0]), 50)[1, 0],
    "tanh-batch-element": lambda: ri.jjt_law(np.array([0.95, 1.05]), 0.5, 10, "tanh")[1],
})
IDENTITY_ACTIVATIONS = {"hardtanh>1": "hardtanh", "relu": "relu", "leaky": "leaky_relu", "linear": "linear",
                        "tanh": "tanh", "gelu": "gelu", "sigmoid": "sigmoid", "erf": "erf", "silu": "silu",
                        "softplus": "softplus"}

# The random-init law of every built-in activation under both weight laws, at criticality where the
# activation has a critical point (sigmoid only with a bias; softplus has none: its ordered phase).
RANDOM_SETTINGS = {"sigmoid": {"sigma_b": 0.5}, "softplus": {"sigma_w": 1.0, "sigma_b": 0.5}}
# the built-in names, taken when the tests are collected (before any test registers its own)
BUILTIN = tuple(ACTIVATIONS)
for _w in ("orthogonal", "gaussian"):
    for _a in BUILTIN:
        LAWS.setdefault(f"random-{_w}-{_a}", lambda a=_a, w=_w: random_jjt_law(
            4, a, w, n_grid=256, **RANDOM_SETTINGS.get(a, {"q_star": 0.5})))
LAWS.update({
    # depth 1 orthogonal is exact atoms: Bernoulli for hard-tanh, the quadrature nodes for tanh
    "random-orthogonal-depth1-hardtanh": lambda: random_jjt_law(1, "hardtanh", "orthogonal", q_star=0.5),
    "random-orthogonal-depth1-tanh": lambda: random_jjt_law(1, "tanh", "orthogonal", q_star=0.5),
    # the laws a comparison hands out, as the user receives them
    **{f"compare-{k}": (lambda k=k: compare(5, "tanh", q0=0.5, n_grid=256).laws[k])
       for k in ("identity", "orthogonal", "gaussian")},
})

_BUILT: dict = {}


@pytest.fixture(params=sorted(LAWS))
def law(request):
    # one law per name for the whole module: a law fills its tables lazily, and rebuilding it for
    # each of the six harness tests tripled the cost of the smooth ones
    return _built(request.param)


def _built(name):
    if name not in _BUILT:
        _BUILT[name] = LAWS[name]()
    return _BUILT[name]


def test_random_orthogonal_silu_law_has_unit_mass_at_the_default_grid():
    law = random_jjt_law(4, "silu", "orthogonal", q_star=0.5)
    assert float(law.moment(0)) == pytest.approx(1.0, abs=1e-12)


def test_harness_covers_every_activation_at_both_inits():
    identity = set(IDENTITY_ACTIVATIONS.values())
    assert identity == set(BUILTIN), set(BUILTIN) - identity
    for name, act in IDENTITY_ACTIVATIONS.items():
        assert f"(identity init, {act}" in repr(_built(name)), name
    for w in ("orthogonal", "gaussian"):
        assert {a for a in BUILTIN if f"random-{w}-{a}" in LAWS} == set(BUILTIN)


def probe_points(law):
    q = np.array([0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99])
    return np.unique(np.concatenate([law.ppf(q), [0.0, 1e-3, 1.0]]))


def test_cdf_monotone_bounded_and_complements_sf(law):
    x = np.sort(np.concatenate([probe_points(law), np.geomspace(1e-6, 1e6, 60)]))
    f = law.cdf(x)
    assert np.all(np.diff(f) >= -1e-15) and f.min() >= 0 and f.max() <= 1
    np.testing.assert_allclose(f + law.sf(x), 1.0, atol=1e-12)
    assert law.cdf(-1.0) == 0.0 and law.cdf(np.inf) == pytest.approx(1.0, abs=1e-12)


def test_ppf_inverts_cdf(law):
    for q in (0.05, 0.2, 0.5, 0.8, 0.95):
        x = float(law.ppf(q))
        assert float(law.cdf(x)) >= q - 1e-9
        # nothing smaller reaches q (smallest such x); below an atom at 0 the cdf is exactly 0
        below = x * (1 - 1e-6) if x > 0 else -np.finfo(float).tiny
        assert float(law.cdf(below)) <= q + 1e-9


def test_moments_against_samples(law):
    # E[lambda] from the law against the sample mean of exact draws, within 6 standard errors
    x = law.rvs(40000, rng=7)
    m, v = float(law.mean()), float(law.var())
    assert abs(x.mean() - m) <= 6 * math.sqrt(v / x.size) + 1e-12 * abs(m)
    assert float(law.moment(0)) == pytest.approx(1.0, abs=1e-12)


def test_samples_follow_cdf(law):
    x = law.rvs(3000, rng=11)
    assert ks_distance(x, law) < dkw_epsilon(3000, 1 - 1e-6)


def test_var_matches_moments(law):
    m1, m2 = float(law.moment(1)), float(law.moment(2))
    assert float(law.var()) == pytest.approx(m2 - m1 * m1, rel=1e-7, abs=1e-12 * m2)


def test_pickle_roundtrip(law):
    back = pickle.loads(pickle.dumps(law))
    x = probe_points(law)
    np.testing.assert_array_equal(back.cdf(x), law.cdf(x))
    assert float(back.mean()) == float(law.mean())


def test_pdf_is_the_derivative_of_cdf():
    # pdf from the root formula sum_r N(r; 0, q0) / |dlambda/du| against central differences of the
    # exact cdf (an integral test would need to handle the 1/sqrt singularities at gain extrema)
    for law in (ri.jjt_law(1.05, 0.5, 30, "tanh"), ri.jjt_law(1.1, 1.0, 10, "gelu"),
                ri.jjt_law(1.2, 1.0, 8, "silu")):
        x = law.ppf(np.array([0.1, 0.3, 0.45, 0.7, 0.85, 0.95]))
        h = 1e-5 * x
        numeric = (law.cdf(x + h) - law.cdf(x - h)) / (2 * h)
        np.testing.assert_allclose(law.pdf(x), numeric, rtol=1e-5)


def test_symmetric_ppf_matches_bisection():
    law = ri.jjt_law(1.05, 0.5, 30, "tanh")
    q = np.array([0.1, 0.5, 0.9])
    direct = law.ppf(q)
    np.testing.assert_allclose(law.cdf(direct), q, rtol=1e-10)


def test_symmetric_ppf_of_a_batch_inverts_cdf():
    # all (element, q) pairs of a broadcast batch with two depths at once: the cdf (roots of the
    # gain on the node grid, bisected) gives back q, and each pair is its own singleton's quantile
    law = ri.jjt_law(np.array([0.8, 1.05])[:, None], np.array([0.05, 2.0]), np.array([[12], [40]]), "tanh")
    q = np.array([0.1, 0.5, 0.9])[:, None, None]
    x = law.ppf(q)
    assert x.shape == (3, 2, 2)
    np.testing.assert_allclose(law.cdf(x), np.broadcast_to(q, x.shape), rtol=1e-10)
    single = ri.jjt_law(1.05, 2.0, 40, "tanh")
    assert float(x[1, 1, 1]) == pytest.approx(float(single.ppf(0.5)), rel=1e-14)


def test_batch_broadcasting_and_indexing():
    sig = np.array([0.9, 1.0, 1.02])[:, None]
    q0 = np.array([0.1, 1.0])
    law = ri.jjt_law(sig, q0, 50)
    assert law.batch_shape == (3, 2)
    assert law.cdf(0.5).shape == (3, 2)
    assert law.cdf(np.zeros((4, 1, 1))).shape == (4, 3, 2)
    one = law[2, 0]
    assert one.batch_shape == ()
    assert float(one.mean()) == pytest.approx(float(ri.jjt_law(1.02, 0.1, 50).mean()), rel=1e-15)
    with pytest.raises(ValueError, match="cannot broadcast against the batch shape"):
        law.cdf(np.zeros(5))


def test_smooth_batch_matches_singletons():
    law = ri.jjt_law(np.array([0.95, 1.05]), np.array([[0.5], [1.0]]), 15, "tanh")
    for i, q in enumerate((0.5, 1.0)):
        for j, s in enumerate((0.95, 1.05)):
            single = ri.jjt_law(s, q, 15, "tanh")
            assert law.mean()[i, j] == pytest.approx(float(single.mean()), rel=1e-11)
            assert law.cdf(0.3)[i, j] == pytest.approx(float(single.cdf(0.3)), rel=1e-11)


def test_huge_atoms_stay_finite_in_logs():
    # sigma^(2L) = e^784 overflows; the weight alpha ~ e^-392 does not underflow
    law = ri.jjt_law(1.04, 1e-3, 10_000)
    assert law.log_atoms[0] == pytest.approx(20000 * math.log(1.04), rel=1e-15)
    assert np.isinf(law.atoms[0])
    lm = float(law.log_moment(1))
    assert math.isfinite(lm)
    assert lm == pytest.approx(law.log_atoms[0] + math.log(law.weights[0]), rel=1e-13)
    assert float(law.mean()) == pytest.approx(math.exp(lm), rel=1e-12)  # e^392 is representable
    a = law.weights[0]
    assert float(law.log_var()) == pytest.approx(math.log(a * (1 - a)) + 2 * law.log_atoms[0], rel=1e-13)
    assert np.isinf(law.var())  # e^1176 is not; never NaN


def test_count_law_is_binomial():
    law = ri.jjt_law(1.02, 0.1, 50)
    n = 400_000
    cl = law.count_law(n)
    assert cl.mean() == pytest.approx(n * 0.759955, rel=1e-6)
    # Monte Carlo of the actual network: n hard-tanh units W = sigma*I, 50 layers; a unit's Jacobian
    # entry is nonzero iff it never saturated. The count must fall in the binomial 1 - 1e-6 range.
    u = np.random.default_rng(2024).normal(0.0, math.sqrt(0.1), n)
    h, alive = u, np.ones(n, bool)
    for _ in range(50):
        h = 1.02 * h
        alive &= np.abs(h) < 1
        h = np.clip(h, -1, 1)
    lo, hi = cl.interval(1 - 1e-6)
    assert lo <= alive.sum() <= hi
    # and the wrong weight (a 2% larger q0) is rejected at the same level
    lo2, hi2 = ri.jjt_law(1.02, 0.102, 50).count_law(n).interval(1 - 1e-6)
    assert not lo2 <= alive.sum() <= hi2
    with pytest.raises(ValueError, match=r"^atom must be an integer in \[0, 1\], got 5$"):
        law.count_law(10, atom=5)


def test_grid_density_validation():
    with pytest.raises(ValueError, match="strictly increasing"):
        GridDensity([0.0, 0.0, 1.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=">= 0"):
        GridDensity([0.0, 1.0], [1.0, -1.0])
    with pytest.raises(ValueError, match="weights must lie in"):
        SpectralLaw([0.0], [1.5])


def test_log_moment_range_with_and_without_an_atom_at_zero():
    """k < 0 with an atom at 0 is refused (E[lambda^k] = inf there; it used to return inf
    silently, and moment(k) with it); k = 0 is the log of the total mass. Without an atom at 0
    negative k stays allowed: Fuss-Catalan's Mellin transform
    E[lambda^s] = Gamma((L+1)s + 1) / (Gamma(s + 1) Gamma(Ls + 2)) holds for s > -1/(L+1)."""
    with_atom = _built("random-gaussian-relu")
    assert float(with_atom.weights[np.isneginf(with_atom.log_atoms)].sum()) > 0
    for k in (-1.0, -1e-9):
        with pytest.raises(ValueError, match=r"k must be >= 0 for a law with an atom at 0.*k=-"):
            with_atom.log_moment(k)
        with pytest.raises(ValueError, match="k must be >= 0"):
            with_atom.moment(k)
    assert float(with_atom.log_moment(0)) == pytest.approx(0.0, abs=1e-12)
    batch = ri.jjt_law(np.array([0.9, 1.02]), 1.0, 50)  # hard-tanh: an atom at 0 in the batch
    with pytest.raises(ValueError, match="k must be >= 0"):
        batch.moment(-0.5)
    for L, s in ((1, -0.1), (3, -0.1)):  # (3, -0.2), near the pole at -1/4: 3e-5 off (node quadrature)
        fc = ri.random_init.freeprob.fuss_catalan_law(L)
        ref = math.gamma((L + 1) * s + 1) / (math.gamma(s + 1) * math.gamma(L * s + 2))
        assert float(fc.moment(s)) == pytest.approx(ref, rel=1e-9)
