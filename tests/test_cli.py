import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rmt_idinit.cli import main


def _run(capsys, *args):
    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize("args", [
    [], ["bogus"], ["alpha"], ["alpha", "-1", "0.1", "5"], ["alpha", "1", "x", "5"], ["alpha", "1", "0.1", "0"],
    ["alpha", "1", "0.1", "5", "--activation", "nope"],
    ["law", "1", "0.1", "2.5"], ["law", "1", "0.1", "5", "--plot", "/nonexistent/dir/x.png"],
    ["select", "--depth", "10"], ["select", "--depth", "10", "--q0", "0.1", "--eps", "1.5"],
    ["select", "--depth", "10", "--q0", "0.1", "--kappa", "1"], ["select", "--depth", "10", "--q0", "-2"],
    ["sweep", "--depth", "10"], ["sweep", "--depth", "10", "--out", "/nonexistent/dir/x.npz"],
    ["sweep", "--depth", "10", "--out", "x.npz", "--q0", "1", "0.1", "5"],
    ["sweep", "--depth", "10", "--out", "x.npz", "--sigma", "0.9", "1.1", "zero"],
    ["report", "--eps", "0"], ["report", "--depth", "-3"], ["report", "--kappa", "0.2"],
])
def test_bad_arguments_exit_2_one_line(capsys, args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("rmt-idinit")


def test_subprocess_no_traceback():
    r = subprocess.run([sys.executable, "-m", "rmt_idinit", "select", "--depth", "10", "--q0", "0.1", "--eps", "2"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip() == "rmt-idinit: error: eps must be a number in the open interval (0, 1), got 2.0"


def test_alpha_law_select(capsys):
    code, out, _ = _run(capsys, "alpha", "1.02", "0.1", "50")
    assert code == 0 and "alpha = 0.7599549998" in out
    code, out, _ = _run(capsys, "alpha", "1.02", "0.1", "3", "--layers")
    assert code == 0 and len(out.splitlines()) == 3
    code, out, _ = _run(capsys, "law", "1.02", "0.1", "50", "--json")
    assert json.loads(out)["weights"][0] == pytest.approx(0.759955, abs=1e-6)
    code, out, _ = _run(capsys, "select", "--depth", "100", "--q0", "0.2", "--json")
    res = json.loads(out)
    assert res["feasible"] and res["feasible_sigma_interval"][0] <= res["best_sigma"] <= res["feasible_sigma_interval"][1]


def test_sweep_writes_atomically(capsys, tmp_path):
    out = tmp_path / "r.npz"
    code, text, err = _run(capsys, "sweep", "--depth", "50", "--out", str(out), "--q0", "1e-3", "1", "30",
                           "--sigma", "0.95", "1.05", "40", "--plot", str(tmp_path / "p.png"), "--no-progress")
    assert code == 0, err
    z = np.load(out)
    assert z["mask"].shape == (30, 40) and (tmp_path / "p.png").stat().st_size > 1000
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_report(capsys, tmp_path):
    code, text, err = _run(capsys, "report", "--out", str(tmp_path / "rep"), "--depth", "30", "--no-progress")
    assert code == 0, err
    assert text.splitlines()[1].startswith("Recommendation: sigma = ")
    from rmt_idinit.jsonio import loads_strict

    res = loads_strict((tmp_path / "rep" / "results.json").read_text())
    for name in ("phase_diagram.png", "layer_alphas.png", "law.png", "summary.md", "summary.html"):
        assert (tmp_path / "rep" / name).stat().st_size > 100
    assert res["setting"]["depth"] == 30
    b, rec = res["settings"]["best"], res["recommendation"]
    lo, hi = res["feasible_sigma_interval"]
    assert lo <= b["sigma"] <= hi and b["feasible"] and lo <= rec["sigma"] <= hi
    assert res["settings"]["recommended"]["sigma"] == rec["sigma"]
    assert "Recommendation: sigma" in (tmp_path / "rep" / "summary.md").read_text()


def test_select_infeasible_exits_1_and_says_why(capsys):
    code, out, err = _run(capsys, "select", "--depth", "100", "--q0", "50")
    assert code == 1 and not err
    assert out.startswith("Nothing is feasible") and "nan" not in out
    assert "dead fraction" in out.splitlines()[1] and "q0 <= 0.2664 at depth 100" in out
    code, out, _ = _run(capsys, "select", "--depth", "100", "--q0", "50", "--json")
    res = json.loads(out, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert code == 1 and res["nothing_feasible"] and res["best_sigma"] is None
    assert res["non_finite"]["best_sigma"] == "nan"
    assert res["recommendation"]["why"]["constraint"] == "dead_fraction"


def test_select_leads_with_rounded_recommendation(capsys):
    code, out, _ = _run(capsys, "select", "--depth", "100", "--q0", "0.2064")
    assert code == 0
    first = out.splitlines()[0]
    # the interval [0.98855, 1.00116] has width 0.0126: three decimals, not 0.99999800
    assert first == "Recommendation: sigma = 1.000 (every sigma in [0.98855, 1.00116] is feasible)."
    assert "0.99999800" not in out
    code, out, _ = _run(capsys, "select", "--depth", "100", "--q0", "0.2064", "--json")
    res = json.loads(out)
    assert res["best_sigma"] == pytest.approx(0.999998, abs=1e-6) and res["recommended_sigma"] == 1.0


def test_alpha_smooth_shows_dead_fraction_and_median(capsys):
    import rmt_idinit as ri

    code, out, _ = _run(capsys, "alpha", "1.02", "0.1", "20", "--activation", "tanh", "--kappa", "10")
    assert code == 0 and "alpha = 1" not in out and "smooth" in out
    dead = float(out.split("dead fraction P(lambda < 0.1) = ")[1].split()[0])
    med = float(out.split("median lambda = ")[1].split()[0])
    # independent reference: the pushforward law's own cdf/ppf (quadrature), not the level sets
    law = ri.jjt_law(1.02, 0.1, 20, "tanh")
    assert dead == pytest.approx(float(law.cdf(0.1)), rel=1e-7)
    assert med == pytest.approx(float(law.ppf(0.5)), rel=1e-7)
    code, out, _ = _run(capsys, "alpha", "1.02", "0.1", "5", "--activation", "tanh", "--layers")
    rows = [ln.split("\t") for ln in out.splitlines()[2:]]
    assert code == 0 and len(rows) == 5
    assert float(rows[0][1]) < float(rows[-1][1])     # deeper layers: more units below 1/kappa


def test_sweep_refuses_wrong_extension_and_one_point_plot(capsys, tmp_path):
    code, _, err = _run(capsys, "sweep", "--depth", "10", "--out", str(tmp_path / "x.txt"))
    assert code == 2 and ".npz" in err
    code, _, err = _run(capsys, "sweep", "--depth", "10", "--out", str(tmp_path / "x.npz"), "--q0", "0.1", "0.1", "1",
                        "--plot", str(tmp_path / "x.png"), "--no-progress")
    assert code == 2 and "at least 2 points" in err
    assert not (tmp_path / "x.npz").exists()           # refused before any work is written


def test_report_explicit_missing_data_dir_is_an_error(capsys, tmp_path):
    code, _, err = _run(capsys, "report", "--out", str(tmp_path / "r"), "--data-dir", str(tmp_path / "nope"))
    assert code == 2 and "data_dir does not exist" in err and not (tmp_path / "r").exists()


@pytest.mark.parametrize("cmd", ["report", "select", "sweep"])
def test_depth_and_q0_have_help(capsys, cmd):
    from rmt_idinit.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices[cmd]
    helps = {a.dest: a.help for a in sub._actions}
    assert "depth" in helps["depth"] and "variance" in helps["q0"]


def test_select_and_report_print_the_same_summary(capsys, tmp_path):
    code, out, _ = _run(capsys, "select", "--depth", "30", "--q0", "0.2064", "--json")
    assert code == 0
    sel_summary = json.loads(out)["summary"]
    code, _, err = _run(capsys, "report", "--out", str(tmp_path / "rep"), "--depth", "30", "--q0", "0.2064",
                        "--no-progress")
    assert code == 0, err
    rep = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert rep["settings"]["recommended"] == sel_summary
    assert sel_summary["sigma"] == json.loads(out)["recommended_sigma"]
    for key in ("dead_fraction", "gradient_scale", "feasible", "trainable", "max_q0", "max_depth"):
        assert json.loads(out)[key] == sel_summary[key]
