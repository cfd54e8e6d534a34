r"""Composable finite-key length of decoy-state MDI-QKD with three intensities (no Qiskit).

The analysis follows M. Curty, F. Xu, W. Cui, C. C. W. Lim, K. Tamaki, H.-K. Lo, "Finite-key
analysis for measurement-device-independent quantum key distribution", Nat. Commun. 5, 3732
(2014): the secret key is distilled from the single-photon pairs of the key basis Z, their
phase error is estimated from the X basis by random sampling, and the decoy-state parameters
are estimated with Chernoff bounds on the counts of every intensity pair. The composable
bookkeeping (smooth min-entropy chain rule, uncertainty relation, privacy amplification) is
that of C. C. W. Lim, M. Curty, N. Walenta, F. Xu, H. Zbinden, Phys. Rev. A 89, 022307
(2014), Appendix B, specialised below; the decoy bound is this package's analytic
three-intensity bound (:func:`~qkdcircuits.links.decoy.mdi_yield_lower_bound`), not the
estimation procedure of Curty et al. This is therefore an analysis in their framework, not a
reproduction of their numbers.

Protocol
--------
Alice and Bob each choose the basis Z with probability ``q_z`` (X otherwise) and one of three
intensities ``mu > nu + omega``, ``nu > omega >= 0`` with probabilities ``p_mu, p_nu, p_omega``
(independently of the basis); the relay announces successful Bell-state measurements. For each
basis ``B`` and intensity pair ``(a, b)``, ``n_{B,ab}`` counts the announced events and
``m_{B,ab}`` the errors (after Bob's bit flip). The key is the block of all
``n_Z = sum_ab n_{Z,ab}`` Z-basis events.

Bounds
------
With phase-randomised sources, the expected count of pair ``(a, b)`` given the photon-number
pairs of the announced events is ``n*_ab = sum_{n,m} p_{ab|nm} s_nm`` with
``p_{ab|nm} = p_a p_b e^{-a-b} a^n b^m / (n! m! tau_n tau_m)`` and
``tau_n = sum_a p_a e^{-a} a^n / n!`` (per party), so
``S(a, b) = e^{a+b} n*_ab / (p_a p_b) = sum Y_nm a^n b^m / (n! m!)`` with ``Y_nm =
s_nm / (tau_n tau_m) >= 0``: the gains of the asymptotic analysis, up to a constant. The
double-difference bound of :func:`~qkdcircuits.links.decoy.mdi_yield_lower_bound`,

.. math:: s_{11} \ge \tau_1^A \tau_1^B\,
   \frac{T(\nu,\nu) - c\,T(\mu,\mu)}
   {(\nu_a-\omega_a)(\nu_b-\omega_b) - c(\mu_a-\omega_a)(\mu_b-\omega_b)},

with ``T(a, b) = S(a, b) - S(a, omega) - S(omega, b) + S(omega, omega)`` and
``c = max(r_a(2) r_b(1), r_a(1) r_b(2))``, ``r(k) = (nu^k - omega^k)/(mu^k - omega^k)``, is
linear in the seven ``S`` it uses: each is replaced by its Chernoff lower bound where its
coefficient is positive (``(nu, nu)``, ``(mu, omega)``, ``(omega, mu)``, and ``(omega, omega)``,
coefficient ``1 - c``) and by its upper bound where negative (``(nu, omega)``,
``(omega, nu)``, ``(mu, mu)``). Likewise
``v_11 <= tau_1^A tau_1^B T_E(nu, nu) / ((nu_a - omega_a)(nu_b - omega_b))`` from the X-basis
error counts (upper bounds on ``(nu, nu)``, ``(omega, omega)``, lower on the other two). The
bounds on the expected counts are :func:`~qkdcircuits.links.finite_key.chernoff_mean_bounds`
(Chernoff rather than Hoeffding, as in Curty et al.: the counts of the weak pairs are far
smaller than the block, and Hoeffding's width grows with the block).

Key length
----------
.. math:: l = \Big\lfloor s^Z_{11}\,[1 - h(\phi^X_{11})] - \lambda_{EC}
          - \log_2\frac{2}{\epsilon_{cor}} - 4\log_2\frac{25}{\epsilon_{sec}} \Big\rfloor,
   \qquad \phi^X_{11} = \frac{v^X_{11}}{s^X_{11}}
          + \gamma\Big(\frac{\epsilon_{sec}}{25}, \frac{v^X_{11}}{s^X_{11}}, s^X_{11}, s^Z_{11}\Big)

(``gamma``: :func:`~qkdcircuits.links.finite_key.sampling_deviation`). This is Lim et al.'s
Eq. (B3) with one chain rule instead of two (only the single-photon pairs are counted as secret:
``H_min(Z_A|E) >= H^{a1}_min(Z^{11}|Z^{rest} E) - 2 log2(1/a2) - 1``, smoothing
``2 a1 + a2``), and the ``+1`` left over from the chain rule and privacy amplification dropped.
Its secrecy is ``2 (2 a1 + a2) + nu_PA + 18 eps_PE``: 18 one-sided Chernoff bounds (7 cells for
``s^Z_11``, 7 for ``s^X_11``, 4 for ``v^X_11``); with every term equal,
``eps_sec = 25 eps``. ``lambda_EC = f n_Z h(m_Z/n_Z)`` by default (the error rate of the whole
key block), and ``eps_sec = kappa l`` is available as for BB84
(:mod:`qkdcircuits.links.finite_key_bb84` lists the shared readings: clipping at 0, capping
``phi`` at 1/2, the logarithms in ``gamma``). As there, the phase-error deviation is by default
Serfling's (``sampling_bound="serfling"``), which stays valid with few errors, and
``sampling_bound="lim2014"`` selects ``gamma``. Vacuum events (Alice sent no photon) are not
counted as secret, which is conservative.

Link model
----------
Expected counts (:func:`mdi_expected_counts`) use the closed forms
:func:`~qkdcircuits.links.decoy.mdi_gains` (Xu, Curty, Qi, Lo, New J. Phys. 15, 113007 (2013)):
``N = n_Z / (q_z^2 sum_ab p_a p_b Q^Z_ab)`` pulse pairs fill a block of ``n_Z`` Z-basis events,
``n_{Z,ab} = N q_z^2 p_a p_b Q^Z_ab``, ``m_{Z,ab} = N q_z^2 p_a p_b E^Z_ab Q^Z_ab`` and the same
with ``(1 - q_z)^2`` and the X-basis gains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from qkdcircuits.links.decoy import mdi_gains
from qkdcircuits.links.finite_key import (
    DEFAULT_EPS_COR,
    DEFAULT_EPS_SEC,
    DEFAULT_SAMPLING_BOUND,
    FiniteKeyOptimum,
    KeyLengthFields,
    align_batch,
    binary_entropy_clipped,
    check_block_sizes,
    check_intensities,
    check_intensity_probs,
    check_key_options,
    chernoff_unchecked,
    count_array,
    decode_settings,
    evaluate_key,
    finished_counts,
    leak_terms,
    open_unit_array,
    optimise_link,
    phase_error_terms,
    real_array,
)
from qkdcircuits.links.params import MDIParams

__all__ = [
    "MDICounts",
    "MDIFiniteKey",
    "mdi_expected_counts",
    "mdi_finite_key_length",
    "mdi_finite_key_rate",
    "optimize_mdi_finite_key",
]

MDI_ERROR_TERMS = 25
"""``eps_sec = 25 eps``: 7 smoothing / hashing terms and 18 Chernoff bounds (module docstring)."""


class MDICounts(NamedTuple):
    """Announced events and errors per basis and intensity pair (axes 0, 1: Alice, Bob).

    Attributes
    ----------
    detections_z, errors_z, detections_x, errors_x : numpy.ndarray
        ``n_{Z,ab}``, ``m_{Z,ab}``, ``n_{X,ab}``, ``m_{X,ab}``, shape ``(3, 3, ...)`` with the
        intensities in the order ``(mu, nu, omega)``.
    pulses : float or numpy.ndarray
        Pulse pairs sent (``N``); ``nan`` when unknown.

    Examples
    --------
    >>> MDICounts(*(np.ones((3, 3)),) * 4, pulses=1e9).detections_z.shape
    (3, 3)
    """

    detections_z: Any
    errors_z: Any
    detections_x: Any
    errors_x: Any
    pulses: Any = math.nan


@dataclass(frozen=True)
class MDIFiniteKey(KeyLengthFields):
    """Certified key length of decoy-state MDI-QKD and every intermediate bound.

    Every field is a float or, for array inputs, a numpy array of the broadcast shape.

    Attributes
    ----------
    key_length : float or numpy.ndarray
        ``l`` in bits, rounded down and never negative.
    key_length_unrounded : float or numpy.ndarray
        The argument of the floor (negative when no key can be certified).
    single_z_lower : float or numpy.ndarray
        ``s^Z_11``: single-photon pairs in the key block.
    single_x_lower : float or numpy.ndarray
        ``s^X_11``: single-photon pairs among the X-basis events.
    single_x_errors_upper : float or numpy.ndarray
        ``v^X_11``: their errors.
    phase_error_x : float or numpy.ndarray
        ``v^X_11 / s^X_11`` capped at 1/2 (1/2 where nothing is certified).
    sampling_deviation : float or numpy.ndarray
        ``gamma`` (0 where nothing is certified).
    phase_error_upper : float or numpy.ndarray
        ``phi^X_11``, capped at 1/2.
    ec_leak_bits : float or numpy.ndarray
        ``lambda_EC`` in bits.
    block_size : float or numpy.ndarray
        ``n_Z = sum_ab n_{Z,ab}``.
    qber_z : float or numpy.ndarray
        ``m_Z / n_Z``.
    eps_sec, eps_cor : float or numpy.ndarray
        Secrecy and correctness parameters.
    pulses : float or numpy.ndarray
        Pulse pairs sent (``nan`` when only counts were given).

    Examples
    --------
    >>> counts = mdi_expected_counts(transmittance_a=0.0145, transmittance_b=0.0145,
    ...     dark_count_prob=3e-6, misalignment_prob=0.015, intensities=(0.4, 0.1, 0.0),
    ...     intensity_probs=(0.6, 0.3, 0.1), basis_prob=0.7, block_size=1e9)
    >>> key = mdi_finite_key_length(intensities=(0.4, 0.1, 0.0),
    ...     intensity_probs=(0.6, 0.3, 0.1), detections_z=counts.detections_z,
    ...     errors_z=counts.errors_z, detections_x=counts.detections_x,
    ...     errors_x=counts.errors_x, pulses=counts.pulses)
    >>> 0 < key.key_length < key.single_z_lower < key.block_size
    True
    """

    key_length: Any
    key_length_unrounded: Any
    single_z_lower: Any
    single_x_lower: Any
    single_x_errors_upper: Any
    phase_error_x: Any
    sampling_deviation: Any
    phase_error_upper: Any
    ec_leak_bits: Any
    block_size: Any
    qber_z: Any
    eps_sec: Any
    eps_cor: Any
    pulses: Any = math.nan


# ----------------------------------------------------------------------------------------------
# argument handling
# ----------------------------------------------------------------------------------------------


def check_table(detections: Any, errors: Any, basis: str) -> tuple[np.ndarray, np.ndarray]:
    """Check the counts of one basis: shape ``(3, 3, ...)``, ``0 <= errors <= detections``."""
    n = count_array(detections, f"detections_{basis}")
    m = count_array(errors, f"errors_{basis}")
    for name, table in ((f"detections_{basis}", n), (f"errors_{basis}", m)):
        if table.shape[:2] != (3, 3):
            raise ValueError(f"{name} has shape {table.shape}, expected (3, 3, ...)")
    if np.any(m > n):
        raise ValueError(f"errors_{basis} exceed detections_{basis}")
    return n, m


def party_settings(
    intensities: Any, intensity_probs: Any, intensities_b: Any, intensity_probs_b: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Alice's and Bob's ``(mu, nu, omega)`` and probabilities (Bob's default to Alice's)."""
    mu_a = check_intensities(intensities)
    p_a = check_intensity_probs(intensity_probs)
    mu_b = mu_a if intensities_b is None else check_intensities(intensities_b, "intensities_b")
    p_b = (
        p_a
        if intensity_probs_b is None
        else check_intensity_probs(intensity_probs_b, "intensity_probs_b")
    )
    return mu_a, p_a, mu_b, p_b


