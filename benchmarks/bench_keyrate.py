"""Benchmark the link layer: batch evaluation, optimised reports and curves, Monte Carlo.

Run ``python benchmarks/bench_keyrate.py`` (about a minute) or ``--quick`` (seconds, smaller
sizes; the test suite runs it). Every measurement has a baseline timed in the same run:

1. ``evaluate_links`` on N heterogeneous links (BB84 and MDI-QKD, symmetric and asymmetric
   relays, different lengths, losses, efficiencies and intensities) against a Python loop of
   ``evaluate_link`` over the same links;
2. N optimised ``LinkReport`` objects from ``link_reports`` (one vectorised optimisation per
   protocol) against a loop of ``link_report(..., optimize=True)`` (the baseline loop runs on
   the first ``--baseline-links`` links and is scaled per link);
3. a 500-point optimised MDI-QKD curve (``key_rate_curve``) against a loop of
   ``optimize_intensities`` (scaled the same way);
4. ``hash(report)`` against ``report == other`` and against re-serialising the parameters (what
   hashing cost before the cache key was computed at construction);
5. Monte Carlo pulses per second: the aggregated sampler against a per-pulse numpy simulation;
6. a 200-point optimised finite-key curve (block of 1e8 key-basis detections) for decoy BB84
   and for MDI-QKD (``optimize_bb84_finite_key`` / ``optimize_mdi_finite_key``: basis
   probability, two intensities and their probabilities at every distance, all distances in
   one vectorised search) against a per-point ``scipy.optimize.minimize`` (Nelder-Mead from the
   centre of the same box, on the same key-length kernel), timed on every ``200 /
   --finite-baseline-points``-th distance and scaled to 200 points.

The last line is machine-readable ``key=value`` pairs: ``links``, ``evaluate_links_ms``,
``evaluate_speedup``, ``reports_s``, ``reports_speedup``, ``curve_s``, ``curve_speedup``,
``hash_us``, ``eq_us``, ``mc_pulses_per_s``, ``mc_speedup``, ``finite_curve_200_s`` (the slower
protocol's 200-point curve, seconds; target below 1 s) and ``finite_curve_speedup`` (the
smaller of the two speed-ups over scipy).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import numpy as np
from scipy import optimize

from qkdcircuits import (
    BB84DecoyParams,
    LinkArray,
    MDIParams,
    evaluate_link,
    evaluate_links,
    key_rate_curve,
    link_report,
    link_reports,
    optimize_bb84_finite_key,
    optimize_intensities,
    optimize_mdi_finite_key,
    qubit_outcome_table,
    report_cache_key,
    sample_link_counts,
    with_overrides,
)


def best_of(function: Callable[[], object], repeats: int) -> float:
    """Shortest wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def heterogeneous_links(n: int, seed: int = 1) -> list:
    """``n`` links: 1/3 BB84, 1/3 symmetric MDI-QKD, 1/3 asymmetric MDI-QKD, random devices."""
    rng = np.random.default_rng(seed)
    links = []
    for k in range(n):
        overrides = {
            "efficiency": float(rng.uniform(0.04, 0.3)),
            "extra_loss_db": float(rng.uniform(0.0, 3.0)),
            "mu": float(rng.uniform(0.2, 0.8)),
        }
        if k % 3 == 0:
            base = BB84DecoyParams.gys(length_km=float(rng.uniform(0.0, 140.0)))
        else:
            fraction = 0.5 if k % 3 == 1 else float(rng.uniform(0.05, 0.95))
            base = MDIParams.xu2013(
                length_km=float(rng.uniform(0.0, 200.0)), relay_fraction=fraction
            )
        links.append(with_overrides(base, overrides))
    return links


def per_pulse_bb84(params: BB84DecoyParams, pulses: int, seed: int) -> tuple[int, int]:
    """Baseline: every pulse as an array element (intensity, bases, bit, photons, clicks)."""
    rng = np.random.default_rng(seed)
    source = params.source
    intensities = np.array(source.intensities)
    eta, p_d, e_d = params.transmittance, params.detector.dark_count_prob, params.misalignment_prob
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


