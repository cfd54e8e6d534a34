"""Key rate against distance, and the maximum distance of a link (no Qiskit)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qkdcircuits.links.evaluation import (
    SIGNAL_NAMES,
    LinkEvaluation,
    check_decoy,
    check_flag,
    check_params,
    evaluate_columns,
    resolve_lengths,
)
from qkdcircuits.links.optimize import optimal_signal
from qkdcircuits.links.params import LinkParams, params_to_columns

__all__ = ["KeyRateCurve", "key_rate_curve", "max_distance"]

_MAX_SEARCH_KM = 1e5
_SECTIONS = 16


@dataclass(frozen=True, eq=False)
class KeyRateCurve:
    """Key rate against distance.

    Attributes
    ----------
    protocol, decoy : str
        As passed.
    optimized : bool
        Whether the signal intensities were optimised at every distance.
    length_km : numpy.ndarray
        Total distances in km.
    key_rate_per_pulse : numpy.ndarray
        ``max(R, 0)`` per signal pulse.
    key_rate_bps : numpy.ndarray
        Bits per second (repetition rate and dead time applied).
    intensities : dict of str to numpy.ndarray
        Signal intensities (photons per pulse) used at each distance.
    evaluation : LinkEvaluation
        Everything else (gains, QBERs, single-photon estimates), per distance.

    Examples
    --------
    >>> from qkdcircuits import BB84DecoyParams
    >>> curve = key_rate_curve(BB84DecoyParams.gys(), lengths_km=[0.0, 50.0])
    >>> curve.to_dict()["length_km"]
    [0.0, 50.0]
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
        """JSON-ready columns.

        Returns
        -------
        dict
            ``protocol``, ``decoy``, ``optimized``, ``length_km``, ``key_rate_per_pulse``,
            ``key_rate_bps`` and ``intensities`` as plain lists.

        Examples
        --------
        >>> from qkdcircuits import MDIParams
        >>> key_rate_curve(MDIParams.xu2013(), lengths_km=[0.0]).to_dict()["intensities"]
        {'mu_a': [0.5], 'mu_b': [0.5]}
        """
        return {
            "protocol": self.protocol,
            "decoy": self.decoy,
            "optimized": self.optimized,
            "length_km": self.length_km.tolist(),
            "key_rate_per_pulse": self.key_rate_per_pulse.tolist(),
            "key_rate_bps": self.key_rate_bps.tolist(),
            "intensities": {k: np.asarray(v).tolist() for k, v in self.intensities.items()},
        }


def _columns_at(params: LinkParams, lengths: np.ndarray, relay_fraction: Any) -> dict[str, Any]:
    """Columns of ``params`` at every total length (MDI: split by ``relay_fraction``)."""
    total, la, lb = resolve_lengths(params, lengths, None, None, relay_fraction)
    columns: dict[str, Any] = {
        k: np.full(total.shape, v) for k, v in params_to_columns(params).items()
    }
    if la is None:
        columns["length_km"] = total
    else:
        columns["length_a_km"], columns["length_b_km"] = la, lb
    return columns


def _evaluate(
    params: LinkParams, lengths: np.ndarray, decoy: str, optimize: bool, relay_fraction: Any
) -> LinkEvaluation:
    columns = _columns_at(params, lengths, relay_fraction)
    if optimize:
        signal, _ = optimal_signal(params.protocol, columns, decoy)
        columns.update(signal)
    return evaluate_columns(params.protocol, columns, decoy)


