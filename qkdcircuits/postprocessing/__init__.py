"""Post-processing: from sifted bits to authenticated final keys.

Parameter estimation (:func:`sample_qber`, :func:`phase_error_upper_bound`), Cascade error
correction (:func:`cascade_reconcile`), error verification (:func:`verify_keys`), Toeplitz
privacy amplification (:func:`toeplitz_hash`, :func:`secret_key_length`), Wegman-Carter
authentication (:class:`KeyPool`, :class:`WegmanCarterAuthenticator`), Shamir secret sharing
(:func:`split_secret`, :func:`split_key`) and the end-to-end :func:`distill_key` /
:func:`distill_rounds`.

Examples
--------
>>> from qkdcircuits import ArmNoise, simulate_bb84
>>> from qkdcircuits.postprocessing import distill_rounds
>>> rounds = simulate_bb84(rounds=100_000, noise=ArmNoise(depolarizing_prob=0.04), seed=1)
>>> result = distill_rounds(rounds, seed=2)
>>> result.keys_match and result.final_length > 0
True
"""

from qkdcircuits.postprocessing.authentication import (
    TAG_BITS,
    AuthTag,
    InsufficientKeyError,
    KeyPool,
    KeySegment,
    WegmanCarterAuthenticator,
    forgery_probability,
    polynomial_hash,
)
from qkdcircuits.postprocessing.cascade import (
    CASCADE_BICONF,
    CASCADE_ORIGINAL,
    CASCADE_PRESETS,
    DEFAULT_FRAME_BITS,
    CascadeConfig,
    CascadeResult,
    cascade_reconcile,
)
from qkdcircuits.postprocessing.distill import (
    BOOTSTRAP_KEY_BITS,
    KEY_LENGTH_MODELS,
    MAX_VERIFICATION_TAG_BITS,
    DecoyCounts,
    DistillAccounting,
    DistillConfig,
    DistillResult,
    distill_key,
    distill_rounds,
)
from qkdcircuits.postprocessing.error_verification import ErrorVerificationResult, verify_keys
from qkdcircuits.postprocessing.estimation import (
    QBERSample,
    phase_error_upper_bound,
    sample_qber,
    upper_confidence_bound,
)
from qkdcircuits.postprocessing.shamir import (
    DEFAULT_PRIME,
    KeyShare,
    Share,
    combine_key,
    combine_shares,
    split_key,
    split_secret,
)
from qkdcircuits.postprocessing.toeplitz import (
    leftover_hash_length,
    privacy_amplification,
    secret_key_length,
    toeplitz_hash,
    toeplitz_hash_naive,
    toeplitz_matrix,
)

__all__ = [
    "BOOTSTRAP_KEY_BITS",
    "CASCADE_BICONF",
    "CASCADE_ORIGINAL",
    "CASCADE_PRESETS",
    "DEFAULT_FRAME_BITS",
    "DEFAULT_PRIME",
    "KEY_LENGTH_MODELS",
    "MAX_VERIFICATION_TAG_BITS",
    "TAG_BITS",
    "AuthTag",
    "CascadeConfig",
    "CascadeResult",
    "DecoyCounts",
    "DistillAccounting",
    "DistillConfig",
    "DistillResult",
    "ErrorVerificationResult",
    "InsufficientKeyError",
    "KeyPool",
    "KeySegment",
    "KeyShare",
    "QBERSample",
    "Share",
    "WegmanCarterAuthenticator",
    "cascade_reconcile",
    "combine_key",
    "combine_shares",
    "distill_key",
    "distill_rounds",
    "forgery_probability",
    "leftover_hash_length",
    "phase_error_upper_bound",
    "polynomial_hash",
    "privacy_amplification",
    "sample_qber",
    "secret_key_length",
    "split_key",
    "split_secret",
    "toeplitz_hash",
    "toeplitz_hash_naive",
    "toeplitz_matrix",
    "upper_confidence_bound",
    "verify_keys",
]
