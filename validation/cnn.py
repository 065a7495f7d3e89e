"""Convolutional networks: Dirac-init theory, exact linearization, Captum, feature subsets, parametric t-SNE.

Sections of the report (``cnn.json`` + PNGs in ``--out``):

- ``dirac``: stacks of sigma*Dirac conv layers (every activation, Conv1d/Conv2d, kernel sizes 1/3/5,
  padding zeros/reflect/replicate/circular): torch's Jacobian is exactly diagonal and its squared
  diagonal is ``jjt_eigenvalues`` of the input coordinates; worst relative error over the cases.
- ``linearize``: F(x) = W_x x + b_x on ``n_linearize`` inputs for a max-pooling, a residual and a
  batch-norm CNN (and the trained IdentityCNNs): worst relative error against the forward pass.
- ``captum``: W_x[k] * x against Captum's InputXGradient on a bias-free ReLU CNN; Integrated
  Gradients' completeness gap (n_steps = 50) beside the exact decomposition, with times per image.
- ``feature_subsets``: IdentityCNNs of several depths trained on Fashion-MNIST (area-downsampled to
  ``side`` x ``side``); per class the number of penultimate features carrying 50% / 90% of the class
  score, the per-class subspace decomposition of the readout (accuracy, multiply-adds) and accuracy
  as the top features are dropped against random controls.
- ``tsne``: a parametric t-SNE network (conv + ReLU, 2-D output) linearized per point: the pixel maps
  W_x[axis] that move each point along each embedding axis.

Trained models are cached in ``--out/models`` (state dicts, loaded with ``weights_only=True``), so a
rerun after a kill retrains only what was not finished.

Usage::

    python -m validation.cnn --preset quick --out reports/cnn_quick
    nice -n 19 python -m validation.cnn --preset cpu --out validation/results/cnn_cpu
"""
from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # `python validation/cnn.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "validation"

from validation._common import (  # noqa: E402
    atomic_save_fig,
    atomic_torch_save,
    atomic_write_json,
    load_checkpoint,
    config_maker,
    open_report_folder,
    preset_overrides,
    preset_parser,
    seed_for,
    versions,
)

from rmt_idinit.data import FASHION_MNIST_CLASSES as FASHION_CLASSES


@dataclasses.dataclass
class Config:
    preset: str = "quick"
    out: str = "reports/cnn_quick"
    dirac_depth: int = 6
    dirac_activations: tuple | None = None  # None: every built-in activation
    dirac_kernels: tuple = (1, 3, 5)
    dirac_side: int = 5
    n_linearize: int = 100
    captum_images: int = 20
    side: int = 14  # Fashion-MNIST area-downsampled to side x side
    depths: tuple = (1, 2, 4)
    channels: int = 4
    activation: str = "hardtanh"
    sigma: float = 1.0
    q0: float = 0.5
    n_train: int = 2000
    n_test: int = 1000
    batch_size: int = 100
    steps: int = 100
    lr: float = 1e-3
    random_seeds: int = 5
    tsne_n_train: int = 1000
    tsne_steps: int = 100
    tsne_batch: int = 250
    tsne_perplexity: float = 20.0
    tsne_points: int = 500
    seed: int = 0
    threads: int | None = 1
    data_dir: str | None = None
    progress: bool = True


PRESETS: dict[str, dict[str, Any]] = {
    # tests: seconds
    "quick": dict(dirac_depth=3, dirac_activations=("hardtanh", "tanh"), dirac_kernels=(3,), n_linearize=50,
                  captum_images=5, side=7, depths=(1, 2), n_train=400, n_test=200, steps=30, random_seeds=3, tsne_n_train=300, tsne_steps=20, tsne_batch=100,
                  tsne_points=150),
    # the README numbers: minutes on 2 shared cores
    "cpu": dict(dirac_depth=10, n_linearize=1000, captum_images=50, side=14, depths=(1, 2, 4, 8), n_train=10000,
                n_test=2000, steps=600, random_seeds=10, tsne_n_train=5000, tsne_steps=600, tsne_batch=500,
                tsne_points=2000),
}


