"""Limiting spectral law of J Jᵀ at random initialization, by free probability (Pennington et al.).

docs/theory/random_init.md. For ``J = D^L W^L ... D^1 W^1`` with i.i.d. random orthogonal or Gaussian
``W^l`` (variance ``sigma_w^2 / N``) and inputs at the mean-field fixed point ``q*``, every
``D^l`` has the law of ``phi'(sqrt(q*) z)`` and the S-transforms multiply::

    S_{JJᵀ}(z) = (S_{WWᵀ}(z) S_{D^2}(z))^L,
    S_{WWᵀ} = sigma_w^-2 (orthogonal),  1 / (sigma_w^2 (1 + z)) (Gaussian).

Write ``nu`` for the law of ``D~^2 = D^2 / mu1`` (mean 1, ``mu_k = E[phi'^(2k)]``) and
``chi1 = sigma_w^2 mu1``; then the law of J Jᵀ is ``chi1^L`` times the law with unit weights and
``D~``. Rather than inverting ``M_nu`` we parametrize by ``x = M_nu^{-1}(M)`` (so that
``S_nu(M) = (1 + M) / (M x)``) with ``M = M_nu(x) = E_nu[d / (x - d)]``::

    orthogonal: lambda = x^L (M / (1 + M))^(L-1),
    Gaussian:   lambda = x^L M^(L-1) (1 + M),

which for Bernoulli-class activations (relu, hard-tanh: ``D^2`` in {0, 1}, ``P(1) = p``, so
``nu = (1-p) delta_0 + p delta_{1/p}`` and ``x = (M + p)/(p M)``) is exactly the
``lambda M p^L (1+M)^(L-1) = (p+M)^L`` and ``lambda M = (1+M)(1+M/p)^L`` of docs/theory/random_init.md. Smooth activations use a
768-node quadrature of ``nu`` (graded towards ``z = 0`` where ``d`` is largest). The density is
``rho(lambda) = -Im M(lambda + i0) / (pi lambda)`` (``G = (1 + M)/lambda``, ``Im G < 0``).

Physical branch: for every lambda the root is continued, in ``log lambda + i theta``, first from
``lambda = e^10 lambda_max`` at ``theta = 1`` (where ``x ~ lambda``) down the sorted grid, then
for each point from ``theta = 1`` to ``theta = 1e-13`` in geometric steps with a safeguarded
Newton that keeps ``Im x > 0``. The path stays in the upper half plane, where the
Stieltjes transform is analytic, so it cannot jump branches; each Newton step costs O(1) for
Bernoulli-class activations whatever the depth (the L-th powers are taken in logs).

Atoms: ``1 - p`` at 0 (rank of J); for orthogonal weights, an atom ``1 - L(1 - nu{d})`` at
``chi1^L d^L`` when the top atom ``d`` of ``nu`` has ``L (1 - nu{d}) < 1`` (a subspace on which all
``D~`` equal ``d``). The continuous part is tabulated
on Gauss-Legendre panels in a smooth variable (``log lambda = log lambda_max - t^2`` below the top
edge, a cosine map between two square-root edges), with the masses below and above every node
from a spectral integration matrix (each summed from its own end); between nodes the CDF is a
Hermite interpolant in coordinates where edges and tails are straight lines, and below the last
node the exact power law ``F ~ lambda^(1/L)`` (Bernoulli class) takes over. Everything is carried
in ``log lambda``, so the part of the law far below ``1e-300`` (most of it for deep nets) keeps
its mass and its place.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from .._core import checks as _checks
from .._core import gauss
from .._core.errors import AccuracyWarning
from . import meanfield as mf
from ..activations import Activation, get_activation
from ..laws import ContinuousPart
from .law import RandomInitLaw

__all__ = [
    "WEIGHT_KINDS",
    "RandomInit",
    "random_init",
    "jjt_moments",
    "jjt_edge",
    "jjt_density",
    "random_jjt_law",
    "RandomInitLaw",
    "fuss_catalan",
    "fuss_catalan_law",
]

WEIGHT_KINDS = ("orthogonal", "gaussian")
_THETA0 = 1.0
_THETA_MIN = 1e-13
_THETA_RATIO = 0.35
_MAX_GRID = 1 << 20  # nodes of a tabulated law: memory and time grow linearly with it
MAX_DEPTH = 100_000  # the continuation's log-lambda range (and time, ~20 s here) grows like depth
_SIGMA_MAX = math.sqrt(np.finfo(np.float64).max) / 2.0  # sigma^2 and q* stay finite below this


# --- parameters ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RandomInit:
    """A random-init setting at the mean-field fixed point.

    Attributes
    ----------
    activation : Activation
    weights : {"orthogonal", "gaussian"}
    sigma_w, sigma_b, q_star, chi1 : float
    """

    activation: Activation
    weights: str
    sigma_w: float
    sigma_b: float
    q_star: float
    chi1: float


def _weight_kind(weights: str) -> str:
    return _checks.check_choice("weights", weights.lower() if isinstance(weights, str) else weights, WEIGHT_KINDS)


def random_init(activation: str | Activation = "hardtanh", weights: str = "orthogonal", *,
                q_star: Any = None, sigma_w: Any = None, sigma_b: Any = None,
                critical: bool | None = None, rtol: float = 1e-8,
                **activation_params: float) -> RandomInit:
    """Resolve ``(sigma_w, sigma_b, q*)`` of a random initialization and check consistency.

    * neither ``sigma_w`` nor ``sigma_b``: the critical point with fixed point ``q_star``;
    * ``sigma_w`` and ``sigma_b``: ``q*`` from the q-map (a given ``q_star`` must be that fixed
      point to ``rtol``);
    * ``sigma_w`` and ``q_star``: ``sigma_b^2 = q* - sigma_w^2 E[phi^2]`` (must be >= 0);
    * ``sigma_b`` only: the critical point with that bias.

    ``critical=True`` (the default when ``sigma_w`` is not given) requires ``chi1 = 1`` to ``rtol``.

    Examples
    --------
    >>> ri = random_init("hardtanh", q_star=1.0)
    >>> round(ri.sigma_w ** 2, 5), round(ri.sigma_b ** 2, 6), ri.chi1
    (1.46479, 0.24408, 1.0)
    """
    act = get_activation(activation, **activation_params)
    kind = _weight_kind(weights)
    rtol = _checks.check_scalar("rtol", rtol, _checks.check_probability)
    for name, v in (("sigma_w", sigma_w), ("sigma_b", sigma_b), ("q_star", q_star)):
        if v is not None:
            x = _checks.check_scalar(name, v, _checks.check_nonnegative)
            if x >= _SIGMA_MAX ** (2 if name == "q_star" else 1):
                raise ValueError(f"{name} must be < {_SIGMA_MAX ** (2 if name == 'q_star' else 1):.4g} "
                                 f"(so that sigma^2, q* and chi1 stay finite in double precision), got {x!r}")
    if critical is not None and not isinstance(critical, (bool, np.bool_)):
        raise TypeError(f"critical must be True, False or None, got {critical!r}")
    if critical is None:
        critical = sigma_w is None
    if sigma_w is None:
        if not critical:
            raise ValueError("sigma_w must be given when critical=False")
        if sigma_b is not None and q_star is not None:
            raise ValueError("give q_star or sigma_b for a critical point, not both")
        if q_star is None and sigma_b is None:
            raise ValueError("q_star (or sigma_b) must be given to pick a point on the critical line")
        if q_star is not None:
            qs = _checks.check_scalar("q_star", q_star, _checks.check_positive)
            cp = mf.critical_line(qs, act)
        else:
            cp = mf.critical_line(activation=act, sigma_b=_checks.check_scalar("sigma_b", sigma_b, _checks.check_nonnegative))
        sw, sb, qs = float(cp.sigma_w), float(cp.sigma_b), float(cp.q_star)
    else:
        sw = _checks.check_scalar("sigma_w", sigma_w, _checks.check_positive)
        if sigma_b is None:
            if q_star is None:
                raise ValueError("sigma_b or q_star must be given with sigma_w")
            qs = _checks.check_scalar("q_star", q_star, _checks.check_positive)
            sb2 = qs - sw * sw * float(mf.phi_second_moment(qs, act))
            if sb2 < -rtol * max(qs, 1.0):
                raise ValueError(f"q_star={qs!r} is not a fixed point of the {act.name} q-map at "
                                 f"sigma_w={sw!r} for any sigma_b >= 0 (needs sigma_b^2 = {sb2:.6g})")
            sb = math.sqrt(max(sb2, 0.0))
        else:
            sb = _checks.check_scalar("sigma_b", sigma_b, _checks.check_nonnegative)
            if q_star is None:
                qs = float(mf.q_star(sw, sb, act))
            else:
                qs = _checks.check_scalar("q_star", q_star, _checks.check_positive)
                image = float(mf.q_map(qs, sw, sb, act))
                if abs(image - qs) > rtol * max(qs, 1.0):
                    raise ValueError(
                        f"q_star={qs!r} is not the fixed point of the {act.name} q-map at sigma_w={sw!r}, "
                        f"sigma_b={sb!r}: q_map(q_star) = {image!r} (the fixed point is "
                        f"{float(mf.q_star(sw, sb, act))!r})")
    if qs <= 0:
        raise ValueError(f"q_star must be > 0 for a nontrivial random-init law, got {qs!r} "
                         f"(sigma_w={sw!r}, sigma_b={sb!r})")
    c1 = float(mf.chi1(sw, activation=act, q=qs))
    if critical:
        if abs(c1 - 1.0) > rtol:
            raise ValueError(f"sigma_w={sw!r}, sigma_b={sb!r} is not critical for {act.name} at "
                             f"q_star={qs!r}: chi1 = {c1!r} != 1 (pass critical=False)")
        c1 = 1.0
    return RandomInit(act, kind, sw, sb, qs, c1)


# --- the law of D~^2 ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Nu:
    d: np.ndarray       # support points of nu (d > 0), ascending
    wd: np.ndarray      # nu-weights times d (what M_nu needs)
    w: np.ndarray       # nu-weights
    zero_mass: float    # nu({0}) = P(phi' = 0)
    exact: bool         # nu is exactly discrete (piecewise-linear activations)
    mu1: float
    mu2: float


def _nu(act: Activation, q: float) -> _Nu:
    if act.pieces is not None:
        return _nu_pieces(act.pieces, q)
    z, wz = gauss.normal_rule()
    zh, wh = gauss.normal_half_rule()
    if np.allclose(act.dphi(np.sqrt(q) * zh), act.dphi(-np.sqrt(q) * zh), rtol=1e-14, atol=0):
        z, wz = zh, wh  # even phi' (tanh, erf, sigmoid): half the nodes, half the cost
    dphi = np.asarray(act.dphi(np.sqrt(q) * z), dtype=np.float64)
    d2 = dphi * dphi
    mu1 = float(np.sum(wz * d2))
    mu2 = float(np.sum(wz * d2 * d2))
    keep = d2 > 0
    zero = float(np.sum(wz[~keep]))
    d, w = d2[keep] / mu1, wz[keep]
    order = np.argsort(d, kind="stable")
    d, w = d[order], w[order]
    return _Nu(d, w * d, w, zero, False, mu1, mu2)


def _nu_pieces(pieces, q: float) -> _Nu:
    """Exact discrete ``nu`` of a piecewise-linear phi: ``phi'^2`` is ``slope_i^2`` with the
    Gaussian mass of piece i (relu, hard-tanh: Bernoulli; linear: one atom at 1)."""
    s2 = np.asarray(pieces.slopes, dtype=np.float64) ** 2
    mass = pieces.masses(q)
    keep = (s2 > 0) & (mass > 0)
    s2, w = s2[keep], mass[keep]
    order = np.argsort(s2, kind="stable")
    s2, w = s2[order], w[order]
    mu1 = float(np.sum(w * s2))
    mu2 = float(np.sum(w * s2 * s2))
    # w s2 / mu1 (not w * d): exactly 1 for a single atom, as M_nu's Bernoulli form assumes
    return _Nu(s2 / mu1, (w * s2) / mu1, w, 1.0 - float(np.sum(w)), True, mu1, mu2)


# --- numba kernels ------------------------------------------------------------------------------

@numba.njit(cache=True)
def _eval(x, d, wd, w, z0, L, kind):
    """log lambda(x), its x-derivative and M = M_nu(x) (principal logs, continuous in the UHP).

    Where ``|1 + M| < 1/2``, ``1 + M`` is summed as ``nu{0} + sum_j w_j x / (x - d_j)``: without
    an atom at 0 (leaky relu, smooth phi) ``M -> -1`` as ``x -> 0``, and ``1 + M ~ x`` formed as a
    difference keeps only the digits of ``x`` above 1e-16, which stalls Newton in the
    small-lambda tail. Elsewhere ``1 + M`` itself (next to a pole ``x -> d_j`` it is the form
    consistent with ``M`` to the last bit, which the edge search needs).
    """
    M = 0j
    P = z0 + 0j
    dM = 0j
    for j in range(d.size):
        r = 1.0 / (x - d[j])
        M += wd[j] * r
        P += w[j] * x * r
        dM -= wd[j] * r * r
    if abs(1.0 + M) >= 0.5:
        P = 1.0 + M
    if kind == 0:
        f = L * np.log(x) + (L - 1.0) * (np.log(M) - np.log(P))
        df = L / x + (L - 1.0) * (dM / M - dM / P)
    else:
        f = L * np.log(x) + (L - 1.0) * np.log(M) + np.log(P)
        df = L / x + (L - 1.0) * dM / M + dM / P
    return f, df, M


@numba.njit(cache=True)
def _newton(x, target, d, wd, w, z0, L, kind):
    """Safeguarded Newton for log lambda(x) = target: keeps Im x > 0, backtracks on the residual."""
    f, df, M = _eval(x, d, wd, w, z0, L, kind)
    r = f - target
    # round-off floor of the residual: the L-fold logs carry ~L ulps of |log x|
    tol = 4e-16 * (L + 2.0) * (1.0 + abs(target))
    for _ in range(100):
        step = r / df
        t = 1.0
        ok = False
        for _ in range(60):
            xn = x - t * step
            if xn.imag > 0.0:
                fn, dfn, Mn = _eval(xn, d, wd, w, z0, L, kind)
                rn = fn - target
                if abs(rn) < abs(r) or abs(rn) < tol:
                    ok = True
                    break
            t *= 0.5
        if not ok:
            return x, M, abs(r) < 1e-9
        moved = abs(xn - x)
        x, f, df, M, r = xn, fn, dfn, Mn, rn
        if moved <= 1e-14 * abs(x) or abs(r) < tol:
            return x, M, True
    return x, M, abs(r) < 1e-9


@numba.njit(cache=True)
def _solve(u, d, wd, w, z0, L, kind, u_start, thetas):
    """M(lambda + i0) along ``u = log lambda`` (descending), by continuation (see module doc)."""
    n = u.size
    Mout = np.empty(n, dtype=np.complex128)
    status = np.ones(n, dtype=np.bool_)
    th0 = thetas[0]
    x = np.exp(u_start + 1j * th0)
    uc = u_start
    ok = True
    # walk down to the first grid point in bounded steps
    while uc > u[0]:
        uc = max(uc - 0.25, u[0])
        x, M, ok = _newton(x, uc + 1j * th0, d, wd, w, z0, L, kind)
    for i in range(n):
        if i > 0:
            # predictor: x ~ lambda^(1/L) locally dominates the change of log lambda
            step = u[i] - u[i - 1]
            nsub = int(abs(step) / 0.25) + 1
            for k in range(1, nsub + 1):
                x, M, ok = _newton(x, u[i - 1] + step * k / nsub + 1j * th0, d, wd, w, z0, L, kind)
        good = ok
        xt = x
        M = 0j
        for k in range(1, thetas.size):
            xt, M, okk = _newton(xt, u[i] + 1j * thetas[k], d, wd, w, z0, L, kind)
            good = good and okk
        if thetas.size == 1:
            xt, M, okk = _newton(xt, u[i] + 1j * th0, d, wd, w, z0, L, kind)
        Mout[i] = M
        status[i] = good
    return Mout, status


def _thetas() -> np.ndarray:
    k = int(math.ceil(math.log(_THETA_MIN / _THETA0) / math.log(_THETA_RATIO)))
    return _THETA0 * _THETA_RATIO ** np.arange(k + 1)


# --- edges, atoms -------------------------------------------------------------------------------

def _dlog(x: float, nu: _Nu, L: int, kind: int) -> tuple[float, float, float]:
    f, df, M = _eval(complex(x, 0.0), nu.d, nu.wd, nu.w, nu.zero_mass, float(L), kind)
    return f.real, df.real, M.real


def _top_atom(nu: _Nu, L: int, kind: int) -> tuple[float, float]:
    """(log location, mass) of the orthogonal-weights atom at ``d_top^L`` (mass 0 if none)."""
    if kind != 0 or not nu.exact:
        return 0.0, 0.0
    w_top = float(nu.w[-1])
    mass = 1.0 - L * (1.0 - w_top)
    return L * math.log(nu.d[-1]), max(mass, 0.0)


def _edge(nu: _Nu, L: int, kind: int) -> tuple[float, bool]:
    """Normalized ``log lambda_max`` of the continuous part; True when it is a square-root edge.

    On real ``x > max(nu)`` the map ``x -> lambda`` is real; its minimum is the upper edge. With no
    interior minimum (orthogonal weights and ``L (1 - nu{top}) <= 1``) the continuous part ends at
    the top atom ``d_top^L``.
    """
    dmax = float(nu.d[-1])
    lo, hi = math.log(dmax * 1e-15), math.log(dmax * 1e9 + 1e9)
    if _dlog(dmax + math.exp(lo), nu, L, kind)[1] >= 0.0:
        return L * math.log(dmax), False
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _dlog(dmax + math.exp(mid), nu, L, kind)[1] < 0.0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return _dlog(dmax + math.exp(0.5 * (lo + hi)), nu, L, kind)[0], True


def _gap_critical_values(nu: _Nu, L: int, kind: int) -> list[float]:
    """Critical values ``log lambda`` of real ``x`` inside the gaps of an atomic ``nu``.

    Between atoms of ``nu`` the map ``x -> lambda`` is real; where ``lambda > 0`` its local extrema
    are edges of the continuous support (e.g. the Marchenko-Pastur lower edge at depth 1, or the
    edge below the orthogonal top atom).
    """
    if not nu.exact:
        return []
    pts = np.concatenate([[0.0], nu.d])
    out = []
    s = 0.5 * (1.0 + np.tanh(np.linspace(-18.0, 18.0, 4001)))  # dense near both ends of a gap
    for a, b in zip(pts[:-1], pts[1:]):
        xs = a + (b - a) * s[1:-1]
        f, df = _eval_real(xs, nu, L, kind)
        positive = np.isfinite(f) & np.isfinite(df)
        for k in np.nonzero((np.sign(df[:-1]) != np.sign(df[1:])) & positive[:-1] & positive[1:])[0]:
            lo, hi = float(xs[k]), float(xs[k + 1])
            slo = np.sign(df[k])
            try:
                for _ in range(200):
                    mid = 0.5 * (lo + hi)
                    if np.sign(_eval_real(np.array([mid]), nu, L, kind)[1][0]) == slo:
                        lo = mid
                    else:
                        hi = mid
                    if hi - lo <= 2e-16 * abs(hi):
                        break
                xc = 0.5 * (lo + hi)
                fc_, dfc_ = _eval_real(np.array([xc]), nu, L, kind)
                fc, dfc = float(fc_[0]), float(dfc_[0])
            except ZeroDivisionError:
                continue
            # a sign change of f' across log M or log(1 + M) -> -inf is lambda -> 0, not an edge
            if math.isfinite(fc) and abs(dfc) * xc < 1e-3 * (L + 1):
                out.append(float(fc))
    return out


def _eval_real(x: np.ndarray, nu: _Nu, L: int, kind: int) -> tuple[np.ndarray, np.ndarray]:
    """log lambda(x) and its derivative on real x in a gap of ``nu``; NaN where lambda <= 0."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = 1.0 / (x[:, None] - nu.d[None, :])
        M = np.sum(nu.wd * r, axis=1)
        P = nu.zero_mass + np.sum(nu.w * x[:, None] * r, axis=1)
        P = np.where(np.abs(1.0 + M) >= 0.5, 1.0 + M, P)  # 1 + M without cancellation (see _eval)
        dM = -np.sum(nu.wd * r * r, axis=1)
        if kind == 0:
            ratio = M / P
            ok = (x > 0) & (ratio > 0 if (L - 1) % 2 else np.ones(x.shape, bool)) & (ratio != 0)
            f = L * np.log(x) + (L - 1) * np.log(np.abs(ratio))
            df = L / x + (L - 1) * (dM / M - dM / P)
        else:
            sign = np.sign(M) ** (L - 1) * np.sign(P)
            ok = (x > 0) & (sign > 0)
            f = L * np.log(x) + (L - 1) * np.log(np.abs(M)) + np.log(np.abs(P))
            df = L / x + (L - 1) * dM / M + dM / P
    return np.where(ok, f, np.nan), np.where(ok, df, np.nan)


