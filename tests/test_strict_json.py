"""Every JSON the project writes parses with a strict parser (no NaN / Infinity constants)."""
import json
from pathlib import Path

import numpy as np
import pytest

from rmt_idinit.cli import main
ROOT = Path(__file__).resolve().parent.parent


def _strict(text):
    def refuse(name):
        raise AssertionError(f"strict parsers reject the constant {name}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("args", [
    ["select", "--depth", "100", "--q0", "0.2064", "--json"],        # max_depth is +inf at sigma = 1
    ["select", "--depth", "100", "--q0", "50", "--json"],            # nothing feasible: NaN interval
    ["law", "1.02", "0.1", "50", "--json"],
    ["law", "1.5", "0.1", "2000", "--json"],                         # sigma^(2L) overflows float64
])
def test_cli_json_is_strict(capsys, args):
    code = main(args)
    out = capsys.readouterr().out
    assert code in (0, 1)
    res = _strict(out)
    assert isinstance(res, dict)


def test_validation_writer_is_strict(tmp_path):
    from validation._common import atomic_write_json

    atomic_write_json(tmp_path / "v.json", {"x": float("inf"), "y": np.array([np.nan, 1.0])})
    res = _strict((tmp_path / "v.json").read_text())
    assert res["x"] == "inf" and res["y"][0] == "nan"     # strings: still valid JSON


def test_committed_validation_results_are_strict():
    files = sorted((ROOT / "validation" / "results").rglob("*.json"))
    assert files, "no committed validation results"
    for path in files:
        _strict(path.read_text())