def scipy_finite_point(protocol: str, params: object, length: float, block: float) -> float:
    """Baseline: one distance optimised by scipy's Nelder-Mead on the same kernel; its ``l/N``.

    It starts from typical settings (``q = 0.8``, ``mu1 = 0.5``, ``mu2 = 0.1``, probabilities
    0.7 / 0.15 / 0.15) in the optimiser's coordinates, with the objective scaled by its value
    there, so that tiny rates far out are resolved as well as large ones.
    """
    from qkdcircuits.links import finite_key, finite_key_bb84, finite_key_mdi

    if protocol == "bb84-decoy":
        module, weak = finite_key_bb84, params.source.weak_decoy_intensity
        eta, y0, e_d = finite_key_bb84.link_inputs(params, np.array([length]))
        link = (eta, y0, e_d, 0.0)
    else:
        module, weak = finite_key_mdi, params.source_a.weak_decoy_intensity
        link = finite_key_mdi.link_inputs(params, np.array([length]), 0.5)
    key_at = module.model_key(link, params.ec_inefficiency, weak, block, 1e-15, "serfling")
    lower, upper = finite_key.settings_box(weak)

    def rate(x: np.ndarray) -> float:
        terms_at, pulses = key_at(np.clip(x, lower, upper)[:, None])
        value = finite_key.rank_rate(terms_at(1e-10)["objective"], pulses, block)
        return float(np.nan_to_num(value[0], nan=-1e300, neginf=-1e300))

    logit = finite_key.logit
    decoy_ratio = (0.1 - weak) / (0.5 - 2 * weak)
    start = np.array([logit(0.8), np.log(0.5), logit(decoy_ratio), logit(0.7), 0.0])
    scale = abs(rate(start)) or 1.0
    result = optimize.minimize(
        lambda x: -rate(x) / scale,
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000},
    )
    return -float(result.fun) * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a few seconds")
    parser.add_argument("--links", type=int, default=None, help="links in the batch (1000)")
    parser.add_argument("--baseline-links", type=int, default=None, help="loop baseline size")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument(
        "--finite-baseline-points",
        type=int,
        default=None,
        help="distances of the finite-key curve that scipy optimises (20; --quick: 2)",
    )
    args = parser.parse_args()
    n = args.links or (150 if args.quick else 1000)
    n_base = args.baseline_links or (15 if args.quick else 100)
    repeats = args.repeats or (2 if args.quick else 5)
    curve_points = 60 if args.quick else 500
    baseline_pulses = 200_000 if args.quick else 4_000_000
    mc_exponents = (6, 9) if args.quick else (6, 9, 12, 15)
    rows: list[tuple[str, str]] = []

    # -- 1. evaluate_links on heterogeneous links ---------------------------------------------
    params = heterogeneous_links(n)
    groups = {
        protocol: LinkArray.from_params([p for p in params if p.protocol == protocol])
        for protocol in ("bb84-decoy", "mdi")
    }

    def batch() -> None:
        for links in groups.values():
            evaluate_links(links)

    batch()  # warm-up (imports, caches)
    batch_s = best_of(batch, repeats)
    loop_s = best_of(lambda: [evaluate_link(p) for p in params], max(1, repeats // 2))
    worst = 0.0
    for links in groups.values():
        ev = evaluate_links(links)
        for k in range(len(links)):
            one = float(evaluate_link(links.params(k)).key_rate_unclipped)
            worst = max(worst, abs(float(ev.key_rate_unclipped[k]) - one) / max(abs(one), 1e-300))
    evaluate_speedup = loop_s / batch_s
    rows += [
        (f"evaluate_links, {n} heterogeneous links", f"{batch_s * 1e3:10.2f} ms"),
        (f"baseline: loop of {n} evaluate_link", f"{loop_s * 1e3:10.2f} ms"),
        ("speed-up", f"{evaluate_speedup:10.1f} x"),
        ("max relative rate difference batch vs loop", f"{worst:10.1e}"),
    ]

    # -- 2. optimised reports -------------------------------------------------------------------
    start = time.perf_counter()
    reports = link_reports(params, optimize=True)
    reports_s = time.perf_counter() - start
    start = time.perf_counter()
    baseline = [link_report(params=p, optimize=True) for p in params[:n_base]]
    per_report = (time.perf_counter() - start) / n_base
    gap = max(
        abs(r.key_rate_per_pulse - b.key_rate_per_pulse) / max(b.key_rate_per_pulse, 1e-300)
        for r, b in zip(reports, baseline, strict=False)
        if b.key_rate_per_pulse > 0
    )
    reports_speedup = per_report * n / reports_s
    rows += [
        (f"link_reports, {n} optimised reports", f"{reports_s:10.3f} s"),
        (
            f"baseline: link_report loop ({n_base} timed, x{n / n_base:g})",
            f"{per_report * n:10.3f} s",
        ),
        ("speed-up", f"{reports_speedup:10.1f} x"),
        ("max relative rate difference batch vs loop", f"{gap:10.1e}"),
    ]

    # -- 3. optimised curve ---------------------------------------------------------------------
    mdi = MDIParams.xu2013()
    lengths = np.linspace(0.0, 300.0, curve_points)
    curve_s = best_of(lambda: key_rate_curve(mdi, lengths_km=lengths, optimize=True), repeats)
    asym_s = best_of(
        lambda: key_rate_curve(mdi, lengths_km=lengths, optimize=True, relay_fraction=0.25), 1
    )
    sample = lengths[:: max(1, curve_points // n_base)]
    start = time.perf_counter()
    for length in sample:
        optimize_intensities(mdi, length_km=float(length))
    per_point = (time.perf_counter() - start) / sample.size
    curve_speedup = per_point * curve_points / curve_s
    rows += [
        (
            f"{curve_points}-pt optimised MDI curve, relay in the middle",
            f"{curve_s * 1e3:10.1f} ms",
        ),
        (f"{curve_points}-pt optimised MDI curve, relay at 1/4", f"{asym_s * 1e3:10.1f} ms"),
        (
            f"baseline: optimize_intensities loop ({sample.size} timed)",
            f"{per_point * curve_points * 1e3:10.1f} ms",
        ),
        ("speed-up", f"{curve_speedup:10.1f} x"),
    ]

    # -- 4. hashing a report ----------------------------------------------------------------------
    report = link_report(protocol="mdi", length_km=50.0, relay_fraction=0.3)
    twin = link_report(protocol="mdi", length_km=50.0, relay_fraction=0.3)
    calls = 2_000 if args.quick else 20_000

    def per_call(function: Callable[[], object]) -> float:
        return best_of(lambda: [function() for _ in range(calls)], repeats) / calls

    hash_s = per_call(lambda: hash(report))
    eq_s = per_call(lambda: report == twin)
    rehash_s = per_call(lambda: report_cache_key(report.parameters))
    rows += [
        ("hash(LinkReport)", f"{hash_s * 1e6:10.3f} us"),
        ("LinkReport == LinkReport", f"{eq_s * 1e6:10.3f} us"),
        ("baseline: re-serialise + SHA-256 the parameters", f"{rehash_s * 1e6:10.3f} us"),
    ]

    # -- 5. Monte Carlo -------------------------------------------------------------------------
    link = mdi.with_length(length_km=50.0)
    table = qubit_outcome_table(link)  # the 16 circuits run once (exact Aer)
    timings = {}
    for exponent in mc_exponents:
        runs = []
        for seed in range(repeats):
            start = time.perf_counter()
            sample_link_counts(link, pulses=10**exponent, seed=seed, table=table)
            runs.append(time.perf_counter() - start)
        timings[exponent] = statistics.median(runs)
        rows.append(
            (f"MC MDI-QKD, 1e{exponent} pulse pairs", f"{timings[exponent] * 1e3:10.1f} ms")
        )
    top = mc_exponents[-1]
    mc_pulses_per_s = 10**top / timings[top]
    bb84 = BB84DecoyParams.gys(length_km=50.0)
    bb84_table = qubit_outcome_table(bb84)
    aggregated_s = statistics.median(
        best_of(lambda s=s: sample_link_counts(bb84, pulses=10**top, seed=s, table=bb84_table), 1)
        for s in range(repeats)
    )
    start = time.perf_counter()
    signal, detected = per_pulse_bb84(bb84, baseline_pulses, seed=1)
    per_pulse_rate = baseline_pulses / (time.perf_counter() - start)
    expected = float(evaluate_link(bb84).gains["Z:mu"])
    mc_speedup = 10**top / aggregated_s / per_pulse_rate
    rows += [
        (
            f"MC BB84 aggregated throughput (1e{top} pulses)",
            f"{10**top / aggregated_s:10.2e} pulses/s",
        ),
        ("baseline: per-pulse numpy BB84", f"{per_pulse_rate:10.2e} pulses/s"),
        ("throughput ratio", f"{mc_speedup:10.2e} x"),
        (
            "baseline sanity: Q_mu per-pulse / closed form",
            f"{detected / signal / expected:10.4f} +- {1 / np.sqrt(max(detected, 1)):.4f} (1 sd)",
        ),
    ]

    # -- 6. optimised finite-key curves ----------------------------------------------------------
    finite_points = args.finite_baseline_points or (2 if args.quick else 20)
    block = 1e8
    finite_s, finite_speedup = 0.0, math.inf
    for protocol, params, optimiser, top in (
        ("bb84-decoy", BB84DecoyParams.gys(), optimize_bb84_finite_key, 140.0),
        ("mdi", MDIParams.xu2013(), optimize_mdi_finite_key, 200.0),
    ):
        lengths = np.linspace(0.0, top, 200)
        optimiser(params, length_km=lengths[:2], block_size=block)  # warm-up
        best = None

        def curve(params=params, optimiser=optimiser, lengths=lengths) -> None:
            nonlocal best
            best = optimiser(params, length_km=lengths, block_size=block)

        seconds = best_of(curve, max(1, repeats // 2))
        picks = np.linspace(0, 199, finite_points).astype(int)
        start = time.perf_counter()
        scipy_rates = [scipy_finite_point(protocol, params, lengths[k], block) for k in picks]
        per_point = (time.perf_counter() - start) / finite_points
        ours = best.key.key_length_unrounded[picks] / best.key.pulses[picks]
        worst = min(
            (o / s for o, s in zip(ours, scipy_rates, strict=True) if s > 0), default=math.nan
        )
        speedup = per_point * 200 / seconds
        finite_s, finite_speedup = max(finite_s, seconds), min(finite_speedup, speedup)
        rows += [
            (f"200-pt optimised finite-key {protocol} curve (n = 1e8)", f"{seconds:10.3f} s"),
            (
                f"baseline: scipy per point ({finite_points} timed, x{200 / finite_points:g})",
                f"{per_point * 200:10.3f} s",
            ),
            ("speed-up", f"{speedup:10.1f} x"),
            ("worst rate ratio vectorised / scipy", f"{worst:10.4f}"),
        ]

    width = max(len(name) for name, _ in rows)
    print(f"{'measurement':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(
        f"links={n} evaluate_links_ms={batch_s * 1e3:.3f} evaluate_speedup={evaluate_speedup:.2f} "
        f"reports_s={reports_s:.4f} reports_speedup={reports_speedup:.2f} "
        f"curve_s={curve_s:.4f} curve_speedup={curve_speedup:.2f} "
        f"hash_us={hash_s * 1e6:.4f} eq_us={eq_s * 1e6:.4f} "
        f"mc_pulses_per_s={mc_pulses_per_s:.3e} mc_speedup={mc_speedup:.3e} "
        f"finite_curve_200_s={finite_s:.4f} finite_curve_speedup={finite_speedup:.2f}"
    )


if __name__ == "__main__":
    main()
