r"""The ``abft-qkd pbft`` subcommands: the schedule checker.

Examples (shell)::

    abft-qkd pbft check --replicas 4 --schedules 500 --faulty-weight 0.25 --seed 1
    abft-qkd pbft check --replicas 6 --weights 2,1,1,1,1,1 --faulty-weight 0.29 --seed 3 --json
    abft-qkd pbft check --replicas 4 --schedules 50 --faulty-weight 0.5 --seed 1
    abft-qkd pbft check --replicas 4 --schedules 50 --faulty-weight 0.25 --seed 1 \
        --unsafe-quorum 0.5
    abft-qkd pbft check --replay violation.json

The third and fourth runs find violations (faulty weight above ``F*``; quorum intersection
switched off). ``--faulty-weight W`` is the largest share of the total weight the checker hands
to faulty replicas (which it then drives adversarially); the threshold is ``F*/W`` (printed). The
first safety violation is shrunk to a small schedule, printed with its seed and description;
``--json`` prints ``schedules``, ``safety_violations``, ``liveness_failures``,
``first_violation`` (seed, violation, description and the replayable ``schedule``) and more on
stdout. The exit status is 0 when no safety violation was found, 1 otherwise, 2 for bad options.
A progress bar goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qkdcircuits.cli.arguments import finite_float, non_negative_count, parse_value, positive_count

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``pbft check`` to the ``abft-qkd`` dispatcher's ``subparsers``."""
    pbft = subparsers.add_parser(
        "pbft",
        help="PBFT consensus with weighted quorums: schedule checker",
        description="PBFT consensus with weighted quorums and QKD-keyed authenticators.",
    )
    commands = pbft.add_subparsers(dest="pbft_command", metavar="COMMAND", required=True)
    check = commands.add_parser(
        "check",
        help="run random Twins-style schedules and check safety and liveness",
        description=(
            "Run seeded random schedules (faulty identities, partitions per round, drops, "
            "duplicates, delays, leader choices) and check the PBFT invariants after every event."
        ),
    )
    check.add_argument("--replicas", default="4", help="number of replicas N (default 4)")
    check.add_argument("--schedules", default="100", help="schedules to run (default 100)")
    check.add_argument(
        "--faulty-weight",
        default="0.25",
        help="largest share of the total weight held by faulty replicas (default 0.25)",
    )
    check.add_argument("--seed", default="0", help="master seed (default 0)")
    check.add_argument("--weights", help="replica weights w1,w2,... (default all 1)")
    check.add_argument("--f", help="faults tolerated (default (N-1)//3)")
    check.add_argument(
        "--unsafe-quorum",
        metavar="FRACTION",
        help="disable the F* < W/3 and intersection checks and use this quorum fraction",
    )
    check.add_argument(
        "--key-bits",
        help="key bits per directed channel, never replenished (shows key exhaustion)",
    )
    check.add_argument("--no-shrink", action="store_true", help="report violations unshrunk")
    check.add_argument("--replay", metavar="FILE", help="replay a schedule (JSON) and exit")
    check.add_argument("--json", action="store_true", help="JSON on stdout")
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    from network.consensus.checker import check, replay_schedule

    if args.replay is not None:
        try:
            data = json.loads(Path(args.replay).read_text())
        except OSError as exc:
            raise ValueError(f"--replay {args.replay!r}: {exc.strerror or exc}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"--replay {args.replay!r}: invalid JSON: {exc}") from None
        outcome = replay_schedule(data)
        result = {
            "violation": outcome.violation,
            "liveness_failure": outcome.liveness_failure,
            "completed": outcome.completed,
            "expected": outcome.expected,
            "events": outcome.events,
        }
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(f"violation: {outcome.violation}", file=sys.stderr)
            liveness = outcome.liveness_failure or "all requests completed"
            print(f"liveness: {liveness}", file=sys.stderr)
        return 1 if outcome.violation else 0

    replicas = parse_value(positive_count, args.replicas, "--replicas")
    schedules = parse_value(positive_count, args.schedules, "--schedules")
    seed = parse_value(non_negative_count, args.seed, "--seed")
    faulty = parse_value(finite_float, args.faulty_weight, "--faulty-weight")
    if not 0 <= faulty <= 1:
        raise ValueError(f"--faulty-weight {args.faulty_weight!r} must be in [0, 1]")
    weights = None
    if args.weights is not None:
        weights = tuple(
            parse_value(finite_float, w, "--weights entry") for w in args.weights.split(",")
        )
        if len(weights) != replicas:
            raise ValueError(f"--weights has {len(weights)} entries but --replicas is {replicas}")
    f = None if args.f is None else parse_value(non_negative_count, args.f, "--f")
    unsafe = (
        None
        if args.unsafe_quorum is None
        else parse_value(finite_float, args.unsafe_quorum, "--unsafe-quorum")
    )
    key_bits = (
        None
        if args.key_bits is None
        else parse_value(non_negative_count, args.key_bits, "--key-bits")
    )

    from network.consensus.quorums import WeightedQuorums

    quorums = WeightedQuorums(weights or (1,) * replicas, f, unsafe)  # bad weights: one line
    from tqdm import tqdm

    with tqdm(total=schedules, file=sys.stderr, unit="schedule", disable=None) as bar:
        report = check(
            replicas=replicas,
            schedules=schedules,
            faulty_weight=faulty,
            seed=seed,
            weights=weights,
            f=f,
            unsafe_quorum_fraction=unsafe,
            shrink_violations=not args.no_shrink,
            key_bits=key_bits,
            progress=bar.update,
        )
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(
            f"{report.schedules} schedules, N={replicas}, faulty weight <= {faulty:g} of W "
            f"(tolerated: F*/W = {quorums.tolerated_fraction:.4g}"
            + (", quorum checks DISABLED" if quorums.unsafe else "")
            + f"); {report.above_threshold} schedules above the threshold",
            file=sys.stderr,
        )
        print(
            f"safety violations: {report.safety_violations}; liveness failures: "
            f"{report.liveness_failures}; messages: {report.messages}; "
            f"rejected authenticators: {report.auth_rejected}",
            file=sys.stderr,
        )
        first = report.first_violation
        if first is not None:
            print(
                f"first violation (schedule seed {first['seed']}): {first['violation']}",
                file=sys.stderr,
            )
            print("minimal schedule:\n" + first["description"], file=sys.stderr)
            print("replay: save --json output and pass it to --replay", file=sys.stderr)
    return 1 if report.safety_violations else 0
