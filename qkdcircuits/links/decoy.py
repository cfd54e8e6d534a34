r"""Closed-form gains, QBERs, single-photon yields and finite-decoy bounds.

Everything here is plain numpy (no qiskit) and broadcasts over arrays, so a whole curve over
distance (or over intensities) is one call.

Decoy-state BB84 (GLLP with weak coherent pulses)
-------------------------------------------------
H.-K. Lo, X. Ma, K. Chen, PRL 94, 230504 (2005); X. Ma, B. Qi, Y. Zhao, H.-K. Lo, PRA 72,
012326 (2005): with total transmittance ``eta`` and background yield ``Y0``,

* ``Y_n = Y0 + eta_n - Y0 eta_n`` with ``eta_n = 1 - (1 - eta)^n`` (Ma et al., Eq. (3), kept
  exact: threshold detectors stay silent with probability ``(1 - Y0)(1 - eta_n)``), and
  ``e_n Y_n = Y0/2 + e_d eta_n`` (Eq. (4));
* summed over the Poisson photon number: ``Q_mu = 1 - (1 - Y0) exp(-eta mu)`` (never above 1;
  Eq. (6) drops the ``Y0 (1 - exp(-eta mu))`` cross term, which lets ``Q_mu`` exceed 1 at
  large ``eta mu``) and ``E_mu Q_mu = Y0/2 + e_d (1 - exp(-eta mu))`` (Eq. (8));
* infinite decoy: ``Y1 = Y0 + eta - Y0 eta``, ``e1 = (Y0/2 + e_d eta) / Y1``.

Keeping the cross term changes the GYS reference values of REFERENCES.md by about ``Y0 ~ 2e-6``
relatively (the tests check them to ``5e-5``).

MDI-QKD with weak coherent pulses
---------------------------------
F. Xu, M. Curty, B. Qi, H.-K. Lo, New J. Phys. 15, 113007 (2013), Appendix B (after X. Ma,
M. Razavi, PRA 86, 062319 (2012)): polarisation encoding, a 50:50 beam splitter, two PBSs and
four threshold detectors with dark-count probability ``p_d``; ``mu' = eta_a mu_a + eta_b mu_b``,
``x = sqrt(eta_a mu_a eta_b mu_b)/2``, ``y = (1 - p_d) exp(-mu'/4)``::

    Q_C = 2 (1-p_d)^2 e^{-mu'/2} [1 - (1-p_d) e^{-eta_a mu_a/2}] [1 - (1-p_d) e^{-eta_b mu_b/2}]
    Q_E = 2 p_d (1-p_d)^2 e^{-mu'/2} [I0(2x) - (1-p_d) e^{-mu'/2}]
    Q_Z = Q_C + Q_E,              E_Z Q_Z = e_d Q_C + (1 - e_d) Q_E
    Q_X = 2 y^2 [1 + 2 y^2 - 4 y I0(x) + I0(2x)],
    E_X Q_X = Q_X/2 - 2 (1/2 - e_d) y^2 [I0(2x) - 1]
    Y11 = (1-p_d)^2 [eta_a eta_b/2 + (2 eta_a + 2 eta_b - 3 eta_a eta_b) p_d
                     + 4 (1-eta_a)(1-eta_b) p_d^2]
    e11 Y11 = Y11/2 - (1/2 - e_d)(1-p_d)^2 eta_a eta_b / 2

These formulas are *exact* for the model in which, with probability ``e_d``, one party's whole
pulse arrives in the orthogonal polarisation of its basis (checked against an independent
Fock-state calculation in the tests; see :mod:`qkdcircuits.links.montecarlo`). ``Q_X`` is evaluated
in the algebraically equal form ``2 y^2 [2 (1-y)^2 + 4 (1-y)(I0(x)-1) + (I0(2x) - 4 I0(x) + 3)]``
whose three terms are non-negative, because the textbook form cancels to ``O(mu')`` and loses
all precision at small intensities, exactly where the decoy bounds need it. Every Bessel term
is evaluated together with its factor ``exp(-mu'/2)`` (with the exponentially scaled
``scipy.special.i0e`` for large arguments, since ``2x <= mu'/2``), so arbitrarily bright pulses
give finite gains instead of ``inf - inf``.

Finite decoys
-------------
BB84 (Ma et al. 2005): :func:`bb84_two_decoy_bounds` for decoys ``nu1 > nu2 >= 0``
with ``mu > nu1 + nu2`` (the general two-decoy case), and :func:`bb84_vacuum_weak_bounds`, its
``nu2 = 0``
case (vacuum + weak decoy). MDI-QKD: :func:`mdi_yield_lower_bound` and :func:`mdi_error_upper_bound`
use three intensities ``mu > nu + omega``, ``nu > omega >= 0`` per party; the derivation is
in the docstring of :func:`mdi_yield_lower_bound`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from scipy import special

from qkdcircuits._validation import as_float_or_array, real_array

__all__ = [
    "MDIGains",
    "SinglePhotonBounds",
    "bb84_error_gain",
    "bb84_gain",
    "bb84_single_photon",
    "bb84_two_decoy_bounds",
    "bb84_vacuum_weak_bounds",
    "mdi_error_upper_bound",
    "mdi_gains",
    "mdi_single_photon",
    "mdi_three_intensity_bounds",
    "mdi_yield_lower_bound",
]


class MDIGains(NamedTuple):
    """Overall gains and QBERs of MDI-QKD for one intensity pair (arrays broadcast together).

    Attributes
    ----------
    gain_z, gain_x : float or numpy.ndarray
        Probability per pulse pair that Charlie announces a successful Bell-state measurement
        when both parties use the Z (X) basis.
    qber_z, qber_x : float or numpy.ndarray
        Error rate among those announcements (``nan`` where the gain is 0).

    Examples
    --------
    >>> g = MDIGains(gain_z=1e-3, qber_z=0.02, gain_x=2e-3, qber_x=0.25)
    >>> g.gain_z * g.qber_z
    2e-05
    """

    gain_z: Any
    qber_z: Any
    gain_x: Any
    qber_x: Any


class SinglePhotonBounds(NamedTuple):
    """Decoy-state estimate: lower bound on the single-photon yield, upper bound on its error.

    Attributes
    ----------
    yield_lower : float or numpy.ndarray
        ``Y1^L`` (BB84) or ``Y11^L`` (MDI-QKD); may be <= 0 when nothing can be certified.
    error_upper : float or numpy.ndarray
        ``e1^U`` or ``e11^U``; ``nan`` where ``yield_lower <= 0``.

    Examples
    --------
    >>> SinglePhotonBounds(yield_lower=0.04, error_upper=0.05).yield_lower
    0.04
    """

    yield_lower: Any
    error_upper: Any


# ----------------------------------------------------------------------------------------------
# argument handling
# ----------------------------------------------------------------------------------------------


def _array(
    value: Any, name: str, low: float = 0.0, high: float = math.inf, allow_nan: bool = False
) -> np.ndarray:
    array = real_array(value, name)
    bad = np.isinf(array) if allow_nan else ~np.isfinite(array)
    if np.any(bad):
        raise ValueError(f"{name}={value!r} must be finite")
    if np.any(array < low) or np.any(array > high):
        raise ValueError(f"{name}={value!r} not in [{low}, {high}]")
    return array


def _require(ok: Any, message: str, *arrays: np.ndarray) -> None:
    """``ValueError`` with ``message`` formatted with the first offending entry of ``arrays``."""
    ok = np.asarray(ok)
    if np.all(ok):
        return
    where = np.unravel_index(int(np.argmin(ok.reshape(-1))), ok.shape) if ok.ndim else ()
    values = [float(np.broadcast_to(a, ok.shape)[where]) for a in arrays]
    raise ValueError(message.format(*values) + (f" (at index {where})" if where else ""))


def _intensity(value: Any, name: str) -> np.ndarray:
    return _array(value, name, 0.0)


def _probability(value: Any, name: str, high: float = 1.0) -> np.ndarray:
    return _array(value, name, 0.0, high)


def _error_gain(gain: np.ndarray, qber: Any, name: str) -> np.ndarray:
    """``E Q``; a QBER may be ``nan`` (undefined) only where its gain is 0."""
    qber = _array(qber, name, 0.0, 1.0, allow_nan=True)
    if np.any(np.isnan(qber) & (gain > 0)):
        raise ValueError(f"{name}={qber!r} is nan where the gain is positive")
    return np.where(gain > 0, gain * np.nan_to_num(qber), 0.0)


# ----------------------------------------------------------------------------------------------
# BB84 (GLLP)
# ----------------------------------------------------------------------------------------------


def bb84_gain(*, intensity: Any, transmittance: Any, background_yield: Any) -> Any:
    """Overall gain ``Q_mu = 1 - (1 - Y0) exp(-eta mu)`` of decoy-state BB84.

    The probability that at least one of Bob's two threshold detectors fires: they stay silent
    when no dark count occurs (``1 - Y0``) and no photon arrives (``exp(-eta mu)``). This is
    Eq. (6) of Ma et al. with the ``Y0 eta`` cross term of their Eq. (3) kept, so the gain
    never exceeds 1.

    Parameters
    ----------
    intensity : float or array_like
        Mean photon number ``mu`` (photons per pulse, >= 0).
    transmittance : float or array_like
        ``eta`` in [0, 1]: channel transmittance times Bob's detection efficiency.
    background_yield : float or array_like
        ``Y0`` in [0, 1], the probability of a click without signal photons.

    Returns
    -------
    float or numpy.ndarray
        ``Q_mu`` in [0, 1] (arrays broadcast).

    Raises
    ------
    ValueError
        For a value out of range or not finite.
    TypeError
        For a value that is not a number.

    References
    ----------
    X. Ma, B. Qi, Y. Zhao, H.-K. Lo, Phys. Rev. A 72, 012326 (2005), Eqs. (3) and (6).

    Examples
    --------
    >>> round(bb84_gain(intensity=0.48, transmittance=0.045, background_yield=1.7e-6), 8)
    0.02137005
    >>> bb84_gain(intensity=1e3, transmittance=1.0, background_yield=1.7e-6)
    1.0
    """
    mu = _intensity(intensity, "intensity")
    eta = _probability(transmittance, "transmittance")
    y0 = _probability(background_yield, "background_yield")
    with np.errstate(divide="ignore"):  # Y0 = 1: log(0) = -inf, the gain is exactly 1
        return as_float_or_array(-np.expm1(np.log1p(-y0) - eta * mu))


def bb84_error_gain(
    *, intensity: Any, transmittance: Any, background_yield: Any, misalignment_prob: Any
) -> Any:
    """Error gain ``E_mu Q_mu = Y0/2 + e_d (1 - exp(-eta mu))`` of decoy-state BB84.

    Divide by :func:`bb84_gain` for the QBER ``E_mu``. It is the Poisson average of
    ``e_n Y_n = Y0/2 + e_d eta_n`` (Ma et al., Eq. (4)); the result never exceeds the gain.

    Parameters
    ----------
    intensity : float or array_like
        Mean photon number ``mu`` (photons per pulse, >= 0).
    transmittance : float or array_like
        ``eta`` in [0, 1].
    background_yield : float or array_like
        ``Y0`` in [0, 1] (background clicks are errors half the time).
    misalignment_prob : float or array_like
        ``e_d`` in [0, 0.5].

    Returns
    -------
    float or numpy.ndarray
        ``E_mu Q_mu``.

    Raises
    ------
    ValueError
        For a value out of range or not finite.

    References
    ----------
    X. Ma, B. Qi, Y. Zhao, H.-K. Lo, Phys. Rev. A 72, 012326 (2005), Eqs. (4) and (8).

    Examples
    --------
    >>> kw = dict(intensity=0.48, transmittance=0.045, background_yield=1.7e-6)
    >>> q = bb84_gain(**kw)
    >>> round(bb84_error_gain(misalignment_prob=0.033, **kw) / q, 6)
    0.033037
    """
    mu = _intensity(intensity, "intensity")
    eta = _probability(transmittance, "transmittance")
    y0 = _probability(background_yield, "background_yield")
    e_d = _probability(misalignment_prob, "misalignment_prob", 0.5)
    return as_float_or_array(y0 / 2.0 - e_d * np.expm1(-eta * mu))


def bb84_single_photon(
    *, transmittance: Any, background_yield: Any, misalignment_prob: Any
) -> tuple[Any, Any]:
    """Single-photon yield and error ``(Y1, e1)`` of decoy-state BB84.

    ``Y1 = Y0 + eta - Y0 eta`` and ``e1 = (Y0/2 + e_d eta) / Y1`` (Ma et al., Eqs. (3)-(4) with
    ``n = 1``): the values an infinite number of decoy intensities would certify.

    Parameters
    ----------
    transmittance : float or array_like
        ``eta`` in [0, 1].
    background_yield : float or array_like
        ``Y0`` in [0, 1].
    misalignment_prob : float or array_like
        ``e_d`` in [0, 0.5].

    Returns
    -------
    (float or numpy.ndarray, float or numpy.ndarray)
        ``Y1`` and ``e1`` (``nan`` where ``Y1 = 0``).

    Raises
    ------
    ValueError
        For a value out of range or not finite.

    References
    ----------
    X. Ma, B. Qi, Y. Zhao, H.-K. Lo, Phys. Rev. A 72, 012326 (2005), Eqs. (3)-(4).

    Examples
    --------
    >>> y1, e1 = bb84_single_photon(
    ...     transmittance=0.045, background_yield=1.7e-6, misalignment_prob=0.033)
    >>> round(y1, 7), round(e1, 6)
    (0.0450016, 0.033018)
    """
    eta = _probability(transmittance, "transmittance")
    y0 = _probability(background_yield, "background_yield")
    e_d = _probability(misalignment_prob, "misalignment_prob", 0.5)
    y1 = y0 + eta - y0 * eta
    with np.errstate(invalid="ignore", divide="ignore"):
        e1 = np.where(y1 > 0, (y0 / 2.0 + e_d * eta) / np.where(y1 > 0, y1, 1.0), np.nan)
    return as_float_or_array(y1), as_float_or_array(e1)


def bb84_two_decoy_bounds(
    *,
    signal_intensity: Any,
    decoy_intensity: Any,
    weak_decoy_intensity: Any,
    gain_signal: Any,
    gain_decoy: Any,
    gain_weak: Any,
    qber_decoy: Any,
    qber_weak: Any,
    yield_lower: Any = None,
) -> SinglePhotonBounds:
    r"""Single-photon bounds from two decoys ``nu1 > nu2 >= 0`` with ``mu > nu1 + nu2``.

    X. Ma, B. Qi, Y. Zhao, H.-K. Lo, PRA 72, 012326 (2005), general two-decoy estimate.
    Writing ``S(v) = Q_v e^v = sum_n Y_n v^n / n!``:

    * ``Y0 >= Y0^L = max[(nu1 S(nu2) - nu2 S(nu1)) / (nu1 - nu2), 0]``, because
      ``nu1 nu2^n - nu2 nu1^n <= 0`` for ``n >= 1``;
    * ``nu1^n - nu2^n <= (nu1^2 - nu2^2) mu^(n-2)`` for ``n >= 2`` when ``mu > nu1 + nu2``,
      so ``S(nu1) - S(nu2) <= (nu1 - nu2) Y1 + (nu1^2 - nu2^2)/mu^2 (S(mu) - Y0 - mu Y1)``,
      which gives ``Y1 >= mu / (mu nu1 - mu nu2 - nu1^2 + nu2^2)
      [S(nu1) - S(nu2) - (nu1^2 - nu2^2)/mu^2 (S(mu) - Y0^L)]``;
    * ``e1 <= (E_nu1 S(nu1) - E_nu2 S(nu2)) / ((nu1 - nu2) Y1^L)``.

    The bounds only use ``Y_n >= 0`` and ``e_n Y_n >= 0``, so they hold for any channel.

    Parameters
    ----------
    signal_intensity, decoy_intensity, weak_decoy_intensity : float or array
        ``mu``, ``nu1`` and ``nu2``.
    gain_signal, gain_decoy, gain_weak : float or array
        Measured (or modelled) gains ``Q_mu``, ``Q_nu1``, ``Q_nu2``.
    qber_decoy, qber_weak : float or array
        QBERs ``E_nu1``, ``E_nu2``.
    yield_lower : float or array, optional
        A better lower bound on ``Y1`` to use in the error bound, e.g. the larger of the two
        bases' ``Y1^L``: the bit-averaged single-photon state is ``I/2`` in both bases, so the
        single-photon yield cannot depend on the basis.

    Returns
    -------
    SinglePhotonBounds
        ``Y1^L`` (may be negative when the data certify nothing) and ``e1^U``.

    Raises
    ------
    ValueError
        Unless ``nu1 > nu2 >= 0`` and ``mu > nu1 + nu2``, or for a gain or QBER outside [0, 1].

    References
    ----------
    X. Ma, B. Qi, Y. Zhao, H.-K. Lo, Phys. Rev. A 72, 012326 (2005), Sec. III (two decoys).

    Examples
    --------
    >>> eta, y0, ed = 0.045, 1.7e-6, 0.033
    >>> g = lambda m: bb84_gain(intensity=m, transmittance=eta, background_yield=y0)
    >>> e = lambda m: bb84_error_gain(intensity=m, transmittance=eta, background_yield=y0,
    ...                               misalignment_prob=ed) / g(m)
    >>> b = bb84_two_decoy_bounds(signal_intensity=0.5, decoy_intensity=0.1,
    ...     weak_decoy_intensity=0.02, gain_signal=g(0.5), gain_decoy=g(0.1),
    ...     gain_weak=g(0.02), qber_decoy=e(0.1), qber_weak=e(0.02))
    >>> y1, e1 = bb84_single_photon(transmittance=eta, background_yield=y0, misalignment_prob=ed)
    >>> bool(b.yield_lower <= y1 and b.error_upper >= e1)
    True
    """
    mu = _intensity(signal_intensity, "signal_intensity")
    nu1 = _intensity(decoy_intensity, "decoy_intensity")
    nu2 = _intensity(weak_decoy_intensity, "weak_decoy_intensity")
    _require(
        nu1 > nu2, "decoy_intensity={1!r} must exceed weak_decoy_intensity={2!r}", mu, nu1, nu2
    )
    _require(
        mu > nu1 + nu2,
        "signal_intensity={0!r} must exceed decoy_intensity + weak_decoy_intensity = {1!r} + {2!r}",
        mu,
        nu1,
        nu2,
    )
    q_mu = _probability(gain_signal, "gain_signal")
    q_1 = _probability(gain_decoy, "gain_decoy")
    q_2 = _probability(gain_weak, "gain_weak")
    eq_1 = _error_gain(q_1, qber_decoy, "qber_decoy")
    eq_2 = _error_gain(q_2, qber_weak, "qber_weak")
    s_mu, s_1, s_2 = q_mu * np.exp(mu), q_1 * np.exp(nu1), q_2 * np.exp(nu2)
    y0_lower = np.maximum((nu1 * s_2 - nu2 * s_1) / (nu1 - nu2), 0.0)
    y1_lower = (mu / (mu * nu1 - mu * nu2 - nu1**2 + nu2**2)) * (
        s_1 - s_2 - (nu1**2 - nu2**2) / mu**2 * (s_mu - y0_lower)
    )
    y_for_error = y1_lower if yield_lower is None else np.asarray(yield_lower, dtype=float)
    return SinglePhotonBounds(
        as_float_or_array(y1_lower),
        _error_bound(eq_1 * np.exp(nu1) - eq_2 * np.exp(nu2), (nu1 - nu2) * y_for_error),
    )


def bb84_vacuum_weak_bounds(
    *,
    signal_intensity: Any,
    decoy_intensity: Any,
    gain_signal: Any,
    gain_decoy: Any,
    gain_vacuum: Any,
    qber_decoy: Any,
    yield_lower: Any = None,
) -> SinglePhotonBounds:
    r"""Vacuum + weak decoy bounds (Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005)).

    ``Y1^L = mu / (mu nu - nu^2) [Q_nu e^nu - Q_mu e^mu nu^2/mu^2 - (mu^2 - nu^2)/mu^2 Y0]``
    and ``e1^U = (E_nu Q_nu e^nu - Y0/2) / (Y1^L nu)`` with ``Y0 = Q_vacuum`` (the vacuum's
    error rate is exactly 1/2). This is :func:`bb84_two_decoy_bounds` with ``nu2 = 0``.

    Parameters
    ----------
    signal_intensity, decoy_intensity : float or array_like
        ``mu > nu > 0`` (photons per pulse).
    gain_signal, gain_decoy, gain_vacuum : float or array_like
        Gains ``Q_mu``, ``Q_nu`` and ``Q_0 = Y0``, in [0, 1].
    qber_decoy : float or array_like
        ``E_nu`` in [0, 1].
    yield_lower : float or array_like, optional
        A better lower bound on ``Y1`` for the error bound (see :func:`bb84_two_decoy_bounds`).

    Returns
    -------
    SinglePhotonBounds
        ``Y1^L`` and ``e1^U``.

    Raises
    ------
    ValueError
        Unless ``mu > nu > 0``, or for a gain or QBER outside [0, 1].

    References
    ----------
    X. Ma, B. Qi, Y. Zhao, H.-K. Lo, Phys. Rev. A 72, 012326 (2005), Eqs. (34)-(37).

    Examples
    --------
    >>> mu, nu, eta, y0, ed = 0.48, 1e-3, 0.045, 1.7e-6, 0.033
    >>> g = lambda m: bb84_gain(intensity=m, transmittance=eta, background_yield=y0)
    >>> eg = bb84_error_gain(intensity=nu, transmittance=eta, background_yield=y0,
    ...                      misalignment_prob=ed)
    >>> b = bb84_vacuum_weak_bounds(signal_intensity=mu, decoy_intensity=nu, gain_signal=g(mu),
    ...     gain_decoy=g(nu), gain_vacuum=y0, qber_decoy=eg / g(nu))
    >>> round(b.yield_lower / (y0 + eta), 4)  # Y1^L -> Y1 as nu -> 0
    0.9997
    """
    return bb84_two_decoy_bounds(
        signal_intensity=signal_intensity,
        decoy_intensity=decoy_intensity,
        weak_decoy_intensity=0.0,
        gain_signal=gain_signal,
        gain_decoy=gain_decoy,
        gain_weak=gain_vacuum,
        qber_decoy=qber_decoy,
        qber_weak=0.5,
        yield_lower=yield_lower,
    )


def _error_bound(error_numerator: np.ndarray, yield_denominator: np.ndarray) -> Any:
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = yield_denominator > 0
        bound = np.where(ok, error_numerator / np.where(ok, yield_denominator, 1.0), np.nan)
    return as_float_or_array(np.where(ok, np.maximum(bound, 0.0), np.nan))


# ----------------------------------------------------------------------------------------------
# MDI-QKD (Xu, Curty, Qi, Lo 2013)
# ----------------------------------------------------------------------------------------------

_SERIES_TERMS = 40
_SERIES_MAX = 5.0


def _scaled_bessel_terms(
    x: np.ndarray, mu_prime: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``e^{-mu'/2}`` times ``(I0(x) - 1, I0(2x) - 1, I0(2x) - 4 I0(x) + 3)``, stably.

    Power series ``I0(z) = sum_k (z/2)^(2k) / (k!)^2`` for ``x <= 5`` (at most 40 terms,
    stopped once the next term is below 1e-17 of the smallest sum ``d``); in the last
    combination the ``k = 0, 1`` terms cancel exactly, leaving
    ``sum_{k>=2} x^(2k) (1 - 4^(1-k)) / (k!)^2``. For ``x > 5`` the exponentially scaled
    ``i0e(z) = e^{-z} I0(z)`` gives ``e^{-mu'/2} I0(z) = i0e(z) e^{z - mu'/2}`` with
    ``z - mu'/2 <= 0`` (``2x = sqrt(eta_a mu_a eta_b mu_b) <= mu'/2``), so nothing overflows.
    """
    x = np.asarray(x, dtype=float)
    scale = np.exp(-mu_prime / 2.0)
    small = np.minimum(x, _SERIES_MAX)
    x2 = small * small
    term = np.ones_like(x2)
    a = np.zeros_like(x2)
    b = np.zeros_like(x2)
    d = np.zeros_like(x2)
    for k in range(1, _SERIES_TERMS):
        term = term * x2 / (k * k)  # x^(2k) / (k!)^2
        a = a + term / 4.0**k
        b = b + term
        if k >= 2:
            d = d + term * (1.0 - 4.0 ** (1 - k))
            # Terms fall off like x^2/k^2: stop once the smallest accumulated sum is final.
            if np.all(term <= 1e-17 * d):
                break
    a, b, d = a * scale, b * scale, d * scale
    big = x > _SERIES_MAX
    if np.any(big):
        with np.errstate(over="ignore", invalid="ignore"):
            big_a = special.i0e(x) * np.exp(x - mu_prime / 2.0) - scale
            big_b = special.i0e(2.0 * x) * np.exp(2.0 * x - mu_prime / 2.0) - scale
        a = np.where(big, big_a, a)
        b = np.where(big, big_b, b)
        d = np.where(big, big_b - 4.0 * big_a, d)
    return a, b, d


