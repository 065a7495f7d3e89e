"""The numba layer recursion: closed-form tails, huge depths, chunking, Ctrl-C, disk cache, memory.

References are independent of the kernel: mpmath iterates the same scalar map at 50 digits until
the unit is at its fixed point to 1e-45 and then adds ``(L - l) log|sigma phi'(h*)|`` exactly;
and the kernel's own direct iteration (``converge=False``) checks the closed form where both run.
"""
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mpmath as mp
import numpy as np
import pytest

import rmt_idinit as ri
from rmt_idinit.activations import Activation, get_activation
from rmt_idinit.recursion import dlog_gain_du, log_gain_scalar, log_gain_units, run_layers

ROOT = Path(__file__).resolve().parents[1]

MP_ACT = {
    "tanh": (mp.tanh, lambda h: 1 - mp.tanh(h) ** 2),
    "sigmoid": (lambda h: 1 / (1 + mp.exp(-h)), lambda h: mp.exp(-h) / (1 + mp.exp(-h)) ** 2),
}


def mp_log_gain(name, sigma, bias, u, depth, dps=50):
    """log|g_depth(u)| in mpmath: iterate to the fixed point, then the exact closed form."""
    phi, dphi = MP_ACT[name]
    with mp.workdps(dps):
        s, b = mp.mpf(sigma), mp.mpf(bias)
        h = s * mp.mpf(u)
        lg = mp.mpf(0)
        for layer in range(1, depth + 1):
            f = s * dphi(h)
            lg += mp.log(abs(f))
            hn = s * phi(h) + b
            if abs(hn - h) < mp.mpf(10) ** (-45) and abs(f) < 1:
                return float(lg + (depth - layer) * mp.log(abs(f)))
            h = hn
        return float(lg)


U_NODES = np.array([0.0, 1e-300, 1e-30, 1e-5, 0.3, -0.7, 2.0, 9.0])


@pytest.mark.parametrize("name, sigma, bias", [("tanh", 0.9, 0.0), ("tanh", 1.05, 0.0),
                                               ("tanh", 1.3, 0.2), ("sigmoid", 2.0, -1.0)])
def test_huge_depths_against_mpmath(name, sigma, bias):
    act = get_activation(name)
    depths = np.array([10 ** 4, 10 ** 6, 10 ** 9])
    lg, _ = run_layers(act, np.array([sigma]), np.array([bias]), U_NODES[None, :], depths)
    for j, u in enumerate(U_NODES):
        if name == "tanh" and sigma > 1 and bias == 0 and u == 0.0:
            # h stays exactly 0 at the unstable fixed point: every layer multiplies by sigma
            np.testing.assert_allclose(lg[:, 0, j], depths * math.log(sigma), rtol=1e-15)
            continue
        for r, L in enumerate(depths):
            ref = mp_log_gain(name, sigma, bias, u, int(L))
            # the closed-form part carries the few-ulp error of f at the float64 fixed point,
            # relative to |log g| (|log g| ~ L |log f|); 1e-13 leaves a margin of ~100 over that
            assert abs(lg[r, 0, j] - ref) <= 1e-13 * max(1.0, abs(ref)), (u, L, lg[r, 0, j], ref)


@pytest.mark.parametrize("name", ["tanh", "erf", "sigmoid", "gelu", "silu", "softplus"])
def test_closed_form_equals_direct_iteration(name):
    act = get_activation(name)
    sigma = np.array([0.7, 0.95, 1.1, 1.6])
    bias = np.array([0.0, 0.1, 0.0, -0.3])
    u = np.concatenate([[0.0, 1e-300, -1e-12], np.linspace(-6.0, 6.0, 61)])
    record = np.array([1, 7, 300, 2999, 3000])
    uu = np.broadcast_to(u, (sigma.size, u.size))
    fast, _ = run_layers(act, sigma, bias, uu, record)
    slow, _ = run_layers(act, sigma, bias, uu, record, converge=False)
    finite = np.isfinite(slow)
    assert np.array_equal(finite, np.isfinite(fast))
    # direct iteration drifts by ~1e-16 per layer relative; the closed form by the ulps of f
    np.testing.assert_allclose(fast[finite], slow[finite], rtol=1e-12, atol=1e-12)
    # the scalar kernel (bisection) sees the same function as the block kernel
    for j in (4, 30, 50):
        for i in range(sigma.size):
            v = log_gain_scalar(act, sigma[i], bias[i], u[j], 3000)
            assert v == pytest.approx(fast[-1, i, j], rel=1e-14, abs=1e-14)


