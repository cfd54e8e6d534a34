"""PBFT consensus with weighted quorums, authenticated by QKD keys.

The trusted nodes of a QKD network agree on its control state (the network's
:class:`network.voting.ControlLedger`: node weights, accepted QBERs, excluded nodes and links)
with PBFT (Castro & Liskov, OSDI 1999 / ACM TOCS 2002):

* :class:`Replica` and :class:`Client` are pure state machines (``on_message``, ``on_timer``,
  ``deadline``) that any driver can run: :class:`MessageNetwork` on the network's event queue,
  the schedule checker, or the network simulation;
* :class:`WeightedQuorums` holds the replica weights (WHEAT/AWARE) and refuses configurations with
  ``F* >= W/3``; weight changes are ordered requests (:func:`reconfiguration`);
* every message carries one Wegman-Carter tag per receiver, keyed from pairwise key pools
  (:class:`KeyDirectory`, :class:`DirectedKeyChannel`), with offset-indexed one-time pads;
* Byzantine behaviours (:class:`EquivocatingPrimary`, :class:`Colluding`, ...) compose onto
  replicas;
* :func:`check` runs random Twins-style schedules and checks safety after every event
  (``abft-qkd pbft check``);
* :class:`ControlPlane` runs a committee of the network's trusted nodes as replicas inside the
  network simulation (``SimulationConfig(consensus="pbft")``), with messages delayed along the
  fibre and authenticators keyed from the network's own key pools.

Examples
--------
>>> from network.consensus import EquivocatingPrimary, PBFTConfig, WeightedQuorums, build_group
>>> from network.voting import LedgerStateMachine, SetWeights
>>> config = PBFTConfig(WeightedQuorums((2, 1, 1, 1, 1, 1)))  # W = 7, F* = 2, Q = 5
>>> group = build_group(config, behaviours={0: EquivocatingPrimary()}, seed=4)
>>> group.submit(0, LedgerStateMachine.encode(SetWeights((0.5, 1, 1, 1, 1, 1))))
>>> _ = group.network.run(until=10**10)
>>> sorted({r.view for r in group.correct_replicas()}), group.clients[0].completed[0].result
([1], b'{"ok":true,"version":1}')
>>> {r.app.ledger.weights[0] for r in group.correct_replicas()}
{0.5}
"""

from __future__ import annotations

from qkdcircuits._lazy import exported_names, lazy_exports

# Public name -> module that defines it, imported on first use: `import network.consensus` is
# cheap, and `network` derives its flat names from this map.
_EXPORTS_BY_MODULE: dict[str, tuple[str, ...]] = {
    "network.consensus.auth": (
        "DIGEST_BYTES",
        "Authenticator",
        "AuthStats",
        "DirectedKeyChannel",
        "KeyDirectory",
        "NodeKeys",
        "PadReceiver",
        "PadSender",
        "Tag",
        "Verdict",
        "message_digest",
        "secret_bits",
    ),
    "network.consensus.byzantine": (
        "AlterRelays",
        "Coalition",
        "Colluding",
        "DropRelays",
        "EquivocatingPrimary",
        "FalseVotes",
        "Replay",
        "SilentReplica",
        "Slow",
    ),
    "network.consensus.checker": (
        "BEHAVIOURS",
        "CheckReport",
        "Outcome",
        "Round",
        "SafetyViolation",
        "Schedule",
        "check",
        "generate_schedule",
        "replay_schedule",
        "run_schedule",
        "shrink",
    ),
    "network.consensus.client": (
        "Client",
        "Completion",
    ),
    "network.consensus.config": (
        "RECONFIGURE_PREFIX",
        "PBFTConfig",
        "parse_reconfiguration",
        "reconfiguration",
    ),
    "network.consensus.control": (
        "REPLICA_BEHAVIOURS",
        "ConsensusConfig",
        "ControlPlane",
        "replica_behaviour",
    ),
    "network.consensus.harness": (
        "Group",
        "LinkProfile",
        "MessageNetwork",
        "build_group",
    ),
    "network.consensus.ledger": (
        "StateMachine",
        "ledger_machine",
    ),
    "network.consensus.messages": (
        "NULL_DIGEST",
        "BatchContent",
        "Checkpoint",
        "Commit",
        "FetchState",
        "FetchViewChange",
        "Message",
        "NewView",
        "Outgoing",
        "Packet",
        "Prepare",
        "PrePrepare",
        "RelayedViewChange",
        "Reply",
        "Request",
        "StateTransfer",
        "Status",
        "ViewChange",
        "ViewChangeAck",
        "batch_digest",
    ),
    "network.consensus.quorums": (
        "ConsensusError",
        "QuorumError",
        "WeightedQuorums",
    ),
    "network.consensus.replica": (
        "Behaviour",
        "Execution",
        "Replica",
        "Send",
    ),
}

__all__ = exported_names(_EXPORTS_BY_MODULE)

__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS_BY_MODULE)
