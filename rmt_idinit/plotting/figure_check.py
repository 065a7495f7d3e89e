"""The figure check every figure of the package passes: no overlapping text, labelled axes, legends.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> fig, ax = plt.subplots()
>>> _ = ax.plot([0, 1], [0, 1]); _ = ax.set_xlabel("x"); _ = ax.set_ylabel("y")
>>> figure_problems(fig)
[]
>>> plt.close(fig)
"""
from __future__ import annotations

__all__ = ["figure_problems"]


def _visible_texts(fig) -> list:
    """Every drawn, non-empty text of ``fig`` with a short description of where it sits."""
    out = []

    def add(t, where):
        if t is not None and t.get_visible() and t.get_text().strip():
            out.append((t, where))

    sup = getattr(fig, "_suptitle", None)
    add(sup, "suptitle")
    for t in fig.texts:
        if t is not sup:
            add(t, "figure text")
    for leg in fig.legends:
        for t in leg.get_texts():
            add(t, "figure legend")
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison:
            for t in (ax.title, ax._left_title, ax._right_title):
                add(t, f"axes {i} title")
            continue
        for t in (ax.title, ax._left_title, ax._right_title):
            add(t, f"axes {i} title")
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            if not axis.get_visible():
                continue
            add(axis.label, f"axes {i} {name}label")
            lo, hi = sorted(axis.get_view_interval())
            span = hi - lo
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                loc = tick.get_loc()
                if not (lo - 1e-9 * span <= loc <= hi + 1e-9 * span) or not tick.get_visible():
                    continue
                for lab in (tick.label1, tick.label2):
                    add(lab, f"axes {i} {name}ticklabel")
        for t in ax.texts:
            add(t, f"axes {i} text")
        leg = ax.get_legend()
        if leg is not None and leg.get_visible():
            for t in leg.get_texts():
                add(t, f"axes {i} legend")
            add(leg.get_title(), f"axes {i} legend title")
    return out


def figure_problems(fig, *, min_overlap_px: float = 1.0) -> list[str]:
    """What a reader would stumble on in ``fig``: overlapping text, missing labels or legends.

    The figure is drawn, then the window extent (the renderer's bounding box) of every visible
    text (titles, axis labels, tick labels in view, legend entries, annotations, suptitle) is
    compared with every other; two boxes that overlap by more than ``min_overlap_px`` pixels in
    both directions are reported. Every axes that shows data (lines, collections, patches) must
    have an x and a y label, and one with two or more labelled artists must have a legend (its
    own, or one elsewhere in the figure that lists the same labels). Image panels without ticks (map grids) and colorbars are exempt from
    the label rule.

    Returns
    -------
    list of str
        Empty when nothing was found.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([0, 1], label="a"); _ = ax.plot([1, 0], label="b")
    >>> figure_problems(fig)
    ['axes 0: no x label', 'axes 0: no y label', 'axes 0: 2 labelled artists but no legend']
    >>> plt.close(fig)
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems = []
    texts = [(t.get_window_extent(renderer), t.get_text().strip(), where) for t, where in _visible_texts(fig)]
    for i in range(len(texts)):
        a, ta, wa = texts[i]
        for j in range(i + 1, len(texts)):
            b, tb, wb = texts[j]
            dx = min(a.x1, b.x1) - max(a.x0, b.x0)
            dy = min(a.y1, b.y1) - max(a.y0, b.y0)
            if dx > min_overlap_px and dy > min_overlap_px:
                problems.append(f"overlapping text: {wa} {ta!r} and {wb} {tb!r} ({dx:.0f} x {dy:.0f} px)")
    # a grid of panels may share one legend: labels listed in any legend of the figure count
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    listed = {t.get_text() for leg in legends for t in leg.get_texts()}
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison or getattr(ax, "_colorbar", None) is not None:
            continue
        data = [a for a in list(ax.lines) + list(ax.collections) + list(ax.patches)
                if a.get_visible()]
        images_only = bool(ax.images) and not data
        if not data and not ax.images:
            continue
        no_ticks = not ax.get_xticks().size and not ax.get_yticks().size
        if images_only and no_ticks:
            continue
        if not ax.get_xlabel().strip():
            problems.append(f"axes {i}: no x label")
        if not ax.get_ylabel().strip():
            problems.append(f"axes {i}: no y label")
        labelled = [a for a in data if a.get_label() and not a.get_label().startswith("_")]
        if len(labelled) >= 2 and ax.get_legend() is None and not {a.get_label() for a in labelled} <= listed:
            problems.append(f"axes {i}: {len(labelled)} labelled artists but no legend")
    return problems
