"""A PBFT client: one outstanding request, retries, and weighted reply certificates.

The client sends its request to the primary it believes in, with an authenticator holding a tag
for *every* replica (the primary forwards the request inside its PRE-PREPARE and each backup checks
its own tag). It accepts a result once replicas weighing more than ``F*`` under every weight
configuration it knows sent the same result (Castro & Liskov, TOCS 2002, Sec. 2.3.2: ``f + 1``
matching replies, one of them from a correct replica). Without a result after
``retry_timeout_ns`` it multicasts the request to all replicas, which forward it to the primary
and start their view-change timers.

Examples
--------
>>> from network.consensus import KeyDirectory, PBFTConfig, WeightedQuorums
>>> keys = KeyDirectory.from_secrets(range(5), bits_per_channel=4096)
>>> client = Client(PBFTConfig(WeightedQuorums.uniform(4)), 4, keys=keys.endpoint(4))
>>> out = client.submit(b"op", now=0)
>>> [o.receivers for o in out], sorted(out[0].packet.authenticator)
([(0,)], [0, 1, 2, 3])
"""

from __future__ import annotations

import numbers
from collections import deque
from dataclasses import dataclass

from network.consensus.auth import NodeKeys
from network.consensus.config import PBFTConfig
from network.consensus.messages import Outgoing, Packet, Reply, Request
from network.consensus.quorums import WeightedQuorums
from network.simulation.events import seconds

__all__ = ["Client", "Completion"]


@dataclass(frozen=True, slots=True)
class Completion:
    """A request the client saw through: its result and when it was sent and accepted (ns)."""

    timestamp: int
    operation: bytes
    result: bytes
    submitted_ns: int
    completed_ns: int

    @property
    def latency_ns(self) -> int:
        """Time from the first send to the accepted result."""
        return self.completed_ns - self.submitted_ns


class Client:
    """A client of a PBFT group, driven like a replica (``submit``, ``on_message``, ``on_timer``).

    Parameters
    ----------
    config : PBFTConfig
        The group's settings (replica count, initial weights, leader order).
    client_id : int
        The client's node id (not a replica id: ``>= config.n``).
    keys : NodeKeys
        The client's authentication endpoint.
    retry_timeout_ns : int
        Time before the request is multicast to all replicas (and between retries).

    Attributes
    ----------
    completed : list of Completion
        Results accepted so far, in order.
    """

    def __init__(
        self,
        config: PBFTConfig,
        client_id: int,
        *,
        keys: NodeKeys,
        retry_timeout_ns: int = seconds(0.3),
    ) -> None:
        if not isinstance(config, PBFTConfig):
            raise TypeError(f"config={config!r} must be a PBFTConfig")
        if isinstance(client_id, bool) or not isinstance(client_id, numbers.Integral):
            raise TypeError(f"client_id={client_id!r} must be an integer")
        if client_id < config.n:
            raise ValueError(
                f"client_id={client_id!r} collides with replica ids 0 .. {config.n - 1}"
            )
        if isinstance(retry_timeout_ns, bool) or not isinstance(retry_timeout_ns, numbers.Integral):
            raise TypeError(f"retry_timeout_ns={retry_timeout_ns!r} must be an integer")
        if retry_timeout_ns <= 0:
            raise ValueError(f"retry_timeout_ns={retry_timeout_ns!r} must be > 0 (nanoseconds)")
        if not isinstance(keys, NodeKeys) or keys.node != client_id:
            raise ValueError(f"keys must be the NodeKeys of node {client_id!r}")
        self.config = config
        self.id = int(client_id)
        self.keys = keys
        self.retry_timeout_ns = int(retry_timeout_ns)
        self.replicas = tuple(range(config.n))
        self.known_quorums: list[WeightedQuorums] = [config.quorums]
        self.view = 0
        self.timestamp = 0
        self.backlog: deque[bytes] = deque()
        self.current: Request | None = None
        self._submitted_ns = 0
        self._replies: dict[bytes, set[int]] = {}
        self._reply_views: dict[int, int] = {}
        self._deadline: int | None = None
        self.retries = 0
        self.completed: list[Completion] = []

    @property
    def deadline(self) -> int | None:
        """Simulated time (ns) of the next retry, or ``None``."""
        return self._deadline

    @property
    def idle(self) -> bool:
        """No request outstanding and none waiting."""
        return self.current is None and not self.backlog

    def learn_quorums(self, quorums: WeightedQuorums) -> None:
        """Also require reply certificates under ``quorums`` (keeps the latest two configs)."""
        if not isinstance(quorums, WeightedQuorums):
            raise TypeError(f"quorums={quorums!r} must be a WeightedQuorums")
        if quorums not in self.known_quorums:
            self.known_quorums = [*self.known_quorums[-1:], quorums]

    def submit(self, operation: bytes, now: int) -> list[Outgoing]:
        """Queue ``operation``; send it at once if no request is outstanding."""
        if not isinstance(operation, bytes):
            raise TypeError(f"operation={operation!r} must be bytes")
        self.backlog.append(operation)
        return self._next(now) if self.current is None else []

    def _next(self, now: int) -> list[Outgoing]:
        if not self.backlog:
            self.current = None
            self._deadline = None
            return []
        self.timestamp += 1
        self.current = Request(self.id, self.timestamp, self.backlog.popleft())
        self._submitted_ns = now
        self._replies = {}
        self._reply_views = {}
        self._deadline = now + self.retry_timeout_ns
        return [self._packet((self.config.primary(self.view),))]

    def _packet(self, receivers: tuple[int, ...]) -> Outgoing:
        request = self.current
        tags = self.keys.authenticate(request.digest, self.replicas)
        return Outgoing(Packet(request, tags), receivers)

    def on_timer(self, now: int) -> list[Outgoing]:
        """Retry: multicast the outstanding request to every replica."""
        if self._deadline is None or now < self._deadline or self.current is None:
            return []
        self.retries += 1
        self._deadline = now + self.retry_timeout_ns
        return [self._packet(self.replicas)]

    def on_message(self, packet: Packet, now: int) -> list[Outgoing]:
        """Process a REPLY; returns the next request's packets once a result is accepted."""
        reply = packet.message
        current = self.current
        if type(reply) is not Reply or current is None:
            return []
        if not 0 <= reply.sender < self.config.n or reply.client != self.id:
            return []
        if reply.timestamp != current.timestamp:
            return []
        if not self.keys.verify(reply.sender, reply.digest, packet.authenticator):
            return []
        voters = self._replies.setdefault(reply.result, set())
        voters.add(reply.sender)
        self._reply_views[reply.sender] = reply.view
        if not all(q.is_weak(voters) for q in self.known_quorums):
            return []
        views = sorted(self._reply_views[s] for s in voters)
        self.view = max(self.view, views[len(views) // 2])
        self.completed.append(
            Completion(current.timestamp, current.operation, reply.result, self._submitted_ns, now)
        )
        return self._next(now)
