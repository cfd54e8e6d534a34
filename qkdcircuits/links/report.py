"""The link report: the one value object the network layer consumes.

A :class:`LinkReport` summarises a QKD link at one distance: gains and QBERs per basis and
intensity (pair), the single-photon estimates (true and decoy-certified), the secret-key rate per
pulse and per second, and its provenance (every input parameter, the seed and the number of
pulses for a Monte Carlo run, and where the qubit statistics came from). It is frozen,
JSON-serialisable (``to_json``/``from_json`` round-trip exactly) and has a stable
:meth:`~LinkReport.cache_key`.

This module never imports qiskit: :func:`link_report` builds reports from the closed forms, and
:func:`qkdcircuits.links.montecarlo.simulate_link` (which does use the circuit engine) returns the
same type.

Examples
--------
>>> report = link_report(protocol="mdi", length_km=50.0)
>>> report.secure, f"{report.key_rate_per_pulse:.3e}", round(report.qber_z, 5)
(True, '5.168e-05', 0.01551)
>>> LinkReport.from_json(report.to_json()) == report
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qkdcircuits.links.evaluation import DECOY_METHODS, LinkEvaluation, evaluate_link
from qkdcircuits.links.optimize import optimize_intensities
from qkdcircuits.links.params import PROTOCOLS, LinkParams, MDIParams, default_params

__all__ = [
    "METHODS",
    "LinkReport",
    "link_report",
    "report_cache_key",
]

METHODS: tuple[str, str] = ("closed-form", "monte-carlo")
"""How a report was produced."""

_ALL_DECOYS = ("infinite", "vacuum-weak", "two-decoy", "three-intensity")


def _json_ready(value: Any, name: str) -> Any:
    """Deep-copy ``value`` into plain JSON types (NaN becomes ``None``; tuples become lists)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise ValueError(f"{name} holds an infinite value")
        return value
    if isinstance(value, np.ndarray):
        return _json_ready(value.tolist(), name)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{name} has a non-string key {key!r}")
            out[key] = _json_ready(item, f"{name}[{key!r}]")
        return out
    if isinstance(value, list | tuple):
        return [_json_ready(item, f"{name}[{k}]") for k, item in enumerate(value)]
    raise TypeError(f"{name}={value!r} is not JSON-serialisable ({type(value).__name__})")


def _optional_float(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} must be a real number or None")
    value = float(value)
    if math.isnan(value):
        return None
    if math.isinf(value):
        raise ValueError(f"{name}={value!r} must be finite")
    return value


def _float(value: Any, name: str) -> float:
    result = _optional_float(value, name)
    if result is None:
        raise ValueError(f"{name}={value!r} must be a finite number")
    return result


