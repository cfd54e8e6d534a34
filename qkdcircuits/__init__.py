"""Quantum layer of abft-qkd: QKD circuits, channel noise, the round engine and analysis.

Circuits are builder functions returning Qiskit ``QuantumCircuit`` objects with named registers.
:func:`simulate_mdi` and :func:`simulate_bb84` run each distinct setting circuit once (exactly on
Aer by default, or on any ``BackendV2``/``SamplerV2``) and sample protocol rounds with numpy.

Examples
--------
>>> from qkdcircuits import ArmNoise, simulate_mdi
>>> result = simulate_mdi(rounds=10_000, noise=ArmNoise(depolarizing_prob=0.02), seed=1)
>>> result.rounds
10000
"""

from qkdcircuits import postprocessing
from qkdcircuits.adversary import (
    AttackRounds,
    corrupted_ghz_state,
    corrupted_source_qber,
    dishonest_relay_circuit,
    dishonest_relay_qber,
    intercept_resend_circuit,
    intercept_resend_qber,
    simulate_corrupted_source,
    simulate_dishonest_relay,
    simulate_intercept_resend,
    verify_corrupted_source,
)
from qkdcircuits.bb84 import (
    BASES,
    BASIS_CODES,
    bb84_circuit,
    bb84_measurement,
    bb84_state_preparation,
    prepare_bb84_state,
)
from qkdcircuits.engine import (
    BB84Rounds,
    MDIRounds,
    bb84_outcome_table,
    mdi_outcome_table,
    simulate_bb84,
    simulate_mdi,
)
from qkdcircuits.execution import (
    DEFAULT_SHOTS,
    OutcomeDistribution,
    describe_target,
    outcome_distributions,
    runtime_sampler,
)
from qkdcircuits.ghz_sharing import (
    HBBRounds,
    coalition_information,
    ghz_state,
    hbb_circuit,
    hbb_depolarized_qber,
    hbb_outcome_table,
    hbb_qber_from_table,
    simulate_hbb,
)
from qkdcircuits.mdi import BSM_VARIANTS, BellOutcome, bob_flip, heralded_outcomes, mdi_bsm_circuit
from qkdcircuits.noise import NOISELESS, ArmNoise, arm_error_probability, combined_flip_probability
from qkdcircuits.postprocessing import (
    DistillConfig,
    DistillResult,
    KeyPool,
    distill_key,
    distill_rounds,
)
from qkdcircuits.sifting import QBEREstimate, binomial_interval, estimate_qber, sift_mask
from qkdcircuits.threshold_sharing import (
    ThresholdScheme,
    five_qubit_encoder,
    logical_operators_on,
    share_reconstruction_circuit,
)
from qkdcircuits.verification import (
    VerificationResult,
    chsh_from_counts,
    fidelity_bound_from_counts,
    pauli_measurement_circuit,
    verify_bell_pair,
    verify_chsh,
    verify_encoded_state,
    verify_ghz,
)

__version__ = "0.1.0"

__all__ = [
    "BASES",
    "BASIS_CODES",
    "BSM_VARIANTS",
    "DEFAULT_SHOTS",
    "NOISELESS",
    "ArmNoise",
    "AttackRounds",
    "BB84Rounds",
    "BellOutcome",
    "DistillConfig",
    "DistillResult",
    "HBBRounds",
    "KeyPool",
    "MDIRounds",
    "OutcomeDistribution",
    "QBEREstimate",
    "ThresholdScheme",
    "VerificationResult",
    "__version__",
    "arm_error_probability",
    "bb84_circuit",
    "bb84_measurement",
    "bb84_outcome_table",
    "bb84_state_preparation",
    "binomial_interval",
    "bob_flip",
    "chsh_from_counts",
    "coalition_information",
    "combined_flip_probability",
    "corrupted_ghz_state",
    "corrupted_source_qber",
    "describe_target",
    "dishonest_relay_circuit",
    "dishonest_relay_qber",
    "distill_key",
    "distill_rounds",
    "estimate_qber",
    "fidelity_bound_from_counts",
    "five_qubit_encoder",
    "ghz_state",
    "hbb_circuit",
    "hbb_depolarized_qber",
    "hbb_outcome_table",
    "hbb_qber_from_table",
    "heralded_outcomes",
    "intercept_resend_circuit",
    "intercept_resend_qber",
    "logical_operators_on",
    "mdi_bsm_circuit",
    "mdi_outcome_table",
    "outcome_distributions",
    "pauli_measurement_circuit",
    "postprocessing",
    "prepare_bb84_state",
    "runtime_sampler",
    "share_reconstruction_circuit",
    "sift_mask",
    "simulate_bb84",
    "simulate_corrupted_source",
    "simulate_dishonest_relay",
    "simulate_hbb",
    "simulate_intercept_resend",
    "simulate_mdi",
    "verify_bell_pair",
    "verify_chsh",
    "verify_corrupted_source",
    "verify_encoded_state",
    "verify_ghz",
]
