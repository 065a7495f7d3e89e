"""Per-unit layer recursion at identity initialization, compiled with numba.

With W = sigma*I every unit follows its own scalar map (docs/theory/identity.md)::

    h^1 = sigma*u,   h^(l+1) = sigma*phi(h^l) + b,   g_l(u) = prod_{k<=l} sigma*phi'(h^k),

and the eigenvalues of J_l J_l^T are g_l(u_i)^2. The kernels below run that map for many
parameter sets and many u at once, recording ``log|g_l|`` and ``x^l = phi(h^l)`` at any chosen
layers in a single pass.

* The gain is carried as mantissa * 2**exponent, renormalized every layer with bit operations,
  so any depth neither overflows nor pays a logarithm per layer.
* Blocks of units advance together through branch-free loops that LLVM turns into SIMD code (see
  :mod:`rmt_idinit._core.kernels`); blocks run on numba's threads (``NUMBA_NUM_THREADS``).
* Depth-independent cost: once a unit sits at a *stable* fixed point to round-off (the layer
  factor ``f = sigma*phi'(h)`` has stopped changing to a few ulp, ``|f| < 1``, and the step of
  ``h`` is small against the contraction), every further layer multiplies the gain by the same
  ``f``, so ``log|g_L| = log|g_l| + (L - l) log|f|``: the remaining layers cost one multiply.
  Consecutive factors can agree to the last bit while the unit still drifts (just below
  sigma*phi'(0) = 1 the factor moves by less than an ulp a layer long before its limit), so a
  flagged unit finishes only once the transient its skipped layers would still add, bounded from
  its distance to the fixed point and phi'' there, is below 4.4e-16 (``_settle_wait``); until
  then it is iterated. What the closed form then adds to ``log|g|`` is the ulps of ``f`` times
  the layers skipped, the same order as direct iteration in float64. A unit near an *unstable* fixed point (``|f| >= 1``;
  e.g. ``u ~ 1e-300`` with sigma*phi'(0) > 1) is never taken as converged, however slowly it
  moves; a unit whose ``h`` is exactly stationary in float64 (``u = 0``) is, since direct
  iteration would repeat the same layer forever.
* Parabolic fixed point (odd phi, no bias, ``sigma*phi'(0) = 1`` to ~1e-13, e.g. tanh at
  sigma = 1, erf(a h) at sigma = sqrt(pi)/(2a)), where ``h_l ~ sqrt(3/(2l))`` converges only
  algebraically: once ``y = 1/h^2 >= 50`` a unit leaves the kernel for an asymptotic expansion
  (Abel coordinate and log-gain potential in powers of 1/y, :mod:`rmt_idinit._core.parabolic`,
  docs/theory/parabolic.md), so any depth costs ~100 direct layers per unit plus a Newton solve
  per recorded depth; accurate to a few ulp of ``log|g|`` (mpmath-checked), better than direct
  float64 iteration there. The scalar kernels (bisection, ``d log g/du``) hand over at the same
  layers. ``_PARABOLIC = False`` restores direct iteration.
* Slow cases keep a cost proportional to depth: units that never settle (expanding linear
  pieces, sigma > 1 relu) and non-odd parabolic points (silu/gelu at sigma = 2:
  ``f = h + c h^2``, semi-stable). Those are iterated directly, in chunks of layers that take a fraction of a second each, so
  Ctrl-C stops them, and a tqdm bar appears once a call has run for a second.

* Inputs too small for double precision (``u = +-sqrt(q0) exp(-t)``, any ``t``) on a repelling
  linear zero (``phi(0) = 0``, no bias, ``mu = sigma*phi'(0) > 1``): the first ``m`` layers, while
  ``|h| <= 1e-30``, multiply the gain by ``mu`` each and are taken in closed form by the caller;
  ``run_layers(h1=..., stop=...)`` then runs each unit's remaining layers from its own start.

Built-in activations compile once and are cached on disk (``cache=True``; module-level kernels
that branch on the activation's code). A user :class:`~rmt_idinit.activations.Activation` with
Python callables gets its own copies of these kernels, compiled in each process (2-4 s).
"""
from __future__ import annotations

import math
import time
import types as _pytypes

import numpy as np
from numba import njit, prange

from ._core import checks as _checks
from ._core.kernels import _f2i, _i2f, act_block, d2phi, phi_dphi, wide_simd
from ._core.parabolic import _LAYERS_PER_SOLVE, EPS_K_MAX as _EPS_K_MAX

__all__ = ["run_layers", "log_gain_scalar", "refine_roots", "dlog_gain_du", "log_gain_units",
           "refine_roots_units"]

_LN2 = math.log(2.0)
_B = 64                   # units per block: the SIMD loops run over these
# with converge=False no unit leaves early, so nothing is lost by iterating more units together,
# and a longer block spreads the per-layer cost of a block (the act_block call, loop set-up and
# alias checks) over more units: 4x longer blocks measured ~20% more steps/s there (tanh, one process)
_B_ITER = 256
_TINY = 2.0 ** -900       # layer factors below this are pre-scaled so the product stays normal
_BIG = 2.0 ** 200
_EXP_FIELD = 0x7FF << 52
_CLEAR_EXP = -9218868437227405313   # ~(0x7ff << 52) as int64: keeps sign and mantissa bits
_HALF_EXP = 1022 << 52              # exponent field of [0.5, 1)
_H_RADIUS = 2.0 ** -20              # |dh| / (1 - |f|): how far the fixed point may still be

_TARGET_CHUNK_S = 0.25    # wall time per chunk of layers (Ctrl-C latency, progress updates)
# unit-layer steps below which a chunk runs on the calling thread: waking numba's thread pool costs
# ~0.05 ms idle but 1-8 ms on a busy machine (OpenMP layer), the time of ~1e6 steps
_SERIAL_BELOW = 1_000_000
_PROGRESS_AFTER_S = 1.0
# units at a parabolic fixed point (sigma*phi'(0) = 1, odd phi) leave the kernel for the asymptotic
# expansion once close enough to 0; False keeps direct iteration (tests compare the two)
_PARABOLIC = True
_PARABOLIC_FIRST = 64


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def _settled(f, fprev, dfprev, h, hn, mode):
    """Has the unit reached its fixed point, so every later layer repeats the factor ``f``?

    ``mode`` 0: never; 1: only when ``h`` is exactly stationary (float64 iteration would repeat
    this layer forever, ``x`` included); 2: also (the gain only) when the fixed point is stable, ``|f| < 1``, and ``f`` must be
    at its limit ``f*`` to round-off, judged from its last step ``df = f - fprev``:

    * converging: the steps shrink by ~``f`` per layer, so ``|f - f*| ~ |df| |f| / (1 - |f|)``;
      that must be below 2 ulp;
    * at the float64 noise floor: a step no smaller than the previous one (rounding, not
      convergence) and ``|df| / (1 - |f|)`` within 2e-15 of ``|f|``.

    The fixed point must also lie within ``|dh| / (1 - |f|)`` (Banach) close enough that phi'
    cannot change on the way (this keeps a unit on a linear piece from being declared settled
    while it is still heading for a kink). Bitwise ``&``/``|``: the loop stays vectorizable.
    """
    dh = hn - h
    af = abs(f)
    # hn == h also holds for h = +-inf (an overflowed unit of an unbounded activation, whose
    # phi' has reached its limit), where dh would be NaN
    om = 1.0 - af
    adf = abs(f - fprev)
    deep = adf <= 4.4e-16 * om
    floor = (adf <= 2e-15 * af * om) & (adf >= dfprev)
    return ((mode >= 1) & (hn == h)) | ((mode == 2) & (af < 1.0) & (deep | floor)
                          & (abs(dh) <= _H_RADIUS * om * (1.0 + abs(hn))))


