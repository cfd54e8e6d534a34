"""Throughput of reconciliation (Cascade) and privacy amplification (Toeplitz) at Q = 2%.

Run: ``python benchmarks/bench_postprocessing.py [--bits 1000000] [--repeats 3]``

Measured in one process, on the same random key pair (``n`` bits, errors i.i.d. at Q = 2%):

(a) ``cascade_reconcile`` (original Brassard-Salvail parameters, vectorised across blocks) and
    (a') the Cascade + BICONF preset;
(b) the baseline: a straightforward sequential Cascade (pure Python, one block and one BINARY
    step at a time, numpy only for slicing), on the same shuffles;
(c) ``toeplitz_hash`` from ``n`` to ``n / 2`` bits (exact tiled FFT);
(d) the baseline: the explicit ``m x n`` Toeplitz matrix product (float32 BLAS, exact for these
    sizes) on a ``--naive-bits`` input, the largest that fits in memory comfortably.

Throughput is input bits per second. The last line is machine-readable:
``cascade_bits_per_s=<a> pa_bits_per_s=<c> cascade_f=<f>`` (f = leaked / (n H2(e)), e the
realised error rate), preceded by the speed-ups against the baselines.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from qkdcircuits import binary_entropy
from qkdcircuits.postprocessing import (
    CASCADE_BICONF,
    CASCADE_ORIGINAL,
    cascade_reconcile,
    toeplitz_hash,
    toeplitz_matrix,
)

QBER = 0.02


def best_of(repeats: int, func) -> tuple[float, object]:
    """Smallest wall time of ``repeats`` calls (seconds) and the last return value."""
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = func()
        times.append(time.perf_counter() - start)
    return min(times), value


def sequential_cascade(alice: np.ndarray, bob: np.ndarray, qber: float, seed: int) -> int:
    """Baseline: Brassard-Salvail Cascade block by block; returns the leaked parity count.

    Uses the same block sizes and the same ``rng.permutation`` shuffles as ``cascade_reconcile``
    with the same seed; after each correction the blocks of earlier passes that turned odd are
    searched, smallest first.
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bits", type=int, default=1_000_000, help="key length n")
    parser.add_argument("--naive-bits", type=int, default=8192, help="naive Toeplitz input size")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    n = args.bits

    rng = np.random.default_rng(1)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    bob = alice ^ (rng.random(n) < QBER).astype(np.uint8)

    cascade_s, result = best_of(
        args.repeats, lambda: cascade_reconcile(alice, bob, qber=QBER, seed=2)
    )
    assert result.success
    biconf_s, biconf = best_of(
        args.repeats,
        lambda: cascade_reconcile(alice, bob, qber=QBER, config=CASCADE_BICONF, seed=2),
    )
    assert biconf.success
    start = time.perf_counter()
    sequential_leak = sequential_cascade(alice, bob, QBER, seed=2)
    sequential_s = time.perf_counter() - start
    sequential_f = sequential_leak / (n * binary_entropy(result.error_rate))

    m = n // 2
    seed_bits = rng.integers(0, 2, n + m - 1, dtype=np.uint8)
    pa_s, _ = best_of(args.repeats, lambda: toeplitz_hash(alice, seed_bits, m))

    nn = args.naive_bits
    mm = nn // 2
    x_small = alice[:nn]
    s_small = rng.integers(0, 2, nn + mm - 1, dtype=np.uint8)

    def naive() -> np.ndarray:
        matrix = toeplitz_matrix(s_small, nn, mm).astype(np.float32)
        return (matrix @ x_small.astype(np.float32)).astype(np.int64) & 1

    naive_s, naive_out = best_of(args.repeats, naive)
    assert np.array_equal(naive_out, toeplitz_hash(x_small, s_small, mm))
    fft_small_s, _ = best_of(args.repeats, lambda: toeplitz_hash(x_small, s_small, mm))

    rows = [
        (f"(a) Cascade, vectorised (f = {result.efficiency:.4f})", n, cascade_s),
        (f"(a') Cascade + BICONF (f = {biconf.efficiency:.4f})", n, biconf_s),
        (f"(b) sequential Cascade (f = {sequential_f:.4f})", n, sequential_s),
        ("(c) Toeplitz PA, tiled FFT, m = n/2", n, pa_s),
        ("(c) Toeplitz PA, tiled FFT, m = n/2", nn, fft_small_s),
        ("(d) Toeplitz PA, explicit matrix (BLAS)", nn, naive_s),
    ]
    print(f"key pair: n = {n} bits, Q = {QBER}", file=sys.stderr)
    print(f"{'approach':<46} {'bits':>10} {'wall s':>10} {'bits/s':>12}", file=sys.stderr)
    for name, bits, seconds in rows:
        print(f"{name:<46} {bits:>10} {seconds:>10.4f} {bits / seconds:>12.4g}", file=sys.stderr)
    cascade_rate = n / cascade_s
    pa_rate = n / pa_s
    print(
        f"cascade_speedup_vs_sequential={sequential_s / cascade_s:.3g} "
        f"pa_speedup_vs_matrix_at_{nn}_bits={naive_s / fft_small_s:.3g}"
    )
    print(
        f"cascade_bits_per_s={cascade_rate:.4g} pa_bits_per_s={pa_rate:.4g} "
        f"cascade_f={result.efficiency:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
