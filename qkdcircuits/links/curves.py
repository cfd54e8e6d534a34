"""Key rate against distance, and the maximum distance of a link (no Qiskit)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize as scipy_optimize

from qkdcircuits.links.evaluation import (
    LinkEvaluation,
    check_decoy,
    check_params,
    evaluate_link,
    resolve_lengths,
)
from qkdcircuits.links.optimize import optimise_arrays
from qkdcircuits.links.params import LinkParams

__all__ = ["KeyRateCurve", "key_rate_curve", "max_distance"]


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

    The optimisation is vectorised over all distances (see :func:`golden_max`); a 500-point
    optimised MDI-QKD curve takes a few tens of milliseconds (``benchmarks/bench_keyrate.py``).

    Examples
    --------
    >>> import numpy as np
    >>> from qkdcircuits import BB84DecoyParams
    >>> curve = key_rate_curve(BB84DecoyParams.gys(), np.linspace(0, 150, 4), optimize=True)
    >>> bool(np.all(np.diff(curve.key_rate_per_pulse) <= 0))
    True
    """
    params = check_params(params)
    decoy = check_decoy(params.protocol, decoy)
    lengths = np.asarray(lengths_km, dtype=float)
    if lengths.ndim != 1 or lengths.size == 0:
        raise ValueError(f"lengths_km must be a non-empty 1-D array, got shape {lengths.shape}")
    total, la, lb = resolve_lengths(params, lengths, None, None, relay_fraction)
    signal = optimise_arrays(params, decoy, total, la, lb) if optimize else None
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
    >>> from qkdcircuits import BB84DecoyParams
    >>> round(max_distance(BB84DecoyParams.gys()), 1)
    142.2
    """
    params = check_params(params)
    decoy = check_decoy(params.protocol, decoy)

    def rate(length: float) -> float:
        total, la, lb = resolve_lengths(params, np.array([length]), None, None, relay_fraction)
        signal = optimise_arrays(params, decoy, total, la, lb) if optimize else None
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
