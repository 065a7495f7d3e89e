"""The exact law of the eigenvalues of J Jᵀ at identity initialization (float64, vectorized).

docs/theory/identity.md and docs/theory/closed_forms.md. With W^l = sigma*I, each eigenvalue of J Jᵀ is ``g_L(u_i)^2`` for one input
coordinate ``u_i``, so the spectral law is the push-forward of the input law through
``u -> g_L(u)^2``:

* hard-tanh: ``alpha^L delta(lambda - sigma^(2L)) + (1 - alpha^L) delta(lambda)`` with
  ``alpha^l = erf(sigma^(-l) / sqrt(2 q0))`` (sigma > 1) and ``alpha^1`` at every depth (sigma <= 1);
* relu, leaky relu, linear, and any piecewise-linear activation or bias: exact atoms
  (:mod:`rmt_idinit.piecewise`);
* smooth activations: quadrature and root finding over u on the numba layer map
  (:mod:`rmt_idinit.recursion`), see :class:`PushforwardPart`;
* real data (``inputs=``): atoms at ``g_L(u_i)^2`` of the given coordinates.

Precision: ``1 - alpha`` comes from erfc (relative accuracy down to 1e-300), ``sigma^(2L)`` is
carried as ``log_atoms = 2 L log(sigma)`` where it overflows.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np
from scipy import special

from ._core import checks as _checks
from ._core import deprecation as _deprecation
from ._core import hardtanh as _hardtanh
from ._core import quadrature as _quad
from .activations import Activation, get_activation
from .laws import ContinuousPart, SpectralLaw

__all__ = [
    "alpha",
    "alpha_complement",
    "log_alpha_complement",
    "layer_alphas",
    "jjt_law",
    "jjt_eigenvalues",
    "forward_moments",
    "hardtanh_second_moment",
    "PushforwardPart",
]

_Z_MAX = _quad.Z_MAX  # standard-normal mass beyond is < 1e-323: below double precision


# --- parameter handling -----------------------------------------------------------------------

def _params(sigma, q0, depth, bias=0.0):
    s = _checks.check_positive("sigma", sigma)
    q = _checks.check_positive("q0", q0)
    d = _checks.check_depth(depth)
    b = _checks.check_finite("bias", bias)
    return _checks.broadcast(sigma=s, q0=q, depth=d, bias=b)


def _hardtanh_log_arg(sigma, q0, depth):
    """``log x`` for ``x = sigma^(-m) / sqrt(2 q0)``, m = depth (sigma > 1) or 1 (sigma <= 1)."""
    m = np.where(sigma > 1.0, depth, 1).astype(np.float64)
    return -m * np.log(sigma) - 0.5 * np.log(2.0 * q0)


def _hardtanh_arg(sigma, q0, depth):
    """``x = sigma^(-m) / sqrt(2 q0)``, m = depth (sigma > 1) or 1 (sigma <= 1).

    ``pow`` is correctly rounded where it neither overflows nor underflows; erfc multiplies the
    relative error of x by 2x^2 (~1400 at erfc = 1e-300), so the exp-of-logs form, whose exponent
    carries an absolute error ~|log(2 q0)| 1e-16, is used only outside that range.
    """
    m = np.where(sigma > 1.0, depth, 1).astype(np.float64)
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        direct = np.power(sigma, -m) / np.sqrt(2.0 * q0)
        via_logs = np.exp(_hardtanh_log_arg(sigma, q0, depth))
    ok = np.isfinite(direct) & (direct > 1e-290) & (direct < 1e290)
    return np.where(ok, direct, via_logs)


def _log_erf(x, log_x):
    """``log erf(x)``: log(2/sqrt(pi)) + log x where erf(x) underflows (x < 1e-308), and
    ``log1p(-erfc(x))`` for x > 1/2, where erf(x) rounds towards 1 and its log would lose
    the small negative value."""
    with np.errstate(divide="ignore", under="ignore"):
        tiny = log_x < -300.0 * math.log(10.0)
        near_one = np.log1p(-special.erfc(np.maximum(x, 0.5)))
        return np.where(tiny, math.log(2.0 / math.sqrt(math.pi)) + log_x,
                        np.where(x > 0.5, near_one, np.log(special.erf(x))))


def _log_erfc(x):
    """``log erfc(x)`` to full relative accuracy for every x >= 0.

    ``log1p(-erf(x))`` for x <= 1/2, where erfc(x) is near 1 and ``log erfc`` is small
    (~ -2x/sqrt(pi)): ``log_ndtr`` would round 1 - tiny to 1 and return 0; beyond,
    ``log 2 + log_ndtr(-x sqrt 2)``, finite where erfc underflows (x > 26.5).
    """
    x = np.asarray(x, dtype=np.float64)
    small = np.log1p(-special.erf(np.minimum(x, 0.5)))
    return np.where(x <= 0.5, small, math.log(2.0) + special.log_ndtr(-x * math.sqrt(2.0)))


def _zero_weight_generic(act, sigma, q0, depth, bias):
    """Weights of the atom at 0 through exact cells (piecewise) or 0 (smooth)."""
    if act.pieces is None:
        return np.zeros(sigma.shape), np.ones(sigma.shape)
    from .piecewise import piecewise_law

    zero = np.zeros(sigma.shape)
    for idx in np.ndindex(sigma.shape):
        la, w = piecewise_law(act.pieces, float(sigma[idx]), float(q0[idx]), int(depth[idx]), float(bias[idx]))
        zero[idx] = w[np.isneginf(la)].sum()
    return zero, 1.0 - zero


def _alpha_pair(sigma, q0, depth, activation, bias, params):
    act = get_activation(activation, **params)
    s, q, d, b = _params(sigma, q0, depth, bias)
    if act.is_unit_clip and not np.any(b):
        x = _hardtanh_arg(s, q, d)
        return special.erf(x), special.erfc(x)
    if act.half_lines is not None and not np.any(b):
        # a half-line with slope 0 is dead from the first layer on, the others never die
        alive = sum(mass for slope, mass in act.half_lines if slope > 0)
        return np.full(s.shape, alive), np.full(s.shape, 1.0 - alive)
    zero, nonzero = _zero_weight_generic(act, s, q, d, b)
    return nonzero, zero


def _scalarize(a: np.ndarray):
    return a[()] if a.ndim == 0 else a


@_deprecation.keyword_only("alpha", ("bias",), 4)
def alpha(sigma: Any, q0: Any, depth: Any, activation: str | Activation = "hardtanh",
          *, bias: Any = 0.0, **activation_params: float) -> np.ndarray:
    """Weight of the nonzero part of the J Jᵀ law: ``P(lambda_L > 0)``.

    For hard-tanh (docs/theory/closed_forms.md)::

        alpha = erf(sigma^(-L) / sqrt(2 q0))   (sigma > 1),
        alpha = erf(sigma^(-1) / sqrt(2 q0))   (sigma <= 1).

    relu gives 1/2 whatever ``q0``; leaky relu (slope > 0), linear and smooth activations give 1.

    Parameters
    ----------
    sigma : array_like
        Identity scale, finite and > 0.
    q0 : array_like
        Input variance per coordinate, finite and > 0.
    depth : array_like of int
        Number of layers L >= 1.
    activation : str or Activation
        A registered name (see :data:`rmt_idinit.activations.ACTIVATIONS`) or an Activation.
    bias : array_like
        Constant bias of every layer (default 0).

    Returns
    -------
    ndarray or float
        Broadcast over ``sigma``, ``q0``, ``depth`` and ``bias``.

    Examples
    --------
    >>> import rmt_idinit as ri
    >>> round(float(ri.alpha(1.02, 0.1, 50)), 6)
    0.759955
    """
    return _scalarize(_alpha_pair(sigma, q0, depth, activation, bias, activation_params)[0])


@_deprecation.keyword_only("alpha_complement", ("bias",), 4)
def alpha_complement(sigma: Any, q0: Any, depth: Any, activation: str | Activation = "hardtanh",
                     *, bias: Any = 0.0, **activation_params: float) -> np.ndarray:
    """``1 - alpha`` (the dead fraction, the mass of the atom at 0) without cancellation.

    Hard-tanh: ``erfc(sigma^(-m) / sqrt(2 q0))``, accurate to the last digits down to 1e-300.

    Examples
    --------
    >>> import rmt_idinit as ri
    >>> float(ri.alpha_complement(1.0, 2e-3, 1))  # erfc(15.81...), alpha rounds to 1.0
    9.505...e-111
    """
    return _scalarize(_alpha_pair(sigma, q0, depth, activation, bias, activation_params)[1])


def log_alpha_complement(sigma: Any, q0: Any, depth: Any, activation: str | Activation = "hardtanh",
                         **activation_params: float) -> np.ndarray:
    """``log(1 - alpha)``, finite where ``1 - alpha`` underflows double precision (hard-tanh).

    Uses ``log erfc(x) = log 2 + log_ndtr(-x sqrt 2)``.

    Examples
    --------
    >>> import rmt_idinit as ri
    >>> round(float(ri.log_alpha_complement(1.0, 1e-4, 1)), 4)
    -5004.8311
    """
    act = get_activation(activation, **activation_params)
    s, q, d, _ = _params(sigma, q0, depth)
    if act.is_unit_clip:
        return _scalarize(_log_erfc(_hardtanh_arg(s, q, d)))
    with np.errstate(divide="ignore"):
        return _scalarize(np.log(np.asarray(_alpha_pair(s, q, d, act, 0.0, {})[1])))


@_deprecation.keyword_only("layer_alphas", ("bias",), 4)
def layer_alphas(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh",
                 *, bias: Any = 0.0, **activation_params: float) -> np.ndarray:
    """``alpha^l`` for every layer ``l = 1..depth``, stacked on a last axis of length ``depth``.

    Examples
    --------
    >>> import rmt_idinit as ri
    >>> ri.layer_alphas(2.0, 1.0, 3).round(4).tolist()
    [0.3829, 0.1974, 0.0995]
    """
    d = _checks.check_depth(depth)
    if d.ndim != 0:
        raise ValueError(f"depth must be a single integer >= 1 for layer_alphas, got shape {d.shape}")
    s = _checks.check_positive("sigma", sigma)
    q = _checks.check_positive("q0", q0)
    b = _checks.check_finite("bias", bias)
    s, q, b = _checks.broadcast(sigma=s, q0=q, bias=b)
    # the erf/erfc closed form holds a few (batch x depth) temporaries
    _checks.check_memory(8.0 * 6 * max(s.size, 1) * int(d), f"depth={int(d)} (alpha^l of every layer)")
    layers = np.arange(1, int(d) + 1)
    return np.asarray(alpha(s[..., None], q[..., None], layers, activation, bias=b[..., None], **activation_params))


# --- the law ------------------------------------------------------------------------------

# the quadrature lives in rmt_idinit._core.quadrature; these names are what this module uses of it
_base_edges = _quad.base_edges
_z_nodes = _quad.z_nodes
_Z_C = _quad.Z_C             # below |x| = 2^-20 the panels are in t = -log|x|
_T0 = _quad.T0
_LOG_T_LIN = math.log(1e-30)  # |h| below which the layer map is linear to round-off


class PushforwardPart(ContinuousPart):
    """The law of ``lambda = g_L(u)^2``, ``u ~ N(0, q0)``, for a smooth activation.

    * moments: adaptive composite Gauss-Legendre quadrature (``log_nodes``,
      :mod:`rmt_idinit._core.quadrature`) in ``x = u/sqrt(q_ref)``, ``q_ref`` the largest q0 of the
      batch, for ``|x| >= 2^-20`` and in ``t = -log|x|`` below, where the normal weight becomes
      ``phi(e^-t) e^-t dt`` and is kept in logs; the tail beyond ``t_max`` is one closed-form node.
      The nodes in u are shared by the whole batch, each law weighing them with its own
      ``N(0, q0/q_ref)``: every distinct (sigma, bias) runs the layer recursion once, for all its
      q0 and all its depths in one pass (:func:`rmt_idinit.recursion.run_layers` records several
      layers). Deep laws (``|log E| ~ L``) refine only to the resolution of ``log g`` itself.
      When ``h = 0`` repels (phi(0) = 0, no bias, ``mu = sigma*phi'(0) > 1``: tanh and erf with
      sigma > 1, gelu/silu with sigma > 2) the gain peak of width ~ ``mu^-L`` around u = 0 carries
      the moments; a unit at ``|u| = e^-t`` is linear for its first ``m ~ t/log(mu)`` layers, which
      are taken in closed form (``PushforwardPart._eval_logg_t``), so peaks far below double range
      (``mu^-L < 1e-308``) are integrated at every depth. A dominant peak around any other
      unstable fixed point is limited by the rounding of the unit map there: moments raise a
      ValueError naming the largest depth that double precision resolves;
    * cdf/sf: ``P(g^2 <= x)`` as the Gaussian mass of ``{u : log|g(u)| <= log(x)/2}``, whose
      boundary points are bracketed on the node grid and bisected to round-off; for odd
      activations with decreasing phi' (tanh, erf) this is ``erfc(r / sqrt(2 q0))``;
    * pdf: ``sum_r N(r; 0, q0) / |d lambda/du (r)|`` over the same roots;
    * sampling: exact, by running the network map on Gaussian draws.
    """

    def __init__(self, act: Activation, sigma, q0, depth, bias):
        self.act = act
        self.sigma, self.q0, self.depth, self.bias = _params(sigma, q0, depth, bias)  # public: checked
        self.batch_shape = self.sigma.shape
        self.mass = np.ones(self.batch_shape)
        self.symmetric = bool(act.even_decreasing_gain and not np.any(self.bias))
        # Every law of the batch is integrated in one coordinate x = u / sqrt(q_ref), so laws that
        # differ only in q0 (or depth) share their nodes in u and one run of their unit map; each
        # law weighs the nodes with its own N(0, q0 / q_ref) (exactly N(0, 1) for a single q0).
        q = self.q0.ravel()
        self._q_ref = float(np.max(q, initial=1.0))
        self._x_scale = math.sqrt(self._q_ref)
        self._log_var = None if np.all(q == self._q_ref) else np.log(q / self._q_ref)
        self._x: np.ndarray | None = None
        self._u: np.ndarray | None = None
        # the nodes, shared: log weights per distinct q0 (_lw, row _wrow[b] of law b) and log
        # gains per distinct unit map and depth (_logg_rows, row _lrow[b]); _logg per law on demand
        self._lw: np.ndarray | None = None
        self._wrow: np.ndarray | None = None
        self._logg_rows: np.ndarray | None = None
        self._lrow: np.ndarray | None = None
        self._logg: np.ndarray | None = None
        self._lin: tuple | None = None
        self._maps: tuple | None = None
        self._row_index: tuple | None = None
        self._checked = False

    def _flat(self, name):
        return getattr(self, name).ravel()

    def _unit_maps(self):
        """The distinct unit maps (sigma, bias) of the batch and, per law, the index of its map."""
        if self._maps is None:
            s, b = self._flat("sigma"), self._flat("bias")
            keys, inv = np.unique(np.stack([s, b], axis=1), axis=0, return_inverse=True)
            self._maps = (keys[:, 0].copy(), keys[:, 1].copy(), inv.ravel())
        return self._maps

    def _linear_zero(self):
        """Per element: whether u = 0 is a repelling fixed point of the unit map, and log(mu).

        ``h = 0`` is fixed when phi(0) = 0 and the bias is 0; it repels when
        ``mu = sigma*phi'(0) > 1`` (both read off the numba kernels, so they are the values the
        recursion itself uses). Then the gain peaks on ``|u| ~ mu^(-L)`` and tiny inputs are
        followed in logs (:meth:`_eval_logg_t`).
        """
        if self._lin is None:
            from .recursion import run_layers

            s, b, inv = self._unit_maps()
            lg, x = run_layers(self.act, s, b, np.zeros((s.size, 1)), np.array([1]), want_x=True)
            log_mu = lg[0, :, 0]
            lin = (b == 0.0) & (x[0, :, 0] == 0.0) & (log_mu > 0.0)
            if lin.any():
                _check_linear_near_zero(self.act)
            self._lin = (lin[inv], np.where(lin, log_mu, 0.0)[inv])
        return self._lin

    def _rows(self):
        """Laws with the same unit map and depth have the same log-gains (they differ in q0 only):
        ``(map of each row, depth of each row, first law of each row, row of each law)``."""
        if self._row_index is None:
            _, _, inv = self._unit_maps()
            d = self._flat("depth")
            keys, first, law_row = np.unique(np.stack([inv, d], axis=1), axis=0,
                                             return_index=True, return_inverse=True)
            self._row_index = (keys[:, 0], keys[:, 1], first, law_row.ravel())
        return self._row_index

    def _map_log_gains(self, u: np.ndarray) -> np.ndarray:
        """``log|g|`` at the shared inputs ``u`` for every row (:meth:`_rows`), (n_rows, u.size):
        one run of each distinct unit map records every depth the batch asks for."""
        from .recursion import run_layers

        s, b, _ = self._unit_maps()
        row_map, row_depth, _, _ = self._rows()
        depths = np.unique(row_depth)
        pick = np.searchsorted(depths, row_depth)
        out = np.empty((row_map.size, u.size))
        chunk = max(1, int(2e7 // (depths.size * max(u.size, 1))))
        for start in range(0, s.size, chunk):
            sl = slice(start, start + chunk)
            n = s[sl].size
            lg, _ = run_layers(self.act, s[sl], b[sl], np.broadcast_to(u, (n, u.size)), depths)
            members = np.nonzero((row_map >= start) & (row_map < start + n))[0]
            out[members] = lg[pick[members], row_map[members] - start]
        return out

    def _eval_logg(self, z: np.ndarray) -> np.ndarray:
        """``log|g|`` at the shared points ``x = z`` for every row, (n_rows, z.size)."""
        return self._map_log_gains(self._x_scale * z)

    def _eval_logg_t(self, neg: np.ndarray, t: np.ndarray) -> np.ndarray:
        """``log|g|`` at ``x = -+exp(-t)`` (``neg`` selects the sign), any ``t`` up to +inf.

        On a repelling linear zero the first ``m`` layers, on which ``|h| <= 1e-30``, multiply the
        gain by ``mu`` each (exact to round-off), ``m`` chosen from ``log|h^1|``; the remaining
        ``L - m`` layers run from ``h = +-exp(log|h^1| + m log(mu))`` in double precision. Other
        maps take ``u = sqrt(q_ref) x`` directly (``t`` is then below ~80, or +inf: ``u = 0``).
        """
        from .recursion import run_layers

        _, _, first, _ = self._rows()
        s, d, b = (self._flat(n)[first] for n in ("sigma", "depth", "bias"))
        lin, log_mu = (v[first] for v in self._linear_zero())
        out = np.empty((s.size, t.size))
        sgn = np.where(neg, -1.0, 1.0)
        if (~lin).any():
            with np.errstate(under="ignore"):
                u = sgn * self._x_scale * np.exp(-t)
            out[~lin] = self._map_log_gains(u)[~lin]
        if not lin.any():
            return out
        rows = np.nonzero(lin)[0]
        s, d, b, log_mu = s[rows], d[rows], b[rows], log_mu[rows]
        with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
            log_h1 = (np.log(s) + math.log(self._x_scale))[:, None] - t[None, :]
            steps = np.floor((_LOG_T_LIN - log_h1) / log_mu[:, None]) + 1.0
            m = np.clip(np.where(np.isnan(steps), 0.0, steps), 0.0, d[:, None])
            h0 = sgn[None, :] * np.exp(log_h1 + m * log_mu[:, None])
        m = m.astype(np.int64)
        n_left = d[:, None] - m
        h0 = np.where(n_left > 0, h0, 0.0)
        # every unit runs its own n_left layers from h0 (and then keeps its gain)
        lg, _ = run_layers(self.act, s, b, np.zeros(h0.shape), np.array([max(1, int(n_left.max()))]),
                           h1=h0, stop=n_left)
        out[rows] = m * log_mu[:, None] + lg[0]
        return out

    def _eval_any(self, z: np.ndarray, t: np.ndarray) -> np.ndarray:
        in_t = ~np.isnan(t)
        if not in_t.any():
            return self._eval_logg(z)
        if in_t.all():
            return self._eval_logg_t(np.signbit(z), t)
        out = np.empty((self._rows()[0].size, z.size))
        if (~in_t).any():
            out[:, ~in_t] = self._eval_logg(z[~in_t])
        if in_t.any():
            out[:, in_t] = self._eval_logg_t(np.signbit(z[in_t]), t[in_t])
        return out

    def _panels(self):
        """Base panels: x in [2^-20, 38.5] (octaves up to 1), and t = -log|x| in [20 log 2, t_max]
        with edges at the escape depth of every repelling linear zero, and the tail beyond t_max
        (where every unit stays linear through all L layers) as one closed-form node."""
        e = _base_edges(_Z_C)[1:]
        za, zb = e[:-1], e[1:]
        lin, log_mu = self._linear_zero()
        s, d = (self._flat(n) for n in ("sigma", "depth"))
        with np.errstate(divide="ignore"):
            # units with |u| = exp(-t) leave the linear regime at the last layer when
            # log|h^1| + (L-1) log(mu) ~ 0; beyond t_lin all L layers are linear
            t_esc = np.log(s) + math.log(self._x_scale) + (d - 1) * log_mu
        t_esc, t_lin = t_esc[lin], t_esc[lin] - _LOG_T_LIN
        t_max = float(max(np.max(t_lin, initial=0.0), _T0 + 64.0))
        te = [_T0]
        while te[-1] < t_max:
            te.append(min(t_max, _T0 + 2.0 * (te[-1] - _T0) + 1.0))
        offsets = np.array([-48, -32, -24, -16, -12, -8, -6, -4, -3, -2, -1, 0, 1, 2, 4, 8, 16, 32], float)
        extra = np.concatenate([(np.unique(t_esc)[:, None] + offsets).ravel(), t_lin])
        te = np.unique(np.clip(np.concatenate([te, extra]), _T0, t_max))
        kept = [te[0]]
        for x in te[1:]:  # a batch of many depths would pile up edges: keep them >= 1/2 apart
            if x - kept[-1] >= 0.5 or x == t_max:
                kept.append(x)
        te = np.array(kept)
        ta, tb = te[:-1], te[1:]
        nz, nt = za.size, ta.size
        if self.symmetric:
            a = np.concatenate([za, ta])
            b = np.concatenate([zb, tb])
            kind = np.concatenate([np.zeros(nz, int), np.ones(nt, int)])
            sign = np.ones(nz + nt)
        else:
            a = np.concatenate([-zb, za, ta, ta])
            b = np.concatenate([-za, zb, tb, tb])
            kind = np.concatenate([np.zeros(2 * nz, int), np.ones(2 * nt, int)])
            sign = np.concatenate([np.ones(2 * nz), -np.ones(nt), np.ones(nt)])
        # the tail |x| < exp(-t_max): one node at x = 0 (mass of each law's normal law there)
        lv = np.zeros(1) if self._log_var is None else self._log_var
        half_mass = _log_erf(math.exp(-t_max) / np.sqrt(2.0 * np.exp(lv)),
                             -t_max - 0.5 * math.log(2.0) - 0.5 * lv) - math.log(2.0)
        tail_lw = (half_mass + (0.0 if self.symmetric else math.log(2.0)))[:, None]
        tail_lg = self._eval_logg_t(np.array([False]), np.array([np.inf]))
        fixed = (np.zeros(1), tail_lw, tail_lg, np.zeros(1))
        return a, b, kind, sign, fixed

    def _integrate(self) -> None:
        """Place the adaptive nodes (once): shared log gains and log weights, see ``__init__``."""
        if self._logg_rows is None:
            a, b, kind, sign, fixed = self._panels()
            x, lw, wrow, lg, lrow = _quad.adaptive_nodes(self._eval_any, a, b, kind, sign, fixed=fixed,
                                                         log_var=self._log_var, rows=self._rows()[3],
                                                         compact=True)
            if self.symmetric:
                lw = lw + math.log(2.0)
            self._x, self._u, self._lw, self._wrow, self._logg_rows, self._lrow = \
                x, self._x_scale * x, lw, wrow, lg, lrow

    def _logg_of(self, b_idx) -> np.ndarray:
        """``log|g|`` at the nodes for the batch elements ``b_idx`` (an index array or slice)."""
        self._integrate()
        return self._logg_rows[self._lrow[b_idx]]

    def _log_gains(self) -> np.ndarray:
        """``log|g|`` at the adaptive nodes for every batch element, shape (n_batch, n_nodes)."""
        if self._logg is None:
            self._logg = self._logg_of(slice(None))
        return self._logg

    def _log_weights(self, flat_index: int) -> np.ndarray:
        self._integrate()
        return self._lw[self._wrow[flat_index]]


    def _check_moments(self) -> None:
        # probabilities (cdf, ppf) stay right; moments carried by an unresolvable peak would not
        if not self._checked:
            _check_resolvable(self.act, self._flat("sigma"), self._flat("bias"), self._flat("depth"),
                              self._linear_zero()[0])
            self._checked = True

    def nodes(self, flat_index: int):
        self._check_moments()
        lg = self._logg_of(flat_index)
        with np.errstate(under="ignore"):  # weights of nodes at |u| < 1e-308 underflow to 0
            return 2.0 * lg, np.exp(self._log_weights(flat_index))

    def log_nodes(self, flat_index: int):
        """``(log lambda, log weight)`` at the quadrature nodes; the weights of nodes at
        ``|u| < 1e-308`` (deep peaks) underflow, their logs do not."""
        self._check_moments()
        return 2.0 * self._logg_of(flat_index), self._log_weights(flat_index)

    @property
    def n_nodes(self) -> int:
        """Quadrature nodes per law (what the moments sum over; refused first if unresolvable)."""
        self._check_moments()
        self._integrate()
        return self._logg_rows.shape[1]

    def log_nodes_rows(self, rows):
        """:meth:`log_nodes` of the laws ``rows`` (a slice or index array) at once:
        ``(log lambda, log weight)``, each (laws, nodes)."""
        self._check_moments()
        lg = self._logg_of(rows)
        return 2.0 * lg, self._lw[self._wrow[rows]]

    def log_moments(self, k: float) -> np.ndarray:
        """``log`` of the continuous part's ``E[lambda^k]`` for every batch element, (batch_shape):
        one pass over the shared nodes (:func:`rmt_idinit._core.kernels.log_moments`), no
        (laws, nodes) arrays."""
        from ._core.kernels import log_moments

        self._check_moments()
        self._integrate()
        out = log_moments(k, 2.0 * self._logg_rows, self._lw, self._lrow, self._wrow)
        return out.reshape(self.batch_shape)

    def log_vars(self) -> np.ndarray:
        """``log Var`` of the continuous part (a law without atoms) for every batch element, in
        one factored pass over the shared nodes (:func:`rmt_idinit._core.kernels.log_vars`)."""
        from ._core.kernels import log_vars

        self._check_moments()
        self._integrate()
        return log_vars(2.0 * self._logg_rows, self._lw, self._lrow, self._wrow).reshape(self.batch_shape)

    def log_range(self, flat_index: int) -> tuple[float, float]:
        lg = 2.0 * self._logg_of(flat_index)
        fin = lg[np.isfinite(lg)]
        return float(np.min(fin, initial=0.0)), float(np.max(fin, initial=0.0))

    def take(self, index):
        sub = PushforwardPart(self.act, self.sigma[index], self.q0[index], self.depth[index], self.bias[index])
        return sub

    # roots of log|g(u)| = level for pairs (element b, level)
    def _crossings(self, b_idx: np.ndarray, level: np.ndarray):
        from .recursion import refine_roots

        logg = self._logg_of(b_idx)                      # (n, U)
        below = logg <= level[:, None]
        flips = np.nonzero(below[:, 1:] != below[:, :-1])
        pair, j = flips
        lo, hi = self._u[j], self._u[j + 1]
        f_lo = logg[pair, j] - level[pair]
        roots = refine_roots(self.act, self._flat("sigma")[b_idx][pair], self._flat("bias")[b_idx][pair],
                             self._flat("depth")[b_idx][pair], lo, hi, f_lo, level[pair])
        return below, pair, j, roots

    # past this many standard deviations the normal mass erfc(z / sqrt 2) is below the smallest
    # double, so a radius beyond it gives the same cdf (0) and sf (1) as the exact one
    _Z_EDGE = 38.6
    _LADDER = 4.0 ** -np.arange(8, -1, -1)

    def _symmetric_radius(self, b_idx, level):
        """For a gain decreasing in |u|: the r >= 0 with {u : log|g(u)| <= level} = {|u| >= r}.

        ``inf`` where the gain stays above the level out to ``_Z_EDGE`` standard deviations (the
        mass beyond is 0 in double precision), 0 where it is below it already at u = 0. No
        quadrature nodes are needed: the ends of ``[0, _Z_EDGE sd]`` bracket the one crossing,
        and every pair's root is refined together through the block kernel (regula falsi steps down
        to neighbouring doubles, as the scalar bisection does).
        """
        from .recursion import log_gain_units, refine_roots_units

        s, d = self._flat("sigma")[b_idx], self._flat("depth")[b_idx]
        edge = self._Z_EDGE * np.sqrt(self._flat("q0")[b_idx])
        n = b_idx.size
        # a ladder 0, edge 4^-K, ..., edge/4, edge in one pass: the bracket of the crossing is then
        # a factor 4 wide, which the steps close in fewer rounds than from [0, edge]
        u = np.concatenate([np.zeros((n, 1)), edge[:, None] * self._LADDER[None, :]], axis=1)
        f = log_gain_units(self.act, np.repeat(s, u.shape[1]), 0.0, u.ravel(),
                           np.repeat(d, u.shape[1])).reshape(u.shape) - level[:, None]
        r = np.where(f[:, 0] <= 0.0, 0.0, np.inf)
        todo = np.nonzero((f[:, 0] > 0.0) & (f[:, -1] <= 0.0))[0]
        if todo.size:
            # the gain is non-increasing in |u|: the first ladder point at or below the level
            k = np.argmax(f[todo] <= 0.0, axis=1)
            lo, hi = u[todo, k - 1], u[todo, k]
            r[todo] = refine_roots_units(self.act, s[todo], 0.0, d[todo], lo, hi, f[todo, k - 1], f[todo, k],
                                         level[todo])
        return r

    def _mass_below(self, b_idx, level):
        """Gaussian mass of {u: log|g(u)| <= level} for each pair."""
        n = b_idx.size
        sd = np.sqrt(self._flat("q0")[b_idx])
        if self.symmetric:
            return special.erfc(self._symmetric_radius(b_idx, level) / (sd * math.sqrt(2.0)))
        below, pair, j, roots = self._crossings(b_idx, level)
        out = np.zeros(n)
        for k in range(n):
            mine = pair == k
            bnds = np.concatenate([[-np.inf], roots[mine], [np.inf]])
            # segments alternate; the first one has the status of the first node
            state = bool(below[k, 0])
            tot = 0.0
            for a, c in zip(bnds[:-1], bnds[1:]):
                if state:
                    tot += _gmass(a, c, sd[k])
                state = not state
            out[k] = tot
        return out

    def _chunked(self, fn, b_idx, values):
        """Apply ``fn(b_idx, values)`` in blocks so (pairs x nodes) work arrays stay ~32 MB."""
        self._integrate()
        n_nodes = self._logg_rows.shape[1]
        step = max(1, int(4e6 // n_nodes))
        if b_idx.size <= step:
            return fn(b_idx, values)
        return np.concatenate([fn(b_idx[i:i + step], values[i:i + step]) for i in range(0, b_idx.size, step)])

    def _pairs(self, x):
        x = np.asarray(x, dtype=np.float64)
        shape = x.shape
        b_idx = np.broadcast_to(np.arange(int(np.prod(self.batch_shape, dtype=int))).reshape(self.batch_shape), shape).ravel()
        return shape, b_idx, x.ravel()

    def cdf(self, x):
        shape, b_idx, xs = self._pairs(x)
        out = np.zeros(xs.size)
        pos = xs > 0
        if pos.any():
            # a symmetric law needs no quadrature nodes and only O(pairs) memory: no chunks
            run = self._mass_below if self.symmetric else partial(self._chunked, self._mass_below)
            out[pos] = run(b_idx[pos], 0.5 * np.log(xs[pos]))
        return out.reshape(shape)

    def sf(self, x):
        # P(g^2 > x): the complement set, computed directly from the same roots (no 1 - F)
        shape, b_idx, xs = self._pairs(x)
        out = np.ones(xs.size)
        pos = xs > 0
        if pos.any():
            if self.symmetric:
                # erf(r / sqrt(2 q0)): the complement of the cdf's erfc, with no 1 - F cancellation
                b, lv = b_idx[pos], 0.5 * np.log(xs[pos])
                out[pos] = special.erf(self._symmetric_radius(b, lv) / np.sqrt(2.0 * self._flat("q0")[b]))
            else:
                out[pos] = 1.0 - self._chunked(self._mass_below, b_idx[pos], 0.5 * np.log(xs[pos]))
        return out.reshape(shape)

    def pdf(self, x):
        shape, b_idx, xs = self._pairs(x)
        out = np.zeros(xs.size)
        pos = np.nonzero(xs > 0)[0]
        if pos.size:
            out[pos] = self._chunked(self._density, b_idx[pos], xs[pos])
        return out.reshape(shape)

    def _density(self, b_idx, lam):
        from .recursion import dlog_gain_du

        _, pair, _, roots = self._crossings(b_idx, 0.5 * np.log(lam))
        bb = b_idx[pair]
        q = self._flat("q0")[bb]
        dl = dlog_gain_du(self.act, self._flat("sigma")[bb], self._flat("bias")[bb], self._flat("depth")[bb], roots)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            dens = np.exp(-0.5 * roots * roots / q) / np.sqrt(2 * math.pi * q) / np.abs(2.0 * lam[pair] * dl)
        if self.symmetric:
            dens = 2.0 * dens
        out = np.zeros(b_idx.size)
        np.add.at(out, pair, np.where(np.isfinite(dens), dens, 0.0))
        return out

    def sample(self, flat_index, n, rng):
        from .recursion import run_layers

        s, q, d, b = (float(self._flat(k)[flat_index]) for k in ("sigma", "q0", "depth", "bias"))
        u = rng.standard_normal(n) * math.sqrt(q)
        lg, _ = run_layers(self.act, np.array([s]), np.array([b]), u[None, :], np.array([int(d)]))
        with np.errstate(over="ignore"):
            return np.exp(2.0 * lg[0, 0])

    def cdf_log(self, b_idx, log_x):
        """``P(g^2 <= exp(log_x))`` for elements ``b_idx``, with ``log_x`` beyond double range too."""
        b_idx = np.asarray(b_idx, dtype=int).ravel()
        lx = np.asarray(log_x, dtype=np.float64).ravel()
        out = np.zeros(lx.size)
        ok = ~np.isneginf(lx)
        if ok.any():
            out[ok] = self._chunked(self._mass_below, b_idx[ok], 0.5 * lx[ok])
        return out

    def ppf_many(self, b_idx, q):
        """:meth:`ppf` (``log=True``) of many (element, q) pairs in one run of the layer map: the
        quantile radius ``sqrt(2 q0) erfcinv(q)`` of each pair, its gain at its element's depth."""
        if not self.symmetric:
            return None
        from .recursion import run_layers

        b_idx = np.asarray(b_idx, dtype=np.int64).ravel()
        s, q0, d = (self._flat(k)[b_idx] for k in ("sigma", "q0", "depth"))
        r = np.sqrt(2.0 * q0) * special.erfcinv(np.asarray(q, dtype=np.float64).ravel())
        depths = np.unique(d).astype(np.int64)
        lg, _ = run_layers(self.act, s, np.zeros(s.size), r[:, None], depths)
        return 2.0 * lg[np.searchsorted(depths, d), np.arange(s.size), 0]

    def ppf(self, flat_index, q, log=False):
        if not self.symmetric:
            return None
        from .recursion import run_layers

        s, q0, d = (float(self._flat(k)[flat_index]) for k in ("sigma", "q0", "depth"))
        r = math.sqrt(2.0 * q0) * special.erfcinv(np.asarray(q, dtype=np.float64))
        lg, _ = run_layers(self.act, np.array([s]), np.array([0.0]), np.atleast_1d(r)[None, :], np.array([int(d)]))
        if log:
            return 2.0 * lg[0, 0]
        with np.errstate(over="ignore"):
            return np.exp(2.0 * lg[0, 0])


