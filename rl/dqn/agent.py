r"""A DQN agent: double-DQN targets, Huber loss, prioritized replay, action masking, checkpoints.

One gradient step (:meth:`DQNAgent.update`) on a prioritized batch of transitions
:math:`(s, a, r, s', d)`:

* double-DQN target (H. van Hasselt, A. Guez, D. Silver, AAAI 2016, Eq. 4): the online network
  picks the next action among those **allowed** in :math:`s'`, the target network values it,
  :math:`y = r + \gamma (1 - d)\, Q_{\bar\theta}(s', \arg\max_{a' \in A(s')} Q_\theta(s', a'))`;
  ``d`` is 1 only for a terminal state (a truncated episode bootstraps);
* loss: the Huber loss of :math:`y - Q_\theta(s, a)` (Mnih et al., Nature 518, 529 (2015),
  "error clipping"), weighted by the importance-sampling weights of the prioritized replay
  (Schaul et al., ICLR 2016, Algorithm 1), minimised with Adam (D. P. Kingma, J. Ba, ICLR 2015)
  with the gradient norm clipped;
* the sampled transitions' priorities become their new :math:`|y - Q_\theta(s, a)|`;
* the target network copies the online one every ``target_update_interval`` updates.

Exploration is epsilon-greedy over the allowed actions: epsilon falls linearly from
``epsilon_start`` to ``epsilon_end`` over ``epsilon_decay_steps`` environment steps; the
importance-sampling exponent beta rises linearly from ``beta_start`` (0.4) to 1 over
``beta_steps`` updates.

Reproducibility: the network weights are initialised from ``seed`` (without touching torch's
global generator) and exploration and replay sampling use numpy generators spawned from it, so
the same seed and the same environment give the same run on CPU (the command line also sets
``torch.use_deterministic_algorithms(True)``, which costs nothing for these layers).

Speed: the networks are small, so on a CPU one torch thread is fastest
(``torch.set_num_threads(1)``; :func:`rl.train.train` does it while training): with more
threads, each of the many tiny matrix products pays for synchronisation, and on a busy machine
the threads wait for one another. Adam uses torch's fused kernel where there is one.

Examples
--------
>>> import numpy as np
>>> agent = DQNAgent(obs_dim=3, n_actions=2, config=DQNConfig(hidden=(8,), learning_starts=4,
...                  batch_size=4), seed=0)
>>> for _ in range(6):
...     agent.observe(np.zeros(3), 1, 1.0, np.zeros(3), False, np.array([True, True]))
>>> loss = agent.update()
>>> isinstance(loss, float), agent.updates
(True, 1)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from qkdcircuits._validation import SeedLike
from rl._io import write_atomic
from rl.dqn.network import QNetwork, masked_argmax
from rl.dqn.replay import PrioritizedReplay

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "DQNAgent", "DQNConfig", "resolve_device"]

CHECKPOINT_FORMAT = "abft-qkd-dqn"
"""The ``format`` field of a checkpoint."""
CHECKPOINT_VERSION = 1
"""The ``version`` field of checkpoints this code writes and reads."""


@dataclass(frozen=True)
class DQNConfig:
    """Hyper-parameters of :class:`DQNAgent` (defaults: the values of the ABFT-DRA design).

    Parameters
    ----------
    hidden : tuple of int
        Hidden-layer widths of the MLP.
    learning_rate : float
        Adam step size (> 0). Default 1e-3.
    gamma : float
        Discount factor, in [0, 1]. Default 0.99.
    batch_size : int
        Transitions per update (>= 1).
    buffer_size : int
        Replay capacity (>= ``batch_size``).
    learning_starts : int
        Transitions stored before the first update (>= ``batch_size``).
    train_every : int
        Environment steps per update (>= 1).
    target_update_interval : int
        Updates between copies of the online network into the target network (>= 1).
    max_grad_norm : float
        Gradient-norm clip (> 0).
    huber_delta : float
        Where the Huber loss turns from quadratic to linear (> 0).
    epsilon_start, epsilon_end : float
        Exploration probability at the start and after the decay, in [0, 1].
    epsilon_decay_steps : int
        Environment steps of the linear decay (>= 1).
    prioritized : bool
        Prioritized replay (otherwise uniform: ``alpha = 0``, weights 1).
    alpha : float
        Priority exponent (>= 0). Default 0.6.
    beta_start : float
        Initial importance-sampling exponent, in [0, 1]. Default 0.4.
    beta_steps : int
        Updates over which beta rises linearly to 1 (>= 1).
    priority_epsilon : float
        Added to ``|TD error|`` in a priority (> 0).
    double : bool
        Double-DQN targets (otherwise the target network's own maximum).
    """

    hidden: tuple[int, ...] = (256, 256)
    learning_rate: float = 1e-3
    gamma: float = 0.99
    batch_size: int = 64
    buffer_size: int = 100_000
    learning_starts: int = 1_000
    train_every: int = 1
    target_update_interval: int = 1_000
    max_grad_norm: float = 10.0
    huber_delta: float = 1.0
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_decay_steps: int = 20_000
    prioritized: bool = True
    alpha: float = 0.6
    beta_start: float = 0.4
    beta_steps: int = 100_000
    priority_epsilon: float = 1e-6
    double: bool = True

    def __post_init__(self) -> None:
        hidden = tuple(self.hidden)
        if any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
            raise ValueError(f"hidden={self.hidden!r} must be positive integers")
        object.__setattr__(self, "hidden", hidden)
        for name in (
            "batch_size",
            "buffer_size",
            "learning_starts",
            "train_every",
            "target_update_interval",
            "epsilon_decay_steps",
            "beta_steps",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        for name in ("learning_rate", "max_grad_norm", "huber_delta", "priority_epsilon"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and np.isfinite(value) and value > 0):
                raise ValueError(f"{name}={value!r} must be a finite number > 0")
        for name in ("gamma", "epsilon_start", "epsilon_end", "beta_start"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise ValueError(f"{name}={value!r} not in [0, 1]")
        if not (
            isinstance(self.alpha, int | float) and np.isfinite(self.alpha) and self.alpha >= 0
        ):
            raise ValueError(f"alpha={self.alpha!r} must be a finite number >= 0")
        if self.buffer_size < self.batch_size:
            raise ValueError(f"buffer_size={self.buffer_size} < batch_size={self.batch_size}")
        if self.learning_starts < self.batch_size:
            raise ValueError(
                f"learning_starts={self.learning_starts} < batch_size={self.batch_size}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain values (``hidden`` as a list), JSON-ready."""
        out = dataclasses.asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> DQNConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"unknown DQNConfig fields {sorted(unknown)}")
        kwargs = dict(values)
        if "hidden" in kwargs:
            kwargs["hidden"] = tuple(kwargs["hidden"])
        return cls(**kwargs)


