"""The ``abft-qkd network`` command: the network layer's subcommands.

Registered through the ``abft_qkd.cli`` entry-point group (``network = "network.cli:register"``
in ``pyproject.toml``), so the dispatcher in :mod:`qkdcircuits.cli` hosts it without importing
this layer by name.

Subcommands
-----------
``abft-qkd network topologies [--json]``
    The built-in topologies: name, description, sources, node names and kinds, node and link
    counts. A table goes to stderr; with ``--json``, a JSON list goes to stdout.
``abft-qkd network simulate --topology {NAME|FILE} [--byzantine-fraction F] [--behaviour B]
[--defense {none,abft}] [--consensus {none,pbft}] [--replicas N] [--duration-s T] [--seed S]
[--mode accounting|material] [--json] [--plot OUT]``
    Run the discrete-event simulation (:mod:`network.simulation`) with Byzantine nodes on a
    fraction of the trusted nodes, with or without the adaptive defence. A table of the metrics
    goes to stderr (and a progress bar while it runs); ``--json`` prints the metrics, the
    key-pool ledger, the final weights and exclusions on stdout; ``--plot`` saves availability,
    pool levels and weights over time (PNG, PDF or SVG by the suffix). ``--consensus pbft``
    (with ``--defense abft``) has a committee of at most ``--replicas`` trusted nodes agree on
    the control ledger by PBFT inside the simulation (:class:`network.consensus.ControlPlane`);
    the JSON then has a ``consensus`` object (committed operations, view changes, messages,
    authentication key bits, unauthenticated sends, rejected messages, refused re-weightings).

Examples (shell)::

    abft-qkd network topologies
    abft-qkd network topologies --json | python -m json.tool
    abft-qkd network simulate --topology secoqc --byzantine-fraction 0.2 --behaviour withhold \
        --defense abft --duration-s 600 --seed 1 --plot run.png
    abft-qkd network simulate --topology secoqc --byzantine-fraction 0.2 --behaviour equivocate \
        --defense abft --consensus pbft --duration-s 120 --seed 1 --json

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

from qkdcircuits.cli.arguments import (
    bounded_float,
    non_negative_float,
    positive_count,
    positive_float,
)

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
            help="QKD network layer: topologies and simulation",
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
    _add_simulate(commands)


def topologies_listing() -> list[dict[str, Any]]:
    """Return what ``abft-qkd network topologies --json`` prints: one summary per built-in scenario.

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


