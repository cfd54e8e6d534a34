"""Evaluating links: gains, QBERs, single-photon estimates and key rate over arrays (no Qiskit).

The entry point :func:`evaluate_link` takes a parameter object
(:class:`~qkdcircuits.links.params.BB84DecoyParams` or :class:`~qkdcircuits.links.params.MDIParams`)
and a decoy method, and broadcasts over arrays of lengths and signal intensities:

=================  =========================================================================
protocol           decoy methods
=================  =========================================================================
``"bb84-decoy"``   ``"infinite"``, ``"vacuum-weak"`` (mu, nu, vacuum), ``"two-decoy"``
                   (mu, nu1 = nu, nu2 = omega)
``"mdi"``          ``"infinite"``, ``"three-intensity"`` (mu, nu, omega per party)
=================  =========================================================================

:func:`bb84_estimate` and :func:`mdi_estimate` turn per-basis gains and QBERs into the
single-photon bounds and the rate; the Monte Carlo simulation applies them to sampled counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qkdcircuits._validation import as_float_or_array
from qkdcircuits.links.decoy import (
    bb84_error_gain,
    bb84_gain,
    bb84_single_photon,
    bb84_two_decoy_bounds,
    bb84_vacuum_weak_bounds,
    mdi_gains,
    mdi_single_photon,
    mdi_three_intensity_bounds,
)
from qkdcircuits.links.params import INTENSITY_NAMES, BB84DecoyParams, LinkParams, MDIParams
from qkdcircuits.links.rates import rate_from_estimates

__all__ = ["DECOY_METHODS", "LinkEvaluation", "evaluate_link", "key_rate"]


DECOY_METHODS: dict[str, tuple[str, ...]] = {
    "bb84-decoy": ("infinite", "vacuum-weak", "two-decoy"),
    "mdi": ("infinite", "three-intensity"),
}
"""Decoy methods each protocol supports."""


_BASES = ("Z", "X")


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
        return as_float_or_array(np.maximum(self.key_rate_raw, 0.0))

    @property
    def key_rate_bps(self) -> Any:
        """Secret bits per second: rate per pulse x repetition rate x live fraction."""
        return as_float_or_array(
            np.maximum(self.key_rate_raw, 0.0) * self.repetition_rate_hz * self.live_fraction
        )

    @property
    def signal_key(self) -> str:
        """Report key of the signal intensity (pair): ``"mu"`` or ``"mu,mu"``."""
        return "mu" if self.protocol == "bb84-decoy" else "mu,mu"


def check_decoy(protocol: str, decoy: str) -> str:
    allowed = DECOY_METHODS[protocol]
    if not isinstance(decoy, str) or decoy not in allowed:
        raise ValueError(
            f"decoy={decoy!r} is not available for protocol {protocol!r}; choose one of "
            f"{', '.join(map(repr, allowed))}"
        )
    return decoy


def check_params(params: Any) -> LinkParams:
    if not isinstance(params, BB84DecoyParams | MDIParams):
        raise TypeError(f"params={params!r} must be a BB84DecoyParams or an MDIParams")
    return params


def resolve_lengths(
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
    >>> from qkdcircuits import MDIParams
    >>> ev = evaluate_link(MDIParams.xu2013(), length_km=[0.0, 50.0, 100.0])
    >>> [f"{r:.3e}" for r in ev.key_rate_per_pulse]
    ['5.478e-04', '5.168e-05', '4.861e-06']
    """
    params = check_params(params)
    decoy = check_decoy(params.protocol, decoy)
    total, la, lb = resolve_lengths(params, length_km, length_a_km, length_b_km, relay_fraction)
    signal = _signal_overrides(params, intensities)
    if isinstance(params, BB84DecoyParams):
        return evaluate_bb84(params, decoy, total, signal.get("mu"))
    return evaluate_mdi(params, decoy, total, la, lb, signal.get("mu_a"), signal.get("mu_b"))


def bb84_estimate(
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
    raw = rate_from_estimates(
        mu * np.exp(-mu) * y_low,
        e_up,
        gains["Z:mu"],
        qbers["Z:mu"],
        ec_efficiency,
        sifting_factor,
    )
    return y_low, e_up, raw


def mdi_estimate(
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
    raw = rate_from_estimates(
        mu_a * mu_b * np.exp(-mu_a - mu_b) * y_low,
        e_up,
        gains["Z:mu,mu"],
        qbers["Z:mu,mu"],
        ec_efficiency,
        sifting_factor,
    )
    return y_low, e_up, raw


def evaluate_bb84(
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
    y1_low, e1_up, raw = bb84_estimate(
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


def evaluate_mdi(
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
    y_low, e_up, raw = mdi_estimate(
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
    >>> from qkdcircuits import BB84DecoyParams
    >>> round(key_rate(BB84DecoyParams.gys(), length_km=50.0), 8)
    0.0002226
    """
    return as_float_or_array(
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
