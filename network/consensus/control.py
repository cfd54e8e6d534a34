"""The control plane: PBFT among trusted nodes, inside the network simulation, keyed by its pools.

With ``SimulationConfig(consensus="pbft")`` the network's control ledger
(:class:`network.voting.ControlLedger`) is no longer written by the voting round in one place: a
*committee* of trusted nodes runs PBFT replicas (:class:`~network.consensus.Replica`) that order
the round's operations, and routing reads what they committed. :class:`ControlPlane` builds and
drives them.

Committee
    At most ``ConsensusConfig.replicas`` trusted nodes: the heaviest in the ledger at the start
    (all weigh 1 then), ties broken by a permutation drawn from the run's seed; replica ``i`` is
    the ``i``-th of them and the primary of view ``v`` is member ``v mod n``
    (``first_primary`` puts a chosen node first). The committee is fixed for the run: PBFT
    reconfiguration changes weights, not membership. With ``n`` members the group tolerates
    ``f = (n - 1) // 3`` faulty ones (none below four members).
Messages
    Through the simulation's :class:`~network.simulation.events.EventQueue`, per ordered pair of
    members along the shortest fibre path in km between them (through any key-holding nodes:
    classical messages need no trusted relay):
    ``L * n_g / c`` of fibre propagation (``n_g`` the group index, 1.468 for standard fibre at
    1550 nm: 4.9 us/km) plus ``processing_s`` per hop, plus a uniform jitter (messages overtake
    each other), with drops and duplicates at the configured probabilities.
Clients
    The voting round's operations are PBFT requests: one client per operation of a round (so
    the primary batches a round's requests, TOCS 2002 Sec. 5.1.4, once the first is under way),
    run by the voting process at the correct (not compromised) member with the most links; a
    client talks to its own host locally (no network key). A round starts from the committed
    ledger; while the previous round's requests are not all committed the new round is skipped
    (counted), so rounds never interleave. Operations and their results are those of
    :class:`network.voting.LedgerStateMachine`. The voting process stands for the honest
    voters' computation (the round itself models the Byzantine voters); if its host is cut off
    from key, the ledger stops.
What routing reads
    The ledger committed at the correct replica (host not compromised) that has executed the
    most; correct replicas execute the same operations in the same order (safety), so every
    other correct replica holds a prefix of the same history (:meth:`ControlPlane.agreement`).
    Exclusions take effect when committed, not when voted.
Keys
    Every directed channel between two members (a replica and a remote client) draws its key
    from the network's pools in chunks of ``key_chunk_bits``: over their link when they share
    one, else relayed by one-time pad through trusted nodes (:func:`network.keys.relay_otp`)
    along the fewest hops that avoid the nodes the committed ledger excludes (they would see
    the key). Excluded *links* stay usable for it: a pool holds only key that survived privacy
    amplification at the link's own QBER, and a committee that cut its own key paths could
    never reinstate them. A member whose every path crosses an excluded node is cut off (it
    falls behind; the others go on if they still form a quorum). The bits are taken
    from the pools and count as consumed, so authentication competes with the users' demands;
    relaying nodes act through their behaviours (a withholding node withholds authentication key
    too; a corrupting one makes the two ends' pads differ, so every tag on that channel fails),
    and compromised relays learn the key (counted as exposed). In ``"material"`` mode the pads
    are the pools' real bits; in ``"accounting"`` mode the pools count the bits and the pads are
    fresh bits from :mod:`secrets`. A channel without key cannot tag: the message goes
    unauthenticated and its receiver drops it; liveness stops until key is deposited again.
Byzantine trusted nodes
    A member with a Byzantine network behaviour is a faulty replica; its behaviour maps onto
    the protocol (:data:`REPLICA_BEHAVIOURS`): ``equivocate`` -> an equivocating primary (the
    backups in the network equivocator's second camp get the null batch), ``silent`` -> silent,
    ``collude`` -> one colluding coalition, ``false-reports`` -> false votes, ``withhold`` -> drops
    what it should relay (forwarded requests, relayed VIEW-CHANGEs), ``corrupt-relay`` -> alters
    what it relays (receivers reject it as forged); ``corrupt-states`` and ``passive-copy`` act in
    the quantum and key layers only and follow the protocol (their keys are still the
    adversary's). ``mixed`` maps the behaviour it drew.
Weights
    Each round also asks for the committee's new weights (the round's ledger weights of the
    members, in units of ``1 / weight_resolution``, at least 1) as a PBFT reconfiguration,
    ordered like any request and in force from the checkpoint after it plus the watermark
    window. Weights breaking ``F* < W/3`` are refused by every replica with the error; the group
    keeps its old weights (the ledger's node weights still change: voting goes on, only the
    quorum weights stay) and the refusal is recorded.

References
----------
M. Castro and B. Liskov, "Practical Byzantine fault tolerance and proactive recovery", ACM TOCS
20, 398 (2002). J. Sousa and A. Bessani, IEEE SRDS 2015 (weighted quorums). ITU-T G.652
single-mode fibre; group index 1.468 at 1550 nm (Corning SMF-28 product information).
"""