_H_SCAN = np.linspace(-60.0, 60.0, 96_001)  # where fixed points of h -> sigma*phi(h) + b are sought
_MIN_PEAK_ULPS = 1e6  # a gain peak narrower than this many rounding units of u is not resolved


def _phi_np(act: Activation, h: np.ndarray):
    try:
        return np.asarray(act.phi(h), dtype=np.float64), np.asarray(act.dphi(h), dtype=np.float64)
    except Exception:  # scalar-only user functions
        return (np.vectorize(act.phi, otypes=[float])(h), np.vectorize(act.dphi, otypes=[float])(h))


def _check_resolvable(act: Activation, sigma, bias, depth, lin_zero) -> None:
    """Refuse depths at which a dominant gain peak is narrower than double precision resolves.

    Units that start near an unstable fixed point ``h*`` of ``F(h) = sigma*phi(h) + b`` (rate
    ``rho = |F'(h*)| > 1``) linger there while their gain grows like ``rho^l``; the peak around
    ``u* = h*/sigma`` has width ``rho^(-L)/sigma``. It carries ~ rho^((2k-1)L) of E[lambda^k] against
    growth^(2kL) for the attractors (stable fixed points, or |h| -> inf for unbounded phi), so it
    dominates when ``rho^(2k-1) > growth^(2k)`` for k = 1 or 2. A repelling zero of a bias-free
    phi with phi(0) = 0 is followed exactly in log-u coordinates; any other dominant peak is only
    as good as the rounding of ``F`` near ``h*`` (~2^-52 max(|h*|, |b|)), and is refused once it is
    narrower than ``_MIN_PEAK_ULPS`` of those.
    """
    ph, dph = _phi_np(act, _H_SCAN)
    max_slope = float(np.max(np.abs(dph[np.isfinite(dph)]), initial=0.0))
    scale = 60.0 + float(np.max(np.abs(ph[np.isfinite(ph)]), initial=0.0))
    pairs = {}
    for k in range(sigma.size):
        pairs.setdefault((float(sigma[k]), float(bias[k])), []).append(k)
    for (s, b), members in pairs.items():
        deepest = int(np.max(depth[members]))
        rate_bound = s * max_slope
        if rate_bound <= 1.0:
            continue
        # no fixed point can be unresolved yet: the narrowest possible peak is still wide enough
        if -deepest * math.log(rate_bound) > math.log(_MIN_PEAK_ULPS * 2.0 ** -52 * (scale * s + abs(b))):
            continue
        f = s * ph + b - _H_SCAN
        flips = np.nonzero(np.sign(f[1:]) != np.sign(f[:-1]))[0]
        points = []
        for i in flips:
            lo, hi = _H_SCAN[i], _H_SCAN[i + 1]
            flo = f[i]
            for _ in range(80):
                mid = 0.5 * (lo + hi)
                fm = s * _phi_np(act, np.array([mid]))[0][0] + b - mid
                if (fm <= 0.0) == (flo <= 0.0):
                    lo, flo = mid, fm
                else:
                    hi = mid
            h_star = 0.5 * (lo + hi)
            points.append((h_star, abs(s * float(_phi_np(act, np.array([h_star]))[1][0]))))
        growth = [r for _, r in points if r < 1.0]
        if s * ph[-1] + b > _H_SCAN[-1]:   # units escaping to +inf grow by sigma*phi'(inf) per layer
            growth.append(abs(s * dph[-1]))
        if s * ph[0] + b < _H_SCAN[0]:
            growth.append(abs(s * dph[0]))
        g_max = max(growth, default=0.0)
        for h_star, rate in points:
            if rate <= 1.0 or (lin_zero[members[0]] and abs(h_star) < 1e-12):
                continue
            dominant = any(rate ** (2 * k - 1) > g_max ** (2 * k) for k in (1, 2))
            if not dominant:
                continue
            resolution = 2.0 ** -52 * max(abs(h_star), abs(b), abs(s * float(_phi_np(act, np.array([h_star]))[0][0])))
            limit = int(math.floor(-math.log(_MIN_PEAK_ULPS * resolution) / math.log(rate)))
            if deepest > limit:
                raise ValueError(
                    f"depth must be <= {limit} for {act.name} with sigma={s:g}, bias={b:g}: the gain peak "
                    f"around the unstable fixed point h* = {h_star:.6g} (rate {rate:.6g}) carries the "
                    f"moments and is narrower than double precision resolves beyond that depth "
                    f"(got depth {deepest}); rmt_idinit.precise.jjt_moment iterates in mpmath (use dps > "
                    f"{int(deepest * math.log10(rate)) + 25})")


