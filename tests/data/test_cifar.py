"""CIFAR-10 batches through the restricted unpickler; malicious pickles are refused."""
import os
import pickle

import numpy as np
import pytest

from rmt_idinit.data import DatasetError, RestrictedUnpickler, load_cifar10, load_cifar_batch


def _batch(n, seed):
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"testing batch",
        b"labels": rng.integers(0, 10, size=n).tolist(),
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_batch_roundtrip(tmp_path, protocol):
    b = _batch(6, protocol)
    p = tmp_path / "data_batch_1"
    p.write_bytes(pickle.dumps(b, protocol=protocol))
    x, y = load_cifar_batch(p)
    assert x.shape == (6, 3, 32, 32) and x.dtype == np.uint8
    assert np.array_equal(x.reshape(6, -1), b[b"data"]) and y.tolist() == b[b"labels"]


def test_load_cifar10_train_and_test(tmp_path):
    for i in range(1, 6):
        (tmp_path / f"data_batch_{i}").write_bytes(pickle.dumps(_batch(3, i), protocol=2))
    (tmp_path / "test_batch").write_bytes(pickle.dumps(_batch(4, 9), protocol=2))
    x, y = load_cifar10(tmp_path)
    assert x.shape == (15, 3, 32, 32) and y.shape == (15,)
    assert np.array_equal(x[3:6].reshape(3, -1), _batch(3, 2)[b"data"])
    assert load_cifar10(tmp_path, "test")[0].shape == (4, 3, 32, 32)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_refused_and_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "data_batch_1"
    p.write_bytes(pickle.dumps({b"data": _Evil(marker), b"labels": []}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to unpickle global '(posix|os|nt)\.system'"):
        load_cifar_batch(p)
    assert not marker.exists()


@pytest.mark.parametrize("module, name", [("builtins", "eval"), ("subprocess", "Popen"), ("numpy", "load"),
                                          ("builtins", "getattr")])
def test_find_class_admits_only_whitelist(module, name):
    import io

    u = RestrictedUnpickler(io.BytesIO(b""))
    with pytest.raises(pickle.UnpicklingError, match=f"refusing to unpickle global '{module}.{name}'"):
        u.find_class(module, name)
    assert u.find_class("numpy", "ndarray") is np.ndarray


def test_not_a_cifar_batch(tmp_path):
    p = tmp_path / "b"
    p.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(DatasetError, match="does not hold a dict"):
        load_cifar_batch(p)
    p.write_bytes(pickle.dumps({b"data": np.zeros((2, 5), np.uint8), b"labels": [0, 1]}))
    with pytest.raises(DatasetError, match=r"'data' must be a uint8 array of shape \(n, 3072\)"):
        load_cifar_batch(p)
    p.write_bytes(b"\x80\x02garbage")
    with pytest.raises(DatasetError, match="cannot unpickle CIFAR-10 batch"):
        load_cifar_batch(p)
    with pytest.raises(FileNotFoundError, match="data_batch_1"):
        load_cifar10(tmp_path)