@dataclass(frozen=True)
class _Support:
    intervals: tuple[tuple[float, float], ...]  # normalized log lambda; -inf lower end allowed
    u_top: float  # top of the continuous support


def _support(nu: _Nu, L: int, kind: int) -> _Support:
    u_edge, _ = _edge(nu, L, kind)
    bounds = []
    # the same critical value is found from several sign changes of the derivative, a few ulps
    # apart: merge them, or the sliver between two copies looks like a gap in the support
    for b in sorted(_gap_critical_values(nu, L, kind) + [u_edge]):
        if b <= u_edge + 1e-12 and (not bounds or b - bounds[-1] > 1e-12 * max(1.0, abs(b))):
            bounds.append(b)
    cands = list(zip(bounds[:-1], bounds[1:]))
    if not (kind == 0 and nu.exact and nu.zero_mass == 0.0):
        cands.insert(0, (-np.inf, bounds[0]))
    # else: orthogonal weights and phi' never 0 (leaky relu): every eigenvalue is at least
    # d_min^L > 0, so nothing runs down to lambda -> 0 (the density found there is the
    # continuation's Poisson leakage, ~1e-15, not support)
    keep = []
    for a, b in cands:
        mid = b - 1.0 if not np.isfinite(a) else 0.5 * (a + b)
        if b - (a if np.isfinite(a) else b - 2.0) < 1e-12:
            continue
        if _density_raw(np.array([mid]), nu, L, kind, u_edge)[0] > 0:
            keep.append((a, b))
    if not keep:
        raise RuntimeError("no continuous support found; please report this case")
    return _Support(tuple(keep), max(b for _, b in keep))


