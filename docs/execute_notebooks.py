"""Execute notebooks/*.ipynb (full settings) and store the copies, outputs included, in docs/notebooks/.

The docs build renders these stored outputs and never executes a notebook, so ``make docs`` stays
fast. Rerun after changing a notebook (``make docs-notebooks``); tests/test_docs.py checks that the
stored copies still carry the same code as notebooks/.

Usage: python docs/execute_notebooks.py [NAME ...]   (default: every notebook)
       RMT_IDINIT_SMALL=1 python docs/execute_notebooks.py NAME   (the tests' reduced settings)
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(names: list[str]) -> int:
    import nbclient
    import nbformat

    src = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if names:
        src = [p for p in src if p.stem in names or p.name in names]
    out_dir = ROOT / "docs" / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    env_path = str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = env_path
    # figures shown inline, so the stored copies carry them as image outputs (the tests use Agg)
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    for path in src:
        t0 = time.perf_counter()
        nb = nbformat.read(path, as_version=4)
        nbclient.NotebookClient(nb, timeout=3600, kernel_name="python3",
                                resources={"metadata": {"path": str(ROOT)}}).execute()
        # say how it was run: RMT_IDINIT_SMALL=1 means the reduced settings the tests use
        nb.metadata["rmt_idinit"] = {"small_settings": os.environ.get("RMT_IDINIT_SMALL") == "1",
                                     "seconds": round(time.perf_counter() - t0, 1)}
        target = out_dir / path.name
        tmp = target.with_suffix(".ipynb.tmp")
        nbformat.write(nb, tmp)
        os.replace(tmp, target)
        print(f"wrote {target} ({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
