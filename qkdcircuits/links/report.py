"""The link report: the one value object the network layer consumes.

A :class:`LinkReport` summarises a QKD link at one distance: gains and QBERs per basis and
intensity (pair), the single-photon estimates (true and decoy-certified), the secret-key rate per
pulse and per second, whether the link is :attr:`~LinkReport.secure` (and why), which rate model
produced it, and its provenance (every input parameter, the seed and the number of pulses of a
Monte Carlo run, where the qubit statistics came from, whether the run can be reproduced).

The contract
------------
* **Immutable.** The report is a frozen dataclass and its nested data are read-only
  (``types.MappingProxyType`` over private copies, lists as tuples), so a report stored in a set
  or on a graph edge never changes; :meth:`~LinkReport.to_dict` returns plain, JSON-ready copies.
* **Validated.** Construction (and therefore :meth:`~LinkReport.from_dict` /
  :meth:`~LinkReport.from_json`) refuses impossible or inconsistent values: probabilities
  outside [0, 1], negative lengths or rates, MDI arm lengths that do not add up, a ``secure``
  flag or verdict that contradicts the rates, counts that contradict the gains, parameters that
  contradict the fields, an unknown schema version.
* **Versioned JSON.** ``to_json``/``from_json`` round-trip exactly; the JSON carries
  ``schema_version`` (:data:`SCHEMA_VERSION`).
* **Cache key.** :meth:`~LinkReport.cache_key` is the SHA-256 of the canonical JSON of
  ``parameters``, computed once at construction; ``hash(report)`` uses it, so hashing costs
  about what ``==`` costs. A report whose run cannot be reproduced from its parameters (a Monte
  Carlo run seeded with a ``Generator`` or with fresh entropy, or run on a backend or sampler
  object) has ``reproducible=False`` and ``cache_key() is None``: it can never be found in a
  cache by its inputs, and never collides with a reproducible report.
* **Batch path.** :func:`link_reports` builds the reports of many links from one vectorised
  evaluation (:func:`qkdcircuits.links.batch.evaluate_links`); :func:`link_report` is the same
  path for one link.

This module never imports qiskit: the Monte Carlo simulation
(:func:`qkdcircuits.links.montecarlo.simulate_link`, which does use the circuit engine) returns
the same type.

Examples
--------
>>> report = link_report(protocol="mdi", length_km=50.0)
>>> report.secure, report.verdict, f"{report.key_rate_per_pulse:.3e}", round(report.qber_z, 5)
(True, 'key', '5.168e-05', 0.01551)
>>> LinkReport.from_json(report.to_json()) == report
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qkdcircuits.links.batch import LinkArray, evaluate_links
from qkdcircuits.links.evaluation import (
    DECOY_METHODS,
    LinkEvaluation,
    check_decoy,
    check_flag,
    check_params,
    resolve_lengths,
)
from qkdcircuits.links.params import (
    INTENSITY_NAMES,
    PROTOCOLS,
    BB84DecoyParams,
    LinkParams,
    MDIParams,
    check_lengths,
    default_params,
    params_from_dict,
)

__all__ = [
    "METHODS",
    "RATE_MODELS",
    "SCHEMA_VERSION",
    "VERDICTS",
    "LinkReport",
    "link_report",
    "link_reports",
    "report_cache_key",
]

METHODS: tuple[str, str] = ("closed-form", "monte-carlo")
"""How a report was produced."""

RATE_MODELS: tuple[str, ...] = ("asymptotic",)
"""Key-rate models a report can come from. ``"asymptotic"``: the GLLP / MDI-QKD rate per signal
pulse in the limit of infinitely many pulses (no finite-size terms). A finite-key model will be
added here when it exists."""

VERDICTS: tuple[str, str, str] = ("key", "no-key", "insufficient-statistics")
"""``"key"``: secure; ``"no-key"``: the rate is 0; ``"insufficient-statistics"``: a Monte Carlo
rate that its counts cannot support (see :attr:`LinkReport.secure`)."""

SCHEMA_VERSION = 2
"""Version of the JSON layout of :class:`LinkReport` (``from_json`` refuses any other)."""

_TOLERANCE = 1e-9  # relative tolerance of the consistency checks (round-off, JSON floats)


# ----------------------------------------------------------------------------------------------
# plain values, frozen values
# ----------------------------------------------------------------------------------------------


def _json_ready(value: Any, name: str) -> Any:
    """Deep-copy ``value`` into plain JSON types (NaN becomes ``None``; tuples become lists)."""
    kind = type(value)
    if kind is float:  # fast paths for the common exact types
        if value != value:
            return None
        if value in (math.inf, -math.inf):
            raise ValueError(f"{name} holds an infinite value")
        return value
    if value is None or kind is str or kind is bool or kind is int:
        return value
    if kind is dict or kind is types.MappingProxyType:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"{name} has a non-string key {key!r}")
            out[key] = _json_ready(item, f"{name}[{key!r}]")
        return out
    if isinstance(value, str):
        return str(value)
    if isinstance(value, np.bool_):
        return bool(value)
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
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{name} has a non-string key {key!r}")
            out[key] = _json_ready(item, f"{name}[{key!r}]")
        return out
    if isinstance(value, list | tuple):
        return [_json_ready(item, f"{name}[{k}]") for k, item in enumerate(value)]
    raise TypeError(f"{name}={value!r} is not JSON-serialisable ({type(value).__name__})")


def _freeze(value: Any) -> Any:
    """Read-only view of plain JSON data: dicts become mapping proxies, lists tuples."""
    if isinstance(value, dict):
        return types.MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def report_cache_key(parameters: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a report's ``parameters``.

    Canonical means sorted keys, no whitespace and floats in their shortest round-trip form, so
    equal parameters give equal keys on every machine and Python version.

    Parameters
    ----------
    parameters : mapping
        A report's ``parameters`` (plain or frozen).

    Returns
    -------
    str
        64 hexadecimal digits.

    Raises
    ------
    TypeError, ValueError
        If ``parameters`` is not JSON-serialisable or holds an infinite value.

    Examples
    --------
    >>> report_cache_key({"b": 1, "a": [0.5]}) == report_cache_key({"a": (0.5,), "b": 1})
    True
    """
    return _digest(_json_ready(parameters, "parameters"))