_TRANSIENT_TOL = 4.4e-16   # what the layers skipped by a settled unit may still owe log|g|


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _settle_wait(code, p, s, hn, f, dh):
    """0 if a unit that :func:`_settled` flagged may finish in closed form, else how many more
    layers to iterate before asking again.

    The flag compares consecutive factors, which rounding can make equal while the unit still
    drifts: near sigma*phi'(h*) = 1 the factor changes by less than an ulp a layer long before it
    is at its limit (tanh, sigma = 0.999, u = 1e-6 settled at h ~ 3e-7 and lost 7e-11 of
    log|g|). So the skipped layers' transient is bounded from h, which keeps its relative
    precision: the fixed point lies ``delta = |dh| f / (1 - f)`` away (linear convergence at
    rate f), the factor differs from its limit by about ``|s phi''(h)| delta`` there and
    shrinks at least like f a layer, so the layers left owe ``log|g|`` at most about
    ``c = |s phi''(h)| delta / (f (1 - f))``. Closed form once ``c <= 4.4e-16``, or once ``h``
    stands still to its own round-off (iterating cannot refine it further); otherwise wait
    about the layers ``c`` needs to fall that far (at least one).
    """
    af = abs(f)
    if dh == 0.0 or af >= 1.0 or not math.isfinite(hn) or abs(dh) <= 8.9e-16 * abs(hn):
        return 0
    om = 1.0 - af
    delta = abs(dh) * af / om
    c = abs(s * d2phi(code, hn, p)) * delta / (af * om)
    if not c > _TRANSIENT_TOL:   # also a NaN phi'' (no second derivative there): trust the flag
        return 0
    # c falls at least like f^k: k = log(c / tol) / -log f layers, asked again halfway
    k = 0.5 * math.log(c / _TRANSIENT_TOL) / max(-math.log(af), 1e-300)
    return int(min(max(k, 1.0), 1e6))


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _log_f_star(code, p, s, hn, f, dh):
    """``log|f*|`` at the fixed point a settled unit is heading for.

    ``h* ~ h_(l+1) + dh f / (1 - f)`` (linear convergence at rate f); evaluating phi' there
    instead of at the last iterate gives every unit that settles on the same fixed point the same
    factor (e.g. exactly sigma*phi'(0) at h* = 0), so ``(L - l) log|f*|`` does not turn the
    last-ulp differences of the iterates into noise across u of size L * 1e-16.
    """
    af = abs(f)
    if dh == 0.0 or af >= 1.0 or not math.isfinite(hn):
        return math.log(af)
    h_star = hn + dh * (f / (1.0 - f))
    x, d = phi_dphi(code, h_star, p)
    fs = abs(s * d)
    # keep the extrapolation only if it is a refinement, not a jump (e.g. past a kink)
    return math.log(fs) if abs(fs - af) <= 1e-12 * af else math.log(af)


