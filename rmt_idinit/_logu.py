"""Unit gains for inputs too small for double precision: ``u = +-sqrt(q0) exp(-t)``, any ``t``.

Where ``h = 0`` is a fixed point of the layer map ``F(h) = sigma*phi(h)`` (phi(0) = 0, no bias)
that repels at rate ``mu = sigma*phi'(0) > 1``, the gain of a deep net peaks on ``|u| ~ mu^(-L)``,
below the smallest double (~1e-308) once ``L log(mu) > 709``. A unit that starts there is on the
linear part of the map for many layers: ``h^(l+1) = mu h^l (1 + O(h^2))`` and its gain grows by
``mu`` per layer, so these layers are skipped in closed form (``m log(mu)``) until ``|h|`` reaches
a threshold ``T`` at which the linearization is exact to round-off, and the remaining layers run
in double precision from ``h = +-exp(log|h^1| + m log(mu))``. The kernel here runs those remaining
layers with a per-unit start and layer count; once a unit sits on a fixed point of the double
precision map (``F(h) == h``), every further layer multiplies the gain by the same factor, which
it takes as one power.
"""
from __future__ import annotations

import math
import types

import numpy as np
from numba import njit, prange

from ._core.kernels import phi_dphi

__all__ = ["log_gains_from"]

_LN2 = math.log(2.0)


# One source, two compilations: the built-ins call the module-level ``phi_dphi`` (statically
# linked, so the kernel is cached on disk); a user activation gets a copy of the same function
# whose global ``phi_dphi`` is its own kernel (compiled per process, like recursion's closures).
def _run_from(code, p, sigma, bias, h0, n_layers, out):
    for k in prange(h0.shape[0]):
        s = sigma[k]
        b = bias[k]
        h = h0[k]
        n = n_layers[k]
        mant = 1.0
        expo = 0
        tail = 0.0
        dead = False
        layer = 0
        while layer < n:
            x, d = phi_dphi(code, h, p)
            f = s * d
            m = mant * f
            if m == 0.0:
                dead = True
                break
            if layer & 15 == 15 or m > 1e250 or m < 1e-250:
                mm, e = math.frexp(m)
                m = mm
                expo += e
            mant = m
            layer += 1
            hn = s * x + b
            if hn == h and layer < n:
                # a fixed point of the float map: every remaining layer multiplies by f again
                tail = (n - layer) * math.log(abs(f))
                break
            h = hn
        if dead:
            out[k] = -np.inf
        else:
            out[k] = math.log(abs(mant)) + expo * _LN2 + tail


_run_builtin = njit(cache=True, parallel=True)(_run_from)


def _user_kernel(both):
    fn = types.FunctionType(_run_from.__code__, dict(_run_from.__globals__, phi_dphi=both), "_run_user")
    return njit(parallel=True)(fn)


_USER: dict = {}


def log_gains_from(act, sigma, bias, h0, n_layers) -> np.ndarray:
    """``log|prod_{l=1..n} sigma*phi'(h^l)|`` with ``h^1 = h0`` and ``h^(l+1) = sigma*phi(h^l) + bias``.

    All arguments are 1-D arrays of one length (one entry per unit); ``n_layers`` may be 0
    (result 0).
    """
    _, _, _, code, both = act.kernels()
    if code >= 0:  # built-ins: one statically linked kernel, cached on disk across processes
        run = _run_builtin
    else:
        if id(both) not in _USER:
            _USER[id(both)] = (both, _user_kernel(both))  # keep `both` alive so its id stays unique
        run = _USER[id(both)][1]
    h0 = np.ascontiguousarray(h0, dtype=np.float64)
    out = np.empty(h0.shape[0])
    run(code, act.param_array, np.ascontiguousarray(sigma, dtype=np.float64),
              np.ascontiguousarray(bias, dtype=np.float64), h0,
              np.ascontiguousarray(n_layers, dtype=np.int64), out)
    return out
