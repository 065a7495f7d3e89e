"""Plots of the interpretation tools: per-layer accuracy, image grids of maps, feature subsets.

Every single-panel helper takes ``ax=`` (keyword-only; a new figure when omitted) and returns the Axes; the grid
helper lays out many panels and returns the Figure. Nothing calls ``plt.show()``. Inputs are numpy
arrays (or anything ``np.asarray`` accepts), so the helpers also work on numbers read back from a
report JSON; matplotlib is imported inside the functions.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .._core.checks import check_choice
from ._common import axes_or_new

__all__ = ["plot_drop_curves", "plot_layer_accuracy", "plot_map", "plot_map_grid", "plot_subset_sizes"]


def plot_layer_accuracy(
    accuracy: Sequence[float],
    *,
    ax: Any = None,
    include_input: bool = False,
    label: str | None = None,
    style: str = "-",
    chance: float | None = 0.1,
):
    r"""Recognition accuracy of :math:`\arg\max z^l` against the layer l.

    Parameters
    ----------
    accuracy : sequence of float
        Layers 1..L (or 0..L with ``include_input``), e.g. from
        :func:`~rmt_idinit.nn.interpretable.layer_accuracy`.
    chance : float, optional
        Draw the chance level (1/C) as a dotted line.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> ax = plot_layer_accuracy([0.3, 0.6, 0.8], label="demo")
    >>> ax.get_xlabel()
    'layer l'
    """
    acc = np.asarray(accuracy, dtype=np.float64)
    ax = axes_or_new(ax, (6, 4))
    layers = np.arange(len(acc)) + (0 if include_input else 1)
    ax.plot(layers, acc, style, label=label)
    if chance is not None and not any(getattr(l, "_is_chance", False) for l in ax.lines):
        line = ax.axhline(chance, color="gray", lw=0.8, ls=":", label="chance")
        line._is_chance = True
    ax.set_xlabel("layer l")
    ax.set_ylabel("accuracy of argmax z^l")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    if label is not None:
        ax.legend(fontsize=8)
    return ax


def plot_map(image: Any, *, ax: Any = None, cmap: str = "RdBu_r", symmetric: bool = True,
             vmax: float | None = None, title: str | None = None, colorbar: bool = False):
    """One image-shaped map (2-D array); symmetric color scale around 0 for signed maps.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> plot_map(np.eye(3), title="eye").get_title()
    'eye'
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"image must be 2-D (e.g. 28x28), got shape {img.shape}")
    ax = axes_or_new(ax, figsize=(3, 3))
    if symmetric:
        v = vmax if vmax is not None else (float(np.nanmax(np.abs(img))) or 1.0)
        im = ax.imshow(img, cmap=cmap, vmin=-v, vmax=v)
    else:
        im = ax.imshow(img, cmap=cmap, vmax=vmax)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=8)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_map_grid(
    maps: Any,
    *,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    cmap: str = "RdBu_r",
    symmetric: bool = True,
    ncols: int | None = None,
    panel_size: float = 1.4,
    scale: str = "row",
    cmaps: Sequence[str] | None = None,
):
    """Grid of image-shaped maps with shared color scales (``scale``) and their colorbars.

    Parameters
    ----------
    maps : array, shape (rows, cols, H, W) or (n, H, W)
        E.g. contribution maps ``(samples, layers, 28, 28)``; a 3-D stack is wrapped into
        ``ncols`` columns and ``col_labels`` then title every panel.
    row_labels, col_labels : sequence of str, optional
        Row labels (e.g. class names) on the left, column titles (e.g. layers) on top.
    scale : {"row", "col", "all", "panel"}
        Panels sharing one color scale: each row (default: e.g. one sample across layers), each
        column (e.g. input | weights | attribution), the whole grid (comparable magnitudes), or
        none. Signed maps (``symmetric``) are centred on 0.
    cmaps : sequence of str, optional
        One colormap per column (overrides ``cmap``).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> fig = plot_map_grid(np.zeros((2, 3, 28, 28)), row_labels=["a", "b"], col_labels=["0", "1", "2"])
    >>> len(fig.axes) >= 6
    True
    """
    import matplotlib.pyplot as plt

    m = np.asarray(maps, dtype=np.float64)
    titles_each = None
    if m.ndim == 3:
        n = m.shape[0]
        nc = ncols or n
        nr = -(-n // nc)
        pad = np.full((nr * nc - n, *m.shape[1:]), np.nan)
        m = np.concatenate([m, pad]).reshape(nr, nc, *m.shape[1:])
        titles_each, col_labels = col_labels, None
    if m.ndim != 4:
        raise ValueError(f"maps must have shape (rows, cols, H, W) or (n, H, W), got {np.shape(maps)}")
    check_choice("scale", scale, ("row", "col", "all", "panel"))
    R, K = m.shape[:2]
    fig, axes = plt.subplots(R, K, figsize=(panel_size * K + 1.0, panel_size * R + 0.6), squeeze=False)

    def limits(block: np.ndarray) -> tuple[float, float]:
        fin = block[np.isfinite(block)]
        if not fin.size:
            return -1.0, 1.0
        if symmetric:
            v = float(np.abs(fin).max()) or 1.0
            return -v, v
        lo, hi = float(fin.min()), float(fin.max())
        return (lo, hi) if hi > lo else (lo - 1, hi + 1)

    groups = {"row": lambda r, k: m[r], "col": lambda r, k: m[:, k], "all": lambda r, k: m,
              "panel": lambda r, k: m[r, k]}[scale]
    for r in range(R):
        for k in range(K):
            ax = axes[r, k]
            if not np.isfinite(m[r, k]).any():
                ax.axis("off")
                continue
            lo, hi = limits(groups(r, k))
            im = ax.imshow(m[r, k], cmap=cmaps[k] if cmaps is not None else cmap, vmin=lo, vmax=hi)
            ax.set_xticks([])
            ax.set_yticks([])
            if titles_each is not None and r * K + k < len(titles_each):
                ax.set_title(titles_each[r * K + k], fontsize=8)
            if r == 0 and col_labels is not None and k < len(col_labels):
                ax.set_title(col_labels[k], fontsize=8)
            if k == 0 and row_labels is not None and r < len(row_labels):
                ax.set_ylabel(row_labels[r], fontsize=8)
            # one colorbar per scale group: at the row's end, the column's foot, the grid's corner
            if (scale == "panel" or (scale == "row" and k == K - 1) or (scale == "col" and r == R - 1)
                    or (scale == "all" and r == R - 1 and k == K - 1)):
                cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03,
                                  orientation="horizontal" if scale == "col" else "vertical")
                cb.ax.tick_params(labelsize=6)
    return fig