@njit(cache=True, inline="always")
def _block_size(mode):
    """Units per block: a block is iterated until its last unit settles, so short blocks when
    units settle (mode > 0), long ones when every layer is iterated anyway (mode 0)."""
    return _B_ITER if mode == 0 else _B


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def _times_factor(mant, expo, f):
    """The gain ``mant * 2**expo`` times ``f``, renormalized through the exponent bits to a
    mantissa in [0.5, 1): ``(mantissa, exponent, raw product)``. A factor below 2^-900 is scaled
    up first so the product stays normal; zero stays 0 and inf/NaN stay as they are (never
    rescaled into a number). Bit operations only: inside a loop it vectorizes."""
    tiny = abs(f) < _TINY
    m = mant * (f * _BIG if tiny else f)
    bits = _f2i(m)
    ex = (bits & _EXP_FIELD) >> 52
    mn = _i2f((bits & _CLEAR_EXP) | _HALF_EXP)
    nz = m != 0.0
    fin = ex != 0x7FF
    return ((mn if fin else m) if nz else 0.0), expo + (ex - 1022 if nz & fin else 0) - (200 if tiny else 0), m


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def _gain_layer(n, layer, s, b, mode, has_stop, hb, xb, db, mb, eb, fb, gb, sb, hold, flag):
    """One layer of a block after :func:`act_block`: the gain times ``f = sigma*phi'``
    renormalized through its exponent bits, the step of ``h``, and (``mode`` > 0) the settling
    flags. Branch-free, so it vectorizes; inlined with ``mode`` and ``has_stop`` constant."""
    for t in range(n):
        live = (layer <= sb[t]) if has_stop else True
        f = s * db[t] if live else 1.0
        mn, en, m = _times_factor(mb[t], eb[t], f)
        mb[t] = mn
        eb[t] = en
        hn = s * xb[t] + b if live else hb[t]
        if mode != 0:
            ok = (_settled(f, fb[t], gb[t], hb[t], hn, mode) & (layer >= hold[t])) | ((mode == 2) & (m == 0.0))
            flag[t] = 1 if ok else 0
            gb[t] = abs(f - fb[t])
            fb[t] = f
            db[t] = hn - hb[t]   # phi' is no longer needed: keep the step of h for _log_f_star
        hb[t] = hn


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def _advance_block(k, nb, r0, code, p, sigma, bias, h, mant, expo, fprev, dfprev, conv, lgc, logc, xc,
                   l0, l1, record, want_x, mode, out_logg, out_x, stop, has_stop):
    """Block ``k`` (parameter set ``k // nb``, units ``bsz * (k % nb)`` on, ``bsz`` =
    :func:`_block_size`) of :func:`_run_chunk`; returns how many of its units are still iterated."""
    wide_simd()
    U = h.shape[1]
    n_rec = record.shape[0]
    bsz = _block_size(mode)
    i = k // nb
    j0 = (k - i * nb) * bsz
    n = min(bsz, U - j0)
    s = sigma[i]
    b = bias[i]
    hb = np.empty(bsz)
    mb = np.empty(bsz)
    eb = np.empty(bsz, dtype=np.int64)
    fb = np.empty(bsz)
    gb = np.empty(bsz)
    xb = np.empty(bsz)
    db = np.empty(bsz)
    sb = np.empty(bsz, dtype=np.int64)
    flag = np.zeros(bsz, dtype=np.int64)
    hold = np.zeros(bsz, dtype=np.int64)   # flags before this layer are not taken (_settle_wait)
    n_act = 0
    for t in range(n):
        j = j0 + t
        hb[t] = h[i, j]
        mb[t] = mant[i, j]
        eb[t] = expo[i, j]
        if mode != 0:   # (with mode 0 the settling state is never read: 1 x 1 placeholders)
            fb[t] = fprev[i, j]
            gb[t] = dfprev[i, j]
        sb[t] = stop[i, j] if has_stop else record[n_rec - 1]
        if conv[i, j] == 0:
            n_act += 1
    r = r0
    layer = l0
    while n_act > 0 and layer < l1:
        layer += 1
        act_block(code, p, hb, xb, db, n)
        # one copy of the loop per (mode, has_stop), so that each is compiled with those constant:
        # converge=False computes no settling test and keeps no state for it; without per-unit
        # stops every unit is live (record[-1] bounds every layer of the run)
        if mode == 0:
            if has_stop:
                _gain_layer(n, layer, s, b, 0, True, hb, xb, db, mb, eb, fb, gb, sb, hold, flag)
            else:
                _gain_layer(n, layer, s, b, 0, False, hb, xb, db, mb, eb, fb, gb, sb, hold, flag)
        elif has_stop:
            _gain_layer(n, layer, s, b, mode, True, hb, xb, db, mb, eb, fb, gb, sb, hold, flag)
        else:
            _gain_layer(n, layer, s, b, mode, False, hb, xb, db, mb, eb, fb, gb, sb, hold, flag)
        rec = r < n_rec and record[r] == layer
        any_flag = 0
        if mode != 0:
            for t in range(n):
                any_flag |= flag[t]
        if rec or any_flag != 0:
            for t in range(n):
                j = j0 + t
                c = conv[i, j]
                if c != 0:
                    if rec:
                        # a unit past its own stop keeps the gain it had there
                        out_logg[r, i, j] = lgc[i, j] + (min(layer, sb[t]) - c) * logc[i, j]
                        if want_x:
                            out_x[r, i, j] = xc[i, j]
                    continue
                a = abs(mb[t])
                lg = (math.log(a) + eb[t] * _LN2) if a > 0.0 else -np.inf
                if rec:
                    out_logg[r, i, j] = lg
                    if want_x:
                        out_x[r, i, j] = xb[t]
                if flag[t] != 0:
                    if a > 0.0 and mode == 2:
                        wait = _settle_wait(code, p, s, hb[t], fb[t], db[t])
                        if wait > 0:   # still drifting below the flag's resolution
                            hold[t] = layer + wait
                            continue
                    conv[i, j] = layer
                    lgc[i, j] = lg
                    # a dead unit (gain exactly 0) stays dead: adding 0 keeps -inf, not NaN
                    logc[i, j] = _log_f_star(code, p, s, hb[t], fb[t], db[t]) if a > 0.0 else 0.0
                    xc[i, j] = xb[t]
                    n_act -= 1
            if rec:
                r += 1
    # every unit of the block has settled: the records left in this chunk in closed form
    while r < n_rec and record[r] <= l1:
        rl = record[r]
        for t in range(n):
            j = j0 + t
            c = conv[i, j]
            out_logg[r, i, j] = lgc[i, j] + (min(rl, sb[t]) - c) * logc[i, j]
            if want_x:
                out_x[r, i, j] = xc[i, j]
        r += 1
    for t in range(n):
        j = j0 + t
        h[i, j] = hb[t]
        mant[i, j] = mb[t]
        expo[i, j] = eb[t]
        if mode != 0:
            fprev[i, j] = fb[t]
            dfprev[i, j] = gb[t]
    return n_act


@njit(cache=True, parallel=True, fastmath={"contract"}, error_model="numpy")
def _run_chunk(code, p, sigma, bias, h, mant, expo, fprev, dfprev, conv, lgc, logc, xc,
               l0, l1, record, want_x, mode, out_logg, out_x, stop, has_stop):
    """Advance every unit from layer ``l0`` to ``l1``; returns how many units are still iterated.

    State per unit (carried between chunks): ``h`` (pre-activation of layer l0 + 1), gain
    ``mant * 2**expo``, previous factor ``fprev`` and step ``dfprev``; ``conv`` is 0 while iterated, else the layer
    at which the unit settled with ``log|g|`` = ``lgc`` there, per-layer ``logc`` and ``x`` = ``xc``.
    With ``has_stop``, unit ``(i, j)`` runs only ``stop[i, j]`` layers: after those its factor is 1
    and its ``h`` stands still, so it settles at once and later records repeat its gain.
    """
    P, U = h.shape
    bsz = _block_size(mode)
    nb = (U + bsz - 1) // bsz
    r0 = np.searchsorted(record, l0, side="right")
    active = np.zeros(P * nb, dtype=np.int64)
    for k in prange(P * nb):
        active[k] = _advance_block(k, nb, r0, code, p, sigma, bias, h, mant, expo, fprev, dfprev, conv, lgc,
                                   logc, xc, l0, l1, record, want_x, mode, out_logg, out_x, stop, has_stop)
    return active.sum()


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _run_chunk_serial(code, p, sigma, bias, h, mant, expo, fprev, dfprev, conv, lgc, logc, xc,
                      l0, l1, record, want_x, mode, out_logg, out_x, stop, has_stop):
    """:func:`_run_chunk` on the calling thread: for chunks too small to pay for waking the
    thread pool (milliseconds per launch on a busy machine)."""
    P, U = h.shape
    bsz = _block_size(mode)
    nb = (U + bsz - 1) // bsz
    r0 = np.searchsorted(record, l0, side="right")
    n_act = 0
    for k in range(P * nb):
        n_act += _advance_block(k, nb, r0, code, p, sigma, bias, h, mant, expo, fprev, dfprev, conv, lgc,
                                logc, xc, l0, l1, record, want_x, mode, out_logg, out_x, stop, has_stop)
    return n_act


def _progress_bar(total, initial, desc):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="layer", desc=desc, leave=False,
                dynamic_ncols=True, mininterval=0.5)


