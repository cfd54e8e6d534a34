r"""Prioritized experience replay (proportional variant) on a vectorised sum tree.

Schaul, Quan, Antonoglou, Silver, "Prioritized experience replay", ICLR 2016:

* transition ``i`` is sampled with probability :math:`P(i) = p_i^\alpha / \sum_k p_k^\alpha`
  (Eq. 1), its priority :math:`p_i = |\delta_i| + \epsilon` set from its last TD error
  (proportional prioritisation); a new transition gets the largest priority seen so far, so
  that every transition is replayed at least once;
* the bias this introduces is corrected by importance-sampling weights
  :math:`w_i = (N P(i))^{-\beta} / \max_j w_j` (Sec. 3.4), with :math:`\beta` annealed from
  :math:`\beta_0` (0.4) to 1 over training;
* sampling is stratified: the total priority is cut into ``batch`` equal segments and one
  value is drawn uniformly in each (Appendix B.2.1).

:class:`SumTree` stores the :math:`p_i^\alpha` in the leaves of a complete binary tree whose
inner nodes hold the sums of their children. Updates and samples of a whole batch are
vectorised level by level (``log2(capacity)`` numpy operations per batch, no Python loop over
the batch).

Examples
--------
>>> import numpy as np
>>> tree = SumTree(4)
>>> tree.update(np.array([0, 1, 2, 3]), np.array([1.0, 2.0, 3.0, 4.0]))
>>> tree.total
10.0
>>> tree.find(np.array([0.5, 1.5, 3.5, 9.9])).tolist()
[0, 1, 2, 3]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qkdcircuits._validation import SeedLike, as_generator

__all__ = ["PrioritizedReplay", "ReplayBatch", "SumTree"]


class SumTree:
    """A binary sum tree over ``capacity`` non-negative leaf values.

    Parameters
    ----------
    capacity : int
        Number of leaves (>= 1).

    Attributes
    ----------
    tree : numpy.ndarray
        ``2 L`` floats, ``L`` the capacity rounded up to a power of two: node ``j`` has
        children ``2 j`` and ``2 j + 1``, the root is node 1 and leaf ``i`` is node ``L + i``.
    """

    def __init__(self, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int | np.integer) or capacity < 1:
            raise ValueError(f"capacity={capacity!r} must be a positive integer")
        self.capacity = int(capacity)
        self._leaves = 1 << max(0, (self.capacity - 1).bit_length())
        self._depth = self._leaves.bit_length() - 1
        self.tree = np.zeros(2 * self._leaves)

    @property
    def total(self) -> float:
        """Sum of all leaves."""
        return float(self.tree[1])

    @property
    def leaves(self) -> np.ndarray:
        """The ``capacity`` leaf values (a read-only view)."""
        view = self.tree[self._leaves : self._leaves + self.capacity]
        view.flags.writeable = False
        return view

    def update(self, index: np.ndarray, values: np.ndarray) -> None:
        """Set leaves ``index`` to ``values`` and recompute the sums above them.

        A leaf given twice takes the last value. Raises ``ValueError`` for an index out of
        range or a negative or non-finite value.
        """
        index = np.asarray(index, dtype=np.int64).ravel()
        values = np.broadcast_to(np.asarray(values, dtype=float), index.shape)
        if index.size == 0:
            return
        if index.min() < 0 or index.max() >= self.capacity:
            raise ValueError(f"index out of 0..{self.capacity - 1}")
        if not np.all(np.isfinite(values) & (values >= 0)):
            raise ValueError("values must be finite and >= 0")
        nodes = index + self._leaves
        self.tree[nodes] = values  # numpy assigns duplicates in order: the last one wins
        nodes = np.unique(nodes >> 1)
        for _ in range(self._depth):
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]
            nodes = np.unique(nodes >> 1)

    def find(self, mass: np.ndarray) -> np.ndarray:
        """Find the leaf of each prefix-sum value ``mass``.

        The leaf is the ``i`` with ``sum(leaves[:i]) <= mass < sum(leaves[:i+1])``. Values are
        clipped into ``[0, total)``; a descent that rounding sends past the last non-zero leaf is
        pulled back to it.
        """
        mass = np.clip(np.asarray(mass, dtype=float).ravel(), 0.0, np.nextafter(self.total, 0))
        node = np.ones(mass.size, dtype=np.int64)
        for _ in range(self._depth):
            left = 2 * node
            left_sum = self.tree[left]
            right = mass >= left_sum
            mass = np.where(right, mass - left_sum, mass)
            node = left + right
        leaf = node - self._leaves
        empty = (leaf >= self.capacity) | (self.tree[node] <= 0)
        if empty.any():
            nonzero = np.flatnonzero(self.leaves > 0)
            if nonzero.size == 0:
                raise ValueError("the tree is empty (total priority 0)")
            # the nearest non-zero leaf at or below (rounding only ever overshoots slightly)
            pos = np.searchsorted(nonzero, leaf[empty], side="right") - 1
            leaf[empty] = nonzero[np.maximum(pos, 0)]
        return leaf


@dataclass(frozen=True, eq=False)
class ReplayBatch:
    """A sampled batch (numpy arrays, first axis the batch).

    Attributes
    ----------
    obs, next_obs : numpy.ndarray
        ``float32`` observations before and after the action.
    actions : numpy.ndarray
        ``int64`` actions.
    rewards : numpy.ndarray
        ``float32`` rewards.
    terminated : numpy.ndarray
        ``float32`` 1 where the episode ended in a terminal state (no bootstrapping).
    next_mask : numpy.ndarray
        ``bool`` action mask of the next state.
    index : numpy.ndarray
        Slots of the transitions (for :meth:`PrioritizedReplay.update_priorities`).
    weights : numpy.ndarray
        ``float32`` importance-sampling weights (all 1 for uniform replay).
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    next_mask: np.ndarray
    index: np.ndarray
    weights: np.ndarray


