r"""The resource-allocation environment: a QKD network under attack, one time slice per step.

:class:`ResourceAllocationEnv` (registered as ``abft_qkd/ResourceAllocation-v0`` on
``import rl``) wraps a :class:`network.simulation.simulator.NetworkSimulation`: fluctuating links,
Byzantine nodes, the adaptive defence, Poisson key requests relayed through trusted nodes. Each
step the agent sets the network's resources for the next time slice, the slice is simulated,
and the agent is rewarded with the secret key the network delivered.

Observation (``float32`` :class:`~gymnasium.spaces.Box`, every entry in ``[0, 1]``)
    Twelve features per link (link-id order, link-major), then one per node, then one global:

    ===  ===================================================================================
    0    extra channel loss, ``extra_loss_db / max_loss_db`` (clipped)
    1    source repetition-rate factor / 2 (clipped; 0.5 is nominal)
    2    detector-efficiency factor / 2 (clipped; 0.5 is nominal)
    3    expected secret-key rate ``k / (k + k0)``, ``k0`` the link's nominal rate (0.5 at
         the nominal state; 0 for a link that yields nothing)
    4    measured QBER of the slice / 0.5 (1 where nothing was sifted)
    5    expected QBER of the link model / 0.5 (1 where nothing is detected)
    6    key-pool level / pool capacity (clipped)
    7    in a fluctuation period (a loss burst above the threshold): 0 or 1
    8    signal-intensity scale / the largest level
    9    protocol run: 0 primary, 1 alternative
    10   has an alternative protocol: 0 or 1
    11   target of the intensity action (1 for one link)
    ===  ===================================================================================

    then the defence's weight of every node (``sim.link_graph.nodes`` order, in ``[0, 1]``),
    then the routing rule's index / (number of rules - 1).

Action (:class:`~gymnasium.spaces.Discrete`, ``levels x 2 x routings``; 20 by default)
    ``action = (level * 2 + protocol) * len(routings) + routing``:

    * ``level``: the signal intensity of the **link most in need**, relative to its nominal
      optimum (``intensity_levels``, default ``0.5, 0.75, 1, 1.25, 1.5``). The link most in
      need is the one whose pool holds the fewest seconds of its nominal demand (pool bits /
      the bits per second that the demand pairs' fewest-hop routes draw from it); ties, and
      links that carry no demand, are ordered by the highest measured QBER.
    * ``protocol``: run the switchable link most in need (the same order restricted to links
      with an alternative, i.e. MDI-QKD links that can run decoy BB84 through their relay site)
      its primary way (0) or its alternative way (1). Both targets are marked in the
      observation (feature 11 for the intensity target; the protocol target is the first link
      with feature 10 in need order, shown by ``info["protocol_target"]``).
    * ``routing``: the route choice of every request in the slice (``routings``, default
      ``"hops"``: fewest hops; ``"residual"``: the path with the most residual key).

    ``info["action_mask"]`` (``int8``, one per action) forbids ``protocol = 1`` when no link
    has an alternative. Other links keep the intensity and protocol last set for them.

Reward
    ``(w_key * delivered - w_threshold * above - w_exposed * exposed) / demand`` for the slice,
    in bits: ``delivered`` is correct key delivered to the demand pairs, ``above`` is delivered
    key that crossed a link whose measured QBER exceeded ``qber_threshold``, ``exposed`` is
    delivered key a compromised node saw, and ``demand`` is the expected bits requested per
    slice (request rate x pairs x key size x slice), so a slice that serves its expected demand
    scores about ``w_key``. Defaults ``w_key = 1``, ``w_threshold = 2`` (a key above the
    threshold is worth ``-1``: it should not have been used), ``w_exposed = 0`` (exposure is
    the defence's concern, not a resource the agent controls; set it to make the agent route
    around suspects).

Security threshold (``qber_threshold``, default 0.11)
    The Shor-Preskill threshold: at ``Q = 11 %`` the one-way secret fraction ``1 - 2 H2(Q)``
    vanishes (P. W. Shor, J. Preskill, PRL 85, 441 (2000)), so key distilled from a block above
    it cannot be secret. A 1 % threshold would flag every honest link: the links' own
    misalignment errors are ``e_d = 1.5 %`` (MDI-QKD set of Xu et al., New J. Phys. 15, 113007
    (2013)) and ``3.3 %`` (GYS decoy BB84 set of Ma et al., PRA 72, 012326 (2005)). A tighter
    threshold can be given.

Episodes
    An episode is ``episode_slices`` time slices; it ends by **truncation** (a time limit),
    never by termination: the network has no terminal state (key requests keep arriving and a
    drained or attacked network can recover), so value estimates must bootstrap through the
    last step.

Randomness
    Only through ``reset(seed=...)`` and ``self.np_random``: every reset draws the seed of a new
    simulation (Byzantine placement, fluctuations, demands, measurements) from
    ``self.np_random``; secret key bits (material mode) come from the operating system.

One step
    The environment keeps the simulation positioned one nanosecond before a slice boundary
    (the slice served, not yet closed). A step applies the action, then runs the event queue to
    one nanosecond before the next boundary: the old slice closes (its key is deposited), a
    voting round runs where due, the new slice starts with the new settings and its requests
    are served. The observation is that slice's state and the reward its delivered key.
    (:meth:`NetworkSimulation.step` stops *at* the boundary, after the next slice has started
    and its counters were zeroed, so the per-slice counters cannot be read through it.)

Examples
--------
>>> import gymnasium as gym
>>> import rl
>>> env = gym.make("abft_qkd/ResourceAllocation-v0", topology="cambridge", episode_slices=5)
>>> obs, info = env.reset(seed=1)
>>> obs.dtype, obs.shape == env.observation_space.shape, int(info["action_mask"].sum())
(dtype('float32'), True, 20)
>>> action = env.action_space.sample(info["action_mask"])
>>> obs, reward, terminated, truncated, info = env.step(action)
>>> bool(terminated), bool(truncated)
(False, False)
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from network.byzantine import BEHAVIOURS
from network.links import bypass_alternatives
from network.simulation.demands import DemandConfig
from network.simulation.events import seconds
from network.simulation.resources import FluctuationConfig
from network.simulation.simulator import (
    DEFENCES,
    NetworkSimulation,
    SimulationConfig,
    build_simulation,
)
from network.topology import QKDTopology, resolve_topology
from network.voting import LinkGraph
from qkdcircuits._validation import check_choice, check_non_negative, check_positive

__all__ = [
    "ENV_ID",
    "FLUCTUATION_PRESETS",
    "LINK_FEATURES",
    "ROUTINGS",
    "ResourceAllocationEnv",
    "RewardWeights",
]

ENV_ID = "abft_qkd/ResourceAllocation-v0"
"""The id under which ``import rl`` registers :class:`ResourceAllocationEnv`."""

ROUTINGS: tuple[str, ...] = ("hops", "length", "residual")
"""Route choices of the simulation (:meth:`NetworkSimulation.set_routing`)."""

LINK_FEATURES: tuple[str, ...] = (
    "loss",
    "rate",
    "efficiency",
    "key_rate",
    "measured_qber",
    "expected_qber",
    "pool",
    "in_fluctuation",
    "intensity",
    "protocol",
    "has_alternative",
    "intensity_target",
)
"""Names of the per-link observation features, in order (see the module docstring)."""

FLUCTUATION_PRESETS: dict[str, FluctuationConfig] = {
    "default": FluctuationConfig(),
    "static": FluctuationConfig.static(),
    # every link exposed to bursts, a burst every two minutes per link on average
    "stormy": FluctuationConfig(burst_rate_hz=1.0 / 120.0, burst_fraction=1.0),
}
"""Named link fluctuations: ``"default"`` (a metro network with occasional loss bursts on half
the links, :class:`~network.simulation.resources.FluctuationConfig`), ``"static"`` (none),
``"stormy"`` (bursts on every link, five times as often)."""


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the reward terms (see the module docstring).

    Parameters
    ----------
    key : float
        Per delivered bit (>= 0).
    threshold : float
        Penalty per delivered bit that crossed a link above the QBER threshold (>= 0).
    exposed : float
        Penalty per delivered bit that a compromised node saw (>= 0).

    Examples
    --------
    >>> RewardWeights(threshold=5.0).threshold
    5.0
    """

    key: float = 1.0
    threshold: float = 2.0
    exposed: float = 0.0

    def __post_init__(self) -> None:
        for name in ("key", "threshold", "exposed"):
            object.__setattr__(self, name, check_non_negative(getattr(self, name), name))