def report_cache_key(parameters: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a report's ``parameters``.

    Canonical means sorted keys, no whitespace and floats in their shortest round-trip form, so
    equal parameters give equal keys on every machine and Python version.
    """
    canonical = json.dumps(
        _json_ready(parameters, "parameters"),
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class LinkReport:
    """Summary of one QKD link, ready for the network layer (JSON-serialisable, frozen).

    Attributes
    ----------
    protocol : {"bb84-decoy", "mdi"}
    method : {"closed-form", "monte-carlo"}
    decoy : {"infinite", "vacuum-weak", "two-decoy", "three-intensity"}
    length_km : float
        Alice-to-Bob distance (for MDI-QKD ``length_a_km + length_b_km``).
    intensities : dict of str to float
        ``mu``, ``nu``, ``omega`` (BB84) or ``mu_a``, ``nu_a``, ``omega_a``, ``mu_b``, ... (MDI).
    gains, qbers : dict of str to float
        Per basis and intensity (pair): ``"Z:mu"``, ``"X:nu"`` (BB84) or ``"Z:mu,mu"``,
        ``"X:nu,omega"`` (MDI-QKD, Alice's intensity first). In a Monte Carlo report a QBER is
        ``None`` when nothing was detected and a gain is ``None`` when no such pulse was sent.
    gain_z, gain_x, qber_z, qber_x : float
        The signal-intensity (pair) entries of ``gains``/``qbers``.
    single_photon_yield, single_photon_error : float or None
        True ``Y1``/``e1`` (BB84) or ``Y11``/``e11_X`` (MDI): the closed-form values, or for a
        Monte Carlo run the frequencies among pulses tagged as single-photon (pairs).
    single_photon_yield_lower, single_photon_error_upper : float or None
        What the decoy method certifies from the gains (the true values for ``"infinite"``).
    key_rate_per_pulse : float
        Secret bits per signal pulse (pair), ``>= 0``.
    key_rate_bps : float
        ``key_rate_per_pulse * repetition_rate_hz`` times the detector live fraction.
    repetition_rate_hz : float
    secure : bool
        ``key_rate_per_pulse > 0``.
    parameters : dict
        Every input, JSON-ready (a report can be reproduced from it and it is the cache key).
    source : str
        Where the statistics came from: ``"closed-form"``, or for Monte Carlo the qubit
        distributions' origin (``"aer:exact"``, ``"backend:fake_brisbane"``, ...).
    length_a_km, length_b_km : float or None
        MDI-QKD arm lengths.
    seed, pulses : int or None
        Monte Carlo seed (``None`` if a Generator was passed) and number of pulses (pairs).
    counts : dict of str to [int, int, int] or None
        Monte Carlo ``[pulses, detections, errors]`` per gain key, plus ``"Z:single"`` and
        ``"X:single"`` (pulses emitting exactly one photon, per party for MDI-QKD) and
        ``"any-click"`` (signal pulses that fired any detector; errors column 0).
    """

    protocol: str
    method: str
    decoy: str
    length_km: float
    intensities: dict[str, float]
    gains: dict[str, float]
    qbers: dict[str, float | None]
    gain_z: float
    gain_x: float
    qber_z: float | None
    qber_x: float | None
    single_photon_yield: float | None
    single_photon_error: float | None
    single_photon_yield_lower: float | None
    single_photon_error_upper: float | None
    key_rate_per_pulse: float
    key_rate_bps: float
    repetition_rate_hz: float
    secure: bool
    parameters: dict[str, Any] = field(repr=False)
    source: str = "closed-form"
    length_a_km: float | None = None
    length_b_km: float | None = None
    seed: int | None = None
    pulses: int | None = None
    counts: dict[str, list[int]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        def choose(name: str, choices: tuple[str, ...]) -> None:
            value = getattr(self, name)
            if not isinstance(value, str) or value not in choices:
                raise ValueError(f"{name}={value!r} must be one of {choices}")

        choose("protocol", PROTOCOLS)
        choose("method", METHODS)
        choose("decoy", DECOY_METHODS[self.protocol])
        if not isinstance(self.source, str):
            raise TypeError(f"source={self.source!r} must be a string")
        for name in ("length_km", "gain_z", "gain_x", "repetition_rate_hz"):
            object.__setattr__(self, name, _float(getattr(self, name), name))
        for name in ("key_rate_per_pulse", "key_rate_bps"):
            value = _float(getattr(self, name), name)
            if value < 0:
                raise ValueError(f"{name}={value!r} must be >= 0 (clip negative rates to 0)")
            object.__setattr__(self, name, value)
        for name in (
            "qber_z",
            "qber_x",
            "single_photon_yield",
            "single_photon_error",
            "single_photon_yield_lower",
            "single_photon_error_upper",
            "length_a_km",
            "length_b_km",
        ):
            object.__setattr__(self, name, _optional_float(getattr(self, name), name))
        if self.protocol == "mdi" and (self.length_a_km is None or self.length_b_km is None):
            raise ValueError("an MDI-QKD report needs length_a_km and length_b_km")
        if not isinstance(self.secure, bool | np.bool_):
            raise TypeError(f"secure={self.secure!r} must be a bool")
        object.__setattr__(self, "secure", bool(self.secure))
        if self.secure != (self.key_rate_per_pulse > 0):
            raise ValueError(
                f"secure={self.secure!r} contradicts key_rate_per_pulse={self.key_rate_per_pulse!r}"
            )
        for name in ("seed", "pulses"):
            value = getattr(self, name)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                    raise TypeError(f"{name}={value!r} must be an int or None")
                object.__setattr__(self, name, int(value))
        if self.method == "monte-carlo" and self.pulses is None:
            raise ValueError("a Monte Carlo report needs pulses")
        for name in ("intensities", "gains", "qbers", "parameters", "counts"):
            value = getattr(self, name)
            if value is None and name == "counts":
                continue
            if not isinstance(value, dict):
                raise TypeError(f"{name}={value!r} must be a dict")
            object.__setattr__(self, name, _json_ready(value, name))

    # -- protocol-specific names ------------------------------------------------------------
    def _single(self, protocol: str, name: str) -> float | None:
        if self.protocol != protocol:
            raise AttributeError(f"{name} is defined for protocol {protocol!r} reports only")
        return self.single_photon_yield if name.startswith("y") else self.single_photon_error

    @property
    def y1(self) -> float | None:
        """Single-photon yield ``Y1`` (BB84 reports only)."""
        return self._single("bb84-decoy", "y1")

    @property
    def e1(self) -> float | None:
        """Single-photon error ``e1`` (BB84 reports only)."""
        return self._single("bb84-decoy", "e1")

    @property
    def y11(self) -> float | None:
        """Single-photon-pair yield ``Y11`` (MDI-QKD reports only)."""
        return self._single("mdi", "y11")

    @property
    def e11(self) -> float | None:
        """Single-photon-pair X-basis error ``e11`` (MDI-QKD reports only)."""
        return self._single("mdi", "e11")

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain ``dict`` of every field (JSON types only)."""
        return {
            f.name: _json_ready(getattr(self, f.name), f.name) for f in dataclasses.fields(self)
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkReport:
        """Inverse of :meth:`to_dict` (unknown or missing keys raise ``ValueError``)."""
        if not isinstance(data, dict):
            raise TypeError(f"data={data!r} must be a dict")
        fields = dataclasses.fields(cls)
        unknown = set(data) - {f.name for f in fields}
        if unknown:
            raise ValueError(f"unknown LinkReport fields {sorted(unknown)}")
        missing = [
            f.name
            for f in fields
            if f.name not in data
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise ValueError(f"incomplete LinkReport data: missing {missing}")
        return cls(**data)

    def to_json(self, *, indent: int | None = None) -> str:
        """JSON text (strict: no NaN); ``LinkReport.from_json`` restores an equal report."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> LinkReport:
        """Inverse of :meth:`to_json`."""
        return cls.from_dict(json.loads(text))

    def cache_key(self) -> str:
        """Stable hash of :attr:`parameters` (see :func:`report_cache_key`)."""
        return report_cache_key(self.parameters)

    def __hash__(self) -> int:
        # The generated dataclass hash would hash the dict fields and fail. Equal reports have
        # equal parameters, hence equal cache keys, so this is consistent with ``==``.
        return hash(self.cache_key())


def _scalar(value: Any) -> float:
    return float(np.asarray(value, dtype=float).reshape(-1)[0])


def report_from_evaluation(
    evaluation: LinkEvaluation,
    *,
    method: str,
    parameters: dict[str, Any],
    source: str,
    seed: int | None = None,
    pulses: int | None = None,
    counts: dict[str, list[int]] | None = None,
) -> LinkReport:
    """Build a :class:`LinkReport` from a one-distance
    :class:`~qkdcircuits.links.evaluation.LinkEvaluation`.

    Used by :func:`link_report` and by the Monte Carlo simulation.
    """
    signal = evaluation.signal_key
    gains = {k: _scalar(v) for k, v in evaluation.gains.items()}
    qbers = {k: _scalar(v) for k, v in evaluation.qbers.items()}
    rate = max(_scalar(evaluation.key_rate_raw), 0.0)
    return LinkReport(
        protocol=evaluation.protocol,
        method=method,
        decoy=evaluation.decoy,
        length_km=_scalar(evaluation.length_km),
        length_a_km=None if evaluation.length_a_km is None else _scalar(evaluation.length_a_km),
        length_b_km=None if evaluation.length_b_km is None else _scalar(evaluation.length_b_km),
        intensities={k: _scalar(v) for k, v in evaluation.intensities.items()},
        gains=gains,
        qbers=qbers,
        gain_z=gains[f"Z:{signal}"],
        gain_x=gains[f"X:{signal}"],
        qber_z=qbers[f"Z:{signal}"],
        qber_x=qbers[f"X:{signal}"],
        single_photon_yield=_scalar(evaluation.single_photon_yield),
        single_photon_error=_scalar(evaluation.single_photon_error),
        single_photon_yield_lower=_scalar(evaluation.single_photon_yield_lower),
        single_photon_error_upper=_scalar(evaluation.single_photon_error_upper),
        key_rate_per_pulse=rate,
        key_rate_bps=_scalar(evaluation.key_rate_bps),
        repetition_rate_hz=evaluation.repetition_rate_hz,
        secure=rate > 0,
        parameters=parameters,
        source=source,
        seed=seed,
        pulses=pulses,
        counts=counts,
    )


def resolve_params(
    protocol: str | None,
    params: LinkParams | None,
    length_km: float | None,
    length_a_km: float | None,
    length_b_km: float | None,
    relay_fraction: float,
) -> LinkParams:
    """The parameter object with the requested lengths applied (shared with Monte Carlo)."""
    if params is None:
        if protocol is None:
            raise ValueError("give protocol or params")
        params = default_params(protocol)
    elif protocol is not None and protocol != getattr(params, "protocol", None):
        raise ValueError(f"protocol={protocol!r} does not match params for {params.protocol!r}")
    if isinstance(params, MDIParams):
        if length_a_km is not None or length_b_km is not None:
            if length_km is not None or length_a_km is None or length_b_km is None:
                raise ValueError("give either length_km or both length_a_km and length_b_km")
            return params.with_lengths(length_a_km=length_a_km, length_b_km=length_b_km)
        if length_km is not None:
            return params.with_length(length_km, relay_fraction=relay_fraction)
        return params
    if length_a_km is not None or length_b_km is not None:
        raise ValueError("length_a_km/length_b_km apply to MDI-QKD only")
    return params if length_km is None else params.with_length(length_km)


def link_report(
    *,
    protocol: str | None = None,
    length_km: float | None = None,
    length_a_km: float | None = None,
    length_b_km: float | None = None,
    relay_fraction: float = 0.5,
    decoy: str = "infinite",
    optimize: bool = False,
    params: LinkParams | None = None,
) -> LinkReport:
    """Closed-form link report.

    Parameters
    ----------
    protocol : {"bb84-decoy", "mdi"}, optional
        Needed when ``params`` is not given (the reference set of the protocol is used).
    length_km : float, optional
        Total distance; MDI-QKD places Charlie at ``relay_fraction`` of it from Alice.
    length_a_km, length_b_km : float, optional
        MDI-QKD arm lengths instead of ``length_km``.
    relay_fraction : float
        See above (0.5: Charlie in the middle).
    decoy : str
        ``"infinite"``, ``"vacuum-weak"``, ``"two-decoy"`` (BB84) or ``"three-intensity"`` (MDI).
    optimize : bool
        Replace the signal intensities by the ones that maximise the key rate.
    params : BB84DecoyParams or MDIParams, optional
        Link parameters (default: :func:`~qkdcircuits.links.params.default_params`); hashable, so a
        caller can memoise ``link_report`` on its arguments.

    Returns
    -------
    LinkReport

    Examples
    --------
    >>> r = link_report(protocol="bb84-decoy", length_km=0.0)
    >>> f"{r.key_rate_per_pulse:.4e}", f"{r.gain_z:.4e}", round(r.qber_z, 6)
    ('2.5546e-03', '2.1370e-02', 0.033037)
    """
    resolved = resolve_params(protocol, params, length_km, length_a_km, length_b_km, relay_fraction)
    intensities = None
    if optimize:
        intensities = optimize_intensities(resolved, decoy=decoy).intensities
    evaluation = evaluate_link(resolved, decoy=decoy, intensities=intensities)
    parameters = {
        "protocol": resolved.protocol,
        "method": "closed-form",
        "decoy": decoy,
        "optimize": bool(optimize),
        "params": resolved.to_dict(),
    }
    return report_from_evaluation(
        evaluation, method="closed-form", parameters=parameters, source="closed-form"
    )
