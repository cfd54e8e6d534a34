"""PBFT settings, and the reconfiguration operation that changes replica weights.

Times are integer nanoseconds of simulated time (:func:`network.simulation.events.seconds`).

Examples
--------
>>> config = PBFTConfig(WeightedQuorums.uniform(4))
>>> config.n, config.primary(0), config.primary(5), config.watermark_window
(4, 0, 1, 32)
>>> PBFTConfig(WeightedQuorums.uniform(4), view_change_timeout_ns=-1)
Traceback (most recent call last):
...
ValueError: view_change_timeout_ns=-1 must be a positive integer (nanoseconds)
"""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass

from network.consensus.quorums import QuorumError, WeightedQuorums
from network.simulation.events import seconds

__all__ = [
    "RECONFIGURE_PREFIX",
    "PBFTConfig",
    "parse_reconfiguration",
    "reconfiguration",
]

RECONFIGURE_PREFIX = b"\x00pbft-reconfigure "
"""Operations starting with these bytes change replica weights instead of reaching the ledger."""


def _positive(value: object, name: str, unit: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{name}={value!r} must be a positive integer{unit}")
    return int(value)


@dataclass(frozen=True)
class PBFTConfig:
    """Settings shared by all replicas and clients of one PBFT group.

    Parameters
    ----------
    quorums : WeightedQuorums
        Initial replica weights; replica ids are ``0 .. n-1``.
    checkpoint_interval : int
        ``K``: a checkpoint every ``K`` sequence numbers (TOCS 2002, Sec. 2.3.4).
    watermark_window : int, optional
        ``L``: sequence numbers ``h < n <= h + L`` are accepted, ``h`` the last stable
        checkpoint; a multiple of ``K``, default ``2 K``.
    max_batch : int
        Most requests per pre-prepare (batching, TOCS 2002, Sec. 5.1.4).
    max_in_flight : int
        Most sequence numbers the primary has assigned beyond the last executed one; further
        requests wait and go out together in the next batch.
    view_change_timeout_ns : int
        Initial view-change timeout; it doubles after each view that fails to make progress
        (TOCS 2002, Sec. 2.3.5) up to ``max_view_change_timeout_ns``.
    max_view_change_timeout_ns : int, optional
        Cap of the doubling; default 64 times the initial timeout.
    retransmit_ns : int
        Period of retransmissions (STATUS, VIEW-CHANGE) while a replica has work pending.
    leader_order : tuple of int, optional
        Primary of view ``v`` is ``leader_order[v mod n]``; default ``0, 1, ..., n-1``.

    Raises
    ------
    ValueError
        For non-positive sizes or timeouts, ``L`` not a multiple of ``K``, or a leader order that
        is not a permutation of the replica ids.
    """

    quorums: WeightedQuorums
    checkpoint_interval: int = 16
    watermark_window: int | None = None
    max_batch: int = 64
    max_in_flight: int = 4
    view_change_timeout_ns: int = seconds(0.2)
    max_view_change_timeout_ns: int | None = None
    retransmit_ns: int = seconds(0.1)
    leader_order: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.quorums, WeightedQuorums):
            raise TypeError(f"quorums={self.quorums!r} must be a WeightedQuorums")
        k = _positive(self.checkpoint_interval, "checkpoint_interval")
        window = 2 * k if self.watermark_window is None else self.watermark_window
        window = _positive(window, "watermark_window")
        if window % k:
            raise ValueError(
                f"watermark_window={window} must be a multiple of checkpoint_interval={k}"
            )
        object.__setattr__(self, "watermark_window", window)
        _positive(self.max_batch, "max_batch")
        _positive(self.max_in_flight, "max_in_flight")
        base = _positive(self.view_change_timeout_ns, "view_change_timeout_ns", " (nanoseconds)")
        cap = (
            64 * base
            if self.max_view_change_timeout_ns is None
            else self.max_view_change_timeout_ns
        )
        cap = _positive(cap, "max_view_change_timeout_ns", " (nanoseconds)")
        if cap < base:
            raise ValueError(
                f"max_view_change_timeout_ns={cap} must be >= view_change_timeout_ns={base}"
            )
        object.__setattr__(self, "max_view_change_timeout_ns", cap)
        _positive(self.retransmit_ns, "retransmit_ns", " (nanoseconds)")
        n = self.quorums.n
        if self.leader_order is None:
            order = tuple(range(n))
        else:
            order = tuple(
                self.quorums.check_replica(r, "leader_order entry") for r in self.leader_order
            )
            if sorted(order) != list(range(n)):
                raise ValueError(
                    f"leader_order={self.leader_order!r} must be a permutation of 0 .. {n - 1}"
                )
        object.__setattr__(self, "leader_order", order)

    @property
    def n(self) -> int:
        """Number of replicas."""
        return self.quorums.n

    def primary(self, view: int) -> int:
        """Return the primary of ``view``."""
        return self.leader_order[view % len(self.leader_order)]


def reconfiguration(weights: tuple[float, ...] | list[float], f: int | None = None) -> bytes:
    """Encode the operation that gives the replicas new weights (an ordered request like others).

    Executed at sequence number ``s``, it takes effect for sequence numbers above ``c + L``,
    ``c`` the first checkpoint at or after ``s``: every replica then knows the weights of every
    sequence number in its watermark window, and all correct replicas switch at the same number.
    Weights breaking ``F* < W/3`` are refused (the result names the error; nothing changes).

    Examples
    --------
    >>> parse_reconfiguration(reconfiguration([2, 1, 1, 1, 1, 1])).quorum
    5
    """
    values = [w if isinstance(w, int) else float(w) for w in weights]
    return RECONFIGURE_PREFIX + json.dumps({"weights": values, "f": f}).encode()


def parse_reconfiguration(operation: bytes) -> WeightedQuorums:
    """Decode the :class:`WeightedQuorums` a reconfiguration operation asks for.

    Raises
    ------
    QuorumError
        If the operation is malformed or the weights admit no safe quorum.
    """
    if not operation.startswith(RECONFIGURE_PREFIX):
        raise QuorumError("not a reconfiguration operation")
    try:
        data = json.loads(operation[len(RECONFIGURE_PREFIX) :])
        weights, f = data["weights"], data["f"]
    except (ValueError, KeyError, TypeError) as exc:
        raise QuorumError(f"malformed reconfiguration: {exc}") from exc
    if not isinstance(weights, list):
        raise QuorumError(f"weights={weights!r} must be a list")
    try:
        return WeightedQuorums(tuple(weights), f)
    except TypeError as exc:
        raise QuorumError(str(exc)) from exc
