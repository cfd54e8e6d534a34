"""Where a key-management entity's keys come from: the key pools of a simulated QKD network.

The KMEs of :mod:`network.kms.service` draw key through a small protocol, :class:`KeySupply`:
``draw(master_node, slave_node, n_bits, route_type=...)`` hands back the bits the master's
KME and the slave's KME hold (identical when the delivery succeeded) and a record of how they
travelled. :class:`NetworkKeySupply` implements it over the network layer in material mode:

* every QKD link of a :class:`~network.topology.QKDTopology` has a pool in a
  :class:`~network.keys.KeyStore` (real secret bits from the operating system, both ends
  identical), filled at the link's secret-key rate (:class:`~network.links.LinkModel`, from
  :mod:`qkdcircuits`) as simulated time advances (:meth:`NetworkKeySupply.advance`);
* a key between two KMEs that share a link is the next block of that link's pool
  (``"direct"``); between distant KMEs it is relayed hop by hop with one-time pads through
  trusted nodes (``"indirect"``, :func:`~network.keys.relay_otp`, on the shortest path) or
  sent as Shamir shares over node-disjoint paths (``"multipath"``,
  :func:`~network.keys.relay_multipath`), routes from :class:`~network.routing.KeyRouter`;
* Byzantine behaviours (:mod:`network.byzantine`) act as in the simulation: corrupted states
  raise the QBER of the node's links (and so lower their key rate), relays withhold or
  corrupt key, and every compromised node that handles a key in the clear exposes it;
* with ``defense="abft"``, adaptive weighted voting (:func:`network.voting.voting_round`)
  runs every ``vote_interval_s`` on the QBER the links measured and the failed deliveries,
  and routing avoids the nodes and links it excludes.

Key confirmation
    A relayed key that arrives altered is caught before any SAE sees it: the two KMEs compare
    the key (modelled as ideal confirmation, as :mod:`network.keys.multipath` does for shares;
    a real KME sends a universal_2 hash tag keyed with pool key, J. L. Carter and
    M. N. Wegman, J. Comput. Syst. Sci. 18, 143 (1979)), and the draw fails with
    :class:`KeyRelayError`. A compromised node still learns a key it relays: that is reported,
    not refused (:attr:`SuppliedKey.exposed`), because no honest party can see it.

Examples
--------
>>> from network.topology import scenario
>>> supply = NetworkKeySupply(scenario("cambridge"))
>>> supply.advance(0.01)
>>> key = supply.draw("crl-user", "eed-user", 256)
>>> key.route_type, key.paths, key.exposed
('indirect', (('crl-user', 'ENG', 'eed-user'),), False)
>>> bool((key.master_bits == key.slave_bits).all()), key.master_bits.size
(True, 256)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from network.byzantine import NodeBehaviour, effective_misalignment, link_attack_probs
from network.errors import NoKeyPathError, QKDNetworkError
from network.keys import KeyStore, relay_multipath, relay_otp
from network.links import LinkModel
from network.routing import KeyRouter
from network.simulation.resources import FluctuationConfig, ResourceProcesses
from network.topology import QKDTopology
from network.voting import ControlLedger, DeliveryLog, LinkGraph, VotingRule, voting_round
from qkdcircuits._validation import (
    SeedLike,
    as_generator,
    check_choice,
    check_non_negative,
    check_positive,
    check_positive_int,
)

__all__ = [
    "DEFENSES",
    "ROUTE_TYPES",
    "KeyRelayError",
    "KeySupply",
    "NetworkClock",
    "NetworkKeySupply",
    "RouteUnavailableError",
    "SuppliedKey",
    "majority_threshold",
    "speed_factor",
]

ROUTE_TYPES: tuple[str, str, str] = ("direct", "indirect", "multipath")
"""Values of the ``abft_route_type`` extension: one link, hop-by-hop OTP, Shamir shares."""

DEFENSES: tuple[str, str] = ("none", "abft")
"""``"none"``: trust every node; ``"abft"``: adaptive weighted voting drives exclusions."""


class RouteUnavailableError(QKDNetworkError):
    """The requested route type cannot join the two KMEs now (e.g. ``direct`` without a link)."""


class KeyRelayError(QKDNetworkError):
    """A relayed key did not arrive intact (withheld, or altered and refused by confirmation).

    The pool bits it used are spent; the failure is evidence for the adaptive defence.
    """


def majority_threshold(n_paths: int) -> int:
    """Shares needed to rebuild a multipath key: a strict majority of the ``n_paths`` paths.

    With ``k = floor(n / 2) + 1`` the key stays secret while compromised relays sit on fewer
    than ``k`` paths and is still delivered while withholding or corrupting relays sit on at
    most ``n - k`` of them (:mod:`network.keys.multipath`).

    Examples
    --------
    >>> [majority_threshold(n) for n in (2, 3, 4, 5)]
    [2, 2, 3, 3]
    """
    return check_positive_int(n_paths, "n_paths") // 2 + 1


@dataclass(frozen=True, eq=False)
class SuppliedKey:
    """Key bits drawn for one master/slave KME pair, and how they travelled.

    Attributes
    ----------
    master_bits, slave_bits : numpy.ndarray
        The ``n_bits`` key bits (read-only ``uint8`` 0/1 arrays) the master's and the slave's
        KME hold; equal (a draw whose keys differ raises :class:`KeyRelayError`).
    route_type : str
        ``"direct"``, ``"indirect"`` or ``"multipath"`` (a one-hop path is ``"direct"``).
    paths : tuple of tuple
        The node path(s) the key (or its shares) took, master's node first.
    exposed : bool
        Whether the adversary learned the key: a compromised node handled it in the clear (an
        end node, or a relay of a single path), or compromised relays saw ``threshold`` shares.
    exposed_to : tuple
        The compromised nodes that handled the key or a share.
    threshold : int
        Shares needed to rebuild the key (1 for a single path).
    consumed_bits : int
        Pool bits the draw used on all hops.
    """

    master_bits: np.ndarray = field(repr=False)
    slave_bits: np.ndarray = field(repr=False)
    route_type: str
    paths: tuple[tuple[Hashable, ...], ...]
    exposed: bool
    exposed_to: tuple[Hashable, ...]
    threshold: int = 1
    consumed_bits: int = 0

    def __post_init__(self) -> None:
        for name in ("master_bits", "slave_bits"):
            bits = np.asarray(getattr(self, name))
            if bits.dtype != np.uint8 or bits.ndim != 1:
                raise ValueError(f"{name} must be a 1-D uint8 array")
            if bits.flags.writeable:
                bits = bits.copy()
                bits.setflags(write=False)
            object.__setattr__(self, name, bits)
        if self.master_bits.size != self.slave_bits.size:
            raise ValueError("master_bits and slave_bits differ in length")
        check_choice(self.route_type, "route_type", ROUTE_TYPES)

    @property
    def n_bits(self) -> int:
        """Length of the key in bits."""
        return int(self.master_bits.size)


@runtime_checkable
class KeySupply(Protocol):
    """What a KME needs from the network beneath it (see :class:`NetworkKeySupply`)."""

    @property
    def nodes(self) -> tuple[Hashable, ...]:
        """Nodes that can host a KME."""

    def draw(
        self, master_node: Hashable, slave_node: Hashable, n_bits: int, *, route_type: str | None
    ) -> SuppliedKey:
        """``n_bits`` of key for two KMEs, all or nothing (:meth:`NetworkKeySupply.draw`)."""

    def available_bits(self, master_node: Hashable, slave_node: Hashable) -> tuple[int, int]:
        """Bits deliverable now on the default route, and the most it can hold."""


class NetworkKeySupply:
    """Key for the KMEs of a simulated QKD network, in material mode (see the module docstring).

    Thread-safe: one lock guards the pools, the routes and the network's clock, so concurrent
    draws never share a key bit.

    Parameters
    ----------
    topology : QKDTopology
        The network. KMEs may sit on its key-holding nodes (trusted nodes and endpoints).
    capacity_bits : int
        Largest number of bits each link's pool holds (>= 1); more key is discarded on arrival.
        Memory: two bytes per stored bit and link (one per end).
    behaviours : mapping node -> NodeBehaviour, optional
        Byzantine behaviours (nodes left out are honest), e.g. from
        :func:`network.byzantine.assign_behaviours`.
    defense : {"none", "abft"}
        Trust every node, or run adaptive weighted voting every ``vote_interval_s``.
    vote_interval_s : float
        Simulated seconds between voting rounds (> 0).
    slice_s : float
        Longest simulated time step in seconds (> 0): :meth:`advance` cuts longer spans into
        slices, each with one link evaluation, one deposit and one QBER measurement.
    fluctuations : FluctuationConfig, optional
        Link fluctuations (loss, source rate, detector efficiency); ``None``: static links.
    max_paths : int, optional
        Most node-disjoint paths a multipath key uses (default: all there are).
    voting_rule : VotingRule, optional
        Parameters of the adaptive defence.
    seed : int, numpy.random.Generator or None
        Randomness of fluctuations, QBER measurements and behaviours (never of key bits, which
        come from the operating system).

    Raises
    ------
    TypeError, ValueError
        If an argument is invalid (the message names it).
    """

    def __init__(
        self,
        topology: QKDTopology,
        *,
        capacity_bits: int = 1 << 20,
        behaviours: Mapping[Hashable, NodeBehaviour] | None = None,
        defense: str = "none",
        vote_interval_s: float = 10.0,
        slice_s: float = 1.0,
        fluctuations: FluctuationConfig | None = None,
        max_paths: int | None = None,
        voting_rule: VotingRule | None = None,
        seed: SeedLike = None,
    ) -> None:
        if not isinstance(topology, QKDTopology):
            raise TypeError(f"topology must be a QKDTopology, not {type(topology).__name__}")
        self._topology = topology
        self._defense = check_choice(defense, "defense", DEFENSES)
        self._vote_interval_s = check_positive(vote_interval_s, "vote_interval_s")
        self._slice_s = check_positive(slice_s, "slice_s")
        self._max_paths = None if max_paths is None else check_positive_int(max_paths, "max_paths")
        self._rule = VotingRule() if voting_rule is None else voting_rule
        if not isinstance(self._rule, VotingRule):
            raise TypeError(f"voting_rule must be a VotingRule, not {type(voting_rule).__name__}")
        self._behaviours = self._check_behaviours(behaviours)
        self._rng = as_generator(seed, "seed")
        self._store = KeyStore(
            topology.n_links,
            mode="material",
            capacity_bits=check_positive_int(capacity_bits, "capacity_bits"),
        )
        self._router = KeyRouter(topology.routing_graph)
        self._model = LinkModel(topology.link_params)
        relays = [topology.relay(link) for link in range(topology.n_links)]
        self._misalignment = effective_misalignment(
            # Row 0: each link's own protocol (the model may also hold alternatives).
            misalignment_prob=np.atleast_2d(self._model.nominal_misalignment)[0],
            **dict(
                zip(
                    ("end_a_attack_prob", "end_b_attack_prob", "relay_attack_prob"),
                    link_attack_probs(self._behaviours, topology.links, relays),
                    strict=True,
                )
            ),
        )
        self._resources = (
            None
            if fluctuations is None
            else ResourceProcesses(topology.n_links, fluctuations, seed=self._rng)
        )
        self._graph = LinkGraph.from_topology(topology)
        self._ledger = ControlLedger.initial(n_nodes=self._graph.n_nodes, n_links=topology.n_links)
        self._node_index = {node: i for i, node in enumerate(self._graph.nodes)}
        self._link_relay = np.array(
            [-1 if r is None else self._node_index[r] for r in relays], dtype=np.int64
        )
        self._errors = np.zeros(topology.n_links)
        self._sifted = np.zeros(topology.n_links)
        self._deliveries: list[tuple[list[int], bool]] = []
        self._time_s = 0.0
        self._next_vote_s = self._vote_interval_s
        self._rounds = 0
        self._lock = threading.RLock()

    def _check_behaviours(self, behaviours: Any) -> dict[Hashable, NodeBehaviour]:
        if behaviours is None:
            return {}
        if not isinstance(behaviours, Mapping):
            raise TypeError(f"behaviours must map node -> NodeBehaviour, not {behaviours!r}")
        checked = {}
        for node, behaviour in behaviours.items():
            if not isinstance(behaviour, NodeBehaviour):
                raise TypeError(f"behaviours[{node!r}] is not a NodeBehaviour")
            try:
                self._topology.kind(node)
            except (KeyError, ValueError, TypeError):
                raise ValueError(f"behaviours names {node!r}, not a node of the topology") from None
            checked[node] = behaviour
        return checked

    # -- properties -----------------------------------------------------------------------------

    @property
    def topology(self) -> QKDTopology:
        """The network."""
        return self._topology

    @property
    def nodes(self) -> tuple[Hashable, ...]:
        """Nodes that can host a KME: the key-holding nodes (trusted nodes, endpoints)."""
        return self._topology.key_holding_nodes

    @property
    def time_s(self) -> float:
        """Simulated seconds the network has run."""
        return self._time_s

    @property
    def defense(self) -> str:
        """``"none"`` or ``"abft"``."""
        return self._defense

    @property
    def behaviours(self) -> dict[Hashable, NodeBehaviour]:
        """The Byzantine behaviours (a copy)."""
        return dict(self._behaviours)

    @property
    def voting_rounds(self) -> int:
        """Voting rounds run so far."""
        return self._rounds

    @property
    def exclusions(self) -> tuple[frozenset[Hashable], frozenset[int]]:
        """Key-holding nodes and link ids that routing avoids now."""
        return self._router.exclusions

    @property
    def ledger(self) -> ControlLedger:
        """The control ledger of the adaptive defence (weights, exclusions)."""
        return self._ledger

    def key_ledger(self):
        """Return a snapshot of the pools' ledger (:class:`~network.keys.KeyLedger`)."""
        with self._lock:
            return self._store.ledger()

    def check_ledger(self) -> None:
        """Verify the pools' conservation law (:meth:`~network.keys.KeyStore.check_ledger`)."""
        with self._lock:
            self._store.check_ledger()

    # -- running the network --------------------------------------------------------------------

    def advance(self, dt_s: float) -> None:
        """Run the network for ``dt_s`` simulated seconds: pools fill, voting rounds run.

        Each slice (at most ``slice_s``) evaluates every link at its current state (Byzantine
        corrupted states included), deposits ``key_rate_bps * slice`` bits into its pool, and
        measures its QBER over the slice's sifted block; with ``defense="abft"`` a voting round
        runs whenever ``vote_interval_s`` has passed and routing follows its exclusions.

        Parameters
        ----------
        dt_s : float
            Simulated seconds, >= 0.

        Examples
        --------
        >>> from network.topology import scenario
        >>> supply = NetworkKeySupply(scenario("cambridge"), capacity_bits=1000)
        >>> supply.advance(2.5)
        >>> supply.time_s, supply.available_bits("CRL", "ENG")
        (2.5, (1000, 1000))
        """
        remaining = check_non_negative(dt_s, "dt_s")
        with self._lock:
            while remaining > 0:
                step = min(remaining, self._slice_s)
                self._step(step)
                remaining -= step

    def _step(self, dt_s: float) -> None:
        state: dict[str, Any] = {}
        if self._resources is not None:
            self._resources.advance(dt_s)
            state = {
                "extra_loss_db": self._resources.extra_loss_db,
                "rate_factor": self._resources.rate_factor,
                "efficiency_factor": self._resources.efficiency_factor,
            }
        snapshot = self._model.evaluate(
            misalignment_prob=self._misalignment, cache="actual", **state
        )
        self._store.deposit(np.nan_to_num(snapshot.key_rate_bps) * dt_s)
        self._time_s += dt_s
        if self._defense == "none":
            return
        observed, sifted = self._model.measure(snapshot, slice_s=dt_s, seed=self._rng)
        self._errors += np.nan_to_num(observed) * sifted
        self._sifted += sifted
        if self._time_s + 1e-9 >= self._next_vote_s:
            expected = self._model.evaluate(cache="expected", **state).qber_z
            self._vote(expected)
            self._next_vote_s += self._vote_interval_s

    def _vote(self, expected_qber: np.ndarray) -> None:
        with np.errstate(invalid="ignore", divide="ignore"):
            measured = np.where(
                self._sifted > 0, self._errors / np.maximum(self._sifted, 1), np.nan
            )
        log = None
        if self._deliveries:
            paths, failed = zip(*self._deliveries, strict=True)
            log = DeliveryLog.from_paths(list(paths), list(failed))
        outcome = voting_round(
            self._ledger,
            self._graph,
            measured_qber=measured,
            expected_qber=expected_qber,
            behaviours=self._behaviours,
            block_bits=self._sifted.astype(np.int64),
            deliveries=log,
            rule=self._rule,
            rng=self._rng,
        )
        self._ledger = outcome.ledger
        self._errors[:] = 0.0
        self._sifted[:] = 0.0
        self._deliveries.clear()
        self._rounds += 1
        holding = set(self._router.nodes)
        excluded = {self._graph.nodes[i] for i in self._ledger.excluded_nodes}
        links = set(self._ledger.excluded_links)
        # An excluded relay holds no key: routing avoids its links instead.
        relay_ids = [self._node_index[n] for n in excluded - holding]
        links.update(np.flatnonzero(np.isin(self._link_relay, relay_ids)).tolist())
        self._router.set_exclusions(nodes=excluded & holding, links=links)

    # -- drawing key ----------------------------------------------------------------------------

    def _check_pair(self, master_node: Hashable, slave_node: Hashable) -> None:
        for name, node in (("master_node", master_node), ("slave_node", slave_node)):
            if node not in self.nodes:
                raise ValueError(f"{name}={node!r} is not a key-holding node of the network")
        if master_node == slave_node:
            raise ValueError(f"master_node and slave_node are both {master_node!r}")

    def _route(
        self, master_node: Hashable, slave_node: Hashable, route_type: str | None
    ) -> tuple[str, tuple[tuple[Hashable, ...], ...]]:
        if route_type == "multipath":
            paths = self._router.disjoint_paths(master_node, slave_node, max_paths=self._max_paths)
            if len(paths) < 2:
                raise RouteUnavailableError(
                    f"multipath: only {len(paths)} usable node-disjoint path between "
                    f"{master_node!r} and {slave_node!r}"
                )
            return "multipath", paths
        path = self._router.shortest_path(master_node, slave_node)
        if route_type == "direct" and len(path) != 2:
            raise RouteUnavailableError(
                f"direct: no usable QKD link between {master_node!r} and {slave_node!r}"
            )
        return ("direct" if len(path) == 2 else "indirect"), (path,)

    def available_bits(self, master_node: Hashable, slave_node: Hashable) -> tuple[int, int]:
        """Bits a single-path key between two KMEs can have now, and the most it could have.

        The default route (the shortest usable path) limits a key to the pool of its poorest
        hop; the most it could ever give is the smallest pool capacity on that path.

        Parameters
        ----------
        master_node, slave_node : node
            Two distinct key-holding nodes.

        Returns
        -------
        (int, int)
            Available bits and capacity in bits; ``(0, 0)`` when no usable path joins them.

        Raises
        ------
        ValueError
            If a node is not a key-holding node, or both are the same.
        """
        self._check_pair(master_node, slave_node)
        with self._lock:
            try:
                _, (path,) = self._route(master_node, slave_node, None)
            except NoKeyPathError:
                return 0, 0
            links = list(self._router.path_links(path))
            return (
                int(self._store.available[links].min()),
                int(self._store.capacity_bits[links].min()),
            )

    def draw(
        self,
        master_node: Hashable,
        slave_node: Hashable,
        n_bits: int,
        *,
        route_type: str | None = None,
    ) -> SuppliedKey:
        """Draw ``n_bits`` of key for the KMEs at ``master_node`` and ``slave_node``.

        All or nothing: every hop of the route is checked for enough key before any bit is
        consumed. Bits consumed by a relay that then fails (withheld, or altered and caught by
        key confirmation) are spent, as in a real network.

        Parameters
        ----------
        master_node, slave_node : node
            Two distinct key-holding nodes (KME sites).
        n_bits : int
            Key length in bits, >= 1.
        route_type : {None, "direct", "indirect", "multipath"}
            ``None``: the shortest usable path (a direct link when there is one); ``"direct"``:
            only a link between the two; ``"indirect"``: hop-by-hop OTP on the shortest path;
            ``"multipath"``: Shamir shares over node-disjoint paths, a majority of them needed
            (:func:`majority_threshold`).

        Returns
        -------
        SuppliedKey

        Raises
        ------
        RouteUnavailableError
            If ``route_type`` cannot be met now (no direct link, fewer than two disjoint paths).
        NoKeyPathError
            If no usable path joins the two nodes (e.g. excluded by voting).
        InsufficientKeyError
            If a hop's pool holds too little (nothing is consumed).
        KeyRelayError
            If the key did not arrive intact.
        TypeError, ValueError
            If an argument is invalid.
        """
        self._check_pair(master_node, slave_node)
        n_bits = check_positive_int(n_bits, "n_bits")
        if route_type is not None:
            check_choice(route_type, "route_type", ROUTE_TYPES)
        with self._lock:
            kind, paths = self._route(master_node, slave_node, route_type)
            link_of = self._router.link_of
            if kind == "multipath":
                threshold = majority_threshold(len(paths))
                delivery = relay_multipath(
                    self._store,
                    paths,
                    n_bits,
                    threshold=threshold,
                    link_of=link_of,
                    behaviours=self._behaviours,
                    rng=self._rng,
                )
            else:
                threshold = 1
                delivery = relay_otp(
                    self._store,
                    paths[0],
                    n_bits,
                    link_of=link_of,
                    behaviours=self._behaviours,
                    rng=self._rng,
                )
            if self._defense == "abft":
                for path in paths:
                    self._deliveries.append(
                        ([self._node_index[node] for node in path], not delivery.correct)
                    )
        if not delivery.correct:
            reason = delivery.reason or "the key arrived altered and failed key confirmation"
            raise KeyRelayError(
                f"{kind} key from {master_node!r} to {slave_node!r} not delivered: {reason}"
            )
        ends = [node for node in (master_node, slave_node) if self._compromised(node)]
        return SuppliedKey(
            master_bits=np.asarray(delivery.source_key.bits),
            slave_bits=np.asarray(delivery.target_key.bits),
            route_type=kind,
            paths=tuple(tuple(path) for path in paths),
            exposed=delivery.exposed or bool(ends),
            exposed_to=(*ends, *delivery.exposed_to),
            threshold=threshold,
            consumed_bits=delivery.consumed_bits,
        )

    def _compromised(self, node: Hashable) -> bool:
        behaviour = self._behaviours.get(node)
        return behaviour is not None and behaviour.compromised

    def __repr__(self) -> str:
        return (
            f"NetworkKeySupply(topology={self._topology.name!r}, defense={self._defense!r}, "
            f"time_s={self._time_s:g}, byzantine={len(self._behaviours)})"
        )


