"""The ``abft-qkd reproduce`` command: the ABFT-DRA experiment end to end.

Registered through the ``abft_qkd.cli`` entry-point group
(``reproduce = "rl.reproduce.cli:register"`` in ``pyproject.toml``).

``abft-qkd reproduce [--quick | --full] [--seeds N] [--seed S] [--out DIR] [--workers N]
[--executor process|dask|serial] [--dask-address ADDR] [--no-progress]``
    Trains the DQN allocators, evaluates baseline, ABFT and ABFT-DRA at 0, 10, 20 and 30 %
    Byzantine nodes on common seeds, and writes ``DIR/results.json``, ``DIR/results.md`` and
    the PNG figures (default ``DIR`` = ``reproduce-results``); task results are cached in
    ``DIR/cache`` so an interrupted run resumes. The Markdown table goes to stdout.

Bad options exit with status 2 and one line on stderr, before anything is written.

Examples (shell)::

    abft-qkd reproduce --quick --out /tmp/quick
    abft-qkd reproduce --workers 2 --out results/default
    abft-qkd reproduce --full --executor dask --dask-address tcp://scheduler:8786
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from network.cli import add_subcommand
from qkdcircuits.cli.arguments import count_at_least, non_negative_count, positive_count

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``abft-qkd reproduce`` to the dispatcher's ``subparsers``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The top-level subparsers of ``abft-qkd``.
    """
    parser = add_subcommand(
        subparsers,
        "reproduce",
        help="reproduce the ABFT-DRA experiment (table, claims, plots)",
        description=(
            "Reproduce the ABFT-DRA experiment on the SECOQC network: baseline (no defence, "
            "static allocation), ABFT (adaptive voting, static allocation) and ABFT-DRA "
            "(adaptive voting, trained DQN) at 0, 10, 20, 30 % Byzantine nodes on common seeds. "
            "Writes results.json, results.md and PNG figures to --out; tasks are cached in "
            "--out/cache, so a rerun resumes."
        ),
    )
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument(
        "--quick", action="store_true", help="tiny scale for tests (under a minute on 2 cores)"
    )
    scale.add_argument(
        "--full",
        action="store_true",
        help="the paper's scale: 1,000 training episodes, 20 seeds, hour-long episodes",
    )
    parser.add_argument(
        "--seeds",
        type=count_at_least(2),
        help="evaluation seeds per cell (>= 2; default 2 quick, 10 default, 20 full)",
    )
    parser.add_argument(
        "--train-seeds",
        type=positive_count,
        help="independent DQN training runs (default 2, full 5)",
    )
    parser.add_argument("--seed", type=non_negative_count, default=0, help="master seed (0)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("reproduce-results"),
        help="output folder (default reproduce-results); the cache is in OUT/cache",
    )
    parser.add_argument(
        "--workers", type=positive_count, help="worker processes (default: the CPU count)"
    )
    parser.add_argument(
        "--executor",
        choices=("process", "dask", "serial"),
        default="process",
        help="process pool (default), Dask (a LocalCluster, or --dask-address), or serial",
    )
    parser.add_argument(
        "--dask-address", help="scheduler of a running Dask cluster (tcp://host:8786)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(handler=_reproduce)


def _reproduce(args: argparse.Namespace) -> int:
    from rl.reproduce.config import ReproduceConfig
    from rl.reproduce.experiment import reproduce

    if args.dask_address is not None and args.executor != "dask":
        raise ValueError(f"--dask-address={args.dask_address!r} needs --executor dask")
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"--out={str(args.out)!r} exists and is not a folder")
    overrides = {"seed": args.seed}
    if args.seeds is not None:
        overrides["eval_seeds"] = args.seeds
    if args.train_seeds is not None:
        overrides["train_seeds"] = args.train_seeds
    name = "quick" if args.quick else "full" if args.full else "default"
    config = ReproduceConfig.scale(name, **overrides)
    results = reproduce(
        config,
        out=args.out,
        executor=args.executor,
        workers=args.workers,
        address=args.dask_address,
        progress=not args.no_progress,
    )
    print((args.out / "results.md").read_text())
    print(
        f"wall time {results['timings']['wall_s']:.1f} s; results in {args.out}",
        file=sys.stderr,
    )
    return 0
