"""The replicated state machine: a protocol, and the network's control ledger.

PBFT orders opaque operations (bytes) and hands them to an application object, one per replica,
that satisfies :class:`StateMachine`: deterministic :meth:`~StateMachine.apply`, and
:meth:`~StateMachine.snapshot` / :meth:`~StateMachine.restore` for checkpoints and state transfer.
Every correct replica applies the same operations in the same order, so their states agree.

:class:`ControlLedger` is the state the trusted nodes of a QKD network agree on: accepted QBER
reports per link, node weights for the network's adaptive voting, excluded links and nodes, and
routes. Its operations are canonical JSON (sorted keys, no spaces) built by :class:`LedgerOp`;
an operation that fails validation leaves the state unchanged and returns an error result.

Examples
--------
>>> ledger = ControlLedger()
>>> ledger.apply(LedgerOp.report_qber(("a", "b"), 0.021, reporter="a"))
b'{"ok":true}'
>>> ledger.apply(LedgerOp.exclude_node("c"))
b'{"ok":true}'
>>> ledger.qber_reports, sorted(ledger.excluded_nodes)
({('a', 'b'): 0.021}, ['c'])
>>> ledger.apply(LedgerOp.report_qber(("a", "b"), 1.5, reporter="a"))
b'{"error":"qber=1.5 not in [0, 1]"}'
>>> copy = ControlLedger()
>>> copy.restore(ledger.snapshot())
>>> copy.snapshot() == ledger.snapshot()
True
"""

from __future__ import annotations

import json
import math
from typing import Protocol, runtime_checkable

__all__ = ["ControlLedger", "LedgerOp", "StateMachine"]


@runtime_checkable
class StateMachine(Protocol):
    """What PBFT needs from the replicated application."""

    def apply(self, operation: bytes) -> bytes:
        """Execute ``operation`` deterministically; return its result."""

    def snapshot(self) -> bytes:
        """A canonical encoding of the whole state (equal states give equal bytes)."""

    def restore(self, snapshot: bytes) -> None:
        """Replace the state by the one ``snapshot`` encodes."""


def _dump(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _node(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"node={value!r} must be a non-empty string")
    return value


def _link(value: object) -> tuple[str, str]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"link={value!r} must be a pair of node names")
    a, b = (_node(v) for v in value)
    if a == b:
        raise ValueError(f"link={value!r} joins a node to itself")
    return (a, b) if a <= b else (b, a)


class LedgerOp:
    """Builders of :class:`ControlLedger` operations (canonical JSON bytes)."""

    @staticmethod
    def report_qber(link: tuple[str, str], qber: float, *, reporter: str) -> bytes:
        """Record the QBER of ``link`` (fraction) as measured by ``reporter``."""
        return _dump({"op": "report_qber", "link": list(link), "qber": qber, "reporter": reporter})

    @staticmethod
    def set_weights(weights: dict[str, float]) -> bytes:
        """Replace the network's node weights (adaptive voting) by ``weights``."""
        return _dump({"op": "set_weights", "weights": weights})

    @staticmethod
    def exclude_link(link: tuple[str, str]) -> bytes:
        """Exclude ``link`` from routing."""
        return _dump({"op": "exclude_link", "link": list(link)})

    @staticmethod
    def include_link(link: tuple[str, str]) -> bytes:
        """Re-admit ``link``."""
        return _dump({"op": "include_link", "link": list(link)})

    @staticmethod
    def exclude_node(node: str) -> bytes:
        """Exclude ``node`` from routing."""
        return _dump({"op": "exclude_node", "node": node})

    @staticmethod
    def include_node(node: str) -> bytes:
        """Re-admit ``node``."""
        return _dump({"op": "include_node", "node": node})

    @staticmethod
    def set_route(source: str, target: str, path: list[str]) -> bytes:
        """Set the route from ``source`` to ``target`` (node names, both ends included)."""
        return _dump({"op": "set_route", "source": source, "target": target, "path": path})