def mdi_gains(
    *,
    intensity_a: Any,
    intensity_b: Any,
    transmittance_a: Any,
    transmittance_b: Any,
    dark_count_prob: Any,
    misalignment_prob: Any,
) -> MDIGains:
    """Z- and X-basis gains and QBERs of MDI-QKD with weak coherent pulses.

    The simulation formulas of Xu et al. (see the module docstring), for asymmetric arms;
    everything broadcasts. They are evaluated in forms without cancellation (small intensities)
    or overflow (large ones), so every gain lies in [0, 1] and every QBER in [0, 1] (``nan``
    only where the gain is exactly 0).

    Parameters
    ----------
    intensity_a, intensity_b : float or array_like
        ``mu_a``, ``mu_b`` (photons per pulse, >= 0).
    transmittance_a, transmittance_b : float or array_like
        ``eta_a``, ``eta_b``: channel transmittance times detector efficiency, in [0, 1].
    dark_count_prob : float or array_like
        ``p_d`` per detector, in [0, 1).
    misalignment_prob : float or array_like
        ``e_d`` in [0, 0.5].

    Returns
    -------
    MDIGains
        ``Q_Z``, ``E_Z``, ``Q_X``, ``E_X`` (arrays broadcast together).

    Raises
    ------
    ValueError
        For a value out of range or not finite.

    References
    ----------
    F. Xu, M. Curty, B. Qi, H.-K. Lo, New J. Phys. 15, 113007 (2013), Appendix B; X. Ma,
    M. Razavi, Phys. Rev. A 86, 062319 (2012).

    Examples
    --------
    >>> g = mdi_gains(intensity_a=0.5, intensity_b=0.5, transmittance_a=0.145,
    ...               transmittance_b=0.145, dark_count_prob=3e-6, misalignment_prob=0.015)
    >>> round(g.gain_z, 8), round(g.qber_z, 6), round(g.gain_x, 8), round(g.qber_x, 6)
    (0.00235833, 0.015164, 0.00480351, 0.253122)
    """
    mu_a = _intensity(intensity_a, "intensity_a")
    mu_b = _intensity(intensity_b, "intensity_b")
    eta_a = _probability(transmittance_a, "transmittance_a")
    eta_b = _probability(transmittance_b, "transmittance_b")
    p_d = _probability(dark_count_prob, "dark_count_prob")
    if np.any(p_d >= 1.0):
        raise ValueError(f"dark_count_prob={dark_count_prob!r} must be < 1")
    e_d = _probability(misalignment_prob, "misalignment_prob", 0.5)
    return MDIGains(
        *(as_float_or_array(v) for v in mdi_gain_arrays(mu_a, mu_b, eta_a, eta_b, p_d, e_d))
    )


