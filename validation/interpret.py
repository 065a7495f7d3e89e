"""Layer-wise interpretation of the width N+C identity-initialized network on Fashion-MNIST.

Kubota et al. (ICASSP 2021): 100 layers of width N + C = 784 + 10, hard-tanh, W = sigma I at init,
input padded with C zeros, class scores read from the last C units of every layer. After training:

- per-layer recognition accuracy on the test set (table + curve); the last layer's equals the test
  accuracy of the model (checked and recorded);
- contribution maps x^l_{1:N} - x and x^l_{1:N} for sample test images of every class, with the
  class likelihood softmax(z^l) of those layers;
- instance-wise linearization F(x) = W_x x + b_x of the logits (exact for hard-tanh), its
  reproduction error in float64, and attribution maps W_x[k] * x;
- class feature subsets of the last layer (features x^{L-1}, weights W^L[N:, :]): subset sizes per
  class, the subspace decomposition of the last layer, and accuracy as features are dropped in
  order of importance against random-subset controls.

Checkpoints (``ckpt.pt``, loaded with ``weights_only=True``) are written every epoch and every
``--checkpoint-every`` steps, with the optimizer and RNG states, so a killed run resumes where it
stopped. The analysis is computed from the final checkpoint: ``--report-only`` rebuilds it.

Usage::

    python -m validation.interpret --preset quick --out reports/interpret_quick
    python -m validation.interpret --preset paper --epochs 6 --out runs/interpret_paper
    python -m validation.interpret --preset paper --out runs/interpret_paper --report-only
"""
from __future__ import annotations

import dataclasses
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

if __package__ in (None, ""):  # `python validation/interpret.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "validation"

from validation._common import (  # noqa: E402
    atomic_save_fig,
    atomic_write_json,
    config_maker,
    load_checkpoint,
    open_report_folder,
    preset_overrides,
    preset_parser,
    resume_training,
    seed_for,
    set_threads,
    train_epochs,
    TrainState,
    versions,
)

from rmt_idinit.data import FASHION_MNIST_CLASSES as FASHION_CLASSES


@dataclasses.dataclass
class Config:
    preset: str = "quick"
    out: str = "reports/interpret_quick"
    depth: int = 100
    activation: str = "hardtanh"
    sigma: float = 1.0
    q0: float = 0.5
    readout: str = "preact"
    logit_scale: float = 1.0
    supervision: str = "last"
    epochs: int = 1
    n_train: int | None = None  # None: all 60000
    n_test: int | None = None  # None: all 10000
    batch_size: int = 100
    optimizer: str = "adam"
    lr: float = 2e-5
    seed: int = 0
    checkpoint_every: int = 0  # steps; 0: only at the end of each epoch
    maps_per_class: int = 1
    map_layers: int = 6  # layers shown in the map grids (0 and L always included)
    n_linearize: int = 200  # test samples checked for the float64 reproduction of the logits
    linearize_chunk: int = 16
    subset_fraction: float = 0.9
    subset_fractions: tuple = (0.5, 0.9, 0.99)
    random_seeds: int = 5
    drop_points: int = 25
    threads: int | None = 1
    device: str = "cpu"
    data_dir: str | None = None
    progress: bool = True
    epochs_note: str = ""


PRESETS: dict[str, dict[str, Any]] = {
    # tests: a few layers, a few hundred samples, seconds
    "quick": dict(depth=4, n_train=600, n_test=300, batch_size=50, lr=1e-3, epochs=2, checkpoint_every=0,
                  n_linearize=50, random_seeds=3, drop_points=12),
    # paper: the full network and data set; epochs chosen from a measured epoch time (see report)
    "paper": dict(depth=100, n_train=None, n_test=None, batch_size=100, lr=2e-5, epochs=6, checkpoint_every=100,
                  maps_per_class=1),
}


make_config = config_maker(Config, PRESETS, "interpret")