def test_unstable_fixed_point_is_iterated_not_closed():
    """u = 1e-300 at sigma = 1.05 changes by only 5% per layer near h = 0, but phi' there gives
    |f| > 1: it must be iterated until it escapes (~14000 layers), not frozen at f = 1.05."""
    act = get_activation("tanh")
    lg, _ = run_layers(act, np.array([1.05]), np.zeros(1), np.array([[1e-300]]), np.array([10000, 20000]))
    ref = [mp_log_gain("tanh", 1.05, 0.0, 1e-300, L) for L in (10000, 20000)]
    # ~14000 layers near 0 round h by <= 3 ulp each: the escape shifts by ~14000 * 3 * 1.1e-16
    # relative, which moves log g by ~3x that (escape slope over growth slope): ~1.4e-11
    np.testing.assert_allclose(lg[:, 0, 0], ref, rtol=0, atol=5e-11)
    assert lg[0, 0, 0] == pytest.approx(10000 * math.log(1.05), rel=1e-12)   # still growing
    assert lg[1, 0, 0] < lg[0, 0, 0]                                         # escaped, contracting


def test_density_derivative_tail_is_geometric():
    act = get_activation("tanh")
    for L in (50, 5000):
        got = dlog_gain_du(act, np.array([0.9]), np.array([0.05]), np.array([L]), np.array([0.4]))[0]
        eps = 1e-6
        fd = (log_gain_scalar(act, 0.9, 0.05, 0.4 + eps, L) - log_gain_scalar(act, 0.9, 0.05, 0.4 - eps, L)) / (2 * eps)
        assert got == pytest.approx(fd, rel=1e-6)


def test_user_activation_closed_form_and_per_process_kernels():
    softsign = Activation("softsign_r", lambda h: h / (1.0 + abs(h)), lambda h: 1.0 / (1.0 + abs(h)) ** 2)
    u = np.linspace(-3, 3, 9)[None, :]
    a, _ = run_layers(softsign, np.array([0.8]), np.array([0.1]), u, np.array([5, 4000]))
    b, _ = run_layers(softsign, np.array([0.8]), np.array([0.1]), u, np.array([5, 4000]), converge=False)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    # direct numpy iteration of the same network for the first record
    h, g = 0.8 * u[0], np.ones(9)
    for _ in range(5):
        g *= 0.8 * softsign.dphi(h)
        h = 0.8 * softsign.phi(h) + 0.1
    np.testing.assert_allclose(a[0, 0], np.log(np.abs(g)), rtol=1e-13)


def test_want_x_only_closes_exactly_stationary_units():
    act = get_activation("tanh")
    u = np.array([[0.0, 1e-3, 0.5, 3.0]])
    rec = np.arange(1, 2001)
    lg, x = run_layers(act, np.array([0.9]), np.zeros(1), u, rec, want_x=True)
    lg2, x2 = run_layers(act, np.array([0.9]), np.zeros(1), u, rec, want_x=True, converge=False)
    np.testing.assert_array_equal(x, x2)  # x^l -> 0 geometrically: never frozen
    np.testing.assert_allclose(lg, lg2, rtol=1e-13)


def test_progress_bar_and_interrupt_between_chunks(monkeypatch, capsys):
    import rmt_idinit.recursion as rec

    act = get_activation("relu")
    monkeypatch.setattr(rec, "_TARGET_CHUNK_S", 1e-3)      # many chunks
    lg, _ = run_layers(act, np.array([1.001]), np.zeros(1), np.array([[0.5, -0.5]]), np.array([200000]),
                       progress=True)
    assert "layer" in capsys.readouterr().err
    assert lg[0, 0, 0] == pytest.approx(200000 * math.log(1.001), rel=1e-12)
    calls = []

    def interrupting(real):
        def interrupted(*args):
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return real(*args)
        return interrupted

    # small chunks run on the calling thread (_run_chunk_serial), large ones threaded
    for name in ("_run_chunk", "_run_chunk_serial"):
        monkeypatch.setitem(rec._BUILTIN, name, interrupting(rec._BUILTIN[name]))
    with pytest.raises(KeyboardInterrupt):
        run_layers(act, np.array([1.0000001]), np.zeros(1), np.array([[0.5]]), np.array([10 ** 12]), progress=False)
    assert len(calls) == 3


def _child(code, **env):
    e = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=e, capture_output=True, text=True,
                          timeout=600)


