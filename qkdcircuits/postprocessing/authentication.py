"""Wegman-Carter authentication of the classical channel with one-time-padded polynomial hashes.

Post-processing talks over a public channel that must be authenticated, or a man in the middle
reconciles a different key with each party. A Wegman-Carter tag is ``t = h_k(m) XOR r``:

* ``h_k`` is the polynomial hash over GF(2^64): the message is cut into 64-bit blocks
  ``m_1 .. m_L`` (the last one holds the bit length, so the encoding is injective) and
  ``h_k(m) = sum_i m_i k^(L + 1 - i)``. Two distinct messages give a nonzero polynomial of degree
  at most ``L`` with no constant term, so ``h_k(m) XOR h_k(m') = c`` for at most ``L`` keys:
  the family is ``L / 2^64``-almost-XOR-universal, ``L`` being the block count of the longer of
  the two messages.
* ``r`` is a fresh 64-bit one-time pad. With it, a forger who has seen a message and its tag and
  substitutes a message of her choice succeeds with probability at most ``L / 2^64`` per try
  (``L`` the block count of the longer of the two), and the hash key ``k`` may be kept for the
  following messages; only the pads are consumed per tag.

Key bits come from a :class:`KeyPool` (previously distilled, or pre-shared to bootstrap) whose
:meth:`KeyPool.take` hands out every bit exactly once: a pool cannot be rewound, copied or
pickled, and a verifier consumes its pad whether or not the tag checks out, so a replayed tag
always meets a new pad.

References
----------
M. N. Wegman and J. L. Carter, "New hash functions and their use in authentication and set
equality", J. Comput. Syst. Sci. 22, 265 (1981), Sec. 3 (one-time-padded tags, reusable hash).
B. den Boer, "A simple and key-economical unconditional authentication scheme", J. Comput.
Security 2, 65 (1993) and J. Bierbrauer, T. Johansson, G. Kabatianskii, B. Smeets, CRYPTO '93,
LNCS 773, 331 (1994): polynomial hashing, collision probability ``L / q``.
C. Portmann, "Key recycling in authentication", IEEE Trans. Inf. Theory 60, 4383 (2014):
composable security of Wegman-Carter with a recycled hash key and fresh pads.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

import numpy as np

from qkdcircuits._validation import check_positive_int
from qkdcircuits.postprocessing._bits import bits_to_bytes, check_bits
from qkdcircuits.postprocessing._gf64 import poly_hash

__all__ = [
    "TAG_BITS",
    "AuthTag",
    "InsufficientKeyError",
    "KeyPool",
    "KeySegment",
    "WegmanCarterAuthenticator",
    "forgery_probability",
    "polynomial_hash",
]

TAG_BITS = 64
"""Bits per tag (and per hash key): one GF(2^64) element."""


class InsufficientKeyError(ValueError):
    """The key pool holds fewer unused bits than requested."""


@dataclass(frozen=True, eq=False)
class KeySegment:
    """Bits handed out once by a :class:`KeyPool`.

    Attributes
    ----------
    offset : int
        Position of the first bit in the pool's lifetime stream (both parties' pools agree on it).
    bits : numpy.ndarray
        The key bits (read-only ``uint8``).
    """

    offset: int
    bits: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        self.bits.setflags(write=False)

    def to_int(self) -> int:
        """The bits as an unsigned integer, first bit most significant."""
        return int("".join(map(str, self.bits.tolist())) or "0", 2)


class KeyPool:
    """A store of secret key bits that hands out every bit exactly once.

    Each party keeps its own pool with the same contents (e.g. the previous session's final key);
    because both take in the same order, the segment offsets stay in step.

    Parameters
    ----------
    bits : numpy.ndarray
        Initial key bits (0/1).

    Examples
    --------
    >>> import numpy as np
    >>> pool = KeyPool(np.ones(100, dtype=np.uint8))
    >>> first, second = pool.take(64), pool.take(30)
    >>> first.offset, second.offset, pool.remaining, pool.consumed
    (0, 64, 6, 94)
    """

    __slots__ = ("_bits", "_consumed")

    def __init__(self, bits: np.ndarray) -> None:
        self._bits = check_bits(bits, "bits").copy()
        self._consumed = 0

    @property
    def remaining(self) -> int:
        """Unused bits left."""
        return int(self._bits.size)

    @property
    def consumed(self) -> int:
        """Bits handed out so far (never handed out again)."""
        return self._consumed

    def take(self, n: int) -> KeySegment:
        """Hand out the next ``n`` unused bits; they are erased from the pool.

        Raises
        ------
        InsufficientKeyError
            If fewer than ``n`` bits remain (nothing is consumed then).
        """
        n = check_positive_int(n, "n")
        if n > self._bits.size:
            raise InsufficientKeyError(
                f"n={n} bits requested but the key pool holds only {self._bits.size}"
            )
        segment = KeySegment(offset=self._consumed, bits=self._bits[:n].copy())
        self._bits[:n] = 0  # wipe: the handed-out bits never exist in the pool again
        self._bits = self._bits[n:]
        self._consumed += n
        return segment

    def extend(self, bits: np.ndarray) -> None:
        """Append freshly distilled key bits after the unused ones."""
        self._bits = np.concatenate([self._bits, check_bits(bits, "bits")])

    def _no_copy(self, *args: object) -> None:
        raise TypeError("a KeyPool cannot be copied or pickled: a key bit must never be used twice")

    __copy__ = _no_copy
    __deepcopy__ = _no_copy
    __reduce_ex__ = _no_copy
    __reduce__ = _no_copy

    def __repr__(self) -> str:
        return f"KeyPool(remaining={self.remaining}, consumed={self.consumed})"


@dataclass(frozen=True)
class AuthTag:
    """A Wegman-Carter tag and the pool offset of the one-time pad it used."""

    value: int
    pad_offset: int

    def __post_init__(self) -> None:
        for name in ("value", "pad_offset"):
            number = getattr(self, name)
            if isinstance(number, bool) or not isinstance(number, int | np.integer):
                raise TypeError(f"{name}={number!r} must be an int")
            object.__setattr__(self, name, int(number))
        if not 0 <= self.value < 1 << TAG_BITS:
            raise ValueError(f"value={self.value!r} must be a {TAG_BITS}-bit unsigned integer")
        if self.pad_offset < 0:
            raise ValueError(f"pad_offset={self.pad_offset!r} must be >= 0")


def _message_bytes(message: bytes | bytearray | memoryview | np.ndarray) -> bytes:
    if isinstance(message, bytes | bytearray | memoryview):
        return bytes(message)
    if isinstance(message, np.ndarray):
        return bits_to_bytes(check_bits(message, "message"))
    raise TypeError(f"message must be bytes or a bit array, not {type(message).__name__}")


def _blocks(data: bytes) -> np.ndarray:
    """64-bit big-endian blocks of ``data`` (zero-padded), then one block with its bit length."""
    padded = data + b"\x00" * (-len(data) % 8)
    blocks = np.frombuffer(padded, dtype=">u8").astype(np.uint64)
    return np.append(blocks, np.uint64(8 * len(data)))


def polynomial_hash(message: bytes | np.ndarray, key: int) -> int:
    """The GF(2^64) polynomial hash ``h_key(message)`` (see the module docstring).

    Examples
    --------
    >>> polynomial_hash(b"", 5)  # only the length block, 0 * key
    0
    >>> polynomial_hash(b"abc", 0)  # key 0 maps everything to 0
    0
    """
    if isinstance(key, bool) or not isinstance(key, int | np.integer):
        raise TypeError(f"key={key!r} must be a {TAG_BITS}-bit unsigned integer")
    key = int(key)
    if not 0 <= key < 1 << TAG_BITS:
        raise ValueError(f"key={key!r} must be a {TAG_BITS}-bit unsigned integer")
    return poly_hash(_blocks(_message_bytes(message)), key)


def forgery_probability(message_bytes: int) -> float:
    """Upper bound ``L / 2^64`` on one forgery attempt with messages of at most this many bytes.

    ``message_bytes`` must bound both the authentic message and the forger's substitute (a
    receiver that accepts only messages up to a known length makes this bound hold).
    """
    if isinstance(message_bytes, bool) or not isinstance(message_bytes, int) or message_bytes < 0:
        raise ValueError(f"message_bytes={message_bytes!r} must be a non-negative integer")
    return (-(-message_bytes // 8) + 1) / 2.0**TAG_BITS


class WegmanCarterAuthenticator:
    """Signs and verifies messages with key drawn from one party's :class:`KeyPool`.

    Creating it takes a 64-bit hash key from the pool; every :meth:`sign` and every
    :meth:`verify` takes a fresh 64-bit pad. Alice and Bob each build one on their own pool and
    call sign/verify in matching order, so the pads they take coincide.

    Examples
    --------
    >>> import numpy as np
    >>> shared = np.random.default_rng(3).integers(0, 2, 256, dtype=np.uint8)
    >>> alice = WegmanCarterAuthenticator(KeyPool(shared))
    >>> bob = WegmanCarterAuthenticator(KeyPool(shared))
    >>> tag = alice.sign(b"parities 0110")
    >>> bob.verify(b"parities 0110", tag)
    True
    >>> bob.verify(b"parities 0110", tag)  # replay: the pad at that offset is gone
    False
    >>> alice.consumed_bits
    128
    """

    __slots__ = ("_hash_key", "_pool", "_used")

    def __init__(self, pool: KeyPool) -> None:
        if not isinstance(pool, KeyPool):
            raise TypeError(f"pool={pool!r} must be a KeyPool")
        self._pool = pool
        self._hash_key = pool.take(TAG_BITS).to_int()
        self._used = TAG_BITS

    @property
    def consumed_bits(self) -> int:
        """Key bits this authenticator has taken from its pool (hash key and pads)."""
        return self._used

    def _pad(self) -> KeySegment:
        segment = self._pool.take(TAG_BITS)
        self._used += TAG_BITS
        return segment

    def sign(self, message: bytes | np.ndarray) -> AuthTag:
        """Tag ``message`` (bytes, or a bit array) with the next one-time pad."""
        pad = self._pad()
        return AuthTag(
            value=polynomial_hash(message, self._hash_key) ^ pad.to_int(), pad_offset=pad.offset
        )

    def verify(self, message: bytes | np.ndarray, tag: AuthTag) -> bool:
        """Check ``tag`` against ``message``; the next pad is consumed either way.

        Returns ``False`` for a modified message, a forged tag, a replayed tag or a tag made with
        a pad at another offset (the parties' pools out of step).
        """
        if not isinstance(tag, AuthTag):
            raise TypeError(f"tag={tag!r} must be an AuthTag")
        pad = self._pad()
        expected = polynomial_hash(message, self._hash_key) ^ pad.to_int()
        same_pad = pad.offset == tag.pad_offset
        return same_pad and hmac.compare_digest(
            expected.to_bytes(8, "big"), tag.value.to_bytes(8, "big")
        )
