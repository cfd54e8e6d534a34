"""Binomial intervals, QBER estimates and sifting masks (analysis only, no backend)."""

from __future__ import annotations

import functools
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


@functools.cache
def _intervals_from_their_definition(n: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """95% intervals for k = 0..n computed from their definition, not by the code under test.

    Clopper-Pearson: the p at which the binomial tails P(X >= k; p) and P(X <= k; p) equal
    alpha/2, found by bisection on scipy's binomial distribution (the code uses beta quantiles).
    Wilson: the p with (k/n - p)^2 = z^2 p (1 - p) / n, the two roots of a quadratic.
    """
    alpha, k = 0.05, np.arange(n + 1)
    if method == "wilson":
        z = stats.norm.isf(alpha / 2)
        a, b, c = 1 + z * z / n, -(2 * k / n + z * z / n), (k / n) ** 2
        root = np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))
        return (-b - root) / (2 * a), (-b + root) / (2 * a)

    def solve(tail_minus_target):  # decreasing in p on [0, 1]: bisection to 2**-60
        low, high = np.zeros(n + 1), np.ones(n + 1)
        for _ in range(60):
            mid = (low + high) / 2
            above = tail_minus_target(mid) > 0
            low, high = np.where(above, mid, low), np.where(above, high, mid)
        return (low + high) / 2

    lows = np.where(k == 0, 0.0, solve(lambda p: alpha / 2 - stats.binom.sf(k - 1, n, p)))
    highs = np.where(k == n, 1.0, solve(lambda p: stats.binom.cdf(k, n, p) - alpha / 2))
    return lows, highs


def _covers(n: int, p: float, interval) -> np.ndarray:
    """Per count k = 0..n, whether ``interval(k, n)`` contains p."""
    return np.array([lo <= p <= hi for lo, hi in (interval(k, n) for k in range(n + 1))])


def _exact_coverage(n: int, p: float, method: str) -> float:
    """P(interval(K) contains p) for K ~ Binomial(n, p), with the intervals from their
    definition: the binomial pmf summed over the covering counts."""
    lows, highs = _intervals_from_their_definition(n, method)
    covers = (lows <= p) & (p <= highs)
    return float(stats.binom.pmf(np.arange(n + 1), n, p)[covers].sum())


COVERAGE_POINTS = [(400, 0.05), (1000, 0.011)]
COVERAGE_TRIALS = 20_000


def _coverage_agrees(method: str, interval, seed: int = 0) -> bool:
    """Simulated coverage of ``interval`` agrees with the independent exact coverage of ``method``.

    At each (n, p): draw COVERAGE_TRIALS counts K ~ Binomial(n, p), count how often
    ``interval(K, n)`` contains p, and compare with the exact coverage of the interval computed
    from its definition, within the binomial tolerance of COVERAGE_TRIALS draws.
    """
    rng = np.random.default_rng(seed)
    for n, p in COVERAGE_POINTS:
        exact = _exact_coverage(n, p, method)
        simulated = _covers(n, p, interval)[rng.binomial(n, p, size=COVERAGE_TRIALS)].mean()
        if abs(simulated - exact) > binomial_tolerance(exact, COVERAGE_TRIALS):
            return False
    return True


@pytest.mark.parametrize("method", ["wilson", "clopper-pearson"])
def test_intervals_match_their_definition(method):
    for n in (1, 7, 400):
        lows, highs = _intervals_from_their_definition(n, method)
        for k in range(n + 1):
            assert binomial_interval(k, n, method=method) == pytest.approx(
                (lows[k], highs[k]), abs=1e-9
            )


@pytest.mark.parametrize("method", ["wilson", "clopper-pearson"])
def test_interval_coverage_by_simulation(method):
    """Simulated coverage of the code's intervals equals the independently computed coverage."""
    assert _coverage_agrees(method, lambda k, n: binomial_interval(k, n, method=method))
    for n, p in COVERAGE_POINTS:
        exact = _exact_coverage(n, p, method)
        # Clopper-Pearson never under-covers; Wilson is close to nominal at these (n, p).
        assert exact >= 0.95 if method == "clopper-pearson" else abs(exact - 0.95) < 0.01


@pytest.mark.parametrize(
    ("method", "wrong"),
    [
        ("wilson", lambda k, n: binomial_interval(k, n, confidence=0.90)),
        (
            "clopper-pearson",
            lambda k, n: binomial_interval(k, n, confidence=0.90, method="clopper-pearson"),
        ),
        ("clopper-pearson", lambda k, n: binomial_interval(k, n, method="wilson")),
        (
            "wilson",  # the Wald interval p_hat +- z sqrt(p_hat (1 - p_hat) / n)
            lambda k, n: (
                k / n - 1.959964 * math.sqrt(k / n * (1 - k / n) / n),
                k / n + 1.959964 * math.sqrt(k / n * (1 - k / n) / n),
            ),
        ),
    ],
)
def test_coverage_check_catches_a_wrong_interval(method, wrong):
    """The simulation test above fails for intervals that are not the method they claim."""
    assert not _coverage_agrees(method, wrong)


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
