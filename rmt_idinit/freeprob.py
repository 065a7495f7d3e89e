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
``D~`` equal ``d``). The continuous part is tabulated on Gauss-Legendre nodes in ``t`` with
``log lambda = log lambda_max - t^2`` (smooth integrand at the square-root edge and at
``lambda -> 0`` where ``lambda rho ~ lambda^(1/L)``); for deep networks part of the mass lies
below double precision (``1e-300``): it is kept as one atom at the mean log of a power-law tail
(``floor_mass`` in the result), so the total mass is exactly 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from . import _checks
from . import meanfield as mf
from .activations import Activation, get_activation
from .laws import GridDensity, SpectralLaw

__all__ = [
    "WEIGHT_KINDS",
    "RandomInit",
    "random_init",
    "jjt_moments",
    "jjt_edge",
    "jjt_density",
    "random_jjt_law",
    "fuss_catalan",
    "fuss_catalan_law",
]

WEIGHT_KINDS = ("orthogonal", "gaussian")
_THETA0 = 1.0
_THETA_MIN = 1e-13
_THETA_RATIO = 0.35
_LOG_FLOOR = -690.0  # lambda below exp(-690) ~ 1e-300 is not tabulated


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
    if not isinstance(weights, str) or weights.lower() not in WEIGHT_KINDS:
        raise ValueError(f"weights must be one of {WEIGHT_KINDS}, got {weights!r}")
    return weights.lower()


def _scalar(name: str, value: Any, check) -> float:
    arr = check(name, value)
    if arr.ndim:
        raise ValueError(f"{name} must be a single number here, got an array of shape {arr.shape}")
    return float(arr)


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
            qs = _scalar("q_star", q_star, _checks.check_positive)
            cp = mf.critical_line(qs, act)
        else:
            cp = mf.critical_line(activation=act, sigma_b=_scalar("sigma_b", sigma_b, _checks.check_nonnegative))
        sw, sb, qs = float(cp.sigma_w), float(cp.sigma_b), float(cp.q_star)
    else:
        sw = _scalar("sigma_w", sigma_w, _checks.check_positive)
        if sigma_b is None:
            if q_star is None:
                raise ValueError("sigma_b or q_star must be given with sigma_w")
            qs = _scalar("q_star", q_star, _checks.check_positive)
            sb2 = qs - sw * sw * float(mf.phi_second_moment(qs, act))
            if sb2 < -rtol * max(qs, 1.0):
                raise ValueError(f"q_star={qs!r} is not a fixed point of the {act.name} q-map at "
                                 f"sigma_w={sw!r} for any sigma_b >= 0 (needs sigma_b^2 = {sb2:.6g})")
            sb = math.sqrt(max(sb2, 0.0))
        else:
            sb = _scalar("sigma_b", sigma_b, _checks.check_nonnegative)
            if q_star is None:
                qs = float(mf.q_star(sw, sb, act))
            else:
                qs = _scalar("q_star", q_star, _checks.check_positive)
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
    code = act._code
    if code in (0, 1):  # hard-tanh, relu: Bernoulli D^2
        p = float(mf.derivative_moment(q, 1, act))
        return _Nu(np.array([1.0 / p]), np.array([1.0]), np.array([p]), 1.0 - p, True, p, p)
    if code == 3:
        return _Nu(np.array([1.0]), np.array([1.0]), np.array([1.0]), 0.0, True, 1.0, 1.0)
    if code == 2:
        s2 = act.params["negative_slope"] ** 2
        mu1, mu2 = (1.0 + s2) / 2.0, (1.0 + s2 * s2) / 2.0
        if s2 == 0.0:
            return _Nu(np.array([2.0]), np.array([1.0]), np.array([0.5]), 0.5, True, 0.5, 0.5)
        d = np.array([s2, 1.0]) / mu1
        w = np.array([0.5, 0.5])
        return _Nu(d, w * d, w, 0.0, True, mu1, mu2)
    z, wz = mf._Z, mf._W
    if np.allclose(act.dphi(np.sqrt(q) * mf._ZH), act.dphi(-np.sqrt(q) * mf._ZH), rtol=1e-14, atol=0):
        z, wz = mf._ZH, mf._WH  # even phi' (tanh, erf, sigmoid): half the nodes, half the cost
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


# --- numba kernels ------------------------------------------------------------------------------

@numba.njit(cache=True)
def _eval(x, d, wd, L, kind):
    """log lambda(x), its x-derivative and M = M_nu(x) (principal logs, continuous in the UHP)."""
    M = 0j
    dM = 0j
    for j in range(d.size):
        r = 1.0 / (x - d[j])
        M += wd[j] * r
        dM -= wd[j] * r * r
    if kind == 0:
        f = L * np.log(x) + (L - 1.0) * (np.log(M) - np.log(1.0 + M))
        df = L / x + (L - 1.0) * (dM / M - dM / (1.0 + M))
    else:
        f = L * np.log(x) + (L - 1.0) * np.log(M) + np.log(1.0 + M)
        df = L / x + (L - 1.0) * dM / M + dM / (1.0 + M)
    return f, df, M


