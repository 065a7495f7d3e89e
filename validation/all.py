"""Run every validation experiment with one preset and write an index report.

``--preset quick`` (CI, about a minute on 2 cores): small subsets, few layers and steps.
``--preset paper``: 100 layers, width 784, the full Fashion-MNIST training set.

Usage::

    python -m validation.all --preset quick --out reports/quick
    python -m validation.all --preset paper --device cuda --epochs 10
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "validation"

from validation import init_spectrum, train_drift  # noqa: E402
from validation._common import atomic_write_json, versions  # noqa: E402


def run(preset: str = "quick", out: str | None = None, *, epochs: int | None = None, device: str | None = None,
        threads: int | None = None, data_dir: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Run ``init_spectrum`` and ``train_drift`` into ``out/<name>`` and write ``out/all.json``."""
    root = Path(out or f"reports/{preset}")
    if device is None:
        import torch

        device = "cuda" if (preset == "paper" and torch.cuda.is_available()) else "cpu"
    t0 = time.perf_counter()
    rep_is = init_spectrum.run(init_spectrum.make_config(
        preset, out=str(root / "init_spectrum"), threads=threads, device=device, data_dir=data_dir,
        progress=progress))
    t1 = time.perf_counter()
    rep_td = train_drift.run(train_drift.make_config(
        preset, out=str(root / "train_drift"), epochs_identity=epochs, epochs_baseline=epochs,
        threads=threads, device=device, data_dir=data_dir, progress=progress))
    t2 = time.perf_counter()
    summary = {
        "preset": preset,
        "device": device,
        "versions": versions(),
        "init_spectrum": {"all_passed": rep_is["all_passed"], "worst_relative_error": rep_is["worst_relative_error"],
                          "seconds": t1 - t0},
        "train_drift": {
            "seconds": t2 - t1,
            "models": {k: {"final_test_accuracy": m["final_test_accuracy"],
                           "drift_frobenius_final": m["drift_frobenius_final"],
                           "init_prediction": m.get("init_prediction")}
                       for k, m in rep_td["models"].items()},
        },
    }
    atomic_write_json(root / "all.json", summary)
    return summary


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="quick", choices=["quick", "paper"])
    p.add_argument("--out")
    p.add_argument("--epochs", type=int)
    p.add_argument("--device")
    p.add_argument("--threads", type=int)
    p.add_argument("--data-dir")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    s = run(a.preset, a.out, epochs=a.epochs, device=a.device, threads=a.threads, data_dir=a.data_dir,
            progress=not a.no_progress)
    print(f"init_spectrum: all passed {s['init_spectrum']['all_passed']}, "
          f"worst relative error {s['init_spectrum']['worst_relative_error']:.2e}")
    for k, m in s["train_drift"]["models"].items():
        print(f"train_drift {k}: test accuracy {m['final_test_accuracy']:.4f}")
    print(f"wrote {Path(a.out or f'reports/{a.preset}').resolve()}/ (all.json and one folder per script)")
    return s


if __name__ == "__main__":
    main()
