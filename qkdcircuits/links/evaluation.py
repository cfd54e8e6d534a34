"""Evaluating links: gains, QBERs, single-photon estimates and key rate over arrays (no Qiskit).

One kernel, :func:`evaluate_columns`, turns the flat parameter columns of a protocol
(:data:`~qkdcircuits.links.params.COLUMNS`: lengths, losses, detector, misalignment,
intensities, ...) into a :class:`LinkEvaluation`; every array broadcasts, so the same code
evaluates one link over an array of distances (:func:`evaluate_link`) or thousands of different
links at once (:func:`qkdcircuits.links.batch.evaluate_links`).

=================  =========================================================================
protocol           decoy methods
=================  =========================================================================
``"bb84-decoy"``   ``"infinite"``, ``"vacuum-weak"`` (mu, nu, vacuum), ``"two-decoy"``
                   (mu, nu1 = nu, nu2 = omega)
``"mdi"``          ``"infinite"``, ``"three-intensity"`` (mu, nu, omega per party)
=================  =========================================================================

:func:`bb84_estimate` and :func:`mdi_estimate` turn per-basis gains and QBERs into the
single-photon bounds and the two terms of the rate; the Monte Carlo simulation applies them to
sampled counts and the optimiser (:mod:`qkdcircuits.links.optimize`) to trial intensities
through :class:`RateModel`.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    mdi_gain_arrays,
    mdi_single_photon,
    mdi_three_intensity_bounds,
)
from qkdcircuits.links.params import (
    COLUMNS,
    INTENSITY_NAMES,
    BB84DecoyParams,
    LinkParams,
    MDIParams,
    check_lengths,
    live_fraction,
    params_to_columns,
)
from qkdcircuits.links.rates import rate_terms

__all__ = ["DECOY_METHODS", "LinkEvaluation", "evaluate_link", "key_rate"]


DECOY_METHODS: dict[str, tuple[str, ...]] = {
    "bb84-decoy": ("infinite", "vacuum-weak", "two-decoy"),
    "mdi": ("infinite", "three-intensity"),
}
"""Decoy methods each protocol supports."""


_BASES = ("Z", "X")

SIGNAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "bb84-decoy": ("signal_intensity",),
    "mdi": ("signal_intensity_a", "signal_intensity_b"),
}
"""The signal-intensity columns the optimiser varies, per protocol."""

SIGNAL_NAMES: dict[str, tuple[str, ...]] = {"bb84-decoy": ("mu",), "mdi": ("mu_a", "mu_b")}
"""Short names of the signal intensities (keys of ``intensities`` dicts), per protocol."""


@dataclass(frozen=True, eq=False)
class LinkEvaluation:
    """Closed-form (or measured) statistics of links; every array has the links' shape.

    Attributes
    ----------
    protocol, decoy : str
        As passed.
    length_km : numpy.ndarray
        Total Alice-to-Bob length in km.
    length_a_km, length_b_km : numpy.ndarray or None
        MDI-QKD arm lengths in km (``None`` for BB84).
    intensities : dict of str to numpy.ndarray
        ``mu``, ``nu``, ``omega`` (BB84) or ``mu_a`` ... ``omega_b`` (MDI-QKD), photons per
        pulse.
    gains, qbers : dict of str to numpy.ndarray
        Keyed ``"Z:mu"`` (BB84) or ``"Z:mu,nu"`` (MDI-QKD: Alice's intensity, Bob's).
    single_photon_yield, single_photon_error : numpy.ndarray
        True ``Y1``/``e1`` (BB84) or ``Y11``/``e11_X`` (MDI-QKD).
    single_photon_yield_lower, single_photon_error_upper : numpy.ndarray
        What the decoy method certifies (equal to the true values for ``"infinite"``).
    key_rate_unclipped : numpy.ndarray
        Key rate per signal pulse (pair) before clipping at 0 (negative: no key).
    click_prob : numpy.ndarray
        Probability per signal pulse that any detector fires (for the dead-time correction).
    repetition_rate_hz : numpy.ndarray
        Pulses per second.
    live_fraction : numpy.ndarray
        Fraction of pulses not lost to detector dead time.

    Examples
    --------
    >>> from qkdcircuits import BB84DecoyParams
    >>> ev = evaluate_link(BB84DecoyParams.gys(), length_km=[0.0, 50.0])
    >>> [f"{q:.4e}" for q in ev.gain_z]
    ['2.1370e-02', '1.9249e-03']
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
    key_rate_unclipped: np.ndarray
    click_prob: np.ndarray = field(repr=False)
    repetition_rate_hz: np.ndarray = field(repr=False)
    live_fraction: np.ndarray = field(repr=False)

    @property
    def key_rate_per_pulse(self) -> Any:
        """``max(R, 0)``: secret bits per signal pulse (pair)."""
        return as_float_or_array(np.maximum(self.key_rate_unclipped, 0.0))

    @property
    def key_rate_bps(self) -> Any:
        """Secret bits per second: rate per pulse x repetition rate x live fraction."""
        return as_float_or_array(
            np.maximum(self.key_rate_unclipped, 0.0) * self.repetition_rate_hz * self.live_fraction
        )

    @property
    def signal_key(self) -> str:
        """Report key of the signal intensity (pair): ``"mu"`` or ``"mu,mu"``."""
        return "mu" if self.protocol == "bb84-decoy" else "mu,mu"

    @property
    def gain_z(self) -> Any:
        """Z-basis gain of the signal intensity (pair)."""
        return self.gains[f"Z:{self.signal_key}"]

    @property
    def gain_x(self) -> Any:
        """X-basis gain of the signal intensity (pair)."""
        return self.gains[f"X:{self.signal_key}"]

    @property
    def qber_z(self) -> Any:
        """Z-basis QBER of the signal intensity (pair) (``nan`` where nothing is detected)."""
        return self.qbers[f"Z:{self.signal_key}"]

    @property
    def qber_x(self) -> Any:
        """X-basis QBER of the signal intensity (pair)."""
        return self.qbers[f"X:{self.signal_key}"]


