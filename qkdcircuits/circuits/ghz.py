"""GHZ states and the HBB99 measurement circuits.

:func:`ghz_state` prepares ``(|0...0> + |1...1>)/sqrt(2)`` with a chain of CNOTs (nearest-neighbour
couplings only); :func:`hbb_circuit` adds each party's channel noise and rotates its qubit so that
a Z measurement reads the X or Y basis of the Hillery-Buzek-Berthiaume protocol (bit 0 = the +1
eigenvector). The registers are ``party`` (qubits) and ``bits`` (bit ``i`` is party ``i``'s
outcome). Setting index ``s`` has bit ``i`` set when party ``i`` measures Y (:func:`setting_bases`).

References
----------
M. Hillery, V. Buzek, A. Berthiaume, "Quantum secret sharing", PRA 59, 1829 (1999).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

from qkdcircuits._validation import check_choice
from qkdcircuits.analysis.sharing import check_parties
from qkdcircuits.noise import NOISELESS, ArmNoise, noise_per_party

__all__ = ["PARTY_BASES", "ghz_state", "hbb_circuit"]


PARTY_BASES: tuple[str, str] = ("X", "Y")
"""Measurement bases of HBB99; in setting indices bit ``i`` is 1 when party ``i`` measures Y."""


def ghz_state(n_qubits: int, *, register: str = "party") -> QuantumCircuit:
    """Circuit preparing ``(|0...0> + |1...1>)/sqrt(2)`` with H and a chain of CNOTs.

    A chain (``0 -> 1 -> 2 ...``) rather than a star needs only nearest-neighbour couplings on a
    device.

    Parameters
    ----------
    n_qubits : int
        Number of qubits (2..12).
    register : str
        Name of the quantum register.

    Returns
    -------
    QuantumCircuit
        No measurements.

    Raises
    ------
    TypeError, ValueError
        If ``n_qubits`` is not an integer in 2..12.

    Examples
    --------
    >>> from qiskit.quantum_info import Statevector
    >>> Statevector(ghz_state(3)).probabilities().round(6).tolist()
    [0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5]
    """
    n_qubits = check_parties(n_qubits, "n_qubits")
    qreg = QuantumRegister(n_qubits, register)
    circuit = QuantumCircuit(qreg, name=f"ghz_{n_qubits}")
    circuit.h(qreg[0])
    for i in range(n_qubits - 1):
        circuit.cx(qreg[i], qreg[i + 1])
    return circuit


def _apply_basis(circuit: QuantumCircuit, qubit: Any, basis: str) -> None:
    """Rotate so that a Z measurement reads ``basis`` (bit 0 = +1 eigenvector)."""
    if basis == "X":
        circuit.h(qubit)
    elif basis == "Y":
        # S^dag maps |+i> to |+>, then H maps |+> to |0>.
        circuit.sdg(qubit)
        circuit.h(qubit)


def _check_bases(bases: str | Sequence[str]) -> str:
    if not isinstance(bases, str):
        bases = "".join(bases)
    for index, basis in enumerate(bases):
        check_choice(basis, f"bases[{index}]", PARTY_BASES)
    check_parties(len(bases), "len(bases)")
    return bases


def hbb_circuit(
    *,
    bases: str | Sequence[str],
    noise: ArmNoise | Sequence[ArmNoise] = NOISELESS,
    explicit_channels: bool = True,
) -> QuantumCircuit:
    """HBB99 circuit for one basis setting: GHZ source, one arm per party, X/Y measurements.

    Parameters
    ----------
    bases : str or sequence of str
        ``"X"`` or ``"Y"`` for each party, dealer first, e.g. ``"XYY"``.
    noise : ArmNoise or sequence of ArmNoise
        Channel from the source to each party (one for all, or one per party).
    explicit_channels : bool
        Insert depolarising channels as Aer instructions (Aer only). The engine passes
        ``False`` and applies them exactly to the distributions.

    Returns
    -------
    QuantumCircuit
        Qubits ``party``; classical register ``bits`` (bit ``i`` = party ``i``).

    Raises
    ------
    TypeError, ValueError
        For a basis other than X or Y, a number of parties outside 2..12, or noise of the wrong
        kind or length.

    Examples
    --------
    >>> qc = hbb_circuit(bases="XYY")
    >>> [creg.name for creg in qc.cregs], qc.num_qubits
    (['bits'], 3)
    """
    bases = _check_bases(bases)
    n = len(bases)
    arms = noise_per_party(noise, n)
    circuit = ghz_state(n)
    circuit.name = f"hbb_{bases}"
    bits = ClassicalRegister(n, "bits")
    circuit.add_register(bits)
    qreg = circuit.qregs[0]
    circuit.barrier(label="source")
    for qubit, arm in zip(qreg, arms, strict=True):
        arm.apply(circuit, qubit, explicit_channels=explicit_channels)
    for qubit, basis in zip(qreg, bases, strict=True):
        _apply_basis(circuit, qubit, basis)
    circuit.measure(qreg, bits)
    return circuit


def setting_bases(setting: int, n_parties: int) -> str:
    """Return the bases of setting ``setting``: party ``i`` measures Y when bit ``i`` is set.

    Examples
    --------
    >>> setting_bases(0b110, 3)
    'XYY'
    """
    return "".join(PARTY_BASES[(setting >> i) & 1] for i in range(n_parties))
