"""Toeplitz hashing: FFT equals the matrix product, exact universality, linearity, PA length."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdcircuits.postprocessing import (
    leftover_hash_length,
    privacy_amplification,
    secret_key_length,
    toeplitz_hash,
    toeplitz_hash_naive,
    toeplitz_matrix,
)
from qkdcircuits.postprocessing import toeplitz as toeplitz_module
from tests.helpers import Z_SCORE


def _bits(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2, n, dtype=np.uint8)


def test_matrix_layout():
    # T[i, j] = s[i - j + n - 1]: constant diagonals, first row s[n-1..0], first column s[n-1..]
    s = np.array([1, 0, 0, 1, 1, 0], dtype=np.uint8)  # n = 4, m = 3
    t = toeplitz_matrix(s, 4, 3)
    assert t.tolist() == [[1, 0, 0, 1], [1, 1, 0, 0], [0, 1, 1, 0]]
    for i, j in itertools.product(range(1, 3), range(1, 4)):
        assert t[i, j] == t[i - 1, j - 1]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 400),
    m=st.integers(1, 400),
    tile=st.integers(1, 512),
    seed=st.integers(0, 2**32 - 1),
)
def test_fft_equals_naive(n, m, tile, seed):
    rng = np.random.default_rng(seed)
    x, s = _bits(rng, n), _bits(rng, n + m - 1)
    assert np.array_equal(toeplitz_hash(x, s, m, tile=tile), toeplitz_hash_naive(x, s, m))


def test_fft_is_exact_for_long_keys():
    """Two default-size tiles per row block; check sampled output bits against direct sums."""
    rng = np.random.default_rng(5)
    n, m = (1 << 21) + 17, (1 << 20) + 3
    x, s = _bits(rng, n), _bits(rng, n + m - 1)
    y = toeplitz_hash(x, s, m)
    x64 = x.astype(np.int64)
    for i in rng.choice(m, size=40, replace=False):
        # y[i] = sum_j s[i - j + n - 1] x[j]: the window s[i : i + n] reversed
        assert y[i] == int(s[i : i + n][::-1].astype(np.int64) @ x64) & 1


@pytest.mark.parametrize(("n", "m"), [(1, 1), (3, 1), (3, 2), (4, 2), (4, 3), (5, 2), (5, 4)])
def test_universality_by_enumeration(n, m):
    """For every pair x != x', exactly 2^(n-1) of the 2^(n+m-1) seeds collide: Pr = 2^-m."""
    seeds = np.array(list(itertools.product((0, 1), repeat=n + m - 1)), dtype=np.uint8)
    inputs = np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.int64)
    # hashes[seed, x] as integers
    matrices = np.stack([toeplitz_matrix(s, n, m) for s in seeds]).astype(np.int64)
    hashes = (np.einsum("sij,xj->sxi", matrices, inputs) & 1) @ (1 << np.arange(m))
    expected = seeds.shape[0] // 2**m
    for a, b in itertools.combinations(range(inputs.shape[0]), 2):
        assert int(np.count_nonzero(hashes[:, a] == hashes[:, b])) == expected


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 300), m=st.integers(1, 300), seed=st.integers(0, 2**32 - 1))
def test_linearity(n, m, seed):
    rng = np.random.default_rng(seed)
    x, y, s = _bits(rng, n), _bits(rng, n), _bits(rng, n + m - 1)
    assert np.array_equal(
        toeplitz_hash(x ^ y, s, m, tile=64), toeplitz_hash(x, s, m) ^ toeplitz_hash(y, s, m)
    )


def test_leftover_hash_length():
    assert leftover_hash_length(min_entropy_bits=1000.0, epsilon=2.0**-20) == 960
    assert leftover_hash_length(min_entropy_bits=10.0, epsilon=1e-10) == 0
    with pytest.raises(ValueError, match=r"epsilon=0\.0 must be in \(0, 1\)"):
        leftover_hash_length(min_entropy_bits=10.0, epsilon=0.0)


# Hand calculations from the binary entropies of REFERENCES.md (H2(0.01) = 0.0807931359,
# H2(0.033) = 0.2092204779, H2(0.11) = 0.4999159582), not from the function's own formula:
# l = floor(n (1 - H2(e)) - leak - 2 log2(1/eps)).
HAND_COMPUTED = [
    # n, e_ph, leak, eps, l
    (10_000, 0.01, 1_000, 1e-10, 8_125),  # 9192.068641 - 1000 - 66.438562 = 8125.63
    (10_000, 0.033, 2_000, 2.0**-20, 5_867),  # 7907.795221 - 2000 - 40 = 5867.80
    (1_000_000, 0.11, 0, 2.0**-10, 500_064),  # 500084.0418 - 20 = 500064.04
    (1_000, 0.0, 10, 2.0**-5, 980),  # no phase error: 1000 - 10 - 10
    (1_000, 0.01, 900, 1e-10, 0),  # 919.2 - 900 - 66.4 < 0: clipped
    (10_000, 0.5, 0, 0.5, 0),  # e_ph = 1/2: the key is fully known
]


