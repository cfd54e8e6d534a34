"""Protocol circuits: builder functions returning Qiskit ``QuantumCircuit`` objects.

Every builder names its classical registers after their meaning (``bsm``, ``bob_bit``, ``bits``)
so that sampler results read as ``pub.data.bsm``. Circuits are unitary (noise channels are
optional explicit Aer instructions for drawing); the engine applies depolarisation exactly to
their outcome distributions, so the same circuits run on Aer, a noise model, a fake backend or
hardware.

Modules: :mod:`.bb84` (BB84 states and measurements), :mod:`.mdi` (Bell-state measurement at an
untrusted relay, announcement rule), :mod:`.ghz` (GHZ states and HBB99 settings),
:mod:`.five_qubit` (the [[5,1,3]] code for ((3,5)) sharing), :mod:`.measurement` (Pauli and
CHSH settings for verification), :mod:`.attacks` (intercept-resend, dishonest relay, corrupted
source).
"""

from qkdcircuits.circuits.attacks import (
    corrupted_ghz_state,
    dishonest_relay_circuit,
    intercept_resend_circuit,
)
from qkdcircuits.circuits.bb84 import (
    BASES,
    BASIS_CODES,
    bb84_circuit,
    bb84_measurement,
    bb84_state_preparation,
    prepare_bb84_state,
)
from qkdcircuits.circuits.five_qubit import (
    FIVE_QUBIT_LOGICAL_X,
    FIVE_QUBIT_LOGICAL_Z,
    FIVE_QUBIT_STABILIZERS,
    all_triples,
    five_qubit_encoder,
    logical_operators_on,
    share_reconstruction_circuit,
)
from qkdcircuits.circuits.ghz import (
    PARTY_BASES,
    ghz_state,
    hbb_circuit,
)
from qkdcircuits.circuits.mdi import (
    BSM_VARIANTS,
    BellOutcome,
    bob_flip,
    heralded_outcomes,
    mdi_bsm_circuit,
)
from qkdcircuits.circuits.measurement import (
    CHSH_ANGLES,
    bell_state,
    chsh_circuit,
    pauli_measurement_circuit,
)

__all__ = [
    "BASES",
    "BASIS_CODES",
    "BSM_VARIANTS",
    "CHSH_ANGLES",
    "FIVE_QUBIT_LOGICAL_X",
    "FIVE_QUBIT_LOGICAL_Z",
    "FIVE_QUBIT_STABILIZERS",
    "PARTY_BASES",
    "BellOutcome",
    "all_triples",
    "bb84_circuit",
    "bb84_measurement",
    "bb84_state_preparation",
    "bell_state",
    "bob_flip",
    "chsh_circuit",
    "corrupted_ghz_state",
    "dishonest_relay_circuit",
    "five_qubit_encoder",
    "ghz_state",
    "hbb_circuit",
    "heralded_outcomes",
    "intercept_resend_circuit",
    "logical_operators_on",
    "mdi_bsm_circuit",
    "pauli_measurement_circuit",
    "prepare_bb84_state",
    "share_reconstruction_circuit",
]
