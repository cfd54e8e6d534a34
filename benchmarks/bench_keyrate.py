"""Benchmark the key-rate layer: optimised key-rate curves and Monte Carlo throughput.

Run ``python benchmarks/bench_keyrate.py``. Two measurements, each against a baseline run in
the same process:

1. a 500-point optimised MDI-QKD curve (0-300 km, Xu et al. 2013 parameters): the vectorised
   golden-section optimiser of :func:`qkdcircuits.links.curves.key_rate_curve` against a loop of
   per-distance ``scipy`` optimisations (:func:`qkdcircuits.links.optimize.optimize_intensities`);
2. Monte Carlo pulses per second: the exact aggregated sampler of
   :mod:`qkdcircuits.links.montecarlo` (its cost grows only with the number of non-empty cells, so
   the throughput grows with the number of pulses; the table shows 1e6 to 1e15) against a
   straightforward per-pulse vectorised numpy simulation of the same decoy-BB84 link.

The last line is machine-readable: ``curve_500_s=<s> mc_pulses_per_s=<n>``, where ``n`` is
measured on 10**12-pulse MDI-QKD runs.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from qkdcircuits import (
    BB84DecoyParams,
    MDIParams,
    evaluate_link,
    key_rate_curve,
    optimize_intensities,
    qubit_outcome_table,
    sample_link_counts,
)


def best_of(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def per_pulse_bb84(params: BB84DecoyParams, pulses: int, seed: int) -> tuple[int, int]:
    """Baseline: every pulse as an array element (intensity, bases, bit, photons, clicks)."""
    rng = np.random.default_rng(seed)
    source = params.source
    intensities = np.array(source.intensities)
    eta, p_d, e_d = params.transmittance, params.detector.dark_count_prob, params.misalignment_error
    signal_pulses = detections = 0
    chunk = 1 << 20
    for start in range(0, pulses, chunk):
        n = min(chunk, pulses - start)
        which = rng.choice(3, size=n, p=source.probabilities)
        basis_a, basis_b = rng.integers(0, 2, n), rng.integers(0, 2, n)
        bit = rng.integers(0, 2, n)
        photons = rng.binomial(rng.poisson(intensities[which]), eta)
        flip = (rng.random(n) < e_d).astype(np.int64)
        matched = basis_a == basis_b
        to_zero = np.where(
            matched, np.where((bit ^ flip) == 0, photons, 0), rng.binomial(photons, 0.5)
        )
        click0 = (to_zero > 0) | (rng.random(n) < p_d)
        click1 = (photons - to_zero > 0) | (rng.random(n) < p_d)
        signal = matched & (which == 0)
        signal_pulses += int(signal.sum())
        detections += int((signal & (click0 | click1)).sum())
    return signal_pulses, detections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline-pulses", type=int, default=4_000_000)
    args = parser.parse_args()

    mdi = MDIParams.xu2013()
    lengths = np.linspace(0.0, 300.0, 500)
    rows: list[tuple[str, str]] = []

    # -- 1. optimised curves ---------------------------------------------------------------
    key_rate_curve(mdi, lengths, optimize=True)  # warm-up (imports, caches)
    curve_s = best_of(lambda: key_rate_curve(mdi, lengths, optimize=True), args.repeats)
    curve_finite_s = best_of(
        lambda: key_rate_curve(mdi, lengths, optimize=True, decoy="three-intensity"),
        args.repeats,
    )
    curve_asym_s = best_of(
        lambda: key_rate_curve(mdi, lengths, optimize=True, relay_fraction=0.25), 1
    )
    start = time.perf_counter()
    baseline = [optimize_intensities(mdi, length_km=length) for length in lengths]
    baseline_s = time.perf_counter() - start
    curve = key_rate_curve(mdi, lengths, optimize=True)
    positive = np.array([b.key_rate_per_pulse > 0 for b in baseline])
    worst = np.max(
        np.abs(
            curve.key_rate_per_pulse[positive]
            / np.array([b.key_rate_per_pulse for b in baseline])[positive]
            - 1
        )
    )
    rows += [
        ("500-pt optimised MDI curve, infinite decoy", f"{curve_s * 1e3:9.1f} ms"),
        ("500-pt optimised MDI curve, three-intensity", f"{curve_finite_s * 1e3:9.1f} ms"),
        ("500-pt optimised MDI curve, relay at 1/4", f"{curve_asym_s * 1e3:9.1f} ms"),
        ("baseline: 500 scipy optimisations", f"{baseline_s * 1e3:9.1f} ms"),
        ("speed-up vs baseline (infinite decoy)", f"{baseline_s / curve_s:9.1f} x"),
        ("max relative rate difference vs baseline", f"{worst:9.1e}"),
    ]

    # -- 2. Monte Carlo ------------------------------------------------------------------------
    link = mdi.with_length(50.0)
    table = qubit_outcome_table(link)  # the 16 circuits run once (exact Aer)
    timings = {}
    for exponent in (6, 9, 12, 15):
        pulses = 10**exponent
        runs = []
        for seed in range(args.repeats):
            start = time.perf_counter()
            sample_link_counts(link, pulses=pulses, seed=seed, table=table)
            runs.append(time.perf_counter() - start)
        timings[exponent] = statistics.median(runs)
        rows.append((f"MC MDI-QKD, 1e{exponent} pulse pairs", f"{timings[exponent] * 1e3:9.1f} ms"))
    mc_pulses_per_s = 10**12 / timings[12]

    bb84 = BB84DecoyParams.gys(length_km=50.0)
    bb84_table = qubit_outcome_table(bb84)
    aggregated_s = statistics.median(
        best_of(lambda s=s: sample_link_counts(bb84, pulses=10**12, seed=s, table=bb84_table), 1)
        for s in range(args.repeats)
    )
    start = time.perf_counter()
    signal, detected = per_pulse_bb84(bb84, args.baseline_pulses, seed=1)
    per_pulse_s = time.perf_counter() - start
    per_pulse_rate = args.baseline_pulses / per_pulse_s
    expected = float(evaluate_link(bb84).gains["Z:mu"])
    rows += [
        ("MC BB84, 1e12 pulses (aggregated)", f"{aggregated_s * 1e3:9.1f} ms"),
        ("MC BB84 aggregated throughput", f"{1e12 / aggregated_s:9.2e} pulses/s"),
        ("baseline: per-pulse numpy BB84", f"{per_pulse_rate:9.2e} pulses/s"),
        (
            "throughput ratio vs per-pulse baseline",
            f"{1e12 / aggregated_s / per_pulse_rate:9.2e} x",
        ),
        (
            "baseline sanity: Q_mu per-pulse / closed form",
            f"{detected / signal / expected:9.4f} +- {1 / np.sqrt(detected):.4f} (1 sd)",
        ),
    ]

    width = max(len(name) for name, _ in rows)
    print(f"{'measurement':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"curve_500_s={curve_s:.4f} mc_pulses_per_s={mc_pulses_per_s:.3e}")


if __name__ == "__main__":
    main()
