"""Baseline policies: what each one does, on the environment they share."""

from __future__ import annotations

import numpy as np

from network.topology import random_geometric_topology
from rl.baselines import BASELINES, GreedyPolicy, RandomPolicy, StaticPolicy
from rl.env import ResourceAllocationEnv


def test_static_and_greedy_actions():
    env = ResourceAllocationEnv(topology="cambridge", episode_slices=2)
    obs, info = env.reset(seed=0)
    assert env.decode_action(StaticPolicy().act(env, obs, info)) == (1.0, 0, "hops")
    assert env.decode_action(GreedyPolicy().act(env, obs, info)) == (1.0, 0, "residual")
    assert GreedyPolicy.env_overrides == {"optimize_intensity": True}
    assert StaticPolicy.env_overrides == {}
    # without a residual route choice the greedy policy keeps the first one
    hops_only = ResourceAllocationEnv(topology="cambridge", routings=("length",))
    assert hops_only.decode_action(GreedyPolicy().act(hops_only, obs, info))[2] == "length"
    assert set(BASELINES) == {"static", "greedy", "random"}


def test_random_policy_is_seeded_uniform_and_masked():
    topology = random_geometric_topology(8, radius_km=60.0, mdi_fraction=0.0, seed=1)
    env = ResourceAllocationEnv(topology=topology, episode_slices=2)
    obs, info = env.reset(seed=0)
    allowed = np.flatnonzero(info["action_mask"])
    draws = 4_000
    policy = RandomPolicy(seed=5)
    actions = np.array([policy.act(env, obs, info) for _ in range(draws)])
    assert set(actions) <= set(allowed)
    counts = np.bincount(actions, minlength=env.action_space.n)[allowed]
    # chi-square with len(allowed) - 1 degrees of freedom at a 1e-6 false-alarm rate
    from scipy import stats

    expected = draws / allowed.size
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    assert chi2 < stats.chi2.isf(1e-6, allowed.size - 1)
    policy.reset(5)
    again = np.array([policy.act(env, obs, info) for _ in range(draws)])
    np.testing.assert_array_equal(actions, again)
