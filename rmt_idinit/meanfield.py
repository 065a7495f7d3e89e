"""Deprecated alias of :mod:`rmt_idinit.random_init.meanfield` (moved in 0.2; removed in 0.3)."""
import warnings as _warnings

from .random_init.meanfield import *  # noqa: F401,F403
from .random_init import meanfield as _new

_warnings.warn("rmt_idinit.meanfield moved to rmt_idinit.random_init.meanfield; the old name goes in 0.3",
               DeprecationWarning, stacklevel=2)


def __getattr__(name):
    return getattr(_new, name)
