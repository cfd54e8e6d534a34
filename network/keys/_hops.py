"""Machinery shared by the single-path and multipath relays: checks and the hop-by-hop OTP."""

from __future__ import annotations

import itertools
import numbers
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from network.byzantine import NodeBehaviour, RelayAction, RelayOutcome
from network.keys.material import KeyMaterial, xor
from network.keys.store import KeyStore

HONEST = NodeBehaviour()
"""Behaviour of the nodes a behaviours mapping leaves out."""

LinkOf = Callable[[Hashable, Hashable], int] | Mapping[tuple[Hashable, Hashable], int]


def check_store(store: Any) -> KeyStore:
    """``store`` if it is a :class:`KeyStore`."""
    if not isinstance(store, KeyStore):
        raise TypeError(f"store must be a KeyStore, not {type(store).__name__}")
    return store


def check_path(path: Any, name: str = "path") -> tuple[Hashable, ...]:
    """``path`` as a tuple of at least two distinct hashable nodes."""
    if isinstance(path, (str, bytes)) or not isinstance(path, Sequence):
        raise TypeError(f"{name}={path!r} must be a sequence of nodes")
    nodes = tuple(path)
    if len(nodes) < 2:
        raise ValueError(f"{name}={list(nodes)!r} needs at least two nodes")
    try:
        distinct = len(set(nodes)) == len(nodes)
    except TypeError:
        raise TypeError(f"{name}={list(nodes)!r} holds an unhashable node") from None
    if not distinct:
        raise ValueError(f"{name}={list(nodes)!r} visits a node twice")
    return nodes


def path_links(path: tuple[Hashable, ...], link_of: LinkOf, n_links: int) -> tuple[int, ...]:
    """Return the link id of every hop of ``path``, from a callable or a mapping of node pairs."""
    if isinstance(link_of, Mapping):
        mapping = link_of

        def lookup(u: Hashable, v: Hashable) -> Any:
            return mapping[(u, v)] if (u, v) in mapping else mapping[(v, u)]

    elif callable(link_of):
        lookup = link_of
    else:
        raise TypeError(
            "link_of must be a callable (u, v) -> link id or a mapping of node pairs, "
            f"not {type(link_of).__name__}"
        )
    links = []
    for u, v in itertools.pairwise(path):
        try:
            link = lookup(u, v)
        except KeyError:
            raise ValueError(f"no link between {u!r} and {v!r} on path {list(path)!r}") from None
        # ``type(...) is int`` first: the common case skips the abstract-class check.
        if type(link) is not int and (
            isinstance(link, bool) or not isinstance(link, numbers.Integral)
        ):
            raise TypeError(f"link_of({u!r}, {v!r}) returned {link!r}, not an integer link id")
        if not 0 <= link < n_links:
            raise ValueError(f"link_of({u!r}, {v!r}) returned link {link!r}, not in [0, {n_links})")
        links.append(int(link))
    return tuple(links)


def check_behaviours(
    behaviours: Any, nodes: Sequence[Hashable]
) -> Mapping[Hashable, NodeBehaviour]:
    """Check ``behaviours`` for the ``nodes`` that will act and return it as a mapping.

    ``behaviours`` is a mapping node -> NodeBehaviour, or None for all honest. Only the nodes
    that will act (the interior nodes of the paths) are checked, so that a bad entry is refused
    before any key is consumed; entries of other nodes are not looked at.
    """
    if behaviours is None:
        return {}
    if not isinstance(behaviours, Mapping):
        raise TypeError(
            f"behaviours must map node -> NodeBehaviour, not {type(behaviours).__name__}"
        )
    for node in nodes:
        behaviour = behaviours.get(node)
        if behaviour is not None and not isinstance(behaviour, NodeBehaviour):
            raise TypeError(
                f"behaviours[{node!r}] is a {type(behaviour).__name__}, not a NodeBehaviour"
            )
    return behaviours


def behaviour_of(behaviours: Mapping[Hashable, NodeBehaviour], node: Hashable) -> NodeBehaviour:
    """Return the behaviour of ``node`` (honest when the mapping leaves it out)."""
    return behaviours.get(node, HONEST)


@dataclass(frozen=True)
class Carried:
    """What became of one block carried along a path from its second node on.

    Attributes
    ----------
    key : KeyMaterial or None
        What the path's last node holds (``None``: withheld on the way).
    withheld_by : node or None
        The node that withheld the block.
    seen_by : tuple
        Compromised nodes that received the block in the clear, in path order.
    links : tuple of int
        Links whose key the hops consumed (after the first hop), in order.
    """

    key: KeyMaterial | None
    withheld_by: Hashable | None
    seen_by: tuple[Hashable, ...]
    links: tuple[int, ...]


def carry(
    store: KeyStore,
    path: tuple[Hashable, ...],
    links: tuple[int, ...],
    received: KeyMaterial,
    *,
    behaviours: Mapping[Hashable, NodeBehaviour],
    rng: np.random.Generator,
) -> Carried:
    """Relay ``received``, held by ``path[1]``, to ``path[-1]`` by hop-by-hop one-time pads.

    Each interior node's behaviour decides what it sends on; the node encrypts it with its
    copy of the outgoing link's pad (``ends[0]``) and the next node decrypts with its own copy
    (``ends[1]``): real XOR in material mode. Each pad is taken from the store when it is used,
    so hops after a withholding node consume nothing.
    """
    view, seen, used = received, [], []
    counting = store.mode == "accounting"
    for hop in range(1, len(path) - 1):
        node = path[hop]
        if counting and node not in behaviours:
            # An honest node forwards the block unchanged, and a count-only block XORed with
            # the two ends' (identical, unaltered) pad copies is the same block: only the pad's
            # consumption remains to do.
            store.take(links[hop], view.n_bits)
            used.append(links[hop])
            continue
        behaviour = behaviour_of(behaviours, node)
        if behaviour.compromised:
            seen.append(node)
        outcome = behaviour.relay(key=view, rng=rng)
        sent = _checked_outcome(outcome, node, view)
        if sent is None:
            return Carried(key=None, withheld_by=node, seen_by=tuple(seen), links=tuple(used))
        pad = store.take(links[hop], view.n_bits)
        used.append(links[hop])
        view = xor(xor(sent, pad.ends[0]), pad.ends[1])
    return Carried(key=view, withheld_by=None, seen_by=tuple(seen), links=tuple(used))


def _checked_outcome(outcome: Any, node: Hashable, key: KeyMaterial) -> KeyMaterial | None:
    """Check a relay decision and return the block it sends on (``None`` when withheld)."""
    if not isinstance(outcome, RelayOutcome) or not isinstance(outcome.action, RelayAction):
        raise TypeError(f"the behaviour of node {node!r} returned {outcome!r}, not a RelayOutcome")
    if outcome.action is RelayAction.WITHHOLD:
        return None
    sent = outcome.key
    if not isinstance(sent, KeyMaterial) or sent.n_bits != key.n_bits or sent.mode != key.mode:
        raise ValueError(
            f"node {node!r} sent on {sent!r}, expected a {key.mode}-mode block of {key.n_bits} bits"
        )
    return sent