def run_layers(act, sigma, bias, u, record, want_x=False, *, converge=True, progress=None,
               name="depth", h1=None, stop=None):
    """Run the scalar layer map for parameter sets ``i`` and inputs ``u[i, j]``.

    Parameters
    ----------
    act : Activation
    sigma, bias : (P,) float arrays
    u : (P, U) float array
        Input coordinates for each parameter set.
    record : (R,) int array
        Strictly increasing layers (1-based) at which to record.
    want_x : bool
        Also record the post-activations ``x^l = phi(h^l)``. Then a unit is finished in closed
        form only when its ``h`` is exactly stationary (``x`` keeps converging otherwise).
    converge : bool
        Finish settled units in closed form (default); False iterates every layer.
    progress : bool, optional
        Show a tqdm bar (None: only once the call has run for a second).
    name : str
        Parameter named in the refusal when the outputs would exceed the memory limit.
    h1 : (P, U) float array, optional
        Pre-activations of the first layer, in place of ``sigma * u`` (``u`` then only gives the
        shape): a unit that starts from an ``h`` with no double-precision ``u``, e.g. past layers
        taken in closed form on a linear zero.
    stop : (P, U) int array, optional
        Layers each unit runs (at most ``record[-1]``); a unit keeps its gain after its own last
        layer, so ``log_gain[-1]`` is ``log|prod_{l <= stop} sigma*phi'(h^l)|`` per unit.

    Returns
    -------
    log_gain : (R, P, U) array of ``log|g_l(u)|`` (``-inf`` where the gain is exactly 0)
    x : (R, P, U) array of post-activations, or None

    Examples
    --------
    >>> import numpy as np
    >>> from rmt_idinit.activations import get_activation
    >>> lg, _ = run_layers(get_activation("linear"), np.array([2.0]), np.array([0.0]),
    ...                    np.array([[0.3]]), np.array([1, 3]))
    >>> np.exp(lg[:, 0, 0]).round(12).tolist()
    [2.0, 8.0]
    """
    kernels = _bound(act)
    run_par, run_one = kernels["_run_chunk"], kernels["_run_chunk_serial"]
    code = act.kernels()[3]
    sigma = np.ascontiguousarray(sigma, dtype=np.float64)
    bias = np.ascontiguousarray(bias, dtype=np.float64)
    u = np.ascontiguousarray(u, dtype=np.float64)
    record = np.ascontiguousarray(record, dtype=np.int64)
    R, (P, U) = record.shape[0], u.shape
    if R == 0 or np.any(record < 1) or np.any(np.diff(record) <= 0):
        raise ValueError("record must be a non-empty strictly increasing array of layers >= 1")
    # outputs plus the per-unit state (10 arrays of P x U, 11 with stop)
    _checks.check_memory(8.0 * P * U * (R * (2 if want_x else 1) + (10 if stop is None else 11)),
                         (f"{name}={int(record[-1])}" if R == 1 else f"{name} ({R} recorded layers)")
                         + f" ({R} x {P} x {U} recorded values)")
    out_logg = np.empty((R, P, U))
    out_x = np.empty((R, P, U) if want_x else (1, 1, 1))
    h = sigma[:, None] * u if h1 is None else np.array(h1, dtype=np.float64, order="C")
    if h.shape != (P, U):
        raise ValueError(f"h1 must have the shape of u, {(P, U)}, got {h.shape}")
    if stop is None:
        stop_arr, has_stop = np.zeros((1, 1), dtype=np.int64), False
    else:
        stop_arr, has_stop = np.ascontiguousarray(np.broadcast_to(stop, (P, U)), dtype=np.int64), True
    mode = 0 if not converge else (1 if want_x else 2)
    mant = np.ones((P, U))
    expo = np.zeros((P, U), dtype=np.int64)
    conv = np.zeros((P, U), dtype=np.int64)
    # the settling state and the closed-form records: no unit settles with converge=False, and
    # the kernel then never touches them (5 arrays of P x U fewer to allocate and fill)
    ps = (P, U) if mode != 0 else (1, 1)
    fprev = np.full(ps, np.nan)
    dfprev = np.full(ps, np.nan)
    lgc = np.zeros(ps)
    logc = np.zeros(ps)
    xc = np.zeros(ps)
    last = int(record[-1])
    l0, n_active = 0, P * U
    switch = _parabolic_switch(act, sigma, bias, record, stop_arr if has_stop else None, want_x) \
        if converge else None
    rate = 2e8  # unit-layer steps/s, refined from each chunk's timing
    bar = None
    t_start = time.perf_counter()
    try:
        while l0 < last:
            if switch is not None and n_active and switch.mark(l0, h, mant, expo, conv, lgc, logc):
                n_active = int(np.count_nonzero(conv == 0))
            if n_active == 0:
                n_layers = last - l0
            else:
                # each chunk loads and stores the whole state (~100 bytes per unit, a few layers'
                # worth of compute): at least 64 layers unless that would take over ~2 s
                want = _TARGET_CHUNK_S * rate / n_active
                floor_ = min(64.0, 8.0 * want)
                n_layers = int(min(last - l0, max(1.0, want, floor_)))
                # no short last chunk: its state pass would cost as much as a full chunk's
                if last - l0 - n_layers < n_layers // 2:
                    n_layers = last - l0
                if switch is not None:
                    # look for units to hand over at layers 64, 128, 256, ...: at most twice the
                    # direct layers a unit needs to reach the switch point
                    n_layers = min(n_layers, max(_PARABOLIC_FIRST, l0))
            t0 = time.perf_counter()
            run = run_par if n_active * n_layers >= _SERIAL_BELOW else run_one
            new_active = run(code, act.param_array, sigma, bias, h, mant, expo, fprev, dfprev, conv, lgc, logc,
                             xc, l0, l0 + n_layers, record, want_x, mode, out_logg, out_x, stop_arr, has_stop)
            dt = time.perf_counter() - t0
            if n_active and dt > 1e-3:
                # the best rate seen: a chunk slowed by page faults or a busy machine should not
                # shrink every later chunk into pure overhead
                rate = max(rate if l0 > 0 else 1e6, n_active * n_layers / dt)
            l0 += n_layers
            n_active = int(new_active)
            if bar is not None:
                bar.update(n_layers)
            elif (progress or (progress is None and time.perf_counter() - t_start > _PROGRESS_AFTER_S)) \
                    and l0 < last:
                bar = _progress_bar(last, l0, f"{act.name} layers ({n_active} units iterating)")
    finally:
        if bar is not None:
            bar.close()
    if switch is not None:
        switch.finish(out_logg, out_x)
    return out_logg, (out_x if want_x else None)


def _parabolic_switch(act, sigma, bias, record, stop, want_x):
    """The hand-over to the asymptotic expansion (:mod:`rmt_idinit._core.parabolic`) for the
    parameter sets at a parabolic fixed point, or None when there are none (or it is disabled)."""
    if not _PARABOLIC:
        return None
    from ._core import parabolic as _par

    plans = {}
    for i in _par.candidates(act, sigma, bias):
        plan = _par.parabolic_for(act, float(sigma[i]), float(bias[i]))
        if plan is not None:
            plans[i] = plan
    if not plans:
        return None
    return _par.Switch(plans, record, stop, want_x, sigma)


