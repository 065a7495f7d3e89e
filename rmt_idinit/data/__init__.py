"""Datasets for the validation experiments (numpy only; torch is not needed).

- :func:`load_fashion_mnist`: Fashion-MNIST from the IDX gzip files (default Debian path
  ``/usr/share/datasets/fashion-mnist/``).
- :func:`load_cifar10`: CIFAR-10 python batches through a restricted unpickler.
- :func:`normalize`: input normalization to a chosen per-coordinate second moment ``q0``.
"""
from __future__ import annotations

from .cifar import RestrictedUnpickler, load_cifar10, load_cifar_batch
from .fashion_mnist import DEFAULT_FASHION_MNIST_DIR, FASHION_MNIST_CLASSES, DatasetError, load_fashion_mnist, read_idx
from .normalize import Normalizer, normalize

__all__ = [
    "DEFAULT_FASHION_MNIST_DIR",
    "FASHION_MNIST_CLASSES",
    "DatasetError",
    "Normalizer",
    "RestrictedUnpickler",
    "load_cifar10",
    "load_cifar_batch",
    "load_fashion_mnist",
    "normalize",
    "read_idx",
]
