"""Photon-level link and device parameters as validated, frozen, hashable dataclasses.

The closed forms (:mod:`qkdcircuits.links.decoy`, :mod:`qkdcircuits.links.evaluation`), the batch
layer (:mod:`qkdcircuits.links.batch`), the Monte Carlo link simulation
(:mod:`qkdcircuits.links.montecarlo`) and the link report (:mod:`qkdcircuits.links.report`) all
read their inputs from these objects, so the defaults live in one place: the two reference sets
:meth:`BB84DecoyParams.gys` and :meth:`MDIParams.xu2013`.

Every object is frozen and hashable (usable as a cache key), converts to a JSON-ready ``dict``
with ``to_dict()`` and back with ``from_dict()``, and can be modified with
:func:`with_overrides` from flat or dotted names (``"ec_inefficiency"``,
``"detector.dark_count_prob"``), which is what the ``abft-qkd keyrate --set`` option uses.

Conventions
-----------
* Intensities are mean photon numbers per pulse of a phase-randomised weak coherent source:
  ``signal_intensity`` (mu), ``decoy_intensity`` (nu) and ``weak_decoy_intensity`` (omega, 0
  for a vacuum decoy), with ``mu > nu > omega >= 0`` required only where a decoy bound needs it.
* The transmittance of a link is ``eta = eta_det * 10**(-(alpha L + extra_loss_db)/10)``: fibre
  loss ``alpha`` in dB/km over ``L`` km, an extra loss term for free-space or fluctuating loss,
  and the detector efficiency ``eta_det`` (which includes the receiver's internal loss).
* ``misalignment_prob`` (``e_d``) is the probability that a pulse reaches the measurement in the
  state orthogonal to the one prepared (same basis), as in the closed forms of Ma, Qi, Zhao, Lo
  (PRA 72, 012326 (2005)) and Xu, Curty, Qi, Lo (New J. Phys. 15, 113007 (2013)); see
  :mod:`qkdcircuits.links.montecarlo` for how it maps onto the circuits.
* ``ec_inefficiency`` (``f >= 1``) is the error-correction inefficiency: error correction leaks
  ``f H2(E)`` bits per sifted bit (``f = 1`` is the Shannon limit).

Examples
--------
>>> p = BB84DecoyParams.gys()
>>> round(p.background_yield, 10)
1.7e-06
>>> MDIParams.xu2013().with_length(length_km=40.0, relay_fraction=0.25).channel_a.length_km
10.0
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from qkdcircuits._validation import (
    check_non_negative,
    check_positive,
    check_probability,
    check_real,
    real_array,
)

__all__ = [
    "PROTOCOLS",
    "BB84DecoyParams",
    "Detector",
    "FiberChannel",
    "MDIParams",
    "WeakCoherentSource",
    "default_params",
    "params_from_dict",
    "with_overrides",
]

PROTOCOLS: tuple[str, str] = ("bb84-decoy", "mdi")
"""Protocol names used by the key-rate functions, the link report and the CLI."""

INTENSITY_NAMES: tuple[str, str, str] = ("mu", "nu", "omega")
"""Short names of the three intensities (signal, decoy, weak decoy), used in report keys."""

# GYS: Y0 = 1.7e-6 is the background yield of Bob's two detectors, Y0 = 1 - (1 - p_d)**2.
_GYS_DARK_COUNT_PROB = 1.0 - math.sqrt(1.0 - 1.7e-6)

ALIASES: dict[str, str] = {
    "mu": "signal_intensity",
    "nu": "decoy_intensity",
    "omega": "weak_decoy_intensity",
    "e_d": "misalignment_prob",
    "f": "ec_inefficiency",
    "detector_efficiency": "efficiency",
}
"""Short names accepted by :func:`with_overrides` (and ``abft-qkd keyrate --set``)."""

PROBABILITY_SUM_TOLERANCE = 1e-9
"""Absolute tolerance on ``signal_prob + decoy_prob + weak_decoy_prob == 1``."""


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class WeakCoherentSource:
    """Phase-randomised weak coherent pulse source with three intensities.

    Parameters
    ----------
    signal_intensity : float
        Mean photon number ``mu`` of the signal pulses (photons per pulse, > 0).
    decoy_intensity : float
        Mean photon number ``nu`` of the decoy pulses (photons per pulse, >= 0).
    weak_decoy_intensity : float
        Mean photon number ``omega`` of the weakest decoy (photons per pulse, >= 0; 0 is a
        vacuum decoy).
    signal_prob, decoy_prob, weak_decoy_prob : float
        Probability that a pulse is sent with each intensity; they must sum to 1. Only the Monte
        Carlo simulation uses them (the closed forms are asymptotic, where the decoy fraction
        does not enter the rate per signal pulse).
    repetition_rate_hz : float
        Pulses per second (Hz, > 0); converts a key rate per pulse into bits per second.

    Raises
    ------
    ValueError
        For a value out of range (the message names the field and the value).
    TypeError
        For a value that is not a real number.

    Examples
    --------
    >>> WeakCoherentSource(signal_intensity=0.5).intensities
    (0.5, 0.1, 0.0)
    """

    signal_intensity: float = 0.5
    decoy_intensity: float = 0.1
    weak_decoy_intensity: float = 0.0
    signal_prob: float = 0.5
    decoy_prob: float = 0.25
    weak_decoy_prob: float = 0.25
    repetition_rate_hz: float = 1e8

    def __post_init__(self) -> None:
        _set(self, "signal_intensity", check_positive(self.signal_intensity, "signal_intensity"))
        for name in ("decoy_intensity", "weak_decoy_intensity"):
            _set(self, name, check_non_negative(getattr(self, name), name))
        for name in ("signal_prob", "decoy_prob", "weak_decoy_prob"):
            _set(self, name, check_probability(getattr(self, name), name))
        total = self.signal_prob + self.decoy_prob + self.weak_decoy_prob
        if not math.isclose(total, 1.0, rel_tol=0.0, abs_tol=PROBABILITY_SUM_TOLERANCE):
            raise ValueError(
                f"signal_prob + decoy_prob + weak_decoy_prob = {total!r} must equal 1 "
                f"(got {self.signal_prob!r}, {self.decoy_prob!r}, {self.weak_decoy_prob!r})"
            )
        if self.signal_prob == 0.0:
            raise ValueError("signal_prob=0.0 must be > 0 (the key comes from signal pulses)")
        _set(
            self,
            "repetition_rate_hz",
            check_positive(self.repetition_rate_hz, "repetition_rate_hz"),
        )

    @property
    def intensities(self) -> tuple[float, float, float]:
        """``(mu, nu, omega)`` in photons per pulse."""
        return (self.signal_intensity, self.decoy_intensity, self.weak_decoy_intensity)

    @property
    def probabilities(self) -> tuple[float, float, float]:
        """Probabilities of sending ``(mu, nu, omega)``."""
        return (self.signal_prob, self.decoy_prob, self.weak_decoy_prob)


@dataclass(frozen=True)
class FiberChannel:
    """Optical channel: fibre of ``length_km`` plus an extra loss term in dB.

    Parameters
    ----------
    length_km : float
        Fibre length in km (>= 0).
    loss_db_per_km : float
        Attenuation ``alpha`` in dB/km (>= 0).
    extra_loss_db : float
        Additional loss in dB (>= 0): free-space, connectors, turbulence (a fluctuating loss
        enters through its value for the link being evaluated).

    Raises
    ------
    ValueError
        For a negative or non-finite value.
    TypeError
        For a value that is not a real number.

    Examples
    --------
    >>> round(FiberChannel(length_km=50.0, loss_db_per_km=0.2).transmittance, 6)
    0.1
    """

    length_km: float = 0.0
    loss_db_per_km: float = 0.2
    extra_loss_db: float = 0.0

    def __post_init__(self) -> None:
        for name in ("length_km", "loss_db_per_km", "extra_loss_db"):
            _set(self, name, check_non_negative(getattr(self, name), name))

    @property
    def loss_db(self) -> float:
        """Total loss ``alpha L + extra_loss_db`` in dB."""
        return self.loss_db_per_km * self.length_km + self.extra_loss_db

    @property
    def transmittance(self) -> float:
        """Channel transmittance ``10**(-loss_db/10)`` (dimensionless)."""
        return 10.0 ** (-self.loss_db / 10.0)

    def transmittance_at(self, *, length_km: Any) -> np.ndarray:
        """Transmittance at other fibre lengths, same loss per km and extra loss.

        Parameters
        ----------
        length_km : float or array_like
            Fibre lengths in km (finite, >= 0).

        Returns
        -------
        numpy.ndarray
            ``10**(-(alpha L + extra_loss_db)/10)`` for every length.

        Raises
        ------
        ValueError
            For a negative or non-finite length.

        Examples
        --------
        >>> FiberChannel(loss_db_per_km=0.2).transmittance_at(length_km=[0.0, 50.0]).tolist()
        [1.0, 0.1]
        """
        length = check_lengths(length_km, "length_km")
        return 10.0 ** (-(self.loss_db_per_km * length + self.extra_loss_db) / 10.0)


def check_lengths(value: Any, name: str) -> np.ndarray:
    """``value`` as a float array of finite, non-negative lengths (km), or ``ValueError``."""
    array = real_array(value, name)
    if np.any(~np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f"{name}={value!r} must be finite and >= 0 (km)")
    return array


@dataclass(frozen=True)
class Detector:
    """Threshold single-photon detector.

    Parameters
    ----------
    efficiency : float
        Detection efficiency in (0, 1], including the receiver's internal loss.
    dark_count_prob : float
        Probability of a dark (or background) click per detector per pulse, in [0, 1).
    dead_time_s : float or None
        Dead time after a click in seconds (>= 0); ``None`` ignores dead time. It only reduces
        the key rate per second (see :meth:`live_fraction`).

    Raises
    ------
    ValueError
        For a value out of range.
    TypeError
        For a value that is not a real number.

    Examples
    --------
    >>> Detector(efficiency=0.1, dark_count_prob=1e-6).live_fraction(
    ...     click_prob=0.01, repetition_rate_hz=1e9)
    1.0
    """

    efficiency: float = 0.145
    dark_count_prob: float = 3e-6
    dead_time_s: float | None = None

    def __post_init__(self) -> None:
        _set(self, "efficiency", check_probability(self.efficiency, "efficiency"))
        if self.efficiency == 0.0:
            raise ValueError("efficiency=0.0 must be > 0")
        _set(self, "dark_count_prob", check_probability(self.dark_count_prob, "dark_count_prob"))
        if self.dark_count_prob == 1.0:
            raise ValueError("dark_count_prob=1.0 must be < 1")
        if self.dead_time_s is not None:
            _set(self, "dead_time_s", check_non_negative(self.dead_time_s, "dead_time_s"))

    def live_fraction(self, *, click_prob: Any, repetition_rate_hz: float) -> Any:
        """Fraction of pulses that find the detection system live (non-paralysable dead time).

        With a true click rate ``n = click_prob * repetition_rate_hz`` and dead time ``tau``
        the registered rate is ``n / (1 + n tau)``, so a fraction ``1 / (1 + n tau)`` of the
        pulses is usable. The whole detection system is treated as dead after any click (a
        conservative choice for a shared time tagger).

        Parameters
        ----------
        click_prob : float or array_like
            Probability per pulse that any detector fires.
        repetition_rate_hz : float
            Pulses per second (Hz).

        Returns
        -------
        float or numpy.ndarray
            The live fraction, in (0, 1].

        References
        ----------
        G. F. Knoll, *Radiation Detection and Measurement*, 4th ed., Wiley (2010), ch. 4
        (non-paralysable dead time).

        Examples
        --------
        >>> round(Detector(dead_time_s=1e-6).live_fraction(
        ...     click_prob=0.01, repetition_rate_hz=1e8), 6)
        0.5
        """
        return live_fraction(
            click_prob=click_prob,
            repetition_rate_hz=repetition_rate_hz,
            dead_time_s=0.0 if self.dead_time_s is None else self.dead_time_s,
        )


def live_fraction(*, click_prob: Any, repetition_rate_hz: Any, dead_time_s: Any) -> Any:
    """Compute ``1 / (1 + click_prob * repetition_rate_hz * dead_time_s)``, broadcast.

    See :meth:`Detector.live_fraction`; a ``nan`` dead time means none.
    """
    tau = np.nan_to_num(np.asarray(dead_time_s, dtype=float), nan=0.0)
    rate = np.asarray(click_prob, dtype=float) * np.asarray(repetition_rate_hz, dtype=float)
    fraction = 1.0 / (1.0 + rate * tau)
    return fraction if fraction.ndim else float(fraction)


def _check_type(value: Any, name: str, cls: type) -> None:
    if not isinstance(value, cls):
        raise TypeError(f"{name}={value!r} must be a {cls.__name__}")


def _check_common(obj: Any) -> None:
    _set(obj, "misalignment_prob", check_probability(obj.misalignment_prob, "misalignment_prob"))
    if obj.misalignment_prob > 0.5:
        raise ValueError(f"misalignment_prob={obj.misalignment_prob!r} not in [0, 0.5]")
    _set(obj, "ec_inefficiency", check_real(obj.ec_inefficiency, "ec_inefficiency"))
    if obj.ec_inefficiency < 1.0:
        raise ValueError(f"ec_inefficiency={obj.ec_inefficiency!r} must be >= 1 (Shannon limit)")
    _set(obj, "sifting_factor", check_probability(obj.sifting_factor, "sifting_factor"))
    if obj.sifting_factor == 0.0:
        raise ValueError("sifting_factor=0.0 must be > 0")
    _check_type(obj.detector, "detector", Detector)


class _LinkFields:
    """Serialisation shared by :class:`BB84DecoyParams` and :class:`MDIParams`."""

    @property
    def protocol(self) -> str:
        """The protocol name (one of :data:`PROTOCOLS`)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready nested ``dict`` of every field (``from_dict`` inverts it).

        Returns
        -------
        dict
            ``{"protocol": ..., "source": {...}, ...}``: the protocol name and every field,
            nested objects as dicts.

        Examples
        --------
        >>> BB84DecoyParams.gys().to_dict()["channel"]["loss_db_per_km"]
        0.21
        >>> MDIParams.xu2013().to_dict()["protocol"]
        'mdi'
        """
        return {"protocol": self.protocol, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls: type[_P], data: dict[str, Any]) -> _P:
        """Rebuild an object from :meth:`to_dict` output.

        Parameters
        ----------
        data : dict
            Output of :meth:`to_dict` (missing fields take their defaults).

        Returns
        -------
        BB84DecoyParams or MDIParams
            An object of the class it is called on.

        Raises
        ------
        ValueError
            For an unknown field, a protocol mismatch or an invalid value.
        TypeError
            If ``data`` (or a nested entry) is not a dict.

        Examples
        --------
        >>> p = MDIParams.xu2013(length_km=7.0, relay_fraction=0.25)
        >>> MDIParams.from_dict(p.to_dict()) == p
        True
        """
        return _from_dict(cls, data)


_P = TypeVar("_P", bound=_LinkFields)


@dataclass(frozen=True)
class BB84DecoyParams(_LinkFields):
    """Decoy-state BB84 link: source, channel, Bob's detectors, errors, post-processing.

    Parameters
    ----------
    source : WeakCoherentSource
        Alice's source.
    channel : FiberChannel
        Alice-to-Bob channel.
    detector : Detector
        Bob's two threshold detectors (one per outcome of his basis).
    misalignment_prob : float
        ``e_d``, probability in [0, 0.5] that a pulse arrives in the orthogonal state.
    ec_inefficiency : float
        Error-correction inefficiency ``f >= 1`` (leakage ``f H2(E)`` per sifted bit).
    sifting_factor : float
        ``q`` in (0, 1] in the GLLP rate (1/2 for standard BB84 with unbiased bases).

    Raises
    ------
    ValueError
        For a value out of range.
    TypeError
        For a component of the wrong type.

    Examples
    --------
    >>> p = BB84DecoyParams.gys(length_km=50.0)
    >>> round(float(p.transmittance), 6)
    0.004011
    """

    source: WeakCoherentSource = field(
        default_factory=lambda: WeakCoherentSource(signal_intensity=0.48)
    )
    channel: FiberChannel = field(default_factory=lambda: FiberChannel(loss_db_per_km=0.21))
    detector: Detector = field(
        default_factory=lambda: Detector(efficiency=0.045, dark_count_prob=_GYS_DARK_COUNT_PROB)
    )
    misalignment_prob: float = 0.033
    ec_inefficiency: float = 1.22
    sifting_factor: float = 0.5

    def __post_init__(self) -> None:
        _check_type(self.source, "source", WeakCoherentSource)
        _check_type(self.channel, "channel", FiberChannel)
        _check_common(self)

    @classmethod
    def gys(cls, *, length_km: float = 0.0) -> BB84DecoyParams:
        """Return the GYS parameter set used by Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005).

        From the experiment of Gobby, Yuan, Shields, Appl. Phys. Lett. 84, 3762 (2004):
        ``alpha = 0.21`` dB/km, ``eta_Bob = 0.045``, ``Y0 = 1.7e-6``, ``e_d = 0.033``,
        ``f = 1.22``, ``q = 1/2``, signal ``mu = 0.48``. ``Y0`` is the background yield of two
        detectors, ``1 - (1 - p_d)**2``, so ``p_d = 1 - sqrt(1 - Y0)``. The decoy intensities
        (``nu = 0.1``, vacuum) and the repetition rate (100 MHz) are this package's choices.
        These are also the dataclass defaults: ``BB84DecoyParams.gys() == BB84DecoyParams()``.

        Parameters
        ----------
        length_km : float
            Channel length in km.

        Returns
        -------
        BB84DecoyParams

        Raises
        ------
        ValueError
            For a negative length (or a relay fraction outside [0, 1]).

        References
        ----------
        X. Ma, B. Qi, Y. Zhao, H.-K. Lo, "Practical decoy state for quantum key
        distribution", Phys. Rev. A 72, 012326 (2005).

        C. Gobby, Z. L. Yuan, A. J. Shields, "Quantum key distribution over 122 km of
        standard telecom fiber", Appl. Phys. Lett. 84, 3762 (2004).

        Examples
        --------
        >>> BB84DecoyParams.gys(length_km=20.0).length_km
        20.0
        """
        return cls().with_length(length_km=length_km)

    @property
    def protocol(self) -> str:
        """``"bb84-decoy"``."""
        return "bb84-decoy"

    @property
    def length_km(self) -> float:
        """Channel length in km."""
        return self.channel.length_km

    @property
    def background_yield(self) -> float:
        """``Y0 = 1 - (1 - p_d)**2``: probability that one of Bob's two detectors fires unlit."""
        return 1.0 - (1.0 - self.detector.dark_count_prob) ** 2

    @property
    def transmittance(self) -> float:
        """``eta = eta_Bob 10**(-loss/10)`` at the channel's own length."""
        return self.channel.transmittance * self.detector.efficiency

    def transmittance_at(self, *, length_km: Any) -> np.ndarray:
        """``eta = eta_Bob 10**(-loss/10)`` for other channel lengths.

        Parameters
        ----------
        length_km : float or array_like
            Channel lengths in km.

        Returns
        -------
        numpy.ndarray

        Raises
        ------
        ValueError
            For a negative or non-finite length.

        Examples
        --------
        >>> BB84DecoyParams.gys().transmittance_at(length_km=[0.0]).tolist()
        [0.045]
        """
        return self.channel.transmittance_at(length_km=length_km) * self.detector.efficiency

    def with_length(self, *, length_km: float) -> BB84DecoyParams:
        """Return a copy with the channel length set to ``length_km`` (km).

        Parameters
        ----------
        length_km : float
            New channel length in km (>= 0).

        Returns
        -------
        BB84DecoyParams

        Raises
        ------
        ValueError
            For a negative or non-finite length.

        Examples
        --------
        >>> BB84DecoyParams.gys().with_length(length_km=5.0).length_km
        5.0
        """
        return dataclasses.replace(
            self, channel=dataclasses.replace(self.channel, length_km=length_km)
        )