def _add_simulate(commands: argparse._SubParsersAction) -> None:
    from network.byzantine import BEHAVIOURS

    parser = add_subcommand(
        commands,
        "simulate",
        help="simulate a QKD network under Byzantine attack, with or without the defence",
        description=(
            "Discrete-event simulation of a QKD network: fluctuating links evaluated with "
            "qkdcircuits, key pools, key requests relayed through trusted nodes, Byzantine nodes "
            "on a fraction of the trusted nodes, and the adaptive weighted-voting defence. Metrics "
            "on stderr; --json prints them on stdout."
        ),
    )
    parser.add_argument(
        "--topology", required=True, help="built-in topology name or a .json/.graphml file"
    )
    parser.add_argument(
        "--byzantine-fraction",
        type=bounded_float(0.0, 0.4),
        default=0.0,
        metavar="F",
        help="fraction of the trusted nodes that are Byzantine, in [0, 0.4] (default 0)",
    )
    parser.add_argument(
        "--behaviour",
        choices=tuple(BEHAVIOURS),
        default="mixed",
        help="what the Byzantine nodes do (default mixed)",
    )
    parser.add_argument(
        "--defense", choices=("none", "abft"), default="abft", help="defence (default abft)"
    )
    parser.add_argument(
        "--consensus",
        choices=("none", "pbft"),
        default="none",
        help="keep the defence's ledger by PBFT among trusted nodes (needs --defense abft)",
    )
    parser.add_argument(
        "--replicas",
        type=positive_count,
        default=7,
        metavar="N",
        help="largest PBFT committee of trusted nodes (default 7)",
    )
    parser.add_argument(
        "--duration-s", type=positive_float, default=300.0, metavar="T", help="simulated seconds"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the run")
    parser.add_argument(
        "--mode",
        choices=("accounting", "material"),
        default="accounting",
        help="key pools as bit counts or as real key bits (default accounting)",
    )
    parser.add_argument(
        "--relay",
        choices=("otp", "multipath"),
        default="otp",
        help="one-time-pad relay on one path, or Shamir shares over disjoint paths",
    )
    parser.add_argument(
        "--demand-rate",
        type=non_negative_float,
        default=None,
        metavar="HZ",
        help="key requests per second per demand pair (default: set by --utilisation)",
    )
    parser.add_argument(
        "--utilisation",
        type=bounded_float(0.0, 1.0, include_low=False, include_high=True),
        default=0.5,
        metavar="U",
        help="without --demand-rate: requests load the busiest link to this fraction of its "
        "nominal key rate, in (0, 1] (default 0.5, as SimulationConfig)",
    )
    parser.add_argument(
        "--key-bits", type=positive_count, default=256, metavar="N", help="bits per requested key"
    )
    parser.add_argument(
        "--pairs",
        type=positive_count,
        default=None,
        metavar="N",
        help="demand pairs (default: all)",
    )
    parser.add_argument(
        "--slice-s", type=positive_float, default=1.0, metavar="DT", help="time slice in seconds"
    )
    parser.add_argument(
        "--vote-interval-s",
        type=positive_float,
        default=10.0,
        metavar="S",
        help="seconds between voting rounds (default 10)",
    )
    parser.add_argument(
        "--static", action="store_true", help="no fluctuation of loss, rate or efficiency"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    parser.add_argument("--plot", metavar="OUT", help="save availability, pools and weights")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.set_defaults(handler=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    from network.consensus.control import ConsensusConfig
    from network.simulation.demands import DemandConfig
    from network.simulation.plotting import check_figure_path, plot_timeseries
    from network.simulation.resources import FluctuationConfig
    from network.simulation.simulator import SimulationConfig, build_simulation
    from network.topology import resolve_topology

    if args.consensus == "pbft" and args.defense != "abft":
        raise ValueError("--consensus pbft replicates the defence's ledger: use --defense abft")
    if args.plot is not None:
        check_figure_path(args.plot)  # fail before a long run, not after it
    topology = resolve_topology(args.topology)
    config = SimulationConfig(
        duration_s=args.duration_s,
        slice_s=args.slice_s,
        vote_interval_s=args.vote_interval_s,
        defense=args.defense,
        mode=args.mode,
        demands=DemandConfig(
            rate_hz=args.demand_rate,
            utilisation=args.utilisation,
            key_bits=args.key_bits,
            pairs=args.pairs,
            relay=args.relay,
        ),
        fluctuations=FluctuationConfig.static() if args.static else FluctuationConfig(),
        consensus=args.consensus,
        pbft=ConsensusConfig(replicas=args.replicas),
    )
    simulation = build_simulation(
        topology,
        byzantine_fraction=args.byzantine_fraction,
        behaviour=args.behaviour,
        config=config,
        seed=args.seed,
    )
    result = simulation.run(progress=not args.no_progress)
    summary = result.to_dict()
    rows = [
        ("topology", f"{topology.name} ({topology.n_links} links)"),
        ("Byzantine", ", ".join(f"{n}: {b}" for n, b in summary["behaviours"].items()) or "none"),
        ("defence", args.defense),
        (
            "simulated",
            f"{result.metrics.duration_s:g} s" + (" (interrupted)" if result.interrupted else ""),
        ),
        ("requests", str(result.metrics.requests)),
        ("availability", _fmt(result.metrics.availability)),
        ("delivered key", f"{result.metrics.delivered_key_bps:.1f} bit/s"),
        ("exposed key fraction", _fmt(result.metrics.exposed_key_fraction)),
        (
            "mean / max used QBER",
            f"{_fmt(result.metrics.mean_used_qber)} / {_fmt(result.metrics.max_used_qber)}",
        ),
        ("excluded nodes", ", ".join(summary["excluded_nodes"]) or "none"),
        ("excluded links", ", ".join(map(str, summary["excluded_links"])) or "none"),
        *_consensus_rows(result.consensus),
    ]
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"  {key:<{width}}  {value}", file=sys.stderr)
    if args.plot is not None:
        written = plot_timeseries(
            result.timeseries,
            args.plot,
            title=(
                f"{topology.name}: {args.byzantine_fraction:.0%} {args.behaviour}, "
                f"defence {args.defense}"
            ),
            node_names=[str(node) for node in result.weights],
            highlight=[str(node) for node in result.byzantine],
        )
        print(f"plot written to {written}", file=sys.stderr)
    if args.json:
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
    return 0


def _consensus_rows(consensus: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Table rows of the PBFT control plane (none without it)."""
    if consensus is None:
        return []
    refused = len(consensus["refused_reweightings"])
    return [
        ("PBFT committee", f"{', '.join(consensus['committee'])} (f={consensus['f']})"),
        (
            "committed ops / rounds",
            f"{consensus['committed_operations']} / {consensus['rounds_committed']} "
            f"({consensus['rounds_skipped']} rounds skipped)",
        ),
        ("view changes", f"{consensus['view_changes']} (primary now {consensus['primary']})"),
        ("PBFT messages", str(consensus["messages"])),
        ("auth key bits", str(consensus["auth_key_bits"])),
        ("unauthenticated sends", str(consensus["unauthenticated_sends"])),
        ("re-weightings", f"{consensus['reweightings_applied']} applied, {refused} refused"),
        ("replicas agree", "yes" if consensus["agreement"] else "NO"),
    ]


def _fmt(value: float) -> str:
    return "n/a" if value != value else f"{value:.5f}"
