"""Shared finite-key statistics: Hoeffding, Chernoff, the sampling deviation, eps_sec = kappa l.

Every bound is checked against exact tail probabilities (scipy.stats binomial, Poisson and
hypergeometric distributions) or a hand calculation, never against the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from qkdcircuits.links.finite_key import (
    chernoff_mean_bounds,
    decode_settings,
    halton_points,
    hoeffding_deviation,
    maximise_box,
    sampling_deviation,
    serfling_deviation,
    solve_per_bit_secrecy,
)

# ----------------------------------------------------------------------------------------------
# Hoeffding
# ----------------------------------------------------------------------------------------------


def test_hoeffding_deviation_hand_value():
    # sqrt(n/2 ln(21/eps)) with n = 1e4, eps = 1e-10: sqrt(5000 * 26.070...) = 361.04...
    expected = math.sqrt(1e4 / 2.0 * math.log(21.0 / 1e-10))
    assert hoeffding_deviation(total=1e4, failure_prob=1e-10 / 21.0) == pytest.approx(
        expected, rel=1e-14
    )
    assert expected == pytest.approx(361.0427, abs=1e-4)


@pytest.mark.parametrize(("n", "p", "eps"), [(200, 0.5, 1e-3), (1000, 0.1, 1e-6), (50, 0.9, 0.01)])
def test_hoeffding_deviation_bounds_exact_binomial_tails(n, p, eps):
    delta = hoeffding_deviation(total=n, failure_prob=eps)
    upper_tail = stats.binom.sf(math.ceil(n * p + delta) - 1, n, p)  # P(S >= np + delta)
    lower_tail = stats.binom.cdf(math.floor(n * p - delta), n, p)  # P(S <= np - delta)
    assert upper_tail <= eps
    assert lower_tail <= eps


# ----------------------------------------------------------------------------------------------
# Chernoff
# ----------------------------------------------------------------------------------------------


def test_chernoff_hand_values():
    # beta = ln(1e10) = 23.02585:
    # upper = x + b + sqrt(2bx + b^2), lower = x + b/2 - sqrt(2bx + b^2/4)
    beta = math.log(1e10)
    low, high = chernoff_mean_bounds(observed=100.0, failure_prob=1e-10)
    assert high == pytest.approx(100 + beta + math.sqrt(200 * beta + beta**2), rel=1e-14)
    assert low == pytest.approx(100 + beta / 2 - math.sqrt(200 * beta + beta**2 / 4), rel=1e-14)
    assert (round(low, 2), round(high, 2)) == (42.68, 194.69)
    # nothing observed: the lower bound is 0, the upper bound 2 beta
    low0, high0 = chernoff_mean_bounds(observed=0.0, failure_prob=1e-10)
    assert low0 == 0.0 and high0 == pytest.approx(2 * beta)


def _coverage_failures(pmf: np.ndarray, support: np.ndarray, mean: float, eps: float):
    low, high = chernoff_mean_bounds(observed=support, failure_prob=eps)
    return pmf[high < mean].sum(), pmf[low > mean].sum()


@pytest.mark.parametrize("eps", [1e-2, 1e-6, 1e-12])
@pytest.mark.parametrize(("n", "p"), [(40, 0.5), (10_000, 0.002), (2_000, 0.3), (100, 0.97)])
def test_chernoff_bounds_cover_the_mean_of_binomials(n, p, eps):
    x = np.arange(n + 1)
    below, above = _coverage_failures(stats.binom.pmf(x, n, p), x, n * p, eps)
    assert below <= eps
    assert above <= eps


@pytest.mark.parametrize("mean", [0.5, 3.0, 40.0, 2500.0])
def test_chernoff_bounds_cover_the_mean_of_poisson_counts(mean):
    # Poisson = limit of sums of many rare Bernoulli variables, the decoy counts' regime
    eps = 1e-8
    x = np.arange(int(mean + 60 * math.sqrt(mean) + 200))
    below, above = _coverage_failures(stats.poisson.pmf(x, mean), x, mean, eps)
    assert below <= eps
    assert above <= eps


def test_chernoff_is_tighter_than_hoeffding_for_small_counts():
    # 50 events of one intensity among a block of 1e6: Hoeffding's width depends on the block
    eps = 1e-10
    _, high = chernoff_mean_bounds(observed=50.0, failure_prob=eps)
    delta = hoeffding_deviation(total=1e6, failure_prob=eps)
    assert high - 50.0 < delta / 10


# ----------------------------------------------------------------------------------------------
# sampling deviation gamma (Lim et al. 2014, Eq. (5))
# ----------------------------------------------------------------------------------------------


def _gamma_by_hand(a, b, c, d):
    """Lim et al. (2014), Eq. (B2) as printed: ln 2 in the denominator, log2 outside."""
    inside = (c + d) / (c * d * (1 - b) * b) / a**2
    return math.sqrt((c + d) * (1 - b) * b / (c * d * math.log(2.0)) * math.log2(inside))


@pytest.mark.parametrize(
    ("a", "b", "c", "d"),
    [(1e-10, 0.02, 1e5, 1e6), (1e-12 / 21, 0.3, 3e3, 2e4), (0.01, 0.49, 50, 9)],
)
def test_sampling_deviation_literal_formula(a, b, c, d):
    got = sampling_deviation(failure_prob=a, error_rate=b, sample_size=c, population_size=d)
    assert got == pytest.approx(_gamma_by_hand(a, b, c, d), rel=1e-12)


def test_sampling_deviation_doc_value_and_limits():
    assert round(
        sampling_deviation(
            failure_prob=1e-10, error_rate=0.02, sample_size=1e5, population_size=1e6
        ),
        5,
    ) == pytest.approx(0.00416)
    assert (
        sampling_deviation(failure_prob=1e-10, error_rate=0.0, sample_size=10, population_size=10)
        == 0.0
    )
    # it shrinks with more samples and grows with more confidence
    kw = dict(error_rate=0.05, population_size=1e5)
    assert sampling_deviation(failure_prob=1e-9, sample_size=1e4, **kw) > sampling_deviation(
        failure_prob=1e-9, sample_size=1e5, **kw
    )
    assert sampling_deviation(failure_prob=1e-12, sample_size=1e4, **kw) > sampling_deviation(
        failure_prob=1e-6, sample_size=1e4, **kw
    )


def _hypergeometric_failure(c, d, errors, a, scale):
    """P(error rate of the unsampled part > sample rate + scale * gamma), exactly."""
    n = c + d
    x = np.arange(0, min(c, errors) + 1)
    pmf = stats.hypergeom.pmf(x, n, errors, c)
    sample_rate, rest_rate = x / c, (errors - x) / d
    gamma = np.array(
        [
            scale
            * sampling_deviation(failure_prob=a, error_rate=r, sample_size=c, population_size=d)
            for r in sample_rate
        ]
    )
    return pmf[rest_rate > sample_rate + gamma].sum()


@pytest.mark.parametrize(("c", "d"), [(2000, 2000), (20000, 5000)])
def test_sampling_deviation_literal_reading_holds_where_others_fail(c, d):
    """The reading of the logarithms decides whether gamma is a valid bound at all.

    With ``a = 1e-12`` and a few hundred errors in the population, the printed formula (``ln 2``
    in the denominator) fails far less often than ``a``, while the quadratic-expansion reading
    (``ln`` of the argument, no ``ln 2``: a factor ``ln 2`` on gamma) fails far more often.
    """
    a = 1e-12
    for errors in (400, 1000):
        assert _hypergeometric_failure(c, d, errors, a, 1.0) <= a
        assert _hypergeometric_failure(c, d, errors, a, math.log(2.0)) > 10 * a


def test_sampling_deviation_is_not_a_bound_with_few_errors():
    """Documented limitation of Eq. (5): b(1-b) -> 0 makes gamma vanish with few errors."""
    a = 1e-6
    assert _hypergeometric_failure(2000, 2000, 10, a, 1.0) > 100 * a


def test_serfling_deviation_hand_value():
    # theta = sqrt((c+d)(d+1)/(2 c d^2) ln(1/a))
    c, d, a = 1e5, 1e6, 1e-10
    expected = math.sqrt((c + d) * (d + 1) / (2 * c * d * d) * math.log(1 / a))
    got = serfling_deviation(failure_prob=a, sample_size=c, population_size=d)
    assert got == pytest.approx(expected, rel=1e-14)
    assert round(got, 6) == 0.011254


def _hypergeometric_failure_serfling(c, d, errors, a):
    x = np.arange(0, min(c, errors) + 1)
    pmf = stats.hypergeom.pmf(x, c + d, errors, c)
    theta = serfling_deviation(failure_prob=a, sample_size=c, population_size=d)
    return pmf[(errors - x) / d > x / c + theta].sum()


@pytest.mark.parametrize(("c", "d", "a"), [(300, 300, 1e-3), (100, 900, 1e-2), (900, 100, 1e-6)])
def test_serfling_deviation_holds_for_every_number_of_errors(c, d, a):
    worst = max(_hypergeometric_failure_serfling(c, d, k, a) for k in range(c + d + 1))
    assert worst <= a


# ----------------------------------------------------------------------------------------------
# eps_sec = kappa * l
# ----------------------------------------------------------------------------------------------


def test_per_bit_secrecy_fixed_point_by_bisection():
    # F(eps) = A - 6 log2(21/eps) - B sqrt(ln(21/eps)); the largest fixed point of l = F(kappa l)
    # found independently by bisection on l.
    kappa, a_bits, b_bits = 1e-15, 5e4, 200.0

    def f(eps):
        eps = np.asarray(eps, dtype=float)
        return a_bits - 6 * np.log2(21 / eps) - b_bits * np.sqrt(np.log(21 / eps))

    lo, hi = 1.0, a_bits
    assert f(kappa * hi) < hi and f(kappa * 1e4) > 1e4
    lo = 1e4
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(kappa * mid) > mid else (lo, mid)
    length, eps = solve_per_bit_secrecy(f, secrecy_per_bit=kappa, start=a_bits)
    assert length == pytest.approx(lo, rel=1e-9)
    assert eps == pytest.approx(kappa * lo, rel=1e-9)


def test_per_bit_secrecy_without_key_gives_zero():
    length, eps = solve_per_bit_secrecy(
        lambda e: 10.0 - 6 * np.log2(21 / np.asarray(e)), secrecy_per_bit=1e-15, start=100.0
    )
    assert length == 0.0 and eps == 1e-15


def test_per_bit_secrecy_rejects_bad_kappa():
    with pytest.raises(ValueError, match="secrecy_per_bit"):
        solve_per_bit_secrecy(lambda e: e, secrecy_per_bit=0.0, start=1.0)


# ----------------------------------------------------------------------------------------------
# optimiser machinery
# ----------------------------------------------------------------------------------------------


def test_halton_points_are_the_van_der_corput_sequence():
    pts = halton_points(4, 2)
    assert pts[0].tolist() == [0.5, 0.25, 0.75, 0.125]
    assert pts[1].tolist() == pytest.approx([1 / 3, 2 / 3, 1 / 9, 4 / 9])


def test_maximise_box_finds_known_maxima_for_every_problem():
    # a curved ridge (Rosenbrock-like) with its maximum at a problem-dependent point
    centres = np.linspace(-1.0, 1.5, 7)

    def objective(x):
        u, v = x[0], x[1]
        return -((u - centres) ** 2) - 10.0 * (v - u**2) ** 2

    x, fx = maximise_box(objective, np.array([-3.0, -3.0]), np.array([3.0, 3.0]), centres.shape)
    assert np.allclose(x[0], centres, atol=2e-3)
    assert np.allclose(x[1], centres**2, atol=4e-3)
    assert np.all(fx <= 0) and np.all(fx > -1e-5)


def test_decode_settings_respects_the_intensity_constraints():
    rng = np.random.default_rng(5)
    x = rng.uniform(-8, 8, size=(5, 1000))
    x[1] = rng.uniform(math.log(0.02), math.log(1.2), size=1000)
    q, mu, p = decode_settings(x, 2e-4)
    assert np.all((q > 0) & (q < 1))
    assert np.all(mu[0] > mu[1] + mu[2]) and np.all(mu[1] > mu[2]) and np.all(mu[2] == 2e-4)
    assert np.allclose(p.sum(axis=0), 1.0) and np.all(p > 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(total=-1.0, failure_prob=0.1), "total"),
        (dict(total=1.0, failure_prob=1.0), "failure_prob"),
    ],
)
def test_hoeffding_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        hoeffding_deviation(**kwargs)


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="observed"):
        chernoff_mean_bounds(observed=-1.0, failure_prob=0.1)
    with pytest.raises(ValueError, match="error_rate"):
        sampling_deviation(failure_prob=0.1, error_rate=1.5, sample_size=1, population_size=1)
    with pytest.raises(ValueError, match="sample_size"):
        sampling_deviation(failure_prob=0.1, error_rate=0.1, sample_size=0, population_size=1)
    with pytest.raises(TypeError, match="failure_prob"):
        chernoff_mean_bounds(observed=1.0, failure_prob="x")
