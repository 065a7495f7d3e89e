"""Gauss quadrature rules, each built once and cached (read-only arrays).

* :func:`legendre` -- the ``order``-point Gauss-Legendre rule on ``[-1, 1]``;
* :func:`legendre_panels` -- that rule mapped onto every panel ``[a_i, b_i]``::

      int_a^b f(x) dx  ~  sum_j (b - a)/2 w_j f((b - a)/2 x_j + (b + a)/2);

* :func:`normal_half_rule` / :func:`normal_rule` -- nodes and weights for ``E[f(z)]``,
  ``z ~ N(0, 1)``: composite Gauss-Legendre with the normal density in the weights, graded
  towards ``z = 0`` (octave panels from ``2^-30`` to 1, then half-unit panels to 10, beyond which
  the normal mass is < 1e-23), so that ``f(sqrt(q) z)`` stays resolved for ``q`` up to ~1e16;
* :func:`hermite_normal` -- the Gauss-Hermite rule for the weight ``exp(-z^2/2)/sqrt(2 pi)``;
* :func:`laguerre` -- the Gauss-Laguerre rule for ``int_0^inf f(y) e^(-y) dy`` (power-law tails).

The cached arrays are shared by every caller, so they are made read-only: a caller that needs
to modify one works on a copy.
"""
from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["legendre", "legendre_panels", "normal_half_rule", "normal_rule", "hermite_normal", "laguerre"]


def _frozen(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    for a in arrays:
        a.flags.writeable = False
    return arrays


@functools.lru_cache(maxsize=None)
def legendre(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the ``order``-point Gauss-Legendre rule on ``[-1, 1]`` (cached).

    Exact for polynomials of degree ``2 order - 1``.

    Examples
    --------
    >>> x, w = legendre(4)
    >>> abs(float(w @ x ** 6) - 2 / 7) < 1e-15  # exact up to degree 7
    True
    """
    x, w = np.polynomial.legendre.leggauss(int(order))
    return _frozen(x, w)


def legendre_panels(edges: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights, shape ``(n_panels, order)``, of the rule on each panel of ``edges``.

    ``edges`` is ascending, ``n_panels + 1`` long; panel ``i`` is ``[edges[i], edges[i+1]]``.

    Examples
    --------
    >>> z, w = legendre_panels(np.array([0.0, 1.0, 3.0]), 8)
    >>> z.shape, round(float(np.sum(w * z ** 2)), 12)  # int_0^3 z^2 dz
    ((2, 8), 9.0)
    """
    x, w = legendre(order)
    e = np.asarray(edges, dtype=np.float64)
    a, b = e[:-1, None], e[1:, None]
    return 0.5 * (b - a) * x + 0.5 * (b + a), 0.5 * (b - a) * w


@functools.lru_cache(maxsize=None)
def normal_half_rule(order: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``z > 0`` and weights for ``E[f(|z|)]`` (the normal density doubled for the mirror half).

    Examples
    --------
    >>> z, w = normal_half_rule()
    >>> round(float(np.sum(w)), 14), round(float(np.sum(w * z ** 2)), 14)
    (1.0, 1.0)
    """
    edges = [0.0] + [2.0 ** -k for k in range(30, -1, -1)] + list(np.arange(1.5, 10.0 + 1e-9, 0.5))
    z, w = legendre_panels(np.asarray(edges), order)
    wz = w * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return _frozen(z.ravel(), 2.0 * wz.ravel())


@functools.lru_cache(maxsize=None)
def normal_rule(order: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Nodes over both signs (ascending) and weights for ``E[f(z)]``, ``z ~ N(0, 1)``.

    For activations that are neither even nor odd; :func:`normal_half_rule` is the same rule
    folded onto ``z > 0``.

    Examples
    --------
    >>> z, w = normal_rule()
    >>> round(float(np.sum(w * z ** 4)), 12)
    3.0
    """
    zh, wh = normal_half_rule(order)
    return _frozen(np.concatenate([-zh[::-1], zh]), np.concatenate([wh[::-1], wh]) / 2.0)


@functools.lru_cache(maxsize=None)
def hermite_normal(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights for ``E[f(z)]``, ``z ~ N(0, 1)`` (weights sum to 1).

    Examples
    --------
    >>> z, w = hermite_normal(10)
    >>> round(float(np.sum(w * z ** 2)), 12)
    1.0
    """
    z, w = np.polynomial.hermite_e.hermegauss(int(order))
    return _frozen(z, w / math.sqrt(2.0 * math.pi))


@functools.lru_cache(maxsize=None)
def laguerre(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Laguerre nodes and weights for ``int_0^inf f(y) e^(-y) dy`` (cached).

    Examples
    --------
    >>> y, w = laguerre(16)
    >>> round(float(np.sum(w * y ** 3)), 10)  # 3! = 6
    6.0
    """
    y, w = np.polynomial.laguerre.laggauss(int(order))
    return _frozen(y, w)
