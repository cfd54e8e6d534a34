"""What PBFT replicates: the :class:`StateMachine` protocol, and the network's control ledger.

PBFT orders opaque operations (bytes) and hands them to an application object, one per replica,
that satisfies :class:`StateMachine`: deterministic :meth:`~StateMachine.apply`, and
:meth:`~StateMachine.snapshot` / :meth:`~StateMachine.restore` for checkpoints and state transfer.
Every correct replica applies the same operations in the same order, so their states agree.

The state the trusted nodes of a QKD network agree on is the network's own
:class:`network.voting.ControlLedger` (node weights, accepted QBER per link, excluded nodes and
links, by node index and link id): what voting produces and routing reads. Replicas hold it
through :class:`network.voting.LedgerStateMachine`, whose operations are the canonical JSON of
the voting round's :class:`~network.voting.SetWeights`, :class:`~network.voting.SetAcceptedQber`
and :class:`~network.voting.SetExclusion` (:meth:`~network.voting.LedgerStateMachine.encode`).
:func:`ledger_machine` builds one replica's copy.

Examples
--------
>>> from network.voting import LedgerStateMachine, SetExclusion
>>> machine = ledger_machine(n_nodes=4)
>>> isinstance(machine, StateMachine)
True
>>> machine.apply(LedgerStateMachine.encode(SetExclusion("node", (3,), True)))
b'{"ok":true,"version":1}'
>>> copy = ledger_machine(n_nodes=4)
>>> copy.restore(machine.snapshot())
>>> copy.ledger == machine.ledger, sorted(copy.ledger.excluded_nodes)
(True, [3])
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from network.voting import ControlLedger, LedgerStateMachine

__all__ = ["StateMachine", "ledger_machine"]


@runtime_checkable
class StateMachine(Protocol):
    """What PBFT needs from the replicated application."""

    def apply(self, operation: bytes) -> bytes:
        """Execute ``operation`` deterministically; return its result."""

    def snapshot(self) -> bytes:
        """Encode the whole state canonically (equal states give equal bytes)."""

    def restore(self, snapshot: bytes) -> None:
        """Replace the state by the one ``snapshot`` encodes."""


def ledger_machine(
    ledger: ControlLedger | None = None, *, n_nodes: int = 0, n_links: int = 0
) -> LedgerStateMachine:
    """One replica's copy of the control ledger, as a :class:`StateMachine`.

    Parameters
    ----------
    ledger : ControlLedger, optional
        The initial state (shared safely: a ledger is immutable); default
        :meth:`ControlLedger.initial` of ``n_nodes`` nodes and ``n_links`` links.
    n_nodes, n_links : int
        Size of the default ledger (>= 0).

    Returns
    -------
    LedgerStateMachine
    """
    if ledger is None:
        ledger = ControlLedger.initial(n_nodes=n_nodes, n_links=n_links)
    return LedgerStateMachine(ledger)
