"""Analysis of verification counts: stabiliser fidelity bounds and the CHSH value (no Qiskit).

:func:`fidelity_bound_from_counts` and :func:`chsh_from_counts` take accept counts per setting
and return a :class:`VerificationResult` with a confidence interval; they never touch a backend.
The measurement circuits are in :mod:`qkdcircuits.circuits.measurement` and the runs that
produce the counts (``verify_ghz``, ``verify_chsh``, ...) in :mod:`qkdcircuits.engine.verification`.

Fidelity lower bound from stabiliser measurements
-------------------------------------------------
Let ``|psi>`` be the unique joint +1 eigenstate of commuting projectors ``P_1..P_m``, each the
"accept" event of one local measurement setting. For commuting projectors
``P_1 P_2 ... P_m >= P_1 + ... + P_m - (m - 1) I`` (check it on their common eigenbasis, where
each ``P_j`` is 0 or 1), so

``F = <psi|rho|psi> = tr(rho P_1...P_m) >= sum_j p_j - (m - 1)``,  ``p_j = tr(rho P_j)``.

This is the construction of the two-setting witnesses of G. Toth and O. Guehne, "Detecting
genuine multipartite entanglement with two local measurements", PRL 94, 060501 (2005). For the
GHZ state the two settings are all-X (``P_1``: the X outcomes have even parity, i.e.
``(1 + X...X)/2``) and all-Z (``P_2``: all Z outcomes equal, the product of the ``(1 + Z_i
Z_{i+1})/2``), giving ``F >= p_X + p_Z - 1``; ``F > 1/2`` certifies genuine multipartite
entanglement (a Bell pair is the case n = 2, where ``F > 1/2`` certifies entanglement). For a
code state with generators ``S_1..S_4`` the accept events are ``(1 + S_i)/2`` and the bound is
``F >= 1 - sum_i (1 - <S_i>)/2``.

Confidence intervals
--------------------
Each ``p_j`` is a binomial proportion over the setting's shots (settings are independent). A
two-sided Clopper-Pearson interval at level ``1 - alpha/m`` per setting, combined by the union
(Bonferroni) bound, gives an interval on ``sum_j p_j - (m - 1)`` with coverage at least
``1 - alpha``; no normal approximation. A test **passes** when the lower end of the interval
exceeds the threshold, i.e. the property is certified at that confidence.

CHSH
----
``S = E(A0,B0) + E(A0,B1) + E(A1,B0) - E(A1,B1)`` with ``A0 = Z``, ``A1 = X`` and Bob's
observables at +-45 degrees, ``B0,1 = (Z +- X)/sqrt(2)``. Local hidden variables give
``|S| <= 2`` (J. F. Clauser, M. A. Horne, A. Shimony, R. A. Holt, PRL 23, 880 (1969));
quantum mechanics allows ``2 sqrt(2)`` (B. S. Cirel'son, Lett. Math. Phys. 4, 93 (1980)),
reached by ``|Phi+>``. Depolarising arms scale every correlator, ``S = 2 sqrt(2) (1-p_A)(1-p_B)``.
Each ``E = 2 q - 1`` with ``q`` the probability of equal outcomes, bounded as above.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qkdcircuits._validation import check_confidence, check_real
from qkdcircuits.analysis.statistics import binomial_interval

__all__ = [
    "TSIRELSON_BOUND",
    "VerificationResult",
    "chsh_from_counts",
    "fidelity_bound_from_counts",
]


TSIRELSON_BOUND = 2.0 * math.sqrt(2.0)
"""Largest quantum CHSH value."""


CHSH_SIGNS = (1, 1, 1, -1)
"""Sign of each CHSH correlator in ``S``, in the order ``A0B0, A0B1, A1B0, A1B1``."""


@dataclass(frozen=True, eq=False)
class VerificationResult:
    """Outcome of a verification test.

    Attributes
    ----------
    test : str
        ``"bell"``, ``"ghz"``, ``"five-qubit-code"`` or ``"chsh"``.
    estimate : float
        Point estimate: the fidelity lower bound ``sum_j p_j - (m-1)``, or the CHSH value S.
    low, high : float
        Confidence interval on that quantity (Clopper-Pearson per setting, union bound).
    confidence : float
        Coverage of the interval.
    threshold : float
        Value the lower end must exceed to pass.
    passed : bool
        ``low > threshold``: the property is certified at this confidence.
    settings : tuple of str
        Measurement setting per term (bases per qubit, or CHSH angle labels).
    accepted : tuple of int
        Shots per setting in the accept event (even parity / all equal / equal outcomes).
    shots : tuple of int
        Shots per setting.
    exact : float or None
        The same quantity from the exact distributions (Aer default path), else ``None``.
    metadata : dict
        Noise, provenance.

    Examples
    --------
    >>> result = fidelity_bound_from_counts([1000, 1000], [1000, 1000], threshold=0.9)
    >>> result.estimate, result.total_shots, result.to_dict()["passed"]
    (1.0, 2000, True)
    """

    test: str
    estimate: float
    low: float
    high: float
    confidence: float
    threshold: float
    passed: bool
    settings: tuple[str, ...]
    accepted: tuple[int, ...]
    shots: tuple[int, ...]
    exact: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def total_shots(self) -> int:
        """Shots over all settings."""
        return int(sum(self.shots))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "test": self.test,
            "estimate": self.estimate,
            "ci": [self.low, self.high],
            "confidence": self.confidence,
            "threshold": self.threshold,
            "passed": self.passed,
            "settings": list(self.settings),
            "accepted": list(self.accepted),
            "shots": list(self.shots),
            "exact": self.exact,
            **self.metadata,
        }


def _check_counts(
    accepted: Sequence[int], shots: Sequence[int], expected: int | None = None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    accepted = tuple(int(a) for a in accepted)
    shots = tuple(int(n) for n in shots)
    if len(accepted) != len(shots) or not accepted:
        raise ValueError(
            f"accepted ({len(accepted)}) and shots ({len(shots)}) need the same non-zero length"
        )
    if expected is not None and len(accepted) != expected:
        raise ValueError(f"accepted and shots need {expected} settings, got {len(accepted)}")
    for a, n in zip(accepted, shots, strict=True):
        if n < 1 or not 0 <= a <= n:
            raise ValueError(f"need 0 <= accepted <= shots and shots >= 1, got {a}/{n}")
    return accepted, shots


def _intervals(
    accepted: tuple[int, ...], shots: tuple[int, ...], confidence: float
) -> list[tuple[float, float]]:
    per_setting = 1.0 - (1.0 - confidence) / len(accepted)
    return [
        binomial_interval(a, n, confidence=per_setting, method="clopper-pearson")
        for a, n in zip(accepted, shots, strict=True)
    ]


def fidelity_bound_from_counts(
    accepted: Sequence[int],
    shots: Sequence[int],
    *,
    confidence: float = 0.95,
    threshold: float = 0.5,
    settings: Sequence[str] | None = None,
    test: str = "stabilizer",
    exact: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> VerificationResult:
    """Fidelity lower bound ``sum_j p_j - (m - 1)`` from accept counts of ``m`` settings.

    Parameters
    ----------
    accepted, shots : sequence of int
        Per setting: shots in the accept event, and shots taken.
    confidence : float
        Joint coverage of the interval (union bound over settings).
    threshold : float
        Fidelity the lower end must exceed (0.5 certifies entanglement for Bell/GHZ states).
    settings : sequence of str, optional
        Labels of the settings.
    test : str
        Name stored in the result.
    exact : float, optional
        The bound from exact probabilities, when known.
    metadata : dict, optional
        Stored in the result.

    Returns
    -------
    VerificationResult
        ``estimate`` is the bound from frequencies; ``low``/``high`` the union-bound interval.

    Raises
    ------
    ValueError
        For counts of different lengths, ``accepted > shots``, ``shots < 1`` or an invalid
        confidence.

    Examples
    --------
    >>> result = fidelity_bound_from_counts([990, 985], [1000, 1000], threshold=0.9)
    >>> round(result.estimate, 3), result.passed
    (0.975, True)
    """
    accepted, shots = _check_counts(accepted, shots)
    confidence = check_confidence(confidence)
    threshold = check_real(threshold, "threshold")
    m = len(accepted)
    intervals = _intervals(accepted, shots, confidence)
    estimate = sum(a / n for a, n in zip(accepted, shots, strict=True)) - (m - 1)
    low = sum(lo for lo, _ in intervals) - (m - 1)
    high = sum(hi for _, hi in intervals) - (m - 1)
    return VerificationResult(
        test=test,
        estimate=float(estimate),
        low=float(low),
        high=float(high),
        confidence=confidence,
        threshold=threshold,
        passed=bool(low > threshold),
        settings=tuple(settings) if settings is not None else tuple(f"S{j}" for j in range(m)),
        accepted=accepted,
        shots=shots,
        exact=exact,
        metadata=dict(metadata or {}),
    )


def chsh_from_counts(
    same: Sequence[int],
    shots: Sequence[int],
    *,
    confidence: float = 0.95,
    threshold: float = 2.0,
    exact: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> VerificationResult:
    """CHSH value ``S`` and its interval from equal-outcome counts of the four settings.

    Parameters
    ----------
    same, shots : sequence of 4 ints
        Per setting (order ``A0B0, A0B1, A1B0, A1B1``): shots with equal outcomes, shots taken.
    confidence : float
        Joint coverage of the interval.
    threshold : float
        The lower end must exceed it to pass (2: the local-realist bound).
    exact : float, optional
        The value from exact probabilities, when known.
    metadata : dict, optional
        Stored in the result.

    Returns
    -------
    VerificationResult

    Raises
    ------
    ValueError
        Unless there are exactly four settings with ``0 <= same <= shots``, or for an invalid
        confidence.

    Examples
    --------
    >>> result = chsh_from_counts([854, 854, 854, 146], [1000] * 4)
    >>> round(result.estimate, 3), result.passed
    (2.832, True)
    """
    accepted, shots = _check_counts(same, shots, expected=4)
    confidence = check_confidence(confidence)
    threshold = check_real(threshold, "threshold")
    intervals = _intervals(accepted, shots, confidence)
    estimate = low = high = 0.0
    for sign, a, n, (lo, hi) in zip(CHSH_SIGNS, accepted, shots, intervals, strict=True):
        estimate += sign * (2.0 * a / n - 1.0)
        if sign > 0:
            low += 2.0 * lo - 1.0
            high += 2.0 * hi - 1.0
        else:
            low -= 2.0 * hi - 1.0
            high -= 2.0 * lo - 1.0
    return VerificationResult(
        test="chsh",
        estimate=float(estimate),
        low=float(low),
        high=float(high),
        confidence=confidence,
        threshold=threshold,
        passed=bool(low > threshold),
        settings=("A0B0", "A0B1", "A1B0", "A1B1"),
        accepted=accepted,
        shots=shots,
        exact=exact,
        metadata=dict(metadata or {}),
    )
