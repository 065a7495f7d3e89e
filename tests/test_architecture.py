"""The layers of docs/architecture.md hold in the source: imports at module level only go down.

The layer table and the import scan live in tools/architecture_diagram.py, which also draws the
picture in the docs, so the picture, the rule and this test cannot drift apart.
"""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("architecture_diagram", ROOT / "tools" / "architecture_diagram.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_module_has_a_layer():
    _, _, unplaced = _tool().rows(ROOT)
    assert unplaced == [], f"give {unplaced} a layer in tools/architecture_diagram.py LAYERS"


def test_module_level_imports_never_reach_a_higher_layer():
    found = _tool().upward_imports(ROOT)
    assert [f for f in found if not f[3]] == []
    # the lazy ones are few and named in docs/architecture.md
    assert {(a, b) for _, a, b, _ in found} <= {("report", "data"), ("random_init", "plotting")}


def test_the_scan_sees_an_upward_import(tmp_path):
    # a package whose core imports its interface at module level must be caught
    pkg = tmp_path / "rmt_idinit"
    (pkg / "_core").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "_core" / "__init__.py").write_text("")
    (pkg / "_core" / "checks.py").write_text("from ..cli import main\n\ndef f():\n    from .. import report\n")
    (pkg / "cli.py").write_text("")
    (pkg / "report.py").write_text("")
    found = _tool().upward_imports(tmp_path)
    assert sorted(found) == [("rmt_idinit/_core/checks.py", "_core", "cli", False),
                             ("rmt_idinit/_core/checks.py", "_core", "report", True)]


def test_the_picture_draws_without_overlapping_text():
    pytest.importorskip("matplotlib")
    from rmt_idinit.plotting import figure_problems

    fig, unplaced = _tool().draw(ROOT)
    import matplotlib.pyplot as plt

    try:
        assert figure_problems(fig) == []
    finally:
        plt.close(fig)
    assert (ROOT / "docs" / "_static" / "architecture.png").is_file()
