"""Chunked evaluation of a vectorized function over a grid, in this process or on any
``concurrent.futures.Executor`` (thread or process pools, dask's executor). Private engine; the
public entry is :func:`rmt_idinit.select.sweep`."""
from __future__ import annotations

from concurrent.futures import Executor
from typing import Any, Callable, Mapping

import numpy as np

from . import checks


def _grid_axis(name: str, values: Any) -> np.ndarray:
    try:
        return np.asarray(values)
    except ValueError:  # ragged nested lists
        raise TypeError(f"{name} must be an array (not a ragged nested list)") from None


def _call_chunk(fn, kwargs):
    return fn(**kwargs) if isinstance(kwargs, dict) else fn(kwargs)


def run_chunked(fn: Callable[..., Any], grid: Any, *, chunk_size: int | None = None,
                executor: Executor | None = None, progress: bool = False, desc: str = "sweep") -> Any:
    """The engine behind :func:`rmt_idinit.select.sweep` (documented there)."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {fn!r}")
    if isinstance(grid, Mapping):
        if not grid:
            raise ValueError("grid must name at least one parameter")
        axes = {name: _grid_axis(f"grid[{name!r}]", v) for name, v in grid.items()}
        for name, v in axes.items():
            if v.ndim != 1 or v.size == 0:
                raise ValueError(f"grid[{name!r}] must be a non-empty 1-D array, got shape {v.shape}")
        shape = tuple(v.size for v in axes.values())
        mesh = np.meshgrid(*axes.values(), indexing="ij")
        flat = {name: m.ravel() for name, m in zip(axes, mesh)}
        n = int(np.prod(shape))
    else:
        arr = _grid_axis("grid", grid)
        if arr.ndim == 0 or arr.shape[0] == 0:
            raise ValueError("grid must be a mapping of 1-D arrays or a non-empty array")
        shape, flat, n = (arr.shape[0],), arr, arr.shape[0]
    if chunk_size is None:
        chunk_size = max(1, -(-n // 64))
    cs = checks.check_scalar_int("chunk_size", chunk_size)
    starts = list(range(0, n, cs))
    tasks = [{k: v[a:a + cs] for k, v in flat.items()} if isinstance(flat, dict) else flat[a:a + cs]
             for a in starts]
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm
            bar = tqdm(total=n, desc=desc, delay=1.0, leave=False)
        except ImportError:  # tqdm is a dependency, but progress is only a nicety
            bar = None
    results: list[Any] = [None] * len(tasks)
    try:
        if executor is None:
            for i, t in enumerate(tasks):
                results[i] = _call_chunk(fn, t)
                if bar is not None:
                    bar.update(len(t[next(iter(t))]) if isinstance(t, dict) else len(t))
        else:
            from concurrent.futures import as_completed

            futs = {executor.submit(_call_chunk, fn, t): i for i, t in enumerate(tasks)}
            for fut in as_completed(futs):
                i = futs[fut]
                results[i] = fut.result()
                if bar is not None:
                    t = tasks[i]
                    bar.update(len(t[next(iter(t))]) if isinstance(t, dict) else len(t))
    finally:
        if bar is not None:
            bar.close()
    return _assemble(results, shape)


def _assemble(results: list[Any], shape: tuple[int, ...]) -> Any:
    first = results[0]
    if isinstance(first, dict):
        return {k: _assemble([r[k] for r in results], shape) for k in first}
    if isinstance(first, tuple):
        return tuple(_assemble([r[j] for r in results], shape) for j in range(len(first)))
    cat = np.concatenate([np.atleast_1d(np.asarray(r)) for r in results], axis=0)
    return cat.reshape(shape + cat.shape[1:])
