"""Composite Gauss-Legendre quadrature against normal laws, fixed and adaptive.

The smooth J Jᵀ laws (:mod:`rmt_idinit.identity`) integrate ``g(x)^(2k)`` against normal laws
``N(0, r_b)`` in a coordinate ``x`` shared by a whole batch of laws: panels in ``x`` for
``|x| >= 2^-20`` and in ``t = -log|x|`` below, where the density ``phi_r(e^-t) e^-t dt`` is kept
in logs because it underflows for ``t > 745``. Sharing the nodes lets every law of the batch that
has the same unit map (sigma, bias) reuse one evaluation of it, whatever its variance.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from . import gauss
from .errors import AccuracyWarning
from .gaussian import Z_MAX

__all__ = ["Z_MAX", "Z_C", "T0", "base_edges", "z_nodes", "log_panel_nodes", "adaptive_nodes"]

Z_C = 2.0 ** -20             # below |x| = 2^-20 the panels are in t = -log|x|
T0 = -math.log(Z_C)
GL_X, GL_W = gauss.legendre(16)
MAX_PANELS = 40_000
STALL_WARN = 1e-8            # relative error left by round-off-limited panels that is worth a warning
# Each log|g| at a node carries a rounding error of a few ulp of |log g|, common to all nodes of a
# unit map only in part; its effect on the terms g^(2k) is ~ eps |log E[lambda^k]|. A relative
# accuracy finer than this many such units is round-off, not quadrature error, and refining for
# it only splits panels until the cap (deep laws: |log E| ~ 1e8 at depth 1e9).
LOG_RESOLUTION_ULPS = 4.0
_EPS = 2.0 ** -52
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def base_edges(z_lo: float) -> np.ndarray:
    """Panel edges on z >= 0: [0, z_lo], octaves up to 1 (where a deep network with sigma > 1
    changes gain, |u| ~ sigma^(-l)), width 1/2 up to 12, width 2 up to 38.5."""
    edges = [0.0, z_lo]
    while edges[-1] < 1.0:
        edges.append(min(edges[-1] * 2.0, 1.0))
    edges += list(np.arange(1.5, 12.0 + 1e-9, 0.5)) + list(np.arange(14.0, Z_MAX, 2.0)) + [Z_MAX]
    return np.unique(np.asarray(edges))


def _panel_nodes(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes (n_panels, 16) and weights including the normal density phi(z)."""
    a, b = a[:, None], b[:, None]
    z = 0.5 * (b - a) * GL_X + 0.5 * (b + a)
    w = 0.5 * (b - a) * GL_W * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return z, w


def z_nodes(z_lo: float, symmetric: bool) -> tuple[np.ndarray, np.ndarray]:
    """Fixed composite Gauss-Legendre nodes in z with weights that include phi(z)."""
    e = base_edges(z_lo)
    z, w = _panel_nodes(e[:-1], e[1:])
    z, w = z.ravel(), w.ravel()
    if symmetric:
        return z, 2.0 * w
    return np.concatenate([-z[::-1], z]), np.concatenate([w[::-1], w])


def log_panel_nodes(a, b, kind, sign, log_var=None):
    """Gauss-Legendre nodes of panels ``[a, b]``, each (n_panels, 16).

    ``kind`` 0: a panel in x, weights ``w_GL phi_r(x)``; ``kind`` 1: a panel in ``t = -log|x|`` on
    the side ``sign``, ``x = sign exp(-t)``, weights ``w_GL phi_r(x) exp(-t)`` (the Jacobian), kept
    in logs. ``phi_r`` is the density of ``N(0, r)``, one ``r = exp(log_var)`` per law (default
    ``r = 1``). Returns ``x`` (0 where it underflows), ``t`` (NaN for x panels), the log weights
    (n_laws or 1, n_panels, 16) and a sort key that orders all nodes along the real line.
    """
    lv = np.zeros(1) if log_var is None else np.asarray(log_var, dtype=np.float64).ravel()
    a_, b_ = a[:, None], b[:, None]
    half = 0.5 * (b_ - a_)
    x = half * GL_X + 0.5 * (b_ + a_)
    in_t = (kind == 1)[:, None]
    tt = np.where(in_t, x, 0.0)
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        z = np.where(in_t, sign[:, None] * np.exp(-tt), x)
        base = np.log(half * GL_W) - tt
        # (laws, panels, 16) in place: one allocation for what can be 1e7 entries
        lw = np.multiply.outer(-0.5 * np.exp(-lv), z * z)
        lw += base[None]
        lw -= (_LOG_SQRT_2PI + 0.5 * lv)[:, None, None]
        key = np.where(in_t, sign[:, None] * (Z_C * T0) / np.where(in_t, x, 1.0), x)
    return z, np.where(in_t, x, np.nan), lw, key


