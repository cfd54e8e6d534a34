"""Training the DQN allocator, evaluating policies on common seeds, and reading the learning curve.

* :func:`train`: episodes of :class:`rl.env.ResourceAllocationEnv` with a :class:`rl.dqn.DQNAgent`;
  one log row per episode (:data:`LOG_FIELDS`) written atomically to ``log.csv``, checkpoints,
  optional TensorBoard, Ctrl-C saves what was learned and stops cleanly.
* :func:`evaluate_policies`: every policy on the same episode seeds (same Byzantine placement,
  fluctuations and demands for all), and :func:`summarise` into mean and spread.
* :func:`episodes_to_converge`: the episode at which a (smoothed) learning curve first reaches
  a fraction of its final return.
* :func:`plot_learning_curve`: returns per episode with their moving average and the
  baselines' mean returns (PNG).

Definitions of the per-episode quantities (from :mod:`network.simulation.metrics`):
``key_rate_bps`` is the correct key delivered per simulated second (``delivered_key_bps``),
``qber_mean`` the bit-weighted mean measured QBER of the links the delivered keys crossed
(``mean_used_qber``), ``qber_var`` the variance of the measured QBER of used links over
(link, slice) samples (``qber_variance_all``) and ``qber_var_fluct`` the same restricted to links
in a fluctuation period (``qber_variance_fluctuation``; ``nan`` if no used link fluctuated).

Examples
--------
>>> import numpy as np
>>> episodes_to_converge(np.array([0.0, 5.0, 9.0, 9.6, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0]),
...                      window=1)
4
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rl._io import write_text_atomic
from rl.baselines import Policy
from rl.env import ResourceAllocationEnv

__all__ = [
    "EVAL_FIELDS",
    "LOG_FIELDS",
    "EpisodeStats",
    "TrainResult",
    "episodes_to_converge",
    "evaluate_policies",
    "moving_average",
    "plot_learning_curve",
    "read_log",
    "run_episode",
    "summarise",
    "train",
]

STAT_FIELDS: tuple[str, ...] = (
    "return",
    "key_rate_bps",
    "served_fraction",
    "qber_mean",
    "qber_var",
    "qber_var_fluct",
)
"""What one episode measured (the keys of :meth:`EpisodeStats.row`, less ``steps``)."""

LOG_FIELDS: tuple[str, ...] = (
    "episode",
    STAT_FIELDS[0],
    "steps",
    *STAT_FIELDS[1:],
    "epsilon",
    "loss",
    "updates",
    "wall_s",
)
"""Columns of the training log (one row per episode)."""

EVAL_FIELDS: tuple[str, ...] = ("episode", *STAT_FIELDS)
"""Columns of the evaluation log: the greedy policy after ``episode`` training episodes, means
over the same evaluation episodes every time."""


@dataclass(frozen=True)
class EpisodeStats:
    """What one episode measured (see the module docstring for the definitions)."""

    episode_return: float
    steps: int
    key_rate_bps: float
    served_fraction: float
    qber_mean: float
    qber_var: float
    qber_var_fluct: float

    @classmethod
    def from_metrics(
        cls, episode_return: float, steps: int, metrics: Mapping[str, Any]
    ) -> EpisodeStats:
        """From the ``info["episode_metrics"]`` of the last step (``None`` becomes ``nan``)."""

        def value(name: str) -> float:
            item = metrics.get(name)
            return math.nan if item is None else float(item)

        return cls(
            episode_return=float(episode_return),
            steps=int(steps),
            key_rate_bps=value("delivered_key_bps"),
            served_fraction=value("served_fraction"),
            qber_mean=value("mean_used_qber"),
            qber_var=value("qber_variance_all"),
            qber_var_fluct=value("qber_variance_fluctuation"),
        )

    def row(self) -> dict[str, float]:
        """As a dictionary keyed by the names of :data:`STAT_FIELDS` (and ``steps``)."""
        return {
            "return": self.episode_return,
            "steps": self.steps,
            "key_rate_bps": self.key_rate_bps,
            "served_fraction": self.served_fraction,
            "qber_mean": self.qber_mean,
            "qber_var": self.qber_var,
            "qber_var_fluct": self.qber_var_fluct,
        }


def run_episode(
    env: ResourceAllocationEnv,
    act: Callable[[np.ndarray, dict[str, Any]], int],
    *,
    seed: int | None = None,
    on_step: Callable[[np.ndarray, int, float, np.ndarray, bool, dict[str, Any]], None]
    | None = None,
) -> EpisodeStats:
    """Run one episode of ``env`` with ``act(obs, info)``; ``on_step`` sees every transition.

    ``on_step(obs, action, reward, next_obs, terminated, next_info)`` is called after each step
    (the training loop stores the transition and updates the agent there).
    """
    obs, info = env.reset(seed=seed)
    total, steps = 0.0, 0
    while True:
        action = act(obs, info)
        next_obs, reward, terminated, truncated, info = env.step(action)
        if on_step is not None:
            on_step(obs, action, reward, next_obs, terminated, info)
        total += reward
        steps += 1
        obs = next_obs
        if terminated or truncated:
            return EpisodeStats.from_metrics(total, steps, info.get("episode_metrics", {}))


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes
    ----------
    agent : rl.dqn.DQNAgent
        The trained agent.
    log : list of dict
        One row per finished episode (:data:`LOG_FIELDS`).
    eval_log : list of dict
        One row per evaluation of the greedy policy (:data:`EVAL_FIELDS`).
    interrupted : bool
        Whether a Ctrl-C stopped training early.
    out_dir : pathlib.Path or None
        Where the log, checkpoint and options were written.
    """

    agent: Any
    log: list[dict[str, float]] = field(default_factory=list)
    eval_log: list[dict[str, float]] = field(default_factory=list)
    interrupted: bool = False
    out_dir: Path | None = None

    @property
    def returns(self) -> np.ndarray:
        """Episode returns in order."""
        return np.array([row["return"] for row in self.log], dtype=float)


