"""Sphinx configuration of the rmt_idinit documentation (``make docs``).

Notebooks are rendered from the stored copies in docs/notebooks/ (outputs included) and are
never executed during the build (``nb_execution_mode = "off"``); refresh them with
``make docs-notebooks``.
"""
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

import rmt_idinit  # noqa: E402

project = "rmt_idinit"
author = "the rmt_idinit authors"
release = version = rmt_idinit.__version__
copyright = "the rmt_idinit authors, MIT license"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "execute_notebooks.py", "**.ipynb_checkpoints"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]

nb_execution_mode = "off"          # render the stored outputs; never run a notebook in the build
nb_merge_streams = True

autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "none"          # numpydoc's Parameters sections already carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "furo"
html_title = f"rmt_idinit {release}"
html_static_path = []

# MathJax comes from its CDN; where a local copy exists (Debian: apt-get install libjs-mathjax,
# or RMT_IDINIT_MATHJAX=<url>), offline readers of the HTML get rendered formulas too.
_LOCAL_MATHJAX = "/usr/share/javascript/mathjax/MathJax.js"
if os.environ.get("RMT_IDINIT_MATHJAX"):
    mathjax_path = os.environ["RMT_IDINIT_MATHJAX"]
elif os.path.isfile(_LOCAL_MATHJAX):
    # Debian ships MathJax 2: give it the v2 form of the classes myst-parser marks for MathJax
    mathjax_path = "file://" + _LOCAL_MATHJAX + "?config=TeX-AMS-MML_HTMLorMML"
    myst_update_mathjax = False
    mathjax2_config = {"tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]],
                                   "processEscapes": True, "ignoreClass": "tex2jax_ignore|mathjax_ignore",
                                   "processClass": "tex2jax_process|mathjax_process|math|output_area"}}
