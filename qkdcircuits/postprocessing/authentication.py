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
:meth:`KeyPool.take` hands out every bit exactly once, also under threads: a pool cannot be
rewound, copied, pickled or used in a forked child, and a verifier consumes its pad whether or
not the tag checks out, so a replayed tag always meets a new pad.

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
import os
import secrets
import threading
from dataclasses import dataclass, field

import numpy as np

from qkdcircuits._validation import check_positive_int
from qkdcircuits.postprocessing._bits import bits_to_bytes, check_bits
from qkdcircuits.postprocessing._checks import check_count
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
    """The key pool holds fewer unused bits than requested.

    Examples
    --------
    >>> import numpy as np
    >>> try:
    ...     KeyPool(np.ones(8, dtype=np.uint8)).take(9)
    ... except InsufficientKeyError as exc:
    ...     print(exc)
    n=9 bits requested but the key pool holds only 8
    """


@dataclass(frozen=True, eq=False)
class KeySegment:
    """Bits handed out once by a :class:`KeyPool`.

    The bits live in an immutable ``bytes`` buffer: the array is read-only and cannot be made
    writable again (``bits.setflags(write=True)`` raises), so a segment cannot be altered after
    it was handed out.

    Attributes
    ----------
    offset : int
        Position of the first bit in the pool's lifetime stream (both parties' pools agree on it).
    bits : numpy.ndarray
        The key bits (read-only ``uint8``).

    Examples
    --------
    >>> import numpy as np
    >>> segment = KeySegment(offset=0, bits=np.array([1, 0, 1], dtype=np.uint8))
    >>> segment.to_int(), segment.bits.flags.writeable
    (5, False)
    """

    offset: int
    bits: np.ndarray = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "offset", check_count(self.offset, "offset"))
        frozen = np.frombuffer(check_bits(self.bits, "bits").tobytes(), dtype=np.uint8)
        object.__setattr__(self, "bits", frozen)

    def to_int(self) -> int:
        """Read the bits as an unsigned integer, first bit most significant.

        Returns
        -------
        int
            ``sum_i bits[i] 2^(len - 1 - i)`` (0 for an empty segment).
        """
        if self.bits.size == 0:
            return 0
        padded = np.packbits(self.bits).tobytes()
        return int.from_bytes(padded, "big") >> (-self.bits.size % 8)


