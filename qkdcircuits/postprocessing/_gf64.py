"""Arithmetic in GF(2^64) on numpy ``uint64`` arrays (private).

Elements are polynomials over GF(2) of degree < 64, stored as the bits of a ``uint64``; the field
is GF(2)[x] / P(x) with ``P(x) = x^64 + x^4 + x^3 + x + 1``, the irreducible pentanomial used for
64-bit block ciphers' CMAC (NIST SP 800-38B, constant ``R64 = 0x1B``). Irreducibility is checked by
Rabin's test in the test suite.
"""

from __future__ import annotations

import numpy as np

_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


def _times_reduction(hi: np.ndarray) -> np.ndarray:
    """``hi(x) * x^64 mod P``, i.e. ``hi * (x^4 + x^3 + x + 1)`` folded back below degree 64."""
    # bits of hi * 0x1B that overflow past x^63 (at most degree 67) are folded once more; the
    # second fold has degree < 8 and cannot overflow again
    overflow = (hi >> np.uint64(63)) ^ (hi >> np.uint64(61)) ^ (hi >> np.uint64(60))
    low = hi ^ (hi << np.uint64(1)) ^ (hi << np.uint64(3)) ^ (hi << np.uint64(4))
    return (
        low
        ^ overflow
        ^ (overflow << np.uint64(1))
        ^ (overflow << np.uint64(3))
        ^ (overflow << np.uint64(4))
    )


def gf64_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise product in GF(2^64) of two broadcastable ``uint64`` arrays."""
    a = np.asarray(a, dtype=np.uint64)
    b = np.asarray(b, dtype=np.uint64)
    a, b = np.broadcast_arrays(a, b)
    lo = np.zeros(a.shape, dtype=np.uint64)
    hi = np.zeros(a.shape, dtype=np.uint64)
    # carry-less schoolbook product: one masked shift-and-xor per bit of b
    for i in range(64):
        mask = ((b >> np.uint64(i)) & _ONE) * _ALL
        lo ^= (a << np.uint64(i)) & mask
        if i:
            hi ^= (a >> np.uint64(64 - i)) & mask
    return lo ^ _times_reduction(hi)


def gf64_powers(key: int, count: int) -> np.ndarray:
    """``[key^1, key^2, ..., key^count]`` in GF(2^64), by repeated doubling of the known prefix."""
    powers = np.empty(count, dtype=np.uint64)
    if count == 0:
        return powers
    powers[0] = np.uint64(key)
    filled = 1
    while filled < count:
        # key^(filled + j) = key^filled * key^j for j = 1..filled
        take = min(filled, count - filled)
        powers[filled : filled + take] = gf64_mul(powers[filled - 1], powers[:take])
        filled += take
    return powers


def poly_hash(blocks: np.ndarray, key: int) -> int:
    """``sum_i blocks[i] * key^(L - i)`` in GF(2^64) for ``L = len(blocks)`` (no constant term)."""
    blocks = np.asarray(blocks, dtype=np.uint64)
    if blocks.size == 0:
        return 0
    powers = gf64_powers(key, blocks.size)[::-1]
    return int(np.bitwise_xor.reduce(gf64_mul(blocks, powers)))
