"""An independent reference for the random-init J Jᵀ laws of Bernoulli-class activations.

Written differently from :mod:`rmt_idinit.random_init.freeprob` on purpose: no continuation in the complex
plane, no quadrature of the density, no tabulated CDF. With ``M = lambda G - 1``,
``p = P(phi' != 0)`` and ``v = 1 + M/p``, the S-transform equations at criticality read

    gaussian:   lambda = (1 + M)(1 + M/p)^L / M   = (1 - p + p v) v^L / (p (v - 1)),
    orthogonal: lambda = (p + M)^L / (M p^L (1 + M)^(L-1)) = a v^L / (v - 1),  a = (1-p)/p

(the orthogonal form follows with ``w = M/(1+M)``, ``v = 1 + a w``). On the support lambda is
real and ``v = rho e^{i phi}`` (upper half plane) solves a real phase equation:

* orthogonal: ``arg(v - 1) = L phi``; the triangle (0, 1, v) gives by the law of sines
  ``rho = sin(L phi) / sin((L-1) phi)``, ``|v - 1| = sin(phi) / sin((L-1) phi)``, 0 < phi < pi/L;
* gaussian: ``arg(1 - p + p v) + L phi = arg(v - 1)``; the left side increases and the right side
  decreases along the ray ``v = rho e^{i phi}``, so the root ``rho`` is unique (bisection in
  ``log rho``), 0 < phi < pi/L;
* linear gaussian (p = 1, Fuss-Catalan): ``arg(v - 1) = (L+1) phi``, closed form as above.

The CDF then follows without integrating any density: the log-potential
``Phi(z) = E log(z - lambda)`` has ``Phi' = G = (1 + M)/z``, and ``d Phi = (1 + M) d log z``
integrates along the curve in closed form (``z -> inf`` fixes the constant):

    gaussian:   Phi = log z + L M - log(1 + M) - L p log(1 + M/p),
    orthogonal: Phi = log z - L p log(1 + a w) + (L p - L + 1) log(1 - w),

and ``Im Phi(lambda + i0) = pi P(eigenvalue > lambda)`` (atoms included). Every phi gives one exact
point ``(log lambda, P(0 < eigenvalue <= lambda))`` of the law. The parameter is
pair ``(phi, eps)`` with ``phi + eps = pi/L`` (``pi/(L+1)``) is passed whole, so that the small-lambda
tail (``lambda ~ eps^L``) and the top edge (``phi -> 0``) both keep full relative accuracy, in logs,
far below 1e-300.
"""
import math

import numpy as np


def _sin_n(n, phi, eps, total):
    """``sin(n phi)`` where ``n phi + n eps = total``; from whichever of phi, eps is small
    (``sin(total - n eps) = sin((pi - total) + n eps)``, which keeps a tiny ``n eps``)."""
    return np.where(phi < eps, np.sin(n * phi), np.sin((math.pi - total) + n * eps))


def orthogonal_curve(L, p, phi, eps):
    """``(log lambda, P(0 < . <= lambda), P(. > lambda))`` of the orthogonal law.

    ``phi + eps = pi/L`` (both given, so that each is accurate where it is small);
    ``L >= 2`` and ``0 < p < 1``.
    """
    phi, eps = np.asarray(phi, dtype=float), np.asarray(eps, dtype=float)
    a = (1.0 - p) / p
    s_L = _sin_n(L, phi, eps, math.pi)                   # sin(L phi) = sin(L eps)
    s_L1 = _sin_n(L - 1, phi, eps, math.pi * (L - 1) / L)  # sin((L-1) phi)
    log_rho = np.log(s_L) - np.log(s_L1)
    log_vm1 = np.log(np.sin(phi)) - np.log(s_L1)
    log_lam = L * log_rho + math.log(a) - log_vm1
    rho = np.exp(log_rho)
    # 1 - w = (a + 1 - v)/a, in the lower half plane
    arg_1mw = -np.arctan2(rho * np.sin(phi), a + 1.0 - rho * np.cos(phi))
    # P(0 < . <= lambda) = p - Im Phi / pi, with p - L p phi / pi = p L eps / pi exactly
    below = (p * L * eps + (L * p - L + 1.0) * arg_1mw) / math.pi
    above = (L * p * phi - (L * p - L + 1.0) * arg_1mw) / math.pi
    return log_lam, below, above


