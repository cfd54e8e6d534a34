"""Binomial intervals, QBER estimates and sifting masks (analysis only, no backend)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from qkdcircuits import binomial_interval, estimate_qber, sift_mask
from tests.helpers import binomial_tolerance


def test_wilson_reference_value():
    # Wilson 95% interval for 10/1000: centre (p + z^2/2n)/(1 + z^2/n), computed by hand.
    z = 1.959963984540054
    n, k = 1000, 10
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = binomial_interval(k, n)
    assert low == pytest.approx(centre - half, rel=1e-12)
    assert high == pytest.approx(centre + half, rel=1e-12)


def test_clopper_pearson_edge_cases():
    low, high = binomial_interval(0, 100, method="clopper-pearson")
    assert low == 0.0
    # exact upper bound for zero successes: 1 - (alpha/2)^(1/n)
    assert high == pytest.approx(1 - 0.025 ** (1 / 100), rel=1e-10)
    low, high = binomial_interval(100, 100, method="clopper-pearson")
    assert high == 1.0 and low == pytest.approx(0.025 ** (1 / 100), rel=1e-10)


@given(
    k=st.integers(min_value=0, max_value=500),
    extra=st.integers(min_value=0, max_value=500),
    method=st.sampled_from(["wilson", "clopper-pearson"]),
)
def test_interval_contains_the_point_estimate(k, extra, method):
    n = k + extra
    low, high = binomial_interval(k, n, method=method)
    assert 0.0 <= low <= high <= 1.0
    if n:
        assert low <= k / n + 1e-12 and k / n - 1e-12 <= high


def test_clopper_pearson_is_wider_than_wilson_for_small_counts():
    w = binomial_interval(3, 50)
    cp = binomial_interval(3, 50, method="clopper-pearson")
    assert cp[0] <= w[0] and cp[1] >= w[1]


@pytest.mark.parametrize("method", ["wilson", "clopper-pearson"])
def test_interval_coverage_by_simulation(method):
    """Empirical coverage at n=400, p=0.05 matches the exact coverage of the method."""
    rng = np.random.default_rng(0)
    n, p, trials = 400, 0.05, 4000
    covers = np.array(
        [lo <= p <= hi for lo, hi in (binomial_interval(k, n, method=method) for k in range(n + 1))]
    )
    # Exact coverage: the binomial mass of the counts whose interval contains p.
    exact = float(stats.binom.pmf(np.arange(n + 1), n, p)[covers].sum())
    assert exact > 0.93  # near nominal (Clopper-Pearson never below 0.95)
    if method == "clopper-pearson":
        assert exact >= 0.95
    coverage = covers[rng.binomial(n, p, size=trials)].mean()
    assert abs(coverage - exact) < binomial_tolerance(exact, trials)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"successes": 5, "trials": 3}, "successes"),
        ({"successes": -1, "trials": 3}, "successes"),
        ({"successes": 1, "trials": 3, "confidence": 1.0}, "confidence"),
        ({"successes": 1, "trials": 3, "method": "agresti"}, "method"),
    ],
)
def test_bad_interval_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        binomial_interval(**kwargs)


def test_estimate_qber_with_nothing_sifted():
    estimate = estimate_qber(0, 0)
    assert math.isnan(estimate.qber)
    assert (estimate.low, estimate.high) == (0.0, 1.0)
    assert estimate.to_dict()["qber"] is None


def test_sift_mask():
    alice = np.array([0, 0, 1, 1])
    bob = np.array([0, 1, 1, 0])
    np.testing.assert_array_equal(sift_mask(alice, bob), [True, False, True, False])
    heralded = np.array([True, True, False, False])
    np.testing.assert_array_equal(sift_mask(alice, bob, heralded), [True, False, False, False])
    with pytest.raises(ValueError, match="shape"):
        sift_mask(alice, bob[:3])
