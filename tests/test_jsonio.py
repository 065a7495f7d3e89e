"""Strict JSON (rmt_idinit.jsonio): what is replaced, where the reason goes, what is refused.

The reference parser is the standard library's with every non-finite constant refused, which is
what JavaScript's JSON.parse, Go's encoding/json and jq do.
"""
import json
import math

import numpy as np
import pytest

from rmt_idinit.jsonio import dumps, loads_strict, strict


def _strict(text):
    def refuse(name):
        raise AssertionError(f"strict parsers reject the constant {name}")
    return json.loads(text, parse_constant=refuse)


def test_strict_parser_really_refuses():
    with pytest.raises(AssertionError):
        _strict('{"a": Infinity}')
    for bad in ("[NaN]", '{"a": Infinity}', "[-Infinity]"):
        with pytest.raises(ValueError, match="not strict JSON"):
            loads_strict(bad)


def test_dumps_replaces_non_finite_with_null_and_a_reason():
    obj = {"a": np.float64(np.inf), "b": [1.0, np.nan], "c": {"d": -math.inf}, "e": np.arange(3)}
    out = _strict(dumps(obj))
    assert out["a"] is None and out["b"] == [1.0, None] and out["c"]["d"] is None and out["e"] == [0, 1, 2]
    assert out["non_finite"] == {"a": "+inf", "b[1]": "nan", "c.d": "-inf"}
    assert _strict(dumps({"x": 1})) == {"x": 1}      # no note when nothing was replaced


def test_numpy_types_become_plain_json_types():
    notes = {}
    out = strict({1: (np.int64(3), np.bool_(True), np.float32(0.5)), "m": np.array([[1.5, np.inf]])}, notes)
    assert out == {"1": [3, True, 0.5], "m": [[1.5, None]]}
    assert [type(v) for v in out["1"]] == [int, bool, float]
    assert notes == {"m[0][1]": "+inf"}


def test_finite_doubles_survive_the_round_trip_bit_for_bit():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.standard_normal(50) * 10.0 ** rng.integers(-300, 300, 50),
                        [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, -0.0, 0.1]])
    back = loads_strict(dumps({"x": x}))["x"]
    assert np.array_equal(np.array(back), x) and math.copysign(1.0, back[-2]) == -1.0


def test_a_reason_needs_an_object_to_live_in():
    with pytest.raises(ValueError, match="outside a JSON object"):
        dumps([1.0, float("nan")])
    assert loads_strict(dumps([1.0, 2.0], indent=None)) == [1.0, 2.0]
    assert "\n" not in dumps({"a": [1, 2]}, indent=None)
