"""Level sets of the per-unit gain ``log|g_L(u)|`` and their Gaussian masses, plus the bracketing
searches the selection builds on (first crossing in ``q0``, bisection on a log scale or on the
integers).

``{u : log|g_l(u)| < level}`` does not depend on ``q0``: its boundary points are bracketed on a
log-spaced u-grid (plus u = 0) by one numba pass of the layer map, then bisected to round-off. The
mass of the set under ``N(0, q0)`` for any ``q0`` is then a sum of Gaussian interval masses (erfc in
the tails, so tiny dead fractions keep their relative accuracy).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .._core.gaussian import interval_mass as gauss_interval  # P(a < u < b), u ~ N(0, sd^2)

PER_DECADE = 24          # u-grid density for bracketing level crossings
Q0_SEARCH = (1e-30, 1e12)


@dataclass
class LevelSets:
    """Sets ``{u : log|g_l(u)| < level_k}`` for layers ``record`` and sigmas ``sigma``.

    ``bounds[k, r, p, :]`` = ``[-inf, roots..., +inf, +inf...]``; segment i is inside the set
    iff ``state0 XOR (i odd)``.
    """

    sigma: np.ndarray
    record: np.ndarray
    levels: np.ndarray
    state0: np.ndarray      # (K, R, P) bool: is the leftmost segment inside
    bounds: np.ndarray      # (K, R, P, M + 2)

    def mass(self, sd: np.ndarray, k: int, r: Any = slice(None), p: Any = slice(None)) -> np.ndarray:
        """Gaussian mass for std ``sd`` broadcast against the selected ``(r, p)`` block."""
        b = self.bounds[k][r, p]                           # (..., M + 2)
        st = self.state0[k][r, p]
        nseg = b.shape[-1] - 1
        inside = st[..., None] ^ (np.arange(nseg) % 2 == 1)
        sd = np.asarray(sd, dtype=np.float64)[..., None]
        m = gauss_interval(b[..., :-1], b[..., 1:], sd)
        return np.sum(np.where(inside, m, 0.0), axis=-1)


def u_grid(u_lo: float, u_hi: float) -> np.ndarray:
    """Symmetric log-spaced grid ``[-u_hi, ..., -u_lo, 0, u_lo, ..., u_hi]``."""
    u_lo = max(u_lo, 1e-300)
    n = max(16, int(math.ceil(math.log10(u_hi / u_lo) * PER_DECADE)) + 1)
    pos = np.geomspace(u_lo, u_hi, n)
    return np.concatenate([-pos[::-1], [0.0], pos])


def level_sets(act, sigma: np.ndarray, record: np.ndarray, levels: Sequence[float],
               q0_range: tuple[float, float]) -> LevelSets:
    """Bracket on a u-grid and bisect (numba) every crossing of ``log|g_l(u)|`` with each level."""
    from ..recursion import refine_roots, run_layers  # lazy: numba loads on first use

    sigma = np.atleast_1d(np.asarray(sigma, dtype=np.float64))
    record = np.atleast_1d(np.asarray(record, dtype=np.int64))
    levels = np.asarray(levels, dtype=np.float64)
    L = int(record.max())
    u_lo = 1e-3 * math.sqrt(q0_range[0])
    smax = float(sigma.max())
    if smax > 1.0:  # sigma > 1 amplifies |u| ~ sigma^(-L) into the nonlinearity
        u_lo = min(u_lo, 1e-2 * math.exp(-min(L * math.log(smax), 690.0)))
    u = u_grid(u_lo, 40.0 * math.sqrt(q0_range[1]))
    P, R, K = sigma.size, record.size, levels.size
    lg, _ = run_layers(act, sigma, np.zeros(P), np.broadcast_to(u, (P, u.size)), record)  # (R, P, U)
    state0 = np.empty((K, R, P), dtype=bool)
    per_k = []
    for k, level in enumerate(levels):
        below = lg < level
        state0[k] = below[..., 0]
        r_i, p_i, j = np.nonzero(below[..., 1:] != below[..., :-1])
        roots = refine_roots(act, sigma[p_i], np.zeros(p_i.size), record[r_i], u[j], u[j + 1],
                             lg[r_i, p_i, j] - level, np.full(p_i.size, level)) if p_i.size else np.empty(0)
        per_k.append((r_i, p_i, roots))
    M = max([int(np.max(np.bincount(r_i * P + p_i), initial=0)) if r_i.size else 0
             for r_i, p_i, _ in per_k] + [0])
    bounds = np.full((K, R, P, M + 2), np.inf)
    bounds[..., 0] = -np.inf
    for k, (r_i, p_i, roots) in enumerate(per_k):
        if not r_i.size:
            continue
        flat = r_i * P + p_i                     # nonzero() yields them sorted by (r, p, j)
        start = np.searchsorted(flat, flat, side="left")
        slot = np.arange(flat.size) - start + 1
        bounds[k, r_i, p_i, slot] = roots
    return LevelSets(sigma, record, levels, state0, bounds)


def q0_span(q0: np.ndarray) -> tuple[float, float]:
    return float(np.min(q0)), float(np.max(q0))


def first_crossing(dead_of_q0: Callable[[np.ndarray], np.ndarray], eps: float) -> float:
    """sup{q0: dead(q') <= eps for all q' <= q0}: a log scan, then bisection of ``log dead - log eps``
    in the bracket (one curve of :func:`first_crossings`)."""
    return float(first_crossings(lambda q: np.asarray(dead_of_q0(q[..., 0]), dtype=np.float64)[..., None], eps, 1)[0])


def first_crossings(dead_of_q0: Callable[[np.ndarray], np.ndarray], eps: float, n: int) -> np.ndarray:
    """sup{q0: dead(q') <= eps for all q' <= q0} for ``n`` independent curves at once.

    ``dead_of_q0(q)`` maps q0 of shape ``(..., n)`` (curve ``p`` in the last axis) to the dead
    fractions of the same shape. A log scan over ``Q0_SEARCH`` brackets each first crossing (inf
    when there is none, 0 when the first point is already over); every bracket is then bisected
    together on ``log dead - log eps`` (relative accuracy of tiny eps), one vectorized evaluation
    per halving.
    """
    lq = np.linspace(math.log(Q0_SEARCH[0]), math.log(Q0_SEARCH[1]), 400)
    dead = np.asarray(dead_of_q0(np.broadcast_to(np.exp(lq)[:, None], (lq.size, n))), dtype=np.float64)
    over = dead > eps
    first = np.where(over.any(axis=0), np.argmax(over, axis=0), -1)
    out = np.full(n, math.inf)
    out[first == 0] = 0.0
    todo = np.nonzero(first > 0)[0]
    if todo.size:
        lo, hi = lq[first[todo] - 1], lq[first[todo]]
        log_eps = math.log(eps)
        # the bracket is (log 1e12 - log 1e-30)/399 = 0.24 wide: 60 halvings reach its round-off
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            q = np.full(n, math.exp(lq[0]))
            q[todo] = np.exp(mid)
            with np.errstate(divide="ignore"):
                f = np.log(np.maximum(np.asarray(dead_of_q0(q), dtype=np.float64)[todo], 1e-320)) - log_eps
            below = f < 0
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
            if np.all(hi - lo <= 1e-15 * np.maximum(np.abs(lo), 1.0)):
                break
        out[todo] = np.exp(0.5 * (lo + hi))
    return out


def bisect_log(ok: Callable[[float], bool], good: float, bad: float, rel: float = 1e-4) -> float:
    """The boundary between ``ok(good) is True`` and ``ok(bad) is False``, by bisection in logs."""
    a, b = math.log(good), math.log(bad)
    while abs(b - a) > rel:
        m = 0.5 * (a + b)
        if ok(math.exp(m)):
            a = m
        else:
            b = m
    return math.exp(a)


def bisect_int(ok: Callable[[int], bool], good: int, bad: int) -> int:
    """The largest integer ``n`` in ``[good, bad)`` with ``ok(n)``, given ``ok(good)`` and not ``ok(bad)``
    (assumes one change of sign between them)."""
    while bad - good > 1:
        m = (good + bad) // 2
        if ok(m):
            good = m
        else:
            bad = m
    return good


def first_failure(ok: Callable[[int], bool], limit: int) -> int | None:
    """The smallest ``n`` in ``1..limit`` with ``not ok(n)``, for a predicate that stays False once it
    turns False (``None`` if ``ok`` holds through ``limit``): doubling, then :func:`bisect_int`, so
    O(log limit) calls instead of a scan of every n."""
    if not ok(1):
        return 1
    good, n = 1, 2
    while n <= limit and ok(n):
        good, n = n, 2 * n
    if n > limit:
        if ok(limit):
            return None
        n = limit
    return bisect_int(ok, good, n) + 1
