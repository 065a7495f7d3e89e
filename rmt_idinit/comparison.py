"""Deprecated alias of :mod:`rmt_idinit.random_init.compare` (moved in 0.2; removed in 0.3)."""
import warnings as _warnings

from .random_init.compare import *  # noqa: F401,F403
from .random_init import compare as _new

_warnings.warn("rmt_idinit.comparison moved to rmt_idinit.random_init.compare; the old name goes in 0.3",
               DeprecationWarning, stacklevel=2)


def __getattr__(name):
    return getattr(_new, name)
