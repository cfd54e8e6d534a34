"""The round engine on device noise: an Aer noise model and an IBM fake backend."""

from __future__ import annotations

import pytest

from qkdcircuits import ArmNoise, simulate_mdi
from tests.helpers import binomial_tolerance

fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")


@pytest.mark.slow
def test_mdi_on_a_fake_ibm_backend():
    backend = fake_provider.FakeManilaV2()
    result = simulate_mdi(rounds=200_000, backend=backend, shots=4000, seed=1)
    assert result.metadata["source"] == "backend:fake_manila"
    # Device noise gives a small but non-zero error rate; a 2-qubit circuit on Manila stays far
    # below the 11% Shor-Preskill threshold.
    assert 0.0 < result.qber_z < 0.11
    assert 0.0 < result.qber_x < 0.11


@pytest.mark.slow
def test_linear_optics_heralding_survives_device_noise():
    backend = fake_provider.FakeManilaV2()
    result = simulate_mdi(
        rounds=200_000, variant="linear-optics", backend=backend, shots=4000, seed=2
    )
    # Device noise moves a few percent of the probability between the phi and psi subspaces.
    assert abs(result.heralding_rate - 0.5) < 0.05


def test_noise_model_from_a_fake_backend_runs_on_the_exact_path():
    from qiskit_aer.noise import NoiseModel

    model = NoiseModel.from_backend(fake_provider.FakeManilaV2())
    noise = ArmNoise(depolarizing_prob=0.02)
    ideal = simulate_mdi(rounds=400_000, noise=noise, seed=4)
    noisy = simulate_mdi(rounds=400_000, noise=noise, noise_model=model, seed=4)
    assert noisy.metadata["source"] == "aer:exact"
    # The device's gate and read-out errors add to the channel's p(1 - p/2).
    margin = binomial_tolerance(ideal.qber_z, noisy.sifted_z)
    assert noisy.qber_z > ideal.qber_z + margin
