"""MDI-QKD circuits: BB84 states from Alice and Bob, Bell-state measurement at an untrusted relay.

Register layout
---------------
Each circuit has two qubits, ``alice`` and ``bob`` (the two photons at the relay), and one
classical register ``bsm`` of two bits: ``bsm[0]`` is read from Alice's qubit and ``bsm[1]``
from Bob's. The register's integer value is the :class:`BellOutcome` code.

Bell-state measurement variants
-------------------------------
``"gate"``
    ``CNOT(alice -> bob)`` then ``H(alice)``: ``bsm[1]`` is the parity (0 for phi, 1 for psi) and
    ``bsm[0]`` the phase (0 for +, 1 for -). All four Bell states are resolved.
``"linear-optics"``
    A 50:50 beam splitter followed by polarising beam splitters and four threshold detectors
    (1H, 1V, 2H, 2V). Only psi+ (clicks 1H&1V or 2H&2V) and psi- (clicks 1H&2V or 1V&2H) give
    a two-detector coincidence; phi+/phi- photons bunch into one detector, a single click, and
    the round fails. The circuit realises the same POVM: ``CNOT(alice -> bob)``, then ``H(alice)``
    controlled on the parity, so the phi subspace is read in the H/V basis and never resolved.
    The success probability for single photons is 1/2.

Announcement and post-selection (Lo, Curty, Qi, PRL 108, 130503 (2012))
----------------------------------------------------------------------
Charlie announces the Bell outcome. Alice and Bob keep rounds in which their bases agree; Bob
then flips his bit so that it matches Alice's:

===========  =====  =====  =====  =====
basis        phi+   phi-   psi+   psi-
===========  =====  =====  =====  =====
Z            keep   keep   flip   flip
X            keep   flip   keep   flip
===========  =====  =====  =====  =====

(Z: psi means anti-correlated bits; X: a minus sign means anti-correlated bits.) With the gate
variant all four rows are usable; with linear optics only the psi columns are heralded.
"""

from __future__ import annotations

import enum

import numpy as np
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

from qkdcircuits._validation import check_basis, check_bit, check_choice
from qkdcircuits.circuits.bb84 import prepare_bb84_state
from qkdcircuits.noise import NOISELESS, ArmNoise

__all__ = [
    "BSM_VARIANTS",
    "BellOutcome",
    "bob_flip",
    "heralded_outcomes",
    "mdi_bsm_circuit",
]


BSM_VARIANTS: tuple[str, str] = ("gate", "linear-optics")
"""Names of the two Bell-state measurement variants."""


class BellOutcome(enum.IntEnum):
    """Bell-state measurement outcome; the value is the integer read from the ``bsm`` register.

    Bit 0 of the value is the phase (0 for +, 1 for -) and bit 1 the parity (0 for phi, 1 for
    psi), as the gate BSM reads them.

    Examples
    --------
    >>> BellOutcome(3).name, int(BellOutcome.PSI_PLUS)
    ('PSI_MINUS', 2)
    """

    PHI_PLUS = 0
    PHI_MINUS = 1
    PSI_PLUS = 2
    PSI_MINUS = 3


def check_variant(variant: str) -> str:
    """Return ``variant`` if it names a BSM variant, else raise ``ValueError``."""
    return check_choice(variant, "variant", BSM_VARIANTS)


def heralded_outcomes(variant: str) -> np.ndarray:
    """Boolean mask over the four ``bsm`` values: which outcomes the relay announces as success.

    Parameters
    ----------
    variant : {"gate", "linear-optics"}
        The gate BSM resolves all four Bell states; linear optics only psi+ and psi-.

    Returns
    -------
    numpy.ndarray
        Shape ``(4,)``, boolean, indexed by :class:`BellOutcome` value.

    Raises
    ------
    ValueError
        For an unknown variant.

    Examples
    --------
    >>> heralded_outcomes("linear-optics").tolist()
    [False, False, True, True]
    """
    variant = check_variant(variant)
    if variant == "gate":
        return np.ones(4, dtype=bool)
    return np.array([False, False, True, True])


