"""Secret-key rates: entropy, GLLP and MDI-QKD rates, intensity optimisation, distance curves.

All functions here are closed forms over numpy arrays (no qiskit). The entry points take a
parameter object (:class:`~qkdcircuits.params.BB84DecoyParams` or
:class:`~qkdcircuits.params.MDIParams`) and a decoy method:

=================  =========================================================================
protocol           decoy methods
=================  =========================================================================
``"bb84-decoy"``   ``"infinite"``, ``"vacuum-weak"`` (mu, nu, vacuum), ``"two-decoy"``
                   (mu, nu1 = nu, nu2 = omega)
``"mdi"``          ``"infinite"``, ``"three-intensity"`` (mu, nu, omega per party)
=================  =========================================================================

Rates are asymptotic (no finite-key corrections) and per signal pulse, as in the papers: in
the asymptotic limit the fraction of decoy and test pulses vanishes.

* GLLP (Gottesman, Lo, Lutkenhaus, Preskill, Quantum Inf. Comput. 4, 325 (2004); with decoy
  states Lo, Ma, Chen, PRL 94, 230504 (2005), Eq. 1):
  ``R = q { -Q_mu f H2(E_mu) + Q1 [1 - H2(e1)] }``, ``Q1 = Y1 mu e^{-mu}``.
* MDI-QKD (Lo, Curty, Qi, PRL 108, 130503 (2012), Eq. 1; Xu et al., NJP 15, 113007 (2013)):
  ``R = q { mu_a mu_b e^{-mu_a - mu_b} Y11 [1 - H2(e11_X)] - Q_Z f H2(E_Z) }``.

Optimising the signal intensities over a whole distance array is vectorised: a 25-point grid
brackets the optimum, then a golden-section search in ``log mu`` runs for every distance at once
(one rate evaluation per iteration for all points), so a 500-point optimised symmetric MDI-QKD
curve costs 88 array evaluations (25 grid + 2 + 60 iterations + the final curve).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize as scipy_optimize

from qkdcircuits.decoy import (
    bb84_error_gain,
    bb84_gain,
    bb84_single_photon,
    bb84_two_decoy_bounds,
    bb84_vacuum_weak_bounds,
    mdi_gains,
    mdi_single_photon,
    mdi_three_intensity_bounds,
)
from qkdcircuits.params import (
    INTENSITY_NAMES,
    BB84DecoyParams,
    LinkParams,
    MDIParams,
)

__all__ = [
    "DECOY_METHODS",
    "KeyRateCurve",
    "LinkEvaluation",
    "OptimalIntensities",
    "binary_entropy",
    "evaluate_link",
    "gllp_key_rate",
    "key_rate",
    "key_rate_curve",
    "max_distance",
    "mdi_key_rate",
    "optimize_intensities",
    "shor_preskill_rate",
]

DECOY_METHODS: dict[str, tuple[str, ...]] = {
    "bb84-decoy": ("infinite", "vacuum-weak", "two-decoy"),
    "mdi": ("infinite", "three-intensity"),
}
"""Decoy methods each protocol supports."""

_BASES = ("Z", "X")
_MU_MAX = 2.0
_MU_MIN = 1e-4
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


# ----------------------------------------------------------------------------------------------
# Entropy and rate formulas
# ----------------------------------------------------------------------------------------------


def _out(value: Any) -> Any:
    value = np.asarray(value, dtype=float)
    return float(value) if value.ndim == 0 else value


def binary_entropy(p: Any) -> Any:
    """Binary entropy ``H2(p) = -p log2 p - (1-p) log2(1-p)`` in bits, with ``H2(0) = H2(1) = 0``.

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
    return _out(np.where((p == 0) | (p == 1), 0.0, h))


def shor_preskill_rate(qber: Any) -> Any:
    """BB84 key fraction for single photons, ``1 - 2 H2(Q)`` (Shor, Preskill, PRL 85, 441 (2000)).

    Negative above ``Q = 0.1100278644``, where no key can be distilled.

    Examples
    --------
    >>> round(shor_preskill_rate(0.02), 6)
    0.717119
    """
    return _out(1.0 - 2.0 * np.asarray(binary_entropy(qber)))


def _entropy_upper(error_upper: Any) -> np.ndarray:
    """``H2`` of an upper bound on an error rate; 1 (no certified key) if undefined or >= 1/2.

    ``H2`` is increasing on [0, 1/2] and at most 1, so ``H2(min(e^U, 1/2))`` upper-bounds
    ``H2(e)`` for every ``e <= e^U``.
    """
    e = np.asarray(error_upper, dtype=float)
    safe = np.where(np.isnan(e), 0.5, np.clip(e, 0.0, 0.5))
    return np.asarray(binary_entropy(safe))


def _rate(
    single_gain: Any, single_error: Any, gain: Any, qber: Any, f: float, q: float
) -> np.ndarray:
    single_gain = np.asarray(single_gain, dtype=float)
    single = np.where(single_gain > 0, single_gain * (1.0 - _entropy_upper(single_error)), 0.0)
    leak = np.asarray(gain, dtype=float) * f * np.asarray(binary_entropy(np.nan_to_num(qber)))
    return q * (single - leak)


