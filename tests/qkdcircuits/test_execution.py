"""The execution layer: exact Aer, shot-based Aer, BackendV2 and SamplerV2 paths agree."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.primitives import StatevectorSampler
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, depolarizing_error

from qkdcircuits import (
    DEFAULT_SHOTS,
    ArmNoise,
    ExecutionTarget,
    OutcomeDistribution,
    describe_target,
    hbb_circuit,
    outcome_distributions,
    runtime_sampler,
    simulate_bb84,
    simulate_corrupted_source,
    simulate_dishonest_relay,
    simulate_hbb,
    simulate_intercept_resend,
    simulate_mdi,
    verify_chsh,
    verify_ghz,
)
from tests.helpers import Z_SCORE


def _fake(name: str = "FakeManilaV2"):
    """An IBM fake backend; skips only the calling test when the ``ibm`` extra is missing."""
    return getattr(pytest.importorskip("qiskit_ibm_runtime.fake_provider"), name)()


def _ghz_measured(n: int = 3) -> QuantumCircuit:
    qreg = QuantumRegister(n, "q")
    creg = ClassicalRegister(n, "ghz")
    circuit = QuantumCircuit(qreg, creg, name="ghz")
    circuit.h(0)
    for i in range(n - 1):
        circuit.cx(i, i + 1)
    circuit.measure(qreg, creg)
    return circuit


def _noisy_h_circuit() -> QuantumCircuit:
    """X then two H: ideal outcome 1, but every lowered gate picks up the noise model's error."""
    qreg = QuantumRegister(1, "q")
    creg = ClassicalRegister(1, "b")
    circuit = QuantumCircuit(qreg, creg)
    circuit.x(0)
    circuit.h(0)
    circuit.h(0)
    circuit.measure(qreg, creg)
    return circuit


def _sx_noise_model(prob: float = 0.2) -> NoiseModel:
    model = NoiseModel(basis_gates=["sx", "rz", "x", "cx"])
    model.add_all_qubit_quantum_error(depolarizing_error(prob, 1), ["sx", "x"])
    return model


def assert_consistent(sampled: OutcomeDistribution, exact: np.ndarray, z: float = Z_SCORE):
    """Every outcome frequency lies within z binomial standard deviations of its probability."""
    n = sampled.shots
    tolerance = z * np.sqrt(np.maximum(exact * (1 - exact), 1.0 / n) / n)
    assert np.all(np.abs(sampled.probabilities - exact) <= tolerance), (
        sampled.probabilities,
        exact,
    )


# ----------------------------------------------------------------------------------------------
# Aer paths
# ----------------------------------------------------------------------------------------------


def test_exact_default_gives_the_ghz_distribution():
    (dist,) = outcome_distributions(_ghz_measured())
    assert dist.exact and dist.shots is None
    np.testing.assert_allclose(dist.probabilities, [0.5, 0, 0, 0, 0, 0, 0, 0.5], atol=1e-12)
    assert describe_target() == "aer:exact"


def test_single_circuit_and_empty_list():
    assert len(outcome_distributions(_ghz_measured())) == 1
    assert outcome_distributions([]) == []


def test_noise_model_gate_errors_apply_on_exact_and_shot_paths_alike():
    # The noise model only knows sx/x/rz/cx; H must be lowered to them on every Aer path, or its
    # errors vanish from the shot-based runs (a regression of the first execution layer).
    model = _sx_noise_model()
    circuit = _noisy_h_circuit()
    (exact,) = outcome_distributions(circuit, noise_model=model)
    assert exact.probabilities[0] > 0.2  # errors from x and four sx gates are visible
    (shots,) = outcome_distributions(circuit, noise_model=model, shots=50_000, seed=1)
    assert_consistent(shots, exact.probabilities)
    (backend,) = outcome_distributions(
        circuit, backend=AerSimulator(noise_model=model), shots=50_000, seed=2
    )
    assert_consistent(backend, exact.probabilities)


