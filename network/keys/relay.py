"""End-to-end keys by hop-by-hop one-time-pad relay through trusted nodes.

The source and the first node of the path already share key: the next block of their link's
pool. That block is the end-to-end key ``K``. Every trusted node on the path then holds ``K``,
encrypts it with its copy of the next link's pad, ``C = K xor P_out``, and the next node
recovers ``K = C xor P_out`` with its own copy, until the target holds ``K``. Each pad is used
once (the store hands every bit out once); a path of ``h`` hops consumes ``h * n_bits`` bits.
Every trusted node sees ``K`` in the clear, so one compromised node on the path exposes the key
(Elliott, New J. Phys. 4, 46 (2002); Peev et al., New J. Phys. 11, 075001 (2009), the
SECOQC trusted-repeater scheme).

Each interior node's :class:`~network.byzantine.NodeBehaviour` decides what it does with the key
(forward, withhold or corrupt); a compromised node learns the key whatever it does.

Examples
--------
>>> import numpy as np
>>> from network.keys.store import KeyStore
>>> store = KeyStore(2, mode="material")
>>> store.deposit([256, 256])
>>> links = {("A", "B"): 0, ("B", "C"): 1}
>>> delivery = relay_otp(store, ["A", "B", "C"], 128, link_of=links, rng=1)
>>> delivery
Delivery(source='A', target='C', n_bits=128, delivered=True, correct=True, exposed=False, \
consumed_bits=256)
>>> bool(np.array_equal(delivery.source_key.bits, delivery.target_key.bits))
True
>>> store.available.tolist(), store.ledger().delivered.tolist()
([128, 128], [128, 128])
"""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from network.byzantine import NodeBehaviour
from network.keys._hops import (
    LinkOf,
    carry,
    check_behaviours,
    check_path,
    check_store,
    path_links,
)
from network.keys.material import KeyMaterial
from network.keys.store import KeyStore
from qkdcircuits._validation import SeedLike, as_generator, check_positive_int

__all__ = ["Delivery", "relay_otp"]


@dataclass(frozen=True, eq=False)
class Delivery:
    """What became of one end-to-end key request.

    Key bits never appear in the repr.

    Attributes
    ----------
    source, target : node
        The two ends.
    paths : tuple of tuple
        The path(s) the key (or its shares) took, each from ``source`` to ``target``.
    n_bits : int
        Length of the key in bits.
    delivered : bool
        Whether the target received a key (single path) or accepted one after key confirmation
        (multipath).
    correct : bool
        Whether the target's key equals the source's (``False`` when not delivered).
    exposed : bool
        Whether the adversary learned the key: a compromised node handled it in the clear
        (single path), or compromised nodes saw at least ``threshold`` shares (multipath).
    exposed_to : tuple
        The compromised nodes that received the key or a share, in path order.
    consumed_bits : int
        Pool bits consumed on all hops (pads of hops after a withholding node are not used).
    links : tuple of int
        The links whose pools the request consumed, in path order.
    reason : str or None
        Why the key was not delivered (``None`` when it was).
    threshold : int
        Shares needed to rebuild the key (1 for a single path).
    shares_arrived : int
        Shares (blocks, for a single path) that reached the target.
    shares_exposed : int
        Shares (blocks) that a compromised node received.
    confirmations : int
        Key-confirmation checks the target made (multipath; 0 for a single path).
    source_key, target_key : KeyMaterial or None
        The source's key and the key the target ends with (``None`` if none): real bits in
        material mode, counts in accounting mode.
    """

    source: Hashable
    target: Hashable
    paths: tuple[tuple[Hashable, ...], ...] = field(repr=False)
    n_bits: int
    delivered: bool
    correct: bool
    exposed: bool
    exposed_to: tuple[Hashable, ...] = field(repr=False)
    consumed_bits: int
    links: tuple[int, ...] = field(repr=False)
    reason: str | None = None
    threshold: int = field(default=1, repr=False)
    shares_arrived: int = field(default=1, repr=False)
    shares_exposed: int = field(default=0, repr=False)
    confirmations: int = field(default=0, repr=False)
    source_key: KeyMaterial | None = field(default=None, repr=False)
    target_key: KeyMaterial | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("n_bits", "consumed_bits", "threshold", "shares_arrived", "shares_exposed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{name}={value!r} must be a non-negative integer")
        if self.delivered == (self.reason is not None):
            raise ValueError(
                f"reason={self.reason!r} must be given exactly when the key was not delivered"
            )
        if self.correct and not self.delivered:
            raise ValueError("correct=True needs delivered=True")
        if self.delivered and self.target_key is None:
            raise ValueError("a delivered key needs target_key")

    @property
    def mode(self) -> str:
        """``"material"`` or ``"accounting"`` (from the source key)."""
        return "accounting" if self.source_key is None else self.source_key.mode

    @property
    def secure(self) -> bool:
        """Delivered, correct and not exposed: a key the two ends may use."""
        return self.delivered and self.correct and not self.exposed

    def __repr__(self) -> str:
        extra = "" if self.reason is None else f", reason={self.reason!r}"
        return (
            f"Delivery(source={self.source!r}, target={self.target!r}, n_bits={self.n_bits}, "
            f"delivered={self.delivered}, correct={self.correct}, exposed={self.exposed}, "
            f"consumed_bits={self.consumed_bits}{extra})"
        )