make_config = config_maker(Config, PRESETS, "cnn")


def _rel(pred, ref) -> float:
    """Worst over samples of max |pred - ref| / max |ref| (per sample)."""
    num = (pred - ref).abs().reshape(len(ref), -1).max(1).values
    den = ref.abs().reshape(len(ref), -1).max(1).values.clamp_min(1e-300)
    return float((num / den).max())


# ---- 1. Dirac theory -----------------------------------------------------------------------------------
def dirac_section(cfg: Config) -> dict[str, Any]:
    import torch
    from torch import nn

    import rmt_idinit as ri
    from rmt_idinit.nn import ACTIVATIONS, identity_, make_activation

    convs = {1: nn.Conv1d, 2: nn.Conv2d}
    rows, worst, worst_case = [], 0.0, None
    sigma, bias, depth, ch = 1.05, 0.1, cfg.dirac_depth, 2
    for act in sorted(cfg.dirac_activations or ACTIVATIONS):
        for dim in (1, 2):
            for k in cfg.dirac_kernels:
                for mode in ("zeros", "reflect", "replicate", "circular"):
                    g = torch.Generator().manual_seed(seed_for(act, dim, k, mode))
                    shape = (ch, cfg.dirac_side ** 2) if dim == 1 else (ch, cfg.dirac_side, cfg.dirac_side)
                    x = 1.2 * torch.randn(shape, generator=g, dtype=torch.float64)
                    layers = []
                    for _ in range(depth):
                        c = convs[dim](ch, ch, k, padding=k // 2, padding_mode=mode).double()
                        identity_(c.weight, sigma)
                        nn.init.constant_(c.bias, bias)
                        layers += [c, make_activation(act)]
                    net = nn.Sequential(*layers)
                    n = x.numel()
                    with torch.no_grad():  # jacrev: one vectorized backward pass for all n rows
                        J = torch.func.jacrev(lambda z: net(z.unsqueeze(0))[0])(x).reshape(n, n)
                    off = float((J - torch.diag(torch.diagonal(J))).abs().max())
                    meas = torch.diagonal(J).numpy() ** 2
                    # bias in every layer = the package's map (h^1 = sigma*u) at u + b/sigma
                    pred = ri.jjt_eigenvalues(x.numpy().ravel() + bias / sigma, sigma, depth, act, bias=bias)
                    rel = np.where(meas == pred, 0.0, np.abs(meas - pred) / np.maximum(np.abs(pred), 1e-300))
                    r = float(rel.max())
                    rows.append({"activation": act, "conv": f"Conv{dim}d", "kernel": k, "padding_mode": mode,
                                 "max_offdiagonal": off, "max_relative_error": r})
                    if r > worst:
                        worst, worst_case = r, rows[-1]
    per_mode = {m: max(r["max_offdiagonal"] for r in rows if r["padding_mode"] == m)
                for m in ("zeros", "reflect", "replicate", "circular")}
    return {"sigma": sigma, "bias": bias, "depth": depth, "channels": ch, "n_cases": len(rows),
            "worst_relative_error": worst, "worst_case": worst_case,
            "max_offdiagonal_by_padding_mode": per_mode, "all_diagonal": all(r["max_offdiagonal"] == 0 for r in rows),
            "cases": rows}


# ---- 2. linearize -------------------------------------------------------------------------------------
def linearize_section(cfg: Config) -> dict[str, Any]:
    import torch

    from rmt_idinit.nn import linearize
    from validation.cnn_models import reference_cnns

    out = {}
    for name, (model, shape) in reference_cnns(seed=seed_for(cfg.seed, "lin") % 2**31).items():
        g = torch.Generator().manual_seed(seed_for(cfg.seed, name) % 2**31)
        x = torch.randn((cfg.n_linearize,) + shape, generator=g, dtype=torch.float64)
        t0 = time.perf_counter()
        lin = linearize(model, x, chunk_size=250)
        sec = time.perf_counter() - t0
        pred = torch.einsum("bkn,bn->bk", lin.weight, x.reshape(len(x), -1)) + lin.bias
        out[name] = {"n_inputs": cfg.n_linearize, "input_shape": list(shape),
                     "worst_relative_error": _rel(pred, model(x).detach()),
                     "seconds_per_input": sec / cfg.n_linearize}
    return out


# ---- 3. Captum ----------------------------------------------------------------------------------------
def _captum_net(bias: bool, side: int):
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=bias), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1, bias=bias), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
        nn.Linear(32, 10, bias=bias),
    ).double().eval()


