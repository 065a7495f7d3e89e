"""Train deep hard-tanh MLPs on Fashion-MNIST: weight drift and Jacobian spectrum vs the init law.

The paper setting (Kubota et al., ICASSP 2021): 100 hidden layers of width 784, hard-tanh,
identity initialization W = sigma I. Baselines: orthogonal and Gaussian init at the critical
hard-tanh point q* = 1/2 (sigma_w^2 = 1.18666, sigma_b^2 = 0.059635, docs/theory/random_init.md).

Tracked per model after every epoch (and at init): test accuracy, training loss, relative weight
drift per layer (Frobenius and spectral), and the eigenvalues of J J^T (float64) of the hidden
stack on a fixed probe batch of test images. At identity init the probe spectrum is predicted
exactly by ``rmt_idinit.jjt_eigenvalues`` on the probe inputs.

Checkpoints (``ckpt_<init>.pt``, torch.save, loaded with ``weights_only=True``) are written every
epoch and every ``--checkpoint-every`` steps, with the optimizer and all RNG states, so a killed
run resumes where it stopped and ends bit-identical to an uninterrupted one.

Usage::

    python -m validation.train_drift --preset quick --out reports/train_drift_quick
    python -m validation.train_drift --preset paper --epochs 3 --device cuda
    python -m validation.train_drift --out DIR --report-only    # rebuild JSON/PNG from histories
"""
from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

if __package__ in (None, ""):  # `python validation/train_drift.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "validation"

from validation._common import (  # noqa: E402
    atomic_save_fig,
    atomic_write_json,
    config_maker,
    make_optimizer,
    open_report_folder,
    preset_overrides,
    preset_parser,
    resolve_device,
    resume_training,
    seed_for,
    theory,
    train_epochs,
    TrainState,
    versions,
)

SIGMA_W2_CRIT = 1.18666  # hard-tanh, q* = 1/2 (docs/theory/random_init.md)
SIGMA_B2_CRIT = 0.059635


@dataclasses.dataclass
class Config:
    preset: str = "quick"
    out: str = "reports/train_drift_quick"
    inits: tuple = ("identity", "orthogonal", "gaussian")
    depth: int = 100
    activation: str = "hardtanh"
    sigma: float = 1.0
    q0: float = 0.5
    sigma_w2: float = SIGMA_W2_CRIT
    sigma_b2: float = SIGMA_B2_CRIT
    epochs_identity: int = 1
    epochs_baseline: int = 1
    n_train: int | None = None  # None: all 60000
    n_test: int | None = None  # None: all 10000
    batch_size: int = 100
    optimizer: str = "adam"
    lr: float = 2e-5
    seed: int = 0
    probe_size: int = 4
    jac_chunk: int = 2
    spectral_drift: bool = True
    checkpoint_every: int = 0  # steps; 0: only at the end of each epoch
    threads: int | None = 1
    device: str = "auto"  # cuda when available, else cpu
    data_dir: str | None = None
    progress: bool = True

    def epochs(self, init: str) -> int:
        return self.epochs_identity if init == "identity" else self.epochs_baseline


PRESETS: dict[str, dict[str, Any]] = {
    # CI: small subset, shallow, seconds.
    "quick": dict(depth=6, n_train=1000, n_test=500, batch_size=50, lr=1e-3, probe_size=2,
                  epochs_identity=2, epochs_baseline=1, checkpoint_every=0),
    # Paper: the full network and data set.
    "paper": dict(depth=100, n_train=None, n_test=None, batch_size=100, lr=2e-5, probe_size=4,
                  epochs_identity=3, epochs_baseline=2, checkpoint_every=200),
}


# what a checkpoint must agree on to be resumed (epochs may grow: a finished run can be extended;
# threads, device, progress, checkpoint_every and the output folder do not change the computation)
_RESUME_KEYS = ("depth", "activation", "sigma", "q0", "sigma_w2", "sigma_b2", "n_train", "batch_size",
                "optimizer", "lr", "seed")


make_config = config_maker(Config, PRESETS, "train_drift")


def load_data(cfg: Config):
    """Normalized Fashion-MNIST as float32 tensors plus the float64 probe batch."""
    import torch

    from rmt_idinit.data import Normalizer, load_fashion_mnist

    xtr, ytr = load_fashion_mnist(cfg.data_dir, "train", limit=cfg.n_train)
    xte, yte = load_fashion_mnist(cfg.data_dir, "test", limit=cfg.n_test)
    norm = Normalizer.fit(xtr, cfg.q0)
    data = {
        "xtr": torch.from_numpy(norm(xtr, dtype=np.float32)),
        "ytr": torch.from_numpy(ytr),
        "xte": torch.from_numpy(norm(xte, dtype=np.float32)),
        "yte": torch.from_numpy(yte),
        # probe in float64 *of the float32 inputs the network sees*, so the prediction is exact
        "probe": torch.from_numpy(norm(xte[: cfg.probe_size], dtype=np.float32).astype(np.float64)),
        "normalizer": dataclasses.asdict(norm),
    }
    return data


