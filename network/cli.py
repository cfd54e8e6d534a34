"""The ``abft-qkd network`` command: the network layer's subcommands.

Registered through the ``abft_qkd.cli`` entry-point group (``network = "network.cli:register"``
in ``pyproject.toml``), so the dispatcher in :mod:`qkdcircuits.cli` hosts it without importing
this layer by name.

Subcommands
-----------
``abft-qkd network topologies [--json]``
    The built-in topologies: name, description, sources, node names and kinds, node and link
    counts. A table goes to stderr; with ``--json``, a JSON list goes to stdout.

Examples (shell)::

    abft-qkd network topologies
    abft-qkd network topologies --json | python -m json.tool

Bad options exit with status 2 and one line on stderr naming the (sub)command. Subcommands added
later (``simulate``) are created in :func:`register` with :func:`add_subcommand` so that they
behave the same.
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from collections.abc import Sequence
from typing import Any, NoReturn

__all__ = ["add_subcommand", "register", "topologies_listing"]


def _error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    """One line on stderr and exit status 2 (argparse would add the usage first)."""
    parser.exit(2, f"{parser.prog}: error: {message}\n")


def _parse_known_args(
    parser: argparse.ArgumentParser,
    args: Sequence[str] | None = None,
    namespace: argparse.Namespace | None = None,
) -> tuple[argparse.Namespace, list[str]]:
    """Like argparse's, but an unknown option is an error of this (sub)command."""
    parsed, extras = argparse.ArgumentParser.parse_known_args(parser, args, namespace)
    if extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    return parsed, extras


def _strict(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make ``parser`` report bad options in one line, naming its own command."""
    parser.error = types.MethodType(_error, parser)  # type: ignore[method-assign]
    parser.parse_known_args = types.MethodType(_parse_known_args, parser)  # type: ignore[method-assign]
    return parser


def add_subcommand(
    commands: argparse._SubParsersAction, name: str, **kwargs: Any
) -> argparse.ArgumentParser:
    """Add ``abft-qkd network NAME``: a parser that reports bad options in one line.

    Parameters
    ----------
    commands : argparse._SubParsersAction
        The subparsers of the ``network`` command (created in :func:`register`).
    name : str
        Subcommand name.
    **kwargs
        Passed to ``add_parser`` (``help``, ``description``, ...).

    Returns
    -------
    argparse.ArgumentParser
        The new parser; give it arguments and ``set_defaults(handler=...)``.
    """
    return _strict(commands.add_parser(name, **kwargs))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``network`` command and its subcommands to the dispatcher's ``subparsers``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The top-level subparsers of ``abft-qkd``.
    """
    parser = _strict(
        subparsers.add_parser(
            "network",
            help="QKD network layer: topologies (and simulation)",
            description="The network layer of abft-qkd.",
        )
    )
    commands = parser.add_subparsers(dest="network_command", metavar="SUBCOMMAND", required=True)
    topologies = add_subcommand(
        commands,
        "topologies",
        help="list the built-in topologies with their sources",
        description=(
            "List the built-in QKD network topologies: sources, node names and kinds, link "
            "counts. Table on stderr; --json prints a JSON list on stdout."
        ),
    )
    topologies.add_argument("--json", action="store_true", help="print JSON on stdout")
    topologies.set_defaults(handler=_topologies)


def topologies_listing() -> list[dict[str, Any]]:
    """What ``abft-qkd network topologies --json`` prints: one summary per built-in scenario.

    Returns
    -------
    list of dict
        :meth:`~network.topology.QKDTopology.summary` of each scenario, in registry order.

    Examples
    --------
    >>> [entry["name"] for entry in topologies_listing()]
    ['secoqc', 'tokyo', 'cambridge', 'backbone']
    """
    from network.topology import SCENARIOS, scenario

    return [scenario(name).summary() for name in SCENARIOS]


def _table(listing: list[dict[str, Any]]) -> str:
    header = ("name", "trusted", "endpoint", "relay", "bb84", "mdi", "km total", "source")
    rows = [header]
    for entry in listing:
        nodes, links = entry["node_counts"], entry["link_counts"]
        rows.append(
            (
                entry["name"],
                str(nodes["trusted"]),
                str(nodes["endpoint"]),
                str(nodes["relay"]),
                str(links["bb84-decoy"]),
                str(links["mdi"]),
                f"{entry['total_length_km']:.1f}",
                entry["sources"][0],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def _topologies(args: argparse.Namespace) -> int:
    listing = topologies_listing()
    print(_table(listing), file=sys.stderr)
    if args.json:
        json.dump(listing, sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0