def key_rate_curve(
    params: LinkParams,
    *,
    lengths_km: Any,
    decoy: str = "infinite",
    optimize: bool = False,
    relay_fraction: float = 0.5,
) -> KeyRateCurve:
    """Key rate over an array of total distances, optionally with optimised signal intensities.

    The optimisation is vectorised over all distances (:mod:`qkdcircuits.links.optimize`);
    a 500-point optimised MDI-QKD curve takes a fraction of a second
    (``benchmarks/bench_keyrate.py``).

    Parameters
    ----------
    params : BB84DecoyParams or MDIParams
        The link.
    lengths_km : array_like
        Total Alice-to-Bob distances in km (one-dimensional, non-empty).
    decoy : str
        Decoy method.
    optimize : bool
        Optimise the signal intensities at every distance.
    relay_fraction : float
        MDI-QKD: Charlie's position as a fraction of the distance from Alice, in [0, 1].

    Returns
    -------
    KeyRateCurve

    Raises
    ------
    ValueError
        For an empty or multi-dimensional ``lengths_km``, a negative length, an unsupported
        decoy method or a relay fraction outside [0, 1].
    TypeError
        If ``params`` is not a parameter object or ``optimize`` not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> from qkdcircuits import BB84DecoyParams
    >>> curve = key_rate_curve(BB84DecoyParams.gys(), lengths_km=np.linspace(0, 150, 4),
    ...                        optimize=True)
    >>> bool(np.all(np.diff(curve.key_rate_per_pulse) <= 0))
    True
    """
    params = check_params(params)
    decoy = check_decoy(params.protocol, decoy)
    optimize = check_flag(optimize, "optimize")
    lengths = np.asarray(lengths_km, dtype=float)
    if lengths.ndim != 1 or lengths.size == 0:
        raise ValueError(f"lengths_km must be a non-empty 1-D array, got shape {lengths.shape}")
    evaluation = _evaluate(params, lengths, decoy, optimize, relay_fraction)
    total = np.asarray(evaluation.length_km)
    intensities = {
        name: np.array(evaluation.intensities[name]) for name in SIGNAL_NAMES[params.protocol]
    }
    return KeyRateCurve(
        protocol=params.protocol,
        decoy=decoy,
        optimized=optimize,
        length_km=np.array(total),
        key_rate_per_pulse=np.array(evaluation.key_rate_per_pulse),
        key_rate_bps=np.array(evaluation.key_rate_bps),
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
    """Largest total distance (km) with a positive key rate.

    The rate (maximised over the signal intensities with ``optimize=True``) decreases with
    distance. It is evaluated at 50 km x 2^k until it is no longer positive, then the bracket
    is cut into 16 sections per round (one vectorised evaluation of 17 distances, optimiser
    included) until it is narrower than ``xtol_km``; the midpoint is returned.

    Parameters
    ----------
    params : BB84DecoyParams or MDIParams
        The link (its own length is ignored).
    decoy : str
        Decoy method.
    optimize : bool
        Maximise the rate over the signal intensities at each trial distance.
    relay_fraction : float
        MDI-QKD: Charlie's position as a fraction of the distance from Alice.
    xtol_km : float
        Width of the final bracket in km (> 0).

    Returns
    -------
    float
        ``0.0`` if no key is possible even at 0 km, ``inf`` if the rate is still positive at
        1e5 km (a lossless channel without dark counts).

    Raises
    ------
    ValueError
        For ``xtol_km <= 0``, an unsupported decoy method or a bad relay fraction.
    TypeError
        If ``params`` is not a parameter object or ``optimize`` not a bool.

    Examples
    --------
    >>> from qkdcircuits import BB84DecoyParams
    >>> round(max_distance(BB84DecoyParams.gys()), 1)
    142.2
    """
    params = check_params(params)
    decoy = check_decoy(params.protocol, decoy)
    optimize = check_flag(optimize, "optimize")
    if isinstance(xtol_km, bool) or not isinstance(xtol_km, int | float) or not xtol_km > 0:
        raise ValueError(f"xtol_km={xtol_km!r} must be a positive number of km")
    if not math.isfinite(xtol_km):
        raise ValueError(f"xtol_km={xtol_km!r} must be finite")

    def positive(lengths: np.ndarray) -> np.ndarray:
        ev = _evaluate(params, lengths, decoy, optimize, relay_fraction)
        return np.asarray(ev.key_rate_unclipped) > 0.0

    probes = np.concatenate([[0.0], 50.0 * 2.0 ** np.arange(12)])  # 0, 50, ..., 102400 km
    probes = probes[probes <= 2 * _MAX_SEARCH_KM]
    ok = positive(probes)
    if not ok[0]:
        return 0.0
    if np.all(ok):
        return math.inf
    first_bad = int(np.argmin(ok))
    low, high = float(probes[first_bad - 1]), float(probes[first_bad])
    while high - low > xtol_km:
        grid = np.linspace(low, high, _SECTIONS + 1)
        bad = ~positive(grid[1:-1])
        # The first non-positive interior point (or ``high``) closes the new bracket.
        k = int(np.argmax(bad)) if np.any(bad) else _SECTIONS - 1
        low, high = float(grid[k]), float(grid[k + 1])
    return 0.5 * (low + high)
