"""Deprecated alias of :mod:`rmt_idinit.plotting.interpretation` (moved in 0.2; removed in 0.3)."""
import warnings as _warnings

from ..plotting.interpretation import *  # noqa: F401,F403
from ..plotting.interpretation import __all__  # noqa: F401

_warnings.warn("rmt_idinit.nn.interpret_plots moved to rmt_idinit.plotting.interpretation; the old name goes "
               "in 0.3", DeprecationWarning, stacklevel=2)
