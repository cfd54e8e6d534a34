r"""The ``abft-qkd rl`` command: train the DQN allocator and compare it with the baselines.

Registered through the ``abft_qkd.cli`` entry-point group (``rl = "rl.cli:register"`` in
``pyproject.toml``); torch is imported only when a subcommand runs.

Subcommands
-----------
``abft-qkd rl train --episodes N --seed S --out DIR [environment options] [--device D]
[--checkpoint-every K] [--eval-every K] [--eval-episodes E] [--include-replay] [--tensorboard]
[--no-progress]``
    Train on :class:`rl.env.ResourceAllocationEnv`. Writes ``DIR/log.csv`` (one row per episode:
    return, key rate, QBER mean and variance, epsilon, loss; rewritten atomically after each
    episode), ``DIR/eval.csv`` (the greedy policy on fixed evaluation episodes every K episodes),
    ``DIR/options.json``, ``DIR/checkpoint.pt`` and ``DIR/learning_curve.png``. A
    progress bar goes to stderr; Ctrl-C saves the checkpoint and the log, then exits with 130.
``abft-qkd rl evaluate --policy {dqn:PATH,static,greedy,random} [--policy ...] --episodes M
--seed S [--json] [--plot PNG] [environment options]``
    Every policy on the same episode seeds; a table (mean and standard deviation over the
    episodes) on stderr, JSON on stdout with ``--json``. Environment options default to those
    a ``dqn:`` checkpoint was trained with. With a ``dqn:`` policy whose folder holds the
    training ``log.csv``, the learning curve with the baselines' mean returns is saved (default
    ``learning_curve.png`` beside the checkpoint).

Bad options (an unknown policy, a negative number of episodes, a missing or corrupt checkpoint)
exit with status 2 and one line on stderr.

Examples (shell)::

    abft-qkd rl train --episodes 300 --seed 1 --out runs/dqn1
    abft-qkd rl evaluate --policy dqn:runs/dqn1/checkpoint.pt --policy static --policy greedy \
        --policy random --episodes 20 --seed 7
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from network.cli import add_subcommand
from qkdcircuits.cli.arguments import finite_float, non_negative_count, positive_count

__all__ = ["parse_policy", "register"]

_ENV_OPTIONS = (
    "topology",
    "byzantine_fraction",
    "behaviour",
    "defense",
    "episode_slices",
    "slice_s",
    "fluctuations",
    "utilisation",
    "key_bits",
    "qber_threshold",
)


def _add_env_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("environment (defaults: rl.env.ResourceAllocationEnv)")
    group.add_argument("--topology", help="scenario name or topology file (default secoqc)")
    group.add_argument("--byzantine-fraction", type=finite_float, help="in [0, 0.4] (default 0.2)")
    group.add_argument("--behaviour", help="Byzantine behaviour (default mixed)")
    group.add_argument("--defense", choices=("abft", "none"), help="default abft")
    group.add_argument("--episode-slices", type=positive_count, help="slices per episode (200)")
    group.add_argument("--slice-s", type=finite_float, help="slice length in s (1)")
    group.add_argument("--fluctuations", help="preset: default, static, stormy")
    group.add_argument("--utilisation", type=finite_float, help="demand load in (0, 1] (0.9)")
    group.add_argument("--key-bits", type=positive_count, help="bits per key request (8192)")
    group.add_argument("--qber-threshold", type=finite_float, help="security threshold (0.11)")


def _env_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in _ENV_OPTIONS if getattr(args, name) is not None}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``abft-qkd rl`` with ``train`` and ``evaluate`` to the dispatcher's ``subparsers``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The top-level subparsers of ``abft-qkd``.
    """
    parser = add_subcommand(
        subparsers,
        "rl",
        help="DQN resource allocation: train, evaluate against baselines",
        description="Dynamic resource allocation of a QKD network with a DQN.",
    )
    commands = parser.add_subparsers(dest="rl_command", metavar="SUBCOMMAND", required=True)

    train = add_subcommand(
        commands,
        "train",
        help="train the DQN allocator",
        description="Train the DQN allocator; log, checkpoint and learning curve go to --out.",
    )
    train.add_argument("--episodes", type=non_negative_count, required=True, help="episodes (>= 0)")
    train.add_argument("--seed", type=non_negative_count, required=True, help="seed (>= 0)")
    train.add_argument("--out", type=Path, required=True, help="output folder")
    train.add_argument("--device", default="auto", help="torch device (auto: CUDA if present)")
    train.add_argument(
        "--checkpoint-every",
        type=non_negative_count,
        default=0,
        help="episodes between checkpoints (0: at the end only)",
    )
    train.add_argument(
        "--eval-every",
        type=non_negative_count,
        default=25,
        help="episodes between evaluations of the greedy policy (0: none; default 25)",
    )
    train.add_argument(
        "--eval-episodes", type=positive_count, default=5, help="episodes per evaluation (5)"
    )
    train.add_argument("--include-replay", action="store_true", help="store the replay buffer")
    train.add_argument("--tensorboard", action="store_true", help="also log to TensorBoard")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    agent = train.add_argument_group("agent (defaults: rl.dqn.DQNConfig)")
    agent.add_argument("--learning-starts", type=positive_count)
    agent.add_argument("--epsilon-decay-steps", type=positive_count)
    agent.add_argument("--beta-steps", type=positive_count)
    agent.add_argument("--target-update-interval", type=positive_count)
    agent.add_argument("--buffer-size", type=positive_count)
    _add_env_options(train)
    train.set_defaults(handler=_train)

    evaluate = add_subcommand(
        commands,
        "evaluate",
        help="compare policies on the same seeds",
        description=(
            "Run every policy on the same episode seeds and print a comparison table (stderr; "
            "JSON on stdout with --json)."
        ),
    )
    evaluate.add_argument(
        "--policy",
        action="append",
        required=True,
        help="dqn:PATH, static, greedy or random (repeat, or comma-separate)",
    )
    evaluate.add_argument("--episodes", type=positive_count, required=True, help="episodes (>= 1)")
    evaluate.add_argument("--seed", type=non_negative_count, required=True, help="seed (>= 0)")
    evaluate.add_argument("--json", action="store_true", help="print JSON on stdout")
    evaluate.add_argument("--plot", type=Path, help="learning-curve image (PNG, PDF or SVG)")
    evaluate.add_argument("--device", default="cpu", help="torch device of dqn policies")
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_env_options(evaluate)
    evaluate.set_defaults(handler=_evaluate)


