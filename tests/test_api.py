"""The public surface: about twenty top-level names, lazy import, and the one-release shims.

Every name that left the top level, every renamed function and every argument that moved still
works, warns with a DeprecationWarning naming the new spelling, and gives the same result as the
new spelling.
"""
from __future__ import annotations

import json
import subprocess
import sys
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp

import rmt_idinit as ri
from rmt_idinit import identity, precise, symbolic


def test_top_level_is_short_and_complete():
    assert 18 <= len(ri.__all__) <= 24, ri.__all__
    assert len(set(ri.__all__)) == len(ri.__all__)
    for name in ri.__all__:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            assert getattr(ri, name) is not None, name
    # moved names are not advertised
    assert not set(ri._MOVED) & set(ri.__all__)
    assert not set(ri._MOVED) & set(dir(ri))
    assert {"selection", "precise", "symbolic", "random_init", "finite", "grid", "nn", "data",
            "plotting"} <= set(dir(ri))


def test_import_is_lazy():
    code = ("import sys, json, rmt_idinit; print(json.dumps(sorted(m for m in ('numba', 'scipy.optimize', "
            "'torch', 'matplotlib', 'sympy', 'mpmath', 'dask') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize("name", sorted(ri._MOVED))
def test_moved_names_warn_and_resolve_to_their_home(name):
    import importlib

    mod, attr = ri._MOVED[name]
    with pytest.warns(DeprecationWarning, match=rf"rmt_idinit\.{name} left the top level.*use "
                                                 rf"rmt_idinit\.{mod.replace('.', '[.]')}\.{attr}$"):
        value = getattr(ri, name)
    assert value is getattr(importlib.import_module(f"rmt_idinit.{mod}"), attr)


def test_submodules_resolve_and_unknown_names_raise():
    assert ri.random_init.freeprob.random_jjt_law is ri.random_jjt_law
    assert ri.random_init.compare.compare is ri.compare
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        ri.no_such_name  # noqa: B018
    with pytest.raises(AttributeError):
        ri.random_init.no_such_module  # noqa: B018


# --- renamed functions and reordered arguments ---------------------------------------------------

def _same(a, b):
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    return a == b


SHIMS = [
    # (old call, new call, the new spelling the warning must name)
    (lambda: symbolic.variance(2, 1, 3), lambda: symbolic.var(2, 1, 3), "symbolic.var"),
    (lambda: symbolic.q0_max(), lambda: symbolic.max_q0(), "symbolic.max_q0"),
    (lambda: symbolic.sigma_range(5, 1024), lambda: symbolic.sigma_window(5, kappa=1024), "symbolic.sigma_window"),
    (lambda: symbolic.layer_alpha(2, "1/2", 3), lambda: symbolic.alpha(2, "1/2", 3), "symbolic.alpha"),
    (lambda: symbolic.layer_alpha(layer=symbolic.LAYER), lambda: symbolic.alpha(depth=symbolic.LAYER),
     "symbolic.alpha"),
    (lambda: symbolic.forward_moment(1, 1, 4), lambda: symbolic.forward_moments(1, 1, 4)[-1],
     "symbolic.forward_moments"),
    (lambda: symbolic.forward_moment(), lambda: symbolic.forward_moments()[0], "symbolic.forward_moments"),
    (lambda: symbolic.jjt_law_atoms(2, 1, 3), lambda: (symbolic.atoms(2, 1, 3), symbolic.weights(2, 1, 3)),
     "symbolic.atoms"),
    (lambda: symbolic.jjt_law_atoms(activation="leaky_relu", negative_slope=sp.Rational(1, 4)),
     lambda: (symbolic.atoms(activation="leaky_relu", negative_slope=sp.Rational(1, 4)),
              symbolic.weights(activation="leaky_relu", negative_slope=sp.Rational(1, 4))), "symbolic.atoms"),
    (lambda: symbolic.moment(2, 2, 1, 3), lambda: symbolic.moment(2, 1, 3, k=2), "k=..."),
    (lambda: symbolic.moment(3), lambda: symbolic.moment(k=3), "k=..."),
    (lambda: precise.moment(2, 1.02, 0.1, 50), lambda: precise.moment(1.02, 0.1, 50, k=2), "k=..."),
    (lambda: precise.moment(2, 1.02, 0.1, 5, "relu", dps=20), lambda: precise.moment(1.02, 0.1, 5, "relu", k=2, dps=20),
     "k=..."),
    (lambda: precise.log_moment(1, 3.0, 1.0, 10), lambda: precise.log_moment(3.0, 1.0, 10, k=1), "k=..."),
    (lambda: precise.jjt_moment(1, 1.0, 1.0, 2, "tanh", dps=15),
     lambda: precise.jjt_moment(1.0, 1.0, 2, "tanh", k=1, dps=15), "k=..."),
    (lambda: precise.jjt_moments([1, 2], 1.0, 1.0, 2, "tanh", dps=15),
     lambda: precise.jjt_moments(1.0, 1.0, 2, "tanh", ks=[1, 2], dps=15), "ks=..."),
    (lambda: precise.jjt_law_atoms(1.5, 0.1, 4), lambda: (precise.log_atoms(1.5, 0.1, 4), precise.weights(1.5, 0.1, 4)),
     "precise.log_atoms"),
    (lambda: precise.log_gain(0.3, 1.1, 3, "tanh", 0.2), lambda: precise.log_gain(0.3, 1.1, 3, "tanh", bias=0.2),
     "bias="),
    (lambda: identity.alpha(1.1, 0.3, 4, "hardtanh", 0.1), lambda: identity.alpha(1.1, 0.3, 4, "hardtanh", bias=0.1),
     "bias="),
    (lambda: identity.alpha_complement(1.1, 0.3, 4, "relu", 0.1),
     lambda: identity.alpha_complement(1.1, 0.3, 4, "relu", bias=0.1), "bias="),
    (lambda: identity.layer_alphas(1.1, 0.3, 4, "hardtanh", 0.1),
     lambda: identity.layer_alphas(1.1, 0.3, 4, "hardtanh", bias=0.1), "bias="),
    (lambda: identity.forward_moments(1.1, 0.3, 4, "tanh", 0.1),
     lambda: identity.forward_moments(1.1, 0.3, 4, "tanh", bias=0.1), "bias="),
    (lambda: identity.jjt_eigenvalues([0.1, 0.5], 1.1, 4, "tanh", 0.1),
     lambda: identity.jjt_eigenvalues([0.1, 0.5], 1.1, 4, "tanh", bias=0.1), "bias="),
]


@pytest.mark.parametrize("old, new, spelling", SHIMS, ids=[f"shim{i}" for i in range(len(SHIMS))])
def test_old_spellings_warn_and_forward(old, new, spelling):
    with pytest.warns(DeprecationWarning) as record:
        got = old()
    messages = [str(w.message) for w in record if issubclass(w.category, DeprecationWarning)]
    assert any("deprecated" in m and spelling in m and "0.3" in m for m in messages), messages
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        want = new()
    assert _same(got, want), (got, want)


def test_a_bias_given_twice_or_too_many_positionals_is_a_type_error():
    with pytest.raises(TypeError, match="multiple values for argument 'bias'"):
        identity.alpha(1.1, 0.3, 4, "hardtanh", 0.1, bias=0.2)
    with pytest.raises(TypeError, match="at most 4 positional arguments"):
        identity.alpha(1.1, 0.3, 4, "hardtanh", 0.1, 0.2)


def test_the_shims_keep_the_new_signature_visible():
    import inspect

    assert list(inspect.signature(precise.moment).parameters)[:5] == ["sigma", "q0", "depth", "activation", "k"]
    assert inspect.signature(identity.alpha).parameters["bias"].kind is inspect.Parameter.KEYWORD_ONLY
    # and the new spelling itself does not warn
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        with mpmath.workdps(20):
            assert precise.moment(1.02, 0.1, 50, k=1, dps=20) == precise.mean(1.02, 0.1, 50, dps=20)
