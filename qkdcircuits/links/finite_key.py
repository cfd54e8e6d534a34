r"""Statistics shared by the composable finite-key analyses (no Qiskit).

The finite-key analyses of decoy-state BB84 (:mod:`qkdcircuits.links.finite_key_bb84`) and of
MDI-QKD (:mod:`qkdcircuits.links.finite_key_mdi`) need four concentration results and one
convention, collected here:

* :func:`hoeffding_deviation`: ``delta(n, eps) = sqrt(n/2 ln(1/eps))``, the one-sided deviation
  of a sum of ``n`` independent Bernoulli variables from its mean (W. Hoeffding, J. Am. Stat.
  Assoc. 58, 13 (1963), Thm. 1), as used by C. C. W. Lim, M. Curty, N. Walenta, F. Xu,
  H. Zbinden, Phys. Rev. A 89, 022307 (2014), Eqs. (A1)-(A2).
* :func:`chernoff_mean_bounds`: confidence bounds on the *mean* of a sum of independent
  Bernoulli variables from one observation, obtained by inverting the multiplicative Chernoff
  bounds; M. Curty et al., Nat. Commun. 5, 3732 (2014) use the Chernoff bound for parameter
  estimation in MDI-QKD; the closed form below is derived in its docstring.
* :func:`sampling_deviation`: ``gamma(a, b, c, d)`` of Lim et al. (2014), Eq. (5) / (B2), the
  deviation of the error rate of a random sample taken without replacement (C.-H. F. Fung,
  X. Ma, H. F. Chau, Phys. Rev. A 81, 012318 (2010)); it is not a bound with few errors;
* :func:`serfling_deviation`: the same deviation from Serfling's inequality (R. J. Serfling,
  Ann. Stat. 2, 39 (1974)), valid for every count, and therefore the default phase-error
  sampling bound of every finite-key function (:data:`DEFAULT_SAMPLING_BOUND`;
  ``sampling_bound="lim2014"`` selects ``gamma``, e.g. to reproduce the paper's figures);
* :func:`solve_per_bit_secrecy`: the paper's convention ``eps_sec = kappa * l`` (secrecy
  leakage ``kappa`` per key bit, Lim et al. 2014, Sec. IV), a fixed point in ``l``.

It also holds what the two protocol modules share (plain names, not exported): argument
checks, the phase-error and leakage terms, the assembly of a result with ``eps_sec = kappa l``,
and the vectorised optimiser of the protocol settings (:func:`maximise_box`,
:func:`optimise_protocol`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from qkdcircuits._validation import as_float_or_array, real_array

__all__ = [
    "DEFAULT_EPS_COR",
    "DEFAULT_EPS_SEC",
    "DEFAULT_SAMPLING_BOUND",
    "SAMPLING_BOUNDS",
    "FiniteKeyOptimum",
    "chernoff_mean_bounds",
    "hoeffding_deviation",
    "sampling_deviation",
    "serfling_deviation",
    "solve_per_bit_secrecy",
]

DEFAULT_EPS_SEC = 1e-10
"""Default secrecy parameter ``eps_sec`` of the finite-key analyses."""

DEFAULT_EPS_COR = 1e-15
"""Default correctness parameter ``eps_cor`` (the value used by Lim et al. 2014)."""

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0

PROBABILITY_SUM_TOLERANCE = 1e-9
"""Absolute tolerance on the sum of the intensity probabilities (1)."""


# ----------------------------------------------------------------------------------------------
# result types
# ----------------------------------------------------------------------------------------------


class KeyLengthFields:
    """Behaviour shared by the finite-key result dataclasses (``key_length``, ``pulses``)."""

    key_length: Any
    pulses: Any

    @property
    def key_rate_per_pulse(self) -> Any:
        """``l / N``: secret bits per pulse (pair) sent; ``nan`` when ``N`` is unknown."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return as_float_or_array(np.asarray(self.key_length) / np.asarray(self.pulses))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready ``dict`` of every field (arrays become lists)."""
        return {name: np.asarray(value).tolist() for name, value in vars(self).items()}


@dataclass(frozen=True)
class FiniteKeyOptimum:
    """Protocol settings that maximise the finite-key rate per pulse, per distance.

    Attributes
    ----------
    length_km : numpy.ndarray
        Channel lengths (km), shape ``(P,)``.
    key_rate_per_pulse : numpy.ndarray
        ``l / N`` at the optimum (0 where no key), shape ``(P,)``.
    basis_prob : numpy.ndarray
        Probability of the key basis (X for BB84, Z for MDI-QKD), shape ``(P,)``.
    intensities : numpy.ndarray
        The three intensities (photons per pulse; both parties for MDI-QKD), ``(3, P)``.
    intensity_probs : numpy.ndarray
        Their probabilities, ``(3, P)``.
    key : object
        The finite-key result (:class:`~qkdcircuits.links.finite_key_bb84.BB84FiniteKey` or
        :class:`~qkdcircuits.links.finite_key_mdi.MDIFiniteKey`) at the optimum.

    Examples
    --------
    >>> opt = FiniteKeyOptimum(np.array([0.0]), np.array([1e-3]), np.array([0.9]),
    ...     np.array([[0.5], [0.1], [0.0]]), np.array([[0.8], [0.1], [0.1]]), key=None)
    >>> opt.key_rate_per_pulse.tolist()
    [0.001]
    """

    length_km: Any
    key_rate_per_pulse: Any
    basis_prob: Any
    intensities: Any
    intensity_probs: Any
    key: Any


# ----------------------------------------------------------------------------------------------
# argument checks
# ----------------------------------------------------------------------------------------------


def open_unit_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a float array with every entry in the open interval (0, 1)."""
    array = real_array(value, name, finite=True)
    if np.any(array <= 0.0) or np.any(array >= 1.0):
        raise ValueError(f"{name}={value!r} not in (0, 1)")
    return array


def count_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a float array of non-negative (possibly expected, non-integer) counts."""
    array = real_array(value, name, finite=True)
    if np.any(array < 0.0):
        raise ValueError(f"{name}={value!r} must be >= 0")
    return array