def test_exact_path_refuses_quantum_errors_on_measure():
    # The exact path drops measurements (save_probabilities); such an error would vanish.
    from qiskit_aer.noise import pauli_error

    model = NoiseModel()
    model.add_all_qubit_quantum_error(pauli_error([("X", 0.2), ("I", 0.8)]), ["measure"])
    circuit = QuantumCircuit(QuantumRegister(1, "q"), ClassicalRegister(1, "b"))
    circuit.measure(0, 0)
    with pytest.raises(ValueError, match="measure"):
        outcome_distributions(circuit, noise_model=model)
    (sampled,) = outcome_distributions(circuit, noise_model=model, shots=20_000, seed=1)
    assert_consistent(sampled, np.array([0.8, 0.2]))


def test_aer_sampler_lowers_to_its_noise_model():
    from qiskit_aer.primitives import SamplerV2

    model = _sx_noise_model()
    circuit = _noisy_h_circuit()
    (exact,) = outcome_distributions(circuit, noise_model=model)
    sampler = SamplerV2(options={"backend_options": {"noise_model": model}}, seed=3)
    (sampled,) = outcome_distributions(circuit, sampler=sampler, shots=50_000)
    assert_consistent(sampled, exact.probabilities)
    assert describe_target(sampler=sampler) == "sampler:SamplerV2"


def test_aer_sampler_runs_gates_aer_lacks():
    from qiskit_aer.primitives import SamplerV2

    # hbb_circuit uses sdg/h only, but a controlled-H is not native to Aer's basis either.
    circuit = QuantumCircuit(QuantumRegister(2, "q"), ClassicalRegister(2, "c"))
    circuit.x(0)
    circuit.ch(0, 1)
    circuit.measure([0, 1], [0, 1])
    (sampled,) = outcome_distributions(circuit, sampler=SamplerV2(seed=4), shots=20_000)
    assert_consistent(sampled, np.array([0, 0.5, 0, 0.5]))


def test_statevector_sampler_and_channel_rejection():
    sampler = StatevectorSampler(seed=5)
    (sampled,) = outcome_distributions(hbb_circuit(bases="XXX"), sampler=sampler, shots=8000)
    assert sampled.shots == 8000 and sampled.counts.sum() == 8000
    # XXX: even parity only, each of the four even outcomes 1/4.
    parity = np.array([bin(k).count("1") % 2 for k in range(8)])
    assert_consistent(sampled, np.where(parity == 0, 0.25, 0.0))
    from qkdcircuits import ArmNoise

    with_channel = hbb_circuit(bases="XXX", noise=ArmNoise(depolarizing_prob=0.1))
    with pytest.raises(ValueError, match="Aer-only channel"):
        outcome_distributions(with_channel, sampler=sampler, shots=10)


def test_default_shots_for_a_backend_without_shots():
    (dist,) = outcome_distributions(_ghz_measured(), backend=AerSimulator(), seed=6)
    assert dist.shots == DEFAULT_SHOTS


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"shots": 0}, ValueError, "shots"),
        ({"optimization_level": 5}, ValueError, "optimization_level"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"backend": AerSimulator(), "noise_model": NoiseModel()}, ValueError, "noise_model"),
    ],
)
def test_argument_errors_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        outcome_distributions(_ghz_measured(), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"backend": "foo"}, r"backend='foo' must be a qiskit BackendV2.*not str"),
        ({"backend": AerSimulator}, "backend=.* must be a qiskit BackendV2"),
        ({"sampler": 5}, r"sampler=5 must be a SamplerV2.*not int"),
        ({"noise_model": "x"}, r"noise_model='x' must be a qiskit_aer.noise.NoiseModel"),
        ({"shots": 1.5}, r"shots=1.5 must be an integer"),
        ({"optimization_level": "1"}, "optimization_level"),
    ],
)
def test_execution_target_refuses_wrong_kinds_naming_the_parameter(kwargs, match):
    error = ValueError if "optimization_level" in kwargs else TypeError
    with pytest.raises(error, match=match):
        ExecutionTarget(**kwargs)
    with pytest.raises(error, match=match):
        outcome_distributions(_ghz_measured(), **kwargs)


