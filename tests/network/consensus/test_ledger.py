"""PBFT replicates the network's own control ledger (network.voting), nothing else."""

from __future__ import annotations

import json

import numpy as np

from network.byzantine import FalseReports
from network.consensus import PBFTConfig, StateMachine, WeightedQuorums, build_group
from network.consensus.ledger import ledger_machine
from network.voting import (
    ControlLedger,
    LedgerStateMachine,
    LinkGraph,
    SetExclusion,
    voting_round,
)

NODES = ["A", "B", "C", "D"]
LINKS = [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A"), ("A", "C")]


def test_a_replica_holds_the_voting_ledger():
    machine = ledger_machine(n_nodes=4, n_links=5)
    assert isinstance(machine, StateMachine) and isinstance(machine, LedgerStateMachine)
    assert machine.ledger == ControlLedger.initial(n_nodes=4, n_links=5)
    start = ControlLedger.initial(n_nodes=4, n_links=5).apply(SetExclusion("link", (2,), True))
    assert ledger_machine(start).ledger is start  # immutable: shared, not copied


def test_replicas_agree_on_the_ledger_that_voting_rounds_produce():
    graph = LinkGraph.from_links(NODES, LINKS)
    ledger = ControlLedger.initial(n_nodes=4, n_links=5)
    liar = {"C": FalseReports(direction="high", magnitude=0.1)}
    operations = []
    for _ in range(3):
        outcome = voting_round(
            ledger,
            graph,
            measured_qber=[0.03] * 5,
            expected_qber=[0.03] * 5,
            behaviours=liar,
            rng=1,
        )
        operations.extend(outcome.operations)
        ledger = outcome.ledger
    assert 2 in ledger.excluded_nodes  # the liar, excluded by the third round
    group = build_group(
        PBFTConfig(WeightedQuorums.uniform(4)),
        seed=3,
        app_factory=lambda: ledger_machine(n_nodes=4, n_links=5),
    )
    for operation in operations:
        group.submit(0, LedgerStateMachine.encode(operation))
    group.network.run()
    assert len(group.clients[0].completed) == len(operations)
    # every replica ends where the rounds' own ledger ended, digest for digest
    assert {r.app.ledger.digest() for r in group.correct_replicas()} == {ledger.digest()}


def test_a_bad_operation_is_refused_alike_everywhere_and_changes_nothing():
    group = build_group(PBFTConfig(WeightedQuorums.uniform(4)), seed=4)
    group.submit(0, LedgerStateMachine.encode(SetExclusion("node", (9,), True)))
    group.network.run()
    result = json.loads(group.clients[0].completed[0].result)
    assert result == {"error": "set-exclusion names node 9, outside [0, 4)"}
    ledgers = {r.app.ledger for r in group.correct_replicas()}
    assert ledgers == {ControlLedger.initial(n_nodes=4, n_links=0)}
    assert np.all([r.last_executed == 1 for r in group.correct_replicas()])
