"""Photon-level QKD links, without Qiskit: the physics the network layer consumes.

:mod:`.params` (validated, frozen link parameters), :mod:`.decoy` (closed-form gains and decoy
bounds), :mod:`.rates` (GLLP and MDI-QKD key-rate formulas), :mod:`.evaluation` (the kernel:
all of them for arrays of links), :mod:`.batch` (:class:`LinkArray` and :func:`evaluate_links`:
thousands of different links in one call), :mod:`.optimize` (vectorised intensity optimisation),
:mod:`.curves` (rate against distance, maximum distance), the composable finite-key analyses
(:mod:`.finite_key`: shared statistics and optimiser; :mod:`.finite_key_bb84`: decoy BB84 after
Lim et al. 2014; :mod:`.finite_key_mdi`: three-intensity MDI-QKD; :mod:`.finite_key_links`:
both for many links at once), :mod:`.report` (:class:`LinkReport`, the value object between
the layers, asymptotic or finite-key, and :func:`link_reports`) and :mod:`.montecarlo` (a
pulse-level simulation whose single-photon statistics come from the circuit engine, imported
only when it runs).
"""

from qkdcircuits.links.batch import LinkArray, evaluate_links
from qkdcircuits.links.curves import (
    KeyRateCurve,
    key_rate_curve,
    max_distance,
)
from qkdcircuits.links.decoy import (
    MDIGains,
    SinglePhotonBounds,
    bb84_error_gain,
    bb84_gain,
    bb84_single_photon,
    bb84_two_decoy_bounds,
    bb84_vacuum_weak_bounds,
    mdi_error_upper_bound,
    mdi_gains,
    mdi_single_photon,
    mdi_three_intensity_bounds,
    mdi_yield_lower_bound,
)
from qkdcircuits.links.evaluation import (
    DECOY_METHODS,
    LinkEvaluation,
    evaluate_link,
    key_rate,
)
from qkdcircuits.links.finite_key import (
    DEFAULT_EPS_COR,
    DEFAULT_EPS_SEC,
    DEFAULT_SAMPLING_BOUND,
    SAMPLING_BOUNDS,
    FiniteKeyOptimum,
    chernoff_mean_bounds,
    hoeffding_deviation,
    sampling_deviation,
    serfling_deviation,
    solve_per_bit_secrecy,
)
from qkdcircuits.links.finite_key_bb84 import (
    BB84Counts,
    BB84FiniteKey,
    bb84_expected_counts,
    bb84_finite_key_length,
    bb84_finite_key_rate,
    optimize_bb84_finite_key,
)
from qkdcircuits.links.finite_key_links import (
    DEFAULT_BASIS_PROB,
    FINITE_KEY_ANALYSES,
    FINITE_KEY_DECOY,
    FiniteKeyLimit,
    FiniteKeyLinks,
    evaluate_finite_key,
    finite_key_limit,
)
from qkdcircuits.links.finite_key_mdi import (
    MDICounts,
    MDIFiniteKey,
    mdi_expected_counts,
    mdi_finite_key_length,
    mdi_finite_key_rate,
    optimize_mdi_finite_key,
)
from qkdcircuits.links.montecarlo import (
    MAX_MEAN_ARRIVING,
    MAX_PULSES,
    STATISTICAL_CONFIDENCE,
    analyse_counts,
    qubit_outcome_table,
    rate_at_confidence,
    sample_link_counts,
    simulate_link,
)
from qkdcircuits.links.optimize import (
    MU_MAX,
    MU_MIN,
    OptimalIntensities,
    optimize_intensities,
)
from qkdcircuits.links.params import (
    PROTOCOLS,
    BB84DecoyParams,
    Detector,
    FiberChannel,
    MDIParams,
    WeakCoherentSource,
    default_params,
    params_from_dict,
    with_overrides,
)
from qkdcircuits.links.rates import (
    binary_entropy,
    gllp_key_rate,
    mdi_key_rate,
    shor_preskill_rate,
)
from qkdcircuits.links.report import (
    FINITE_KEY_FIELDS,
    METHODS,
    RATE_MODELS,
    SCHEMA_VERSION,
    VERDICTS,
    LinkReport,
    link_report,
    link_reports,
    report_cache_key,
)

__all__ = [
    "DECOY_METHODS",
    "DEFAULT_BASIS_PROB",
    "DEFAULT_EPS_COR",
    "DEFAULT_EPS_SEC",
    "DEFAULT_SAMPLING_BOUND",
    "FINITE_KEY_ANALYSES",
    "FINITE_KEY_DECOY",
    "FINITE_KEY_FIELDS",
    "MAX_MEAN_ARRIVING",
    "MAX_PULSES",
    "METHODS",
    "MU_MAX",
    "MU_MIN",
    "PROTOCOLS",
    "RATE_MODELS",
    "SAMPLING_BOUNDS",
    "SCHEMA_VERSION",
    "STATISTICAL_CONFIDENCE",
    "VERDICTS",
    "BB84Counts",
    "BB84DecoyParams",
    "BB84FiniteKey",
    "Detector",
    "FiberChannel",
    "FiniteKeyLimit",
    "FiniteKeyLinks",
    "FiniteKeyOptimum",
    "KeyRateCurve",
    "LinkArray",
    "LinkEvaluation",
    "LinkReport",
    "MDICounts",
    "MDIFiniteKey",
    "MDIGains",
    "MDIParams",
    "OptimalIntensities",
    "SinglePhotonBounds",
    "WeakCoherentSource",
    "analyse_counts",
    "bb84_error_gain",
    "bb84_expected_counts",
    "bb84_finite_key_length",
    "bb84_finite_key_rate",
    "bb84_gain",
    "bb84_single_photon",
    "bb84_two_decoy_bounds",
    "bb84_vacuum_weak_bounds",
    "binary_entropy",
    "chernoff_mean_bounds",
    "default_params",
    "evaluate_finite_key",
    "evaluate_link",
    "evaluate_links",
    "finite_key_limit",
    "gllp_key_rate",
    "hoeffding_deviation",
    "key_rate",
    "key_rate_curve",
    "link_report",
    "link_reports",
    "max_distance",
    "mdi_error_upper_bound",
    "mdi_expected_counts",
    "mdi_finite_key_length",
    "mdi_finite_key_rate",
    "mdi_gains",
    "mdi_key_rate",
    "mdi_single_photon",
    "mdi_three_intensity_bounds",
    "mdi_yield_lower_bound",
    "optimize_bb84_finite_key",
    "optimize_intensities",
    "optimize_mdi_finite_key",
    "params_from_dict",
    "qubit_outcome_table",
    "rate_at_confidence",
    "report_cache_key",
    "sample_link_counts",
    "sampling_deviation",
    "serfling_deviation",
    "shor_preskill_rate",
    "simulate_link",
    "solve_per_bit_secrecy",
    "with_overrides",
]
