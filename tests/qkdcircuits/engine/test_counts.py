"""Counts-only round engines: exact multinomial counts in blocks, chunk invariance, closed forms."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from qkdcircuits import (
    ArmNoise,
    RoundCounts,
    simulate_bb84_counts,
    simulate_mdi,
    simulate_mdi_counts,
)
from qkdcircuits.engine import COUNT_BLOCK_ROUNDS
from qkdcircuits.engine._common import check_round_memory
from tests.helpers import FALSE_ALARM, binomial_tolerance

B = COUNT_BLOCK_ROUNDS


def _assert_proportion(count: int, n: int, p: float) -> None:
    """``count / n`` agrees with ``p`` within the binomial tolerance at the suite's false alarm."""
    assert abs(count / n - p) <= binomial_tolerance(p, n), (count, n, p)


@pytest.mark.parametrize("rounds", [7, B, 5 * B + 12_345, 40 * B])
def test_totals_do_not_depend_on_the_chunk_size(rounds):
    noise = ArmNoise(depolarizing_prob=0.1)
    reference = simulate_mdi_counts(rounds=rounds, noise=noise, seed=11)
    for chunk in (B, 2 * B, 3 * B, 16 * B):
        chunked = simulate_mdi_counts(rounds=rounds, noise=noise, seed=11, chunk_rounds=chunk)
        np.testing.assert_array_equal(chunked.histogram, reference.histogram)
        assert (chunked.z, chunked.x, chunked.heralded) == (
            reference.z,
            reference.x,
            reference.heralded,
        )
        sizes = chunked.chunk_histograms.sum(axis=(1, 2))
        assert sizes.sum() == rounds and np.all(sizes[:-1] == chunk) and 0 < sizes[-1] <= chunk
        np.testing.assert_array_equal(chunked.chunk_histograms.sum(axis=0), reference.histogram)


def test_coarser_chunks_are_sums_of_finer_ones():
    fine = simulate_bb84_counts(rounds=9 * B + 1, seed=4, chunk_rounds=B).chunk_histograms
    coarse = simulate_bb84_counts(rounds=9 * B + 1, seed=4, chunk_rounds=3 * B).chunk_histograms
    # Chunks cover consecutive rounds: 9 blocks and the last round make 10 fine chunks and
    # 3 coarse ones of three blocks plus one of the last round.
    assert fine.shape == (10, 8, 2) and coarse.shape == (4, 8, 2)
    np.testing.assert_array_equal(coarse[:3], fine[:9].reshape(3, 3, 8, 2).sum(axis=1))
    np.testing.assert_array_equal(coarse[3], fine[9])
    assert fine[9].sum() == 1


def test_same_seed_same_counts_and_different_seeds_differ():
    first = simulate_mdi_counts(rounds=10**8, seed=5)
    again = simulate_mdi_counts(rounds=10**8, seed=np.random.default_rng(5))
    other = simulate_mdi_counts(rounds=10**8, seed=6)
    np.testing.assert_array_equal(first.histogram, again.histogram)
    assert not np.array_equal(first.histogram, other.histogram)


@pytest.mark.parametrize("variant", ["gate", "linear-optics"])
@pytest.mark.parametrize("p", [0.0, 0.04, 0.2])
def test_mdi_qber_and_heralding_match_the_closed_forms(variant, p):
    """QBER_Z = QBER_X = p - p^2/2 (each arm flips with p/2); heralding 1 or 1/2."""
    n = 10**9
    counts = simulate_mdi_counts(
        rounds=n, variant=variant, noise=ArmNoise(depolarizing_prob=p), seed=7
    )
    herald = 1.0 if variant == "gate" else 0.5
    _assert_proportion(counts.heralded, n, herald)
    for estimate in (counts.z, counts.x):
        _assert_proportion(estimate.sifted, n, herald / 4)  # bases agree and match a basis: 1/4
        _assert_proportion(estimate.errors, estimate.sifted, p - p * p / 2)
        if p == 0.0:
            assert estimate.errors == 0


def test_biased_bases_give_the_expected_sifting_fractions():
    n, pz = 10**9, 0.8
    counts = simulate_mdi_counts(rounds=n, z_basis_prob=pz, seed=8)
    _assert_proportion(counts.sifted_z, n, pz * pz)
    _assert_proportion(counts.sifted_x, n, (1 - pz) ** 2)
    bb84 = simulate_bb84_counts(
        rounds=n, z_basis_prob=pz, noise=ArmNoise(misalignment_rad=0.1), seed=9
    )
    _assert_proportion(bb84.sifted_z, n, pz * pz)
    _assert_proportion(bb84.z.errors, bb84.sifted_z, math.sin(0.1) ** 2)
    assert bb84.heralded == n


def test_cells_follow_the_multinomial_of_the_table():
    """Every (setting, outcome) cell of 1e9 BB84 rounds is Binomial(n, P(s) table[s, o])."""
    n = 10**9
    counts = simulate_bb84_counts(rounds=n, noise=ArmNoise(depolarizing_prob=0.3), seed=10)
    cells = counts.table.reshape(8, 2) / 8
    for observed, p in zip(counts.histogram.ravel(), cells.ravel(), strict=True):
        _assert_proportion(int(observed), n, float(p))


