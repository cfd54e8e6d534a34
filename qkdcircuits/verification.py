"""Verification of entangled resources: stabiliser fidelity bounds and the CHSH test.

Generate separately from analyse: :func:`fidelity_bound_from_counts` and
:func:`chsh_from_counts` take counts and never touch a backend; the ``verify_*`` functions build
the measurement circuits, run each setting once through
:func:`qkdcircuits.execution.outcome_distributions` and draw ``shots`` outcomes per setting
(from the exact distribution on Aer, or the backend's own shots).

Fidelity lower bound from stabiliser measurements
-------------------------------------------------
Let ``|psi>`` be the unique joint +1 eigenstate of commuting projectors ``P_1..P_m``, each the
"accept" event of one local measurement setting. For commuting projectors
``P_1 P_2 ... P_m >= P_1 + ... + P_m - (m - 1) I`` (check it on their common eigenbasis, where
each ``P_j`` is 0 or 1), so

``F = <psi|rho|psi> = tr(rho P_1...P_m) >= sum_j p_j - (m - 1)``,  ``p_j = tr(rho P_j)``.

This is the construction of the two-setting witnesses of G. Toth and O. Guehne, "Detecting
genuine multipartite entanglement with two local measurements", PRL 94, 060501 (2005). For the
GHZ state the two settings are all-X (``P_1``: the X outcomes have even parity, i.e.
``(1 + X...X)/2``) and all-Z (``P_2``: all Z outcomes equal, the product of the ``(1 + Z_i
Z_{i+1})/2``), giving ``F >= p_X + p_Z - 1``; ``F > 1/2`` certifies genuine multipartite
entanglement (a Bell pair is the case n = 2, where ``F > 1/2`` certifies entanglement). For a
code state with generators ``S_1..S_4`` the accept events are ``(1 + S_i)/2`` and the bound is
``F >= 1 - sum_i (1 - <S_i>)/2``.

Confidence intervals
--------------------
Each ``p_j`` is a binomial proportion over the setting's shots (settings are independent). A
two-sided Clopper-Pearson interval at level ``1 - alpha/m`` per setting, combined by the union
(Bonferroni) bound, gives an interval on ``sum_j p_j - (m - 1)`` with coverage at least
``1 - alpha``; no normal approximation. A test **passes** when the lower end of the interval
exceeds the threshold, i.e. the property is certified at that confidence.

CHSH
----
``S = E(A0,B0) + E(A0,B1) + E(A1,B0) - E(A1,B1)`` with ``A0 = Z``, ``A1 = X`` and Bob's
observables at +-45 degrees, ``B0,1 = (Z +- X)/sqrt(2)``. Local hidden variables give
``|S| <= 2`` (J. F. Clauser, M. A. Horne, A. Shimony, R. A. Holt, PRL 23, 880 (1969));
quantum mechanics allows ``2 sqrt(2)`` (B. S. Cirel'son, Lett. Math. Phys. 4, 93 (1980)),
reached by ``|Phi+>``. Depolarising arms scale every correlator, ``S = 2 sqrt(2) (1-p_A)(1-p_B)``.
Each ``E = 2 q - 1`` with ``q`` the probability of equal outcomes, bounded as above.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit

from qkdcircuits._sampling import depolarize_bit, draw_shots, randomize_bit
from qkdcircuits._validation import (
    SeedLike,
    as_generator,
    check_choice,
    check_positive_int,
    check_real,
    derive_int_seed,
)
from qkdcircuits.execution import describe_target, outcome_distributions
from qkdcircuits.ghz_sharing import _noise_per_party, ghz_state
from qkdcircuits.noise import NOISELESS, ArmNoise
from qkdcircuits.sifting import binomial_interval
from qkdcircuits.threshold_sharing import (
    FIVE_QUBIT_LOGICAL_X,
    FIVE_QUBIT_LOGICAL_Z,
    FIVE_QUBIT_STABILIZERS,
    five_qubit_encoder,
)

__all__ = [
    "CHSH_ANGLES",
    "TSIRELSON_BOUND",
    "VerificationResult",
    "chsh_circuit",
    "chsh_from_counts",
    "fidelity_bound_from_counts",
    "pauli_measurement_circuit",
    "verify_bell_pair",
    "verify_chsh",
    "verify_encoded_state",
    "verify_ghz",
]

TSIRELSON_BOUND = 2.0 * math.sqrt(2.0)
"""Largest quantum CHSH value."""

CHSH_ANGLES: tuple[tuple[float, float], ...] = (
    (0.0, math.pi / 4),
    (0.0, -math.pi / 4),
    (math.pi / 2, math.pi / 4),
    (math.pi / 2, -math.pi / 4),
)
"""(Alice, Bob) measurement angles in the X-Z plane for the four CHSH terms, in order
``A0B0, A0B1, A1B0, A1B1``; angle ``a`` measures ``cos(a) Z + sin(a) X``."""

_CHSH_SIGNS = (1, 1, 1, -1)
_SECRETS = ("0", "1", "+", "-")


# ----------------------------------------------------------------------------------------------
# Result and analysis (counts in, no backend)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class VerificationResult:
    """Outcome of a verification test.

    Attributes
    ----------
    test : str
        ``"bell"``, ``"ghz"``, ``"five-qubit-code"`` or ``"chsh"``.
    estimate : float
        Point estimate: the fidelity lower bound ``sum_j p_j - (m-1)``, or the CHSH value S.
    low, high : float
        Confidence interval on that quantity (Clopper-Pearson per setting, union bound).
    confidence : float
        Coverage of the interval.
    threshold : float
        Value the lower end must exceed to pass.
    passed : bool
        ``low > threshold``: the property is certified at this confidence.
    settings : tuple of str
        Measurement setting per term (bases per qubit, or CHSH angle labels).
    accepted : tuple of int
        Shots per setting in the accept event (even parity / all equal / equal outcomes).
    shots : tuple of int
        Shots per setting.
    exact : float or None
        The same quantity from the exact distributions (Aer default path), else ``None``.
    metadata : dict
        Noise, provenance.
    """

    test: str
    estimate: float
    low: float
    high: float
    confidence: float
    threshold: float
    passed: bool
    settings: tuple[str, ...]
    accepted: tuple[int, ...]
    shots: tuple[int, ...]
    exact: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def total_shots(self) -> int:
        """Shots over all settings."""
        return int(sum(self.shots))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "test": self.test,
            "estimate": self.estimate,
            "ci": [self.low, self.high],
            "confidence": self.confidence,
            "threshold": self.threshold,
            "passed": self.passed,
            "settings": list(self.settings),
            "accepted": list(self.accepted),
            "shots": list(self.shots),
            "exact": self.exact,
            **self.metadata,
        }


def _check_counts(
    accepted: Sequence[int], shots: Sequence[int], expected: int | None = None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    accepted = tuple(int(a) for a in accepted)
    shots = tuple(int(n) for n in shots)
    if len(accepted) != len(shots) or not accepted:
        raise ValueError(
            f"accepted ({len(accepted)}) and shots ({len(shots)}) need the same non-zero length"
        )
    if expected is not None and len(accepted) != expected:
        raise ValueError(f"need {expected} settings, got {len(accepted)}")
    for a, n in zip(accepted, shots, strict=True):
        if n < 1 or not 0 <= a <= n:
            raise ValueError(f"need 0 <= accepted <= shots and shots >= 1, got {a}/{n}")
    return accepted, shots


def _check_confidence(confidence: float) -> float:
    confidence = check_real(confidence, "confidence")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence={confidence!r} not in (0, 1)")
    return confidence


def _intervals(
    accepted: tuple[int, ...], shots: tuple[int, ...], confidence: float
) -> list[tuple[float, float]]:
    per_setting = 1.0 - (1.0 - confidence) / len(accepted)
    return [
        binomial_interval(a, n, confidence=per_setting, method="clopper-pearson")
        for a, n in zip(accepted, shots, strict=True)
    ]


def fidelity_bound_from_counts(
    accepted: Sequence[int],
    shots: Sequence[int],
    *,
    confidence: float = 0.95,
    threshold: float = 0.5,
    settings: Sequence[str] | None = None,
    test: str = "stabilizer",
    exact: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> VerificationResult:
    """Fidelity lower bound ``sum_j p_j - (m - 1)`` from accept counts of ``m`` settings.

    Parameters
    ----------
    accepted, shots : sequence of int
        Per setting: shots in the accept event, and shots taken.
    confidence : float
        Joint coverage of the interval (union bound over settings).
    threshold : float
        Fidelity the lower end must exceed (0.5 certifies entanglement for Bell/GHZ states).
    settings : sequence of str, optional
        Labels of the settings.
    test : str
        Name stored in the result.
    exact : float, optional
        The bound from exact probabilities, when known.
    metadata : dict, optional
        Stored in the result.

    Examples
    --------
    >>> result = fidelity_bound_from_counts([990, 985], [1000, 1000], threshold=0.9)
    >>> round(result.estimate, 3), result.passed
    (0.975, True)
    """
    accepted, shots = _check_counts(accepted, shots)
    confidence = _check_confidence(confidence)
    threshold = check_real(threshold, "threshold")
    m = len(accepted)
    intervals = _intervals(accepted, shots, confidence)
    estimate = sum(a / n for a, n in zip(accepted, shots, strict=True)) - (m - 1)
    low = sum(lo for lo, _ in intervals) - (m - 1)
    high = sum(hi for _, hi in intervals) - (m - 1)
    return VerificationResult(
        test=test,
        estimate=float(estimate),
        low=float(low),
        high=float(high),
        confidence=confidence,
        threshold=threshold,
        passed=bool(low > threshold),
        settings=tuple(settings) if settings is not None else tuple(f"S{j}" for j in range(m)),
        accepted=accepted,
        shots=shots,
        exact=exact,
        metadata=dict(metadata or {}),
    )


def chsh_from_counts(
    same: Sequence[int],
    shots: Sequence[int],
    *,
    confidence: float = 0.95,
    threshold: float = 2.0,
    exact: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> VerificationResult:
    """CHSH value ``S`` and its interval from equal-outcome counts of the four settings.

    Parameters
    ----------
    same, shots : sequence of 4 ints
        Per setting (order ``A0B0, A0B1, A1B0, A1B1``): shots with equal outcomes, shots taken.
    confidence : float
        Joint coverage of the interval.
    threshold : float
        The lower end must exceed it to pass (2: the local-realist bound).

    Examples
    --------
    >>> result = chsh_from_counts([854, 854, 854, 146], [1000] * 4)
    >>> round(result.estimate, 3), result.passed
    (2.832, True)
    """
    accepted, shots = _check_counts(same, shots, expected=4)
    confidence = _check_confidence(confidence)
    threshold = check_real(threshold, "threshold")
    intervals = _intervals(accepted, shots, confidence)
    estimate = low = high = 0.0
    for sign, a, n, (lo, hi) in zip(_CHSH_SIGNS, accepted, shots, intervals, strict=True):
        estimate += sign * (2.0 * a / n - 1.0)
        if sign > 0:
            low += 2.0 * lo - 1.0
            high += 2.0 * hi - 1.0
        else:
            low -= 2.0 * hi - 1.0
            high -= 2.0 * lo - 1.0
    return VerificationResult(
        test="chsh",
        estimate=float(estimate),
        low=float(low),
        high=float(high),
        confidence=confidence,
        threshold=threshold,
        passed=bool(low > threshold),
        settings=("A0B0", "A0B1", "A1B0", "A1B1"),
        accepted=accepted,
        shots=shots,
        exact=exact,
        metadata=dict(metadata or {}),
    )


# ----------------------------------------------------------------------------------------------
# Measurement circuits
# ----------------------------------------------------------------------------------------------


def _measured_copy(
    state: QuantumCircuit, width: int, arms: Sequence[ArmNoise], explicit_channels: bool
) -> tuple[QuantumCircuit, ClassicalRegister]:
    if not isinstance(state, QuantumCircuit):
        raise TypeError(f"state={state!r} must be a QuantumCircuit")
    if state.num_clbits:
        raise ValueError(f"state {state.name!r} must not measure anything")
    if width > state.num_qubits:
        raise ValueError(f"{width} bases for a {state.num_qubits}-qubit state")
    circuit = state.copy()
    register = ClassicalRegister(width, "m")
    circuit.add_register(register)
    circuit.barrier(label="source")
    for qubit, arm in zip(circuit.qubits[:width], arms, strict=True):
        arm.apply(circuit, qubit, explicit_channels=explicit_channels)
    return circuit, register


def pauli_measurement_circuit(
    state: QuantumCircuit,
    bases: str,
    *,
    noise: ArmNoise | Sequence[ArmNoise] = NOISELESS,
    explicit_channels: bool = True,
) -> QuantumCircuit:
    """``state`` followed by per-qubit noise and a local Pauli measurement.

    Parameters
    ----------
    state : QuantumCircuit
        Prepares the state (no classical bits).
    bases : str
        One of ``X``, ``Y``, ``Z``, ``I`` per qubit, **qubit 0 first** (``I`` is read in Z and
        ignored by the analysis). Qubits beyond ``len(bases)`` are not measured (e.g. an
        eavesdropper's ancilla).
    noise : ArmNoise or sequence of ArmNoise
        Channel on each measured qubit between the source and the measurement.
    explicit_channels : bool
        Insert depolarising channels as Aer instructions (Aer only).

    Returns
    -------
    QuantumCircuit
        With a classical register ``m``: bit ``i`` is qubit ``i``'s outcome (0 = +1 eigenvalue).

    Examples
    --------
    >>> qc = pauli_measurement_circuit(ghz_state(3), "XXX")
    >>> qc.cregs[0].name, qc.count_ops()["h"]
    ('m', 4)
    """
    if not isinstance(bases, str) or not bases:
        raise ValueError(f"bases={bases!r} must be a non-empty string of X, Y, Z, I")
    for index, basis in enumerate(bases):
        check_choice(basis, f"bases[{index}]", ("X", "Y", "Z", "I"))
    arms = _noise_per_party(noise, len(bases))
    circuit, register = _measured_copy(state, len(bases), arms, explicit_channels)
    for qubit, basis in zip(circuit.qubits[: len(bases)], bases, strict=True):
        if basis == "X":
            circuit.h(qubit)
        elif basis == "Y":
            circuit.sdg(qubit)
            circuit.h(qubit)
    circuit.measure(circuit.qubits[: len(bases)], register)
    circuit.name = f"{state.name}_{bases}"
    return circuit


def _bell_state() -> QuantumCircuit:
    circuit = ghz_state(2)
    circuit.name = "bell_phi_plus"
    return circuit


def chsh_circuit(
    *,
    alice_angle_rad: float,
    bob_angle_rad: float,
    noise: ArmNoise | Sequence[ArmNoise] = NOISELESS,
    explicit_channels: bool = True,
) -> QuantumCircuit:
    """``|Phi+>``, one arm per photon, and measurements along angles in the X-Z plane.

    Angle ``a`` measures ``cos(a) Z + sin(a) X``: ``RY(-a)`` then a Z measurement. For ``|Phi+>``
    the correlator is ``E(a, b) = cos(a - b)``.

    Returns
    -------
    QuantumCircuit
        Register ``m``: bit 0 Alice's outcome, bit 1 Bob's.
    """
    alice = check_real(alice_angle_rad, "alice_angle_rad")
    bob = check_real(bob_angle_rad, "bob_angle_rad")
    arms = _noise_per_party(noise, 2)
    circuit, register = _measured_copy(_bell_state(), 2, arms, explicit_channels)
    circuit.ry(-alice, circuit.qubits[0])
    circuit.ry(-bob, circuit.qubits[1])
    circuit.measure(circuit.qubits[:2], register)
    circuit.name = f"chsh_{alice:.4f}_{bob:.4f}"
    return circuit


# ----------------------------------------------------------------------------------------------
# Running settings: exact distributions or backend shots, mixtures, per-qubit depolarisation
# ----------------------------------------------------------------------------------------------


def _parity_lut(support: Sequence[int], width: int) -> np.ndarray:
    """Per outcome index: parity of the bits on ``support`` (1 = odd)."""
    outcomes = np.arange(1 << width)
    parity = np.zeros(outcomes.size, dtype=np.int64)
    for qubit in support:
        parity ^= (outcomes >> qubit) & 1
    return parity.astype(bool)


def _run_settings(
    circuits: Sequence[Sequence[QuantumCircuit]],
    weights: Sequence[float],
    accept_luts: Sequence[np.ndarray],
    arms: Sequence[ArmNoise],
    *,
    shots: int,
    rng: np.random.Generator,
    backend: Any,
    sampler: Any,
    noise_model: Any,
    seed: int | None,
    optimization_level: int,
) -> tuple[list[int], list[int], list[float] | None]:
    """Run ``circuits[k][j]`` (state component ``k``, setting ``j``) once and tally accepts.

    Per setting the ``shots`` are split among the mixture's components with a multinomial draw;
    each component contributes i.i.d. shots (:func:`qkdcircuits._sampling.draw_shots`) and each
    measured qubit is depolarised per shot. Returns accepted counts, shots and, when every
    distribution is exact, the exact accept probabilities.
    """
    n_components, n_settings = len(circuits), len(circuits[0])
    flat = [circuit for row in circuits for circuit in row]
    backend_shots = None if backend is None and sampler is None else shots
    dists = outcome_distributions(
        flat,
        backend=backend,
        sampler=sampler,
        shots=backend_shots,
        noise_model=noise_model,
        seed=seed,
        optimization_level=optimization_level,
    )
    weights = np.asarray(weights, dtype=float)
    exact = all(d.exact for d in dists)
    accepted, taken, exact_probs = [], [], []
    for j in range(n_settings):
        split = rng.multinomial(shots, weights)
        outcomes = np.concatenate(
            [draw_shots(dists[k * n_settings + j], int(split[k]), rng) for k in range(n_components)]
        )
        for bit, arm in enumerate(arms):
            outcomes = randomize_bit(outcomes, bit, arm.depolarizing_prob, rng)
        accepted.append(int(accept_luts[j][outcomes].sum()))
        taken.append(int(outcomes.size))
        if exact:
            probs = sum(w * dists[k * n_settings + j].probabilities for k, w in enumerate(weights))
            for bit, arm in enumerate(arms):
                probs = depolarize_bit(probs, bit, arm.depolarizing_prob)
            exact_probs.append(float(probs[accept_luts[j]].sum()))
    return accepted, taken, (exact_probs if exact else None)


@dataclass(frozen=True)
class _RunOptions:
    shots: int
    confidence: float
    threshold: float
    rng: np.random.Generator
    seed: int | None
    backend: Any
    sampler: Any
    noise_model: Any
    optimization_level: int

    def run(
        self,
        circuits: Sequence[Sequence[QuantumCircuit]],
        weights: Sequence[float],
        luts: Sequence[np.ndarray],
        arms: Sequence[ArmNoise],
    ) -> tuple[list[int], list[int], list[float] | None]:
        return _run_settings(
            circuits,
            weights,
            luts,
            arms,
            shots=self.shots,
            rng=self.rng,
            backend=self.backend,
            sampler=self.sampler,
            noise_model=self.noise_model,
            seed=self.seed,
            optimization_level=self.optimization_level,
        )

    def provenance(self, arms: Sequence[ArmNoise]) -> dict[str, Any]:
        return {
            "noise": [
                {"depolarizing_prob": a.depolarizing_prob, "misalignment_rad": a.misalignment_rad}
                for a in arms
            ],
            "seed": self.seed,
            "source": describe_target(self.backend, self.sampler, self.shots),
        }


def _options(
    shots: int,
    confidence: float,
    threshold: float,
    seed: SeedLike,
    backend: Any,
    sampler: Any,
    noise_model: Any,
    optimization_level: int,
) -> _RunOptions:
    rng = as_generator(seed)
    return _RunOptions(
        shots=check_positive_int(shots, "shots"),
        confidence=_check_confidence(confidence),
        threshold=check_real(threshold, "threshold"),
        rng=rng,
        # a Generator seed still fixes transpilation and simulator shots
        seed=derive_int_seed(seed, rng),
        backend=backend,
        sampler=sampler,
        noise_model=noise_model,
        optimization_level=optimization_level,
    )


def _ghz_settings(n_qubits: int) -> tuple[list[str], list[np.ndarray]]:
    """All-X with even parity, all-Z with all outcomes equal."""
    all_equal = np.zeros(1 << n_qubits, dtype=bool)
    all_equal[[0, (1 << n_qubits) - 1]] = True
    return ["X" * n_qubits, "Z" * n_qubits], [~_parity_lut(range(n_qubits), n_qubits), all_equal]


def _verify_fidelity(
    *,
    test: str,
    states: Sequence[tuple[float, QuantumCircuit]],
    bases: Sequence[str],
    luts: Sequence[np.ndarray],
    noise: ArmNoise | Sequence[ArmNoise],
    options: _RunOptions,
    extra_metadata: dict[str, Any] | None = None,
) -> VerificationResult:
    width = len(bases[0])
    arms = _noise_per_party(noise, width)
    misaligned = [ArmNoise(misalignment_rad=a.misalignment_rad) for a in arms]
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


# ----------------------------------------------------------------------------------------------
# Public verification runs
# ----------------------------------------------------------------------------------------------


def verify_ghz(
    n_qubits: int = 3,
    *,
    shots: int = 4096,
    noise: ArmNoise | Sequence[ArmNoise] = NOISELESS,
    confidence: float = 0.95,
    threshold: float = 0.5,
    seed: SeedLike = None,
    backend: Any = None,
    sampler: Any = None,
    noise_model: Any = None,
    optimization_level: int = 1,
) -> VerificationResult:
    """Verify an n-qubit GHZ source with two settings (all-X parity, all-Z equality).

    Returns the Toth-Guehne lower bound ``F >= p_X + p_Z - 1`` on the fidelity with
    ``(|0...0> + |1...1>)/sqrt(2)``, with a confidence interval from ``shots`` shots per setting;
    it passes when the interval's lower end exceeds ``threshold`` (``F > 1/2`` certifies genuine
    ``n``-partite entanglement).

    Parameters
    ----------
    n_qubits : int
        Number of GHZ qubits (2..12; 2 is a Bell pair).
    shots : int
        Shots per setting (two settings).
    noise : ArmNoise or sequence of ArmNoise
        Channel from the source to each qubit's measurement.
    confidence, threshold
        Interval coverage and pass threshold.
    seed : int, numpy.random.Generator or None
        Shot sampling (and, if an int, transpilation and backend sampling).
    backend, sampler, noise_model, optimization_level
        Where the circuits run; see :func:`qkdcircuits.execution.outcome_distributions`.

    Examples
    --------
    >>> result = verify_ghz(3, shots=2000, noise=ArmNoise(depolarizing_prob=0.05), seed=1)
    >>> result.passed, round(result.exact, 4)  # (1 + 0.95**3)/2 + 0.975**3 + 0.025**3 - 1
    (True, 0.8556)
    """
    options = _options(
        shots, confidence, threshold, seed, backend, sampler, noise_model, optimization_level
    )
    state = ghz_state(n_qubits)
    bases, luts = _ghz_settings(n_qubits)
    return _verify_fidelity(
        test="ghz" if n_qubits > 2 else "bell",
        states=[(1.0, state)],
        bases=bases,
        luts=luts,
        noise=noise,
        options=options,
    )


def verify_bell_pair(
    *,
    shots: int = 4096,
    noise: ArmNoise | Sequence[ArmNoise] = NOISELESS,
    confidence: float = 0.95,
    threshold: float = 0.5,
    seed: SeedLike = None,
    backend: Any = None,
    sampler: Any = None,
    noise_model: Any = None,
    optimization_level: int = 1,
) -> VerificationResult:
    """Verify a ``|Phi+>`` source by its stabilisers XX and ZZ: ``F >= (<XX> + <ZZ>)/2``.

    The GHZ bound for two qubits (``p_X + p_Z - 1``). ``F > 1/2`` certifies entanglement.
    Parameters as in :func:`verify_ghz`.

    Examples
    --------
    >>> verify_bell_pair(shots=1000, seed=2).low > 0.99
    True
    """
    return verify_ghz(
        2,
        shots=shots,
        noise=noise,
        confidence=confidence,
        threshold=threshold,
        seed=seed,
        backend=backend,
        sampler=sampler,
        noise_model=noise_model,
        optimization_level=optimization_level,
    )


def verify_chsh(
    *,
    shots: int = 4096,
    noise: ArmNoise | Sequence[ArmNoise] = NOISELESS,
    confidence: float = 0.95,
    threshold: float = 2.0,
    seed: SeedLike = None,
    backend: Any = None,
    sampler: Any = None,
    noise_model: Any = None,
    optimization_level: int = 1,
) -> VerificationResult:
    """CHSH test of a ``|Phi+>`` source: four settings at :data:`CHSH_ANGLES`.

    Passes when the lower end of the interval on ``S`` exceeds ``threshold`` (2 by default: a
    certified Bell violation). Parameters as in :func:`verify_ghz`.

    Examples
    --------
    >>> result = verify_chsh(shots=4000, noise=ArmNoise(depolarizing_prob=0.1), seed=4)
    >>> round(result.exact, 4), result.passed  # 2 sqrt(2) (1 - 0.1)^2
    (2.291, True)
    """
    options = _options(
        shots, confidence, threshold, seed, backend, sampler, noise_model, optimization_level
    )
    arms = _noise_per_party(noise, 2)
    misaligned = [ArmNoise(misalignment_rad=a.misalignment_rad) for a in arms]
    circuits = [
        [
            chsh_circuit(
                alice_angle_rad=a, bob_angle_rad=b, noise=misaligned, explicit_channels=False
            )
            for a, b in CHSH_ANGLES
        ]
    ]
    same = ~_parity_lut([0, 1], 2)
    accepted, taken, exact_probs = options.run(circuits, [1.0], [same] * 4, arms)
    exact = None
    if exact_probs is not None:
        exact = float(sum(s * (2 * q - 1) for s, q in zip(_CHSH_SIGNS, exact_probs, strict=True)))
    return chsh_from_counts(
        accepted,
        taken,
        confidence=options.confidence,
        threshold=options.threshold,
        exact=exact,
        metadata=options.provenance(arms),
    )


def _secret_circuit(secret: str) -> QuantumCircuit:
    circuit = QuantumCircuit(1, name=f"secret_{secret}")
    if secret in ("1", "-"):
        circuit.x(0)
    if secret in ("+", "-"):
        circuit.h(0)
    return circuit


def _stabilizer_settings(secret: str | None) -> tuple[list[str], list[np.ndarray]]:
    """Bases and accept look-up tables for the code's generators (and a known logical)."""
    pauli_strings = list(FIVE_QUBIT_STABILIZERS)
    signs = [0] * len(pauli_strings)
    if secret is not None:
        pauli_strings.append(FIVE_QUBIT_LOGICAL_Z if secret in "01" else FIVE_QUBIT_LOGICAL_X)
        signs.append(1 if secret in ("1", "-") else 0)
    bases, luts = [], []
    for pauli, sign in zip(pauli_strings, signs, strict=True):
        support = [q for q, p in enumerate(pauli) if p != "I"]
        parity = _parity_lut(support, len(pauli))
        bases.append(pauli)
        luts.append(parity if sign else ~parity)
    return bases, luts


