r"""Composable finite-key length of decoy-state BB84 with three intensities (no Qiskit).

C. C. W. Lim, M. Curty, N. Walenta, F. Xu, H. Zbinden, "Concise security bounds for practical
decoy-state quantum key distribution", Phys. Rev. A 89, 022307 (2014).

Protocol (their Sec. II)
------------------------
Alice and Bob choose the basis X with probability ``q_x`` (Z otherwise), Alice one of three
intensities ``mu1 > mu2 + mu3``, ``mu2 > mu3 >= 0`` with probabilities ``p_1, p_2, p_3``. The
key comes from the ``n_X`` detections with both bases X (all three intensities); the Z-basis
detections estimate the phase error. ``n_{X,k}`` / ``m_{X,k}`` (and Z) count the detections /
bit errors per intensity ``k``; a double click is a random bit.

Key length (their Eqs. (1)-(5))
-------------------------------
With ``tau_n = sum_k p_k e^{-k} k^n / n!`` and the Hoeffding-shifted counts

.. math:: n^\pm_{X,k} = \frac{e^k}{p_k}\Big[n_{X,k} \pm
          \sqrt{\tfrac{n_X}{2}\ln\tfrac{21}{\epsilon_{sec}}}\Big]

(and ``m^\pm_{Z,k}`` likewise from ``m_{Z,k}`` and ``m_Z = sum_k m_{Z,k}``),

* (2) ``s_{X,0} >= tau_0 (mu2 n^-_{X,mu3} - mu3 n^+_{X,mu2}) / (mu2 - mu3)``;
* (3) ``s_{X,1} >= tau_1 mu1 [n^-_{X,mu2} - n^+_{X,mu3} - (mu2^2 - mu3^2)/mu1^2
  (n^+_{X,mu1} - s_{X,0}/tau_0)] / [mu1 (mu2 - mu3) - mu2^2 + mu3^2]``, and ``s_{Z,0}``,
  ``s_{Z,1}`` from the Z-basis counts;
* (4) ``v_{Z,1} <= tau_1 (m^+_{Z,mu2} - m^-_{Z,mu3}) / (mu2 - mu3)``;
* (5) ``phi_X <= v_{Z,1}/s_{Z,1} + gamma(eps_sec/21, v_{Z,1}/s_{Z,1}, s_{Z,1}, s_{X,1})``
  (:func:`~qkdcircuits.links.finite_key.sampling_deviation`);
* (1) ``l = floor(s_{X,0} + s_{X,1} [1 - h(phi_X)] - lambda_EC - 6 log2(21/eps_sec)
  - log2(2/eps_cor))``.

The key is ``eps_cor``-correct and ``eps_sec``-secret (Appendix B: ``eps_sec = 21 eps`` with
every one of the 21 error terms set to ``eps``; each Hoeffding bound is one-sided with failure
probability ``eps_sec/21``).

Readings of the paper (ambiguities)
-----------------------------------
* ``n^-`` and ``m^-`` are clipped at 0, and so are ``s_{X,0}``, ``s_{Z,0}`` and ``v_{Z,1}``;
  ``s_{X,1}`` is capped at ``n_X - s_{X,0}`` (and ``s_{Z,1}`` likewise): the quantities they
  bound are counts with ``s_0 + s_1 <= n``, so the clipped bounds hold whenever the paper's
  do, and are never looser (the cap only acts on data that the Hoeffding bounds already declare
  improbable). ``s_{X,1} <= 0`` or ``s_{Z,1} <= 0`` certifies no single-photon key (the term
  is dropped).
* ``phi_X`` is capped at 1/2 (``h`` is increasing only up to 1/2), and so is ``v/s``.
* ``lambda_EC = f n_X h(m_X / n_X)`` by default: the paper's ``f_EC h(e_obs)`` per key bit with
  ``e_obs`` read as the error rate of the whole X-basis block (the detection-weighted average
  of the per-intensity rates, which is the string that error correction actually corrects).
  A measured leakage can be passed instead (``ec_leak_bits``), as the paper recommends.
* ``gamma``: ``log 2`` is the natural logarithm, ``log2`` base 2 (see
  :func:`~qkdcircuits.links.finite_key.sampling_deviation` for the alternatives). In exact
  hypergeometric tails (``a = 1e-12``, a few hundred errors) only this reading holds, and no
  reading holds with a few errors: ``gamma`` vanishes with the observed error rate.
  Therefore every function here uses by default (``sampling_bound="serfling"``) Serfling's
  deviation (:func:`~qkdcircuits.links.finite_key.serfling_deviation`) instead, valid for
  every count, at the price of a larger phase-error margin at small error rates;
  ``sampling_bound="lim2014"`` selects the paper's ``gamma`` (to reproduce its figures).
* ``eps_sec`` is fixed by default. The paper's evaluation fixes instead the leakage per key
  bit, ``eps_sec = kappa l`` with ``kappa = 1e-15``: pass ``secrecy_per_bit=kappa`` and the
  length is the largest fixed point (:func:`~qkdcircuits.links.finite_key.solve_per_bit_secrecy`);
  the ``eps_sec`` reported is then ``kappa l*`` with ``l*`` the fixed point before rounding.

Link model (their Sec. IV)
--------------------------
For expected counts (:func:`bb84_expected_counts`), the detection and error probabilities per
pulse of intensity ``k`` are those of Lim et al.: Bob's two threshold detectors with efficiency
``eta_Bob``, dark-count probability ``p_dc`` each and afterpulse probability ``p_ap``, fibre
transmittance ``eta_ch = 10^{-alpha L/10}``, ``eta = eta_ch eta_Bob``::

    D_k = 1 - (1 - Y0) e^{-eta k},      R_k = (1 + p_ap) D_k
    e_k = Y0/2 + e_mis (1 - e^{-eta k}) + p_ap D_k / 2

with ``Y0 = 1 - (1 - p_dc)^2`` (the paper writes ``1 - 2 p_dc`` and ``p_dc`` for ``1 - Y0`` and
``Y0/2``: they differ by ``p_dc^2 ~ 4e-13``). ``D_k`` and the first two terms of ``e_k`` are the
closed forms :func:`~qkdcircuits.links.decoy.bb84_gain` and
:func:`~qkdcircuits.links.decoy.bb84_error_gain`. The paper prints ``eta_ch`` in the
misalignment term of ``e_k``; it is read as ``eta = eta_ch eta_Bob`` (the photons that are
detected), since with ``eta_ch`` the misalignment QBER would be ``e_mis/eta_Bob = 5 %`` instead of
``e_mis``. An afterpulse follows a detection with probability ``p_ap`` and is a random bit.
Alice sends ``N = n_X / (q_x^2 sum_k p_k R_k)`` pulses to fill a block of ``n_X`` X-basis
detections, and the expected counts are ``n_{X,k} = N q_x^2 p_k R_k``,
``m_{X,k} = N q_x^2 p_k e_k`` (Z: ``(1 - q_x)^2``). The paper's parameter set is
``alpha = 0.2`` dB/km, ``eta_Bob = 0.1``, ``p_dc = 6e-7``, ``p_ap = 0.04``, ``e_mis = 5e-3``,
``f = 1.16``, ``mu3 = 2e-4``, ``kappa = eps_cor = 1e-15``. With these readings, the paper's
``gamma`` (``sampling_bound="lim2014"``) and :func:`optimize_bb84_finite_key`, a block of
``n_X = 1e4`` reaches 130 km (the paper: "135 km"; 132.5 km with ``gamma`` read with ``ln``),
and at 100 km the rate with ``n_X = 1e9`` is 1.71 times that with ``1e7`` (the paper: "about
1.75"). With the default Serfling bound the same block of ``1e4`` reaches 121 km.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from qkdcircuits.links.decoy import bb84_error_gain, bb84_gain
from qkdcircuits.links.finite_key import (
    DEFAULT_EPS_COR,
    DEFAULT_EPS_SEC,
    DEFAULT_SAMPLING_BOUND,
    FiniteKeyOptimum,
    KeyLengthFields,
    align_batch,
    binary_entropy_clipped,
    check_block_sizes,
    check_counts,
    check_intensities,
    check_intensity_probs,
    check_key_options,
    decode_settings,
    evaluate_key,
    finished_counts,
    leak_terms,
    open_unit_array,
    optimise_link,
    phase_error_terms,
    real_array,
)
from qkdcircuits.links.params import BB84DecoyParams

__all__ = [
    "BB84Counts",
    "BB84FiniteKey",
    "bb84_expected_counts",
    "bb84_finite_key_length",
    "bb84_finite_key_rate",
    "optimize_bb84_finite_key",
]

LIM2014_ERROR_TERMS = 21
"""Number of error terms in the secrecy of Lim et al. (2014), Eq. (B4): ``eps_sec = 21 eps``."""


class BB84Counts(NamedTuple):
    """Detections and bit errors per basis and intensity (axis 0: ``mu1, mu2, mu3``).

    Attributes
    ----------
    detections_x, errors_x, detections_z, errors_z : numpy.ndarray
        ``n_{X,k}``, ``m_{X,k}``, ``n_{Z,k}``, ``m_{Z,k}``, shape ``(3, ...)`` (expected counts
        need not be integers).
    pulses : float or numpy.ndarray
        Pulses sent by Alice (``N``); ``nan`` when unknown.

    Examples
    --------
    >>> c = BB84Counts(*(np.ones(3),) * 4, pulses=100.0)
    >>> c.pulses
    100.0
    """

    detections_x: Any
    errors_x: Any
    detections_z: Any
    errors_z: Any
    pulses: Any = math.nan


@dataclass(frozen=True)
class BB84FiniteKey(KeyLengthFields):
    """Certified key length of decoy-state BB84 and every intermediate bound (Lim et al. 2014).

    Every field is a float or, for array inputs, a numpy array of the broadcast shape.

    Attributes
    ----------
    key_length : float or numpy.ndarray
        ``l`` of Eq. (1), in bits: rounded down and never negative.
    key_length_unrounded : float or numpy.ndarray
        The argument of the floor in Eq. (1) (negative when no key can be certified).
    vacuum_x_lower, single_x_lower : float or numpy.ndarray
        ``s_{X,0}`` (Eq. (2), clipped at 0) and ``s_{X,1}`` (Eq. (3), capped at
        ``n_X - s_{X,0}``) in the key block.
    vacuum_z_lower, single_z_lower : float or numpy.ndarray
        The same bounds for the Z-basis detections.
    single_z_errors_upper : float or numpy.ndarray
        ``v_{Z,1}`` (Eq. (4), clipped at 0).
    phase_error_z : float or numpy.ndarray
        ``v_{Z,1}/s_{Z,1}`` capped at 1/2 (1/2 where ``s_{Z,1} <= 0``).
    sampling_deviation : float or numpy.ndarray
        ``gamma`` of Eq. (5) (0 where nothing is certified).
    phase_error_upper : float or numpy.ndarray
        ``phi_X`` (Eq. (5)), capped at 1/2.
    ec_leak_bits : float or numpy.ndarray
        ``lambda_EC`` in bits.
    block_size : float or numpy.ndarray
        ``n_X = sum_k n_{X,k}``.
    qber_x : float or numpy.ndarray
        ``m_X / n_X`` (``nan`` for an empty block).
    eps_sec, eps_cor : float or numpy.ndarray
        Secrecy and correctness parameters of the key (``eps_sec = kappa l*`` when the length
        was fixed per bit).
    pulses : float or numpy.ndarray
        Pulses sent, ``N`` (``nan`` when only counts were given).

    Examples
    --------
    >>> counts = bb84_expected_counts(transmittance=0.01, background_yield=1.2e-6,
    ...     misalignment_prob=0.005, intensities=(0.5, 0.1, 2e-4),
    ...     intensity_probs=(0.7, 0.2, 0.1), basis_prob=0.8, block_size=1e7)
    >>> key = bb84_finite_key_length(intensities=(0.5, 0.1, 2e-4),
    ...     intensity_probs=(0.7, 0.2, 0.1), detections_x=counts.detections_x,
    ...     errors_x=counts.errors_x, detections_z=counts.detections_z,
    ...     errors_z=counts.errors_z)
    >>> 0 < key.key_length < key.single_x_lower < key.block_size
    True
    """

    key_length: Any
    key_length_unrounded: Any
    vacuum_x_lower: Any
    single_x_lower: Any
    vacuum_z_lower: Any
    single_z_lower: Any
    single_z_errors_upper: Any
    phase_error_z: Any
    sampling_deviation: Any
    phase_error_upper: Any
    ec_leak_bits: Any
    block_size: Any
    qber_x: Any
    eps_sec: Any
    eps_cor: Any
    pulses: Any = math.nan


# ----------------------------------------------------------------------------------------------
# argument handling
# ----------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------
# the bounds (unchecked kernels, shared by the public functions and the optimiser)
# ----------------------------------------------------------------------------------------------


def decoy_bounds(
    mu: np.ndarray, p: np.ndarray, n: np.ndarray, ln_inverse_eps: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(s_0, s_1)`` lower bounds of Eqs. (2)-(3) from one basis's counts (axis 0 = k)."""
    delta = np.sqrt(n.sum(axis=0) / 2.0 * ln_inverse_eps)
    weight = np.exp(mu) / p
    n_minus = weight * np.maximum(n - delta, 0.0)
    n_plus = weight * (n + delta)
    mu1, mu2, mu3 = mu[0], mu[1], mu[2]
    tau0 = np.sum(p * np.exp(-mu), axis=0)
    tau1 = np.sum(p * mu * np.exp(-mu), axis=0)
    s0 = np.maximum(tau0 * (mu2 * n_minus[2] - mu3 * n_plus[1]) / (mu2 - mu3), 0.0)
    spread = mu2**2 - mu3**2
    s1 = (
        tau1
        * mu1
        * (n_minus[1] - n_plus[2] - spread / mu1**2 * (n_plus[0] - s0 / tau0))
        / (mu1 * (mu2 - mu3) - spread)
    )
    # s_0 + s_1 <= n: only data that the bounds already declare improbable can exceed it
    return s0, np.minimum(s1, n.sum(axis=0) - s0)


