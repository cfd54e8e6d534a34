"""The ``abft-qkd kms`` command: a test PKI, and ETSI GS QKD 014 KMEs over a simulated network.

Registered through the ``abft_qkd.cli`` entry-point group (``kms = "network.kms.cli:register"``
in ``pyproject.toml``). The server's packages (FastAPI, uvicorn, cryptography) are imported
only when a subcommand runs: install them with ``pip install "abft-qkd[kms]"``.

Subcommands
-----------
``abft-qkd kms pki --out DIR --sae NAME@NODE [--sae ...] [--topology T] [--host H ...]``
    Writes ``DIR/ca.pem``, ``DIR/NAME.pem`` + ``DIR/NAME.key`` for each SAE and each KME (the
    SAEs' nodes, and every key-holding node of ``--topology`` if given), ``DIR/saes.json``
    (the SAE-to-node map) and ``DIR/kmes.json`` (see :mod:`network.kms.pki`).
``abft-qkd kms serve --topology T --pki DIR [--host 127.0.0.1] [--base-port P] [--clock C]``
    Starts one KME per key-holding node of the topology that has a certificate in ``DIR``,
    each on its own port (``P``, ``P + 1``, ... in the topology's node order; ``P = 0``:
    ports chosen by the system), prints **one JSON line** on stdout once every KME listens,
    ``{"kmes": {node: "host:port"}, "saes": {sae: node}}``, and runs the network: its key
    pools fill as simulated time passes. ``--clock realtime``: simulated time = wall time;
    ``--clock fast``: ``--speed`` simulated seconds per wall second (default 10). Byzantine
    nodes (``--byzantine-fraction``, ``--behaviour``) and the adaptive defence (``--defense
    abft``) act as in the simulation. SIGINT or SIGTERM stops the servers cleanly (requests
    in flight finish) and prints the key ledger on stderr; exit status 0.

Examples (shell)::

    abft-qkd kms pki --out pki --sae alice@crl-user --sae bob@eed-user --topology cambridge
    abft-qkd kms serve --topology cambridge --pki pki --base-port 8443 --clock fast
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from network.cli import add_subcommand
from qkdcircuits.cli.arguments import (
    bounded_float,
    non_negative_count,
    non_negative_float,
    positive_count,
    positive_float,
)

__all__ = ["parse_sae", "register"]

_INSTALL_HINT = 'the KMS needs its extra packages: pip install "abft-qkd[kms]"'


def parse_sae(text: str) -> tuple[str, str]:
    """``NAME@NODE`` as ``(NAME, NODE)``.

    Raises
    ------
    ValueError
        If ``text`` is not of that form.

    Examples
    --------
    >>> parse_sae("alice@crl-user")
    ('alice', 'crl-user')
    """
    name, sep, node = text.partition("@")
    if not sep or not name or not node or "@" in node:
        raise ValueError(f"--sae {text!r} must be NAME@NODE")
    return name, node


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``kms`` command and its subcommands to the dispatcher's ``subparsers``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The top-level subparsers of ``abft-qkd``.
    """
    parser = add_subcommand(
        subparsers,
        "kms",
        help="ETSI GS QKD 014 key-management servers over a simulated network",
        description="Key delivery to applications (ETSI GS QKD 014) over a simulated network.",
    )
    commands = parser.add_subparsers(dest="kms_command", metavar="SUBCOMMAND", required=True)

    pki = add_subcommand(
        commands,
        "pki",
        help="write a test PKI (CA, KME and SAE certificates) and the SAE-to-node map",
        description="Write a test CA, a certificate and key for each SAE and KME, saes.json "
        "and kmes.json into --out.",
    )
    pki.add_argument("--out", required=True, help="folder to write")
    pki.add_argument(
        "--sae", action="append", required=True, metavar="NAME@NODE", help="an SAE and its node"
    )
    pki.add_argument(
        "--topology", help="also certify a KME at every key-holding node of this topology"
    )
    pki.add_argument(
        "--host", action="append", default=[], help="extra host name or IP of the KMEs"
    )
    pki.set_defaults(handler=_pki)

    serve = add_subcommand(
        commands,
        "serve",
        help="run one KME per node over a simulated network",
        description="Start one ETSI GS QKD 014 KME per key-holding node (with a certificate in "
        "--pki), print one JSON line with their addresses, run until SIGINT/SIGTERM.",
    )
    serve.add_argument("--topology", required=True, help="scenario name or topology file")
    serve.add_argument("--pki", required=True, help="folder written by `abft-qkd kms pki`")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument(
        "--base-port", type=non_negative_count, default=0, help="first port (0: system's)"
    )
    serve.add_argument("--clock", choices=("realtime", "fast"), default="realtime")
    serve.add_argument(
        "--speed", type=positive_float, default=None, help="fast clock speed-up (10)"
    )
    serve.add_argument(
        "--prefill-s",
        type=non_negative_float,
        default=0.0,
        help="simulated seconds to run before serving",
    )
    serve.add_argument(
        "--capacity-bits", type=positive_count, default=1 << 20, help="pool size per link"
    )
    serve.add_argument("--byzantine-fraction", type=bounded_float(0.0, 0.4), default=0.0)
    serve.add_argument("--behaviour", default="passive-copy", help="Byzantine behaviour name")
    serve.add_argument("--defense", choices=("none", "abft"), default="none")
    serve.add_argument("--vote-interval-s", type=positive_float, default=10.0)
    serve.add_argument("--seed", type=int, default=None)
    serve.set_defaults(handler=_serve)


