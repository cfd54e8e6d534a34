"""((3,5)) threshold quantum secret sharing with the five-qubit code."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit import QuantumCircuit
from qiskit.quantum_info import (
    Clifford,
    DensityMatrix,
    Pauli,
    Statevector,
    partial_trace,
    random_unitary,
    state_fidelity,
)

from qkdcircuits import (
    ThresholdScheme,
    five_qubit_encoder,
    logical_operators_on,
    share_reconstruction_circuit,
)
from qkdcircuits.circuits.five_qubit import (
    FIVE_QUBIT_LOGICAL_X,
    FIVE_QUBIT_LOGICAL_Z,
    FIVE_QUBIT_STABILIZERS,
    all_triples,
)

TRIPLES = list(itertools.combinations(range(5), 3))
PAIRS = list(itertools.combinations(range(5), 2))


def _pauli(share_order: str) -> Pauli:
    sign = ""
    if share_order[0] in "+-":
        sign, share_order = share_order[0], share_order[1:]
    return Pauli(sign + share_order[::-1])


def _random_secret(seed: int) -> QuantumCircuit:
    circuit = QuantumCircuit(1)
    circuit.unitary(random_unitary(2, seed=seed), [0])
    return circuit


def _expectation(state: Statevector, pauli: str) -> float:
    return float(np.real(state.expectation_value(_pauli(pauli))))


def test_encoder_output_is_stabilised_by_the_generators():
    state = Statevector(five_qubit_encoder())
    for generator in FIVE_QUBIT_STABILIZERS:
        assert _expectation(state, generator) == pytest.approx(1.0, abs=1e-12)
    # Secret |0> -> logical |0>: Z_L = +1.
    assert _expectation(state, FIVE_QUBIT_LOGICAL_Z) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(
    ("prep", "logical", "value"),
    [("x", FIVE_QUBIT_LOGICAL_Z, -1.0), ("h", FIVE_QUBIT_LOGICAL_X, 1.0)],
)
def test_encoder_maps_logical_operators(prep, logical, value):
    secret = QuantumCircuit(1)
    getattr(secret, prep)(0)
    state = Statevector(five_qubit_encoder(secret))
    assert _expectation(state, logical) == pytest.approx(value, abs=1e-12)


def test_encoder_and_decoders_are_cliffords():
    Clifford(five_qubit_encoder())  # raises for a non-Clifford circuit
    for triple in TRIPLES:
        circuit = share_reconstruction_circuit(triple)
        assert circuit.num_qubits == 3
        Clifford(circuit)


def test_generators_commute_and_logicals_anticommute():
    generators = [_pauli(g) for g in FIVE_QUBIT_STABILIZERS]
    for a, b in itertools.combinations(generators, 2):
        assert a.commutes(b)
    x_l, z_l = _pauli(FIVE_QUBIT_LOGICAL_X), _pauli(FIVE_QUBIT_LOGICAL_Z)
    assert all(x_l.commutes(g) and z_l.commutes(g) for g in generators)
    assert x_l.anticommutes(z_l)


@pytest.mark.parametrize("triple", TRIPLES)
def test_logical_representatives_live_on_the_triple(triple):
    x_bar, z_bar = logical_operators_on(triple)
    for rep in (x_bar, z_bar):
        assert all(rep[1 + q] == "I" for q in range(5) if q not in triple)
    # Same action on the code space as X_L and Z_L: equal expectation on encoded states.
    for seed in (1, 2):
        state = Statevector(five_qubit_encoder(_random_secret(seed)))
        assert _expectation(state, x_bar) == pytest.approx(
            _expectation(state, FIVE_QUBIT_LOGICAL_X), abs=1e-12
        )
        assert _expectation(state, z_bar) == pytest.approx(
            _expectation(state, FIVE_QUBIT_LOGICAL_Z), abs=1e-12
        )


@pytest.mark.parametrize("triple", TRIPLES)
def test_every_triple_recovers_random_secrets_with_fidelity_one(triple):
    decoder = share_reconstruction_circuit(triple)
    assert decoder.metadata == {"shares": list(triple), "secret_on": triple[0]}
    for seed in range(4):
        secret = _random_secret(100 * sum(triple) + seed)
        full = five_qubit_encoder(secret)
        full.compose(decoder, qubits=list(triple), inplace=True)
        recovered = partial_trace(DensityMatrix(full), [q for q in range(5) if q != triple[0]])
        assert state_fidelity(recovered, Statevector(secret)) == pytest.approx(1.0, abs=1e-9)


@given(seed=st.integers(0, 2**31 - 1), triple=st.sampled_from(TRIPLES))
@settings(max_examples=25, deadline=None)
def test_reconstruction_property(seed, triple):
    secret = _random_secret(seed)
    full = five_qubit_encoder(secret)
    full.compose(share_reconstruction_circuit(triple), qubits=list(triple), inplace=True)
    recovered = partial_trace(Statevector(full), [q for q in range(5) if q != triple[0]])
    assert state_fidelity(recovered, Statevector(secret)) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("pair", PAIRS)
def test_every_pair_of_shares_is_maximally_mixed(pair):
    for seed in range(4):
        state = DensityMatrix(five_qubit_encoder(_random_secret(1000 + seed)))
        reduced = partial_trace(state, [q for q in range(5) if q not in pair])
        np.testing.assert_allclose(reduced.data, np.eye(4) / 4, atol=1e-12)


def test_each_single_share_is_maximally_mixed():
    state = DensityMatrix(five_qubit_encoder(_random_secret(7)))
    for share in range(5):
        reduced = partial_trace(state, [q for q in range(5) if q != share])
        np.testing.assert_allclose(reduced.data, np.eye(2) / 2, atol=1e-12)


def test_all_triples_lists_the_ten_triples():
    assert all_triples() == TRIPLES and len(TRIPLES) == 10


@pytest.mark.parametrize(
    ("shares", "error"),
    [
        ((0, 1), ValueError),
        ((0, 1, 2, 3), ValueError),
        ((0, 0, 1), ValueError),
        ((0, 1, 5), ValueError),
        ((0, 1, 1.5), TypeError),
    ],
)
def test_reconstruction_rejects_bad_share_sets(shares, error):
    with pytest.raises(error, match="shares"):
        share_reconstruction_circuit(shares)


def test_two_shares_have_no_logical_operator():
    with pytest.raises(ValueError, match="at least 3"):
        logical_operators_on((0, 1))


# ----------------------------------------------------------------------------------------------
# The classical (k, n) interface
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "n"), [(3, 6), (2, 4), (1, 2)])
def test_cleve_gottesman_lo_condition(k, n):
    with pytest.raises(ValueError, match="no-cloning"):
        ThresholdScheme(k=k, n=n)


@pytest.mark.parametrize(
    ("k", "n", "error"), [(0, 1, ValueError), (4, 3, ValueError), (2.0, 3, TypeError)]
)
def test_scheme_rejects_bad_parameters(k, n, error):
    with pytest.raises(error):
        ThresholdScheme(k=k, n=n)


def test_can_reconstruct_over_every_subset_of_five():
    scheme = ThresholdScheme(k=3, n=5)
    for size in range(6):
        for subset in itertools.combinations(range(5), size):
            assert scheme.can_reconstruct(subset) is (size >= 3)
            assert scheme.learns_nothing(subset) is (size < 3)


@given(nodes=st.lists(st.sampled_from("abcde"), max_size=8))
def test_can_reconstruct_counts_distinct_holders(nodes):
    scheme = ThresholdScheme(k=3, n=5, holders=tuple("abcde"))
    assert scheme.can_reconstruct(nodes) is (len(set(nodes)) >= 3)


def test_holders_map_nodes_to_shares_and_circuits():
    scheme = ThresholdScheme(k=3, n=5, holders=("n1", "n2", "n3", "n4", "n5"))
    assert scheme.share_indices(["n5", "n2", "n2"]) == (1, 4)
    circuit = scheme.reconstruction_circuit(["n5", "n1", "n3", "n4"])
    assert circuit.metadata["shares"] == [0, 2, 3]
    with pytest.raises(ValueError, match="holds no share"):
        scheme.can_reconstruct(["n1", "x"])
    with pytest.raises(ValueError, match="cannot reconstruct"):
        scheme.reconstruction_circuit(["n1", "n2"])
    with pytest.raises(ValueError, match="distinct"):
        ThresholdScheme(k=3, n=5, holders=("a", "a", "b", "c", "d"))


def test_three_of_four_shares_reconstruct_when_the_dealer_keeps_one():
    scheme = ThresholdScheme(k=3, n=4)
    assert scheme.has_circuits
    secret = _random_secret(9)
    for triple in itertools.combinations(range(4), 3):
        full = scheme.encoding_circuit(secret)
        full.compose(scheme.reconstruction_circuit(triple), qubits=list(triple), inplace=True)
        recovered = partial_trace(Statevector(full), [q for q in range(5) if q != triple[0]])
        assert state_fidelity(recovered, Statevector(secret)) == pytest.approx(1.0, abs=1e-9)
    with pytest.raises(ValueError, match="share index"):
        scheme.can_reconstruct([4])


def test_trivial_scheme_and_schemes_without_qubit_circuits():
    trivial = ThresholdScheme(k=1, n=1)
    assert trivial.reconstruction_circuit([0]).num_qubits == 1
    big = ThresholdScheme(k=4, n=7)
    assert big.can_reconstruct(range(4)) and not big.has_circuits
    with pytest.raises(NotImplementedError, match="qudit"):
        big.reconstruction_circuit(range(4))
