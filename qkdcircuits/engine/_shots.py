"""Running verification settings: exact distributions or backend shots, mixtures, per-shot noise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from qkdcircuits._validation import (
    SeedLike,
    as_generator,
    check_confidence,
    check_positive_int,
    check_real,
)
from qkdcircuits.analysis.verification import VerificationResult, fidelity_bound_from_counts
from qkdcircuits.circuits.measurement import pauli_measurement_circuit
from qkdcircuits.engine._sampling import depolarize_parties, draw_shots, randomize_bit
from qkdcircuits.execution import ExecutionTarget
from qkdcircuits.noise import ArmNoise, noise_per_party


def parity_lut(support: Sequence[int], width: int) -> np.ndarray:
    """Per outcome index: parity of the bits on ``support`` (1 = odd)."""
    outcomes = np.arange(1 << width)
    parity = np.zeros(outcomes.size, dtype=np.int64)
    for qubit in support:
        parity ^= (outcomes >> qubit) & 1
    return parity.astype(bool)


def run_settings(
    circuits: Sequence[Sequence[QuantumCircuit]],
    weights: Sequence[float],
    accept_luts: Sequence[np.ndarray],
    arms: Sequence[ArmNoise],
    *,
    shots: int,
    rng: np.random.Generator,
    target: ExecutionTarget,
    seed: int | None,
) -> tuple[list[int], list[int], list[float] | None]:
    """Run ``circuits[k][j]`` (state component ``k``, setting ``j``) once and tally accepts.

    Per setting the ``shots`` are split among the mixture's components with a multinomial draw;
    each component contributes i.i.d. shots (:func:`qkdcircuits.engine._sampling.draw_shots`) and
    each measured qubit is depolarised per shot. Returns accepted counts, shots and, when every
    distribution is exact, the exact accept probabilities.
    """
    n_settings = len(circuits[0])
    flat = [circuit for row in circuits for circuit in row]
    dists = target.run(flat, seed=seed)
    weights = np.asarray(weights, dtype=float)
    exact = all(d.exact for d in dists)
    accepted, taken, exact_probs = [], [], []
    for j in range(n_settings):
        components = dists[j::n_settings]
        split = rng.multinomial(shots, weights)
        outcomes = np.concatenate(
            [draw_shots(dist, int(size), rng) for dist, size in zip(components, split, strict=True)]
        )
        for bit, arm in enumerate(arms):
            outcomes = randomize_bit(outcomes, bit, arm.depolarizing_prob, rng)
        accepted.append(int(accept_luts[j][outcomes].sum()))
        taken.append(int(outcomes.size))
        if exact:
            probs = sum(w * dist.probabilities for w, dist in zip(weights, components, strict=True))
            exact_probs.append(float(depolarize_parties(probs, arms)[accept_luts[j]].sum()))
    return accepted, taken, (exact_probs if exact else None)


@dataclass(frozen=True)
class RunOptions:
    """The validated arguments of a verification run (see :func:`run_options`)."""

    shots: int
    confidence: float
    threshold: float
    rng: np.random.Generator
    seed: int | None
    target: ExecutionTarget

    def run(
        self,
        circuits: Sequence[Sequence[QuantumCircuit]],
        weights: Sequence[float],
        luts: Sequence[np.ndarray],
        arms: Sequence[ArmNoise],
    ) -> tuple[list[int], list[int], list[float] | None]:
        """:func:`run_settings` with these options."""
        return run_settings(
            circuits,
            weights,
            luts,
            arms,
            shots=self.shots,
            rng=self.rng,
            target=self.target,
            seed=self.seed,
        )

    def provenance(self, arms: Sequence[ArmNoise]) -> dict[str, Any]:
        """Noise per arm, seed and source, for result metadata."""
        return {
            "noise": [arm.to_dict() for arm in arms],
            "seed": self.seed,
            "source": self.target.description,
        }


def run_options(
    shots: int,
    confidence: float,
    threshold: float,
    seed: SeedLike,
    backend: Any,
    sampler: Any,
    noise_model: Any,
    optimization_level: int,
) -> RunOptions:
    """Check the arguments of a ``verify_*`` function before any circuit runs.

    The target samples ``shots`` per circuit when it is a backend or sampler; on the exact
    path the shots are drawn from the exact distributions. A Generator seed still fixes
    transpilation and simulator shots (an integer seed is drawn from it).
    """
    shots = check_positive_int(shots, "shots")
    target = ExecutionTarget(
        backend=backend,
        sampler=sampler,
        shots=None if backend is None and sampler is None else shots,
        noise_model=noise_model,
        optimization_level=optimization_level,
    )
    confidence = check_confidence(confidence)
    threshold = check_real(threshold, "threshold")
    rng = as_generator(seed)
    return RunOptions(
        shots=shots,
        confidence=confidence,
        threshold=threshold,
        rng=rng,
        seed=target.circuit_seed(seed, rng),
        target=target,
    )


def ghz_settings(n_qubits: int) -> tuple[list[str], list[np.ndarray]]:
    """All-X with even parity, all-Z with all outcomes equal."""
    all_equal = np.zeros(1 << n_qubits, dtype=bool)
    all_equal[[0, (1 << n_qubits) - 1]] = True
    return ["X" * n_qubits, "Z" * n_qubits], [~parity_lut(range(n_qubits), n_qubits), all_equal]


def verify_fidelity(
    *,
    test: str,
    states: Sequence[tuple[float, QuantumCircuit]],
    bases: Sequence[str],
    luts: Sequence[np.ndarray],
    noise: ArmNoise | Sequence[ArmNoise],
    options: RunOptions,
    extra_metadata: dict[str, Any] | None = None,
) -> VerificationResult:
    width = len(bases[0])
    arms = noise_per_party(noise, width)
    misaligned = [arm.rotation_only for arm in arms]
    circuits = [
        [
            pauli_measurement_circuit(state, b, noise=misaligned, explicit_channels=False)
            for b in bases
        ]
        for _, state in states
    ]
    accepted, taken, exact_probs = options.run(circuits, [w for w, _ in states], luts, arms)
    exact = None if exact_probs is None else float(sum(exact_probs) - (len(bases) - 1))
    return fidelity_bound_from_counts(
        accepted,
        taken,
        confidence=options.confidence,
        threshold=options.threshold,
        settings=bases,
        test=test,
        exact=exact,
        metadata={**options.provenance(arms), **(extra_metadata or {})},
    )