def _check_linear_near_zero(act: Activation) -> None:
    """The log-u path assumes ``phi(h) = phi'(0) h (1 + O(h))`` and ``phi'(h) = phi'(0)(1 + O(h))``
    with O(1) constants, so that |h| <= 1e-30 is linear to round-off; probe it at h = 1e-8."""
    from .recursion import run_layers

    probe = 1e-8
    lg, x = run_layers(act, np.array([1.0]), np.array([0.0]), np.array([[0.0, probe]]), np.array([1]), want_x=True)
    d0 = math.exp(lg[0, 0, 0])
    dev_phi = abs(x[0, 0, 1] / (d0 * probe) - 1.0)
    dev_dphi = abs(math.expm1(lg[0, 0, 1] - lg[0, 0, 0]))
    if not (dev_phi <= 1e-6 and dev_dphi <= 1e-6):
        raise ValueError(
            f"activation {act.name!r}: phi is not linear near 0 on the scale |h| ~ 1e-8 (relative "
            f"deviation {max(dev_phi, dev_dphi):.2g}), which the law of deep nets with "
            f"sigma*phi'(0) > 1 needs to follow units that start at |u| < 1e-308")


def _gmass(a: float, c: float, sd: float) -> float:
    from .piecewise import gaussian_interval_mass

    return float(gaussian_interval_mass(np.array(a), np.array(c), sd * sd))