def stack_three(value: Any, name: str) -> np.ndarray:
    """Three values (floats or broadcastable arrays) stacked along a new axis 0."""
    if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == 3:
        return real_array(value, name, finite=True)
    try:
        items = list(value)
    except TypeError as exc:
        raise TypeError(f"{name}={value!r} must hold three values") from exc
    if len(items) != 3:
        raise ValueError(f"{name}={value!r} must hold three values")
    arrays = [real_array(v, f"{name}[{k}]", finite=True) for k, v in enumerate(items)]
    return np.stack(np.broadcast_arrays(*arrays))


def align_batch(*items: tuple[np.ndarray, int]) -> list[np.ndarray]:
    """Give arrays with leading non-batch axes (``(array, leading)``) a common batch rank.

    The batch axes of each array (after its ``leading`` axes: the intensity axis, or the two
    axes of an intensity-pair table) are right-aligned, as numpy broadcasting aligns plain
    arrays, by inserting length-1 axes after the leading ones: intensities of shape ``(3,)``
    and counts of shape ``(3, P)`` become ``(3, 1)`` and ``(3, P)``, never ``(3,)`` against
    ``P``.
    """
    rank = max((array.ndim - leading for array, leading in items), default=0)
    return [
        array.reshape(
            array.shape[:leading] + (1,) * (rank - array.ndim + leading) + array.shape[leading:]
        )
        for array, leading in items
    ]


def check_intensities(value: Any, name: str = "intensities") -> np.ndarray:
    """``of the three intensities`` with ``mu1 > mu2 + mu3`` and ``mu2 > mu3 >= 0`` (axis 0)."""
    mu = stack_three(value, name)
    if np.any(mu[2] < 0.0):
        raise ValueError(f"{name}={value!r}: need mu3 >= 0")
    if np.any(mu[1] <= mu[2]):
        raise ValueError(f"{name}={value!r}: need mu2 > mu3")
    if np.any(mu[0] <= mu[1] + mu[2]):
        raise ValueError(f"{name}={value!r}: need mu1 > mu2 + mu3")
    return mu


def check_intensity_probs(value: Any, name: str = "intensity_probs") -> np.ndarray:
    """Three probabilities in (0, 1) summing to 1 (axis 0)."""
    p = stack_three(value, name)
    if np.any(p <= 0.0) or np.any(p >= 1.0):
        raise ValueError(f"{name}={value!r}: every probability must be in (0, 1)")
    if np.any(np.abs(p.sum(axis=0) - 1.0) > PROBABILITY_SUM_TOLERANCE):
        raise ValueError(f"{name}={value!r} must sum to 1")
    return p


def check_counts(detections: Any, errors: Any, basis: str) -> tuple[np.ndarray, np.ndarray]:
    """Check one basis's detections and errors: shape ``(3, ...)``, ``errors <= detections``."""
    n = count_array(stack_three(detections, f"detections_{basis}"), f"detections_{basis}")
    m = count_array(stack_three(errors, f"errors_{basis}"), f"errors_{basis}")
    if np.any(m > n):
        raise ValueError(
            f"errors_{basis}={np.asarray(m).tolist()!r} exceed "
            f"detections_{basis}={np.asarray(n).tolist()!r}"
        )
    return n, m


def check_pulses(value: Any) -> np.ndarray:
    """Pulses (or pulse pairs) sent, > 0."""
    pulses = real_array(value, "pulses", finite=True)
    if np.any(pulses <= 0.0):
        raise ValueError(f"pulses={value!r} must be > 0")
    return pulses


def check_security(
    eps_sec: Any, eps_cor: Any, secrecy_per_bit: Any
) -> tuple[np.ndarray | None, np.ndarray, float | None]:
    """``eps_sec`` (None when fixed per bit), ``eps_cor`` and ``kappa``."""
    eps_c = open_unit_array(eps_cor, "eps_cor")
    if secrecy_per_bit is None:
        if eps_sec is None:
            raise ValueError("eps_sec=None needs secrecy_per_bit (eps_sec = kappa * l)")
        return open_unit_array(eps_sec, "eps_sec"), eps_c, None
    if eps_sec is not None:
        raise ValueError(
            f"give eps_sec={eps_sec!r} or secrecy_per_bit={secrecy_per_bit!r}, not both"
        )
    return None, eps_c, float(open_unit_array(secrecy_per_bit, "secrecy_per_bit"))


