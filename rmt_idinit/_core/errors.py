"""The package's own warning classes, so users can filter or escalate them by class.

Every adaptive or iterative routine that stops at a cap (panel count, iteration count, bisection
steps) warns with :class:`AccuracyWarning` and attaches its error estimate, like scipy's
``IntegrationWarning``:

>>> import warnings
>>> from rmt_idinit.errors import AccuracyWarning
>>> w = AccuracyWarning("panel cap reached", error_estimate=3e-9)
>>> w.error_estimate
3e-09
>>> with warnings.catch_warnings():
...     warnings.simplefilter("error", AccuracyWarning)   # turn capped results into errors
...     try:
...         warnings.warn(w)
...     except AccuracyWarning as caught:
...         print(caught)
panel cap reached (error estimate 3e-09)
"""
from __future__ import annotations

__all__ = ["RmtIdinitWarning", "AccuracyWarning", "RangeWarning"]


class RmtIdinitWarning(UserWarning):
    """Base class of every warning this package issues."""


class AccuracyWarning(RmtIdinitWarning):
    """A routine stopped at a cap before reaching its requested accuracy.

    Parameters
    ----------
    message : str
        What stopped and where.
    error_estimate : float, optional
        The routine's own estimate of the absolute error of the returned value, when it has one.
    """

    def __init__(self, message: str, error_estimate: float | None = None):
        self.error_estimate = None if error_estimate is None else float(error_estimate)
        text = message if error_estimate is None else f"{message} (error estimate {self.error_estimate:.3g})"
        super().__init__(text)


class RangeWarning(RmtIdinitWarning):
    """A value lies outside double precision range and was rounded to 0 or inf.

    The log form of the same function (e.g. ``SpectralLaw.ppf(q, log=True)``,
    ``SpectralLaw.log_moment``) carries it.
    """
