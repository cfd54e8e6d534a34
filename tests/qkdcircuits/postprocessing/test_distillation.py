"""End to end: engine rounds -> estimated, reconciled, verified, amplified, authenticated keys."""

from __future__ import annotations

import inspect
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from qkdcircuits import ArmNoise, simulate_bb84, simulate_mdi
from qkdcircuits.engine.attacks import simulate_dishonest_relay
from qkdcircuits.postprocessing import (
    BOOTSTRAP_KEY_BITS,
    CascadeConfig,
    DistillConfig,
    InsufficientKeyError,
    KeyPool,
    distill_key,
    distill_rounds,
    forgery_probability,
    polynomial_hash,
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
    assert acc.phase_error_source == "X-basis test sample"
    assert acc.phase_test_bits == mdi_rounds.sifted_x
    assert acc.phase_test_errors == mdi_rounds.x.errors
    # the bound lies above the observed test QBER, and above the old 95% interval's upper end
    assert acc.phase_error_rate > mdi_rounds.x.high > mdi_rounds.x.qber
    assert acc.verified and acc.verification_bits == 64
    assert acc.authentication_bits == BOOTSTRAP_KEY_BITS
    assert acc.ec_leaked_bits == result.reconciliation.leaked_bits
    # the final length, by hand: n (1 - H2(e_ph)) - leak - 2 log2(1e10), floored
    n, e = acc.reconciled_bits, acc.phase_error_rate
    expected = (
        n * (1 - _h2(e)) - acc.ec_leaked_bits - acc.verification_bits - 2 * 10 * math.log2(10)
    )
    assert acc.final_bits == math.floor(expected)
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
    f = acc.ec_inefficiency
    expected = acc.reconciled_bits * (1 - f * _h2(q) - _h2(acc.phase_error_rate))
    # what is left: the verification tag and the 2 log2(1/eps) hashing penalty (+1 for floor)
    penalty = acc.verification_bits + 2 * math.log2(1e10)
    assert expected - penalty - 1 <= acc.final_bits <= expected - penalty + 1


def _h2(p):
    return -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def _keys(n, qber, seed):
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, n, dtype=np.uint8)
    return alice, alice ^ (rng.random(n) < qber).astype(np.uint8)


def test_bare_bit_strings_need_a_phase_error_source():
    """Refused: without a test sample or a bound the key's phase error is unknown, and the
    key's own (Z-basis) sample says nothing about it."""
    alice, bob = _keys(50_000, 0.02, 7)
    with pytest.raises(ValueError, match="exactly one phase-error source"):
        distill_key(alice, bob, seed=8)
    with pytest.raises(ValueError, match="not both"):
        distill_key(alice, bob, phase_test=_keys(100, 0.0, 1), phase_error_rate=0.1)
    given = distill_key(alice, bob, phase_error_rate=0.05, seed=8)
    assert given.accounting.phase_error_source == "given"
    assert given.accounting.phase_error_rate == 0.05 and not given.aborted
    lower = distill_key(alice, bob, phase_error_rate=0.03, seed=8)
    assert given.final_length < lower.final_length  # a larger e_ph costs more key