def single_errors_upper(
    mu: np.ndarray, p: np.ndarray, m: np.ndarray, ln_inverse_eps: np.ndarray
) -> np.ndarray:
    """``v_1`` upper bound of Eq. (4) from one basis's error counts."""
    delta = np.sqrt(m.sum(axis=0) / 2.0 * ln_inverse_eps)
    weight = np.exp(mu) / p
    tau1 = np.sum(p * mu * np.exp(-mu), axis=0)
    m_plus_2 = weight[1] * (m[1] + delta)
    m_minus_3 = weight[2] * np.maximum(m[2] - delta, 0.0)
    return np.maximum(tau1 * (m_plus_2 - m_minus_3) / (mu[1] - mu[2]), 0.0)


def key_terms(
    mu: np.ndarray,
    p: np.ndarray,
    counts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    eps_sec: Any,
    eps_cor: Any,
    f: Any,
    leak: np.ndarray | None,
    sampling_bound: str,
) -> dict[str, np.ndarray]:
    """Every term of Eqs. (1)-(5) (named as the fields of :class:`BB84FiniteKey`), unchecked."""
    nx, mx, nz, mz = counts
    ln_inverse_eps = np.log(LIM2014_ERROR_TERMS / eps_sec)
    s_x0, s_x1 = decoy_bounds(mu, p, nx, ln_inverse_eps)
    s_z0, s_z1 = decoy_bounds(mu, p, nz, ln_inverse_eps)
    v_z1 = single_errors_upper(mu, p, mz, ln_inverse_eps)
    ratio, gamma, phi = phase_error_terms(
        v_z1, s_z1, s_x1, eps_sec / LIM2014_ERROR_TERMS, sampling_bound
    )
    block = nx.sum(axis=0)
    qber, leak = leak_terms(f, block, mx.sum(axis=0), leak)
    single = np.maximum(s_x1, 0.0) * (1.0 - binary_entropy_clipped(phi))
    length = (
        s_x0 + single - leak - 6.0 * np.log2(LIM2014_ERROR_TERMS / eps_sec) - np.log2(2.0 / eps_cor)
    )
    return {
        "key_length_unrounded": length,
        # continues below zero with s_X1 so that an optimiser can climb out of the no-key region
        "objective": length + np.minimum(s_x1, 0.0),
        "vacuum_x_lower": s_x0,
        "single_x_lower": s_x1,
        "vacuum_z_lower": s_z0,
        "single_z_lower": s_z1,
        "single_z_errors_upper": v_z1,
        "phase_error_z": ratio,
        "sampling_deviation": gamma,
        "phase_error_upper": phi,
        "ec_leak_bits": leak,
        "block_size": block,
        "qber_x": qber,
    }


