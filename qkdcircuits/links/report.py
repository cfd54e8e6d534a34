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
* **Two rate models.** :attr:`~LinkReport.rate_model` says which: ``"asymptotic"`` (the
  default) or ``"finite-key"`` (``link_report(..., block_size=...)``: the composable key length
  of one block, :mod:`qkdcircuits.links.finite_key_links`). A finite-key report also names the
  analysis and the sampling bound that certified it and carries the block size, the
  epsilons, the settings, the pulses and seconds that fill one block and the key bits per block
  (:data:`FINITE_KEY_FIELDS`, ``None`` in asymptotic reports).

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
>>> finite = link_report(protocol="mdi", length_km=50.0, block_size=1e10)
>>> finite.rate_model, finite.finite_key_analysis, finite.sampling_bound
('finite-key', 'curty2014', 'serfling')
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
from qkdcircuits.links.finite_key import (
    DEFAULT_EPS_COR,
    DEFAULT_EPS_SEC,
    DEFAULT_SAMPLING_BOUND,
    SAMPLING_BOUNDS,
)
from qkdcircuits.links.finite_key_links import (
    ANALYSIS_OF_PROTOCOL,
    FINITE_KEY_DECOY,
    FiniteKeyLinks,
    evaluate_finite_key,
)
from qkdcircuits.links.params import (
    INTENSITY_NAMES,
    PROBABILITY_SUM_TOLERANCE,
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

RATE_MODELS: tuple[str, ...] = ("asymptotic", "finite-key")
"""Key-rate models a report can come from. ``"asymptotic"``: the GLLP / MDI-QKD rate per signal
pulse in the limit of infinitely many pulses (no finite-size terms). ``"finite-key"``: the
composable key length of one block of a given size (Lim et al. 2014 for decoy BB84, the
three-intensity MDI-QKD analysis of :mod:`~qkdcircuits.links.finite_key_mdi`) per pulse sent
(:mod:`~qkdcircuits.links.finite_key_links`)."""

VERDICTS: tuple[str, str, str] = ("key", "no-key", "insufficient-statistics")
"""``"key"``: secure; ``"no-key"``: the rate is 0; ``"insufficient-statistics"``: a Monte Carlo
rate that its counts cannot support (see :attr:`LinkReport.secure`)."""

SCHEMA_VERSION = 3
"""Version of the JSON layout of :class:`LinkReport`.

Version 3 added the finite-key fields. ``from_dict`` / ``from_json`` also read version 2 (the
same layout without them: asymptotic reports only), and refuse any other.
"""

_READABLE_SCHEMAS = (2, SCHEMA_VERSION)

FINITE_KEY_FIELDS: tuple[str, ...] = (
    "finite_key_analysis",
    "sampling_bound",
    "block_size",
    "eps_sec",
    "eps_cor",
    "basis_prob",
    "intensity_probs",
    "pulses_per_block",
    "key_length_per_block",
    "block_time_s",
)
"""Fields that a finite-key report sets and an asymptotic report leaves ``None``."""

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
        In a finite-key report: what the finite-key analysis certifies for one block, the
        yield ``s_1 / (N q^2 tau_1)`` and the single-photon phase-error bound ``phi``.
    key_rate_per_pulse : float
        Secret bits per signal pulse (pair) under :attr:`rate_model`, clipped at 0; in a
        finite-key report, per pulse (pair) of any intensity and basis:
        ``key_length_per_block / pulses_per_block``.
    key_rate_bps : float
        ``key_rate_per_pulse * repetition_rate_hz`` times the detector live fraction (bit/s).
    repetition_rate_hz : float
        Pulses per second.
    secure : bool
        Whether the report certifies a positive key rate under :attr:`rate_model`. For a
        closed-form report: ``key_rate_per_pulse > 0`` (for a finite-key report this means a
        positive certified key length per block). For a Monte Carlo report, in addition
        the rate must stay positive when every measured statistic (gains, QBERs, single-photon
        yield and error) is replaced by its one-sided Clopper-Pearson bound at
        :attr:`confidence` in the direction that lowers the rate
        (:attr:`key_rate_at_confidence` > 0): a rate computed from a handful of detections is
        not secure. This is a sanity check on the sample size, not a finite-key security proof
        (that is the ``"finite-key"`` :attr:`rate_model`).
    verdict : {"key", "no-key", "insufficient-statistics"}
        Why ``secure`` is what it is (:data:`VERDICTS`).
    parameters : mapping
        Every input, JSON-ready (a reproducible report can be recomputed from it).
    rate_model : str
        The key-rate model (:data:`RATE_MODELS`): ``"asymptotic"`` or ``"finite-key"``.
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
    finite_key_analysis : str or None
        Finite-key reports (the fields below are ``None`` in asymptotic ones): the analysis
        (:data:`~qkdcircuits.links.finite_key_links.FINITE_KEY_ANALYSES`: ``"lim2014"`` for
        BB84, ``"curty2014"`` for MDI-QKD).
    sampling_bound : str or None
        The phase-error sampling bound: ``"serfling"`` (valid for any number of errors, the
        default) or ``"lim2014"`` (Lim et al.'s ``gamma``, not a bound with few errors).
    block_size : float or None
        Key-basis detections per block (``n_X`` for BB84, ``n_Z`` for MDI-QKD).
    eps_sec, eps_cor : float or None
        Secrecy and correctness parameters of each block's key.
    basis_prob : float or None
        Probability of the key basis (both parties).
    intensity_probs : mapping of str to float or None
        Probability of each intensity, keyed as :attr:`intensities`.
    pulses_per_block : float or None
        Pulses (pulse pairs) sent to fill one block.
    key_length_per_block : int or None
        Certified secret bits per block.
    block_time_s : float or None
        Seconds to fill one block at :attr:`repetition_rate_hz`, with the detector live
        fraction of the asymptotic evaluation (signal pulses: the most dead time):
        ``key_rate_bps = key_length_per_block / block_time_s``.
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
    finite_key_analysis: str | None = None
    sampling_bound: str | None = None
    block_size: float | None = None
    eps_sec: float | None = None
    eps_cor: float | None = None
    basis_prob: float | None = None
    intensity_probs: Mapping[str, float] | None = field(default=None, repr=False)
    pulses_per_block: float | None = None
    key_length_per_block: int | None = None
    block_time_s: float | None = None
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
        ('dict', 3)
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
            For unknown or missing keys, an unknown ``schema_version`` (version 2 documents are
            read as version 3 reports) or any impossible or inconsistent value.
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
        if isinstance(version, bool) or version not in _READABLE_SCHEMAS:
            raise ValueError(
                f"schema_version={version!r}: this version reads LinkReport schemas "
                f"{', '.join(map(str, _READABLE_SCHEMAS))} only"
            )
        if version != SCHEMA_VERSION:
            later = sorted(set(data) & set(FINITE_KEY_FIELDS))
            if later:
                raise ValueError(f"schema_version={version!r} has no fields {later}")
            data = {**data, "schema_version": SCHEMA_VERSION}
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
        >>> '"schema_version": 3' in link_report(protocol="mdi").to_json()
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
    _validate_finite_key(r, plain)
    _validate_verdict(r)
    return plain


# Optional fields that are probabilities (or per-pulse rates) in [0, 1] when present.
_OPTIONAL_UNIT_FIELDS = (
    "gain_z",
    "gain_x",
    "qber_z",
    "qber_x",
    "single_photon_yield",
    "single_photon_error",
    "key_rate_at_confidence",
)


def _validate_numbers(r: LinkReport) -> None:
    for name in ("length_km", "key_rate_per_pulse", "key_rate_bps", "repetition_rate_hz"):
        _set(r, name, _float(getattr(r, name), name))
    for name in (
        *_OPTIONAL_UNIT_FIELDS,
        "single_photon_yield_lower",
        "single_photon_error_upper",
        "length_a_km",
        "length_b_km",
        "confidence",
    ):
        _set(r, name, _optional_float(getattr(r, name), name))
    for name in ("length_km", "length_a_km", "length_b_km", "key_rate_bps"):
        value = getattr(r, name)
        if value is not None and value < 0:
            raise ValueError(f"{name}={value!r} must be >= 0")
    for name in (*_OPTIONAL_UNIT_FIELDS, "key_rate_per_pulse"):
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
    if not plain.get("optimize"):
        fixed = INTENSITY_NAMES
    elif r.rate_model == "asymptotic":
        fixed = INTENSITY_NAMES[1:]  # the optimiser chose the signal intensities
    else:
        fixed = INTENSITY_NAMES[2:]  # the finite-key optimiser also chose the decoy's
    _check_against_params(r, params, fixed=fixed)
    _set(r, "parameters", _freeze(plain))
    return plain


def _check_against_params(r: LinkReport, params: LinkParams, *, fixed: Sequence[str]) -> None:
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
        for name in fixed:
            value = source.intensities[INTENSITY_NAMES.index(name)]
            pairs.append((f"intensities[{name + suffix!r}]", r.intensities[name + suffix], value))
    for name, got, want in pairs:
        if got is None or not math.isclose(got, want, rel_tol=_TOLERANCE, abs_tol=1e-12):
            raise ValueError(f"{name}={got!r} contradicts parameters['params'] ({want!r})")


def _validate_finite_key(r: LinkReport, plain: dict[str, Any]) -> None:
    """Check the finite-key fields.

    They are all ``None`` in an asymptotic report; in a finite-key report they are valid and
    consistent with the rates and with ``parameters["finite_key"]``.
    """
    if r.rate_model != "finite-key":
        given = [name for name in FINITE_KEY_FIELDS if getattr(r, name) is not None]
        if given:
            raise ValueError(f"an asymptotic report has no {given}")
        return
    if r.method != "closed-form":
        raise ValueError(f"method={r.method!r}: finite-key reports are closed-form")
    expected = {
        "finite_key_analysis": ANALYSIS_OF_PROTOCOL[r.protocol],
        "decoy": FINITE_KEY_DECOY[r.protocol],
    }
    for name, want in expected.items():
        if getattr(r, name) != want:
            raise ValueError(
                f"{name}={getattr(r, name)!r}: a finite-key {r.protocol} report has {want!r}"
            )
    _choose(r, "sampling_bound", SAMPLING_BOUNDS)
    for name in ("block_size", "eps_sec", "eps_cor", "basis_prob", "pulses_per_block"):
        _set(r, name, _float(getattr(r, name), name))
    for name in ("block_size", "pulses_per_block"):
        if getattr(r, name) <= 0:
            raise ValueError(f"{name}={getattr(r, name)!r} must be > 0")
    for name in ("eps_sec", "eps_cor", "basis_prob"):
        if not 0.0 < getattr(r, name) < 1.0:
            raise ValueError(f"{name}={getattr(r, name)!r} not in (0, 1)")
    if r.pulses_per_block < r.block_size * (1.0 - _TOLERANCE):
        raise ValueError(
            f"pulses_per_block={r.pulses_per_block!r} < block_size={r.block_size!r}: every "
            "detection needs a pulse"
        )
    length = r.key_length_per_block
    if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length < 0:
        raise ValueError(f"key_length_per_block={length!r} must be an int >= 0")
    _set(r, "key_length_per_block", int(length))
    time_s = _float(r.block_time_s, "block_time_s")
    if time_s < r.pulses_per_block / r.repetition_rate_hz * (1.0 - _TOLERANCE):
        raise ValueError(
            f"block_time_s={time_s!r} is shorter than pulses_per_block / repetition_rate_hz = "
            f"{r.pulses_per_block / r.repetition_rate_hz!r}"
        )
    _set(r, "block_time_s", time_s)
    for name, got, want in (
        ("key_rate_per_pulse", r.key_rate_per_pulse, length / r.pulses_per_block),
        ("key_rate_bps", r.key_rate_bps, length / time_s),
    ):
        if not _close(got, want):
            raise ValueError(
                f"{name}={got!r} contradicts key_length_per_block={length!r} (expected {want!r})"
            )
    _validate_intensity_probs(r)
    settings = plain.get("finite_key")
    if not isinstance(settings, dict):
        raise ValueError("a finite-key report needs parameters['finite_key']")
    optimized = bool(plain.get("optimize"))
    for name in ("block_size", "eps_sec", "eps_cor", "sampling_bound", "basis_prob"):
        want = None if name == "basis_prob" and optimized else getattr(r, name)
        if settings.get(name) != want:
            raise ValueError(
                f"parameters['finite_key'][{name!r}]={settings.get(name)!r} contradicts "
                f"{name}={want!r}"
            )
    if not optimized:
        params = params_from_dict(plain["params"])
        sources = (
            {"": params.source}
            if isinstance(params, BB84DecoyParams)
            else {"_a": params.source_a, "_b": params.source_b}
        )
        for suffix, source in sources.items():
            for k, name in enumerate(INTENSITY_NAMES):
                got, want = r.intensity_probs[name + suffix], source.probabilities[k]
                if not math.isclose(got, want, rel_tol=_TOLERANCE, abs_tol=1e-12):
                    raise ValueError(
                        f"intensity_probs[{name + suffix!r}]={got!r} contradicts "
                        f"parameters['params'] ({want!r})"
                    )


def _validate_intensity_probs(r: LinkReport) -> None:
    value = r.intensity_probs
    if not isinstance(value, Mapping):
        raise TypeError(f"intensity_probs={value!r} must be a dict")
    expected, _ = _expected_keys(r.protocol)
    if set(value) != expected:
        raise ValueError(
            f"intensity_probs keys {sorted(value)} do not match protocol {r.protocol!r}: "
            f"expected {sorted(expected)}"
        )
    plain = {k: _float(v, f"intensity_probs[{k!r}]") for k, v in value.items()}
    for suffix in ("",) if r.protocol == "bb84-decoy" else ("_a", "_b"):
        probs = [plain[name + suffix] for name in INTENSITY_NAMES]
        total_off = abs(sum(probs) - 1.0) > PROBABILITY_SUM_TOLERANCE
        if total_off or any(not 0.0 < x < 1.0 for x in probs):
            raise ValueError(
                f"intensity_probs{' of party ' + suffix[1] if suffix else ''}={probs!r} must "
                "lie in (0, 1) and sum to 1"
            )
    _set(r, "intensity_probs", types.MappingProxyType(plain))


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
    finite_key: FiniteKeyLinks | None = None,
) -> LinkReport:
    """Build a :class:`LinkReport` from entry ``index`` of a link evaluation.

    ``evaluation`` is a :class:`~qkdcircuits.links.evaluation.LinkEvaluation`; ``index=None``
    takes its only entry. With ``finite_key`` (entry ``index`` of the same links, at the same
    intensities) the report is a finite-key one: rates, certified single-photon estimates and
    the finite-key fields come from it, everything else from ``evaluation``.

    Used by :func:`link_reports` and by the Monte Carlo simulation.
    """
    signal = evaluation.signal_key
    gains = {k: _at(v, index) for k, v in evaluation.gains.items()}
    qbers = {k: _at(v, index) for k, v in evaluation.qbers.items()}
    rate = max(_at(evaluation.key_rate_unclipped, index), 0.0)
    bps = _at(evaluation.key_rate_bps, index)
    yield_lower = _at(evaluation.single_photon_yield_lower, index)
    error_upper = _at(evaluation.single_photon_error_upper, index)
    extra: dict[str, Any] = {}
    if finite_key is not None:
        k = 0 if index is None else index
        length = int(finite_key.key_length[k])
        sent = float(finite_key.pulses[k])
        block_time = sent / (
            _at(evaluation.repetition_rate_hz, index) * _at(evaluation.live_fraction, index)
        )
        rate, bps = length / sent, length / block_time
        yield_lower = float(finite_key.single_photon_yield_lower[k])
        error_upper = float(finite_key.single_photon_error_upper[k])
        extra = {
            "rate_model": "finite-key",
            "finite_key_analysis": finite_key.analysis,
            "sampling_bound": finite_key.sampling_bound,
            "block_size": finite_key.block_size,
            "eps_sec": finite_key.eps_sec,
            "eps_cor": finite_key.eps_cor,
            "basis_prob": float(finite_key.basis_prob[k]),
            "intensity_probs": {n: float(v[k]) for n, v in finite_key.intensity_probs.items()},
            "pulses_per_block": sent,
            "key_length_per_block": length,
            "block_time_s": block_time,
        }

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
        single_photon_yield_lower=yield_lower,
        single_photon_error_upper=error_upper,
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
        **extra,
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


def closed_form_parameters(
    params: LinkParams,
    decoy: str,
    optimize: bool,
    finite_key: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Provenance of a closed-form report (its cache key is the hash of this).

    ``finite_key`` holds the finite-key inputs (``block_size``, ``eps_sec``, ``eps_cor``,
    ``sampling_bound`` and ``basis_prob``, ``None`` when optimised) of a finite-key report.
    """
    out = {
        "protocol": params.protocol,
        "method": "closed-form",
        "decoy": decoy,
        "optimize": optimize,
        "rate_model": "asymptotic" if finite_key is None else "finite-key",
        "params": params.to_dict(),
    }
    if finite_key is not None:
        out["finite_key"] = finite_key
    return out


class FiniteKeyOptions:
    """The finite-key arguments of :func:`link_reports`, checked once (``None``: asymptotic)."""

    def __init__(
        self,
        block_size: Any,
        eps_sec: Any,
        eps_cor: Any,
        sampling_bound: Any,
        basis_prob: Any,
        optimize: bool,
    ) -> None:
        given = {
            "eps_sec": eps_sec,
            "eps_cor": eps_cor,
            "sampling_bound": sampling_bound,
            "basis_prob": basis_prob,
        }
        self.enabled = block_size is not None
        if not self.enabled:
            stray = [name for name, value in given.items() if value is not None]
            if stray:
                raise ValueError(
                    f"{', '.join(stray)} apply to finite-key reports only: give block_size"
                )
            return
        self.block_size = block_size
        self.eps_sec = DEFAULT_EPS_SEC if eps_sec is None else eps_sec
        self.eps_cor = DEFAULT_EPS_COR if eps_cor is None else eps_cor
        self.sampling_bound = DEFAULT_SAMPLING_BOUND if sampling_bound is None else sampling_bound
        self.basis_prob = basis_prob
        self.optimize = optimize

    def evaluate(self, group: list[LinkParams]) -> FiniteKeyLinks:
        return evaluate_finite_key(
            group,
            block_size=self.block_size,
            basis_prob=self.basis_prob,
            optimize=self.optimize,
            eps_sec=self.eps_sec,
            eps_cor=self.eps_cor,
            sampling_bound=self.sampling_bound,
        )


def _decoy_for(protocol: str, decoy: str | None, finite: bool) -> str:
    if not finite:
        return check_decoy(protocol, "infinite" if decoy is None else decoy)
    method = FINITE_KEY_DECOY[protocol]
    if decoy is not None and decoy != method:
        raise ValueError(
            f"decoy={decoy!r}: the finite-key analysis of {protocol} uses the three intensities "
            f"of decoy={method!r} (leave decoy out or pass that)"
        )
    return method


def link_report(
    *,
    protocol: str | None = None,
    length_km: float | None = None,
    length_a_km: float | None = None,
    length_b_km: float | None = None,
    relay_fraction: float = 0.5,
    decoy: str | None = None,
    optimize: bool = False,
    params: LinkParams | None = None,
    block_size: float | None = None,
    eps_sec: float | None = None,
    eps_cor: float | None = None,
    sampling_bound: str | None = None,
    basis_prob: float | None = None,
) -> LinkReport:
    """Closed-form link report of one link (the one-link case of :func:`link_reports`).

    Asymptotic by default; with ``block_size`` a finite-key report (``rate_model=
    "finite-key"``): the composable key length of one block of ``block_size`` key-basis
    detections (:func:`~qkdcircuits.links.finite_key_links.evaluate_finite_key`), per pulse
    sent and per second, the time to fill the block, and the analysis that certified it.

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
    decoy : str, optional
        ``"infinite"`` (the asymptotic default), ``"vacuum-weak"``, ``"two-decoy"`` (BB84) or
        ``"three-intensity"`` (MDI). A finite-key report always uses the three intensities
        ``(mu, nu, omega)``: ``"two-decoy"`` for BB84, ``"three-intensity"`` for MDI-QKD.
    optimize : bool
        Asymptotic: replace the signal intensities by the ones that maximise the key rate.
        Finite-key: maximise the key per pulse over the basis probability, the two upper
        intensities and the intensity probabilities (the weakest intensity is kept).
    params : BB84DecoyParams or MDIParams, optional
        Link parameters (default: :func:`~qkdcircuits.links.params.default_params`).
    block_size : float, optional
        Key-basis detections per block (``n_X`` for BB84, ``n_Z`` for MDI-QKD): makes the
        report finite-key.
    eps_sec, eps_cor : float, optional
        Secrecy and correctness of each block's key (default
        :data:`~qkdcircuits.links.finite_key.DEFAULT_EPS_SEC` = 1e-10 and
        :data:`~qkdcircuits.links.finite_key.DEFAULT_EPS_COR` = 1e-15); finite-key only.
    sampling_bound : {"serfling", "lim2014"}, optional
        Phase-error sampling bound (finite-key only). The default, Serfling's, holds for any
        number of errors; Lim et al.'s ``gamma`` (``"lim2014"``) is not a bound when few
        errors are observed and serves to reproduce the paper.
    basis_prob : float, optional
        Key-basis probability of a finite-key report without ``optimize`` (default 0.5).

    Returns
    -------
    LinkReport

    Raises
    ------
    ValueError
        For inconsistent arguments (protocol vs params, lengths, finite-key options without
        ``block_size``, a decoy method the finite-key analysis does not use) or invalid values.
    TypeError
        If ``params`` is not a parameter object or ``optimize`` not a bool.

    References
    ----------
    See :mod:`qkdcircuits.links.decoy` and :mod:`qkdcircuits.links.rates` (asymptotic),
    :mod:`qkdcircuits.links.finite_key_bb84` and :mod:`qkdcircuits.links.finite_key_mdi`
    (finite key).

    Examples
    --------
    >>> r = link_report(protocol="bb84-decoy", length_km=0.0)
    >>> f"{r.key_rate_per_pulse:.4e}", f"{r.gain_z:.4e}", round(r.qber_z, 6)
    ('2.5546e-03', '2.1370e-02', 0.033037)
    >>> fk = link_report(protocol="mdi", length_km=50.0, block_size=1e9, optimize=True)
    >>> fk.rate_model, fk.sampling_bound, fk.secure, f"{fk.key_rate_per_pulse:.3e}"
    ('finite-key', 'serfling', True, '4.908e-06')
    >>> fk.key_length_per_block, round(fk.block_time_s / 3600, 1), round(fk.basis_prob, 2)
    (150259292, 85.0, 0.74)
    """
    resolved = resolve_params(protocol, params, length_km, length_a_km, length_b_km, relay_fraction)
    return link_reports(
        [resolved],
        decoy=decoy,
        optimize=optimize,
        block_size=block_size,
        eps_sec=eps_sec,
        eps_cor=eps_cor,
        sampling_bound=sampling_bound,
        basis_prob=basis_prob,
    )[0]


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
    decoy: str | None = None,
    optimize: bool = False,
    block_size: float | None = None,
    eps_sec: float | None = None,
    eps_cor: float | None = None,
    sampling_bound: str | None = None,
    basis_prob: float | None = None,
) -> list[LinkReport]:
    """Closed-form reports of many links from one vectorised evaluation per protocol.

    Equal (to round-off) to calling :func:`link_report` on each link, at the cost of a few
    vectorised kernel calls instead of one optimisation per link. With ``block_size`` the
    reports are finite-key (see :func:`link_report`); optimised finite-key reports take one
    vectorised search per protocol and weakest intensity.

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
    decoy : str, optional
        Decoy method, valid for every protocol present (default ``"infinite"``, or the
        three-intensity method of each protocol for finite-key reports).
    optimize : bool
        Optimise every link's settings (vectorised over all links); see :func:`link_report`.
    block_size, eps_sec, eps_cor, sampling_bound, basis_prob : optional
        Finite-key reports, as in :func:`link_report`.

    Returns
    -------
    list of LinkReport
        In the order of the links.

    Raises
    ------
    ValueError
        For a decoy method some link's protocol does not support, lengths of the wrong size,
        finite-key options without ``block_size`` or invalid values.
    TypeError
        For anything that is not a link, or ``optimize`` not a bool.

    Examples
    --------
    >>> from qkdcircuits import MDIParams
    >>> reports = link_reports(MDIParams.xu2013(), lengths_km=[0.0, 50.0], optimize=True)
    >>> [f"{r.key_rate_per_pulse:.4e}" for r in reports]
    ['5.7516e-04', '5.2982e-05']
    >>> finite = link_reports(MDIParams.xu2013(), lengths_km=[0.0, 50.0], block_size=1e10)
    >>> [f"{r.key_rate_per_pulse:.4e}" for r in finite]
    ['1.5695e-05', '9.4487e-07']
    """
    optimize = check_flag(optimize, "optimize")
    finite = FiniteKeyOptions(block_size, eps_sec, eps_cor, sampling_bound, basis_prob, optimize)
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
        method = _decoy_for(protocol, decoy, finite.enabled)
        group = [items[k] for k in index]
        if finite.enabled:
            reports_of = _finite_reports(group, method, finite)
        else:
            evaluation = evaluate_links(
                LinkArray.from_params(group), decoy=method, optimize=optimize
            )
            reports_of = [
                report_from_evaluation(
                    evaluation,
                    index=j,
                    method="closed-form",
                    parameters=closed_form_parameters(p, method, optimize),
                    source="closed-form",
                )
                for j, p in enumerate(group)
            ]
        for k, report in zip(index, reports_of, strict=True):
            reports[k] = report
    return [r for r in reports if r is not None]


def _finite_reports(group: list[LinkParams], decoy: str, finite: FiniteKeyOptions) -> list:
    """Finite-key reports of links of one protocol (statistics at the key's intensities)."""
    key = finite.evaluate(group)
    # gains, QBERs and true single-photon values at the intensities the key used
    evaluation = evaluate_links(LinkArray.from_params(key.params), decoy=decoy)
    settings = {
        "block_size": key.block_size,
        "eps_sec": key.eps_sec,
        "eps_cor": key.eps_cor,
        "sampling_bound": key.sampling_bound,
        "basis_prob": None if finite.optimize else float(key.basis_prob[0]),
    }
    return [
        report_from_evaluation(
            evaluation,
            index=j,
            method="closed-form",
            # the links as given: with optimize the report's intensities are the optimum's
            parameters=closed_form_parameters(p, decoy, finite.optimize, settings),
            source="closed-form",
            finite_key=key,
        )
        for j, p in enumerate(group)
    ]
