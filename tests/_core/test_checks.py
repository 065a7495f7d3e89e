"""Exact exceptions and messages for bad input to every public float64 function.

Each message must name the parameter and its allowed range (``rmt_idinit._core.checks``).
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

import rmt_idinit as ri
from rmt_idinit.identity import hardtanh_second_moment

# functions with the (sigma, q0, depth) signature
SQD = [ri.alpha, ri.alpha_complement, ri.log_alpha_complement, ri.layer_alphas, ri.jjt_law, ri.forward_moments]
SQD_IDS = [f.__name__ for f in SQD]


def _call(f, sigma=1.0, q0=0.5, depth=3, *args, **kw):
    return f(sigma, q0, depth, *args, **kw)


@pytest.mark.parametrize("f", SQD, ids=SQD_IDS)
@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, -math.inf])
def test_sigma_range(f, bad):
    shown = re.escape(repr(float(bad)))
    with pytest.raises(ValueError, match=rf"^sigma must be a finite number > 0, got {shown}$"):
        _call(f, sigma=bad)


@pytest.mark.parametrize("f", SQD, ids=SQD_IDS)
@pytest.mark.parametrize("bad", [0.0, -1e-3, math.nan, math.inf])
def test_q0_range(f, bad):
    shown = re.escape(repr(float(bad)))
    with pytest.raises(ValueError, match=rf"^q0 must be a finite number > 0, got {shown}$"):
        _call(f, q0=bad)


def test_q0_array_reports_first_bad_value():
    with pytest.raises(ValueError, match=r"^q0 must be a finite number > 0, got -2\.0$"):
        ri.alpha(1.0, [1.0, -2.0, -3.0], 2)


@pytest.mark.parametrize("f", SQD, ids=SQD_IDS)
@pytest.mark.parametrize("bad, shown", [(0, "0"), (-3, "-3"), (1.5, "1.5"), (math.nan, "nan"), (math.inf, "inf")])
def test_depth_value(f, bad, shown):
    with pytest.raises(ValueError, match=rf"^depth must be an integer >= 1, got {shown}$"):
        _call(f, depth=bad)


@pytest.mark.parametrize("f", SQD, ids=SQD_IDS)
@pytest.mark.parametrize("bad", ["3", True, None])
def test_depth_type(f, bad):
    with pytest.raises(TypeError, match=rf"^depth must be an integer >= 1, got {re.escape(repr(bad))}$"):
        _call(f, depth=bad)


def test_whole_float_depth_is_accepted():
    assert float(ri.alpha(1.5, 0.1, 3.0)) == float(ri.alpha(1.5, 0.1, 3))


@pytest.mark.parametrize("f", SQD, ids=SQD_IDS)
@pytest.mark.parametrize("name", ["sigma", "q0"])
def test_type_errors(f, name):
    for bad, msg in [("0.5", rf"^{name} must be a real number or array of real numbers, got '0\.5'$"),
                     (True, rf"^{name} must be a real number, not a boolean$"),
                     (np.array([True, False]), rf"^{name} must be a real number, not a boolean$"),
                     (1 + 2j, rf"^{name} must be real, got a complex value$"),
                     (None, rf"^{name} must be a real number or array of real numbers, got None$")]:
        if name == "q0" and bad is None and f is ri.jjt_law:
            continue  # jjt_law(q0=None) means "pass inputs=", tested below
        with pytest.raises(TypeError, match=msg):
            _call(f, **{name: bad})


def test_jjt_law_needs_q0_or_inputs():
    with pytest.raises(ValueError, match=r"^q0 must be a finite number > 0 \(or pass inputs=\)$"):
        ri.jjt_law(1.0, None, 2)
    with pytest.raises(ValueError, match=r"^q0 must be None when inputs are given"):
        ri.jjt_law(1.0, 1.0, 2, inputs=[0.1, 0.2])


@pytest.mark.parametrize("f", [ri.alpha, ri.alpha_complement, ri.jjt_law], ids=lambda f: f.__name__)
def test_shape_mismatch_names_every_parameter(f):
    msg = r"^shapes cannot be broadcast together: sigma \(2,\), q0 \(3,\), depth \(\), bias \(\)$"
    with pytest.raises(ValueError, match=msg):
        f(np.ones(2), np.ones(3), 2)
    msg = r"^shapes cannot be broadcast together: sigma \(\), q0 \(2,\), depth \(3,\), bias \(\)$"
    with pytest.raises(ValueError, match=msg):
        f(1.0, np.ones(2), np.arange(1, 4))


def test_shape_mismatch_forward_and_layers():
    msg = r"^shapes cannot be broadcast together: sigma \(2,\), q0 \(3,\), bias \(\)$"
    for f in (ri.forward_moments, ri.layer_alphas):
        with pytest.raises(ValueError, match=msg):
            f(np.ones(2), np.ones(3), 2)


@pytest.mark.parametrize("f", [ri.layer_alphas, ri.forward_moments], ids=lambda f: f.__name__)
def test_single_depth_functions(f):
    with pytest.raises(ValueError, match=r"^depth must be a single integer >= 1.*got shape \(2,\)$"):
        f(1.0, 1.0, [1, 2])


@pytest.mark.parametrize("f", SQD, ids=SQD_IDS)
def test_unknown_activation(f):
    with pytest.raises(ValueError, match=r"^activation must be one of hardtanh, relu, .*softplus.* or an Activation, got 'swish'$"):
        _call(f, 1.0, 0.5, 3, "swish")
    with pytest.raises(TypeError, match=r"^activation must be a name or an Activation, got int$"):
        _call(f, 1.0, 0.5, 3, 7)


@pytest.mark.parametrize("f", SQD, ids=SQD_IDS)
def test_bad_activation_params(f):
    with pytest.raises(ValueError, match=r"^negative_slope must be a finite number >= 0, got -0\.1$"):
        _call(f, 1.0, 0.5, 3, "leaky_relu", negative_slope=-0.1)
    with pytest.raises(ValueError, match=r"^scale must be a finite number > 0, got 0\.0$"):
        _call(f, 1.0, 0.5, 3, "erf", scale=0.0)
    with pytest.raises(ValueError, match=r"^beta must be a finite number > 0, got nan$"):
        _call(f, 1.0, 0.5, 3, "softplus", beta=math.nan)
    with pytest.raises(TypeError, match=r"^activation 'tanh' takes parameters none, got \['slope'\]$"):
        _call(f, 1.0, 0.5, 3, "tanh", slope=1.0)


@pytest.mark.parametrize("f", [ri.alpha, ri.alpha_complement, ri.layer_alphas, ri.jjt_law, ri.forward_moments],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("bad, shown", [(math.nan, "nan"), (math.inf, "inf"), (-math.inf, "-inf")])
def test_bias_finite(f, bad, shown):
    with pytest.raises(ValueError, match=rf"^bias must be a finite number, got {shown}$"):
        f(1.0, 0.5, 3, "hardtanh", bias=bad)


def test_jjt_eigenvalues_checks():
    with pytest.raises(ValueError, match=r"^u must be a finite number, got nan$"):
        ri.jjt_eigenvalues([0.1, math.nan], 1.0, 2)
    with pytest.raises(TypeError, match=r"^u must be a real number or array of real numbers, got 'x'$"):
        ri.jjt_eigenvalues("x", 1.0, 2)
    with pytest.raises(ValueError, match=r"^sigma must be a finite number > 0, got -1\.0$"):
        ri.jjt_eigenvalues([0.1], -1.0, 2)
    with pytest.raises(ValueError, match=r"^depth must be an integer >= 1, got 0$"):
        ri.jjt_eigenvalues([0.1], 1.0, 0)
    with pytest.raises(ValueError, match=r"^sigma, depth and bias must be scalars in jjt_eigenvalues"):
        ri.jjt_eigenvalues([0.1], [1.0, 2.0], 2)
    with pytest.raises(TypeError, match=r"^sigma must be real, got a complex value$"):
        ri.jjt_eigenvalues([0.1], 1j, 2)


@pytest.mark.parametrize("bad, exc, msg", [
    (-1.0, ValueError, r"^q must be a finite number > 0, got -1\.0$"),
    (0.0, ValueError, r"^q must be a finite number > 0, got 0\.0$"),
    (math.nan, ValueError, r"^q must be a finite number > 0, got nan$"),
    (math.inf, ValueError, r"^q must be a finite number > 0, got inf$"),
    ("1", TypeError, r"^q must be a real number or array of real numbers, got '1'$"),
    (False, TypeError, r"^q must be a real number, not a boolean$"),
    (2j, TypeError, r"^q must be real, got a complex value$"),
])
def test_hardtanh_second_moment_checks(bad, exc, msg):
    with pytest.raises(exc, match=msg):
        hardtanh_second_moment(bad)


def test_law_method_checks():
    law = ri.jjt_law(1.5, 0.1, 3)
    with pytest.raises(ValueError, match=r"^x must not contain NaN$"):
        law.cdf(math.nan)
    with pytest.raises(ValueError, match=r"^q must lie in \[0, 1\], got 1\.5$"):
        law.ppf(1.5)
    with pytest.raises(ValueError, match=r"^k must be a finite number, got inf$"):
        law.moment(math.inf)
    with pytest.raises(ValueError, match=r"^n must be an integer >= 0, got -1$"):
        law.rvs(-1)
    with pytest.raises(ValueError, match=r"^width must be an integer >= 1, got 0$"):
        law.count_law(0)
    with pytest.raises(ValueError, match=r"cannot broadcast against the batch shape \(2,\)$"):
        ri.jjt_law([1.5, 2.0], 0.1, 3).cdf(np.ones(3))


def test_activation_param_type_message():
    with pytest.raises(TypeError, match=r"^negative_slope must be a real number or array of real numbers, got '0\.1'$"):
        ri.alpha(1.0, 0.5, 3, "leaky_relu", negative_slope="0.1")


@pytest.mark.parametrize("bad", [2 ** 63, 10 ** 30, np.uint64(2 ** 63), 1e300])
def test_depth_beyond_int64_states_the_limit(bad):
    """Before: 2**63 wrapped to "got -9223372036854775808"; 10**30 raised a TypeError that said
    it was not an integer >= 1."""
    with pytest.raises(ValueError, match=r"^depth must be an integer in \[1, 2\*\*63 - 1\], got "):
        ri.alpha(1.0, 0.1, bad)


@pytest.mark.parametrize("depth", [np.int64(3), np.array(3), np.uint8(3), 3.0])
def test_integer_like_depth_is_accepted(depth):
    assert float(ri.alpha(1.02, 0.1, depth)) == float(ri.alpha(1.02, 0.1, 3))


def test_check_memory_names_what_and_limit(monkeypatch):
    from rmt_idinit._core import checks as _checks

    with pytest.raises(ValueError, match=r"^depth=5 would need 2 GiB of memory, above the limit of 1 GiB"):
        _checks.check_memory(2 * 2 ** 30, "depth=5", limit=2 ** 30)
    monkeypatch.setenv("RMT_IDINIT_MAX_BYTES", "100")
    with pytest.raises(ValueError, match="RMT_IDINIT_MAX_BYTES"):
        _checks.check_memory(101, "x")
    _checks.check_memory(100, "x")


def test_size_refusals_up_front(monkeypatch):
    from rmt_idinit import cli, precise
    from rmt_idinit.nn import IdentityMLP

    with pytest.raises(ValueError, match=r"^dps must be an integer in \[1, 100000\], got 1000000000$"):
        precise.alpha(1.0, 0.1, 3, dps=10 ** 9)
    with pytest.raises(ValueError, match=r"IdentityMLP\(width=4, depth=1000000000\) would need"):
        IdentityMLP(4, 10 ** 9)
    assert cli.main(["law", "1.0", "0.5", "100000000", "--activation", "tanh"]) == 2
    assert cli.main(["alpha", "0.5", "0.1", "1000000000", "--layers"]) == 2


def test_rng_negative_seed_names_rng():
    with pytest.raises(ValueError, match=r"^rng must be None, an int seed >= 0"):
        ri.jjt_law(1.0, 0.1, 2).rvs(3, rng=-1)


def test_numpy_activation_parameters_are_accepted():
    """Before: softplus beta=np.array(1.0) raised "beta must be a real number"."""
    a = ri.get_activation("softplus", beta=np.array(2.0))
    assert a.params == {"beta": 2.0}
    assert ri.get_activation("leaky_relu", negative_slope=np.float32(0.25)).params == {"negative_slope": 0.25}
    with pytest.raises(TypeError, match=r"^beta must be a single number, got an array of shape \(2,\)$"):
        ri.get_activation("softplus", beta=np.array([1.0, 2.0]))


# --- checks added with the private core -------------------------------------------------------

def test_checks_module_imports_nothing_from_the_package():
    import ast
    import pathlib

    from rmt_idinit._core import checks

    tree = ast.parse(pathlib.Path(checks.__file__).read_text())
    relative = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 0]
    absolute = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
                if a.name.startswith("rmt_idinit")]
    assert relative == [] and absolute == []


def test_greater_interval_and_not_nan():
    from rmt_idinit._core import checks

    assert checks.check_greater("kappa", [1.5, 10.0], 1.0).tolist() == [1.5, 10.0]
    for bad, shown in ((1.0, "1.0"), (math.inf, "inf"), (math.nan, "nan"), (0.5, "0.5")):
        with pytest.raises(ValueError, match=rf"^kappa must be a finite number > 1, got {shown}$"):
            checks.check_greater("kappa", bad, 1.0)
    assert checks.check_interval("c", [-1.0, 0.0, 1.0], -1.0, 1.0).tolist() == [-1.0, 0.0, 1.0]
    for bad in (1.0 + 1e-15, -2.0, math.nan):
        with pytest.raises(ValueError, match=r"^c must lie in \[-1, 1\], got "):
            checks.check_interval("c", np.array([0.0, bad]), -1.0, 1.0)
    assert checks.check_not_nan("x", [-math.inf, 0.0, math.inf]).tolist() == [-math.inf, 0.0, math.inf]
    with pytest.raises(ValueError, match=r"^x must not contain NaN$"):
        checks.check_not_nan("x", [0.0, math.nan])


def test_int_reason_and_path_and_instance():
    import pathlib

    from rmt_idinit._core import checks

    assert checks.check_scalar_int("depth", 7, 1, 10, reason="cap") == 7
    with pytest.raises(ValueError, match=r"^depth must be an integer in \[1, 10\], got 11 \(cap\)$"):
        checks.check_scalar_int("depth", 11, 1, 10, reason="cap")
    with pytest.raises(TypeError, match=r"^depth must be a single integer"):  # a type error keeps its text
        checks.check_scalar_int("depth", [1, 2], 1, 10, reason="cap")
    assert checks.check_path("path", "a/b") == pathlib.Path("a/b")
    with pytest.raises(TypeError, match=r"^path must be a path \(str or os.PathLike\), got int$"):
        checks.check_path("path", 3)
    with pytest.raises(TypeError, match=r"^law must be a SpectralLaw \(e.g. from rmt_idinit.jjt_law\), got dict$"):
        ri.laws.check_law("law", {})
    assert checks.check_instance("n", 3, int) == 3
