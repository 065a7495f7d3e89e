import os

import numpy as np
import pytest

# Keep numba/BLAS from oversubscribing the 2 CI cores when pytest runs beside other work.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def rng():
    return np.random.default_rng(20210226)


@pytest.fixture
def one_thread():
    """torch on one thread: on tiny tensors extra threads only add contention (measured 100x slower
    on a loaded 2-core machine)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
