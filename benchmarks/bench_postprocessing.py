"""Benchmark post-processing: Cascade, Toeplitz privacy amplification and distillation at scale.

Run ``python benchmarks/bench_postprocessing.py`` (key lengths 10^5, 10^6, 10^7: a few minutes)
or ``--quick`` (10^4 and 10^5: seconds; the test suite runs it). On the same random key pairs
(``n`` bits, errors i.i.d. at Q = 2%, an X-basis test sample of ``n / 4`` bits at 2%) it times:

(a) ``cascade_reconcile`` (original Brassard-Salvail parameters, vectorised across blocks) and
    (a') the Cascade + BICONF preset, at every size;
(b) the baseline: a straightforward sequential Cascade (pure Python, one block and one BINARY
    step at a time, numpy only for slicing) on the same shuffles, at the smallest size;
(c) ``toeplitz_hash`` from ``n`` to ``n / 2`` bits (exact partitioned FFT), at every size;
(d) the baseline: the explicit ``m x n`` Toeplitz matrix product (float32 BLAS, exact for these
    sizes) on a ``--naive-bits`` input, against (c) on the same input;
(e) ``distill_key`` end to end (estimation, phase-error bound, Cascade, verification, privacy
    amplification, authentication), at every size.

Times are wall seconds (best of ``--repeats``) with the CPU seconds of the same call beside
them: on a shared machine the CPU time is the steadier figure. The growth per 10x of input is
``t(10 n) / t(n)`` between the two largest sizes, in CPU time (10 for linear cost; caches make
random access slower per element once the arrays outgrow them); for sizes not 10x apart the
ratio is rescaled to 10x.

The last line is machine-readable ``key=value`` pairs at the largest size: ``bits``,
``cascade_bits_per_s``, ``pa_bits_per_s``, ``distill_bits_per_s`` (input bits per CPU second),
``cascade_growth_10x``, ``pa_growth_10x``, ``distill_growth_10x``,
``cascade_speedup_vs_sequential`` (at the smallest size), ``pa_speedup_vs_matrix`` and
``cascade_f`` (the inefficiency ``leaked / (n H2(e))``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np

from qkdcircuits.links.rates import binary_entropy
from qkdcircuits.postprocessing import (
    CASCADE_BICONF,
    CASCADE_ORIGINAL,
    cascade_reconcile,
    distill_key,
    toeplitz_hash,
    toeplitz_matrix,
)

QBER = 0.02


def best_of(repeats: int, func: Callable[[], object]) -> tuple[float, float, object]:
    """Shortest wall time and shortest CPU time of ``repeats`` calls, and the last value."""
    walls, cpus, value = [], [], None
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        value = func()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return min(walls), min(cpus), value


def key_pair(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Alice's uniform ``n`` bits and Bob's copy with i.i.d. errors at ``QBER``."""
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    return alice, alice ^ (rng.random(n) < QBER).astype(np.uint8)


