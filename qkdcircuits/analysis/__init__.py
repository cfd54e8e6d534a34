"""Analysis without a backend: counts, tables and parameters in, numbers out (no Qiskit).

:mod:`.statistics` (binomial intervals, QBER estimates, sifting masks), :mod:`.attacks` (closed
-form QBERs of the attacks, which the network layer uses to model Byzantine nodes),
:mod:`.sharing` (who learns what: HBB99 coalitions, the ((k, n)) threshold rule) and
:mod:`.verification` (fidelity bounds and CHSH values with confidence intervals from counts).
"""

from qkdcircuits.analysis.attacks import (
    RELAY_STRATEGIES,
    SOURCE_CORRUPTIONS,
    corrupted_source_qber,
    dishonest_relay_qber,
    intercept_resend_qber,
)
from qkdcircuits.analysis.sharing import (
    MAX_PARTIES,
    ThresholdScheme,
    coalition_information,
    hbb_depolarized_qber,
    hbb_qber_from_table,
)
from qkdcircuits.analysis.statistics import (
    QBEREstimate,
    binomial_interval,
    estimate_qber,
    sift_mask,
)
from qkdcircuits.analysis.verification import (
    TSIRELSON_BOUND,
    VerificationResult,
    chsh_from_counts,
    fidelity_bound_from_counts,
)

__all__ = [
    "MAX_PARTIES",
    "RELAY_STRATEGIES",
    "SOURCE_CORRUPTIONS",
    "TSIRELSON_BOUND",
    "QBEREstimate",
    "ThresholdScheme",
    "VerificationResult",
    "binomial_interval",
    "chsh_from_counts",
    "coalition_information",
    "corrupted_source_qber",
    "dishonest_relay_qber",
    "estimate_qber",
    "fidelity_bound_from_counts",
    "hbb_depolarized_qber",
    "hbb_qber_from_table",
    "intercept_resend_qber",
    "sift_mask",
]