def _as_reward_weights(value: RewardWeights | Mapping[str, float] | None) -> RewardWeights:
    if value is None:
        return RewardWeights()
    if isinstance(value, RewardWeights):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - {"key", "threshold", "exposed"}
        if unknown:
            raise ValueError(f"reward_weights has unknown terms {sorted(unknown)}")
        return RewardWeights(**value)
    raise TypeError(f"reward_weights={value!r} must be a RewardWeights, a mapping or None")


def _as_fluctuations(value: str | FluctuationConfig | Mapping[str, float]) -> FluctuationConfig:
    if isinstance(value, FluctuationConfig):
        return value
    if isinstance(value, str):
        return FLUCTUATION_PRESETS[check_choice(value, "fluctuations", tuple(FLUCTUATION_PRESETS))]
    if isinstance(value, Mapping):
        try:
            return FluctuationConfig(**value)
        except TypeError as exc:
            raise ValueError(f"fluctuations={dict(value)!r}: {exc}") from exc
    raise TypeError(
        f"fluctuations={value!r} must be a preset name, a FluctuationConfig or a mapping"
    )


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive integer")
    return int(value)


class ResourceAllocationEnv(gym.Env):
    """Dynamic resource allocation in a QKD network (see the module docstring).

    Parameters
    ----------
    topology : str or QKDTopology
        A built-in scenario name (``"secoqc"``, ``"tokyo"``, ``"cambridge"``, ``"backbone"``),
        a topology file, or a topology (e.g. from
        :func:`network.topology.random_geometric_topology`: the size is configurable).
    byzantine_fraction : float
        Fraction of the candidate nodes made Byzantine, in [0, 0.4].
    byzantine_kinds : sequence of str
        Node kinds that are candidates (``"trusted"``, ``"endpoint"``, ``"relay"``; trusted
        nodes by default; :func:`network.byzantine.assign_behaviours`).
    behaviour : str
        Their behaviour (a name of :data:`network.byzantine.BEHAVIOURS`).
    defense : {"abft", "none"}
        The adaptive defence, or none.
    episode_slices : int
        Time slices per episode (>= 1).
    slice_s : float
        Length of a time slice (s, > 0).
    vote_interval_s : float
        Time between voting rounds of the defence (s, >= ``slice_s``).
    intensity_levels : sequence of float
        Signal-intensity scales the agent chooses from (relative to each link's nominal
        optimum, > 0).
    routings : sequence of str
        Route choices the agent chooses from (names in :data:`ROUTINGS`).
    reward_weights : RewardWeights or mapping
        Weights of the reward terms.
    qber_threshold : float
        Security threshold on the measured QBER of a used link, in (0, 0.5].
    fluctuations : str, FluctuationConfig or mapping
        A name in :data:`FLUCTUATION_PRESETS`, or the fluctuation parameters (a mapping is
        passed to :class:`~network.simulation.resources.FluctuationConfig`).
    key_bits : int
        Bits per key request (>= 1).
    utilisation : float
        Fraction of its nominal key rate that the busiest link spends on the demands, in
        (0, 1] (:class:`network.simulation.demands.DemandConfig`).
    pool_capacity_bits : int
        Largest number of key bits a link's pool stores (>= 1); also the observation's pool
        normaliser.
    prefill_s : float
        Seconds of nominal key in every pool at the start of an episode (s, >= 0).
    max_loss_db : float
        Extra loss that maps to 1 in the observation (dB, > 0).
    optimize_intensity : bool
        Re-optimise every link's intensity at its current state each slice (the greedy
        baseline's physics; the intensity action then has no effect).
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (gymnasium's convention)

    def __init__(
        self,
        *,
        topology: str | QKDTopology = "secoqc",
        byzantine_fraction: float = 0.2,
        byzantine_kinds: Sequence[str] = ("trusted",),
        behaviour: str = "mixed",
        defense: str = "abft",
        episode_slices: int = 200,
        slice_s: float = 1.0,
        vote_interval_s: float = 10.0,
        intensity_levels: Sequence[float] = (0.5, 0.75, 1.0, 1.25, 1.5),
        routings: Sequence[str] = ("hops", "residual"),
        reward_weights: RewardWeights | Mapping[str, float] | None = None,
        qber_threshold: float = 0.11,
        fluctuations: str | FluctuationConfig | Mapping[str, float] = "default",
        key_bits: int = 8192,
        utilisation: float = 0.9,
        pool_capacity_bits: int = 2**20,
        prefill_s: float = 10.0,
        max_loss_db: float = 20.0,
        optimize_intensity: bool = False,
    ) -> None:
        self.topology = resolve_topology(topology) if isinstance(topology, str) else topology
        if not isinstance(self.topology, QKDTopology):
            raise TypeError(
                f"topology={topology!r} must be a scenario name, a file or a QKDTopology"
            )
        if not 0.0 <= check_non_negative(byzantine_fraction, "byzantine_fraction") <= 0.4:
            raise ValueError(f"byzantine_fraction={byzantine_fraction!r} not in [0, 0.4]")
        self.byzantine_fraction = float(byzantine_fraction)
        self.byzantine_kinds = tuple(byzantine_kinds)
        for kind in self.byzantine_kinds:
            check_choice(kind, "byzantine_kinds", ("trusted", "endpoint", "relay"))
        self.behaviour = check_choice(behaviour, "behaviour", tuple(BEHAVIOURS))
        check_choice(defense, "defense", DEFENCES)
        self.episode_slices = _positive_int(episode_slices, "episode_slices")
        levels = np.asarray(intensity_levels, dtype=float)
        if levels.ndim != 1 or levels.size == 0 or not np.all(np.isfinite(levels) & (levels > 0)):
            raise ValueError(f"intensity_levels={intensity_levels!r} must be numbers > 0")
        self.intensity_levels = levels
        self.routings = tuple(routings)
        if not self.routings:
            raise ValueError("routings must name at least one route choice")
        for name in self.routings:
            check_choice(name, "routings", ROUTINGS)
        self.reward_weights = _as_reward_weights(reward_weights)
        self.max_loss_db = check_positive(max_loss_db, "max_loss_db")
        capacity = _positive_int(pool_capacity_bits, "pool_capacity_bits")
        # Validates every simulation parameter now rather than at the first reset.
        self.config = SimulationConfig(
            duration_s=self.episode_slices * float(slice_s),
            slice_s=slice_s,
            vote_interval_s=vote_interval_s,
            defense=defense,
            demands=DemandConfig(key_bits=key_bits, utilisation=utilisation),
            fluctuations=_as_fluctuations(fluctuations),
            qber_threshold=qber_threshold,
            pool_capacity_bits=capacity,
            prefill_s=prefill_s,
            optimize_intensity=optimize_intensity,
            routing=self.routings[0],
        )
        self.n_links = self.topology.n_links
        self.node_names: tuple[Hashable, ...] = tuple(LinkGraph.from_topology(self.topology).nodes)
        self.n_nodes = len(self.node_names)
        alternatives = bypass_alternatives(
            self.topology.link_params, decoy=self.topology.decoy["bb84-decoy"]
        )
        self.has_alternative = np.array([alt is not None for alt in alternatives], dtype=bool)
        self._actions = np.arange(self.intensity_levels.size * 2 * len(self.routings))
        protocol_of_action = (self._actions // len(self.routings)) % 2
        self._mask = np.where((protocol_of_action == 1) & ~self.has_alternative.any(), 0, 1).astype(
            np.int8
        )
        self._features = np.zeros((self.n_links, len(LINK_FEATURES)))
        n_obs = self.n_links * len(LINK_FEATURES) + self.n_nodes + 1
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(n_obs,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(self.intensity_levels.size * 2 * len(self.routings))
        self.simulation: NetworkSimulation | None = None
        self._slice_ns = seconds(self.config.slice_s)
        self._t = 0

    # -- actions ----------------------------------------------------------------------------
    def decode_action(self, action: int) -> tuple[float, int, str]:
        """Decode an action index into ``(intensity scale, protocol, routing)``.

        Examples
        --------
        >>> ResourceAllocationEnv(topology="cambridge").decode_action(9)
        (1.0, 0, 'residual')
        """
        index = int(action)
        if not 0 <= index < self.action_space.n:
            raise ValueError(f"action={action!r} not in 0..{self.action_space.n - 1}")
        routes = len(self.routings)
        return (
            float(self.intensity_levels[index // (2 * routes)]),
            (index // routes) % 2,
            self.routings[index % routes],
        )

    def encode_action(self, *, level: int, protocol: int, routing: str) -> int:
        """Encode an intensity-level index, a protocol (0/1) and a routing name as an action index.

        Examples
        --------
        >>> ResourceAllocationEnv(topology="cambridge").encode_action(
        ...     level=2, protocol=0, routing="residual")
        9
        """
        if not 0 <= level < self.intensity_levels.size or protocol not in (0, 1):
            raise ValueError(f"level={level!r} or protocol={protocol!r} out of range")
        route = self.routings.index(check_choice(routing, "routing", self.routings))
        return (level * 2 + protocol) * len(self.routings) + route

    def action_mask(self) -> np.ndarray:
        """Which actions are allowed now (``int8``, one per action)."""
        return self._mask.copy()

    # -- gymnasium API ----------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new network (a fresh simulation seeded from ``self.np_random``)."""
        super().reset(seed=seed)
        sim_seed = int(self.np_random.integers(2**63 - 1))
        sim = build_simulation(
            self.topology,
            byzantine_fraction=self.byzantine_fraction,
            behaviour=self.behaviour,
            config=self.config,
            seed=sim_seed,
            kinds=self.byzantine_kinds,
        )
        self.simulation = sim
        n = self.n_links
        self._nominal_rate = np.asarray(sim.snapshot.key_rate_bps, dtype=float).copy()
        # Nominal demand drawn from each link: the pairs' fewest-hop routes at the nominal state.
        crossing = np.zeros(n)
        for source, target in sim.pairs:
            links = sim.router.path_links(sim.router.shortest_path(source, target))
            crossing[list(links)] += 1.0
        self.link_load_bps = crossing * sim.demand_rate_hz * self.config.demands.key_bits
        self._demand_bits = float(
            sim.demand_rate_hz * len(sim.pairs) * self.config.demands.key_bits * self.config.slice_s
        )
        self._capacity = float(self.config.pool_capacity_bits)
        self._obs = np.zeros(self.observation_space.shape, dtype=np.float32)
        self._t = 0
        sim.step()  # a first slice at the nominal settings starts the run
        self._advance()
        self._target, self._protocol_target = self._targets()
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply ``action`` to the next slice, simulate it, return its delivered key."""
        sim = self.simulation
        if sim is None:
            raise RuntimeError("call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"action={action!r} not in {self.action_space}")
        if not self._mask[int(action)]:
            raise ValueError(f"action={action!r} is masked out (no link has an alternative)")
        scale, protocol, routing = self.decode_action(int(action))
        # only what changes is set (the setters validate, which costs more than the check)
        if sim.intensity_scale[self._target] != scale:
            sim.set_intensity_scale(scale, links=[self._target])
        target = self._protocol_target
        if target >= 0 and sim.protocol_choice[target] != protocol:
            sim.set_protocol_choice(protocol, links=[target])
        if sim.routing != routing:
            sim.set_routing(routing)
        self._advance()
        self._t += 1
        w = self.reward_weights
        demand = self._demand_bits if self._demand_bits > 0 else 1.0
        reward = (
            w.key * sim.slice_delivered_bits
            - w.threshold * sim.slice_bits_above_threshold
            - w.exposed * sim.slice_exposed_bits
        ) / demand
        truncated = self._t >= self.episode_slices
        self._target, self._protocol_target = self._targets()
        info = self._info()
        if truncated:
            # close the last slice so that its measurements enter the run's metrics
            sim.events.run(until=sim.events.now + 1)
            info["episode_metrics"] = sim.metrics.summary(sim.now_s).to_dict()
        return self._observation(), float(reward), False, truncated, info

    # -- internals --------------------------------------------------------------------------
    def _advance(self) -> None:
        """Run the queue to one nanosecond before the next slice boundary."""
        sim = self.simulation
        assert sim is not None
        slice_ns = self._slice_ns
        now = sim.events.now
        sim.events.run(until=((now + 1) // slice_ns + 1) * slice_ns - 1)

    def _need_order(self) -> np.ndarray:
        """Link ids from most to least in need (see the module docstring)."""
        sim = self.simulation
        assert sim is not None
        load = self.link_load_bps
        with np.errstate(divide="ignore", invalid="ignore"):
            held_s = np.where(load > 0, sim.pool_bits / np.where(load > 0, load, 1.0), np.inf)
        qber = sim.measured_qber
        return np.lexsort((-np.where(np.isnan(qber), 0.5, qber), held_s))

    def _targets(self) -> tuple[int, int]:
        order = self._need_order()
        switchable = order[self.has_alternative[order]]
        return int(order[0]) if order.size else -1, int(switchable[0]) if switchable.size else -1

    def _observation(self) -> np.ndarray:
        sim = self.simulation
        assert sim is not None
        res, snap = sim.resources, sim.snapshot
        n = self.n_links
        features = self._features
        features[:, 0] = res.extra_loss_db / self.max_loss_db
        features[:, 1] = res.rate_factor / 2.0
        features[:, 2] = res.efficiency_factor / 2.0
        rate = np.asarray(snap.key_rate_bps, dtype=float)
        total = rate + self._nominal_rate
        features[:, 3] = np.divide(rate, total, out=np.zeros(n), where=total > 0)
        measured = sim.measured_qber
        features[:, 4] = np.where(np.isnan(measured), 1.0, measured / 0.5)
        expected = np.asarray(snap.qber_z, dtype=float)
        features[:, 5] = np.where(np.isnan(expected), 1.0, expected / 0.5)
        features[:, 6] = sim.pool_bits / self._capacity
        features[:, 7] = res.in_fluctuation
        features[:, 8] = sim.intensity_scale / self.intensity_levels.max()
        features[:, 9] = sim.protocol_choice
        features[:, 10] = self.has_alternative
        features[:, 11] = 0.0
        if self._target >= 0:
            features[self._target, 11] = 1.0
        out = self._obs
        out[: features.size] = features.ravel()
        out[features.size : features.size + self.n_nodes] = sim.node_weights
        out[-1] = self.routings.index(sim.routing) / max(len(self.routings) - 1, 1)
        np.clip(out, 0.0, 1.0, out=out)
        return out.copy()

    def _info(self) -> dict[str, Any]:
        sim = self.simulation
        assert sim is not None
        snap_rate = np.asarray(sim.snapshot.key_rate_bps, dtype=float)
        measured = sim.measured_qber
        measured = measured[np.isfinite(measured)]
        in_fluct = sim.resources.in_fluctuation
        return {
            "action_mask": self.action_mask(),
            "delivered_bits": int(sim.slice_delivered_bits),
            "requested_bits": int(sim.slice_requests * self.config.demands.key_bits),
            "bits_above_threshold": int(sim.slice_bits_above_threshold),
            "exposed_bits": int(sim.slice_exposed_bits),
            "key_rate_bps": float(snap_rate.sum()),
            "mean_qber": float(measured.mean()) if measured.size else math.nan,
            "links_in_fluctuation": int(in_fluct.sum()),
            "intensity_target": self._target,
            "protocol_target": self._protocol_target,
        }
