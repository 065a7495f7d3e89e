"""Fashion-MNIST from the original IDX files (gzip-compressed or not)."""
from __future__ import annotations

import gzip
import os
from pathlib import Path


import numpy as np

from .._core import checks as _checks

__all__ = ["DEFAULT_FASHION_MNIST_DIR", "FASHION_MNIST_CLASSES", "DatasetError", "load_fashion_mnist", "read_idx"]

#: Where the Debian package ``dataset-fashion-mnist`` installs the files.
DEFAULT_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

# label i of the data set is FASHION_MNIST_CLASSES[i]
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000),
}
_UBYTE = 0x08


class DatasetError(ValueError):
    """A dataset file exists but is corrupt or not what it claims to be."""


def read_idx(path: str | os.PathLike, *, expected_ndim: int | None = None) -> np.ndarray:
    """Read an unsigned-byte IDX file (``.gz`` or raw) into a uint8 array.

    The header is checked: magic ``0x0000 08 nd`` (two zero bytes, type 0x08 = ubyte, number of
    dimensions), then ``nd`` big-endian uint32 sizes, and the payload must hold exactly
    ``prod(sizes)`` bytes.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (the message names it).
    DatasetError
        If the magic number, the dimensions or the size are wrong (the message names the path).
    """
    path = _checks.check_path("path", path)
    if path.is_dir():
        raise IsADirectoryError(f"IDX path {path} is a directory; pass the file itself (e.g. {path}/t10k-images-idx3-ubyte.gz)")
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            # the header first: a wrong file is refused before anything big is decompressed,
            # and the payload read is bounded by the size the header declares
            head = fh.read(4)
            if len(head) < 4:
                raise DatasetError(f"IDX file {path} is too short ({len(head)} bytes) to hold a header")
            if head[0] != 0 or head[1] != 0 or head[2] != _UBYTE:
                raise DatasetError(
                    f"bad magic number 0x{head.hex()} in IDX file {path}: expected 0x000008nn (unsigned bytes)"
                )
            ndim = head[3]
            if expected_ndim is not None and ndim != expected_ndim:
                raise DatasetError(f"IDX file {path} has {ndim} dimensions, expected {expected_ndim}")
            dims = fh.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise DatasetError(f"IDX file {path} is truncated inside its header")
            shape = tuple(int(v) for v in np.frombuffer(dims, dtype=">u4", count=ndim))
            n = int(np.prod(shape, dtype=object)) if shape else 1
            _checks.check_memory(n, f"IDX file {path} (header shape {shape})")
            payload = fh.read(n + 1)  # one byte more reveals trailing data
    except (OSError, EOFError) as exc:  # truncated or not gzip at all
        raise DatasetError(f"cannot read IDX file {path}: {exc}") from exc
    if len(payload) != n:
        more = "at least " if len(payload) > n else ""
        raise DatasetError(
            f"IDX file {path} holds {more}{len(payload)} data bytes, its header {shape} says {n}"
        )
    return np.frombuffer(payload, dtype=np.uint8).reshape(shape)



def _find(directory: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(
        f"Fashion-MNIST file {directory / (stem + '.gz')} not found (nor uncompressed); "
        "pass path= or install the Debian package dataset-fashion-mnist"
    )


def load_fashion_mnist(
    path: str | os.PathLike | None = None, split: str = "train", *, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST images and labels.

    Parameters
    ----------
    path : path-like, optional
        Directory with the four IDX files (``train-images-idx3-ubyte.gz`` ...); default
        :data:`DEFAULT_FASHION_MNIST_DIR`.
    split : {"train", "test"}
        60000 training or 10000 test images.
    limit : int, optional
        Keep only the first ``limit`` samples.

    Returns
    -------
    images : numpy.ndarray
        uint8, shape ``(n, 28, 28)``.
    labels : numpy.ndarray
        int64 in 0..9, shape ``(n,)``.

    Examples
    --------
    >>> x, y = load_fashion_mnist(split="test", limit=5)  # the Debian path; `make test` installs it
    >>> x.shape, y.dtype
    ((5, 28, 28), dtype('int64'))
    """
    _checks.check_choice("split", split, tuple(_FILES))
    if limit is not None:
        limit = _checks.check_scalar_int("limit", limit, minimum=1)
    directory = _checks.check_path("path", path) if path is not None else DEFAULT_FASHION_MNIST_DIR
    if directory.is_file():
        raise NotADirectoryError(f"Fashion-MNIST path {directory} is a file; pass the directory that holds the IDX files")
    if not directory.is_dir():
        raise FileNotFoundError(f"Fashion-MNIST directory not found: {directory}")
    img_stem, lab_stem, n = _FILES[split]
    img_path, lab_path = _find(directory, img_stem), _find(directory, lab_stem)
    images = read_idx(img_path, expected_ndim=3)
    labels = read_idx(lab_path, expected_ndim=1)
    if images.shape != (n, 28, 28):
        raise DatasetError(f"{img_path} has shape {images.shape}, expected {(n, 28, 28)}")
    if labels.shape != (n,):
        raise DatasetError(f"{lab_path} has shape {labels.shape}, expected {(n,)}")
    if labels.max() > 9:
        raise DatasetError(f"{lab_path} has label {int(labels.max())} outside 0..9")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return images.copy(), labels.astype(np.int64)
