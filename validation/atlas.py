"""Trainability atlas: short fixed-budget training runs over (sigma, q0, depth), beside the theory.

Four panels of cells, each cell one short training run on Fashion-MNIST:

* ``ht_sigma_depth``: identity init, hard-tanh, sigma x depth at the data's own q0;
* ``ht_sigma_q0``: identity init, hard-tanh, sigma x q0 at depth ``q0_depth`` (100);
* ``tanh_sigma_depth``: identity init, tanh, sigma x depth at the data's q0;
* ``random_tanh``: Gaussian init, tanh, ``sigma_b^2 = 0.05`` (Schoenholz et al. 2017),
  sigma_w^2 x depth.

Inputs are the raw pixel values ``x / 255`` (area-downsampled by ``downsample``), so their
per-coordinate second moment is the data's own ``q0_data`` (0.2064 at 28 x 28); the q0 panel
scales them by ``sqrt(q0 / q0_data)``, which keeps the shape of the pixel distribution.

Each cell records the test accuracy after ``steps`` optimizer steps, the final training loss (mean
over the last 10% of steps), whether training diverged (non-finite loss or loss > 100), the steps
done, the wall time, the measured init spectrum of J J^T on ``probe_size`` test images (fraction
of eigenvalues below 1e-6 and below 1/kappa, median, mean), and the theory beside it:

* identity init: ``dead_fraction``, ``gradient_scale`` (the median of the law), ``isometry_loss``
  and ``is_feasible(eps, kappa)`` of :mod:`rmt_idinit.select` at the cell's (sigma, q0, depth)
  (Gaussian inputs of second moment q0); ``predicted_trainable = is_feasible``; beside it the
  signal scale ``log(q^L / q0)`` and the calibrated rule ``is_trainable`` (which the agreement
  section also recomputes from each cell's parameters, so cells stored before it existed count). The law's
  ``P(lambda < 1/k)`` and ``P(lambda > k)`` are stored for a range of k so that eps and kappa can be
  calibrated on the atlas without rerunning anything;
* random init: ``xi_c`` and ``chi1`` of :func:`rmt_idinit.random_init.meanfield.depth_scales`, ``depth/xi_c``;
  ``predicted_trainable = depth < 6 xi_c``.

Cells run as tasks on dask.distributed (a ``LocalCluster`` of single-threaded worker processes by
default, or ``--scheduler ADDRESS``). The coordinator writes every finished cell atomically to
``cells/<cell id>.json`` as soon as it arrives (strict JSON); a rerun submits only the cells whose
file is missing, so killing the coordinator or a worker loses no finished cell. Seeds come from the
cell's own parameters (:func:`validation._common.seed_for`), and each task runs torch on one thread,
so a cell's result does not depend on which worker ran it. Cells are submitted in a fixed
pseudo-random order, so a partial grid is an even sample of every panel.

At the end (or with ``--report-only``) ``atlas.json`` and the heat maps are rendered from whatever
cells are on disk; ``atlas.json`` says ``n_done`` of ``n_total`` and ``complete``.

``--study active`` runs the separate experiment on what training does to the spectrum: the
per-layer active fraction (empirical alpha^l) of a depth-100 identity hard-tanh net during training.

Usage::

    python -m validation.atlas --preset quick --out reports/atlas_quick
    nice -n 19 python -m validation.atlas --preset cpu --out validation/results/atlas_cpu --workers 2
    nice -n 10 python -m validation.atlas --preset holdout --out validation/results/atlas_holdout --workers 1
    python -m validation.atlas --preset full --device cuda --workers 1
    python -m validation.atlas --preset cpu --out validation/results/atlas_cpu --report-only
    python -m validation.atlas --study active --out validation/results/atlas_cpu/active
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

if __package__ in (None, ""):  # `python validation/atlas.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "validation"

from validation._common import (  # noqa: E402
    atomic_save_fig,
    atomic_write_json,
    jsonable,
    config_maker,
    make_optimizer,
    preset_overrides,
    preset_parser,
    seed_for,
    set_threads,
    train_step,
    versions,
)

SIGMA_B2_RANDOM = 0.05  # Schoenholz et al. 2017, tanh
CHANCE = 0.1
DIVERGED_LOSS = 100.0  # cross-entropy far above log(10) = 2.3: the run has blown up
NEAR_ZERO = 1e-6
CALIB_KAPPAS = (1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0, 1e3, 1e4, 1e6, 1e9)
DEFAULT_EPS, DEFAULT_KAPPA = 0.05, 10.0  # rmt_idinit.select's defaults
# thresholds on log(q^L / q0) scored in the (in-sample) calibration of the signal criterion
CALIB_LOG_SIGNAL = (-30.0, -25.0, -22.0, -20.0, -18.0, -16.0, -14.0, -13.0, -12.0, -11.5, -11.0, -10.5, -10.0,
                    -9.0, -8.0, -7.0, -6.0, -5.5, -5.0, -4.0, -3.0, -2.0)
CALIB_EPS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
PANELS = ("ht_sigma_depth", "ht_sigma_q0", "tanh_sigma_depth", "random_tanh")


@dataclasses.dataclass
class Config:
    preset: str = "quick"
    out: str = "reports/atlas_quick"
    downsample: int = 4            # 28 / downsample pixels per side; width = (28 / downsample)^2
    steps: int = 30
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    n_train: int | None = 2000     # None: all 60000
    n_test: int | None = 500       # None: all 10000
    probe_size: int = 1
    eps: float = 0.05
    kappa: float = 10.0
    q0_depth: int = 100
    ht_sigmas: tuple = (0.9, 1.1)
    ht_depths: tuple = (2, 4)
    q0_sigmas: tuple = (1.0,)
    q0_factors: tuple = (0.5, 2.0)   # q0 = factor * q0_data
    tanh_sigmas: tuple = (1.0,)
    tanh_depths: tuple = (2, 4)
    random_sigma_w2: tuple = (1.0, 2.0)
    random_depths: tuple = (2, 4)
    panels: tuple = PANELS
    seed: int = 0
    workers: int = 2
    scheduler: str | None = None
    device: str = "cpu"
    data_dir: str | None = None
    progress: bool = True
    report_only: bool = False
    # an atlas.json whose "trained" threshold this grid reuses (the holdout is scored against the
    # cpu grid's definition, not against its own best cell)
    reference_atlas: str | None = None
    # an atlas.json of held-out cells whose scores are copied into this agreement section
    holdout_atlas: str | None = None

    @property
    def side(self) -> int:
        if 28 % self.downsample:
            raise ValueError(f"downsample must divide 28, got {self.downsample}")
        return 28 // self.downsample

    @property
    def width(self) -> int:
        return self.side**2


_SIG_FINE = (0.8, 0.9, 0.95, 0.98, 0.99, 1.0, 1.01, 1.02, 1.05, 1.1, 1.2)
PRESETS: dict[str, dict[str, Any]] = {
    # tests: a few tiny cells (7 x 7 inputs, width 49), a second or so each
    # (the identity-tanh panel is left out: its Gaussian-law theory compiles numba kernels for
    # ~15-25 s in every fresh worker process, longer than all the quick cells together)
    "quick": dict(q0_depth=4, panels=("ht_sigma_depth", "ht_sigma_q0", "random_tanh")),
    # about an hour of 2 free cores: 14 x 14 inputs (width 196), 300 Adam steps of batch 128.
    # lr 1e-4: in 150-step trials, Gaussian tanh at sigma_w^2 = 1.75, depth 48 reached test
    # accuracy 0.096 / 0.48 / 0.74 with lr 1e-3 / 3e-4 / 1e-4, identity hard-tanh (sigma = 1,
    # depth 100) 0.76 / 0.81 with 3e-4 / 1e-4; one lr for every panel keeps them comparable.
    "cpu": dict(
        downsample=2, steps=300, batch_size=128, lr=1e-4, n_train=None, n_test=5000, probe_size=2,
        ht_sigmas=_SIG_FINE, ht_depths=(4, 10, 25, 50, 100),
        q0_sigmas=(0.98, 0.99, 0.995, 1.0, 1.005, 1.01, 1.02), q0_factors=(0.05, 0.15, 0.5, 1.0, 2.0, 5.0),
        tanh_sigmas=(0.9, 0.95, 0.98, 1.0, 1.02, 1.05, 1.1, 1.2), tanh_depths=(4, 10, 25, 50, 100),
        random_sigma_w2=(1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0), random_depths=(6, 12, 24, 48, 96, 144),
        workers=2, holdout_atlas="validation/results/atlas_holdout/atlas.json",
    ),
    # out of sample for the trainability criteria: the cpu budget at (sigma, depth) points that
    # are not in the cpu grid, chosen around the boundary the cpu grid shows (identity init fails
    # only for sigma < 1 at depth 50-100), plus one sigma > 1 column: 15 cells
    "holdout": dict(
        downsample=2, steps=300, batch_size=128, lr=1e-4, n_train=None, n_test=5000, probe_size=2,
        ht_sigmas=(0.86, 0.93, 0.97, 1.03), ht_depths=(35, 75, 150),
        tanh_sigmas=(0.96,), tanh_depths=(35, 75, 150),
        panels=("ht_sigma_depth", "tanh_sigma_depth"), workers=1,
        reference_atlas="validation/results/atlas_cpu/atlas.json",
    ),
    # paper scale (28 x 28, width 784) for a GPU or a cluster
    "full": dict(
        downsample=1, steps=2000, batch_size=128, lr=1e-4, n_train=None, n_test=None, probe_size=4,
        ht_sigmas=_SIG_FINE, ht_depths=(4, 10, 25, 50, 100, 200),
        q0_sigmas=(0.98, 0.99, 0.995, 1.0, 1.005, 1.01, 1.02),
        q0_factors=(0.02, 0.05, 0.15, 0.5, 1.0, 2.0, 5.0, 10.0),
        tanh_sigmas=(0.9, 0.95, 0.98, 1.0, 1.02, 1.05, 1.1, 1.2), tanh_depths=(4, 10, 25, 50, 100, 200),
        random_sigma_w2=(1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0),
        random_depths=(6, 12, 24, 48, 96, 192, 300), workers=1,
    ),
}


make_config = config_maker(Config, PRESETS, "atlas")


# --- data ---------------------------------------------------------------------------------

_DATA_CACHE: dict[tuple, dict[str, Any]] = {}


def _downsample(x: np.ndarray, f: int) -> np.ndarray:
    """Area (mean) downsampling of uint8 (n, 28, 28) images by an integer factor, scaled to [0, 1],
    as float32 (sums of at most 16 uint8 values are exact in float32)."""
    n, s = len(x), 28 // f
    out = np.empty((n, s * s), dtype=np.float32)
    for a in range(0, n, 10000):  # chunks keep the float temporaries small
        xc = x[a : a + 10000].astype(np.float32)
        if f > 1:
            xc = xc.reshape(-1, s, f, s, f).sum(axis=(2, 4))
        out[a : a + 10000] = xc.reshape(len(xc), -1) * np.float32(1.0 / (255.0 * f * f))
    return out


def load_data(data_dir: str | None, downsample: int, n_train: int | None, n_test: int | None,
              *, with_q0: bool = True) -> dict[str, Any]:
    """Downsampled Fashion-MNIST in [0, 1] (float32 arrays), cached per process.

    ``q0_data`` (when ``with_q0``) is the mean of ``x^2`` over all 60000 downsampled training
    images, whatever ``n_train`` is, so that it is a property of the data set and not of the
    subset. Workers do not need it (a cell carries its input scale), and skip that pass.
    """
    key = (data_dir, downsample, n_train, n_test, with_q0)
    if key not in _DATA_CACHE:
        from rmt_idinit.data import load_fashion_mnist

        xtr, ytr = load_fashion_mnist(data_dir, "train", limit=None if with_q0 else n_train)
        xte, yte = load_fashion_mnist(data_dir, "test", limit=n_test)
        xtr, xte = _downsample(xtr, downsample), _downsample(xte, downsample)
        q0_data = float(np.mean(np.square(xtr, dtype=np.float64))) if with_q0 else None
        if n_train is not None:
            xtr, ytr = xtr[:n_train], ytr[:n_train]
        _DATA_CACHE[key] = {"xtr": xtr, "ytr": ytr, "xte": xte, "yte": yte, "q0_data": q0_data}
    return _DATA_CACHE[key]


# --- the grid -----------------------------------------------------------------------------

def _train_spec(cfg: Config) -> dict[str, Any]:
    return {"downsample": cfg.downsample, "width": cfg.width, "steps": cfg.steps, "batch_size": cfg.batch_size,
            "optimizer": cfg.optimizer, "lr": cfg.lr, "n_train": cfg.n_train, "n_test": cfg.n_test,
            "probe_size": cfg.probe_size, "eps": cfg.eps, "kappa": cfg.kappa, "seed": cfg.seed}


def cell_id(cell: dict[str, Any]) -> str:
    """Readable, unique file stem: the panel and coordinates, then a hash of every parameter
    (training settings included), so a changed preset never reuses a stale cell."""
    if cell["init"] == "identity":
        coords = f"s{cell['sigma']:.6g}_q{cell['q0']:.6g}"
    else:
        coords = f"w{cell['sigma_w2']:.6g}_b{cell['sigma_b2']:.6g}"
    h = seed_for(json.dumps(cell, sort_keys=True)) % 16**8
    return f"{cell['panel']}_d{cell['depth']}_{coords}_{h:08x}"


def build_cells(cfg: Config, q0_data: float) -> list[dict[str, Any]]:
    """Every cell of the atlas, in the fixed pseudo-random submission order."""
    train = _train_spec(cfg)
    cells = []

    def add(panel, **kw):
        if panel in cfg.panels:
            cells.append({"panel": panel, **kw, "train": train})

    for s in cfg.ht_sigmas:
        for d in cfg.ht_depths:
            add("ht_sigma_depth", init="identity", activation="hardtanh", depth=int(d), sigma=float(s),
                q0=q0_data, q0_factor=1.0)
    for s in cfg.q0_sigmas:
        for f in cfg.q0_factors:
            add("ht_sigma_q0", init="identity", activation="hardtanh", depth=int(cfg.q0_depth), sigma=float(s),
                q0=float(f) * q0_data, q0_factor=float(f))
    for s in cfg.tanh_sigmas:
        for d in cfg.tanh_depths:
            add("tanh_sigma_depth", init="identity", activation="tanh", depth=int(d), sigma=float(s),
                q0=q0_data, q0_factor=1.0)
    for w in cfg.random_sigma_w2:
        for d in cfg.random_depths:
            add("random_tanh", init="gaussian", activation="tanh", depth=int(d), sigma_w2=float(w),
                sigma_b2=SIGMA_B2_RANDOM, q0=q0_data, q0_factor=1.0)
    for c in cells:
        c["q0_data"] = q0_data
        c["id"] = cell_id(c)
    ids = [c["id"] for c in cells]
    if len(set(ids)) != len(ids):
        raise ValueError("two atlas cells have the same parameters; remove duplicate grid values")
    order = np.random.default_rng(seed_for("atlas-order", cfg.seed)).permutation(len(cells))
    return [cells[i] for i in order]


# --- one cell -----------------------------------------------------------------------------

def empirical_log_lambda(u: np.ndarray, sigma: float, depth: int, activation: str) -> np.ndarray:
    """``log lambda_i = 2 sum_l log|sigma phi'(h^l(u_i))|`` per input coordinate, by running each
    coordinate's scalar layer map ``h^1 = sigma u``, ``h^(l+1) = sigma phi(h^l)`` in numpy (an
    evaluation independent of the package's kernels; ``-inf`` for a dead coordinate)."""
    h = sigma * np.asarray(u, dtype=np.float64).ravel()
    lg = np.zeros_like(h)
    with np.errstate(divide="ignore"):
        for _ in range(int(depth)):
            if activation == "hardtanh":
                # strict: torch's hard-tanh backward is 0 at |h| = 1
                lg += np.where(np.abs(h) < 1.0, math.log(sigma), -np.inf)
                h = sigma * np.clip(h, -1.0, 1.0)
            elif activation == "tanh":
                t = np.tanh(h)
                lg += math.log(sigma) + np.log1p(-t * t)
                h = sigma * t
            else:
                raise ValueError(f"activation must be 'hardtanh' or 'tanh', got {activation!r}")
    return 2.0 * lg