def captum_section(cfg: Config, images) -> dict[str, Any]:
    import torch

    from rmt_idinit.nn import linearize

    try:
        from captum.attr import InputXGradient, IntegratedGradients
    except ImportError:
        return {"skipped": "captum is not installed (pip install rmt_idinit[test])"}
    x = images[: cfg.captum_images].double()
    n = len(x)
    res: dict[str, Any] = {"n_images": n, "image_shape": list(x.shape[1:])}
    net = _captum_net(False, x.shape[-1])
    t0 = time.perf_counter()
    lin = linearize(net, x)
    res["bias_free_linearize_seconds_per_image"] = (time.perf_counter() - t0) / n
    ixg = InputXGradient(net)
    diffs, scale = [], []
    t0 = time.perf_counter()
    for k in range(10):
        theirs = ixg.attribute(x.clone().requires_grad_(True), target=k).detach().reshape(n, -1)
        ours = lin.weight[:, k] * x.reshape(n, -1)
        diffs.append(float((ours - theirs).abs().max()))
        scale.append(float(theirs.abs().max()))
    res["input_x_gradient_seconds_per_image_all_classes"] = (time.perf_counter() - t0) / n
    res["bias_free_max_abs_difference"] = max(diffs)
    res["bias_free_max_relative_difference"] = max(diffs) / max(scale)
    res["bias_free_bias_is_zero"] = bool(torch.equal(lin.bias, torch.zeros_like(lin.bias)))

    net = _captum_net(True, x.shape[-1])
    target = net(x).argmax(1)
    ar = torch.arange(n)
    fx = net(x).detach()[ar, target]
    f0 = net(torch.zeros_like(x)).detach()[0, target]
    ig = IntegratedGradients(net)
    t0 = time.perf_counter()
    att = ig.attribute(x, target=target, n_steps=50).detach().reshape(n, -1)
    t_ig = (time.perf_counter() - t0) / n
    gap = (att.sum(1) - (fx - f0)).abs()
    t0 = time.perf_counter()
    lin = linearize(net, x)
    t_lin = (time.perf_counter() - t0) / n
    ours = (lin.weight[ar, target] * x.reshape(n, -1)).sum(1) + lin.bias[ar, target]
    exact = (ours - fx).abs()
    denom = (fx - f0).abs().clamp_min(1e-300)
    res["with_bias"] = {
        "ig_n_steps": 50,
        "ig_gap_abs_median": float(gap.median()), "ig_gap_abs_max": float(gap.max()),
        "ig_gap_relative_median": float((gap / denom).median()), "ig_gap_relative_max": float((gap / denom).max()),
        "linearize_gap_abs_max": float(exact.max()),
        "linearize_gap_relative_max": float((exact / fx.abs().clamp_min(1e-300)).max()),
        "bias_share_median": float((lin.bias[ar, target].abs() / fx.abs().clamp_min(1e-300)).median()),
        "ig_seconds_per_image_one_class": t_ig,
        "linearize_seconds_per_image_all_classes": t_lin,
    }
    return res


