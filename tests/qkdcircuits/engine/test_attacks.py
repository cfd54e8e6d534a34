"""Adversaries at circuit level are detected by QBER or verification statistics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qkdcircuits import (
    ArmNoise,
    AttackRounds,
    combined_flip_probability,
    corrupted_ghz_state,
    corrupted_source_qber,
    dishonest_relay_circuit,
    dishonest_relay_qber,
    hbb_depolarized_qber,
    intercept_resend_circuit,
    intercept_resend_qber,
    outcome_distributions,
    simulate_corrupted_source,
    simulate_dishonest_relay,
    simulate_hbb,
    simulate_intercept_resend,
    simulate_mdi,
    verify_corrupted_source,
    verify_ghz,
)
from tests.helpers import binomial_tolerance


def _fake(name: str = "FakeManilaV2"):
    """An IBM fake backend; skips only the calling test when the ``ibm`` extra is missing."""
    return getattr(pytest.importorskip("qiskit_ibm_runtime.fake_provider"), name)()


# ----------------------------------------------------------------------------------------------
# Intercept-resend on BB84
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("alice_basis", ["Z", "X"])
@pytest.mark.parametrize("eve_basis", ["Z", "X"])
@pytest.mark.parametrize("alice_bit", [0, 1])
def test_eve_measures_and_resends(alice_basis, eve_basis, alice_bit):
    circuit = intercept_resend_circuit(
        alice_basis=alice_basis, alice_bit=alice_bit, eve_basis=eve_basis, bob_basis=alice_basis
    )
    (dist,) = outcome_distributions(circuit)
    bob, eve = dist.marginal("bob_bit"), dist.marginal("eve_bit")
    if eve_basis == alice_basis:
        # Eve reads Alice's bit and Bob gets it unchanged.
        assert eve[alice_bit] == pytest.approx(1.0) and bob[alice_bit] == pytest.approx(1.0)
    else:
        # Eve's outcome is a fair coin and Bob's bit no longer depends on Alice's.
        np.testing.assert_allclose(eve, [0.5, 0.5], atol=1e-12)
        np.testing.assert_allclose(bob, [0.5, 0.5], atol=1e-12)


@pytest.mark.parametrize(
    ("p", "noise"),
    [
        (1.0, ArmNoise()),
        (0.2, ArmNoise()),
        (0.3, ArmNoise(depolarizing_prob=0.04)),
        (0.5, ArmNoise(misalignment_rad=0.15, depolarizing_prob=0.02)),
    ],
)
def test_intercept_resend_qber_is_exact(p, noise):
    out = simulate_intercept_resend(rounds=300_000, attack_prob=p, noise=noise, seed=1)
    expected = intercept_resend_qber(attack_prob=p, channel_flip_prob=noise.flip_probability)
    for basis in ("Z", "X"):
        assert out.expected_qber[basis] == pytest.approx(expected, abs=1e-12)
        estimate = out.qber(basis)
        assert abs(estimate.qber - expected) <= binomial_tolerance(expected, estimate.sifted)
    attacked = out.attacked.mean()
    assert abs(attacked - p) <= binomial_tolerance(p, out.rounds)


def test_full_intercept_gives_the_textbook_quarter():
    assert intercept_resend_qber(attack_prob=1.0) == 0.25


def test_eve_knows_three_quarters_of_the_attacked_key():
    out = simulate_intercept_resend(rounds=400_000, attack_prob=0.5, seed=2)
    mask = out.attacked & out.result.sifted_mask & (out.result.alice_basis == 0)
    agreement = out.adversary_agreement("Z")
    assert abs(agreement - 0.75) <= binomial_tolerance(0.75, int(mask.sum()))
    # Eve's basis choice is fair.
    assert abs(out.adversary_basis.mean() - 0.5) <= binomial_tolerance(0.5, out.rounds)


def test_intercept_resend_is_detected_and_honest_runs_are_not():
    noise = ArmNoise(depolarizing_prob=0.04)  # honest QBER 0.02
    honest_qber = noise.flip_probability
    honest = simulate_intercept_resend(rounds=400_000, attack_prob=0.0, noise=noise, seed=3)
    attacked = simulate_intercept_resend(rounds=400_000, attack_prob=0.1, noise=noise, seed=4)
    for basis in ("Z", "X"):
        assert not honest.detected(honest_qber, basis)
        assert honest.qber(basis).low <= honest_qber <= honest.qber(basis).high
        assert attacked.detected(honest_qber, basis)


@pytest.mark.parametrize("attack", ["intercept", "relay"])
def test_tallies_agree_with_the_per_round_arrays(attack):
    if attack == "intercept":
        out = simulate_intercept_resend(rounds=50_000, attack_prob=0.3, seed=14)
    else:
        out = simulate_dishonest_relay(
            rounds=50_000, attack_prob=0.3, variant="linear-optics", seed=14
        )
    result = out.result
    for code, basis in enumerate(("Z", "X")):
        in_basis = result.alice_basis == code
        assert result.qber(basis).sifted == int((result.sifted_mask & in_basis).sum())
        assert result.qber(basis).errors == int((result.error_mask & in_basis).sum())
    assert result.heralded == int(result.heralded_mask.sum())


def test_attack_rounds_are_reproducible_and_serialisable():
    first = simulate_intercept_resend(rounds=10_000, attack_prob=0.3, seed=5)
    second = simulate_intercept_resend(rounds=10_000, attack_prob=0.3, seed=5)
    np.testing.assert_array_equal(first.attacked, second.attacked)
    np.testing.assert_array_equal(first.result.outcomes, second.result.outcomes)
    summary = json.loads(json.dumps(first.to_dict()))
    assert summary["attack"] == "intercept-resend"
    assert isinstance(first, AttackRounds)


def test_intercept_resend_on_a_fake_ibm_backend():
    backend = _fake()
    honest = simulate_intercept_resend(
        rounds=200_000, attack_prob=0.0, backend=backend, shots=4000, seed=6
    )
    attacked = simulate_intercept_resend(
        rounds=200_000, attack_prob=0.4, backend=backend, shots=4000, seed=6
    )
    # Tolerate what the honest device link shows (its upper confidence end); Eve adds ~10%.
    tolerated = max(honest.qber("Z").high, honest.qber("X").high)
    assert tolerated < 0.1
    assert attacked.detected(tolerated, "Z") and attacked.detected(tolerated, "X")


# ----------------------------------------------------------------------------------------------
# Dishonest relay in MDI-QKD
# ----------------------------------------------------------------------------------------------


def test_z_measuring_relay_learns_both_bits():
    circuit = dishonest_relay_circuit(
        alice_basis="Z", alice_bit=1, bob_basis="Z", bob_bit=0, strategy="z-measure"
    )
    (dist,) = outcome_distributions(circuit)
    assert dist.marginal("relay")[0b01] == pytest.approx(1.0)  # Alice's 1 in bit 0, Bob's 0
    # Bits differ: parity 1 (psi), with a random phase.
    np.testing.assert_allclose(dist.marginal("bsm"), [0, 0, 0.5, 0.5], atol=1e-12)


@pytest.mark.parametrize("variant", ["gate", "linear-optics"])
@pytest.mark.parametrize("strategy", ["z-measure", "random"])
def test_dishonest_relay_qber_is_exact(variant, strategy):
    noise = ArmNoise(depolarizing_prob=0.04)
    f = 0.3
    out = simulate_dishonest_relay(
        rounds=300_000, attack_prob=f, strategy=strategy, variant=variant, noise=noise, seed=7
    )
    honest_qber = combined_flip_probability(
        alice_flip_prob=noise.flip_probability, bob_flip_prob=noise.flip_probability
    )
    for basis in ("Z", "X"):
        expected = dishonest_relay_qber(
            attack_prob=f, strategy=strategy, basis=basis, honest_qber=honest_qber
        )
        assert out.expected_qber[basis] == pytest.approx(expected, abs=1e-12)
        estimate = out.qber(basis)
        assert abs(estimate.qber - expected) <= binomial_tolerance(expected, estimate.sifted)
    # Cheating keeps the honest heralding rate.
    expected_herald = 1.0 if variant == "gate" else 0.5
    assert abs(out.result.heralding_rate - expected_herald) <= binomial_tolerance(
        expected_herald, out.rounds
    )


def test_z_measuring_relay_is_caught_in_x_not_z_and_knows_the_z_key():
    noise = ArmNoise(depolarizing_prob=0.02)
    honest_qber = combined_flip_probability(
        alice_flip_prob=noise.flip_probability, bob_flip_prob=noise.flip_probability
    )
    honest = simulate_mdi(rounds=400_000, noise=noise, seed=8)
    cheating = simulate_dishonest_relay(rounds=400_000, attack_prob=0.1, noise=noise, seed=8)
    assert honest.x.low <= honest_qber <= honest.x.high
    assert cheating.detected(honest_qber, "X")
    assert not cheating.detected(honest_qber, "Z")
    noiseless = simulate_dishonest_relay(rounds=100_000, attack_prob=0.5, seed=9)
    assert noiseless.adversary_agreement("Z") == 1.0


def test_random_relay_records_nothing():
    out = simulate_dishonest_relay(rounds=1000, attack_prob=0.5, strategy="random", seed=1)
    assert out.adversary_bits is None
    with pytest.raises(ValueError, match="records no bits"):
        out.adversary_agreement()


def test_relay_argument_errors():
    with pytest.raises(ValueError, match="strategy"):
        simulate_dishonest_relay(rounds=10, attack_prob=0.1, strategy="lazy")
    with pytest.raises(ValueError, match="attack_prob"):
        simulate_dishonest_relay(rounds=10, attack_prob=1.5)
    with pytest.raises(ValueError, match="pair"):
        simulate_dishonest_relay(rounds=10, attack_prob=0.1, noise=(ArmNoise(),))


# ----------------------------------------------------------------------------------------------
# Corrupted GHZ source
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["eve-ancilla", "phase-flip"])
@pytest.mark.parametrize("n", [3, 4])
def test_corrupted_source_qber_is_exact(strategy, n):
    p, f = 0.04, 0.2
    out = simulate_corrupted_source(
        rounds=300_000,
        attack_prob=f,
        strategy=strategy,
        n_parties=n,
        noise=ArmNoise(depolarizing_prob=p),
        seed=10,
    )
    honest = hbb_depolarized_qber(depolarizing_probs=p, n_parties=n)
    expected = corrupted_source_qber(attack_prob=f, strategy=strategy, honest_qber=honest)
    assert out.expected_qber["XY"] == pytest.approx(expected, abs=1e-12)
    assert abs(out.qber().qber - expected) <= binomial_tolerance(expected, out.qber().sifted)


def test_eve_ancilla_source_keeps_z_correlations():
    from qkdcircuits import pauli_measurement_circuit

    (dist,) = outcome_distributions(
        pauli_measurement_circuit(corrupted_ghz_state(3, strategy="eve-ancilla"), "ZZZ")
    )
    assert dist.probabilities[0] + dist.probabilities[7] == pytest.approx(1.0)


def test_corrupted_source_is_detected_by_qber():
    noise = ArmNoise(depolarizing_prob=0.03)
    honest_qber = hbb_depolarized_qber(depolarizing_probs=0.03)
    honest = simulate_hbb(rounds=300_000, noise=noise, seed=11)
    corrupted = simulate_corrupted_source(rounds=300_000, attack_prob=0.1, noise=noise, seed=11)
    assert honest.qber.low <= honest_qber <= honest.qber.high
    assert corrupted.detected(honest_qber)
    with pytest.raises(ValueError, match="one QBER"):
        corrupted.qber("Z")


@pytest.mark.parametrize(("strategy", "bound"), [("eve-ancilla", 0.8), ("phase-flip", 0.6)])
def test_corrupted_source_is_detected_by_verification(strategy, bound):
    f = 0.4
    result = verify_corrupted_source(
        attack_prob=f, strategy=strategy, shots=8000, seed=12, threshold=0.9
    )
    assert result.exact == pytest.approx(bound, abs=1e-12)  # 1 - f/2 or 1 - f
    assert result.high < 0.9 and not result.passed
    honest = verify_ghz(3, shots=8000, seed=12, threshold=0.9)
    assert honest.passed


def test_corrupted_source_on_a_fake_ibm_backend():
    backend = _fake()
    honest = simulate_hbb(rounds=200_000, backend=backend, shots=4000, seed=13)
    corrupted = simulate_corrupted_source(
        rounds=200_000, attack_prob=0.5, backend=backend, shots=4000, seed=13
    )
    assert corrupted.detected(honest.qber.high)
    verified = verify_corrupted_source(
        attack_prob=0.5, shots=4000, backend=backend, seed=13, threshold=0.5
    )
    clean = verify_ghz(3, shots=4000, backend=backend, seed=13)
    assert verified.high < clean.low
