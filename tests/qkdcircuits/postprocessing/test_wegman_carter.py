"""GF(2^64) arithmetic, the polynomial hash, Wegman-Carter tags and the one-time key pool."""

from __future__ import annotations

import copy
import os
import pickle
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdcircuits.postprocessing import (
    TAG_BITS,
    AuthTag,
    InsufficientKeyError,
    KeyPool,
    KeySegment,
    WegmanCarterAuthenticator,
    forgery_probability,
    polynomial_hash,
)
from qkdcircuits.postprocessing._gf64 import gf64_mul, gf64_powers

MODULUS = (1 << 64) | 0x1B  # x^64 + x^4 + x^3 + x + 1
u64 = st.integers(0, 2**64 - 1)


# -- pure-Python GF(2)[x] reference (Python ints as bit vectors) ---------------------------------


def _clmul(a: int, b: int) -> int:
    out = 0
    while b:
        if b & 1:
            out ^= a
        a <<= 1
        b >>= 1
    return out


def _mod(a: int, m: int) -> int:
    while a.bit_length() >= m.bit_length():
        a ^= m << (a.bit_length() - m.bit_length())
    return a


def _mulmod(a: int, b: int, m: int = MODULUS) -> int:
    return _mod(_clmul(a, b), m)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, _mod(a, b)
    return a


def _x_power_2k(k: int, m: int = MODULUS) -> int:
    """x^(2^k) mod m by k squarings."""
    value = 0b10
    for _ in range(k):
        value = _mulmod(value, value, m)
    return value


def test_modulus_is_irreducible_by_rabins_test():
    # Rabin (SIAM J. Comput. 9, 273 (1980)): degree-64 P is irreducible iff x^(2^64) = x mod P
    # and gcd(x^(2^32) - x, P) = 1 (32 = 64/2, the only prime divisor of 64 being 2).
    assert _x_power_2k(64) == 0b10
    assert _gcd(MODULUS, _x_power_2k(32) ^ 0b10) == 1


@settings(max_examples=200, deadline=None)
@given(a=u64, b=u64)
def test_gf64_mul_matches_reference(a, b):
    assert int(gf64_mul(np.uint64(a), np.uint64(b))) == _mulmod(a, b)


@settings(max_examples=100, deadline=None)
@given(a=u64, b=u64, c=u64)
def test_gf64_field_laws(a, b, c):
    A, B, C = (np.uint64(v) for v in (a, b, c))
    assert gf64_mul(A, B) == gf64_mul(B, A)
    assert gf64_mul(gf64_mul(A, B), C) == gf64_mul(A, gf64_mul(B, C))
    assert gf64_mul(A, B ^ C) == gf64_mul(A, B) ^ gf64_mul(A, C)
    assert gf64_mul(A, np.uint64(1)) == A


def test_gf64_multiplicative_order_divides_group_order():
    # a^(2^64 - 1) = 1 for a != 0 (Lagrange in the multiplicative group), via 64 squarings:
    # a^(2^64) = a
    for a in (2, 3, 0xDEADBEEF, 2**64 - 1):
        value = np.uint64(a)
        for _ in range(64):
            value = gf64_mul(value, value)
        assert int(value) == a


def test_gf64_powers():
    key = 0x1234_5678_9ABC_DEF1
    powers = gf64_powers(key, 37)
    expected, value = [], 1
    for _ in range(37):
        value = _mulmod(value, key)
        expected.append(value)
    assert [int(p) for p in powers] == expected


@settings(max_examples=50, deadline=None)
@given(message=st.binary(max_size=100), key=u64)
def test_polynomial_hash_matches_horner_reference(message, key):
    padded = message + b"\x00" * (-len(message) % 8)
    blocks = [int.from_bytes(padded[i : i + 8], "big") for i in range(0, len(padded), 8)]
    blocks.append(8 * len(message))
    acc = 0
    for block in blocks:  # sum_i m_i k^(L+1-i) by Horner: (((m_1) k + m_2) k + ...) k
        acc = _mulmod(acc ^ block, key)
    assert polynomial_hash(message, key) == acc


def test_length_block_separates_zero_padding():
    assert polynomial_hash(b"a", 77) != polynomial_hash(b"a\x00", 77)
    bits = np.array([1, 0, 1], dtype=np.uint8)
    assert polynomial_hash(bits, 77) != polynomial_hash(np.append(bits, 0), 77)


def _pair(seed: int, size: int = 1024) -> tuple[WegmanCarterAuthenticator, ...]:
    shared = np.random.default_rng(seed).integers(0, 2, size, dtype=np.uint8)
    alice, bob = KeyPool.pair(shared)
    return WegmanCarterAuthenticator(alice), WegmanCarterAuthenticator(bob)


def test_sign_and_verify():
    alice, bob = _pair(1)
    for message in (b"", b"hello", b"x" * 1000, np.ones(77, dtype=np.uint8)):
        assert bob.verify(message, alice.sign(message))
    assert alice.consumed_bits == bob.consumed_bits == TAG_BITS * 5