def _closed_form(act: Activation, s, q, d, b):
    """(log_atoms, weights, log_weights or None) for hard-tanh and the homogeneous rectifiers
    (:attr:`Activation.half_lines`), no bias.

    The hard-tanh weights are erf and erfc of the same argument, so each is accurate on its own
    (no 1 - alpha cancellation); log weights stay finite where either underflows.
    """
    two_l_log_s = 2.0 * d * np.log(s)
    if act.is_unit_clip:
        x = _hardtanh_arg(s, q, d)
        a, ac = special.erf(x), special.erfc(x)
        la = np.stack([two_l_log_s, np.full(s.shape, -np.inf)], axis=-1)
        # log weights stay finite where alpha or 1 - alpha underflow (moments of deep laws)
        lw = np.stack([_log_erf(x, _hardtanh_log_arg(s, q, d)), _log_erfc(x)], axis=-1)
        return la, np.stack([a, ac], axis=-1), lw
    la, w = [], []
    for slope, mass in act.half_lines:
        with np.errstate(divide="ignore"):
            la.append(2.0 * d * np.log(s * slope) if slope > 0 else np.full(s.shape, -np.inf))
        w.append(np.full(s.shape, mass))
    return np.stack(la, axis=-1), np.stack(w, axis=-1), None


def jjt_law(sigma: Any, q0: Any = None, depth: Any = 1, activation: str | Activation = "hardtanh",
            *, bias: Any = 0.0, inputs: Any = None, piecewise: bool | None = None,
            **activation_params: float) -> SpectralLaw:
    """The limiting (N -> inf) eigenvalue law of J Jᵀ at identity initialization.

    ``lambda = g_L(u)^2`` with ``g_L(u) = prod_l sigma*phi'(h^l(u))``, ``h^1 = sigma*u``,
    ``h^(l+1) = sigma*phi(h^l) + bias`` and ``u ~ N(0, q0)`` (or the empirical law of ``inputs``).

    Parameters
    ----------
    sigma, q0, depth, bias : array_like
        Broadcast together; the law is batched over the broadcast shape. ``depth`` may be e.g.
        ``np.arange(1, L + 1)`` to get every intermediate layer's law at once.
    activation : str or Activation
    inputs : array_like, optional
        Real input coordinates (any shape; all entries are pooled). Replaces ``N(0, q0)`` by their
        empirical law; ``q0`` must then be None.
    piecewise : bool, optional
        Force (True) or forbid (False) the exact cell method for piecewise-linear activations.

    Returns
    -------
    SpectralLaw
        Exact atoms (piecewise-linear activations, empirical inputs) or a continuous part (smooth).

    Notes
    -----
    Smooth laws with ``mu = sigma*phi'(0) > 1`` (tanh, erf) have a gain peak of width ~ ``mu^-L``
    at u = 0 that carries the moments, ``log E[lambda] ~ L log(mu)``; it is integrated in log-u
    coordinates at any depth (quantiles below double range: ``ppf(q, log=True)``). Moments carried
    by a peak around another unstable fixed point (e.g. tanh with a small bias) raise a ValueError
    beyond the depth at which double precision resolves it.

    Examples
    --------
    >>> import rmt_idinit as ri
    >>> law = ri.jjt_law(1.02, 0.1, 50)
    >>> law.weights.round(6).tolist(), float(law.atoms[0].round(6))
    ([0.759955, 0.240045], 7.244646)
    >>> round(float(ri.jjt_law(1.0, 1.0, 10, "tanh").mean()), 10)
    0.1764364492
    """
    act = get_activation(activation, **activation_params)
    if inputs is not None:
        if q0 is not None:
            raise ValueError("q0 must be None when inputs are given (their empirical law replaces N(0, q0))")
        return _empirical_law(act, sigma, depth, bias, inputs)
    if q0 is None:
        raise ValueError("q0 must be a finite number > 0 (or pass inputs=)")
    s, q, d, b = _params(sigma, q0, depth, bias)
    use_cells = act.pieces is not None if piecewise is None else bool(piecewise)
    if use_cells and act.pieces is None:
        raise ValueError(f"piecewise=True needs a piecewise-linear activation, got {act.name!r}")
    desc = f"identity init, {act.name}"
    if use_cells:
        if (act.is_unit_clip or act.half_lines is not None) and not np.any(b):
            la, w, lw = _closed_form(act, s, q, d, b)
            return SpectralLaw(la, w, description=desc, log_weights=lw)
        from .piecewise import piecewise_law

        results = [piecewise_law(act.pieces, float(s[i]), float(q[i]), int(d[i]), float(b[i]))
                   for i in np.ndindex(s.shape)]
        k = max(r[0].size for r in results)
        la = np.full((len(results), k), -np.inf)
        w = np.zeros((len(results), k))
        for i, (a_, w_) in enumerate(results):
            la[i, : a_.size], w[i, : w_.size] = a_, w_
        return SpectralLaw(la.reshape(s.shape + (k,)), w.reshape(s.shape + (k,)), description=desc)
    # log-gains at >= 16 * len(edges) nodes per batch element (adaptive panels add more, the
    # refinement holds a few copies): refuse a batch, e.g. depth=np.arange(1, 10**7), up front
    n_nodes = 2 * 16 * (_base_edges(2.0 ** -20).size - 1)
    _checks.check_memory(8.0 * 8 * s.size * n_nodes,
                         ("depth (an array of " if d.size > 1 and np.unique(d).size > 1 else "the sigma/q0/depth batch (")
                         + f"{s.size} laws: the log-gains of the smooth law at its quadrature nodes)")
    part = PushforwardPart(act, s, q, d, b)
    empty = np.zeros(s.shape + (0,))
    return SpectralLaw(empty, empty.copy(), part, description=desc + " (smooth)")