# --- public functions ---------------------------------------------------------------------------

def _n_grid(n_grid: Any) -> int:
    return _checks.check_scalar_int("n_grid", n_grid, 16, _MAX_GRID, reason="memory grows with it")


def check_depth(depth: Any) -> int:
    """The depth of a random-init law: one integer in ``[1, MAX_DEPTH]``."""
    return _checks.check_scalar_int("depth", depth, 1, MAX_DEPTH, reason=(
        f"the random-init laws stop at depth {MAX_DEPTH}: the root continuation walks a log-lambda "
        "range that grows like depth"))


def jjt_moments(depth: int, activation: str | Activation = "hardtanh", weights: str = "orthogonal",
                **kwargs: Any) -> tuple[float, float, float]:
    """Closed-form ``(m1, m2, var)`` of the J Jᵀ law at random initialization::

        m1 = chi1^L,   var = chi1^(2L) L (mu2/mu1^2 - 1 - s1),   m2 = var + m1^2,

    with ``mu_k = E[phi'(sqrt(q*) z)^(2k)]``, ``s1 = 0`` (orthogonal) or ``-1`` (Gaussian).
    Bernoulli class at criticality: ``var = L (1-p)/p`` (orthogonal), ``L/p`` (Gaussian).
    Keyword arguments go to :func:`random_init`.

    Examples
    --------
    >>> m1, m2, var = jjt_moments(10, "hardtanh", "gaussian", q_star=1.0)
    >>> round(m1, 12), round(var, 6)  # 10 / p with p = erf(1/sqrt(2))
    (1.0, 14.647948)
    """
    L = check_depth(depth)
    ri = random_init(activation, weights, **kwargs)
    nu = _nu(ri.activation, ri.q_star)
    s1 = 0.0 if ri.weights == "orthogonal" else -1.0
    m1 = ri.chi1 ** L
    var = m1 * m1 * L * (nu.mu2 / nu.mu1 ** 2 - 1.0 - s1)
    return m1, var + m1 * m1, var


