"""``make bench``: run every ``benchmarks/bench_*.py``, merge the results into one JSON, regenerate the README table.

Each benchmark module exposes ``run(quick: bool = False) -> dict`` returning::

    {"name": "<name>",
     "machine": {"cpus", "threads", "loadavg_before", "loadavg_after", "python", "numpy", "numba", "torch"},
     "rows": [{"what", "ours", "baseline", "ours_value", "baseline_value", "unit",
               "ratio",       # ours / baseline, > 1 means ours is better (times are inverted)
               "target",      # the issue's target ratio, or null
               "accuracy", "note"}, ...]}

This script imports every module, calls ``run()``, checks each result against that format, and
writes ``benchmarks/results/bench.json`` (strict JSON, atomically) with the machine, its load
before and after the whole run, and every benchmark under ``"benchmarks"``. A module without
``run()`` is skipped and the JSON says so; one that fails is recorded with its error and makes the
exit status 1. Then the README speed table between ``<!-- bench-table:start -->`` and
``<!-- bench-table:end -->`` is regenerated from the JSON (:mod:`benchmarks.readme_table`).

Usage::

    python -m benchmarks.run_all [--quick] [--only jacobian training] [--no-readme] [--out PATH]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import _machine  # noqa: E402

BENCH_JSON = _machine.RESULTS / "bench.json"
MACHINE_KEYS = ("cpus", "threads", "loadavg_before", "loadavg_after", "python", "numpy", "numba", "torch")
ROW_KEYS = ("what", "ours", "baseline", "ours_value", "baseline_value", "unit", "ratio", "target", "accuracy", "note")
#: the load average (1 min, per core) above which a run is flagged as taken on a loaded machine
LOADED_PER_CPU = 0.5


def discover(folder: Path = Path(__file__).resolve().parent) -> list[str]:
    """Names ``bench_<x>`` of the benchmark modules in ``folder``, sorted."""
    return sorted(p.stem for p in folder.glob("bench_*.py"))


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def check_result(result: Any) -> list[str]:
    """What is wrong with one benchmark's result dict (empty list: it follows the format)."""
    if not isinstance(result, dict):
        return [f"run() must return a dict, got {type(result).__name__}"]
    bad = []
    if not isinstance(result.get("name"), str) or not result.get("name"):
        bad.append("'name' must be a non-empty string")
    machine = result.get("machine")
    if not isinstance(machine, dict):
        bad.append("'machine' must be a dict")
    else:
        bad += [f"machine lacks {k!r}" for k in MACHINE_KEYS if k not in machine]
        for k in ("loadavg_before", "loadavg_after"):
            v = machine.get(k)
            if not (isinstance(v, list) and len(v) == 3 and all(_is_number(x) for x in v)):
                bad.append(f"machine[{k!r}] must be the 3 load averages")
    rows = result.get("rows")
    if not isinstance(rows, list) or not rows:
        return bad + ["'rows' must be a non-empty list"]
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            bad.append(f"rows[{i}] must be a dict")
            continue
        bad += [f"rows[{i}] lacks {k!r}" for k in ROW_KEYS if k not in r]
        bad += [f"rows[{i}][{k!r}] must be a finite number" for k in ("ours_value", "baseline_value", "ratio")
                if k in r and not _is_number(r[k])]
        if r.get("target") is not None and not _is_number(r["target"]):
            bad.append(f"rows[{i}]['target'] must be a finite number or null")
        bad += [f"rows[{i}][{k!r}] must be a string" for k in ("what", "ours", "baseline", "unit", "accuracy", "note")
                if k in r and not isinstance(r[k], str)]
    return bad


