"""Matplotlib helpers: each takes ``ax=None`` and returns the Axes; none calls ``plt.show()``.

matplotlib is imported inside the functions, so ``import rmt_idinit`` never pulls it in.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from rmt_idinit.plotting import phase_diagram
>>> ax = phase_diagram(20, n_sigma=40, n_q0=40)
>>> ax.get_xlabel()
'sigma (W = sigma I)'
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .activations import Activation
from .laws import SpectralLaw

__all__ = ["phase_diagram", "plot_layer_alphas", "plot_law"]


def _axes(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6.4, 4.8))
    return ax


def phase_diagram(depth: int, eps: float = 0.05, kappa: float = 10.0,
                  activation: str | Activation = "hardtanh", *, sigma: Any = None, q0: Any = None,
                  n_sigma: int = 301, n_q0: int = 301, region: Any = None,
                  marks: Sequence[tuple[float, float, str]] = (), ax: Any = None,
                  progress: bool = False, **activation_params: float):
    """The ``(sigma, q0)`` phase diagram of identity init at one depth.

    Colour: the alive weight ``1 - D`` (for hard-tanh the nonzero-atom weight
    ``alpha = erf(sigma^(-m)/sqrt(2 q0))``); dashed contours of ``log10 sigma^(2L)``; the feasible
    region (``D <= eps``, ``1/kappa <= S <= kappa``) outlined in black and labelled; log axes.

    Parameters
    ----------
    depth, eps, kappa, activation
        As in :func:`rmt_idinit.selection.feasible_region`.
    sigma, q0 : 1-D arrays, optional
        Grids; default ``sigma = exp(linspace(-4, 4, n_sigma) / depth)``, ``q0 = logspace(-4, 1)``.
    region : FeasibleRegion, optional
        A precomputed region (then the grids come from it).
    marks : sequence of (sigma, q0, label)
        Points to mark (e.g. the chosen setting).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from .selection import feasible_region

    ax = _axes(ax)
    if region is None:
        sig = np.exp(np.linspace(-4.0, 4.0, n_sigma) / depth) if sigma is None else np.asarray(sigma, float)
        qq = np.logspace(-4, 1, n_q0) if q0 is None else np.asarray(q0, float)
        region = feasible_region(depth, eps, kappa, activation, sigma=sig, q0=qq, progress=progress,
                                 **activation_params)
    r = region
    mesh = ax.pcolormesh(r.sigma, r.q0, r.alive, shading="auto", cmap="viridis", vmin=0.0, vmax=1.0)
    cb = ax.figure.colorbar(mesh, ax=ax)
    cb.set_label("alive weight 1 - D  (hard-tanh: alpha^L)")
    S, Q = np.meshgrid(r.sigma, r.q0)
    log10_gain = 2.0 * r.depth * np.log10(S)
    span = float(np.max(np.abs(log10_gain)))
    levels = [v for v in (-8, -4, -2, -1, 0, 1, 2, 4, 8) if abs(v) <= span]
    if levels:
        cs = ax.contour(S, Q, log10_gain, levels=levels, colors="white", linewidths=0.8, linestyles="dashed")
        ax.clabel(cs, fmt=lambda v: f"{v:g}", fontsize=7, inline_spacing=2)
    if r.mask.any() and not r.mask.all():
        ax.contour(S, Q, r.mask.astype(float), levels=[0.5], colors="black", linewidths=2.0)
    if r.mask.any():
        iq, js = np.nonzero(r.mask)
        k = int(np.argmin(np.abs(iq - np.median(iq)) + np.abs(js - np.median(js))))
        ax.annotate("feasible", (r.sigma[js[k]], r.q0[iq[k]]), color="black", fontsize=9,
                    ha="center", va="center", fontweight="bold",
                    bbox=dict(boxstyle="round", fc="white", alpha=0.7))
    ax.plot(r.sigma, r.q0_max, color="orange", lw=1.5)
    for s_, q_, label in marks:
        ax.plot([s_], [q_], marker="*", ms=12, ls="none", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(r.sigma.min(), r.sigma.max())
    # sigma spans a few percent around 1: log-scale default ticks would overprint each other
    from matplotlib.ticker import FixedLocator, NullFormatter

    ticks = np.geomspace(r.sigma.min(), r.sigma.max(), 5)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticklabels([f"{t:.4g}" for t in ticks])
    ax.set_ylim(r.q0.min(), r.q0.max())
    ax.set_xlabel("sigma (W = sigma I)")
    ax.set_ylabel("input variance q0")
    ax.set_title(f"{r.activation}, depth L = {r.depth}: eps = {r.eps:g}, kappa = {r.kappa:g}")
    handles = [Patch(facecolor="none", edgecolor="black", lw=2, label="feasible region"),
               Line2D([], [], color="orange", lw=1.5, label="dead fraction = eps (q0_max)"),
               Line2D([], [], color="white", ls="--", lw=0.8, label="log10 sigma^(2L)")]
    handles += [h for h in ax.get_legend_handles_labels()[0]]
    leg = ax.legend(handles=handles, loc="lower left", fontsize=8, framealpha=0.85)
    leg.get_frame().set_facecolor("0.85")
    return ax


def plot_layer_alphas(settings: Sequence[tuple[float, float]], depth: int,
                      activation: str | Activation = "hardtanh", *, log: bool = False,
                      ax: Any = None, **activation_params: float):
    """``alpha^l`` (the alive weight of layer l) against ``l = 1..depth`` for a few ``(sigma, q0)``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = plot_layer_alphas([(1.0, 0.2), (1.02, 0.2)], 50)
    >>> len(ax.get_lines())
    2
    """
    from .identity import layer_alphas

    ax = _axes(ax)
    layers = np.arange(1, int(depth) + 1)
    for s, q in settings:
        a = np.asarray(layer_alphas(s, q, depth, activation, **activation_params))
        ax.plot(layers, a, label=f"sigma = {s:.6g}, q0 = {q:.4g}")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("layer l")
    ax.set_ylabel("alpha^l = P(lambda_l > 0)")
    ax.set_title(f"alive weight per layer ({activation if isinstance(activation, str) else activation.name})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def plot_law(law: SpectralLaw, ax: Any = None, sample: Any = None, *, log_x: bool | None = None,
             bins: int = 60, label: str | None = None):
    """Plot one spectral law: atoms as stems of height = weight, a density as a curve.

    Parameters
    ----------
    law : SpectralLaw
        Unbatched (``law.batch_shape == ()``); index a batched law first.
    sample : array_like, optional
        Empirical eigenvalues; overlaid as a density histogram (atoms are compared by the bar
        mass next to the stem).
    log_x : bool, optional
        Log-scaled lambda axis (default: True for a continuous part, False otherwise).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import rmt_idinit as ri
    >>> ax = plot_law(ri.jjt_law(1.02, 0.1, 50))
    >>> ax.get_ylabel()
    'weight (atoms) / density'
    """
    ax = _axes(ax)
    if law.batch_shape != ():
        raise ValueError(f"law must be a single law (batch_shape ()), got batch_shape {law.batch_shape}; index it first")
    la = np.asarray(law.log_atoms)
    w = np.asarray(law.weights)
    keep = w > 0
    with np.errstate(over="ignore"):
        atoms = np.exp(la[keep])
    cont = law.continuous is not None and float(np.sum(law.continuous_mass)) > 0
    if log_x is None:
        log_x = cont
    name = label or law.description or "law"
    if atoms.size:
        shown = np.where(np.isfinite(atoms), atoms, np.nan)
        ml, sl, bl = ax.stem(shown, w[keep], basefmt=" ", label=f"{name}: atoms")
        ml.set_markersize(6)
        for a, ww, lg in zip(shown, w[keep], la[keep]):
            txt = f"w={ww:.4g}" + ("" if np.isfinite(a) else f"\n(log lambda={lg:.4g})")
            ax.annotate(txt, (0 if not np.isfinite(a) else a, ww), textcoords="offset points",
                        xytext=(4, 4), fontsize=8)
    if cont:
        if log_x:
            lo = float(law.ppf(1e-6)) if float(law.cdf(0.0)) < 1e-6 else 1e-12
            hi = float(law.ppf(1 - 1e-6))
            lo = max(lo, hi * 1e-300, 1e-300)
            x = np.geomspace(lo, hi, 400)
            # density in log lambda: lambda * rho(lambda) keeps the curve readable over decades
            y = x * np.asarray(law.pdf(x))
            ax.plot(x, y, label=f"{name}: lambda * density")
        else:
            hi = float(law.ppf(1 - 1e-6))
            x = np.linspace(hi * 1e-6, hi, 400)
            ax.plot(x, np.asarray(law.pdf(x)), label=f"{name}: density")
    if sample is not None:
        smp = np.asarray(sample, dtype=np.float64).ravel()
        smp = smp[np.isfinite(smp)]
        if log_x:
            pos = smp[smp > 0]
            if pos.size:
                edges = np.geomspace(pos.min(), pos.max() * (1 + 1e-12), bins + 1)
                h, _ = np.histogram(pos, bins=edges)
                # match the lambda*rho scale: counts per unit log lambda
                ax.stairs(h / smp.size / np.diff(np.log(edges)), edges, label=f"sample (n={smp.size})", alpha=0.7)
        elif atoms.size and not cont:
            vals, counts = np.unique(np.round(smp, 12), return_counts=True)
            ax.bar(vals, counts / smp.size, width=0.02 * max(1.0, float(np.nanmax(np.abs(vals)))),
                   alpha=0.4, color="tab:orange", label=f"sample fraction (n={smp.size})")
        else:
            ax.hist(smp, bins=bins, density=True, alpha=0.4, label=f"sample (n={smp.size})")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("eigenvalue lambda of J J^T")
    ax.set_ylabel("weight (atoms) / density")
    ax.set_title(name)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax
