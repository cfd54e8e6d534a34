"""Policies to compare on :class:`rl.env.ResourceAllocationEnv`: static, greedy, random, DQN.

A policy maps an observation and its ``info`` (with the action mask) to an action index. It
may also ask for environment options (:attr:`Policy.env_overrides`): the greedy controller runs
the simulation with per-slice re-optimisation of every link's intensity, which is physics the
agent's discrete action cannot express.

``StaticPolicy``
    Every link at its nominal optimum (intensity scale 1: the intensities that
    :func:`qkdcircuits.optimize_intensities` gives at the link's nominal loss, which the link
    model starts from), primary protocols, fewest-hop routes: what a network without dynamic
    allocation does.
``GreedyPolicy``
    Re-optimise every link's signal intensity each slice at its current loss, detector
    efficiency and source rate (``optimize_intensity=True``), and route every request along the
    path with the most residual key (``"residual"``); primary protocols.
``RandomPolicy``
    A uniformly random allowed action each step (its own seeded generator).
``DQNPolicy``
    A trained :class:`rl.dqn.DQNAgent`, greedy over the allowed actions.

Examples
--------
>>> from rl.env import ResourceAllocationEnv
>>> env = ResourceAllocationEnv(topology="cambridge", episode_slices=3)
>>> obs, info = env.reset(seed=0)
>>> env.decode_action(StaticPolicy().act(env, obs, info))
(1.0, 0, 'hops')
>>> env.decode_action(GreedyPolicy().act(env, obs, info))
(1.0, 0, 'residual')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qkdcircuits._validation import SeedLike, as_generator
from rl.env import ResourceAllocationEnv

__all__ = ["BASELINES", "DQNPolicy", "GreedyPolicy", "Policy", "RandomPolicy", "StaticPolicy"]


class Policy:
    """Base class: a name, environment overrides and :meth:`act`.

    Attributes
    ----------
    name : str
        Label in tables and plots.
    env_overrides : dict
        Options the policy needs in the environment it is evaluated on.
    """

    name = "policy"
    env_overrides: dict[str, Any] = {}  # noqa: RUF012 (read-only class default)

    def reset(self, seed: SeedLike = None) -> None:
        """Prepare for an evaluation run (policies with state reseed here; the base does nothing).

        Parameters
        ----------
        seed : int, numpy.random.Generator or None
            Seed of the policy's own randomness for the run, if it has any.
        """

    def act(self, env: ResourceAllocationEnv, obs: np.ndarray, info: dict[str, Any]) -> int:
        """Choose the action for observation ``obs`` of ``env``.

        Parameters
        ----------
        env : ResourceAllocationEnv
            The environment acted on (action encoding, intensity levels, routings).
        obs : numpy.ndarray
            The current observation.
        info : dict
            The environment's info; ``info["action_mask"]`` flags the allowed actions.

        Returns
        -------
        int
            An allowed action index.

        Raises
        ------
        NotImplementedError
            On the base class; every policy overrides it.
        """
        raise NotImplementedError


def _level_of_one(env: ResourceAllocationEnv) -> int:
    """Return the intensity level closest to scale 1 (the nominal optimum)."""
    return int(np.argmin(np.abs(env.intensity_levels - 1.0)))


class StaticPolicy(Policy):
    """Nominal intensities, primary protocols, fewest-hop routes (see the module docstring)."""

    name = "static"

    def act(self, env: ResourceAllocationEnv, obs: np.ndarray, info: dict[str, Any]) -> int:
        """Return the fixed action: nominal intensities, primary protocols, ``env.routings[0]``."""
        return env.encode_action(level=_level_of_one(env), protocol=0, routing=env.routings[0])


class GreedyPolicy(Policy):
    """Per-slice re-optimised intensities and widest-residual routes (module docstring)."""

    name = "greedy"
    env_overrides = {"optimize_intensity": True}  # noqa: RUF012

    def act(self, env: ResourceAllocationEnv, obs: np.ndarray, info: dict[str, Any]) -> int:
        """Residual routing (the first route choice if the environment offers no such)."""
        routing = "residual" if "residual" in env.routings else env.routings[0]
        return env.encode_action(level=_level_of_one(env), protocol=0, routing=routing)


class RandomPolicy(Policy):
    """Uniformly random allowed actions.

    Parameters
    ----------
    seed : int, numpy.random.Generator or None
        Randomness of the choices (:meth:`reset` reseeds it).
    """

    name = "random"

    def __init__(self, seed: SeedLike = None) -> None:
        self.rng = as_generator(seed)

    def reset(self, seed: SeedLike = None) -> None:
        """Reseed (``None`` keeps the current generator)."""
        if seed is not None:
            self.rng = as_generator(seed)

    def act(self, env: ResourceAllocationEnv, obs: np.ndarray, info: dict[str, Any]) -> int:
        """Draw uniformly among the allowed actions."""
        return int(self.rng.choice(np.flatnonzero(info["action_mask"])))


class DQNPolicy(Policy):
    """A trained agent acting greedily over the allowed actions.

    Parameters
    ----------
    agent : rl.dqn.DQNAgent
        The agent (its observation and action sizes must match the environment).
    name : str
        Label.
    path : path-like, optional
        The checkpoint it was loaded from (its folder may hold the training log).
    """

    def __init__(self, agent: Any, name: str = "dqn", path: Any = None) -> None:
        self.agent, self.name, self.path = agent, name, path

    def act(self, env: ResourceAllocationEnv, obs: np.ndarray, info: dict[str, Any]) -> int:
        """Return the allowed action of largest value under the agent's network."""
        return self.agent.act(obs, info["action_mask"], explore=False)


BASELINES: dict[str, type[Policy]] = {
    "static": StaticPolicy,
    "greedy": GreedyPolicy,
    "random": RandomPolicy,
}
"""The baseline policies by name."""
