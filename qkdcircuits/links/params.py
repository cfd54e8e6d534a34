"""Photon-level link and device parameters as validated, frozen, hashable dataclasses.

The closed forms (:mod:`qkdcircuits.links.decoy`, :mod:`qkdcircuits.links.evaluation`), the Monte
Carlo link simulation (:mod:`qkdcircuits.links.montecarlo`) and the link report
(:mod:`qkdcircuits.links.report`) all read their inputs from these objects, so the defaults live in
one place: the two reference sets
:meth:`BB84DecoyParams.gys` and :meth:`MDIParams.xu2013`.

Every object is frozen and hashable (usable as a cache key), converts to a JSON-ready ``dict``
with ``to_dict()`` and back with ``from_dict()``, and can be modified with
:func:`with_overrides` from flat or dotted names (``"ec_efficiency"``,
``"detector.dark_count_prob"``), which is what the ``abft-qkd keyrate --set`` option uses.

Conventions
-----------
* Intensities are mean photon numbers per pulse of a phase-randomised weak coherent source:
  ``signal_intensity`` (mu), ``decoy_intensity`` (nu) and ``weak_decoy_intensity`` (omega, 0
  for a vacuum decoy), with ``mu > nu > omega >= 0`` required only where a decoy bound needs it.
* The transmittance of a link is ``eta = eta_det * 10**(-(alpha L + extra_loss_db)/10)``: fibre
  loss ``alpha`` in dB/km over ``L`` km, an extra loss term for free-space or fluctuating loss,
  and the detector efficiency ``eta_det`` (which includes the receiver's internal loss).
* ``misalignment_error`` ``e_d`` is the probability that a pulse reaches the measurement in the
  state orthogonal to the one prepared (same basis), as in the closed forms of Ma, Qi, Zhao, Lo
  (PRA 72, 012326 (2005)) and Xu, Curty, Qi, Lo (New J. Phys. 15, 113007 (2013)); see
  :mod:`qkdcircuits.links.montecarlo` for how it maps onto the circuits.

Examples
--------
>>> p = BB84DecoyParams.gys()
>>> round(p.background_yield, 10)
1.7e-06
>>> MDIParams.xu2013().with_length(40.0, relay_fraction=0.25).channel_a.length_km
10.0
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qkdcircuits._validation import (
    check_non_negative,
    check_positive,
    check_probability,
    check_real,
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

_ALIASES = {
    "mu": "signal_intensity",
    "nu": "decoy_intensity",
    "omega": "weak_decoy_intensity",
    "e_d": "misalignment_error",
    "detector_efficiency": "efficiency",
}


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True)
class WeakCoherentSource:
    """Phase-randomised weak coherent pulse source with three intensities.

    Parameters
    ----------
    signal_intensity : float
        Mean photon number ``mu`` of the signal pulses (> 0).
    decoy_intensity : float
        Mean photon number ``nu`` of the decoy pulses (>= 0).
    weak_decoy_intensity : float
        Mean photon number ``omega`` of the weakest decoy (>= 0; 0 is a vacuum decoy).
    signal_prob, decoy_prob, weak_decoy_prob : float
        Probability that a pulse is sent with each intensity; they must sum to 1. Only the Monte
        Carlo simulation uses them (the closed forms are asymptotic, where the decoy fraction
        does not enter the rate per signal pulse).
    repetition_rate_hz : float
        Pulses per second (> 0); converts a key rate per pulse into bits per second.

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
        if not math.isclose(total, 1.0, rel_tol=0.0, abs_tol=1e-9):
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
        """``(mu, nu, omega)``."""
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
        """Channel transmittance ``10**(-loss_db/10)``."""
        return 10.0 ** (-self.loss_db / 10.0)

    def transmittance_at(self, length_km: Any) -> np.ndarray:
        """Transmittance for other fibre lengths (array-like, km), same loss per km and extra."""
        length = np.asarray(length_km, dtype=float)
        if np.any(~np.isfinite(length)) or np.any(length < 0):
            raise ValueError(f"length_km={length_km!r} must be finite and >= 0")
        return 10.0 ** (-(self.loss_db_per_km * length + self.extra_loss_db) / 10.0)


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
        Dead time after a click in seconds; ``None`` ignores dead time. It only reduces the key
        rate per second (see :meth:`live_fraction`).

    Examples
    --------
    >>> Detector(efficiency=0.1, dark_count_prob=1e-6).live_fraction(0.01, 1e9)
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

    def live_fraction(self, click_prob: Any, repetition_rate_hz: float) -> Any:
        """Fraction of pulses that find the detection system live (non-paralysable dead time).

        With a true click rate ``n = click_prob * repetition_rate_hz`` and dead time ``tau``
        the registered rate is ``n / (1 + n tau)`` (non-paralysable model, G. F. Knoll,
        *Radiation Detection and Measurement*, 4th ed., Wiley (2010), ch. 4, dead time),
        so a fraction ``1 / (1 + n tau)`` of the pulses is usable. We treat the whole detection
        system as dead after any click (a conservative choice for a shared time tagger).
        """
        rate = np.asarray(click_prob, dtype=float) * float(repetition_rate_hz)
        tau = 0.0 if self.dead_time_s is None else self.dead_time_s
        fraction = 1.0 / (1.0 + rate * tau)
        return fraction if fraction.ndim else float(fraction)


