"""Key demands: pair selection and Poisson arrivals."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from network.simulation.demands import DemandConfig, DemandProcess, choose_demand_pairs
from network.simulation.events import NS_PER_S
from tests.helpers import FALSE_ALARM, Z_SCORE


def test_all_pairs_or_a_seeded_sample_without_repetition():
    nodes = [f"u{k}" for k in range(12)]
    everything = list(itertools.combinations(nodes, 2))
    assert choose_demand_pairs(nodes, None) == everything
    assert choose_demand_pairs(nodes, 10_000) == everything
    sample = choose_demand_pairs(nodes, 30, seed=4)
    assert len(sample) == len(set(sample)) == 30 and set(sample) <= set(everything)
    assert sample == choose_demand_pairs(nodes, 30, seed=4)
    # Every pair is equally likely: over many seeds each of the 66 pairs is drawn
    # 30/66 of the time (binomial tolerance at the suite's false-alarm rate).
    hits = {pair: 0 for pair in everything}
    trials = 2000
    for seed in range(trials):
        for pair in choose_demand_pairs(nodes, 30, seed=seed):
            hits[pair] += 1
    p = 30 / 66
    sigma = math.sqrt(trials * p * (1 - p))
    bonferroni_z = float(stats.norm.isf(FALSE_ALARM / 2 / len(hits)))
    assert max(abs(h - trials * p) for h in hits.values()) < bonferroni_z * sigma


def test_poisson_arrivals_have_the_right_rate_and_uniform_times():
    pairs = [("a", "b"), ("c", "d"), ("e", "f")]
    process = DemandProcess(pairs, DemandConfig(rate_hz=40.0), seed=9)
    times, which = process.arrivals(5 * NS_PER_S, 105 * NS_PER_S)
    expected = 40.0 * 100 * len(pairs)
    assert abs(times.size - expected) < Z_SCORE * math.sqrt(expected)
    assert (np.diff(times) >= 0).all()
    assert times.min() >= 5 * NS_PER_S and times.max() < 105 * NS_PER_S
    # Arrival times are uniform on the window: Kolmogorov-Smirnov at the false-alarm rate.
    assert stats.kstest((times - 5 * NS_PER_S) / (100 * NS_PER_S), "uniform").pvalue > FALSE_ALARM
    counts = np.bincount(which, minlength=3)
    assert stats.chisquare(counts).pvalue > FALSE_ALARM


def test_zero_rate_and_empty_window():
    process = DemandProcess([("a", "b")], DemandConfig(rate_hz=0.0), seed=1)
    assert process.arrivals(0, NS_PER_S)[0].size == 0
    busy = DemandProcess([("a", "b")], DemandConfig(rate_hz=1e6), seed=1)
    assert busy.arrivals(7, 7)[0].size == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rate_hz": -1.0}, ValueError, "rate_hz"),
        ({"key_bits": 0}, ValueError, "key_bits"),
        ({"relay": "smoke-signals"}, ValueError, "relay"),
        ({"paths": 2, "threshold": 3}, ValueError, "threshold"),
        ({"pairs": 1.5}, TypeError, "pairs"),
        ({"utilisation": 0.0}, ValueError, "utilisation"),
        ({"utilisation": 1.5}, ValueError, "utilisation"),
    ],
)
def test_bad_demand_configuration(kwargs, error, match):
    with pytest.raises(error, match=match):
        DemandConfig(**kwargs)


def test_bad_pairs_and_windows():
    with pytest.raises(ValueError, match="two endpoints"):
        choose_demand_pairs(["solo"], None)
    with pytest.raises(ValueError, match="distinct"):
        choose_demand_pairs(["a", "a"], None)
    with pytest.raises(ValueError, match="two different nodes"):
        DemandProcess([("a", "a")], DemandConfig(rate_hz=1.0))
    with pytest.raises(ValueError, match="stop_ns"):
        DemandProcess([("a", "b")], DemandConfig(rate_hz=1.0)).arrivals(10, 5)
    with pytest.raises(ValueError, match="rate_hz"):
        DemandProcess([("a", "b")], DemandConfig())  # a utilisation needs a network to resolve
