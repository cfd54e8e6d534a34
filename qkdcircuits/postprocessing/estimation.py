"""Parameter estimation: sacrifice a random sample of the sifted key to estimate the QBER.

Alice and Bob publicly compare a uniformly random subset of their sifted bits (positions chosen
without replacement), estimate the error rate with a one-sided binomial confidence bound, discard
the disclosed bits, and abort when the estimate exceeds a threshold.

References
----------
C. H. Bennett, G. Brassard, "Quantum cryptography: public key distribution and coin tossing",
Proc. IEEE ICCSSP, 175 (1984): error estimation on a disclosed random subset.
C. J. Clopper, E. S. Pearson, Biometrika 26, 404 (1934): exact binomial confidence bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from qkdcircuits._validation import SeedLike, as_generator, check_probability
from qkdcircuits.analysis.statistics import INTERVAL_METHODS, binomial_interval
from qkdcircuits.postprocessing._bits import check_pair

__all__ = ["QBERSample", "sample_qber", "upper_confidence_bound"]


def upper_confidence_bound(
    errors: int, trials: int, *, confidence: float = 0.95, method: str = "clopper-pearson"
) -> float:
    """One-sided upper confidence bound on a binomial proportion.

    The upper end of the two-sided interval at coverage ``2 confidence - 1`` leaves probability
    ``1 - confidence`` above it, i.e. it is a one-sided bound at ``confidence``.

    Examples
    --------
    >>> round(upper_confidence_bound(0, 100, confidence=0.95), 5)  # 1 - 0.05**(1/100)
    0.02951
    """
    confidence = check_probability(confidence, "confidence")
    if not 0.5 < confidence < 1.0:
        raise ValueError(f"confidence={confidence!r} must be in (0.5, 1)")
    return binomial_interval(errors, trials, confidence=2.0 * confidence - 1.0, method=method)[1]


@dataclass(frozen=True, eq=False)
class QBERSample:
    """Result of :func:`sample_qber`.

    Attributes
    ----------
    sample_size : int
        Bits disclosed and compared.
    errors : int
        Disagreements in the sample.
    qber : float
        ``errors / sample_size`` (``nan`` for an empty sample).
    upper_bound : float
        One-sided upper confidence bound on the QBER.
    confidence : float
        Coverage of ``upper_bound``.
    abort_qber : float
        Threshold; the protocol aborts when ``qber > abort_qber``.
    keep : numpy.ndarray
        Boolean mask of the sifted positions not disclosed (the key that goes on).
    """

    sample_size: int
    errors: int
    qber: float
    upper_bound: float
    confidence: float
    abort_qber: float
    keep: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        self.keep.setflags(write=False)

    @property
    def aborted(self) -> bool:
        """Whether the estimate exceeds the abort threshold (or nothing could be sampled)."""
        return self.sample_size == 0 or self.qber > self.abort_qber

    @property
    def abort_reason(self) -> str | None:
        """Why the protocol aborts, or ``None``."""
        if self.sample_size == 0:
            return "empty estimation sample"
        if self.qber > self.abort_qber:
            return f"sampled QBER {self.qber:.4f} > abort threshold {self.abort_qber:.4f}"
        return None

    @property
    def remaining(self) -> int:
        """Bits left for the key."""
        return int(np.count_nonzero(self.keep))

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (the mask is not included)."""
        return {
            "sample_size": self.sample_size,
            "errors": self.errors,
            "qber": None if math.isnan(self.qber) else self.qber,
            "upper_bound": self.upper_bound,
            "confidence": self.confidence,
            "abort_qber": self.abort_qber,
            "aborted": self.aborted,
            "abort_reason": self.abort_reason,
        }


def sample_qber(
    alice_bits: np.ndarray,
    bob_bits: np.ndarray,
    *,
    sample_fraction: float = 0.1,
    confidence: float = 0.95,
    abort_qber: float = 0.11,
    method: str = "clopper-pearson",
    seed: SeedLike = None,
) -> QBERSample:
    """Estimate the QBER from a random sample of the sifted key.

    Parameters
    ----------
    alice_bits, bob_bits : numpy.ndarray
        Sifted keys.
    sample_fraction : float
        Fraction of the bits to disclose; the sample size is ``round(fraction * n)``, at least 1
        when the key is not empty and the fraction is positive.
    confidence : float
        Coverage of the one-sided upper bound, in (0.5, 1).
    abort_qber : float
        Abort when the sampled QBER exceeds this (BB84 with one-way post-processing yields no key
        above about 11%: Shor and Preskill, PRL 85, 441 (2000)).
    method : {"clopper-pearson", "wilson"}
        Binomial bound.
    seed : int, numpy.random.Generator or None
        Randomness of the sample positions.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.zeros(1000, dtype=np.uint8)
    >>> b = a.copy(); b[::50] = 1  # 2% errors
    >>> s = sample_qber(a, b, sample_fraction=0.5, seed=1)
    >>> s.sample_size, s.remaining, s.aborted
    (500, 500, False)
    """
    alice, bob = check_pair(alice_bits, bob_bits)
    fraction = check_probability(sample_fraction, "sample_fraction")
    abort_qber = check_probability(abort_qber, "abort_qber")
    if method not in INTERVAL_METHODS:
        raise ValueError(
            f"method={method!r} must be one of {', '.join(map(repr, INTERVAL_METHODS))}"
        )
    rng = as_generator(seed)
    n = alice.size
    size = min(n, max(1, round(fraction * n))) if n and fraction > 0 else 0
    chosen = rng.choice(n, size=size, replace=False) if size else np.zeros(0, dtype=np.int64)
    errors = int(np.count_nonzero(alice[chosen] != bob[chosen]))
    keep = np.ones(n, dtype=bool)
    keep[chosen] = False
    return QBERSample(
        sample_size=size,
        errors=errors,
        qber=errors / size if size else math.nan,
        upper_bound=upper_confidence_bound(errors, size, confidence=confidence, method=method),
        confidence=confidence,
        abort_qber=abort_qber,
        keep=keep,
    )
