"""Tolerances for the statistical checks, from concentration inequalities.

Every check compares an empirical frequency with its exact (conditional) expectation.
The tolerance is the Hoeffding bound at level ``delta``: for ``n`` independent variables
in ``[0, 1]``, ``P(|mean - E| >= t) <= 2 exp(-2 n t^2)``, so
``t = sqrt(log(2 m / delta) / (2 n))`` holds for ``m`` checks at once (union bound).
With ``delta = 1e-6`` a correct generator fails a test about once in a million seeds;
the seeds are fixed anyway, so the tests are deterministic, and the bound shows that the
tolerance was not tuned to the seed.
"""

from __future__ import annotations

import math

import numpy as np

DELTA = 1e-6


def hoeffding(n: int | np.ndarray, checks: int = 1, delta: float = DELTA) -> float | np.ndarray:
    """Half-width for the mean of ``n`` independent [0, 1] variables (``checks`` at once)."""
    return np.sqrt(math.log(2 * checks / delta) / (2 * np.asarray(n, dtype=float)))


def mcdiarmid(effects_sq_sum: float, checks: int = 1, delta: float = DELTA) -> float:
    """Half-width for a function of independent variables whose i-th can move it by ``c_i``.

    ``effects_sq_sum`` is ``sum_i c_i^2``: ``P(|f - E f| >= t) <= 2 exp(-2 t^2 / sum c_i^2)``.
    """
    return math.sqrt(math.log(2 * checks / delta) * effects_sq_sum / 2)
