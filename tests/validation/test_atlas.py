"""Trainability atlas: cells on a dask LocalCluster survive a killed coordinator and a killed worker,
and a cell's result does not depend on the process that ran it."""
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from rmt_idinit.data import DEFAULT_FASHION_MNIST_DIR

pytestmark = [
    pytest.mark.torch,
    pytest.mark.skipif(not DEFAULT_FASHION_MNIST_DIR.is_dir(), reason="dataset-fashion-mnist not installed"),
]

ROOT = Path(__file__).resolve().parents[2]


def _strict_load(path):
    def bad(const):
        raise ValueError(f"non-strict JSON constant {const} in {path}")

    return json.loads(Path(path).read_text(), parse_constant=bad)


def _comparable(rec):
    """A cell record without what legitimately differs between runs (wall times)."""
    return {k: v for k, v in rec.items() if k != "seconds"}


def _snapshot(cells_dir):
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in Path(cells_dir).glob("*.json")}


def _wait_for_cells(cells_dir, n, timeout, proc=None):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if len(list(Path(cells_dir).glob("*.json"))) >= n:
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def test_empirical_law_matches_torch_network():
    """The per-coordinate numpy recursion against the diagonal of J of a real identity-init torch
    network (float64): the same numbers up to round-off (relative 1e-12 over <= 30 layers)."""
    import torch

    from rmt_idinit.nn import IdentityMLP, hidden_jacobian
    from validation.atlas import empirical_log_lambda

    rng = np.random.default_rng(3)
    u = rng.normal(0.0, 0.6, size=40)
    for act in ("hardtanh", "tanh"):
        for sigma, depth in ((0.875, 7), (1.0, 30), (1.125, 5)):  # exact in float32
            m = IdentityMLP(40, depth, act, sigma=sigma).double()
            diag = hidden_jacobian(m, torch.from_numpy(u)[None]).diagonal(dim1=1, dim2=2)[0].numpy()
            ref = diag**2
            got = np.exp(empirical_log_lambda(u, sigma, depth, act))
            assert np.array_equal(ref == 0, got == 0), (act, sigma, depth)
            nz = ref > 0
            np.testing.assert_allclose(got[nz], ref[nz], rtol=1e-12)