def _log_csv(rows: Sequence[Mapping[str, Any]], fields: Sequence[str] = LOG_FIELDS) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row[k] for k in fields})
    return buffer.getvalue()


def read_log(
    path: str | os.PathLike[str], fields: Sequence[str] = LOG_FIELDS
) -> list[dict[str, float]]:
    """Rows of a log written by :func:`train` (numbers as floats, ``nan`` kept).

    ``fields`` is :data:`LOG_FIELDS` for ``log.csv`` and :data:`EVAL_FIELDS` for ``eval.csv``.

    Raises
    ------
    ValueError
        If the file is missing or lacks the log's columns.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"training log {str(path)!r} does not exist")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not set(fields) <= set(reader.fieldnames):
            raise ValueError(f"training log {str(path)!r} lacks the columns {tuple(fields)}")
        try:
            return [{k: float(row[k]) for k in fields} for row in reader]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"training log {str(path)!r} is malformed: {exc}") from exc


def _plain_env_kwargs(env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Environment options as plain values (what a checkpoint and ``options.json`` store)."""
    import dataclasses

    out: dict[str, Any] = {}
    for key, value in env_kwargs.items():
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        elif isinstance(value, np.ndarray | tuple):
            value = (
                list(np.asarray(value).tolist()) if isinstance(value, np.ndarray) else list(value)
            )
        if not isinstance(value, str | int | float | bool | list | dict | type(None)):
            raise TypeError(
                f"env_kwargs[{key!r}]={value!r} cannot be stored: give a name or plain values"
            )
        out[key] = value
    return out


