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
    res = json.loads((tmp_path / "rep" / "results.json").read_text())
    for name in ("phase_diagram.png", "layer_alphas.png", "law.png", "summary.md", "summary.html"):
        assert (tmp_path / "rep" / name).stat().st_size > 100
    assert res["setting"]["depth"] == 30 and res["settings"]["sigma_1"]["sigma"] == 1.0
    b = res["settings"]["best"]
    lo, hi = res["feasible_sigma_interval"]
    assert lo <= b["sigma"] <= hi and b["feasible"]
    assert "best sigma" in (tmp_path / "rep" / "summary.md").read_text()