def verify_encoded_state(
    *,
    secret: str | None = None,
    shots: int = 4096,
    noise: ArmNoise | Sequence[ArmNoise] = NOISELESS,
    confidence: float = 0.95,
    threshold: float = 0.5,
    seed: SeedLike = None,
    backend: Any = None,
    sampler: Any = None,
    noise_model: Any = None,
    optimization_level: int = 1,
    state: QuantumCircuit | None = None,
) -> VerificationResult:
    """Verify the ((3,5)) shares by measuring the [[5,1,3]] stabiliser generators.

    With ``secret=None`` the four generators bound the weight of the code space,
    ``tr(rho P_code) >= 1 - sum_i (1 - <S_i>)/2``. With a known Pauli-eigenstate secret
    (``"0"``, ``"1"``, ``"+"``, ``"-"``) the matching logical operator is a fifth setting and the
    bound is on the fidelity with the encoded state itself.

    Parameters
    ----------
    secret : {"0", "1", "+", "-"} or None
        Secret the dealer encodes (``"0"`` when None, but only the code space is checked).
    state : QuantumCircuit, optional
        A five-qubit preparation to verify instead of the dealer's encoder (e.g. a faulty one).
    shots, noise, confidence, threshold, seed, backend, sampler, noise_model, optimization_level
        As in :func:`verify_ghz` (``noise``: one arm per share).

    Examples
    --------
    >>> result = verify_encoded_state(secret="+", shots=1000, seed=5)
    >>> result.settings[-1], result.exact, result.passed
    ('XXXXX', 1.0, True)
    """
    if secret is not None:
        check_choice(secret, "secret", _SECRETS)
    options = _options(
        shots, confidence, threshold, seed, backend, sampler, noise_model, optimization_level
    )
    if state is None:
        state = five_qubit_encoder(_secret_circuit(secret or "0"))
    elif not isinstance(state, QuantumCircuit):
        raise TypeError(f"state={state!r} must be a QuantumCircuit")
    elif state.num_qubits < 5:
        raise ValueError(f"state has {state.num_qubits} qubits; the code needs 5 shares")
    bases, luts = _stabilizer_settings(secret)
    return _verify_fidelity(
        test="five-qubit-code",
        states=[(1.0, state)],
        bases=bases,
        luts=luts,
        noise=noise,
        options=options,
        extra_metadata={"secret": secret},
    )