@pytest.mark.parametrize(("n", "e_ph", "leak", "eps", "expected"), HAND_COMPUTED)
def test_secret_key_length_against_hand_calculations(n, e_ph, leak, eps, expected):
    assert secret_key_length(n=n, phase_error_rate=e_ph, leaked_bits=leak, epsilon=eps) == expected


def test_secret_key_length_validation():
    with pytest.raises(TypeError, match=r"n=10\.5"):
        secret_key_length(n=10.5, phase_error_rate=0.0, leaked_bits=0, epsilon=1e-9)
    for eps in (1.0, 0.0, 2.0):
        with pytest.raises(ValueError, match=r"must be in \(0, 1\)"):
            secret_key_length(n=100, phase_error_rate=0.0, leaked_bits=0, epsilon=eps)


def test_epsilon_of_one_is_refused():
    """Regression: eps = 1 gave a "final key" of H_min bits with no guarantee at all."""
    with pytest.raises(ValueError, match=r"epsilon=1\.0 must be in \(0, 1\)"):
        leftover_hash_length(min_entropy_bits=100.0, epsilon=1.0)


def test_privacy_amplification_cannot_lengthen_a_key():
    """Regression: privacy_amplification(bits[:100], output_length=500) returned 500 bits."""
    bits = np.ones(100, dtype=np.uint8)
    with pytest.raises(ValueError, match="output_length=500 exceeds the 100 input bits"):
        privacy_amplification(bits, output_length=500, seed=1)
    assert privacy_amplification(bits, output_length=100, seed=1)[0].size == 100


def test_privacy_amplification_shared_seed():
    rng = np.random.default_rng(3)
    key = _bits(rng, 5_000)
    alice, seed_bits = privacy_amplification(key, output_length=2_000, seed=4)
    bob, _ = privacy_amplification(key.copy(), output_length=2_000, seed_bits=seed_bits)
    assert seed_bits.size == 5_000 + 2_000 - 1
    assert np.array_equal(alice, bob) and alice.size == 2_000
    # a one-bit difference in the input changes the output (Bob must reconcile first)
    other = key.copy()
    other[0] ^= 1
    assert not np.array_equal(
        privacy_amplification(other, output_length=2_000, seed_bits=seed_bits)[0], alice
    )


def test_output_of_random_input_is_balanced():
    rng = np.random.default_rng(9)
    y = toeplitz_hash(_bits(rng, 50_000), _bits(rng, 50_000 + 20_000 - 1), 20_000)
    # each output bit is a uniform bit: the count of ones is Binomial(20000, 1/2)
    assert abs(int(y.sum()) - 10_000) <= Z_SCORE * math.sqrt(20_000 / 4)


def test_validation():
    x = np.ones(8, dtype=np.uint8)
    with pytest.raises(ValueError, match="n \\+ m - 1 = 11"):
        toeplitz_hash(x, np.ones(5, dtype=np.uint8), 4)
    with pytest.raises(ValueError, match="output_length=-1"):
        toeplitz_hash(x, np.ones(5, dtype=np.uint8), -1)
    with pytest.raises(TypeError, match="output_length"):
        privacy_amplification(x, output_length=2.0)
    with pytest.raises(ValueError, match="one-dimensional"):
        toeplitz_hash(np.ones((2, 2), dtype=np.uint8), np.ones(5, dtype=np.uint8), 4)
    assert toeplitz_hash(x, np.zeros(0, dtype=np.uint8), 0).size == 0


def test_memory_errors_say_how_much_and_what_to_do(monkeypatch):
    s = np.zeros(200_000 + 100_000 - 1, dtype=np.uint8)
    with pytest.raises(MemoryError, match=r"100000 x 200000 Toeplitz matrix needs about 168 GiB"):
        toeplitz_matrix(s, 200_000, 100_000)

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(toeplitz_module, "_partitioned_hash", exhausted)
    x = np.ones(4_000_000, dtype=np.uint8)
    # 2 (n + m) padded bytes + 32 m bytes of spectra + 64 tile bytes of transforms = 0.133 GiB
    with pytest.raises(MemoryError, match=r"4000000 to 2000000 bits needs about 0\.133 .*smaller"):
        toeplitz_hash(x, np.ones(5_999_999, dtype=np.uint8), 2_000_000)