@numba.njit(cache=True)
def _newton(x, target, d, wd, L, kind):
    """Safeguarded Newton for log lambda(x) = target: keeps Im x > 0, backtracks on the residual."""
    f, df, M = _eval(x, d, wd, L, kind)
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
                fn, dfn, Mn = _eval(xn, d, wd, L, kind)
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
def _solve(u, d, wd, L, kind, u_start, thetas):
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
        x, M, ok = _newton(x, uc + 1j * th0, d, wd, L, kind)
    for i in range(n):
        if i > 0:
            # predictor: x ~ lambda^(1/L) locally dominates the change of log lambda
            step = u[i] - u[i - 1]
            nsub = int(abs(step) / 0.25) + 1
            for k in range(1, nsub + 1):
                x, M, ok = _newton(x, u[i - 1] + step * k / nsub + 1j * th0, d, wd, L, kind)
        good = ok
        xt = x
        M = 0j
        for k in range(1, thetas.size):
            xt, M, okk = _newton(xt, u[i] + 1j * thetas[k], d, wd, L, kind)
            good = good and okk
        if thetas.size == 1:
            xt, M, okk = _newton(xt, u[i] + 1j * th0, d, wd, L, kind)
        Mout[i] = M
        status[i] = good
    return Mout, status


def _thetas() -> np.ndarray:
    k = int(math.ceil(math.log(_THETA_MIN / _THETA0) / math.log(_THETA_RATIO)))
    return _THETA0 * _THETA_RATIO ** np.arange(k + 1)


# --- edges, atoms -------------------------------------------------------------------------------

def _dlog(x: float, nu: _Nu, L: int, kind: int) -> tuple[float, float, float]:
    f, df, M = _eval(complex(x, 0.0), nu.d, nu.wd, float(L), kind)
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
        dM = -np.sum(nu.wd * r * r, axis=1)
        if kind == 0:
            ratio = M / (1.0 + M)
            ok = (x > 0) & (ratio > 0 if (L - 1) % 2 else np.ones(x.shape, bool)) & (ratio != 0)
            f = L * np.log(x) + (L - 1) * np.log(np.abs(ratio))
            df = L / x + (L - 1) * (dM / M - dM / (1.0 + M))
        else:
            sign = np.sign(M) ** (L - 1) * np.sign(1.0 + M)
            ok = (x > 0) & (sign > 0)
            f = L * np.log(x) + (L - 1) * np.log(np.abs(M)) + np.log(np.abs(1.0 + M))
            df = L / x + (L - 1) * dM / M + dM / (1.0 + M)
    return np.where(ok, f, np.nan), np.where(ok, df, np.nan)


@dataclass(frozen=True)
class _Support:
    intervals: tuple[tuple[float, float], ...]  # normalized log lambda; -inf lower end allowed
    u_top: float  # top of the continuous support


def _support(nu: _Nu, L: int, kind: int) -> _Support:
    u_edge, _ = _edge(nu, L, kind)
    bounds = sorted(set(_gap_critical_values(nu, L, kind) + [u_edge]))
    bounds = [b for b in bounds if b <= u_edge + 1e-12]
    cands = [(-np.inf, bounds[0])] + list(zip(bounds[:-1], bounds[1:]))
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

def _depth(depth: Any) -> int:
    d = _checks.check_depth(depth)
    if d.ndim:
        raise ValueError(f"depth must be a single integer >= 1, got an array of shape {d.shape}")
    return int(d)


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
    L = _depth(depth)
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
    L = _depth(depth)
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
    L = _depth(depth)
    lam = _checks.as_float_array("lam", lam)
    if np.any(np.isnan(lam)):
        raise ValueError("lam must not contain NaN")
    ri = random_init(activation, weights, **kwargs)
    nu = _nu(ri.activation, ri.q_star)
    kind = 0 if ri.weights == "orthogonal" else 1
    out = np.zeros(lam.shape)
    pos = lam > 0
    if not pos.any():
        return out
    shift = L * math.log(ri.chi1)
    u = np.log(lam[pos]) - shift
    rho = _density_u(u, nu, L, kind)
    out[pos] = rho / math.exp(shift) if abs(shift) < 700 else rho * np.exp(-shift)
    return out