def check_decoy(protocol: str, decoy: Any) -> str:
    """``decoy`` if ``protocol`` supports it, else ``ValueError`` listing the choices."""
    allowed = DECOY_METHODS[protocol]
    if not isinstance(decoy, str) or decoy not in allowed:
        raise ValueError(
            f"decoy={decoy!r} is not available for protocol {protocol!r}; choose one of "
            f"{', '.join(map(repr, allowed))}"
        )
    return decoy


def check_params(params: Any, name: str = "params") -> LinkParams:
    """``params`` if it is a parameter object, else ``TypeError``."""
    if not isinstance(params, BB84DecoyParams | MDIParams):
        raise TypeError(
            f"{name}={params!r} must be a BB84DecoyParams or an MDIParams "
            f"(not {type(params).__name__})"
        )
    return params


def check_flag(value: Any, name: str) -> bool:
    """``value`` if it is a bool (``numpy.bool_`` included), else ``TypeError``."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name}={value!r} must be True or False")
    return bool(value)


def resolve_lengths(
    params: LinkParams,
    length_km: Any,
    length_a_km: Any,
    length_b_km: Any,
    relay_fraction: Any,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Total and arm lengths (km) requested for ``params``: the one place they are resolved.

    BB84 takes ``length_km`` (default: its own). MDI-QKD takes either both arm lengths, or a
    total ``length_km`` split by ``relay_fraction`` (Charlie's position from Alice, in [0, 1]),
    or neither (its own arms). Arrays broadcast.
    """
    if isinstance(params, BB84DecoyParams):
        if length_a_km is not None or length_b_km is not None:
            raise ValueError("length_a_km/length_b_km apply to MDI-QKD only")
        total = check_lengths(params.length_km if length_km is None else length_km, "length_km")
        return total, None, None
    if length_a_km is not None or length_b_km is not None:
        if length_km is not None or length_a_km is None or length_b_km is None:
            raise ValueError("give either length_km or both length_a_km and length_b_km")
        la, lb = np.broadcast_arrays(
            check_lengths(length_a_km, "length_a_km"), check_lengths(length_b_km, "length_b_km")
        )
        return la + lb, la, lb
    if length_km is None:
        la, lb = np.asarray(params.length_a_km), np.asarray(params.length_b_km)
        return la + lb, la, lb
    fraction = np.asarray(relay_fraction, dtype=float) if _is_real(relay_fraction) else None
    if (
        fraction is None
        or np.any(~np.isfinite(fraction))
        or np.any((fraction < 0) | (fraction > 1))
    ):
        raise ValueError(f"relay_fraction={relay_fraction!r} not in [0, 1]")
    total = check_lengths(length_km, "length_km")
    la = fraction * total
    return np.broadcast_arrays(total, la, total - la)


