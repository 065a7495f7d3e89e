"""The bad-input contract, swept over every public function.

Every public callable of ``rmt_idinit`` and its submodules is listed in :data:`SPECS` with one
valid call and, for each parameter, the *kind* of value it takes. Each kind has a list of bad
values (negative, zero, NaN, inf, 2**63, 10**30, floats where integers are needed, strings,
None, empty / 0-d / ragged arrays, wrong dtypes, ...). The contract, for every (function,
parameter, bad value):

* the call raises ``ValueError`` or ``TypeError`` (a subclass is fine), never AttributeError,
  OverflowError, ZeroDivisionError, a raw sympy or torch error, and never returns;
* the message names the parameter.

``test_every_public_function_is_swept`` fails when a public function is added without a spec,
so the sweep stays complete. The exhaustive part is explicit (one pytest case per function,
looping over parameters and values); the hypothesis part draws further bad values from
strategies (derandomized, so the run is the same on every machine).
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import math
import signal
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rmt_idinit as ri
from rmt_idinit import finite, grid, identity, precise, select, selection, symbolic
from rmt_idinit.random_init import meanfield
from rmt_idinit.random_init import freeprob

torch = pytest.importorskip("torch")
from rmt_idinit import data as ridata  # noqa: E402
from rmt_idinit import nn as rinn  # noqa: E402

# --- bad values by kind -----------------------------------------------------------------------

RAGGED = [[1.0], [1.0, 2.0]]
NOT_NUMBER = ["abc", None, 1j, RAGGED, object()]
BAD = {
    "pos": [-1.0, 0.0, math.nan, math.inf, -math.inf, *NOT_NUMBER, True],
    "nonneg": [-1.0, math.nan, math.inf, *NOT_NUMBER],
    "finite": [math.nan, math.inf, -math.inf, *NOT_NUMBER],
    "prob": [0.0, 1.0, -0.5, 1.5, math.nan, *NOT_NUMBER],
    "int": [0, -3, 2.5, math.nan, math.inf, "5", None, 2 ** 63, 10 ** 30, 1e300, RAGGED, True, 1j],
    "int0": [-1, 2.5, math.nan, "5", None, 2 ** 63, 10 ** 30, RAGGED, True],
    "choice": ["no-such-choice", 5, None],
    "activation": ["no-such-activation", 5, None, 2.5],
    "law": [None, 5, "law", np.array([1.0, 2.0])],
    "rng": [-1, "abc", 2.5, object()],
    "array": ["abc", None, RAGGED, np.array(["a", "b"])],
    "callable": [None, 5, "abc"],
    "tensor": [None, "abc", np.zeros((2, 4)), torch.zeros(0, 4), torch.zeros(2, 4, dtype=torch.int64),
               torch.zeros(2, 5)],
    "model": [None, 5, "model", torch.nn.Linear(4, 4)],
    "path": [None, 5, "/nonexistent/rmt_idinit_path"],
    "sym": [-1.0, 0.0, math.nan, math.inf, "abc", np.array([1.0, 2.0]), None],
}
# a scalar-only parameter also refuses arrays of the wrong shape
SCALAR_EXTRA = [np.array([]), np.array([1.0, 2.0])]
BAD["pos1"] = BAD["pos"] + SCALAR_EXTRA
BAD["nonneg1"] = BAD["nonneg"] + SCALAR_EXTRA
BAD["finite1"] = BAD["finite"] + SCALAR_EXTRA
BAD["prob1"] = BAD["prob"] + SCALAR_EXTRA
BAD["int1"] = BAD["int"] + [np.array([], dtype=int), np.array([2, 3])]
BAD["int01"] = BAD["int0"] + [np.array([], dtype=int), np.array([2, 3])]
# where data are needed, an empty array is bad too (elsewhere it broadcasts to an empty result)
BAD["array1"] = BAD["array"] + [np.array([])]
# symbolic: a number goes through the float64 checks; sympy symbols pass (not in the bad list)
BAD["sympos"] = [-1.0, 0.0, math.nan, math.inf, "-1", 1j, np.array([1.0, 2.0]), RAGGED]
BAD["symint"] = [0, -2, 2.5, math.nan, "2.5", np.array([1, 2]), 2 ** 63]
BAD["symprob"] = [0.0, 1.0, -0.5, 1.5, math.nan, np.array([0.1, 0.2])]
BAD["symfinite"] = [math.nan, math.inf, np.array([1.0, 2.0])]
BAD["symlayers"] = ["abc", RAGGED, [0], [2.5], [10], 5]


@dataclass
class Spec:
    """One public callable: a valid call (``args``) and the kind of each parameter to sweep."""

    name: str
    fn: Callable
    args: dict
    kinds: dict
    allow: dict = field(default_factory=dict)  # param -> values that are legitimately accepted
    xfail: str | None = None  # reason, for defects fixed on another branch
    kwargs_only: bool = True

    def call(self, **override):
        kw = dict(self.args)
        kw.update(override)
        return self.fn(**kw)


def _law():
    return ri.jjt_law(1.02, 0.1, 3)


def _model(depth=2, width=4, **kw):
    torch.manual_seed(0)
    return rinn.IdentityMLP(width, depth, **kw)


def _imodel():
    torch.manual_seed(0)
    return rinn.InterpretableMLP(4, 3, 2)


X4 = torch.full((3, 4), 0.1, dtype=torch.float32)

FREEPROB = "fixed on the freeprob branch (random-init bad inputs)"
SQD = {"sigma": "pos", "q0": "pos", "depth": "int", "activation": "activation"}
SQD_ARGS = {"sigma": 1.02, "q0": 0.1, "depth": 3}
PREC = {"sigma": "pos1", "q0": "pos1", "depth": "int1", "activation": "activation", "dps": "int1"}
PREC_ARGS = {"sigma": 1.02, "q0": 0.1, "depth": 3, "dps": 15}


def _specs() -> list[Spec]:
    law = _law()
    s: list[Spec] = []
    add = s.append
    # --- identity (float64 core) ---
    for f in (identity.alpha, identity.alpha_complement, identity.log_alpha_complement, identity.forward_moments,
              identity.layer_alphas):
        kinds = dict(SQD)
        if f is not identity.log_alpha_complement:
            kinds["bias"] = "finite"
        if f in (identity.layer_alphas, identity.forward_moments):
            kinds["depth"] = "int1"
        allow = {}
        if f is identity.forward_moments:
            kinds["layers"], allow = "array", {"layers": [None]}
        add(Spec(f"identity.{f.__name__}", f, dict(SQD_ARGS), kinds, allow=allow))
    add(Spec("identity.jjt_law", identity.jjt_law, dict(SQD_ARGS),
             {**SQD, "bias": "finite", "inputs": "array"}, allow={"inputs": [None]}))
    add(Spec("identity.jjt_eigenvalues", identity.jjt_eigenvalues, {"u": [0.1, -0.2], "sigma": 1.02, "depth": 3},
             {"u": "array", "sigma": "pos1", "depth": "int1", "activation": "activation", "bias": "finite1"}))
    add(Spec("identity.hardtanh_second_moment", identity.hardtanh_second_moment, {"q": 0.5}, {"q": "pos"}))
    add(Spec("identity.PushforwardPart", lambda **kw: identity.PushforwardPart(**kw),
             {"act": ri.get_activation("tanh"), "sigma": 1.02, "q0": 0.1, "depth": 3, "bias": 0.0},
             {"sigma": "pos", "q0": "pos", "depth": "int", "bias": "finite"}))
    # --- activations ---
    add(Spec("activations.get_activation", ri.get_activation, {"activation": "tanh"},
             {"activation": "activation"}))
    add(Spec("activations.get_activation(softplus beta)", ri.get_activation, {"activation": "softplus", "beta": 2.0},
             {"beta": "pos1"}))
    add(Spec("activations.get_activation(leaky slope)", ri.get_activation,
             {"activation": "leaky_relu", "negative_slope": 0.1}, {"negative_slope": "finite1"}))
    add(Spec("activations.register_activation", ri.register_activation, {"activation": None},
             {"activation": "model"}, allow={}))
    add(Spec("activations.Activation", lambda **kw: ri.Activation(**kw),
             {"name": "mine", "phi": np.tanh, "dphi": lambda x: 1 - np.tanh(x) ** 2},
             {"name": "choice", "phi": "callable", "dphi": "callable"}, allow={"name": ["no-such-choice"]}))
    forms = ("second_moment", "second_moment_slope", "derivative_moment", "covariance", "derivative_covariance")
    add(Spec("activations.GaussianForms", lambda **kw: ri.activations.GaussianForms(**kw),
             {f: None for f in forms}, {f: "callable" for f in forms}, allow={f: [None] for f in forms}))
    add(Spec("activations.Pieces", lambda **kw: ri.activations.Pieces(**kw),
             {"breakpoints": (0.0,), "slopes": (0.0, 1.0), "intercepts": (0.0, 0.0)},
             {"breakpoints": "array", "slopes": "array", "intercepts": "array"}))
    # --- laws: every public method of SpectralLaw ---
    for meth, args, kinds in (
        ("cdf", {"x": 0.5}, {"x": "array"}),
        ("sf", {"x": 0.5}, {"x": "array"}),
        ("pdf", {"x": 0.5}, {"x": "array"}),
        ("ppf", {"q": 0.5}, {"q": "array"}),
        # this law has an atom at 0, so k < 0 is refused too (E[lambda^k] = inf)
        ("moment", {"k": 1.0}, {"k": "nonneg1"}),
        ("log_moment", {"k": 1.0}, {"k": "nonneg1"}),
        ("rvs", {"n": 3, "rng": 0}, {"n": "int01", "rng": "rng"}),
        ("count_law", {"width": 10, "atom": 0}, {"width": "int1", "atom": "int01"}),
    ):
        add(Spec(f"SpectralLaw.{meth}", getattr(law, meth), args, kinds))
    add(Spec("SpectralLaw", lambda **kw: ri.SpectralLaw(**kw), {"log_atoms": [0.0, -1.0], "weights": [0.5, 0.5]},
             {"log_atoms": "array", "weights": "array"}))
    add(Spec("GridDensity", lambda **kw: ri.laws.GridDensity(**kw), {"x": [0.0, 1.0, 2.0], "density": [0.5, 0.5, 0.5]},
             {"x": "array", "density": "array"}))
    # --- select (the new argument order; keyword calls, so the same kinds) ---
    SET1 = {"q0": "pos1", "depth": "int1", "activation": "activation", "eps": "prob1", "kappa": "pos1"}
    add(Spec("select.dead_fraction", select.dead_fraction, dict(SQD_ARGS), {**SQD, "kappa": "pos"}))
    for f in (select.log_gradient_scale, select.gradient_scale, select.isometry_loss, select.log_signal_scale):
        add(Spec(f"select.{f.__name__}", f, dict(SQD_ARGS), dict(SQD)))
    add(Spec("select.is_feasible", select.is_feasible, dict(SQD_ARGS), {**SQD, "eps": "prob", "kappa": "pos"}))
    add(Spec("select.is_trainable", select.is_trainable, dict(SQD_ARGS),
             {**SQD, "criterion": "choice", "min_log_signal": "finite1"}))
    add(Spec("select.is_trainable(isometry)", select.is_trainable, {**SQD_ARGS, "criterion": "isometry"},
             {"eps": "prob", "kappa": "pos"}))
    add(Spec("select.sigma_window", select.sigma_window, {"depth": 3}, {"depth": "int", "kappa": "pos"}))
    add(Spec("select.feasible_sigma_interval", select.feasible_sigma_interval, {"q0": 0.1, "depth": 3},
             {"q0": "pos", "depth": "int", "eps": "prob", "kappa": "pos", "activation": "activation"}))
    add(Spec("select.max_q0", select.max_q0, {"sigma": 1.02, "depth": 3},
             {"sigma": "pos", "depth": "int", "eps": "prob", "kappa": "pos", "activation": "activation"}))
    add(Spec("select.max_q0_derivation", select.max_q0_derivation, {}, {"regime": "choice"}))
    add(Spec("select.max_depth", select.max_depth, {"sigma": 1.02, "q0": 0.1},
             {"sigma": "pos", "q0": "pos", "eps": "prob", "kappa": "pos", "activation": "activation",
              "depth_limit": "int1"}))
    add(Spec("select.best_sigma", select.best_sigma, {"q0": 0.1, "depth": 3},
             {"q0": "pos", "depth": "int", "activation": "activation", "eps": "prob", "kappa": "pos"},
             allow={"eps": [None], "kappa": [None]}))
    add(Spec("select.feasible_region", select.feasible_region,
             {"depth": 3, "sigma": np.linspace(0.9, 1.1, 3), "q0": np.array([0.05, 0.1]), "progress": False},
             {"depth": "int1", "eps": "prob1", "kappa": "pos1", "activation": "activation", "sigma": "array",
              "q0": "array", "chunk_size": "int1"}, allow={"chunk_size": [None], "sigma": [None], "q0": [None]}))
    add(Spec("select.sweep", select.sweep, {"fn": lambda a: a, "grid": np.arange(3.0), "progress": False},
             {"fn": "callable", "grid": "array1", "chunk_size": "int1"},
             allow={"chunk_size": [None], "grid": [BAD["array"][-1]]}))  # any values: fn decides
    add(Spec("select.FeasibleRegion", lambda **kw: select.FeasibleRegion(**kw), {}, {}, ))
    add(Spec("select.summarize", select.summarize, {"sigma": 1.02, "q0": 0.1, "depth": 3},
             {"sigma": "pos1", **SET1, "inputs": "array"}, allow={"inputs": [None]}))
    for f in (select.recommend, select.why_infeasible, select.what_would_be_feasible):
        add(Spec(f"select.{f.__name__}", f, {"q0": 0.1, "depth": 3}, dict(SET1)))
    add(Spec("select.round_in_interval", select.round_in_interval, {"value": 1.0, "lo": 0.5, "hi": 2.0},
             {"value": "finite1", "lo": "finite1", "hi": "finite1"}))
    # --- selection (deprecated old orders; the same checks through the forwarding wrappers) ---
    add(Spec("selection.dead_fraction", selection.dead_fraction, dict(SQD_ARGS), {**SQD, "kappa": "pos"}))
    for f in (selection.log_gradient_scale, selection.gradient_scale, selection.isometry_loss):
        add(Spec(f"selection.{f.__name__}", f, dict(SQD_ARGS), dict(SQD)))
    add(Spec("selection.is_feasible", selection.is_feasible, dict(SQD_ARGS), {**SQD, "eps": "prob", "kappa": "pos"}))
    add(Spec("selection.sigma_window", selection.sigma_window, {"depth": 3}, {"depth": "int", "kappa": "pos"}))
    add(Spec("selection.feasible_sigma_interval", selection.feasible_sigma_interval, {"depth": 3, "q0": 0.1},
             {"depth": "int", "q0": "pos", "eps": "prob", "kappa": "pos", "activation": "activation"}))
    add(Spec("selection.max_q0", selection.max_q0, {"sigma": 1.02, "depth": 3},
             {"sigma": "pos", "depth": "int", "eps": "prob", "kappa": "pos", "activation": "activation"}))
    add(Spec("selection.max_q0_derivation", selection.max_q0_derivation, {}, {"regime": "choice"}))
    add(Spec("selection.max_depth", selection.max_depth, {"sigma": 1.02, "q0": 0.1},
             {"sigma": "pos", "q0": "pos", "eps": "prob", "kappa": "pos", "activation": "activation",
              "depth_limit": "int1"}))
    add(Spec("selection.best_sigma", selection.best_sigma, {"depth": 3, "q0": 0.1},
             {"depth": "int", "q0": "pos", "activation": "activation", "eps": "prob", "kappa": "pos"},
             allow={"eps": [None], "kappa": [None]}))
    add(Spec("selection.feasible_region", selection.feasible_region,
             {"depth": 3, "sigma": np.linspace(0.9, 1.1, 3), "q0": np.array([0.05, 0.1]), "progress": False},
             {"depth": "int1", "eps": "prob1", "kappa": "pos1", "activation": "activation", "sigma": "array",
              "q0": "array", "chunk_size": "int1"}, allow={"chunk_size": [None], "sigma": [None], "q0": [None]}))
    add(Spec("selection.sweep", selection.sweep, {"fn": lambda a: a, "grid": np.arange(3.0), "progress": False},
             {"fn": "callable", "grid": "array1", "chunk_size": "int1"},
             allow={"chunk_size": [None], "grid": [BAD["array"][-1]]}))  # any values: fn decides
    add(Spec("selection.FeasibleRegion", lambda **kw: selection.FeasibleRegion(**kw), {}, {}, ))
    # --- grid ---
    for f in (grid.log_moment_grid, grid.moment_grid):
        add(Spec(f"grid.{f.__name__}", f, {"sigma": [0.9, 1.0], "q0": [0.1], "depth": 3, "activation": "hardtanh"},
                 {"sigma": "array1", "q0": "array1", "depth": "int1", "activation": "activation", "k": "finite1",
                  "bias": "finite1"},
                 allow={"activation": [None]}))  # the default: hard-tanh, with a warning until 0.3
    # --- finite ---
    add(Spec("finite.count_law", finite.count_law, {"law": law, "width": 10}, {"law": "law", "width": "int1",
                                                                             "atom": "int01"}))
    add(Spec("finite.dkw_epsilon", finite.dkw_epsilon, {"n": 10}, {"n": "int1", "confidence": "prob1"}))
    add(Spec("finite.dkw_band", finite.dkw_band, {"law": law, "x": [0.5], "n": 10},
             {"law": "law", "x": "array", "n": "int1", "confidence": "prob1"}))
    add(Spec("finite.ks_distance", finite.ks_distance, {"sample": [0.0, 1.0], "law": law},
             {"sample": "array1", "law": "law"}))
    add(Spec("finite.goodness_of_fit", finite.goodness_of_fit, {"sample": [0.0, 1.0], "law": law},
             {"sample": "array1", "law": "law", "confidence": "prob1"}))
    add(Spec("finite.FitResult", lambda **kw: finite.FitResult(**kw), {}, {}))
    # --- precise ---
    for f in (precise.alpha, precise.alpha_complement, precise.log_alpha_complement, precise.layer_alphas,
              precise.atoms, precise.log_atoms, precise.weights, precise.mean, precise.var):
        add(Spec(f"precise.{f.__name__}", f, dict(PREC_ARGS), dict(PREC)))
    add(Spec("precise.moment", precise.moment, {"k": 1, **PREC_ARGS}, {"k": "pos1", **PREC, "bias": "finite1"}))
    add(Spec("precise.log_moment", precise.log_moment, {"k": 1, **PREC_ARGS}, {"k": "pos1", **PREC}))
    add(Spec("precise.hardtanh_second_moment", precise.hardtanh_second_moment, {"q": 0.5, "dps": 15},
             {"q": "pos1", "dps": "int1"}))
    add(Spec("precise.forward_moments", precise.forward_moments, dict(PREC_ARGS), {**PREC, "layers": "array"},
             allow={"layers": [None]}))
    add(Spec("precise.log_gain", precise.log_gain, {"u": 0.3, "sigma": 1.02, "depth": 3, "dps": 15},
             {"u": "finite1", "sigma": "pos1", "depth": "int1", "activation": "activation", "bias": "finite1",
              "dps": "int1"}))
    add(Spec("precise.jjt_moment", precise.jjt_moment, {"k": 1, **PREC_ARGS, "activation": "relu"},
             {"k": "pos1", **PREC, "bias": "finite1", "method": "choice"}))
    add(Spec("precise.jjt_moments", precise.jjt_moments, {"ks": [1], **PREC_ARGS, "activation": "relu"},
             {"ks": "array", **PREC, "bias": "finite1", "method": "choice"}))
    add(Spec("precise.jjt_eigenvalues", precise.jjt_eigenvalues, {"u": [0.1, -0.2], "sigma": 1.02, "depth": 3, "dps": 15},
             {"u": "array", "sigma": "pos1", "depth": "int1", "activation": "activation", "bias": "finite1",
              "dps": "int1"}))
    add(Spec("precise.max_q0", precise.max_q0, {"sigma": 1.02, "depth": 3, "dps": 15},
             {"sigma": "pos1", "depth": "int1", "eps": "prob1", "activation": "activation", "dps": "int1"}))
    add(Spec("precise.sigma_window", precise.sigma_window, {"depth": 3, "dps": 15},
             {"depth": "int1", "kappa": "pos1", "dps": "int1"}))
    # --- symbolic: numbers are checked like the float64 API, symbols pass ---
    three = {"sigma": "sympos", "q0": "sympos", "depth": "symint", "activation": "activation",
             "negative_slope": "symfinite"}
    for f in (symbolic.alpha, symbolic.alpha_complement, symbolic.log_alpha_complement, symbolic.layer_alphas,
              symbolic.atoms, symbolic.log_atoms, symbolic.weights, symbolic.mean, symbolic.var,
              symbolic.relative_variance):
        add(Spec(f"symbolic.{f.__name__}", f, {"sigma": 2, "q0": "1/2", "depth": 3}, dict(three)))
    add(Spec("symbolic.forward_moments", symbolic.forward_moments, {"sigma": 2, "q0": "1/2", "depth": 3},
             {**three, "layers": "symlayers"}))
    for f in (symbolic.moment, symbolic.log_moment):
        add(Spec(f"symbolic.{f.__name__}", f, {"k": 2, "sigma": 2, "q0": "1/2", "depth": 3},
                 {"k": "sympos", **three}))
    add(Spec("symbolic.hardtanh_second_moment", symbolic.hardtanh_second_moment, {"q": 1}, {"q": "sympos"}))
    add(Spec("symbolic.derive_hardtanh_second_moment", symbolic.derive_hardtanh_second_moment, {}, {}))
    add(Spec("symbolic.max_q0", symbolic.max_q0, {"sigma": 2, "depth": 3, "eps": "1/10"},
             {"sigma": "sympos", "depth": "symint", "eps": "symprob", "activation": "activation"}))
    add(Spec("symbolic.sigma_window", symbolic.sigma_window, {"depth": 3, "kappa": 4},
             {"depth": "symint", "kappa": "sympos"}))
    add(Spec("symbolic.derive_q0_boundary", symbolic.derive_q0_boundary, {}, {"regime": "choice"}))
    add(Spec("symbolic.latex", symbolic.latex, {"expr": symbolic.SIGMA}, {"expr": "model"},
             allow={"expr": [5, "model"]}))
    add(Spec("symbolic.lambdify", symbolic.lambdify, {"expr": symbolic.SIGMA}, {"expr": "model", "args": "law"},
             allow={"expr": [5, "model"], "args": [None]}))
    # --- meanfield / freeprob / compare (random-init baselines) ---
    mf = {"sigma_w": "pos", "sigma_b": "nonneg", "activation": "activation"}
    add(Spec("meanfield.gaussian_expectation", meanfield.gaussian_expectation, {"f": np.tanh, "q": 0.5},
             {"f": "callable", "q": "nonneg"}))
    add(Spec("meanfield.phi_second_moment", meanfield.phi_second_moment, {"q": 0.5},
             {"q": "nonneg", "activation": "activation"}))
    add(Spec("meanfield.derivative_moment", meanfield.derivative_moment, {"q": 0.5},
             {"q": "nonneg", "k": "pos", "activation": "activation"}))
    add(Spec("meanfield.q_map", meanfield.q_map, {"q": 0.5, "sigma_w": 1.0, "sigma_b": 0.1}, {"q": "nonneg", **mf}))
    add(Spec("meanfield.q_map_slope", meanfield.q_map_slope, {"q": 0.5, "sigma_w": 1.0},
             {"q": "nonneg", "sigma_w": "pos", "activation": "activation"}))
    add(Spec("meanfield.q_star", meanfield.q_star, {"sigma_w": 1.0, "sigma_b": 0.1}, dict(mf)))
    add(Spec("meanfield.q_layers", meanfield.q_layers, {"q0": 0.5, "sigma_w": 1.0, "sigma_b": 0.1, "depth": 3},
             {"q0": "nonneg", **mf, "depth": "int1"}))
    add(Spec("meanfield.c_map", meanfield.c_map, {"c": 0.5, "sigma_w": 1.0, "sigma_b": 0.1}, {"c": "finite", **mf}))
    add(Spec("meanfield.c_map_slope", meanfield.c_map_slope, {"c": 0.5, "sigma_w": 1.0, "sigma_b": 0.1},
             {"c": "finite", **mf}))
    add(Spec("meanfield.c_star", meanfield.c_star, {"sigma_w": 1.0, "sigma_b": 0.1}, dict(mf)))
    add(Spec("meanfield.chi1", meanfield.chi1, {"sigma_w": 1.0, "sigma_b": 0.1}, dict(mf)))
    add(Spec("meanfield.depth_scales", meanfield.depth_scales, {"sigma_w": 1.0, "sigma_b": 0.1}, dict(mf)))
    add(Spec("meanfield.critical_line", meanfield.critical_line, {"q_star": 0.5},
             {"q_star": "pos", "activation": "activation"}))
    add(Spec("meanfield.DepthScales", lambda **kw: meanfield.DepthScales(**kw), {}, {}))
    add(Spec("meanfield.CriticalPoint", lambda **kw: meanfield.CriticalPoint(**kw), {}, {}))
    rw = {"depth": "int1", "activation": "activation", "weights": "choice"}
    add(Spec("freeprob.random_init", freeprob.random_init, {"q_star": 0.5},
             {"activation": "activation", "weights": "choice", "q_star": "pos1", "rtol": "pos1"},
             allow={"q_star": [None]}))
    add(Spec("freeprob.RandomInit", lambda **kw: freeprob.RandomInit(**kw), {}, {}))
    add(Spec("freeprob.jjt_moments", freeprob.jjt_moments, {"depth": 2, "q_star": 0.5}, dict(rw)))
    add(Spec("freeprob.jjt_edge", freeprob.jjt_edge, {"depth": 2, "q_star": 0.5}, dict(rw)))
    add(Spec("freeprob.jjt_density", freeprob.jjt_density, {"lam": [0.5], "depth": 2, "q_star": 0.5},
             {"lam": "array", **rw}))
    add(Spec("freeprob.random_jjt_law", freeprob.random_jjt_law, {"depth": 2, "q_star": 0.5, "n_grid": 64},
             {**rw, "n_grid": "int1"}))
    add(Spec("freeprob.fuss_catalan", freeprob.fuss_catalan, {"depth": 2, "t": [0.5]},
             {"depth": "int1", "t": "array"}))
    add(Spec("freeprob.fuss_catalan_law", freeprob.fuss_catalan_law, {"depth": 2, "n_grid": 64},
             {"depth": "int1", "n_grid": "int1", "scale_log": "finite1"}))
    cmpmod = importlib.import_module("rmt_idinit.random_init.compare")
    add(Spec("comparison.compare", cmpmod.compare, {"depth": 2, "n_grid": 64} if "n_grid" in
             inspect.signature(cmpmod.compare).parameters else {"depth": 2},
             {"depth": "int1", "activation": "activation", "q0": "pos1", "sigma": "pos1"}))
    add(Spec("plotting.plot_compare", importlib.import_module("rmt_idinit.plotting").plot_compare,
             {"result": None}, {"result": "law"}))
    add(Spec("comparison.Comparison", lambda **kw: cmpmod.Comparison(**kw), {}, {}))
    # --- data ---
    x8 = np.arange(8.0).reshape(2, 4)
    add(Spec("data.normalize", ridata.normalize, {"x": x8, "q0": 0.5},
             {"x": "array1", "q0": "pos1", "reference": "array1"}, allow={"reference": [None]}))
    add(Spec("data.Normalizer.fit", ridata.Normalizer.fit, {"x": x8, "q0": 0.5}, {"x": "array1", "q0": "pos1"}))
    add(Spec("data.Normalizer", lambda **kw: ridata.Normalizer(**kw)(x8), {"mean": 1.0, "std": 2.0, "q0": 0.5},
             {"mean": "finite1", "std": "pos1", "q0": "pos1"}))
    add(Spec("data.load_fashion_mnist", ridata.load_fashion_mnist, {"split": "test", "limit": 5},
             {"path": "path", "split": "choice", "limit": "int1"}, allow={"path": [None], "limit": [None]}))
    add(Spec("data.read_idx", ridata.read_idx, {"path": "/nonexistent"}, {"path": "path"}))
    add(Spec("data.load_cifar10", ridata.load_cifar10, {"path": "/nonexistent"}, {"path": "path", "split": "choice"}))
    add(Spec("data.load_cifar_batch", ridata.load_cifar_batch, {"path": "/nonexistent"}, {"path": "path"}))
    add(Spec("data.RestrictedUnpickler", lambda **kw: ridata.RestrictedUnpickler(**kw), {}, {}))
    # --- nn ---
    m = _model()
    im = _imodel()
    add(Spec("nn.IdentityMLP", rinn.IdentityMLP, {"width": 4, "depth": 2},
             {"width": "int1", "depth": "int1", "activation": "activation", "sigma": "pos1", "n_classes": "int1",
              "init": "choice", "sigma_w": "pos1", "sigma_b": "nonneg1"}))
    add(Spec("nn.identity_", rinn.identity_, {"weight": torch.zeros(3, 3)},
             {"weight": "tensor", "sigma": "pos1"}))
    add(Spec("nn.make_activation", rinn.make_activation, {"activation": "tanh"}, {"activation": "activation"}))
    add(Spec("nn.hidden_jacobian", rinn.hidden_jacobian, {"model": m, "x": X4},
             {"model": "model", "x": "tensor", "chunk_size": "int1"}, allow={"chunk_size": [None]}))
    add(Spec("nn.jacobian_spectra", rinn.jacobian_spectra, {"model": m, "x": X4},
             {"model": "model", "x": "tensor", "chunk_size": "int1", "method": "choice"},
             allow={"chunk_size": [None]}))
    add(Spec("nn.weight_drift", rinn.weight_drift, {"model": m}, {"model": "model", "sigma": "pos1"},
             allow={"sigma": [None]}))
    add(Spec("nn.linearize", rinn.linearize, {"model": m, "x": X4, "output": "hidden"},
             {"model": "model", "x": "tensor", "layer": "int1", "output": "choice", "chunk_size": "int1",
              "mode": "choice"}, allow={"layer": [None], "chunk_size": [None]}))
    add(Spec("nn.attribution_maps", rinn.attribution_maps, {"model": im, "x": X4},
             {"model": "model", "x": "tensor", "layer": "int1", "chunk_size": "int1"},
             allow={"layer": [None], "chunk_size": [None]}))
    add(Spec("nn.InterpretableMLP", rinn.InterpretableMLP, {"n_inputs": 4, "n_classes": 3, "depth": 2},
             {"n_inputs": "int1", "n_classes": "int1", "depth": "int1", "activation": "activation",
              "sigma": "pos1", "readout": "choice", "logit_scale": "pos1"}))
    cnn_kinds = {"in_channels": "int1", "depth": "int1", "kernel_size": "int1", "activation": "activation",
                 "sigma": "pos1", "padding_mode": "choice", "readout": "choice"}
    add(Spec("nn.IdentityCNN", rinn.IdentityCNN, {"in_channels": 1, "channels": 2, "depth": 2, "image_shape": (4, 4)},
             {**cnn_kinds, "channels": "int1", "n_classes": "int1"}))
    add(Spec("nn.InterpretableCNN", rinn.InterpretableCNN,
             {"in_channels": 1, "n_classes": 3, "depth": 2, "image_shape": (4, 4)},
             {**cnn_kinds, "n_classes": "int1", "logit_scale": "pos1"}))
    cm = rinn.IdentityCNN(1, 2, 2, (4, 4), n_classes=3)
    X_img = torch.zeros(2, 1, 4, 4)
    add(Spec("nn.conv_features", rinn.conv_features, {"model": cm, "x": X_img},
             {"model": "model", "batch_size": "int1"}))
    # any traceable piecewise-linear module is a valid model here (a bare Linear too), so the "model"
    # kind has no bad value; what it cannot linearize is refused in tests/nn/test_graph_linearize.py
    add(Spec("nn.linearize_operator", rinn.linearize_operator, {"model": cm, "x": X_img[:1]}, {}))
    add(Spec("nn.LinearizedOperator", lambda **kw: rinn.LinearizedOperator(**kw), {"model": cm, "x": X_img[:1]}, {}))
    add(Spec("nn.class_likelihoods", rinn.class_likelihoods, {"model": im, "x": X4}, {"model": "model", "x": "tensor"}))
    add(Spec("nn.layer_scores", rinn.layer_scores, {"model": im, "x": X4}, {"model": "model", "x": "tensor"}))
    add(Spec("nn.contribution_maps", rinn.contribution_maps, {"model": im, "x": X4, "image_shape": False},
             {"model": "model", "x": "tensor", "kind": "choice"}))
    add(Spec("nn.interpretable_loss", rinn.interpretable_loss,
             {"model": im, "x": X4, "y": torch.tensor([0, 1, 2])},
             {"model": "model", "x": "tensor", "supervision": "choice"}))
    add(Spec("nn.layer_accuracy", rinn.layer_accuracy, {"model": im, "data": (X4, torch.tensor([0, 1, 2]))},
             {"model": "model", "batch_size": "int1"}))
    add(Spec("nn.layer_features", rinn.layer_features, {"model": im, "x": X4},
             {"model": "model", "x": "tensor", "batch_size": "int1"},
             allow={"x": [BAD["tensor"][2], BAD["tensor"][4]]}))  # arrays and integer images are converted
    feats = np.abs(np.random.default_rng(0).normal(size=(6, 4)))
    wt, bs, lab = np.ones((3, 4)), np.zeros(3), np.array([0, 1, 2, 0, 1, 2])
    add(Spec("nn.class_feature_subsets", rinn.class_feature_subsets,
             {"features": feats, "weight": wt, "bias": bs, "labels": lab, "correct_only": False},
             {"features": "array1", "weight": "array1", "labels": "array1", "fraction": "prob1", "mode": "choice"},
             allow={"fraction": [1.0]}))  # the whole class score is a valid target
    subsets = rinn.class_feature_subsets(feats, wt, bs, lab, correct_only=False)
    add(Spec("nn.dropped_feature_accuracy", rinn.dropped_feature_accuracy,
             {"features": feats, "weight": wt, "bias": bs, "labels": lab, "subsets": subsets, "n_points": 3,
              "n_random": 1},
             {"features": "array1", "labels": "array1", "n_points": "int1", "n_random": "int1"}))
    add(Spec("nn.subspace_decomposition", rinn.subspace_decomposition,
             {"weight": wt, "bias": bs, "subsets": subsets}, {"weight": "array1", "subsets": "law"}))
    return s


SPECS = _specs()
BY_NAME = {sp.name: sp for sp in SPECS}
# Breaches left to other branches, marked so that the integrator can flip them (strict=False:
# they pass once the fix is merged).
# Names that take no parameter worth sweeping (constants, dataclass records, classes whose
# constructor is swept through their factory).
NOT_CALLED = {"FeasibleRegion", "SettingSummary", "FitResult", "DepthScales", "CriticalPoint", "RandomInit", "RandomInitLaw", "Comparison",
              "RestrictedUnpickler", "ContinuousPart", "ClassFeatureSubsets", "SubspaceDecomposition",
              "LinearizedModel", "RmtIdinitWarning", "AccuracyWarning"}

SUBMODULES = ("identity", "laws", "select", "selection", "grid", "finite", "precise", "symbolic", "meanfield", "freeprob",
              "data", "nn", "activations", "comparison")


def public_callables() -> dict[str, Any]:
    """Every public callable: ``rmt_idinit.__all__`` and each swept submodule's ``__all__``."""
    out = {}
    for name in ri.__all__:
        obj = getattr(ri, name)
        if callable(obj) and not isinstance(obj, type(ri)):
            out[f"top.{name}"] = obj
    for mod_name in SUBMODULES:
        mod = importlib.import_module(f"rmt_idinit.{mod_name}")
        for name in mod.__all__:
            obj = getattr(mod, name)
            if callable(obj) and not isinstance(obj, type(ri)) and not (
                    isinstance(obj, type) and issubclass(obj, BaseException)):
                out[f"{mod_name}.{name}"] = obj
    return out


