"""End-to-end key distillation: sifted bits -> estimated, reconciled, verified, amplified keys.

The steps, in order (each is its own module):

1. **Parameter estimation** (:mod:`.estimation`): disclose a random sample, estimate the QBER with
   a one-sided upper bound, discard the sample, abort above the threshold.
2. **Error correction** (:mod:`.cascade`): Cascade with block sizes from the sampled QBER; every
   parity Alice discloses is counted as leaked.
3. **Error verification** (:mod:`.verification`): compare ``tag_bits``-bit Toeplitz hashes; the
   tag counts as leaked; a mismatch aborts.
4. **Privacy amplification** (:mod:`.toeplitz`): Toeplitz-hash both keys to
   ``l = n (1 - H2(e_ph)) - leaked - 2 log2(1/eps_PA)`` bits (Tomamichel et al., Nat. Commun. 3,
   634 (2012), Eq. (2), with the leftover hash lemma), ``e_ph`` the phase-error rate: given (in
   BB84 / MDI-QKD the X-basis QBER's upper bound) or else the sample's upper bound.
5. **Authentication** (:mod:`.authentication`): each party's whole transcript is tagged with a
   Wegman-Carter tag from its key pool and checked by the other before the key is accepted
   (delayed authentication); the key consumed is reported. Aborted runs stop before this step
   and consume no key.

The functions play both parties in one process. Alice's transcript holds the estimation sample
(positions and her bits), the public seed of the Cascade shuffles, her disclosed parities, the
verification seed and tag, and the privacy-amplification seed; Bob's holds his sample bits and his
verification verdict.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from qkdcircuits._validation import (
    SeedLike,
    as_generator,
    check_choice,
    check_positive_int,
    check_probability,
)
from qkdcircuits.analysis.statistics import INTERVAL_METHODS
from qkdcircuits.postprocessing._bits import bits_to_bytes, check_pair, random_bits
from qkdcircuits.postprocessing.authentication import (
    InsufficientKeyError,
    KeyPool,
    WegmanCarterAuthenticator,
)
from qkdcircuits.postprocessing.cascade import (
    CASCADE_PRESETS,
    CascadeConfig,
    CascadeResult,
    cascade_reconcile,
)
from qkdcircuits.postprocessing.error_verification import ErrorVerificationResult, verify_keys
from qkdcircuits.postprocessing.estimation import QBERSample, sample_qber
from qkdcircuits.postprocessing.toeplitz import privacy_amplification, secret_key_length

__all__ = [
    "BOOTSTRAP_KEY_BITS",
    "DistillAccounting",
    "DistillConfig",
    "DistillResult",
    "distill_key",
    "distill_rounds",
]

BOOTSTRAP_KEY_BITS = 192
"""Pre-shared key one run consumes per party: a 64-bit hash key and two 64-bit pads."""


@dataclass(frozen=True)
class DistillConfig:
    """Parameters of :func:`distill_key`.

    Attributes
    ----------
    sample_fraction : float
        Fraction of the sifted key disclosed for QBER estimation.
    confidence : float
        Coverage of the one-sided upper bound on the sampled QBER.
    abort_qber : float
        Abort when the sampled QBER exceeds this.
    ec : str or CascadeConfig
        Error correction: a preset name (``"cascade"``, ``"cascade-biconf"``) or a configuration.
    verification_tag_bits : int
        Error-verification hash length; undetected residual errors have probability
        ``2**-verification_tag_bits``.
    pa_epsilon : float
        Security parameter of privacy amplification (leftover hash lemma).
    interval : {"clopper-pearson", "wilson"}
        Binomial bound used for the sampled QBER.
    """

    sample_fraction: float = 0.1
    confidence: float = 0.95
    abort_qber: float = 0.11
    ec: str | CascadeConfig = "cascade"
    verification_tag_bits: int = 64
    pa_epsilon: float = 1e-10
    interval: str = "clopper-pearson"

    def __post_init__(self) -> None:
        fraction = check_probability(self.sample_fraction, "sample_fraction")
        if fraction in (0.0, 1.0):
            raise ValueError(f"sample_fraction={fraction!r} must be in (0, 1)")
        if not 0.5 < check_probability(self.confidence, "confidence") < 1.0:
            raise ValueError(f"confidence={self.confidence!r} must be in (0.5, 1)")
        check_probability(self.abort_qber, "abort_qber")
        if isinstance(self.ec, str):
            check_choice(self.ec, "ec", tuple(CASCADE_PRESETS))
        elif not isinstance(self.ec, CascadeConfig):
            raise TypeError(f"ec={self.ec!r} must be a preset name or a CascadeConfig")
        check_positive_int(self.verification_tag_bits, "verification_tag_bits")
        epsilon = check_probability(self.pa_epsilon, "pa_epsilon")
        if epsilon == 0.0:
            raise ValueError("pa_epsilon=0.0 must be > 0")
        check_choice(self.interval, "interval", INTERVAL_METHODS)

    @property
    def cascade(self) -> CascadeConfig:
        """The error-correction configuration."""
        return CASCADE_PRESETS[self.ec] if isinstance(self.ec, str) else self.ec


@dataclass(frozen=True)
class DistillAccounting:
    """Where every sifted bit went.

    ``reconciled_bits`` counts the bits left after the estimation sample (the input of error
    correction, whether or not the run got that far), so
    ``sifted_bits = estimation_bits + reconciled_bits`` always and, when the run succeeds,
    ``reconciled_bits = final_bits + pa_removed_bits``; ``pa_removed_bits`` covers the leakage
    (``ec_leaked_bits + verification_bits``), the phase-error entropy ``n H2(e_ph)`` and the
    ``2 log2(1/eps)`` penalty. ``net_bits = final_bits - authentication_bits`` is the key gained
    after paying back what authentication consumed from the pool.
    """

    sifted_bits: int
    estimation_bits: int
    sampled_errors: int
    sampled_qber: float | None
    qber_upper_bound: float
    phase_error_rate: float | None
    phase_error_source: str
    reconciled_bits: int
    ec_method: str
    ec_leaked_bits: int
    ec_efficiency: float | None
    corrected_bits: int
    verification_bits: int
    verified: bool | None
    pa_epsilon: float
    pa_removed_bits: int
    final_bits: int
    authentication_bits: int
    net_bits: int
    aborted: bool
    abort_reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return asdict(self)


@dataclass(frozen=True, eq=False)
class DistillResult:
    """Outcome of :func:`distill_key`.

    Attributes
    ----------
    alice_key, bob_key : numpy.ndarray
        Final keys (``uint8``; empty when aborted). Identical unless verification passed two
        different keys, which has probability at most ``2**-verification_tag_bits``.
    accounting : DistillAccounting
        The bit budget.
    estimate : QBERSample
        The parameter-estimation step.
    reconciliation : CascadeResult or None
        The error-correction step (``None`` if the run aborted before it).
    verification : ErrorVerificationResult or None
        The error-verification step.
    config : DistillConfig
        The configuration used.
    """

    alice_key: np.ndarray = field(repr=False)
    bob_key: np.ndarray = field(repr=False)
    accounting: DistillAccounting
    estimate: QBERSample = field(repr=False)
    reconciliation: CascadeResult | None = field(repr=False)
    verification: ErrorVerificationResult | None = field(repr=False)
    config: DistillConfig = field(repr=False)

    def __post_init__(self) -> None:
        self.alice_key.setflags(write=False)
        self.bob_key.setflags(write=False)

    @property
    def final_length(self) -> int:
        """Length of the final keys in bits."""
        return int(self.alice_key.size)

    @property
    def aborted(self) -> bool:
        """Whether the run produced no key."""
        return self.accounting.aborted

    @property
    def keys_match(self) -> bool:
        """Whether Alice's and Bob's final keys are identical (a simulation-side check)."""
        return bool(np.array_equal(self.alice_key, self.bob_key))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record: the accounting plus the per-step summaries."""
        return {
            **self.accounting.to_dict(),
            "estimation": self.estimate.to_dict(),
            "reconciliation": None
            if self.reconciliation is None
            else self.reconciliation.to_dict(),
            "verification": None if self.verification is None else self.verification.to_dict(),
            "keys_match": self.keys_match,
        }