def _is_real(value: Any) -> bool:
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        return False
    return array.dtype.kind in "iuf"


def _signal_overrides(protocol: str, intensities: dict[str, Any] | None) -> dict[str, np.ndarray]:
    names = SIGNAL_NAMES[protocol]
    if intensities is None:
        return {}
    if not isinstance(intensities, Mapping):
        raise TypeError(f"intensities={intensities!r} must be a dict such as {{{names[0]!r}: 0.5}}")
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
        result[SIGNAL_COLUMNS[protocol][names.index(name)]] = array
    return result


def evaluate_link(
    params: LinkParams,
    *,
    decoy: str = "infinite",
    length_km: Any = None,
    length_a_km: Any = None,
    length_b_km: Any = None,
    relay_fraction: Any = 0.5,
    intensities: dict[str, Any] | None = None,
) -> LinkEvaluation:
    """Gains, QBERs, single-photon estimates and key rate of a link, over arrays of lengths.

    A thin wrapper over :func:`evaluate_columns`, the kernel shared with
    :func:`qkdcircuits.links.batch.evaluate_links`.

    Parameters
    ----------
    params : BB84DecoyParams or MDIParams
        The link; its own lengths are used unless lengths are given here.
    decoy : str
        See :data:`DECOY_METHODS`.
    length_km : float or array_like, optional
        Total length in km (MDI-QKD: split by ``relay_fraction``, Alice's share first).
    length_a_km, length_b_km : float or array_like, optional
        MDI-QKD arm lengths in km (instead of ``length_km``).
    relay_fraction : float or array_like
        Charlie's position as a fraction of ``length_km`` from Alice, in [0, 1].
    intensities : dict, optional
        Signal intensities (photons per pulse) overriding the sources': ``{"mu": ...}``
        (BB84) or ``{"mu_a": ..., "mu_b": ...}`` (MDI-QKD); values may be arrays.

    Returns
    -------
    LinkEvaluation
        Arrays broadcast over lengths and intensities.

    Raises
    ------
    ValueError
        For an unsupported decoy method, inconsistent or invalid lengths, an unknown or
        non-positive intensity, or decoy intensities the method cannot use.
    TypeError
        If ``params`` is not a parameter object.

    References
    ----------
    See :mod:`qkdcircuits.links.decoy` and :mod:`qkdcircuits.links.rates`.

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
    columns: dict[str, Any] = dict(params_to_columns(params))
    if la is None:
        columns["length_km"] = total
    else:
        columns["length_a_km"], columns["length_b_km"] = la, lb
    columns.update(_signal_overrides(params.protocol, intensities))
    return evaluate_columns(params.protocol, columns, decoy)


def key_rate(
    params: LinkParams,
    *,
    decoy: str = "infinite",
    length_km: Any = None,
    length_a_km: Any = None,
    length_b_km: Any = None,
    relay_fraction: Any = 0.5,
    intensities: dict[str, Any] | None = None,
) -> Any:
    """Secret-key rate per signal pulse (negative where no key can be distilled).

    Parameters
    ----------
    params, decoy, length_km, length_a_km, length_b_km, relay_fraction, intensities
        As in :func:`evaluate_link`.

    Returns
    -------
    float or numpy.ndarray
        The unclipped rate per signal pulse (pair).

    Raises
    ------
    ValueError, TypeError
        As :func:`evaluate_link`.

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
        ).key_rate_unclipped
    )