# ----------------------------------------------------------------------------------------------
# public entry points
# ----------------------------------------------------------------------------------------------


def bb84_finite_key_length(
    *,
    intensities: Any,
    intensity_probs: Any,
    detections_x: Any,
    errors_x: Any,
    detections_z: Any,
    errors_z: Any,
    eps_sec: Any = DEFAULT_EPS_SEC,
    eps_cor: Any = DEFAULT_EPS_COR,
    secrecy_per_bit: float | None = None,
    sampling_bound: str = DEFAULT_SAMPLING_BOUND,
    ec_inefficiency: Any = 1.16,
    ec_leak_bits: Any = None,
    pulses: Any = None,
) -> BB84FiniteKey:
    r"""Certified secret-key length of decoy-state BB84 from observed counts (Lim et al. 2014).

    Implements Eqs. (1)-(5) of Lim, Curty, Walenta, Xu, Zbinden, Phys. Rev. A 89, 022307
    (2014) with the readings stated in the module docstring (:mod:`.finite_key_bb84`): the key
    is the X-basis block of all three intensities, the phase error is estimated from the Z
    basis.

    Parameters
    ----------
    intensities : sequence of three floats or arrays
        ``(mu1, mu2, mu3)`` in photons per pulse, ``mu1 > mu2 + mu3``, ``mu2 > mu3 >= 0``.
    intensity_probs : sequence of three floats or arrays
        ``(p_1, p_2, p_3)``, each in (0, 1), summing to 1.
    detections_x, errors_x : sequence of three counts or arrays
        ``n_{X,k}`` and ``m_{X,k}``: detections and bit errors per intensity when both chose X
        (the key block, ``n_X = sum_k n_{X,k}``).
    detections_z, errors_z : sequence of three counts or arrays
        ``n_{Z,k}`` and ``m_{Z,k}`` in the Z basis.
    eps_sec : float or array_like or None
        Secrecy parameter in (0, 1); ``None`` with ``secrecy_per_bit``.
    eps_cor : float or array_like
        Correctness parameter in (0, 1) (error verification publishes ``log2(2/eps_cor)`` bits).
    secrecy_per_bit : float, optional
        ``kappa``: fix ``eps_sec = kappa * l`` as in the paper's evaluation instead of
        ``eps_sec`` (then pass ``eps_sec=None``).
    ec_inefficiency : float or array_like
        ``f >= 1``; the default leakage is ``f n_X h(m_X/n_X)`` bits.
    ec_leak_bits : float or array_like, optional
        Bits actually published by error correction; replaces the ``f`` model.
    sampling_bound : {"serfling", "lim2014"}
        Phase-error sampling deviation: Serfling's (the default: valid for any number of
        errors) or Lim et al.'s ``gamma`` (Eq. (5), not a bound when few errors are observed;
        see the module docstring).
    pulses : float or array_like, optional
        Pulses sent, if known (fills ``key_rate_per_pulse``).

    Returns
    -------
    BB84FiniteKey
        The key length and every intermediate bound.

    Raises
    ------
    ValueError
        For intensities violating ``mu1 > mu2 + mu3``, ``mu2 > mu3 >= 0``, probabilities not in
        (0, 1) or not summing to 1, negative counts, more errors than detections, epsilons
        outside (0, 1), ``f < 1``, both / neither of ``eps_sec`` and ``secrecy_per_bit``, or an
        unknown ``sampling_bound``.
    TypeError
        For values that are not numbers.

    References
    ----------
    C. C. W. Lim, M. Curty, N. Walenta, F. Xu, H. Zbinden, Phys. Rev. A 89, 022307 (2014),
    Eqs. (1)-(5), (A1)-(A10), (B1)-(B4).

    Examples
    --------
    >>> key = bb84_finite_key_length(intensities=(0.5, 0.1, 2e-4),
    ...     intensity_probs=(0.7, 0.2, 0.1),
    ...     detections_x=(93315729, 6165076, 519196), errors_x=(2696549, 565436, 257079),
    ...     detections_z=(17139624, 1132361, 95362), errors_z=(495285, 103856, 47219))
    >>> int(key.key_length), round(key.phase_error_upper, 4)
    (22335453, 0.035)
    """
    mu = check_intensities(intensities)
    p = check_intensity_probs(intensity_probs)
    nx, mx = check_counts(detections_x, errors_x, "x")
    nz, mz = check_counts(detections_z, errors_z, "z")
    opt = check_key_options(
        eps_sec, eps_cor, secrecy_per_bit, sampling_bound, ec_inefficiency, ec_leak_bits, pulses
    )
    mu, p, nx, mx, nz, mz, eps_c, f = align_batch(
        (mu, 1),
        (p, 1),
        (nx, 1),
        (mx, 1),
        (nz, 1),
        (mz, 1),
        (opt.eps_cor, 0),
        (opt.ec_inefficiency, 0),
    )
    counts = (nx, mx, nz, mz)
    bound, leak = opt.sampling_bound, opt.ec_leak_bits
    return evaluate_key(
        BB84FiniteKey,
        lambda eps: key_terms(mu, p, counts, eps, eps_c, f, leak, bound),
        nx.sum(axis=0),
        opt.eps_sec,
        eps_c,
        opt.kappa,
        opt.pulses,
    )


