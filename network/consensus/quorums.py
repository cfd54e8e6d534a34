"""Weighted quorums for Byzantine agreement (WHEAT / AWARE).

Replica ``i`` holds a positive voting weight ``w_i``; ``W = sum_i w_i``. The system tolerates any
set of at most ``f`` Byzantine replicas, whose weight is then at most ``F*``, the sum of the ``f``
largest weights. A *quorum* is a set of replicas whose weight reaches ``Q``; two requirements fix
``Q``:

* safety: two quorums intersect in weight ``>= 2Q - W``, which must exceed ``F*`` so that the
  intersection holds a correct replica (``2Q - W > F*``);
* liveness: the correct replicas alone must form a quorum (``W - F* >= Q``).

Such a ``Q`` exists iff ``F* < W / 3`` (add the two inequalities); this module takes the smallest,
``Q = floor((W + F*) / 2) + 1``. With unit weights it is PBFT's ``2f + 1`` of ``n = 3f + 1``.
A *weak certificate* is a set of weight ``> F*``: it holds at least one correct replica (PBFT's
``f + 1``).

Weights are converted exactly to integers (``fractions.Fraction`` of each weight, scaled by the
least common denominator), so every comparison is exact: no float round-off can turn a set that
is one ulp short into a quorum.

References
----------
J. Sousa and A. Bessani, "Separating the WHEAT from the chaff: an empirical design for
geo-replicated state machines", IEEE SRDS 2015, Sec. III (weighted replication, ``F*``, quorum
weight).
C. Berger, H. P. Reiser, J. Sousa and A. Bessani, "AWARE: Adaptive wide-area replication for fast
and resilient Byzantine consensus", IEEE TDSC 19, 1605 (2022), Sec. 3 (weight configurations).
M. Castro and B. Liskov, "Practical Byzantine fault tolerance and proactive recovery", ACM TOCS
20, 398 (2002), Sec. 2.3 (quorum certificates ``2f + 1`` and weak certificates ``f + 1``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from network.errors import QKDNetworkError

__all__ = ["ConsensusError", "QuorumError", "WeightedQuorums"]


class ConsensusError(QKDNetworkError):
    """Base class of the consensus layer's errors."""


class QuorumError(ConsensusError, ValueError):
    """A weight configuration admits no safe quorum (``F* >= W / 3``) or is malformed."""


def _exact(value: object, name: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} must be a positive number")
    if isinstance(value, float) and not math.isfinite(value):
        raise QuorumError(f"{name}={value!r} must be finite")
    exact = Fraction(value)
    if exact <= 0:
        raise QuorumError(f"{name}={value!r} must be > 0")
    return exact


