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
        # pixels at exactly 255 give h = sigma^l at layer l: on the hard-tanh kink when sigma = 1
        out["empirical_fraction_pixels_at_1"] = float(np.mean(pixels == 1.0))
    return out


def make_report(outdir: str | os.PathLike = "reports/paper", *, depth: int = 100, activation: str = "hardtanh",
                eps: float = 0.05, kappa: float = 10.0, q0: float | None = None,
                data_dir: str | os.PathLike | None = None, progress: bool = True) -> dict:
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
    from ._core import checks as _checks
    from . import selection as sel
    from .jsonio import dumps

    depth = int(_checks.check_depth(depth))
    eps = float(_checks.check_probability("eps", eps))
    kappa = _checks.check_scalar("kappa", kappa, lambda n, v: _checks.check_greater(n, v, 1.0))
    act = ri.get_activation(activation)
    ht = _is_ht(act)
    t0 = time.perf_counter()
    out = Path(outdir)
    if q0 is None:
        q0_val, q0_source, pixels = fashion_mnist_q0(data_dir)
    else:
        q0_val = float(_checks.check_positive("q0", q0))
        q0_source, pixels = "given on the command line", None
    out.mkdir(parents=True, exist_ok=True)

    rec = recommend(depth, q0_val, eps, kappa, act)
    s_free = float(sel.best_sigma(depth, q0_val, act))
    win = [float(v) for v in sel.sigma_window(depth, kappa)]
    if rec["feasible"]:
        settings = {"recommended": rec["sigma"], "best": rec["best_sigma"]}
    else:
        settings = {"unconstrained_optimum": s_free}
    if all(v != 1.0 for v in settings.values()):
        settings["sigma_1"] = 1.0
    numbers = {k: _setting_numbers(v, q0_val, depth, eps, kappa, activation, pixels if ht else None)
               for k, v in settings.items()}
    titles = {"recommended": "recommended", "best": "loss optimum", "sigma_1": "sigma = 1",
              "unconstrained_optimum": "unconstrained loss optimum (infeasible)"}

    # --- plots
    region = sel.feasible_region(depth, eps, kappa, activation, sigma=np.exp(np.linspace(-4, 4, 401) / depth),
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
            "best_sigma": "argmin over the feasible sigma interval of E[(lambda - 1)^2]",
            "recommended_sigma": "best_sigma rounded to the decimals the feasible interval justifies",
            "q0": "mean of (pixel/255)^2 over Fashion-MNIST training images and pixels",
            "non_finite": "values that are +inf/-inf/nan are null here; their paths are listed under non_finite",
        },
        "sigma_window_kappa": win,
        "feasible_sigma_interval": rec["feasible_sigma_interval"],
        "best_sigma_constrained": rec["best_sigma"],
        "best_sigma_unconstrained": s_free,
        "max_q0_at_sigma_1": float(sel.max_q0(1.0, depth, eps, act, kappa=kappa)),
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
    a :class:`rmt_idinit.selection.FeasibleRegion`. Returns open matplotlib Figures.
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


# --- the answer: one recommendation shared by `rmt-idinit select` and the report ----------------

def _is_ht(act) -> bool:
    from .selection import _is_hardtanh

    return _is_hardtanh(act)


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
    value, lo, hi = float(value), float(lo), float(hi)
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


def _scan_feasible(act, depth: int, q0: float, eps: float, kappa: float) -> bool:
    """Any sigma feasible on the selection module's sigma scan (the generic, activation-free test)."""
    from . import selection as sel

    return bool(np.any(sel.is_feasible(sel._sigma_scan(int(depth)), q0, int(depth), eps, kappa, act)))


def _bisect_log(ok, good: float, bad: float, rel: float = 1e-4) -> float:
    """The boundary between ``ok(good) is True`` and ``ok(bad) is False``, by bisection in logs."""
    a, b = math.log(good), math.log(bad)
    while abs(b - a) > rel:
        m = 0.5 * (a + b)
        if ok(math.exp(m)):
            a = m
        else:
            b = m
    return math.exp(a)


def _bisect_int(ok, good: int, bad: int) -> int:
    while bad - good > 1:
        m = (good + bad) // 2
        if ok(m):
            good = m
        else:
            bad = m
    return good


