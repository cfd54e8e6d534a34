"""The ``abft-qkd`` command line.

``main`` is the dispatcher. Each layer of the toolkit contributes subcommands through a
``register(subparsers)`` function listed in the ``abft_qkd.cli`` entry-point group of
``pyproject.toml``; the dispatcher lives in the lowest layer and discovers the others without
importing them by name. Machine-readable output (``--json``) goes to stdout; tables and progress
for people go to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from qkdcircuits.cli import keyrate, rounds

__all__ = ["ENTRY_POINT_GROUP", "build_parser", "main", "register"]


ENTRY_POINT_GROUP = "abft_qkd.cli"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the quantum layer's subcommands (``mdi``, ``bb84``, ``keyrate``) to ``subparsers``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The dispatcher's sub-parsers (this is the layer's ``abft_qkd.cli`` entry point).
    """
    rounds.register(subparsers)
    keyrate.register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    """Build the full parser, with the subcommands of every installed layer.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> "mdi" in build_parser().format_help()
    True
    """
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
    """Entry point of the ``abft-qkd`` console script.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments after the program name (``sys.argv[1:]`` when omitted).

    Returns
    -------
    int
        The exit status: 0 on success, 130 on Ctrl-C, 141 when stdout was closed.

    Raises
    ------
    SystemExit
        With status 2 and one line on stderr for bad arguments (argparse's own errors, and any
        ``ValueError``, ``TypeError``, ``ImportError`` or ``MemoryError`` of a subcommand).

    Examples
    --------
    >>> main(["mdi", "--rounds", "0"])
    Traceback (most recent call last):
    SystemExit: 2
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (ValueError, TypeError, ImportError) as exc:
        parser.exit(2, f"abft-qkd {args.command}: error: {_one_line(exc)}\n")
    except MemoryError as exc:
        parser.exit(
            2,
            f"abft-qkd {args.command}: error: out of memory ({_one_line(exc) or 'no detail'}); "
            "use fewer rounds or --counts-only\n",
        )
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our stdout went away (e.g. ``| head``): stop quietly, as Unix tools do.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
