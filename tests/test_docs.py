"""The documentation builds with warnings as errors, and what the code cites exists in it."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
OUTSIDE = ("THEORY" + ".md", "DESIGN" + ".md")   # files that live outside the repository


def _sources():
    for top in ("rmt_idinit", "validation", "tests", "notebooks", "docs", "benchmarks"):
        for p in (ROOT / top).rglob("*"):
            if p.suffix in (".py", ".md", ".ipynb", ".rst") and "_build" not in p.parts:
                yield p


def test_no_citation_of_files_outside_the_repository():
    bad = [f"{p.relative_to(ROOT)}: {name}" for p in _sources() for name in OUTSIDE if name in p.read_text()]
    assert not bad


def test_cited_docs_pages_and_tests_exist():
    cited = {m for p in _sources() for m in re.findall(r"docs/[\w/]+\.md", p.read_text())}
    assert "docs/theory/identity.md" in cited
    assert [c for c in cited if not (ROOT / c).is_file()] == []
    for page in (DOCS / "theory").glob("*.md"):
        if page.name == "index.md":
            continue
        tests = re.findall(r"tests/((?:\w+/)*test_\w+\.py)", page.read_text())
        assert tests, f"{page.name} points to no test"
        assert [t for t in tests if not (ROOT / "tests" / t).is_file()] == []


def test_stored_notebooks_match_the_sources_and_carry_outputs():
    nbformat = pytest.importorskip("nbformat")
    for src in sorted((ROOT / "notebooks").glob("*.ipynb")):
        stored = DOCS / "notebooks" / src.name
        assert stored.is_file(), f"{src.name}: run `make docs-notebooks`"
        a, b = nbformat.read(src, 4), nbformat.read(stored, 4)
        code = lambda nb: [c.source for c in nb.cells if c.cell_type == "code"]  # noqa: E731
        assert code(a) == code(b), f"{src.name} changed since it was executed: run `make docs-notebooks`"
        outs = [o for c in b.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        assert outs and not [o for o in outs if o.get("output_type") == "error"], src.name
        assert any("image/png" in o.get("data", {}) for o in outs), f"{src.name} shows no figure"


def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    pytest.importorskip("myst_nb")
    out = tmp_path / "html"
    r = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                        "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "jjt_law" in (out / "api" / "identity.html").read_text()
    assert "Recommendation" in (out / "index.html").read_text()
    nb = (out / "notebooks" / "02_parameter_selection_100_layers.html").read_text()
    assert "<img" in nb            # the stored outputs are rendered