def what_would_be_feasible(depth: int, q0: float, eps: float, kappa: float, activation="hardtanh", *,
                           generic: bool = False) -> dict:
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
    >>> w = what_would_be_feasible(100, 50.0, 0.05, 10.0)
    >>> round(w["max_q0"], 6), w["max_depth"], round(w["min_eps"], 4)
    (0.266381, 0, 0.8862)
    """
    from scipy import special

    import rmt_idinit as ri
    from . import selection as sel

    act = ri.get_activation(activation)
    depth, q0, eps, kappa = int(depth), float(q0), float(eps), float(kappa)
    notes: dict[str, str] = {}
    out: dict[str, Any] = {"max_q0": None, "max_depth": None, "min_eps": None, "min_kappa": None,
                           "log10_min_kappa": None}
    if _is_ht(act) and not generic:
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
        return _scan_feasible(act, d, q, e, k)

    if feas(q=1e-12):
        out["max_q0"] = _bisect_log(lambda q: feas(q=q), 1e-12, q0)
    else:
        notes["max_q0"] = "no q0 >= 1e-12 admits it at this depth"
    if depth > 1 and feas(d=1):
        out["max_depth"] = _bisect_int(lambda d: feas(d=d), 1, depth)
    else:
        out["max_depth"] = 0 if depth > 1 else None
        notes["max_depth"] = "no depth: even one layer fails at this q0"
    scan = sel._sigma_scan(depth)
    dead = np.asarray(sel.dead_fraction(scan, q0, depth, act, kappa=kappa))
    window = np.abs(np.asarray(sel.log_gradient_scale(scan, q0, depth, act))) <= math.log(kappa)
    # smooth laws: the median lies in the window only if at most half the mass is below 1/kappa
    ok = window & (dead <= 0.5) if act.pieces is None else window
    if ok.any() and float(dead[ok].min()) < 1.0:
        # the scan's resolution: the smallest dead fraction seen among window-compatible sigmas
        out["min_eps"] = float(dead[ok].min())
    else:
        notes["min_eps"] = "no eps helps: the gradient-scale condition fails for every sigma"
    big = 1e300
    if feas(k=big):
        kk = _bisect_log(lambda k: feas(k=k), big, kappa)
        out["min_kappa"] = kk
        out["log10_min_kappa"] = math.log10(kk)
    else:
        notes["min_kappa"] = "no kappa <= 1e300 admits it on the scanned sigmas exp(+-15/L)"
    out["notes"] = notes
    return out


def why_infeasible(depth: int, q0: float, eps: float, kappa: float, activation="hardtanh") -> dict:
    """Which constraint rules out every sigma: ``{"constraint": ..., "text": ..., ...}``.

    ``constraint`` is ``"dead_fraction"`` (the gradient window is reachable, but every sigma in it
    kills more than eps of the units) or ``"gradient_scale"`` (no sigma puts the gradient scale in
    ``[1/kappa, kappa]``).
    """
    import rmt_idinit as ri
    from . import selection as sel

    act = ri.get_activation(activation)
    if _is_ht(act):
        s_lo = float(sel.sigma_window(depth, kappa)[0])
        d_lo = float(sel.dead_fraction(s_lo, q0, depth))
        return {"constraint": "dead_fraction", "sigma": s_lo, "dead_fraction": d_lo,
                "text": (f"the dead fraction: every sigma with sigma^(2L) >= 1/kappa is >= {s_lo:.6g}, and "
                         f"there {100 * d_lo:.3g}% of the units are already dead (eps = {eps:g}); a smaller "
                         f"sigma revives units but shrinks sigma^(2L) below 1/kappa = {1 / kappa:.3g}")}
    scan = sel._sigma_scan(depth)
    dead = np.asarray(sel.dead_fraction(scan, q0, depth, act, kappa=kappa))
    ls = np.asarray(sel.log_gradient_scale(scan, q0, depth, act))
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


def recommend(depth: int, q0: float, eps: float = 0.05, kappa: float = 10.0,
              activation="hardtanh") -> dict:
    """The answer to "which sigma?" for ``(depth, q0)``, in numbers and in words.

    Feasible: ``sigma`` is the isometry-loss optimum rounded by :func:`round_in_interval` to what
    the feasible interval justifies (``best_sigma`` keeps every digit), with the dead fraction and
    gradient scale at the rounded sigma and their margins (``eps - D``; ``kappa / max(S, 1/S)``,
    the factor the gradient scale may still move). Infeasible: ``sigma`` is ``None``, ``why`` from
    :func:`why_infeasible` and ``would_be_feasible`` from :func:`what_would_be_feasible`.
    ``lines`` is the text the CLI prints.

    Examples
    --------
    >>> r = recommend(100, 0.2064)
    >>> r["sigma"], r["lines"][0]
    (1.0, 'Recommendation: sigma = 1.000 (every sigma in [0.98855, 1.00116] is feasible).')
    """
    import rmt_idinit as ri
    from . import selection as sel

    act = ri.get_activation(activation)
    name = act.name
    gname = "sigma^(2L)" if _is_ht(act) else "median eigenvalue"
    lo, hi = (float(v) for v in sel.feasible_sigma_interval(depth, q0, eps, kappa, act))
    setting = {"depth": int(depth), "q0": float(q0), "eps": float(eps), "kappa": float(kappa), "activation": name}
    if not (math.isfinite(lo) and math.isfinite(hi)):
        why = why_infeasible(depth, q0, eps, kappa, act)
        alt = what_would_be_feasible(depth, q0, eps, kappa, act)
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
    best = float(sel.best_sigma(depth, q0, act, eps=eps, kappa=kappa))
    sigma, dec = round_in_interval(best, lo, hi)
    dead = float(sel.dead_fraction(sigma, q0, depth, act, kappa=kappa))
    ls = float(sel.log_gradient_scale(sigma, q0, depth, act))
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