def _require_kms_packages() -> None:
    try:
        import cryptography  # noqa: F401
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"{_INSTALL_HINT} ({exc})") from None


def _pki(args: argparse.Namespace) -> int:
    _require_kms_packages()
    from network.kms.pki import create_test_pki

    saes: dict[str, str] = {}
    for text in args.sae:
        name, node = parse_sae(text)
        if name in saes:
            raise ValueError(f"--sae {name!r} is given twice")
        saes[name] = node
    kme_nodes: list[Any] = []
    if args.topology is not None:
        from network.topology import resolve_topology

        topology = resolve_topology(args.topology)
        holding = {str(node) for node in topology.key_holding_nodes}
        for name, node in saes.items():
            if node not in holding:
                raise ValueError(f"--sae {name}@{node}: {node!r} is not a key-holding node")
        kme_nodes = [str(node) for node in topology.key_holding_nodes]
    written = create_test_pki(args.out, saes=saes, kme_nodes=kme_nodes, hosts=args.host)
    print(f"wrote {len(written)} files to {args.out}", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    _require_kms_packages()
    from network.byzantine import assign_behaviours
    from network.kms.pki import read_pki_map
    from network.kms.server import KMSCluster
    from network.kms.service import KeyManagementService
    from network.kms.supply import NetworkClock, NetworkKeySupply, speed_factor
    from network.topology import resolve_topology

    topology = resolve_topology(args.topology)
    speed = speed_factor(args.clock, args.speed)
    sae_nodes, kme_names = read_pki_map(args.pki)
    by_name = {str(node): node for node in topology.key_holding_nodes}
    for sae, name in sae_nodes.items():
        if name not in by_name:
            raise ValueError(f"SAE {sae!r} is attached to {name!r}, not a key-holding node")
    kme_nodes = [node for node in topology.key_holding_nodes if str(node) in set(kme_names)]
    behaviours = {}
    if args.byzantine_fraction:
        behaviours = assign_behaviours(
            topology,
            fraction=args.byzantine_fraction,
            behaviour=args.behaviour,
            seed=args.seed,
        )
    supply = NetworkKeySupply(
        topology,
        capacity_bits=args.capacity_bits,
        behaviours=behaviours,
        defense=args.defense,
        vote_interval_s=args.vote_interval_s,
        seed=args.seed,
    )
    supply.advance(args.prefill_s)
    service = KeyManagementService(
        supply, {sae: by_name[name] for sae, name in sae_nodes.items()}, kme_nodes=kme_nodes
    )
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    cluster = KMSCluster(service, pki_dir=args.pki, host=args.host, base_port=args.base_port)
    try:
        addresses = cluster.start()
        with NetworkClock(supply, speed=speed):
            line = {
                "kmes": {str(node): f"{host}:{port}" for node, (host, port) in addresses.items()},
                "saes": sae_nodes,
            }
            print(json.dumps(line), flush=True)
            byzantine = sorted(str(n) for n, b in behaviours.items() if b.compromised)
            print(
                f"{len(addresses)} KMEs on {topology.name}, clock {args.clock} (x{speed:g}), "
                f"defense {args.defense}, Byzantine: {', '.join(byzantine) or 'none'}",
                file=sys.stderr,
            )
            while not stop.wait(0.2):
                pass
    finally:
        cluster.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    totals = supply.key_ledger().totals()
    print(
        f"stopped after {supply.time_s:.1f} simulated s; key ledger: {json.dumps(totals)}",
        file=sys.stderr,
    )
    return 0
