"""The public sweep: a vectorized function over a large grid, in chunks, optionally on an executor.

(The module is ``sweeps`` so that ``rmt_idinit.select.sweep`` stays the function.)
"""
from __future__ import annotations

from concurrent.futures import Executor
from typing import Any, Callable

from .._core.sweep import run_chunked

__all__ = ["sweep"]


def sweep(fn: Callable[..., Any], grid: Any, *, chunk_size: int | None = None,
          executor: Executor | None = None, progress: bool = False, desc: str = "sweep") -> Any:
    """Evaluate a vectorized ``fn`` over a large grid in chunks, optionally on an executor.

    Parameters
    ----------
    fn : callable
        Vectorized: called as ``fn(**{name: 1-D chunk})`` for a mapping grid or ``fn(chunk)`` for
        an array grid; returns an array (or tuple / dict of arrays) whose leading axis has one
        entry per point of the chunk. Must be picklable for process pools (use
        :func:`functools.partial` rather than a lambda).
    grid : mapping of name -> 1-D array, or array
        A mapping is expanded to its full mesh (``indexing="ij"``) and the results are reshaped
        to ``(len(a), len(b), ...) + trailing``; an array is split along its first axis.
    chunk_size : int, optional
        Points per task (default: about 64 tasks, at least 1 point each).
    executor : concurrent.futures.Executor, optional
        ThreadPoolExecutor, ProcessPoolExecutor or ``dask.distributed.Client.get_executor()``;
        None runs in this process.
    progress : bool
        tqdm bar (off by default, like every progress bar of the library), shown only once the
        sweep has run for more than a second.

    Examples
    --------
    >>> from functools import partial
    >>> import rmt_idinit as ri
    >>> out = sweep(partial(ri.alpha, depth=50), {"sigma": [1.0, 1.02], "q0": [0.1, 1.0]}, progress=False)
    >>> out.round(4).tolist()
    [[0.9984, 0.6827], [0.76, 0.2898]]
    """
    return run_chunked(fn, grid, chunk_size=chunk_size, executor=executor, progress=progress, desc=desc)
