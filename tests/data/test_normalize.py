"""Normalization to a chosen per-coordinate second moment q0."""
import numpy as np
import pytest

from rmt_idinit.data import Normalizer, normalize


def test_second_moment_is_q0_exactly():
    x = np.random.default_rng(0).integers(0, 256, size=(50, 28, 28)).astype(np.uint8)
    for q0 in (0.1, 0.5, 2.0):
        u = normalize(x, q0)
        assert u.shape == (50, 784)
        assert np.mean(u**2) == pytest.approx(q0, rel=1e-12)
        assert abs(np.mean(u)) < 1e-12


def test_test_set_reuses_training_statistics():
    rng = np.random.default_rng(1)
    xtr, xte = rng.random((20, 4)), rng.random((5, 4)) + 1.0
    norm = Normalizer.fit(xtr, 0.5)
    u = norm(xte)
    assert np.allclose(u, np.sqrt(0.5) * (xte - xtr.mean()) / xtr.std())
    assert np.allclose(normalize(xte, 0.5, reference=xtr), u)
    assert norm(xte, dtype=np.float32).dtype == np.float32


def test_errors():
    with pytest.raises(ValueError, match="q0 must be a finite number > 0"):
        normalize(np.arange(4.0), 0.0)
    with pytest.raises(ValueError, match="zero standard deviation"):
        normalize(np.ones((2, 3)), 1.0)
