"""Class feature subsets: exact sizes on toy layers; on a trained model, importance beats random."""
import numpy as np
import pytest

from rmt_idinit.data import DEFAULT_FASHION_MNIST_DIR
from rmt_idinit.nn.feature_subsets import (
    class_feature_subsets,
    dropped_feature_accuracy,
    layer_features,
    subspace_decomposition,
)

pytestmark = pytest.mark.torch


def test_toy_sizes_by_hand():
    # class 0: contributions (4, 2, 1, -1) -> score 6; 50% needs {0} (4 >= 3), 90% needs {0, 1} (6 >= 5.4)
    w = np.array([[4.0, 2.0, 1.0, -1.0], [0.0, 0.0, 0.0, 1.0]])
    f = np.array([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 5.0]])
    y = np.array([0, 1])
    assert class_feature_subsets(f, w, np.zeros(2), y, fraction=0.5).sizes.tolist() == [1, 1]
    cs = class_feature_subsets(f, w, np.zeros(2), y, fraction=0.9)
    assert cs.sizes.tolist() == [2, 1]
    assert cs.subsets[0].tolist() == [0, 1] and cs.subsets[1].tolist() == [3]
    assert cs.class_score.tolist() == [6.0, 5.0] and cs.basis == ["score", "score"]
    assert class_feature_subsets(f, w, np.zeros(2), y, fraction=1.0).sizes.tolist() == [2, 1]


def test_negative_score_falls_back_to_positive_mass_and_sample_mode():
    w = np.array([[1.0, -3.0], [1.0, 1.0]])
    f = np.array([[1.0, 1.0], [2.0, 1.0], [1.0, 0.0]])
    y = np.array([0, 1, 1])
    cs = class_feature_subsets(f, w, np.zeros(2), y, fraction=0.9, correct_only=False)
    assert cs.basis[0] == "positive" and cs.sizes[0] == 1
    ps = class_feature_subsets(f, w, np.zeros(2), y, fraction=0.9, mode="sample", correct_only=False)
    assert [p.tolist() for p in ps.per_sample_sizes] == [[1], [2, 1]]
    with pytest.raises(ValueError, match="fraction"):
        class_feature_subsets(f, w, np.zeros(2), y, fraction=0)
    with pytest.raises(ValueError, match="mode"):
        class_feature_subsets(f, w, np.zeros(2), y, mode="median")
    with pytest.raises(ValueError, match="shapes"):
        class_feature_subsets(f, w[:, :1], np.zeros(2), y)


def test_subspace_decomposition_numbers():
    w = np.array([[3.0, 1.0, 0.0], [0.0, 1.0, 2.0]])
    f = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    d = subspace_decomposition(w, np.zeros(2), [[0, 1], [1, 2]], f, np.array([0, 1]))
    assert d.union_size == 3 and d.shared_size == 1
    assert d.jaccard[0, 1] == pytest.approx(1 / 3)
    assert d.weight_fraction.tolist() == [1.0, 1.0]
    assert d.accuracy_full == d.accuracy_decomposed == 1.0
    assert d.as_dict()["sizes"] == [2, 2]


@pytest.mark.skipif(not DEFAULT_FASHION_MNIST_DIR.is_dir(), reason="dataset-fashion-mnist not installed")
def test_trained_model_importance_beats_random_control():
    import torch

    from rmt_idinit.data import Normalizer, load_fashion_mnist
    from rmt_idinit.nn.interpretable import InterpretableMLP, interpretable_loss

    torch.manual_seed(0)
    xtr, ytr = load_fashion_mnist(None, "train", limit=1000)
    xte, yte = load_fashion_mnist(None, "test", limit=500)
    norm = Normalizer.fit(xtr, 0.5)
    xtr, xte = torch.from_numpy(norm(xtr, dtype=np.float32)), torch.from_numpy(norm(xte, dtype=np.float32))
    ytr, yte = torch.from_numpy(ytr.astype(np.int64)), torch.from_numpy(yte.astype(np.int64))
    m = InterpretableMLP(784, 10, depth=3, image_shape=(28, 28))
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    for ep in range(3):
        for s in range(0, 1000, 50):
            opt.zero_grad()
            interpretable_loss(m, xtr[s : s + 50], ytr[s : s + 50]).backward()
            opt.step()
    ftr, w, b = layer_features(m, xtr)
    fte, _, _ = layer_features(m, xte)
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(fte @ w.T + b).float(), m(xte), rtol=1e-4, atol=1e-4)
    cs = class_feature_subsets(ftr, w, b, ytr, fraction=0.9)
    assert np.all((cs.sizes > 0) & (cs.sizes < w.shape[1]))
    curves = dropped_feature_accuracy(fte, w, b, yte, cs, n_points=12, n_random=4, rng=0)
    d = curves.as_dict()
    full = d["full_accuracy"]
    assert full > 0.7
    # Margins from the statistics: an accuracy on n test images has standard error <= 0.5/sqrt(n), so a
    # difference of two of them (importance order vs the mean of random orders) has SE <= sqrt(2/4n)
    # (0.032 at n = 500); we claim only gaps of >= 3 such SEs, where the method promises a wide one.
    n = len(yte)
    margin = 3 * np.sqrt(2 * 0.25 / n)
    # removing the most important half hurts far more than removing as many random features (the
    # last layer is redundant: random removals barely matter until half the features are gone) ...
    half = int(np.searchsorted(curves.counts, w.shape[1] // 2))
    assert curves.drop_importance[half] < curves.drop_random.mean(0)[half] - margin
    # ... and keeping only the few most important ones (<= 1% of the features) classifies far better
    # than keeping as many random ones
    few = (curves.counts >= 1) & (curves.counts <= w.shape[1] // 100)
    assert few.sum() >= 3
    assert np.all(curves.keep_importance[few] > curves.keep_random.mean(0)[few] + margin)
    assert d["keep_importance_mean_over_counts"] > d["keep_random_mean_over_counts"] + margin
    assert curves.drop_importance[-1] == curves.keep_importance[0]  # all dropped == none kept
    dec = subspace_decomposition(w, b, cs, fte, yte)
    assert dec.accuracy_decomposed > full - 0.1
    mean = dropped_feature_accuracy(fte, w, b, yte, cs, counts=[0, 50], n_random=2, ablation="mean", rng=0)
    assert mean.drop_importance[0] == full
