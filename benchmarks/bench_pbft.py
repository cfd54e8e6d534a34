"""Throughput of the PBFT replicas: committed requests per wall second and messages per request.

Run: ``python benchmarks/bench_pbft.py [--quick]``

For n = 4, 16 and 64 replicas (unit weights, ``f = (n - 1) // 3``) on the message network of
:mod:`network.consensus.harness` (link delays 1-2 ms, no loss), with authenticators keyed from
secret pools (topped up as they drain) and the network's control ledger as the replicated
application (every request sets the replicas' weights in it):

(a) batched: ``C`` clients each keep one request outstanding; the primary puts up to ``B``
    requests in a pre-prepare and keeps up to ``M`` sequence numbers in flight;
(b) the baseline, timed in the same run: the same group with unbatched requests (``B = 1``).

Each measurement first lets every client complete one request (the per-channel hash tables get
built), then times ``R`` more. Committed requests per wall second counts requests whose result a
client accepted; messages per request counts every message sent (requests, protocol messages,
replies), one per receiver; key bits per request counts the hash-key and pad bits taken from
the pools (both ends). The last line is machine-readable:
``n4_req_per_s=<a> n16_req_per_s=<b> n64_req_per_s=<c> msgs_per_req_n16=<d>``.

Closed form to compare with (no loss, one batch of ``b`` requests): ``1`` request and ``n``
replies per request, plus ``(n - 1) + (n - 1)^2 + n (n - 1)`` pre-prepare, prepare and commit
messages per batch, so ``1 + n + (2n^2 - 2n) / b`` messages per request (Castro & Liskov,
TOCS 2002, Sec. 2.3.3, without checkpoints).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

from network.consensus import PBFTConfig, WeightedQuorums, build_group
from network.voting import LedgerStateMachine, SetWeights


@dataclass
class Case:
    """One measured configuration."""

    n: int
    clients: int
    per_client: int
    max_batch: int
    max_in_flight: int


@dataclass
class Result:
    """What one measurement found."""

    requests: int
    seconds: float
    messages: int
    key_bits: int
    batches: int

    @property
    def req_per_s(self) -> float:
        return self.requests / self.seconds

    @property
    def msgs_per_req(self) -> float:
        return self.messages / self.requests


def measure(case: Case, seed: int) -> Result:
    """Warm up, then time ``clients * per_client`` requests to completion."""
    config = PBFTConfig(
        WeightedQuorums.uniform(case.n),
        max_batch=case.max_batch,
        max_in_flight=case.max_in_flight,
        checkpoint_interval=1 << 20,  # checkpoints are measured elsewhere; keep the count clean
    )
    group = build_group(config, clients=case.clients, key_bits=1024, replenish_bits=4096, seed=seed)
    operation = LedgerStateMachine.encode(SetWeights((0.9,) * case.n))
    for index in range(case.clients):
        group.submit(index, operation)
    group.network.run()
    done, sent = group.completed(), group.network.sent
    bits = group.keys.consumed_bits
    primary = group.replicas[0][0]
    instances = primary.next_seq
    start = time.perf_counter()
    for index in range(case.clients):
        for _ in range(case.per_client):
            group.submit(index, operation)
    group.network.run()
    seconds = time.perf_counter() - start
    requests = group.completed() - done
    expected = case.clients * case.per_client
    if requests != expected:
        raise RuntimeError(f"only {requests} of {expected} requests completed")
    return Result(
        requests=requests,
        seconds=seconds,
        messages=group.network.sent - sent,
        key_bits=group.keys.consumed_bits - bits,
        batches=primary.next_seq - instances,
    )


def cases(quick: bool) -> list[tuple[Case, Case]]:
    """(batched, unbatched baseline) per replica count."""
    if quick:
        return [
            (Case(4, 32, 3, 64, 4), Case(4, 8, 2, 1, 4)),
            (Case(16, 32, 2, 64, 4), Case(16, 4, 1, 1, 4)),
            (Case(64, 16, 1, 64, 2), Case(64, 2, 1, 1, 4)),
        ]
    return [
        (Case(4, 256, 20, 128, 4), Case(4, 64, 8, 1, 4)),
        (Case(16, 128, 8, 128, 4), Case(16, 32, 4, 1, 4)),
        (Case(64, 64, 4, 128, 2), Case(64, 8, 2, 1, 4)),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    header = (
        f"{'n':>3} {'mode':<10} {'requests':>8} {'batches':>7} {'wall s':>7} {'req/s':>9} "
        f"{'msgs/req':>9} {'closed form':>11} {'key bits/req':>12}"
    )
    print(header, file=sys.stderr)
    rates: dict[int, float] = {}
    messages: dict[int, float] = {}
    for batched, baseline in cases(args.quick):
        results = {}
        for label, case in (("batched", batched), ("unbatched", baseline)):
            result = measure(case, args.seed)
            results[label] = result
            b = result.requests / max(result.batches, 1)
            n = case.n
            closed = 1 + n + (2 * n * n - 2 * n) / b
            print(
                f"{n:>3} {label:<10} {result.requests:>8} {result.batches:>7} "
                f"{result.seconds:>7.2f} {result.req_per_s:>9.1f} {result.msgs_per_req:>9.1f} "
                f"{closed:>11.1f} {result.key_bits / result.requests:>12.0f}",
                file=sys.stderr,
            )
        speedup = results["batched"].req_per_s / results["unbatched"].req_per_s
        print(f"    n={batched.n}: batching speed-up x{speedup:.1f}", file=sys.stderr)
        rates[batched.n] = results["batched"].req_per_s
        messages[batched.n] = results["batched"].msgs_per_req
    print(
        f"n4_req_per_s={rates[4]:.1f} n16_req_per_s={rates[16]:.1f} "
        f"n64_req_per_s={rates[64]:.1f} msgs_per_req_n16={messages[16]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