def bob_flip(basis_code: np.ndarray | int, outcome: np.ndarray | int) -> np.ndarray | int:
    """Whether Bob flips his bit, for basis codes (0 = Z, 1 = X) and ``bsm`` values.

    Z basis: flip on psi (parity bit ``outcome >> 1``). X basis: flip on a minus sign (phase bit
    ``outcome & 1``) (H.-K. Lo, M. Curty, B. Qi, PRL 108, 130503 (2012); the table in the module
    docstring).

    Parameters
    ----------
    basis_code : int or numpy.ndarray
        Bob's (and Alice's) basis per round, 0 = Z, 1 = X.
    outcome : int or numpy.ndarray
        The announced :class:`BellOutcome` value per round.

    Returns
    -------
    int or numpy.ndarray
        1 where Bob flips his bit (uint8 for arrays), elementwise.

    References
    ----------
    H.-K. Lo, M. Curty, B. Qi, "Measurement-device-independent quantum key
    distribution", Phys. Rev. Lett. 108, 130503 (2012).

    Examples
    --------
    >>> bob_flip(0, BellOutcome.PSI_PLUS), bob_flip(1, BellOutcome.PSI_PLUS)
    (1, 0)
    """
    basis_code = np.asarray(basis_code)
    outcome = np.asarray(outcome)
    flip = np.where(basis_code == 0, outcome >> 1, outcome & 1)
    return flip.astype(np.uint8) if flip.ndim else int(flip)


def mdi_bsm_circuit(
    *,
    alice_basis: str,
    alice_bit: int,
    bob_basis: str,
    bob_bit: int,
    variant: str = "gate",
    alice_channel: ArmNoise = NOISELESS,
    bob_channel: ArmNoise = NOISELESS,
    explicit_channels: bool = True,
) -> QuantumCircuit:
    """MDI-QKD circuit for one setting: two BB84 states, two channels, a Bell-state measurement.

    Parameters
    ----------
    alice_basis, bob_basis : {"Z", "X"}
        Preparation bases of Alice and Bob.
    alice_bit, bob_bit : {0, 1}
        Their bits.
    variant : {"gate", "linear-optics"}
        Bell-state measurement at the relay (see the module docstring).
    alice_channel, bob_channel : ArmNoise
        Misalignment and depolarisation on each arm.
    explicit_channels : bool
        Insert depolarising channels as Aer instructions (Aer only). The round engine passes
        ``False`` and applies them exactly by mixing outcome distributions.

    Returns
    -------
    QuantumCircuit
        Qubits ``alice`` and ``bob``; classical register ``bsm`` whose value is a
        :class:`BellOutcome`.

    Raises
    ------
    TypeError
        If a channel is not an :class:`~qkdcircuits.noise.ArmNoise`.
    ValueError
        For an invalid basis, bit or variant (the message names the argument).

    Examples
    --------
    >>> from qiskit.quantum_info import Statevector
    >>> qc = mdi_bsm_circuit(alice_basis="Z", alice_bit=0, bob_basis="Z", bob_bit=1)
    >>> probs = Statevector(qc.remove_final_measurements(inplace=False)).probabilities()
    >>> probs.round(3).tolist()  # psi+ or psi-, each with probability 1/2
    [0.0, 0.0, 0.5, 0.5]
    """
    alice_basis = check_basis(alice_basis, "alice_basis")
    bob_basis = check_basis(bob_basis, "bob_basis")
    alice_bit = check_bit(alice_bit, "alice_bit")
    bob_bit = check_bit(bob_bit, "bob_bit")
    variant = check_variant(variant)
    for name, channel in (("alice_channel", alice_channel), ("bob_channel", bob_channel)):
        if not isinstance(channel, ArmNoise):
            raise TypeError(f"{name}={channel!r} must be an ArmNoise")

    alice = QuantumRegister(1, "alice")
    bob = QuantumRegister(1, "bob")
    bsm = ClassicalRegister(2, "bsm")
    circuit = QuantumCircuit(
        alice, bob, bsm, name=f"mdi_{alice_basis}{alice_bit}_{bob_basis}{bob_bit}_{variant}"
    )
    prepare_bb84_state(circuit, alice[0], basis=alice_basis, bit=alice_bit)
    prepare_bb84_state(circuit, bob[0], basis=bob_basis, bit=bob_bit)
    alice_channel.apply(circuit, alice[0], explicit_channels=explicit_channels)
    bob_channel.apply(circuit, bob[0], explicit_channels=explicit_channels)
    circuit.barrier(label="relay")
    circuit.cx(alice[0], bob[0])
    if variant == "gate":
        circuit.h(alice[0])
    else:
        circuit.ch(bob[0], alice[0])
    circuit.measure(alice[0], bsm[0])
    circuit.measure(bob[0], bsm[1])
    return circuit
