"""Shamir (k, n) threshold secret sharing over a prime field and over GF(2^8).

The dealer hides the secret ``s`` as the constant term of a random polynomial
``f(x) = s + a_1 x + ... + a_{k-1} x^{k-1}`` with uniform coefficients and hands share
``(x_i, f(x_i))`` to party ``i`` (``x_i = 1 .. n``). Any ``k`` shares determine ``f`` by Lagrange
interpolation, ``s = f(0) = sum_j y_j prod_{m != j} x_m / (x_m - x_j)``; any ``k - 1`` shares are
uniformly distributed whatever ``s`` is (for each value of ``s`` exactly one polynomial passes
through them), so they reveal nothing. Key blocks for multipath relay are shared byte by byte in
GF(2^8), vectorised over the bytes.

The coefficients are secret: they come from the operating system's random source (``secrets``),
never from a seeded generator (whoever knew the seed would need a single share to recover the
secret). Explicit coefficients are accepted for test vectors. Share values never appear in a repr
or an error message.

References
----------
A. Shamir, "How to share a secret", Commun. ACM 22, 612 (1979).
GF(2^8) with the AES polynomial ``x^8 + x^4 + x^3 + x + 1`` (FIPS 197, Sec. 4.2), generator 3.
"""

from __future__ import annotations

import numbers
import secrets as os_random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qkdcircuits._validation import check_positive_int
from qkdcircuits.postprocessing._bits import check_bits

__all__ = [
    "DEFAULT_PRIME",
    "KeyShare",
    "Share",
    "combine_key",
    "combine_shares",
    "split_key",
    "split_secret",
]

DEFAULT_PRIME = (1 << 127) - 1
"""The Mersenne prime ``2^127 - 1``: secrets up to 126 bits fit."""

_MR_BASES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71)


def _is_probable_prime(p: int) -> bool:
    """Miller-Rabin with the first 20 prime bases (deterministic below 3.3e24)."""
    if p < 2:
        return False
    for q in _MR_BASES:
        if p % q == 0:
            return p == q
    d, r = p - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for a in _MR_BASES:
        x = pow(a, d, p)
        if x in (1, p - 1):
            continue
        for _ in range(r - 1):
            x = x * x % p
            if x == p - 1:
                break
        else:
            return False
    return True


def _check_threshold(threshold: int, n_shares: int, limit: int) -> tuple[int, int]:
    threshold = check_positive_int(threshold, "threshold")
    n_shares = check_positive_int(n_shares, "n_shares")
    if threshold > n_shares:
        raise ValueError(f"threshold={threshold} must be <= n_shares={n_shares}")
    if n_shares >= limit:
        raise ValueError(f"n_shares={n_shares} needs distinct nonzero points: must be < {limit}")
    return threshold, n_shares


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _int_fields(instance: object, *names: str) -> None:
    """Check that the named fields of a frozen dataclass are integers and store them as int."""
    for name in names:
        value = getattr(instance, name)
        if not _is_int(value):
            raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
        object.__setattr__(instance, name, int(value))


@dataclass(frozen=True)
class Share:
    """One share ``(x, y = f(x) mod prime)`` of an integer secret.

    The value ``y`` is secret (``threshold`` of them rebuild the secret): it is left out of the
    repr, and error messages do not echo it.

    Attributes
    ----------
    x : int
        The public evaluation point, in ``[1, prime)``.
    y : int
        The share value ``f(x) mod prime``.
    prime : int
        The field modulus.

    Raises
    ------
    TypeError
        If a field is not an integer.
    ValueError
        If ``x`` or ``y`` is out of range.

    Examples
    --------
    >>> Share(x=1, y=1494, prime=1613)
    Share(x=1, prime=1613)
    """

    x: int
    y: int = field(repr=False)
    prime: int

    def __post_init__(self) -> None:
        _int_fields(self, "x", "y", "prime")
        if not 0 < self.x < self.prime:
            raise ValueError(f"x={self.x!r} must be in [1, prime={self.prime})")
        if not 0 <= self.y < self.prime:
            raise ValueError(f"y (share value, not shown) must be in [0, prime={self.prime})")


