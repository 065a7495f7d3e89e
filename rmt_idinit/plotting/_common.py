"""What every plotting helper of the package shares: the Axes to draw on."""
from __future__ import annotations

from typing import Any


def axes_or_new(ax: Any, figsize: tuple[float, float] | None = None) -> Any:
    """``ax`` itself, or the Axes of a new figure of ``figsize`` (matplotlib imported only then)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize)[1]
