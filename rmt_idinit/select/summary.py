r"""One summary of a setting, shared by ``rmt-idinit select`` and the report.

* :func:`summarize` / :class:`SettingSummary`: every number the package has for one
  ``(sigma, q0, depth, activation)`` (alpha, dead fraction, gradient scale, law mean and variance,
  isometry loss, feasibility, trainability, max q0, max depth; the empirical alive fraction on
  real inputs when given);
* :func:`recommend`: the answer to "which sigma?" at ``(q0, depth)``, in numbers and in words (a
  rounded sigma and its margins, or "nothing is feasible", why, and what would be);
* :func:`why_infeasible`, :func:`what_would_be_feasible`, :func:`round_in_interval`: its parts.

Every function takes ``(sigma, q0, depth, activation)`` in that order (those it needs), then
keyword-only options.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from . import levelsets as _ls
from ..activations import Activation
from ._args import DEFAULT_EPS, DEFAULT_KAPPA, activation_of, check_eps, check_kappa, is_hardtanh
from .criteria import (
    dead_fraction,
    is_feasible,
    is_trainable,
    isometry_loss,
    log_gradient_scale,
    log_signal_scale,
)
from .region import best_sigma_in, feasible_sigma_interval, max_depth, max_q0, sigma_scan, sigma_window

__all__ = ["SettingSummary", "summarize", "recommend", "why_infeasible", "what_would_be_feasible",
           "round_in_interval"]


def _scalar_setting(q0: Any, depth: Any, eps: Any, kappa: Any) -> tuple[float, int, float, float]:
    """One setting's numbers, checked (these functions answer for one setting, not a grid)."""
    from .._core import checks as _checks

    return (float(_checks.check_scalar("q0", q0, _checks.check_positive)),
            _checks.check_scalar_int("depth", depth),
            float(_checks.check_scalar("eps", eps, lambda _, v: check_eps(v))),
            float(_checks.check_scalar("kappa", kappa, lambda _, v: check_kappa(v))))


@dataclasses.dataclass(frozen=True)
class SettingSummary:
    """Every number for one setting; :meth:`as_dict` is what the CLI's JSON and ``results.json`` hold.

    ``feasible`` is the isometry rule (:func:`rmt_idinit.select.is_feasible` at ``eps``, ``kappa``);
    ``trainable`` the calibrated trainability rule (:func:`rmt_idinit.select.is_trainable`). The
    ``empirical_*`` fields are None unless real inputs were given (hard-tanh only).
    """

    sigma: float
    q0: float
    depth: int
    activation: str
    eps: float
    kappa: float
    alpha: float
    dead_fraction: float
    log_gradient_scale: float
    gradient_scale: float
    mean: float
    var: float
    isometry_loss: float
    feasible: bool
    log_signal_scale: float
    trainable: bool
    max_depth: float
    max_q0: float
    empirical_alive_fraction: float | None = None
    empirical_images: int | None = None
    empirical_fraction_pixels_at_1: float | None = None

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["empirical_images"] is None:
            for k in ("empirical_alive_fraction", "empirical_images", "empirical_fraction_pixels_at_1"):
                d.pop(k)
        return d


