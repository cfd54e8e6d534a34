"""Deep Q-learning in torch: the Q-network, prioritized replay and the agent.

* :mod:`rl.dqn.network`: :class:`QNetwork` (MLP) and :func:`masked_argmax`.
* :mod:`rl.dqn.replay`: :class:`SumTree`, :class:`PrioritizedReplay` (Schaul et al., ICLR 2016).
* :mod:`rl.dqn.agent`: :class:`DQNAgent`, :class:`DQNConfig`, checkpoints.
"""

from rl.dqn.agent import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    DQNAgent,
    DQNConfig,
    resolve_device,
)
from rl.dqn.network import QNetwork, masked_argmax
from rl.dqn.replay import PrioritizedReplay, ReplayBatch, SumTree

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "DQNAgent",
    "DQNConfig",
    "PrioritizedReplay",
    "QNetwork",
    "ReplayBatch",
    "SumTree",
    "masked_argmax",
    "resolve_device",
]