def _swept_objects() -> set[int]:
    ids = set()
    for sp in SPECS:
        fn = sp.fn
        ids.add(id(fn))
        owner = getattr(fn, "__self__", None)
        if owner is not None:
            ids.add(id(type(owner)))
    return ids


# --- the checks ------------------------------------------------------------------------------

OK_TYPES = (ValueError, TypeError)
# A bad value must be refused up front; one that is accepted and starts a long computation
# is cut off here (and counts as a breach) so that the suite cannot hang.
CALL_LIMIT_S = 5.0


class _Overtime(BaseException):
    pass


@contextlib.contextmanager
def _time_limit(seconds: float):
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise _Overtime()

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _call_bad(spec: Spec, param: str, bad: Any) -> str | None:
    """None if the contract holds for this call, else a one-line description of the breach."""
    if bad is None and spec.args.get(param, 0) is None:
        return None
    if any(bad is a or (isinstance(a, str) and isinstance(bad, str) and a == bad)
           or (isinstance(a, (int, float)) and not isinstance(a, bool) and isinstance(bad, (int, float))
               and not isinstance(bad, bool) and a == bad)
           for a in spec.allow.get(param, [])):
        return None
    try:
        with warnings.catch_warnings(), _time_limit(CALL_LIMIT_S):
            warnings.simplefilter("ignore")
            spec.call(**{param: bad})
    except _Overtime:
        return f"{spec.name}({param}={_show(bad)}): still running after {CALL_LIMIT_S} s (accepted)"
    except OSError as exc:
        if spec.kinds.get(param) == "path" and str(bad) in str(exc):
            return None
        return f"{spec.name}({param}={_show(bad)}): raw {type(exc).__name__}: {str(exc)[:120]}"
    except OK_TYPES as exc:
        msg = str(exc)
        if param not in msg:
            return f"{spec.name}({param}={_show(bad)}): {type(exc).__name__} does not name {param!r}: {msg[:120]}"
        return None
    except BaseException as exc:  # noqa: BLE001 - the point is to catch every other type
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return f"{spec.name}({param}={_show(bad)}): raw {type(exc).__module__}.{type(exc).__name__}: {str(exc)[:120]}"
    return f"{spec.name}({param}={_show(bad)}): accepted"