def summarize(sigma: float, q0: float, depth: int, activation: str | Activation = "hardtanh", *,
              eps: float = DEFAULT_EPS, kappa: float = DEFAULT_KAPPA, inputs: Any = None) -> SettingSummary:
    """The :class:`SettingSummary` of one setting.

    Parameters
    ----------
    sigma, q0 : float
    depth : int
    activation : str or Activation
    eps, kappa : float
        Tolerances of the isometry rule (and of ``max_q0`` / ``max_depth``).
    inputs : array of shape (n_images, n_coordinates), optional
        Real inputs (e.g. pixels / 255): the exact per-image spectra at init give the empirical
        alive fraction ``mean(g_L(u_i) != 0)``.

    Examples
    --------
    >>> s = summarize(1.0, 0.2, 100)
    >>> round(s.dead_fraction, 6), s.feasible, s.trainable, s.max_depth
    (0.025347, True, True, inf)
    """
    import rmt_idinit as ri
    from .._core import checks as _checks

    sigma = float(_checks.check_scalar("sigma", sigma, _checks.check_positive))
    q0, depth, eps, kappa = _scalar_setting(q0, depth, eps, kappa)
    act = activation_of(activation, {})
    law = ri.jjt_law(sigma, q0, depth, act)
    ls = float(log_gradient_scale(sigma, q0, depth, act))
    with np.errstate(over="ignore"):
        gs = float(np.exp(ls))
    emp: dict[str, Any] = {}
    if inputs is not None:
        pixels = _checks.check_finite("inputs", inputs)
        if pixels.ndim != 2 or not pixels.size:
            raise ValueError(f"inputs must be a non-empty 2-D array (images x coordinates), got shape {pixels.shape}")
        lg = ri.jjt_eigenvalues(pixels, sigma, depth, act, log=True)
        emp = {"empirical_alive_fraction": float(np.mean(np.isfinite(lg))),
               "empirical_images": int(pixels.shape[0]),
               # pixels at exactly 255 give h = sigma^l at layer l: on the hard-tanh kink when sigma = 1
               "empirical_fraction_pixels_at_1": float(np.mean(pixels == 1.0))}
    return SettingSummary(
        sigma=sigma, q0=q0, depth=depth, activation=act.name, eps=eps, kappa=kappa,
        alpha=float(ri.alpha(sigma, q0, depth, act)),
        dead_fraction=float(dead_fraction(sigma, q0, depth, act, kappa=kappa)),
        log_gradient_scale=ls, gradient_scale=gs, mean=float(law.mean()), var=float(law.var()),
        isometry_loss=float(isometry_loss(sigma, q0, depth, act)),
        feasible=bool(is_feasible(sigma, q0, depth, act, eps=eps, kappa=kappa)),
        log_signal_scale=float(log_signal_scale(sigma, q0, depth, act)),
        trainable=bool(is_trainable(sigma, q0, depth, act)),
        max_depth=float(max_depth(sigma, q0, act, eps=eps, kappa=kappa)),
        max_q0=float(max_q0(sigma, depth, act, eps=eps, kappa=kappa)),
        **emp)


def round_in_interval(value: float, lo: float, hi: float) -> tuple[float, int]:
    """``value`` rounded to the fewest decimals the interval ``[lo, hi]`` justifies.

    The number of decimals is ``ceil(-log10(hi - lo)) + 1`` (one digit finer than the interval's
    width), increased until the rounded value still lies in ``[lo, hi]``. A point interval keeps
    12 significant digits.

    Returns
    -------
    (rounded, decimals)

    Examples
    --------
    >>> round_in_interval(0.9999979960154878, 0.98855, 1.00116)
    (1.0, 3)
    >>> round_in_interval(1.0123456, 1.0121, 1.0125)
    (1.01235, 5)
    """
    from .._core import checks as _checks

    value, lo, hi = (_checks.check_scalar(n, v) for n, v in (("value", value), ("lo", lo), ("hi", hi)))
    if not (lo <= value <= hi):
        raise ValueError(f"value must lie in [lo, hi] = [{lo!r}, {hi!r}], got {value!r}")
    width = hi - lo
    if width <= 0:
        d = max(0, 12 - int(math.floor(math.log10(abs(value)))) - 1) if value else 12
        return round(value, d), d
    d = max(0, int(math.ceil(-math.log10(width))) + 1)
    while d < 17 and not (lo <= round(value, d) <= hi):
        d += 1
    return round(value, d), d


def _scan_feasible(act, q0: float, depth: int, eps: float, kappa: float) -> bool:
    """Any sigma feasible on the selection module's sigma scan (the generic, activation-free test)."""
    return bool(np.any(is_feasible(sigma_scan(int(depth)), q0, int(depth), act, eps=eps, kappa=kappa)))


