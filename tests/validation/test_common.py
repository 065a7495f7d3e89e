"""The scaffolding the validation scripts share (validation/_common.py): presets, the command
line, the report folder. No training here; the resumable loop is exercised end to end by
test_resume.py (train_drift) and test_interpret.py (interpret)."""
import dataclasses
import json

import pytest

from validation._common import config_maker, open_report_folder, preset_overrides, preset_parser


@dataclasses.dataclass
class _Config:
    preset: str = "quick"
    out: str = "reports/x_quick"
    depth: int = 3
    threads: int | None = None
    device: str = "cpu"
    data_dir: str | None = None
    progress: bool = True


_PRESETS = {"quick": {"depth": 3}, "cpu": {"depth": 50, "device": "cpu"}}


def test_preset_then_overrides_and_the_default_folder():
    make = config_maker(_Config, _PRESETS, "x")
    assert make() == _Config(preset="quick", out="reports/x_quick", depth=3)
    cfg = make("cpu", depth=None, out="somewhere", threads=2)       # None keeps the preset's value
    assert (cfg.depth, cfg.out, cfg.threads, cfg.preset) == (50, "somewhere", 2, "cpu")
    with pytest.raises(ValueError, match=r"preset must be one of \['cpu', 'quick'\], got 'full'"):
        make("full")


def test_shared_options_become_overrides():
    p = preset_parser("x", _PRESETS, "x")
    p.add_argument("--depth", type=int)
    a = p.parse_args(["--preset", "cpu", "--threads", "4", "--data-dir", "d", "--no-progress", "--depth", "7"])
    kw = preset_overrides(a)
    assert kw == {"out": None, "threads": 4, "device": None, "data_dir": "d", "progress": False}
    cfg = config_maker(_Config, _PRESETS, "x")(a.preset, **kw, depth=a.depth)
    assert (cfg.out, cfg.threads, cfg.data_dir, cfg.progress, cfg.depth) == ("reports/x_cpu", 4, "d", False, 7)
    assert preset_overrides(p.parse_args([]))["progress"] is None   # the preset decides
    # a script that takes no --device does not get one
    only = preset_parser("x", _PRESETS, "x", common=("data_dir",))
    with pytest.raises(SystemExit):
        only.parse_args(["--device", "cuda"])
    assert "device" not in preset_overrides(only.parse_args([]))


def test_report_folder_is_created_with_its_config(tmp_path):
    pytest.importorskip("torch")
    cfg = _Config(out=str(tmp_path / "a" / "b"), threads=1)
    out, threads = open_report_folder(cfg, record_config=True)
    assert out.is_dir() and threads == 1
    rec = json.loads((out / "config.json").read_text())
    assert rec["config"]["depth"] == 3 and "numpy" in rec["versions"]
    out2, _ = open_report_folder(dataclasses.replace(cfg, out=str(tmp_path / "c")))
    assert out2.is_dir() and not (out2 / "config.json").exists()