def build_model(cfg: Config, init: str):
    import torch

    from rmt_idinit.nn import IdentityMLP

    gen = torch.Generator().manual_seed(seed_for(cfg.seed, init, "init"))
    return IdentityMLP(
        784, cfg.depth, cfg.activation, sigma=cfg.sigma, n_classes=10, init=init,
        sigma_w=math.sqrt(cfg.sigma_w2), sigma_b=math.sqrt(cfg.sigma_b2), generator=gen,
    )


def _optimizer(cfg: Config, model):
    return make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)


def evaluate(cfg: Config, model, data) -> dict[str, Any]:
    """Test accuracy, drift per layer and probe spectrum of the current model."""
    import torch

    from rmt_idinit.nn import jacobian_spectra, weight_drift

    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, len(data["yte"]), 500):
            xb = data["xte"][s : s + 500].to(cfg.device)
            correct += int((model(xb).argmax(1).cpu() == data["yte"][s : s + 500]).sum())
    drift = weight_drift(model, spectral=cfg.spectral_drift) if model.init != "identity" else weight_drift(
        model, sigma=cfg.sigma, spectral=cfg.spectral_drift
    )
    spec = jacobian_spectra(model, data["probe"].to(cfg.device), chunk_size=cfg.jac_chunk).cpu().numpy()
    model.train()
    return {
        "test_accuracy": correct / len(data["yte"]),
        "drift_frobenius": drift["frobenius"],
        "drift_spectral": drift.get("spectral"),
        "spectrum": spec,
    }


def train_one(
    cfg: Config, init: str, data, out: Path, callback: Callable[[str, int, int], None] | None = None
) -> dict[str, Any]:
    """Train one model, resuming from ``out/ckpt_<init>.pt`` if present; return its history."""
    import torch
    import torch.nn.functional as F

    ckpt_path = out / f"ckpt_{init}.pt"
    model = build_model(cfg, init).to(cfg.device)
    opt = _optimizer(cfg, model)
    shuffle_gen = torch.Generator().manual_seed(seed_for(cfg.seed, init, "shuffle"))
    torch.manual_seed(seed_for(cfg.seed, init, "torch"))
    state = resume_training(ckpt_path, model, opt, shuffle_gen, cfg, _RESUME_KEYS, cfg.epochs(init))
    if state is None:
        hist: dict[str, Any] = {"epoch": [], "test_accuracy": [], "train_loss": [], "drift_frobenius": [],
                                "drift_spectral": [], "spectrum": [], "epoch_seconds": [], "eval_seconds": []}
        t0 = time.perf_counter()
        ev = evaluate(cfg, model, data)
        hist["epoch"].append(0)
        hist["train_loss"].append(float("nan"))
        for k in ("test_accuracy", "drift_frobenius", "drift_spectral", "spectrum"):
            hist[k].append(ev[k])
        hist["epoch_seconds"].append(0.0)
        hist["eval_seconds"].append(time.perf_counter() - t0)
        state = TrainState(hist=hist)
    hist = state.hist

    def end_of_epoch(ep, mean_loss, train_seconds):
        t1 = time.perf_counter()
        ev = evaluate(cfg, model, data)
        hist["epoch"].append(ep + 1)
        hist["train_loss"].append(mean_loss)
        for k in ("test_accuracy", "drift_frobenius", "drift_spectral", "spectrum"):
            hist[k].append(ev[k])
        hist["epoch_seconds"].append(train_seconds)
        hist["eval_seconds"].append(time.perf_counter() - t1)
        return (f"[train_drift] {init} epoch {ep + 1}: test acc {ev['test_accuracy']:.4f}, "
                f"median drift {np.median(ev['drift_frobenius']):.4g}, {train_seconds:.0f}s")

    return train_epochs(cfg, model, opt, data, state, epochs=cfg.epochs(init), shuffle_gen=shuffle_gen,
                        ckpt_path=ckpt_path, hist_path=out / f"history_{init}.json",
                        loss_fn=lambda m, xb, yb: F.cross_entropy(m(xb), yb), end_of_epoch=end_of_epoch,
                        desc=init, mininterval=2.0, label=f"{init}: ",
                        callback=None if callback is None else (lambda ep, s: callback(init, ep, s)))