def _check_type(value: Any, name: str, cls: type) -> None:
    if not isinstance(value, cls):
        raise TypeError(f"{name}={value!r} must be a {cls.__name__}")


def _check_common(obj: Any) -> None:
    _set(obj, "misalignment_error", check_probability(obj.misalignment_error, "misalignment_error"))
    if obj.misalignment_error > 0.5:
        raise ValueError(f"misalignment_error={obj.misalignment_error!r} not in [0, 0.5]")
    _set(obj, "ec_efficiency", check_real(obj.ec_efficiency, "ec_efficiency"))
    if obj.ec_efficiency < 1.0:
        raise ValueError(f"ec_efficiency={obj.ec_efficiency!r} must be >= 1 (Shannon limit)")
    _set(obj, "sifting_factor", check_probability(obj.sifting_factor, "sifting_factor"))
    if obj.sifting_factor == 0.0:
        raise ValueError("sifting_factor=0.0 must be > 0")
    _check_type(obj.detector, "detector", Detector)


@dataclass(frozen=True)
class BB84DecoyParams:
    """Decoy-state BB84 link: source, channel, Bob's detectors, errors, post-processing.

    Parameters
    ----------
    source : WeakCoherentSource
        Alice's source.
    channel : FiberChannel
        Alice-to-Bob channel.
    detector : Detector
        Bob's two threshold detectors (one per outcome of his basis).
    misalignment_error : float
        ``e_d`` in [0, 0.5].
    ec_efficiency : float
        Error-correction inefficiency ``f >= 1`` (leakage ``f H2(E)`` per sifted bit).
    sifting_factor : float
        ``q`` in the GLLP rate (1/2 for standard BB84 with unbiased bases).

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
    misalignment_error: float = 0.033
    ec_efficiency: float = 1.22
    sifting_factor: float = 0.5

    def __post_init__(self) -> None:
        _check_type(self.source, "source", WeakCoherentSource)
        _check_type(self.channel, "channel", FiberChannel)
        _check_common(self)

    @classmethod
    def gys(cls, length_km: float = 0.0) -> BB84DecoyParams:
        """The GYS parameter set used by Ma, Qi, Zhao, Lo, PRA 72, 012326 (2005).

        From the experiment of Gobby, Yuan, Shields, Appl. Phys. Lett. 84, 3762 (2004):
        ``alpha = 0.21`` dB/km, ``eta_Bob = 0.045``, ``Y0 = 1.7e-6``, ``e_d = 0.033``,
        ``f = 1.22``, ``q = 1/2``, signal ``mu = 0.48``. ``Y0`` is the background yield of two
        detectors, ``1 - (1 - p_d)**2``, so ``p_d = 1 - sqrt(1 - Y0)``. The decoy intensities
        (``nu = 0.1``, vacuum) and the repetition rate (100 MHz) are this package's choices.
        These are also the dataclass defaults: ``BB84DecoyParams.gys() == BB84DecoyParams()``.
        """
        return cls().with_length(length_km)

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

    def transmittance_at(self, length_km: Any) -> np.ndarray:
        """``eta`` for an array of channel lengths in km."""
        return self.channel.transmittance_at(length_km) * self.detector.efficiency

    def with_length(self, length_km: float) -> BB84DecoyParams:
        """A copy with the channel length set to ``length_km``."""
        return dataclasses.replace(
            self, channel=dataclasses.replace(self.channel, length_km=length_km)
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested ``dict`` of every field (``from_dict`` inverts it)."""
        return {"protocol": self.protocol, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BB84DecoyParams:
        """Inverse of :meth:`to_dict`."""
        return _from_dict(cls, data)


@dataclass(frozen=True)
class MDIParams:
    """MDI-QKD link: two sources, two channels to the relay (Charlie), Charlie's detectors.

    Charlie may sit anywhere: ``channel_a.length_km`` (``L_A``) and ``channel_b.length_km``
    (``L_B``) are independent.

    Parameters
    ----------
    source_a, source_b : WeakCoherentSource
        Alice's and Bob's sources (intensities may differ, e.g. for an asymmetric relay).
    channel_a, channel_b : FiberChannel
        Alice-to-Charlie and Bob-to-Charlie channels.
    detector : Detector
        Charlie's four threshold detectors (all identical).
    misalignment_error : float
        ``e_d`` in [0, 0.5].
    ec_efficiency : float
        Error-correction inefficiency ``f >= 1``.
    sifting_factor : float
        Fraction of signal pulse pairs kept for the key (1 in the asymptotic, efficient
        protocol of Xu et al. 2013, where almost all pulses are Z-basis signals).

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
    misalignment_error: float = 0.015
    ec_efficiency: float = 1.16
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
    def xu2013(cls, length_km: float = 0.0, relay_fraction: float = 0.5) -> MDIParams:
        """The MDI-QKD parameter set of Xu, Curty, Qi, Lo, New J. Phys. 15, 113007 (2013).

        ``e_d = 0.015``, ``p_d = 3e-6``, ``eta_d = 0.145``, ``f = 1.16``, ``alpha = 0.2``
        dB/km, signal ``mu = 0.5``; Charlie at ``relay_fraction`` of the way from Alice (the
        middle by default). Decoys (``nu = 0.1``, vacuum) and the 100 MHz repetition rate are
        this package's choices. These are also the dataclass defaults.
        """
        return cls().with_length(length_km, relay_fraction=relay_fraction)

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

    def with_length(self, length_km: float, *, relay_fraction: float = 0.5) -> MDIParams:
        """A copy with total length ``length_km`` and Charlie ``relay_fraction`` from Alice."""
        length_km = check_non_negative(length_km, "length_km")
        relay_fraction = check_probability(relay_fraction, "relay_fraction")
        length_a = relay_fraction * length_km
        return self.with_lengths(length_a_km=length_a, length_b_km=length_km - length_a)

    def with_lengths(self, *, length_a_km: float, length_b_km: float) -> MDIParams:
        """A copy with ``L_A = length_a_km`` and ``L_B = length_b_km``."""
        return dataclasses.replace(
            self,
            channel_a=dataclasses.replace(self.channel_a, length_km=length_a_km),
            channel_b=dataclasses.replace(self.channel_b, length_km=length_b_km),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested ``dict`` of every field (``from_dict`` inverts it)."""
        return {"protocol": self.protocol, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MDIParams:
        """Inverse of :meth:`to_dict`."""
        return _from_dict(cls, data)


LinkParams = BB84DecoyParams | MDIParams


def default_params(protocol: str) -> LinkParams:
    """The reference parameter set of ``protocol`` (``"bb84-decoy"``: GYS; ``"mdi"``: Xu 2013)."""
    if protocol == "bb84-decoy":
        return BB84DecoyParams.gys()
    if protocol == "mdi":
        return MDIParams.xu2013()
    raise ValueError(f"protocol={protocol!r} must be one of {', '.join(map(repr, PROTOCOLS))}")


def params_from_dict(data: dict[str, Any]) -> LinkParams:
    """Rebuild a parameter object from ``to_dict()`` output (dispatches on ``"protocol"``)."""
    if not isinstance(data, dict):
        raise TypeError(f"data={data!r} must be a dict")
    protocol = data.get("protocol")
    if protocol == "bb84-decoy":
        return BB84DecoyParams.from_dict(data)
    if protocol == "mdi":
        return MDIParams.from_dict(data)
    raise ValueError(f"data['protocol']={protocol!r} must be one of {PROTOCOLS}")


def _from_dict(cls: type, data: dict[str, Any]) -> Any:
    if not isinstance(data, dict):
        raise TypeError(f"data={data!r} must be a dict")
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
    ``mu``, ``nu``, ``omega`` (the three intensities), ``e_d`` (``misalignment_error``) and
    ``detector_efficiency`` (``efficiency``). String values are parsed as numbers (``"none"``
    clears ``dead_time_s``). All overrides are applied together and the result is validated like
    any new object.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones) or an invalid value.

    Examples
    --------
    >>> p = with_overrides(MDIParams.xu2013(), {"mu": "0.4", "ec_efficiency": 1.1})
    >>> p.source_b.signal_intensity, p.ec_efficiency
    (0.4, 1.1)
    """
    if not isinstance(params, BB84DecoyParams | MDIParams):
        raise TypeError(f"params={params!r} must be BB84DecoyParams or MDIParams")
    leaves = _leaf_paths(params)
    changes: dict[str, Any] = {}
    for raw_name, raw_value in overrides.items():
        if not isinstance(raw_name, str):
            raise TypeError(f"override name {raw_name!r} must be a string")
        parts = raw_name.split(".")
        parts[-1] = _ALIASES.get(parts[-1], parts[-1])
        name = ".".join(parts)
        if "." in name:
            targets = [name] if name in leaves else []
        else:
            targets = [path for path in leaves if path.rsplit(".", 1)[-1] == name]
        if not targets:
            bare = sorted({path.rsplit(".", 1)[-1] for path in leaves})
            raise ValueError(
                f"unknown parameter {raw_name!r} for protocol {params.protocol!r}; valid names: "
                f"{', '.join(bare + sorted(_ALIASES))} or dotted paths such as {leaves[0]!r}"
            )
        value = _coerce(raw_value, name)
        for target in targets:
            *parents, leaf = target.split(".")
            node = changes
            for parent in parents:
                node = node.setdefault(parent, {})
            node[leaf] = value
    return _apply_changes(params, changes)
