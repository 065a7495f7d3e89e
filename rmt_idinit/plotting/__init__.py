"""Matplotlib helpers of the package, one module per layer of what they show:

* :mod:`.theory` -- identity-init theory: ``phase_diagram``, ``plot_layer_alphas``, ``plot_law``;
* :mod:`.random_init` -- the random-init baselines: ``plot_compare``;
* :mod:`.interpretation` -- the interpretation tools: ``plot_layer_accuracy``, ``plot_map``,
  ``plot_map_grid``, ``plot_subset_sizes``, ``plot_drop_curves``;
* :mod:`.figure_check` -- ``figure_problems``, the check every figure of the package passes.

Every single-panel helper takes ``ax=`` keyword-only (a new figure when omitted) and returns the
Axes; none calls ``plt.show()``. matplotlib is imported inside the functions, so importing this
package does not pull it in.

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

from .figure_check import figure_problems
from .interpretation import plot_drop_curves, plot_layer_accuracy, plot_map, plot_map_grid, plot_subset_sizes
from .random_init import plot_compare
from .theory import phase_diagram, plot_law, plot_layer_alphas

__all__ = [
    "phase_diagram",
    "plot_layer_alphas",
    "plot_law",
    "plot_compare",
    "plot_layer_accuracy",
    "plot_map",
    "plot_map_grid",
    "plot_subset_sizes",
    "plot_drop_curves",
    "figure_problems",
]