def jjt_edge(depth: int, activation: str | Activation = "hardtanh", weights: str = "orthogonal",
             **kwargs: Any) -> float:
    """The largest point of the support of the J Jᵀ law (``lambda_max``).

    Gaussian Bernoulli class: ``lambda_max = chi1^L (1+M)(1+M/p)^L / M`` with
    ``M = (1 - L + sqrt((L-1)^2 + 4 L p)) / (2L)`` (~ ``e L / p``); orthogonal:
    ``M = p / (L(1-p) - 1)`` or the atom ``p^-L`` when ``L (1-p) <= 1``.

    Examples
    --------
    >>> round(jjt_edge(1, "linear", "gaussian", q_star=1.0), 10)  # Marchenko-Pastur, ratio 1
    4.0
    """
    L = check_depth(depth)
    ri = random_init(activation, weights, **kwargs)
    nu = _nu(ri.activation, ri.q_star)
    kind = 0 if ri.weights == "orthogonal" else 1
    if L == 1 and kind == 0:
        return float(nu.d[-1] * ri.chi1)
    la_top, m_top = _top_atom(nu, L, kind)
    u = _support(nu, L, kind).u_top
    if m_top > 0:
        u = max(u, la_top)
    return math.exp(u + L * math.log(ri.chi1))


def jjt_density(lam: Any, depth: int, activation: str | Activation = "hardtanh",
                weights: str = "orthogonal", **kwargs: Any) -> np.ndarray:
    """Density ``rho(lambda) = -Im M(lambda + i0) / (pi lambda)`` of the continuous part.

    Vectorized: the points are sorted once and solved by continuation (see the module doc);
    cost O(1) per point and Newton step for Bernoulli-class activations at any depth.

    Examples
    --------
    >>> import numpy as np
    >>> rho = jjt_density([1.0, 2.0], 1, "linear", "gaussian", q_star=1.0)
    >>> np.allclose(rho, [np.sqrt(3) / (2 * np.pi), 1 / (2 * np.pi)])  # Marchenko-Pastur
    True
    """
    L = check_depth(depth)
    lam = _checks.check_not_nan("lam", lam)
    ri = random_init(activation, weights, **kwargs)
    nu = _nu(ri.activation, ri.q_star)
    kind = 0 if ri.weights == "orthogonal" else 1
    out = np.zeros(lam.shape)
    pos = (lam > 0) & np.isfinite(lam)  # the density vanishes at lambda = inf
    if not pos.any():
        return out
    shift = L * math.log(ri.chi1)
    u = np.log(lam[pos]) - shift
    # f = lambda rho is scale-free, so rho = f / lambda in the caller's units
    out[pos] = _density_u(u, nu, L, kind) / lam[pos]
    return out


def _density_raw(u: np.ndarray, nu: _Nu, L: int, kind: int, u_edge: float, *, ok_out=None) -> np.ndarray:
    """Mass per unit ``log lambda``, ``f = lambda rho = -Im M / pi``, at normalized ``lambda = exp(u)``
    (any order, any finite u, also far below the double-precision floor), without the support mask.

    With ``ok_out`` (a list), failed continuations are reported there (density 0) instead of
    raising: for smooth activations the quadrature of ``nu`` cannot resolve ``x`` close to its
    support, which happens only deep in the small-lambda tail.
    """
    order = np.argsort(-u, kind="stable")
    us = u[order]
    u_start = max(float(us[0]), u_edge) + 10.0
    M, ok = _solve(us, nu.d, nu.wd, nu.w, nu.zero_mass, float(L), kind, u_start, _thetas())
    if ok_out is not None:
        M = np.where(ok, M, 0.0)
        back = np.empty_like(ok)
        back[order] = ok
        ok_out.append(back)
    elif not np.all(ok):
        bad = int(np.argmin(ok))
        raise RuntimeError(f"free-probability root continuation failed at lambda = {math.exp(us[bad])!r} "
                           f"(depth {L}); please report this case")
    la_top, m_top = _top_atom(nu, L, kind)
    if m_top > 0:
        # the top atom's Poisson kernel at theta_min is not density
        lamc = np.exp(us + 1j * _THETA_MIN)
        lt = math.exp(la_top)
        with np.errstate(divide="ignore", invalid="ignore"):
            M = M - m_top * lt / (lamc - lt)
    f_s = np.maximum(np.nan_to_num(-M.imag, nan=0.0, posinf=0.0), 0.0) / math.pi
    f = np.empty_like(f_s)
    f[order] = f_s
    return f


def _density_u(u: np.ndarray, nu: _Nu, L: int, kind: int, sup: _Support | None = None,
               ok_out=None) -> np.ndarray:
    """``f = lambda rho`` at normalized ``lambda = exp(u)``, zero outside the continuous support."""
    if sup is None:
        sup = _support(nu, L, kind)
    rho = _density_raw(u, nu, L, kind, sup.u_top, ok_out=ok_out)
    inside = np.zeros(u.shape, dtype=bool)
    for a, b in sup.intervals:
        inside |= (u > a) & (u < b)
    return np.where(inside, rho, 0.0)


_GL8_X, _GL8_W = gauss.legendre(8)


def _gl_integration_matrices() -> tuple[np.ndarray, np.ndarray]:
    """``A[j, k] = int_{-1}^{x_j} l_k``, ``B[j, k] = int_{x_j}^{1} l_k`` for the 8-point GL nodes.

    ``l_k`` are the Lagrange polynomials on the nodes, so ``(h/2) A @ g`` is the integral from a
    panel's left end to each node of the degree-7 interpolant of ``g`` (exact for the panel's
    polynomial part, as accurate as the panel's Gauss rule for smooth ``g``).
    """
    coef = np.linalg.inv(np.polynomial.legendre.legvander(_GL8_X, 7))  # column k: l_k in Legendre basis
    A = np.empty((8, 8))
    for k in range(8):
        prim = np.polynomial.legendre.legint(coef[:, k], lbnd=-1.0)
        A[:, k] = np.polynomial.legendre.legval(_GL8_X, prim)
    return A, _GL8_W[None, :] - A


