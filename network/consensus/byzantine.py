"""Byzantine replicas as small behaviour objects composed onto :class:`Replica`.

A behaviour sees every packet that reaches its replica (:meth:`Behaviour.receive`) and rewrites
the messages the replica is about to send (:meth:`Behaviour.send`) before they are authenticated
with the replica's own keys: a Byzantine replica lies with valid tags, it cannot forge another
replica's. Replayed packets keep their original tags and are caught by the receivers' pad windows.

* :class:`SilentReplica`: crashed, neither processes nor sends.
* :class:`Slow`: sends everything late.
* :class:`EquivocatingPrimary`: as primary, proposes one batch to some backups and the null
  batch to the others at the same ``(view, seq)``.
* :class:`FalseVotes`: prepares, commits and checkpoints for digests that do not exist, and
  VIEW-CHANGEs that claim prepared certificates it never had.
* :class:`Replay`: re-sends packets it received (old tags: rejected as replays) and its own old
  messages with fresh tags (stale views and sequence numbers: ignored by the protocol).
* :class:`Colluding`: members of a :class:`Coalition` act together: a member that is primary
  equivocates along the coalition's split of the correct replicas, and every member votes for
  each side's batch towards that side, which is what it takes to break safety once the
  coalition's weight exceeds ``F*``.
* :class:`DropRelays`: follows the protocol but drops what it should pass on for others: client
  requests it forwards to the primary and VIEW-CHANGEs it relays on request.
* :class:`AlterRelays`: passes those on altered under their original tags, so that the receivers
  reject them as forged (and count them).
* Twins (two instances sharing one identity and its keys) need no behaviour: pass ``twins`` to
  :func:`~network.consensus.harness.build_group`.

Examples
--------
>>> from network.consensus import PBFTConfig, WeightedQuorums, build_group
>>> from network.voting import LedgerStateMachine, SetExclusion
>>> config = PBFTConfig(WeightedQuorums.uniform(4))
>>> group = build_group(config, behaviours={0: EquivocatingPrimary()}, seed=2)
>>> group.submit(0, LedgerStateMachine.encode(SetExclusion("node", (0,), True)))
>>> _ = group.network.run(until=10**10)
>>> [r.view > 0 for r in group.correct_replicas()], group.clients[0].completed[0].result
([True, True, True], b'{"ok":true,"version":1}')
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Iterable

import numpy as np

from network.consensus.messages import (
    Checkpoint,
    Commit,
    Outgoing,
    Packet,
    Prepare,
    PrePrepare,
    RelayedViewChange,
    Request,
    ViewChange,
)
from network.consensus.replica import Behaviour, Replica, Send

__all__ = [
    "AlterRelays",
    "Coalition",
    "Colluding",
    "DropRelays",
    "EquivocatingPrimary",
    "FalseVotes",
    "Replay",
    "SilentReplica",
    "Slow",
]


class SilentReplica(Behaviour):
    """A crashed replica: ignores every packet and sends nothing."""

    name = "silent"

    def receive(self, replica: Replica, packet: Packet, now: int) -> bool:
        """Refuse every packet (a crashed replica processes nothing).

        Arguments as :meth:`Behaviour.receive`. Always returns ``False``.
        """
        return False

    def send(self, replica: Replica, sends: list[Send], now: int) -> list[Send | Outgoing]:
        """Send nothing.

        Arguments as :meth:`Behaviour.send`. Always returns an empty list.
        """
        return []


class Slow(Behaviour):
    """Adds ``delay_ns`` to every message the replica sends."""

    name = "slow"

    def __init__(self, delay_ns: int) -> None:
        if isinstance(delay_ns, bool) or not isinstance(delay_ns, int) or delay_ns < 0:
            raise ValueError(f"delay_ns={delay_ns!r} must be an integer >= 0 (nanoseconds)")
        self.delay_ns = delay_ns

    def send(self, replica: Replica, sends: list[Send], now: int) -> list[Send | Outgoing]:
        """Delay every message by ``delay_ns``.

        Arguments as :meth:`Behaviour.send`. Returns ``sends`` with ``delay_ns`` nanoseconds added
        to each :class:`Send`; pre-authenticated packets unchanged.
        """
        return [
            Send(s.message, s.receivers, s.delay_ns + self.delay_ns) if isinstance(s, Send) else s
            for s in sends
        ]


def _split(receivers: tuple[int, ...], side_b: frozenset[int] | None) -> tuple[tuple, tuple]:
    if side_b is None:
        half = len(receivers) // 2
        side_b = frozenset(receivers[half:])
    a = tuple(r for r in receivers if r not in side_b)
    b = tuple(r for r in receivers if r in side_b)
    return a, b


class EquivocatingPrimary(Behaviour):
    """As primary, sends the real batch to some backups and the null batch to the rest.

    Parameters
    ----------
    side_b : iterable of int, optional
        Backups that get the null batch; default the second half of the backups.
    """

    name = "equivocate"

    def __init__(self, side_b: Iterable[int] | None = None) -> None:
        self.side_b = None if side_b is None else frozenset(side_b)

    def send(self, replica: Replica, sends: list[Send], now: int) -> list[Send | Outgoing]:
        """Split each non-empty PRE-PREPARE into the real batch and the null batch.

        Arguments as :meth:`Behaviour.send`. Returns ``sends`` with every PRE-PREPARE of a non-empty
        batch sent as is to the backups outside ``side_b`` and with the null batch to those in
        ``side_b``.
        """
        out: list[Send | Outgoing] = []
        for item in sends:
            message = getattr(item, "message", None)
            if type(message) is PrePrepare and message.requests:
                a, b = _split(item.receivers, self.side_b)
                other = PrePrepare(message.view, message.seq, (), message.sender)
                out.extend(s for s in (Send(message, a), Send(other, b)) if s.receivers)
            else:
                out.append(item)
        return out


class FalseVotes(Behaviour):
    """Votes and checkpoints for random digests; VIEW-CHANGEs with invented prepared entries."""

    name = "false-votes"

    def send(self, replica: Replica, sends: list[Send], now: int) -> list[Send | Outgoing]:
        """Replace votes, checkpoints and VIEW-CHANGEs with false ones.

        Arguments as :meth:`Behaviour.send`. Returns ``sends`` with PREPAREs, COMMITs and
        CHECKPOINTs for random 16-byte digests, and VIEW-CHANGEs (view > 0) claiming an invented
        prepared entry just above the stable checkpoint; other messages unchanged.
        """
        out: list[Send | Outgoing] = []
        for item in sends:
            message = getattr(item, "message", None)
            kind = type(message)
            if kind is Prepare or kind is Commit:
                message = kind(message.view, message.seq, secrets.token_bytes(16), message.sender)
            elif kind is Checkpoint:
                message = Checkpoint(message.seq, secrets.token_bytes(16), message.sender)
            elif kind is ViewChange and message.view > 0:
                fake = secrets.token_bytes(16)
                seq = message.stable_seq + 1
                entry = ((seq, fake, message.view - 1),)
                message = ViewChange(
                    message.view,
                    message.stable_seq,
                    message.stable_digest,
                    message.checkpoints,
                    entry + tuple(p for p in message.prepared if p[0] != seq),
                    entry + message.preprepared,
                    message.batches,
                    message.sender,
                )
            else:
                out.append(item)
                continue
            out.append(Send(message, item.receivers, item.delay_ns))
        return out


class Replay(Behaviour):
    """Replays received packets (old tags) and re-sends its own old messages (fresh tags).

    Parameters
    ----------
    seed : int or numpy.random.Generator, optional
        Which old packets and messages are replayed (not secret).
    memory : int
        Packets and messages remembered.
    per_send : int
        Replays added to each batch of sends.
    """

    name = "replay"

    def __init__(
        self, seed: int | np.random.Generator | None = None, *, memory: int = 64, per_send: int = 2
    ) -> None:
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.received: deque[Packet] = deque(maxlen=memory)
        self.sent: deque[Send] = deque(maxlen=memory)
        self.per_send = per_send

    def receive(self, replica: Replica, packet: Packet, now: int) -> bool:
        """Remember ``packet`` for later replay and let the replica process it.

        Arguments as :meth:`Behaviour.receive`. Always returns ``True``.
        """
        self.received.append(packet)
        return True

    def send(self, replica: Replica, sends: list[Send], now: int) -> list[Send | Outgoing]:
        """Add up to ``per_send`` replays to the messages sent.

        Arguments as :meth:`Behaviour.send`. Returns ``sends``, then replays to every other replica:
        received packets with their old tags, or own old messages to be tagged afresh.
        """
        out: list[Send | Outgoing] = list(sends)
        for _ in range(self.per_send):
            if self.received and self.rng.random() < 0.5:
                packet = self.received[int(self.rng.integers(len(self.received)))]
                out.append(Outgoing(packet, replica.others))
            elif self.sent:
                old = self.sent[int(self.rng.integers(len(self.sent)))]
                out.append(Send(old.message, replica.others))
        self.sent.extend(s for s in sends if isinstance(s, Send))
        return out


class Coalition:
    """Shared knowledge of colluding replicas: who they are and how to split the others.

    Parameters
    ----------
    members : iterable of int
        The colluding replica ids.
    side_b : iterable of int
        Correct replicas that are shown the second variant of every equivocated batch; the other
        correct replicas get the first.

    Attributes
    ----------
    variants : dict
        ``(view, seq) -> (digest of side A, digest of side B)`` for equivocated batches.
    """

    def __init__(self, members: Iterable[int], side_b: Iterable[int]) -> None:
        self.members = frozenset(members)
        self.side_b = frozenset(side_b) - self.members
        self.variants: dict[tuple[int, int], tuple[bytes, bytes]] = {}


class Colluding(Behaviour):
    """A member of a :class:`Coalition` (see the module docstring)."""

    name = "collude"

    def __init__(self, coalition: Coalition) -> None:
        if not isinstance(coalition, Coalition):
            raise TypeError(f"coalition={coalition!r} must be a Coalition")
        self.coalition = coalition

    def send(self, replica: Replica, sends: list[Send], now: int) -> list[Send | Outgoing]:
        """Equivocate along the coalition's split and vote for each side's batch.

        Arguments as :meth:`Behaviour.send`. Returns ``sends`` with each PRE-PREPARE of a non-null
        batch split into that batch (side A) and the null batch (side B), recorded in
        :attr:`Coalition.variants`, and each PREPARE/COMMIT for a recorded ``(view, seq)`` split the
        same way; other messages unchanged.
        """
        coalition = self.coalition
        out: list[Send | Outgoing] = []
        for item in sends:
            message = getattr(item, "message", None)
            kind = type(message)
            if kind is PrePrepare:
                other = PrePrepare(message.view, message.seq, (), message.sender)
                if other.batch == message.batch:
                    out.append(item)
                    continue
                coalition.variants[(message.view, message.seq)] = (message.batch, other.batch)
                out.extend(self._sides(item, message, other))
            elif kind is Prepare or kind is Commit:
                variants = coalition.variants.get((message.view, message.seq))
                if variants is None:
                    out.append(item)
                    continue
                first = kind(message.view, message.seq, variants[0], message.sender)
                second = kind(message.view, message.seq, variants[1], message.sender)
                out.extend(self._sides(item, first, second))
            else:
                out.append(item)
        return out

    def _sides(self, item: Send, first: object, second: object) -> list[Send]:
        side_b = self.coalition.side_b
        a = tuple(r for r in item.receivers if r not in side_b)
        b = tuple(r for r in item.receivers if r in side_b)
        return [s for s in (Send(first, a), Send(second, b)) if s.receivers]


def _is_relay(item: Send | Outgoing) -> bool:
    """Whether ``item`` passes on something for another node (a forward or a relayed change)."""
    return isinstance(item, Outgoing) or type(item.message) is RelayedViewChange


class DropRelays(Behaviour):
    """Drops the client requests it should forward and the VIEW-CHANGEs it should relay."""

    name = "drop-relays"

    def send(self, replica: Replica, sends: list[Send], now: int) -> list[Send | Outgoing]:
        """Drop forwarded client requests and relayed VIEW-CHANGEs.

        Arguments as :meth:`Behaviour.send`. Returns ``sends`` without the items passed on for other
        nodes.
        """
        return [s for s in sends if not _is_relay(s)]


class AlterRelays(Behaviour):
    """Alters what it passes on for others, keeping the original authenticator.

    A forwarded client request gets another operation under the client's tags; a relayed
    VIEW-CHANGE names another stable checkpoint under this replica's own tags over the genuine
    change's digest. Receivers find the tags do not match and drop the packets as forged.
    """

    name = "alter-relays"

    def send(self, replica: Replica, sends: list[Send], now: int) -> list[Send | Outgoing]:
        """Alter forwarded client requests and relayed VIEW-CHANGEs under their old tags.

        Arguments as :meth:`Behaviour.send`. Returns ``sends`` with each forwarded request's
        operation altered under the client's tags and each relayed VIEW-CHANGE naming another stable
        checkpoint under the tags of the genuine change; other items unchanged.
        """
        out: list[Send | Outgoing] = []
        for item in sends:
            if isinstance(item, Outgoing) and type(item.packet.message) is Request:
                request = item.packet.message
                altered = Request(request.client, request.timestamp, request.operation + b" ")
                packet = Packet(altered, item.packet.authenticator)
                out.append(Outgoing(packet, item.receivers, item.delay_ns))
            elif isinstance(item, Send) and type(item.message) is RelayedViewChange:
                genuine = item.message
                tags = replica.keys.authenticate(genuine.digest, item.receivers)
                change = genuine.change
                forged = ViewChange(
                    change.view,
                    change.stable_seq + 1,
                    change.stable_digest,
                    change.checkpoints,
                    change.prepared,
                    change.preprepared,
                    change.batches,
                    change.sender,
                )
                packet = Packet(RelayedViewChange(forged, genuine.sender), tags)
                out.append(Outgoing(packet, item.receivers, item.delay_ns))
            else:
                out.append(item)
        return out