def _child_seed(rng: np.random.Generator) -> int:
    """A public 63-bit seed for one step's randomness (sent in Alice's transcript)."""
    return int(rng.integers(0, 2**63 - 1))


def _authenticate(
    pools: tuple[KeyPool, KeyPool], alice_message: bytes, bob_message: bytes
) -> tuple[bool, int]:
    """Exchange tags both ways; returns (both verified, key bits consumed per party)."""
    alice = WegmanCarterAuthenticator(pools[0])
    bob = WegmanCarterAuthenticator(pools[1])
    bob_accepts = bob.verify(alice_message, alice.sign(alice_message))
    alice_accepts = alice.verify(bob_message, bob.sign(bob_message))
    return bob_accepts and alice_accepts, alice.consumed_bits


def distill_key(
    alice_bits: np.ndarray,
    bob_bits: np.ndarray,
    *,
    config: DistillConfig | None = None,
    phase_error_rate: float | None = None,
    auth_pools: tuple[KeyPool, KeyPool] | None = None,
    seed: SeedLike = None,
) -> DistillResult:
    """Distil final secret keys from Alice's and Bob's sifted bits.

    Parameters
    ----------
    alice_bits, bob_bits : numpy.ndarray
        Sifted keys (0/1 integers, same length), e.g. from ``result.sifted_key("Z")``.
    config : DistillConfig, optional
        Step parameters (defaults: 10% sample, Cascade, 64-bit verification, ``eps_PA = 1e-10``).
    phase_error_rate : float, optional
        Upper bound on the phase-error rate used for privacy amplification (in BB84/MDI-QKD the
        X-basis QBER's upper confidence bound). Defaults to the sampled QBER's upper bound.
    auth_pools : (KeyPool, KeyPool), optional
        Alice's and Bob's key pools (same contents) for authentication. When omitted, a
        :data:`BOOTSTRAP_KEY_BITS`-bit pre-shared key is drawn from ``seed`` to stand for the
        key the parties share before the session.
    seed : int, numpy.random.Generator or None
        All public randomness (sample positions, shuffles, hash seeds).

    Returns
    -------
    DistillResult
        Aborted runs (sampled QBER above the threshold, failed verification, no secret key left,
        failed authentication) return empty keys and say why in ``accounting.abort_reason``.

    Raises
    ------
    InsufficientKeyError
        If an authentication pool holds fewer than :data:`BOOTSTRAP_KEY_BITS` unused bits.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> alice = rng.integers(0, 2, 20_000, dtype=np.uint8)
    >>> bob = alice ^ (rng.random(20_000) < 0.02).astype(np.uint8)
    >>> result = distill_key(alice, bob, seed=1)
    >>> result.keys_match, result.aborted, result.final_length > 5_000
    (True, False, True)
    """
    return _distill(
        alice_bits,
        bob_bits,
        config=config,
        phase_error_rate=phase_error_rate,
        phase_error_source="given" if phase_error_rate is not None else "sample upper bound",
        auth_pools=auth_pools,
        seed=seed,
    )


