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

import html
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_save_png, atomic_write_text

__all__ = ["FASHION_MNIST_Q0", "fashion_mnist_q0", "make_report"]

#: mean((pixel/255)^2) over the 60000 Fashion-MNIST training images (47,040,000 coordinates).
FASHION_MNIST_Q0 = 0.20644534034103837


def fashion_mnist_q0(data_dir: str | os.PathLike | None = None) -> tuple[float, str, Any]:
    """``(q0, source, pixels)``: q0 from the real training images when present, else the embedded value.

    ``pixels`` is a (2000, 784) float array of test images scaled to [0, 1] (or None) for the
    empirical-input check.
    """
    try:
        from .data import load_fashion_mnist

        x, _ = load_fashion_mnist(data_dir, split="train")
        q0 = float(np.mean(np.square(x.astype(np.float64) / 255.0)))
        xt, _ = load_fashion_mnist(data_dir, split="test", limit=2000)
        where = data_dir or "/usr/share/datasets/fashion-mnist"
        return q0, f"computed from the 60000 Fashion-MNIST training images in {where}", \
            xt.reshape(len(xt), -1).astype(np.float64) / 255.0
    except (OSError, ValueError):
        return FASHION_MNIST_Q0, ("embedded default (Fashion-MNIST files not found; value computed "
                                  "earlier from the 60000 training images)"), None


def _setting_numbers(sigma: float, q0: float, depth: int, eps: float, kappa: float, act: str,
                     pixels: Any) -> dict:
    import rmt_idinit as ri
    from . import selection as sel

    law = ri.jjt_law(sigma, q0, depth, act)
    out = {
        "sigma": sigma,
        "alpha": float(ri.alpha(sigma, q0, depth, act)),
        "dead_fraction": float(sel.dead_fraction(sigma, q0, depth, act, kappa=kappa)),
        "log_gradient_scale": float(sel.log_gradient_scale(sigma, q0, depth, act)),
        "gradient_scale": float(sel.gradient_scale(sigma, q0, depth, act)),
        "mean": float(law.mean()),
        "var": float(law.var()),
        "isometry_loss": float(sel.isometry_loss(sigma, q0, depth, act)),
        "feasible": bool(sel.is_feasible(sigma, q0, depth, eps, kappa, act)),
        "max_depth": float(sel.max_depth(sigma, q0, eps, kappa, act)),
        "max_q0": float(sel.max_q0(sigma, depth, eps, act, kappa=kappa)),
    }
    if pixels is not None:
        # exact per-image spectra at init: eigenvalue g_L(u_i)^2 for every pixel u_i
        lg = ri.jjt_eigenvalues(pixels, sigma, depth, act, log=True)
        out["empirical_alive_fraction"] = float(np.mean(np.isfinite(lg)))
        out["empirical_images"] = int(pixels.shape[0])
    return out