def _show(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"ndarray{v.shape}/{v.dtype}"
    if isinstance(v, torch.Tensor):
        return f"tensor{tuple(v.shape)}/{v.dtype}"
    r = repr(v)
    return r if len(r) < 40 else r[:37] + "..."


def sweep(spec: Spec) -> tuple[int, list[str]]:
    calls, fails = 0, []
    for param, kind in spec.kinds.items():
        for bad in BAD[kind]:
            calls += 1
            f = _call_bad(spec, param, bad)
            if f:
                fails.append(f)
    return calls, fails


def _mark(spec: Spec):
    marks = [pytest.mark.xfail(strict=False, reason=spec.xfail)] if spec.xfail else []
    return pytest.param(spec.name, id=spec.name, marks=marks)


def test_every_public_function_is_swept():
    swept = _swept_objects()
    # classes are swept through a wrapper named after them
    named = {sp.name.split("(")[0].split(".")[-1] for sp in SPECS}
    missing = sorted(k for k, v in public_callables().items()
                     if id(v) not in swept and k.split(".")[-1] not in NOT_CALLED | named)
    assert not missing, f"public callables without a bad-input spec: {missing}"


def test_valid_calls_succeed():
    """Each spec's baseline call is valid, so a refusal in the sweep is due to the bad value."""
    broken = []
    for sp in SPECS:
        if not sp.kinds or any(v is None for v in sp.args.values()) or sp.name.startswith("data.") and "path" in sp.args:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sp.call()
        except Exception as exc:  # noqa: BLE001
            broken.append(f"{sp.name}: {type(exc).__name__}: {exc}")
    assert not broken, broken


@pytest.mark.parametrize("name", [_mark(sp) for sp in SPECS if sp.kinds])
def test_bad_input_contract(name):
    calls, fails = sweep(BY_NAME[name])
    assert not fails, "\n".join(fails)


def test_sweep_size(capsys):
    """Report the size of the sweep (printed with ``pytest -s``) and keep it from shrinking."""
    funcs = [sp for sp in SPECS if sp.kinds]
    calls = sum(len(BAD[k]) for sp in funcs for k in sp.kinds.values())
    with capsys.disabled():
        print(f"\nbad-input sweep: {len(public_callables())} public callables, {len(funcs)} specs with parameters, "
              f"{calls} bad calls")
    assert len(funcs) >= 120 and calls >= 3000


# --- hypothesis: bad values drawn from strategies --------------------------------------------

def _strategy(kind: str):
    neg = st.floats(max_value=0.0, allow_nan=False, allow_infinity=True)
    nonfinite = st.sampled_from([math.nan, math.inf, -math.inf])
    huge = st.integers(min_value=2 ** 63, max_value=2 ** 200)
    frac = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6).filter(
        lambda v: v != round(v))
    text = st.text(max_size=5)
    if kind.startswith("pos") or kind == "sympos":
        return st.one_of(neg, nonfinite, text)
    if kind.startswith("nonneg"):
        return st.one_of(st.floats(max_value=-1e-300, allow_nan=False), nonfinite, text)
    if kind.startswith("finite"):
        return st.one_of(nonfinite, text.filter(lambda t: t.strip() == "" or not t.isdigit()))
    if kind.startswith("prob") or kind == "symprob":
        return st.one_of(neg, st.floats(min_value=1.0, allow_nan=False), nonfinite)
    if kind.startswith("int") or kind == "symint":
        low = st.integers(max_value=-1 if kind.startswith("int0") else 0)
        return st.one_of(low, huge, frac, nonfinite)
    return None


HYPO_CASES = [(sp.name, p, k) for sp in SPECS if not sp.xfail for p, k in sp.kinds.items() if _strategy(k) is not None]


@settings(max_examples=300, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(case=st.sampled_from(HYPO_CASES), data=st.data())
def test_bad_input_hypothesis(case, data):
    name, param, kind = case
    spec = BY_NAME[name]
    bad = data.draw(_strategy(kind), label=f"{name}:{param}")
    if kind.startswith("sym") and isinstance(bad, str):
        return  # strings are sympy expressions in symbolic (a string may name a symbol)
    failure = _call_bad(spec, param, bad)
    assert failure is None, failure


if __name__ == "__main__":  # a report of the whole sweep: python tests/test_bad_input.py
    import time

    total, bad_total = 0, []
    t0 = time.perf_counter()
    for sp in SPECS:
        c, f = sweep(sp)
        total += c
        bad_total += f
    for line in bad_total:
        print(line)
    print(f"{len(public_callables())} public callables, {len(SPECS)} specs, {total} calls, "
          f"{len(bad_total)} breaches, {time.perf_counter() - t0:.1f} s")
