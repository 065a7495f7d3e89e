"""CIFAR-10 from the python pickle batches, read through a restricted unpickler.

A pickle can run arbitrary code when loaded (any callable reachable through ``find_class``).
:class:`RestrictedUnpickler` admits only the globals a CIFAR batch needs to rebuild its dict of
bytes, lists and one uint8 numpy array, and raises :class:`pickle.UnpicklingError` for anything
else (``os.system``, ``builtins.eval``, ``subprocess.Popen`` ...).
"""
from __future__ import annotations

import io
import os
import pickle
from typing import Any

import numpy as np

from .._core.checks import check_choice, check_path
from .fashion_mnist import DatasetError

__all__ = ["ALLOWED_GLOBALS", "ForbiddenGlobalError", "RestrictedUnpickler", "load_cifar10", "load_cifar_batch"]

#: (module, name) pairs the unpickler resolves. numpy moved ``core`` to ``_core`` in 2.0, and
#: protocol-2 pickles written by Python 3 encode bytes with ``_codecs.encode``.
ALLOWED_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
        ("builtins", "bytes"),
        ("builtins", "bytearray"),
        ("builtins", "list"),
        ("builtins", "dict"),
        ("__builtin__", "bytes"),
        ("__builtin__", "list"),
        ("__builtin__", "dict"),
    }
)


class ForbiddenGlobalError(pickle.UnpicklingError):
    """The pickle asked for a global outside :data:`ALLOWED_GLOBALS` (a subclass of
    :class:`pickle.UnpicklingError`, kept apart from merely truncated pickles)."""


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` whose ``find_class`` admits only :data:`ALLOWED_GLOBALS`.

    Examples
    --------
    >>> import io, os, pickle
    >>> class Evil:
    ...     def __reduce__(self):
    ...         return (os.system, ("echo pwned",))
    >>> RestrictedUnpickler(io.BytesIO(pickle.dumps(Evil()))).load()
    Traceback (most recent call last):
    ...
    rmt_idinit.data.cifar.ForbiddenGlobalError: refusing to unpickle global 'posix.system' (not needed by a CIFAR batch)
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise ForbiddenGlobalError(
            f"refusing to unpickle global '{module}.{name}' (not needed by a CIFAR batch)"
        )


def _key(d: dict, name: str) -> Any:
    for k in (name, name.encode()):
        if k in d:
            return d[k]
    raise KeyError(name)


def load_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 python batch file.

    Returns
    -------
    images : numpy.ndarray
        uint8, shape ``(n, 3, 32, 32)``.
    labels : numpy.ndarray
        int64 in 0..9, shape ``(n,)``.

    Raises
    ------
    FileNotFoundError
        Missing file (message names it).
    ForbiddenGlobalError (a pickle.UnpicklingError)
        The pickle asks for a global outside :data:`ALLOWED_GLOBALS`.
    DatasetError
        The content is not a CIFAR batch (message names the file).
    """
    path = check_path("path", path)
    if not path.is_file():
        raise FileNotFoundError(f"CIFAR-10 batch not found: {path}")
    raw = path.read_bytes()
    try:
        obj = RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except ForbiddenGlobalError as exc:
        raise ForbiddenGlobalError(f"{path}: {exc}") from None
    except Exception as exc:  # truncated / garbage pickles raise many different types
        raise DatasetError(f"cannot unpickle CIFAR-10 batch {path}: {exc!r}") from exc
    if not isinstance(obj, dict):
        raise DatasetError(f"{path} does not hold a dict (got {type(obj).__name__})")
    try:
        data, labels = _key(obj, "data"), _key(obj, "labels")
    except KeyError as exc:
        raise DatasetError(f"{path} has no '{exc.args[0]}' entry") from None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DatasetError(f"{path}: 'data' must be a uint8 array of shape (n, 3072)")
    labels = np.asarray(labels)
    if labels.shape != (data.shape[0],) or labels.dtype.kind not in "iu" or (
        labels.size and (labels.min() < 0 or labels.max() > 9)
    ):
        raise DatasetError(f"{path}: 'labels' must be {data.shape[0]} integers in 0..9")
    return data.reshape(-1, 3, 32, 32).copy(), labels.astype(np.int64)


def load_cifar10(
    path: str | os.PathLike, split: str = "train"
) -> tuple[np.ndarray, np.ndarray]:
    """Load CIFAR-10 from ``path`` (the ``cifar-10-batches-py`` directory).

    ``split="train"`` concatenates ``data_batch_1`` .. ``data_batch_5``; ``"test"`` reads
    ``test_batch``. Shapes as in :func:`load_cifar_batch`.
    """
    check_choice("split", split, ("train", "test"))
    directory = check_path("path", path)
    if not directory.is_dir():
        raise FileNotFoundError(f"CIFAR-10 directory not found: {directory}")
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    parts = [load_cifar_batch(directory / n) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