class KeyPool:
    """A store of secret key bits that hands out every bit exactly once.

    Each party keeps its own pool with the same contents (e.g. the previous session's final key);
    because both take in the same order, the segment offsets stay in step.

    A bit must never be used twice, so:

    * :meth:`take` and :meth:`extend` hold a lock: concurrent threads get disjoint segments;
    * a pool belongs to the process that created it: after ``os.fork()`` the child holds a copy
      of the same bits, and any use of the pool there raises ``RuntimeError``;
    * a pool cannot be copied or pickled;
    * the pool takes ownership of the bits it is given: a writable ``numpy`` array passed to the
      constructor or to :meth:`extend` is zeroed after its bits are copied in, so the caller's
      array no longer holds them. A read-only array, a list or any other sequence cannot be
      wiped: the pool copies it and the caller stays responsible for the original;
    * handed-out bits are wiped from the pool's storage.

    Parameters
    ----------
    bits : numpy.ndarray
        Initial key bits (0/1); zeroed when it is a writable array.

    Raises
    ------
    TypeError, ValueError
        If ``bits`` is not a one-dimensional array of 0/1 integers.

    Examples
    --------
    >>> import numpy as np
    >>> bits = np.ones(100, dtype=np.uint8)
    >>> pool = KeyPool(bits)
    >>> int(bits.sum())  # the pool owns the bits now
    0
    >>> first, second = pool.take(64), pool.take(30)
    >>> first.offset, second.offset, pool.remaining, pool.consumed
    (0, 64, 6, 94)
    """

    __slots__ = ("_bits", "_consumed", "_lock", "_pid")

    def __init__(self, bits: np.ndarray) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._bits = _take_ownership(bits)
        self._consumed = 0

    @classmethod
    def pair(cls, bits: np.ndarray) -> tuple[KeyPool, KeyPool]:
        """Two pools with the same contents, one for each party, owning ``bits``.

        Parameters
        ----------
        bits : numpy.ndarray
            Key bits both parties share (zeroed when it is a writable array).

        Returns
        -------
        (KeyPool, KeyPool)
            Alice's and Bob's pools.

        Raises
        ------
        TypeError, ValueError
            If ``bits`` is not a one-dimensional array of 0/1 integers.

        Examples
        --------
        >>> import numpy as np
        >>> alice, bob = KeyPool.pair(np.ones(128, dtype=np.uint8))
        >>> bool(np.array_equal(alice.take(64).bits, bob.take(64).bits))
        True
        """
        own = _take_ownership(bits)
        return cls(own.copy()), cls(own)

    @classmethod
    def random_pair(cls, n_bits: int) -> tuple[KeyPool, KeyPool]:
        """Two pools sharing ``n_bits`` fresh secret bits from the operating system (``secrets``).

        They stand for a key the parties shared before (e.g. installed with the devices); the
        bits never come from a seeded or public generator.

        Parameters
        ----------
        n_bits : int
            Number of shared bits (>= 1).

        Returns
        -------
        (KeyPool, KeyPool)
            Alice's and Bob's pools.

        Raises
        ------
        TypeError, ValueError
            If ``n_bits`` is not a positive integer.

        Examples
        --------
        >>> alice, bob = KeyPool.random_pair(192)
        >>> alice.remaining, bob.remaining
        (192, 192)
        """
        n_bits = check_positive_int(n_bits, "n_bits")
        raw = np.frombuffer(secrets.token_bytes(-(-n_bits // 8)), dtype=np.uint8)
        return cls.pair(np.unpackbits(raw)[:n_bits])

    def _check_process(self) -> None:
        if os.getpid() != self._pid:
            raise RuntimeError(
                f"this KeyPool was created in process {self._pid} and is used in process "
                f"{os.getpid()} (a fork): both would hand out the same bits; give each process "
                "its own pool"
            )

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

        Parameters
        ----------
        n : int
            Number of bits (>= 1).

        Returns
        -------
        KeySegment
            The bits and their offset in the pool's lifetime stream.

        Raises
        ------
        InsufficientKeyError
            If fewer than ``n`` bits remain (nothing is consumed then).
        RuntimeError
            If called in a process forked from the one that created the pool.
        TypeError, ValueError
            If ``n`` is not a positive integer.
        """
        n = check_positive_int(n, "n")
        self._check_process()  # before the lock: a fork may have copied it in the held state
        with self._lock:
            if n > self._bits.size:
                raise InsufficientKeyError(
                    f"n={n} bits requested but the key pool holds only {self._bits.size}"
                )
            segment = KeySegment(offset=self._consumed, bits=self._bits[:n])
            self._bits[:n] = 0  # wipe: the handed-out bits never exist in the pool again
            self._bits = self._bits[n:]
            self._consumed += n
            return segment

    def extend(self, bits: np.ndarray) -> None:
        """Append freshly distilled key bits after the unused ones.

        Parameters
        ----------
        bits : numpy.ndarray
            New key bits (0/1); zeroed when it is a writable array (see the class docstring).

        Raises
        ------
        RuntimeError
            If called in a process forked from the one that created the pool.
        TypeError, ValueError
            If ``bits`` is not a one-dimensional array of 0/1 integers.
        """
        self._check_process()
        new = _take_ownership(bits)
        with self._lock:
            old = self._bits
            self._bits = np.concatenate([old, new])
            old[:] = 0  # the unused bits now live only in the new buffer
            new[:] = 0

    def _no_copy(self, *args: object) -> None:
        raise TypeError("a KeyPool cannot be copied or pickled: a key bit must never be used twice")

    __copy__ = _no_copy
    __deepcopy__ = _no_copy
    __reduce_ex__ = _no_copy
    __reduce__ = _no_copy

    def __repr__(self) -> str:
        return f"KeyPool(remaining={self.remaining}, consumed={self.consumed})"


def _take_ownership(bits: np.ndarray) -> np.ndarray:
    """Copy ``bits`` (validated); a writable source array is zeroed afterwards."""
    own = check_bits(bits, "bits").copy()
    if isinstance(bits, np.ndarray) and bits.flags.writeable:
        bits[...] = 0
    return own


@dataclass(frozen=True)
class AuthTag:
    """A Wegman-Carter tag and the pool offset of the one-time pad it used.

    The tag travels over the public channel with its message, so it is not secret.

    Attributes
    ----------
    value : int
        The 64-bit tag ``h_k(m) XOR r``.
    pad_offset : int
        Offset of the one-time pad ``r`` in the signer's key pool.

    Raises
    ------
    TypeError
        If a field is not an integer.
    ValueError
        If ``value`` is not a 64-bit unsigned integer or ``pad_offset`` is negative.

    Examples
    --------
    >>> AuthTag(value=5, pad_offset=64)
    AuthTag(value=5, pad_offset=64)
    """

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
    """Compute the GF(2^64) polynomial hash ``h_key(message)`` (see the module docstring).

    Parameters
    ----------
    message : bytes or numpy.ndarray
        The message: bytes, or a bit array (encoded with its length).
    key : int
        The secret 64-bit hash key. Error messages never echo it.

    Returns
    -------
    int
        The 64-bit hash value.

    Raises
    ------
    TypeError
        If ``message`` is neither bytes nor a bit array, or ``key`` is not an integer.
    ValueError
        If ``key`` is not in ``[0, 2**64)``.

    References
    ----------
    B. den Boer, J. Comput. Security 2, 65 (1993); Bierbrauer et al., CRYPTO '93, LNCS 773, 331
    (1994): collision probability ``L / 2^64`` for messages of ``L`` blocks.

    Examples
    --------
    >>> polynomial_hash(b"", 5)  # only the length block, 0 * key
    0
    >>> polynomial_hash(b"abc", 0)  # key 0 maps everything to 0
    0
    """
    # the key is secret: messages name its type or range, never its value
    if isinstance(key, bool) or not isinstance(key, int | np.integer):
        raise TypeError(f"key must be a {TAG_BITS}-bit unsigned integer, not {type(key).__name__}")
    key = int(key)
    if not 0 <= key < 1 << TAG_BITS:
        raise ValueError(f"key must be a {TAG_BITS}-bit unsigned integer, in [0, 2**{TAG_BITS})")
    return poly_hash(_blocks(_message_bytes(message)), key)


def forgery_probability(message_bytes: int) -> float:
    """Upper bound ``L / 2^64`` on one forgery attempt with messages of at most this many bytes.

    ``message_bytes`` must bound both the authentic message and the forger's substitute (a
    receiver that accepts only messages up to a known length makes this bound hold).

    Parameters
    ----------
    message_bytes : int
        Longest message length in bytes (>= 0).

    Returns
    -------
    float
        ``L / 2^64`` with ``L = ceil(message_bytes / 8) + 1`` blocks (the last one holds the
        length).

    Raises
    ------
    TypeError
        If ``message_bytes`` is not an integer.
    ValueError
        If it is negative.

    References
    ----------
    M. N. Wegman, J. L. Carter, J. Comput. Syst. Sci. 22, 265 (1981), Sec. 3; B. den Boer,
    J. Comput. Security 2, 65 (1993).

    Examples
    --------
    >>> forgery_probability(100) * 2**64  # 13 message blocks + 1 length block
    14.0
    """
    message_bytes = check_count(message_bytes, "message_bytes")
    return (-(-message_bytes // 8) + 1) / 2.0**TAG_BITS


class WegmanCarterAuthenticator:
    """Signs and verifies messages with key drawn from one party's :class:`KeyPool`.

    Creating it takes a 64-bit hash key from the pool; every :meth:`sign` and every
    :meth:`verify` takes a fresh 64-bit pad. Alice and Bob each build one on their own pool and
    call sign/verify in matching order, so the pads they take coincide.

    Parameters
    ----------
    pool : KeyPool
        The party's key pool; 64 bits are taken at once for the hash key.

    Raises
    ------
    TypeError
        If ``pool`` is not a :class:`KeyPool`.
    InsufficientKeyError
        If the pool holds fewer than 64 bits.

    Examples
    --------
    >>> alice_pool, bob_pool = KeyPool.random_pair(256)
    >>> alice = WegmanCarterAuthenticator(alice_pool)
    >>> bob = WegmanCarterAuthenticator(bob_pool)
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
        """Tag ``message`` with the next one-time pad.

        Parameters
        ----------
        message : bytes or numpy.ndarray
            The message (bytes, or a bit array).

        Returns
        -------
        AuthTag
            The tag and the offset of the pad it used.

        Raises
        ------
        InsufficientKeyError
            If the pool holds fewer than 64 bits.
        """
        pad = self._pad()
        return AuthTag(
            value=polynomial_hash(message, self._hash_key) ^ pad.to_int(), pad_offset=pad.offset
        )

    def verify(self, message: bytes | np.ndarray, tag: AuthTag) -> bool:
        """Check ``tag`` against ``message``; the next pad is consumed either way.

        Parameters
        ----------
        message : bytes or numpy.ndarray
            The received message.
        tag : AuthTag
            The received tag.

        Returns
        -------
        bool
            ``False`` for a modified message, a forged tag, a replayed tag or a tag made with a
            pad at another offset (the parties' pools out of step).

        Raises
        ------
        TypeError
            If ``tag`` is not an :class:`AuthTag`.
        InsufficientKeyError
            If the pool holds fewer than 64 bits.
        """
        if not isinstance(tag, AuthTag):
            raise TypeError(f"tag={tag!r} must be an AuthTag")
        pad = self._pad()
        expected = polynomial_hash(message, self._hash_key) ^ pad.to_int()
        same_pad = pad.offset == tag.pad_offset
        return same_pad and hmac.compare_digest(
            expected.to_bytes(8, "big"), tag.value.to_bytes(8, "big")
        )