def train(
    *,
    episodes: int,
    seed: int,
    env_kwargs: Mapping[str, Any] | None = None,
    config: Any = None,
    device: str = "auto",
    out_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 0,
    eval_every: int = 0,
    eval_episodes: int = 5,
    include_replay: bool = False,
    progress: bool = False,
    tensorboard: bool = False,
    threads: int | None = 1,
    on_episode: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train a DQN allocator on :class:`ResourceAllocationEnv` for ``episodes`` episodes.

    Parameters
    ----------
    episodes : int
        Episodes to run (>= 0).
    seed : int
        Seeds the agent (weights, exploration, replay) and the environment (the first reset;
        later episodes continue its generator), from independent streams.
    env_kwargs : mapping, optional
        Options of the environment (as for ``gymnasium.make``).
    config : rl.dqn.DQNConfig, optional
        Agent hyper-parameters.
    device : str
        Torch device (``"auto"``: CUDA when present).
    out_dir : path-like, optional
        Folder for ``log.csv`` (rewritten atomically after every episode), ``options.json`` and
        ``checkpoint.pt`` (at the end, every ``checkpoint_every`` episodes and on Ctrl-C).
    checkpoint_every : int
        Episodes between checkpoints (0: only at the end).
    eval_every : int
        Episodes between evaluations of the greedy policy (0: none). Each evaluation runs the
        same ``eval_episodes`` episodes (fixed seeds, no exploration, no learning, in an
        environment of its own), before training, every ``eval_every`` episodes and at the
        end; rows go to :attr:`TrainResult.eval_log` and ``eval.csv``. Unlike the training
        returns, these curves are free of the episode-to-episode randomness (Byzantine
        placement, fluctuations, demands) and of exploration.
    eval_episodes : int
        Episodes per evaluation (>= 1).
    include_replay : bool
        Store the replay buffer in checkpoints.
    progress : bool
        A tqdm progress bar on stderr.
    tensorboard : bool
        Also log to TensorBoard in ``out_dir/tensorboard`` (needs the ``tensorboard`` package).
    threads : int or None
        Torch intra-op threads while training, restored afterwards (``None``: leave torch's
        setting). A small MLP on batches of 64 runs fastest on one thread; more threads only
        add synchronisation.
    on_episode : callable, optional
        Called with each log row.

    Returns
    -------
    TrainResult
        A Ctrl-C stops training after saving the checkpoint and the log; ``interrupted`` is then
        True.

    Raises
    ------
    ValueError
        For a negative number of episodes or bad options.
    ImportError
        If ``tensorboard`` is asked for and not installed.
    """
    from rl.dqn import DQNAgent, DQNConfig

    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 0:
        raise ValueError(f"episodes={episodes!r} must be a non-negative integer")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    for name, value, least in (
        ("checkpoint_every", checkpoint_every, 0),
        ("eval_every", eval_every, 0),
        ("eval_episodes", eval_episodes, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name}={value!r} must be an integer >= {least}")
    config = DQNConfig() if config is None else config
    env_kwargs = dict(env_kwargs or {})
    plain = _plain_env_kwargs(env_kwargs)
    env = ResourceAllocationEnv(**env_kwargs)
    env_seed, agent_seed, eval_seed = np.random.SeedSequence(seed).spawn(3)
    agent = DQNAgent(
        env.observation_space.shape[0],
        int(env.action_space.n),
        config=config,
        seed=np.random.default_rng(agent_seed),
        device=device,
    )
    folder = None if out_dir is None else Path(out_dir)
    writer = None
    if tensorboard and folder is not None:
        writer = _tensorboard_writer(folder / "tensorboard")  # fails before anything is written
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        options = {
            "seed": seed,
            "episodes": episodes,
            "env_kwargs": plain,
            "config": config.to_dict(),
            "device": str(agent.device),
        }
        write_text_atomic(folder / "options.json", json.dumps(options, indent=1) + "\n")
    elif tensorboard:
        raise ValueError("tensorboard needs out_dir")
    result = TrainResult(agent=agent, out_dir=folder)
    extra = {"env_kwargs": plain, "seed": seed}

    def save() -> None:
        if folder is not None:
            write_text_atomic(folder / "log.csv", _log_csv(result.log))
            agent.save(folder / "checkpoint.pt", include_replay=include_replay, extra=extra)

    eval_env = ResourceAllocationEnv(**env_kwargs) if eval_every else None
    eval_seeds = [int(x) for x in eval_seed.generate_state(eval_episodes, np.uint32)]

    def evaluate(after: int) -> None:
        if eval_env is None or (result.eval_log and result.eval_log[-1]["episode"] == after):
            return
        rows = [
            run_episode(
                eval_env,
                lambda obs, info: agent.act(obs, info["action_mask"], explore=False),
                seed=s,
            ).row()
            for s in eval_seeds
        ]
        entry: dict[str, float] = {"episode": after}
        for key in EVAL_FIELDS[1:]:
            values = np.array([row[key] for row in rows], dtype=float)
            values = values[np.isfinite(values)]
            entry[key] = float(values.mean()) if values.size else math.nan
        result.eval_log.append(entry)
        if folder is not None:
            write_text_atomic(folder / "eval.csv", _log_csv(result.eval_log, EVAL_FIELDS))
        if writer is not None:
            writer.add_scalar("eval/return", entry["return"], after)

    losses: list[float] = []

    def on_step(obs, action, reward, next_obs, terminated, info) -> None:
        agent.observe(obs, action, reward, next_obs, terminated, info["action_mask"])
        if agent.ready():
            losses.append(agent.update())

    import torch
    from tqdm import tqdm

    first_seed = int(env_seed.generate_state(1)[0])
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    start = time.perf_counter()
    bar = tqdm(
        total=episodes, unit="ep", desc="dqn", file=sys.stderr, disable=not progress, leave=False
    )
    try:
        evaluate(0)
        for episode in range(episodes):
            losses.clear()
            stats = run_episode(
                env,
                lambda obs, info: agent.act(obs, info["action_mask"]),
                seed=first_seed if episode == 0 else None,
                on_step=on_step,
            )
            agent.episodes += 1
            row = {
                "episode": episode + 1,
                **stats.row(),
                "epsilon": agent.epsilon,
                "loss": float(np.mean(losses)) if losses else math.nan,
                "updates": agent.updates,
                "wall_s": time.perf_counter() - start,
            }
            result.log.append(row)
            if folder is not None:
                write_text_atomic(folder / "log.csv", _log_csv(result.log))
                if checkpoint_every and (episode + 1) % checkpoint_every == 0:
                    save()
            if writer is not None:
                for key in ("return", "key_rate_bps", "qber_mean", "qber_var", "epsilon", "loss"):
                    writer.add_scalar(f"episode/{key}", row[key], episode + 1)
            if eval_every and (episode + 1) % eval_every == 0:
                evaluate(episode + 1)
            if on_episode is not None:
                on_episode(row)
            bar.update(1)
            bar.set_postfix(ret=f"{row['return']:.1f}", eps=f"{row['epsilon']:.2f}")
        evaluate(len(result.log))
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        torch.set_num_threads(previous_threads)
        bar.close()
        save()
        if writer is not None:
            writer.close()
    return result


def _tensorboard_writer(folder: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise ImportError(
            "TensorBoard logging needs the tensorboard package: pip install tensorboard"
        ) from exc
    return SummaryWriter(log_dir=str(folder))


def evaluate_policies(
    policies: Sequence[Policy],
    *,
    episodes: int,
    seed: int,
    env_kwargs: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> dict[str, list[EpisodeStats]]:
    """Run every policy on the same ``episodes`` episode seeds.

    Parameters
    ----------
    policies : sequence of Policy
        With distinct names.
    episodes : int
        Episodes per policy (>= 1).
    seed : int
        Seeds the episode seeds (the same for every policy) and the policies' own randomness.
    env_kwargs : mapping, optional
        Environment options; each policy's :attr:`~rl.baselines.Policy.env_overrides` apply on
        top.
    progress : bool
        A tqdm bar on stderr.

    Returns
    -------
    dict
        Policy name -> its episodes' statistics, in seed order.
    """
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes={episodes!r} must be a positive integer")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative integer")
    names = [policy.name for policy in policies]
    if len(set(names)) != len(names):
        raise ValueError(f"policy names must be distinct, got {names}")
    episode_seq, policy_seq = np.random.SeedSequence(seed).spawn(2)
    seeds = [int(s) for s in episode_seq.generate_state(episodes, np.uint32)]
    from tqdm import tqdm

    out: dict[str, list[EpisodeStats]] = {}
    with tqdm(
        total=episodes * len(policies),
        unit="ep",
        desc="evaluate",
        file=sys.stderr,
        disable=not progress,
        leave=False,
    ) as bar:
        for policy in policies:
            env = ResourceAllocationEnv(**{**dict(env_kwargs or {}), **policy.env_overrides})
            policy.reset(int(policy_seq.generate_state(1)[0]))
            stats = []
            for episode_seed in seeds:
                stats.append(
                    run_episode(
                        env,
                        lambda obs, info, p=policy, e=env: p.act(e, obs, info),
                        seed=episode_seed,
                    )
                )
                bar.update(1)
            out[policy.name] = stats
    return out


def summarise(results: Mapping[str, Sequence[EpisodeStats]]) -> dict[str, dict[str, Any]]:
    """Mean, sample standard deviation and count (finite values) of each statistic per policy.

    Examples
    --------
    >>> s = EpisodeStats(1.0, 2, 3.0, 1.0, 0.03, 1e-5, float("nan"))
    >>> summarise({"p": [s, s]})["p"]["return"]
    {'mean': 1.0, 'std': 0.0, 'n': 2}
    """
    table: dict[str, dict[str, Any]] = {}
    for name, stats in results.items():
        rows = [s.row() for s in stats]
        entry: dict[str, Any] = {}
        for key in STAT_FIELDS:
            values = np.array([row[key] for row in rows], dtype=float)
            values = values[np.isfinite(values)]
            entry[key] = {
                "mean": float(values.mean()) if values.size else math.nan,
                "std": float(values.std(ddof=1)) if values.size > 1 else math.nan,
                "n": int(values.size),
            }
        table[name] = entry
    return table


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over up to ``window`` values (shorter at the start).

    Examples
    --------
    >>> moving_average(np.array([1.0, 3.0, 5.0]), 2).tolist()
    [1.0, 2.0, 4.0]
    """
    values = np.asarray(values, dtype=float)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise ValueError(f"window={window!r} must be a positive integer")
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    upper = np.arange(1, values.size + 1)
    lower = np.maximum(upper - window, 0)
    return (cumulative[upper] - cumulative[lower]) / (upper - lower)


def episodes_to_converge(
    returns: Sequence[float] | np.ndarray,
    *,
    fraction: float = 0.95,
    final_fraction: float = 0.1,
    window: int | None = None,
    reference: float = 0.0,
    episodes: Sequence[float] | np.ndarray | None = None,
) -> int | None:
    """Episodes until the smoothed return first reaches ``fraction`` of the way to the final.

    The final return is the mean over the last ``final_fraction`` of the episodes (at least
    one); the curve is the trailing moving average over ``window`` episodes (default: 5 % of
    the episodes, at least 1). The threshold is ``reference + fraction (final - reference)``:
    with ``reference = 0`` that is "``fraction`` of the final return" (meaningful for positive
    returns); with ``reference`` the return of the untrained (random) policy it measures the
    learned improvement instead.

    ``episodes`` gives the episode count of each value when they are not one per episode
    (an evaluation curve: the returns of the greedy policy after 0, 20, 40, ... episodes); the
    fractions and the window then count values, and the answer is the episode count of the
    first value over the threshold.

    Returns
    -------
    int or None
        The 1-based episode count (or the matching entry of ``episodes``), ``None`` for no
        values.
    """
    values = np.asarray(returns, dtype=float)
    if values.size == 0:
        return None
    if not 0.0 < fraction <= 1.0 or not 0.0 < final_fraction <= 1.0:
        raise ValueError(
            f"fraction={fraction!r} and final_fraction={final_fraction!r} must be in (0, 1]"
        )
    tail = max(1, math.ceil(final_fraction * values.size))
    final = float(values[-tail:].mean())
    window = max(1, round(0.05 * values.size)) if window is None else window
    smooth = moving_average(values, window)
    threshold = reference + fraction * (final - reference)
    above = smooth >= threshold if final >= reference else smooth <= threshold
    index = int(np.argmax(above)) if above.any() else values.size - 1
    if episodes is None:
        return index + 1
    positions = np.asarray(episodes, dtype=float)
    if positions.shape != values.shape:
        raise ValueError(f"episodes has shape {positions.shape}, returns {values.shape}")
    return int(positions[index])


def plot_learning_curve(
    curves: Mapping[str, Sequence[float]],
    path: str | os.PathLike[str],
    *,
    baselines: Mapping[str, float] | None = None,
    evaluations: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    window: int | None = None,
    title: str = "DQN learning curve",
) -> Path:
    """Save episode returns (faint) with their moving average, and baseline levels, as an image.

    Parameters
    ----------
    curves : mapping of str to sequence of float
        Label (e.g. ``"seed 1"``) -> return per episode.
    path : path-like
        ``.png``, ``.pdf`` or ``.svg``; written atomically.
    baselines : mapping of str to float, optional
        Policy name -> mean return per episode, drawn as horizontal lines.
    evaluations : mapping of str to (episodes, returns), optional
        Evaluation curves of the greedy policy (``eval.csv``), drawn with markers.
    window : int, optional
        Moving-average window (default: 5 % of the longest curve, at least 1).
    title : str
        Axes title.
    """
    import matplotlib.pyplot as plt

    from network.simulation.plotting import check_figure_path, save_figure

    target = check_figure_path(path)
    longest = max((len(c) for c in curves.values()), default=1)
    window = max(1, round(0.05 * longest)) if window is None else window
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    for index, (label, values) in enumerate(curves.items()):
        values = np.asarray(values, dtype=float)
        episodes = np.arange(1, values.size + 1)
        color = f"C{index}"
        ax.plot(episodes, values, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(
            episodes,
            moving_average(values, window),
            color=color,
            linewidth=1.8,
            label=f"{label} (mean of {window})",
        )
    for index, (label, (at, values)) in enumerate((evaluations or {}).items()):
        ax.plot(
            np.asarray(at, dtype=float),
            np.asarray(values, dtype=float),
            marker="o",
            markersize=3.5,
            color=f"C{index + len(curves)}",
            linewidth=1.4,
            label=f"{label}, greedy on fixed evaluation episodes",
        )
    shift = len(curves) + len(evaluations or {})
    for index, (name, level) in enumerate((baselines or {}).items()):
        ax.axhline(
            level,
            color=f"C{index + shift}",
            linestyle="--",
            linewidth=1.2,
            label=f"{name} (mean)",
        )
    ax.set_xlabel("episode")
    ax.set_ylabel("episode return\n(delivered key / expected demand, summed)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return save_figure(fig, target)