# --- scalar kernels: one unit at a time (root finding, densities) -----------------------------

@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _parabolic_advance(par, z0, K):
    """``d = y_K - y_0`` after ``K`` layers from ``z0 = h^2 > 0`` at a parabolic fixed point: the
    numba twin of :meth:`rmt_idinit._core.parabolic.Parabolic.advance` (``par`` from ``as_row``)."""
    eps, c1, beta, b_log = par[1], par[2], par[3], par[5]
    n = int(par[7])
    kappa = 2.0 * eps / c1
    den = 1.0 - kappa / z0
    d = c1 * K * den
    for _ in range(12):
        w = z0 * d
        lw = math.log1p(w)
        rho = kappa * d / den
        ph = 1.0 if rho == 0.0 else -math.log1p(-rho) / rho
        F = d * ph / (c1 * den) + beta * lw - K
        dF = 1.0 / (c1 * (den - kappa * d)) + beta * z0 / (1.0 + w)
        zk = 1.0
        for k in range(n):
            zk *= z0
            F += par[8 + k] * zk * math.expm1(-(k + 1) * lw)
            dF -= (k + 1) * par[8 + k] * zk * z0 * math.exp(-(k + 2) * lw)
        F += eps * ((4.0 * beta + 1.0) * d / c1 + b_log * lw)
        dF += eps * ((4.0 * beta + 1.0) / c1 + b_log * z0 / (1.0 + w))
        step = F / dF
        d -= step
        if abs(step) <= 4e-16 * abs(d):
            break
    return d


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _parabolic_ok(par, z0, K):
    # eps > 0: depths well below 1/eps (as Switch.mark)
    return par[1] <= 0.0 or 2.0 * par[1] * K <= _EPS_K_MAX


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _parabolic_tail(par, z0, K):
    """``sum log f'`` over ``K`` layers from ``h^2 = z0`` at a parabolic fixed point: the numba twin
    of :meth:`rmt_idinit._core.parabolic.Parabolic.log_gain` (one unit)."""
    eps, c1, cg, h_log = par[1], par[2], par[4], par[6]
    n = int(par[7])
    lin = K * math.log1p(eps)
    if z0 == 0.0:
        return lin   # h below 1e-154: only the linear factor acts
    kappa = 2.0 * eps / c1
    den = 1.0 - kappa / z0
    d = _parabolic_advance(par, z0, K)
    w = z0 * d
    lw = math.log1p(w)
    rho = kappa * d / den
    zK = z0 / (1.0 + w)
    S = cg * (lw - math.log1p(-rho))
    zk = 1.0
    for k in range(n):
        zk *= z0
        S += par[8 + n + k] * zk * math.expm1(-(k + 1) * lw)
    l0K = 0.0
    l00 = 0.0
    for k in range(n - 1, -1, -1):
        l0K = (l0K + par[8 + 2 * n + k]) * zK
        l00 = (l00 + par[8 + 2 * n + k]) * z0
    return S - (l0K - l00) + eps * h_log * lw + lin


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _parabolic_dtail(par, h0, K):
    """``d/dh0`` of :func:`_parabolic_tail` at ``z0 = h0^2``: with ``A(y_K) = A(y_0) + K``,
    ``dy_K/dy_0 = A'(y_0)/A'(y_K)`` and the tail is ``Gt(y_K) - Gt(y_0)``, so
    ``dT/dy_0 = Gt'(y_K) A'(y_0)/A'(y_K) - Gt'(y_0)``, ``dy_0/dh0 = -2/h0^3``."""
    z0 = h0 * h0
    if z0 == 0.0:
        return 0.0
    eps, c1, beta, cg, b_log, h_log = par[1], par[2], par[3], par[4], par[5], par[6]
    n = int(par[7])
    kappa = 2.0 * eps / c1
    d = _parabolic_advance(par, z0, K)
    zK = z0 / (1.0 + z0 * d)
    aK = 0.0
    a0 = 0.0
    gK = 0.0
    g0 = 0.0
    for j in range(2):
        z = z0 if j == 0 else zK
        # A'(y) and Gt'(y) in z = 1/y (no overflow for tiny h); 1/(1 - kappa y) = z/(z - kappa)
        ia = z / (z - kappa)
        av = ia / c1 + beta * z + eps * ((4.0 * beta + 1.0) / c1 + b_log * z)
        gv = cg * (z + kappa * ia) + eps * h_log * z
        zk = z
        for k in range(n):
            zk *= z
            av -= (k + 1) * par[8 + k] * zk
            gv -= (k + 1) * par[8 + n + k] * zk
            gv += (k + 1) * par[8 + 2 * n + k] * zk   # - d l0/dy = + sum k q_k y^-(k+1)
        if j == 0:
            a0 = av
            g0 = gv
        else:
            aK = av
            gK = gv
    dT_dy0 = gK * a0 / aK - g0
    return dT_dy0 * (-2.0 / (z0 * h0))


@njit(cache=True, inline="always", fastmath={"contract"}, error_model="numpy")
def _hands_over(par, l0, h, depth):
    """Does a unit with pre-activation ``h`` after ``l0`` of ``depth`` layers leave for the
    expansion? Only at the layers where run_layers looks (0, 64, 128, 256, ...), once
    ``h^2 <= 1 / Y_switch``, when the layers left pay for the solve and the expansion holds for
    them; ``par`` is the unit's coefficient row (all zeros: no expansion)."""
    if par.shape[0] <= 1 or par[0] <= 0.0:
        return False
    if not (l0 == 0 or (l0 >= _PARABOLIC_FIRST and (l0 & (l0 - 1)) == 0)):
        return False
    return h * h <= 1.0 / par[0] and depth - l0 >= _LAYERS_PER_SOLVE and _parabolic_ok(par, h * h, float(depth - l0))


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _log_gain_scalar(code, p, s, b, u, depth, par):
    # the same factors, renormalization and settling test as _run_chunk, so that brackets found
    # on run_layers values and the bisection below see the same function; at a parabolic fixed
    # point (``par`` non-empty) the hand-over to the expansion at the layers where run_layers
    # looks for it (0, 64, 128, 256, ...)
    h = s * u
    mant = 1.0
    expo = 0
    fprev = np.nan
    dfprev = np.nan
    hold = 0
    for layer in range(1, depth + 1):
        l0 = layer - 1
        if _hands_over(par, l0, h, depth):
            return math.log(abs(mant)) + expo * _LN2 + _parabolic_tail(par, h * h, float(depth - l0))
        x, d = phi_dphi(code, h, p)
        f = s * d
        tiny = abs(f) < _TINY
        mant *= f * _BIG if tiny else f
        if mant == 0.0:
            return -np.inf
        m, e = math.frexp(mant)
        mant = m
        expo += e - (200 if tiny else 0)
        hn = s * x + b
        if layer >= hold and _settled(f, fprev, dfprev, h, hn, 2):
            wait = _settle_wait(code, p, s, hn, f, hn - h)
            if wait == 0:
                return math.log(abs(mant)) + expo * _LN2 + (depth - layer) * _log_f_star(code, p, s, hn, f, hn - h)
            hold = layer + wait
        dfprev = abs(f - fprev)
        fprev = f
        h = hn
    return math.log(abs(mant)) + expo * _LN2


