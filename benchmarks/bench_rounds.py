"""Throughput of the MDI-QKD round engine against per-round circuits and the numpy floor.

Run: ``python benchmarks/bench_rounds.py [--rounds 10000000] [--per-round 2000]``

Measured in one process:

(a) the engine: ``simulate_mdi`` for N rounds with depolarising noise (16 setting circuits run
    once on Aer, rounds sampled with numpy, sifting statistics included);
(b) the textbook approach: one circuit per round on Aer (a random setting's circuit, with the
    depolarising channel, ``shots=1``), timed on a few thousand rounds; (b') the same circuits
    submitted to Aer as one batch job, a fairer version of (b);
(c) the floor: numpy drawing the same 4 N random setting bits
    (``rng.integers(0, 2, size=(4, N), dtype=uint8)``) and nothing else.

The last line is machine-readable:
``rounds_per_s=<a> per_round_circuit_rounds_per_s=<b> speedup=<a/b> rng_floor_ratio=<r>``
where ``r`` = engine wall time / floor wall time for the same N.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from qkdcircuits import ArmNoise, mdi_bsm_circuit, simulate_mdi


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10_000_000)
    parser.add_argument("--per-round", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    noise = ArmNoise(depolarizing_prob=0.02)
    n = args.rounds

    simulate_mdi(rounds=1000, noise=noise, seed=0)  # warm-up: Aer start-up, table cache
    engine_s = best_of(args.repeats, lambda: simulate_mdi(rounds=n, noise=noise, seed=1))
    cold_start = time.perf_counter()
    from qkdcircuits.engine.rounds import _cached_mdi_table

    _cached_mdi_table.cache_clear()
    simulate_mdi(rounds=n, noise=noise, seed=1)
    engine_cold_s = time.perf_counter() - cold_start

    rng = np.random.default_rng(2)
    floor_s = best_of(args.repeats, lambda: rng.integers(0, 2, size=(4, n), dtype=np.uint8))

    per_round_circuits(50, noise, 3, batched=False)  # warm-up of the transpiler
    loop_s = per_round_circuits(args.per_round, noise, 4, batched=False)
    batch_s = per_round_circuits(args.per_round, noise, 5, batched=True)

    engine_rate = n / engine_s
    loop_rate = args.per_round / loop_s
    rows = [
        ("(a) engine, warm table cache", n, engine_s),
        ("(a) engine, cold (runs the 16 circuits)", n, engine_cold_s),
        ("(b) one circuit per round on Aer", args.per_round, loop_s),
        ("(b') per-round circuits, one Aer batch", args.per_round, batch_s),
        ("(c) numpy floor: 4N setting bits", n, floor_s),
    ]
    print(f"{'approach':<42} {'rounds':>10} {'wall s':>10} {'rounds/s':>14}", file=sys.stderr)
    for name, rounds, seconds in rows:
        print(
            f"{name:<42} {rounds:>10} {seconds:>10.4f} {rounds / seconds:>14.4g}", file=sys.stderr
        )
    print(
        f"rounds_per_s={engine_rate:.4g} per_round_circuit_rounds_per_s={loop_rate:.4g} "
        f"speedup={engine_rate / loop_rate:.4g} rng_floor_ratio={engine_s / floor_s:.3g}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