class ControlLedger:
    """The network's control state, as a deterministic state machine (module docstring).

    Attributes
    ----------
    qber_reports : dict
        ``(a, b) -> qber`` (last accepted report per link, names sorted).
    weights : dict
        Node weights of the adaptive voting.
    excluded_links, excluded_nodes : set
        What routing must avoid.
    routes : dict
        ``(source, target) -> path``.
    operations : int
        Operations applied (valid or not).
    """

    def __init__(self) -> None:
        self.qber_reports: dict[tuple[str, str], float] = {}
        self.reporters: dict[tuple[str, str], str] = {}
        self.weights: dict[str, float] = {}
        self.excluded_links: set[tuple[str, str]] = set()
        self.excluded_nodes: set[str] = set()
        self.routes: dict[tuple[str, str], tuple[str, ...]] = {}
        self.operations = 0

    def apply(self, operation: bytes) -> bytes:
        """Apply one operation; ``{"ok":true}`` or ``{"error": ...}`` (state unchanged)."""
        self.operations += 1
        try:
            op = json.loads(operation)
            if not isinstance(op, dict):
                raise ValueError("an operation must be a JSON object")
            self._apply(op)
        except (ValueError, TypeError, KeyError) as exc:
            return _dump({"error": str(exc)})
        return b'{"ok":true}'

    def _apply(self, op: dict) -> None:
        kind = op.get("op")
        if kind == "report_qber":
            link = _link(op["link"])
            qber = op["qber"]
            if isinstance(qber, bool) or not isinstance(qber, int | float):
                raise TypeError(f"qber={qber!r} must be a number")
            if not (math.isfinite(qber) and 0 <= qber <= 1):
                raise ValueError(f"qber={qber!r} not in [0, 1]")
            self.qber_reports[link] = float(qber)
            self.reporters[link] = _node(op["reporter"])
        elif kind == "set_weights":
            weights = op["weights"]
            if not isinstance(weights, dict):
                raise TypeError("weights must be an object")
            clean = {}
            for node, weight in weights.items():
                if isinstance(weight, bool) or not isinstance(weight, int | float):
                    raise TypeError(f"weight of {node!r}={weight!r} must be a number")
                if not (math.isfinite(weight) and weight >= 0):
                    raise ValueError(f"weight of {node!r}={weight!r} must be finite and >= 0")
                clean[_node(node)] = float(weight)
            self.weights = clean
        elif kind == "exclude_link":
            self.excluded_links.add(_link(op["link"]))
        elif kind == "include_link":
            self.excluded_links.discard(_link(op["link"]))
        elif kind == "exclude_node":
            self.excluded_nodes.add(_node(op["node"]))
        elif kind == "include_node":
            self.excluded_nodes.discard(_node(op["node"]))
        elif kind == "set_route":
            path = op["path"]
            if not isinstance(path, list) or len(path) < 2:
                raise ValueError(f"path={path!r} must list at least two nodes")
            path = tuple(_node(p) for p in path)
            source, target = _node(op["source"]), _node(op["target"])
            if (path[0], path[-1]) != (source, target):
                raise ValueError(f"path={list(path)!r} does not join {source!r} to {target!r}")
            self.routes[(source, target)] = path
        else:
            raise ValueError(f"unknown operation {kind!r}")

    def snapshot(self) -> bytes:
        """Canonical JSON of the whole state."""
        return _dump(
            {
                "qber": sorted(
                    [list(k), v, self.reporters[k]] for k, v in self.qber_reports.items()
                ),
                "weights": self.weights,
                "excluded_links": sorted(list(k) for k in self.excluded_links),
                "excluded_nodes": sorted(self.excluded_nodes),
                "routes": sorted([list(k), list(v)] for k, v in self.routes.items()),
                "operations": self.operations,
            }
        )

    def restore(self, snapshot: bytes) -> None:
        """Replace the state by the one encoded in ``snapshot``."""
        data = json.loads(snapshot)
        self.qber_reports = {tuple(k): v for k, v, _ in data["qber"]}
        self.reporters = {tuple(k): r for k, _, r in data["qber"]}
        self.weights = dict(data["weights"])
        self.excluded_links = {tuple(k) for k in data["excluded_links"]}
        self.excluded_nodes = set(data["excluded_nodes"])
        self.routes = {tuple(k): tuple(v) for k, v in data["routes"]}
        self.operations = data["operations"]
