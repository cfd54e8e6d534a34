"""Measurement circuits for verification: Pauli settings on a prepared state, and CHSH.

:func:`pauli_measurement_circuit` appends a product-Pauli measurement setting (one of ``X``,
``Y``, ``Z`` per qubit) to a state-preparation circuit, with each arm's channel noise before
the measurement; :func:`chsh_circuit` measures a Bell pair at the CHSH angles
(:data:`CHSH_ANGLES`). The analysis of their counts is in :mod:`qkdcircuits.analysis.verification`
and the runs in :mod:`qkdcircuits.engine.verification`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from qiskit import ClassicalRegister, QuantumCircuit

from qkdcircuits._validation import check_choice, check_real
from qkdcircuits.circuits.ghz import ghz_state
from qkdcircuits.noise import NOISELESS, ArmNoise, noise_per_party

__all__ = ["CHSH_ANGLES", "bell_state", "chsh_circuit", "pauli_measurement_circuit"]


CHSH_ANGLES: tuple[tuple[float, float], ...] = (
    (0.0, math.pi / 4),
    (0.0, -math.pi / 4),
    (math.pi / 2, math.pi / 4),
    (math.pi / 2, -math.pi / 4),
)
"""(Alice, Bob) measurement angles in the X-Z plane for the four CHSH terms, in order
``A0B0, A0B1, A1B0, A1B1``; angle ``a`` measures ``cos(a) Z + sin(a) X``."""


def _measured_copy(
    state: QuantumCircuit, width: int, arms: Sequence[ArmNoise], explicit_channels: bool
) -> tuple[QuantumCircuit, ClassicalRegister]:
    if not isinstance(state, QuantumCircuit):
        raise TypeError(f"state={state!r} must be a QuantumCircuit")
    if state.num_clbits:
        raise ValueError(f"state {state.name!r} must not measure anything")
    if width > state.num_qubits:
        raise ValueError(f"bases has {width} entries but state has {state.num_qubits} qubits")
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

    Raises
    ------
    TypeError
        If ``state`` is not a ``QuantumCircuit`` or ``noise`` not one or more ``ArmNoise``.
    ValueError
        If ``bases`` has a letter other than X, Y, Z, I, more letters than ``state`` has qubits,
        or ``state`` already measures something.

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
    arms = noise_per_party(noise, len(bases))
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


def bell_state() -> QuantumCircuit:
    """Circuit preparing ``|Phi+> = (|00> + |11>)/sqrt(2)`` (the two-qubit GHZ state).

    Returns
    -------
    qiskit.QuantumCircuit
        Two qubits, no measurement, named ``"bell_phi_plus"``.

    Examples
    --------
    >>> bell_state().name, bell_state().num_qubits
    ('bell_phi_plus', 2)
    """
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
    the correlator is ``E(a, b) = cos(a - b)`` (J. F. Clauser, M. A. Horne, A. Shimony, R. A.
    Holt, PRL 23, 880 (1969)).

    Parameters
    ----------
    alice_angle_rad, bob_angle_rad : float
        Measurement angles in the X-Z plane, in radians (:data:`CHSH_ANGLES` for the test).
    noise : ArmNoise or sequence of two ArmNoise
        Channel on each photon before its measurement.
    explicit_channels : bool
        Insert depolarising channels as Aer instructions (Aer only).

    Returns
    -------
    QuantumCircuit
        Register ``m``: bit 0 Alice's outcome, bit 1 Bob's.

    Raises
    ------
    TypeError, ValueError
        If an angle is not a finite real number or ``noise`` is not one or two ``ArmNoise``.

    References
    ----------
    J. F. Clauser, M. A. Horne, A. Shimony, R. A. Holt, "Proposed experiment to test
    local hidden-variable theories", Phys. Rev. Lett. 23, 880 (1969).

    Examples
    --------
    >>> from qkdcircuits.execution import outcome_distributions
    >>> (dist,) = outcome_distributions(chsh_circuit(alice_angle_rad=0.0, bob_angle_rad=0.0))
    >>> dist.probabilities.round(3).tolist()  # equal outcomes: E = cos(0) = 1
    [0.5, 0.0, 0.0, 0.5]
    """
    alice = check_real(alice_angle_rad, "alice_angle_rad")
    bob = check_real(bob_angle_rad, "bob_angle_rad")
    arms = noise_per_party(noise, 2)
    circuit, register = _measured_copy(bell_state(), 2, arms, explicit_channels)
    circuit.ry(-alice, circuit.qubits[0])
    circuit.ry(-bob, circuit.qubits[1])
    circuit.measure(circuit.qubits[:2], register)
    circuit.name = f"chsh_{alice:.4f}_{bob:.4f}"
    return circuit
