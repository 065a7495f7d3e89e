"""What every bench result records about the run: the machine, its load, the library versions,
and the atomic strict-JSON write of ``benchmarks/results/<name>.json``."""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine(load_before, load_after) -> dict:
    import numba
    import numpy as np

    from importlib import metadata

    try:  # the version only: importing torch would cost seconds
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:  # torch is optional
        torch_version = None
    return {"cpus": os.cpu_count(), "threads": numba.get_num_threads(),
            "loadavg_before": list(load_before), "loadavg_after": list(load_after),
            "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "torch": torch_version}


def write(result: dict) -> Path:
    from rmt_idinit.atomic import atomic_write_text

    path = RESULTS / f"{result['name']}.json"
    atomic_write_text(path, json.dumps(result, indent=2, allow_nan=False) + "\n")
    return path
