"""Photon-level QKD links, without Qiskit: the physics the network layer consumes.

:mod:`.params` (validated, frozen link parameters), :mod:`.decoy` (closed-form gains and decoy
bounds), :mod:`.rates` (GLLP and MDI-QKD key-rate formulas), :mod:`.evaluation` (the kernel:
all of them for arrays of links), :mod:`.batch` (:class:`LinkArray` and :func:`evaluate_links`:
thousands of different links in one call), :mod:`.optimize` (vectorised intensity optimisation),
:mod:`.curves` (rate against distance, maximum distance), :mod:`.report` (:class:`LinkReport`,
the value object between the layers, and :func:`link_reports`) and :mod:`.montecarlo` (a
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
    "MAX_MEAN_ARRIVING",
    "MAX_PULSES",
    "METHODS",
    "MU_MAX",
    "MU_MIN",
    "PROTOCOLS",
    "RATE_MODELS",
    "SCHEMA_VERSION",
    "STATISTICAL_CONFIDENCE",
    "VERDICTS",
    "BB84DecoyParams",
    "Detector",
    "FiberChannel",
    "KeyRateCurve",
    "LinkArray",
    "LinkEvaluation",
    "LinkReport",
    "MDIGains",
    "MDIParams",
    "OptimalIntensities",
    "SinglePhotonBounds",
    "WeakCoherentSource",
    "analyse_counts",
    "bb84_error_gain",
    "bb84_gain",
    "bb84_single_photon",
    "bb84_two_decoy_bounds",
    "bb84_vacuum_weak_bounds",
    "binary_entropy",
    "default_params",
    "evaluate_link",
    "evaluate_links",
    "gllp_key_rate",
    "key_rate",
    "key_rate_curve",
    "link_report",
    "link_reports",
    "max_distance",
    "mdi_error_upper_bound",
    "mdi_gains",
    "mdi_key_rate",
    "mdi_single_photon",
    "mdi_three_intensity_bounds",
    "mdi_yield_lower_bound",
    "optimize_intensities",
    "params_from_dict",
    "qubit_outcome_table",
    "rate_at_confidence",
    "report_cache_key",
    "sample_link_counts",
    "shor_preskill_rate",
    "simulate_link",
    "with_overrides",
]