def test_ctrl_c_stops_a_deep_non_converging_run():
    code = ("import numpy as np, sys\n"
            "from rmt_idinit.recursion import run_layers\n"
            "from rmt_idinit.activations import get_activation\n"
            "a = get_activation('relu')\n"
            "run_layers(a, np.ones(1) * 1.001, np.zeros(1), np.ones((1, 8)), np.array([3]))\n"
            "print('started', flush=True)\n"
            "run_layers(a, np.ones(1) * 1.0000001, np.zeros(1), np.ones((1, 4096)), np.array([10**13]), progress=False)\n")
    p = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "started"
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)  # one chunk is ~0.25 s; 30 s only guards a loaded CI box
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode != 0 and "KeyboardInterrupt" in err


def test_numba_disk_cache_is_hit_in_a_fresh_process():
    code = "import rmt_idinit as ri; print(ri.jjt_law(1.05, 0.5, 30, 'tanh').mean())"
    first = _child(code)
    assert first.returncode == 0, first.stderr
    cache_dir = ROOT / "rmt_idinit" / "__pycache__"
    files_before = sorted(p.name for p in cache_dir.glob("*.nb[ic]"))
    second = _child(code, NUMBA_DEBUG_CACHE="1")
    assert second.returncode == 0, second.stderr
    assert float(second.stdout.strip().splitlines()[-1]) == float(first.stdout.strip())
    log = second.stdout + second.stderr
    assert "data loaded" in log and "_run_chunk" in log, log[-2000:]
    assert "data saved" not in log, [line for line in log.splitlines() if "saved" in line]
    assert sorted(p.name for p in cache_dir.glob("*.nb[ic]")) == files_before


def test_outputs_that_grow_with_depth_are_refused_up_front():
    with pytest.raises(ValueError, match=r"depth=1000000000 .* GiB .* limit"):
        ri.layer_alphas(0.5, 0.1, 10 ** 9)
    with pytest.raises(ValueError, match="depth.*limit"):
        ri.jjt_eigenvalues(np.ones(10), 1.1, 10 ** 9, "tanh", all_layers=True)
    with pytest.raises(ValueError, match="depth.*limit"):
        ri.jjt_law(1.0, 0.5, np.arange(1, 10 ** 6), "tanh")
    with pytest.raises(ValueError, match="depth.*limit"):
        ri.forward_moments(0.9, 0.5, 10 ** 7, "tanh")
    with pytest.raises(ValueError, match="depth.*limit"):
        run_layers(get_activation("tanh"), np.ones(1), np.zeros(1), np.ones((1, 1000)), np.arange(1, 10 ** 6))
    from rmt_idinit.grid import log_moment_grid

    with pytest.raises(ValueError, match="q0.*limit"):
        log_moment_grid([1.0], np.geomspace(1e-3, 1.0, 10 ** 6), 10, "tanh")
    from rmt_idinit.cli import main

    assert main(["alpha", "0.5", "0.1", "1000000000", "--layers"]) == 2


def test_depth_one_billion_law_in_closed_form():
    """sigma < 1: every unit settles on h* = 0 with factor exactly 0.9 within a few hundred
    layers, so log E[lambda_L] - 2 L log 0.9 is the same constant at every depth past that. At
    depth 1e9 (closed form) it must equal its value at depth 3000 (iterated for the most part);
    1e-6 absolute is ~30 ulp of |log E| ~ 2e8, and 1e-5 of the constant itself."""
    lm = float(ri.jjt_law(0.9, 0.5, 10 ** 9, "tanh").log_moment(1))
    small = float(ri.jjt_law(0.9, 0.5, 3000, "tanh").log_moment(1))
    const = small - 6000 * math.log(0.9)
    assert -2.0 < const < -0.5  # the transient of E[exp(2 sum log(1 - tanh^2 h_l))] at q0 = 0.5
    assert lm - 2e9 * math.log(0.9) == pytest.approx(const, abs=1e-6)


