"""Throughput of the MDI-QKD round engines against per-round circuits and the numpy floor.

Run: ``python benchmarks/bench_rounds.py [--quick] [--rounds 10000000] [--per-round 2000]``

Measured in one process:

(a) the per-round engine: ``simulate_mdi`` for N rounds with depolarising noise (16 setting
    circuits run once on Aer, rounds sampled with numpy, sifting statistics included), with the
    table cache warm and cold;
(b) the textbook approach: one circuit per round on Aer (a random setting's circuit, with the
    depolarising channel, ``shots=1``), timed on a few thousand rounds; (b') the same circuits
    submitted to Aer as one batch job, a fairer version of (b);
(c) the floor: numpy drawing the same 4 N random setting bits
    (``rng.integers(0, 2, size=(4, N), dtype=uint8)``) and nothing else;
(d) the counts-only engine ``simulate_mdi_counts`` (exact multinomial blocks of 2**20 rounds, no
    per-round arrays) at ``--counts-rounds`` rounds (1e9 by default, 1e8 with ``--quick``), with
    its peak traced memory.

The last line is machine-readable:
``rounds_per_s=<a> per_round_circuit_rounds_per_s=<b> speedup=<a/b> rng_floor_ratio=<r>
counts_rounds_per_s=<d> counts_speedup=<d/a> counts_peak_mib=<m>``, where ``r`` = engine wall
time / floor wall time for the same N.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc

import numpy as np

from qkdcircuits import ArmNoise, mdi_bsm_circuit, simulate_mdi, simulate_mdi_counts
from qkdcircuits.engine._tables import clear_table_cache


def best_of(repeats: int, func) -> float:
    """Smallest wall time of ``repeats`` calls (seconds)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def per_round_circuits(rounds: int, noise: ArmNoise, seed: int, batched: bool) -> float:
    """Wall time of the one-circuit-per-round approach for ``rounds`` rounds."""
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    rng = np.random.default_rng(seed)
    simulator = AerSimulator(method="density_matrix", seed_simulator=seed)
    settings = rng.integers(0, 2, size=(rounds, 4))
    start = time.perf_counter()
    circuits = [
        mdi_bsm_circuit(
            alice_basis="ZX"[ab],
            alice_bit=int(ax),
            bob_basis="ZX"[bb],
            bob_bit=int(bx),
            alice_channel=noise,
            bob_channel=noise,
        )
        for ab, ax, bb, bx in settings
    ]
    if batched:
        simulator.run(transpile(circuits, simulator), shots=1).result()
    else:
        for circuit in circuits:
            simulator.run(transpile(circuit, simulator), shots=1).result()
    return time.perf_counter() - start


def counts_run(rounds: int, noise: ArmNoise) -> tuple[float, float]:
    """Wall time (s) and peak traced memory (MiB) of ``simulate_mdi_counts`` (warm cache)."""
    tracemalloc.start()
    start = time.perf_counter()
    simulate_mdi_counts(rounds=rounds, noise=noise, seed=6)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 2**20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: runs in seconds")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of the engine runs")
    parser.add_argument("--per-round", type=int, default=None, help="rounds of the baseline")
    parser.add_argument("--counts-rounds", type=int, default=None, help="counts-only rounds")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    n = args.rounds or (200_000 if args.quick else 10_000_000)
    per_round = args.per_round or (20 if args.quick else 2000)
    counts_n = args.counts_rounds or (10**8 if args.quick else 10**9)
    repeats = args.repeats or (1 if args.quick else 3)
    noise = ArmNoise(depolarizing_prob=0.02)

    simulate_mdi(rounds=1000, noise=noise, seed=0)  # warm-up: Aer start-up, table cache
    engine_s = best_of(repeats, lambda: simulate_mdi(rounds=n, noise=noise, seed=1))
    clear_table_cache()
    cold_start = time.perf_counter()
    simulate_mdi(rounds=n, noise=noise, seed=1)
    engine_cold_s = time.perf_counter() - cold_start

    rng = np.random.default_rng(2)
    floor_s = best_of(repeats, lambda: rng.integers(0, 2, size=(4, n), dtype=np.uint8))

    per_round_circuits(5, noise, 3, batched=False)  # warm-up of the transpiler
    loop_s = per_round_circuits(per_round, noise, 4, batched=False)
    batch_s = per_round_circuits(per_round, noise, 5, batched=True)

    counts_s, counts_peak = min(
        (counts_run(counts_n, noise) for _ in range(repeats)), key=lambda pair: pair[0]
    )

    engine_rate = n / engine_s
    loop_rate = per_round / loop_s
    counts_rate = counts_n / counts_s
    rows = [
        ("(a) engine, warm table cache", n, engine_s),
        ("(a) engine, cold (runs the 16 circuits)", n, engine_cold_s),
        ("(b) one circuit per round on Aer", per_round, loop_s),
        ("(b') per-round circuits, one Aer batch", per_round, batch_s),
        ("(c) numpy floor: 4N setting bits", n, floor_s),
        (f"(d) counts-only engine ({counts_peak:.2g} MiB peak)", counts_n, counts_s),
    ]
    print(f"{'approach':<42} {'rounds':>12} {'wall s':>10} {'rounds/s':>14}", file=sys.stderr)
    for name, rounds, seconds in rows:
        print(
            f"{name:<42} {rounds:>12} {seconds:>10.4f} {rounds / seconds:>14.4g}", file=sys.stderr
        )
    print(
        f"rounds_per_s={engine_rate:.4g} per_round_circuit_rounds_per_s={loop_rate:.4g} "
        f"speedup={engine_rate / loop_rate:.4g} rng_floor_ratio={engine_s / floor_s:.3g} "
        f"counts_rounds_per_s={counts_rate:.4g} counts_speedup={counts_rate / engine_rate:.4g} "
        f"counts_peak_mib={counts_peak:.3g}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
