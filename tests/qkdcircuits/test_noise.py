"""ArmNoise validation and the per-arm error closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit.quantum_info import DensityMatrix

from qkdcircuits import (
    ArmNoise,
    arm_error_probability,
    bb84_state_preparation,
    combined_flip_probability,
)


@pytest.mark.parametrize("p", [-0.1, 1.01, math.nan, math.inf])
def test_depolarizing_prob_outside_unit_interval_is_rejected(p):
    with pytest.raises(ValueError, match="depolarizing_prob"):
        ArmNoise(depolarizing_prob=p)


@pytest.mark.parametrize("bad", ["0.1", None, True])
def test_non_numeric_noise_is_a_type_error(bad):
    with pytest.raises(TypeError, match="depolarizing_prob"):
        ArmNoise(depolarizing_prob=bad)
    with pytest.raises(TypeError, match="misalignment_rad"):
        ArmNoise(misalignment_rad=bad)


def test_arm_noise_is_frozen_and_hashable():
    noise = ArmNoise(depolarizing_prob=0.1, misalignment_rad=0.2)
    with pytest.raises(AttributeError):
        noise.depolarizing_prob = 0.3
    assert hash(noise) == hash(ArmNoise(depolarizing_prob=0.1, misalignment_rad=0.2))


@pytest.mark.parametrize("basis", ["Z", "X"])
@pytest.mark.parametrize("bit", [0, 1])
@pytest.mark.parametrize(("p", "theta"), [(0.0, 0.3), (0.2, 0.0), (0.15, 0.4), (1.0, 0.1)])
def test_flip_probability_matches_density_matrix(basis, bit, p, theta):
    """Apply the channel explicitly to a BB84 state and measure in the same basis."""
    circuit = bb84_state_preparation(basis=basis, bit=bit)
    ArmNoise(depolarizing_prob=p, misalignment_rad=theta).apply(circuit, 0, explicit_channels=False)
    rho = DensityMatrix(circuit).data
    rho = (1 - p) * rho + p * np.eye(2) / 2
    ideal = DensityMatrix(bb84_state_preparation(basis=basis, bit=1 - bit)).data
    flip = float(np.real(np.trace(rho @ ideal)))
    assert flip == pytest.approx(
        arm_error_probability(depolarizing_prob=p, misalignment_rad=theta), abs=1e-12
    )


def test_combined_flip_probability_of_equal_depolarising_arms():
    for p in np.linspace(0, 1, 11):
        eps = ArmNoise(depolarizing_prob=p).flip_probability
        assert combined_flip_probability(alice_flip_prob=eps, bob_flip_prob=eps) == pytest.approx(
            p * (1 - p / 2), abs=1e-15
        )


def test_physics_closed_forms_take_keywords_only():
    with pytest.raises(TypeError):
        arm_error_probability(0.1, 0.0)  # type: ignore[misc]
    with pytest.raises(TypeError):
        combined_flip_probability(0.1, 0.1)  # type: ignore[misc]
    with pytest.raises(ValueError, match="bob_flip_prob"):
        combined_flip_probability(alice_flip_prob=0.1, bob_flip_prob=1.5)


def test_to_dict_and_rotation_only():
    arm = ArmNoise(depolarizing_prob=0.3, misalignment_rad=-0.2)
    assert arm.to_dict() == {"depolarizing_prob": 0.3, "misalignment_rad": -0.2}
    assert ArmNoise(**arm.to_dict()) == arm
    assert arm.rotation_only == ArmNoise(misalignment_rad=-0.2)
