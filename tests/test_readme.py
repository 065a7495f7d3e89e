"""The README's quick start must run as written, and its stated numbers must be true."""
import re
from pathlib import Path

import pytest

import rmt_idinit as ri

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_quick_start_runs():
    blocks = python_blocks()
    assert blocks, "README has no python block"
    exec(compile(blocks[0], "README quick start", "exec"), {})


def test_quick_start_numbers():
    assert float(ri.alpha(1.02, 0.1, 50)) == pytest.approx(0.759955, abs=5e-7)
    assert float(ri.alpha_complement(1.0, 2e-3, 1)) == pytest.approx(9.505e-111, rel=1e-3)
    from rmt_idinit import select

    assert float(select.best_sigma(0.2064, 100, eps=0.05, kappa=10)) == pytest.approx(0.999998, abs=1e-6)
    assert not bool(select.is_trainable(0.9, 0.2064, 100))


def test_two_commands_are_what_ci_runs():
    text = README.read_text()
    assert "make report" in text and "make test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M)
    assert "rmt_idinit report" in (README.parent / "Makefile").read_text()
