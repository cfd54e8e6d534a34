"""Circuits of the attacks: intercept-resend, a dishonest MDI relay, a corrupted GHZ source.

Each attack is a circuit that runs once per setting, like the honest protocol; the engine
(:mod:`qkdcircuits.engine.attacks`) mixes the attacked fraction of rounds in by sampling a
per-round flag, and :mod:`qkdcircuits.analysis.attacks` gives the closed-form QBERs that the
simulations are tested against. Eve's measurements are deferred measurements: she copies the
photon's value in her basis onto an ancilla with a CNOT (a measure-and-resend that leaves the
photon dephased in her basis), and the ancilla read at the end is her record.
"""

from __future__ import annotations

from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

from qkdcircuits._validation import check_basis, check_bit, check_choice
from qkdcircuits.analysis.attacks import RELAY_STRATEGIES, SOURCE_CORRUPTIONS
from qkdcircuits.analysis.sharing import check_parties
from qkdcircuits.circuits.bb84 import prepare_bb84_state
from qkdcircuits.circuits.ghz import ghz_state
from qkdcircuits.circuits.mdi import check_variant
from qkdcircuits.noise import NOISELESS, ArmNoise

__all__ = ["corrupted_ghz_state", "dishonest_relay_circuit", "intercept_resend_circuit"]


def intercept_resend_circuit(
    *,
    alice_basis: str,
    alice_bit: int,
    eve_basis: str,
    bob_basis: str,
    channel: ArmNoise = NOISELESS,
    explicit_channels: bool = True,
) -> QuantumCircuit:
    """BB84 setting with Eve's measure-and-resend, as a deferred measurement.

    Alice prepares; Eve rotates into her basis, copies the photon's value onto her ancilla with
    a CNOT and rotates back (the photon leaves dephased in her basis, as if measured and
    resent); the channel acts; Bob measures.

    Parameters
    ----------
    alice_basis, eve_basis, bob_basis : {"Z", "X"}
        Preparation, interception and measurement bases.
    alice_bit : {0, 1}
        Alice's bit.
    channel : ArmNoise
        The channel between Eve and Bob.
    explicit_channels : bool
        Insert the depolarising channel as an Aer instruction (Aer only).

    Returns
    -------
    QuantumCircuit
        Qubits ``photon`` and ``eve``; registers ``bob_bit`` (bit 0 of the outcome) and
        ``eve_bit`` (bit 1).

    Raises
    ------
    TypeError
        If ``channel`` is not an :class:`~qkdcircuits.noise.ArmNoise`.
    ValueError
        For an invalid basis or bit (the message names the argument).

    Examples
    --------
    >>> from qkdcircuits.execution import outcome_distributions
    >>> qc = intercept_resend_circuit(alice_basis="Z", alice_bit=0, eve_basis="X", bob_basis="Z")
    >>> outcome_distributions(qc)[0].marginal("bob_bit").round(3).tolist()
    [0.5, 0.5]
    """
    alice_basis = check_basis(alice_basis, "alice_basis")
    eve_basis = check_basis(eve_basis, "eve_basis")
    bob_basis = check_basis(bob_basis, "bob_basis")
    alice_bit = check_bit(alice_bit, "alice_bit")
    if not isinstance(channel, ArmNoise):
        raise TypeError(f"channel={channel!r} must be an ArmNoise")
    photon = QuantumRegister(1, "photon")
    eve = QuantumRegister(1, "eve")
    bob_reg = ClassicalRegister(1, "bob_bit")
    eve_reg = ClassicalRegister(1, "eve_bit")
    circuit = QuantumCircuit(
        photon,
        eve,
        bob_reg,
        eve_reg,
        name=f"intercept_{alice_basis}{alice_bit}_{eve_basis}_{bob_basis}",
    )
    prepare_bb84_state(circuit, photon[0], basis=alice_basis, bit=alice_bit)
    circuit.barrier(label="eve")
    if eve_basis == "X":
        circuit.h(photon[0])
    circuit.cx(photon[0], eve[0])
    if eve_basis == "X":
        circuit.h(photon[0])
    circuit.barrier(label="resend")
    channel.apply(circuit, photon[0], explicit_channels=explicit_channels)
    if bob_basis == "X":
        circuit.h(photon[0])
    circuit.measure(photon[0], bob_reg[0])
    circuit.measure(eve[0], eve_reg[0])
    return circuit