def _density_raw(u: np.ndarray, nu: _Nu, L: int, kind: int, u_edge: float, *, ok_out=None) -> np.ndarray:
    """Normalized density at ``lambda = exp(u)`` (any order), without the support mask.

    With ``ok_out`` (a list), failed continuations are reported there (density 0) instead of
    raising: for smooth activations the quadrature of ``nu`` cannot resolve ``x`` close to its
    support, which happens only deep in the small-lambda tail.
    """
    order = np.argsort(-u, kind="stable")
    us = u[order]
    u_start = max(float(us[0]), u_edge) + 10.0
    M, ok = _solve(us, nu.d, nu.wd, float(L), kind, u_start, _thetas())
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
    rho_s = np.maximum(np.nan_to_num(-M.imag, nan=0.0, posinf=0.0), 0.0) / (math.pi * np.exp(us))
    rho = np.empty_like(rho_s)
    rho[order] = rho_s
    return rho


def _density_u(u: np.ndarray, nu: _Nu, L: int, kind: int, sup: _Support | None = None,
               ok_out=None) -> np.ndarray:
    """Normalized density at ``lambda = exp(u)``, zero outside the continuous support."""
    if sup is None:
        sup = _support(nu, L, kind)
    rho = _density_raw(u, nu, L, kind, sup.u_top, ok_out=ok_out)
    inside = np.zeros(u.shape, dtype=bool)
    for a, b in sup.intervals:
        inside |= (u > a) & (u < b)
    return np.where(inside, rho, 0.0)


_GL8_X, _GL8_W = np.polynomial.legendre.leggauss(8)