def _distill(
    alice_bits: np.ndarray,
    bob_bits: np.ndarray,
    *,
    config: DistillConfig | None,
    phase_error_rate: float | None,
    phase_error_source: str,
    auth_pools: tuple[KeyPool, KeyPool] | None,
    seed: SeedLike,
) -> DistillResult:
    alice, bob = check_pair(alice_bits, bob_bits)
    config = DistillConfig() if config is None else config
    if not isinstance(config, DistillConfig):
        raise TypeError(f"config={config!r} must be a DistillConfig")
    if phase_error_rate is not None:
        phase_error_rate = check_probability(phase_error_rate, "phase_error_rate")
    rng = as_generator(seed)
    if auth_pools is None:
        shared = random_bits(rng, BOOTSTRAP_KEY_BITS)
        auth_pools = (KeyPool(shared), KeyPool(shared))
    elif (
        not isinstance(auth_pools, tuple)
        or len(auth_pools) != 2
        or not all(isinstance(p, KeyPool) for p in auth_pools)
    ):
        raise TypeError(f"auth_pools={auth_pools!r} must be a pair (alice_pool, bob_pool)")
    for name, pool in zip(("alice", "bob"), auth_pools, strict=True):
        # checked up front so that a short pool fails before anything is consumed
        if pool.remaining < BOOTSTRAP_KEY_BITS:
            raise InsufficientKeyError(
                f"{name}'s key pool holds {pool.remaining} bits; authenticating one run needs "
                f"{BOOTSTRAP_KEY_BITS}"
            )

    empty = np.zeros(0, dtype=np.uint8)
    sample_seed = _child_seed(rng)
    estimate = sample_qber(
        alice,
        bob,
        sample_fraction=config.sample_fraction,
        confidence=config.confidence,
        abort_qber=config.abort_qber,
        method=config.interval,
        seed=sample_seed,
    )
    base = {
        "sifted_bits": int(alice.size),
        "estimation_bits": estimate.sample_size,
        "sampled_errors": estimate.errors,
        "sampled_qber": None if math.isnan(estimate.qber) else estimate.qber,
        "qber_upper_bound": estimate.upper_bound,
        "phase_error_rate": phase_error_rate,
        "phase_error_source": phase_error_source,
        "reconciled_bits": estimate.remaining,
        "ec_method": config.cascade.name,
        "pa_epsilon": config.pa_epsilon,
    }

    def finish(
        *,
        reason: str | None,
        reconciliation: CascadeResult | None = None,
        verification: ErrorVerificationResult | None = None,
        keys: tuple[np.ndarray, np.ndarray] = (empty, empty),
        removed: int = 0,
        auth_bits: int = 0,
    ) -> DistillResult:
        efficiency = math.nan if reconciliation is None else reconciliation.efficiency
        accounting = DistillAccounting(
            **base,
            ec_leaked_bits=0 if reconciliation is None else reconciliation.leaked_bits,
            ec_efficiency=None if math.isnan(efficiency) else efficiency,
            corrected_bits=0 if reconciliation is None else reconciliation.corrected_bits,
            verification_bits=0 if verification is None else verification.tag_bits,
            verified=None if verification is None else verification.match,
            pa_removed_bits=removed,
            final_bits=int(keys[0].size),
            authentication_bits=auth_bits,
            net_bits=int(keys[0].size) - auth_bits,
            aborted=reason is not None,
            abort_reason=reason,
        )
        return DistillResult(
            alice_key=keys[0],
            bob_key=keys[1],
            accounting=accounting,
            estimate=estimate,
            reconciliation=reconciliation,
            verification=verification,
            config=config,
        )

    if estimate.aborted:
        return finish(reason=estimate.abort_reason)
    alice_rest, bob_rest = alice[estimate.keep], bob[estimate.keep]
    if alice_rest.size == 0:
        return finish(reason="no bits left after the estimation sample")

    # block sizes from the point estimate; with no error in the sample, from its upper bound
    block_qber = estimate.qber if estimate.errors else estimate.upper_bound
    cascade_seed = _child_seed(rng)
    reconciliation = cascade_reconcile(
        alice_rest, bob_rest, qber=block_qber, config=config.cascade, seed=cascade_seed
    )
    verification = verify_keys(
        alice_rest,
        reconciliation.bob_bits,
        tag_bits=config.verification_tag_bits,
        seed=_child_seed(rng),
    )
    if not verification.match:
        return finish(
            reason="error verification failed: reconciled keys differ",
            reconciliation=reconciliation,
            verification=verification,
        )

    e_ph = estimate.upper_bound if phase_error_rate is None else phase_error_rate
    base["phase_error_rate"] = e_ph
    length = secret_key_length(
        n=alice_rest.size,
        phase_error_rate=e_ph,
        leaked_bits=reconciliation.leaked_bits + verification.tag_bits,
        epsilon=config.pa_epsilon,
    )
    if length == 0:
        return finish(
            reason=f"no secret key: leakage and phase-error entropy (e_ph={e_ph:.4f}) exceed "
            f"the {alice_rest.size} reconciled bits",
            reconciliation=reconciliation,
            verification=verification,
        )
    alice_key, pa_seed = privacy_amplification(alice_rest, output_length=length, seed=rng)
    bob_key, _ = privacy_amplification(
        reconciliation.bob_bits, output_length=length, seed_bits=pa_seed
    )

    sample_positions = np.flatnonzero(~estimate.keep)
    alice_message = b"".join(
        [
            np.asarray(sample_positions, dtype=">u8").tobytes(),
            bits_to_bytes(alice[sample_positions]),
            cascade_seed.to_bytes(8, "big"),
            bits_to_bytes(reconciliation.disclosed),
            bits_to_bytes(verification.seed_bits),
            bits_to_bytes(verification.alice_tag),
            bits_to_bytes(pa_seed),
        ]
    )
    bob_message = bits_to_bytes(bob[sample_positions]) + b"\x01"  # sample bits, verdict "match"
    authenticated, auth_bits = _authenticate(auth_pools, alice_message, bob_message)
    if not authenticated:
        return finish(
            reason="authentication failed: a transcript was modified or the key pools differ",
            reconciliation=reconciliation,
            verification=verification,
            auth_bits=auth_bits,
        )
    return finish(
        reason=None,
        reconciliation=reconciliation,
        verification=verification,
        keys=(alice_key, bob_key),
        removed=int(alice_rest.size) - length,
        auth_bits=auth_bits,
    )


