"""HBB99 GHZ secret sharing: circuits, the keep rule, secrecy, noise and the round engine."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from qkdcircuits import (
    ArmNoise,
    HBBRounds,
    coalition_information,
    ghz_state,
    hbb_circuit,
    hbb_depolarized_qber,
    hbb_outcome_table,
    hbb_qber_from_table,
    outcome_distributions,
    simulate_hbb,
)
from tests.helpers import Z_SCORE, binomial_tolerance


def _fake(name: str = "FakeManilaV2"):
    """An IBM fake backend; skips only the calling test when the ``ibm`` extra is missing."""
    return getattr(pytest.importorskip("qiskit_ibm_runtime.fake_provider"), name)()


def _bases(setting: int, n: int) -> str:
    return "".join("XY"[(setting >> i) & 1] for i in range(n))


def _parity(outcome: int) -> int:
    return bin(outcome).count("1") % 2


def _h2(p: float) -> float:
    return 0.0 if p in (0.0, 1.0) else -p * math.log2(p) - (1 - p) * math.log2(1 - p)


def test_ghz_state_is_ghz():
    for n in (2, 3, 5):
        probs = Statevector(ghz_state(n)).probabilities()
        expected = np.zeros(1 << n)
        expected[[0, -1]] = 0.5
        np.testing.assert_allclose(probs, expected, atol=1e-12)


def test_circuit_layout():
    circuit = hbb_circuit(bases="XYY")
    assert [r.name for r in circuit.qregs] == ["party"]
    assert [r.name for r in circuit.cregs] == ["bits"]
    assert circuit.count_ops()["sdg"] == 2


@pytest.mark.parametrize(
    ("bases", "error"),
    [("XZY", ValueError), ("X", ValueError), ("", ValueError), ("XX" * 7, ValueError)],
)
def test_circuit_rejects_bad_bases(bases, error):
    with pytest.raises(error):
        hbb_circuit(bases=bases)


def test_noise_list_must_match_parties():
    with pytest.raises(ValueError, match="one per party"):
        hbb_circuit(bases="XXX", noise=[ArmNoise(), ArmNoise()])
    with pytest.raises(TypeError, match="ArmNoise"):
        hbb_circuit(bases="XXX", noise=[ArmNoise(), ArmNoise(), 0.1])


def test_three_party_rule_from_the_paper():
    """XXX: a = b XOR c; XYY, YXY, YYX: a = b XOR c XOR 1; other settings uncorrelated."""
    table = hbb_outcome_table(n_parties=3)
    rule = {"XXX": 0, "XYY": 1, "YXY": 1, "YYX": 1}
    for setting in range(8):
        bases = _bases(setting, 3)
        row = table[setting]
        if bases in rule:
            for outcome in range(8):
                a, b, c = outcome & 1, (outcome >> 1) & 1, (outcome >> 2) & 1
                expected = 0.25 if a == b ^ c ^ rule[bases] else 0.0
                assert row[outcome] == pytest.approx(expected, abs=1e-12)
        else:
            np.testing.assert_allclose(row, np.full(8, 1 / 8), atol=1e-12)


@pytest.mark.parametrize("n", [2, 4, 5])
def test_n_party_rule(n):
    table = hbb_outcome_table(n_parties=n)
    for setting in range(1 << n):
        y_count = bin(setting).count("1")
        row = table[setting]
        if y_count % 2:
            np.testing.assert_allclose(row, np.full(1 << n, 2.0**-n), atol=1e-12)
            continue
        offset = (y_count // 2) % 2
        for outcome in range(1 << n):
            expected = 2.0 ** (1 - n) if _parity(outcome) == offset else 0.0
            assert row[outcome] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("n", [3, 4])
def test_exact_mixing_equals_explicit_aer_channels(n):
    noise = [
        ArmNoise(depolarizing_prob=0.03 * (i + 1), misalignment_rad=0.05 * i) for i in range(n)
    ]
    table = hbb_outcome_table(n_parties=n, noise=noise)
    circuits = [hbb_circuit(bases=_bases(s, n), noise=noise) for s in range(1 << n)]
    explicit = np.stack([d.probabilities for d in outcome_distributions(circuits)])
    np.testing.assert_allclose(table, explicit, atol=1e-12)


@pytest.mark.parametrize("n", [3, 4, 6])
def test_depolarised_qber_closed_form(n):
    probs = [0.02 + 0.01 * i for i in range(n)]
    table = hbb_outcome_table(n_parties=n, noise=[ArmNoise(depolarizing_prob=p) for p in probs])
    assert hbb_qber_from_table(table) == pytest.approx(
        hbb_depolarized_qber(depolarizing_probs=probs), abs=1e-12
    )


def test_misalignment_only_affects_x_measurements():
    # RY commutes with Y, and for n odd the rotated X picks up a Z term whose GHZ correlations
    # with X/Y on the others vanish: XXX correlator cos(2 theta)^3, XYY correlator cos(2 theta).
    theta = 0.1
    table = hbb_outcome_table(n_parties=3, noise=ArmNoise(misalignment_rad=theta))
    c = math.cos(2 * theta)
    expected = np.mean([(1 - c**3) / 2] + [(1 - c) / 2] * 3)
    assert hbb_qber_from_table(table) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("n", [3, 4, 5])
def test_only_all_players_learn_the_dealers_bit(n):
    noiseless = hbb_outcome_table(n_parties=n)
    noisy_p = 0.1
    noisy = hbb_outcome_table(n_parties=n, noise=ArmNoise(depolarizing_prob=noisy_p))
    players = list(range(1, n))
    assert coalition_information(noiseless, players) == pytest.approx(1.0, abs=1e-12)
    # A binary symmetric channel with a uniform input: I = 1 - H2(QBER).
    q = hbb_depolarized_qber(depolarizing_probs=noisy_p, n_parties=n)
    assert coalition_information(noisy, players) == pytest.approx(1.0 - _h2(q), abs=1e-12)
    for size in range(1, n - 1):
        for coalition in itertools.combinations(players, size):
            assert coalition_information(noiseless, coalition) == pytest.approx(0.0, abs=1e-12)
            assert coalition_information(noisy, coalition) == pytest.approx(0.0, abs=1e-12)


def test_coalition_must_be_players():
    table = hbb_outcome_table(n_parties=3)
    with pytest.raises(ValueError, match="player"):
        coalition_information(table, [0])


@pytest.mark.parametrize(("n", "p"), [(3, 0.0), (3, 0.05), (4, 0.08)])
def test_simulated_qber_matches_closed_form(n, p):
    rounds = 400_000
    result = simulate_hbb(rounds=rounds, n_parties=n, noise=ArmNoise(depolarizing_prob=p), seed=n)
    assert isinstance(result, HBBRounds)
    expected = hbb_depolarized_qber(depolarizing_probs=p, n_parties=n)
    assert result.expected_qber == pytest.approx(expected, abs=1e-12)
    assert abs(result.qber.qber - expected) <= binomial_tolerance(expected, result.kept)
    assert abs(result.keep_rate - 0.5) <= binomial_tolerance(0.5, rounds)
    # The per-round arrays tell the same story as the tallies.
    assert result.kept == int(result.kept_mask.sum())
    assert result.qber.errors == int(result.error_mask.sum())
    dealer, players = result.shared_key()
    assert dealer.size == players.size == result.kept
    assert int(np.sum(dealer != players)) == result.qber.errors
    assert result.bases.shape == result.bits.shape == (rounds, n)


def test_confidence_interval_covers_the_true_qber_at_its_level():
    # 200 independent runs: the 95% Wilson intervals should cover the true QBER about 95% of
    # the time; the count of misses is binomial(200, 0.05).
    p, runs = 0.1, 200
    expected = hbb_depolarized_qber(depolarizing_probs=p)
    rng = np.random.default_rng(2024)
    misses = 0
    for _ in range(runs):
        result = simulate_hbb(rounds=4000, noise=ArmNoise(depolarizing_prob=p), seed=rng)
        misses += not (result.qber.low <= expected <= result.qber.high)
    assert misses <= runs * 0.05 + Z_SCORE * math.sqrt(runs * 0.05 * 0.95)


def test_same_seed_same_rounds():
    first = simulate_hbb(rounds=10_000, seed=5, noise=ArmNoise(depolarizing_prob=0.1))
    second = simulate_hbb(rounds=10_000, seed=5, noise=ArmNoise(depolarizing_prob=0.1))
    np.testing.assert_array_equal(first.settings, second.settings)
    np.testing.assert_array_equal(first.outcomes, second.outcomes)
    assert first.to_dict() == second.to_dict()
    assert first.to_dict()["protocol"] == "hbb99"


def test_argument_errors():
    with pytest.raises(ValueError, match="rounds"):
        simulate_hbb(rounds=0)
    with pytest.raises(ValueError, match="n_parties"):
        simulate_hbb(rounds=10, n_parties=1)
    with pytest.raises(TypeError, match="seed"):
        simulate_hbb(rounds=10, seed=1.5)


def test_noise_model_path_is_exact_and_adds_errors():
    from qiskit_aer.noise import NoiseModel, depolarizing_error

    model = NoiseModel()
    model.add_all_qubit_quantum_error(depolarizing_error(0.02, 2), ["cx"])
    table = hbb_outcome_table(n_parties=3, noise_model=model)
    assert 0.0 < hbb_qber_from_table(table) < 0.5


def test_on_a_fake_ibm_backend():
    backend = _fake()
    result = simulate_hbb(rounds=200_000, backend=backend, shots=4000, seed=1)
    assert result.metadata["source"] == "backend:fake_manila"
    # Device noise: a non-zero QBER, far from the 1/2 of uncorrelated bits, and the sampled rounds
    # agree with the table estimated from the device shots.
    assert 0.0 < result.expected_qber < 0.25
    tolerance = binomial_tolerance(result.expected_qber, result.kept)
    assert abs(result.qber.qber - result.expected_qber) <= tolerance


def test_five_parties_on_a_fake_ibm_backend():
    backend = _fake()
    result = simulate_hbb(rounds=100_000, n_parties=5, backend=backend, shots=2000, seed=2)
    assert 0.0 < result.qber.qber < 0.5
    assert result.qber.high < 0.5  # five-party correlations survive Manila's noise


def test_round_sampler_draws_the_joint_distribution():
    from qkdcircuits.engine._sampling import sample_table

    table = hbb_outcome_table(n_parties=3, noise=ArmNoise(depolarizing_prob=0.2))
    table[3] = 0.0
    table[3, 5] = 1.0  # a deterministic row next to rows with zeros
    weights = np.linspace(1.0, 2.0, 8)
    weights /= weights.sum()
    rounds = 500_000
    rng = np.random.default_rng(3)
    settings, outcomes, histogram = sample_table(rng, rounds, table, weights)
    joint = weights[:, None] * table
    frequency = histogram / rounds
    tolerance = Z_SCORE * np.sqrt(np.maximum(joint * (1 - joint), 1.0 / rounds) / rounds)
    assert np.all(np.abs(frequency - joint) <= tolerance)
    assert np.all(histogram[joint == 0] == 0)  # impossible pairs never occur
    np.testing.assert_array_equal(
        np.bincount(settings.astype(np.int64) * 8 + outcomes, minlength=64), histogram.ravel()
    )
    assert settings.dtype == np.uint8 and outcomes.dtype == np.uint8


def test_misalignment_leaks_to_a_single_player_as_derived():
    # In XXX the tilted X measurements share the Z correlation sin^2(2 theta) of GHZ pairs; the
    # other kept settings hold a Y on one of the two parties and share nothing.
    theta = 0.1
    table = hbb_outcome_table(n_parties=3, noise=ArmNoise(misalignment_rad=theta))
    c = math.sin(2 * theta) ** 2
    expected = (1 - _h2((1 - c) / 2)) / 4
    for player in (1, 2):
        assert coalition_information(table, [player]) == pytest.approx(expected, rel=1e-9)