def test_parabolic_fixed_point_expansion(monkeypatch):
    """sigma*phi'(0) = 1 (tanh, sigma = 1): h_l ~ sqrt(3/(2l)) converges only algebraically; units
    are handed to the asymptotic expansion (rmt_idinit._core.parabolic, tests/test_marginal.py)
    once h is small. Checks: within the rounding of direct float64 iteration of converge=False,
    equal to mpmath, the asymptotics log g_L = -(3/2) log L + c(u) + O(log L / L), from
    h_l^2 ~ 3/(2l) and log(1 - h^2) ~ -h^2; with the expansion switched off, the documented
    direct iteration again (bit for bit equal to converge=False)."""
    import rmt_idinit.recursion as rec

    act = get_activation("tanh")
    u = np.array([[0.3, -2.0, 5.0]])
    record = np.array([5000, 10000, 20000])
    fast, _ = run_layers(act, np.array([1.0]), np.array([0.0]), u, record)
    slow, _ = run_layers(act, np.array([1.0]), np.array([0.0]), u, record, converge=False)
    assert np.allclose(fast, slow, rtol=1e-14, atol=0.0)
    with monkeypatch.context() as m:
        m.setattr(rec, "_PARABOLIC", False)
        direct, _ = run_layers(act, np.array([1.0]), np.array([0.0]), u, record)
    assert np.array_equal(direct, slow)
    for j in range(u.shape[1]):
        ref = mp_log_gain("tanh", 1.0, 0.0, float(u[0, j]), 5000, dps=30)
        assert abs(fast[0, 0, j] - ref) <= 1e-13 * abs(ref)
    # the constant c(u) settles: its change from L to 2L falls like log(L)/L
    c = fast[:, 0, :] + 1.5 * np.log(record)[:, None]
    d1, d2 = np.abs(c[1] - c[0]), np.abs(c[2] - c[1])
    assert np.all(d1 < 5e-3) and np.all(d2 < 0.75 * d1), (d1, d2)


def test_per_unit_start_and_stop():
    """run_layers(h1=, stop=): each unit runs its own number of layers from its own start; the
    reference is the plain recursion recorded at every layer and read at each unit's stop."""
    act = get_activation("tanh")
    sigma, bias = np.array([1.3, 0.8]), np.array([0.0, 0.1])
    h_start = np.array([[1e-30, -0.4, 2.0, 0.0], [0.7, -3.0, 1e-5, 0.2]])
    stop = np.array([[0, 1, 250, 7], [400, 3, 60, 1]])
    got, _ = run_layers(act, sigma, bias, np.zeros(h_start.shape), np.array([400]), h1=h_start, stop=stop)
    every, _ = run_layers(act, sigma, bias, h_start / sigma[:, None], np.arange(1, 401), converge=False)
    for i in range(2):
        for j in range(4):
            want = 0.0 if stop[i, j] == 0 else every[stop[i, j] - 1, i, j]
            assert abs(got[0, i, j] - want) <= 1e-13 * max(1.0, abs(want)), (i, j, got[0, i, j], want)


NEAR_CRITICAL = [("tanh", s) for s in (0.99, 0.999, 0.9999)] + [("erf", 0.999 * math.sqrt(math.pi) / 2)]
MP_NEAR = {"tanh": (mp.tanh, lambda h: 1 - mp.tanh(h) ** 2),
           "erf": (mp.erf, lambda h: 2 / mp.sqrt(mp.pi) * mp.exp(-h * h))}


@pytest.mark.parametrize("name, sigma", NEAR_CRITICAL)
def test_near_critical_units_settle_only_when_the_transient_is_spent(name, sigma):
    # Just below sigma*phi'(0) = 1 the factor of a unit near h = 0 changes by less than an ulp a
    # layer long before it reaches sigma*phi'(0): the flag on consecutive factors fired at
    # h ~ 3e-7 (tanh, 0.999, u = 1.3e-6) and the skipped transient cost 7e-11 of log|g|. Every
    # kernel is held to an mpmath iteration of every layer; float64 iteration itself drifts by
    # ~sqrt(L) ulps, a few 1e-14 here (erf: its factor 2a/sqrt(pi) is rounded once, which adds a
    # systematic ~1.5e-17 a layer, 1.6e-13 at 1e4 layers, whether iterated or closed).
    act = get_activation(name)
    phi, dphi = MP_NEAR[name]
    tol = 1e-13 if name == "tanh" else 4e-13
    u = np.array([1.3e-6, 1e-4, 1e-2, 0.3, 2.0])
    depths = np.array([3000, 10 ** 4])
    lg, _ = run_layers(act, np.array([sigma]), np.zeros(1), u[None, :], depths)
    units = log_gain_units(act, np.full(u.size, sigma), 0.0, u, 10 ** 4)
    with mp.workdps(30):
        s = mp.mpf(sigma)
        for j, uj in enumerate(u):
            h, acc, ref = s * mp.mpf(uj), mp.mpf(0), []
            for layer in range(1, 10 ** 4 + 1):
                acc += mp.log(s * dphi(h))
                h = s * phi(h)
                if layer in (3000, 10 ** 4):
                    ref.append(float(acc))
            for r in range(2):
                assert abs(lg[r, 0, j] - ref[r]) <= tol, (uj, depths[r], lg[r, 0, j] - ref[r])
            assert abs(units[j] - ref[1]) <= tol
            assert abs(log_gain_scalar(act, sigma, 0.0, float(uj), 10 ** 4) - ref[1]) <= tol
