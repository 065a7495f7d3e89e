"""Count where each shared concept lives in the package, for the architecture notes.

Run from a checkout: ``python tools/structure_census.py [--json]``. It reads the source as text
(nothing is imported except for the public names), so it can be pointed at an old commit checked
out elsewhere with ``--root DIR``.
"""
from __future__ import annotations

import argparse
import ast
import json
import pathlib
import re
import subprocess
import sys

# concept -> regular expression of one definition or use site in the package source
CONCEPTS = {
    "Gauss-Legendre rule built": r"leggauss\(",
    "activation dispatch on a private code": r"\._code\b|\bcode == _",
    "activation dispatch on a name": r"\.name (?:==|!=|in|not in) |\bactivation == [\"']",
    "NaN-safe logsumexp (wrapper or raw call)": r"def \w*logsumexp\w*\(|special\.logsumexp\(",
    "Gaussian interval mass formula": r"def gaussian_interval_mass|ndtr\(\w+\) - special\.ndtr\(|erfc\([^()]*\) - special\.erfc\(",
    "atomic PNG writer defined": r"def \w*(save_png|save_fig)\w*\(",
    "ValueError raised outside the checks module": r"raise ValueError\(",
    "private name imported across modules": r"from \.+[\w.]* import (?:[^#\n]*,\s*)?_[a-zA-Z]\w*",
    "monkeypatched attribute on a law": r"law\.\w+ = |setattr\(law",
    # finer views of the same concepts (the patterns above are kept so that old counts compare)
    "Gauss rule built (Legendre, Hermite, Laguerre)": r"\b(?:leg|herme|lag)gauss\(",
    "Gaussian interval mass implemented (its right-tail term)": r"erfc\(a / s\)|ndtr\(b\) - special\.ndtr\(a\)",
    "figure written to disk (savefig)": r"\.savefig\(",
    "new-Axes-if-None helper defined": r"def (?:_ax|_axes|axes_or_new)\(",
    "parameter check by hand (name must be/lie ... in a raise)": r"raise ValueError\(f?\"\w+ must (?:be|lie)",
}


def census(root: pathlib.Path) -> dict:
    pkg = root / "rmt_idinit"
    pkg_files = sorted(p for p in pkg.rglob("*.py") if "__pycache__" not in p.parts)
    lines = {str(p.relative_to(root)): len(p.read_text().splitlines()) for p in pkg_files}
    out: dict = {"package_lines": sum(lines.values()), "package_files": len(pkg_files), "concepts": {}}
    # concepts are counted in the package and in the scripts that use it
    files = pkg_files + sorted(p for d in ("validation", "benchmarks") for p in (root / d).rglob("*.py")
                               if "__pycache__" not in p.parts)
    for name, rx in CONCEPTS.items():
        where: dict[str, int] = {}
        pat = re.compile(rx, re.M)
        for p in files:
            rel = str(p.relative_to(root))
            if name.startswith("ValueError") and rel.endswith(("checks.py", "_checks.py")):
                continue
            n = len(pat.findall(p.read_text()))
            if n:
                where[rel] = n
        out["concepts"][name] = {"sites": sum(where.values()), "modules": len(where), "where": where}
    where = _private_uses(pkg, root)
    out["concepts"]["private name used across modules (AST: imports and module._name)"] = {
        "sites": sum(where.values()), "modules": len(where), "where": where}
    init = ast.parse((pkg / "__init__.py").read_text())
    code = (f"import sys; sys.path.insert(0, {str(root)!r}); import rmt_idinit as ri; "
            "print(len([n for n in ri.__all__ if not n.startswith('__')]))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    out["top_level_public_names"] = int(res.stdout.strip()) if res.returncode == 0 else None
    del init
    return out


def _private_uses(pkg: pathlib.Path, root: pathlib.Path) -> dict[str, int]:
    """Per module: names with one leading underscore imported from, or read off, another package module.

    Counts ``from .x import _y`` (every name, also in multi-line imports) and ``mod._y`` where ``mod``
    was imported from the package; private *modules* imported under an alias (``from . import
    _logu``) are not counted, only private names read out of a module.
    """
    where: dict[str, int] = {}
    for p in sorted(q for q in pkg.rglob("*.py") if "__pycache__" not in q.parts):
        tree = ast.parse(p.read_text())
        aliases, n = set(), 0
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level > 0:
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        n += 1
                    aliases.add(a.asname or a.name)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_") and not node.attr.startswith("__")):
                n += 1
        if n:
            where[str(p.relative_to(root))] = n
    return where


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=".", help="checkout to read (default: here)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--before", metavar="DIR",
                    help="an older checkout (e.g. a `git worktree add` of a past commit): print a markdown "
                         "table of both, before and after")
    ns = ap.parse_args(argv)
    res = census(pathlib.Path(ns.root).resolve())
    if ns.before:
        old = census(pathlib.Path(ns.before).resolve())
        print("| measure | before | after |\n|---|---|---|")
        for key, label in (("package_lines", "package lines"), ("package_files", "package files"),
                           ("top_level_public_names", "top-level public names")):
            print(f"| {label} | {old[key]} | {res[key]} |")
        for name, c in res["concepts"].items():
            o = old["concepts"].get(name, {"sites": 0, "modules": 0})
            print(f"| {name} (sites / modules) | {o['sites']} / {o['modules']} | {c['sites']} / {c['modules']} |")
        return
    if ns.json:
        print(json.dumps(res, indent=1))
        return
    print(f"package: {res['package_lines']} lines in {res['package_files']} files; "
          f"top-level public names: {res['top_level_public_names']}")
    for name, c in res["concepts"].items():
        print(f"  {name:64s} {c['sites']:4d} sites in {c['modules']:2d} modules")


if __name__ == "__main__":
    main()