# ----------------------------------------------------------------------------------------------
# estimates shared with the Monte Carlo analysis
# ----------------------------------------------------------------------------------------------


def bb84_estimate(
    decoy: str,
    intensities: tuple[Any, Any, Any],
    gains: Mapping[str, Any],
    qbers: Mapping[str, Any],
    true_single: tuple[Any, Any],
    ec_inefficiency: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Single-photon estimates and the two rate terms of decoy BB84 from per-basis statistics.

    The key comes from Z-basis signal pulses; ``Y1^L`` is the larger of the two bases' bounds
    (``Y1`` is basis-independent: the bit-averaged single-photon state is ``I/2`` in both
    bases) and the phase error ``e1^U`` comes from the X basis. With ``"infinite"`` the given
    true values ``(Y1, e1)`` are used. Returns ``(Y1^L, e1^U, single, leak)`` with the rate
    ``q (single - leak)`` (:func:`qkdcircuits.links.rates.rate_terms`).
    """
    mu, nu, omega = intensities
    if decoy == "infinite":
        y_low, e_up = true_single
    else:

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

        y_low = np.maximum(bounds("Z").yield_lower, bounds("X").yield_lower)
        e_up = bounds("X", y_low).error_upper
    y_low, e_up = np.asarray(y_low, dtype=float), np.asarray(e_up, dtype=float)
    mu = np.asarray(mu, dtype=float)
    single, leak = rate_terms(
        mu * np.exp(-mu) * y_low, e_up, gains["Z:mu"], qbers["Z:mu"], ec_inefficiency
    )
    return y_low, e_up, single, leak


def mdi_tables(values: Mapping[str, Any], basis: str) -> np.ndarray:
    """Return the ``(3, 3, ...)`` table of a per-pair dict (``"Z:mu,nu"`` keys, Alice first)."""
    return np.stack(
        [
            np.stack(np.broadcast_arrays(*(values[f"{basis}:{a},{b}"] for b in INTENSITY_NAMES)))
            for a in INTENSITY_NAMES
        ]
    )


def mdi_estimate(
    decoy: str,
    intensities: tuple[tuple[Any, Any, Any], tuple[Any, Any, Any]],
    tables: Mapping[str, np.ndarray],
    true_single: tuple[Any, Any],
    ec_inefficiency: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Single-pair estimates and the two rate terms of MDI-QKD from the nine-pair tables.

    ``tables`` holds ``"gain_z"``, ``"qber_z"``, ``"gain_x"``, ``"qber_x"`` of shape
    ``(3, 3, ...)`` (only the ``[0, 0]`` Z entries are read for ``"infinite"``). ``Y11^L``
    comes from both bases, ``e11^U`` from the X basis (:func:`mdi_three_intensity_bounds`), or
    the given true ``(Y11, e11)`` for ``"infinite"``. Returns ``(Y11^L, e11^U, single, leak)``.
    """
    ints_a, ints_b = intensities
    if decoy == "infinite":
        y_low, e_up = true_single
    else:
        y_low, e_up = mdi_three_intensity_bounds(
            intensities_a=ints_a,
            intensities_b=ints_b,
            gains_z=tables["gain_z"],
            gains_x=tables["gain_x"],
            qbers_x=tables["qber_x"],
        )
    y_low, e_up = np.asarray(y_low, dtype=float), np.asarray(e_up, dtype=float)
    mu_a, mu_b = np.asarray(ints_a[0], dtype=float), np.asarray(ints_b[0], dtype=float)
    single, leak = rate_terms(
        mu_a * mu_b * np.exp(-mu_a - mu_b) * y_low,
        e_up,
        tables["gain_z"][0, 0],
        tables["qber_z"][0, 0],
        ec_inefficiency,
    )
    return y_low, e_up, single, leak


# ----------------------------------------------------------------------------------------------
# the kernel
# ----------------------------------------------------------------------------------------------


def _transmittance(length: Any, loss_per_km: Any, extra: Any, efficiency: Any) -> np.ndarray:
    return np.asarray(efficiency) * 10.0 ** (-(np.asarray(loss_per_km) * length + extra) / 10.0)


def check_decoy_intensities(protocol: str, columns: Mapping[str, Any], decoy: str) -> None:
    """Raise ``ValueError`` (naming the first offending link) if ``decoy`` cannot use them.

    Vacuum + weak needs a vacuum weak decoy; finite decoys need ``nu > omega`` and
    ``mu > nu + omega``.
    """
    if decoy == "infinite":
        return
    suffixes = ("",) if protocol == "bb84-decoy" else ("_a", "_b")
    for suffix in suffixes:
        mu = np.asarray(columns[f"signal_intensity{suffix}"], dtype=float)
        nu = np.asarray(columns[f"decoy_intensity{suffix}"], dtype=float)
        omega = np.asarray(columns[f"weak_decoy_intensity{suffix}"], dtype=float)
        mu, nu, omega = np.broadcast_arrays(mu, nu, omega)
        checks = (
            (
                decoy == "vacuum-weak",
                omega != 0.0,
                f"decoy='vacuum-weak' needs a vacuum weak decoy, but weak_decoy_intensity{suffix}"
                "={omega!r}; use decoy='two-decoy' or set it to 0",
            ),
            (
                True,
                nu <= omega,
                f"decoy={decoy!r} needs decoy_intensity{suffix}={{nu!r}} > "
                f"weak_decoy_intensity{suffix}={{omega!r}}",
            ),
            (
                True,
                mu <= nu + omega,
                f"decoy={decoy!r} needs signal_intensity{suffix}={{mu!r}} > "
                f"decoy_intensity{suffix} + weak_decoy_intensity{suffix} = {{total!r}}",
            ),
        )
        for active, bad, message in checks:
            if active and np.any(bad):
                where = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
                at = f" (link {where[0] if len(where) == 1 else where})" if where else ""
                raise ValueError(
                    message.format(
                        mu=float(mu[where]),
                        nu=float(nu[where]),
                        omega=float(omega[where]),
                        total=float(nu[where] + omega[where]),
                    )
                    + at
                )


@dataclass(frozen=True, eq=False)
class RateModel:
    """The parts of a set of links that do not depend on the signal intensities.

    Built once by :func:`rate_model`; :meth:`terms` then gives the two terms of the key rate
    for trial signal intensities (what the optimiser varies), and :meth:`evaluate` the full
    :class:`LinkEvaluation`. Both go through the same formulas.
    """

    protocol: str
    decoy: str
    shape: tuple[int, ...]
    physics: Mapping[str, np.ndarray]
    fixed: Mapping[str, np.ndarray]

    def terms(self, signal: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(single, leak, q)`` for trial signal intensities.

        ``signal`` maps ``signal_intensity`` (or ``signal_intensity_a``/``_b``) to arrays; the
        rate per pulse is ``q (single - leak)``.
        """
        stats = self._statistics(signal, full=False)
        return stats["single"], stats["leak"], self.physics["q"]

    def evaluate(self, signal: Mapping[str, Any] | None = None) -> LinkEvaluation:
        """Everything at the given (default: the columns') signal intensities."""
        stats = self._statistics(signal or {}, full=True)
        phys = self.physics
        raw = phys["q"] * (stats["single"] - stats["leak"])
        shape = np.broadcast_shapes(self.shape, np.shape(raw))

        def out(value: Any) -> np.ndarray:
            return np.broadcast_to(np.asarray(value, dtype=float), shape)

        lengths = (
            (phys["length"], None, None)
            if self.protocol == "bb84-decoy"
            else (phys["length_a"] + phys["length_b"], phys["length_a"], phys["length_b"])
        )
        return LinkEvaluation(
            protocol=self.protocol,
            decoy=self.decoy,
            length_km=out(lengths[0]),
            length_a_km=None if lengths[1] is None else out(lengths[1]),
            length_b_km=None if lengths[2] is None else out(lengths[2]),
            intensities={k: out(v) for k, v in stats["intensities"].items()},
            gains={k: out(v) for k, v in stats["gains"].items()},
            qbers={k: out(v) for k, v in stats["qbers"].items()},
            single_photon_yield=out(phys["y_true"]),
            single_photon_error=out(phys["e_true"]),
            single_photon_yield_lower=out(stats["y_low"]),
            single_photon_error_upper=out(stats["e_up"]),
            key_rate_unclipped=out(raw),
            click_prob=out(stats["click"]),
            repetition_rate_hz=out(phys["rate_hz"]),
            live_fraction=out(
                live_fraction(
                    click_prob=stats["click"],
                    repetition_rate_hz=phys["rate_hz"],
                    dead_time_s=phys["dead_time"],
                )
            ),
        )

    def _statistics(self, signal: Mapping[str, Any], *, full: bool) -> dict[str, Any]:
        if self.protocol == "bb84-decoy":
            return self._bb84(signal, full)
        return self._mdi(signal, full)

    def _bb84(self, signal: Mapping[str, Any], full: bool) -> dict[str, Any]:
        phys, fixed = self.physics, self.fixed
        mu = np.asarray(signal.get("signal_intensity", phys["mu"]), dtype=float)
        q_mu, e_mu = _bb84_statistics(phys, mu)
        gains = {"Z:mu": q_mu, "X:mu": q_mu}
        qbers = {"Z:mu": e_mu, "X:mu": e_mu}
        for name in ("nu", "omega"):
            for basis in _BASES:
                gains[f"{basis}:{name}"] = fixed[f"gain_{name}"]
                qbers[f"{basis}:{name}"] = fixed[f"qber_{name}"]
        y_low, e_up, single, leak = bb84_estimate(
            self.decoy,
            (mu, phys["nu"], phys["omega"]),
            gains,
            qbers,
            (phys["y_true"], phys["e_true"]),
            phys["f"],
        )
        stats: dict[str, Any] = {"single": single, "leak": leak, "y_low": y_low, "e_up": e_up}
        if full:
            order = [f"{basis}:{name}" for basis in _BASES for name in INTENSITY_NAMES]
            stats["gains"] = {k: gains[k] for k in order}
            stats["qbers"] = {k: qbers[k] for k in order}
            stats["intensities"] = {"mu": mu, "nu": phys["nu"], "omega": phys["omega"]}
            # Bob's two detectors are silent iff no dark count and no photon arrives.
            stats["click"] = -np.expm1(phys["log_quiet2"] - phys["eta"] * mu)
        return stats

    def _mdi(self, signal: Mapping[str, Any], full: bool) -> dict[str, Any]:
        phys, fixed = self.physics, self.fixed
        mu_a = np.asarray(signal.get("signal_intensity_a", phys["mu_a"]), dtype=float)
        mu_b = np.asarray(signal.get("signal_intensity_b", phys["mu_b"]), dtype=float)
        ints_a = (mu_a, phys["nu_a"], phys["omega_a"])
        ints_b = (mu_b, phys["nu_b"], phys["omega_b"])
        if self.decoy == "infinite" and not full:
            pairs = [(0, 0)]
        else:
            pairs = [(i, j) for i in range(3) for j in range(3) if i == 0 or j == 0]
        shape = np.broadcast_shapes(self.shape, mu_a.shape, mu_b.shape)
        computed = mdi_gain_arrays(
            stack_to([ints_a[i] for i, _ in pairs], shape),
            stack_to([ints_b[j] for _, j in pairs], shape),
            phys["eta_a"],
            phys["eta_b"],
            phys["p_d"],
            phys["e_d"],
        )
        tables = {}
        for name, value in zip(("gain_z", "qber_z", "gain_x", "qber_x"), computed, strict=True):
            value = np.asarray(value)
            entries = {pair: value[k] for k, pair in enumerate(pairs)}
            if len(pairs) > 1:
                for (i, j), fixed_value in zip(_DECOY_PAIRS, fixed[name], strict=True):
                    entries[(i, j)] = fixed_value
                cells = [[entries[(i, j)] for j in range(3)] for i in range(3)]
                tables[name] = np.stack([stack_to(row, shape) for row in cells])
            else:
                tables[name] = np.asarray(entries[(0, 0)])[None, None]
        y_low, e_up, single, leak = mdi_estimate(
            self.decoy, (ints_a, ints_b), tables, (phys["y_true"], phys["e_true"]), phys["f"]
        )
        stats: dict[str, Any] = {"single": single, "leak": leak, "y_low": y_low, "e_up": e_up}
        if full:
            gains, qbers = {}, {}
            for i, name_a in enumerate(INTENSITY_NAMES):
                for j, name_b in enumerate(INTENSITY_NAMES):
                    for basis in _BASES:
                        key = f"{basis}:{name_a},{name_b}"
                        gains[key] = tables[f"gain_{basis.lower()}"][i, j]
                        qbers[key] = tables[f"qber_{basis.lower()}"][i, j]
            stats["gains"], stats["qbers"] = gains, qbers
            stats["intensities"] = {
                f"{name}_{party}": value
                for party, ints in (("a", ints_a), ("b", ints_b))
                for name, value in zip(INTENSITY_NAMES, ints, strict=True)
            }
            # Linear optics conserves photon number: no click at all iff no photon arrives
            # and none of the four detectors has a dark count.
            stats["click"] = -np.expm1(
                4.0 * np.log1p(-phys["p_d"]) - phys["eta_a"] * mu_a - phys["eta_b"] * mu_b
            )
        return stats


_DECOY_PAIRS = ((1, 1), (1, 2), (2, 1), (2, 2))


def stack_to(values: list[Any], shape: tuple[int, ...]) -> np.ndarray:
    """Stack arrays along a new leading axis after broadcasting each to ``shape``."""
    return np.stack([np.broadcast_to(np.asarray(v, dtype=float), shape) for v in values])


def _bb84_statistics(phys: Mapping[str, np.ndarray], intensity: Any) -> tuple[Any, Any]:
    q = np.asarray(
        bb84_gain(intensity=intensity, transmittance=phys["eta"], background_yield=phys["y0"])
    )
    eq = bb84_error_gain(
        intensity=intensity,
        transmittance=phys["eta"],
        background_yield=phys["y0"],
        misalignment_prob=phys["e_d"],
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        e = np.where(q > 0, eq / np.where(q > 0, q, 1.0), np.nan)
    return q, e


def rate_model(protocol: str, columns: Mapping[str, Any], decoy: str) -> RateModel:
    """Precompute what does not depend on the signal intensities (see :class:`RateModel`).

    ``columns`` maps every name of :data:`~qkdcircuits.links.params.COLUMNS` ``[protocol]``
    to a float or an array (arrays broadcast together). The values are assumed valid (they
    come from validated parameter objects or a :class:`~qkdcircuits.links.batch.LinkArray`);
    only the decoy-method conditions are checked here.
    """
    missing = set(COLUMNS[protocol]) - set(columns)
    if missing:
        raise ValueError(f"columns for {protocol!r} lack {sorted(missing)}")
    check_decoy_intensities(protocol, columns, decoy)
    col = {name: np.asarray(columns[name], dtype=float) for name in COLUMNS[protocol]}
    shape = np.broadcast_shapes(*(v.shape for v in col.values()))
    p_d = col["dark_count_prob"]
    phys: dict[str, Any] = {
        "p_d": p_d,
        "e_d": col["misalignment_prob"],
        "f": col["ec_inefficiency"],
        "q": col["sifting_factor"],
        "rate_hz": col["repetition_rate_hz"],
        "dead_time": col["dead_time_s"],
    }
    fixed: dict[str, Any] = {}
    if protocol == "bb84-decoy":
        phys["length"] = col["length_km"]
        phys["eta"] = _transmittance(
            col["length_km"],
            col["loss_db_per_km"],
            col["extra_loss_db"],
            col["detector_efficiency"],
        )
        phys["log_quiet2"] = 2.0 * np.log1p(-p_d)
        phys["y0"] = -np.expm1(phys["log_quiet2"])  # 1 - (1 - p_d)^2: two detectors
        phys["mu"], phys["nu"], phys["omega"] = (
            col[f"{name}_intensity"] for name in ("signal", "decoy", "weak_decoy")
        )
        phys["y_true"], phys["e_true"] = (
            np.asarray(v)
            for v in bb84_single_photon(
                transmittance=phys["eta"],
                background_yield=phys["y0"],
                misalignment_prob=phys["e_d"],
            )
        )
        for name in ("nu", "omega"):
            fixed[f"gain_{name}"], fixed[f"qber_{name}"] = _bb84_statistics(phys, phys[name])
    else:
        phys["length_a"], phys["length_b"] = col["length_a_km"], col["length_b_km"]
        for arm in ("a", "b"):
            phys[f"eta_{arm}"] = _transmittance(
                col[f"length_{arm}_km"],
                col[f"loss_{arm}_db_per_km"],
                col[f"extra_loss_{arm}_db"],
                col["detector_efficiency"],
            )
            phys[f"mu_{arm}"] = col[f"signal_intensity_{arm}"]
            phys[f"nu_{arm}"] = col[f"decoy_intensity_{arm}"]
            phys[f"omega_{arm}"] = col[f"weak_decoy_intensity_{arm}"]
        phys["y_true"], phys["e_true"] = (
            np.asarray(v)
            for v in mdi_single_photon(
                transmittance_a=phys["eta_a"],
                transmittance_b=phys["eta_b"],
                dark_count_prob=p_d,
                misalignment_prob=phys["e_d"],
            )
        )
        decoys_a = (None, phys["nu_a"], phys["omega_a"])
        decoys_b = (None, phys["nu_b"], phys["omega_b"])
        computed = mdi_gain_arrays(
            stack_to([decoys_a[i] for i, _ in _DECOY_PAIRS], shape),
            stack_to([decoys_b[j] for _, j in _DECOY_PAIRS], shape),
            phys["eta_a"],
            phys["eta_b"],
            p_d,
            phys["e_d"],
        )
        for name, value in zip(("gain_z", "qber_z", "gain_x", "qber_x"), computed, strict=True):
            fixed[name] = np.asarray(value)
    return RateModel(protocol=protocol, decoy=decoy, shape=shape, physics=phys, fixed=fixed)


def evaluate_columns(protocol: str, columns: Mapping[str, Any], decoy: str) -> LinkEvaluation:
    """Evaluate links: a :class:`LinkEvaluation` from flat parameter columns (arrays broadcast).

    Used by :func:`evaluate_link` (one link, arrays of lengths or intensities) and
    :func:`qkdcircuits.links.batch.evaluate_links` (many links).
    """
    return rate_model(protocol, columns, decoy).evaluate()