def parse_policy(text: str, *, device: str = "cpu") -> Any:
    """Build a policy from its command-line name: ``static``, ``greedy``, ``random``, ``dqn:PATH``.

    Raises
    ------
    ValueError
        For an unknown name, or a missing, corrupt or incompatible checkpoint.

    Examples
    --------
    >>> parse_policy("greedy").name
    'greedy'
    >>> parse_policy("best")
    Traceback (most recent call last):
    ValueError: unknown policy 'best': use dqn:PATH, static, greedy or random
    """
    from rl.baselines import BASELINES, DQNPolicy

    name = text.strip()
    if name in BASELINES:
        return BASELINES[name]()
    if name.startswith("dqn:") and len(name) > 4:
        from rl.dqn import DQNAgent

        path = Path(name[4:])
        return DQNPolicy(DQNAgent.load(path, device=device), name=f"dqn:{path}", path=path)
    raise ValueError(f"unknown policy {text!r}: use dqn:PATH, static, greedy or random")


def _train(args: argparse.Namespace) -> int:
    import torch

    from rl.dqn import DQNConfig
    from rl.train import episodes_to_converge, plot_learning_curve, train

    overrides = {
        name: getattr(args, name)
        for name in (
            "learning_starts",
            "epsilon_decay_steps",
            "beta_steps",
            "target_update_interval",
            "buffer_size",
        )
        if getattr(args, name) is not None
    }
    config = DQNConfig(**overrides)
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out {str(args.out)!r} is a file, not a folder")
    torch.use_deterministic_algorithms(True)
    result = train(
        episodes=args.episodes,
        seed=args.seed,
        env_kwargs=_env_kwargs(args),
        config=config,
        device=args.device,
        out_dir=args.out,
        checkpoint_every=args.checkpoint_every,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        include_replay=args.include_replay,
        progress=not args.no_progress,
        tensorboard=args.tensorboard,
    )
    returns = result.returns
    if returns.size:
        label = f"seed {args.seed}"
        evaluations = {}
        if result.eval_log:
            at = [row["episode"] for row in result.eval_log]
            evaluations[label] = (at, [row["return"] for row in result.eval_log])
        plot_learning_curve(
            {label: returns}, args.out / "learning_curve.png", evaluations=evaluations
        )
        tail = max(1, math.ceil(0.1 * returns.size))
        print(
            f"{returns.size} episodes; final training return (mean of last {tail}) "
            f"{returns[-tail:].mean():.3f}; 95% of it reached after "
            f"{episodes_to_converge(returns)} episodes",
            file=sys.stderr,
        )
        if len(result.eval_log) > 1:
            at, values = evaluations[label]
            print(f"greedy evaluations: {_learning_summary(at, values)}", file=sys.stderr)
        print(f"written to {args.out}", file=sys.stderr)
    if result.interrupted:
        print(f"interrupted: checkpoint and log saved in {args.out}", file=sys.stderr)
        return 130
    return 0