def relay_otp(
    store: KeyStore,
    path: list[Hashable] | tuple[Hashable, ...],
    n_bits: int,
    *,
    link_of: LinkOf,
    behaviours: Mapping[Hashable, NodeBehaviour] | None = None,
    rng: SeedLike = None,
) -> Delivery:
    """Deliver an ``n_bits`` key from ``path[0]`` to ``path[-1]`` by hop-by-hop OTP relay.

    The key is the next block of the first link's pool; each later hop one-time-pads it with
    the next block of its link's pool (see the module docstring). Every hop is checked for
    enough key before anything is consumed. A direct link (two nodes) just takes one block.
    When the target receives the correct key, the consumed bits are marked delivered in the
    store's ledger.

    Parameters
    ----------
    store : KeyStore
        The link pools (its mode decides real bits or counts).
    path : sequence of nodes
        Source, the trusted nodes in between, target (at least two distinct nodes).
    n_bits : int
        Key length in bits, >= 1.
    link_of : callable or mapping
        ``link_of(u, v)`` (e.g. :meth:`network.topology.QKDTopology.link_id` or
        :meth:`network.routing.KeyRouter.link_of`) or a mapping ``{(u, v): link_id}`` (either
        orientation) giving the link id of each hop.
    behaviours : mapping node -> NodeBehaviour, optional
        Behaviour of the interior nodes; nodes left out are honest.
    rng : int, numpy.random.Generator or None
        Randomness of the behaviours' decisions (never of key bits).

    Returns
    -------
    Delivery
        Delivered or not (and why), correct, exposed, the consumed bits and both keys.

    Raises
    ------
    InsufficientKeyError
        If a hop's pool holds fewer than ``n_bits`` bits (nothing is consumed).
    TypeError, ValueError
        If an argument is invalid, e.g. a path that repeats a node or a hop without a link
        (nothing is consumed).

    Examples
    --------
    >>> from network.byzantine import Withhold
    >>> store = KeyStore(2)
    >>> store.deposit([1000, 1000])
    >>> relay_otp(store, ["A", "B", "C"], 100, link_of={("A", "B"): 0, ("B", "C"): 1},
    ...           behaviours={"B": Withhold()}, rng=0)
    Delivery(source='A', target='C', n_bits=100, delivered=False, correct=False, \
exposed=True, consumed_bits=100, reason='withheld by node B')
    """
    store = check_store(store)
    nodes = check_path(path)
    n_bits = check_positive_int(n_bits, "n_bits")
    links = path_links(nodes, link_of, store.n_links)
    behaviours = check_behaviours(behaviours, nodes[1:-1])
    generator = as_generator(rng, "rng")
    store.check_available(links, n_bits)

    first = store.take(links[0], n_bits)
    source_key = first.ends[0]
    carried = carry(store, nodes, links, first.ends[1], behaviours=behaviours, rng=generator)
    used = (links[0], *carried.links)
    delivered = carried.key is not None
    correct = delivered and carried.key == source_key
    if correct:
        store.mark_delivered(used, n_bits)
    return Delivery(
        source=nodes[0],
        target=nodes[-1],
        paths=(nodes,),
        n_bits=n_bits,
        delivered=delivered,
        correct=correct,
        exposed=bool(carried.seen_by),
        exposed_to=carried.seen_by,
        consumed_bits=n_bits * len(used),
        links=used,
        reason=None if delivered else f"withheld by node {carried.withheld_by}",
        shares_arrived=int(delivered),
        shares_exposed=int(bool(carried.seen_by)),
        source_key=source_key,
        target_key=carried.key,
    )