@dataclass(frozen=True)
class WeightedQuorums:
    """Weights of replicas ``0 .. n-1`` with the quorum and weak-certificate thresholds.

    Parameters
    ----------
    weights : sequence of positive numbers
        ``weights[i]`` is the voting weight of replica ``i`` (any positive unit; only ratios
        matter).
    f : int, optional
        Number of Byzantine replicas tolerated; default ``(n - 1) // 3``.
    unsafe_quorum_fraction : float, optional
        For demonstrations only: use ``Q = ceil(fraction * W)`` and skip the ``F* < W / 3`` and
        intersection checks. A schedule checker run with it finds safety violations.

    Attributes
    ----------
    n : int
        Number of replicas.
    int_weights : tuple of int
        The weights scaled exactly to integers.
    total : int
        ``W`` in integer units.
    f_star : int
        ``F*``: the sum of the ``f`` largest integer weights.
    quorum : int
        ``Q``: the smallest weight of a quorum (integer units).

    Raises
    ------
    QuorumError
        If a weight is not positive and finite, ``f`` is out of range, or ``F* >= W / 3``.

    Examples
    --------
    >>> q = WeightedQuorums((1, 1, 1, 1))
    >>> q.f, q.f_star, q.total, q.quorum
    (1, 1, 4, 3)
    >>> q.is_quorum({0, 1, 2}), q.is_quorum({0, 1}), q.is_weak({3, 1})
    (True, False, True)
    >>> WeightedQuorums((2, 1, 1, 1, 1, 1)).quorum  # W = 7, F* = 2 (the heavy replica)
    5
    >>> WeightedQuorums((3, 1, 1, 1))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    network.consensus.quorums.QuorumError: ... F*=3 (the 1 largest) must be < W/3=2 (W=6)
    """

    weights: tuple[float, ...]
    f: int | None = None
    unsafe_quorum_fraction: float | None = None
    int_weights: tuple[int, ...] = field(init=False, repr=False, compare=False)
    total: int = field(init=False, repr=False, compare=False)
    f_star: int = field(init=False, repr=False, compare=False)
    quorum: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.weights, str | bytes) or not isinstance(self.weights, Sequence | tuple):
            raise TypeError(f"weights={self.weights!r} must be a sequence of positive numbers")
        weights = tuple(self.weights)
        if not weights:
            raise QuorumError("weights=() must name at least one replica")
        exact = [_exact(w, f"weights[{i}]") for i, w in enumerate(weights)]
        n = len(weights)
        f = (n - 1) // 3 if self.f is None else self.f
        if isinstance(f, bool) or not isinstance(f, numbers.Integral):
            raise TypeError(f"f={self.f!r} must be an integer")
        f = int(f)
        if not 0 <= f < n:
            raise QuorumError(f"f={f} must be in [0, {n - 1}] for {n} replicas")
        scale = math.lcm(*(w.denominator for w in exact))
        ints = tuple(int(w * scale) for w in exact)
        total = sum(ints)
        f_star = sum(sorted(ints, reverse=True)[:f])
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "f", f)
        object.__setattr__(self, "int_weights", ints)
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "f_star", f_star)
        fraction = self.unsafe_quorum_fraction
        if fraction is not None:
            if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
                raise TypeError(f"unsafe_quorum_fraction={fraction!r} must be a number")
            if not 0 < fraction <= 1:
                raise QuorumError(f"unsafe_quorum_fraction={fraction!r} must be in (0, 1]")
            quorum = max(1, math.ceil(Fraction(fraction) * total))
        else:
            if 3 * f_star >= total:
                shown = _plain(Fraction(f_star, scale))
                third = _plain(Fraction(total, 3 * scale))
                raise QuorumError(
                    f"weights {weights} with f={f}: F*={shown} (the {f} largest) must be "
                    f"< W/3={third} (W={_plain(Fraction(total, scale))})"
                )
            quorum = (total + f_star) // 2 + 1
        object.__setattr__(self, "quorum", quorum)

    @classmethod
    def uniform(cls, n: int, f: int | None = None) -> WeightedQuorums:
        """``n`` replicas of weight 1 (classic PBFT).

        Examples
        --------
        >>> WeightedQuorums.uniform(7).quorum
        5
        """
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
            raise QuorumError(f"n={n!r} must be a positive integer")
        return cls((1,) * int(n), f)

    @property
    def n(self) -> int:
        """Number of replicas."""
        return len(self.int_weights)

    @property
    def unsafe(self) -> bool:
        """Whether the intersection check was switched off."""
        return self.unsafe_quorum_fraction is not None

    @property
    def tolerated_fraction(self) -> float:
        """``F* / W``: the largest share of the weight the protocol stays safe against."""
        return self.f_star / self.total

    def weight(self, replicas: Iterable[int]) -> int:
        """Integer weight of a set of replica ids (each counted once)."""
        ints = self.int_weights
        return sum(ints[i] for i in set(replicas))

    def is_quorum(self, replicas: Iterable[int]) -> bool:
        """Whether ``replicas`` weigh at least ``Q``."""
        return self.weight(replicas) >= self.quorum

    def is_weak(self, replicas: Iterable[int]) -> bool:
        """Whether ``replicas`` weigh more than ``F*`` (so at least one of them is correct)."""
        return self.weight(replicas) > self.f_star

    def check_replica(self, replica: object, name: str = "replica") -> int:
        """Return ``replica`` as an int, or raise if it is not one of ``0 .. n-1``."""
        if isinstance(replica, bool) or not isinstance(replica, numbers.Integral):
            raise TypeError(f"{name}={replica!r} must be an integer replica id")
        if not 0 <= replica < self.n:
            raise ValueError(f"{name}={replica!r} is not a replica id (0 .. {self.n - 1})")
        return int(replica)

    def to_json(self) -> dict:
        """JSON-safe description (weights as given, ``f``, thresholds in integer units)."""
        return {
            "weights": [float(w) if isinstance(w, Fraction) else w for w in self.weights],
            "f": self.f,
            "f_star_fraction": self.tolerated_fraction,
            "quorum_fraction": self.quorum / self.total,
            "unsafe_quorum_fraction": self.unsafe_quorum_fraction,
        }


def _plain(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.6g}"
