"""Command-line glue for ``abft-qkd mdi --distill`` and ``abft-qkd bb84 --distill``.

The ``mdi`` and ``bb84`` subcommands call :func:`add_arguments` on their parsers and, when
``args.distill`` is set, :func:`run` on the engine result; :func:`rows` turns the record into
lines of the human table (stderr), the record itself goes into the ``--json`` output.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from qkdcircuits.cli._common import finite_float
from qkdcircuits.postprocessing.cascade import CASCADE_PRESETS
from qkdcircuits.postprocessing.distill import DistillConfig, distill_rounds

__all__ = ["add_arguments", "rows", "run"]

# distillation randomness is derived from --seed but independent of the round sampling
_SEED_DOMAIN = 0x4449_5354  # "DIST"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--distill`` and the post-processing options to a subcommand's parser."""
    defaults = DistillConfig()
    group = parser.add_argument_group("post-processing (with --distill)")
    group.add_argument(
        "--distill",
        action="store_true",
        help="distil final keys from the sifted Z-basis bits: QBER sampling, error correction, "
        "verification, privacy amplification and authentication",
    )
    group.add_argument(
        "--ec",
        choices=tuple(CASCADE_PRESETS),
        default="cascade",
        help="error correction: original Brassard-Salvail Cascade or Cascade + BICONF",
    )
    group.add_argument(
        "--pa-epsilon",
        type=finite_float,
        default=defaults.pa_epsilon,
        metavar="EPS",
        help="privacy-amplification security parameter (leftover hash lemma)",
    )
    group.add_argument(
        "--abort-qber",
        type=finite_float,
        default=defaults.abort_qber,
        metavar="Q",
        help="abort when the sampled QBER exceeds this",
    )
    group.add_argument(
        "--sample-fraction",
        type=finite_float,
        default=defaults.sample_fraction,
        metavar="F",
        help="fraction of the sifted key disclosed to estimate the QBER",
    )
    group.add_argument(
        "--verify-bits",
        type=int,
        default=defaults.verification_tag_bits,
        metavar="N",
        help="error-verification hash length in bits (failure probability 2^-N)",
    )


def run(result: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Distil an engine result with the options in ``args``; returns a JSON-ready record."""
    config = DistillConfig(
        sample_fraction=args.sample_fraction,
        abort_qber=args.abort_qber,
        ec=args.ec,
        verification_tag_bits=args.verify_bits,
        pa_epsilon=args.pa_epsilon,
    )
    seed = getattr(args, "seed", None)
    rng = np.random.default_rng([_SEED_DOMAIN, seed]) if seed is not None else None
    return distill_rounds(result, config=config, seed=rng).to_dict()


def _fmt(value: Any, digits: int = 5) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def rows(record: dict[str, Any]) -> list[tuple[str, str]]:
    """Lines ``(label, value)`` of the human-readable distillation table."""
    out = [
        ("sifted key", f"{record['sifted_bits']} bits"),
        (
            "estimation sample",
            f"{record['estimation_bits']} bits, {record['sampled_errors']} errors, "
            f"QBER {_fmt(record['sampled_qber'])} (upper bound "
            f"{_fmt(record['qber_upper_bound'])})",
        ),
        ("left after sampling", f"{record['reconciled_bits']} bits"),
        (
            f"error correction ({record['ec_method']})",
            f"{record['ec_leaked_bits']} bits leaked, f = {_fmt(record['ec_efficiency'], 3)}, "
            f"{record['corrected_bits']} bits corrected",
        ),
        (
            "verification",
            f"{record['verification_bits']} bits leaked, "
            + {True: "keys agree", False: "keys DIFFER", None: "not run"}[record["verified"]],
        ),
        (
            "phase-error rate",
            f"{_fmt(record['phase_error_rate'])} ({record['phase_error_source']})",
        ),
        (
            "privacy amplification",
            f"{record['pa_removed_bits']} bits removed (eps = {record['pa_epsilon']:g})",
        ),
        ("final key", f"{record['final_bits']} bits"),
        ("authentication", f"{record['authentication_bits']} key bits consumed"),
        ("net key", f"{record['net_bits']} bits"),
    ]
    if record["aborted"]:
        out.append(("ABORTED", record["abort_reason"]))
    return out
