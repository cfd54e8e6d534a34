"""The ``abft-qkd`` command line.

``main`` is the dispatcher. Each layer of the toolkit contributes subcommands through a
``register(subparsers)`` function listed in the ``abft_qkd.cli`` entry-point group of
``pyproject.toml``; the dispatcher lives in the lowest layer and discovers the others without
importing them by name. Machine-readable output (``--json``) goes to stdout; tables and progress
for people go to stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any

__all__ = ["main", "register"]

ENTRY_POINT_GROUP = "abft_qkd.cli"


def finite_float(text: str) -> float:
    """``argparse`` type for a finite real number (shared by every subcommand)."""
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not finite")
    return value


def _add_common_qubit_options(parser: argparse.ArgumentParser, default_rounds: int) -> None:
    parser.add_argument("--rounds", type=int, default=default_rounds, help="protocol rounds")
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
        type=int,
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
    from qkdcircuits.postprocessing._cli import add_arguments as add_distill_arguments

    add_distill_arguments(parser)


def _fake_backend(name: str | None) -> Any:
    if name is None:
        return None
    try:
        from qiskit_ibm_runtime import fake_provider
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise SystemExit(
            'fake backends need qiskit-ibm-runtime: pip install "abft-qkd[ibm]"'
        ) from exc
    cls = getattr(fake_provider, name, None)
    if cls is None:
        raise SystemExit(
            f"--fake-backend {name!r}: no such backend in qiskit_ibm_runtime.fake_provider"
        )
    return cls()


def _print_table(rows: list[tuple[str, str]], title: str) -> None:
    width = max(len(k) for k, _ in rows)
    print(title, file=sys.stderr)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}", file=sys.stderr)


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
        from qkdcircuits.postprocessing import _cli as distill_cli

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
    _print_table(rows, title)
    if record is not None:
        _print_table(distill_cli.rows(record), "Post-processing")


def _run_mdi(args: argparse.Namespace) -> int:
    from qkdcircuits.engine import simulate_mdi
    from qkdcircuits.noise import ArmNoise

    noise = ArmNoise(depolarizing_prob=args.depolarizing, misalignment_rad=args.misalignment_rad)
    result = simulate_mdi(
        rounds=args.rounds,
        variant=args.variant,
        noise=noise,
        z_basis_prob=args.z_basis_prob,
        seed=args.seed,
        shots=args.shots,
        backend=_fake_backend(args.fake_backend),
    )
    _emit(result, args, "MDI-QKD (qubit level)", [("BSM variant", args.variant)])
    return 0


def _run_bb84(args: argparse.Namespace) -> int:
    from qkdcircuits.engine import simulate_bb84
    from qkdcircuits.noise import ArmNoise

    noise = ArmNoise(depolarizing_prob=args.depolarizing, misalignment_rad=args.misalignment_rad)
    result = simulate_bb84(
        rounds=args.rounds,
        noise=noise,
        z_basis_prob=args.z_basis_prob,
        seed=args.seed,
        shots=args.shots,
        backend=_fake_backend(args.fake_backend),
    )
    _emit(result, args, "BB84 (qubit level)", [])
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the quantum layer's subcommands (``mdi``, ``bb84``, ...) to ``subparsers``."""
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

    for name, module in _EXTRA_COMMANDS:
        _register_optional(subparsers, name, module)


# Subcommands of the quantum layer that live in their own modules: (command, module).
_EXTRA_COMMANDS: tuple[tuple[str, str], ...] = (("keyrate", "qkdcircuits._cli_keyrate"),)


def _register_optional(subparsers: argparse._SubParsersAction, name: str, module: str) -> None:
    import importlib

    importlib.import_module(module).register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with the subcommands of every installed layer."""
    parser = argparse.ArgumentParser(
        prog="abft-qkd",
        description="Circuit-to-consensus toolkit for resilient QKD networks.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    registered = set()
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        if entry_point.value in registered:
            continue
        registered.add(entry_point.value)
        entry_point.load()(subparsers)
    if "qkdcircuits.cli:register" not in registered:
        # Running from a source tree that was not pip-installed: the entry points are missing.
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``abft-qkd`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (ValueError, TypeError) as exc:
        parser.exit(2, f"abft-qkd {args.command}: error: {exc}\n")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our stdout went away (e.g. ``| head``): stop quietly, as Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
