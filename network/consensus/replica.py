"""A PBFT replica with weighted quorums and QKD-keyed authenticators, as a state machine.

A :class:`Replica` does no I/O and keeps no global state: the driver calls
:meth:`Replica.on_message` with each packet that reaches it and :meth:`Replica.on_timer` once
:attr:`Replica.deadline` has passed, and delivers the :class:`~network.consensus.messages.Outgoing`
packets they return. The same code runs under the schedule checker, the network simulation and
the tests.

Protocol (M. Castro and B. Liskov, "Practical Byzantine fault tolerance and proactive recovery",
ACM TOCS 20, 398, 2002; OSDI 1999 for the signature version):

* **Normal case** (Sec. 2.3.3, 3.2.2). The primary of view ``v`` (``config.primary(v)``) batches
  client requests (Sec. 5.1.4) into PRE-PREPARE ``(v, n, batch)``; a backup accepts it if it is
  in view ``v``, ``h < n <= h + L`` and it has accepted no other batch at ``(v, n)``, and checks
  every request's client authenticator; it then multicasts PREPARE. A replica has *prepared*
  ``(v, n, d)`` when the primary and the backups whose PREPAREs match weigh at least ``Q``; it then
  multicasts COMMIT. A batch is *committed* at ``n`` once COMMITs for the same ``(v, n, d)`` weigh
  at least ``Q`` (of any view up to the current one: such a certificate holds more than ``F*`` of
  correct weight that prepared ``d``, so every later view re-proposes ``d``, Sec. 3.2.4) and its
  requests are known. Batches execute in sequence order; each request at most once per client
  timestamp; the replica REPLYs to the client.
* **Checkpoints** (Sec. 2.3.4). Every ``K`` sequence numbers a replica multicasts CHECKPOINT with
  the digest of its state (application snapshot, client table, weight schedule). ``Q`` weight of
  matching CHECKPOINTs make it *stable*: the low watermark ``h`` moves there and the log below
  is garbage-collected. A replica that finds itself behind a stable checkpoint fetches the state
  (Sec. 5.3) and trusts it if its digest has a weak certificate (weight ``> F*``).
* **View change, MAC-only variant** (Sec. 3.2.4). A backup waiting too long for a request starts
  a view change: it multicasts VIEW-CHANGE with its checkpoints ``C``, prepared set ``P`` and
  pre-prepared set ``Q``. Since a MAC cannot convince a third party, every replica that receives a
  VIEW-CHANGE sends the new primary a VIEW-CHANGE-ACK; the new primary uses a VIEW-CHANGE only once
  its sender, itself and the acknowledging replicas weigh ``Q``, so that enough correct replicas
  hold it to relay it later. With ``Q`` weight of such VIEW-CHANGEs it runs the decision
  procedure (checkpoint: the highest one reported by weight ``> F*`` and at or above the low
  watermark of a quorum; then per sequence number the batch prepared in the highest view that a
  quorum does not contradict and weight ``> F*`` pre-prepared, or the null batch if a quorum
  prepared nothing there) and multicasts NEW-VIEW naming the VIEW-CHANGEs by digest. Backups run
  the same procedure on the same VIEW-CHANGEs (fetching any they lack from replicas that relay
  it; a copy counts once relayers weighing ``> F*`` vouch for its digest) and accept the NEW-VIEW
  only if the outcome matches. The view-change timeout doubles after each view that fails
  (Sec. 2.3.5); a replica that sees VIEW-CHANGEs for higher views from weight ``> F*`` joins.
* **Weights** (WHEAT/AWARE). Quorum checks use the :class:`~network.consensus.WeightedQuorums`
  in force for the sequence number. A weight change is an ordered request
  (:func:`~network.consensus.config.reconfiguration`) that takes effect ``L`` sequence numbers
  after the checkpoint covering it; view-change certificates must be quorums under every weight
  configuration in force in the window.
* **Retransmission**. While it has work pending a replica multicasts STATUS every
  ``retransmit_ns``; peers answer with what it misses (pre-prepares, prepares, commits, batch
  contents, checkpoints, NEW-VIEW).

Byzantine behaviours (:mod:`network.consensus.byzantine`) are composed onto a replica: they see
its incoming packets and rewrite its outgoing messages before they are authenticated.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from network.consensus.auth import NodeKeys, message_digest
from network.consensus.config import RECONFIGURE_PREFIX, PBFTConfig, parse_reconfiguration
from network.consensus.ledger import StateMachine
from network.consensus.messages import (
    NULL_DIGEST,
    BatchContent,
    Checkpoint,
    Commit,
    FetchState,
    FetchViewChange,
    Message,
    NewView,
    Outgoing,
    Packet,
    Prepare,
    PrePrepare,
    RelayedViewChange,
    Reply,
    Request,
    StateTransfer,
    Status,
    ViewChange,
    ViewChangeAck,
    batch_digest,
)
from network.consensus.quorums import QuorumError, WeightedQuorums

__all__ = ["Behaviour", "Execution", "Replica", "Send"]


@dataclass(frozen=True, slots=True)
class Send:
    """A message a replica wants to send, before authentication (what behaviours rewrite)."""

    message: Message
    receivers: tuple[int, ...]
    delay_ns: int = 0


class Behaviour:
    """An honest replica's behaviour; Byzantine ones override these two hooks.

    ``receive`` decides whether the replica processes an incoming packet; ``send`` rewrites the
    list of messages it is about to send and may add pre-authenticated
    :class:`~network.consensus.messages.Outgoing` packets (replays).
    """

    name = "honest"

    def receive(self, replica: Replica, packet: Packet, now: int) -> bool:
        """Return whether ``replica`` processes ``packet`` (an honest replica processes all).

        Parameters
        ----------
        replica : Replica
            The replica this behaviour drives.
        packet : Packet
            The incoming packet.
        now : int
            Simulated time, in nanoseconds.

        Returns
        -------
        bool
            ``True`` to let the replica process the packet, ``False`` to drop it.
        """
        return True

    def send(self, replica: Replica, sends: list[Send], now: int) -> list[Send | Outgoing]:
        """Return the messages ``replica`` actually sends (an honest replica: ``sends``).

        Parameters
        ----------
        replica : Replica
            The replica this behaviour drives (its keys tag the returned :class:`Send` items).
        sends : list of Send
            The messages the protocol would send.
        now : int
            Simulated time, in nanoseconds.

        Returns
        -------
        list of Send or Outgoing
            The messages to authenticate and send, and pre-authenticated packets to send as
            they are.
        """
        return sends


HONEST = Behaviour()


@dataclass(frozen=True, slots=True)
class Execution:
    """One entry of a replica's execution log (read by the schedule checker).

    ``kind`` is ``"batch"`` (batch ``digest`` executed at ``seq``; ``requests`` the
    ``(client, timestamp)`` pairs actually applied), ``"checkpoint"`` (state ``digest`` after
    ``seq``) or ``"state"`` (state ``digest`` installed by state transfer at ``seq``).
    """

    kind: str
    seq: int
    digest: bytes
    requests: tuple[tuple[int, int], ...] = ()


class _Tally:
    """Senders of matching votes and their weight under one weight configuration."""

    __slots__ = ("quorums", "senders", "weight")

    def __init__(self, quorums: WeightedQuorums) -> None:
        self.quorums = quorums
        self.senders: set[int] = set()
        self.weight = 0

    def add(self, sender: int) -> None:
        if sender not in self.senders:
            self.senders.add(sender)
            self.weight += self.quorums.int_weights[sender]

    @property
    def is_quorum(self) -> bool:
        return self.weight >= self.quorums.quorum

    @property
    def is_weak(self) -> bool:
        return self.weight > self.quorums.f_star


class _Slot:
    """Log entry of one sequence number."""

    __slots__ = (
        "client_auths",
        "commit_sent",
        "commits",
        "committed",
        "committed_requests",
        "pp_batch",
        "pp_requests",
        "pp_view",
        "prepare_sent",
        "prepared_batch",
        "prepared_requests",
        "prepared_view",
        "prepares",
        "preprepared",
        "quorums",
        "seq",
    )

    def __init__(self, seq: int, quorums: WeightedQuorums) -> None:
        self.seq = seq
        self.quorums = quorums
        self.pp_view = -1
        self.pp_batch: bytes | None = None
        self.pp_requests: tuple[Request, ...] = ()
        self.client_auths: tuple = ()
        self.prepares: dict[tuple[int, bytes], _Tally] = {}
        self.commits: dict[tuple[int, bytes], _Tally] = {}
        self.prepare_sent = -1
        self.commit_sent: tuple[int, bytes] | None = None
        self.prepared_view = -1
        self.prepared_batch: bytes | None = None
        self.prepared_requests: tuple[Request, ...] = ()
        self.preprepared: dict[bytes, int] = {}
        self.committed: bytes | None = None
        self.committed_requests: tuple[Request, ...] = ()

    def prepare_tally(self, view: int, batch: bytes) -> _Tally:
        tally = self.prepares.get((view, batch))
        if tally is None:
            tally = self.prepares[(view, batch)] = _Tally(self.quorums)
        return tally

    def commit_tally(self, view: int, batch: bytes) -> _Tally:
        tally = self.commits.get((view, batch))
        if tally is None:
            tally = self.commits[(view, batch)] = _Tally(self.quorums)
        return tally


class _Rule:
    """Quorum and weak-certificate tests under several weight configurations at once."""

    __slots__ = ("configs",)

    def __init__(self, configs: list[WeightedQuorums]) -> None:
        self.configs = configs

    def quorum(self, ids: Iterable[int]) -> bool:
        ids = set(ids)
        return all(q.is_quorum(ids) for q in self.configs)

    def weak(self, ids: Iterable[int]) -> bool:
        ids = set(ids)
        return all(q.is_weak(ids) for q in self.configs)


class Replica:
    """One PBFT replica (see the module docstring for the protocol).

    Parameters
    ----------
    config : PBFTConfig
        Group settings (weights, windows, timeouts).
    replica_id : int
        This replica's id, in ``0 .. n-1``.
    keys : NodeKeys
        This replica's authentication endpoint (from a :class:`~network.consensus.KeyDirectory`).
    app : StateMachine
        The replicated application (e.g. the network's control ledger,
        :func:`~network.consensus.ledger_machine`).
    behaviour : Behaviour, optional
        Byzantine behaviour composed onto the replica; honest by default.

    Attributes
    ----------
    view : int
        Current view (never decreases).
    active : bool
        ``False`` while a view change is in progress.
    low_watermark : int
        ``h``, the last stable checkpoint.
    last_executed : int
        Highest sequence number executed.
    execution_log : list of Execution
        What this replica executed, in order.
    stats : dict
        Protocol counters (view changes, rejected pre-prepares, equivocations seen, ...).

    Examples
    --------
    >>> from network.consensus import KeyDirectory, WeightedQuorums, ledger_machine
    >>> keys = KeyDirectory.from_secrets(range(5), bits_per_channel=8192)
    >>> config = PBFTConfig(WeightedQuorums.uniform(4))
    >>> replica = Replica(config, 1, keys=keys.endpoint(1), app=ledger_machine(n_nodes=4))
    >>> replica.view, replica.is_primary, replica.deadline is None
    (0, False, True)
    """

    def __init__(
        self,
        config: PBFTConfig,
        replica_id: int,
        *,
        keys: NodeKeys,
        app: StateMachine,
        behaviour: Behaviour | None = None,
    ) -> None:
        if not isinstance(config, PBFTConfig):
            raise TypeError(f"config={config!r} must be a PBFTConfig")
        self.config = config
        self.id = config.quorums.check_replica(replica_id, "replica_id")
        if not isinstance(keys, NodeKeys):
            raise TypeError(f"keys={keys!r} must be a NodeKeys")
        if keys.node != self.id:
            raise ValueError(f"keys belong to node {keys.node!r}, not replica {self.id}")
        if not isinstance(app, StateMachine):
            raise TypeError(f"app={app!r} must implement apply/snapshot/restore")
        self.keys = keys
        self.app = app
        self.behaviour = HONEST if behaviour is None else behaviour
        self.n = config.n
        self.others = tuple(r for r in range(self.n) if r != self.id)
        self._k = config.checkpoint_interval
        self._window = config.watermark_window

        self.view = 0
        self.active = True
        self.low_watermark = 0
        self.last_executed = 0
        self.next_seq = 0
        self.schedule: list[tuple[int, WeightedQuorums]] = [(1, config.quorums)]
        self.slots: dict[int, _Slot] = {}
        self.batches: dict[bytes, tuple[Request, ...]] = {NULL_DIGEST: ()}
        self.requests: dict[bytes, Request] = {}
        self.pending: dict[tuple[int, int], Request] = {}
        self.client_auth: dict[tuple[int, int], dict] = {}
        self.queue: deque[tuple[int, int]] = deque()
        self.queued: set[tuple[int, int]] = set()
        self.assigned: set[tuple[int, int]] = set()
        self.forwarded: set[tuple[int, int]] = set()
        self.client_table: dict[int, tuple[int, bytes]] = {}

        snapshot = self._snapshot()
        self.stable_digest = message_digest(snapshot)
        self.own_checkpoints: dict[int, tuple[bytes, bytes]] = {0: (self.stable_digest, snapshot)}
        self.checkpoint_votes: dict[tuple[int, bytes], _Tally] = {}
        self.trusted_states: set[tuple[int, bytes]] = set()
        self.state_target: tuple[int, bytes] | None = None
        self.state_sources: list[int] = []
        self._fetch_round = 0

        self.changes: dict[int, dict[int, ViewChange]] = {}
        self.acks: dict[tuple[int, int, bytes], set[int]] = {}
        self.relays: dict[tuple[int, int, bytes], set[int]] = {}
        self.relayed: dict[bytes, ViewChange] = {}
        self.my_change: ViewChange | None = None
        self.my_changes: dict[int, ViewChange] = {}
        self.new_view_message: NewView | None = None
        self.pending_new_view: NewView | None = None
        self.failed_views = 0

        self._progress_deadline: int | None = None
        self._change_deadline: int | None = None
        self._retransmit_deadline: int | None = None
        self._tick_executed = -1
        self._now = 0
        self._out: list[Send | Outgoing] = []
        self.execution_log: list[Execution] = []
        self.stats: dict[str, int] = {}
        self._handlers = {
            Request: self._on_request,
            PrePrepare: self._on_preprepare,
            Prepare: self._on_prepare,
            Commit: self._on_commit,
            Checkpoint: self._on_checkpoint,
            ViewChange: self._on_view_change,
            ViewChangeAck: self._on_view_change_ack,
            NewView: self._on_new_view,
            Status: self._on_status,
            BatchContent: self._on_batch_content,
            FetchState: self._on_fetch_state,
            StateTransfer: self._on_state_transfer,
            FetchViewChange: self._on_fetch_view_change,
            RelayedViewChange: self._on_relayed_view_change,
        }

    # ----------------------------------------------------------------- driver interface
    @property
    def is_primary(self) -> bool:
        """Whether this replica is the primary of its current view."""
        return self.config.primary(self.view) == self.id

    @property
    def deadline(self) -> int | None:
        """Simulated time (ns) at which :meth:`on_timer` must be called, or ``None``."""
        times = [
            t
            for t in (self._progress_deadline, self._change_deadline, self._retransmit_deadline)
            if t is not None
        ]
        return min(times) if times else None

    def on_message(self, packet: Packet, now: int) -> list[Outgoing]:
        """Process one incoming packet at simulated time ``now``; returns packets to send."""
        self._now = now
        if not self.behaviour.receive(self, packet, now):
            return self._flush()
        message = packet.message
        handler = self._handlers.get(type(message))
        if handler is None:
            self._count("unknown_messages")
            return []
        sender = message.sender
        if type(message) is Request:
            if sender < self.n:
                self._count("bad_sender")
                return []
        elif not 0 <= sender < self.n or sender == self.id:
            self._count("bad_sender")
            return []
        if not self.keys.verify(sender, message.digest, packet.authenticator):
            return []
        handler(message, packet)
        return self._flush()

    def on_timer(self, now: int) -> list[Outgoing]:
        """Fire the timers due at ``now``; returns packets to send."""
        self._now = now
        if self._progress_deadline is not None and now >= self._progress_deadline:
            self._progress_deadline = None
            if self.active and self.pending:
                self._start_view_change(self.view + 1)
        if self._change_deadline is not None and now >= self._change_deadline:
            self._change_deadline = None
            if not self.active:
                self._start_view_change(self.view + 1)
        if self._retransmit_deadline is not None and now >= self._retransmit_deadline:
            self._retransmit_deadline = None
            self._retransmit()
        return self._flush()

    # ----------------------------------------------------------------- helpers
    def _count(self, name: str, amount: int = 1) -> None:
        self.stats[name] = self.stats.get(name, 0) + amount

    def _send(self, message: Message, receivers: tuple[int, ...]) -> None:
        self._out.append(Send(message, receivers))

    def _flush(self) -> list[Outgoing]:
        if self._retransmit_deadline is None and self._has_work():
            self._retransmit_deadline = self._now + self.config.retransmit_ns
        if not self._out:
            return []
        sends, self._out = self._out, []
        if self.behaviour is not HONEST:
            sends = self.behaviour.send(self, sends, self._now)
        out = []
        for item in sends:
            if isinstance(item, Outgoing):
                out.append(item)
                continue
            message = item.message
            tags = self.keys.authenticate(message.digest, item.receivers)
            out.append(Outgoing(Packet(message, tags), item.receivers, item.delay_ns))
        return out

    def quorums_for(self, seq: int) -> WeightedQuorums:
        """Return the weight configuration in force for sequence number ``seq``."""
        for start, quorums in reversed(self.schedule):
            if start <= seq:
                return quorums
        return self.schedule[0][1]

    def _schedule_from(self, floor: int) -> list[tuple[int, WeightedQuorums]]:
        """Schedule entries in force for some sequence number ``>= floor``."""
        entries = self.schedule
        return [
            entry
            for index, entry in enumerate(entries)
            if index + 1 == len(entries) or entries[index + 1][0] > floor
        ]

    def _rule(self) -> _Rule:
        """Collect configurations in force from one window below ``h`` on (view-change tests)."""
        configs: list[WeightedQuorums] = []
        for _, quorums in self._schedule_from(self.low_watermark - self._window + 1):
            if quorums not in configs:
                configs.append(quorums)
        return _Rule(configs)

    def _slot(self, seq: int) -> _Slot:
        slot = self.slots.get(seq)
        if slot is None:
            slot = self.slots[seq] = _Slot(seq, self.quorums_for(seq))
        return slot

    def _in_window(self, seq: int) -> bool:
        return self.low_watermark < seq <= self.low_watermark + self._window

    def _timeout(self) -> int:
        base = self.config.view_change_timeout_ns
        return min(base << min(self.failed_views, 62), self.config.max_view_change_timeout_ns)

    def _arm_progress(self) -> None:
        if self.active and self.pending and self._progress_deadline is None:
            self._progress_deadline = self._now + self._timeout()

    def _has_work(self) -> bool:
        if not self.active or self.pending or self.state_target is not None:
            return True
        return any(s > self.last_executed and slot.pp_view >= 0 for s, slot in self.slots.items())

    # ----------------------------------------------------------------- client requests
    def _on_request(self, request: Request, packet: Packet) -> None:
        entry = self.client_table.get(request.client)
        if entry is not None and request.timestamp <= entry[0]:
            if request.timestamp == entry[0]:
                reply = Reply(self.view, request.client, request.timestamp, entry[1], self.id)
                self._send(reply, (request.client,))
            return
        key = request.key
        if key not in self.pending:
            self.pending[key] = request
            self.requests[request.digest] = request
            self.client_auth[key] = packet.authenticator
        if self.active and self.is_primary:
            if key not in self.assigned and key not in self.queued:
                self.queue.append(key)
                self.queued.add(key)
            self._propose()
        elif self.active and key not in self.forwarded:
            # relay the client's own packet: the primary checks the client's tag itself
            self.forwarded.add(key)
            self._out.append(Outgoing(packet, (self.config.primary(self.view),)))
        self._arm_progress()

    def _propose(self) -> None:
        if not (self.active and self.is_primary):
            return
        config = self.config
        while (
            self.queue
            and self.next_seq - self.last_executed < config.max_in_flight
            and self.next_seq < self.low_watermark + self._window
        ):
            batch, auths = [], []
            while self.queue and len(batch) < config.max_batch:
                key = self.queue.popleft()
                self.queued.discard(key)
                request = self.pending.get(key)
                if request is None or key in self.assigned:
                    continue
                entry = self.client_table.get(request.client)
                if entry is not None and request.timestamp <= entry[0]:
                    continue
                batch.append(request)
                auths.append(self.client_auth.get(key, {}))
            if not batch:
                break
            self.next_seq += 1
            preprepare = PrePrepare(self.view, self.next_seq, tuple(batch), self.id, tuple(auths))
            slot = self._accept_preprepare(
                preprepare.view,
                preprepare.seq,
                preprepare.batch,
                preprepare.requests,
                preprepare.client_auths,
            )
            self._send(preprepare, self.others)
            self._check_prepared(slot)

    def _accept_preprepare(
        self, view: int, seq: int, batch: bytes, requests: tuple[Request, ...], auths: tuple
    ) -> _Slot:
        slot = self._slot(seq)
        slot.pp_view = view
        slot.pp_batch = batch
        slot.pp_requests = requests
        slot.client_auths = auths
        if slot.preprepared.get(batch, -1) < view:
            slot.preprepared[batch] = view
        self.batches[batch] = requests
        slot.prepare_tally(view, batch).add(self.config.primary(view))
        for request in requests:
            self.assigned.add(request.key)
        return slot

    def _authentic(self, preprepare: PrePrepare) -> bool:
        """Whether every request of a pre-prepare is known or carries a valid client tag."""
        auths = preprepare.client_auths
        for index, request in enumerate(preprepare.requests):
            if request.digest in self.requests:
                continue
            if request.client < self.n:
                return False
            entry = self.client_table.get(request.client)
            if entry is not None and request.timestamp <= entry[0]:
                continue  # executed already: skipped at execution whatever its tag
            auth = auths[index] if index < len(auths) else None
            if not auth or not self.keys.verify(request.client, request.digest, auth):
                return False
            self.requests[request.digest] = request
            self.pending.setdefault(request.key, request)
        return True

    # ----------------------------------------------------------------- normal case
    def _on_preprepare(self, message: PrePrepare, packet: Packet) -> None:
        view, seq = message.view, message.seq
        if view != self.view or not self.active or message.sender != self.config.primary(view):
            return
        if not self._in_window(seq):
            return
        slot = self.slots.get(seq)
        if slot is not None and slot.pp_view == view:
            if slot.pp_batch != message.batch:
                self._count("equivocations_seen")
            return
        if not self._authentic(message):
            self._count("unauthenticated_requests")
            return
        slot = self._accept_preprepare(
            view, seq, message.batch, message.requests, message.client_auths
        )
        slot.prepare_sent = view
        slot.prepare_tally(view, message.batch).add(self.id)
        self._send(Prepare(view, seq, message.batch, self.id), self.others)
        self._check_prepared(slot)
        self._arm_progress()

    def _on_prepare(self, message: Prepare, packet: Packet) -> None:
        if message.view != self.view or not self.active:
            return
        if message.sender == self.config.primary(message.view) or not self._in_window(message.seq):
            return
        slot = self._slot(message.seq)
        slot.prepare_tally(message.view, message.batch).add(message.sender)
        self._check_prepared(slot)

    def _check_prepared(self, slot: _Slot) -> None:
        view = self.view
        if slot.pp_view != view or (slot.commit_sent is not None and slot.commit_sent[0] == view):
            return
        tally = slot.prepares.get((view, slot.pp_batch))
        if tally is None or not tally.is_quorum:
            return
        slot.prepared_view = view
        slot.prepared_batch = slot.pp_batch
        slot.prepared_requests = slot.pp_requests
        slot.commit_sent = (view, slot.pp_batch)
        slot.commit_tally(view, slot.pp_batch).add(self.id)
        self._send(Commit(view, slot.seq, slot.pp_batch, self.id), self.others)
        self._check_committed(slot)

    def _on_commit(self, message: Commit, packet: Packet) -> None:
        if message.view > self.view or not self._in_window(message.seq):
            return
        slot = self._slot(message.seq)
        slot.commit_tally(message.view, message.batch).add(message.sender)
        self._check_committed(slot)

    def _check_committed(self, slot: _Slot) -> None:
        if slot.committed is not None:
            return
        for (_, batch), tally in slot.commits.items():
            if tally.is_quorum:
                requests = self.batches.get(batch)
                if requests is None:
                    return  # content arrives with BatchContent or a pre-prepare
                slot.committed = batch
                slot.committed_requests = requests
                self._execute()
                return

    def _on_batch_content(self, message: BatchContent, packet: Packet) -> None:
        slot = self.slots.get(message.seq)
        if slot is None or slot.committed is not None:
            return
        batch = batch_digest(message.requests)
        if any(b == batch and t.is_quorum for (_, b), t in slot.commits.items()):
            self.batches[batch] = message.requests
            self._check_committed(slot)

    # ----------------------------------------------------------------- execution
    def _execute(self) -> None:
        progressed = False
        while True:
            seq = self.last_executed + 1
            slot = self.slots.get(seq)
            if slot is None or slot.committed is None:
                break
            applied = []
            for request in slot.committed_requests:
                entry = self.client_table.get(request.client)
                if entry is not None and request.timestamp <= entry[0]:
                    continue
                result = self._apply(seq, request.operation)
                self.client_table[request.client] = (request.timestamp, result)
                applied.append(request.key)
                self._forget(request)
                reply = Reply(self.view, request.client, request.timestamp, result, self.id)
                self._send(reply, (request.client,))
            self.last_executed = seq
            self.execution_log.append(Execution("batch", seq, slot.committed, tuple(applied)))
            progressed = progressed or bool(applied)
            if seq % self._k == 0:
                self._take_checkpoint(seq)
        if progressed:
            self.failed_views = 0
            self._progress_deadline = None
            self._arm_progress()
        self._propose()

    def _forget(self, request: Request) -> None:
        key = request.key
        self.pending.pop(key, None)
        self.requests.pop(request.digest, None)
        self.client_auth.pop(key, None)
        self.forwarded.discard(key)
        self.assigned.discard(key)

    def _apply(self, seq: int, operation: bytes) -> bytes:
        if not operation.startswith(RECONFIGURE_PREFIX):
            return self.app.apply(operation)
        try:
            quorums = parse_reconfiguration(operation)
            if quorums.n != self.n:
                raise QuorumError(f"a reconfiguration must keep n={self.n}, not {quorums.n}")
        except QuorumError as exc:
            self._count("refused_reconfigurations")
            return b"refused: " + str(exc).encode()
        checkpoint = -(-seq // self._k) * self._k
        start = checkpoint + self._window + 1
        self.schedule = [(s, q) for s, q in self.schedule if s < start] + [(start, quorums)]
        return f"ok: weights take effect at sequence number {start}".encode()

    # ----------------------------------------------------------------- checkpoints, state
    def _snapshot(self) -> bytes:
        # the schedule entries still in force one window below the checkpoint: the same at
        # every correct replica, however far each has pruned its own list
        schedule = self._schedule_from(self.last_executed - self._window + 1)
        data = {
            "app": self.app.snapshot().decode("latin-1"),
            "clients": sorted([c, ts, r.hex()] for c, (ts, r) in self.client_table.items()),
            "schedule": [
                [start, list(q.int_weights), q.f, q.unsafe_quorum_fraction] for start, q in schedule
            ],
        }
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()

    def _restore(self, snapshot: bytes) -> None:
        data = json.loads(snapshot)
        self.app.restore(data["app"].encode("latin-1"))
        self.client_table = {c: (ts, bytes.fromhex(r)) for c, ts, r in data["clients"]}
        self.schedule = [
            (start, WeightedQuorums(tuple(w), f, unsafe))
            for start, w, f, unsafe in data["schedule"]
        ]

    def _take_checkpoint(self, seq: int) -> None:
        snapshot = self._snapshot()
        digest = message_digest(snapshot)
        self.own_checkpoints[seq] = (digest, snapshot)
        self.execution_log.append(Execution("checkpoint", seq, digest))
        self._send(Checkpoint(seq, digest, self.id), self.others)
        self._checkpoint_vote(seq, digest, self.id)

    def _on_checkpoint(self, message: Checkpoint, packet: Packet) -> None:
        if message.seq % self._k == 0:
            self._checkpoint_vote(message.seq, message.state_digest, message.sender)

    def _checkpoint_vote(self, seq: int, digest: bytes, sender: int) -> None:
        if seq <= self.low_watermark:
            return
        tally = self.checkpoint_votes.get((seq, digest))
        if tally is None:
            tally = self.checkpoint_votes[(seq, digest)] = _Tally(self.quorums_for(seq))
        tally.add(sender)
        if tally.is_weak:
            self.trusted_states.add((seq, digest))
        if not tally.is_quorum:
            return
        own = self.own_checkpoints.get(seq)
        if seq <= self.last_executed:
            if own is not None and own[0] == digest:
                self._make_stable(seq, digest)
            elif own is not None:
                self._count("divergent_checkpoints")
        elif self.state_target is None or seq > self.state_target[0]:
            self.state_target = (seq, digest)
            self.state_sources = sorted(tally.senders - {self.id})
            self._maybe_fetch_state()

    def _make_stable(self, seq: int, digest: bytes) -> None:
        if seq <= self.low_watermark:
            return
        self.low_watermark = seq
        self.stable_digest = digest
        self.slots = {s: slot for s, slot in self.slots.items() if s > seq}
        self.own_checkpoints = {s: v for s, v in self.own_checkpoints.items() if s >= seq}
        self.checkpoint_votes = {k: t for k, t in self.checkpoint_votes.items() if k[0] > seq}
        self.trusted_states = {k for k in self.trusted_states if k[0] >= seq}
        keep = {NULL_DIGEST}
        for slot in self.slots.values():
            keep.update(d for d in (slot.pp_batch, slot.prepared_batch, slot.committed) if d)
            keep.update(b for _, b in slot.commits)
        self.batches = {d: r for d, r in self.batches.items() if d in keep}
        self.schedule = self._schedule_from(seq - self._window + 1)
        if self.state_target is not None and self.state_target[0] <= seq:
            self.state_target = None
        self.next_seq = max(self.next_seq, seq)
        self._propose()

    def _maybe_fetch_state(self) -> None:
        target = self.state_target
        if target is None or target[0] <= self.last_executed:
            self.state_target = None
            return
        nxt = self.slots.get(self.last_executed + 1)
        if target[0] <= self.low_watermark + self._window and nxt is not None and nxt.committed:
            return  # normal execution will get there
        sources = [s for s in self.state_sources if s != self.id] or list(self.others)
        source = sources[self._fetch_round % len(sources)]
        self._fetch_round += 1
        self._send(FetchState(target[0], self.id), (source,))

    def _on_fetch_state(self, message: FetchState, packet: Packet) -> None:
        for seq in sorted(self.own_checkpoints, reverse=True):
            if seq >= message.seq and seq <= self.last_executed:
                digest, snapshot = self.own_checkpoints[seq]
                self._send(StateTransfer(seq, digest, snapshot, self.id), (message.sender,))
                return

    def _on_state_transfer(self, message: StateTransfer, packet: Packet) -> None:
        seq, digest = message.seq, message.state_digest
        if seq <= self.last_executed or (seq, digest) not in self.trusted_states:
            return
        if message_digest(message.snapshot) != digest:
            self._count("bad_state_transfers")
            return
        self._restore(message.snapshot)
        self.last_executed = seq
        self.own_checkpoints[seq] = (digest, message.snapshot)
        self.execution_log.append(Execution("state", seq, digest))
        for request in list(self.pending.values()):
            entry = self.client_table.get(request.client)
            if entry is not None and request.timestamp <= entry[0]:
                self._forget(request)
        self.next_seq = max(self.next_seq, seq)
        tally = self.checkpoint_votes.get((seq, digest))
        if (tally is not None and tally.is_quorum) or self.state_target == (seq, digest):
            self._make_stable(seq, digest)
        if self.state_target is not None and self.state_target[0] <= seq:
            self.state_target = None
        self._progress_deadline = None
        self._arm_progress()
        self._execute()
        if not self.active:
            if self.is_primary:
                self._try_new_view()
            if self.pending_new_view is not None:
                self._try_accept_new_view()

    # ----------------------------------------------------------------- view change
    def _start_view_change(self, view: int) -> None:
        if view <= self.view:
            return
        self.view = view
        self.active = False
        self._count("view_changes")
        prepared, preprepared, batches = [], [], {}
        for seq in sorted(self.slots):
            if seq <= self.low_watermark:
                continue
            slot = self.slots[seq]
            if slot.prepared_view >= 0:
                prepared.append((seq, slot.prepared_batch, slot.prepared_view))
                batches[slot.prepared_batch] = slot.prepared_requests
            for batch, pv in sorted(slot.preprepared.items()):
                preprepared.append((seq, batch, pv))
        checkpoints = tuple(
            (seq, cp[0])
            for seq, cp in sorted(self.own_checkpoints.items())
            if seq >= self.low_watermark
        )
        change = ViewChange(
            view,
            self.low_watermark,
            self.stable_digest,
            checkpoints,
            tuple(prepared),
            tuple(preprepared),
            tuple(batches[d] for d in sorted(batches)),
            self.id,
        )
        self.my_change = change
        # keep older views: a backup may still be checking the NEW-VIEW of one of them and ask
        # for their VIEW-CHANGEs (our own ones longest: nobody else can vouch for them alone)
        self.my_changes = {v: c for v, c in self.my_changes.items() if v >= view - 3}
        self.my_changes[view] = change
        self.changes = {v: c for v, c in self.changes.items() if v >= view - 1}
        self.changes.setdefault(view, {})[self.id] = change
        self.acks = {k: s for k, s in self.acks.items() if k[0] >= view}
        self.relays = {k: s for k, s in self.relays.items() if k[0] >= view}
        self.relayed = {d: c for d, c in self.relayed.items() if c.view >= view}
        self.new_view_message = None
        if self.pending_new_view is not None and self.pending_new_view.view < view:
            self.pending_new_view = None
        self.queue.clear()
        self.queued.clear()
        self.assigned.clear()
        self.forwarded.clear()
        self._progress_deadline = None
        self._change_deadline = None
        self.failed_views += 1
        self._send(change, self.others)
        self._arm_change_timer()
        if self.is_primary:
            self._try_new_view()
        if self.pending_new_view is not None:
            self._try_accept_new_view()

    def _on_view_change(self, message: ViewChange, packet: Packet) -> None:
        view = message.view
        if view < self.view or (view == self.view and self.active):
            if (
                view == self.view
                and self.active
                and self.is_primary
                and self.new_view_message is not None
            ):
                self._send(self.new_view_message, (message.sender,))
            elif self.my_change is not None and self.my_change.view > view:
                self._send(self.my_change, (message.sender,))
            return
        sender = message.sender
        if view > self.view:
            # keep each replica's highest future view only: a faulty one cannot fill the store
            # with view after view, and the join rule looks at the highest anyway
            for v in [v for v in self.changes if v > self.view and sender in self.changes[v]]:
                if v > view:
                    return
                if v < view:
                    del self.changes[v][sender]
        self.changes.setdefault(view, {})[sender] = message
        primary = self.config.primary(view)
        if primary != self.id and message.sender != primary:
            ack = ViewChangeAck(view, message.sender, message.digest, self.id)
            self._send(ack, (primary,))
        if view > self.view:
            self._maybe_join()
        else:
            self._arm_change_timer()
            if self.is_primary:
                self._try_new_view()
            if self.pending_new_view is not None:
                self._try_accept_new_view()

    def _arm_change_timer(self) -> None:
        """Start waiting for NEW-VIEW once VIEW-CHANGEs for our view weigh a quorum.

        Starting the timer earlier would let a replica that is alone in a view time out and move
        on by itself, and correct replicas would drift apart (TOCS 2002, Sec. 2.3.5).
        """
        if self.active or self._change_deadline is not None:
            return
        pending = self.pending_new_view
        if (pending is not None and pending.view == self.view) or self._rule().quorum(
            self.changes.get(self.view, {})
        ):
            self._change_deadline = self._now + self._timeout()

    def _maybe_join(self) -> None:
        """Join the highest view that replicas weighing more than ``F*`` have moved to."""
        highest: dict[int, int] = {}
        for view, changes in self.changes.items():
            if view > self.view:
                for sender in changes:
                    if sender != self.id:
                        highest[sender] = max(highest.get(sender, 0), view)
        rule = self._rule()
        if not rule.weak(highest):
            return
        for view in sorted(set(highest.values()), reverse=True):
            if rule.weak(s for s, v in highest.items() if v >= view):
                self._start_view_change(view)
                return

    def _on_view_change_ack(self, message: ViewChangeAck, packet: Packet) -> None:
        if message.view < self.view or self.config.primary(message.view) != self.id:
            return
        key = (message.view, message.origin, message.change_digest)
        self.acks.setdefault(key, set()).add(message.sender)
        if message.view == self.view and not self.active:
            self._try_new_view()

    def _decide(
        self, changes: dict[int, ViewChange], rule: _Rule
    ) -> tuple[int, bytes, tuple[tuple[int, bytes], ...], dict[bytes, tuple[Request, ...]]] | None:
        """Run the NEW-VIEW decision procedure of TOCS 2002, Sec. 3.2.4, with weighted quorums.

        Returns ``(checkpoint seq, checkpoint digest, decisions, batch contents)`` or ``None``
        while the view changes at hand do not yet determine the outcome.
        """
        reported: dict[tuple[int, bytes], set[int]] = {}
        for sender, change in changes.items():
            for entry in {*change.checkpoints, (change.stable_seq, change.stable_digest)}:
                reported.setdefault(entry, set()).add(sender)
        chosen = None
        for seq, digest in sorted(reported, key=lambda e: (-e[0], e[1])):
            low = [j for j, c in changes.items() if c.stable_seq <= seq]
            if rule.quorum(low) and rule.weak(reported[(seq, digest)]):
                chosen = (seq, digest)
                break
        if chosen is None:
            return None
        start = chosen[0]
        prepared = {j: {s: (d, v) for s, d, v in c.prepared} for j, c in changes.items()}
        preprepared: dict[int, dict[tuple[int, bytes], int]] = {}
        for j, c in changes.items():
            entries = preprepared[j] = {}
            for s, d, v in c.preprepared:
                entries[(s, d)] = max(v, entries.get((s, d), -1))
        contents: dict[bytes, tuple[Request, ...]] = {NULL_DIGEST: ()}
        for c in changes.values():
            for requests in c.batches:
                contents.setdefault(batch_digest(requests), requests)
        top = max(
            (s for p in prepared.values() for s in p if start < s <= start + self._window),
            default=start,
        )
        decisions = []
        used: dict[bytes, tuple[Request, ...]] = {}
        for seq in range(start + 1, top + 1):
            eligible = [j for j, c in changes.items() if c.stable_seq < seq]
            candidates = sorted(
                {(p[seq][1], p[seq][0]) for p in prepared.values() if seq in p}, reverse=True
            )
            choice = None
            for view, digest in candidates:
                agree = [
                    j
                    for j in eligible
                    if seq not in prepared[j]
                    or prepared[j][seq][1] < view
                    or prepared[j][seq] == (digest, view)
                ]
                if not rule.quorum(agree):
                    continue
                vouch = [j for j in changes if preprepared[j].get((seq, digest), -1) >= view]
                if rule.weak(vouch):
                    choice = digest
                    break
            if choice is None and rule.quorum(j for j in eligible if seq not in prepared[j]):
                choice = NULL_DIGEST
            if choice is None:
                return None
            requests = contents.get(choice, self.batches.get(choice))
            if requests is None:
                return None
            used[choice] = requests
            decisions.append((seq, choice))
        return chosen[0], chosen[1], tuple(decisions), used

    def _try_new_view(self) -> None:
        view = self.view
        if self.active or not self.is_primary:
            return
        rule = self._rule()
        accepted = {}
        for sender, change in self.changes.get(view, {}).items():
            support = {self.id, sender} | self.acks.get((view, sender, change.digest), set())
            if sender == self.id or rule.quorum(support):
                accepted[sender] = change
        if not rule.quorum(accepted):
            return
        decision = self._decide(accepted, rule)
        if decision is None:
            return
        cp_seq, cp_digest, decisions, contents = decision
        if cp_seq > self.last_executed:
            self._need_state(cp_seq, cp_digest, accepted)
            return
        message = NewView(
            view,
            tuple(sorted((j, c.digest) for j, c in accepted.items())),
            cp_seq,
            cp_digest,
            decisions,
            tuple(contents[d] for d in sorted(contents) if d != NULL_DIGEST),
            self.id,
        )
        self._send(message, self.others)
        self._install_new_view(message, contents)

    def _need_state(self, seq: int, digest: bytes, changes: dict[int, ViewChange]) -> None:
        """Fetch a NEW-VIEW's checkpoint that lies beyond our execution before going on."""
        self.trusted_states.add((seq, digest))
        if self.state_target is None or self.state_target[0] < seq:
            self.state_target = (seq, digest)
            self.state_sources = sorted(
                j
                for j, c in changes.items()
                if j != self.id and ((seq, digest) in c.checkpoints or c.stable_seq == seq)
            )
            self._maybe_fetch_state()

    def _on_new_view(self, message: NewView, packet: Packet) -> None:
        view = message.view
        if view < self.view or (view == self.view and self.active):
            return
        if message.sender != self.config.primary(view):
            return
        self.pending_new_view = message
        self._try_accept_new_view(ask=True)
        self._arm_change_timer()

    def _known_change(
        self, view: int, origin: int, digest: bytes, rule: _Rule
    ) -> ViewChange | None:
        change = self.changes.get(view, {}).get(origin)
        if change is not None and change.digest == digest:
            return change
        relayers = self.relays.get((view, origin, digest))
        if relayers and rule.weak(relayers):
            return self.relayed.get(digest)
        return None

    def _try_accept_new_view(self, *, ask: bool = False) -> None:
        """Install the pending NEW-VIEW if it checks out; ``ask``: fetch missing VIEW-CHANGEs.

        Fetches go out when a NEW-VIEW arrives and on the retransmission timer only: asking
        again on every relayed answer would make relays and fetches feed each other.
        """
        message = self.pending_new_view
        if message is None:
            return
        view = message.view
        if view < self.view or (view == self.view and self.active):
            self.pending_new_view = None
            return
        rule = self._rule()
        changes, missing = {}, []
        for origin, digest in message.changes:
            change = self._known_change(view, origin, digest, rule)
            if change is None:
                missing.append(origin)
            else:
                changes[origin] = change
        if missing:
            if ask:
                for origin in missing:
                    self._send(FetchViewChange(view, origin, self.id), self.others)
            return
        decision = self._decide(changes, rule) if rule.quorum(changes) else None
        if decision is None or decision[:3] != (
            message.checkpoint_seq,
            message.checkpoint_digest,
            message.decisions,
        ):
            self._count("bad_new_views")
            self.pending_new_view = None
            return
        if message.checkpoint_seq > self.last_executed:
            self._need_state(message.checkpoint_seq, message.checkpoint_digest, changes)
            return
        contents = {batch_digest(r): r for r in message.batches}
        contents[NULL_DIGEST] = ()
        for _, digest in message.decisions:
            if digest not in contents:
                self._count("bad_new_views")
                self.pending_new_view = None
                return
        self.view = view
        self._install_new_view(message, contents)

    def _install_new_view(self, message: NewView, contents: dict[bytes, tuple]) -> None:
        view = message.view
        self.active = True
        self.pending_new_view = None
        self.new_view_message = message
        self._change_deadline = None
        self._count("new_views")
        cp_seq, cp_digest = message.checkpoint_seq, message.checkpoint_digest
        own = self.own_checkpoints.get(cp_seq)
        if cp_seq > self.low_watermark and own is not None and own[0] == cp_digest:
            self._make_stable(cp_seq, cp_digest)
        primary = self.config.primary(view)
        top = cp_seq
        for seq, digest in message.decisions:
            top = max(top, seq)
            if seq <= self.low_watermark:
                continue
            slot = self._accept_preprepare(view, seq, digest, contents[digest], ())
            if self.id != primary:
                slot.prepare_sent = view
                slot.prepare_tally(view, digest).add(self.id)
                self._send(Prepare(view, seq, digest, self.id), self.others)
        for seq in sorted(self.slots):
            self._check_prepared(self.slots[seq])
        self.changes = {v: c for v, c in self.changes.items() if v >= view - 1}
        if self.id == primary:
            self.next_seq = max(top, self.last_executed, self.low_watermark)
            for key in self.pending:
                if key not in self.assigned and key not in self.queued:
                    self.queue.append(key)
                    self.queued.add(key)
        self._progress_deadline = None
        self._arm_progress()
        self._execute()

    def _on_fetch_view_change(self, message: FetchViewChange, packet: Packet) -> None:
        change = self.changes.get(message.view, {}).get(message.origin)
        if change is None and message.origin == self.id:
            change = self.my_changes.get(message.view)
        if change is not None:
            self._send(RelayedViewChange(change, self.id), (message.sender,))

    def _on_relayed_view_change(self, message: RelayedViewChange, packet: Packet) -> None:
        change = message.change
        if change.view < self.view or not 0 <= change.sender < self.n:
            return
        if change.sender == message.sender:  # relayed by its author: as good as direct
            self._on_view_change(change, packet)
            return
        key = (change.view, change.sender, change.digest)
        self.relays.setdefault(key, set()).add(message.sender)
        self.relayed[change.digest] = change
        if self.pending_new_view is not None:
            self._try_accept_new_view()

    # ----------------------------------------------------------------- retransmission
    def _retransmit(self) -> None:
        if not self._has_work():
            return
        stalled = self.last_executed == self._tick_executed
        self._tick_executed = self.last_executed
        if self.active:
            if stalled:  # a replica that executes keeps quiet: STATUS only when stuck
                status = Status(self.view, True, self.low_watermark, self.last_executed, self.id)
                self._send(status, self.others)
        else:
            if self.my_change is not None and self.my_change.view == self.view:
                self._send(self.my_change, self.others)
            if self.pending_new_view is not None:
                self._try_accept_new_view(ask=True)
        self._maybe_fetch_state()

    def _on_status(self, message: Status, packet: Packet) -> None:
        peer = (message.sender,)
        if message.view < self.view:
            if self.my_change is not None and self.my_change.view == self.view:
                self._send(self.my_change, peer)
            if self.active and self.is_primary and self.new_view_message is not None:
                self._send(self.new_view_message, peer)
            return
        if message.view > self.view or not self.active:
            return
        if not message.active:
            if self.is_primary and self.new_view_message is not None:
                self._send(self.new_view_message, peer)
            return
        if message.stable_seq < self.low_watermark:
            own = self.own_checkpoints.get(self.low_watermark)
            if own is not None:
                self._send(Checkpoint(self.low_watermark, own[0], self.id), peer)
        start = max(message.last_executed, self.low_watermark) + 1
        for seq in range(start, self.low_watermark + self._window + 1):
            slot = self.slots.get(seq)
            if slot is None:
                continue
            if slot.pp_view == self.view:
                if self.is_primary and slot.client_auths:
                    preprepare = PrePrepare(
                        self.view, seq, slot.pp_requests, self.id, slot.client_auths
                    )
                    self._send(preprepare, peer)
                elif slot.prepare_sent == self.view:
                    self._send(Prepare(self.view, seq, slot.pp_batch, self.id), peer)
            if slot.commit_sent is not None:
                self._send(Commit(slot.commit_sent[0], seq, slot.commit_sent[1], self.id), peer)
            if slot.committed is not None:
                self._send(BatchContent(seq, slot.committed_requests, self.id), peer)
