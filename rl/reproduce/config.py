"""The experiment's configuration: scenario, systems, Byzantine fractions, seeds and scale.

Three scales are built in (:data:`SCALES`): ``"quick"`` (seconds; the tests and the tutorial),
``"default"`` (a few minutes on two cores; README's first command) and ``"full"`` (the
paper's scale: 1,000 training episodes, 20 evaluation seeds, hour-long episodes).

Examples
--------
>>> config = ReproduceConfig.scale("quick", seed=3)
>>> config.fractions, config.eval_seeds
((0.0, 0.1, 0.2, 0.3), 2)
>>> len(config.seeds()["evaluation"]), len(config.seeds()["training"])
(2, 2)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

__all__ = ["SCALES", "SYSTEMS", "ReproduceConfig"]

SYSTEMS: dict[str, dict[str, str]] = {
    "baseline": {"defense": "none", "policy": "static"},
    "abft": {"defense": "abft", "policy": "static"},
    "abft-dra": {"defense": "abft", "policy": "dqn"},
}
"""The compared systems: defence of the environment and allocation policy. ``static`` is
:class:`rl.baselines.StaticPolicy` (nominal optimal intensities, primary protocols, fewest-hop
routes), ``dqn`` the trained :class:`rl.baselines.DQNPolicy`."""

SCALES: tuple[str, ...] = ("quick", "default", "full")
"""Names accepted by :meth:`ReproduceConfig.scale`."""


def _dqn(hidden: tuple[int, ...], starts: int, decay: int, target: int, beta: int) -> dict:
    return {
        "hidden": list(hidden),
        "learning_starts": starts,
        "batch_size": 64 if starts >= 64 else 32,
        "buffer_size": 50_000,
        "epsilon_decay_steps": decay,
        "target_update_interval": target,
        "beta_steps": beta,
    }


@dataclass(frozen=True)
class ReproduceConfig:
    """What one reproduction runs (every field enters the cache key).

    Parameters
    ----------
    name : str
        Scale label (``"quick"``, ``"default"``, ``"full"`` or ``"custom"``).
    seed : int
        Master seed (>= 0): the evaluation and training seeds are drawn from it.
    eval_seeds : int
        Evaluation episodes per (system, fraction) (>= 2, for a spread).
    eval_slices : int
        Time slices (1 s each) per evaluation episode (>= 1).
    train_seeds : int
        Independent DQN training runs (>= 1).
    train_episodes : int
        Training episodes per run (>= 1).
    train_slices : int
        Time slices per training episode (>= 1).
    eval_every : int
        Training episodes between evaluations of the greedy policy (>= 1).
    eval_episodes : int
        Fixed episodes per such evaluation (>= 1).
    fractions : tuple of float
        Byzantine fractions of the candidate nodes, each in [0, 0.4]; must include 0 (the
        no-attack reference of the relative key rate).
    train_fraction : float
        Byzantine fraction of the training environment.
    topology : str
        Built-in scenario name.
    byzantine_kinds : tuple of str
        Node kinds that may be Byzantine.
    behaviour : str
        Byzantine behaviour (``"mixed"``: each Byzantine node draws one).
    utilisation : float
        Demand load: fraction of the busiest link's nominal key rate, in (0, 1].
    qber_threshold : float
        Security threshold on a used link's measured QBER.
    dqn : dict
        :class:`rl.dqn.DQNConfig` fields.
    """

    name: str = "custom"
    seed: int = 0
    eval_seeds: int = 2
    eval_slices: int = 40
    train_seeds: int = 2
    train_episodes: int = 6
    train_slices: int = 30
    eval_every: int = 3
    eval_episodes: int = 2
    fractions: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3)
    train_fraction: float = 0.2
    topology: str = "secoqc"
    byzantine_kinds: tuple[str, ...] = ("trusted", "relay")
    behaviour: str = "mixed"
    utilisation: float = 0.5
    qber_threshold: float = 0.11
    dqn: dict[str, Any] = field(default_factory=lambda: _dqn((64, 64), 32, 150, 50, 200))

    def __post_init__(self) -> None:
        for name, least in (
            ("seed", 0),
            ("eval_seeds", 2),
            ("eval_slices", 1),
            ("train_seeds", 1),
            ("train_episodes", 1),
            ("train_slices", 1),
            ("eval_every", 1),
            ("eval_episodes", 1),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
                raise ValueError(f"{name}={value!r} must be an integer >= {least}")
            object.__setattr__(self, name, int(value))
        fractions = tuple(float(f) for f in self.fractions)
        if not fractions or any(not 0.0 <= f <= 0.4 for f in fractions):
            raise ValueError(f"fractions={self.fractions!r} must be values in [0, 0.4]")
        if 0.0 not in fractions or len(set(fractions)) != len(fractions):
            raise ValueError(f"fractions={self.fractions!r} must be distinct and include 0")
        object.__setattr__(self, "fractions", tuple(sorted(fractions)))
        if not 0.0 <= float(self.train_fraction) <= 0.4:
            raise ValueError(f"train_fraction={self.train_fraction!r} not in [0, 0.4]")
        object.__setattr__(self, "byzantine_kinds", tuple(self.byzantine_kinds))
        object.__setattr__(self, "dqn", dict(self.dqn))

    @classmethod
    def scale(cls, name: str, **overrides: Any) -> ReproduceConfig:
        """Return the built-in scale ``name`` (one of :data:`SCALES`), with field overrides.

        Raises
        ------
        ValueError
            For an unknown scale.
        """
        if name == "quick":
            base = cls(name="quick")
        elif name == "default":
            base = cls(
                name="default",
                eval_seeds=10,
                eval_slices=600,
                train_seeds=2,
                train_episodes=120,
                train_slices=100,
                eval_every=10,
                eval_episodes=3,
                dqn=_dqn((128, 128), 500, 4_000, 500, 6_000),
            )
        elif name == "full":
            base = cls(
                name="full",
                eval_seeds=20,
                eval_slices=3600,
                train_seeds=5,
                train_episodes=1000,
                train_slices=200,
                eval_every=25,
                eval_episodes=5,
                dqn=_dqn((256, 256), 1_000, 100_000, 1_000, 200_000),
            )
        else:
            raise ValueError(f"scale={name!r} must be one of {', '.join(SCALES)}")
        return replace(base, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        out = asdict(self)
        out["fractions"] = list(self.fractions)
        out["byzantine_kinds"] = list(self.byzantine_kinds)
        return out

    def env_kwargs(self, *, defense: str, fraction: float, slices: int) -> dict[str, Any]:
        """Options of :class:`rl.env.ResourceAllocationEnv` for one system and fraction."""
        return {
            "topology": self.topology,
            "byzantine_fraction": float(fraction),
            "byzantine_kinds": list(self.byzantine_kinds),
            "behaviour": self.behaviour,
            "defense": defense,
            "episode_slices": int(slices),
            "utilisation": self.utilisation,
            "qber_threshold": self.qber_threshold,
        }

    def seeds(self) -> dict[str, list[int]]:
        """Return evaluation and training seeds: independent streams of ``seed``, disjoint sets."""
        evaluation, training = np.random.SeedSequence(self.seed).spawn(2)
        eval_seeds = [int(s) for s in evaluation.generate_state(self.eval_seeds, np.uint32)]
        train_seeds = [
            int(s)
            for s in training.generate_state(self.train_seeds, np.uint32)
            if s not in eval_seeds
        ]
        if len(train_seeds) != self.train_seeds or len(set(eval_seeds)) != len(eval_seeds):
            raise ValueError(f"seed={self.seed} draws colliding seeds; choose another")
        return {"evaluation": eval_seeds, "training": train_seeds}

    def digest(self, part: Any) -> str:
        """Return a short hash of ``part`` (plain values), for cache keys."""
        text = json.dumps(part, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]