def _adam(parameters: Any, learning_rate: float) -> torch.optim.Adam:
    """Adam with the fused kernel where torch has one (a third faster for small networks)."""
    parameters = list(parameters)
    try:
        return torch.optim.Adam(parameters, lr=learning_rate, fused=True)
    except (RuntimeError, TypeError):  # a device without the fused implementation
        return torch.optim.Adam(parameters, lr=learning_rate)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else the CPU; otherwise ``torch.device(device)``.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} asked for CUDA, which is not available")
    return resolved


class DQNAgent:
    """Deep Q-learning with the refinements listed in the module docstring.

    Parameters
    ----------
    obs_dim : int
        Observation length.
    n_actions : int
        Number of discrete actions.
    config : DQNConfig, optional
        Hyper-parameters.
    seed : int, numpy.random.Generator or None
        Seeds the weights, the exploration and the replay sampling.
    device : str or torch.device
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ...

    Attributes
    ----------
    steps : int
        Environment steps observed.
    updates : int
        Gradient steps taken.
    episodes : int
        Episodes finished (counted by the training loop).
    extra : dict
        What a checkpoint stored beside the agent (e.g. the environment options).
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        *,
        config: DQNConfig | None = None,
        seed: SeedLike = None,
        device: str | torch.device = "auto",
    ) -> None:
        self.config = DQNConfig() if config is None else config
        if not isinstance(self.config, DQNConfig):
            raise TypeError(f"config={config!r} must be a DQNConfig")
        self.obs_dim, self.n_actions = int(obs_dim), int(n_actions)
        self.device = resolve_device(device)
        if isinstance(seed, np.random.Generator):
            sequence = np.random.SeedSequence(int(seed.integers(2**63)))
        else:
            sequence = np.random.SeedSequence(seed)
        init, explore, replay = sequence.spawn(3)
        c = self.config
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(init.generate_state(1, np.uint64)[0] % (2**63)))
            self.online = QNetwork(self.obs_dim, self.n_actions, c.hidden).to(self.device)
        self.target = QNetwork(self.obs_dim, self.n_actions, c.hidden).to(self.device)
        self.target.load_state_dict(self.online.state_dict())
        self.target.requires_grad_(False)
        self.optimizer = _adam(self.online.parameters(), c.learning_rate)
        self.rng = np.random.default_rng(explore)
        self.replay = PrioritizedReplay(
            c.buffer_size,
            obs_dim=self.obs_dim,
            n_actions=self.n_actions,
            alpha=c.alpha if c.prioritized else 0.0,
            epsilon=c.priority_epsilon,
            seed=np.random.default_rng(replay),
        )
        self.steps = 0
        self.updates = 0
        self.episodes = 0
        self.extra: dict[str, Any] = {}

    # -- schedules --------------------------------------------------------------------------
    @property
    def epsilon(self) -> float:
        """Exploration probability at the current step (linear decay)."""
        c = self.config
        fraction = min(1.0, self.steps / c.epsilon_decay_steps)
        return c.epsilon_start + fraction * (c.epsilon_end - c.epsilon_start)

    @property
    def beta(self) -> float:
        """Importance-sampling exponent at the current update (linear rise to 1)."""
        c = self.config
        if not c.prioritized:
            return 0.0
        fraction = min(1.0, self.updates / c.beta_steps)
        return c.beta_start + fraction * (1.0 - c.beta_start)

    # -- acting -----------------------------------------------------------------------------
    def _mask(self, mask: Any, rows: int) -> np.ndarray:
        if mask is None:
            return np.ones((rows, self.n_actions), dtype=bool)
        out = np.asarray(mask).astype(bool).reshape(rows, self.n_actions)
        if not out.any(axis=1).all():
            raise ValueError("every action mask must allow at least one action")
        return out

    def q_values(self, obs: Any) -> np.ndarray:
        """Online action values of a batch of observations, ``(batch, n_actions)``."""
        with torch.no_grad():
            tensor = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
            return self.online(tensor.reshape(-1, self.obs_dim)).cpu().numpy()

    def act_batch(self, obs: Any, mask: Any = None, *, explore: bool = True) -> np.ndarray:
        """Epsilon-greedy (or greedy, ``explore=False``) allowed actions of a batch of states."""
        obs = np.asarray(obs, dtype=np.float32).reshape(-1, self.obs_dim)
        allowed = self._mask(mask, obs.shape[0])
        with torch.no_grad():
            values = self.online(torch.as_tensor(obs, device=self.device))
            greedy = masked_argmax(values, torch.as_tensor(allowed, device=self.device))
        actions = greedy.cpu().numpy().astype(np.int64)
        if explore:
            rows = np.flatnonzero(self.rng.random(obs.shape[0]) < self.epsilon)
            for row in rows:  # only the exploring rows, a few per batch
                actions[row] = self.rng.choice(np.flatnonzero(allowed[row]))
        return actions

    def act(self, obs: Any, mask: Any = None, *, explore: bool = True) -> int:
        """One epsilon-greedy (or greedy) allowed action."""
        return int(
            self.act_batch(
                np.asarray(obs)[None], None if mask is None else [mask], explore=explore
            )[0]
        )

    # -- learning ---------------------------------------------------------------------------
    def observe(
        self,
        obs: Any,
        action: int,
        reward: float,
        next_obs: Any,
        terminated: bool,
        next_mask: Any = None,
    ) -> None:
        """Store one transition and count the step."""
        self.replay.add(obs, action, reward, next_obs, terminated, next_mask)
        self.steps += 1

    def observe_batch(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        next_mask: np.ndarray | None = None,
    ) -> None:
        """Store one step of a vector environment (``n`` transitions)."""
        self.replay.add_batch(obs, actions, rewards, next_obs, terminated, next_mask)
        self.steps += len(actions)

    def ready(self) -> bool:
        """Whether enough transitions are stored and an update is due at this step."""
        c = self.config
        return len(self.replay) >= c.learning_starts and self.steps % c.train_every == 0

    def update(self) -> float:
        """One gradient step on a prioritized batch; returns the (weighted) loss."""
        c = self.config
        batch = self.replay.sample(c.batch_size, beta=self.beta)
        device = self.device
        obs = torch.as_tensor(batch.obs, device=device)
        next_obs = torch.as_tensor(batch.next_obs, device=device)
        actions = torch.as_tensor(batch.actions, device=device)
        rewards = torch.as_tensor(batch.rewards, device=device)
        terminated = torch.as_tensor(batch.terminated, device=device)
        next_mask = torch.as_tensor(batch.next_mask, device=device)
        weights = torch.as_tensor(batch.weights, device=device)
        with torch.no_grad():
            target_values = self.target(next_obs)
            chooser = self.online(next_obs) if c.double else target_values
            best = masked_argmax(chooser, next_mask)
            next_value = target_values.gather(1, best[:, None]).squeeze(1)
            targets = rewards + c.gamma * (1.0 - terminated) * next_value
        values = self.online(obs).gather(1, actions[:, None]).squeeze(1)
        td = targets - values
        loss = (
            weights
            * nn.functional.huber_loss(values, targets, reduction="none", delta=c.huber_delta)
        ).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.online.parameters(), c.max_grad_norm)
        self.optimizer.step()
        self.replay.update_priorities(batch.index, td.detach().abs().cpu().numpy())
        self.updates += 1
        if self.updates % c.target_update_interval == 0:
            self.target.load_state_dict(self.online.state_dict())
        return float(loss.detach())

    # -- checkpoints ------------------------------------------------------------------------
    def state_dict(self, *, include_replay: bool = False) -> dict[str, Any]:
        """Everything a checkpoint holds (torch tensors, numbers, strings, lists, dicts)."""
        state: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "obs_dim": self.obs_dim,
            "n_actions": self.n_actions,
            "config": self.config.to_dict(),
            "online": self.online.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "steps": self.steps,
            "updates": self.updates,
            "episodes": self.episodes,
            "rng": self.rng.bit_generator.state,
        }
        if include_replay:
            replay = self.replay.state_dict()
            state["replay"] = {
                key: torch.from_numpy(value) if isinstance(value, np.ndarray) else value
                for key, value in replay.items()
            }
        return state

    def save(
        self,
        path: str | os.PathLike[str],
        *,
        include_replay: bool = False,
        extra: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write a checkpoint atomically (temporary file in the same folder, then rename).

        Parameters
        ----------
        path : path-like
            Where to write (``.pt`` by convention).
        include_replay : bool
            Also store the replay buffer (large), so that training can resume exactly.
        extra : mapping, optional
            More JSON-like values to store under ``"extra"`` (e.g. the environment options).

        Returns
        -------
        pathlib.Path
        """
        state = self.state_dict(include_replay=include_replay)
        state["extra"] = dict(extra or {})
        return write_atomic(path, lambda handle: torch.save(state, handle), binary=True)

    @staticmethod
    def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
        """Read a checkpoint's contents, checked for format and version.

        Raises
        ------
        ValueError
            If the file is missing, unreadable (corrupt, truncated, not a torch file), or of
            another format or version.
        """
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"checkpoint {str(path)!r} does not exist")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a damaged file
            raise ValueError(
                f"checkpoint {str(path)!r} is corrupt or not a checkpoint ({type(exc).__name__})"
            ) from exc
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint {str(path)!r} is not an {CHECKPOINT_FORMAT} checkpoint")
        if state.get("version") != CHECKPOINT_VERSION:
            raise ValueError(
                f"checkpoint {str(path)!r} has version {state.get('version')!r}; this code reads "
                f"version {CHECKPOINT_VERSION}"
            )
        return state

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: str | torch.device = "auto") -> DQNAgent:
        """Restore an agent from a checkpoint (weights, optimiser, counters, replay if saved).

        Raises
        ------
        ValueError
            For a missing, corrupt or incompatible checkpoint (see :meth:`read_checkpoint`), or
            one whose tensors do not fit its recorded shapes.
        """
        state = cls.read_checkpoint(path)
        try:
            config = DQNConfig.from_dict(state["config"])
            agent = cls(
                int(state["obs_dim"]), int(state["n_actions"]), config=config, seed=0, device=device
            )
            agent.load_state_dict(state)
        except (KeyError, TypeError, RuntimeError, ValueError) as exc:
            raise ValueError(
                f"checkpoint {str(path)!r} is incompatible: {' '.join(str(exc).split())[:200]}"
            ) from exc
        agent.extra = dict(state.get("extra", {}))
        return agent

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict` output (shapes must match this agent)."""
        if int(state["obs_dim"]) != self.obs_dim or int(state["n_actions"]) != self.n_actions:
            raise ValueError(
                f"checkpoint for obs_dim={state['obs_dim']}, n_actions={state['n_actions']}; "
                f"this agent has obs_dim={self.obs_dim}, n_actions={self.n_actions}"
            )
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps, self.updates = int(state["steps"]), int(state["updates"])
        self.episodes = int(state["episodes"])
        self.rng.bit_generator.state = state["rng"]
        if "replay" in state:
            replay = {
                key: value.numpy() if isinstance(value, torch.Tensor) else value
                for key, value in state["replay"].items()
            }
            self.replay.load_state_dict(replay)