def _law_masses(law, ks: np.ndarray) -> tuple[list[float], list[float]]:
    """``P(lambda <= 1/k)`` and ``P(lambda > k)`` for each k."""
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        return [float(law.cdf(1.0 / k)) for k in ks], [float(law.sf(k)) for k in ks]


def _rule(low: float, high: float, eps: float) -> bool:
    """The selection rule from the law's masses: ``P(lambda < 1/kappa) <= eps`` and the median in
    ``[1/kappa, kappa]``. For hard-tanh and eps < 1/2 this is exactly ``is_feasible`` (the only
    eigenvalues are 0 and sigma^(2L)); for smooth laws it is ``is_feasible``'s definition."""
    return bool(low <= eps and low <= 0.5 and high <= 0.5)


def cell_theory(cell: dict[str, Any], inputs: np.ndarray | None = None) -> dict[str, Any]:
    """The theory's side of a cell, computed before (and independently of) training.

    ``inputs``: a sample of the (scaled) input coordinates the network will see; the same rule is
    then also evaluated on their empirical law (``jjt_law(..., inputs=)``), besides the Gaussian
    N(0, q0) law that the selection functions assume.
    """
    d = int(cell["depth"])
    eps, kappa = cell["train"]["eps"], cell["train"]["kappa"]
    if cell["init"] == "identity":
        import rmt_idinit as ri
        from rmt_idinit import select as sel

        s, q, act = cell["sigma"], cell["q0"], cell["activation"]
        ks = np.array(CALIB_KAPPAS)
        below, above = _law_masses(ri.jjt_law(s, q, d, act), ks)
        feas = bool(sel.is_feasible(s, q, d, act, eps=eps, kappa=kappa))
        emp = None
        if inputs is not None:
            ll = empirical_log_lambda(inputs, s, d, act)
            e_below = [float(np.mean(ll <= -math.log(k))) for k in ks]
            e_above = [float(np.mean(ll > math.log(k))) for k in ks]
            k_i = CALIB_KAPPAS.index(kappa) if kappa in CALIB_KAPPAS else None
            emp = {"n_coordinates": int(np.size(inputs)), "p_below_inv_kappa": e_below, "p_above_kappa": e_above,
                   "is_feasible": None if k_i is None else _rule(e_below[k_i], e_above[k_i], eps)}
        return {
            "dead_fraction": float(sel.dead_fraction(s, q, d, act, kappa=kappa)),
            "log_gradient_scale": float(sel.log_gradient_scale(s, q, d, act)),
            "gradient_scale": float(sel.gradient_scale(s, q, d, act)),
            "isometry_loss": float(sel.isometry_loss(s, q, d, act)),
            "log_signal_scale": float(sel.log_signal_scale(s, q, d, act)),
            "is_trainable": bool(sel.is_trainable(s, q, d, act)),
            "is_feasible": feas,
            "predicted_trainable": feas,
            "rule": f"is_feasible(eps={eps}, kappa={kappa})",
            "calibration": {"kappa": list(CALIB_KAPPAS), "p_below_inv_kappa": below, "p_above_kappa": above,
                            "p_zero": float(sel.dead_fraction(s, q, d, act)) if act == "hardtanh" else None},
            "empirical_inputs": emp,
        }
    from rmt_idinit.random_init import meanfield as mf

    ds = mf.depth_scales(math.sqrt(cell["sigma_w2"]), math.sqrt(cell["sigma_b2"]), cell["activation"])
    xi_c = float(ds.xi_c)
    return {
        "xi_c": xi_c, "chi1": float(ds.chi1), "q_star": float(ds.q_star), "c_star": float(ds.c_star),
        "depth_over_xi_c": d / xi_c if math.isfinite(xi_c) else 0.0,
        "predicted_trainable": bool(d < 6.0 * xi_c), "rule": "depth < 6 xi_c",
    }