def expected_counts_unchecked(
    eta: np.ndarray,
    y0: Any,
    e_d: Any,
    p_ap: Any,
    mu: np.ndarray,
    p: np.ndarray,
    q_x: np.ndarray,
    block: Any,
) -> BB84Counts:
    gain = np.asarray(bb84_gain(intensity=mu, transmittance=eta, background_yield=y0))
    error = np.asarray(
        bb84_error_gain(intensity=mu, transmittance=eta, background_yield=y0, misalignment_prob=e_d)
    )
    detect = (1.0 + p_ap) * gain
    wrong = error + p_ap * gain / 2.0
    pulses = block / (q_x**2 * np.sum(p * detect, axis=0))
    x = pulses * q_x**2 * p
    z = pulses * (1.0 - q_x) ** 2 * p
    return BB84Counts(x * detect, x * wrong, z * detect, z * wrong, pulses)


def bb84_expected_counts(
    *,
    transmittance: Any,
    background_yield: Any,
    misalignment_prob: Any,
    intensities: Any,
    intensity_probs: Any,
    basis_prob: Any,
    block_size: Any,
    afterpulse_prob: Any = 0.0,
) -> BB84Counts:
    r"""Compute the expected counts of a decoy-state BB84 link for an X-basis block of ``n_X``.

    The detector model of Lim et al. (2014), Sec. IV (see the module docstring): per pulse of
    intensity ``k``, detections ``R_k = (1 + p_ap) Q_k`` and errors
    ``e_k = E_k Q_k + p_ap Q_k / 2`` with ``Q_k`` and ``E_k Q_k`` the closed forms of
    :func:`~qkdcircuits.links.decoy.bb84_gain` and :func:`~qkdcircuits.links.decoy.bb84_error_gain`;
    ``N = n_X / (q_x^2 sum_k p_k R_k)`` pulses fill the block.

    Parameters
    ----------
    transmittance : float or array_like
        ``eta = eta_ch eta_Bob`` in [0, 1].
    background_yield : float or array_like
        ``Y0 = 1 - (1 - p_dc)^2`` of Bob's two detectors.
    misalignment_prob : float or array_like
        ``e_mis`` in [0, 0.5].
    intensities, intensity_probs : sequence of three floats or arrays
        As in :func:`bb84_finite_key_length`.
    basis_prob : float or array_like
        ``q_x`` in (0, 1), the probability of the key basis X (same for Alice and Bob).
    block_size : float or array_like
        ``n_X``, X-basis detections per block (> 0).
    afterpulse_prob : float or array_like
        ``p_ap`` in [0, 1).

    Returns
    -------
    BB84Counts
        Expected ``n_{X,k}``, ``m_{X,k}``, ``n_{Z,k}``, ``m_{Z,k}`` (shape ``(3, ...)``) and
        the pulses ``N``.

    Raises
    ------
    ValueError
        For a value out of range.

    References
    ----------
    C. C. W. Lim et al., Phys. Rev. A 89, 022307 (2014), Sec. IV; X. Ma, B. Qi, Y. Zhao,
    H.-K. Lo, Phys. Rev. A 72, 012326 (2005), Eqs. (6) and (8).

    Examples
    --------
    >>> c = bb84_expected_counts(transmittance=0.1, background_yield=0.0, misalignment_prob=0.0,
    ...     intensities=(0.5, 0.1, 0.0), intensity_probs=(0.5, 0.25, 0.25), basis_prob=0.5,
    ...     block_size=1000.0)
    >>> round(float(c.detections_x.sum()), 6), round(float(c.detections_z.sum()), 6)
    (1000.0, 1000.0)
    """
    mu = check_intensities(intensities)
    p = check_intensity_probs(intensity_probs)
    q_x = open_unit_array(basis_prob, "basis_prob")
    block = check_block_sizes(block_size)
    p_ap = real_array(afterpulse_prob, "afterpulse_prob", finite=True)
    if np.any(p_ap < 0.0) or np.any(p_ap >= 1.0):
        raise ValueError(f"afterpulse_prob={afterpulse_prob!r} not in [0, 1)")
    eta = real_array(transmittance, "transmittance", finite=True)
    y0 = real_array(background_yield, "background_yield", finite=True)
    e_d = real_array(misalignment_prob, "misalignment_prob", finite=True)
    mu, p, eta, y0, e_d, p_ap, q_x, block = align_batch(
        (mu, 1), (p, 1), (eta, 0), (y0, 0), (e_d, 0), (p_ap, 0), (q_x, 0), (block, 0)
    )
    return finished_counts(
        expected_counts_unchecked(eta, y0, e_d, p_ap, mu, p, q_x, block),
        "no detections are expected (transmittance and background yield are 0)",
    )


