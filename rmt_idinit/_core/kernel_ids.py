"""Branch numbers of the built-in numba kernels in :mod:`rmt_idinit._core.kernels`.

Each built-in activation record names its branch here (``kernel=kernel_ids.TANH``). Kept in a module
of its own, free of numba, so that declaring an activation never imports numba.
"""
from __future__ import annotations

HARDTANH = 0
RELU = 1
LEAKY_RELU = 2
LINEAR = 3
TANH = 4
ERF = 5
SIGMOID = 6
GELU = 7
SILU = 8
SOFTPLUS = 9