from __future__ import annotations

import itertools
import json
import math
import numbers
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import networkx as nx
import numpy as np

from network.byzantine import Collude, NodeBehaviour
from network.byzantine import Equivocate as NetworkEquivocate
from network.consensus.auth import DirectedKeyChannel, KeyDirectory, secret_bits
from network.consensus.byzantine import (
    AlterRelays,
    Coalition,
    Colluding,
    DropRelays,
    EquivocatingPrimary,
    FalseVotes,
    SilentReplica,
)
from network.consensus.client import Client, Completion
from network.consensus.config import (
    RECONFIGURE_PREFIX,
    PBFTConfig,
    parse_reconfiguration,
    reconfiguration,
)
from network.consensus.harness import LinkProfile, MessageNetwork
from network.consensus.quorums import WeightedQuorums
from network.consensus.replica import Behaviour, Replica
from network.errors import InsufficientKeyError, NoKeyPathError
from network.keys.relay import relay_otp
from network.keys.store import KeyStore
from network.routing import KeyRouter
from network.simulation.events import EventQueue, seconds
from network.voting import ControlLedger, LedgerOperation, LedgerStateMachine
from qkdcircuits._validation import SeedLike, as_generator

__all__ = ["REPLICA_BEHAVIOURS", "ConsensusConfig", "ControlPlane", "replica_behaviour"]

SPEED_OF_LIGHT_KM_PER_S = 299_792.458
"""Speed of light in vacuum (km/s)."""

REPLICA_BEHAVIOURS: Mapping[str, str] = {
    "equivocate": "equivocating primary",
    "silent": "silent",
    "collude": "colluding",
    "false-reports": "false votes",
    "withhold": "drops relays",
    "corrupt-relay": "alters relays",
    "corrupt-states": "follows the protocol",
    "passive-copy": "follows the protocol",
}
"""How each Byzantine network behaviour (:data:`network.byzantine.BEHAVIOURS`) acts as a replica
(``mixed`` takes the mapping of the behaviour it drew)."""

# one client per operation a voting round can produce: weights, accepted QBERs, nodes and links
# excluded and reinstated, and the committee's new weights
_CLIENTS = 7


def _time(value: object, name: str, *, positive: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name}={value!r} must be a finite number of seconds")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name}={value!r} must be {'> 0' if positive else '>= 0'} (seconds)")
    return seconds(float(value))


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")
    return int(value)


