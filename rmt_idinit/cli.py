"""The ``rmt-idinit`` command (also ``python -m rmt_idinit``).

Subcommands::

    rmt-idinit report [--out reports/paper] [--depth 100] [--activation hardtanh] [--eps 0.05] [--kappa 10]
    rmt-idinit alpha SIGMA Q0 DEPTH [--activation A] [--layers]
    rmt-idinit law SIGMA Q0 DEPTH [--activation A] [--json] [--plot FILE.png]
    rmt-idinit select --depth L --q0 Q [--sigma S] [--eps E] [--kappa K] [--activation A] [--json]
    rmt-idinit sweep --depth L --out FILE.npz [--sigma LO HI N] [--q0 LO HI N] [--plot FILE.png]

Exit status: 0 done; 1 nothing is feasible for the request (``select`` and ``report``; the
explanation, and what would be feasible, is printed and written all the same); 2 user error (bad
arguments, ValueErrors from the library, unwritable outputs: one line on stderr, never a
traceback). Output files are written atomically; JSON is strict (no NaN/Infinity, see
:mod:`rmt_idinit.jsonio`).
"""
from __future__ import annotations

import argparse
import io
import math
import sys
from pathlib import Path
from typing import Sequence

from ._core import checks as _checks
from .atomic import atomic_save_png

__all__ = ["main", "build_parser"]


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse would print the whole usage)
        raise _UsageError(f"{self.prog}: error: {message}")


def _checked(name: str, parse, check, kind: str):
    """An argparse type: ``parse`` the text, then the package's own parameter ``check``."""
    def conv(text):
        try:
            v = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {kind}, got {text!r}") from None
        try:
            return check(name, v)
        except (ValueError, TypeError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return conv


def _pos_float(name):
    return _checked(name, float, lambda n, v: _checks.check_scalar(n, v, _checks.check_positive), "a number")


def _pos_int(name):
    return _checked(name, int, lambda n, v: _checks.check_scalar_int(n, v, minimum=1), "an integer >= 1")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rmt-idinit", description="Exact Jacobian spectra of identity-initialized deep MLPs.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)
    sub.required = True

    depth_help = "network depth L, the number of hidden layers W = sigma I (integer >= 1)"
    q0_help = "input variance q0: the per-coordinate second moment of the inputs (> 0)"

    def common(sp, *, tol=False):
        sp.add_argument("--activation", default="hardtanh", help="activation name (default hardtanh)")
        if tol:
            sp.add_argument("--eps", type=float, default=0.05, help="tolerance on the dead fraction, in (0, 1)")
            sp.add_argument("--kappa", type=float, default=10.0, help="gradient-scale tolerance, > 1")

    r = sub.add_parser("report", help="the main report (paper setting by default)")
    r.add_argument("--out", default="reports/paper", help="output folder (default reports/paper)")
    r.add_argument("--depth", type=_pos_int("depth"), default=100, help=depth_help + " (default 100)")
    r.add_argument("--q0", type=_pos_float("q0"), default=None,
                   help=q0_help + " (default: from Fashion-MNIST, else the embedded value)")
    r.add_argument("--data-dir", default=None,
                   help="Fashion-MNIST folder (default /usr/share/datasets/fashion-mnist; "
                        "a folder given here must exist)")
    r.add_argument("--no-progress", action="store_true")
    common(r, tol=True)

    a = sub.add_parser("alpha", help="weight of the nonzero part of the J J^T law")
    a.add_argument("sigma", type=_pos_float("sigma"), help="weight scale, W = sigma I (> 0)")
    a.add_argument("q0", type=_pos_float("q0"), help=q0_help)
    a.add_argument("depth", type=_pos_int("depth"), help=depth_help)
    a.add_argument("--layers", action="store_true", help="print alpha^l for every layer")
    a.add_argument("--kappa", type=float, default=10.0,
                   help="smooth activations: a unit counts as dead when lambda < 1/kappa (default 10)")
    common(a)

    law = sub.add_parser("law", help="the J J^T law at one setting")
    law.add_argument("sigma", type=_pos_float("sigma"), help="weight scale, W = sigma I (> 0)")
    law.add_argument("q0", type=_pos_float("q0"), help=q0_help)
    law.add_argument("depth", type=_pos_int("depth"), help=depth_help)
    law.add_argument("--json", action="store_true", help="print strict JSON")
    law.add_argument("--plot", default=None, help="write a PNG of the law (density and CDF)")
    common(law)

    s = sub.add_parser("select", help="best sigma, feasible interval, max q0 and max depth")
    s.add_argument("--depth", type=_pos_int("depth"), required=True, help=depth_help)
    s.add_argument("--q0", type=_pos_float("q0"), required=True, help=q0_help)
    s.add_argument("--sigma", type=_pos_float("sigma"), default=None,
                   help="evaluate this sigma (default: the best sigma)")
    s.add_argument("--json", action="store_true", help="print strict JSON (every digit)")
    common(s, tol=True)

    w = sub.add_parser("sweep", help="feasible region over a (sigma, q0) grid")
    w.add_argument("--depth", type=_pos_int("depth"), required=True, help=depth_help)
    w.add_argument("--sigma", nargs=3, metavar=("LO", "HI", "N"), default=None,
                   help="log-spaced sigma grid (default exp(+-4/L), 201 points)")
    w.add_argument("--q0", nargs=3, metavar=("LO", "HI", "N"), default=["1e-4", "10", "201"],
                   help="log-spaced q0 (input variance) grid (default 1e-4 10 201)")
    w.add_argument("--out", required=True, help="output file, must end in .npz (a numpy archive)")
    w.add_argument("--plot", default=None, help="also write the phase diagram PNG")
    w.add_argument("--no-progress", action="store_true")
    common(w, tol=True)
    return p


