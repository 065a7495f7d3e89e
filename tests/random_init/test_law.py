"""The typed random-init law: RandomInitLaw carries lambda_max and setting as fields, survives
pickling and indexing, and nothing in the package patches attributes onto law instances."""
import math
import pathlib
import pickle
import re

import numpy as np
import pytest

from rmt_idinit.laws import SpectralLaw
from rmt_idinit.random_init.freeprob import (RandomInit, fuss_catalan_law, jjt_edge, random_init,
                                             random_jjt_law)
from rmt_idinit.random_init.law import RandomInitLaw

CASES = [
    (4, "hardtanh", "orthogonal"),     # atoms + continuous part
    (1, "relu", "orthogonal"),         # depth 1 orthogonal: atoms only
    (3, "tanh", "gaussian"),           # smooth activation
    (2, "linear", "gaussian"),         # Fuss-Catalan
]


@pytest.mark.parametrize("depth,act,weights", CASES)
def test_fields_are_typed_and_match_the_independent_functions(depth, act, weights):
    law = random_jjt_law(depth, act, weights, q_star=1.0, n_grid=256)
    assert type(law) is RandomInitLaw and isinstance(law, SpectralLaw)
    assert isinstance(law.lambda_max, float)
    # the edge is computed again by jjt_edge, without the law's tabulation
    assert law.lambda_max == pytest.approx(jjt_edge(depth, act, weights, q_star=1.0), rel=1e-9)
    ref = random_init(act, weights, q_star=1.0)
    assert isinstance(law.setting, RandomInit) and law.setting.activation.name == act
    assert (law.setting.weights, law.setting.sigma_w, law.setting.sigma_b, law.setting.q_star, law.setting.chi1) == (
        ref.weights, ref.sigma_w, ref.sigma_b, ref.q_star, ref.chi1)
    assert repr(law).startswith("RandomInitLaw(")
    # the support ends at lambda_max: no mass above it, all of it at or below
    assert float(law.sf(law.lambda_max * (1 + 1e-9))) == pytest.approx(0.0, abs=1e-12)


def test_fuss_catalan_law_has_no_setting_but_its_edge():
    L = 3
    law = fuss_catalan_law(L, n_grid=256)
    assert type(law) is RandomInitLaw and law.setting is None
    assert law.lambda_max == pytest.approx((L + 1) ** (L + 1) / L ** L, rel=1e-14)


def test_pickle_and_indexing_keep_type_fields_and_values():
    law = random_jjt_law(5, "hardtanh", "gaussian", q_star=0.5, n_grid=256)
    back = pickle.loads(pickle.dumps(law))
    assert type(back) is RandomInitLaw
    assert back.lambda_max == law.lambda_max and back.setting.sigma_w == law.setting.sigma_w
    x = np.geomspace(1e-6, law.lambda_max, 7)
    assert np.array_equal(back.cdf(x), law.cdf(x))
    assert float(back.var()) == float(law.var()) == pytest.approx(5 / math.erf(1.0), rel=1e-6)
    sub = law[()]
    assert type(sub) is RandomInitLaw and sub.setting == law.setting and sub.lambda_max == law.lambda_max
    assert np.array_equal(sub.cdf(x), law.cdf(x))


def test_no_attribute_is_patched_onto_a_law():
    root = pathlib.Path(__file__).resolve().parents[1] / "rmt_idinit"
    pat = re.compile(r"\blaw\.\w+\s*=[^=]|setattr\(\s*law\b")
    hits = [f"{p.relative_to(root)}:{i}" for p in root.rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1) if pat.search(line)]
    assert hits == []