def gllp_key_rate(
    *,
    gain_signal: Any,
    qber_signal: Any,
    single_photon_gain: Any,
    single_photon_error: Any,
    ec_efficiency: float,
    sifting_factor: float = 0.5,
) -> Any:
    """GLLP key rate per signal pulse, ``q { Q1 [1 - H2(e1)] - Q_mu f H2(E_mu) }``.

    Lo, Ma, Chen, PRL 94, 230504 (2005), Eq. (1); Gottesman, Lo, Lutkenhaus, Preskill, Quantum
    Inf. Comput. 4, 325 (2004). ``single_photon_gain`` is ``Q1 = Y1 mu e^{-mu}`` (or its lower
    bound); a non-positive ``Q1`` or an undefined ``e1`` certifies no key. The result may be
    negative (no key).

    Examples
    --------
    >>> round(gllp_key_rate(gain_signal=0.02137009, qber_signal=0.03303715,
    ...     single_photon_gain=0.0450017 * 0.48 * 0.6187834, single_photon_error=0.03301764,
    ...     ec_efficiency=1.22), 7)
    0.0025546
    """
    return _out(
        _rate(
            single_photon_gain,
            single_photon_error,
            gain_signal,
            qber_signal,
            ec_efficiency,
            sifting_factor,
        )
    )


def mdi_key_rate(
    *,
    gain_z: Any,
    qber_z: Any,
    single_pair_gain: Any,
    single_pair_error: Any,
    ec_efficiency: float,
    sifting_factor: float = 1.0,
) -> Any:
    """MDI-QKD key rate per signal pulse pair.

    ``q { mu_a mu_b e^{-mu_a-mu_b} Y11 [1 - H2(e11_X)] - Q_Z f H2(E_Z) }`` (Lo, Curty, Qi,
    PRL 108, 130503 (2012), Eq. (1); Xu, Curty, Qi, Lo, NJP 15, 113007 (2013), Eq. (1)), with
    ``single_pair_gain = mu_a mu_b e^{-mu_a-mu_b} Y11`` (or its lower bound).
    """
    return _out(
        _rate(
            single_pair_gain,
            single_pair_error,
            gain_z,
            qber_z,
            ec_efficiency,
            sifting_factor,
        )
    )


# ----------------------------------------------------------------------------------------------
# Evaluating a link
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LinkEvaluation:
    """Closed-form statistics of a link, arrays broadcast over distance (and intensities).

    Attributes
    ----------
    protocol, decoy : str
        As passed.
    length_km : numpy.ndarray
        Total Alice-to-Bob length.
    length_a_km, length_b_km : numpy.ndarray or None
        MDI-QKD arm lengths (``None`` for BB84).
    intensities : dict of str to numpy.ndarray
        ``mu``, ``nu``, ``omega`` (BB84) or ``mu_a`` ... ``omega_b`` (MDI-QKD).
    gains, qbers : dict of str to numpy.ndarray
        Keyed ``"Z:mu"`` (BB84) or ``"Z:mu,nu"`` (MDI-QKD: Alice's intensity, Bob's).
    single_photon_yield, single_photon_error : numpy.ndarray
        True ``Y1``/``e1`` (BB84) or ``Y11``/``e11_X`` (MDI-QKD).
    single_photon_yield_lower, single_photon_error_upper : numpy.ndarray
        What the decoy method certifies (equal to the true values for ``"infinite"``).
    key_rate_raw : numpy.ndarray
        Key rate per signal pulse before clipping at 0 (negative: no key).
    click_prob : numpy.ndarray
        Probability per signal pulse that any detector fires (for the dead-time correction).
    repetition_rate_hz : float
    live_fraction : numpy.ndarray
        Fraction of pulses not lost to detector dead time.
    """

    protocol: str
    decoy: str
    length_km: np.ndarray
    length_a_km: np.ndarray | None
    length_b_km: np.ndarray | None
    intensities: dict[str, np.ndarray]
    gains: dict[str, np.ndarray]
    qbers: dict[str, np.ndarray]
    single_photon_yield: np.ndarray
    single_photon_error: np.ndarray
    single_photon_yield_lower: np.ndarray
    single_photon_error_upper: np.ndarray
    key_rate_raw: np.ndarray
    click_prob: np.ndarray = field(repr=False)
    repetition_rate_hz: float = field(repr=False)
    live_fraction: np.ndarray = field(repr=False)

    @property
    def key_rate_per_pulse(self) -> Any:
        """``max(R, 0)`` per signal pulse."""
        return _out(np.maximum(self.key_rate_raw, 0.0))

    @property
    def key_rate_bps(self) -> Any:
        """Secret bits per second: rate per pulse x repetition rate x live fraction."""
        return _out(
            np.maximum(self.key_rate_raw, 0.0) * self.repetition_rate_hz * self.live_fraction
        )

    @property
    def signal_key(self) -> str:
        """Report key of the signal intensity (pair): ``"mu"`` or ``"mu,mu"``."""
        return "mu" if self.protocol == "bb84-decoy" else "mu,mu"


def _check_decoy(protocol: str, decoy: str) -> str:
    allowed = DECOY_METHODS[protocol]
    if not isinstance(decoy, str) or decoy not in allowed:
        raise ValueError(
            f"decoy={decoy!r} is not available for protocol {protocol!r}; choose one of "
            f"{', '.join(map(repr, allowed))}"
        )
    return decoy


def _check_params(params: Any) -> LinkParams:
    if not isinstance(params, BB84DecoyParams | MDIParams):
        raise TypeError(f"params={params!r} must be a BB84DecoyParams or an MDIParams")
    return params