@dataclass(frozen=True)
class MDIParams(_LinkFields):
    """MDI-QKD link: two sources, two channels to the relay (Charlie), Charlie's detectors.

    Charlie may sit anywhere: ``channel_a.length_km`` (``L_A``) and ``channel_b.length_km``
    (``L_B``) are independent.

    Parameters
    ----------
    source_a, source_b : WeakCoherentSource
        Alice's and Bob's sources (intensities may differ, e.g. for an asymmetric relay); their
        repetition rates must be equal.
    channel_a, channel_b : FiberChannel
        Alice-to-Charlie and Bob-to-Charlie channels.
    detector : Detector
        Charlie's four threshold detectors (all identical).
    misalignment_prob : float
        ``e_d``, probability in [0, 0.5] that a pulse arrives in the orthogonal state.
    ec_inefficiency : float
        Error-correction inefficiency ``f >= 1``.
    sifting_factor : float
        Fraction of signal pulse pairs kept for the key, in (0, 1] (1 in the asymptotic,
        efficient protocol of Xu et al. 2013, where almost all pulses are Z-basis signals).

    Raises
    ------
    ValueError
        For a value out of range or unequal repetition rates.
    TypeError
        For a component of the wrong type.

    Examples
    --------
    >>> p = MDIParams.xu2013(length_km=20.0)
    >>> p.channel_a.length_km, p.channel_b.length_km
    (10.0, 10.0)
    """

    source_a: WeakCoherentSource = field(default_factory=WeakCoherentSource)
    source_b: WeakCoherentSource = field(default_factory=WeakCoherentSource)
    channel_a: FiberChannel = field(default_factory=lambda: FiberChannel(loss_db_per_km=0.2))
    channel_b: FiberChannel = field(default_factory=lambda: FiberChannel(loss_db_per_km=0.2))
    detector: Detector = field(
        default_factory=lambda: Detector(efficiency=0.145, dark_count_prob=3e-6)
    )
    misalignment_prob: float = 0.015
    ec_inefficiency: float = 1.16
    sifting_factor: float = 1.0

    def __post_init__(self) -> None:
        _check_type(self.source_a, "source_a", WeakCoherentSource)
        _check_type(self.source_b, "source_b", WeakCoherentSource)
        _check_type(self.channel_a, "channel_a", FiberChannel)
        _check_type(self.channel_b, "channel_b", FiberChannel)
        _check_common(self)
        if self.source_a.repetition_rate_hz != self.source_b.repetition_rate_hz:
            raise ValueError(
                "source_a.repetition_rate_hz="
                f"{self.source_a.repetition_rate_hz!r} and source_b.repetition_rate_hz="
                f"{self.source_b.repetition_rate_hz!r} must be equal (pulses meet at the relay)"
            )

    @classmethod
    def xu2013(cls, *, length_km: float = 0.0, relay_fraction: float = 0.5) -> MDIParams:
        """Return the MDI-QKD parameter set of Xu, Curty, Qi, Lo, New J. Phys. 15, 113007 (2013).

        ``e_d = 0.015``, ``p_d = 3e-6``, ``eta_d = 0.145``, ``f = 1.16``, ``alpha = 0.2``
        dB/km, signal ``mu = 0.5``. Decoys (``nu = 0.1``, vacuum) and the 100 MHz repetition
        rate are this package's choices. These are also the dataclass defaults.

        Parameters
        ----------
        length_km : float
            Alice-to-Bob length in km.
        relay_fraction : float
            Charlie's position as a fraction of ``length_km`` from Alice, in [0, 1].

        Returns
        -------
        MDIParams

        Raises
        ------
        ValueError
            For a negative length (or a relay fraction outside [0, 1]).

        References
        ----------
        F. Xu, M. Curty, B. Qi, H.-K. Lo, "Practical aspects of measurement-device-
        independent quantum key distribution", New J. Phys. 15, 113007 (2013).

        Examples
        --------
        >>> MDIParams.xu2013(length_km=100.0, relay_fraction=0.2).length_a_km
        20.0
        """
        return cls().with_length(length_km=length_km, relay_fraction=relay_fraction)

    @property
    def protocol(self) -> str:
        """``"mdi"``."""
        return "mdi"

    @property
    def length_a_km(self) -> float:
        """Alice-to-Charlie length ``L_A`` in km."""
        return self.channel_a.length_km

    @property
    def length_b_km(self) -> float:
        """Bob-to-Charlie length ``L_B`` in km."""
        return self.channel_b.length_km

    @property
    def length_km(self) -> float:
        """Alice-to-Bob length ``L_A + L_B`` in km."""
        return self.channel_a.length_km + self.channel_b.length_km

    @property
    def transmittance_a(self) -> float:
        """``eta_a = eta_d 10**(-loss_A/10)``."""
        return self.channel_a.transmittance * self.detector.efficiency

    @property
    def transmittance_b(self) -> float:
        """``eta_b = eta_d 10**(-loss_B/10)``."""
        return self.channel_b.transmittance * self.detector.efficiency

    @property
    def is_symmetric(self) -> bool:
        """Whether swapping Alice and Bob leaves the link unchanged (same sources and arms)."""
        return self.source_a == self.source_b and self.channel_a == self.channel_b

    def with_length(self, *, length_km: float, relay_fraction: float = 0.5) -> MDIParams:
        """Return a copy with total length ``length_km`` and Charlie ``relay_fraction`` from Alice.

        Parameters
        ----------
        length_km : float
            Alice-to-Bob length in km (>= 0).
        relay_fraction : float
            Charlie's position as a fraction of the length from Alice, in [0, 1].

        Returns
        -------
        MDIParams

        Raises
        ------
        ValueError
            For a negative length or a fraction outside [0, 1].

        Examples
        --------
        >>> MDIParams.xu2013().with_length(length_km=30.0, relay_fraction=0.1).length_b_km
        27.0
        """
        length_km = check_non_negative(length_km, "length_km")
        relay_fraction = check_probability(relay_fraction, "relay_fraction")
        length_a = relay_fraction * length_km
        return self.with_lengths(length_a_km=length_a, length_b_km=length_km - length_a)

    def with_lengths(self, *, length_a_km: float, length_b_km: float) -> MDIParams:
        """Return a copy with ``L_A = length_a_km`` and ``L_B = length_b_km`` (km).

        Parameters
        ----------
        length_a_km, length_b_km : float
            Arm lengths in km (>= 0).

        Returns
        -------
        MDIParams

        Raises
        ------
        ValueError
            For a negative or non-finite length.

        Examples
        --------
        >>> MDIParams.xu2013().with_lengths(length_a_km=5.0, length_b_km=80.0).length_km
        85.0
        """
        return dataclasses.replace(
            self,
            channel_a=dataclasses.replace(self.channel_a, length_km=length_a_km),
            channel_b=dataclasses.replace(self.channel_b, length_km=length_b_km),
        )


