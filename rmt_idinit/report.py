"""The main report: parameter selection for an identity-initialized deep net (the paper setting).

Default setting (Kubota et al., ICASSP 2021): hard-tanh, depth 100, Fashion-MNIST inputs.

Input scale: ``q0`` is the per-coordinate second moment of the inputs as the network sees them,
``q0 = mean over images and pixels of (pixel / 255)^2`` (pixels scaled to [0, 1], *not*
mean-centred, pooled over the 60000 training images). When the IDX files are not in
``/usr/share/datasets/fashion-mnist/`` the embedded value :data:`FASHION_MNIST_Q0` (computed the
same way from the training set) is used and the summary says so.

The report writes, atomically (temporary file then ``os.replace``):

* ``summary.md`` and ``summary.html``: the chosen sigma and every key number, in words;
* ``results.json``: every number;
* ``phase_diagram.png``, ``layer_alphas.png``, ``law.png``.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_save_png, atomic_write_text

__all__ = ["FASHION_MNIST_Q0", "fashion_mnist_q0", "make_report", "recommend", "report_figures",
           "round_in_interval", "what_would_be_feasible", "why_infeasible"]

#: mean((pixel/255)^2) over the 60000 Fashion-MNIST training images (47,040,000 coordinates).
FASHION_MNIST_Q0 = 0.20644534034103837


def fashion_mnist_q0(data_dir: str | os.PathLike | None = None) -> tuple[float, str, Any]:
    """``(q0, source, pixels)``: q0 from the real training images when present, else the embedded value.

    ``pixels`` is a (2000, 784) float array of test images scaled to [0, 1] (or None) for the
    empirical-input check.
    """
    from .data import load_fashion_mnist

    if data_dir is not None:
        # a folder the user names must be used or refused, never silently replaced by the default
        if not Path(data_dir).is_dir():
            raise ValueError(f"data_dir does not exist or is not a folder: {str(data_dir)!r}")
        return _load_q0(load_fashion_mnist, data_dir, str(data_dir))
    try:
        return _load_q0(load_fashion_mnist, None, "/usr/share/datasets/fashion-mnist")
    except (OSError, ValueError):
        return FASHION_MNIST_Q0, ("embedded default (Fashion-MNIST files not found; value computed "
                                  "earlier from the 60000 training images)"), None


def _load_q0(load, data_dir, where: str):
    x, _ = load(data_dir, split="train")
    q0 = float(np.mean(np.square(x.astype(np.float64) / 255.0)))
    xt, _ = load(data_dir, split="test", limit=2000)
    return q0, f"computed from the 60000 Fashion-MNIST training images in {where}", \
        xt.reshape(len(xt), -1).astype(np.float64) / 255.0


def make_report(outdir: str | os.PathLike = "reports/paper", *, depth: int = 100, activation: str = "hardtanh",
                eps: float = 0.05, kappa: float = 10.0, q0: float | None = None,
                data_dir: str | os.PathLike | None = None, progress: bool = False) -> dict:
    """Run the parameter selection for one setting and write the report folder.

    The summary leads with :func:`recommend` (a rounded sigma and its margins, or "nothing is
    feasible", why, and what would be). ``results.json`` is strict JSON (:mod:`rmt_idinit.jsonio`).

    Returns
    -------
    dict
        What ``results.json`` holds (before non-finite values are replaced by null).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import rmt_idinit as ri
    from . import select as sel
    from ._core import checks as _checks
    from .jsonio import dumps
    from .select._args import check_kappa, is_hardtanh

    depth = int(_checks.check_depth(depth))
    eps = float(_checks.check_probability("eps", eps))
    kappa = float(check_kappa(kappa))
    act = ri.get_activation(activation)
    ht = is_hardtanh(act)
    t0 = time.perf_counter()
    out = Path(outdir)
    if q0 is None:
        q0_val, q0_source, pixels = fashion_mnist_q0(data_dir)
    else:
        q0_val = float(_checks.check_positive("q0", q0))
        q0_source, pixels = "given on the command line", None
    out.mkdir(parents=True, exist_ok=True)

    rec = sel.recommend(q0_val, depth, act, eps=eps, kappa=kappa)
    s_free = float(sel.best_sigma(q0_val, depth, act))
    win = [float(v) for v in sel.sigma_window(depth, kappa=kappa)]
    if rec["feasible"]:
        settings = {"recommended": rec["sigma"], "best": rec["best_sigma"]}
    else:
        settings = {"unconstrained_optimum": s_free}
    if all(v != 1.0 for v in settings.values()):
        settings["sigma_1"] = 1.0
    numbers = {k: sel.summarize(v, q0_val, depth, act, eps=eps, kappa=kappa, inputs=pixels if ht else None).as_dict()
               for k, v in settings.items()}
    titles = {"recommended": "recommended", "best": "loss optimum", "sigma_1": "sigma = 1",
              "unconstrained_optimum": "unconstrained loss optimum (infeasible)"}

    # --- plots
    region = sel.feasible_region(depth, act, eps=eps, kappa=kappa, sigma=np.exp(np.linspace(-4, 4, 401) / depth),
                                 q0=np.logspace(-4, 1, 401), progress=progress)
    files = {}
    for name, fig in report_figures(depth, q0_val, act, region, settings, titles, eps=eps, kappa=kappa).items():
        atomic_save_png(fig, out / name)
        plt.close(fig)
        files[name.removesuffix(".png")] = name

    results = {
        "setting": {"activation": act.name, "depth": depth, "eps": eps, "kappa": kappa,
                    "q0": q0_val, "q0_source": q0_source},
        "recommendation": {k: v for k, v in rec.items() if k != "lines"},
        "recommendation_text": rec["lines"],
        "definitions": {
            "dead_fraction": "P(lambda = 0) (piecewise linear) or P(lambda < 1/kappa) (smooth)",
            "gradient_scale": "sigma^(2L) (hard-tanh) or the median of the law",
            "feasible": "dead_fraction <= eps and 1/kappa <= gradient_scale <= kappa",
            "trainable": "log(q^L / q0) >= -5.5 (rmt_idinit.select.is_trainable, calibrated on the trainability atlas)",
            "best_sigma": "argmin over the feasible sigma interval of E[(lambda - 1)^2]",
            "recommended_sigma": "best_sigma rounded to the decimals the feasible interval justifies",
            "q0": "mean of (pixel/255)^2 over Fashion-MNIST training images and pixels",
            "non_finite": "values that are +inf/-inf/nan are null here; their paths are listed under non_finite",
        },
        "sigma_window_kappa": win,
        "feasible_sigma_interval": rec["feasible_sigma_interval"],
        "best_sigma_constrained": rec["best_sigma"],
        "best_sigma_unconstrained": s_free,
        "max_q0_at_sigma_1": float(sel.max_q0(1.0, depth, act, eps=eps, kappa=kappa)),
        "settings": numbers,
        "setting_titles": {k: titles[k] for k in settings},
        "region_fraction_feasible": region.fraction,
        "files": files,
        "seconds": None,
    }
    results["seconds"] = time.perf_counter() - t0
    atomic_write_text(out / "results.json", dumps(results) + "\n")
    md = _summary_md(results)
    atomic_write_text(out / "summary.md", md)
    atomic_write_text(out / "summary.html", _md_to_html(md))
    return results


def report_figures(depth: int, q0: float, act, region, settings: dict, titles: dict, *, eps: float,
                   kappa: float) -> dict:
    """The report's figures by file name: phase diagram, alive fraction per layer, the law.

    ``settings`` maps a key to a sigma, ``titles`` the key to its name in legends; ``region`` is
    a :class:`rmt_idinit.select.FeasibleRegion`. Returns open matplotlib Figures.
    """
    import matplotlib.pyplot as plt

    import rmt_idinit as ri
    from .plotting import phase_diagram, plot_law, plot_layer_alphas

    act = ri.get_activation(act) if isinstance(act, str) else act
    figs = {}
    fig, ax = plt.subplots(figsize=(7.5, 6.2))
    marks = [(v, q0, titles[k] if k == "sigma_1" else f"{titles[k]}: sigma = {v:.6g}") for k, v in settings.items()]
    phase_diagram(depth, eps, kappa, act.name, region=region, ax=ax, marks=marks,
                  hlines=[(q0, f"q0 of the data = {q0:.4g}")])
    figs["phase_diagram.png"] = fig

    fig, ax = plt.subplots(figsize=(7, 4.5))
    extra = [(1.0 + 2.0 / depth, q0), (1.0 + 5.0 / depth, q0)]
    plot_layer_alphas([(v, q0) for v in dict.fromkeys(settings.values())] + extra, depth, act,
                      kappa=kappa, ax=ax)
    ax.axhline(1.0 - eps, color="black", ls="--", lw=0.8, label=f"1 - eps = {1 - eps:g}")
    ax.legend(fontsize=8)
    figs["layer_alphas.png"] = fig

    shown = list(dict.fromkeys(settings.values()))[:2]
    fig, axes = plt.subplots(2, len(shown), figsize=(5.6 * len(shown), 8.0), squeeze=False,
                             constrained_layout=True)
    rng = np.random.default_rng(0)
    for j, sig in enumerate(shown):
        law = ri.jjt_law(sig, q0, depth, act)
        # a finite-width check: one input vector of width 784 through the real scalar maps
        u = rng.standard_normal(784) * math.sqrt(q0)
        sample = ri.jjt_eigenvalues(u, sig, depth, act)
        title = f"{act.name}, L = {depth}, sigma = {sig:.6g}, q0 = {q0:.4g}"
        plot_law(law, ax=axes[0, j], sample=sample, label="law", title=title)
        plot_law(law, ax=axes[1, j], sample=sample, cdf=True, label="law", title=title + ": CDF")
    figs["law.png"] = fig
    return figs


def _fmt(x: float) -> str:
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float) and math.isinf(x):
        return "unbounded" if x > 0 else "-inf"
    if isinstance(x, (int,)) or (isinstance(x, float) and math.isfinite(x) and x == int(x) and abs(x) < 1e15):
        return str(int(x))
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def _summary_md(r: dict) -> str:
    s = r["setting"]
    rec = r["recommendation"]
    ht = s["activation"] == "hardtanh"
    keys = list(r["settings"])
    cols = [r["settings"][k] for k in keys]
    gname = "gradient scale sigma^(2L)" if ht else "gradient scale (median lambda)"
    dname = "dead fraction P(lambda = 0)" if ht or s["activation"] in ("relu", "leaky_relu", "linear") \
        else "dead fraction P(lambda < 1/kappa)"
    rows = [(dname, "dead_fraction"), (gname, "gradient_scale"), ("mean of lambda", "mean"),
            ("variance of lambda", "var"), ("isometry loss E[(lambda-1)^2]", "isometry_loss"),
            ("feasible", "feasible"), ("largest trainable depth", "max_depth"),
            ("largest q0 for eps", "max_q0")]
    if ht:
        rows.insert(0, ("alpha (nonzero weight)", "alpha"))
    if "empirical_alive_fraction" in cols[0]:
        rows.append((f"alive fraction on {cols[0]['empirical_images']} real test images", "empirical_alive_fraction"))
    lines = [f"# Identity-init parameter selection: {s['activation']}, depth {s['depth']}", ""]
    lines += ["## The answer", ""]
    text = r["recommendation_text"]
    lines += [f"**{text[0]}**", ""]
    lines += [ln if ln.startswith("  - ") else f"- {ln.strip()}" for ln in text[1:]]
    lines += ["",
              f"Input scale q0 = {s['q0']:.10g} ({s['q0_source']}).",
              f"Tolerances: dead fraction <= eps = {s['eps']:g}; gradient scale in [1/kappa, kappa], "
              f"kappa = {s['kappa']:g}.", "",
              "## Numbers", "",
              f"- kappa window for sigma: [{r['sigma_window_kappa'][0]:.8f}, {r['sigma_window_kappa'][1]:.8f}]"]
    if rec["feasible"]:
        lo, hi = r["feasible_sigma_interval"]
        lines += [f"- feasible sigma interval at this q0: [{lo:.8f}, {hi:.8f}]",
                  f"- isometry-loss optimum in that interval: {r['best_sigma_constrained']:.8f} "
                  f"(unconstrained: {r['best_sigma_unconstrained']:.8f})"]
    else:
        lines += ["- feasible sigma interval at this q0: empty",
                  f"- unconstrained isometry-loss optimum: {r['best_sigma_unconstrained']:.8f} (infeasible)"]
    lines += [f"- largest q0 with dead fraction <= eps at sigma = 1: {r['max_q0_at_sigma_1']:.6g}",
              f"- fraction of the plotted (sigma, q0) grid that is feasible: {r['region_fraction_feasible']:.4f}",
              "",
              "| quantity | " + " | ".join(f"{r['setting_titles'][k]}: sigma = {c['sigma']:.8g}"
                                         for k, c in zip(keys, cols)) + " |",
              "|---" * (len(cols) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(_fmt(c[key]) for c in cols) + " |" for label, key in rows]
    lines += ["", "The model assumes i.i.d. N(0, q0) input coordinates. Real pixels lie in [0, 1] and are "
              "not Gaussian."]
    if "empirical_alive_fraction" in cols[0]:
        at1 = cols[0]["empirical_fraction_pixels_at_1"]
        lines += ["The row on real test images is the exact alive fraction of the per-pixel scalar maps "
                  "(a hard-tanh unit dies once |h^l| >= 1 at some layer). "
                  f"{100 * at1:.2f}% of those pixels equal 1 (value 255): at sigma = 1 exactly they give "
                  "h^l = 1 at every layer, which is the hard-tanh kink, where phi'(1) = 0 (the strict "
                  "convention, as in PyTorch's hardtanh backward), so they are dead. Any sigma slightly "
                  "below 1 keeps them at |h^l| < 1 and alive. That is why this row jumps between "
                  "sigma = 1 and a sigma just below 1, while the Gaussian model (no mass at a single "
                  "point) changes smoothly. With such inputs prefer a sigma a little below 1, or "
                  "rescale the pixels."]
    lines += ["", "## Plots", "",
              "![phase diagram](phase_diagram.png)", "",
              "![alive fraction per layer](layer_alphas.png)", "",
              "![law](law.png)", "",
              f"Computed in {r['seconds']:.1f} s. Every number is in results.json (strict JSON: "
              "non-finite values are null, listed under non_finite).", ""]
    return "\n".join(lines)


def _md_to_html(md: str) -> str:
    """The summary as a standalone HTML page, rendered by markdown-it-py (CommonMark + tables)."""
    try:
        from markdown_it import MarkdownIt
    except ImportError as exc:  # pragma: no cover - the plot extra installs it
        raise ImportError("the report's HTML needs markdown-it-py: pip install 'rmt_idinit[plot]'") from exc
    body = MarkdownIt("commonmark").enable("table").render(md)
    head = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>rmt_idinit report</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{border:1px solid #ccc;"
            "padding:2px 8px}table{border-collapse:collapse}img{max-width:100%}</style></head><body>\n")
    return head + body + "</body></html>\n"


# --- old homes of the recommendation (moved to rmt_idinit.select.summary, new argument order) ---

def _moved(name: str, new_call: str):
    import warnings

    warnings.warn(f"rmt_idinit.report.{name} is deprecated (removed in 0.3): call rmt_idinit.select.{new_call}",
                  DeprecationWarning, stacklevel=3)


def round_in_interval(value: float, lo: float, hi: float) -> tuple[float, int]:
    """Deprecated alias of :func:`rmt_idinit.select.round_in_interval` (same arguments)."""
    from .select import summary

    _moved("round_in_interval", "round_in_interval(value, lo, hi)")
    return summary.round_in_interval(value, lo, hi)


def what_would_be_feasible(depth: int, q0: float, eps: float, kappa: float, activation="hardtanh", *,
                           generic: bool = False) -> dict:
    """Deprecated: :func:`rmt_idinit.select.what_would_be_feasible` ``(q0, depth, activation, *, eps, kappa)``."""
    from .select import summary

    _moved("what_would_be_feasible", "what_would_be_feasible(q0, depth, activation, *, eps, kappa, generic)")
    return summary.what_would_be_feasible(q0, depth, activation, eps=eps, kappa=kappa, generic=generic)


def why_infeasible(depth: int, q0: float, eps: float, kappa: float, activation="hardtanh") -> dict:
    """Deprecated: :func:`rmt_idinit.select.why_infeasible` ``(q0, depth, activation, *, eps, kappa)``."""
    from .select import summary

    _moved("why_infeasible", "why_infeasible(q0, depth, activation, *, eps, kappa)")
    return summary.why_infeasible(q0, depth, activation, eps=eps, kappa=kappa)


def recommend(depth: int, q0: float, eps: float = 0.05, kappa: float = 10.0, activation="hardtanh") -> dict:
    """Deprecated: :func:`rmt_idinit.select.recommend` ``(q0, depth, activation, *, eps, kappa)``."""
    from .select import summary

    _moved("recommend", "recommend(q0, depth, activation, *, eps, kappa)")
    return summary.recommend(q0, depth, activation, eps=eps, kappa=kappa)
