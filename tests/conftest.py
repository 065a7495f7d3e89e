import os

import numpy as np
import pytest

# Keep numba/BLAS from oversubscribing the 2 CI cores when pytest runs beside other work.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def rng():
    return np.random.default_rng(20210226)