def random_jjt_law(depth: int, activation: str | Activation = "hardtanh", weights: str = "orthogonal",
                   *, n_grid: int = 2048, **kwargs: Any) -> SpectralLaw:
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
    SpectralLaw
        Atoms (0 with mass ``P(phi' = 0)``; the orthogonal top atom; the sub-``1e-300`` tail) and a
        :class:`GridDensity` with Gauss-Legendre weights. Extra attributes: ``lambda_max``,
        ``setting`` (:class:`RandomInit`), ``floor_mass``.

    Examples
    --------
    >>> law = random_jjt_law(4, "hardtanh", "orthogonal", q_star=1.0)
    >>> round(float(law.mean()), 8), round(float(law.var()), 6)  # var = L (1-p)/p
    (1.0, 1.859179)
    """
    L = _depth(depth)
    n_grid = int(_checks.check_int("n_grid", n_grid, minimum=16))
    ri = random_init(activation, weights, **kwargs)
    act = ri.activation
    nu = _nu(act, ri.q_star)
    kind = 0 if ri.weights == "orthogonal" else 1
    shift = L * math.log(ri.chi1)
    desc = f"random {ri.weights} init, {act.name}, depth {L}"
    if act._code == 3 and kind == 1 and ri.sigma_b == 0.0 and nu.exact:
        law = fuss_catalan_law(L, n_grid=n_grid, scale_log=shift)
        law.setting = ri
        return law

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
        law = SpectralLaw(np.array(la), np.array(wa), description=desc)
        law.lambda_max, law.setting, law.floor_mass = math.exp(max(la[-1], top)), ri, 0.0
        return law
    sup = _support(nu, L, kind)
    n_each = max(n_grid // (8 * len(sup.intervals)), 2)
    us, ws = [], []
    for lo, hi in sup.intervals:
        if np.isfinite(lo):
            # both ends are square-root edges: u = lo + (hi - lo)(1 - cos(pi s))/2 smooths them
            s_, w_ = _panels(0.0, 1.0, n_each)
            us.append(lo + (hi - lo) * 0.5 * (1.0 - np.cos(math.pi * s_)))
            ws.append(w_ * (hi - lo) * 0.5 * math.pi * np.sin(math.pi * s_))
        else:
            # down to lambda -> 0 (or the double-precision floor): u = hi - t^2
            span = min(hi + shift - _LOG_FLOOR, 35.0 * (L + 1) + 40.0)
            t, w_ = _panels(0.0, math.sqrt(max(span, 1e-3)), n_each)
            us.append(hi - t * t)
            ws.append(w_ * 2.0 * t)
    u = np.concatenate(us)
    lam_w = np.concatenate(ws)  # weights in log lambda
    ok_list: list = []
    rho = _density_u(u, nu, L, kind, sup, ok_out=None if nu.exact else ok_list)
    if ok_list and not ok_list[0].all():
        # smooth activations: drop the unresolved small-lambda tail (below the highest failure);
        # its mass becomes the floor atom below
        u_cut = float(np.max(u[~ok_list[0]]))
        rho = np.where(u > u_cut, rho, 0.0)
        lam_w = np.where(u > u_cut, lam_w, 0.0)
    grid_mass = float(np.sum(lam_w * np.exp(u) * rho))  # mass is scale-free: normalized units
    floor_mass = cont_mass - grid_mass
    u_lo = float(np.min(u))
    if floor_mass > 1e-12 and not np.isfinite(sup.intervals[0][0]):
        # power-law tail lambda rho ~ lambda^beta below the last node: lump at its mean log
        live = lam_w > 0
        u_lo = float(np.min(u[live]))
        r_lo = float(rho[live][np.argmin(u[live])])
        beta = math.exp(u_lo) * r_lo / floor_mass if r_lo > 0 else 1.0 / (L + 1)
        beta = min(max(beta, 1e-6), 1e6)
        la.append(u_lo - 1.0 / beta + shift)
        wa.append(floor_mass)
    else:
        floor_mass = 0.0
    order = np.argsort(u)
    x = np.exp(u[order] + shift)
    dens = rho[order] * math.exp(-shift)
    gw = (lam_w * np.exp(u + shift))[order]
    keep = np.concatenate([[True], np.diff(x) > 0]) & np.concatenate([(lam_w > 0)[order]])
    part = GridDensity(x[keep], dens[keep], gw[keep])
    law = SpectralLaw(np.array(la, dtype=float).reshape(-1), np.array(wa, dtype=float).reshape(-1), part,
                      description=desc)
    law.lambda_max = math.exp(max(sup.u_top + shift, top))
    law.setting = ri
    law.floor_mass = floor_mass
    return law


def _panels(a: float, b: float, n_panels: int) -> tuple[np.ndarray, np.ndarray]:
    """Composite 8-point Gauss-Legendre nodes and weights on [a, b]."""
    e = np.linspace(a, b, n_panels + 1)
    lo, hi = e[:-1, None], e[1:, None]
    return (0.5 * (hi - lo) * _GL8_X + 0.5 * (hi + lo)).ravel(), (0.5 * (hi - lo) * _GL8_W).ravel()


def _single_orthogonal(nu: _Nu, ri: RandomInit, shift: float, la: list, wa: list, desc: str) -> SpectralLaw:
    """Depth 1, orthogonal: J Jᵀ = sigma_w^2 D^2 exactly, so the law is that of ``chi1 D~^2``.

    Exact atoms for piecewise-linear activations; for smooth ones the 768 quadrature nodes of
    ``nu`` as atoms (every moment exact to quadrature accuracy, the CDF a fine staircase).
    """
    law = SpectralLaw(np.concatenate([la, np.log(nu.d) + shift]), np.concatenate([wa, nu.w]),
                      description=desc + ("" if nu.exact else " (quadrature atoms)"))
    law.lambda_max, law.setting, law.floor_mass = float(nu.d[-1] * math.exp(shift)), ri, 0.0
    return law


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
    L = _depth(depth)
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


def fuss_catalan_law(depth: int, *, n_grid: int = 2048, scale_log: float = 0.0) -> SpectralLaw:
    """The Fuss-Catalan law as a :class:`SpectralLaw` (Gauss-Legendre nodes in ``t``).

    In ``t`` the mass element ``rho |dlambda/dt| dt`` is smooth at both ends, so the nodes carry
    the mass to round-off; nodes whose ``lambda`` underflows (``< 1e-300``, deep networks) are
    lumped into one atom at their mean log. ``scale_log`` multiplies the law by ``exp(scale_log)``.

    Examples
    --------
    >>> law = fuss_catalan_law(3)
    >>> round(float(law.mean()), 10), round(float(law.moment(2)), 10)
    (1.0, 4.0)
    """
    L = _depth(depth)
    panels = max(int(n_grid) // 8, 2)
    e = np.linspace(0.0, math.pi / (L + 1), panels + 1)
    a, b = e[:-1, None], e[1:, None]
    t = (0.5 * (b - a) * _GL8_X + 0.5 * (b + a)).ravel()
    wt = (0.5 * (b - a) * _GL8_W).ravel()
    log_lam, log_rho = _fc_logs(L, t)
    dlog = (L + 1) ** 2 / np.tan((L + 1) * t) - 1 / np.tan(t) - L * L / np.tan(L * t)
    mass = wt * np.exp(log_rho + log_lam) * np.abs(dlog)
    log_lam = log_lam + scale_log
    under = log_lam < _LOG_FLOOR
    la, wa = [], []
    if under.any():
        wu = mass[under]
        la.append(float(np.sum(wu * log_lam[under]) / np.sum(wu)))
        wa.append(float(np.sum(wu)))
    keep = ~under
    x = np.exp(log_lam[keep])[::-1]
    dens = np.exp(log_rho[keep] - scale_log)[::-1]
    gw = (mass[keep] / np.exp(log_rho[keep] - scale_log))[::-1]
    part = GridDensity(x, dens, gw)
    law = SpectralLaw(np.array(la, dtype=float), np.array(wa, dtype=float), part,
                      description=f"Fuss-Catalan, depth {L}")
    law.lambda_max = math.exp((L + 1) * math.log(L + 1) - L * math.log(L) + scale_log)
    law.floor_mass = float(sum(wa))
    return law
