"""Throughput of the RL layer: environment steps per second and DQN training steps per second.

Run: ``python benchmarks/bench_rl.py [--quick]``

(a) Environment: :class:`rl.env.ResourceAllocationEnv` on its default scenario (SECOQC, 20 %
    mixed Byzantine nodes, 8,192-bit requests at 90 % utilisation, 1 s slices), static action,
    timed against the bare simulation stepping the same slices in the same run (the floor the
    environment cannot beat: the share of a step spent in ``rl`` is the difference), and
    vectorised: ``gymnasium.vector.AsyncVectorEnv`` with one environment per core (two), counting
    environment steps.
(b) DQN training steps (one prioritized batch of 64, double-DQN targets, backward pass, Adam,
    priority update) on the default environment's observation size, against the same update
    fed by a plain list-based uniform replay (``random.sample`` of tuples stacked per batch,
    the textbook baseline), timed in the same run.

The last line is machine-readable:
``env_steps_per_s=<a> vec_env_steps_per_s=<b> train_steps_per_s=<c>``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import gymnasium as gym
import numpy as np
import torch

import rl
from rl.dqn import DQNAgent, DQNConfig
from rl.env import ResourceAllocationEnv


def time_env(steps: int, seed: int) -> tuple[float, float]:
    """Environment steps per second, and bare-simulation slices per second over the same run."""
    env = ResourceAllocationEnv(episode_slices=steps)
    env.reset(seed=seed)
    action = env.encode_action(level=2, protocol=0, routing="hops")
    for _ in range(20):  # warm the link-state memo
        env.step(action)
    env.episode_slices = 10**9
    start = time.perf_counter()
    for _ in range(steps):
        env.step(action)
    env_rate = steps / (time.perf_counter() - start)

    bare = ResourceAllocationEnv(episode_slices=10**9)
    bare.reset(seed=seed)
    sim = bare.simulation
    slice_ns = round(bare.config.slice_s * 1e9)
    for _ in range(20):
        sim.events.run(until=sim.events.now + slice_ns)
    start = time.perf_counter()
    for _ in range(steps):
        sim.events.run(until=sim.events.now + slice_ns)
    sim_rate = steps / (time.perf_counter() - start)
    return env_rate, sim_rate


def time_vector_env(steps: int, seed: int, n_envs: int) -> float:
    """Environment steps per second of an AsyncVectorEnv with ``n_envs`` copies."""
    envs = gym.vector.AsyncVectorEnv(
        [lambda: gym.make(rl.ENV_ID, episode_slices=10**6, disable_env_checker=True)] * n_envs
    )
    try:
        envs.reset(seed=[seed + k for k in range(n_envs)])
        actions = np.full(n_envs, 4)
        for _ in range(20):
            envs.step(actions)
        start = time.perf_counter()
        for _ in range(steps):
            envs.step(actions)
        return steps * n_envs / (time.perf_counter() - start)
    finally:
        envs.close()


class ListReplay:
    """The baseline: a list of transition tuples, uniform ``random.sample``, stacked per batch."""

    def __init__(self, capacity: int, seed: int) -> None:
        self.items: list[tuple] = []
        self.capacity, self.position = capacity, 0
        self.random = random.Random(seed)

    def add(self, *transition) -> None:
        if len(self.items) < self.capacity:
            self.items.append(transition)
        else:
            self.items[self.position] = transition
        self.position = (self.position + 1) % self.capacity

    def sample(self, n: int):
        batch = self.random.sample(self.items, n)
        obs, actions, rewards, next_obs, done, mask = zip(*batch, strict=True)
        return (
            np.stack(obs),
            np.array(actions),
            np.array(rewards, dtype=np.float32),
            np.stack(next_obs),
            np.array(done, dtype=np.float32),
            np.stack(mask),
        )


def baseline_update(agent: DQNAgent, replay: ListReplay) -> None:
    """The agent's update rule (uniform weights) on a batch from the list replay."""
    obs, actions, rewards, next_obs, done, mask = replay.sample(64)
    obs_t, next_t = torch.as_tensor(obs), torch.as_tensor(next_obs)
    with torch.no_grad():
        best = agent.online(next_t).masked_fill(~torch.as_tensor(mask), float("-inf")).argmax(1)
        next_value = agent.target(next_t).gather(1, best[:, None]).squeeze(1)
        target = torch.as_tensor(rewards) + 0.99 * (1 - torch.as_tensor(done)) * next_value
    values = agent.online(obs_t).gather(1, torch.as_tensor(actions)[:, None]).squeeze(1)
    loss = torch.nn.functional.huber_loss(values, target)
    agent.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(agent.online.parameters(), 10.0)
    agent.optimizer.step()


def time_training(updates: int, seed: int, obs_dim: int, n_actions: int) -> tuple[float, float]:
    """Training steps per second: prioritized replay (the agent) and the list baseline."""
    config = DQNConfig(batch_size=64, learning_starts=64, buffer_size=100_000)
    agent = DQNAgent(obs_dim, n_actions, config=config, seed=seed, device="cpu")
    replay = ListReplay(100_000, seed)
    rng = np.random.default_rng(seed)
    mask = np.ones(n_actions, dtype=bool)
    for _ in range(20_000):
        transition = (
            rng.random(obs_dim, dtype=np.float32),
            int(rng.integers(n_actions)),
            float(rng.random()),
            rng.random(obs_dim, dtype=np.float32),
            False,
            mask,
        )
        agent.observe(*transition)
        replay.add(*transition)
    for _ in range(20):
        agent.update()
        baseline_update(agent, replay)
    start = time.perf_counter()
    for _ in range(updates):
        agent.update()
    ours = updates / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(updates):
        baseline_update(agent, replay)
    baseline = updates / (time.perf_counter() - start)
    return ours, baseline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a test runs this)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    steps = 150 if args.quick else 2_000
    updates = 100 if args.quick else 2_000
    env_rate, sim_rate = time_env(steps, args.seed)
    vec_rate = time_vector_env(steps // 2, args.seed, n_envs=2)
    probe = ResourceAllocationEnv()
    train_rate, list_rate = time_training(
        updates, args.seed, probe.observation_space.shape[0], int(probe.action_space.n)
    )
    rows = [
        ("environment steps/s (single)", f"{env_rate:,.0f}"),
        ("bare simulation slices/s (same scenario)", f"{sim_rate:,.0f}"),
        ("share of a step spent in rl/", f"{max(0.0, 1 - env_rate / sim_rate):.1%}"),
        ("environment steps/s (AsyncVectorEnv x2)", f"{vec_rate:,.0f}"),
        ("vectorised / single", f"{vec_rate / env_rate:.2f}x"),
        ("DQN training steps/s (prioritized, batch 64)", f"{train_rate:,.0f}"),
        ("same update, list-based uniform replay", f"{list_rate:,.0f}"),
        ("prioritized / list-based", f"{train_rate / list_rate:.2f}x"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}", file=sys.stderr)
    print(
        f"env_steps_per_s={env_rate:.1f} vec_env_steps_per_s={vec_rate:.1f} "
        f"train_steps_per_s={train_rate:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