def make_report(outdir: str | os.PathLike = "reports/paper", *, depth: int = 100, activation: str = "hardtanh",
                eps: float = 0.05, kappa: float = 10.0, q0: float | None = None,
                data_dir: str | os.PathLike | None = None, progress: bool = True) -> dict:
    """Run the parameter selection for one setting and write the report folder.

    Returns the dict written to ``results.json``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import rmt_idinit as ri
    from . import _checks
    from . import selection as sel
    from .plotting import phase_diagram, plot_law, plot_layer_alphas

    depth = int(_checks.check_depth(depth))
    eps = float(_checks.check_probability("eps", eps))
    kappa = float(sel._kappa(kappa))
    ri.get_activation(activation)
    t0 = time.perf_counter()
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    if q0 is None:
        q0_val, q0_source, pixels = fashion_mnist_q0(data_dir)
    else:
        q0_val = float(_checks.check_positive("q0", q0))
        q0_source, pixels = "given on the command line", None

    s_best = float(sel.best_sigma(depth, q0_val, activation, eps=eps, kappa=kappa))
    s_free = float(sel.best_sigma(depth, q0_val, activation))
    lo, hi = (float(v) for v in sel.feasible_sigma_interval(depth, q0_val, eps, kappa, activation))
    win = [float(v) for v in sel.sigma_window(depth, kappa)]
    settings = {"best": s_best if math.isfinite(s_best) else s_free, "sigma_1": 1.0}
    numbers = {k: _setting_numbers(v, q0_val, depth, eps, kappa, activation, pixels) for k, v in settings.items()}

    # --- plots
    files = {}
    region = sel.feasible_region(depth, eps, kappa, activation, sigma=np.exp(np.linspace(-4, 4, 401) / depth),
                                 q0=np.logspace(-4, 1, 401), progress=progress)
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    phase_diagram(depth, eps, kappa, activation, region=region, ax=ax,
                  marks=[(settings["best"], q0_val, f"best sigma = {settings['best']:.6f}"),
                         (1.0, q0_val, "sigma = 1")])
    ax.axhline(q0_val, color="red", lw=0.8, ls=":")
    atomic_save_png(fig, out / "phase_diagram.png"); plt.close(fig)
    files["phase_diagram"] = "phase_diagram.png"

    fig, ax = plt.subplots(figsize=(7, 4.5))
    extra = [(1.0 + 2.0 / depth, q0_val), (1.0 + 5.0 / depth, q0_val)]
    plot_layer_alphas([(settings["best"], q0_val), (1.0, q0_val)] + extra, depth, activation, ax=ax)
    ax.axhline(1.0 - eps, color="black", ls="--", lw=0.8, label=f"1 - eps = {1 - eps:g}")
    ax.legend(fontsize=8)
    atomic_save_png(fig, out / "layer_alphas.png"); plt.close(fig)
    files["layer_alphas"] = "layer_alphas.png"

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    rng = np.random.default_rng(0)
    for axx, key in zip(axes, ("best", "sigma_1")):
        law = ri.jjt_law(settings[key], q0_val, depth, activation)
        # a finite-width check: one input vector of width 784 through the real scalar maps
        u = rng.standard_normal(784) * math.sqrt(q0_val)
        plot_law(law, ax=axx, sample=ri.jjt_eigenvalues(u, settings[key], depth, activation),
                 label=f"{activation}, L={depth}, sigma={settings[key]:.6g}, q0={q0_val:.4g}")
    atomic_save_png(fig, out / "law.png"); plt.close(fig)
    files["law"] = "law.png"

    results = {
        "setting": {"activation": activation, "depth": depth, "eps": eps, "kappa": kappa,
                    "q0": q0_val, "q0_source": q0_source},
        "definitions": {
            "dead_fraction": "P(lambda = 0) (piecewise linear) or P(lambda < 1/kappa) (smooth)",
            "gradient_scale": "sigma^(2L) (hard-tanh) or the median of the law",
            "feasible": "dead_fraction <= eps and 1/kappa <= gradient_scale <= kappa",
            "best_sigma": "argmin over the feasible sigma interval of E[(lambda - 1)^2]",
            "q0": "mean of (pixel/255)^2 over Fashion-MNIST training images and pixels",
        },
        "sigma_window_kappa": win,
        "feasible_sigma_interval": [lo, hi],
        "best_sigma_constrained": s_best,
        "best_sigma_unconstrained": s_free,
        "max_q0_at_sigma_1": float(sel.max_q0(1.0, depth, eps, activation, kappa=kappa)),
        "settings": numbers,
        "region_fraction_feasible": region.fraction,
        "files": files,
        "seconds": None,
    }
    results["seconds"] = time.perf_counter() - t0
    atomic_write_text(out / "results.json", json.dumps(results, indent=2, allow_nan=True) + "\n")
    md = _summary_md(results)
    atomic_write_text(out / "summary.md", md)
    atomic_write_text(out / "summary.html", _md_to_html(md))
    return results


def _fmt(x: float) -> str:
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, (int,)) or (isinstance(x, float) and math.isfinite(x) and x == int(x) and abs(x) < 1e15):
        return str(int(x))
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def _summary_md(r: dict) -> str:
    s = r["setting"]
    b, one = r["settings"]["best"], r["settings"]["sigma_1"]
    rows = [("alpha (nonzero weight)", "alpha"), ("dead fraction", "dead_fraction"),
            ("gradient scale sigma^(2L)", "gradient_scale"), ("mean of lambda", "mean"),
            ("variance of lambda", "var"), ("isometry loss E[(lambda-1)^2]", "isometry_loss"),
            ("feasible", "feasible"), ("largest trainable depth", "max_depth"),
            ("largest q0 for eps", "max_q0")]
    if "empirical_alive_fraction" in b:
        rows.append((f"alive fraction on {b['empirical_images']} real test images", "empirical_alive_fraction"))
    lines = [
        f"# Identity-init parameter selection: {s['activation']}, depth {s['depth']}",
        "",
        f"Input scale q0 = {s['q0']:.10g} ({s['q0_source']}).",
        f"Tolerances: dead fraction <= eps = {s['eps']:g}; gradient scale in [1/kappa, kappa], kappa = {s['kappa']:g}.",
        "",
        f"- kappa window for sigma: [{r['sigma_window_kappa'][0]:.8f}, {r['sigma_window_kappa'][1]:.8f}]",
        f"- feasible sigma interval at this q0: [{r['feasible_sigma_interval'][0]:.8f}, {r['feasible_sigma_interval'][1]:.8f}]",
        f"- **best sigma** (min E[(lambda-1)^2] over the feasible interval): **{r['best_sigma_constrained']:.8f}**"
        f" (unconstrained optimum {r['best_sigma_unconstrained']:.8f})",
        f"- largest q0 with dead fraction <= eps at sigma = 1: {r['max_q0_at_sigma_1']:.6g}",
        f"- fraction of the plotted (sigma, q0) grid that is feasible: {r['region_fraction_feasible']:.4f}",
        "",
        f"| quantity | best sigma = {b['sigma']:.8f} | sigma = 1 |",
        "|---|---|---|",
    ]
    lines += [f"| {label} | {_fmt(b[key])} | {_fmt(one[key])} |" for label, key in rows]
    lines += [
        "",
        "The model assumes i.i.d. N(0, q0) input coordinates. Real pixels are in [0, 1] and not",
        "Gaussian: the empirical row is the exact alive fraction of the per-pixel scalar maps on real",
        "test images (a hard-tanh unit dies when |h^l| >= 1 at some layer), which can differ from alpha.",
        "",
        "## Plots",
        "",
        "![phase diagram](phase_diagram.png)",
        "",
        "![alpha per layer](layer_alphas.png)",
        "",
        "![law](law.png)",
        "",
        f"Computed in {r['seconds']:.1f} s. Every number is in results.json.",
        "",
    ]
    return "\n".join(lines)


def _md_to_html(md: str) -> str:
    """Just enough markdown for the summary: headings, bullets, tables, images, bold."""
    import re

    def inline(t: str) -> str:
        t = html.escape(t)
        return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", t)

    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>rmt_idinit report</title>",
           "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{border:1px solid #ccc;"
           "padding:2px 8px}table{border-collapse:collapse}img{max-width:100%}</style></head><body>"]
    in_list = in_table = False
    for line in md.splitlines():
        if in_list and not line.startswith("- "):
            out.append("</ul>"); in_list = False
        if in_table and not line.startswith("|"):
            out.append("</table>"); in_table = False
        m = re.match(r"!\[(.*)\]\((.*)\)", line)
        if line.startswith("# "):
            out.append(f"<h1>{inline(line[2:])}</h1>")
        elif line.startswith("## "):
            out.append(f"<h2>{inline(line[3:])}</h2>")
        elif line.startswith("- "):
            if not in_list:
                out.append("<ul>"); in_list = True
            out.append(f"<li>{inline(line[2:])}</li>")
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(set(c) <= {"-"} for c in cells):
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                out.append("<table>"); in_table = True
            out.append("<tr>" + "".join(f"<{tag}>{inline(c)}</{tag}>" for c in cells) + "</tr>")
        elif m:
            out.append(f"<p><img alt='{html.escape(m.group(1))}' src='{html.escape(m.group(2))}'></p>")
        elif line.strip():
            out.append(f"<p>{inline(line)}</p>")
    if in_list:
        out.append("</ul>")
    if in_table:
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
