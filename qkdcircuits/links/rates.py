"""Secret-key rate formulas: binary entropy, Shor-Preskill, GLLP and MDI-QKD (no Qiskit).

Rates are asymptotic and per signal pulse, as in the papers: in the asymptotic limit the
fraction of decoy and test pulses vanishes.

* GLLP (Gottesman, Lo, Lutkenhaus, Preskill, Quantum Inf. Comput. 4, 325 (2004); with decoy
  states Lo, Ma, Chen, PRL 94, 230504 (2005), Eq. 1):
  ``R = q { -Q_mu f H2(E_mu) + Q1 [1 - H2(e1)] }``, ``Q1 = Y1 mu e^{-mu}``.
* MDI-QKD (Lo, Curty, Qi, PRL 108, 130503 (2012), Eq. 1; Xu et al., NJP 15, 113007 (2013)):
  ``R = q { mu_a mu_b e^{-mu_a - mu_b} Y11 [1 - H2(e11_X)] - Q_Z f H2(E_Z) }``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qkdcircuits._validation import as_float_or_array

__all__ = ["binary_entropy", "gllp_key_rate", "mdi_key_rate", "shor_preskill_rate"]


def binary_entropy(p: Any) -> Any:
    """Binary entropy ``H2(p) = -p log2 p - (1-p) log2(1-p)`` in bits, with ``H2(0) = H2(1) = 0``.

    Parameters
    ----------
    p : float or array_like
        Probabilities in [0, 1].

    Returns
    -------
    float or numpy.ndarray
        ``H2(p)`` in bits.

    Raises
    ------
    ValueError
        For a value outside [0, 1] or not finite.

    References
    ----------
    C. E. Shannon, Bell Syst. Tech. J. 27, 379 (1948).

    Examples
    --------
    >>> round(binary_entropy(0.11), 10)
    0.4999159582
    """
    p = np.asarray(p, dtype=float)
    if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"p={p.tolist()!r} not in [0, 1]")
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -p * np.log2(p) - (1.0 - p) * np.log2(1.0 - p)
    return as_float_or_array(np.where((p == 0) | (p == 1), 0.0, h))


def shor_preskill_rate(qber: Any) -> Any:
    """BB84 key fraction for single photons, ``1 - 2 H2(Q)``.

    Negative above ``Q = 0.1100278644``, where no key can be distilled.

    Parameters
    ----------
    qber : float or array_like
        Quantum bit error rate in [0, 1], equal in both bases.

    Returns
    -------
    float or numpy.ndarray
        Secret bits per sifted bit (may be negative).

    Raises
    ------
    ValueError
        For a QBER outside [0, 1].

    References
    ----------
    P. W. Shor, J. Preskill, Phys. Rev. Lett. 85, 441 (2000).

    Examples
    --------
    >>> round(shor_preskill_rate(0.02), 6)
    0.717119
    """
    return as_float_or_array(1.0 - 2.0 * np.asarray(binary_entropy(qber)))


def entropy_upper(error_upper: Any) -> np.ndarray:
    """``H2`` of an upper bound on an error rate; 1 (no certified key) if undefined or >= 1/2.

    ``H2`` is increasing on [0, 1/2] and at most 1, so ``H2(min(e^U, 1/2))`` upper-bounds
    ``H2(e)`` for every ``e <= e^U``.
    """
    e = np.asarray(error_upper, dtype=float)
    safe = np.where(np.isnan(e), 0.5, np.clip(e, 0.0, 0.5))
    return np.asarray(binary_entropy(safe))


def rate_terms(
    single_gain: Any, single_error: Any, gain: Any, qber: Any, f: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Return the two terms of the GLLP-type rate: ``(Q1 [1 - H2(e1)], Q f H2(E))``.

    The rate per pulse is ``q (first - second)``. A non-positive ``Q1`` or an undefined ``e1``
    certifies nothing (first term 0); an undefined ``E`` (no detection) leaks nothing.
    """
    single_gain = np.asarray(single_gain, dtype=float)
    single = np.where(single_gain > 0, single_gain * (1.0 - entropy_upper(single_error)), 0.0)
    qber = np.clip(np.nan_to_num(np.asarray(qber, dtype=float)), 0.0, 1.0)
    leak = np.asarray(gain, dtype=float) * np.asarray(f, dtype=float) * binary_entropy(qber)
    return single, np.asarray(leak)


