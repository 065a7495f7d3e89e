"""Plots of the random-initialization baselines: identity against random init at matched settings."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ._common import axes_or_new

if TYPE_CHECKING:  # pragma: no cover - the numerics (numba) load only when a comparison is drawn
    from ..random_init.compare import Comparison

__all__ = ["plot_compare"]


def plot_compare(result: "Comparison", *, ax: Any = None) -> Any:
    """CDFs of the laws of :func:`rmt_idinit.random_init.compare.compare` on a log-lambda axis.

    Each curve is ``P(lambda <= x)`` of one initialization (identity, orthogonal, Gaussian), its
    legend entry the mass ``dead`` of the atom at 0. Returns the Axes (never calls ``show``).

    Parameters
    ----------
    result : Comparison
        The return value of ``compare``.
    ax : matplotlib Axes, optional
        Where to draw (keyword-only; default a new figure).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from rmt_idinit.random_init.compare import compare
    >>> ax = plot_compare(compare(4, "hardtanh", q0=0.5, n_grid=64))
    >>> len(ax.get_lines()), ax.get_ylabel()
    (3, 'CDF')
    """
    from ..random_init.compare import Comparison

    if not isinstance(result, Comparison):
        raise TypeError(f"result must be the Comparison returned by compare(), got {type(result).__name__}")
    ax = axes_or_new(ax)
    edges = [s["edge"] for s in result.summary.values() if s["edge"] > 0]
    hi = max(edges) * 2 if edges else 10.0
    x = np.geomspace(hi * 1e-8, hi, 600)
    for name, law in result.laws.items():
        ax.step(x, law.cdf(x), where="post", label=f"{name} (dead {result.summary[name]['dead']:.3f})")
    ax.set_xscale("log")
    ax.set_xlabel(r"$\lambda$ (eigenvalue of $JJ^\top$)")
    ax.set_ylabel("CDF")
    ax.set_title(f"{result.activation}, depth {result.depth}, q0 = {result.q0:g}")
    ax.legend()
    return ax