# ---- data ---------------------------------------------------------------------------------------------
def load_data(cfg: Config) -> dict[str, Any]:
    """Fashion-MNIST normalized to q0, area-downsampled to side x side, as (n, 1, side, side) float32."""
    import torch
    import torch.nn.functional as F

    from rmt_idinit.data import Normalizer, load_fashion_mnist

    xtr, ytr = load_fashion_mnist(cfg.data_dir, "train", limit=max(cfg.n_train, cfg.tsne_n_train))
    xte, yte = load_fashion_mnist(cfg.data_dir, "test", limit=cfg.n_test)
    norm = Normalizer.fit(xtr, cfg.q0)

    def prep(x):
        t = torch.from_numpy(norm(x, dtype=np.float32)).reshape(-1, 1, 28, 28)
        return F.adaptive_avg_pool2d(t, cfg.side) if cfg.side != 28 else t

    return {"xtr": prep(xtr), "ytr": torch.from_numpy(ytr.astype(np.int64)),
            "xte": prep(xte), "yte": torch.from_numpy(yte.astype(np.int64))}


# ---- 4. feature subsets vs depth -----------------------------------------------------------------------
def _train_cnn(cfg: Config, depth: int, data, out: Path):
    import torch
    import torch.nn.functional as F
    from tqdm.auto import tqdm

    from rmt_idinit.nn import IdentityCNN

    path = out / "models" / f"identity_cnn_depth{depth}.pt"
    key = {"depth": depth, "channels": cfg.channels, "side": cfg.side, "steps": cfg.steps, "lr": cfg.lr,
           "n_train": cfg.n_train, "batch_size": cfg.batch_size, "activation": cfg.activation,
           "sigma": cfg.sigma, "seed": cfg.seed}
    g = torch.Generator().manual_seed(seed_for(cfg.seed, "cnn", depth) % 2**31)
    model = IdentityCNN(1, cfg.channels, depth, (cfg.side, cfg.side), activation=cfg.activation, sigma=cfg.sigma,
                        generator=g)
    if path.exists():
        ck = load_checkpoint(path)
        if ck.get("key") == key:
            model.load_state_dict(ck["model"])
            return model.eval(), ck["seconds"], True
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    n = cfg.n_train
    t0 = time.perf_counter()
    model.train()
    for s in tqdm(range(cfg.steps), desc=f"cnn depth {depth}", disable=not cfg.progress, mininterval=5.0,
                  file=sys.stderr):
        idx = torch.randint(0, n, (cfg.batch_size,), generator=g)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(data["xtr"][idx]), data["ytr"][idx])
        loss.backward()
        opt.step()
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"training loss became {loss.item()} at step {s + 1} (depth {depth})")
    sec = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save({"model": model.state_dict(), "key": key, "seconds": sec}, path)
    return model.eval(), sec, False


