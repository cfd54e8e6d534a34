"""Run the experiment: train the DQN allocators, evaluate the three systems, aggregate.

Tasks go through :func:`network.sweep.run_tasks` on the executor asked for, in two sweeps: the
training runs with the static systems' episodes (the pool stays busy while the agents learn),
then the ABFT-DRA episodes (they need the weights). Every finished task is stored in the
:class:`~rl.reproduce.cache.ResultCache` at once, so an interrupted run resumes.

Common random numbers: every system is evaluated on the same episode seeds; at one seed and
fraction the three systems share the Byzantine placement, the link fluctuations and the key
requests (the environment draws them from the episode seed). ABFT-DRA's episode ``k`` uses the
agent of training seed ``k mod train_seeds``, so the spread over evaluation seeds includes the
training spread.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rl._io import write_atomic
from rl.reproduce.cache import ResultCache
from rl.reproduce.config import SYSTEMS, ReproduceConfig
from rl.reproduce.tasks import EPISODE_METRICS, evaluate_task, train_task

__all__ = ["TABLE_METRICS", "aggregate", "reproduce", "run_experiment", "run_task", "statistics"]

TABLE_METRICS: tuple[str, ...] = ("relative_key_rate", *EPISODE_METRICS)
"""Per-episode quantities aggregated per (system, fraction)."""


def run_task(kind: str, spec: dict[str, Any], checkpoint: bytes | None = None) -> dict[str, Any]:
    """Run one task: ``"train"`` (:func:`train_task`) or ``"evaluate"`` (:func:`evaluate_task`)."""
    if kind == "train":
        return train_task(spec)
    if kind == "evaluate":
        return evaluate_task(spec, checkpoint)
    raise ValueError(f"kind={kind!r} must be 'train' or 'evaluate'")


def statistics(values: Any) -> dict[str, Any]:
    """Mean, seed-to-seed standard deviation and 95 % t interval of the finite ``values``.

    The interval is ``mean ± t_{0.975, n-1} s / sqrt(n)`` (Student's t over seeds); with fewer
    than two values the spread and interval are ``nan``.

    Examples
    --------
    >>> s = statistics([1.0, 2.0, 3.0, float("nan")])
    >>> s["mean"], s["std"], s["n"], round(s["ci95"][1], 4)
    (2.0, 1.0, 3, 4.4841)
    """
    from scipy.stats import t

    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    n = int(array.size)
    mean = float(array.mean()) if n else math.nan
    std = float(array.std(ddof=1)) if n > 1 else math.nan
    half = float(t.ppf(0.975, n - 1) * std / math.sqrt(n)) if n > 1 else math.nan
    return {"mean": mean, "std": std, "ci95": [mean - half, mean + half], "n": n}


def _train_specs(config: ReproduceConfig, seeds: list[int]) -> list[dict[str, Any]]:
    env_kwargs = config.env_kwargs(
        defense="abft", fraction=config.train_fraction, slices=config.train_slices
    )
    return [
        {
            "env_kwargs": env_kwargs,
            "episodes": config.train_episodes,
            "seed": seed,
            "eval_every": config.eval_every,
            "eval_episodes": config.eval_episodes,
            "dqn": config.dqn,
        }
        for seed in seeds
    ]


def _trace_fraction(config: ReproduceConfig) -> float:
    """Return the Byzantine fraction of the QBER-over-time plot: the one nearest to 0.2."""
    return min(config.fractions, key=lambda f: (abs(f - 0.2), f))


def run_experiment(
    config: ReproduceConfig,
    *,
    cache_dir: str | Path,
    executor: Any,
    progress: bool = False,
    version: str | None = None,
) -> dict[str, Any]:
    """Run (or resume) the experiment of ``config`` and return its aggregated results.

    Parameters
    ----------
    config : ReproduceConfig
        What to run.
    cache_dir : path-like
        The task cache (:class:`ResultCache`).
    executor : concurrent.futures.Executor
        From :func:`network.sweep.open_executor`.
    progress : bool
        Progress bars on stderr.
    version : str, optional
        Code version of the cache keys (default: the hash of the source files).

    Returns
    -------
    dict
        See :func:`aggregate`; plus ``timings`` and ``cache`` (hits and computed tasks).
    """
    from network.sweep import run_tasks

    start = time.perf_counter()
    cache = ResultCache(cache_dir, version=version)
    seeds = config.seeds()
    train_specs = _train_specs(config, seeds["training"])
    train_keys = [
        cache.key({"task": "train", **{k: v for k, v in s.items() if k != "seed"}}, seed=s["seed"])
        for s in train_specs
    ]
    trace_fraction = _trace_fraction(config)

    def eval_spec(system: str, fraction: float, index: int, seed: int) -> dict[str, Any]:
        info = SYSTEMS[system]
        return {
            "env_kwargs": config.env_kwargs(
                defense=info["defense"], fraction=fraction, slices=config.eval_slices
            ),
            "policy": info["policy"],
            "seed": seed,
            "trace": index == 0 and fraction == trace_fraction,
            "agent": train_keys[index % len(train_keys)] if info["policy"] == "dqn" else None,
        }

    evaluations: dict[tuple[str, float, int], dict[str, Any]] = {}
    cells = [
        (system, fraction, index, seed)
        for system in SYSTEMS
        for fraction in config.fractions
        for index, seed in enumerate(seeds["evaluation"])
    ]
    eval_keys = {}
    for system, fraction, index, seed in cells:
        spec = eval_spec(system, fraction, index, seed)
        eval_keys[(system, fraction, index)] = (
            cache.key(
                {"task": "evaluate", **{k: v for k, v in spec.items() if k != "seed"}}, seed=seed
            ),
            spec,
        )

    trained: dict[int, dict[str, Any]] = {}
    for index, key in enumerate(train_keys):
        entry = cache.get(key)
        if entry is not None and cache.path(key, ".pt").is_file():
            trained[index] = entry
    for cell, (key, _) in eval_keys.items():
        entry = cache.get(key)
        if entry is not None:
            evaluations[cell] = entry
    cached = len(trained) + len(evaluations)

    def checkpoint(index: int) -> bytes:
        return cache.path(train_keys[index % len(train_keys)], ".pt").read_bytes()

    # Sweep 1: training runs, then the static systems' episodes.
    jobs: list[tuple[Any, ...]] = []
    targets: list[Callable[[dict[str, Any]], None]] = []
    for index, spec in enumerate(train_specs):
        if index not in trained:
            jobs.append(("train", spec))
            targets.append(_store_training(cache, train_keys[index], trained, index))
    later: list[tuple[tuple[str, float, int], str, dict[str, Any]]] = []
    for cell, (key, spec) in eval_keys.items():
        if cell in evaluations:
            continue
        if spec["policy"] == "dqn":
            later.append((cell, key, spec))
            continue
        jobs.append(("evaluate", spec))
        targets.append(_store_evaluation(cache, key, evaluations, cell))
    computed = len(jobs) + len(later)
    _sweep(run_tasks, jobs, targets, executor, progress, "train + static systems")
    # Sweep 2: ABFT-DRA episodes with the trained weights.
    jobs = [("evaluate", spec, checkpoint(cell[2])) for cell, _, spec in later]
    targets = [_store_evaluation(cache, key, evaluations, cell) for cell, key, _ in later]
    _sweep(run_tasks, jobs, targets, executor, progress, "ABFT-DRA episodes")

    results = aggregate(config, seeds, [trained[i] for i in range(len(train_keys))], evaluations)
    results["timings"] = {"wall_s": time.perf_counter() - start}
    results["cache"] = {
        "cached_tasks": cached,
        "computed_tasks": computed,
        "folder": str(cache_dir),
    }
    results["code_version"] = cache.version
    return results


def _store_training(
    cache: ResultCache, key: str, trained: dict[int, Any], index: int
) -> Callable[[dict[str, Any]], None]:
    def store(result: dict[str, Any]) -> None:
        weights = result.pop("checkpoint")
        write_atomic(cache.path(key, ".pt"), lambda handle: handle.write(weights), binary=True)
        cache.put(key, result)
        trained[index] = result

    return store


def _store_evaluation(
    cache: ResultCache, key: str, evaluations: dict[Any, Any], cell: Any
) -> Callable[[dict[str, Any]], None]:
    def store(result: dict[str, Any]) -> None:
        cache.put(key, result)
        evaluations[cell] = result

    return store


def _sweep(run_tasks, jobs, targets, executor, progress, description) -> None:
    """Run ``jobs``, storing each result as it finishes.

    A serial executor runs a task when it is submitted, before :func:`run_tasks` reaches its
    ``on_result``; it gets one task per call so that each result is stored before the next
    task starts (an interrupt then loses only the running task).
    """
    from network.sweep import SerialExecutor

    if not jobs:
        return
    if not isinstance(executor, SerialExecutor):
        run_tasks(
            run_task,
            jobs,
            executor=executor,
            progress=progress,
            description=description,
            on_result=lambda k, result: targets[k](result),
        )
        return
    import sys

    from tqdm import tqdm

    with tqdm(total=len(jobs), desc=description, file=sys.stderr, disable=not progress) as bar:
        for job, target in zip(jobs, targets, strict=True):
            run_tasks(run_task, [job], executor=executor, on_result=lambda k, r, t=target: t(r))
            bar.update(1)


def aggregate(
    config: ReproduceConfig,
    seeds: dict[str, list[int]],
    training: list[dict[str, Any]],
    evaluations: dict[tuple[str, float, int], dict[str, Any]],
) -> dict[str, Any]:
    """Collect the results of finished tasks: per-cell statistics, training summary, episodes.

    Returns
    -------
    dict
        ``config``, ``seeds``, ``table`` (system -> fraction label -> metric ->
        :func:`statistics`), ``episodes`` (the per-seed values), ``training`` (per training
        seed: curves and ``converged_at``; and ``converged_at`` statistics), ``trace`` (the
        QBER time series of evaluation seed 0 at the fraction nearest 0.2, per system),
        ``byzantine`` (the Byzantine nodes per fraction and evaluation seed).
    """
    n_seeds = len(seeds["evaluation"])
    reference = [evaluations[("baseline", 0.0, k)]["key_rate_bps"] for k in range(n_seeds)]
    table: dict[str, dict[str, Any]] = {}
    episodes: dict[str, dict[str, Any]] = {}
    trace: dict[str, Any] = {}
    for system in SYSTEMS:
        table[system], episodes[system] = {}, {}
        for fraction in config.fractions:
            rows = [evaluations[(system, fraction, k)] for k in range(n_seeds)]
            values: dict[str, list[float]] = {
                "relative_key_rate": [
                    row["key_rate_bps"] / ref if ref > 0 else math.nan
                    for row, ref in zip(rows, reference, strict=True)
                ]
            }
            for name in EPISODE_METRICS:
                values[name] = [row[name] for row in rows]
            label = f"{fraction:g}"
            table[system][label] = {name: statistics(v) for name, v in values.items()}
            episodes[system][label] = values
            if "trace" in rows[0]:
                trace[system] = {"fraction": fraction, **rows[0]["trace"]}
    byzantine = {
        f"{fraction:g}": [
            evaluations[("baseline", fraction, k)]["byzantine"] for k in range(n_seeds)
        ]
        for fraction in config.fractions
    }
    converged = [run["converged_at"] for run in training]
    from network.topology import resolve_topology

    kinds = resolve_topology(config.topology).graph.nodes(data="kind")
    candidates = sum(1 for _, kind in kinds if kind in config.byzantine_kinds)
    return {
        "candidates": candidates,
        "byzantine_counts": {f"{f:g}": math.floor(f * candidates + 0.5) for f in config.fractions},
        "config": config.to_dict(),
        "seeds": seeds,
        "table": table,
        "episodes": episodes,
        "training": {
            "runs": [{k: v for k, v in run.items() if k != "checkpoint"} for run in training],
            "converged_at": statistics([math.nan if c is None else c for c in converged]),
        },
        "trace": trace,
        "byzantine": byzantine,
    }


def reproduce(
    config: ReproduceConfig,
    *,
    out: str | Path,
    executor: str = "process",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = False,
    version: str | None = None,
) -> dict[str, Any]:
    """Run (or resume) the experiment and write its report into ``out``.

    Parameters
    ----------
    config : ReproduceConfig
        What to run.
    out : path-like
        Output folder: ``results.json``, ``results.md``, the figures, and ``cache/``.
    executor : {"process", "dask", "serial"}
        :func:`network.sweep.open_executor` kind.
    workers : int, optional
        Worker processes (default: the CPU count).
    address : str, optional
        Dask scheduler address.
    progress : bool
        Progress bars on stderr.
    version : str, optional
        Code version of the cache keys (default: the hash of the source files).

    Returns
    -------
    dict
        The results (as in ``results.json``, with ``nan`` where JSON has ``null``).
    """
    from network.sweep import open_executor
    from rl.reproduce.report import write_outputs

    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"out={str(folder)!r} exists and is not a folder")
    with open_executor(executor, workers=workers, address=address) as pool:
        results = run_experiment(
            config, cache_dir=folder / "cache", executor=pool, progress=progress, version=version
        )
    results["executor"] = {"kind": executor, "workers": workers, "address": address}
    start = time.perf_counter()
    write_outputs(results, folder)
    results["timings"]["report_s"] = time.perf_counter() - start
    return results