def _grid(name, spec):
    lo, hi = _pos_float(f"{name} LO")(spec[0]), _pos_float(f"{name} HI")(spec[1])
    n = _pos_int(f"{name} N")(spec[2])
    if hi < lo:
        raise ValueError(f"{name} grid must have LO <= HI, got {lo} > {hi}")
    import numpy as np

    return np.geomspace(lo, hi, n)


def _writable(path: str) -> Path:
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"output folder does not exist: {parent}")
    return p


def _cmd_report(ns) -> int:
    from .report import make_report

    res = make_report(ns.out, depth=ns.depth, activation=ns.activation, eps=ns.eps, kappa=ns.kappa,
                      q0=ns.q0, data_dir=ns.data_dir, progress=not ns.no_progress)
    print(f"q0 = {res['setting']['q0']:.6g} ({res['setting']['q0_source']})")
    print("\n".join(res["recommendation_text"]))
    out = Path(ns.out)
    print(f"wrote {out / 'summary.md'}, summary.html, results.json, "
          f"{', '.join(res['files'].values())} in {out}")
    return 0 if res["recommendation"]["feasible"] else 1


def _cmd_alpha(ns) -> int:
    import numpy as np

    import rmt_idinit as ri
    from . import select as sel
    from .select._args import check_kappa

    act = ri.get_activation(ns.activation)
    if ns.layers:
        # one float64 per layer, a few working copies, and one printed line (~25 bytes) each
        _checks.check_memory(64.0 * ns.depth, f"alpha --layers at depth={ns.depth}")
    if act.pieces is None:
        # smooth: no eigenvalue is exactly 0, so alpha = P(lambda > 0) = 1 says nothing; show the
        # quantities the selection uses instead (dead fraction below 1/kappa, median eigenvalue)
        kappa = float(check_kappa(ns.kappa))
        depths = np.arange(1, ns.depth + 1) if ns.layers else np.array([ns.depth])
        dead = np.atleast_1d(sel.dead_fraction(ns.sigma, ns.q0, depths, act, kappa=kappa))
        med = np.exp(np.atleast_1d(sel.log_gradient_scale(ns.sigma, ns.q0, depths, act)))
        print(f"{act.name} is smooth: every eigenvalue of J J^T is > 0, so alpha = P(lambda > 0) = 1 "
              f"carries no information. Shown instead: the dead fraction P(lambda < 1/kappa), "
              f"kappa = {kappa:g}, and the median eigenvalue (the gradient scale).")
        if ns.layers:
            print("layer\tdead_fraction\tmedian_lambda")
            for layer, d, m in zip(depths, dead, med):
                print(f"{layer}\t{d:.10g}\t{m:.10g}")
        else:
            print(f"dead fraction P(lambda < {1 / kappa:g}) = {dead[0]:.10g}\n"
                  f"alive fraction = {1 - dead[0]:.10g}\nmedian lambda = {med[0]:.10g}")
        return 0
    if ns.layers:
        vals = np.asarray(ri.layer_alphas(ns.sigma, ns.q0, ns.depth, act))
        for layer, v in enumerate(vals, 1):
            print(f"{layer}\t{v:.17g}")
    else:
        a = float(ri.alpha(ns.sigma, ns.q0, ns.depth, act))
        c = float(ri.alpha_complement(ns.sigma, ns.q0, ns.depth, act))
        print(f"alpha = {a:.17g}\n1 - alpha = {c:.17g}")
    return 0


