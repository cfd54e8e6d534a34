"""Bit-array helpers shared by the post-processing modules (private)."""

from __future__ import annotations

import numpy as np


def check_bits(bits: np.ndarray, name: str) -> np.ndarray:
    """Return ``bits`` as a contiguous 1-D ``uint8`` array of zeros and ones.

    Raises
    ------
    TypeError
        If ``bits`` is not array-like of integers or booleans.
    ValueError
        If it is not one-dimensional or holds a value other than 0 and 1.
    """
    array = np.asarray(bits)
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold integer bits (0/1), not dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.size and (array.min() < 0 or array.max() > 1):
        bad = array[(array < 0) | (array > 1)][0]
        raise ValueError(f"{name} must hold only 0 and 1, found {bad!r}")
    return np.ascontiguousarray(array, dtype=np.uint8)


def check_pair(alice_bits: np.ndarray, bob_bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate Alice's and Bob's bit strings and check they have the same length."""
    alice = check_bits(alice_bits, "alice_bits")
    bob = check_bits(bob_bits, "bob_bits")
    if alice.size != bob.size:
        raise ValueError(f"alice_bits and bob_bits differ in length: {alice.size} vs {bob.size}")
    return alice, bob


def random_bits(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniform random bits as a ``uint8`` array."""
    return rng.integers(0, 2, size=n, dtype=np.uint8)


def bits_to_bytes(bits: np.ndarray) -> bytes:
    """Pack bits (most significant first) into bytes, prefixed by the bit count.

    The 8-byte length prefix makes the encoding injective (``[1]`` and ``[1, 0]`` pack to the same
    byte otherwise), which the authentication tag relies on.
    """
    bits = np.asarray(bits, dtype=np.uint8)
    return int(bits.size).to_bytes(8, "big") + np.packbits(bits).tobytes()
