"""Strict JSON for every file and stream the package writes.

``json.dumps`` writes ``NaN`` and ``Infinity`` by default, which strict parsers (JavaScript's
``JSON.parse``, Go's ``encoding/json``, ``jq``) reject. Here a non-finite float becomes ``null``
and its path is recorded, with the value it stood for, under the top-level key ``"non_finite"``,
so the reader learns *why* a number is missing (``"+inf"``: unbounded, ``"nan"``: undefined)::

    {"max_depth": null, "non_finite": {"max_depth": "+inf"}}

numpy scalars and arrays become plain numbers and lists.

Examples
--------
>>> print(dumps({"a": 1.5, "b": float("inf"), "c": [float("nan")]}, indent=None))
{"a": 1.5, "b": null, "c": [null], "non_finite": {"b": "+inf", "c[0]": "nan"}}
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

__all__ = ["strict", "dumps", "loads_strict"]


def _tag(x: float) -> str:
    return "nan" if math.isnan(x) else ("+inf" if x > 0 else "-inf")


def strict(obj: Any, notes: dict[str, str] | None = None, path: str = "") -> Any:
    """``obj`` as plain JSON types, non-finite floats replaced by ``None``.

    Parameters
    ----------
    obj : Any
        Nested dicts, lists, tuples, numbers (numpy included), strings, bools, None.
    notes : dict, optional
        Filled with ``path -> "+inf" | "-inf" | "nan"`` for every replaced value.
    path : str
        Prefix of the paths recorded in ``notes``.

    Examples
    --------
    >>> notes = {}
    >>> strict({"x": np.float64(-np.inf), "y": np.arange(2)}, notes), notes
    ({'x': None, 'y': [0, 1]}, {'x': '-inf'})
    """
    if notes is None:
        notes = {}
    if isinstance(obj, dict):
        return {str(k): strict(v, notes, f"{path}.{k}" if path else str(k)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v, notes, f"{path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray):
        return strict(obj.tolist(), notes, path)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        if math.isfinite(x):
            return x
        notes[path] = _tag(x)
        return None
    return obj


def dumps(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON text of ``obj``; a dict gains ``"non_finite"`` when values were replaced.

    Never writes ``NaN``/``Infinity`` (``allow_nan=False`` would raise if one slipped through).
    """
    notes: dict[str, str] = {}
    clean = strict(obj, notes)
    if notes:
        if not isinstance(clean, dict):
            raise ValueError("non-finite values outside a JSON object cannot carry their reason")
        clean["non_finite"] = notes
    return json.dumps(clean, indent=indent, allow_nan=False)


def _refuse(name: str) -> Any:
    raise ValueError(f"not strict JSON: {name}")


def loads_strict(text: str) -> Any:
    """``json.loads`` that refuses ``NaN``, ``Infinity`` and ``-Infinity`` (what strict parsers do).

    Examples
    --------
    >>> loads_strict('{"a": null}')
    {'a': None}
    >>> loads_strict('{"a": NaN}')
    Traceback (most recent call last):
    ...
    ValueError: not strict JSON: NaN
    """
    return json.loads(text, parse_constant=_refuse)
