"""Fluctuating link resources: exact OU statistics, bursts, determinism, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from network.simulation.resources import FluctuationConfig, ResourceProcesses
from tests.helpers import Z_SCORE

N = 20_000  # independent links: samples across links are i.i.d.


def _mean_tolerance(sigma: float, n: int = N) -> float:
    return Z_SCORE * sigma / math.sqrt(n)


def test_conditional_law_of_the_ou_loss_is_exact_for_any_step():
    """From x0 the loss after T is N(mu + (x0-mu) e^{-T/tau}, sigma^2 (1 - e^{-2T/tau}))."""
    config = FluctuationConfig(
        loss_sigma_db=0.8, loss_mean_db=0.5, loss_correlation_s=50.0, burst_rate_hz=0.0
    )
    total, x0 = 40.0, 3.0
    decay = math.exp(-total / 50.0)
    mean = 0.5 + (x0 - 0.5) * decay
    std = 0.8 * math.sqrt(1 - decay**2)
    for steps in (1, 8, 40):
        process = ResourceProcesses(N, config, seed=steps)
        process.slow_loss_db[:] = x0
        for _ in range(steps):
            process.advance(total / steps)
        sample = process.slow_loss_db
        assert abs(sample.mean() - mean) < _mean_tolerance(std)
        # Sample variance: relative standard error sqrt(2/(n-1)) for a normal law.
        assert abs(sample.var(ddof=1) / std**2 - 1) < Z_SCORE * math.sqrt(2 / (N - 1))


def test_stationary_law_and_lag_one_correlation():
    config = FluctuationConfig(
        loss_sigma_db=0.5,
        loss_correlation_s=20.0,
        burst_rate_hz=0.0,
        rate_sigma=0.05,
        efficiency_sigma=0.03,
    )
    process = ResourceProcesses(N, config, seed=3)
    before = process.slow_loss_db.copy()
    process.advance(5.0)
    after = process.slow_loss_db
    assert abs(after.mean()) < _mean_tolerance(0.5)
    rho = np.corrcoef(before, after)[0, 1]
    # Fisher z: atanh(r) has standard error 1/sqrt(n - 3).
    assert abs(math.atanh(rho) - math.atanh(math.exp(-5.0 / 20.0))) < Z_SCORE / math.sqrt(N - 3)
    # The sample standard deviation has relative standard error 1/sqrt(2 (n - 1)).
    assert abs(np.log(process.rate_factor).std(ddof=1) / 0.05 - 1) < Z_SCORE / math.sqrt(
        2 * (N - 1)
    )
    assert (process.extra_loss_db >= 0).all() and (process.efficiency_factor > 0).all()


def test_burst_mean_depth_matches_shot_noise():
    """Stationary shot noise has mean rate * mean_depth * decay_time (Campbell's theorem)."""
    rate, depth, decay = 0.02, 3.0, 10.0
    config = FluctuationConfig(
        loss_sigma_db=0.0,
        burst_rate_hz=rate,
        burst_mean_db=depth,
        burst_decay_s=decay,
        burst_fraction=1.0,
    )
    process = ResourceProcesses(N, config, seed=5)
    dt = 0.5
    for _ in range(400):  # 200 s = 20 decay times: the initial zero state is forgotten
        process.advance(dt)
    # With arrivals aligned to the step starts the discrete sum has mean
    # rate*dt*depth / (1 - e^{-dt/decay}) = rate*depth*decay (1 + O(dt/decay)).
    expected = rate * dt * depth / (1 - math.exp(-dt / decay))
    sample = process.burst_db
    assert abs(sample.mean() - expected) < Z_SCORE * sample.std() / math.sqrt(N)
    assert process.in_fluctuation.any() and not process.in_fluctuation.all()


def test_only_exposed_links_burst_and_static_config_never_moves():
    exposed = np.zeros(100, dtype=bool)
    exposed[:10] = True
    config = FluctuationConfig(loss_sigma_db=0.0, burst_rate_hz=1.0, burst_fraction=1.0)
    process = ResourceProcesses(100, config, seed=1, burst_links=exposed)
    process.advance(10.0)
    assert (process.burst_db[10:] == 0).all() and (process.burst_db[:10] > 0).all()
    still = ResourceProcesses(50, FluctuationConfig.static(), seed=2)
    still.advance(100.0)
    assert (still.extra_loss_db == 0).all()
    assert (still.rate_factor == 1).all() and (still.efficiency_factor == 1).all()


def test_same_seed_same_trajectory():
    def run(seed):
        process = ResourceProcesses(30, FluctuationConfig(), seed=seed)
        for _ in range(20):
            process.advance(1.0)
        return np.concatenate([process.extra_loss_db, process.rate_factor])

    np.testing.assert_array_equal(run(11), run(11))
    assert not np.array_equal(run(11), run(12))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss_sigma_db": -1.0}, "loss_sigma_db"),
        ({"loss_correlation_s": 0.0}, "loss_correlation_s"),
        ({"burst_fraction": 1.5}, "burst_fraction"),
        ({"loss_mean_db": math.nan}, "loss_mean_db"),
    ],
)
def test_bad_configuration(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FluctuationConfig(**kwargs)


def test_bad_process_arguments():
    with pytest.raises(ValueError, match="n_links"):
        ResourceProcesses(-1, FluctuationConfig())
    with pytest.raises(TypeError, match="config"):
        ResourceProcesses(3, {"loss_sigma_db": 1})
    with pytest.raises(ValueError, match="burst_links"):
        ResourceProcesses(3, FluctuationConfig(), burst_links=np.ones(2, dtype=bool))
    with pytest.raises(ValueError, match="dt_s"):
        ResourceProcesses(3, FluctuationConfig()).advance(-1.0)