class PrioritizedReplay:
    """A ring buffer of transitions sampled by priority (see the module docstring).

    Parameters
    ----------
    capacity : int
        Most transitions stored (>= 1); the oldest is overwritten.
    obs_dim, n_actions : int
        Observation length and number of actions.
    alpha : float
        Priority exponent (>= 0; 0 is uniform sampling). Default 0.6 (Schaul et al., Table 3).
    epsilon : float
        Added to ``|delta|`` so that no transition gets priority 0 (> 0).
    seed : int, numpy.random.Generator or None
        Randomness of the sampling.

    Examples
    --------
    >>> import numpy as np
    >>> buffer = PrioritizedReplay(8, obs_dim=2, n_actions=3, seed=1)
    >>> for k in range(5):
    ...     buffer.add(np.full(2, k), k % 3, 1.0, np.full(2, k + 1), False, np.ones(3, bool))
    >>> batch = buffer.sample(4, beta=0.4)
    >>> batch.obs.shape, batch.weights.max()
    ((4, 2), np.float32(1.0))
    """

    def __init__(
        self,
        capacity: int,
        *,
        obs_dim: int,
        n_actions: int,
        alpha: float = 0.6,
        epsilon: float = 1e-6,
        seed: SeedLike = None,
    ) -> None:
        self.tree = SumTree(capacity)
        self.capacity = self.tree.capacity
        if not (isinstance(alpha, int | float) and alpha >= 0 and np.isfinite(alpha)):
            raise ValueError(f"alpha={alpha!r} must be a finite number >= 0")
        if not (isinstance(epsilon, int | float) and epsilon > 0 and np.isfinite(epsilon)):
            raise ValueError(f"epsilon={epsilon!r} must be a finite number > 0")
        self.alpha, self.epsilon = float(alpha), float(epsilon)
        self.obs_dim, self.n_actions = int(obs_dim), int(n_actions)
        self.rng = as_generator(seed)
        self.obs = np.zeros((self.capacity, self.obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((self.capacity, self.obs_dim), dtype=np.float32)
        self.actions = np.zeros(self.capacity, dtype=np.int64)
        self.rewards = np.zeros(self.capacity, dtype=np.float32)
        self.terminated = np.zeros(self.capacity, dtype=np.float32)
        self.next_mask = np.ones((self.capacity, self.n_actions), dtype=bool)
        self.size = 0
        self.position = 0
        self.max_priority = 1.0

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        obs: Any,
        action: int,
        reward: float,
        next_obs: Any,
        terminated: bool,
        next_mask: Any = None,
    ) -> None:
        """Store one transition at the largest priority seen so far."""
        self.add_batch(
            np.asarray(obs)[None],
            np.asarray([action]),
            np.asarray([reward]),
            np.asarray(next_obs)[None],
            np.asarray([terminated]),
            None if next_mask is None else np.asarray(next_mask)[None],
        )

    def add_batch(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        next_mask: np.ndarray | None = None,
    ) -> None:
        """Store ``n`` transitions (e.g. one step of a vector environment) at once."""
        n = len(actions)
        if n > self.capacity:
            raise ValueError(f"{n} transitions do not fit a buffer of capacity {self.capacity}")
        slots = (self.position + np.arange(n)) % self.capacity
        self.obs[slots] = obs
        self.next_obs[slots] = next_obs
        self.actions[slots] = actions
        self.rewards[slots] = rewards
        self.terminated[slots] = terminated
        self.next_mask[slots] = True if next_mask is None else next_mask
        self.tree.update(slots, self.max_priority**self.alpha)
        self.position = int((self.position + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def probabilities(self) -> np.ndarray:
        """``P(i)`` of every stored transition (slot order)."""
        leaves = self.tree.leaves[: self.size]
        return leaves / leaves.sum()

    def sample(self, batch_size: int, *, beta: float) -> ReplayBatch:
        """Draw a stratified prioritized sample with importance-sampling weights.

        Parameters
        ----------
        batch_size : int
            Transitions to draw (>= 1), with replacement.
        beta : float
            Importance-sampling exponent, in [0, 1].
        """
        if self.size == 0:
            raise ValueError("the replay buffer is empty")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be a positive integer")
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta={beta!r} not in [0, 1]")
        total = self.tree.total
        segment = total / batch_size
        mass = (np.arange(batch_size) + self.rng.random(batch_size)) * segment
        index = self.tree.find(mass)
        leaves = self.tree.leaves
        prob = leaves[index] / total
        smallest = leaves[: self.size].min() / total
        # w_i = (N P(i))^-beta / max_j w_j, the max over the buffer (Schaul et al., Sec. 3.4)
        weights = (prob / smallest) ** (-beta)
        return ReplayBatch(
            obs=self.obs[index],
            actions=self.actions[index],
            rewards=self.rewards[index],
            next_obs=self.next_obs[index],
            terminated=self.terminated[index],
            next_mask=self.next_mask[index],
            index=index,
            weights=weights.astype(np.float32),
        )

    def update_priorities(self, index: np.ndarray, td_errors: np.ndarray) -> None:
        """Set sampled slots' priorities from their new TD errors: ``(|delta| + eps)^alpha``."""
        priority = np.abs(np.asarray(td_errors, dtype=float)) + self.epsilon
        if not np.all(np.isfinite(priority)):
            raise ValueError("td_errors must be finite")
        self.max_priority = max(self.max_priority, float(priority.max(initial=0.0)))
        self.tree.update(index, priority**self.alpha)

    def state_dict(self) -> dict[str, Any]:
        """Return the stored transitions, priorities and sampler state (numpy arrays, numbers)."""
        return {
            "capacity": self.capacity,
            "obs_dim": self.obs_dim,
            "n_actions": self.n_actions,
            "alpha": self.alpha,
            "epsilon": self.epsilon,
            "size": self.size,
            "position": self.position,
            "max_priority": self.max_priority,
            "leaves": self.tree.leaves.copy(),
            "obs": self.obs[: self.size].copy(),
            "next_obs": self.next_obs[: self.size].copy(),
            "actions": self.actions[: self.size].copy(),
            "rewards": self.rewards[: self.size].copy(),
            "terminated": self.terminated[: self.size].copy(),
            "next_mask": self.next_mask[: self.size].copy(),
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output into a buffer of the same shape.

        Raises
        ------
        ValueError
            If the capacity, observation length or number of actions differ, or a field is
            missing or malformed.
        """
        try:
            for name in ("capacity", "obs_dim", "n_actions"):
                if int(state[name]) != getattr(self, name):
                    raise ValueError(
                        f"replay {name}={int(state[name])} does not match {getattr(self, name)}"
                    )
            size = int(state["size"])
            if not 0 <= size <= self.capacity:
                raise ValueError(f"replay size={size} not in 0..{self.capacity}")
            for name in ("obs", "next_obs", "actions", "rewards", "terminated", "next_mask"):
                getattr(self, name)[:size] = np.asarray(state[name])
            leaves = np.asarray(state["leaves"], dtype=float)
            self.tree.update(np.arange(self.capacity), leaves)
            self.alpha, self.epsilon = float(state["alpha"]), float(state["epsilon"])
            self.size, self.position = size, int(state["position"])
            self.max_priority = float(state["max_priority"])
            self.rng.bit_generator.state = state["rng"]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed replay state: {exc!r}") from exc
