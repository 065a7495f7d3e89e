"""Exact J Jᵀ law for any piecewise-linear activation at identity init, by cell propagation.

With phi affine on each piece, the map ``u -> h^l(u)`` is affine on each cell of a partition of
the real line, and the gain ``g_l(u)`` is constant there. Starting from one cell, every layer
splits cells at the preimages of phi's breakpoints and updates, per cell,

    h^(l+1) = sigma*(s*h^l + c) + b = A' u + B',   log|g| += log|sigma*s|

(slope ``s`` and intercept ``c`` of the piece). Adjacent cells with the same affine map and gain are
merged, so hard-tanh, relu and leaky relu keep 2-3 cells at any depth. The law is then the atoms
``g^2`` of the cells with the Gaussian masses of the cells as weights: exact, with no quadrature.
"""
from __future__ import annotations

import math

import numpy as np

from ._core.gaussian import interval_mass

__all__ = ["cells", "piecewise_law", "gaussian_interval_mass"]

_MAX_CELLS = 100_000


def gaussian_interval_mass(a: np.ndarray, b: np.ndarray, q0: float) -> np.ndarray:
    """``P(a < u < b)`` for ``u ~ N(0, q0)``, accurate in both tails and for tiny central cells.

    The cell masses of the law; the formula (one per tail) is :func:`rmt_idinit._core.gaussian.interval_mass`.

    Examples
    --------
    >>> float(gaussian_interval_mass(0.0, np.inf, 2.0))
    0.5
    """
    return interval_mass(a, b, math.sqrt(q0))


def cells(pieces, sigma: float, bias: float, depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Partition of the u-line after ``depth`` layers.

    Returns
    -------
    edges : (m+1,) array, ``-inf = edges[0] < ... < edges[m] = inf``
    log_gain : (m,) array of ``log|g_depth|`` on each cell (``-inf`` where a slope was 0)
    """
    bps = np.asarray(pieces.breakpoints, dtype=np.float64)
    slopes = np.asarray(pieces.slopes, dtype=np.float64)
    inter = np.asarray(pieces.intercepts, dtype=np.float64)
    # Each cell: [lo, hi], h = A u + B, logg
    lo = np.array([-np.inf])
    hi = np.array([np.inf])
    A = np.array([sigma])
    B = np.array([0.0])
    logg = np.array([0.0])
    log_sigma = math.log(sigma)
    for _ in range(depth):
        new = []
        for i in range(lo.size):
            a, b_, Ai, Bi, gi = lo[i], hi[i], A[i], B[i], logg[i]
            if Ai == 0.0:
                cuts = []
            else:
                # u where A u + B crosses a breakpoint, inside (a, b_)
                us = (bps - Bi) / Ai
                cuts = sorted(x for x in us if a < x < b_)
            bounds = [a] + cuts + [b_]
            for j in range(len(bounds) - 1):
                ua, ub = bounds[j], bounds[j + 1]
                # the piece containing h on this sub-cell: test its midpoint (or an inside point)
                if math.isinf(ua) and math.isinf(ub):
                    um = 0.0
                elif math.isinf(ua):
                    um = ub - 1.0
                elif math.isinf(ub):
                    um = ua + 1.0
                else:
                    um = 0.5 * (ua + ub)
                hm = Ai * um + Bi
                k = int(np.searchsorted(bps, hm, side="right")) if bps.size else 0
                s, c = slopes[k], inter[k]
                gs = abs(sigma * s)
                ng = gi + math.log(gs) if (gs > 0 and gi > -np.inf) else -np.inf
                new.append((ua, ub, sigma * s * Ai, sigma * (s * Bi + c) + bias, ng))
        # merge neighbours that share the affine map and gain
        merged = [new[0]]
        for cell in new[1:]:
            p = merged[-1]
            if p[2] == cell[2] and p[3] == cell[3] and p[4] == cell[4]:
                merged[-1] = (p[0], cell[1], p[2], p[3], p[4])
            else:
                merged.append(cell)
        if len(merged) > _MAX_CELLS:
            raise ValueError(
                f"the piecewise-linear recursion split the input line into more than {_MAX_CELLS} cells "
                f"by depth {_}; use the quadrature law (piecewise=False) for this activation")
        lo = np.array([c[0] for c in merged])
        hi = np.array([c[1] for c in merged])
        A = np.array([c[2] for c in merged])
        B = np.array([c[3] for c in merged])
        logg = np.array([c[4] for c in merged])
    edges = np.append(lo, hi[-1])
    del log_sigma
    return edges, logg


def piecewise_law(pieces, sigma: float, q0: float, depth: int, bias: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Atoms (as ``log lambda``) and weights of the law at one parameter set; atoms merged.

    ``log lambda = 2 log|g|`` on each cell, weight = Gaussian mass of the cell.
    """
    edges, logg = cells(pieces, sigma, bias, depth)
    mass = gaussian_interval_mass(edges[:-1], edges[1:], q0)
    la = 2.0 * logg
    uniq, inv = np.unique(la, return_inverse=True)
    w = np.bincount(inv.ravel(), weights=mass, minlength=uniq.size)
    keep = w > 0
    return uniq[keep], w[keep]
