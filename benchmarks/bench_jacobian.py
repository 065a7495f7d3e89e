"""Per-sample Jacobian spectra of a deep MLP: rmt_idinit.nn vs torch.func.vmap(jacrev).

Default: width 794 (784 pixels + 10 classes, the Kubota et al. layout), depth 100, hard-tanh,
Gaussian critical init (a dense, non-diagonal Jacobian), float64, a batch of 4 samples. Each
method runs in its own subprocess so that its peak resident memory (``resource.getrusage``
``ru_maxrss``, minus the resident size just before the computation) is its own; both compute
eig(J J^T) per sample, and the table reports time, peak extra memory, the ratios and the largest
relative difference of the two spectra.

Usage::

    python benchmarks/bench_jacobian.py [--width 794] [--depth 100] [--batch 4] [--threads 1]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _worker(method: str, width: int, depth: int, batch: int, chunk: int, threads: int, out: str) -> None:
    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT))
    from rmt_idinit.nn import IdentityMLP, jacobian_spectra

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    model = IdentityMLP(width, depth, "hardtanh", init="gaussian", sigma_w=math.sqrt(1.18666),
                        sigma_b=math.sqrt(0.059635), generator=g).double()
    x = torch.randn(batch, width, generator=g, dtype=torch.float64) * math.sqrt(0.5)
    base = _rss_mib()
    t0 = time.perf_counter()
    if method == "ours":
        lam = jacobian_spectra(model, x, chunk_size=chunk)
    else:
        model.requires_grad_(False)  # differentiate w.r.t. the input only, as ours does
        jac = torch.func.vmap(torch.func.jacrev(model.hidden))(x)
        lam = torch.linalg.eigvalsh(jac @ jac.transpose(-1, -2))
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    np.save(out + ".npy", lam.detach().numpy())
    Path(out + ".json").write_text(json.dumps({"seconds": seconds, "peak_extra_mib": peak - base}))


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--width", type=int, default=794)
    p.add_argument("--depth", type=int, default=100)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--chunk", type=int, default=1, help="chunk size of our path")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--_worker", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a._worker:
        _worker(a._worker[0], a.width, a.depth, a.batch, a.chunk, a.threads, a._worker[1])
        return {}
    import tempfile

    import numpy as np

    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("ours", "jacrev"):
            out = os.path.join(tmp, method)
            subprocess.run([sys.executable, __file__, "--width", str(a.width), "--depth", str(a.depth),
                            "--batch", str(a.batch), "--chunk", str(a.chunk), "--threads", str(a.threads),
                            "--_worker", method, out], check=True)
            res[method] = json.loads(Path(out + ".json").read_text())
            res[method]["lam"] = np.load(out + ".npy")
    ours, ref = res["ours"], res["jacrev"]
    scale = np.abs(ref["lam"]).max(axis=1, keepdims=True)
    diff = float((np.abs(ours["lam"] - ref["lam"]) / scale).max())
    print(f"per-sample eig(J J^T): width {a.width}, depth {a.depth}, batch {a.batch}, float64, "
          f"{a.threads} thread(s), chunk {a.chunk}")
    print(f"{'method':28s} {'time [s]':>10s} {'peak extra RSS [MiB]':>22s}")
    print(f"{'rmt_idinit.nn (ours)':28s} {ours['seconds']:10.2f} {ours['peak_extra_mib']:22.1f}")
    print(f"{'torch.func.vmap(jacrev)':28s} {ref['seconds']:10.2f} {ref['peak_extra_mib']:22.1f}")
    print(f"{'ratio jacrev / ours':28s} {ref['seconds'] / ours['seconds']:10.2f} "
          f"{ref['peak_extra_mib'] / max(ours['peak_extra_mib'], 1e-9):22.2f}")
    print(f"max |difference| / max eigenvalue per sample: {diff:.2e}")
    summary = {"config": vars(a), "ours": {k: v for k, v in ours.items() if k != "lam"},
               "jacrev": {k: v for k, v in ref.items() if k != "lam"}, "max_rel_difference": diff}
    if a.json:
        Path(a.json).write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