def _empirical_law(act, sigma, depth, bias, inputs) -> SpectralLaw:
    u = _checks.check_finite("inputs", inputs).ravel()
    if u.size == 0:
        raise ValueError("inputs must contain at least one value")
    s = _checks.check_positive("sigma", sigma)
    d = _checks.check_depth(depth)
    b = _checks.check_finite("bias", bias)
    s, d, b = _checks.broadcast(sigma=s, depth=d, bias=b)
    from .recursion import run_layers

    flat_s, flat_d, flat_b = s.ravel(), d.ravel(), b.ravel()
    depths = np.unique(flat_d)
    lg, _ = run_layers(act, flat_s, flat_b, np.broadcast_to(u, (flat_s.size, u.size)), depths)
    pick = np.searchsorted(depths, flat_d)
    la = 2.0 * lg[pick, np.arange(flat_s.size)]
    w = np.full(la.shape, 1.0 / u.size)
    return SpectralLaw(la.reshape(s.shape + (u.size,)), w.reshape(s.shape + (u.size,)),
                       description=f"identity init, {act.name}, empirical inputs (n={u.size})")


@_deprecation.keyword_only("jjt_eigenvalues", ("bias",), 4)
def jjt_eigenvalues(u: Any, sigma: float, depth: int, activation: str | Activation = "hardtanh",
                    *, bias: float = 0.0, all_layers: bool = False, log: bool = False,
                    **activation_params: float) -> np.ndarray:
    """Exact eigenvalues of J Jᵀ for given input vector(s) ``u``: ``g_L(u_i)^2`` per coordinate.

    Not statistical: for an identity-initialized network and input ``u``, the spectrum of
    J(u) J(u)ᵀ is exactly ``{g_L(u_i)^2}`` (docs/theory/identity.md).

    Parameters
    ----------
    u : array_like
        Input coordinates, any shape (e.g. a batch of flattened images).
    sigma, depth, bias : scalars
    all_layers : bool
        Return every layer ``l = 1..depth`` on a new leading axis.
    log : bool
        Return ``log(lambda)`` (``-inf`` for 0), finite where ``lambda`` overflows.

    Examples
    --------
    >>> import rmt_idinit as ri
    >>> ri.jjt_eigenvalues([0.1, 0.8, 2.0], 1.1, 3).round(6).tolist()
    [1.771561, 0.0, 0.0]
    """
    act = get_activation(activation, **activation_params)
    uu = _checks.check_finite("u", u)
    s = _checks.check_positive("sigma", sigma)
    d = _checks.check_depth(depth)
    b = _checks.check_finite("bias", bias)
    if s.ndim or d.ndim or b.ndim:
        raise ValueError("sigma, depth and bias must be scalars in jjt_eigenvalues (u carries the shape)")
    from .recursion import run_layers

    if all_layers:
        _checks.check_memory(8.0 * 3 * int(d) * max(uu.size, 1),
                             f"depth={int(d)} (the eigenvalues of every layer, all_layers=True)")
    record = np.arange(1, int(d) + 1) if all_layers else np.array([int(d)])
    lg, _ = run_layers(act, np.array([float(s)]), np.array([float(b)]), uu.reshape(1, -1), record)
    out = 2.0 * lg[:, 0, :].reshape((record.size,) + uu.shape)
    if not all_layers:
        out = out[0]
    if log:
        return out
    with np.errstate(over="ignore"):
        return np.exp(out)