def dishonest_relay_circuit(
    *,
    alice_basis: str,
    alice_bit: int,
    bob_basis: str,
    bob_bit: int,
    strategy: str = "z-measure",
    variant: str = "gate",
    alice_channel: ArmNoise = NOISELESS,
    bob_channel: ArmNoise = NOISELESS,
    explicit_channels: bool = True,
) -> QuantumCircuit:
    """MDI-QKD setting in which the relay announces a false Bell outcome.

    Parameters
    ----------
    strategy : {"z-measure", "random"}
        ``"z-measure"``: Charlie copies both photons' Z values onto his two ancillas (a deferred
        Z measurement) and then runs the ``variant`` BSM on the dephased photons;
        ``"random"``: he announces the outcome of two fair coins (his ancillas in ``|+>``).

    Other Parameters
    ----------------
        As in :func:`qkdcircuits.circuits.mdi.mdi_bsm_circuit`.

    Returns
    -------
    QuantumCircuit
        Qubits ``alice``, ``bob``, ``relay`` (2); registers ``bsm`` (the announcement, bits 0-1)
        and ``relay`` (Charlie's Z readings of Alice's and Bob's photons, bits 2-3; zeros for
        ``"random"``).

    Raises
    ------
    TypeError
        If a channel is not an :class:`~qkdcircuits.noise.ArmNoise`.
    ValueError
        For an invalid strategy, variant, basis or bit (the message names the argument).

    Examples
    --------
    >>> qc = dishonest_relay_circuit(alice_basis="X", alice_bit=0, bob_basis="X", bob_bit=0)
    >>> [creg.name for creg in qc.cregs]
    ['bsm', 'relay']
    """
    strategy = check_choice(strategy, "strategy", RELAY_STRATEGIES)
    variant = check_variant(variant)
    alice_basis = check_basis(alice_basis, "alice_basis")
    bob_basis = check_basis(bob_basis, "bob_basis")
    alice_bit = check_bit(alice_bit, "alice_bit")
    bob_bit = check_bit(bob_bit, "bob_bit")
    for name, channel in (("alice_channel", alice_channel), ("bob_channel", bob_channel)):
        if not isinstance(channel, ArmNoise):
            raise TypeError(f"{name}={channel!r} must be an ArmNoise")
    alice = QuantumRegister(1, "alice")
    bob = QuantumRegister(1, "bob")
    relay = QuantumRegister(2, "relay")
    bsm = ClassicalRegister(2, "bsm")
    record = ClassicalRegister(2, "relay")
    circuit = QuantumCircuit(
        alice,
        bob,
        relay,
        bsm,
        record,
        name=f"relay_{strategy}_{alice_basis}{alice_bit}_{bob_basis}{bob_bit}_{variant}",
    )
    prepare_bb84_state(circuit, alice[0], basis=alice_basis, bit=alice_bit)
    prepare_bb84_state(circuit, bob[0], basis=bob_basis, bit=bob_bit)
    alice_channel.apply(circuit, alice[0], explicit_channels=explicit_channels)
    bob_channel.apply(circuit, bob[0], explicit_channels=explicit_channels)
    circuit.barrier(label="relay")
    if strategy == "z-measure":
        circuit.cx(alice[0], relay[0])
        circuit.cx(bob[0], relay[1])
        circuit.cx(alice[0], bob[0])
        if variant == "gate":
            circuit.h(alice[0])
        else:
            circuit.ch(bob[0], alice[0])
        circuit.measure(alice[0], bsm[0])
        circuit.measure(bob[0], bsm[1])
        circuit.measure(relay[0], record[0])
        circuit.measure(relay[1], record[1])
    else:
        circuit.h(relay)
        circuit.measure(relay[0], bsm[0])
        circuit.measure(relay[1], bsm[1])
    return circuit


def corrupted_ghz_state(n_qubits: int, *, strategy: str) -> QuantumCircuit:
    """Build a GHZ source gone bad (see the module docstring).

    ``"eve-ancilla"`` returns ``n_qubits + 1`` qubits, the last one Eve's (never measured by the
    parties); ``"phase-flip"`` returns ``n_qubits`` qubits in ``(|0..0> - |1..1>)/sqrt(2)``.

    Parameters
    ----------
    n_qubits : int
        Number of parties (2..12).
    strategy : {"eve-ancilla", "phase-flip"}
        How the source is corrupted.

    Returns
    -------
    QuantumCircuit
        The state preparation, no measurements.

    Raises
    ------
    TypeError, ValueError
        For an unknown strategy or a number of parties outside 2..12.

    Examples
    --------
    >>> corrupted_ghz_state(3, strategy="eve-ancilla").num_qubits
    4
    """
    strategy = check_choice(strategy, "strategy", SOURCE_CORRUPTIONS)
    n_qubits = check_parties(n_qubits, "n_qubits")
    if strategy == "eve-ancilla":
        circuit = ghz_state(n_qubits + 1)
    else:
        circuit = ghz_state(n_qubits)
        circuit.z(0)
    circuit.name = f"ghz_{n_qubits}_{strategy}"
    return circuit
