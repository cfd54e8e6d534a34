"""Phase-error upper bound for sampling without replacement: validity, tightness, references."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qkdcircuits.postprocessing import phase_error_upper_bound


def _lower_tail(x: int, population: int, marked: int, draws: int) -> Fraction:
    """Exact P(X <= x) for X ~ Hypergeometric(population, marked, draws), by enumeration."""
    total = math.comb(population, draws)
    return Fraction(
        sum(math.comb(marked, i) * math.comb(population - marked, draws - i) for i in range(x + 1)),
        total,
    )


@pytest.mark.parametrize(("key_bits", "test_bits"), [(12, 8), (30, 10), (20, 25), (40, 40)])
@pytest.mark.parametrize("epsilon", [0.2, 0.01, 1e-4])
def test_failure_probability_is_at_most_epsilon_for_every_error_count(key_bits, test_bits, epsilon):
    """For every number M of phase errors in the population, the exact probability (over the
    uniformly random choice of the test rounds) that the bound falls below the key's true
    phase-error rate is at most epsilon; and for some M it is close to epsilon (not vacuous)."""
    population = key_bits + test_bits
    bounds = [
        phase_error_upper_bound(
            test_errors=x, test_bits=test_bits, key_bits=key_bits, epsilon=epsilon
        )
        for x in range(test_bits + 1)
    ]
    worst = Fraction(0)
    for marked in range(population + 1):
        failure = Fraction(0)
        for x in range(max(0, marked - key_bits), min(marked, test_bits) + 1):
            probability = Fraction(
                math.comb(marked, x) * math.comb(population - marked, test_bits - x),
                math.comb(population, test_bits),
            )
            key_rate = Fraction(marked - x, key_bits)
            if Fraction(bounds[x]).limit_denominator(key_bits) < key_rate:
                failure += probability
        assert failure <= epsilon
        worst = max(worst, failure)
    # the bound is the tightest of its kind: one more error fewer would break it somewhere
    assert worst > epsilon / 20


@pytest.mark.parametrize(("x", "k", "n", "epsilon"), [(3, 50, 200, 1e-3), (0, 30, 100, 1e-6)])
def test_bound_is_the_neyman_bound(x, k, n, epsilon):
    """M_U = x + n e_U is consistent (P(X <= x) > eps) and M_U + 1 is not, by exact fractions."""
    bound = phase_error_upper_bound(test_errors=x, test_bits=k, key_bits=n, epsilon=epsilon)
    top = x + round(bound * n)
    assert _lower_tail(x, n + k, top, k) > epsilon
    assert _lower_tail(x, n + k, top + 1, k) <= epsilon


def _mp_lower_tail(x: int, population: int, marked: int, draws: int) -> mpmath.mpf:
    """P(X <= x) in 50-digit arithmetic from log-binomials (independent of scipy)."""
    mpmath.mp.dps = 50

    def log_comb(a: int, b: int) -> mpmath.mpf:
        return mpmath.loggamma(a + 1) - mpmath.loggamma(b + 1) - mpmath.loggamma(a - b + 1)

    log_total = log_comb(population, draws)
    terms = [
        mpmath.exp(log_comb(marked, i) + log_comb(population - marked, draws - i) - log_total)
        for i in range(max(0, draws - (population - marked)), min(x, marked) + 1)
    ]
    return mpmath.fsum(terms)


@pytest.mark.parametrize(
    ("x", "k", "n", "epsilon"),
    [(1487, 49_917, 45_107, 1e-20), (0, 5_000, 200_000, 1e-20), (40, 2_000, 10_000, 1e-10)],
)
def test_large_samples_against_fifty_digit_arithmetic(x, k, n, epsilon):
    bound = phase_error_upper_bound(test_errors=x, test_bits=k, key_bits=n, epsilon=epsilon)
    top = x + round(bound * n)
    assert _mp_lower_tail(x, n + k, top, k) > epsilon
    assert _mp_lower_tail(x, n + k, top + 1, k) <= epsilon


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(1, 20_000),
    n=st.integers(1, 200_000),
    rate=st.floats(0.0, 0.3),
    log_eps=st.floats(-30.0, -1.0),
)
def test_never_looser_than_serfling(k, n, rate, log_eps):
    """Serfling's bound on the same tail, in the form of Tomamichel et al. (2012, Supplementary
    Note 2): P[e_key >= e_test + d] <= exp(-2 d^2 n k^2 / ((n + k)(k + 1)))."""
    epsilon = 10.0**log_eps
    x = min(k, round(rate * k))
    bound = phase_error_upper_bound(test_errors=x, test_bits=k, key_bits=n, epsilon=epsilon)
    d = math.sqrt((n + k) * (k + 1) * math.log(1 / epsilon) / (2 * n * k**2))
    assert bound <= min(1.0, x / k + d) + 1 / n
    assert bound >= x / k - 1 / n or bound == 0.0  # at least the observed rate (to rounding)


def test_monotone_in_epsilon_and_errors():
    kwargs = {"test_bits": 10_000, "key_bits": 100_000}
    by_eps = [
        phase_error_upper_bound(test_errors=200, epsilon=e, **kwargs)
        for e in (1e-2, 1e-6, 1e-10, 1e-20, 1e-40)
    ]
    assert by_eps == sorted(by_eps) and by_eps[0] < by_eps[-1]
    by_errors = [
        phase_error_upper_bound(test_errors=x, epsilon=1e-10, **kwargs) for x in (0, 10, 100, 500)
    ]
    assert by_errors == sorted(by_errors)


def test_hand_computed_zero_error_case():
    """With no test error, P_M(X = 0) = C(N - M, k) / C(N, k); for k = 1 and N = n + 1 it is
    (N - M) / N, so M_U is the largest M with (N - M) / N > eps."""
    n, eps = 99, 0.05  # N = 100: (100 - M) / 100 > 0.05  <=>  M < 95  ->  M_U = 94
    bound = phase_error_upper_bound(test_errors=0, test_bits=1, key_bits=n, epsilon=eps)
    assert bound == pytest.approx(94 / 99)


def test_no_test_sample_bounds_nothing():
    assert phase_error_upper_bound(test_errors=0, test_bits=0, key_bits=10, epsilon=0.1) == 1.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"test_errors": 5, "test_bits": 4}, ValueError, "test_errors=5"),
        ({"test_errors": -1}, ValueError, "test_errors=-1"),
        ({"test_errors": 1.0}, TypeError, "test_errors"),
        ({"key_bits": 0}, ValueError, "key_bits=0"),
        ({"epsilon": 1.0}, ValueError, r"epsilon=1\.0 must be in \(0, 1\)"),
        ({"epsilon": 0.0}, ValueError, r"epsilon=0\.0"),
        ({"epsilon": np.nan}, ValueError, "epsilon"),
    ],
)
def test_validation(kwargs, error, match):
    arguments = {"test_errors": 1, "test_bits": 10, "key_bits": 10, "epsilon": 0.01, **kwargs}
    with pytest.raises(error, match=match):
        phase_error_upper_bound(**arguments)