LinkParams = BB84DecoyParams | MDIParams
"""Either parameter class."""

_CLASSES: dict[str, type[BB84DecoyParams] | type[MDIParams]] = {
    "bb84-decoy": BB84DecoyParams,
    "mdi": MDIParams,
}


def default_params(protocol: str) -> LinkParams:
    """Return the reference parameter set of a protocol.

    Parameters
    ----------
    protocol : {"bb84-decoy", "mdi"}
        ``"bb84-decoy"`` gives :meth:`BB84DecoyParams.gys`, ``"mdi"`` :meth:`MDIParams.xu2013`.

    Returns
    -------
    BB84DecoyParams or MDIParams

    Raises
    ------
    ValueError
        For an unknown protocol.

    Examples
    --------
    >>> default_params("mdi") == MDIParams.xu2013()
    True
    """
    cls = _CLASSES.get(protocol) if isinstance(protocol, str) else None
    if cls is None:
        raise ValueError(f"protocol={protocol!r} must be one of {', '.join(map(repr, PROTOCOLS))}")
    return cls()  # the reference sets are the dataclass defaults


def params_from_dict(data: dict[str, Any]) -> LinkParams:
    """Rebuild a parameter object from ``to_dict()`` output (dispatches on ``"protocol"``).

    Parameters
    ----------
    data : mapping
        A ``to_dict()`` result (a frozen one from a report's ``parameters`` too).

    Returns
    -------
    BB84DecoyParams or MDIParams

    Raises
    ------
    ValueError
        For a missing or unknown protocol, an unknown field or an invalid value.
    TypeError
        If ``data`` is not a dict.

    Examples
    --------
    >>> params_from_dict(MDIParams.xu2013().to_dict()) == MDIParams.xu2013()
    True
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"data={data!r} must be a dict")
    protocol = data.get("protocol")
    cls = _CLASSES.get(protocol) if isinstance(protocol, str) else None
    if cls is None:
        raise ValueError(f"data['protocol']={protocol!r} must be one of {PROTOCOLS}")
    return cls.from_dict(data)


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    if not isinstance(data, Mapping):
        raise TypeError(f"{cls.__name__} data={data!r} must be a dict")
    kwargs = {}
    names = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in data.items():
        if key == "protocol" and cls in (BB84DecoyParams, MDIParams):
            if value != cls().protocol:
                raise ValueError(f"protocol={value!r} does not match {cls.__name__}")
            continue
        if key not in names:
            raise ValueError(f"unknown field {key!r} for {cls.__name__}")
        sub = _NESTED.get(key)
        kwargs[key] = _from_dict(sub, value) if sub is not None else value
    return cls(**kwargs)


_NESTED: dict[str, type] = {
    "source": WeakCoherentSource,
    "source_a": WeakCoherentSource,
    "source_b": WeakCoherentSource,
    "channel": FiberChannel,
    "channel_a": FiberChannel,
    "channel_b": FiberChannel,
    "detector": Detector,
}


def _source_columns(suffix: str, prefix: str) -> dict[str, str]:
    names = (
        "signal_intensity",
        "decoy_intensity",
        "weak_decoy_intensity",
        "signal_prob",
        "decoy_prob",
        "weak_decoy_prob",
    )
    return {f"{name}{suffix}": f"{prefix}.{name}" for name in names}


_DEVICE_COLUMNS = {
    "detector_efficiency": "detector.efficiency",
    "dark_count_prob": "detector.dark_count_prob",
    "dead_time_s": "detector.dead_time_s",
    "misalignment_prob": "misalignment_prob",
    "ec_inefficiency": "ec_inefficiency",
    "sifting_factor": "sifting_factor",
}

COLUMNS: dict[str, dict[str, str]] = {
    "bb84-decoy": {
        "length_km": "channel.length_km",
        "loss_db_per_km": "channel.loss_db_per_km",
        "extra_loss_db": "channel.extra_loss_db",
        **_DEVICE_COLUMNS,
        **_source_columns("", "source"),
        "repetition_rate_hz": "source.repetition_rate_hz",
    },
    "mdi": {
        "length_a_km": "channel_a.length_km",
        "length_b_km": "channel_b.length_km",
        "loss_a_db_per_km": "channel_a.loss_db_per_km",
        "loss_b_db_per_km": "channel_b.loss_db_per_km",
        "extra_loss_a_db": "channel_a.extra_loss_db",
        "extra_loss_b_db": "channel_b.extra_loss_db",
        **_DEVICE_COLUMNS,
        **_source_columns("_a", "source_a"),
        **_source_columns("_b", "source_b"),
        "repetition_rate_hz": "source_a.repetition_rate_hz",
    },
}
"""Flat column names of each protocol's parameters (the fields of
:class:`~qkdcircuits.links.batch.LinkArray`) and the dataclass path each one reads.