def what_would_be_feasible(q0: float, depth: int, activation: str | Activation = "hardtanh", *,
                           eps: float = DEFAULT_EPS, kappa: float = DEFAULT_KAPPA, generic: bool = False) -> dict:
    """For an infeasible ``(depth, q0, eps, kappa)``: the nearest settings that are feasible.

    Each entry changes one parameter and keeps the others:

    * ``max_q0``: the largest input variance with a feasible sigma at this depth;
    * ``max_depth``: the largest depth with a feasible sigma at this q0;
    * ``min_eps``: the smallest dead-fraction tolerance that admits the request;
    * ``min_kappa``: the smallest gradient-scale tolerance that admits it (as ``log10_min_kappa``
      too, since it can overflow).

    ``None`` where no value of that parameter helps (with the reason in ``notes``).

    Hard-tanh uses closed forms (``c = erfcinv(eps)``, ``x = c sqrt(2 q0)``, window
    ``[kappa^(-1/(2L)), kappa^(1/(2L))]``; the dead fraction grows with sigma, so the lower window
    edge ``s_lo = kappa^(-1/(2L))`` is the best sigma for the dead-fraction constraint):
    ``max_q0 = s_lo^(-2) / (2 c^2)``, ``max_depth = floor(log(kappa) / (2 log x))``,
    ``min_eps = erfc(1 / (s_lo sqrt(2 q0)))``, ``min_kappa = x^(2L)``. Other activations (or
    ``generic=True``): bisection on each parameter of "some sigma on the selection scan is feasible".

    Examples
    --------
    >>> w = what_would_be_feasible(50.0, 100, eps=0.05, kappa=10.0)
    >>> round(w["max_q0"], 6), w["max_depth"], round(w["min_eps"], 4)
    (0.266381, 0, 0.8862)
    """
    from scipy import special

    q0, depth, eps, kappa = _scalar_setting(q0, depth, eps, kappa)
    act = activation_of(activation, {})
    notes: dict[str, str] = {}
    out: dict[str, Any] = {"max_q0": None, "max_depth": None, "min_eps": None, "min_kappa": None,
                           "log10_min_kappa": None}
    if is_hardtanh(act) and not generic:
        c = float(special.erfcinv(eps))
        s_lo = kappa ** (-1.0 / (2 * depth))
        x = c * math.sqrt(2.0 * q0)
        out["max_q0"] = 1.0 / (2.0 * s_lo * s_lo * c * c)
        out["max_depth"] = int(math.floor(math.log(kappa) / (2.0 * math.log(x)) * (1 + 1e-13))) if x > 1 else None
        out["min_eps"] = float(special.erfc(1.0 / (s_lo * math.sqrt(2.0 * q0))))
        lk = 2.0 * depth * math.log(x) if x > 1 else None
        if lk is not None:
            out["log10_min_kappa"] = lk / math.log(10.0)
            out["min_kappa"] = math.exp(lk) if lk < 700 else None
            if lk >= 700:
                notes["min_kappa"] = "overflows float64; see log10_min_kappa"
        if out["min_eps"] >= 1.0:
            out["min_eps"] = None
            notes["min_eps"] = "no eps < 1 admits it"
        if out["max_depth"] is not None and out["max_depth"] < 1:
            notes["max_depth"] = "no depth: even one layer kills more than eps of the units at this q0"
        out["notes"] = notes
        return out

    def feas(d=depth, q=q0, e=eps, k=kappa):
        return _scan_feasible(act, q, d, e, k)

    if feas(q=1e-12):
        out["max_q0"] = _ls.bisect_log(lambda q: feas(q=q), 1e-12, q0)
    else:
        notes["max_q0"] = "no q0 >= 1e-12 admits it at this depth"
    if depth > 1 and feas(d=1):
        out["max_depth"] = _ls.bisect_int(lambda d: feas(d=d), 1, depth)
    else:
        out["max_depth"] = 0 if depth > 1 else None
        notes["max_depth"] = "no depth: even one layer fails at this q0"
    scan = sigma_scan(depth)
    dead = np.asarray(dead_fraction(scan, q0, depth, act, kappa=kappa))
    window = np.abs(np.asarray(log_gradient_scale(scan, q0, depth, act))) <= math.log(kappa)
    # smooth laws: the median lies in the window only if at most half the mass is below 1/kappa
    ok = window & (dead <= 0.5) if act.pieces is None else window
    if ok.any() and float(dead[ok].min()) < 1.0:
        # the scan's resolution: the smallest dead fraction seen among window-compatible sigmas
        out["min_eps"] = float(dead[ok].min())
    else:
        notes["min_eps"] = "no eps helps: the gradient-scale condition fails for every sigma"
    big = 1e300
    if feas(k=big):
        kk = _ls.bisect_log(lambda k: feas(k=k), big, kappa)
        out["min_kappa"] = kk
        out["log10_min_kappa"] = math.log10(kk)
    else:
        notes["min_kappa"] = "no kappa <= 1e300 admits it on the scanned sigmas exp(+-15/L)"
    out["notes"] = notes
    return out


