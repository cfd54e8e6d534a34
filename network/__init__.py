"""Network layer of abft-qkd: QKD networks built on :mod:`qkdcircuits`, under attack.

The package is organised by concern, behind one flat namespace (``from network import X`` works
for every public name, imported lazily on first use):

=====================  =========================================================================
module                 what it holds
=====================  =========================================================================
``topology``           :class:`QKDTopology` (trusted nodes, endpoints, untrusted MDI relays; links
                       with protocols and :mod:`qkdcircuits` parameters), built-in scenarios,
                       random generators, JSON/GraphML files
``links``              :class:`LinkModel`: every link's key rate and QBER at its current state,
                       evaluated at once with the :mod:`qkdcircuits` closed forms, memoised
``keys``               key pools in two modes (bit counts or real bits), ledger, one-time-pad
                       relay, Shamir shares over node-disjoint paths
``routing``            :class:`KeyRouter`: key paths through trusted nodes avoiding exclusions
``byzantine``          node behaviours: honest and nine Byzantine policies, their placement
``voting``             adaptive weighted voting and the :class:`ControlLedger`
``simulation``         the discrete-event simulation, resources, demands, metrics, plots
``consensus``          PBFT replicas with weighted quorums and QKD-keyed authenticators
``kms``                an ETSI GS QKD 014 key-management server (optional extra ``[kms]``)
``sweep``              sweeps of independent tasks on a process pool or a Dask cluster
=====================  =========================================================================

This package depends on :mod:`qkdcircuits` only, never on :mod:`rl`.

Examples
--------
>>> from network import build_simulation, SimulationConfig
>>> sim = build_simulation("cambridge", config=SimulationConfig(duration_s=20.0), seed=1)
>>> result = sim.run()
>>> result.metrics.requests > 0
True
"""

from __future__ import annotations

from network import consensus, keys, topology
from qkdcircuits._lazy import exported_names, lazy_exports

__version__ = "0.1.0"

# Public name -> module that defines it. The subpackages' names come from their own lazy export
# maps, so importing them here imports none of their modules.
_EXPORTS_BY_MODULE: dict[str, tuple[str, ...]] = {
    "network.errors": (
        "InsufficientKeyError",
        "NoKeyPathError",
        "QKDNetworkError",
        "TopologyError",
    ),
    "network.topology": tuple(topology.__all__),
    "network.links": ("LinkModel", "LinkSnapshot", "bypass_alternatives"),
    # the relay limits stay in network.keys
    "network.keys": tuple(n for n in keys.__all__ if n not in {"MAX_SHARES", "UNLIMITED_BITS"}),
    "network.routing": ("KeyRouter",),
    "network.sweep": ("EXECUTORS", "SerialExecutor", "open_executor", "run_tasks"),
    "network.byzantine": (
        "BEHAVIOURS",
        "MAX_BYZANTINE_FRACTION",
        "ByzantineBehaviour",
        "Collude",
        "CorruptRelay",
        "CorruptStates",
        "Equivocate",
        "FalseReports",
        "Mixed",
        "NodeBehaviour",
        "PassiveCopy",
        "RelayAction",
        "RelayOutcome",
        "Silent",
        "Withhold",
        "assign_behaviours",
        "effective_misalignment",
        "link_attack_probs",
    ),
    "network.voting": (
        "ControlLedger",
        "DeliveryLog",
        "LedgerStateMachine",
        "LinkGraph",
        "RoundOutcome",
        "VotingRule",
        "voting_round",
        "weighted_median",
        "weighted_vote",
    ),
    # consensus.BEHAVIOURS (the checker's fault names) stays in network.consensus: the flat
    # name is the network's behaviours
    "network.consensus": tuple(n for n in consensus.__all__ if n != "BEHAVIOURS"),
    "network.simulation": (
        "NS_PER_S",
        "EventQueue",
        "seconds",
        "to_seconds",
    ),
    "network.simulation.simulator": (
        "CONSENSUS",
        "DEFENCES",
        "NetworkSimulation",
        "SimulationConfig",
        "SimulationResult",
        "build_simulation",
    ),
    "network.simulation.demands": ("DemandConfig", "DemandProcess", "choose_demand_pairs"),
    "network.simulation.resources": ("FluctuationConfig", "ResourceProcesses"),
    "network.simulation.metrics": ("MetricsCollector", "RunMetrics"),
    "network.simulation.plotting": ("plot_timeseries",),
}

__all__ = sorted([*exported_names(_EXPORTS_BY_MODULE), "__version__"])

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS_BY_MODULE)
