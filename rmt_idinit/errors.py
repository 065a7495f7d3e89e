"""The package's own warning classes (public): catch or filter these, not bare ``UserWarning``.

Defined once in :mod:`rmt_idinit._core.errors`; this module is where users import them from.

>>> import warnings
>>> from rmt_idinit.errors import AccuracyWarning, RmtIdinitWarning
>>> issubclass(AccuracyWarning, RmtIdinitWarning)
True
"""
from ._core.errors import AccuracyWarning, RangeWarning, RmtIdinitWarning

__all__ = ["RmtIdinitWarning", "AccuracyWarning", "RangeWarning"]