def gaussian_curve(L, p, phi, eps, iters=200):
    """As :func:`orthogonal_curve` for the Gaussian law (``phi + eps = pi/L``, ``p < 1``)."""
    phi, eps = np.asarray(phi, dtype=float), np.asarray(eps, dtype=float)
    top = phi < eps

    def g(s):
        rho = np.exp(s)
        a1 = np.arctan2(p * rho * np.sin(phi), 1.0 - p + p * rho * np.cos(phi))
        # arg(1-p+pv) + L phi - arg(v - 1): near the top edge directly; near lambda -> 0 with
        # L phi - pi = -L eps and pi - arg(v - 1) = atan2(rho sin phi, 1 - rho cos phi)
        near_top = a1 + L * phi - np.arctan2(rho * np.sin(phi), rho * np.cos(phi) - 1.0)
        near_zero = a1 - L * eps + np.arctan2(rho * np.sin(phi), 1.0 - rho * np.cos(phi))
        return np.where(top, near_top, near_zero)

    lo = np.full(eps.shape, -745.0)
    hi = np.full(eps.shape, 40.0)
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        pos = g(mid) > 0
        hi = np.where(pos, mid, hi)
        lo = np.where(pos, lo, mid)
        if np.all(hi - lo <= 4e-16 * np.maximum(1.0, np.abs(hi))):
            break
    s = 0.5 * (lo + hi)
    rho = np.exp(s)
    v = rho * np.exp(1j * phi)
    log_lam = (np.log(np.abs(1.0 - p + p * v)) + L * s - math.log(p) - np.log(np.abs(v - 1.0)))
    arg_1pM = np.arctan2(p * rho * np.sin(phi), 1.0 - p + p * rho * np.cos(phi))
    # Im Phi = arg(1+M) + L p phi - L Im M, Im M = p rho sin phi; below = p - Im Phi / pi
    below = (p * L * eps - arg_1pM + L * p * rho * np.sin(phi)) / math.pi
    above = (arg_1pM + L * p * phi - L * p * rho * np.sin(phi)) / math.pi
    return log_lam, below, above


def fuss_catalan_curve(L, phi, eps):
    """``(log lambda, P(. <= lambda), P(. > lambda))`` of the Fuss-Catalan law, ``phi + eps = pi/(L+1)``.

    ``v = 1 + M``: ``arg(v - 1) = (L+1) phi``, so ``|v| = sin((L+1) phi)/sin(L phi)`` and
    ``|M| = sin(phi)/sin(L phi)``; this is the classical parametrization
    ``lambda = sin^(L+1)((L+1) phi) / (sin(phi) sin^L(L phi))``.
    """
    phi, eps = np.asarray(phi, dtype=float), np.asarray(eps, dtype=float)
    s_L1 = _sin_n(L + 1, phi, eps, math.pi)              # sin((L+1) phi)
    s_L = _sin_n(L, phi, eps, math.pi * L / (L + 1))     # sin(L phi)
    log_lam = (L + 1) * np.log(s_L1) - np.log(np.sin(phi)) - L * np.log(s_L)
    im_M = np.sin(phi) / s_L * s_L1
    # Im Phi = (L+1) phi - L Im M; 1 - (L+1) phi / pi = (L+1) eps / pi
    below = ((L + 1) * eps + L * im_M) / math.pi
    above = ((L + 1) * phi - L * im_M) / math.pi
    return log_lam, below, above


def curve_grid(phi_max, n=300, tail_decades=300):
    """``(phi, eps)`` covering the whole support: dense at both edges, geometric into the tail."""
    x = np.linspace(0.0, 1.0, n + 2)[1:-1]
    bulk = 0.5 * (1.0 - np.cos(math.pi * x))
    tail = np.logspace(-tail_decades, -2, 2 * n // 3)   # eps / phi_max
    top = np.logspace(-12, -2, n // 6)                  # phi / phi_max
    eps_frac = np.concatenate([tail, 1.0 - bulk, 1.0 - top])
    phi_frac = np.concatenate([1.0 - tail, bulk, top])
    order = np.argsort(eps_frac)  # ascending lambda
    return phi_max * phi_frac[order], phi_max * eps_frac[order]
