"""Identity-init networks: measured per-sample eig(J J^T) (float64) vs the exact prediction.

For W^l = sigma I the Jacobian of the hidden stack is diagonal and the eigenvalues of J J^T for
input u are exactly g_L(u_i)^2 (docs/theory/identity.md), given by ``rmt_idinit.jjt_eigenvalues``.
For each configuration (activation, sigma, q0, depth) this script builds the real torch network in
float64, computes per-sample spectra with :func:`rmt_idinit.nn.jacobian_spectra` on normalized
Fashion-MNIST test images and on Gaussian N(0, q0) inputs, and compares sorted measured against
sorted predicted eigenvalues: relative error where the prediction is nonzero, absolute where it is
0. Units whose pre-activation lies within 1e-9 (relative) of a kink of a piecewise-linear
activation are measure-zero ties between 0 and a nonzero value; samples containing one are
counted and left out. The Gaussian-input spectra are also compared with ``rmt_idinit.jjt_law``
(mean, and a Kolmogorov distance to the law's CDF, which is statistical, not round-off).

Usage::

    python -m validation.init_spectrum --preset quick --out reports/init_spectrum_quick
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "validation"

from validation._common import (  # noqa: E402
    atomic_save_fig,
    atomic_write_json,
    config_maker,
    open_report_folder,
    preset_overrides,
    preset_parser,
    theory,
    versions,
)

PIECEWISE = {"hardtanh", "relu", "leaky_relu"}

# (activation, sigma, q0, depth, params)
CASES_QUICK = [
    ("hardtanh", 1.0, 0.5, 8, {}),
    ("hardtanh", 1.05, 0.1, 8, {}),
    ("hardtanh", 0.9, 1.0, 8, {}),
    ("relu", 1.02, 0.5, 6, {}),
    ("leaky_relu", 1.0, 0.5, 6, {"negative_slope": 0.2}),
    ("linear", 1.01, 0.5, 4, {}),
    ("tanh", 1.0, 0.1, 6, {}),
    ("erf", 0.9, 0.5, 6, {}),
    ("sigmoid", 1.0, 0.5, 4, {}),
    ("gelu", 1.0, 0.5, 4, {}),
    ("silu", 1.0, 0.5, 4, {}),
    ("softplus", 0.8, 0.5, 4, {}),
]
CASES_PAPER = [
    ("hardtanh", 1.0, 0.5, 100, {}),
    ("hardtanh", 1.005, 0.1, 100, {}),
    ("hardtanh", 1.02, 0.1, 50, {}),
    ("hardtanh", 0.9, 1.0, 50, {}),
    ("relu", 1.0, 0.5, 100, {}),
    ("leaky_relu", 1.0, 0.5, 100, {"negative_slope": 0.1}),
    ("linear", 1.001, 0.5, 100, {}),
    ("tanh", 1.0, 0.1, 100, {}),
    ("erf", 1.0, 0.1, 100, {}),
    ("sigmoid", 1.0, 0.5, 20, {}),
    ("gelu", 1.0, 0.5, 50, {}),
    ("silu", 1.0, 0.5, 50, {}),
    ("softplus", 0.9, 0.5, 50, {}),
]


@dataclasses.dataclass
class Config:
    preset: str = "quick"
    out: str = "reports/init_spectrum_quick"
    n_real: int = 2
    n_gauss: int = 2
    width_gauss: int = 784
    chunk_size: int = 2
    seed: int = 0
    tolerance: float = 1e-10
    threads: int | None = None
    device: str = "cpu"
    data_dir: str | None = None
    progress: bool = True
    cases: list = dataclasses.field(default_factory=lambda: [list(c) for c in CASES_QUICK])


PRESETS = {
    "quick": dict(n_real=1, n_gauss=3, width_gauss=256, cases=[list(c) for c in CASES_QUICK]),
    "paper": dict(n_real=8, n_gauss=8, width_gauss=784, cases=[list(c) for c in CASES_PAPER]),
}


make_config = config_maker(Config, PRESETS, "init_spectrum")


def _case_key(case) -> str:
    act, sigma, q0, depth, params = case
    extra = ",".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"{act}(sigma={sigma},q0={q0},L={depth}{',' + extra if extra else ''})"


def compare(measured: np.ndarray, predicted: np.ndarray, ambiguous: np.ndarray) -> dict[str, Any]:
    """Sorted per-sample comparison; rows with an ambiguous (kink) unit are excluded."""
    keep = ~ambiguous.any(axis=1)
    m = np.sort(measured[keep], axis=1)
    p = np.sort(predicted[keep], axis=1)
    zero = p == 0
    nz = ~zero
    rel = np.abs(m[nz] - p[nz]) / np.abs(p[nz])
    return {
        "n_samples": int(measured.shape[0]),
        "n_samples_excluded_kink": int((~keep).sum()),
        "n_eigenvalues": int(p.size),
        "n_predicted_zero": int(zero.sum()),
        "max_relative_error": float(rel.max()) if rel.size else 0.0,
        "max_abs_error_at_zero": float(np.abs(m[zero]).max()) if zero.any() else 0.0,
        "measured_mean": float(m.mean()) if m.size else None,
        "predicted_mean": float(p.mean()) if p.size else None,
    }


def run_case(cfg: Config, case, th, real_u: np.ndarray) -> dict[str, Any]:
    import torch

    from rmt_idinit.nn import IdentityMLP, jacobian_spectra

    act, sigma, q0, depth, params = case
    rng = np.random.default_rng([cfg.seed, depth, int(sigma * 1e6), int(q0 * 1e6)])
    inputs = {
        "fashion_mnist": real_u * np.sqrt(q0),  # real_u has unit second moment
        "gaussian": rng.normal(0.0, np.sqrt(q0), size=(cfg.n_gauss, cfg.width_gauss)),
    }
    res: dict[str, Any] = {"activation": act, "sigma": sigma, "q0": q0, "depth": depth, "params": params}
    for name, u in inputs.items():
        model = IdentityMLP(u.shape[1], depth, act, sigma=sigma, **params).to(torch.float64)
        model.reset_parameters()  # refill sigma*I in float64: float32 would round sigma
        model = model.to(cfg.device)
        t0 = time.perf_counter()
        meas = jacobian_spectra(model, torch.from_numpy(u).to(cfg.device), chunk_size=cfg.chunk_size).cpu().numpy()
        seconds = time.perf_counter() - t0
        pred = th.jjt_eigenvalues(u, sigma, depth, act, **params)
        if act in PIECEWISE:
            lo = th.jjt_eigenvalues(u * (1 - 1e-9), sigma, depth, act, **params)
            hi = th.jjt_eigenvalues(u * (1 + 1e-9), sigma, depth, act, **params)
            ambiguous = np.abs(lo - hi) > 1e-6 * np.maximum(np.abs(lo), np.abs(hi))
        else:
            ambiguous = np.zeros(u.shape, dtype=bool)
        r = compare(meas, pred, ambiguous)
        r["jacobian_seconds"] = seconds
        if name == "gaussian":
            try:
                law = th.jjt_law(sigma, q0, depth, act, **params)
                lam = np.sort(meas.ravel())
                # KS distance valid for laws with atoms: compare right and left limits at every
                # distinct value; the 1e-9 widening absorbs last-ulp differences of atom locations.
                v, counts = np.unique(lam, return_counts=True)
                fn_right = np.cumsum(counts) / lam.size
                fn_left = fn_right - counts / lam.size
                f_right = np.asarray(law.cdf(v * (1 + 1e-9) + 1e-300), dtype=np.float64)
                f_left = np.asarray(law.cdf(v * (1 - 1e-9) - 1e-300), dtype=np.float64)
                r["law_mean"] = float(law.mean())
                r["empirical_mean"] = float(lam.mean())
                r["law_var"] = float(law.var())
                r["empirical_var"] = float(lam.var())
                r["ks_distance_to_law"] = float(max(np.abs(fn_right - f_right).max(), np.abs(fn_left - f_left).max()))
                # DKW: P(sup|F_n - F| > eps) <= 2 exp(-2 n eps^2); 99% band
                r["dkw_99_band"] = float(np.sqrt(np.log(2 / 0.01) / (2 * lam.size)))
            except Exception as exc:  # the exact per-sample check does not need the law
                r["law_error"] = repr(exc)
        res[name] = r
        res.setdefault("_plot", {})[name] = {"measured": np.sort(meas[0]), "predicted": np.sort(pred[0])}
    res["max_relative_error"] = max(res[k]["max_relative_error"] for k in inputs)
    res["max_abs_error_at_zero"] = max(res[k]["max_abs_error_at_zero"] for k in inputs)
    res["passed"] = bool(res["max_relative_error"] <= cfg.tolerance and res["max_abs_error_at_zero"] <= cfg.tolerance)
    return res


def figure(results: dict[str, Any]):
    """Sorted predicted vs measured eigenvalues of probe sample 0, one panel per case."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(results)
    ncol = 4
    nrow = max(1, -(-len(keys) // ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.4 * ncol, 3.6 * nrow), squeeze=False,
                             constrained_layout=True)
    for ax, k in zip(axes.ravel(), keys):
        r = results[k]
        d = r["_plot"]["fashion_mnist"]
        pred, meas = np.asarray(d["predicted"], float), np.asarray(d["measured"], float)
        idx = np.arange(pred.size)
        # log axis: exact zeros cannot be drawn, so they are counted in the title instead
        pos = pred > 0
        ax.plot(idx[pos], pred[pos], "-", color="0.55", lw=3, label="predicted g_L(u_i)^2")
        mp = meas > 0
        ax.plot(idx[mp], meas[mp], "r.", ms=1.5, label="measured eig(J J^T)")
        ax.set_yscale("log")
        ax.set_xlim(-0.02 * pred.size, 1.02 * pred.size)
        if pos.any():
            lo, hi = float(pred[pos].min()), float(pred[pos].max())
            if hi < 10 * lo:   # a flat spectrum: give it a decade either side so ticks show
                ax.set_ylim(lo / 10, hi * 10)
        extra = ", ".join(f"{p}={v:g}" for p, v in (r.get("params") or {}).items())
        name = r.get("activation", k.split("(")[0]) + (f" ({extra})" if extra else "")
        ax.set_title(f"{name}: sigma={r.get('sigma', float('nan')):g}, q0={r.get('q0', float('nan')):g}, "
                     f"L={r.get('depth', '?')}\nmax rel err {r['max_relative_error']:.1e}; "
                     f"{int(np.sum(~pos))} exact zeros (not drawn)", fontsize=8)
        ax.set_xlabel("rank i (sorted)", fontsize=8)
        ax.set_ylabel("eigenvalue", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(keys):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Fashion-MNIST probe sample 0: sorted eigenvalues of J J^T, predicted vs measured")
    return fig


def plot(results: dict[str, Any], out: Path) -> None:
    atomic_save_fig(figure(results), out / "sorted_eigenvalues.png")


def run(cfg: Config) -> dict[str, Any]:
    """Run every case (resuming from ``partial.json``) and write ``init_spectrum.json`` + PNG."""
    th = theory()
    if th is None:
        raise ImportError("init_spectrum needs rmt_idinit.jjt_eigenvalues (the theory core)")
    from rmt_idinit.data import Normalizer, load_fashion_mnist

    out, _ = open_report_folder(cfg)
    from tqdm.auto import tqdm

    xtr, _ = load_fashion_mnist(cfg.data_dir, "train", limit=10000)
    xte, _ = load_fashion_mnist(cfg.data_dir, "test", limit=cfg.n_real)
    real_u = Normalizer.fit(xtr, 1.0)(xte)  # unit second moment; each case scales by sqrt(q0)
    partial_path = out / "partial.json"
    results: dict[str, Any] = json.loads(partial_path.read_text()) if partial_path.exists() else {}
    t0 = time.perf_counter()
    for case in tqdm(cfg.cases, desc="init_spectrum", file=sys.stderr, disable=not cfg.progress):
        key = _case_key(case)
        if key in results:
            continue
        results[key] = run_case(cfg, case, th, real_u)
        atomic_write_json(partial_path, results)
    plot(results, out)
    summary = {k: {"max_relative_error": v["max_relative_error"], "max_abs_error_at_zero": v["max_abs_error_at_zero"],
                   "passed": v["passed"]} for k, v in results.items()}
    report = {
        "experiment": "init_spectrum",
        "config": dataclasses.asdict(cfg),
        "versions": versions(),
        "wall_seconds": time.perf_counter() - t0,
        "all_passed": all(v["passed"] for v in results.values()),
        "worst_relative_error": max(v["max_relative_error"] for v in results.values()),
        "summary": summary,
        "cases": {k: {kk: vv for kk, vv in v.items() if kk != "_plot"} for k, v in results.items()},
        "sorted_eigenvalues_sample0": {k: v["_plot"] for k, v in results.items()},
    }
    atomic_write_json(out / "init_spectrum.json", report)
    return json.loads((out / "init_spectrum.json").read_text())


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = preset_parser(__doc__.split("\n")[0], PRESETS, "init_spectrum")
    p.add_argument("--n-real", type=int)
    p.add_argument("--n-gauss", type=int)
    a = p.parse_args(argv)
    cfg = make_config(a.preset, **preset_overrides(a), n_real=a.n_real, n_gauss=a.n_gauss)
    rep = run(cfg)
    for k, v in rep["summary"].items():
        print(f"{k:55s} rel {v['max_relative_error']:.2e}  abs0 {v['max_abs_error_at_zero']:.1e}  "
              f"{'ok' if v['passed'] else 'FAIL'}")
    print(f"wrote {Path(cfg.out).resolve()}/ (init_spectrum.json, sorted_eigenvalues.png)")
    return rep


if __name__ == "__main__":
    main()
