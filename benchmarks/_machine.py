"""What every benchmark records besides its rows: the machine, its load, and an atomic strict-JSON write.

The result format is described in ``benchmarks/run_all.py``. Timings are only comparable within one
run (the machine is often shared), so each row is a ratio against a baseline measured in the same run.
"""
from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

RESULTS = Path(__file__).resolve().parent / "results"


def _versions() -> dict[str, Any]:
    from importlib import metadata

    out: dict[str, Any] = {"python": sys.version.split()[0], "platform": platform.machine()}
    for name in ("numpy", "numba", "torch"):
        try:  # the installed version, without importing it (torch alone costs seconds)
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # an optional package missing is recorded, not fatal
            out[name] = None
    return out


def start() -> dict[str, Any]:
    """The machine description, with the load average before the benchmark runs."""
    return {"cpus": os.cpu_count(), "threads": None, "loadavg_before": list(os.getloadavg()),
            "loadavg_after": None, **_versions()}


def finish(name: str, machine: dict[str, Any], rows: list[dict[str, Any]], threads: int,
           **extra: Any) -> dict[str, Any]:
    """The result dict of the format, with the load average after the benchmark ran."""
    machine = dict(machine, threads=int(threads), loadavg_after=list(os.getloadavg()))
    return {"name": name, "machine": machine, "rows": rows, **extra}


def row(what: str, ours: str, baseline: str, ours_value: float, baseline_value: float, unit: str,
        *, higher_is_better: bool, target: float | None = None, accuracy: str = "", note: str = "") -> dict[str, Any]:
    """One table row; ``ratio`` is ours / baseline when higher is better, baseline / ours for times."""
    ratio = ours_value / baseline_value if higher_is_better else baseline_value / ours_value
    return {"what": what, "ours": ours, "baseline": baseline, "ours_value": float(ours_value),
            "baseline_value": float(baseline_value), "unit": unit, "ratio": float(ratio),
            "target": None if target is None else float(target), "accuracy": accuracy, "note": note}


def write(result: dict[str, Any], path: str | os.PathLike | None = None) -> Path:
    """Write ``result`` as strict JSON, atomically, to ``benchmarks/results/<name>.json``."""
    from rmt_idinit.atomic import atomic_write_text
    from rmt_idinit.jsonio import dumps

    path = Path(path) if path is not None else RESULTS / f"{result['name']}.json"
    atomic_write_text(path, dumps(result) + "\n")
    return path


def best_time(fn: Callable[[], Any], repeat: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """Smallest of ``repeat`` timings of ``fn()`` (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


def machine(load_before, load_after) -> dict[str, Any]:
    """The machine dict of the format for load averages taken by the caller (numba's threads)."""
    import numba

    return {"cpus": os.cpu_count(), "threads": numba.get_num_threads(),
            "loadavg_before": list(load_before), "loadavg_after": list(load_after), **_versions()}