_GL8_A, _GL8_B = _gl_integration_matrices()
_LAGUERRE_Y, _LAGUERRE_W = gauss.laguerre(16)


@dataclass
class _Piece:
    """One stretch of the continuous part, tabulated on GL panels in a smooth variable tau.

    ``u`` (log lambda) at the nodes, ``f = dF/du`` there, ``w`` the node masses, and the exact
    masses ``below``/``above`` each node within the stretch (each summed from its own end, so
    neither tail loses digits to a subtraction).
    """

    u: np.ndarray
    f: np.ndarray
    w: np.ndarray
    below: np.ndarray
    above: np.ndarray
    total: float
    panels: tuple | None = None  # (h, u, f, g) per panel, to rescale panels one by one


def _piece(edges: np.ndarray, u_of, dudtau_of, f_of) -> _Piece:
    """Cumulative masses on composite 8-point GL panels (``edges`` ascending in tau)."""
    h = np.diff(edges)[:, None]
    tau = 0.5 * h * _GL8_X + 0.5 * (edges[1:, None] + edges[:-1, None])
    u = u_of(tau)
    f = f_of(tau, u)
    g = f * np.abs(dudtau_of(tau))  # mass per unit tau, smooth by the choice of tau
    return _piece_of_panels(h, u, f, g)


def _piece_of_panels(h: np.ndarray, u: np.ndarray, f: np.ndarray, g: np.ndarray) -> _Piece:
    panels = (h, u, f, g)
    tot = 0.5 * h[:, 0] * (g @ _GL8_W)
    before = np.concatenate([[0.0], np.cumsum(tot)[:-1]])
    after = np.concatenate([np.cumsum(tot[::-1])[::-1][1:], [0.0]])
    lo = before[:, None] + 0.5 * h * (g @ _GL8_A.T)
    hi = after[:, None] + 0.5 * h * (g @ _GL8_B.T)
    increasing = float(u[-1, -1]) > float(u[0, 0])
    u, f, w = u.ravel(), f.ravel(), (0.5 * h * _GL8_W * g).ravel()
    lo, hi = lo.ravel(), hi.ravel()
    below, above = (lo, hi) if increasing else (hi, lo)
    order = np.argsort(u, kind="stable")
    return _Piece(u[order], f[order], w[order], below[order], above[order], float(np.sum(tot)), panels)


# g in the Legendre basis of a panel: its last two coefficients measure how well 8 nodes resolve it
_GL8_TO_LEGENDRE = np.linalg.inv(np.polynomial.legendre.legvander(_GL8_X, 7))


class _LogTablePart(ContinuousPart):
    """Continuous part of a random-init law, carried in ``u = log lambda``.

    Knots ``u_k`` (any finite values, far below the double-precision floor if need be) with the
    exact masses ``F_k`` below and ``S_k`` above each knot and the density ``f = dF/du``; between
    knots, cubic Hermite interpolation of ``log F`` (``log S`` for ``sf``), which is exact for the
    power-law tail ``F ~ lambda^beta``; below the lowest knot that power law itself,
    ``F = F_0 exp(beta (u - u_0))``. Moments use the GL nodes of the construction plus
    Gauss-Laguerre nodes for the tail, all in logs.
    """

    def __init__(self, u, F, S, f, node_u, node_w, tail_mass: float, tail_beta: float,
                 pid, p_lo, p_hi, p_below, p_above) -> None:
        self.u, self.F, self.S, self.f = (np.asarray(a, dtype=np.float64) for a in (u, F, S, f))
        # per knot: its stretch; per stretch: its ends in u and the masses below/above it
        self.pid = np.asarray(pid, dtype=np.int64)
        self.p_lo, self.p_hi, self.p_below, self.p_above = (np.asarray(a, dtype=np.float64)
                                                             for a in (p_lo, p_hi, p_below, p_above))
        self.tail_mass, self.tail_beta = float(tail_mass), float(tail_beta)
        self.node_u, self.node_w = np.asarray(node_u, dtype=np.float64), np.asarray(node_w, dtype=np.float64)
        self.mass = np.asarray(float(self.F[-1] + self.S[-1]))
        # the power-law tail continues F below the lowest knot (0 when the support ends there)
        self.anchor = float(self.F[0]) if self.tail_mass > 0 else 0.0
        self.batch_shape = ()

    @staticmethod
    def _hermite(uq, u, y, dy, k):
        h = u[k + 1] - u[k]
        s = (uq - u[k]) / h
        return ((1 + 2 * s) * (1 - s) ** 2 * y[k] + s * (1 - s) ** 2 * h * dy[k]
                + s * s * (3 - 2 * s) * y[k + 1] + s * s * (s - 1) * h * dy[k + 1])

    def _both(self, uq):
        """``(F, S)`` at ``u_0 <= uq <= u_top``, interpolated where each is smooth.

        Within a stretch, the upper half interpolates ``log S_loc`` (mass above, within the
        stretch) against ``log(u_top - u)``, the lower half ``log F_loc`` against
        ``log(u - u_bottom)`` (or against ``u`` when the stretch runs down to lambda -> 0): cubic
        Hermite with the exact slopes ``d log S / d log Delta = f Delta / S``. Both coordinates
        turn the edge behaviour (``S ~ Delta^(3/2)`` at a square-root edge, ``Delta^(1/2)`` at an
        orthogonal top atom, ``F ~ lambda^beta`` in the tail) into nearly straight lines; the
        interval that touches an edge is that power law itself. Values are clipped to the knots,
        so F and S stay monotone. Across a gap between stretches F is constant.
        """
        u, f, F, S, pid = self.u, self.f, self.F, self.S, self.pid
        k = np.clip(np.searchsorted(u, uq, side="right") - 1, 0, u.size - 2)
        j = pid[k]
        same = pid[k + 1] == j
        lo, hi = self.p_lo[j], self.p_hi[j]
        Floc = F - self.p_below[pid]
        Sloc = S - self.p_above[pid]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            upper = (Sloc[k] + Sloc[k + 1]) <= (Floc[k] + Floc[k + 1])
            finite_lo = np.isfinite(lo)
            # coordinates X and values Y at both knots and at the query
            X0 = np.where(upper, np.log(hi - u[k]), np.where(finite_lo, np.log(u[k] - lo), u[k]))
            X1 = np.where(upper, np.log(hi - u[k + 1]), np.where(finite_lo, np.log(u[k + 1] - lo), u[k + 1]))
            Xq = np.where(upper, np.log(hi - uq), np.where(finite_lo, np.log(uq - lo), uq))
            V0 = np.where(upper, Sloc[k], Floc[k])
            V1 = np.where(upper, Sloc[k + 1], Floc[k + 1])
            # dV/dX: upper: dS/dlogD = f D; lower finite: dF/dlogD = f D; lower infinite: f
            D0 = np.where(upper, hi - u[k], np.where(finite_lo, u[k] - lo, 1.0))
            D1 = np.where(upper, hi - u[k + 1], np.where(finite_lo, u[k + 1] - lo, 1.0))
            G0 = np.log(V0)
            G1 = np.log(V1)
            s0 = f[k] * D0 / V0
            s1 = f[k + 1] * D1 / V1
            hX = X1 - X0
            t = (Xq - X0) / hX
            herm = ((1 + 2 * t) * (1 - t) ** 2 * G0 + t * (1 - t) ** 2 * hX * s0
                    + t * t * (3 - 2 * t) * G1 + t * t * (t - 1) * hX * s1)
            V = np.exp(herm)
            # the interval touching the edge (V = 0 there): V = V_other (D/D_other)^kappa
            at_edge0 = (V0 == 0) & (V1 > 0)
            at_edge1 = (V1 == 0) & (V0 > 0)
            Dq = np.where(upper, hi - uq, np.where(finite_lo, uq - lo, 1.0))
            V = np.where(at_edge0, V1 * np.clip(Dq / D1, 0.0, 1.0) ** s1, V)
            V = np.where(at_edge1, V0 * np.clip(Dq / D0, 0.0, 1.0) ** s0, V)
            V = np.where((V0 == 0) & (V1 == 0), 0.0, V)
            V = np.clip(np.nan_to_num(V, nan=0.0), np.minimum(V0, V1), np.maximum(V0, V1))
            tot = self.mass - self.p_below[j] - self.p_above[j]  # mass of the stretch
            Fo = np.where(upper, self.p_below[j] + tot - V, self.p_below[j] + V)
            So = np.where(upper, self.p_above[j] + V, self.p_above[j] + tot - V)
        Fo = np.where(same, Fo, F[k])
        So = np.where(same, So, S[k])
        return Fo, So

    def _log_x(self, x):
        with np.errstate(divide="ignore"):
            return np.log(np.where(x > 0, x, 0.0))

    def cdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        uq = self._log_x(x)
        inside = self._both(np.clip(uq, self.u[0], self.u[-1]))[0]
        with np.errstate(under="ignore", invalid="ignore"):
            tail = self.anchor * np.exp(self.tail_beta * (uq - self.u[0]))
        out = np.where(uq < self.u[0], tail, inside)
        return np.where(uq >= self.u[-1], self.mass, np.where(x > 0, out, 0.0))

    def sf(self, x):
        x = np.asarray(x, dtype=np.float64)
        uq = self._log_x(x)
        inside = self._both(np.clip(uq, self.u[0], self.u[-1]))[1]
        with np.errstate(under="ignore", invalid="ignore"):
            tail = self.mass - self.anchor * np.exp(self.tail_beta * (uq - self.u[0]))
        out = np.where(uq < self.u[0], tail, inside)
        return np.where(uq >= self.u[-1], 0.0, np.where(x > 0, out, self.mass))

    def pdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        uq = self._log_x(x)
        with np.errstate(divide="ignore", invalid="ignore", under="ignore", over="ignore"):
            dens = np.interp(uq, self.u, self.f, left=0.0, right=0.0)
            tail = self.tail_beta * self.anchor * np.exp(self.tail_beta * (uq - self.u[0]))
            dens = np.where(uq < self.u[0], tail, dens) / x
        return np.where((x > 0) & np.isfinite(dens), dens, 0.0)

    def nodes(self, flat_index: int = 0):
        keep = self.node_w > 0
        return self.node_u[keep], self.node_w[keep]

    def sample(self, flat_index, n, rng):
        v = rng.random(n) * float(self.mass)
        with np.errstate(divide="ignore"):
            tail_u = self.u[0] + np.log(v / self.anchor) / self.tail_beta if self.anchor > 0 else self.u[0]
        grid_u = np.interp(v, self.F, self.u)
        u = np.where(v < self.F[0], tail_u, grid_u)
        with np.errstate(under="ignore"):
            return np.exp(u)

    def take(self, index):
        if index not in ((), Ellipsis):
            raise IndexError("a random-init law has batch shape ()")
        return self