def split_secret(
    secret: int,
    *,
    threshold: int,
    n_shares: int,
    prime: int = DEFAULT_PRIME,
    coefficients: Sequence[int] | None = None,
) -> tuple[Share, ...]:
    """Split an integer secret into ``n_shares`` shares, any ``threshold`` of which recover it.

    Parameters
    ----------
    secret : int
        In ``[0, prime)``. Error messages never echo it.
    threshold : int
        ``k``: shares needed to reconstruct.
    n_shares : int
        ``n``: shares issued, at points ``x = 1 .. n`` (``n < prime``).
    prime : int
        Field modulus (checked with Miller-Rabin).
    coefficients : sequence of int, optional
        ``a_1 .. a_{k-1}`` given explicitly (test vectors); otherwise uniform in ``[0, prime)``
        from the operating system's random source (``secrets``).

    Returns
    -------
    tuple of Share
        The shares at ``x = 1 .. n_shares``.

    Raises
    ------
    TypeError
        If ``secret`` or a coefficient is not an integer (floats are refused, not truncated).
    ValueError
        If ``prime`` is not prime, ``secret`` or a coefficient is outside ``[0, prime)``, the
        number of coefficients is not ``threshold - 1``, or ``threshold > n_shares``.

    References
    ----------
    A. Shamir, Commun. ACM 22, 612 (1979).

    Examples
    --------
    The test vector of REFERENCES.md, ``f(x) = 1234 + 166 x + 94 x^2 mod 1613``:

    >>> [(s.x, s.y) for s in split_secret(1234, threshold=3, n_shares=6, prime=1613,
    ...                                   coefficients=(166, 94))]
    [(1, 1494), (2, 329), (3, 965), (4, 176), (5, 1188), (6, 775)]
    """
    if isinstance(prime, bool) or not isinstance(prime, int) or not _is_probable_prime(prime):
        raise ValueError(f"prime={prime!r} must be a prime")
    # the secret and the coefficients are never echoed in a message
    if not _is_int(secret):
        raise TypeError(f"secret must be an integer, not {type(secret).__name__}")
    if not 0 <= secret < prime:
        raise ValueError(f"secret (not shown) must be in [0, prime={prime})")
    threshold, n_shares = _check_threshold(threshold, n_shares, prime)
    if coefficients is None:
        coeffs = [os_random.randbelow(prime) for _ in range(threshold - 1)]
    else:
        coeffs = list(coefficients)
        if len(coeffs) != threshold - 1:
            raise ValueError(
                f"coefficients has {len(coeffs)} entries; threshold - 1 = {threshold - 1} needed"
            )
        for i, c in enumerate(coeffs):
            if not _is_int(c):
                raise TypeError(f"coefficients[{i}] must be an integer, not {type(c).__name__}")
            if not 0 <= c < prime:
                raise ValueError(f"coefficients[{i}] (not shown) must be in [0, prime={prime})")
        coeffs = [int(c) for c in coeffs]
    poly = [secret, *coeffs]
    shares = []
    for x in range(1, n_shares + 1):
        y = 0
        for c in reversed(poly):  # Horner
            y = (y * x + c) % prime
        shares.append(Share(x=x, y=y, prime=prime))
    return tuple(shares)


def _distinct_points(xs: Sequence[int]) -> None:
    if len(set(xs)) != len(xs):
        raise ValueError(f"shares must have distinct x, got {sorted(xs)}")


def combine_shares(shares: Sequence[Share]) -> int:
    """Recover the secret ``f(0)`` from shares by Lagrange interpolation.

    With at least ``threshold`` genuine shares the result is the secret; with fewer it is a value
    that carries no information about it.

    Parameters
    ----------
    shares : sequence of Share
        Shares of one secret, at distinct points.

    Returns
    -------
    int
        ``f(0) mod prime``.

    Raises
    ------
    ValueError
        If ``shares`` is empty or not all :class:`Share`, comes from different fields or repeats
        a point.

    Examples
    --------
    >>> shares = split_secret(1234, threshold=3, n_shares=6, prime=1613, coefficients=(166, 94))
    >>> combine_shares([shares[5], shares[0], shares[3]])
    1234
    """
    shares = list(shares)
    if not shares or not all(isinstance(s, Share) for s in shares):
        raise ValueError("shares must be a non-empty sequence of Share")
    prime = shares[0].prime
    if any(s.prime != prime for s in shares):
        raise ValueError("shares come from different fields")
    xs = [s.x for s in shares]
    _distinct_points(xs)
    secret = 0
    for j, share in enumerate(shares):
        num, den = 1, 1
        for m, x_m in enumerate(xs):
            if m != j:
                num = num * x_m % prime
                den = den * (x_m - share.x) % prime
        secret = (secret + share.y * num * pow(den, -1, prime)) % prime
    return secret


