"""Training throughput of the validation scripts (steps/s) against a plain torch loop, and what each knob buys.

Workload (the validation scripts' paper setting): an identity-initialized hard-tanh MLP, 100 layers
of width 784 plus a 10-class readout, float32, batches of 100 (random inputs with the data's second
moment 1/2 and random labels: the data do not change the cost), Adam, on CPU (on CUDA too when
``torch.cuda.is_available()``). Rows:

* the validation step (``validation._common.make_optimizer`` + ``train_step``, what
  ``validation/train_drift.py`` and ``validation/atlas.py`` run) against a plain loop a user would
  write (``nn.Sequential``, ``torch.optim.Adam()`` defaults, ``loss.item()`` every step), same threads;
* each knob alone, on the plain loop, so that the decision to keep or drop it is measured:
  Adam's fused kernel, a per-step ``.item()`` sync, a second thread, and ``torch.compile``
  (compile time reported separately; full run only, since compiling 100 layers takes minutes;
  ``RMT_BENCH_COMPILE=0`` leaves it out).

With one thread, step rates are per CPU-second of the process (equal to wall time on an idle
machine); with more, per wall-clock second.

Usage::

    python benchmarks/bench_training.py [--quick] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import _machine  # noqa: E402

NAME = "training"
FULL = dict(width=784, depth=100, batch=100, steps=8, warmup=2)
QUICK = dict(width=128, depth=10, batch=50, steps=10, warmup=2)


def _data(cfg, device):
    import torch

    g = torch.Generator().manual_seed(0)
    n = cfg["batch"] * (cfg["steps"] + cfg["warmup"])
    x = torch.randn(n, cfg["width"], generator=g) * 0.5 ** 0.5
    y = torch.randint(0, 10, (n,), generator=g)
    return x.to(device), y.to(device)


def _plain_model(cfg, device):
    import torch
    from torch import nn

    layers = []
    for _ in range(cfg["depth"]):
        lin = nn.Linear(cfg["width"], cfg["width"])
        with torch.no_grad():
            lin.weight.copy_(torch.eye(cfg["width"]))
            lin.bias.zero_()
        layers += [lin, nn.Hardtanh()]
    return nn.Sequential(*layers, nn.Linear(cfg["width"], 10)).to(device)


def _ours_model(cfg, device):
    from rmt_idinit.nn import IdentityMLP

    return IdentityMLP(cfg["width"], cfg["depth"], "hardtanh", sigma=1.0, n_classes=10).to(device)


def _clock(threads: int, device: str):
    return time.process_time if threads == 1 and device == "cpu" else time.perf_counter


def _rate(cfg, model, opt, x, y, *, sync_every_step: bool, clock, device: str, max_wall_s: float = 60.0) -> float:
    """Steps per second of the plain loop (timed steps stop early after ``max_wall_s`` wall seconds:
    on a loaded machine a 2-thread step can take half a minute)."""
    import torch
    import torch.nn.functional as F

    bs, total = cfg["batch"], cfg["warmup"] + cfg["steps"]
    loss_sum = torch.zeros((), device=device)
    t0 = None
    wall0 = time.perf_counter()
    done = 0
    for s in range(total):
        if t0 is not None and done >= 1 and time.perf_counter() - wall0 > max_wall_s:
            break
        if s == cfg["warmup"]:
            if device != "cpu":
                torch.cuda.synchronize()
            t0 = clock()
            wall0 = time.perf_counter()
        xb, yb = x[s * bs : (s + 1) * bs], y[s * bs : (s + 1) * bs]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        if sync_every_step:
            loss_sum += loss.item()
        else:
            loss_sum += loss.detach()
        if t0 is not None:
            done += 1
    float(loss_sum)
    if device != "cpu":
        torch.cuda.synchronize()
    return done / (clock() - t0)


def _ours_rate(cfg, x, y, clock, device: str) -> float:
    """Steps per second of the validation scripts' step."""
    import torch

    from validation._common import make_optimizer, train_step

    model = _ours_model(cfg, device)
    opt = make_optimizer("adam", model.parameters(), 2e-5)
    bs, total = cfg["batch"], cfg["warmup"] + cfg["steps"]
    t0 = None
    for s in range(total):
        if s == cfg["warmup"]:
            if device != "cpu":
                torch.cuda.synchronize()
            t0 = clock()
        train_step(model, opt, x[s * bs : (s + 1) * bs], y[s * bs : (s + 1) * bs])
    if device != "cpu":
        torch.cuda.synchronize()
    return cfg["steps"] / (clock() - t0)