_SMOOTH_LAW_BYTES_PER_LAYER = 2048


def _cmd_law(ns) -> int:
    import numpy as np

    import rmt_idinit as ri

    act = ri.get_activation(ns.activation)
    if act.pieces is None:
        # a smooth law's quadrature refines around the fixed points layer by layer: up to ~2 KiB of
        # nodes and gains per layer were measured (depth 1e8 asked for 7-196 GiB), so refuse up front
        _checks.check_memory(_SMOOTH_LAW_BYTES_PER_LAYER * ns.depth,
                             f"law with the smooth activation {act.name!r} at depth={ns.depth}")
    law = ri.jjt_law(ns.sigma, ns.q0, ns.depth, act)
    info = {"description": law.description, "log_atoms": np.asarray(law.log_atoms).tolist(),
            "weights": np.asarray(law.weights).tolist(), "mean": float(law.mean()), "var": float(law.var()),
            # quantiles in logs first: deep laws put them far outside double range
            "log_quantiles": {str(q): float(law.ppf(q, log=True)) for q in (0.05, 0.25, 0.5, 0.75, 0.95)}}
    with np.errstate(over="ignore", under="ignore"):
        info["quantiles"] = {k: float(np.exp(v)) for k, v in info["log_quantiles"].items()}
    if ns.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from .plotting import plot_law

        path = _writable(ns.plot)
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
        title = f"{ns.activation}, L = {ns.depth}, sigma = {ns.sigma:g}, q0 = {ns.q0:g}"
        plot_law(law, ax=axes[0], label="law", title=title)
        plot_law(law, ax=axes[1], cdf=True, label="law", title=title + ": CDF")
        atomic_save_png(fig, path)
        plt.close(fig)
    if ns.json:
        from .jsonio import dumps

        print(dumps(info))
    else:
        print(info["description"])
        for la, w in zip(info["log_atoms"], info["weights"]):
            print(f"atom lambda = {math.exp(la) if la < 709 else float('inf'):.10g} (log {la:.10g})  weight {w:.10g}")
        print(f"mean = {info['mean']:.10g}  var = {info['var']:.10g}")
        print("quantiles: " + ", ".join(f"{k}: {v:.6g}" for k, v in info["quantiles"].items()))
    return 0


