"""End-to-end key distillation: sifted bits -> estimated, reconciled, verified, amplified keys.

The steps, in order (each is its own module):

1. **Parameter estimation** (:mod:`.estimation`): disclose a random sample of the Z-basis key to
   estimate its bit-error rate (it sizes the Cascade blocks and aborts a hopeless channel), and
   bound the key's **phase-error rate** from the X-basis test rounds:
   ``e_ph <= phase_error_upper_bound(...)``, which fails with probability at most ``eps_PE``.
   Without a test sample there is no key: the Z sample says nothing about phase errors, and the
   protocol never falls back to it.
2. **Error correction** (:mod:`.cascade`): Cascade with block sizes from the sampled QBER; every
   parity Alice discloses is counted as leaked.
3. **Error verification** (:mod:`.error_verification`): compare ``tag_bits``-bit Toeplitz
   hashes; the tag counts as leaked; a mismatch aborts. Different keys pass with probability at
   most ``eps_cor = 2**-tag_bits``.
4. **Privacy amplification** (:mod:`.toeplitz`): Toeplitz-hash both keys to
   ``l = n (1 - H2(e_ph)) - leaked - 2 log2(1/eps_PA)`` bits.
5. **Authentication** (:mod:`.authentication`): each party's whole transcript is tagged with a
   Wegman-Carter tag from its key pool and checked by the other before the key is accepted
   (delayed authentication); the key consumed is reported. Aborted runs stop before this step
   and consume no key.

Security statement (what ``total_epsilon`` means). The run is ``eps``-secure in the composable
sense with ``eps = eps_sec + eps_cor + eps_auth`` (union bound over the failure events; a
protocol that is ``eps_cor``-correct and ``eps_sec``-secret is ``eps_cor + eps_sec``-secure,
Portmann and Renner 2014, and composing it with authentication adds the forgery probability,
Ben-Or et al. 2005, Portmann 2014):

* ``eps_sec = 2 sqrt(eps_PE) + eps_PA``: the smooth min-entropy of the key is bounded by the
  uncertainty relation with smoothing parameter ``sqrt(eps_PE)`` (a phase-error bound failing
  with probability ``eps_PE`` is a state at purified distance ``sqrt(eps_PE)`` from one where it
  holds), and the leftover hash lemma with that smoothing costs ``2 sqrt(eps_PE)`` plus the
  hashing term, at most ``eps_PA`` (Tomamichel et al. 2012, Supplementary Note 1; Tomamichel
  et al. 2011, Eq. (4));
* ``eps_cor = 2**-tag_bits`` (error verification);
* ``eps_auth``: the forgery probability ``L / 2^64`` of each of the two tags (for messages of at
  most ``L`` 64-bit blocks, the receiver refusing longer ones).

Sizing the key (``DistillConfig.key_length``). The default, ``"single-photon"``, is the bound
above: it holds when every sifted bit was carried by one qubit, as in the round engine's
qubit-level rounds (:func:`distill_rounds`), and it is a finite-key bound for such a source
(exact hypergeometric sampling, leftover hash lemma). Weak coherent pulses also send multi-photon
pulses, and the bits then need the decoy-state finite-key analysis of their per-intensity counts:
``"finite-key"`` sizes the key with Lim et al., PRA 89, 022307 (2014), Eqs. (1)-(5) (decoy BB84,
key from the X basis) or with the three-intensity MDI-QKD analysis of
:mod:`qkdcircuits.links.finite_key_mdi` (key from the Z basis), from the counts the caller
passes as :class:`DecoyCounts` (:func:`distill_key` ``decoy_counts=``): the phase error comes from
the counts of the test basis (no ``phase_test`` then), error correction's leakage is the bits
Cascade disclosed plus the key bits disclosed by the QBER sample (publishing ``t`` bits of a
string lowers its smooth min-entropy by at most ``t``), ``eps_cor = 2**-tag_bits`` enters as the
paper's ``log2(2/eps_cor)``, and the run is ``DistillConfig.eps_sec``-secret with the paper's
sampling bound ``DistillConfig.sampling_bound`` (Serfling's by default, valid for any number of
errors; ``"lim2014"`` is the paper's ``gamma``, which is not a bound when few errors are
observed). The qubit-level rounds have no intensities, so this mode does not apply to
:func:`distill_rounds`, which refuses it.

The stand-in for a pre-shared authentication key: without ``auth_pools`` the parties' 192-bit
initial key comes from the operating system (``secrets``), never from ``seed``, and the accounting
says so (``auth_key_source="stand-in"``).

The functions play both parties in one process. Alice's transcript holds the seed of the
estimation sample and her sampled bits, her X-basis test bits, the seed of the Cascade shuffles,
her disclosed parities, the verification seed and tag, the privacy-amplification seed and the
final length; Bob's holds his sampled and test bits and his verification verdict. ``seed`` drives
all public randomness only.

References
----------
M. Tomamichel, C. C. W. Lim, N. Gisin, R. Renner, "Tight finite-key analysis for quantum
cryptography", Nat. Commun. 3, 634 (2012), Eq. (2) and Supplementary Notes 1-2.
M. Tomamichel, C. Schaffner, A. Smith, R. Renner, IEEE Trans. Inf. Theory 57, 5524 (2011).
C. Portmann, R. Renner, "Cryptographic security of quantum key distribution",
arXiv:1409.3525 (2014), Sec. 6 (correctness and secrecy compose additively).
M. Ben-Or, M. Horodecki, D. W. Leung, D. Mayers, J. Oppenheim, "The universal composable
security of quantum key distribution", TCC 2005, LNCS 3378, 386.
C. Portmann, "Key recycling in authentication", IEEE Trans. Inf. Theory 60, 4383 (2014).
P. W. Shor, J. Preskill, PRL 85, 441 (2000).
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
from qkdcircuits.links.finite_key import (
    DEFAULT_EPS_SEC,
    DEFAULT_SAMPLING_BOUND,
    SAMPLING_BOUNDS,
    check_intensities,
    check_intensity_probs,
)
from qkdcircuits.links.finite_key_bb84 import (
    LIM2014_ERROR_TERMS,
    BB84Counts,
    bb84_finite_key_length,
)
from qkdcircuits.links.finite_key_mdi import MDI_ERROR_TERMS, MDICounts, mdi_finite_key_length
from qkdcircuits.postprocessing._bits import bits_to_bytes, check_bits, check_pair
from qkdcircuits.postprocessing._checks import check_epsilon
from qkdcircuits.postprocessing.authentication import (
    AuthTag,
    InsufficientKeyError,
    KeyPool,
    WegmanCarterAuthenticator,
    forgery_probability,
)
from qkdcircuits.postprocessing.cascade import (
    CASCADE_PRESETS,
    CascadeConfig,
    CascadeResult,
    cascade_reconcile,
)
from qkdcircuits.postprocessing.error_verification import ErrorVerificationResult, verify_keys
from qkdcircuits.postprocessing.estimation import (
    QBERSample,
    phase_error_upper_bound,
    sample_qber,
)
from qkdcircuits.postprocessing.toeplitz import privacy_amplification, secret_key_length

__all__ = [
    "BOOTSTRAP_KEY_BITS",
    "KEY_LENGTH_MODELS",
    "MAX_VERIFICATION_TAG_BITS",
    "DecoyCounts",
    "DistillAccounting",
    "DistillConfig",
    "DistillResult",
    "distill_key",
    "distill_rounds",
]

BOOTSTRAP_KEY_BITS = 192
"""Pre-shared key one run consumes per party: a 64-bit hash key and two 64-bit pads."""

MAX_VERIFICATION_TAG_BITS = 4096
"""Longest error-verification tag accepted: ``2**-64`` already makes a wrong key negligible."""

_BYTES_PER_TAG_BIT = 35  # memory of the Toeplitz hash per output bit, for the error message

_STAND_IN = "stand-in"
_POOLS = "pools"

KEY_LENGTH_MODELS = ("single-photon", "finite-key")
"""How :func:`distill_key` sizes the final key (see the module docstring)."""


@dataclass(frozen=True)
class DistillConfig:
    """Parameters of :func:`distill_key`.

    Attributes
    ----------
    sample_fraction : float
        Fraction of the sifted key disclosed to estimate its bit-error rate, in (0, 1).
    confidence : float
        Coverage of the one-sided bound on that bit-error rate, in (0.5, 1). It only sizes the
        Cascade blocks when the sample holds no error; it is not a security parameter.
    abort_qber : float
        Abort when the sampled key QBER or the X-basis test QBER exceeds this.
    ec : str or CascadeConfig
        Error correction: a preset name (``"cascade"``, ``"cascade-biconf"``) or a configuration.
    verification_tag_bits : int
        Error-verification hash length in bits, 1 to :data:`MAX_VERIFICATION_TAG_BITS`;
        different keys pass with probability ``eps_cor = 2**-verification_tag_bits``.
    pa_epsilon : float
        Privacy-amplification (leftover hash) security parameter ``eps_PA``, in (0, 1).
    pe_epsilon : float
        Failure probability ``eps_PE`` of the phase-error upper bound, in (0, 1); it costs
        ``2 sqrt(eps_PE)`` of secrecy (see the module docstring), hence the small default.
    interval : {"clopper-pearson", "wilson"}
        Binomial bound used for the sampled key QBER.
    key_length : {"single-photon", "finite-key"}
        ``"single-photon"`` (default): the bound of the module docstring with ``pa_epsilon``
        and ``pe_epsilon``. ``"finite-key"``: the decoy-state finite-key length of the counts
        given to :func:`distill_key` as ``decoy_counts``, with ``eps_sec`` and
        ``sampling_bound`` (``pa_epsilon`` and ``pe_epsilon`` are then unused).
    eps_sec : float
        ``"finite-key"``: secrecy parameter of the final key, in (0, 1).
    sampling_bound : {"serfling", "lim2014"}
        ``"finite-key"``: phase-error sampling bound; Serfling's (default) holds for any number
        of errors, Lim et al.'s ``gamma`` is not a bound when few errors are observed.

    Raises
    ------
    TypeError, ValueError
        If a field is of the wrong type or out of range, or the secrecy bound
        ``2 sqrt(pe_epsilon) + pa_epsilon`` is not below 1.

    Examples
    --------
    >>> config = DistillConfig(pa_epsilon=1e-10, pe_epsilon=1e-20)
    >>> config.secrecy_epsilon, config.correctness_epsilon == 2.0**-64
    (3e-10, True)
    """

    sample_fraction: float = 0.1
    confidence: float = 0.95
    abort_qber: float = 0.11
    ec: str | CascadeConfig = "cascade"
    verification_tag_bits: int = 64
    pa_epsilon: float = 1e-10
    pe_epsilon: float = 1e-20
    interval: str = "clopper-pearson"
    key_length: str = "single-photon"
    eps_sec: float = DEFAULT_EPS_SEC
    sampling_bound: str = DEFAULT_SAMPLING_BOUND

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
        tag_bits = check_positive_int(self.verification_tag_bits, "verification_tag_bits")
        if tag_bits > MAX_VERIFICATION_TAG_BITS:
            raise ValueError(
                f"verification_tag_bits={tag_bits} must be at most {MAX_VERIFICATION_TAG_BITS}: "
                f"the tag discloses {tag_bits} key bits and hashing to it takes about "
                f"{_BYTES_PER_TAG_BIT * tag_bits / 2**30:.3g} GiB of memory; 64 bits already "
                "make a wrong key pass with probability 2**-64 = 5.4e-20 (use 32 to 128)"
            )
        check_epsilon(self.pa_epsilon, "pa_epsilon")
        check_epsilon(self.pe_epsilon, "pe_epsilon")
        if self.secrecy_epsilon >= 1.0:
            raise ValueError(
                f"pa_epsilon={self.pa_epsilon!r} and pe_epsilon={self.pe_epsilon!r} give a "
                f"secrecy bound 2 sqrt(pe_epsilon) + pa_epsilon = {self.secrecy_epsilon:.3g} "
                ">= 1, which guarantees nothing"
            )
        check_choice(self.interval, "interval", INTERVAL_METHODS)
        check_choice(self.key_length, "key_length", KEY_LENGTH_MODELS)
        check_epsilon(self.eps_sec, "eps_sec")
        check_choice(self.sampling_bound, "sampling_bound", SAMPLING_BOUNDS)

    @property
    def cascade(self) -> CascadeConfig:
        """The error-correction configuration."""
        return CASCADE_PRESETS[self.ec] if isinstance(self.ec, str) else self.ec

    @property
    def secrecy_epsilon(self) -> float:
        """Total security parameter of the run.

        ``2 sqrt(eps_PE) + eps_PA`` (see the module docstring), or ``eps_sec`` for
        ``key_length="finite-key"``.
        """
        if self.key_length == "finite-key":
            return self.eps_sec
        return 2.0 * math.sqrt(self.pe_epsilon) + self.pa_epsilon

    @property
    def correctness_epsilon(self) -> float:
        """``eps_cor = 2**-verification_tag_bits``."""
        return 2.0**-self.verification_tag_bits


@dataclass(frozen=True)
class DecoyCounts:
    """Observed per-intensity counts of a decoy-state run, for ``key_length="finite-key"``.

    The key bits given to :func:`distill_key` must be the key-basis detections these counts
    describe: the X basis for BB84 (Lim et al. 2014), the Z basis for MDI-QKD; the counts of the
    other basis bound the phase error.

    Attributes
    ----------
    counts : BB84Counts or MDICounts
        Detections and errors per basis and intensity (pair), whole numbers
        (:class:`~qkdcircuits.links.finite_key_bb84.BB84Counts`,
        :class:`~qkdcircuits.links.finite_key_mdi.MDICounts`, both parties with the settings
        below).
    intensities : (float, float, float)
        ``(mu1, mu2, mu3)``, photons per pulse, ``mu1 > mu2 + mu3``, ``mu2 > mu3 >= 0``.
    intensity_probs : (float, float, float)
        Their probabilities, each in (0, 1), summing to 1.

    Raises
    ------
    TypeError
        If ``counts`` is not a ``BB84Counts`` or ``MDICounts``.
    ValueError
        For settings out of range, or counts that are not whole numbers.

    Examples
    --------
    >>> from qkdcircuits.links.finite_key_bb84 import BB84Counts
    >>> c = BB84Counts((9000, 900, 100), (90, 20, 50), (1000, 100, 11), (10, 2, 5))
    >>> d = DecoyCounts(c, intensities=(0.5, 0.1, 0.0), intensity_probs=(0.8, 0.1, 0.1))
    >>> d.protocol, d.key_bits, d.key_errors, d.test_bits, d.test_errors
    ('bb84-decoy', 10000, 160, 1111, 17)
    """

    counts: BB84Counts | MDICounts
    intensities: tuple[float, float, float]
    intensity_probs: tuple[float, float, float]

    def __post_init__(self) -> None:
        if not isinstance(self.counts, BB84Counts | MDICounts):
            raise TypeError(f"counts={self.counts!r} must be a BB84Counts or an MDICounts")
        for name, check in (
            ("intensities", check_intensities),
            ("intensity_probs", check_intensity_probs),
        ):
            values = check(getattr(self, name), name)
            if values.shape != (3,):
                raise ValueError(f"{name}={getattr(self, name)!r} must be three numbers")
            object.__setattr__(self, name, tuple(float(v) for v in values))
        for name, table in self._tables().items():
            array = np.asarray(table, dtype=float)
            if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
                raise ValueError(f"counts.{name}={table!r} must hold whole numbers (observed)")

    def _tables(self) -> dict[str, Any]:
        return {k: v for k, v in self.counts._asdict().items() if k != "pulses"}

    @property
    def protocol(self) -> str:
        """``"bb84-decoy"`` or ``"mdi"``."""
        return "bb84-decoy" if isinstance(self.counts, BB84Counts) else "mdi"

    def _total(self, name: str) -> int:
        return int(np.sum(self._tables()[name]))

    @property
    def key_bits(self) -> int:
        """Key-basis detections (X for BB84, Z for MDI-QKD): the length of the sifted key."""
        return self._total("detections_x" if self.protocol == "bb84-decoy" else "detections_z")

    @property
    def key_errors(self) -> int:
        """Errors among them."""
        return self._total("errors_x" if self.protocol == "bb84-decoy" else "errors_z")

    @property
    def test_bits(self) -> int:
        """Detections of the test basis, which bounds the phase error."""
        return self._total("detections_z" if self.protocol == "bb84-decoy" else "detections_x")

    @property
    def test_errors(self) -> int:
        """Errors among them."""
        return self._total("errors_z" if self.protocol == "bb84-decoy" else "errors_x")

    @property
    def error_terms(self) -> int:
        """Failure terms of the analysis that share ``eps_sec`` equally (21 or 25)."""
        return LIM2014_ERROR_TERMS if self.protocol == "bb84-decoy" else MDI_ERROR_TERMS

    def key(self, *, leak_bits: float, eps_sec: float, eps_cor: float, sampling_bound: str) -> Any:
        """Compute the finite-key bounds of these counts with a measured leakage (bits).

        Parameters
        ----------
        leak_bits : float
            Bits disclosed by error correction (measured), in bits.
        eps_sec, eps_cor : float
            Secrecy and correctness parameters (probabilities).
        sampling_bound : str
            Sampling bound of the phase-error estimate, as in
            :func:`~qkdcircuits.links.finite_key_bb84.bb84_finite_key_length`.

        Returns
        -------
        BB84FiniteKey or MDIFiniteKey
            :class:`~qkdcircuits.links.finite_key_bb84.BB84FiniteKey` or
            :class:`~qkdcircuits.links.finite_key_mdi.MDIFiniteKey`, as the protocol.

        Raises
        ------
        ValueError
            If the analysis rejects a parameter (e.g. ``eps_sec`` outside (0, 1)).
        """
        analysis = (
            bb84_finite_key_length if self.protocol == "bb84-decoy" else mdi_finite_key_length
        )
        pulses = self.counts.pulses
        return analysis(
            **self._tables(),
            intensities=self.intensities,
            intensity_probs=self.intensity_probs,
            eps_sec=eps_sec,
            eps_cor=eps_cor,
            sampling_bound=sampling_bound,
            ec_leak_bits=leak_bits,
            pulses=None if pulses is None or np.all(np.isnan(pulses)) else pulses,
        )


@dataclass(frozen=True)
class DistillAccounting:
    """Where every sifted bit went, and the security parameters of the run.

    ``reconciled_bits`` counts the bits left after the estimation sample (the input of error
    correction, whether or not the run got that far), so
    ``sifted_bits = estimation_bits + reconciled_bits`` always and, when the run succeeds,
    ``reconciled_bits = final_bits + pa_removed_bits``; ``pa_removed_bits`` covers the leakage
    (``ec_leaked_bits + verification_bits``), the phase-error entropy ``n H2(e_ph)`` and the
    ``2 log2(1/eps_PA)`` penalty. ``net_bits = final_bits - authentication_bits`` is the key gained
    after paying back what authentication consumed from the pool.

    Attributes
    ----------
    sifted_bits, estimation_bits, sampled_errors : int
        Sifted key length, bits disclosed by the key sample, errors in it.
    sampled_qber, qber_upper_bound : float or None
        The key sample's QBER and its one-sided bound (block sizing only).
    phase_test_bits, phase_test_errors : int
        X-basis test bits and their errors (0 when the bound was given).
    phase_error_rate : float or None
        Upper bound on the key's phase-error rate used for privacy amplification (``None``
        when none could be set).
    phase_error_source : str
        ``"X-basis test sample"``, ``"given"`` or ``"none"``.
    reconciled_bits, ec_leaked_bits, corrected_bits, verification_bits : int
        Bit budget of error correction and verification.
    ec_method : str
        Cascade preset name.
    ec_inefficiency : float or None
        Cascade's ``f = leaked / (n H2(e)) >= 1``.
    verified : bool or None
        Error-verification verdict (``None``: not run).
    pa_epsilon, pe_epsilon : float
        ``eps_PA`` and ``eps_PE``.
    pa_removed_bits, final_bits, authentication_bits, net_bits : int
        Privacy amplification and authentication budget.
    auth_key_source : str
        ``"pools"`` (the caller's key pools) or ``"stand-in"`` (a fresh 192-bit key from the
        operating system standing for a pre-shared key).
    secrecy_epsilon, correctness_epsilon, authentication_epsilon, total_epsilon : float
        ``eps_sec = 2 sqrt(eps_PE) + eps_PA``, ``eps_cor = 2**-tag_bits``, the tags' forgery
        probability (0 when no tag was exchanged) and their sum (see the module docstring).
    aborted : bool
        Whether the run produced no key.
    abort_reason : str or None
        Why.
    key_length_model : {"single-photon", "finite-key"}
        How the key was sized (:data:`KEY_LENGTH_MODELS`). For ``"finite-key"``,
        ``phase_test_bits`` / ``phase_test_errors`` are the test-basis counts,
        ``phase_error_rate`` is the analysis's ``phi`` and ``pa_epsilon`` = ``pe_epsilon`` =
        ``eps_sec / error terms`` (every term of the analysis's secrecy is equal).

    Examples
    --------
    >>> import numpy as np
    >>> key = np.zeros(20_000, dtype=np.uint8)
    >>> acc = distill_key(key, key.copy(), phase_error_rate=0.02, seed=0).accounting
    >>> acc.sifted_bits == acc.estimation_bits + acc.reconciled_bits
    True
    >>> acc.reconciled_bits == acc.final_bits + acc.pa_removed_bits
    True
    """

    sifted_bits: int
    estimation_bits: int
    sampled_errors: int
    sampled_qber: float | None
    qber_upper_bound: float
    phase_test_bits: int
    phase_test_errors: int
    phase_error_rate: float | None
    phase_error_source: str
    reconciled_bits: int
    ec_method: str
    ec_leaked_bits: int
    ec_inefficiency: float | None
    corrected_bits: int
    verification_bits: int
    verified: bool | None
    pa_epsilon: float
    pe_epsilon: float
    pa_removed_bits: int
    final_bits: int
    authentication_bits: int
    auth_key_source: str
    net_bits: int
    secrecy_epsilon: float
    correctness_epsilon: float
    authentication_epsilon: float
    total_epsilon: float
    aborted: bool
    abort_reason: str | None
    key_length_model: str = "single-photon"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary.

        Returns
        -------
        dict
            Every field by name.
        """
        return asdict(self)


@dataclass(frozen=True, eq=False)
class DistillResult:
    """Outcome of :func:`distill_key`.

    Attributes
    ----------
    alice_key, bob_key : numpy.ndarray
        Final keys (read-only ``uint8``; empty when aborted). Identical unless verification
        passed two different keys, which has probability at most ``2**-verification_tag_bits``.
    accounting : DistillAccounting
        The bit budget and the security parameters.
    estimate : QBERSample
        The key-sample step.
    reconciliation : CascadeResult or None
        The error-correction step (``None`` if the run aborted before it).
    verification : ErrorVerificationResult or None
        The error-verification step.
    config : DistillConfig
        The configuration used.
    transcripts : (bytes, bytes)
        Alice's and Bob's authenticated public messages (empty when the run aborted before
        authentication).
    tags : (AuthTag, AuthTag) or None
        The Wegman-Carter tags on them (public), ``None`` before authentication.

    Examples
    --------
    >>> import numpy as np
    >>> key = np.zeros(20_000, dtype=np.uint8)
    >>> result = distill_key(key, key.copy(), phase_error_rate=0.6, seed=0)
    >>> result.aborted, result.final_length, result.tags is None
    (True, 0, True)
    """

    alice_key: np.ndarray = field(repr=False)
    bob_key: np.ndarray = field(repr=False)
    accounting: DistillAccounting
    estimate: QBERSample = field(repr=False)
    reconciliation: CascadeResult | None = field(repr=False)
    verification: ErrorVerificationResult | None = field(repr=False)
    config: DistillConfig = field(repr=False)
    transcripts: tuple[bytes, bytes] = field(default=(b"", b""), repr=False)
    tags: tuple[AuthTag, AuthTag] | None = field(default=None, repr=False)

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
        """JSON-ready record: the accounting plus the per-step summaries (no key bits).

        Returns
        -------
        dict
            The accounting fields, ``estimation``, ``reconciliation``, ``verification`` and
            ``keys_match``.
        """
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
    """Draw a public 63-bit seed for one step's randomness (sent in Alice's transcript)."""
    return int(rng.integers(0, 2**63 - 1))


def _authenticate(
    pools: tuple[KeyPool, KeyPool], alice_message: bytes, bob_message: bytes
) -> tuple[bool, int, tuple[AuthTag, AuthTag]]:
    """Exchange tags both ways; returns (both verified, key bits consumed per party, tags)."""
    alice = WegmanCarterAuthenticator(pools[0])
    bob = WegmanCarterAuthenticator(pools[1])
    alice_tag = alice.sign(alice_message)
    bob_accepts = bob.verify(alice_message, alice_tag)
    bob_tag = bob.sign(bob_message)
    alice_accepts = alice.verify(bob_message, bob_tag)
    return bob_accepts and alice_accepts, alice.consumed_bits, (alice_tag, bob_tag)


def _check_pools(auth_pools: Any) -> tuple[tuple[KeyPool, KeyPool], str]:
    """Return the authentication pools and their source; a fresh stand-in pair when ``None``."""
    if auth_pools is None:
        return KeyPool.random_pair(BOOTSTRAP_KEY_BITS), _STAND_IN
    if (
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
    return auth_pools, _POOLS


def _check_phase_test(phase_test: Any) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(phase_test, tuple) or len(phase_test) != 2:
        raise TypeError(
            f"phase_test must be a pair (alice_test_bits, bob_test_bits), not "
            f"{type(phase_test).__name__}"
        )
    alice = check_bits(phase_test[0], "phase_test[0]")
    bob = check_bits(phase_test[1], "phase_test[1]")
    if alice.size != bob.size:
        raise ValueError(f"phase_test bit strings differ in length: {alice.size} vs {bob.size}")
    return alice, bob


def distill_key(
    alice_bits: np.ndarray,
    bob_bits: np.ndarray,
    *,
    phase_test: tuple[np.ndarray, np.ndarray] | None = None,
    phase_error_rate: float | None = None,
    config: DistillConfig | None = None,
    auth_pools: tuple[KeyPool, KeyPool] | None = None,
    seed: SeedLike = None,
    decoy_counts: DecoyCounts | None = None,
) -> DistillResult:
    """Distil final secret keys from Alice's and Bob's sifted bits.

    Privacy amplification needs an upper bound on the key's phase-error rate, and bare bit
    strings do not carry one: give exactly one of ``phase_test`` (the X-basis test bits, from
    which the bound is computed at ``config.pe_epsilon``) or ``phase_error_rate`` (a bound you
    established yourself). With neither the call is refused: the key's own bit errors say
    nothing about what an eavesdropper knows. With ``config.key_length="finite-key"`` give
    ``decoy_counts`` instead: the decoy-state finite-key analysis of the counts bounds the
    phase error and sizes the key (module docstring).

    Parameters
    ----------
    alice_bits, bob_bits : numpy.ndarray
        Sifted keys (0/1 integers, same length), e.g. from ``result.sifted_key("Z")``.
    phase_test : (numpy.ndarray, numpy.ndarray), optional
        Alice's and Bob's sifted bits of the test rounds measured in the conjugate basis (e.g.
        ``result.sifted_key("X")``); they are disclosed (authenticated with the transcript).
    phase_error_rate : float, optional
        An upper bound on the key's phase-error rate in [0, 1] that the caller vouches for: it
        must fail with probability at most ``config.pe_epsilon``, which is what the reported
        ``total_epsilon`` assumes.
    config : DistillConfig, optional
        Step parameters (defaults: 10% key sample, Cascade, 64-bit verification,
        ``eps_PA = 1e-10``, ``eps_PE = 1e-20``).
    auth_pools : (KeyPool, KeyPool), optional
        Alice's and Bob's key pools (same contents) for authentication. When omitted, a fresh
        :data:`BOOTSTRAP_KEY_BITS`-bit key from the operating system (``secrets``) stands for
        the key the parties share before the session (``auth_key_source="stand-in"``).
    seed : int, numpy.random.Generator or None
        All public randomness (sample positions, shuffles, hash seeds); never secret material.
    decoy_counts : DecoyCounts, optional
        ``key_length="finite-key"`` only: the per-intensity counts of the run these bits come
        from (their key-basis detections and errors must be the bits' length and
        disagreements).

    Returns
    -------
    DistillResult
        Aborted runs (key or test QBER above the threshold, a phase error that cannot be
        bounded below 1/2, failed verification, no secret key left, failed authentication)
        return empty keys and say why in ``accounting.abort_reason``.

    Raises
    ------
    ValueError
        If neither or both of ``phase_test`` and ``phase_error_rate`` are given (or, for
        ``key_length="finite-key"``, not ``decoy_counts`` alone), if ``decoy_counts`` do not
        describe the bits, or an argument is out of range.
    TypeError
        If an argument has the wrong type.
    InsufficientKeyError
        If an authentication pool holds fewer than :data:`BOOTSTRAP_KEY_BITS` unused bits.

    References
    ----------
    M. Tomamichel, C. C. W. Lim, N. Gisin, R. Renner, Nat. Commun. 3, 634 (2012), Eq. (2).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> alice = rng.integers(0, 2, 40_000, dtype=np.uint8)
    >>> bob = alice ^ (rng.random(40_000) < 0.02).astype(np.uint8)
    >>> test_a = rng.integers(0, 2, 10_000, dtype=np.uint8)
    >>> test_b = test_a ^ (rng.random(10_000) < 0.02).astype(np.uint8)
    >>> result = distill_key(alice, bob, phase_test=(test_a, test_b), seed=1)
    >>> result.keys_match, result.aborted, result.final_length > 10_000
    (True, False, True)
    >>> result.accounting.total_epsilon < 1e-9
    True
    """
    config = _check_config(config)
    if config.key_length == "finite-key":
        if not isinstance(decoy_counts, DecoyCounts):
            raise TypeError(
                f"decoy_counts={decoy_counts!r}: key_length='finite-key' needs the run's "
                "DecoyCounts (per-intensity detections and errors of both bases)"
            )
        if phase_test is not None or phase_error_rate is not None:
            raise ValueError(
                "key_length='finite-key' bounds the phase error from decoy_counts: do not give "
                "phase_test or phase_error_rate"
            )
    elif decoy_counts is not None:
        raise ValueError(
            "decoy_counts size the key only with DistillConfig(key_length='finite-key')"
        )
    elif (phase_test is None) == (phase_error_rate is None):
        raise ValueError(
            "distill_key needs exactly one phase-error source: phase_test=(alice_test_bits, "
            "bob_test_bits) from the conjugate basis, or phase_error_rate=<an upper bound you "
            "vouch for at pe_epsilon>; the key's own bit errors say nothing about phase errors"
            if phase_test is None
            else "give phase_test or phase_error_rate, not both"
        )
    return _distill(
        alice_bits,
        bob_bits,
        config=config,
        phase_test=None if phase_test is None else _check_phase_test(phase_test),
        phase_error_rate=None
        if phase_error_rate is None
        else check_probability(phase_error_rate, "phase_error_rate"),
        auth_pools=auth_pools,
        seed=seed,
        decoy=decoy_counts,
    )


def _check_config(config: Any) -> DistillConfig:
    config = DistillConfig() if config is None else config
    if not isinstance(config, DistillConfig):
        raise TypeError(f"config={config!r} must be a DistillConfig")
    return config


def _distill(
    alice_bits: np.ndarray,
    bob_bits: np.ndarray,
    *,
    config: DistillConfig | None,
    phase_test: tuple[np.ndarray, np.ndarray] | None,
    phase_error_rate: float | None,
    auth_pools: Any,
    seed: SeedLike,
    decoy: DecoyCounts | None = None,
) -> DistillResult:
    alice, bob = check_pair(alice_bits, bob_bits)
    config = _check_config(config)
    if decoy is not None:
        disagreements = int(np.count_nonzero(alice != bob))
        if (decoy.key_bits, decoy.key_errors) != (alice.size, disagreements):
            raise ValueError(
                f"decoy_counts describe {decoy.key_bits} key bits with {decoy.key_errors} "
                f"errors, but the sifted keys hold {alice.size} bits with {disagreements} "
                "disagreements"
            )
    rng = as_generator(seed)
    pools, auth_source = _check_pools(auth_pools)

    empty = np.zeros(0, dtype=np.uint8)
    test_alice, test_bob = (empty, empty) if phase_test is None else phase_test
    test_errors = int(np.count_nonzero(test_alice != test_bob))
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
    base: dict[str, Any] = {
        "sifted_bits": int(alice.size),
        "estimation_bits": estimate.sample_size,
        "sampled_errors": estimate.errors,
        "sampled_qber": None if math.isnan(estimate.qber) else estimate.qber,
        "qber_upper_bound": estimate.upper_bound,
        "phase_test_bits": int(test_alice.size),
        "phase_test_errors": test_errors,
        "phase_error_rate": None,
        "phase_error_source": "none",
        "reconciled_bits": estimate.remaining,
        "ec_method": config.cascade.name,
        "pa_epsilon": config.pa_epsilon,
        "pe_epsilon": config.pe_epsilon,
        "auth_key_source": auth_source,
        "secrecy_epsilon": config.secrecy_epsilon,
        "correctness_epsilon": config.correctness_epsilon,
        "key_length_model": config.key_length,
    }
    if decoy is not None:
        share = config.eps_sec / decoy.error_terms
        base.update(
            phase_test_bits=decoy.test_bits,
            phase_test_errors=decoy.test_errors,
            pa_epsilon=share,
            pe_epsilon=share,
        )

    def finish(
        *,
        reason: str | None,
        reconciliation: CascadeResult | None = None,
        verification: ErrorVerificationResult | None = None,
        keys: tuple[np.ndarray, np.ndarray] = (empty, empty),
        removed: int = 0,
        auth_bits: int = 0,
        transcripts: tuple[bytes, bytes] = (b"", b""),
        tags: tuple[AuthTag, AuthTag] | None = None,
    ) -> DistillResult:
        inefficiency = math.nan if reconciliation is None else reconciliation.ec_inefficiency
        auth_epsilon = (
            0.0 if tags is None else sum(forgery_probability(len(t)) for t in transcripts)
        )
        accounting = DistillAccounting(
            **base,
            ec_leaked_bits=0 if reconciliation is None else reconciliation.leaked_bits,
            ec_inefficiency=None if math.isnan(inefficiency) else inefficiency,
            corrected_bits=0 if reconciliation is None else reconciliation.corrected_bits,
            verification_bits=0 if verification is None else verification.tag_bits,
            verified=None if verification is None else verification.match,
            pa_removed_bits=removed,
            final_bits=int(keys[0].size),
            authentication_bits=auth_bits,
            net_bits=int(keys[0].size) - auth_bits,
            authentication_epsilon=auth_epsilon,
            total_epsilon=config.secrecy_epsilon + config.correctness_epsilon + auth_epsilon,
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
            transcripts=transcripts,
            tags=tags,
        )

    if estimate.aborted:
        return finish(reason=estimate.abort_reason)
    n = estimate.remaining
    if n == 0:
        return finish(reason="no bits left after the estimation sample")

    def decoy_key(leak_bits: float, tag_bits: int) -> Any:
        assert decoy is not None
        return decoy.key(
            leak_bits=leak_bits,
            eps_sec=config.eps_sec,
            eps_cor=2.0**-tag_bits,
            sampling_bound=config.sampling_bound,
        )

    # the phase-error bound comes first: without it nothing can be kept, and nothing is leaked
    if decoy is not None:
        # phi does not depend on the leakage: the one known so far will do
        e_ph = float(
            decoy_key(estimate.sample_size, min(config.verification_tag_bits, n)).phase_error_upper
        )
        base["phase_error_source"] = "decoy counts"
    elif phase_test is None:
        e_ph = phase_error_rate
        base["phase_error_source"] = "given"
    else:
        k = int(test_alice.size)
        if k == 0:
            return finish(
                reason="no X-basis test sample: the phase-error rate of the key is unknown "
                "(the key's own sample says nothing about it), so no key is secret; choose "
                "the Z basis with probability < 1"
            )
        if test_errors / k > config.abort_qber:
            return finish(
                reason=f"X-basis test QBER {test_errors / k:.4f} ({test_errors}/{k}) > abort "
                f"threshold {config.abort_qber:.4f}"
            )
        e_ph = phase_error_upper_bound(
            test_errors=test_errors, test_bits=k, key_bits=n, epsilon=config.pe_epsilon
        )
        base["phase_error_source"] = "X-basis test sample"
    base["phase_error_rate"] = e_ph
    if e_ph >= 0.5:
        if decoy is not None:
            sample = (
                f"the test basis of the decoy counts ({decoy.test_errors} errors in "
                f"{decoy.test_bits} detections)"
            )
        elif phase_test is None:
            sample = "the given bound"
        else:
            sample = f"the X-basis test sample ({test_errors} errors in {test_alice.size} bits)"
        return finish(
            reason=f"{sample} bounds the phase-error rate only by {e_ph:.4f} >= 1/2 at "
            f"eps_PE = {base['pe_epsilon']:g}: too small a sample or too many errors for any "
            "secret key"
        )

    alice_rest, bob_rest = alice[estimate.keep], bob[estimate.keep]
    # block sizes from the point estimate; with no error in the sample, from its upper bound
    block_qber = estimate.qber if estimate.errors else estimate.upper_bound
    cascade_seed = _child_seed(rng)
    reconciliation = cascade_reconcile(
        alice_rest, bob_rest, qber=block_qber, config=config.cascade, seed=cascade_seed
    )
    verification_seed = _child_seed(rng)
    verification = verify_keys(
        alice_rest,
        reconciliation.bob_bits,
        tag_bits=min(config.verification_tag_bits, n),
        seed=verification_seed,
    )
    if not verification.match:
        return finish(
            reason="error verification failed: reconciled keys differ",
            reconciliation=reconciliation,
            verification=verification,
        )

    if decoy is None:
        length = secret_key_length(
            n=n,
            phase_error_rate=e_ph,
            leaked_bits=reconciliation.leaked_bits + verification.tag_bits,
            epsilon=config.pa_epsilon,
        )
    else:
        # the sampled key bits count as leaked; the tag is the analysis's log2(2/eps_cor)
        leak = estimate.sample_size + reconciliation.leaked_bits
        length = min(int(decoy_key(leak, verification.tag_bits).key_length), n)
    if length == 0:
        return finish(
            reason=f"no secret key: leakage and phase-error entropy (e_ph <= {e_ph:.4f}) "
            f"exceed the {n} reconciled bits",
            reconciliation=reconciliation,
            verification=verification,
        )
    pa_seed = _child_seed(rng)
    alice_key, pa_seed_bits = privacy_amplification(alice_rest, output_length=length, seed=pa_seed)
    bob_key, _ = privacy_amplification(
        reconciliation.bob_bits, output_length=length, seed_bits=pa_seed_bits
    )

    sampled = ~estimate.keep
    alice_message = b"".join(
        [
            sample_seed.to_bytes(8, "big"),
            bits_to_bytes(alice[sampled]),
            bits_to_bytes(test_alice),
            cascade_seed.to_bytes(8, "big"),
            bits_to_bytes(reconciliation.disclosed),
            verification_seed.to_bytes(8, "big"),
            bits_to_bytes(verification.alice_tag),
            pa_seed.to_bytes(8, "big"),
            length.to_bytes(8, "big"),
        ]
    )
    # Bob's sampled and test bits, and his verdict "match"
    bob_message = bits_to_bytes(bob[sampled]) + bits_to_bytes(test_bob) + b"\x01"
    authenticated, auth_bits, tags = _authenticate(pools, alice_message, bob_message)
    transcripts = (alice_message, bob_message)
    if not authenticated:
        return finish(
            reason="authentication failed: a transcript was modified or the key pools differ",
            reconciliation=reconciliation,
            verification=verification,
            auth_bits=auth_bits,
            transcripts=transcripts,
            tags=tags,
        )
    return finish(
        reason=None,
        reconciliation=reconciliation,
        verification=verification,
        keys=(alice_key, bob_key),
        removed=n - length,
        auth_bits=auth_bits,
        transcripts=transcripts,
        tags=tags,
    )


def distill_rounds(
    result: Any,
    *,
    config: DistillConfig | None = None,
    auth_pools: tuple[KeyPool, KeyPool] | None = None,
    seed: SeedLike = None,
) -> DistillResult:
    """Distil keys from a round-engine result (``MDIRounds`` or ``BB84Rounds``).

    ``result`` is a :class:`~qkdcircuits.engine.rounds.MDIRounds` or
    :class:`~qkdcircuits.engine.rounds.BB84Rounds`. The key is the sifted Z-basis string
    ``result.sifted_key("Z")``; the sifted X-basis rounds ``result.sifted_key("X")`` are the
    test sample that bounds its phase-error rate (Shor and Preskill, PRL 85, 441 (2000)), at
    failure probability ``config.pe_epsilon``. Without X-basis rounds (``z_basis_prob=1``), or
    with too few, the run aborts: there is no fallback.

    Parameters
    ----------
    result : MDIRounds or BB84Rounds
        The rounds (per-round arrays are needed).
    config : DistillConfig, optional
        Step parameters.
    auth_pools : (KeyPool, KeyPool), optional
        Authentication key pools (see :func:`distill_key`).
    seed : int, numpy.random.Generator or None
        Public randomness.

    Returns
    -------
    DistillResult
        As :func:`distill_key`.

    Raises
    ------
    TypeError
        If ``result`` is not a round-engine result.
    ValueError
        For ``config.key_length="finite-key"``: the qubit-level rounds carry no decoy
        intensities, and the default ``"single-photon"`` sizing is the finite-key bound that
        fits them (one qubit per round).

    References
    ----------
    P. W. Shor, J. Preskill, "Simple proof of security of the BB84 quantum key
    distribution protocol", Phys. Rev. Lett. 85, 441 (2000).

    Examples
    --------
    >>> from qkdcircuits import ArmNoise, simulate_mdi
    >>> rounds = simulate_mdi(rounds=200_000, noise=ArmNoise(depolarizing_prob=0.02), seed=3)
    >>> out = distill_rounds(rounds, seed=4)
    >>> out.keys_match, out.accounting.phase_error_source
    (True, 'X-basis test sample')
    """
    if not hasattr(result, "sifted_key"):
        raise TypeError(
            f"result={type(result).__name__} has no 'sifted_key': pass an MDIRounds or BB84Rounds"
        )
    if _check_config(config).key_length == "finite-key":
        raise ValueError(
            "key_length='finite-key' needs per-intensity decoy counts, and qubit-level rounds "
            "have no intensities (one qubit per round): use the default key_length="
            "'single-photon', the finite-key bound for a single-photon source, or distill_key("
            "..., decoy_counts=...) with the counts of a decoy-state run"
        )
    alice, bob = result.sifted_key("Z")
    test = result.sifted_key("X")
    return _distill(
        alice,
        bob,
        config=config,
        phase_test=_check_phase_test(tuple(test)),
        phase_error_rate=None,
        auth_pools=auth_pools,
        seed=seed,
    )
