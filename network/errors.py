"""Exceptions of the network layer.

Domain failures get their own classes (as networkx has ``NetworkXNoPath``); those that come from
bad user input also derive from :class:`ValueError`, so callers that only know the standard
exceptions still catch them.
"""

from __future__ import annotations

__all__ = [
    "InsufficientKeyError",
    "NoKeyPathError",
    "QKDNetworkError",
    "TopologyError",
]


class QKDNetworkError(Exception):
    """Base class of the network layer's errors."""


class TopologyError(QKDNetworkError, ValueError):
    """A topology is invalid; the message names the node or link at fault."""


class NoKeyPathError(QKDNetworkError):
    """No path of usable (not excluded) links joins two nodes."""


class InsufficientKeyError(QKDNetworkError):
    """A key pool holds fewer unused bits than a request needs; nothing was consumed."""