# ---- GF(2^8), vectorised over the bytes of a key block ----------------------------------------


def _gf256_tables() -> tuple[np.ndarray, np.ndarray]:
    exp = np.zeros(512, dtype=np.int64)
    log = np.zeros(256, dtype=np.int64)
    value = 1
    for power in range(255):
        exp[power] = value
        log[value] = power
        # multiply by the generator 3 = x + 1, reducing by x^8 + x^4 + x^3 + x + 1 (0x11B)
        value ^= value << 1
        if value & 0x100:
            value ^= 0x11B
    exp[255:510] = exp[:255]  # so exp[log a + log b] needs no modulo
    return exp, log


_EXP, _LOG = _gf256_tables()


def _gf256_mul(a: np.ndarray, scalar: int) -> np.ndarray:
    """Multiply the array ``a`` by ``scalar`` in GF(2^8), elementwise."""
    a = np.asarray(a, dtype=np.int64)
    if scalar == 0:
        return np.zeros(a.shape, dtype=np.uint8)
    product = _EXP[_LOG[a] + _LOG[scalar]]
    return np.where(a == 0, 0, product).astype(np.uint8)


def _gf256_inverse(value: int) -> int:
    return int(_EXP[(255 - _LOG[value]) % 255])


@dataclass(frozen=True, eq=False)
class KeyShare:
    """One party's share of a key block: the point ``x`` and one GF(2^8) value per key byte.

    ``data`` is secret: it is left out of the repr and stored read-only.

    Attributes
    ----------
    x : int
        The public evaluation point, in ``[1, 255]``.
    data : numpy.ndarray
        The share bytes (``uint8``), one per key byte.
    n_bits : int
        Length of the shared key block in bits.

    Raises
    ------
    TypeError
        If ``x`` or ``n_bits`` is not an integer, or ``data`` is not a ``uint8`` array.
    ValueError
        If ``x`` is out of range or ``data`` does not hold ``ceil(n_bits / 8)`` bytes.

    Examples
    --------
    >>> import numpy as np
    >>> KeyShare(x=2, data=np.zeros(2, dtype=np.uint8), n_bits=16)
    KeyShare(x=2, n_bits=16)
    """

    x: int
    data: np.ndarray = field(repr=False)
    n_bits: int

    def __post_init__(self) -> None:
        _int_fields(self, "x", "n_bits")
        if not 0 < self.x < 256:
            raise ValueError(f"x={self.x!r} must be in [1, 255]")
        if not isinstance(self.data, np.ndarray) or self.data.dtype != np.uint8:
            raise TypeError("data must be a uint8 numpy array")
        if self.n_bits < 0 or self.data.shape != (-(-self.n_bits // 8),):
            raise ValueError(
                f"data has shape {self.data.shape}; n_bits={self.n_bits} needs "
                f"{-(-self.n_bits // 8)} bytes"
            )
        object.__setattr__(self, "data", np.frombuffer(self.data.tobytes(), dtype=np.uint8))


def split_key(
    bits: np.ndarray,
    *,
    threshold: int,
    n_shares: int,
    coefficients: np.ndarray | None = None,
) -> tuple[KeyShare, ...]:
    """Share a key block (bits) byte by byte in GF(2^8); at most 255 shares.

    Parameters
    ----------
    bits : numpy.ndarray
        Key bits (padded with zeros to whole bytes internally; ``n_bits`` records the length).
    threshold, n_shares : int
        ``k`` and ``n``.
    coefficients : numpy.ndarray, optional
        Shape ``(threshold - 1, n_bytes)`` integer byte values, given explicitly (test vectors);
        otherwise uniform bytes from the operating system's random source (``secrets``).

    Returns
    -------
    tuple of KeyShare
        The shares at ``x = 1 .. n_shares``.

    Raises
    ------
    TypeError
        If ``coefficients`` is not an integer array (a float array is refused, not cast).
    ValueError
        If ``bits`` is not a 0/1 array, ``threshold > n_shares``, ``n_shares > 255``, or
        ``coefficients`` has the wrong shape or values outside 0..255.

    References
    ----------
    A. Shamir, Commun. ACM 22, 612 (1979); FIPS 197, Sec. 4.2 (GF(2^8)).

    Examples
    --------
    >>> import numpy as np
    >>> key = np.random.default_rng(5).integers(0, 2, 100, dtype=np.uint8)
    >>> shares = split_key(key, threshold=2, n_shares=3)
    >>> bool(np.array_equal(combine_key([shares[2], shares[0]]), key))
    True
    """
    key = check_bits(bits, "bits")
    threshold, n_shares = _check_threshold(threshold, n_shares, 256)
    secret = np.packbits(key)
    shape = (threshold - 1, secret.size)
    if coefficients is None:
        raw = os_random.token_bytes(shape[0] * shape[1])
        coeffs = np.frombuffer(raw, dtype=np.uint8).reshape(shape)
    else:
        coeffs = np.asarray(coefficients)
        if coeffs.dtype == bool or not np.issubdtype(coeffs.dtype, np.integer):
            raise TypeError(
                f"coefficients must be an integer array of bytes, not dtype {coeffs.dtype}"
            )
        if coeffs.shape != shape:
            raise ValueError(f"coefficients has shape {coeffs.shape}, expected {shape}")
        if coeffs.size and (coeffs.min() < 0 or coeffs.max() > 255):
            raise ValueError("coefficients must be bytes (0..255); values not shown")
        coeffs = coeffs.astype(np.uint8)
    poly = [secret, *coeffs]
    shares = []
    for x in range(1, n_shares + 1):
        y = np.zeros(secret.size, dtype=np.uint8)
        for c in reversed(poly):  # Horner; addition in GF(2^8) is XOR
            y = _gf256_mul(y, x) ^ c
        shares.append(KeyShare(x=x, data=y, n_bits=key.size))
    return tuple(shares)


def combine_key(shares: Sequence[KeyShare]) -> np.ndarray:
    """Recover a key block from ``threshold`` or more :class:`KeyShare` objects.

    Parameters
    ----------
    shares : sequence of KeyShare
        Shares of one key block, at distinct points.

    Returns
    -------
    numpy.ndarray
        The key bits (``uint8``, ``n_bits`` long).

    Raises
    ------
    ValueError
        If ``shares`` is empty or not all :class:`KeyShare`, belongs to blocks of different
        lengths or repeats a point.

    Examples
    --------
    >>> import numpy as np
    >>> key = np.array([1, 0, 1, 1], dtype=np.uint8)
    >>> combine_key(split_key(key, threshold=2, n_shares=2)).tolist()
    [1, 0, 1, 1]
    """
    shares = list(shares)
    if not shares or not all(isinstance(s, KeyShare) for s in shares):
        raise ValueError("shares must be a non-empty sequence of KeyShare")
    n_bits = shares[0].n_bits
    if any(s.n_bits != n_bits or s.data.size != shares[0].data.size for s in shares):
        raise ValueError("shares belong to key blocks of different lengths")
    xs = [s.x for s in shares]
    _distinct_points(xs)
    secret = np.zeros(shares[0].data.size, dtype=np.uint8)
    for j, share in enumerate(shares):
        # Lagrange basis at 0 in characteristic 2: prod x_m / (x_m XOR x_j)
        weight = 1
        for m, x_m in enumerate(xs):
            if m != j:
                factor = int(_gf256_mul(np.array([x_m]), _gf256_inverse(x_m ^ share.x))[0])
                weight = int(_gf256_mul(np.array([weight]), factor)[0])
        secret ^= _gf256_mul(share.data, weight)
    return np.unpackbits(secret)[:n_bits].astype(np.uint8)
