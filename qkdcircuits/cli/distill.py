"""Command-line glue for ``abft-qkd mdi --distill`` and ``abft-qkd bb84 --distill``.

The ``mdi`` and ``bb84`` subcommands call :func:`add_arguments` on their parsers and, when
``args.distill`` is set, :func:`run` on the engine result; :func:`rows` turns the record into
lines of the human table (stderr), the record itself goes into the ``--json`` output.

The authentication key of a command-line run is a stand-in: a fresh 192-bit key from the
operating system for each run (the printed ``--seed`` drives public randomness only).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from qkdcircuits.cli.arguments import finite_float
from qkdcircuits.postprocessing.cascade import CASCADE_PRESETS
from qkdcircuits.postprocessing.distill import (
    MAX_VERIFICATION_TAG_BITS,
    DistillConfig,
    distill_rounds,
)

__all__ = ["add_arguments", "rows", "run"]

# distillation randomness is derived from --seed but independent of the round sampling
_SEED_DOMAIN = 0x4449_5354  # "DIST"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--distill`` and the post-processing options to a subcommand's parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The ``mdi`` or ``bb84`` subcommand's parser.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> parser.parse_args(["--distill", "--pe-epsilon", "1e-12"]).pe_epsilon
    1e-12
    """
    defaults = DistillConfig()
    group = parser.add_argument_group("post-processing (with --distill)")
    group.add_argument(
        "--distill",
        action="store_true",
        help="distil final keys from the sifted Z-basis bits, with the X-basis rounds as the "
        "phase-error test: QBER sampling, error correction, verification, privacy "
        "amplification and authentication",
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
        help="privacy-amplification security parameter eps_PA in (0, 1) (leftover hash lemma)",
    )
    group.add_argument(
        "--pe-epsilon",
        type=finite_float,
        default=defaults.pe_epsilon,
        metavar="EPS",
        help="failure probability eps_PE in (0, 1) of the phase-error bound from the X-basis "
        "test rounds (costs 2 sqrt(eps_PE) of secrecy)",
    )
    group.add_argument(
        "--abort-qber",
        type=finite_float,
        default=defaults.abort_qber,
        metavar="Q",
        help="abort when the sampled key QBER or the X-basis test QBER exceeds this",
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
        help="error-verification hash length in bits, 1 to "
        f"{MAX_VERIFICATION_TAG_BITS} (failure probability 2^-N)",
    )


def run(result: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Distil an engine result with the options in ``args``.

    Parameters
    ----------
    result : MDIRounds or BB84Rounds
        The engine result.
    args : argparse.Namespace
        Parsed options (see :func:`add_arguments`); ``args.seed`` seeds the public randomness.

    Returns
    -------
    dict
        The JSON-ready record of :meth:`DistillResult.to_dict`.

    Raises
    ------
    ValueError
        If an option value is out of range (the message names it).
    """
    config = DistillConfig(
        sample_fraction=args.sample_fraction,
        abort_qber=args.abort_qber,
        ec=args.ec,
        verification_tag_bits=args.verify_bits,
        pa_epsilon=args.pa_epsilon,
        pe_epsilon=args.pe_epsilon,
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
    """Lines ``(label, value)`` of the human-readable distillation table.

    Parameters
    ----------
    record : dict
        A record from :func:`run`.

    Returns
    -------
    list of (str, str)
        Labels and values, ending with ``("ABORTED", reason)`` for an aborted run.
    """
    stand_in = record["auth_key_source"] == "stand-in"
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
            "phase-error test (X)",
            f"{record['phase_test_bits']} bits, {record['phase_test_errors']} errors",
        ),
        (
            f"error correction ({record['ec_method']})",
            f"{record['ec_leaked_bits']} bits leaked, f = {_fmt(record['ec_inefficiency'], 3)}, "
            f"{record['corrected_bits']} bits corrected",
        ),
        (
            "verification",
            f"{record['verification_bits']} bits leaked, "
            + {True: "keys agree", False: "keys DIFFER", None: "not run"}[record["verified"]],
        ),
        (
            "phase-error rate",
            f"<= {_fmt(record['phase_error_rate'])} ({record['phase_error_source']}, "
            f"eps_PE = {record['pe_epsilon']:g})",
        ),
        (
            "privacy amplification",
            f"{record['pa_removed_bits']} bits removed (eps = {record['pa_epsilon']:g})",
        ),
        ("final key", f"{record['final_bits']} bits"),
        (
            "authentication",
            f"{record['authentication_bits']} key bits consumed"
            + (" (stand-in pre-shared key from the OS random source)" if stand_in else ""),
        ),
        ("net key", f"{record['net_bits']} bits"),
        (
            "security (total eps)",
            f"{record['total_epsilon']:.3g} = secrecy {record['secrecy_epsilon']:.3g} + "
            f"correctness {record['correctness_epsilon']:.3g} + authentication "
            f"{record['authentication_epsilon']:.3g}",
        ),
    ]
    if record["aborted"]:
        out.append(("ABORTED", record["abort_reason"]))
    return out