@settings(max_examples=100, deadline=None)
@given(message=st.binary(min_size=1, max_size=64), position=st.integers(0, 511))
def test_modified_message_is_rejected(message, position):
    alice, bob = _pair(2)
    tag = alice.sign(message)
    bit = position % (8 * len(message))
    tampered = bytearray(message)
    tampered[bit // 8] ^= 0x80 >> (bit % 8)
    assert not bob.verify(bytes(tampered), tag)


@settings(max_examples=50, deadline=None)
@given(message=st.binary(max_size=40), flip=st.integers(0, 63))
def test_modified_tag_is_rejected(message, flip):
    alice, bob = _pair(3)
    tag = alice.sign(message)
    forged = AuthTag(value=tag.value ^ (1 << flip), pad_offset=tag.pad_offset)
    assert not bob.verify(message, forged)


def test_appended_or_truncated_message_is_rejected():
    alice, bob = _pair(4)
    tag = alice.sign(b"parities 0110")
    assert not bob.verify(b"parities 01100", tag)
    alice, bob = _pair(4)
    tag = alice.sign(b"parities 0110")
    assert not bob.verify(b"parities 011", tag)


def test_replayed_tag_is_rejected():
    alice, bob = _pair(5)
    first = alice.sign(b"block 1")
    assert bob.verify(b"block 1", first)
    # the pad at first.pad_offset is gone from both pools: replaying meets a fresh pad
    assert not bob.verify(b"block 1", first)


def test_tags_from_a_different_key_are_rejected():
    alice, _ = _pair(6)
    _, eve_bob = _pair(7)
    assert not eve_bob.verify(b"msg", alice.sign(b"msg"))


def test_same_message_twice_gets_independent_tags():
    alice, _ = _pair(8)
    first, second = alice.sign(b"same"), alice.sign(b"same")
    assert first.pad_offset != second.pad_offset and first.value != second.value


def test_key_pool_hands_out_every_bit_once():
    bits = np.random.default_rng(9).integers(0, 2, 500, dtype=np.uint8)
    reference = bits.copy()
    pool = KeyPool(bits)
    segments = [pool.take(n) for n in (64, 1, 100, 35, 300)]
    assert [s.offset for s in segments] == [0, 64, 65, 165, 200]
    assert np.array_equal(np.concatenate([s.bits for s in segments]), reference)
    assert pool.remaining == 0 and pool.consumed == 500
    with pytest.raises(InsufficientKeyError, match="holds only 0"):
        pool.take(1)
    with pytest.raises(ValueError, match="read-only"):
        segments[0].bits[0] = 1


def test_key_segment_bits_cannot_be_made_writable_again():
    """Regression: setflags(write=True) turned a handed-out segment back into a writable array."""
    segment = KeyPool(np.ones(64, dtype=np.uint8)).take(64)
    with pytest.raises(ValueError):
        segment.bits.setflags(write=True)
    built = KeySegment(offset=3, bits=np.array([1, 0, 1], dtype=np.uint8))
    with pytest.raises(ValueError):
        built.bits.setflags(write=True)
    assert built.to_int() == 5 and KeySegment(offset=0, bits=np.zeros(0, np.uint8)).to_int() == 0
    with pytest.raises(ValueError, match="offset=-1"):
        KeySegment(offset=-1, bits=np.ones(1, dtype=np.uint8))


def test_key_segment_to_int_matches_the_bit_string():
    bits = np.random.default_rng(4).integers(0, 2, 77, dtype=np.uint8)
    assert KeySegment(offset=0, bits=bits).to_int() == int("".join(map(str, bits)), 2)


def test_concurrent_takes_never_share_bits():
    """Regression: 8 threads taking 64 bits each got 52 duplicate offsets and 1,216 bits beyond
    the pool. 16 threads, a very short switch interval to force interleaving."""
    size, per_take, threads = 64 * 4_000, 64, 16
    bits = np.random.default_rng(1).integers(0, 2, size, dtype=np.uint8)
    reference = bits.copy()
    pool = KeyPool(bits)
    taken: list[list] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads)

    def worker(out: list) -> None:
        barrier.wait()
        while True:
            try:
                out.append(pool.take(per_take))
            except InsufficientKeyError:
                return

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        workers = [threading.Thread(target=worker, args=(out,)) for out in taken]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(interval)
    segments = sorted((s for out in taken for s in out), key=lambda s: s.offset)
    offsets = [s.offset for s in segments]
    assert len(set(offsets)) == len(offsets) == size // per_take  # no offset twice, none lost
    assert offsets == list(range(0, size, per_take))  # contiguous, nothing beyond the pool
    assert np.array_equal(np.concatenate([s.bits for s in segments]), reference)
    assert pool.remaining == 0 and pool.consumed == size


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_cannot_use_the_pool():
    """Regression: after os.fork() parent and child both took offset 0."""
    pool = KeyPool(np.ones(256, dtype=np.uint8))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report what take() did, then leave without running pytest's cleanup
        try:
            pool.take(64)
            message = b"took"
        except RuntimeError as exc:
            message = b"refused" if b"fork" in str(exc).encode() else b"other"
        os.write(write, message)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read()
    os.waitpid(pid, 0)
    assert answer == b"refused"
    segment = pool.take(64)  # the parent keeps using its pool
    assert segment.offset == 0