def test_agreement_statistics_by_hand():
    from validation.atlas import balanced_accuracy, trained_threshold

    assert trained_threshold([0.1, 0.5, 0.9]) == pytest.approx(0.5)
    # 3 positives (2 found), 2 negatives (1 found): (2/3 + 1/2) / 2
    r = balanced_accuracy([True, True, False, True, False], [True, True, True, False, False])
    assert r["balanced_accuracy"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert (r["tp"], r["fn"], r["fp"], r["tn"]) == (2, 1, 1, 1)
    assert balanced_accuracy([True, False], [True, True])["balanced_accuracy"] is None


@pytest.mark.slow
def test_quick_atlas_survives_kills_and_is_worker_independent(tmp_path):
    from dask.distributed import Client, LocalCluster

    from validation import atlas

    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out_a = tmp_path / "a"
    cmd = [sys.executable, "-m", "validation.atlas", "--preset", "quick", "--out", str(out_a), "--workers", "2",
           "--no-progress"]

    # 1. SIGKILL the coordinator (and its LocalCluster: the whole process group) mid-grid
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        assert _wait_for_cells(out_a / "cells", 2, 120, proc), proc.stderr.read().decode()[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    before = _snapshot(out_a / "cells")
    cfg = atlas.make_config("quick", out=str(out_a))
    n_total = len(atlas.build_cells(cfg, atlas.load_data(None, cfg.downsample, cfg.n_train, cfg.n_test)["q0_data"]))
    assert 2 <= len(before) < n_total, "the kill came too late to test a resume"

    # 2. rerun on a LocalCluster owned by this test, and SIGKILL one of its workers mid-grid: the
    # nanny restarts it and its task is rerun; finished cells are skipped (files untouched)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        cfg = atlas.make_config("quick", out=str(out_a), scheduler=cluster.scheduler_address, progress=False)
        box = {}
        th = threading.Thread(target=lambda: box.setdefault("rep", atlas.run(cfg)))
        th.start()
        assert _wait_for_cells(out_a / "cells", len(before) + 1, 120)
        n_at_kill = len(list((out_a / "cells").glob("*.json")))
        os.kill(pids[0], signal.SIGKILL)
        th.join(180)
        assert not th.is_alive()
    assert n_at_kill < n_total, "the worker kill came too late to test it"
    assert not box["rep"]["failed"]
    after = _snapshot(out_a / "cells")
    assert len(after) == n_total
    for name, (mtime, data) in before.items():
        assert after[name] == (mtime, data), f"{name} was recomputed or rewritten"
    rep = _strict_load(out_a / "atlas.json")
    assert rep["n_done"] == rep["n_total"] == n_total and rep["complete"]
    for c in rep["cells"]:
        assert {"init", "activation", "depth", "test_accuracy", "predicted_trainable"} <= set(c)
        assert isinstance(c["predicted_trainable"], bool)
        assert ({"sigma", "q0"} if c["init"] == "identity" else {"sigma_w2", "sigma_b2"}) <= set(c)
        assert 0.0 <= c["test_accuracy"] <= 1.0
    ag = rep["agreement"]
    assert ag["threshold"] == pytest.approx(0.5 * (0.1 + max(c["test_accuracy"] for c in rep["cells"])))
    for name in rep["figures"]:
        assert (out_a / name).stat().st_size > 10_000
    for p in (out_a / "cells").glob("*.json"):
        _strict_load(p)

    # 3. cells recomputed in this process match the files written from the workers' results exactly
    # (one run by the killed subprocess's cluster, one by the second cluster)
    recs = {c["id"]: _comparable(c) for c in rep["cells"]}
    old_id = Path(sorted(before)[0]).stem
    new_id = next(i for i in recs if f"{i}.json" not in before)
    for cell in atlas.build_cells(cfg, rep["q0_data"]):
        if cell["id"] in (old_id, new_id):
            mine = atlas.run_cell(cell)
            assert _comparable(json.loads(json.dumps(mine))) == recs[cell["id"]]
            assert math.isfinite(mine["test_accuracy"])


def test_active_fraction_of_a_real_network_matches_theory_alpha():
    """Monte Carlo of an identity-init hard-tanh net (sigma = 1.02 > 1, Gaussian inputs) against
    alpha^l = erf(sigma^(-l) / sqrt(2 q0)): 400 x 100 = 40000 coordinates per layer, so the
    binomial standard deviation is <= 0.0025; the tolerance is 5 of them."""
    import torch

    import rmt_idinit as ri
    from rmt_idinit.nn import IdentityMLP
    from validation.atlas import active_fractions, alive_paths, layer_stats

    q0, sigma, depth = 0.3, 1.02, 40
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(400, 100, generator=gen, dtype=torch.float64) * q0**0.5
    m = IdentityMLP(100, depth, "hardtanh", sigma=sigma).double()
    theory = np.array([float(ri.alpha(sigma, q0, l)) for l in range(1, depth + 1)])
    got = active_fractions(m, x)
    assert np.max(np.abs(got - theory)) < 5 * 0.0025
    # sigma > 1: a unit linear at layer l was linear at every earlier layer, so both agree exactly
    np.testing.assert_array_equal(alive_paths(m, x), got)
    # the weights hold float32(1.02), off by <= 6e-8 relative
    np.testing.assert_allclose(layer_stats(m, x)["gain"], sigma, rtol=1e-7)


def test_effective_sigma_fit_recovers_a_known_sigma():
    from validation.atlas import effective_sigma_fit

    u = np.random.default_rng(0).normal(0, 0.5, 20000)
    layers = np.arange(1, 101)
    for sigma in (1.004, 1.02):
        curve = np.mean(np.abs(u)[None, :] < sigma ** -layers[:, None], axis=1)
        fit = effective_sigma_fit(curve, u)
        # a few coordinates sit within round-off of a layer's threshold sigma^(-l) and may flip
        assert fit["max_abs_deviation"] <= 5 / u.size
        # the curve is a step function of sigma: any sigma on the same steps fits; 1e-4 is far
        # below the step width that a change of one coordinate at layer 100 would need
        assert abs(fit["sigma_eff"] - sigma) < 1e-4
