"""BB84 circuits: state preparation in the Z and X bases and measurement.

Conventions (used everywhere in the package)
-------------------------------------------
* Basis ``"Z"`` (rectilinear, H/V polarisation): bit 0 is ``|0>`` (H), bit 1 is ``|1>`` (V).
* Basis ``"X"`` (diagonal, D/A polarisation): bit 0 is ``|+>`` (D), bit 1 is ``|->`` (A).
* In per-round numpy arrays a basis is stored as ``uint8``: 0 for Z and 1 for X
  (:data:`BASIS_CODES`).

References
----------
C. H. Bennett and G. Brassard, "Quantum cryptography: public key distribution and coin tossing",
Proc. IEEE ICCSSP (1984), 175-179.
"""

from __future__ import annotations

from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.circuit import Qubit

from qkdcircuits._validation import BASES, BASIS_CODES, check_basis, check_bit
from qkdcircuits.noise import NOISELESS, ArmNoise

__all__ = [
    "BASES",
    "BASIS_CODES",
    "bb84_circuit",
    "bb84_measurement",
    "bb84_state_preparation",
    "prepare_bb84_state",
]


def prepare_bb84_state(
    circuit: QuantumCircuit, qubit: Qubit | int, *, basis: str, bit: int
) -> None:
    """Append the gates that prepare BB84 state ``(basis, bit)`` on ``qubit`` from ``|0>``.

    Parameters
    ----------
    circuit : QuantumCircuit
        Circuit to append to (in place).
    qubit : qiskit.circuit.Qubit or int
        The photon's qubit, in ``|0>``.
    basis : {"Z", "X"}
        Preparation basis.
    bit : {0, 1}
        Encoded bit: ``|0>``/``|1>`` in Z, ``|+>``/``|->`` in X.

    Raises
    ------
    ValueError
        For a basis other than "Z"/"X" or a bit other than 0/1 (the message names the argument).

    Examples
    --------
    >>> qc = QuantumCircuit(1)
    >>> prepare_bb84_state(qc, 0, basis="X", bit=1)
    >>> [inst.operation.name for inst in qc.data]
    ['x', 'h']
    """
    basis = check_basis(basis)
    bit = check_bit(bit)
    if bit:
        circuit.x(qubit)
    if basis == "X":
        circuit.h(qubit)


def bb84_state_preparation(*, basis: str, bit: int, name: str = "alice") -> QuantumCircuit:
    """One-qubit circuit that prepares a BB84 state.

    Parameters
    ----------
    basis : {"Z", "X"}
        Preparation basis.
    bit : {0, 1}
        Encoded bit.
    name : str
        Name of the quantum register.

    Returns
    -------
    QuantumCircuit
        One qubit, no measurement.

    Raises
    ------
    ValueError
        For a basis other than "Z"/"X" or a bit other than 0/1 (the message names the argument).

    Examples
    --------
    >>> from qiskit.quantum_info import Statevector
    >>> Statevector(bb84_state_preparation(basis="X", bit=1)).probabilities().round(3).tolist()
    [0.5, 0.5]
    """
    qreg = QuantumRegister(1, name)
    circuit = QuantumCircuit(qreg, name=f"bb84_{basis}{bit}")
    prepare_bb84_state(circuit, qreg[0], basis=basis, bit=bit)
    return circuit


def bb84_measurement(*, basis: str, name: str = "bob") -> QuantumCircuit:
    """One-qubit circuit that measures in ``basis`` into a classical register ``bob_bit``.

    Parameters
    ----------
    basis : {"Z", "X"}
        Measurement basis (X: a Hadamard, then a Z measurement).
    name : str
        Name of the quantum register.

    Returns
    -------
    QuantumCircuit

    Raises
    ------
    ValueError
        For a basis other than "Z" or "X".

    Examples
    --------
    >>> bb84_measurement(basis="X").count_ops()["h"]
    1
    """
    basis = check_basis(basis)
    qreg = QuantumRegister(1, name)
    creg = ClassicalRegister(1, "bob_bit")
    circuit = QuantumCircuit(qreg, creg, name=f"measure_{basis}")
    if basis == "X":
        circuit.h(qreg[0])
    circuit.measure(qreg[0], creg[0])
    return circuit


def bb84_circuit(
    *,
    alice_basis: str,
    alice_bit: int,
    bob_basis: str,
    channel: ArmNoise = NOISELESS,
    explicit_channels: bool = True,
) -> QuantumCircuit:
    """Prepare-and-measure BB84 for one setting: Alice prepares, the channel acts, Bob measures.

    Parameters
    ----------
    alice_basis, bob_basis : {"Z", "X"}
        Preparation and measurement bases.
    alice_bit : {0, 1}
        Alice's bit.
    channel : ArmNoise
        Misalignment and depolarisation between Alice and Bob.
    explicit_channels : bool
        Insert the depolarising channel as an Aer instruction (Aer only). The round engine passes
        ``False`` and applies the channel exactly by mixing outcome distributions.

    Returns
    -------
    QuantumCircuit
        One qubit ``photon`` and one classical bit in the register ``bob_bit``.

    Raises
    ------
    TypeError
        If ``channel`` is not an :class:`~qkdcircuits.noise.ArmNoise`.
    ValueError
        For an invalid basis or bit (the message names the argument).

    Examples
    --------
    >>> qc = bb84_circuit(alice_basis="Z", alice_bit=1, bob_basis="Z")
    >>> [creg.name for creg in qc.cregs]
    ['bob_bit']
    """
    alice_basis = check_basis(alice_basis, "alice_basis")
    alice_bit = check_bit(alice_bit, "alice_bit")
    bob_basis = check_basis(bob_basis, "bob_basis")
    if not isinstance(channel, ArmNoise):
        raise TypeError(f"channel={channel!r} must be an ArmNoise")
    photon = QuantumRegister(1, "photon")
    creg = ClassicalRegister(1, "bob_bit")
    circuit = QuantumCircuit(photon, creg, name=f"bb84_{alice_basis}{alice_bit}_{bob_basis}")
    prepare_bb84_state(circuit, photon[0], basis=alice_basis, bit=alice_bit)
    channel.apply(circuit, photon[0], explicit_channels=explicit_channels)
    if bob_basis == "X":
        circuit.h(photon[0])
    circuit.measure(photon[0], creg[0])
    return circuit