def feature_section(cfg: Config, data, out: Path) -> tuple[dict[str, Any], dict[int, Any]]:
    import torch

    from rmt_idinit.nn import class_feature_subsets, conv_features, dropped_feature_accuracy, linearize
    from rmt_idinit.nn.feature_subsets import subspace_decomposition

    res: dict[str, Any] = {"depths": list(cfg.depths), "channels": cfg.channels, "side": cfg.side,
                           "per_depth": {}}
    models = {}
    for depth in cfg.depths:
        model, sec, cached = _train_cnn(cfg, depth, data, out)
        models[depth] = model
        f, w, b = conv_features(model, data["xte"])
        y = data["yte"].numpy()
        acc = float(((f @ w.T + b).argmax(1) == y).mean())
        row: dict[str, Any] = {"train_seconds": sec, "cached": cached, "test_accuracy": acc,
                               "n_features": int(w.shape[1])}
        for frac in (0.5, 0.9):
            subs = class_feature_subsets(f, w, b, y, fraction=frac)
            row[f"sizes_{int(frac * 100)}"] = subs.sizes.tolist()
            dec = subspace_decomposition(w, b, subs, f, y)
            full_macs = int(w.shape[0] * w.shape[1])
            row[f"decomposition_{int(frac * 100)}"] = {
                "accuracy_full": dec.accuracy_full, "accuracy_decomposed": dec.accuracy_decomposed,
                "multiply_adds_full": full_macs, "multiply_adds_decomposed": int(dec.sizes.sum()),
                "multiply_adds_saved_fraction": 1 - float(dec.sizes.sum()) / full_macs,
                "union_size": dec.union_size, "shared_size": dec.shared_size}
            if frac == 0.9:
                subs90 = subs
        curves = dropped_feature_accuracy(f, w, b, y, subs90, n_points=12, n_random=cfg.random_seeds,
                                          rng=seed_for(cfg.seed, "drop", depth))
        cd = curves.as_dict()
        # margin: the random-control spread (3 sd over seeds) plus 3 binomial standard errors of an
        # accuracy on n test images (sqrt(p(1-p)/n) <= 0.5/sqrt(n)); a gap below that is not counted
        n_te = len(y)
        std = np.asarray(cd["drop_random_std"])
        margin = 3 * std + 3 * 0.5 / math.sqrt(n_te)
        gap = np.asarray(cd["drop_random_mean"]) - np.asarray(cd["drop_importance"])
        cd["margin"] = margin.tolist()
        cd["importance_drop_beats_random_beyond_margin"] = (gap > margin).tolist()
        row["drop_curves"] = cd
        with torch.no_grad():
            xs = data["xte"][: min(200, len(y))].double()
            lin = linearize(model, xs)
            pred = torch.einsum("bkn,bn->bk", lin.weight, xs.reshape(len(xs), -1)) + lin.bias
            row["linearize_worst_relative_error"] = _rel(pred, model.double()(xs))
            model.float()
        res["per_depth"][str(depth)] = row
    return res, models


# ---- 5. parametric t-SNE ------------------------------------------------------------------------------
def _tsne_p(x, perplexity: float):
    """Symmetric t-SNE affinities of a batch (binary search of each point's bandwidth)."""
    import torch

    d = torch.cdist(x, x).pow(2)
    n = len(x)
    target = math.log(perplexity)
    lo = torch.full((n, 1), 1e-20, dtype=x.dtype)
    hi = torch.full((n, 1), 1e20, dtype=x.dtype)
    beta = torch.ones((n, 1), dtype=x.dtype)
    eye = torch.eye(n, dtype=torch.bool)
    for _ in range(60):  # 60 halvings of a log-bracket of 1e40: far below any bandwidth that matters
        logits = (-d * beta).masked_fill(eye, -float("inf"))
        p = torch.softmax(logits, 1)
        ent = -(p * torch.log(p.clamp_min(1e-300))).sum(1, keepdim=True)
        too_flat = ent > target  # entropy too high: sharpen (increase beta)
        lo = torch.where(too_flat, beta, lo)
        hi = torch.where(too_flat, hi, beta)
        beta = torch.sqrt(lo * hi)
    p = (p + p.T) / (2 * n)
    return p.clamp_min(1e-12)


