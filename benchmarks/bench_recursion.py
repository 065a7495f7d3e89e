"""Speed of the numba layer recursion against a plain-numpy reference, in one run.

Task: the mean eigenvalue E[lambda_L] = E[g_L(u)^2] of the identity-init J Jᵀ law for tanh at
depth 100 on a 128 x 128 grid of (sigma, q0).

Rows:
1. numpy reference: the natural vectorized code, all (sigma, q0, u) at once, one layer at a time,
   gains accumulated in logs, 256 Gauss-Legendre nodes in z = u/sqrt(q0) per grid point;
2. numba kernel on exactly the same nodes (same work: isolates the compiled kernel);
3. ``rmt_idinit.grid.log_moment_grid``: numba kernel + sharing the recursion across q0 (at identity
   init q0 only re-weights the u-nodes), with its own finer geometric u-grid.

Run:  python benchmarks/bench_recursion.py   (compile time excluded; reported separately)
"""
from __future__ import annotations

import math
import os
import platform
import time

import numpy as np
from scipy import special

from rmt_idinit.activations import get_activation
from rmt_idinit.grid import log_moment_grid
from rmt_idinit.recursion import run_layers

DEPTH = 100
GRID = 128
NODES = 256


def nodes():
    x, w = np.polynomial.legendre.leggauss(NODES)
    z = 8.0 * x
    return z, 8.0 * w * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def numpy_reference(sigma, q0, z, w):
    s = sigma[:, None]
    h = s * (np.sqrt(q0)[:, None] * z[None, :])
    logg = np.zeros_like(h)
    with np.errstate(divide="ignore"):
        for _ in range(DEPTH):
            t = np.tanh(h)
            logg += np.log(s * (1.0 - t * t))
            h = s * t
    return special.logsumexp(2.0 * logg, b=w[None, :], axis=1)


def numba_same_nodes(sigma, q0, z, w):
    act = get_activation("tanh")
    lg, _ = run_layers(act, sigma, np.zeros_like(sigma), np.sqrt(q0)[:, None] * z[None, :], np.array([DEPTH]))
    return special.logsumexp(2.0 * lg[0], b=w[None, :], axis=1)


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    s_axis, q_axis = np.geomspace(0.8, 1.25, GRID), np.geomspace(1e-3, 10.0, GRID)
    s, q = np.meshgrid(s_axis, q_axis, indexing="ij")
    sigma, q0 = s.ravel(), q.ravel()
    z, w = nodes()
    t0 = time.perf_counter()
    numba_same_nodes(sigma[:4], q0[:4], z, w)
    log_moment_grid(s_axis[:2], q_axis[:2], DEPTH)
    compile_s = time.perf_counter() - t0
    t_np, m_np = best_of(lambda: numpy_reference(sigma, q0, z, w), 1)
    t_nb, m_nb = best_of(lambda: numba_same_nodes(sigma, q0, z, w), 2)
    t_gr, m_gr = best_of(lambda: log_moment_grid(s_axis, q_axis, DEPTH), 3)
    steps = sigma.size * z.size * DEPTH
    print(f"# E[lambda] of the tanh identity-init law, depth {DEPTH}, {GRID}x{GRID} (sigma, q0) grid")
    print(f"# {platform.machine()}, {os.cpu_count()} cores, numba threads "
          f"{os.environ.get('NUMBA_NUM_THREADS', 'default')}; first calls (compile/cache load) {compile_s:.1f} s")
    print("| implementation | time (s) | ratio vs numpy | max |log m1 - numpy| |")
    print("|---|---|---|---|")
    print(f"| numpy reference, 256 nodes per point | {t_np:.2f} | 1.0 | 0 |")
    print(f"| numba kernel, same nodes | {t_nb:.2f} | {t_np / t_nb:.1f}x | {np.max(np.abs(m_nb - m_np)):.1e} |")
    print(f"| rmt_idinit.grid (numba + q0 sharing) | {t_gr:.2f} | {t_np / t_gr:.1f}x | "
          f"{np.max(np.abs(m_gr.ravel() - m_np)):.1e} |")
    print(f"# numpy: {steps / t_np:.3g} unit-layer steps/s; numba kernel: {steps / t_nb:.3g} steps/s")


if __name__ == "__main__":
    main()