def _lengths(
    params: LinkParams,
    length_km: Any,
    length_a_km: Any,
    length_b_km: Any,
    relay_fraction: float,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    def arr(value: Any, name: str) -> np.ndarray:
        array = np.asarray(value, dtype=float)
        if np.any(~np.isfinite(array)) or np.any(array < 0):
            raise ValueError(f"{name}={value!r} must be finite and >= 0")
        return array

    if isinstance(params, BB84DecoyParams):
        if length_a_km is not None or length_b_km is not None:
            raise ValueError("length_a_km/length_b_km apply to MDI-QKD only")
        total = arr(params.length_km if length_km is None else length_km, "length_km")
        return total, None, None
    if length_a_km is not None or length_b_km is not None:
        if length_km is not None or length_a_km is None or length_b_km is None:
            raise ValueError("give either length_km or both length_a_km and length_b_km")
        la, lb = np.broadcast_arrays(
            arr(length_a_km, "length_a_km"), arr(length_b_km, "length_b_km")
        )
        return la + lb, la, lb
    if length_km is None:
        la, lb = arr(params.length_a_km, "length_a_km"), arr(params.length_b_km, "length_b_km")
        return la + lb, la, lb
    if not 0.0 <= relay_fraction <= 1.0:
        raise ValueError(f"relay_fraction={relay_fraction!r} not in [0, 1]")
    total = arr(length_km, "length_km")
    la = relay_fraction * total
    return total, la, total - la


def _signal_overrides(params: LinkParams, intensities: dict[str, Any] | None) -> dict[str, Any]:
    names = ("mu",) if isinstance(params, BB84DecoyParams) else ("mu_a", "mu_b")
    if intensities is None:
        return {}
    unknown = set(intensities) - set(names)
    if unknown:
        raise ValueError(
            f"intensities={intensities!r}: unknown names {sorted(unknown)}; the signal "
            f"intensities of this protocol are {names}"
        )
    result = {}
    for name, value in intensities.items():
        array = np.asarray(value, dtype=float)
        if np.any(~np.isfinite(array)) or np.any(array <= 0):
            raise ValueError(f"intensities[{name!r}]={value!r} must be finite and > 0")
        result[name] = array
    return result


def evaluate_link(
    params: LinkParams,
    *,
    decoy: str = "infinite",
    length_km: Any = None,
    length_a_km: Any = None,
    length_b_km: Any = None,
    relay_fraction: float = 0.5,
    intensities: dict[str, Any] | None = None,
) -> LinkEvaluation:
    """Gains, QBERs, single-photon estimates and key rate of a link, over arrays of lengths.

    Parameters
    ----------
    params : BB84DecoyParams or MDIParams
        The link; its own lengths are used unless lengths are given here.
    decoy : str
        See :data:`DECOY_METHODS`.
    length_km : float or array, optional
        Total length in km (MDI-QKD: split by ``relay_fraction``, Alice's share first).
    length_a_km, length_b_km : float or array, optional
        MDI-QKD arm lengths (instead of ``length_km``).
    relay_fraction : float
        Charlie's position as a fraction of ``length_km`` from Alice.
    intensities : dict, optional
        Signal intensities overriding the sources': ``{"mu": ...}`` (BB84) or
        ``{"mu_a": ..., "mu_b": ...}`` (MDI-QKD); values may be arrays.

    Returns
    -------
    LinkEvaluation

    Examples
    --------
    >>> from qkdcircuits.params import MDIParams
    >>> ev = evaluate_link(MDIParams.xu2013(), length_km=[0.0, 50.0, 100.0])
    >>> [f"{r:.3e}" for r in ev.key_rate_per_pulse]
    ['5.478e-04', '5.168e-05', '4.861e-06']
    """
    params = _check_params(params)
    decoy = _check_decoy(params.protocol, decoy)
    total, la, lb = _lengths(params, length_km, length_a_km, length_b_km, relay_fraction)
    signal = _signal_overrides(params, intensities)
    if isinstance(params, BB84DecoyParams):
        return _evaluate_bb84(params, decoy, total, signal.get("mu"))
    return _evaluate_mdi(params, decoy, total, la, lb, signal.get("mu_a"), signal.get("mu_b"))


def _bb84_estimate(
    decoy: str,
    intensities: tuple[Any, Any, Any],
    gains: dict[str, Any],
    qbers: dict[str, Any],
    true_single: tuple[Any, Any],
    ec_efficiency: float,
    sifting_factor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Single-photon estimates and key rate of decoy BB84 from per-basis gains and QBERs.

    Shared by the closed form and the Monte Carlo simulation. The key comes from Z-basis signal
    pulses; ``Y1^L`` is the larger of the two bases' bounds (``Y1`` is basis-independent) and
    the phase error ``e1^U`` comes from the X basis (in the closed form both bases are
    identical). With ``"infinite"`` the given true values ``(Y1, e1)`` are used.
    """
    mu, nu, omega = intensities
    if decoy == "infinite":
        y_low, e_up = true_single
    else:
        if decoy == "vacuum-weak" and np.any(np.asarray(omega) != 0.0):
            raise ValueError(
                f"decoy='vacuum-weak' needs a vacuum weak decoy, but "
                f"weak_decoy_intensity={np.asarray(omega).tolist()!r}; use decoy='two-decoy' "
                "or set it to 0"
            )

        def bounds(basis: str, yield_lower: Any = None) -> Any:
            if decoy == "vacuum-weak":
                return bb84_vacuum_weak_bounds(
                    signal_intensity=mu,
                    decoy_intensity=nu,
                    gain_signal=gains[f"{basis}:mu"],
                    gain_decoy=gains[f"{basis}:nu"],
                    gain_vacuum=gains[f"{basis}:omega"],
                    qber_decoy=qbers[f"{basis}:nu"],
                    yield_lower=yield_lower,
                )
            return bb84_two_decoy_bounds(
                signal_intensity=mu,
                decoy_intensity=nu,
                weak_decoy_intensity=omega,
                gain_signal=gains[f"{basis}:mu"],
                gain_decoy=gains[f"{basis}:nu"],
                gain_weak=gains[f"{basis}:omega"],
                qber_decoy=qbers[f"{basis}:nu"],
                qber_weak=qbers[f"{basis}:omega"],
                yield_lower=yield_lower,
            )

        # Y1 is basis-independent (the bit-averaged single-photon state is I/2 in both bases),
        # so the tighter of the two bases' bounds holds for both.
        y_low = np.maximum(bounds("Z").yield_lower, bounds("X").yield_lower)
        e_up = bounds("X", y_low).error_upper
    y_low, e_up = np.asarray(y_low, dtype=float), np.asarray(e_up, dtype=float)
    mu = np.asarray(mu, dtype=float)
    raw = _rate(
        mu * np.exp(-mu) * y_low,
        e_up,
        gains["Z:mu"],
        qbers["Z:mu"],
        ec_efficiency,
        sifting_factor,
    )
    return y_low, e_up, raw


def _mdi_estimate(
    decoy: str,
    intensities: tuple[tuple[Any, Any, Any], tuple[Any, Any, Any]],
    gains: dict[str, Any],
    qbers: dict[str, Any],
    true_single: tuple[Any, Any],
    ec_efficiency: float,
    sifting_factor: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Single-pair estimates and key rate of MDI-QKD from the gains of the 9 intensity pairs.

    ``Y11^L`` from the Z basis, ``e11^U`` from the X basis (:func:`mdi_three_intensity_bounds`),
    or the given true ``(Y11, e11)`` for ``"infinite"``. Shared with the Monte Carlo simulation.
    """
    ints_a, ints_b = intensities
    if decoy == "infinite":
        y_low, e_up = true_single
    else:

        def table(values: dict[str, Any], basis: str) -> np.ndarray:
            return np.stack(
                [
                    np.stack(
                        np.broadcast_arrays(*(values[f"{basis}:{a},{b}"] for b in INTENSITY_NAMES))
                    )
                    for a in INTENSITY_NAMES
                ]
            )

        y_low, e_up = mdi_three_intensity_bounds(
            intensities_a=ints_a,
            intensities_b=ints_b,
            gains_z=table(gains, "Z"),
            gains_x=table(gains, "X"),
            qbers_x=table(qbers, "X"),
        )
    y_low, e_up = np.asarray(y_low, dtype=float), np.asarray(e_up, dtype=float)
    mu_a, mu_b = np.asarray(ints_a[0], dtype=float), np.asarray(ints_b[0], dtype=float)
    raw = _rate(
        mu_a * mu_b * np.exp(-mu_a - mu_b) * y_low,
        e_up,
        gains["Z:mu,mu"],
        qbers["Z:mu,mu"],
        ec_efficiency,
        sifting_factor,
    )
    return y_low, e_up, raw


def _evaluate_bb84(
    params: BB84DecoyParams, decoy: str, length: np.ndarray, mu_override: Any
) -> LinkEvaluation:
    source = params.source
    mu = np.asarray(source.signal_intensity if mu_override is None else mu_override, float)
    nu, omega = source.decoy_intensity, source.weak_decoy_intensity
    eta = params.transmittance_at(length)
    y0 = params.background_yield
    e_d = params.misalignment_error
    if decoy == "vacuum-weak" and omega != 0.0:
        raise ValueError(
            f"decoy='vacuum-weak' needs a vacuum weak decoy, but weak_decoy_intensity={omega!r}; "
            "use decoy='two-decoy' or set it to 0"
        )
    ints = dict(zip(INTENSITY_NAMES, np.broadcast_arrays(mu, nu, omega, eta)[:3], strict=True))
    gains, qbers = {}, {}
    for name, value in ints.items():
        q = np.asarray(bb84_gain(intensity=value, transmittance=eta, background_yield=y0))
        eq = bb84_error_gain(
            intensity=value, transmittance=eta, background_yield=y0, misalignment_error=e_d
        )
        e = np.where(q > 0, eq / np.where(q > 0, q, 1.0), np.nan)
        for basis in _BASES:
            gains[f"{basis}:{name}"], qbers[f"{basis}:{name}"] = q, e
    y1, e1 = (
        np.asarray(v)
        for v in bb84_single_photon(transmittance=eta, background_yield=y0, misalignment_error=e_d)
    )
    y1_low, e1_up, raw = _bb84_estimate(
        decoy,
        (mu, nu, omega),
        gains,
        qbers,
        (y1, e1),
        params.ec_efficiency,
        params.sifting_factor,
    )
    quiet = 1.0 - params.detector.dark_count_prob
    click = -np.expm1(2.0 * np.log(quiet) - eta * mu)
    return LinkEvaluation(
        protocol="bb84-decoy",
        decoy=decoy,
        length_km=length,
        length_a_km=None,
        length_b_km=None,
        intensities=ints,
        gains=gains,
        qbers=qbers,
        single_photon_yield=y1,
        single_photon_error=e1,
        single_photon_yield_lower=np.asarray(y1_low),
        single_photon_error_upper=np.asarray(e1_up),
        key_rate_raw=raw,
        click_prob=click,
        repetition_rate_hz=source.repetition_rate_hz,
        live_fraction=np.asarray(params.detector.live_fraction(click, source.repetition_rate_hz)),
    )


def _evaluate_mdi(
    params: MDIParams,
    decoy: str,
    total: np.ndarray,
    la: np.ndarray,
    lb: np.ndarray,
    mu_a_override: Any,
    mu_b_override: Any,
) -> LinkEvaluation:
    sa, sb = params.source_a, params.source_b
    mu_a = np.asarray(sa.signal_intensity if mu_a_override is None else mu_a_override, float)
    mu_b = np.asarray(sb.signal_intensity if mu_b_override is None else mu_b_override, float)
    eta_a = params.channel_a.transmittance_at(la) * params.detector.efficiency
    eta_b = params.channel_b.transmittance_at(lb) * params.detector.efficiency
    p_d, e_d = params.detector.dark_count_prob, params.misalignment_error
    ints_a = np.stack(
        np.broadcast_arrays(mu_a, sa.decoy_intensity, sa.weak_decoy_intensity, eta_a, mu_b)[:3]
    )
    ints_b = np.stack(
        np.broadcast_arrays(mu_b, sb.decoy_intensity, sb.weak_decoy_intensity, eta_b, mu_a)[:3]
    )
    table = mdi_gains(
        intensity_a=ints_a[:, None],
        intensity_b=ints_b[None, :],
        transmittance_a=eta_a,
        transmittance_b=eta_b,
        dark_count_prob=p_d,
        misalignment_error=e_d,
    )
    gain_z, qber_z, gain_x, qber_x = (np.asarray(t) for t in table)
    gains, qbers = {}, {}
    for i, name_a in enumerate(INTENSITY_NAMES):
        for j, name_b in enumerate(INTENSITY_NAMES):
            for basis, g, e in (("Z", gain_z, qber_z), ("X", gain_x, qber_x)):
                gains[f"{basis}:{name_a},{name_b}"] = g[i, j]
                qbers[f"{basis}:{name_a},{name_b}"] = e[i, j]
    y11, e11 = (
        np.asarray(v)
        for v in mdi_single_photon(
            transmittance_a=eta_a,
            transmittance_b=eta_b,
            dark_count_prob=p_d,
            misalignment_error=e_d,
        )
    )
    y_low, e_up, raw = _mdi_estimate(
        decoy,
        (tuple(ints_a), tuple(ints_b)),
        gains,
        qbers,
        (y11, e11),
        params.ec_efficiency,
        params.sifting_factor,
    )
    # Linear optics conserves photon number: no click at all iff no photon and no dark count.
    click = -np.expm1(4.0 * np.log1p(-p_d) - eta_a * ints_a[0] - eta_b * ints_b[0])
    intensities = {}
    for party, ints in (("a", ints_a), ("b", ints_b)):
        for k, name in enumerate(INTENSITY_NAMES):
            intensities[f"{name}_{party}"] = ints[k]
    return LinkEvaluation(
        protocol="mdi",
        decoy=decoy,
        length_km=np.asarray(total),
        length_a_km=np.asarray(la),
        length_b_km=np.asarray(lb),
        intensities=intensities,
        gains=gains,
        qbers=qbers,
        single_photon_yield=y11,
        single_photon_error=e11,
        single_photon_yield_lower=np.asarray(y_low),
        single_photon_error_upper=np.asarray(e_up),
        key_rate_raw=raw,
        click_prob=click,
        repetition_rate_hz=sa.repetition_rate_hz,
        live_fraction=np.asarray(params.detector.live_fraction(click, sa.repetition_rate_hz)),
    )


def key_rate(
    params: LinkParams,
    *,
    decoy: str = "infinite",
    length_km: Any = None,
    length_a_km: Any = None,
    length_b_km: Any = None,
    relay_fraction: float = 0.5,
    intensities: dict[str, Any] | None = None,
) -> Any:
    """Secret-key rate per signal pulse (negative where no key can be distilled).

    Arguments as in :func:`evaluate_link`.

    Examples
    --------
    >>> from qkdcircuits.params import BB84DecoyParams
    >>> round(key_rate(BB84DecoyParams.gys(), length_km=50.0), 8)
    0.0002226
    """
    return _out(
        evaluate_link(
            params,
            decoy=decoy,
            length_km=length_km,
            length_a_km=length_a_km,
            length_b_km=length_b_km,
            relay_fraction=relay_fraction,
            intensities=intensities,
        ).key_rate_raw
    )


# ----------------------------------------------------------------------------------------------
# Optimisation
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptimalIntensities:
    """Signal intensities that maximise the key rate, and that rate (per signal pulse).

    ``key_rate_per_pulse`` is the maximum of the unclipped rate, so it is negative when even the
    best intensities give no key.
    """

    intensities: dict[str, float]
    key_rate_per_pulse: float


def _mu_bounds(source: Any, decoy: str) -> tuple[float, float]:
    low = _MU_MIN
    if decoy != "infinite":
        # The finite-decoy bounds need mu > nu + omega.
        low = max(low, (source.decoy_intensity + source.weak_decoy_intensity) * (1.0 + 1e-9))
    if low >= _MU_MAX:
        raise ValueError(
            f"decoy intensities {source.decoy_intensity!r} + {source.weak_decoy_intensity!r} "
            f"leave no room for a signal intensity below {_MU_MAX}"
        )
    return low, _MU_MAX


def _is_symmetric(params: MDIParams, la: np.ndarray, lb: np.ndarray) -> bool:
    return (
        params.source_a == params.source_b
        and params.channel_a.loss_db_per_km == params.channel_b.loss_db_per_km
        and params.channel_a.extra_loss_db == params.channel_b.extra_loss_db
        and bool(np.all(la == lb))
    )


def _grid_bracket(
    objective: Callable[[np.ndarray], np.ndarray],
    low: np.ndarray,
    high: np.ndarray,
    points: int = 25,
) -> tuple[np.ndarray, np.ndarray]:
    """Bracket the global maximum of ``objective`` on a log grid, for every problem at once.

    The rate is not unimodal in ``mu``: at long distance it is slightly negative as
    ``mu -> 0`` (dark counts only), dips, and peaks again near the optimum, so a plain golden
    search from a wide bracket can converge to the wrong end. A coarse grid locates the peak;
    the bracket is the two grid cells around the best grid point.
    """
    low, high = np.broadcast_arrays(np.asarray(low, float), np.asarray(high, float))
    fractions = np.linspace(0.0, 1.0, points).reshape((points,) + (1,) * low.ndim)
    grid = np.log(low) + fractions * (np.log(high) - np.log(low))
    values = np.stack([objective(np.exp(g)) for g in grid])
    best = np.argmax(values, axis=0)
    lo = np.take_along_axis(grid, np.maximum(best - 1, 0)[None], axis=0)[0]
    hi = np.take_along_axis(grid, np.minimum(best + 1, points - 1)[None], axis=0)[0]
    return np.exp(lo), np.exp(hi)


def _golden_max(
    objective: Callable[[np.ndarray], np.ndarray],
    low: np.ndarray,
    high: np.ndarray,
    iterations: int = 60,
    *,
    log: bool = True,
    grid: bool = True,
) -> np.ndarray:
    """Vectorised maximisation of ``objective`` over ``x`` in ``[low, high]``.

    ``objective`` maps an array of ``x`` (one per problem) to values. With ``grid`` a coarse
    grid (:func:`_grid_bracket`) first brackets the global maximum; a golden-section search then
    refines it, in ``log x`` when ``log`` is true: every problem keeps its own bracket and one
    call per iteration evaluates all of them. 60 iterations shrink the bracket (two grid cells,
    about 0.8 in ``log x``) by ``0.618**60 ~ 3e-13``.
    """
    low, high = np.broadcast_arrays(np.asarray(low, float), np.asarray(high, float))
    if grid:
        low, high = _grid_bracket(objective, low, high)
    forward, back = (np.log, np.exp) if log else (np.asarray, np.asarray)
    a, b = forward(low).astype(float), forward(high).astype(float)
    c = b - _GOLDEN * (b - a)
    d = a + _GOLDEN * (b - a)
    fc, fd = objective(back(c)), objective(back(d))
    for _ in range(iterations):
        left = fc >= fd  # the maximum lies in [a, d]
        a = np.where(left, a, c)
        b = np.where(left, d, b)
        new_c = np.where(left, b - _GOLDEN * (b - a), d)
        new_d = np.where(left, c, a + _GOLDEN * (b - a))
        probe = np.where(left, new_c, new_d)
        fprobe = objective(back(probe))
        fc, fd = np.where(left, fprobe, fd), np.where(left, fc, fprobe)
        c, d = new_c, new_d
    return back(np.where(fc >= fd, c, d))


def _optimise_arrays(
    params: LinkParams,
    decoy: str,
    total: np.ndarray,
    la: np.ndarray | None,
    lb: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """Vectorised optimum signal intensities for every length in the arrays."""
    if isinstance(params, BB84DecoyParams):
        low, high = _mu_bounds(params.source, decoy)
        shape = total.shape

        def rate(mu: np.ndarray) -> np.ndarray:
            return _evaluate_bb84(params, decoy, total, mu).key_rate_raw

        mu = _golden_max(rate, np.full(shape, low), np.full(shape, high))
        return {"mu": mu}

    assert la is not None and lb is not None
    la, lb = np.broadcast_arrays(la, lb)
    low_a, high_a = _mu_bounds(params.source_a, decoy)
    low_b, high_b = _mu_bounds(params.source_b, decoy)
    if _is_symmetric(params, la, lb):

        def rate_sym(mu: np.ndarray) -> np.ndarray:
            return _evaluate_mdi(params, decoy, total, la, lb, mu, mu).key_rate_raw

        mu = _golden_max(rate_sym, np.full(la.shape, low_a), np.full(la.shape, high_a))
        return {"mu_a": mu, "mu_b": mu}
    return _coordinate_ascent(params, decoy, total, la, lb, (low_a, high_a), (low_b, high_b))


def _coordinate_ascent(
    params: MDIParams,
    decoy: str,
    total: np.ndarray,
    la: np.ndarray,
    lb: np.ndarray,
    bounds_a: tuple[float, float],
    bounds_b: tuple[float, float],
    sweeps: int = 2,
    newton_steps: int = 12,
    step: float = 1e-4,
) -> dict[str, np.ndarray]:
    """Vectorised optimum of ``(mu_a, mu_b)`` for an asymmetric relay.

    Works in ``s = (log mu_a + log mu_b)/2`` and ``t = (log mu_a - log mu_b)/2``, which are
    nearly decoupled: start from the best common intensity (``t = 0``), refine with ``sweeps``
    alternating golden searches over ``t`` and ``s``, then polish with Newton steps whose
    gradient and Hessian come from central differences (``step`` in log space) and
    which are only taken where the Hessian is negative definite and the rate improves (halving
    the step up to three times). Every distance is handled at once.
    """
    shape = la.shape
    log_lo = np.log([bounds_a[0], bounds_b[0]])
    log_hi = np.log([bounds_a[1], bounds_b[1]])

    def rate_st(s: np.ndarray, t: np.ndarray) -> np.ndarray:
        log_a = np.clip(s + t, log_lo[0], log_hi[0])
        log_b = np.clip(s - t, log_lo[1], log_hi[1])
        return _evaluate_mdi(
            params, decoy, total, la, lb, np.exp(log_a), np.exp(log_b)
        ).key_rate_raw

    low = max(bounds_a[0], bounds_b[0])
    high = min(bounds_a[1], bounds_b[1])
    s = np.log(
        _golden_max(lambda m: rate_st(np.log(m), 0.0), np.full(shape, low), np.full(shape, high))
    )
    t = np.zeros(shape)
    for width_t, width_s in [(0.7, 0.3), (0.1, 0.1)][:sweeps]:
        t = _golden_max(
            lambda v, s=s: rate_st(s, v), t - width_t, t + width_t, 40, log=False, grid=False
        )
        s = _golden_max(
            lambda v, t=t: rate_st(v, t), s - width_s, s + width_s, 40, log=False, grid=False
        )
    h = step
    f0 = rate_st(s, t)
    for _ in range(newton_steps):
        fsp, fsm = rate_st(s + h, t), rate_st(s - h, t)
        ftp, ftm = rate_st(s, t + h), rate_st(s, t - h)
        fpp, fmm = rate_st(s + h, t + h), rate_st(s - h, t - h)
        fpm, fmp = rate_st(s + h, t - h), rate_st(s - h, t + h)
        gs, gt = (fsp - fsm) / (2 * h), (ftp - ftm) / (2 * h)
        hss, htt = (fsp - 2 * f0 + fsm) / h**2, (ftp - 2 * f0 + ftm) / h**2
        hst = (fpp - fpm - fmp + fmm) / (4 * h**2)
        det = hss * htt - hst**2
        concave = (det > 0) & (hss < 0)
        safe_det = np.where(concave, det, 1.0)
        ds = np.where(concave, -(htt * gs - hst * gt) / safe_det, 0.0)
        dt = np.where(concave, -(hss * gt - hst * gs) / safe_det, 0.0)
        scale = np.minimum(1.0, 0.3 / np.maximum(np.hypot(ds, dt), 1e-300))
        ds, dt = ds * scale, dt * scale
        moved = np.zeros(shape, dtype=bool)
        for _ in range(4):
            trial = rate_st(s + ds, t + dt)
            accept = ~moved & (trial > f0)
            s, t = np.where(accept, s + ds, s), np.where(accept, t + dt, t)
            f0 = np.where(accept, trial, f0)
            moved |= accept
            ds, dt = ds / 2, dt / 2
        if np.all(~moved | (np.hypot(ds, dt) * 16 < 1e-10)):
            break
    log_a = np.clip(s + t, log_lo[0], log_hi[0])
    log_b = np.clip(s - t, log_lo[1], log_hi[1])
    return {"mu_a": np.exp(log_a), "mu_b": np.exp(log_b)}


def optimize_intensities(
    params: LinkParams,
    *,
    decoy: str = "infinite",
    length_km: float | None = None,
    length_a_km: float | None = None,
    length_b_km: float | None = None,
    relay_fraction: float = 0.5,
) -> OptimalIntensities:
    """Signal intensities maximising the key rate at one distance (scipy optimiser).

    BB84 and symmetric MDI-QKD: ``scipy.optimize.minimize_scalar`` (bounded Brent) over
    ``log mu``. Asymmetric MDI-QKD: ``scipy.optimize.minimize`` (Nelder-Mead) over
    ``(log mu_a, log mu_b)`` started from the vectorised coordinate-ascent optimum. Decoy
    intensities are kept fixed; finite-decoy methods require ``mu > nu + omega``.

    Examples
    --------
    >>> from qkdcircuits.params import MDIParams
    >>> best = optimize_intensities(MDIParams.xu2013(), length_km=0.0)
    >>> round(best.intensities["mu_a"], 3), f"{best.key_rate_per_pulse:.4e}"
    (0.599, '5.7516e-04')
    """
    params = _check_params(params)
    decoy = _check_decoy(params.protocol, decoy)
    total, la, lb = _lengths(params, length_km, length_a_km, length_b_km, relay_fraction)
    if total.ndim != 0:
        raise ValueError("optimize_intensities takes one distance; use key_rate_curve for arrays")

    if isinstance(params, BB84DecoyParams):
        low, high = _mu_bounds(params.source, decoy)

        def rate_1d(mu: Any) -> np.ndarray:
            return _evaluate_bb84(params, decoy, total, mu).key_rate_raw

        names: tuple[str, ...] = ("mu",)
    elif _is_symmetric(params, la, lb):
        low, high = _mu_bounds(params.source_a, decoy)

        def rate_1d(mu: Any) -> np.ndarray:
            return _evaluate_mdi(params, decoy, total, la, lb, mu, mu).key_rate_raw

        names = ("mu_a", "mu_b")
    else:
        names = ()
    if names:
        # The rate has a spurious local maximum as mu -> 0 at long distance: bracket the
        # global one on a grid first (see _grid_bracket), then let scipy refine it.
        bracket = _grid_bracket(rate_1d, np.array(low), np.array(high))
        res = scipy_optimize.minimize_scalar(
            lambda log_mu: -float(rate_1d(math.exp(log_mu))),
            bounds=(math.log(float(bracket[0])), math.log(float(bracket[1]))),
            method="bounded",
            options={"xatol": 1e-10},
        )
        return OptimalIntensities(dict.fromkeys(names, math.exp(res.x)), -float(res.fun))

    bounds_a, bounds_b = _mu_bounds(params.source_a, decoy), _mu_bounds(params.source_b, decoy)
    start = _coordinate_ascent(params, decoy, total, la, lb, bounds_a, bounds_b)
    log_bounds = [(math.log(b[0]), math.log(b[1])) for b in (bounds_a, bounds_b)]

    def neg_asym(x: np.ndarray) -> float:
        mu_a, mu_b = math.exp(x[0]), math.exp(x[1])
        return -float(_evaluate_mdi(params, decoy, total, la, lb, mu_a, mu_b).key_rate_raw)

    x0 = np.log([float(start["mu_a"]), float(start["mu_b"])])
    res = scipy_optimize.minimize(
        neg_asym,
        x0,
        method="Nelder-Mead",
        bounds=log_bounds,
        options={"xatol": 1e-10, "fatol": 1e-16, "maxiter": 2000},
    )
    x = res.x if res.fun <= neg_asym(x0) else x0
    return OptimalIntensities(
        {"mu_a": math.exp(x[0]), "mu_b": math.exp(x[1])}, -float(min(res.fun, neg_asym(x0)))
    )


# ----------------------------------------------------------------------------------------------
# Curves and maximum distance
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class KeyRateCurve:
    """Key rate against distance.

    Attributes
    ----------
    protocol, decoy : str
    optimized : bool
        Whether the signal intensities were optimised at every distance.
    length_km : numpy.ndarray
        Total distances in km.
    key_rate_per_pulse : numpy.ndarray
        ``max(R, 0)`` per signal pulse.
    key_rate_bps : numpy.ndarray
        Bits per second (repetition rate and dead time applied).
    intensities : dict of str to numpy.ndarray
        Signal intensities used at each distance.
    evaluation : LinkEvaluation
        Everything else (gains, QBERs, single-photon estimates), per distance.
    """

    protocol: str
    decoy: str
    optimized: bool
    length_km: np.ndarray
    key_rate_per_pulse: np.ndarray
    key_rate_bps: np.ndarray
    intensities: dict[str, np.ndarray]
    evaluation: LinkEvaluation = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready columns."""
        return {
            "protocol": self.protocol,
            "decoy": self.decoy,
            "optimized": self.optimized,
            "length_km": self.length_km.tolist(),
            "key_rate_per_pulse": self.key_rate_per_pulse.tolist(),
            "key_rate_bps": self.key_rate_bps.tolist(),
            "intensities": {k: np.asarray(v).tolist() for k, v in self.intensities.items()},
        }


def key_rate_curve(
    params: LinkParams,
    lengths_km: Any,
    *,
    decoy: str = "infinite",
    optimize: bool = False,
    relay_fraction: float = 0.5,
) -> KeyRateCurve:
    """Key rate over an array of total distances, optionally with optimised signal intensities.

    The optimisation is vectorised over all distances (see :func:`_golden_max`); a 500-point
    optimised MDI-QKD curve takes a few tens of milliseconds (``benchmarks/bench_keyrate.py``).

    Examples
    --------
    >>> import numpy as np
    >>> from qkdcircuits.params import BB84DecoyParams
    >>> curve = key_rate_curve(BB84DecoyParams.gys(), np.linspace(0, 150, 4), optimize=True)
    >>> bool(np.all(np.diff(curve.key_rate_per_pulse) <= 0))
    True
    """
    params = _check_params(params)
    decoy = _check_decoy(params.protocol, decoy)
    lengths = np.asarray(lengths_km, dtype=float)
    if lengths.ndim != 1 or lengths.size == 0:
        raise ValueError(f"lengths_km must be a non-empty 1-D array, got shape {lengths.shape}")
    total, la, lb = _lengths(params, lengths, None, None, relay_fraction)
    signal = _optimise_arrays(params, decoy, total, la, lb) if optimize else None
    evaluation = evaluate_link(
        params,
        decoy=decoy,
        length_a_km=la,
        length_b_km=lb,
        length_km=total if la is None else None,
        intensities=signal,
    )
    intensities = {
        name: np.broadcast_to(evaluation.intensities[name], total.shape).copy()
        for name in (("mu",) if la is None else ("mu_a", "mu_b"))
    }
    return KeyRateCurve(
        protocol=params.protocol,
        decoy=decoy,
        optimized=bool(optimize),
        length_km=total,
        key_rate_per_pulse=np.broadcast_to(evaluation.key_rate_per_pulse, total.shape).copy(),
        key_rate_bps=np.broadcast_to(evaluation.key_rate_bps, total.shape).copy(),
        intensities=intensities,
        evaluation=evaluation,
    )


def max_distance(
    params: LinkParams,
    *,
    decoy: str = "infinite",
    optimize: bool = True,
    relay_fraction: float = 0.5,
    xtol_km: float = 1e-6,
) -> float:
    """Largest total distance (km) with a positive key rate, by root finding (Brent).

    With ``optimize=True`` the rate at each trial distance is maximised over the signal
    intensities first. Returns ``0.0`` if no key is possible even at 0 km and ``inf`` if the
    rate never reaches zero (a lossless channel without dark counts).

    Examples
    --------
    >>> from qkdcircuits.params import BB84DecoyParams
    >>> round(max_distance(BB84DecoyParams.gys()), 1)
    142.2
    """
    params = _check_params(params)
    decoy = _check_decoy(params.protocol, decoy)

    def rate(length: float) -> float:
        total, la, lb = _lengths(params, np.array([length]), None, None, relay_fraction)
        signal = _optimise_arrays(params, decoy, total, la, lb) if optimize else None
        ev = evaluate_link(
            params,
            decoy=decoy,
            length_km=total if la is None else None,
            length_a_km=la,
            length_b_km=lb,
            intensities=signal,
        )
        return float(np.asarray(ev.key_rate_raw).reshape(-1)[0])

    if rate(0.0) <= 0.0:
        return 0.0
    high = 50.0
    while rate(high) > 0.0:
        high *= 2.0
        if high > 1e5:
            return math.inf
    low = high / 2.0 if high > 50.0 else 0.0
    return float(scipy_optimize.brentq(rate, low, high, xtol=xtol_km))