def tsne_net(side: int):
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
        nn.Linear(8 * (side // 2) ** 2, 64), nn.ReLU(), nn.Linear(64, 2),
    )


def tsne_section(cfg: Config, data, out: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    import torch
    from tqdm.auto import tqdm

    from rmt_idinit.nn import linearize

    torch.manual_seed(seed_for(cfg.seed, "tsne") % 2**31)
    g = torch.Generator().manual_seed(seed_for(cfg.seed, "tsne-batches") % 2**31)
    net = tsne_net(cfg.side)
    path = out / "models" / "tsne.pt"
    key = {"side": cfg.side, "steps": cfg.tsne_steps, "n": cfg.tsne_n_train, "batch": cfg.tsne_batch,
           "perplexity": cfg.tsne_perplexity, "seed": cfg.seed}
    x_all = data["xtr"][: cfg.tsne_n_train]
    losses = []
    cached = False
    if path.exists() and load_checkpoint(path).get("key") == key:
        ck = load_checkpoint(path)
        net.load_state_dict(ck["model"])
        losses, sec, cached = ck["losses"], ck["seconds"], True
    else:
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        t0 = time.perf_counter()
        # fixed batches with their affinities computed once (as in parametric t-SNE, van der Maaten 2009):
        # the bandwidth search costs ~60 softmaxes of batch^2 entries, far more than a training step
        perm = torch.randperm(len(x_all), generator=g)
        n_b = max(1, len(x_all) // cfg.tsne_batch)
        batches = [perm[i * cfg.tsne_batch : (i + 1) * cfg.tsne_batch] for i in range(n_b)]
        with torch.no_grad():
            ps = [_tsne_p(x_all[b].reshape(len(b), -1).double(), cfg.tsne_perplexity).float() for b in batches]
        for s in tqdm(range(cfg.tsne_steps), desc="parametric t-SNE", disable=not cfg.progress, mininterval=5.0,
                      file=sys.stderr):
            xb, p = x_all[batches[s % n_b]], ps[s % n_b]
            z = net(xb)
            q = 1 / (1 + torch.cdist(z, z).pow(2))
            q = q.masked_fill(torch.eye(len(z), dtype=torch.bool), 0)
            q = (q / q.sum()).clamp_min(1e-12)
            loss = (p * (p.log() - q.log())).sum()  # KL(P || Q)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sec = time.perf_counter() - t0
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_torch_save({"model": net.state_dict(), "key": key, "losses": losses, "seconds": sec}, path)
    net = net.double().eval()
    xs = data["xte"][: cfg.tsne_points].double()
    ys = data["yte"][: cfg.tsne_points]
    lin = linearize(net, xs)
    with torch.no_grad():
        z = net(xs)
    pred = torch.einsum("bkn,bn->bk", lin.weight, xs.reshape(len(xs), -1)) + lin.bias
    # 1-nearest-neighbour class agreement in the embedding: how well it keeps the classes apart
    dz = torch.cdist(z, z).fill_diagonal_(float("inf"))
    knn = float((ys[dz.argmin(1)] == ys).double().mean())
    examples = [int(torch.nonzero(ys == c)[0]) for c in (1, 5, 7, 8) if (ys == c).any()]
    rep = {"n_points": len(xs), "train_seconds": sec, "cached": cached, "kl_first": losses[0] if losses else None,
           "kl_last": losses[-1] if losses else None, "linearize_worst_relative_error": _rel(pred, z),
           "one_nn_class_agreement": knn, "examples": examples}
    maps = {"z": z.numpy(), "y": ys.numpy(), "images": xs[examples, 0].numpy(),
            "w": lin.weight[examples].reshape(len(examples), 2, cfg.side, cfg.side).numpy(),
            "bias": lin.bias[examples].numpy(), "example_z": z[examples].numpy(), "losses": losses,
            "example_labels": ys[examples].numpy()}
    return rep, maps


# ---- figures -------------------------------------------------------------------------------------------
def plot_features(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    depths = [int(d) for d in res["depths"]]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    cmap = plt.get_cmap("tab10")
    for ax, frac in zip(axes, (50, 90)):
        sizes = np.array([res["per_depth"][str(d)][f"sizes_{frac}"] for d in depths])  # (depths, C)
        for k in range(sizes.shape[1]):
            ax.plot(depths, sizes[:, k], "o-", color=cmap(k), lw=1, ms=3, label=FASHION_CLASSES[k])
        ax.set_xscale("log", base=2)
        ax.set_xticks(depths, [str(d) for d in depths])
        ax.set_xlabel("depth (conv layers)")
        ax.set_ylabel(f"features carrying {frac}% of the class score")
        nf = res["per_depth"][str(depths[0])]["n_features"]
        ax.set_title(f"{frac}% of the class score (of {nf} features)")
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    atomic_save_fig(fig, path)


def plot_drop(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    depths = [int(d) for d in res["depths"]]
    fig, axes = plt.subplots(1, len(depths), figsize=(3.3 * len(depths), 3.4), sharey=True, squeeze=False)
    for ax, d in zip(axes[0], depths):
        c = res["per_depth"][str(d)]["drop_curves"]
        m = np.asarray(c["counts"]) + 1
        mean = np.asarray(c["drop_random_mean"])
        ax.plot(m, c["drop_importance"], "o-", ms=3, color="C3", label="top-m dropped")
        ax.plot(m, mean, "s-", ms=3, color="C0", label="m random dropped")
        ax.fill_between(m, mean - np.asarray(c["margin"]), mean + np.asarray(c["margin"]), color="C0", alpha=0.2,
                        label="random ± margin")
        ax.set_xscale("log")
        ax.set_xlabel("m + 1 (features dropped per class)")
        ax.set_title(f"depth {d}")
    axes[0][0].set_ylabel("test accuracy")
    axes[0][-1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    atomic_save_fig(fig, path)


def plot_tsne(maps: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    z, y = np.asarray(maps["z"]), np.asarray(maps["y"])
    ex = len(maps["images"])
    fig = plt.figure(figsize=(13, 6.2))
    gs = fig.add_gridspec(ex, 4, width_ratios=[3.2, 1, 1, 1], wspace=0.35, hspace=0.45)
    ax = fig.add_subplot(gs[:, 0])
    cmap = plt.get_cmap("tab10")
    for k in range(10):
        sel = y == k
        ax.scatter(z[sel, 0], z[sel, 1], s=4, color=cmap(k), label=FASHION_CLASSES[k])
    ez = np.asarray(maps["example_z"])
    for i, (a, b) in enumerate(ez):
        ax.scatter([a], [b], s=90, facecolor="none", edgecolor="k", lw=1.5)
        ax.annotate(str(i + 1), (a, b), xytext=(6, 6), textcoords="offset points", fontsize=10, weight="bold")
    ax.set_xlabel("embedding axis 1")
    ax.set_ylabel("embedding axis 2")
    ax.set_title("parametric t-SNE of Fashion-MNIST test images")
    ax.legend(fontsize=7, markerscale=3, loc="upper left", bbox_to_anchor=(0.0, -0.1), ncol=5)
    w = np.asarray(maps["w"])
    for i in range(ex):
        a0 = fig.add_subplot(gs[i, 1])
        a0.imshow(np.asarray(maps["images"])[i], cmap="gray")
        a0.set_title(f"point {i + 1}: {FASHION_CLASSES[int(maps['example_labels'][i])]}", fontsize=8)
        for j in range(2):
            aj = fig.add_subplot(gs[i, 2 + j])
            v = float(np.abs(w[i, j]).max()) or 1.0
            aj.imshow(w[i, j], cmap="RdBu_r", vmin=-v, vmax=v)
            if i == 0:
                aj.set_title(f"W_x row {j + 1}: moves axis {j + 1}\n(red +, blue -)", fontsize=8)
        for a in fig.axes[-3:]:
            a.set_xticks([])
            a.set_yticks([])
    atomic_save_fig(fig, path)


def plot_attribution(model, data, path: Path) -> None:
    """Exact class-score attributions W_x[k] * x of the deepest trained IdentityCNN for sample images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from rmt_idinit.nn import linearize

    y = data["yte"]
    idx = [int(torch.nonzero(y == c)[0]) for c in (0, 1, 5, 8) if (y == c).any()]
    x = data["xte"][idx].double()
    lin = linearize(model, x)
    with torch.no_grad():
        logits = model.double()(x)
    model.float()
    pred = logits.argmax(1)
    fig, axes = plt.subplots(len(idx), 3, figsize=(7.2, 2.3 * len(idx)), squeeze=False)
    for r in range(len(idx)):
        k = int(y[idx[r]])
        att = (lin.weight[r, k] * x[r].flatten()).reshape(x.shape[-2:]).numpy()
        axes[r][0].imshow(x[r, 0].numpy(), cmap="gray")
        axes[r][0].set_title(f"{FASHION_CLASSES[k]} (pred. {FASHION_CLASSES[int(pred[r])]})", fontsize=8)
        v = float(np.abs(att).max()) or 1.0
        axes[r][1].imshow(att, cmap="RdBu_r", vmin=-v, vmax=v)
        axes[r][1].set_title(f"W_x[y] * x, sum {att.sum():+.2f}", fontsize=8)
        axes[r][2].bar([0, 1], [att.sum(), float(lin.bias[r, k])], color=["C0", "C1"])
        axes[r][2].set_xticks([0, 1], ["W_x x", "b_x"], fontsize=8)
        axes[r][2].set_title(f"true-class score {float(logits[r, k]):+.2f}", fontsize=8)
        for a in axes[r][:2]:
            a.set_xticks([])
            a.set_yticks([])
    fig.tight_layout()
    atomic_save_fig(fig, path)


# ---- driver --------------------------------------------------------------------------------------------
def _guard(report: dict[str, Any], name: str, fn) -> Any:
    t0 = time.perf_counter()
    try:
        return fn()
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # one failed section must not lose the others; the error is recorded
        import traceback

        report.setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()[-2000:]}"
        return None
    finally:
        report.setdefault("section_seconds", {})[name] = time.perf_counter() - t0


def run(cfg: Config, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """All sections; ``cnn.json`` and the PNGs in ``cfg.out`` (``data``: from :func:`load_data`, reused)."""
    out, threads = open_report_folder(cfg)
    t0 = time.perf_counter()
    rep: dict[str, Any] = {"experiment": "cnn", "config": dataclasses.asdict(cfg), "versions": versions(),
                           "threads": threads, "class_names": list(FASHION_CLASSES)}
    rep["dirac"] = _guard(rep, "dirac", lambda: dirac_section(cfg))
    rep["linearize"] = _guard(rep, "linearize", lambda: linearize_section(cfg))
    data = load_data(cfg) if data is None else data
    rep["captum"] = _guard(rep, "captum", lambda: captum_section(cfg, data["xte"]))
    got = _guard(rep, "feature_subsets", lambda: feature_section(cfg, data, out))
    figures = []
    if got is not None:
        rep["feature_subsets"], models = got
        plot_features(rep["feature_subsets"], out / "feature_subsets_vs_depth.png")
        plot_drop(rep["feature_subsets"], out / "drop_curves.png")
        plot_attribution(models[max(models)], data, out / "attribution.png")
        figures += ["feature_subsets_vs_depth.png", "drop_curves.png", "attribution.png"]
    got = _guard(rep, "tsne", lambda: tsne_section(cfg, data, out))
    if got is not None:
        rep["tsne"], maps = got
        plot_tsne(maps, out / "tsne.png")
        figures.append("tsne.png")
    rep["figures"] = figures
    rep["wall_seconds"] = time.perf_counter() - t0
    atomic_write_json(out / "cnn.json", rep)
    return rep


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = preset_parser(__doc__.split("\n")[0], PRESETS, "cnn", common=("threads", "data_dir"))
    p.add_argument("--steps", type=int, help="training steps of each IdentityCNN")
    p.add_argument("--n-linearize", type=int, help="inputs per reference CNN in the linearize check")
    a = p.parse_args(argv)
    cfg = make_config(a.preset, **preset_overrides(a), steps=a.steps, n_linearize=a.n_linearize)
    rep = run(cfg)
    print(f"wrote {Path(cfg.out) / 'cnn.json'}; errors: {sorted(rep.get('errors', {})) or 'none'}")
    return rep


if __name__ == "__main__":
    main()