def test_no_x_basis_rounds_abort_the_mdi_command():
    """Regression: --z-basis-prob 1 has no X-basis test rounds; a "final key" came out before."""
    out = subprocess.run(
        [
            *(sys.executable, "-m", "qkdcircuits.cli", "mdi", "--rounds", "200000"),
            *("--seed", "1", "--z-basis-prob", "1", "--distill", "--json"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    record = json.loads(out.stdout)["distillation"]
    assert record["aborted"] and record["final_bits"] == 0
    assert "no X-basis test sample" in record["abort_reason"]
    assert record["phase_error_source"] == "none" and record["phase_error_rate"] is None


def test_a_relay_that_measures_every_z_pulse_gets_no_key():
    """Regression: with z_basis_prob = 1 the relay reads every key bit in Z and is never tested
    in X; distill_rounds returned a key the relay held in full."""
    parameters = inspect.signature(simulate_dishonest_relay).parameters
    attack = "attack_prob" if "attack_prob" in parameters else "cheat_prob"
    out = simulate_dishonest_relay(
        rounds=100_000, strategy="z-measure", z_basis_prob=1.0, seed=3, **{attack: 1.0}
    )
    alice, _ = out.result.sifted_key("Z")
    assert alice.size > 50_000
    result = distill_rounds(out.result, seed=4)
    assert result.aborted and result.final_length == 0
    assert "no X-basis test sample" in result.accounting.abort_reason
    # with X-basis rounds the same attack shows a test QBER of 1/2 and is refused too
    tested = simulate_dishonest_relay(
        rounds=100_000, strategy="z-measure", z_basis_prob=0.5, seed=3, **{attack: 1.0}
    )
    result = distill_rounds(tested.result, seed=4)
    assert result.aborted and "X-basis test QBER" in result.accounting.abort_reason


def test_a_test_sample_too_small_for_the_security_parameter_aborts():
    """30 clean test bits cannot bound the phase error of 45,000 key bits below 1/2 at
    eps_PE = 1e-20: (1 - M / N)^30 > 1e-20 holds up to M / N ~ 0.78."""
    alice, bob = _keys(50_000, 0.01, 9)
    test = _keys(30, 0.0, 10)
    result = distill_key(alice, bob, phase_test=test, seed=11)
    assert result.aborted and ">= 1/2" in result.accounting.abort_reason
    assert result.reconciliation is None  # nothing was disclosed for error correction
    # it is the security parameter that refuses: at eps_PE = 0.1 the same 30 bits bound the
    # phase error by 1 - 0.1^(1/30) = 0.074 (to within 1/N) and a key comes out
    loose = distill_key(alice, bob, phase_test=test, config=DistillConfig(pe_epsilon=0.1), seed=11)
    assert not loose.aborted
    assert abs(loose.accounting.phase_error_rate - (1 - 0.1 ** (1 / 30))) < 2 / 45_000


def test_abort_above_threshold():
    rounds = simulate_mdi(rounds=50_000, noise=ArmNoise(depolarizing_prob=0.3), seed=1)
    result = distill_rounds(rounds, seed=2)
    assert result.aborted and "abort threshold" in result.accounting.abort_reason
    assert result.final_length == 0 and result.accounting.authentication_bits == 0
    assert result.reconciliation is None


def test_abort_when_no_secret_key_is_left():
    alice, bob = _keys(3_000, 0.05, 3)
    # 2700 * (1 - H2(0.2)) = 750 bits of min-entropy, less than Cascade leaks at 5%
    result = distill_key(alice, bob, phase_error_rate=0.2, seed=4)
    assert result.aborted and result.accounting.abort_reason.startswith("no secret key")
    assert result.accounting.verified


def test_abort_when_verification_fails():
    alice, bob = _keys(20_000, 0.08, 5)
    one_pass = DistillConfig(ec=CascadeConfig(name="one-pass", passes=1))
    result = distill_key(alice, bob, phase_error_rate=0.08, config=one_pass, seed=6)
    assert result.reconciliation.residual_errors > 0
    assert result.aborted and result.accounting.verified is False
    assert "verification failed" in result.accounting.abort_reason


def test_authentication_consumes_from_the_pools_and_rejects_a_stranger():
    alice, bob = _keys(30_000, 0.02, 9)
    test = _keys(10_000, 0.02, 10)
    shared = np.random.default_rng(11).integers(0, 2, 1_000, dtype=np.uint8)
    shared.setflags(write=False)  # a read-only array is copied, not wiped: reused below
    pools = KeyPool.pair(shared)
    first = distill_key(alice, bob, phase_test=test, auth_pools=pools, seed=1)
    second = distill_key(alice, bob, phase_test=test, auth_pools=pools, seed=2)
    assert first.keys_match and second.keys_match
    assert first.accounting.auth_key_source == "pools"
    assert pools[0].consumed == pools[1].consumed == 2 * BOOTSTRAP_KEY_BITS
    # a man in the middle does not hold Alice's pool: Bob's check fails, no key is accepted
    mitm = (KeyPool(shared), KeyPool(1 - shared))
    result = distill_key(alice, bob, phase_test=test, auth_pools=mitm, seed=3)
    assert result.aborted and "authentication failed" in result.accounting.abort_reason
    assert result.final_length == 0
    short = (KeyPool(shared[:300]), KeyPool(shared[:100]))
    with pytest.raises(InsufficientKeyError, match="bob's key pool holds 100 bits"):
        distill_key(alice, bob, phase_test=test, auth_pools=short)
    assert short[0].consumed == short[1].consumed == 0


def test_stand_in_authentication_key_is_secret_and_fresh(mdi_rounds):
    """Regression: the stand-in pre-shared key came from default_rng(seed), the public
    generator; anyone with the printed seed could forge tags, and equal seeds shared pads."""
    first = distill_rounds(mdi_rounds, seed=11)
    second = distill_rounds(mdi_rounds, seed=11)
    assert first.accounting.auth_key_source == second.accounting.auth_key_source == "stand-in"
    # same seed: same public transcript, but fresh authentication keys (different tags)
    assert first.transcripts == second.transcripts and first.transcripts[0]
    assert first.tags[0].value != second.tags[0].value
    assert first.tags[1].value != second.tags[1].value
    # the seed does not give the key: neither the old derivation (the first 192 bits of the
    # seeded generator: 64-bit hash key, then the pad) nor that of the CLI's generator
    for generator in (np.random.default_rng(11), np.random.default_rng([0x44495354, 11])):
        bits = generator.integers(0, 2, BOOTSTRAP_KEY_BITS, dtype=np.uint8)
        hash_key = int("".join(map(str, bits[:64])), 2)
        pad = int("".join(map(str, bits[64:128])), 2)
        forged = polynomial_hash(first.transcripts[0], hash_key) ^ pad
        assert forged != first.tags[0].value


def test_total_epsilon_composes_the_failure_probabilities(mdi_rounds):
    """eps = 2 sqrt(eps_PE) + eps_PA + 2^-tag_bits + (L_A + L_B) / 2^64, by hand."""
    config = DistillConfig(pa_epsilon=1e-9, pe_epsilon=1e-16, verification_tag_bits=40)
    result = distill_rounds(mdi_rounds, config=config, seed=12)
    acc = result.accounting
    assert not result.aborted
    blocks = sum(math.ceil(len(t) / 8) + 1 for t in result.transcripts)
    expected = 2 * 1e-8 + 1e-9 + 2.0**-40 + blocks / 2.0**64
    assert acc.total_epsilon == pytest.approx(expected, rel=1e-12)
    assert acc.secrecy_epsilon == pytest.approx(2e-8 + 1e-9, rel=1e-12)
    assert acc.correctness_epsilon == 2.0**-40
    assert acc.authentication_epsilon == pytest.approx(
        sum(forgery_probability(len(t)) for t in result.transcripts)
    )
    # the phase-error bound is taken at eps_PE: a tighter eps_PE gives a larger bound
    tighter = distill_rounds(mdi_rounds, config=DistillConfig(pe_epsilon=1e-30), seed=12)
    assert tighter.accounting.phase_error_rate > acc.phase_error_rate


def test_same_seed_same_keys(mdi_rounds):
    first = distill_rounds(mdi_rounds, seed=11)
    second = distill_rounds(mdi_rounds, seed=11)
    assert np.array_equal(first.alice_key, second.alice_key)
    assert first.accounting == second.accounting


def test_validation():
    a = np.zeros(100, dtype=np.uint8)
    with pytest.raises(TypeError, match="config"):
        distill_key(a, a, phase_error_rate=0.1, config="cascade")
    with pytest.raises(ValueError, match="phase_error_rate=2"):
        distill_key(a, a, phase_error_rate=2.0)
    with pytest.raises(TypeError, match="phase_test"):
        distill_key(a, a, phase_test=a)
    with pytest.raises(ValueError, match="differ in length"):
        distill_key(a, a, phase_test=(a, a[:5]))
    with pytest.raises(TypeError, match="auth_pools"):
        distill_key(a, a, phase_error_rate=0.1, auth_pools=KeyPool(np.ones(200, dtype=np.uint8)))
    with pytest.raises(ValueError, match="ec='ldpc'"):
        DistillConfig(ec="ldpc")
    with pytest.raises(TypeError, match="MDIRounds or BB84Rounds"):
        distill_rounds(object())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pa_epsilon": 1.0}, r"pa_epsilon=1\.0 must be in \(0, 1\)"),
        ({"pa_epsilon": 0.0}, r"pa_epsilon=0\.0 must be in \(0, 1\)"),
        ({"pe_epsilon": 1.0}, r"pe_epsilon=1\.0 must be in \(0, 1\)"),
        ({"pe_epsilon": 0.3}, "guarantees nothing"),  # 2 sqrt(0.3) > 1
        ({"sample_fraction": 0.0}, r"sample_fraction=0\.0"),
        ({"verification_tag_bits": 10**9}, r"at most 4096.*GiB of memory.*use 32 to 128"),
    ],
)
def test_config_refuses_parameters_without_a_guarantee(kwargs, match):
    """Regression: pa_epsilon=1 produced a "final key" with no guarantee at all."""
    with pytest.raises(ValueError, match=match):
        DistillConfig(**kwargs)


# ----------------------------------------------------------------------------------------------
# finite-key sizing from decoy counts (DistillConfig(key_length="finite-key"))
# ----------------------------------------------------------------------------------------------

DECOY_MU, DECOY_P = (0.5, 0.1, 0.0), (0.6, 0.2, 0.2)


def _decoy_run(block, basis_prob=0.5, seed=1):
    """Rounded expected counts of a 20 dB BB84 link and sifted keys with exactly their errors."""
    from qkdcircuits.links.finite_key_bb84 import BB84Counts, bb84_expected_counts
    from qkdcircuits.postprocessing import DecoyCounts

    c = bb84_expected_counts(
        transmittance=0.01,
        background_yield=1.7e-6,
        misalignment_prob=0.01,
        intensities=DECOY_MU,
        intensity_probs=DECOY_P,
        basis_prob=basis_prob,
        block_size=block,
    )
    whole = [np.round(np.asarray(t)).astype(int) for t in c[:4]]
    decoy = DecoyCounts(BB84Counts(*whole), intensities=DECOY_MU, intensity_probs=DECOY_P)
    rng = np.random.default_rng(seed)
    alice = rng.integers(0, 2, decoy.key_bits, dtype=np.uint8)
    bob = alice.copy()
    bob[rng.choice(decoy.key_bits, decoy.key_errors, replace=False)] ^= 1
    return decoy, alice, bob, whole


@pytest.mark.parametrize("bound", ["serfling", "lim2014"])
def test_finite_key_sizing_matches_an_independent_recomputation(bound):
    from tests.qkdcircuits.links.reference import lim_by_hand

    decoy, alice, bob, (nx, mx, nz, mz) = _decoy_run(3e5)
    config = DistillConfig(key_length="finite-key", sampling_bound=bound, eps_sec=1e-9)
    result = distill_key(alice, bob, decoy_counts=decoy, config=config, seed=4)
    assert not result.aborted and result.keys_match
    _check_accounting(result)
    acc = result.accounting
    # Lim et al. Eqs. (1)-(5) by hand: the measured leakage is Cascade's parities plus the
    # disclosed sample; the 64-bit verification tag is the paper's log2(2/eps_cor)
    ref = lim_by_hand(
        DECOY_MU, DECOY_P, nx, mx, nz, mz, 1e-9, 2.0**-64, 1.0,
        leak=acc.estimation_bits + acc.ec_leaked_bits, sampling=bound,
    )  # fmt: skip
    assert acc.final_bits == math.floor(ref["length"]) > 10_000
    assert acc.phase_error_rate == pytest.approx(ref["phi"], rel=1e-9)
    assert (acc.key_length_model, acc.phase_error_source) == ("finite-key", "decoy counts")
    assert (acc.phase_test_bits, acc.phase_test_errors) == (int(nz.sum()), int(mz.sum()))
    assert acc.secrecy_epsilon == 1e-9 and acc.pa_epsilon == acc.pe_epsilon == 1e-9 / 21
    assert acc.total_epsilon == 1e-9 + 2.0**-64 + acc.authentication_epsilon


def test_paper_gamma_certifies_more_than_serfling_here():
    decoy, alice, bob, _ = _decoy_run(3e5)
    lengths = {
        bound: distill_key(
            alice,
            bob,
            decoy_counts=decoy,
            config=DistillConfig(key_length="finite-key", sampling_bound=bound),
            seed=4,
        ).final_length
        for bound in ("serfling", "lim2014")
    }
    assert 0 < lengths["serfling"] < lengths["lim2014"]


def test_finite_key_aborts_before_leaking_when_the_test_basis_is_too_small():
    decoy, alice, bob, _ = _decoy_run(1e5, basis_prob=0.7)
    config = DistillConfig(key_length="finite-key")
    result = distill_key(alice, bob, decoy_counts=decoy, config=config, seed=4)
    assert result.aborted and result.reconciliation is None
    assert "test basis of the decoy counts" in result.accounting.abort_reason
    assert result.accounting.phase_error_rate == 0.5


def test_mdi_decoy_counts_bound_the_phase_error_from_the_x_basis():
    from qkdcircuits.links.finite_key_mdi import (
        MDICounts,
        mdi_expected_counts,
        mdi_finite_key_length,
    )
    from qkdcircuits.postprocessing import DecoyCounts

    mu, p = (0.4, 0.1, 0.0), (0.5, 0.3, 0.2)
    c = mdi_expected_counts(
        transmittance_a=0.1, transmittance_b=0.1, dark_count_prob=1e-6, misalignment_prob=0.01,
        intensities=mu, intensity_probs=p, basis_prob=0.5, block_size=2e5,
    )  # fmt: skip
    tables = [np.round(np.asarray(t)) for t in c[:4]]
    decoy = DecoyCounts(MDICounts(*tables), intensities=mu, intensity_probs=p)
    assert (decoy.protocol, decoy.key_bits) == ("mdi", int(tables[0].sum()))
    rng = np.random.default_rng(3)
    alice = rng.integers(0, 2, decoy.key_bits, dtype=np.uint8)
    bob = alice.copy()
    bob[rng.choice(decoy.key_bits, decoy.key_errors, replace=False)] ^= 1
    config = DistillConfig(key_length="finite-key")
    result = distill_key(alice, bob, decoy_counts=decoy, config=config, seed=1)
    key = mdi_finite_key_length(
        intensities=mu, intensity_probs=p, detections_z=tables[0], errors_z=tables[1],
        detections_x=tables[2], errors_x=tables[3],
    )  # fmt: skip
    acc = result.accounting
    assert acc.phase_error_rate == key.phase_error_upper
    assert (acc.phase_test_bits, acc.pe_epsilon) == (int(tables[2].sum()), 1e-10 / 25)
    assert result.aborted  # 2e5 events are far too few for MDI-QKD's single-pair bounds


def test_finite_key_sizing_refuses_what_it_cannot_use(mdi_rounds):
    from qkdcircuits.links.finite_key_bb84 import BB84Counts
    from qkdcircuits.postprocessing import DecoyCounts

    decoy, alice, bob, whole = _decoy_run(1e5)
    finite = DistillConfig(key_length="finite-key")
    with pytest.raises(TypeError, match="decoy_counts"):
        distill_key(alice, bob, config=finite)
    with pytest.raises(ValueError, match="do not give phase_test"):
        distill_key(alice, bob, config=finite, decoy_counts=decoy, phase_error_rate=0.01)
    with pytest.raises(ValueError, match="key_length='finite-key'"):
        distill_key(alice, bob, decoy_counts=decoy, phase_error_rate=0.01)
    with pytest.raises(ValueError, match="describe"):
        distill_key(alice[1:], bob[1:], config=finite, decoy_counts=decoy)
    with pytest.raises(ValueError, match="disagreements"):
        distill_key(alice, alice.copy(), config=finite, decoy_counts=decoy)
    with pytest.raises(ValueError, match="no intensities"):
        distill_rounds(mdi_rounds, config=finite)
    with pytest.raises(ValueError, match="whole numbers"):
        DecoyCounts(BB84Counts(whole[0] + 0.5, *whole[1:]), DECOY_MU, DECOY_P)
    with pytest.raises(TypeError, match="BB84Counts or an MDICounts"):
        DecoyCounts(tuple(whole), DECOY_MU, DECOY_P)
    with pytest.raises(ValueError, match="mu1 > mu2"):
        DecoyCounts(BB84Counts(*whole), (0.1, 0.2, 0.0), DECOY_P)
    with pytest.raises(ValueError, match="sum to 1"):
        DecoyCounts(BB84Counts(*whole), DECOY_MU, (0.5, 0.2, 0.2))
    for kwargs, match in (
        ({"key_length": "asymptotic"}, "key_length"),
        ({"eps_sec": 0.0}, "eps_sec"),
        ({"sampling_bound": "gauss"}, "sampling_bound"),
    ):
        with pytest.raises(ValueError, match=match):
            DistillConfig(**kwargs)
