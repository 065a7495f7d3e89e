"""Speed of the numba layer recursion against plain numpy on identical work, in one run.

Task: the mean eigenvalue E[lambda_L] = E[g_L(u)^2] of the identity-init J Jᵀ law for tanh at
depth 100 on a GRID x GRID grid of (sigma, q0), NODES Gauss-Legendre nodes in z = u/sqrt(q0).

Rows:
1. numpy reference: the natural vectorized code, all (sigma, q0, u) at once, one layer at a time,
   gains accumulated in logs;
2. numba kernel on exactly the same nodes, every layer iterated (``converge=False``): same work,
   so the ratio isolates the compiled kernel;
3. the same kernel with settled units finished in closed form (the default);
4. ``rmt_idinit.grid.log_moment_grid``: kernel + sharing the recursion across q0.

Limits: the throughput of the kernel's own vectorized exp on the same threads (one exp per
unit-layer step is the floor of the tanh map), reported as steps/s over exps/s.

Depth: ``jjt_law(1.05, 0.5, L, "tanh").log_moment(1)`` for L = 1e4, 1e6, 1e9 (closed form after
the fixed point), with the change from L = 1e6 to 1e9 against its exact value
``(1e9 - 1e6) * 2 log|sigma tanh'(h*)|`` (the law is concentrated at the fixed point there).

Writes benchmarks/results/recursion.json (strict JSON, atomically) with the machine load.
Run:  python benchmarks/bench_recursion.py [--quick]   (compile/cache-load time reported apart)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import numba
import numpy as np
from numba import njit, prange
from scipy import special

import rmt_idinit as ri
from rmt_idinit._core.kernels import vexp
from rmt_idinit.activations import get_activation
from rmt_idinit.atomic import atomic_write_text
from rmt_idinit.grid import log_moment_grid
from rmt_idinit.recursion import run_layers

DEPTH = 100
OUT = Path(__file__).resolve().parent / "results" / "recursion.json"


def nodes(n):
    x, w = np.polynomial.legendre.leggauss(n)
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


def numba_same_nodes(sigma, q0, z, w, converge):
    act = get_activation("tanh")
    lg, _ = run_layers(act, sigma, np.zeros_like(sigma), np.sqrt(q0)[:, None] * z[None, :],
                       np.array([DEPTH]), converge=converge, progress=False)
    return special.logsumexp(2.0 * lg[0], b=w[None, :], axis=1)


@njit(parallel=True, fastmath={"contract"}, error_model="numpy")
def _exp_throughput(x, out, reps):
    # the kernel's own exp, one independent value per lane, on numba's threads
    n = x.shape[0]
    for k in prange(n // 1024):
        for _ in range(reps):
            for t in range(k * 1024, k * 1024 + 1024):
                out[t] = vexp(x[t])


def best_of(fn, repeat):
    """(best wall seconds, best CPU seconds of this process, result). CPU time counts only the time
    the process ran (summed over its threads), so on a shared machine it measures the work done
    where wall time also measures the other users; both are reported."""
    times, cpu, out = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(times), min(cpu), out


def depth_rows():
    rows = []
    prev = None
    for L in (10 ** 4, 10 ** 6, 10 ** 9):
        t = time.perf_counter()
        lm = float(ri.jjt_law(1.05, 0.5, L, "tanh").log_moment(1))
        rows.append({"depth": L, "seconds": time.perf_counter() - t, "log_moment_1": lm})
        prev = lm if L == 10 ** 6 else prev
    # fixed point h* = 1.05 tanh(h*) and its layer factor c = 1.05 (1 - tanh^2 h*)
    import mpmath as mp

    mp.mp.dps = 40
    hs = mp.findroot(lambda h: 1.05 * mp.tanh(h) - h, 0.4)
    c = 1.05 * (1 - mp.tanh(hs) ** 2)
    exact_step = float((10 ** 9 - 10 ** 6) * 2 * mp.log(c))
    got_step = rows[2]["log_moment_1"] - prev
    return rows, {"expected_increment_1e6_to_1e9": exact_step, "measured_increment": got_step,
                  "relative_error": abs(got_step - exact_step) / abs(exact_step)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small grid (a smoke run)")
    ap.add_argument("--out", default=str(OUT))
    ns = ap.parse_args()
    grid, n_nodes = (32, 128) if ns.quick else (128, 256)
    load_before = os.getloadavg()
    s_axis, q_axis = np.geomspace(0.8, 1.25, grid), np.geomspace(1e-3, 10.0, grid)
    s, q = np.meshgrid(s_axis, q_axis, indexing="ij")
    sigma, q0 = s.ravel(), q.ravel()
    z, w = nodes(n_nodes)
    t0 = time.perf_counter()
    numba_same_nodes(sigma[:4], q0[:4], z, w, False)
    log_moment_grid(s_axis[:2], q_axis[:2], DEPTH)
    xe = np.linspace(-30.0, 0.0, 1 << 16)
    oe = np.zeros_like(xe)
    _exp_throughput(xe, oe, 1)
    compile_s = time.perf_counter() - t0

    t_np, c_np, m_np = best_of(lambda: numpy_reference(sigma, q0, z, w), 2)
    t_nb, c_nb, m_nb = best_of(lambda: numba_same_nodes(sigma, q0, z, w, False), 3)
    t_cv, c_cv, m_cv = best_of(lambda: numba_same_nodes(sigma, q0, z, w, True), 3)
    t_gr, c_gr, m_gr = best_of(lambda: log_moment_grid(s_axis, q_axis, DEPTH), 3)
    reps = 200
    t_exp, c_exp, _ = best_of(lambda: _exp_throughput(xe, oe, reps), 3)
    exp_rate = xe.size * reps / t_exp
    exp_rate_cpu = xe.size * reps / c_exp
    steps = sigma.size * z.size * DEPTH
    d_rows, d_check = depth_rows()
    load_after = os.getloadavg()

    res = {
        "task": f"E[lambda] of the tanh identity-init law, depth {DEPTH}, {grid}x{grid} (sigma, q0) grid, "
                f"{n_nodes} nodes per point",
        "machine": {"arch": platform.machine(), "cpu_count": os.cpu_count(),
                    "numba_threads": numba.get_num_threads(),
                    "NUMBA_NUM_THREADS": os.environ.get("NUMBA_NUM_THREADS"),
                    "loadavg_1_5_15_before": list(load_before), "loadavg_1_5_15_after": list(load_after)},
        "compile_or_cache_load_s": compile_s,
        "unit_layer_steps": steps,
        "numpy": {"seconds": t_np, "cpu_seconds": c_np, "steps_per_s": steps / t_np,
                  "steps_per_cpu_s": steps / c_np},
        "numba_same_work": {"seconds": t_nb, "cpu_seconds": c_nb, "steps_per_s": steps / t_nb,
                            "steps_per_cpu_s": steps / c_nb, "ratio_vs_numpy": t_np / t_nb,
                            "ratio_vs_numpy_cpu_time": c_np / c_nb,
                            "max_abs_log_m1_diff": float(np.max(np.abs(m_nb - m_np)))},
        "numba_closed_form_tail": {"seconds": t_cv, "ratio_vs_numpy": t_np / t_cv,
                                   "max_abs_log_m1_diff": float(np.max(np.abs(m_cv - m_np)))},
        "grid_q0_sharing": {"seconds": t_gr, "ratio_vs_numpy": t_np / t_gr,
                            "max_abs_log_m1_diff": float(np.max(np.abs(m_gr.ravel() - m_np)))},
        "vectorized_exp": {"exps_per_s": exp_rate, "exps_per_cpu_s": exp_rate_cpu,
                           "kernel_steps_per_exp": (steps / t_nb) / exp_rate,
                           "kernel_steps_per_exp_cpu_time": (steps / c_nb) / exp_rate_cpu},
        "depth": {"rows": d_rows, "check": d_check},
    }
    atomic_write_text(ns.out, json.dumps(res, indent=2, allow_nan=False) + "\n")

    print(f"# {res['task']}")
    print(f"# {platform.machine()}, {os.cpu_count()} cores, numba threads {numba.get_num_threads()}, "
          f"load average {load_before[0]:.1f} -> {load_after[0]:.1f}; first calls {compile_s:.1f} s")
    print("| implementation | time (s) | unit-layer steps/s | ratio vs numpy | max |log m1 - numpy| |")
    print("|---|---|---|---|---|")
    print(f"| numpy reference | {t_np:.3f} | {steps / t_np:.3g} | 1.0 | 0 |")
    print(f"| numba kernel, same work | {t_nb:.3f} | {steps / t_nb:.3g} | {t_np / t_nb:.1f}x "
          f"(CPU time {c_np / c_nb:.1f}x) | {res['numba_same_work']['max_abs_log_m1_diff']:.1e} |")
    print(f"| numba, settled units in closed form | {t_cv:.3f} | - | {t_np / t_cv:.1f}x | "
          f"{res['numba_closed_form_tail']['max_abs_log_m1_diff']:.1e} |")
    print(f"| rmt_idinit.grid (q0 sharing) | {t_gr:.3f} | - | {t_np / t_gr:.1f}x | "
          f"{res['grid_q0_sharing']['max_abs_log_m1_diff']:.1e} |")
    print(f"# limit: vectorized exp {exp_rate:.3g}/s on the same threads ({exp_rate_cpu:.3g} per CPU s); "
          f"kernel steps per exp {res['vectorized_exp']['kernel_steps_per_exp']:.2f} "
          f"(CPU time {res['vectorized_exp']['kernel_steps_per_exp_cpu_time']:.2f})")
    print(f"# numpy {steps / c_np:.3g} and numba {steps / c_nb:.3g} unit-layer steps per CPU second")
    for r in d_rows:
        print(f"# jjt_law(1.05, 0.5, {r['depth']:.0e}, 'tanh').log_moment(1) = {r['log_moment_1']:.12g} "
              f"in {r['seconds']:.2f} s")
    print(f"# 1e6 -> 1e9 increment relative error vs mpmath fixed point: {d_check['relative_error']:.2e}")
    print(f"# wrote {ns.out}")


if __name__ == "__main__":
    main()
