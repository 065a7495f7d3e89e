"""The type of the random-initialization laws: a :class:`~rmt_idinit.laws.SpectralLaw` with its metadata.

:func:`rmt_idinit.random_init.freeprob.random_jjt_law` and
:func:`~rmt_idinit.random_init.freeprob.fuss_catalan_law` return a :class:`RandomInitLaw`, which
carries, next to the atoms and the continuous part of every spectral law,

* ``lambda_max``: the largest point of the support (the top atom or the upper edge),
* ``setting``: the resolved :class:`~rmt_idinit.random_init.freeprob.RandomInit` (``sigma_w``,
  ``sigma_b``, ``q*``, ``chi1``, weights, activation), or ``None`` for a bare Fuss-Catalan law.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..laws import ContinuousPart, SpectralLaw

if TYPE_CHECKING:  # pragma: no cover
    from .freeprob import RandomInit

__all__ = ["RandomInitLaw"]


class RandomInitLaw(SpectralLaw):
    """The limiting law of J Jᵀ at random initialization, with ``lambda_max`` and ``setting`` as fields.

    Parameters
    ----------
    log_atoms, weights, continuous, description, log_weights
        As in :class:`~rmt_idinit.laws.SpectralLaw`.
    lambda_max : float
        Largest point of the support (``inf`` where it leaves double range).
    setting : RandomInit, optional
        The random-init setting the law belongs to.

    Examples
    --------
    >>> from rmt_idinit.random_init.freeprob import random_jjt_law
    >>> law = random_jjt_law(4, "hardtanh", "orthogonal", q_star=1.0, n_grid=256)
    >>> type(law).__name__, law.setting.weights, round(law.lambda_max, 6)
    ('RandomInitLaw', 'orthogonal', 4.406943)
    """

    lambda_max: float
    setting: "RandomInit | None"

    def __init__(self, log_atoms: Any, weights: Any, continuous: ContinuousPart | None = None, *,
                 lambda_max: float, setting: "RandomInit | None" = None, description: str = "",
                 log_weights: Any | None = None) -> None:
        super().__init__(log_atoms, weights, continuous, description=description, log_weights=log_weights)
        self.lambda_max = float(lambda_max)
        self.setting = setting

    def __getitem__(self, index: Any) -> "RandomInitLaw":
        sub = super().__getitem__(index)
        return RandomInitLaw(sub.log_atoms, sub.weights, sub.continuous, lambda_max=self.lambda_max,
                             setting=self.setting, description=sub.description, log_weights=sub.log_weights)
