"""Multipath relay: Shamir shares of a key over node-disjoint paths, each carried by OTP.

The source draws a fresh key ``K`` (``n_bits`` secret bits from the operating system), splits it
into ``n = len(paths)`` Shamir shares with threshold ``k`` over GF(2^8)
(:func:`qkdcircuits.postprocessing.split_key`; ``8 * ceil(n_bits / 8)`` bits each) and sends
share ``i`` along path ``i`` by hop-by-hop one-time pad (:mod:`network.keys.relay`; the first
hop pads the share too). Interior nodes behave as their
:class:`~network.byzantine.NodeBehaviour` says: they may withhold or corrupt the share.

Secrecy
    Compromised nodes see the shares of the paths they sit on. Any ``k - 1`` shares of a Shamir
    sharing are independent of the key (each key value is consistent with exactly the same
    number of polynomials), so the key is **exposed iff compromised nodes saw at least k
    shares**. Paths are node-disjoint, so fewer than ``k`` paths with a compromised node never
    expose the key.

Reconstruction and key confirmation
    The target tries the ``k``-subsets of the shares that arrived, in a fixed order, and accepts
    the first whose rebuilt key passes **key confirmation** with the source. The confirmation is
    modelled as ideal: the key passes iff it equals the source's. It stands for the source
    sending a universal_2 hash tag of ``K`` (Toeplitz or polynomial hash, keyed and
    authenticated with pool key, as in QKD error verification) that the target compares with
    the tag of its candidate; a real ``t``-bit tag lets a wrong key pass with probability
    ``2**-t`` per check, so the chance of ever accepting a wrong key is at most
    ``confirmations * 2**-t`` (the :attr:`~network.keys.relay.Delivery.confirmations` field; at
    most ``C(n, k)``).

    Guarantee of this rule (with ideal confirmation): the target never accepts a key different
    from the source's, however many paths are corrupted; and it accepts the source's key
    whenever at least ``k`` shares arrive unaltered, which holds whenever the withholding or
    corrupting nodes sit on at most ``n - k`` paths. A single corrupted share in a subset always
    changes the rebuilt key (Lagrange interpolation is linear with non-zero weights) unless the
    change falls entirely in the zero padding of the last byte; corruptions of several shares
    can cancel (for ``x = 1, 2, 3`` every Lagrange weight is 1). In both exceptions the rebuilt
    key is the source's and is rightly accepted. Accounting mode, which carries no bits, treats
    every subset with an altered share as failing confirmation (the conservative reading).

References
----------
A. Shamir, Commun. ACM 22, 612 (1979) (threshold secret sharing);
L. Salvail, M. Peev, E. Diamanti, R. Alleaume, N. Lutkenhaus and T. Laenger, J. Comput. Secur.
18, 61 (2010) (trusted-repeater QKD networks, key transport over several paths);
J. L. Carter and M. N. Wegman, J. Comput. Syst. Sci. 18, 143 (1979) (universal hashing);
M. Tomamichel, C. C. W. Lim, N. Gisin and R. Renner, Nat. Commun. 3, 634 (2012) (key
confirmation / error verification by a hash tag).

Examples
--------
>>> from network.byzantine import PassiveCopy
>>> from network.keys.store import KeyStore
>>> store = KeyStore(4, mode="material")
>>> store.deposit([512] * 4)
>>> links = {("A", "B"): 0, ("B", "D"): 1, ("A", "C"): 2, ("C", "D"): 3}
>>> delivery = relay_multipath(store, [["A", "B", "D"], ["A", "C", "D"]], 128, threshold=2,
...                            link_of=links, behaviours={"B": PassiveCopy()}, rng=0)
>>> delivery.delivered, delivery.correct, delivery.exposed, delivery.exposed_to
(True, True, False, ('B',))
"""

from __future__ import annotations

import itertools
import math
import numbers
import secrets
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from network.byzantine import NodeBehaviour
from network.keys._hops import (
    LinkOf,
    carry,
    check_behaviours,
    check_path,
    check_store,
    path_links,
)
from network.keys.material import KeyMaterial, xor
from network.keys.relay import Delivery
from network.keys.store import KeyStore
from qkdcircuits._validation import SeedLike, as_generator, check_positive_int
from qkdcircuits.postprocessing import KeyShare, combine_key, split_key