@dataclass(frozen=True)
class ConsensusConfig:
    """Settings of the PBFT control plane (module docstring).

    Parameters
    ----------
    replicas : int
        Largest committee (trusted nodes running a replica), >= 1.
    first_primary : node, optional
        A trusted node to put first in the committee (the primary of view 0).
    processing_s : float
        Store-and-forward time per hop of a message's path (s, >= 0).
    jitter_s : float
        Each message's extra delay is uniform in ``[0, jitter_s]`` (s, >= 0): reordering.
    drop_prob, duplicate_prob : float
        Probability that a message is lost, or delivered twice, in [0, 1).
    fibre_group_index : float
        Group index of the fibre, >= 1 (light travels ``c / n_g``).
    checkpoint_interval : int
        PBFT checkpoint period ``K`` (the watermark window is ``2 K``).
    max_batch : int
        Most requests per pre-prepare.
    max_in_flight : int
        Most sequence numbers the primary runs at once; requests arriving meanwhile wait and
        leave together in the next pre-prepare (1: a round's first request goes alone, the
        others in one batch after it).
    view_change_timeout_s, retransmit_s, retry_timeout_s : float
        Initial view-change timeout (doubling per failed view), retransmission period of the
        replicas, retry period of the clients (s, > 0).
    key_chunk_bits : int
        Bits a channel draws from the network's pools at once (a multiple of 64, >= 64).
    weight_resolution : int
        Replica weights are the ledger weights in units of ``1 / weight_resolution``.

    Raises
    ------
    ValueError
        For a value out of its range (the message names it).

    Examples
    --------
    >>> ConsensusConfig(replicas=4).fibre_ns_per_km
    4897
    >>> ConsensusConfig(key_chunk_bits=100)
    Traceback (most recent call last):
    ...
    ValueError: key_chunk_bits=100 must be a positive multiple of 64
    """

    replicas: int = 7
    first_primary: Hashable | None = None
    processing_s: float = 50e-6
    jitter_s: float = 100e-6
    drop_prob: float = 0.0
    duplicate_prob: float = 0.0
    fibre_group_index: float = 1.468
    checkpoint_interval: int = 8
    max_batch: int = 64
    max_in_flight: int = 1
    view_change_timeout_s: float = 0.2
    retransmit_s: float = 0.1
    retry_timeout_s: float = 0.3
    key_chunk_bits: int = 512
    weight_resolution: int = 1000

    def __post_init__(self) -> None:
        _count(self.replicas, "replicas")
        _count(self.checkpoint_interval, "checkpoint_interval")
        _count(self.max_batch, "max_batch")
        _count(self.max_in_flight, "max_in_flight")
        _count(self.weight_resolution, "weight_resolution")
        for name in ("processing_s", "jitter_s"):
            _time(getattr(self, name), name, positive=False)
        for name in ("view_change_timeout_s", "retransmit_s", "retry_timeout_s"):
            _time(getattr(self, name), name, positive=True)
        # LinkProfile checks the probabilities (and names them)
        LinkProfile(drop_prob=self.drop_prob, duplicate_prob=self.duplicate_prob)
        index = self.fibre_group_index
        if isinstance(index, bool) or not isinstance(index, numbers.Real) or not index >= 1:
            raise ValueError(f"fibre_group_index={index!r} must be a number >= 1")
        chunk = self.key_chunk_bits
        if (
            isinstance(chunk, bool)
            or not isinstance(chunk, numbers.Integral)
            or chunk < 64
            or chunk % 64
        ):
            raise ValueError(f"key_chunk_bits={chunk!r} must be a positive multiple of 64")

    @property
    def fibre_ns_per_km(self) -> int:
        """Propagation delay of the fibre (ns per km, rounded)."""
        return round(self.fibre_group_index / SPEED_OF_LIGHT_KM_PER_S * 1e9)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the first primary as a string)."""
        out = asdict(self)
        if self.first_primary is not None:
            out["first_primary"] = str(self.first_primary)
        return out


def replica_behaviour(
    behaviour: NodeBehaviour | None,
    *,
    coalition: Coalition | None = None,
    side_b: frozenset[int] | None = None,
) -> Behaviour | None:
    """Return the replica behaviour of a node with network behaviour ``behaviour``.

    Parameters
    ----------
    behaviour : NodeBehaviour or None
        The node's behaviour in the network (``None``: honest).
    coalition : Coalition, optional
        The coalition that ``collude`` members join.
    side_b : frozenset of int, optional
        Replicas an equivocating primary shows the null batch.

    Returns
    -------
    Behaviour or None
        ``None`` where the node follows the protocol (:data:`REPLICA_BEHAVIOURS`).

    Examples
    --------
    >>> from network.byzantine import PassiveCopy, Silent
    >>> type(replica_behaviour(Silent())).__name__, replica_behaviour(PassiveCopy()) is None
    ('SilentReplica', True)
    """
    if behaviour is None:
        return None
    policy = behaviour.unwrapped
    name = type(policy).name
    if name == "equivocate":
        return EquivocatingPrimary(side_b)
    if name == "silent":
        return SilentReplica()
    if name == "collude":
        if coalition is None:
            raise ValueError("a colluding node needs the coalition it joins")
        return Colluding(coalition)
    if name == "false-reports":
        return FalseVotes()
    if name == "withhold":
        return DropRelays()
    if name == "corrupt-relay":
        return AlterRelays()
    return None


class ControlPlane:
    """PBFT replicas of a committee of trusted nodes on the simulation's event queue.

    Parameters
    ----------
    topology : QKDTopology
        The network.
    nodes : sequence
        The ledger's nodes, in index order (:attr:`network.voting.LinkGraph.nodes`).
    ledger : ControlLedger
        The initial control state (every replica starts from it).
    store : KeyStore
        The network's key pools (authentication key is drawn from them).
    queue : EventQueue
        The simulation's event queue.
    behaviours : mapping node -> NodeBehaviour, optional
        The network's Byzantine nodes.
    config : ConsensusConfig, optional
    seed : int or numpy.random.Generator, optional
        Ties in the committee choice, message delays, drops and duplicates.
    relay_rng : numpy.random.Generator, optional
        Decisions of the relaying nodes' behaviours on authentication key.
    on_commit : callable, optional
        Called with the new ledger whenever the committed ledger advances.

    Raises
    ------
    ValueError
        If the topology has no trusted node, ``first_primary`` is not one, two members are not
        connected by fibre, or the initial weights admit no safe quorum.
    """

    def __init__(
        self,
        topology: Any,
        *,
        nodes: Sequence[Hashable],
        ledger: ControlLedger,
        store: KeyStore,
        queue: EventQueue,
        behaviours: Mapping[Hashable, NodeBehaviour] | None = None,
        config: ConsensusConfig | None = None,
        seed: SeedLike = None,
        relay_rng: np.random.Generator | None = None,
        on_commit: Callable[[ControlLedger], None] | None = None,
    ) -> None:
        config = ConsensusConfig() if config is None else config
        if not isinstance(config, ConsensusConfig):
            raise TypeError(f"config={config!r} must be a ConsensusConfig")
        if not isinstance(ledger, ControlLedger):
            raise TypeError(f"ledger={ledger!r} must be a ControlLedger")
        rng = as_generator(seed, "seed")
        self.config = config
        self.store, self.queue = store, queue
        # paths of relayed authentication key: they avoid the excluded nodes (module docstring)
        self.router = KeyRouter(topology.routing_graph)
        self.behaviours = dict(behaviours or {})
        self.relay_rng = (
            relay_rng if relay_rng is not None else np.random.default_rng(rng.spawn(1)[0])
        )
        self.on_commit = on_commit
        self._nodes = tuple(nodes)
        self._index = {node: i for i, node in enumerate(nodes)}
        self._initial = ledger
        self._excluded = ledger.excluded_nodes
        self.committee = self._choose(topology, ledger, rng)
        self.n = n = len(self.committee)
        self.compromised = frozenset(
            i for i, node in enumerate(self.committee) if self._compromised(node)
        )
        correct = [i for i in range(n) if i not in self.compromised]
        # the voting process runs at the best-linked correct member (most links, then committee
        # order): the clients' key paths should not all hang on one neighbour
        degree = topology.routing_graph.degree
        hosts = correct or list(range(n))
        self.host = self.committee[min(hosts, key=lambda i: (-degree(self.committee[i]), i))]
        self.requested_weights = self._quantised(ledger.weights)
        quorums = WeightedQuorums(self.requested_weights)
        self.pbft = PBFTConfig(
            quorums,
            checkpoint_interval=config.checkpoint_interval,
            max_batch=config.max_batch,
            max_in_flight=config.max_in_flight,
            view_change_timeout_ns=seconds(config.view_change_timeout_s),
            retransmit_ns=seconds(config.retransmit_s),
        )
        self.network = MessageNetwork(
            profile=LinkProfile(
                min_delay_ns=seconds(config.processing_s),
                max_delay_ns=seconds(config.processing_s + config.jitter_s),
                drop_prob=config.drop_prob,
                duplicate_prob=config.duplicate_prob,
            ),
            seed=rng,
            queue=queue,
        )
        self.client_ids = tuple(range(n, n + _CLIENTS))
        self._place(topology)
        self.keys = self._directory()
        self.behaviour_names: dict[Hashable, str] = {}
        self.replicas = self._replicas(correct)
        self.clients = [
            Client(
                self.pbft,
                cid,
                keys=self.keys.endpoint(cid),
                retry_timeout_ns=seconds(config.retry_timeout_s),
            )
            for cid in self.client_ids
        ]
        for cid, client in zip(self.client_ids, self.clients, strict=True):
            self.network.add(cid, client)
        self.correct = [self.replicas[i] for i in correct]
        self.ledger = ledger
        self._executed = -1
        self._seen = [0] * _CLIENTS
        self._round_start: int | None = None
        self.rounds = {"submitted": 0, "skipped": 0, "committed": 0}
        self.round_latency_ns: list[int] = []
        self.operations = {"committed": 0, "errors": 0}
        self.reweighting = {"applied": 0, "refused": 0}
        self.refused: list[dict[str, Any]] = []
        self.key = {"bits": 0, "exposed_bits": 0, "draws": 0, "short": 0, "withheld": 0}
        self._retry_at: dict[tuple[Hashable, Hashable], int] = {}
        self.network.observers.append(self._observe)
        self.network.start()

    # ----------------------------------------------------------------- set-up
    def _compromised(self, node: Hashable) -> bool:
        behaviour = self.behaviours.get(node)
        return behaviour is not None and behaviour.compromised

    def _choose(self, topology: Any, ledger: ControlLedger, rng: np.random.Generator) -> tuple:
        candidates = [node for node in self._index if topology.kind(node) == "trusted"]
        if not candidates:
            raise ValueError("consensus needs trusted nodes to run replicas; the topology has none")
        rank = rng.permutation(len(candidates))
        weights = ledger.weights
        order = sorted(
            range(len(candidates)),
            key=lambda i: (-weights[self._index[candidates[i]]], int(rank[i])),
        )
        committee = [candidates[i] for i in order[: self.config.replicas]]
        first = self.config.first_primary
        if first is not None:
            if first not in candidates:
                raise ValueError(f"first_primary={first!r} is not a trusted node")
            if first in committee:
                committee.remove(first)
            elif len(committee) == self.config.replicas:
                committee.pop()
            committee.insert(0, first)
        return tuple(committee)

    def _quantised(self, weights: Sequence[float]) -> tuple[int, ...]:
        resolution = self.config.weight_resolution
        return tuple(
            max(1, round(weights[self._index[node]] * resolution)) for node in self.committee
        )

    def _hosts(self) -> dict[int, Hashable]:
        hosts = dict(enumerate(self.committee))
        hosts.update(dict.fromkeys(self.client_ids, self.host))
        return hosts

    def _place(self, topology: Any) -> None:
        """Delays of every ordered pair of nodes of the group along the shortest fibre path."""
        config = self.config
        per_km = config.fibre_ns_per_km
        processing = seconds(config.processing_s)
        jitter = seconds(config.jitter_s)
        hosts = self._hosts()
        graph = topology.routing_graph
        delay: dict[tuple[Hashable, Hashable], int] = {}
        for a in self.committee:
            for b in self.committee:
                if a == b:
                    continue
                try:
                    path = nx.shortest_path(graph, a, b, weight="length_km")
                except nx.NetworkXNoPath:
                    raise ValueError(
                        f"committee members {a!r} and {b!r} are not connected by fibre"
                    ) from None
                km = sum(graph.edges[u, v]["length_km"] for u, v in itertools.pairwise(path))
                delay[(a, b)] = round(km * per_km) + (len(path) - 1) * processing
        for x, hx in hosts.items():
            for y, hy in hosts.items():
                if x == y or (x in self.client_ids and y in self.client_ids):
                    continue
                base = delay.get((hx, hy), processing)
                profile = LinkProfile(
                    min_delay_ns=base,
                    max_delay_ns=base + jitter,
                    drop_prob=config.drop_prob,
                    duplicate_prob=config.duplicate_prob,
                )
                self.network.set_link(x, y, profile)
        self.delays_ns = delay

    def _directory(self) -> KeyDirectory:
        directory = KeyDirectory()
        hosts = self._hosts()
        chunk = self.config.key_chunk_bits
        for x, hx in hosts.items():
            for y, hy in hosts.items():
                if x == y or (x in self.client_ids and y in self.client_ids):
                    continue
                if hx == hy:  # a client and its own host: local, no network key
                    channel = DirectedKeyChannel.from_secrets(chunk, replenish_bits=chunk)
                else:
                    channel = DirectedKeyChannel.supplied(partial(self._supply, hx, hy))
                directory.add(x, y, channel)
        return directory

    def _replicas(self, correct: list[int]) -> list[Replica]:
        members = [
            i
            for i, node in enumerate(self.committee)
            if isinstance(getattr(self.behaviours.get(node), "unwrapped", None), Collude)
        ]
        half = correct[len(correct) // 2 :]
        coalition = Coalition(members, half)
        replicas = []
        for i, node in enumerate(self.committee):
            behaviour = self.behaviours.get(node)
            side_b = None
            policy = None if behaviour is None else behaviour.unwrapped
            if isinstance(policy, NetworkEquivocate):
                # the backups in the network equivocator's second camp get the null batch
                others = frozenset(j for j in range(self.n) if j != i)
                side_b = frozenset(j for j in others if policy.camp(self.committee[j]))
                if not side_b or side_b == others:
                    side_b = None  # one camp only: split the backups in halves instead
            mapped = replica_behaviour(behaviour, coalition=coalition, side_b=side_b)
            if behaviour is not None and behaviour.compromised:
                self.behaviour_names[node] = "honest" if mapped is None else mapped.name
            replica = Replica(
                self.pbft,
                i,
                keys=self.keys.endpoint(i),
                app=LedgerStateMachine(self._initial),
                behaviour=mapped,
            )
            replicas.append(replica)
            self.network.add(i, replica)
        return replicas

    # ----------------------------------------------------------------- keys
    def _supply(
        self, a: Hashable, b: Hashable, n_bits: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Fresh key for the channel ``a -> b`` from the network's pools (module docstring).

        After a failed draw the pair waits one retransmission period before it tries again, so
        that a withholding relay does not burn a block of key on every message.
        """
        now = self.queue.now
        if self._retry_at.get((a, b), -1) > now:
            return None
        self.key["draws"] += 1
        try:
            path = self.router.shortest_path(a, b)
        except NoKeyPathError:
            return self._failed(a, b, "short")
        want = -(-max(n_bits, self.config.key_chunk_bits) // 64) * 64
        delivery = None
        for size in dict.fromkeys((want, -(-n_bits // 64) * 64)):
            try:
                delivery = relay_otp(
                    self.store,
                    path,
                    size,
                    link_of=self.router.link_of,
                    behaviours=self.behaviours,
                    rng=self.relay_rng,
                )
                break
            except InsufficientKeyError:
                continue
        if delivery is None:
            return self._failed(a, b, "short")
        self.key["bits"] += delivery.consumed_bits
        if delivery.exposed:
            self.key["exposed_bits"] += delivery.n_bits
        if not delivery.delivered:
            return self._failed(a, b, "withheld")
        if delivery.source_key.bits is not None:
            return delivery.source_key.bits, delivery.target_key.bits
        sent = secret_bits(delivery.n_bits)
        return sent, sent if delivery.correct else secret_bits(delivery.n_bits)

    def _failed(self, a: Hashable, b: Hashable, why: str) -> None:
        self.key[why] += 1
        self._retry_at[(a, b)] = self.queue.now + self.pbft.retransmit_ns

    # ----------------------------------------------------------------- rounds
    @property
    def busy(self) -> bool:
        """Whether requests of the last round are still uncommitted."""
        return any(not client.idle for client in self.clients)

    def submit_round(self, operations: Sequence[LedgerOperation], weights: Sequence[float]) -> bool:
        """Submit one voting round's operations, and the committee's new weights if they changed.

        Parameters
        ----------
        operations : sequence of LedgerOperation
            The round's operations (:attr:`network.voting.RoundOutcome.operations`).
        weights : sequence of float
            The node weights the round proposes, in ledger order (the members' ones become the
            replica weights, quantised).

        Returns
        -------
        bool
            ``False`` if the round was skipped because the previous one is still pending.
        """
        if self.busy:
            self.rounds["skipped"] += 1
            return False
        requests = [LedgerStateMachine.encode(op) for op in operations]
        proposal = self._quantised(weights)
        if proposal != self.requested_weights:
            requests.append(reconfiguration(list(proposal)))
            self.requested_weights = proposal
        now = self.queue.now
        for index, request in enumerate(requests):
            client = self.clients[min(index, _CLIENTS - 1)]
            self.network.inject(client.id, client.submit(request, now))
        self.rounds["submitted"] += 1
        self._round_start = now
        return True

    def _observe(self) -> None:
        """After every event of the group: results the clients accepted, the committed ledger."""
        for index, client in enumerate(self.clients):
            done = client.completed
            if len(done) > self._seen[index]:
                for completion in done[self._seen[index] :]:
                    self._completed(completion)
                self._seen[index] = len(done)
        if self._round_start is not None and not self.busy:
            self.rounds["committed"] += 1
            self.round_latency_ns.append(self.queue.now - self._round_start)
            self._round_start = None
        if not self.correct:
            return
        lead = max(self.correct, key=lambda r: r.last_executed)
        if lead.last_executed != self._executed:
            self._executed = lead.last_executed
            ledger = lead.app.ledger
            if ledger.version != self.ledger.version:
                self.ledger = ledger
                if ledger.excluded_nodes != self._excluded:
                    self._excluded = ledger.excluded_nodes
                    self.router.set_exclusions(
                        nodes=[self._nodes[i] for i in sorted(self._excluded)]
                    )
                if self.on_commit is not None:
                    self.on_commit(ledger)

    def _completed(self, completion: Completion) -> None:
        if completion.operation.startswith(RECONFIGURE_PREFIX):
            if completion.result.startswith(b"refused"):
                self.reweighting["refused"] += 1
                weights = json.loads(completion.operation[len(RECONFIGURE_PREFIX) :])["weights"]
                self.refused.append(
                    {
                        "time_s": completion.completed_ns / 1e9,
                        "weights": weights,
                        "error": completion.result.decode(errors="replace"),
                    }
                )
            else:
                self.reweighting["applied"] += 1
                quorums = parse_reconfiguration(completion.operation)
                for client in self.clients:
                    client.learn_quorums(quorums)
            return
        self.operations["committed"] += 1
        if b'"error"' in completion.result:
            self.operations["errors"] += 1

    # ----------------------------------------------------------------- reading
    def agreement(self) -> bool:
        """Return whether the correct replicas executed one history.

        One history: each execution log is a prefix of the longest, and the ledgers are equal at
        equal execution points.
        """
        logs = [
            [(e.seq, e.digest) for e in r.execution_log if e.kind == "batch"] for r in self.correct
        ]
        if not logs:
            return True
        longest = max(logs, key=len)
        if any(log != longest[: len(log)] for log in logs):
            return False
        by_point: dict[int, ControlLedger] = {}
        for replica in self.correct:
            known = by_point.setdefault(replica.last_executed, replica.app.ledger)
            if known != replica.app.ledger:
                return False
        return True

    def summary(self) -> dict[str, Any]:
        """Return the control plane's metrics (JSON-ready; definitions in the keys' names).

        ``committed_operations``: ledger operations whose result the voting process accepted;
        ``view_changes``: views started, summed over the correct replicas; ``messages``: sent, one
        per receiver; ``auth_key_bits``: bits taken from the network's pools for authentication
        (every hop of a relayed draw); ``unauthenticated_sends``: receivers left without a tag
        for lack of key; ``rejected``: messages the correct replicas dropped, by verdict
        (forged, replayed, missing tag, ...); ``refused_reweightings``: the re-weightings the
        replicas refused (the group kept its weights).
        """
        correct = self.correct
        lead = max(correct, key=lambda r: r.last_executed) if correct else self.replicas[0]
        stats: dict[str, int] = {}
        rejected: dict[str, int] = {}
        for replica in correct:
            for key, value in replica.stats.items():
                stats[key] = stats.get(key, 0) + value
            for verdict, count in replica.keys.stats.verdicts.items():
                if verdict != "accepted":
                    rejected[verdict] = rejected.get(verdict, 0) + count
        unauthenticated = sum(r.keys.stats.unauthenticated for r in self.replicas)
        unauthenticated += sum(c.keys.stats.unauthenticated for c in self.clients)
        latency = self.round_latency_ns
        quorums = lead.quorums_for(1 << 62)
        return {
            "committee": [str(node) for node in self.committee],
            "faulty": [str(self.committee[i]) for i in sorted(self.compromised)],
            "replica_behaviours": {str(k): v for k, v in self.behaviour_names.items()},
            "f": self.pbft.quorums.f,
            "weights": list(quorums.int_weights),
            "view": lead.view,
            "primary": str(self.committee[self.pbft.primary(lead.view)]),
            "executed_seq": lead.last_executed,
            "ledger_version": self.ledger.version,
            "rounds_submitted": self.rounds["submitted"],
            "rounds_skipped": self.rounds["skipped"],
            "rounds_committed": self.rounds["committed"],
            "mean_round_latency_ms": (float(np.mean(latency)) / 1e6 if latency else math.nan),
            "committed_operations": self.operations["committed"],
            "operation_errors": self.operations["errors"],
            "view_changes": stats.get("view_changes", 0),
            "new_views": stats.get("new_views", 0),
            "messages": self.network.sent,
            "messages_dropped": self.network.dropped,
            "auth_key_bits": self.key["bits"],
            "auth_key_exposed_bits": self.key["exposed_bits"],
            "auth_key_draws_failed": self.key["short"] + self.key["withheld"],
            "unauthenticated_sends": unauthenticated,
            "rejected": rejected,
            "reweightings_applied": self.reweighting["applied"],
            "refused_reweightings": list(self.refused),
            "agreement": self.agreement(),
        }
