"""Density of the random-init J Jᵀ law on 10^4 lambda points at depth 100, against a naive solver.

Naive baseline: for each lambda, all roots of the degree-L polynomial of docs/theory/random_init.md
(``numpy.roots``, companion-matrix eigenvalues) and the root with the most negative Im M
(``rho = -Im M / (pi lambda)``). The last column shows that this obvious per-point root choice
is *not* the physical branch at depth 100 (and the degree-100 companion matrix loses digits):
the continuation in the upper half plane is both faster and right (it is checked against the
closed-form moments and against simulated networks in tests/random_init/test_freeprob.py).
Run: ``python benchmarks/bench_freeprob.py [--quick]`` (writes ``benchmarks/results/freeprob.json``)
or ``make bench``.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

if str(Path(__file__).resolve().parent.parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _machine  # noqa: E402
from rmt_idinit.random_init import freeprob as fp  # noqa: E402


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


def run(quick: bool = False) -> dict:
    """Both weight laws; the result dict of the format (benchmarks/run_all.py)."""
    import numba

    machine = _machine.start()
    n, L, n_naive = (1_000, 30, 20) if quick else (10_000, 100, 200)
    p = math.erf(1 / math.sqrt(2))
    rows = []
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
        rows.append(_machine.row(
            f"random-init J Jᵀ density ({kind} weights, hard-tanh, q* = 1), depth {L}, {n} λ points",
            "random_init.freeprob.jjt_density", "per-point numpy.roots of the degree-L polynomial",
            t_ours, t_naive, "s", higher_is_better=False,
            accuracy=(f"ours checked against closed-form moments and simulated networks (tests/random_init/test_freeprob.py); "
                      f"the naive 'most negative Im M' root differs by {diff:.2g} of max ρ"),
            note=f"naive time extrapolated from {sub.size} points; wall time"))
    return _machine.finish("freeprob", machine, rows, numba.get_num_threads())


def main(argv: list[str] | None = None) -> dict:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    result = run(quick=a.quick)
    for r in result["rows"]:
        print(f"{r['what']}: {r['ours_value']:.3g} s vs {r['baseline_value']:.3g} s -> {r['ratio']:.0f}x ({r['accuracy']})")
    if not a.quick:
        print("wrote", _machine.write(result))
    return result


if __name__ == "__main__":
    main()
