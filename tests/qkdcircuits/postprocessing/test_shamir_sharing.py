"""Shamir (k, n) sharing: the test vector, any k reconstruct, k-1 reveal nothing (exactly)."""

from __future__ import annotations

import inspect
import itertools
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdcircuits.postprocessing import (
    DEFAULT_PRIME,
    KeyShare,
    Share,
    combine_key,
    combine_shares,
    split_key,
    split_secret,
)
from qkdcircuits.postprocessing.shamir import _EXP, _LOG, _gf256_mul


def test_reference_vector():
    shares = split_secret(1234, threshold=3, n_shares=6, prime=1613, coefficients=(166, 94))
    assert [(s.x, s.y) for s in shares] == [
        (1, 1494),
        (2, 329),
        (3, 965),
        (4, 176),
        (5, 1188),
        (6, 775),
    ]
    for subset in itertools.combinations(shares, 3):
        assert combine_shares(subset) == 1234


@st.composite
def _scheme(draw):
    n = draw(st.integers(1, 8))
    k = draw(st.integers(1, n))
    order = draw(st.permutations(range(n)))
    return k, n, order[: draw(st.integers(k, n))]


@settings(max_examples=60, deadline=None)
@given(scheme=_scheme(), secret=st.integers(0, DEFAULT_PRIME - 1))
def test_any_k_shares_reconstruct_prime_field(scheme, secret):
    k, n, subset = scheme
    shares = split_secret(secret, threshold=k, n_shares=n)
    assert combine_shares([shares[i] for i in subset]) == secret


@settings(max_examples=40, deadline=None)
@given(scheme=_scheme(), n_bits=st.integers(1, 200), seed=st.integers(0, 2**32))
def test_any_k_shares_reconstruct_key_blocks(scheme, n_bits, seed):
    k, n, subset = scheme
    key = np.random.default_rng(seed).integers(0, 2, n_bits, dtype=np.uint8)
    shares = split_key(key, threshold=k, n_shares=n)
    assert np.array_equal(combine_key([shares[i] for i in subset]), key)


@pytest.mark.parametrize(("prime", "k", "n"), [(5, 3, 4), (7, 3, 5), (7, 2, 6), (11, 4, 5)])
def test_fewer_than_k_shares_are_uniform_and_independent_of_the_secret(prime, k, n):
    """Over all p^(k-1) polynomials, every (k-1)-subset of shares takes each value exactly once."""
    for secret in range(prime):
        tables = {subset: Counter() for subset in itertools.combinations(range(n), k - 1)}
        for coeffs in itertools.product(range(prime), repeat=k - 1):
            shares = split_secret(secret, threshold=k, n_shares=n, prime=prime, coefficients=coeffs)
            for subset, counts in tables.items():
                counts[tuple(shares[i].y for i in subset)] += 1
        for counts in tables.values():
            assert len(counts) == prime ** (k - 1) and set(counts.values()) == {1}


def test_fewer_than_k_byte_shares_are_uniform():
    """GF(2^8), k = 3: all 65536 coefficient pairs as the bytes of one block; any 2 shares of
    any secret byte take each of the 65536 value pairs exactly once."""
    pairs = np.array(list(itertools.product(range(256), repeat=2)), dtype=np.uint8).T
    for secret_byte in (0, 1, 0xA5, 0xFF):
        key = np.unpackbits(np.full(pairs.shape[1], secret_byte, dtype=np.uint8))
        shares = split_key(key, threshold=3, n_shares=4, coefficients=pairs)
        for a, b in itertools.combinations(shares, 2):
            values = a.data.astype(np.int64) * 256 + b.data
            assert np.array_equal(np.sort(values), np.arange(65536))


def test_gf256_multiplication_matches_carry_less_reference():
    def reference(a: int, b: int) -> int:
        out = 0
        while b:
            if b & 1:
                out ^= a
            a <<= 1
            if a & 0x100:
                a ^= 0x11B
            b >>= 1
        return out

    a = np.arange(256)
    for b in range(256):
        assert _gf256_mul(a, b).tolist() == [reference(int(v), b) for v in a]
    # 3 generates the multiplicative group: the exp table runs through all 255 nonzero bytes
    assert sorted(_EXP[:255].tolist()) == list(range(1, 256))
    assert all(_EXP[_LOG[v]] == v for v in range(1, 256))


def test_fewer_than_threshold_shares_do_not_give_the_secret():
    shares = split_secret(1234, threshold=3, n_shares=6, prime=1613, coefficients=(166, 94))
    assert combine_shares(shares[:2]) != 1234  # the line through two points misses f(0) here