def speed_factor(clock: str, speed: float | None = None) -> float:
    """Return the simulated seconds per wall-clock second of a clock mode.

    Parameters
    ----------
    clock : {"realtime", "fast"}
        ``"realtime"``: simulated time follows wall time (factor 1); ``"fast"``: it runs
        ``speed`` times faster.
    speed : float, optional
        Speed-up of ``"fast"`` (> 0; default 10). Ignored for ``"realtime"``.

    Examples
    --------
    >>> speed_factor("realtime"), speed_factor("fast"), speed_factor("fast", 100.0)
    (1.0, 10.0, 100.0)
    """
    check_choice(clock, "clock", ("realtime", "fast"))
    if clock == "realtime":
        return 1.0
    return 10.0 if speed is None else check_positive(speed, "speed")


class NetworkClock:
    """A background thread that runs a :class:`NetworkKeySupply` as wall time passes.

    Every ``tick_s`` wall seconds it advances the network by the wall time elapsed since the
    last tick times ``speed`` (so no simulated time is lost when a tick is late).

    Parameters
    ----------
    supply : NetworkKeySupply
    speed : float
        Simulated seconds per wall second (> 0): 1 for real time.
    tick_s : float
        Wall seconds between ticks (> 0).

    Examples
    --------
    >>> from network.topology import scenario
    >>> supply = NetworkKeySupply(scenario("cambridge"))
    >>> with NetworkClock(supply, speed=10.0, tick_s=0.01):
    ...     import time; time.sleep(0.05)
    >>> supply.time_s > 0
    True
    """

    def __init__(self, supply: NetworkKeySupply, *, speed: float = 1.0, tick_s: float = 0.1):
        if not isinstance(supply, NetworkKeySupply):
            raise TypeError(f"supply must be a NetworkKeySupply, not {type(supply).__name__}")
        self._supply = supply
        self._speed = check_positive(speed, "speed")
        self._tick_s = check_positive(tick_s, "tick_s")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> NetworkClock:
        """Start ticking (once)."""
        if self._thread is not None:
            raise RuntimeError("the clock was already started")
        self._thread = threading.Thread(target=self._run, name="network-clock", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self._tick_s):
            now = time.monotonic()
            self._supply.advance((now - last) * self._speed)
            last = now

    def stop(self) -> None:
        """Stop ticking and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> NetworkClock:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