def link_inputs(params: Any, length_km: Any) -> tuple[np.ndarray, float, float]:
    """``(eta, Y0, e_d)`` of a :class:`~qkdcircuits.links.params.BB84DecoyParams`."""
    if not isinstance(params, BB84DecoyParams):
        raise TypeError(f"params={params!r} must be a BB84DecoyParams")
    if length_km is None:
        eta = np.asarray(params.transmittance, dtype=float)
    else:
        eta = np.asarray(params.transmittance_at(length_km=length_km), dtype=float)
    return eta, float(params.background_yield), float(params.misalignment_prob)


def bb84_finite_key_rate(
    params: Any,
    *,
    block_size: Any,
    basis_prob: Any = 0.5,
    length_km: Any = None,
    afterpulse_prob: Any = 0.0,
    eps_sec: Any = DEFAULT_EPS_SEC,
    eps_cor: Any = DEFAULT_EPS_COR,
    secrecy_per_bit: float | None = None,
    sampling_bound: str = DEFAULT_SAMPLING_BOUND,
) -> BB84FiniteKey:
    r"""Finite-key length and rate per pulse of a BB84 link from its expected counts.

    The link's source intensities and probabilities, channel, detector, misalignment and
    error-correction inefficiency give the expected counts of one block
    (:func:`bb84_expected_counts`), whose key length is :func:`bb84_finite_key_length`.

    Parameters
    ----------
    params : BB84DecoyParams
        The link (``source.intensities`` are ``(mu1, mu2, mu3)``).
    block_size : float or array_like
        ``n_X``, X-basis detections per block.
    basis_prob : float or array_like
        ``q_x``, the probability of the key basis.
    length_km : float or array_like, optional
        Channel lengths (km); default the link's own.
    afterpulse_prob : float or array_like
        Afterpulse probability of Bob's detectors (0.04 in Lim et al. 2014).
    eps_sec, eps_cor, secrecy_per_bit, sampling_bound
        As in :func:`bb84_finite_key_length`.

    Returns
    -------
    BB84FiniteKey
        With ``pulses`` set, so ``key_rate_per_pulse`` is ``l / N``.

    Raises
    ------
    ValueError
        As :func:`bb84_expected_counts` and :func:`bb84_finite_key_length`.
    TypeError
        If ``params`` is not a :class:`~qkdcircuits.links.params.BB84DecoyParams`.

    Examples
    --------
    >>> from qkdcircuits.links.params import BB84DecoyParams
    >>> key = bb84_finite_key_rate(BB84DecoyParams.gys(length_km=20.0), block_size=1e8,
    ...                            basis_prob=0.9)
    >>> f"{key.key_rate_per_pulse:.3e}"
    '6.473e-04'
    """
    eta, y0, e_d = link_inputs(params, length_km)
    source = params.source
    counts = bb84_expected_counts(
        transmittance=eta,
        background_yield=y0,
        misalignment_prob=e_d,
        intensities=source.intensities,
        intensity_probs=source.probabilities,
        basis_prob=basis_prob,
        block_size=block_size,
        afterpulse_prob=afterpulse_prob,
    )
    return bb84_finite_key_length(
        intensities=source.intensities,
        intensity_probs=source.probabilities,
        **counts._asdict(),
        eps_sec=eps_sec,
        eps_cor=eps_cor,
        secrecy_per_bit=secrecy_per_bit,
        sampling_bound=sampling_bound,
        ec_inefficiency=params.ec_inefficiency,
    )