def mdi_gain_arrays(
    mu_a: np.ndarray,
    mu_b: np.ndarray,
    eta_a: np.ndarray,
    eta_b: np.ndarray,
    p_d: np.ndarray,
    e_d: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Compute ``(Q_Z, E_Z, Q_X, E_X)`` like :func:`mdi_gains`, on arrays already checked.

    The link kernel calls it directly.
    """
    arrive_a, arrive_b = eta_a * mu_a, eta_b * mu_b
    mu_prime = arrive_a + arrive_b
    log_quiet = np.log1p(-p_d)  # log(1 - p_d)
    quiet2 = np.exp(2.0 * log_quiet)  # (1 - p_d)^2
    x = np.sqrt(arrive_a * arrive_b) / 2.0
    # e^{-mu'/2} (I0(x) - 1), e^{-mu'/2} (I0(2x) - 1), e^{-mu'/2} (I0(2x) - 4 I0(x) + 3)
    a_x, b_2x, d_x = _scaled_bessel_terms(x, mu_prime)

    # 1 - (1 - p_d) e^{-t} for each arm's half intensity, computed without cancellation.
    click_a = -np.expm1(log_quiet - arrive_a / 2.0)
    click_b = -np.expm1(log_quiet - arrive_b / 2.0)
    half = np.exp(-mu_prime / 2.0)  # e^{-mu'/2}
    q_c = 2.0 * quiet2 * half * click_a * click_b
    # Q_E = 2 p_d (1-p_d)^2 [e^{-mu'/2}(I0(2x) - 1) + e^{-mu'/2}(1 - (1-p_d) e^{-mu'/2})]
    q_e = 2.0 * p_d * quiet2 * (b_2x - half * np.expm1(log_quiet - mu_prime / 2.0))
    gain_z = q_c + q_e
    error_z = e_d * q_c + (1.0 - e_d) * q_e

    # y^2 = (1-p_d)^2 e^{-mu'/2}; Q_X = 2 y^2 [2 (1-y)^2 + 4 (1-y)(I0(x)-1) + (I0(2x)-4I0(x)+3)]
    one_minus_y = -np.expm1(log_quiet - mu_prime / 4.0)
    gain_x = 2.0 * quiet2 * (2.0 * half * one_minus_y**2 + 4.0 * one_minus_y * a_x + d_x)
    error_x = np.clip(gain_x / 2.0 - (1.0 - 2.0 * e_d) * quiet2 * b_2x, 0.0, gain_x)

    with np.errstate(invalid="ignore", divide="ignore"):
        qber_z = np.where(gain_z > 0, error_z / np.where(gain_z > 0, gain_z, 1.0), np.nan)
        qber_x = np.where(gain_x > 0, error_x / np.where(gain_x > 0, gain_x, 1.0), np.nan)
    return gain_z, qber_z, gain_x, qber_x


def mdi_single_photon(
    *, transmittance_a: Any, transmittance_b: Any, dark_count_prob: Any, misalignment_prob: Any
) -> tuple[Any, Any]:
    """Yield ``Y11`` and X-basis error ``e11`` of single-photon pairs.

    ``Y11`` is the same in both bases; ``e11`` is the X-basis (phase) error that enters the key
    rate.

    Parameters
    ----------
    transmittance_a, transmittance_b : float or array_like
        ``eta_a``, ``eta_b`` in [0, 1].
    dark_count_prob : float or array_like
        ``p_d`` per detector, in [0, 1).
    misalignment_prob : float or array_like
        ``e_d`` in [0, 0.5].

    Returns
    -------
    (float or numpy.ndarray, float or numpy.ndarray)
        ``Y11`` and ``e11`` (``nan`` where ``Y11 = 0``).

    Raises
    ------
    ValueError
        For a value out of range or not finite.

    References
    ----------
    X. Ma, M. Razavi, Phys. Rev. A 86, 062319 (2012), as quoted by F. Xu, M. Curty, B. Qi,
    H.-K. Lo, New J. Phys. 15, 113007 (2013), Appendix B.

    Examples
    --------
    >>> y11, e11 = mdi_single_photon(transmittance_a=0.145, transmittance_b=0.145,
    ...                              dark_count_prob=3e-6, misalignment_prob=0.015)
    >>> round(y11, 7), round(e11, 6)
    (0.010514, 0.015072)
    """
    eta_a = _probability(transmittance_a, "transmittance_a")
    eta_b = _probability(transmittance_b, "transmittance_b")
    p_d = _probability(dark_count_prob, "dark_count_prob")
    e_d = _probability(misalignment_prob, "misalignment_prob", 0.5)
    quiet2 = (1.0 - p_d) ** 2
    y11 = quiet2 * (
        eta_a * eta_b / 2.0
        + (2.0 * eta_a + 2.0 * eta_b - 3.0 * eta_a * eta_b) * p_d
        + 4.0 * (1.0 - eta_a) * (1.0 - eta_b) * p_d**2
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        e11 = np.where(
            y11 > 0,
            (y11 / 2.0 - (0.5 - e_d) * quiet2 * eta_a * eta_b / 2.0) / np.where(y11 > 0, y11, 1.0),
            np.nan,
        )
    return as_float_or_array(y11), as_float_or_array(e11)


def _three(intensities: Any, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if len(intensities) != 3:
        raise ValueError(f"{name}={intensities!r} must hold three intensities (mu, nu, omega)")
    mu, nu, omega = (_intensity(v, f"{name}[{k}]") for k, v in enumerate(intensities))
    _require(
        nu > omega,
        name + " (mu, nu, omega) = ({0!r}, {1!r}, {2!r}): need nu > omega >= 0",
        mu,
        nu,
        omega,
    )
    _require(
        mu > nu + omega,
        name + " (mu, nu, omega) = ({0!r}, {1!r}, {2!r}): need mu > nu + omega",
        mu,
        nu,
        omega,
    )
    return mu, nu, omega


def _double_difference(
    table: np.ndarray, ints_a: tuple[np.ndarray, ...], ints_b: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """``T(nu, nu)`` and ``T(mu, mu)`` of ``S(a, b) = table(a, b) e^{a + b}``."""

    def s(i: int, j: int) -> np.ndarray:
        return table[i, j] * np.exp(ints_a[i] + ints_b[j])

    def t(i: int) -> np.ndarray:
        return s(i, i) - s(i, 2) - s(2, i) + s(2, 2)

    return t(1), t(0)


def _ratio(ints: tuple[np.ndarray, ...], n: int) -> np.ndarray:
    mu, nu, omega = ints
    return (nu**n - omega**n) / (mu**n - omega**n)


def mdi_yield_lower_bound(*, intensities_a: Any, intensities_b: Any, gains: Any) -> Any:
    r"""Lower bound on ``Y11`` from the gains of the nine intensity pairs of one basis.

    Derivation (this package's; cf. Xu, Curty, Qi, Lo, NJP 15, 113007 (2013), for a
    bound of the same family). With phase-randomised sources the gain of intensities ``(a, b)``
    obeys ``S(a, b) = Q_ab e^{a+b} = sum_{n,m>=0} Y_nm a^n b^m / (n! m!)`` with unknown yields
    ``Y_nm in [0, 1]``. The double difference

    .. math:: T(a, b) = S(a, b) - S(a, \omega_b) - S(\omega_a, b) + S(\omega_a, \omega_b)
              = \sum_{n,m \ge 1} Y_{nm} \frac{(a^n - \omega_a^n)(b^m - \omega_b^m)}{n!\,m!}

    removes every term with ``n = 0`` or ``m = 0`` exactly. Let
    ``r(n) = (nu^n - omega^n) / (mu^n - omega^n)`` for each party. If ``mu >= nu + omega`` then
    ``r(n+1)/r(n) <= (nu + omega)/mu <= 1`` (write ``r(n) = (nu/mu)^n (1-s^n)/(1-t^n)`` with
    ``s = omega/nu > t = omega/mu`` and use ``s^n/(1 + ... + s^(n-1)) <= s``), so ``r`` is
    non-increasing and every term with ``(n, m) != (1, 1)`` satisfies
    ``coef_nu(n, m) <= c coef_mu(n, m)`` with ``c = max(r_a(2) r_b(1), r_a(1) r_b(2))``.
    Since ``Y_nm >= 0``,

    .. math:: T(\nu_a, \nu_b) - c\,T(\mu_a, \mu_b) \le Y_{11}
              [(\nu_a - \omega_a)(\nu_b - \omega_b) - c(\mu_a - \omega_a)(\mu_b - \omega_b)]

    and the bracket is positive (it equals ``(mu_a-omega_a)(mu_b-omega_b)[r_a(1) r_b(1) - c]``
    with ``r(2) < r(1)``), which gives the bound. As ``nu, omega -> 0`` with ``mu`` fixed,
    ``T(nu, nu) = Y11 nu^2 + O(nu^3)`` and ``c = O(nu^3)``, so the bound tends to ``Y11``.

    Parameters
    ----------
    intensities_a, intensities_b : sequence of three floats or arrays
        ``(mu, nu, omega)`` of Alice and of Bob, with ``mu > nu + omega`` and
        ``nu > omega >= 0``.
    gains : array, shape ``(3, 3, ...)``
        ``gains[i, j]`` is the gain when Alice sends intensity ``i`` and Bob intensity ``j``
        (order mu, nu, omega); trailing axes broadcast (e.g. over distance).

    Returns
    -------
    float or numpy.ndarray
        ``Y11^L`` (may be <= 0 when nothing can be certified).

    Raises
    ------
    ValueError
        For intensities that violate the conditions, a wrong shape or gains outside [0, 1].

    References
    ----------
    F. Xu, M. Curty, B. Qi, H.-K. Lo, New J. Phys. 15, 113007 (2013), Appendix A (a bound of
    the same family); the derivation above is this package's.

    Examples
    --------
    >>> import numpy as np
    >>> ints = (0.5, 0.02, 0.001)
    >>> a, b = np.meshgrid(ints, ints, indexing="ij")
    >>> g = mdi_gains(intensity_a=a, intensity_b=b, transmittance_a=0.1, transmittance_b=0.1,
    ...               dark_count_prob=3e-6, misalignment_prob=0.015)
    >>> y_low = mdi_yield_lower_bound(intensities_a=ints, intensities_b=ints, gains=g.gain_z)
    >>> y11, _ = mdi_single_photon(transmittance_a=0.1, transmittance_b=0.1,
    ...                            dark_count_prob=3e-6, misalignment_prob=0.015)
    >>> bool(0.9 * y11 < y_low <= y11)
    True
    """
    ints_a, ints_b = _three(intensities_a, "intensities_a"), _three(intensities_b, "intensities_b")
    table = _probability(gains, "gains")
    if table.shape[:2] != (3, 3):
        raise ValueError(f"gains has shape {table.shape}, expected (3, 3, ...)")
    t_nu, t_mu = _double_difference(table, ints_a, ints_b)
    c = np.maximum(_ratio(ints_a, 2) * _ratio(ints_b, 1), _ratio(ints_a, 1) * _ratio(ints_b, 2))
    (mu_a, nu_a, om_a), (mu_b, nu_b, om_b) = ints_a, ints_b
    denominator = (nu_a - om_a) * (nu_b - om_b) - c * (mu_a - om_a) * (mu_b - om_b)
    return as_float_or_array((t_nu - c * t_mu) / denominator)


def mdi_error_upper_bound(
    *, intensities_a: Any, intensities_b: Any, gains: Any, qbers: Any, yield_lower: Any
) -> Any:
    r"""Upper bound on ``e11`` from the error gains of one basis and a ``Y11`` lower bound.

    With ``T_E`` the double difference (see :func:`mdi_yield_lower_bound`) of
    ``E_ab Q_ab e^{a+b} = sum e_nm Y_nm a^n b^m/(n! m!)``, every term is non-negative, so
    ``T_E(nu_a, nu_b) >= e11 Y11 (nu_a - omega_a)(nu_b - omega_b)`` and
    ``e11 <= T_E(nu_a, nu_b) / ((nu_a - omega_a)(nu_b - omega_b) Y11^L)``
    (Xu et al. 2013 use the same combination with a vacuum ``omega``). Terms with
    ``n = 0`` or ``m = 0`` (error rate 1/2) cancel exactly, and the bound tends to ``e11`` as
    ``nu, omega -> 0``.

    Parameters
    ----------
    intensities_a, intensities_b : sequence of three floats or arrays
        ``(mu, nu, omega)`` of Alice and of Bob (photons per pulse), ``mu > nu + omega``,
        ``nu > omega >= 0``.
    gains, qbers : array_like, shape ``(3, 3, ...)``
        Gains and QBERs of the nine intensity pairs of one basis (order mu, nu, omega).
    yield_lower : float or array_like
        A lower bound on ``Y11`` (e.g. from :func:`mdi_yield_lower_bound`).

    Returns
    -------
    float or numpy.ndarray
        ``e11^U`` (``nan`` where ``yield_lower <= 0``).

    Raises
    ------
    ValueError
        For intensities that violate the conditions, a wrong shape or values outside [0, 1].

    References
    ----------
    F. Xu, M. Curty, B. Qi, H.-K. Lo, New J. Phys. 15, 113007 (2013), Appendix A.

    Examples
    --------
    >>> import numpy as np
    >>> ints = (0.5, 0.01, 0.0)
    >>> a, b = np.meshgrid(ints, ints, indexing="ij")
    >>> g = mdi_gains(intensity_a=a, intensity_b=b, transmittance_a=0.01,
    ...               transmittance_b=0.01, dark_count_prob=3e-6, misalignment_prob=0.015)
    >>> y_low = mdi_yield_lower_bound(intensities_a=ints, intensities_b=ints, gains=g.gain_x)
    >>> e_up = mdi_error_upper_bound(intensities_a=ints, intensities_b=ints, gains=g.gain_x,
    ...                              qbers=g.qber_x, yield_lower=y_low)
    >>> _, e11 = mdi_single_photon(transmittance_a=0.01, transmittance_b=0.01,
    ...                            dark_count_prob=3e-6, misalignment_prob=0.015)
    >>> bool(e11 <= e_up < 0.025)
    True
    """
    ints_a, ints_b = _three(intensities_a, "intensities_a"), _three(intensities_b, "intensities_b")
    table = _probability(gains, "gains")
    error_gains = _error_gain(table, qbers, "qbers")
    if table.shape[:2] != (3, 3) or error_gains.shape[:2] != (3, 3):
        raise ValueError(
            f"gains and qbers must have shape (3, 3, ...), got {table.shape} and {np.shape(qbers)}"
        )
    t_nu, _ = _double_difference(error_gains, ints_a, ints_b)
    (_, nu_a, om_a), (_, nu_b, om_b) = ints_a, ints_b
    y_lower = np.asarray(yield_lower, dtype=float)
    return _error_bound(t_nu, (nu_a - om_a) * (nu_b - om_b) * y_lower)


def mdi_three_intensity_bounds(
    *,
    intensities_a: Any,
    intensities_b: Any,
    gains_z: Any,
    gains_x: Any,
    qbers_x: Any,
) -> SinglePhotonBounds:
    """``Y11^L`` and ``e11_X^U`` from the Z- and X-basis gains of the nine intensity pairs.

    ``Y11`` is bounded in both bases and the larger bound is kept: with uniform bits the
    single-photon-pair state is ``I/2 x I/2`` in either basis, so the relay cannot make the
    yield basis-dependent (the argument behind using one ``Y11`` in Lo, Curty, Qi, PRL 108,
    130503 (2012)). This matters with asymmetric arms, where multi-photon X-basis
    coincidences make the X-basis bound loose. The phase error ``e11^U`` comes from the X basis
    (:func:`mdi_error_upper_bound` with that ``Y11^L``).

    Parameters
    ----------
    intensities_a, intensities_b : sequence of three floats or arrays
        ``(mu, nu, omega)`` of Alice and of Bob (photons per pulse).
    gains_z, gains_x : array_like, shape ``(3, 3, ...)``
        Gains of the nine intensity pairs in the Z and X bases.
    qbers_x : array_like, shape ``(3, 3, ...)``
        X-basis QBERs of the nine pairs.

    Returns
    -------
    SinglePhotonBounds
        ``Y11^L`` and ``e11_X^U``.

    Raises
    ------
    ValueError
        As :func:`mdi_yield_lower_bound` and :func:`mdi_error_upper_bound`.

    References
    ----------
    H.-K. Lo, M. Curty, B. Qi, Phys. Rev. Lett. 108, 130503 (2012); F. Xu, M. Curty, B. Qi,
    H.-K. Lo, New J. Phys. 15, 113007 (2013).

    Examples
    --------
    >>> import numpy as np
    >>> ints = (0.5, 0.01, 0.0)
    >>> a, b = np.meshgrid(ints, ints, indexing="ij")
    >>> g = mdi_gains(intensity_a=a, intensity_b=b, transmittance_a=0.0145,
    ...               transmittance_b=0.0145, dark_count_prob=3e-6, misalignment_prob=0.015)
    >>> bounds = mdi_three_intensity_bounds(intensities_a=ints, intensities_b=ints,
    ...     gains_z=g.gain_z, gains_x=g.gain_x, qbers_x=g.qber_x)
    >>> y11, e11 = mdi_single_photon(transmittance_a=0.0145, transmittance_b=0.0145,
    ...                              dark_count_prob=3e-6, misalignment_prob=0.015)
    >>> bool(bounds.yield_lower <= y11 and bounds.error_upper >= e11)
    True
    """
    y_z = mdi_yield_lower_bound(
        intensities_a=intensities_a, intensities_b=intensities_b, gains=gains_z
    )
    y_x = mdi_yield_lower_bound(
        intensities_a=intensities_a, intensities_b=intensities_b, gains=gains_x
    )
    y_lower = np.maximum(y_z, y_x)
    e_x = mdi_error_upper_bound(
        intensities_a=intensities_a,
        intensities_b=intensities_b,
        gains=gains_x,
        qbers=qbers_x,
        yield_lower=y_lower,
    )
    return SinglePhotonBounds(as_float_or_array(y_lower), e_x)