# E_ht(q) from log q, shared with the mean-field maps (one implementation, exact for every q)
_ht_second_moment_from_log = _hardtanh.second_moment_from_log


def hardtanh_second_moment(q: Any) -> np.ndarray:
    """``E[clip(sqrt(q) z, -1, 1)^2]`` for ``z ~ N(0, 1)``::

        E_ht(q) = (q - 1) erf(1/sqrt(2q)) - sqrt(2q/pi) exp(-1/(2q)) + 1,

    evaluated without cancellation for small and for large ``q``.

    Examples
    --------
    >>> round(float(hardtanh_second_moment(1.0)), 10)
    0.516058551
    """
    q = _checks.check_positive("q", q)
    return _scalarize(_ht_second_moment_from_log(np.log(q)))


@_deprecation.keyword_only("forward_moments", ("bias",), 4)
def forward_moments(sigma: Any, q0: Any, depth: int, activation: str | Activation = "hardtanh",
                    *, bias: Any = 0.0, layers: Any = None, **activation_params: float) -> np.ndarray:
    """Second moments ``q^l = E[(x^l)^2]`` of the post-activations, ``l = 1..depth`` (last axis).

    ``layers`` (integers in ``1..depth``) keeps only those layers, as in
    :func:`rmt_idinit.precise.forward_moments`.

    At identity init there is no central limit: each unit keeps its own scalar map, so
    ``q^l = E_u[phi(h^l(u))^2]`` exactly. Hard-tanh (docs/theory/closed_forms.md)::

        q^L = E_ht(sigma^(2L) q0)                   (sigma > 1),
        q^L = sigma^(2(L-1)) E_ht(sigma^2 q0)       (sigma <= 1);

    relu ``sigma^(2l) q0 / 2``, leaky relu ``sigma^(2l) q0 (1 + s^2)/2``, linear ``sigma^(2l) q0``;
    otherwise Gauss-Legendre quadrature over u of the numba layer map.

    Examples
    --------
    >>> import rmt_idinit as ri
    >>> ri.forward_moments(1.0, 1.0, 2).round(6).tolist()
    [0.516059, 0.516059]
    >>> ri.forward_moments(2.0, 1e-3, 10, "relu", layers=[10]).round(3).tolist()
    [524.288]
    """
    if layers is None:
        return _forward_moments_all(sigma, q0, depth, activation, bias, activation_params)
    d = _checks.check_depth(depth)
    if d.ndim:
        raise ValueError(f"depth must be a single integer >= 1, got shape {d.shape}")
    pick = _checks.check_int("layers", layers, minimum=1, maximum=int(d))
    if pick.ndim != 1:
        raise ValueError(f"layers must be a sequence of integers in [1, {int(d)}], got shape {pick.shape}")
    return _forward_moments_all(sigma, q0, depth, activation, bias, activation_params)[..., pick - 1]