def rate_from_estimates(
    single_gain: Any, single_error: Any, gain: Any, qber: Any, f: Any, q: Any
) -> np.ndarray:
    """``q { Q1 [1 - H2(e1)] - Q f H2(E) }`` from the estimates (see :func:`rate_terms`)."""
    single, leak = rate_terms(single_gain, single_error, gain, qber, f)
    return np.asarray(q, dtype=float) * (single - leak)


def gllp_key_rate(
    *,
    gain_signal: Any,
    qber_signal: Any,
    single_photon_gain: Any,
    single_photon_error: Any,
    ec_inefficiency: float,
    sifting_factor: float = 0.5,
) -> Any:
    """GLLP key rate per signal pulse, ``q { Q1 [1 - H2(e1)] - Q_mu f H2(E_mu) }``.

    ``single_photon_gain`` is ``Q1 = Y1 mu e^{-mu}`` (or its lower bound); a non-positive
    ``Q1`` or an undefined ``e1`` certifies no key, an error bound above 1/2 is treated as 1/2.

    Parameters
    ----------
    gain_signal, qber_signal : float or array_like
        ``Q_mu`` and ``E_mu`` of the signal pulses.
    single_photon_gain : float or array_like
        ``Q1``: probability per signal pulse of a single-photon emission that is detected.
    single_photon_error : float or array_like
        ``e1`` (or its upper bound).
    ec_inefficiency : float
        Error-correction inefficiency ``f >= 1``.
    sifting_factor : float
        ``q`` (1/2 for BB84 with unbiased bases).

    Returns
    -------
    float or numpy.ndarray
        Secret bits per signal pulse; negative where no key can be distilled.

    Raises
    ------
    ValueError
        For a QBER outside [0, 1].

    References
    ----------
    D. Gottesman, H.-K. Lo, N. Lutkenhaus, J. Preskill, Quantum Inf. Comput. 4, 325 (2004);
    H.-K. Lo, X. Ma, K. Chen, Phys. Rev. Lett. 94, 230504 (2005), Eq. (1).

    Examples
    --------
    >>> round(gllp_key_rate(gain_signal=0.02137009, qber_signal=0.03303715,
    ...     single_photon_gain=0.0450017 * 0.48 * 0.6187834, single_photon_error=0.03301764,
    ...     ec_inefficiency=1.22), 7)
    0.0025546
    """
    return as_float_or_array(
        rate_from_estimates(
            single_photon_gain,
            single_photon_error,
            gain_signal,
            qber_signal,
            ec_inefficiency,
            sifting_factor,
        )
    )


def mdi_key_rate(
    *,
    gain_z: Any,
    qber_z: Any,
    single_pair_gain: Any,
    single_pair_error: Any,
    ec_inefficiency: float,
    sifting_factor: float = 1.0,
) -> Any:
    """MDI-QKD key rate per signal pulse pair.

    ``q { mu_a mu_b e^{-mu_a-mu_b} Y11 [1 - H2(e11_X)] - Q_Z f H2(E_Z) }``, with
    ``single_pair_gain = mu_a mu_b e^{-mu_a-mu_b} Y11`` (or its lower bound).

    Parameters
    ----------
    gain_z, qber_z : float or array_like
        ``Q_Z`` and ``E_Z`` of the signal pair.
    single_pair_gain : float or array_like
        Probability per pulse pair that both emit one photon and Charlie announces success.
    single_pair_error : float or array_like
        ``e11`` in the X basis (or its upper bound).
    ec_inefficiency : float
        Error-correction inefficiency ``f >= 1``.
    sifting_factor : float
        ``q``, the fraction of pulse pairs kept for the key.

    Returns
    -------
    float or numpy.ndarray
        Secret bits per signal pulse pair; negative where no key can be distilled.

    Raises
    ------
    ValueError
        For a QBER outside [0, 1].

    References
    ----------
    H.-K. Lo, M. Curty, B. Qi, Phys. Rev. Lett. 108, 130503 (2012), Eq. (1); F. Xu, M. Curty,
    B. Qi, H.-K. Lo, New J. Phys. 15, 113007 (2013), Eq. (1).

    Examples
    --------
    >>> round(mdi_key_rate(gain_z=2.35833e-3, qber_z=0.0151635,
    ...     single_pair_gain=0.25 * 0.3678794 * 0.010514, single_pair_error=0.015072,
    ...     ec_inefficiency=1.16), 6)
    0.000548
    """
    return as_float_or_array(
        rate_from_estimates(
            single_pair_gain,
            single_pair_error,
            gain_z,
            qber_z,
            ec_inefficiency,
            sifting_factor,
        )
    )