def load_data(cfg: Config) -> dict[str, Any]:
    """Normalized Fashion-MNIST (float32 tensors, flattened) and the normalizer."""
    import torch

    from rmt_idinit.data import Normalizer, load_fashion_mnist

    xtr, ytr = load_fashion_mnist(cfg.data_dir, "train", limit=cfg.n_train)
    xte, yte = load_fashion_mnist(cfg.data_dir, "test", limit=cfg.n_test)
    norm = Normalizer.fit(xtr, cfg.q0)
    return {
        "xtr": torch.from_numpy(norm(xtr, dtype=np.float32)),
        "ytr": torch.from_numpy(ytr.astype(np.int64)),
        "xte": torch.from_numpy(norm(xte, dtype=np.float32)),
        "yte": torch.from_numpy(yte.astype(np.int64)),
        "normalizer": dataclasses.asdict(norm),
    }


def build_model(cfg: Config):
    from rmt_idinit.nn.interpretable import InterpretableMLP

    return InterpretableMLP(784, 10, cfg.depth, cfg.activation, sigma=cfg.sigma, readout=cfg.readout,
                            logit_scale=cfg.logit_scale, image_shape=(28, 28))


def _optimizer(cfg: Config, model):
    import torch

    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {cfg.optimizer!r}")


def _test_accuracy(cfg: Config, model, data) -> tuple[float, list[float]]:
    from rmt_idinit.nn.interpretable import layer_accuracy

    acc = layer_accuracy(model, (data["xte"], data["yte"]), batch_size=500, device=cfg.device)
    return float(acc[-1]), acc.tolist()


# what a checkpoint must agree on to be resumed (epochs may grow: a finished run can be extended)
_RESUME_KEYS = ("depth", "activation", "sigma", "q0", "readout", "logit_scale", "supervision", "n_train",
                "batch_size", "optimizer", "lr", "seed")


def train(cfg: Config, data, out: Path, callback: Callable[[int, int], None] | None = None):
    """Train (resuming from ``out/ckpt.pt``); return the model and its history."""
    import torch

    from rmt_idinit.nn.interpretable import interpretable_loss

    ckpt_path = out / "ckpt.pt"
    model = build_model(cfg).to(cfg.device)
    opt = _optimizer(cfg, model)
    shuffle_gen = torch.Generator().manual_seed(seed_for(cfg.seed, "shuffle"))
    torch.manual_seed(seed_for(cfg.seed, "torch"))
    state = resume_training(ckpt_path, model, opt, shuffle_gen, cfg, _RESUME_KEYS, cfg.epochs)
    if state is None:
        hist: dict[str, Any] = {"epoch": [], "test_accuracy": [], "layer_accuracy": [], "train_loss": [],
                                "epoch_seconds": [], "eval_seconds": []}
        t0 = time.perf_counter()
        acc, accs = _test_accuracy(cfg, model, data)
        hist["epoch"].append(0)
        hist["test_accuracy"].append(acc)
        hist["layer_accuracy"].append(accs)
        hist["train_loss"].append(float("nan"))
        hist["epoch_seconds"].append(0.0)
        hist["eval_seconds"].append(time.perf_counter() - t0)
        state = TrainState(hist=hist)
    hist = state.hist

    def end_of_epoch(ep, mean_loss, train_seconds):
        t1 = time.perf_counter()
        acc, accs = _test_accuracy(cfg, model, data)
        hist["epoch"].append(ep + 1)
        hist["test_accuracy"].append(acc)
        hist["layer_accuracy"].append(accs)
        hist["train_loss"].append(mean_loss)
        hist["epoch_seconds"].append(train_seconds)
        hist["eval_seconds"].append(time.perf_counter() - t1)
        return f"[interpret] epoch {ep + 1}: test acc {acc:.4f}, loss {mean_loss:.4f}, {train_seconds:.0f}s"

    hist = train_epochs(cfg, model, opt, data, state, epochs=cfg.epochs, shuffle_gen=shuffle_gen,
                        ckpt_path=ckpt_path, hist_path=out / "history.json",
                        loss_fn=lambda m, xb, yb: interpretable_loss(m, xb, yb, supervision=cfg.supervision),
                        end_of_epoch=end_of_epoch, desc="interpret", mininterval=5.0, callback=callback)
    model.eval()
    return model, hist


