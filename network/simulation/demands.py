"""Key demands between endpoint pairs: which pairs, and when each requests a key.

Each demand pair requests keys of ``key_bits`` bits as a Poisson process of rate ``rate_hz``
(requests per second). Arrivals of all pairs within one time slice are drawn at once: per pair a
Poisson count, then uniform arrival times within the slice (given the count, the arrival times
of a Poisson process are i.i.d. uniform, so this is exact), sorted by time. Requests are then
served in arrival order by the simulator.

Examples
--------
>>> import numpy as np
>>> process = DemandProcess([("a", "b"), ("a", "c")], DemandConfig(rate_hz=5.0), seed=1)
>>> times, pairs = process.arrivals(0, 1_000_000_000)
>>> bool(np.all(np.diff(times) >= 0)), set(pairs.tolist()) <= {0, 1}
(True, True)
"""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from qkdcircuits._validation import SeedLike, as_generator, check_non_negative, check_positive_int

__all__ = ["RELAY_METHODS", "DemandConfig", "DemandProcess", "choose_demand_pairs"]

RELAY_METHODS: tuple[str, str] = ("otp", "multipath")
"""``"otp"``: hop-by-hop one-time-pad relay on one path; ``"multipath"``: Shamir shares over
node-disjoint paths."""


@dataclass(frozen=True)
class DemandConfig:
    """Key demands of the endpoint users.

    Parameters
    ----------
    rate_hz : float or None
        Key requests per second per demand pair (>= 0); ``None`` sets it from ``utilisation``
        when a simulation starts.
    utilisation : float
        With ``rate_hz=None``: the fraction of its nominal key rate that the busiest link
        would spend if every pair sent its requests along its shortest path, in (0, 1]. The
        request rate (the same for every pair) follows from it, so demands load any topology
        alike; links and exclusions then decide who is served.
    key_bits : int
        Bits per requested key (>= 1).
    pairs : int or None
        Number of endpoint pairs that request keys, drawn at random (seeded) among all
        unordered endpoint pairs; ``None`` for every pair.
    relay : {"otp", "multipath"}
        How keys travel between non-adjacent endpoints.
    paths : int
        Multipath only: number of node-disjoint paths (shares) per key (>= 1).
    threshold : int
        Multipath only: shares needed to rebuild a key (1 <= threshold <= paths).
    """

    rate_hz: float | None = None
    utilisation: float = 0.5
    key_bits: int = 256
    pairs: int | None = None
    relay: str = "otp"
    paths: int = 3
    threshold: int = 2

    def __post_init__(self) -> None:
        if self.rate_hz is not None:
            object.__setattr__(self, "rate_hz", check_non_negative(self.rate_hz, "rate_hz"))
        utilisation = check_non_negative(self.utilisation, "utilisation")
        if not 0.0 < utilisation <= 1.0:
            raise ValueError(f"utilisation={utilisation!r} not in (0, 1]")
        object.__setattr__(self, "utilisation", utilisation)
        object.__setattr__(self, "key_bits", check_positive_int(self.key_bits, "key_bits"))
        if self.pairs is not None:
            object.__setattr__(self, "pairs", check_positive_int(self.pairs, "pairs"))
        if self.relay not in RELAY_METHODS:
            raise ValueError(f"relay={self.relay!r} must be one of {RELAY_METHODS}")
        paths = check_positive_int(self.paths, "paths")
        threshold = check_positive_int(self.threshold, "threshold")
        if threshold > paths:
            raise ValueError(f"threshold={threshold} must not exceed paths={paths}")
        object.__setattr__(self, "paths", paths)
        object.__setattr__(self, "threshold", threshold)


def choose_demand_pairs(
    endpoints: Sequence[Hashable], n_pairs: int | None, *, seed: SeedLike = None
) -> list[tuple[Hashable, Hashable]]:
    """Unordered endpoint pairs that request keys: all of them, or a seeded sample.

    Parameters
    ----------
    endpoints : sequence of hashable
        Endpoint node names (at least two).
    n_pairs : int or None
        How many pairs to draw without replacement; ``None`` (or more than exist) for all.
    seed : int, numpy.random.Generator or None
        Randomness of the sample.

    Returns
    -------
    list of (node, node)
        In a deterministic order (the order of ``endpoints``).
    """
    nodes = list(endpoints)
    if len(set(nodes)) != len(nodes):
        raise ValueError("endpoints must be distinct")
    if len(nodes) < 2:
        raise ValueError(f"need at least two endpoints for key demands, got {len(nodes)}")
    total = len(nodes) * (len(nodes) - 1) // 2
    if n_pairs is None or n_pairs >= total:
        return list(itertools.combinations(nodes, 2))
    n_pairs = check_positive_int(n_pairs, "n_pairs")
    chosen = np.sort(as_generator(seed).choice(total, size=n_pairs, replace=False))
    rows, cols = np.triu_indices(len(nodes), k=1)  # the same order as itertools.combinations
    return [(nodes[i], nodes[j]) for i, j in zip(rows[chosen], cols[chosen], strict=True)]


class DemandProcess:
    """Poisson key requests of a fixed list of pairs (see the module docstring).

    Parameters
    ----------
    pairs : sequence of (node, node)
        Demand pairs; request ``k`` refers to ``pairs[k]``.
    config : DemandConfig
        Size of the requests (and their rate, unless ``rate_hz`` is given here).
    seed : int, numpy.random.Generator or None
        Randomness of the arrivals.
    rate_hz : float, optional
        Requests per second per pair, overriding ``config.rate_hz`` (needed when that is
        ``None``).
    """

    def __init__(
        self,
        pairs: Sequence[tuple[Hashable, Hashable]],
        config: DemandConfig,
        *,
        seed: SeedLike = None,
        rate_hz: float | None = None,
    ) -> None:
        if not isinstance(config, DemandConfig):
            raise TypeError(f"config={config!r} must be a DemandConfig")
        rate = config.rate_hz if rate_hz is None else rate_hz
        if rate is None:
            raise ValueError("config.rate_hz is None: give rate_hz (e.g. from a utilisation)")
        self.rate_hz = check_non_negative(rate, "rate_hz")
        self.pairs = [tuple(pair) for pair in pairs]
        for pair in self.pairs:
            if len(pair) != 2 or pair[0] == pair[1]:
                raise ValueError(f"demand pair {pair!r} must join two different nodes")
        self.config = config
        self._rng = as_generator(seed)

    def arrivals(self, start_ns: int, stop_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw the requests arriving in ``[start_ns, stop_ns)``.

        Parameters
        ----------
        start_ns, stop_ns : int
            The window, in ns (``stop_ns >= start_ns``).

        Returns
        -------
        times_ns : numpy.ndarray
            Arrival times (ns, ``int64``), sorted.
        pair_index : numpy.ndarray
            Index into ``pairs`` of each request.

        Raises
        ------
        TypeError
            If ``start_ns`` or ``stop_ns`` is not an integer.
        ValueError
            If ``stop_ns < start_ns``.
        """
        for name, value in (("start_ns", start_ns), ("stop_ns", stop_ns)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name}={value!r} must be an integer (ns)")
        if stop_ns < start_ns:
            raise ValueError(f"stop_ns={stop_ns} is before start_ns={start_ns}")
        length = stop_ns - start_ns
        counts = self._rng.poisson(self.rate_hz * length * 1e-9, len(self.pairs))
        pair_index = np.repeat(np.arange(len(self.pairs)), counts)
        offsets = np.floor(self._rng.random(pair_index.size) * length).astype(np.int64)
        order = np.argsort(offsets, kind="stable")
        return start_ns + offsets[order], pair_index[order]
