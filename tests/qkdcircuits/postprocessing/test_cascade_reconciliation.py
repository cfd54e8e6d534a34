"""Cascade: reconciled keys agree, leakage is accounted, efficiency matches Brassard-Salvail."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qkdcircuits import binary_entropy
from qkdcircuits.postprocessing import (
    CASCADE_BICONF,
    CASCADE_ORIGINAL,
    CascadeConfig,
    cascade_reconcile,
)
from qkdcircuits.postprocessing import cascade as cascade_module
from tests.helpers import Z_SCORE, binomial_tolerance


def _keys(n: int, qber: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    bob = alice ^ (rng.random(n) < qber).astype(np.uint8)
    return alice, bob


@pytest.mark.parametrize("config", [CASCADE_ORIGINAL, CASCADE_BICONF], ids=lambda c: c.name)
@pytest.mark.parametrize("qber", [0.002, 0.01, 0.03, 0.05, 0.1, 0.15])
def test_reconciled_keys_are_identical(config, qber):
    for seed in range(10):
        alice, bob = _keys(10_000, qber, seed)
        result = cascade_reconcile(alice, bob, qber=qber, config=config, seed=seed)
        assert np.array_equal(result.bob_bits, alice)
        assert result.success and result.residual_errors == 0
        # BINARY only ever ends on an erroneous bit: every flip removes one error
        assert result.corrected_bits == result.initial_errors


def test_one_megabit_block_at_two_percent():
    alice, bob = _keys(1_000_000, 0.02, 11)
    result = cascade_reconcile(alice, bob, qber=0.02, seed=12)
    assert np.array_equal(result.bob_bits, alice)
    assert 1.0 < result.ec_inefficiency < 1.25


# Brassard and Salvail (EUROCRYPT '93), n = 10^4, 4 passes, k1 = 0.73/Q, block doubling
PUBLISHED_EFFICIENCY = {0.01: 1.16, 0.05: 1.16, 0.10: 1.22}


@pytest.mark.parametrize("qber", sorted(PUBLISHED_EFFICIENCY))
def test_efficiency_matches_brassard_salvail(qber):
    reference = PUBLISHED_EFFICIENCY[qber]
    seeds = 60
    efficiencies = []
    for seed in range(seeds):
        alice, bob = _keys(10_000, qber, 1000 + seed)
        efficiencies.append(cascade_reconcile(alice, bob, qber=qber, seed=seed).ec_inefficiency)
    mean = float(np.mean(efficiencies))
    standard_error = float(np.std(efficiencies, ddof=1)) / math.sqrt(seeds)
    # the check is meaningful only if sampling noise is small next to the 5% window
    assert Z_SCORE * standard_error < 0.02 * reference
    assert abs(mean - reference) <= 0.05 * reference


def test_biconf_variant_leaks_less_than_original_at_ten_thousand_bits():
    """Measured: 2 passes + BICONF leaks less than 4 passes (fewer block parities at n=10^4)."""
    diffs = []
    for seed in range(40):
        alice, bob = _keys(10_000, 0.05, 2000 + seed)
        original = cascade_reconcile(alice, bob, qber=0.05, seed=seed)
        biconf = cascade_reconcile(alice, bob, qber=0.05, config=CASCADE_BICONF, seed=seed)
        assert biconf.biconf_checks >= CASCADE_BICONF.biconf_rounds
        diffs.append(original.ec_inefficiency - biconf.ec_inefficiency)
    mean = float(np.mean(diffs))
    assert mean > Z_SCORE * float(np.std(diffs, ddof=1)) / math.sqrt(len(diffs))


@pytest.mark.parametrize("weight", [2, 200])
def test_biconf_check_catches_any_error_pattern_with_probability_one_half(weight):
    """One pass over the whole key sees an even error count and searches nothing; the first
    BICONF check must then be odd with probability exactly 1/2, whatever the pattern (an
    all-ones pattern of even length included)."""
    n, runs = 200, 600
    alice = np.zeros(n, dtype=np.uint8)
    config = CascadeConfig(name="biconf-only", passes=1, block_sizes=(n,), biconf_rounds=1)
    caught = 0
    for seed in range(runs):
        bob = alice.copy()
        bob[np.random.default_rng(seed).choice(n, weight, replace=False)] = 1
        result = cascade_reconcile(alice, bob, qber=0.01, config=config, seed=seed)
        # the first check was odd iff BICONF needed a second one
        caught += result.biconf_checks > 1
    assert abs(caught / runs - 0.5) <= binomial_tolerance(0.5, runs)


def test_biconf_reconciles_an_all_ones_error_pattern():
    n = 1_000
    alice = np.zeros(n, dtype=np.uint8)
    config = CascadeConfig(name="biconf-only", passes=1, block_sizes=(n,), biconf_rounds=40)
    result = cascade_reconcile(alice, np.ones(n, dtype=np.uint8), qber=0.5, config=config, seed=1)
    assert result.success and result.corrected_bits == n


def test_efficiency_is_above_the_shannon_limit_on_average():
    efficiencies = []
    for seed in range(30):
        alice, bob = _keys(10_000, 0.03, 3000 + seed)
        efficiencies.append(cascade_reconcile(alice, bob, qber=0.03, seed=seed).ec_inefficiency)
    assert np.mean(efficiencies) > 1.0


def test_no_errors_costs_only_the_block_parities():
    alice, _ = _keys(5_000, 0.0, 1)
    result = cascade_reconcile(alice, alice.copy(), qber=0.01, seed=2)
    sizes = result.block_sizes
    assert sizes == (73, 146, 292, 584)
    assert result.leaked_bits == sum(math.ceil(5_000 / k) for k in sizes)
    assert result.corrected_bits == 0 and math.isnan(result.ec_inefficiency)


def test_single_error_costs_one_binary_search():
    alice, _ = _keys(5_000, 0.0, 3)
    bob = alice.copy()
    bob[1234] ^= 1
    result = cascade_reconcile(alice, bob, qber=0.01, seed=4)
    blocks = sum(math.ceil(5_000 / k) for k in result.block_sizes)
    k1 = result.block_sizes[0]
    steps = result.leaked_bits - blocks
    # BINARY halves the block: floor(log2 k1) or ceil(log2 k1) disclosed parities
    assert math.floor(math.log2(k1)) <= steps <= math.ceil(math.log2(k1))
    assert result.corrected_bits == 1 and np.array_equal(result.bob_bits, alice)


def test_disclosed_transcript_holds_alices_parities():
    alice, bob = _keys(2_000, 0.05, 5)
    result = cascade_reconcile(alice, bob, qber=0.05, seed=6)
    assert result.disclosed.size == result.leaked_bits
    # the first disclosures are the pass-1 block parities of Alice's shuffled key
    rng = np.random.default_rng(6)
    order = rng.permutation(alice.size)
    k1 = result.block_sizes[0]
    shuffled = alice[order]
    expected = np.add.reduceat(shuffled, np.arange(0, alice.size, k1)) & 1
    assert np.array_equal(result.disclosed[: expected.size], expected)


def test_same_seed_same_result():
    alice, bob = _keys(20_000, 0.04, 7)
    first = cascade_reconcile(alice, bob, qber=0.04, seed=8)
    second = cascade_reconcile(alice, bob, qber=0.04, seed=8)
    assert first.leaked_bits == second.leaked_bits
    assert np.array_equal(first.disclosed, second.disclosed)


def test_block_sizes_rules():
    assert CASCADE_ORIGINAL.pass_block_sizes(100, 0.01) == (73, 100, 100, 100)
    assert CASCADE_ORIGINAL.pass_block_sizes(1_000, 0.0) == (1_000,) * 4
    modified = CascadeConfig(name="modified", passes=3, block_sizes=(8, 40, 500))
    assert modified.pass_block_sizes(10_000, 0.05) == (8, 40, 500)
    alice, bob = _keys(10_000, 0.05, 9)
    result = cascade_reconcile(alice, bob, qber=0.05, config=modified, seed=1)
    assert result.block_sizes == (8, 40, 500) and result.success


def test_inefficiency_definition():
    alice, bob = _keys(10_000, 0.05, 10)
    result = cascade_reconcile(alice, bob, qber=0.05, seed=3)
    e = result.initial_errors / 10_000
    assert result.ec_inefficiency == pytest.approx(
        result.leaked_bits / (10_000 * binary_entropy(e))
    )
    record = result.to_dict()
    assert record["leaked_bits"] == result.leaked_bits and record["method"] == "cascade"
    assert record["ec_inefficiency"] == result.ec_inefficiency and "efficiency" not in record


def test_empty_key():
    empty = np.zeros(0, dtype=np.uint8)
    result = cascade_reconcile(empty, empty, qber=0.1, seed=0)
    assert result.leaked_bits == 0 and result.length == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"passes": 0}, ValueError, "passes=0"),
        ({"first_block_factor": -1.0}, ValueError, "first_block_factor"),
        ({"block_growth": 0.5}, ValueError, "block_growth=0.5"),
        ({"passes": 2, "block_sizes": (4,)}, ValueError, "block_sizes"),
        ({"biconf_rounds": -1}, ValueError, "biconf_rounds=-1"),
        ({"biconf_rounds": 1.5}, TypeError, "biconf_rounds"),
        ({"name": ""}, ValueError, "name"),
    ],
)
def test_config_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        CascadeConfig(**kwargs)


def test_argument_validation():
    a = np.zeros(10, dtype=np.uint8)
    with pytest.raises(ValueError, match="differ in length"):
        cascade_reconcile(a, a[:5], qber=0.1)
    with pytest.raises(ValueError, match="only 0 and 1"):
        cascade_reconcile(a + 2, a, qber=0.1)
    with pytest.raises(ValueError, match=r"qber=1\.5"):
        cascade_reconcile(a, a, qber=1.5)
    with pytest.raises(ValueError, match="config='ldpc'"):
        cascade_reconcile(a, a, qber=0.1, config="ldpc")
    with pytest.raises(TypeError, match="config"):
        cascade_reconcile(a, a, qber=0.1, config=3)


def test_out_of_memory_says_how_much_and_what_to_do(monkeypatch):
    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(cascade_module._Pass, "shuffled", exhausted)
    alice, bob = _keys(10_000, 0.02, 1)
    match = r"Cascade on 10000 bits \(frames of 10000\) needs about .* GiB.*smaller frames"
    with pytest.raises(MemoryError, match=match):
        cascade_reconcile(alice, bob, qber=0.02, seed=1)


def test_long_keys_are_reconciled_frame_by_frame():
    """A key longer than frame_bits is cut into near-equal frames, each reconciled on its own
    with the next shuffles of the same generator: the result is the frames' results joined."""
    alice, bob = _keys(25_000, 0.03, 12)
    framed = cascade_reconcile(
        alice, bob, qber=0.03, config=CascadeConfig(frame_bits=10_000, biconf_rounds=3), seed=5
    )
    assert framed.success and np.array_equal(framed.bob_bits, alice)
    rng = np.random.default_rng(5)
    whole = CascadeConfig(frame_bits=None, biconf_rounds=3)
    parts = [  # three frames: 25000 / 3 rounded at 0, 8333, 16667, 25000
        cascade_reconcile(alice[a:b], bob[a:b], qber=0.03, config=whole, seed=rng)
        for a, b in [(0, 8_333), (8_333, 16_667), (16_667, 25_000)]
    ]
    assert framed.leaked_bits == sum(p.leaked_bits for p in parts)
    assert framed.biconf_checks == sum(p.biconf_checks for p in parts)
    assert np.array_equal(framed.disclosed, np.concatenate([p.disclosed for p in parts]))
    assert framed.block_sizes == parts[0].block_sizes
    # framing costs no efficiency: one frame of 25,000 bits leaks as much to within 3%
    single = cascade_reconcile(alice, bob, qber=0.03, config=whole, seed=5)
    assert abs(framed.leaked_bits / single.leaked_bits - 1) < 0.03


def test_frame_bits_validation():
    with pytest.raises(ValueError, match="frame_bits=0"):
        CascadeConfig(frame_bits=0)
    with pytest.raises(TypeError, match="frame_bits"):
        CascadeConfig(frame_bits=1.5)
