"""The control ledger: operations, refusals without side effects, canonical snapshots."""

from __future__ import annotations

import json

import pytest

from network.consensus import ControlLedger, LedgerOp, StateMachine


def test_operations_update_the_control_state():
    ledger = ControlLedger()
    assert isinstance(ledger, StateMachine)
    ops = [
        LedgerOp.report_qber(("b", "a"), 0.03, reporter="a"),
        LedgerOp.set_weights({"a": 1.0, "b": 0.5}),
        LedgerOp.exclude_link(("a", "c")),
        LedgerOp.exclude_node("c"),
        LedgerOp.set_route("a", "d", ["a", "b", "d"]),
        LedgerOp.include_node("c"),
    ]
    assert [ledger.apply(op) for op in ops] == [b'{"ok":true}'] * len(ops)
    assert ledger.qber_reports == {("a", "b"): 0.03}
    assert ledger.weights == {"a": 1.0, "b": 0.5}
    assert ledger.excluded_links == {("a", "c")} and ledger.excluded_nodes == set()
    assert ledger.routes == {("a", "d"): ("a", "b", "d")}


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (LedgerOp.report_qber(("a", "b"), -0.1, reporter="a"), "qber=-0.1 not in [0, 1]"),
        (LedgerOp.report_qber(("a", "a"), 0.1, reporter="a"), "joins a node to itself"),
        (LedgerOp.set_weights({"a": -1}), "weight of 'a'=-1"),
        (LedgerOp.set_route("a", "d", ["a", "c"]), "does not join 'a' to 'd'"),
        (b'{"op":"launch"}', "unknown operation 'launch'"),
        (b"not json", "Expecting value"),
        (b"[1]", "must be a JSON object"),
    ],
)
def test_bad_operations_return_an_error_and_change_nothing(operation, message):
    ledger = ControlLedger()
    ledger.apply(LedgerOp.exclude_node("x"))
    before = ledger.snapshot()
    result = json.loads(ledger.apply(operation))
    assert message in result["error"]
    after = json.loads(ledger.snapshot())
    expected = json.loads(before)
    expected["operations"] += 1  # the attempt is counted, nothing else changes
    assert after == expected


def test_snapshots_are_canonical_and_restore_exactly():
    first, second = ControlLedger(), ControlLedger()
    for op in (LedgerOp.exclude_node("b"), LedgerOp.exclude_node("a")):
        first.apply(op)
    for op in (LedgerOp.exclude_node("a"), LedgerOp.exclude_node("b")):
        second.apply(op)
    assert first.snapshot() == second.snapshot()  # insertion order does not matter
    copy = ControlLedger()
    copy.restore(first.snapshot())
    assert copy.snapshot() == first.snapshot() and copy.excluded_nodes == {"a", "b"}
