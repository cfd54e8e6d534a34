"""Reinforcement-learning layer of abft-qkd: dynamic resource allocation in a QKD network.

* :class:`ResourceAllocationEnv` (:mod:`rl.env`), registered with gymnasium as
  ``abft_qkd/ResourceAllocation-v0`` when this package is imported: a
  :mod:`network.simulation` scenario stepped one time slice at a time.
* :class:`DQNAgent` (:mod:`rl.dqn`): a torch DQN with double-DQN targets and prioritized
  experience replay (sum tree), action masking, checkpoints.
* Baseline policies (:mod:`rl.baselines`): static intensities, greedy re-optimisation, random.
* Training and evaluation loops (:mod:`rl.train`) behind ``abft-qkd rl train|evaluate``
  (:mod:`rl.cli`).

The torch-based names (``DQNAgent``, ``DQNConfig``, ``PrioritizedReplay``, ``SumTree``) are
imported on first use, so ``import rl`` (and registering the environment) does not load torch.

Examples
--------
>>> import gymnasium as gym
>>> import rl
>>> gym.spec(rl.ENV_ID).id
'abft_qkd/ResourceAllocation-v0'
"""

from __future__ import annotations

import gymnasium as gym

from qkdcircuits._lazy import lazy_exports
from rl.baselines import BASELINES, DQNPolicy, GreedyPolicy, Policy, RandomPolicy, StaticPolicy
from rl.env import ENV_ID, FLUCTUATION_PRESETS, ResourceAllocationEnv, RewardWeights
from rl.train import (
    EpisodeStats,
    TrainResult,
    episodes_to_converge,
    evaluate_policies,
    plot_learning_curve,
    summarise,
    train,
)

# torch-based names, imported on first use
__getattr__, __dir__ = lazy_exports(
    globals(), {"rl.dqn": ("DQNAgent", "DQNConfig", "PrioritizedReplay", "SumTree")}
)

__all__ = [
    "BASELINES",
    "ENV_ID",
    "FLUCTUATION_PRESETS",
    "DQNAgent",
    "DQNConfig",
    "DQNPolicy",
    "EpisodeStats",
    "GreedyPolicy",
    "Policy",
    "PrioritizedReplay",
    "RandomPolicy",
    "ResourceAllocationEnv",
    "RewardWeights",
    "StaticPolicy",
    "SumTree",
    "TrainResult",
    "episodes_to_converge",
    "evaluate_policies",
    "plot_learning_curve",
    "summarise",
    "train",
]

if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="rl.env:ResourceAllocationEnv")
