"""Run every validation experiment with one preset and write an index report.

``--preset quick`` (CI, about a minute on 2 cores): small subsets, few layers and steps.
``--preset paper``: 100 layers, width 784, the full Fashion-MNIST training set.

The trainability atlas runs too, with its own preset of the same scale (``quick`` -> ``quick``, a
few tiny cells on a 2-worker LocalCluster; ``paper`` -> ``full``); ``--no-atlas`` skips it.

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

from validation import atlas, init_spectrum, train_drift  # noqa: E402
from validation._common import atomic_write_json, versions  # noqa: E402


def run(preset: str = "quick", out: str | None = None, *, epochs: int | None = None, device: str | None = None,
        threads: int | None = None, data_dir: str | None = None, progress: bool = True,
        with_atlas: bool = True) -> dict[str, Any]:
    """Run ``init_spectrum``, ``train_drift`` and (``with_atlas``) the atlas into ``out/<name>`` and
    write ``out/all.json``."""
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
    rep_at = None
    if with_atlas:
        rep_at = atlas.run(atlas.make_config(ATLAS_PRESET[preset], out=str(root / "atlas"), device=device,
                                             data_dir=data_dir, progress=progress))
    t3 = time.perf_counter()
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
        "atlas": None if rep_at is None else {
            "preset": ATLAS_PRESET[preset], "seconds": t3 - t2, "n_done": rep_at["n_done"],
            "n_total": rep_at["n_total"], "failed": rep_at["failed"],
            "balanced_accuracy": {k: (v or {}).get("balanced_accuracy") for k, v in
                                  ((rep_at["agreement"] or {}).get("criteria") or {}).items()
                                  if k in ("isometry", "signal")}},
    }
    atomic_write_json(root / "all.json", summary)
    return summary


ATLAS_PRESET = {"quick": "quick", "paper": "full"}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="quick", choices=["quick", "paper"])
    p.add_argument("--out")
    p.add_argument("--epochs", type=int)
    p.add_argument("--device")
    p.add_argument("--threads", type=int)
    p.add_argument("--data-dir")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-atlas", action="store_true", help="skip the trainability atlas")
    a = p.parse_args(argv)
    s = run(a.preset, a.out, epochs=a.epochs, device=a.device, threads=a.threads, data_dir=a.data_dir,
            progress=not a.no_progress, with_atlas=not a.no_atlas)
    print(f"init_spectrum: all passed {s['init_spectrum']['all_passed']}, "
          f"worst relative error {s['init_spectrum']['worst_relative_error']:.2e}")
    for k, m in s["train_drift"]["models"].items():
        print(f"train_drift {k}: test accuracy {m['final_test_accuracy']:.4f}")
    if s["atlas"] is not None:
        print(f"atlas ({s['atlas']['preset']}): {s['atlas']['n_done']}/{s['atlas']['n_total']} cells, "
              f"balanced accuracy {s['atlas']['balanced_accuracy']}")
    print(f"wrote {Path(a.out or f'reports/{a.preset}').resolve()}/ (all.json and one folder per script)")
    return s


if __name__ == "__main__":
    main()
