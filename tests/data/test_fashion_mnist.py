"""IDX reader and Fashion-MNIST loader on files the tests write, plus the real Debian files."""
import gzip
import struct

import numpy as np
import pytest

from rmt_idinit.data import DEFAULT_FASHION_MNIST_DIR, DatasetError, load_fashion_mnist, read_idx


def _write_idx(path, arr, magic_type=0x08, gz=True, extra=b""):
    header = bytes([0, 0, magic_type, arr.ndim]) + b"".join(struct.pack(">I", s) for s in arr.shape)
    raw = header + arr.astype(np.uint8).tobytes() + extra
    if gz:
        with gzip.open(path, "wb") as fh:
            fh.write(raw)
    else:
        path.write_bytes(raw)


def _fake_dataset(tmp_path, n_train=60000, n_test=10000, gz=True):
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    for stem, n in (("train", n_train), ("t10k", n_test)):
        imgs = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labs = rng.integers(0, 10, size=n, dtype=np.uint8)
        _write_idx(tmp_path / f"{stem}-images-idx3-ubyte{suffix}", imgs, gz=gz)
        _write_idx(tmp_path / f"{stem}-labels-idx1-ubyte{suffix}", labs, gz=gz)
    return tmp_path


def test_read_idx_roundtrip_gz_and_raw(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a.gz", arr)
    _write_idx(tmp_path / "a", arr, gz=False)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), arr)
    assert np.array_equal(read_idx(tmp_path / "a", expected_ndim=3), arr)


def test_read_idx_missing_file_names_path(tmp_path):
    p = tmp_path / "nope.gz"
    with pytest.raises(FileNotFoundError, match="nope.gz"):
        read_idx(p)


def test_read_idx_bad_magic_names_path(tmp_path):
    p = tmp_path / "bad.gz"
    _write_idx(p, np.zeros((2, 2), np.uint8), magic_type=0x0D)  # 0x0D = float, not ubyte
    with pytest.raises(DatasetError, match=r"bad magic number 0x00000d02 in IDX file .*bad\.gz"):
        read_idx(p)


def test_read_idx_size_mismatch_and_not_gzip(tmp_path):
    p = tmp_path / "long.gz"
    _write_idx(p, np.zeros((2, 2), np.uint8), extra=b"\x00")
    with pytest.raises(DatasetError, match=r"long\.gz holds at least 5 data bytes, its header \(2, 2\) says 4"):
        read_idx(p)
    q = tmp_path / "plain.gz"
    q.write_bytes(b"this is not gzip")
    with pytest.raises(DatasetError, match=r"cannot read IDX file .*plain\.gz"):
        read_idx(q)
    r = tmp_path / "dims.gz"
    _write_idx(r, np.zeros((2, 2), np.uint8))
    with pytest.raises(DatasetError, match="has 2 dimensions, expected 3"):
        read_idx(r, expected_ndim=3)


def test_loader_on_written_files_and_limit(tmp_path):
    d = _fake_dataset(tmp_path, gz=False)
    x, y = load_fashion_mnist(d, "test", limit=7)
    assert x.shape == (7, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64 and y.shape == (7,)


def test_loader_missing_dir_and_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        load_fashion_mnist(tmp_path / "missing_dir")
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz"):
        load_fashion_mnist(tmp_path)
    with pytest.raises(ValueError, match="^split must be one of 'train', 'test', got "):
        load_fashion_mnist(tmp_path, "val")


def test_loader_wrong_count(tmp_path):
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((5, 28, 28), np.uint8))
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    with pytest.raises(DatasetError, match=r"t10k-images-idx3-ubyte\.gz has shape \(5, 28, 28\), expected \(10000, 28, 28\)"):
        load_fashion_mnist(tmp_path, "test")


@pytest.mark.skipif(not DEFAULT_FASHION_MNIST_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist_default_path():
    x, y = load_fashion_mnist(split="test")
    assert x.shape == (10000, 28, 28)
    assert np.array_equal(np.bincount(y), np.full(10, 1000))  # test set is balanced
    assert y[:5].tolist() == [9, 2, 1, 1, 6]  # known first labels of the t10k file


def test_read_idx_checks_header_before_decompressing(tmp_path, monkeypatch):
    """A file whose header is wrong is refused after reading 4 bytes, not after the whole stream;
    a correct header bounds the read to its declared size (plus one byte)."""
    import gzip as gz

    reads = []
    real_open = gz.open

    class Counting:
        def __init__(self, fh):
            self.fh = fh

        def read(self, n=-1):
            reads.append(n)
            return self.fh.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    p = tmp_path / "big.gz"
    _write_idx(p, np.zeros((1000, 28, 28), np.uint8), magic_type=0x0D)
    q = tmp_path / "ok.gz"
    _write_idx(q, np.zeros((3, 2), np.uint8))
    monkeypatch.setattr(gz, "open", lambda *a, **k: Counting(real_open(*a, **k)))
    with pytest.raises(DatasetError, match="bad magic"):
        read_idx(p)
    assert reads == [4]  # never asked for the rest
    reads.clear()
    assert read_idx(q).shape == (3, 2)
    assert reads == [4, 8, 7]  # magic, two dimensions, payload of 6 bytes + 1


def test_read_idx_refuses_a_header_that_declares_too_much(tmp_path, monkeypatch):
    monkeypatch.setenv("RMT_IDINIT_MAX_BYTES", "1000")
    p = tmp_path / "huge.gz"
    _write_idx(p, np.zeros((40, 28), np.uint8))
    with pytest.raises(ValueError, match=r"huge\.gz \(header shape \(40, 28\)\) would need .* RMT_IDINIT_MAX_BYTES"):
        read_idx(p)


def test_directory_paths_are_named_as_directories(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        read_idx(tmp_path)
    f = tmp_path / "file"
    f.write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="is a file"):
        load_fashion_mnist(f)


def test_numpy_integer_limit_is_accepted():
    x, y = load_fashion_mnist(split="test", limit=np.int64(5))
    assert x.shape == (5, 28, 28)
    with pytest.raises(ValueError, match=r"limit must be an integer >= 1, got 0"):
        load_fashion_mnist(split="test", limit=0)