def _device_rows(cfg, threads: int, device: str, quick: bool) -> list[dict]:
    import torch

    shape = (f"{cfg['depth']} layers of width {cfg['width']}, batch {cfg['batch']}, float32, Adam, {device}, "
             f"{threads} thread(s)")
    clock = "per CPU-second" if threads == 1 and device == "cpu" else "per wall-clock second"
    tick = _clock(threads, device)
    x, y = _data(cfg, device)
    rows = []

    def plain(**adam):
        model = _plain_model(cfg, device)
        return model, torch.optim.Adam(model.parameters(), lr=2e-5, **adam)

    base = _rate(cfg, *plain(), x, y, sync_every_step=True, clock=tick, device=device)
    ours = _ours_rate(cfg, x, y, tick, device)
    rows.append(_machine.row(f"training steps/s, {shape}", "validation scripts' step (train_step)",
                             "plain torch loop (Adam defaults, loss.item() per step)", ours, base, "steps/s",
                             higher_is_better=True, accuracy="same model, loss and optimizer maths",
                             note=clock))
    fused = _rate(cfg, *plain(fused=True), x, y, sync_every_step=True, clock=tick, device=device)
    rows.append(_machine.row(f"Adam fused kernel, {shape}", "Adam(fused=True)", "Adam() default", fused, base,
                             "steps/s", higher_is_better=True, accuracy="same update up to rounding",
                             note=f"{clock}; kept in make_optimizer" if fused > 1.02 * base
                             else f"{clock}; no measurable gain"))
    nosync = _rate(cfg, *plain(fused=True), x, y, sync_every_step=False, clock=tick, device=device)
    rows.append(_machine.row(f"no per-step .item() sync, {shape}", "loss summed on the device",
                             "loss.item() every step", nosync, fused, "steps/s", higher_is_better=True,
                             accuracy="same losses",
                             note=(f"{clock}; on CPU .item() only reads a number already computed (there is no "
                                   "asynchronous queue to drain), so a difference here is noise; train_step keeps "
                                   "one read per step, which the divergence check before the update needs")
                             if device == "cpu" else f"{clock}; the cost of one sync per step on this device"))
    if device == "cpu" and threads == 1 and _cpus() > 1:
        short = dict(cfg, warmup=1)
        one_wall = _rate(short, *plain(fused=True), x, y, sync_every_step=True, clock=time.perf_counter, device=device)
        torch.set_num_threads(2)
        two = _rate(short, *plain(fused=True), x, y, sync_every_step=True, clock=time.perf_counter, device=device)
        torch.set_num_threads(threads)
        rows.append(_machine.row(f"2 threads instead of 1, {shape}", "2 torch threads", "1 torch thread",
                                 two, one_wall, "steps/s", higher_is_better=True, accuracy="same maths",
                                 note="both per wall-clock second; on a shared machine a second thread mostly "
                                      "waits for a core, which is why the scripts default to --threads 1"))
    if not quick and device == "cpu" and os.environ.get("RMT_BENCH_COMPILE", "1") != "0":
        model, opt = plain(fused=True)
        t0 = time.perf_counter()
        compiled = torch.compile(model)
        _rate(dict(cfg, steps=1, warmup=1), compiled, opt, x, y, sync_every_step=True, clock=tick, device=device)
        compile_s = time.perf_counter() - t0
        comp = _rate(cfg, compiled, opt, x, y, sync_every_step=True, clock=tick, device=device)
        rows.append(_machine.row(f"torch.compile, {shape}", "torch.compile(model)", "eager", comp, fused,
                                 "steps/s", higher_is_better=True, accuracy="same maths",
                                 note=f"{clock}; compiling took {compile_s:.0f} s wall" +
                                      ("; kept" if comp > 1.05 * fused else "; dropped: no gain worth the compile")))
    return rows


def _cpus() -> int:
    return os.cpu_count() or 1


def run(quick: bool = False, threads: int = 1) -> dict:
    """Run the benchmark; return the result dict of the format (see benchmarks/run_all.py)."""
    import torch

    machine = _machine.start()
    cfg = QUICK if quick else FULL
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rows = _device_rows(cfg, threads, "cpu", quick)
    if torch.cuda.is_available():
        rows += _device_rows(cfg, threads, "cuda", quick)
    return _machine.finish(NAME, machine, rows, threads, quick=bool(quick))


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, seconds (what the tests run)")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    result = run(quick=a.quick, threads=a.threads)
    for r in result["rows"]:
        print(f"{r['what']}: {r['ours_value']:.3g} vs {r['baseline_value']:.3g} {r['unit']} -> {r['ratio']:.2f}x "
              f"({r['note']})")
    if not a.quick:
        print("wrote", _machine.write(result))
    return result


if __name__ == "__main__":
    main()