def distill_rounds(
    result: Any,
    *,
    config: DistillConfig | None = None,
    use_x_phase_error: bool = True,
    auth_pools: tuple[KeyPool, KeyPool] | None = None,
    seed: SeedLike = None,
) -> DistillResult:
    """Distil keys from a round-engine result (:class:`~qkdcircuits.engine.rounds.MDIRounds` or
    :class:`~qkdcircuits.engine.rounds.BB84Rounds`).

    The key is the sifted Z-basis string ``result.sifted_key("Z")``. With ``use_x_phase_error``
    the phase-error rate for privacy amplification is the upper end of the X-basis QBER interval
    ``result.x.high`` (the X basis tests phase errors of the Z-basis key; Shor and Preskill,
    PRL 85, 441 (2000)); without X-basis data, or when disabled, the sampled Z QBER's bound.

    Examples
    --------
    >>> from qkdcircuits import ArmNoise, simulate_mdi
    >>> rounds = simulate_mdi(rounds=200_000, noise=ArmNoise(depolarizing_prob=0.02), seed=3)
    >>> out = distill_rounds(rounds, seed=4)
    >>> out.keys_match, out.accounting.phase_error_source
    (True, 'X-basis upper bound')
    """
    for name in ("sifted_key", "x"):
        if not hasattr(result, name):
            raise TypeError(
                f"result={type(result).__name__} has no {name!r}: pass an MDIRounds or BB84Rounds"
            )
    alice, bob = result.sifted_key("Z")
    phase_error_rate = None
    if use_x_phase_error and result.x.sifted > 0:
        phase_error_rate = float(result.x.high)
    return _distill(
        alice,
        bob,
        config=config,
        phase_error_rate=phase_error_rate,
        phase_error_source="sample upper bound"
        if phase_error_rate is None
        else "X-basis upper bound",
        auth_pools=auth_pools,
        seed=seed,
    )