def _digest(plain: Any) -> str:
    return hashlib.sha256(_canonical(plain).encode("utf-8")).hexdigest()


def _optional_float(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if type(value) is float and math.isfinite(value):
        return value
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
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


def _in_range(value: float | None, name: str, low: float, high: float) -> None:
    if value is not None and not low <= value <= high:
        raise ValueError(f"{name}={value!r} not in [{low:g}, {high:g}]")


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=_TOLERANCE, abs_tol=1e-300)


def _signal_key(protocol: str) -> str:
    return "mu" if protocol == "bb84-decoy" else "mu,mu"


def _expected_keys(protocol: str) -> tuple[set[str], set[str]]:
    """Return expected keys of ``intensities`` and of ``gains``/``qbers``."""
    if protocol == "bb84-decoy":
        pairs = set(INTENSITY_NAMES)
        intensities = set(INTENSITY_NAMES)
    else:
        pairs = {f"{a},{b}" for a in INTENSITY_NAMES for b in INTENSITY_NAMES}
        intensities = {f"{n}_{p}" for p in "ab" for n in INTENSITY_NAMES}
    return intensities, {f"{basis}:{pair}" for basis in "ZX" for pair in pairs}


# ----------------------------------------------------------------------------------------------
# the report
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkReport:
    """Summary of one QKD link, ready for the network layer (JSON-serialisable, immutable).

    Attributes
    ----------
    protocol : {"bb84-decoy", "mdi"}
    method : {"closed-form", "monte-carlo"}
    decoy : {"infinite", "vacuum-weak", "two-decoy", "three-intensity"}
    length_km : float
        Alice-to-Bob distance in km (for MDI-QKD ``length_a_km + length_b_km``).
    intensities : mapping of str to float
        ``mu``, ``nu``, ``omega`` (BB84) or ``mu_a``, ``nu_a``, ``omega_a``, ``mu_b``, ... (MDI),
        photons per pulse.
    gains, qbers : mapping of str to float or None
        Per basis and intensity (pair): ``"Z:mu"``, ``"X:nu"`` (BB84) or ``"Z:mu,mu"``,
        ``"X:nu,omega"`` (MDI-QKD, Alice's intensity first). In a Monte Carlo report a QBER is
        ``None`` when nothing was detected and a gain is ``None`` when no such pulse was sent.
    gain_z, gain_x, qber_z, qber_x : float or None
        The signal-intensity (pair) entries of ``gains``/``qbers``.
    single_photon_yield, single_photon_error : float or None
        True ``Y1``/``e1`` (BB84) or ``Y11``/``e11_X`` (MDI): the closed-form values, or for a
        Monte Carlo run the frequencies among pulses tagged as single-photon (pairs).
    single_photon_yield_lower, single_photon_error_upper : float or None
        What the decoy method certifies from the gains (the true values for ``"infinite"``).
    key_rate_per_pulse : float
        Secret bits per signal pulse (pair) under :attr:`rate_model`, clipped at 0.
    key_rate_bps : float
        ``key_rate_per_pulse * repetition_rate_hz`` times the detector live fraction (bit/s).
    repetition_rate_hz : float
        Pulses per second.
    secure : bool
        Whether the report certifies a positive key rate under :attr:`rate_model`. For a
        closed-form report: ``key_rate_per_pulse > 0``. For a Monte Carlo report, in addition
        the rate must stay positive when every measured statistic (gains, QBERs, single-photon
        yield and error) is replaced by its one-sided Clopper-Pearson bound at
        :attr:`confidence` in the direction that lowers the rate
        (:attr:`key_rate_at_confidence` > 0): a rate computed from a handful of detections is
        not secure. This is a sanity check on the sample size, not a finite-key security proof
        (which will come as another :attr:`rate_model`).
    verdict : {"key", "no-key", "insufficient-statistics"}
        Why ``secure`` is what it is (:data:`VERDICTS`).
    parameters : mapping
        Every input, JSON-ready (a reproducible report can be recomputed from it).
    rate_model : str
        The key-rate model (:data:`RATE_MODELS`): ``"asymptotic"``.
    reproducible : bool
        Whether the run can be reproduced from ``parameters`` (always for closed forms; for
        Monte Carlo, when the seed is an integer and no backend or sampler object was used).
    source : str
        Where the statistics came from: ``"closed-form"``, or for Monte Carlo the qubit
        distributions' origin (``"aer:exact"``, ``"backend:fake_brisbane"``, ...).
    length_a_km, length_b_km : float or None
        MDI-QKD arm lengths in km.
    seed, pulses : int or None
        Monte Carlo seed (``None`` unless an integer was passed) and number of pulses (pairs).
    counts : mapping of str to (int, int, int) or None
        Monte Carlo ``(pulses, detections, errors)`` per gain key, plus ``"Z:single"`` and
        ``"X:single"`` (pulses emitting exactly one photon, per party for MDI-QKD) and
        ``"any-click"`` (signal pulses that fired any detector; errors column 0).
    confidence : float or None
        Monte Carlo: confidence of the statistical check behind ``secure``.
    key_rate_at_confidence : float or None
        Monte Carlo: the rate per pulse (clipped at 0) with the statistics at their
        pessimistic bounds.
    schema_version : int
        :data:`SCHEMA_VERSION`.

    Raises
    ------
    ValueError, TypeError
        On construction, for any impossible or inconsistent value (see the module docstring).

    Examples
    --------
    >>> r = link_report(protocol="bb84-decoy", length_km=200.0)
    >>> r.secure, r.verdict, r.key_rate_bps
    (False, 'no-key', 0.0)
    >>> r.gains["Z:mu"] = 1.0
    Traceback (most recent call last):
    ...
    TypeError: 'mappingproxy' object does not support item assignment
    """

    protocol: str
    method: str
    decoy: str
    length_km: float
    intensities: Mapping[str, float]
    gains: Mapping[str, float | None]
    qbers: Mapping[str, float | None]
    gain_z: float | None
    gain_x: float | None
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
    parameters: Mapping[str, Any] = field(repr=False)
    verdict: str | None = None
    rate_model: str = "asymptotic"
    reproducible: bool = True
    source: str = "closed-form"
    length_a_km: float | None = None
    length_b_km: float | None = None
    seed: int | None = None
    pulses: int | None = None
    counts: Mapping[str, tuple[int, int, int]] | None = field(default=None, repr=False)
    confidence: float | None = None
    key_rate_at_confidence: float | None = None
    schema_version: int = SCHEMA_VERSION
    _cache_key: str | None = field(init=False, repr=False, compare=False)
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        plain = _validate(self)
        key = _digest(plain) if self.reproducible else None
        object.__setattr__(self, "_cache_key", key)
        identity = (
            key
            if key is not None
            else (self.protocol, self.method, self.length_km, self.key_rate_per_pulse, self.seed)
        )
        object.__setattr__(self, "_hash", hash(identity))

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
        """Plain ``dict`` of every field: fresh JSON-ready copies (dicts, lists, numbers).

        Returns
        -------
        dict

        Examples
        --------
        >>> d = link_report(protocol="mdi", length_km=1.0).to_dict()
        >>> type(d["gains"]).__name__, d["schema_version"]
        ('dict', 2)
        """
        return {
            f.name: _json_ready(getattr(self, f.name), f.name)
            for f in dataclasses.fields(self)
            if f.init
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinkReport:
        """Inverse of :meth:`to_dict`, with every check of the constructor.

        Parameters
        ----------
        data : mapping
            A :meth:`to_dict` result.

        Returns
        -------
        LinkReport

        Raises
        ------
        ValueError
            For unknown or missing keys, an unknown ``schema_version`` or any impossible or
            inconsistent value.
        TypeError
            For values of the wrong type.

        Examples
        --------
        >>> r = link_report(protocol="bb84-decoy", length_km=5.0)
        >>> LinkReport.from_dict(r.to_dict()) == r
        True
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"data={data!r} must be a dict")
        fields = [f for f in dataclasses.fields(cls) if f.init]
        unknown = set(data) - {f.name for f in fields}
        if unknown:
            raise ValueError(f"unknown LinkReport fields {sorted(unknown)}")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"schema_version={version!r}: this version reads LinkReport schema "
                f"{SCHEMA_VERSION} only"
            )
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
        """JSON text (strict: no NaN); :meth:`from_json` restores an equal report.

        Parameters
        ----------
        indent : int, optional
            Indentation, as in :func:`json.dumps`.

        Returns
        -------
        str

        Examples
        --------
        >>> '"schema_version": 2' in link_report(protocol="mdi").to_json()
        True
        """
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> LinkReport:
        """Inverse of :meth:`to_json` (validated like :meth:`from_dict`).

        Parameters
        ----------
        text : str
            JSON produced by :meth:`to_json`.

        Returns
        -------
        LinkReport

        Raises
        ------
        ValueError
            For invalid JSON or any value :meth:`from_dict` refuses.

        Examples
        --------
        >>> r = link_report(protocol="mdi", length_km=3.0)
        >>> LinkReport.from_json(r.to_json()) == r
        True
        """
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"text is not LinkReport JSON: {exc}") from exc
        return cls.from_dict(data)

    def cache_key(self) -> str | None:
        """Stable key of the run (see :func:`report_cache_key`), computed at construction.

        Returns
        -------
        str or None
            64 hexadecimal digits, or ``None`` when the report is not :attr:`reproducible`.

        Examples
        --------
        >>> len(link_report(protocol="mdi").cache_key())
        64
        """
        return self._cache_key

    def __hash__(self) -> int:
        # Precomputed: equal reports have equal parameters, hence equal cache keys (or, when
        # irreproducible, equal identifying fields), so this is consistent with ``==``.
        return self._hash

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        # Mapping proxies cannot be pickled: rebuild (and revalidate) from the plain dict.
        return (_report_from_dict, (self.to_dict(),))


def _report_from_dict(data: dict[str, Any]) -> LinkReport:
    return LinkReport.from_dict(data)


def _choose(report: LinkReport, name: str, choices: Sequence[str]) -> None:
    value = getattr(report, name)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}={value!r} must be one of {tuple(choices)}")


def _set(report: LinkReport, name: str, value: Any) -> None:
    object.__setattr__(report, name, value)


def _validate(r: LinkReport) -> dict[str, Any]:
    """Run every check of :class:`LinkReport` (types, ranges, consistency).

    Normalises the fields in place and returns the parameters as plain JSON data.
    """
    if isinstance(r.schema_version, bool) or r.schema_version != SCHEMA_VERSION:
        raise ValueError(f"schema_version={r.schema_version!r} must be {SCHEMA_VERSION}")
    _choose(r, "protocol", PROTOCOLS)
    _choose(r, "method", METHODS)
    _choose(r, "decoy", DECOY_METHODS[r.protocol])
    _choose(r, "rate_model", RATE_MODELS)
    if not isinstance(r.source, str):
        raise TypeError(f"source={r.source!r} must be a string")
    for name in ("secure", "reproducible"):
        value = getattr(r, name)
        if not isinstance(value, bool | np.bool_):
            raise TypeError(f"{name}={value!r} must be a bool")
        _set(r, name, bool(value))
    _validate_numbers(r)
    _validate_mappings(r)
    plain = _validate_provenance(r)
    _validate_verdict(r)
    return plain


def _validate_numbers(r: LinkReport) -> None:
    for name in ("length_km", "key_rate_per_pulse", "key_rate_bps", "repetition_rate_hz"):
        _set(r, name, _float(getattr(r, name), name))
    for name in (
        "gain_z",
        "gain_x",
        "qber_z",
        "qber_x",
        "single_photon_yield",
        "single_photon_error",
        "single_photon_yield_lower",
        "single_photon_error_upper",
        "length_a_km",
        "length_b_km",
        "confidence",
        "key_rate_at_confidence",
    ):
        _set(r, name, _optional_float(getattr(r, name), name))
    for name in ("length_km", "length_a_km", "length_b_km", "key_rate_bps"):
        value = getattr(r, name)
        if value is not None and value < 0:
            raise ValueError(f"{name}={value!r} must be >= 0")
    for name in (
        "gain_z",
        "gain_x",
        "qber_z",
        "qber_x",
        "single_photon_yield",
        "single_photon_error",
        "key_rate_per_pulse",
        "key_rate_at_confidence",
    ):
        _in_range(getattr(r, name), name, 0.0, 1.0)
    if r.single_photon_yield_lower is not None and r.single_photon_yield_lower > 1.0:
        raise ValueError(f"single_photon_yield_lower={r.single_photon_yield_lower!r} must be <= 1")
    if r.single_photon_error_upper is not None and r.single_photon_error_upper < 0.0:
        raise ValueError(f"single_photon_error_upper={r.single_photon_error_upper!r} must be >= 0")
    if r.repetition_rate_hz <= 0:
        raise ValueError(f"repetition_rate_hz={r.repetition_rate_hz!r} must be > 0")
    limit = r.key_rate_per_pulse * r.repetition_rate_hz * (1.0 + _TOLERANCE)
    if r.key_rate_bps > limit or (r.key_rate_bps > 0) != (r.key_rate_per_pulse > 0):
        raise ValueError(
            f"key_rate_bps={r.key_rate_bps!r} is inconsistent with key_rate_per_pulse="
            f"{r.key_rate_per_pulse!r} at repetition_rate_hz={r.repetition_rate_hz!r} "
            "(it is the rate per pulse times the repetition rate times a live fraction in (0, 1])"
        )
    if r.protocol == "mdi":
        if r.length_a_km is None or r.length_b_km is None:
            raise ValueError("an MDI-QKD report needs length_a_km and length_b_km")
        if not math.isclose(
            r.length_a_km + r.length_b_km, r.length_km, rel_tol=_TOLERANCE, abs_tol=1e-9
        ):
            raise ValueError(
                f"length_a_km + length_b_km = {r.length_a_km + r.length_b_km!r} must equal "
                f"length_km={r.length_km!r}"
            )
    elif r.length_a_km is not None or r.length_b_km is not None:
        raise ValueError("length_a_km/length_b_km apply to MDI-QKD reports only")


def _validate_mappings(r: LinkReport) -> None:
    intensity_keys, pair_keys = _expected_keys(r.protocol)
    for name, expected in (
        ("intensities", intensity_keys),
        ("gains", pair_keys),
        ("qbers", pair_keys),
    ):
        value = getattr(r, name)
        if not isinstance(value, Mapping):
            raise TypeError(f"{name}={value!r} must be a dict")
        if set(value) != expected:
            raise ValueError(
                f"{name} keys {sorted(value)} do not match protocol {r.protocol!r}: expected "
                f"{sorted(expected)}"
            )
        plain = {k: _optional_float(v, f"{name}[{k!r}]") for k, v in value.items()}
        for key, item in plain.items():
            if name == "intensities":
                if item is None or item < 0 or (key.startswith("mu") and item == 0):
                    raise ValueError(f"intensities[{key!r}]={item!r} must be >= 0 (mu > 0)")
            else:
                _in_range(item, f"{name}[{key!r}]", 0.0, 1.0)
        _set(r, name, types.MappingProxyType(plain))
    signal = _signal_key(r.protocol)
    for basis in ("z", "x"):
        for kind, table in (("gain", r.gains), ("qber", r.qbers)):
            name = f"{kind}_{basis}"
            if getattr(r, name) != table[f"{basis.upper()}:{signal}"]:
                raise ValueError(
                    f"{name}={getattr(r, name)!r} differs from {kind}s"
                    f"[{basis.upper() + ':' + signal!r}]={table[basis.upper() + ':' + signal]!r}"
                )
    if r.counts is not None:
        if not isinstance(r.counts, Mapping):
            raise TypeError(f"counts={r.counts!r} must be a dict")
        counts = {}
        for key, value in r.counts.items():
            triple = _count_triple(key, value)
            counts[key] = triple
            if key in pair_keys:
                n, d, e = triple
                gain, qber = r.gains[key], r.qbers[key]
                if (gain is None) != (n == 0) or (gain is not None and not _close(gain, d / n)):
                    raise ValueError(f"gains[{key!r}]={gain!r} contradicts counts {triple}")
                if (qber is None) != (d == 0) or (qber is not None and not _close(qber, e / d)):
                    raise ValueError(f"qbers[{key!r}]={qber!r} contradicts counts {triple}")
        missing = pair_keys - set(counts)
        if missing:
            raise ValueError(f"counts lack {sorted(missing)}")
        _set(r, "counts", types.MappingProxyType(counts))


def _count_triple(key: Any, value: Any) -> tuple[int, int, int]:
    if not isinstance(key, str):
        raise TypeError(f"counts has a non-string key {key!r}")
    if not isinstance(value, Sequence) or len(value) != 3:
        raise ValueError(f"counts[{key!r}]={value!r} must be [pulses, detections, errors]")
    if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in value):
        raise TypeError(f"counts[{key!r}]={value!r} must hold integers")
    n, d, e = (int(v) for v in value)
    if not 0 <= e <= d <= n:
        raise ValueError(f"counts[{key!r}]={value!r}: need 0 <= errors <= detections <= pulses")
    return n, d, e


def _validate_provenance(r: LinkReport) -> dict[str, Any]:
    for name, low in (("seed", 0), ("pulses", 1)):
        value = getattr(r, name)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name}={value!r} must be an int or None")
            if value < low:
                raise ValueError(f"{name}={value!r} must be >= {low}")
            _set(r, name, int(value))
    if r.method == "monte-carlo":
        if r.pulses is None or r.counts is None:
            raise ValueError("a Monte Carlo report needs pulses and counts")
    else:
        extra = [n for n in ("seed", "pulses", "counts", "confidence") if getattr(r, n) is not None]
        if extra or r.key_rate_at_confidence is not None:
            raise ValueError(f"a closed-form report has no {extra or ['key_rate_at_confidence']}")
        if not r.reproducible:
            raise ValueError("a closed-form report is always reproducible")
        if r.source != "closed-form":
            raise ValueError(f"source={r.source!r}: a closed-form report has source 'closed-form'")
    if not isinstance(r.parameters, Mapping):
        raise TypeError(f"parameters={r.parameters!r} must be a dict")
    plain = _json_ready(r.parameters, "parameters")
    for name in ("protocol", "method", "decoy", "rate_model"):
        if plain.get(name) != getattr(r, name):
            raise ValueError(
                f"parameters[{name!r}]={plain.get(name)!r} contradicts {name}={getattr(r, name)!r}"
            )
    if r.method == "monte-carlo":
        for name in ("seed", "pulses"):
            if plain.get(name) != getattr(r, name):
                raise ValueError(
                    f"parameters[{name!r}]={plain.get(name)!r} contradicts "
                    f"{name}={getattr(r, name)!r}"
                )
    params = params_from_dict(plain.get("params"))
    _check_against_params(r, params, optimized=bool(plain.get("optimize")))
    _set(r, "parameters", _freeze(plain))
    return plain


def _check_against_params(r: LinkReport, params: LinkParams, *, optimized: bool) -> None:
    pairs = [("length_km", r.length_km, params.length_km)]
    if isinstance(params, MDIParams):
        pairs += [
            ("length_a_km", r.length_a_km, params.length_a_km),
            ("length_b_km", r.length_b_km, params.length_b_km),
            ("repetition_rate_hz", r.repetition_rate_hz, params.source_a.repetition_rate_hz),
        ]
        sources = {"_a": params.source_a, "_b": params.source_b}
    else:
        pairs.append(("repetition_rate_hz", r.repetition_rate_hz, params.source.repetition_rate_hz))
        sources = {"": params.source}
    for suffix, source in sources.items():
        names = INTENSITY_NAMES[1:] if optimized else INTENSITY_NAMES
        for name in names:
            value = source.intensities[INTENSITY_NAMES.index(name)]
            pairs.append((f"intensities[{name + suffix!r}]", r.intensities[name + suffix], value))
    for name, got, want in pairs:
        if got is None or not math.isclose(got, want, rel_tol=_TOLERANCE, abs_tol=1e-12):
            raise ValueError(f"{name}={got!r} contradicts parameters['params'] ({want!r})")


def _validate_verdict(r: LinkReport) -> None:
    if r.method == "monte-carlo":
        if r.confidence is None or r.key_rate_at_confidence is None:
            raise ValueError("a Monte Carlo report needs confidence and key_rate_at_confidence")
        if not 0.0 < r.confidence < 1.0:
            raise ValueError(f"confidence={r.confidence!r} not in (0, 1)")
        if r.key_rate_at_confidence > r.key_rate_per_pulse * (1.0 + _TOLERANCE):
            raise ValueError(
                f"key_rate_at_confidence={r.key_rate_at_confidence!r} exceeds "
                f"key_rate_per_pulse={r.key_rate_per_pulse!r}"
            )
        supported = r.key_rate_at_confidence > 0
    else:
        supported = True
    if r.key_rate_per_pulse == 0:
        verdict = "no-key"
    else:
        verdict = "key" if supported else "insufficient-statistics"
    if r.verdict is not None and r.verdict != verdict:
        raise ValueError(
            f"verdict={r.verdict!r} contradicts the rates (key_rate_per_pulse="
            f"{r.key_rate_per_pulse!r}, key_rate_at_confidence={r.key_rate_at_confidence!r}): "
            f"expected {verdict!r}"
        )
    _set(r, "verdict", verdict)
    if r.secure != (verdict == "key"):
        raise ValueError(
            f"secure={r.secure!r} contradicts key_rate_per_pulse={r.key_rate_per_pulse!r} "
            f"(verdict {verdict!r})"
        )


# ----------------------------------------------------------------------------------------------
# building reports
# ----------------------------------------------------------------------------------------------


def _at(value: Any, index: int | None) -> float:
    array = np.asarray(value, dtype=float)
    return float(array.reshape(-1)[0] if index is None else array[index])


def report_from_evaluation(
    evaluation: LinkEvaluation,
    *,
    method: str,
    parameters: dict[str, Any],
    source: str,
    index: int | None = None,
    reproducible: bool = True,
    seed: int | None = None,
    pulses: int | None = None,
    counts: dict[str, list[int]] | None = None,
    confidence: float | None = None,
    key_rate_at_confidence: float | None = None,
) -> LinkReport:
    """Build a :class:`LinkReport` from entry ``index`` of a link evaluation.

    ``evaluation`` is a :class:`~qkdcircuits.links.evaluation.LinkEvaluation`; ``index=None``
    takes its only entry.

    Used by :func:`link_reports` and by the Monte Carlo simulation.
    """
    signal = evaluation.signal_key
    gains = {k: _at(v, index) for k, v in evaluation.gains.items()}
    qbers = {k: _at(v, index) for k, v in evaluation.qbers.items()}
    rate = max(_at(evaluation.key_rate_unclipped, index), 0.0)
    bps = _at(evaluation.key_rate_bps, index)

    def nan_to_none(value: float) -> float | None:
        return None if math.isnan(value) else value

    secure = rate > 0 and (key_rate_at_confidence is None or key_rate_at_confidence > 0)
    return LinkReport(
        protocol=evaluation.protocol,
        method=method,
        decoy=evaluation.decoy,
        length_km=_at(evaluation.length_km, index),
        length_a_km=None if evaluation.length_a_km is None else _at(evaluation.length_a_km, index),
        length_b_km=None if evaluation.length_b_km is None else _at(evaluation.length_b_km, index),
        intensities={k: _at(v, index) for k, v in evaluation.intensities.items()},
        gains=gains,
        qbers=qbers,
        gain_z=nan_to_none(gains[f"Z:{signal}"]),
        gain_x=nan_to_none(gains[f"X:{signal}"]),
        qber_z=nan_to_none(qbers[f"Z:{signal}"]),
        qber_x=nan_to_none(qbers[f"X:{signal}"]),
        single_photon_yield=_at(evaluation.single_photon_yield, index),
        single_photon_error=_at(evaluation.single_photon_error, index),
        single_photon_yield_lower=_at(evaluation.single_photon_yield_lower, index),
        single_photon_error_upper=_at(evaluation.single_photon_error_upper, index),
        key_rate_per_pulse=rate,
        key_rate_bps=bps,
        repetition_rate_hz=_at(evaluation.repetition_rate_hz, index),
        secure=secure,
        parameters=parameters,
        reproducible=reproducible,
        source=source,
        seed=seed,
        pulses=pulses,
        counts=counts,
        confidence=confidence,
        key_rate_at_confidence=key_rate_at_confidence,
    )


def resolve_params(
    protocol: str | None,
    params: LinkParams | None,
    length_km: float | None,
    length_a_km: float | None,
    length_b_km: float | None,
    relay_fraction: float,
) -> LinkParams:
    """Return the parameter object with the requested lengths applied (shared with Monte Carlo).

    The lengths are resolved by :func:`~qkdcircuits.links.evaluation.resolve_lengths` (the one
    copy of that logic) and must be scalars.
    """
    if params is None:
        if protocol is None:
            raise ValueError("give protocol or params")
        params = default_params(protocol)
    else:
        params = check_params(params)
        if protocol is not None and protocol != params.protocol:
            raise ValueError(f"protocol={protocol!r} does not match params for {params.protocol!r}")
    if length_km is None and length_a_km is None and length_b_km is None:
        return params
    total, la, lb = resolve_lengths(params, length_km, length_a_km, length_b_km, relay_fraction)
    if total.ndim != 0:
        raise ValueError(f"one report takes scalar lengths, got shape {total.shape}")
    if la is None:
        return params.with_length(length_km=float(total))
    assert isinstance(params, MDIParams) and lb is not None
    return params.with_lengths(length_a_km=float(la), length_b_km=float(lb))


def closed_form_parameters(params: LinkParams, decoy: str, optimize: bool) -> dict[str, Any]:
    """Provenance of a closed-form report (its cache key is the hash of this)."""
    return {
        "protocol": params.protocol,
        "method": "closed-form",
        "decoy": decoy,
        "optimize": optimize,
        "rate_model": "asymptotic",
        "params": params.to_dict(),
    }


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
    """Closed-form link report of one link (the one-link case of :func:`link_reports`).

    Parameters
    ----------
    protocol : {"bb84-decoy", "mdi"}, optional
        Needed when ``params`` is not given (the reference set of the protocol is used).
    length_km : float, optional
        Total distance in km; MDI-QKD places Charlie at ``relay_fraction`` of it from Alice.
    length_a_km, length_b_km : float, optional
        MDI-QKD arm lengths in km instead of ``length_km``.
    relay_fraction : float
        See above (0.5: Charlie in the middle).
    decoy : str
        ``"infinite"``, ``"vacuum-weak"``, ``"two-decoy"`` (BB84) or ``"three-intensity"`` (MDI).
    optimize : bool
        Replace the signal intensities by the ones that maximise the key rate.
    params : BB84DecoyParams or MDIParams, optional
        Link parameters (default: :func:`~qkdcircuits.links.params.default_params`).

    Returns
    -------
    LinkReport

    Raises
    ------
    ValueError
        For inconsistent arguments (protocol vs params, lengths) or invalid values.
    TypeError
        If ``params`` is not a parameter object or ``optimize`` not a bool.

    References
    ----------
    See :mod:`qkdcircuits.links.decoy` and :mod:`qkdcircuits.links.rates`.

    Examples
    --------
    >>> r = link_report(protocol="bb84-decoy", length_km=0.0)
    >>> f"{r.key_rate_per_pulse:.4e}", f"{r.gain_z:.4e}", round(r.qber_z, 6)
    ('2.5546e-03', '2.1370e-02', 0.033037)
    """
    resolved = resolve_params(protocol, params, length_km, length_a_km, length_b_km, relay_fraction)
    return link_reports([resolved], decoy=decoy, optimize=optimize)[0]


def _items(params_or_links: Any) -> list[LinkParams]:
    if isinstance(params_or_links, LinkArray):
        return params_or_links.to_params()
    if isinstance(params_or_links, BB84DecoyParams | MDIParams):
        return [params_or_links]
    if isinstance(params_or_links, str) or not isinstance(params_or_links, Sequence):
        raise TypeError(
            f"params_or_links={params_or_links!r} must be a LinkArray, a parameter object or a "
            "sequence of parameter objects"
        )
    return [check_params(p, f"params_or_links[{k}]") for k, p in enumerate(params_or_links)]


def link_reports(
    params_or_links: LinkArray | LinkParams | Sequence[LinkParams],
    *,
    lengths_km: Any = None,
    relay_fraction: float = 0.5,
    decoy: str = "infinite",
    optimize: bool = False,
) -> list[LinkReport]:
    """Closed-form reports of many links from one vectorised evaluation per protocol.

    Equal (to round-off) to calling :func:`link_report` on each link, at the cost of a few
    vectorised kernel calls instead of one optimisation per link.

    Parameters
    ----------
    params_or_links : LinkArray, parameter object or sequence of them
        The links. A sequence may mix BB84 and MDI-QKD links (each protocol is evaluated in
        one call, the order is kept).
    lengths_km : float or array_like, optional
        Total lengths in km replacing the links' own: one per link, or a scalar for all; with a
        single parameter object, one report per length. MDI-QKD lengths are split by
        ``relay_fraction``.
    relay_fraction : float
        Charlie's position as a fraction of ``lengths_km`` from Alice, in [0, 1].
    decoy : str
        Decoy method, valid for every protocol present.
    optimize : bool
        Optimise every link's signal intensities (vectorised over all links).

    Returns
    -------
    list of LinkReport
        In the order of the links.

    Raises
    ------
    ValueError
        For a decoy method some link's protocol does not support, lengths of the wrong size or
        invalid values.
    TypeError
        For anything that is not a link, or ``optimize`` not a bool.

    Examples
    --------
    >>> from qkdcircuits import MDIParams
    >>> reports = link_reports(MDIParams.xu2013(), lengths_km=[0.0, 50.0], optimize=True)
    >>> [f"{r.key_rate_per_pulse:.4e}" for r in reports]
    ['5.7516e-04', '5.2982e-05']
    """
    optimize = check_flag(optimize, "optimize")
    items = _items(params_or_links)
    if lengths_km is not None:
        lengths = check_lengths(lengths_km, "lengths_km")
        if lengths.ndim > 1:
            raise ValueError(f"lengths_km must be a scalar or 1-D, got shape {lengths.shape}")
        if len(items) == 1 and lengths.ndim == 1:
            items = items * lengths.size
        if lengths.ndim == 1 and lengths.size != len(items):
            raise ValueError(f"lengths_km has {lengths.size} values for {len(items)} links")
        lengths = np.broadcast_to(lengths, (len(items),))
        items = [
            resolve_params(None, p, float(length), None, None, relay_fraction)
            for p, length in zip(items, lengths, strict=True)
        ]
    reports: list[LinkReport | None] = [None] * len(items)
    for protocol in PROTOCOLS:
        index = [k for k, p in enumerate(items) if p.protocol == protocol]
        if not index:
            continue
        method = check_decoy(protocol, decoy)
        group = [items[k] for k in index]
        evaluation = evaluate_links(LinkArray.from_params(group), decoy=method, optimize=optimize)
        for j, (k, p) in enumerate(zip(index, group, strict=True)):
            reports[k] = report_from_evaluation(
                evaluation,
                index=j,
                method="closed-form",
                parameters=closed_form_parameters(p, method, optimize),
                source="closed-form",
            )
    return [r for r in reports if r is not None]