def _spectrum_summary(lam: np.ndarray, kappa: float) -> dict[str, float]:
    lam = np.asarray(lam, dtype=np.float64).ravel()
    return {"fraction_near_zero": float((lam < NEAR_ZERO).mean()), "near_zero_threshold": NEAR_ZERO,
            "fraction_below_inv_kappa": float((lam < 1.0 / kappa).mean()), "median": float(np.median(lam)),
            "mean": float(lam.mean()), "n": int(lam.size)}


def _active_summary(frac: np.ndarray) -> dict[str, Any]:
    """Per-layer active fractions (hard-tanh linear region) summarized: min, the layer where it
    is reached (1-based), mean."""
    return {"min": float(frac.min()), "argmin_layer": int(frac.argmin()) + 1, "mean": float(frac.mean()),
            "last": float(frac[-1])}


def build_model(cell: dict[str, Any], width: int):
    import torch

    from rmt_idinit.nn import IdentityMLP

    gen = torch.Generator().manual_seed(seed_for(cell["id"], "init"))
    if cell["init"] == "identity":
        return IdentityMLP(width, cell["depth"], cell["activation"], sigma=cell["sigma"], init="identity",
                           generator=gen)
    return IdentityMLP(width, cell["depth"], cell["activation"], init=cell["init"],
                       sigma_w=math.sqrt(cell["sigma_w2"]), sigma_b=math.sqrt(cell["sigma_b2"]), generator=gen)


