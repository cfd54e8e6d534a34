"""Parameter estimation: the bit-error rate of the key and the phase-error rate that secures it.

Two different quantities are estimated, for two different purposes:

* **Bit errors** (:func:`sample_qber`): Alice and Bob publicly compare a uniformly random subset of
  their sifted Z-basis bits, discard it, and use the sampled QBER to size the error-correction
  blocks and to abort on a hopeless channel. This is not a security parameter: error correction
  counts every bit it discloses, and error verification bounds the chance that the keys differ.
* **Phase errors** (:func:`phase_error_upper_bound`): what the eavesdropper can know about the
  Z-basis key is bounded by its phase-error rate, the error rate the key rounds would have shown
  had they been measured in the X basis. Only the X-basis test rounds reveal it (the Z-basis
  sample says nothing about it), and it enters privacy amplification through an upper bound that
  fails with probability at most ``eps_PE``.

References
----------
C. H. Bennett, G. Brassard, "Quantum cryptography: public key distribution and coin tossing",
Proc. IEEE ICCSSP, 175 (1984): error estimation on a disclosed random subset.
C. J. Clopper, E. S. Pearson, Biometrika 26, 404 (1934): exact binomial confidence bounds.
P. W. Shor, J. Preskill, "Simple proof of security of the BB84 quantum key distribution
protocol", PRL 85, 441 (2000): the X-basis error rate of test rounds estimates the phase-error
rate of the Z-basis key rounds.
R. J. Serfling, "Probability inequalities for the sum in sampling without replacement",
Ann. Statist. 2, 39 (1974), Corollary 1.1.
M. Tomamichel, C. C. W. Lim, N. Gisin, R. Renner, "Tight finite-key analysis for quantum
cryptography", Nat. Commun. 3, 634 (2012), Eq. (2) and Supplementary Note 2: Serfling's bound
``P[e_key >= e_test + d] <= exp(-2 d^2 n k^2 / ((n + k)(k + 1)))`` for ``n`` key and ``k`` test
bits.
N. J. Bouman, S. Fehr, "Sampling in a quantum population, and applications", CRYPTO 2010,
LNCS 6223, 724: classical sampling bounds applied to a quantum population.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from qkdcircuits._validation import SeedLike, as_generator, check_probability
from qkdcircuits.analysis.statistics import INTERVAL_METHODS, binomial_interval
from qkdcircuits.postprocessing._bits import check_pair
from qkdcircuits.postprocessing._checks import check_count, check_epsilon

__all__ = ["QBERSample", "phase_error_upper_bound", "sample_qber", "upper_confidence_bound"]


def upper_confidence_bound(
    errors: int, trials: int, *, confidence: float = 0.95, method: str = "clopper-pearson"
) -> float:
    """One-sided upper confidence bound on a binomial proportion.

    The upper end of the two-sided interval at coverage ``2 confidence - 1`` leaves probability
    ``1 - confidence`` above it, i.e. it is a one-sided bound at ``confidence``.

    Parameters
    ----------
    errors : int
        Observed successes (e.g. bit errors), ``0 <= errors <= trials``.
    trials : int
        Sample size.
    confidence : float
        One-sided coverage, in (0.5, 1).
    method : {"clopper-pearson", "wilson"}
        Interval construction (Clopper and Pearson 1934 is exact and conservative).

    Returns
    -------
    float
        The upper bound on the proportion, in [0, 1].

    Raises
    ------
    ValueError
        If ``confidence`` is outside (0.5, 1), or the counts or the method are invalid.

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

    Examples
    --------
    >>> import numpy as np
    >>> key = np.zeros(100, dtype=np.uint8)
    >>> s = sample_qber(key, key, sample_fraction=0.2, seed=0)
    >>> s.sample_size, s.errors, s.remaining, s.aborted
    (20, 0, 80, False)
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
        """JSON-ready summary (the mask is not included).

        Returns
        -------
        dict
            Sample size, errors, QBER, its bound, the threshold and the abort verdict.
        """
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
        Randomness of the sample positions (public).

    Returns
    -------
    QBERSample
        Sample size, errors, QBER and its bound, and the mask of the bits kept.

    Raises
    ------
    ValueError
        If the keys differ in length or hold values other than 0 and 1, a fraction or
        threshold is outside [0, 1], or the method is unknown.

    References
    ----------
    P. W. Shor, J. Preskill, "Simple proof of security of the BB84 quantum key
    distribution protocol", Phys. Rev. Lett. 85, 441 (2000).

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