def _map_layers(cfg: Config) -> list[int]:
    k = max(cfg.map_layers, 2)
    return sorted({int(round(v)) for v in np.linspace(0, cfg.depth, k)})


def _samples(cfg: Config, data) -> np.ndarray:
    """The first ``maps_per_class`` test images of every class (indices into the test set)."""
    y = data["yte"].numpy()
    idx = []
    for c in range(10):
        idx.extend(np.flatnonzero(y == c)[: cfg.maps_per_class].tolist())
    return np.asarray(idx, dtype=np.int64)


def _small(t) -> np.ndarray:
    # maps are for looking at: 6 significant digits keep maps.json a few MB instead of tens
    a = np.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t, dtype=np.float64)
    return np.asarray([float(f"{v:.6g}") for v in a.ravel()]).reshape(a.shape)


def _guard(report: dict[str, Any], name: str, fn: Callable[[], Any]) -> Any:
    # one failing analysis must not lose the others (nor the trained model): record and go on
    try:
        return fn()
    except Exception as exc:
        report.setdefault("errors", {})[name] = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        traceback.print_exc()
        return None


def analyse(cfg: Config, model, data) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every number of the report (small) and the maps (large, written to ``maps.json``)."""
    import torch

    from rmt_idinit.nn.interpretable import class_likelihoods, contribution_maps, layer_accuracy

    rep: dict[str, Any] = {}
    maps: dict[str, Any] = {}
    xte, yte = data["xte"], data["yte"]

    def per_layer():
        acc = layer_accuracy(model, (xte, yte), batch_size=500, include_input=True)
        with torch.no_grad():
            pred = torch.cat([model(xte[s : s + 500]).argmax(1) for s in range(0, len(yte), 500)])
        model_acc = float((pred == yte).double().mean())
        return {
            "layers": list(range(cfg.depth + 1)),
            "accuracy": acc.tolist(),
            "model_test_accuracy": model_acc,
            "last_layer_equals_model": bool(acc[-1] == model_acc),
            "first_layer_reaching_99pct_of_final": int(np.argmax(acc >= 0.99 * acc[-1])),
            "table": [{"layer": int(l), "accuracy": float(acc[l])} for l in _table_layers(cfg.depth)],
        }

    rep["layer_accuracy"] = _guard(rep, "layer_accuracy", per_layer)

    idx = _samples(cfg, data)
    layers = _map_layers(cfg)

    def contrib():
        xs = xte[idx]
        delta = contribution_maps(model, xs, layers, kind="delta")
        raw = contribution_maps(model, xs, layers, kind="raw")
        lik = class_likelihoods(model, xs, include_input=True).detach()[layers]  # (layers, n, C)
        maps["contribution"] = {"samples": idx, "labels": yte[idx], "layers": layers,
                                "delta": _small(delta), "raw": _small(raw)}
        return {"samples": idx.tolist(), "labels": yte[idx].tolist(), "layers": layers,
                "likelihood": lik.permute(1, 0, 2).numpy(),  # (n, layers, C)
                "delta_abs_mean_per_layer": delta.abs().mean(dim=(0, 2, 3)).numpy()}

    rep["contribution"] = _guard(rep, "contribution", contrib)

    def linear():
        from rmt_idinit.nn.linearization import attribution_maps, linearize

        n = min(cfg.n_linearize, len(yte))
        xs = xte[:n].double()
        lin = linearize(model, xs, chunk_size=cfg.linearize_chunk, dtype=torch.float64)
        with torch.no_grad():
            ref = model.double()(xs)
            model.float()
        recon = torch.einsum("bkn,bn->bk", lin.weight, xs) + lin.bias
        rel = ((recon - ref).abs().max(1).values / ref.abs().max(1).values.clamp_min(1e-300)).numpy()
        xm = xte[idx].double()
        att = attribution_maps(model, xm, chunk_size=cfg.linearize_chunk)
        lin_m = linearize(model, xm, chunk_size=cfg.linearize_chunk, dtype=torch.float64)
        own = lin_m.weight[torch.arange(len(idx)), yte[idx]].reshape(len(idx), 28, 28)
        maps["linearization"] = {"samples": idx, "attribution": _small(att.maps), "bias": att.bias.numpy(),
                                 "weight_true_class": _small(own)}
        return {"n_checked": n, "dtype": "float64", "max_relative_error": float(rel.max()),
                "median_relative_error": float(np.median(rel)),
                "attribution_bias_share": (att.bias.abs() / (att.maps.flatten(2).sum(-1) + att.bias).abs()
                                           .clamp_min(1e-300)).numpy()}

    rep["linearization"] = _guard(rep, "linearization", linear)

    def subsets():
        from rmt_idinit.nn.feature_subsets import (class_feature_subsets, dropped_feature_accuracy,
                                                   layer_features, subspace_decomposition)

        xtr_n = min(len(data["ytr"]), 10000)
        ftr, w, b = layer_features(model, data["xtr"][:xtr_n])
        fte, _, _ = layer_features(model, xte)
        out: dict[str, Any] = {"layer": cfg.depth, "n_features": int(w.shape[1]),
                               "fit_on": f"first {xtr_n} training samples, correctly classified ones per class",
                               "evaluated_on": "test set"}
        by_frac = {}
        for frac in cfg.subset_fractions:
            cs = class_feature_subsets(ftr, w, b, data["ytr"][:xtr_n], fraction=frac)
            by_frac[str(frac)] = {"sizes": cs.sizes.tolist(), "per_sample_median_sizes": None}
        cs = class_feature_subsets(ftr, w, b, data["ytr"][:xtr_n], fraction=cfg.subset_fraction)
        ps = class_feature_subsets(ftr, w, b, data["ytr"][:xtr_n], fraction=cfg.subset_fraction, mode="sample")
        by_frac[str(cfg.subset_fraction)]["per_sample_median_sizes"] = ps.sizes.tolist()
        out["fraction"] = cfg.subset_fraction
        out["sizes_by_fraction"] = by_frac
        out["sizes"] = dict(zip(FASHION_CLASSES, cs.sizes.tolist()))
        out["subspace"] = subspace_decomposition(w, b, cs, fte, yte).as_dict()
        curve = dropped_feature_accuracy(fte, w, b, yte, cs, n_points=cfg.drop_points, n_random=cfg.random_seeds,
                                         rng=np.random.default_rng(seed_for(cfg.seed, "random-control")))
        out["curves"] = curve.as_dict()
        return out

    rep["feature_subsets"] = _guard(rep, "feature_subsets", subsets)
    return rep, maps


def _table_layers(depth: int) -> list[int]:
    base = [0, 1, 2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 99, 100]
    return sorted({l for l in base if l <= depth} | {depth})


def figures(cfg: Config, report: dict[str, Any], maps: dict[str, Any]) -> dict[str, Any]:
    """The report's figures by file name (open matplotlib Figures; :func:`plot` saves them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rmt_idinit.plotting import interpretation as ip

    figs: dict[str, Any] = {}
    la = report.get("layer_accuracy")
    if la:
        fig, ax = plt.subplots(figsize=(7, 4))
        hist = report.get("history", {})
        ip.plot_layer_accuracy(la["accuracy"], ax=ax, label=f"trained ({hist.get('epoch', [0])[-1]} epochs)",
                               include_input=True)
        if hist.get("layer_accuracy"):
            ip.plot_layer_accuracy([np.nan] + list(hist["layer_accuracy"][0]), ax=ax, label="identity init",
                                   include_input=True, style=":")
        ax.set_title(f"Fashion-MNIST test accuracy of argmax z^l, N+C network, L={cfg.depth}")
        figs["layer_accuracy.png"] = fig
    if "contribution" in maps:
        c = maps["contribution"]
        titles = [FASHION_CLASSES[int(y)] for y in np.asarray(c["labels"])]
        for kind, cmap in (("delta", "RdBu_r"), ("raw", "gray")):
            # layer 0 of the delta maps is identically 0: leave the blank column out
            sl = slice(1, None) if kind == "delta" and c["layers"][0] == 0 else slice(None)
            fig = ip.plot_map_grid(np.asarray(c[kind])[:, sl], row_labels=titles,
                                   col_labels=[f"layer {l}" for l in c["layers"][sl]], cmap=cmap,
                                   symmetric=(kind == "delta"))
            fig.suptitle(r"contribution maps $x^l_{1:N} - x$ (change from the input)" if kind == "delta"
                         else r"$x^l_{1:N}$, the input-space part of layer $l$")
            figs[f"contribution_{kind}.png"] = fig
    if "linearization" in maps and "contribution" in maps:
        c, lin = maps["contribution"], maps["linearization"]
        labels = np.asarray(c["labels"])
        att = np.asarray(lin["attribution"])  # (n, C, 28, 28)
        own = att[np.arange(len(labels)), labels]
        raw0 = np.asarray(c["raw"])[:, 0]
        cols = [raw0, np.asarray(lin["weight_true_class"]), own] if "weight_true_class" in lin else [raw0, own]
        col_labels = (["input x", "W_x[y] (template)", "W_x[y] * x"] if len(cols) == 3 else ["input x", "W_x[y] * x"])
        fig = ip.plot_map_grid(np.stack(cols, axis=1), row_labels=[FASHION_CLASSES[int(y)] for y in labels],
                               col_labels=col_labels, cmaps=["gray"] + ["RdBu_r"] * (len(cols) - 1),
                               symmetric=True, scale="panel", panel_size=1.6)  # |W_x| varies by 100x
        fig.suptitle(r"instance-wise linearization $F(x) = W_x x + b_x$, true class $y$")
        figs["linearization.png"] = fig
        fig = ip.plot_map_grid(att[0], row_labels=None, col_labels=list(FASHION_CLASSES), cmap="RdBu_r",
                               symmetric=True, ncols=5, scale="all")
        fig.suptitle(rf"attribution $W_x[k] \odot x$ of one {FASHION_CLASSES[int(labels[0])]} image for every class $k$")
        figs["attribution_all_classes.png"] = fig
    fs = report.get("feature_subsets")
    if fs:
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
        ip.plot_subset_sizes(fs["sizes_by_fraction"], class_names=FASHION_CLASSES, ax=axes[0])
        ip.plot_drop_curves(fs["curves"], ax=axes[1])
        figs["feature_subsets.png"] = fig
    return figs