def run_cell(cell: dict[str, Any], data_dir: str | None = None, device: str = "cpu") -> dict[str, Any]:
    """Train one cell and return its record (what goes into ``cells/<id>.json``).

    Deterministic given the cell: torch runs on one thread, and the init, the batch order and
    every other random draw are seeded from the cell's parameters.
    """
    import torch

    from rmt_idinit.nn import jacobian_spectra

    t_start = time.perf_counter()
    set_threads(1)
    tr = cell["train"]
    data = load_data(data_dir, tr["downsample"], tr["n_train"], tr["n_test"], with_q0=False)
    # inputs x / 255 have second moment q0_data; the q0 panel rescales them to q0 = factor q0_data
    scale = math.sqrt(cell["q0_factor"])
    xtr = torch.from_numpy(data["xtr"]) * scale
    ytr = torch.from_numpy(data["ytr"])
    xte = torch.from_numpy(data["xte"]) * scale
    yte = torch.from_numpy(data["yte"])

    t0 = time.perf_counter()
    # the empirical input law: every coordinate of the first 256 training images, as scaled
    theory = cell_theory(cell, data["xtr"][:256].astype(np.float64) * scale if cell["init"] == "identity" else None)
    theory_seconds = time.perf_counter() - t0

    torch.manual_seed(seed_for(cell["id"], "torch"))
    model = build_model(cell, tr["width"]).to(device)
    probe = xte[: tr["probe_size"]].to(torch.float64).to(device)
    t0 = time.perf_counter()
    spec0 = jacobian_spectra(model, probe, chunk_size=1).cpu().numpy()
    measured_init = _spectrum_summary(spec0, tr["kappa"])
    spectrum_seconds = time.perf_counter() - t0
    active0 = (_active_summary(active_fractions(model, xte[:500].to(device)))
               if cell["activation"] == "hardtanh" else None)

    opt = make_optimizer(tr["optimizer"], model.parameters(), tr["lr"])
    gen = torch.Generator().manual_seed(seed_for(cell["id"], "shuffle"))
    n, bs = len(ytr), tr["batch_size"]
    per_epoch = n // bs
    losses: list[float] = []
    diverged, perm = False, None
    t0 = time.perf_counter()
    model.train()
    for step in range(tr["steps"]):
        k = step % per_epoch
        if k == 0:
            perm = torch.randperm(n, generator=gen)
        idx = perm[k * bs : (k + 1) * bs]
        xb, yb = xtr[idx].to(device), ytr[idx].to(device)
        lv = train_step(model, opt, xb, yb, max_loss=DIVERGED_LOSS)  # a diverged step leaves the model as it was
        losses.append(lv)
        if not math.isfinite(lv) or lv > DIVERGED_LOSS:
            diverged = True
            break
    train_seconds = time.perf_counter() - t0

    model.eval()
    measured_final = None
    if not diverged:
        measured_final = _spectrum_summary(jacobian_spectra(model, probe, chunk_size=1).cpu().numpy(), tr["kappa"])
    active = None
    if cell["activation"] == "hardtanh":
        active = {"init": active0, "final": _active_summary(active_fractions(model, xte[:500].to(device)))}
    correct = 0
    with torch.no_grad():
        for s in range(0, len(yte), 1000):
            logits = torch.nan_to_num(model(xte[s : s + 1000].to(device)), nan=0.0)
            correct += int((logits.argmax(1).cpu() == yte[s : s + 1000]).sum())
    tail = [v for v in losses[-max(1, len(losses) // 10):] if math.isfinite(v)]
    keep = {k: v for k, v in cell.items() if k != "train"}
    return jsonable({
        **keep,
        "test_accuracy": correct / len(yte),
        "final_train_loss": float(np.mean(tail)) if tail else None,
        "diverged": diverged,
        "steps_done": len(losses) - (1 if diverged else 0),
        "predicted_trainable": theory["predicted_trainable"],
        "theory": theory,
        "measured_init_spectrum": measured_init,
        "measured_final_spectrum": measured_final,
        "active_fraction": active,
        "seconds": {"total": time.perf_counter() - t_start, "train": train_seconds, "theory": theory_seconds,
                    "init_spectrum": spectrum_seconds},
        "train": tr,
        "torch_threads": torch.get_num_threads(),
    })


def _strict_dump(obj: Any) -> str:
    return json.dumps(jsonable(obj), indent=1, allow_nan=False)


def write_cell(cells_dir: Path, record: dict[str, Any]) -> Path:
    path = cells_dir / f"{record['id']}.json"
    atomic_write_json(path, record)
    return path


def read_cells(cells_dir: Path, wanted: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Finished cells on disk (a file that does not parse is ignored, so it is recomputed)."""
    out = {}
    wanted = None if wanted is None else set(wanted)
    for p in sorted(Path(cells_dir).glob("*.json")):
        if wanted is not None and p.stem not in wanted:
            continue
        try:
            rec = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if rec.get("id") == p.stem:
            out[p.stem] = rec
    return out


def _clean_tmp(cells_dir: Path) -> int:
    """Remove temporary files that a kill during an atomic write left behind."""
    n = 0
    for p in Path(cells_dir).glob(".*.tmp"):
        try:
            p.unlink()
            n += 1
        except OSError:
            pass
    return n


# --- coordinator --------------------------------------------------------------------------

def _client(cfg: Config):
    """A dask client: the given scheduler, or a LocalCluster of single-threaded processes."""
    import logging

    from dask.distributed import Client, LocalCluster

    if cfg.scheduler:
        return Client(cfg.scheduler), None
    # worker processes inherit the environment: one BLAS/OpenMP thread each
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    cluster = LocalCluster(n_workers=cfg.workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                           silence_logs=logging.ERROR)
    return Client(cluster), cluster


def run(cfg: Config) -> dict[str, Any]:
    """Run every missing cell, then render ``atlas.json`` and the heat maps."""
    from tqdm.auto import tqdm

    out = Path(cfg.out)
    cells_dir = out / "cells"
    cells_dir.mkdir(parents=True, exist_ok=True)
    _clean_tmp(cells_dir)
    q0_data = load_data(cfg.data_dir, cfg.downsample, cfg.n_train, cfg.n_test)["q0_data"]
    cells = build_cells(cfg, q0_data)
    done = read_cells(cells_dir, [c["id"] for c in cells])
    todo = [c for c in cells if c["id"] not in done]
    print(f"[atlas] {len(cells)} cells, {len(done)} already finished in {cells_dir}, {len(todo)} to run",
          file=sys.stderr)
    failed: list[str] = []
    if todo and not cfg.report_only:
        from dask.distributed import as_completed

        # import by module name so that workers unpickle the function by reference even when
        # this file runs as __main__
        from validation.atlas import run_cell as task

        client, cluster = _client(cfg)
        try:
            futures = [client.submit(task, c, cfg.data_dir, cfg.device, key=f"atlas-{c['id']}",
                                     priority=len(todo) - i) for i, c in enumerate(todo)]
            bar = tqdm(total=len(cells), initial=len(done), desc="atlas cells", unit="cell",
                       disable=not cfg.progress, file=sys.stderr)
            for fut in as_completed(futures):
                try:
                    rec = fut.result()
                except Exception as exc:  # one broken cell must not cost the others
                    failed.append(f"{fut.key}: {exc!r}")
                    print(f"[atlas] cell {fut.key} failed: {exc!r}", file=sys.stderr)
                    continue
                write_cell(cells_dir, rec)
                done[rec["id"]] = rec
                bar.update(1)
                bar.set_postfix_str(f"{rec['id'][:40]} acc {rec['test_accuracy']:.3f}")
            bar.close()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    report = assemble_report(cfg, out, cells, done)
    report["failed"] = failed
    atomic_write_json(out / "atlas.json", report)
    print(f"[atlas] wrote {out / 'atlas.json'} ({report['n_done']}/{report['n_total']} cells) and "
          f"{len(report['figures'])} PNGs in {out}", file=sys.stderr)
    return report


# --- report -------------------------------------------------------------------------------

def _num(x: Any) -> float:
    """A stored number back to float (non-finite values were stored as strings)."""
    if x is None:
        return float("nan")
    return float(x)


def trained_threshold(accuracies: Iterable[float]) -> float:
    """Halfway between chance (0.1) and the best cell: a cell "trained" when it reaches it."""
    acc = [a for a in accuracies if math.isfinite(a)]
    return 0.5 * (CHANCE + max(acc)) if acc else float("nan")


def balanced_accuracy(pred: Iterable[bool], truth: Iterable[bool]) -> dict[str, Any]:
    """Mean of the true-positive and true-negative rates (None where a class is absent)."""
    p, t = np.asarray(list(pred), bool), np.asarray(list(truth), bool)
    tp, tn = int((p & t).sum()), int((~p & ~t).sum())
    fp, fn = int((p & ~t).sum()), int((~p & t).sum())
    tpr = tp / (tp + fn) if tp + fn else None
    tnr = tn / (tn + fp) if tn + fp else None
    rates = [r for r in (tpr, tnr) if r is not None]
    return {"balanced_accuracy": float(np.mean(rates)) if len(rates) == 2 else None,
            "true_positive_rate": tpr, "true_negative_rate": tnr, "tp": tp, "tn": tn, "fp": fp, "fn": fn,
            "n": int(p.size)}


def _spearman(x: list[float], y: list[float]) -> dict[str, Any]:
    from scipy import stats

    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = ~np.isnan(x) & ~np.isnan(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return {"spearman": None, "p_value": None, "n": int(ok.sum())}
    r = stats.spearmanr(x[ok], y[ok])  # ranks: infinite losses rank last, as they should
    return {"spearman": float(r.statistic), "p_value": float(r.pvalue), "n": int(ok.sum())}


def _calibrated_prediction(rec: dict[str, Any], eps: float, kappa: float, law: str = "gaussian") -> bool | None:
    """The selection rule at ``(eps, kappa)`` for an identity cell, from its stored law masses
    (``law``: "gaussian" for N(0, q0) inputs, "empirical" for the data's own input law)."""
    th = rec["theory"]
    cal = th.get("calibration") if law == "gaussian" else th.get("empirical_inputs")
    if not cal or kappa not in CALIB_KAPPAS:
        return None
    i = CALIB_KAPPAS.index(kappa)
    return _rule(_num(cal["p_below_inv_kappa"][i]), _num(cal["p_above_kappa"][i]), eps)


def criteria_scores(records: list[dict[str, Any]], trained: dict[str, bool]) -> dict[str, Any]:
    """Both trainability rules on the identity cells, recomputed from each cell's parameters:
    the isometry rule ``is_feasible`` at the defaults (what ``predicted_trainable`` stores) and the
    signal rule ``is_trainable`` (``log(q^L / q0) >= MIN_LOG_SIGNAL``), with the threshold scan
    of the signal rule (in sample wherever these are the cells it was calibrated on)."""
    from rmt_idinit import select as sel

    idr = [r for r in records if r["init"] == "identity"]
    if not idr:
        return {}
    truth = [trained[r["id"]] for r in idr]
    log_sig = [float(sel.log_signal_scale(r["sigma"], r["q0"], r["depth"], r["activation"])) for r in idr]
    iso = [bool(sel.is_feasible(r["sigma"], r["q0"], r["depth"], r["activation"], eps=DEFAULT_EPS,
                                kappa=DEFAULT_KAPPA)) for r in idr]
    sig = [ls >= sel.MIN_LOG_SIGNAL for ls in log_sig]
    out: dict[str, Any] = {
        "isometry": {"rule": f"is_feasible(eps={DEFAULT_EPS}, kappa={DEFAULT_KAPPA:g})", **balanced_accuracy(iso, truth)},
        "signal": {"rule": f"is_trainable: log(q^L / q0) >= {sel.MIN_LOG_SIGNAL:g}", **balanced_accuracy(sig, truth)},
        "per_activation": {},
        "signal_threshold_scan": [
            {"min_log_signal": t, **{k: v for k, v in balanced_accuracy([ls >= t for ls in log_sig], truth).items()
                                     if k in ("balanced_accuracy", "tp", "tn", "fp", "fn")}}
            for t in CALIB_LOG_SIGNAL],
        "misclassified_by_signal": [
            {"panel": r["panel"], "sigma": r["sigma"], "q0": r["q0"], "depth": r["depth"],
             "test_accuracy": r["test_accuracy"], "log_signal_scale": ls, "trained": t}
            for r, ls, p, t in zip(idr, log_sig, sig, truth) if p != t],
    }
    for act in sorted({r["activation"] for r in idr}):
        at = [i for i, r in enumerate(idr) if r["activation"] == act]
        out["per_activation"][act] = {
            "isometry": balanced_accuracy([iso[i] for i in at], [truth[i] for i in at]),
            "signal": balanced_accuracy([sig[i] for i in at], [truth[i] for i in at])}
    return out


def agreement(records: list[dict[str, Any]], threshold: float | None = None,
              threshold_source: str | None = None) -> dict[str, Any]:
    """Balanced accuracy of ``predicted_trainable`` against "trained", per panel and pooled;
    Spearman of isometry loss vs accuracy; eps/kappa calibrated on the identity cells; both
    trainability rules side by side (:func:`criteria_scores`). ``threshold``: the accuracy that
    counts as trained (default: halfway between chance and this atlas's best cell)."""
    acc = [_num(r["test_accuracy"]) for r in records]
    thr = trained_threshold(acc) if threshold is None else float(threshold)
    trained = {r["id"]: bool(_num(r["test_accuracy"]) >= thr) for r in records}
    definition = ("test_accuracy >= threshold, threshold = (0.1 + best cell's accuracy) / 2, "
                  "halfway between chance and the best cell of the whole atlas")
    if threshold is not None:
        definition = f"test_accuracy >= threshold, the threshold of {threshold_source or 'a reference atlas'}"
    out: dict[str, Any] = {
        "trained_definition": definition,
        "threshold": thr, "best_accuracy": max(acc) if acc else None, "per_panel": {},
    }
    groups = {p: [r for r in records if r["panel"] == p] for p in PANELS}
    groups["identity_all"] = [r for r in records if r["init"] == "identity"]
    groups["all"] = records
    for name, recs in groups.items():
        if not recs:
            continue
        entry = balanced_accuracy([r["predicted_trainable"] for r in recs], [trained[r["id"]] for r in recs])
        entry["n_trained"] = int(sum(trained[r["id"]] for r in recs))
        if name != "all" and recs[0]["init"] == "identity":
            idr = [r for r in recs if r["init"] == "identity"]
            entry["isometry_loss_vs_accuracy"] = _spearman(
                [_num(r["theory"]["isometry_loss"]) for r in idr], [_num(r["test_accuracy"]) for r in idr])
        if name == "random_tanh":
            entry["depth_over_xi_c_vs_accuracy"] = _spearman(
                [_num(r["theory"]["depth_over_xi_c"]) for r in recs], [_num(r["test_accuracy"]) for r in recs])
            # per sigma_w^2 column: the deepest cell that trained and the shallowest that did not,
            # against 6 xi_c (the boundary is reproduced where deepest_trained < 6 xi_c <= shallowest_failed)
            cols = []
            for w in sorted({r["sigma_w2"] for r in recs}):
                col = [r for r in recs if r["sigma_w2"] == w]
                ok = [r["depth"] for r in col if trained[r["id"]]]
                bad = [r["depth"] for r in col if not trained[r["id"]]]
                cols.append({"sigma_w2": w, "six_xi_c": 6.0 * _num(col[0]["theory"]["xi_c"]),
                             "depths_run": sorted(r["depth"] for r in col),
                             "deepest_trained": max(ok) if ok else None,
                             "shallowest_not_trained": min(bad) if bad else None})
            entry["columns"] = cols
        out["per_panel"][name] = entry
    # calibration of (eps, kappa) on the identity cells: in-sample, so an upper bound on what a
    # rule chosen this way would score on new cells
    idr = groups["identity_all"]
    truth = [trained[r["id"]] for r in idr]
    out["calibration"] = {"note": ("in-sample: eps and kappa chosen on the same cells they are scored on, so "
                                   "the best balanced accuracy is optimistic"), "grid_eps": list(CALIB_EPS),
                          "grid_kappa": list(CALIB_KAPPAS)}
    for law in ("gaussian", "empirical"):
        best, table = None, []
        for kappa in CALIB_KAPPAS:
            for eps in CALIB_EPS:
                pred = [_calibrated_prediction(r, eps, kappa, law) for r in idr]
                if not idr or any(p is None for p in pred):
                    continue
                ba = balanced_accuracy(pred, truth)["balanced_accuracy"]
                table.append({"eps": eps, "kappa": kappa, "balanced_accuracy": ba})
                # ties keep the first (smallest kappa, then smallest eps): the strictest rule
                if ba is not None and (best is None or ba > best["balanced_accuracy"] + 1e-12):
                    best = {"eps": eps, "kappa": kappa, "balanced_accuracy": ba}
        default = [_calibrated_prediction(r, DEFAULT_EPS, DEFAULT_KAPPA, law) for r in idr]
        out["calibration"][law] = {
            "default_rule": (balanced_accuracy(default, truth) if idr and None not in default else None),
            "best": best, "table": table}
    out["criteria"] = criteria_scores(records, trained)
    return out


def _edges(v: np.ndarray, log: bool) -> np.ndarray:
    v = np.log(v) if log else np.asarray(v, float)
    if len(v) == 1:
        e = np.array([v[0] - 0.5, v[0] + 0.5]) if not log else np.array([v[0] - 0.1, v[0] + 0.1])
    else:
        mid = 0.5 * (v[1:] + v[:-1])
        e = np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])
    return np.exp(e) if log else e


def _panel_axes(panel: str, cfg: Config, q0_data: float):
    if panel == "ht_sigma_depth":
        return "sigma", np.array(cfg.ht_sigmas), "depth", np.array(cfg.ht_depths, float)
    if panel == "ht_sigma_q0":
        return "sigma", np.array(cfg.q0_sigmas), "q0", np.array(cfg.q0_factors) * q0_data
    if panel == "tanh_sigma_depth":
        return "sigma", np.array(cfg.tanh_sigmas), "depth", np.array(cfg.tanh_depths, float)
    return "sigma_w2", np.array(cfg.random_sigma_w2), "depth", np.array(cfg.random_depths, float)


_TITLES = {
    "ht_sigma_depth": "identity init, hard-tanh, q0 = {q0:.4g} (data)",
    "ht_sigma_q0": "identity init, hard-tanh, depth {d}",
    "tanh_sigma_depth": "identity init, tanh, q0 = {q0:.4g} (data)",
    "random_tanh": "Gaussian init, tanh, sigma_b^2 = 0.05",
}


def _fine_boundary(panel: str, cfg: Config, xs: np.ndarray, ys: np.ndarray, q0_data: float):
    """The theory's boundary on a fine grid (coarser for the tanh law, which needs quadrature)."""
    nx, ny = (241, 161) if panel != "tanh_sigma_depth" else (61, 25)
    # half a cell beyond the outer cells; a single column spans +-2% of its value
    half = 0.5 * np.ptp(xs) / (len(xs) - 1) if len(xs) > 1 else 0.02 * float(xs[0])
    gx = np.linspace(xs.min() - half, xs.max() + half, nx)
    gy = np.geomspace(ys.min() / 1.4, ys.max() * 1.4, ny)
    X, Y = np.meshgrid(gx, gy)
    if panel == "random_tanh":
        from rmt_idinit.random_init import meanfield as mf

        xi = np.asarray(mf.depth_scales(np.sqrt(np.maximum(gx, 1e-6)), math.sqrt(SIGMA_B2_RANDOM), "tanh").xi_c)
        return gx, gy, (Y < 6.0 * xi[None, :]).astype(float), gx, 6.0 * xi
    from rmt_idinit import select as sel

    X = np.maximum(X, 1e-6)
    act = "tanh" if panel == "tanh_sigma_depth" else "hardtanh"
    if panel == "ht_sigma_q0":
        args = (X, Y, cfg.q0_depth)
    else:
        args = (X, q0_data, np.round(Y).astype(int).clip(1))
    mask = sel.is_feasible(*args, act, eps=cfg.eps, kappa=cfg.kappa)
    return gx, gy, np.asarray(mask, float), None, None


def _signal_boundary(panel: str, gx: np.ndarray, gy: np.ndarray, cfg: Config, q0_data: float) -> np.ndarray:
    """The calibrated signal rule (``log(q^L / q0) >= MIN_LOG_SIGNAL``) on the boundary grid."""
    from rmt_idinit import select as sel

    act = "tanh" if panel == "tanh_sigma_depth" else "hardtanh"
    gx = np.maximum(gx, 1e-6)
    if panel == "ht_sigma_q0":
        return np.asarray(sel.is_trainable(gx[None, :], gy[:, None], cfg.q0_depth, act), float)
    depths = np.round(gy).astype(int).clip(1)
    return np.stack([np.asarray(sel.is_trainable(gx, q0_data, int(d), act), float) for d in depths])


def plot_panel(panel: str, cfg: Config, recs: list[dict[str, Any]], q0_data: float, path: Path) -> None:
    """Heat map of test accuracy over the panel's grid, the theory's prediction on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    xname, xs, yname, ys = _panel_axes(panel, cfg, q0_data)
    acc = np.full((len(ys), len(xs)), np.nan)
    pred = np.full((len(ys), len(xs)), np.nan)
    key_x = {"sigma": "sigma", "sigma_w2": "sigma_w2"}[xname]
    for r in recs:
        yv = r["depth"] if yname == "depth" else r["q0"]
        i = int(np.argmin(np.abs(np.log(ys) - math.log(yv))))
        j = int(np.argmin(np.abs(xs - r[key_x])))
        acc[i, j] = _num(r["test_accuracy"])
        pred[i, j] = float(bool(r["predicted_trainable"]))
    fig, ax = plt.subplots(figsize=(7.2, 4.6))
    # the x grid is not evenly spaced: draw cells at index positions with value tick labels
    cmap = plt.get_cmap("viridis").with_extremes(bad="#d9d9d9")
    im = ax.imshow(np.ma.masked_invalid(acc), origin="lower", aspect="auto", cmap=cmap, vmin=0.0, vmax=1.0,
                   extent=(-0.5, len(xs) - 0.5, -0.5, len(ys) - 0.5), interpolation="nearest")
    for i in range(len(ys)):
        for j in range(len(xs)):
            if np.isfinite(acc[i, j]):
                # a light box keeps the number readable where the theory's line crosses the cell
                ax.text(j, i, f"{acc[i, j]:.2f}", ha="center", va="center", fontsize=7, color="black", zorder=5,
                        bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.75))
                if pred[i, j] == 1:
                    ax.plot(j + 0.33, i + 0.3, marker="^", ms=4.5, color="#ff7f0e", mec="black", mew=0.5)
    handles = [Line2D([], [], ls="none", marker="^", ms=5, color="#ff7f0e", mec="black", mew=0.5,
                      label="predicted trainable (cell)")]
    fine = _fine_boundary(panel, cfg, xs, ys, q0_data)
    if fine is not None:
        gx, gy, mask, _, _ = fine
        fx = np.interp(gx, xs, np.arange(len(xs)), left=np.nan, right=np.nan)
        # extend linearly beyond the outer cells so the line reaches the edges
        if len(xs) > 1:
            fx = np.where(gx < xs[0], (gx - xs[0]) / (xs[1] - xs[0]), fx)
            fx = np.where(gx > xs[-1], len(xs) - 1 + (gx - xs[-1]) / (xs[-1] - xs[-2]), fx)
        else:  # one column: its cell spans the boundary grid (else every node but one is NaN, no line)
            fx = np.interp(gx, [gx.min(), gx.max()], [-0.5, 0.5])
        ly = np.log(ys)
        fy = np.interp(np.log(gy), ly, np.arange(len(ys)))
        if len(ys) > 1:
            fy = np.where(np.log(gy) < ly[0], (np.log(gy) - ly[0]) / (ly[1] - ly[0]), fy)
            fy = np.where(np.log(gy) > ly[-1], len(ys) - 1 + (np.log(gy) - ly[-1]) / (ly[-1] - ly[-2]), fy)
        else:
            fy = np.interp(np.log(gy), [np.log(gy).min(), np.log(gy).max()], [-0.5, 0.5])
        if 0 < mask.mean() < 1:
            ax.contour(fx, fy, mask, levels=[0.5], colors="red", linewidths=1.6)
        label = "6 xi_c (mean field)" if panel == "random_tanh" else f"feasible region edge (eps={cfg.eps}, kappa={cfg.kappa:g})"
        if mask.mean() == 0:
            label = ("theory: every depth here >= 6 xi_c" if panel == "random_tanh"
                     else f"theory: nowhere feasible here (eps={cfg.eps}, kappa={cfg.kappa:g})")
        elif mask.mean() == 1:
            label = ("theory: every depth here < 6 xi_c" if panel == "random_tanh"
                     else f"theory: feasible everywhere here (eps={cfg.eps}, kappa={cfg.kappa:g})")
        handles.append(Line2D([], [], color="red", lw=1.6, label=label))
        if panel != "random_tanh":
            from rmt_idinit.select import MIN_LOG_SIGNAL

            sig_mask = _signal_boundary(panel, gx, gy, cfg, q0_data)
            # the edge is drawn when the rule's verdict changes between cells; a sliver of the
            # margin beyond the outer cells alone would draw a stray mark in a corner
            ci = [int(np.argmin(np.abs(np.log(gy) - math.log(v)))) for v in ys]
            cj = [int(np.argmin(np.abs(gx - v))) for v in xs]
            at_cells = sig_mask[np.ix_(ci, cj)].mean()
            if 0 < at_cells < 1:
                ax.contour(fx, fy, sig_mask, levels=[0.5], colors="#1f77b4", linewidths=1.6, linestyles="--")
                sig_label = f"signal rule edge (log q^L/q0 = {MIN_LOG_SIGNAL:g})"
            else:
                sig_label = (f"signal rule: {'every' if at_cells == 1 else 'no'} cell passes "
                             f"(log q^L/q0 >= {MIN_LOG_SIGNAL:g})")
            handles.append(Line2D([], [], color="#1f77b4", lw=1.6, ls="--", label=sig_label))
    if np.isnan(acc).any():
        handles.append(Patch(color="#d9d9d9", label="not run yet"))
    ax.set_xlim(-0.5, len(xs) - 0.5)
    ax.set_ylim(-0.5, len(ys) - 0.5)
    ax.set_xticks(range(len(xs)))
    ax.set_xticklabels([f"{v:g}" for v in xs], fontsize=8)
    ax.set_yticks(range(len(ys)))
    ax.set_yticklabels([f"{v:.3g}" for v in ys], fontsize=8)
    ax.set_xlabel({"sigma": "sigma (W = sigma I)", "sigma_w2": "sigma_w^2"}[xname])
    ax.set_ylabel({"depth": "depth L", "q0": "q0 (input second moment)"}[yname])
    ax.set_title(_TITLES[panel].format(q0=q0_data, d=cfg.q0_depth) +
                 f"\n{cfg.steps} steps, width {cfg.width}, {cfg.optimizer} lr {cfg.lr:g}", fontsize=9)
    fig.colorbar(im, ax=ax, label="test accuracy", fraction=0.05, pad=0.02)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, fontsize=7,
              frameon=False)
    atomic_save_fig(fig, path)


def assemble_report(cfg: Config, out: Path, cells: list[dict[str, Any]] | None = None,
                    done: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """``atlas.json`` content and the heat maps, from the finished cells on disk."""
    out = Path(out)
    q0_data = load_data(cfg.data_dir, cfg.downsample, cfg.n_train, cfg.n_test)["q0_data"]
    if cells is None:
        cells = build_cells(cfg, q0_data)
    if done is None:
        done = read_cells(out / "cells", [c["id"] for c in cells])
    order = {c["id"]: k for k, c in enumerate(sorted(cells, key=lambda c: (PANELS.index(c["panel"]),
                                                                          c["depth"], c.get("sigma") or 0,
                                                                          c.get("sigma_w2") or 0, c["q0"])))}
    records = sorted(done.values(), key=lambda r: order.get(r["id"], 0))
    figures = []
    for panel in cfg.panels:
        recs = [r for r in records if r["panel"] == panel]
        if not any(c["panel"] == panel for c in cells):
            continue
        name = f"heatmap_{panel}.png"
        plot_panel(panel, cfg, recs, q0_data, out / name)
        figures.append(name)
    secs = [r["seconds"]["total"] for r in records]
    per_panel_n = {p: {"done": sum(r["panel"] == p for r in records), "total": sum(c["panel"] == p for c in cells)}
                   for p in cfg.panels}
    return jsonable({
        "n_done": len(records), "n_total": len(cells), "complete": len(records) == len(cells),
        "partial_note": None if len(records) == len(cells) else
        f"partial grid: {len(records)} of {len(cells)} cells finished; rerun the same command to resume",
        "per_panel_counts": per_panel_n,
        "config": dataclasses.asdict(cfg), "q0_data": q0_data, "width": cfg.width,
        "seconds_per_cell": {"mean": float(np.mean(secs)), "median": float(np.median(secs)),
                             "max": float(np.max(secs)), "sum": float(np.sum(secs))} if secs else None,
        "agreement": _with_holdout(agreement(records, *_reference_threshold(cfg)), cfg) if records else None,
        "cells": records, "figures": figures, "versions": versions(),
    })


def _with_holdout(ag: dict[str, Any], cfg: Config) -> dict[str, Any]:
    """Copy the held-out grid's scores (``cfg.holdout_atlas``) beside this grid's: the rules
    calibrated here, scored on cells they were not fitted to."""
    path = Path(cfg.holdout_atlas) if cfg.holdout_atlas else None
    if path is None or not path.is_file():
        return ag
    ho = json.loads(path.read_text()).get("agreement") or {}
    crit = ho.get("criteria") or {}
    best = (ag.get("calibration") or {}).get("gaussian", {}).get("best") or {}
    table = ((ho.get("calibration") or {}).get("gaussian") or {}).get("table") or []
    eps_kappa = next((t for t in table if t["eps"] == best.get("eps") and t["kappa"] == best.get("kappa")), None)
    keep = ("balanced_accuracy", "true_positive_rate", "true_negative_rate", "tp", "tn", "fp", "fn", "n")
    ag.setdefault("criteria", {})["out_of_sample"] = {
        "source": str(path), "threshold": ho.get("threshold"), "trained_definition": ho.get("trained_definition"),
        "isometry": {k: crit.get("isometry", {}).get(k) for k in keep},
        "signal": {k: crit.get("signal", {}).get(k) for k in keep},
        "isometry_calibrated_here": None if eps_kappa is None else
        {"eps": eps_kappa["eps"], "kappa": eps_kappa["kappa"], "balanced_accuracy": eps_kappa["balanced_accuracy"]},
    }
    return ag


def _reference_threshold(cfg: Config) -> tuple[float | None, str | None]:
    """The "trained" threshold of ``cfg.reference_atlas`` (None when there is none)."""
    if not cfg.reference_atlas:
        return None, None
    path = Path(cfg.reference_atlas)
    if not path.is_file():
        print(f"[atlas] reference atlas {path} not found; 'trained' uses this grid's own threshold",
              file=sys.stderr)
        return None, None
    ag = json.loads(path.read_text()).get("agreement") or {}
    return ag.get("threshold"), str(path)


# --- what training does to the spectrum -----------------------------------------------------

def active_fractions(model, x) -> np.ndarray:
    """Per layer, the fraction of (sample, unit) pairs in hard-tanh's linear region |h| < 1
    (the empirical alpha^l of one layer), shape ``(depth,)``."""
    import torch

    out = []
    with torch.no_grad():
        for lin in model.layers:
            h = lin(x)
            out.append(float((h.abs() < 1).double().mean()))
            x = model.act(h)
    return np.array(out)


def layer_stats(model, x) -> dict[str, list[float]]:
    """Per layer: RMS of the pre-activation h^l, the fractions saturated at +1 and at -1, and the
    gain ``||W^l x^(l-1)|| / ||x^(l-1)||`` averaged over samples (1 for W = I)."""
    import torch

    out: dict[str, list[float]] = {"h_rms": [], "sat_pos": [], "sat_neg": [], "gain": []}
    with torch.no_grad():
        for lin in model.layers:
            wx = x @ lin.weight.T
            h = wx + lin.bias
            out["h_rms"].append(float(h.pow(2).mean().sqrt()))
            out["sat_pos"].append(float((h >= 1).double().mean()))
            out["sat_neg"].append(float((h <= -1).double().mean()))
            out["gain"].append(float((wx.norm(dim=1) / x.norm(dim=1).clamp_min(1e-30)).mean()))
            x = model.act(h)
    return out


def alive_paths(model, x) -> np.ndarray:
    """Fraction of units active in *every* layer up to l (the cumulative alpha^l of the theory,
    which is what kills a coordinate of J for a diagonal network)."""
    import torch

    alive = None
    out = []
    with torch.no_grad():
        for lin in model.layers:
            h = lin(x)
            a = h.abs() < 1
            alive = a if alive is None else alive & a
            out.append(float(alive.double().mean()))
            x = model.act(h)
    return np.array(out)


def _spectrum_stats(model, probe) -> dict[str, float]:
    from rmt_idinit.nn import jacobian_spectra

    lam = jacobian_spectra(model, probe, chunk_size=1).numpy().ravel()
    return {"fraction_near_zero": float((lam < NEAR_ZERO).mean()), "median": float(np.median(lam)),
            "mean": float(lam.mean())}


def _ablate(model, trained, what: str):
    """A copy of the identity-init net with only the trained biases ("bias") or only the trained
    weights ("weight") put back."""
    import copy

    import torch

    m = copy.deepcopy(model)
    with torch.no_grad():
        for lin, tl in zip(m.layers, trained.layers):
            if what == "bias":
                lin.bias.copy_(tl.bias)
            else:
                lin.weight.copy_(tl.weight)
    return m


def active_study(out: str, *, depth: int = 100, downsample: int = 2, steps: int = 300, batch_size: int = 100,
                 every: int = 50, probe_size: int = 2, n_eval: int = 500, data_dir: str | None = None,
                 runs: tuple = (("adam", 1e-4, "centered", 0.5), ("adam", 1e-4, "raw", None),
                                ("sgd", 1e-2, "centered", 0.5)),
                 progress: bool = True) -> dict[str, Any]:
    """Empirical alpha^l per layer of an identity-init hard-tanh net (sigma = 1) during training.

    ``runs``: (optimizer, lr, inputs, q0) with inputs "centered" (the train_drift normalization,
    ``sqrt(q0) (x - m)/s``) or "raw" (pixels / 255, the data's own q0). Every ``every`` steps:
    per-layer active fraction and alive-path fraction on ``n_eval`` test images, the J J^T spectrum
    of ``probe_size`` of them, and test accuracy; at the end the bias-only and weight-only
    ablations say which trained parameters kill the units.
    """
    import torch
    from tqdm.auto import tqdm

    import rmt_idinit as ri
    from rmt_idinit.data import Normalizer
    from rmt_idinit.nn import IdentityMLP

    set_threads(1)
    outp = Path(out)
    data = load_data(data_dir, downsample, None, None)
    width = (28 // downsample) ** 2
    result: dict[str, Any] = {"depth": depth, "width": width, "steps": steps, "batch_size": batch_size,
                              "runs": [], "versions": versions()}
    for opt_name, lr, inputs, q0 in runs:
        if inputs == "centered":
            norm = Normalizer.fit(data["xtr"], q0)
            xtr = torch.from_numpy(norm(data["xtr"], dtype=np.float32))
            xte = torch.from_numpy(norm(data["xte"], dtype=np.float32))
        else:
            q0 = data["q0_data"]
            xtr, xte = torch.from_numpy(data["xtr"]), torch.from_numpy(data["xte"])
        ytr, yte = torch.from_numpy(data["ytr"]), torch.from_numpy(data["yte"])
        tag = f"{opt_name}_lr{lr:g}_{inputs}"
        torch.manual_seed(seed_for("active", tag))
        gen = torch.Generator().manual_seed(seed_for("active", tag, "init"))
        model = IdentityMLP(width, depth, "hardtanh", sigma=1.0, generator=gen)
        init_model = IdentityMLP(width, depth, "hardtanh", sigma=1.0)
        init_model.load_state_dict(model.state_dict())
        opt = make_optimizer(opt_name, model.parameters(), lr)
        xev, probe = xte[:n_eval], xte[:probe_size].double()
        # theory at init for Gaussian inputs of the same q0, and for these exact inputs
        u = xev.double().numpy()
        rec: dict[str, Any] = {
            "optimizer": opt_name, "lr": lr, "inputs": inputs, "q0": float(q0),
            "theory_alpha_gaussian": float(ri.alpha(1.0, float(q0), depth)),
            "theory_alpha_these_inputs": float((np.abs(u) < 1).mean()),
            "history": []}
        gsh = torch.Generator().manual_seed(seed_for("active", tag, "shuffle"))
        perm, k_ep = None, len(ytr) // batch_size
        bar = tqdm(range(steps + 1), desc=f"active {tag}", disable=not progress, file=sys.stderr, mininterval=2)
        for step in bar:
            if step % every == 0 or step == steps:
                model.eval()
                with torch.no_grad():
                    acc = float((model(xte[:2000]).argmax(1) == yte[:2000]).double().mean())
                    bias_abs = [float(l.bias.abs().mean()) for l in model.layers]
                    bias_mean = [float(l.bias.mean()) for l in model.layers]
                    drift = [float((l.weight - torch.eye(width)).norm() / math.sqrt(width)) for l in model.layers]
                rec["history"].append({
                    "step": step, "test_accuracy_2000": acc,
                    "active_fraction": active_fractions(model, xev), "alive_path": alive_paths(model, xev),
                    "layer_stats": layer_stats(model, xev),
                    "spectrum": _spectrum_stats(model, probe),
                    "drift_frobenius": drift, "bias_abs_mean": bias_abs, "bias_mean": bias_mean,
                })
                model.train()
            if step == steps:
                break
            k = step % k_ep
            if k == 0:
                perm = torch.randperm(len(ytr), generator=gsh)
            idx = perm[k * batch_size : (k + 1) * batch_size]
            train_step(model, opt, xtr[idx], ytr[idx])
        bar.close()
        model.eval()
        abl = {}
        for what in ("bias", "weight"):
            m = _ablate(init_model, model, what)
            abl[f"trained_{what}_only"] = {"active_fraction": active_fractions(m, xev),
                                           "alive_path": alive_paths(m, xev), "spectrum": _spectrum_stats(m, probe)}
        rec["ablation"] = abl
        result["runs"].append(jsonable(rec))
        result["n_eval"] = n_eval
        atomic_write_json(outp / "active.json", result)
        print(f"[atlas active] {tag}: acc {acc:.3f}, min active {np.min(rec['history'][-1]['active_fraction']):.3f}, "
              f"near-zero eig {rec['history'][-1]['spectrum']['fraction_near_zero']:.3f}", file=sys.stderr)
    result = analyze_active(result, data_dir, downsample, n_eval)
    atomic_write_json(outp / "active.json", result)
    plot_active(result, outp / "active_fraction.png")
    if "layer_stats" in result["runs"][0]["history"][0]:
        plot_mechanism(result, outp / "mechanism.png")
    return result


def _eval_inputs(data: dict[str, Any], inputs: str, q0: float | None, n_eval: int) -> np.ndarray:
    """The evaluation inputs of a study run, exactly as the run built them (float32 -> float64)."""
    from rmt_idinit.data import Normalizer

    if inputs == "centered":
        return Normalizer.fit(data["xtr"], q0)(data["xte"][:n_eval], dtype=np.float32).astype(np.float64)
    return data["xte"][:n_eval].astype(np.float64)


def effective_sigma_fit(active: np.ndarray, u: np.ndarray) -> dict[str, float]:
    """Fit the identity-init theory to a measured per-layer active-fraction curve.

    For W = sigma I with sigma > 1 a hard-tanh unit is linear at layer l iff ``|u| < sigma^(-l)``,
    so ``alpha^l(sigma) = P(|u| < sigma^(-l))`` over the input coordinates u (their empirical law,
    not a Gaussian). Least squares over the layers for one sigma >= 1; returns it with the
    largest deviation over the layers.
    """
    from scipy import optimize

    au = np.sort(np.abs(np.asarray(u, dtype=np.float64).ravel()))
    layers = np.arange(1, len(active) + 1)

    def model(sig):
        return np.searchsorted(au, sig ** (-layers.astype(float)), side="left") / au.size

    def sse(log_s):
        return float(np.sum((model(math.exp(log_s)) - active) ** 2))

    grid = np.linspace(0.0, 0.1, 201)  # sigma in [1, 1.105]: the sse is a step function of sigma
    k = int(np.argmin([sse(g) for g in grid]))
    res = optimize.minimize_scalar(sse, bounds=(grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]),
                                   method="bounded")
    sig = math.exp(res.x if sse(res.x) <= sse(grid[k]) else grid[k])
    dev = model(sig) - active
    return {"sigma_eff": sig, "max_abs_deviation": float(np.max(np.abs(dev))),
            "rms_deviation": float(np.sqrt(np.mean(dev**2))), "curve": model(sig)}


def _round(obj: Any, digits: int = 6) -> Any:
    """Floats to ``digits`` significant digits (the study's JSON stays small; nothing it reports
    needs more)."""
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}") if math.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {k: _round(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round(v, digits) for v in obj]
    return obj


def analyze_active(result: dict[str, Any], data_dir: str | None = None, downsample: int = 2,
                   n_eval: int = 500) -> dict[str, Any]:
    """Add to every run and step the effective-sigma fit of the identity-init theory."""
    data = load_data(data_dir, downsample, None, None)
    for run in result["runs"]:
        u = _eval_inputs(data, run["inputs"], run["q0"], n_eval)
        for k, h in enumerate(run["history"]):
            fit = effective_sigma_fit(np.asarray(h["active_fraction"]), u)
            h["theory_fit"] = {key: v for key, v in fit.items() if key != "curve"}
            if k == len(run["history"]) - 1:  # the plotted one
                h["theory_fit"]["curve"] = [float(c) for c in fit["curve"]]
            h["theory_fit"]["median_drift_frobenius"] = float(np.median(h["drift_frobenius"]))
    return _round(jsonable(result))


def plot_active(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = result["runs"]
    fig, axes = plt.subplots(1, len(runs), figsize=(3.6 * len(runs), 3.6), sharey=True, squeeze=False)
    for ax, r in zip(axes[0], runs):
        hist = r["history"]
        cm = plt.get_cmap("viridis")
        layers = np.arange(1, len(hist[0]["active_fraction"]) + 1)
        for k, h in enumerate(hist):
            ax.plot(layers, h["active_fraction"], color=cm(k / max(len(hist) - 1, 1)), lw=1.2,
                    label=f"step {h['step']}" if k in (0, len(hist) // 2, len(hist) - 1) else None)
        ax.plot(layers, r["ablation"]["trained_bias_only"]["active_fraction"], "--", color="#1f77b4", lw=1,
                label="trained biases only")
        ax.plot(layers, r["ablation"]["trained_weight_only"]["active_fraction"], "k:", lw=1.2,
                label="trained weights only")
        ax.axhline(r["theory_alpha_these_inputs"], color="grey", lw=0.8, ls="-.",
                   label="theory alpha at init (sigma = 1)")
        fit = hist[-1].get("theory_fit")
        if fit:
            ax.plot(layers, fit["curve"], color="#d62728", lw=1.0, alpha=0.8,
                    label="theory alpha^l with a fitted sigma_eff (last step)")
            ax.text(0.97, 0.76, f"fitted sigma_eff = {fit['sigma_eff']:.4f}\nmax |dev| = "
                    f"{fit['max_abs_deviation']:.2f}", transform=ax.transAxes, ha="right", va="top", fontsize=7)
        ax.set_title(f"{r['optimizer']} lr {r['lr']:g}, {r['inputs']} inputs, q0 = {r['q0']:.3g}\n"
                     f"J J^T eig < 1e-6: {hist[0]['spectrum']['fraction_near_zero']:.2f} (init) -> "
                     f"{hist[-1]['spectrum']['fraction_near_zero']:.2f} (step {hist[-1]['step']})", fontsize=8)
        ax.set_xlabel("layer l")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("active fraction P(|h^l| < 1)")
    fig.suptitle(f"identity-init hard-tanh, depth {result['depth']}, width {result['width']}, sigma = 1",
                 fontsize=9)
    fig.tight_layout()
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, [lab.replace(" (last step)", "") for lab in labels], loc="upper center",
               bbox_to_anchor=(0.5, 0.0), ncol=4, fontsize=7, frameon=False)
    atomic_save_fig(fig, path)


def plot_mechanism(result: dict[str, Any], path: Path) -> None:
    """Per-layer gain along the signal, its running product, and the saturated fractions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = result["runs"][0]
    hist = [h for h in r["history"] if "layer_stats" in h]
    cm = plt.get_cmap("viridis")
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.5))
    layers = np.arange(1, len(hist[0]["layer_stats"]["gain"]) + 1)
    for k, h in enumerate(hist):
        st, c = h["layer_stats"], cm(k / max(len(hist) - 1, 1))
        lab = f"step {h['step']}"
        axes[0].plot(layers, st["gain"], color=c, lw=1.1, label=lab)
        axes[1].semilogy(layers, np.cumprod(st["gain"]), color=c, lw=1.1, label=lab)
        axes[2].plot(layers, st["sat_pos"], color=c, lw=1.1, label=lab)
        axes[2].plot(layers, st["sat_neg"], color=c, lw=1.1, ls="--")
    axes[0].set_ylabel("gain ||W^l x|| / ||x||")
    axes[1].set_ylabel("product of gains up to layer l")
    axes[2].set_ylabel("saturated fraction")
    axes[2].set_title("solid: h >= 1, dashed: h <= -1", fontsize=8)
    for ax in axes:
        ax.set_xlabel("layer l")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right", ncol=2)
    drift = np.median(hist[-1]["drift_frobenius"])
    fig.suptitle(f"identity-init hard-tanh: {r['optimizer']} lr {r['lr']:g}, {r['inputs']} inputs (q0 = {r['q0']:.3g}), "
                 f"depth {result['depth']}, width {result['width']}; median relative Frobenius drift "
                 f"{drift:.3f} at step {hist[-1]['step']}", fontsize=9)
    fig.tight_layout()
    atomic_save_fig(fig, path)


# --- command line -------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = preset_parser(__doc__.split("\n\n")[0], PRESETS, "atlas", common=("device", "data_dir"),
                      prog="python -m validation.atlas")
    p.add_argument("--workers", type=int, help="LocalCluster worker processes (1 thread each)")
    p.add_argument("--scheduler", help="address of an existing dask scheduler (workers must import validation)")
    p.add_argument("--steps", type=int, help="optimizer steps per cell")
    p.add_argument("--report-only", action="store_true", help="only render atlas.json/PNGs from finished cells")
    p.add_argument("--study", choices=["active"], help="run the active-fraction-under-training study instead")
    p.add_argument("--study-steps", type=int, default=300)
    p.add_argument("--study-runs", default="adam:1e-4:centered:0.5,adam:1e-4:raw:,sgd:1e-2:centered:0.5",
                   help="comma-separated optimizer:lr:inputs:q0 (inputs centered|raw; q0 empty for raw)")
    args = p.parse_args(argv)
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        p.error(f"--data-dir {args.data_dir} does not exist")
    if args.workers is not None and args.workers < 1:
        p.error("--workers must be >= 1")
    if args.study == "active" and args.report_only:
        outp = Path(args.out or "reports/atlas_active")
        result = analyze_active(json.loads((outp / "active.json").read_text()), args.data_dir)
        atomic_write_json(outp / "active.json", result)
        plot_active(result, outp / "active_fraction.png")
        if "layer_stats" in result["runs"][0]["history"][0]:
            plot_mechanism(result, outp / "mechanism.png")
        return 0
    if args.study == "active":
        runs = []
        for spec in args.study_runs.split(","):
            o, lr, inp, q = spec.split(":")
            runs.append((o, float(lr), inp, float(q) if q else None))
        active_study(args.out or "reports/atlas_active", steps=args.study_steps, data_dir=args.data_dir,
                     runs=tuple(runs), progress=not args.no_progress)
        return 0
    cfg = make_config(args.preset, **preset_overrides(args), workers=args.workers, scheduler=args.scheduler,
                      steps=args.steps, report_only=args.report_only or None)
    try:
        rep = run(cfg)
    except KeyboardInterrupt:
        print("[atlas] interrupted; finished cells are on disk, rerun the same command to resume", file=sys.stderr)
        return 130
    return 1 if rep["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
