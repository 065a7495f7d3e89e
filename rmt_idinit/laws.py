"""Spectral laws: atoms (carried in logs) plus an optional continuous part, scipy.stats-like.

A :class:`SpectralLaw` is the mixture::

    mu = sum_i w_i delta(lambda - a_i) + rho(lambda) d lambda,   sum_i w_i + int rho = 1,

batched over any ``batch_shape`` (one law per element of broadcast parameters). Atoms are stored
as ``log_atoms`` (``-inf`` for an atom at 0) so that laws whose atoms overflow double precision
(``sigma^(2L)`` with ``L log sigma > 354``) keep exact logs; ``atoms`` is ``exp(log_atoms)``.

Every moment-type functional (``moment``, ``log_moment``, ``mean``, ``var``) runs through one
path: the atoms together with the continuous part's quadrature nodes (``ContinuousPart.nodes``),
evaluated with a log-sum-exp so that huge atoms give finite logs and no NaN.

The continuous parts are

* :class:`GridDensity`: a density tabulated on a grid (the random-init laws of
  :mod:`rmt_idinit.random_init.freeprob` carry their own part in ``log lambda``);
* :class:`rmt_idinit.identity.PushforwardPart`: the exact law of ``g_L(u)^2`` for smooth
  activations, evaluated by quadrature and root finding over ``u``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._core.logsum import logsumexp
from ._core.checks import (as_float_array, check_instance, check_int, check_interval, check_nonnegative,
                           check_not_nan, check_rng, check_scalar, check_scalar_int)

__all__ = ["SpectralLaw", "ContinuousPart", "GridDensity"]


class ContinuousPart:
    """Interface of the absolutely continuous part of a :class:`SpectralLaw`.

    Subclasses hold ``batch_shape`` and ``mass`` (array of ``batch_shape``) and implement, for an
    ``x`` already broadcast to the batch shape:

    * ``cdf(x)``: ``int_{-inf}^{x} rho`` (so it ends at ``mass``, not 1), and ``sf(x)``;
    * ``pdf(x)``;
    * ``nodes(flat_index)`` -> ``(log_lambda, weight)`` quadrature nodes of element ``flat_index``
      (and ``log_nodes`` with log weights, which the moments use);
    * ``sample(flat_index, n, rng)``: ``n`` draws from the normalized part.

    Optional batched forms, used by :class:`SpectralLaw` where a part has them (a batch that
    shares its nodes then needs no loop over its elements): ``log_moments(k)`` and ``log_vars()``
    (batch_shape arrays of the part's log moment and, for a law without atoms, log variance) and
    ``ppf_many(b_idx, q)`` (log quantiles of many pairs, or None).
    """

    batch_shape: tuple[int, ...] = ()
    mass: np.ndarray

    def cdf(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def sf(self, x: np.ndarray) -> np.ndarray:
        return self.mass - self.cdf(x)

    def pdf(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def nodes(self, flat_index: int) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def log_nodes(self, flat_index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(log lambda, log weight)`` of the nodes; override where weights underflow double."""
        la, w = self.nodes(flat_index)
        with np.errstate(divide="ignore"):
            return la, np.log(w)

    def sample(self, flat_index: int, n: int, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def ppf(self, flat_index: int, q: np.ndarray, log: bool = False) -> np.ndarray | None:
        """Quantiles (their logs if ``log``) of the normalized part when known in closed form, else None."""
        return None

    def ppf_many(self, b_idx: np.ndarray, q: np.ndarray) -> np.ndarray | None:
        """Log quantiles ``log ppf(q[i])`` of elements ``b_idx[i]`` at once, as :meth:`ppf` with
        ``log=True`` gives them one element at a time; None where there is no closed form."""
        return None

    def log_range(self, flat_index: int) -> tuple[float, float]:
        """Smallest and largest finite ``log lambda`` among the nodes (brackets for quantiles)."""
        la, _ = self.nodes(flat_index)
        fin = la[np.isfinite(la)]
        return float(np.min(fin, initial=0.0)), float(np.max(fin, initial=0.0))

    def cdf_log(self, b_idx: np.ndarray, log_x: np.ndarray) -> np.ndarray:
        """``cdf(exp(log_x))`` of a part with batch shape (); override where ``x`` leaves double range."""
        with np.errstate(over="ignore", under="ignore"):
            return self.cdf(np.exp(np.asarray(log_x, dtype=np.float64)))

    def take(self, index: Any) -> "ContinuousPart":  # pragma: no cover - interface
        raise NotImplementedError


class GridDensity(ContinuousPart):
    """A density rho tabulated on a sorted grid, integrated with the trapezoid rule or given weights.

    Parameters
    ----------
    x : (n,) array
        Strictly increasing grid of lambda values covering the support.
    density : (n,) array
        Non-negative density values on the grid.
    weights : (n,) array, optional
        Quadrature weights for the nodes (default: trapezoid weights of ``x``).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0.0, 1.0, 2001)
    >>> part = GridDensity(x, 2.0 * x)
    >>> round(float(part.mass), 6), round(float(part.cdf(np.array(0.5))), 6)
    (1.0, 0.25)
    """

    def __init__(self, x: Any, density: Any, weights: Any | None = None) -> None:
        x = as_float_array("x", x)
        rho = as_float_array("density", density)
        if x.ndim != 1 or x.shape != rho.shape or x.size < 2:
            raise ValueError("x and density must be 1-D arrays of the same length >= 2")
        if not (np.all(np.isfinite(x)) and np.all(np.diff(x) > 0)):
            raise ValueError("x must be finite and strictly increasing")
        check_nonnegative("density", rho)
        self.x = x
        self.density = rho
        if weights is None:
            dx = np.diff(x)
            weights = np.zeros_like(x)
            weights[:-1] += dx / 2
            weights[1:] += dx / 2
        self.weights = as_float_array("weights", weights)
        # cumulative trapezoid, consistent with the default weights
        self._cum = np.concatenate([[0.0], np.cumsum(np.diff(x) * (rho[1:] + rho[:-1]) / 2)])
        self.mass = np.asarray(float(np.sum(self.weights * rho)))
        self.batch_shape = ()

    def cdf(self, x):
        x = np.asarray(x, dtype=np.float64)
        return np.interp(x, self.x, self._cum, left=0.0, right=self._cum[-1]) * (
            self.mass / self._cum[-1] if self._cum[-1] > 0 else 0.0)

    def pdf(self, x):
        return np.interp(np.asarray(x, dtype=np.float64), self.x, self.density, left=0.0, right=0.0)

    def nodes(self, flat_index: int = 0):
        keep = (self.weights * self.density) > 0
        with np.errstate(divide="ignore"):
            return np.log(self.x[keep]), (self.weights * self.density)[keep]

    def sample(self, flat_index, n, rng):
        q = rng.random(n) * self._cum[-1]
        return np.interp(q, self._cum, self.x)

    def ppf(self, flat_index, q, log=False):
        x = np.interp(np.asarray(q) * self._cum[-1], self._cum, self.x)
        if not log:
            return x
        with np.errstate(divide="ignore"):
            return np.log(x)

    def take(self, index):
        if index not in ((), Ellipsis):
            raise IndexError("a GridDensity law has batch shape ()")
        return self


class SpectralLaw:
    """The law of the eigenvalues of J Jᵀ: weighted atoms plus an optional continuous part.

    Parameters
    ----------
    log_atoms : array, shape (..., k)
        Logs of the atom locations (``-inf`` for an atom at 0).
    weights : array, shape (..., k)
        Atom masses, each in [0, 1].
    continuous : ContinuousPart, optional
        The absolutely continuous part, whose ``mass`` must be ``1 - weights.sum(-1)``.
    description : str
        Shown in ``repr``.
    log_weights : array, shape (..., k), optional
        ``log(weights)``, finite where a weight underflows double precision (e.g. the hard-tanh
        alpha ~ 1e-856 of a very deep net); moments are computed from these.

    Examples
    --------
    >>> import numpy as np
    >>> law = SpectralLaw([[np.log(4.0), -np.inf]], [[0.75, 0.25]])  # 3/4 at 4, 1/4 at 0
    >>> law.mean().tolist(), law.var().tolist()
    ([3.0], [3.0])
    """

    def __init__(self, log_atoms: Any, weights: Any, continuous: ContinuousPart | None = None,
                 *, description: str = "", log_weights: Any | None = None) -> None:
        la = as_float_array("log_atoms", log_atoms)
        w = as_float_array("weights", weights)
        if la.shape != w.shape or la.ndim < 1:
            raise ValueError(f"log_atoms and weights need one shape (*batch, k); got {la.shape} and {w.shape}")
        if np.isnan(la).any() or np.isposinf(la).any():
            raise ValueError("log_atoms must be finite or -inf (atom at 0)")
        check_interval("weights", w, 0.0, 1.0 + 1e-12)  # round-off above 1 from sums of masses
        self.log_atoms = la
        self.weights = w
        self.batch_shape: tuple[int, ...] = la.shape[:-1]
        self.continuous = continuous
        self.description = description
        if log_weights is None:
            with np.errstate(divide="ignore"):
                log_weights = np.log(w)
        self.log_weights = np.asarray(log_weights, dtype=np.float64)
        if self.log_weights.shape != w.shape:
            raise ValueError(f"log_weights must have shape {w.shape}, got {self.log_weights.shape}")
        if continuous is not None and tuple(continuous.batch_shape) != self.batch_shape:
            raise ValueError(f"continuous part batch shape {continuous.batch_shape} != {self.batch_shape}")

    # --- basic attributes -------------------------------------------------------------------
    @property
    def atoms(self) -> np.ndarray:
        """Atom locations ``exp(log_atoms)`` (``inf`` where beyond double range: use ``log_atoms``)."""
        with np.errstate(over="ignore"):
            return np.exp(self.log_atoms)

    @property
    def atom_mass(self) -> np.ndarray:
        return self.weights.sum(axis=-1)

    @property
    def continuous_mass(self) -> np.ndarray:
        if self.continuous is None:
            return np.zeros(self.batch_shape)
        return np.broadcast_to(self.continuous.mass, self.batch_shape)

    @property
    def is_discrete(self) -> bool:
        return self.continuous is None

    def __repr__(self) -> str:
        kind = "atoms" if self.continuous is None else "atoms + density"
        return f"{type(self).__name__}({self.description or kind}, batch_shape={self.batch_shape}, k={self.log_atoms.shape[-1]})"

    def __getitem__(self, index: Any) -> "SpectralLaw":
        """Select laws from the batch, like indexing an array of laws."""
        if not isinstance(index, tuple):
            index = (index,)
        la = self.log_atoms[index + (slice(None),)]
        cont = None if self.continuous is None else self.continuous.take(index)
        return SpectralLaw(la, self.weights[index + (slice(None),)], cont,
                           description=self.description, log_weights=self.log_weights[index + (slice(None),)])

    def _broadcast_x(self, name: str, x: Any) -> np.ndarray:
        x = check_not_nan(name, x)
        try:
            shape = np.broadcast_shapes(x.shape, self.batch_shape)
        except ValueError:
            raise ValueError(f"{name} of shape {x.shape} cannot broadcast against the batch shape {self.batch_shape}") from None
        return np.broadcast_to(x, shape)

    # --- distribution functions -------------------------------------------------------------
    def _log_x(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), -np.inf)

    def _atom_le(self, x: np.ndarray) -> np.ndarray:
        # Compare atoms as the numbers rvs() returns (exp(log_atom)), so that cdf(atom) includes the
        # atom even where log(exp(a)) != a by an ulp; logs only where the atom overflows.
        atoms = self.atoms
        lx = self._log_x(x)[..., None]
        return np.where(np.isfinite(atoms), atoms <= x[..., None], self.log_atoms <= lx)

    def cdf(self, x: Any) -> np.ndarray:
        """``P(lambda <= x)``, broadcasting ``x`` against the batch shape."""
        x = self._broadcast_x("x", x)
        below = self._atom_le(x) & (x[..., None] >= 0)
        out = np.sum(np.where(below, self.weights, 0.0), axis=-1)
        if self.continuous is not None:
            out = out + self.continuous.cdf(x)
        return np.clip(out, 0.0, 1.0)

    def sf(self, x: Any) -> np.ndarray:
        """``P(lambda > x)`` without cancellation in the upper tail."""
        x = self._broadcast_x("x", x)
        above = ~self._atom_le(x) | (x[..., None] < 0)
        out = np.sum(np.where(above, self.weights, 0.0), axis=-1)
        if self.continuous is not None:
            out = out + self.continuous.sf(x)
        return np.clip(out, 0.0, 1.0)

    def pdf(self, x: Any) -> np.ndarray:
        """Density of the continuous part (atoms are in ``atoms``/``weights``, not here)."""
        x = self._broadcast_x("x", x)
        if self.continuous is None:
            return np.zeros(x.shape)
        return self.continuous.pdf(x)

    def ppf(self, q: Any, *, log: bool = False) -> np.ndarray:
        """Quantile: the smallest ``x`` with ``cdf(x) >= q``; ``log=True`` returns ``log x``.

        Quantiles of deep laws can lie far outside double range (tanh, sigma = 1.05, depth 1e4:
        the median is ~ e^-3336); ``log=True`` carries them. Without it such values round to 0 or
        ``inf`` with a :class:`rmt_idinit.errors.RangeWarning`.

        Examples
        --------
        >>> import rmt_idinit as ri
        >>> law = ri.jjt_law(1.05, 0.5, 10_000, "tanh")
        >>> round(float(law.ppf(0.5, log=True)), 4)  # the median is e^-1982.3551
        -1982.3551
        """
        q = self._broadcast_x("q", check_interval("q", q, 0.0, 1.0))
        out = np.empty(q.shape)
        batch_idx = np.broadcast_to(np.arange(int(np.prod(self.batch_shape, dtype=int))).reshape(self.batch_shape), q.shape)
        flat_la, flat_w = self._flat_atoms()
        many = getattr(self.continuous, "ppf_many", None)
        direct = None
        if many is not None and flat_la.shape[1] == 0 and q.size:
            # no atoms: the part's closed-form quantiles of all elements at once, where it has them
            direct = many(batch_idx.ravel(), q.ravel())
        if direct is not None:
            out = np.asarray(direct, dtype=np.float64).reshape(q.shape)
        else:
            for pos in np.ndindex(q.shape):
                out[pos] = self._log_ppf_one(int(batch_idx[pos]), float(q[pos]), flat_la, flat_w)
        if log:
            return out
        with np.errstate(over="ignore", under="ignore"):
            x = np.exp(out)
        lost = np.isfinite(out) & ((x == 0.0) | np.isinf(x))
        if lost.any():
            import warnings

            from ._core.errors import RangeWarning

            warnings.warn(RangeWarning(
                f"{int(lost.sum())} quantile(s) lie outside double range (log x from "
                f"{float(np.min(out[lost])):.6g} to {float(np.max(out[lost])):.6g}) and were rounded to "
                f"0 or inf; ppf(q, log=True) returns log x"), stacklevel=2)
        return x

    def _log_cdf_at(self, sub: "SpectralLaw", log_x: float) -> float:
        """``cdf(exp(log_x))`` of a scalar law, for ``log_x`` beyond double range too."""
        la, w = sub._flat_atoms()
        atoms = float(np.sum(np.where(la[0] <= log_x, w[0], 0.0)))
        if sub.continuous is None:
            return atoms
        return atoms + float(np.asarray(sub.continuous.cdf_log(np.zeros(1, dtype=int), np.array([log_x])))[0])

    def _log_ppf_one(self, b: int, q: float, flat_la, flat_w) -> float:
        la, w = flat_la[b], flat_w[b]
        if self.continuous is None:
            order = np.argsort(la, kind="stable")
            cum = np.cumsum(w[order])
            i = min(int(np.searchsorted(cum, q * cum[-1] - 1e-15 * cum[-1], side="left")), len(cum) - 1)
            return float(la[order][i])
        if la.size == 0 or np.sum(w) == 0:
            direct = self.continuous.ppf(b, np.array([q]), log=True)
            if direct is not None:
                return float(direct[0])
        # mixed or implicit: bisect on log(x) using the mixture cdf of this batch element
        sub = self[np.unravel_index(b, self.batch_shape)] if self.batch_shape else self
        if float(sub.cdf(0.0)) >= q:
            return -math.inf
        fin = sub.log_atoms[np.isfinite(sub.log_atoms)]
        c_lo, c_hi = sub.continuous.log_range(0)
        lo, hi = min(float(np.min(fin, initial=c_lo)), c_lo) - 1.0, max(float(np.max(fin, initial=c_hi)), c_hi) + 1.0
        while self._log_cdf_at(sub, lo) >= q and lo > -1e300:
            lo = 2.0 * lo - 10.0 if lo < 0 else -10.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if self._log_cdf_at(sub, mid) >= q:
                hi = mid
            else:
                lo = mid
            if hi - lo < 1e-14 * max(1.0, abs(hi)):
                break
        return hi

    # --- moments ----------------------------------------------------------------------------
    def _flat_atoms(self) -> tuple[np.ndarray, np.ndarray]:
        nb = int(np.prod(self.batch_shape, dtype=int))
        k = self.log_atoms.shape[-1]
        return self.log_atoms.reshape(nb, k), self.weights.reshape(nb, k)

    def _all_nodes(self, flat_index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(log lambda, log weight)`` of the atoms and the continuous part's quadrature nodes."""
        fla, _ = self._flat_atoms()
        la = fla[flat_index]
        lw = self.log_weights.reshape(fla.shape)[flat_index]
        if self.continuous is None:
            return la, lw
        cl, clw = self.continuous.log_nodes(flat_index)
        return np.concatenate([la, cl]), np.concatenate([lw, clw])

    def _per_element(self, fn, rowwise: bool = True) -> np.ndarray:
        n = int(np.prod(self.batch_shape, dtype=int))
        if self.continuous is None:
            return fn(self.log_atoms, self.log_weights)
        batch = getattr(self.continuous, "log_nodes_rows", None)
        if not rowwise and batch is not None:
            # fn reduces each row on its own: blocks of rows at once instead of a loop over laws
            fla, _ = self._flat_atoms()
            flw = self.log_weights.reshape(fla.shape)
            out = np.empty(n)
            step = max(1, int(4e6 // max(1, self.continuous.n_nodes + fla.shape[1])))
            for start in range(0, n, step):
                rows = slice(start, min(n, start + step))
                cl, clw = batch(rows)
                if fla.shape[1]:
                    cl, clw = np.concatenate([fla[rows], cl], axis=1), np.concatenate([flw[rows], clw], axis=1)
                out[rows] = fn(cl, clw)
            return out.reshape(self.batch_shape)
        out = np.array([fn(*self._all_nodes(i)) for i in range(n)], dtype=np.float64)
        return out.reshape(self.batch_shape)

    def log_moment(self, k: float) -> np.ndarray:
        """``log E[lambda^k]``, finite even where the moment overflows double precision.

        ``k`` is any finite real for a law without an atom at 0; with one (relu, hard-tanh at
        random init), ``k >= 0``: ``E[lambda^k]`` is infinite for ``k < 0``, and ``k = 0`` gives
        the log of the total mass (``0^0 = 1``), 0 for a law of mass 1.

        Examples
        --------
        >>> law = SpectralLaw(np.array([-np.inf, 0.0]), np.array([0.25, 0.75]))  # atoms at 0 and 1
        >>> float(law.log_moment(0)), round(float(law.moment(2.0)), 12)
        (0.0, 0.75)
        """
        k = check_scalar("k", k)
        if k < 0:
            fla, fw = self._flat_atoms()
            if np.any(np.isneginf(fla) & (fw > 0)):
                raise ValueError(f"k must be >= 0 for a law with an atom at 0 (E[lambda^k] is infinite "
                                 f"for k < 0), got k={k!r}")

        def fn(la, lw):
            alive = np.isfinite(lw)
            with np.errstate(invalid="ignore"):
                terms = np.where(alive, (k * la if k != 0 else 0.0) + lw, -np.inf)
            return logsumexp(terms, axis=-1)

        fast = getattr(self.continuous, "log_moments", None)
        if fast is not None:
            # the part sums its own shared nodes in one pass; the atoms join by one log-add-exp
            cont = fast(k)
            if self.log_atoms.shape[-1] == 0:
                return cont
            return np.logaddexp(fn(self.log_atoms, self.log_weights), cont)
        # k >= 0 reduces row by row; k < 0 (no atom at 0, checked above) element by element
        return self._per_element(fn, rowwise=k < 0)

    def moment(self, k: float) -> np.ndarray:
        """``E[lambda^k]`` (``inf`` beyond double range; see :meth:`log_moment`)."""
        with np.errstate(over="ignore"):
            return np.exp(self.log_moment(k))

    def mean(self) -> np.ndarray:
        return self.moment(1.0)

    def log_var(self) -> np.ndarray:
        """``log Var[lambda]`` computed as ``sum w (lambda - m)^2`` in scaled form (no cancellation)."""

        def fn(la, lw):
            # Var = sum w (lambda - m)^2 with lambda scaled by the largest atom carrying weight;
            # weights are used in logs so underflowed weights still count.
            alive = np.isfinite(lw)
            top = np.max(np.where(alive, la, -np.inf), axis=-1, keepdims=True)
            top = np.where(np.isfinite(top), top, 0.0)
            with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
                scaled = np.where(alive, np.exp(la - top), 0.0)
                log_m = logsumexp(np.where(alive, lw + la - top, -np.inf), np.ones_like(la), axis=-1)[..., None]
                m = np.exp(log_m)
                dev = np.abs(scaled - m)
                log_v = logsumexp(np.where(alive & (dev > 0), lw + 2 * np.log(np.where(dev > 0, dev, 1.0)), -np.inf),
                                   np.ones_like(la), axis=-1)
                return log_v + 2 * top[..., 0]

        fast = getattr(self.continuous, "log_vars", None)
        if fast is not None and self.log_atoms.shape[-1] == 0:
            return fast()   # the same sum over the part's shared nodes, in one pass
        return self._per_element(fn)

    def var(self) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.exp(self.log_var())

    def std(self) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.exp(0.5 * self.log_var())

    # --- sampling and finite width ----------------------------------------------------------
    def rvs(self, n: int, rng: Any = None, *, log: bool = False) -> np.ndarray:
        """``n`` i.i.d. draws per batch element, shape ``batch_shape + (n,)``.

        At width ``n`` these are exactly the eigenvalues of J Jᵀ for an input with i.i.d. coordinates
        (docs/theory/identity.md). ``log=True`` returns ``log(lambda)`` (``-inf`` for 0).
        """
        n = int(check_int("n", n, minimum=0))
        rng = check_rng(rng)
        nb = int(np.prod(self.batch_shape, dtype=int))
        la, w = self._flat_atoms()
        out = np.empty((nb, n))
        cmass = self.continuous_mass.reshape(nb)
        for b in range(nb):
            probs = np.append(w[b], max(float(cmass[b]), 0.0))
            probs = probs / probs.sum()
            comp = rng.choice(probs.size, size=n, p=probs)
            if la.shape[1]:
                out[b] = np.where(comp < la.shape[1], la[b][np.minimum(comp, la.shape[1] - 1)], np.nan)
            m = comp == la.shape[1]
            if m.any():
                with np.errstate(divide="ignore"):
                    out[b, m] = np.log(self.continuous.sample(b, int(m.sum()), rng))
        out = out.reshape(self.batch_shape + (n,))
        if log:
            return out
        with np.errstate(over="ignore"):
            return np.exp(out)

    def count_law(self, width: int, atom: int = 0):
        """Finite width: the number of eigenvalues equal to ``atoms[..., atom]`` among ``width``.

        Exactly ``Binomial(width, weights[..., atom])`` (a frozen ``scipy.stats.binom``), since the
        eigenvalues are i.i.d. draws of this law.
        """
        from scipy import stats

        width = check_scalar_int("width", width, minimum=1)
        atom = check_scalar_int("atom", atom, minimum=0, maximum=self.log_atoms.shape[-1] - 1)
        return stats.binom(width, self.weights[..., atom])


def check_law(name: str, value: Any) -> SpectralLaw:
    """The parameter check of functions that take a law: a :class:`SpectralLaw` (or a subclass)."""
    return check_instance(name, value, SpectralLaw, "e.g. from rmt_idinit.jjt_law")