def plot(cfg: Config, report: dict[str, Any], maps: dict[str, Any], out: Path) -> list[str]:
    """Write the PNGs; return their names."""
    figs = figures(cfg, report, maps)
    for name, fig in figs.items():
        atomic_save_fig(fig, out / name)
    return list(figs)


def assemble_report(cfg: Config, out: Path, model=None, data=None, hist=None,
                    wall_seconds: float | None = None) -> dict[str, Any]:
    """Analyse the trained model and write ``interpret.json``, ``maps.json`` and the PNGs."""
    import json

    out = Path(out)
    if data is None:
        data = load_data(cfg)
    if model is None:
        model = build_model(cfg)
        model.load_state_dict(load_checkpoint(out / "ckpt.pt")["model"])
        model.eval()
    if hist is None:
        hist = json.loads((out / "history.json").read_text())
    t0 = time.perf_counter()
    rep, maps = analyse(cfg, model, data)
    report: dict[str, Any] = {
        "experiment": "interpret",
        "config": dataclasses.asdict(cfg),
        "class_names": list(FASHION_CLASSES),
        "choices": {
            "readout": f"{cfg.readout}: class scores z^l = "
                       + ("pre-activation h^l of the last C units" if cfg.readout == "preact"
                          else "post-activation x^l of the last C units"),
            "logits": f"{cfg.logit_scale} * z^L",
            "loss": "cross-entropy on z^L only" if cfg.supervision == "last" else "mean cross-entropy of every z^l",
            "normalization": f"pooled mean/std, per-coordinate second moment q0 = {cfg.q0}",
            "feature_subsets": "importance = mean over correctly classified training samples of the class of "
                               "W^L[N+k, j] * x^{L-1}_j; smallest prefix (descending) carrying the fraction of "
                               "the class score minus bias; dropping = zeroing the feature in that class's score",
        },
        "normalizer": data["normalizer"],
        "versions": versions(),
        "history": hist,
        "epochs_trained": hist["epoch"][-1],
        "train_seconds": float(np.sum(hist["epoch_seconds"])),
        "wall_seconds": wall_seconds,
        **rep,
    }
    report["analysis_seconds"] = time.perf_counter() - t0
    report["figures"] = _guard(report, "plots", lambda: plot(cfg, report, maps, out))
    atomic_write_json(out / "interpret.json", report)
    atomic_write_json(out / "maps.json", maps)
    if report.get("layer_accuracy"):
        la = report["layer_accuracy"]
        lines = ["| layer | test accuracy |", "|---:|---:|"]
        lines += [f"| {r['layer']} | {r['accuracy']:.4f} |" for r in la["table"]]
        lines.append(f"\nModel test accuracy {la['model_test_accuracy']:.4f} (last layer equals it: "
                     f"{la['last_layer_equals_model']}); {report['epochs_trained']} epochs.\n")
        from rmt_idinit.atomic import atomic_write_text

        atomic_write_text(out / "layer_accuracy.md", "\n".join(lines))
    return report


