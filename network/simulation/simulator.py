"""Discrete-event simulation of a QKD network under attack, with or without the adaptive defence.

State as arrays, decisions as events. The fluctuating resources of all links
(:mod:`.resources`), their key rates and QBERs (:class:`network.links.LinkModel`, i.e. the
:mod:`qkdcircuits` closed forms) and the key pools (:class:`network.keys.KeyStore`) are numpy
arrays updated once per time slice; key requests, voting rounds and the slices themselves are
events of an integer-time :class:`~network.simulation.events.EventQueue` (a binary heap: the
network's benchmark measures it against SimPy, ``benchmarks/bench_network.py``).

One time slice ``[t, t + dt)``:

1. the resources evolve over the slice (exact transition) and every link is evaluated at its
   new state, with the misalignment error that Byzantine states add
   (:func:`network.byzantine.effective_misalignment`) and the signal intensity chosen by the
   controller (:meth:`NetworkSimulation.set_intensity_scale`, or re-optimised each slice);
2. each link distils a block: its measured QBER is a binomial draw on the block's sifted bits
   (:meth:`network.links.LinkModel.measure`);
3. key requests of the demand pairs arrive as Poisson events inside the slice and are served in
   time order from the key already in the pools: a route through trusted nodes
   (:class:`network.routing.KeyRouter`, avoiding excluded nodes and links) and a hop-by-hop
   one-time-pad relay (:func:`network.keys.relay_otp`) or Shamir shares over node-disjoint paths
   (:func:`network.keys.relay_multipath`), each interior node acting through its behaviour;
4. at the end of the slice the block's secret key is deposited into the pools (key becomes usable
   once distilled) and the slice's metrics are recorded;
5. every ``vote_interval_s`` (defence ``"abft"``), a voting round
(:func:`network.voting.voting_round`)
   updates the node weights from what peers measured, decides exclusions, and the router avoids
   the excluded nodes and links from then on.

With defence ``"none"`` (the baseline) nobody votes: every node is trusted and keys take the
shortest path.

Consensus in the loop (``consensus="pbft"``, with the ``"abft"`` defence): the control ledger is
replicated by PBFT among a committee of trusted nodes (:class:`network.consensus.ControlPlane`).
Each voting round starts from the ledger committed at the correct replicas and submits its
operations (and the committee's new weights) as requests; they take effect, and routing
changes, when they commit, a few milliseconds of fibre and processing later, or not at all
while the replicas cannot agree (too many faulty members, or no key left to authenticate:
the authenticators draw their key from the same pools as the users). ``consensus="none"``
applies each round's operations at once, as if one trusted party kept the ledger.

Randomness: one :class:`numpy.random.SeedSequence` from ``seed`` spawns independent streams for
the resources, the demands, the measurements and the behaviours' decisions, so a run is
reproducible whatever is observed of it; secret key bits (material mode) come from the
operating system, never from ``seed``.

Examples
--------
>>> from network.topology import scenario
>>> sim = NetworkSimulation(scenario("cambridge"), SimulationConfig(duration_s=30.0), seed=1)
>>> result = sim.run()
>>> result.metrics.requests > 0, 0.0 <= result.metrics.availability <= 1.0
(True, True)
"""

from __future__ import annotations

import math
import sys
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import numpy as np

from network.byzantine import NodeBehaviour, effective_misalignment, link_attack_probs
from network.consensus.control import ConsensusConfig
from network.errors import InsufficientKeyError, NoKeyPathError
from network.keys.multipath import relay_multipath
from network.keys.relay import Delivery, relay_otp
from network.keys.store import KeyStore
from network.links import LinkModel, LinkSnapshot, bypass_alternatives
from network.routing import KeyRouter
from network.simulation.demands import DemandConfig, DemandProcess, choose_demand_pairs
from network.simulation.events import NS_PER_S, EventQueue, seconds
from network.simulation.metrics import MetricsCollector, RunMetrics
from network.simulation.resources import FluctuationConfig, ResourceProcesses
from network.topology.model import QKDTopology
from network.voting import ControlLedger, DeliveryLog, LinkGraph, VotingRule, voting_round
from qkdcircuits._validation import (
    SeedLike,
    check_choice,
    check_non_negative,
    check_positive,
    check_probability,
)

__all__ = [
    "CONSENSUS",
    "DEFENCES",
    "KEY_MODES",
    "NetworkSimulation",
    "SimulationConfig",
    "SimulationResult",
    "build_simulation",
]