def _spectrum_summary(spec: np.ndarray) -> dict[str, float]:
    lam = np.asarray(spec, dtype=np.float64).ravel()
    return {
        "mean": float(lam.mean()), "var": float(lam.var()), "min": float(lam.min()), "max": float(lam.max()),
        "median": float(np.median(lam)),
        "fraction_below_1e-6": float((lam < 1e-6).mean()),
        "fraction_in_0.5_2": float(((lam >= 0.5) & (lam <= 2)).mean()),
    }


def _drift_summary(d) -> dict[str, float] | None:
    if d is None:
        return None
    d = np.asarray(d, dtype=np.float64)
    return {"min": float(d.min()), "median": float(d.median() if hasattr(d, "median") else np.median(d)),
            "max": float(d.max()), "argmax_layer": int(d.argmax()) + 1}


def init_prediction(cfg: Config, data, measured0: np.ndarray) -> dict[str, Any]:
    """Identity init: measured probe spectrum vs ``rmt_idinit.jjt_eigenvalues`` on the probe inputs."""
    th = theory()
    if th is None:
        return {"available": False, "reason": "rmt_idinit.jjt_eigenvalues not importable"}
    u = data["probe"].numpy()
    pred = np.sort(th.jjt_eigenvalues(u, cfg.sigma, cfg.depth, cfg.activation), axis=-1)
    meas = np.asarray(measured0, dtype=np.float64)
    zero = pred == 0
    abs_err = float(np.abs(meas[zero]).max()) if zero.any() else 0.0
    rel = np.abs(meas[~zero] - pred[~zero]) / np.abs(pred[~zero])
    out = {"available": True, "max_relative_error_nonzero": float(rel.max()) if rel.size else 0.0,
           "max_abs_error_at_zero": abs_err, "n_zero": int(zero.sum()), "n": int(pred.size)}
    try:
        law = th.jjt_law(cfg.sigma, cfg.q0, cfg.depth, cfg.activation)
        out["gaussian_law"] = {"mean": float(law.mean()), "var": float(law.var()),
                               "alpha": float(th.alpha(cfg.sigma, cfg.q0, cfg.depth, cfg.activation))}
    except Exception as exc:  # the per-sample check above does not depend on it
        out["gaussian_law"] = {"error": repr(exc)}
    return out


def assemble_report(cfg: Config, out: Path, data=None, histories=None, wall_seconds=None) -> dict[str, Any]:
    """Build ``train_drift.json`` and the PNGs from the per-model histories in ``out``."""
    import json

    out = Path(out)
    if histories is None:
        histories = {}
        for init in cfg.inits:
            p = out / f"history_{init}.json"
            if p.exists():
                histories[init] = json.loads(p.read_text())
    if data is None:
        data = load_data(cfg)
    previous = out / "train_drift.json"
    if wall_seconds is None and previous.exists():  # --report-only keeps the training run's timing
        wall_seconds = json.loads(previous.read_text()).get("wall_seconds")
    report: dict[str, Any] = {
        "experiment": "train_drift",
        "config": dataclasses.asdict(cfg),
        "epochs_note": (f"identity trained {cfg.epochs_identity} epochs, baselines {cfg.epochs_baseline} "
                        "(CPU time budget)" if cfg.epochs_identity != cfg.epochs_baseline else "same epochs"),
        "normalizer": data["normalizer"],
        "versions": versions(),
        "wall_seconds": wall_seconds,
        "models": {},
    }
    for init, h in histories.items():
        spec = [np.asarray(s, dtype=np.float64) for s in h["spectrum"]]
        m = {
            "history": h,
            "final_test_accuracy": h["test_accuracy"][-1],
            "initial_test_accuracy": h["test_accuracy"][0],
            "drift_frobenius_final": _drift_summary(h["drift_frobenius"][-1]),
            "drift_spectral_final": _drift_summary(h["drift_spectral"][-1]),
            "spectrum_init": _spectrum_summary(spec[0]),
            "spectrum_final": _spectrum_summary(spec[-1]),
            "epochs_trained": h["epoch"][-1],
            "train_seconds": float(np.sum(h["epoch_seconds"])),
        }
        if init == "identity":
            m["init_prediction"] = init_prediction(cfg, data, spec[0])
        report["models"][init] = m
    atomic_write_json(out / "train_drift.json", report)
    plot(report, out)
    return report


