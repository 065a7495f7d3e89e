r"""Class feature subsets of a layer: which features carry each class score, and what dropping them costs.

A class-score layer is affine in its input features :math:`f \in \mathbb{R}^F`:
:math:`s_k(f) = \sum_j W_{kj} f_j + b_k`. The contribution of feature j to class k is
:math:`c_{kj} = W_{kj} f_j` (weight x activation).

Importance (``mode="mean"``, default): :math:`\bar c_{kj} = \frac{1}{|S_k|}\sum_{i \in S_k} W_{kj} f_{ij}`,
averaged over :math:`S_k`, the samples of class k that the layer classifies correctly (all samples of
class k with ``correct_only=False``, or when none is correct). Features are sorted by decreasing
:math:`\bar c_{kj}`; the class-k subset is the smallest prefix whose summed contributions reach
``fraction`` of the class score without bias, :math:`\sum_j \bar c_{kj}` (of the positive part
:math:`\sum_j \max(\bar c_{kj}, 0)` when that score is <= 0; flagged in ``basis``). Since the prefix
sums grow until the positive contributions are exhausted, the target is always reached.
``mode="sample"``: the same rule per sample :math:`i \in S_k`; ``sizes`` is then the median size, and
the order used for dropping is still the mean one.

Dropping feature j from class k (``ablation="zero"``) removes :math:`c_{kj}` from :math:`s_k` only
(``"mean"`` replaces :math:`f_j` by its mean over the data). The importance curve drops the top-m
features of each class (or keeps only them), the control drops (keeps) m random features per class,
over several seeds.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from .._core import checks as _checks

__all__ = [
    "ClassFeatureSubsets",
    "DropCurves",
    "SubspaceDecomposition",
    "class_feature_subsets",
    "dropped_feature_accuracy",
    "layer_features",
    "subspace_decomposition",
]


def _np(a: Any, dtype=np.float64) -> np.ndarray:
    if hasattr(a, "detach"):  # torch tensor, without importing torch here
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=dtype)


def _arr(name: str, a: Any, ndim: int, *, integer: bool = False) -> np.ndarray:
    """A checked, non-empty ``ndim``-D float64 (or, for labels, non-negative int64) array."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    arr = _checks.check_int(name, a, minimum=0) if integer else _checks.check_finite(name, a)
    if arr.ndim != ndim or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty {ndim}-D array, got shape {arr.shape}")
    return arr


