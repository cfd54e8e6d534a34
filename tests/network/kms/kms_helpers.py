"""Helpers of the KMS tests: the SAEs, a KMS over the Cambridge network, HTTPS clients, threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

import httpx

from network.kms.pki import client_ssl_context
from network.kms.server import KMSCluster
from network.kms.service import KeyManagementService, KMEConfig
from network.kms.supply import NetworkKeySupply
from network.topology import scenario

SAES = {
    "alice": "crl-user",
    "bob": "eed-user",
    "carol": "CRL",
    "dave": "EED",
    "erin": "ENG",
    "frank": "eng-user",
}
"""SAEs of the tests and their nodes (Cambridge: trusted CRL, ENG, EED and three endpoints)."""


def make_service(
    *,
    prefill_s: float = 1.0,
    capacity_bits: int = 1 << 20,
    config: KMEConfig | None = None,
    **supply_options,
) -> KeyManagementService:
    """A KMS over a fresh Cambridge network run for ``prefill_s`` simulated seconds."""
    supply = NetworkKeySupply(scenario("cambridge"), capacity_bits=capacity_bits, **supply_options)
    supply.advance(prefill_s)
    return KeyManagementService(supply, SAES, config=config)


def https_client(cluster: KMSCluster, pki_dir, sae: str | None, node=None) -> httpx.Client:
    """An httpx client of ``sae`` (its certificate) to the KME of ``node`` (default: its own)."""
    _, port = cluster.addresses[SAES[sae] if node is None else node]
    return httpx.Client(
        verify=client_ssl_context(pki_dir, sae),
        base_url=f"https://localhost:{port}",
        timeout=30.0,
    )


def run_threads(target: Callable[..., object], arguments: Iterable[tuple]) -> None:
    """Run ``target(*args)`` on one thread per tuple of ``arguments``, all at once; join them."""
    threads = [threading.Thread(target=target, args=args) for args in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
