"""End to end: engine rounds -> estimated, reconciled, verified, amplified, authenticated keys."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from qkdcircuits import ArmNoise, simulate_bb84, simulate_mdi
from qkdcircuits.postprocessing import (
    BOOTSTRAP_KEY_BITS,
    CascadeConfig,
    DistillConfig,
    InsufficientKeyError,
    KeyPool,
    distill_key,
    distill_rounds,
    secret_key_length,
)
from tests.helpers import binomial_tolerance


@pytest.fixture(scope="module")
def mdi_rounds():
    return simulate_mdi(rounds=400_000, noise=ArmNoise(depolarizing_prob=0.03), seed=21)


def _check_accounting(result):
    acc = result.accounting
    assert acc.sifted_bits == acc.estimation_bits + acc.reconciled_bits
    assert acc.reconciled_bits == acc.final_bits + acc.pa_removed_bits
    assert acc.net_bits == acc.final_bits - acc.authentication_bits
    assert acc.final_bits == result.final_length == result.alice_key.size
    json.dumps(result.to_dict())  # JSON-ready


@pytest.mark.parametrize("ec", ["cascade", "cascade-biconf"])
def test_end_to_end_from_simulate_mdi(mdi_rounds, ec):
    result = distill_rounds(mdi_rounds, config=DistillConfig(ec=ec), seed=5)
    acc = result.accounting
    assert not result.aborted and result.keys_match
    _check_accounting(result)
    alice, _ = mdi_rounds.sifted_key("Z")
    assert acc.sifted_bits == alice.size == mdi_rounds.sifted_z
    assert acc.phase_error_rate == mdi_rounds.x.high
    assert acc.phase_error_source == "X-basis upper bound"
    assert acc.verified and acc.verification_bits == 64
    assert acc.authentication_bits == BOOTSTRAP_KEY_BITS
    assert acc.ec_leaked_bits == result.reconciliation.leaked_bits
    # the final length is the leftover-hash formula applied to the counted leakage
    assert acc.final_bits == secret_key_length(
        n=acc.reconciled_bits,
        phase_error_rate=acc.phase_error_rate,
        leaked_bits=acc.ec_leaked_bits + acc.verification_bits,
        epsilon=1e-10,
    )
    # the final key looks uniform: its count of ones is Binomial(l, 1/2)
    ones = int(result.alice_key.sum())
    assert abs(ones / acc.final_bits - 0.5) < binomial_tolerance(0.5, acc.final_bits)


def test_end_to_end_from_simulate_bb84():
    rounds = simulate_bb84(rounds=200_000, noise=ArmNoise(misalignment_rad=0.15), seed=3)
    result = distill_rounds(rounds, seed=4)
    assert not result.aborted and result.keys_match
    _check_accounting(result)


def test_final_length_decomposes_into_correction_and_phase_error_costs(mdi_rounds):
    """l = n (1 - f H2(Q) - H2(e_ph)) - tag - 2 log2(1/eps): the GLLP/Shor-Preskill form."""
    result = distill_rounds(mdi_rounds, seed=6)
    acc = result.accounting
    q = result.reconciliation.error_rate
    f = acc.ec_efficiency
    expected = acc.reconciled_bits * (1 - f * _h2(q) - _h2(acc.phase_error_rate))
    # what is left: the verification tag and the 2 log2(1/eps) hashing penalty (+1 for floor)
    penalty = acc.verification_bits + 2 * math.log2(1e10)
    assert expected - penalty - 1 <= acc.final_bits <= expected - penalty + 1


def _h2(p):
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def test_phase_error_defaults_to_the_sample_bound():
    rng = np.random.default_rng(7)
    alice = rng.integers(0, 2, 50_000, dtype=np.uint8)
    bob = alice ^ (rng.random(50_000) < 0.02).astype(np.uint8)
    result = distill_key(alice, bob, seed=8)
    assert result.accounting.phase_error_source == "sample upper bound"
    assert result.accounting.phase_error_rate == result.estimate.upper_bound
    given = distill_key(alice, bob, phase_error_rate=0.05, seed=8)
    assert given.accounting.phase_error_source == "given"
    assert given.final_length < result.final_length  # a larger e_ph costs more key


def test_abort_above_threshold():
    rounds = simulate_mdi(rounds=50_000, noise=ArmNoise(depolarizing_prob=0.3), seed=1)
    result = distill_rounds(rounds, seed=2)
    assert result.aborted and "abort threshold" in result.accounting.abort_reason
    assert result.final_length == 0 and result.accounting.authentication_bits == 0
    assert result.reconciliation is None


def test_abort_when_no_secret_key_is_left():
    rng = np.random.default_rng(3)
    alice = rng.integers(0, 2, 3_000, dtype=np.uint8)
    bob = alice ^ (rng.random(3_000) < 0.05).astype(np.uint8)
    # 2700 * (1 - H2(0.2)) = 750 bits of min-entropy, less than Cascade leaks at 5%
    result = distill_key(alice, bob, phase_error_rate=0.2, seed=4)
    assert result.aborted and result.accounting.abort_reason.startswith("no secret key")
    assert result.accounting.verified


def test_abort_when_verification_fails():
    rng = np.random.default_rng(5)
    alice = rng.integers(0, 2, 20_000, dtype=np.uint8)
    bob = alice ^ (rng.random(20_000) < 0.08).astype(np.uint8)
    one_pass = DistillConfig(ec=CascadeConfig(name="one-pass", passes=1))
    result = distill_key(alice, bob, config=one_pass, seed=6)
    assert result.reconciliation.residual_errors > 0
    assert result.aborted and result.accounting.verified is False
    assert "verification failed" in result.accounting.abort_reason


def test_authentication_consumes_from_the_pools_and_rejects_a_stranger():
    rng = np.random.default_rng(9)
    alice = rng.integers(0, 2, 30_000, dtype=np.uint8)
    bob = alice ^ (rng.random(30_000) < 0.02).astype(np.uint8)
    shared = rng.integers(0, 2, 1_000, dtype=np.uint8)
    pools = (KeyPool(shared), KeyPool(shared))
    first = distill_key(alice, bob, auth_pools=pools, seed=1)
    second = distill_key(alice, bob, auth_pools=pools, seed=2)
    assert first.keys_match and second.keys_match
    assert pools[0].consumed == pools[1].consumed == 2 * BOOTSTRAP_KEY_BITS
    # a man in the middle does not hold Alice's pool: Bob's check fails, no key is accepted
    mitm = (KeyPool(shared), KeyPool(1 - shared))
    result = distill_key(alice, bob, auth_pools=mitm, seed=3)
    assert result.aborted and "authentication failed" in result.accounting.abort_reason
    assert result.final_length == 0
    short = (KeyPool(shared[:300]), KeyPool(shared[:100]))
    with pytest.raises(InsufficientKeyError, match="bob's key pool holds 100 bits"):
        distill_key(alice, bob, auth_pools=short)
    assert short[0].consumed == short[1].consumed == 0


def test_same_seed_same_keys(mdi_rounds):
    first = distill_rounds(mdi_rounds, seed=11)
    second = distill_rounds(mdi_rounds, seed=11)
    assert np.array_equal(first.alice_key, second.alice_key)
    assert first.accounting == second.accounting


def test_validation():
    a = np.zeros(100, dtype=np.uint8)
    with pytest.raises(TypeError, match="config"):
        distill_key(a, a, config="cascade")
    with pytest.raises(ValueError, match="phase_error_rate=2"):
        distill_key(a, a, phase_error_rate=2.0)
    with pytest.raises(TypeError, match="auth_pools"):
        distill_key(a, a, auth_pools=KeyPool(np.ones(200, dtype=np.uint8)))
    with pytest.raises(ValueError, match="ec='ldpc'"):
        DistillConfig(ec="ldpc")
    with pytest.raises(ValueError, match=r"pa_epsilon=0\.0"):
        DistillConfig(pa_epsilon=0.0)
    with pytest.raises(ValueError, match=r"sample_fraction=0\.0"):
        DistillConfig(sample_fraction=0.0)
    with pytest.raises(TypeError, match="MDIRounds or BB84Rounds"):
        distill_rounds(object())