def _assemble(pieces: list[_Piece], tail_mass: float, tail_beta: float, top_edges: list[float],
              bottom_edges: list) -> _LogTablePart:
    """Join the stretches (ascending in u) into one table; ``bottom_edges[i]`` is None for the
    stretch that runs down to lambda -> 0 (it carries the power-law tail)."""
    total = tail_mass + sum(p.total for p in pieces)
    us, Fs, Ss, fs, ids = [], [], [], [], []
    p_lo, p_hi, p_below, p_above = [], [], [], []
    mass_below = tail_mass
    for i, p in enumerate(pieces):
        mass_above = max(total - mass_below - p.total, 0.0)
        unbounded = bottom_edges[i] is None
        p_lo.append(-np.inf if unbounded else bottom_edges[i])
        p_hi.append(top_edges[i])
        p_below.append(0.0 if unbounded else mass_below)  # the tail belongs to its stretch
        p_above.append(mass_above)
        if not unbounded:
            us.append([bottom_edges[i]]); Fs.append([mass_below]); Ss.append([mass_above + p.total]); fs.append([0.0])
            ids.append([i])
        us.append(p.u); Fs.append(mass_below + p.below); Ss.append(mass_above + p.above); fs.append(p.f)
        ids.append(np.full(p.u.size, i))
        mass_below += p.total
        us.append([top_edges[i]]); Fs.append([mass_below]); Ss.append([mass_above]); fs.append([0.0]); ids.append([i])
    u, F, S, f = (np.concatenate([np.asarray(a, dtype=np.float64) for a in arrs]) for arrs in (us, Fs, Ss, fs))
    pid = np.concatenate([np.asarray(a, dtype=np.int64) for a in ids])
    keep = np.concatenate([[True], np.diff(u) > 0])
    if tail_mass > 0:
        node_u = np.concatenate([pieces[0].u[:1] - _LAGUERRE_Y / tail_beta] + [p.u for p in pieces])
        node_w = np.concatenate([tail_mass * _LAGUERRE_W] + [p.w for p in pieces])
    else:
        node_u = np.concatenate([p.u for p in pieces])
        node_w = np.concatenate([p.w for p in pieces])
    return _LogTablePart(u[keep], F[keep], S[keep], f[keep], node_u, node_w, tail_mass, tail_beta,
                         pid[keep], p_lo, p_hi, p_below, p_above)


