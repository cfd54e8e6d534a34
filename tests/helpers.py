"""Statistical helpers shared by the tests (imported as ``tests.helpers``)."""

from __future__ import annotations

import math

from scipy import stats

# Two-sided false-alarm probability for statistical assertions: a correct implementation fails a
# given check with at most this probability (the seeds are fixed, so the suite is deterministic).
FALSE_ALARM = 1e-6
Z_SCORE = float(stats.norm.isf(FALSE_ALARM / 2))


def binomial_tolerance(p: float, n: int, z: float = Z_SCORE) -> float:
    """Half-width ``z sqrt(p (1 - p) / n)`` of a normal-approximation interval for a proportion."""
    return z * math.sqrt(max(p * (1.0 - p), 1.0 / n) / n)
