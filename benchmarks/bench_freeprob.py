"""Density of the random-init J Jᵀ law on 10^4 lambda points at depth 100, against a naive solver.

Naive baseline: for each lambda, all roots of the degree-L polynomial of docs/theory/random_init.md
(``numpy.roots``, companion-matrix eigenvalues) and the root with the most negative Im M
(``rho = -Im M / (pi lambda)``). The last column shows that this obvious per-point root choice
is *not* the physical branch at depth 100 (and the degree-100 companion matrix loses digits):
the continuation in the upper half plane is both faster and right (it is checked against the
closed-form moments and against simulated networks in tests/random_init/test_freeprob.py).
Run: ``python benchmarks/bench_freeprob.py``.
"""
from __future__ import annotations

import math
import time

import numpy as np

from rmt_idinit.random_init import freeprob as fp


def naive_density(lam: np.ndarray, L: int, p: float, kind: str) -> np.ndarray:
    P = np.polynomial.polynomial
    out = np.empty(lam.size)
    for i, lv in enumerate(lam):
        if kind == "gaussian":  # lambda M = (1 + M)(1 + M/p)^L
            poly = P.polymul(P.polypow([1, 1 / p], L), [1, 1])
            poly[1] -= lv
        else:  # lambda M p^L (1 + M)^(L-1) = (p + M)^L
            poly = P.polysub(P.polymul([0, lv * p ** L], P.polypow([1, 1], L - 1)), P.polypow([p, 1], L))
        roots = np.roots(poly[::-1])
        out[i] = max(-roots.imag.min(), 0.0) / (math.pi * lv)
    return out


def main(n: int = 10_000, L: int = 100, n_naive: int = 200) -> None:
    p = math.erf(1 / math.sqrt(2))
    print(f"hard-tanh, q* = 1 (p = {p:.6f}), depth {L}, {n} lambda points")
    print(f"{'weights':<11} {'ours [s]':>9} {'naive [s] (extrap.)':>20} {'ratio':>8} {'max |diff|/max rho':>19}")
    for kind in ("orthogonal", "gaussian"):
        edge = fp.jjt_edge(L, "hardtanh", kind, q_star=1.0)
        lam = np.linspace(edge * 1e-4, edge * 0.999, n)
        fp.jjt_density(lam[:10], L, "hardtanh", kind, q_star=1.0)  # compile / warm caches
        t0 = time.perf_counter()
        rho = fp.jjt_density(lam, L, "hardtanh", kind, q_star=1.0)
        t_ours = time.perf_counter() - t0
        sub = lam[:: n // n_naive]
        t0 = time.perf_counter()
        rho_naive = naive_density(sub, L, p, kind)
        t_naive = (time.perf_counter() - t0) * n / sub.size
        diff = np.max(np.abs(rho_naive - rho[:: n // n_naive])) / rho.max()
        print(f"{kind:<11} {t_ours:9.3f} {t_naive:20.2f} {t_naive / t_ours:8.0f} {diff:19.2e}")


if __name__ == "__main__":
    main()