# ----------------------------------------------------------------------------------------------
# the bounds (unchecked kernels)
# ----------------------------------------------------------------------------------------------


def scaled_bounds(
    mu_a: np.ndarray, mu_b: np.ndarray, p_a: np.ndarray, p_b: np.ndarray, n: np.ndarray, beta: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Chernoff bounds on ``S(a, b) = e^{a+b} n*_ab / (p_a p_b)`` for the nine pairs."""
    lower, upper = chernoff_unchecked(n, beta)
    weight = np.exp(mu_a[:, None] + mu_b[None, :]) / (p_a[:, None] * p_b[None, :])
    return weight * lower, weight * upper


def single_pairs_lower(
    mu_a: np.ndarray,
    mu_b: np.ndarray,
    p_a: np.ndarray,
    p_b: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
) -> np.ndarray:
    """``s_11`` lower bound from the bounds on ``S`` (module docstring)."""

    def ratio(mu: np.ndarray, k: int) -> np.ndarray:
        return (mu[1] ** k - mu[2] ** k) / (mu[0] ** k - mu[2] ** k)

    c = np.maximum(ratio(mu_a, 2) * ratio(mu_b, 1), ratio(mu_a, 1) * ratio(mu_b, 2))
    numerator = (
        low[1, 1]
        - high[1, 2]
        - high[2, 1]
        - c * high[0, 0]
        + c * (low[0, 2] + low[2, 0])
        + (1.0 - c) * low[2, 2]
    )
    denominator = (mu_a[1] - mu_a[2]) * (mu_b[1] - mu_b[2]) - c * (mu_a[0] - mu_a[2]) * (
        mu_b[0] - mu_b[2]
    )
    return single_photon_prob(mu_a, p_a) * single_photon_prob(mu_b, p_b) * numerator / denominator


def single_photon_prob(mu: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``tau_1 = sum_a p_a a e^{-a}``."""
    return np.sum(p * mu * np.exp(-mu), axis=0)


def single_pair_errors_upper(
    mu_a: np.ndarray,
    mu_b: np.ndarray,
    p_a: np.ndarray,
    p_b: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
) -> np.ndarray:
    """``v_11`` upper bound from the bounds on the error analogue of ``S``."""
    t_upper = high[1, 1] - low[1, 2] - low[2, 1] + high[2, 2]
    spread = (mu_a[1] - mu_a[2]) * (mu_b[1] - mu_b[2])
    tau = single_photon_prob(mu_a, p_a) * single_photon_prob(mu_b, p_b)
    return np.maximum(tau * t_upper / spread, 0.0)


def key_terms(
    settings: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    counts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    eps_sec: Any,
    eps_cor: Any,
    f: Any,
    leak: np.ndarray | None,
    sampling_bound: str,
) -> dict[str, np.ndarray]:
    """Every term of the key length (named as the fields of :class:`MDIFiniteKey`), unchecked."""
    nz, mz, nx, mx = counts
    beta = np.log(MDI_ERROR_TERMS / eps_sec)
    block = nz.sum(axis=(0, 1))
    # s_11 <= n (a lower bound above the number of events only comes from improbable data)
    s_z = np.minimum(single_pairs_lower(*settings, *scaled_bounds(*settings, nz, beta)), block)
    s_x = np.minimum(
        single_pairs_lower(*settings, *scaled_bounds(*settings, nx, beta)), nx.sum(axis=(0, 1))
    )
    v_x = single_pair_errors_upper(*settings, *scaled_bounds(*settings, mx, beta))
    ratio, gamma, phi = phase_error_terms(v_x, s_x, s_z, eps_sec / MDI_ERROR_TERMS, sampling_bound)
    qber, leak = leak_terms(f, block, mz.sum(axis=(0, 1)), leak)
    length = (
        np.maximum(s_z, 0.0) * (1.0 - binary_entropy_clipped(phi))
        - leak
        - np.log2(2.0 / eps_cor)
        - 4.0 * np.log2(MDI_ERROR_TERMS / eps_sec)
    )
    return {
        "key_length_unrounded": length,
        "objective": length + np.minimum(s_z, 0.0),
        "single_z_lower": s_z,
        "single_x_lower": s_x,
        "single_x_errors_upper": v_x,
        "phase_error_x": ratio,
        "sampling_deviation": gamma,
        "phase_error_upper": phi,
        "ec_leak_bits": leak,
        "block_size": block,
        "qber_z": qber,
    }


# ----------------------------------------------------------------------------------------------
# public entry points
# ----------------------------------------------------------------------------------------------


def mdi_finite_key_length(
    *,
    intensities: Any,
    intensity_probs: Any,
    detections_z: Any,
    errors_z: Any,
    detections_x: Any,
    errors_x: Any,
    intensities_b: Any = None,
    intensity_probs_b: Any = None,
    eps_sec: Any = DEFAULT_EPS_SEC,
    eps_cor: Any = DEFAULT_EPS_COR,
    secrecy_per_bit: float | None = None,
    sampling_bound: str = DEFAULT_SAMPLING_BOUND,
    ec_inefficiency: Any = 1.16,
    ec_leak_bits: Any = None,
    pulses: Any = None,
) -> MDIFiniteKey:
    r"""Certified secret-key length of decoy-state MDI-QKD from observed counts.

    The analysis of the module docstring (:mod:`.finite_key_mdi`): key from the Z-basis
    single-photon pairs, phase error from the X basis, Chernoff parameter estimation on the nine
    intensity pairs of each basis, composable accounting ``eps_sec = 25 eps``.

    Parameters
    ----------
    intensities, intensity_probs : sequence of three floats or arrays
        Alice's ``(mu, nu, omega)`` (photons per pulse; ``mu > nu + omega``,
        ``nu > omega >= 0``) and their probabilities (each in (0, 1), summing to 1).
    detections_z, errors_z, detections_x, errors_x : array_like, shape (3, 3, ...)
        Announced events and errors per intensity pair (axis 0 Alice, axis 1 Bob) when both
        chose Z (the key block) or X.
    intensities_b, intensity_probs_b : sequence of three floats or arrays, optional
        Bob's, if they differ from Alice's.
    eps_sec, eps_cor, secrecy_per_bit, sampling_bound, ec_inefficiency, ec_leak_bits, pulses
        As in :func:`~qkdcircuits.links.finite_key_bb84.bb84_finite_key_length` (``pulses``:
        pulse pairs sent; the default ``sampling_bound="serfling"`` is valid with few errors,
        ``"lim2014"`` is Lim et al.'s ``gamma``).

    Returns
    -------
    MDIFiniteKey
        The key length and every intermediate bound.

    Raises
    ------
    ValueError
        For intensities or probabilities out of range, tables not of shape ``(3, 3, ...)``,
        negative counts, more errors than events, epsilons outside (0, 1), ``f < 1``, both /
        neither of ``eps_sec`` and ``secrecy_per_bit``, or an unknown ``sampling_bound``.
    TypeError
        For values that are not numbers.

    References
    ----------
    M. Curty, F. Xu, W. Cui, C. C. W. Lim, K. Tamaki, H.-K. Lo, Nat. Commun. 5, 3732 (2014);
    C. C. W. Lim, M. Curty, N. Walenta, F. Xu, H. Zbinden, Phys. Rev. A 89, 022307 (2014),
    Appendix B; C.-H. F. Fung, X. Ma, H. F. Chau, Phys. Rev. A 81, 012318 (2010).

    Examples
    --------
    >>> ints, probs = (0.4, 0.05, 0.01), (0.6, 0.3, 0.1)
    >>> c = mdi_expected_counts(transmittance_a=0.05, transmittance_b=0.05,
    ...     dark_count_prob=1e-5, misalignment_prob=0.015, intensities=ints,
    ...     intensity_probs=probs, basis_prob=0.7, block_size=1e9)
    >>> key = mdi_finite_key_length(intensities=ints, intensity_probs=probs,
    ...     detections_z=c.detections_z, errors_z=c.errors_z, detections_x=c.detections_x,
    ...     errors_x=c.errors_x)
    >>> round(key.key_length / key.block_size, 4), round(key.phase_error_upper, 4)
    (0.0581, 0.1193)
    """
    mu_a, p_a, mu_b, p_b = party_settings(
        intensities, intensity_probs, intensities_b, intensity_probs_b
    )
    nz, mz = check_table(detections_z, errors_z, "z")
    nx, mx = check_table(detections_x, errors_x, "x")
    opt = check_key_options(
        eps_sec, eps_cor, secrecy_per_bit, sampling_bound, ec_inefficiency, ec_leak_bits, pulses
    )
    mu_a, mu_b, p_a, p_b, nz, mz, nx, mx, eps_c, f = align_batch(
        (mu_a, 1),
        (mu_b, 1),
        (p_a, 1),
        (p_b, 1),
        (nz, 2),
        (mz, 2),
        (nx, 2),
        (mx, 2),
        (opt.eps_cor, 0),
        (opt.ec_inefficiency, 0),
    )
    settings, counts = (mu_a, mu_b, p_a, p_b), (nz, mz, nx, mx)
    bound, leak = opt.sampling_bound, opt.ec_leak_bits
    return evaluate_key(
        MDIFiniteKey,
        lambda eps: key_terms(settings, counts, eps, eps_c, f, leak, bound),
        nz.sum(axis=(0, 1)),
        opt.eps_sec,
        eps_c,
        opt.kappa,
        opt.pulses,
    )


def expected_counts_unchecked(
    eta_a: Any,
    eta_b: Any,
    p_d: Any,
    e_d: Any,
    settings: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    q_z: Any,
    block: Any,
) -> MDICounts:
    mu_a, mu_b, p_a, p_b = settings
    gains = mdi_gains(
        intensity_a=mu_a[:, None],
        intensity_b=mu_b[None, :],
        transmittance_a=eta_a,
        transmittance_b=eta_b,
        dark_count_prob=p_d,
        misalignment_prob=e_d,
    )
    pair = p_a[:, None] * p_b[None, :]
    gain_z = np.asarray(gains.gain_z)
    gain_x = np.asarray(gains.gain_x)
    error_z = gain_z * np.nan_to_num(np.asarray(gains.qber_z))
    error_x = gain_x * np.nan_to_num(np.asarray(gains.qber_x))
    pulses = block / (q_z**2 * np.sum(pair * gain_z, axis=(0, 1)))
    z = pulses * q_z**2 * pair
    x = pulses * (1.0 - q_z) ** 2 * pair
    return MDICounts(z * gain_z, z * error_z, x * gain_x, x * error_x, pulses)


def mdi_expected_counts(
    *,
    transmittance_a: Any,
    transmittance_b: Any,
    dark_count_prob: Any,
    misalignment_prob: Any,
    intensities: Any,
    intensity_probs: Any,
    basis_prob: Any,
    block_size: Any,
    intensities_b: Any = None,
    intensity_probs_b: Any = None,
) -> MDICounts:
    r"""Compute the expected counts of an MDI-QKD link for a Z-basis block of ``n_Z`` events.

    ``N = n_Z / (q_z^2 sum_ab p_a p_b Q^Z_ab)`` pulse pairs; counts per intensity pair from the
    closed forms :func:`~qkdcircuits.links.decoy.mdi_gains` (Xu, Curty, Qi, Lo, New J. Phys.
    15, 113007 (2013)).

    Parameters
    ----------
    transmittance_a, transmittance_b : float or array_like
        ``eta_a``, ``eta_b``: channel transmittance times detector efficiency, in [0, 1].
    dark_count_prob : float or array_like
        ``p_d`` per detector, in [0, 1).
    misalignment_prob : float or array_like
        ``e_d`` in [0, 0.5].
    intensities, intensity_probs, intensities_b, intensity_probs_b
        As in :func:`mdi_finite_key_length`.
    basis_prob : float or array_like
        ``q_z`` in (0, 1), the probability of the key basis Z (both parties).
    block_size : float or array_like
        ``n_Z`` (> 0).

    Returns
    -------
    MDICounts
        Expected tables (shape ``(3, 3, ...)``) and pulse pairs.

    Raises
    ------
    ValueError
        For a value out of range, or a link that announces nothing.

    References
    ----------
    F. Xu, M. Curty, B. Qi, H.-K. Lo, "Practical aspects of measurement-device-
    independent quantum key distribution", New J. Phys. 15, 113007 (2013).

    Examples
    --------
    >>> c = mdi_expected_counts(transmittance_a=0.145, transmittance_b=0.145,
    ...     dark_count_prob=3e-6, misalignment_prob=0.015, intensities=(0.5, 0.1, 0.0),
    ...     intensity_probs=(0.8, 0.1, 0.1), basis_prob=0.9, block_size=1e6)
    >>> round(float(c.detections_z.sum())), round(float(c.errors_z[0, 0] / c.detections_z[0, 0]), 6)
    (1000000, 0.015164)
    """
    settings = party_settings(intensities, intensity_probs, intensities_b, intensity_probs_b)
    q_z = open_unit_array(basis_prob, "basis_prob")
    block = check_block_sizes(block_size)
    mu_a, p_a, mu_b, p_b = settings
    eta_a = real_array(transmittance_a, "transmittance_a", finite=True)
    eta_b = real_array(transmittance_b, "transmittance_b", finite=True)
    p_d = real_array(dark_count_prob, "dark_count_prob", finite=True)
    e_d = real_array(misalignment_prob, "misalignment_prob", finite=True)
    mu_a, mu_b, p_a, p_b, eta_a, eta_b, p_d, e_d, q_z, block = align_batch(
        (mu_a, 1),
        (mu_b, 1),
        (p_a, 1),
        (p_b, 1),
        (eta_a, 0),
        (eta_b, 0),
        (p_d, 0),
        (e_d, 0),
        (q_z, 0),
        (block, 0),
    )
    return finished_counts(
        expected_counts_unchecked(eta_a, eta_b, p_d, e_d, (mu_a, mu_b, p_a, p_b), q_z, block),
        "the link announces no events (transmittances and dark counts are 0)",
    )


def link_inputs(
    params: Any, length_km: Any, relay_fraction: float
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """``(eta_a, eta_b, p_d, e_d)`` of an :class:`~qkdcircuits.links.params.MDIParams`."""
    if not isinstance(params, MDIParams):
        raise TypeError(f"params={params!r} must be an MDIParams")
    if length_km is None:
        eta_a = np.asarray(params.transmittance_a, dtype=float)
        eta_b = np.asarray(params.transmittance_b, dtype=float)
    else:
        fraction = float(real_array(relay_fraction, "relay_fraction", finite=True))
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"relay_fraction={relay_fraction!r} not in [0, 1]")
        total = np.asarray(length_km, dtype=float)
        efficiency = params.detector.efficiency
        eta_a = params.channel_a.transmittance_at(length_km=fraction * total) * efficiency
        eta_b = params.channel_b.transmittance_at(length_km=(1.0 - fraction) * total) * efficiency
    return eta_a, eta_b, float(params.detector.dark_count_prob), float(params.misalignment_prob)


def mdi_finite_key_rate(
    params: Any,
    *,
    block_size: Any,
    basis_prob: Any = 0.5,
    length_km: Any = None,
    relay_fraction: float = 0.5,
    eps_sec: Any = DEFAULT_EPS_SEC,
    eps_cor: Any = DEFAULT_EPS_COR,
    secrecy_per_bit: float | None = None,
    sampling_bound: str = DEFAULT_SAMPLING_BOUND,
) -> MDIFiniteKey:
    r"""Finite-key length and rate per pulse pair of an MDI-QKD link from its expected counts.

    Parameters
    ----------
    params : MDIParams
        The link (``source_a`` / ``source_b`` give each party's intensities and probabilities).
    block_size : float or array_like
        ``n_Z``, Z-basis announced events per block.
    basis_prob : float or array_like
        ``q_z``.
    length_km : float or array_like, optional
        Alice-to-Bob lengths (km); default the link's own arms.
    relay_fraction : float
        Charlie's position as a fraction of ``length_km`` from Alice (with ``length_km``).
    eps_sec, eps_cor, secrecy_per_bit, sampling_bound
        As in :func:`mdi_finite_key_length`.

    Returns
    -------
    MDIFiniteKey
        With ``pulses`` set, so ``key_rate_per_pulse`` is ``l / N``.

    Raises
    ------
    ValueError
        As :func:`mdi_expected_counts` and :func:`mdi_finite_key_length`.
    TypeError
        If ``params`` is not a :class:`~qkdcircuits.links.params.MDIParams`.

    Examples
    --------
    >>> from qkdcircuits.links.params import MDIParams
    >>> key = mdi_finite_key_rate(MDIParams.xu2013(), length_km=20.0, block_size=1e10,
    ...                           basis_prob=0.9)
    >>> f"{key.key_rate_per_pulse:.3e}"
    '1.060e-05'
    """
    eta_a, eta_b, p_d, e_d = link_inputs(params, length_km, relay_fraction)
    counts = mdi_expected_counts(
        transmittance_a=eta_a,
        transmittance_b=eta_b,
        dark_count_prob=p_d,
        misalignment_prob=e_d,
        intensities=params.source_a.intensities,
        intensity_probs=params.source_a.probabilities,
        intensities_b=params.source_b.intensities,
        intensity_probs_b=params.source_b.probabilities,
        basis_prob=basis_prob,
        block_size=block_size,
    )
    return mdi_finite_key_length(
        intensities=params.source_a.intensities,
        intensity_probs=params.source_a.probabilities,
        intensities_b=params.source_b.intensities,
        intensity_probs_b=params.source_b.probabilities,
        **counts._asdict(),
        eps_sec=eps_sec,
        eps_cor=eps_cor,
        secrecy_per_bit=secrecy_per_bit,
        sampling_bound=sampling_bound,
        ec_inefficiency=params.ec_inefficiency,
    )


def optimize_mdi_finite_key(
    params: Any,
    *,
    length_km: Any,
    block_size: float,
    relay_fraction: float = 0.5,
    eps_sec: float | None = DEFAULT_EPS_SEC,
    eps_cor: float = DEFAULT_EPS_COR,
    secrecy_per_bit: float | None = None,
    sampling_bound: str = DEFAULT_SAMPLING_BOUND,
) -> FiniteKeyOptimum:
    r"""Maximise the MDI-QKD finite-key rate ``l/N`` over ``q_z, p_mu, p_nu, mu, nu``.

    Both parties use the same settings (also for an off-centre relay); ``omega`` is
    ``params.source_a.weak_decoy_intensity`` (fixed) and the block size ``n_Z`` is fixed. The
    search box and method are those of
    :func:`~qkdcircuits.links.finite_key_bb84.optimize_bb84_finite_key`
    (:func:`~qkdcircuits.links.finite_key.optimise_protocol`), for all distances at once; the
    objective is the unrounded length per pulse pair, continued below zero with ``s^Z_11``.

    Parameters
    ----------
    params : MDIParams
        The link (arms, detectors, misalignment, ``ec_inefficiency``, ``omega``).
    length_km : float or array_like
        Alice-to-Bob lengths in km.
    block_size : float
        ``n_Z`` (> 0).
    relay_fraction : float
        Charlie's position as a fraction of the length from Alice.
    eps_sec, eps_cor, secrecy_per_bit, sampling_bound
        As in :func:`mdi_finite_key_length`.

    Returns
    -------
    FiniteKeyOptimum
        Rates, settings (``basis_prob`` is ``q_z``) and the :class:`MDIFiniteKey` bounds per
        distance.

    Raises
    ------
    ValueError
        For arguments out of range.
    TypeError
        If ``params`` is not a :class:`~qkdcircuits.links.params.MDIParams`.

    Examples
    --------
    >>> from qkdcircuits.links.params import MDIParams
    >>> best = optimize_mdi_finite_key(MDIParams.xu2013(), length_km=[20.0], block_size=1e10)
    >>> f"{best.key_rate_per_pulse[0]:.2e}"
    '3.64e-05'
    """
    lengths = np.atleast_1d(np.asarray(length_km, dtype=float))
    link = link_inputs(params, lengths, relay_fraction)
    weak = float(params.source_a.weak_decoy_intensity)
    options = (block_size, eps_sec, eps_cor, secrecy_per_bit, sampling_bound)
    return optimise_link(model_key, link, lengths, weak, params, options, MDIFiniteKey)


def model_key(link: tuple, f: Any, weak: float, block: float, eps_cor: Any, bound: str) -> Any:
    """Make the optimiser's ``key_at`` for checked links ``(eta_a, eta_b, p_d, e_d)`` and ``f``.

    Both parties use the same settings, ``omega = weak``; see
    :func:`~qkdcircuits.links.finite_key_bb84.model_key`.
    """
    eta_a, eta_b, p_d, e_d = link

    def key_at(x: np.ndarray) -> tuple[Any, np.ndarray]:
        q_z, mu, p = decode_settings(x, weak)
        settings = (mu, mu, p, p)
        counts = expected_counts_unchecked(eta_a, eta_b, p_d, e_d, settings, q_z, block)
        return (lambda eps: key_terms(settings, counts[:4], eps, eps_cor, f, None, bound)), (
            counts.pulses
        )

    return key_at
