"""Sifting and QBER estimation with binomial confidence intervals.

Analysis only: everything here takes numpy arrays or counts and never touches a backend, so it can
be tested on synthetic data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from qkdcircuits._validation import check_choice, check_confidence

__all__ = [
    "QBEREstimate",
    "binomial_interval",
    "estimate_qber",
    "sift_mask",
]


INTERVAL_METHODS: tuple[str, str] = ("wilson", "clopper-pearson")
"""Names of the binomial interval methods of :func:`binomial_interval`."""


def binomial_interval(
    successes: int, trials: int, *, confidence: float = 0.95, method: str = "wilson"
) -> tuple[float, float]:
    """Two-sided confidence interval for a binomial proportion.

    Parameters
    ----------
    successes, trials : int
        Observed count and sample size (``0 <= successes <= trials``).
    confidence : float
        Coverage in (0, 1).
    method : {"wilson", "clopper-pearson"}
        Wilson score interval (E. B. Wilson, J. Am. Stat. Assoc. 22, 209 (1927)) or the exact
        Clopper-Pearson interval (Biometrika 26, 404 (1934)), which never under-covers.

    Returns
    -------
    (float, float)
        Lower and upper bound; ``(0.0, 1.0)`` when ``trials == 0``.

    Raises
    ------
    ValueError
        If the counts are inconsistent, ``confidence`` is outside (0, 1) or ``method`` unknown.

    References
    ----------
    E. B. Wilson, "Probable inference, the law of succession, and statistical
    inference", J. Am. Stat. Assoc. 22, 209 (1927).

    C. J. Clopper, E. S. Pearson, "The use of confidence or fiducial limits illustrated
    in the case of the binomial", Biometrika 26, 404 (1934).

    Examples
    --------
    >>> lo, hi = binomial_interval(10, 1000)
    >>> round(lo, 4), round(hi, 4)
    (0.0054, 0.0183)
    """
    method = check_choice(method, "method", INTERVAL_METHODS)
    confidence = check_confidence(confidence)
    successes, trials = int(successes), int(trials)
    if trials < 0 or not 0 <= successes <= max(trials, 0):
        raise ValueError(
            f"need 0 <= successes <= trials, got successes={successes}, trials={trials}"
        )
    if trials == 0:
        return 0.0, 1.0
    return _binomial_bounds(float(successes), float(trials), confidence, method)


def _binomial_bounds(k: float, n: float, confidence: float, method: str) -> tuple[float, float]:
    """Return the interval bounds for ``k`` successes in ``n`` trials.

    ``k`` and ``n`` may be non-integer (an effective sample size): both formulas are analytic
    in them.
    """
    alpha = 1.0 - confidence
    if method == "clopper-pearson":
        low = 0.0 if k <= 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
        high = 1.0 if k >= n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
        return low, high
    z = float(stats.norm.ppf(1 - alpha / 2))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At k = 0 (k = n) the bound is 0 (1) exactly; round-off must not put it past the estimate.
    low = 0.0 if k <= 0 else max(0.0, centre - half)
    high = 1.0 if k >= n else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class QBEREstimate:
    """Quantum bit error rate in one basis with its confidence interval.

    Attributes
    ----------
    basis : str
        ``"Z"`` or ``"X"``.
    errors : int
        Sifted rounds in which Alice's and Bob's bits differ.
    sifted : int
        Sifted rounds (heralded, matching bases).
    qber : float
        ``errors / sifted`` (``nan`` when nothing was sifted).
    low, high : float
        Confidence interval on the QBER.
    confidence : float
        Coverage of the interval.
    method : str
        Interval method.
    effective_sifted : float or None
        Effective sample size behind the interval when the rounds were resampled from an
        outcome table that was itself estimated from shots (see :func:`estimate_qber`); ``None``
        when the table was exact and the interval uses ``sifted``.

    Examples
    --------
    >>> estimate = estimate_qber(3, 100, basis="X")
    >>> estimate.qber, estimate.to_dict()["ci"] == [estimate.low, estimate.high]
    (0.03, True)
    """

    basis: str
    errors: int
    sifted: int
    qber: float
    low: float
    high: float
    confidence: float
    method: str
    effective_sifted: float | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dictionary (``qber`` is ``None`` when nothing was sifted)."""
        return {
            "basis": self.basis,
            "errors": self.errors,
            "sifted": self.sifted,
            "qber": None if math.isnan(self.qber) else self.qber,
            "ci": [self.low, self.high],
            "confidence": self.confidence,
            "method": self.method,
            "effective_sifted": self.effective_sifted,
        }