# ----------------------------------------------------------------------------------------------
# optimisation
# ----------------------------------------------------------------------------------------------


def optimize_bb84_finite_key(
    params: Any,
    *,
    length_km: Any,
    block_size: float,
    afterpulse_prob: float = 0.0,
    eps_sec: float | None = DEFAULT_EPS_SEC,
    eps_cor: float = DEFAULT_EPS_COR,
    secrecy_per_bit: float | None = None,
    sampling_bound: str = DEFAULT_SAMPLING_BOUND,
) -> FiniteKeyOptimum:
    r"""Maximise the finite-key rate ``l/N`` over ``q_x, p_1, p_2, mu1, mu2``, for many distances.

    The weakest intensity ``mu3`` is the link's ``source.weak_decoy_intensity`` (fixed, as in
    Lim et al. 2014, who fix ``mu3 = 2e-4``); the block size ``n_X`` is fixed. The search runs
    over ``q_x in [0.01, 1 - 1e-5]``, ``mu1 in [0.02, 1.2]`` (and ``mu1 > 2 mu3``),
    ``mu2 in (mu3, mu1 - mu3)`` and the probabilities, for all distances at once
    (:func:`~qkdcircuits.links.finite_key.optimise_protocol`). The objective is the unrounded
    length of Eq. (1) divided by ``N``, continued below zero with ``s_{X,1}``.

    Parameters
    ----------
    params : BB84DecoyParams
        The link (channel, detector, misalignment, ``ec_inefficiency``, ``mu3``).
    length_km : float or array_like
        Channel lengths in km.
    block_size : float
        ``n_X`` (> 0).
    afterpulse_prob : float
        Afterpulse probability of Bob's detectors.
    eps_sec, eps_cor, secrecy_per_bit, sampling_bound
        As in :func:`bb84_finite_key_length`.

    Returns
    -------
    FiniteKeyOptimum
        Rates, settings and the :class:`BB84FiniteKey` bounds per distance.

    Raises
    ------
    ValueError
        For arguments out of range (as :func:`bb84_finite_key_length`), or a ``mu3`` that
        leaves no room for ``mu1 <= 1.2``.
    TypeError
        If ``params`` is not a :class:`~qkdcircuits.links.params.BB84DecoyParams`.

    Examples
    --------
    >>> from qkdcircuits.links.params import (BB84DecoyParams, Detector, FiberChannel,
    ...     WeakCoherentSource)
    >>> lim = BB84DecoyParams(source=WeakCoherentSource(signal_intensity=0.5,
    ...     decoy_intensity=0.1, weak_decoy_intensity=2e-4), channel=FiberChannel(
    ...     loss_db_per_km=0.2), detector=Detector(efficiency=0.1, dark_count_prob=6e-7),
    ...     misalignment_prob=5e-3, ec_inefficiency=1.16)
    >>> best = optimize_bb84_finite_key(lim, length_km=[50.0], block_size=1e6,
    ...                                 afterpulse_prob=0.04)
    >>> f"{best.key_rate_per_pulse[0]:.2e}", round(float(best.basis_prob[0]), 2)
    ('3.19e-04', 0.78)
    """
    lengths = np.atleast_1d(np.asarray(length_km, dtype=float))
    eta, y0, e_d = link_inputs(params, lengths)
    p_ap = float(real_array(afterpulse_prob, "afterpulse_prob", finite=True))
    if not 0.0 <= p_ap < 1.0:
        raise ValueError(f"afterpulse_prob={afterpulse_prob!r} not in [0, 1)")
    link = (eta, y0, e_d, p_ap)
    weak = float(params.source.weak_decoy_intensity)
    options = (block_size, eps_sec, eps_cor, secrecy_per_bit, sampling_bound)
    return optimise_link(model_key, link, lengths, weak, params, options, BB84FiniteKey)


def model_key(link: tuple, f: Any, weak: float, block: float, eps_cor: Any, bound: str) -> Any:
    """Make the optimiser's ``key_at`` for checked link arrays ``(eta, Y0, e_d, p_ap)`` and ``f``.

    See :func:`~qkdcircuits.links.finite_key.optimise_protocol`.

    Every array broadcasts against the problem batch, so links that differ in more than their
    length are optimised together, provided they share ``mu3 = weak``.
    """
    eta, y0, e_d, p_ap = link

    def key_at(x: np.ndarray) -> tuple[Any, np.ndarray]:
        q_x, mu, p = decode_settings(x, weak)
        counts = expected_counts_unchecked(eta, y0, e_d, p_ap, mu, p, q_x, block)
        return (lambda eps: key_terms(mu, p, counts[:4], eps, eps_cor, f, None, bound)), (
            counts.pulses
        )

    return key_at