def adaptive_nodes(eval_logg, a, b, kind, sign, fixed=None, tol: float = 1e-13, max_rounds: int = 64,
                   max_panels: int | None = None, log_var=None, rows=None, compact: bool = False):
    """Adaptive composite Gauss-Legendre quadrature for E[g^2] and E[g^4] over panels in x or t.

    A panel is split in two while (a) its 16-point estimate of the moments differs from the sum
    over its halves by more than the tolerance of the total, or (b) ``log g^2`` varies by more
    than 4 across its nodes and the panel can still matter: narrow gain peaks (units near an
    unstable fixed point, e.g. tanh with sigma > 1 or gelu, grow like mu^L over a width mu^(-L))
    dominate the moments of deep networks and are invisible to any fixed grid. The test is applied
    to every law of the batch at once (panels are shared). All sums are carried scaled by their
    running maximum, so moments far outside double range are estimated as well.

    The tolerance of law ``b`` and moment ``k`` is ``max(tol, 4 eps |log E_b[g^(2k)]|)``: the
    rounding of ``log g`` itself (a few ulp of ``|log g|``) limits the relative accuracy of the
    terms to that, so refining further would only split panels until the cap.

    ``eval_logg(x, t)`` returns ``log|g|`` of shape (n_batch, x.size) (``t`` NaN for x nodes).
    ``fixed``: optional ``(x, log_w, log_g, key)`` nodes taken as they are (the closed-form tail);
    ``log_w`` is (n_fixed,) or (n_laws, n_fixed). ``log_var``: optional (n_batch,) log variance of
    each law's normal law in ``x`` (default: all standard normal). ``rows``: optional (n_batch,)
    index of each law's row in what ``eval_logg`` returns, when laws share their log-gains (same
    unit map and depth, other q0): then ``eval_logg`` returns (n_rows, x.size) and ``log_g`` of
    the fixed nodes is (n_rows, n_fixed).
    Returns the nodes sorted along the real line: ``x``, log weights ((n,) without ``log_var``,
    else (n_batch, n)) and ``log|g|`` (n_batch, n), one row per law; warns with :class:`AccuracyWarning` when a cap
    stops the refinement or round-off stalls it early. With ``compact`` it returns
    ``(x, log_w, wrow, log_g, lrow)`` without one row per law: ``log_w`` (n_q, n) one row per
    distinct log variance, ``wrow`` (n_batch,) each law's row of it, ``log_g`` (n_rows, n) as
    ``eval_logg`` returns it and ``lrow`` (n_batch,) each law's row of that.

    Laws share their weights as they share their gains: the weights depend on the law only
    through its variance, so they are built once per distinct variance (the q0 of a grid) and
    the panel sums factor into a gain part and a weight part (:func:`kernels.panel_stats`).
    """
    from .kernels import panel_factors, panel_stats, panel_top   # numba: imported when a law is integrated

    max_panels = MAX_PANELS if max_panels is None else int(max_panels)
    ks = np.array([1.0, 2.0])[:, None, None]

    def top_of(lg_, lw_):
        """(2, B): the largest finite term of E[g^2], E[g^4] over these panels, and the panel
        factors of ``(lg_, lw_)`` for :func:`stats` of the same panels."""
        lg_, lw_ = np.ascontiguousarray(lg_), np.ascontiguousarray(lw_)
        f = panel_factors(lg_, lw_)
        out = np.empty((2, lrow.size))
        panel_top(lg_, lw_, lrow, wrow, out, factors=f)
        return out, f

    def stats(lg_, lw_, top_, f):
        """Per panel: moment sums scaled by ``top_`` (2, B, n), max/min finite ``2 log g`` (B, n)
        and the log of the panel's normal mass, per law (B, n)."""
        lg_, lw_ = np.ascontiguousarray(lg_), np.ascontiguousarray(lw_)
        n_b, n_p = lrow.size, lg_.shape[1]
        sums, hi_, lo_ = np.empty((2, n_b, n_p)), np.empty((n_b, n_p)), np.empty((n_b, n_p))
        log_mass = np.empty((lw_.shape[0], n_p))
        panel_stats(lg_, lw_, lrow, wrow, np.ascontiguousarray(top_), sums, hi_, lo_, log_mass, factors=f)
        return sums, hi_, lo_, log_mass[wrow]

    if log_var is None:
        lv_u, wrow_in = None, None
    else:
        # one weight row per distinct variance: a q0 grid shares them across its sigmas
        lv_u, wrow_in = np.unique(np.asarray(log_var, dtype=np.float64).ravel(), return_inverse=True)
    z, t, lw, key = log_panel_nodes(a, b, kind, sign, lv_u)
    n_w = lw.shape[0]
    lg = eval_logg(z.ravel(), t.ravel()).reshape(-1, a.size, 16)
    n_rows = lg.shape[0]
    lrow = np.arange(n_rows) if rows is None else np.ascontiguousarray(rows, dtype=np.int64)
    n_batch = lrow.size
    wrow = np.zeros(n_batch, dtype=np.int64) if wrow_in is None else np.ascontiguousarray(wrow_in.ravel(), dtype=np.int64)
    done = {"z": [], "lw": [], "lg": [], "key": []}
    top, fac = top_of(lg, lw)
    if fixed is not None:
        fz, flw, flg, fkey = fixed
        flw = np.atleast_2d(flw)
        # given once or per law: one row per distinct variance, as the panels' weights
        if flw.shape[0] == 1:
            flw = np.repeat(flw, n_w, axis=0)
        elif flw.shape[0] == n_batch:
            flw = flw[np.unique(wrow, return_index=True)[1]]
        else:
            raise ValueError(f"fixed log weights need 1 or {n_batch} rows, got {flw.shape[0]}")
        ftop, ffac = top_of(flg[:, None, :], flw[:, None, :])
        top = np.maximum(top, ftop)
        for name, v in zip(("z", "lw", "lg", "key"), (fz, flw, flg, fkey)):
            done[name].append(v)
    top = np.where(np.isfinite(top), top, 0.0)
    done_tot = np.zeros((2, n_batch)) if fixed is None else stats(flg[:, None, :], flw[:, None, :], top, ffac)[0][:, :, 0]
    est, hi_, lo_, log_mass = stats(lg, lw, top, fac)
    prev_err = np.full(a.size, np.inf)
    capped_err = None
    stalled_err = 0.0
    reason = ""
    for _ in range(max_rounds):
        if a.size == 0:
            break
        n = a.size
        mid = 0.5 * (a + b)
        zc, tc, lwc, keyc = log_panel_nodes(np.concatenate([a, mid]), np.concatenate([mid, b]),
                                            np.concatenate([kind, kind]), np.concatenate([sign, sign]), lv_u)
        lgc = eval_logg(zc.ravel(), tc.ravel()).reshape(-1, 2 * n, 16)
        ctop, cfac = top_of(lgc, lwc)
        new_top = np.maximum(top, ctop)
        new_top = np.where(np.isfinite(new_top), new_top, top)
        with np.errstate(under="ignore"):
            rescale = np.exp(top - new_top)
        est, done_tot, top = est * rescale[:, :, None], done_tot * rescale, new_top
        est_c, hi_c, lo_c, mass_c = stats(lgc, lwc, top, cfac)
        children = est_c[:, :, :n] + est_c[:, :, n:]
        total = np.maximum(done_tot + np.sum(children, axis=-1), 1e-300)  # (2, B)
        with np.errstate(invalid="ignore", divide="ignore"):
            log_moment = np.log(total) + top
            tol_k = np.maximum(tol, LOG_RESOLUTION_ULPS * _EPS * np.where(np.isfinite(log_moment),
                                                                           np.abs(log_moment), 0.0))
            rel = np.abs(est - children) / total[:, :, None]
        rel = np.where(np.isnan(rel), np.inf, rel)
        err = np.max(rel, axis=(0, 1))
        # in units of each law's own tolerance: > 1 means the panel still has to be split
        err_u = np.max(rel / tol_k[:, :, None], axis=(0, 1))
        with np.errstate(invalid="ignore", over="ignore", under="ignore", divide="ignore"):
            spread = np.where(np.isfinite(hi_) & np.isfinite(lo_), hi_ - lo_, 0.0)  # (B, n)
            # log of what the panel could carry if its largest node value held throughout, relative
            # to the total: the criterion that finds peaks hidden between nodes
            peak = ks * hi_[None]  # (2, B, n): max of 2k log g, k = 1, 2
            worth = np.max(peak + log_mass[None] - (np.log(total) + top)[:, :, None], axis=0)
        sharp = np.any((spread > 4.0) & (worth > math.log(tol) - 5.0), axis=0)
        tiny = (b - a) <= 1e-14 * np.maximum(1.0, np.abs(a))
        # Gauss-Legendre error falls ~2^-32 per halving on a smooth panel; an estimate that stops
        # falling at deep zoom is round-off in the integrand itself (amplified mu^L near an
        # unstable fixed point), which no further splitting can remove.
        stagnant = (err > 0.5 * prev_err) & ((b - a) < 1e-6 * np.maximum(1.0, np.abs(a)))
        split = (((err_u > 1.0) & ~stagnant) | sharp) & ~tiny
        keep = ~split
        stalled_err += float(np.sum(np.where(keep & (err_u > 1.0), err, 0.0)))
        idx = np.nonzero(split)[0]
        capped = 2 * idx.size > max_panels
        # accept the children of converged panels (they are the better estimate); at the cap, those
        # of the unconverged ones too: they replace their parents (never both)
        take = np.ones(n, dtype=bool) if capped else keep
        for side in (slice(0, n), slice(n, 2 * n)):
            done["z"].append(zc[side][take].ravel())
            done["lw"].append(lwc[:, side][:, take].reshape(n_w, -1))
            done["lg"].append(lgc[:, side][:, take].reshape(n_rows, -1))
            done["key"].append(keyc[side][take].ravel())
        done_tot = done_tot + np.sum(children[:, :, take], axis=-1)
        if capped:
            capped_err = float(np.sum(err[idx]))
            reason = f"panel cap ({max_panels} panels)"
            a = a[:0]
            break
        a = np.concatenate([a[idx], mid[idx]])
        b = np.concatenate([mid[idx], b[idx]])
        kind = np.concatenate([kind[idx], kind[idx]])
        sign = np.concatenate([sign[idx], sign[idx]])
        lg = np.concatenate([lgc[:, :n][:, idx], lgc[:, n:][:, idx]], axis=1)
        lw = np.concatenate([lwc[:, :n][:, idx], lwc[:, n:][:, idx]], axis=1)
        hi_ = np.concatenate([hi_c[:, :n][:, idx], hi_c[:, n:][:, idx]], axis=1)
        lo_ = np.concatenate([lo_c[:, :n][:, idx], lo_c[:, n:][:, idx]], axis=1)
        log_mass = np.concatenate([mass_c[:, :n][:, idx], mass_c[:, n:][:, idx]], axis=1)
        z = np.concatenate([zc[:n][idx], zc[n:][idx]])
        key = np.concatenate([keyc[:n][idx], keyc[n:][idx]])
        est = np.concatenate([est_c[:, :, :n][:, :, idx], est_c[:, :, n:][:, :, idx]], axis=2)
        prev_err = np.concatenate([err[idx], err[idx]]) / 2.0
    if a.size:  # unconverged panels (round limit): keep their finest evaluation
        done["z"].append(z.ravel())
        done["lw"].append(lw.reshape(n_w, -1))
        done["lg"].append(lg.reshape(n_rows, -1))
        done["key"].append(key.ravel())
        capped_err = float(np.sum(prev_err))
        reason = f"round limit ({max_rounds} halvings)"
    if capped_err is not None:
        warnings.warn(AccuracyWarning(
            f"adaptive quadrature of the smooth J J^T law stopped at its {reason} before reaching "
            f"relative accuracy {tol:g} in E[lambda] and E[lambda^2]", error_estimate=capped_err), stacklevel=3)
    elif stalled_err > STALL_WARN:
        warnings.warn(AccuracyWarning(
            "adaptive quadrature of the smooth J J^T law: round-off in the unit map (amplified near "
            "an unstable fixed point) limits the relative accuracy of E[lambda] and E[lambda^2]",
            error_estimate=stalled_err), stacklevel=3)
    zz = np.concatenate(done["z"])
    ww = np.concatenate(done["lw"], axis=1)
    gg = np.concatenate(done["lg"], axis=1)
    order = np.argsort(np.concatenate(done["key"]), kind="stable")
    ww = ww[:, order]
    gg = gg[:, order]
    if compact:
        return zz[order], ww, wrow, gg, lrow
    gg = gg if rows is None else gg[lrow]
    return zz[order], (ww[0] if log_var is None else ww[wrow]), gg
