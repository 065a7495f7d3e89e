"""Per-sample Jacobian spectra of a deep MLP: rmt_idinit.nn against torch.func.vmap(jacrev), and against DGEMM.

Workload (the issue's): width 794 (784 pixels + 10 classes), depth 100, a batch of 4 samples,
float64, Gaussian critical init (dense, non-diagonal Jacobians), hard-tanh, and the same with tanh
(smooth: no exactly-zero rows, so the product is pure dense GEMM). Rows:

* ``jacobian_spectra`` against ``vmap(jacrev)`` + ``eigvalsh`` (time; target 1.5x), with the peak
  extra resident memory of each (each method runs in its own subprocess so that
  ``ru_maxrss`` is its own) and the largest difference of the two spectra.
* The Jacobian chain (the products, without the eigenvalues) in GFLOP/s *of the flops it
  executes*, against this machine's DGEMM rate (``torch.mm``, float64, n = 794, same threads,
  measured in the same process just before; target 0.7). The hard-tanh chain skips zero rows,
  so it also gets a "dense-equivalent" rate (the flops of the full N^3 product over its time).
* ``eigvalsh(J J^T)`` against ``svdvals(J)**2`` on a 794 x 794 J with known singular values
  10^-6 ... 1 (time; accuracy against the known values): the faster one at equal accuracy is the
  default of :func:`rmt_idinit.nn.jacobian_spectra`.

With one thread the times are CPU times of the process (equal to wall time on an idle machine,
and much less disturbed by other processes on a shared one); with more, wall times.

Usage::

    python benchmarks/bench_jacobian.py [--quick] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import _machine  # noqa: E402

NAME = "jacobian"
FULL = dict(width=794, depth=100, batch=4)
QUICK = dict(width=160, depth=8, batch=2)


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _clock(threads: int):
    return time.process_time if threads == 1 else time.perf_counter


def _dgemm_rate(n: int, threads: int, repeat: int = 5) -> float:
    """float64 GEMM rate of torch.mm at n x n x n in flop/s (best of ``repeat``)."""
    import torch

    g = torch.Generator().manual_seed(1)
    a = torch.randn(n, n, dtype=torch.float64, generator=g)
    b = torch.randn(n, n, dtype=torch.float64, generator=g)
    c = torch.empty(n, n, dtype=torch.float64)
    return 2.0 * n**3 / _machine.best_time(lambda: torch.mm(a, b, out=c), repeat, _clock(threads))


def _model(act: str, width: int, depth: int, batch: int):
    import torch

    from rmt_idinit.nn import IdentityMLP

    g = torch.Generator().manual_seed(0)
    model = IdentityMLP(width, depth, act, init="gaussian", sigma_w=math.sqrt(1.18666),
                        sigma_b=math.sqrt(0.059635), generator=g).double()
    model.requires_grad_(False)  # differentiate w.r.t. the input only
    x = torch.randn(batch, width, generator=g, dtype=torch.float64) * math.sqrt(0.5)
    return model, x


def _chain_flops(model, x) -> tuple[float, float]:
    """Flops the compact product executes (module docstring of rmt_idinit.nn.jacobian), and the dense N^3 count."""
    import torch

    from rmt_idinit.nn.jacobian import _elementwise_derivative

    n_in = x.shape[1]
    executed = 0.0
    with torch.no_grad():
        h_in = x
        ks = []
        for lin in model.layers:
            h = lin(h_in)
            ks.append((_elementwise_derivative(model.act, h) != 0).sum(1).double())
            h_in = model.act(h)
    k1 = ks[0]
    for l in range(2, len(ks)):  # M^l @ (M^(l-1) ... M^2): k_l x k_(l-1) x k_1
        executed += float((2 * ks[l] * ks[l - 1] * k1).sum())
    if len(ks) > 1:  # the last product with the first layer's rows: k_L x k_1 x N
        executed += float((2 * ks[-1] * k1 * n_in).sum())
    dense = 2.0 * x.shape[0] * (len(ks) - 1) * model.layers[0].out_features ** 2 * n_in
    return executed, dense


def _measure(method: str, act: str, width: int, depth: int, batch: int, threads: int) -> dict:
    import torch

    from rmt_idinit.nn.jacobian import _iter_sample_jacobians, _spectrum

    torch.set_num_threads(threads)
    clock = _clock(threads)

    def spectra(model, x):  # exactly what jacobian_spectra(model, x, chunk_size=1) does, in two timed parts
        if method == "ours":
            t0 = clock()
            samples = [s for chunk in _iter_sample_jacobians(model, x, 1, torch.float64) for s in chunk]
            t1 = clock()
            lam = torch.stack([_spectrum(s, x.shape[1], "eigvalsh") for s in samples])
        else:
            t0 = clock()
            jac = torch.func.vmap(torch.func.jacrev(model.hidden))(x)
            t1 = clock()
            lam = torch.linalg.eigvalsh(jac @ jac.transpose(-1, -2))
        return lam.detach(), t1 - t0, clock() - t1

    spectra(*_model(act, 8, 2, 2))  # first-call costs (autograd, functorch, LAPACK) out of the timing
    model, x = _model(act, width, depth, batch)
    rec: dict = {"dgemm_flops": _dgemm_rate(width, threads)}
    base = _rss_mib()
    lam, rec["chain_s"], rec["spectra_s"] = spectra(model, x)
    rec["seconds"] = rec["chain_s"] + rec["spectra_s"]
    rec["peak_extra_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base  # KiB on Linux
    if method == "ours":
        rec["executed_flops"], rec["dense_flops"] = _chain_flops(model, x)
    rec["lam"] = lam.numpy()
    return rec


def _worker(method: str, act: str, width: int, depth: int, batch: int, threads: int, out: str) -> None:
    import numpy as np

    rec = _measure(method, act, width, depth, batch, threads)
    np.save(out + ".npy", rec.pop("lam"))
    Path(out + ".json").write_text(json.dumps(rec))


def _run(method: str, act: str, cfg: dict, threads: int, tmp: str, isolated: bool) -> dict:
    """Measure in a fresh subprocess (``isolated``: its peak memory is its own) or in this one."""
    import numpy as np

    if not isolated:
        rec = _measure(method, act, cfg["width"], cfg["depth"], cfg["batch"], threads)
        rec["peak_extra_mib"] = None
        return rec
    out = os.path.join(tmp, f"{method}_{act}")
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_worker", method, act, out,
                    "--threads", str(threads), "--width", str(cfg["width"]), "--depth", str(cfg["depth"]),
                    "--batch", str(cfg["batch"])], check=True, cwd=ROOT)
    rec = json.loads(Path(out + ".json").read_text())
    rec["lam"] = np.load(out + ".npy")
    return rec


def _mib(rec: dict) -> str:
    return "not measured (quick: same process)" if rec["peak_extra_mib"] is None else f"{rec['peak_extra_mib']:.0f} MiB"


def _eig_vs_svd(n: int, threads: int, repeat: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(2)
    u, _ = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64, generator=g))
    v, _ = torch.linalg.qr(torch.randn(n, n, dtype=torch.float64, generator=g))
    s = torch.logspace(-6, 0, n, dtype=torch.float64)
    j = (u * s) @ v.T
    ref = torch.sort(s * s).values
    clock = _clock(threads)
    t_eig = _machine.best_time(lambda: torch.linalg.eigvalsh(j @ j.T), repeat, clock)
    t_svd = _machine.best_time(lambda: torch.linalg.svdvals(j), repeat, clock)
    err_eig = float((torch.linalg.eigvalsh(j @ j.T) - ref).abs().max())
    err_svd = float((torch.sort(torch.linalg.svdvals(j) ** 2).values - ref).abs().max())
    return {"eig_s": t_eig, "svd_s": t_svd, "err_eig": err_eig, "err_svd": err_svd}


def run(quick: bool = False, threads: int = 1) -> dict:
    """Run the benchmark; return the result dict of the format (see benchmarks/run_all.py)."""
    import numpy as np

    machine = _machine.start()
    cfg = QUICK if quick else FULL
    shape = f"width {cfg['width']}, depth {cfg['depth']}, batch {cfg['batch']}, float64, {threads} thread(s)"
    clock = "CPU time" if threads == 1 else "wall time"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for act in ("hardtanh", "tanh"):
            ours = _run("ours", act, cfg, threads, tmp, isolated=not quick)
            ref = _run("jacrev", act, cfg, threads, tmp, isolated=not quick)
            scale = np.abs(ref["lam"]).max(axis=1, keepdims=True)
            diff = float((np.abs(ours["lam"] - ref["lam"]) / scale).max())
            rows.append(_machine.row(
                f"per-sample eig(J Jᵀ), {act}, Gaussian critical init, {shape}",
                "rmt_idinit.nn.jacobian_spectra", "torch.func.vmap(jacrev) + eigvalsh",
                ours["seconds"], ref["seconds"], "s", higher_is_better=False, target=1.5,
                accuracy=f"spectra agree to {diff:.1e} of the largest eigenvalue",
                note=f"{clock}; peak extra memory {_mib(ours)} vs {_mib(ref)}; eigenvalues {ours['spectra_s']:.2f} s of ours"))
            executed = ours["executed_flops"] / ours["chain_s"]
            dense = ours["dense_flops"] / ours["chain_s"]
            gemm = ours["dgemm_flops"]
            skip = ours["executed_flops"] / ours["dense_flops"]
            rows.append(_machine.row(
                f"Jacobian chain ({act}) vs this machine's DGEMM, {shape}",
                "executed GFLOP/s of the chain", f"torch.mm float64 n={cfg['width']}, same process",
                executed / 1e9, gemm / 1e9, "GFLOP/s", higher_is_better=True, target=0.7,
                accuracy="same chain as the first row",
                note=(f"{clock}; skipping zero rows executes {skip:.2f} of the dense flops: dense-equivalent "
                      f"{dense / 1e9:.1f} GFLOP/s = {dense / gemm:.2f} of DGEMM; jacrev's chain "
                      f"{ours['dense_flops'] / ref['chain_s'] / 1e9:.1f} GFLOP/s"
                      if skip < 0.999 else f"{clock}; no zero rows: the full dense product; jacrev's chain "
                      f"{ours['dense_flops'] / ref['chain_s'] / 1e9:.1f} GFLOP/s")))
    ev = _eig_vs_svd(cfg["width"], threads, 2 if quick else 7)
    rows.append(_machine.row(
        f"spectrum of one {cfg['width']} x {cfg['width']} J (singular values 1e-6 ... 1 known)",
        "eigvalsh(J Jᵀ) (the default)", "svdvals(J)**2", ev["eig_s"], ev["svd_s"], "s",
        higher_is_better=False,
        accuracy=f"max |error| / lambda_max: {ev['err_eig']:.1e} (eigvalsh), {ev['err_svd']:.1e} (svd)",
        note=f"{clock}; svd keeps the small eigenvalues to more relative digits (method='svd')"))
    return _machine.finish(NAME, machine, rows, threads, quick=bool(quick))


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, seconds (what the tests run)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--width", type=int, default=FULL["width"], help=argparse.SUPPRESS)
    p.add_argument("--depth", type=int, default=FULL["depth"], help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=FULL["batch"], help=argparse.SUPPRESS)
    p.add_argument("--_worker", nargs=3, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a._worker:
        _worker(a._worker[0], a._worker[1], a.width, a.depth, a.batch, a.threads, a._worker[2])
        return {}
    result = run(quick=a.quick, threads=a.threads)
    for r in result["rows"]:
        print(f"{r['what']}: {r['ours_value']:.3g} vs {r['baseline_value']:.3g} {r['unit']} -> {r['ratio']:.2f}x "
              f"({r['accuracy']}; {r['note']})")
    if not a.quick:
        print("wrote", _machine.write(result))
    return result


if __name__ == "__main__":
    main()
