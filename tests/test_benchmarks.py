"""Every benchmark script runs in its ``--quick`` mode and ends with a machine-readable line."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_quick(script: str) -> dict[str, float]:
    """Run ``benchmarks/<script> --quick``; return its last line as ``{key: value}``."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), "--quick"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    last = out.stdout.strip().splitlines()[-1]
    pairs = dict(item.split("=", 1) for item in last.split())
    return {key: float(value) for key, value in pairs.items()}


@pytest.mark.slow
def test_bench_keyrate_quick():
    values = run_quick("bench_keyrate.py")
    expected = {
        "links",
        "evaluate_links_ms",
        "evaluate_speedup",
        "reports_s",
        "reports_speedup",
        "curve_s",
        "curve_speedup",
        "hash_us",
        "eq_us",
        "mc_pulses_per_s",
        "mc_speedup",
        "finite_curve_200_s",
        "finite_curve_speedup",
    }
    assert set(values) == expected
    assert all(math.isfinite(v) and v > 0 for v in values.values())


@pytest.mark.slow
def test_bench_postprocessing_quick():
    values = run_quick("bench_postprocessing.py")
    expected = {
        "bits",
        "cascade_bits_per_s",
        "pa_bits_per_s",
        "distill_bits_per_s",
        "cascade_growth_10x",
        "pa_growth_10x",
        "distill_growth_10x",
        "cascade_speedup_vs_sequential",
        "pa_speedup_vs_matrix",
        "cascade_f",
    }
    assert set(values) == expected
    assert all(math.isfinite(v) and v > 0 for v in values.values())
    assert values["bits"] == 100_000
    # Cascade's inefficiency at Q = 2% (Brassard and Salvail 1994: about 1.16 at 1% and 5%)
    assert 1.0 < values["cascade_f"] < 1.3


@pytest.mark.slow
def test_bench_rounds_quick():
    values = run_quick("bench_rounds.py")
    expected = {
        "rounds_per_s",
        "per_round_circuit_rounds_per_s",
        "speedup",
        "rng_floor_ratio",
        "counts_rounds_per_s",
        "counts_speedup",
        "counts_peak_mib",
    }
    assert set(values) == expected
    assert all(math.isfinite(v) and v > 0 for v in values.values())


@pytest.mark.slow
def test_bench_kms_quick():
    values = run_quick("bench_kms.py")
    assert set(values) == {"kms_keys_per_s", "kms_p99_ms", "in_process_keys_per_s"}
    assert all(math.isfinite(v) and v > 0 for v in values.values())


@pytest.mark.slow
def test_bench_pbft_quick():
    values = run_quick("bench_pbft.py")
    assert set(values) == {"n4_req_per_s", "n16_req_per_s", "n64_req_per_s", "msgs_per_req_n16"}
    assert all(math.isfinite(v) and v > 0 for v in values.values())
    # per request at n = 16: the request and 16 replies at least, and at most that plus a whole
    # unbatched instance (15 pre-prepares, 225 prepares, 240 commits)
    assert 1 + 16 <= values["msgs_per_req_n16"] <= 1 + 16 + 480


@pytest.mark.slow
def test_bench_network_quick():
    values = run_quick("bench_network.py")
    assert set(values) == {
        "nodes_100_sim_s_per_s",
        "nodes_300_sim_s_per_s",
        "speedup",
        "heap_vs_simpy",
    }
    assert values["speedup"] > 1  # the vectorised simulation beats the per-link loop
    assert all(v > 0 for v in values.values() if math.isfinite(v))


@pytest.mark.slow
def test_bench_rl_quick():
    values = run_quick("bench_rl.py")
    assert set(values) == {"env_steps_per_s", "vec_env_steps_per_s", "train_steps_per_s"}
    assert all(math.isfinite(v) and v > 0 for v in values.values())
