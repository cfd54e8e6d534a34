"""Quantum layer of abft-qkd: QKD circuits, channel noise, the round engine and analysis.

Circuits are builder functions returning Qiskit ``QuantumCircuit`` objects with named registers.
:func:`simulate_mdi` and :func:`simulate_bb84` run each distinct setting circuit once (exactly on
Aer by default, or on any ``BackendV2``/``SamplerV2``) and sample protocol rounds with numpy.
Photon-level link physics (decoy states, key rates, Monte Carlo) produces a :class:`LinkReport`,
the value object the network layer consumes; post-processing lives in :mod:`.postprocessing`.

Names are imported lazily on first use (PEP 562), so ``from qkdcircuits import LinkReport`` does
not import Qiskit; only the circuit and execution modules do.

Examples
--------
>>> from qkdcircuits import ArmNoise, simulate_mdi
>>> result = simulate_mdi(rounds=10_000, noise=ArmNoise(depolarizing_prob=0.02), seed=1)
>>> result.rounds
10000
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> module (relative to this package) that defines it. A name equal to its module
# is that subpackage itself.
_EXPORTS_BY_MODULE: dict[str, tuple[str, ...]] = {
    "adversary": (
        "AttackRounds",
        "corrupted_ghz_state",
        "corrupted_source_qber",
        "dishonest_relay_circuit",
        "dishonest_relay_qber",
        "intercept_resend_circuit",
        "intercept_resend_qber",
        "simulate_corrupted_source",
        "simulate_dishonest_relay",
        "simulate_intercept_resend",
        "verify_corrupted_source",
    ),
    "bb84": (
        "BASES",
        "BASIS_CODES",
        "bb84_circuit",
        "bb84_measurement",
        "bb84_state_preparation",
        "prepare_bb84_state",
    ),
    "decoy": (
        "bb84_error_gain",
        "bb84_gain",
        "bb84_single_photon",
        "bb84_two_decoy_bounds",
        "bb84_vacuum_weak_bounds",
        "mdi_error_upper_bound",
        "mdi_gains",
        "mdi_single_photon",
        "mdi_three_intensity_bounds",
        "mdi_yield_lower_bound",
        "MDIGains",
        "SinglePhotonBounds",
    ),
    "engine": (
        "bb84_outcome_table",
        "BB84Rounds",
        "mdi_outcome_table",
        "MDIRounds",
        "simulate_bb84",
        "simulate_mdi",
    ),
    "execution": (
        "DEFAULT_SHOTS",
        "describe_target",
        "outcome_distributions",
        "OutcomeDistribution",
        "runtime_sampler",
    ),
    "ghz_sharing": (
        "coalition_information",
        "ghz_state",
        "hbb_circuit",
        "hbb_depolarized_qber",
        "hbb_outcome_table",
        "hbb_qber_from_table",
        "HBBRounds",
        "simulate_hbb",
    ),
    "keyrate": (
        "binary_entropy",
        "DECOY_METHODS",
        "evaluate_link",
        "gllp_key_rate",
        "key_rate",
        "key_rate_curve",
        "KeyRateCurve",
        "LinkEvaluation",
        "max_distance",
        "mdi_key_rate",
        "OptimalIntensities",
        "optimize_intensities",
        "shor_preskill_rate",
    ),
    "mdi": (
        "BellOutcome",
        "bob_flip",
        "BSM_VARIANTS",
        "heralded_outcomes",
        "mdi_bsm_circuit",
    ),
    "montecarlo": (
        "analyse_counts",
        "qubit_outcome_table",
        "sample_link_counts",
        "simulate_link",
    ),
    "noise": (
        "arm_error_probability",
        "ArmNoise",
        "combined_flip_probability",
        "NOISELESS",
    ),
    "params": (
        "BB84DecoyParams",
        "default_params",
        "Detector",
        "FiberChannel",
        "MDIParams",
        "params_from_dict",
        "PROTOCOLS",
        "WeakCoherentSource",
        "with_overrides",
    ),
    "postprocessing": (
        "distill_key",
        "distill_rounds",
        "DistillConfig",
        "DistillResult",
        "KeyPool",
        "postprocessing",
    ),
    "report": (
        "link_report",
        "LinkReport",
        "report_cache_key",
    ),
    "sifting": (
        "binomial_interval",
        "estimate_qber",
        "QBEREstimate",
        "sift_mask",
    ),
    "threshold_sharing": (
        "five_qubit_encoder",
        "logical_operators_on",
        "share_reconstruction_circuit",
        "ThresholdScheme",
    ),
    "verification": (
        "chsh_from_counts",
        "fidelity_bound_from_counts",
        "pauli_measurement_circuit",
        "VerificationResult",
        "verify_bell_pair",
        "verify_chsh",
        "verify_encoded_state",
        "verify_ghz",
    ),
}

_EXPORTS: dict[str, str] = {
    name: module for module, names in _EXPORTS_BY_MODULE.items() for name in names
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'qkdcircuits' has no attribute {name!r}")
    module = importlib.import_module(f"qkdcircuits.{module_name}")
    value = module if module_name == name else getattr(module, name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
