"""Key delivery through the ETSI GS QKD 014 KMEs: HTTPS with mutual TLS against in-process calls.

Run: ``python benchmarks/bench_kms.py [--quick] [--pairs 3000] [--workers 4]``

Setup: the Cambridge network (:func:`network.topology.scenario`) in material mode, run until
the CRL-ENG link pool holds enough key; SAE ``carol`` at CRL is the master and ``erin`` at ENG
the slave (a direct link, so each 256-bit key costs 256 pool bits). A *pair* is one key
delivered to both sides: the master's ``enc_keys`` (one key of 256 bits) then the slave's
``dec_keys`` with its key ID.

Measured in one process:

(a) over loopback: a KMS cluster (uvicorn, FastAPI, TLS 1.2+ with client certificates from
    the test PKI) and ``--workers`` client threads, each with its own pair of
    ``httpx.Client`` (keep-alive connections), POST ``enc_keys`` then GET ``dec_keys``;
    throughput in pairs per second over the whole run and the latency of each pair
    (p50, p99, ms);
(b) the baseline: the same calls on the :class:`~network.kms.service.KME` objects in process,
    without HTTP (one thread), on a fresh network prepared the same way.

Every key is checked: the slave's copy equals the master's.

The last line is machine-readable:
``kms_keys_per_s=<a> kms_p99_ms=<b> in_process_keys_per_s=<c>`` (plus ``kms_p50_ms`` and
``http_overhead=<c/a>`` before them in the table on stderr).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
import tempfile
import time

import httpx
import numpy as np

from network.kms.pki import client_ssl_context, create_test_pki
from network.kms.server import KMSCluster
from network.kms.service import KeyManagementService
from network.kms.supply import NetworkKeySupply
from network.topology import scenario

SAES = {"carol": "CRL", "erin": "ENG"}
KEY_BITS = 256


def prepared_service(pairs: int) -> KeyManagementService:
    """A KMS over Cambridge whose CRL-ENG pool holds key for ``pairs`` keys and some spare."""
    topology = scenario("cambridge")
    needed = pairs * KEY_BITS
    supply = NetworkKeySupply(topology, capacity_bits=needed + (1 << 16))
    link = topology.link_id("CRL", "ENG")
    while supply.key_ledger().stored[link] < needed:
        supply.advance(1.0)
    return KeyManagementService(supply, SAES, kme_nodes=["CRL", "ENG"])


def in_process(pairs: int) -> float:
    """Pairs per second of the KME methods called directly (no HTTP)."""
    service = prepared_service(pairs)
    master, slave = service.kme("CRL"), service.kme("ENG")
    start = time.perf_counter()
    for _ in range(pairs):
        sent = master.get_enc_keys("carol", "erin", number=1, size=KEY_BITS)["keys"][0]
        got = slave.get_dec_keys("erin", "carol", [sent["key_ID"]])["keys"][0]
        if got["key"] != sent["key"]:
            raise AssertionError("the slave's key differs from the master's")
    return pairs / (time.perf_counter() - start)


def over_https(pairs: int, workers: int) -> tuple[float, np.ndarray]:
    """Pairs per second and per-pair latencies (s) through the KME servers."""
    service = prepared_service(pairs)
    with tempfile.TemporaryDirectory() as folder:
        create_test_pki(folder, saes=SAES, kme_nodes=["CRL", "ENG"])
        with KMSCluster(service, pki_dir=folder) as cluster:
            ports = {node: port for node, (_, port) in cluster.addresses.items()}
            shares = [pairs // workers + (i < pairs % workers) for i in range(workers)]

            def run(count: int) -> list[float]:
                latencies = []
                with (
                    httpx.Client(
                        verify=client_ssl_context(folder, "carol"),
                        base_url=f"https://localhost:{ports['CRL']}",
                    ) as carol,
                    httpx.Client(
                        verify=client_ssl_context(folder, "erin"),
                        base_url=f"https://localhost:{ports['ENG']}",
                    ) as erin,
                ):
                    carol.get("/api/v1/keys/erin/status").raise_for_status()  # connect first
                    erin.get("/api/v1/keys/carol/status").raise_for_status()
                    for _ in range(count):
                        begin = time.perf_counter()
                        sent = carol.post(
                            "/api/v1/keys/erin/enc_keys", json={"number": 1, "size": KEY_BITS}
                        )
                        sent.raise_for_status()
                        key = sent.json()["keys"][0]
                        got = erin.get(
                            "/api/v1/keys/carol/dec_keys", params={"key_ID": key["key_ID"]}
                        )
                        got.raise_for_status()
                        latencies.append(time.perf_counter() - begin)
                        if got.json()["keys"][0]["key"] != key["key"]:
                            raise AssertionError("the slave's key differs from the master's")
                return latencies

            start = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(run, shares))
            elapsed = time.perf_counter() - start
    service.supply.check_ledger()
    return pairs / elapsed, np.concatenate([np.asarray(r) for r in results])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: runs in seconds")
    parser.add_argument("--pairs", type=int, default=None, help="key pairs (3000; quick 200)")
    parser.add_argument("--workers", type=int, default=None, help="client threads (4; quick 2)")
    args = parser.parse_args(argv)
    pairs = args.pairs or (200 if args.quick else 3000)
    workers = args.workers or (2 if args.quick else 4)
    if pairs < workers or workers < 1:
        parser.error("need --pairs >= --workers >= 1")

    https_rate, latencies = over_https(pairs, workers)
    local_rate = in_process(pairs)
    p50, p99 = (float(np.percentile(latencies, q)) * 1e3 for q in (50, 99))
    print(
        f"{'path':<34} {'pairs':>7} {'pairs/s':>10} {'p50 ms':>8} {'p99 ms':>8}",
        file=sys.stderr,
    )
    print(
        f"{f'HTTPS + mTLS, {workers} client threads':<34} {pairs:>7} {https_rate:>10.1f} "
        f"{p50:>8.2f} {p99:>8.2f}",
        file=sys.stderr,
    )
    print(f"{'in process (no HTTP), 1 thread':<34} {pairs:>7} {local_rate:>10.1f}", file=sys.stderr)
    print(f"HTTP overhead: {local_rate / https_rate:.1f}x fewer pairs per second", file=sys.stderr)
    print(
        f"kms_keys_per_s={https_rate:.1f} kms_p99_ms={p99:.2f} "
        f"in_process_keys_per_s={local_rate:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