def why_infeasible(q0: float, depth: int, activation: str | Activation = "hardtanh", *,
                   eps: float = DEFAULT_EPS, kappa: float = DEFAULT_KAPPA) -> dict:
    """Which constraint rules out every sigma: ``{"constraint": ..., "text": ..., ...}``.

    ``constraint`` is ``"dead_fraction"`` (the gradient window is reachable, but every sigma in it
    kills more than eps of the units) or ``"gradient_scale"`` (no sigma puts the gradient scale in
    ``[1/kappa, kappa]``).
    """
    q0, depth, eps, kappa = _scalar_setting(q0, depth, eps, kappa)
    act = activation_of(activation, {})
    if is_hardtanh(act):
        s_lo = float(sigma_window(depth, kappa=kappa)[0])
        d_lo = float(dead_fraction(s_lo, q0, depth))
        return {"constraint": "dead_fraction", "sigma": s_lo, "dead_fraction": d_lo,
                "text": (f"the dead fraction: every sigma with sigma^(2L) >= 1/kappa is >= {s_lo:.6g}, and "
                         f"there {100 * d_lo:.3g}% of the units are already dead (eps = {eps:g}); a smaller "
                         f"sigma revives units but shrinks sigma^(2L) below 1/kappa = {1 / kappa:.3g}")}
    scan = sigma_scan(depth)
    dead = np.asarray(dead_fraction(scan, q0, depth, act, kappa=kappa))
    ls = np.asarray(log_gradient_scale(scan, q0, depth, act))
    window = np.abs(ls) <= math.log(kappa)
    if act.pieces is None:
        window &= dead <= 0.5
    if not window.any():
        with np.errstate(over="ignore"):
            lo_m, hi_m = float(np.exp(np.nanmin(ls))), float(np.exp(np.nanmax(ls)))
        return {"constraint": "gradient_scale",
                "text": (f"the gradient scale: no sigma puts the median eigenvalue in [1/kappa, kappa] = "
                         f"[{1 / kappa:.3g}, {kappa:.3g}] with at most half the units dead (the median "
                         f"ranges over [{lo_m:.3g}, {hi_m:.3g}] across sigma)")}
    i = int(np.argmin(np.where(window, dead, np.inf)))
    return {"constraint": "dead_fraction", "sigma": float(scan[i]), "dead_fraction": float(dead[i]),
            "text": (f"the dead fraction P(lambda < 1/kappa): among the sigmas whose median eigenvalue is in "
                     f"[1/kappa, kappa], the fewest dead units is {100 * float(dead[i]):.3g}% (at sigma = "
                     f"{float(scan[i]):.6g}), above eps = {eps:g}")}