def replot(out: Path) -> dict[str, Any]:
    """Redraw every PNG from the saved ``interpret.json`` and ``maps.json`` (seconds, no torch model)."""
    import json

    report = json.loads((out / "interpret.json").read_text())
    maps = json.loads((out / "maps.json").read_text())
    cfg = Config(**{k: v for k, v in report["config"].items() if k in Config.__dataclass_fields__})
    report["figures"] = plot(cfg, report, maps, out)
    atomic_write_json(out / "interpret.json", report)
    return report


def run(cfg: Config, callback: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Train (resuming where a checkpoint exists), analyse, write the report folder."""
    out, _ = open_report_folder(cfg, record_config=True)
    t0 = time.perf_counter()
    data = load_data(cfg)
    model, hist = train(cfg, data, out, callback)
    return assemble_report(cfg, out, model, data, hist, wall_seconds=time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = preset_parser(__doc__.split("\n")[0], PRESETS, "interpret")
    p.add_argument("--epochs", type=int)
    p.add_argument("--epochs-note", help="why this number of epochs (recorded in the report)")
    p.add_argument("--depth", type=int)
    p.add_argument("--sigma", type=float)
    p.add_argument("--q0", type=float)
    p.add_argument("--readout", choices=["preact", "units"])
    p.add_argument("--logit-scale", type=float)
    p.add_argument("--supervision", choices=["last", "deep"])
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--n-train", type=int)
    p.add_argument("--n-test", type=int)
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--report-only", action="store_true", help="rebuild the report from ckpt.pt in --out")
    p.add_argument("--plots-only", action="store_true",
                   help="redraw the PNGs from interpret.json and maps.json in --out (no model needed)")
    a = p.parse_args(argv)
    if a.plots_only:
        return replot(Path(a.out or make_config(a.preset).out))
    cfg = make_config(
        a.preset, **preset_overrides(a), epochs=a.epochs, epochs_note=a.epochs_note, depth=a.depth, sigma=a.sigma,
        q0=a.q0, readout=a.readout, logit_scale=a.logit_scale, supervision=a.supervision, lr=a.lr,
        batch_size=a.batch_size, n_train=a.n_train, n_test=a.n_test, checkpoint_every=a.checkpoint_every,
        seed=a.seed,
    )
    if a.report_only:
        set_threads(cfg.threads)
        rep = assemble_report(cfg, Path(cfg.out))
    else:
        rep = run(cfg)
    la = rep.get("layer_accuracy") or {}
    print(f"test accuracy {la.get('model_test_accuracy')}, errors: {rep.get('errors')}")
    print(f"wrote {Path(cfg.out).resolve()}/ (interpret.json, maps.json, layer_accuracy.md, PNGs)")
    return rep


if __name__ == "__main__":
    main()