def random_jjt_law(depth: int, activation: str | Activation = "hardtanh", weights: str = "orthogonal",
                   *, n_grid: int = 2048, **kwargs: Any) -> RandomInitLaw:
    """The limiting (N -> inf) law of the eigenvalues of J Jᵀ at random initialization.

    Parameters
    ----------
    depth : int
    activation : str or Activation
    weights : {"orthogonal", "gaussian"}
    n_grid : int
        Nodes of the tabulated density (a multiple of 8 is used).
    **kwargs
        ``q_star``, ``sigma_w``, ``sigma_b``, ``critical`` and activation parameters, as in
        :func:`random_init`.

    Returns
    -------
    RandomInitLaw
        Atoms (0 with mass ``P(phi' = 0)``; the orthogonal top atom) and the continuous part in
        ``log lambda`` (see the module doc), with the fields ``lambda_max`` and ``setting``
        (:class:`RandomInit`).

    Examples
    --------
    >>> law = random_jjt_law(4, "hardtanh", "orthogonal", q_star=1.0)
    >>> round(float(law.mean()), 8), round(float(law.var()), 6)  # var = L (1-p)/p
    (1.0, 1.859179)
    """
    L = check_depth(depth)
    n_grid = _n_grid(n_grid)
    ri = random_init(activation, weights, **kwargs)
    act = ri.activation
    nu = _nu(act, ri.q_star)
    kind = 0 if ri.weights == "orthogonal" else 1
    shift = L * math.log(ri.chi1)
    desc = f"random {ri.weights} init, {act.name}, depth {L}"
    if kind == 1 and ri.sigma_b == 0.0 and nu.exact and nu.d.size == 1 and nu.zero_mass == 0.0:
        # D~ = 1 (a linear phi): J Jᵀ is chi1^L times a product of Gaussian Wisharts
        return _fuss_catalan_law(L, n_grid, shift, ri)

    if nu.exact and nu.zero_mass > 0 and float(np.sum(nu.w)) < 1e-12:
        raise ValueError(
            f"sigma_w={ri.sigma_w!r}, sigma_b={ri.sigma_b!r}: at q* = {ri.q_star:.4g} phi' is nonzero with "
            f"probability {float(np.sum(nu.w)):.3g} < 1e-12, so the law is an atom at 0 but for a part of "
            "that mass whose scale leaves double precision; this is not supported (use a smaller sigma_w)")
    la, wa = [], []
    if nu.zero_mass > 0:
        la.append(-np.inf)
        wa.append(nu.zero_mass)
    if L == 1 and kind == 0:
        return _single_orthogonal(nu, ri, shift, la, wa, desc)
    la_top, m_top = _top_atom(nu, L, kind)
    if m_top > 0:
        la.append(la_top + shift)
        wa.append(m_top)
    cont_mass = 1.0 - sum(wa)
    top = la_top + shift if m_top > 0 else -np.inf
    if cont_mass <= 1e-14:
        return RandomInitLaw(np.array(la), np.array(wa), lambda_max=math.exp(max(la[-1], top)), setting=ri,
                             description=desc)
    sup = _support(nu, L, kind)
    n_each = max(n_grid // (8 * len(sup.intervals)), 2)
    pieces, tops, bottoms = [], [], []
    tail_mass, tail_beta = 0.0, 1.0
    fail: list = []

    def f_of(_tau, u):
        flat = u.ravel()
        ok_list: list = []
        f = _density_u(flat, nu, L, kind, sup, ok_out=None if nu.exact else ok_list)
        if ok_list and not ok_list[0].all():
            u_cut = float(np.max(flat[~ok_list[0]]))
            fail.append(u_cut)
            f = np.where(flat > u_cut, f, 0.0)
        return f.reshape(u.shape)

    for lo, hi in sup.intervals:
        if np.isfinite(lo):
            # both ends are square-root edges: u = lo + (hi - lo)(1 - cos(pi s))/2 smooths them
            pieces.append(_piece(np.linspace(0.0, 1.0, n_each + 1),
                                 lambda s_, lo=lo, hi=hi: lo + (hi - lo) * 0.5 * (1.0 - np.cos(math.pi * s_)),
                                 lambda s_, lo=lo, hi=hi: (hi - lo) * 0.5 * math.pi * np.sin(math.pi * s_), f_of))
            bottoms.append(lo)
        else:
            # down to lambda -> 0: u = hi - t^2 (smooth at the square-root edge); deep enough that
            # the power-law tail F ~ lambda^beta below holds the last ~1e-16 of the mass
            span = 37.0 * (L + 1) + 40.0
            if not nu.exact:
                # the 768-node quadrature of a smooth nu resolves M only down to lambda ~ 1e-300:
                # below, the power-law tail carries the remaining mass
                span = min(span, max(hi + 690.0, 1.0))
            T = math.sqrt(span)
            if T > 24.0:
                # moments live within a few units of t of the top (lambda f ~ e^(-t^2)), the CDF of
                # a deep net on the scale sqrt(L) of F ~ exp(-t^2/L): a quarter of the panels on [0, 8]
                na = max(n_each // 4, 2)
                edges = np.concatenate([np.linspace(0.0, 8.0, na + 1), np.linspace(8.0, T, n_each - na + 1)[1:]])
            else:
                edges = np.linspace(0.0, T, n_each + 1)
            pieces.append(_piece(edges, lambda t, hi=hi: hi - t * t, lambda t: -2.0 * t, f_of))
            u_end = hi - span  # the deepest panel end
            bottoms.append(None)
        tops.append(hi)
    p0 = pieces[0]
    if not np.isfinite(sup.intervals[0][0]):
        if fail:
            # smooth activations: the quadrature of nu cannot resolve the deep tail; the nodes
            # below the highest failure carry no mass (f_of zeroed them) and are dropped, so the
            # power law below the lowest kept node carries the rest of the mass
            keep = p0.u > max(fail)
            p0 = _Piece(p0.u[keep], p0.f[keep], p0.w[keep], p0.below[keep], p0.above[keep], p0.total)
            pieces[0] = p0
        grid = sum(p.total for p in pieces)
        if fail:
            tail_mass = max(cont_mass - grid, 0.0)
            f_lo = float(p0.f[0])
            tail_beta = min(max(f_lo / tail_mass, 1e-6), 1e6) if tail_mass > 0 and f_lo > 0 else 1.0 / (L + 1)
        else:
            # the tail below the deepest panel end is the power law F ~ lambda^beta continued
            # from the lowest node, f(u_end) / beta (~1e-16 of the mass by the choice of span):
            # beta = 1/L with an atom of D^2 at 0 (v = 1 + M/p ~ lambda^(1/L)), 1/(L+1) without
            # one (Gaussian weights, 1 + M ~ x), else read off the lowest nodes
            tail_beta = _tail_exponent(p0, nu, L)
            tail_mass = float(p0.f[0]) * math.exp(tail_beta * (u_end - float(p0.u[0]))) / tail_beta
    if not nu.exact:
        # an exact nu has a smooth density, integrated to round-off: nothing to correct
        pieces = _normalized(pieces, cont_mass - tail_mass, desc)
    part = _assemble(pieces, tail_mass, tail_beta, tops, bottoms)
    part = _shifted(part, shift)
    return RandomInitLaw(np.array(la, dtype=float).reshape(-1), np.array(wa, dtype=float).reshape(-1), part,
                         lambda_max=math.exp(max(sup.u_top + shift, top)), setting=ri, description=desc)


def _tail_exponent(p0: _Piece, nu: _Nu, L: int) -> float:
    """Exponent beta of ``F ~ lambda^beta`` below the lowest node of the stretch down to 0."""
    if nu.exact:
        return 1.0 / L if nu.zero_mass > 0 else 1.0 / (L + 1)
    pos = np.nonzero(p0.f > 0)[0][:2]
    if pos.size < 2:
        return 1.0 / (L + 1)
    i, j = pos
    slope = math.log(p0.f[j] / p0.f[i]) / (p0.u[j] - p0.u[i])  # f = beta F ~ e^(beta u)
    return min(max(slope, 1e-3), 1e3)


# |1 - tabulated mass| above which the table is reported as inaccurate (the documented accuracy
# of the random-init CDFs is 1e-6)
_MASS_WARN = 1e-6


def _normalized(pieces: list[_Piece], mass: float, desc: str) -> list[_Piece]:
    """The stretches corrected so that they carry ``mass`` (the continuous mass less the tail).

    The composite GL panels integrate a smooth density to round-off, but the law of a smooth
    activation is that of a 768-node quadrature of ``nu``: at the bottom of its support, where
    products of the sparse small-``d`` nodes set it, the density breaks into narrow bands and
    gaps that no panel resolves, and the panels miss or add up to ~2e-4 of the mass at
    ``n_grid = 256`` (4.7e-5 gelu, 1.5e-7 tanh, orthogonal weights, depth 4). Left alone that
    made ``cdf + sf != 1`` and a deficit went into a made-up power-law tail. The correction goes
    to the lowest panels (the moments keep their 1e-13); the CDF there is uncertain by about the
    discrepancy, reported when it exceeds ``_MASS_WARN``.
    """
    grid = sum(p.total for p in pieces)
    if grid <= 0.0 or mass <= 0.0:
        return pieces
    gap = mass - grid
    if abs(gap) > _MASS_WARN * mass:
        warnings.warn(AccuracyWarning(
            f"{desc}: the tabulated density integrates to {grid:.12g} instead of {mass:.12g} (the "
            "quadrature of phi' leaves bands the panels do not resolve); rescaled to the known mass, "
            "the CDF is accurate only to about the difference: raise n_grid", error_estimate=abs(gap)),
            stacklevel=3)
    if all(p.panels is not None for p in pieces):
        # the discrepancy belongs to the bottom of the support, where the law of the quadrature
        # nu breaks into bands (products of its sparse small-d nodes): it goes to the lowest
        # panels that hold 100 times it, so that the mean, which the bottom hardly feeds, keeps
        # its digits (a uniform rescaling moved it by the whole discrepancy, 1.2e-7 for tanh,
        # depth 6, n_grid = 512)
        rows = [(float(p.panels[1][k].min()), i, k, float(0.5 * p.panels[0][k, 0] * (p.panels[3][k] @ _GL8_W)))
                for i, p in enumerate(pieces) for k in range(p.panels[0].shape[0])]
        rows.sort()
        scale = [np.ones(p.panels[0].shape[0]) for p in pieces]
        held, chosen = 0.0, []
        for _, i, k, m in rows:
            chosen.append((i, k))
            held += m
            if held >= 100.0 * abs(gap):
                break
        if held + gap > 0:
            for i, k in chosen:
                scale[i][k] = (held + gap) / held
            out = [_piece_of_panels(p.panels[0], p.panels[1], p.panels[2] * s_[:, None], p.panels[3] * s_[:, None])
                   for p, s_ in zip(pieces, scale)]
            grid = sum(p.total for p in out)
            pieces = out  # carries the mass up to round-off, removed below
    c = mass / grid
    return [_Piece(p.u, c * p.f, c * p.w, c * p.below, c * p.above, c * p.total) for p in pieces]


def _shifted(part: _LogTablePart, shift: float) -> _LogTablePart:
    """The same table for ``chi1^L lambda`` (``u`` moves by ``shift``; masses stay)."""
    if shift == 0.0:
        return part
    return _LogTablePart(part.u + shift, part.F, part.S, part.f, part.node_u + shift, part.node_w,
                         part.tail_mass, part.tail_beta, part.pid, part.p_lo + shift, part.p_hi + shift,
                         part.p_below, part.p_above)


def _single_orthogonal(nu: _Nu, ri: RandomInit, shift: float, la: list, wa: list, desc: str) -> RandomInitLaw:
    """Depth 1, orthogonal: J Jᵀ = sigma_w^2 D^2 exactly, so the law is that of ``chi1 D~^2``.

    Exact atoms for piecewise-linear activations; for smooth ones the 768 quadrature nodes of
    ``nu`` as atoms (every moment exact to quadrature accuracy, the CDF a fine staircase).
    """
    return RandomInitLaw(np.concatenate([la, np.log(nu.d) + shift]), np.concatenate([wa, nu.w]),
                         lambda_max=float(nu.d[-1] * math.exp(shift)), setting=ri,
                         description=desc + ("" if nu.exact else " (quadrature atoms)"))


# --- linear Gaussian: Fuss-Catalan --------------------------------------------------------------

def fuss_catalan(depth: int, t: Any) -> tuple[np.ndarray, np.ndarray]:
    """Parametric Fuss-Catalan law (product of ``depth`` square Ginibre matrices, J Jᵀ)::

        lambda(t) = sin^(L+1)((L+1) t) / (sin t sin^L(L t)),
        rho(t)    = (1/pi) sin^2 t sin^(L-1)(L t) / sin^L((L+1) t),   0 < t < pi/(L+1),

    with ``lambda_max = (L+1)^(L+1) / L^L`` at ``t -> 0`` and ``m2 = L + 1``.

    Returns
    -------
    lam, rho : ndarray

    Examples
    --------
    >>> lam, rho = fuss_catalan(1, 3.141592653589793 / 4)  # Marchenko-Pastur at lambda = 2
    >>> round(float(lam), 12), round(float(rho), 12)
    (2.0, 0.159154943092)
    """
    L = check_depth(depth)
    t = _checks.check_finite("t", t)
    if np.any((t <= 0) | (t >= math.pi / (L + 1))):
        raise ValueError(f"t must lie in (0, pi/(depth+1)) = (0, {math.pi / (L + 1)!r})")
    log_lam, log_rho = _fc_logs(L, t)
    with np.errstate(under="ignore"):
        return np.exp(log_lam)[()], np.exp(log_rho)[()]


def _fc_logs(L: int, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s1, sL, sL1 = np.log(np.sin(t)), np.log(np.sin(L * t)), np.log(np.sin((L + 1) * t))
    log_lam = (L + 1) * sL1 - s1 - L * sL
    log_rho = 2 * s1 + (L - 1) * sL - L * sL1 - math.log(math.pi)
    return log_lam, log_rho


def fuss_catalan_law(depth: int, *, n_grid: int = 2048, scale_log: float = 0.0) -> RandomInitLaw:
    """The Fuss-Catalan law as a :class:`RandomInitLaw`, integrated exactly in the parameter.

    With ``s = pi/(L+1) - t`` (so that ``lambda -> 0`` is ``s -> 0``, resolved without
    cancellation) the law reads::

        log lambda = (L+1) log sin((L+1) s) - log sin(t_max - s) - L log sin(t_max + L s),
        dF = lambda rho |d log lambda / ds| ds,   lambda rho = sin((L+1) s) sin(t_max - s) / (pi sin(t_max + L s)),

    a smooth mass element on ``[0, t_max]``, ``t_max = pi/(L+1)``: Gauss-Legendre panels (graded
    geometrically towards ``s = 0``) give the CDF at every node to round-off, both from below and
    from above. Below the lowest panel the law is the power law ``F ~ lambda^(1/(L+1))``. Everything
    is carried in ``log lambda``, so nodes far below ``1e-300`` keep their mass where it belongs.
    ``scale_log`` multiplies the law by ``exp(scale_log)``.

    Examples
    --------
    >>> law = fuss_catalan_law(3)
    >>> round(float(law.mean()), 10), round(float(law.moment(2)), 10)
    (1.0, 4.0)
    >>> round(float(law.cdf(1e-12)), 7)  # ~ c lambda^(1/4) in the tail
    0.0009002
    """
    return _fuss_catalan_law(check_depth(depth), _n_grid(n_grid), _checks.check_scalar("scale_log", scale_log), None)


def _fuss_catalan_law(L: int, n_grid: int, scale_log: float, setting: RandomInit | None) -> RandomInitLaw:
    tm = math.pi / (L + 1)
    # octaves from 2^-48 t_max to 2^-6 t_max (F ~ c s there, log F ~ linear in u), then uniform
    # panels, fine enough for the Hermite interpolation of F between nodes
    n_geo = 42
    n_uni = max(n_grid // 8 - n_geo, 8)
    edges = np.concatenate([tm * 0.5 ** np.arange(48, 6, -1), np.linspace(tm / 64, tm, n_uni + 1)])

    def u_of(s_):
        return (L + 1) * np.log(np.sin((L + 1) * s_)) - np.log(np.sin(tm - s_)) - L * np.log(np.sin(tm + L * s_))

    def duds(s_):
        return (L + 1) ** 2 / np.tan((L + 1) * s_) + 1.0 / np.tan(tm - s_) - L * L / np.tan(tm + L * s_)

    def f_of(s_, _u):
        return np.sin((L + 1) * s_) * np.sin(tm - s_) / (math.pi * np.sin(tm + L * s_))

    with np.errstate(divide="ignore"):
        piece = _piece(edges, u_of, duds, f_of)
    s0 = float(edges[0])
    # mass below the first panel: int_0^s0 of the smooth, nonzero mass element g, i.e. g(s0) s0
    # up to a relative O(s0) = 1e-15
    tail_mass = float(f_of(s0, None) * abs(duds(s0))) * s0
    top = (L + 1) * math.log(L + 1) - L * math.log(L)
    part = _assemble([piece], tail_mass, 1.0 / (L + 1), [top], [None])
    part = _shifted(part, scale_log)
    return RandomInitLaw(np.zeros(0), np.zeros(0), part, lambda_max=math.exp(top + scale_log), setting=setting,
                         description=f"Fuss-Catalan, depth {L}")