@njit(cache=True)
def _dlog_gain_du(code, p, s, b, u, depth, par):
    # d/du log|g_L| = sum_l phi''(h^l)/phi'(h^l) * dh^l/du, with dh^1/du = sigma and
    # dh^(l+1)/du = sigma*phi'(h^l)*dh^l/du; dh/du is carried as mantissa*2**expo like the gain.
    # Past a stable fixed point dh^l/du falls geometrically by f: the tail is a geometric sum.
    # At a parabolic fixed point, the derivative of the expansion's tail (as _log_gain_scalar).
    h = s * u
    dh_m = s
    dh_e = 0
    total = 0.0
    fprev = np.nan
    dfprev = np.nan
    hold = 0
    for layer in range(1, depth + 1):
        l0 = layer - 1
        if _hands_over(par, l0, h, depth):
            dh = math.ldexp(dh_m, dh_e) if dh_e < 1000 else dh_m * math.inf
            return total + _parabolic_dtail(par, h, float(depth - l0)) * dh
        x, d1 = phi_dphi(code, h, p)
        d2 = d2phi(code, h, p)
        if d1 == 0.0:
            return np.nan
        ratio = d2 / d1
        total += ratio * math.ldexp(dh_m, dh_e) if dh_e < 1000 else ratio * dh_m * math.inf
        f = s * d1
        dh_m *= f
        m, e = math.frexp(dh_m)
        dh_m = m
        dh_e += e
        hn = s * x + b
        n_left = depth - layer
        if n_left > 0 and abs(f) < 1.0 and layer >= hold and _settled(f, fprev, dfprev, h, hn, 2):
            wait = _settle_wait(code, p, s, hn, f, hn - h)
            if wait == 0:
                # layers layer+1 .. depth: ratio * dh^(layer+1)/du * (1 + f + ... + f^(n_left-1))
                geo = (1.0 - f ** n_left) / (1.0 - f)
                return total + ratio * math.ldexp(dh_m, min(dh_e, 1000)) * geo
            hold = layer + wait
        dfprev = abs(f - fprev)
        fprev = f
        h = hn
    return total


@njit(cache=True, inline="always")
def _bracket_step(lo, hi, f_lo, f_hi, w1, w3):
    """The next point of a bracketed root search on a smooth function (log|g| in u): regula falsi
    while the bracket keeps halving every two steps (``w1 <= w3 / 2``), else a halving (so never
    slower than bisection by more than a factor 3, and safe where log|g| is infinite or flat).
    The point stays a few ulp inside the bracket: once one end has converged, the next point
    lands across the root and closes the bracket, instead of creeping towards it."""
    mid = 0.5 * (lo + hi)
    x = mid
    if w1 <= 0.5 * w3 and math.isfinite(f_lo) and math.isfinite(f_hi) and f_lo != f_hi:
        x = hi - f_hi * ((hi - lo) / (f_hi - f_lo))
    tol = min(8.9e-16 * max(abs(lo), abs(hi)), 0.25 * (hi - lo))
    x = max(lo + tol, min(hi - tol, x))
    return x if lo < x < hi else mid


@njit(cache=True, inline="always")
def _bracket_update(x, f_x, lo, hi, f_lo, f_hi, side):
    """Replace the end on ``x``'s side of the root; when the same end is replaced twice running,
    scale the other end's value by Anderson-Bjorck's ``1 - f_x / f_old`` (0.5 when that is not
    positive), which keeps regula falsi superlinear where Illinois' fixed halving stalls."""
    if (f_x <= 0.0) == (f_lo <= 0.0):
        if side == -1:
            m = 1.0 - f_x / f_lo if f_lo != 0.0 else 0.5
            f_hi *= m if m > 0.0 else 0.5
        return x, hi, f_x, f_hi, -1
    if side == 1:
        m = 1.0 - f_x / f_hi if f_hi != 0.0 else 0.5
        f_lo *= m if m > 0.0 else 0.5
    return lo, x, f_lo, f_x, 1


@njit(cache=True)
def _bisect(code, p, s, b, depth, lo, hi, f_lo, level, par):
    # Root of log|g(u)| - level on [lo, hi] where the sign changes, to round-off: the bracket
    # shrinks until its ends are neighbouring doubles, by the steps of _bracket_step.
    f_hi = _log_gain_scalar(code, p, s, b, hi, depth, par) - level
    side = 0
    w1 = hi - lo   # widths after the last three steps
    w2 = w1
    w3 = w1
    for _ in range(600):
        mid = 0.5 * (lo + hi)
        if mid == lo or mid == hi:
            break
        x = _bracket_step(lo, hi, f_lo, f_hi, w1, w3)
        f_x = _log_gain_scalar(code, p, s, b, x, depth, par) - level
        lo, hi, f_lo, f_hi, side = _bracket_update(x, f_x, lo, hi, f_lo, f_hi, side)
        w3 = w2
        w2 = w1
        w1 = hi - lo
    return 0.5 * (lo + hi)


@njit(cache=True, parallel=True)
def _refine_roots(code, p, s, b, depth, lo, hi, f_lo, level, par, par_row, out):
    for k in prange(lo.shape[0]):
        out[k] = _bisect(code, p, s[k], b[k], depth[k], lo[k], hi[k], f_lo[k], level[k], par[par_row[k]])


@njit(cache=True)
def _refine_roots_serial(code, p, s, b, depth, lo, hi, f_lo, level, par, par_row, out):
    # few roots of shallow maps: not worth waking the thread pool (see _SERIAL_BELOW)
    for k in range(lo.shape[0]):
        out[k] = _bisect(code, p, s[k], b[k], depth[k], lo[k], hi[k], f_lo[k], level[k], par[par_row[k]])


