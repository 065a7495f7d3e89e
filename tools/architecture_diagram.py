"""Draw the layers of the package as a PNG, from the folders and modules that are really there.

Run from a checkout: ``python tools/architecture_diagram.py [--out docs/_static/architecture.png]``.
Each top-level module or subpackage of ``rmt_idinit/`` is placed in a layer by the table
``LAYERS`` below; the modules inside a subpackage are listed in its box, so the picture follows the
tree when files move. Deprecated aliases (modules whose docstring says "Deprecated alias") are
listed once at the bottom. A name the table does not know lands in a red "unplaced" row, and the
script exits with status 1 so that a new module is given its layer here. The text boxes are
checked for overlap with :func:`rmt_idinit.plotting.figure_problems` before the file is written.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]

# (layer title, what it is for, names of top-level modules / subpackages in it), from pure numerics
# (bottom) outward (top). Names that are not in the tree are skipped, so the table may list both
# an old and a new home of a concept while a move is under way.
LAYERS = [
    ("private core", "one place for what many modules share; never imported by users",
     ["_core"]),
    ("activations", "one record per activation, read by every layer above",
     ["activations"]),
    ("identity-init theory, float64", "laws, closed forms, quadrature, the layer recursion",
     ["laws", "identity", "piecewise", "pushforward", "recursion", "grid", "finite"]),
    ("same results at other precisions", "the same names and signatures as the float64 layer",
     ["precise", "symbolic"]),
    ("random-init baselines and selection", "built on the laws; no torch, no matplotlib",
     ["random_init", "select", "selection"]),
    ("interfaces and output", "the user-facing API, command line, report and files",
     ["__init__", "__main__", "cli", "report", "jsonio", "atomic", "errors", "plotting"]),
    ("optional extras", "torch (nn) and the data sets; import the numerics, never the reverse",
     ["nn", "data"]),
]
OUTSIDE = [("around the package", "thin scripts and checks that use the package",
            ["validation", "benchmarks", "notebooks", "tests", "docs", "tools"])]

WRAP = 34          # characters per line of a box's module list
FONT = 8.0         # points, monospace
CHAR_IN = 0.62 * FONT / 72.0   # width of one monospace character in inches
LINE_IN = 1.45 * FONT / 72.0   # height of one text line in inches


def _is_shim(path: pathlib.Path) -> bool:
    head = path.read_text()[:400]
    return head.lstrip('"').startswith("Deprecated alias")


def package_entries(pkg: pathlib.Path) -> tuple[dict[str, list[str]], list[str]]:
    """``{name: [modules inside]}`` for the package's top level, and the deprecated aliases."""
    entries: dict[str, list[str]] = {}
    shims: list[str] = []
    for p in sorted(pkg.iterdir()):
        if p.name.startswith(".") or p.name == "__pycache__":
            continue
        if p.is_dir() and (p / "__init__.py").is_file():
            inner = sorted(q.stem for q in p.glob("*.py") if q.stem != "__init__" and not _is_shim(q))
            shims += sorted(f"{p.name}/{q.stem}" for q in p.glob("*.py") if _is_shim(q))
            inner += sorted(q.name + "/" for q in p.iterdir() if q.is_dir() and (q / "__init__.py").is_file())
            entries[p.name] = inner
        elif p.suffix == ".py":
            if _is_shim(p):
                shims.append(p.stem)
            else:
                entries[p.stem] = []
    return entries, shims


def outside_entries(root: pathlib.Path) -> dict[str, list[str]]:
    out = {}
    for name in OUTSIDE[0][2]:
        d = root / name
        if d.is_dir():
            subs = sorted(q.name + "/" for q in d.iterdir()
                          if q.is_dir() and not q.name.startswith((".", "__")) and q.name != "_build")
            out[name] = subs[:8] + (["..."] if len(subs) > 8 else [])
    return out


def rows(root: pathlib.Path) -> tuple[list[tuple[str, str, list[tuple[str, list[str]]]]], list[str], list[str]]:
    entries, shims = package_entries(root / "rmt_idinit")
    placed: set[str] = set()
    out = []
    for title, why, names in LAYERS:
        boxes = []
        for n in names:
            if n in entries:
                label = n + "/" if entries[n] or (root / "rmt_idinit" / n).is_dir() else n + ".py"
                boxes.append((label, entries[n]))
                placed.add(n)
        if boxes:
            out.append((title, why, boxes))
    unplaced = sorted(set(entries) - placed)
    if unplaced:
        out.append(("unplaced", "give these a layer in tools/architecture_diagram.py",
                    [(n + ".py" if not entries[n] else n + "/", entries[n]) for n in unplaced]))
    outside = outside_entries(root)
    out.append((OUTSIDE[0][0], OUTSIDE[0][1], [(n + "/", v) for n, v in outside.items()]))
    return out, shims, unplaced