_RUNNERS = [
    lambda **kw: simulate_mdi(rounds=100, **kw),
    lambda **kw: simulate_bb84(rounds=100, **kw),
    lambda **kw: simulate_hbb(rounds=100, **kw),
    lambda **kw: simulate_intercept_resend(rounds=100, attack_prob=0.5, **kw),
    lambda **kw: simulate_dishonest_relay(rounds=100, attack_prob=0.5, **kw),
    lambda **kw: simulate_corrupted_source(rounds=100, attack_prob=0.5, **kw),
    lambda **kw: verify_ghz(3, shots=100, **kw),
    lambda **kw: verify_chsh(shots=100, **kw),
]


@pytest.mark.parametrize("runner", _RUNNERS)
@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"backend": "foo"}, TypeError, "backend"),
        ({"sampler": 5}, TypeError, "sampler"),
        ({"noise_model": "x"}, TypeError, "noise_model"),
        ({"backend": AerSimulator(), "noise_model": NoiseModel()}, ValueError, "noise_model"),
    ],
)
def test_every_runner_checks_its_target_before_any_circuit_runs(
    runner, kwargs, error, name, monkeypatch
):
    import qkdcircuits.execution as execution

    def refuse(*args, **kw):
        raise AssertionError("a circuit ran before the arguments were checked")

    monkeypatch.setattr(execution, "_exact_aer", refuse)
    monkeypatch.setattr(execution, "_sampled", refuse)
    with pytest.raises(error, match=name):
        runner(seed=1, **kwargs)


def test_execution_target_shots_seed_and_provenance():
    exact, shots, backend = (
        ExecutionTarget(),
        ExecutionTarget(shots=7),
        ExecutionTarget(backend=AerSimulator()),
    )
    assert (exact.exact, exact.ideal, exact.table_shots) == (True, True, None)
    assert ExecutionTarget(noise_model=NoiseModel()).ideal is False
    assert (shots.table_shots, backend.table_shots) == (7, DEFAULT_SHOTS)
    assert backend.description == "backend:aer_simulator"
    rng = np.random.default_rng(3)
    # An integer seed is used as is; a Generator seed gives a drawn integer only when shots are
    # sampled (so that shot-based runs stay reproducible), and nothing on the exact path.
    assert exact.circuit_seed(5, rng) == 5 and shots.circuit_seed(5, rng) == 5
    assert exact.circuit_seed(rng, rng) is None
    drawn = shots.circuit_seed(np.random.default_rng(3), np.random.default_rng(3))
    assert drawn == int(np.random.default_rng(3).integers(0, 2**31 - 1))
    assert backend.provenance(9) == {"seed": 9, "source": "backend:aer_simulator", "shots": 4096}
    assert ArmNoise(depolarizing_prob=0.25).to_dict() == {
        "depolarizing_prob": 0.25,
        "misalignment_rad": 0.0,
    }


def test_circuit_errors():
    with pytest.raises(TypeError, match="not a QuantumCircuit"):
        outcome_distributions(["not a circuit"])
    with pytest.raises(ValueError, match="measures nothing"):
        outcome_distributions(QuantumCircuit(1))


# ----------------------------------------------------------------------------------------------
# IBM fake backends and IBM Runtime samplers
# ----------------------------------------------------------------------------------------------


def _native_run(backend, circuit: QuantumCircuit, shots: int, seed: int) -> np.ndarray:
    from qiskit.transpiler import generate_preset_pass_manager

    isa = generate_preset_pass_manager(optimization_level=1, backend=backend, seed_transpiler=seed)
    counts = backend.run(isa.run(circuit), shots=shots, seed_simulator=seed).result().get_counts()
    probs = np.zeros(1 << circuit.num_clbits)
    for key, value in counts.items():
        probs[int(key.replace(" ", ""), 2)] = value / shots
    return probs


