"""Verification: stabiliser fidelity bounds, CHSH, the encoded ((3,5)) state."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import DensityMatrix, Statevector, state_fidelity
from scipy import stats

from qkdcircuits import (
    ArmNoise,
    VerificationResult,
    chsh_from_counts,
    fidelity_bound_from_counts,
    five_qubit_encoder,
    ghz_state,
    pauli_measurement_circuit,
    verify_bell_pair,
    verify_chsh,
    verify_encoded_state,
    verify_ghz,
)
from qkdcircuits.analysis.verification import TSIRELSON_BOUND
from qkdcircuits.circuits.measurement import CHSH_ANGLES, chsh_circuit
from tests.helpers import Z_SCORE


def _fake(name: str = "FakeManilaV2"):
    """An IBM fake backend; skips only the calling test when the ``ibm`` extra is missing."""
    return getattr(pytest.importorskip("qiskit_ibm_runtime.fake_provider"), name)()


def ghz_bound(n: int, p: float) -> float:
    """p_X + p_Z - 1 for n depolarising arms: <X..X> = (1-p)^n; all equal: no flip or all flip."""
    p_x = (1 + (1 - p) ** n) / 2
    p_z = (1 - p / 2) ** n + (p / 2) ** n
    return p_x + p_z - 1


# ----------------------------------------------------------------------------------------------
# Analysis on synthetic counts
# ----------------------------------------------------------------------------------------------


def test_fidelity_bound_interval_is_bonferroni_clopper_pearson():
    n, m, confidence = 500, 3, 0.9
    result = fidelity_bound_from_counts([n] * m, [n] * m, confidence=confidence, threshold=0.9)
    assert result.estimate == 1.0 and result.high == pytest.approx(1.0)
    # Clopper-Pearson lower end for n/n at two-sided level 1 - alpha/m is (alpha/(2m))^(1/n).
    lower = ((1 - confidence) / (2 * m)) ** (1 / n)
    assert result.low == pytest.approx(m * lower - (m - 1), abs=1e-12)
    assert result.passed


def test_chsh_minus_term_uses_the_opposite_end():
    same, shots, confidence = [800, 810, 790, 200], [1000] * 4, 0.95
    result = chsh_from_counts(same, shots, confidence=confidence)
    level = (1 - confidence) / 4
    low_q = [stats.beta.ppf(level / 2, a, n - a + 1) for a, n in zip(same, shots, strict=True)]
    high_q = [stats.beta.ppf(1 - level / 2, a + 1, n - a) for a, n in zip(same, shots, strict=True)]
    expected_low = sum(2 * q - 1 for q in low_q[:3]) - (2 * high_q[3] - 1)
    expected_high = sum(2 * q - 1 for q in high_q[:3]) - (2 * low_q[3] - 1)
    assert result.estimate == pytest.approx(0.6 + 0.62 + 0.58 + 0.6)
    assert result.low == pytest.approx(expected_low, abs=1e-12)
    assert result.high == pytest.approx(expected_high, abs=1e-12)
    assert result.passed == (result.low > 2.0)


@pytest.mark.parametrize("kind", ["fidelity", "chsh"])
def test_intervals_cover_at_least_their_level(kind):
    rng = np.random.default_rng(7)
    trials, shots, confidence = 2000, 200, 0.95
    probs = np.array([0.9, 0.8, 0.85, 0.15]) if kind == "chsh" else np.array([0.9, 0.8])
    signs = np.array([1, 1, 1, -1]) if kind == "chsh" else np.ones(2)
    truth = float(np.sum(signs * (2 * probs - 1))) if kind == "chsh" else probs.sum() - 1
    misses = 0
    for counts in rng.binomial(shots, probs, size=(trials, probs.size)):
        if kind == "chsh":
            result = chsh_from_counts(counts, [shots] * 4, confidence=confidence)
        else:
            result = fidelity_bound_from_counts(counts, [shots] * 2, confidence=confidence)
        misses += not (result.low <= truth <= result.high)
    alpha = 1 - confidence
    assert misses <= trials * alpha + Z_SCORE * math.sqrt(trials * alpha * confidence)


@pytest.mark.parametrize(
    ("accepted", "shots", "match"),
    [([1, 2], [3], "same non-zero length"), ([5], [4], "accepted <= shots"), ([], [], "non-zero")],
)
def test_count_validation(accepted, shots, match):
    with pytest.raises(ValueError, match=match):
        fidelity_bound_from_counts(accepted, shots)


def test_confidence_validation():
    with pytest.raises(ValueError, match="confidence"):
        fidelity_bound_from_counts([1], [1], confidence=1.0)
    with pytest.raises(ValueError, match="need 4 settings"):
        chsh_from_counts([1, 1], [1, 1])


# ----------------------------------------------------------------------------------------------
# Circuits
# ----------------------------------------------------------------------------------------------


def test_pauli_measurement_circuit_reads_the_right_eigenvalues():
    from qkdcircuits import outcome_distributions

    state = QuantumCircuit(3)
    state.h(0)  # |+>
    state.x(1)
    state.h(1)  # |->
    state.h(2)
    state.s(2)  # |+i>
    (dist,) = outcome_distributions(pauli_measurement_circuit(state, "XXY"))
    assert dist.registers == (("m", 3),)
    assert dist.probabilities[0b010] == pytest.approx(1.0)


def test_pauli_measurement_circuit_leaves_extra_qubits_unmeasured():
    circuit = pauli_measurement_circuit(ghz_state(4), "ZZZ")
    assert circuit.num_clbits == 3 and circuit.count_ops()["measure"] == 3


@pytest.mark.parametrize(("bases", "error"), [("XQ", ValueError), ("", ValueError)])
def test_pauli_measurement_circuit_validation(bases, error):
    with pytest.raises(error):
        pauli_measurement_circuit(ghz_state(2), bases)


def test_chsh_circuit_correlators_are_cos_difference():
    from qkdcircuits import outcome_distributions

    for a, b in CHSH_ANGLES:
        (dist,) = outcome_distributions(chsh_circuit(alice_angle_rad=a, bob_angle_rad=b))
        same = dist.probabilities[0] + dist.probabilities[3]
        assert 2 * same - 1 == pytest.approx(math.cos(a - b), abs=1e-12)


# ----------------------------------------------------------------------------------------------
# Bell and GHZ verification
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "p"), [(2, 0.0), (2, 0.1), (3, 0.05), (4, 0.1), (6, 0.02)])
def test_ghz_bound_exact_value_matches_closed_form(n, p):
    result = verify_ghz(n, shots=20_000, noise=ArmNoise(depolarizing_prob=p), seed=n)
    assert result.test == ("bell" if n == 2 else "ghz")
    assert result.settings == ("X" * n, "Z" * n)
    assert result.exact == pytest.approx(ghz_bound(n, p), abs=1e-12)
    # The estimate scatters around the exact value with the binomial variance of two settings.
    p_x = (1 + (1 - p) ** n) / 2
    p_z = (1 - p / 2) ** n + (p / 2) ** n
    sigma = math.sqrt((p_x * (1 - p_x) + p_z * (1 - p_z)) / 20_000)
    assert abs(result.estimate - result.exact) <= Z_SCORE * max(sigma, 1 / 20_000)
    assert result.low <= result.estimate <= result.high


@pytest.mark.parametrize(
    "arms",
    [
        [ArmNoise(depolarizing_prob=0.1)] * 3,
        [ArmNoise(misalignment_rad=0.2), ArmNoise(depolarizing_prob=0.05), ArmNoise()],
        [ArmNoise(depolarizing_prob=0.2, misalignment_rad=0.3)] * 3,
    ],
)
def test_ghz_bound_never_exceeds_the_true_fidelity(arms):
    circuit = ghz_state(3)
    for qubit, arm in zip(circuit.qubits, arms, strict=True):
        arm.apply(circuit, qubit, explicit_channels=True)
    fidelity = state_fidelity(DensityMatrix(circuit), Statevector(ghz_state(3)))
    result = verify_ghz(3, shots=100, noise=arms, seed=1)
    assert result.exact <= fidelity + 1e-12


def test_bell_pair_passes_with_little_noise_and_fails_with_much():
    good = verify_bell_pair(shots=4000, noise=ArmNoise(depolarizing_prob=0.05), seed=1)
    assert good.passed and good.low > 0.5
    bad = verify_bell_pair(shots=4000, noise=ArmNoise(depolarizing_prob=0.5), seed=1)
    assert bad.exact == pytest.approx(ghz_bound(2, 0.5)) and bad.exact < 0.5
    assert not bad.passed


def test_same_seed_same_verification_and_json():
    first = verify_ghz(3, shots=1000, noise=ArmNoise(depolarizing_prob=0.1), seed=3)
    second = verify_ghz(3, shots=1000, noise=ArmNoise(depolarizing_prob=0.1), seed=3)
    assert first.accepted == second.accepted
    assert json.loads(json.dumps(first.to_dict()))["test"] == "ghz"
    assert isinstance(first, VerificationResult) and first.total_shots == 2000


# ----------------------------------------------------------------------------------------------
# CHSH
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("p_a", "p_b"), [(0.0, 0.0), (0.1, 0.0), (0.1, 0.2)])
def test_chsh_exact_value(p_a, p_b):
    noise = [ArmNoise(depolarizing_prob=p_a), ArmNoise(depolarizing_prob=p_b)]
    result = verify_chsh(shots=10_000, noise=noise, seed=2)
    assert result.exact == pytest.approx(TSIRELSON_BOUND * (1 - p_a) * (1 - p_b), abs=1e-12)
    assert result.low <= result.estimate <= result.high


def test_chsh_is_blind_to_a_common_rotation_and_not_to_a_relative_one():
    same = verify_chsh(shots=100, noise=ArmNoise(misalignment_rad=0.3), seed=1)
    assert same.exact == pytest.approx(TSIRELSON_BOUND, abs=1e-12)
    relative = verify_chsh(shots=100, noise=[ArmNoise(misalignment_rad=0.3), ArmNoise()], seed=1)
    # Alice's angle shifts by 2 theta: S = 2 sqrt(2) cos(2 theta) for these settings.
    assert relative.exact == pytest.approx(TSIRELSON_BOUND * math.cos(0.6), abs=1e-12)


def test_chsh_pass_and_fail():
    assert verify_chsh(shots=4000, noise=ArmNoise(depolarizing_prob=0.1), seed=3).passed
    local = verify_chsh(shots=4000, noise=ArmNoise(depolarizing_prob=0.2), seed=3)
    assert local.exact < 2.0 and not local.passed


# ----------------------------------------------------------------------------------------------
# The encoded ((3,5)) state
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.0, 0.02, 0.1])
def test_code_space_bound_closed_form(p):
    result = verify_encoded_state(shots=2000, noise=ArmNoise(depolarizing_prob=p), seed=4)
    # Weight-4 generators: <S> = (1-p)^4, bound 1 - sum (1 - <S>)/2 over four of them.
    assert result.exact == pytest.approx(1 - 2 * (1 - (1 - p) ** 4), abs=1e-12)
    assert result.settings == ("XZZXI", "IXZZX", "XIXZZ", "ZXIXZ")


@pytest.mark.parametrize(
    ("secret", "logical", "sign"),
    [("0", "ZZZZZ", 1), ("1", "ZZZZZ", -1), ("+", "XXXXX", 1), ("-", "XXXXX", -1)],
)
def test_known_secret_adds_its_logical_operator(secret, logical, sign):
    result = verify_encoded_state(secret=secret, shots=2000, seed=5)
    assert result.settings[-1] == logical
    assert result.exact == pytest.approx(1.0, abs=1e-12)
    assert result.passed
    p = 0.05
    noisy = verify_encoded_state(
        secret=secret, shots=2000, noise=ArmNoise(depolarizing_prob=p), seed=5
    )
    expected = 4 * (1 + (1 - p) ** 4) / 2 + (1 + (1 - p) ** 5) / 2 - 4
    assert noisy.exact == pytest.approx(expected, abs=1e-12)


def test_a_corrupted_share_fails_verification():
    faulty = five_qubit_encoder()
    faulty.x(2)  # a bit flip on share 2 anticommutes with the generators that hold Z there
    result = verify_encoded_state(state=faulty, shots=2000, seed=6)
    assert result.exact == pytest.approx(-1.0, abs=1e-12)  # two generators read -1
    assert not result.passed
    with pytest.raises(ValueError, match="secret"):
        verify_encoded_state(secret="2")
    with pytest.raises(TypeError, match="state="):
        verify_encoded_state(state="five qubits")


def test_code_bound_never_exceeds_the_true_fidelity():
    p = 0.1
    circuit = five_qubit_encoder()
    target = Statevector(circuit)
    for qubit in circuit.qubits:
        ArmNoise(depolarizing_prob=p, misalignment_rad=0.1).apply(
            circuit, qubit, explicit_channels=True
        )
    fidelity = state_fidelity(DensityMatrix(circuit), target)
    result = verify_encoded_state(
        secret="0", shots=100, noise=ArmNoise(depolarizing_prob=p, misalignment_rad=0.1), seed=1
    )
    assert result.exact <= fidelity + 1e-12


# ----------------------------------------------------------------------------------------------
# A fake IBM backend
# ----------------------------------------------------------------------------------------------


def test_verification_on_a_fake_ibm_backend():
    backend = _fake()
    ghz = verify_ghz(3, shots=4000, backend=backend, seed=1)
    assert ghz.exact is None and ghz.shots == (4000, 4000)
    assert ghz.metadata["source"] == "backend:fake_manila"
    assert ghz.low <= ghz.estimate <= ghz.high <= 1.0
    chsh = verify_chsh(shots=4000, backend=backend, seed=1)
    assert chsh.estimate < TSIRELSON_BOUND
    # Device noise on Manila keeps a certified Bell violation with 4000 shots per setting.
    assert chsh.passed


def test_backend_shots_with_per_shot_depolarisation():
    backend = _fake()
    clean = verify_ghz(3, shots=4000, backend=backend, seed=2)
    noisy = verify_ghz(
        3, shots=4000, backend=backend, seed=2, noise=ArmNoise(depolarizing_prob=0.3)
    )
    assert noisy.estimate < clean.estimate