def test_pool_takes_ownership_of_a_writable_array():
    """Regression: the caller's array kept the key bits after handing them to the pool."""
    bits = np.ones(128, dtype=np.uint8)
    pool = KeyPool(bits)
    assert not bits.any()  # wiped
    more = np.ones(64, dtype=bool)
    pool.extend(more)
    assert not more.any()
    assert pool.take(192).bits.sum() == 192
    # a read-only array cannot be wiped: it is copied and stays as it was (documented rule)
    frozen = np.ones(64, dtype=np.uint8)
    frozen.setflags(write=False)
    KeyPool(frozen)
    assert frozen.all()


def test_pair_and_random_pair():
    bits = np.random.default_rng(2).integers(0, 2, 256, dtype=np.uint8)
    reference = bits.copy()
    alice, bob = KeyPool.pair(bits)
    assert not bits.any()
    assert np.array_equal(alice.take(256).bits, reference)
    assert np.array_equal(bob.take(256).bits, reference)
    first, second = KeyPool.random_pair(256)
    a, b = first.take(256).bits, second.take(256).bits
    assert np.array_equal(a, b)
    other, _ = KeyPool.random_pair(256)
    assert not np.array_equal(a, other.take(256).bits)  # fresh bits: equal with prob. 2^-256


def test_key_pool_refuses_to_over_draw_and_can_be_extended():
    pool = KeyPool(np.ones(10, dtype=np.uint8))
    with pytest.raises(InsufficientKeyError):
        pool.take(11)
    assert pool.remaining == 10 and pool.consumed == 0  # nothing consumed by the failed take
    pool.take(10)
    pool.extend(np.zeros(5, dtype=np.uint8))
    segment = pool.take(5)
    assert segment.offset == 10 and segment.bits.tolist() == [0] * 5


def test_key_pool_cannot_be_copied_or_pickled():
    pool = KeyPool(np.ones(128, dtype=np.uint8))
    with pytest.raises(TypeError, match="never be used twice"):
        copy.copy(pool)
    with pytest.raises(TypeError, match="never be used twice"):
        copy.deepcopy(pool)
    with pytest.raises(TypeError, match="never be used twice"):
        pickle.dumps(pool)


def test_key_pool_does_not_alias_the_callers_array():
    bits = np.ones(128, dtype=np.uint8)
    pool = KeyPool(bits)
    bits[:] = 1
    assert pool.take(64).bits.sum() == 64
    assert pool.take(64).bits.sum() == 64


def test_authenticator_runs_out_of_key():
    auth = WegmanCarterAuthenticator(KeyPool(np.ones(3 * TAG_BITS, dtype=np.uint8)))
    auth.sign(b"a")
    auth.sign(b"b")
    with pytest.raises(InsufficientKeyError):
        auth.sign(b"c")


def test_forgery_probability_bound():
    # 100 bytes -> 13 message blocks + 1 length block
    assert forgery_probability(100) == 14 / 2.0**64
    assert forgery_probability(0) == 1 / 2.0**64


def test_validation():
    with pytest.raises(TypeError, match="KeyPool"):
        WegmanCarterAuthenticator(np.ones(64))
    with pytest.raises(ValueError, match="value="):
        AuthTag(value=1 << 64, pad_offset=0)
    with pytest.raises(TypeError, match="message"):
        polynomial_hash("text", 1)
    with pytest.raises(ValueError, match="key must be"):
        polynomial_hash(b"", -1)
    with pytest.raises(TypeError, match="key must be"):
        polynomial_hash(b"", 1.0)
    assert polynomial_hash(b"abc", np.uint64(5)) == polynomial_hash(b"abc", 5)
    with pytest.raises(TypeError, match="value="):
        AuthTag(value=1.5, pad_offset=0)
    with pytest.raises(TypeError, match="pad_offset="):
        AuthTag(value=1, pad_offset=True)
    _, bob = _pair(10)
    with pytest.raises(TypeError, match="AuthTag"):
        bob.verify(b"", 5)


@pytest.mark.parametrize("key", [987_654_321_123, 2**64 + 987_654_321, -987_654_321, 98765.4321])
def test_hash_key_is_never_echoed(key):
    """Regression: polynomial_hash's messages printed the secret key."""
    with pytest.raises((TypeError, ValueError)) as info:
        polynomial_hash(b"m", key if key != 987_654_321_123 else np.float64(key))
    digits = str(abs(int(key)))[:9]
    assert digits not in str(info.value)