def _forward_moments_all(sigma, q0, depth, activation, bias, activation_params) -> np.ndarray:
    act = get_activation(activation, **activation_params)
    d = _checks.check_depth(depth)
    if d.ndim:
        raise ValueError(f"depth must be a single integer >= 1, got shape {d.shape}")
    s, q, b = _checks.broadcast(sigma=_checks.check_positive("sigma", sigma),
                                q0=_checks.check_positive("q0", q0), bias=_checks.check_finite("bias", bias))
    layers = np.arange(1, int(d) + 1, dtype=np.float64)
    S, Q = s[..., None], q[..., None]
    if not np.any(b) and (act.is_unit_clip or act.half_lines is not None):
        with np.errstate(over="ignore", under="ignore"):
            s2l = np.exp(2.0 * layers * np.log(S))
            if act.is_unit_clip:
                # both branches from logs, so neither can underflow into an invalid argument
                big = _ht_second_moment_from_log(2.0 * layers * np.log(S) + np.log(Q))
                small = np.exp(2.0 * (layers - 1) * np.log(S)) * _ht_second_moment_from_log(np.log(S * S * Q))
                return np.where(S > 1.0, big, small)
            # x^l = (sigma slope)^l u on each half-line: E[(x^l)^2] = sigma^(2l) q0 sum mass slope^(2l)
            factor = sum(mass * slope ** (2.0 * layers) for slope, mass in act.half_lines)
            return s2l * Q * factor
    from .recursion import run_layers

    z, wz = _z_nodes(2.0 ** -20, False)
    fs, fq, fb = s.ravel(), q.ravel(), b.ravel()
    _checks.check_memory(8.0 * 3 * int(d) * fs.size * z.size,
                         f"depth={int(d)} (post-activations of every layer at every quadrature node)")
    _, x = run_layers(act, fs, fb, np.sqrt(fq)[:, None] * z[None, :], np.arange(1, int(d) + 1), want_x=True)
    out = np.einsum("lpu,u->pl", x * x, wz)
    return out.reshape(s.shape + (int(d),))
