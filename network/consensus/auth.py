"""Message authenticators from pairwise QKD key: one Wegman-Carter tag per receiver.

Every protocol message carries an *authenticator*: a map ``receiver -> tag``, one Wegman-Carter
tag per receiver (Castro & Liskov, TOCS 2002, Sec. 3.2.1: authenticators replace signatures; a
tag convinces its receiver only, never a third party). A tag is

    ``t = h_k(D(m)) XOR r``,

``D(m)`` the 128-bit BLAKE2b digest of the message's canonical encoding, ``h_k`` the polynomial
hash over GF(2^64) of :func:`qkdcircuits.postprocessing.polynomial_hash` (three 64-bit blocks:
the two digest halves and the length block) under a hash key ``k`` of the directed channel, and
``r`` a fresh 64-bit one-time pad. Both ``k`` and the pads come from the channel's key pools:
a :class:`DirectedKeyChannel` holds two :class:`~qkdcircuits.postprocessing.KeyPool` objects with
the same bits, one at the sender, one at the receiver (the network fills them from its QKD links,
relaying key where there is no direct link); tests fill them from :mod:`secrets`. Hashing the
digest instead of the whole message keeps a tag at three field multiplications whatever the
message size: the forgery probability is ``3 / 2^64`` per try for the hash layer plus the
(computational) chance of a BLAKE2b-128 second preimage.

Pad indexing
------------
Messages are dropped, duplicated and reordered, so the receiver cannot take "the next pad". The
sender takes pads from its pool in order and every tag names the pool offset of its pad
(:attr:`Tag.pad_offset`). The receiver keeps

* a *frontier*: the offset up to which it has taken bits from its own pool;
* a *window*: the pads it has taken but not used yet, by offset;
* ``verified_end``: the end of the highest pad that verified a tag.

A tag naming offset ``o`` is checked as follows. If ``o`` is in the window, its pad is removed
from the window and used. If ``o`` lies below the frontier and is not in the window, the pad was
used already or discarded: the message is a *replay* (or *stale*) and is rejected. If ``o`` lies
at or above the frontier, the receiver takes bits from its pool up to ``o + 64`` (the pads in
between go to the window), unless ``o`` is more than ``max_skip_pads`` pads beyond
``verified_end``: such a tag is rejected without consuming anything, so a forger cannot make the
receiver burn more than a bounded amount of key. A pad is used for one verification whether the
tag checks out or not (as in :class:`~qkdcircuits.postprocessing.WegmanCarterAuthenticator`), so
every pad verifies at most one tag; pads that wait in the window for more than ``window_pads``
pads behind ``verified_end`` (their messages were dropped) are discarded and wiped. Hence every
offset is used at most once, a replayed offset is always rejected, and skipped pads are never
reused. The property tests drive this with random drops, duplicates, reorderings and forgeries.

A node whose pool towards a peer is empty cannot authenticate to it: the tag for that receiver
is missing and the receiver drops the message (:attr:`AuthStats.unauthenticated` counts the
sends that lacked key). The consensus simulation shows what that does to liveness.

References
----------
M. N. Wegman and J. L. Carter, J. Comput. Syst. Sci. 22, 265 (1981), Sec. 3 (one-time-padded
universal hashing). M. Castro and B. Liskov, ACM TOCS 20, 398 (2002), Sec. 3.2.1 (authenticators).
J.-P. Aumasson, S. Neves, Z. Wilcox-O'Hearn and C. Winnerlein, "BLAKE2: simpler, smaller, fast as
MD5", ACNS 2013 (the digest).
"""

from __future__ import annotations

import hashlib
import hmac
import numbers
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

import numpy as np

from network.consensus._gf64 import DigestHasher
from network.consensus.quorums import ConsensusError
from qkdcircuits.postprocessing import TAG_BITS, KeyPool

__all__ = [
    "DIGEST_BYTES",
    "AuthStats",
    "Authenticator",
    "DirectedKeyChannel",
    "KeyDirectory",
    "NodeKeys",
    "PadReceiver",
    "PadSender",
    "Tag",
    "Verdict",
    "message_digest",
    "secret_bits",
]

DIGEST_BYTES = 16
"""Bytes of the BLAKE2b digest that the tags authenticate."""