def test_coefficients_are_fresh_secrets_not_seeded():
    """The coefficients come from the OS random source: there is no seed to share them with, and
    two splittings of one secret differ (equal with probability 1 / p per coefficient)."""
    assert "seed" not in inspect.signature(split_secret).parameters
    assert "seed" not in inspect.signature(split_key).parameters
    first = split_secret(99, threshold=2, n_shares=3)
    second = split_secret(99, threshold=2, n_shares=3)
    assert [s.y for s in first] != [s.y for s in second]
    key = np.ones(256, dtype=np.uint8)
    a, b = split_key(key, threshold=2, n_shares=2), split_key(key, threshold=2, n_shares=2)
    assert not np.array_equal(a[0].data, b[0].data)


SECRET = 987_654_321_987_654_321  # distinctive digits to look for in text


def test_no_secret_in_reprs():
    """Regression: Share's repr printed the value; two reprs rebuilt the secret."""
    shares = split_secret(SECRET, threshold=2, n_shares=3)
    assert combine_shares(shares[:2]) == SECRET
    for share in shares:
        text = repr(share) + str(share)
        assert str(share.y) not in text and str(share.y)[:8] not in text
    key_shares = split_key(np.ones(64, dtype=np.uint8), threshold=2, n_shares=2)
    assert "data" not in repr(key_shares[0]) and "array" not in repr(key_shares[0])


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: split_secret(SECRET, threshold=2, n_shares=3, prime=1613), ValueError),
        (lambda: split_secret(float(SECRET), threshold=2, n_shares=3), TypeError),
        (
            lambda: split_secret(
                5, threshold=2, n_shares=3, coefficients=(SECRET + DEFAULT_PRIME,)
            ),
            ValueError,
        ),
        (lambda: split_secret(5, threshold=2, n_shares=3, coefficients=(SECRET / 3,)), TypeError),
        (lambda: Share(x=1, y=SECRET, prime=1613), ValueError),
        (lambda: Share(x=1, y=float(SECRET), prime=DEFAULT_PRIME), TypeError),
    ],
)
def test_no_secret_in_error_messages(call, error):
    """Regression: split_secret and the coefficient checks echoed secret values."""
    with pytest.raises(error) as info:
        call()
    text = str(info.value)
    # the secret, a third of it, and the tail of the out-of-range coefficient
    for digits in ("987654321", "329218107", str(SECRET + DEFAULT_PRIME)[-12:]):
        assert digits not in text


def test_float_coefficients_are_refused_not_cast():
    """Regression: a float coefficient array was cast to 0 and every share equalled the key."""
    key = np.random.default_rng(3).integers(0, 2, 16, dtype=np.uint8)
    with pytest.raises(TypeError, match="integer array"):
        split_key(key, threshold=2, n_shares=3, coefficients=np.full((1, 2), 0.4))
    with pytest.raises(TypeError, match="integer array"):
        split_key(key, threshold=2, n_shares=3, coefficients=np.ones((1, 2), dtype=bool))
    with pytest.raises(ValueError, match=r"0\.\.255"):
        split_key(key, threshold=2, n_shares=3, coefficients=np.full((1, 2), 256))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold": 4, "n_shares": 3}, "threshold=4"),
        ({"threshold": 0, "n_shares": 3}, "threshold=0"),
        ({"threshold": 2, "n_shares": 3, "prime": 1611}, "prime=1611"),
        ({"threshold": 2, "n_shares": 7, "prime": 7}, "n_shares=7"),
        ({"threshold": 3, "n_shares": 3, "coefficients": (1,)}, "coefficients"),
    ],
)
def test_split_secret_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        split_secret(3, **kwargs)


def test_other_validation():
    with pytest.raises(ValueError, match=r"secret \(not shown\) must be in \[0, prime=1613\)"):
        split_secret(2000, threshold=2, n_shares=3, prime=1613)
    shares = split_secret(5, threshold=2, n_shares=3, prime=13)
    with pytest.raises(ValueError, match="distinct x"):
        combine_shares([shares[0], shares[0]])
    with pytest.raises(ValueError, match="different fields"):
        combine_shares([shares[0], Share(x=2, y=1, prime=17)])
    with pytest.raises(ValueError, match="x=0"):
        Share(x=0, y=1, prime=13)
    with pytest.raises(ValueError, match="n_shares=256"):
        split_key(np.ones(8, dtype=np.uint8), threshold=2, n_shares=256)
    key_shares = split_key(np.ones(8, dtype=np.uint8), threshold=2, n_shares=2)
    other = KeyShare(x=3, data=np.zeros(2, dtype=np.uint8), n_bits=16)
    with pytest.raises(ValueError, match="different lengths"):
        combine_key([key_shares[0], other])
