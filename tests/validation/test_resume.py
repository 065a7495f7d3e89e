"""Kill-and-resume: an interrupted training run ends bit-identical to an uninterrupted one."""
import json

import pytest
import torch

from rmt_idinit.data import DEFAULT_FASHION_MNIST_DIR

pytestmark = [
    pytest.mark.torch,
    pytest.mark.skipif(not DEFAULT_FASHION_MNIST_DIR.is_dir(), reason="dataset-fashion-mnist not installed"),
]


class Killed(Exception):
    pass


def _cfg(out):
    from validation import train_drift

    return train_drift.make_config(
        "quick", out=str(out), inits=("identity", "gaussian"), depth=3, n_train=120, n_test=60,
        batch_size=20, epochs_identity=2, epochs_baseline=2, checkpoint_every=2, probe_size=1,
        threads=1, progress=False, spectral_drift=False,
    )


def _strip(hist):
    return {k: v for k, v in hist.items() if k not in ("epoch_seconds", "eval_seconds", "resumed_at")}


@pytest.mark.slow
def test_interrupted_run_resumes_bit_identical(tmp_path):
    from validation import train_drift
    from validation._common import load_checkpoint

    ref = train_drift.run(_cfg(tmp_path / "ref"))

    def kill_at(init, epoch, step):
        def cb(i, e, s):
            if (i, e, s) == (init, epoch, step):
                raise Killed(f"{i} {e} {s}")
        return cb

    out = tmp_path / "killed"
    # mid-epoch 1 of identity (last checkpoint at step 2, so step 3 is lost and redone) ...
    with pytest.raises(Killed):
        train_drift.run(_cfg(out), callback=kill_at("identity", 0, 3))
    ck = load_checkpoint(out / "ckpt_identity.pt")
    assert (ck["epoch"], ck["step"]) == (0, 2)
    # ... then mid-epoch 2 of the Gaussian baseline, after identity had finished
    with pytest.raises(Killed):
        train_drift.run(_cfg(out), callback=kill_at("gaussian", 1, 5))
    assert (out / "history_identity.json").exists()
    res = train_drift.run(_cfg(out))

    for init in ("identity", "gaussian"):
        a, b = ref["models"][init]["history"], res["models"][init]["history"]
        assert _strip(a) == _strip(b), init  # every recorded number, exactly
        assert "resumed_at" in b and "resumed_at" not in a
        sa = load_checkpoint(tmp_path / "ref" / f"ckpt_{init}.pt")
        sb = load_checkpoint(out / f"ckpt_{init}.pt")
        for k in sa["model"]:
            assert torch.equal(sa["model"][k], sb["model"][k]), (init, k)
        assert torch.equal(sa["rng"]["torch"], sb["rng"]["torch"])
    assert res["models"]["identity"]["history"]["resumed_at"] == [[0, 2]]
    assert res["models"]["gaussian"]["history"]["resumed_at"] == [[1, 4]]
    assert json.loads((out / "train_drift.json").read_text())["models"]["gaussian"]["epochs_trained"] == 2


def _one_epoch(out, **kw):
    from validation import train_drift

    cfg = _cfg(out)
    return train_drift.make_config(
        "quick", out=str(out), inits=("identity",), depth=kw.pop("depth", 3), n_train=40, n_test=20,
        batch_size=20, epochs_identity=1, epochs_baseline=1, probe_size=1, threads=1, progress=False,
        spectral_drift=False, lr=kw.pop("lr", cfg.lr), **kw)


@pytest.mark.parametrize("change", [{"lr": 0.5}, {"depth": 4}])
def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path, change):
    """Before: --lr 0.5 on an lr 1e-3 checkpoint exited 0 and recorded lr 0.5 while training went
    on at 1e-3; a depth mismatch died in load_state_dict without naming the checkpoint."""
    from validation import train_drift
    from validation._common import CheckpointError

    train_drift.run(_one_epoch(tmp_path, lr=1e-3))
    key = next(iter(change))
    with pytest.raises(CheckpointError, match=rf"checkpoint .*ckpt_identity\.pt was written with other settings.*'{key}'"
                                               r".*delete it"):
        train_drift.run(_one_epoch(tmp_path, **{"lr": 1e-3, **change}))


@pytest.mark.parametrize("damage", ["truncated", "empty", "structure"])
def test_damaged_checkpoint_is_named(tmp_path, damage):
    from validation import train_drift
    from validation._common import CheckpointError

    train_drift.run(_one_epoch(tmp_path))
    ck = tmp_path / "ckpt_identity.pt"
    if damage == "truncated":
        ck.write_bytes(ck.read_bytes()[: ck.stat().st_size // 2])
    elif damage == "empty":
        ck.write_bytes(b"")
    else:
        torch.save({"model": {}}, ck)
    with pytest.raises(CheckpointError, match=r"checkpoint .*ckpt_identity\.pt .*delete it"):
        train_drift.run(_one_epoch(tmp_path))
