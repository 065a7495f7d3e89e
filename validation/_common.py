"""Shared plumbing of the validation scripts: atomic output, checkpoints, versions, threads."""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = [
    "atomic_save_fig",
    "atomic_torch_save",
    "atomic_write_json",
    "config_maker",
    "open_report_folder",
    "preset_config",
    "preset_overrides",
    "preset_parser",
    "resume_training",
    "train_epochs",
    "seed_for",
    "jsonable",
    "load_checkpoint",
    "make_optimizer",
    "resolve_device",
    "set_threads",
    "theory",
    "train_step",
    "versions",
]


def jsonable(obj: Any) -> Any:
    """Convert numpy / torch values to plain JSON types; non-finite floats become strings."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "detach"):  # torch tensor, without importing torch here
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        x = float(obj)
        return x if math.isfinite(x) else str(x)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _atomic(path: Path, write) -> None:
    from rmt_idinit.atomic import atomic_write

    atomic_write(path, write)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically."""
    from rmt_idinit.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(jsonable(obj), indent=1, allow_nan=False))


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` through a temporary file and ``os.replace``."""
    import torch

    _atomic(Path(path), lambda tmp: torch.save(obj, tmp))


def preset_config(config_cls: type, presets: dict, name: str, preset: str, **overrides: Any) -> Any:
    """``config_cls`` from a named preset, then explicit overrides (``None`` overrides are ignored);
    the report folder defaults to ``reports/<name>_<preset>``."""
    if preset not in presets:
        raise ValueError(f"preset must be one of {sorted(presets)}, got {preset!r}")
    kw = dict(presets[preset])
    kw.update({k: v for k, v in overrides.items() if v is not None})
    kw.setdefault("out", f"reports/{name}_{preset}")
    return config_cls(preset=preset, **kw)


def config_maker(config_cls: type, presets: dict, name: str):
    """The ``make_config(preset="quick", **overrides)`` of one script (see :func:`preset_config`)."""
    def make_config(preset: str = "quick", **overrides: Any) -> Any:
        """Preset values, then explicit overrides (``None`` overrides are ignored)."""
        return preset_config(config_cls, presets, name, preset, **overrides)

    return make_config


# the options every script shares, with their help; a script names the ones it takes
_COMMON_OPTIONS = {
    "threads": dict(type=int, help="torch threads (default 1)"),
    "device": dict(help="torch device, e.g. cuda"),
    "data_dir": dict(help="Fashion-MNIST folder (default: the system data set)"),
}


def preset_parser(description: str, presets: Any, name: str, *,
                  common: tuple[str, ...] = ("threads", "device", "data_dir"),
                  prog: str | None = None) -> argparse.ArgumentParser:
    """A parser with ``--preset``, ``--out``, ``--no-progress`` and the ``common`` options; the
    script adds its own. :func:`preset_overrides` turns the shared ones into config overrides."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--preset", default="quick", choices=sorted(presets))
    p.add_argument("--out", help=f"output folder (default reports/{name}_<preset>)")
    for opt in common:
        p.add_argument("--" + opt.replace("_", "-"), **_COMMON_OPTIONS[opt])
    p.add_argument("--no-progress", action="store_true")
    return p


def preset_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The config overrides of the shared options (``None``: keep the preset's value)."""
    kw = {k: getattr(args, k) for k in ("out", *_COMMON_OPTIONS) if hasattr(args, k)}
    kw["progress"] = False if args.no_progress else None
    return kw


def open_report_folder(cfg: Any, *, record_config: bool = False) -> tuple[Path, int]:
    """Create ``cfg.out`` and limit torch to ``cfg.threads``; return the folder and the thread count.

    ``record_config`` writes ``config.json`` (settings and versions) first, so that a run that is
    interrupted before its report still says what it was.
    """
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    threads = set_threads(cfg.threads)
    if record_config:
        atomic_write_json(out / "config.json", {"config": dataclasses.asdict(cfg), "versions": versions()})
    return out, threads


def seed_for(*parts: Any) -> int:
    """A 63-bit seed derived from ``parts``, stable across processes (unlike ``hash()``), so a
    resumed run regenerates the same permutations and initial weights."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little") & (2**63 - 1)


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed: unreadable, mis-structured or from other settings.
    The message names the file and what to do about it."""


_WHAT_TO_DO = "delete it to start afresh, or pass another --out"


def load_checkpoint(path: str | os.PathLike, required: tuple[str, ...] = ()) -> Any:
    """``torch.load(path, weights_only=True)``: a checkpoint can never execute code.

    A truncated, empty or otherwise unreadable file, or one that lacks a ``required`` entry,
    raises :class:`CheckpointError` naming the path (never a raw PytorchStreamReader, EOFError
    or KeyError).
    """
    import torch

    try:
        ck = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError, EOFError, UnpicklingError ...
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc}); "
                              f"{_WHAT_TO_DO}") from exc
    if required:
        missing = [k for k in required if not isinstance(ck, dict) or k not in ck]
        if missing:
            raise CheckpointError(f"checkpoint {path} is not a checkpoint of this script (missing "
                                  f"{', '.join(missing)}); {_WHAT_TO_DO}")
    return ck


def check_resumable(now: dict[str, Any], saved: Any, keys: tuple[str, ...], path: str | os.PathLike) -> None:
    """Refuse to resume a checkpoint written with other settings.

    ``keys`` are the configuration fields the checkpoint must agree on (fields such as the epoch
    count may differ: a finished run can be extended). A checkpoint without a configuration is
    refused too, since nothing shows it matches.
    """
    if not isinstance(saved, dict):
        raise CheckpointError(f"checkpoint {path} records no configuration; {_WHAT_TO_DO}")
    now = jsonable(now)
    diff = {k: (saved.get(k), now[k]) for k in keys if k in now and k in saved and saved[k] != now[k]}
    if diff:
        raise CheckpointError(f"checkpoint {path} was written with other settings (saved, now): {diff}; "
                              f"{_WHAT_TO_DO}")


def load_state(module: Any, state: Any, what: str, path: str | os.PathLike) -> None:
    """``module.load_state_dict(state)``, naming the checkpoint when shapes or keys do not match."""
    try:
        module.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - RuntimeError / KeyError / ValueError from torch
        raise CheckpointError(f"checkpoint {path}: its {what} does not fit this run ({str(exc)[:300]}); "
                              f"{_WHAT_TO_DO}") from exc


# --- the resumable training loop of interpret.py and train_drift.py -----------------------------

CHECKPOINT_KEYS = ("model", "optimizer", "epoch", "step", "loss_sum", "history", "perm", "rng", "config")


@dataclasses.dataclass
class TrainState:
    """Where a training run stands: the next (epoch, step), the running loss sum of that epoch,
    its batch permutation (None: draw one) and the history so far."""

    epoch: int = 0
    step: int = 0
    loss_sum: float = 0.0
    perm: Any = None
    hist: Any = None


def _rng_state(shuffle_gen) -> dict[str, Any]:
    import torch

    st = {"torch": torch.get_rng_state(), "shuffle": shuffle_gen.get_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _save_checkpoint(path: Path, model, opt, state: TrainState, shuffle_gen, cfg: Any) -> None:
    atomic_torch_save({
        "model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": state.epoch, "step": state.step,
        "loss_sum": state.loss_sum, "history": jsonable(state.hist), "perm": state.perm,
        "rng": _rng_state(shuffle_gen), "config": jsonable(dataclasses.asdict(cfg)),
    }, path)


def resume_training(path: Path, model, opt, shuffle_gen, cfg: Any, resume_keys: tuple[str, ...],
                    epochs: int) -> TrainState | None:
    """Restore model, optimizer, random streams and position from the checkpoint at ``path``
    (None when there is none). A checkpoint of other settings (``resume_keys``), an unreadable one
    or one whose tensors do not fit raises :class:`CheckpointError` naming the file."""
    import torch

    if not path.exists():
        return None
    ck = load_checkpoint(path, required=CHECKPOINT_KEYS)
    check_resumable(dataclasses.asdict(cfg), ck.get("config"), resume_keys, path)
    load_state(model, ck["model"], "model", path)
    load_state(opt, ck["optimizer"], "optimizer state", path)
    state = TrainState(int(ck["epoch"]), int(ck["step"]), float(ck["loss_sum"]), ck["perm"], ck["history"])
    torch.set_rng_state(ck["rng"]["torch"])
    shuffle_gen.set_state(ck["rng"]["shuffle"])
    if "cuda" in ck["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(ck["rng"]["cuda"])
    if state.epoch < epochs:  # a finished model reloaded for the report is not a resume
        state.hist.setdefault("resumed_at", []).append([state.epoch, state.step])
    return state


def train_epochs(cfg: Any, model, opt, data: dict[str, Any], state: TrainState, *, epochs: int, shuffle_gen,
                 ckpt_path: Path, hist_path: Path, loss_fn: Callable, end_of_epoch: Callable, desc: str,
                 mininterval: float, label: str = "", callback: Callable[[int, int], None] | None = None) -> Any:
    """Train from ``state`` to ``epochs`` and return the history.

    Every ``cfg.checkpoint_every`` steps and at the end of every epoch the whole state is saved
    atomically, so a run killed at any point resumes bit-identical. ``loss_fn(model, xb, yb)`` is
    the batch loss; ``end_of_epoch(epoch, mean_loss, train_seconds)`` evaluates, appends to
    ``state.hist`` and returns the line to print; ``label`` prefixes a non-finite loss error.
    """
    import torch
    from tqdm.auto import tqdm

    n = len(data["ytr"])
    steps = n // cfg.batch_size  # drop the last partial batch: every step has the same size
    model.train()
    for ep in range(state.epoch, epochs):
        if state.perm is None:
            state.perm = torch.randperm(n, generator=shuffle_gen)
        t0 = time.perf_counter()
        bar = tqdm(range(state.step, steps), total=steps, initial=state.step, desc=f"{desc} epoch {ep + 1}/{epochs}",
                   disable=not cfg.progress, mininterval=mininterval, file=sys.stderr)
        for s in bar:
            idx = state.perm[s * cfg.batch_size : (s + 1) * cfg.batch_size]
            xb, yb = data["xtr"][idx].to(cfg.device), data["ytr"][idx].to(cfg.device)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model, xb, yb)
            loss.backward()
            opt.step()
            state.loss_sum += float(loss.detach())
            if not math.isfinite(state.loss_sum):
                raise FloatingPointError(f"{label}training loss became {state.loss_sum} at epoch {ep + 1} step {s + 1}")
            if cfg.checkpoint_every and (s + 1) % cfg.checkpoint_every == 0 and s + 1 < steps:
                _save_checkpoint(ckpt_path, model, opt, TrainState(ep, s + 1, state.loss_sum, state.perm, state.hist),
                                 shuffle_gen, cfg)
            if callback is not None:
                callback(ep, s + 1)
        bar.close()
        line = end_of_epoch(ep, state.loss_sum / steps, time.perf_counter() - t0)
        state.epoch, state.step, state.loss_sum, state.perm = ep + 1, 0, 0.0, None
        _save_checkpoint(ckpt_path, model, opt, state, shuffle_gen, cfg)
        atomic_write_json(hist_path, state.hist)
        print(line, file=sys.stderr)
    atomic_write_json(hist_path, state.hist)
    return jsonable(state.hist)


def atomic_save_fig(fig, path: str | os.PathLike) -> None:
    """Save a matplotlib figure atomically (PNG) and close it."""
    import matplotlib.pyplot as plt

    from rmt_idinit.atomic import atomic_save_png

    atomic_save_png(fig, path, dpi=110)
    plt.close(fig)


def set_threads(n: int | None) -> int:
    """Limit torch to ``n`` threads (default 1) and return the count.

    One thread by default: at these sizes a second thread gains little, and on a shared or
    loaded machine OpenMP oversubscription made the quick preset 2-3x slower in our measurements.
    """
    import torch

    if n is None:
        n = 1
    torch.set_num_threads(int(n))
    return torch.get_num_threads()


def resolve_device(device: str | None) -> str:
    """``"auto"`` (or None): ``"cuda"`` when ``torch.cuda.is_available()``, else ``"cpu"``; others as given."""
    if device in (None, "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def make_optimizer(name: str, params: Any, lr: float) -> Any:
    """The validation scripts' optimizers: ``"adam"`` (torch defaults besides ``lr``) or ``"sgd"``
    (momentum 0.9).

    Adam runs its fused kernel: one pass over each parameter instead of a chain of elementwise
    ops, which is what a step of a 100-layer, 61M-parameter MLP spends besides the matmuls
    (``benchmarks/bench_training.py`` measures it against the default implementation).
    """
    import torch

    if name == "adam":
        return torch.optim.Adam(params, lr=lr, fused=True)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    raise ValueError(f"optimizer must be 'adam' or 'sgd', got {name!r}")


def train_step(model: Any, opt: Any, xb: Any, yb: Any, max_loss: float = math.inf) -> float:
    """One cross-entropy optimizer step on the batch ``(xb, yb)``; returns the batch loss.

    The loss is computed before the update; when it is not finite or exceeds ``max_loss`` the
    model is left unchanged (a diverged step never reaches the weights). Reading the loss is one
    device sync per step, which costs nothing measurable on CPU and little next to a 100-layer
    step on CUDA (``benchmarks/bench_training.py``).
    """
    import torch.nn.functional as F

    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(xb), yb)
    value = float(loss.detach())
    if math.isfinite(value) and value <= max_loss:
        loss.backward()
        opt.step()
    return value


def versions() -> dict[str, Any]:
    """Versions of everything the numbers depend on."""
    out: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "numpy": np.__version__,
    }
    for name in ("torch", "scipy", "matplotlib", "numba", "rmt_idinit"):
        try:
            mod = __import__(name)
            out[name] = getattr(mod, "__version__", "unknown")
        except Exception:  # a missing optional package is recorded, not fatal
            out[name] = None
    try:
        import subprocess

        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent, timeout=10
        ).stdout.strip()
        out["git_commit"] = rev or None
    except Exception:
        out["git_commit"] = None
    return out


def theory():
    """The theory core (``rmt_idinit`` with ``jjt_eigenvalues``/``jjt_law``/``alpha``) or ``None``.

    The scripts keep running without it (the measured side is still recorded) and say so in the
    report, so that a long training run never dies on a missing import.
    """
    try:
        import rmt_idinit

        for name in ("jjt_eigenvalues", "jjt_law", "alpha"):
            getattr(rmt_idinit, name)
        return rmt_idinit
    except Exception:
        return None