__all__ = ["MAX_SHARES", "relay_multipath"]

MAX_SHARES: int = 255
"""Most shares (paths) a GF(2^8) Shamir sharing allows."""


def _check_paths(paths: Any) -> tuple[tuple[Hashable, ...], ...]:
    """At most 255 paths between the same two nodes whose interiors are pairwise disjoint."""
    if isinstance(paths, (str, bytes)) or not isinstance(paths, Sequence) or not paths:
        raise TypeError(f"paths={paths!r} must be a non-empty sequence of paths")
    checked = tuple(check_path(path, f"paths[{i}]") for i, path in enumerate(paths))
    if len(checked) > MAX_SHARES:
        raise ValueError(f"{len(checked)} paths given; Shamir over GF(2^8) allows {MAX_SHARES}")
    source, target = checked[0][0], checked[0][-1]
    seen: dict[Hashable, int] = {}
    for i, path in enumerate(checked):
        if (path[0], path[-1]) != (source, target):
            raise ValueError(
                f"paths[{i}] joins {path[0]!r} and {path[-1]!r}, not {source!r} and {target!r}"
            )
        if len(path) == 2 and seen.get((source, target)) is not None:
            raise ValueError(f"paths[{i}] repeats the direct link {source!r}-{target!r}")
        for node in path[1:-1] or [(source, target)]:
            if node in seen:
                raise ValueError(
                    f"paths[{seen[node]}] and paths[{i}] share {node!r}: paths must be "
                    "node-disjoint"
                )
            seen[node] = i
    return checked


def _rebuild(subset: Sequence[tuple[int, KeyMaterial]], n_bits: int) -> KeyMaterial:
    """Rebuild the key from ``(path index, share)`` pairs (altered if any share is, in counts)."""
    if subset[0][1].bits is None:
        return KeyMaterial.counted(n_bits, altered=any(share.altered for _, share in subset))
    shares = [
        KeyShare(x=index + 1, data=np.packbits(share.bits), n_bits=n_bits)
        for index, share in subset
    ]
    return KeyMaterial(n_bits=n_bits, bits=combine_key(shares))