@njit(cache=True, parallel=True)
def _dlog_many(code, p, s, b, u, depth, par, par_row, out):
    for k in prange(u.shape[0]):
        out[k] = _dlog_gain_du(code, p, s[k], b[k], u[k], depth[k], par[par_row[k]])


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _log_gain_units(code, p, s, b, u, depth, par, par_row, out):
    # log|g_depth(u)| of units that each have their own sigma, bias and depth, _B at a time through
    # the block phi kernel: the factors, renormalization and settling test of _advance_block (the
    # values run_layers gives), in a loop across units that vectorizes, where _log_gain_scalar is
    # one serial chain of dependent layers per unit; at a parabolic fixed point (a unit's row of
    # ``par`` not the placeholder) the hand-over to the expansion where _log_gain_scalar makes it
    n_all = u.shape[0]
    any_par = par.shape[1] > 1
    hb = np.empty(_B)
    xb = np.empty(_B)
    db = np.empty(_B)
    mb = np.empty(_B)
    fb = np.empty(_B)
    gb = np.empty(_B)
    sb = np.empty(_B)
    bb = np.empty(_B)
    eb = np.empty(_B, dtype=np.int64)
    lb = np.empty(_B, dtype=np.int64)
    live = np.empty(_B, dtype=np.int64)
    hold = np.empty(_B, dtype=np.int64)
    flag = np.empty(_B, dtype=np.int64)
    for k0 in range(0, n_all, _B):
        n = min(_B, n_all - k0)
        top = 0
        for t in range(n):
            k = k0 + t
            sb[t] = s[k]
            bb[t] = b[k]
            hb[t] = s[k] * u[k]
            mb[t] = 1.0
            eb[t] = 0
            fb[t] = np.nan
            gb[t] = np.nan
            lb[t] = depth[k]
            live[t] = 1
            hold[t] = 0
            top = max(top, depth[k])
        n_act = n
        layer = 0
        while n_act > 0 and layer < top:
            if any_par and (layer == 0 or (layer >= _PARABOLIC_FIRST and (layer & (layer - 1)) == 0)):
                for t in range(n):
                    row = par[par_row[k0 + t]]
                    if live[t] != 0 and _hands_over(row, layer, hb[t], lb[t]):
                        out[k0 + t] = (math.log(abs(mb[t])) + eb[t] * _LN2
                                       + _parabolic_tail(row, hb[t] * hb[t], float(lb[t] - layer)))
                        live[t] = 0
                        n_act -= 1
                if n_act == 0:
                    break
            layer += 1
            act_block(code, p, hb, xb, db, n)
            any_flag = 0
            for t in range(n):  # branch-free: vectorizes
                on = live[t] != 0
                f = sb[t] * db[t] if on else 1.0
                mn, en, m = _times_factor(mb[t], eb[t], f)
                mb[t] = mn
                eb[t] = en
                hn = sb[t] * xb[t] + bb[t] if on else hb[t]
                ok = on & ((_settled(f, fb[t], gb[t], hb[t], hn, 2) & (layer >= hold[t])) | (m == 0.0)
                           | (layer >= lb[t]))
                flag[t] = 1 if ok else 0
                any_flag |= flag[t]
                gb[t] = abs(f - fb[t])
                fb[t] = f
                db[t] = hn - hb[t]
                hb[t] = hn
            if any_flag != 0:
                for t in range(n):
                    if flag[t] != 0:
                        a = abs(mb[t])
                        lg = (math.log(a) + eb[t] * _LN2) if a > 0.0 else -np.inf
                        if a > 0.0 and layer < lb[t]:
                            wait = _settle_wait(code, p, sb[t], hb[t], fb[t], db[t])
                            if wait > 0:   # still drifting below the flag's resolution
                                hold[t] = layer + wait
                                continue
                            # settled: the remaining layers repeat the factor at the fixed point
                            lg = lg + (lb[t] - layer) * _log_f_star(code, p, sb[t], hb[t], fb[t], db[t])
                        out[k0 + t] = lg
                        live[t] = 0
                        n_act -= 1


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _refine_units(code, p, s, b, depth, lo, hi, f_lo, f_hi, level, par, par_row, out):
    # The steps of _bisect (_bracket_step / _bracket_update, same stop at neighbouring doubles)
    # for all roots in lockstep: each round evaluates the next point of
    # every unfinished root in one _log_gain_units call. Returns how many roots hit the cap.
    n = lo.shape[0]
    lo = lo.copy()
    hi = hi.copy()
    f_lo = f_lo.copy()
    f_hi = f_hi.copy()
    side = np.zeros(n, dtype=np.int64)
    w1 = hi - lo   # widths after the last three steps
    w2 = w1.copy()
    w3 = w1.copy()
    done = np.zeros(n, dtype=np.int64)
    idx = np.empty(n, dtype=np.int64)
    ss = np.empty(n)
    bs = np.empty(n)
    ds = np.empty(n, dtype=np.int64)
    rs = np.empty(n, dtype=np.int64)
    xs = np.empty(n)
    fx = np.empty(n)
    for _ in range(600):
        m = 0
        for k in range(n):
            if done[k] != 0:
                continue
            mid = 0.5 * (lo[k] + hi[k])
            if mid == lo[k] or mid == hi[k]:
                done[k] = 1
                out[k] = mid
                continue
            x = _bracket_step(lo[k], hi[k], f_lo[k], f_hi[k], w1[k], w3[k])
            idx[m] = k
            ss[m] = s[k]
            bs[m] = b[k]
            ds[m] = depth[k]
            rs[m] = par_row[k]
            xs[m] = x
            m += 1
        if m == 0:
            return 0
        _log_gain_units(code, p, ss[:m], bs[:m], xs[:m], ds[:m], par, rs[:m], fx[:m])
        for i in range(m):
            k = idx[i]
            x = xs[i]
            lo[k], hi[k], f_lo[k], f_hi[k], side[k] = _bracket_update(x, fx[i] - level[k], lo[k], hi[k], f_lo[k],
                                                                       f_hi[k], side[k])
            w3[k] = w2[k]
            w2[k] = w1[k]
            w1[k] = hi[k] - lo[k]
    capped = 0
    for k in range(n):
        if done[k] == 0:
            out[k] = 0.5 * (lo[k] + hi[k])
            capped += 1
    return capped


# --- binding the kernels to an activation -----------------------------------------------------

_KERNEL_NAMES = ("_log_f_star", "_advance_block", "_run_chunk", "_run_chunk_serial", "_log_gain_scalar",
                 "_dlog_gain_du", "_bisect", "_refine_roots", "_refine_roots_serial", "_dlog_many",
                 "_log_gain_units", "_refine_units")
_BUILTIN = {name: globals()[name] for name in _KERNEL_NAMES}


def _bound(act) -> dict:
    """The kernels for ``act``: the cached module-level ones for built-ins; for a user activation,
    copies of the same Python code whose globals name its own numba functions instead.

    Kernels taking activation functions as arguments or closures would be keyed on objects that
    differ in every process, so numba's disk cache could never serve them.
    """
    if act.kernel is not None:
        return _BUILTIN
    cache = act._kernel_cache
    if "recursion" not in cache:
        from ._core.kernels import user_block

        uphi, udphi, ud2phi, _, uboth = act.kernels()
        g = dict(globals())
        g.update(phi_dphi=uboth, d2phi=ud2phi, act_block=user_block(uboth))
        for name in _KERNEL_NAMES:
            disp = _BUILTIN[name]
            py = disp.py_func
            fn = _pytypes.FunctionType(py.__code__, g, name, py.__defaults__, py.__closure__)
            opts = {k: v for k, v in disp.targetoptions.items() if k in ("parallel", "fastmath", "error_model")}
            g[name] = njit(**opts)(fn)
        cache["recursion"] = {name: g[name] for name in _KERNEL_NAMES}
    return cache["recursion"]


