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

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> module that defines it.
_EXPORTS_BY_MODULE: dict[str, tuple[str, ...]] = {
    "network.errors": (
        "InsufficientKeyError",
        "NoKeyPathError",
        "QKDNetworkError",
        "TopologyError",
    ),
    "network.topology": (
        "KEY_HOLDING_KINDS",
        "NODE_KINDS",
        "QKDTopology",
        "SCENARIOS",
        "ScenarioInfo",
        "link_parameters",
        "load_topology",
        "max_link_length_km",
        "random_geometric_topology",
        "resolve_topology",
        "save_topology",
        "scenario",
        "waxman_topology",
    ),
    "network.links": ("LinkModel", "LinkSnapshot", "bypass_alternatives"),
    "network.keys": (
        "KEY_MODES",
        "Delivery",
        "KeyLedger",
        "KeyMaterial",
        "KeyStore",
        "LinkKey",
        "relay_multipath",
        "relay_otp",
        "xor",
    ),
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
    "network.consensus": (
        "DIGEST_BYTES",
        "NULL_DIGEST",
        "RECONFIGURE_PREFIX",
        "REPLICA_BEHAVIOURS",
        "AlterRelays",
        "AuthStats",
        "Authenticator",
        "BatchContent",
        "Behaviour",
        "CheckReport",
        "Checkpoint",
        "Client",
        "Coalition",
        "Colluding",
        "Commit",
        "Completion",
        "ConsensusConfig",
        "ConsensusError",
        "ControlPlane",
        "DirectedKeyChannel",
        "DropRelays",
        "EquivocatingPrimary",
        "Execution",
        "FalseVotes",
        "FetchState",
        "FetchViewChange",
        "Group",
        "KeyDirectory",
        "LinkProfile",
        "Message",
        "MessageNetwork",
        "NewView",
        "NodeKeys",
        "Outcome",
        "Outgoing",
        "PBFTConfig",
        "Packet",
        "PadReceiver",
        "PadSender",
        "PrePrepare",
        "Prepare",
        "QuorumError",
        "RelayedViewChange",
        "Replay",
        "Replica",
        "Reply",
        "Request",
        "Round",
        "SafetyViolation",
        "Schedule",
        "Send",
        "SilentReplica",
        "Slow",
        "StateMachine",
        "StateTransfer",
        "Status",
        "Tag",
        "Verdict",
        "ViewChange",
        "ViewChangeAck",
        "WeightedQuorums",
        "batch_digest",
        "build_group",
        "check",
        "generate_schedule",
        "ledger_machine",
        "message_digest",
        "parse_reconfiguration",
        "reconfiguration",
        "replay_schedule",
        "replica_behaviour",
        "run_schedule",
        "secret_bits",
        "shrink",
    ),
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

_EXPORTS: dict[str, str] = {
    name: module for module, names in _EXPORTS_BY_MODULE.items() for name in names
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'network' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
