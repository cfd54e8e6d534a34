"""The experiment's units of work: one DQN training run, one evaluation episode.

Both are module-level functions of plain arguments that return plain results (picklable, small),
so any :mod:`concurrent.futures` executor runs them (:func:`network.sweep.run_tasks`) and the
results do not depend on which one nor on how many workers. Torch runs on one thread in each
task: with one thread the network's arithmetic, hence the trained weights, are the same in every
worker.

Definitions of what an evaluation episode records (from :mod:`network.simulation.metrics`):
``key_rate_bps`` (correct key delivered to the demand pairs per second), ``availability``
(mean over pairs of the fraction of requests served with a correct unexposed key),
``exposed_key_fraction``, ``qber_mean`` / ``qber_max`` / ``qber_above`` (measured QBER of the
links the delivered keys crossed: bit-weighted mean, maximum, fraction of bits above the
threshold) and ``qber_var_fluct`` (variance of the measured QBER of used links in fluctuation
periods).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["EPISODE_METRICS", "convergence_episode", "evaluate_task", "train_task"]

EPISODE_METRICS: dict[str, str] = {
    "key_rate_bps": "delivered_key_bps",
    "availability": "availability",
    "served_fraction": "served_fraction",
    "exposed_key_fraction": "exposed_key_fraction",
    "qber_mean": "mean_used_qber",
    "qber_max": "max_used_qber",
    "qber_above": "used_qber_above_threshold",
    "qber_var_fluct": "qber_variance_fluctuation",
    "qber_var": "qber_variance_all",
}
"""Recorded name -> key of :meth:`network.simulation.metrics.RunMetrics.to_dict`."""


def convergence_episode(episodes: list[float], returns: list[float]) -> int | None:
    """Training episodes until the greedy policy's evaluation return converged.

    The evaluation curve is the return of the greedy policy on the same fixed episodes after
    0, ``eval_every``, ... training episodes. It has converged at the first evaluation whose
    return reaches 95 % of the way from the untrained policy's return (the first point) to the
    final return (mean of the last 10 % of the points, at least one):
    :func:`rl.train.episodes_to_converge` with ``reference`` the first point and no smoothing.

    Examples
    --------
    >>> convergence_episode([0, 10, 20, 30, 40], [1.0, 5.0, 9.0, 10.0, 10.0])
    30
    """
    from rl.train import episodes_to_converge

    values = np.asarray(returns, dtype=float)
    if values.size == 0:
        return None
    return episodes_to_converge(
        values, window=1, reference=float(values[0]), episodes=np.asarray(episodes, dtype=float)
    )


def train_task(spec: dict[str, Any]) -> dict[str, Any]:
    """Train one DQN allocator (:func:`rl.train.train`) and return its curves and weights.

    Parameters
    ----------
    spec : dict
        ``env_kwargs``, ``episodes``, ``seed``, ``eval_every``, ``eval_episodes``, ``dqn``
        (:class:`rl.dqn.DQNConfig` fields).

    Returns
    -------
    dict
        ``returns`` (per training episode), ``eval_at`` / ``eval_returns`` (the greedy policy's
        evaluation curve), ``converged_at`` (:func:`convergence_episode`), ``wall_s`` and
        ``checkpoint`` (the checkpoint file's bytes).
    """
    from rl.dqn import DQNConfig
    from rl.train import train

    start = time.perf_counter()
    result = train(
        episodes=int(spec["episodes"]),
        seed=int(spec["seed"]),
        env_kwargs=spec["env_kwargs"],
        config=DQNConfig.from_dict(spec["dqn"]),
        device="cpu",
        eval_every=int(spec["eval_every"]),
        eval_episodes=int(spec["eval_episodes"]),
        threads=1,
    )
    if result.interrupted:
        raise KeyboardInterrupt
    at = [float(row["episode"]) for row in result.eval_log]
    values = [float(row["return"]) for row in result.eval_log]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoint.pt"
        result.agent.save(path, extra={"env_kwargs": spec["env_kwargs"], "seed": spec["seed"]})
        checkpoint = path.read_bytes()
    return {
        "seed": int(spec["seed"]),
        "returns": [float(x) for x in result.returns],
        "eval_at": at,
        "eval_returns": values,
        "converged_at": convergence_episode(at, values),
        "wall_s": time.perf_counter() - start,
        "checkpoint": checkpoint,
    }


def _policy(name: str, checkpoint: bytes | None) -> Any:
    from rl.baselines import DQNPolicy, StaticPolicy

    if name == "static":
        return StaticPolicy()
    if name != "dqn" or checkpoint is None:
        raise ValueError(f"policy={name!r} must be 'static', or 'dqn' with a checkpoint")
    import torch

    from rl.dqn import DQNAgent

    torch.set_num_threads(1)
    fd, tmp = tempfile.mkstemp(suffix=".pt")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(checkpoint)
        agent = DQNAgent.load(tmp, device="cpu")
    finally:
        os.unlink(tmp)
    return DQNPolicy(agent)


def evaluate_task(spec: dict[str, Any], checkpoint: bytes | None = None) -> dict[str, Any]:
    """Run one evaluation episode of one system at one Byzantine fraction.

    Parameters
    ----------
    spec : dict
        ``env_kwargs``, ``policy`` (``"static"`` or ``"dqn"``), ``seed`` (the episode seed,
        shared by every system: same placement, fluctuations and demands) and ``trace``
        (record the per-slice QBER time series).
    checkpoint : bytes, optional
        The DQN checkpoint (for ``policy="dqn"``).

    Returns
    -------
    dict
        The metrics of :data:`EPISODE_METRICS` (``nan`` where undefined), ``return``, the
        Byzantine nodes, and with ``trace`` the lists ``t_s``, ``qber`` (mean measured QBER over
        the links that sifted) and ``fluct`` (links in a fluctuation period).
    """
    from rl.env import ResourceAllocationEnv
    from rl.train import run_episode

    env = ResourceAllocationEnv(**spec["env_kwargs"])
    policy = _policy(spec["policy"], checkpoint)
    trace: dict[str, list[float]] = {"t_s": [], "qber": [], "fluct": []}

    def on_step(obs, action, reward, next_obs, terminated, info) -> None:
        if spec.get("trace"):
            trace["t_s"].append(float(len(trace["t_s"]) + 1))
            trace["qber"].append(float(info["mean_qber"]))
            trace["fluct"].append(float(info["links_in_fluctuation"]))

    metrics: dict[str, Any] = {}

    def act(obs: np.ndarray, info: dict[str, Any]) -> int:
        return policy.act(env, obs, info)

    stats = run_episode(env, act, seed=int(spec["seed"]), on_step=on_step)
    summary = env.simulation.metrics.summary(env.simulation.now_s).to_dict()
    for name, key in EPISODE_METRICS.items():
        value = summary.get(key)
        metrics[name] = math.nan if value is None else float(value)
    out = {
        "seed": int(spec["seed"]),
        "return": float(stats.episode_return),
        **metrics,
        "byzantine": sorted(
            str(node) for node, b in env.simulation.behaviours.items() if b.compromised
        ),
    }
    if spec.get("trace"):
        out["trace"] = trace
    return out
