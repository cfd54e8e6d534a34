"""Error verification with a Toeplitz hash: equal keys pass, different keys fail at rate 2^-m."""

from __future__ import annotations

import numpy as np
import pytest

from qkdcircuits.postprocessing import verify_keys
from tests.helpers import binomial_tolerance


def test_equal_keys_pass_and_tag_is_leaked():
    key = np.random.default_rng(0).integers(0, 2, 5_000, dtype=np.uint8)
    result = verify_keys(key, key.copy(), tag_bits=32, seed=1)
    assert result.match and result.tag_bits == 32 and result.alice_tag.size == 32
    assert result.failure_probability == 2.0**-32
    assert result.to_dict() == {"match": True, "tag_bits": 32, "failure_probability": 2.0**-32}


@pytest.mark.parametrize("errors", [1, 2, 7])
def test_different_keys_fail(errors):
    rng = np.random.default_rng(errors)
    key = rng.integers(0, 2, 5_000, dtype=np.uint8)
    other = key.copy()
    other[rng.choice(5_000, errors, replace=False)] ^= 1
    for seed in range(20):
        assert not verify_keys(key, other, seed=seed).match


def test_collision_rate_of_short_tags_is_two_to_minus_m():
    """With 3-bit tags different keys pass with probability exactly 1/8 over the hash seed."""
    rng = np.random.default_rng(5)
    key = rng.integers(0, 2, 200, dtype=np.uint8)
    other = key.copy()
    other[[3, 50, 120]] ^= 1
    trials = 4_000
    passes = sum(verify_keys(key, other, tag_bits=3, seed=s).match for s in range(trials))
    assert abs(passes / trials - 1 / 8) < binomial_tolerance(1 / 8, trials)


def test_validation():
    a = np.zeros(4, dtype=np.uint8)
    with pytest.raises(ValueError, match="empty"):
        verify_keys(a[:0], a[:0])
    with pytest.raises(ValueError, match="tag_bits=0"):
        verify_keys(a, a, tag_bits=0)


def test_a_tag_longer_than_the_key_is_refused_with_its_memory_cost():
    """Regression: --verify-bits 1e9 ended in a MemoryError; the tag would disclose the key."""
    key = np.zeros(1_000, dtype=np.uint8)
    with pytest.raises(ValueError, match=r"exceeds the 1000-bit key.*32.6 GiB.*use 32 to 128"):
        verify_keys(key, key, tag_bits=1_000_000_000)
    assert verify_keys(key, key, tag_bits=1_000, seed=1).match
