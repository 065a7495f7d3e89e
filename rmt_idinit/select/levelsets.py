"""Level sets of the per-unit gain ``log|g_L(u)|`` and their Gaussian masses, plus the bracketing
searches the selection builds on (first crossing in ``q0``, bisection on a log scale or on the
integers).

``{u : log|g_l(u)| < level}`` does not depend on ``q0``: its boundary points are bracketed on a
log-spaced u-grid (plus u = 0) by one numba pass of the layer map, then refined to neighbouring
doubles. The mass of the set under ``N(0, q0)`` for any ``q0`` is then a sum of Gaussian interval
masses (erfc in the tails, so tiny dead fractions keep their relative accuracy).

An even gain non-increasing in ``|u|`` (records with ``even_decreasing_gain``: tanh, erf) crosses
each level at most once on ``u > 0``: a coarse grid of the half line brackets that root, the set is
``{|u| > r}`` (or its complement), its mass one erfc, and its first crossing in ``q0`` a closed form.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from scipy import special

from .._core.gaussian import interval_mass as gauss_interval  # P(a < u < b), u ~ N(0, sd^2)

PER_DECADE = 24          # u-grid density for bracketing level crossings
PER_DECADE_MONOTONE = 3  # the same on u >= 0 for a gain monotone in |u| (one crossing a level)
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
        sd = np.asarray(sd, dtype=np.float64)
        if b.shape[-1] == 2:                               # no set has a boundary point
            return np.where(st, 1.0, 0.0) + np.zeros(sd.shape)
        if b.shape[-1] == 4 and np.all((b[..., 1] == -b[..., 2]) | (b[..., 1] == np.inf)):
            # every set is {|u| > c} or {|u| < c} (an even gain), or has no boundary (c = 0 then
            # gives 1 and 0): one erfc or erf, the same numbers as the sum of three cells
            c = np.where(b[..., 1] == np.inf, 0.0, b[..., 2])
            x = c / (math.sqrt(2.0) * sd)
            tails = np.broadcast_to(st, x.shape)
            out = np.empty(x.shape)
            special.erfc(x, out=out, where=tails)       # each element's one special function
            special.erf(x, out=out, where=~tails)
            return out
        nseg = b.shape[-1] - 1
        inside = st[..., None] ^ (np.arange(nseg) % 2 == 1)
        m = gauss_interval(b[..., :-1], b[..., 1:], sd[..., None])
        return np.sum(np.where(inside, m, 0.0), axis=-1)


def u_grid(u_lo: float, u_hi: float) -> np.ndarray:
    """Symmetric log-spaced grid ``[-u_hi, ..., -u_lo, 0, u_lo, ..., u_hi]``."""
    u_lo = max(u_lo, 1e-300)
    n = max(16, int(math.ceil(math.log10(u_hi / u_lo) * PER_DECADE)) + 1)
    pos = np.geomspace(u_lo, u_hi, n)
    return np.concatenate([-pos[::-1], [0.0], pos])


def half_grid(u_lo: float, u_hi: float, per_decade: int) -> np.ndarray:
    """``[0, u_lo, ..., u_hi]``, log-spaced at ``per_decade`` points a decade."""
    u_lo = max(u_lo, 1e-300)
    n = max(2, int(math.ceil(math.log10(u_hi / u_lo) * per_decade)) + 1)
    return np.concatenate([[0.0], np.geomspace(u_lo, u_hi, n)])


def level_sets(act, sigma: np.ndarray, record: np.ndarray, levels: Sequence[float],
               q0_range: tuple[float, float]) -> LevelSets:
    """Bracket on a u-grid and bisect (numba) every crossing of ``log|g_l(u)|`` with each level.

    An activation with ``even_decreasing_gain`` (phi odd, phi' non-increasing in ``|h|``; no bias
    here) has ``g_l`` even and non-increasing in ``|u|``: each level is crossed at most once on
    ``u > 0``, so a coarse grid of ``u >= 0`` brackets that one crossing as surely as the fine
    grid (there is no pair of crossings a coarse step could step over), and the set is mirrored.
    A record whose gain turns out not to be monotone on that grid takes the full grid instead.
    """
    sigma = np.atleast_1d(np.asarray(sigma, dtype=np.float64))
    record = np.atleast_1d(np.asarray(record, dtype=np.int64))
    levels = np.asarray(levels, dtype=np.float64)
    L = int(record.max())
    u_lo = 1e-3 * math.sqrt(q0_range[0])
    smax = float(sigma.max())
    if smax > 1.0:  # sigma > 1 amplifies |u| ~ sigma^(-L) into the nonlinearity
        u_lo = min(u_lo, 1e-2 * math.exp(-min(L * math.log(smax), 690.0)))
    u_hi = 40.0 * math.sqrt(q0_range[1])
    if act.even_decreasing_gain:
        sets = _crossings(act, sigma, record, levels, half_grid(u_lo, u_hi, PER_DECADE_MONOTONE), True)
        if sets is not None:
            return sets
    return _crossings(act, sigma, record, levels, u_grid(u_lo, u_hi), False)


def _crossings(act, sigma, record, levels, u, even) -> LevelSets | None:
    """The level sets from the crossings on grid ``u``: the whole line, or with ``even`` the half
    line ``u >= 0`` of a monotone even gain (None if some level is crossed twice there)."""
    from ..recursion import log_gain_units, refine_roots, refine_roots_units, run_layers  # lazy: numba

    P, R, K = sigma.size, record.size, levels.size
    if even:
        # few points a sigma: packed across sigmas into full SIMD blocks (run_layers' rows are one
        # sigma each); the same values as run_layers, and the roots are refined on the same kernel
        rr, pp, jj = np.meshgrid(record, sigma, u, indexing="ij")
        lg = log_gain_units(act, pp.ravel(), 0.0, jj.ravel(), rr.ravel()).reshape(R, P, u.size)
    else:
        lg, _ = run_layers(act, sigma, np.zeros(P), np.broadcast_to(u, (P, u.size)), record)  # (R, P, U)
    state0 = np.empty((K, R, P), dtype=bool)
    per_k = []
    for k, level in enumerate(levels):
        below = lg < level
        # the leftmost segment: u = -u_hi, the mirror of u_hi on the half line
        state0[k] = below[..., -1] if even else below[..., 0]
        r_i, p_i, j = np.nonzero(below[..., 1:] != below[..., :-1])
        flat = r_i * P + p_i                     # nonzero() yields them sorted by (r, p, j)
        if even and flat.size and np.any(flat[1:] == flat[:-1]):
            return None
        per_k.append((r_i, p_i, j, level))
    if even:  # every level's roots in one lockstep refinement
        r_a, p_a, j_a = (np.concatenate([t[i] for t in per_k]) for i in range(3))
        lev_a = np.concatenate([np.full(t[0].size, t[3]) for t in per_k])
        roots_a = refine_roots_units(act, sigma[p_a], 0.0, record[r_a], u[j_a], u[j_a + 1],
                                     lg[r_a, p_a, j_a] - lev_a, lg[r_a, p_a, j_a + 1] - lev_a, lev_a) \
            if r_a.size else np.empty(0)
        ends = np.cumsum([0] + [t[0].size for t in per_k])
        per_k = [(t[0], t[1], roots_a[a:e]) for t, a, e in zip(per_k, ends[:-1], ends[1:])]
    else:
        per_k = [(r_i, p_i, refine_roots(act, sigma[p_i], np.zeros(p_i.size), record[r_i], u[j], u[j + 1],
                                         lg[r_i, p_i, j] - level, np.full(p_i.size, level))
                  if p_i.size else np.empty(0)) for r_i, p_i, j, level in per_k]
    M = max([int(np.max(np.bincount(r_i * P + p_i), initial=0)) if r_i.size else 0
             for r_i, p_i, _ in per_k] + [0])
    bounds = np.full((K, R, P, (2 * M if even else M) + 2), np.inf)
    bounds[..., 0] = -np.inf
    for k, (r_i, p_i, roots) in enumerate(per_k):
        if not r_i.size:
            continue
        if even:  # one root r a set: [-inf, -r, r, inf]
            bounds[k, r_i, p_i, 1] = -roots
            bounds[k, r_i, p_i, 2] = roots
            continue
        flat = r_i * P + p_i
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


def set_first_crossings(sets: LevelSets, eps: float, k: int = 0, r: int = 0) -> np.ndarray:
    """:func:`first_crossings` of the mass of set ``k`` at record ``r``, one curve per sigma.

    A set of the form ``{|u| > c}`` (what an even gain non-increasing in ``|u|`` gives) has mass
    ``erfc(c / sqrt(2 q0))``, increasing in ``q0``, so its first crossing is the closed form
    ``q0 = c^2 / (2 erfcinv(eps)^2)`` (inf past the search range, 0 before it, as the scan would
    say); the empty and the full set need no search either. The other curves go through
    :func:`first_crossings`, which then evaluates only their masses.
    """
    b = sets.bounds[k, r]                       # (P, M + 2)
    st = sets.state0[k, r]
    n_roots = np.sum(np.isfinite(b), axis=-1)
    out = np.full(st.shape, np.nan)
    out[(n_roots == 0) & st] = 0.0              # all of the line: dead = 1 > eps at once
    out[(n_roots == 0) & ~st] = math.inf
    if b.shape[-1] >= 4:
        tails = (n_roots == 2) & st & (b[:, 1] == -b[:, 2]) & (b[:, 2] > 0.0)
        c = b[tails, 2]
        q = (c / special.erfcinv(eps)) ** 2 / 2.0
        q_first, q_last = math.exp(math.log(Q0_SEARCH[0])), math.exp(math.log(Q0_SEARCH[1]))
        out[tails] = np.where(q < q_first, 0.0, np.where(q >= q_last, math.inf, q))
    rest = np.nonzero(np.isnan(out))[0]
    if rest.size:
        out[rest] = first_crossings(lambda qq: sets.mass(np.sqrt(qq), k, r, rest), eps, rest.size)
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