def _sizes_table(sizes: Any) -> dict[str, np.ndarray]:
    if isinstance(sizes, Mapping):
        return {str(k): np.asarray(v["sizes"] if isinstance(v, Mapping) else v, dtype=np.float64)
                for k, v in sizes.items()}
    return {"": np.asarray(sizes, dtype=np.float64)}


def plot_subset_sizes(sizes: Any, *, class_names: Sequence[str] | None = None, ax: Any = None,
                      n_features: int | None = None):
    """Horizontal bar chart of the feature-subset size of every class (one bar per fraction).

    Classes run down the y axis, so their names need no rotation (rotated tick labels collide).

    Parameters
    ----------
    sizes : sequence of int, or mapping fraction -> sizes (or -> {"sizes": ...})

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> plot_subset_sizes({"0.9": [3, 5]}, class_names=["a", "b"]).get_xlabel()
    'features in the class subset'
    """
    table = _sizes_table(sizes)
    ax = axes_or_new(ax, figsize=(8, 4))
    C = len(next(iter(table.values())))
    height = 0.8 / len(table)
    y = np.arange(C)
    for i, (frac, s) in enumerate(table.items()):
        ax.barh(y + (i - (len(table) - 1) / 2) * height, s, height, label=f"fraction {frac}" if frac else None)
    ax.set_yticks(y)
    ax.set_yticklabels(class_names if class_names is not None else [str(c) for c in range(C)], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("features in the class subset")
    ax.set_ylabel("class")
    if n_features is not None:
        ax.set_title(f"smallest feature subsets carrying a fraction of the class score (of {n_features})",
                     fontsize=10)
    else:
        ax.set_title("smallest feature subsets carrying a fraction of the class score", fontsize=10)
    ax.set_xscale("log")
    ax.grid(alpha=0.3, axis="x")
    if len(table) > 1 or next(iter(table)):
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=len(table), frameon=False)
    return ax


def plot_drop_curves(curves: Any, *, ax: Any = None):
    """Accuracy vs number of features removed (kept) per class: importance order vs random control.

    Parameters
    ----------
    curves : DropCurves or its ``as_dict()``

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> d = {"counts": [0, 1, 2], "full_accuracy": 0.9, "drop_importance": [0.9, 0.5, 0.2],
    ...      "drop_random_mean": [0.9, 0.85, 0.8], "drop_random_min": [0.9, 0.8, 0.7],
    ...      "drop_random_max": [0.9, 0.9, 0.85]}
    >>> plot_drop_curves(d).get_xlabel()
    'features removed (kept) per class, m'
    """
    d = curves.as_dict() if hasattr(curves, "as_dict") else dict(curves)
    ax = axes_or_new(ax, figsize=(7, 4))
    m = np.asarray(d["counts"], dtype=np.float64)
    colors = {"drop": "C3", "keep": "C0"}
    for name, what in (("drop", "top-m removed"), ("keep", "only top-m kept")):
        if f"{name}_importance" not in d:
            continue
        c = colors[name]
        ax.plot(m, d[f"{name}_importance"], "-o", ms=3, color=c, label=f"{what}, by importance")
        ax.plot(m, d[f"{name}_random_mean"], "--", color=c, label=f"{what}, random (mean)")
        ax.fill_between(m, d[f"{name}_random_min"], d[f"{name}_random_max"], color=c, alpha=0.15,
                        label=f"{what}, random (min-max)")
    if "full_accuracy" in d:
        ax.axhline(d["full_accuracy"], color="gray", lw=0.8, ls=":", label="all features")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlim(0, max(float(m.max()), 1.0) * 1.1)  # counts are >= 0: no negative symlog decades
    ax.set_xlabel("features removed (kept) per class, m")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return ax
