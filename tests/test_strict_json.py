"""Every JSON the project writes parses with a strict parser (no NaN / Infinity constants)."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from rmt_idinit.cli import main
from rmt_idinit.jsonio import dumps, loads_strict

ROOT = Path(__file__).resolve().parent.parent


def _strict(text):
    def refuse(name):
        raise AssertionError(f"strict parsers reject the constant {name}")
    return json.loads(text, parse_constant=refuse)


def test_strict_parser_really_refuses():
    with pytest.raises(AssertionError):
        _strict('{"a": Infinity}')
    with pytest.raises(ValueError):
        loads_strict("[NaN]")


def test_dumps_replaces_non_finite_with_null_and_a_reason():
    obj = {"a": np.float64(np.inf), "b": [1.0, np.nan], "c": {"d": -math.inf}, "e": np.arange(3)}
    out = _strict(dumps(obj))
    assert out["a"] is None and out["b"] == [1.0, None] and out["c"]["d"] is None and out["e"] == [0, 1, 2]
    assert out["non_finite"] == {"a": "+inf", "b[1]": "nan", "c.d": "-inf"}
    assert _strict(dumps({"x": 1})) == {"x": 1}      # no note when nothing was replaced


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