def _learning_summary(at: list[float], values: list[float]) -> str:
    """Before, after, and when the evaluation curve got 95 % of the way (if it moved at all).

    The improvement counts only if it exceeds twice the standard deviation of the evaluations
    over the second half of training (where a converged curve only fluctuates).
    """
    from rl.train import episodes_to_converge

    array = np.asarray(values, dtype=float)
    late = array[array.size // 2 :]
    spread = float(late.std(ddof=1)) if late.size > 1 else 0.0
    final = float(late.mean())
    text = (
        f"return {array[0]:.3f} before training, {final:.3f} over the second half "
        f"(sd {spread:.3f}, range {array.min():.3f} to {array.max():.3f})"
    )
    if final - array[0] <= 2.0 * spread:
        return text + "; no improvement beyond the spread of the evaluations"
    done = episodes_to_converge(array, episodes=at, window=1, reference=float(array[0]))
    return text + f"; 95% of the improvement reached after {done} episodes"


def _format(entry: dict[str, Any], scale: float = 1.0, digits: int = 3) -> str:
    mean, std = entry["mean"], entry["std"]
    if math.isnan(mean):
        return "n/a"
    text = f"{mean * scale:.{digits}f}"
    return text if math.isnan(std) else f"{text} ± {std * scale:.{digits}f}"


def _table(summary: dict[str, dict[str, Any]]) -> str:
    header = (
        "policy",
        "return",
        "key rate (kbit/s)",
        "served",
        "QBER mean (%)",
        "QBER var (1e-5)",
        "QBER var in fluct. (1e-5)",
    )
    rows = [header]
    for name, entry in summary.items():
        rows.append(
            (
                name,
                _format(entry["return"], digits=2),
                _format(entry["key_rate_bps"], 1e-3, 2),
                _format(entry["served_fraction"]),
                _format(entry["qber_mean"], 100, 3),
                _format(entry["qber_var"], 1e5, 3),
                _format(entry["qber_var_fluct"], 1e5, 3),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _evaluate(args: argparse.Namespace) -> int:
    from network.simulation.plotting import check_figure_path
    from rl.train import (
        EVAL_FIELDS,
        evaluate_policies,
        plot_learning_curve,
        read_log,
        summarise,
    )

    names = [part for item in args.policy for part in item.split(",") if part.strip()]
    if not names:
        raise ValueError("--policy names no policy")
    policies = [parse_policy(name, device=args.device) for name in names]
    dqn = [p for p in policies if getattr(p, "path", None) is not None]
    env_kwargs: dict[str, Any] = {}
    if dqn:
        env_kwargs.update(dqn[0].agent.extra.get("env_kwargs", {}))
    env_kwargs.update(_env_kwargs(args))
    logs = {p.name: p.path.parent / "log.csv" for p in dqn if (p.path.parent / "log.csv").is_file()}
    plot = args.plot
    if plot is None and logs:
        plot = next(iter(logs.values())).parent / "learning_curve.png"
    if plot is not None:
        if not logs:
            raise ValueError("--plot needs a dqn:PATH policy whose folder holds its log.csv")
        check_figure_path(plot)
    from rl.env import ResourceAllocationEnv

    probe = ResourceAllocationEnv(**env_kwargs)
    for policy in dqn:
        agent = policy.agent
        if (agent.obs_dim, agent.n_actions) != (
            probe.observation_space.shape[0],
            int(probe.action_space.n),
        ):
            raise ValueError(
                f"{policy.name} was trained for observations of {agent.obs_dim} and "
                f"{agent.n_actions} actions; this environment has "
                f"{probe.observation_space.shape[0]} and {probe.action_space.n}"
            )
    results = evaluate_policies(
        policies,
        episodes=args.episodes,
        seed=args.seed,
        env_kwargs=env_kwargs,
        progress=not args.no_progress,
    )
    summary = summarise(results)
    print(_table(summary), file=sys.stderr)
    if plot is not None:
        curves = {name: [row["return"] for row in read_log(path)] for name, path in logs.items()}
        evaluations = {}
        for name, path in logs.items():
            if (path.parent / "eval.csv").is_file():
                rows = read_log(path.parent / "eval.csv", EVAL_FIELDS)
                evaluations[name] = ([r["episode"] for r in rows], [r["return"] for r in rows])
        baselines = {name: entry["return"]["mean"] for name, entry in summary.items()}
        plot_learning_curve(curves, plot, baselines=baselines, evaluations=evaluations)
        print(f"learning curve saved to {plot}", file=sys.stderr)
    if args.json:
        out = {
            "seed": args.seed,
            "episodes": args.episodes,
            "env_kwargs": env_kwargs,
            "summary": summary,
            "per_episode": {name: [s.row() for s in stats] for name, stats in results.items()},
        }
        json.dump(_finite(out), sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (valid JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