def recommend(q0: float, depth: int, activation: str | Activation = "hardtanh", *,
              eps: float = DEFAULT_EPS, kappa: float = DEFAULT_KAPPA) -> dict:
    """The answer to "which sigma?" for ``(depth, q0)``, in numbers and in words.

    Feasible: ``sigma`` is the isometry-loss optimum rounded by :func:`round_in_interval` to what
    the feasible interval justifies (``best_sigma`` keeps every digit), with the dead fraction and
    gradient scale at the rounded sigma and their margins (``eps - D``; ``kappa / max(S, 1/S)``,
    the factor the gradient scale may still move). Infeasible: ``sigma`` is ``None``, ``why`` from
    :func:`why_infeasible` and ``would_be_feasible`` from :func:`what_would_be_feasible`.
    ``lines`` is the text the CLI prints.

    Examples
    --------
    >>> r = recommend(0.2064, 100)
    >>> r["sigma"], r["lines"][0]
    (1.0, 'Recommendation: sigma = 1.000 (every sigma in [0.98855, 1.00116] is feasible).')
    """
    q0, depth, eps, kappa = _scalar_setting(q0, depth, eps, kappa)
    act = activation_of(activation, {})
    name = act.name
    gname = "sigma^(2L)" if is_hardtanh(act) else "median eigenvalue"
    # the interval once: the constrained optimum below searches inside it
    lo, hi = (float(v) for v in feasible_sigma_interval(q0, depth, act, eps=eps, kappa=kappa))
    setting = {"depth": int(depth), "q0": float(q0), "eps": float(eps), "kappa": float(kappa), "activation": name}
    if not (math.isfinite(lo) and math.isfinite(hi)):
        why = why_infeasible(q0, depth, act, eps=eps, kappa=kappa)
        alt = what_would_be_feasible(q0, depth, act, eps=eps, kappa=kappa)
        lines = [f"Nothing is feasible for {name}, depth {depth}, q0 = {q0:.6g}, eps = {eps:g}, kappa = {kappa:g}.",
                 f"  Why: {why['text']}.", "  Feasible instead (changing one thing):"]
        if alt["max_q0"] is not None:
            lines.append(f"  - q0 <= {alt['max_q0']:.4g} at depth {depth}")
        if alt["max_depth"]:
            lines.append(f"  - depth <= {alt['max_depth']} at q0 = {q0:.6g}")
        if alt["min_eps"] is not None:
            lines.append(f"  - eps >= {alt['min_eps']:.4g}")
        if alt["log10_min_kappa"] is not None:
            k = alt["min_kappa"]
            lines.append(f"  - kappa >= {k:.4g}" if k is not None and k < 1e6
                         else f"  - kappa >= 10^{alt['log10_min_kappa']:.4g}")
        for key, note in alt["notes"].items():
            lines.append(f"  - {key}: {note}")
        return {"feasible": False, "setting": setting, "sigma": None, "decimals": None,
                "best_sigma": None, "feasible_sigma_interval": None, "why": why,
                "would_be_feasible": alt, "lines": lines}
    best = float(best_sigma_in(act, q0, depth, lo, hi))
    sigma, dec = round_in_interval(best, lo, hi)
    dead = float(dead_fraction(sigma, q0, depth, act, kappa=kappa))
    ls = float(log_gradient_scale(sigma, q0, depth, act))
    spare = math.exp(math.log(kappa) - abs(ls))
    shown = f"{sigma:.{dec}f}"
    ends = f"[{lo:.{dec + 2}f}, {hi:.{dec + 2}f}]"
    dead_def = "dead fraction" if act.pieces is not None else "dead fraction P(lambda < 1/kappa)"
    lines = [f"Recommendation: sigma = {shown} (every sigma in {ends} is feasible).",
             f"  At sigma = {shown}: {dead_def} {dead:.3g} <= eps = {eps:g} (margin {eps - dead:.3g}); "
             f"gradient scale {gname} = {math.exp(ls):.4g} in [1/kappa, kappa] = [{1 / kappa:.3g}, {kappa:g}] "
             f"(it may still move by a factor {spare:.3g}).",
             f"  The isometry-loss optimum is sigma = {best:.{dec + 3}f}; digits beyond {shown} are not "
             "resolved by the feasible interval (the JSON output keeps every digit)."]
    return {"feasible": True, "setting": setting, "sigma": sigma, "decimals": dec, "best_sigma": best,
            "feasible_sigma_interval": [lo, hi], "dead_fraction": dead, "eps_margin": eps - dead,
            "log_gradient_scale": ls, "gradient_scale": math.exp(ls), "kappa_spare_factor": spare,
            "lines": lines}