def _cmd_select(ns) -> int:
    from . import select as sel
    from .jsonio import dumps

    rec = sel.recommend(ns.q0, ns.depth, ns.activation, eps=ns.eps, kappa=ns.kappa)
    lo, hi = rec["feasible_sigma_interval"] or (math.nan, math.nan)
    best = rec["best_sigma"] if rec["best_sigma"] is not None else math.nan
    sigma = ns.sigma if ns.sigma is not None else (rec["sigma"] if rec["feasible"] else 1.0)
    summary = sel.summarize(sigma, ns.q0, ns.depth, ns.activation, eps=ns.eps, kappa=ns.kappa)
    out = {
        "depth": ns.depth, "q0": ns.q0, "eps": ns.eps, "kappa": ns.kappa, "activation": ns.activation,
        "nothing_feasible": not rec["feasible"],
        "recommended_sigma": rec["sigma"],
        "feasible_sigma_interval": [lo, hi], "best_sigma": best, "sigma": sigma,
        **{k: getattr(summary, k) for k in _SELECT_DETAILS},
        "summary": summary.as_dict(),
        "recommendation": {k: v for k, v in rec.items() if k != "lines"},
        "text": rec["lines"],
    }
    if ns.json:
        print(dumps(out))
    else:
        print("\n".join(rec["lines"]))
        which = "given" if ns.sigma is not None else ("recommended" if rec["feasible"] else "reference")
        print(f"Details at the {which} sigma = {sigma:.10g}:")
        for key in _SELECT_DETAILS:
            print(f"  {key}: {_fmt(out[key])}")
    return 0 if rec["feasible"] else 1


# the per-setting numbers `select` prints (all of them are in the JSON under "summary")
_SELECT_DETAILS = ("dead_fraction", "gradient_scale", "feasible", "trainable", "max_q0", "max_depth")


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and math.isinf(v):
        return "unbounded"
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _cmd_sweep(ns) -> int:
    import numpy as np

    from . import select as sel
    from .atomic import atomic_write_bytes

    out = _writable(ns.out)
    if out.suffix != ".npz":
        raise ValueError(f"--out must end in .npz (the sweep is a numpy .npz archive), got {ns.out!r}")
    plot = _writable(ns.plot) if ns.plot else None
    sig = _grid("sigma", ns.sigma) if ns.sigma else np.exp(np.linspace(-4, 4, 201) / ns.depth)
    qq = _grid("q0", ns.q0)
    if plot is not None and (sig.size < 2 or qq.size < 2):
        raise ValueError(f"--plot needs at least 2 points on each axis, got {sig.size} sigma x {qq.size} q0 "
                         "(drop --plot for a single line or point)")
    reg = sel.feasible_region(ns.depth, ns.activation, eps=ns.eps, kappa=ns.kappa, sigma=sig, q0=qq,
                              progress=not ns.no_progress)
    buf = io.BytesIO()
    np.savez_compressed(buf, sigma=reg.sigma, q0=reg.q0, mask=reg.mask, alive=reg.alive,
                        log_scale=reg.log_scale, q0_max=reg.q0_max, depth=reg.depth, eps=reg.eps,
                        kappa=reg.kappa, activation=reg.activation)
    atomic_write_bytes(out, buf.getvalue())
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from .plotting import phase_diagram

        fig, ax = plt.subplots(figsize=(7.5, 5.5))
        phase_diagram(ns.depth, region=reg, ax=ax)
        atomic_save_png(fig, plot)
        plt.close(fig)
    print(f"wrote {out}{' and ' + str(plot) if plot else ''}: {reg.mask.shape[1]} sigma x {reg.mask.shape[0]} q0, "
          f"{reg.fraction:.4f} feasible, {reg.info['seconds']:.2f} s")
    return 0


_COMMANDS = {"report": _cmd_report, "alpha": _cmd_alpha, "law": _cmd_law, "select": _cmd_select,
             "sweep": _cmd_sweep}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 1 nothing feasible, 2 user error)."""
    try:
        ns = build_parser().parse_args(argv)
        return _COMMANDS[ns.command](ns)
    except _UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError, argparse.ArgumentTypeError) as exc:
        # library parameter checks and unwritable outputs are user errors: one line, no traceback
        msg = " ".join(str(exc).split()) or type(exc).__name__
        print(f"rmt-idinit: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