def test_chunks_are_independent_binomial_samples():
    """Across 2,000 chunks of 2**20 rounds, sifted Z counts have the binomial mean and variance.

    The sample variance of k i.i.d. normal-like counts satisfies (k-1) s^2 / sigma^2 ~ chi2(k-1);
    repeated or correlated blocks would collapse or inflate it.
    """
    k = 2000
    counts = simulate_mdi_counts(rounds=k * B, chunk_rounds=B, seed=12)
    _, sifted = counts.chunk_counts("Z")
    assert sifted.size == k
    p = 0.25
    mean, variance = B * p, B * p * (1 - p)
    assert abs(sifted.mean() - mean) <= binomial_tolerance(p, k * B) * B
    statistic = (k - 1) * sifted.var(ddof=1) / variance
    low, high = stats.chi2.ppf([FALSE_ALARM / 2, 1 - FALSE_ALARM / 2], k - 1)
    assert low <= statistic <= high


def test_chunk_counts_per_basis_and_their_errors():
    counts = simulate_mdi_counts(
        rounds=4 * B, chunk_rounds=B, noise=ArmNoise(depolarizing_prob=0.1), seed=13
    )
    for basis, estimate in (("Z", counts.z), ("X", counts.x)):
        errors, sifted = counts.chunk_counts(basis)
        assert errors.sum() == estimate.errors and sifted.sum() == estimate.sifted
        assert np.all(errors < sifted)
    with pytest.raises(ValueError, match="basis"):
        counts.chunk_counts("Y")
    with pytest.raises(ValueError, match="chunk_rounds"):
        simulate_mdi_counts(rounds=10, seed=1).chunk_counts()


def test_counts_summary_matches_the_per_round_summary():
    counts = simulate_mdi_counts(rounds=10**6, seed=3, noise=ArmNoise(depolarizing_prob=0.05))
    rounds = simulate_mdi(rounds=10**6, seed=3, noise=ArmNoise(depolarizing_prob=0.05))
    assert isinstance(counts, RoundCounts)
    data = json.loads(json.dumps(counts.to_dict()))
    assert set(rounds.to_dict()) <= set(data)
    assert data["counts_only"] is True and data["protocol"] == "mdi"
    assert counts.metadata["noise"] == rounds.metadata["noise"]
    np.testing.assert_allclose(counts.table, rounds.table)
    assert counts.histogram.flags.writeable is False


def test_ten_billion_rounds_in_bounded_memory():
    """1e10 rounds: 2**20-round blocks, no per-round array (the per-round path needs 20 GB)."""
    import tracemalloc

    tracemalloc.start()
    counts = simulate_bb84_counts(rounds=10**10, noise=ArmNoise(depolarizing_prob=0.1), seed=14)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert int(counts.histogram.sum()) == 10**10
    assert peak < 64 * 2**20
    _assert_proportion(counts.x.errors, counts.sifted_x, 0.05)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"chunk_rounds": 1000}, ValueError, "chunk_rounds"),
        ({"chunk_rounds": 0}, ValueError, "chunk_rounds"),
        ({"chunk_rounds": 2.0**20}, TypeError, "chunk_rounds"),
        ({"rounds": 2**42, "chunk_rounds": B}, ValueError, "chunk_rounds"),
        ({"rounds": 0}, ValueError, "rounds"),
        ({"z_basis_prob": 1.5}, ValueError, "z_basis_prob"),
        ({"backend": "foo"}, TypeError, "backend"),
    ],
)
def test_bad_arguments_are_named_before_anything_runs(kwargs, error, match, monkeypatch):
    import qkdcircuits.execution as execution

    def refuse(*args, **kw):
        raise AssertionError("a circuit ran before the arguments were checked")

    monkeypatch.setattr(execution, "_exact_aer", refuse)
    monkeypatch.setattr(execution, "_sampled", refuse)
    arguments = {"rounds": 10, "seed": 1, **kwargs}
    with pytest.raises(error, match=match):
        simulate_mdi_counts(**arguments)


def test_per_round_path_refuses_rounds_beyond_memory_and_points_to_counts(monkeypatch):
    import qkdcircuits.engine._common as common

    monkeypatch.setattr(common, "available_memory_bytes", lambda: 2**30)
    with pytest.raises(ValueError, match=r"rounds=1000000000000 needs 1\.86e\+03 GiB") as info:
        simulate_mdi(rounds=10**12, seed=1)
    assert "simulate_mdi_counts" in str(info.value) and "--counts-only" in str(info.value)
    # Within memory nothing is refused.
    check_round_memory(10**6, 2, "simulate_mdi_counts", available=2 * 10**6)
    with pytest.raises(ValueError, match="rounds=1000001"):
        check_round_memory(10**6 + 1, 2, "simulate_mdi_counts", available=2 * 10**6)
