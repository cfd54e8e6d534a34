"""The resource-allocation environment: gymnasium API, seeding, actions, reward, vector envs."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rl
from network.topology import random_geometric_topology
from rl.env import LINK_FEATURES, ResourceAllocationEnv

SMALL = {"topology": "cambridge", "episode_slices": 6}


def rollout(env, seed, actions):
    obs, info = env.reset(seed=seed)
    observations, rewards, infos = [obs], [], [info]
    for action in actions:
        obs, reward, _, _, info = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        infos.append(info)
    return np.array(observations), np.array(rewards), infos


def test_registered_and_passes_the_env_checker():
    env = gym.make(rl.ENV_ID, **SMALL)
    assert isinstance(env.unwrapped, ResourceAllocationEnv)
    assert env.unwrapped.episode_slices == 6
    check_env(env.unwrapped)


def test_same_seed_same_actions_give_the_same_run_and_other_seeds_differ():
    env = ResourceAllocationEnv(**SMALL)
    actions = [3, 17, 0, 9, 12, 5]
    obs_a, rew_a, _ = rollout(env, 11, actions)
    obs_b, rew_b, _ = rollout(ResourceAllocationEnv(**SMALL), 11, actions)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(rew_a, rew_b)
    obs_c, _, _ = rollout(env, 12, actions)
    assert not np.array_equal(obs_a, obs_c)


def test_observations_are_float32_in_their_bounds_and_episodes_truncate():
    env = ResourceAllocationEnv(**SMALL)
    obs, info = env.reset(seed=3)
    space = env.observation_space
    assert space.dtype == np.float32 and np.all(np.isfinite(space.low))
    assert np.all(np.isfinite(space.high))
    rng = np.random.default_rng(0)
    for step in range(1, env.episode_slices + 1):
        action = int(rng.choice(np.flatnonzero(info["action_mask"])))
        obs, _, terminated, truncated, info = env.step(action)
        assert obs.dtype == np.float32 and space.contains(obs)
        assert terminated is False
        assert truncated is (step == env.episode_slices)
    assert info["episode_metrics"]["duration_s"] > 0


def test_observation_layout():
    env = ResourceAllocationEnv(**SMALL)
    obs, info = env.reset(seed=0)
    sim = env.simulation
    per_link = obs[: env.n_links * len(LINK_FEATURES)].reshape(env.n_links, len(LINK_FEATURES))
    column = {name: per_link[:, k] for k, name in enumerate(LINK_FEATURES)}
    # at nominal intensities every link runs at scale 1 of the largest level 1.5
    np.testing.assert_allclose(column["intensity"], 1.0 / 1.5, rtol=1e-6)
    np.testing.assert_array_equal(column["has_alternative"], sim.links.has_alternative)
    assert column["intensity_target"].sum() == 1.0
    assert column["intensity_target"][info["intensity_target"]] == 1.0
    measured = np.nan_to_num(sim.measured_qber, nan=0.5) / 0.5
    np.testing.assert_allclose(column["measured_qber"], measured, rtol=1e-6)
    weights = obs[env.n_links * len(LINK_FEATURES) : -1]
    assert weights.size == len(sim.link_graph.nodes)
    np.testing.assert_allclose(weights, np.clip(sim.node_weights, 0, 1), rtol=1e-6)


def test_actions_encode_decode_and_are_applied_to_the_targets():
    env = ResourceAllocationEnv(**SMALL)
    for action in range(env.action_space.n):
        scale, protocol, routing = env.decode_action(action)
        level = int(np.flatnonzero(env.intensity_levels == scale)[0])
        assert env.encode_action(level=level, protocol=protocol, routing=routing) == action
    _, info = env.reset(seed=5)
    target, switch = info["intensity_target"], info["protocol_target"]
    assert switch >= 0 and env.has_alternative[switch]
    env.step(env.encode_action(level=0, protocol=1, routing="residual"))
    sim = env.simulation
    assert sim.intensity_scale[target] == 0.5
    assert np.sum(sim.intensity_scale != 1.0) == 1
    assert sim.protocol_choice[switch] == 1 and sim.protocol_choice.sum() == 1
    assert sim.routing == "residual"


def test_the_intensity_target_holds_the_fewest_seconds_of_demand():
    env = ResourceAllocationEnv(topology="secoqc", episode_slices=30)
    _, info = env.reset(seed=2)
    for _ in range(30):
        load = env.link_load_bps
        held = np.where(load > 0, env.simulation.pool_bits / np.where(load > 0, load, 1), np.inf)
        target = info["intensity_target"]
        assert load[target] > 0 and held[target] == held.min()
        *_, info = env.step(env.action_space.sample())


def test_mask_forbids_switching_without_alternatives_and_masked_actions_raise():
    topology = random_geometric_topology(8, radius_km=60.0, mdi_fraction=0.0, seed=1)
    env = ResourceAllocationEnv(topology=topology, episode_slices=3)
    _, info = env.reset(seed=0)
    mask = info["action_mask"]
    assert mask.dtype == np.int8 and mask.shape == (env.action_space.n,)
    protocols = np.array([env.decode_action(a)[1] for a in range(env.action_space.n)])
    np.testing.assert_array_equal(mask, (protocols == 0).astype(np.int8))
    assert info["protocol_target"] == -1
    with pytest.raises(ValueError, match="masked"):
        env.step(int(np.flatnonzero(protocols == 1)[0]))
    with pytest.raises(ValueError, match="action"):
        env.step(env.action_space.n)


def test_delivered_key_per_step_adds_up_to_the_run_metrics():
    """The per-slice counters are read inside the slice (NetworkSimulation.step() zeroes them)."""
    env = ResourceAllocationEnv(topology="secoqc", episode_slices=40)
    env.reset(seed=4)

    def delivered_so_far():
        metrics = env.simulation.metrics.summary(env.simulation.now_s)
        return round(metrics.delivered_key_bps * metrics.duration_s)

    before = delivered_so_far()  # the warm-up slice and the first slice, served at reset
    delivered = 0
    truncated = False
    while not truncated:
        *_, truncated, info = env.step(0)
        delivered += info["delivered_bits"]
    assert delivered > 0
    assert delivered_so_far() - before == delivered


def test_reward_is_delivered_key_over_demand_minus_the_threshold_penalty():
    kwargs = {"topology": "secoqc", "episode_slices": 25}
    base = ResourceAllocationEnv(**kwargs)
    # a threshold below every link's QBER flags every delivered bit: with the default weights
    # (1 per bit, 2 per flagged bit) each flagged bit is worth -1
    strict = ResourceAllocationEnv(**kwargs, qber_threshold=1e-9)
    _, rew_base, infos_base = rollout(base, 8, [0] * 25)
    _, rew_strict, infos_strict = rollout(strict, 8, [0] * 25)
    delivered = np.array([i["delivered_bits"] for i in infos_base[1:]], dtype=float)
    assert delivered.sum() > 0
    np.testing.assert_array_equal(delivered, [i["bits_above_threshold"] for i in infos_strict[1:]])
    sim = base.simulation
    demand = sim.demand_rate_hz * len(sim.pairs) * base.config.demands.key_bits * 1.0
    np.testing.assert_allclose(rew_base, delivered / demand, rtol=1e-12)
    np.testing.assert_allclose(rew_strict, -delivered / demand, rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"byzantine_fraction": 0.5}, "byzantine_fraction"),
        ({"intensity_levels": (1.0, 0.0)}, "intensity_levels"),
        ({"routings": ("hops", "fastest")}, "routings"),
        ({"routings": ()}, "routings"),
        ({"fluctuations": "hurricane"}, "fluctuations"),
        ({"reward_weights": {"speed": 1.0}}, "reward_weights"),
        ({"reward_weights": {"key": -1.0}}, "key"),
        ({"episode_slices": 0}, "episode_slices"),
        ({"qber_threshold": 0.7}, "qber_threshold"),
        ({"pool_capacity_bits": 0}, "pool_capacity_bits"),
        ({"topology": "atlantis"}, "atlantis"),
        ({"behaviour": "sneaky"}, "behaviour"),
        ({"fluctuations": {"gusts": 1.0}}, "fluctuations"),
    ],
)
def test_bad_options_raise_naming_the_option(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ResourceAllocationEnv(**{**SMALL, **kwargs})


def test_step_before_reset_raises():
    with pytest.raises(RuntimeError, match="reset"):
        ResourceAllocationEnv(**SMALL).step(0)


@pytest.mark.parametrize("vector", [gym.vector.SyncVectorEnv, gym.vector.AsyncVectorEnv])
def test_vector_environments(vector):
    envs = vector([lambda: gym.make(rl.ENV_ID, topology="cambridge", episode_slices=3)] * 2)
    try:
        obs, infos = envs.reset(seed=[1, 2])
        assert obs.shape == (2, *envs.single_observation_space.shape)
        assert infos["action_mask"].shape == (2, envs.single_action_space.n)
        for _ in range(4):  # crosses the end of the episodes (autoreset)
            obs, rewards, terminated, _, infos = envs.step(np.array([0, 5]))
            assert obs.dtype == np.float32 and rewards.shape == (2,)
            assert not terminated.any()
        # the two copies were seeded differently
        assert not np.array_equal(obs[0], obs[1])
    finally:
        envs.close()
