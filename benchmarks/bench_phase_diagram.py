"""Phase-diagram speed: rmt_idinit.select.feasible_region vs plain-numpy references, one table.

* hard-tanh, 1000 x 1000 (sigma, q0) at depth 100: the vectorized closed form against a plain
  numpy/math reference that evaluates ``erf`` point by point (``np.frompyfunc(math.erf)``) and
  ``sigma**(2L)`` directly.
* tanh, 256 x 256 at depth 100: level sets of the numba layer map (one pass per chunk of sigmas,
  roots bisected, Gaussian masses for all q0 at once) against a straightforward numpy
  implementation of the same layer recursion over the same u-grid, with the dead fraction and
  the median conditions from midpoint quadrature of the indicators on that grid.

Run: ``python benchmarks/bench_phase_diagram.py`` (numba compile time is excluded by a warm-up).
"""
from __future__ import annotations

import math
import time

import numpy as np
from scipy import special

from rmt_idinit import select as sel
from rmt_idinit._core import levelsets

L, EPS, KAPPA = 100, 0.05, 10.0


def _time(fn, repeat=3):
    best = math.inf
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def ref_hardtanh(sig, q):
    S, Q = np.meshgrid(sig, q)
    m = np.where(S > 1, L, 1)
    x = S ** (-m) / np.sqrt(2 * Q)
    alive = np.frompyfunc(math.erf, 1, 1)(x).astype(float)
    scale = S ** (2 * L)
    return (1 - alive <= EPS) & (scale >= 1 / KAPPA) & (scale <= KAPPA), alive


def ref_tanh(sig, q):
    u = levelsets.u_grid(1e-3 * math.sqrt(q.min()), 40 * math.sqrt(q.max()))
    mid = np.concatenate([[-np.inf], 0.5 * (u[1:] + u[:-1]), [np.inf]])
    sd = np.sqrt(q)[:, None]
    w = 0.5 * (special.erf(mid[None, 1:] / (sd * math.sqrt(2))) - special.erf(mid[None, :-1] / (sd * math.sqrt(2))))
    mask = np.empty((q.size, sig.size), bool)
    alive = np.empty((q.size, sig.size))
    for j, s in enumerate(sig):
        h = s * u
        logg = np.zeros_like(u)
        with np.errstate(divide="ignore"):  # 1 - tanh^2 underflows to 0 far out: log -> -inf is right
            for _ in range(L):
                t = np.tanh(h)
                logg += np.log(s * (1 - t * t))
                h = s * t
        low = w @ (logg < -0.5 * math.log(KAPPA))
        high = w @ (logg > 0.5 * math.log(KAPPA))
        alive[:, j] = 1 - low
        mask[:, j] = (low <= EPS) & (low <= 0.5) & (high <= 0.5)
    return mask, alive


def main():
    rows = []
    sig = np.exp(np.linspace(-4, 4, 1000) / L)
    q = np.logspace(-4, 1, 1000)
    t_fast, reg = _time(lambda: sel.feasible_region(L, eps=EPS, kappa=KAPPA, sigma=sig, q0=q, progress=False))
    t_ref, (mask, alive) = _time(lambda: ref_hardtanh(sig, q), repeat=1)
    agree = float(np.mean(mask == reg.mask))
    rows.append(("hardtanh", "1000 x 1000", t_fast, t_ref, agree, float(np.max(np.abs(alive - reg.alive)))))

    sig = np.exp(np.linspace(-4, 4, 256) / L)
    q = np.logspace(-6, 0, 256)
    sel.feasible_region(L, "tanh", eps=EPS, kappa=KAPPA, sigma=sig[:4], q0=q[:4], progress=False)  # numba warm-up
    t_fast, reg = _time(lambda: sel.feasible_region(L, "tanh", eps=EPS, kappa=KAPPA, sigma=sig, q0=q, progress=False), repeat=2)
    t_ref, (mask, alive) = _time(lambda: ref_tanh(sig, q), repeat=1)
    agree = float(np.mean(mask == reg.mask))
    rows.append(("tanh", "256 x 256", t_fast, t_ref, agree, float(np.max(np.abs(alive - reg.alive)))))

    print(f"phase diagram at depth {L}, eps={EPS}, kappa={KAPPA}")
    print(f"{'activation':<10} {'grid':<12} {'rmt_idinit [s]':>15} {'numpy ref [s]':>14} {'speed-up':>9} "
          f"{'mask agree':>11} {'max |dalive|':>13}")
    for name, grid, tf, tr, ag, dd in rows:
        print(f"{name:<10} {grid:<12} {tf:>15.3f} {tr:>14.3f} {tr / tf:>8.1f}x {ag:>11.5f} {dd:>13.2e}")


if __name__ == "__main__":
    main()
