r"""Choosing ``(sigma, q0, depth)`` for an identity-initialized network (docs/theory/selection.md).

* :mod:`~rmt_idinit.select.criteria`: per-setting numbers and rules: :func:`dead_fraction`,
  :func:`gradient_scale`, :func:`isometry_loss`, the isometry rule :func:`is_feasible` and the
  trainability rule :func:`is_trainable` calibrated on real training (:func:`log_signal_scale`);
* :mod:`~rmt_idinit.select.region`: where the isometry rule holds: :func:`sigma_window`,
  :func:`feasible_sigma_interval`, :func:`max_q0`, :func:`max_depth`, :func:`best_sigma`,
  :func:`feasible_region`;
* :mod:`~rmt_idinit.select.summary`: one summary of a setting (:func:`summarize`) and the
  recommendation (:func:`recommend`) that both ``rmt-idinit select`` and the report print;
* :mod:`~rmt_idinit.select.sweeps`: :func:`sweep`, any vectorized function over a large grid.

Conventions: parameters come in the order ``(sigma, q0, depth, activation)`` (each function takes
those it needs), every tolerance and option is keyword-only (``eps``, ``kappa``, ...), and progress
bars are off by default (``progress=False``; the command line turns them on). The old
``rmt_idinit.selection`` module keeps the previous positional orders for one release.

Examples
--------
>>> from rmt_idinit import select
>>> q = select.max_q0(1.001, 100, eps=0.05)
>>> round(float(q), 6)
0.213151
>>> import rmt_idinit as ri
>>> round(float(ri.alpha_complement(1.001, q, 100)), 12)  # the boundary sits exactly at eps
0.05
"""
from __future__ import annotations

from .criteria import (
    DEFAULT_EPS,
    DEFAULT_KAPPA,
    MIN_LOG_SIGNAL,
    TRAINABILITY_CRITERIA,
    dead_fraction,
    gradient_scale,
    is_feasible,
    is_trainable,
    isometry_loss,
    log_gradient_scale,
    log_signal_scale,
)
from .region import (
    FeasibleRegion,
    best_sigma,
    feasible_region,
    feasible_sigma_interval,
    max_depth,
    max_q0,
    max_q0_derivation,
    sigma_window,
)
from .summary import SettingSummary, recommend, round_in_interval, summarize, what_would_be_feasible, why_infeasible
from .sweeps import sweep

__all__ = [
    "DEFAULT_EPS",
    "DEFAULT_KAPPA",
    "MIN_LOG_SIGNAL",
    "TRAINABILITY_CRITERIA",
    "dead_fraction",
    "log_gradient_scale",
    "gradient_scale",
    "isometry_loss",
    "is_feasible",
    "log_signal_scale",
    "is_trainable",
    "sigma_window",
    "feasible_sigma_interval",
    "max_q0",
    "max_q0_derivation",
    "max_depth",
    "best_sigma",
    "FeasibleRegion",
    "feasible_region",
    "SettingSummary",
    "summarize",
    "recommend",
    "why_infeasible",
    "what_would_be_feasible",
    "round_in_interval",
    "sweep",
]