def check_ec(ec_inefficiency: Any, ec_leak_bits: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """``f >= 1`` and an optional measured leakage (bits, >= 0)."""
    f = real_array(ec_inefficiency, "ec_inefficiency", finite=True)
    if np.any(f < 1.0):
        raise ValueError(f"ec_inefficiency={ec_inefficiency!r} must be >= 1 (Shannon limit)")
    leak = None if ec_leak_bits is None else count_array(ec_leak_bits, "ec_leak_bits")
    return f, leak


class KeyOptions(NamedTuple):
    """The checked options of a finite-key length (see :func:`check_key_options`)."""

    eps_sec: np.ndarray | None
    eps_cor: np.ndarray
    kappa: float | None
    sampling_bound: str
    ec_inefficiency: np.ndarray
    ec_leak_bits: np.ndarray | None
    pulses: Any


def check_key_options(
    eps_sec: Any,
    eps_cor: Any,
    secrecy_per_bit: Any,
    sampling_bound: Any,
    ec_inefficiency: Any,
    ec_leak_bits: Any,
    pulses: Any,
) -> KeyOptions:
    """Check the options that every ``*_finite_key_length`` takes besides its counts.

    ``eps_sec`` is ``None`` when the secrecy is fixed per bit (``kappa``); ``pulses`` is ``nan``
    when not given.
    """
    eps_s, eps_c, kappa = check_security(eps_sec, eps_cor, secrecy_per_bit)
    bound = check_sampling(sampling_bound)
    f, leak = check_ec(ec_inefficiency, ec_leak_bits)
    sent = math.nan if pulses is None else check_pulses(pulses)
    return KeyOptions(eps_s, eps_c, kappa, bound, f, leak, sent)


def check_block_sizes(block_size: Any) -> np.ndarray:
    """Block sizes (detections per block, > 0) as a float array."""
    block = real_array(block_size, "block_size", finite=True)
    if np.any(block <= 0.0):
        raise ValueError(f"block_size={block_size!r} must be > 0")
    return block


def finished_counts(counts: Any, empty_message: str) -> Any:
    """Return the expected counts with their pulses as a float (or array); no events is an error.

    ``counts`` is a ``BB84Counts`` or ``MDICounts``; ``empty_message`` is the ``ValueError``
    message when some block can never fill (infinite pulses).
    """
    if np.any(~np.isfinite(counts.pulses)):
        raise ValueError(empty_message)
    return counts._replace(pulses=as_float_or_array(counts.pulses))


# ----------------------------------------------------------------------------------------------
# concentration bounds
# ----------------------------------------------------------------------------------------------


def hoeffding_deviation(*, total: Any, failure_prob: Any) -> Any:
    r"""One-sided Hoeffding deviation ``delta = sqrt(total/2 * ln(1/failure_prob))``.

    For a sum ``S`` of ``total`` independent variables in [0, 1],
    ``P(S - E[S] >= delta) <= exp(-2 delta^2 / total) = failure_prob`` and the same for
    ``E[S] - S``. Lim et al. (2014) apply it to the number ``n_{X,k}`` of detections assigned to
    intensity ``k`` among the ``n_X`` detections of a basis, whose mean given the photon numbers
    is ``n*_{X,k} = sum_n p_{k|n} s_{X,n}`` (their Eq. (A1)); the paper's
    ``sqrt(n_X/2 ln(21/eps_sec))`` is this with ``failure_prob = eps_sec/21``.

    Parameters
    ----------
    total : float or array_like
        Number of variables (detections), >= 0.
    failure_prob : float or array_like
        Probability in (0, 1) that the deviation is exceeded (one side).

    Returns
    -------
    float or numpy.ndarray
        ``delta`` in counts.

    Raises
    ------
    ValueError
        For a negative ``total`` or a ``failure_prob`` outside (0, 1).

    References
    ----------
    W. Hoeffding, J. Am. Stat. Assoc. 58, 13 (1963), Theorem 1. C. C. W. Lim, M. Curty,
    N. Walenta, F. Xu, H. Zbinden, Phys. Rev. A 89, 022307 (2014), Eq. (A1).

    Examples
    --------
    >>> round(hoeffding_deviation(total=2e4, failure_prob=math.exp(-2.0)), 6)
    141.421356
    """
    n = count_array(total, "total")
    eps = open_unit_array(failure_prob, "failure_prob")
    return as_float_or_array(np.sqrt(n / 2.0 * -np.log(eps)))


def chernoff_mean_bounds(*, observed: Any, failure_prob: Any) -> tuple[Any, Any]:
    r"""Lower and upper confidence bounds on the mean of a sum of independent Bernoulli variables.

    Let ``X`` be a sum of independent Bernoulli variables with mean ``m`` and
    ``beta = ln(1/failure_prob)``. The multiplicative Chernoff bounds
    ``P(X <= (1-d) m) <= exp(-d^2 m/2)`` (``0 < d < 1``) and
    ``P(X >= (1+d) m) <= exp(-d^2 m/(2+d))`` (``d > 0``) invert into bounds that hold for every
    ``m`` (each fails with probability at most ``failure_prob``):

    * ``m <= x + beta + sqrt(2 beta x + beta^2)``: the bound is exceeded only if
      ``X < m - sqrt(2 beta m)``, i.e. ``d = sqrt(2 beta/m)`` in the lower tail;
    * ``m >= x + beta/2 - sqrt(2 beta x + beta^2/4)``: it fails only if
      ``X > m + beta/2 + sqrt(2 beta m + beta^2/4)``, the ``d`` with ``d^2 m/(2+d) = beta``.

    The lower bound is clipped at 0 (a mean of counts is never negative). Unlike Hoeffding's
    bound the width grows like ``sqrt(x)``, not like the square root of the number of trials,
    which is what makes it useful for the small counts of decoy intensities (M. Curty et al.,
    Nat. Commun. 5, 3732 (2014), Methods).

    Parameters
    ----------
    observed : float or array_like
        Observed value ``x`` of the sum (counts, >= 0).
    failure_prob : float or array_like
        Failure probability of each bound, in (0, 1).

    Returns
    -------
    (float or numpy.ndarray, float or numpy.ndarray)
        ``(lower, upper)`` bounds on the mean.

    Raises
    ------
    ValueError
        For a negative count or a ``failure_prob`` outside (0, 1).

    References
    ----------
    H. Chernoff, Ann. Math. Stat. 23, 493 (1952); M. Mitzenmacher, E. Upfal, *Probability and
    Computing*, Cambridge University Press (2005), Thms. 4.4-4.5. M. Curty, F. Xu, W. Cui,
    C. C. W. Lim, K. Tamaki, H.-K. Lo, Nat. Commun. 5, 3732 (2014).

    Examples
    --------
    >>> low, high = chernoff_mean_bounds(observed=100.0, failure_prob=1e-10)
    >>> round(low, 2), round(high, 2)
    (42.68, 194.69)
    """
    x = count_array(observed, "observed")
    beta = -np.log(open_unit_array(failure_prob, "failure_prob"))
    lower, upper = chernoff_unchecked(x, beta)
    return as_float_or_array(lower), as_float_or_array(upper)


def chernoff_unchecked(x: np.ndarray, beta: Any) -> tuple[np.ndarray, np.ndarray]:
    """:func:`chernoff_mean_bounds` of counts ``x`` with ``beta = ln(1/failure_prob)``."""
    upper = x + beta + np.sqrt(2.0 * beta * x + beta * beta)
    lower = np.maximum(x + beta / 2.0 - np.sqrt(2.0 * beta * x + beta * beta / 4.0), 0.0)
    return lower, upper


def sampling_deviation(
    *, failure_prob: Any, error_rate: Any, sample_size: Any, population_size: Any
) -> Any:
    r"""``gamma(a, b, c, d)``: deviation of an error rate under random sampling without replacement.

    Lim et al. (2014), Eq. (B2):

    .. math:: \gamma(a, b, c, d) = \sqrt{\frac{(c+d)(1-b)b}{c\,d\,\ln 2}
              \log_2\!\left(\frac{c+d}{c\,d\,(1-b)\,b}\,\frac{1}{a^2}\right)}

    with ``a = failure_prob``, ``b = error_rate`` (observed on the sample), ``c = sample_size``
    and ``d = population_size`` (the unobserved part). Lim et al.'s main text writes
    ``gamma(eps_sec, b, c, d)`` with ``21^2/eps_sec^2`` in the logarithm, i.e.
    ``a = eps_sec/21``. Except with probability ``a``, the error rate of the unobserved part
    is at most ``b + gamma`` (C.-H. F. Fung, X. Ma, H. F. Chau, Phys. Rev. A 81, 012318 (2010)).

    Reading of the logarithms: ``log 2`` in the denominator is read as the natural logarithm
    ``ln 2`` and ``log2`` as the base-2 logarithm, as printed. This is the conservative reading:
    a quadratic expansion of the entropy exponent of Fung et al. gives
    ``gamma^2 = (c+d)(1-b)b/(c d) ln(...)``, smaller by a factor ``(ln 2)^2``; reading every
    logarithm in base 2 would give a factor ``ln 2``.

    The limit ``b -> 0`` is 0 (``b ln(1/b) -> 0``), and a negative argument under the square
    root (possible only for ``a`` near 1) gives 0.

    ``gamma`` comes from a quadratic approximation of an entropy exponent, not from a tail
    bound: exact hypergeometric tails show that it holds (fails with probability below ``a``)
    once the population holds a few hundred errors (for ``a = 1e-12``, ``c = d = 2000``: 400
    errors), and fails by orders of magnitude with a few errors, since it vanishes with ``b``.
    :func:`serfling_deviation` is valid for every count.

    Parameters
    ----------
    failure_prob : float or array_like
        ``a`` in (0, 1).
    error_rate : float or array_like
        ``b`` in [0, 1].
    sample_size, population_size : float or array_like
        ``c`` and ``d`` (> 0; counts, not necessarily integers).

    Returns
    -------
    float or numpy.ndarray
        ``gamma`` (dimensionless).

    Raises
    ------
    ValueError
        For values out of range.

    References
    ----------
    C. C. W. Lim, M. Curty, N. Walenta, F. Xu, H. Zbinden, Phys. Rev. A 89, 022307 (2014),
    Eqs. (5) and (B2); C.-H. F. Fung, X. Ma, H. F. Chau, Phys. Rev. A 81, 012318 (2010).

    Examples
    --------
    >>> round(sampling_deviation(failure_prob=1e-10, error_rate=0.02, sample_size=1e5,
    ...                          population_size=1e6), 6)
    0.00416
    """
    a = open_unit_array(failure_prob, "failure_prob")
    b = real_array(error_rate, "error_rate", finite=True)
    if np.any(b < 0.0) or np.any(b > 1.0):
        raise ValueError(f"error_rate={error_rate!r} not in [0, 1]")
    c = real_array(sample_size, "sample_size", finite=True)
    d = real_array(population_size, "population_size", finite=True)
    if np.any(c <= 0.0) or np.any(d <= 0.0):
        raise ValueError(
            f"sample_size={sample_size!r} and population_size={population_size!r} must be > 0"
        )
    return as_float_or_array(gamma_unchecked(a, b, c, d))


def gamma_unchecked(a: Any, b: Any, c: Any, d: Any) -> np.ndarray:
    """:func:`sampling_deviation` without argument checks (``b`` in [0, 1], ``c, d > 0``)."""
    b = np.asarray(b, dtype=float)
    spread = np.where((b > 0.0) & (b < 1.0), b * (1.0 - b), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # log2 of the argument, summed term by term so that large counts cannot overflow
        log_arg = np.log2(c + d) - np.log2(c) - np.log2(d) - np.log2(spread) - 2.0 * np.log2(a)
        square = (c + d) * spread / (c * d * math.log(2.0)) * log_arg
    return np.where((b > 0.0) & (b < 1.0), np.sqrt(np.maximum(square, 0.0)), 0.0)


def serfling_deviation(*, failure_prob: Any, sample_size: Any, population_size: Any) -> Any:
    r"""Deviation of an error rate under sampling without replacement, valid for every count.

    Split ``c + d`` bits at random into a sample of ``c`` and a rest of ``d``. Serfling's
    inequality for the sample mean, ``P(mean_all - mean_sample >= t) <= exp(-2 c t^2 /
    (1 - (c-1)/(c+d)))``, with ``mean_all - mean_sample = (d/(c+d)) (e_rest - e_sample)``,
    gives ``P(e_rest >= e_sample + theta) <= failure_prob`` for

    .. math:: \theta = \sqrt{\frac{(c+d)(d+1)}{2 c d^2}\ln\frac{1}{a}}.

    Unlike :func:`sampling_deviation` it does not shrink with the observed error rate, so it is
    looser at small error rates but holds for every number of errors, including none (where
    Lim et al.'s ``gamma`` vanishes and is no bound at all; see :func:`sampling_deviation`).
    It is the sampling bound of M. Tomamichel, C. C. W. Lim, N. Gisin, R. Renner, Nat. Commun.
    3, 634 (2012).

    Parameters
    ----------
    failure_prob : float or array_like
        ``a`` in (0, 1).
    sample_size, population_size : float or array_like
        ``c`` (the observed sample) and ``d`` (the rest), > 0.

    Returns
    -------
    float or numpy.ndarray
        ``theta`` (dimensionless).

    Raises
    ------
    ValueError
        For values out of range.

    References
    ----------
    R. J. Serfling, Ann. Stat. 2, 39 (1974), Corollary 1.1.

    Examples
    --------
    >>> round(serfling_deviation(failure_prob=1e-10, sample_size=1e5, population_size=1e6), 6)
    0.011254
    """
    a = open_unit_array(failure_prob, "failure_prob")
    c = real_array(sample_size, "sample_size", finite=True)
    d = real_array(population_size, "population_size", finite=True)
    if np.any(c <= 0.0) or np.any(d <= 0.0):
        raise ValueError(
            f"sample_size={sample_size!r} and population_size={population_size!r} must be > 0"
        )
    return as_float_or_array(serfling_unchecked(a, c, d))


def serfling_unchecked(a: Any, c: Any, d: Any) -> np.ndarray:
    """:func:`serfling_deviation` without argument checks."""
    return np.sqrt((c + d) * (d + 1.0) / (2.0 * c * d * d) * -np.log(a))


SAMPLING_BOUNDS = ("serfling", "lim2014")
"""Phase-error sampling bounds: Serfling's inequality or Lim et al.'s ``gamma`` (Eq. (5))."""

DEFAULT_SAMPLING_BOUND = "serfling"
"""The sampling bound every finite-key function uses unless told otherwise.

Serfling's (:func:`serfling_deviation`), because it holds for every number of errors; Lim et
al.'s ``gamma`` (``"lim2014"``, :func:`sampling_deviation`) is exceeded far more often than it
claims when few phase errors are observed (exact hypergeometric tails with ``a = 1e-6`` and
2000 + 2000 bits: about 1000 times more often with 10 errors, 2.5e5 times with 2), and stays
available to reproduce the paper's figures.
"""


def check_sampling(value: Any) -> str:
    """One of :data:`SAMPLING_BOUNDS`."""
    if value not in SAMPLING_BOUNDS:
        raise ValueError(f"sampling_bound={value!r} not in {SAMPLING_BOUNDS}")
    return str(value)


def binary_entropy_clipped(p: Any) -> np.ndarray:
    """``H2(min(max(p, 0), 1/2))`` without argument checks (``nan`` counts as 1/2)."""
    p = np.asarray(p, dtype=float)
    p = np.clip(np.where(np.isnan(p), 0.5, p), 0.0, 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -p * np.log2(p) - (1.0 - p) * np.log2(1.0 - p)
    return np.where(p > 0.0, h, 0.0)


def phase_error_terms(
    errors_upper: np.ndarray,
    sample_lower: np.ndarray,
    key_lower: np.ndarray,
    failure_prob: Any,
    sampling_bound: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(v/s, gamma, phi)``: the phase-error bound of a key from its test-basis estimates.

    ``phi = min(v/s + gamma, 1/2)`` with ``v/s`` capped at 1/2 and ``gamma`` Lim et al.'s
    ``gamma(failure_prob, v/s, s, s_key)`` or Serfling's ``theta(failure_prob, s, s_key)``
    (``sampling_bound``). Both deviations decrease with ``s`` and ``s_key``, so evaluating them
    at lower bounds is conservative. Where either single-photon bound is not positive nothing is
    certified (``v/s = phi = 1/2``, ``gamma = 0``).
    """
    certified = (sample_lower > 0.0) & (key_lower > 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(certified, errors_upper / np.where(certified, sample_lower, 1.0), 0.5)
    ratio = np.clip(ratio, 0.0, 0.5)
    sample = np.where(certified, sample_lower, 1.0)
    key = np.where(certified, key_lower, 1.0)
    if sampling_bound == "serfling":
        deviation = serfling_unchecked(failure_prob, sample, key)
    else:
        deviation = gamma_unchecked(failure_prob, ratio, sample, key)
    gamma = np.where(certified & (ratio < 0.5), deviation, 0.0)
    return ratio, gamma, np.minimum(ratio + gamma, 0.5)


def leak_terms(
    f: np.ndarray, block: np.ndarray, errors: np.ndarray, leak: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """``(E, lambda_EC)``: the block's error rate and ``f n h(E)`` unless a leak is given."""
    with np.errstate(invalid="ignore", divide="ignore"):
        qber = errors / block
    if leak is None:
        leak = f * block * binary_entropy_clipped(np.where(block > 0, qber, 0.0))
    return qber, np.broadcast_to(leak, np.shape(qber))


def evaluate_key(
    result_type: type,
    terms_at: Callable[[Any], dict[str, np.ndarray]],
    block: np.ndarray,
    eps_sec: Any,
    eps_cor: Any,
    kappa: float | None,
    pulses: Any,
) -> Any:
    """Build ``result_type`` from ``terms_at(eps_sec)`` (fields by name).

    When ``kappa`` is given, ``eps_sec = kappa l`` is fixed first.

    ``terms_at`` returns the result's fields (``key_length_unrounded`` among them) and the
    optimiser's ``objective``, which is dropped.
    """
    if kappa is not None:
        shape = np.broadcast_shapes(np.shape(block), np.shape(eps_cor))
        _, eps_sec = solve_per_bit_secrecy(
            lambda e: terms_at(e)["key_length_unrounded"],
            secrecy_per_bit=kappa,
            start=np.broadcast_to(np.maximum(block, 1.0), shape),
        )
    terms = terms_at(np.asarray(eps_sec, dtype=float))
    fields = {name: as_float_or_array(v) for name, v in terms.items() if name != "objective"}
    length = np.asarray(terms["key_length_unrounded"])
    return result_type(
        key_length=as_float_or_array(np.floor(np.maximum(length, 0.0))),
        eps_sec=as_float_or_array(eps_sec),
        eps_cor=as_float_or_array(eps_cor),
        pulses=as_float_or_array(pulses),
        **fields,
    )


# ----------------------------------------------------------------------------------------------
# eps_sec = kappa * l
# ----------------------------------------------------------------------------------------------


def solve_per_bit_secrecy(
    length_at: Callable[[np.ndarray], np.ndarray],
    *,
    secrecy_per_bit: float,
    start: Any,
    max_iterations: int = 200,
    rtol: float = 1e-12,
) -> tuple[Any, Any]:
    r"""Largest key length ``l`` with ``l = length_at(kappa * l)`` (``eps_sec = kappa l``).

    Lim et al. (2014), Sec. IV, fix the secrecy leakage per key bit, ``eps_sec = kappa * l``,
    rather than ``eps_sec``. The key length ``F(eps)`` of Eq. (1) increases with ``eps``, so the
    admissible lengths are those with ``l <= F(kappa l)``; the largest is the largest fixed point
    of ``l -> F(kappa l)``. Iterating from any ``start`` above it gives a decreasing sequence that
    converges to it (``F`` is increasing); once the iterate is not positive there is no key.

    Parameters
    ----------
    length_at : callable
        ``eps_sec`` array -> real-valued key length ``F(eps_sec)`` (before rounding), elementwise.
    secrecy_per_bit : float
        ``kappa`` in (0, 1).
    start : float or array_like
        Upper bound on the key length (e.g. the block size), > 0.
    max_iterations : int
        Iteration cap.
    rtol : float
        Relative change at which an entry counts as converged.

    Returns
    -------
    (float or numpy.ndarray, float or numpy.ndarray)
        The fixed point ``l*`` (0 where no key) and ``eps_sec = kappa * l*`` (``kappa`` where no
        key, i.e. the value for a single bit).

    Raises
    ------
    ValueError
        For ``secrecy_per_bit`` outside (0, 1) or a non-positive ``start``.

    Examples
    --------
    >>> f = lambda eps: 1000.0 - 6.0 * np.log2(21.0 / eps)
    >>> l, eps = solve_per_bit_secrecy(f, secrecy_per_bit=1e-15, start=1000.0)
    >>> bool(abs(l - f(1e-15 * l)) < 1e-6), round(l, 3)
    (True, 731.764)
    """
    kappa = float(open_unit_array(secrecy_per_bit, "secrecy_per_bit"))
    length = real_array(start, "start", finite=True).copy()
    if np.any(length <= 0.0):
        raise ValueError(f"start={start!r} must be > 0")
    active = np.ones(length.shape, dtype=bool)
    for _ in range(max_iterations):
        eps = np.minimum(kappa * np.maximum(length, 1.0), 0.5)
        new = np.asarray(length_at(eps), dtype=float)
        new = np.where(active, np.minimum(new, length), length)
        done = (new <= 0.0) | (np.abs(new - length) <= rtol * np.abs(length))
        length = np.where(new <= 0.0, 0.0, new)
        active &= ~done
        if not np.any(active):
            break
    eps = np.minimum(kappa * np.maximum(length, 1.0), 0.5)
    return as_float_or_array(length), as_float_or_array(eps)


# ----------------------------------------------------------------------------------------------
# vectorised optimiser
# ----------------------------------------------------------------------------------------------


def halton_points(count: int, dims: int) -> np.ndarray:
    """First ``count`` points of the (unscrambled, deterministic) Halton sequence in [0, 1)^dims.

    Shape ``(dims, count)``; the bases are the first ``dims`` primes.
    """
    primes = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29][:dims]
    points = np.zeros((dims, count))
    for row, base in enumerate(primes):
        for i in range(count):
            f, k, value = 1.0, i + 1, 0.0
            while k > 0:
                f /= base
                value += f * (k % base)
                k //= base
            points[row, i] = value
    return points


def maximise_box(
    objective: Callable[[np.ndarray], np.ndarray],
    lower: np.ndarray,
    upper: np.ndarray,
    shape: tuple[int, ...],
    *,
    starts: int = 256,
    keep: int = 4,
    polish: int = 2,
    sweeps: tuple[float, ...] = (0.5, 0.2, 0.08),
    iterations: int = 10,
    simplex_iterations: int = 110,
) -> tuple[np.ndarray, np.ndarray]:
    """Maximise ``objective`` over a box, for many independent problems at once.

    ``objective`` maps coordinates of shape ``(dims,) + batch`` to values of shape ``batch``,
    for any batch shape. The search is global, then local, and every stage handles all
    problems (and all their local searches) in one objective call per step:

    1. ``starts`` Halton points of the box; the ``keep`` best per problem start local searches
       (several, because near the edge of the key region the good region can be a narrow
       ridge that the best grid point misses);
    2. cyclic coordinate ascent: each sweep runs a golden-section search (``iterations``
       steps) along every coordinate, in a window of the given fraction of the box width around
       the current point, keeping a move only where it improves the value;
    3. a Nelder-Mead simplex search (:func:`nelder_mead_batch`) from the ``polish`` best of
       them, which follows the curved ridges that coordinate steps zig-zag along;

    and the best local result per problem is returned. Comparisons only, no tolerances on
    values: a problem whose best value is ``1e-12`` is solved like one whose best is ``1``.

    Parameters
    ----------
    objective : callable
        Vectorised objective (larger is better); ``nan`` counts as ``-inf``.
    lower, upper : numpy.ndarray
        Box bounds, shape ``(dims,)``.
    shape : tuple of int
        Shape of the problem batch (e.g. ``(len(distances),)``).
    starts : int
        Number of global Halton points.
    keep : int
        Number of coordinate-ascent searches per problem.
    polish : int
        Number of simplex searches per problem (the best ``polish`` of the ``keep``).
    sweeps : tuple of float
        Window half-widths (fractions of the box width) of the coordinate sweeps.
    iterations : int
        Golden-section iterations per coordinate and sweep.
    simplex_iterations : int
        Nelder-Mead iterations.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The best coordinates ``(dims,) + shape`` and the objective there ``shape``.
    """

    def value_at(x: np.ndarray) -> np.ndarray:
        value = np.asarray(objective(x), dtype=float)
        return np.where(np.isnan(value), -np.inf, value)

    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    dims = lower.size
    width = upper - lower
    grid = lower[:, None] + width[:, None] * halton_points(starts, dims)
    grid = np.broadcast_to(grid.reshape((dims, starts) + (1,) * len(shape)), (dims, starts, *shape))
    order = np.argsort(-value_at(grid), axis=0)[:keep]
    x = np.take_along_axis(grid, order[None], axis=1)
    fx = value_at(x)

    for fraction in sweeps:
        for i in range(dims):
            half = fraction * width[i]
            a = np.maximum(x[i] - half, lower[i])
            b = np.minimum(x[i] + half, upper[i])

            def along(t: np.ndarray, i: int = i, x: np.ndarray = x) -> np.ndarray:
                trial = x.copy()
                trial[i] = t
                return value_at(trial)

            c = b - _GOLDEN * (b - a)
            d = a + _GOLDEN * (b - a)
            fc, fd = along(c), along(d)
            for _ in range(iterations):
                left = fc >= fd
                a, b = np.where(left, a, c), np.where(left, d, b)
                new_c = np.where(left, b - _GOLDEN * (b - a), d)
                new_d = np.where(left, c, a + _GOLDEN * (b - a))
                probe = along(np.where(left, new_c, new_d))
                fc, fd = np.where(left, probe, fd), np.where(left, fc, probe)
                c, d = new_c, new_d
            improve = np.maximum(fc, fd) > fx
            x[i] = np.where(improve, np.where(fc >= fd, c, d), x[i])
            fx = np.where(improve, np.maximum(fc, fd), fx)

    if polish < keep:
        order = np.argsort(-fx, axis=0)[:polish]
        x = np.take_along_axis(x, order[None], axis=1)
        fx = np.take_along_axis(fx, order, axis=0)
    x, fx = nelder_mead_batch(value_at, x, fx, lower, upper, sweeps[-1] * width, simplex_iterations)
    best = np.argmax(fx, axis=0)
    return np.take_along_axis(x, best[None, None], axis=1)[:, 0], np.take_along_axis(
        fx, best[None], axis=0
    )[0]


def nelder_mead_batch(
    value_at: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    fx: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    step: np.ndarray,
    iterations: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Nelder-Mead maximisation from ``x`` (``(dims,) + batch``) for every problem at once.

    The standard moves (J. A. Nelder, R. Mead, Comput. J. 7, 308 (1965); reflection 1,
    expansion 2, contractions 1/2, shrink 1/2; Lagarias et al., SIAM J. Optim. 9, 112 (1998)),
    with every trial point clipped to the box. Each iteration evaluates the reflected, expanded
    and both contracted points of every problem in one call; a problem that must shrink costs
    ``dims`` more evaluations in a second call (made only when some problem shrinks).
    """
    dims = x.shape[0]
    batch_axes = (None,) * (x.ndim - 1)
    box_low = lower[(slice(None), *batch_axes)]
    box_high = upper[(slice(None), *batch_axes)]
    simplex = np.repeat(x[None], dims + 1, axis=0)
    for i in range(dims):
        moved = simplex[i + 1, i] + step[i]
        simplex[i + 1, i] = np.where(moved <= upper[i], moved, simplex[i + 1, i] - step[i])
    simplex = np.clip(simplex, box_low, box_high)
    values = np.concatenate([fx[None], value_at(np.moveaxis(simplex[1:], 0, 1))], axis=0)
    for _ in range(iterations):
        order = np.argsort(-values, axis=0)
        simplex = np.take_along_axis(simplex, order[:, None], axis=0)
        values = np.take_along_axis(values, order, axis=0)
        best, worst = simplex[0], simplex[-1]
        f_best, f_second, f_worst = values[0], values[-2], values[-1]
        centre = simplex[:-1].mean(axis=0)
        trials = np.stack(
            [
                centre + (centre - worst),
                centre + 2.0 * (centre - worst),
                centre + 0.5 * (centre - worst),
                centre - 0.5 * (centre - worst),
            ],
            axis=1,
        )
        trials = np.clip(trials, box_low[:, None], box_high[:, None])
        f_r, f_e, f_oc, f_ic = value_at(trials)
        x_r, x_e, x_oc, x_ic = np.moveaxis(trials, 1, 0)
        expand = (f_r > f_best) & (f_e > f_r)
        reflect = ~expand & (f_r > f_second)
        outside = ~expand & ~reflect & (f_r > f_worst) & (f_oc >= f_r)
        inside = ~expand & ~reflect & ~outside & (f_r <= f_worst) & (f_ic > f_worst)
        shrink = ~(expand | reflect | outside | inside)
        new_x = np.where(expand, x_e, np.where(reflect, x_r, np.where(outside, x_oc, x_ic)))
        new_f = np.where(expand, f_e, np.where(reflect, f_r, np.where(outside, f_oc, f_ic)))
        keep_old = shrink
        simplex[-1] = np.where(keep_old, worst, new_x)
        values[-1] = np.where(keep_old, f_worst, new_f)
        if np.any(shrink):
            shrunk = best + 0.5 * (simplex[1:] - best)
            shrunk_values = value_at(np.moveaxis(shrunk, 0, 1))
            simplex[1:] = np.where(shrink[None, None], shrunk, simplex[1:])
            values[1:] = np.where(shrink[None], shrunk_values, values[1:])
    best_vertex = np.argmax(values, axis=0)
    return (
        np.take_along_axis(simplex, best_vertex[None, None], axis=0)[0],
        np.take_along_axis(values, best_vertex[None], axis=0)[0],
    )


def logit(x: float) -> float:
    return math.log(x / (1.0 - x))


def decode_settings(x: np.ndarray, weak: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimiser coordinates -> ``(q_x, (mu1, mu2, mu3), (p_1, p_2, p_3))``.

    ``x = (logit q_x, log mu1, logit r, logit p_1, logit s)`` with
    ``mu2 = mu3 + r (mu1 - 2 mu3)`` (so ``mu1 > mu2 + mu3 > 2 mu3`` always holds),
    ``p_2 = (1 - p_1) s``, ``p_3 = (1 - p_1)(1 - s)``.
    """
    q_x = 1.0 / (1.0 + np.exp(-x[0]))
    mu1 = np.exp(x[1])
    r = 1.0 / (1.0 + np.exp(-x[2]))
    mu2 = weak + r * (mu1 - 2.0 * weak)
    p1 = 1.0 / (1.0 + np.exp(-x[3]))
    s = 1.0 / (1.0 + np.exp(-x[4]))
    mu = np.stack(np.broadcast_arrays(mu1, mu2, np.full_like(mu1, weak)))
    p = np.stack(np.broadcast_arrays(p1, (1.0 - p1) * s, (1.0 - p1) * (1.0 - s)))
    return q_x, mu, p


# ----------------------------------------------------------------------------------------------
# protocol settings optimiser (shared by BB84 and MDI-QKD)
# ----------------------------------------------------------------------------------------------

BASIS_PROB_RANGE = (0.01, 1.0 - 1e-5)
"""Range of the key-basis probability searched by the optimisers."""

SIGNAL_RANGE = (0.02, 1.2)
"""Range of the signal intensity (photons per pulse) searched by the optimisers."""

LOGIT_RANGE = 8.0
"""Half-width of the logit coordinates (decoy ratio, probability split) of the search box."""


def check_block(block_size: Any) -> float:
    """Check a block size (detections, > 0) and return it as a float."""
    block = real_array(block_size, "block_size", finite=True)
    if block.ndim != 0 or float(block) <= 0.0:
        raise ValueError(f"block_size={block_size!r} must be one number > 0")
    return float(block)


def settings_box(weak: float) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the optimiser coordinates of :func:`decode_settings` for a fixed ``mu3``."""
    low_mu = max(SIGNAL_RANGE[0], 2.5 * weak)
    if low_mu >= SIGNAL_RANGE[1]:
        raise ValueError(
            f"weak_decoy_intensity={weak!r} leaves no room for a signal intensity "
            f"<= {SIGNAL_RANGE[1]}"
        )
    lower = [logit(BASIS_PROB_RANGE[0]), math.log(low_mu), -LOGIT_RANGE, -LOGIT_RANGE]
    upper = [logit(BASIS_PROB_RANGE[1]), math.log(SIGNAL_RANGE[1]), LOGIT_RANGE, 12.0]
    return np.array([*lower, -LOGIT_RANGE]), np.array([*upper, LOGIT_RANGE])


def rank_rate(length: np.ndarray, pulses: np.ndarray, block: float) -> np.ndarray:
    """Optimiser value: ``length / N`` where positive, else the deficit per block detection.

    Dividing a deficit by ``N`` would reward settings that send more pulses per block (it
    brings the deficit closer to 0), and push the search away from the key region.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(length > 0.0, length / pulses, length / block)


def optimise_link(
    key_model: Callable[..., Any],
    link: tuple,
    lengths: np.ndarray,
    weak: float,
    params: Any,
    options: tuple,
    result_type: type,
) -> FiniteKeyOptimum:
    """Check the options of an ``optimize_*_finite_key`` and run :func:`optimise_protocol`.

    ``key_model(link, f, weak, block, eps_cor, sampling_bound)`` is the protocol's ``key_at``
    factory (``model_key`` of :mod:`.finite_key_bb84` or :mod:`.finite_key_mdi`), ``link`` its
    checked link arrays, ``weak`` the fixed weakest intensity, ``params`` the link (for its
    ``ec_inefficiency``) and ``options`` the public function's ``(block_size, eps_sec, eps_cor,
    secrecy_per_bit, sampling_bound)``.
    """
    block_size, eps_sec, eps_cor, secrecy_per_bit, sampling_bound = options
    eps_s, eps_c, kappa = check_security(eps_sec, eps_cor, secrecy_per_bit)
    block = check_block(block_size)
    f = np.asarray(check_ec(params.ec_inefficiency, None)[0])
    key_at = key_model(link, f, weak, block, eps_c, check_sampling(sampling_bound))
    return optimise_protocol(key_at, lengths, weak, block, eps_s, eps_c, kappa, result_type)


def optimise_protocol(
    key_at: Callable[[np.ndarray], tuple[Callable[[Any], dict[str, np.ndarray]], np.ndarray]],
    lengths: np.ndarray,
    weak: float,
    block: float,
    eps_sec: Any,
    eps_cor: Any,
    kappa: float | None,
    result_type: type,
) -> FiniteKeyOptimum:
    """Best settings (:func:`decode_settings`) of a protocol for every length, and its key there.

    ``key_at(x)`` gives, for optimiser coordinates ``x``, the function ``eps_sec -> terms``
    of the protocol's key (see :func:`evaluate_key`) and the pulses ``N`` per block. The value
    maximised is :func:`rank_rate` of the ``objective`` term. With a fixed ``eps_sec`` this is
    one :func:`maximise_box`; with ``kappa`` (``eps_sec = kappa l``) three rounds, each at the
    ``eps_sec`` that the previous round's optimum gives (the first at ``kappa * block / 1000``),
    and the final key solves ``eps_sec = kappa l`` exactly.
    """
    lower, upper = settings_box(weak)

    def rate(x: np.ndarray, eps: Any) -> np.ndarray:
        terms_at, pulses = key_at(x)
        return rank_rate(terms_at(eps)["objective"], pulses, block)

    if kappa is None:
        x = maximise_box(lambda x: rate(x, eps_sec), lower, upper, lengths.shape)[0]
    else:
        eps = np.full(lengths.shape, min(kappa * 1e-3 * block, 0.5))
        for _ in range(3):
            x = maximise_box(lambda x, e=eps: rate(x, e), lower, upper, lengths.shape)[0]
            terms_at, _ = key_at(x)
            eps = np.minimum(
                solve_per_bit_secrecy(
                    lambda e, t=terms_at: t(e)["key_length_unrounded"],
                    secrecy_per_bit=kappa,
                    start=np.full(lengths.shape, block),
                )[1],
                0.5,
            )
    q, mu, p = decode_settings(x, weak)
    terms_at, pulses = key_at(x)
    key = evaluate_key(
        result_type, terms_at, np.full(lengths.shape, block), eps_sec, eps_cor, kappa, pulses
    )
    return FiniteKeyOptimum(
        length_km=lengths,
        key_rate_per_pulse=np.asarray(key.key_length) / np.asarray(pulses),
        basis_prob=q,
        intensities=mu,
        intensity_probs=p,
        key=key,
    )
