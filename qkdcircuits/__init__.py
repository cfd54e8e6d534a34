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

__version__ = "0.1.0"

__all__ = [
    "BASES",
    "BASIS_CODES",
    "BSM_VARIANTS",
    "DEFAULT_SHOTS",
    "NOISELESS",
    "ArmNoise",
    "BB84Rounds",
    "BellOutcome",
    "DistillConfig",
    "DistillResult",
    "KeyPool",
    "MDIRounds",
    "OutcomeDistribution",
    "QBEREstimate",
    "__version__",
    "arm_error_probability",
    "bb84_circuit",
    "bb84_measurement",
    "bb84_outcome_table",
    "bb84_state_preparation",
    "binomial_interval",
    "bob_flip",
    "combined_flip_probability",
    "describe_target",
    "distill_key",
    "distill_rounds",
    "estimate_qber",
    "heralded_outcomes",
    "mdi_bsm_circuit",
    "mdi_outcome_table",
    "outcome_distributions",
    "postprocessing",
    "prepare_bb84_state",
    "sift_mask",
    "simulate_bb84",
    "simulate_mdi",
]
