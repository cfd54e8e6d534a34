"""Parameter estimation: random sample, one-sided bound, abort rule."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from qkdcircuits.postprocessing import sample_qber, upper_confidence_bound
from tests.helpers import binomial_tolerance


def _keys(n, qber, seed):
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    return alice, alice ^ (rng.random(n) < qber).astype(np.uint8)


def test_sample_counts_and_mask():
    alice, bob = _keys(10_000, 0.05, 1)
    s = sample_qber(alice, bob, sample_fraction=0.2, seed=2)
    assert s.sample_size == 2_000 and s.remaining == 8_000
    sampled = ~s.keep
    assert s.errors == int(np.count_nonzero(alice[sampled] != bob[sampled]))
    assert s.qber == s.errors / 2_000
    assert not s.aborted and s.abort_reason is None


def test_upper_bound_is_one_sided_clopper_pearson():
    # exact one-sided bound: the 95% quantile of Beta(k + 1, n - k)
    for k, n in [(0, 100), (3, 100), (40, 1000)]:
        expected = stats.beta.ppf(0.95, k + 1, n - k)
        assert upper_confidence_bound(k, n, confidence=0.95) == pytest.approx(expected, rel=1e-9)


def test_upper_bound_coverage():
    """The bound lies above the true rate in at least `confidence` of the samples."""
    rng = np.random.default_rng(3)
    p, n, trials = 0.03, 400, 3_000
    counts = rng.binomial(n, p, size=trials)
    covered = np.mean([upper_confidence_bound(int(k), n, confidence=0.9) >= p for k in counts])
    assert covered >= 0.9 - binomial_tolerance(0.9, trials)


def test_sampled_qber_is_unbiased():
    estimates = [
        sample_qber(*_keys(4_000, 0.04, s), sample_fraction=0.25, seed=s).qber for s in range(200)
    ]
    # the sample positions ignore the error pattern, so each sampled bit is an error with
    # probability 0.04 independently: the 200 samples pool into Binomial(200 * 1000, 0.04)
    assert abs(np.mean(estimates) - 0.04) < binomial_tolerance(0.04, 200 * 1_000)


def test_abort_rule():
    alice, bob = _keys(5_000, 0.2, 4)
    s = sample_qber(alice, bob, sample_fraction=0.1, abort_qber=0.11, seed=5)
    assert s.aborted and "abort threshold" in s.abort_reason
    empty = np.zeros(0, dtype=np.uint8)
    assert sample_qber(empty, empty, seed=0).abort_reason == "empty estimation sample"
    assert sample_qber(alice, bob, sample_fraction=0.0, seed=0).aborted


def test_sample_size_rounding_and_seed():
    alice, bob = _keys(7, 0.0, 6)
    assert sample_qber(alice, bob, sample_fraction=0.01, seed=0).sample_size == 1
    first = sample_qber(*_keys(1000, 0.1, 7), seed=8)
    second = sample_qber(*_keys(1000, 0.1, 7), seed=8)
    assert np.array_equal(first.keep, second.keep)
    assert first.to_dict()["sample_size"] == 100


def test_validation():
    a = np.zeros(10, dtype=np.uint8)
    with pytest.raises(ValueError, match=r"sample_fraction=1\.5"):
        sample_qber(a, a, sample_fraction=1.5)
    with pytest.raises(ValueError, match="method='exact'"):
        sample_qber(a, a, method="exact")
    with pytest.raises(ValueError, match=r"confidence=0\.3"):
        upper_confidence_bound(1, 10, confidence=0.3)
