"""Table-driven GF(2^64) polynomial hash of a 16-byte digest, for one fixed hash key (private).

The field is the one of :func:`qkdcircuits.postprocessing.polynomial_hash`: GF(2)[x] / P(x) with
``P(x) = x^64 + x^4 + x^3 + x + 1``, elements as the bits of an unsigned 64-bit integer (bit ``i``
is the coefficient of ``x^i``). Multiplication by a fixed key ``k`` is GF(2)-linear, so
``x * k`` is the XOR of eight table entries, one per byte of ``x``: ``T[j][b] = (b x^(8j)) k``.
A hash of the three blocks of a 16-byte message, ``d1 k^3 + d2 k^2 + 128 k``, then takes the
tables of ``k^3`` and ``k^2`` (built once per key, a few tens of microseconds each) and 16 look-ups:
a few microseconds in Python, against about 2 ms for the general numpy hash of the
post-processing module, which loops over 64 bit positions. The tests compare both on random
keys and digests.
"""

from __future__ import annotations

from array import array

import numpy as np

_MASK = (1 << 64) - 1
_REDUCTION = 0x1B  # x^64 = x^4 + x^3 + x + 1 (mod P)
_DIGEST_BITS_BLOCK = 128  # the length block of a 16-byte message


def _key_times_monomials(key: int) -> list[int]:
    """``[k, k x, k x^2, ..., k x^63]`` in GF(2^64)."""
    out = [key]
    value = key
    for _ in range(63):
        value = ((value << 1) & _MASK) ^ (_REDUCTION if value >> 63 else 0)
        out.append(value)
    return out


def multiplication_tables(*keys: int) -> list[array]:
    """Per key, the flat ``array('Q')`` of ``T[j * 256 + b] = (b x^(8j)) * key``, ``j < 8``.

    Built by doubling: for ``2^i <= b < 2^(i+1)``, ``T[j][b] = T[j][b - 2^i] + key x^(8j + i)``
    (linearity): eight XORs of numpy blocks for all the keys together, instead of a reduction
    over every bit of every byte.
    """
    rows = 8 * len(keys)
    basis = np.array([m for key in keys for m in _key_times_monomials(key)], dtype=np.uint64)
    basis = basis.reshape(rows, 8)
    table = np.zeros((rows, 256), dtype=np.uint64)
    for i in range(8):
        step = 1 << i
        np.bitwise_xor(table[:, :step], basis[:, i : i + 1], out=table[:, step : 2 * step])
    raw = table.tobytes()
    size = len(raw) // max(len(keys), 1)
    return [array("Q", raw[k * size : (k + 1) * size]) for k in range(len(keys))]


def multiply(a: int, b: int) -> int:
    """Multiply ``a * b`` in GF(2^64), bit by bit (for the few products a hash key needs)."""
    result = 0
    while b:
        if b & 1:
            result ^= a
        b >>= 1
        a = ((a << 1) & _MASK) ^ (_REDUCTION if a >> 63 else 0)
    return result


class DigestHasher:
    """``h_k`` on 16-byte digests for one hash key ``k``, precomputed.

    The polynomial hash of :func:`qkdcircuits.postprocessing.polynomial_hash` on 16 bytes has
    three blocks, the digest halves ``d1, d2`` and the length block ``128``:
    ``h_k = d1 k^3 + d2 k^2 + 128 k``. With tables for ``k^3`` and ``k^2`` and the constant
    ``128 k`` it costs 16 table look-ups.
    """

    __slots__ = ("constant", "cube", "square")

    def __init__(self, key: int) -> None:
        if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key <= _MASK:
            raise ValueError(f"key={key!r} must be a 64-bit unsigned integer")
        square = multiply(key, key)
        self.square, self.cube = multiplication_tables(square, multiply(square, key))
        self.constant = multiply(_DIGEST_BITS_BLOCK, key)

    def __call__(self, digest: bytes) -> int:
        """``h_k(digest)`` of a 16-byte digest."""
        value = int.from_bytes(digest, "big")
        a = value >> 64
        b = value & _MASK
        t = self.cube
        u = self.square
        return (
            self.constant
            ^ t[a & 255] ^ t[256 | (a >> 8 & 255)] ^ t[512 | (a >> 16 & 255)]
            ^ t[768 | (a >> 24 & 255)] ^ t[1024 | (a >> 32 & 255)]
            ^ t[1280 | (a >> 40 & 255)] ^ t[1536 | (a >> 48 & 255)] ^ t[1792 | (a >> 56)]
            ^ u[b & 255] ^ u[256 | (b >> 8 & 255)] ^ u[512 | (b >> 16 & 255)]
            ^ u[768 | (b >> 24 & 255)] ^ u[1024 | (b >> 32 & 255)]
            ^ u[1280 | (b >> 40 & 255)] ^ u[1536 | (b >> 48 & 255)] ^ u[1792 | (b >> 56)]
        )  # fmt: skip
