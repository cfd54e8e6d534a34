"""The ``mdi`` and ``bb84`` subcommands: qubit-level rounds, QBER and sifted key, ``--distill``.

``--counts-only`` runs the counts-only engines (:mod:`qkdcircuits.engine.counts`), which report
the same statistics for any number of rounds in bounded memory.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from qkdcircuits.cli._common import fake_backend, print_table
from qkdcircuits.cli.arguments import count, finite_float

__all__ = ["register"]


def _add_common_qubit_options(parser: argparse.ArgumentParser, default_rounds: int) -> None:
    parser.add_argument(
        "--rounds",
        type=count,
        default=default_rounds,
        help="protocol rounds (also as 1e9); beyond memory, add --counts-only",
    )
    parser.add_argument(
        "--counts-only",
        action="store_true",
        help="sample only the (setting, outcome) counts: same statistics, no per-round arrays, "
        "bounded memory for any --rounds (not with --distill)",
    )
    parser.add_argument(
        "--depolarizing",
        type=finite_float,
        default=0.0,
        metavar="P",
        help="depolarising probability p on each arm (rho -> (1-p) rho + p I/2)",
    )
    parser.add_argument(
        "--misalignment-rad",
        type=finite_float,
        default=0.0,
        metavar="THETA",
        help="polarisation misalignment angle per arm in radians (error sin^2 theta)",
    )
    parser.add_argument(
        "--z-basis-prob", type=finite_float, default=0.5, help="probability of choosing the Z basis"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (reproducible runs)")
    parser.add_argument(
        "--shots",
        type=count,
        default=None,
        help="sample each setting circuit with this many Aer shots instead of exact probabilities",
    )
    parser.add_argument(
        "--fake-backend",
        default=None,
        metavar="NAME",
        help="run the setting circuits on an IBM fake backend, e.g. FakeBrisbane "
        "(needs the 'ibm' extra)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    from qkdcircuits.cli.distill import add_arguments as add_distill_arguments

    add_distill_arguments(parser)


def _fmt_qber(estimate: Any) -> str:
    if math.isnan(estimate.qber):
        return "n/a (nothing sifted)"
    return (
        f"{estimate.qber:.5f}  [{estimate.low:.5f}, {estimate.high:.5f}] "
        f"({estimate.errors}/{estimate.sifted})"
    )


def _emit(result: Any, args: argparse.Namespace, title: str, extra: list[tuple[str, str]]) -> None:
    record = None
    if args.distill:
        from qkdcircuits.cli import distill as distill_cli

        record = distill_cli.run(result, args)
    if args.json:
        data = result.to_dict()
        if record is not None:
            data["distillation"] = record
        # Serialise first: an unserialisable value must not leave half a document on stdout.
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    rows = [
        ("rounds", f"{result.rounds}"),
        *extra,
        ("heralded", f"{result.heralded} ({result.heralding_rate:.4f})"),
        ("sifted key (Z)", f"{result.sifted_z} bits"),
        ("sifted test (X)", f"{result.sifted_x} bits"),
        (f"QBER Z ({result.z.confidence:.0%} CI)", _fmt_qber(result.z)),
        (f"QBER X ({result.x.confidence:.0%} CI)", _fmt_qber(result.x)),
        ("source", f"{result.metadata['source']}"),
    ]
    print_table(rows, title)
    if record is not None:
        print_table(distill_cli.rows(record), "Post-processing")


def _engine_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments the MDI and BB84 engines share, checked before any circuit runs."""
    from qkdcircuits.noise import ArmNoise

    if args.counts_only and args.distill:
        raise ValueError("--distill needs the sifted bits; it cannot run with --counts-only")
    return {
        "rounds": args.rounds,
        "noise": ArmNoise(
            depolarizing_prob=args.depolarizing, misalignment_rad=args.misalignment_rad
        ),
        "z_basis_prob": args.z_basis_prob,
        "seed": args.seed,
        "shots": args.shots,
        "backend": fake_backend(args.fake_backend),
    }


def _run_mdi(args: argparse.Namespace) -> int:
    from qkdcircuits.engine.counts import simulate_mdi_counts
    from qkdcircuits.engine.rounds import simulate_mdi

    simulate = simulate_mdi_counts if args.counts_only else simulate_mdi
    result = simulate(variant=args.variant, **_engine_arguments(args))
    _emit(result, args, "MDI-QKD (qubit level)", [("BSM variant", args.variant)])
    return 0


def _run_bb84(args: argparse.Namespace) -> int:
    from qkdcircuits.engine.counts import simulate_bb84_counts
    from qkdcircuits.engine.rounds import simulate_bb84

    simulate = simulate_bb84_counts if args.counts_only else simulate_bb84
    result = simulate(**_engine_arguments(args))
    _emit(result, args, "BB84 (qubit level)", [])
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``mdi`` and ``bb84`` subcommands to ``subparsers``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``abft-qkd`` dispatcher's sub-parsers.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="abft-qkd")
    >>> register(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["mdi", "--rounds", "1e10", "--counts-only"])
    >>> args.rounds, args.counts_only
    (10000000000, True)
    """
    mdi = subparsers.add_parser(
        "mdi",
        help="simulate qubit-level MDI-QKD rounds and print QBER and sifted key length",
        description="Run the 16 MDI-QKD setting circuits once, sample the rounds with numpy and "
        "report QBER per basis (with a Wilson 95%% interval) and the sifted key length.",
    )
    _add_common_qubit_options(mdi, default_rounds=1_000_000)
    mdi.add_argument(
        "--variant",
        choices=("gate", "linear-optics"),
        default="gate",
        help="Bell-state measurement: gate-based (all four Bell states) or linear optics "
        "(psi+/psi- only)",
    )
    mdi.set_defaults(handler=_run_mdi)

    bb84 = subparsers.add_parser(
        "bb84",
        help="simulate qubit-level prepare-and-measure BB84 rounds",
    )
    _add_common_qubit_options(bb84, default_rounds=1_000_000)
    bb84.set_defaults(handler=_run_bb84)