def relay_multipath(
    store: KeyStore,
    paths: Sequence[Sequence[Hashable]],
    n_bits: int,
    *,
    threshold: int,
    link_of: LinkOf,
    behaviours: Mapping[Hashable, NodeBehaviour] | None = None,
    rng: SeedLike = None,
) -> Delivery:
    """Deliver an ``n_bits`` key as ``len(paths)`` Shamir shares over node-disjoint paths.

    See the module docstring for the scheme, the secrecy and what the key-confirmation rule
    guarantees. Every hop of every path is checked for enough key before anything is consumed.
    When the target accepts the key, the pads of the paths whose share arrived intact are
    marked delivered in the store's ledger.

    Parameters
    ----------
    store : KeyStore
        The link pools (its mode decides real bits or counts).
    paths : sequence of paths
        Node-disjoint paths, each a sequence of nodes from the same source to the same target
        (at most one of them the direct link); at most :data:`MAX_SHARES`.
    n_bits : int
        Key length in bits, >= 1.
    threshold : int
        ``k``: shares needed to rebuild the key, ``1 <= k <= len(paths)``.
    link_of : callable or mapping
        Link id of each hop, as for :func:`~network.keys.relay.relay_otp`.
    behaviours : mapping node -> NodeBehaviour, optional
        Behaviour of the interior nodes; nodes left out are honest.
    rng : int, numpy.random.Generator or None
        Randomness of the behaviours' decisions (never of key bits or Shamir coefficients,
        which come from the operating system).

    Returns
    -------
    Delivery
        With ``threshold``, ``shares_arrived``, ``shares_exposed`` and ``confirmations``.

    Raises
    ------
    InsufficientKeyError
        If a hop's pool holds fewer bits than a share (nothing is consumed).
    TypeError, ValueError
        If an argument is invalid, e.g. paths that share a node, or ``threshold`` out of range
        (nothing is consumed).

    Examples
    --------
    >>> from network.byzantine import CorruptRelay
    >>> store = KeyStore(6)
    >>> store.deposit([1000] * 6)
    >>> links = {("s", "a"): 0, ("a", "t"): 1, ("s", "b"): 2, ("b", "t"): 3, ("s", "c"): 4,
    ...          ("c", "t"): 5}
    >>> paths = [["s", "a", "t"], ["s", "b", "t"], ["s", "c", "t"]]
    >>> delivery = relay_multipath(store, paths, 64, threshold=2, link_of=links,
    ...                            behaviours={"a": CorruptRelay()}, rng=0)
    >>> delivery.delivered, delivery.correct, delivery.confirmations, delivery.consumed_bits
    (True, True, 3, 384)
    """
    store = check_store(store)
    checked = _check_paths(paths)
    n_bits = check_positive_int(n_bits, "n_bits")
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Integral):
        raise TypeError(f"threshold={threshold!r} must be an integer")
    if not 1 <= threshold <= len(checked):
        raise ValueError(f"threshold={threshold!r} not in [1, {len(checked)}] (number of paths)")
    threshold = int(threshold)
    hops = [path_links(path, link_of, store.n_links) for path in checked]
    behaviours = check_behaviours(behaviours, [node for path in checked for node in path[1:-1]])
    generator = as_generator(rng, "rng")
    share_bits = 8 * -(-n_bits // 8)
    store.check_available([link for links in hops for link in links], share_bits)

    if store.mode == "material":
        raw = np.frombuffer(secrets.token_bytes(share_bits // 8), dtype=np.uint8)
        key_bits = np.unpackbits(raw)[:n_bits]
        source_key = KeyMaterial(n_bits=n_bits, bits=key_bits)
        sent = [
            KeyMaterial(n_bits=share_bits, bits=np.unpackbits(share.data))
            for share in split_key(key_bits, threshold=threshold, n_shares=len(checked))
        ]
    else:
        source_key = KeyMaterial.counted(n_bits)
        sent = [KeyMaterial.counted(share_bits)] * len(checked)

    arrived: list[tuple[int, KeyMaterial]] = []
    seen_by: list[Hashable] = []
    used: list[int] = []
    delivered_links: list[int] = []
    withheld: list[Hashable] = []
    shares_exposed = 0
    for index, (path, links) in enumerate(zip(checked, hops, strict=True)):
        pad = store.take(links[0], share_bits)
        received = xor(xor(sent[index], pad.ends[0]), pad.ends[1])
        carried = carry(store, path, links, received, behaviours=behaviours, rng=generator)
        path_used = (links[0], *carried.links)
        used.extend(path_used)
        seen_by.extend(carried.seen_by)
        shares_exposed += bool(carried.seen_by)
        if carried.key is None:
            withheld.append(carried.withheld_by)
            continue
        arrived.append((index, carried.key))
        if carried.key == sent[index]:
            delivered_links.extend(path_used)

    target_key, confirmations = None, 0
    for subset in itertools.combinations(arrived, threshold):
        candidate = _rebuild(subset, n_bits)
        confirmations += 1
        if candidate == source_key:
            target_key = candidate
            break

    delivered = target_key is not None
    if delivered:
        store.mark_delivered(delivered_links, share_bits)
        reason = None
    elif len(arrived) < threshold:
        reason = (
            f"{len(arrived)} of {len(checked)} shares arrived, {threshold} needed "
            f"(withheld by {', '.join(map(str, withheld))})"
        )
    else:
        reason = (
            f"no {threshold} of the {len(arrived)} shares that arrived pass key confirmation "
            f"({confirmations} checked of {math.comb(len(arrived), threshold)})"
        )
    return Delivery(
        source=checked[0][0],
        target=checked[0][-1],
        paths=checked,
        n_bits=n_bits,
        delivered=delivered,
        correct=delivered,
        exposed=shares_exposed >= threshold,
        exposed_to=tuple(seen_by),
        consumed_bits=share_bits * len(used),
        links=tuple(used),
        reason=reason,
        threshold=threshold,
        shares_arrived=len(arrived),
        shares_exposed=shares_exposed,
        confirmations=confirmations,
        source_key=source_key,
        target_key=target_key,
    )