def phase_error_upper_bound(
    *, test_errors: int, test_bits: int, key_bits: int, epsilon: float
) -> float:
    """Upper bound on the phase-error rate of ``key_bits`` key bits from an X-basis test sample.

    The ``key_bits`` key rounds and the ``test_bits`` test rounds together form a population of
    ``N = key_bits + test_bits`` rounds holding an unknown number ``M`` of phase errors (errors
    in the X basis, measured on the test rounds, counterfactual on the key rounds). Because the
    parties choose their bases independently of everything the adversary controls (in the
    entanglement-based picture, after the quantum signals are gone), the test rounds are a
    uniformly random ``test_bits``-subset of the population, so the number of test errors is
    hypergeometric, ``X ~ Hypergeometric(N, M, test_bits)``, whatever the attack.

    The bound is the exact one-sided (Neyman) confidence bound for sampling without
    replacement: ``M_U`` is the largest ``M`` with ``P_M(X <= test_errors) > epsilon``, and the
    key holds at most ``M_U - test_errors`` phase errors. ``P_M(X <= x)`` decreases in ``M``, so
    the bound falls below the true ``M`` only when ``X`` lies in the lower tail of its own
    distribution of mass at most ``epsilon``: it fails with probability at most ``epsilon`` for
    every error pattern. It is never looser than the Serfling bound of Tomamichel et al. (2012),
    which bounds the same hypergeometric tail.

    Parameters
    ----------
    test_errors : int
        Disagreements among the X-basis test bits.
    test_bits : int
        Number of X-basis test bits (0 gives no information: the bound is 1).
    key_bits : int
        Length of the key whose phase errors are bounded (>= 1).
    epsilon : float
        Failure probability ``eps_PE`` of the bound, in (0, 1).

    Returns
    -------
    float
        ``(M_U - test_errors) / key_bits``: the upper bound on the key's phase-error rate, in
        [0, 1].

    Raises
    ------
    TypeError
        If a count is not an integer.
    ValueError
        If a count is negative, ``test_errors > test_bits``, ``key_bits`` is 0 or ``epsilon``
        is outside (0, 1).

    References
    ----------
    R. J. Serfling, Ann. Statist. 2, 39 (1974); M. Tomamichel, C. C. W. Lim, N. Gisin,
    R. Renner, Nat. Commun. 3, 634 (2012), Eq. (2) and Supplementary Note 2; P. W. Shor,
    J. Preskill, PRL 85, 441 (2000).

    Examples
    --------
    No error in 1,000 test bits bounds the phase error of 9,000 key bits at eps = 1e-10:

    >>> phase_error_upper_bound(test_errors=0, test_bits=1000, key_bits=9000, epsilon=1e-10)
    0.024
    >>> phase_error_upper_bound(test_errors=0, test_bits=0, key_bits=9000, epsilon=1e-10)
    1.0
    """
    x = check_count(test_errors, "test_errors")
    k = check_count(test_bits, "test_bits")
    n = check_count(key_bits, "key_bits")
    epsilon = check_epsilon(epsilon, "epsilon")
    if x > k:
        raise ValueError(f"test_errors={x} exceeds test_bits={k}")
    if n == 0:
        raise ValueError("key_bits=0: there is no key to bound")
    population = n + k
    log_eps = math.log(epsilon)

    def consistent(total_errors: int) -> bool:
        # P(X <= x) for M = total_errors phase errors in the population, on a log scale so
        # that tails far below double precision's 1e-308 stay comparable
        return bool(stats.hypergeom.logcdf(x, population, total_errors, k) > log_eps)

    low, high = x, x + n  # M = x is always consistent (P(X <= x) = 1); M cannot exceed x + n
    if consistent(high):
        return 1.0
    while high - low > 1:  # invariant: consistent(low), not consistent(high)
        middle = (low + high) // 2
        if consistent(middle):
            low = middle
        else:
            high = middle
    return (low - x) / n
