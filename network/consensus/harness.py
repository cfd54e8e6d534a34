"""Message passing for consensus nodes on the network's discrete-event queue.

:class:`MessageNetwork` delivers the :class:`~network.consensus.messages.Outgoing` packets of
replicas and clients through :class:`~network.simulation.events.EventQueue` with a delay drawn per
message, so messages overtake each other (reordering); each message may be dropped or duplicated,
per link; a *partition* splits the nodes into groups that cannot talk until it is lifted (it
heals). Timers are events too: after every call the harness re-arms the node's
:attr:`deadline`. All randomness comes from one seeded generator, drawn in blocks, so a run is a
function of its seed and its schedule.

A node id may be served by two *instances* (Twins: two copies of one identity that share its
keys); each instance has a label (``"3"`` and ``"3'"``) that partitions refer to. A message to a
node reaches every instance of it that is not partitioned from the sender.

:func:`build_group` assembles replicas, clients and keys (pools filled from :mod:`secrets`); by
default every replica holds a copy of the network's control ledger
(:func:`~network.consensus.ledger.ledger_machine`) with one node per replica.

Examples
--------
>>> from network.consensus import PBFTConfig, WeightedQuorums
>>> from network.voting import LedgerStateMachine, SetExclusion
>>> group = build_group(PBFTConfig(WeightedQuorums.uniform(4)), clients=1, seed=1)
>>> group.submit(0, LedgerStateMachine.encode(SetExclusion("node", (3,), True)))
>>> _ = group.network.run()
>>> [c.result for c in group.clients[0].completed]
[b'{"ok":true,"version":1}']
>>> [sorted(r.app.ledger.excluded_nodes) for r in group.correct_replicas()]
[[3], [3], [3], [3]]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from network.consensus.auth import KeyDirectory
from network.consensus.client import Client
from network.consensus.config import PBFTConfig
from network.consensus.ledger import StateMachine, ledger_machine
from network.consensus.messages import Outgoing, Packet
from network.consensus.replica import Behaviour, Replica
from network.simulation.events import Event, EventQueue, seconds

__all__ = ["Group", "LinkProfile", "MessageNetwork", "build_group"]


@dataclass(frozen=True)
class LinkProfile:
    """Delay, loss and duplication of messages on a link.

    Parameters
    ----------
    min_delay_ns, max_delay_ns : int
        Each message's delay is uniform in ``[min_delay_ns, max_delay_ns]`` (ns); a wide range
        reorders messages.
    drop_prob : float
        Probability that a message is lost.
    duplicate_prob : float
        Probability that a delivered message arrives a second time (independent delay).
    """

    min_delay_ns: int = seconds(0.001)
    max_delay_ns: int = seconds(0.002)
    drop_prob: float = 0.0
    duplicate_prob: float = 0.0

    def __post_init__(self) -> None:
        for name in ("min_delay_ns", "max_delay_ns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{name}={value!r} must be an integer >= 0 (nanoseconds)")
        if self.max_delay_ns < self.min_delay_ns:
            raise ValueError(
                f"max_delay_ns={self.max_delay_ns} must be >= min_delay_ns={self.min_delay_ns}"
            )
        for name in ("drop_prob", "duplicate_prob"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name}={value!r} must be a probability")
            if not (math.isfinite(value) and 0 <= value < 1):
                raise ValueError(f"{name}={value!r} must be in [0, 1)")


class _Instance:
    __slots__ = ("label", "machine", "node", "timer", "timer_at")

    def __init__(self, node: int, label: str, machine: Any) -> None:
        self.node = node
        self.label = label
        self.machine = machine
        self.timer: Event | None = None
        self.timer_at: int | None = None


class MessageNetwork:
    """Delivers packets between consensus nodes through an :class:`EventQueue`.

    Parameters
    ----------
    profile : LinkProfile
        Default behaviour of every link.
    seed : int or numpy.random.Generator, optional
        Seed of the delays, drops and duplicates.
    queue : EventQueue, optional
        Share the network simulation's queue; a new one by default.

    Attributes
    ----------
    sent : int
        Messages handed to the network (one per receiving instance).
    delivered, dropped, duplicated : int
        What became of them.
    sent_by_kind : dict
        Messages per message class name.
    observers : list of callables
        Called with no argument after every event (the schedule checker's invariants).
    """

    _BLOCK = 4096

    def __init__(
        self,
        *,
        profile: LinkProfile | None = None,
        seed: int | np.random.Generator | None = None,
        queue: EventQueue | None = None,
    ) -> None:
        self.queue = EventQueue() if queue is None else queue
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self._uniforms: list[float] = []
        self._cursor = 0
        self.profile = LinkProfile() if profile is None else profile
        self._links: dict[tuple[int, int], LinkProfile] = {}
        self._instances: dict[int, list[_Instance]] = {}
        self._labels: dict[str, _Instance] = {}
        self._group_of: dict[str, int] | None = None
        self.observers: list[Callable[[], None]] = []
        self.sent = self.delivered = self.dropped = self.duplicated = 0
        self.sent_by_kind: dict[str, int] = {}

    # ----------------------------------------------------------------- set-up
    def add(self, node: int, machine: Any, *, label: str | None = None) -> str:
        """Attach ``machine`` (replica or client) as an instance of ``node``; returns its label."""
        for name in ("on_message", "on_timer", "deadline"):
            if not hasattr(machine, name):
                raise TypeError(f"machine={machine!r} lacks {name!r}")
        copies = self._instances.setdefault(node, [])
        if label is None:
            label = str(node) + "'" * len(copies)
        if label in self._labels:
            raise ValueError(f"label={label!r} is already used")
        instance = _Instance(node, label, machine)
        copies.append(instance)
        self._labels[label] = instance
        return label

    def instances(self, node: int) -> list[Any]:
        """Return the machines serving ``node``."""
        return [i.machine for i in self._instances.get(node, [])]

    def set_profile(self, profile: LinkProfile) -> None:
        """Change the default link behaviour from now on."""
        if not isinstance(profile, LinkProfile):
            raise TypeError(f"profile={profile!r} must be a LinkProfile")
        self.profile = profile

    def set_link(self, sender: int, receiver: int, profile: LinkProfile | None) -> None:
        """Give the link ``sender -> receiver`` its own profile (``None``: back to the default)."""
        if profile is None:
            self._links.pop((sender, receiver), None)
        elif not isinstance(profile, LinkProfile):
            raise TypeError(f"profile={profile!r} must be a LinkProfile")
        else:
            self._links[(sender, receiver)] = profile

    def set_partition(self, groups: Iterable[Iterable[str]] | None) -> None:
        """Split the labelled instances into groups that cannot talk (``None`` heals).

        Instances not named in any group (e.g. clients) talk to everyone.
        """
        if groups is None:
            self._group_of = None
            return
        group_of: dict[str, int] = {}
        for index, group in enumerate(groups):
            for label in group:
                if label not in self._labels:
                    raise ValueError(f"partition names unknown instance {label!r}")
                if label in group_of:
                    raise ValueError(f"instance {label!r} is in two partition groups")
                group_of[label] = index
        self._group_of = group_of

    # ----------------------------------------------------------------- running
    def start(self) -> None:
        """Arm the timers of every instance (call once before :meth:`run`)."""
        for copies in self._instances.values():
            for instance in copies:
                self._rearm(instance)

    def inject(self, node: int, outgoing: list[Outgoing]) -> None:
        """Send packets produced outside an event (e.g. a client's ``submit``) from ``node``."""
        for instance in self._instances[node][:1]:
            self._dispatch(instance, outgoing)
            self._rearm(instance)

    def run(self, until: int | None = None, *, max_events: int | None = None) -> int:
        """Run the event queue (see :meth:`EventQueue.run`); returns the events run."""
        return self.queue.run(until, max_events=max_events)

    def _uniform(self) -> float:
        if self._cursor >= len(self._uniforms):
            self._uniforms = self.rng.random(self._BLOCK).tolist()
            self._cursor = 0
        value = self._uniforms[self._cursor]
        self._cursor += 1
        return value

    def _dispatch(self, source: _Instance, outgoing: list[Outgoing]) -> None:
        queue = self.queue
        now = queue.now
        group_of = self._group_of
        source_group = None if group_of is None else group_of.get(source.label)
        for item in outgoing:
            packet = item.packet
            kind = type(packet.message).__name__
            for receiver in item.receivers:
                for target in self._instances.get(receiver, ()):
                    self.sent += 1
                    self.sent_by_kind[kind] = self.sent_by_kind.get(kind, 0) + 1
                    if source_group is not None:
                        target_group = group_of.get(target.label)
                        if target_group is not None and target_group != source_group:
                            self.dropped += 1
                            continue
                    profile = self._links.get((source.node, receiver), self.profile)
                    if profile.drop_prob and self._uniform() < profile.drop_prob:
                        self.dropped += 1
                        continue
                    copies = 1
                    if profile.duplicate_prob and self._uniform() < profile.duplicate_prob:
                        copies = 2
                        self.duplicated += 1
                    span = profile.max_delay_ns - profile.min_delay_ns
                    for _ in range(copies):
                        delay = profile.min_delay_ns + int(self._uniform() * (span + 1))
                        queue.schedule(now + delay + item.delay_ns, _Delivery(self, target, packet))

    def deliver(self, target: _Instance, packet: Packet) -> None:
        """Hand ``packet`` to ``target`` now (used by the delivery events)."""
        self.delivered += 1
        self._after(target, target.machine.on_message(packet, self.queue.now))

    def _fire(self, target: _Instance) -> None:
        target.timer = None
        target.timer_at = None
        self._after(target, target.machine.on_timer(self.queue.now))

    def _after(self, target: _Instance, out: list[Outgoing]) -> None:
        """Send what a node produced, re-arm its timer, let the observers look."""
        if out:
            self._dispatch(target, out)
        self._rearm(target)
        for observer in self.observers:
            observer()

    def _rearm(self, instance: _Instance) -> None:
        deadline = instance.machine.deadline
        if deadline == instance.timer_at:
            return
        if instance.timer is not None:
            EventQueue.cancel(instance.timer)
            instance.timer = None
        instance.timer_at = deadline
        if deadline is not None:
            at = max(deadline, self.queue.now)
            instance.timer = self.queue.schedule(at, lambda i=instance: self._fire(i), priority=1)


class _Delivery:
    """A delivery event's handler (a small object is cheaper than a closure per message)."""

    __slots__ = ("network", "packet", "target")

    def __init__(self, network: MessageNetwork, target: _Instance, packet: Packet) -> None:
        self.network = network
        self.target = target
        self.packet = packet

    def __call__(self) -> None:
        self.network.deliver(self.target, self.packet)


@dataclass
class Group:
    """A PBFT group on a :class:`MessageNetwork`: replicas (with twins), clients, keys."""

    config: PBFTConfig
    keys: KeyDirectory
    network: MessageNetwork
    replicas: dict[int, list[Replica]]
    clients: list[Client]
    faulty: frozenset[int] = field(default_factory=frozenset)

    def correct_replicas(self) -> list[Replica]:
        """Return the replicas whose identity is not faulty."""
        return [r[0] for i, r in sorted(self.replicas.items()) if i not in self.faulty]

    def submit(self, client_index: int, operation: bytes) -> None:
        """Queue ``operation`` at client ``client_index`` (sent now if it is idle)."""
        client = self.clients[client_index]
        self.network.inject(client.id, client.submit(operation, self.network.queue.now))

    def completed(self) -> int:
        """Count the requests completed by all clients."""
        return sum(len(c.completed) for c in self.clients)


def build_group(
    config: PBFTConfig,
    *,
    clients: int = 1,
    key_bits: int = 1 << 14,
    replenish_bits: int | None = 1 << 14,
    behaviours: Mapping[int, Behaviour] | None = None,
    twins: Iterable[int] = (),
    faulty: Iterable[int] = (),
    app_factory: Callable[[], StateMachine] | None = None,
    profile: LinkProfile | None = None,
    seed: int | np.random.Generator | None = None,
    retry_timeout_ns: int = seconds(0.3),
    queue: EventQueue | None = None,
    keys: KeyDirectory | None = None,
) -> Group:
    """Replicas ``0 .. n-1`` and clients ``n ..`` on one network, keys from :mod:`secrets`.

    Parameters
    ----------
    config : PBFTConfig
    clients : int
        Number of clients (ids ``n, n+1, ...``).
    key_bits : int
        Initial secret bits per directed channel.
    replenish_bits : int or None
        Top-up size when a channel runs short; ``None`` lets channels run out.
    behaviours : mapping, optional
        Replica id -> :class:`~network.consensus.replica.Behaviour` (Byzantine ones).
    twins : iterable of int
        Replica ids served by two instances sharing one identity and its keys.
    faulty : iterable of int
        Replica ids to treat as faulty (the ones with behaviours and twins are added).
    app_factory : callable, optional
        Builds each replica's state machine; default a fresh control ledger of ``n`` nodes and
        no links (:func:`~network.consensus.ledger.ledger_machine`).
    profile : LinkProfile, optional
    seed : int or Generator, optional
        Seed of the network's randomness.
    retry_timeout_ns : int
        Clients' retry timeout.
    queue : EventQueue, optional
        Event queue to share.
    keys : KeyDirectory, optional
        Channels to use instead of fresh ones (``key_bits`` and ``replenish_bits`` are then
        ignored), e.g. backed by the network's pools or with some channels short of key.
    """
    n = config.n
    if isinstance(clients, bool) or not isinstance(clients, numbers.Integral) or clients < 0:
        raise ValueError(f"clients={clients!r} must be an integer >= 0")
    behaviours = dict(behaviours or {})
    for replica in (*behaviours, *twins, *faulty):
        config.quorums.check_replica(replica, "replica id")
    twins = sorted(set(twins))
    if app_factory is None:
        app_factory = partial(ledger_machine, n_nodes=n)
    if keys is None:
        replica_ids = range(n)
        pairs = [(a, b) for a in replica_ids for b in replica_ids if a != b]
        for cid in range(n, n + clients):
            pairs.extend(p for r in replica_ids for p in ((cid, r), (r, cid)))
        keys = KeyDirectory.from_secrets(
            range(n + clients),
            bits_per_channel=key_bits,
            replenish_bits=replenish_bits,
            pairs=pairs,
        )
    elif not isinstance(keys, KeyDirectory):
        raise TypeError(f"keys={keys!r} must be a KeyDirectory")
    network = MessageNetwork(profile=profile, seed=seed, queue=queue)
    replicas: dict[int, list[Replica]] = {}
    for rid in range(n):
        copies = 2 if rid in twins else 1
        replicas[rid] = []
        for _ in range(copies):
            replica = Replica(
                config,
                rid,
                keys=keys.endpoint(rid),
                app=app_factory(),
                behaviour=behaviours.get(rid),
            )
            replicas[rid].append(replica)
            network.add(rid, replica)
    client_list = []
    for cid in range(n, n + clients):
        client = Client(config, cid, keys=keys.endpoint(cid), retry_timeout_ns=retry_timeout_ns)
        client_list.append(client)
        network.add(cid, client)
    network.start()
    return Group(
        config,
        keys,
        network,
        replicas,
        client_list,
        frozenset({*behaviours, *twins, *faulty}),
    )