def run_one(module: Any, quick: bool) -> dict[str, Any]:
    """``module.run(quick=quick)`` checked against the format, or a record of why it was not run."""
    fn = getattr(module, "run", None)
    if not callable(fn):
        return {"skipped": "the module has no run(quick) function: it does not follow the result format yet"}
    t0 = time.perf_counter()
    try:
        result = fn(quick=quick)
    except Exception as exc:  # noqa: BLE001 - one failing benchmark must not lose the others
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(limit=5)}
    problems = check_result(result)
    if problems:
        return {"error": "run() result does not follow the format: " + "; ".join(problems)}
    return {**result, "seconds": time.perf_counter() - t0}


def _importer(name: str) -> Any:
    return importlib.import_module(f"benchmarks.{name}")


def run_all(names: Iterable[str] | None = None, *, quick: bool = False,
            importer: Callable[[str], Any] = _importer, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the benchmarks ``names`` (default: all discovered) and return the merged document."""
    names = list(discover() if names is None else names)
    machine = _machine.start()
    t0 = time.perf_counter()
    benches: dict[str, Any] = {}
    for name in names:
        log(f"== {name}")
        try:
            module = importer(name)
        except Exception as exc:  # noqa: BLE001
            benches[name] = {"error": f"import failed: {type(exc).__name__}: {exc}"}
        else:
            benches[name] = run_one(module, quick)
        rec = benches[name]
        done = f"{len(rec['rows'])} rows in {rec['seconds']:.0f} s" if "rows" in rec else ""
        log(f"   {rec.get('skipped') or rec.get('error') or done}")
    machine["loadavg_after"] = list(os.getloadavg())
    cpus = machine["cpus"] or 1
    peak = max(machine["loadavg_before"][0], machine["loadavg_after"][0])
    loaded = peak > LOADED_PER_CPU * cpus
    return {
        "generated_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "quick": bool(quick),
        "machine": machine,
        "loaded": loaded,
        "load_note": (f"taken on a shared machine under load (1-min load average up to {peak:.1f} on {cpus} "
                      "cores): absolute values are pessimistic, only the ratios (each measured within one "
                      "run) mean anything" if loaded else
                      f"idle machine (1-min load average at most {peak:.1f} on {cpus} cores)"),
        "total_seconds": time.perf_counter() - t0,
        "benchmarks": benches,
    }


def load(path: str | os.PathLike = BENCH_JSON) -> dict[str, Any]:
    """A merged document written by this script (strict JSON)."""
    from rmt_idinit.jsonio import loads_strict

    return loads_strict(Path(path).read_text())


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``old`` with the benchmarks of ``new`` replaced or added (``--only`` reruns a few); the
    top-level machine and time are the new run's, and each benchmark keeps its own machine record."""
    benches = dict(old.get("benchmarks", {}))
    benches.update(new["benchmarks"])
    return {**new, "benchmarks": dict(sorted(benches.items())), "partial_rerun": sorted(new["benchmarks"])}


def failed(doc: dict[str, Any]) -> list[str]:
    """Names of the benchmarks that raised or broke the format (skipped ones are not failures)."""
    return [n for n, b in doc["benchmarks"].items() if "error" in b]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (seconds); not for the README")
    p.add_argument("--only", nargs="+", help="benchmark names (jacobian or bench_jacobian)")
    p.add_argument("--out", type=Path, default=None, help=f"merged JSON (default {BENCH_JSON}; --quick: not written)")
    p.add_argument("--no-readme", action="store_true", help="do not regenerate the README table")
    a = p.parse_args(argv)
    names = None if not a.only else [n if n.startswith("bench_") else f"bench_{n}" for n in a.only]
    doc = run_all(names, quick=a.quick)
    out = a.out if a.out is not None else (None if a.quick else BENCH_JSON)
    if names is not None and out is not None and Path(out).exists():
        doc = merge(load(out), doc)
    if out is not None:
        print("wrote", _machine.write(doc, out))
    if not a.no_readme and not a.quick and out is not None:
        from benchmarks import readme_table

        changed = readme_table.update_readme(doc)
        print("README speed table", "regenerated" if changed else "unchanged")
    bad = failed(doc)
    if bad:
        print("failed:", ", ".join(bad), file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