def layer_features(
    model: Any, x: Any, layer: int | None = None, *, batch_size: int = 1000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Features, weights and biases of the class-score layer: :math:`s = f W^T + b`.

    - :class:`~rmt_idinit.nn.interpretable.InterpretableMLP`, layer l (default L): :math:`f = x^{l-1}`
      (width N+C, :math:`x^0 = (x, 0_C)`), :math:`W = W^l_{N+1:N+C,:}`, :math:`b = b^l_{N+1:N+C}`, so
      :math:`s = h^l_{N+1:N+C}` (the pre-activation scores; the ``"units"`` read-out is the
      monotone :math:`\phi(s)`; the logit scale does not change any subset or argmax).
    - :class:`~rmt_idinit.nn.IdentityMLP` (``layer=None`` only): :math:`f = x^L`, the readout.

    Returns
    -------
    (features, weight, bias) : numpy float64 arrays ``(n, F)``, ``(C, F)``, ``(C,)``

    Examples
    --------
    >>> import torch
    >>> from rmt_idinit.nn.interpretable import InterpretableMLP
    >>> f, w, b = layer_features(InterpretableMLP(4, 2, depth=3), torch.zeros(5, 4))
    >>> f.shape, w.shape, b.shape
    ((5, 6), (2, 6), (2,))
    """
    import torch

    from .interpretable import InterpretableMLP

    if not isinstance(model, InterpretableMLP) and not (hasattr(model, "hidden") and hasattr(model, "readout")):
        raise TypeError(f"model must be an InterpretableMLP or IdentityMLP, got {type(model).__name__}")
    if not isinstance(x, (torch.Tensor, np.ndarray)):
        raise TypeError(f"x must be a torch.Tensor or numpy array, got {type(x).__name__}")
    if len(x) == 0:
        raise ValueError(f"x must hold at least one sample, got shape {tuple(x.shape)}")
    batch_size = _checks.check_scalar_int("batch_size", batch_size, minimum=1)
    if layer is not None:
        layer = _checks.check_scalar_int("layer", layer, minimum=1)
    if isinstance(model, InterpretableMLP):
        L = model.depth
        l = L if layer is None else layer
        if not 1 <= l <= L:
            raise ValueError(f"layer must lie in 1..{L}, got {layer!r}")
        lin = model.layers[l - 1]
        n = model.n_inputs
        w, b = lin.weight[n:], (lin.bias[n:] if lin.bias is not None else torch.zeros(model.n_classes))
        feats = []
        with torch.no_grad():
            for s in range(0, len(x), batch_size):
                xb = torch.as_tensor(x[s : s + batch_size]).to(lin.weight.dtype)
                if l == 1:
                    feats.append(model.pad(xb))
                    continue
                for i, (xl, _) in enumerate(model.iter_layers(xb), start=1):
                    if i == l - 1:
                        feats.append(xl)
                        break
        return _np(torch.cat(feats)), _np(w), _np(b)
    if hasattr(model, "hidden") and hasattr(model, "readout"):
        if layer is not None:
            raise ValueError("IdentityMLP has class scores only at the readout: use layer=None")
        with torch.no_grad():
            f = torch.cat([model.hidden(torch.as_tensor(x[s : s + batch_size]).to(model.readout.weight.dtype))
                           for s in range(0, len(x), batch_size)])
        return _np(f), _np(model.readout.weight), _np(model.readout.bias)
    raise TypeError(f"model must be an InterpretableMLP or IdentityMLP, got {type(model).__name__}")


@dataclasses.dataclass
class ClassFeatureSubsets:
    """Per-class feature subsets (see the module docstring for the rule).

    Attributes
    ----------
    fraction, mode : the parameters used
    importance : (C, F) mean contributions :math:`\\bar c_{kj}`
    order : (C, F) features by decreasing importance (class k's subset is ``order[k, :sizes[k]]``)
    sizes : (C,) subset sizes (median of the per-sample sizes for ``mode="sample"``)
    per_sample_sizes : list of (|S_k|,) arrays, ``mode="sample"`` only
    n_samples : (C,) |S_k|
    class_score : (C,) :math:`\\sum_j \\bar c_{kj}`, the mean class score without bias
    basis : list of "score" or "positive" (the fallback when the mean score is <= 0)
    """

    fraction: float
    mode: str
    importance: np.ndarray
    order: np.ndarray
    sizes: np.ndarray
    n_samples: np.ndarray
    class_score: np.ndarray
    basis: list
    per_sample_sizes: list | None = None

    @property
    def subsets(self) -> list[np.ndarray]:
        """Feature indices of each class's subset, most important first."""
        return [self.order[k, : int(self.sizes[k])] for k in range(len(self.sizes))]

    def as_dict(self) -> dict[str, Any]:
        return {"fraction": self.fraction, "mode": self.mode, "sizes": self.sizes.tolist(),
                "n_samples": self.n_samples.tolist(), "class_score": self.class_score.tolist(),
                "basis": list(self.basis),
                "subsets": [s.tolist() for s in self.subsets]}


def _prefix_sizes(c: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Smallest prefix of each row sorted descending reaching ``fraction`` of the row's score."""
    cs = np.cumsum(-np.sort(-c, axis=-1), axis=-1)
    total = c.sum(-1)
    pos = np.clip(c, 0, None).sum(-1)
    use_score = total > 0
    target = fraction * np.where(use_score, total, pos)
    # the prefix sums rise while contributions are positive and their maximum is pos >= target,
    # so the first crossing is in the increasing part; the tolerance absorbs the sum's rounding
    hit = cs >= target[..., None] * (1 - 1e-12)
    sizes = np.argmax(hit, axis=-1) + 1
    sizes = np.where(pos > 0, sizes, 0)  # nothing positive: no subset carries the score
    return sizes, use_score


def class_feature_subsets(
    features: Any,
    weight: Any,
    bias: Any,
    labels: Any,
    *,
    fraction: float = 0.9,
    mode: str = "mean",
    correct_only: bool = True,
) -> ClassFeatureSubsets:
    r"""Smallest feature subset of each class carrying ``fraction`` of its class score.

    Parameters
    ----------
    features : (n, F) array or tensor
    weight : (C, F), bias : (C,)
        The class-score layer :math:`s = f W^T + b` (from :func:`layer_features`).
    labels : (n,) int
    fraction : float in (0, 1]
    mode : {"mean", "sample"}
        Contributions averaged over the class's samples, or one subset per sample (median size).
    correct_only : bool
        Average over correctly classified samples only (default).

    Examples
    --------
    >>> w = np.array([[3.0, 1.0, 0.0], [0.0, 1.0, 2.0]])
    >>> f = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    >>> class_feature_subsets(f, w, np.zeros(2), np.array([0, 1]), fraction=0.7).sizes   # 3/4, 2/3
    array([1, 2])
    """
    fraction = _checks.check_scalar("fraction", fraction, _checks.check_finite)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be a number in (0, 1], got {fraction!r}")
    _checks.check_choice("mode", mode, ("mean", "sample"))
    f, w, b = _arr("features", features, 2), _arr("weight", weight, 2), _arr("bias", bias, 1)
    y = _arr("labels", labels, 1, integer=True)
    C, F = w.shape
    if f.ndim != 2 or f.shape[1] != F or b.shape != (C,) or y.shape != (f.shape[0],):
        raise ValueError(f"shapes do not match: features {f.shape}, weight {w.shape}, bias {b.shape}, labels {y.shape}")
    pred = (f @ w.T + b).argmax(1)
    imp = np.zeros((C, F))
    sizes = np.zeros(C, dtype=np.int64)
    n_s = np.zeros(C, dtype=np.int64)
    per_sample = [] if mode == "sample" else None
    basis = []
    for k in range(C):
        sel = (y == k) & (pred == k) if correct_only else (y == k)
        if not sel.any():
            sel = y == k
        n_s[k] = int(sel.sum())
        if n_s[k] == 0:
            basis.append("empty")
            if per_sample is not None:
                per_sample.append(np.zeros(0, dtype=np.int64))
            continue
        imp[k] = w[k] * f[sel].mean(0)
        sz, use = _prefix_sizes(imp[k], float(fraction))
        basis.append("score" if use else "positive")
        if mode == "mean":
            sizes[k] = int(sz)
        else:
            ps, _ = _prefix_sizes(w[k] * f[sel], float(fraction))
            per_sample.append(ps)
            sizes[k] = int(np.ceil(np.median(ps)))
    order = np.argsort(-imp, axis=1, kind="stable")
    return ClassFeatureSubsets(float(fraction), mode, imp, order, sizes, n_s, imp.sum(1), basis, per_sample)


def _accuracy(f: np.ndarray, w: np.ndarray, b: np.ndarray, y: np.ndarray, mask: np.ndarray,
              fill: np.ndarray | None) -> float:
    s = f @ (mask * w).T + b
    if fill is not None:  # mean ablation: dropped features sit at their data mean
        s = s + fill @ ((1 - mask) * w).T
    return float((s.argmax(1) == y).mean())


@dataclasses.dataclass
class DropCurves:
    """Accuracy as features are dropped (or kept) per class, by importance and at random.

    ``counts[i]`` features per class; ``drop_*``: the top-m removed; ``keep_*``: only the top-m kept.
    Random controls: mean, std, min and max over ``n_random`` seeds.
    """

    counts: np.ndarray
    full_accuracy: float
    drop_importance: np.ndarray
    keep_importance: np.ndarray
    drop_random: np.ndarray  # (n_random, len(counts))
    keep_random: np.ndarray
    ablation: str

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"counts": self.counts.tolist(), "full_accuracy": self.full_accuracy,
                             "ablation": self.ablation, "n_random": int(self.drop_random.shape[0])}
        for name in ("drop", "keep"):
            imp, rnd = getattr(self, f"{name}_importance"), getattr(self, f"{name}_random")
            d[f"{name}_importance"] = imp.tolist()
            d[f"{name}_random_mean"] = rnd.mean(0).tolist()
            d[f"{name}_random_std"] = rnd.std(0, ddof=1).tolist() if len(rnd) > 1 else [0.0] * len(self.counts)
            d[f"{name}_random_min"] = rnd.min(0).tolist()
            d[f"{name}_random_max"] = rnd.max(0).tolist()
            # one number per curve: mean accuracy over the grid of counts
            d[f"{name}_importance_mean_over_counts"] = float(imp.mean())
            d[f"{name}_random_mean_over_counts"] = float(rnd.mean())
        return d


def dropped_feature_accuracy(
    features: Any,
    weight: Any,
    bias: Any,
    labels: Any,
    subsets: ClassFeatureSubsets | np.ndarray,
    *,
    counts: Sequence[int] | None = None,
    n_points: int = 25,
    n_random: int = 5,
    ablation: str = "zero",
    rng: Any = None,
) -> DropCurves:
    r"""Accuracy when each class loses its m most important features (and when it keeps only them).

    .. math::
        s_k^{(m)}(f) = b_k + \sum_{j \notin T_k(m)} W_{kj} f_j \quad(\text{drop}),\qquad
        s_k^{(m)}(f) = b_k + \sum_{j \in T_k(m)} W_{kj} f_j \quad(\text{keep}),

    with :math:`T_k(m)` the top-m features of class k (``subsets.order``) or m random ones (control).

    Parameters
    ----------
    subsets : ClassFeatureSubsets or (C, F) int array
        Importance order per class.
    counts : sequence of int, optional
        Values of m; default ``n_points`` log-spaced values in 0..F.
    n_random : int
        Random seeds of the control (>= 1).
    ablation : {"zero", "mean"}
        A dropped feature contributes nothing, or sits at its mean over ``features``.
    rng : seed or numpy Generator

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> f = rng.normal(size=(200, 6)); w = np.eye(2, 6) * 3; y = (f[:, 1] > f[:, 0]).astype(int)
    >>> c = dropped_feature_accuracy(f, w, np.zeros(2), y, class_feature_subsets(f, w, np.zeros(2), y),
    ...                              counts=[0, 1], n_random=3, rng=1)
    >>> c.full_accuracy, bool(c.drop_importance[1] < 0.6)   # without its one useful feature: a guess
    (1.0, True)
    """
    _checks.check_choice("ablation", ablation, ("zero", "mean"))
    n_random = _checks.check_scalar_int("n_random", n_random, minimum=1)
    n_points = _checks.check_scalar_int("n_points", n_points, minimum=1)
    f, w, b = _arr("features", features, 2), _arr("weight", weight, 2), _arr("bias", bias, 1)
    y = _arr("labels", labels, 1, integer=True)
    C, F = w.shape
    if f.shape[1] != F or b.shape != (C,) or y.shape != (f.shape[0],):
        raise ValueError(f"shapes do not match: features {f.shape}, weight {w.shape}, bias {b.shape}, labels {y.shape}")
    # the random feature orders are held at once: n_random x C x F int64
    _checks.check_memory(8.0 * n_random * C * F, f"n_random={n_random} (random orders of {C} x {F} features)")
    order = subsets.order if isinstance(subsets, ClassFeatureSubsets) else np.asarray(subsets, dtype=np.int64)
    if order.shape != (C, F):
        raise ValueError(f"order must have shape {(C, F)}, got {order.shape}")
    if counts is None:
        counts = np.unique(np.concatenate([[0], np.round(np.geomspace(1, F, max(n_points - 1, 1)))]).astype(int))
    counts = np.asarray(counts, dtype=np.int64)
    if counts.min() < 0 or counts.max() > F:
        raise ValueError(f"counts must lie in 0..{F}")
    fill = f.mean(0, keepdims=True) if ablation == "mean" else None
    rng = np.random.default_rng(rng)
    rank_imp = np.empty_like(order)
    np.put_along_axis(rank_imp, order, np.arange(F)[None, :].repeat(C, 0), axis=1)
    rand_ranks = [np.argsort(rng.random((C, F)), axis=1) for _ in range(n_random)]

    def curves(rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        drop, keep = [], []
        for m in counts:
            top = (rank < m).astype(np.float64)  # the m best-ranked features of each class
            drop.append(_accuracy(f, w, b, y, 1 - top, fill))
            keep.append(_accuracy(f, w, b, y, top, fill))
        return np.asarray(drop), np.asarray(keep)

    di, ki = curves(rank_imp)
    rnd = [curves(r) for r in rand_ranks]
    full = _accuracy(f, w, b, y, np.ones_like(w), None)
    return DropCurves(counts, full, di, ki, np.stack([r[0] for r in rnd]), np.stack([r[1] for r in rnd]), ablation)


@dataclasses.dataclass
class SubspaceDecomposition:
    r"""The class-score layer split into per-class pieces :math:`W^{(k)} = e_k e_k^T W P_{S_k}`.

    Attributes
    ----------
    weight_fraction : (C,) :math:`\|W_{k,S_k}\|^2 / \|W_k\|^2`
    jaccard : (C, C) :math:`|S_k \cap S_m| / |S_k \cup S_m|`
    union_size, shared_size : features in some subset / in two or more
    accuracy_full, accuracy_decomposed : accuracy with all features, and with class k's score
        restricted to its own subset (:math:`s_k = b_k + W_{k,S_k} f_{S_k}`), when data are given
    score_fraction : (C,) mean over class-k samples of the retained share of :math:`s_k - b_k`
    """

    sizes: np.ndarray
    weight_fraction: np.ndarray
    jaccard: np.ndarray
    union_size: int
    shared_size: int
    accuracy_full: float | None = None
    accuracy_decomposed: float | None = None
    score_fraction: np.ndarray | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in dataclasses.asdict(self).items()}


def subspace_decomposition(
    weight: Any,
    bias: Any,
    subsets: ClassFeatureSubsets | Sequence[Sequence[int]],
    features: Any = None,
    labels: Any = None,
) -> SubspaceDecomposition:
    r"""Decompose the class-score layer into per-class subspaces spanned by each class's feature subset.

    Examples
    --------
    >>> w = np.array([[3.0, 1.0, 0.0], [0.0, 1.0, 2.0]])
    >>> d = subspace_decomposition(w, np.zeros(2), [[0], [2, 1]])
    >>> d.weight_fraction.round(3).tolist(), float(d.jaccard[0, 1]), d.union_size
    ([0.9, 1.0], 0.0, 3)
    """
    w, b = _arr("weight", weight, 2), _arr("bias", bias, 1)
    C, F = w.shape
    if isinstance(subsets, ClassFeatureSubsets):
        subs = subsets.subsets
    elif isinstance(subsets, (str, bytes)) or not hasattr(subsets, "__len__"):
        raise TypeError(f"subsets must be a ClassFeatureSubsets or one sequence of feature indices per class, "
                        f"got {type(subsets).__name__}")
    else:
        subs = []
        for k, s in enumerate(subsets):
            idx = _checks.check_int(f"subsets[{k}]", s, minimum=0) if np.size(s) else np.zeros(0, np.int64)
            if idx.ndim != 1 or (idx.size and idx.max() >= F):
                raise ValueError(f"subsets[{k}] must be feature indices in 0..{F - 1}, got {np.asarray(s).tolist()}")
            subs.append(idx)
    if len(subs) != C:
        raise ValueError(f"need one subset per class ({C}), got {len(subs)}")
    mask = np.zeros((C, F))
    for k, s in enumerate(subs):
        mask[k, s] = 1.0
    norm2 = (w**2).sum(1)
    wf = np.where(norm2 > 0, ((mask * w) ** 2).sum(1) / np.where(norm2 > 0, norm2, 1), 0.0)
    inter = mask @ mask.T
    size = mask.sum(1)
    union = size[:, None] + size[None, :] - inter
    jac = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    count = mask.sum(0)
    out = SubspaceDecomposition(size.astype(np.int64), wf, jac, int((count > 0).sum()), int((count > 1).sum()))
    if features is not None and labels is not None:
        f, y = _np(features), _np(labels, np.int64)
        out.accuracy_full = _accuracy(f, w, b, y, np.ones_like(w), None)
        out.accuracy_decomposed = _accuracy(f, w, b, y, mask, None)
        full = f @ w.T
        kept = f @ (mask * w).T
        sf = np.full(C, np.nan)
        for k in range(C):
            sel = y == k
            if sel.any():
                den = full[sel, k]
                ok = np.abs(den) > 1e-12
                if ok.any():
                    sf[k] = float(np.mean(kept[sel, k][ok] / den[ok]))
        out.score_fraction = sf
    return out