def _parabolic_rows(act, sigma, bias):
    """``(table, row)``: the expansion's coefficient row (``Parabolic.as_row``) of each
    (sigma, bias), row 0 a placeholder of length 1 where there is none."""
    sigma = np.atleast_1d(np.asarray(sigma, dtype=np.float64))
    bias = np.broadcast_to(np.asarray(bias, dtype=np.float64), sigma.shape)
    rows = [np.zeros(1)]   # the placeholder: Y_SWITCH = 0, no expansion
    row = np.zeros(sigma.size, dtype=np.int64)
    if _PARABOLIC:
        from ._core import parabolic as _par

        near = _par.candidates(act, sigma, bias)
        if near.size:
            keys, inv = np.unique(np.stack([sigma[near], bias[near]], axis=1), axis=0, return_inverse=True)
            for j, (s, b) in enumerate(keys):
                plan = _par.parabolic_for(act, float(s), float(b))
                if plan is not None:
                    rows.append(plan.as_row())
                    row[near[inv.ravel() == j]] = len(rows) - 1
    width = max(r.size for r in rows)
    table = np.zeros((len(rows), width))
    for i, r in enumerate(rows):
        table[i, :r.size] = r
    return table, row


def refine_roots(act, sigma, bias, depth, lo, hi, f_lo, level):
    """Bisect ``log|g_depth(u)| = level`` on brackets ``[lo, hi]`` (all arrays of one length)."""
    code = act.kernels()[3]
    out = np.empty(np.shape(lo))
    arrs = [np.ascontiguousarray(a, dtype=np.float64) for a in (sigma, bias)]
    depth = np.ascontiguousarray(depth, dtype=np.int64)
    table, row = _parabolic_rows(act, arrs[0], arrs[1])
    # ~12 evaluations of the depth-L map per root (regula falsi steps)
    small = 12.0 * float(np.sum(depth)) < _SERIAL_BELOW
    _bound(act)["_refine_roots_serial" if small else "_refine_roots"](
        code, act.param_array, arrs[0], arrs[1], np.ascontiguousarray(depth, dtype=np.int64),
        np.ascontiguousarray(lo, dtype=np.float64), np.ascontiguousarray(hi, dtype=np.float64),
        np.ascontiguousarray(f_lo, dtype=np.float64), np.ascontiguousarray(level, dtype=np.float64),
        table, row, out)
    return out


def log_gain_units(act, sigma, bias, u, depth) -> np.ndarray:
    """``log|g_depth(u)|`` for arrays of equal length, one unit each (its own sigma, bias, depth),
    with the block kernel of :func:`run_layers` (the same values as its ``log_gain``).

    Examples
    --------
    >>> import numpy as np
    >>> from rmt_idinit.activations import get_activation
    >>> lg = log_gain_units(get_activation("linear"), np.array([2.0, 0.5]), np.zeros(2),
    ...                     np.array([0.3, 0.3]), np.array([3, 1]))
    >>> np.exp(lg).round(12).tolist()
    [8.0, 0.5]
    """
    code = act.kernels()[3]
    u = np.ascontiguousarray(u, dtype=np.float64)
    depth = np.ascontiguousarray(np.broadcast_to(depth, u.shape), dtype=np.int64)
    if np.any(depth < 1):
        raise ValueError("depth must be >= 1")
    out = np.empty(u.shape)
    s = np.ascontiguousarray(np.broadcast_to(sigma, u.shape), dtype=np.float64)
    b = np.ascontiguousarray(np.broadcast_to(bias, u.shape), dtype=np.float64)
    table, row = _parabolic_rows(act, s.ravel(), b.ravel())
    _bound(act)["_log_gain_units"](code, act.param_array, s.ravel(), b.ravel(), u.ravel(), depth.ravel(), table,
                                   row, out.reshape(-1))
    return out


def refine_roots_units(act, sigma, bias, depth, lo, hi, f_lo, f_hi, level) -> np.ndarray:
    """:func:`refine_roots` on the values of :func:`log_gain_units`: brackets ``[lo, hi]`` with
    ``f = log|g_depth| - level`` of signs ``f_lo``, ``f_hi`` at the ends, refined to neighbouring
    doubles by the same steps (regula falsi with Anderson-Bjorck scaling), all roots advancing
    together through the block kernel."""
    code = act.kernels()[3]
    lo = np.ascontiguousarray(lo, dtype=np.float64)
    n = lo.shape
    arrs = [np.ascontiguousarray(np.broadcast_to(a, n), dtype=np.float64) for a in (sigma, bias, hi, f_lo, f_hi, level)]
    depth = np.ascontiguousarray(np.broadcast_to(depth, n), dtype=np.int64)
    out = np.empty(n)
    table, row = _parabolic_rows(act, arrs[0], arrs[1])
    capped = _bound(act)["_refine_units"](code, act.param_array, arrs[0], arrs[1], depth, lo, arrs[2], arrs[3],
                                          arrs[4], arrs[5], table, row, out)
    if capped:
        import warnings

        from ._core.errors import AccuracyWarning

        warnings.warn(AccuracyWarning(f"{capped} of {out.size} roots of log|g| = level stopped at the cap "
                                      "of 600 steps before their bracket closed to neighbouring doubles"),
                      stacklevel=2)
    return out


def dlog_gain_du(act, sigma, bias, depth, u):
    """``d log|g_depth(u)| / du`` for arrays of equal length (needs phi'')."""
    code = act.kernels()[3]
    out = np.empty(np.shape(u))
    sigma = np.ascontiguousarray(sigma, dtype=np.float64)
    bias = np.ascontiguousarray(bias, dtype=np.float64)
    table, row = _parabolic_rows(act, sigma, bias)
    _bound(act)["_dlog_many"](
        code, act.param_array, sigma, bias, np.ascontiguousarray(u, dtype=np.float64),
        np.ascontiguousarray(depth, dtype=np.int64), table, row, out)
    return out


def log_gain_scalar(act, sigma: float, bias: float, u: float, depth: int) -> float:
    """``log|g_depth(u)|`` for one unit (``-inf`` when a layer's phi' is 0)."""
    code = act.kernels()[3]
    table, row = _parabolic_rows(act, float(sigma), float(bias))
    return _bound(act)["_log_gain_scalar"](code, act.param_array, float(sigma), float(bias), float(u),
                                           int(depth), table[row[0]])