def layer_of(name: str) -> int | None:
    for i, (_, _, names) in enumerate(LAYERS):
        if name in names:
            return i
    return None


def upward_imports(root: pathlib.Path) -> list[tuple[str, str, str, bool]]:
    """``(file, importer, imported, lazy)`` for every package-relative import that reaches a higher
    layer; ``lazy`` when it sits inside a function (run on call, not on ``import rmt_idinit``)."""
    import ast

    pkg = root / "rmt_idinit"
    found = []
    for f in sorted(pkg.rglob("*.py")):
        rel = f.relative_to(pkg).parts
        top = rel[0][:-3] if rel[0].endswith(".py") else rel[0]
        if layer_of(top) is None:
            continue
        tree = ast.parse(f.read_text())
        in_function = {id(n) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                       for n in ast.walk(fn)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = list(rel[:-1])[: len(rel) - node.level] if node.level > 1 else list(rel[:-1])
                target = base + [m for m in (node.module or "").split(".") if m]
            elif (node.module or "").startswith("rmt_idinit."):
                target = node.module.split(".")[1:]
            else:
                continue
            heads = [target[0]] if target else [a.name for a in node.names]
            for head in heads:
                lo, hi = layer_of(top), layer_of(head)
                if hi is not None and hi > lo:
                    found.append((str(f.relative_to(root)), top, head, id(node) in in_function))
    return found


def _box_lines(label: str, inner: list[str]) -> list[str]:
    body = textwrap.wrap(", ".join(inner), WRAP) if inner else []
    return [label] + body


def draw(root: pathlib.Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    layout, shims, unplaced = rows(root)
    gap, pad, head = 0.25, 0.12, 2.4 * LINE_IN
    # sizes in inches: every box as wide as its longest line, a row as high as its tallest box
    sized = []
    for title, why, boxes in layout:
        bl = [_box_lines(label, inner) for label, inner in boxes]
        widths = [max(len(s) for s in lines) * CHAR_IN + 2 * pad for lines in bl]
        height = max(len(lines) for lines in bl) * LINE_IN + 2 * pad
        sized.append((title, why, bl, widths, height))
    width = max(max(sum(w) + gap * (len(w) - 1), len(t + " - " + y) * CHAR_IN * 1.1)
                for t, y, _, w, _ in sized) + 2 * gap
    foot = 2.5 * LINE_IN
    total_h = sum(h + head + gap for *_, h in sized) + foot + gap
    fig = plt.figure(figsize=(width, total_h))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, total_h)
    ax.axis("off")
    y = gap + foot
    colours = {"private core": "#dde5f0", "unplaced": "#f4c7c3", OUTSIDE[0][0]: "#eeeeee"}
    for title, why, bl, widths, height in sized:   # bottom up: pure numerics first
        colour = colours.get(title, "#e6f0dd" if title != "optional extras" else "#f5ead7")
        band = FancyBboxPatch((gap / 2, y - pad / 2), width - gap, height + head + pad / 2,
                              boxstyle="round,pad=0,rounding_size=0.08", fc=colour, ec="#888888", lw=0.8)
        ax.add_patch(band)
        ax.text(gap, y + height + head - 0.9 * LINE_IN, f"{title}  -  {why}", fontsize=FONT + 1,
                fontweight="bold", va="top", ha="left", family="DejaVu Sans")
        x = gap
        for lines, w in zip(bl, widths):
            ax.add_patch(FancyBboxPatch((x, y), w, height, boxstyle="round,pad=0,rounding_size=0.05",
                                        fc="white", ec="#555555", lw=0.8))
            ax.text(x + pad, y + height - pad, lines[0], fontsize=FONT + 0.5, fontweight="bold",
                    family="monospace", va="top", ha="left")
            if len(lines) > 1:
                ax.text(x + pad, y + height - pad - LINE_IN, "\n".join(lines[1:]), fontsize=FONT,
                        family="monospace", va="top", ha="left", linespacing=1.2, color="#333333")
            x += w + gap
        y += height + head + gap
    note = "read bottom up: a layer imports only the layers below it."
    if shims:
        note += "   deprecated aliases (one release): " + ", ".join(shims)
    ax.text(gap, gap + foot / 2, note, fontsize=FONT, family="monospace", va="center", ha="left", color="#666666")
    return fig, unplaced


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "_static" / "architecture.png"))
    p.add_argument("--root", default=str(ROOT), help="checkout to read (default: this one)")
    a = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from rmt_idinit.plotting import figure_problems

    fig, unplaced = draw(pathlib.Path(a.root))
    problems = figure_problems(fig)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    out = pathlib.Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")
    if unplaced:
        print(f"unplaced (give them a layer in LAYERS): {', '.join(unplaced)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
