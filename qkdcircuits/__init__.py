"""Quantum layer of abft-qkd: QKD circuits, channel noise, the round engine and analysis.

The package is organised along its real seams, behind one flat namespace (every public name is
importable as ``from qkdcircuits import name``):

================  ==============================================================  ==========
subpackage        what it holds                                                   Qiskit
================  ==============================================================  ==========
``circuits``      builders returning ``QuantumCircuit``: BB84, MDI-QKD BSM, GHZ,   yes
                  the five-qubit code, measurement settings, attacks
``execution``     running circuits once each on Aer / BackendV2 / SamplerV2        yes
``engine``        sampling N protocol rounds from those distributions (MDI, BB84,  at run time
                  HBB99, attacks, verification shots)
``analysis``      statistics, attack closed forms, sharing rules, verification     no
                  bounds: counts in, numbers out
``links``         photon-level link physics: parameters, decoy bounds, key rates,  no
                  optimisation, :class:`LinkReport` (the network layer's contract)
``postprocessing``  estimation, Cascade, Toeplitz, Wegman-Carter, Shamir, distill  no
``cli``           the ``abft-qkd`` subcommands of this layer                       lazily
================  ==============================================================  ==========

Names are imported lazily on first use (PEP 562), so ``from qkdcircuits import LinkReport``
does not import Qiskit: only the circuit, execution and engine modules do.

Examples
--------
>>> from qkdcircuits import ArmNoise, simulate_mdi
>>> result = simulate_mdi(rounds=10_000, noise=ArmNoise(depolarizing_prob=0.02), seed=1)
>>> result.rounds
10000
"""

from __future__ import annotations

from qkdcircuits._lazy import exported_names, lazy_exports

__version__ = "0.1.0"

# Public name -> module (relative to this package) that defines it.
_EXPORTS_BY_MODULE: dict[str, tuple[str, ...]] = {
    "circuits.bb84": (
        "BASES",
        "BASIS_CODES",
        "bb84_circuit",
        "bb84_measurement",
        "bb84_state_preparation",
        "prepare_bb84_state",
    ),
    "circuits.mdi": (
        "BellOutcome",
        "bob_flip",
        "BSM_VARIANTS",
        "heralded_outcomes",
        "mdi_bsm_circuit",
    ),
    "circuits.ghz": (
        "ghz_state",
        "hbb_circuit",
    ),
    "circuits.five_qubit": (
        "five_qubit_encoder",
        "logical_operators_on",
        "share_reconstruction_circuit",
    ),
    "circuits.measurement": ("pauli_measurement_circuit",),
    "circuits.attacks": (
        "corrupted_ghz_state",
        "dishonest_relay_circuit",
        "intercept_resend_circuit",
    ),
    "noise": (
        "arm_error_probability",
        "ArmNoise",
        "combined_flip_probability",
        "NOISELESS",
    ),
    "execution": (
        "DEFAULT_SHOTS",
        "describe_target",
        "ExecutionTarget",
        "outcome_distributions",
        "OutcomeDistribution",
        "runtime_sampler",
    ),
    "engine.rounds": (
        "bb84_outcome_table",
        "BB84Rounds",
        "mdi_outcome_table",
        "MDIRounds",
        "simulate_bb84",
        "simulate_mdi",
    ),
    "engine.counts": (
        "RoundCounts",
        "simulate_bb84_counts",
        "simulate_mdi_counts",
    ),
    "engine.hbb": (
        "hbb_outcome_table",
        "HBBRounds",
        "simulate_hbb",
    ),
    "engine.verification": (
        "verify_bell_pair",
        "verify_chsh",
        "verify_encoded_state",
        "verify_ghz",
    ),
    "engine.attacks": (
        "AttackRounds",
        "simulate_corrupted_source",
        "simulate_dishonest_relay",
        "simulate_intercept_resend",
        "verify_corrupted_source",
    ),
    "analysis.statistics": (
        "binomial_interval",
        "estimate_qber",
        "QBEREstimate",
        "sift_mask",
    ),
    "analysis.attacks": (
        "corrupted_source_qber",
        "dishonest_relay_qber",
        "intercept_resend_qber",
    ),
    "analysis.sharing": (
        "coalition_information",
        "hbb_depolarized_qber",
        "hbb_qber_from_table",
        "ThresholdScheme",
    ),
    "analysis.verification": (
        "chsh_from_counts",
        "fidelity_bound_from_counts",
        "VerificationResult",
    ),
    "links.params": (
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
    "links.decoy": (
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
    "links.rates": (
        "binary_entropy",
        "gllp_key_rate",
        "mdi_key_rate",
        "shor_preskill_rate",
    ),
    "links.evaluation": (
        "DECOY_METHODS",
        "evaluate_link",
        "key_rate",
        "LinkEvaluation",
    ),
    "links.batch": (
        "evaluate_links",
        "LinkArray",
    ),
    "links.optimize": (
        "OptimalIntensities",
        "optimize_intensities",
    ),
    "links.curves": (
        "key_rate_curve",
        "KeyRateCurve",
        "max_distance",
    ),
    "links.finite_key": (
        "chernoff_mean_bounds",
        "DEFAULT_EPS_COR",
        "DEFAULT_EPS_SEC",
        "DEFAULT_SAMPLING_BOUND",
        "FiniteKeyOptimum",
        "hoeffding_deviation",
        "SAMPLING_BOUNDS",
        "sampling_deviation",
        "serfling_deviation",
        "solve_per_bit_secrecy",
    ),
    "links.finite_key_bb84": (
        "bb84_expected_counts",
        "bb84_finite_key_length",
        "bb84_finite_key_rate",
        "BB84Counts",
        "BB84FiniteKey",
        "optimize_bb84_finite_key",
    ),
    "links.finite_key_mdi": (
        "mdi_expected_counts",
        "mdi_finite_key_length",
        "mdi_finite_key_rate",
        "MDICounts",
        "MDIFiniteKey",
        "optimize_mdi_finite_key",
    ),
    "links.finite_key_links": (
        "DEFAULT_BASIS_PROB",
        "evaluate_finite_key",
        "FINITE_KEY_ANALYSES",
        "FINITE_KEY_DECOY",
        "finite_key_limit",
        "FiniteKeyLimit",
        "FiniteKeyLinks",
    ),
    "links.report": (
        "FINITE_KEY_FIELDS",
        "link_report",
        "link_reports",
        "LinkReport",
        "report_cache_key",
    ),
    "links.montecarlo": (
        "analyse_counts",
        "qubit_outcome_table",
        "rate_at_confidence",
        "sample_link_counts",
        "simulate_link",
    ),
    "postprocessing.authentication": ("KeyPool",),
    "postprocessing.distill": (
        "DecoyCounts",
        "distill_key",
        "distill_rounds",
        "DistillConfig",
        "DistillResult",
    ),
}

_SUBPACKAGES = ("analysis", "circuits", "engine", "links", "postprocessing")

__all__ = sorted([*exported_names(_EXPORTS_BY_MODULE), *_SUBPACKAGES, "__version__"])

__getattr__, __dir__ = lazy_exports(
    globals(),
    {f".{module}": names for module, names in _EXPORTS_BY_MODULE.items()},
    submodules=_SUBPACKAGES,
)