def figures(report: dict[str, Any]) -> dict[str, Any]:
    """The report's figures by file name (open matplotlib Figures; :func:`plot` saves them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    models = report["models"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
    for init, m in models.items():
        h = m["history"]
        axes[0].plot(h["epoch"], h["test_accuracy"], "o-", label=init)
        # drift is exactly 0 at epoch 0, which a log axis cannot show; with fewer than three
        # measured epochs a connecting line on a log axis would read as a trend: points only
        med = [np.median(d) for d in h["drift_frobenius"][1:]]
        axes[1].plot(h["epoch"][1:], med, "o-" if len(med) >= 3 else "o", ms=7, label=init)
        axes[2].plot(np.arange(1, len(h["drift_frobenius"][-1]) + 1), h["drift_frobenius"][-1],
                     label=f"{init} (epoch {h['epoch'][-1]})")
    axes[0].set(xlabel="epoch", ylabel="test accuracy", title="Fashion-MNIST test accuracy")
    axes[1].set(xlabel="epoch", ylabel="median over layers of ||W - W0||_F / ||W0||_F", yscale="log",
                title="weight drift (one point per evaluated epoch)")
    axes[2].set(xlabel="layer l", ylabel="||W_l - W_l0||_F / ||W_l0||_F at the last epoch", yscale="log",
                title="drift per layer, final")
    for ax in axes[:2]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    out = {"accuracy_drift.png": fig}

    fig, axes = plt.subplots(1, len(models), figsize=(5 * max(len(models), 1), 4.3), squeeze=False,
                             constrained_layout=True)
    for ax, (init, m) in zip(axes[0], models.items()):
        h = m["history"]
        for e, s in zip(h["epoch"], h["spectrum"]):
            lam = np.asarray(s, dtype=np.float64).ravel()
            ax.hist(np.log10(np.maximum(lam, 1e-30)), bins=80, histtype="step", label=f"epoch {e}")
        ax.set(xlabel="log10 lambda (exact zeros at -30)", ylabel="count of eigenvalues",
               title=f"{init} init: probe spectrum")
        ax.legend(fontsize=7)
    fig.suptitle("eigenvalues of J J^T on the probe images; values below ~1e-13 x max are round-off",
                 fontsize=10)
    out["spectrum.png"] = fig
    return out


def plot(report: dict[str, Any], out: Path) -> None:
    for name, fig in figures(report).items():
        atomic_save_fig(fig, out / name)


def run(cfg: Config, callback: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Train every model in ``cfg.inits`` (resuming where checkpoints exist) and write the report."""
    cfg = dataclasses.replace(cfg, device=resolve_device(cfg.device))
    out, _ = open_report_folder(cfg, record_config=True)
    t0 = time.perf_counter()
    data = load_data(cfg)
    histories = {init: train_one(cfg, init, data, out, callback) for init in cfg.inits}
    return assemble_report(cfg, out, data, histories, wall_seconds=time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = preset_parser(__doc__.split("\n")[0], PRESETS, "train_drift")
    p.add_argument("--epochs", type=int, help="epochs for every model (overrides both below)")
    p.add_argument("--epochs-identity", type=int)
    p.add_argument("--epochs-baseline", type=int)
    p.add_argument("--inits", nargs="+", choices=["identity", "orthogonal", "gaussian"])
    p.add_argument("--depth", type=int)
    p.add_argument("--sigma", type=float)
    p.add_argument("--q0", type=float)
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--n-train", type=int)
    p.add_argument("--n-test", type=int)
    p.add_argument("--probe-size", type=int)
    p.add_argument("--checkpoint-every", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--report-only", action="store_true", help="rebuild the report from the histories in --out")
    a = p.parse_args(argv)
    e_id = a.epochs if a.epochs is not None else a.epochs_identity
    e_bl = a.epochs if a.epochs is not None else a.epochs_baseline
    cfg = make_config(
        a.preset, **preset_overrides(a), epochs_identity=e_id, epochs_baseline=e_bl,
        inits=tuple(a.inits) if a.inits else None, depth=a.depth, sigma=a.sigma, q0=a.q0, lr=a.lr,
        batch_size=a.batch_size, n_train=a.n_train, n_test=a.n_test, probe_size=a.probe_size,
        checkpoint_every=a.checkpoint_every, seed=a.seed,
    )
    if a.report_only:
        return assemble_report(cfg, Path(cfg.out))
    rep = run(cfg)
    for init, m in rep["models"].items():
        print(f"{init}: test accuracy {m['final_test_accuracy']:.4f}, drift {m['drift_frobenius_final']}")
    print(f"wrote {Path(cfg.out).resolve()}/ (train_drift.json, histories, accuracy_drift.png, spectrum.png)")
    return rep


if __name__ == "__main__":
    main()