def test_fake_backend_path_matches_the_backends_own_run():
    backend = _fake()
    circuit = hbb_circuit(bases="XYY")
    shots = 40_000
    (ours,) = outcome_distributions(circuit, backend=backend, shots=shots, seed=11)
    assert ours.shots == shots and ours.registers == (("bits", 3),)
    native = _native_run(backend, circuit, shots, seed=12)
    # Two independent samples of the same device distribution: compare per outcome.
    pooled = 0.5 * (ours.probabilities + native)
    sigma = np.sqrt(np.maximum(pooled * (1 - pooled), 1.0 / shots) * 2.0 / shots)
    assert np.all(np.abs(ours.probabilities - native) <= Z_SCORE * sigma)
    # Device noise is visible: odd-parity outcomes (forbidden for XYY) occur.
    assert ours.probabilities[[0, 3, 5, 6]].sum() > 0
    assert describe_target(backend=backend) == "backend:fake_manila"


def test_fake_backend_runs_are_reproducible_with_a_seed():
    backend = _fake()
    circuit = hbb_circuit(bases="XXX")
    first = outcome_distributions(circuit, backend=backend, shots=2000, seed=3)[0].counts
    second = outcome_distributions(circuit, backend=backend, shots=2000, seed=3)[0].counts
    np.testing.assert_array_equal(first, second)


def test_runtime_sampler_prefers_the_client_side_sampler():
    backend = _fake()
    from qiskit_ibm_runtime.executor_sampler import Sampler

    sampler = runtime_sampler(backend, default_shots=1000, seed_simulator=1)
    assert isinstance(sampler, Sampler)
    assert sampler.options.default_shots == 1000
    assert sampler.options.simulator.seed_simulator == 1


def test_legacy_runtime_sampler_is_built_without_leaking_its_deprecation():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        sampler = runtime_sampler(_fake(), client_side=False)
    assert type(sampler).__name__ == "SamplerV2"


@pytest.mark.parametrize("client_side", [True, False])
def test_runtime_samplers_on_a_fake_backend(client_side):
    backend = _fake()
    sampler = runtime_sampler(backend, seed_simulator=7, client_side=client_side)
    circuit = hbb_circuit(bases="XXX")
    (dist,) = outcome_distributions(circuit, sampler=sampler, shots=4000, seed=7)
    assert dist.shots == 4000
    even = np.array([bin(k).count("1") % 2 == 0 for k in range(8)])
    # GHZ parity survives device noise on most shots.
    assert dist.probabilities[even].sum() > 0.5
    # Transpiled to the sampler's own backend: a second identical run repeats exactly.
    again = runtime_sampler(backend, seed_simulator=7, client_side=client_side)
    (dist2,) = outcome_distributions(circuit, sampler=again, shots=4000, seed=7)
    np.testing.assert_array_equal(dist.counts, dist2.counts)


def test_a_user_constructed_legacy_sampler_is_accepted():
    backend = _fake()
    from qiskit_ibm_runtime import SamplerV2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        sampler = SamplerV2(mode=backend)
    (dist,) = outcome_distributions(_ghz_measured(), sampler=sampler, shots=1000, seed=1)
    assert dist.counts.sum() == 1000


@pytest.mark.slow
def test_127_qubit_fake_backend():
    backend = _fake("FakeBrisbane")
    circuit = hbb_circuit(bases="YYX")
    (dist,) = outcome_distributions(circuit, backend=backend, shots=4000, seed=2)
    assert dist.shots == 4000
    # YYX is a kept setting with odd parity (two Y: offset 1).
    odd = np.array([bin(k).count("1") % 2 == 1 for k in range(8)])
    assert dist.probabilities[odd].sum() > 0.5