def estimate_qber(
    errors: int,
    sifted: int,
    *,
    basis: str = "Z",
    confidence: float = 0.95,
    method: str = "wilson",
    table_samples: float | None = None,
) -> QBEREstimate:
    """QBER point estimate and binomial confidence interval from counts.

    Parameters
    ----------
    errors, sifted : int
        Sifted rounds with an error, and sifted rounds.
    basis : str
        Label stored in the estimate.
    confidence, method
        As in :func:`binomial_interval`.
    table_samples : float, optional
        When the rounds were drawn from an outcome table that was itself estimated from shots
        (a backend or sampler run), the number of shots behind the sifted part of that table.
        Two-stage sampling adds the table's variance ``e(1-e)/table_samples`` to the rounds'
        ``e(1-e)/sifted``, so the interval is computed at the effective sample size
        ``n_eff = 1 / (1/sifted + 1/table_samples)``: resampling a million rounds from a few
        thousand shots cannot make the QBER more certain than the shots allow.

    Returns
    -------
    QBEREstimate

    Raises
    ------
    ValueError
        For inconsistent counts, an invalid confidence or method, or ``table_samples <= 0``.

    Examples
    --------
    >>> exact = estimate_qber(500, 100_000)
    >>> shots = estimate_qber(500, 100_000, table_samples=4_000)
    >>> shots.high - shots.low > 5 * (exact.high - exact.low)
    True
    """
    low, high = binomial_interval(errors, sifted, confidence=confidence, method=method)
    qber = errors / sifted if sifted else math.nan
    effective = None
    if table_samples is not None and sifted:
        if not table_samples > 0:
            raise ValueError(f"table_samples={table_samples!r} must be > 0")
        effective = 1.0 / (1.0 / sifted + 1.0 / float(table_samples))
        low, high = _binomial_bounds(qber * effective, effective, confidence, method)
    return QBEREstimate(
        basis=basis,
        errors=int(errors),
        sifted=int(sifted),
        qber=qber,
        low=low,
        high=high,
        confidence=confidence,
        method=method,
        effective_sifted=effective,
    )


def sift_mask(
    alice_basis: np.ndarray, bob_basis: np.ndarray, heralded: np.ndarray | None = None
) -> np.ndarray:
    """Mark the rounds kept by sifting: bases agree (and the relay heralded success, if given).

    Parameters
    ----------
    alice_basis, bob_basis : numpy.ndarray
        Basis code per round (0 = Z, 1 = X), same shape.
    heralded : numpy.ndarray, optional
        Per round, whether the measurement station announced success.

    Returns
    -------
    numpy.ndarray
        Boolean mask of the sifted rounds.

    Raises
    ------
    ValueError
        If the arrays differ in shape.

    Examples
    --------
    >>> sift_mask([0, 1, 1], [0, 0, 1]).tolist()
    [True, False, True]
    """
    alice_basis = np.asarray(alice_basis)
    bob_basis = np.asarray(bob_basis)
    if alice_basis.shape != bob_basis.shape:
        raise ValueError(
            f"alice_basis and bob_basis differ in shape: {alice_basis.shape} vs {bob_basis.shape}"
        )
    mask = alice_basis == bob_basis
    if heralded is not None:
        heralded = np.asarray(heralded, dtype=bool)
        if heralded.shape != mask.shape:
            raise ValueError(f"heralded has shape {heralded.shape}, expected {mask.shape}")
        mask &= heralded
    return mask
