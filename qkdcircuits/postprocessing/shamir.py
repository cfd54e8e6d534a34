"""Shamir (k, n) threshold secret sharing over a prime field and over GF(2^8).

The dealer hides the secret ``s`` as the constant term of a random polynomial
``f(x) = s + a_1 x + ... + a_{k-1} x^{k-1}`` with uniform coefficients and hands share
``(x_i, f(x_i))`` to party ``i`` (``x_i = 1 .. n``). Any ``k`` shares determine ``f`` by Lagrange
interpolation, ``s = f(0) = sum_j y_j prod_{m != j} x_m / (x_m - x_j)``; any ``k - 1`` shares are
uniformly distributed whatever ``s`` is (for each value of ``s`` exactly one polynomial passes
through them), so they reveal nothing. Key blocks for multipath relay are shared byte by byte in
GF(2^8), vectorised over the bytes.

References
----------
A. Shamir, "How to share a secret", Commun. ACM 22, 612 (1979).
GF(2^8) with the AES polynomial ``x^8 + x^4 + x^3 + x + 1`` (FIPS 197, Sec. 4.2), generator 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qkdcircuits._validation import SeedLike, as_generator, check_positive_int
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


def _uniform_below(rng: np.random.Generator, bound: int) -> int:
    """A uniform integer in [0, bound), by rejection on ``bound.bit_length()`` random bits."""
    bits = bound.bit_length()
    while True:
        value = int.from_bytes(rng.bytes((bits + 7) // 8), "big") >> (-bits % 8)
        if value < bound:
            return value


@dataclass(frozen=True)
class Share:
    """One share ``(x, y = f(x) mod prime)`` of an integer secret."""

    x: int
    y: int
    prime: int

    def __post_init__(self) -> None:
        if not 0 < self.x < self.prime:
            raise ValueError(f"x={self.x!r} must be in [1, prime)")
        if not 0 <= self.y < self.prime:
            raise ValueError(f"y={self.y!r} must be in [0, prime)")


def split_secret(
    secret: int,
    *,
    threshold: int,
    n_shares: int,
    prime: int = DEFAULT_PRIME,
    seed: SeedLike = None,
    coefficients: Sequence[int] | None = None,
) -> tuple[Share, ...]:
    """Split an integer secret into ``n_shares`` shares, any ``threshold`` of which recover it.

    Parameters
    ----------
    secret : int
        In ``[0, prime)``.
    threshold : int
        ``k``: shares needed to reconstruct.
    n_shares : int
        ``n``: shares issued, at points ``x = 1 .. n`` (``n < prime``).
    prime : int
        Field modulus (checked with Miller-Rabin).
    seed : int, numpy.random.Generator or None
        Randomness of the polynomial coefficients.
    coefficients : sequence of int, optional
        ``a_1 .. a_{k-1}`` given explicitly (test vectors); otherwise uniform random.

    Examples
    --------
    The test vector of REFERENCES.md, ``f(x) = 1234 + 166 x + 94 x^2 mod 1613``:

    >>> [(s.x, s.y) for s in split_secret(1234, threshold=3, n_shares=6, prime=1613,
    ...                                   coefficients=(166, 94))]
    [(1, 1494), (2, 329), (3, 965), (4, 176), (5, 1188), (6, 775)]
    """
    if isinstance(prime, bool) or not isinstance(prime, int) or not _is_probable_prime(prime):
        raise ValueError(f"prime={prime!r} must be a prime")
    if isinstance(secret, bool) or not isinstance(secret, int) or not 0 <= secret < prime:
        raise ValueError(f"secret={secret!r} must be an integer in [0, prime={prime})")
    threshold, n_shares = _check_threshold(threshold, n_shares, prime)
    if coefficients is None:
        rng = as_generator(seed)
        coeffs = [_uniform_below(rng, prime) for _ in range(threshold - 1)]
    else:
        coeffs = [int(c) for c in coefficients]
        if len(coeffs) != threshold - 1 or not all(0 <= c < prime for c in coeffs):
            raise ValueError(
                f"coefficients={tuple(coefficients)!r} must be threshold - 1 = {threshold - 1} "
                f"integers in [0, prime)"
            )
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
    """``a * scalar`` in GF(2^8), elementwise over the array ``a``."""
    a = np.asarray(a, dtype=np.int64)
    if scalar == 0:
        return np.zeros(a.shape, dtype=np.uint8)
    product = _EXP[_LOG[a] + _LOG[scalar]]
    return np.where(a == 0, 0, product).astype(np.uint8)


def _gf256_inverse(value: int) -> int:
    return int(_EXP[(255 - _LOG[value]) % 255])


@dataclass(frozen=True, eq=False)
class KeyShare:
    """One party's share of a key block: the point ``x`` and one GF(2^8) value per key byte."""

    x: int
    data: np.ndarray = field(repr=False)
    n_bits: int

    def __post_init__(self) -> None:
        if not 0 < self.x < 256:
            raise ValueError(f"x={self.x!r} must be in [1, 255]")
        self.data.setflags(write=False)


def split_key(
    bits: np.ndarray,
    *,
    threshold: int,
    n_shares: int,
    seed: SeedLike = None,
    coefficients: np.ndarray | None = None,
) -> tuple[KeyShare, ...]:
    """Share a key block (bits) byte by byte in GF(2^8); at most 255 shares.

    Parameters
    ----------
    bits : numpy.ndarray
        Key bits (padded with zeros to whole bytes internally; ``n_bits`` records the length).
    threshold, n_shares : int
        ``k`` and ``n``.
    seed : int, numpy.random.Generator or None
        Randomness of the coefficients.
    coefficients : numpy.ndarray, optional
        Shape ``(threshold - 1, n_bytes)`` byte values, given explicitly (tests).

    Examples
    --------
    >>> import numpy as np
    >>> key = np.random.default_rng(5).integers(0, 2, 100, dtype=np.uint8)
    >>> shares = split_key(key, threshold=2, n_shares=3, seed=1)
    >>> bool(np.array_equal(combine_key([shares[2], shares[0]]), key))
    True
    """
    key = check_bits(bits, "bits")
    threshold, n_shares = _check_threshold(threshold, n_shares, 256)
    secret = np.packbits(key)
    if coefficients is None:
        coeffs = as_generator(seed).integers(
            0, 256, size=(threshold - 1, secret.size), dtype=np.uint8
        )
    else:
        coeffs = np.asarray(coefficients)
        if coeffs.shape != (threshold - 1, secret.size) or coeffs.min(initial=0) < 0:
            raise ValueError(
                f"coefficients has shape {coeffs.shape}, expected {(threshold - 1, secret.size)}"
            )
        if coeffs.max(initial=0) > 255:
            raise ValueError("coefficients must be bytes (0..255)")
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
    """Recover a key block from ``threshold`` or more :class:`KeyShare` objects."""
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