DEFENCES: tuple[str, str] = ("none", "abft")
"""``"none"``: trust every node, shortest path (the baseline); ``"abft"``: adaptive weighted
voting, exclusions, routing around excluded nodes and links."""

CONSENSUS: tuple[str, str] = ("none", "pbft")
"""How the defence's control ledger is kept: applied at once by the simulator (``"none"``), or
replicated by PBFT among trusted nodes inside the simulation (``"pbft"``)."""

KEY_MODES: tuple[str, str] = ("accounting", "material")
"""Key pools as bit counts, or as real key bits."""

# Event priorities at equal times: close the slice, vote, start the next slice, serve requests.
_CLOSE, _VOTE, _START, _REQUEST = 0, 1, 2, 3


@dataclass(frozen=True)
class SimulationConfig:
    """Parameters of a network run.

    Parameters
    ----------
    duration_s : float
        Simulated time of :meth:`NetworkSimulation.run` (s, > 0).
    slice_s : float
        Length of a time slice: resources and pools update once per slice (s, > 0).
    vote_interval_s : float
        Time between voting rounds of the ``"abft"`` defence (s, >= ``slice_s``).
    defense : {"none", "abft"}
        The defence (see :data:`DEFENCES`).
    mode : {"accounting", "material"}
        Key pools as bit counts, or as real key bits (small networks).
    demands : DemandConfig
        Who requests keys, how often, how large, and how they are relayed.
    fluctuations : FluctuationConfig
        How the links' loss, source rate and detector efficiency fluctuate.
    voting : VotingRule
        Weight update and decision rule of the defence.
    qber_threshold : float
        Security threshold on the QBER of a link whose key is used, in (0, 1/2]: the metric
        ``used_qber_above_threshold`` counts key that crossed a link above it. Default 0.11,
        where no key survives one-way post-processing (the Shor-Preskill rate ``1 - 2 H2(Q)``
        vanishes; P. W. Shor, J. Preskill, PRL 85, 441 (2000)); a tighter, link-aware threshold
        can be given.
    pool_capacity_bits : int or None
        Largest number of key bits a link pool stores (beyond it, new key is discarded).
    prefill_s : float
        Seconds of nominal key generation already in every pool at the start (s, >= 0), so that
        the first requests do not meet empty pools.
    decoy : str or mapping
        Decoy method of the links (see :class:`network.links.LinkModel`).
    optimize_intensity : bool
        Re-optimise every link's signal intensity at its current state each slice (the greedy
        controller); otherwise each link keeps its nominal optimum times the controller's scale.
    routing : {"hops", "length", "residual"}
        Route choice: fewest hops, shortest in km, or the path with the most residual key (the
        widest path, recomputed at every request).
    consensus : {"none", "pbft"}
        How the control ledger is kept (see :data:`CONSENSUS`); ``"pbft"`` needs the
        ``"abft"`` defence.
    pbft : ConsensusConfig
        Committee, message delays and key use of the PBFT control plane (used with
        ``consensus="pbft"``).
    """

    duration_s: float = 600.0
    slice_s: float = 1.0
    vote_interval_s: float = 10.0
    defense: str = "abft"
    mode: str = "accounting"
    demands: DemandConfig = field(default_factory=DemandConfig)
    fluctuations: FluctuationConfig = field(default_factory=FluctuationConfig)
    voting: VotingRule = field(default_factory=VotingRule)
    qber_threshold: float = 0.11
    pool_capacity_bits: int | None = 10**9
    prefill_s: float = 10.0
    decoy: str | Mapping[str, str] = "infinite"
    optimize_intensity: bool = False
    routing: str = "hops"
    consensus: str = "none"
    pbft: ConsensusConfig = field(default_factory=ConsensusConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "duration_s", check_positive(self.duration_s, "duration_s"))
        object.__setattr__(self, "slice_s", check_positive(self.slice_s, "slice_s"))
        vote = check_positive(self.vote_interval_s, "vote_interval_s")
        if vote < self.slice_s:
            raise ValueError(f"vote_interval_s={vote!r} must be >= slice_s={self.slice_s!r}")
        object.__setattr__(self, "vote_interval_s", vote)
        check_choice(self.defense, "defense", DEFENCES)
        check_choice(self.mode, "mode", KEY_MODES)
        check_choice(self.routing, "routing", ("hops", "length", "residual"))
        for name, cls in (
            ("demands", DemandConfig),
            ("fluctuations", FluctuationConfig),
            ("voting", VotingRule),
        ):
            if not isinstance(getattr(self, name), cls):
                raise TypeError(f"{name}={getattr(self, name)!r} must be a {cls.__name__}")
        threshold = check_probability(self.qber_threshold, "qber_threshold")
        if not 0.0 < threshold <= 0.5:
            raise ValueError(f"qber_threshold={threshold!r} not in (0, 0.5]")
        if self.pool_capacity_bits is not None and (
            isinstance(self.pool_capacity_bits, bool)
            or not isinstance(self.pool_capacity_bits, int)
            or self.pool_capacity_bits < 0
        ):
            raise ValueError(
                f"pool_capacity_bits={self.pool_capacity_bits!r} must be a non-negative int or None"
            )
        object.__setattr__(self, "prefill_s", check_non_negative(self.prefill_s, "prefill_s"))
        if not isinstance(self.optimize_intensity, bool):
            raise TypeError(f"optimize_intensity={self.optimize_intensity!r} must be a bool")
        check_choice(self.consensus, "consensus", CONSENSUS)
        if not isinstance(self.pbft, ConsensusConfig):
            raise TypeError(f"pbft={self.pbft!r} must be a ConsensusConfig")
        if self.consensus == "pbft" and self.defense != "abft":
            raise ValueError(
                f"consensus='pbft' replicates the defence's ledger: it needs defense='abft', "
                f"not {self.defense!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested dictionary of every parameter (``pbft`` only with consensus)."""
        out = asdict(self)
        out["voting"] = self.voting.to_dict()
        out["decoy"] = self.decoy if isinstance(self.decoy, str) else dict(self.decoy)
        if self.consensus == "pbft":
            out["pbft"] = self.pbft.to_dict()
        else:
            del out["pbft"]
        return out


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """What a run produced.

    Attributes
    ----------
    metrics : RunMetrics
        The run's metrics (definitions in :mod:`network.simulation.metrics`).
    ledger : dict of str to int
        Key-pool totals over all links: ``generated_bits``, ``stored_bits``, ``consumed_bits``,
        ``delivered_bits``, ``discarded_bits``.
    weights : dict
        Final node weights of the defence (1 for every node without it).
    excluded_nodes, excluded_links : tuple
        What the defence excluded at the end (names; link ids).
    byzantine : tuple
        The nodes with a Byzantine behaviour, and ``behaviours`` maps them to its name.
    timeseries : dict of str to numpy.ndarray
        ``time_s``, ``availability``, ``pool_bits``, ``mean_qber`` (per slice), ``vote_time_s``
        and ``weights`` (votes x nodes).
    config : SimulationConfig
    topology : str
        The topology's name.
    seed : int or None
    interrupted : bool
        Whether the run was stopped early (Ctrl-C); the metrics cover the time simulated.
    consensus : dict or None
        With ``consensus="pbft"``: the control plane's metrics
        (:meth:`network.consensus.ControlPlane.summary`: committee, committed operations, view
        changes, messages, authentication key bits consumed, unauthenticated sends, rejected
        messages by verdict, refused re-weightings, agreement of the correct replicas).
    """

    metrics: RunMetrics
    ledger: dict[str, int]
    weights: dict[Hashable, float]
    excluded_nodes: tuple[Hashable, ...]
    excluded_links: tuple[int, ...]
    byzantine: tuple[Hashable, ...]
    behaviours: dict[Hashable, str]
    timeseries: dict[str, np.ndarray] = field(repr=False)
    config: SimulationConfig = field(repr=False)
    topology: str = ""
    seed: int | None = None
    interrupted: bool = False
    consensus: dict[str, Any] | None = None

    def to_dict(self, *, timeseries: bool = False) -> dict[str, Any]:
        """JSON-ready summary (node names as strings); with the time series if asked."""
        out: dict[str, Any] = {
            "topology": self.topology,
            "seed": self.seed,
            "interrupted": self.interrupted,
            **self.metrics.to_dict(),
            "ledger": dict(self.ledger),
            "weights": {str(node): w for node, w in self.weights.items()},
            "excluded_nodes": [str(node) for node in self.excluded_nodes],
            "excluded_links": list(self.excluded_links),
            "byzantine": [str(node) for node in self.byzantine],
            "behaviours": {str(node): name for node, name in self.behaviours.items()},
            "config": self.config.to_dict(),
        }
        if self.consensus is not None:
            out["consensus"] = self.consensus
        if timeseries:
            out["timeseries"] = {
                k: [None if isinstance(x, float) and math.isnan(x) else x for x in v.tolist()]
                if v.ndim == 1
                else v.tolist()
                for k, v in self.timeseries.items()
            }
        return out


class NetworkSimulation:
    """A QKD network run step by step (see the module docstring).

    Parameters
    ----------
    topology : QKDTopology
        The network.
    config : SimulationConfig, optional
        Run parameters (defaults: :class:`SimulationConfig`).
    behaviours : mapping node -> NodeBehaviour, optional
        Byzantine nodes (absent: honest); e.g. from :func:`network.byzantine.assign_behaviours`.
    seed : int, numpy.random.Generator or None
        Randomness of the run (never of key material).
    demand_pairs : sequence of (node, node), optional
        The pairs that request keys; default: the topology's demands, else endpoint pairs
        chosen by ``config.demands.pairs``.

    Attributes
    ----------
    now_s : float
        Simulated time in seconds.
    ledger : ControlLedger
        The control state of the defence (weights, exclusions, accepted QBERs): with
        ``consensus="pbft"`` the ledger committed at the correct replicas.
    control : ControlPlane or None
        The PBFT control plane (``consensus="pbft"``).
    """

    def __init__(
        self,
        topology: QKDTopology,
        config: SimulationConfig | None = None,
        *,
        behaviours: Mapping[Hashable, NodeBehaviour] | None = None,
        seed: SeedLike = None,
        demand_pairs: Sequence[tuple[Hashable, Hashable]] | None = None,
    ) -> None:
        if not isinstance(topology, QKDTopology):
            raise TypeError(f"topology={topology!r} must be a QKDTopology")
        config = SimulationConfig() if config is None else config
        if not isinstance(config, SimulationConfig):
            raise TypeError(f"config={config!r} must be a SimulationConfig")
        self.topology, self.config = topology, config
        self.seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
        root = seed if isinstance(seed, np.random.Generator) else None
        sequence = (
            np.random.SeedSequence(int(root.integers(2**63)))
            if root is not None
            else np.random.SeedSequence(seed)
        )
        streams = [np.random.default_rng(s) for s in sequence.spawn(5)]
        self._rng_measure, self._rng_behaviour, self._rng_relay = streams[2:]
        self._sequence = sequence  # spawns the control plane's streams after the five above

        self.behaviours: dict[Hashable, NodeBehaviour] = {}
        for node, behaviour in (behaviours or {}).items():
            if not isinstance(behaviour, NodeBehaviour):
                raise TypeError(f"behaviours[{node!r}]={behaviour!r} must be a NodeBehaviour")
            if node not in topology.graph:
                raise ValueError(f"behaviours names node {node!r}, not in the topology")
            self.behaviours[node] = behaviour

        self.n_links = topology.n_links
        decoys = topology.decoy
        self.links = LinkModel(
            topology.link_params,
            alternatives=bypass_alternatives(topology.link_params, decoy=decoys["bb84-decoy"]),
            decoy=config.decoy,
        )
        self.resources = ResourceProcesses(self.n_links, config.fluctuations, seed=streams[0])
        self.store = KeyStore(
            self.n_links, mode=config.mode, capacity_bits=config.pool_capacity_bits
        )
        self.router = KeyRouter(topology.routing_graph)
        self.link_graph = LinkGraph.from_topology(topology)
        self.ledger = ControlLedger.initial(
            n_nodes=len(self.link_graph.nodes), n_links=self.n_links
        )
        self._node_index = {node: i for i, node in enumerate(self.link_graph.nodes)}
        if demand_pairs is None:
            demand_pairs = topology.demands
        if demand_pairs is None:
            demand_pairs = choose_demand_pairs(
                topology.endpoints, config.demands.pairs, seed=streams[1]
            )
        self.pairs = [tuple(pair) for pair in demand_pairs]
        topology.check_demands(self.pairs)
        self._snapshot = self.links.evaluate()
        self.demand_rate_hz = (
            self._rate_for_utilisation()
            if config.demands.rate_hz is None
            else config.demands.rate_hz
        )
        self.demands = DemandProcess(
            self.pairs, config.demands, seed=streams[1], rate_hz=self.demand_rate_hz
        )
        self.metrics = MetricsCollector(
            n_pairs=len(self.pairs), n_links=self.n_links, qber_threshold=config.qber_threshold
        )
        self.events = EventQueue()

        # Byzantine states raise the links' error through the attack closed forms; a link run
        # the alternative way (BB84 through its relay site) escapes its relay's attack.
        relays = [topology.relay(k) for k in range(self.n_links)]
        end_a, end_b, relay = link_attack_probs(self.behaviours, topology.links, relays)
        nominal = np.nan_to_num(self.links.nominal_misalignment)
        self._misalignment_ways = np.vstack(
            [
                effective_misalignment(
                    misalignment_prob=nominal[0],
                    end_a_attack_prob=end_a,
                    end_b_attack_prob=end_b,
                    relay_attack_prob=relay,
                ),
                effective_misalignment(
                    misalignment_prob=nominal[1], end_a_attack_prob=end_a, end_b_attack_prob=end_b
                ),
            ]
        )
        self.protocol_choice = np.zeros(self.n_links, dtype=np.int64)
        self.routing = config.routing
        self.intensity_scale = np.ones(self.n_links)
        self.optimize_intensity = config.optimize_intensity
        self._slice_ns = seconds(config.slice_s)
        self._vote_ns = seconds(config.vote_interval_s)
        self._started = False
        self._snapshot = self.links.evaluate(
            misalignment_prob=self._misalignment, optimize=self.optimize_intensity
        )
        self._measured = np.full(self.n_links, np.nan)
        self._window_errors = np.zeros(self.n_links)
        self._window_sifted = np.zeros(self.n_links)
        self._delivery_paths: list[list[int]] = []
        self._delivery_failed: list[bool] = []
        self._slice_generated = 0.0
        # What the current slice delivered (read by controllers after step()).
        self.slice_delivered_bits = 0
        self.slice_requests = 0
        self.slice_served = 0
        self.slice_exposed_bits = 0
        self.slice_bits_above_threshold = 0
        if config.prefill_s > 0:
            self.store.deposit(np.asarray(self._snapshot.key_rate_bps) * config.prefill_s)
        self.control = self._control_plane() if config.consensus == "pbft" else None

    def _control_plane(self) -> Any:
        from network.consensus.control import ControlPlane

        committee, relays = (np.random.default_rng(s) for s in self._sequence.spawn(2))
        return ControlPlane(
            self.topology,
            nodes=self.link_graph.nodes,
            ledger=self.ledger,
            store=self.store,
            queue=self.events,
            behaviours=self.behaviours,
            config=self.config.pbft,
            seed=committee,
            relay_rng=relays,
            on_commit=self._committed,
        )

    def _committed(self, ledger: ControlLedger) -> None:
        """Adopt a ledger the replicas committed: routing follows it from now on."""
        self.ledger = ledger
        self._apply_exclusions()

    def _apply_exclusions(self) -> None:
        nodes = self.link_graph.nodes
        excluded = [nodes[i] for i in sorted(self.ledger.excluded_nodes)]
        # An MDI relay holds no key: excluding it means not using the links through it.
        relays = {node for node in excluded if self.topology.kind(node) == "relay"}
        links = set(self.ledger.excluded_links)
        links.update(k for k in range(self.n_links) if self.topology.relay(k) in relays)
        self.router.set_exclusions(
            nodes=[node for node in excluded if node not in relays], links=sorted(links)
        )

    # -- controls ---------------------------------------------------------------------------
    @property
    def _misalignment(self) -> np.ndarray:
        """Effective misalignment of each link the way it is run now."""
        return self._misalignment_ways[self.protocol_choice, np.arange(self.n_links)]

    def set_protocol_choice(self, choice: Any, links: Any = None) -> None:
        """Run links their primary way (0) or their alternative way (1) from the next slice.

        The alternative of an MDI-QKD link is decoy BB84 straight through its relay site
        (:func:`network.links.bypass_alternatives`), where that still reaches; ``links`` selects
        link ids (default: all), ``choice`` is one value or one per link selected.
        """
        index = np.arange(self.n_links) if links is None else np.asarray(links, dtype=np.int64)
        values = np.broadcast_to(np.asarray(choice), index.shape)
        if not np.isin(values, (0, 1)).all():
            raise ValueError(f"choice={choice!r} must be 0 or 1")
        if index.size and (index.min() < 0 or index.max() >= self.n_links):
            raise ValueError(f"links={links!r} must be link ids in 0..{self.n_links - 1}")
        bad = index[(values == 1) & ~self.links.has_alternative[index]]
        if bad.size:
            raise ValueError(f"link {int(bad[0])} has no alternative protocol")
        self.protocol_choice[index] = values

    def set_routing(self, routing: str) -> None:
        """Route by ``"hops"``, ``"length"`` or ``"residual"`` key from now on."""
        self.routing = check_choice(routing, "routing", ("hops", "length", "residual"))

    @property
    def now_s(self) -> float:
        """Simulated time in seconds."""
        return self.events.now / NS_PER_S

    @property
    def snapshot(self) -> LinkSnapshot:
        """Every link's expected state in the current (last started) slice."""
        return self._snapshot

    @property
    def measured_qber(self) -> np.ndarray:
        """QBER each link measured on its block in the current slice (``nan``: nothing sifted)."""
        out = self._measured.copy()
        out.setflags(write=False)
        return out

    @property
    def pool_bits(self) -> np.ndarray:
        """Unused key bits in each link's pool."""
        return self.store.available

    @property
    def node_weights(self) -> np.ndarray:
        """The defence's weight of every node (``link_graph.nodes`` order), 1 without it."""
        return self.ledger.weights_array

    def set_intensity_scale(self, scale: Any, links: Any = None) -> None:
        """Set the signal intensity of links relative to their nominal optimum (> 0).

        ``links`` selects link ids (default: all); ``scale`` is one value or one per link
        selected. Takes effect from the next slice.
        """
        values = np.asarray(scale, dtype=float)
        index = np.arange(self.n_links) if links is None else np.asarray(links, dtype=np.int64)
        if np.any(~np.isfinite(values)) or np.any(values <= 0):
            raise ValueError(f"scale={scale!r} must be finite and > 0")
        if index.size and (index.min() < 0 or index.max() >= self.n_links):
            raise ValueError(f"links={links!r} must be link ids in 0..{self.n_links - 1}")
        self.intensity_scale[index] = values

    def _rate_for_utilisation(self) -> float:
        """Return the per-pair request rate (Hz) at which the busiest link spends ``utilisation``.

        ``utilisation`` is the fraction of that link's key spent. Every pair's requests are
        routed along its shortest path (fewest hops) at the nominal state; the load of a link is
        the number of pairs crossing it times ``key_bits``.
        """
        crossing = np.zeros(self.n_links)
        for source, target in self.pairs:
            path = self.router.shortest_path(source, target)
            crossing[list(self.router.path_links(path))] += 1
        used = crossing > 0
        if not used.any():
            return 0.0
        rate = np.asarray(self._snapshot.key_rate_bps)[used]
        per_request = crossing[used] * self.config.demands.key_bits
        return float(self.config.demands.utilisation * np.min(rate / per_request))

    # -- the run ----------------------------------------------------------------------------
    def _start(self) -> None:
        if not self._started:
            self._started = True
            self.events.schedule(self.events.now, self._begin_slice, priority=_START)
            if self.config.defense == "abft":
                self.events.schedule(self.events.now + self._vote_ns, self._vote, priority=_VOTE)

    def _begin_slice(self) -> None:
        start = self.events.now
        stop = start + self._slice_ns
        dt = self.config.slice_s
        self.resources.advance(dt)
        snap = self.links.evaluate(
            extra_loss_db=self.resources.extra_loss_db,
            efficiency_factor=self.resources.efficiency_factor,
            rate_factor=self.resources.rate_factor,
            intensity_scale=self.intensity_scale,
            misalignment_prob=self._misalignment,
            optimize=self.optimize_intensity,
            protocol_choice=self.protocol_choice,
        )
        measured, sifted = self.links.measure(snap, slice_s=dt, seed=self._rng_measure)
        self._snapshot, self._measured = snap, measured
        self._window_errors += np.nan_to_num(measured) * sifted
        self._window_sifted += sifted
        self._slice_generated = np.asarray(snap.key_rate_bps) * dt
        self.slice_delivered_bits = 0
        self.slice_requests = 0
        self.slice_served = 0
        self.slice_exposed_bits = 0
        self.slice_bits_above_threshold = 0
        times, pairs = self.demands.arrivals(start, stop)
        for time, pair in zip(times.tolist(), pairs.tolist(), strict=True):
            self.events.schedule(time, partial(self._serve, pair), priority=_REQUEST)
        self.events.schedule(stop, self._close_slice, priority=_CLOSE)
        self.events.schedule(stop, self._begin_slice, priority=_START)

    def _close_slice(self) -> None:
        self.store.deposit(self._slice_generated)
        self.metrics.record_slice(
            time_ns=self.events.now,
            measured_qber=self._measured,
            in_fluctuation=self.resources.in_fluctuation,
            pool_bits=self.store.available,
            generated_bits=float(np.sum(self._slice_generated)),
        )

    def _route(self, source: Hashable, target: Hashable) -> list[tuple[Hashable, ...]]:
        weight: Any = None
        if self.routing == "length":
            weight = "length"
        elif self.routing == "residual":
            weight = 1.0 / (1.0 + self.store.available.astype(float))
        if self.config.demands.relay == "multipath":
            return list(
                self.router.disjoint_paths(
                    source, target, max_paths=self.config.demands.paths, weight=weight
                )
            )
        return [self.router.shortest_path(source, target, weight=weight)]

    def _serve(self, pair: int) -> None:
        source, target = self.pairs[pair]
        bits = self.config.demands.key_bits
        self.slice_requests += 1
        delivery: Delivery | None = None
        try:
            paths = self._route(source, target)
            if len(paths) == 1:
                delivery = relay_otp(
                    self.store,
                    paths[0],
                    bits,
                    link_of=self.router.link_of,
                    behaviours=self.behaviours,
                    rng=self._rng_relay,
                )
            else:
                delivery = relay_multipath(
                    self.store,
                    paths,
                    bits,
                    threshold=min(self.config.demands.threshold, len(paths)),
                    link_of=self.router.link_of,
                    behaviours=self.behaviours,
                    rng=self._rng_relay,
                )
        except (NoKeyPathError, InsufficientKeyError):
            delivery = None  # a capacity failure: nobody misbehaved
        if delivery is None:
            self.metrics.record_request(
                pair=pair,
                n_bits=bits,
                served=False,
                exposed=False,
                used_links=np.zeros(0, dtype=np.int64),
                link_qber=np.zeros(0),
            )
            return
        used = np.asarray(delivery.links, dtype=np.int64)
        served = delivery.delivered and delivery.correct
        if served:
            self.slice_served += 1
            self.slice_delivered_bits += bits
            if delivery.exposed:
                self.slice_exposed_bits += bits
            if np.any(self._measured[used] > self.config.qber_threshold):
                self.slice_bits_above_threshold += bits
        self.metrics.record_request(
            pair=pair,
            n_bits=bits,
            served=served,
            exposed=delivery.exposed,
            used_links=used,
            link_qber=self._measured[used],
        )
        # Only the interior (relaying) nodes of a path are suspects of a failed delivery: the
        # two endpoints are the ones who find out that it failed.
        for path in delivery.paths:
            self._delivery_paths.append([self._node_index[node] for node in path[1:-1]])
            self._delivery_failed.append(not served)

    def _vote(self) -> None:
        with np.errstate(invalid="ignore", divide="ignore"):
            measured = np.where(
                self._window_sifted > 0,
                self._window_errors / np.maximum(self._window_sifted, 1.0),
                np.nan,
            )
        # What the link layer expects of each link at its current (measured) loss, honest.
        expected = self.links.evaluate(
            extra_loss_db=self.resources.extra_loss_db,
            efficiency_factor=self.resources.efficiency_factor,
            rate_factor=self.resources.rate_factor,
            intensity_scale=self.intensity_scale,
            optimize=self.optimize_intensity,
            protocol_choice=self.protocol_choice,
            cache="expected",
        ).qber_z
        log = DeliveryLog.from_paths(self._delivery_paths, self._delivery_failed)
        outcome = voting_round(
            self.ledger,
            self.link_graph,
            measured_qber=measured,
            expected_qber=np.nan_to_num(expected, nan=0.5),
            behaviours=self.behaviours,
            block_bits=self._window_sifted,
            deliveries=log,
            rule=self.config.voting,
            rng=self._rng_behaviour,
        )
        if self.control is None:
            self.ledger = outcome.ledger
            self._apply_exclusions()
        else:  # ordered by the replicas; the ledger changes when they commit
            self.control.submit_round(outcome.operations, outcome.ledger.weights)
        self.metrics.record_vote(time_ns=self.events.now, weights=self.ledger.weights_array)
        self._window_errors[:] = 0.0
        self._window_sifted[:] = 0.0
        self._delivery_paths, self._delivery_failed = [], []
        self.events.schedule(self.events.now + self._vote_ns, self._vote, priority=_VOTE)

    def step(self) -> None:
        """Advance by exactly one time slice (for controllers and environments)."""
        self._start()
        self.events.run(until=self.events.now + self._slice_ns)

    def run(self, duration_s: float | None = None, *, progress: bool = False) -> SimulationResult:
        """Simulate ``duration_s`` seconds (default ``config.duration_s``) and summarise.

        Parameters
        ----------
        duration_s : float, optional
            Simulated seconds to add to this run (> 0).
        progress : bool
            Show a tqdm progress bar on stderr.

        Returns
        -------
        SimulationResult
            Over the whole time simulated so far. A Ctrl-C stops the run at the current slice
            and returns what was simulated, with ``interrupted=True``.
        """
        duration = self.config.duration_s if duration_s is None else duration_s
        duration = check_positive(duration, "duration_s")
        self._start()
        end = self.events.now + seconds(duration)
        interrupted = False
        from tqdm import tqdm

        with tqdm(
            total=round(duration),
            unit="sim s",
            desc=f"{self.topology.name} ({self.config.defense})",
            file=sys.stderr,
            disable=not progress,
            leave=False,
        ) as bar:
            try:
                while self.events.now < end:
                    before = self.events.now
                    self.events.run(until=min(end, before + self._slice_ns))
                    bar.update((self.events.now - before) / NS_PER_S)
            except KeyboardInterrupt:
                interrupted = True
        return self.result(interrupted=interrupted)

    def result(self, *, interrupted: bool = False) -> SimulationResult:
        """Summarise everything simulated so far."""
        m = self.metrics
        ledger = self.store.ledger().totals()
        weights = self.ledger.weights_array
        nodes = self.link_graph.nodes
        timeseries = {
            "time_s": np.asarray(m.slice_times, dtype=float) / NS_PER_S,
            "availability": np.asarray(m.slice_available, dtype=float),
            "pool_bits": np.asarray(m.slice_pool_bits, dtype=float),
            "mean_qber": np.asarray(m.slice_mean_qber, dtype=float),
            "vote_time_s": np.asarray(m.vote_times, dtype=float) / NS_PER_S,
            "weights": (np.vstack(m.vote_weights) if m.vote_weights else np.zeros((0, len(nodes)))),
        }
        byzantine = tuple(node for node, b in self.behaviours.items() if b.compromised)
        return SimulationResult(
            metrics=m.summary(self.now_s),
            ledger={name: int(value) for name, value in ledger.items()},
            weights={node: float(w) for node, w in zip(nodes, weights, strict=True)},
            excluded_nodes=tuple(nodes[i] for i in sorted(self.ledger.excluded_nodes)),
            excluded_links=tuple(sorted(self.ledger.excluded_links)),
            byzantine=byzantine,
            behaviours={node: type(b).name for node, b in self.behaviours.items()},
            timeseries=timeseries,
            config=self.config,
            topology=self.topology.name,
            seed=self.seed,
            interrupted=interrupted,
            consensus=None if self.control is None else self.control.summary(),
        )


def build_simulation(
    topology: QKDTopology | str,
    *,
    byzantine_fraction: float = 0.0,
    behaviour: str = "mixed",
    config: SimulationConfig | None = None,
    seed: SeedLike = None,
    kinds: Sequence[str] = ("trusted",),
    behaviour_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> NetworkSimulation:
    """Build a simulation of ``topology`` with Byzantine nodes on a fraction of its nodes.

    Parameters
    ----------
    topology : QKDTopology or str
        A topology, or a built-in scenario name or topology file
        (:func:`network.topology.resolve_topology`).
    byzantine_fraction : float
        Fraction of the candidate nodes made Byzantine, in [0, 0.4]
        (:func:`network.byzantine.assign_behaviours`).
    behaviour : str
        Their behaviour (a name of :data:`network.byzantine.BEHAVIOURS`).
    config : SimulationConfig, optional
        Run parameters.
    seed : int or None
        Seeds the placement of the Byzantine nodes and the run (independent streams).
    kinds : sequence of str
        Node kinds that may be Byzantine (trusted nodes by default).
    behaviour_options : mapping, optional
        Keyword arguments per behaviour name (e.g. ``{"corrupt-states": {"attack_prob": 0.3}}``).

    Returns
    -------
    NetworkSimulation
        Ready to :meth:`~NetworkSimulation.run` or :meth:`~NetworkSimulation.step`.

    Examples
    --------
    >>> sim = build_simulation("secoqc", byzantine_fraction=0.2, behaviour="withhold", seed=3)
    >>> [str(node) for node in sim.behaviours if sim.behaviours[node].compromised]
    ['FOR']
    """
    from network.byzantine import assign_behaviours
    from network.topology import resolve_topology

    if isinstance(topology, str):
        topology = resolve_topology(topology)
    if isinstance(seed, bool) or not (seed is None or isinstance(seed, int)):
        raise TypeError(f"seed={seed!r} must be an int or None")
    placement, run = np.random.SeedSequence(seed).spawn(2)
    behaviours = assign_behaviours(
        topology,
        fraction=byzantine_fraction,
        behaviour=behaviour,
        seed=np.random.default_rng(placement),
        kinds=kinds,
        options=behaviour_options,
    )
    byzantine = {node: b for node, b in behaviours.items() if type(b) is not NodeBehaviour}
    simulation = NetworkSimulation(
        topology, config, behaviours=byzantine, seed=np.random.default_rng(run)
    )
    simulation.seed = seed
    return simulation