class Tag(NamedTuple):
    """A Wegman-Carter tag and the pool offset of its one-time pad.

    The same pair as :class:`qkdcircuits.postprocessing.AuthTag`, as a light tuple: every
    protocol message carries one per receiver.
    """

    pad_offset: int
    value: int


Authenticator = dict
"""An authenticator: ``dict[receiver id, Tag]`` (one tag per receiver)."""


def message_digest(data: bytes) -> bytes:
    """Return the 16-byte BLAKE2b digest of a canonical message encoding.

    Examples
    --------
    >>> len(message_digest(b"pre-prepare")), message_digest(b"a") == message_digest(b"b")
    (16, False)
    """
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).digest()


class Verdict:
    """Outcomes of a verification (plain strings, also the keys of :class:`AuthStats`)."""

    OK = "accepted"
    FORGED = "forged"
    REPLAYED = "replayed"
    STALE = "stale"
    OUT_OF_WINDOW = "out_of_window"
    MALFORMED = "malformed"
    EXHAUSTED = "exhausted"
    MISSING = "missing"
    UNKNOWN_SENDER = "unknown_sender"


def _check_count(value: object, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    return int(value)


def secret_bits(n_bits: int) -> np.ndarray:
    """``n_bits`` secret bits (``uint8`` 0/1) from the operating system's CSPRNG (:mod:`secrets`).

    Examples
    --------
    >>> bits = secret_bits(100)
    >>> bits.shape, bool(set(bits.tolist()) <= {0, 1})
    ((100,), True)
    """
    raw = np.frombuffer(secrets.token_bytes(-(-n_bits // 8)), dtype=np.uint8)
    return np.unpackbits(raw)[:n_bits]


def _pads(bits: np.ndarray) -> list[int]:
    """64-bit pads of a segment (first bit most significant, as ``KeySegment.to_int``)."""
    return np.packbits(bits).view(">u8").tolist()


class DirectedKeyChannel:
    """Key for messages from one node to another: the sender's and the receiver's copy.

    Parameters
    ----------
    sender_pool, receiver_pool : KeyPool
        Two pools with the same bits, in step (same bits consumed so far).
    replenish_bits : int, optional
        If given, a pool that runs short is topped up on both sides with this many fresh secret
        bits (a link that keeps producing key); otherwise the channel can run out.
    supply : callable, optional
        Where the key comes from when a pool runs short: ``supply(n_bits)`` returns the
        sender's and the receiver's copy of at least ``n_bits`` new bits (two 0/1 arrays of one
        length, equal unless the key was corrupted on its way), or ``None`` when there is none
        (the network's pools, :class:`~network.consensus.control.ControlPlane`). Takes
        precedence over ``replenish_bits``.

    Examples
    --------
    >>> channel = DirectedKeyChannel.from_secrets(1024)
    >>> channel.sender_pool.remaining == channel.receiver_pool.remaining == 1024
    True
    """

    __slots__ = ("_hashers", "receiver_pool", "replenish_bits", "sender_pool", "supply")

    def __init__(
        self,
        sender_pool: KeyPool,
        receiver_pool: KeyPool,
        *,
        replenish_bits: int | None = None,
        supply: Callable[[int], tuple[np.ndarray, np.ndarray] | None] | None = None,
    ) -> None:
        for name, pool in (("sender_pool", sender_pool), ("receiver_pool", receiver_pool)):
            if not isinstance(pool, KeyPool):
                raise TypeError(f"{name}={pool!r} must be a KeyPool")
        if sender_pool is receiver_pool:
            raise ValueError("sender_pool and receiver_pool must be two copies, not one object")
        if (sender_pool.consumed, sender_pool.remaining) != (
            receiver_pool.consumed,
            receiver_pool.remaining,
        ):
            raise ValueError(
                f"pools out of step: sender {sender_pool!r}, receiver {receiver_pool!r}"
            )
        self.sender_pool = sender_pool
        self.receiver_pool = receiver_pool
        self._hashers: dict[int, DigestHasher] = {}
        self.replenish_bits = (
            None
            if replenish_bits is None
            else _check_count(replenish_bits, "replenish_bits", minimum=TAG_BITS)
        )
        if supply is not None and not callable(supply):
            raise TypeError(f"supply={supply!r} must be callable")
        self.supply = supply

    @classmethod
    def from_bits(
        cls, bits: np.ndarray, *, replenish_bits: int | None = None
    ) -> DirectedKeyChannel:
        """Build a channel whose two pools start with ``bits`` (0/1 array; the pools own its bits).

        Each pool gets its own copy: a pool may zero the array it is given.
        """
        bits = np.asarray(bits)
        return cls(KeyPool(bits.copy()), KeyPool(bits), replenish_bits=replenish_bits)

    @classmethod
    def from_secrets(cls, n_bits: int, *, replenish_bits: int | None = None) -> DirectedKeyChannel:
        """Build a channel with ``n_bits`` fresh secret bits from :mod:`secrets` (tests, demos)."""
        n_bits = _check_count(n_bits, "n_bits", minimum=0)
        return cls.from_bits(secret_bits(n_bits), replenish_bits=replenish_bits)

    @classmethod
    def supplied(
        cls, supply: Callable[[int], tuple[np.ndarray, np.ndarray] | None]
    ) -> DirectedKeyChannel:
        """Build an empty channel that draws its key from ``supply`` as it needs it."""
        empty = np.zeros(0, dtype=np.uint8)
        return cls(KeyPool(empty.copy()), KeyPool(empty), supply=supply)

    def refill(self, bits: np.ndarray, receiver_bits: np.ndarray | None = None) -> None:
        """Append fresh key to both pools (each gets its own copy).

        ``receiver_bits`` (same length) is the receiver's copy when it differs from the
        sender's ``bits`` (key corrupted on its way): the pools stay in step, their tags fail.
        """
        bits = np.asarray(bits)
        other = bits if receiver_bits is None else np.asarray(receiver_bits)
        if other.shape != bits.shape:
            raise ValueError(f"receiver_bits has shape {other.shape}, bits {bits.shape}")
        self.sender_pool.extend(bits.copy())
        self.receiver_pool.extend(other.copy())

    def ensure(self, pool: KeyPool, n_bits: int) -> bool:
        """Return whether ``pool`` holds ``n_bits``, topping both pools up first if it is short.

        The top-up comes from the supply, or is fresh secret bits if the channel replenishes.
        """
        if pool.remaining >= n_bits:
            return True
        short = n_bits - pool.remaining
        if self.supply is not None:
            fresh = self.supply(short)
            if fresh is None:
                return False
            self.refill(*fresh)
            return pool.remaining >= n_bits
        if self.replenish_bits is None:
            return False
        self.refill(secret_bits(max(short, self.replenish_bits)))
        return True

    def hasher(self, key: int) -> DigestHasher:
        """Return the precomputed hash for ``key``.

        Each end takes its hash key from its own pool; when both ends live in one process (a
        simulation) and hold the same key, they share the tables instead of building them twice.
        """
        hasher = self._hashers.get(key)
        if hasher is None:
            hasher = self._hashers[key] = DigestHasher(key)
        return hasher

    @property
    def consumed_bits(self) -> int:
        """Bits taken from the sender's and the receiver's pool together."""
        return self.sender_pool.consumed + self.receiver_pool.consumed


class PadSender:
    """The sending end of a :class:`DirectedKeyChannel`: hash key and pads in pool order.

    The hash key is the first 64 bits the channel hands out (taken on first use by each end).
    Pads are taken ``prefetch_pads`` at a time; each pad tags one message.
    """

    __slots__ = ("_channel", "_hash", "_pads", "_prefetch", "pads_used")

    def __init__(self, channel: DirectedKeyChannel, *, prefetch_pads: int = 64) -> None:
        self._channel = channel
        self._prefetch = _check_count(prefetch_pads, "prefetch_pads")
        self._hash: DigestHasher | None = None
        self._pads: deque[tuple[int, int]] = deque()
        self.pads_used = 0

    def _start(self) -> bool:
        """Take the hash key and the first pads in one go."""
        pool = self._channel.sender_pool
        if not self._channel.ensure(pool, TAG_BITS):
            return False
        count = min(self._prefetch, pool.remaining // TAG_BITS - 1)
        segment = pool.take((1 + count) * TAG_BITS)
        values = _pads(segment.bits)
        self._hash = self._channel.hasher(values[0])
        offset = segment.offset + TAG_BITS
        for pad in values[1:]:
            self._pads.append((offset, pad))
            offset += TAG_BITS
        return True

    def _refill(self) -> bool:
        pool = self._channel.sender_pool
        if not self._channel.ensure(pool, TAG_BITS):
            return False
        count = min(self._prefetch, pool.remaining // TAG_BITS)
        segment = pool.take(count * TAG_BITS)
        offset = segment.offset
        for pad in _pads(segment.bits):
            self._pads.append((offset, pad))
            offset += TAG_BITS
        return True

    def sign(self, digest: bytes) -> Tag | None:
        """Tag a 16-byte ``digest`` with the next pad; return ``None`` without key left."""
        if self._hash is None and not self._start():
            return None
        if not self._pads and not self._refill():
            return None
        offset, pad = self._pads.popleft()
        self.pads_used += 1
        return Tag(offset, self._hash(digest) ^ pad)


class PadReceiver:
    """The receiving end of a :class:`DirectedKeyChannel` (pad indexing: module docstring).

    Parameters
    ----------
    channel : DirectedKeyChannel
    window_pads : int
        Pads kept for late messages behind the highest verified pad.
    max_skip_pads : int
        Largest jump (in pads) beyond the highest verified pad that a tag may name.
    prefetch_pads : int
        Pads taken from the pool at once (never beyond the skip limit).
    """

    __slots__ = (
        "_base",
        "_channel",
        "_frontier",
        "_hash",
        "_max_skip",
        "_prefetch",
        "_verified_end",
        "_window",
        "_window_pads",
        "discarded",
    )

    def __init__(
        self,
        channel: DirectedKeyChannel,
        *,
        window_pads: int = 256,
        max_skip_pads: int = 4096,
        prefetch_pads: int = 64,
    ) -> None:
        self._channel = channel
        self._window_pads = _check_count(window_pads, "window_pads")
        self._max_skip = _check_count(max_skip_pads, "max_skip_pads")
        self._prefetch = _check_count(prefetch_pads, "prefetch_pads")
        self._hash: DigestHasher | None = None
        self._window: dict[int, int] = {}
        self._base = self._frontier = self._verified_end = 0
        self.discarded = 0

    def _start(self) -> bool:
        """Take the hash key and the first pads (into the window) in one go."""
        pool = self._channel.receiver_pool
        if not self._channel.ensure(pool, TAG_BITS):
            return False
        count = min(self._prefetch, self._max_skip, pool.remaining // TAG_BITS - 1)
        segment = pool.take((1 + count) * TAG_BITS)
        values = _pads(segment.bits)
        self._hash = self._channel.hasher(values[0])
        self._base = self._verified_end = position = segment.offset + TAG_BITS
        window = self._window
        for pad in values[1:]:
            window[position] = pad
            position += TAG_BITS
        self._frontier = position
        return True

    @property
    def window_size(self) -> int:
        """Pads taken from the pool and not used yet."""
        return len(self._window)

    def _advance(self, offset: int) -> bool:
        """Take pads from the pool up to and including the one at ``offset``."""
        pool = self._channel.receiver_pool
        need = offset + TAG_BITS - self._frontier
        if not self._channel.ensure(pool, need):
            return False
        limit = self._verified_end + self._max_skip * TAG_BITS
        ahead = min(self._prefetch * TAG_BITS, limit - self._frontier, pool.remaining)
        take = max(need, ahead - ahead % TAG_BITS)
        segment = pool.take(take)
        if segment.offset != self._frontier:
            raise ConsensusError(
                f"receiver pool out of step: expected offset {self._frontier}, got {segment.offset}"
            )
        position = self._frontier
        window = self._window
        for pad in _pads(segment.bits):
            window[position] = pad
            position += TAG_BITS
        self._frontier = position
        return True

    def verify(self, digest: bytes, tag: Tag) -> str:
        """Check ``tag`` on a 16-byte ``digest``; returns a :class:`Verdict` string."""
        if self._hash is None and not self._start():
            return Verdict.EXHAUSTED
        offset, value = tag
        if type(offset) is not int or type(value) is not int:
            return Verdict.MALFORMED
        if offset < self._base or (offset - self._base) % TAG_BITS:
            return Verdict.MALFORMED
        pad = self._window.pop(offset, None)
        if pad is None:
            if offset < self._frontier:
                floor = self._verified_end - self._window_pads * TAG_BITS
                return Verdict.STALE if offset < floor else Verdict.REPLAYED
            if offset >= self._verified_end + self._max_skip * TAG_BITS:
                return Verdict.OUT_OF_WINDOW
            if not self._advance(offset):
                return Verdict.EXHAUSTED
            pad = self._window.pop(offset)
        expected = self._hash(digest) ^ pad
        if not 0 <= value < 1 << TAG_BITS or not hmac.compare_digest(
            expected.to_bytes(8, "big"), value.to_bytes(8, "big")
        ):
            return Verdict.FORGED
        if offset + TAG_BITS > self._verified_end:
            self._verified_end = offset + TAG_BITS
            self._prune()
        return Verdict.OK

    def _prune(self) -> None:
        floor = self._verified_end - self._window_pads * TAG_BITS
        window = self._window
        while window:
            oldest = next(iter(window))
            if oldest >= floor:
                break
            del window[oldest]
            self.discarded += 1


class AuthStats:
    """Counters of one node's authentication: tags made, sends without key, verdicts.

    Attributes
    ----------
    signed : int
        Tags made.
    unauthenticated : int
        Receivers left without a tag because the channel had no key.
    verdicts : dict
        Count per :class:`Verdict` of the tags this node checked.
    """

    __slots__ = ("signed", "unauthenticated", "verdicts")

    def __init__(self) -> None:
        self.signed = 0
        self.unauthenticated = 0
        self.verdicts: dict[str, int] = {}

    @property
    def rejected(self) -> int:
        """Messages dropped for a bad, replayed, stale or missing tag."""
        return sum(v for k, v in self.verdicts.items() if k != Verdict.OK)

    def as_dict(self) -> dict[str, int]:
        """All counters in one flat dict."""
        out = {"signed": self.signed, "unauthenticated": self.unauthenticated}
        out.update(self.verdicts)
        return out


class NodeKeys:
    """One node's authentication state: a :class:`PadSender` and a :class:`PadReceiver` per peer.

    Obtain it from :meth:`KeyDirectory.endpoint` (two twins of one identity share one object).
    """

    __slots__ = ("_directory", "_receivers", "_senders", "node", "stats")

    def __init__(self, node: int, directory: KeyDirectory) -> None:
        self.node = node
        self._directory = directory
        self._senders: dict[int, PadSender | None] = {}
        self._receivers: dict[int, PadReceiver | None] = {}
        self.stats = AuthStats()

    def _sender(self, peer: int) -> PadSender | None:
        try:
            return self._senders[peer]
        except KeyError:
            channel = self._directory.find(self.node, peer)
            sender = None if channel is None else self._directory.make_sender(channel)
            self._senders[peer] = sender
            return sender

    def _receiver(self, peer: int) -> PadReceiver | None:
        try:
            return self._receivers[peer]
        except KeyError:
            channel = self._directory.find(peer, self.node)
            receiver = None if channel is None else self._directory.make_receiver(channel)
            self._receivers[peer] = receiver
            return receiver

    def authenticate(self, digest: bytes, receivers: Iterable[int]) -> Authenticator:
        """One tag of ``digest`` per receiver; receivers without key get none."""
        tags: Authenticator = {}
        stats = self.stats
        for peer in receivers:
            sender = self._sender(peer)
            tag = None if sender is None else sender.sign(digest)
            if tag is None:
                stats.unauthenticated += 1
            else:
                tags[peer] = tag
                stats.signed += 1
        return tags

    def verify(self, sender: int, digest: bytes, authenticator: Mapping[int, Tag]) -> bool:
        """Whether ``authenticator`` holds a valid tag of ``digest`` from ``sender`` to us."""
        receiver = self._receiver(sender)
        if receiver is None:
            verdict = Verdict.UNKNOWN_SENDER
        else:
            tag = authenticator.get(self.node)
            if tag is None:
                verdict = Verdict.MISSING
            elif type(tag) is not Tag:
                verdict = Verdict.MALFORMED
            else:
                verdict = receiver.verify(digest, tag)
        verdicts = self.stats.verdicts
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
        return verdict is Verdict.OK


class KeyDirectory:
    """The pairwise key channels of a set of nodes (replicas and clients).

    The network layer fills it with channels backed by its QKD pools; :meth:`from_secrets` fills
    every ordered pair with fresh secret bits for tests and benchmarks.

    Parameters
    ----------
    window_pads, max_skip_pads, prefetch_pads : int
        Receiver window settings (see :class:`PadReceiver`) and the pads taken at once.

    Examples
    --------
    >>> keys = KeyDirectory.from_secrets([0, 1], bits_per_channel=4096)
    >>> alice, bob = keys.endpoint(0), keys.endpoint(1)
    >>> digest = message_digest(b"commit 7")
    >>> auth = alice.authenticate(digest, [1])
    >>> bob.verify(0, digest, auth), bob.verify(0, digest, auth)  # the replay is rejected
    (True, False)
    >>> bob.verify(0, message_digest(b"commit 8"), alice.authenticate(digest, [1]))
    False
    >>> bob.stats.verdicts
    {'accepted': 1, 'replayed': 1, 'forged': 1}
    """

    def __init__(
        self, *, window_pads: int = 256, max_skip_pads: int = 4096, prefetch_pads: int = 64
    ) -> None:
        self.window_pads = _check_count(window_pads, "window_pads")
        self.max_skip_pads = _check_count(max_skip_pads, "max_skip_pads")
        self.prefetch_pads = _check_count(prefetch_pads, "prefetch_pads")
        self._channels: dict[tuple[int, int], DirectedKeyChannel] = {}
        self._endpoints: dict[int, NodeKeys] = {}

    @classmethod
    def from_secrets(
        cls,
        members: Iterable[int],
        *,
        bits_per_channel: int,
        replenish_bits: int | None = None,
        pairs: Iterable[tuple[int, int]] | None = None,
        **settings: int,
    ) -> KeyDirectory:
        """Channels filled with ``bits_per_channel`` bits from :mod:`secrets`.

        Every ordered pair of ``members`` gets one, or only the ordered ``pairs`` if given (e.g.
        clients talk to replicas, not to each other). With ``replenish_bits`` the channels never
        run out (they top up with fresh secret bits).
        """
        directory = cls(**settings)
        nodes = list(members)
        if pairs is None:
            pairs = [(a, b) for a in nodes for b in nodes if a != b]
        for a, b in pairs:
            channel = DirectedKeyChannel.from_secrets(
                bits_per_channel, replenish_bits=replenish_bits
            )
            directory.add(a, b, channel)
        return directory

    def add(self, sender: int, receiver: int, channel: DirectedKeyChannel) -> None:
        """Register the channel for messages from ``sender`` to ``receiver``."""
        if not isinstance(channel, DirectedKeyChannel):
            raise TypeError(f"channel={channel!r} must be a DirectedKeyChannel")
        if sender == receiver:
            raise ValueError(f"sender={sender!r} and receiver must differ")
        key = (sender, receiver)
        if key in self._channels:
            raise ValueError(f"a channel {sender!r} -> {receiver!r} is already registered")
        self._channels[key] = channel

    def find(self, sender: int, receiver: int) -> DirectedKeyChannel | None:
        """Return the channel ``sender -> receiver``, or ``None``."""
        return self._channels.get((sender, receiver))

    def channel(self, sender: int, receiver: int) -> DirectedKeyChannel:
        """Return the channel ``sender -> receiver`` (``ValueError`` naming the pair if absent)."""
        channel = self.find(sender, receiver)
        if channel is None:
            raise ValueError(f"no key channel from {sender!r} to {receiver!r}")
        return channel

    def endpoint(self, node: int) -> NodeKeys:
        """Return the :class:`NodeKeys` of ``node`` (one object per node)."""
        if node not in self._endpoints:
            if not any(node in pair for pair in self._channels):
                raise ValueError(f"node={node!r} has no key channel in this directory")
            self._endpoints[node] = NodeKeys(node, self)
        return self._endpoints[node]

    def make_sender(self, channel: DirectedKeyChannel) -> PadSender:
        """Make a :class:`PadSender` with this directory's settings."""
        return PadSender(channel, prefetch_pads=self.prefetch_pads)

    def make_receiver(self, channel: DirectedKeyChannel) -> PadReceiver:
        """Make a :class:`PadReceiver` with this directory's settings."""
        return PadReceiver(
            channel,
            window_pads=self.window_pads,
            max_skip_pads=self.max_skip_pads,
            prefetch_pads=self.prefetch_pads,
        )

    @property
    def consumed_bits(self) -> int:
        """Key bits taken from all pools so far (hash keys and pads, both ends)."""
        return sum(c.consumed_bits for c in self._channels.values())

    def __len__(self) -> int:
        return len(self._channels)
