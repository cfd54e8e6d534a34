"""BB84 and MDI-QKD circuit builders: registers, states, Bell-state measurement."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from qkdcircuits import (
    ArmNoise,
    BellOutcome,
    bb84_circuit,
    bb84_measurement,
    bb84_state_preparation,
    bob_flip,
    heralded_outcomes,
    mdi_bsm_circuit,
)

SETTINGS = list(itertools.product("ZX", (0, 1), "ZX", (0, 1)))


def _bsm_probabilities(**kwargs) -> np.ndarray:
    circuit = mdi_bsm_circuit(**kwargs)
    probs = Statevector(circuit.remove_final_measurements(inplace=False)).probabilities()
    # bsm[0] is read from qubit 0 (alice) and bsm[1] from qubit 1 (bob): same little-endian order.
    return probs


@pytest.mark.parametrize(
    ("basis", "bit", "vector"),
    [
        ("Z", 0, [1, 0]),
        ("Z", 1, [0, 1]),
        ("X", 0, [2**-0.5, 2**-0.5]),
        ("X", 1, [2**-0.5, -(2**-0.5)]),
    ],
)
def test_bb84_states(basis, bit, vector):
    state = Statevector(bb84_state_preparation(basis=basis, bit=bit))
    assert state.equiv(Statevector(vector))


@pytest.mark.parametrize(
    ("a_basis", "a_bit", "b_basis"), list(itertools.product("ZX", (0, 1), "ZX"))
)
def test_bb84_measurement_statistics(a_basis, a_bit, b_basis):
    circuit = bb84_circuit(alice_basis=a_basis, alice_bit=a_bit, bob_basis=b_basis)
    assert [c.name for c in circuit.cregs] == ["bob_bit"]
    probs = Statevector(circuit.remove_final_measurements(inplace=False)).probabilities()
    expected = np.eye(2)[a_bit] if a_basis == b_basis else np.array([0.5, 0.5])
    np.testing.assert_allclose(probs, expected, atol=1e-12)


def test_bb84_measurement_circuit_has_named_register():
    circuit = bb84_measurement(basis="X")
    assert [c.name for c in circuit.cregs] == ["bob_bit"]
    assert circuit.count_ops()["h"] == 1


def test_gate_bsm_resolves_each_bell_state():
    """Feed the relay with each Bell state and check the announced code."""
    from qiskit import QuantumCircuit

    bell_preparations = {
        BellOutcome.PHI_PLUS: lambda qc: None,
        BellOutcome.PHI_MINUS: lambda qc: qc.z(0),
        BellOutcome.PSI_PLUS: lambda qc: qc.x(1),
        BellOutcome.PSI_MINUS: lambda qc: (qc.x(1), qc.z(0)),
    }
    for outcome, decorate in bell_preparations.items():
        qc = QuantumCircuit(2)
        qc.h(0)
        qc.cx(0, 1)
        decorate(qc)
        relay = mdi_bsm_circuit(alice_basis="Z", alice_bit=0, bob_basis="Z", bob_bit=0)
        # keep only the relay part (after the barrier), without measurements
        names = [inst.operation.name for inst in relay.data]
        relay_part = relay.copy_empty_like()
        for inst in relay.data[names.index("barrier") + 1 :]:
            if inst.operation.name != "measure":
                relay_part.append(inst)
        qc.compose(relay_part.remove_final_measurements(inplace=False), inplace=True)
        probs = Statevector(qc).probabilities()
        assert probs[int(outcome)] == pytest.approx(1.0, abs=1e-12), outcome


@pytest.mark.parametrize("variant", ["gate", "linear-optics"])
@pytest.mark.parametrize(("ab", "ax", "bb", "bx"), SETTINGS)
def test_announcement_rule_gives_zero_qber_without_noise(variant, ab, ax, bb, bx):
    probs = _bsm_probabilities(
        alice_basis=ab, alice_bit=ax, bob_basis=bb, bob_bit=bx, variant=variant
    )
    herald = heralded_outcomes(variant)
    heralded_prob = probs[herald].sum()
    if variant == "gate":
        expected = 1.0
    elif ab == bb == "Z":
        # Identical polarisations bunch into one detector (Hong-Ou-Mandel): never heralded;
        # orthogonal ones always give a psi coincidence.
        expected = float(ax != bx)
    else:
        expected = 0.5
    assert heralded_prob == pytest.approx(expected, abs=1e-12)
    if ab == bb:
        basis_code = 0 if ab == "Z" else 1
        for outcome in np.flatnonzero(probs > 1e-12):
            if herald[outcome]:
                assert bx ^ bob_flip(basis_code, int(outcome)) == ax


def test_flip_table_matches_documentation():
    z = [bob_flip(0, int(o)) for o in BellOutcome]
    x = [bob_flip(1, int(o)) for o in BellOutcome]
    assert z == [0, 0, 1, 1]  # Z: flip on psi+/psi-
    assert x == [0, 1, 0, 1]  # X: flip on phi-/psi-


def test_mdi_circuit_layout():
    circuit = mdi_bsm_circuit(
        alice_basis="X",
        alice_bit=1,
        bob_basis="Z",
        bob_bit=0,
        variant="linear-optics",
        alice_channel=ArmNoise(depolarizing_prob=0.1, misalignment_rad=0.1),
    )
    assert [r.name for r in circuit.qregs] == ["alice", "bob"]
    assert [c.name for c in circuit.cregs] == ["bsm"]
    labels = {inst.operation.label for inst in circuit.data}
    assert {"misalignment", "depolarizing"} <= labels
    assert "ch" in circuit.count_ops()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"alice_basis": "Y"}, "alice_basis"),
        ({"bob_basis": "z"}, "bob_basis"),
        ({"alice_bit": 2}, "alice_bit"),
        ({"bob_bit": -1}, "bob_bit"),
        ({"variant": "optical"}, "variant"),
    ],
)
def test_bad_settings_are_rejected(kwargs, name):
    base = {"alice_basis": "Z", "alice_bit": 0, "bob_basis": "Z", "bob_bit": 0}
    with pytest.raises(ValueError, match=name):
        mdi_bsm_circuit(**{**base, **kwargs})


def test_channel_must_be_arm_noise():
    with pytest.raises(TypeError, match="alice_channel"):
        mdi_bsm_circuit(alice_basis="Z", alice_bit=0, bob_basis="Z", bob_bit=0, alice_channel=0.1)
