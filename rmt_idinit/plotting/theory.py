"""Plots of the identity-init theory: phase diagram, per-layer alive weights, one spectral law.

Each helper takes ``ax=`` (keyword-only; a new figure when omitted) and returns the Axes; none
calls ``plt.show()``. matplotlib is imported inside the functions, so neither
``import rmt_idinit`` nor ``import rmt_idinit.plotting`` pulls it in.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..activations import Activation
from ..laws import SpectralLaw
from ._common import axes_or_new

__all__ = ["phase_diagram", "plot_layer_alphas", "plot_law"]


def phase_diagram(depth: int, eps: float = 0.05, kappa: float = 10.0,
                  activation: str | Activation = "hardtanh", *, sigma: Any = None, q0: Any = None,
                  n_sigma: int = 301, n_q0: int = 301, region: Any = None,
                  marks: Sequence[tuple[float, float, str]] = (),
                  hlines: Sequence[tuple[float, str]] = (), ax: Any = None,
                  progress: bool = False, **activation_params: float):
    """The ``(sigma, q0)`` phase diagram of identity init at one depth.

    Colour: the alive weight ``1 - D`` (for hard-tanh the nonzero-atom weight
    ``alpha = erf(sigma^(-m)/sqrt(2 q0))``); white dashed lines where ``log10 sigma^(2L)`` is a
    round number, read on the top axis (the gain depends on sigma only, so its contours are
    vertical lines); the feasible region (``D <= eps``, ``1/kappa <= S <= kappa``) outlined in
    black and labelled; log axes with round sigma ticks.

    Parameters
    ----------
    depth, eps, kappa, activation
        As in :func:`rmt_idinit.select.feasible_region`.
    sigma, q0 : 1-D arrays, optional
        Grids; default ``sigma = exp(linspace(-4, 4, n_sigma) / depth)``, ``q0 = logspace(-4, 1)``.
    region : FeasibleRegion, optional
        A precomputed region (then the grids come from it).
    marks : sequence of (sigma, q0, label)
        Points to mark (e.g. the chosen setting). Each gets its own marker shape, drawn so that
        coinciding points stay visible (a filled star inside a hollow ring).
    hlines : sequence of (q0, label)
        Horizontal reference lines (e.g. the data's q0), listed in the legend.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from ..select import feasible_region

    ax = axes_or_new(ax, (6.4, 4.8))
    if region is None:
        sig = np.exp(np.linspace(-4.0, 4.0, n_sigma) / depth) if sigma is None else np.asarray(sigma, float)
        qq = np.logspace(-4, 1, n_q0) if q0 is None else np.asarray(q0, float)
        region = feasible_region(depth, activation, eps=eps, kappa=kappa, sigma=sig, q0=qq, progress=progress,
                                 **activation_params)
    r = region
    mesh = ax.pcolormesh(r.sigma, r.q0, r.alive, shading="auto", cmap="viridis", vmin=0.0, vmax=1.0)
    cb = ax.figure.colorbar(mesh, ax=ax)
    cb.set_label("alive weight 1 - D  (hard-tanh: alpha^L)")
    S, Q = np.meshgrid(r.sigma, r.q0)
    if r.mask.any() and not r.mask.all():
        ax.contour(S, Q, r.mask.astype(float), levels=[0.5], colors="black", linewidths=2.0)
    if r.mask.any():
        iq, js = np.nonzero(r.mask)
        k = int(np.argmin(np.abs(iq - np.median(iq)) + np.abs(js - np.median(js))))
        ax.annotate("feasible", (r.sigma[js[k]], r.q0[iq[k]]), color="black", fontsize=9,
                    ha="center", va="center", fontweight="bold",
                    bbox=dict(boxstyle="round", fc="white", alpha=0.7))
    ax.plot(r.sigma, r.q0_max, color="orange", lw=1.5)
    styles = [dict(marker="*", ms=11, color="white", mec="black", mew=0.8),
              dict(marker="o", ms=16, mfc="none", mew=2.0, color="red"),
              dict(marker="s", ms=20, mfc="none", mew=1.5, color="magenta")]
    # distinct shapes, smaller ones on top: a star at the same point as a ring stays visible inside it
    for i, (s_, q_, label) in enumerate(marks):
        st = styles[i % len(styles)]
        ax.plot([s_], [q_], ls="none", label=label, zorder=30 - st["ms"], **st)
    for q_, label in hlines:
        ax.axhline(q_, color="red", lw=0.9, ls=":", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    lo_s, hi_s = float(r.sigma.min()), float(r.sigma.max())
    ax.set_xlim(lo_s, hi_s)
    # sigma spans a few percent around 1: round linear ticks (log-axis defaults would overprint)
    from matplotlib.ticker import FixedLocator, MaxNLocator, NullFormatter, NullLocator

    ticks = [t for t in MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(lo_s, hi_s)
             if lo_s <= t <= hi_s and t > 0]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.set_ylim(r.q0.min(), r.q0.max())
    ax.set_xlabel("sigma (W = sigma I)")
    ax.set_ylabel("input variance q0")
    span = 2.0 * r.depth * max(abs(np.log10(lo_s)), abs(np.log10(hi_s)))
    # sigma^(2L) is the gradient scale of hard-tanh only (smooth laws use their median): no lines there
    gain_lines = str(r.activation) == "hardtanh"
    levels = [v for v in (-8, -4, -2, -1, 0, 1, 2, 4, 8) if abs(v) <= span] if gain_lines else []
    import matplotlib.patheffects as pe

    outline = [pe.Stroke(linewidth=2.2, foreground="black"), pe.Normal()]
    at = [10.0 ** (v / (2.0 * r.depth)) for v in levels]
    for x in at:
        ax.axvline(x, color="white", ls="--", lw=0.9, path_effects=outline)
    # the gain depends on sigma only: its round values are read on a top axis, not contour labels
    if gain_lines:
        _gain_axis(ax, ax.twiny(), at, levels)
    ax.set_title(f"{r.activation}, depth L = {r.depth}: eps = {r.eps:g}, kappa = {r.kappa:g}", fontsize=11)
    handles = [Patch(facecolor="none", edgecolor="black", lw=2, label="feasible region"),
               Line2D([], [], color="orange", lw=1.5, label="dead fraction = eps (q0_max)")]
    if gain_lines:
        handles.append(Line2D([], [], color="white", ls="--", lw=0.9, path_effects=outline,
                              label="round log10 sigma^(2L) (top axis)"))
    handles += [h for h in ax.get_legend_handles_labels()[0]]
    # below the axes, so that it hides no part of the diagram
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8,
              frameon=False)
    return ax


def _gain_axis(ax, top, at, levels):
    from matplotlib.ticker import FixedLocator, NullLocator

    top.set_xscale("log")
    top.set_xlim(ax.get_xlim())
    top.xaxis.set_major_locator(FixedLocator(at))
    top.xaxis.set_minor_locator(NullLocator())
    top.set_xticklabels([f"{v:g}" for v in levels])
    top.set_xlabel("log10 sigma^(2L) (dashed lines)", fontsize=9)


def plot_layer_alphas(settings: Sequence[tuple[float, float]], depth: int,
                      activation: str | Activation = "hardtanh", *, log: bool = False,
                      kappa: float = 10.0, ax: Any = None, **activation_params: float):
    """The alive weight of every layer ``l = 1..depth`` for a few ``(sigma, q0)``.

    Piecewise-linear activations: ``alpha^l = P(lambda_l > 0)``. Smooth activations have no zero
    eigenvalue (``alpha^l = 1`` always), so the curve shown is the alive fraction the selection
    uses, ``P(lambda_l >= 1/kappa)`` (:func:`rmt_idinit.select.dead_fraction`).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = plot_layer_alphas([(1.0, 0.2), (1.02, 0.2)], 50)
    >>> len(ax.get_lines())
    2
    """
    from ..activations import get_activation
    from ..identity import layer_alphas
    from ..select import dead_fraction

    ax = axes_or_new(ax, (6.4, 4.8))
    act = get_activation(activation, **activation_params) if isinstance(activation, str) else activation
    layers = np.arange(1, int(depth) + 1)
    smooth = act.pieces is None
    # coinciding curves (sigma = 1 and a loss optimum just below it) stay visible: one dash each
    dashes = ["-", "--", "-.", ":"]
    for i, (s, q) in enumerate(settings):
        if smooth:
            a = 1.0 - np.asarray(dead_fraction(s, q, layers, act, kappa=kappa))
        else:
            a = np.asarray(layer_alphas(s, q, depth, act))
        ax.plot(layers, a, ls=dashes[i % 4], lw=2.2 if i == 0 else 1.5, label=f"sigma = {s:.6g}, q0 = {q:.4g}")
    if log:
        ax.set_yscale("log")
    else:
        # fractions: the full [0, 1] range, never a zoom on round-off between coinciding curves
        ax.set_ylim(0.0, 1.03)
    ax.set_xlabel("layer l")
    if smooth:
        ax.set_ylabel(f"alive fraction P(lambda_l >= 1/kappa), kappa = {kappa:g}")
        ax.set_title(f"alive fraction per layer ({act.name}: smooth, no exact zeros)")
    else:
        ax.set_ylabel("alpha^l = P(lambda_l > 0)")
        ax.set_title(f"alive weight per layer ({act.name})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def _law_range(law: SpectralLaw) -> tuple[float, float]:
    lo = float(law.ppf(1e-6)) if float(law.cdf(0.0)) < 1e-6 else 1e-12
    hi = float(law.ppf(1 - 1e-6))
    return max(lo, hi * 1e-300, 1e-300), hi


def plot_law(law: SpectralLaw, sample: Any = None, *, ax: Any = None, cdf: bool = False,
             log_x: bool | None = None, bins: int = 60, label: str | None = None,
             title: str | None = None):
    """Plot one spectral law of J Jᵀ: the law of ``log10 lambda`` (density or CDF), atoms marked.

    Laws with a continuous part (smooth activations) are drawn on a ``log10 lambda`` axis: the
    density of ``log10 lambda`` is ``ln(10) lambda rho(lambda)``, which keeps mass spread over many
    decades readable (the density of lambda itself has an integrable ``1/sqrt`` spike at the
    largest eigenvalue and looks flat elsewhere). Atoms are stems of height = weight (an atom at
    ``lambda = 0`` is named in the legend, since ``log10 0`` is off the axis). Purely atomic laws
    (piecewise-linear activations) are drawn as stems on a linear lambda axis.

    Parameters
    ----------
    law : SpectralLaw
        Unbatched (``law.batch_shape == ()``); index a batched law first.
    ax : matplotlib Axes, optional
        Where to draw (keyword-only; default a new figure).
    sample : array_like, optional
        Empirical eigenvalues, overlaid: a histogram on the density scale, an empirical CDF with
        ``cdf=True``, the fraction at each atom for atomic laws.
    cdf : bool
        Draw the CDF ``P(lambda <= x)`` instead of the density.
    log_x : bool, optional
        ``log10 lambda`` axis (default: True when there is a continuous part).
    label, title : str, optional
        Legend label of the law and the axes title (put sigma, q0 and L there).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import rmt_idinit as ri
    >>> ax = plot_law(ri.jjt_law(1.02, 0.1, 50))
    >>> ax.get_ylabel()
    'weight of each atom'
    >>> ax = plot_law(ri.jjt_law(1.0, 0.2, 10, "tanh"), cdf=True)
    >>> ax.get_xlabel()
    'log10 lambda (eigenvalue of J J^T)'
    """
    ax = axes_or_new(ax, (6.4, 4.8))
    if law.batch_shape != ():
        raise ValueError(f"law must be a single law (batch_shape ()), got batch_shape {law.batch_shape}; index it first")
    la = np.asarray(law.log_atoms)
    w = np.asarray(law.weights)
    keep = w > 0
    cont = law.continuous is not None and float(np.sum(law.continuous_mass)) > 0
    if log_x is None:
        log_x = cont
    name = label or law.description or "law"
    smp = None
    if sample is not None:
        smp = np.asarray(sample, dtype=np.float64).ravel()
        smp = smp[np.isfinite(smp)]
    if log_x:
        lo, hi = _law_range(law) if cont else (float(np.exp(la[keep & np.isfinite(la)].min())) / 10,
                                               float(np.exp(la[keep & np.isfinite(la)].max())) * 10)
        x = np.geomspace(lo, hi, 600)
        lx = np.log10(x)
        at_zero = float(np.sum(w[keep & ~np.isfinite(la)]))
        if cdf:
            ax.plot(lx, np.asarray(law.cdf(x)), color="tab:blue", lw=1.8, label=f"{name}: CDF")
            if smp is not None and smp.size:
                srt = np.sort(smp)
                ecdf = np.arange(1, srt.size + 1) / srt.size
                pos = srt > 0
                ax.step(np.log10(srt[pos]), ecdf[pos], where="post", color="tab:orange", lw=1.0,
                        label=f"sample ECDF (n={srt.size})")
            ax.set_ylabel("P(lambda <= x)")
            ax.set_ylim(-0.02, 1.02)
        else:
            y = np.log(10.0) * x * np.asarray(law.pdf(x)) if cont else np.zeros_like(x)
            ax.plot(lx, y, color="tab:blue", lw=1.8, label=f"{name}: density of log10 lambda")
            if smp is not None and smp.size:
                pos = smp[smp > 0]
                if pos.size:
                    edges = np.linspace(np.log10(pos.min()), np.log10(pos.max()) + 1e-12, bins + 1)
                    h, _ = np.histogram(np.log10(pos), bins=edges)
                    ax.stairs(h / smp.size / np.diff(edges), edges, color="tab:orange", alpha=0.8,
                              label=f"sample (n={smp.size})")
            # the 1/sqrt spike at the largest eigenvalue would flatten the rest: cap the view
            top = float(np.quantile(y, 0.98)) if cont else 1.0
            if cont and np.isfinite(top) and top > 0:
                ax.set_ylim(0, 1.6 * top)
            ax.set_ylabel("density of log10 lambda")
        fin = keep & np.isfinite(la)
        if fin.any():
            ax.vlines(la[fin] / np.log(10.0), 0, w[fin], colors="tab:red", lw=2.5,
                      label="atoms (height = weight)")
        if at_zero > 0:
            ax.plot([], [], ls="none", label=f"atom at lambda = 0: weight {at_zero:.4g}")
        ax.set_xlabel("log10 lambda (eigenvalue of J J^T)")
    else:
        with np.errstate(over="ignore"):
            atoms = np.exp(la[keep])
        shown = np.where(np.isfinite(atoms), atoms, np.nan)
        if cdf:
            order = np.argsort(shown)
            xs, cw = shown[order], np.cumsum(w[keep][order])
            span = max(float(np.nanmax(xs)), 1.0)
            ax.step(np.concatenate([[-0.05 * span], xs, [1.1 * span]]), np.concatenate([[0], cw, [cw[-1]]]),
                    where="post", color="tab:blue", lw=1.8, label=f"{name}: CDF")
            if smp is not None and smp.size:
                srt = np.sort(smp)
                ax.step(srt, np.arange(1, srt.size + 1) / srt.size, where="post", color="tab:orange",
                        lw=1.0, label=f"sample ECDF (n={srt.size})")
            ax.set_ylabel("P(lambda <= x)")
        else:
            ml, sl, bl = ax.stem(shown, w[keep], basefmt=" ", label=f"{name}: atoms")
            ml.set_markersize(6)
            for a, ww in zip(shown, w[keep]):
                if np.isfinite(a):
                    ax.annotate(f"weight {ww:.4g}", (a, ww), textcoords="offset points", xytext=(7, 3),
                                fontsize=8, va="bottom")
            if smp is not None and smp.size:
                vals, counts = np.unique(np.round(smp, 12), return_counts=True)
                ax.bar(vals, counts / smp.size, width=0.03 * max(1.0, float(np.nanmax(np.abs(vals)))),
                       alpha=0.45, color="tab:orange", label=f"sample fraction (n={smp.size})")
            ax.set_ylim(0, 1.15)
            ax.set_ylabel("weight of each atom")
        ax.set_xlabel("eigenvalue lambda of J J^T")
    ax.set_title(title or name, fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return ax