Per-arm MDI-QKD quantities carry the arm letter before the unit (``length_a_km``,
``loss_a_db_per_km``, ``extra_loss_a_db``) or as a suffix when they have none
(``signal_intensity_a``); the repetition rate is shared by both sources. A detector without
dead time (``dead_time_s=None``) has ``nan`` in its column.
"""


def params_to_columns(params: LinkParams) -> dict[str, float]:
    """Return the flat column values (floats; ``nan`` for no dead time) of one parameter object."""
    values = {}
    for column, path in COLUMNS[params.protocol].items():
        value: Any = params
        for part in path.split("."):
            value = getattr(value, part)
        values[column] = math.nan if value is None else float(value)
    return values


def params_from_columns(protocol: str, values: dict[str, Any]) -> LinkParams:
    """Inverse of :func:`params_to_columns` (validated like any new object)."""
    nested: dict[str, Any] = {"protocol": protocol}
    for column, path in COLUMNS[protocol].items():
        value = float(values[column])
        if column == "dead_time_s" and math.isnan(value):
            value = None
        _set_path(nested, path, value)
    if protocol == "mdi":
        nested["source_b"]["repetition_rate_hz"] = nested["source_a"]["repetition_rate_hz"]
    return params_from_dict(nested)


def _set_path(tree: dict[str, Any], path: str, value: Any) -> None:
    """Set ``tree[a][b][c] = value`` for ``path = "a.b.c"``, creating the inner dicts."""
    *parents, leaf = path.split(".")
    node = tree
    for parent in parents:
        node = node.setdefault(parent, {})
    node[leaf] = value


def _leaf_paths(obj: Any, prefix: str = "") -> list[str]:
    paths = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            paths.extend(_leaf_paths(value, f"{prefix}{f.name}."))
        else:
            paths.append(f"{prefix}{f.name}")
    return paths


def _apply_changes(obj: Any, changes: dict[str, Any]) -> Any:
    """Replace fields of ``obj`` from a nested ``{name: value or {sub: ...}}`` mapping at once.

    All changes to one object are applied together, so a set of overrides that is only valid as
    a whole (e.g. three intensity probabilities that must sum to 1) is accepted.
    """
    updates = {}
    for name, value in changes.items():
        if isinstance(value, dict):
            updates[name] = _apply_changes(getattr(obj, name), value)
        else:
            updates[name] = value
    return dataclasses.replace(obj, **updates)


def _coerce(value: Any, name: str) -> Any:
    """Turn CLI/TOML text into a number (or ``None`` for ``dead_time_s``)."""
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("none", "null") and name.endswith("dead_time_s"):
            return None
        try:
            return float(text)
        except ValueError as exc:
            raise ValueError(f"{name}={value!r} is not a number") from exc
    if isinstance(value, bool) or not (value is None or isinstance(value, numbers.Real)):
        raise TypeError(f"{name}={value!r} must be a number")
    return value


def with_overrides(params: LinkParams, overrides: dict[str, Any]) -> LinkParams:
    """Return a copy of ``params`` with fields replaced by name.

    A dotted name (``"detector.dark_count_prob"``, ``"source_a.signal_intensity"``) sets one
    field. A bare name sets every field of that name at any depth: for MDI-QKD
    ``"signal_intensity"`` sets both sources and ``"loss_db_per_km"`` both channels. Aliases:
    ``mu``, ``nu``, ``omega`` (the three intensities), ``e_d`` (``misalignment_prob``), ``f``
    (``ec_inefficiency``) and ``detector_efficiency`` (``efficiency``); see :data:`ALIASES`.
    String values are parsed as numbers (``"none"`` clears ``dead_time_s``). All overrides are
    applied together and the result is validated like any new object.

    Parameters
    ----------
    params : BB84DecoyParams or MDIParams
        The link to modify.
    overrides : dict of str to number or str
        Field name (bare, dotted or alias) to new value, in the field's unit.

    Returns
    -------
    BB84DecoyParams or MDIParams
        A new, validated object.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones) or an invalid value.
    TypeError
        If ``params`` is not a parameter object, a name is not a string or a value not a number.

    Examples
    --------
    >>> p = with_overrides(MDIParams.xu2013(), {"mu": "0.4", "ec_inefficiency": 1.1})
    >>> p.source_b.signal_intensity, p.ec_inefficiency
    (0.4, 1.1)
    """
    if not isinstance(params, BB84DecoyParams | MDIParams):
        raise TypeError(f"params={params!r} must be BB84DecoyParams or MDIParams")
    if not isinstance(overrides, dict):
        raise TypeError(f"overrides={overrides!r} must be a dict of name to value")
    leaves = _leaf_paths(params)
    changes: dict[str, Any] = {}
    for raw_name, raw_value in overrides.items():
        if not isinstance(raw_name, str):
            raise TypeError(f"override name {raw_name!r} must be a string")
        parts = raw_name.split(".")
        parts[-1] = ALIASES.get(parts[-1], parts[-1])
        name = ".".join(parts)
        if "." in name:
            targets = [name] if name in leaves else []
        else:
            targets = [path for path in leaves if path.rsplit(".", 1)[-1] == name]
        if not targets:
            bare = sorted({path.rsplit(".", 1)[-1] for path in leaves})
            raise ValueError(
                f"unknown parameter {raw_name!r} for protocol {params.protocol!r}; valid names: "
                f"{', '.join(bare + sorted(ALIASES))} or dotted paths such as {leaves[0]!r}"
            )
        value = _coerce(raw_value, name)
        for target in targets:
            _set_path(changes, target, value)
    return _apply_changes(params, changes)