def sequential_cascade(alice: np.ndarray, bob: np.ndarray, qber: float, seed: int) -> int:
    """Baseline: Brassard-Salvail Cascade block by block; returns the leaked parity count.

    Uses the same block sizes and the same shuffles as ``cascade_reconcile`` with the same seed;
    after each correction the blocks of earlier passes that turned odd are searched, smallest
    first.
    """
    rng = np.random.default_rng(seed)
    n = alice.size
    errors = alice ^ bob
    sizes = CASCADE_ORIGINAL.pass_block_sizes(n, qber)
    orders: list[np.ndarray] = []
    positions: list[np.ndarray] = []
    leaked = 0

    def odd(p: int, b: int) -> bool:
        k = sizes[p]
        return bool(int(errors[orders[p][b * k : b * k + k]].sum()) & 1)

    def binary(p: int, b: int) -> int:
        nonlocal leaked
        k, order = sizes[p], orders[p]
        lo, hi = b * k, min(b * k + k, n)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            leaked += 1
            if int(errors[order[lo:mid]].sum()) & 1:
                hi = mid
            else:
                lo = mid
        return int(order[lo])

    for i, k in enumerate(sizes):
        order = rng.permutation(n)
        orders.append(order)
        position = np.empty(n, dtype=np.int64)
        position[order] = np.arange(n)
        positions.append(position)
        n_blocks = -(-n // k)
        leaked += n_blocks
        for b in range(n_blocks):
            pending = {(i, b)}
            while pending:
                p, blk = min(pending, key=lambda t: (sizes[t[0]], t))
                pending.discard((p, blk))
                if not odd(p, blk):
                    continue
                bit = binary(p, blk)
                errors[bit] ^= 1
                for q in range(i + 1):
                    other = (q, int(positions[q][bit] // sizes[q]))
                    if odd(*other):
                        pending.add(other)
                    else:
                        pending.discard(other)
    return leaked


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table on stderr and the ``key=value`` line on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="sizes 10^4 and 10^5 (seconds)")
    parser.add_argument(
        "--sizes",
        type=float,
        nargs="+",
        default=None,
        metavar="N",
        help="key lengths in bits (default 1e5 1e6 1e7; --quick: 1e4 1e5)",
    )
    parser.add_argument("--naive-bits", type=int, default=8192, help="naive Toeplitz input size")
    parser.add_argument("--repeats", type=int, default=None, help="repeats (default 3; quick 1)")
    args = parser.parse_args(argv)
    if args.sizes is not None:
        sizes = sorted(int(size) for size in args.sizes)
    else:
        sizes = [10_000, 100_000] if args.quick else [100_000, 1_000_000, 10_000_000]
    if len(sizes) < 2 or sizes[0] < 1_000:
        parser.error("give at least two sizes of 1000 bits or more")
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    naive_bits = min(args.naive_bits, 2_048) if args.quick else args.naive_bits

    rng = np.random.default_rng(1)
    rows: list[tuple[str, int, float, float]] = []
    cpu: dict[str, list[float]] = {"cascade": [], "pa": [], "distill": []}
    for n in sizes:
        alice, bob = key_pair(n, rng)
        test = key_pair(n // 4, rng)
        # large inputs once: a repeat there would only measure the same cache misses again
        times = repeats if n <= 1_000_000 else 1
        wall, cpu_s, result = best_of(
            times, lambda a=alice, b=bob: cascade_reconcile(a, b, qber=QBER, seed=2)
        )
        assert result.success
        cascade_f = result.ec_inefficiency
        rows.append((f"(a) Cascade, vectorised (f = {cascade_f:.4f})", n, wall, cpu_s))
        cpu["cascade"].append(cpu_s)
        wall, cpu_s, biconf = best_of(
            times,
            lambda a=alice, b=bob: cascade_reconcile(
                a, b, qber=QBER, config=CASCADE_BICONF, seed=2
            ),
        )
        assert biconf.success
        rows.append((f"(a') Cascade + BICONF (f = {biconf.ec_inefficiency:.4f})", n, wall, cpu_s))
        m = n // 2
        seed_bits = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
        wall, cpu_s, _ = best_of(times, lambda a=alice, s=seed_bits, m=m: toeplitz_hash(a, s, m))
        rows.append(("(c) Toeplitz PA, partitioned FFT, m = n/2", n, wall, cpu_s))
        cpu["pa"].append(cpu_s)
        wall, cpu_s, distilled = best_of(
            times, lambda a=alice, b=bob, t=test: distill_key(a, b, phase_test=t, seed=3)
        )
        assert distilled.keys_match and not distilled.aborted
        rows.append((f"(e) distill_key ({distilled.final_length} final bits)", n, wall, cpu_s))
        cpu["distill"].append(cpu_s)
        print(f"  done n = {n}", file=sys.stderr, flush=True)

    small = sizes[0]
    alice, bob = key_pair(small, np.random.default_rng(5))
    start = time.perf_counter()
    sequential_leak = sequential_cascade(alice, bob, QBER, seed=2)
    sequential_s = time.perf_counter() - start
    vectorised_s, _, reference = best_of(
        repeats, lambda: cascade_reconcile(alice, bob, qber=QBER, seed=2)
    )
    assert sequential_leak > 0 and reference.success
    sequential_f = sequential_leak / (small * binary_entropy(reference.error_rate))
    rows.append((f"(b) sequential Cascade (f = {sequential_f:.4f})", small, sequential_s, 0.0))

    nn, mm = naive_bits, naive_bits // 2
    x_small = alice[:nn]
    s_small = rng.integers(0, 2, nn + mm - 1, dtype=np.uint8)

    def naive() -> np.ndarray:
        matrix = toeplitz_matrix(s_small, nn, mm).astype(np.float32)
        return (matrix @ x_small.astype(np.float32)).astype(np.int64) & 1

    naive_s, _, naive_out = best_of(repeats, naive)
    assert np.array_equal(naive_out, toeplitz_hash(x_small, s_small, mm))
    fft_small_s, _, _ = best_of(repeats, lambda: toeplitz_hash(x_small, s_small, mm))
    rows.append(("(c) Toeplitz PA, partitioned FFT, m = n/2", nn, fft_small_s, 0.0))
    rows.append(("(d) Toeplitz PA, explicit matrix (BLAS)", nn, naive_s, 0.0))

    print(f"key pairs at Q = {QBER}", file=sys.stderr)
    header = f"{'approach':<46} {'bits':>10} {'wall s':>9} {'cpu s':>9} {'bits/s':>11}"
    print(header, file=sys.stderr)
    for name, bits, seconds, cpu_seconds in rows:
        cpu_text = f"{cpu_seconds:>9.3f}" if cpu_seconds else f"{'':>9}"
        print(
            f"{name:<46} {bits:>10} {seconds:>9.3f} {cpu_text} {bits / seconds:>11.4g}",
            file=sys.stderr,
        )
    growth = {
        key: values[-1] / values[-2] * 10 / (sizes[-1] / sizes[-2]) for key, values in cpu.items()
    }
    print(
        "growth of CPU time per 10x input between the two largest sizes (10 = linear): "
        + ", ".join(f"{key} {value:.1f}" for key, value in growth.items()),
        file=sys.stderr,
    )
    last = sizes[-1]
    values = {
        "bits": last,
        "cascade_bits_per_s": last / cpu["cascade"][-1],
        "pa_bits_per_s": last / cpu["pa"][-1],
        "distill_bits_per_s": last / cpu["distill"][-1],
        "cascade_growth_10x": growth["cascade"],
        "pa_growth_10x": growth["pa"],
        "distill_growth_10x": growth["distill"],
        "cascade_speedup_vs_sequential": sequential_s / vectorised_s,
        "pa_speedup_vs_matrix": naive_s / fft_small_s,
        "cascade_f": cascade_f,
    }
    print(" ".join(f"{key}={value:.4g}" for key, value in values.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
